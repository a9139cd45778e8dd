"""The independent random-walk generator (``benchmarks/walk_history.py``) and the optimizer on it.

* every history is valid step by step — each operation is checked against the state the
  previous ones reached (no duplicate model/field/index/constraint, no dangling relation,
  ``DeleteModel`` only of a model nothing else points to) — applies with the guard's
  ``project_state`` and renders (every relation resolves);
* squasher's ``optimize`` reaches the same ``ProjectState`` without a fallback, reports
  Django's exact count, and is never longer than Django's ``MigrationOptimizer`` result
  whenever that result is itself state-equal (Django's result is sometimes wrong here: a
  one-off default leaking into ``CreateModel``, a self-referential M2M repointed by a
  ``RenameModel`` folded into ``CreateModel``).
"""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(INSTALLED_APPS=[], USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.AutoField")
    django.setup()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from django.db import migrations  # noqa: E402
from django.db.migrations.optimizer import MigrationOptimizer  # noqa: E402
from django.db.migrations.state import ProjectState  # noqa: E402

from squasher.optimizer import optimize  # noqa: E402
from squasher.optimizer.guard import project_state, state_differences  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from walk_history import walk_history  # noqa: E402

APP = "app"
CASES = [(50, seed) for seed in range(6)] + [(200, seed) for seed in range(4)] + [(400, 0), (400, 3)]


def _key(name: str) -> tuple[str, str]:
    return (APP, name.lower())


def _target(fld) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    if not getattr(fld, "is_relation", False):
        return None
    label, _, name = fld.remote_field.model.rpartition(".")
    return (label or APP, name.lower())


def _check(op, state: ProjectState) -> None:  # type: ignore[no-untyped-def]
    """Fail unless ``op`` makes sense on ``state`` (Django's state code is lenient)."""
    kind = type(op)
    if kind is migrations.CreateModel:
        assert _key(op.name) not in state.models, op
        for _, fld in op.fields:
            t = _target(fld)
            assert t is None or t in state.models or t == _key(op.name), (op, t)
        return
    if kind is migrations.RunSQL:
        for inner in op.state_operations:
            _check(inner, state)
            inner.state_forwards(APP, state)
        return
    if kind is migrations.RunPython:
        return
    if kind is migrations.RenameModel:
        assert _key(op.old_name) in state.models and _key(op.new_name) not in state.models, op
        return
    model = state.models[_key(op.model_name if hasattr(op, "model_name") else op.name)]
    fields = model.fields
    index_names = {i.name for i in model.options.get("indexes", [])}
    constraint_names = {c.name for c in model.options.get("constraints", [])}
    if kind is migrations.AddField:
        assert op.name not in fields, op
        t = _target(op.field)
        assert t is None or t in state.models, (op, t)
    elif kind in (migrations.AlterField, migrations.RemoveField):
        assert op.name in fields, op
    elif kind is migrations.RenameField:
        assert op.old_name in fields and op.new_name not in fields, op
    elif kind is migrations.AddIndex:
        assert op.index.name not in index_names and set(op.index.fields) <= set(fields), op
    elif kind is migrations.RemoveIndex:
        assert op.name in index_names, op
    elif kind is migrations.RenameIndex:
        assert op.old_name in index_names and op.new_name not in index_names, op
    elif kind is migrations.AddConstraint:
        assert op.constraint.name not in constraint_names, op
    elif kind is migrations.RemoveConstraint:
        assert op.name in constraint_names, op
    elif kind is migrations.AlterUniqueTogether:
        assert all(set(t) <= set(fields) for t in op.unique_together), op
    elif kind is migrations.DeleteModel:
        pointing = [(key, name) for key, other in state.models.items() if key != _key(op.name)
                    for name, fld in other.fields.items() if _target(fld) == _key(op.name)]
        assert not pointing, (op, pointing)
    else:
        assert kind is migrations.AlterModelOptions, op


@pytest.mark.parametrize("size,seed", [(50, 0), (200, 1), (400, 2), (1000, 3)])
def test_walk_is_valid_at_every_step(size: int, seed: int) -> None:
    ops = walk_history(size, seed, APP)
    assert len(ops) == size
    state = ProjectState()
    for op in ops:
        _check(op, state)
        if type(op) is not migrations.RunSQL:  # (its state_operations were applied)
            op.state_forwards(APP, state)
    final = project_state(ops, APP, None)
    assert state_differences(state, final) == []
    final.apps  # noqa: B018 - renders: every relation resolves
    # deterministic per seed
    assert [o.describe() for o in walk_history(size, seed, APP)] == [o.describe() for o in ops]


def test_walk_covers_every_kind() -> None:
    kinds = {type(o).__name__ for o in walk_history(2000, 0, APP)}
    assert kinds >= {
        "CreateModel", "AddField", "AlterField", "RenameField", "RemoveField", "AddIndex",
        "RemoveIndex", "RenameIndex", "AddConstraint", "RemoveConstraint",
        "AlterModelOptions", "AlterUniqueTogether", "RenameModel", "DeleteModel",
        "RunPython", "RunSQL",
    }


@pytest.mark.parametrize("size,seed", CASES)
def test_optimizer_on_walk_history(size: int, seed: int) -> None:
    ops = walk_history(size, seed, APP)
    before = project_state(ops, APP, None)
    result = optimize(ops, APP)
    assert result.fallback is None, result.reason
    assert state_differences(before, project_state(result.operations, APP, None)) == []
    django_ops = MigrationOptimizer().optimize(list(ops), APP)
    assert result.django_count == len(django_ops)
    try:
        django_valid = not state_differences(before, project_state(django_ops, APP, None))
    except Exception:  # noqa: BLE001 - Django's result may not even apply
        django_valid = False
    if django_valid:
        assert len(result.operations) <= len(django_ops)
    assert len(result.operations) < len(ops)
