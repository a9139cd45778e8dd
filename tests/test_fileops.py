"""``ChangeSet`` directly: every kind of change applied together, refused before anything is
touched, rolled back as a whole when one fails, and a killed run's committed journal finished
by the next one. (test_crash_safety.py kills real commands at every system call.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from squasher.errors import FileConflictError, SquasherError
from squasher.fileops import JOURNAL_DIR, ChangeSet, recover


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "app" / "migrations").mkdir(parents=True)
    for name, text in (("0001_initial.py", "one\n"), ("0002_old.py", "two\n"),
                       ("0003_gone.py", "three\n")):
        (root / "app" / "migrations" / name).write_text(text)
    (root / "app" / "migrations" / "0002_old.py").chmod(0o640)
    return root


def every_kind(root: Path) -> ChangeSet:
    mig = root / "app" / "migrations"
    changes = ChangeSet()
    changes.create(mig / "0004_new.py", "four\n")
    changes.modify(mig / "0001_initial.py", "ONE\n")
    changes.rename(mig / "0002_old.py", mig / "0002_renamed.py", "TWO\n")
    changes.delete(mig / "0003_gone.py")
    return changes


def test_every_kind_applied_together(project: Path) -> None:
    every_kind(project).apply(root=project)
    after = tree(project)
    mig = "app/migrations/"
    assert after == {
        mig + "0001_initial.py": (b"ONE\n", after[mig + "0001_initial.py"][1]),
        mig + "0002_renamed.py": (b"TWO\n", 0o640),  # a renamed file keeps its mode
        mig + "0004_new.py": (b"four\n", after[mig + "0004_new.py"][1]),
    }
    assert not (project / JOURNAL_DIR).exists()


@pytest.mark.parametrize("failing", range(4))
def test_a_failure_at_any_change_restores_every_file(project: Path, failing: int) -> None:
    before = tree(project)
    changes = every_kind(project)
    target = changes.changes[failing]

    def fail(change) -> None:  # type: ignore[no-untyped-def]
        if change is target:
            raise OSError(28, os.strerror(28), str(change.path))

    changes.before_each = fail
    with pytest.raises(SquasherError, match="cannot apply the change: No space left on device"):
        changes.apply(root=project)
    assert tree(project) == before  # contents and modes; no temporary file, no journal
    assert not (project / JOURNAL_DIR).exists()


def test_interrupt_rolls_back_too(project: Path) -> None:
    before = tree(project)
    changes = every_kind(project)

    def interrupt(change) -> None:  # type: ignore[no-untyped-def]
        if change.kind == "delete":
            raise KeyboardInterrupt

    changes.before_each = interrupt
    with pytest.raises(KeyboardInterrupt):
        changes.apply(root=project)
    assert tree(project) == before


@pytest.mark.parametrize(("stage", "message"), [
    (lambda c, mig: c.create(mig / "0001_initial.py", "x"), "refusing to overwrite"),
    (lambda c, mig: c.modify(mig / "0009_missing.py", "x"), "file to change does not exist"),
    (lambda c, mig: c.rename(mig / "0001_initial.py", mig / "0003_gone.py"),
     "rename target already exists"),
])
def test_refused_before_anything_is_touched(project: Path, stage, message: str) -> None:  # type: ignore[no-untyped-def]
    before = tree(project)
    changes = every_kind(project)
    stage(changes, project / "app" / "migrations")
    with pytest.raises(FileConflictError, match=message):
        changes.apply(root=project)
    assert tree(project) == before


def test_a_committed_journal_is_finished_by_the_next_run(project: Path) -> None:
    """Killed after the commit point (plan.json written, files not yet all changed): the next
    squasher run rolls the change forward, and says so."""
    changes = every_kind(project)
    expected_root = project.parent / "expected"
    import shutil

    shutil.copytree(project, expected_root)
    every_kind(expected_root).apply(root=expected_root)

    def killed(change) -> None:  # type: ignore[no-untyped-def]
        if change.kind == "rename":
            # what SIGKILL would leave: the journal as it is now; stop without rolling back
            os.replace(project / JOURNAL_DIR, project.parent / "journal-at-kill")
            raise SystemExit

    changes.before_each = killed
    with pytest.raises(SystemExit):
        changes.apply(root=project)
    os.replace(project.parent / "journal-at-kill", project / JOURNAL_DIR)
    message = recover(project)
    assert message is not None and message.startswith("finished an interrupted squasher change")
    assert tree(project) == tree(expected_root)
    assert not (project / JOURNAL_DIR).exists()


def test_json_round_trip(project: Path) -> None:
    changes = every_kind(project)
    again = ChangeSet.from_json(changes.to_json(project))
    assert again.to_json(project) == changes.to_json(project)
    with pytest.raises(ValueError, match="unknown change kind"):
        ChangeSet.from_json([{"kind": "chmod", "path": "x"}])
