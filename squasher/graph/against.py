"""``squasher check --against REV``: the problems merging REV into this branch would bring.

The migration files are merged the way ``git merge`` merges them, file by file against the
merge base: a file REV did not change since the base stays as it is in the work tree; a file
only REV changed (added, edited, deleted) takes REV's version; a file both sides changed
differently is a conflict of its own (``SQ208``).  The merged files are parsed (only those
REV changed: the rest are the project's records), the graph is built again and checked; a
problem that the merged graph has and the work tree has not is *predicted*, reported with
code ``SQ2nn`` for ``SQ0nn`` (``SQ201``: conflicting leaves after the merge) on this branch's
file.  REV is read from git objects only (``git ls-tree`` / ``git cat-file``): no checkout,
the work tree and the index are never touched.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from squasher.errors import UsageError
from squasher.graph.graph import build_graph
from squasher.records import MigrationRecord, Problem, Severity, Span

if TYPE_CHECKING:
    from squasher.graph.project import Project

#: the code of a problem the merge would bring: ``SQ0nn`` -> ``SQ2nn``
PREDICTED_PREFIX = "SQ2"
SAME_FILE_CODE = "SQ208"


@dataclass
class MergePreview:
    """What merging ``rev`` (commit ``commit``, merge base ``base``) would bring."""

    rev: str
    commit: str
    base: str
    problems: list[Problem]
    #: migration files REV changed since the merge base (added, edited or deleted)
    changed_by_rev: int
    #: problems of the work tree the merge makes go away (e.g. a dependency on REV's
    #: leaf after ``merge --rebase --onto REV``), as ``(code, path, message)``
    resolved: frozenset[tuple] = frozenset()

    def downgrade_resolved(self, problems: list[Problem]) -> list[Problem]:
        """``problems`` with those the merge resolves turned into information."""
        return downgrade_resolved(problems, self.resolved, self.rev)


def downgrade_resolved(problems: list[Problem], resolved: frozenset[tuple], rev: str
                       ) -> list[Problem]:
    """``problems`` with those in ``resolved`` (identities) turned into information that
    says merging ``rev`` resolves them (the branch already follows REV's leaf)."""
    return [dc_replace(p, severity=Severity.INFO, message=f"{p.message} (merging {rev} resolves it)")
            if _identity(p) in resolved else p for p in problems]


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              timeout=120)
    except FileNotFoundError as error:
        raise UsageError("--against needs git, which is not installed") from error
    except subprocess.TimeoutExpired as error:
        raise UsageError(f"git {args[0]} took longer than 120 s") from error
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise _GitFailed(detail[-1] if detail else f"git {args[0]} exited {proc.returncode}")
    return proc.stdout


class _GitFailed(Exception):
    pass


