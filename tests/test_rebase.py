"""``squasher merge --rebase``: linear history, references rewritten project-wide."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree
from support.lifecycle import (
    add_field,
    conflict_project,
    create,
    manage,
    migration_source,
    write_project,
)

from squasher.errors import GraphError, UsageError
from squasher.graph.project import Project
from squasher.lifecycle.rebase import AppliedMigrationError, plan_rebase, renumbered

SAMPLE_ENV = {"SAMPLE_APPS_WITHOUT_CONFLICT": ""}


def test_renumbered():
    assert renumbered("0003_post_tags", 4) == "0004_post_tags"
    assert renumbered("0003", 12) == "0012"
    assert renumbered("00003_x", 4) == "00004_x"
    assert renumbered("custom", 7) == "0007_custom"


def test_sample_blog_rebase_long_branch_onto_short(sample_project: Path):
    """The ≥3-migration branch moves; newsletter's reference into it is rewritten."""
    before = snapshot_tree(sample_project)
    newsletter = sample_project / "newsletter/migrations/0001_initial.py"
    result = run_squasher("merge", "--rebase", "--onto", "blog:0003_post_status", cwd=sample_project)
    assert result.returncode == 0, result.stderr
    assert "staying on 0003_post_status (--onto)" in result.stdout
    blog = sample_project / "blog/migrations"
    assert sorted(p.name for p in blog.glob("0*.py")) == [
        "0001_initial.py", "0002_post_slug.py", "0003_post_status.py",
        "0004_post_tags.py", "0005_post_summary.py", "0006_post_reading_time.py",
    ]
    assert "('blog', '0003_post_status')," in (blog / "0004_post_tags.py").read_text()
    assert "('blog', '0004_post_tags')," in (blog / "0005_post_summary.py").read_text()
    assert "('blog', '0005_post_summary')," in (blog / "0006_post_reading_time.py").read_text()
    text = newsletter.read_text()
    assert "('blog', '0005_post_summary')," in text and "0004_post_summary" not in text
    # Only the reference line changed in newsletter (formatting and comments kept).
    old_lines = before["newsletter/migrations/0001_initial.py"].decode().splitlines()
    diff = [(a, b) for a, b in zip(old_lines, text.splitlines(), strict=True) if a != b]
    assert diff == [("        ('blog', '0004_post_summary'),", "        ('blog', '0005_post_summary'),")]
    # Other apps untouched.
    after = snapshot_tree(sample_project)
    for name, content in before.items():
        if not name.startswith(("blog/", "newsletter/")):
            assert after[name] == content, name

    check = run_squasher("check", cwd=sample_project)
    assert check.returncode == 0, check.stdout
    migrate = manage(sample_project, "migrate", env={"SAMPLE_APPS_SQLITE": str(sample_project / "t.sqlite3")})
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying blog.0006_post_reading_time... OK" in migrate.stdout
    assert "Applying newsletter.0001_initial... OK" in migrate.stdout


def test_sample_blog_rebase_default_choice_by_mtime(sample_project: Path):
    blog = sample_project / "blog/migrations"
    now = 2_000_000_000
    for name in ("0003_post_tags", "0004_post_summary", "0005_post_reading_time"):
        os.utime(blog / f"{name}.py", (now - 100, now - 100))
    os.utime(blog / "0003_post_status.py", (now, now))
    project = Project.load(sample_project, use_cache=False)
    plan = plan_rebase(project, "blog")
    assert plan.onto == ("blog", "0005_post_reading_time")
    assert plan.moved == {("blog", "0003_post_status"): ("blog", "0006_post_status")}
    assert "modification time" in plan.reason and "moving 0003_post_status" in plan.reason
    assert plan.rewritten == []  # nothing references 0003_post_status


