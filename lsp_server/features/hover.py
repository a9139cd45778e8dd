"""Hover texts (Markdown)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from lsp_server.features.locate import Hit, dotted, resolve_reference
from squasher.records import MigrationKey, MigrationRecord, OperationSummary

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph

_T = TypeVar("_T")

MAX_LINES = 25


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


#: Parents / dependents listed in a hover; the rest are counted ("… and N more").
MAX_KEYS = 20


def _keys(keys: list[MigrationKey]) -> str:
    if not keys:
        return "none"
    text = ", ".join(f"`{dotted(k)}`" for k in keys[:MAX_KEYS])
    return text + (f", … and {len(keys) - MAX_KEYS} more" if len(keys) > MAX_KEYS else "")


def _safe(fn: Callable[..., _T], *args: object) -> _T | None:
    try:
        return fn(*args)
    except Exception:
        return None


def describe_target(graph: MigrationGraph, root: Path, key: MigrationKey) -> str:
    """A dependency / replaces / run_before target: file, operations, neighbours."""
    record: MigrationRecord | None = graph.records.get(key)
    node = graph.full.nodes.get(key) if key in graph.full else None
    lines = [f"**{dotted(key)}**"]
    if record is None:
        if node is not None and node.get("external"):
            lines.append("external app (not in this project)")
        else:
            lines.append("⚠ not found on disk")
        return "\n\n".join(lines)
    lines.append(f"`{_rel(record.path, root)}`")
    if record.operations:
        ops = [f"- {op.describe(record.app_label)}" for op in record.operations[:MAX_LINES]]
        if len(record.operations) > MAX_LINES:
            ops.append(f"- … {len(record.operations) - MAX_LINES} more")
        lines.append("Operations:\n" + "\n".join(ops))
    else:
        lines.append("Operations: none")
    lines.extend(_neighbours(graph, key))
    return "\n\n".join(lines)


def _neighbours(graph: MigrationGraph, key: MigrationKey) -> list[str]:
    out = []
    in_effective = key in graph.nx
    if in_effective:
        out.append(f"Parents: {_keys(graph.parents(key))}")
        out.append(f"Dependents: {_keys(graph.children(key))}")
    else:
        out.append(f"Parents: {_keys(sorted(graph.full.predecessors(key)))}")
        out.append(f"Dependents: {_keys(sorted(graph.full.successors(key)))}")
    squash = _safe(graph.replaced_by, key)
    if squash:
        out.append(f"Replaced by squash `{dotted(squash)}`")
    return out


def describe_place(graph: MigrationGraph, root: Path, record: MigrationRecord) -> str:
    """Hover on ``class Migration``: the migration's place in the graph."""
    key = record.key
    roles = []
    leaves = _safe(graph.leaves, key[0]) or []
    if key in leaves:
        roles.append("leaf" + (f" (one of {len(leaves)} leaves: conflict)" if len(leaves) > 1 else ""))
    if key in graph.nx and len(graph.parents(key)) == 0:
        roles.append("root")
    same_app_parents = [p for p in (graph.parents(key) if key in graph.nx else []) if p[0] == key[0]]
    if len(same_app_parents) > 1:
        roles.append("merge")
    if record.is_squash:
        roles.append(f"squash (replaces {len(record.replaces)})")
    squash = _safe(graph.replaced_by, key)
    if squash:
        roles.append(f"replaced by `{dotted(squash)}`")
    lines = [f"**{dotted(key)}**" + (f" — {', '.join(roles)}" if roles else "")]
    lines.extend(_neighbours(graph, key))
    lines.append(f"Operations: {len(record.operations)}")
    return "\n\n".join(lines)


#: Hover on an operation searches at most this many later migrations (nearest first), so a
#: root migration that the whole project depends on answers as fast as a leaf.
MAX_SCANNED = 1000


def _later_keys(graph: MigrationGraph, key: MigrationKey, limit: int | None = None) -> tuple[list[MigrationKey], bool]:
    """Up to ``limit`` descendants of ``key``, nearest first: the app's own migrations by
    name (plan order for numbered migrations), then other apps'. Best-first over the
    effective graph, so only the part that is looked at is walked.

    Returns ``(keys, truncated)``; ``truncated`` when more descendants were left unvisited.
    """
    import heapq

    limit = MAX_SCANNED if limit is None else limit
    succ = graph.nx._succ if key in graph.nx else {}
    app = key[0]
    heap: list[tuple[bool, MigrationKey]] = []
    seen = {key}
    for child in succ.get(key, ()):
        seen.add(child)
        heapq.heappush(heap, (child[0] != app, child))
    out: list[MigrationKey] = []
    while heap:
        if len(out) >= limit:
            return out, True
        _, node = heapq.heappop(heap)
        out.append(node)
        for child in succ.get(node, ()):
            if child not in seen:
                seen.add(child)
                heapq.heappush(heap, (child[0] != app, child))
    return out, False


def later_operations(graph: MigrationGraph, record: MigrationRecord, op: OperationSummary) -> str:
    """Hover on an operation: later operations touching the same model (following renames).

    Bounded work: at most ``MAX_SCANNED`` later migrations are searched and ``MAX_LINES``
    results shown, with "… and N more" (and a note when the search stopped early).
    """
    app, model = record.app_label, op.model
    head = f"**{op.describe(app)}**"
    if not model:
        return head
    names = {model}
    found: list[str] = []
    extra = 0
    refs = {f"{app}.{model}"}

    def visit(key: MigrationKey, other: MigrationRecord, ops: tuple[OperationSummary, ...]) -> None:
        nonlocal extra
        own = other.app_label == app
        for later in ops:
            same_app = own and later.model in names
            if same_app or (later.references and not refs.isdisjoint(later.references)):
                if len(found) < MAX_LINES:
                    same_field = op.field and later.field == op.field and same_app
                    mark = " (same field)" if same_field else ""
                    found.append(f"- `{dotted(key)}`: {later.describe(other.app_label)}{mark}")
                else:
                    extra += 1
            if same_app and later.kind == "RenameModel" and later.new_name:
                names.add(later.new_name.lower())
                refs.add(f"{app}.{later.new_name.lower()}")

    index = record.operations.index(op) if op in record.operations else len(record.operations)
    visit(record.key, record, record.operations[index + 1:])
    later, truncated = _later_keys(graph, record.key)
    for key in later:
        other = graph.records.get(key)
        if other is not None:
            visit(key, other, other.operations)
    if not found:
        if truncated:
            return head + f"\n\nNo operation on this model in the next {len(later)} migrations (search stopped there)."
        return head + "\n\nNo later operation touches this model."
    shown = list(found)
    if extra:
        shown.append(f"- … and {extra} more")
    if truncated:
        shown.append(f"- … (searched the next {len(later)} migrations only)")
    title = ", ".join(f"`{app}.{n}`" for n in sorted(names, key=lambda n: n != model))
    return head + f"\n\nLater operations on {title}:\n" + "\n".join(shown)


def hover_text(graph: MigrationGraph, root: Path, record: MigrationRecord, hit: Hit) -> str | None:
    if hit.kind == "reference" and hit.reference is not None:
        key = resolve_reference(graph, hit.reference)
        if key is None:
            setting = hit.reference.swappable_setting
            return f"swappable dependency on `settings.{setting}` (unresolved)"
        return describe_target(graph, root, key)
    if hit.kind == "class":
        return describe_place(graph, root, record)
    if hit.kind == "operation" and hit.operation is not None:
        return later_operations(graph, record, hit.operation)
    return None
