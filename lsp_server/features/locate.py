"""What sits at a point of a migration file: a reference tuple, ``class Migration``, an operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsp_server.convert import span_contains
from lsp_server.index import header_span
from squasher.records import MigrationKey, MigrationRecord, OperationSummary, Reference, Span

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph


@dataclass(frozen=True)
class Hit:
    kind: str  # "reference" | "class" | "operation"
    reference: Reference | None = None
    attribute: str | None = None  # "dependencies" | "replaces" | "run_before"
    operation: OperationSummary | None = None


def item_at(record: MigrationRecord, line: int, col: int) -> Hit | None:
    """The innermost interesting thing at ``(line, byte col)`` (library convention)."""
    for attribute in ("dependencies", "replaces", "run_before"):
        for ref in getattr(record, attribute):
            if span_contains(ref.span, line, col):
                return Hit("reference", reference=ref, attribute=attribute)
    for op in record.operations:
        if span_contains(op.span, line, col):
            return Hit("operation", operation=op)
    span = record.class_span
    if span is not None and line == span.line:
        return Hit("class")
    return None


def hit_span(record: MigrationRecord, hit: Hit) -> Span | None:
    """What a hover on ``hit`` highlights: the reference, the operation, or the class line."""
    if hit.reference is not None:
        return hit.reference.span
    if hit.operation is not None:
        return hit.operation.span
    return header_span(record)


def resolve_reference(graph: MigrationGraph, ref: Reference) -> MigrationKey | None:
    """The node a reference points at (``__first__``/``__latest__`` resolved), if known."""
    key = ref.key
    if key is None:
        return None
    app, name = key
    if name in {"__first__", "__latest__"}:
        try:
            nodes = graph.roots(app) if name == "__first__" else graph.leaves(app)
        except Exception:
            nodes = []
        return nodes[0] if nodes else key
    return key


def dotted(key: MigrationKey) -> str:
    return f"{key[0]}.{key[1]}"
