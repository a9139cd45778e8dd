"""Cycle simulation and minimal splitting on small graphs built directly."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from support.contraction import simulate_replacement

from squasher.graph.cycles import format_cycle, split_without_cycles, squash_cycle


def find_split_points(g, app, members):  # type: ignore[no-untyped-def]
    """Where new squashes must start: the first migration of every piece after the first."""
    return [piece[0] for piece in split_without_cycles(g, app, members)[1:]]


def chain(app: str, n: int) -> list[tuple[str, str]]:
    return [(app, f"{i:04d}") for i in range(1, n + 1)]


def linear(g: nx.DiGraph, keys: list[tuple[str, str]]) -> None:
    g.add_nodes_from(keys)
    for a, b in itertools.pairwise(keys):
        g.add_edge(a, b)


def classic() -> tuple[nx.DiGraph, list[tuple[str, str]]]:
    """A: 0001..0006; B.0001 depends on A.0002; A.0005 depends on B.0001."""
    g = nx.DiGraph()
    a = chain("a", 6)
    linear(g, a)
    g.add_edge(a[1], ("b", "0001"))
    g.add_edge(("b", "0001"), a[4])
    return g, a


def contracted_is_acyclic(g: nx.DiGraph, pieces: list[list[tuple[str, str]]]) -> bool:
    h = g
    for i, piece in enumerate(pieces):
        h = simulate_replacement(h, ("squash", str(i)), piece)
    return nx.is_directed_acyclic_graph(h)


def test_no_cycle_for_linear_app():
    g = nx.DiGraph()
    a = chain("a", 5)
    linear(g, a)
    g.add_edge(a[4], ("b", "0001"))  # other app depends on the end only
    assert squash_cycle(g, "a", a) is None
    assert split_without_cycles(g, "a", a) == [a]
    assert find_split_points(g, "a", a) == []


def test_classic_cross_app_cycle_path():
    g, a = classic()
    path = squash_cycle(g, "a", a)
    assert path == [a[1], ("b", "0001"), a[4]]
    # The contracted graph really has a cycle, through the squash node.
    h = simulate_replacement(g, ("a", "0001_squashed_0006"), a)
    cycle = nx.find_cycle(h)
    assert ("a", "0001_squashed_0006") in {u for u, _ in cycle}
    text = format_cycle(path)
    assert "b.0001" in text and "a.0002" in text and "a.0005" in text


def test_classic_split_minimum_and_safe():
    g, a = classic()
    pieces = split_without_cycles(g, "a", a)
    # 0002 and 0005 cannot be in one piece: two pieces are necessary and enough.
    assert pieces == [a[:4], a[4:]]
    assert find_split_points(g, "a", a) == [a[4]]
    assert all(squash_cycle(g, "a", p) is None for p in pieces)
    assert contracted_is_acyclic(g, pieces)


def test_subrange_avoiding_the_detour_is_safe():
    g, a = classic()
    assert squash_cycle(g, "a", a[2:]) is None  # 0003..0006: B.0001 only depends on 0002
    assert squash_cycle(g, "a", a[:4]) is None
    assert squash_cycle(g, "a", a[1:5]) is not None


def test_long_detour_through_several_apps():
    g = nx.DiGraph()
    a = chain("a", 4)
    linear(g, a)
    g.add_edge(a[0], ("b", "0001"))
    g.add_edge(("b", "0001"), ("c", "0001"))
    g.add_edge(("c", "0001"), ("c", "0002"))
    g.add_edge(("c", "0002"), a[3])
    assert squash_cycle(g, "a", a) == [a[0], ("b", "0001"), ("c", "0001"), ("c", "0002"), a[3]]
    assert split_without_cycles(g, "a", a) == [a[:3], a[3:]]


def test_two_detours_need_three_pieces():
    g = nx.DiGraph()
    a = chain("a", 8)
    linear(g, a)
    g.add_edge(a[1], ("b", "0001"))
    g.add_edge(("b", "0001"), a[3])
    g.add_edge(a[4], ("c", "0001"))
    g.add_edge(("c", "0001"), a[6])
    pieces = split_without_cycles(g, "a", a)
    assert pieces == [a[:3], a[3:6], a[6:]]
    assert contracted_is_acyclic(g, pieces)


def test_merge_node_inside_range():
    g = nx.DiGraph()
    r, x, y, m, z = (("a", n) for n in ("0001", "0002_x", "0002_y", "0003_merge", "0004"))
    g.add_edges_from([(r, x), (r, y), (x, m), (y, m), (m, z)])
    members = [r, x, y, m, z]
    assert squash_cycle(g, "a", members) is None
    assert split_without_cycles(g, "a", members) == [members]


def test_members_missing_from_graph_are_ignored_and_order_restored():
    g, a = classic()
    shuffled = [a[3], a[0], ("a", "9999_gone"), a[2], a[1], a[5], a[4]]
    assert split_without_cycles(g, "a", shuffled) == [a[:4], a[4:]]
    assert split_without_cycles(g, "a", []) == []
    assert squash_cycle(g, "a", [a[0]]) is None


def test_simulate_replacement_repoints_edges_and_deps():
    g, a = classic()
    s = ("a", "0003_squashed_0004")
    h = simulate_replacement(g, s, a[2:4], deps=[a[1], a[2]])
    assert a[2] not in h and a[3] not in h
    assert set(h.predecessors(s)) == {a[1]}
    assert set(h.successors(s)) == {a[4]}


class _FakeMigrationGraph:
    """Duck-typed stand-in for squasher.graph.graph.MigrationGraph (``.nx`` + ``app_plan``)."""

    def __init__(self, g: nx.DiGraph) -> None:
        self.nx = g

    def app_plan(self, app: str) -> list[tuple[str, str]]:
        return [k for k in nx.lexicographical_topological_sort(self.nx) if k[0] == app]


def test_accepts_migration_graph_like_object():
    g, a = classic()
    mg = _FakeMigrationGraph(g)
    assert squash_cycle(mg, "a", a) is not None
    assert split_without_cycles(mg, "a", list(reversed(a))) == [a[:4], a[4:]]
    with pytest.raises(TypeError):
        squash_cycle(object(), "a", a)


def _brute_force_min_pieces(g: nx.DiGraph, order: list[tuple[str, str]]) -> int:
    n = len(order)
    best = [0] + [n + 1] * n  # best[i] = min pieces for order[:i]
    for i in range(1, n + 1):
        for j in range(i):
            if squash_cycle(g, "a", order[j:i]) is None:
                best[i] = min(best[i], best[j] + 1)
    return best[n]


@pytest.mark.parametrize("seed", range(40))
def test_greedy_is_minimal_and_hereditary_on_random_graphs(seed):
    rnd = random.Random(seed)
    g = nx.DiGraph()
    a = chain("a", rnd.randint(3, 9))
    linear(g, a)
    others = [(rnd.choice("bcd"), f"{i:04d}") for i in range(rnd.randint(1, 6))]
    g.add_nodes_from(others)
    # Random cross edges respecting one global topological order (so the graph is a DAG).
    topo = list(a)
    for o in others:
        topo.insert(rnd.randint(0, len(topo)), o)
    for _ in range(rnd.randint(1, 8)):
        i, j = sorted(rnd.sample(range(len(topo)), 2))
        g.add_edge(topo[i], topo[j])
    assert nx.is_directed_acyclic_graph(g)
    order = [k for k in topo if k[0] == "a"]
    pieces = split_without_cycles(g, "a", order)
    assert [k for p in pieces for k in p] == order
    assert len(pieces) == _brute_force_min_pieces(g, order)
    assert contracted_is_acyclic(g, pieces)
    # Hereditary: every consecutive sub-piece of a safe piece is safe.
    for p in pieces:
        for i, j in itertools.combinations(range(len(p) + 1), 2):
            assert squash_cycle(g, "a", p[i:j]) is None
    # And the cycle path returned is real: consecutive pairs are edges.
    path = squash_cycle(g, "a", order)
    if path is not None:
        assert all(g.has_edge(u, v) for u, v in itertools.pairwise(path))
        assert path[0] in order and path[-1] in order
        assert not set(path[1:-1]) & set(order)
