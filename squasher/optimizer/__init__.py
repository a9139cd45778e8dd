"""Operation optimizer: shorter than Django's ``MigrationOptimizer``, much faster, guarded.

``optimize(operations, app_label, from_state=None)`` returns an :class:`OptimizeResult`.

Steps:

1. drop elidable ``RunPython``/``RunSQL`` (``RunSQL`` only without ``state_operations``)
   and identity renames;
2. run the indexed engine (:mod:`.engine`) with Django's ``reduce()`` plus the extra
   rules of :mod:`.rules` and the narrowed barriers of :mod:`.touch`;
3. compute the length of Django's own result (:mod:`.django_ref`): Django's algorithm
   replayed exactly, but split at RunPython/RunSQL walls and into independent
   components, and skipping ``reduce()`` calls whose answer is known — checked against
   the real ``MigrationOptimizer`` by the tests; milliseconds where Django takes
   minutes.  If ours is longer, rerun the engine on Django's exact result, so the
   answer is never longer than Django's (unless Django's result fails the guard);
4. equivalence guard (:mod:`.guard`): the ``ProjectState`` reached from ``from_state``
   by the original and by the optimized list must match model by model.  On mismatch
   the fallback is local: the reductions that change the state are found by bisection
   (:func:`_local_search`) and left out, every other one is kept (``fallback="local"``,
   ``rejected`` names each left-out rule and its operations).  Django's result, when it
   passes the guard, is a floor: the shortest of the local result, Django's result and
   the local result on Django's result is used (``fallback="django"`` when it is
   Django's).  Only when none passes is the unoptimized list kept
   (``fallback="unoptimized"``); ``reason`` says why.  When the
   original list cannot even be applied to ``from_state`` (e.g. a range from the middle
   of a history with ``from_state=None``), nothing can be verified: Django's result is
   returned with ``fallback="django"``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from .django_ref import django_length, django_optimize
from .engine import Engine, Gate
from .guard import project_state, state_differences
from .rules import ALL_RULES, is_identity, reduce_pair
from .touch import relation_graph, touch

__all__ = ["ALL_RULES", "OptimizeResult", "optimize"]


@dataclass
class OptimizeResult:
    """Outcome of :func:`optimize`.

    ``operations``: the list to write; ``original_count``: input length;
    ``django_count``: length of Django's ``MigrationOptimizer`` result on the same input;
    ``fallback``: ``None`` (squasher's result passed the guard), ``"local"``,
    ``"django"`` or ``"unoptimized"``; ``rejected``: the reductions a local fallback left
    out (:class:`Rejected`); ``reason``: why a fallback happened (or, with ``fallback=None``,
    why the result is longer than Django's: Django's own result failed the guard); ``stats``: counters —
    reductions per rule (``django_reduce``, ``delete_model_collapse``,
    ``identity_rename``, ``one_off_default``, ``elidable``), reductions that crossed an
    operation Django treats as a barrier for every model (``crossed_index_barrier``,
    ``crossed_runpython_barrier``, ``crossed_delete_model_barrier``) or an option
    operation (``option_passthrough``), ``passes``, ``reductions``, ``ops_removed``;
    ``seconds``: wall time.
    """

    operations: list[Operation]
    original_count: int
    django_count: int
    fallback: str | None = None
    reason: str | None = None
    stats: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.operations)


def _droppable_elidable(op: Operation) -> bool:
    if not getattr(op, "elidable", False):
        return False
    if type(op) is ops.RunPython:
        return True
    return type(op) is ops.RunSQL and not op.state_operations


def squasher_pass(
    operations: list[Operation],
    app_label: str,
    from_state: ProjectState | None = None,
    rules: frozenset[str] = ALL_RULES,
    gate: Gate | None = None,
) -> tuple[list[Operation], dict[str, int]]:
    """Squasher's reductions without the Django comparison and the guard (``gate``: see
    :data:`.engine.Gate`)."""
    stats: dict[str, int] = {}
    work: list[Operation] = []
    for op in operations:
        if "elidable" in rules and _droppable_elidable(op):
            stats["elidable"] = stats.get("elidable", 0) + 1
        elif "identity_rename" in rules and is_identity(op):
            stats["identity_rename"] = stats.get("identity_rename", 0) + 1
        else:
            work.append(op)
    graph = relation_graph(work, app_label, from_state)
    engine = Engine(
        work,
        lambda a, b: reduce_pair(a, b, app_label, rules),
        lambda op: touch(op, app_label, graph, rules),
        gate,
    )
    result = engine.run()
    for key, value in engine.stats.items():
        stats[key] = stats.get(key, 0) + value
    return result, stats


def optimize(
    operations: list[Operation],
    app_label: str,
    *,
    from_state: ProjectState | None = None,
    rules: frozenset[str] | None = None,
) -> OptimizeResult:
    """Optimize one app's ``operations`` (see module docstring).

    ``from_state`` is the project state before the first operation (all apps); without it
    the operations must be self-contained for the guard to verify them.  ``rules``
    restricts the extra rules (names in :data:`ALL_RULES`; default all) — used by the
    benchmark to measure each rule's contribution.
    """
    if app_label is None:
        raise TypeError("app_label must be a str.")
    started = time.perf_counter()
    original = list(operations)
    active = ALL_RULES if rules is None else frozenset(rules) & ALL_RULES
    result, stats = squasher_pass(original, app_label, from_state, active)

    django_count = django_length(original, app_label)
    django_ops: list[Operation] | None = None
    first, first_stats = result, dict(stats)
    if len(result) > django_count:
        django_ops = django_optimize(original, app_label)
        again, stats2 = squasher_pass(django_ops, app_label, from_state, active)
        stats["rerun_on_django_result"] = 1
        result = again if len(again) <= len(django_ops) else django_ops
        for key, value in stats2.items():
            stats[key] = stats.get(key, 0) + value

    out = OptimizeResult(result, len(original), django_count, stats=stats)
    try:
        before = project_state(original, app_label, from_state)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot verify"
        out.operations = django_ops if django_ops is not None else django_optimize(original, app_label)
        out.fallback = "django"
        out.reason = (
            f"equivalence guard could not apply the original operations "
            f"({type(exc).__name__}: {exc}); pass from_state"
        )
        out.seconds = time.perf_counter() - started
        return out

    diffs = _differences(before, result, app_label, from_state)
    if not diffs:
        out.seconds = time.perf_counter() - started
        return out

    # The guard rejected the result: find the reductions that change the state and keep
    # every other one (see _local_search), on the original list and, when Django's result
    # passes the guard, on Django's result too; then take the shortest list that passes.
    if django_ops is None:
        django_ops = django_optimize(original, app_label)
    django_diffs = _differences(before, django_ops, app_label, from_state)
    if first is not result and django_diffs and not _differences(before, first, app_label, from_state):
        # Our own pass was longer than Django's only because Django's result is wrong
        # (e.g. CreateModel+RenameModel across a relation to the old name); the rerun on
        # Django's result inherited the mistake.  Our first result is right: keep it.
        out.operations, out.stats = first, first_stats
        out.reason = (
            "longer than Django's result, which changes the model state: "
            + "; ".join(django_diffs)
        )
        out.seconds = time.perf_counter() - started
        return out
    candidates: list[tuple[list[Operation], str, str, dict[str, int]]] = []
    local = _local_search(original, before, app_label, from_state, active)
    rejected = local[1] if local is not None else []
    if local is not None:
        candidates.append((local[0], "local", "", local[2]))
    if not django_diffs:
        candidates.append((django_ops, "django", "", {}))
        again_local = _local_search(django_ops, before, app_label, from_state, active)
        if again_local is not None:
            rejected = rejected or again_local[1]
            candidates.append((again_local[0], "local",
                               " (reductions applied to Django's result, which is shorter)",
                               again_local[2]))
    if candidates:
        best, kind, note, best_stats = min(candidates, key=lambda c: len(c[0]))
        out.operations, out.fallback, out.rejected = best, kind, rejected
        if kind == "local":
            out.stats = best_stats
        out.reason = ("; ".join(r.describe() for r in rejected)
                      or "squasher's result changes the model state: " + "; ".join(diffs)) + note
        if kind == "django":
            out.reason += " (Django's result is shorter)"
        if django_diffs and len(best) > django_count:
            out.reason += (" (longer than Django's result, which changes the model state: "
                           + "; ".join(django_diffs) + ")")
    elif first is not result and not _differences(before, first, app_label, from_state):
        # Django's result is wrong (see rules.py corrections); ours is longer but right.
        out.operations = first
        out.reason = (
            "longer than Django's result, which changes the model state: "
            + "; ".join(django_diffs)
        )
    else:
        out.operations, out.fallback = original, "unoptimized"
        out.reason = (
            "squasher's and Django's results change the model state: "
            + "; ".join(diffs) + " / Django: " + "; ".join(django_diffs)
        )
    out.seconds = time.perf_counter() - started
    return out


@dataclass
class Rejected:
    """A reduction the guard's local fallback left out: applying it changes the state."""

    rule: str
    operations: list[str]  # describe() of the two operations
    result: list[str]  # describe() of what they would have become
    differences: list[str]
    #: the two operation objects (the squash maps them back to their migrations)
    sources: list[Operation] = field(default_factory=list, repr=False, compare=False)

    def describe(self) -> str:
        return (f"rule {self.rule} left out: {' + '.join(self.operations)} -> "
                f"{' + '.join(self.result) or 'nothing'} changes the model state "
                f"({'; '.join(self.differences)})")

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule, "operations": self.operations, "result": self.result,
                "differences": self.differences}


