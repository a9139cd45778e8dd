"""squasher.squash.carry: copying RunPython code out of migration modules (no Django needed)."""

from __future__ import annotations

import importlib
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from squasher.errors import CarryError
from squasher.squash.carry import Carrier, ImportSpec, parse_import_line, render_imports

M0002 = '''\
import os.path
from decimal import Decimal as D
from ..util import shared

BATCH = 10  # batch size


def helper(x):
    # this comment survives
    return shared(x) + BATCH


def forwards(apps, schema_editor):
    BATCH = 3  # a local, not the constant
    helper(BATCH)
    os.path.join("a")
    return D("1")


def unused():
    return "not carried"
'''

M0004 = '''\
try:
    import json as fastjson
except ImportError:  # pragma: no cover
    fastjson = None

if fastjson is not None:
    DUMPS = fastjson.dumps
else:
    DUMPS = repr


@staticmethod
def _unused():
    pass


def forwards(apps, schema_editor, *, dumps=DUMPS):
    return dumps({"a": 1})
'''

M0003 = '''\
from decimal import Decimal as D
from decimal import Decimal as migrations

BATCH = 20


def forwards(apps, schema_editor):
    return D(BATCH), migrations


def factory():
    def inner(apps, schema_editor):
        return None
    return inner


make = lambda apps, schema_editor: None  # noqa: E731


class Ops:
    @staticmethod
    def run(apps, schema_editor):
        return BATCH
'''


@pytest.fixture
def pkg(tmp_path: Path):
    """A package ``<name>`` with ``util.py`` and ``migrations/0002_data.py``, ``0003_more.py``."""
    name = f"carrypkg_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    (root / "migrations").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "migrations" / "__init__.py").write_text("")
    (root / "util.py").write_text("def shared(x):\n    return x\n")
    (root / "migrations" / "0002_data.py").write_text(M0002)
    (root / "migrations" / "0003_more.py").write_text(M0003)
    (root / "migrations" / "0004_blocks.py").write_text(M0004)
    sys.path.insert(0, str(tmp_path))
    try:
        m2 = importlib.import_module(f"{name}.migrations.0002_data")
        m3 = importlib.import_module(f"{name}.migrations.0003_more")
        yield name, m2, m3
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m.startswith(name)]:
            del sys.modules[mod]


def _exec(carrier: Carrier) -> dict:
    source = "\n".join(render_imports(carrier.import_specs())) + "\n\n" + carrier.code()
    namespace: dict = {"__name__": "carried_check"}
    exec(compile(source, "<carried>", "exec"), namespace)
    return namespace


def test_carries_helpers_constants_imports(pkg: tuple[str, ModuleType, ModuleType]) -> None:
    name, m2, _ = pkg
    carrier = Carrier()
    assert carrier.needs_carry(m2.forwards)
    assert carrier.carry_function(m2.forwards) == "forwards"
    code = carrier.code()
    assert "# this comment survives" in code
    assert "BATCH = 10  # batch size" in code
    assert "def helper(x):" in code and "def unused" not in code
    # the local BATCH inside forwards is untouched
    assert "BATCH = 3  # a local, not the constant" in code
    specs = carrier.import_specs()
    assert ImportSpec("os.path") in specs
    assert ImportSpec("decimal", "Decimal", "D") in specs
    # the relative import became absolute
    assert ImportSpec(f"{name}.util", "shared") in specs
    # helpers come before the functions that use them
    assert code.index("def helper") < code.index("def forwards")
    ns = _exec(carrier)
    assert str(ns["forwards"](None, None)) == "1"


def test_name_clash_prefixed_with_migration_number(pkg: tuple[str, ModuleType, ModuleType]) -> None:
    _, m2, m3 = pkg
    carrier = Carrier()
    carrier.reserve_import(ImportSpec("django.db", "migrations"))
    assert carrier.carry_function(m2.forwards) == "forwards"
    assert carrier.carry_function(m3.forwards) == "m0003_forwards"
    code = carrier.code()
    assert "m0003_BATCH = 20" in code
    assert "return D(m0003_BATCH), m0003_migrations" in code
    # the same Decimal-as-D import is shared, the clashing alias is renamed
    specs = carrier.import_specs()
    assert specs.count(ImportSpec("decimal", "Decimal", "D")) == 1
    assert ImportSpec("decimal", "Decimal", "m0003_migrations") in specs
    # carrying the same function twice gives the same name
    assert carrier.carry_function(m3.forwards) == "m0003_forwards"
    ns = _exec(carrier)
    assert str(ns["m0003_forwards"](None, None)[0]) == "20"


def test_static_method_of_module_class(pkg: tuple[str, ModuleType, ModuleType]) -> None:
    _, _, m3 = pkg
    carrier = Carrier()
    assert carrier.carry_function(m3.Ops.run) == "Ops.run"
    assert "BATCH = 20" in carrier.code()
    assert _exec(carrier)["Ops"].run(None, None) == 20


def test_lambda_refused_with_location(pkg: tuple[str, ModuleType, ModuleType]) -> None:
    _, _, m3 = pkg
    with pytest.raises(CarryError) as info:
        Carrier().carry_function(m3.make)
    err = info.value
    assert err.path is not None and err.path.name == "0003_more.py"
    assert err.line == 17
    assert "lambda" in str(err) and err.hint


def test_nested_function_refused_with_location(pkg: tuple[str, ModuleType, ModuleType]) -> None:
    _, _, m3 = pkg
    with pytest.raises(CarryError) as info:
        Carrier().carry_function(m3.factory())
    err = info.value
    assert err.path is not None and err.path.name == "0003_more.py" and err.line == 12
    assert "inside another function" in str(err) and "module level" in (err.hint or "")


def test_project_functions_are_not_carried(pkg: tuple[str, ModuleType, ModuleType]) -> None:
    name, _, _ = pkg
    util = importlib.import_module(f"{name}.util")
    assert not Carrier().needs_carry(util.shared)


def test_import_lines() -> None:
    assert parse_import_line("from django.db import migrations, models") == [
        ImportSpec("django.db", "migrations"), ImportSpec("django.db", "models")]
    assert parse_import_line("import django.db.models.deletion") == [
        ImportSpec("django.db.models.deletion")]
    assert render_imports([ImportSpec("django.db", "models"), ImportSpec("re"),
                           ImportSpec("django.db", "migrations")]) == [
        "import re", "from django.db import migrations, models"]


def test_block_statements_carried_whole(pkg: tuple[str, ModuleType, ModuleType]) -> None:
    name, _, _ = pkg
    m4 = importlib.import_module(f"{name}.migrations.0004_blocks")
    carrier = Carrier()
    assert carrier.carry_function(m4.forwards) == "forwards"
    code = carrier.code()
    assert "try:\n    import json as fastjson\nexcept ImportError:" in code
    assert "if fastjson is not None:" in code and "_unused" not in code
    assert code.index("try:") < code.index("if fastjson") < code.index("def forwards")
    assert _exec(carrier)["forwards"](None, None) == '{"a": 1}'
