"""Helpers for the language-server end-to-end tests (tests/test_lsp*.py).

A tiny Django-shaped project written into ``tmp_path`` (no Django import needed),
an editor-like ``WorkspaceEdit`` applier and polling helpers.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import pytest
import pytest_lsp
from lsprotocol import types
from pygls import uris
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER_COMMAND = [sys.executable, "-m", "lsp_server"]
CLIENTS = ["visual-studio-code", "neovim"]


def uri(path: Path) -> str:
    value = uris.from_fs_path(str(path))
    assert value is not None
    return value


def migration_source(deps: list[tuple[str, str]], operations: list[str] | None = None,
                     replaces: list[tuple[str, str]] | None = None,
                     run_before: list[tuple[str, str]] | None = None) -> str:
    """A migration module; ``operations`` are source lines inside ``operations = [...]``."""
    lines = ["from django.db import migrations, models", "", "",
             "class Migration(migrations.Migration):", ""]
    if replaces:
        lines.append("    replaces = [")
        lines += [f"        ({a!r}, {n!r})," for a, n in replaces]
        lines.append("    ]")
        lines.append("")
    lines.append("    dependencies = [")
    lines += [f"        ({a!r}, {n!r})," for a, n in deps]
    lines.append("    ]")
    lines.append("")
    if run_before:
        lines.append("    run_before = [")
        lines += [f"        ({a!r}, {n!r})," for a, n in run_before]
        lines.append("    ]")
        lines.append("")
    lines.append("    operations = [")
    for op in operations or []:
        lines.append(textwrap.indent(op, "        ") + ",")
    lines.append("    ]")
    return "\n".join(lines) + "\n"


CREATE_ORDER = ('migrations.CreateModel(name="Order", fields=['
                '("id", models.AutoField(primary_key=True))])')
ADD_STATUS = ('migrations.AddField(model_name="order", name="status", '
              'field=models.CharField(max_length=10, default=""))')
ADD_TOTAL = ('migrations.AddField(model_name="order", name="total", '
             'field=models.IntegerField(default=0))')
ALTER_STATUS = ('migrations.AlterField(model_name="order", name="status", '
                'field=models.CharField(max_length=20, default=""))')
CREATE_NOTE = ('migrations.CreateModel(name="Note", fields=['
               '("id", models.AutoField(primary_key=True)), '
               '("order", models.ForeignKey(on_delete=models.CASCADE, to="shop.order"))])')


def write_app(root: Path, app: str, migrations: dict[str, str]) -> Path:
    package = root / app
    (package / "migrations").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    for name, source in migrations.items():
        (package / "migrations" / f"{name}.py").write_text(source)
    return package / "migrations"


def mini_project(root: Path) -> Path:
    """``shop`` (linear 0001–0004) and ``notes`` (depends on shop.0002)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.py").write_text(
        'INSTALLED_APPS = ["django.contrib.contenttypes", "shop", "notes"]\n'
    )
    write_app(root, "shop", {
        "0001_initial": migration_source([], [CREATE_ORDER]),
        "0002_order_status": migration_source([("shop", "0001_initial")], [ADD_STATUS]),
        "0003_order_total": migration_source([("shop", "0002_order_status")], [ADD_TOTAL]),
        "0004_alter_status": migration_source([("shop", "0003_order_total")], [ALTER_STATUS]),
    })
    write_app(root, "notes", {
        "0001_initial": migration_source([("shop", "0002_order_status")], [CREATE_NOTE]),
    })
    return root


def find_position(path: Path, needle: str, offset: int = 0, occurrence: int = 0) -> types.Position:
    """Position of the ``occurrence``-th ``needle`` in ``path`` (+``offset`` characters)."""
    lines = path.read_text().split("\n")
    seen = 0
    for number, line in enumerate(lines):
        start = 0
        while (col := line.find(needle, start)) >= 0:
            if seen == occurrence:
                return types.Position(number, col + offset)
            seen += 1
            start = col + 1
    raise AssertionError(f"{needle!r} not found in {path}")


async def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``predicate`` (while the client keeps processing messages) until truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


def codes(client: Any, path: Path) -> list[str]:
    return sorted(str(d.code) for d in client.diagnostics.get(uri(path), []))


