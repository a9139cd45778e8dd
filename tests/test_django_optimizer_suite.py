"""Django's own optimizer tests (``tests/migrations/test_optimizer.py`` of the Django sdist)
run against squasher's optimizer.

The sdist is not part of the wheel: ``.ci/run`` downloads it and sets
``SQUASHER_DJANGO_SDIST`` (a ``django-X.Y.Z.tar.gz`` or a directory holding the one of the
installed version). Without it the tests skip on a laptop and fail under ``CI=true``.

Every ``OptimizerTests`` method runs unchanged, with ``MigrationOptimizer`` in its module
and ``OptimizerTestBase.optimize`` replaced by :func:`squasher.optimizer.optimize`, in two
modes: without ``from_state`` (the guard can only check self-contained lists) and with a
``from_state`` holding the models and fields the list uses before creating them (see
:func:`base_state`). Each ``assertOptimizesTo`` call then accepts squasher's result when it
serializes exactly as Django's expected list, or is shorter and leads to the same
``ProjectState`` as the input, or the test is listed in the README's table of exceptions
(section "Django's optimizer tests") with its reason. Django's iteration counts
(``exact``/``less_than``) describe Django's algorithm and are not checked.
"""

from __future__ import annotations

import ast
import copy
import importlib
import os
import re
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django
from django.conf import settings

if not settings.configured:
    settings.configure(INSTALLED_APPS=[], USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.AutoField")
    django.setup()

import pytest  # noqa: E402
from conftest import REPO_ROOT, require  # noqa: E402
from django.db import models  # noqa: E402
from django.db.migrations import operations as ops  # noqa: E402
from django.db.migrations.operations.models import ModelOperation  # noqa: E402
from django.db.migrations.serializer import serializer_factory  # noqa: E402
from django.db.migrations.state import ModelState, ProjectState  # noqa: E402

from squasher.optimizer import optimize  # noqa: E402
from squasher.optimizer.guard import project_state, state_differences  # noqa: E402

SDIST_ENV = "SQUASHER_DJANGO_SDIST"
PACKAGE = "_django_optimizer_suite"
MODES = ("no_from_state", "from_state")


# ------------------------------------------------------------------ loading the suite
def sdist_path() -> Path | None:
    value = os.environ.get(SDIST_ENV)
    if not value:
        return None
    path = Path(value)
    if path.is_dir():
        for name in (f"django-{django.__version__}.tar.gz", f"Django-{django.__version__}.tar.gz"):
            if (path / name).is_file():
                return path / name
        return None
    return path if path.is_file() else None


_BASE_SOURCE = '''
from django.db.migrations.serializer import serializer_factory
from django.test import SimpleTestCase


class OptimizerTestBase(SimpleTestCase):
    """Stand-in for Django's (whose module needs Django's whole test tree): the suite
    module patches ``optimize`` and ``assertOptimizesTo``."""

    def serialize(self, value):
        return serializer_factory(value).serialize()[0]

    def assertOptimizesTo(self, operations, expected, exact=None, less_than=None, app_label=None):
        raise NotImplementedError("patched by tests/test_django_optimizer_suite.py")

    def assertDoesNotOptimize(self, operations, **kwargs):
        self.assertOptimizesTo(operations, operations, **kwargs)
'''


def _models_source(models_py: str, names: set[str]) -> str:
    """The classes of Django's ``tests/migrations/models.py`` the suite imports, with an
    explicit ``app_label`` (the module is not an installed app here)."""
    tree = ast.parse(models_py)
    body: list[ast.stmt] = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in names:
            for inner in node.body:
                if isinstance(inner, ast.ClassDef) and inner.name == "Meta":
                    inner.body.append(ast.parse('app_label = "migrations"').body[0])
            body.append(node)
    return ast.unparse(ast.fix_missing_locations(ast.Module(body=body, type_ignores=[])))


def load_suite(tarball: Path) -> Any:
    """Import Django's ``test_optimizer`` module from the sdist (into a temporary package)."""
    with tarfile.open(tarball) as tar:
        def member(rel: str) -> str:
            for m in tar.getmembers():
                if m.name.endswith("/tests/migrations/" + rel) and m.name.count("/") == 3:
                    f = tar.extractfile(m)
                    assert f is not None
                    return f.read().decode()
            raise FileNotFoundError(f"{tarball}: tests/migrations/{rel} not found")

        suite_py, models_py = member("test_optimizer.py"), member("models.py")
    imported = set()
    for node in ast.parse(suite_py).body:
        if isinstance(node, ast.ImportFrom) and node.module == "models" and node.level == 1:
            imported |= {a.name for a in node.names}
    root = Path(tempfile.mkdtemp(prefix="squasher-djopt-"))
    pkg = root / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "test_base.py").write_text(_BASE_SOURCE)
    (pkg / "models.py").write_text(_models_source(models_py, imported))
    (pkg / "test_optimizer.py").write_text(suite_py)
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"{PACKAGE}.test_optimizer")
    finally:
        sys.path.remove(str(root))


