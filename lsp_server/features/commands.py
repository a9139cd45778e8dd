"""``workspace/executeCommand`` bodies (see docs/ARCHITECTURE.md for names and arguments)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import squasher
from lsp_server.convert import path_to_uri
from lsp_server.index import IndexedProject, WorkspaceIndex
from squasher.fileops import ChangeSet

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph


def argument(args: tuple[Any, ...], *required: str) -> dict[str, Any]:
    """A command's one JSON-object argument (ARCHITECTURE.md), with required keys checked."""
    options = args[0] if args and isinstance(args[0], dict) else {}
    missing = [key for key in required if not options.get(key)]
    if missing:
        raise ValueError(f"missing command argument(s): {', '.join(missing)}")
    return options


def list_apps(index: WorkspaceIndex,
              to_client: Callable[[Path], Path] = lambda p: p) -> list[dict[str, Any]]:
    out = []
    for state in index.states.values():
        graph = state.graph
        for app in graph.apps():
            try:
                plan = graph.app_plan(app)
            except Exception:
                plan = sorted(k for k in graph.records if k[0] == app)
            records = [graph.records.get(k) for k in plan]
            path = next((str(to_client(r.path.parent)) for r in records if r is not None), None)
            out.append({
                "app": app,
                "migrations": [k[1] for k in plan],
                "leaves": [k[1] for k in graph.leaves(app)],
                "path": path,
            })
    return out


def conflict_count(index: WorkspaceIndex) -> dict[str, int]:
    """Apps with conflicting leaves (SQ001) as the diagnostics show them: an app in
    ``ignore-apps``, SQ001 disabled or ignored inline does not count (as ``squasher check``)."""
    count = 0
    for state in index.states.values():
        # an SQ001 problem's key is one of the app's leaves
        count += len({p.key[0] for problems in index.problems_by_path(state).values()
                      for p in problems if p.code == "SQ001" and p.key is not None})
    return {"count": count}


def graph_text(index: WorkspaceIndex, fmt: str = "mermaid", apps: list[str] | None = None,
               uri_of: Callable[[Path], str] = path_to_uri) -> dict[str, Any]:
    nodes: dict[str, str] = {}
    texts = []
    for state in index.states.values():
        graph = state.graph
        texts.append(_render(graph, fmt, apps, state.root))
        for key, record in graph.records.items():
            if apps and key[0] not in apps:
                continue
            nodes[f"{key[0]}.{key[1]}"] = uri_of(record.path)
    return {"text": "\n".join(t for t in texts if t), "nodes": nodes}


def _render(graph: MigrationGraph, fmt: str, apps: list[str] | None, root: Path) -> str:
    from squasher.graph.render import render

    known = [app for app in apps or graph.apps() if app in graph.apps()]
    return render(graph, fmt, apps=known, root=root) if known else ""


def find_state(index: WorkspaceIndex, app: str) -> IndexedProject:
    for state in index.states.values():
        if app in state.graph.apps():
            return state
    raise ValueError(f"unknown app {app!r}")


async def run_squash_subprocess(
    state: IndexedProject, app: str, start: str | None, end: str,
    interpreter: str | None, settings_module: str | None,
    on_step: Callable[[str], None] | None = None,
) -> ChangeSet:
    """``squasher squash APP [START] END --dry-run --verify --format json`` with the user's
    interpreter: the squash is verified in a copy, as the CLI verifies it, and nothing is
    written; the editor applies the returned changes as one edit. The command's JSON
    (``ChangeSet.to_json``) becomes a :class:`ChangeSet` here, once.

    The user's interpreter has the project's dependencies; this server's ``squasher``
    package is put first on its ``PYTHONPATH`` so the two need not be installed together.
    If that interpreter lacks one of squasher's own dependencies, the server's interpreter
    is used instead. ``on_step`` receives each step the command reports (``-v 2``: one
    ``[  1.2s] text`` line per step on stderr) while it runs: the editor's ``$/progress``.
    """
    args = ["-m", "squasher", "squash", app, *([start] if start else []), end,
            "--dry-run", "--verify", "--format", "json", "--root", str(state.root), "-v", "2"]
    if settings_module:
        args += ["--settings", settings_module]
    env = dict(os.environ)
    if settings_module:
        env["DJANGO_SETTINGS_MODULE"] = settings_module
    ours = str(Path(squasher.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ours, env.get("PYTHONPATH")) if p)
    python = interpreter or sys.executable
    code, out, err = await _run([python, *args], state.root, env, on_step)
    if code != 0 and python != sys.executable and "ModuleNotFoundError" in err:
        code, out, err = await _run([sys.executable, *args], state.root, env, on_step)
    if code != 0:
        message = "\n".join(line for line in err.splitlines()
                            if not _STEP.match(line)).strip() or out.strip()
        raise RuntimeError(f"squasher squash failed ({code}): {message[-2000:]}")
    start_json = out.find("{")
    data = json.loads(out[start_json:] if start_json >= 0 else out)
    return ChangeSet.from_json(data["changes"], root=state.root)


#: a progress line of the CLI (``squasher.cli._progress``): ``[  12.3s] verifying ...``
_STEP = re.compile(r"^\[\s*\d+\.\d+s\] (.*)$")


async def _run(cmd: list[str], cwd: Path, env: dict[str, str],
               on_step: Callable[[str], None] | None = None) -> tuple[int, str, str]:
    """Run ``cmd``; stderr is read line by line as it comes, each progress line handed to
    ``on_step``; returns (exit status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=str(cwd), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    err_lines: list[str] = []

    async def read_stderr(stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            err_lines.append(line)
            step = _STEP.match(line)
            if step and on_step is not None:
                on_step(step.group(1))

    out, _ = await asyncio.gather(proc.stdout.read(), read_stderr(proc.stderr))
    await proc.wait()
    return proc.returncode or 0, out.decode("utf-8", "replace"), "\n".join(err_lines)


def plan_finalize_changes(state: IndexedProject, app: str, squash: str) -> ChangeSet:
    from squasher.lifecycle.finalize import plan_finalize

    return plan_finalize(state.project, app, squashes=[squash]).changes
