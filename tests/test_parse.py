"""Static reading of migration files (squasher.graph.parse) and of settings/app labels (squasher.graph.discover)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from squasher.graph.discover import app_label_for, discover_packages, migration_files, read_settings
from squasher.graph.parse import parse_migration
from squasher.records import ProjectSettings

FULL = textwrap.dedent('''\
    from django.conf import settings
    from django.db import migrations, models
    import django.db.models.deletion


    def forwards(apps, schema_editor):
        pass


    class Migration(migrations.Migration):
        initial = True
        atomic = False

        replaces = [
            ("shop", "0001_initial"),
            ("shop", "0002_price"),
        ]

        dependencies = [
            migrations.swappable_dependency(settings.AUTH_USER_MODEL),
            ("catalog", "0003_product"),
        ]

        run_before = [("billing", "0001_initial")]

        operations = [
            migrations.CreateModel(
                name="Order",
                fields=[
                    ("id", models.AutoField(primary_key=True)),
                    ("user", models.ForeignKey(on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL)),
                    ("product", models.ForeignKey("catalog.Product", on_delete=models.CASCADE)),
                    ("parent", models.ForeignKey("self", null=True, on_delete=models.CASCADE)),
                ],
                bases=("shop.base",),
            ),
            migrations.AddField("order", "note", models.TextField(default="")),
            migrations.RenameField(model_name="order", old_name="note", new_name="comment"),
            migrations.RenameModel("Order", "Purchase"),
            migrations.AddField(
                model_name="purchase",
                name="tags",
                field=models.ManyToManyField(to="catalog.Tag", through="shop.PurchaseTag"),
            ),
            migrations.RemoveIndex(model_name="purchase", name="purchase_idx"),
            migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
            migrations.RunSQL("SELECT 1", "SELECT 2"),
        ]
''')


def write(tmp_path: Path, text: str | bytes, name: str = "0003_order.py") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    return path


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def test_full_migration_every_field(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    settings = ProjectSettings(swappable={"AUTH_USER_MODEL": "accounts.User"})
    record = parse_migration(path, "shop", settings=settings)

    assert record.parse_problems == ()
    assert record.key == ("shop", "0003_order")
    assert record.initial is True and record.atomic is False
    assert record.class_span.line == line_of(FULL, "class Migration")
    assert record.class_span.end_line == len(FULL.splitlines())

    swappable, catalog = record.dependencies
    assert (swappable.app_label, swappable.name, swappable.swappable_setting) == ("accounts", "__first__", "AUTH_USER_MODEL")
    assert swappable.span.line == line_of(FULL, "swappable_dependency")
    assert catalog.key == ("catalog", "0003_product")
    assert catalog.span.line == line_of(FULL, '("catalog", "0003_product")')
    assert catalog.span.col == FULL.splitlines()[catalog.span.line - 1].index("(")

    assert [r.key for r in record.replaces] == [("shop", "0001_initial"), ("shop", "0002_price")]
    assert record.replaces_span.line == line_of(FULL, "replaces = [")
    assert record.replaces_span.end_line == line_of(FULL, '("shop", "0002_price")') + 1
    assert [r.key for r in record.run_before] == [("billing", "0001_initial")]
    assert record.run_before_span.line == line_of(FULL, "run_before")
    assert record.dependencies_span.line == line_of(FULL, "dependencies = [")
    assert record.operations_span.line == line_of(FULL, "operations = [")

    ops = record.operations
    assert [op.kind for op in ops] == [
        "CreateModel", "AddField", "RenameField", "RenameModel", "AddField", "RemoveIndex",
        "RunPython", "RunSQL",
    ]
    create = ops[0]
    assert create.model == "order"
    assert set(create.references) == {"accounts.user", "catalog.product", "shop.order", "shop.base"}
    assert create.span.line == line_of(FULL, "migrations.CreateModel(")
    assert create.span.end_line == line_of(FULL, 'bases=("shop.base",)') + 1
    assert (ops[1].model, ops[1].field) == ("order", "note")  # positional arguments
    assert (ops[2].model, ops[2].field, ops[2].new_name) == ("order", "note", "comment")
    assert (ops[3].model, ops[3].new_name) == ("order", "Purchase")
    assert set(ops[4].references) == {"catalog.tag", "shop.purchasetag"}
    assert (ops[5].model, ops[5].field) == ("purchase", None)  # an index name is not a field
    assert ops[6].elidable is True and ops[7].elidable is False
    assert ops[6].model is None
    assert record.dynamic_operations == ()


def test_swappable_default_and_unresolved(tmp_path: Path) -> None:
    path = write(tmp_path, '''\
        from django.conf import settings
        from django.db import migrations
        class Migration(migrations.Migration):
            dependencies = [
                migrations.swappable_dependency(settings.AUTH_USER_MODEL),
                migrations.swappable_dependency(settings.PAYMENT_MODEL),
                migrations.swappable_dependency("teams.Team"),
            ]
            operations = []
    ''')
    user, payment, team = parse_migration(path, "shop").dependencies
    assert user.key == ("auth", "__first__")  # Django's default AUTH_USER_MODEL
    assert payment.app_label is None and payment.swappable_setting == "PAYMENT_MODEL"
    assert team.key == ("teams", "__first__") and team.swappable_setting is None
    resolved = parse_migration(path, "shop", settings=ProjectSettings(swappable={"PAYMENT_MODEL": "pay.Payment"}))
    assert resolved.dependencies[1].key == ("pay", "__first__")


@pytest.mark.parametrize("body, reason", [
    ("operations = [migrations.RunSQL('x')] if connection.vendor == 'postgresql' else []",
     "conditional expression depending on the database vendor"),
    ("operations = [migrations.RunSQL(s) for s in SQL]", "list comprehension"),
    ("operations = BASE + [migrations.RunSQL('x')]", "list concatenation"),
    ("operations = build_operations()", "function call"),
    ("operations = [*BASE, migrations.RunSQL('x')]", "unpacked"),
    ("if settings.DEBUG:\n        operations = []\n    else:\n        operations = [migrations.RunSQL('x')]",
     "inside a block at import time depending on settings"),
    ("operations = []\n    if os.environ.get('X'):\n        operations = [migrations.RunSQL('x')]",
     "depending on the environment"),
    ("operations = [migrations.RunSQL('x')]\n    if connection.vendor == 'postgresql':\n"
     "        operations.append(migrations.RunSQL('y'))",
     "changed inside a block at import time depending on the database"),
    ("operations = [migrations.RunSQL('x')]\n    operations += [migrations.RunSQL('y')]",
     "list concatenation"),
    ("operations = []\n    operations += [migrations.RunSQL('y')] if settings.DEBUG else []",
     "list concatenation depending on settings"),
    ("operations = [migrations.RunSQL('x')]\n    operations.extend([migrations.RunSQL('y')])",
     "changed after their assignment"),
])
def test_dynamic_operations_detected(tmp_path: Path, body: str, reason: str) -> None:
    text = (
        "import os\nfrom django.conf import settings\nfrom django.db import connection, migrations\n"
        "class Migration(migrations.Migration):\n    dependencies = []\n    " + body + "\n"
    )
    record = parse_migration(write(tmp_path, text), "shop")
    assert record.parse_problems == ()
    assert record.dynamic_operations, "dynamic operations not detected"
    span, message = record.dynamic_operations[0]
    assert reason in message
    assert span.line >= 6


def test_dynamic_operations_after_class(tmp_path: Path) -> None:
    text = (
        "from django.db import migrations\nclass Migration(migrations.Migration):\n"
        "    operations = []\n\nMigration.operations.append(migrations.RunSQL('x'))\n"
    )
    record = parse_migration(write(tmp_path, text), "shop")
    assert [s.line for s, _ in record.dynamic_operations] == [5]


def test_literal_operations_are_not_dynamic(tmp_path: Path) -> None:
    record = parse_migration(write(tmp_path, FULL), "shop")
    assert record.dynamic_operations == ()


# -- bad input: never raises, SQ006 with file and line --------------------------------

def only_problem(record):
    assert len(record.parse_problems) == 1, record.parse_problems
    problem = record.parse_problems[0]
    assert problem.code == "SQ006"
    return problem


def test_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = [(\n")
    problem = only_problem(parse_migration(path, "shop"))
    assert problem.path == path
    assert problem.span.line == 4
    assert "syntax error" in problem.message
    assert problem.location() == f"{path}:4"


def test_no_migration_class(tmp_path: Path) -> None:
    path = write(tmp_path, "def helper():\n    return 1\n", name="helpers.py")
    record = parse_migration(path, "shop")
    problem = only_problem(record)
    assert "no `class Migration`" in problem.message
    assert problem.span.line == 1 and record.class_span is None
    assert problem.hint and "prefix" in problem.hint


def test_non_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b"from django.db import migrations\n# caf\xe9\nclass Migration(migrations.Migration):\n    pass\n")
    problem = only_problem(parse_migration(path, "shop"))
    assert problem.span.line == 2
    assert "UTF-8" in problem.message


def test_declared_latin1_is_readable(tmp_path: Path) -> None:
    """A PEP 263 coding cookie is honoured, as the import system does."""
    path = write(tmp_path, b"# -*- coding: latin-1 -*-\nfrom django.db import migrations\n# caf\xe9\n"
                           b"class Migration(migrations.Migration):\n    dependencies = [('a', '0001')]\n")
    record = parse_migration(path, "shop")
    assert record.parse_problems == ()
    assert record.dependencies[0].key == ("a", "0001")


def test_non_literal_dependencies(tmp_path: Path) -> None:
    text = textwrap.dedent('''\
        from django.db import migrations
        BASE = [("a", "0001")]
        class Migration(migrations.Migration):
            dependencies = BASE + [("b", "0002")]
            operations = []
    ''')
    problem = only_problem(parse_migration(write(tmp_path, text), "shop"))
    assert problem.span.line == 4
    assert "not a literal list" in problem.message


def test_non_literal_dependency_entry_keeps_the_others(tmp_path: Path) -> None:
    text = textwrap.dedent('''\
        from django.db import migrations
        OTHER = "0002_x"
        class Migration(migrations.Migration):
            dependencies = [
                ("a", "0001_initial"),
                ("b", OTHER),
            ]
    ''')
    record = parse_migration(write(tmp_path, text), "shop")
    problem = only_problem(record)
    assert problem.span.line == 6
    assert [r.key for r in record.dependencies] == [("a", "0001_initial")]


def test_missing_file(tmp_path: Path) -> None:
    problem = only_problem(parse_migration(tmp_path / "0009_gone.py", "shop"))
    assert "cannot read" in problem.message


def test_source_overrides_disk(tmp_path: Path) -> None:
    path = write(tmp_path, "from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = []\n")
    record = parse_migration(path, "shop", source=(
        "from django.db import migrations\nclass Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0002_x')]\n"))
    assert [r.key for r in record.dependencies] == [("shop", "0002_x")]
    assert record.size == path.stat().st_size


# -- discover ------------------------------------------------------------------------

def test_app_label_from_apps_py(tmp_path: Path) -> None:
    app = tmp_path / "shop_app"
    app.mkdir()
    (app / "apps.py").write_text(
        "from django.apps import AppConfig\n\nclass ShopConfig(AppConfig):\n"
        "    name = 'project.shop_app'\n    label = 'shop'\n")
    label, where = app_label_for(app)
    assert label == "shop"
    assert where == (app / "apps.py", where[1]) and where[1].line == 5
    (app / "apps.py").write_text("from django.apps import AppConfig\nclass C(AppConfig):\n    name = 'x.store'\n")
    assert app_label_for(app)[0] == "store"


def test_discover_skips_virtualenvs_and_lists_migrations(tmp_path: Path) -> None:
    for base in (tmp_path / "shop", tmp_path / ".venv" / "lib" / "pkg", tmp_path / "node_modules" / "x",
                 tmp_path / "env2" / "other"):
        (base / "migrations").mkdir(parents=True)
        (base / "__init__.py").write_text("")
        (base / "migrations" / "__init__.py").write_text("")
    (tmp_path / "env2" / "pyvenv.cfg").write_text("home = /usr\n")
    mig = tmp_path / "shop" / "migrations"
    for name in ("0001_initial.py", "0002_b.py", "_helpers.py", "~tmp.py", "notes.txt"):
        (mig / name).write_text("")
    packages = discover_packages(tmp_path)
    assert [p.app_label for p in packages] == ["shop"]
    assert [p.name for p in migration_files(packages[0])] == ["0001_initial.py", "0002_b.py"]


def test_read_settings_follows_star_import_and_manage_py(tmp_path: Path) -> None:
    (tmp_path / "proj" / "settings").mkdir(parents=True)
    (tmp_path / "proj" / "__init__.py").write_text("")
    (tmp_path / "proj" / "settings" / "__init__.py").write_text("from .base import *\nPAYMENT_MODEL = 'pay.Payment'\n")
    (tmp_path / "proj" / "settings" / "base.py").write_text(
        "AUTH_USER_MODEL = 'accounts.User'\nINSTALLED_APPS = ['django.contrib.auth', 'shop.apps.ShopConfig']\n")
    (tmp_path / "manage.py").write_text(
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n")
    settings = read_settings(tmp_path)
    assert settings.module == "proj.settings"
    assert settings.swappable == {"AUTH_USER_MODEL": "accounts.User", "PAYMENT_MODEL": "pay.Payment"}
    assert settings.installed_apps == ("django.contrib.auth", "shop.apps.ShopConfig")


def test_read_settings_without_module_uses_django_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    settings = read_settings(tmp_path)
    assert settings.module is None
    assert settings.swappable == {"AUTH_USER_MODEL": "auth.User"}


def test_unexpected_reader_failure_becomes_a_problem(tmp_path: Path, monkeypatch) -> None:
    """Whatever goes wrong inside the reader, parse_migration returns a record (contract)."""
    import squasher.graph.parse as parse_module

    def boom(self, call):
        raise KeyError("surprise")

    monkeypatch.setattr(parse_module._Reader, "operation", boom)
    record = parse_migration(write(tmp_path, FULL), "shop")
    problem = only_problem(record)
    assert "KeyError" in problem.message and problem.path.name == "0003_order.py"


def test_too_deeply_nested_source(tmp_path: Path) -> None:
    path = write(tmp_path, "x = " + "(" * 5000 + ")" * 5000 + "\n")
    problem = only_problem(parse_migration(path, "shop"))
    assert problem.span.line == 1
