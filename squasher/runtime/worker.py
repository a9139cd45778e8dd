"""The one Django job protocol: ``python -m squasher.runtime.worker JOB.json``.

Every Django process squasher starts is this module running one job; the parent side is
:class:`WorkerClient` (writes the job file, starts the process, reads the result, shows paths
of a project copy as the user's). Each migration history needs a fresh process: Django's app
registry, migration modules and database connections are process-wide. A job file::

    {"root": "/tmp/.../original", "settings": "mysite.settings",
     "database": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/.../a.sqlite3"},
     "output": "/tmp/.../result.json",
     "hide_squash": {"squash": ["billing", "0001_squashed_0004_x"], "leaf": ["billing", "0004_x"]},
     "steps": [{"op": "inspect", "app": "billing", "migration": "0001_squashed"},
               {"op": "migrate", "targets": null},            # null: every leaf
               {"op": "migrate", "targets": [["billing", "0002_x"]]},
               {"op": "migrate", "apps": ["billing", "orders"]},  # those apps' leaves only
               {"op": "migrate", "pick_from": [["billing", "0001_a"], ...], "signals": false},
               {"op": "migrate", "targets": null, "signals": false, "per_app": true},
               {"op": "dump", "state": true, "data": true},
               {"op": "makemigrations_check", "app": "billing"},
               {"op": "graph", "applied": [["billing", "0001_a"]]}]}
    # or only [{"op": "databases"}]: the settings' DATABASES, read without django.setup()

and the worker writes ``{"ok": true, "results": [...one per step...]}`` or ``{"ok": false,
"error": {"kind": "settings"|"database"|"usage"|"load"|"migrate"|"internal", "message", "hint",
"path", "line", "results": [...steps done...]}}`` to ``output``. ``settings.DATABASES`` is
replaced by the job's single ``default`` database (``null``: an in-memory SQLite database)
before ``django.setup()`` (and routers are dropped); ``hide_squash`` (optional) loads
migrations as if the squash file were absent; ``drop_elidable`` (optional, a list of ``[app,
name, index]`` of elidable operations, or of migration keys for all their elidable
operations) loads those migrations without them, so the project's own databases are never
touched. Django work happens in-process (``MigrationExecutor``, ``call_command``), never
through ``manage.py``.

Steps: ``inspect`` (a squash and what it replaces), ``migrate`` (``per_app``: also the
seconds and number of migrations applied per app, for ``compact``'s before/after table),
``dump`` (schema, rows, final state: :mod:`squasher.runtime.dbcompare`),
``makemigrations_check``, ``graph`` (the graph ``MigrationLoader`` builds: nodes with
``external`` for files outside ``root``, edges, each leaf's plan, the apps in conflict;
``applied`` migrations are recorded in the database first) and ``databases``.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.errors import (
    DatabaseUnavailableError,
    SettingsError,
    SquasherError,
    UnknownAppError,
    UnknownMigrationError,
    UsageError,
    VerificationError,
)

if TYPE_CHECKING:  # the parent side (WorkerClient) never imports Django
    from django.db.migrations.graph import MigrationGraph as DjangoMigrationGraph
    from django.db.migrations.loader import MigrationLoader

#: seconds a job may run before the parent gives up on it (a migration waiting on a lock)
WORKER_TIMEOUT = 540
#: the database of a job that names none: loading the graph needs no file
MEMORY_DATABASE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}


class StepError(Exception):
    def __init__(self, kind: str, message: str, *, hint: str | None = None,
                 path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.hint, self.path, self.line = kind, message, hint, path, line


def _project_frame(exc: BaseException, root: Path) -> tuple[str | None, int | None]:
    """The innermost traceback frame in a file under ``root`` (the project copy)."""
    if isinstance(exc, SyntaxError) and exc.filename and not exc.filename.startswith("<"):
        return exc.filename, exc.lineno
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<"):
            continue
        try:
            Path(frame.filename).resolve().relative_to(root)
        except ValueError:
            continue
        found = (frame.filename, frame.lineno)
    return found


def _first_lines(exc: BaseException, limit: int = 6) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = text.splitlines()
    return "\n".join(lines[:limit]) + ("\n..." if len(lines) > limit else "")


def _deterministic() -> None:
    """Same "random" values in every history: data migrations may call uuid4() or random.

    The parent also sets ``PYTHONHASHSEED=0``, so iterating over a set of strings gives the same
    order (and the same primary keys) in every worker.
    """
    import random
    import uuid

    random.seed(0)
    generator = random.Random(0)

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=generator.getrandbits(128), version=4)

    # migration writer / state comparison see the same dotted path as the real one
    uuid4.__module__, uuid4.__qualname__ = "uuid", "uuid4"
    uuid.uuid4 = uuid4


def _import_settings(job: dict[str, Any]) -> None:
    """Import the project's settings the way ``manage.py`` does (no ``django.setup()``)."""
    root = Path(job["root"]).resolve()
    os.chdir(root)
    from squasher.errors import SquasherError
    from squasher.runtime.django_setup import prepare_import

    try:
        prepare_import(root, job["settings"], job.get("pythonpath", ()))
    except SquasherError as exc:
        raise StepError("settings", exc.message, hint=exc.hint,
                        path=str(exc.path) if exc.path else None, line=exc.line) from exc
    _deterministic()
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - imports the settings module
    except Exception as exc:
        path, line = _project_frame(exc, root)
        raise StepError(
            "settings",
            f"settings module {job['settings']!r} failed to import: {_first_lines(exc)}",
            hint="fix the error, or pass --settings / set DJANGO_SETTINGS_MODULE",
            path=path, line=line,
        ) from exc


