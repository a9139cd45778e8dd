"""``squasher suggest``: ranges that are safe and worthwhile to squash.

For every app, the effective plan (replacements applied) is cut into maximal ranges that

* are graph intervals (what ``squasher squash APP FIRST LAST`` would take: every migration
  between them, no branch cut),
* create no circular dependency when replaced by one node (:func:`squasher.graph.cycles.squash_cycle`),
* leave the newest ``keep_last`` migrations of the app alone,
* do not cross an unfinalized squash (a node with ``replaces``: finalize it first), an
  unparsable migration, or one whose operations are computed at import time,
* hold at least two migrations.

Static by default (the language server calls it on every change): the operation count
comes from the parsed records, and ``estimated_operations`` is a static estimate of what
the optimizer leaves (models created and deleted or altered inside the range, fields
added then altered/removed; RunPython/RunSQL are barriers). With a settings module the
members are loaded through Django and ``optimized_operations`` is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from squasher.errors import SquasherError
from squasher.graph.cycles import squash_cycle
from squasher.records import MigrationKey, MigrationRecord, OperationSummary

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph
    from squasher.graph.project import Project


__all__ = ["Suggestion", "suggest", "estimate_operations"]

_BARRIER_KINDS = {"RunPython", "RunSQL", "SeparateDatabaseAndState"}
_MODEL_OPTION_KINDS = {
    "AlterModelOptions", "AlterModelTable", "AlterModelTableComment", "AlterUniqueTogether",
    "AlterIndexTogether", "AlterOrderWithRespectTo", "AlterModelManagers", "AddIndex",
    "RemoveIndex", "RenameIndex", "AddConstraint", "RemoveConstraint",
}
_FIELD_KINDS = {"AddField", "AlterField", "RemoveField", "RenameField"}


@dataclass
class Suggestion:
    app: str
    first: MigrationKey
    last: MigrationKey
    members: list[MigrationKey]
    migrations: int
    operations: int
    optimized_operations: int | None = None
    estimated_operations: int = 0
    notes: list[str] = field(default_factory=list)

    def command(self) -> str:
        return f"squasher squash {self.app} {self.first[1]} {self.last[1]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app, "first": self.first[1], "last": self.last[1],
            "members": [k[1] for k in self.members], "migrations": self.migrations,
            "operations": self.operations, "optimized_operations": self.optimized_operations,
            "estimated_operations": self.estimated_operations, "command": self.command(),
            "notes": self.notes,
        }


def estimate_operations(ops: Sequence[OperationSummary]) -> int:
    """Static estimate of the operation count after optimization (see module docstring)."""
    total = 0
    segment: list[OperationSummary] = []

    def flush() -> int:
        created: dict[str, bool] = {}  # model -> still present
        added: dict[tuple[str, str], bool] = {}
        count = 0
        for op in segment:
            model = op.model or ""
            if op.kind == "CreateModel" and model:
                created[model] = True
                count += 1
            elif op.kind == "DeleteModel" and created.get(model):
                created[model] = False
                count -= 1
                count -= sum(1 for (m, _), alive in added.items() if m == model and alive)
            elif op.kind == "RenameModel" and created.get(model) and op.new_name:
                created[op.new_name.lower()] = True
                created[model] = False
            elif created.get(model) and (op.kind in _FIELD_KINDS or op.kind in _MODEL_OPTION_KINDS):
                continue  # folded into the CreateModel
            elif op.kind == "AddField" and op.field:
                added[(model, op.field)] = True
                count += 1
            elif op.kind in {"AlterField", "RenameField"} and added.get((model, op.field or "")):
                if op.kind == "RenameField" and op.new_name:
                    added[(model, op.new_name)] = True
                    added[(model, op.field or "")] = False
                continue
            elif op.kind == "RemoveField" and added.get((model, op.field or "")):
                added[(model, op.field or "")] = False
                count -= 1
            else:
                count += 1
        return max(count, 0)

    for op in ops:
        if op.kind in _BARRIER_KINDS:
            total += flush()
            segment = []
            if not op.elidable:
                total += 1
        else:
            segment.append(op)
    total += flush()
    return total


def _barrier(graph: MigrationGraph, key: MigrationKey) -> str | None:
    record: MigrationRecord | None = graph.records.get(key)
    if record is None:
        return "no file"
    if record.replaces:
        return "unfinalized squash"
    if any(p.code == "SQ006" for p in record.parse_problems):
        return "unparsable"
    if record.dynamic_operations:
        return "operations computed at import time"
    return None


def _is_interval(graph: MigrationGraph, app: str, piece: list[MigrationKey]) -> bool:
    try:
        interval = graph.interval(app, piece[0], piece[-1])
    except SquasherError:
        return False
    return set(interval) == set(piece)


def _ranges(graph: MigrationGraph, app: str, plan: list[MigrationKey]) -> list[list[MigrationKey]]:
    """Greedy maximal ranges from the start of ``plan`` (no barrier inside)."""
    out: list[list[MigrationKey]] = []
    i = 0
    while i < len(plan):
        # "No cycle" is hereditary for consecutive pieces (see squasher.graph.cycles): binary
        # search the longest cycle-free piece from i, then shrink it to a graph interval.
        lo, hi = i, len(plan) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if squash_cycle(graph, app, plan[i:mid + 1]) is None:
                lo = mid
            else:
                hi = mid - 1
        best = i
        for j in range(lo, i, -1):
            if _is_interval(graph, app, plan[i:j + 1]):
                best = j
                break
        if best > i:
            out.append(plan[i:best + 1])
        i = best + 1
    return out


def suggest(project: Project, apps: Iterable[str] | None = None, *, keep_last: int = 0,
            settings_module: str | None = None,
            progress: Callable[[str], None] | None = None) -> list[Suggestion]:
    """Squash suggestions for ``apps`` (default all), static unless ``settings_module``.
    ``progress`` receives one line of text per step of the exact count (Django set-up,
    each range optimized)."""
    graph = project.graph
    wanted = list(apps) if apps else graph.apps()
    for app in wanted:
        graph.require_app(app)
    out: list[Suggestion] = []
    for app in wanted:
        plan = graph.app_plan(app)
        if keep_last > 0:
            plan = plan[:-keep_last] if keep_last < len(plan) else []
        segment: list[MigrationKey] = []
        segments: list[list[MigrationKey]] = []
        for key in plan:
            if _barrier(graph, key):
                segments.append(segment)
                segment = []
            else:
                segment.append(key)
        segments.append(segment)
        for seg in segments:
            if len(seg) < 2:
                continue
            for piece in _ranges(graph, app, seg):
                records = [graph.records[k] for k in piece]
                ops = [op for r in records for op in r.operations]
                out.append(Suggestion(
                    app=app, first=piece[0], last=piece[-1], members=piece,
                    migrations=len(piece), operations=len(ops),
                    estimated_operations=estimate_operations(ops),
                ))
    if settings_module and out:
        _optimized_counts(project, out, settings_module, progress or (lambda text: None))
    return out


def _optimized_counts(project: Project, suggestions: list[Suggestion], settings_module: str,
                      say: Callable[[str], None]) -> None:
    """Exact counts: load the members' operations through Django and optimize them."""
    from squasher.optimizer import optimize
    from squasher.runtime.django_project import migration_loader
    from squasher.runtime.django_setup import setup_django

    say(f"setting up Django ({settings_module}) for exact counts")
    setup_django(settings_module, project.root)
    say("loading the migrations through Django")
    loader = migration_loader(project.root)
    for number, s in enumerate(suggestions, 1):
        say(f"optimizing {s.app} {s.first[1]} .. {s.last[1]} ({s.operations} operations; "
            f"range {number} of {len(suggestions)})")
        try:
            operations = [op for k in s.members for op in loader.get_migration(*k).operations]
        except KeyError as error:
            s.notes.append(f"not loadable through Django: {error}")
            continue
        try:
            s.optimized_operations = len(optimize(operations, s.app).operations)
        except Exception as error:  # noqa: BLE001 - report and keep the static estimate
            s.notes.append(f"optimizer failed: {type(error).__name__}: {error}")