def _git(root: Path, *args: str, when: int | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_branch_choice_uses_git_commit_time_over_mtime(tmp_path: Path):
    root = conflict_project(tmp_path / "p")
    blog = root / "blog/migrations"
    _git(root, "init", "-q")
    # Branch B (0002_post_summary..0004_tag) committed first, branch A later.
    _git(root, "add", "blog/migrations/0001_initial.py", "blog/migrations/0002_post_summary.py",
         "blog/migrations/0003_title_b.py", "blog/migrations/0004_tag.py", "news", "settings.py", when=1_600_000_000)
    _git(root, "commit", "-qm", "b", when=1_600_000_000)
    _git(root, "add", ".", when=1_700_000_000)
    _git(root, "commit", "-qm", "a", when=1_700_000_000)
    # mtimes say the opposite: git must win.
    for p in blog.glob("0*_title_a.py"):
        os.utime(p, (1_000, 1_000))
    plan = plan_rebase(Project.load(root, use_cache=False), "blog")
    assert plan.onto == ("blog", "0004_tag")
    assert "newest in git" in plan.reason
    assert plan.moved == {("blog", "0002_post_body"): ("blog", "0005_post_body"),
                          ("blog", "0003_title_a"): ("blog", "0006_title_a")}
    # An uncommitted file counts as newest: now branch B moves.
    (blog / "0005_extra.py").write_text(migration_source([("blog", "0004_tag")], add_field("tag", "x")))
    plan = plan_rebase(Project.load(root, use_cache=False), "blog")
    assert plan.onto == ("blog", "0003_title_a")
    assert "uncommitted" in plan.reason


def test_rebase_refuses_applied_migration(tmp_path: Path):
    root = write_project(tmp_path / "p", {"blog": {
        "0001_initial": ([], create("Post", "title")),
        "0002_b": ([("blog", "0001_initial")], add_field("post", "b")),
    }})
    db = str(root / "db.sqlite3")
    assert manage(root, "migrate", env={"TEST_SQLITE": db}).returncode == 0
    # The other branch arrives after 0002_b was applied.
    (root / "blog/migrations/0002_a.py").write_text(
        migration_source([("blog", "0001_initial")], add_field("post", "a")))
    before = snapshot_tree(root)
    result = run_squasher("merge", "--rebase", "--onto", "0002_a", "--settings", "settings",
                          cwd=root, env={"TEST_SQLITE": db})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "blog.0002_b is recorded as applied in database 'default'" in result.stderr
    assert "python manage.py migrate blog 0001_initial" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot_tree(root) == before
    # Rebasing the other way renames only the unapplied 0002_a: allowed.
    ok = run_squasher("merge", "--rebase", "--onto", "0002_b", "--settings", "settings",
                      cwd=root, env={"TEST_SQLITE": db})
    assert ok.returncode == 0, ok.stderr
    assert (root / "blog/migrations/0003_a.py").exists()
    assert manage(root, "migrate", env={"TEST_SQLITE": db}).returncode == 0


def test_rebase_three_leaves_in_stated_order(tmp_path: Path):
    root = write_project(tmp_path / "p", {"blog": {
        "0001_initial": ([], create("Post", "title")),
        "0002_a": ([("blog", "0001_initial")], create("A")),
        "0002_b": ([("blog", "0001_initial")], create("B")),
        "0003_b2": ([("blog", "0002_b")], add_field("b", "x")),
        "0002_c": ([("blog", "0001_initial")], create("C")),
    }})
    result = run_squasher("merge", "--rebase", "--onto", "0002_a", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "branches moved in this order: 0002_c, 0003_b2" in result.stdout
    names = sorted(p.stem for p in (root / "blog/migrations").glob("0*.py"))
    assert names == ["0001_initial", "0002_a", "0003_c", "0004_b", "0005_b2"]
    assert "('blog', '0003_c')" in (root / "blog/migrations/0004_b.py").read_text()
    assert run_squasher("check", cwd=root).returncode == 0
    assert manage(root, "migrate").returncode == 0


def test_rebase_refused_when_target_needs_the_branch(tmp_path: Path):
    """news.0001 depends on branch B and branch A's leaf depends on news.0001."""
    root = conflict_project(tmp_path / "p")
    (root / "blog/migrations/0004_title_a2.py").write_text(migration_source(
        [("blog", "0003_title_a"), ("news", "0001_initial")], add_field("post", "z")))
    project = Project.load(root, use_cache=False)
    with pytest.raises(GraphError, match=r"0004_title_a2 needs 0002_post_summary \(blog.0002_post_summary -> blog.0003_title_b -> news.0001_initial"):
        plan_rebase(project, "blog", onto="0004_title_a2")


def test_bad_input(tmp_path: Path):
    root = conflict_project(tmp_path / "p")
    project = Project.load(root, use_cache=False)
    with pytest.raises(UsageError, match="not a leaf"):
        plan_rebase(project, "blog", onto="0001")
    with pytest.raises(UsageError, match="single leaf"):
        plan_rebase(project, "news")
    # An unparsable file mentioning a migration that would be renamed: refused, untouched.
    (root / "news/migrations/0003_broken.py").write_text(
        "from django.db import migrations\n\nclass Migration(migrations.Migration:\n"
        "    dependencies = [('blog', '0004_tag')]\n")
    before = snapshot_tree(root)
    result = run_squasher("merge", "blog", "--rebase", "--onto", "0003_title_a", cwd=root)
    assert result.returncode == 2
    assert "news/migrations/0003_broken.py:4: cannot rewrite a reference in a migration that cannot be parsed" in result.stderr
    assert snapshot_tree(root) == before


def test_applied_check_in_library(tmp_path: Path):
    root = conflict_project(tmp_path / "p")
    project = Project.load(root, use_cache=False)
    with pytest.raises(AppliedMigrationError) as info:
        plan_rebase(project, "blog", onto="0003_title_a", applied={("blog", "0003_title_b")})
    assert info.value.path.name == "0003_title_b.py"
    assert "migrate blog 0001_initial" in info.value.hint


def test_unreachable_database_is_noted_not_fatal(tmp_path: Path):
    root = conflict_project(tmp_path / "p")
    env = {"TEST_SQLITE": str(tmp_path / "no" / "such" / "dir" / "db.sqlite3")}
    result = run_squasher("merge", "blog", "--rebase", "--onto", "0003_title_a", "--settings", "settings",
                          cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert "note: database 'default' not reachable" in result.stdout
    assert "applied migrations were not checked" in result.stdout


def test_rebase_finds_settings_from_manage_py_and_refuses_applied(tmp_path: Path):
    """Without --settings the rebase reads the settings manage.py names, like every other
    command, so an applied migration is never renamed."""
    root = write_project(tmp_path / "p", {"blog": {
        "0001_initial": ([], create("Post", "title")),
        "0002_b": ([("blog", "0001_initial")], add_field("post", "b")),
    }})
    db = str(root / "db.sqlite3")
    assert manage(root, "migrate", env={"TEST_SQLITE": db}).returncode == 0
    (root / "blog/migrations/0002_a.py").write_text(
        migration_source([("blog", "0001_initial")], add_field("post", "a")))
    before = snapshot_tree(root)
    result = run_squasher("merge", "--rebase", "--onto", "0002_a", cwd=root,
                          env={"TEST_SQLITE": db})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "blog.0002_b is recorded as applied in database 'default'" in result.stderr
    assert snapshot_tree(root) == before


def test_checking_a_missing_sqlite_database_never_creates_it(tmp_path: Path):
    root = conflict_project(tmp_path / "p")
    db = root / "db.sqlite3"
    for args in (["merge", "blog", "--rebase", "--onto", "0003_title_a", "--dry-run"],
                 ["finalize", "blog", "--database", "default", "--dry-run"],
                 ["finalize", "blog", "--database", "default"]):
        result = run_squasher(*args, cwd=root, env={"TEST_SQLITE": str(db)})
        assert "Traceback" not in result.stderr, result.stderr
        assert not db.exists(), f"{args} created {db}"
