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
  and Django's "Optimized from X operations to Y" counts.

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


def measure(python: str, label: str, work: Path, database: str,
            baseline: Path | None) -> dict[str, Any]:
    app = APPS[label]
    row: dict[str, Any] = {"label": label, "package": app.package}
    root = work / label / "squasher"
    migrations = build_project(root, app, python)
    names = migration_names(migrations)
    row["migrations"] = len(names)
    squash = run(python, ["-m", "squasher", "squash", label, names[-1], "--no-verify",
                          "--format", "json"], root)
    row["squash_s"] = round(squash.seconds, 2)
    row["squash_cpu"] = round(squash.cpu, 2)
    if squash.returncode != 0:
        row["result"] = "squash failed: " + squash.last_error()
    else:
        piece = json.loads(squash.stdout)["summary"]["squashes"][0]
        ops = piece["operations"]
        row.update(ops_before=ops["before"], ops_after=ops["after"],
                   ops_django_optimizer=ops["django_optimizer"])
        extra = ["--database", database]
        verify = run(python, ["-m", "squasher", "verify", label, piece["name"], "--format",
                              "json", *extra], root)
        row["verify_s"] = round(verify.seconds, 2)
        row["verify_cpu"] = round(verify.cpu, 2)
        if verify.returncode in (0, 1) and verify.stdout.strip().startswith("{"):
            report = json.loads(verify.stdout)
            row["result"] = "OK" if report["ok"] else report["differences"][0].splitlines()[0]
            row["scope"] = len(report.get("scope") or [])
            row["nondeterministic"] = report.get("nondeterministic") or []
        else:
            row["result"] = "verify failed: " + verify.last_error()
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
    return row


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
    args = parser.parse_args(argv)
    python = realapps_python()
    if python is None:
        print(f"bench_realapps: set {PYTHON_ENV} (bash .ci/realapps.sh prints it)",
              file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="squasher-bench-realapps-") as tmp:
        for label in args.apps:
            row = measure(python, label, Path(tmp), args.database, args.baseline_src)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    print(table(rows, args.baseline_src is not None))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
