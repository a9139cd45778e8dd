"""Real project layouts: check, graph, squash (verified), verify and finalize on each.

Each fixture is a small project laid out the way real projects are, where the app label,
the migrations package or the settings cannot be read from folder names alone:

* ``relocated``: ``MIGRATION_MODULES`` computed by a helper in settings points ``shop`` at
  ``benchmig_shop/migrations`` (the folder name is not the label);
* ``src``: manage.py puts ``src/`` on ``sys.path``; settings and apps live under ``src/``;
* ``cookiecutter``: split settings (``config/settings/base.py`` + ``local.py``),
  ``INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS`` then ``+=`` and ``[*A, *B]``,
  an ``AppConfig`` path whose ``label`` differs from the folder;
* ``migrations_app``: an app whose package is itself named ``migrations`` (Django's own test
  suite has one);
* ``symlinked``: the app's ``migrations`` folder is a symlink to a folder elsewhere.

Every app's history has a computed dependency (``swappable_dependency(USER_MODEL)`` with
``USER_MODEL = getattr(settings, ...)``), a RunPython that writes rows, and a schema change after
it, so the squash is verified on real databases by the default command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_squasher

MIGRATIONS = {
    "0001_initial.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel(
                    name="Item",
                    fields=[("id", models.AutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                            ("name", models.CharField(max_length=20))],
                ),
            ]
    """,
    "0002_item_qty.py": """
        from django.db import migrations, models


        def fill(apps, schema_editor):
            Item = apps.get_model("{label}", "Item")
            for i in range(3):
                Item.objects.create(name=f"item-{{i}}", qty=i)


        class Migration(migrations.Migration):
            dependencies = [("{label}", "0001_initial")]
            operations = [
                migrations.AddField("item", "qty", models.IntegerField(default=0)),
                migrations.RunPython(fill, migrations.RunPython.noop),
            ]
    """,
    "0003_alter_item_name.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("{label}", "0002_item_qty")]
            operations = [
                migrations.AlterField("item", "name", models.CharField(max_length=80)),
            ]
    """,
    "0004_item_owner.py": """
        import django.db.models.deletion
        from django.conf import settings
        from django.db import migrations, models

        USER_MODEL = getattr(settings, "AUTH_USER_MODEL", "auth.User")


        class Migration(migrations.Migration):
            dependencies = [
                migrations.swappable_dependency(USER_MODEL),
                ("{label}", "0003_alter_item_name"),
            ]
            operations = [
                migrations.AddField(
                    "item", "owner",
                    models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                      to=settings.AUTH_USER_MODEL),
                ),
            ]
    """,
}

MODELS = """
    from django.conf import settings
    from django.db import models


    class Item(models.Model):
        name = models.CharField(max_length=80)
        qty = models.IntegerField(default=0)
        owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)

        class Meta:
            app_label = "{label}"
"""

APPS_PY = """
    from django.apps import AppConfig


    class {cls}(AppConfig):
        name = "{name}"
        label = "{label}"
        default_auto_field = "django.db.models.AutoField"
"""

MANAGE_PY = """
    #!/usr/bin/env python
    import os
    import sys
    {extra}

    def main():
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)


    if __name__ == "__main__":
        main()
