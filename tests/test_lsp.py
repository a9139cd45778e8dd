"""End-to-end tests of ``squasher-lsp`` through a real LSP client (pytest-lsp).

Every test runs once per recorded client profile (VS Code and Neovim) against the
server started as a subprocess (``python -m lsp_server``), on a small migration tree
written into ``tmp_path``. Code actions on ``sample_apps`` are in test_lsp_actions.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from support.lsp import (
    ADD_STATUS,
    apply_workspace_edit,
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

client = client_fixture()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return mini_project(tmp_path / "mini")


def mig(workspace: Path, app: str, name: str) -> Path:
    return workspace / app / "migrations" / f"{name}.py"


# ------------------------------------------------------------------ diagnostics


async def test_clean_project_has_no_error_diagnostics(client: LanguageClient, workspace: Path):
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.conflictCount", arguments=[{}],
    ))
    assert result == {"count": 0}
    errors = [d for ds in client.diagnostics.values() for d in ds if d.code != "SQ100"]
    assert errors == []
    watched = client.capabilities.workspace.did_change_watched_files
    if watched and watched.dynamic_registration:  # VS Code: the server asks to watch migrations
        methods = [r.method for r in client.registrations]
        assert types.WORKSPACE_DID_CHANGE_WATCHED_FILES in methods


async def test_failing_command_is_logged_not_fatal(client: LanguageClient, workspace: Path):
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.createMerge", arguments=[{"app": "nope"}]))
    assert result == {"applied": False}
    errors = [m.message for m in client.log_messages if m.type == types.MessageType.Error]
    assert any("create_merge failed" in m and "unknown app 'nope'" in m for m in errors)
    assert any("unknown app 'nope'" in m.message for m in client.messages)  # shown to the user
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.rebase", arguments=[]))
    assert result == {"applied": False}
    assert any("missing command argument(s): app" in m.message for m in client.messages)
    # The server is still alive and answers.
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.conflictCount", arguments=[{}]))
    assert result == {"count": 0}


async def test_conflict_appears_and_disappears_with_unsaved_edits(client: LanguageClient,
                                                                   workspace: Path):
    shop = workspace / "shop" / "migrations"
    other = shop / "0004_alter_status.py"
    # A second leaf written to disk: the editor's watcher reports it.
    branch = shop / "0004_branch.py"
    branch.write_text(migration_source([("shop", "0003_order_total")]))
    notify_disk_changes(client, [branch])
    await wait_until(lambda: "SQ001" in codes(client, branch) and "SQ001" in codes(client, other),
                     what="SQ001 on both leaves")
    diag = next(d for d in client.diagnostics[uri(branch)] if d.code == "SQ001")
    assert diag.source == "squasher"
    assert diag.severity == types.DiagnosticSeverity.Error
    class_line = find_position(branch, "class Migration").line
    assert diag.range.start.line == class_line and diag.range.end.line == class_line
    assert [i.location.uri for i in diag.related_information] == [uri(other)]
    assert diag.related_information[0].location.range.start.line == find_position(
        other, "class Migration").line

    # Editing the branch (unsaved) to depend on the other leaf resolves the conflict.
    open_doc(client, branch)
    fixed = migration_source([("shop", "0004_alter_status")])
    change_doc(client, branch, fixed, 2)
    await wait_until(lambda: "SQ001" not in codes(client, branch)
                     and "SQ001" not in codes(client, other), what="conflict gone")
    assert branch.read_text() != fixed  # nothing was saved

    # Undo in the buffer: the conflict is back.
    change_doc(client, branch, migration_source([("shop", "0003_order_total")]), 3)
    await wait_until(lambda: "SQ001" in codes(client, other), what="conflict back")

    # Closing the buffer goes back to disk; deleting the file removes the conflict.
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri(branch))))
    branch.unlink()
    notify_disk_changes(client, [branch])
    await wait_until(lambda: codes(client, other) == [] and codes(client, branch) == [],
                     what="diagnostics cleared after delete")


async def test_typing_in_operations_keeps_diagnostics_in_place(client: LanguageClient,
                                                               workspace: Path):
    branch = mig(workspace, "shop", "0004_branch")
    branch.write_text(migration_source([("shop", "0003_order_total")]))
    notify_disk_changes(client, [branch])
    other = mig(workspace, "shop", "0004_alter_status")
    await wait_until(lambda: "SQ001" in codes(client, other), what="SQ001")
    open_doc(client, other)
    longer = other.read_text().replace("operations = [", "operations = [\n" + "        # typing\n" * 5)
    change_doc(client, other, longer, 2)
    # Edits are processed in order: once hover answers, the change has been handled.
    text = await hover_at(client, other, find_position(other, "0003_order_total", 2))
    assert "shop.0003_order_total" in text
    diag = next(d for d in client.diagnostics[uri(other)] if d.code == "SQ001")
    line = find_position(other, "class Migration").line
    assert diag.range.start.line == line and diag.range.end.line == line
    assert diag.related_information[0].location.range.end.line == find_position(
        branch, "class Migration").line


async def test_dangling_dependency_on_the_tuple(client: LanguageClient, workspace: Path):
    path = mig(workspace, "notes", "0001_initial")
    open_doc(client, path)
    text = path.read_text().replace("0002_order_status", "0009_missing")
    change_doc(client, path, text, 2)
    await wait_until(lambda: "SQ002" in codes(client, path), what="SQ002")
    diag = next(d for d in client.diagnostics[uri(path)] if d.code == "SQ002")
    line = text.split("\n").index("        ('shop', '0009_missing'),")
    assert diag.range.start == types.Position(line, 8)
    assert diag.range.end == types.Position(line, len("        ('shop', '0009_missing')"))
    assert "shop.0009_missing" in diag.message
    change_doc(client, path, path.read_text(), 3)
    await wait_until(lambda: codes(client, path) == [], what="SQ002 gone")


async def test_broken_file_keeps_other_diagnostics(client: LanguageClient, workspace: Path):
    # A conflict elsewhere that must survive a half-typed file.
    branch = mig(workspace, "shop", "0004_branch")
    branch.write_text(migration_source([("shop", "0003_order_total")]))
    notify_disk_changes(client, [branch])
    await wait_until(lambda: "SQ001" in codes(client, branch), what="SQ001")

    path = mig(workspace, "notes", "0001_initial")
    open_doc(client, path)
    half_typed = path.read_text().replace("operations = [", "operations = [\n        migrations.Add(")
    change_doc(client, path, half_typed, 2)
    await wait_until(lambda: "SQ006" in codes(client, path), what="SQ006")
    assert "SQ001" in codes(client, branch)
    assert "SQ001" in codes(client, mig(workspace, "shop", "0004_alter_status"))
    # Hover and definition still answer on the other files.
    text = await hover_at(client, branch, find_position(branch, "0003_order_total", 2))
    assert "shop.0003_order_total" in text

    binary = mig(workspace, "shop", "0005_binary")
    binary.write_bytes(b"\xff\xfe\x00 not utf-8 \x81")
    notify_disk_changes(client, [binary])
    await wait_until(lambda: "SQ006" in codes(client, binary), what="SQ006 for a non-UTF-8 file")

    change_doc(client, path, "\x00\ufffd garbage (((", 3)
    await wait_until(lambda: "SQ006" in codes(client, path), what="SQ006 again")
    change_doc(client, path, path.read_text(), 4)
    await wait_until(lambda: "SQ006" not in codes(client, path), what="SQ006 gone")
    assert "SQ001" in codes(client, branch)
    assert not [m for m in client.log_messages if m.type == types.MessageType.Error]


async def test_cycle_diagnostic(client: LanguageClient, workspace: Path):
    path = mig(workspace, "shop", "0001_initial")
    open_doc(client, path)
    change_doc(client, path, migration_source([("notes", "0001_initial")], []), 2)
    await wait_until(lambda: any("SQ003" in codes(client, p) for p in
                                 [path, mig(workspace, "shop", "0002_order_status"),
                                  mig(workspace, "notes", "0001_initial")]), what="SQ003")
    diag = next(d for ds in client.diagnostics.values() for d in ds if d.code == "SQ003")
    assert "circular dependency" in diag.message
    assert diag.related_information


async def test_replaced_reference_and_half_finalized(client: LanguageClient, workspace: Path):
    shop = workspace / "shop" / "migrations"
    squash = shop / "0001_squashed_0003_order_total.py"
    squash.write_text(migration_source(
        [], [ADD_STATUS], replaces=[("shop", "0001_initial"), ("shop", "0002_order_status"),
                                    ("shop", "0003_order_total")]))
    notify_disk_changes(client, [squash])
    notes = mig(workspace, "notes", "0001_initial")
    await wait_until(lambda: "SQ004" in codes(client, notes), what="SQ004")
    diag = next(d for d in client.diagnostics[uri(notes)] if d.code == "SQ004")
    assert "0001_squashed_0003_order_total" in diag.message
    assert diag.range.start.line == find_position(notes, "('shop', '0002_order_status')").line

    # Untrusted workspace (djangoFeatures false): no Django-backed action is offered.
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(squash)),
        range=types.Range(find_position(squash, "class Migration"), find_position(squash, "class Migration")),
        context=types.CodeActionContext(diagnostics=[]),
    ))
    assert [a.title for a in actions or []] == []
    # ... but the static fix for the reference is.
    line = find_position(notes, "('shop', '0002_order_status')").line
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(notes)),
        range=types.Range(types.Position(line, 0), types.Position(line, 0)),
        context=types.CodeActionContext(diagnostics=list(client.diagnostics[uri(notes)])),
    ))
    titles = [a.title for a in actions]
    assert titles == ["Point at shop.0001_squashed_0003_order_total"]
    assert [d.code for d in actions[0].diagnostics] == ["SQ004"]
    notify_disk_changes(client, apply_workspace_edit(actions[0].edit))
    assert "('shop', '0001_squashed_0003_order_total')," in notes.read_text()
    await wait_until(lambda: "SQ004" not in codes(client, notes), what="SQ004 fixed")

    # Deleting one of the replaced files half-finalizes the squash.
    gone = shop / "0002_order_status.py"
    gone.unlink()
    notify_disk_changes(client, [gone])
    await wait_until(lambda: "SQ005" in codes(client, squash), what="SQ005")
    diag = next(d for d in client.diagnostics[uri(squash)] if d.code == "SQ005")
    assert diag.range.start.line == find_position(squash, "('shop', '0002_order_status')").line


# ------------------------------------------------------------------ hover, definition, lens


async def test_hover_on_dependency_tuple(client: LanguageClient, workspace: Path):
    path = mig(workspace, "notes", "0001_initial")
    position = find_position(path, "0002_order_status", 3)
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), position=position))
    tuple_start = find_position(path, "('shop', '0002_order_status')")
    assert result.range == types.Range(
        tuple_start, types.Position(tuple_start.line, tuple_start.character + len("('shop', '0002_order_status')")))
    text = result.contents.value
    assert "**shop.0002_order_status**" in text
    assert "shop/migrations/0002_order_status.py" in text
    assert "- AddField shop.order.status" in text
    assert "Parents: `shop.0001_initial`" in text
    assert "`notes.0001_initial`" in text and "`shop.0003_order_total`" in text
    assert "Dependents:" in text


async def test_hover_on_class_and_operation(client: LanguageClient, workspace: Path):
    path = mig(workspace, "shop", "0002_order_status")
    text = await hover_at(client, path, find_position(path, "class Migration", 8))
    assert text.startswith("**shop.0002_order_status**")
    assert "Parents: `shop.0001_initial`" in text
    assert "Dependents: `notes.0001_initial`, `shop.0003_order_total`" in text

    leaf = mig(workspace, "shop", "0004_alter_status")
    assert "leaf" in (await hover_at(client, leaf, find_position(leaf, "class Migration")))

    text = await hover_at(client, path, find_position(path, "migrations.AddField", 12))
    assert text.startswith("**AddField shop.order.status**")
    assert "`shop.0003_order_total`: AddField shop.order.total" in text
    assert "`shop.0004_alter_status`: AlterField shop.order.status (same field)" in text
    assert "`notes.0001_initial`: CreateModel notes.note" in text


async def test_hover_nowhere_is_empty(client: LanguageClient, workspace: Path):
    path = mig(workspace, "shop", "0002_order_status")
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), position=types.Position(0, 0)))
    assert result is None


async def test_definition_on_tuple(client: LanguageClient, workspace: Path):
    path = mig(workspace, "notes", "0001_initial")
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)),
        position=find_position(path, "'shop'", 1),
    ))
    target = mig(workspace, "shop", "0002_order_status")
    assert isinstance(result, list) and len(result) == 1
    assert result[0].uri == uri(target)
    assert result[0].range.start.line == find_position(target, "class Migration").line


async def test_definition_follows_unsaved_buffer(client: LanguageClient, workspace: Path):
    path = mig(workspace, "notes", "0001_initial")
    open_doc(client, path)
    change_doc(client, path, "\n\n" + path.read_text().replace("0002_order_status", "0003_order_total"), 2)
    position = find_position(path, "0002_order_status")
    position = types.Position(position.line + 2, position.character)
    await wait_until(lambda: True)
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), position=position))
    assert result and result[0].uri == uri(mig(workspace, "shop", "0003_order_total"))


async def test_code_lens_counts_dependents(client: LanguageClient, workspace: Path):
    path = mig(workspace, "shop", "0002_order_status")
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path))))
    titles = [lens.command.title for lens in lenses]
    assert "2 dependents" in titles
    assert all(lens.range.start.line == find_position(path, "class Migration").line for lens in lenses)


# ------------------------------------------------------------------ commands


async def test_list_apps_and_graph_commands(client: LanguageClient, workspace: Path):
    apps = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.listApps", arguments=[{}]))
    by_app = {a["app"]: a for a in apps}
    assert by_app["shop"]["migrations"] == ["0001_initial", "0002_order_status",
                                            "0003_order_total", "0004_alter_status"]
    assert by_app["shop"]["leaves"] == ["0004_alter_status"]
    assert Path(by_app["shop"]["path"]) == workspace / "shop" / "migrations"

    graph = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.graph", arguments=[{"format": "json", "apps": ["shop"]}]))
    assert graph["nodes"]["shop.0001_initial"] == uri(mig(workspace, "shop", "0001_initial"))
    assert "notes.0001_initial" not in graph["nodes"]
    assert "0002_order_status" in graph["text"]


async def test_create_merge_command_applies_edit(client: LanguageClient, workspace: Path):
    branch = mig(workspace, "shop", "0004_branch")
    branch.write_text(migration_source([("shop", "0003_order_total")]))
    notify_disk_changes(client, [branch])
    await wait_until(lambda: "SQ001" in codes(client, branch), what="SQ001")
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.createMerge", arguments=[{"app": "shop"}]))
    assert result == {"applied": True}
    merges = sorted((workspace / "shop" / "migrations").glob("0005_*.py"))
    assert len(merges) == 1
    assert "0004_branch" in merges[0].read_text() and "0004_alter_status" in merges[0].read_text()
    await wait_until(lambda: codes(client, branch) == [], what="conflict resolved")
    count = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.conflictCount", arguments=[{}]))
    assert count == {"count": 0}


async def test_django_commands_refused_without_trust(client: LanguageClient, workspace: Path):
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.squash", arguments=[{"app": "shop", "start": "0001", "end": "0003"}]))
    assert result == {"applied": False}
    assert any("needs Django features" in m.message for m in client.log_messages)
    before = sorted(p.name for p in (workspace / "shop" / "migrations").iterdir())
    assert "0001_squashed_0003_order_total.py" not in before


async def test_static_features_never_execute_project_code(client: LanguageClient, workspace: Path):
    marker = workspace / "executed.txt"
    trap = f"open({str(marker)!r}, 'w').write('imported')\n"
    (workspace / "settings.py").write_text(trap + (workspace / "settings.py").read_text())
    path = mig(workspace, "shop", "0002_order_status")
    path.write_text(trap + path.read_text())
    notify_disk_changes(client, [path, workspace / "settings.py"])
    open_doc(client, path)
    await hover_at(client, path, find_position(path, "class Migration"))
    await hover_at(client, path, find_position(path, "migrations.AddField", 12))
    await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path))))
    await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)),
        range=types.Range(types.Position(0, 0), types.Position(20, 0)),
        context=types.CodeActionContext(diagnostics=[])))
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.graph", arguments=[{"format": "mermaid"}]))
    assert not marker.exists()


async def test_burst_of_changes_ends_in_the_last_state(client: LanguageClient, workspace: Path):
    path = mig(workspace, "notes", "0001_initial")
    open_doc(client, path)
    good = path.read_text()
    bad = good.replace("0002_order_status", "0009_missing")
    for version in range(2, 32):  # 30 keystrokes without waiting; the last one is broken
        change_doc(client, path, bad if version % 2 else good, version)
    text = await hover_at(client, path, find_position(path, "0002_order_status", 2))
    assert "shop.0009_missing" in text and "not found on disk" in text
    await wait_until(lambda: "SQ002" in codes(client, path), what="SQ002 after the burst")


class _CountingDict(dict):
    """``client.diagnostics`` that remembers which URIs were (re)published."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.published: list[str] = []

    def __setitem__(self, key: str, value: object) -> None:
        self.published.append(key)
        super().__setitem__(key, value)


