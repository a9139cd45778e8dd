"""``squasher finalize``: the second half of a squash, done right.

For each squash of the app (or the ones named):

1. the replaced migration files are deleted (replaced squashes included, transitively);
2. every reference to a replaced migration anywhere in the project (``dependencies``,
   ``run_before``, ``replaces`` of any app) is rewritten to the squash, with libcst;
3. ``replaces`` is removed from the squash;
4. the squash's own ``dependencies`` are completed from its originals: every dependency of
   a replaced migration that lies outside the squash and is not already implied is added,
   and so is every ``swappable_dependency(settings.X)`` and every ``run_before`` entry
   (pointing outside the squash) of an original that the squash lacks (libcst edits; a
   warning says what could not be added when the squash's lists are not literals).
   Django's ``squashmigrations`` keeps only the first migration's in-app dependencies, so a
   squash that starts inside one branch of a merge loses its edge to the other branch;
   while ``replaces`` is there the loader re-points the edge, after a manual finalize the
   other branch becomes a second leaf. Here it cannot: the plan is checked on the graph
   it would produce (:func:`squasher.lifecycle.references.graph_after`) and refused if the app gets
   more leaves, a cycle, or a dangling reference.

With ``databases`` (and a settings module) the squash must be recorded as applied on every
named database, else nothing is changed. When only its replaced migrations are recorded the
refusal says to run ``migrate`` once first: Django records the squash as applied only while
``replaces`` is still there (``MigrationExecutor.check_replacements``), so finalizing then
would make it run the squash again.

Everything is staged in one :class:`~squasher.fileops.ChangeSet`: applied together, or on
any failure not at all. Static, except for the ``databases`` check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.errors import GraphError, SquasherError, UsageError
from squasher.fileops import ChangeSet
from squasher.lifecycle.references import (
    RewriteResult,
    graph_after,
    new_missing_nodes,
    rewrite_project_references,
    rewrite_source,
)
from squasher.records import MigrationKey
from squasher.runtime.django_setup import applied_migrations

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph
    from squasher.graph.project import Project

__all__ = ["FinalizePlan", "FinalizeError", "NotAppliedError", "plan_finalize"]


class FinalizeError(UsageError):
    """The squash cannot be finalized as asked (not a squash, half-finalized without --finish...)."""


class NotAppliedError(SquasherError):
    """``--database``: the squash is not applied on a database; finalizing would re-run it."""

    exit_code = 1


@dataclass
class FinalizePlan:
    changes: ChangeSet
    app: str
    finalized: list[MigrationKey] = field(default_factory=list)
    deleted: dict[MigrationKey, list[MigrationKey]] = field(default_factory=dict)
    missing: dict[MigrationKey, list[MigrationKey]] = field(default_factory=dict)
    rewritten: list[Path] = field(default_factory=list)
    added_dependencies: dict[MigrationKey, list[MigrationKey]] = field(default_factory=dict)
    added_run_before: dict[MigrationKey, list[MigrationKey]] = field(default_factory=dict)
    added_swappable: dict[MigrationKey, list[str]] = field(default_factory=dict)
    run_before_from: dict[tuple[MigrationKey, MigrationKey], str] = field(default_factory=dict)
    swappable_from: dict[tuple[MigrationKey, str], str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    message: str | None = None  # set when there is nothing to do

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        return {
            "changes": self.changes.to_json(root),
            "app": self.app,
            "finalized": [k[1] for k in self.finalized],
            "deleted": {s[1]: [k[1] for k in ks] for s, ks in self.deleted.items()},
            "already_missing": {s[1]: [k[1] for k in ks] for s, ks in self.missing.items()},
            "added_dependencies": {s[1]: [f"{a}.{n}" for a, n in ks]
                                   for s, ks in self.added_dependencies.items()},
            "added_run_before": {s[1]: [f"{a}.{n}" for a, n in ks]
                                 for s, ks in self.added_run_before.items()},
            "added_swappable_dependencies": {s[1]: [f"settings.{n}" for n in ns]
                                             for s, ns in self.added_swappable.items()},
            "rewritten": [str(p) for p in self.rewritten],
            "warnings": self.warnings, "notes": self.notes, "message": self.message,
        }


def _closure(graph: MigrationGraph, squash: MigrationKey) -> list[MigrationKey]:
    """Every key ``squash`` replaces, directly or through replaced squashes (order kept)."""
    out: list[MigrationKey] = []
    seen = {squash}
    stack = [squash]
    while stack:
        record = graph.records.get(stack.pop())
        for ref in record.replaces if record else ():
            key = ref.key
            if key is None or key in seen:
                continue
            seen.add(key)
            out.append(key)
            if key in graph.records and graph.records[key].replaces:
                stack.append(key)
    return out


def plan_finalize(project: Project, app: str, squashes: Sequence[str | MigrationKey] | None = None, *,
                  finish: bool = False, databases: Iterable[str] = (),
                  settings_module: str | None = None,
                  applied: dict[str, set[MigrationKey]] | None = None) -> FinalizePlan:
    """Plan finalizing ``squashes`` of ``app`` (default: every squash of the app).

    ``finish``: proceed although some replaced files are already gone. ``databases``:
    aliases whose applied migrations are checked (needs ``settings_module``); ``applied``
    gives them directly (tests).
    """
    graph = project.graph
    graph.require_app(app)
    plan = FinalizePlan(changes=ChangeSet(), app=app)
    keys = _requested_squashes(graph, app, squashes)
    if not keys:
        plan.message = f"nothing to finalize: {app} has no squashed migration (no `replaces`)"
        return plan
    _refuse_non_squashes(graph, app, keys)
    closures = _outermost_closures(graph, keys)
    mapping = _plan_deletions(graph, app, plan, closures, finish)
    if databases:
        _check_applied(project, plan, closures, list(databases), settings_module, applied)
    _stage_reference_rewrites(graph, plan, closures, mapping)
    for key, closure in closures.items():
        _stage_squash_edit(graph, plan, key, closure, mapping)
    _stage_deletions(graph, plan)
    _post_check(project, plan)
    return plan


def _requested_squashes(graph: MigrationGraph, app: str, squashes: Sequence[str | MigrationKey] | None
                        ) -> list[MigrationKey]:
    """The keys asked for (names or prefixes resolved), default every squash of ``app``;
    empty when the app has none (nothing to do)."""
    if squashes:
        return [s if isinstance(s, tuple) else graph.resolve(app, s) for s in squashes]
    return graph.squashes(app)


def _refuse_non_squashes(graph: MigrationGraph, app: str, keys: list[MigrationKey]) -> None:
    """Refuse a key that is not a squash, or a squash replaced by another squash that is not
    finalized with it (finalizing the inner one alone would leave the outer one naming
    deleted files)."""
    for key in keys:
        record = graph.records.get(key)
        if record is None or not record.replaces:
            raise FinalizeError(
                f"{key[0]}.{key[1]} is not a squash (it has no `replaces`); nothing to finalize",
                path=record.path if record else None,
                line=record.class_span.line if record and record.class_span else None,
                hint=f"squashes of {app}: {', '.join(k[1] for k in graph.squashes(app)) or 'none'}",
            )
        outer = graph.replaced_by(key)
        if outer is not None and outer not in keys:
            raise FinalizeError(
                f"{key[1]} is itself replaced by the squash {outer[1]}; finalize that one",
                path=record.path, hint=f"squasher finalize {outer[0]} {outer[1]}")


def _outermost_closures(graph: MigrationGraph, keys: list[MigrationKey]
                        ) -> dict[MigrationKey, list[MigrationKey]]:
    """``{squash: every key it replaces}`` for the squashes no other requested squash
    replaces: an inner squash is finalized (deleted) as part of its outer one."""
    closures = {k: _closure(graph, k) for k in keys}
    keys = [k for k in keys if not any(k in closures[o] for o in keys if o != k)]
    return {k: closures[k] for k in keys}


def _plan_deletions(graph: MigrationGraph, app: str, plan: FinalizePlan,
                    closures: dict[MigrationKey, list[MigrationKey]], finish: bool
                    ) -> dict[MigrationKey, MigrationKey | None]:
    """Fill ``plan.deleted`` (replaced files on disk) and ``plan.missing`` (already gone);
    a squash with some of each is half-finalized and refused unless ``finish``. Returns
    ``{replaced: its squash}``, how references are rewritten."""
    mapping: dict[MigrationKey, MigrationKey | None] = {}
    for key, closure in closures.items():
        for old in closure:
            mapping[old] = key
        present = [k for k in closure if k in graph.records]
        gone = [k for k in closure if k not in graph.records]
        plan.deleted[key] = present
        if gone:
            plan.missing[key] = gone
            if present and not finish:
                record = graph.records[key]
                raise FinalizeError(
                    f"{key[1]} is half-finalized: {len(gone)} of {len(closure)} replaced migrations are "
                    f"already gone ({', '.join(k[1] for k in gone)}); still on disk: "
                    f"{', '.join(k[1] for k in present)}",
                    path=record.path,
                    line=record.replaces_span.line if record.replaces_span else None,
                    hint=f"run `squasher finalize {app} {key[1]} --finish` to delete the rest and finish",
                )
    return mapping


def _stage_reference_rewrites(graph: MigrationGraph, plan: FinalizePlan,
                              closures: dict[MigrationKey, list[MigrationKey]],
                              mapping: dict[MigrationKey, MigrationKey | None]) -> None:
    """Every other file (any app) naming a replaced migration now names its squash."""
    squash_paths = {graph.records[k].path for k in closures}
    deleted_paths = [graph.records[k].path for ks in plan.deleted.values() for k in ks]
    others = rewrite_project_references(
        graph.records.values(), mapping, exclude=[*squash_paths, *deleted_paths])
    for path, result in others.items():
        plan.changes.modify(path, result.text)
        plan.rewritten.append(path)


def _stage_squash_edit(graph: MigrationGraph, plan: FinalizePlan, key: MigrationKey,
                       closure: list[MigrationKey],
                       mapping: dict[MigrationKey, MigrationKey | None]) -> None:
    """The squash's own file: ``replaces`` removed (refused when it is not a plain class
    attribute), references to replaced migrations rewritten (to itself: dropped), and what
    it must carry from its originals added (:func:`_needed_dependencies`)."""
    record = graph.records[key]
    own = {old: (None if new == key else new) for old, new in mapping.items()}
    needed = _needed_dependencies(graph, key, closure, mapping, plan)
    text = Path(record.path).read_text("utf-8")
    result = rewrite_source(text, rename=own, add_dependencies=needed.dependencies,
                            add_run_before=needed.run_before, add_swappable=needed.swappable,
                            drop_attributes=["replaces"], path=record.path)
    if "replaces" not in result.dropped_attributes:
        raise FinalizeError(
            f"cannot remove `replaces` from {key[1]}: it is not a plain class attribute",
            path=record.path, line=record.replaces_span.line if record.replaces_span else None,
            hint="write `replaces = [...]` directly in the Migration class")
    _record_additions(plan, key, needed, result)
    plan.changes.modify(record.path, result.text)
    plan.finalized.append(key)


def _record_additions(plan: FinalizePlan, key: MigrationKey, needed: _Needed,
                      result: RewriteResult) -> None:
    """Say in ``plan`` what the squash gained (and from which original), and warn about what
    it needs but could not be given (its lists are not literals): added by hand."""
    if result.added:
        plan.added_dependencies[key] = list(result.added)
    if result.added_run_before:
        plan.added_run_before[key] = list(result.added_run_before)
    for target, origin in needed.run_before_from.items():
        plan.run_before_from[key, target] = origin
    for setting, origin in needed.swappable_from.items():
        plan.swappable_from[key, setting] = origin
    missing_rb = [k for k in needed.run_before if k not in result.added_run_before]
    for target in missing_rb:
        plan.warnings.append(
            f"{needed.run_before_from[target]} has run_before {target[0]}.{target[1]}, which "
            f"{key[1]} lacks and which could not be added (its `run_before` is not a literal "
            "list); add it by hand")
    if result.added_swappable:
        plan.added_swappable[key] = list(result.added_swappable)
    else:
        for setting in needed.swappable:
            plan.warnings.append(
                f"{needed.swappable_from[setting]} depends on swappable_dependency(settings."
                f"{setting}), which {key[1]} lacks and which could not be added (its "
                "`dependencies` is not a literal list, or `settings`/`migrations` name "
                "something else there); add it by hand")


def _stage_deletions(graph: MigrationGraph, plan: FinalizePlan) -> None:
    """The replaced files still on disk, deleted."""
    for paths in plan.deleted.values():
        for k in paths:
            plan.changes.delete(graph.records[k].path)


@dataclass
class _Needed:
    """What the squash must gain from its originals once ``replaces`` is gone."""

    dependencies: list[MigrationKey] = field(default_factory=list)
    run_before: list[MigrationKey] = field(default_factory=list)
    swappable: list[str] = field(default_factory=list)  # settings names
    run_before_from: dict[MigrationKey, str] = field(default_factory=dict)  # -> original's name
    swappable_from: dict[str, str] = field(default_factory=dict)


def _needed_dependencies(graph: MigrationGraph, squash: MigrationKey, closure: list[MigrationKey],
                         mapping: dict[MigrationKey, MigrationKey | None],
                         plan: FinalizePlan) -> _Needed:
    """Dependencies, ``run_before`` entries and swappable dependencies of the originals the
    squash must carry once ``replaces`` is gone (while it is there, Django applies them to
    the squash through the replaced nodes)."""
    inside = set(closure) | {squash}
    record = graph.records[squash]
    existing: set[MigrationKey] = set()
    for ref in record.dependencies:
        if ref.key is None:
            continue
        target = mapping.get(ref.key, ref.key) or ref.key
        if target != squash:
            existing.add(target)
    implied: set[MigrationKey] = set(existing)
    for key in existing:
        if key in graph.nx:
            implied |= graph.ancestors(key)
    out = _Needed()
    needed = out.dependencies
    swappables = {ref.swappable_setting for ref in record.dependencies if ref.swappable_setting}
    run_before = {mapping.get(r.key, r.key) or r.key for r in record.run_before if r.key is not None}
    for old in closure:
        original = graph.records.get(old)
        if original is None or original.replaces:
            continue
        for ref in original.dependencies:
            if ref.swappable_setting:
                if ref.swappable_setting not in swappables:
                    swappables.add(ref.swappable_setting)
                    out.swappable.append(ref.swappable_setting)
                    out.swappable_from[ref.swappable_setting] = old[1]
                continue
            if ref.key is None or ref.key in inside:
                continue
            target = mapping.get(ref.key, ref.key) or ref.key
            if target in inside or target in implied or target in needed:
                continue
            needed.append(target)
        for ref in original.run_before:
            if ref.key is None or ref.key in inside:
                continue
            target = mapping.get(ref.key, ref.key) or ref.key
            if target in inside or target in run_before:
                continue
            run_before.add(target)
            out.run_before.append(target)
            out.run_before_from[target] = old[1]
    # Keep only the ones not implied by another needed dependency (in-app merge parents).
    out.dependencies = [k for k in needed
                        if not any(k != other and k in graph.ancestors(other) for other in needed)]
    return out


def _check_applied(project: Project, plan: FinalizePlan, closures: dict[MigrationKey, list[MigrationKey]],
                   databases: list[str], settings_module: str | None,
                   applied: dict[str, set[MigrationKey]] | None) -> None:
    if applied is None:
        if not settings_module:
            raise UsageError("--database needs Django settings",
                             hint="pass --settings MODULE or set DJANGO_SETTINGS_MODULE")
        applied = {alias: applied_migrations(settings_module, project.root, alias) for alias in databases}
    graph = project.graph
    for alias in databases:
        rows = applied.get(alias, set())
        for key, closure in closures.items():
            originals = [k for k in closure if not (k in graph.records and graph.records[k].replaces)]
            if key in rows:
                continue
            done = [k for k in originals if k in rows]
            record = graph.records[key]
            if originals and len(done) == len(originals):
                # Django records the squash itself only while `replaces` is there (the
                # executor's check_replacements, at every `migrate`): after finalizing it
                # would see an unapplied migration and run it again.
                raise NotAppliedError(
                    f"every migration {key[1]} replaces is applied on database {alias!r}, but the "
                    "squash itself is not recorded yet; after finalizing Django would run it again",
                    path=record.path,
                    hint=f"run `python manage.py migrate --database {alias}` once with the squash as it "
                         "is now (Django then records it as applied), then finalize",
                )
            raise NotAppliedError(
                f"{key[1]} is not applied on database {alias!r} ({len(done)} of {len(originals)} "
                "replaced migrations are); finalizing would make Django run it again there",
                path=record.path,
                hint=f"run `python manage.py migrate {key[0]} --database {alias}` first, then finalize",
            )
        plan.notes.append(
            f"{alias}: rows of the deleted migrations stay in django_migrations; "
            f"`python manage.py migrate --prune --database {alias}` removes them after deploying")


def _post_check(project: Project, plan: FinalizePlan) -> None:
    graph = project.graph
    after = graph_after(project, plan.changes)
    app = plan.app
    before_leaves = graph.leaves(app)
    leaves = after.leaves(app)
    if len(leaves) > len(before_leaves):
        raise GraphError(
            f"finalizing would split {app} into leaves {', '.join(k[1] for k in leaves)}; nothing was changed",
            hint="please report this with the migration files involved")
    cycles = after.cycles()
    if len(cycles) > len(graph.cycles()):
        raise GraphError(
            "finalizing would create a circular dependency: "
            + " -> ".join(f"{a}.{n}" for a, n in cycles[0]) + "; nothing was changed")
    missing = sorted(new_missing_nodes(graph, after))
    if missing:
        raise GraphError(
            f"finalizing would leave a reference to {missing[0][0]}.{missing[0][1]}, which is deleted; "
            "nothing was changed", hint="please report this with the migration files involved")
