"""Benchmark: the whole ``squasher squash`` command vs Django's ``squashmigrations`` (issue 16, goal 1).

    python benchmarks/bench_squash.py [--sizes 500 1000 2000] [--sample-apps] [--repeat 1]
                                      [--django-timeout 900] [--json FILE] [--quick]

Both commands run as a user runs them, each in a fresh process on its own copy of the same
tree, in the same run, one after the other (never in parallel: 2 cores):

* generated histories: one app with N migrations (``benchmarks/synthetic.py``, 1-4
  operations each, an occasional RunPython), the whole history squashed:
  ``squasher squash app000 <last> --no-verify --format json`` against
  ``manage.py squashmigrations app000 <last> --noinput``;
* ``--sample-apps``: every app of ``sample_apps`` the same way (``--dry-run`` is not used:
  both write their file).

Per row: wall seconds of each command (best of ``--repeat``), the ratio Django / squasher,
operations before -> after (squasher and Django's optimizer) and squasher's per-phase
breakdown from its JSON summary (``load``: Django set-up and the migration graph, ``optimize``,
``render``: libcst and formatting, ``rest``: interpreter start-up, imports, checks and
output). ``--quick`` runs one small size and one sample app (for CI: the script cannot rot).
Run it with nothing else on the machine when the numbers matter.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic import generate_project  # noqa: E402

SAMPLE_APPS = HERE.parent / "sample_apps"
_OPTIMIZED = re.compile(r"Optimized from (\d+) operations to (\d+) operations")


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def _timed(argv: list[str], cwd: Path, timeout: float) -> tuple[float, subprocess.CompletedProcess[str] | None]:
    started = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=cwd, env=_env(cwd), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None
    return time.perf_counter() - started, proc


def _last_migration(root: Path, app: str) -> str:
    names = sorted(p.stem for p in (root / app / "migrations").glob("[0-9]*.py"))
    return names[-1]


def _ignore(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("__pycache__", ".squasher-journal") or n.endswith(".sqlite3")]


def measure(source: Path, app: str, label: str, repeat: int, django_timeout: float
            ) -> dict[str, Any]:
    """Time both commands on fresh copies of ``source`` (a project root)."""
    row: dict[str, Any] = {"case": label}
    last = _last_migration(source, app)
    best: float | None = None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-squash-") as tmp:
            root = Path(tmp) / "p"
            shutil.copytree(source, root, ignore=_ignore)
            seconds, proc = _timed([sys.executable, "-m", "squasher", "squash", app, last,
                                    "--no-verify", "--format", "json"], root, django_timeout)
        if proc is None or proc.returncode != 0:
            row["squasher"] = "failed: " + ((proc.stderr.strip().splitlines() or ["?"])[-1]
                                           if proc else "timeout")
            break
        if best is None or seconds < best:
            best = seconds
            summary = json.loads(proc.stdout)["summary"]
            pieces = summary["squashes"]
            row["ops_before"] = sum(p["operations"]["before"] for p in pieces)
            row["ops_squasher"] = sum(p["operations"]["after"] for p in pieces)
            row["ops_django_optimizer"] = sum(p["operations"]["django_optimizer"] for p in pieces)
            timings = summary["timings"]
            phases = {k: timings.get(k, 0.0) for k in ("load", "optimize", "render")}
            phases["rest"] = round(seconds - sum(phases.values()), 3)
            row["phases"] = phases
    if best is not None:
        row["squasher_s"] = round(best, 3)
    best_django: float | None = None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-squash-dj-") as tmp:
            root = Path(tmp) / "p"
            shutil.copytree(source, root, ignore=_ignore)
            seconds, proc = _timed([sys.executable, "manage.py", "squashmigrations", app, last,
                                    "--noinput"], root, django_timeout)
        if proc is None:
            row["django"] = f"timeout after {django_timeout:.0f} s"
            break
        if proc.returncode != 0:
            row["django"] = "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
            break
        found = _OPTIMIZED.search(proc.stdout)
        if found:
            row["ops_django_command"] = int(found.group(2))
        best_django = seconds if best_django is None else min(best_django, seconds)
    if best_django is not None:
        row["django_s"] = round(best_django, 3)
        if best is not None:
            row["django_over_squasher"] = round(best_django / best, 2)
    return row


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'case':<28} {'ops':>6} {'sq ops':>6} {'dj ops':>6} {'squasher s':>10} "
          f"{'Django s':>9} {'Django/sq':>9}  phases (load/optimize/render/rest)")
    for row in rows:
        phases = row.get("phases") or {}
        phase_text = "/".join(f"{phases.get(k, 0):.2f}" for k in ("load", "optimize", "render",
                                                                  "rest"))
        print(f"{row['case']:<28} {row.get('ops_before', '-')!s:>6} "
              f"{row.get('ops_squasher', '-')!s:>6} {row.get('ops_django_command', '-')!s:>6} "
              f"{row.get('squasher_s', row.get('squasher', '-'))!s:>10} "
              f"{row.get('django_s', row.get('django', '-'))!s:>9} "
              f"{row.get('django_over_squasher', '-')!s:>9}  {phase_text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[500, 1000, 2000],
                        help="migrations of the generated app (default: 500 1000 2000)")
    parser.add_argument("--sample-apps", action="store_true",
                        help="also every app of sample_apps")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command (best kept)")
    parser.add_argument("--django-timeout", type=float, default=900,
                        help="seconds before a command is stopped (default 900)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="one 40-migration history and one sample app (CI)")
    args = parser.parse_args(argv)
    sizes = [40] if args.quick else args.sizes
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-squash-src-") as tmp:
        for size in sizes:
            source = generate_project(Path(tmp) / f"gen{size}", apps=1, per_app=size)
            rows.append(measure(source, "app000", f"generated {size} migrations", args.repeat,
                                args.django_timeout))
            print(f"measured {rows[-1]['case']}", file=sys.stderr)
    if args.sample_apps or args.quick:
        apps = sorted(p.parent.parent.name for p in SAMPLE_APPS.glob("*/migrations/__init__.py"))
        for app in apps[:1] if args.quick else apps:
            rows.append(measure(SAMPLE_APPS, app, f"sample_apps {app}", args.repeat,
                                args.django_timeout))
    print()
    _print(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    failed = [r["case"] for r in rows if "squasher_s" not in r]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
