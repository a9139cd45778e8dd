"""The static migration graph, built the way Django's ``MigrationLoader.build_graph`` does.

Two ``networkx.DiGraph`` views are kept (edges parent → child):

* ``full``: every migration read from disk (squashes and the migrations they
  replace), dependencies and ``run_before`` as written (``__first__``/``__latest__``
  and swappable dependencies resolved), no replacement applied;
* ``nx``: the effective graph — ``full`` with replacements carried out exactly like
  ``MigrationLoader`` (``remove_replaced_nodes`` when all or none of a squash's
  targets are applied, ``remove_replacement_node`` otherwise).

Nodes that a dependency names but that no file provides are kept with
``missing=True`` (Django would raise ``NodeNotFoundError``; here they are check
findings, so building never fails). Nodes of apps outside the project (``auth``,
third-party apps) have ``external=True``.

Nested squashes (a squash replacing a squash) are carried out innermost first, so
the result does not depend on dict order (Django 5.2 iterates in file-listing order
and fails with ``NodeNotFoundError`` when an outer squash is processed before the
inner one; Django 6.0 supports nesting: inner replacements first, and a squash's
applied status computed over its recursively expanded replaced migrations, which is
what is done here).
"""

from __future__ import annotations

import difflib
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace as dc_replace

import networkx as nx

from squasher.errors import (
    CircularDependencyError,
    GraphError,
    UnknownAppError,
    UnknownMigrationError,
    UsageError,
)
from squasher.records import MigrationKey, MigrationRecord, ProjectSettings, Reference

SPECIAL_NAMES = ("__first__", "__latest__")


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building large immutable structures.

    Building a 10,000-node graph or parsing 10,000 files creates millions of
    long-lived objects; generation-2 collections rescanning them doubled load time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _resolve_swappable(record: MigrationRecord, settings: ProjectSettings) -> MigrationRecord:
    """Re-resolve swappable dependencies of ``record`` against ``settings`` (records may be cached)."""
    if not any(ref.swappable_setting for ref in record.dependencies):
        return record
    changed = False
    deps: list[Reference] = []
    for ref in record.dependencies:
        if ref.swappable_setting:
            value = settings.swappable.get(ref.swappable_setting)
            app = value.split(".", 1)[0] if value else None
            if app != ref.app_label:
                ref = dc_replace(ref, app_label=app)
                changed = True
        deps.append(ref)
    return dc_replace(record, dependencies=tuple(deps)) if changed else record


