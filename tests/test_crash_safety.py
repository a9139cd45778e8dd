"""A kill at any system call leaves the old tree or the new one (after one recovery step).

Each command that changes several files runs under ``strace``, which kills it (SIGKILL) at
the N-th ``rename``/``unlink``/``unlinkat``/``fsync`` for every N until the command gets
through untouched. After each kill, the next squasher run (``squasher check``) finishes or
discards the interrupted change, and the tree must then be byte for byte the tree before the
command or the tree an uninterrupted run produces. Also: a second process waits for or is
refused the project lock, OS errors roll back keeping file modes and leave no temporary files,
and a killed squash never leaves its unverified file behind.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLE_APPS, require, run_squasher, snapshot_tree

from squasher.errors import SquasherError
from squasher.fileops import JOURNAL_DIR, ChangeSet, project_lock

SYSCALLS = ("rename", "unlink", "unlinkat", "fsync")
MAX_PER_SYSCALL = 40

COMMANDS = {
    "finalize": (["finalize", "billing"], SYSCALLS),
    "rebase": (["merge", "--rebase", "blog"], SYSCALLS),
    "merge": (["merge", "blog"], SYSCALLS),
    "squash-split": (["squash", "orders", "0001", "0005", "--split", "--no-verify"], SYSCALLS),
    # compact verifies each squash in worker processes (seconds per run): only its own
    # process is traced, the one that changes the tree
    "compact": (["compact", "accounts", "--no-timing"], ("rename", "unlink")),
}


def strace() -> str:
    path = shutil.which("strace")
    require(path is not None, "strace (Debian package strace)")
    return path  # type: ignore[return-value]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def _tree(root: Path) -> dict[str, bytes]:
    """The tree's files; generated headers' timestamps masked (runs differ by minutes)."""
    return {k: re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d", b"<time>", v)
            for k, v in snapshot_tree(root).items() if "__pycache__" not in k}


def _killed_run(tracer: str, root: Path, args: list[str], syscall: str, n: int
                ) -> subprocess.CompletedProcess[str]:
    follow = ["-f"] if args[0] != "compact" else []
    return subprocess.run(
        [tracer, *follow, "-qq", "-o", os.devnull, "-e", f"trace={syscall}",
         "-e", f"inject={syscall}:signal=SIGKILL:when={n}",
         sys.executable, "-m", "squasher", *args],
        cwd=root, env=_env(), capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_at_every_step_leaves_old_or_new_tree(command: str, tmp_path: Path) -> None:
    tracer = strace()
    args, syscalls = COMMANDS[command]
    template = _copy(SAMPLE_APPS, tmp_path / "template")
    old = _tree(template)
    done = _copy(template, tmp_path / "done")
    proc = run_squasher(*args, cwd=done, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = _tree(done)
    assert new != old

    kills = recovered = 0
    for syscall in syscalls:
        for n in range(1, MAX_PER_SYSCALL + 1):
            work = _copy(template, tmp_path / f"{syscall}-{n}")
            proc = _killed_run(tracer, work, args, syscall, n)
            if proc.returncode == 0:
                shutil.rmtree(work)
                break  # fewer than n such calls: nothing left to interrupt
            if proc.returncode not in (-signal.SIGKILL, 128 + signal.SIGKILL):
                # the kill hit a child process (a verification worker, the formatter): the
                # command must report it and leave the tree as it was
                assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, proc.stderr
                assert _tree(work) == old
                shutil.rmtree(work)
                continue
            kills += 1
            after = run_squasher("check", cwd=work, env=_env())  # any command recovers
            assert "Traceback" not in after.stderr, after.stderr
            recovered += "interrupted squasher change" in after.stderr
            tree = _tree(work)
            assert not (work / JOURNAL_DIR).exists()
            assert tree in (old, new), (
                f"kill at {syscall} #{n} left a mixed tree: "
                f"{sorted(k for k in set(tree) ^ set(old) | {k for k in tree if old.get(k) != tree[k]})[:8]}")
            shutil.rmtree(work)
    print(f"{command}: {kills} kills injected, {kills} left the old or new tree, "
          f"{recovered} rolled forward by the next run")
    assert kills >= 3, f"only {kills} kills were injected; the command changed nothing?"
    assert recovered >= 1 or command == "merge", "no kill landed between commit and the end"


def test_second_process_is_refused_while_the_tree_is_locked(tmp_path: Path) -> None:
    root = _copy(SAMPLE_APPS, tmp_path / "project")
    before = _tree(root)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from squasher.fileops import project_lock\n"
         f"with project_lock(Path({str(root)!r})):\n    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(SquasherError, match="another squasher process is changing"), \
                project_lock(root, wait=0.5):
            pass
        assert time.monotonic() - started >= 0.5
        changes = ChangeSet()
        changes.create(root / "blog" / "migrations" / "0099_x.py", "x = 1\n")
        import squasher.fileops as fileops

        waited = fileops.LOCK_WAIT
        fileops.LOCK_WAIT = 0.3
        try:
            with pytest.raises(SquasherError, match="another squasher process"):
                changes.apply(root=root)
        finally:
            fileops.LOCK_WAIT = waited
        assert _tree(root) == before
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(("errno_", "reason"), [
    (errno.EACCES, "Permission denied"), (errno.ENOSPC, "No space left on device"),
    (errno.EIO, "Input/output error"), (errno.ENAMETOOLONG, "File name too long"),
    (errno.ENOENT, "No such file or directory"),
])
def test_os_error_rolls_back_with_modes_and_no_temp_files(tmp_path: Path, errno_: int,
                                                          reason: str) -> None:
    """A failure midway (permission, disk full, I/O error, a name too long, a file another
    process removed) restores every file with its own mode and leaves no temporary file and no
    journal; the error is one line naming the file."""
    root = tmp_path / "project"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    first = root / "a" / "one.py"
    first.write_text("one\n")
    first.chmod(0o640)
    second = root / "b" / "two.py"
    second.write_text("two\n")
    before = _tree(root)
    changes = ChangeSet()
    changes.modify(first, "ONE\n")
    changes.modify(second, "TWO\n")

    def fail_on_second(change) -> None:
        if change.path == second:
            raise OSError(errno_, os.strerror(errno_), str(second))

    changes.before_each = fail_on_second
    with pytest.raises(SquasherError, match=rf"b/two.py: cannot apply the change: {reason}"):
        changes.apply(root=root)
    assert _tree(root) == before
    assert first.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["one.py", "two.py"]


def test_killed_squash_leaves_no_unverified_file(tmp_path: Path) -> None:
    """SIGTERM or SIGKILL during verification: the squash file never reached the tree (it is
    verified in a copy), and the next run removes the killed run's temporary folders."""
    import tempfile

    root = _copy(SAMPLE_APPS, tmp_path / "project")
    before = _tree(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        proc = subprocess.Popen([sys.executable, "-m", "squasher", "squash", "catalog", "0001",
                                 "0029"], cwd=root, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 120
        temp_dirs: list[Path] = []
        while time.monotonic() < deadline and not temp_dirs:
            temp_dirs = [p for p in Path(tempfile.gettempdir()).glob("squasher-verify-*")
                         if (p / "squasher-owner.pid").exists()
                         and (p / "squasher-owner.pid").read_text() == str(proc.pid)]
            time.sleep(0.05)
        assert temp_dirs, "verification never started"
        time.sleep(1.0)  # inside verification
        os.killpg(proc.pid, sig)
        proc.wait(timeout=60)
        assert _tree(root) == before, f"{sig!r} left files in the tree"
        if sig == signal.SIGTERM:  # handled: the run cleans up after itself
            assert not any(p.exists() for p in temp_dirs)
        else:
            assert any(p.exists() for p in temp_dirs)
            from squasher.runtime.sandbox import remove_stale_temp_dirs

            remove_stale_temp_dirs()
            assert not any(p.exists() for p in temp_dirs)
