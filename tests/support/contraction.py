"""Test oracle: the graph Django's loader builds when a squash replaces its members.

Kept out of the library (nothing there needs it): tests use it to check that what
``squasher.graph.cycles`` predicts is what the contraction really gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import networkx as nx

from squasher.records import MigrationKey


def simulate_replacement(
    graph: Any,
    squash_key: MigrationKey,
    members: Sequence[MigrationKey],
    deps: Iterable[MigrationKey] = (),
) -> nx.DiGraph:
    """The effective graph Django's loader would build with ``squash_key`` replacing ``members``.

    A copy of the graph where ``members`` are removed and their outside edges re-pointed to
    ``squash_key`` (``remove_replaced_nodes``), plus edges from ``deps`` (the squash's own
    ``dependencies``; members among them are skipped as Django does).
    """
    g = graph if isinstance(graph, nx.DiGraph) else graph.nx
    inside = {tuple(m) for m in members if tuple(m) in g}
    out = g.copy()
    out.add_node(squash_key, record=None, external=False, squash_of=sorted(inside))
    for m in inside:
        for parent in g.predecessors(m):
            if parent not in inside:
                out.add_edge(parent, squash_key)
        for child in g.successors(m):
            if child not in inside:
                out.add_edge(squash_key, child)
    out.remove_nodes_from(inside)
    for dep in deps:
        dep = tuple(dep)  # type: ignore[assignment]
        if dep not in inside and dep != squash_key:
            out.add_edge(dep, squash_key)
    return out
