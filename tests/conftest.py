"""Shared fixtures.

Tests that need PostgreSQL, Node or the real editor call :func:`require`; on a laptop
a missing tool skips the test, under ``CI=true`` it fails it (CI must have everything).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_APPS = REPO_ROOT / "sample_apps"
#: development tools that are not in the wheel (synthetic histories, optimizer samples):
#: tests import them as top-level modules (``from synthetic import generate_project``)
BENCHMARKS = REPO_ROOT / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_COPY_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.sqlite3", "db.sqlite3*", ".squasher-cache"
)


def require(condition: bool, what: str) -> None:
    """Skip (laptop) or fail (CI) when an external tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} not available")


def postgres_dsn() -> str | None:
    """DSN of a PostgreSQL server tests may create throwaway databases on."""
    return os.environ.get("SQUASHER_POSTGRES_DSN")


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the record cache of test projects out of the user's ~/.cache (subprocesses inherit it)."""
    os.environ["SQUASHER_CACHE_DIR"] = str(tmp_path_factory.mktemp("squasher-cache"))


@pytest.fixture
def require_postgres() -> str:
    dsn = postgres_dsn()
    require(bool(dsn), "PostgreSQL (set SQUASHER_POSTGRES_DSN)")
    try:
        import psycopg  # noqa: F401
    except ImportError:  # pragma: no cover - dev extra always has it
        require(False, "psycopg")
    return dsn  # type: ignore[return-value]


@pytest.fixture
def require_node() -> str:
    node = shutil.which("node")
    require(node is not None, "Node.js")
    return node  # type: ignore[return-value]


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A private copy of ``sample_apps`` (the test may change it freely)."""
    dest = tmp_path / "sample_apps"
    shutil.copytree(SAMPLE_APPS, dest, ignore=_COPY_IGNORE)
    return dest


def run_squasher(*args: str, cwd: Path, env: dict[str, str] | None = None,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``squasher`` CLI in a subprocess (as a user would)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("DJANGO_SETTINGS_MODULE", None) if env is None or "DJANGO_SETTINGS_MODULE" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "squasher", *args], cwd=cwd, env=full_env, input=input,
        # never the terminal of `pytest -s`: finalize would ask for confirmation there
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True, text=True, timeout=600,
    )


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` with its bytes; to assert a command left the tree untouched."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".sqlite3")
    }


@contextlib.contextmanager
def extension_build_lock() -> Iterator[None]:
    """Held while npm runs in the repository's ``vscode-extension/`` folder.

    ``test_vscode_extension.py`` (npm ci, lint, package) and ``test_vscode_e2e.py`` (run.sh
    builds the .vsix) share that folder, and pytest-xdist may run them, or two tests of one of
    them, on two workers at once: ``npm ci`` there deletes ``node_modules`` under the other's
    feet. (``--dist loadgroup`` cannot keep them together: with pytest 9.2 it no longer groups.)
    """
    import fcntl
    import hashlib
    import tempfile

    tag = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"squasher-extension-build-{tag}.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project on ``main`` (shop: 0001..0002, blog: 0001) with a branch ``feature`` checked out."""
    from support.git_repo import git
    from support.trees import chain, make_tree

    require(shutil.which("git") is not None, "git")
    root = make_tree(tmp_path / "repo", {"shop": chain("shop", 2), "blog": chain("blog", 1)})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "checkout", "-qb", "feature")
    return root
