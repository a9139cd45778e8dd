"""The distribution (issue 13): ``django-squasher`` on PyPI ("squasher" is an unrelated
project), the ``squasher`` and ``squasher-lsp`` commands, Django classifiers, the licence in
the wheel, no development files in it; and the commands run from the wheel alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # pip builds in the source folder (build/, *.egg-info): build from a copy of what the
    # distribution is made of, never in the checkout
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for package in ("squasher", "lsp_server"):
        shutil.copytree(REPO_ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # build isolation fetches the setuptools pyproject.toml asks for from the package index
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(out), str(source)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [built] = out.glob("*.whl")
    return built


def test_wheel_metadata_and_contents(wheel: Path) -> None:
    assert wheel.name.startswith("django_squasher-0.")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "Name: django-squasher" in metadata
    for version in ("4.2", "5.2", "6.0"):
        assert f"Classifier: Framework :: Django :: {version}" in metadata
    assert "Requires-Python: >=3.11" in metadata
    assert any(n.endswith("LICENSE") and ".dist-info/" in n for n in names)
    assert "squasher = squasher.cli:main" in entry_points
    assert "squasher-lsp = lsp_server.__main__:main" in entry_points
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"squasher", "lsp_server"}, tops  # no tests, benchmarks or sample_apps
    assert "squasher/management/commands/squasher.py" in names  # the manage.py entry


def test_commands_run_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-P", "-c", "import squasher, lsp_server; "
         "print(squasher.__file__); print(lsp_server.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(target)) for line in where.stdout.split()), where.stdout
    check = subprocess.run([sys.executable, "-P", "-m", "squasher", "check", "--root",
                            str(REPO_ROOT / "sample_apps"), "billing"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "migrations in 1 app: no problems" in check.stdout