def _setup(job: dict[str, Any]) -> None:
    import django
    from django.conf import settings

    _import_settings(job)
    root = Path(job["root"]).resolve()
    if job.get("hide_squash"):
        _hide_squash(tuple(job["hide_squash"]["squash"]), tuple(job["hide_squash"]["leaf"]))
    if job.get("drop_elidable"):
        _drop_elidable([tuple(k) for k in job["drop_elidable"]])
    settings.DATABASES = {"default": job.get("database") or MEMORY_DATABASE}
    settings.DATABASE_ROUTERS = []
    try:
        django.setup()
    except Exception as exc:
        path, line = _project_frame(exc, root)
        raise StepError("settings", f"Django setup failed: {_first_lines(exc)}",
                        hint="the project must import as manage.py would import it",
                        path=path, line=line) from exc


def _drop_elidable(items: list[tuple[Any, ...]]) -> None:
    """Load migrations without elidable operations (as a squash drops them): ``(app, name,
    index)`` drops that operation, ``(app, name)`` every elidable operation of the migration."""
    from django.db.migrations.loader import MigrationLoader

    whole = {tuple(k) for k in items if len(k) == 2}
    single: dict[tuple[str, str], set[int]] = {}
    for item in items:
        if len(item) == 3:
            single.setdefault((item[0], item[1]), set()).add(int(item[2]))
    load_disk = MigrationLoader.load_disk

    def load_disk_without_elidable(self: MigrationLoader) -> None:
        load_disk(self)
        for key, migration in self.disk_migrations.items():
            if key in whole or key in single:
                drop = single.get(key, set())
                migration.operations = [
                    op for i, op in enumerate(migration.operations)
                    if not (getattr(op, "elidable", False) and (key in whole or i in drop))]

    MigrationLoader.load_disk = load_disk_without_elidable


#: name of the elidable RunPython the squash writer inserts between data and schema changes
CHECKPOINT_NAME = "squasher_constraint_checkpoint"


def _op_signature(op: Any) -> tuple[Any, ...]:
    """What identifies an elidable operation of the originals in a squash that kept it."""
    kind = type(op).__name__
    if hasattr(op, "code"):
        return (kind, getattr(op.code, "__name__", None))
    if hasattr(op, "sql"):
        return (kind, repr(op.sql))
    return (kind,)


