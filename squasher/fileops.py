"""All-or-nothing file changes that survive a kill.

Every command that touches the user's tree collects its edits in a :class:`ChangeSet`
and applies them at once, through a journal:

1. *prepare*: ``<root>/.squasher-journal/`` receives the new contents and a backup (bytes,
   mode, owner) of every file the change set touches; nothing in the tree changes yet;
2. *commit point*: ``plan.json`` is written (temporary file, fsync, rename);
3. *apply*: each file is written to a temporary sibling and renamed into place (mode and
   owner kept), deletions and renames follow;
4. the journal is removed.

A run killed before 2 left the tree untouched (the half-written journal is discarded by the
next run); killed after 2, the next run of any command rolls the change forward from the
journal (:func:`recover`), so the tree is the old one or the new one after at most one
recovery step. An error while applying (permission, disk full, a file changed meanwhile)
restores every touched file from the journal's backups, then removes the journal and the
temporary files. While a change set is applied (and while a recovery runs) the project root is
locked (``flock`` on the folder itself, no lock file), so two squasher processes never
interleave their changes: the second waits up to :data:`LOCK_WAIT` seconds, then refuses.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, TypedDict

from squasher.errors import FileConflictError, SquasherError

#: The journal folder, in the project root, while a change set is applied.
JOURNAL_DIR = ".squasher-journal"
#: Seconds a second squasher process waits for the project lock before it refuses.
LOCK_WAIT = 10.0

#: The project root of this process (set by the CLI from ``--root``, by the language server
#: from the workspace); change sets anchor their journal and lock there. ``None``: the
#: deepest folder holding every changed file.
_project_root: Path | None = None


def set_project_root(root: Path | None) -> None:
    """Anchor journals and locks at ``root`` (see :data:`_project_root`)."""
    global _project_root
    _project_root = Path(root).resolve() if root is not None else None


class FileChangeJson(TypedDict):
    """One entry of :meth:`ChangeSet.to_json`."""

    kind: str
    path: str
    new_path: str | None
    text: str | None
    display: str


@dataclass(frozen=True)
class FileChange:
    """One planned change. ``new_text is None`` means delete; ``new_path`` means rename."""

    path: Path
    new_text: str | None
    new_path: Path | None = None
    must_not_exist: bool = False

    @property
    def kind(self) -> str:
        if self.new_path is not None:
            return "rename"
        if self.new_text is None:
            return "delete"
        return "create" if self.must_not_exist else "modify"


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None,
                 owner: tuple[int, int] | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary sibling and a rename.

    The file keeps its mode and owner when it exists (else ``mode``/``owner`` when given,
    else 0o644); the temporary file never outlives a failure."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            st = path.stat()
            mode, owner = st.st_mode & 0o7777, (st.st_uid, st.st_gid)
        except FileNotFoundError:
            pass
        os.chmod(tmp, mode if mode is not None else 0o644)
        if owner is not None and os.geteuid() == 0:
            with contextlib.suppress(OSError):
                os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def project_lock(root: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold the exclusive lock of ``root`` (``flock`` on the folder: nothing is created)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SquasherError(
                        "another squasher process is changing this project", path=root,
                        hint="wait for it to finish, then run the command again") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


def _error(action: str, path: Path | str | None, error: OSError) -> SquasherError:
    reason = error.strerror or str(error) or type(error).__name__
    return SquasherError(f"cannot {action}: {reason}; nothing was changed",
                         path=error.filename or path,
                         hint="check permissions and free space, then run the command again")


@dataclass
class ChangeSet:
    """Edits staged in memory and applied together (or not at all)."""

    changes: list[FileChange] = field(default_factory=list)
    # Test hook: called before each change is applied; raising simulates a crash midway.
    before_each: Callable[[FileChange], None] | None = None

    def create(self, path: Path, text: str) -> None:
        self.changes.append(FileChange(Path(path), text, must_not_exist=True))

    def modify(self, path: Path, text: str) -> None:
        self.changes.append(FileChange(Path(path), text))

    def delete(self, path: Path) -> None:
        self.changes.append(FileChange(Path(path), None))

    def rename(self, path: Path, new_path: Path, text: str | None = None) -> None:
        """Move ``path`` to ``new_path``, optionally with new content."""
        self.changes.append(FileChange(Path(path), text, new_path=Path(new_path)))

    def __bool__(self) -> bool:
        return bool(self.changes)

    def paths(self) -> list[Path]:
        out: list[Path] = []
        for change in self.changes:
            out.append(change.path)
            if change.new_path is not None:
                out.append(change.new_path)
        return out

    def describe(self, root: Path | None = None) -> list[str]:
        """Human-readable lines, e.g. for ``--dry-run``."""
        lines = []
        for c in self.changes:
            shown = _rel(c.path, root)
            if c.kind == "rename":
                lines.append(f"rename {shown} -> {_rel(c.new_path, root)}")
            else:
                lines.append(f"{c.kind} {shown}")
        return lines

    def to_json(self, root: Path | None = None) -> list[FileChangeJson]:
        """Machine-readable form (``--format json`` and the language server's WorkspaceEdits)."""
        return [
            {
                "kind": c.kind,
                "path": str(c.path),
                "new_path": str(c.new_path) if c.new_path is not None else None,
                "text": c.new_text,
                "display": _rel(c.new_path or c.path, root),
            }
            for c in self.changes
        ]

    @classmethod
    def from_json(cls, items: Iterable[Mapping[str, Any]], root: Path | None = None) -> ChangeSet:
        """The inverse of :meth:`to_json` (the output of ``squasher ... --format json``).

        ``root``: where relative paths are anchored (default: as given); ``display`` is ignored.
        """
        def path(text: str) -> Path:
            return Path(root) / text if root is not None else Path(text)

        changes = cls()
        for item in items:
            kind = item["kind"]
            if kind == "create":
                changes.create(path(item["path"]), item.get("text") or "")
            elif kind == "modify":
                changes.modify(path(item["path"]), item.get("text") or "")
            elif kind == "delete":
                changes.delete(path(item["path"]))
            elif kind == "rename":
                changes.rename(path(item["path"]), path(item["new_path"]), item.get("text"))
            else:
                raise ValueError(f"unknown change kind {kind!r}")
        return changes

    def check(self) -> None:
        """Refuse before touching anything: files to create must not exist, others must."""
        for c in self.changes:
            if c.must_not_exist and c.path.exists():
                raise FileConflictError(
                    "refusing to overwrite an existing file", path=c.path,
                    hint="choose another --name or remove the file first",
                )
            if c.kind in {"modify", "delete", "rename"} and not c.path.exists():
                raise FileConflictError("file to change does not exist", path=c.path)
            if c.new_path is not None and c.new_path.exists() and c.new_path != c.path:
                raise FileConflictError("rename target already exists", path=c.new_path)

    def apply(self, root: Path | None = None) -> None:
        """Apply every change through the journal (see the module docstring); on any failure
        restore every touched file and raise (OS errors as one-line :class:`SquasherError`)."""
        if not self.changes:
            return
        anchor = Path(root).resolve() if root is not None else _project_root or _common_dir(
            self.paths())
        with project_lock(anchor):
            recover(anchor, locked=True)
            self.check()
            journal = anchor / JOURNAL_DIR
            try:
                plan = _prepare(journal, self.changes)
            except OSError as error:
                shutil.rmtree(journal, ignore_errors=True)
                raise _error("prepare the change", journal, error) from error
            except BaseException:
                shutil.rmtree(journal, ignore_errors=True)
                raise
            try:
                for index, entry in enumerate(plan):
                    if self.before_each is not None:
                        self.before_each(self.changes[index])
                    _apply_entry(journal, entry)
            except BaseException as error:
                _roll_back(journal, plan)
                if isinstance(error, OSError):
                    raise _error("apply the change", None, error) from error
                raise
            _discard(journal)


def _common_dir(paths: list[Path]) -> Path:
    existing = [p.resolve().parent for p in paths]
    common = Path(os.path.commonpath([str(p) for p in existing]))
    while not common.is_dir():
        common = common.parent
    return common


def _stat(path: Path) -> dict[str, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return {"mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}


def _prepare(journal: Path, changes: list[FileChange]) -> list[dict]:
    """Stage new contents and backups in ``journal``, then write ``plan.json`` (the commit
    point). Returns the plan."""
    if journal.exists():
        shutil.rmtree(journal)
    journal.mkdir()
    plan: list[dict] = []
    backed_up: dict[str, str | None] = {}
    staged: dict[Path, bytes | None] = {}  # contents as earlier changes of this set leave them
    for index, change in enumerate(changes):
        entry: dict = {"kind": change.kind, "path": str(change.path),
                       "new_path": str(change.new_path) if change.new_path else None,
                       "new": None, "meta": _stat(change.path)}
        for path in (change.path, change.new_path):
            if path is None or str(path) in backed_up:
                continue
            if path.exists():
                name = f"old-{len(backed_up)}"
                shutil.copyfile(path, journal / name)
                backed_up[str(path)] = name
            else:
                backed_up[str(path)] = None
        if change.kind == "rename":
            data = (change.new_text.encode("utf-8") if change.new_text is not None
                    else staged[change.path] if staged.get(change.path) is not None
                    else change.path.read_bytes())
            staged[change.path] = None
            staged[change.new_path] = data  # type: ignore[index]
        elif change.kind == "delete":
            data = None
            staged[change.path] = None
        else:
            data = (change.new_text or "").encode("utf-8")
            staged[change.path] = data
        if data is not None:
            entry["new"] = f"new-{index}"
            (journal / entry["new"]).write_bytes(data)
        plan.append(entry)
    record = {"version": 1, "pid": os.getpid(), "changes": plan,
              "backups": {path: {"copy": name, "meta": _stat(Path(path))}
                          for path, name in backed_up.items()}}
    tmp = journal / "plan.json.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(journal)
    os.replace(tmp, journal / "plan.json")  # the commit point
    _fsync_dir(journal)
    return plan


def _apply_entry(journal: Path, entry: dict) -> None:
    """Apply one journal entry; idempotent, so a recovery can run it again."""
    path = Path(entry["path"])
    meta = entry.get("meta") or {}
    mode = meta.get("mode")
    owner = (meta["uid"], meta["gid"]) if "uid" in meta else None
    if entry["kind"] == "delete":
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    target = Path(entry["new_path"]) if entry["kind"] == "rename" else path
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, (journal / entry["new"]).read_bytes(), mode=mode, owner=owner)
    if entry["kind"] == "rename" and target != path:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _roll_back(journal: Path, plan: list[dict] | None = None) -> None:
    """Put back every file the journal backed up (contents, mode, owner), remove created
    files, then discard the journal. Best effort per file: one failure does not stop the rest."""
    try:
        record = json.loads((journal / "plan.json").read_text("utf-8"))
    except (OSError, ValueError):
        _discard(journal)
        return
    with contextlib.suppress(OSError):
        os.replace(journal / "plan.json", journal / "rollback.json")
    for path_text, backup in record["backups"].items():
        path = Path(path_text)
        with contextlib.suppress(OSError):
            if backup["copy"] is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                meta = backup["meta"] or {}
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, (journal / backup["copy"]).read_bytes(),
                             mode=meta.get("mode"),
                             owner=(meta["uid"], meta["gid"]) if "uid" in meta else None)
    _discard(journal)


def _discard(journal: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(journal / "plan.json")
    shutil.rmtree(journal, ignore_errors=True)


def _remove_temp_files(record: dict) -> None:
    """Temporary siblings (``.NAME.XXXXXXXX.tmp``) a killed :func:`write_atomic` left."""
    paths = {Path(p) for p in record.get("backups", {})}
    for path in paths:
        for leftover in path.parent.glob(f".{glob_escape(path.name[:200])}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()


def recover(root: Path, *, locked: bool = False) -> str | None:
    """Finish what a killed run left in ``root``'s journal; returns a message, or ``None``.

    A committed journal (``plan.json``) is rolled forward, one being rolled back
    (``rollback.json``) is rolled back, one that never reached its commit point is discarded
    (the tree was not touched)."""
    journal = Path(root) / JOURNAL_DIR
    if not journal.is_dir():
        return None
    if not locked:
        with project_lock(Path(root)):
            return recover(root, locked=True)
    if (journal / "rollback.json").exists():
        os.replace(journal / "rollback.json", journal / "plan.json")
        _remove_temp_files(json.loads((journal / "plan.json").read_text("utf-8")))
        _roll_back(journal)
        return f"an interrupted squasher change in {root} was rolled back"
    if not (journal / "plan.json").exists():
        _discard(journal)  # killed before the commit point: the tree was not touched
        return None
    record = json.loads((journal / "plan.json").read_text("utf-8"))
    _remove_temp_files(record)
    try:
        for entry in record["changes"]:
            _apply_entry(journal, entry)
    except OSError as error:
        _roll_back(journal)
        raise _error("finish an interrupted change (it was rolled back instead)", None,
                     error) from error
    _discard(journal)
    files = sorted({Path(e["new_path"] or e["path"]).name for e in record["changes"]})
    return (f"finished an interrupted squasher change in {root} "
            f"({len(record['changes'])} file change(s): {', '.join(files[:5])}"
            f"{', ...' if len(files) > 5 else ''})")


def _rel(path: Path | None, root: Path | None) -> str:
    if path is None:
        return ""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)
