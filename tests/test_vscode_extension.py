"""The VS Code extension builds, type-checks, lints, passes its unit tests and packages
into a .vsix that carries the bundle (and not node_modules or sources).

Runs the real toolchain: ``npm ci``, ``tsc --noEmit``, ESLint, ``node --test`` and
``vsce package`` (a devDependency). Needs Node.js and npm: skipped on a laptop without
them, a failure under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, extension_build_lock, require

pytestmark = pytest.mark.node

EXT = REPO_ROOT / "vscode-extension"
PALETTE = {
    "squasher.squashMigrations": "Squash migrations…",
    "squasher.createMergeMigration": "Create merge migration",
    "squasher.rebaseBranch": "Rebase branch",
    "squasher.finalizeSquash": "Finalize squash",
    "squasher.showGraph": "Show migration graph",
    "squasher.restartServer": "Restart server",
}
SERVER_COMMANDS = [
    "squasher.listApps", "squasher.graph", "squasher.createMerge", "squasher.rebase",
    "squasher.squash", "squasher.finalize", "squasher.conflictCount",
]


def _npm(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "npm_config_yes": "true", "npm_config_update_notifier": "false"}
    with extension_build_lock():  # the e2e test builds in the same folder
        return subprocess.run(
            ["npm", *args], cwd=EXT, env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout,
        )


class Build:
    """Runs each step once per session; keeps outputs and timings for the assertions."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.steps: dict[str, subprocess.CompletedProcess[str]] = {}
        self.seconds: dict[str, float] = {}

    def step(self, name: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        if name not in self.steps:
            t0 = time.monotonic()
            self.steps[name] = _npm(*args, timeout=timeout)
            self.seconds[name] = time.monotonic() - t0
        return self.steps[name]

    def ok(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.step(name, *args)
        assert result.returncode == 0, (
            f"npm {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
        return result

    def installed(self) -> None:
        self.ok("ci", "ci", "--no-audit", "--no-fund")

    def vsix(self) -> Path:
        self.installed()
        target = self.out / "squasher.vsix"
        self.ok(
            "package", "exec", "--", "vsce", "package", "--allow-missing-repository",
            "--no-rewrite-relative-links", "-o", str(target),
        )
        return target


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "Node.js and npm")
    return Build(tmp_path_factory.mktemp("vsix"))


def test_npm_ci_and_type_check(require_node: str, build: Build) -> None:
    build.installed()
    assert (EXT / "node_modules" / "vscode-languageclient").is_dir()
    build.ok("typecheck", "run", "typecheck")


def test_lint_clean(require_node: str, build: Build) -> None:
    build.installed()
    result = build.ok("lint", "run", "lint")
    assert "problem" not in result.stdout, result.stdout


def test_unit_tests_pass(require_node: str, build: Build) -> None:
    build.installed()
    out = build.ok("unit", "run", "test:unit").stdout
    passed = int(re.search(r"^# pass (\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"^# fail (\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    assert failed == 0, out[-4000:]
    # interpreter discovery, settings and model suites all ran
    assert passed >= 30, out[-4000:]
    for suite in ("discoverInterpreter", "checkServer", "readSettings", "initializationOptions", "countConflicts"):
        assert f"- {suite}" in out, f"suite {suite} missing from the unit test output"


def test_vsix_has_the_bundle_and_no_sources(require_node: str, build: Build) -> None:
    vsix = build.vsix()
    size = vsix.stat().st_size
    assert 100_000 < size < 5_000_000, f".vsix is {size} bytes"
    with zipfile.ZipFile(vsix) as z:
        names = z.namelist()
        for required in (
            "extension/package.json", "extension/dist/extension.js", "extension/dist/media/mermaid.min.js",
            "extension/dist/media/graph.js", "extension/dist/media/graph.css", "extension/readme.md",
            "extension/LICENSE.txt",
        ):
            assert required in names, f"{required} missing from the .vsix: {names}"
        forbidden = [
            n for n in names
            if n.startswith(("extension/node_modules/", "extension/src/", "extension/test/", "extension/out/", "extension/e2e/"))
            or n.endswith((".ts", ".map", ".vsix", "tsconfig.json"))
        ]
        assert not forbidden, f"the .vsix carries files it must not: {forbidden}"
        bundle = z.read("extension/dist/extension.js").decode()
        manifest = json.loads(z.read("extension/package.json"))
        webview = z.read("extension/dist/media/graph.js").decode()

    # the language client is bundled in; only the `vscode` module stays external
    assert 'require("vscode")' in bundle
    assert "vscode-languageclient" not in re.findall(r'require\("([^"]+)"\)', bundle)
    assert "workspace/executeCommand" in bundle and "workspace/applyEdit" in bundle
    for command in [*SERVER_COMMANDS, *PALETTE]:
        assert command in bundle, f"{command} is not in dist/extension.js"
    assert '"-m","lsp_server"' in bundle.replace(" ", "") or "'-m','lsp_server'" in bundle.replace(" ", "")
    assert "SQ001" in bundle
    # the graph webview: strict CSP with a nonce, nothing from the internet
    assert "Content-Security-Policy" in bundle and "script-src 'nonce-" in bundle
    assert "default-src 'none'" in bundle
    assert not re.search(r"https?://(?!www\.w3\.org)[^\"' ]+\.(js|css)", bundle + webview)

    assert manifest["main"] == "./dist/extension.js"
    assert "workspaceContains:**/migrations/[0-9]*.py" in manifest["activationEvents"]
    titles = {c["command"]: c["title"] for c in manifest["contributes"]["commands"]}
    assert {k: titles.get(k) for k in PALETTE} == PALETTE
    settings = manifest["contributes"]["configuration"]["properties"]
    assert {"squasher.interpreter", "squasher.settingsModule", "squasher.djangoFeatures", "squasher.trace.server"} <= set(settings)
    trust = manifest["capabilities"]["untrustedWorkspaces"]
    assert trust["supported"] == "limited" and "squasher.interpreter" in trust["restrictedConfigurations"]
    assert "dependencies" in manifest and "vscode-languageclient" in manifest["dependencies"]


def test_package_json_pins_the_toolchain() -> None:
    manifest = json.loads((EXT / "package.json").read_text())
    assert "@vscode/vsce" in manifest["devDependencies"]
    assert "esbuild" in manifest["devDependencies"] and "typescript" in manifest["devDependencies"]
    assert (EXT / "package-lock.json").is_file(), "package-lock.json must be committed for npm ci"
    ignore = (EXT / ".vscodeignore").read_text()
    assert "!dist/**" in ignore
