"""``python manage.py squasher …`` (issue 13): "squasher" in INSTALLED_APPS gives the whole CLI
through manage.py, with the project's own settings and manage.py's folder as the root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_squasher

#: sample_apps lists "squasher" itself (its README walkthrough uses manage.py); this module
#: starts from settings without it, to test the entry as a project adds it
SETTINGS = ('from settings import *  # noqa: F403\n\n'
            'INSTALLED_APPS = [a for a in INSTALLED_APPS if a != "squasher"]  # noqa: F405\n'
            'INSTALLED_APPS += ["squasher"]\n')


@pytest.fixture
def project(sample_project: Path) -> Path:
    (sample_project / "settings_with_squasher.py").write_text(SETTINGS)
    return sample_project


def test_without_the_app_manage_py_has_no_squasher_command(sample_project: Path) -> None:
    (sample_project / "settings_without.py").write_text(
        SETTINGS.replace('INSTALLED_APPS += ["squasher"]\n', ""))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings_without"}
    proc = subprocess.run([sys.executable, "manage.py", "squasher", "check"], cwd=sample_project,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Unknown command: 'squasher'" in proc.stderr


def manage(project: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings_with_squasher"}
    return subprocess.run([sys.executable, str(project / "manage.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_check_through_manage_py_from_another_folder_matches_the_cli(project: Path,
                                                                      tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    via_manage = manage(project, "squasher", "check", "--format", "json", cwd=elsewhere)
    via_cli = run_squasher("check", "--format", "json", "--settings", "settings_with_squasher",
                           cwd=project, env={"PYTHONPATH": str(project)})
    assert via_manage.returncode == via_cli.returncode == 1, via_manage.stderr
    ours, theirs = json.loads(via_manage.stdout), json.loads(via_cli.stdout)
    assert ours["problems"] == theirs["problems"]
    assert {p["code"] for p in ours["problems"]} >= {"SQ001"}  # sample_apps' blog conflict
    assert ours["migrations"] == theirs["migrations"] > 50


def test_squash_through_manage_py_writes_a_squash_django_loads(project: Path) -> None:
    before = set((project / "catalog" / "migrations").glob("*.py"))
    done = manage(project, "squasher", "squash", "catalog", "0029", "--no-verify", cwd=project)
    assert done.returncode == 0, done.stderr
    [new] = set((project / "catalog" / "migrations").glob("*.py")) - before
    assert new.name.startswith("0001_squashed_0029")
    plan = manage(project, "showmigrations", "catalog", cwd=project)
    assert plan.returncode == 0, plan.stderr
    assert new.stem in plan.stdout  # Django's loader sees it as a squash of 0001..0029


def test_help_and_usage_name_manage_py(project: Path) -> None:
    listed = manage(project, "help", cwd=project)
    assert "[squasher]" in listed.stdout
    shown = manage(project, "help", "squasher", cwd=project)
    assert shown.returncode == 0
    assert "usage: manage.py squasher" in shown.stdout
    for command in ("check", "graph", "squash", "verify", "merge", "suggest", "finalize", "compact"):
        assert command in shown.stdout
    bad = manage(project, "squasher", "squash", cwd=project)
    assert bad.returncode == 2
    assert "usage: manage.py squasher squash" in bad.stderr


def test_an_error_is_one_line_and_exit_2(project: Path) -> None:
    before = sorted(p.name for p in project.rglob("*.py"))
    done = manage(project, "squasher", "squash", "nosuchapp", "0002", cwd=project)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "nosuchapp" in done.stderr
    assert sorted(p.name for p in project.rglob("*.py")) == before
