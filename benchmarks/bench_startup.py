"""Benchmark: how long a user waits for the quick commands (issue 16, goal 2).

    python benchmarks/bench_startup.py [--repeat 15] [--json FILE]

Each command runs as a whole process (interpreter start-up included), ``--repeat`` times
after one warm-up run (the parse cache and the OS file cache are warm, as on the second
commit under pre-commit), in the same run as Django's nearest equivalents on
``sample_apps``:

* ``squasher --help``                     vs ``manage.py help``
* ``squasher check`` (the whole graph)    vs ``manage.py makemigrations --check --dry-run``
* ``squasher graph --format json``        vs ``manage.py showmigrations --plan`` (SQLite)

Goals (issue 16): ``--help`` <= 100 ms, ``check`` <= 250 ms warm.  Reported: minimum and
median seconds and the ratio of the medians.  Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_APPS = Path(__file__).resolve().parent.parent / "sample_apps"

CASES: list[tuple[str, list[str], list[str]]] = [
    ("--help", ["--help"], ["help"]),
    ("check", ["check"], ["makemigrations", "--check", "--dry-run"]),
    ("graph json", ["graph", "--format", "json"], ["showmigrations", "--plan"]),
]


def _env(root: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["SQUASHER_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def _times(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> list[float]:
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=300)  # warm-up
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=300)
        out.append(time.perf_counter() - started)
    return out


def run(repeat: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = Path(tmp) / "p"
        shutil.copytree(SAMPLE_APPS, root, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
        env = _env(root, Path(tmp) / "cache")
        for label, ours, django in CASES:
            mine = _times([sys.executable, "-m", "squasher", *ours], root, env, repeat)
            theirs = _times([sys.executable, "manage.py", *django], root, env, repeat)
            rows.append({
                "case": label,
                "squasher_min": round(min(mine), 3),
                "squasher_median": round(statistics.median(mine), 3),
                "django_min": round(min(theirs), 3),
                "django_median": round(statistics.median(theirs), 3),
                "django_over_squasher": round(statistics.median(theirs) / statistics.median(mine), 2),
                "django_command": "manage.py " + " ".join(django),
            })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    rows = run(args.repeat)
    print(f"{'case':<12} {'squasher min/med (s)':>22} {'django min/med (s)':>20} {'ratio':>6}  django command")
    for r in rows:
        print(f"{r['case']:<12} {r['squasher_min']:>10.3f} /{r['squasher_median']:>7.3f}    "
              f"{r['django_min']:>8.3f} /{r['django_median']:>7.3f} {r['django_over_squasher']:>6}x  "
              f"{r['django_command']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
