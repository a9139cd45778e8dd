"""Plan and write a squashed migration (``squasher squash APP [START] END``).

Pipeline:

1. Static: :class:`squasher.graph.project.Project` reads every migration; START/END resolve by
   prefix (:meth:`MigrationGraph.resolve`); the range is the *graph interval*
   (:meth:`MigrationGraph.interval`): merge nodes inside it come with both branches, a
   branch entering the middle from outside is refused naming the migration. Unparsable
   members are refused here. Members whose ``operations`` are computed at import time
   (``if connection.vendor == ...``) are kept as they are: the range is split around them
   and the runs before and after are squashed separately (a run of one migration is left
   alone), with a note naming them; ``allow_dynamic`` freezes them instead (the branch this
   machine takes).
2. Cycles: replacing the members by one node must not create a circular dependency
   (:func:`squasher.graph.cycles.squash_cycle`). Otherwise the cycle and the split points are
   reported; with ``split=True`` the range is cut into the fewest consecutive pieces that
   create none (:func:`squasher.graph.cycles.split_without_cycles`), one squash per piece.
3. Django, in-process: the project is set up as ``manage.py`` would
   (:func:`squasher.runtime.django_setup.setup_django`) and ``MigrationLoader`` loads the members'
   operations; they are optimized (:func:`squasher.optimizer.optimize`; Django's
   ``MigrationOptimizer`` when that is unavailable or with ``optimize=False`` only counted).
4. Writing: :func:`squasher.squash.writer.render` (carried RunPython code, round-trip check); the
   new file is staged in a :class:`~squasher.fileops.ChangeSet` (never overwriting).
5. :func:`plan_and_write` applies it and verifies it on fresh databases
   (:func:`squasher.runtime.verify.verify_squash`) unless ``verify=False``. A failed verification
   removes the written files again (exit 1 with the differences).

Library use (language server, other commands): ``plan_squash(root, app, end, start=None, *,
name=None, split=False, optimize=True, allow_dynamic=False, settings_module=None)`` returns a
:class:`SquashResult` whose ``changes`` (a :class:`ChangeSet`) are not applied and whose
``summary()`` is the JSON printed by ``squasher squash ... --dry-run --format json`` as
``{"changes": changes.to_json(root), "summary": summary()}``. ``plan_and_write(...)`` takes
the same arguments plus ``verify``, ``database`` and ``dry_run``. Django is set up in the
calling process (once per process), so the language server runs the CLI in a subprocess.

Choices:

* A member that is itself a squash still carrying ``replaces`` (not finalized): on Django
  6+ (:func:`nested_replaces_supported`, a feature check) it is listed in ``replaces`` as it
  is, nested, as Django 6's ``squashmigrations`` writes it; Django 6 loads nested squashes.
  Django 4.2/5.2 cannot load a squash of a squash that is kept (replacements in file-listing
  order), so there the old squash is *absorbed*: ``replaces`` lists what it replaced
  (flattened), its file is deleted in the same ChangeSet, and every ``dependencies`` entry
  naming it, in any app, points at the last migration it replaced, every ``run_before``
  entry at the first (:mod:`squasher.lifecycle.references`). Its own name is not listed, see
  :func:`_piece_replaces`.
* ``atomic = False`` on a member makes the whole squash non-atomic (with a warning in the
  file and the output): splitting at atomic boundaries would multiply files, and running
  the atomic members' operations outside a transaction only loses rollback on failure.
* Between a RunPython/RunSQL and a schema operation that follows it, a small carried
  ``squasher_constraint_checkpoint`` RunPython (elidable) runs on PostgreSQL what the end of
  the original migration's transaction did: pending deferred foreign-key checks
  (otherwise "cannot ALTER TABLE ... because it has pending trigger events") and Django's
  deferred SQL (otherwise indexes are created twice). It does nothing on other databases.
* Dependencies: the members' own dependencies minus everything inside the range, kept as
  written (``swappable_dependency(settings.X)`` for every swappable setting, ``__first__``),
  deduplicated; ``run_before`` entries pointing outside the range are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.errors import (
    CircularDependencyError,
    DynamicOperationsError,
    FileConflictError,
    GraphError,
    MigrationParseError,
    SettingsError,
    SquasherError,
    UnknownMigrationError,
    UsageError,
    VerificationError,
)
from squasher.fileops import ChangeSet
from squasher.records import MigrationKey, MigrationRecord
from squasher.squash.carry import CarriedItem

if TYPE_CHECKING:
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ProjectState

    from squasher.graph.graph import MigrationGraph
    from squasher.runtime.sandbox import Backend

__all__ = ["PieceResult", "SquashResult", "plan_squash", "plan_and_write", "squash_name"]


@dataclass
class PieceResult:
    """One written squash (several with ``split``)."""

    app: str
    name: str
    path: Path
    members: list[MigrationKey]
    replaces: list[MigrationKey]
    dependencies: list[tuple[str, str]]
    ops_before: int
    ops_after: int
    ops_django: int
    optimizer: str
    run_python: int
    run_sql: int
    carried: list[CarriedItem]
    source_operations: list[str]
    initial: bool
    atomic: bool
    text: str
    formatter: str | None
    warnings: list[str] = field(default_factory=list)
    checkpoints: int = 0
    elided: int = 0
    absorbed: list[MigrationKey] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    optimizer_fallback: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "members": [f"{a}.{n}" for a, n in self.members],
            "replaces": [f"{a}.{n}" for a, n in self.replaces],
            "operations": {"before": self.ops_before, "after": self.ops_after,
                           "django_optimizer": self.ops_django},
            "optimizer": self.optimizer,
            "optimizer_fallback": self.optimizer_fallback,
            "constraint_checkpoints": self.checkpoints,
            "elided": self.elided,
            "run_python": self.run_python,
            "run_sql": self.run_sql,
            "carried": [
                {"name": c.name, "local_name": c.local_name, "kind": c.kind,
                 "from": c.source_module}
                for c in self.carried
            ],
            "source_operations": self.source_operations,
            "initial": self.initial,
            "atomic": self.atomic,
            "warnings": self.warnings,
            "absorbed": [f"{a}.{n}" for a, n in self.absorbed],
            "notes": self.notes,
        }


@dataclass
class SquashResult:
    app: str
    root: Path
    pieces: list[PieceResult]
    changes: ChangeSet
    warnings: list[str] = field(default_factory=list)
    split_from_cycle: list[MigrationKey] | None = None
    verification: list[Any] = field(default_factory=list)  # VerifyReport
    verified: bool | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kept_dynamic: list[MigrationKey] = field(default_factory=list)
    #: why the range was cut where no cycle forced it (see :func:`_order_pieces`)
    split_for_order: list[str] = field(default_factory=list)
    #: migrations of the range left as they are because their piece is a single migration
    kept_single: list[MigrationKey] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "squashes": [p.to_json() for p in self.pieces],
            "warnings": self.warnings,
            "notes": self.notes,
            "kept_dynamic": [f"{a}.{n}" for a, n in self.kept_dynamic],
            "split_because_of_cycle": (
                [f"{a}.{n}" for a, n in self.split_from_cycle] if self.split_from_cycle else None
            ),
            "split_to_keep_order": self.split_for_order,
            "kept_as_is": [f"{a}.{n}" for a, n in self.kept_single],
            "verified": self.verified,
            "verification": [
                r.to_json() if hasattr(r, "to_json") else str(r) for r in self.verification
            ],
            "timings": self.timings,
        }


# ----------------------------------------------------------------------------- naming


#: Longest migration name written, in UTF-8 bytes: the file (``NAME.py``), its temporary file
#: while writing (``.NAME.py.XXXXXXXX.tmp``) and its bytecode (``NAME.cpython-3XX.pyc``) must
#: stay within the 255-byte file-name limit of common file systems.
MAX_NAME_BYTES = 200


def _name_prefix(name: str) -> str:
    """What Django's squashmigrations puts before a squash's name: the start migration's name
    up to its first ``_`` (its number for makemigrations' names; a hand-named migration keeps
    its first word, as Django does)."""
    return name.split("_", 1)[0]


def squash_name(start: MigrationKey, end: MigrationKey, *, explicit_start: bool,
                name: str | None = None, number: str | None = None) -> str:
    """Django's convention: ``<START>_squashed_<END>``, ``0001_squashed_<END>`` without START;
    ``--name NAME`` keeps the start's number (``0015_NAME``) unless NAME starts with digits.

    A default name longer than :data:`MAX_NAME_BYTES` is shortened to the numbers
    (``0001_squashed_0025``); a ``--name`` that long is refused."""
    if name:
        if not name.replace("_", "a").isalnum() or not (name[0].isalnum() or name[0] == "_"):
            raise UsageError(f"--name {name!r} is not a valid migration name",
                             hint="use letters, digits and underscores")
        full = name if name[0].isdigit() else f"{number or _name_prefix(start[1])}_{name}"
        size = len(full.encode())
        if size > MAX_NAME_BYTES:
            raise UsageError(f"--name gives a {size}-byte migration name {full[:40]}...; "
                             f"at most {MAX_NAME_BYTES} bytes fit in a file name with its "
                             "temporary and bytecode files", hint="choose a shorter --name")
        return full
    first = start[1] if explicit_start else "0001"
    full = f"{first}_squashed_{end[1]}"
    if len(full.encode()) > MAX_NAME_BYTES:
        full = f"{_name_prefix(first)}_squashed_{_name_prefix(end[1])}"
    return full


# ----------------------------------------------------------------------------- helpers


def _check_records(graph: MigrationGraph, members: list[MigrationKey], allow_dynamic: bool,
                   warnings: list[str]) -> dict[MigrationKey, tuple[int, str]]:
    """Refuse unreadable members. Returns the members whose ``operations`` are computed at
    import time, ``{key: (line, reason)}``: they are kept out of the squash
    (:func:`_dynamic_segments`) unless ``allow_dynamic`` freezes them (then ``{}``)."""
    dynamic: dict[MigrationKey, tuple[int, str]] = {}
    for key in members:
        record: MigrationRecord | None = graph.records.get(key)
        if record is None:
            continue
        for problem in record.parse_problems:
            if problem.code == "SQ006" or problem.severity.value == "error":
                raise MigrationParseError(
                    f"{key[0]}.{key[1]} cannot be read: {problem.message}",
                    path=record.path, line=problem.span.line if problem.span else None,
                    hint=problem.hint or "fix the file (it must import) before squashing it",
                )
        for span, reason in record.dynamic_operations:
            where = f"{record.path}:{span.line}"
            if not allow_dynamic:
                dynamic.setdefault(key, (span.line, reason))
                continue
            warnings.append(f"{where}: {key[1]} computes its operations at import time "
                            f"({reason}); frozen as evaluated here")
    return dynamic


def _dynamic_segments(members: list[MigrationKey], dynamic: dict[MigrationKey, Any]
                      ) -> list[list[MigrationKey]]:
    """The members split around the dynamic ones (consecutive runs in plan order without
    them): a squash would freeze the branch of ``operations`` this machine takes, so each
    dynamic migration stays as it is between two squashes and keeps choosing on every
    database. A run of consecutive plan-order members is convex (no path leaves it and
    comes back), so each run can be replaced by one node; cycles are checked per run."""
    segments: list[list[MigrationKey]] = [[]]
    for key in members:
        if key in dynamic:
            segments.append([])
        else:
            segments[-1].append(key)
    return [seg for seg in segments if seg]


def _dynamic_note(graph: MigrationGraph, key: MigrationKey, line: int, reason: str) -> str:
    return (f"{key[0]}.{key[1]} is kept as it is (not squashed): it computes its operations at "
            f"import time ({reason}, {graph.records[key].path}:{line}), so a squash would "
            "freeze the branch this machine takes; "
            "the migrations before and after it are squashed separately (--allow-dynamic "
            "freezes it instead)")


def nested_replaces_supported() -> bool:
    """Whether this Django loads a squash whose ``replaces`` names another squash that is kept
    on disk with its own ``replaces`` (Django 6.0+ processes replacements depth-first and
    resolves applied status recursively: ``MigrationLoader.replace_migration``).

    Django 4.2/5.2 process replacements in file-listing order (a ``set`` of module names, so
    it changes from run to run): when the new squash comes first it removes the old squash's
    node and the old squash's own replacement then fails (``NodeNotFoundError``); if the old
    squash is not listed both stay in the graph and a fresh database gets every CreateModel
    twice. There the old squash is absorbed instead (:func:`_absorb_nested`).
    """
    from django.db.migrations.loader import MigrationLoader

    return hasattr(MigrationLoader, "replace_migration")


def _resolve(graph: MigrationGraph, app: str, prefix: str) -> MigrationKey:
    """:meth:`MigrationGraph.resolve`, except that an ambiguous prefix resolves to the one
    candidate in the effective graph when the others are replaced by it (``0001`` with
    ``0001_initial`` replaced by ``0001_squashed_0004``)."""
    try:
        return graph.resolve(app, prefix)
    except UnknownMigrationError:
        candidates = [k for k in graph.records if k[0] == app and k[1].startswith(prefix)]
        effective = [k for k in candidates if k in graph.nx]
        if len(candidates) > 1 and len(effective) == 1 and all(
                k == effective[0] or effective[0] in _replacers(graph, k) for k in candidates):
            return effective[0]
        raise


def _replacers(graph: MigrationGraph, key: MigrationKey) -> list[MigrationKey]:
    """The squashes replacing ``key``, innermost first (a squash of a squash follows)."""
    out: list[MigrationKey] = []
    current = graph.replaced_by(key)
    while current is not None and current not in out:
        out.append(current)
        current = graph.replaced_by(current)
    return out


def _nested_squashes(graph: MigrationGraph, members: list[MigrationKey]) -> list[MigrationKey]:
    """Members that are themselves squashes with ``replaces`` (not finalized yet)."""
    return [k for k in members if graph.records.get(k) is not None and graph.records[k].replaces]


def _replaced_ends(graph: MigrationGraph, squash: MigrationKey) -> tuple[MigrationKey, MigrationKey]:
    """(first, last) of the migrations ``squash`` replaces: once the squash file is gone a
    dependency on it means "after the last one" (what Django remaps a dependency on an
    unusable squash to) and a ``run_before`` naming it means "before the first one".
    Refuses when the squash cannot be absorbed (files missing, several first/last)."""
    record = graph.records[squash]
    originals = graph.flat_replaces(squash)
    line = record.replaces_span.line if record.replaces_span else None
    gone = [k for k in originals if k not in graph.records]
    if gone:
        raise GraphError(
            f"{squash[0]}.{squash[1]} is a squash whose replaced migrations are not all on disk "
            f"(missing: {', '.join(k[1] for k in gone)}); it cannot be absorbed into a new squash "
            "on this Django (< 6.0)",
            path=record.path, line=line,
            hint=f"finish its finalization first (squasher finalize {squash[0]} {squash[1]} --finish)",
        )
    inside = set(originals)
    firsts = [k for k in originals if not any(p in inside for p in graph.full.predecessors(k))]
    lasts = [k for k in originals if not any(c in inside for c in graph.full.successors(k))]
    for which, keys in (("first", firsts), ("last", lasts)):
        if len(keys) != 1:
            raise GraphError(
                f"{squash[0]}.{squash[1]} replaces migrations with {len(keys)} {which} "
                f"migrations ({', '.join(k[1] for k in keys)}); references to it cannot be "
                "pointed at one",
                path=record.path, line=line,
                hint=f"finalize it first (squasher finalize {squash[0]} {squash[1]})",
            )
    return firsts[0], lasts[0]


def _absorb_nested(graph: MigrationGraph, squashes: list[MigrationKey], changes: ChangeSet
                   ) -> dict[MigrationKey, tuple[MigrationKey, MigrationKey, list[Path]]]:
    """Django < 6: stage the deletion of the squashes a new squash replaces; in every file
    (any app) a ``dependencies`` entry naming one of them points at the last migration it
    replaced, a ``run_before`` entry at the first one.
    Returns ``{squash: (first, last, rewritten files)}``."""
    from squasher.lifecycle.references import rewrite_project_references

    ends = {key: _replaced_ends(graph, key) for key in squashes}
    paths = [graph.records[key].path for key in squashes]
    records = list(graph.records.values())
    after: dict[MigrationKey, MigrationKey | None] = {k: last for k, (_, last) in ends.items()}
    before: dict[MigrationKey, MigrationKey | None] = {k: first for k, (first, _) in ends.items()}
    rewritten = rewrite_project_references(records, after, exclude=paths,
                                           lists=("dependencies",))
    sources = {path: result.text for path, result in rewritten.items()}
    for path, result in rewrite_project_references(records, before, exclude=paths,
                                                   sources=sources,
                                                   lists=("run_before",)).items():
        if path in rewritten:
            result.rewritten = rewritten[path].rewritten + result.rewritten
        rewritten[path] = result
    out: dict[MigrationKey, tuple[MigrationKey, MigrationKey, list[Path]]] = {}
    for key, (first, last) in ends.items():
        out[key] = (first, last, [p for p, r in rewritten.items()
                                  if any(old == key for _, old, _ in r.rewritten)])
    for path, result in rewritten.items():
        changes.modify(path, result.text)
    for path in paths:
        changes.delete(path)
    return out


def _piece_replaces(graph: MigrationGraph, piece: list[MigrationKey], nested: bool
                    ) -> tuple[list[MigrationKey], set[MigrationKey]]:
    """(``replaces`` of the squash of ``piece``, every key it stands for).

    With ``nested`` (Django 6+) the members are listed as they are, squashes included, as
    Django 6's ``squashmigrations`` writes them. Otherwise (the member squashes are absorbed:
    their files are deleted) a member that is a squash is replaced by what it replaces. Its
    own name is not listed: Django < 6 marks a squash applied only when every ``replaces``
    entry is recorded, and a deleted squash is never recorded on a database that went
    through its originals without it (partially applied before it existed), so the new
    squash would never count as applied there and could never be finalized safely."""
    replaces: list[MigrationKey] = []
    covered: set[MigrationKey] = set(piece)
    for key in piece:
        record = graph.records.get(key)
        inner = graph.flat_replaces(key) if record is not None and record.replaces else []
        covered.update(inner)
        if nested or not inner:
            if key not in replaces:
                replaces.append(key)
        else:
            replaces.extend(k for k in inner if k not in replaces)
    covered.update(replaces)
    return replaces, covered


def _describe_frozen(graph: MigrationGraph, members: list[MigrationKey], disk: dict[MigrationKey, Any],
                     warnings: list[str]) -> None:
    """Say which branch of an import-time computed ``operations`` list was frozen."""
    from django.db import connection

    for key in members:
        record = graph.records.get(key)
        if record is None or not record.dynamic_operations or key not in disk:
            continue
        ops = disk[key].operations
        kinds = ", ".join(type(op).__name__ for op in ops) or "no operations"
        warnings.append(f"{key[0]}.{key[1]}: frozen as evaluated with connection.vendor="
                        f"{connection.vendor!r}: {len(ops)} operation(s) ({kinds})")


def _cycle_pieces(graph: MigrationGraph, app: str, members: list[MigrationKey], split: bool
                  ) -> tuple[list[list[MigrationKey]], list[MigrationKey] | None]:
    try:
        from squasher.graph.cycles import format_cycle, split_without_cycles, squash_cycle
    except ImportError:  # pragma: no cover - cycles.py is part of the package
        return [members], None
    cycle = squash_cycle(graph, app, members)
    if not cycle:
        return [members], None
    pieces = split_without_cycles(graph, app, members)
    if split:
        return pieces, cycle
    points = [p[0] for p in pieces[1:]]
    ranges = ", ".join(f"{p[0][1]}..{p[-1][1]}" for p in pieces)
    raise CircularDependencyError(
        f"squashing {app} {members[0][1]}..{members[-1][1]} into one migration would create a "
        f"circular dependency: {format_cycle(cycle)}. Split before "
        f"{', '.join(k[1] for k in points)} ({len(pieces)} squashes: {ranges})",
        cycle=cycle,
        hint="pass --split to write those squashes, or squash a shorter range",
    )


def _runs_code(migration: Any) -> bool:
    from django.db.migrations import RunPython, RunSQL

    return any(isinstance(op, (RunPython, RunSQL)) for op in migration.operations)


def _fresh_plan(loader: MigrationLoader) -> list[MigrationKey]:
    """The order ``migrate`` applies every migration in on an empty database (what
    ``MigrationExecutor.migration_plan`` gives for the leaf nodes)."""
    plan: list[MigrationKey] = []
    seen: set[MigrationKey] = set()
    for leaf in loader.graph.leaf_nodes():
        for key in loader.graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                plan.append(key)
    return plan


def _order_pieces(loader: MigrationLoader, piece: list[MigrationKey], plan: list[MigrationKey]
                  ) -> tuple[list[list[MigrationKey]], list[str]]:
    """Cut ``piece`` where squashing it whole would move another app's migration after code.

    A migration X of another app that depends on a member in the middle of the range runs,
    in the original history, between that member and the rest of the range. Squashed into
    one migration, X waits for the whole squash. Schema operations do not care, but a
    RunPython/RunSQL of a later member may (openwisp-users grants allauth's permissions in a
    data migration that runs after allauth's ``account.0001`` only because ``account``
    depends on ``openwisp_users.__first__``). So where such an X ran before a later member
    that runs code, the range is cut after the last member X depends on: X then depends on
    the first squash and runs between the two, as it did. Pieces without code are not cut.
    """
    graph = loader.graph
    if len(piece) < 2 or any(key not in graph.nodes for key in piece):
        return [piece], []
    code_members = [i for i, key in enumerate(piece)
                    if _runs_code(loader.disk_migrations.get(key, graph.nodes[key]))]
    if not code_members:
        return [piece], []
    position = {key: i for i, key in enumerate(plan)}
    if any(key not in position for key in piece):
        return [piece], []
    index = {key: i for i, key in enumerate(piece)}
    last_code = position[piece[code_members[-1]]]
    cuts: dict[int, str] = {}
    for key in plan[position[piece[0]] + 1:last_code]:
        if key in index:
            continue
        ancestors = [index[a] for a in graph.forwards_plan(key) if a in index]
        if not ancestors:
            continue  # not held back by the squash: it may run before it as before
        after = max(ancestors)
        later_code = [j for j in code_members
                      if j > after and position[piece[j]] > position[key]]
        if later_code and after not in cuts:
            cuts[after] = (f"{key[0]}.{key[1]} runs after {piece[after][1]} and before "
                           f"{piece[later_code[0]][1]}, which runs code (RunPython/RunSQL): "
                           f"cut after {piece[after][1]} so it still does")
    if not cuts:
        return [piece], []
    pieces: list[list[MigrationKey]] = []
    start = 0
    for after in sorted(cuts):
        pieces.append(piece[start:after + 1])
        start = after + 1
    pieces.append(piece[start:])
    return pieces, [cuts[a] for a in sorted(cuts)]


def _from_state(loader: MigrationLoader, piece: list[MigrationKey]) -> ProjectState:
    """The ProjectState just before the piece: every non-member parent applied."""
    from django.db.migrations.state import ProjectState

    members = set(piece)
    parents: set[MigrationKey] = set()
    for key in piece:
        node = loader.graph.node_map.get(key)
        if node is None:
            continue
        parents |= {p.key for p in node.parents if p.key not in members}
    if not parents:
        return ProjectState(real_apps=loader.unmigrated_apps)
    return loader.graph.make_state(nodes=sorted(parents), at_end=True,
                                   real_apps=loader.unmigrated_apps)


def _optimize(operations: list[Any], app: str, enabled: bool, from_state: ProjectState | None = None,
              origins: dict[int, tuple[str, int]] | None = None,
              ) -> tuple[list[Any], int, str, dict[str, Any] | None]:
    """(operations, django-only count, optimizer description, fallback details for
    ``--format json``: kind, reason and the reductions the guard left out, each with its
    rule and operations — named by migration and position when they are the originals).

    Django's count comes from the optimizer's exact replay of Django's algorithm
    (:mod:`squasher.optimizer.django_ref`), never from running ``MigrationOptimizer`` only to
    report a number: on long histories that took longer than the whole squash."""
    from squasher.optimizer import optimize
    from squasher.optimizer.django_ref import django_length

    if not enabled:
        return (list(operations), django_length(list(operations), app), "none (--no-optimize)",
                None)
    result = optimize(list(operations), app, from_state=from_state)
    description = "squasher"
    details: dict[str, Any] | None = None
    if result.fallback:
        description = f"squasher (fallback: {result.fallback}"
        description += f": {result.reason})" if result.reason else ")"
        rejected = []
        for item in result.rejected:
            entry = item.to_json()
            where = [origins.get(id(op)) if origins else None for op in item.sources]
            entry["migrations"] = [f"{w[0].rsplit('.', 1)[-1]}[{w[1]}]" if w else None
                                   for w in where]
            rejected.append(entry)
        details = {"kind": result.fallback, "reason": result.reason, "rejected": rejected}
    return list(result.operations), result.django_count, description, details


def _count(operations: list[Any], kind: type) -> int:
    from django.db.migrations.operations.special import SeparateDatabaseAndState

    total = 0
    for op in operations:
        if isinstance(op, kind):
            total += 1
        elif isinstance(op, SeparateDatabaseAndState):
            total += _count(list(op.database_operations), kind)
    return total


def swappable_settings() -> dict[str, str]:
    """Setting value (``"accounts.User"``) -> setting name (``"AUTH_USER_MODEL"``) for every
    swappable model setting of the project (``Meta.swappable``), not only AUTH_USER_MODEL."""
    from django.apps import apps
    from django.conf import settings

    out: dict[str, str] = {}
    for model in apps.get_models(include_swapped=True):
        name = model._meta.swappable
        if name and hasattr(settings, name):
            out.setdefault(str(getattr(settings, name)), name)
    for name in sorted(dir(settings)):
        if name.isupper() and name.endswith("_MODEL"):
            value = getattr(settings, name, None)
            if isinstance(value, str) and value.count(".") == 1:
                out.setdefault(value, name)
    return out


def _dependencies(app: str, members: list[MigrationKey], covered: set[MigrationKey],
                  migrations: dict[MigrationKey, Any], root_in_range: bool
                  ) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    swappable = swappable_settings()
    for key in members:
        for dep in migrations[key].dependencies:
            value = getattr(dep, "setting", None)
            setting = swappable.get(value) if value is not None else None
            if setting is not None:
                if dep[0] == app and root_in_range:
                    continue
                item = ("__setting__", setting)
            else:
                item = (dep[0], dep[1])
                if item in covered:
                    continue
                if item[0] == app and (item[1] == "__first__" and root_in_range):
                    continue
            if item not in seen:
                seen.add(item)
                out.append(item)
    return out


# ----------------------------------------------------------------------------- planning


def plan_squash(root: str | Path, app: str, end: str, start: str | None = None, *,
                name: str | None = None, split: bool = False, optimize: bool = True,
                allow_dynamic: bool = False, settings_module: str | None = None,
                keep_order: bool = False, header: bool = True,
                progress: Callable[[str], None] | None = None) -> SquashResult:
    """Plan the squash: a :class:`SquashResult` whose ``changes`` are not applied yet.

    ``keep_order`` (with ``split``) also cuts the range where one squash would move another
    app's migration after code of the range (:func:`_order_pieces`). ``header=False``
    (Django's ``--no-header``) writes no leading comment block; its warnings and notes are
    still in the result. ``progress`` receives one line of text per step."""
    run = _load(root, app, settings_module, progress)
    _resolve_range(run, end, start, name)
    dynamic = _check_records(run.graph, run.members, allow_dynamic, run.warnings)
    run.notes = [_dynamic_note(run.graph, key, *where) for key, where in dynamic.items()]
    cycle, order_notes = _plan_pieces(run, dynamic, split, keep_order)
    _prepare_writing(run, allow_dynamic, optimize, header)
    t0 = time.perf_counter()
    for index, piece in enumerate(run.pieces):
        if (len(run.pieces) > 1 or dynamic or order_notes) and len(piece) == 1:
            _keep_as_is(run, piece[0])
            continue
        run.results.append(_write_piece(run, index, piece))
    if run.absorbed_into:
        _absorb_nested_squashes(run)
    run.timings["write"] = round(time.perf_counter() - t0, 3)
    _refuse_nothing_written(run, dynamic, cycle)
    run.changes.check()
    return SquashResult(app=app, root=run.root, pieces=run.results, changes=run.changes,
                        warnings=run.warnings, split_from_cycle=cycle, timings=run.timings,
                        notes=run.notes, kept_dynamic=list(dynamic), split_for_order=order_notes,
                        kept_single=run.kept_single)


@dataclass
class _Run:
    """One :func:`plan_squash`: what its steps read (the project as Django loads it, the
    range, the options) and what they accumulate (warnings, notes, staged changes, the
    written pieces)."""

    root: Path
    app: str
    graph: MigrationGraph  # the project's, with Django's labels and dependencies
    loader: MigrationLoader
    say: Callable[[str], None]
    timings: dict[str, float]
    members: list[MigrationKey] = field(default_factory=list)
    start_key: MigrationKey = ("", "")
    end_key: MigrationKey = ("", "")
    explicit_start: bool = False
    name: str | None = None
    pieces: list[list[MigrationKey]] = field(default_factory=list)
    optimize: bool = True
    header: bool = True
    #: Django 6+: squashes among the members are listed in ``replaces`` as they are
    nested: bool = True
    #: Django < 6: member squashes whose files are deleted, their references repointed
    absorb: list[MigrationKey] = field(default_factory=list)
    migration_modules: set[str] = field(default_factory=set)
    app_roots: set[MigrationKey] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changes: ChangeSet = field(default_factory=ChangeSet)
    results: list[PieceResult] = field(default_factory=list)
    kept_single: list[MigrationKey] = field(default_factory=list)
    #: a migration a written piece stands for -> that squash (later pieces depend on it)
    written_by: dict[MigrationKey, tuple[str, str]] = field(default_factory=dict)
    #: absorbed squash -> the name of the piece that absorbs it
    absorbed_into: dict[MigrationKey, str] = field(default_factory=dict)


def _load(root: str | Path, app: str, settings_module: str | None,
          progress: Callable[[str], None] | None) -> _Run:
    """The project loaded by Django's migration loader: Django is the source of truth for
    labels, migration modules and evaluated dependencies."""
    say = progress or (lambda text: None)
    started = time.perf_counter()
    resolved = Path(root).resolve()
    say("loading the project (Django's migration loader)")
    from squasher.runtime.django_project import load_django_project

    project, loader = load_django_project(resolved, settings_module)
    return _Run(root=resolved, app=app, graph=project.graph, loader=loader, say=say,
                timings={"load": round(time.perf_counter() - started, 3)})


def _resolve_range(run: _Run, end: str, start: str | None, name: str | None) -> None:
    """START and END resolved by prefix (START defaults to the app's first migration before
    END) and the members: the graph interval between them, in plan order."""
    graph, app = run.graph, run.app
    end_key = _resolve(graph, app, end)
    if start:
        start_key = _resolve(graph, app, start)
    else:
        roots = [r for r in graph.roots(app) if r == end_key or r in graph.ancestors(end_key)]
        if not roots:
            raise UsageError(f"cannot find the first migration of {app} before {end_key[1]}")
        start_key = roots[0]
    run.members = graph.interval(app, start_key, end_key)
    run.start_key, run.end_key = start_key, end_key
    run.explicit_start, run.name = bool(start), name


def _plan_pieces(run: _Run, dynamic: dict[MigrationKey, tuple[int, str]], split: bool,
                 keep_order: bool) -> tuple[list[MigrationKey] | None, list[str]]:
    """Fill ``run.pieces``: the members cut around the dynamic ones, each run cut where one
    squash would close a cycle (refused without ``split``) and, with ``keep_order``, where it
    would move another app's migration after code. Returns (the first cycle found, why each
    order cut was made)."""
    # cycles through every app Django loads, also apps outside the project (site-packages),
    # whose edges the project graph does not hold
    from squasher.runtime.django_setup import loader_graph

    whole = loader_graph(run.loader)
    plan = _fresh_plan(run.loader) if keep_order else []
    cycle: list[MigrationKey] | None = None
    order_notes: list[str] = []
    for segment in _dynamic_segments(run.members, dynamic):
        segment_pieces, segment_cycle = _cycle_pieces(whole, run.app, segment, split)
        cycle = cycle or segment_cycle
        for cycle_free in segment_pieces:
            ordered, reasons = (_order_pieces(run.loader, cycle_free, plan) if split and keep_order
                                else ([cycle_free], []))
            run.pieces += ordered
            order_notes += reasons
    return cycle, order_notes


def _prepare_writing(run: _Run, allow_dynamic: bool, optimize: bool, header: bool) -> None:
    """What every piece's writing reads: the migration modules Django loaded, the app's
    roots, whether this Django loads nested squashes (else member squashes are absorbed);
    with ``allow_dynamic`` a warning naming the branch each dynamic member was frozen in."""
    disk = run.loader.disk_migrations
    run.migration_modules = {type(m).__module__ for m in disk.values()}
    run.app_roots = set(run.graph.roots(run.app))
    if allow_dynamic:
        _describe_frozen(run.graph, run.members, disk, run.warnings)
    run.nested = nested_replaces_supported()
    run.absorb = [] if run.nested else _nested_squashes(run.graph, run.members)
    run.optimize, run.header = optimize, header
    import squasher.squash.writer  # noqa: F401 - imported before the writing is timed


def _keep_as_is(run: _Run, key: MigrationKey) -> None:
    """A piece of one migration is left alone: its squash would gain nothing."""
    run.warnings.append(f"{key[0]}.{key[1]} is kept as it is (a squash of a single "
                        "migration would gain nothing)")
    run.kept_single.append(key)


@dataclass
class _Optimized:
    """A piece's operations after the optimizer and the constraint checkpoints."""

    operations: list[Any]
    count: int  # after the optimizer, before the checkpoints
    django_count: int
    optimizer: str
    fallback: dict[str, Any] | None
    elided: int
    checkpoints: int


