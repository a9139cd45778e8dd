"""Original vs optimized operations applied to real SQLite databases.

Runs ``benchmarks/samples.py`` in a subprocess (it configures Django itself): the sample
project's whole plan, with every run of consecutive migrations of one app replaced by squasher's optimized operations, and synthetic realistic histories.
The introspected schemas (tables, columns, constraints) and rows must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _worker(*args: str, cwd: Path, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "samples.py"), *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_sample_apps_schema_and_data_identical(sample_project: Path) -> None:
    data = _worker("sqlite", str(sample_project), cwd=REPO,
                   env={"SAMPLE_APPS_WITHOUT_CONFLICT": "1"})
    assert data["differences"] == []
    assert data["tables"] >= 10
    runs = data["runs"]
    assert {r["app"] for r in runs} >= {"accounts", "catalog", "orders", "billing"}
    for run in runs:
        assert run["fallback"] is None, run
        assert run["optimized"] <= run["django"] <= run["original"], run
    catalog = [r for r in runs if r["app"] == "catalog"]
    assert sum(r["optimized"] for r in catalog) < sum(r["original"] for r in catalog)


def test_sample_apps_every_app_history(sample_project: Path) -> None:
    rows = _worker("histories", str(sample_project), cwd=REPO)
    apps = {row["app"] for row in rows}
    assert {"accounts", "catalog", "orders", "billing", "blog", "newsletter"} <= apps
    for row in rows:
        assert row["fallback"] is None, row
        assert row["django_count"] == row["django"], row
        assert row["squasher"] <= row["django"], row


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_history_schema_identical(seed: int) -> None:
    data = _worker("synthetic", "600", str(seed), cwd=REPO)
    assert data["fallback"] is None
    assert data["optimized"] < data["django"] < data["original"]
    assert data["differences"] == []
