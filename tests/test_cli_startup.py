"""Start-up of the ``squasher`` command (issue 16, goal 2).

``squasher --help`` builds every sub-parser and ``squasher check`` runs on every commit
under pre-commit, so neither may import what it does not use: the command modules import
their heavy dependencies inside their handlers.  Time itself is measured by
``benchmarks/bench_startup.py`` (not a timed test); these tests hold the structure that
makes it fast, each in a fresh interpreter so nothing imported by other tests hides a
regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_apps"
HEAVY = ("networkx", "libcst", "rich", "django", "pygls", "lsprotocol")

_PROBE = """
import json, sys
from squasher.cli import build_parser, main
{body}
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))
print("\\nPROBE " + json.dumps(heavy))
"""


def _heavy_modules_after(body: str, cwd: Path = ROOT) -> list[str]:
    """Run ``body`` in a fresh interpreter and return the heavy top-level packages it imported."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body, heavy=HEAVY)],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "SQUASHER_CACHE_DIR": str(cwd / ".probe-cache")},
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE ")), None)
    assert line is not None, proc.stdout + proc.stderr
    return json.loads(line[len("PROBE "):])


def test_help_imports_no_heavy_dependency() -> None:
    body = (
        "parser = build_parser()\n"
        "names = parser._subparsers._group_actions[0].choices\n"
        "assert {'check', 'graph', 'squash', 'verify', 'merge', 'suggest', 'finalize', 'compact'}"
        " <= set(names), names\n"
        "for sub in names.values(): sub.format_help()\n"
    )
    assert _heavy_modules_after(body) == []


def test_check_imports_only_the_graph_library(tmp_path: Path) -> None:
    """``check`` needs networkx (the graph) and nothing else heavy: no Django, no libcst
    (only the writer edits code), no rich (plain output when not on a terminal)."""
    body = (
        f"code = main(['check', '--root', {str(SAMPLE)!r}, '--format', 'json'])\n"
        "assert code in (0, 1), code\n"
    )
    assert _heavy_modules_after(body, cwd=tmp_path) == ["networkx"]


def test_help_still_lists_every_check_code() -> None:
    """The codes moved to ``squasher.records`` for start-up; ``check --help`` shows them all."""
    from squasher.graph.check import CODES

    proc = subprocess.run([sys.executable, "-m", "squasher", "check", "--help"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for code, (slug, _meaning) in CODES.items():
        assert f"{code} {slug}" in proc.stdout


def test_startup_benchmark_runs(tmp_path: Path) -> None:
    """The benchmark script itself (one repetition) so it cannot rot; its numbers are not judged."""
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_startup.py"),
                           "--repeat", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    assert [r["case"] for r in rows] == ["--help", "check", "graph json"]
    assert all(r["squasher_min"] > 0 and r["django_min"] > 0 for r in rows)