def _write_piece(run: _Run, index: int, piece: list[MigrationKey]) -> PieceResult:
    """The squash of one piece: its operations optimized, its dependencies and
    ``run_before``, its name and file, rendered and staged in ``run.changes``."""
    from squasher.squash.writer import SquashedMigration, render

    app = run.app
    migrations = _loaded_members(run, piece)
    replaces, covered = _piece_replaces(run.graph, piece, run.nested)
    operations, origins = _collect_operations(piece, migrations)
    optimized = _optimize_piece(run, piece, operations, origins)
    root_in_range = piece[0] in run.app_roots
    dependencies = _piece_dependencies(run, piece, covered, migrations, root_in_range)
    run_before = _piece_run_before(piece, migrations, covered)
    non_atomic, atomic_reason, piece_warnings = _atomicity(piece, migrations)
    new_name = _piece_name(run, index, piece)
    path = _new_file(run, piece, new_name)
    spec = SquashedMigration(
        app_label=app, name=new_name, operations=optimized.operations, replaces=replaces,
        dependencies=dependencies, run_before=run_before, initial=root_in_range,
        atomic=not non_atomic, atomic_reason=atomic_reason,
        operation_origins=origins, migration_modules=run.migration_modules,
    )
    spec.header = _header(run, spec, piece, len(replaces), piece_warnings if non_atomic else [])
    for key in run.absorb:
        if key in piece:
            run.absorbed_into[key] = new_name
    run.say(f"writing {new_name}")
    t_render = time.perf_counter()
    rendered = render(spec, format_path=path)
    run.timings["render"] = round(run.timings.get("render", 0.0) + time.perf_counter() - t_render, 3)
    run.changes.create(path, rendered.text)
    for key in covered:
        run.written_by[key] = (app, new_name)
    return PieceResult(
        app=app, name=new_name, path=path, members=list(piece), replaces=replaces,
        dependencies=dependencies, ops_before=len(operations), ops_after=optimized.count,
        checkpoints=optimized.checkpoints, elided=optimized.elided,
        ops_django=optimized.django_count, optimizer=optimized.optimizer,
        optimizer_fallback=optimized.fallback,
        run_python=_count(optimized.operations, _run_python()) - optimized.checkpoints,
        run_sql=_count(optimized.operations, _run_sql()),
        carried=rendered.carried, source_operations=rendered.source_operations,
        initial=root_in_range, atomic=not non_atomic, text=rendered.text,
        formatter=rendered.formatter, warnings=piece_warnings,
    )


