"""Progress of long work (issue 13): squash and compact say what runs and for how long. On a
terminal a live line; elsewhere plain lines on stderr with ``-v 2`` (by default a failure's
stderr stays its one line); nothing with ``-v 0``; stdout stays the document with
``--format json``. Real CLI on a copy of ``sample_apps``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import run_squasher

STEP = re.compile(r"^\[\s*\d+\.\d+s\] (.*)$")


def steps(stderr: str) -> list[str]:
    return [m.group(1) for line in stderr.splitlines() if (m := STEP.match(line))]


def test_squash_reports_each_step_on_stderr(sample_project: Path) -> None:
    proc = run_squasher("squash", "catalog", "0002", "0006", "--settings", "settings", "-v", "2",
                        cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    said = steps(proc.stderr)
    assert said[0] == "loading the project (Django's migration loader)"
    assert said[1].startswith("optimizing catalog 0002_product_description .. 0006_product_sku: ")
    assert said[2].startswith("writing 0002_product_description_squashed_0006")
    assert said[3].startswith("verifying 0002_product_description_squashed_0006") \
        and "on sqlite (1 of 1)" in said[3]
    assert not STEP.search(proc.stdout)  # the result on stdout is the same as before


def test_quiet_and_json_keep_progress_out(sample_project: Path) -> None:
    plain = run_squasher("squash", "catalog", "0002", "0004", "--settings", "settings",
                         "--dry-run", cwd=sample_project)
    assert plain.returncode == 0 and steps(plain.stderr) == []  # not a terminal, -v 1
    failing = run_squasher("squash", "catalog", "0009", "0002", "--settings", "settings",
                           cwd=sample_project)
    assert failing.returncode == 2 and len(failing.stderr.splitlines()) == 1, failing.stderr
    quiet = run_squasher("squash", "catalog", "0002", "0004", "--settings", "settings",
                         "--dry-run", "-v", "0", cwd=sample_project)
    assert quiet.returncode == 0 and steps(quiet.stderr) == [] and quiet.stdout == ""
    document = run_squasher("squash", "catalog", "0002", "0004", "--settings", "settings",
                            "--dry-run", "--format", "json", cwd=sample_project)
    assert document.returncode == 0 and steps(document.stderr) == []
    assert json.loads(document.stdout)["ok"] is True
    asked = run_squasher("squash", "catalog", "0002", "0004", "--settings", "settings",
                         "--dry-run", "--format", "json", "-v", "2", cwd=sample_project)
    assert steps(asked.stderr)[0].startswith("loading") and json.loads(asked.stdout)["ok"]


def test_a_terminal_gets_a_live_line(sample_project: Path) -> None:
    """stderr on a pseudo-terminal: rich's live display (cursor control), then erased."""
    parent, child = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "NO_COLOR")}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(
        [sys.executable, "-m", "squasher", "squash", "catalog", "0002", "0004", "--settings",
         "settings", "--dry-run"], cwd=sample_project, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=child)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.wait(timeout=300) == 0
    os.close(parent)
    text = seen.decode(errors="replace")
    assert "loading the project" in text and "\x1b[" in text  # drawn, not printed as lines
    assert not STEP.search(text)
    assert "class Migration" in stdout  # the dry run's file, untouched by the live line


def test_compact_counts_ranges(sample_project: Path) -> None:
    proc = run_squasher("compact", "catalog", "--settings", "settings", "--no-timing", "-v", "2",
                        cwd=sample_project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = steps(proc.stderr)
    ranges = [s for s in said if s.startswith("squashing catalog")]
    assert ranges and re.search(r"range 1 of \d+\)", ranges[0])
    assert any(s.strip().startswith("verifying ") for s in said)


def test_dry_run_with_verify_verifies_in_a_copy_and_writes_nothing(sample_project: Path) -> None:
    """What the editor's squash action runs: the edit it applies is a squash that verified."""
    from conftest import snapshot_tree

    before = snapshot_tree(sample_project)
    proc = run_squasher("squash", "catalog", "0002", "0006", "--settings", "settings",
                        "--dry-run", "--verify", "--format", "json", cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary["verified"] is True and summary["verification"]
    assert snapshot_tree(sample_project) == before
    plain = run_squasher("squash", "catalog", "0002", "0006", "--settings", "settings",
                         "--dry-run", "--format", "json", cwd=sample_project)
    assert not json.loads(plain.stdout)["summary"]["verified"]  # --dry-run alone: not run


def test_verify_reports_each_history(sample_project: Path) -> None:
    """``verify``: copy, Django load, each history as it ends (with its seconds), comparison."""
    made = run_squasher("squash", "catalog", "0002", "0006", "--settings", "settings",
                        "--no-verify", "--format", "json", cwd=sample_project)
    assert made.returncode == 0, made.stderr
    [created] = [c for c in json.loads(made.stdout)["changes"] if c["kind"] == "create"]
    name = Path(created["path"]).stem
    proc = run_squasher("verify", "catalog", name, "--settings", "settings", "-v", "2",
                        cwd=sample_project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = steps(proc.stderr)
    assert said[0].startswith("choosing the verification databases (DATABASES['default']")
    assert "copying the project's source files" in said
    assert f"loading catalog.{name} and its replaced migrations through Django" in said
    assert "migrating the original, squashed, partial histories on sqlite (in parallel)" in said
    ended = {s.split(" history")[0] for s in said if re.search(r"history migrated and read "
                                                            r"\(\d+\.\d+s\)$", s)}
    assert ended == {"original", "squashed", "partial"}
    assert said[-1] == "comparing schemas, data and final state"
    assert proc.stdout.startswith(f"verify catalog.{name} on sqlite: OK")
    quiet = run_squasher("verify", "catalog", name, "--settings", "settings", cwd=sample_project)
    assert quiet.returncode == 0 and steps(quiet.stderr) == []


def test_suggest_reports_exact_counting(sample_project: Path) -> None:
    proc = run_squasher("suggest", "catalog", "--settings", "settings", "-v", "2",
                        cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    said = steps(proc.stderr)
    assert said[0] == "setting up Django (settings) for exact counts"
    ranges = [s for s in said if s.startswith("optimizing catalog ")]
    listed = [line for line in proc.stdout.splitlines() if line.startswith("catalog: ")]
    assert ranges and len(ranges) == len(listed)
    assert ranges[-1].endswith(f"range {len(listed)} of {len(listed)})")
    static = run_squasher("suggest", "catalog", "-v", "2", cwd=sample_project)
    assert steps(static.stderr) == []  # static: nothing long to report
