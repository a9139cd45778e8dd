"""``squasher check``: problems of a project's migration graph, with stable codes.

Every :class:`~squasher.records.Problem` has the file and span it is about, so the
CLI prints ``path:line`` and the language server turns it into a diagnostic. Both pass the
findings through :func:`apply_config` (``[tool.squasher]`` and ``# squasher: ignore[...]``
comments) before showing them.
"""

from __future__ import annotations

import functools
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from squasher.graph.discover import DJANGO_CONTRIB_LABELS, installed_app_labels
from squasher.graph.graph import no_gc
from squasher.records import (  # noqa: F401 - CODES re-exported: check is where readers look
    CODES,
    MigrationKey,
    MigrationRecord,
    Problem,
    Reference,
    Severity,
    Span,
)

if TYPE_CHECKING:
    from squasher.config import SquasherConfig
    from squasher.graph.graph import MigrationGraph
    from squasher.graph.project import Project

#: Severities that make ``squasher check`` exit 1.
FAILING = frozenset({Severity.ERROR, Severity.WARNING})


def _where(record: MigrationRecord | None) -> tuple[Path | None, Span | None]:
    if record is None:
        return None, None
    return record.path, record.class_span or Span(1)


def _name(key: MigrationKey) -> str:
    return f"{key[0]}.{key[1]}"


def check_project(project, apps: Iterable[str] | None = None) -> list[Problem]:
    """All problems of ``project`` (a :class:`squasher.graph.project.Project`), sorted by file and line.

    ``apps`` limits the findings to problems located in those apps' files (a cycle or
    conflict is reported when it touches one of them). Raises ``UnknownAppError`` for
    an app label the project does not have.
    """
    with no_gc():
        return _check(project, apps)


def _check(project, apps: Iterable[str] | None) -> list[Problem]:
    """The project's own problems, then every check of :data:`CHECKS`; sorted by place.

    The sort is stable, so problems of one code at one line keep the order their check
    found them in."""
    context = _Context.of(project, apps)
    problems: list[Problem] = [p for p in project.problems if context.selected is None]
    for find in CHECKS.values():
        problems.extend(find(context))
    problems.sort(key=lambda p: (str(p.path or ""), p.span.line if p.span else 0, p.code))
    return problems


# -- what every check reads ------------------------------------------------------------------

class _Target(Enum):
    """What a ``dependencies``/``run_before`` entry points at (:func:`_classify`): the SQ002,
    SQ004 and SQ007 checks each report their kinds."""

    DANGLING = "a project migration that does not exist"
    DANGLING_SPECIAL = "``__first__``/``__latest__`` of a project app without that node"
    UNMIGRATED = "an app of the project that has no migrations"
    UNKNOWN_APP = "an app neither in the project nor in INSTALLED_APPS"
    RESOLVED = "a node of the graph, or of a known external app"


@dataclass(frozen=True)
class _Reference:
    """One ``dependencies``/``run_before`` entry of ``key`` with a target, and its kind."""

    key: MigrationKey
    record: MigrationRecord
    verb: str  # "depends on" / "runs before"
    ref: Reference
    target: MigrationKey
    kind: _Target


@dataclass
class _Context:
    """The project as every check sees it: the graph, the apps asked for, and each
    reference of the selected migrations classified once (three checks read them)."""

    project: Project
    graph: MigrationGraph
    records: dict[MigrationKey, MigrationRecord]
    selected: set[str] | None
    #: app labels a dependency may name without being in the project (contrib, INSTALLED_APPS)
    known_external: Set[str]
    #: whether INSTALLED_APPS and MIGRATION_MODULES were read: else SQ007 is not guessed
    apps_known: bool

    @classmethod
    def of(cls, project, apps: Iterable[str] | None) -> _Context:
        """Refuses an app label the project does not have before anything is checked."""
        graph = project.graph
        selected: set[str] | None = None
        if apps:
            selected = set(apps)
            for app in sorted(selected):
                graph.require_app(app)
        known_external = DJANGO_CONTRIB_LABELS | installed_app_labels(project.settings, project.root)
        # INSTALLED_APPS or MIGRATION_MODULES computed in settings: which labels exist is unknown
        # statically, so SQ007 is not guessed (Django, with --settings, knows).
        apps_known = project.settings.installed_apps is not None and \
            project.settings.migration_modules_known
        return cls(project, graph, graph.records, selected, known_external, apps_known)

    def wanted(self, key: MigrationKey | None) -> bool:
        """Whether a problem about ``key`` is asked for (``apps`` of :func:`check_project`)."""
        return self.selected is None or (key is not None and key[0] in self.selected)

    @functools.cached_property
    def references(self) -> dict[MigrationKey, list[_Reference]]:
        """Every reference with a target of each wanted migration, in file order."""
        project_apps = set(self.graph.apps())
        unmigrated: Set[str] = getattr(self.project, "unmigrated_apps", set())
        out: dict[MigrationKey, list[_Reference]] = {}
        for key, record in self.records.items():
            if not self.wanted(key):
                continue
            refs = [("depends on", r) for r in record.dependencies]
            refs += [("runs before", r) for r in record.run_before]
            out[key] = [
                _Reference(key, record, verb, ref, ref.key,
                           _classify(self, key, ref, ref.key, project_apps, unmigrated))
                for verb, ref in refs if ref.key is not None]
        return out


