"""Render a :class:`~squasher.graph.graph.MigrationGraph` as text, Graphviz dot, Mermaid or JSON.

Node ids in dot/mermaid are ``n_<app>__<name>`` with non-word characters replaced by
``_`` (see :func:`node_id`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from squasher.records import MigrationKey, Problem, Span

if TYPE_CHECKING:  # the CLI imports FORMATS at start-up: no networkx here
    from collections.abc import Collection

    from squasher.graph.graph import MigrationGraph

FORMATS = ("text", "dot", "mermaid", "json")

#: ``graph --collapse N``'s default: a line of this many plain migrations or more is drawn
#: as one box in dot, Mermaid and the pictures (0: never)
DEFAULT_COLLAPSE = 8


def node_id(key: MigrationKey) -> str:
    """A stable identifier usable in dot and mermaid (``[A-Za-z0-9_]`` only)."""
    return "n_" + re.sub(r"\W", "_", key[0]) + "__" + re.sub(r"\W", "_", key[1])


class _Context:
    """Per-render precomputation (leaves and conflicts), so flags cost O(1) per node."""

    def __init__(self, graph: MigrationGraph) -> None:
        self.conflicts = graph.conflicts()
        self.leaves = {k for app in graph.apps() for k in graph.leaves(app)}
        self.replaced: dict[str, list[MigrationKey]] = {}
        for key in sorted(graph.records):
            if key not in graph.nx:
                self.replaced.setdefault(key[0], []).append(key)


def _flags(graph: MigrationGraph, key: MigrationKey, ctx: _Context) -> list[str]:
    data = graph.full.nodes.get(key, {})
    flags: list[str] = []
    if data.get("external"):
        flags.append("external")
    if data.get("missing"):
        flags.append("missing")
    record = graph.records.get(key)
    if record is not None:
        if record.replaces:
            flags.append("squash")
        if record.parse_problems:
            flags.append("unparsable")
        if record.initial:
            flags.append("initial")
    if graph.replaced_by(key) is not None:
        flags.append("replaced")
    if key in graph.nx and sum(1 for p in graph.nx.predecessors(key) if p[0] == key[0]) > 1:
        flags.append("merge")
    if key in ctx.conflicts.get(key[0], ()):
        flags.append("conflict")
    if key in ctx.leaves:
        flags.append("leaf")
    return flags


def _selected_nodes(graph: MigrationGraph, apps: list[str]) -> list[MigrationKey]:
    """Nodes of ``apps`` from the full graph (replaced ones too), plus the outside nodes they touch."""
    wanted = set(apps)
    nodes = {k for k in graph.full.nodes if k[0] in wanted}
    for key in list(nodes):
        nodes.update(graph.full.predecessors(key))
        nodes.update(graph.full.successors(key))
    return sorted(nodes)


def _edges(graph: MigrationGraph, nodes: set[MigrationKey]) -> list[tuple[MigrationKey, MigrationKey, str]]:
    """Effective edges plus the written edges that replacement removed (kind ``replaced``)."""
    out: dict[tuple[MigrationKey, MigrationKey], str] = {}
    for a, b in graph.full.edges():
        if a in nodes and b in nodes:
            out[(a, b)] = "effective" if graph.nx.has_edge(a, b) else "replaced"
    for a, b in graph.nx.edges():
        if a in nodes and b in nodes:
            out[(a, b)] = "effective"
    return [(a, b, kind) for (a, b), kind in sorted(out.items())]


def render(graph: MigrationGraph, fmt: str, apps: list[str] | None = None,
           root: Path | None = None, *, legend: bool = False, collapse: int = 0,
           keep: Collection[MigrationKey] = ()) -> str:
    """The graph of ``apps`` (default: all project apps) in ``fmt`` (one of :data:`FORMATS`).

    ``legend``: dot and Mermaid output get a legend box explaining the node styles that
    occur (the CLI's pictures; the editor's webview draws its own). ``collapse``: in dot
    and Mermaid, lines of that many plain migrations or more are one box (see
    :func:`collapsed_runs`; ``keep``: migrations never hidden in a box, e.g. those ``check``
    reports); text and JSON always list every migration."""
    apps = apps or graph.apps()
    if fmt == "text":
        return render_text(graph, apps, root)
    if fmt == "dot":
        return render_dot(graph, apps, legend=legend, collapse=collapse, keep=keep)
    if fmt == "mermaid":
        return render_mermaid(graph, apps, legend=legend, collapse=collapse, keep=keep)
    if fmt == "json":
        return render_json(graph, apps, root)
    raise ValueError(f"unknown format {fmt!r}")


def _rel(path: Path | None, root: Path | None) -> str | None:
    if path is None:
        return None
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def render_text(graph: MigrationGraph, apps: list[str], root: Path | None = None) -> str:
    """Per app: the plan (effective graph) with markers, then the replaced migrations."""
    ctx = _Context(graph)
    lines: list[str] = []
    for app in apps:
        plan = graph.app_plan(app)
        leaves = graph.leaves(app)
        status = f"CONFLICT: {len(leaves)} leaves" if len(leaves) > 1 else \
            (f"leaf {leaves[0][1]}" if leaves else "no migrations")
        lines.append(f"{app} ({len(plan)} migrations, {status})")
        for key in plan:
            flags = _flags(graph, key, ctx)
            parents = [p for p in graph.parents(key)]
            outside = [f"{p[0]}.{p[1]}" for p in parents if p[0] != app]
            same = [p[1] for p in parents if p[0] == app]
            marks = []
            if "squash" in flags:
                marks.append(f"squash of {len(graph.flat_replaces(key))}")
            for flag in ("merge", "leaf", "conflict", "unparsable", "initial"):
                if flag in flags:
                    marks.append(flag)
            line = f"  {key[1]}"
            if marks:
                line += "  [" + ", ".join(marks) + "]"
            if len(same) > 1:
                line += "  <- " + ", ".join(same)
            if outside:
                line += "  needs " + ", ".join(outside)
            lines.append(line)
        replaced = ctx.replaced.get(app, [])
        if replaced:
            lines.append("  replaced (not in the plan):")
            for key in replaced:
                by = graph.replaced_by(key)
                lines.append(f"    {key[1]}  (by {by[1] if by else '?'})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


#: the marker in front of a merge migration's name (its box is the size of its neighbours')
MERGE_MARK = "◆ "

#: what each node style means, in legend order (flag -> legend text)
LEGEND = {
    "squash": "squash (replaces migrations)",
    "replaced": "replaced by a squash",
    "merge": "merge migration",
    "conflict": "conflicting leaf",
    "external": "other app / external",
    "missing": "missing (dangling dependency)",
    "unparsable": "unreadable file",
    "collapsed": "line of migrations, collapsed",
}

#: the only flags a migration inside a collapsed line may have (the others are marked)
_PLAIN_FLAGS = frozenset({"initial", "leaf"})


@dataclass(frozen=True)
class CollapsedRun:
    """A line of migrations of one app drawn as one box (members in graph order)."""

    members: tuple[MigrationKey, ...]

    @property
    def app(self) -> str:
        return self.members[0][0]

    @property
    def id(self) -> str:
        """``c_<app>__<first name>``: never one of the ``n_``/``legend_`` ids."""
        return "c_" + node_id(self.members[0])[2:]

    @property
    def label(self) -> str:
        """``0012 … 0047 (36 migrations)``."""
        first, last = _short_name(self.members[0][1]), _short_name(self.members[-1][1])
        return f"{first} … {last} ({len(self.members)} migrations)"


def _short_name(name: str) -> str:
    """A migration's number (``0012`` of ``0012_add_field``), or its whole name."""
    prefix = name.split("_", 1)[0]
    return prefix if prefix.isdigit() else name


