"""A squash must not move another app's migration after code of the range (issue 15).

``alpha.0001`` depends on ``zeta.0001``; ``migrate`` applies it before ``zeta.0003``, a
RunPython that records whether alpha's table exists (as openwisp-users' data migration grants
the permissions of allauth's models only when allauth's ``account`` ran before it). One squash
of ``zeta`` 0001..0003 makes ``alpha.0001`` wait for the whole squash, so the RunPython sees
no table: verification finds the difference, and the default command cuts the range after
``zeta.0001`` (which alpha depends on) and writes the squash of the rest, which verifies.
``--no-split`` keeps the refusal.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import run_squasher, snapshot_tree

SETTINGS = """
SECRET_KEY = "order-test"
INSTALLED_APPS = ["alpha", "zeta"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
USE_TZ = True
"""

ZETA = {
    "0001_initial": """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Seen", [
            ("id", models.AutoField(primary_key=True)),
            ("table", models.CharField(max_length=50)),
            ("present", models.BooleanField()),
        ]),
    ]
""",
    "0002_seen_note": """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("zeta", "0001_initial")]
    operations = [migrations.AddField("seen", "note", models.CharField(max_length=20, default=""))]
""",
    "0003_record_alpha": """
from django.db import migrations


def record(apps, schema_editor):
    tables = schema_editor.connection.introspection.table_names()
    apps.get_model("zeta", "Seen").objects.create(table="alpha_thing",
                                                  present="alpha_thing" in tables)


class Migration(migrations.Migration):
    dependencies = [("zeta", "0002_seen_note")]
    operations = [migrations.RunPython(record, migrations.RunPython.noop)]
""",
}

ALPHA = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("zeta", "0001_initial")]
    operations = [migrations.CreateModel("Thing", [("id", models.AutoField(primary_key=True))])]
"""


MODELS = {
    "zeta": "from django.db import models\n\n\nclass Seen(models.Model):\n"
            "    table = models.CharField(max_length=50)\n    present = models.BooleanField()\n"
            "    note = models.CharField(max_length=20, default='')\n",
    "alpha": "from django.db import models\n\n\nclass Thing(models.Model):\n    pass\n",
}


def make_project(root: Path) -> Path:
    (root / "settings.py").parent.mkdir(parents=True, exist_ok=True)
    (root / "settings.py").write_text(SETTINGS)
    (root / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n")
    for app, files in (("zeta", ZETA), ("alpha", {"0001_initial": ALPHA})):
        migrations = root / app / "migrations"
        migrations.mkdir(parents=True)
        (root / app / "__init__.py").write_text("")
        (root / app / "models.py").write_text(MODELS[app])
        (migrations / "__init__.py").write_text("")
        for name, text in files.items():
            (migrations / f"{name}.py").write_text(text.lstrip())
    return root


def test_single_squash_that_reorders_code_is_cut_and_verified(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project")
    proc = run_squasher("squash", "zeta", "0003", "--root", str(root), "--format", "json",
                        cwd=root)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert [p["name"] for p in summary["squashes"]] == [
        "0002_seen_note_squashed_0003_record_alpha"]
    assert summary["kept_as_is"] == ["zeta.0001_initial"]
    assert summary["verified"] is True
    [reason] = summary["split_to_keep_order"]
    assert "alpha.0001_initial" in reason and "0003_record_alpha" in reason
    assert any("did not reproduce its originals" in note and "zeta_seen" in note
               for note in summary["notes"]), summary["notes"]
    squash = root / "zeta" / "migrations" / "0002_seen_note_squashed_0003_record_alpha.py"
    assert "('zeta', '0002_seen_note')" in squash.read_text().replace('"', "'")

    # the squashed history gives what the original gave: alpha's table existed for the code
    migrate = run_squasher_manage(root)
    assert migrate.returncode == 0, migrate.stderr
    rows = sqlite3.connect(root / "db.sqlite3").execute(
        "SELECT \"table\", present FROM zeta_seen").fetchall()
    assert rows == [("alpha_thing", 1)]


def test_no_split_refuses_and_leaves_the_tree(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project")
    before = snapshot_tree(root)
    proc = run_squasher("squash", "zeta", "0003", "--root", str(root), "--no-split", cwd=root)
    assert proc.returncode != 0
    assert "zeta_seen" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot_tree(root) == before


def run_squasher_manage(root: Path):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    return subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=root,
                          capture_output=True, text=True, timeout=300)
