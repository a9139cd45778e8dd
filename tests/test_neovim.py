"""A real headless Neovim drives ``squasher-lsp`` (issue 13): Neovim's own LSP client
(``vim.lsp.start_client``, Debian's neovim) opens a migration of ``sample_apps`` and gets the
conflict diagnostic, a hover and the code actions. The script is
``tests/fixtures/neovim_drive.lua``; it writes what Neovim received as JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import require

DRIVER = Path(__file__).parent / "fixtures" / "neovim_drive.lua"


def test_headless_neovim_gets_diagnostics_hover_and_code_actions(sample_project: Path,
                                                                  tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    require(nvim is not None, "Neovim (apt install neovim)")
    out = tmp_path / "neovim.json"
    target = sample_project / "blog" / "migrations" / "0003_post_status.py"
    env = {**os.environ, "SQUASHER_NVIM_ROOT": str(sample_project),
           "SQUASHER_NVIM_FILE": str(target), "SQUASHER_NVIM_OUT": str(out),
           "SQUASHER_NVIM_PYTHON": sys.executable}
    proc = subprocess.run([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
                           "-c", f"luafile {DRIVER}"], cwd=sample_project, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(out.read_text())
    assert seen["errors"] == []
    [conflict] = [d for d in seen["diagnostics"] if d["code"] == "SQ001"]
    assert conflict["message"].startswith("conflicting migrations in blog: 0003_post_status and "
                                          "0005_post_reading_time are both leaves")
    assert seen["hover"].startswith("**blog.0003_post_status**") and "conflict" in seen["hover"]
    assert "Create merge migration" in seen["actions"]
    assert "Rebase 0003_post_status onto 0005_post_reading_time" in seen["actions"]
