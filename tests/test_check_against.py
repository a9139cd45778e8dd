"""``squasher check --against REV`` (issue 12): predict what merging REV would break, from git
objects only, and compare the prediction with what a real ``git merge`` then brings
(squasher's own check and Django's loader on the merged tree)."""

from __future__ import annotations

from pathlib import Path

from conftest import run_squasher
from support.git_repo import (
    commit_on,
    git,
    merged_truth,
    predicted,
    tree_state,
    write,
)
from support.trees import chain, make_tree


def test_both_branches_add_a_migration_predicts_the_conflict_django_finds(repo: Path) -> None:
    commit_on(repo, "main", "main adds", lambda: write(
        repo, "shop", "0003_on_main", deps=[("shop", "0002_m2")]))
    ours = write(repo, "shop", "0003_on_feature", deps=[("shop", "0002_m2")])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature adds")
    before = tree_state(repo)
    code, problems = predicted(repo)
    assert tree_state(repo) == before  # nothing checked out, nothing staged
    assert code == 1
    [conflict] = [p for p in problems if p["code"] == "SQ201"]
    assert conflict["path"] == str(ours.relative_to(repo)) and conflict["line"] >= 1
    assert "after merging main" in conflict["message"]
    django_conflicts, merged_problems, error = merged_truth(repo)
    assert error == ""
    assert django_conflicts == {"shop"} == {p["migration"].split(".")[0] for p in problems
                                            if p["code"] == "SQ201"}
    assert any(p["code"] == "SQ001" and p["path"] == conflict["path"] for p in merged_problems)


def test_uncommitted_work_counts_as_this_branch(repo: Path) -> None:
    commit_on(repo, "main", "main adds", lambda: write(
        repo, "blog", "0002_on_main", deps=[("blog", "0001_m1")]))
    write(repo, "blog", "0002_local", deps=[("blog", "0001_m1")])  # not committed
    code, problems = predicted(repo)
    assert code == 1 and [p["code"] for p in problems] == ["SQ201"]


def test_dependency_on_a_migration_main_deleted_is_dangling(repo: Path) -> None:
    def delete_and_repoint() -> None:  # main folds 0002 away
        (repo / "shop" / "migrations" / "0002_m2.py").unlink()
    commit_on(repo, "main", "main deletes 0002", delete_and_repoint)
    ours = write(repo, "shop", "0003_feature", deps=[("shop", "0002_m2")])
    code, problems = predicted(repo)
    assert code == 1
    [dangling] = [p for p in problems if p["code"] == "SQ202"]
    assert dangling["path"] == str(ours.relative_to(repo))
    assert "0002_m2" in dangling["message"]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature")
    _conflicts, merged_problems, error = merged_truth(repo)
    assert error == "NodeNotFoundError"  # Django's migrate would stop there
    assert any(p["code"] == "SQ002" and p["path"] == dangling["path"] for p in merged_problems)


def test_squash_on_main_replacing_what_the_branch_references(repo: Path) -> None:
    def squash_and_finalize() -> None:
        write(repo, "shop", "0001_squashed_0002", deps=[], initial=True)
        for name in ("0001_m1", "0002_m2"):
            (repo / "shop" / "migrations" / f"{name}.py").unlink()
    commit_on(repo, "main", "main squashes and finalizes shop", squash_and_finalize)
    ours = write(repo, "shop", "0003_feature", deps=[("shop", "0002_m2")])
    code, problems = predicted(repo)
    assert code == 1
    on_ours = {p["code"] for p in problems if p["path"] == str(ours.relative_to(repo))}
    assert "SQ202" in on_ours  # 0002_m2 is gone on main and no squash replaces it any more
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature")
    _conflicts, merged_problems, error = merged_truth(repo)
    assert error == "NodeNotFoundError"
    # every predicted code is what check reports on the really merged tree, on the same file
    merged_on_ours = {p["code"] for p in merged_problems if p["path"] == str(ours.relative_to(repo))}
    assert {"SQ0" + code[3:] for code in on_ours} == merged_on_ours