def _classify(context: _Context, key: MigrationKey, ref: Reference, target: MigrationKey,
              project_apps: Set[str], unmigrated: Set[str]) -> _Target:
    """What ``ref`` (of migration ``key``) points at. A deleted file that a squash replaces is
    not dangling: Django remaps it to the squash."""
    graph = context.graph
    if target[0] == key[0] or target[0] in project_apps:
        in_effective = graph.nx.nodes.get(target)
        if target not in context.records and (
                in_effective is not None and in_effective.get("missing")
                or in_effective is None and graph.replaced_by(target) is None):
            return _Target.DANGLING_SPECIAL if ref.name in ("__first__", "__latest__") else _Target.DANGLING
        return _Target.RESOLVED
    if target[0] in unmigrated:
        return _Target.UNMIGRATED
    if context.apps_known and target[0] not in context.known_external:
        return _Target.UNKNOWN_APP
    return _Target.RESOLVED


# -- the checks, one per code ----------------------------------------------------------------

Check = Callable[[_Context], Iterable[Problem]]

#: Code -> the function finding its problems, in the order they run (:func:`check_code`).
#: Every ``SQ0nn`` code of :data:`CODES` has one (SQ1nn and SQ2nn come from elsewhere:
#: ``suggest`` and ``check --against``).
CHECKS: dict[str, Check] = {}


def check_code(code: str) -> Callable[[Check], Check]:
    """Register the decorated function as the check of ``code``: it takes the
    :class:`_Context` and yields that code's problems. The code's slug and meaning are in
    :data:`CODES` (``squasher check --help`` lists them without importing the graph)."""
    if code not in CODES:
        raise ValueError(f"{code} is not in CODES: add its slug and meaning there first")

    def register(find: Check) -> Check:
        if code in CHECKS:
            raise ValueError(f"{code} already has a check: {CHECKS[code].__name__}")
        CHECKS[code] = find
        return find

    return register


@check_code("SQ006")
def _check_unparsable(context: _Context) -> Iterator[Problem]:
    """What parse found: every reader problem is already a :class:`Problem` of its file."""
    for record in context.records.values():
        if context.wanted(record.key):
            yield from record.parse_problems


@check_code("SQ001")
def _check_conflicting_leaves(context: _Context) -> Iterator[Problem]:
    """Conflicting leaves; one problem per leaf so each file gets a diagnostic."""
    graph, records = context.graph, context.records
    for app in sorted(context.selected) if context.selected is not None else graph.apps():
        leaves = graph.leaves(app)
        if len(leaves) < 2:
            continue
        for leaf in leaves:
            path, span = _where(records.get(leaf))
            others = [k for k in leaves if k != leaf]
            related = tuple(
                (records[k].path, records[k].class_span or Span(1), f"other leaf {_name(k)}")
                for k in others if k in records
            )
            yield Problem(
                code="SQ001",
                message=(f"conflicting migrations in {app}: {leaf[1]} and "
                         f"{', '.join(k[1] for k in others)} are both leaves"),
                path=path, span=span, key=leaf, related=related,
                hint=f"merge them (squasher merge {app}, or manage.py makemigrations --merge)",
            )


@check_code("SQ003")
def _check_cycles(context: _Context) -> Iterator[Problem]:
    """Circular dependencies, reported at their first migration that has a file."""
    records = context.records
    for cycle in context.graph.cycles():
        if not any(context.wanted(k) for k in cycle):
            continue
        first = next((k for k in cycle if k in records), cycle[0])
        path, span = _where(records.get(first))
        loop = " -> ".join(_name(k) for k in [*cycle, cycle[0]])
        related = tuple((records[k].path, records[k].class_span or Span(1), _name(k))
                        for k in cycle if k in records and k != first)
        yield Problem(
            code="SQ003", message=f"circular dependency: {loop}", path=path, span=span,
            key=first, related=related,
            hint="remove one of these dependencies (or split the squash that introduced it)",
        )


