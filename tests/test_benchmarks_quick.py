"""Every benchmark script runs in a quick mode (small sizes) so it cannot rot (issue 16).

Each script runs as a user runs it, in a subprocess, on a history small enough for CI, and its
output is checked: the rows or numbers it prints (or writes with ``--json``) exist, have the
expected cases and keys, counts agree with each other (squasher never ends with more
operations than Django where a script reports both) and times are positive numbers. Nothing
here judges a time: these are not timed tests. ``bench_startup.py`` has its test in
``tests/test_cli_startup.py``.

``bench_realapps.py`` needs the real-app test bed of ``.ci/realapps.sh``
(``SQUASHER_REALAPPS_PYTHON``): skipped on a laptop without it, a failure under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IN_CI, REPO_ROOT, postgres_dsn, require

BENCH = REPO_ROOT / "benchmarks"
# the slowest, bench_realapps --quick, takes ~30 s on an idle 2-core machine
pytestmark = pytest.mark.timeout(300)
SUBPROCESS_TIMEOUT = 240

#: every benchmark script and the test that runs it
COVERED = {
    "bench_against.py": "test_bench_against_quick",
    "bench_graph.py": "test_bench_graph_quick",
    "bench_lsp.py": "test_bench_lsp_quick",
    "bench_optimizer.py": "test_bench_optimizer_quick",
    "bench_realapps.py": "test_bench_realapps_quick",
    "bench_squash.py": "test_bench_squash_quick",
    "bench_startup.py": "tests/test_cli_startup.py::test_startup_benchmark_runs",
}


def _bench(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script>`` with ``args``; it must exit 0."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert proc.returncode == 0, (f"{script} exited {proc.returncode}\nstdout:\n"
                                  f"{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def test_every_benchmark_script_is_covered() -> None:
    """A new ``bench_*.py`` needs a quick run here (or its own test) too."""
    assert {p.name for p in BENCH.glob("bench_*.py")} == set(COVERED)
    this = Path(__file__).read_text()
    for test in COVERED.values():
        if "::" not in test:
            assert f"def {test}(" in this, test
        else:
            path, name = test.split("::")
            assert f"def {name}(" in (REPO_ROOT / path).read_text(), test


def test_bench_against_quick(tmp_path: Path) -> None:
    apps, per_app = 6, 20
    out = tmp_path / "against.json"
    proc = _bench("bench_against.py", "--apps", str(apps), "--per-app", str(per_app),
                  "--repeat", "1", "--json", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    far, near = result["far"], result["near"]
    # far: REV's whole graph comes from git; near: REV adds one migration to each app
    assert far["read_from_rev"] == far["merged"] == apps * per_app
    assert near["read_from_rev"] == apps and near["merged"] == apps * per_app + apps + 5
    assert (far["predicted"], far["check_against_exit"]) == (0, 0)
    assert (near["predicted"], near["check_against_exit"]) == (5, 1)
    for row in (far, near):
        for key in ("merged_view", "preview", "cpu", "check", "check_against"):
            assert _positive(row[key]), (key, row)
    assert f"graph of {apps * per_app} migrations <= 2 s" in proc.stdout


def test_bench_graph_quick(tmp_path: Path) -> None:
    # app004/app009: a merge; app009: a squash with replaces; 1,050 files: above
    # squasher.graph.project.PARALLEL_PARSE_MIN_FILES (1,000), the cold load parses on both cores
    apps, per_app = 10, 105
    out = tmp_path / "graph.json"
    proc = _bench("bench_graph.py", "--apps", str(apps), "--per-app", str(per_app),
                  "--repeat", "1", "--json", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    assert (result["apps"], result["per_app"], result["repeat"]) == (apps, per_app, 1)
    cold, warm, cli, django = (result[k] for k in ("static_cold", "static_warm", "cli_cold",
                                                   "django"))
    # every file generated is a migration of both loaders; Django adds the contrib apps
    assert cold["migrations"] == warm["migrations"] == apps * per_app
    assert django["project_migrations"] == apps * per_app
    assert django["migrations"] > django["project_migrations"]
    assert django["conflicts"] == 0
    # the record cache gives the same answer as a cold load
    assert warm["problems"] == cold["problems"] >= 0
    assert result["cli_exit_codes"] == [0]
    for row in (cold, warm):
        for key in ("import", "load", "check", "total", "cpu"):
            assert _positive(row[key]), (key, row)
        assert row["total"] >= row["load"]
    for key in ("setup", "loader", "total", "cpu"):
        assert _positive(django[key]), (key, django)
    assert _positive(cli["total"])
    for line in ("migrations: static", "static cold  load+check:", "static warm  load+check:",
                 "CLI cold `squasher check --no-cache`:", "Django MigrationLoader:",
                 "ratio Django/static:"):
        assert line in proc.stdout, line
    assert f"Django {django['migrations']} ({apps * per_app} in the generated apps)" in proc.stdout


def test_bench_lsp_quick(tmp_path: Path) -> None:
    """Two runs on one generated workspace: the first cold, the second on the record cache
    the server wrote."""
    apps, per_app, samples = 3, 12, 10
    root = tmp_path / "workspace"
    args = ["--root", str(root), "--apps", str(apps), "--per-app", str(per_app),
            "--samples", str(samples)]
    first = _bench("bench_lsp.py", *args, "--cold", cwd=tmp_path)
    second = _bench("bench_lsp.py", *args, cwd=tmp_path)
    for proc, cache in ((first, "cold"), (second, "warm")):
        assert "server error:" not in proc.stderr, proc.stderr[-3000:]
        result = json.loads(proc.stdout)
        assert result["cache"] == cache
        assert result["migrations"] == apps * per_app
        assert result["conflicts"] == {"count": 0}
        assert any(f"{apps * per_app} migrations in {apps} apps" in line
                   for line in result["server_log"]), result["server_log"]
        for key in ("initialize_to_ready_s", "initialize_to_first_diagnostics_s",
                    "initialize_to_suggestions_s", "server_cpu_s_at_ready"):
            assert _positive(result[key]), (key, result[key])
        # every app's chain is long enough for a squash suggestion (SQ100)
        assert result["files_with_diagnostics"] >= apps
        assert result["hover_or_definition_misses"] == 0
        # 5 files edited (at least 5, samples // 10), 10 edits each
        expected = {"didChange_to_publishDiagnostics": 50, "didChange_in_operations_then_hover": 50,
                    "hover": samples, "definition": samples, "hover_on_operation": samples,
                    "hover_on_root_operation": apps}
        for key, n in expected.items():
            stats = result[key]
            assert stats["n"] == n, (key, stats)
            assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["max_ms"], (key, stats)


_OPT_ROW = re.compile(
    r"^\| (?P<kind>[^|]+?) \| (?P<size>[\d,]+) \| (?P<django_ops>[\d,]+) \| "
    r"(?P<squasher_ops>[\d,]+) \| (?P<fewer>[\d.]+)% \| (?P<django_time>~?[\d.]+ m?s)"
    r"(?P<extrapolated> \(extrapolated\))? \| (?P<squasher_time>[\d.]+ m?s) \| "
    r"(?P<speedup>~?[\d,]+)× \|$")
_ABLATION_ROW = re.compile(r"^\| (?P<rule>\w+) \| (?P<extra>-?\d+) \| (?P<pct>-?[\d.]+)% \| "
                           r"(?P<uses>\d+) \|$")
_SAMPLE_ROW = re.compile(
    r"^\| (?P<app>\w+) \| (?P<migrations>\d+) \| (?P<ops>\d+) \| (?P<django>\d+) \| "
    r"(?P<squasher>\d+) \| [\d.]+ m?s \| [\d.]+ m?s \| (?P<fallback>.+) \|$")


def _table(lines: list[str], header: str, pattern: re.Pattern[str]) -> list[dict[str, str]]:
    """The rows of the markdown table whose header line starts with ``header``."""
    start = next((i for i, line in enumerate(lines) if line.startswith(header)), None)
    assert start is not None, f"no table {header!r}"
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        found = pattern.match(line)
        assert found, f"malformed row: {line!r}"
        rows.append(found.groupdict())
    assert rows, f"empty table {header!r}"
    return rows


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def test_bench_optimizer_quick(tmp_path: Path) -> None:
    """Three small sizes; ``--django-timeout 0`` runs Django on the first two and extrapolates
    the third, so both paths of the table are exercised."""
    from squasher.optimizer import ALL_RULES

    sizes = [20, 40, 60]
    proc = _bench("bench_optimizer.py", "--sizes", ",".join(map(str, sizes)),
                  "--django-timeout", "0", "--ablation-size", "100", cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert "failed" not in proc.stdout, proc.stdout

    rows = _table(lines, "| history |", _OPT_ROW)
    kinds = list(dict.fromkeys(r["kind"] for r in rows))  # every series of the default run
    assert {"cubic", "realistic"} <= set(kinds), kinds
    for kind in kinds:
        series = [r for r in rows if r["kind"] == kind]
        assert [_int(r["size"]) for r in series] == sizes, (kind, series)
        # measured while fewer than two points exist, then extrapolated
        assert [bool(r["extrapolated"]) for r in series] == [False, False, True], series
    for r in rows:
        size, django_ops, squasher_ops = (_int(r[k]) for k in ("size", "django_ops",
                                                               "squasher_ops"))
        assert 0 < squasher_ops <= django_ops <= size, r
        assert float(r["fewer"]) == pytest.approx((django_ops - squasher_ops) / django_ops * 100,
                                                  abs=0.05), r
        approx = bool(r["extrapolated"])
        assert r["django_time"].startswith("~") == approx == r["speedup"].startswith("~"), r

    summary = next((line for line in lines if line.startswith("Realistic history, 100 ")), None)
    assert summary is not None, proc.stdout
    django_pct, squasher_pct = map(float, re.findall(r"([\d.]+)%", summary))
    assert 0 < django_pct <= squasher_pct < 100, summary

    ablation = _table(lines, "| rule |", _ABLATION_ROW)
    assert {r["rule"] for r in ablation} == set(ALL_RULES)
    for r in ablation:
        assert int(r["extra"]) >= 0, r  # switching a rule off never removes more
    assert any(int(r["extra"]) > 0 for r in ablation), ablation

    samples = _table(lines, "| sample app |", _SAMPLE_ROW)
    apps = {p.parent.parent.name for p in (REPO_ROOT / "sample_apps").glob("*/migrations/__init__.py")}
    assert apps <= {r["app"] for r in samples}, samples
    for r in samples:
        ops, django_ops, squasher_ops = _int(r["ops"]), _int(r["django"]), _int(r["squasher"])
        assert int(r["migrations"]) > 0 and 0 < squasher_ops <= django_ops <= ops, r
        assert r["fallback"] == "-", r


def test_bench_squash_quick(tmp_path: Path) -> None:
    out = tmp_path / "squash.json"
    proc = _bench("bench_squash.py", "--quick", "--json", str(out), cwd=tmp_path)
    rows = json.loads(out.read_text())
    assert [r["case"] for r in rows][:1] == ["generated 40 migrations"], rows
    assert len(rows) == 2 and rows[1]["case"].startswith("sample_apps "), rows
    for row in rows:
        # a failed or timed-out command leaves "squasher"/"django" with the reason instead
        assert "squasher" not in row and "django" not in row, row
        assert 0 < row["ops_squasher"] <= row["ops_django_optimizer"] <= row["ops_before"], row
        assert 0 < row["ops_squasher"] <= row["ops_django_command"] <= row["ops_before"], row
        for key in ("squasher_s", "django_s", "django_over_squasher"):
            assert _positive(row[key]), (key, row)
        assert set(row["phases"]) == {"load", "optimize", "render", "rest"}, row
        for phase, seconds in row["phases"].items():
            assert _positive(seconds), (phase, row)
        assert row["case"] in proc.stdout
    assert rows[0]["ops_before"] > 40  # 1-4 operations per generated migration


@pytest.mark.realapps
@pytest.mark.timeout(600)
def test_bench_realapps_quick(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO_ROOT / "tests" / "realapps"))
    try:
        from scratch import APPS, PYTHON_ENV, realapps_python
    finally:
        sys.path.remove(str(REPO_ROOT / "tests" / "realapps"))
    require(realapps_python() is not None,
            f"the real-app test bed (bash .ci/realapps.sh; export {PYTHON_ENV}=<its python>)")
    dsn = postgres_dsn()
    # without PostgreSQL the benchmark measures SQLite only: fine on a laptop, not under CI
    require(bool(dsn) or not IN_CI, "PostgreSQL (set SQUASHER_POSTGRES_DSN)")

    out = tmp_path / "realapps.json"
    proc = _bench("bench_realapps.py", "--quick", "--json", str(out), cwd=tmp_path)
    rows = json.loads(out.read_text())
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["label"] in APPS and row["package"] == APPS[row["label"]].package
    assert row["result"] == "OK", row
    assert "django_result" not in row, row
    assert row["migrations"] > 0 and row["squashes"] >= 1 and row["scope"] >= 1, row
    assert 0 < row["ops_after"] <= row["ops_django_optimizer"] <= row["ops_before"], row
    assert 0 < row["ops_after"] <= row["django_ops"] <= row["ops_before"], row
    assert row["nondeterministic"] == [], row
    for key in ("squash_s", "squash_cpu", "verify_s", "verify_cpu", "django_s", "django_cpu"):
        assert _positive(row[key]), (key, row)
    # --quick also migrates an empty database with each history (a string is a failure)
    vendors = ["sqlite"] + (["postgres"] if dsn else [])
    for vendor in vendors:
        for history in ("original", "squasher", "django"):
            key = f"migrate_{history}_{vendor}"
            assert _positive(row.get(key)), (key, row.get(key))
    if not dsn:
        assert not any(k.endswith("_postgres") for k in row), row

    assert f"| {row['label']} | {row['migrations']} | {row['ops_before']} |" in proc.stdout
    assert "| app squashed | database |" in proc.stdout
    for vendor in vendors:
        assert f"| {row['label']} | {vendor} | " in proc.stdout