def _loaded_members(run: _Run, piece: list[MigrationKey]) -> dict[MigrationKey, Any]:
    """The piece's Migration instances as Django loaded them; a member Django does not load
    means the settings used do not install the app."""
    disk = run.loader.disk_migrations
    missing = [k for k in piece if k not in disk]
    if missing:
        raise SettingsError(
            f"Django does not load {missing[0][0]}.{missing[0][1]}",
            hint=f"is {run.app!r} in INSTALLED_APPS of the settings used?",
        )
    return {k: disk[k] for k in piece}


def _collect_operations(piece: list[MigrationKey], migrations: dict[MigrationKey, Any]
                        ) -> tuple[list[Any], dict[int, tuple[str, int]]]:
    """The members' operations in order, and where each came from (``id(op)`` -> (module,
    position)): the writer names them, the optimizer's fallback details too."""
    operations: list[Any] = []
    origins: dict[int, tuple[str, int]] = {}
    for key in piece:
        migration = migrations[key]
        for i, op in enumerate(migration.operations):
            operations.append(op)
            origins[id(op)] = (type(migration).__module__, i)
    return operations, origins


def _optimize_piece(run: _Run, piece: list[MigrationKey], operations: list[Any],
                    origins: dict[int, tuple[str, int]]) -> _Optimized:
    """The operations optimized from the state just before the piece (without one when it
    cannot be built), then constraint checkpoints inserted after code that schema
    operations follow (:func:`squasher.squash.writer.with_constraint_checkpoints`)."""
    from squasher.squash.writer import with_constraint_checkpoints

    app = run.app
    try:
        from_state = _from_state(run.loader, piece) if run.optimize else None
    except Exception:  # noqa: BLE001 - the optimizer then checks without a base state
        from_state = None
    run.say(f"optimizing {app} {piece[0][1]} .. {piece[-1][1]}: {len(operations)} operations")
    t_optimize = time.perf_counter()
    optimized, django_count, optimizer_name, fallback = _optimize(
        operations, app, run.optimize, from_state, origins)
    run.timings["optimize"] = round(run.timings.get("optimize", 0.0)
                                    + time.perf_counter() - t_optimize, 3)
    optimized_count = len(optimized)
    kept = {id(op) for op in optimized}
    elided = [op for op in operations
              if getattr(op, "elidable", False) and id(op) not in kept]
    optimized, checkpoints = with_constraint_checkpoints(optimized, app, from_state)
    return _Optimized(optimized, optimized_count, django_count, optimizer_name, fallback,
                      len(elided), checkpoints)