_TARBALL = sdist_path()
SUITE = load_suite(_TARBALL) if _TARBALL is not None else None
TEST_NAMES = sorted(n for n in dir(SUITE.OptimizerTests) if n.startswith("test_")) if SUITE else []


# ------------------------------------------------------------------ the exceptions table
def readme_exceptions() -> dict[tuple[str, str], str]:
    """(test, mode) -> reason, from the README table under "Django's optimizer tests"."""
    text = (REPO_ROOT / "README.md").read_text()
    start = text.find("Django's optimizer tests")
    out: dict[tuple[str, str], str] = {}
    if start < 0:
        return out
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`test_"):
            for mode in re.findall(r"[a-z_]+", cells[1]) if cells[1] != "both" else MODES:
                out[(cells[0].strip("`"), mode)] = cells[2]
    return out


# ------------------------------------------------------------------ a state to start from
def _model_refs(op: Any) -> list[str]:
    if isinstance(op, ops.RenameModel):
        return [op.old_name]
    if isinstance(op, ModelOperation):
        return [op.name]
    value = getattr(op, "model_name", None)
    return [value] if isinstance(value, str) else []


def base_state(operations: list[Any], app_label: str) -> ProjectState:
    """The models (and fields) ``operations`` use before creating them, as a from_state:
    Django's tests optimize fragments like ``[AlterField("Foo", "name"), ...]``."""
    state = ProjectState()
    known: set[str] = set()
    fields: dict[str, set[str]] = {}
    for op in operations:
        if isinstance(op, ops.CreateModel):
            known.add(op.name_lower)
            fields[op.name_lower] = {n for n, _ in op.fields}
            continue
        for name in _model_refs(op):
            low = name.lower()
            if low not in known:
                known.add(low)
                fields[low] = {"id"}
                state.add_model(ModelState(app_label, name, [("id", models.AutoField(primary_key=True))]))
        if isinstance(op, ops.RenameModel):
            known.add(op.new_name_lower)
            fields[op.new_name_lower] = fields.get(op.old_name_lower, set())
        needed = None
        if isinstance(op, ops.RemoveField | ops.AlterField):
            needed = op.name
        elif isinstance(op, ops.RenameField):
            needed = op.old_name
        elif isinstance(op, ops.AddField):
            fields.setdefault(op.model_name_lower, set()).add(op.name)
        if needed is not None and needed not in fields.setdefault(op.model_name_lower, set()):
            fields[op.model_name_lower].add(needed)
            key = (app_label, op.model_name_lower)
            if key in state.models:
                state.models[key].fields[needed] = models.IntegerField(default=0)
        if isinstance(op, ops.RenameField):
            fields[op.model_name_lower].add(op.new_name)
    return state


def _state_or_error(operations: list[Any], app_label: str, base: ProjectState) -> ProjectState | str:
    try:
        return project_state(copy.deepcopy(operations), app_label, base)
    except Exception as exc:  # noqa: BLE001 - a list Django's tests never apply
        return f"{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------ running one test
def _ser(values: list[Any]) -> list[str]:
    return [serializer_factory(v).serialize()[0] for v in values]