"""

SETTINGS_TAIL = """
SECRET_KEY = "layout-tests"
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("LAYOUT_DB", "db.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""

DJANGO_APPS = '["django.contrib.contenttypes", "django.contrib.auth"]'


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def write_app(root: Path, package: str, label: str, migrations_dir: str | None = None) -> None:
    """App ``package`` (a dotted path under ``root``) with label ``label``; its migrations go to
    ``migrations_dir`` (default ``<package>/migrations``)."""
    base = package.replace(".", "/")
    write(root, f"{base}/__init__.py", "")
    write(root, f"{base}/models.py", MODELS.format(label=label))
    cls = "".join(part.title() for part in label.split("_")) + "Config"
    write(root, f"{base}/apps.py", APPS_PY.format(cls=cls, name=package, label=label))
    target = migrations_dir or f"{base}/migrations"
    write(root, f"{target}/__init__.py", "")
    for name, text in MIGRATIONS.items():
        write(root, f"{target}/{name}", text.format(label=label))


def relocated(root: Path) -> tuple[str, str]:
    write_app(root, "shop", "shop", migrations_dir="benchmig_shop/migrations")
    write(root, "benchmig_shop/__init__.py", "")
    write(root, "manage.py", MANAGE_PY.format(extra="", settings="proj.settings"))
    write(root, "proj/__init__.py", "")
    write(root, "proj/settings.py", f"""
import os


def relocate(labels, prefix=os.environ.get("MIGRATIONS_PREFIX", "benchmig_")):
    return {{label: f"{{prefix}}{{label}}.migrations" for label in labels}}


INSTALLED_APPS = {DJANGO_APPS} + ["shop"]
MIGRATION_MODULES = relocate(["shop"])
""" + SETTINGS_TAIL)
    return "shop", "benchmig_shop/migrations"


def src_layout(root: Path) -> tuple[str, str]:
    write_app(root / "src", "shop", "shop")
    write(root, "manage.py", MANAGE_PY.format(
        extra='sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))',
        settings="proj.settings"))
    write(root, "src/proj/__init__.py", "")
    write(root, "src/proj/settings.py", "import os\n\nINSTALLED_APPS = "
          f"{DJANGO_APPS} + ['shop']\n" + SETTINGS_TAIL)
    return "shop", "src/shop/migrations"


def cookiecutter(root: Path) -> tuple[str, str]:
    write_app(root, "inventory.shop", "store")
    write(root, "inventory/__init__.py", "")
    write(root, "manage.py", MANAGE_PY.format(extra="", settings="config.settings.local"))
    write(root, "config/__init__.py", "")
    write(root, "config/settings/__init__.py", "")
    write(root, "config/settings/base.py", f"""
import os

DJANGO_APPS = {DJANGO_APPS}
THIRD_PARTY_APPS = []
LOCAL_APPS = ["inventory.shop.apps.StoreConfig"]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS
""" + SETTINGS_TAIL)
    write(root, "config/settings/local.py", """
from .base import *  # noqa: F403

INSTALLED_APPS += ["django.contrib.humanize"]  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, *["django.contrib.messages"]]
""")
    return "store", "inventory/shop/migrations"


def migrations_app(root: Path) -> tuple[str, str]:
    write_app(root, "migrations", "migrations")
    write(root, "manage.py", MANAGE_PY.format(extra="", settings="settings"))
    write(root, "settings.py", f"import os\n\nINSTALLED_APPS = {DJANGO_APPS} + ['migrations']\n"
          + SETTINGS_TAIL)
    return "migrations", "migrations/migrations"


def symlinked(root: Path) -> tuple[str, str]:
    write_app(root, "shop", "shop", migrations_dir="shared/shop_migrations")
    (root / "shop" / "migrations").symlink_to(root / "shared" / "shop_migrations",
                                              target_is_directory=True)
    write(root, "manage.py", MANAGE_PY.format(extra="", settings="settings"))
    write(root, "settings.py", f"import os\n\nINSTALLED_APPS = {DJANGO_APPS} + ['shop']\n"
          + SETTINGS_TAIL)
    return "shop", "shop/migrations"


LAYOUTS = {f.__name__: f for f in (relocated, src_layout, cookiecutter, migrations_app, symlinked)}


@pytest.fixture(params=sorted(LAYOUTS))
def layout(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, Path]:
    root = tmp_path / request.param
    label, migrations = LAYOUTS[request.param](root)
    return root, label, root / migrations


def manage(root: Path, *args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAYOUT_DB": str(db)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_check_and_graph_read_the_layout(layout: tuple[Path, str, Path]) -> None:
    root, label, _migrations = layout
    proc = run_squasher("check", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graph = run_squasher("graph", label, "--format", "json", cwd=root)
    assert graph.returncode == 0, graph.stderr
    nodes = {tuple(n["key"]) if "key" in n else (n["app"], n["name"])
             for n in json.loads(graph.stdout)["nodes"]}
    assert (label, "0004_item_owner") in nodes
    # with settings, Django's view: the same labels
    proc = run_squasher("check", "--settings", _settings_of(root), cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _settings_of(root: Path) -> str:
    text = (root / "manage.py").read_text()
    return text.split('"DJANGO_SETTINGS_MODULE", "')[1].split('"')[0]


def test_squash_verify_finalize(layout: tuple[Path, str, Path], tmp_path: Path) -> None:
    root, label, migrations = layout
    before = manage(root, "migrate", db=tmp_path / "before.sqlite3")
    assert before.returncode == 0, before.stderr

    proc = run_squasher("squash", label, "0004", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    squash = migrations / "0001_squashed_0004_item_owner.py"
    assert squash.is_file()
    summary = json.loads(proc.stdout)
    assert summary["summary"]["verified"] is True

    # the file imports and Django agrees nothing is missing; the old database needs nothing
    check = manage(root, "makemigrations", label, "--check", "--dry-run", db=tmp_path / "x.sqlite3")
    assert check.returncode == 0, check.stdout + check.stderr
    fresh = manage(root, "migrate", db=tmp_path / "fresh.sqlite3")
    assert fresh.returncode == 0, fresh.stderr
    applied = manage(root, "migrate", db=tmp_path / "before.sqlite3")
    assert applied.returncode == 0 and "No migrations to apply" in applied.stdout, applied.stdout

    verify = run_squasher("verify", label, "0001_squashed", cwd=root)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    final = run_squasher("finalize", label, cwd=root)
    assert final.returncode == 0, final.stdout + final.stderr
    assert sorted(p.name for p in migrations.glob("0*.py")) == [squash.name]
    assert "replaces" not in squash.read_text()
    again = manage(root, "migrate", db=tmp_path / "fresh2.sqlite3")
    assert again.returncode == 0, again.stderr
    proc = run_squasher("check", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_long_names(tmp_path: Path) -> None:
    """A default squash name past the file-name limit is shortened to the numbers; a `--name`
    that long is one clear error and nothing is written."""
    from conftest import snapshot_tree

    from squasher.squash.plan import MAX_NAME_BYTES, squash_name

    long_end = ("0004_rename_" + "very_long_model_name_" * 12)[:230]
    assert squash_name(("a", "0001_initial"), ("a", long_end), explicit_start=False) == \
        "0001_squashed_0004"
    assert squash_name(("a", "0001_initial"), ("a", "0004_x"), explicit_start=True) == \
        "0001_initial_squashed_0004_x"

    root = tmp_path / "project"
    label, migrations = symlinked(root)
    old = root / migrations / "0004_item_owner.py"
    old.rename(old.with_name(f"{long_end}.py"))
    before = snapshot_tree(root)
    proc = run_squasher("squash", label, "0001", "0004", "--name", "x" * (MAX_NAME_BYTES + 1),
                        cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "--name gives a" in proc.stderr
    assert snapshot_tree(root) == before

    proc = run_squasher("squash", label, long_end[:4], "--no-verify", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (root / migrations / "0001_squashed_0004.py").is_file()


@pytest.mark.parametrize(("source", "expected"), [
    ('A = ["a"]\nB = ("b",)\nINSTALLED_APPS = A + list(B)', None),  # a call: unknown
    ('A = ["a"]\nB = ["b"]\nINSTALLED_APPS = A + B', ("a", "b")),
    ('A = ["a"]\nINSTALLED_APPS = [*A, *["b"], "c"]', ("a", "b", "c")),
    ('INSTALLED_APPS = ["a"]\nINSTALLED_APPS += ["b"]\nINSTALLED_APPS.append("c")\n'
     'INSTALLED_APPS.extend(("d",))\nINSTALLED_APPS.insert(0, "z")', ("z", "a", "b", "c", "d")),
    ('import os\nINSTALLED_APPS = ["a"]\nif os.environ.get("X"):\n    INSTALLED_APPS += ["b"]', None),
    ('INSTALLED_APPS = ["a"]\nINSTALLED_APPS += EXTRA', None),
])
def test_settings_idioms_read_statically(tmp_path: Path, source: str,
                                         expected: tuple[str, ...] | None) -> None:
    """INSTALLED_APPS built the ways real settings build it is read, and a computed one is
    unknown (None), never a wrong list."""
    from squasher.graph.discover import read_settings

    (tmp_path / "settings.py").write_text(source + "\n")
    assert read_settings(tmp_path, "settings").installed_apps == expected


def test_computed_migration_modules_are_unknown_and_labels_inferred(tmp_path: Path) -> None:
    """MIGRATION_MODULES from a helper cannot be read: the package's label comes from what its
    migrations call their own app, not from the folder name."""
    from squasher.graph.discover import read_settings
    from squasher.graph.project import Project

    root = tmp_path / "project"
    relocated(root)
    settings = read_settings(root)
    assert settings.migration_modules_known is False
    project = Project.load(root, use_cache=False)
    assert project.graph.apps() == ["shop"]
    assert project.packages["shop"].path == root / "benchmig_shop" / "migrations"
    assert project.graph.leaves("shop") == [("shop", "0004_item_owner")]