def test_main_renamed_the_migration_the_branch_depends_on(repo: Path) -> None:
    commit_on(repo, "main", "main renames 0002", lambda: git(
        repo, "mv", "shop/migrations/0002_m2.py", "shop/migrations/0002_renamed.py"))
    ours = write(repo, "shop", "0003_feature", deps=[("shop", "0002_m2")])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature")
    code, problems = predicted(repo)
    assert code == 1
    on_ours = {p["code"] for p in problems if p["path"] == str(ours.relative_to(repo))}
    assert "SQ202" in on_ours  # 0002_m2 is 0002_renamed on main
    conflicts, merged_problems, error = merged_truth(repo)
    assert (conflicts, error) == (set(), "NodeNotFoundError")
    # what check reports on the really merged tree, on the same file, predicted code by code
    assert {"SQ0" + code[3:] for code in on_ours} == {
        p["code"] for p in merged_problems if p["path"] == str(ours.relative_to(repo))}


def test_renames_on_both_sides_give_two_leaves(repo: Path) -> None:
    commit_on(repo, "main", "main renames 0002", lambda: git(
        repo, "mv", "shop/migrations/0002_m2.py", "shop/migrations/0002_main_name.py"))
    git(repo, "mv", "shop/migrations/0002_m2.py", "shop/migrations/0002_feature_name.py")
    git(repo, "commit", "-qm", "feature renames 0002")
    before = tree_state(repo)
    code, problems = predicted(repo)
    assert tree_state(repo) == before
    assert code == 1
    [conflict] = [p for p in problems if p["code"] == "SQ201"]
    assert conflict["path"] == "shop/migrations/0002_feature_name.py"
    # git stops on the rename/rename conflict with both files in place; Django sees two leaves
    conflicts, _merged, error = merged_truth(repo, git_conflict=True)
    assert (conflicts, error) == ({"shop"}, "")


def test_same_migration_name_on_both_sides(repo: Path) -> None:
    commit_on(repo, "main", "main", lambda: write(
        repo, "shop", "0003_x", deps=[("shop", "0002_m2")], ops="migrations.RunSQL('SELECT 1')"))
    write(repo, "shop", "0003_x", deps=[("shop", "0002_m2")])
    code, problems = predicted(repo)
    assert code == 1
    assert [p["code"] for p in problems] == ["SQ208"]
    assert "changed differently on this branch and on main" in problems[0]["message"]


def test_nothing_to_predict_when_main_only_touched_other_apps(repo: Path) -> None:
    commit_on(repo, "main", "main adds to blog", lambda: write(
        repo, "blog", "0002_on_main", deps=[("blog", "0001_m1")]))
    write(repo, "shop", "0003_feature", deps=[("shop", "0002_m2")])
    code, problems = predicted(repo)
    assert (code, problems) == (0, [])


def test_detached_head_and_text_output(repo: Path) -> None:
    commit_on(repo, "main", "main adds", lambda: write(
        repo, "shop", "0003_on_main", deps=[("shop", "0002_m2")]))
    write(repo, "shop", "0003_on_feature", deps=[("shop", "0002_m2")])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature adds")
    git(repo, "checkout", "-q", "--detach", "feature")
    proc = run_squasher("check", "--against", "main", cwd=repo)
    assert proc.returncode == 1
    assert "shop/migrations/0003_on_feature.py" in proc.stdout and " SQ201 " in proc.stdout


def test_bad_revisions_and_places_are_one_clear_line(repo: Path, tmp_path: Path) -> None:
    before = tree_state(repo)
    proc = run_squasher("check", "--against", "no-such-branch", cwd=repo)
    assert proc.returncode == 2 and "no such revision" in proc.stderr
    assert "Traceback" not in proc.stderr
    plain = make_tree(tmp_path / "plain", {"shop": chain("shop", 1)})
    proc = run_squasher("check", "--against", "main", cwd=plain)
    assert proc.returncode == 2 and "not in a git repository" in proc.stderr
    assert tree_state(repo) == before


def test_shallow_clone_without_the_merge_base_says_so(repo: Path, tmp_path: Path) -> None:
    commit_on(repo, "main", "main adds", lambda: write(
        repo, "shop", "0003_on_main", deps=[("shop", "0002_m2")]))
    write(repo, "shop", "0003_on_feature", deps=[("shop", "0002_m2")])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature adds")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", "-b", "feature",
        f"file://{repo}", str(shallow))
    proc = run_squasher("check", "--against", "origin/main", cwd=shallow)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no common ancestor in this shallow clone" in proc.stderr
    assert "--unshallow" in proc.stderr
