"""``squasher suggest``: safe, maximal ranges on every app of sample_apps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE_APPS, run_squasher
from support.lifecycle import add_field, create, write_project

from squasher.graph.cycles import squash_cycle
from squasher.graph.project import Project
from squasher.lifecycle.suggest import estimate_operations, suggest
from squasher.records import OperationSummary, Span


@pytest.fixture(scope="module")
def sample() -> Project:
    return Project.load(SAMPLE_APPS, use_cache=False)


def _ranges(found):
    return [(s.app, s.first[1], s.last[1], s.migrations) for s in found]


def test_every_app_of_sample_apps(sample: Project):
    found = suggest(sample)
    assert _ranges(found) == [
        ("accounts", "0001_initial", "0002_user_bio", 2),
        # billing: the unfinalized squash 0001_squashed_0004 is not crossed.
        ("billing", "0005_taxrate", "0008_default_invoice_tax_rate", 4),
        # blog (conflict): one range per branch segment, never across the fork.
        ("blog", "0001_initial", "0002_post_slug", 2),
        ("blog", "0003_post_tags", "0005_post_reading_time", 3),
        # catalog: the whole history would be circular through orders.0002_orderline.
        ("catalog", "0001_initial", "0029_remove_product_catalog_unique_active_name_per_category", 30),
        ("catalog", "0030_review", "0048_assign_default_brand", 19),
        # orders: 0004 is preceded by billing.0008 (run_before), which needs orders.0002.
        ("orders", "0001_initial", "0003_order_note", 3),
    ]
    graph = sample.graph
    for s in found:
        assert squash_cycle(graph, s.app, s.members) is None
        assert graph.interval(s.app, s.first, s.last) == s.members
        assert s.operations == sum(len(graph.records[k].operations) for k in s.members)
        assert s.optimized_operations is None  # static
        assert 0 < s.estimated_operations <= s.operations
    # Maximal: extending any catalog range by one migration creates a cycle.
    plan = graph.app_plan("catalog")
    first = found[4].members
    assert squash_cycle(graph, "catalog", first + [plan[len(first)]]) is not None
    orders = graph.app_plan("orders")
    assert squash_cycle(graph, "orders", orders) is not None


def test_keep_last_and_app_filter(sample: Project):
    found = suggest(sample, ["catalog", "accounts"], keep_last=3)
    assert _ranges(found) == [
        ("catalog", "0001_initial", "0029_remove_product_catalog_unique_active_name_per_category", 30),
        ("catalog", "0030_review", "0045_alter_category_options", 16),
    ]  # accounts has 2 migrations, both kept


def test_exact_counts_with_settings_via_cli(sample_project: Path):
    result = run_squasher("suggest", "catalog", "--settings", "settings", "--format", "json", cwd=sample_project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["exact"] is True
    for s in data["suggestions"]:
        assert s["optimized_operations"] is not None
        assert s["optimized_operations"] < s["operations"]


def test_cli_text_says_static_estimate(sample_project: Path):
    result = run_squasher("suggest", cwd=sample_project)
    assert result.returncode == 0, result.stderr
    assert "catalog: 0030_review .. 0048_assign_default_brand: 19 migrations, 19 operations -> ~" in result.stdout
    assert "squasher squash catalog 0030_review 0048_assign_default_brand" in result.stdout
    assert "static estimate" in result.stdout
    bad = run_squasher("suggest", "nope", cwd=sample_project)
    assert bad.returncode == 2 and "unknown app 'nope'" in bad.stderr


def test_nothing_to_suggest(tmp_path: Path):
    root = write_project(tmp_path / "p", {"blog": {"0001_initial": ([], create("Post", "title"))}})
    result = run_squasher("suggest", cwd=root)
    assert result.returncode == 0 and "nothing to suggest" in result.stdout


def test_unparsable_migration_is_a_barrier(tmp_path: Path):
    root = write_project(tmp_path / "p", {"blog": {
        "0001_initial": ([], create("Post", "title")),
        "0002_a": ([("blog", "0001_initial")], add_field("post", "a")),
        "0003_b": ([("blog", "0002_a")], add_field("post", "b")),
        "0004_c": ([("blog", "0003_b")], add_field("post", "c")),
        "0005_d": ([("blog", "0004_c")], add_field("post", "d")),
    }})
    text = (root / "blog/migrations/0003_b.py").read_text()
    (root / "blog/migrations/0003_b.py").write_text(text.replace("operations = [", "operations = build() + ["))
    found = suggest(Project.load(root, use_cache=False))
    assert _ranges(found) == [("blog", "0001_initial", "0002_a", 2), ("blog", "0004_c", "0005_d", 2)]


def _op(kind: str, model: str | None = None, field: str | None = None, **kw) -> OperationSummary:
    return OperationSummary(kind, Span(1), model=model, field=field, **kw)


def test_static_estimate():
    ops = [
        _op("CreateModel", "post"), _op("AddField", "post", "a"), _op("AlterField", "post", "a"),
        _op("AddField", "tag", "x"), _op("AlterField", "tag", "x"), _op("RemoveField", "tag", "y"),
        _op("RunPython"), _op("AddField", "post", "b"),
        _op("CreateModel", "tmp"), _op("DeleteModel", "tmp"),
        _op("RunSQL", elidable=True),
    ]
    # CreateModel post (+2 folded), AddField tag.x (+alter folded), RemoveField tag.y,
    # RunPython, AddField post.b (after the barrier), tmp created+deleted, elidable RunSQL gone.
    assert estimate_operations(ops) == 5
