"""A git repository with a Django-like project on ``main`` and a ``feature`` branch, and
what a real ``git merge`` of the two gives: the ground truth ``check --against`` and
``merge --rebase --onto`` are compared with."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import run_squasher

from squasher.runtime.worker import WorkerClient
from support.trees import migration_source


def git_run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=60)


def git(repo: Path, *args: str) -> str:
    proc = git_run(repo, *args)
    assert proc.returncode == 0, (args, proc.stderr)
    return proc.stdout


def write(root: Path, app: str, name: str, **opts: object) -> Path:
    path = root / app / "migrations" / f"{name}.py"
    path.write_text(migration_source(opts))
    return path


def commit_on(root: Path, branch: str, message: str, change) -> None:  # type: ignore[no-untyped-def]
    current = git(root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(root, "checkout", "-q", branch)
    change()
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    git(root, "checkout", "-q", current)


def predicted(root: Path, rev: str = "main") -> tuple[int, list[dict]]:
    proc = run_squasher("check", "--against", rev, "--format", "json", cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["problems"]


def merged_truth(root: Path, rev: str = "main", *, git_conflict: bool = False
                 ) -> tuple[set[str], list[dict], str]:
    """Merge for real in a throwaway clone: the apps Django's loader finds in conflict, what
    squasher check says there, and Django's loader error (or ""). ``git_conflict``: git itself
    stops with a conflict (e.g. rename/rename), leaving both sides' files in the work tree."""
    clone = root.parent / "merged"
    shutil.copytree(root, clone)
    if git_conflict:
        merge = git_run(clone, "merge", "--no-edit", rev)
        assert merge.returncode != 0 and "CONFLICT" in merge.stdout + merge.stderr
    else:
        git(clone, "merge", "-q", "--no-edit", rev)
    proc = run_squasher("check", "--format", "json", cwd=clone)
    # Django's MigrationLoader in a worker process (its `graph` job)
    loaded = WorkerClient("settings", timeout=120).run(clone, None, [{"op": "graph"}])
    shutil.rmtree(clone)
    if loaded["ok"]:
        conflicts, error = set(loaded["results"][0]["conflicts"]), ""
    else:
        # "Django's migration loader failed: django...exceptions.NodeNotFoundError: ..."
        assert loaded["error"]["kind"] == "load", loaded["error"]
        conflicts = set()
        error = loaded["error"]["message"].split(": ")[1].rsplit(".", 1)[-1]
    return conflicts, json.loads(proc.stdout)["problems"], error


def tree_state(root: Path) -> str:
    """Work tree files, index and HEAD: must be the same before and after --against."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()