def _in_cycles(graph: MigrationGraph) -> set[MigrationKey]:
    """Migrations on a circular dependency (``check`` reports them: never collapsed)."""
    if not graph.cycles():
        return set()
    import networkx as nx

    return {key for component in nx.strongly_connected_components(graph.nx)
            if len(component) > 1 or graph.nx.has_edge(*component, *component)
            for key in component}


def _collapsible(graph: MigrationGraph, key: MigrationKey, apps: set[str], ctx: _Context,
                 kept: set[MigrationKey]) -> bool:
    """A migration of the drawn apps with nothing the picture marks or check warns about."""
    return (key[0] in apps and key in graph.nx and graph.is_project_node(key)
            and key not in graph.unresolved and key not in kept
            and _PLAIN_FLAGS.issuperset(_flags(graph, key, ctx)))


def collapsed_runs(graph: MigrationGraph, apps: list[str], collapse: int,
                   ctx: _Context | None = None,
                   keep: Collection[MigrationKey] = ()) -> list[CollapsedRun]:
    """The lines of ``collapse`` or more migrations that dot, Mermaid and the HTML page
    draw as one box: chains (:func:`squasher.graph.graph.linear_runs` over the picture's edges,
    replaced edges included) of migrations with one parent and one child in their own
    app, and no squash, replaced, merge, conflict, unreadable or unresolved mark, not on
    a circular dependency and not in ``keep``."""
    from squasher.graph.graph import linear_runs

    if collapse < 1:
        return []
    ctx = ctx or _Context(graph)
    wanted = set(apps)
    edges = [(a, b) for a, b, _ in _edges(graph, set(_selected_nodes(graph, apps)))]
    kept = _in_cycles(graph) | set(keep)
    runs = linear_runs(edges, lambda key: _collapsible(graph, key, wanted, ctx, kept), collapse)
    return [CollapsedRun(tuple(run)) for run in runs]