def _piece_dependencies(run: _Run, piece: list[MigrationKey], covered: set[MigrationKey],
                        migrations: dict[MigrationKey, Any], root_in_range: bool
                        ) -> list[tuple[str, str]]:
    """The members' dependencies outside the piece (:func:`_dependencies`); one on a
    migration an earlier piece of this split replaces names that squash instead (Django
    remaps it to its last replaced migration when it is not used), so finalizing the
    earlier squash leaves nothing dangling."""
    dependencies = _dependencies(run.app, piece, covered, migrations, root_in_range)
    remapped: list[tuple[str, str]] = []
    for dep in dependencies:
        target = run.written_by.get((dep[0], dep[1]), dep)
        if target not in remapped:
            remapped.append(target)
    return remapped


def _piece_run_before(piece: list[MigrationKey], migrations: dict[MigrationKey, Any],
                      covered: set[MigrationKey]) -> list[MigrationKey]:
    """The members' ``run_before`` entries pointing outside the piece, deduplicated."""
    run_before: list[MigrationKey] = []
    for key in piece:
        for target in getattr(migrations[key], "run_before", []) or []:
            target = (target[0], target[1])
            if target not in covered and target not in run_before:
                run_before.append(target)
    return run_before


def _atomicity(piece: list[MigrationKey], migrations: dict[MigrationKey, Any]
               ) -> tuple[list[MigrationKey], str | None, list[str]]:
    """(the non-atomic members, why the squash is non-atomic, the piece's warning): one
    ``atomic = False`` member makes the whole squash non-atomic."""
    non_atomic = [k for k in piece if not getattr(migrations[k], "atomic", True)]
    if not non_atomic:
        return non_atomic, None, []
    names = ", ".join(k[1] for k in non_atomic)
    reason = f"non-atomic because {names} {'is' if len(non_atomic) == 1 else 'are'} (atomic = False)"
    return non_atomic, reason, [f"the squash is non-atomic: {names} declare(s) atomic = False; "
                                "its operations run without a wrapping transaction"]