async def test_only_changed_diagnostics_are_republished(client: LanguageClient, workspace: Path):
    # Settle: initial diagnostics and the (debounced, background) squash suggestions.
    def suggestion_runs() -> int:
        return sum("squash suggestions updated" in m.message for m in client.log_messages)

    await wait_until(suggestion_runs, what="initial squash suggestions")
    client.diagnostics = _CountingDict(client.diagnostics)
    path = mig(workspace, "notes", "0001_initial")
    open_doc(client, path)
    good = path.read_text()
    change_doc(client, path, good.replace("0002_order_status", "0009_missing"), 2)
    await wait_until(lambda: "SQ002" in codes(client, path), what="SQ002")
    change_doc(client, path, good + "\n# edited\n", 3)
    await wait_until(lambda: "SQ002" not in codes(client, path), what="SQ002 gone")
    await wait_until(lambda: suggestion_runs() >= 2, what="suggestions refreshed after the edits")
    assert set(client.diagnostics.published) == {uri(path)}
    assert len(client.diagnostics.published) == 2


async def test_workspace_folders_added_and_removed(client: LanguageClient, workspace: Path,
                                                   tmp_path: Path):
    second = mini_project(tmp_path / "second")
    leaf = mig(second, "shop", "0004_alter_status")
    (second / "shop" / "migrations" / "0004_branch.py").write_text(
        migration_source([("shop", "0003_order_total")]))
    folder = types.WorkspaceFolder(uri=uri(second), name="second")
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(added=[folder], removed=[])))
    await wait_until(lambda: "SQ001" in codes(client, leaf), what="SQ001 in the added folder")
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.conflictCount", arguments=[{}]))
    assert result == {"count": 1}
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(added=[], removed=[folder])))
    await wait_until(lambda: codes(client, leaf) == [], what="diagnostics withdrawn")
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.conflictCount", arguments=[{}]))
    assert result == {"count": 0}


