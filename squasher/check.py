"""``squasher check``: problems of a project's migration graph, with stable codes.

Every :class:`~squasher.records.Problem` has the file and span it is about, so the
CLI prints ``path:line`` and the language server turns it into a diagnostic.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from squasher.discover import DJANGO_CONTRIB_LABELS, installed_app_labels
from squasher.graph import no_gc
from squasher.records import MigrationKey, MigrationRecord, Problem, Reference, Severity, Span

#: code -> (slug, meaning). Codes are stable: tools and editors key on them.
CODES: dict[str, tuple[str, str]] = {
    "SQ001": ("conflicting-leaves", "an app has more than one leaf migration"),
    "SQ002": ("dangling-dependency", "dependency on a migration that is neither on disk nor external"),
    "SQ003": ("cycle", "circular dependency"),
    "SQ004": ("replaced-reference", "a migration depends on / runs before a migration that a squash replaces"),
    "SQ005": ("half-finalized-squash", "some of a squash's replaced files are gone, `replaces` still there"),
    "SQ006": ("unparsable", "file cannot be read statically (syntax error, no Migration class, "
                            "non-UTF-8, non-literal dependencies)"),
    "SQ007": ("unknown-app", "dependency on an app label that is neither in the project nor a known external app"),
    "SQ100": ("squash-suggestion", "a range that can be squashed (language server / suggest only)"),
}

#: Severities that make ``squasher check`` exit 1.
FAILING = frozenset({Severity.ERROR, Severity.WARNING})


def _where(record: MigrationRecord | None) -> tuple[Path | None, Span | None]:
    if record is None:
        return None, None
    return record.path, record.class_span or Span(1)


def _name(key: MigrationKey) -> str:
    return f"{key[0]}.{key[1]}"


def check_project(project, apps: Iterable[str] | None = None) -> list[Problem]:
    """All problems of ``project`` (a :class:`squasher.project.Project`), sorted by file and line.

    ``apps`` limits the findings to problems located in those apps' files (a cycle or
    conflict is reported when it touches one of them). Raises ``UnknownAppError`` for
    an app label the project does not have.
    """
    with no_gc():
        return _check(project, apps)


def _check(project, apps: Iterable[str] | None) -> list[Problem]:
    graph = project.graph
    selected: set[str] | None = None
    if apps:
        selected = set(apps)
        for app in sorted(selected):
            graph.require_app(app)

    def wanted(key: MigrationKey | None) -> bool:
        return selected is None or (key is not None and key[0] in selected)

    problems: list[Problem] = [p for p in project.problems if selected is None]
    records = graph.records

    # SQ006: what parse found.
    for record in records.values():
        if wanted(record.key):
            problems.extend(record.parse_problems)

    # SQ001: conflicting leaves; one problem per leaf so each file gets a diagnostic.
    for app in sorted(selected) if selected is not None else graph.apps():
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
            problems.append(Problem(
                code="SQ001",
                message=(f"conflicting migrations in {app}: {leaf[1]} and "
                         f"{', '.join(k[1] for k in others)} are both leaves"),
                path=path, span=span, key=leaf, related=related,
                hint=f"merge them (squasher merge {app}, or manage.py makemigrations --merge)",
            ))

    # SQ003: cycles.
    for cycle in graph.cycles():
        if not any(wanted(k) for k in cycle):
            continue
        first = next((k for k in cycle if k in records), cycle[0])
        path, span = _where(records.get(first))
        loop = " -> ".join(_name(k) for k in [*cycle, cycle[0]])
        related = tuple((records[k].path, records[k].class_span or Span(1), _name(k))
                        for k in cycle if k in records and k != first)
        problems.append(Problem(
            code="SQ003", message=f"circular dependency: {loop}", path=path, span=span,
            key=first, related=related,
            hint="remove one of these dependencies (or split the squash that introduced it)",
        ))

    known_external = DJANGO_CONTRIB_LABELS | installed_app_labels(project.settings, project.root)
    # INSTALLED_APPS or MIGRATION_MODULES computed in settings: which labels exist is unknown
    # statically, so SQ007 is not guessed (Django, with --settings, knows).
    apps_known = project.settings.installed_apps is not None and \
        project.settings.migration_modules_known
    project_apps = set(graph.apps())
    unmigrated = getattr(project, "unmigrated_apps", set())

    for key, record in records.items():
        if not wanted(key):
            continue
        refs: list[tuple[str, Reference]] = [("depends on", r) for r in record.dependencies]
        refs += [("runs before", r) for r in record.run_before]
        for verb, ref in refs:
            target = ref.key
            if target is None:
                continue
            # SQ002 dangling: the target node is missing from the effective graph
            # (a deleted file that a squash replaces is fine: Django remaps it).
            in_effective = graph.nx.nodes.get(target)
            if target[0] == key[0] or target[0] in project_apps:
                if target not in records and (in_effective is not None and in_effective.get("missing")
                                              or in_effective is None and graph.replaced_by(target) is None):
                    if ref.name in ("__first__", "__latest__"):
                        continue
                    problems.append(Problem(
                        code="SQ002",
                        message=f"{_name(key)} {verb} {_name(target)}, which does not exist",
                        path=record.path, span=ref.span, key=key,
                        hint=_dangling_hint(graph, target),
                    ))
                    continue
            elif target[0] in unmigrated:
                if ref.name not in ("__first__", "__latest__"):
                    problems.append(Problem(
                        code="SQ002",
                        message=f"{_name(key)} {verb} {_name(target)}, but app {target[0]!r} has no migrations",
                        path=record.path, span=ref.span, key=key,
                        hint=f"depend on ({target[0]!r}, '__first__') or add migrations to {target[0]}",
                    ))
                continue
            elif apps_known and target[0] not in known_external:
                problems.append(Problem(
                    code="SQ007",
                    message=f"{_name(key)} {verb} {_name(target)}: app {target[0]!r} is not in the project "
                            "nor in INSTALLED_APPS",
                    path=record.path, span=ref.span, severity=Severity.WARNING, key=key,
                    hint="check the app label (AppConfig.label), or run squasher from the project root",
                ))
                continue
            # SQ004: reference to a migration that a squash replaces.
            squash = graph.replaced_by(target)
            if squash is not None and squash != key and key not in graph.flat_replaces(squash) \
                    and graph.replaced_by(key) != squash:
                # While the replaced file exists this is the normal transition state
                # (Django remaps the edge): informational. Once it is deleted the
                # reference only resolves through `replaces` and breaks when the squash
                # is finalized: a warning.
                deleted = target not in records
                problems.append(Problem(
                    code="SQ004",
                    message=f"{_name(key)} {verb} {_name(target)}, which is replaced by squash {_name(squash)}"
                            + (" and deleted" if deleted else ""),
                    path=record.path, span=ref.span, key=key,
                    severity=Severity.WARNING if deleted else Severity.INFO,
                    related=((records[squash].path, records[squash].class_span or Span(1),
                              f"squash {_name(squash)}"),) if squash in records else (),
                    hint=f"depend on {_name(squash)} instead, so the replaced files can be deleted",
                ))
        # Swappable dependencies that could not be resolved are reported once each.
        for ref, reason in graph.unresolved.get(key, ()):
            if ref.swappable_setting:
                problems.append(Problem(
                    code="SQ007", message=f"swappable dependency: {reason}",
                    path=record.path, span=ref.span, severity=Severity.INFO, key=key,
                    hint="pass --settings so the setting can be read",
                ))

    # SQ005: half-finalized squashes.
    for squash in graph.squashes():
        if not wanted(squash):
            continue
        record = records[squash]
        targets = [r for r in record.replaces if r.key is not None]
        gone = [r for r in targets if r.key not in records]
        if not gone:
            continue
        if len(gone) == len(targets):
            problems.append(Problem(
                code="SQ005",
                message=f"every migration {_name(squash)} replaces is deleted but `replaces` is still there",
                path=record.path, span=record.replaces_span, severity=Severity.INFO, key=squash,
                hint="remove `replaces` to finish the transition (squasher finalize)",
            ))
            continue
        names = ", ".join(r.name for r in gone[:5]) + (" ..." if len(gone) > 5 else "")
        problems.append(Problem(
            code="SQ005",
            message=(f"squash {_name(squash)} is half-finalized: {len(gone)} of {len(targets)} "
                     f"replaced files are deleted ({names})"),
            path=record.path, span=gone[0].span, severity=Severity.ERROR, key=squash,
            hint="restore the deleted files, or delete all of them and remove `replaces` (squasher finalize)",
        ))

    problems.sort(key=lambda p: (str(p.path or ""), p.span.line if p.span else 0, p.code))
    return problems


def _dangling_hint(graph, target: MigrationKey) -> str:
    import difflib

    names = [n for a, n in graph.records if a == target[0]]
    close = difflib.get_close_matches(target[1], names, n=1, cutoff=0.4)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{target[0]!r} has no migration named {target[1]!r}"


def exit_code(problems: Iterable[Problem]) -> int:
    """1 when a problem is an error or warning, else 0."""
    return 1 if any(p.severity in FAILING for p in problems) else 0