def _piece_name(run: _Run, index: int, piece: list[MigrationKey]) -> str:
    """Django's name for the whole range; a piece of a split is named after its own ends,
    keeping its first member's number (``--name NAME`` becomes ``NAME_1``, ``NAME_2``...)."""
    number = _name_prefix(piece[0][1])
    if piece == run.members:
        return squash_name(run.start_key, run.end_key, explicit_start=run.explicit_start,
                           name=run.name)
    if len(run.pieces) == 1:
        return squash_name(piece[0], piece[-1], explicit_start=True, name=run.name,
                           number=number)
    base = f"{run.name}_{index + 1}" if run.name else None
    return squash_name(piece[0], piece[-1], explicit_start=True, name=base, number=number)


def _new_file(run: _Run, piece: list[MigrationKey], new_name: str) -> Path:
    """The new file, next to the piece's first member; refused when that name exists (a
    squash never overwrites)."""
    record = run.graph.records.get(piece[0])
    migrations_dir = record.path.parent if record is not None else None
    if migrations_dir is None:
        raise UsageError(f"cannot locate the migrations directory of {run.app}")
    path = migrations_dir / f"{new_name}.py"
    if path.exists() or (run.app, new_name) in run.graph.records:
        raise FileConflictError(
            f"{run.app}.{new_name} already exists", path=path,
            hint="choose another --name, or finalize/remove the existing squash first",
        )
    return path


