"""``squasher merge --rebase --onto REV`` (issue 12): fix a branch before it is merged, by
renumbering its new migrations after REV's leaf; proven with a real ``git merge`` and
Django's loader on the merged tree."""

from __future__ import annotations

import json

from conftest import run_squasher
from support.git_repo import commit_on, git, merged_truth, predicted, tree_state, write


def names(root, app: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.stem for p in (root / app / "migrations").glob("0*.py"))


def test_rebase_onto_main_makes_the_merge_linear(repo) -> None:  # type: ignore[no-untyped-def]
    commit_on(repo, "main", "main adds", lambda: write(
        repo, "shop", "0003_on_main", deps=[("shop", "0002_m2")]))
    write(repo, "shop", "0003_first", deps=[("shop", "0002_m2")])
    write(repo, "shop", "0004_second", deps=[("shop", "0003_first")])
    write(repo, "blog", "0002_uses_shop", deps=[("blog", "0001_m1"), ("shop", "0004_second")])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature adds")
    assert predicted(repo)[0] == 1

    before = tree_state(repo)
    dry = run_squasher("merge", "--rebase", "--onto", "main", "--dry-run", cwd=repo)
    assert dry.returncode == 0, dry.stderr
    assert "would rename 0003_first -> 0004_first" in dry.stdout
    assert "would rename 0004_second -> 0005_second" in dry.stdout
    assert tree_state(repo) == before

    done = run_squasher("merge", "--rebase", "--onto", "main", "--format", "json", cwd=repo)
    assert done.returncode == 0, done.stderr
    [plan] = json.loads(done.stdout)["rebases"]
    assert plan["onto"] == "0003_on_main"
    assert plan["moved"] == {"0003_first": "0004_first", "0004_second": "0005_second"}
    assert names(repo, "shop") == ["0001_m1", "0002_m2", "0004_first", "0005_second"]
    first = (repo / "shop" / "migrations" / "0004_first.py").read_text()
    assert "0003_on_main" in first and "0002_m2" not in first
    assert "0005_second" in (repo / "blog" / "migrations" / "0002_uses_shop.py").read_text()
    # main's file is not written into this branch: it arrives with the git merge
    assert not (repo / "shop" / "migrations" / "0003_on_main.py").exists()

    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "rebased onto main")
    # alone, the branch now names main's leaf (SQ002 until merged): the merge resolves that
    code, problems = predicted(repo)
    assert code == 0
    assert {p["code"] for p in problems} == {"SQ001", "SQ002"}
    assert all(p["severity"] == "info" and p["message"].endswith("(merging main resolves it)")
               for p in problems)
    conflicts, merged_problems, error = merged_truth(repo)
    assert (conflicts, error) == (set(), "")
    assert [p for p in merged_problems if p["severity"] != "info"] == []


def test_nothing_to_rebase_when_the_merge_adds_no_leaf(repo) -> None:  # type: ignore[no-untyped-def]
    commit_on(repo, "main", "main adds", lambda: write(
        repo, "blog", "0002_on_main", deps=[("blog", "0001_m1")]))
    write(repo, "shop", "0003_feature", deps=[("shop", "0002_m2")])
    before = tree_state(repo)
    proc = run_squasher("merge", "--rebase", "--onto", "main", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to rebase: merging main gives no app a second leaf" in proc.stdout
    assert tree_state(repo) == before


def test_unknown_revision_is_one_clear_line(repo) -> None:  # type: ignore[no-untyped-def]
    before = tree_state(repo)
    proc = run_squasher("merge", "--rebase", "--onto", "origin/nope", cwd=repo)
    assert proc.returncode == 2
    assert "--onto origin/nope: no such revision" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree_state(repo) == before


def test_against_from_the_configuration_and_turned_off(repo) -> None:  # type: ignore[no-untyped-def]
    commit_on(repo, "main", "main adds", lambda: write(
        repo, "shop", "0003_on_main", deps=[("shop", "0002_m2")]))
    write(repo, "shop", "0003_feature", deps=[("shop", "0002_m2")])
    (repo / "pyproject.toml").write_text('[tool.squasher]\nagainst = "main"\n')
    code, problems = predicted_by_default(repo)
    assert code == 1 and [p["code"] for p in problems] == ["SQ201"]
    code, problems = predicted_by_default(repo, "--against", "")
    assert (code, problems) == (0, [])


def predicted_by_default(root, *args: str) -> tuple[int, list[dict]]:  # type: ignore[no-untyped-def]
    proc = run_squasher("check", "--format", "json", *args, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["problems"]
