"""The language server predicts what merging the base branch would break (issue 12): SQ2nn
diagnostics from ``check --against`` computed in the background, refreshed when the base
branch moves (``.git/refs`` watched), and the rebase onto it as a code action."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import require, run_squasher
from lsprotocol import types
from pytest_lsp import LanguageClient
from support.git_repo import commit_on, git, write
from support.lsp import client_fixture, init_options, notify_disk_changes, uri, wait_until
from support.trees import chain, make_tree

client = client_fixture()
__all__ = ["init_options"]  # the fixture, imported for pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project on ``main`` (shop: 0001..0002) whose checked-out branch ``feature`` adds
    shop.0003_feature; ``[tool.squasher] against = "main"`` names the base branch."""
    require(shutil.which("git") is not None, "git")
    root = make_tree(tmp_path / "repo", {"shop": chain("shop", 2)})
    (root / "pyproject.toml").write_text('[tool.squasher]\nagainst = "main"\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "checkout", "-qb", "feature")
    write(root, "shop", "0003_feature", deps=[("shop", "0002_m2")])
    git(root, "add", "-A")
    git(root, "commit", "-qm", "feature adds")
    return root


def codes_of(client: LanguageClient, path: Path) -> set[str]:
    return {str(d.code) for d in client.diagnostics.get(uri(path), [])}


async def test_base_branch_moving_brings_the_prediction_and_the_rebase_fixes_it(
        client: LanguageClient, workspace: Path) -> None:
    ours = workspace / "shop" / "migrations" / "0003_feature.py"
    await wait_until(lambda: any("merge prediction against main" in m.message
                                 for m in client.log_messages), what="first prediction")
    assert not any(c.startswith("SQ2") for c in codes_of(client, ours))

    # main moves: a commit adds shop.0003_on_main; the editor's watcher reports the ref
    commit_on(workspace, "main", "main adds", lambda: write(
        workspace, "shop", "0003_on_main", deps=[("shop", "0002_m2")]))
    registered = [w["globPattern"] for r in client.registrations  # type: ignore[attr-defined]
                  if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
                  for w in (r.register_options or {}).get("watchers", [])]
    if registered:  # VS Code registers the watcher; the others are told the same way here
        assert "**/.git/refs/**" in registered
    notify_disk_changes(client, [workspace / ".git" / "refs" / "heads" / "main"])
    await wait_until(lambda: "SQ201" in codes_of(client, ours), what="SQ201 after main moved")
    [diag] = [d for d in client.diagnostics[uri(ours)] if d.code == "SQ201"]
    assert diag.message.startswith("after merging main: ")
    assert diag.severity == types.DiagnosticSeverity.Error

    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(ours)), range=diag.range,
        context=types.CodeActionContext(diagnostics=[diag])))
    titles = {a.title: a for a in actions or [] if isinstance(a, types.CodeAction)}
    action = titles["Rebase shop's new migrations onto main"]
    assert action.command is not None
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=action.command.command, arguments=action.command.arguments))
    assert result == {"applied": True}, client.log_messages[-3:]
    moved = workspace / "shop" / "migrations" / "0004_feature.py"
    assert moved.is_file() and not ours.exists()
    assert "0003_on_main" in moved.read_text()

    # the branch now follows main's leaf: nothing predicted, what the merge fixes is info
    await wait_until(lambda: moved.exists() and codes_of(client, moved) and not any(
        c.startswith("SQ2") for ds in client.diagnostics.values() for d in ds
        for c in [str(d.code)]), what="no SQ2nn after the rebase")
    await wait_until(lambda: any("merging main resolves it" in d.message
                                 for d in client.diagnostics.get(uri(moved), [])),
                     what="SQ002 as information")
    assert all(d.severity == types.DiagnosticSeverity.Information
               for d in client.diagnostics.get(uri(moved), []))
    proc = run_squasher("check", "--format", "json", cwd=workspace)  # the CLI agrees
    assert proc.returncode == 0, proc.stdout
