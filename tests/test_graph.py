"""Graph rules of squasher.graph.graph, each modelled on Django's MigrationLoader.build_graph.

The same trees are loaded by Django in tests/test_django_agreement.py; here the
expected shapes are spelled out so a wrong rule names itself.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from support.trees import chain, make_tree, migration_source

from squasher.errors import GraphError, UnknownAppError, UnknownMigrationError, UsageError
from squasher.graph.graph import build_graph
from squasher.graph.project import Project, cache_file_for
from squasher.records import ProjectSettings

A1, A2, A3, A4 = (("a", n) for n in ("0001_m1", "0002_m2", "0003_m3", "0004_m4"))
SQ = ("a", "0001_squashed_0003")


def load(tmp_path: Path, spec, **kw) -> Project:
    make_tree(tmp_path / "proj", spec, **kw)
    return Project.load(tmp_path / "proj", settings_module="settings", use_cache=False)


def squash_spec(*, delete=(), extra_a=(), b_deps=None):
    """a: 0001..0004 chain + squash of 0001..0003; b.0001 depends on a.0002 (a replaced node)."""
    a = [m for m in chain("a", 4) if m[0] not in delete]
    a.append(("0001_squashed_0003", {"replaces": [A1, A2, A3], "initial": True}))
    a.extend(extra_a)
    return {"a": a, "b": [("0001_initial", {"deps": b_deps or [A2]})]}


def edges(graph) -> set:
    return set(graph.nx.edges())


def test_replaces_all_present_uses_squash(tmp_path: Path) -> None:
    g = load(tmp_path, squash_spec()).graph
    assert SQ in g.nx and not {A1, A2, A3} & set(g.nx)
    assert edges(g) == {(SQ, A4), (SQ, ("b", "0001_initial"))}
    # the full graph keeps everything as written
    assert {(A1, A2), (A2, A3), (A3, A4), (A2, ("b", "0001_initial"))} <= set(g.full.edges())
    assert g.replaced_by(A2) == SQ
    assert g.squashes() == [SQ] and g.flat_replaces(SQ) == [A1, A2, A3]
    assert g.app_plan("a") == [SQ, A4]
    assert g.leaves("a") == [A4] and g.roots("a") == [SQ]


def test_replaces_none_present_uses_squash_and_remaps_deleted_targets(tmp_path: Path) -> None:
    g = load(tmp_path, squash_spec(delete=("0001_m1", "0002_m2", "0003_m3"))).graph
    # 0004 and b depend on deleted files; Django's remove_replaced_nodes remaps them.
    assert edges(g) == {(SQ, A4), (SQ, ("b", "0001_initial"))}
    assert g.full.nodes[A3]["missing"] is True
    assert not any(d.get("missing") for _, d in g.nx.nodes(data=True))


def test_partially_applied_removes_squash_and_keeps_originals(tmp_path: Path) -> None:
    project = load(tmp_path, squash_spec())
    g = build_graph(project.records_by_path.values(), project.settings, applied={A1},
                    apps=project.packages)
    assert SQ not in g.nx
    assert {(A1, A2), (A2, A3), (A3, A4), (A2, ("b", "0001_initial"))} == edges(g)


def test_partially_applied_remaps_children_of_squash_to_last_replaced(tmp_path: Path) -> None:
    # c depends on the squash itself; with the squash unusable it must follow a.0003.
    spec = squash_spec()
    spec["c"] = [("0001_initial", {"deps": [SQ]})]
    project = load(tmp_path, spec)
    g = build_graph(project.records_by_path.values(), project.settings, applied={A1, A2},
                    apps=project.packages)
    assert g.parents(("c", "0001_initial")) == [A3]


def test_all_applied_uses_squash(tmp_path: Path) -> None:
    project = load(tmp_path, squash_spec())
    g = build_graph(project.records_by_path.values(), project.settings, applied={A1, A2, A3},
                    apps=project.packages)
    assert SQ in g.nx and A1 not in g.nx


def test_nested_replaces(tmp_path: Path) -> None:
    outer = ("a", "0001_squashed_0004")
    spec = squash_spec(extra_a=[("0001_squashed_0004", {"replaces": [SQ, A4], "initial": True})])
    spec["a"].append(("0005_m5", {"deps": [A4]}))
    g = load(tmp_path, spec).graph
    assert [k for k in g.nx if k[0] == "a"] == [outer, ("a", "0005_m5")] or \
        set(k for k in g.nx if k[0] == "a") == {outer, ("a", "0005_m5")}
    assert edges(g) == {(outer, ("a", "0005_m5")), (outer, ("b", "0001_initial"))}
    assert g.flat_replaces(outer) == [A1, A2, A3, A4]
    assert g.replaced_by(SQ) == outer and g.replaced_by(A1) == SQ


def test_nested_replaces_order_does_not_matter(tmp_path: Path) -> None:
    """Outer squash listed first in file order: the result is the same (innermost first)."""
    outer_name = "0000_outer"
    spec = squash_spec(extra_a=[(outer_name, {"replaces": [SQ, A4], "initial": True})])
    g = load(tmp_path, spec).graph
    assert {k for k in g.nx if k[0] == "a"} == {("a", outer_name)}


def test_first_resolves_to_root_then_follows_replacement(tmp_path: Path) -> None:
    spec = squash_spec(b_deps=[("a", "__first__")])
    g = load(tmp_path, spec).graph
    # Django resolves __first__ to sorted root_nodes("a")[0] == a.0001_m1, which the squash replaces.
    assert ("a", "0001_m1") in g.full and g.full.has_edge(A1, ("b", "0001_initial"))
    assert g.parents(("b", "0001_initial")) == [SQ]


def test_first_on_unmigrated_same_and_external_apps(tmp_path: Path) -> None:
    spec = {"a": [("0001_initial", {"deps": [("plain", "__first__"), ("a", "__first__"),
                                               ("auth", "__first__"), ("auth", "0012_alter_user_first_name_max_length")]})]}
    g = load(tmp_path, spec, unmigrated=("plain",)).graph
    parents = g.parents(("a", "0001_initial"))
    assert parents == [("auth", "0012_alter_user_first_name_max_length"), ("auth", "__first__")]
    assert all(g.nx.nodes[p]["external"] for p in parents)
    assert "plain" not in {k[0] for k in g.nx}


def test_latest_resolves_to_leaf(tmp_path: Path) -> None:
    spec = {"a": chain("a", 3), "b": [("0001_initial", {"deps": [("a", "__latest__")]})]}
    g = load(tmp_path, spec).graph
    assert g.parents(("b", "0001_initial")) == [("a", "0003_m3")]


def test_swappable_dependency_resolves_from_settings(tmp_path: Path) -> None:
    spec = {"accounts": chain("accounts", 2),
            "shop": [("0001_initial", {"deps": ["swappable:AUTH_USER_MODEL"]})]}
    g = load(tmp_path, spec, settings={"AUTH_USER_MODEL": "accounts.User"}).graph
    assert g.parents(("shop", "0001_initial")) == [("accounts", "0001_m1")]
    # Without the setting, Django's default auth.User is an external app.
    g2 = build_graph(g.records.values(), ProjectSettings(swappable={"AUTH_USER_MODEL": "auth.User"}),
                     apps=["accounts", "shop"])
    assert g2.parents(("shop", "0001_initial")) == [("auth", "__first__")]


def test_run_before_adds_edge(tmp_path: Path) -> None:
    spec = {"a": chain("a", 2), "b": [("0001_initial", {"run_before": [("a", "0002_m2")]})]}
    g = load(tmp_path, spec).graph
    assert g.parents(("a", "0002_m2")) == [("a", "0001_m1"), ("b", "0001_initial")]
    # Django's iterative_dfs pushes sorted parents and pops the last one first.
    assert g.forwards_plan(("a", "0002_m2")) == [("b", "0001_initial"), ("a", "0001_m1"), ("a", "0002_m2")]


def test_cycle_is_found_not_raised(tmp_path: Path) -> None:
    spec = {"a": [("0001_initial", {"deps": [("b", "0001_initial")]})],
            "b": [("0001_initial", {"deps": [("a", "0001_initial")]})]}
    g = load(tmp_path, spec).graph
    assert g.cycles() == [[("a", "0001_initial"), ("b", "0001_initial")]]


def test_dangling_dependency_is_a_missing_node(tmp_path: Path) -> None:
    spec = {"a": chain("a", 2) + [("0003_x", {"deps": [("a", "0002_nope")]})]}
    g = load(tmp_path, spec).graph
    assert g.nx.nodes[("a", "0002_nope")]["missing"] is True
    assert g.leaves("a") == [("a", "0002_m2"), ("a", "0003_x")]
    assert g.conflicts() == {"a": [("a", "0002_m2"), ("a", "0003_x")]}
    assert ("a", "0002_nope") not in g.app_plan("a")


def test_plan_order_matches_django_dfs(tmp_path: Path) -> None:
    # merge: 0002_a and 0002_b both after 0001; 0003 merges them.
    spec = {"a": [("0001_initial", {}), ("0002_b", {"deps": [("a", "0001_initial")]}),
                  ("0002_a", {"deps": [("a", "0001_initial")]}),
                  ("0003_merge", {"deps": [("a", "0002_b"), ("a", "0002_a")]})]}
    g = load(tmp_path, spec).graph
    assert g.app_plan("a") == [("a", "0001_initial"), ("a", "0002_b"), ("a", "0002_a"), ("a", "0003_merge")]
    assert g.ancestors(("a", "0003_merge")) == {("a", "0001_initial"), ("a", "0002_a"), ("a", "0002_b")}
    assert g.children(("a", "0001_initial")) == [("a", "0002_a"), ("a", "0002_b")]


# -- interval / resolve ------------------------------------------------------------------

def branchy(tmp_path: Path) -> Project:
    a = chain("a", 5)
    a.append(("0004_side", {"deps": [("a", "0003_m3")]}))
    return load(tmp_path, {"a": a})


def test_interval_linear(tmp_path: Path) -> None:
    g = load(tmp_path, {"a": chain("a", 5)}).graph
    assert g.interval("a", "0002", "0004") == [("a", "0002_m2"), ("a", "0003_m3"), ("a", "0004_m4")]
    assert g.interval("a", "0003", "0003") == [("a", "0003_m3")]
    with pytest.raises(UsageError, match="comes before"):
        g.interval("a", "0004", "0002")


def test_interval_errors_on_branches(tmp_path: Path) -> None:
    g = branchy(tmp_path).graph
    with pytest.raises(GraphError, match="different branches"):
        g.interval("a", "0004_side", "0005")
    with pytest.raises(GraphError, match="leaves the range"):
        g.interval("a", "0002", "0004_m4")
    # a range ending before the branch point is fine
    assert g.interval("a", "0001", "0003") == [("a", "0001_m1"), ("a", "0002_m2"), ("a", "0003_m3")]


def test_interval_rejects_replaced_node(tmp_path: Path) -> None:
    g = load(tmp_path, squash_spec()).graph
    with pytest.raises(UnknownMigrationError, match="replaced by a squash"):
        g.interval("a", "0002", "0004")


def test_resolve(tmp_path: Path) -> None:
    g = branchy(tmp_path).graph
    assert g.resolve("a", "0002") == ("a", "0002_m2")
    assert g.resolve("a", "0004_m4") == ("a", "0004_m4")
    with pytest.raises(UnknownMigrationError, match="more than one") as err:
        g.resolve("a", "0004")
    assert "0004_m4" in str(err.value) and "0004_side" in str(err.value)
    with pytest.raises(UnknownMigrationError, match="no migration"):
        g.resolve("a", "0099")
    with pytest.raises(UnknownAppError) as err:
        g.resolve("aa", "0001")
    assert "did you mean a" in str(err.value)


# -- Project: cache and incremental updates --------------------------------------------------

def test_cache_is_used_and_invalidated(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "proj", {"a": chain("a", 3)})
    first = Project.load(root)
    assert cache_file_for(root).is_file()
    assert not any(p.name.endswith((".pickle", ".marshal")) for p in root.rglob("*")), \
        "cache written into the tree"
    again = Project.load(root)
    assert again.records_by_path == first.records_by_path
    path = root / "a" / "migrations" / "0003_m3.py"
    path.write_text(migration_source({"deps": [("a", "0001_m1")]}) + "\n# changed size\n")
    changed = Project.load(root)
    assert changed.graph.parents(("a", "0003_m3")) == [("a", "0001_m1")]


def graph_snapshot(project: Project):
    g = project.graph
    return (sorted(g.full.nodes(data="missing")), sorted(g.full.edges()),
            sorted(g.nx.nodes(data="external")), sorted(g.nx.edges()),
            {k: r for k, r in g.records.items()})


def strip(records: dict) -> dict:
    return {k: dataclasses.replace(r, mtime_ns=0, size=0) for k, r in records.items()}


def test_update_file_matches_full_rebuild(tmp_path: Path) -> None:
    """Random edits through update_file give exactly the graph a fresh load gives."""
    spec = {"a": chain("a", 6), "b": chain("b", 4, first_deps=[("a", "0002_m2")]),
            "c": chain("c", 3, first_deps=[("b", "__first__")]),
            "d": chain("d", 4, first_deps=[("c", "0001_m1")])}
    spec["a"].append(("0001_squashed_0002", {"replaces": [("a", "0001_m1"), ("a", "0002_m2")]}))
    root = make_tree(tmp_path / "proj", spec)
    project = Project.load(root, use_cache=False)
    rebuilds = []
    real_rebuild = project._rebuild
    project._rebuild = lambda: (rebuilds.append(1), real_rebuild())  # type: ignore[method-assign]
    rng = random.Random(7)
    targets = [("a", "0004_m4"), ("b", "0003_m3"), ("c", "0002_m2"), ("a", "0001_squashed_0002")]
    candidates = [("a", "0003_m3"), ("a", "0005_m5"), ("b", "0001_m1"), ("a", "0002_m2"),
                  ("b", "9999_missing"), ("zz", "0001_initial"), ("a", "__first__")]
    targets += [("a", "0007_new"), ("b", "0005_new"), ("d", "0003_m3"), ("d", "0004_m4"), ("d", "0005_new")]
    candidates += [("d", "0002_m2"), ("d", "0003_m3"), ("c", "0002_m2"), ("d", "0009_typo")]
    for _ in range(60):
        app, name = rng.choice(targets)
        path = root / app / "migrations" / f"{name}.py"
        if path.exists() and not name.startswith("0001") and rng.random() < 0.25:
            path.unlink()
            project.update_file(path)
        else:
            opts: dict = {"deps": rng.sample(candidates, rng.randint(0, 3))}
            if name.startswith("0001_squashed"):
                opts["replaces"] = [("a", "0001_m1"), ("a", "0002_m2")]
            text = migration_source(opts)
            if rng.random() < 0.2:
                text = text.replace("dependencies = [", "dependencies = [(")  # a syntax error mid-typing
            project.update_file(path, text)
            path.write_text(text)
        fresh = Project.load(root, use_cache=False)
        assert graph_snapshot(project)[:4] == graph_snapshot(fresh)[:4]
        # mtime/size differ: the buffer was parsed before the file was saved
        assert strip(project.graph.records) == strip(fresh.graph.records)
        assert project.graph.conflicts() == fresh.graph.conflicts()
    # both paths were exercised: in-place patches and full rebuilds
    assert 5 < len(rebuilds) < 50, len(rebuilds)


def test_update_file_new_and_deleted_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "proj", {"a": chain("a", 2)})
    project = Project.load(root, use_cache=False)
    new = root / "a" / "migrations" / "0003_new.py"
    record = project.update_file(new, migration_source({"deps": [("a", "0002_m2")]}))
    assert record is not None and project.graph.leaves("a") == [("a", "0003_new")]
    # not saved to disk and no source: the buffer is gone, so is the node
    assert project.update_file(new) is None
    assert project.graph.leaves("a") == [("a", "0002_m2")]
    (root / "a" / "migrations" / "0002_m2.py").unlink()
    project.update_file(root / "a" / "migrations" / "0002_m2.py")
    assert ("a", "0002_m2") not in project.graph.records
    assert project.update_file(root / "README.md", "text") is None


def test_load_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        Project.load(tmp_path / "nope")


def test_empty_migrations_package(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "proj", {"a": [], "b": [("0001_initial", {"deps": [("a", "__first__")]})]})
    g = Project.load(root, use_cache=False).graph
    assert g.apps() == ["a", "b"]
    assert g.parents(("b", "0001_initial")) == []
    assert g.leaves("a") == [] and g.app_plan("a") == []


def test_nested_squash_partially_applied_inner_is_not_used(tmp_path: Path) -> None:
    """Applied {0001}: neither the inner nor the outer squash may run on top of it.

    Django 5.2's per-level rule would use the outer squash (its direct targets, the
    inner squash and 0004, look unapplied) after 0001..0003; the status is computed
    over the expanded originals instead, as Django 6.0 does.
    """
    outer = ("a", "0001_squashed_0004")
    spec = squash_spec(extra_a=[("0001_squashed_0004", {"replaces": [SQ, A4], "initial": True})])
    project = load(tmp_path, spec)
    g = build_graph(project.records_by_path.values(), project.settings, applied={A1},
                    apps=project.packages)
    assert {k for k in g.nx if k[0] == "a"} == {A1, A2, A3, A4}
    assert outer not in g.nx and SQ not in g.nx
    # inner fully applied: inner used, outer (partially applied) removed
    g = build_graph(project.records_by_path.values(), project.settings, applied={A1, A2, A3},
                    apps=project.packages)
    assert {k for k in g.nx if k[0] == "a"} == {SQ, A4}
    assert g.parents(A4) == [SQ]


def test_interval_across_an_unreadable_migration_names_it(tmp_path: Path) -> None:
    """A range that only looks split because one migration's dependencies could not be read
    names that file and line, not "different branches"."""
    project = load(tmp_path, {"a": chain("a", 5)})
    path = project.graph.records[("a", "0003_m3")].path
    path.write_text(path.read_text().replace('("a", "0002_m2")', "DEPS").replace(
        "('a', '0002_m2')", "DEPS"))
    g = Project.load(tmp_path / "proj", settings_module="settings", use_cache=False).graph
    with pytest.raises(GraphError) as error:
        g.interval("a", "0001", "0005")
    assert "0003_m3 cannot be read statically" in str(error.value)
    assert error.value.path == path and error.value.line is not None
