"""The package boundaries of docs/ARCHITECTURE.md, held by reading the code.

* ``squasher/graph/`` (the static side), the shared records (``records``, ``errors``,
  ``fileops``, ``config``) and ``lsp_server/`` never import Django, not even inside a
  function: ``check``, ``graph`` and the language server's diagnostics run without it.
* ``squasher/graph/`` imports nothing from the packages built on it (lifecycle, squash,
  runtime, cli): data flows one way.
* ``squasher/lifecycle/`` reaches Django only through ``squasher.runtime``.
* Only ``squasher/runtime/`` starts Django processes (``subprocess`` with a Django job).
* No module imports another module's private (``_underscore``) names.
And, run for real: the language server and every static module imported, a project
read and checked, then ``django`` is not in ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SAMPLE_APPS

PACKAGE = REPO_ROOT / "squasher"
STATIC = [*sorted((PACKAGE / "graph").glob("*.py")),
          *(PACKAGE / f"{name}.py" for name in ("records", "errors", "fileops", "config")),
          *sorted((REPO_ROOT / "lsp_server").rglob("*.py"))]


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """Every import in ``path`` (module level or not): ``(line, module, names)``; relative
    imports are resolved against the file's package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts[:-1])
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO_ROOT)}:{line}"


@pytest.mark.parametrize("path", STATIC, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_static_side_never_imports_django(path: Path) -> None:
    bad = [where(path, line) + f" imports {module}" for line, module, _ in imports(path)
           if module == "django" or module.startswith("django.")]
    assert bad == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "lifecycle").glob("*.py")),
                         ids=lambda p: p.name)
def test_lifecycle_reaches_django_only_through_runtime(path: Path) -> None:
    bad = [where(path, line) + f" imports {module}" for line, module, _ in imports(path)
           if module == "django" or module.startswith("django.")]
    assert bad == []


def test_graph_package_imports_nothing_built_on_it() -> None:
    later = ("squasher.lifecycle", "squasher.squash", "squasher.runtime", "squasher.cli",
             "squasher.optimizer", "squasher.management", "lsp_server")
    bad = [where(path, line) + f" imports {module}"
           for path in sorted((PACKAGE / "graph").glob("*.py"))
           for line, module, _ in imports(path) if module.startswith(later)]
    assert bad == []


def test_only_runtime_spawns_django_processes() -> None:
    """A subprocess that runs Django is started by squasher/runtime/ only: other packages ask
    it (one worker protocol), so there is one place that knows how to start one."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "runtime" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text()
        for marker in ("squasher.runtime.worker", "squasher.runtime.django_setup\""):
            if marker in text and "subprocess" in text:
                bad.append(f"{path.relative_to(REPO_ROOT)} starts {marker}")
    assert bad == []


def test_no_module_imports_another_modules_private_names() -> None:
    bad = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(REPO_ROOT / "lsp_server").rglob("*.py")]):
        for line, module, names in imports(path):
            if not module.startswith(("squasher", "lsp_server")):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                bad.append(f"{where(path, line)} imports {', '.join(private)} from {module}")
    assert bad == []


PROBE = """
import importlib, json, pkgutil, sys
from pathlib import Path
import squasher.graph, lsp_server
mods = [m.name for m in pkgutil.iter_modules(squasher.graph.__path__, "squasher.graph.")]
mods += ["lsp_server.server", "lsp_server.index", "lsp_server.convert", "squasher.cli.check",
         "squasher.cli.graph", "squasher.lifecycle.merge", "squasher.lifecycle.references"]
for name in mods:
    importlib.import_module(name)
from squasher.graph.project import Project
from squasher.graph.check import check_project
from squasher.graph.render import render
from squasher.lifecycle.merge import plan_merge
project = Project.load(Path(sys.argv[1]), use_cache=False)
problems = check_project(project)
render(project.graph, "mermaid")
plan_merge(project, ["blog"])
print(json.dumps({"problems": len(problems), "django": sorted(
    m for m in sys.modules if m == "django" or m.startswith("django."))}))
"""


def test_check_graph_and_the_language_server_run_without_django(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(SAMPLE_APPS)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["problems"] > 0  # sample_apps' blog conflict: the check really ran
    assert result["django"] == []
