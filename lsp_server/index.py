"""The workspace index: one :class:`squasher.graph.project.Project` per workspace folder.

Kept current incrementally: an editor buffer (didOpen/didChange) or a file on disk
(didChangeWatchedFiles, didClose) re-parses exactly one file through
``Project.update_file``; diagnostics are then recomputed for the apps that file can
influence, and the caller republishes only the files whose diagnostics changed.

Nothing here imports or executes project code: it is the static side only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.config import SquasherConfig, load_config
from squasher.errors import UsageError
from squasher.records import (
    MigrationKey,
    MigrationRecord,
    Problem,
    Severity,
    Span,
    migration_number,
)

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph
    from squasher.graph.project import Project

log = logging.getLogger(__name__)

#: Below this many records every edit re-checks the whole project (simplest, always right);
#: above it only the apps the edited file is connected to are re-checked.
FULL_RECHECK_LIMIT = 1500


@dataclass(frozen=True)
class SuggestedRange:
    """A squash suggestion as the server shows it (SQ100)."""

    app: str
    first: MigrationKey
    last: MigrationKey
    members: tuple[MigrationKey, ...]
    migrations: int
    operations: int
    #: operations after squashing: Django's optimizer's count when it ran (``exact``), else
    #: the static estimate of :func:`squasher.lifecycle.suggest.estimate_operations`
    after: int = 0
    exact: bool = False

    @property
    def gain(self) -> str:
        """What squashing gains, as the SQ100 diagnostic says it."""
        after = f"{self.after}" if self.exact else f"~{self.after}"
        return (f"{self.migrations} migrations → 1, {self.operations} → {after} operations"
                + ("" if self.exact else " (estimated)"))

    @property
    def label(self) -> str:
        return f"{migration_number(self.first[1]) or self.first[1]}–{migration_number(self.last[1]) or self.last[1]}"


@dataclass
class IndexedProject:
    """One workspace folder as the server indexed it: the static project (migration files
    parsed, graph built) plus what was derived from it (problems, suggestions, config,
    merge predictions). Not Django's ``ProjectState`` (models at a point of a history).
    """

    root: Path
    project: Project
    problems: dict[str, list[Problem]] = field(default_factory=dict)  # app -> problems
    suggestions: dict[str, list[SuggestedRange]] = field(default_factory=dict)  # app -> ranges
    other_problems: list[Problem] = field(default_factory=list)  # problems with no app
    #: ``[tool.squasher]`` of the folder's pyproject.toml (defaults when it is bad: see config_error)
    config: SquasherConfig = field(default_factory=SquasherConfig)
    #: why that pyproject.toml was not used (the CLI's one-line error), else None
    config_error: str | None = None
    #: ``check --against``: the base revision last compared with (``None``: none), the
    #: problems merging it would bring (SQ2nn) and those it would resolve (their identities)
    against: str | None = None
    predicted: list[Problem] = field(default_factory=list)
    resolved_by_merge: frozenset[tuple[Any, ...]] = frozenset()

    @property
    def graph(self) -> MigrationGraph:
        return self.project.graph


class WorkspaceIndex:
    """Projects of all workspace folders, editor buffers, derived problems."""

    def __init__(self, settings_module: str | None = None,
                 logger: Callable[[str], None] | None = None) -> None:
        self.settings_module = settings_module
        self.states: dict[Path, IndexedProject] = {}
        self.buffers: dict[Path, str] = {}
        self._disk_lines: dict[Path, tuple[int, list[str]]] = {}
        self._log = logger or log.info
        #: the same record cache as the CLI (``~/.cache/squasher``: ``squasher.graph.project.cache_file_for``)
        self.use_cache = True
        #: apps whose squash suggestions are stale (recomputed by :meth:`refresh_suggestions`)
        self.stale_suggestions: dict[Path, set[str] | None] = {}

    # ------------------------------------------------------------ loading

    def add_root(self, root: Path) -> IndexedProject | None:
        from squasher.graph.project import Project

        root = root.resolve()
        start = time.perf_counter()
        config, config_error = self._read_config(root)
        try:
            project = Project.load(root, settings_module=None, use_cache=self.use_cache)
        except Exception as exc:  # a broken project must not kill the server
            self._log(f"squasher: cannot load {root}: {exc}")
            return None
        state = IndexedProject(root=root, project=project, config=config, config_error=config_error)
        self.states[root] = state
        self.recheck(state, None)
        self.mark_suggestions_stale(state, None)
        self._log(f"squasher: {root}: {len(project.records_by_path)} migrations in "
                  f"{len(project.graph.apps())} apps indexed in {time.perf_counter() - start:.2f}s")
        return state

    def remove_root(self, root: Path) -> None:
        self.states.pop(root.resolve(), None)

    def _read_config(self, root: Path) -> tuple[SquasherConfig, str | None]:
        """``[tool.squasher]`` of ``root``; a bad one is logged and the defaults are used."""
        try:
            return load_config(root), None
        except UsageError as exc:
            self._log(f"squasher: {exc}")
            return SquasherConfig(), str(exc)

    def config_changed(self, path: Path) -> IndexedProject | None:
        """``path`` (a pyproject.toml) changed: re-read the configuration of the folder it is
        the root of. A new ``settings`` re-reads the project (the static settings reader uses it)."""
        state = self.states.get(path.parent) or self.states.get(path.parent.resolve())
        if state is None or path.name != "pyproject.toml":
            return None
        config, error = self._read_config(state.root)
        if config.settings != state.config.settings:
            return self.add_root(state.root)
        state.config, state.config_error = config, error
        self.mark_suggestions_stale(state, None)  # keep-last may have changed
        return state

    # ------------------------------------------------------------ lookup

    def state_for(self, path: Path) -> IndexedProject | None:
        best: IndexedProject | None = None
        for root, state in self.states.items():
            inside = path == root or root in path.parents
            if inside and (best is None or len(root.parts) > len(best.root.parts)):
                best = state
        return best

    def record_for(self, path: Path) -> tuple[IndexedProject, MigrationRecord] | None:
        state = self.state_for(path)
        if state is None:
            return None
        record = state.project.records_by_path.get(path)
        if record is None:
            record = state.project.records_by_path.get(path.resolve())
        if record is None:
            return None
        return state, record

    def is_migration_path(self, path: Path) -> bool:
        """A ``.py`` file in some app's ``migrations`` package (known or new)."""
        if path.suffix != ".py" or path.name == "__init__.py":
            return False
        state = self.state_for(path)
        if state is None:
            return False
        if path in state.project.records_by_path:
            return True
        return state.project.package_for(path) is not None

    # ------------------------------------------------------------ text

    def text_of(self, path: Path) -> str | None:
        if path in self.buffers:
            return self.buffers[path]
        try:
            return path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def lines_of(self, path: Path) -> list[str] | None:
        if path in self.buffers:
            return self.buffers[path].split("\n")
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._disk_lines.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        text = self.text_of(path)
        if text is None:
            return None
        lines = text.split("\n")
        if len(self._disk_lines) > 2000:
            self._disk_lines.clear()
        self._disk_lines[path] = (mtime, lines)
        return lines

    # ------------------------------------------------------------ updates

    def set_buffer(self, path: Path, source: str) -> IndexedProject | None:
        """An editor buffer was opened or changed: re-parse it from the unsaved text."""
        self.buffers[path] = source
        return self._update(path, source)

    def drop_buffer(self, path: Path) -> IndexedProject | None:
        """The editor closed the file: go back to what is on disk."""
        if self.buffers.pop(path, None) is None:
            return None
        return self._update(path, None)

    def file_changed_on_disk(self, path: Path) -> IndexedProject | None:
        """A watched file was created, changed or deleted (open buffers win)."""
        if path.name == "pyproject.toml":
            return self.config_changed(path)
        self._disk_lines.pop(path, None)
        if path in self.buffers and path.exists():
            return None
        if not path.exists():
            self.buffers.pop(path, None)
        return self._update(path, None)

    def _update(self, path: Path, source: str | None) -> IndexedProject | None:
        state = self.state_for(path)
        if state is None or not self.is_migration_path(path):
            return None
        old = state.project.records_by_path.get(path)
        before = self._apps_touching(state, path)
        try:
            state.project.update_file(path, source)
        except Exception as exc:  # keep the last good graph and diagnostics
            self._log(f"squasher: cannot update {path}: {exc!r}")
            return None
        record = state.project.records_by_path.get(path)
        if old is None or record is None or _check_inputs(old) != _check_inputs(record):
            self.recheck(state, before | self._apps_touching(state, path))
        app = record.app_label if record is not None else _app_of_path(state, path)
        if app is not None:
            self.mark_suggestions_stale(state, {app})
        return state

    def _apps_touching(self, state: IndexedProject, path: Path) -> set[str]:
        """The app of ``path`` and every app with an edge to or from it (full graph)."""
        record = state.project.records_by_path.get(path)
        app = record.app_label if record is not None else _app_of_path(state, path)
        if app is None:
            return set()
        apps = {app}
        full = state.graph.full
        for node in _app_nodes(state, app):
            for other in list(full.predecessors(node)) + list(full.successors(node)):
                apps.add(other[0])
        return apps

    # ------------------------------------------------------------ checks

    def recheck(self, state: IndexedProject, apps: Iterable[str] | None) -> None:
        """Recompute problems and suggestions (all apps, or only ``apps``)."""
        from squasher.graph.check import check_project

        project_apps = set(state.graph.apps())
        if apps is None or len(state.graph.records) <= FULL_RECHECK_LIMIT:
            wanted: list[str] | None = None
        else:
            wanted = sorted(set(apps) & project_apps) or None
        try:
            problems = check_project(state.project, apps=wanted)
        except Exception as exc:
            self._log(f"squasher: check failed: {exc!r}")
            return
        by_app: dict[str, list[Problem]] = {}
        other: list[Problem] = []
        seen: set[tuple[Any, ...]] = set()
        for problem in problems:
            ident = (problem.code, problem.path, problem.span, problem.message)
            if ident in seen:
                continue
            seen.add(ident)
            app = self._problem_app(state, problem)
            if app is None:
                other.append(problem)
            else:
                by_app.setdefault(app, []).append(problem)
        if wanted is None:
            state.problems = by_app
            state.other_problems = other
        else:
            for app in wanted:
                state.problems[app] = by_app.get(app, [])
            if set(by_app) - set(wanted):  # e.g. a cycle through an app not rechecked
                self.recheck(state, None)
        for app in list(state.problems):
            if app not in project_apps:
                del state.problems[app]

    def _problem_app(self, state: IndexedProject, problem: Problem) -> str | None:
        if problem.key is not None:
            return problem.key[0]
        if problem.path is not None:
            record = state.project.records_by_path.get(problem.path)
            if record is not None:
                return record.app_label
            return _app_of_path(state, problem.path)
        return None

    # ------------------------------------------------------------ suggestions (SQ100)
    # Squash suggestions are Information-level and costlier than ``check``: they are
    # recomputed after edits settle (the server debounces), only for the edited apps.

    def mark_suggestions_stale(self, state: IndexedProject, apps: set[str] | None) -> None:
        current = self.stale_suggestions.get(state.root, set())
        if apps is None or current is None:
            self.stale_suggestions[state.root] = None
        else:
            self.stale_suggestions[state.root] = current | apps

    def take_stale_suggestions(self) -> dict[Path, set[str] | None]:
        pending, self.stale_suggestions = self.stale_suggestions, {}
        return pending

    def compute_suggestions(
        self, pending: dict[Path, set[str] | None],
    ) -> dict[Path, tuple[list[str], bool, dict[str, list[SuggestedRange]]]]:
        """Run ``squasher.lifecycle.suggest`` for the stale apps (read-only: safe in a worker thread).

        Raises when the graph changed under it; the caller marks the apps stale again.
        """
        from squasher.errors import CircularDependencyError
        from squasher.lifecycle.suggest import suggest

        out = {}
        for root, apps in pending.items():
            state = self.states.get(root)
            if state is None:
                continue
            known = set(state.graph.apps())
            targets = sorted(known if apps is None else apps & known)
            if not targets:
                continue
            fresh: dict[str, list[SuggestedRange]] = {}
            found = []
            for app in targets:
                try:
                    found += suggest(state.project, apps=[app],
                                     keep_last=state.config.keep_last or 0)
                except CircularDependencyError:
                    continue  # reported as SQ003; nothing can be squashed around a cycle
            for s in found:
                fresh.setdefault(s.app, []).append(SuggestedRange(
                    app=s.app, first=tuple(s.first), last=tuple(s.last),  # type: ignore[arg-type]
                    members=tuple(tuple(m) for m in s.members),  # type: ignore[misc]
                    migrations=s.migrations, operations=s.operations,
                    after=(s.optimized_operations if s.optimized_operations is not None
                           else s.estimated_operations),
                    exact=s.optimized_operations is not None,
                ))
            out[root] = (targets, apps is None, fresh)
        return out

    def apply_suggestions(
        self, results: dict[Path, tuple[list[str], bool, dict[str, list[SuggestedRange]]]],
    ) -> list[IndexedProject]:
        """Store computed suggestions; returns the states whose suggestions changed."""
        changed = []
        for root, (apps, replace_all, fresh) in results.items():
            state = self.states.get(root)
            if state is None:
                continue
            before = dict(state.suggestions)
            if replace_all:
                state.suggestions = fresh
            else:
                for app in apps:
                    state.suggestions[app] = fresh.get(app, [])
            if state.suggestions != before:
                changed.append(state)
        return changed

    def refresh_suggestions(self) -> list[IndexedProject]:
        """Synchronous take + compute + apply (tests, benchmarks)."""
        return self.apply_suggestions(self.compute_suggestions(self.take_stale_suggestions()))

    def suggestion_problems(self, state: IndexedProject) -> list[Problem]:
        out = []
        for ranges in state.suggestions.values():
            for s in ranges:
                record = state.graph.records.get(s.first)
                if record is None:
                    continue
                out.append(
                    Problem(
                        code="SQ100",
                        message=f"{s.label}: {s.gain}",
                        path=record.path, span=header_span(record), severity=Severity.INFO,
                        key=s.first,
                    )
                )
        return out

    # ------------------------------------------------------------ merge predictions

    def base_revision(self, state: IndexedProject) -> str | None:
        """The revision to predict merge problems against: ``against`` of ``[tool.squasher]``,
        else ``origin/HEAD`` when the folder is in a git repository that has it."""
        if state.config.against:
            return state.config.against
        import subprocess

        try:
            proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "origin/HEAD"],
                                  cwd=state.root, capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return "origin/HEAD" if proc.returncode == 0 else None

    def compute_prediction(self, state: IndexedProject) -> tuple[str | None, Any]:
        """``(revision, MergePreview or None)`` for ``state`` (runs in a worker thread: git)."""
        from squasher.graph.against import preview_merge

        rev = self.base_revision(state)
        if rev is None:
            return None, None
        now = [p for problems in [*state.problems.values(), state.other_problems]
               for p in problems]
        try:
            return rev, preview_merge(state.project, rev, problems_now=now)
        except UsageError as exc:  # no such revision, shallow clone...: said once, in the log
            if state.against != rev or state.predicted:
                self._log(f"squasher: no merge prediction against {rev}: {exc}")
            return rev, None

    def apply_prediction(self, state: IndexedProject, rev: str | None, preview: Any) -> bool:
        """Store a prediction; ``True`` when it changed (the base revision or the diagnostics)."""
        predicted = list(preview.problems) if preview is not None else []
        resolved = preview.resolved if preview is not None else frozenset()
        changed = (rev, predicted, resolved) != (state.against, state.predicted,
                                                 state.resolved_by_merge)
        state.against, state.predicted, state.resolved_by_merge = rev, predicted, resolved
        return changed

    # ------------------------------------------------------------ diagnostics

    def problems_by_path(self, state: IndexedProject) -> dict[Path, list[Problem]]:
        """The diagnostics of every file, as ``squasher check`` shows them: through
        :func:`squasher.graph.check.apply_config` (``[tool.squasher]``, ``# squasher: ignore``
        comments read from the editor's buffers)."""
        from squasher.graph.check import apply_config

        out: dict[Path, list[Problem]] = {}
        records = state.project.records_by_path
        found = [p for problems in [*state.problems.values(), state.other_problems]
                 for p in problems if p.path is not None]
        found += self.suggestion_problems(state)
        if state.resolved_by_merge and state.against:
            from squasher.graph.against import downgrade_resolved

            # as check --against: what the merge fixes is information
            found = downgrade_resolved(found, state.resolved_by_merge, state.against)
        found += [p for p in state.predicted if p.path is not None]
        for p in apply_config(found, state.config, project=state.project, lines_of=self.lines_of):
            out.setdefault(p.path, []).append(_narrow(p, records))  # type: ignore[arg-type]
        return out

    def suggestion_at(self, state: IndexedProject, key: MigrationKey) -> SuggestedRange | None:
        for s in state.suggestions.get(key[0], []):
            if s.first == key:
                return s
        return None

    def suggestion_containing(self, state: IndexedProject, key: MigrationKey) -> SuggestedRange | None:
        for s in state.suggestions.get(key[0], []):
            if key in s.members:
                return s
        return None


