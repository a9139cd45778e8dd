"""Latency benchmark of ``squasher-lsp`` on a synthetic workspace (not a timed test).

Generates (or reuses) a project of ``--apps`` x ``--per-app`` migrations with
``benchmarks/synthetic.py``, starts the real server over stdio with a pygls client and
measures, on the wire:

* initialize -> index ready (first answer after ``initialized``) and -> first diagnostics;
* didChange (unsaved edit of a dependency, alternately dangling and fixed) ->
  publishDiagnostics for that file, p50/p95;
* didChange inside ``operations`` (nothing to republish) -> the next hover answered, p50/p95;
* hover on dependency tuples, p50/p95;
* definition on dependency tuples, p50/p95;
* hover on an operation (later operations touching the model), p50/p95;
* the same on the first migration of each app (the most descendants), p50/p95.

Targets (issue 6): hover/definition p95 <= 20 ms, diagnostics after an edit p95 <= 100 ms,
initialize <= 2 s.

    python benchmarks/bench_lsp.py [--root DIR] [--apps 100] [--per-app 100] [--samples 200]
                                   [--cold]

The result is one JSON object on stdout (progress and server errors go to stderr); a quick
run for CI: ``--apps 3 --per-app 12 --samples 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls import uris
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

TUPLE = re.compile(r"^\s+\('(\w+)', '(\w+)'\),$")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(statistics.median(values) * 1000, 2),
            "p95_ms": round(percentile(values, 95) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2)}


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of a process (Linux), a load-independent cost measure."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dependency_positions(root: Path, limit: int, rng: random.Random) -> list[tuple[Path, int, int]]:
    files = sorted(root.glob("*/migrations/0*.py"))
    rng.shuffle(files)
    out = []
    for path in files:
        lines = path.read_text().split("\n")
        for number, line in enumerate(lines):
            if TUPLE.match(line):
                out.append((path, number, line.index("'") + 2))
                break
        if len(out) >= limit:
            break
    return out


async def run(root: Path, samples: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    client = LanguageClient("bench", "1")
    published: dict[str, list[tuple[float, int]]] = {}
    first_diagnostics: list[float] = []
    first_suggestion: list[float] = []
    index_log: list[str] = []

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        now = time.perf_counter()
        if not first_diagnostics:
            first_diagnostics.append(now)
        published.setdefault(params.uri, []).append((now, len(params.diagnostics)))
        if any(d.code == "SQ100" for d in params.diagnostics) and not first_suggestion:
            first_suggestion.append(now)

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params: types.LogMessageParams) -> None:
        if "indexed in" in params.message:
            index_log.append(params.message)
        if params.type == types.MessageType.Error:
            print("server error:", params.message[:500], file=sys.stderr)

    await client.start_io(sys.executable, "-m", "lsp_server")
    root_uri = uris.from_fs_path(str(root))
    t0 = time.perf_counter()
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        root_uri=root_uri,
        workspace_folders=[types.WorkspaceFolder(uri=root_uri, name="bench")],
        initialization_options={"djangoFeatures": False},
    ))
    client.initialized(types.InitializedParams())
    count = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.conflictCount", arguments=[{}]))
    ready = time.perf_counter() - t0
    pid = client._server.pid  # type: ignore[union-attr]
    cpu_ready = cpu_seconds(pid)

    # Steady state: wait until the background squash suggestions (SQ100) are published.
    while not first_suggestion and time.perf_counter() - t0 < 120:
        await asyncio.sleep(0.05)
    settled = (first_suggestion[0] - t0) if first_suggestion else None
    # read after the wait: the first diagnostics may arrive after the index is ready
    first = (first_diagnostics[0] - t0) if first_diagnostics else None
    await asyncio.sleep(1.0)
    suggestions = sum(1 for v in published.values() if v and v[-1][1])

    # didChange -> publishDiagnostics (the edit adds or removes a dangling dependency).
    targets = dependency_positions(root, max(samples // 10, 5), rng)
    edit_times: list[float] = []
    typing_times: list[float] = []
    dep_cpu: list[float] = []
    typing_cpu: list[float] = []
    for path, line, _ in targets:
        uri = uris.from_fs_path(str(path))
        text = path.read_text()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        await asyncio.sleep(0.05)
        lines = text.split("\n")
        broken_line = re.sub(r"'(\w+)'\),$", "'9999_missing'),", lines[line])
        version = 1
        cpu0 = cpu_seconds(pid) or 0.0
        for i in range(10):
            version += 1
            new_lines = list(lines)
            if i % 2 == 0:
                new_lines[line] = broken_line
            before = len(published.get(uri, []))
            start = time.perf_counter()
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text="\n".join(new_lines))],
            ))
            while len(published.get(uri, [])) <= before:
                if time.perf_counter() - start > 30:
                    raise RuntimeError(f"no diagnostics for {uri} after edit {i}")
                await asyncio.sleep(0.0005)
            edit_times.append(published[uri][before][0] - start)
        # Typing inside `operations` (no diagnostics change, so nothing is published):
        # time until the server answers the next request, i.e. the edit has been handled.
        cpu1 = cpu_seconds(pid) or 0.0
        ops_at = next(i for i, x in enumerate(lines) if "operations = [" in x)
        for i in range(10):
            version += 1
            new_lines = list(lines)
            new_lines.insert(ops_at + 1, "        # typing" + "x" * i)
            start = time.perf_counter()
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text="\n".join(new_lines))],
            ))
            await client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, 10)))
            typing_times.append(time.perf_counter() - start)
        cpu2 = cpu_seconds(pid) or 0.0
        dep_cpu.append((cpu1 - cpu0) / 10)
        typing_cpu.append((cpu2 - cpu1) / 10)
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    positions = dependency_positions(root, samples, rng)
    hover_times: list[float] = []
    definition_times: list[float] = []
    misses = 0
    for path, line, col in positions:
        doc = types.TextDocumentIdentifier(uri=uris.from_fs_path(str(path)))
        position = types.Position(line, col)
        start = time.perf_counter()
        hover = await client.text_document_hover_async(types.HoverParams(text_document=doc, position=position))
        hover_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        location = await client.text_document_definition_async(
            types.DefinitionParams(text_document=doc, position=position))
        definition_times.append(time.perf_counter() - start)
        misses += hover is None or not location

    # Hover on an operation (later operations on the same model, across the graph).
    op_hover_times: list[float] = []
    for path, _, _ in positions[: max(samples // 2, 10)]:
        lines = path.read_text().split("\n")
        start_at = next(i for i, x in enumerate(lines) if "operations = [" in x)
        line_no = next((i for i in range(start_at + 1, len(lines)) if "migrations." in lines[i]), None)
        if line_no is None:
            continue
        doc = types.TextDocumentIdentifier(uri=uris.from_fs_path(str(path)))
        position = types.Position(line_no, lines[line_no].index("migrations.") + 12)
        start = time.perf_counter()
        await client.text_document_hover_async(types.HoverParams(text_document=doc, position=position))
        op_hover_times.append(time.perf_counter() - start)

    # The same on root migrations (0001_*): the whole rest of their app, and the apps that
    # depend on it, come after them; this is where the search has to be capped.
    root_op_hover_times: list[float] = []
    roots = sorted(root.glob("*/migrations/0001_*.py"))[: max(samples // 4, 10)]
    for path in roots:
        lines = path.read_text().split("\n")
        start_at = next((i for i, x in enumerate(lines) if "operations = [" in x), None)
        if start_at is None:
            continue
        line_no = next((i for i in range(start_at + 1, len(lines)) if "migrations." in lines[i]), None)
        if line_no is None:
            continue
        doc = types.TextDocumentIdentifier(uri=uris.from_fs_path(str(path)))
        position = types.Position(line_no, lines[line_no].index("migrations.") + 12)
        start = time.perf_counter()
        await client.text_document_hover_async(types.HoverParams(text_document=doc, position=position))
        root_op_hover_times.append(time.perf_counter() - start)

    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "migrations": len(list(root.glob("*/migrations/0*.py"))),
        "conflicts": count,
        "server_log": index_log,
        "server_cpu_s_at_ready": cpu_ready,
        "server_cpu_ms_per_dependency_edit": round(statistics.mean(dep_cpu) * 1000, 1),
        "server_cpu_ms_per_operations_edit": round(statistics.mean(typing_cpu) * 1000, 1),
        "initialize_to_ready_s": round(ready, 3),
        "initialize_to_first_diagnostics_s": round(first, 3) if first is not None else None,
        "initialize_to_suggestions_s": round(settled, 3) if settled is not None else None,
        "files_with_diagnostics": suggestions,
        "didChange_to_publishDiagnostics": summary(edit_times),
        "didChange_in_operations_then_hover": summary(typing_times),
        "hover": summary(hover_times),
        "definition": summary(definition_times),
        "hover_on_operation": summary(op_hover_times),
        "hover_on_root_operation": summary(root_op_hover_times),
        "hover_or_definition_misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="existing synthetic project (else generated in a temp dir)")
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--per-app", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cold", action="store_true",
                        help="delete the record cache (squasher.graph.project.cache_file_for, under "
                             "~/.cache/squasher or SQUASHER_CACHE_DIR) first: a cold start")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-lsp-") as tmp:
        root = args.root
        if root is None or not any(root.glob("*/migrations")):
            from synthetic import generate_project

            root = Path(root or Path(tmp) / "project")
            t = time.perf_counter()
            generate_project(root, apps=args.apps, per_app=args.per_app, seed=args.seed)
            print(f"generated {root} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        from squasher.graph.project import cache_file_for

        cache = cache_file_for(root)
        if args.cold:
            shutil.rmtree(cache.parent, ignore_errors=True)
        warm = cache.exists()
        result = asyncio.run(run(root.resolve(), args.samples, args.seed))
        result["cache"] = "warm" if warm else "cold"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
