"""Benchmark: squasher's optimizer vs Django's MigrationOptimizer (prints markdown).

    python benchmarks/bench_optimizer.py [--sizes 100,500,1000,2000,5000]
                                         [--series cubic,realistic,walk]
                                         [--django-timeout 150] [--skip-samples]
                                         [--ablation-size 2000 (0: none)]

Histories (cubic and realistic: ``benchmarks/synthetic.py``; walk:
``benchmarks/walk_history.py``):

* **cubic** — irreducible operations followed by 50 reducible pairs (Django's worst
  case: every reduction restarts a full quadratic scan);
* **realistic** — CreateModel, Add/Alter/Rename/RemoveField, indexes, constraints,
  options, FKs between models, RenameModel/DeleteModel, ~3% RunPython, some RunSQL;
* **walk** — a second, independently written generator (not squasher's): a seeded random
  walk over a live model state, as a developer's history evolves — long-lived core models
  edited throughout, bursts of edits to one model, cross-cutting changes, churn of
  short-lived models (incoming relations removed, then DeleteModel), self-FKs and M2M,
  one-off defaults, RenameIndex, RunPython backfills (some elidable), RunSQL (some with
  ``state_operations``); app ``app``;
* **sample_apps** — every app's whole history from the sample project (loaded through
  Django's ``MigrationLoader`` in a subprocess).

Times are CPU seconds (``time.process_time``) of the optimizing process, so that a
shared, loaded machine does not distort the ratio.  Django's optimizer runs in a forked
child; when the power law fitted to the two largest measured sizes predicts more than
``--django-timeout`` CPU seconds (or the run exceeds ``--wall-timeout``), it is not run
and its time is *extrapolated* from the two largest measured sizes of the same series with a
power law (marked "~" and "extrapolated" in the table); its operation count is still
exact — squasher computes Django's result length cheaply (``django_ref``).  Squasher's
time is the full ``optimize()`` call: reductions, Django's length and the equivalence guard.  The rule table is an ablation on the realistic history: operations that remain
when one rule is switched off, minus those with all rules, as % of the original.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import django
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

if not settings.configured:
    settings.configure(INSTALLED_APPS=[], USE_TZ=True)
    django.setup()

from django.db.migrations.optimizer import MigrationOptimizer  # noqa: E402

from squasher.optimizer import ALL_RULES, optimize, squasher_pass  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from synthetic import APP, cubic_from_state, cubic_history, realistic_history  # noqa: E402
from walk_history import walk_history  # noqa: E402

SERIES = ("cubic", "realistic", "walk")
WALK_APP = "app"  # walk_history's RunPython functions look models up in app "app"


def history(kind: str, size: int) -> tuple[list, object, str]:
    """(operations, from_state, app_label) of one series at ``size`` operations."""
    if kind == "cubic":
        return cubic_history(size), cubic_from_state(size), APP
    if kind == "realistic":
        return realistic_history(size, seed=1), None, APP
    if kind == "walk":
        return walk_history(size, seed=1, app_label=WALK_APP), None, WALK_APP
    raise ValueError(f"unknown series {kind!r}")


def _django_child(kind: str, size: int, queue: multiprocessing.Queue) -> None:
    ops, _start, app = history(kind, size)
    started = time.process_time()
    result = MigrationOptimizer().optimize(ops, app)
    queue.put((time.process_time() - started, len(result)))


def django_timed(kind: str, size: int, timeout: float) -> tuple[float, int] | None:
    """(CPU seconds, operations) of Django's optimizer, or None when cut off at
    ``timeout`` wall-clock seconds."""
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = ctx.Queue()
    proc = ctx.Process(target=_django_child, args=(kind, size, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None
    return queue.get()


def extrapolate(points: list[tuple[int, float]], size: int) -> float:
    """Power-law extrapolation from the last two measured (size, seconds) points."""
    (n1, t1), (n2, t2) = points[-2], points[-1]
    k = math.log(t2 / t1) / math.log(n2 / n1) if t1 > 0 and n2 != n1 else 3.0
    return t2 * (size / n2) ** k


def series(kind: str, sizes: list[int], timeout: float, wall_timeout: float) -> list[dict]:
    rows: list[dict] = []
    measured: list[tuple[int, float]] = []
    for size in sizes:
        ops, start, app = history(kind, size)
        cpu = time.process_time()
        result = optimize(ops, app, from_state=start)
        squasher_seconds = time.process_time() - cpu
        if result.fallback:
            raise SystemExit(f"{kind} {size}: unexpected fallback {result.reason}")
        # skip Django when the extrapolation already says it will not finish in time
        predicted = extrapolate(measured, size) if len(measured) >= 2 else 0.0
        timed = django_timed(kind, size, wall_timeout) if predicted <= timeout else None
        if timed is not None:
            django_seconds, django_ops = timed
            assert django_ops == result.django_count, (kind, size, django_ops, result.django_count)
            measured.append((size, django_seconds))
            extrapolated = False
        else:
            django_seconds = extrapolate(measured, size) if len(measured) >= 2 else float("nan")
            django_ops = result.django_count
            extrapolated = True
        rows.append({
            "kind": kind, "size": len(ops), "django_ops": django_ops,
            "django_seconds": django_seconds, "extrapolated": extrapolated,
            "squasher_ops": len(result.operations), "squasher_seconds": squasher_seconds,
        })
        print(f"  {kind} {size}: done", file=sys.stderr, flush=True)
    return rows


def fmt_time(seconds: float, approx: bool = False) -> str:
    if math.isnan(seconds):
        return "n/a"
    text = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
    return ("~" + text) if approx else text


def print_table(rows: list[dict]) -> None:
    print("| history | ops | Django ops | squasher ops | fewer than Django | Django time | "
          "squasher time | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        fewer = (r["django_ops"] - r["squasher_ops"]) / r["django_ops"] * 100 if r["django_ops"] else 0
        ratio = r["django_seconds"] / r["squasher_seconds"] if r["squasher_seconds"] else float("nan")
        approx = r["extrapolated"]
        print(f"| {r['kind']} | {r['size']:,} | {r['django_ops']:,} | {r['squasher_ops']:,} | "
              f"{fewer:.1f}% | {fmt_time(r['django_seconds'], approx)}"
              f"{' (extrapolated)' if approx else ''} | {fmt_time(r['squasher_seconds'])} | "
              f"{'~' if approx else ''}{ratio:,.0f}× |")


def rule_ablation(size: int) -> None:
    ops = realistic_history(size, seed=1)
    full, stats = squasher_pass(ops, APP)
    django_ops = optimize(ops, APP).django_count
    print(f"\nRealistic history, {size:,} operations: Django removes "
          f"{(size - django_ops) / size * 100:.1f}%, squasher {(size - len(full)) / size * 100:.1f}%.\n")
    print("| rule | extra ops removed (ablation) | % of original | reductions using it |")
    print("|---|---:|---:|---:|")
    counters = {
        "elidable": "elidable", "index_barrier": "crossed_index_barrier",
        "runpython_barrier": "crossed_runpython_barrier",
        "delete_model_barrier": "crossed_delete_model_barrier",
        "delete_model_collapse": "delete_model_collapse", "identity_rename": "identity_rename",
        "option_passthrough": "option_passthrough", "one_off_default": "one_off_default",
    }
    for rule in sorted(ALL_RULES):
        without, _ = squasher_pass(ops, APP, None, ALL_RULES - {rule})
        extra = len(without) - len(full)
        print(f"| {rule} | {extra} | {extra / size * 100:.1f}% | {stats.get(counters[rule], 0)} |")


def sample_apps() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "samples.py"), "histories",
         str(REPO / "sample_apps")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if proc.returncode != 0:
        print(f"\n(sample_apps failed: {proc.stderr[-500:]})")
        return
    print("\n| sample app | migrations | ops | Django ops | squasher ops | Django time | "
          "squasher time | fallback |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in json.loads(proc.stdout):
        print(f"| {r['app']} | {r['migrations']} | {r['original']} | {r['django']} | "
              f"{r['squasher']} | {fmt_time(r['django_seconds'])} | "
              f"{fmt_time(r['squasher_seconds'])} | {r['fallback'] or '-'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000,2000,5000")
    parser.add_argument("--series", default=",".join(SERIES),
                        help="comma-separated histories to measure (of: %(default)s)")
    parser.add_argument("--django-timeout", type=float, default=150.0,
                        help="predicted CPU seconds above which Django is not run but "
                             "extrapolated")
    parser.add_argument("--wall-timeout", type=float, default=300.0,
                        help="wall-clock seconds after which a Django run is cut off")
    parser.add_argument("--skip-samples", action="store_true")
    parser.add_argument("--ablation-size", type=int, default=2000,
                        help="size of the realistic history of the rule table (0: no table)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [k for k in args.series.split(",") if k]
    unknown = sorted(set(kinds) - set(SERIES))
    if unknown:
        parser.error(f"unknown series {', '.join(unknown)} (of: {', '.join(SERIES)})")
    started = time.perf_counter()
    print(f"Django {django.get_version()}, Python {sys.version.split()[0]}\n")
    rows = [row for kind in kinds
            for row in series(kind, sizes, args.django_timeout, args.wall_timeout)]
    print_table(rows)
    if args.ablation_size > 0:
        rule_ablation(args.ablation_size)
    if not args.skip_samples:
        sample_apps()
    print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
