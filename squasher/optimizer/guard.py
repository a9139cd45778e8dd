"""Equivalence guard: do two operation lists produce the same ``ProjectState``?

Both lists are applied (``state_forwards``) to a clone of the starting state — which
includes other apps' models — after a deep copy of the operations, because Django's
state methods mutate field objects shared with the operations (``rename_field`` fixes
``from_fields``/``to_fields`` in place).  Every model is then compared: fields
(name → ``deconstruct()``, relation targets lower-cased), options (``unique_together``/
``index_together`` as sets of tuples, ``indexes``/``constraints`` keyed by name),
bases (lower-cased labels) and managers.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.migrations import state as state_module
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState
from django.db.models.options import normalize_together

_patch_lock = threading.Lock()
_patch_depth = 0


def _lazy_field_is_referenced(original: Any) -> Any:
    def wrapper(state: ProjectState, model_tuple: Any, field_tuple: Any) -> bool:
        # ProjectState.alter_field only uses the answer to decide whether rendered apps
        # may delay reloading; unrendered states never look at it, so skip the O(models)
        # scan there.  Rendered states get the real answer.
        if "apps" not in state.__dict__:
            return False
        return bool(original(state, model_tuple, field_tuple))

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


@contextmanager
def _fast_alter_field() -> Iterator[None]:
    """Temporarily make ``field_is_referenced`` lazy inside ``django.db.migrations.state``.

    The replacement returns the same answer whenever the answer can matter (rendered
    states), so concurrent users of Django are unaffected.
    """
    global _patch_depth
    with _patch_lock:
        if _patch_depth == 0:
            original = state_module.field_is_referenced
            state_module.field_is_referenced = _lazy_field_is_referenced(original)
        _patch_depth += 1
    try:
        yield
    finally:
        with _patch_lock:
            _patch_depth -= 1
            if _patch_depth == 0:
                state_module.field_is_referenced = (
                    state_module.field_is_referenced.__wrapped__
                )


def _needs_copy(op: Operation) -> bool:
    """``ProjectState.rename_field`` mutates relational fields (``from_fields``,
    ``to_fields``, ``remote_field.field_name``) in place: copy operations carrying one."""
    fields = [getattr(op, "field", None), *(f for _, f in getattr(op, "fields", None) or ())]
    if any(getattr(f, "is_relation", False) for f in fields if f is not None):
        return True
    # operations that wrap others (RunSQL/SeparateDatabaseAndState state_operations)
    return bool(getattr(op, "state_operations", None))


def project_state(
    operations: list[Operation], app_label: str, from_state: ProjectState | None
) -> ProjectState:
    """Apply ``operations`` to a clone of ``from_state`` (or an empty state).

    Operations whose fields Django's state code could mutate are deep-copied first, so
    the caller's operations are left untouched.
    """
    state = from_state.clone() if from_state is not None else ProjectState()
    with _fast_alter_field():
        for op in operations:
            (copy.deepcopy(op) if _needs_copy(op) else op).state_forwards(app_label, state)
    return state


def _norm(value: Any) -> Any:
    """Make deconstructed values comparable: relation labels are case-insensitive."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_norm(v) for v in value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _field_signature(field: Any) -> tuple[Any, ...]:
    _name, path, args, kwargs = field.deconstruct()
    kwargs = dict(kwargs)
    for key in ("to", "through"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = kwargs[key].lower()
    return (path, _norm(list(args)), kwargs)


def _options_signature(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in ("unique_together", "index_together"):
            norm = {tuple(t) for t in normalize_together(value)} if value else set()
            if norm:
                out[key] = norm
        elif key in ("indexes", "constraints"):
            if value:
                out[key] = sorted(
                    ((getattr(v, "name", None) or repr(v), v.deconstruct()) for v in value),
                    key=lambda item: item[0],
                )
        else:
            out[key] = value
    return out


def _base_label(base: Any) -> Any:
    if isinstance(base, str):
        return base.lower()
    meta = getattr(base, "_meta", None)
    return meta.label_lower if meta is not None else base


def model_signature(model: ModelState) -> dict[str, Any]:
    """Comparable summary of one model state."""
    return {
        "name": model.name,
        "fields": {name: _field_signature(f) for name, f in model.fields.items()},
        "options": _options_signature(model.options),
        "bases": tuple(_base_label(b) for b in model.bases),
        "managers": [(name, m.deconstruct()) for name, m in model.managers],
    }


def state_differences(a: ProjectState, b: ProjectState, limit: int = 5) -> list[str]:
    """Human-readable differences between two project states (empty when equal)."""
    diffs: list[str] = []
    for key in sorted(set(a.models) | set(b.models)):
        label = "{}.{}".format(*key)
        if key not in a.models:
            diffs.append(f"{label}: only in the optimized state")
        elif key not in b.models:
            diffs.append(f"{label}: missing from the optimized state")
        else:
            sa, sb = model_signature(a.models[key]), model_signature(b.models[key])
            for part in ("name", "fields", "options", "bases", "managers"):
                if sa[part] != sb[part]:
                    diffs.append(f"{label}: {part} differ: {_diff(sa[part], sb[part])}")
        if len(diffs) >= limit:
            break
    return diffs


def _diff(x: Any, y: Any) -> str:
    if isinstance(x, dict) and isinstance(y, dict):
        keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
        return ", ".join(f"{k}: {x.get(k)!r} != {y.get(k)!r}" for k in keys[:3])
    return f"{x!r} != {y!r}"
