"""squasher.squash.writer through ``squasher squash`` on a tiny project written in tmp_path.

Covers what sample_apps does not: a swappable setting other than AUTH_USER_MODEL, a
custom operation whose deconstruct() does not reproduce its constructor arguments (carried
as source text), functions imported from project modules (stay imports), name clashes,
RunPython.noop, an elidable RunSQL, and the data written by carried code (compared on
real databases).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree

FILES = {
    "manage.py": """
        import os, sys
        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj_settings")
            from django.core.management import execute_from_command_line
            execute_from_command_line(sys.argv)
    """,
    "proj_settings.py": """
        import os
        SECRET_KEY = "x"
        USE_TZ = True
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "people", "shop"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                                 "NAME": os.environ.get("TINY_DB", "db.sqlite3")}}
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        PEOPLE_MODEL = "people.Person"
    """,
    "people/__init__.py": "",
    "people/models.py": """
        from django.db import models

        class Person(models.Model):
            name = models.CharField(max_length=50)

            class Meta:
                swappable = "PEOPLE_MODEL"
    """,
    "people/migrations/__init__.py": "",
    "people/migrations/0001_initial.py": """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel(
                    name="Person",
                    fields=[("id", models.BigAutoField(primary_key=True, serialize=False)),
                            ("name", models.CharField(max_length=50))],
                    options={"swappable": "PEOPLE_MODEL"},
                ),
            ]
    """,
    "shop/__init__.py": "",
    "shop/models.py": """
        from django.conf import settings
        from django.db import models

        class Item(models.Model):
            name = models.CharField(max_length=50)
            qty = models.IntegerField(default=0)
            owner = models.ForeignKey(settings.PEOPLE_MODEL, null=True, on_delete=models.SET_NULL)
    """,
    "shop/utils.py": """
        def project_forwards(apps, schema_editor):
            Item = apps.get_model("shop", "Item")
            Item.objects.create(name="from-utils", qty=7)
    """,
    "shop/ops.py": """
        from django.db import migrations


        class InsertItems(migrations.RunPython):
            # deconstruct() is RunPython's: it returns code=..., not table/rows
            def __init__(self, names, qty=1):
                self.names = list(names)
                self.qty = qty
                super().__init__(self._forwards, migrations.RunPython.noop)

            def _forwards(self, apps, schema_editor):
                Item = apps.get_model("shop", "Item")
                for name in self.names:
                    Item.objects.create(name=name, qty=self.qty)
    """,
    "shop/migrations/__init__.py": "",
    "shop/migrations/0001_initial.py": """
        from django.conf import settings
        from django.db import migrations, models

        class Migration(migrations.Migration):
            initial = True
            dependencies = [migrations.swappable_dependency(settings.PEOPLE_MODEL)]
            operations = [
                migrations.CreateModel(
                    name="Item",
                    fields=[("id", models.BigAutoField(primary_key=True, serialize=False)),
                            ("name", models.CharField(max_length=50))],
                ),
                migrations.AddField(
                    model_name="item", name="owner",
                    field=models.ForeignKey(null=True, on_delete=models.SET_NULL,
                                            to=settings.PEOPLE_MODEL),
                ),
            ]
    """,
    "shop/migrations/0002_data.py": """
        from django.db import migrations, models

        from shop.utils import project_forwards

        BATCH = 3  # items per run


        def make_name(i):
            return f"item-{i}"


        def forwards(apps, schema_editor):
            Item = apps.get_model("shop", "Item")
            for i in range(BATCH):
                Item.objects.create(name=make_name(i))


        class Migration(migrations.Migration):
            dependencies = [("shop", "0001_initial")]
            operations = [
                migrations.AddField("item", "qty", models.IntegerField(default=0)),
                migrations.RunPython(forwards, migrations.RunPython.noop),
                migrations.RunPython(project_forwards, migrations.RunPython.noop),
            ]
    """,
    "shop/migrations/0003_more.py": """
        from django.db import migrations

        from shop.ops import InsertItems

        BATCH = 2


        def forwards(apps, schema_editor):
            Item = apps.get_model("shop", "Item")
            Item.objects.filter(name__startswith="item-").update(qty=BATCH)


        class Migration(migrations.Migration):
            dependencies = [("shop", "0002_data")]
            operations = [
                migrations.RunPython(forwards, elidable=False),
                InsertItems(["custom-a", "custom-b"], qty=BATCH + 3),
                migrations.RunSQL("UPDATE shop_item SET qty = qty WHERE 1 = 0",
                                  reverse_sql=migrations.RunSQL.noop, elidable=True),
            ]
    """,
}

DUMP = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "proj_settings"
import django
django.setup()
from django.core.management import call_command
call_command("migrate", *sys.argv[1:], verbosity=0)
from django.db import connection
with connection.cursor() as c:
    c.execute("SELECT name, qty FROM shop_item ORDER BY name")
    rows = c.fetchall()
    c.execute("SELECT app, name FROM django_migrations WHERE app = 'shop' ORDER BY name")
    applied = [r[1] for r in c.fetchall()]
print("@@" + json.dumps({"rows": rows, "applied": applied}))
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def dump(root: Path, db: str, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["TINY_DB"] = str(root / db)
    proc = subprocess.run([sys.executable, "-c", DUMP, *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.split("@@", 1)[1])


def test_written_file(tiny: Path) -> None:
    original = dump(tiny, "original.sqlite3")
    proc = run_squasher("squash", "shop", "0003", "--no-verify", cwd=tiny)
    assert proc.returncode == 0, proc.stderr
    path = tiny / "shop" / "migrations" / "0001_squashed_0003_more.py"
    text = path.read_text()
    # every swappable setting, not only AUTH_USER_MODEL
    assert "migrations.swappable_dependency(settings.PEOPLE_MODEL)" in text
    assert "to=settings.PEOPLE_MODEL" in text
    # carried code, clash renamed with the migration number
    assert "def forwards(apps, schema_editor):" in text
    assert "def m0003_forwards(apps, schema_editor):" in text
    assert "m0003_BATCH = 2" in text and "BATCH = 3  # items per run" in text
    assert "def make_name(i):" in text
    # project function stays an import, noop is written as Django's
    assert "shop.utils.project_forwards" in text and "def project_forwards" not in text
    assert "migrations.RunPython.noop" in text
    # custom op with a lying deconstruct(): its source text, with what it uses
    assert 'InsertItems(["custom-a", "custom-b"], qty=m0003_BATCH + 3)' in text
    assert "from shop.ops import InsertItems" in text
    assert "custom operation carried as source: InsertItems" in proc.stdout
    # elidable written explicitly; the elidable RunSQL was dropped by the optimizer
    assert "elidable=False" in text
    assert "WHERE 1 = 0" not in text
    assert "initial = True" in text
    assert "Manual porting" not in text and "manual copying" not in text

    squashed = dump(tiny, "squashed.sqlite3")
    assert squashed["rows"] == original["rows"]
    assert "0001_squashed_0003_more" in squashed["applied"]
    # partially applied: originals up to 0002 (squash hidden), then the rest with it present
    hidden = path.rename(path.with_suffix(".hidden"))
    dump(tiny, "partial.sqlite3", "shop", "0002")
    hidden.rename(path)
    partial = dump(tiny, "partial.sqlite3")
    assert partial["rows"] == original["rows"]
    assert "0003_more" in partial["applied"]


def test_round_trip_and_json(tiny: Path) -> None:
    before = snapshot_tree(tiny)
    proc = run_squasher("squash", "shop", "0002", "0003", "--dry-run", "--format", "json",
                        "--no-optimize", cwd=tiny)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    [summary] = data["summary"]["squashes"]
    assert summary["source_operations"] and "InsertItems" in summary["source_operations"][0]
    assert summary["run_python"] == 4  # InsertItems is a RunPython too
    assert summary["run_sql"] == 1
    [change] = data["changes"]
    assert "elidable=True" in change["text"]  # Django's serializer would drop it
    assert change["text"].count("elidable=False") == 3
    assert ("shop", "0001_initial") not in data["summary"]["squashes"][0]["replaces"]
    assert snapshot_tree(tiny) == before


NESTED = """
from django.db import migrations