def _header(run: _Run, spec: Any, piece: list[MigrationKey], replaced: int,
            atomic_warnings: list[str]) -> list[str]:
    """The comment block at the top of the file (none with ``header=False``): what made it,
    why it is non-atomic, the run's warnings so far, the squashes it absorbs."""
    if not run.header:
        return []
    from squasher.squash.writer import default_header

    lines = default_header(spec, replaced)
    if atomic_warnings:
        lines.append("atomic = False: " + atomic_warnings[0])
    for w in run.warnings:
        lines.append("warning: " + w)
    for key in run.absorb:
        if key in piece:
            lines.append(
                f"absorbs the squash {key[1]} (its file is removed, its replaced migrations "
                "are listed instead, references to it are repointed at them): Django < 6.0 "
                "cannot load a squash of a squash that is kept")
    return lines


def _absorb_nested_squashes(run: _Run) -> None:
    """Django < 6: the absorbed squashes' files deleted and references to them repointed
    (:func:`_absorb_nested`), said in the notes of the piece that absorbs each."""
    absorbed = _absorb_nested(run.graph, list(run.absorbed_into), run.changes)
    for piece_result in run.results:
        for key, (first, last, paths) in absorbed.items():
            if run.absorbed_into[key] != piece_result.name:
                continue
            files = ", ".join(p.name for p in paths) or "none"
            piece_result.absorbed.append(key)
            piece_result.notes.append(
                f"absorbs the squash {key[1]}: Django < 6.0 cannot load a squash of a squash "
                f"that is kept, so its file is removed and references to it now point at "
                f"{last[0]}.{last[1]} (dependencies) / {first[0]}.{first[1]} (run_before) "
                f"(rewritten: {files})")


