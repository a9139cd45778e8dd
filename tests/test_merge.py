"""``squasher merge``: merge migrations, overlap report, --strict, bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree
from support.lifecycle import conflict_project, create, manage, write_project

from squasher.graph.project import Project
from squasher.lifecycle.merge import OverlapError, merge_name, plan_merge


@pytest.fixture
def conflict(tmp_path: Path) -> Path:
    return conflict_project(tmp_path / "proj")


def test_merge_name_follows_django():
    leaves = [("blog", "0004_tag"), ("blog", "0003_title_a")]
    assert merge_name(leaves) == "0005_merge_0003_title_a_0004_tag"
    assert merge_name(leaves, "join") == "0005_join"
    long = [("a", "0007_" + "x" * 30), ("a", "0009_" + "y" * 30)]
    assert merge_name(long, now=dt.datetime(2024, 5, 6, 7, 8)) == "0010_merge_20240506_0708"


def test_plan_merge_overlaps_and_file(conflict: Path):
    project = Project.load(conflict, use_cache=False)
    plan = plan_merge(project)
    assert plan.merged == {"blog": [("blog", "0003_title_a"), ("blog", "0004_tag")]}
    assert [c.kind for c in plan.changes.changes] == ["create"]
    assert plan.changes.changes[0].path.name == "0005_merge_0003_title_a_0004_tag.py"
    # Both branches alter post.title: reported with file and line, nothing else overlaps.
    assert [o.target for o in plan.overlaps] == ["blog.post.title"]
    touches = plan.overlaps[0].touches
    assert [(t.key[1], t.path.name, t.line) for t in touches] == [
        ("0003_title_a", "0003_title_a.py", 10), ("0003_title_b", "0003_title_b.py", 10),
    ]
    assert "AlterField blog.post.title" in plan.overlaps[0].render(conflict)
    with pytest.raises(OverlapError) as info:
        plan_merge(project, strict=True)
    assert info.value.path.name == "0003_title_a.py" and info.value.line == 10


def test_cli_merge_then_check_clean_and_migrate_works(conflict: Path):
    before = snapshot_tree(conflict)
    result = run_squasher("merge", cwd=conflict)
    assert result.returncode == 0, result.stderr
    assert "more than one branch touches blog.post.title" in result.stdout
    assert "created blog/migrations/0005_merge_0003_title_a_0004_tag.py" in result.stdout
    after = snapshot_tree(conflict)
    assert set(after) - set(before) == {"blog/migrations/0005_merge_0003_title_a_0004_tag.py"}
    assert all(after[k] == v for k, v in before.items())
    check = run_squasher("check", cwd=conflict)
    assert check.returncode == 0, check.stdout + check.stderr
    migrate = manage(conflict, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying blog.0005_merge_0003_title_a_0004_tag... OK" in migrate.stdout
    # Running again: nothing to merge, exit 0.
    again = run_squasher("merge", cwd=conflict)
    assert again.returncode == 0 and "nothing to merge" in again.stdout


def test_cli_strict_refuses_and_leaves_files(conflict: Path):
    before = snapshot_tree(conflict)
    result = run_squasher("merge", "--strict", cwd=conflict)
    assert result.returncode == 1
    assert "refusing to merge with --strict" in result.stderr
    assert "0003_title_a.py:10" in result.stderr and "Traceback" not in result.stderr
    assert snapshot_tree(conflict) == before


def test_cli_dry_run_and_json(conflict: Path):
    before = snapshot_tree(conflict)
    dry = run_squasher("merge", "--dry-run", cwd=conflict)
    assert dry.returncode == 0 and "would create" in dry.stdout and "('blog', '0004_tag')" in dry.stdout
    data = json.loads(run_squasher("merge", "--dry-run", "--format", "json", cwd=conflict).stdout)
    assert data["created"] == {"blog": "0005_merge_0003_title_a_0004_tag"}
    assert data["overlaps"][0]["target"] == "blog.post.title"
    assert data["changes"][0]["kind"] == "create"
    assert snapshot_tree(conflict) == before


def test_nothing_to_merge_exit_0(tmp_path: Path):
    root = write_project(tmp_path / "p", {"blog": {"0001_initial": ([], create("Post", "title"))}})
    before = snapshot_tree(root)
    result = run_squasher("merge", cwd=root)
    assert result.returncode == 0 and "nothing to merge" in result.stdout
    result = run_squasher("merge", "blog", "--rebase", cwd=root)
    assert result.returncode == 0 and "blog has a single leaf" in result.stdout
    assert snapshot_tree(root) == before


def test_three_leaves_merged_in_one_migration(tmp_path: Path):
    root = write_project(tmp_path / "p", {"blog": {
        "0001_initial": ([], create("Post", "title")),
        "0002_a": ([("blog", "0001_initial")], create("A")),
        "0002_b": ([("blog", "0001_initial")], create("B")),
        "0002_c": ([("blog", "0001_initial")], create("C")),
    }})
    result = run_squasher("merge", cwd=root)
    assert result.returncode == 0, result.stderr
    created = root / "blog/migrations/0003_merge_0002_a_0002_b_0002_c.py"
    assert created.exists()
    assert "('blog', '0002_c')" in created.read_text()
    assert run_squasher("check", cwd=root).returncode == 0
    assert manage(root, "migrate").returncode == 0


def test_unknown_app_is_a_usage_error(conflict: Path):
    result = run_squasher("merge", "nope", cwd=conflict)
    assert result.returncode == 2 and "unknown app 'nope'" in result.stderr


def test_sample_blog_merge_then_check_and_migrate(sample_project: Path):
    result = run_squasher("merge", "--name", "merge_branches", cwd=sample_project)
    assert result.returncode == 0, result.stderr
    created = sample_project / "blog/migrations/0006_merge_branches.py"
    assert created.exists()
    assert "blog: created blog/migrations/0006_merge_branches.py (merging 0003_post_status, 0005_post_reading_time)" in result.stdout
    check = run_squasher("check", cwd=sample_project)
    assert check.returncode == 0, check.stdout
    migrate = manage(sample_project, "migrate", env={"SAMPLE_APPS_SQLITE": str(sample_project / "t.sqlite3")})
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying blog.0006_merge_branches... OK" in migrate.stdout


def test_sample_default_merge_name_and_overlap_report(sample_project: Path):
    project = Project.load(sample_project, use_cache=False)
    plan = plan_merge(project)
    assert plan.created == {"blog": ("blog", "0006_merge_0003_post_status_0005_post_reading_time")}
    # The branches add different fields to Post (status vs tags/summary/reading_time):
    # no false positive.
    assert plan.overlaps == []
    assert [k[1] for k in plan.branches["blog"][("blog", "0005_post_reading_time")]] == [
        "0003_post_tags", "0004_post_summary", "0005_post_reading_time"]


def test_unparsable_leaf_refused(conflict: Path):
    broken = conflict / "blog/migrations/0005_broken.py"
    broken.write_text("from django.db import migrations\n\nclass Migration(migrations.Migration:\n    pass\n")
    before = snapshot_tree(conflict)
    result = run_squasher("merge", cwd=conflict)
    assert result.returncode == 1
    assert "blog/migrations/0005_broken.py" in result.stderr and "cannot be read statically" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot_tree(conflict) == before


def test_rebase_json_output(conflict: Path):
    before = snapshot_tree(conflict)
    result = run_squasher("merge", "--rebase", "--onto", "blog:0003_title_a", "--dry-run",
                          "--format", "json", cwd=conflict)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rebases"][0]["moved"] == {
        "0002_post_summary": "0004_post_summary", "0003_title_b": "0005_title_b", "0004_tag": "0006_tag"}
    kinds = sorted(c["kind"] for c in data["changes"])
    assert kinds == ["modify", "rename", "rename", "rename"]
    assert snapshot_tree(conflict) == before


def test_merge_refuses_an_app_with_an_unparsable_migration(sample_project: Path) -> None:
    """A broken file anywhere in the app (not only a leaf) makes its graph unknown: refuse,
    naming the file and line, and write nothing."""
    broken = sample_project / "blog" / "migrations" / "0002_post_slug.py"
    broken.write_text(broken.read_text().replace("class Migration(migrations.Migration):",
                                                 "class Migration(migrations.Migration:"))
    before = snapshot_tree(sample_project)
    proc = run_squasher("merge", "blog", cwd=sample_project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "blog/migrations/0002_post_slug.py:" in proc.stderr
    assert "cannot be read statically" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot_tree(sample_project) == before
