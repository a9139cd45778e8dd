"""Small Django projects written into tmp_path for the lifecycle tests (merge, rebase, finalize).

``write_project(root, apps)`` writes ``settings.py``, ``manage.py`` and one package per app;
``apps`` maps app label -> {migration name: (dependencies, operations source, extra class body)}.
The projects are real: ``python manage.py migrate`` runs on them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SETTINGS = '''\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "test"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", {apps}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("TEST_SQLITE", str(BASE_DIR / "db.sqlite3"))}}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
'''

MANAGE = '''\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
'''

Migration = tuple[list[tuple[str, str]], str] | tuple[list[tuple[str, str]], str, str]


def migration_source(deps: list[tuple[str, str]], operations: str, extra: str = "") -> str:
    dep_lines = "".join(f"        ({a!r}, {n!r}),\n" for a, n in deps)
    return (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"{extra}"
        "    dependencies = [\n"
        f"{dep_lines}"
        "    ]\n\n"
        "    operations = [\n"
        f"{operations}"
        "    ]\n"
    )


def write_project(root: Path, apps: dict[str, dict[str, Migration]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.py").write_text(SETTINGS.format(apps=", ".join(repr(a) for a in apps)))
    (root / "manage.py").write_text(MANAGE)
    for app, migrations in apps.items():
        pkg = root / app
        (pkg / "migrations").mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "migrations" / "__init__.py").write_text("")
        (pkg / "apps.py").write_text(
            "from django.apps import AppConfig\n\n\n"
            f"class Config(AppConfig):\n    name = {app!r}\n"
        )
        for name, spec in migrations.items():
            (pkg / "migrations" / f"{name}.py").write_text(migration_source(*spec))
    return root


def manage(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python manage.py ...`` in ``root`` as a user runs it."""
    full = {**os.environ, **(env or {})}
    full.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=full,
                          capture_output=True, text=True, timeout=300)


def create(model: str, *fields: str) -> str:
    cols = "".join(f"                ({f!r}, models.CharField(max_length=20, default='')),\n" for f in fields)
    return (
        f"        migrations.CreateModel(\n            name={model!r},\n            fields=[\n"
        "                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),\n"
        f"{cols}            ],\n        ),\n"
    )


def add_field(model: str, field: str) -> str:
    return (f"        migrations.AddField(model_name={model!r}, name={field!r}, "
            "field=models.CharField(max_length=20, default='')),\n")


def alter_field(model: str, field: str, length: int = 40) -> str:
    return (f"        migrations.AlterField(model_name={model!r}, name={field!r}, "
            f"field=models.CharField(max_length={length}, default='')),\n")


def conflict_project(root: Path) -> Path:
    """``blog`` with leaves 0003_title_a (branch A, 2 migrations) and 0004_tag (branch B, 3);
    ``news`` depends on 0003_title_b inside branch B. Both branches alter post.title."""
    return write_project(root, {
        "blog": {
            "0001_initial": ([], create("Post", "title")),
            "0002_post_body": ([("blog", "0001_initial")], add_field("post", "body")),
            "0003_title_a": ([("blog", "0002_post_body")], alter_field("post", "title", 50)),
            "0002_post_summary": ([("blog", "0001_initial")], add_field("post", "summary")),
            "0003_title_b": ([("blog", "0002_post_summary")], alter_field("post", "title", 60)),
            "0004_tag": ([("blog", "0003_title_b")], create("Tag", "label")),
        },
        "news": {
            "0001_initial": ([("blog", "0003_title_b")], create("Letter", "subject")),
            "0002_more": ([("news", "0001_initial")], add_field("letter", "body")),
        },
    })