class Verdicts:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.django_wrong: list[str] = []
        self.calls = 0
        self.equal = 0
        self.shorter = 0


@contextmanager
def squasher_in_place(mode: str, verdicts: Verdicts) -> Iterator[None]:
    """Patch the suite: its ``MigrationOptimizer`` and ``assertOptimizesTo`` use squasher."""
    assert SUITE is not None

    class SquasherOptimizer:
        """``MigrationOptimizer`` replaced (``test_none_app_label`` uses it directly)."""

        def optimize(self, operations: list[Any], app_label: str) -> list[Any]:
            return optimize(list(operations), app_label).operations

    def assert_optimizes_to(self: Any, operations: list[Any], expected: list[Any],
                            exact: int | None = None, less_than: int | None = None,
                            app_label: str | None = None) -> None:
        label = app_label or "migrations"
        verdicts.calls += 1
        base = base_state(operations, label)
        from_state = base if mode == "from_state" else None
        ours = optimize(copy.deepcopy(list(operations)), label, from_state=from_state).operations
        if _ser(ours) == _ser(expected):
            verdicts.equal += 1
            return
        before = _state_or_error(operations, label, base)
        after = _state_or_error(ours, label, base)
        if isinstance(before, str) or isinstance(after, str):
            verdicts.problems.append(f"cannot compare states ({before if isinstance(before, str) else after}): "
                                     f"squasher {_ser(ours)} / Django {_ser(expected)}")
            return
        diffs = state_differences(before, after)
        if len(ours) < len(expected) and not diffs:
            verdicts.shorter += 1
            return
        django_state = _state_or_error(expected, label, base)
        django_diffs = (state_differences(before, django_state)
                        if not isinstance(django_state, str) else [django_state])
        if not diffs and django_diffs:
            # allowed only when listed in the README (checked by the caller)
            verdicts.django_wrong.append(
                f"squasher {len(ours)} ops keeps the state; Django's {len(expected)} ops change "
                f"it: {django_diffs}")
            return
        verdicts.problems.append(
            f"squasher {len(ours)} ops {_ser(ours)} vs Django {len(expected)} ops {_ser(expected)}"
            + (f"; state differs: {diffs}" if diffs else ""))

    saved = SUITE.MigrationOptimizer, SUITE.OptimizerTests.assertOptimizesTo
    SUITE.MigrationOptimizer = SquasherOptimizer
    SUITE.OptimizerTests.assertOptimizesTo = assert_optimizes_to
    try:
        yield
    finally:
        SUITE.MigrationOptimizer, SUITE.OptimizerTests.assertOptimizesTo = saved


def test_sdist_available() -> None:
    """Under CI the suite must really run (``.ci/run`` downloads the sdist)."""
    require(SUITE is not None, f"Django's sdist ({SDIST_ENV}, Django {django.__version__})")
    assert len(TEST_NAMES) > 40


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", TEST_NAMES or ["(no sdist)"])
def test_django_optimizer_test(name: str, mode: str) -> None:
    require(SUITE is not None, f"Django's sdist ({SDIST_ENV})")
    verdicts = Verdicts()
    case = SUITE.OptimizerTests(name)
    with squasher_in_place(mode, verdicts):
        getattr(case, name)()
    assert verdicts.calls or name == "test_none_app_label", "the patched assertion never ran"
    # squasher differs from Django only where Django's expected list changes the model state
    # and squasher's keeps it, and each such test is in the README's table with the reason
    assert not verdicts.problems, f"{name} ({mode}):\n" + "\n".join(verdicts.problems)
    listed = readme_exceptions().get((name, mode))
    if verdicts.django_wrong:
        assert listed, (f"{name} ({mode}) differs from Django and is not in the README's table "
                        "of exceptions:\n" + "\n".join(verdicts.django_wrong))
    else:
        assert listed is None, f"{name} ({mode}) now agrees with Django: remove it from the README"


def test_exceptions_table_names_real_tests() -> None:
    require(SUITE is not None, f"Django's sdist ({SDIST_ENV})")
    for test, mode in readme_exceptions():
        assert test in TEST_NAMES and mode in MODES, (test, mode)