def _refuse_nothing_written(run: _Run, dynamic: dict[MigrationKey, tuple[int, str]],
                            cycle: list[MigrationKey] | None) -> None:
    """Every piece was a single migration: say why (a dynamic member kept as it is, or the
    cuts a cycle forced) rather than write nothing silently."""
    if run.results:
        return
    app, members = run.app, run.members
    if dynamic and not cycle:
        key, (line, reason) = next(iter(dynamic.items()))
        raise DynamicOperationsError(
            f"nothing to squash in {app} {members[0][1]}..{members[-1][1]}: {key[1]} computes "
            f"its operations at import time ({reason}) and is kept as it is, "
            "and every piece around it is a single migration",
            path=run.graph.records[key].path, line=line,
            hint="squash a longer range around it, rewrite its operations as a literal list, "
                 "or pass --allow-dynamic to freeze them as evaluated here",
        )
    raise CircularDependencyError(
        f"{app} {members[0][1]}..{members[-1][1]} cannot be squashed without a circular "
        "dependency: every piece that avoids one is a single migration",
        cycle=cycle, hint="nothing to squash in this range; try another range",
    )


def _run_python() -> type:
    from django.db.migrations import RunPython

    return RunPython


def _run_sql() -> type:
    from django.db.migrations import RunSQL

    return RunSQL


