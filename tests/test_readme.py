"""The README never lies: its two set-up commands and every walkthrough command are run here.

The walkthrough block is a ```console block whose commands start with ``$ ``. A trailing
``# exit N`` comment states the expected exit status (default 0); ``# expect: TEXT`` states
text the output must contain. The commands run one after another in a private copy of
``sample_apps`` with a private SQLite database, exactly as written.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

README = REPO_ROOT / "README.md"


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)


def setup_commands() -> list[str]:
    """The two commands at the top: the first fenced block holds exactly two lines."""
    lang, body = _blocks(README.read_text())[0]
    return [line for line in body.splitlines() if line.strip()]


def walkthrough_steps() -> list[tuple[str, int, list[str]]]:
    section = README.read_text().split("## Walkthrough", 1)[1]
    steps = []
    for lang, body in _blocks(section):
        if lang != "console":
            continue
        for line in body.splitlines():
            if not line.startswith("$ "):
                continue
            command, _, comment = line[2:].partition("  #")
            exit_code = 0
            expects = []
            for part in comment.split(";"):
                part = part.strip()
                if m := re.match(r"exit (\d+)", part):
                    exit_code = int(m.group(1))
                elif part.startswith("expect:"):
                    expects.append(part[len("expect:"):].strip())
            steps.append((command.strip(), exit_code, expects))
    return steps


def test_readme_starts_with_exactly_two_setup_commands() -> None:
    commands = setup_commands()
    assert len(commands) == 2, commands
    assert "sample_apps" in commands[0]
    assert "squasher" in commands[0]
    # .ci/run runs the same test command as the README shows.
    assert commands[1] == (REPO_ROOT / ".ci" / "test-command").read_text().strip()
    assert "bash .ci/test-command" in (REPO_ROOT / ".ci" / "run").read_text()


def test_walkthrough_commands_all_work(sample_project: Path, tmp_path: Path) -> None:
    steps = walkthrough_steps()
    assert len(steps) >= 10, "the walkthrough lost its commands"
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "SAMPLE_APPS_SQLITE": str(tmp_path / "walkthrough.sqlite3"),
        "NO_COLOR": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    # `python` in the README means the interpreter squasher is installed in. A wrapper that
    # execs sys.executable, not a symlink to it: a symlink outside the virtualenv makes Python
    # miss the venv's pyvenv.cfg and start the base interpreter (without Django).
    shim = tmp_path / "bin"
    shim.mkdir()
    wrapper = shim / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o755)
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    assert shutil.which("squasher", path=env["PATH"]), "squasher console script not installed"

    cwd = sample_project.parent
    for command, expected_exit, expects in steps:
        if command.startswith("cd "):
            cwd = (cwd / command[3:].strip()).resolve()
            continue
        result = subprocess.run(
            command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
        )
        output = result.stdout + result.stderr
        assert result.returncode == expected_exit, (
            f"README command {command!r} exited {result.returncode}, README says {expected_exit}:\n{output}"
        )
        assert "Traceback" not in output, f"{command!r} printed a traceback:\n{output}"
        for text in expects:
            assert text in output, f"{command!r}: expected {text!r} in output:\n{output}"


@pytest.mark.parametrize("cmd", ["squasher --help"])
def test_readme_commands_have_help(cmd: str) -> None:
    result = subprocess.run([sys.executable, "-m", "squasher", *shlex.split(cmd)[1:]],
                            capture_output=True, text=True)
    assert result.returncode == 0
    for name in ("check", "graph", "squash", "verify", "merge", "suggest", "finalize", "compact"):
        assert name in result.stdout
