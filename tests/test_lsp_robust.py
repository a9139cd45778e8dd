"""Issue 10, language server reliability: a cyclic buffer, a bad buffer or a bad request
never stops the server from answering (pytest-lsp, like test_lsp.py).

Each test has a short timeout: before the fixes these hung (no response, or a worker
walking round a cycle until memory ran out).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient
from support.lsp import (
    ADD_STATUS,
    SERVER_COMMAND,
    change_doc,
    client_fixture,
    codes,
    find_position,
    hover_at,
    init_options,  # noqa: F401 - fixture
    migration_source,
    mini_project,
    notify_disk_changes,
    open_doc,
    uri,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)

client = client_fixture(["visual-studio-code"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return mini_project(tmp_path / "mini")


def mig(workspace: Path, app: str, name: str) -> Path:
    return workspace / app / "migrations" / f"{name}.py"


async def _list_apps(client: LanguageClient) -> list[dict]:
    return await asyncio.wait_for(client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.listApps", arguments=[{}])), 15)


@pytest.mark.timeout(45)
async def test_cycle_typed_into_a_buffer_keeps_the_server_serving(client: LanguageClient,
                                                                  workspace: Path):
    first = mig(workspace, "shop", "0002_order_status")
    open_doc(client, first)
    cyclic = migration_source([("shop", "0001_initial"), ("shop", "0004_alter_status")],
                              [ADD_STATUS])
    change_doc(client, first, cyclic, 2)
    await wait_until(lambda: "SQ003" in codes(client, first), what="SQ003 on the cycle")
    await asyncio.sleep(1.5)  # the suggestion worker has run on the cyclic graph
    apps = await _list_apps(client)
    shop = next(a for a in apps if a["app"] == "shop")
    assert set(shop["migrations"]) >= {"0001_initial", "0002_order_status"}
    text = await asyncio.wait_for(hover_at(client, mig(workspace, "notes", "0001_initial"),
                                           find_position(mig(workspace, "notes", "0001_initial"),
                                                         "0002_order_status", 2)), 15)
    assert "0002_order_status" in text
    # Undo: the cycle goes away, suggestions come back for shop.
    change_doc(client, first, migration_source([("shop", "0001_initial")], [ADD_STATUS]), 3)
    await wait_until(lambda: "SQ003" not in codes(client, first), what="SQ003 gone")
    await wait_until(lambda: "SQ100" in codes(client, mig(workspace, "shop", "0001_initial")),
                     what="suggestion back")


async def test_lone_surrogate_in_one_buffer_does_not_stop_other_diagnostics(
        client: LanguageClient, workspace: Path):
    bad = mig(workspace, "notes", "0001_initial")
    open_doc(client, bad)
    change_doc(client, bad, "# \ud800 " + bad.read_text(), 2)
    await wait_until(lambda: "SQ006" in codes(client, bad), what="SQ006 on the bad buffer")
    # Another file gets a conflict while the bad buffer stays open: it is published.
    branch = mig(workspace, "shop", "0004_branch")
    branch.write_text(migration_source([("shop", "0003_order_total")]))
    notify_disk_changes(client, [branch])
    await wait_until(lambda: "SQ001" in codes(client, branch), what="SQ001 while a bad buffer is open")


@pytest.mark.parametrize("method", [types.TEXT_DOCUMENT_HOVER, types.TEXT_DOCUMENT_CODE_ACTION])
async def test_request_with_a_negative_line_gets_an_answer(client: LanguageClient,
                                                           workspace: Path, method: str):
    path = mig(workspace, "shop", "0002_order_status")
    open_doc(client, path)
    doc = types.TextDocumentIdentifier(uri=uri(path))
    with attrs.validators.disabled():  # the client's own types refuse a negative line
        bad = types.Position(line=-1, character=0)
        params = (types.HoverParams(text_document=doc, position=bad)
                  if method == types.TEXT_DOCUMENT_HOVER else
                  types.CodeActionParams(text_document=doc, range=types.Range(start=bad, end=bad),
                                         context=types.CodeActionContext(diagnostics=[])))
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wait_for(client.protocol.send_request_async(method, params), 15)
    assert info.value.code == -32602  # invalid params
    # And the server still answers the next request.
    text = await asyncio.wait_for(hover_at(client, path, find_position(path, "0001_initial", 2)), 15)
    assert "0001_initial" in text


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def bare_client(lsp_client: LanguageClient, workspace: Path):
    """A client without ``workspace/applyEdit``: the server writes the files itself."""
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(
            workspace=types.WorkspaceClientCapabilities(apply_edit=False)),
        root_uri=uri(workspace),
        workspace_folders=[types.WorkspaceFolder(uri=uri(workspace), name="ws")],
        initialization_options={"djangoFeatures": False},
    ))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.parametrize("command", ["squasher.createMerge", "squasher.rebase"])
async def test_merge_is_refused_while_a_buffer_does_not_parse(bare_client: LanguageClient,
                                                              workspace: Path, command: str):
    client = bare_client
    branch = mig(workspace, "shop", "0004_branch")
    branch.write_text(migration_source([("shop", "0003_order_total")]))
    notify_disk_changes(client, [branch])
    # Not a leaf: a half-typed 0003 loses its dependency, so 0002 looks like a third leaf.
    leaf = mig(workspace, "shop", "0003_order_total")
    open_doc(client, leaf)
    half_typed = leaf.read_text().replace("('shop', '0002_order_status'),", "('shop', '0002_order")
    assert half_typed != leaf.read_text()
    change_doc(client, leaf, half_typed, 2)
    await wait_until(lambda: "SQ006" in codes(client, leaf), what="SQ006 on the half-typed buffer")
    before = sorted(p.name for p in leaf.parent.iterdir())
    result = await asyncio.wait_for(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[{"app": "shop"}])), 30)
    assert result == {"applied": False}
    assert sorted(p.name for p in leaf.parent.iterdir()) == before  # nothing written
    shown = [m.message for m in client.messages]
    assert any(f"{leaf}:" in m and "does not parse" in m for m in shown), shown
    # Once the buffer parses again (and is saved), the merge is written.
    if command == "squasher.createMerge":
        change_doc(client, leaf, leaf.read_text(), 3)
        await wait_until(lambda: "SQ006" not in codes(client, leaf), what="buffer parses again")
        result = await asyncio.wait_for(client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[{"app": "shop"}])), 30)
        assert result == {"applied": True}
        merge = next(p for p in leaf.parent.iterdir() if "merge" in p.name)
        assert "0002_order_status" not in merge.read_text()  # the two real leaves only