def _offset(text: str, position: types.Position) -> int:
    lines = text.split("\n")
    line = min(position.line, len(lines) - 1) if lines else 0
    before = sum(len(x) + 1 for x in lines[:line])
    units = 0
    for i, ch in enumerate(lines[line] if lines else ""):
        if units >= position.character:
            return before + i
        units += 2 if ord(ch) > 0xFFFF else 1
    return before + len(lines[line] if lines else "")


def apply_workspace_edit(edit: types.WorkspaceEdit) -> list[Path]:
    """Apply an edit the way an editor would, straight to disk; returns touched paths."""
    touched: list[Path] = []

    def text_edits(path: Path, edits: list[Any]) -> None:
        text = path.read_text() if path.exists() else ""
        spans = sorted(
            ((_offset(text, e.range.start), _offset(text, e.range.end), e.new_text) for e in edits),
            reverse=True,
        )
        for start, end, new in spans:
            text = text[:start] + new + text[end:]
        path.write_text(text)
        touched.append(path)

    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            path = Path(uris.to_fs_path(change.uri))
            assert not path.exists(), f"CreateFile over an existing file {path}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
            touched.append(path)
        elif isinstance(change, types.RenameFile):
            old, new = Path(uris.to_fs_path(change.old_uri)), Path(uris.to_fs_path(change.new_uri))
            assert not new.exists(), f"RenameFile over an existing file {new}"
            os.rename(old, new)
            touched += [old, new]
        elif isinstance(change, types.DeleteFile):
            path = Path(uris.to_fs_path(change.uri))
            if path.exists():
                path.unlink()
            touched.append(path)
        else:
            text_edits(Path(uris.to_fs_path(change.text_document.uri)), list(change.edits))
    for doc_uri, edits in (edit.changes or {}).items():
        text_edits(Path(uris.to_fs_path(doc_uri)), list(edits))
    return touched


def notify_disk_changes(client: Any, paths: list[Path]) -> None:
    """What the editor's file watcher sends after files changed on disk."""
    changes = []
    for path in dict.fromkeys(paths):
        kind = types.FileChangeType.Changed if path.exists() else types.FileChangeType.Deleted
        changes.append(types.FileEvent(uri=uri(path), type=kind))
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=changes))


# ------------------------------------------------------------------ the client fixture


@pytest.fixture
def init_options() -> dict:
    """``initializationOptions``; override in a module for Django features."""
    return {"djangoFeatures": False, "settingsModule": None, "interpreter": None}


async def _client(lsp_client: LanguageClient, request: pytest.FixtureRequest, workspace: Path,
                  init_options: dict):
    """A client (one per recorded capability profile) initialized on ``workspace``.

    It applies ``workspace/applyEdit`` to disk and then reports the changed files like
    an editor's file watcher would.
    """

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        notify_disk_changes(lsp_client, apply_workspace_edit(params.edit))
        return types.ApplyWorkspaceEditResult(applied=True)

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        registrations.extend(params.registrations)

    # lsprotocol structures every item with a "command" key as a Command, even a
    # CodeAction whose "command" is an object; tell them apart by that value's type.
    converter = lsp_client.protocol._converter

    def code_action_or_command(obj: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(types.Command | types.CodeAction, code_action_or_command)
    converter.register_structure_hook(Union[types.Command, types.CodeAction],  # noqa: UP007
                                      code_action_or_command)

    registrations: list[types.Registration] = []
    lsp_client.registrations = registrations  # type: ignore[attr-defined]
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=pytest_lsp.client_capabilities(request.param),
        root_uri=uri(workspace),
        workspace_folders=[types.WorkspaceFolder(uri=uri(workspace), name="ws")],
        initialization_options=init_options,
    ))
    yield
    await lsp_client.shutdown_session()


def client_fixture(profiles: list[str] | None = None) -> Any:
    """The ``client`` fixture; a test module does ``client = client_fixture()``."""
    return pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND),
                              params=profiles or CLIENTS)(_client)


def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(
            uri=uri(path), language_id="python", version=1,
            text=path.read_text() if text is None else text,
        )
    ))


def change_doc(client: LanguageClient, path: Path, text: str, version: int) -> None:
    """Replace the whole unsaved buffer (the file on disk is untouched)."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri(path), version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
    ))


async def hover_at(client: LanguageClient, path: Path, position: types.Position) -> str:
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), position=position,
    ))
    assert result is not None, f"no hover at {position}"
    assert isinstance(result.contents, types.MarkupContent)
    return result.contents.value


