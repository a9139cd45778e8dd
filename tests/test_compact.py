"""``squasher compact``: suggest -> squash -> verify for the whole project, before/after table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree
from support.lifecycle import add_field, create, manage, write_project

from squasher.graph.project import Project
from squasher.lifecycle.compact import AppStats, CompactReport, measure


def _merge_blog(root: Path) -> None:
    result = run_squasher("merge", "blog", cwd=root)
    assert result.returncode == 0, result.stderr


def _assert_compacted(root: Path, data: dict, database: str) -> None:
    assert data["database"] == database
    assert data["ok"] and data["failures"] == [] and data["discarded"] == [], data
    written = data["squashed"]
    assert written, data
    assert all(item["verified"] for item in written)
    for item in written:
        assert Path(item["path"]).exists() and Path(item["path"]).is_relative_to(root)
    names = {p.stem for p in root.rglob("migrations/0*.py")}
    for item in written:
        assert item["name"] in names
    before, after = data["before"], data["after"]
    assert set(before) == set(after) == {"accounts", "billing", "blog", "catalog", "newsletter", "orders"}
    assert after["catalog"]["migrations"] < before["catalog"]["migrations"]
    assert after["accounts"]["migrations"] == 1 and before["accounts"]["migrations"] == 2
    assert sum(a["migrations"] for a in after.values()) < sum(b["migrations"] for b in before.values())
    for app in before:
        assert before[app]["seconds"] is not None and after[app]["seconds"] is not None
    assert data["total_seconds"]["before"] > 0 and data["total_seconds"]["after"] > 0
    # The compacted project is consistent and migrates on a fresh database.
    check = run_squasher("check", cwd=root)
    assert check.returncode == 0, check.stdout
    migrate = manage(root, "migrate", env={"SAMPLE_APPS_SQLITE": str(root / "after.sqlite3")})
    assert migrate.returncode == 0, migrate.stderr


def written_after(data: dict, first: str) -> list[dict]:
    return [item for item in data["squashed"] if item["name"].startswith(first + "_squashed_")]


def test_compact_whole_project_sqlite(sample_project: Path):
    _merge_blog(sample_project)
    result = run_squasher("compact", "--format", "json", cwd=sample_project)
    data = json.loads(result.stdout)
    assert result.returncode == 0, json.dumps(data["failures"], indent=2) + result.stderr
    _assert_compacted(sample_project, data, "sqlite")
    # catalog 0030..0048 drops the elidable 0039_backfill_search_name: verified against the
    # original history without it (it used to fail with differing catalog_product rows).
    assert "catalog" in {item["app"] for item in written_after(data, "0030_review")}
    squashed_apps = {item["app"] for item in data["squashed"]}
    assert {"accounts", "orders", "catalog", "blog"} <= squashed_apps
    # Running again: every worthwhile range is done (the new squashes are barriers).
    again = run_squasher("compact", "--dry-run", cwd=sample_project)
    assert again.returncode == 0
    for app in ("accounts", "orders"):
        assert f"would squash {app} " not in again.stdout


@pytest.mark.postgres
def test_compact_whole_project_postgres(sample_project: Path, require_postgres: str):
    _merge_blog(sample_project)
    env = {"SQUASHER_POSTGRES_DSN": require_postgres}
    result = run_squasher("compact", "--verify-on", "postgresql", cwd=sample_project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout and "skipped" not in result.stdout
    assert "compaction (postgresql (SQUASHER_POSTGRES_DSN))" in result.stdout
    assert "(whole project)" in result.stdout
    assert "verified" in result.stdout
    for line in result.stdout.splitlines():
        if line.startswith("│ catalog"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            before, after = (int(x) for x in cells[1].split(" -> "))
            assert after < before, result.stdout + result.stderr
            break
    else:
        pytest.fail("no catalog row in the table:\n" + result.stdout)
    assert run_squasher("check", cwd=sample_project).returncode == 0


def test_compact_subset_strictly_ok(sample_project: Path):
    """Apps whose ranges the squash verifies cleanly: exit 0, table, originals still there."""
    _merge_blog(sample_project)
    before = snapshot_tree(sample_project)
    result = run_squasher("compact", "accounts", "orders", "--no-timing", cwd=sample_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote accounts.0001_initial_squashed_0002_user_bio" in result.stdout
    assert "wrote orders.0001_initial_squashed_0003_order_note" in result.stdout
    after = snapshot_tree(sample_project)
    assert set(before) <= set(after)  # originals are never touched (that is finalize)
    assert all(after[k] == v for k, v in before.items())
    assert set(after) - set(before) == {
        "accounts/migrations/0001_initial_squashed_0002_user_bio.py",
        "orders/migrations/0001_initial_squashed_0003_order_note.py",
    }


def test_dry_run_skips_conflicts_and_touches_nothing(sample_project: Path):
    before = snapshot_tree(sample_project)
    result = run_squasher("compact", "--dry-run", cwd=sample_project)
    assert result.returncode == 0, result.stderr
    assert "skipped blog: more than one leaf" in result.stdout and "squasher merge blog" in result.stdout
    assert "would squash catalog 0001_initial .. 0029_remove_product_catalog_unique_active_name_per_category" in result.stdout
    assert "would squash blog" not in result.stdout
    assert snapshot_tree(sample_project) == before


def test_nothing_to_compact(tmp_path: Path):
    root = write_project(tmp_path / "p", {"blog": {"0001_initial": ([], create("Post", "title"))}})
    result = run_squasher("compact", cwd=root)
    assert result.returncode == 0 and "nothing to compact" in result.stdout


def test_measure_and_table(sample_project: Path):
    project = Project.load(sample_project, use_cache=False)
    stats = measure(project, ["billing", "catalog"])
    # billing: the existing squash counts once, the four originals it replaces not at all.
    billing_plan = project.graph.app_plan("billing")
    assert stats["billing"].migrations == len(billing_plan)
    assert ("billing", "0001_initial") not in billing_plan
    assert stats["catalog"].migrations == 49
    report = CompactReport(root=sample_project, database="sqlite",
                           before={"catalog": AppStats(49, 52, 2.0)},
                           after={"catalog": AppStats(20, 42, 1.0)}, total_before=3.0, total_after=2.0)
    assert report.table() == [("catalog", "49 -> 20", "52 -> 42", "2.00 -> 1.00"),
                              ("(whole project)", "", "", "3.00 -> 2.00")]


UNVERIFIABLE = """\
from django.db import migrations


