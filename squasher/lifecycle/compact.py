"""``squasher compact``: whole-project compaction in one command.

suggest -> squash each range (``split=True``: a range that would create a cycle becomes
several squashes) -> verify each squash (original vs squashed history on fresh databases,
:func:`squasher.runtime.verify.verify_squash`, done by :func:`squasher.squash.plan.plan_and_write`).
Suggestions are recomputed after every squash (each new squash is a barrier for the next
ones), so the squashes written together never create a cycle between them either.

Before and after, the whole project is migrated on a fresh database in a
:mod:`squasher.runtime.worker` process (a ``migrate`` job with ``per_app``) and the time
spent applying each app's migrations is measured (MigrationExecutor progress callback),
giving the before/after table per app: migrations, operations, fresh-database ``migrate``
seconds.

Apps with more than one leaf are skipped (``squasher merge`` first): their fresh
``migrate`` would be refused. ``dry_run`` only lists the planned squashes.

All or nothing: the squashes are written and verified one after another in a temporary copy
of the project (later suggestions and squashes read the earlier squashes), and the files
compaction produced there reach the user's tree through one :class:`~squasher.fileops.ChangeSet`
at the end, only when every squash verified (and, with timing, the compacted project
migrates). When one fails, the loop stops and the tree is left exactly as it was.
``keep_going=True`` skips a range that fails and writes the squashes that verified.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.errors import SettingsError, SquasherError, VerificationError
from squasher.fileops import ChangeSet
from squasher.lifecycle.suggest import Suggestion, suggest
from squasher.records import MigrationKey
from squasher.runtime.sandbox import (
    SQLITE_BACKEND,
    Backend,
    DatabasePool,
    claim_temp_dir,
    copy_project,
    remove_stale_temp_dirs,
    resolve_backend,
    source_files,
    split_legacy_database,
)
from squasher.runtime.worker import WorkerClient

if TYPE_CHECKING:
    from squasher.graph.project import Project

__all__ = ["AppStats", "CompactReport", "compact", "measure", "migrate_times"]


@dataclass
class AppStats:
    migrations: int
    operations: int
    seconds: float | None = None


@dataclass
class CompactReport:
    root: Path
    database: str
    before: dict[str, AppStats] = field(default_factory=dict)
    after: dict[str, AppStats] = field(default_factory=dict)
    squashed: list[dict[str, Any]] = field(default_factory=list)  # one per written squash
    planned: list[Suggestion] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)  # verified, not written (another failed)
    keep_going: bool = False
    total_before: float | None = None
    total_after: float | None = None
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    def table(self) -> list[tuple[str, str, str, str]]:
        """Rows ``(app, migrations, operations, migrate seconds)`` as ``before -> after``."""
        rows = []
        for app in sorted(set(self.before) | set(self.after)):
            b, a = self.before.get(app), self.after.get(app) or self.before.get(app)
            assert b is not None and a is not None

            def pair(x: float | int | None, y: float | int | None, fmt: str = "{}") -> str:
                if x is None or y is None:
                    return "-"
                return f"{fmt.format(x)} -> {fmt.format(y)}"

            rows.append((app, pair(b.migrations, a.migrations), pair(b.operations, a.operations),
                         pair(b.seconds, a.seconds, "{:.2f}")))
        if self.total_before is not None:
            rows.append(("(whole project)", "", "",
                         pair_total(self.total_before, self.total_after)))
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root), "database": self.database, "dry_run": self.dry_run,
            "before": {a: vars(s) for a, s in self.before.items()},
            "after": {a: vars(s) for a, s in self.after.items()},
            "total_seconds": {"before": self.total_before, "after": self.total_after},
            "squashed": self.squashed,
            "planned": [s.to_json() for s in self.planned],
            "failures": self.failures, "skipped": self.skipped, "discarded": self.discarded,
            "keep_going": self.keep_going, "ok": self.ok,
        }


def pair_total(before: float, after: float | None) -> str:
    return f"{before:.2f} -> {after:.2f}" if after is not None else f"{before:.2f}"


def measure(project: Project, apps: Iterable[str]) -> dict[str, AppStats]:
    """Effective migrations and operations per app (squashes in effect count once)."""
    graph = project.graph
    out: dict[str, AppStats] = {}
    for app in apps:
        plan = graph.app_plan(app)
        ops = sum(len(graph.records[k].operations) for k in plan if k in graph.records)
        out[app] = AppStats(migrations=len(plan), operations=ops)
    return out


# ------------------------------------------------------------------ fresh migrate timing


def django_app_labels(root: Path, settings_module: str) -> set[str]:
    """Labels of the project's apps whose migrations Django loads with ``settings_module``.

    Static discovery finds every migrations package on disk; an app missing from
    ``INSTALLED_APPS`` has one too, but Django would never run a squash of it. Runs the
    loader in its own process (Django can be set up once per process).
    """
    worker = WorkerClient(settings_module, timeout=600, error=SettingsError,
                          name="the worker loading the project's migrations")
    result = worker.run(root, None, [{"op": "graph"}])
    if not result["ok"]:
        raise SettingsError(
            f"Django could not load the project's migrations: {result['error']['message']}",
            path=root, hint="run `squasher check`, then `manage.py migrate`")
    nodes = result["results"][0]["nodes"]
    return {app for (app, _name), external in nodes if not external}


def migrate_times(root: Path, settings_module: str, backend: Backend = SQLITE_BACKEND
                  ) -> dict[str, Any]:
    """Migrate a copy of ``root`` on a fresh database; ``{"per_app", "count", "total"}``."""
    tmp = Path(tempfile.mkdtemp(prefix="squasher-compact-"))
    claim_temp_dir(tmp)
    try:
        tree = copy_project(root, tmp / "tree")
        worker = WorkerClient(settings_module, timeout=600, name="the timing worker")
        with DatabasePool(backend, tmp) as pool:
            (database,) = pool.make(["time"])
            result = worker.run(tree, database, [{"op": "migrate", "targets": None,
                                                  "signals": False, "per_app": True}])
        if not result["ok"]:
            raise VerificationError(
                f"fresh `migrate` of the project failed: {result['error']['message']}",
                hint="run `squasher check` and `manage.py migrate` to see why")
        timed = result["results"][0]
        return {"per_app": timed["per_app"], "count": timed["count"], "total": timed["seconds"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------ compact


def _staged_changes(root: Path, work: Path, baseline: dict[str, bytes]) -> ChangeSet:
    """One :class:`ChangeSet` making in ``root`` what compaction changed in its copy ``work``
    (``baseline``: the copy's files before compaction)."""
    changes = ChangeSet()
    result = source_files(work)
    for rel in sorted(set(baseline) | set(result)):
        old, new = baseline.get(rel), result.get(rel)
        if old == new:
            continue
        target = root / rel
        if new is None:
            changes.delete(target)
        elif old is None:
            changes.create(target, new.decode("utf-8"))
        else:
            changes.modify(target, new.decode("utf-8"))
    return changes


def compact(root: str | Path, apps: Iterable[str] | None = None, *, keep_last: int = 0,
            settings_module: str | None = None, database: str = "default",
            verify_on: str | None = None, dry_run: bool = False, timing: bool = True, keep_going: bool = False,
            progress: Any = None) -> CompactReport:
    """Suggest, squash (with cycle splitting) and verify every worthwhile range.

    All squashes are written and verified in a temporary copy of the project (later
    suggestions and squashes read the earlier squashes); the new files reach ``root``
    through one :class:`ChangeSet` at the end, and only when every squash verified. With
    ``keep_going`` a range that fails is skipped (reported in ``failures``) and the squashes
    that verified are written anyway. Either way a failing compaction leaves ``root`` as it
    was unless ``keep_going`` is given.

    ``progress``: optional callable receiving one line of text per step.
    """
    from squasher.graph.project import Project
    from squasher.runtime.django_setup import resolve_settings_module

    root = Path(root).resolve()
    remove_stale_temp_dirs()
    say = progress or (lambda text: None)
    project = Project.load(root, use_cache=False)
    graph = project.graph
    wanted = list(apps) if apps else graph.apps()
    for app in wanted:
        graph.require_app(app)
    report = CompactReport(root=root, database="", dry_run=dry_run, keep_going=keep_going)
    conflicts = graph.conflicts()
    for app in wanted:
        if app in conflicts:
            report.skipped.append(
                f"{app}: more than one leaf ({', '.join(k[1] for k in conflicts[app])}); "
                f"run `squasher merge {app}` first")
    scope = [a for a in wanted if a not in conflicts]
    settings = None if dry_run and settings_module is None else \
        resolve_settings_module(root, settings_module)
    if settings is not None:
        loaded = django_app_labels(root, settings)
        for app in [a for a in scope if a not in loaded]:
            report.skipped.append(f"{app}: Django does not load it with settings {settings} "
                                  "(not in INSTALLED_APPS?)")
            scope.remove(app)
    report.before = measure(project, scope)
    report.planned = suggest(project, scope, keep_last=keep_last)
    if dry_run or not report.planned:
        return report
    assert settings is not None
    alias, verify_on, legacy = split_legacy_database(database, verify_on)
    backend = resolve_backend(root, settings, verify_on=verify_on, database=alias)
    report.database = backend.label
    for warning in (legacy, backend.note):
        if warning:
            say(f"warning: {warning}")
    if timing:
        say("timing a fresh `migrate` of the project before compaction...")
        times = migrate_times(root, settings, backend)
        report.total_before = times["total"]
        for app, stats in report.before.items():
            stats.seconds = times["per_app"].get(app, 0.0)

    tmp = Path(tempfile.mkdtemp(prefix="squasher-compact-work-"))
    claim_temp_dir(tmp)
    try:
        work = copy_project(root, tmp / "tree").resolve()
        baseline = source_files(work)

        def here(text: str) -> str:
            """Paths of the working copy shown as paths of the user's project."""
            return text.replace(str(work), str(root))

        written, project = _squash_all(work, scope, keep_last, settings, backend, report, say, here)
        if report.failures and not keep_going:
            report.discarded = [f"{item['app']}.{item['name']}" for item in written]
            say("nothing was written: a squash failed verification (--keep-going keeps the "
                "squashes that verified)")
            report.after = {app: AppStats(s.migrations, s.operations, s.seconds)
                            for app, s in report.before.items()}
            return report
        report.after = measure(project, scope)
        if timing and written:
            say("timing a fresh `migrate` of the project after compaction...")
            times = migrate_times(work, settings, backend)
            report.total_after = times["total"]
            for app, stats in report.after.items():
                stats.seconds = times["per_app"].get(app, 0.0)
        elif timing:
            report.total_after = report.total_before
            for app, stats in report.after.items():
                stats.seconds = report.before[app].seconds
        changes = _staged_changes(root, work, baseline)
        changes.apply()
        report.squashed = written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def _squash_all(work: Path, scope: list[str], keep_last: int, settings: str, backend: Backend,
                report: CompactReport, say: Any, here: Any) -> tuple[list[dict[str, Any]], Any]:
    """The suggest -> squash -> verify loop in the working copy ``work``.

    Returns the squashes that verified (paths in the user's project) and the project as
    last loaded from ``work`` (after the last squash unless it stopped at a failure). Stops
    at the first failure unless ``report.keep_going``.
    """
    from squasher.runtime.django_project import load_django_project
    from squasher.squash.plan import plan_and_write

    written: list[dict[str, Any]] = []
    attempted: set[tuple[str, MigrationKey, MigrationKey]] = set()
    while True:
        importlib.invalidate_caches()
        project = load_django_project(work, settings)[0]
        todo = [s for s in suggest(project, scope, keep_last=keep_last)
                if (s.app, s.first, s.last) not in attempted]
        if not todo:
            break
        s = todo[0]
        attempted.add((s.app, s.first, s.last))
        # suggestions are made again after every squash: N is what is known now
        number = len(attempted)
        say(f"squashing {s.app} {s.first[1]} .. {s.last[1]} ({s.migrations} migrations; "
            f"range {number} of {number + len(todo) - 1})...")
        importlib.invalidate_caches()
        try:
            result = plan_and_write(work, s.app, s.last[1], s.first[1], split=True,
                                    verify=True, backend=backend, settings_module=settings,
                                    progress=lambda text: say(f"  {text}"))
        except SquasherError as error:
            report.failures.append(f"{s.app} {s.first[1]}..{s.last[1]}: {here(str(error))}")
            say(f"  failed: {s.app} {s.first[1]}..{s.last[1]}")
            if not report.keep_going:
                break
            say("  skipped (--keep-going)")
            continue
        for piece in result.pieces:
            written.append({
                "app": s.app, "name": piece.name, "path": here(str(piece.path)),
                "members": len(piece.members), "operations_before": piece.ops_before,
                "operations_after": piece.ops_after,
                "verified": bool(result.verified),
            })
            say(f"  verified {piece.name}: {len(piece.members)} migrations, "
                f"{piece.ops_before} -> {piece.ops_after} operations, on {backend.label}")
    return written, project