def _describe(op: Operation) -> str:
    try:
        return str(op.describe())
    except Exception:  # noqa: BLE001 - a custom operation's describe() may fail
        return type(op).__name__


class _Replay:
    """Gate for :func:`squasher_pass`: numbers the reductions of a run in the order the
    engine applies them (the engine is deterministic for one input), vetoes the numbers in
    ``vetoes`` and every one after ``limit``."""

    def __init__(self, vetoes: set[int], limit: int | None = None) -> None:
        self.vetoes, self.limit = vetoes, limit
        self.count = 0
        self.last: tuple[Operation, Operation, list[Operation], str | None] | None = None
        # a vetoed pair stays vetoed for the rest of the run (later passes offer it again)
        self.blocked: set[tuple[int, int]] = set()

    def __call__(self, left: Operation, right: Operation, result: list[Operation],
                 rule: str | None) -> bool:
        self.count += 1
        pair = (id(left), id(right))
        if pair in self.blocked:
            return False
        if self.count in self.vetoes:
            self.blocked.add(pair)
            return False
        if self.limit is not None and self.count > self.limit:
            return False
        self.last = (left, right, result, rule)
        return True


#: the local fallback gives up (and the squash takes Django's result, or the unoptimized
#: list) after this many state-changing reductions: one is a bug worth reporting, dozens
#: mean the rule set is wrong for this input.
MAX_REJECTED = 8