def _dropped_elidable(originals: list[tuple[tuple[str, str], int, Any]],
                      squash_ops: list[Any]) -> list[tuple[tuple[str, str], int, Any]]:
    """The elidable operations of the originals the squash does not carry.

    Elidable operations of the squash other than the writer's constraint checkpoints are
    matched to the originals' by kind and function name (RunPython) or SQL (RunSQL); one that
    matches nothing (carried under another name) is taken for the first unmatched original
    operation of its kind.
    """
    kept = [op for op in squash_ops if getattr(op, "elidable", False)
            and getattr(getattr(op, "code", None), "__name__", None) != CHECKPOINT_NAME]
    remaining = list(originals)
    unmatched = []
    for op in kept:
        signature = _op_signature(op)
        for i, (_, _, orig) in enumerate(remaining):
            if _op_signature(orig) == signature:
                del remaining[i]
                break
        else:
            unmatched.append(op)
    for op in unmatched:
        for i, (_, _, orig) in enumerate(remaining):
            if type(orig).__name__ == type(op).__name__:
                del remaining[i]
                break
    return remaining


def _hide_squash(squash: tuple[str, ...], leaf: tuple[str, ...]) -> None:
    """Load migrations as if the squash file did not exist (the original history).

    Migrations written after the squash depend on it by name; they are pointed at the last
    migration it replaces instead, which is what they depended on before the squash existed.
    """
    from django.db.migrations.loader import MigrationLoader

    load_disk = MigrationLoader.load_disk

    def load_disk_without_squash(self: MigrationLoader) -> None:
        load_disk(self)
        self.disk_migrations.pop(squash, None)
        for migration in self.disk_migrations.values():
            migration.dependencies = [leaf if tuple(d) == squash else d
                                      for d in migration.dependencies]
            migration.run_before = [leaf if tuple(d) == squash else d for d in migration.run_before]

    MigrationLoader.load_disk = load_disk_without_squash


def _connection() -> Any:
    from django.db import connections

    connection = connections["default"]
    try:
        connection.ensure_connection()
    except Exception as exc:
        raise StepError("database", f"cannot connect to the database: {_first_lines(exc, 3)}",
                        hint="check that the database server is running and reachable") from exc
    return connection