def plan_and_write(root: str | Path, app: str, end: str, start: str | None = None, *,
                   name: str | None = None, split: bool = False, optimize: bool = True,
                   verify: bool = True, database: str = "default", verify_on: str | None = None,
                   backend: Backend | None = None, dry_run: bool = False,
                   allow_dynamic: bool = False, settings_module: str | None = None,
                   header: bool = True, progress: Callable[[str], None] | None = None,
                   verify_dry_run: bool = False) -> SquashResult:
    """Plan, then (unless ``dry_run``) write and verify. A failed verification removes the
    written files and raises :class:`VerificationError`.

    With ``split``, a squash whose verification differs is planned once more with the range
    cut where it would move another app's migration after code of the range
    (:func:`_order_pieces`); when that verifies, it is written instead, and the first
    verification's difference is kept in the notes. ``progress`` receives one line of text
    per step (loading, optimizing, writing, each verification). ``verify_dry_run`` (with
    ``dry_run`` and ``verify``): verify in a copy all the same, and write nothing.
    ``database`` (a ``DATABASES`` alias) and ``verify_on`` choose the engine verification
    migrates on (:mod:`squasher.runtime.sandbox`), unless a resolved ``backend`` is given.
    """
    legacy = None
    if verify and (not dry_run or verify_dry_run) and backend is None:
        # Chosen (and a PostgreSQL server reached) before planning: fail before any work.
        from squasher.runtime.sandbox import resolve_backend, split_legacy_database

        alias, verify_on, legacy = split_legacy_database(database, verify_on)
        backend = resolve_backend(Path(root).resolve(), settings_module, verify_on=verify_on,
                                  database=alias)
    options: dict[str, Any] = dict(name=name, split=split, optimize=optimize,
                                   allow_dynamic=allow_dynamic, settings_module=settings_module,
                                   header=header, progress=progress)
    result = plan_squash(root, app, end, start, **options)
    if dry_run and not (verify and verify_dry_run):
        return result
    if not verify:
        result.changes.apply()
        return result
    assert backend is not None
    t0 = time.perf_counter()
    try:
        _verify_in_copy(result, settings_module, backend, progress)
    except VerificationError as first_error:
        if not split:
            raise
        ordered = plan_squash(root, app, end, start, keep_order=True, **options)
        if not ordered.split_for_order:
            raise
        try:
            _verify_in_copy(ordered, settings_module, backend, progress)
        except VerificationError:
            raise first_error from None
        ordered.notes.append(
            "one squash of the range did not reproduce its originals ("
            + "; ".join([first_error.message.splitlines()[0]] + [
                line.strip()[2:] for line in first_error.message.splitlines()
                if line.startswith("  - ")][:3])
            + "); cut to keep the order of other apps' migrations, the squashes verify")
        result = ordered
    if not dry_run:
        result.changes.apply()
    result.verified = True
    result.warnings += [w for w in (legacy, backend.note) if w]
    result.timings["verify"] = round(time.perf_counter() - t0, 3)
    return result


def _prefixed(progress: Callable[[str], None] | None, head: str
              ) -> Callable[[str], None] | None:
    """``progress`` with every line prefixed by ``head`` (a verification's steps inside the
    squash's own), or None when nobody listens."""
    if progress is None:
        return None
    report = progress

    def step(text: str) -> None:
        report(f"{head}: {text}")

    return step


def _verify_in_copy(result: SquashResult, settings_module: str | None, backend: Backend,
                    progress: Callable[[str], None] | None = None) -> None:
    """Verify every piece of ``result`` in a copy of the project that already has the new
    files: an unverified squash never reaches the user's tree, whatever happens to this
    process meanwhile. Raises :class:`VerificationError` for the first piece that differs."""
    import shutil
    import tempfile

    from squasher.runtime.sandbox import claim_temp_dir, copy_project, remove_stale_temp_dirs
    from squasher.runtime.verify import verify_squash

    remove_stale_temp_dirs()
    tmp = Path(tempfile.mkdtemp(prefix="squasher-verify-"))
    claim_temp_dir(tmp)
    copy = tmp / "tree"
    result.verification = []
    try:
        copy = copy_project(result.root, copy).resolve()
        staged = ChangeSet()
        for change in result.changes.changes:  # create, or modify/delete (absorbed squash)
            target = copy / change.path.relative_to(result.root)
            if change.kind == "delete":
                staged.delete(target)
            elif change.kind == "modify":
                staged.modify(target, change.new_text or "")
            else:
                staged.create(target, change.new_text or "")
        staged.apply(root=copy)
        for number, piece in enumerate(result.pieces, 1):
            if progress is not None:
                progress(f"verifying {piece.name} on {backend.label} ({number} of "
                         f"{len(result.pieces)}): original, squashed and partly applied histories")
            report = verify_squash(
                copy, result.app, piece.name, settings_module=settings_module, backend=backend,
                progress=_prefixed(progress, f"verifying {piece.name} ({number} of "
                                             f"{len(result.pieces)})"))
            report.relocate(copy, result.root)
            result.verification.append(report)
            if not report.ok:
                raise VerificationError(
                    report.render(),
                    hint="the squash does not reproduce its originals; nothing was written "
                         "(re-run with --no-verify to keep it for inspection)",
                )
    except SquasherError as error:
        if error.path is not None and str(error.path).startswith(str(copy)):
            error.path = result.root / Path(error.path).relative_to(copy)
        error.message = error.message.replace(str(copy), str(result.root))
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