class TestSymlinkedWorkspace:
    """The workspace folder is opened through a symlink: the index resolves it, but every
    URI the server sends uses the client's path, and the client's URIs are understood."""

    @pytest.fixture
    def workspace(self, tmp_path: Path) -> Path:
        real = mini_project(tmp_path / "real")
        (real / "notes" / "migrations" / "0002_dangling.py").write_text(
            migration_source([("notes", "0001_initial"), ("shop", "0099_missing")]))
        link = tmp_path / "link"
        link.symlink_to(real, target_is_directory=True)
        return link

    async def test_uris_use_the_client_path(self, client: LanguageClient, workspace: Path):
        dangling = mig(workspace, "notes", "0002_dangling")
        await wait_until(lambda: "SQ002" in codes(client, dangling), what="SQ002 on the link URI")
        real_prefix = uri(workspace.resolve()) + "/"
        assert not [u for u in client.diagnostics if u.startswith(real_prefix)]

        target = mig(workspace, "shop", "0002_order_status")
        note = mig(workspace, "notes", "0001_initial")
        result = await client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(note)),
            position=find_position(note, "'shop'", 1)))
        assert result and result[0].uri == uri(target)

        # An unsaved edit through the link URI is understood and clears the diagnostic.
        open_doc(client, dangling)
        change_doc(client, dangling, migration_source([("notes", "0001_initial")]), 2)
        await wait_until(lambda: "SQ002" not in codes(client, dangling), what="SQ002 gone")

        graph = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="squasher.graph", arguments=[{"format": "json"}]))
        assert graph["nodes"]["shop.0002_order_status"] == uri(target)


def test_operation_hover_work_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A root migration's operation hover searches a bounded number of later migrations and
    shows a bounded number of results ("… and N more")."""
    from lsp_server.features import hover
    from squasher.graph.project import Project

    project = Project.load(mini_project(tmp_path / "mini"), use_cache=False)
    record = project.record("shop", "0001_initial")
    op = next(o for o in record.operations if o.model)
    full = hover.later_operations(project.graph, record, op)
    assert full.count("\n- `shop.") == 3 and "more" not in full

    monkeypatch.setattr(hover, "MAX_LINES", 1)
    monkeypatch.setattr(hover, "MAX_SCANNED", 2)
    capped = hover.later_operations(project.graph, record, op)
    assert capped.count("\n- `") == 1
    assert "- … and 1 more" in capped
    assert "searched the next 2 migrations only" in capped