def _inspect(job: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    from importlib import import_module

    from django.apps import apps
    from django.db.migrations.exceptions import AmbiguityError
    from django.db.migrations.loader import MigrationLoader

    app, prefix = step["app"], step["migration"]
    try:
        loader = MigrationLoader(None, ignore_no_migrations=True, replace_migrations=False)
    except Exception as exc:
        path, line = _project_frame(exc, Path(job["root"]).resolve())
        raise StepError("load", f"the migrations cannot be loaded: {_first_lines(exc)}",
                        path=path, line=line, hint="every migration file must import") from exc
    if app not in loader.migrated_apps:
        labels = sorted(loader.migrated_apps)
        known = any(cfg.label == app for cfg in apps.get_app_configs())
        raise StepError("usage", f"app {app!r} has no migrations" if known else f"unknown app {app!r}",
                        hint="apps with migrations: " + ", ".join(labels))
    try:
        migration = loader.get_migration_by_prefix(app, prefix)
    except AmbiguityError:
        names = sorted(n for a, n in loader.disk_migrations if a == app and n.startswith(prefix))
        squashes = [n for n in names if loader.disk_migrations[app, n].replaces]
        if len(squashes) != 1:  # one squash among the candidates: that is the one to verify
            raise StepError("usage", f"{prefix!r} matches several migrations of {app}: "
                            + ", ".join(names), hint="give more of the name") from None
        migration = loader.disk_migrations[app, squashes[0]]
    except KeyError:
        squashes = sorted(n for (a, n), m in loader.disk_migrations.items() if a == app and m.replaces)
        raise StepError("usage", f"no migration of {app} matches {prefix!r}",
                        hint="squashed migrations of this app: " + (", ".join(squashes) or "none")
                        ) from None

    def module_file(key: tuple[str, str]) -> str:
        mig = loader.disk_migrations[key]
        return str(Path(import_module(mig.__module__).__file__ or "").resolve())

    key = (migration.app_label, migration.name)
    replaces = [tuple(r) for r in migration.replaces]
    if not replaces:
        raise StepError("usage", f"{app}.{migration.name} is not a squashed migration (no replaces)",
                        path=module_file(key), hint="pass the name of a migration that has `replaces`")
    missing = [f"{a}.{n}" for a, n in replaces if (a, n) not in loader.disk_migrations]
    if missing:
        raise StepError(
            "usage",
            f"the migrations {app}.{migration.name} replaces are not all on disk "
            f"(missing: {', '.join(missing)}); there is no original history to compare with",
            path=module_file(key), hint="verify a squash before finalizing it")
    # Everything the squash stands for: its replaced migrations and, when one of them is itself
    # a squash (nested replaces), that squash's replaced migrations, recursively.
    covered = set(replaces)
    pending = list(replaces)
    while pending:
        member = loader.disk_migrations.get(pending.pop())
        for inner in (tuple(r) for r in (member.replaces if member else [])):
            if inner not in covered and inner in loader.disk_migrations:
                covered.add(inner)
                pending.append(inner)
    # Older squashes of only covered migrations that the squash does not replace themselves
    # (flattened replaces): with both on disk Django keeps them as separate nodes.
    shadowed = sorted(
        f"{k[0]}.{k[1]}" for k, other in loader.disk_migrations.items()
        if other.replaces and k != key and k not in covered
        and {tuple(r) for r in other.replaces} <= covered)
    order: list[tuple[str, str]] = []
    for leaf in sorted(covered):
        for node in loader.graph.forwards_plan(leaf):
            if node in covered and node not in order:
                order.append(node)
    scope, prefix = _scope_and_prefix(loader.graph, migration.app_label, key, set(order))

    def label(k: tuple[str, str], op: Any) -> str:
        return f"{k[0]}.{k[1]}: {type(op).__name__}" + (
            f" {op.code.__name__}" if hasattr(op, "code") and hasattr(op.code, "__name__") else "")

    originals = [
        (k, i, op) for k in order for i, op in enumerate(loader.disk_migrations[k].operations)
        if getattr(op, "elidable", False) and not loader.disk_migrations[k].replaces
    ]
    elidable = [label(k, op) for k, _, op in originals]
    dropped = _dropped_elidable(originals, list(migration.operations))
    return {
        "app": migration.app_label,
        "name": migration.name,
        "file": module_file(key),
        "elidable": elidable,
        "squash_elidable": sum(bool(getattr(op, "elidable", False)) for op in migration.operations),
        "dropped_elidable": [{"at": [k[0], k[1], i], "label": label(k, op)}
                             for k, i, op in dropped],
        "replaces": [list(k) for k in order if k in replaces],
        "covered": [list(k) for k in order],
        "covered_files": [module_file(k) for k in order],
        "shadowed": shadowed,
        "scope_apps": scope,
        "prefix": [list(k) for k in prefix],
    }


def _scope_and_prefix(graph: DjangoMigrationGraph, app: str, squash: tuple[str, str],
                      covered: set[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """What a squash can affect, in the graph of every file (squash and originals both present).

    * scope: the app and every app with a migration depending on (or run before) a migration
      of the range or on the squash; migrating those apps to their leaves migrates the app's
      dependency closure and what builds on the range, and nothing unrelated.
    * prefix: the migrations outside the range the range depends on directly (not descendants of
      it); both histories start by migrating to them, so one database migrated to them is a
      template for every run.
    """
    affected = covered | {squash}
    scope = {app}
    for key, node in graph.node_map.items():
        if key[0] != app and key not in affected and any(p.key in affected for p in node.parents):
            scope.add(key[0])
    below: set[tuple[str, str]] = set()
    pending = [k for k in affected if k in graph.node_map]
    while pending:
        for child in graph.node_map[pending.pop()].children:
            if child.key not in below:
                below.add(child.key)
                pending.append(child.key)
    prefix = {p.key for k in affected if k in graph.node_map for p in graph.node_map[k].parents}
    return sorted(scope), sorted(prefix - affected - below)


def _migrate(step: dict[str, Any], progress: list[str]) -> dict[str, Any]:
    from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
    from django.db.migrations.executor import MigrationExecutor

    connection = _connection()
    started = time.perf_counter()
    per_app: dict[str, float] = {}
    count: dict[str, int] = {}
    applying: dict[str, float] = {}

    def callback(action: str, migration: Any = None, fake: bool = False) -> None:
        if action == "apply_start":
            progress.append(f"{migration.app_label}.{migration.name}")
            applying["since"] = time.perf_counter()
        elif action == "apply_success" and migration is not None:
            spent = time.perf_counter() - applying.get("since", time.perf_counter())
            per_app[migration.app_label] = per_app.get(migration.app_label, 0.0) + spent
            count[migration.app_label] = count.get(migration.app_label, 0) + 1

    def done(result: dict[str, Any]) -> dict[str, Any]:
        result["seconds"] = round(time.perf_counter() - started, 3)
        if step.get("per_app"):
            result.update(per_app=per_app, count=count)
        return result

    executor = MigrationExecutor(connection, callback)
    try:
        executor.loader.check_consistent_history(connection)
    except Exception as exc:
        raise StepError("migrate", f"inconsistent migration history: {_first_lines(exc)}") from exc
    chosen = None
    scoped = step.get("apps") is not None and step.get("pick_from") is None
    if step.get("pick_from") is not None:
        # partial application: a migration in the middle of those present in this graph
        present = [tuple(k) for k in step["pick_from"] if tuple(k) in executor.loader.graph.nodes]
        if len(present) < 2:
            return {"applied": [], "target": None, "seconds": 0.0}
        chosen = present[(len(present) - 1) // 2]
        targets = [chosen]
    elif step.get("targets"):
        targets = _present(executor.loader, [tuple(t) for t in step["targets"]])
    elif scoped:
        # only what the squash can affect: these apps' leaves (and their dependency closure)
        wanted = set(step["apps"])
        targets = sorted(n for n in executor.loader.graph.leaf_nodes() if n[0] in wanted)
    else:
        targets = executor.loader.graph.leaf_nodes()
    plan = executor.migration_plan(targets)
    out = io.StringIO()
    state = executor._create_project_state(with_applied_migrations=True)
    signals = step.get("signals", True)
    if signals:
        if scoped:
            _emit_scoped("pre_migrate", connection, out, state.apps, plan)
        else:
            emit_pre_migrate_signal(0, False, connection.alias, stdout=out, apps=state.apps,
                                    plan=plan)
    post_state = executor.migrate(targets, plan=plan, state=state.clone(), fake=False,
                                  fake_initial=False)
    applied = [f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards]
    target = f"{chosen[0]}.{chosen[1]}" if chosen else None
    if not signals:
        return done({"applied": applied, "target": target})
    post_state.clear_delayed_apps_cache()
    post_apps = post_state.apps
    from django.apps import apps as global_apps
    from django.db.migrations.state import ModelState

    with post_apps.bulk_update():
        model_keys = []
        for model_state in post_apps.real_models:
            model_key = model_state.app_label, model_state.name_lower
            model_keys.append(model_key)
            post_apps.unregister_model(*model_key)
    # Content types and permissions get their ids in the order of the models of post_apps,
    # which is the order the history created them in: a squash creating models in another
    # order would give every row another id. Use the project's model order instead (the
    # order a fresh database gets with any history).
    order = {(m._meta.app_label, m._meta.model_name): i for i, m in enumerate(
        global_apps.get_models(include_auto_created=True, include_swapped=True))}
    model_keys.sort(key=lambda k: (order.get(k, len(order)), k))
    post_apps.render_multiple(
        [ModelState.from_model(global_apps.get_model(*model)) for model in model_keys]
    )
    if scoped:
        _emit_scoped("post_migrate", connection, out, post_apps, plan)
    else:
        emit_post_migrate_signal(0, False, connection.alias, stdout=out, apps=post_apps,
                                 plan=plan)
    return done({"applied": applied, "target": target})


def _emit_scoped(name: str, connection: Any, out: io.StringIO, apps: Any, plan: Any) -> None:
    """pre_/post_migrate for the apps that have migrations applied in this database only.

    Only some apps are migrated (what the squash can affect); the receivers of the others
    (``if sender.name.endswith("x"): X.objects.get_or_create(...)``) would query tables that
    do not exist. Django sends the signal to every app config with a models module.
    """
    from django.apps import apps as global_apps
    from django.db.migrations.recorder import MigrationRecorder
    from django.db.models import signals

    labels = {app for app, _ in MigrationRecorder(connection).applied_migrations()}
    signal = getattr(signals, name)
    for app_config in global_apps.get_app_configs():
        if app_config.models_module is None or app_config.label not in labels:
            continue
        signal.send(sender=app_config, app_config=app_config, verbosity=0, interactive=False,
                    using=connection.alias, stdout=out, apps=apps, plan=plan)


def _present(loader: MigrationLoader, targets: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Targets of the loaded graph: a migration an applied-as-a-whole squash replaces is
    migrated through that squash."""
    out: list[tuple[str, ...]] = []
    for target in targets:
        if target not in loader.graph.nodes:
            target = next((key for key, mig in loader.replacements.items()
                           if target in {tuple(r) for r in mig.replaces}), target)
        if target not in out:
            out.append(target)
    return out


def _dump(step: dict[str, Any]) -> dict[str, Any]:
    from django.db.migrations.loader import MigrationLoader

    from squasher.runtime import dbcompare

    connection = _connection()
    result: dict[str, Any] = {"schema": dbcompare.snapshot_schema(connection)}
    if step.get("data", True):
        window = None
        if step.get("since"):
            start = datetime.datetime.fromtimestamp(step["since"] - 60, datetime.UTC)
            window = (start, datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1))
        result["data"] = dbcompare.snapshot_data(connection, now_window=window)
    if step.get("state", True):
        result["state"] = dbcompare.snapshot_state(MigrationLoader(connection).project_state())
    return result


def _makemigrations_check(step: dict[str, Any]) -> dict[str, Any]:
    from django.core.management import call_command

    out = io.StringIO()
    changes = False
    try:
        call_command("makemigrations", step["app"], check=True, dry_run=True, interactive=False,
                     verbosity=1, stdout=out, stderr=out)
    except SystemExit as exc:
        changes = bool(exc.code)
    except Exception as exc:  # CommandError (conflicts...) counts as "not clean"
        changes = True
        out.write(_first_lines(exc))
    return {"changes": changes, "output": out.getvalue().strip()}


def _graph(job: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """The graph Django's ``MigrationLoader`` builds (``ignore_no_migrations``), as JSON.

    ``applied`` (optional) are recorded in the job's database first (an in-memory SQLite
    one unless the job names another), so partially applied squashes are handled as on a
    real database. ``external`` is true for migrations whose file is outside ``root``
    (``auth``, ``contenttypes``, installed third-party apps); ``plans`` maps each leaf to
    Django's ``forwards_plan`` of it; ``conflicts``: the apps with more than one leaf
    (``detect_conflicts``, what makes ``migrate`` refuse).
    """
    from django.db.migrations.loader import MigrationLoader

    from squasher.runtime.django_setup import loader_graph

    connection = None
    if step.get("applied") is not None:
        from django.db.migrations.recorder import MigrationRecorder

        connection = _connection()
        recorder = MigrationRecorder(connection)
        recorder.ensure_schema()
        for app, name in step["applied"]:
            recorder.record_applied(app, name)
    try:
        loader = MigrationLoader(connection, ignore_no_migrations=True)
    except Exception as exc:  # Django raises plain ValueError / NodeNotFoundError
        path, line = _project_frame(exc, Path(job["root"]).resolve())
        raise StepError("load", f"Django's migration loader failed: {_first_lines(exc)}",
                        path=path, line=line,
                        hint="run `squasher check` to see the problem statically") from exc
    g = loader_graph(loader)
    base = str(Path(job["root"]).resolve())

    def external(path: str | None) -> bool:
        return not (path and str(Path(path).resolve()).startswith(base))

    return {
        "nodes": sorted([list(k), external(d.get("path"))] for k, d in g.nodes(data=True)),
        "edges": sorted([list(a), list(b)] for a, b in g.edges()),
        "plans": sorted([list(leaf), [list(k) for k in loader.graph.forwards_plan(leaf)]]
                        for leaf in loader.graph.leaf_nodes()),
        "conflicts": sorted(loader.detect_conflicts()),
    }


def _project_databases() -> dict[str, dict[str, Any]]:
    """The project's ``DATABASES`` as the settings module defines them, JSON-safe: strings,
    numbers and booleans (a ``Path`` NAME as text); OPTIONS values that are objects (an SSL
    context, a pool) are left out, and the parent only needs the server's address anyway."""
    from django.conf import settings

    def plain(value: Any) -> Any:
        """``value`` as JSON, or ``_DROP`` for what JSON cannot hold (each value converted once)."""
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, dict):
            converted = {str(k): plain(v) for k, v in value.items()}
            return {k: v for k, v in converted.items() if v is not _DROP}
        return _DROP

    databases = getattr(settings, "DATABASES", None) or {}
    return {str(alias): plain(entry) for alias, entry in databases.items()
            if isinstance(entry, dict)}


_DROP = object()


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    results: list[Any] = []
    progress: list[str] = []
    root = Path(job["root"]).resolve()
    try:
        if all(step["op"] == "databases" for step in job["steps"]):
            _import_settings(job)  # the settings are all it needs: no app imported
        else:
            _setup(job)
        for step in job["steps"]:
            op = step["op"]
            if op == "databases":
                results.append(_project_databases())
            elif op == "inspect":
                results.append(_inspect(job, step))
            elif op == "migrate":
                try:
                    results.append(_migrate(step, progress))
                except StepError:
                    raise
                except Exception as exc:
                    path, line = _project_frame(exc, root)
                    where = f" while applying {progress[-1]}" if progress else ""
                    raise StepError("migrate", f"migrate failed{where}: {_first_lines(exc)}",
                                    path=path, line=line) from exc
            elif op == "dump":
                results.append(_dump(step))
            elif op == "makemigrations_check":
                results.append(_makemigrations_check(step))
            elif op == "graph":
                results.append(_graph(job, step))
            else:
                raise StepError("internal", f"unknown worker step {op!r}")
    except StepError as err:
        return {"ok": False, "results": results, "error": {
            "kind": err.kind, "message": err.message, "hint": err.hint, "path": err.path,
            "line": err.line}}
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never a bare traceback
        if isinstance(exc, KeyboardInterrupt):
            raise
        path, line = _project_frame(exc, root)
        return {"ok": False, "results": results, "error": {
            "kind": "internal", "message": _first_lines(exc), "hint": None, "path": path,
            "line": line, "traceback": traceback.format_exc()}}
    return {"ok": True, "results": results}


# --------------------------------------------------------------------------- parent side


class WorkerClient:
    """Runs jobs in ``python -m squasher.runtime.worker`` processes (the parent's side).

    ``tmp``: the folder for job and result files (one temporary folder per job when None);
    ``origin``: the user's project when jobs run in a copy of it, whose paths in errors are
    shown as the project's; ``error``: the exception (a :class:`SquasherError` class) raised
    when a process dies or times out, called ``name`` in the message. ``PYTHONHASHSEED`` is
    ``hash_seed`` (iterating over a set of strings gives the same order, and the same primary
    keys, in every worker), inherited when None. Safe to use from several threads.
    """

    def __init__(self, settings_module: str, *, tmp: Path | None = None,
                 origin: Path | None = None, timeout: float = WORKER_TIMEOUT,
                 error: type[SquasherError] = VerificationError,
                 name: str = "the verification worker", hash_seed: str | None = "0") -> None:
        self.settings, self.tmp, self.origin = settings_module, tmp, origin
        self.timeout, self.error, self.name, self.hash_seed = timeout, error, name, hash_seed
        self._counter = 0
        self._lock = threading.Lock()

    def _unmap(self, text: str | None, tree: Path) -> str | None:
        """Show paths of the project copy as paths of the user's project."""
        if text is None or self.origin is None:
            return text
        return text.replace(str(tree.resolve()), str(self.origin)).replace(str(tree), str(self.origin))

    def run(self, tree: Path, database: dict[str, Any] | None, steps: list[dict[str, Any]],
            **options: Any) -> dict[str, Any]:
        """Run ``steps`` on the project at ``tree`` with ``database`` as its only database;
        the worker's answer (``ok``, ``results``, ``error``)."""
        if self.tmp is None:
            with tempfile.TemporaryDirectory(prefix="squasher-job-") as tmp:
                return self._run(Path(tmp), 1, tree, database, steps, options)
        with self._lock:
            self._counter += 1
            number = self._counter
        return self._run(self.tmp, number, tree, database, steps, options)

    def _run(self, tmp: Path, number: int, tree: Path, database: dict[str, Any] | None,
             steps: list[dict[str, Any]], options: dict[str, Any]) -> dict[str, Any]:
        job_file = tmp / f"job{number}.json"
        out_file = tmp / f"result{number}.json"
        job = {"root": str(tree), "settings": self.settings, "database": database,
               "output": str(out_file), "steps": steps, **options}
        job_file.write_text(json.dumps(job))
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
               "DJANGO_SETTINGS_MODULE": self.settings}
        if self.hash_seed is not None:
            env["PYTHONHASHSEED"] = self.hash_seed
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "squasher.runtime.worker", str(job_file)], cwd=tree, env=env,
                capture_output=True, text=True, timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            raise self.error(f"{self.name} took longer than {self.timeout:g}s",
                             hint="is a migration waiting on a lock?") from None
        if not out_file.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise self.error(f"{self.name} died (exit {proc.returncode}): {self._unmap(tail, tree)}")
        result: dict[str, Any] = json.loads(out_file.read_text())
        if not result["ok"]:
            error = result["error"]
            for key in ("message", "path"):
                error[key] = self._unmap(error.get(key), tree)
        return result

    @staticmethod
    def raise_for(result: dict[str, Any]) -> None:
        """Turn environment errors (settings, database, usage, load) into exceptions."""
        if result["ok"]:
            return
        error = result["error"]
        kw = {"path": error.get("path"), "line": error.get("line"), "hint": error.get("hint")}
        kind, message = error["kind"], error["message"]
        if kind == "settings":
            raise SettingsError(message, **kw)
        if kind == "database":
            raise DatabaseUnavailableError(message, **kw)
        if kind == "usage":
            cls = UnknownAppError if message.startswith("unknown app") else (
                UnknownMigrationError if "matches" in message else UsageError)
            raise cls(message, **kw)
        if kind == "load":
            raise VerificationError(message, **kw)
        if kind == "internal":
            raise VerificationError(f"unexpected error in the verification worker: {message}", **kw)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m squasher.runtime.worker JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(args[0]).read_text())
    # Project code may print (RunPython, signal handlers): keep stdout for the parent's log only.
    result = run_job(job)
    Path(job["output"]).write_text(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