class MigrationGraph:
    """Static migration graph with the queries the rest of squasher needs (see ARCHITECTURE.md)."""

    def __init__(self, records: Mapping[MigrationKey, MigrationRecord], full: nx.DiGraph,
                 effective: nx.DiGraph, apps: Iterable[str], unresolved: dict) -> None:
        self.records: dict[MigrationKey, MigrationRecord] = dict(records)
        self.full = full
        self.nx = effective
        self._apps = sorted(set(apps))
        #: references that could not be resolved: key -> list of (Reference, reason)
        self.unresolved: dict[MigrationKey, list[tuple[Reference, str]]] = unresolved
        self._by_app: dict[str, list[MigrationKey]] | None = None
        self._sorted_parents: dict[MigrationKey, list[MigrationKey]] | None = None
        self._leaves: dict[str, list[MigrationKey]] = {}
        self._cycles: list[list[MigrationKey]] | None = None
        self._replaced_by: dict[MigrationKey, MigrationKey] = {}
        for key in sorted(self.records):
            for ref in self.records[key].replaces:
                if ref.key is not None:
                    self._replaced_by.setdefault(ref.key, key)

    # -- nodes ------------------------------------------------------------------------

    def apps(self) -> list[str]:
        """Project app labels (apps with a migrations package), sorted."""
        return list(self._apps)

    def invalidate(self) -> None:
        """Forget derived indexes after ``full``/``nx`` were changed in place (:meth:`patch`)."""
        self._by_app = None
        self._sorted_parents = None
        self._leaves = {}
        self._cycles = None

    def is_project_node(self, key: MigrationKey, graph: nx.DiGraph | None = None) -> bool:
        data = (graph if graph is not None else self.nx).nodes.get(key)
        return bool(data) and not data.get("external") and not data.get("missing")

    def _app_nodes(self, app: str) -> list[MigrationKey]:
        """Project nodes of ``app`` in the effective graph (indexed once; the graph is not mutated)."""
        if self._by_app is None:
            by_app: dict[str, list[MigrationKey]] = {}
            for key, data in self.nx.nodes(data=True):
                if not data.get("external") and not data.get("missing"):
                    by_app.setdefault(key[0], []).append(key)
            self._by_app = by_app
        return self._by_app.get(app, [])

    def leaves(self, app: str) -> list[MigrationKey]:
        """Nodes of ``app`` with no child in the same app (effective graph), sorted like Django."""
        if app not in self._leaves:
            succ = self.nx._succ
            self._leaves[app] = sorted(k for k in self._app_nodes(app)
                                       if all(c[0] != app for c in succ[k]))
        return list(self._leaves[app])

    def roots(self, app: str) -> list[MigrationKey]:
        """Nodes of ``app`` with no parent in the same app (effective graph), sorted."""
        return sorted(k for k in self._app_nodes(app)
                      if all(p[0] != app for p in self.nx.predecessors(k)))

    def conflicts(self) -> dict[str, list[MigrationKey]]:
        """Apps with more than one leaf, like ``MigrationLoader.detect_conflicts``."""
        result: dict[str, list[MigrationKey]] = {}
        for app in self._apps:
            leaves = self.leaves(app)
            if len(leaves) > 1:
                result[app] = leaves
        return result

    def parents(self, key: MigrationKey) -> list[MigrationKey]:
        return sorted(self.nx.predecessors(key)) if key in self.nx else []

    def children(self, key: MigrationKey) -> list[MigrationKey]:
        return sorted(self.nx.successors(key)) if key in self.nx else []

    def ancestors(self, key: MigrationKey) -> set[MigrationKey]:
        return nx.ancestors(self.nx, key) if key in self.nx else set()

    def descendants(self, key: MigrationKey) -> set[MigrationKey]:
        return nx.descendants(self.nx, key) if key in self.nx else set()

    # -- plans ------------------------------------------------------------------------

    def _dfs(self, start: MigrationKey, visited: set[MigrationKey], out: list[MigrationKey]) -> None:
        """Django's ``iterative_dfs`` (post-order over sorted parents), sharing ``visited``.

        Cycle-safe: a node met again while it is still being expanded closes a loop, and
        :class:`CircularDependencyError` is raised instead of walking round it forever.
        """
        if self._sorted_parents is None:
            self._sorted_parents = {k: sorted(p) for k, p in self.nx._pred.items()}
        parents = self._sorted_parents
        on_path: set[MigrationKey] = set()  # expanded, not yet emitted (the current DFS path)
        stack: list[tuple[MigrationKey, bool]] = [(start, False)]
        while stack:
            node, processed = stack.pop()
            if node in visited:
                continue
            if processed:
                on_path.discard(node)
                visited.add(node)
                out.append(node)
            elif node in on_path:
                raise self.circular_error(self._cycle_through(node))
            else:
                on_path.add(node)
                stack.append((node, True))
                stack += [(n, False) for n in parents[node]]

    def _cycle_through(self, node: MigrationKey) -> list[MigrationKey]:
        """The cycle :meth:`cycles` reports for ``node``'s strongly connected component."""
        for cycle in self.cycles():
            if node in cycle:
                return cycle
        return [node]  # not reached: the walk only stops at a real loop

    def circular_error(self, cycle: list[MigrationKey]) -> CircularDependencyError:
        """The error for ``cycle`` (parent -> child order), located at the dependency closing it.

        The message mirrors Django's ``CircularDependencyError`` (the nodes joined by
        ``", "``); the path and line are those of the dependency (or ``run_before``)
        written for the edge from the last node back to the first.
        """
        names = ", ".join(f"{k[0]}.{k[1]}" for k in cycle)
        path = line = None
        for i, child in enumerate(cycle):
            parent = cycle[i - 1]
            record, other = self.records.get(child), self.records.get(parent)
            ref = next((r for r in record.dependencies if r.key == parent), None) if record else None
            if ref is None and other is not None:
                ref = next((r for r in other.run_before if r.key == child), None)
                record = other if ref is not None else record
            if record is not None:
                path = record.path
                span = ref.span if ref is not None else (record.dependencies_span or record.class_span)
                line = span.line if span else None
                if ref is not None:
                    break
        return CircularDependencyError(
            f"circular dependency: {names}", path=path, line=line, cycle=list(cycle),
            hint="remove one of these dependencies (squasher check lists every cycle)")

    def require_acyclic(self, apps: Iterable[str] | None = None) -> None:
        """Raise :class:`CircularDependencyError` for the first cycle (touching ``apps``, if given)."""
        wanted = set(apps) if apps is not None else None
        for cycle in self.cycles():
            if wanted is None or any(k[0] in wanted for k in cycle):
                raise self.circular_error(cycle)

    def forwards_plan(self, key: MigrationKey) -> list[MigrationKey]:
        """Everything ``key`` needs, in Django's order, ending with ``key``."""
        if key not in self.nx:
            raise UnknownMigrationError(f"migration {key[0]}.{key[1]} is not in the graph")
        out: list[MigrationKey] = []
        self._dfs(key, set(), out)
        return out

    def app_plan(self, app: str) -> list[MigrationKey]:
        """Forwards plan to every leaf of ``app`` (Django's ``_generate_plan``), only ``app``'s nodes.

        Raises :class:`CircularDependencyError` when a cycle runs through ``app`` (its nodes
        may then have no leaf at all) or through anything the app's leaves depend on.
        """
        self.require_acyclic([app])
        visited: set[MigrationKey] = set()
        out: list[MigrationKey] = []
        for leaf in self.leaves(app):
            self._dfs(leaf, visited, out)
        return [k for k in out if k[0] == app and self.is_project_node(k)]

    def cycles(self) -> list[list[MigrationKey]]:
        """One cycle per strongly connected component with a loop, each starting at its smallest node."""
        if self._cycles is None:
            self._cycles = self._find_cycles()
        return [list(c) for c in self._cycles]

    def _is_acyclic(self) -> bool:
        """Kahn's algorithm on the adjacency dicts (networkx's generic DAG test is ~5x slower)."""
        # The raw adjacency dicts: the public views cost a Python call per lookup.
        pred, succ = self.nx._pred, self.nx._succ
        indegree = {node: len(parents) for node, parents in pred.items()}
        ready = [node for node, degree in indegree.items() if degree == 0]
        done = 0
        while ready:
            node = ready.pop()
            done += 1
            for child in succ[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        return done == len(indegree)

    def _find_cycles(self) -> list[list[MigrationKey]]:
        found: list[list[MigrationKey]] = []
        if self._is_acyclic():  # the usual case; much cheaper than SCCs
            return found
        for component in nx.strongly_connected_components(self.nx):
            if len(component) == 1:
                (node,) = component
                if not self.nx.has_edge(node, node):
                    continue
                found.append([node])
                continue
            start = min(component)
            sub = self.nx.subgraph(component)
            # Shortest way back to start from any successor gives a readable cycle.
            best: list[MigrationKey] | None = None
            for succ in sorted(sub.successors(start)):
                path = nx.shortest_path(sub, succ, start)
                if best is None or len(path) < len(best):
                    best = path
            assert best is not None
            found.append([start, *best[:-1]])
        return sorted(found)

    # -- replacements -----------------------------------------------------------------

    def replaced_by(self, key: MigrationKey) -> MigrationKey | None:
        """The squash whose ``replaces`` names ``key`` directly, if any."""
        return self._replaced_by.get(key)

    def squashes(self, app: str | None = None) -> list[MigrationKey]:
        """Keys of records with ``replaces``, sorted."""
        return sorted(k for k, r in self.records.items() if r.replaces and (app is None or k[0] == app))

    def flat_replaces(self, key: MigrationKey) -> list[MigrationKey]:
        """Migrations ``key`` replaces, with replaced squashes expanded into what they replace."""
        out: list[MigrationKey] = []
        seen: set[MigrationKey] = {key}

        def visit(k: MigrationKey) -> None:
            record = self.records.get(k)
            for ref in record.replaces if record else ():
                target = ref.key
                if target is None or target in seen:
                    continue
                seen.add(target)
                inner = self.records.get(target)
                if inner is not None and inner.replaces:
                    visit(target)
                else:
                    out.append(target)

        visit(key)
        return out

    # -- lookups ----------------------------------------------------------------------

    def require_app(self, app: str) -> None:
        """Raise ``UnknownAppError`` (with close matches as hint) unless ``app`` is a project app."""
        if app not in self._apps:
            close = difflib.get_close_matches(app, self._apps, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else \
                f"known apps: {', '.join(self._apps) or '(none)'}"
            raise UnknownAppError(f"unknown app {app!r}", hint=hint)

    def resolve(self, app: str, prefix: str) -> MigrationKey:
        """Django-like name resolution: an exact name, else a unique prefix among the app's files."""
        self.require_app(app)
        names = sorted(n for a, n in self.records if a == app)
        if prefix in names:
            return (app, prefix)
        matches = [n for n in names if n.startswith(prefix)]
        if len(matches) == 1:
            return (app, matches[0])
        if matches:
            raise UnknownMigrationError(
                f"more than one migration of {app!r} starts with {prefix!r}: {', '.join(matches)}",
                hint="give more of the name")
        close = difflib.get_close_matches(prefix, names, n=3, cutoff=0.3)
        raise UnknownMigrationError(
            f"no migration of {app!r} matches {prefix!r}",
            hint=f"did you mean {', '.join(close)}?" if close else
            f"{app!r} has: {', '.join(names[:8]) or '(no migrations)'}")

    def _key(self, app: str, value: MigrationKey | str) -> MigrationKey:
        if isinstance(value, tuple):
            if value[0] != app:
                raise UsageError(f"{value[0]}.{value[1]} is not a migration of {app!r}")
            if value not in self.records:
                raise UnknownMigrationError(f"no migration {value[0]}.{value[1]}")
            return value
        return self.resolve(app, value)

    def interval(self, app: str, start: MigrationKey | str, end: MigrationKey | str) -> list[MigrationKey]:
        """Nodes of ``app`` between ``start`` and ``end`` (both included) in the graph, in plan order.

        Raises ``UsageError`` when ``end`` comes before ``start``, ``GraphError`` when
        they are on different branches or when a branch leaves or enters the
        interval (replacing it by one migration would reorder that branch).
        """
        s, e = self._key(app, start), self._key(app, end)
        for key in (s, e):
            if key not in self.nx:
                squash = self.replaced_by(key)
                raise UnknownMigrationError(
                    f"{key[0]}.{key[1]} is replaced by a squash and not in the effective graph",
                    path=self.records[key].path,
                    hint=f"use {squash[0]}.{squash[1]} or its neighbours" if squash else None)
        if s == e:
            return [s]
        after = self.descendants(s)
        if e not in after:
            if s in self.descendants(e):
                raise UsageError(f"{e[1]} comes before {s[1]} in {app}'s history",
                                 hint="swap START and END")
            self.require_readable(app, f"{s[1]} and {e[1]} seem to be on different branches")
            record = self.records.get(e)
            raise GraphError(
                f"{s[1]} and {e[1]} are on different branches of {app} "
                f"(leaves: {', '.join(k[1] for k in self.leaves(app))})",
                path=record.path if record else None,
                line=record.dependencies_span.line if record and record.dependencies_span else None,
                hint="merge the branches first (squasher merge)")
        members = {k for k in (after & self.ancestors(e)) if k[0] == app and self.is_project_node(k)}
        members |= {s, e}
        before_start = self.ancestors(s)
        after_end = self.descendants(e)
        for key in sorted(members):
            for child in self.nx.successors(key):
                if key != e and child[0] == app and child not in members and child not in after_end:
                    raise GraphError(
                        f"branch {child[1]} leaves the range {s[1]}..{e[1]} at {key[1]}",
                        path=self.records[child].path if child in self.records else None,
                        hint="merge the branch first or choose a range that contains it")
            for parent in self.nx.predecessors(key):
                if key != s and parent[0] == app and parent not in members and parent not in before_start:
                    raise GraphError(
                        f"branch {parent[1]} enters the range {s[1]}..{e[1]} at {key[1]}",
                        path=self.records[parent].path if parent in self.records else None,
                        hint="start the range before the branch point")
        plan = self.forwards_plan(e)
        return [k for k in plan if k in members]


    def require_readable(self, app: str, what: str) -> None:
        """When a migration of ``app`` could not be read (syntax error, non-literal
        dependencies), the graph is not known there: say so, naming that file and line,
        rather than report what the incomplete graph shows."""
        for key in self._app_nodes(app):
            record = self.records.get(key)
            if record is None:
                continue
            for problem in record.parse_problems:
                if problem.severity.value == "error":
                    raise GraphError(
                        f"{what}: {app}.{key[1]} cannot be read statically: "
                        f"{problem.message}", path=record.path,
                        line=problem.span.line if problem.span else None,
                        hint="fix that file, or pass --settings so Django reads the graph")

    # -- incremental updates (``Project.update_file``) ----------------------------------

    def can_patch(self, old: MigrationRecord | None, new: MigrationRecord | None) -> bool:
        """Whether :meth:`patch` can replace ``old`` by ``new`` (one file's record before and
        after an edit; ``None``: no file) in place.

        Only a plain migration's own node and dependency edges are patched: anything that
        interacts with replacement or name resolution (squashes, replaced migrations,
        ``run_before``, ``__first__``/``__latest__``, unresolved swappable dependencies, a
        dependency on itself) takes the full rebuild, which is Django's algorithm verbatim.
        """
        records = [r for r in (old, new) if r is not None]
        key = records[0].key
        if any(r.key != key or r.replaces or r.run_before for r in records):
            return False
        if self.replaced_by(key) is not None:
            return False
        for record in records:
            for ref in record.dependencies:
                target = ref.key
                if target is None or ref.name in SPECIAL_NAMES:
                    return False
                if target == key or self.replaced_by(target) is not None:
                    return False
        return True

    def patch(self, old: MigrationRecord | None, new: MigrationRecord | None) -> None:
        """Replace ``old`` by ``new`` in both graphs in place, for a pair :meth:`can_patch`
        accepts: the node is added, updated or removed (kept as ``missing`` while others
        still reference it) and its dependency edges follow the new ``dependencies``."""
        key = (old if old is not None else new).key  # type: ignore[union-attr]
        # every dependency names an app here (can_patch refuses unresolved ones)
        old_parents = {r.key for r in old.dependencies if r.key is not None} if old else set()
        new_parents = {r.key for r in new.dependencies if r.key is not None} if new else set()
        project_apps = set(self._apps)
        for g in (self.full, self.nx):
            _patch_node(g, key, new, old_parents, new_parents, project_apps)
        self.invalidate()  # nodes and edges changed
        if new is None:
            self.records.pop(key, None)
        else:
            self.records[key] = new

    def swap_record(self, record: MigrationRecord) -> None:
        """Replace a record without touching edges (only its operations/flags changed)."""
        self.records[record.key] = record
        for g in (self.full, self.nx):
            if record.key in g:
                g.nodes[record.key]["record"] = record


def _patch_node(g: nx.DiGraph, key: MigrationKey, new: MigrationRecord | None,
                old_parents: set[MigrationKey], new_parents: set[MigrationKey],
                project_apps: set[str]) -> None:
    """One graph's half of :meth:`MigrationGraph.patch`."""
    if new is not None:
        if key in g:  # was a missing node (something depended on the file before it existed)
            g.nodes[key].update(record=new, external=False, missing=False)
        else:
            g.add_node(key, record=new, external=False, missing=False)
    for parent in old_parents - new_parents:
        pdata = g.nodes.get(parent)
        # Keep an edge that the parent's own run_before also creates.
        prec = pdata.get("record") if pdata else None
        if prec is not None and any(r.key == key for r in prec.run_before):
            continue
        if g.has_edge(parent, key):
            g.remove_edge(parent, key)
        if pdata is not None and (pdata.get("missing") or pdata.get("external")) \
                and g.degree(parent) == 0:
            g.remove_node(parent)
    for parent in new_parents - old_parents:
        if parent not in g:
            external = parent[0] not in project_apps
            g.add_node(parent, record=None, external=external, missing=not external)
        g.add_edge(parent, key)
    if new is None:
        if g.out_degree(key) or g.in_degree(key):
            # Others still depend on (or run before) the deleted file: now dangling.
            g.nodes[key].update(record=None, external=False, missing=True)
        else:
            g.remove_node(key)


def linear_runs(edges: Iterable[tuple[MigrationKey, MigrationKey]],
                collapsible: Callable[[MigrationKey], bool],
                min_length: int) -> list[list[MigrationKey]]:
    """The lines of migrations a picture may draw as one box, each in graph order.

    A run is a maximal chain of nodes that ``collapsible`` accepts and that have, among
    ``edges`` (parent → child, the picture's edges), exactly one parent and one child,
    both in the node's own app: no merge, no branch, no dependency to or from another
    app inside it. The nodes around a run (its parent and its child) are not in it, so
    the edges of a collapsed run attach to migrations that stay visible. Only runs of
    ``min_length`` or more nodes are returned (none when ``min_length`` < 1).

    Cycle-safe: every node is walked at most once, and a cycle made only of such nodes
    (it has no node to start from) is never entered.
    """
    if min_length < 1:
        return []
    parents: dict[MigrationKey, set[MigrationKey]] = {}
    children: dict[MigrationKey, set[MigrationKey]] = {}
    for parent, child in edges:
        children.setdefault(parent, set()).add(child)
        parents.setdefault(child, set()).add(parent)

    def inner(key: MigrationKey) -> bool:
        ins, outs = parents.get(key, ()), children.get(key, ())
        return (len(ins) == 1 and len(outs) == 1
                and next(iter(ins))[0] == key[0] == next(iter(outs))[0] and collapsible(key))

    starts = sorted(k for k in parents if inner(k) and not inner(next(iter(parents[k]))))
    runs: list[list[MigrationKey]] = []
    walked: set[MigrationKey] = set()
    for start in starts:
        run: list[MigrationKey] = []
        key = start
        while key not in walked and inner(key):
            walked.add(key)
            run.append(key)
            key = next(iter(children[key]))
        if len(run) >= min_length:
            runs.append(run)
    return runs


def _add_node(g: nx.DiGraph, key: MigrationKey, project_apps: set[str]) -> None:
    if key not in g:
        external = key[0] not in project_apps
        g.add_node(key, record=None, external=external, missing=not external)


def build_graph(records: Iterable[MigrationRecord] | Mapping[MigrationKey, MigrationRecord],
                settings: ProjectSettings | None = None,
                applied: Iterable[MigrationKey] | None = None, *,
                apps: Iterable[str] = (),
                unmigrated_apps: Iterable[str] = ()) -> MigrationGraph:
    """Build both graphs from parsed records, as ``MigrationLoader.build_graph`` does.

    ``applied`` is the set of applied migrations (``None``: no database, nothing
    applied). ``apps`` adds project app labels that have a migrations package but no
    migration files yet; ``unmigrated_apps`` are project apps without migrations
    (``__first__`` dependencies on them are ignored, like Django).
    """
    with no_gc():
        return _build_graph(records, settings, applied, apps, unmigrated_apps)


def _build_graph(records, settings, applied, apps, unmigrated_apps) -> MigrationGraph:
    if isinstance(records, Mapping):
        records = records.values()
    by_key: dict[MigrationKey, MigrationRecord] = {}
    for record in records:
        if settings is not None:
            record = _resolve_swappable(record, settings)
        by_key.setdefault(record.key, record)
    project_apps = {k[0] for k in by_key} | set(apps)
    unmigrated = set(unmigrated_apps) - project_apps
    unresolved: dict[MigrationKey, list[tuple[Reference, str]]] = {}

    g = nx.DiGraph()
    for key in sorted(by_key):
        g.add_node(key, record=by_key[key], external=False, missing=False)

    # Internal dependencies first, so that __first__/__latest__ see the app's shape.
    for key, record in by_key.items():
        for ref in record.dependencies:
            if ref.app_label == key[0] and ref.name != "__first__":
                _add_node(g, ref.key, project_apps)  # type: ignore[arg-type]
                g.add_edge(ref.key, key)

    ends: dict[tuple[str, str], MigrationKey | None] = {}

    def app_end(app: str, which: str) -> MigrationKey | None:
        if (app, which) not in ends:
            nodes = [k for k in g.nodes if k[0] == app]
            if which == "__first__":
                cands = sorted(k for k in nodes if all(p[0] != app for p in g.predecessors(k)))
            else:
                cands = sorted(k for k in nodes if all(c[0] != app for c in g.successors(k)))
            ends[(app, which)] = cands[0] if cands else None
        return ends[(app, which)]

    def check_key(ref: Reference, current: MigrationKey) -> MigrationKey | None:
        """``MigrationLoader.check_key``: resolve ``__first__``/``__latest__``, ignore what Django ignores."""
        if ref.app_label is None:
            unresolved.setdefault(current, []).append(
                (ref, f"settings.{ref.swappable_setting} could not be read statically"
                      if (ref.swappable_setting or "").isupper() else
                      f"{ref.swappable_setting} is computed in the file; its app is unknown "
                      "statically"))
            return None
        key = (ref.app_label, ref.name)
        if ref.name not in SPECIAL_NAMES or key in g:
            return key
        if ref.app_label == current[0] or ref.app_label in unmigrated:
            return None
        if ref.app_label in project_apps:
            end = app_end(ref.app_label, ref.name)
            if end is None:
                unresolved.setdefault(current, []).append(
                    (ref, f"app {ref.app_label!r} has no migrations"))
            return end
        return key  # external app: keep the symbolic node

    for key, record in by_key.items():
        for ref in record.dependencies:
            if ref.app_label == key[0]:
                continue
            parent = check_key(ref, key)
            if parent is not None:
                _add_node(g, parent, project_apps)
                g.add_edge(parent, key)
        for ref in record.run_before:
            child = check_key(ref, key)
            if child is not None:
                _add_node(g, child, project_apps)
                g.add_edge(key, child)

    effective = g.copy()
    _apply_replacements(effective, by_key, set(applied or ()))
    return MigrationGraph(by_key, g, effective, project_apps, unresolved)


def _replacement_order(by_key: Mapping[MigrationKey, MigrationRecord]) -> list[MigrationKey]:
    """Squashes, innermost first (a squash replacing another squash comes after it), then by key."""
    squashes = sorted(k for k, r in by_key.items() if r.replaces)
    order: list[MigrationKey] = []
    state: dict[MigrationKey, int] = {}

    def visit(key: MigrationKey) -> None:
        if state.get(key):
            return  # done, or a replaces-cycle (broken input): keep going
        state[key] = 1
        for ref in by_key[key].replaces:
            inner = ref.key
            if inner is not None and inner in by_key and by_key[inner].replaces:
                visit(inner)
        state[key] = 2
        order.append(key)

    for key in squashes:
        visit(key)
    return order


def _apply_replacements(g: nx.DiGraph, by_key: Mapping[MigrationKey, MigrationRecord],
                        applied: set[MigrationKey]) -> None:
    """Carry out replacements like ``MigrationLoader.build_graph``.

    A squash's applied status is computed over its replaced migrations with nested
    squashes expanded to the migrations they replace (Django 6.0's
    ``_resolve_replaced_migration_keys``). Without nesting this is exactly Django
    5.2's rule; with nesting it avoids 5.2's result of an outer squash being used on
    top of partially applied originals of an inner one.
    """
    for key in _replacement_order(by_key):
        replaced = [r.key for r in by_key[key].replaces if r.key is not None]
        statuses = [t in applied for t in _leaf_targets(key, by_key)]
        if all(statuses):
            applied.add(key)
        else:
            applied.discard(key)
        if key not in g:
            continue
        if all(statuses) or not any(statuses):
            _remove_replaced_nodes(g, key, replaced)
        else:
            _remove_replacement_node(g, key, replaced)


def _leaf_targets(key: MigrationKey, by_key: Mapping[MigrationKey, MigrationRecord]) -> list[MigrationKey]:
    """Replaced keys of ``key`` with replaced squashes expanded recursively (cycle-safe)."""
    out: list[MigrationKey] = []
    seen = {key}
    stack = [r.key for r in reversed(by_key[key].replaces) if r.key is not None]
    while stack:
        target = stack.pop()
        if target in seen:
            continue
        seen.add(target)
        inner = by_key.get(target)
        if inner is not None and inner.replaces:
            stack.extend(r.key for r in reversed(inner.replaces) if r.key is not None)
        else:
            out.append(target)
    return out


def _remove_replaced_nodes(g: nx.DiGraph, replacement: MigrationKey, replaced: list[MigrationKey]) -> None:
    """``django.db.migrations.graph.MigrationGraph.remove_replaced_nodes``."""
    targets = set(replaced)
    for old in targets:
        if old not in g:
            continue
        for child in list(g.successors(old)):
            if child not in targets:
                g.add_edge(replacement, child)
        for parent in list(g.predecessors(old)):
            if parent not in targets:
                g.add_edge(parent, replacement)
        g.remove_node(old)


def _remove_replacement_node(g: nx.DiGraph, replacement: MigrationKey, replaced: list[MigrationKey]) -> None:
    """``MigrationGraph.remove_replacement_node``: children of the squash move to the last replaced nodes."""
    present = {k for k in replaced if k in g}
    their_parents: set[MigrationKey] = set()
    for k in present:
        their_parents.update(g.predecessors(k))
    last = present - their_parents
    for child in list(g.successors(replacement)):
        for node in last:
            g.add_edge(node, child)
    g.remove_node(replacement)
