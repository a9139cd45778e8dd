"""Benchmark: squasher vs Django's squashmigrations on real apps from PyPI (not a timed test).

    export SQUASHER_REALAPPS_PYTHON=$(bash .ci/realapps.sh | tail -n 1)
    python benchmarks/bench_realapps.py [--apps LABEL ...] [--database sqlite|postgres]
                                        [--baseline-src DIR] [--json FILE]

For each app label of ``tests/realapps/scratch.py`` (a scratch project of 30+ installed apps
with the app's migrations copied and selected with MIGRATION_MODULES), in the real-app venv:

* ``squasher squash <label> <last> --no-verify --format json``: wall time, migrations,
  operations before -> after, and what Django's optimizer alone makes of them;
* ``squasher verify <label> <squash>``: wall time and the verdict (``--baseline-src DIR`` also
  times the verification of another squasher checkout, e.g. the main branch, on the same
  squash: its source is put first on PYTHONPATH);
* ``manage.py squashmigrations <label> <last> --noinput`` on a second scratch copy: wall time
  and Django's "Optimized from X operations to Y" counts;
* ``--migrate``: what the squash buys (issue 16, goal 6): the time Django's executor takes to
  migrate the app and what it depends on on an empty database (the part of creating a test
  database the squash changes) with the original history, with squasher's squash and with Django's, on SQLite and,
  with ``SQUASHER_POSTGRES_DSN`` set, on PostgreSQL (a new database per run). Best of
  ``--migrate-repeat`` runs.

Run it with nothing else on the machine when the numbers matter (2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "realapps"))
from scratch import (  # noqa: E402
    APPS,
    PYTHON_ENV,
    build_project,
    django_squash,
    migration_names,
    realapps_python,
    run,
)

_OPTIMIZED = re.compile(r"Optimized from (\d+) operations to (\d+) operations")


_CREATE_DB = """
import sys, psycopg
from psycopg import sql
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(sys.argv[2])))
    if sys.argv[3] == "create":
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(sys.argv[2])))
"""


_MIGRATE = """
import sys, time, django
django.setup()
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connection)
targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] == sys.argv[1]]
plan = executor.migration_plan(targets)
started = time.perf_counter()
executor.migrate(targets, plan)
print(time.perf_counter() - started, len(plan))
"""


def time_migrate(python: str, root: Path, label: str, vendor: str, repeat: int) -> float | str:
    """Best seconds Django's executor takes to migrate ``label`` and what it depends on on an
    empty database (Django set-up and post_migrate handlers, the same for every history, left
    out: they would hide the difference)."""
    best: float | None = None
    dsn = os.environ.get("SQUASHER_POSTGRES_DSN", "")
    for _ in range(repeat):
        env: dict[str, str] = {}
        if vendor == "sqlite":
            (root / "db.sqlite3").unlink(missing_ok=True)
        else:
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            name = f"bench_migrate_{os.getpid()}"
            run(python, ["-c", _CREATE_DB, dsn, name, "create"], root)
            env["REALAPPS_POSTGRES_DSN"] = make_conninfo(
                **{**conninfo_to_dict(dsn), "dbname": name})
        proc = run(python, ["-c", _MIGRATE, label], root, env=env)
        if vendor != "sqlite":
            run(python, ["-c", _CREATE_DB, dsn, name, "drop"], root)
        if proc.returncode != 0:
            return "failed: " + proc.last_error()[-200:]
        seconds = float(proc.stdout.split()[0])
        best = seconds if best is None else min(best, seconds)
    (root / "db.sqlite3").unlink(missing_ok=True)
    return round(best or 0.0, 3)


def measure(python: str, label: str, work: Path, database: str,
            baseline: Path | None, migrate_repeat: int = 0) -> dict[str, Any]:
    app = APPS[label]
    row: dict[str, Any] = {"label": label, "package": app.package}
    root = work / label / "squasher"
    migrations = build_project(root, app, python)
    names = migration_names(migrations)
    row["migrations"] = len(names)
    vendors = ["sqlite"] + (["postgres"] if os.environ.get("SQUASHER_POSTGRES_DSN") else [])
    if migrate_repeat:
        for vendor in vendors:
            row[f"migrate_original_{vendor}"] = time_migrate(python, root, label, vendor,
                                                             migrate_repeat)
    squash = run(python, ["-m", "squasher", "squash", label, names[-1], "--no-verify",
                          "--format", "json"], root)
    row["squash_s"] = round(squash.seconds, 2)
    row["squash_cpu"] = round(squash.cpu, 2)
    if squash.returncode != 0:
        row["result"] = "squash failed: " + squash.last_error()
    else:
        pieces = json.loads(squash.stdout)["summary"]["squashes"]
        piece = pieces[0]
        row["squashes"] = len(pieces)
        row.update(ops_before=sum(p["operations"]["before"] for p in pieces),
                   ops_after=sum(p["operations"]["after"] for p in pieces),
                   ops_django_optimizer=sum(p["operations"]["django_optimizer"] for p in pieces))
        extra = ["--verify-on", "postgresql" if database == "postgres" else database]
        row["verify_s"] = row["verify_cpu"] = 0.0
        row["result"] = "OK"
        row["nondeterministic"] = []
        for each in pieces:  # every squash written (several where one would be circular)
            verify = run(python, ["-m", "squasher", "verify", label, each["name"], "--format",
                                  "json", *extra], root)
            row["verify_s"] = round(row["verify_s"] + verify.seconds, 2)
            row["verify_cpu"] = round(row["verify_cpu"] + verify.cpu, 2)
            if verify.returncode in (0, 1) and verify.stdout.strip().startswith("{"):
                report = json.loads(verify.stdout)
                if not report["ok"]:
                    row["result"] = report["differences"][0].splitlines()[0]
                row["scope"] = len(report.get("scope") or [])
                row["nondeterministic"] += report.get("nondeterministic") or []
            else:
                row["result"] = "verify failed: " + verify.last_error()
        if migrate_repeat:
            for vendor in vendors:
                row[f"migrate_squasher_{vendor}"] = time_migrate(python, root, label, vendor,
                                                                 migrate_repeat)
        if baseline is not None:
            old = run(python, ["-m", "squasher", "verify", label, piece["name"], *extra], root,
                      env={"PYTHONPATH": os.pathsep.join([str(baseline), str(root)])})
            row["baseline_verify_s"] = round(old.seconds, 2)
            row["baseline_verify_cpu"] = round(old.cpu, 2)
            row["baseline_result"] = (old.stdout or old.stderr).strip().splitlines()[0][-60:] \
                if (old.stdout or old.stderr).strip() else f"exit {old.returncode}"
    # Django's own squashmigrations on a second copy of the same project
    other = work / label / "django"
    build_project(other, app, python)
    django = django_squash(python, other, app, names[-1])
    row["django_s"] = round(django.seconds, 2)
    row["django_cpu"] = round(django.cpu, 2)
    found = _OPTIMIZED.search(django.stdout)
    if django.returncode != 0:
        row["django_result"] = django.last_error()
    elif found:
        row["django_ops"] = int(found.group(2))
    if migrate_repeat and django.returncode == 0:
        for vendor in vendors:
            row[f"migrate_django_{vendor}"] = time_migrate(python, other, label, vendor,
                                                           migrate_repeat)
    return row


def migrate_table(rows: list[dict[str, Any]]) -> str:
    """Fresh ``migrate <label>`` seconds: original history vs squasher's vs Django's squash."""
    lines = ["| app squashed | database | original s | with squasher's squash s | speed-up | "
             "with Django's squash s |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        for vendor in ("sqlite", "postgres"):
            original = r.get(f"migrate_original_{vendor}")
            if original is None:
                continue
            ours = r.get(f"migrate_squasher_{vendor}", "-")
            ratio = (f"{original / ours:.2f}x" if isinstance(original, float)
                     and isinstance(ours, float) and ours else "-")
            lines.append(f"| {r['label']} | {vendor} | {original} | {ours} | {ratio} | "
                         f"{r.get(f'migrate_django_{vendor}', '-')} |")
    return "\n".join(lines)


def _pair(row: dict[str, Any], name: str) -> str:
    if f"{name}_s" not in row:
        return "-"
    return f"{row[f'{name}_s']:.1f} / {row.get(f'{name}_cpu', 0):.1f}"


def table(rows: list[dict[str, Any]], baseline: bool) -> str:
    head = ["app", "migr.", "ops", "squasher", "Django opt.", "Django squash",
            "squash s (wall/CPU)", "verify s (wall/CPU)"]
    if baseline:
        head.append("baseline verify s (wall/CPU)")
    head += ["Django squashmigrations s (wall/CPU)", "verification"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["label"], r["migrations"], r.get("ops_before", "-"), r.get("ops_after", "-"),
                 r.get("ops_django_optimizer", "-"), r.get("django_ops", r.get("django_result", "-")),
                 _pair(r, "squash"), _pair(r, "verify")]
        if baseline:
            cells.append(_pair(r, "baseline_verify"))
        result = r.get("result", "-")
        if r.get("nondeterministic"):
            result += " (noise: " + ", ".join(r["nondeterministic"]) + ")"
        cells += [_pair(r, "django"), result[:110]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    verify = [r["verify_s"] for r in rows if "verify_s" in r]
    if verify:
        cpu = [r["verify_cpu"] for r in rows if "verify_cpu" in r]
        lines.append(f"\nverification median {statistics.median(verify):.1f} s wall, "
                     f"{statistics.median(cpu):.1f} s CPU; max {max(verify):.1f} s wall "
                     f"over {len(verify)} apps")
    old = [r["baseline_verify_s"] for r in rows if "baseline_verify_s" in r]
    if old:
        lines.append(f"baseline verification median {statistics.median(old):.1f} s, "
                     f"max {max(old):.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", nargs="*", default=list(APPS), choices=list(APPS))
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="another squasher checkout whose verify is timed too")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--migrate", action="store_true",
                        help="also time a fresh migrate with the original and squashed histories")
    parser.add_argument("--migrate-repeat", type=int, default=3,
                        help="runs per fresh migrate (best kept; default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="one small app with a single-run fresh migrate (CI: the script cannot rot)")
    args = parser.parse_args(argv)
    if args.quick:
        args.apps = ["otp_static"] if "otp_static" in APPS else args.apps[:1]
        args.migrate_repeat = 1
    python = realapps_python()
    if python is None:
        print(f"bench_realapps: set {PYTHON_ENV} (bash .ci/realapps.sh prints it)",
              file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="squasher-bench-realapps-") as tmp:
        for label in args.apps:
            row = measure(python, label, Path(tmp), args.database, args.baseline_src,
                          args.migrate_repeat if args.migrate or args.quick else 0)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    print(table(rows, args.baseline_src is not None))
    if args.migrate or args.quick:
        print()
        print(migrate_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