def make():
    def inner(apps, schema_editor):
        pass
    return inner


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_more")]
    operations = [migrations.RunPython(make())]
"""


def test_nested_function_refused(tiny: Path) -> None:
    (tiny / "shop" / "migrations" / "0004_nested.py").write_text(NESTED)
    before = snapshot_tree(tiny)
    proc = run_squasher("squash", "shop", "0003", "0004", "--no-verify", cwd=tiny)
    assert proc.returncode != 0
    assert "0004_nested.py:6" in proc.stderr and "inside another function" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot_tree(tiny) == before


def test_settings_module_not_found(tiny: Path) -> None:
    before = snapshot_tree(tiny)
    proc = run_squasher("squash", "shop", "0003", "--settings", "nope_settings", "--no-verify",
                        cwd=tiny)
    assert proc.returncode != 0
    assert "nope_settings" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot_tree(tiny) == before


LOCAL_OPS = '''
from django.db import migrations


class Marker:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Marker) and other.value == self.value


class Touch(migrations.RunPython):
    """A custom operation defined in the migration module itself."""

    def __init__(self, label):
        self.label = label
        super().__init__(self.run, migrations.RunPython.noop)

    def run(self, apps, schema_editor):
        apps.get_model("shop", "Item").objects.create(name=self.label, qty=1)

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"label": self.label})


class Unserializable(migrations.RunPython):
    """deconstruct() returns a value Django cannot serialize."""

    def __init__(self, marker):
        self.marker = marker
        super().__init__(self.run, migrations.RunPython.noop)

    def run(self, apps, schema_editor):
        apps.get_model("shop", "Item").objects.create(name="unser", qty=self.marker.value)

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"marker": self.marker})


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_more")]
    operations = [Touch("touched"), Unserializable(Marker(4))]
'''


def test_custom_operations_defined_in_migrations(tiny: Path) -> None:
    (tiny / "shop" / "migrations" / "0004_local_ops.py").write_text(LOCAL_OPS)
    original = dump(tiny, "original.sqlite3")
    proc = run_squasher("squash", "shop", "0003", "0004", "--no-verify", cwd=tiny)
    assert proc.returncode == 0, proc.stderr
    text = (tiny / "shop" / "migrations" / "0003_more_squashed_0004_local_ops.py").read_text()
    assert "class Touch(migrations.RunPython):" in text
    assert re.search(r'Touch\(\s*label="touched",?\s*\)', text)
    assert "class Marker:" in text and "Unserializable(Marker(4))" in text
    assert "custom operation carried as source: Unserializable" in proc.stdout
    assert "0004_local_ops" not in text.split("class Migration")[0].replace(
        "# carried from shop.migrations.0004_local_ops", "")
    squashed = dump(tiny, "squashed.sqlite3")
    assert squashed["rows"] == original["rows"]
    assert ["touched", 1] in squashed["rows"] and ["unser", 4] in squashed["rows"]


def test_written_squash_does_not_depend_on_formatter_on_path(tiny: Path, tmp_path: Path) -> None:
    """A `ruff` or `black` earlier on PATH (another version, a broken one) must not change
    the written file: squasher formats with the ruff it depends on."""
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    for tool in ("ruff", "black"):
        script = fake_bin / tool
        script.write_text("#!/bin/sh\necho 'class Migration: broken = True'\n")
        script.chmod(0o755)

    def squash_text(path_env: str) -> str:
        proc = run_squasher("squash", "shop", "0001", "0003", "--no-verify", "--dry-run",
                            cwd=tiny, env={**os.environ, "PATH": path_env})
        assert proc.returncode == 0, proc.stderr
        return re.sub(r"on \d{4}-\d\d-\d\d \d\d:\d\d", "", proc.stdout)

    plain = squash_text("/usr/bin:/bin")
    with_fakes = squash_text(f"{fake_bin}{os.pathsep}/usr/bin:/bin")
    assert with_fakes == plain
    assert "broken = True" not in with_fakes
    assert "class Migration(migrations.Migration):" in plain


def test_on_delete_set_is_written_as_django_writes_it(tiny: Path) -> None:
    """models.SET(value) returns a function made inside another function; it deconstructs to
    the call, so it is written as `models.SET(...)`, not refused as uncarriable (wagtailcore)."""
    (tiny / "shop" / "migrations" / "0004_item_buddy.py").write_text(textwrap.dedent("""
        import django.db.models.deletion
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("shop", "0003_more")]
            operations = [
                migrations.AddField(
                    "item", "buddy",
                    models.ForeignKey(null=True, to="shop.item",
                                      on_delete=django.db.models.deletion.SET(None)),
                ),
            ]
    """).lstrip())
    proc = run_squasher("squash", "shop", "0003", "0004", "--no-verify", cwd=tiny)
    assert proc.returncode == 0, proc.stderr
    text = (tiny / "shop" / "migrations" / "0003_more_squashed_0004_item_buddy.py").read_text()
    assert "on_delete=models.SET(None)" in text