def _check_inputs(record: MigrationRecord) -> tuple[Any, ...]:
    """What ``check_project`` reads from a record. When an edit leaves it unchanged (typing
    inside ``operations``), the problems cannot change and the re-check is skipped."""
    span = record.class_span
    return (record.key, record.dependencies, record.replaces, record.run_before,
            (span.line, span.col) if span else None, record.replaces_span, record.parse_problems)


def _narrow(problem: Problem, records: dict[Path, MigrationRecord]) -> Problem:
    """Problems placed on a whole ``class Migration`` body go on its first line only."""

    def fix(path: Path | None, span: Span | None) -> Span | None:
        record = records.get(path) if path is not None else None
        whole = record.class_span if record is not None else None
        if (whole is not None and span is not None and (span.line, span.col) == (whole.line, whole.col)
                and (span.end_line or span.line) > span.line):
            return header_span(record)  # type: ignore[arg-type]
        return span

    span = fix(problem.path, problem.span)
    related = tuple((p, fix(p, s) or s, m) for p, s, m in problem.related)
    if span == problem.span and related == problem.related:
        return problem
    return replace(problem, span=span, related=related)


def header_span(record: MigrationRecord) -> Span | None:
    """The ``class Migration`` line only (the record's span covers the whole class)."""
    span = record.class_span
    return Span(span.line, span.col) if span is not None else None


def _app_of_path(state: IndexedProject, path: Path) -> str | None:
    package = state.project.package_for(path)
    return package.app_label if package is not None else None


def _app_nodes(state: IndexedProject, app: str) -> list[MigrationKey]:
    return [key for key in state.graph.records if key[0] == app]