def _resolve(root: Path, rev: str, option: str) -> tuple[Path, str, str]:
    """The repository's top folder, REV's commit and the merge base of HEAD and REV."""
    try:
        top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip()).resolve()
    except _GitFailed as error:
        raise UsageError(f"{option} {rev}: {root} is not in a git repository ({error})",
                         path=root) from None
    try:
        commit = _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except _GitFailed:
        raise UsageError(f"{option} {rev}: no such revision in {top}",
                         hint="fetch it first (git fetch origin) or name a branch, tag or commit"
                         + ("; a leaf name is for an app with several leaves here"
                            if option == "--onto" else "")) from None
    try:
        _git(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except _GitFailed:
        raise UsageError(f"{option}: HEAD has no commit yet", path=top) from None
    try:
        base = _git(top, "merge-base", "HEAD", commit).decode().strip()
    except _GitFailed:
        shallow = (top / ".git" / "shallow").exists()
        raise UsageError(
            f"{option} {rev}: HEAD and {rev} have no common ancestor"
            + (" in this shallow clone" if shallow else ""),
            hint="fetch the history that joins them (git fetch --unshallow, or "
                 "actions/checkout with fetch-depth: 0)" if shallow else
                 "the two histories are unrelated; compare with a branch this one was made from",
        ) from None
    return top, commit, base


def _migration_blobs(top: Path, commit: str, prefix: str) -> dict[str, str]:
    """``path -> blob id`` of the ``.py`` files in a ``migrations`` folder at ``commit``."""
    out = _git(top, "ls-tree", "-r", "-z", "--full-tree", commit, "--", prefix or ".")
    blobs: dict[str, str] = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.decode(errors="surrogateescape").partition("\t")
        _mode, kind, blob = meta.split()
        parts = PurePosixPath(path).parts
        if kind == "blob" and path.endswith(".py") and "migrations" in parts[:-1]:
            blobs[path] = blob
    return blobs


def _read_blobs(top: Path, ids: set[str]) -> dict[str, bytes]:
    """Contents of many blobs with one ``git cat-file --batch``."""
    if not ids:
        return {}
    order = sorted(ids)
    out = _git(top, "cat-file", "--batch", stdin="".join(f"{i}\n" for i in order).encode())
    contents: dict[str, bytes] = {}
    pos = 0
    for _blob in order:
        header_end = out.index(b"\n", pos)
        oid, _kind, size = out[pos:header_end].decode().split()
        start = header_end + 1
        contents[oid] = out[start:start + int(size)]
        pos = start + int(size) + 1  # the content is followed by a newline
    return contents


@dataclass
class MergedView:
    """The project as it would be after merging ``rev``: its migration files merged the way
    ``git merge`` merges them (see the module docstring), parsed and built into a graph."""

    rev: str
    commit: str
    base: str
    #: the merged project (records and graph); its other attributes are the work tree's
    project: Project
    #: files whose merged text is REV's (not the work tree's) and that text
    from_rev: dict[Path, str]
    #: ``SQ208``: the same migration file added, changed or deleted differently on both sides
    both_sides: list[Problem]
    #: migration files REV changed since the merge base (added, edited or deleted)
    changed_by_rev: int

    def read_text(self, path: Path) -> str:
        """A migration's merged text: REV's for files taken from REV, else the work tree's."""
        text = self.from_rev.get(Path(path))
        return text if text is not None else Path(path).read_text("utf-8")


def merged_view(project: Project, rev: str, *, option: str = "--against") -> MergedView:
    """Merge the migration files of ``rev`` into the work tree of ``project`` in memory.

    ``option``: the command-line option that named ``rev``, for error messages.
    """
    from squasher.graph.project import parse_files

    top, commit, base = _resolve(project.root, rev, option)
    try:
        prefix = project.root.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"{option}: {project.root} is outside the repository {top}") from None
    prefix = "" if prefix == "." else prefix
    try:
        at_base = _migration_blobs(top, base, prefix)
        at_rev = _migration_blobs(top, commit, prefix)
    except _GitFailed as error:
        raise UsageError(f"{option} {rev}: git could not list the files ({error})") from None
    changed = sorted(p for p in at_base.keys() | at_rev.keys() if at_base.get(p) != at_rev.get(p))
    contents = _read_blobs(top, {b for p in changed for b in (at_base.get(p), at_rev.get(p)) if b})

    records: dict[Path, MigrationRecord] = dict(project.records_by_path)
    from_rev: dict[Path, str] = {}
    both: list[Problem] = []
    to_parse: list[tuple[Path, str]] = []
    for rel in changed:
        path = top / rel
        theirs = contents.get(at_rev[rel]) if rel in at_rev else None
        original = contents.get(at_base[rel]) if rel in at_base else None
        ours = path.read_bytes() if path.is_file() else None
        if ours == theirs:
            continue  # the same change on both sides (or both deleted it)
        if ours != original:
            both.append(_both_sides(path, rev, ours is None, theirs is None))
            continue
        package = project.packages_by_dir.get(path.parent)  # top is resolved
        if package is None:
            continue  # a migrations folder this project does not use (or a new app on REV)
        if theirs is None:
            records.pop(path, None)
        else:
            to_parse.append((path, package.app_label))
            from_rev[path] = theirs.decode("utf-8", "replace")
    # many files only when REV is far away: parse_files then uses both cores
    for (path, _label), record in parse_files(to_parse, project.settings, from_rev).items():
        records[path] = record
    merged = dc_replace(
        project, records_by_path=records, problems=[],
        graph=build_graph(records.values(), project.settings, apps=project.packages,
                          unmigrated_apps=project.unmigrated_apps))
    return MergedView(rev, commit, base, merged, from_rev, both, len(changed))


def preview_merge(project: Project, rev: str, *,
                  problems_now: list[Problem] | None = None) -> MergePreview:
    """The problems merging ``rev`` into the work tree of ``project`` would bring.

    ``problems_now``: ``check_project(project)`` when the caller has it already.
    """
    from squasher.graph.check import check_project

    view = merged_view(project, rev)
    now = {_identity(p) for p in (check_project(project) if problems_now is None
                                  else problems_now)}
    after = check_project(view.project)
    predicted = [
        _predicted(p, rev) for p in after
        if _identity(p) not in now and p.path is not None and p.path not in view.from_rev
        and p.path.is_file()
    ]
    resolved = frozenset(now - {_identity(p) for p in after})
    return MergePreview(rev, view.commit, view.base,
                        sorted(view.both_sides + predicted, key=_order), view.changed_by_rev,
                        resolved)


def _identity(problem: Problem) -> tuple:
    return (problem.code, problem.path, problem.message)


def _order(problem: Problem) -> tuple:
    return (str(problem.path), problem.span.line if problem.span else 0, problem.code)


def _predicted(problem: Problem, rev: str) -> Problem:
    """``SQ0nn`` in the merged tree -> ``SQ2nn`` on this branch's file."""
    code = PREDICTED_PREFIX + problem.code[3:] if problem.code.startswith("SQ0") else problem.code
    return dc_replace(problem, code=code, message=f"after merging {rev}: {problem.message}")


def _both_sides(path: Path, rev: str, ours_deleted: bool, theirs_deleted: bool) -> Problem:
    if theirs_deleted:
        what = f"this branch changed {path.name} and {rev} deleted it"
    elif ours_deleted:
        what = f"this branch deleted {path.name} and {rev} changed it"
    else:
        what = f"{path.name} is added or changed differently on this branch and on {rev}"
    return Problem(
        code=SAME_FILE_CODE, message=f"after merging {rev}: {what}",
        path=path if path.is_file() else path.parent, span=Span(1), severity=Severity.ERROR,
        hint="rename this branch's migration (squasher merge --rebase after merging) or "
             "take one side's file")
