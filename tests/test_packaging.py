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
    # development tools live in benchmarks/: no synthetic generator or optimizer samples
    dev = [n for n in names if Path(n).stem in ("samples", "synthetic", "walk_history")]
    assert dev == [], dev
    # one Django entry point (the worker) and the sandbox it works in
    for module in ("worker", "sandbox", "django_setup", "verify", "dbcompare"):
        assert f"squasher/runtime/{module}.py" in names, module


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


def test_project_urls_in_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
    urls = dict(line.removeprefix("Project-URL: ").split(", ", 1)
                for line in metadata.splitlines() if line.startswith("Project-URL: "))
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls), urls
    assert all(url.startswith("https://") for url in urls.values())


def _tracked_files() -> list[str]:
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True,
                          timeout=60)
    if proc.returncode != 0:
        pytest.skip("not a git checkout: the sdist is built from the tracked files")
    return [name for name in proc.stdout.decode().split("\0") if name]


def test_sdist_carries_what_its_tests_need(tmp_path: Path) -> None:
    """The sdist is built as a release is (``python -m build --sdist``, from the tracked files
    only), holds the tests, the sample project and the licence and no generated files, and
    the tests in it pass against the code in it."""
    import tarfile

    source = tmp_path / "source"
    for name in _tracked_files():
        if name.startswith("vscode-extension/") or not (REPO_ROOT / name).is_file():
            continue
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    out = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    [sdist] = out.glob("django_squasher-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
        archive.extractall(tmp_path / "unpacked", filter="data")
    for needed in ("LICENSE", "README.md", "pyproject.toml", "tests/conftest.py",
                   "tests/test_graph.py", "tests/support/trees.py", "sample_apps/manage.py",
                   "sample_apps/catalog/migrations/0001_initial.py", "docs/ARCHITECTURE.md",
                   "squasher/cli/__init__.py", "lsp_server/server.py"):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".sqlite3"))]
    [unpacked] = (tmp_path / "unpacked").iterdir()
    # the unpacked tree's own code, not the checkout's (python -m puts the folder first)
    where = subprocess.run([sys.executable, "-c", "import squasher; print(squasher.__file__)"],
                           cwd=unpacked, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(unpacked)), where.stdout + where.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
         "tests/test_graph.py", "tests/test_parse.py", "tests/test_check.py"],
        cwd=unpacked, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and " skipped" not in tests.stdout.splitlines()[-1]
