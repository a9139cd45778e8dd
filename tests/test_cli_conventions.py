"""The conventions every command shares (issue 13): one JSON envelope (``version``,
``command``, ``ok``) for results and refusals alike, Django's ``-v/--verbosity`` and
``--no-color/--force-color``; run through the real CLI on a copy of ``sample_apps``."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_squasher, snapshot_tree

from squasher.cli.common import JSON_VERSION

#: one invocation per command with --format json that writes nothing, and its exit status
COMMANDS = [
    (["check", "catalog"], 0),
    (["check"], 1),  # blog has two leaves
    (["graph", "catalog"], 0),
    (["suggest", "catalog"], 0),
    (["merge", "--check"], 1),
    (["merge", "blog", "--dry-run"], 0),
    (["squash", "catalog", "0002", "0004", "--dry-run", "--no-verify"], 0),
    (["finalize", "billing", "--dry-run"], 0),
]


def test_every_command_wraps_its_json_in_the_envelope(sample_project: Path) -> None:
    before = snapshot_tree(sample_project)
    for argv, status in COMMANDS:
        proc = run_squasher(*argv, "--format", "json", cwd=sample_project)
        assert proc.returncode == status, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
        data = json.loads(proc.stdout)
        if argv[0] == "graph":  # a graph document: nodes and edges, no outcome
            assert data["version"] == JSON_VERSION and data["command"] == "graph", argv
            continue
        assert list(data)[:3] == ["version", "command", "ok"], (argv, list(data))
        assert (data["version"], data["command"], data["ok"]) == (JSON_VERSION, argv[0],
                                                                  status == 0), argv
        assert "error" not in data, argv
    assert snapshot_tree(sample_project) == before


def test_refusals_use_the_same_envelope(sample_project: Path) -> None:
    for argv in (["squash", "catalog", "0009", "0002"], ["merge", "nosuch"],
                 ["finalize", "nosuch"], ["verify", "nosuch", "0001"]):
        proc = run_squasher(*argv, "--format", "json", cwd=sample_project)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        data = json.loads(proc.stdout)
        assert (data["version"], data["command"], data["ok"]) == (JSON_VERSION, argv[0], False)
        assert data["error"]["message"] and data["error"]["exit_code"] == 2
        assert "Traceback" not in proc.stderr


def test_verbosity_zero_prints_nothing_but_keeps_the_exit_status(sample_project: Path) -> None:
    quiet = run_squasher("check", "-v", "0", cwd=sample_project)
    assert (quiet.returncode, quiet.stdout) == (1, "")
    loud = run_squasher("check", "--verbosity", "1", cwd=sample_project)
    assert loud.returncode == 1 and "SQ001" in loud.stdout
    # a document asked for still prints
    data = run_squasher("check", "-v", "0", "--format", "json", cwd=sample_project)
    assert json.loads(data.stdout)["ok"] is False
    # errors still reach stderr
    bad = run_squasher("check", "nosuch", "-v", "0", cwd=sample_project)
    assert bad.returncode == 2 and "unknown app 'nosuch'" in bad.stderr and bad.stdout == ""


def test_verbosity_three_shows_the_traceback(sample_project: Path) -> None:
    proc = run_squasher("squash", "nosuch", "0002", "-v", "3", cwd=sample_project)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "UnknownAppError" in proc.stderr


def test_colour_flags(sample_project: Path) -> None:
    # check colours the severity of each finding, as Django's system checks do
    forced = run_squasher("check", "blog", "--force-color", cwd=sample_project)
    assert forced.returncode == 1 and "\x1b[1;31m error: \x1b[0m" in forced.stdout, forced.stdout
    plain = run_squasher("check", "blog", "--no-color", cwd=sample_project)
    assert plain.returncode == 1 and "\x1b[" not in plain.stdout and " error: " in plain.stdout
    default = run_squasher("check", "blog", cwd=sample_project)  # not a terminal: plain
    assert default.stdout == plain.stdout
    both = run_squasher("check", "--no-color", "--force-color", cwd=sample_project)
    assert both.returncode == 2
    assert "--no-color and --force-color cannot be used together" in both.stderr
