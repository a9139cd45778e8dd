"""Verify a squashed migration on real databases.

:func:`verify_squash` copies the project (source files only) into a temporary directory three
times and runs :mod:`squasher.runtime.worker` processes on them:

* **original** - the squash file hidden: the database is built by the replaced migrations;
* **squashed** - the replaced files hidden: the database is built by the squash;
* **partial** - a database migrated with the originals to a migration *inside* the range, then
  migrated to the end with both the squash and the originals present (Django then keeps using
  the originals); it must succeed and end identical to *original*.

Fresh databases are introspected and compared (:mod:`squasher.runtime.dbcompare`): tables, columns,
keys, indexes, constraints, the rows of every table (order-insensitive, ``django_migrations``
excluded) and the final ``ProjectState`` of *original* and *squashed*. ``makemigrations --check
--dry-run`` for the app must report no changes with the squashed history (unless it already
does with the original one, which is only a warning).

Only what the squash can affect is migrated: the app and the apps with a migration depending
on the range (or on the squash), each to its leaves, which brings the app's dependency closure;
``pre_/post_migrate`` go to the migrated apps only. The migrations the range depends on (the
common prefix of every run) are migrated once into a template database that each run copies.
When rows differ, the original history is migrated once more: a table whose rows differ between
two runs of the *same* history (random tokens, encrypted columns, clocks) is named in the report
as non-deterministic and its rows are not compared (its schema is). Content types and
permissions are compared by natural key (their ids follow the order a history created models).

The throwaway databases are made on the engine :mod:`squasher.runtime.sandbox` chooses (the
project's own, like Django's test runner, unless ``--verify-on`` says otherwise): SQLite
databases are temporary files; PostgreSQL databases ``squasher_verify_<random>`` are created on
the project's server (or the one ``SQUASHER_POSTGRES_DSN`` names) and dropped afterwards, also
on failure. Temporary directories are always removed.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from squasher.errors import UsageError
from squasher.runtime.dbcompare import compare_snapshots, differing_data_tables, naturalize
from squasher.runtime.django_setup import resolve_settings_module
from squasher.runtime.sandbox import (
    POSTGRESQL,
    Backend,
    DatabasePool,
    claim_temp_dir,
    copy_project,
    resolve_backend,
    split_legacy_database,
)
from squasher.runtime.worker import WorkerClient


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_squash`."""

    app: str
    squash: str
    #: engine of the throwaway databases: ``sqlite`` or ``postgresql``
    database: str
    #: the ``DATABASES`` alias whose engine/server was asked for (``--database``)
    alias: str = "default"
    #: PostgreSQL: where the server came from (``SQUASHER_POSTGRES_DSN``, ``DATABASES[...]``)
    server: str | None = None
    ok: bool = True
    differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    replaces: list[str] = field(default_factory=list)
    partial_target: str | None = None
    #: app labels migrated (the squashed app's closure is migrated with them), not every app
    scope: list[str] = field(default_factory=list)
    #: migrations both histories start from, migrated once into a template database
    prefix: list[str] = field(default_factory=list)
    #: tables whose rows differ between two runs of the original history: not compared
    nondeterministic: list[str] = field(default_factory=list)

    def render(self) -> str:
        where = self.database + (f" ({self.server})" if self.server else "")
        head = f"verify {self.app}.{self.squash} on {where}: "
        head += "OK" if self.ok else f"{len(self.differences)} difference(s)"
        lines = [head]
        if self.replaces:
            lines.append(f"  replaces {len(self.replaces)} migration(s): "
                         f"{self.replaces[0]} ... {self.replaces[-1]}")
        if self.scope:
            lines.append("  migrated: " + ", ".join(self.scope) + " (to their leaves, with "
                         "their dependencies; other apps are not affected by the squash)")
        if self.prefix:
            lines.append(f"  shared prefix: {len(self.prefix)} migration(s) the range depends "
                         "on, migrated once into a template database")
        for check in self.checks:
            lines.append(f"  checked: {check}")
        if self.nondeterministic:
            lines.append("  non-deterministic (rows differ between two runs of the original "
                         "history; not compared): " + ", ".join(self.nondeterministic))
        for warning in self.warnings:
            lines.append(f"  warning: {warning}")
        if self.differences:
            lines.append("differences:")
            for diff in self.differences:
                lines.append("  - " + diff.replace("\n", "\n    "))
        if self.timings:
            lines.append("  timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def relocate(self, copy: Path, root: Path) -> None:
        """Show paths of the verified copy ``copy`` as paths of the project ``root``."""
        def swap(items: list[str]) -> list[str]:
            return [item.replace(str(copy), str(root)) for item in items]

        self.differences, self.warnings, self.checks = (
            swap(self.differences), swap(self.warnings), swap(self.checks))


# --------------------------------------------------------------------------- helpers


def _hide(paths: list[str], tree: Path, full: Path) -> None:
    """Delete from the copy ``tree`` the files ``paths`` (paths inside the copy ``full``)."""
    for path in paths:
        try:
            rel = Path(path).relative_to(full)
        except ValueError:
            raise UsageError(
                f"the migration file {path} is outside the project, so it cannot be hidden "
                "from the squashed history", hint="run verify from the project root (--root)"
            ) from None
        target = tree / rel
        if target.exists():
            target.unlink()


def _failure(label: str, result: dict[str, Any]) -> str:
    error = result["error"]
    where = ""
    if error.get("path"):
        where = f" ({error['path']}{':' + str(error['line']) if error.get('line') else ''})"
    return f"{label}: {error['message']}{where}"


# --------------------------------------------------------------------------- entry point


def verify_squash(root: Path, app: str, squash_name: str, *, settings_module: str | None = None,
                  database: str = "default", verify_on: str | None = None, partial: bool = True,
                  backend: Backend | None = None,
                  progress: Callable[[str], None] | None = None) -> VerifyReport:
    """Check that the squash ``app.squash_name`` builds the same database as what it replaces.

    ``database`` is a ``DATABASES`` alias (Django's ``--database``) and ``verify_on`` the
    engine of the throwaway databases (``sqlite``, ``postgresql``, None: the alias's own
    engine), see :mod:`squasher.runtime.sandbox`; a resolved ``backend`` skips that choice (a
    squash verifies several pieces on one). Raises :class:`SettingsError`,
    :class:`DatabaseUnavailableError` or a :class:`UsageError` for problems of the environment
    or the command line; verification failures are reported in the returned
    :class:`VerifyReport` (``ok`` false, ``differences`` filled). ``progress`` receives one
    line of text per step (copy, inspect, template, each history as it ends, comparison).
    """
    say = progress or (lambda text: None)
    started = time.perf_counter()
    root = Path(root).resolve()
    if not root.is_dir():
        raise UsageError(f"project root {root} is not a directory")
    alias, verify_on, legacy = split_legacy_database(database, verify_on)
    settings = resolve_settings_module(root, settings_module)
    if backend is None:
        say(f"choosing the verification databases (DATABASES[{alias!r}], --verify-on)")
        backend = resolve_backend(root, settings, verify_on=verify_on, database=alias)

    report = VerifyReport(app=app, squash=squash_name, database=backend.engine, alias=alias,
                          server=None if backend.engine != POSTGRESQL else backend.source)
    report.warnings += [w for w in (legacy, backend.note) if w]
    tmp = Path(tempfile.mkdtemp(prefix="squasher-verify-"))
    claim_temp_dir(tmp)
    try:
        t0 = time.perf_counter()
        say("copying the project's source files")
        full = copy_project(root, tmp / "full").resolve()
        report.timings["copy"] = round(time.perf_counter() - t0, 3)
        worker = WorkerClient(settings, tmp=tmp, origin=root)
        scratch = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "inspect.sqlite3")}

        t0 = time.perf_counter()
        say(f"loading {app}.{squash_name} and its replaced migrations through Django")
        inspected = worker.run(full, scratch, [{"op": "inspect", "app": app,
                                                "migration": squash_name}])
        worker.raise_for(inspected)
        info = inspected["results"][0]
        report.timings["inspect"] = round(time.perf_counter() - t0, 3)
        report.squash = info["name"]
        report.replaces = [f"{a}.{n}" for a, n in info["replaces"]]
        for older in info["shadowed"]:
            report.differences.append(
                f"the older squash {older} replaces only migrations that {app}.{info['name']} "
                f"replaces too, but is not itself in its replaces: with both files on disk Django "
                f"keeps {older} as a separate node (a second leaf, its tables created twice); "
                f"transition {older} to a normal migration (finalize) before squashing over it, "
                f"or list it in replaces")

        t0 = time.perf_counter()
        squashed = copy_project(full, tmp / "squashed")
        _hide(info["covered_files"], squashed, full)
        report.timings["copy"] += round(time.perf_counter() - t0, 3)

        report.scope = list(info.get("scope_apps") or [])
        report.prefix = [f"{a}.{n}" for a, n in info.get("prefix") or []]
        report.timings.update(_run_histories(worker, report, info, backend, tmp, full,
                                             squashed, partial, say))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.ok = not report.differences
    report.timings["total"] = round(time.perf_counter() - started, 3)
    return report