@dataclass
class _Picture:
    """What dot and Mermaid draw: per app its migrations and collapsed boxes, the edges
    between their ids, and every selected migration (for the legend)."""

    nodes: list[MigrationKey]
    by_app: dict[str, list[MigrationKey | CollapsedRun]]
    edges: list[tuple[str, str, str]]
    runs: list[CollapsedRun]


def _picture(graph: MigrationGraph, apps: list[str], ctx: _Context, collapse: int,
             keep: Collection[MigrationKey]) -> _Picture:
    nodes = _selected_nodes(graph, apps)
    runs = collapsed_runs(graph, apps, collapse, ctx, keep)
    run_of = {key: run for run in runs for key in run.members}
    box_at = {min(run.members): run for run in runs}  # where its first name would be
    by_app: dict[str, list[MigrationKey | CollapsedRun]] = {}
    for key in nodes:
        if key in box_at:
            by_app.setdefault(key[0], []).append(box_at[key])
        elif key not in run_of:
            by_app.setdefault(key[0], []).append(key)

    def drawn_id(key: MigrationKey) -> str:
        run = run_of.get(key)
        return run.id if run else node_id(key)

    edges: dict[tuple[str, str], str] = {}
    for a, b, kind in _edges(graph, set(nodes)):
        ends = (drawn_id(a), drawn_id(b))
        if ends[0] != ends[1]:  # an edge inside a collapsed line is not drawn
            edges.setdefault(ends, kind)
    return _Picture(nodes, by_app, [(a, b, kind) for (a, b), kind in edges.items()], runs)


def _legend_flags(graph: MigrationGraph, picture: _Picture, ctx: _Context) -> list[str]:
    present = {flag for key in picture.nodes for flag in _flags(graph, key, ctx)}
    if picture.runs:
        present.add("collapsed")
    return [flag for flag in LEGEND if flag in present]


