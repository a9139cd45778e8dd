"""Optimizer checks on a real Django project (sample_apps) and on synthetic histories.

Development tool (not part of the package): run as ``python benchmarks/samples.py COMMAND
ROOT`` (own process: it configures Django from ``ROOT/settings.py``); used by
``bench_optimizer.py`` and ``tests/test_optimizer_sqlite.py``:

``histories``
    for every app: its operations in plan order, optimized by Django and by squasher
    (``from_state`` = project state before the app's first migration); prints JSON rows
    with counts and timings (used by the benchmark).
``sqlite``
    migrates one SQLite database with the original migrations and a second one with the
    same plan where every run of consecutive migrations of one app is replaced by a
    single migration holding squasher's optimized operations (``from_state`` = the state
    before the run); prints JSON with the introspected differences (tables, columns,
    constraints ignoring names, row data — wall-clock values masked; for tables written by
    an elidable data migration, which is dropped by design, only the row count) and each
    run's optimizer result.
``synthetic SIZE SEED``
    applies :func:`synthetic.realistic_history` and its optimized form to two SQLite
    databases (no project needed) and compares them.
"""

from __future__ import annotations

import copy
import datetime
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def configure(root: Path, databases: dict[str, Any] | None = None) -> None:
    """Configure Django from ``root/settings.py`` (optionally replacing DATABASES)."""
    import django
    from django.conf import settings

    sys.path.insert(0, str(root))
    module = importlib.import_module("settings")
    values = {k: getattr(module, k) for k in dir(module) if k.isupper()}
    if databases is not None:
        values["DATABASES"] = databases
    settings.configure(**values)
    django.setup()


def full_plan(graph: Any) -> list[tuple[str, str]]:
    """Every node in forwards order to all leaves (what ``migrate`` applies)."""
    plan: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for leaf in sorted(graph.leaf_nodes()):
        for key in graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                plan.append(key)
    return plan


def histories(root: Path) -> list[dict[str, Any]]:
    """Per-app optimizer comparison (see module docstring)."""
    configure(root, {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.optimizer import MigrationOptimizer

    from squasher.optimizer import optimize

    loader = MigrationLoader(connection, ignore_no_migrations=True)
    graph = loader.graph
    plan = full_plan(graph)
    rows = []
    for app in sorted({a for a, _ in plan} & set(loader.migrated_apps)):
        keys = [k for k in plan if k[0] == app]
        ops = [op for k in keys for op in loader.get_migration(*k).operations]
        start = loader.project_state(keys[0], at_end=False)
        t0 = time.perf_counter()
        django_ops = MigrationOptimizer().optimize(list(ops), app)
        t_django = time.perf_counter() - t0
        result = optimize(ops, app, from_state=start)
        rows.append({
            "app": app, "migrations": len(keys), "original": len(ops),
            "django": len(django_ops), "django_seconds": t_django,
            "squasher": len(result.operations), "squasher_seconds": result.seconds,
            "django_count": result.django_count, "fallback": result.fallback,
            "reason": result.reason, "stats": result.stats,
        })
    return rows


def _introspect(alias: str) -> dict[str, Any]:
    from django.db import connections

    conn = connections[alias]
    out: dict[str, Any] = {}
    with conn.cursor() as cursor:
        for table in sorted(conn.introspection.table_names(cursor)):
            if table.startswith("sqlite_") or table == "django_migrations":
                continue
            columns = sorted(
                (c.name, c.type_code, bool(c.null_ok), c.default)
                for c in conn.introspection.get_table_description(cursor, table)
            )
            constraints = sorted(
                json.dumps(
                    {k: v for k, v in info.items() if k not in ("name", "orders", "definition")},
                    sort_keys=True, default=str,
                )
                for info in conn.introspection.get_constraints(cursor, table).values()
            )
            names = [c[0] for c in columns]
            cursor.execute(
                "SELECT {} FROM {}".format(
                    ", ".join(conn.ops.quote_name(n) for n in names), conn.ops.quote_name(table)
                )
            )
            # wall-clock values (auto_now, timezone.now defaults) differ between runs
            rows = sorted(
                repr(tuple("<datetime>" if isinstance(v, (datetime.datetime, datetime.date))
                           else v for v in r))
                for r in cursor.fetchall()
            )
            out[table] = {"columns": columns, "constraints": constraints, "rows": rows}
    return out


def _named_models(op: Any, app_label: str) -> set[str] | None:
    """Lenient reading (test bookkeeping only, not a safety decision): the model names of
    ``app_label`` passed as literals to ``get_model`` in a RunPython's functions."""
    import ast
    import inspect
    import textwrap

    names: set[str] = set()
    for fn in (getattr(op, "code", None), getattr(op, "reverse_code", None)):
        if fn is None:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            return None
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "get_model"):
                args = [a.value for a in node.args if isinstance(a, ast.Constant)]
                if len(args) == 2 and args[0] == app_label:
                    names.add(str(args[1]).lower())
    return names if getattr(op, "code", None) is not None else None


def sqlite_check(root: Path) -> dict[str, Any]:
    """Original vs optimized migrations on two SQLite databases (see module docstring)."""
    tmp = Path(tempfile.mkdtemp(prefix="squasher-opt-"))
    configure(root, {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "orig.sqlite3")},
        "optimized": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "opt.sqlite3")},
    })
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.migration import Migration
    from django.db.migrations.state import ProjectState

    from squasher.optimizer import optimize

    executor = MigrationExecutor(connections["default"])
    loader = executor.loader
    plan = full_plan(loader.graph)
    executor.migrate([k for k in sorted(loader.graph.leaf_nodes())])

    runs: list[list[tuple[str, str]]] = []
    for key in plan:
        if runs and runs[-1][0][0] == key[0]:
            runs[-1].append(key)
        else:
            runs.append([key])
    conn = connections["optimized"]
    state = ProjectState(real_apps=loader.unmigrated_apps)
    results = []
    elided_tables: set[str] = set()
    for run in runs:
        app = run[0][0]
        migrations_ = [loader.get_migration(*k) for k in run]
        ops = [op for m in migrations_ for op in m.operations]
        for op in ops:
            if getattr(op, "elidable", False):
                touched = _named_models(op, app)
                elided_tables |= {f"{app}_{m}" for m in touched or ()}
                if touched is None:
                    elided_tables.add("*")
        result = optimize(ops, app, from_state=state)
        squashed = Migration(f"run_{len(results)}", app)
        squashed.operations = result.operations
        squashed.atomic = all(m.atomic for m in migrations_)
        with conn.schema_editor(atomic=squashed.atomic) as editor:
            state = squashed.apply(state, editor)
        results.append({
            "app": app, "migrations": [k[1] for k in run], "original": len(ops),
            "optimized": len(result.operations), "django": result.django_count,
            "fallback": result.fallback, "reason": result.reason,
        })
    original, optimized = _introspect("default"), _introspect("optimized")
    differences = []
    for table in sorted(set(original) | set(optimized)):
        if table not in optimized:
            differences.append(f"{table}: missing in optimized database")
        elif table not in original:
            differences.append(f"{table}: only in optimized database")
        else:
            for part in ("columns", "constraints", "rows"):
                if (
                    part == "rows"
                    and (table in elided_tables or "*" in elided_tables)
                    and len(original[table][part]) == len(optimized[table][part])
                ):
                    # elidable data migrations are dropped by design (Django does too)
                    continue
                if original[table][part] != optimized[table][part]:
                    differences.append(
                        f"{table}: {part} differ: {original[table][part]} != {optimized[table][part]}"
                    )
    return {"runs": results, "tables": len(original), "differences": differences,
            "elided_tables": sorted(elided_tables)}