def _run_histories(worker: WorkerClient, report: VerifyReport, info: dict[str, Any], backend: Backend,
                   tmp: Path, full: Path, squashed: Path, partial: bool,
                   say: Callable[[str], None]) -> dict[str, float]:
    with DatabasePool(backend, tmp) as pool:
        return _compare_histories(worker, report, info, pool, full, squashed, partial, say)


def _compare_histories(worker: WorkerClient, report: VerifyReport, info: dict[str, Any],
                       pool: DatabasePool, full: Path, squashed: Path,
                       partial: bool, say: Callable[[str], None]) -> dict[str, float]:
    app = info["app"]
    engine = pool.backend.engine
    # The original history: the squash is hidden by the worker (its file stays on disk so that
    # migrations written after it can be pointed at the last migration it replaces).
    hide: dict[str, Any] = {"hide_squash": {"squash": [app, info["name"]],
                                            "leaf": info["replaces"][-1]}}
    originals: dict[str, Any] = {}
    if info["dropped_elidable"]:
        # Like Django's squashmigrations, the squash dropped elidable operations (the user said
        # they only matter for existing databases): compare with originals without them. Only
        # those it dropped: its own elidable constraint checkpoints do not stand for any, and
        # an elidable operation it carried runs in both histories.
        originals = {"drop_elidable": [d["at"] for d in info["dropped_elidable"]]}
        hide.update(originals)
        report.warnings.append(
            "the squash drops elidable operations; compared with the original history without "
            "them: " + ", ".join(d["label"] for d in info["dropped_elidable"]))
    timings: dict[str, float] = {}
    # Only what the squash can affect is migrated: the app (with its dependency closure) and
    # the apps depending on the range, to their leaves. An older worker answer has no scope.
    scope = info.get("scope_apps")
    migrate_all: dict[str, Any] = {"op": "migrate", "targets": None}
    if scope:
        migrate_all = {"op": "migrate", "apps": scope}
    if info.get("prefix"):
        # The common prefix (what the range depends on), migrated once, copied for every run.
        t0 = time.perf_counter()
        say(f"migrating the {len(info['prefix'])} migration(s) the range depends on into a "
            f"template {engine} database")
        (template,) = pool.make(["template"], from_template=False)
        result = worker.run(full, template, [{"op": "migrate", "targets": info["prefix"],
                                              "signals": False}], **hide)
        if result["ok"]:
            pool.template = template
        elif result["error"]["kind"] != "migrate":
            worker.raise_for(result)
        # a prefix that does not migrate: every run migrates from scratch and reports it
        timings["template"] = round(time.perf_counter() - t0, 3)
    since = time.time()  # date/times written from now on are "now" (timezone.now() defaults)
    full_steps = [migrate_all, {"op": "dump", "since": since},
                  {"op": "makemigrations_check", "app": app}]
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    Job = tuple[Path, dict[str, Any], list[dict[str, Any]], dict[str, Any]]

    def chain(label: str, jobs: list[Job]) -> None:
        t0 = time.perf_counter()
        try:
            for tree, db, steps, options in jobs:
                result = worker.run(tree, db, steps, **options)
                results.setdefault(label, []).append(result)
                if not result["ok"]:
                    break
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)
        timings[label] = round(time.perf_counter() - t0, 3)
        say(f"{label} history migrated and read ({timings[label]:.1f}s)")

    def run_chains(chains: dict[str, list[Job]]) -> None:
        threads = [threading.Thread(target=chain, args=(label, jobs))
                   for label, jobs in chains.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        for label in chains:
            for result in results[label]:
                if not result["ok"] and result["error"]["kind"] != "migrate":
                    worker.raise_for(result)

    labels = ["original", "squashed"] + (["partial"] if partial else [])
    say(f"migrating the {', '.join(labels)} histories on {engine} (in parallel)")
    dbs = dict(zip(labels, pool.make(labels), strict=True))
    chains: dict[str, list[Job]] = {
        "original": [(full, dbs["original"], full_steps, hide)],
        "squashed": [(squashed, dbs["squashed"], full_steps, {})],
    }
    if partial:
        chains["partial"] = [
            # A migration in the middle of the range (of those the original history's graph
            # has: an older squash may stand for some), without post_migrate signals half-way
            # (content types and permissions would get other ids than in one run).
            (full, dbs["partial"], [{"op": "migrate", "pick_from": info["covered"],
                                     "signals": False}], hide),
            (full, dbs["partial"], [migrate_all, {"op": "dump", "state": False, "since": since}],
             originals),
        ]
    run_chains(chains)

    orig, sq = results["original"][-1], results["squashed"][-1]
    if not orig["ok"]:
        report.differences.append(_failure("the original history does not migrate", orig))
        report.warnings.append("nothing to compare against: fix the original history first")
        return timings
    snap = orig["results"][1]
    part = None
    target = None
    if partial:
        first, part = results["partial"][0], results["partial"][-1]
        target = first["results"][0].get("target") if first["ok"] else None
        if first["ok"] and target is None:
            part = None  # nothing in the middle of the range to stop at
    # Rows that differ from the original history's: when the original history itself does not
    # give the same rows twice (random tokens, encrypted columns, timestamps of other clocks),
    # those tables are noise. Run it once more and leave out the tables that differ.
    def rows(dump: dict[str, Any]) -> dict[str, Any]:
        return naturalize(dump["data"], dump.get("schema"))

    differing: set[str] = set()
    for other in (sq, part):
        if other is not None and other["ok"]:
            differing |= set(differing_data_tables(rows(snap), rows(other["results"][1])))
    if differing:
        say(f"rows differ in {len(differing)} table(s): migrating the original history once "
            "more to tell non-deterministic tables apart")
        (again_db,) = pool.make(["original-again"])
        chain("original again", [(full, again_db, [migrate_all, {"op": "dump", "state": False,
                                                                 "since": since}], hide)])
        if errors:
            raise errors[0]
        again = results["original again"][-1]
        if again["ok"]:
            report.nondeterministic = sorted(
                differing & set(differing_data_tables(rows(snap), rows(again["results"][1]))))
        else:
            worker.raise_for(again)
            report.warnings.append(_failure(
                "the original history did not migrate a second time (to tell non-deterministic "
                "tables apart)", again))
    noise = report.nondeterministic
    say("comparing schemas, data and final state")

    if not sq["ok"]:
        report.differences.append(_failure("the squashed history does not migrate", sq))
    else:
        report.checks.append(
            f"schema ({len(snap['schema']['tables'])} tables), data "
            f"({sum(len(rows) for rows in snap['data'].values())} rows) and final state "
            f"({len(snap['state']['models'])} models): original vs squashed history")
        report.differences += compare_snapshots(snap, sq["results"][1], skip_data=noise)
        before, after = orig["results"][2], sq["results"][2]
        report.checks.append(f"makemigrations --check --dry-run {app} with the squashed history")
        if after["changes"] and before["changes"] and after["output"] != before["output"]:
            report.differences.append(
                f"makemigrations --check {app} reports other changes with the squashed history "
                f"than with the original one:\noriginal: {before['output']}\nsquashed: "
                f"{after['output']}")
        elif after["changes"] and before["changes"]:
            report.warnings.append(
                f"makemigrations {app} reports changes with the original history too: "
                + before["output"].replace("\n", " / "))
        elif after["changes"]:
            report.differences.append(
                f"makemigrations --check {app} reports changes with the squashed history: "
                + after["output"])
    if not partial:
        report.warnings.append("partial application not checked (disabled)")
        return timings
    if part is None:
        report.warnings.append("partial application not checked: the range has no migration in "
                               "its middle to stop at")
        return timings
    report.partial_target = target
    label = f"partial (migrated to {target or 'the middle of the range'} with the originals, then to the end)"
    report.checks.append(label)
    if not part["ok"]:
        report.differences.append(_failure(f"{label} failed", part))
    else:
        report.differences += compare_snapshots(snap, part["results"][1], right="partial",
                                                skip_data=noise)
    return timings


__all__ = ["VerifyReport", "verify_squash"]