def _dot_node_attrs(flags: list[str]) -> list[str]:
    attrs: list[str] = []
    styles: list[str] = []
    if "squash" in flags:
        attrs += ["shape=box3d", 'fillcolor="#d0e8ff"']
        styles.append("filled")
    if "replaced" in flags:
        styles.append("dashed")
        attrs.append('fontcolor="gray40"')
    if "merge" in flags:
        # a normal-sized box with a marker: a diamond around a migration name dwarfed its
        # neighbours and dominated the picture
        attrs += ['fillcolor="#fff4d0"', 'color="#b08800"']
        styles += ["rounded", "filled"]
    if "conflict" in flags:
        attrs += ['color="red"', "penwidth=2"]
    if "external" in flags or "missing" in flags:
        styles.append("dotted")
    if "missing" in flags:
        attrs.append('color="red"')
    if "collapsed" in flags:  # a double border: a stack of migrations
        attrs += ["peripheries=2", 'fillcolor="#e6f4ea"', 'color="#1e7e34"']
        styles.append("filled")
    if styles:
        attrs.append(f'style="{",".join(styles)}"')
    return attrs


def _dot_node(graph: MigrationGraph, item: MigrationKey | CollapsedRun, ctx: _Context) -> str:
    if isinstance(item, CollapsedRun):
        first, last = item.members[0][1], item.members[-1][1]
        attrs = [f'label="{item.label}"', *_dot_node_attrs(["collapsed"]),
                 f'tooltip="{item.app}: {len(item.members)} migrations in a line, {first} … {last}"']
        return f"    {item.id} [{', '.join(attrs)}];"
    flags = _flags(graph, item, ctx)
    mark = MERGE_MARK if "merge" in flags else ""
    attrs = [f'label="{mark}{item[1]}"', *_dot_node_attrs(flags)]
    attrs.append(f'tooltip="{item[0]}.{item[1]} ({", ".join(flags) or "migration"})"')
    return f"    {node_id(item)} [{', '.join(attrs)}];"