@check_code("SQ002")
def _check_dangling(context: _Context) -> Iterator[Problem]:
    """References to a project migration that does not exist, or into a project app that
    has no migrations (``__first__``/``__latest__`` of such an app is what Django ignores)."""
    for refs in context.references.values():
        for r in refs:
            if r.kind == _Target.DANGLING:
                yield Problem(
                    code="SQ002",
                    message=f"{_name(r.key)} {r.verb} {_name(r.target)}, which does not exist",
                    path=r.record.path, span=r.ref.span, key=r.key,
                    hint=_dangling_hint(context.graph, r.target, r.key),
                )
            elif r.kind == _Target.UNMIGRATED and r.ref.name not in ("__first__", "__latest__"):
                yield Problem(
                    code="SQ002",
                    message=(f"{_name(r.key)} {r.verb} {_name(r.target)}, but app "
                             f"{r.target[0]!r} has no migrations"),
                    path=r.record.path, span=r.ref.span, key=r.key,
                    hint=(f"depend on ({r.target[0]!r}, '__first__') or add migrations to "
                          f"{r.target[0]}"),
                )


@check_code("SQ004")
def _check_replaced_references(context: _Context) -> Iterator[Problem]:
    """References to a migration that a squash replaces. While the replaced file exists this
    is the normal transition state (Django remaps the edge): informational. Once it is
    deleted the reference only resolves through ``replaces`` and breaks when the squash is
    finalized: a warning."""
    graph, records = context.graph, context.records
    for refs in context.references.values():
        for r in refs:
            if r.kind != _Target.RESOLVED:
                continue
            key, target = r.key, r.target
            squash = graph.replaced_by(target)
            if squash is None or squash == key or key in graph.flat_replaces(squash) \
                    or graph.replaced_by(key) == squash:
                continue
            deleted = target not in records
            yield Problem(
                code="SQ004",
                message=f"{_name(key)} {r.verb} {_name(target)}, which is replaced by squash {_name(squash)}"
                        + (" and deleted" if deleted else ""),
                path=r.record.path, span=r.ref.span, key=key,
                severity=Severity.WARNING if deleted else Severity.INFO,
                related=((records[squash].path, records[squash].class_span or Span(1),
                          f"squash {_name(squash)}"),) if squash in records else (),
                hint=f"depend on {_name(squash)} instead, so the replaced files can be deleted",
            )


@check_code("SQ007")
def _check_unknown_apps(context: _Context) -> Iterator[Problem]:
    """References to an app neither in the project nor in INSTALLED_APPS (a warning), and
    swappable dependencies whose setting could not be read (once each, informational)."""
    graph = context.graph
    for key, refs in context.references.items():
        record = context.records[key]
        for r in refs:
            if r.kind == _Target.UNKNOWN_APP:
                yield Problem(
                    code="SQ007",
                    message=f"{_name(key)} {r.verb} {_name(r.target)}: app {r.target[0]!r} is not in the "
                            "project nor in INSTALLED_APPS",
                    path=record.path, span=r.ref.span, severity=Severity.WARNING, key=key,
                    hint="check the app label (AppConfig.label), or run squasher from the project root",
                )
        for ref, reason in graph.unresolved.get(key, ()):
            if ref.swappable_setting:
                yield Problem(
                    code="SQ007", message=f"swappable dependency: {reason}",
                    path=record.path, span=ref.span, severity=Severity.INFO, key=key,
                    hint="pass --settings so the setting can be read",
                )


@check_code("SQ005")
def _check_half_finalized(context: _Context) -> Iterator[Problem]:
    """Squashes whose replaced files are partly deleted (an error: the graph is then neither
    the old one nor the new one) or all deleted while ``replaces`` stays (informational)."""
    records = context.records
    for squash in context.graph.squashes():
        if not context.wanted(squash):
            continue
        record = records[squash]
        targets = [r for r in record.replaces if r.key is not None]
        gone = [r for r in targets if r.key not in records]
        if not gone:
            continue
        if len(gone) == len(targets):
            yield Problem(
                code="SQ005",
                message=f"every migration {_name(squash)} replaces is deleted but `replaces` is still there",
                path=record.path, span=record.replaces_span, severity=Severity.INFO, key=squash,
                hint="remove `replaces` to finish the transition (squasher finalize)",
            )
            continue
        names = ", ".join(r.name for r in gone[:5]) + (" ..." if len(gone) > 5 else "")
        yield Problem(
            code="SQ005",
            message=(f"squash {_name(squash)} is half-finalized: {len(gone)} of {len(targets)} "
                     f"replaced files are deleted ({names})"),
            path=record.path, span=gone[0].span, severity=Severity.ERROR, key=squash,
            hint="restore the deleted files, or delete all of them and remove `replaces` (squasher finalize)",
        )


