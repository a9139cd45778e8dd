"""Unit tests of ``lsp_server.convert`` (positions, diagnostics, edits) and the TCP transport."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from lsp_server import convert as cv
from squasher.fileops import ChangeSet
from squasher.records import Problem, Severity, Span

LINE = "    ('shop', 'é😀x'),"  # non-ASCII before the end of the tuple


def test_byte_columns_convert_to_each_encoding():
    col = len("    ('shop', 'é😀".encode())  # ast column: UTF-8 bytes
    assert cv.byte_col_to_client(LINE, col, "utf-8") == col
    assert cv.byte_col_to_client(LINE, col, "utf-16") == len("    ('shop', 'é") + 2
    assert cv.byte_col_to_client(LINE, col, "utf-32") == len("    ('shop', 'é😀")
    for encoding in ("utf-8", "utf-16", "utf-32"):
        client = cv.byte_col_to_client(LINE, col, encoding)
        assert cv.client_col_to_byte(LINE, client, encoding) == col


def test_span_to_range_and_open_end():
    lines = ["class Migration(migrations.Migration):", "    pass"]
    r = cv.span_to_range(Span(1, 0), lines)
    assert (r.start.line, r.start.character, r.end.line, r.end.character) == (0, 0, 0, len(lines[0]))
    r = cv.span_to_range(Span(2, 4, 2, 8), lines)
    assert (r.start.line, r.start.character, r.end.line, r.end.character) == (1, 4, 1, 8)
    assert cv.span_contains(Span(2, 4, 2, 8), 2, 8)
    assert not cv.span_contains(Span(2, 4, 2, 8), 2, 9)
    assert not cv.span_contains(Span(2, 4, 2, 8), 1, 5)


def test_problem_to_diagnostic(tmp_path: Path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    problem = Problem(
        code="SQ001", message="two leaves", path=a, span=Span(3, 0), severity=Severity.ERROR,
        key=("shop", "0004_a"), related=((b, Span(5, 0), "other leaf shop.0004_b"),), hint="merge",
    )
    lines = {a: ["", "", "class Migration(migrations.Migration):"], b: [""] * 4 + ["class X:"]}
    d = cv.problem_to_diagnostic(problem, lines.get)
    assert d.code == "SQ001" and d.source == "squasher"
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.message == "two leaves\nhint: merge"
    assert d.range.start == types.Position(2, 0) and d.range.end.character == len(lines[a][2])
    info = d.related_information[0]
    assert info.location.uri == cv.path_to_uri(b) and info.location.range.start.line == 4
    assert cv.severity(Severity.INFO) == types.DiagnosticSeverity.Information


def test_changeset_to_workspace_edit(tmp_path: Path):
    old, new, gone, changed = (tmp_path / n for n in ("0003_a.py", "0005_a.py", "0002_x.py", "m.py"))
    changes = ChangeSet()
    changes.create(tmp_path / "0006_merge.py", "merge\n")
    changes.rename(old, new, "renamed\n")
    changes.delete(gone)
    changes.modify(changed, "new\n")
    texts = {old: "old\ntext", changed: "é\n"}
    edit = cv.changes_to_workspace_edit(changes, current_text=texts.get)
    kinds = [type(c).__name__ for c in edit.document_changes]
    assert kinds == ["CreateFile", "TextDocumentEdit", "TextDocumentEdit", "RenameFile",
                     "DeleteFile", "TextDocumentEdit"]
    create, insert, rewrite, rename, delete, modify = edit.document_changes
    assert create.uri == cv.path_to_uri(tmp_path / "0006_merge.py")
    assert insert.edits[0].new_text == "merge\n"
    assert rewrite.text_document.uri == cv.path_to_uri(old)
    assert rewrite.edits[0].range.end == types.Position(1, 4)
    assert (rename.old_uri, rename.new_uri) == (cv.path_to_uri(old), cv.path_to_uri(new))
    assert delete.uri == cv.path_to_uri(gone)
    assert modify.edits[0].range.end == types.Position(1, 0) and modify.edits[0].new_text == "new\n"
    # The JSON form printed by `squasher ... --format json` converts the same way.
    again = cv.changes_to_workspace_edit(changes.to_json(), current_text=texts.get)
    assert again == edit


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        return sum(len(x) + 1 for x in lines[:p.line]) + p.character

    for start, end, new in sorted(((offset(e.range.start), offset(e.range.end), e.new_text)
                                   for e in edits), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def test_minimal_edits_touch_only_changed_lines():
    old = "a\nb\nc\nd\ne"
    new = "a\nB\nc\nd\ne\nf\n"
    edits = cv.minimal_edits(old, new)
    assert [(e.range.start.line, e.range.end.line) for e in edits] == [(1, 2), (4, 4)]
    assert edits[1].range.start.character == 0 and edits[1].range.end.character == 1
    assert _apply(old, edits) == new
    assert cv.minimal_edits(old, old) == []
    assert _apply("", cv.minimal_edits("", "x\n")) == "x\n"


def test_plan_from_disk_is_laid_over_unsaved_buffer():
    disk = "header\ndeps = ['0002']\nops = []\n"
    planned = "header\ndeps = ['0005']\nops = []\n"
    buffer = "# unsaved\nheader\ndeps = ['0002']\nops = []\n"
    edits = cv.minimal_edits(buffer, planned, base=disk)
    assert _apply(buffer, edits) == "# unsaved\nheader\ndeps = ['0005']\nops = []\n"
    # unsaved edits on the very lines the plan rewrites: refused, not overwritten
    clash = "header\ndeps = ['0002', '0003']\nops = []\n"
    try:
        cv.minimal_edits(clash, planned, base=disk, what="m.py")
    except cv.StaleBufferError as exc:
        assert "m.py" in str(exc)
    else:
        raise AssertionError("expected StaleBufferError")


def test_versioned_edit_of_open_document(tmp_path: Path):
    path = tmp_path / "m.py"
    changes = ChangeSet()
    changes.modify(path, "x\ny\n")
    edit = cv.changes_to_workspace_edit(
        changes, current_text={path: "x\nz\n"}.get,
        version_of=lambda u: 7 if u == cv.path_to_uri(path) else None)
    (doc,) = edit.document_changes
    assert doc.text_document.version == 7
    assert [(e.range.start.line, e.new_text) for e in doc.edits] == [(1, "y\n")]


def test_root_map_translates_symlinked_roots(tmp_path: Path):
    real = tmp_path / "real"
    (real / "app").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    roots = cv.RootMap()
    assert roots.add(link) == real.resolve()
    inside = real.resolve() / "app" / "m.py"
    assert roots.to_uri(inside) == cv.path_to_uri(link / "app" / "m.py")
    assert roots.uri_to_index(cv.path_to_uri(link / "app" / "m.py")) == inside
    assert roots.to_client(tmp_path / "elsewhere.py") == tmp_path / "elsewhere.py"
    roots.remove(link)
    assert roots.to_uri(inside) == cv.path_to_uri(inside)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_tcp_transport(tmp_path: Path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lsp_server", "--tcp", f"127.0.0.1:{port}"])
    client = LanguageClient("tcp-test", "1")
    try:
        for _ in range(100):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("server did not listen")
        result = await asyncio.wait_for(client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=cv.path_to_uri(tmp_path))), 30)
        assert result.server_info.name == "squasher-lsp"
        assert result.capabilities.hover_provider
        assert "squasher.listApps" in result.capabilities.execute_command_provider.commands
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
    finally:
        await client.stop()
        proc.terminate()
        proc.wait(timeout=30)


def test_changeset_json_round_trip(tmp_path: Path):
    changes = ChangeSet()
    changes.create(tmp_path / "a.py", "a")
    changes.modify(tmp_path / "b.py", "b")
    changes.rename(tmp_path / "c.py", tmp_path / "d.py", "d")
    changes.delete(tmp_path / "e.py")
    again = ChangeSet.from_json(changes.to_json())
    assert again.to_json() == changes.to_json()
    # ``squasher ... --format json`` relative to --root: anchored at the root given
    relative = ChangeSet.from_json([{"kind": "modify", "path": "b.py", "text": "b"},
                                    {"kind": "rename", "path": "c.py", "new_path": "d.py"}],
                                   root=tmp_path)
    assert [(c.kind, c.path, c.new_path) for c in relative.changes] == [
        ("modify", tmp_path / "b.py", None), ("rename", tmp_path / "c.py", tmp_path / "d.py")]
    with pytest.raises(ValueError, match="unknown change kind"):
        ChangeSet.from_json([{"kind": "chmod", "path": "a.py"}])


def test_stdio_flag_is_accepted_like_language_clients_send_it(tmp_path: Path):
    """vscode-languageclient and many editor configs start servers with ``--stdio``."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}})
    message = f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    proc = subprocess.run([sys.executable, "-m", "lsp_server", "--stdio"], input=message,
                          capture_output=True, timeout=60)
    header, _, payload = proc.stdout.partition(b"\r\n\r\n")
    assert header.startswith(b"Content-Length:"), proc.stderr.decode()
    length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    reply = json.loads(payload[:length])
    assert reply["id"] == 1 and "capabilities" in reply["result"]
    both = subprocess.run([sys.executable, "-m", "lsp_server", "--stdio", "--tcp", "127.0.0.1:1"],
                          capture_output=True, text=True, timeout=60)
    assert both.returncode == 2 and "exclude each other" in both.stderr
