"""The VS Code extension builds, type-checks, lints, passes its unit tests and packages
into a .vsix that carries the bundle (and not node_modules or sources), plus the Python
server's libraries under ``bundled/libs`` (``squasher.importStrategy: useBundled``): the
server starts from them with a bare interpreter that has no squasher installed.

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
import sys
import threading
import time
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SAMPLE_APPS, extension_build_lock, require

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
    env = {**os.environ, "npm_config_yes": "true", "npm_config_update_notifier": "false",
           # the .vsix bundles the server's libraries for this Python (scripts/bundle-python.mjs)
           "SQUASHER_BUNDLE_PYTHON": sys.executable}
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
    # squasher + its dependencies (libcst, ruff's binary, ...) are bundled: ~19 MB
    assert 100_000 < size < 40_000_000, f".vsix is {size} bytes"
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
            or (n.endswith((".ts", ".map", ".vsix", "tsconfig.json")) and not n.startswith("extension/bundled/"))
            or "__pycache__" in n or n.endswith(".pyc")
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

    # the settings of Microsoft's Python tool extensions, each documented
    for key, default in {
        "squasher.enable": True, "squasher.importStrategy": "useBundled", "squasher.path": [],
        "squasher.args": [], "squasher.showNotifications": "always", "squasher.severity": {},
    }.items():
        assert settings[key]["default"] == default, key
        assert len(settings[key]["markdownDescription"]) > 60, key
    assert settings["squasher.importStrategy"]["enum"] == ["useBundled", "fromEnvironment"]
    assert settings["squasher.showNotifications"]["enum"] == ["off", "onError", "onWarning", "always"]
    assert settings["squasher.severity"]["additionalProperties"]["enum"] == [
        "off", "hint", "information", "warning", "error"]
    for key in ("squasher.path", "squasher.args", "squasher.importStrategy"):
        assert key in trust["restrictedConfigurations"], key  # a workspace must not pick the command
    # "Show migration graph" in the editor title of migration files
    [title] = manifest["contributes"]["menus"]["editor/title"]
    assert title["command"] == "squasher.showGraph" and title["group"] == "navigation"
    assert "migrations" in title["when"] and "resourceExtname == .py" in title["when"]
    assert titles and next(c for c in manifest["contributes"]["commands"] if c["command"] == "squasher.showGraph")["icon"]


def _bundled_libs(vsix: Path, dest: Path) -> tuple[Path, dict]:
    """``extension/bundled`` of the .vsix, extracted with the file modes VS Code keeps."""
    with zipfile.ZipFile(vsix) as z:
        for info in z.infolist():
            if info.filename.startswith("extension/bundled/"):
                target = dest / info.filename
                z.extract(info, dest)
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    target.chmod(mode)
    bundled = dest / "extension" / "bundled"
    return bundled / "libs", json.loads((bundled / "bundle.json").read_text())


def test_vsix_bundles_the_python_server(require_node: str, build: Build, tmp_path: Path) -> None:
    vsix = build.vsix()
    libs, info = _bundled_libs(vsix, tmp_path / "x")
    assert info["python"] == list(sys.version_info[:2]), info  # built by this Python
    assert info["platform"] == sys.platform and info["squasher"]
    for package in ("squasher", "lsp_server", "pygls", "lsprotocol", "cattrs", "libcst", "networkx", "rich", "ruff"):
        assert (libs / package).is_dir(), f"{package} is not bundled"
    # Django comes from the project's interpreter (squash/finalize), never from the bundle
    assert not (libs / "django").exists()
    ruff = libs / "bin" / ("ruff.exe" if sys.platform == "win32" else "ruff")
    assert ruff.is_file() and os.access(ruff, os.X_OK), "ruff's binary lost its mode in the .vsix"


class _Lsp:
    """A minimal LSP client over stdio (Content-Length framing), for the bundled-server test."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.messages: list[dict] = []
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line.strip() == b"":
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = json.loads(stream.read(length or 0))
            with self.lock:
                self.messages.append(body)
                self.lock.notify_all()
            if "id" in body and "method" in body:  # a request from the server: answer null
                self.send({"jsonrpc": "2.0", "id": body["id"], "result": None})

    def send(self, message: dict) -> None:
        data = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
        self.proc.stdin.flush()

    def wait(self, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for m in self.messages:
                    if predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; got {[m.get('method', m.get('id')) for m in self.messages]}")
                self.lock.wait(left)


def test_bundled_server_runs_on_a_bare_interpreter(require_node: str, build: Build, tmp_path: Path) -> None:
    """useBundled: ``<python> -P -m lsp_server`` with only ``bundled/libs`` on PYTHONPATH, on a
    fresh venv without squasher, pygls or Django, finds the conflict in sample_apps."""
    vsix = build.vsix()
    libs, _ = _bundled_libs(vsix, tmp_path / "x")
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False, system_site_packages=False)
    python = bare / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    lacks = subprocess.run([str(python), "-c", "import squasher"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert lacks.returncode != 0 and "ModuleNotFoundError" in lacks.stderr
    env["PYTHONPATH"] = str(libs)
    where = subprocess.run(
        [str(python), "-P", "-c", "import squasher, lsp_server, pygls; print(squasher.__file__, lsp_server.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert where.returncode == 0, where.stderr
    assert all(Path(p).is_relative_to(libs) for p in where.stdout.split()), where.stdout

    project = tmp_path / "sample_apps"
    shutil.copytree(SAMPLE_APPS, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3", ".squasher-cache"))
    # the working directory has a folder named lsp_server: -P keeps it from shadowing the bundle
    (project / "lsp_server").mkdir()
    (project / "lsp_server" / "__main__.py").write_text("raise SystemExit('shadowed')\n")
    proc = subprocess.Popen(
        [str(python), "-P", "-m", "lsp_server"], cwd=project, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        lsp = _Lsp(proc)
        root = project.resolve().as_uri()
        lsp.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": os.getpid(), "rootUri": root, "capabilities": {},
            "workspaceFolders": [{"uri": root, "name": "sample_apps"}],
            "initializationOptions": {"djangoFeatures": False, "severity": {"SQ100": "off"}},
        }})
        init = lsp.wait(lambda m: m.get("id") == 1)
        assert "squasher.listApps" in init["result"]["capabilities"]["executeCommandProvider"]["commands"]
        lsp.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        leaf = (project / "blog" / "migrations" / "0005_post_reading_time.py").resolve().as_uri()
        published = lsp.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                             and m["params"]["uri"] == leaf and m["params"]["diagnostics"], timeout=120)
        assert [d["code"] for d in published["params"]["diagnostics"]] == ["SQ001"]
        lsp.send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        lsp.wait(lambda m: m.get("id") == 2)
        lsp.send({"jsonrpc": "2.0", "method": "exit"})
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "shadowed" not in stderr and "Traceback" not in stderr, stderr


def test_package_json_pins_the_toolchain() -> None:
    manifest = json.loads((EXT / "package.json").read_text())
    assert "@vscode/vsce" in manifest["devDependencies"]
    assert "esbuild" in manifest["devDependencies"] and "typescript" in manifest["devDependencies"]
    assert (EXT / "package-lock.json").is_file(), "package-lock.json must be committed for npm ci"
    ignore = (EXT / ".vscodeignore").read_text()
    assert "!dist/**" in ignore