def render_dot(graph: MigrationGraph, apps: list[str], *, legend: bool = False,
               collapse: int = 0, keep: Collection[MigrationKey] = ()) -> str:
    ctx = _Context(graph)
    picture = _picture(graph, apps, ctx, collapse, keep)
    out = ["digraph migrations {", "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']
    for index, (app, items) in enumerate(sorted(picture.by_app.items())):
        out.append(f"  subgraph cluster_{index} {{")
        out.append(f'    label="{app}";')
        out.extend(_dot_node(graph, item, ctx) for item in items)
        out.append("  }")
    for a, b, kind in picture.edges:
        style = ' [style=dashed, color="gray60"]' if kind == "replaced" else ""
        out.append(f"  {a} -> {b}{style};")
    if legend:
        out.append('  subgraph cluster_legend {')
        out.append('    label="legend"; style="rounded"; color="gray60";')
        out.append('    legend_migration [label="migration"];')
        for flag in _legend_flags(graph, picture, ctx):
            mark = MERGE_MARK if flag == "merge" else ""
            attrs = [f'label="{mark}{LEGEND[flag]}"', *_dot_node_attrs([flag])]
            out.append(f"    legend_{flag} [{', '.join(attrs)}];")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def render_mermaid(graph: MigrationGraph, apps: list[str], *, legend: bool = False,
                   collapse: int = 0, keep: Collection[MigrationKey] = ()) -> str:
    ctx = _Context(graph)
    picture = _picture(graph, apps, ctx, collapse, keep)
    out = ["flowchart TB"]
    classes: dict[str, list[str]] = {}
    for app, items in sorted(picture.by_app.items()):
        out.append(f'  subgraph app_{node_id((app, ""))[2:-2]}["{app}"]')
        for key in items:
            if isinstance(key, CollapsedRun):
                out.append(f'    {key.id}["{key.label}"]')
                classes.setdefault("collapsed", []).append(key.id)
                continue
            flags = _flags(graph, key, ctx)
            label = key[1].replace('"', "'")
            nid = node_id(key)
            if "merge" in flags:  # rounded, the size of its neighbours, with the marker
                shape = f'("{MERGE_MARK}{label}")'
            elif "squash" in flags:
                shape = f'[["{label}"]]'
            elif "external" in flags or "missing" in flags:
                shape = f'(["{label}"])'
            else:
                shape = f'["{label}"]'
            out.append(f"    {nid}{shape}")
            for flag in ("squash", "replaced", "merge", "conflict", "external", "missing", "unparsable"):
                if flag in flags:
                    classes.setdefault(flag, []).append(nid)
        out.append("  end")
    for a, b, kind in picture.edges:
        arrow = "-.->" if kind == "replaced" else "-->"
        out.append(f"  {a} {arrow} {b}")
    if legend:
        # legend_* ids never collide with migration ids (n_<app>__<name>)
        out.append('  subgraph legend["legend"]')
        out.append('    legend_migration["migration"]')
        for flag in _legend_flags(graph, picture, ctx):
            text = LEGEND[flag]
            shape = {"merge": f'("{MERGE_MARK}{text}")', "squash": f'[["{text}"]]',
                     "external": f'(["{text}"])', "missing": f'(["{text}"])'}.get(flag, f'["{text}"]')
            out.append(f"    legend_{flag}{shape}")
            classes.setdefault(flag, []).append(f"legend_{flag}")
        out.append("  end")
    styles = {
        "squash": "fill:#d0e8ff,stroke:#1f6feb,stroke-width:2px",
        "replaced": "fill:#eeeeee,stroke:#999999,stroke-dasharray:4 3,color:#777777",
        "merge": "fill:#fff4d0,stroke:#b08800",
        "conflict": "stroke:#d00000,stroke-width:3px",
        "external": "fill:#f6f6f6,stroke:#aaaaaa,stroke-dasharray:2 2",
        "missing": "fill:#ffe0e0,stroke:#d00000,stroke-dasharray:2 2",
        "unparsable": "fill:#ffe0e0,stroke:#d00000",
        "collapsed": "fill:#e6f4ea,stroke:#1e7e34,stroke-width:3px",
    }
    for flag, ids in classes.items():
        out.append(f"  classDef {flag} {styles[flag]}")
        out.append(f"  class {','.join(ids)} {flag}")
    return "\n".join(out) + "\n"


def graph_json(graph: MigrationGraph, apps: list[str], root: Path | None = None) -> dict:
    """Nodes (app, name, id, path, line, flags, replaced_by, replaces) and edges (from, to, kind)."""
    ctx = _Context(graph)
    nodes = _selected_nodes(graph, apps)
    out_nodes = []
    for key in nodes:
        record = graph.records.get(key)
        by = graph.replaced_by(key)
        out_nodes.append({
            "id": node_id(key), "app": key[0], "name": key[1],
            "path": _rel(record.path, root) if record else None,
            "line": record.class_span.line if record and record.class_span else None,
            "flags": _flags(graph, key, ctx),
            "replaced_by": f"{by[0]}.{by[1]}" if by else None,
            "replaces": [f"{k[0]}.{k[1]}" for k in graph.flat_replaces(key)] if record and record.replaces else [],
        })
    edges = [{"from": node_id(a), "to": node_id(b), "kind": kind}
             for a, b, kind in _edges(graph, set(nodes))]
    return {
        "apps": {app: {"leaves": [k[1] for k in graph.leaves(app)],
                       "plan": [k[1] for k in graph.app_plan(app)]} for app in apps},
        "nodes": out_nodes, "edges": edges,
    }


def render_json(graph: MigrationGraph, apps: list[str], root: Path | None = None) -> str:
    """``graph --format json``: the graph document, with the CLI's ``version`` and ``command``."""
    from squasher.records import JSON_VERSION

    document = {"version": JSON_VERSION, "command": "graph", **graph_json(graph, apps, root)}
    return json.dumps(document, indent=2) + "\n"


def problems_json(problems: list[Problem], root: Path | None = None) -> list[dict]:
    """Check findings as plain dicts (``squasher check --format json``)."""
    out = []
    for p in problems:
        out.append({
            "code": p.code, "severity": p.severity.value, "message": p.message,
            "path": _rel(p.path, root), "line": p.span.line if p.span else None,
            "column": p.span.col if p.span else None,
            "end_line": p.span.end_line if p.span else None,
            "end_column": p.span.end_col if p.span else None,
            "migration": f"{p.key[0]}.{p.key[1]}" if p.key else None,
            "hint": p.hint,
            "related": [{"path": _rel(path, root), "line": span.line, "message": msg}
                        for path, span, msg in p.related],
        })
    return out


def render_problem(problem: Problem, root: Path | None = None) -> str:
    """``path:line: SQ001 message (hint: ...)`` — one line per problem."""
    where = "<project>"
    if problem.path is not None:
        where = f"{_rel(problem.path, root)}:{problem.span.line if problem.span else 1}"
    text = f"{where}: {problem.code} {problem.severity.value}: {problem.message}"
    if problem.hint:
        text += f" (hint: {problem.hint})"
    return text


# -- CI formats of `check` -----------------------------------------------------------------

_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _sarif_region(span: Span | None) -> dict[str, int]:
    """SARIF regions count lines and columns from 1 (spans: columns from 0, end exclusive)."""
    if span is None:
        return {"startLine": 1}
    region = {"startLine": span.line, "startColumn": span.col + 1}
    if span.end_line is not None:
        region["endLine"] = span.end_line
        if span.end_col is not None:
            region["endColumn"] = span.end_col + 1
    return region


def _sarif_location(path: Path | None, span: Span | None, root: Path | None,
                    message: str | None = None) -> dict:
    location: dict = {"physicalLocation": {
        "artifactLocation": {"uri": (_rel(path, root) or "").replace("\\", "/"),
                             "uriBaseId": "%SRCROOT%"},
        "region": _sarif_region(span),
    }}
    if message:
        location["message"] = {"text": message}
    return location


def problems_sarif(problems: list[Problem], root: Path | None, codes: dict[str, tuple[str, str]],
                   version: str) -> dict:
    """Check findings as a SARIF 2.1.0 log (``check --format sarif``, for GitHub code
    scanning): one rule per check code, paths relative to the project root."""
    rule_ids = sorted(codes)
    results = []
    for p in problems:
        text = p.message + (f" (hint: {p.hint})" if p.hint else "")
        result: dict = {
            "ruleId": p.code,
            "level": _SARIF_LEVEL.get(p.severity.value, "warning"),
            "message": {"text": text},
        }
        if p.code in codes:
            result["ruleIndex"] = rule_ids.index(p.code)
        if p.path is not None:
            result["locations"] = [_sarif_location(p.path, p.span, root)]
        if p.related:
            result["relatedLocations"] = [
                {"id": i, **_sarif_location(path, span, root, msg)}
                for i, (path, span, msg) in enumerate(p.related)]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "squasher", "version": version,
                "rules": [{"id": code, "name": codes[code][0],
                           "shortDescription": {"text": codes[code][1]}} for code in rule_ids],
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}} if root else {},
            "results": results,
        }],
    }


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def problems_github(problems: list[Problem], root: Path | None) -> list[str]:
    """Check findings as GitHub Actions workflow commands (``::error file=…,line=…::…``),
    which annotate the pull request's files (``check --format github``)."""
    lines = []
    for p in problems:
        props = []
        if p.path is not None:
            props.append(f"file={_github_escape(_rel(p.path, root) or '', property_value=True)}")
            if p.span is not None:
                props += [f"line={p.span.line}", f"col={p.span.col + 1}"]
                if p.span.end_line is not None:
                    props.append(f"endLine={p.span.end_line}")
        props.append(f"title={_github_escape(p.code, property_value=True)}")
        text = p.message + (f" (hint: {p.hint})" if p.hint else "")
        command = _GITHUB_COMMAND.get(p.severity.value, "warning")
        lines.append(f"::{command} {','.join(props)}::{_github_escape(text)}")
    return lines