def _dangling_hint(graph, target: MigrationKey, source: MigrationKey) -> str:
    """A close name of the target's app, never the migration that holds the dependency
    (``0003_x`` depending on a missing ``0002_x`` is not fixed by depending on itself)."""
    import difflib

    names = [n for a, n in graph.records if a == target[0] and (a, n) != source]
    close = difflib.get_close_matches(target[1], names, n=1, cutoff=0.4)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{target[0]!r} has no migration named {target[1]!r}"


def exit_code(problems: Iterable[Problem]) -> int:
    """1 when a problem is an error or warning, else 0."""
    return 1 if any(p.severity in FAILING for p in problems) else 0


# -- configuration and inline suppression ----------------------------------------------------

#: ``# squasher: ignore`` (every code) or ``# squasher: ignore[SQ001, SQ004]``, in a comment.
_IGNORE_RE = re.compile(r"#.*?\bsquasher:\s*ignore\b(?:\[([^\]]*)\])?")

#: Line number -> the codes an ignore comment there names (``None``: every code).
Suppressions = dict[int, frozenset[str] | None]


def apply_config(problems: Iterable[Problem], config: SquasherConfig | None = None, *,
                 project=None, lines_of: Callable[[Path], list[str] | None] | None = None,
                 ) -> list[Problem]:
    """``problems`` as they are shown: the one place ``squasher check`` and the language
    server's diagnostics apply the configuration and the inline comments.

    Drops the problems whose code ``config.disable`` lists, those of an app in
    ``config.ignore_apps`` (the app of ``problem.key``, else of the migrations package holding
    ``problem.path`` when ``project`` is given) and those whose line (``problem.span.line`` of
    ``problem.path``) carries ``# squasher: ignore`` or ``# squasher: ignore[CODE, ...]`` naming
    the code; then gives the rest the severity of ``config.severity``. ``lines_of(path)`` reads
    a file's lines (the language server passes its editor buffers); default: the file on disk.
    Each file is scanned once per call; the order of ``problems`` is kept.
    """
    read = lines_of or _disk_lines
    scanned: dict[Path, Suppressions] = {}
    out: list[Problem] = []
    for problem in problems:
        if config is not None:
            if problem.code in config.disable:
                continue
            if config.ignore_apps and _app_of(problem, project) in config.ignore_apps:
                continue
        if problem.path is not None and _suppressed(problem, read, scanned):
            continue
        severity = config.severity.get(problem.code) if config is not None else None
        if severity is not None and severity is not problem.severity:
            problem = replace(problem, severity=severity)
        out.append(problem)
    return out


def _app_of(problem: Problem, project) -> str | None:
    if problem.key is not None:
        return problem.key[0]
    if project is not None and problem.path is not None:
        package = project.package_for(problem.path)
        if package is not None:
            return package.app_label
    return None


def _disk_lines(path: Path) -> list[str] | None:
    try:
        return path.read_text("utf-8", errors="replace").split("\n")
    except OSError:
        return None


def _suppressed(problem: Problem, read: Callable[[Path], list[str] | None],
                scanned: dict[Path, Suppressions]) -> bool:
    path = problem.path
    assert path is not None
    line = problem.span.line if problem.span else 1
    if path not in scanned:
        lines = read(path)
        # most files have no such comment: the tokenizer only runs on those that do
        scanned[path] = suppressions(lines) if lines and any(
            "squasher" in text for text in lines) else {}
    if line not in scanned[path]:
        return False
    codes = scanned[path][line]
    return codes is None or problem.code in codes


def suppressions(lines: list[str]) -> Suppressions:
    """The ``# squasher: ignore[...]`` comments of a file's ``lines`` by line number (1-based).

    Comments are found with :mod:`tokenize`, so the text inside a string does not count; a
    file the tokenizer cannot read to the end (a syntax error) is scanned line by line.
    """
    comments: dict[int, str] = {}
    source = iter(text if text.endswith("\n") else text + "\n" for text in lines)
    try:
        for token in tokenize.generate_tokens(lambda: next(source, "")):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        comments = {number: text for number, text in enumerate(lines, 1) if "#" in text}
    out: Suppressions = {}
    for number, comment in comments.items():
        match = _IGNORE_RE.search(comment)
        if match is None:
            continue
        names = match.group(1)
        out[number] = None if names is None else frozenset(
            name.strip().upper() for name in names.split(",") if name.strip())
    return out
