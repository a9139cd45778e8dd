"""Would a squash create a circular dependency? And where to split it so it does not.

Django's ``MigrationLoader`` replaces the migrations a squash ``replaces`` by the squash
node (``MigrationGraph.remove_replaced_nodes``): every edge into a replaced node from
outside the set is re-pointed to the squash, every edge out of a replaced node to outside
the set leaves from the squash. In graph terms the members are *contracted* into one
node. Because the original graph is acyclic, the contracted graph has a cycle exactly when
some path leaves the member set and comes back into it::

    member a  ->  x1 -> ... -> xk  ->  member b        (x1..xk not members)

After the squash, ``x1`` depends on the squash (through ``a``) and the squash depends on
``xk`` (through ``b``): ``squash -> x1 -> ... -> xk -> squash``. This is the common case of
a whole-history squash of app A when app B's 0002 depends on A's 0040 and A's 0090 depends
on B's 0002.

Edges go parent -> child (dependency -> dependent), as in :mod:`squasher.graph.graph`.

Splitting
---------
:func:`split_without_cycles` cuts the members (in plan order, i.e. a topological order)
into the minimum number of consecutive pieces none of which creates a cycle, by the
greedy longest-prefix rule. Greedy is optimal because "creates no cycle" is hereditary
for consecutive pieces: if a piece ``S`` creates no cycle, neither does any consecutive
sub-piece ``T``. Proof: a cycle for ``T`` needs some ``x`` not in ``T`` that is a
descendant of a member ``t1`` of ``T`` and an ancestor of a member ``t2`` of ``T``. If
``x`` were in ``S``, it would sit between ``t1`` and ``t2`` in the topological order, hence
inside the consecutive slice ``T`` — contradiction; so ``x`` is outside ``S`` and is a
descendant and an ancestor of members of ``S``, i.e. ``S`` has a cycle — contradiction.
With hereditary feasibility (and every single migration feasible), the usual exchange
argument shows greedy's k-th piece ends no earlier than the k-th piece of any valid
partition, so greedy uses the fewest pieces.

The pieces can also be replaced *together*: a cycle through two contracted pieces
``P1 < P2`` would need a path from a member of ``P2`` back to a member of ``P1``, i.e. an
edge against the topological order. So the squashes written for the pieces create no
cycle jointly either.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import networkx as nx

from squasher.errors import CircularDependencyError
from squasher.records import MigrationKey

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph


__all__ = [
    "squash_cycle",
    "split_without_cycles",
    "format_cycle",
]


def _nx(graph: MigrationGraph | nx.DiGraph) -> nx.DiGraph:
    """Accept a :class:`squasher.graph.graph.MigrationGraph` (its effective ``.nx``) or a DiGraph."""
    if isinstance(graph, nx.DiGraph):
        return graph
    inner = getattr(graph, "nx", None)
    if isinstance(inner, nx.DiGraph):
        return inner
    raise TypeError(f"expected a MigrationGraph or networkx.DiGraph, got {type(graph).__name__}")


def _member_set(g: nx.DiGraph, members: Iterable[MigrationKey]) -> set[MigrationKey]:
    return {tuple(m) for m in members if tuple(m) in g}  # type: ignore[misc]


def squash_cycle(graph: MigrationGraph | nx.DiGraph, app: str, members: Sequence[MigrationKey]) -> list[MigrationKey] | None:
    """Simulate replacing ``members`` by one squash node; return a cycle path or ``None``.

    The path is ``[a, x1, ..., xk, b]``: ``a`` and ``b`` are members, ``x1..xk`` are not;
    ``x1`` depends on ``a`` and ``b`` depends on ``xk`` (each consecutive pair is an edge
    parent -> child). Once ``a`` and ``b`` are one node the path closes into the cycle
    ``squash -> x1 -> ... -> xk -> squash``. The path found is a shortest one. Members that
    are not in the graph are ignored. ``app`` is accepted for symmetry with the rest of the
    API (members of other apps are treated like any other member).
    """
    del app  # the simulation does not depend on the app label
    g = _nx(graph)
    inside = _member_set(g, members)
    if len(inside) < 2:
        return None
    # Multi-source BFS over non-members, starting at non-member children of members.
    came_from: dict[MigrationKey, MigrationKey] = {}
    queue: deque[MigrationKey] = deque()
    for m in sorted(inside):
        for child in sorted(g.successors(m)):
            if child not in inside and child not in came_from:
                came_from[child] = m
                queue.append(child)
    while queue:
        node = queue.popleft()
        for child in sorted(g.successors(node)):
            if child in inside:
                path = [child, node]
                while path[-1] not in inside:
                    path.append(came_from[path[-1]])
                path.reverse()
                return path
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    return None


def _plan_order(graph: MigrationGraph | nx.DiGraph, g: nx.DiGraph, app: str, members: Sequence[MigrationKey]) -> list[MigrationKey]:
    """``members`` (deduplicated, in the graph) in a topological order.

    The caller's order is kept when it is already topological (the squash command passes
    Django's plan order); otherwise the app's plan order from the MigrationGraph, else a
    lexicographic topological order of the DiGraph.
    """
    seen: set[MigrationKey] = set()
    ordered: list[MigrationKey] = []
    for m in members:
        key = tuple(m)
        if key in g and key not in seen:
            seen.add(key)  # type: ignore[arg-type]
            ordered.append(key)  # type: ignore[arg-type]
    position = {m: i for i, m in enumerate(ordered)}
    consistent = all(
        position[parent] < position[child]
        for child in ordered
        for parent in g.predecessors(child)
        if parent in position
    )
    # Edges are not enough when the path runs outside the members: check reachability.
    if consistent:
        for i, m in enumerate(ordered):
            later = set(ordered[i + 1 :])
            if later and any(a in later for a in nx.ancestors(g, m)):
                consistent = False
                break
    if consistent:
        return ordered
    plan: list[MigrationKey] | None = None
    app_plan = getattr(graph, "app_plan", None)
    if callable(app_plan) and all(m[0] == app for m in ordered):
        plan = [tuple(k) for k in app_plan(app)]
    if plan is None or not seen.issubset(plan):
        try:
            plan = list(nx.lexicographical_topological_sort(g))
        except nx.NetworkXUnfeasible:  # the graph already has a cycle: name it, no traceback
            loop = [edge[0] for edge in nx.find_cycle(g)]
            error = getattr(graph, "circular_error", None)
            if callable(error):
                raise error(loop) from None
            names = ", ".join(f"{k[0]}.{k[1]}" for k in loop)
            raise CircularDependencyError(f"circular dependency: {names}", cycle=loop) from None
    rank = {k: i for i, k in enumerate(plan)}
    return sorted(ordered, key=lambda k: rank[k])


def split_without_cycles(
    graph: MigrationGraph | nx.DiGraph, app: str, members: Sequence[MigrationKey]
) -> list[list[MigrationKey]]:
    """Minimum number of consecutive pieces (plan order) none of which creates a cycle.

    Returns ``[members]`` (one piece) when the whole range is safe, ``[]`` for no members.
    Greedy longest prefix, optimal as argued in the module docstring. Each extension is
    checked with :func:`squash_cycle` (linear in the graph), so the cost is
    O(len(members) * (V + E)) at worst.
    """
    g = _nx(graph)
    ordered = _plan_order(graph, g, app, members)
    pieces: list[list[MigrationKey]] = []
    start = 0
    while start < len(ordered):
        end = start + 1  # a single migration never creates a cycle in a DAG
        # Binary search would need monotonicity in the end index, which holds (hereditary
        # property), but linear growth keeps the found cycle simple to reason about.
        while end < len(ordered) and squash_cycle(g, app, ordered[start : end + 1]) is None:
            end += 1
        pieces.append(ordered[start:end])
        start = end
    return pieces


def format_cycle(path: Sequence[MigrationKey], squash_label: str = "the squash") -> str:
    """Human-readable cycle, e.g. ``the squash (via catalog.0003) -> orders.0002 -> the squash (via catalog.0004)``."""
    if not path:
        return ""
    first, *middle, last = path
    parts = [f"{squash_label} (via {first[0]}.{first[1]})"]
    parts += [f"{k[0]}.{k[1]}" for k in middle]
    parts.append(f"{squash_label} (via {last[0]}.{last[1]})")
    return " -> ".join(parts)
