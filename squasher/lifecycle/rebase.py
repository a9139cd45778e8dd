"""``squasher merge --rebase``: make an app's history linear instead of merging.

Every migration of the branch that is not the target is renumbered to follow the
target leaf (any number of migrations, branches with merges inside included), its
in-app dependencies on the common history are re-pointed at the target leaf, and every
reference to a renamed migration anywhere in the project (``dependencies``,
``run_before``, ``replaces`` of any app) is rewritten with libcst. With more than two
leaves the other branches are moved one after another, in the order stated in
:attr:`RebasePlan.order`.

Which branch moves: ``onto`` names the leaf to rebase onto; otherwise the branch whose
files were committed most recently in git moves (uncommitted files count as newest),
else the one with the newest file mtime; :attr:`RebasePlan.reason` says which rule chose.

With a settings module and a reachable database, a migration recorded as applied is
never renamed: the plan is refused with the ``migrate`` command that unapplies it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.errors import DatabaseUnavailableError, GraphError, SquasherError, UsageError
from squasher.fileops import ChangeSet
from squasher.lifecycle.merge import branches
from squasher.lifecycle.references import (
    graph_after,
    new_missing_nodes,
    rewrite_project_references,
    rewrite_source,
)
from squasher.records import MigrationKey, migration_number
from squasher.runtime.django_setup import applied_migrations

if TYPE_CHECKING:
    from squasher.graph.graph import MigrationGraph
    from squasher.graph.project import Project

__all__ = ["RebasePlan", "AppliedMigrationError", "plan_rebase", "plan_rebase_onto_revision",
           "renumbered"]


class AppliedMigrationError(SquasherError):
    """A migration the rebase would rename is recorded as applied in a database."""

    exit_code = 1


@dataclass
class RebasePlan:
    changes: ChangeSet
    app: str
    onto: MigrationKey
    moved: dict[MigrationKey, MigrationKey] = field(default_factory=dict)  # old -> new
    order: list[MigrationKey] = field(default_factory=list)  # leaves moved, in order
    reason: str = ""
    rewritten: list[Path] = field(default_factory=list)  # other files whose references changed
    notes: list[str] = field(default_factory=list)

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        return {
            "changes": self.changes.to_json(root),
            "app": self.app,
            "onto": self.onto[1],
            "moved": {old[1]: new[1] for old, new in self.moved.items()},
            "order": [k[1] for k in self.order],
            "reason": self.reason,
            "notes": self.notes,
        }


_NUMBER = re.compile(r"^(\d+)(_?)(.*)$")


def renumbered(name: str, number: int) -> str:
    """``0003_add_x`` with 5 -> ``0005_add_x`` (width kept, at least 4 digits)."""
    match = _NUMBER.match(name)
    if match is None:
        return f"{number:04d}_{name}"
    digits, sep, rest = match.groups()
    width = max(4, len(digits))
    return f"{number:0{width}d}{sep or '_'}{rest}" if rest else f"{number:0{width}d}"


def _git_time(path: Path) -> int | None:
    """Commit time of the last commit touching ``path``; ``None`` outside git or untracked."""
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%ct", "--", path.name],
            cwd=path.parent, capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return int(out.stdout.strip())


def _in_git(path: Path) -> bool:
    try:
        out = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=path.parent,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == "true"


def _choose_target(graph: MigrationGraph, app: str, leaves: Sequence[MigrationKey],
                   branch_map: dict[MigrationKey, list[MigrationKey]]) -> tuple[MigrationKey, str]:
    """The leaf that stays (the branch with the oldest files); the others move."""
    paths = {leaf: [Path(graph.records[k].path) for k in branch_map[leaf] if k in graph.records]
             for leaf in leaves}
    any_path = next((p for ps in paths.values() for p in ps), None)
    if any_path is not None and _in_git(any_path):
        newest: dict[MigrationKey, float] = {}
        untracked: dict[MigrationKey, bool] = {}
        for leaf, ps in paths.items():
            times = [_git_time(p) for p in ps]
            untracked[leaf] = any(t is None for t in times)
            newest[leaf] = max((t for t in times if t is not None), default=0)
        ranking = sorted(leaves, key=lambda k: (untracked[k], newest[k], k))
        first, second = ranking[0], ranking[1]
        if (untracked[first], newest[first]) != (untracked[second], newest[second]):
            moving = ", ".join(k[1] for k in ranking[1:])
            why = "has uncommitted files" if untracked[ranking[-1]] else "was committed most recently"
            return first, f"moving {moving}: newest in git ({ranking[-1][1]}'s branch {why}); " \
                          f"staying on {first[1]} (use --onto to choose)"
    mtimes = {leaf: max((p.stat().st_mtime for p in ps if p.exists()), default=0.0)
              for leaf, ps in paths.items()}
    ranking = sorted(leaves, key=lambda k: (mtimes[k], k))
    moving = ", ".join(k[1] for k in ranking[1:])
    return ranking[0], f"moving {moving}: newest files by modification time; " \
                       f"staying on {ranking[0][1]} (use --onto to choose)"


def plan_rebase(project: Project, app: str, *, onto: str | MigrationKey | None = None,
                settings_module: str | None = None, database: str | None = None,
                applied: set[MigrationKey] | None = None,
                read_text: Callable[[Path], str] | None = None) -> RebasePlan:
    """Plan renaming the non-target branch(es) of ``app`` so its history becomes linear.

    ``onto``: the leaf (name, prefix or key) to rebase onto. ``applied``: migrations
    recorded as applied (tests); otherwise read from ``database`` (alias, default
    ``default``) when ``settings_module`` is given and the database is reachable.
    Raises ``UsageError`` when the app has a single leaf (callers report "nothing to do").
    ``read_text``: how to read a migration's current text (the language server passes the
    editor's unsaved buffers); default: the file on disk.
    """
    read = read_text or (lambda p: Path(p).read_text("utf-8"))
    graph = project.graph
    leaves = _leaves_to_rebase(graph, app)
    branch_map = _movable_branches(graph, app, leaves)
    target, reason = _target_leaf(graph, app, leaves, branch_map, onto)
    plan = RebasePlan(changes=ChangeSet(), app=app, onto=target,
                      order=_move_order(leaves, target, branch_map), reason=reason)
    own_rewrites = _plan_moves(graph, plan)
    _refuse_applied_moves(project, plan, leaves, settings_module, database, applied)
    _stage_moved_files(graph, plan, own_rewrites, read)
    _stage_other_references(graph, plan, read)
    _post_check(project, plan)
    return plan


def _leaves_to_rebase(graph: MigrationGraph, app: str) -> list[MigrationKey]:
    """The leaves of ``app``; a single leaf is a ``UsageError`` (callers report "nothing to
    do")."""
    graph.require_app(app)
    leaves = graph.leaves(app)
    if len(leaves) < 2:
        raise UsageError(f"{app} has a single leaf ({leaves[0][1] if leaves else 'no migrations'}); nothing to rebase")
    return leaves


def _movable_branches(graph: MigrationGraph, app: str, leaves: list[MigrationKey]
                      ) -> dict[MigrationKey, list[MigrationKey]]:
    """Each leaf's branch (:func:`squasher.lifecycle.merge.branches`), refused when one of its
    migrations cannot be renumbered: no file, part of an unfinalized squash (its name is in
    a ``replaces``), or unreadable."""
    branch_map = branches(graph, app, leaves)
    for nodes in branch_map.values():
        for key in nodes:
            record = graph.records.get(key)
            if record is None:
                raise GraphError(f"{app}.{key[1]} has no file; cannot rebase",
                                 hint="run `squasher check` and fix dangling dependencies")
            if record.replaces or graph.replaced_by(key):
                raise UsageError(
                    f"{app}.{key[1]} is part of an unfinalized squash; cannot renumber it",
                    path=record.path, hint=f"finalize it first: squasher finalize {app}")
            bad = [p for p in record.parse_problems if p.code == "SQ006"]
            if bad:
                raise GraphError(f"{app}.{key[1]} cannot be parsed: {bad[0].message}",
                                 path=record.path,
                                 line=bad[0].span.line if bad[0].span else None,
                                 hint="fix the file first (see `squasher check`)")
    return branch_map


def _target_leaf(graph: MigrationGraph, app: str, leaves: list[MigrationKey],
                 branch_map: dict[MigrationKey, list[MigrationKey]],
                 onto: str | MigrationKey | None) -> tuple[MigrationKey, str]:
    """(the leaf that stays, why): ``onto`` when given (it must be a leaf), else the branch
    with the oldest files (:func:`_choose_target`)."""
    if onto is None:
        return _choose_target(graph, app, leaves, branch_map)
    target = onto if isinstance(onto, tuple) else graph.resolve(app, onto)
    if target not in leaves:
        raise UsageError(
            f"--onto {target[1]} is not a leaf of {app}",
            path=graph.records[target].path if target in graph.records else None,
            hint=f"leaves: {', '.join(k[1] for k in leaves)}")
    return target, f"staying on {target[1]} (--onto)"


def _move_order(leaves: list[MigrationKey], target: MigrationKey,
                branch_map: dict[MigrationKey, list[MigrationKey]]) -> list[MigrationKey]:
    """The other leaves in the stated order: the shorter branch moves first, then by leaf
    name."""
    others = [leaf for leaf in leaves if leaf != target]
    return sorted(others, key=lambda leaf: (len(branch_map[leaf]), leaf))


def _plan_moves(graph: MigrationGraph, plan: RebasePlan) -> dict[MigrationKey, dict[MigrationKey, MigrationKey]]:
    """Fill ``plan.moved``: each branch of ``plan.order``, in plan order, is numbered after
    what is settled so far (the target's in-app history, then the branches moved before it);
    a name another file has is skipped. Refused when a settled migration needs one that
    would move (it could not run after it). Returns, per moved migration, its written
    in-app dependencies on the common history and what each now follows instead."""
    import networkx as nx

    app, target = plan.app, plan.onto
    app_graph = graph.nx.subgraph(k for k in graph.nx if k[0] == app and graph.is_project_node(k))
    # Only in-app ancestry counts: a migration of the other branch that the target needs
    # through another app cannot be moved after it.
    settled = {target} | nx.ancestors(app_graph, target)
    after = target
    next_number = max(int(migration_number(k[1]) or 0) for k in settled) + 1
    own_rewrites: dict[MigrationKey, dict[MigrationKey, MigrationKey]] = {}
    taken = {k[1] for k in graph.records if k[0] == app}
    for leaf in plan.order:
        moving = [k for k in graph.forwards_plan(leaf)
                  if k[0] == app and k not in settled and graph.is_project_node(k)]
        for key in moving:
            needed = sorted(graph.descendants(key) & settled)
            if needed:
                path = _path_between(graph, key, needed[0])
                raise GraphError(
                    f"cannot rebase {leaf[1]}'s branch onto {target[1]}: {needed[0][1]} needs "
                    f"{key[1]} ({' -> '.join(f'{a}.{n}' for a, n in path)})",
                    path=graph.records[needed[0]].path,
                    hint=f"merge instead (squasher merge {app}) or rebase the other way with --onto",
                )
        moving_set = set(moving)
        for key in moving:
            new_name = renumbered(key[1], next_number)
            while new_name in taken and new_name != key[1]:
                next_number += 1
                new_name = renumbered(key[1], next_number)
            next_number += 1
            taken.add(new_name)
            plan.moved[key] = (app, new_name)
            written = {ref.key for ref in graph.records[key].dependencies if ref.key is not None}
            outside = {p: after for p in graph.parents(key)
                       if p[0] == app and p not in moving_set and p in written}
            own_rewrites[key] = outside
        settled |= moving_set
        after = plan.moved[moving[-1]]
    return own_rewrites


def _refuse_applied_moves(project: Project, plan: RebasePlan, leaves: list[MigrationKey],
                          settings_module: str | None, database: str | None,
                          applied: set[MigrationKey] | None) -> None:
    """A migration recorded as applied is never renamed (Django would apply it again): the
    refusal names the ``migrate`` command that unapplies it. ``applied`` is read from the
    database when not given and a settings module is."""
    graph, app = project.graph, plan.app
    if applied is None and settings_module:
        applied = _applied(settings_module, project.root, database or "default", plan)
    if not applied:
        return
    hit = [k for k in plan.moved if k in applied]
    if hit:
        fork = _fork_point(graph, app, leaves)
        target_cmd = f"python manage.py migrate {app} {fork[1]}" if fork else f"python manage.py migrate {app} zero"
        raise AppliedMigrationError(
            f"{app}.{hit[0][1]} is recorded as applied in database {database or 'default'!r}; "
            f"renaming it would make Django apply it again",
            path=graph.records[hit[0]].path,
            hint=f"unapply it first with `{target_cmd}`, rebase, then migrate again; "
                 f"or use a merge migration (squasher merge {app})",
        )


def _stage_moved_files(graph: MigrationGraph, plan: RebasePlan,
                       own_rewrites: dict[MigrationKey, dict[MigrationKey, MigrationKey]],
                       read: Callable[[Path], str]) -> None:
    """Each moved file renamed, with its references to renamed migrations and to the fork
    point rewritten; refused when the dependency on the common history is not a literal
    entry (it would silently keep the fork)."""
    app = plan.app
    for key, new_key in plan.moved.items():
        record = graph.records[key]
        rename: dict[MigrationKey, MigrationKey | None] = dict(plan.moved)
        for parent, new_parent in own_rewrites[key].items():
            rename[parent] = plan.moved.get(new_parent, new_parent)
        text = read(Path(record.path))
        result = rewrite_source(text, rename=rename, path=record.path)
        if own_rewrites[key] and not any(old in own_rewrites[key] for _, old, _ in result.rewritten):
            raise GraphError(
                f"{app}.{key[1]}: its dependency on the common history is not a literal entry",
                path=record.path, line=record.dependencies_span.line if record.dependencies_span else None,
                hint="write dependencies as literal (\"app\", \"name\") tuples")
        new_path = Path(record.path).with_name(f"{new_key[1]}.py")
        plan.changes.rename(record.path, new_path, result.text)


def _stage_other_references(graph: MigrationGraph, plan: RebasePlan, read: Callable[[Path], str]) -> None:
    """Every other file of the project (any app) that names a renamed migration, rewritten."""
    moved_paths = [graph.records[k].path for k in plan.moved]
    others_changed = rewrite_project_references(graph.records.values(), plan.moved, exclude=moved_paths,
                                                read_text=read)
    for path, result in others_changed.items():
        plan.changes.modify(path, result.text)
        plan.rewritten.append(path)


def plan_rebase_onto_revision(project: Project, rev: str, apps: Sequence[str] = (), *,
                              settings_module: str | None = None, database: str | None = None,
                              applied: set[MigrationKey] | None = None) -> list[RebasePlan]:
    """Plan renumbering this branch's new migrations to follow ``rev``'s leaf, per app.

    ``rev`` (a branch, tag or commit) is read from git objects, as ``check --against`` reads
    it: the project's migration files are merged with REV's in memory, and every app that
    would then have two leaves (one added on each side since the merge base) gets the
    ordinary rebase with REV's leaf as the target. Only this branch's files change; after
    ``git merge REV`` (or ``git rebase REV``) the app's history is linear. ``apps``: only
    these apps (default: every app the merge would give two leaves). Returns one plan per
    app, all computed from the same tree; an empty list when no app needs it.
    """
    from squasher.graph.against import merged_view

    view = merged_view(project, rev, option="--onto")
    merged = view.project
    local = project.graph.conflicts()
    predicted = merged.graph.conflicts()
    for app in apps:
        project.graph.require_app(app)
    plans: list[RebasePlan] = []
    for app in apps or sorted(predicted):
        if app in local:
            raise UsageError(
                f"{app} already has {len(local[app])} leaves on this branch; resolve them first",
                hint=f"squasher merge {app} (or merge --rebase {app} --onto LEAF), then rebase "
                     f"onto {rev}")
        leaves = predicted.get(app, [])
        if len(leaves) < 2:
            continue
        theirs = [leaf for leaf in leaves if Path(merged.graph.records[leaf].path) in view.from_rev]
        if len(theirs) != 1 or len(leaves) != 2:
            raise UsageError(
                f"{app}: after merging {rev} it would have leaves "
                f"{', '.join(k[1] for k in leaves)}, not one from each side; cannot rebase onto {rev}",
                hint=f"merge {rev} first (git merge {rev}), then squasher merge {app}")
        plan = plan_rebase(merged, app, onto=theirs[0], settings_module=settings_module,
                           database=database, applied=applied, read_text=view.read_text)
        touched = [p for p in plan.changes.paths() if Path(p) in view.from_rev]
        if touched:  # pragma: no cover - REV's files cannot name this branch's migrations
            raise UsageError(f"{app}: the rebase would change {rev}'s file {touched[0].name}",
                             path=touched[0], hint=f"merge {rev} first, then squasher merge {app}")
        plan.reason = f"following {rev}'s leaf {theirs[0][1]} (--onto {rev})"
        plan.notes.append(
            f"{', '.join(k[1] for k in plan.moved)} now depend on {rev}'s {theirs[0][1]}, which "
            f"this work tree does not have yet: merge or rebase onto {rev} in git before migrating")
        plans.append(plan)
    return plans


def _path_between(graph: MigrationGraph, start: MigrationKey, end: MigrationKey) -> list[MigrationKey]:
    import networkx as nx

    try:
        return nx.shortest_path(graph.nx, start, end)
    except nx.NetworkXNoPath:  # pragma: no cover - callers checked reachability
        return [start, end]


def _fork_point(graph: MigrationGraph, app: str, leaves: Sequence[MigrationKey]) -> MigrationKey | None:
    common = set.intersection(*({k for k in graph.ancestors(leaf) if k[0] == app} for leaf in leaves))
    if not common:
        return None
    plan = graph.app_plan(app)
    return max(common, key=plan.index)


def _applied(settings_module: str, root: Path, alias: str, plan: RebasePlan) -> set[MigrationKey] | None:
    """Applied migrations of ``alias``; ``None`` (with a note) when the database is unreachable."""
    try:
        return applied_migrations(settings_module, root, alias)
    except DatabaseUnavailableError as error:
        plan.notes.append(f"database {alias!r} not reachable ({error.detail}); "
                          "applied migrations were not checked")
        return None


def _post_check(project: Project, plan: RebasePlan) -> None:
    """Refuse a plan whose result would still branch, cycle or dangle."""
    after = graph_after(project, plan.changes)
    leaves = after.leaves(plan.app)
    if len(leaves) != 1:
        raise GraphError(
            f"internal check failed: after the rebase {plan.app} would have leaves "
            f"{', '.join(k[1] for k in leaves)}; nothing was changed",
            hint="please report this with the migration files involved")
    cycles = [c for c in after.cycles() if any(k[0] == plan.app for k in c)]
    if cycles:
        raise GraphError(
            "the rebase would create a circular dependency: "
            + " -> ".join(f"{a}.{n}" for a, n in cycles[0]) + "; nothing was changed",
            hint=f"merge instead: squasher merge {plan.app}")
    missing = new_missing_nodes(project.graph, after)
    if missing:
        raise GraphError(
            f"internal check failed: {missing[0][0]}.{missing[0][1]} would be referenced but missing; "
            "nothing was changed", hint="please report this")
