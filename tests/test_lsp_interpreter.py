"""The Django-backed squash command with a configured interpreter that lacks squasher's
dependencies: the server falls back to its own interpreter and still applies the squash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_squasher
from lsprotocol import types
from pytest_lsp import LanguageClient
from support.lsp import client_fixture

client = client_fixture(["visual-studio-code"])


@pytest.fixture
def workspace(sample_project: Path) -> Path:
    return sample_project


@pytest.fixture
def init_options(tmp_path: Path) -> dict:
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    return {"djangoFeatures": True, "settingsModule": "settings",
            "interpreter": str(venv / "bin" / "python")}


async def test_squash_falls_back_to_the_server_interpreter(client: LanguageClient,
                                                           workspace: Path):
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.squash", arguments=[{"app": "accounts", "end": "0002_user_bio"}]))
    assert result == {"applied": True}, client.log_messages[-3:]
    created = sorted((workspace / "accounts" / "migrations").glob("*_squashed_*.py"))
    assert len(created) == 1
    check = run_squasher("check", "accounts", cwd=workspace)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_project_folder_named_lsp_server_cannot_shadow_the_server(tmp_path: Path) -> None:
    """The extension starts ``<python> -P -m lsp_server`` in the workspace folder: a folder of
    the project named ``lsp_server`` is not imported instead (without -P it is)."""
    import re

    from conftest import REPO_ROOT

    source = (REPO_ROOT / "vscode-extension" / "src" / "interpreter.ts").read_text()
    assert re.search(r'args: \["-P", "-m", "lsp_server"', source)
    fake = tmp_path / "lsp_server"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("print('the project folder ran'); raise SystemExit(3)\n")
    shadowed = subprocess.run([sys.executable, "-m", "lsp_server", "--help"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert shadowed.returncode == 3  # what happened before
    real = subprocess.run([sys.executable, "-P", "-m", "lsp_server", "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert real.returncode == 0 and "squasher-lsp" in real.stdout, real.stdout + real.stderr
