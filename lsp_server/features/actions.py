"""Code actions, planned in library terms (converted to LSP in ``lsp_server.convert``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from lsp_server.features.locate import dotted, resolve_reference
from lsp_server.index import IndexedProject, WorkspaceIndex
from squasher.errors import MigrationParseError
from squasher.fileops import ChangeSet
from squasher.records import MigrationRecord, Problem, Severity, Span


@dataclass
class PlannedAction:
    title: str
    kind: str  # an LSP CodeActionKind value
    codes: tuple[str, ...] = ()  # diagnostics this action fixes
    changes: ChangeSet | None = None
    replace: tuple[Path, Span, str] | None = None
    command: tuple[str, dict[str, Any]] | None = None
    #: the same action as a server command, for clients that cannot create/rename files
    fallback: tuple[str, dict[str, Any]] | None = None
    preferred: bool = False
    errors: list[str] = field(default_factory=list)


def _overlaps(span: Span | None, first: int, last: int) -> bool:
    if span is None:
        return False
    end = span.end_line if span.end_line is not None else span.line
    return span.line <= last and end >= first


def plan_actions(
    index: WorkspaceIndex, state: IndexedProject, record: MigrationRecord,
    first_line: int, last_line: int, django: bool,
    read_text: Callable[[Path], str] | None = None,
) -> list[PlannedAction]:
    """Every action available for ``record`` on lines ``first_line..last_line`` (1-based).

    ``read_text``: source hook for the files the actions rewrite (the editor's unsaved
    buffers); default: the files on disk.
    """
    problems = [
        p for p in index.problems_by_path(state).get(record.path, [])
        if _overlaps(p.span, first_line, last_line)
    ]
    out: list[PlannedAction] = []
    codes = {p.code for p in problems}
    if "SQ001" in codes:
        out.extend(_conflict_actions(state, record, read_text, index.buffers))
    for problem in problems:
        if problem.code == "SQ004":
            action = _point_at_squash(index, state, record, problem)
            if action is not None:
                out.append(action)
    if "SQ201" in codes and state.against:
        out.append(PlannedAction(
            title=f"Rebase {record.app_label}'s new migrations onto {state.against}",
            kind="quickfix", codes=("SQ201",),
            command=("squasher.rebaseOnto", {"app": record.app_label, "rev": state.against}),
        ))
    if django and "SQ100" in codes:
        s = index.suggestion_at(state, record.key)
        if s is not None:
            out.append(PlannedAction(
                title=f"Squash {s.label}", kind="refactor.rewrite", codes=("SQ100",),
                command=("squasher.squash", {"app": s.app, "start": s.first[1], "end": s.last[1]}),
            ))
    if django and _originals_present(state, record) and _overlaps(record.class_span, first_line, last_line):
        out.append(PlannedAction(
            title="Finalize squash", kind="refactor.rewrite", codes=("SQ005",),
            command=("squasher.finalize", {"app": record.app_label, "squash": record.name}),
        ))
    return out


def _originals_present(state: IndexedProject, record: MigrationRecord) -> bool:
    if not record.is_squash:
        return False
    return any(ref.key in state.graph.records for ref in record.replaces if ref.key)


def require_parsable_buffers(state: IndexedProject, app: str, buffers: Collection[Path]) -> None:
    """Refuse to plan from half-typed editor buffers.

    A buffer that does not parse has lost its dependencies in the graph, so a merge or
    rebase planned now would be built from the broken text (a wrong leaf, a wrong branch).
    The affected buffers are ``app``'s migrations and everything they depend on; raises
    :class:`MigrationParseError` naming the first one's file and line.
    """
    graph = state.graph
    records = state.project.records_by_path
    for path in sorted(buffers):
        record = records.get(path)
        if record is None or not any(p.severity is Severity.ERROR for p in record.parse_problems):
            continue
        key = record.key
        if key[0] != app and not (key in graph.full and any(
                k[0] == app for k in nx.descendants(graph.full, key))):
            continue  # broken, but nothing the plan reads
        errors = [p for p in record.parse_problems if p.severity is Severity.ERROR]
        if errors:
            raise MigrationParseError(
                f"{key[0]}.{key[1]} does not parse in the editor ({errors[0].message}); "
                "nothing was planned from it", path=record.path,
                line=errors[0].span.line if errors[0].span else None,
                hint="finish the edit (or undo it) and run the command again")


def plan_merge_changes(state: IndexedProject, app: str, buffers: Collection[Path] = ()) -> ChangeSet:
    """The merge migration for ``app``; refused while an affected buffer does not parse."""
    from squasher.lifecycle.merge import plan_merge

    require_parsable_buffers(state, app, buffers)
    return plan_merge(state.project, apps=[app]).changes


def plan_rebase_changes(state: IndexedProject, app: str, onto: str | None,
                        read_text: Callable[[Path], str] | None = None,
                        buffers: Collection[Path] = ()) -> ChangeSet:
    """The rebase of ``app``; refused while an affected buffer does not parse."""
    from squasher.lifecycle.rebase import plan_rebase

    require_parsable_buffers(state, app, buffers)
    return plan_rebase(state.project, app, onto=onto, read_text=read_text).changes


def plan_rebase_onto_changes(state: IndexedProject, app: str, rev: str,
                             buffers: Collection[Path] = ()) -> ChangeSet:
    """``merge --rebase --onto REV`` for ``app`` (planned from the files on disk: REV's side
    is compared with them); refused while an affected buffer does not parse."""
    from squasher.errors import UsageError
    from squasher.lifecycle.rebase import plan_rebase_onto_revision

    require_parsable_buffers(state, app, buffers)
    plans = plan_rebase_onto_revision(state.project, rev, [app])
    if not plans:
        raise UsageError(f"nothing to rebase: merging {rev} gives {app} no second leaf")
    return plans[0].changes


def _conflict_actions(state: IndexedProject, record: MigrationRecord,
                      read_text: Callable[[Path], str] | None = None,
                      buffers: Collection[Path] = ()) -> list[PlannedAction]:
    out: list[PlannedAction] = []
    app = record.app_label
    try:
        out.append(PlannedAction(
            title="Create merge migration", kind="quickfix", codes=("SQ001",),
            changes=plan_merge_changes(state, app, buffers), preferred=True,
            fallback=("squasher.createMerge", {"app": app}),
        ))
    except Exception as exc:
        out.append(PlannedAction(title="Create merge migration", kind="quickfix",
                                 errors=[f"merge: {exc}"]))
    for leaf in state.graph.leaves(app):
        if leaf == record.key:
            continue
        title = f"Rebase {record.name} onto {leaf[1]}"
        try:
            out.append(PlannedAction(
                title=title, kind="quickfix", codes=("SQ001",),
                changes=plan_rebase_changes(state, app, leaf[1], read_text, buffers),
                fallback=("squasher.rebase", {"app": app, "onto": leaf[1]}),
            ))
        except Exception as exc:
            out.append(PlannedAction(title=title, kind="quickfix", errors=[f"rebase: {exc}"]))
    return out


_STRING = re.compile(r"""(['"])(?P<name>[^'"]*)\1""")


def _point_at_squash(
    index: WorkspaceIndex, state: IndexedProject, record: MigrationRecord, problem: Problem,
) -> PlannedAction | None:
    graph = state.graph
    for ref in (*record.dependencies, *record.run_before):
        if problem.span is not None and not _overlaps(ref.span, problem.span.line, problem.span.line):
            continue
        target = resolve_reference(graph, ref)
        if target is None:
            continue
        squash = graph.replaced_by(target)
        if squash is None:
            continue
        text = _span_text(index.lines_of(record.path), ref.span)
        if text is None:
            continue
        new_text = _replace_name(text, target[1], squash[1])
        if new_text is None:
            continue
        return PlannedAction(
            title=f"Point at {dotted(squash)}", kind="quickfix", codes=("SQ004",),
            replace=(record.path, ref.span, new_text), preferred=True,
        )
    return None


def _replace_name(text: str, old: str, new: str) -> str | None:
    matches = [m for m in _STRING.finditer(text) if m.group("name") == old]
    if not matches:
        return None
    m = matches[-1]
    quote = m.group(1)
    return text[: m.start()] + f"{quote}{new}{quote}" + text[m.end():]


def _span_text(lines: list[str] | None, span: Span) -> str | None:
    """The source text of ``span`` (columns are UTF-8 byte offsets)."""
    if lines is None:
        return None
    first = span.line - 1
    last = (span.end_line or span.line) - 1
    if not 0 <= first <= last < len(lines):
        return None
    chunk = [line.encode("utf-8", "surrogatepass") for line in lines[first:last + 1]]
    end_col = span.end_col if span.end_col is not None else len(chunk[-1])
    if first == last:
        return chunk[0][span.col:end_col].decode("utf-8")
    parts = [chunk[0][span.col:], *chunk[1:-1], chunk[-1][:end_col]]
    return b"\n".join(parts).decode("utf-8")