def record_module(apps, schema_editor):
    # The module's name differs in a squash: the squashed history writes another row.
    Note = apps.get_model("notes", "Note")
    Note.objects.create(text=__name__[-20:])


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.RunPython(record_module, migrations.RunPython.noop)]
"""


def _one_bad_range(root: Path) -> Path:
    """``articles`` squashes cleanly; ``notes`` 0001..0003 fails verification (data differs)."""
    write_project(root, {
        "articles": {
            "0001_initial": ([], create("Article", "title")),
            "0002_article_body": ([("articles", "0001_initial")], add_field("article", "body")),
        },
        "notes": {
            "0001_initial": ([], create("Note", "text")),
            "0003_note_body": ([("notes", "0002_record_module")], add_field("note", "body")),
        },
    })
    (root / "notes/migrations/0002_record_module.py").write_text(UNVERIFIABLE)
    return root


ARTICLES_SQUASH = "articles/migrations/0001_initial_squashed_0002_article_body.py"


def test_failed_verification_leaves_the_tree_exactly_as_it_was(tmp_path: Path):
    root = _one_bad_range(tmp_path / "p")
    before = snapshot_tree(root)
    result = run_squasher("compact", "--no-timing", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    # the failing range and the verify diff
    assert "failed: notes 0001_initial..0003_note_body" in out
    assert "table notes_note: data differs" in out
    assert "verified but not written: articles.0001_initial_squashed_0002_article_body" in out
    assert "nothing was written" in out and "--keep-going" in out
    assert "squasher-compact-work" not in out  # paths shown are the project's, not the copy's
    assert snapshot_tree(root) == before
    assert not (root / ".squasher-cache").exists()

    as_json = run_squasher("compact", "--no-timing", "--format", "json", cwd=root)
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False and data["squashed"] == []
    assert data["discarded"] == ["articles.0001_initial_squashed_0002_article_body"]
    assert len(data["failures"]) == 1 and data["failures"][0].startswith("notes 0001_initial..0003_note_body: ")
    assert snapshot_tree(root) == before


def test_keep_going_writes_the_squashes_that_verified(tmp_path: Path):
    root = _one_bad_range(tmp_path / "p")
    before = snapshot_tree(root)
    result = run_squasher("compact", "--keep-going", "--no-timing", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "wrote articles.0001_initial_squashed_0002_article_body" in out
    assert "skipped (failed verification): notes 0001_initial..0003_note_body" in out
    assert "table notes_note: data differs" in out
    after = snapshot_tree(root)
    assert set(after) - set(before) == {ARTICLES_SQUASH}
    assert all(after[k] == v for k, v in before.items())
    assert "replaces = [" in after[ARTICLES_SQUASH].decode()
    assert run_squasher("check", cwd=root).returncode == 0
    assert manage(root, "migrate", env={"TEST_SQLITE": str(root / "t.sqlite3")}).returncode == 0


@pytest.mark.parametrize("command", ["merge", "suggest", "finalize", "compact"])
def test_help_is_plain_text(command: str, tmp_path: Path):
    result = run_squasher(command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    description = result.stdout.split("\n\n")[1]
    assert "``" not in result.stdout and ":func:" not in result.stdout
    assert len(description) > 100 and "exit" in description.lower()


def test_apps_django_does_not_load_are_skipped(sample_project: Path) -> None:
    """A migrations package on disk whose app is not in INSTALLED_APPS is never squashed."""
    _merge_blog(sample_project)  # blog now has one leaf and 7 migrations worth squashing
    env = {"SAMPLE_APPS_WITHOUT_CONFLICT": "1"}  # settings leave blog and newsletter out
    before = snapshot_tree(sample_project)
    result = run_squasher("compact", "accounts", "blog", "--no-timing", cwd=sample_project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "blog: Django does not load it" in result.stdout
    after = snapshot_tree(sample_project)
    added = sorted(set(after) - set(before))
    assert added == ["accounts/migrations/0001_initial_squashed_0002_user_bio.py"], added
