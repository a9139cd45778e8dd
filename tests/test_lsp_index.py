"""Unit tests of the language server's workspace index (``lsp_server/index.py``), without a
server: a folder is indexed, buffers and files on disk change, and the derived state (problems,
squash suggestions, merge predictions) follows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import require
from support.git_repo import commit_on, git
from support.trees import chain, make_tree, migration_source

from lsp_server.index import IndexedProject, WorkspaceIndex, header_span
from squasher.records import Span


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """``shop`` 0001..0006 (a chain) and ``notes`` 0001 (depends on shop 0002)."""
    return make_tree(tmp_path / "proj", {
        "shop": chain("shop", 6),
        "notes": [("0001_initial", {"deps": [("shop", "0002_m2")], "initial": True})],
    }).resolve()


@pytest.fixture
def index() -> WorkspaceIndex:
    logged: list[str] = []
    index = WorkspaceIndex(logger=logged.append)
    index.use_cache = False
    index.logged = logged  # type: ignore[attr-defined]
    return index


def mig(root: Path, app: str, name: str) -> Path:
    return root / app / "migrations" / f"{name}.py"


def codes(index: WorkspaceIndex, state: IndexedProject, path: Path) -> list[str]:
    return sorted(p.code for p in index.problems_by_path(state).get(path, []))


def all_codes(index: WorkspaceIndex, state: IndexedProject) -> set[str]:
    return {p.code for ps in index.problems_by_path(state).values() for p in ps}


# ------------------------------------------------------------------ building


def test_a_folder_is_indexed_with_its_records_and_graph(index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert isinstance(state, IndexedProject)
    assert index.states == {root: state} and state.root == root
    assert state.graph.apps() == ["notes", "shop"]
    assert len(state.project.records_by_path) == 7
    assert state.config_error is None and state.against is None and state.predicted == []
    assert state.problems.get("shop", []) == [] and state.other_problems == []
    assert any("7 migrations in 2 apps indexed" in m for m in index.logged)  # type: ignore[attr-defined]

    path = mig(root, "shop", "0003_m3")
    found = index.record_for(path)
    assert found is not None and found[0] is state and found[1].key == ("shop", "0003_m3")
    assert index.record_for(root / "settings.py") is None
    assert index.state_for(root / "shop" / "models.py") is state
    assert index.state_for(root.parent / "elsewhere.py") is None


def test_the_deepest_folder_owns_a_file(index: WorkspaceIndex, root: Path, tmp_path: Path) -> None:
    inner = make_tree(root / "inner", {"blog": chain("blog", 1)}).resolve()
    outer_state, inner_state = index.add_root(root), index.add_root(inner)
    assert outer_state is not None and inner_state is not None
    assert index.state_for(mig(inner, "blog", "0001_m1")) is inner_state
    assert index.state_for(mig(root, "shop", "0001_m1")) is outer_state
    index.remove_root(inner)
    assert index.state_for(mig(inner, "blog", "0001_m1")) is outer_state


def test_migration_paths(index: WorkspaceIndex, root: Path) -> None:
    index.add_root(root)
    assert index.is_migration_path(mig(root, "shop", "0001_m1"))
    assert index.is_migration_path(mig(root, "shop", "0099_not_written_yet"))  # a new file
    assert not index.is_migration_path(root / "shop" / "migrations" / "__init__.py")
    assert not index.is_migration_path(root / "shop" / "models.py")
    assert not index.is_migration_path(root / "shop" / "migrations" / "notes.txt")
    assert not index.is_migration_path(root.parent / "x" / "migrations" / "0001_a.py")


def test_a_bad_configuration_falls_back_to_the_defaults(index: WorkspaceIndex, root: Path) -> None:
    (root / "pyproject.toml").write_text("[tool.squasher]\nkeep-last = -1\n")
    state = index.add_root(root)
    assert state is not None and state.config_error and "keep-last" in state.config_error
    assert state.config.keep_last is None
    (root / "pyproject.toml").write_text("[tool.squasher]\nkeep-last = 2\n")
    assert index.file_changed_on_disk(root / "pyproject.toml") is state
    assert state.config_error is None and state.config.keep_last == 2


# ------------------------------------------------------------------ updates


def test_an_unsaved_buffer_changes_the_problems_and_closing_it_goes_back_to_disk(
        index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    leaf = mig(root, "shop", "0006_m6")
    on_disk = leaf.read_text()
    # the leaf now depends on 0004: 0005 and 0006 are two leaves (SQ001)
    branched = migration_source({"deps": [("shop", "0004_m4")]})
    assert index.set_buffer(leaf, branched) is state
    assert "SQ001" in codes(index, state, leaf)
    assert "SQ001" in codes(index, state, mig(root, "shop", "0005_m5"))
    assert index.text_of(leaf) == branched and leaf.read_text() == on_disk  # nothing saved
    assert index.lines_of(leaf) == branched.split("\n")

    assert index.drop_buffer(leaf) is state
    assert "SQ001" not in all_codes(index, state)
    assert index.drop_buffer(leaf) is None  # not open any more: nothing to do
    assert index.text_of(leaf) == on_disk


def test_a_buffer_that_does_not_parse_keeps_a_diagnostic_on_that_file(
        index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    path = mig(root, "shop", "0003_m3")
    index.set_buffer(path, "class Migration(:\n")
    assert codes(index, state, path) == ["SQ006"]  # syntax error
    index.drop_buffer(path)
    assert index.problems_by_path(state) == {}


def test_files_created_and_deleted_on_disk(index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    branch = mig(root, "shop", "0006_branch")
    branch.write_text(migration_source({"deps": [("shop", "0005_m5")]}))
    assert index.file_changed_on_disk(branch) is state
    assert ("shop", "0006_branch") in state.graph.records
    assert codes(index, state, branch) == ["SQ001"]

    branch.unlink()
    assert index.file_changed_on_disk(branch) is state
    assert ("shop", "0006_branch") not in state.graph.records
    assert "SQ001" not in all_codes(index, state)
    assert index.file_changed_on_disk(root / "shop" / "models.py") is None  # not a migration


def test_an_open_buffer_wins_over_the_file_on_disk(index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    leaf = mig(root, "shop", "0006_m6")
    buffer = migration_source({"deps": [("shop", "0005_m5")], "ops": "migrations.RunSQL('SELECT 1')"})
    index.set_buffer(leaf, buffer)
    leaf.write_text(migration_source({"deps": [("shop", "0004_m4")]}))  # saved elsewhere
    assert index.file_changed_on_disk(leaf) is None
    assert index.text_of(leaf) == buffer and "SQ001" not in all_codes(index, state)


# ------------------------------------------------------------------ the state of an app


def test_problems_are_kept_per_app(index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    notes = mig(root, "notes", "0001_initial")
    index.set_buffer(notes, migration_source({"deps": [("shop", "0099_missing")]}))
    assert [p.code for p in state.problems["notes"]] == ["SQ002"]  # a dangling dependency
    assert state.problems.get("shop", []) == []
    [problem] = index.problems_by_path(state)[notes]
    assert problem.span is not None and problem.key == ("notes", "0001_initial")


def test_problems_on_a_whole_class_are_narrowed_to_its_first_line(
        index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    index.set_buffer(mig(root, "shop", "0006_m6"), migration_source({"deps": [("shop", "0004_m4")]}))
    for path in (mig(root, "shop", "0005_m5"), mig(root, "shop", "0006_m6")):
        found = index.record_for(path)
        assert found is not None
        [problem] = [p for p in index.problems_by_path(state)[path] if p.code == "SQ001"]
        assert problem.span == header_span(found[1])
        assert problem.span is not None and problem.span.end_line is None


def test_header_span_is_the_class_line() -> None:
    class Record:
        class_span = Span(5, 0, 12, 5)

    assert header_span(Record()) == Span(5, 0)  # type: ignore[arg-type]
    Record.class_span = None  # type: ignore[assignment]
    assert header_span(Record()) is None  # type: ignore[arg-type]


# ------------------------------------------------------------------ squash suggestions


def test_squash_suggestions_are_computed_for_the_stale_apps(index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    assert index.stale_suggestions == {root: None}  # a new folder: every app
    assert index.refresh_suggestions() == [state]
    assert index.stale_suggestions == {}
    [shop] = state.suggestions["shop"]
    assert shop.first == ("shop", "0001_m1") and shop.last == ("shop", "0006_m6")
    assert shop.migrations == 6 and len(shop.members) == 6 and shop.label == "0001–0006"
    assert index.suggestion_at(state, ("shop", "0001_m1")) == shop
    assert index.suggestion_at(state, ("shop", "0002_m2")) is None
    assert index.suggestion_containing(state, ("shop", "0004_m4")) == shop
    assert "SQ100" in codes(index, state, mig(root, "shop", "0001_m1"))

    # an edit makes only its app stale; nothing changed, so nothing is republished
    index.set_buffer(mig(root, "shop", "0003_m3"), mig(root, "shop", "0003_m3").read_text() + "\n")
    assert index.stale_suggestions == {root: {"shop"}}
    assert index.refresh_suggestions() == []


def test_keep_last_leaves_the_newest_migrations_out(index: WorkspaceIndex, root: Path) -> None:
    (root / "pyproject.toml").write_text("[tool.squasher]\nkeep-last = 2\n")
    state = index.add_root(root)
    assert state is not None
    index.refresh_suggestions()
    [shop] = state.suggestions["shop"]
    assert shop.last == ("shop", "0004_m4")


# ------------------------------------------------------------------ merge predictions


def test_no_base_branch_means_no_prediction(index: WorkspaceIndex, root: Path) -> None:
    state = index.add_root(root)
    assert state is not None
    assert index.compute_prediction(state) == (None, None)
    assert index.apply_prediction(state, None, None) is False  # nothing changed


def test_a_prediction_against_the_base_branch(index: WorkspaceIndex, tmp_path: Path) -> None:
    require(shutil.which("git") is not None, "git")
    root = make_tree(tmp_path / "repo", {"shop": chain("shop", 2)}).resolve()
    (root / "pyproject.toml").write_text('[tool.squasher]\nagainst = "main"\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "checkout", "-qb", "feature")
    ours = mig(root, "shop", "0003_feature")
    ours.write_text(migration_source({"deps": [("shop", "0002_m2")]}))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "feature")
    commit_on(root, "main", "main adds", lambda: mig(root, "shop", "0003_on_main").write_text(
        migration_source({"deps": [("shop", "0002_m2")]})))

    state = index.add_root(root)
    assert state is not None and index.base_revision(state) == "main"
    rev, preview = index.compute_prediction(state)
    assert rev == "main" and preview is not None
    assert index.apply_prediction(state, rev, preview) is True
    assert state.against == "main" and "SQ201" in codes(index, state, ours)
    assert index.apply_prediction(state, rev, preview) is False  # the same again


def test_an_unknown_base_revision_is_logged_not_raised(index: WorkspaceIndex, root: Path) -> None:
    require(shutil.which("git") is not None, "git")
    (root / "pyproject.toml").write_text('[tool.squasher]\nagainst = "no-such-branch"\n')
    git(root, "init", "-q", "-b", "main")
    state = index.add_root(root)
    assert state is not None
    assert index.compute_prediction(state) == ("no-such-branch", None)
    assert any("no merge prediction against no-such-branch" in m
               for m in index.logged)  # type: ignore[attr-defined]