def _local_search(
    operations: list[Operation], before: ProjectState, app_label: str,
    from_state: ProjectState | None, rules: frozenset[str],
) -> tuple[list[Operation], list[Rejected], dict[str, int]] | None:
    """``operations`` optimized with only the reductions that change the state left out.

    A run is a sequence of reductions r1, r2, ... each turning one valid operation list
    into another.  The list after r1..rN ("prefix N") is guard-equal to the input for
    N = 0 and not for the whole run, so a bisection over N finds some N with prefix N-1
    equal and prefix N not: reduction N on its own changes the state.  It is vetoed and
    the run repeated; runs are deterministic, so reductions before N recur unchanged and
    the next culprit lies after N.  Each culprit costs log2(reductions) engine runs and
    guard checks.  Returns None when even the run with every reduction vetoed fails
    (then no reduction is to blame: the pre-pass or a patched pass is)."""
    vetoes: set[int] = set()
    rejected: list[Rejected] = []

    def run(limit: int | None) -> tuple[list[Operation], dict[str, int], _Replay]:
        gate = _Replay(vetoes, limit)
        ops_out, stats = squasher_pass(list(operations), app_label, from_state, rules, gate=gate)
        return ops_out, stats, gate

    floor = max(vetoes, default=0)
    for _ in range(MAX_REJECTED + 1):
        result, stats, gate = run(None)
        if not _differences(before, result, app_label, from_state):
            return result, rejected, stats
        if len(rejected) == MAX_REJECTED:
            return None
        lo, hi = floor, gate.count  # prefix lo passes the guard, prefix hi does not
        low_ops, _, _ = run(lo)
        if _differences(before, low_ops, app_label, from_state):
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            mid_ops, _, _ = run(mid)
            if _differences(before, mid_ops, app_label, from_state):
                hi = mid
            else:
                lo = mid
        bad_ops, _, bad_gate = run(hi)
        assert bad_gate.last is not None
        left, right, reduced, rule = bad_gate.last
        vetoes.add(hi)
        floor = hi
        rejected.append(Rejected(
            rule=rule or "django_reduce", operations=[_describe(left), _describe(right)],
            result=[_describe(op) for op in reduced],
            differences=_differences(before, bad_ops, app_label, from_state),
            sources=[left, right]))
    return None


def _differences(
    before: ProjectState, candidate: list[Operation], app_label: str,
    from_state: ProjectState | None,
) -> list[str]:
    try:
        after = project_state(candidate, app_label, from_state)
    except Exception as exc:  # noqa: BLE001
        return [f"cannot apply: {type(exc).__name__}: {exc}"]
    return state_differences(before, after)
