"""Code actions and commands of ``squasher-lsp`` applied to a copy of ``sample_apps``.

Each action's WorkspaceEdit (or the edit the server sends through ``workspace/applyEdit``)
is applied to disk the way an editor would; the resulting files are checked and the real
``squasher check`` must be clean afterwards. Django features are on (trusted workspace).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import run_squasher
from lsprotocol import types
from pytest_lsp import LanguageClient
from support.lsp import (
    apply_workspace_edit,
    change_doc,
    client_fixture,
    codes,
    find_position,
    notify_disk_changes,
    open_doc,
    uri,
    wait_until,
)

client = client_fixture()
#: Emacs 29 (eglot) declares no resourceOperations: it cannot create or rename files.
emacs_client = client_fixture(["emacs"])


@pytest.fixture
def workspace(sample_project: Path) -> Path:
    return sample_project


@pytest.fixture
def init_options() -> dict:
    return {"djangoFeatures": True, "settingsModule": "settings", "interpreter": sys.executable}


def mig(root: Path, app: str, name: str) -> Path:
    return root / app / "migrations" / f"{name}.py"


async def actions_at(client: LanguageClient, path: Path, line: int) -> dict[str, types.CodeAction]:
    diagnostics = [d for d in client.diagnostics.get(uri(path), [])
                   if d.range.start.line <= line <= d.range.end.line]
    result = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)),
        range=types.Range(types.Position(line, 0), types.Position(line, 0)),
        context=types.CodeActionContext(diagnostics=diagnostics),
    ))
    return {a.title: a for a in result or [] if isinstance(a, types.CodeAction)}


#: every app but ``blog`` (its conflict is on purpose; only the merge/rebase tests fix it)
NOT_BLOG = ("accounts", "catalog", "orders", "billing", "newsletter")


def assert_check_clean(root: Path, *apps: str) -> None:
    result = run_squasher("check", *apps, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr


async def apply_action(client: LanguageClient, action: types.CodeAction) -> None:
    if action.edit is not None:
        notify_disk_changes(client, apply_workspace_edit(action.edit))
    if action.command is not None:
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments))
        assert result == {"applied": True}, client.log_messages[-3:]


async def conflict_ready(client: LanguageClient, root: Path) -> None:
    await wait_until(lambda: "SQ001" in codes(client, mig(root, "blog", "0005_post_reading_time")),
                     what="blog conflict diagnostics")


async def test_create_merge_migration_action(client: LanguageClient, workspace: Path):
    await conflict_ready(client, workspace)
    leaf = mig(workspace, "blog", "0005_post_reading_time")
    actions = await actions_at(client, leaf, find_position(leaf, "class Migration").line)
    assert "Create merge migration" in actions
    assert "Rebase 0005_post_reading_time onto 0003_post_status" in actions
    merge = actions["Create merge migration"]
    assert merge.kind == types.CodeActionKind.QuickFix
    assert [d.code for d in merge.diagnostics] == ["SQ001"]
    creates = [c for c in merge.edit.document_changes if isinstance(c, types.CreateFile)]
    assert len(creates) == 1

    await apply_action(client, merge)
    merged = sorted((workspace / "blog" / "migrations").glob("0006_*.py"))
    assert len(merged) == 1
    text = merged[0].read_text()
    assert "('blog', '0003_post_status')" in text or '("blog", "0003_post_status")' in text
    assert "0005_post_reading_time" in text
    assert_check_clean(workspace)
    await wait_until(lambda: codes(client, leaf) == [], what="conflict diagnostics gone")


async def test_rebase_action(client: LanguageClient, workspace: Path):
    await conflict_ready(client, workspace)
    short = mig(workspace, "blog", "0003_post_status")
    actions = await actions_at(client, short, find_position(short, "class Migration").line)
    action = actions["Rebase 0003_post_status onto 0005_post_reading_time"]
    kinds = [type(c).__name__ for c in action.edit.document_changes]
    assert "RenameFile" in kinds

    await apply_action(client, action)
    assert not short.exists()
    moved = mig(workspace, "blog", "0006_post_status")
    assert moved.exists()
    assert "0005_post_reading_time" in moved.read_text()
    assert_check_clean(workspace)
    await wait_until(lambda: "SQ001" not in codes(client, mig(workspace, "blog", "0005_post_reading_time")),
                     what="conflict diagnostics gone")
    assert codes(client, short) == []


async def test_point_at_squash_action(client: LanguageClient, workspace: Path):
    path = mig(workspace, "billing", "0005_taxrate")
    path.write_text(path.read_text().replace("0001_squashed_0004_alter_invoice_number",
                                             "0004_alter_invoice_number"))
    notify_disk_changes(client, [path])
    await wait_until(lambda: "SQ004" in codes(client, path), what="SQ004")
    line = find_position(path, "0004_alter_invoice_number").line
    actions = await actions_at(client, path, line)
    action = actions["Point at billing.0001_squashed_0004_alter_invoice_number"]
    assert action.is_preferred
    await apply_action(client, action)
    assert "('billing', '0001_squashed_0004_alter_invoice_number')," in path.read_text()
    assert_check_clean(workspace, *NOT_BLOG)
    await wait_until(lambda: "SQ004" not in codes(client, path), what="SQ004 gone")


async def test_finalize_squash_action(client: LanguageClient, workspace: Path):
    pytest.importorskip("squasher.lifecycle.finalize")
    squash = mig(workspace, "billing", "0001_squashed_0004_alter_invoice_number")
    actions = await actions_at(client, squash, find_position(squash, "class Migration").line)
    action = actions["Finalize squash"]
    assert action.command.command == "squasher.finalize"
    assert list(action.command.arguments) == [
        {"app": "billing", "squash": "0001_squashed_0004_alter_invoice_number"}]
    await apply_action(client, action)
    for name in ["0001_initial", "0002_invoice_amount", "0003_payment", "0004_alter_invoice_number"]:
        assert not mig(workspace, "billing", name).exists(), name
    assert "replaces" not in squash.read_text()
    assert_check_clean(workspace, *NOT_BLOG)


async def test_squash_command_runs_in_subprocess_with_progress(client: LanguageClient,
                                                               workspace: Path):
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.squash", arguments=[{"app": "catalog", "start": "0040", "end": "0047"}]))
    assert result == {"applied": True}, client.log_messages[-3:]
    created = sorted((workspace / "catalog" / "migrations").glob("0040_*squashed_0047*.py"))
    assert len(created) == 1
    assert "replaces" in created[0].read_text()
    reports = [v for values in client.progress_reports.values() for v in values]
    kinds = [type(v).__name__ for v in reports]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    # each step of the verified squash, as the CLI reports it, while it runs
    steps = [v.message for v in reports if type(v).__name__ == "WorkDoneProgressReport"]
    assert steps[0] == "loading the project (Django's migration loader)", steps
    assert any(s.startswith("verifying ") and s.endswith("histories on sqlite (in parallel)")
               for s in steps), steps
    assert any("original history migrated and read" in s for s in steps), steps
    assert_check_clean(workspace, *NOT_BLOG)
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri(created[0]))))
    assert lenses


async def test_squash_suggestion_action(client: LanguageClient, workspace: Path):
    pytest.importorskip("squasher.lifecycle.suggest")
    # Suggestions are published file by file: wait for catalog's own, not for any app's.
    doc_uri, diag = await wait_until(
        lambda: next(((u, d) for u, ds in list(client.diagnostics.items()) for d in ds
                      if d.code == "SQ100" and "/catalog/" in u), None),
        what="SQ100 on a catalog migration")
    assert diag.severity == types.DiagnosticSeverity.Information
    # what squashing gains: "0030–0048: 19 migrations → 1, 25 → ~21 operations (estimated)"
    assert re.fullmatch(r"\d+–\d+: (\d+) migrations → 1, (\d+) → ~(\d+) operations \(estimated\)",
                        diag.message), diag.message
    count, before, after = map(int, re.fullmatch(r".*: (\d+) migrations → 1, (\d+) → ~(\d+) .*",
                                                 diag.message).groups())
    assert count >= 2 and 1 <= after <= before
    path = Path(doc_uri.removeprefix("file://"))
    actions = await actions_at(client, path, diag.range.start.line)
    title = next(t for t in actions if t.startswith("Squash "))
    assert title == "Squash " + diag.message.split(":")[0]
    await apply_action(client, actions[title])
    assert list((workspace / "catalog" / "migrations").glob("*_squashed_*.py"))
    assert_check_clean(workspace, *NOT_BLOG)


async def test_navigation_on_sample_apps(client: LanguageClient, workspace: Path):
    # Hover on a `replaces` entry: the replaced migration and its squash.
    squash = mig(workspace, "billing", "0001_squashed_0004_alter_invoice_number")
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(squash)),
        position=find_position(squash, "0003_payment", 2)))
    text = result.contents.value
    assert text.startswith("**billing.0003_payment**")
    assert "- CreateModel billing.payment" in text
    assert "Replaced by squash `billing.0001_squashed_0004_alter_invoice_number`" in text

    # Hover on `class Migration` of a squash, a replaced migration and a merge.
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(squash)),
        position=find_position(squash, "class Migration")))
    assert "squash (replaces 4)" in result.contents.value
    replaced = mig(workspace, "billing", "0002_invoice_amount")
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(replaced)),
        position=find_position(replaced, "class Migration")))
    assert "replaced by `billing.0001_squashed_0004_alter_invoice_number`" in result.contents.value
    merge = mig(workspace, "catalog", "0022_merge_supplier_phone_category_description")
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(merge)),
        position=find_position(merge, "class Migration")))
    assert "merge" in result.contents.value.split("\n")[0]

    # Go to definition on a run_before entry.
    path = mig(workspace, "billing", "0008_default_invoice_tax_rate")
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)),
        position=find_position(path, "0004_order_shipped_at", 1)))
    target = mig(workspace, "orders", "0004_order_shipped_at")
    assert [loc.uri for loc in result] == [uri(target)]

    # A swappable dependency resolves through settings.AUTH_USER_MODEL to accounts' first migration.
    blog = mig(workspace, "blog", "0001_initial")
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(blog)),
        position=find_position(blog, "AUTH_USER_MODEL", 3)))
    assert [loc.uri for loc in result] == [uri(mig(workspace, "accounts", "0001_initial"))]

    # Code lens: dependents and the suggestion the migration belongs to.
    pytest.importorskip("squasher.lifecycle.suggest")
    first = mig(workspace, "billing", "0005_taxrate")
    await wait_until(lambda: "SQ100" in codes(client, first), what="SQ100 on billing.0005")

    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri(mig(workspace, "billing", "0006_seed_tax_rates")))))
    titles = [lens.command.title for lens in lenses]
    assert titles[0] == "1 dependent"
    assert any(t.startswith("squashable with ") and "others (0005–" in t for t in titles), titles


async def test_rebase_command(client: LanguageClient, workspace: Path):
    await conflict_ready(client, workspace)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.rebase", arguments=[{"app": "blog", "onto": "0005_post_reading_time"}]))
    assert result == {"applied": True}
    assert not mig(workspace, "blog", "0003_post_status").exists()
    assert mig(workspace, "blog", "0006_post_status").exists()
    assert_check_clean(workspace)
    apps = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="squasher.listApps", arguments=[{}]))
    blog = next(a for a in apps if a["app"] == "blog")
    assert blog["leaves"] == ["0006_post_status"]
    assert blog["migrations"][-2:] == ["0005_post_reading_time", "0006_post_status"]


async def test_client_without_file_operations_gets_server_applied_merge(emacs_client: LanguageClient,
                                                                        workspace: Path):
    client = emacs_client
    await conflict_ready(client, workspace)
    leaf = mig(workspace, "blog", "0005_post_reading_time")
    actions = await actions_at(client, leaf, find_position(leaf, "class Migration").line)
    merge = actions["Create merge migration"]
    assert merge.edit is None  # a CreateFile would fail in this client
    assert merge.command.command == "squasher.createMerge"
    rebase = actions["Rebase 0005_post_reading_time onto 0003_post_status"]
    assert rebase.command.command == "squasher.rebase"
    assert list(rebase.command.arguments) == [{"app": "blog", "onto": "0003_post_status"}]
    await apply_action(client, merge)  # the server writes the files (atomic ChangeSet)
    assert len(list((workspace / "blog" / "migrations").glob("0006_*.py"))) == 1
    assert_check_clean(workspace)
    await wait_until(lambda: codes(client, leaf) == [], what="conflict diagnostics gone")


async def test_operation_hover_follows_renames(client: LanguageClient, workspace: Path):
    path = mig(workspace, "catalog", "0030_review")
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)),
        position=find_position(path, "migrations.CreateModel", 12)))
    text = result.contents.value
    assert text.startswith("**CreateModel catalog.review**")
    lines = text.split("\n")
    rename = lines.index("- `catalog.0031_rename_review_productreview`: "
                         "RenameModel catalog.review -> ProductReview")
    table = next(i for i, line in enumerate(lines)
                 if line.startswith("- `catalog.0032_alter_productreview_table`: AlterModelTable"))
    assert rename < table  # plan order, and the renamed model is still followed
    assert "`catalog.review`, `catalog.productreview`" in text


def _apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")

    def offset(position: types.Position) -> int:
        return sum(len(x) + 1 for x in lines[:position.line]) + position.character

    for start, end, new in sorted(((offset(e.range.start), offset(e.range.end), e.new_text)
                                   for e in edits), reverse=True):
        text = text[:start] + new + text[end:]
    return text


async def test_rebase_action_keeps_unsaved_buffer_edits(client: LanguageClient, workspace: Path):
    """The moved file is open with an unsaved comment: the rebase plans from the buffer and
    sends only the changed lines, versioned, so the comment survives (and a stale edit would
    be refused by the editor)."""
    await conflict_ready(client, workspace)
    short = mig(workspace, "blog", "0003_post_status")
    on_disk = short.read_text()
    open_doc(client, short)
    unsaved = "# unsaved note: keep me\n" + on_disk
    change_doc(client, short, unsaved, 2)
    line = find_position(short, "class Migration").line + 1  # the buffer has one more line
    await wait_until(lambda: "SQ001" in codes(client, short), what="conflict on the buffer")

    actions = await actions_at(client, short, line)
    action = actions["Rebase 0003_post_status onto 0005_post_reading_time"]
    edits = [c for c in action.edit.document_changes
             if isinstance(c, types.TextDocumentEdit) and c.text_document.uri == uri(short)]
    assert len(edits) == 1
    assert edits[0].text_document.version == 2
    # minimal: the comment line (line 0) is not part of any replaced range
    assert all(e.range.start.line > 0 for e in edits[0].edits)
    result = _apply_text_edits(unsaved, list(edits[0].edits))
    assert result.startswith("# unsaved note: keep me\n")
    assert "('blog', '0005_post_reading_time')" in result
    assert short.read_text() == on_disk  # nothing written behind the editor's back
    rename = [c for c in action.edit.document_changes if isinstance(c, types.RenameFile)]
    assert rename and rename[0].old_uri == uri(short)
