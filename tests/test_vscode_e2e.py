"""The extension in a real VS Code: code-server + headless Chromium (playwright-core).

``vscode-extension/e2e/run.sh`` builds the .vsix, installs it into a fresh code-server
user-data-dir, opens a copy of ``sample_apps`` and checks in the UI (see e2e.mjs): the
SQ001 conflict in the editor and the Problems panel, the hover on a dependency tuple, the
"Create merge migration" quick fix (file on disk, diagnostic gone), the status-bar
conflict count, the graph button in the editor title and the graph webview. The server runs
from the libraries bundled in the .vsix (``squasher.importStrategy: useBundled``, the default). Screenshots and logs go to
``$SQUASHER_E2E_ARTIFACTS`` (default ``ci-artifacts/vscode-e2e``).

Needs the environment ``vscode-extension/e2e/setup.sh`` installs (in ``$SQUASHER_E2E_DIR``,
default ``~/.cache/squasher-e2e``): skipped on a laptop without it, a failure under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, extension_build_lock, require

pytestmark = [pytest.mark.editor, pytest.mark.node, pytest.mark.slow]

E2E = REPO_ROOT / "vscode-extension" / "e2e"
CACHE = Path(os.environ.get("SQUASHER_E2E_DIR") or Path.home() / ".cache" / "squasher-e2e")
ARTIFACTS = Path(os.environ.get("SQUASHER_E2E_ARTIFACTS") or REPO_ROOT / "ci-artifacts" / "vscode-e2e")
CHECKS = [
    "conflict-diagnostic-in-editor",
    "hover-dependency-shows-operations",
    "status-bar-conflict-count",
    "conflict-diagnostic-in-problems-panel",
    "quick-fix-create-merge-migration",
    "diagnostic-disappears-after-merge",
    "graph-button-in-editor-title",
    "graph-webview-renders",
]


def _environment_ready() -> bool:
    env_file = CACHE / "env.sh"
    if not env_file.is_file():
        return False
    values = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    paths = [values.get(k, "").strip('"') for k in ("E2E_CODE_SERVER", "E2E_CHROMIUM")]
    return all(p and os.access(p, os.X_OK) for p in paths)


@pytest.fixture(scope="module")
def e2e_results() -> dict:
    require(_environment_ready(), f"code-server + chromium e2e environment in {CACHE} (run vscode-extension/e2e/setup.sh)")
    require(shutil.which("npm") is not None, "Node.js and npm")
    python = os.environ.get("SQUASHER_E2E_PYTHON") or sys.executable
    importable = subprocess.run(
        [python, "-c", "import squasher, lsp_server.server"], capture_output=True, timeout=120,
    ).returncode == 0
    require(importable, f"{python} with squasher and lsp_server installed (pip install -e .)")
    env = {
        **os.environ,
        "SQUASHER_E2E_DIR": str(CACHE),
        "SQUASHER_E2E_ARTIFACTS": str(ARTIFACTS),
        "SQUASHER_E2E_PYTHON": python,
        "npm_config_yes": "true",
    }
    with extension_build_lock():  # run.sh builds the .vsix in vscode-extension/
        proc = subprocess.run(
            ["bash", str(E2E / "run.sh")], env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=900,
        )
        # read before another worker's run.sh (same artifacts folder) starts over
        results_file = ARTIFACTS / "results.json"
        assert results_file.is_file(), (
            f"run.sh produced no results.json (exit {proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
        )
        data = json.loads(results_file.read_text())
    data["exit_code"] = proc.returncode
    data["log"] = proc.stdout[-5000:] + proc.stderr[-5000:]
    return data


@pytest.mark.parametrize("name", CHECKS)
def test_real_editor(e2e_results: dict, name: str) -> None:
    by_name = {r["name"]: r for r in e2e_results["results"]}
    assert name in by_name, (
        f"the UI script never reached {name!r} (fatal: {e2e_results.get('fatal')}):\n{e2e_results['log']}"
    )
    result = by_name[name]
    assert result["ok"], f"{name}: {result.get('error')} (screenshot {result.get('screenshot')})"
    assert Path(result["screenshot"]).is_file()


def test_real_editor_run_is_clean(e2e_results: dict) -> None:
    assert e2e_results["fatal"] is None, e2e_results["fatal"]
    assert e2e_results["exit_code"] == 0, e2e_results["log"]


def test_real_editor_runs_the_bundled_server(e2e_results: dict) -> None:
    """The default ``useBundled``: the Squasher output channel says the server's squasher
    came from the extension's ``bundled/libs`` (VS Code's logs are copied by run.sh)."""
    logs = ARTIFACTS / "vscode-logs"
    texts = [p.read_text(errors="replace") for p in logs.rglob("*.log")] if logs.is_dir() else []
    assert any("useBundled: squasher" in t and "bundled/libs" in t for t in texts), (
        f"no 'useBundled: squasher ... bundled/libs' line in the VS Code logs under {logs}"
    )
