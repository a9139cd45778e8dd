"""Code lens above ``class Migration``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsp_server.index import IndexedProject, WorkspaceIndex
from squasher.records import MigrationRecord


@dataclass(frozen=True)
class Lens:
    """One code lens: its title and, when clicking it runs something, the server command
    (``workspace/executeCommand``) with its one JSON-object argument. A lens without a
    command is informational (clients such as the VS Code extension do not show those)."""

    title: str
    command: str | None = None
    argument: dict[str, Any] | None = None


def lenses(index: WorkspaceIndex, state: IndexedProject, record: MigrationRecord,
           django_features: bool = False) -> list[Lens]:
    graph = state.graph
    key = record.key
    out = []
    if key in graph.nx:
        n = len(graph.children(key))
        out.append(Lens(f"{n} dependent" + ("" if n == 1 else "s")))
    s = index.suggestion_containing(state, key)
    if s is not None:
        title = f"squashable with {len(s.members) - 1} others ({s.label})"
        if django_features:  # the squasher.squash command imports the project: only when allowed
            out.append(Lens(title, "squasher.squash",
                            {"app": s.app, "start": s.first[1], "end": s.last[1]}))
        else:
            out.append(Lens(title))
    return out


def lens_titles(index: WorkspaceIndex, state: IndexedProject, record: MigrationRecord) -> list[str]:
    return [lens.title for lens in lenses(index, state, record)]