def _compare(original: dict[str, Any], optimized: dict[str, Any]) -> list[str]:
    differences = []
    for table in sorted(set(original) | set(optimized)):
        if original.get(table) != optimized.get(table):
            differences.append(f"{table}: {original.get(table)} != {optimized.get(table)}")
    return differences


def synthetic_check(size: int, seed: int) -> dict[str, Any]:
    """Apply :func:`synthetic.realistic_history` and its optimized form to two SQLite
    databases (no project needed) and compare the introspected schemas and rows."""
    import django
    from django.conf import settings

    tmp = Path(tempfile.mkdtemp(prefix="squasher-syn-"))
    settings.configure(
        INSTALLED_APPS=[], USE_TZ=True,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "a.sqlite3")},
            "optimized": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "b.sqlite3")},
        },
    )
    django.setup()
    from django.db import connections
    from django.db.migrations.migration import Migration
    from django.db.migrations.state import ProjectState
    from synthetic import APP, realistic_history

    from squasher.optimizer import optimize

    ops = realistic_history(size, seed)
    result = optimize(ops, APP)
    for alias, operations in (("default", ops), ("optimized", result.operations)):
        migration = Migration("synthetic", APP)
        # Django's state code mutates field objects in place, and both lists share
        # operations: give each database its own copy (as two migration files would).
        migration.operations = copy.deepcopy(operations)
        try:
            with connections[alias].schema_editor(atomic=True) as editor:
                migration.apply(ProjectState(), editor)
        except Exception as exc:
            raise RuntimeError(f"applying the {alias} operations failed: {exc}") from exc
    return {
        "original": len(ops), "optimized": len(result.operations),
        "django": result.django_count, "fallback": result.fallback,
        "differences": _compare(_introspect("default"), _introspect("optimized")),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "synthetic":
        print(json.dumps(synthetic_check(int(args[1]), int(args[2])), default=str))
        return 0
    if len(args) != 2 or args[0] not in ("histories", "sqlite"):
        print("usage: python benchmarks/samples.py histories|sqlite ROOT\n"
              "       python benchmarks/samples.py synthetic SIZE SEED", file=sys.stderr)
        return 2
    root = Path(args[1]).resolve()
    os.chdir(root)
    data: Any = histories(root) if args[0] == "histories" else sqlite_check(root)
    print(json.dumps(data, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
