"""Django's own ``MigrationOptimizer`` result, computed in independent pieces.

Running Django's optimizer on a long list is cubic, so the reference result is computed
on pieces whose results are provably independent:

1. **Segments.** A non-elidable ``RunPython``/``RunSQL``/``SeparateDatabaseAndState``
   (exact classes) is a wall for Django: its ``reduce()`` is the base implementation, so
   ``op.reduce(wall)`` is ``False`` for every built-in operation (no right reduction
   across it) and ``wall.reduce(other)`` is never ``True`` (no left reduction across
   it).  No reduction ever spans a wall, and Django's "first applicable reduction from
   the top" order restricted to one segment is the order it would use on that segment
   alone, so ``optimize(whole) == optimize(seg1) + [wall1] + optimize(seg2) + ...``
   exactly — except that an elidable operation directly before a wall reduces with it,
   and a wall absorbs an elidable operation directly after it (:func:`_segment_result`).
   Only done when every operation is a built-in Django operation.
2. **Components** (length only).  Inside a segment without operations Django treats as
   referencing every model (``DeleteModel``, index/constraint operations, RunPython ...),
   operations whose touch sets (:mod:`.touch`, Django semantics) are disjoint always
   reduce to ``True`` with each other, so each connected component evolves exactly as
   it would alone and the result length is the sum of the component results.

:func:`django_length` uses both; :func:`django_optimize` uses only segments and returns
Django's exact list.  Each piece goes through :func:`fast_django_optimize`, a replay of
Django's algorithm that skips the ``reduce()`` calls whose answer is known.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable

from django.db.migrations import operations as ops_module
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.models import IndexOperation

from .rules import django_reduce
from .touch import RelationGraph, is_inert, touch

_DJANGO_MODULE = "django.db.migrations.operations"


_EMPTY_GRAPH = RelationGraph()


class _Info:
    """Django-semantics touch data of one operation (see :func:`fast_django_optimize`)."""

    __slots__ = ("blocker_keys", "scan_keys", "scan_all", "default")

    def __init__(self, op: Operation, app_label: str) -> None:
        t = touch(op, app_label, _EMPTY_GRAPH, frozenset())  # Django's semantics
        self.blocker_keys = t.keys  # None: every reduce() against it is evaluated
        self.scan_all = False
        self.default = True  # what op.reduce(unrelated) returns
        if getattr(op, "elidable", False) or not type(op).__module__.startswith(_DJANGO_MODULE):
            self.scan_all = True
            self.scan_keys: frozenset[str] = frozenset()
        elif isinstance(op, IndexOperation):
            # Operation.reduce(): False for anything but its own remove/rename
            self.scan_keys, self.default = frozenset({op.model_name_lower}), False
        elif isinstance(op, ops_module.DeleteModel):
            # ModelOperation.reduce(): True unless the other references the model
            self.scan_keys = frozenset({op.name_lower})
        elif t.keys is None:
            self.scan_all = True
            self.scan_keys = frozenset()
        else:
            self.scan_keys = t.keys


def fast_django_optimize(operations: list[Operation], app_label: str) -> list[Operation]:
    """``MigrationOptimizer().optimize()`` — same algorithm, same result — without the
    ``reduce()`` calls whose answer is known.

    Django's loop is replayed exactly (scan from the top, first applicable reduction,
    restart), but for an operation *p* only the later operations that can answer
    something else than *p*'s default are visited: those sharing a model name with
    *p*'s touch set, and those Django treats as referencing every model
    (``DeleteModel``, index operations, RunPython/RunSQL, custom operations).  For
    built-in model and field operations with disjoint touch sets ``reduce()`` returns
    ``True`` (they check ``references_model``/``references_field``, which only answer
    ``True`` for names in the touch set); index operations answer ``False``.
    """
    infos: dict[int, _Info] = {}

    def info(op: Operation) -> _Info:
        found = infos.get(id(op))
        if found is None:
            found = infos[id(op)] = _Info(op, app_label)
        return found

    keep_alive = list(operations)  # ids stay unique while the dict is in use
    current = list(operations)
    while True:
        result = _fast_inner(current, app_label, info)
        if result is None:
            return current
        keep_alive.extend(result)
        current = result


def _fast_inner(ops: list[Operation], app_label: str, info: Callable[[Operation], _Info]
                ) -> list[Operation] | None:
    by_key: dict[str, list[int]] = {}
    universal: list[int] = []
    infos = [info(op) for op in ops]
    for pos, inf in enumerate(infos):
        if inf.blocker_keys is None:
            universal.append(pos)
        else:
            for key in inf.blocker_keys:
                by_key.setdefault(key, []).append(pos)

    def related(keys: frozenset[str] | None, lo: int, hi: int) -> list[int]:
        """Positions in (lo, hi) whose reduce()/answer may differ for these keys."""
        if keys is None:
            return list(range(lo + 1, hi))
        found: set[int] = set()
        for lst in (*(by_key.get(k, ()) for k in keys), universal):
            found.update(lst[bisect_right(lst, lo):bisect_left(lst, hi)])
        return sorted(found)

    n = len(ops)
    for i, op in enumerate(ops):
        inf = infos[i]
        candidates = range(i + 1, n) if inf.scan_all else related(inf.scan_keys, i, n)
        right = True
        previous = i
        for j in candidates:
            if not inf.default and j != previous + 1:
                right = False  # an unrelated operation answered False
            previous = j
            other = ops[j]
            result = django_reduce(op, other, app_label)
            if isinstance(result, list):
                if right:
                    return [*ops[:i], *ops[i + 1:j], *result, *ops[j + 1:]]
                # Unrelated in-between operations answer True: every operation whose
                # default is False (index operations) or whose reduce() is unknown
                # (elidable, custom) is in ``universal`` and thus evaluated.
                between = related(infos[j].blocker_keys, i, j)
                if all(django_reduce(ops[k], other, app_label) is True for k in between):
                    return [*ops[:i], *result, *ops[i + 1:j], *ops[j + 1:]]
                break
            if not result:
                right = False
    return None


def split_segments(operations: list[Operation]) -> list[list[Operation] | Operation]:
    """Alternating segments (lists) and walls (single inert operations)."""
    if not all(type(op).__module__.startswith(_DJANGO_MODULE) for op in operations):
        return [list(operations)]
    pieces: list[list[Operation] | Operation] = []
    current: list[Operation] = []
    for op in operations:
        if is_inert(op):
            pieces.append(current)
            pieces.append(op)
            current = []
        else:
            current.append(op)
    pieces.append(current)
    return pieces


def _segment_result(
    pieces: list[list[Operation] | Operation], index: int, optimized: list[Operation]
) -> list[Operation]:
    """Account for the one way a wall interacts with its neighbours: an elidable operation
    directly before a wall reduces with it (``elidable.reduce(wall) == [wall]``), and a
    wall directly before an elidable operation absorbs it.  In a segment's own result an
    elidable operation can only survive as the last one (it reduces with any successor),
    so it is dropped when a wall follows, or when it is alone and a wall precedes."""
    if optimized and getattr(optimized[-1], "elidable", False):
        wall_after = index + 1 < len(pieces)
        wall_before = index > 0
        if wall_after or (wall_before and len(optimized) == 1):
            return optimized[:-1]
    return optimized


def django_optimize(operations: list[Operation], app_label: str) -> list[Operation]:
    """Exactly ``MigrationOptimizer().optimize(operations, app_label)``, segment by segment."""
    out: list[Operation] = []
    pieces = split_segments(operations)
    for i, piece in enumerate(pieces):
        if isinstance(piece, list):
            optimized = fast_django_optimize(piece, app_label) if piece else []
            out.extend(_segment_result(pieces, i, optimized))
        else:
            out.append(piece)
    return out


def _components(segment: list[Operation], app_label: str) -> list[list[Operation]] | None:
    empty = RelationGraph()
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.setdefault(name, name) != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    keys: list[frozenset[str]] = []
    for op in segment:
        t = touch(op, app_label, empty, frozenset())
        if t.keys is None or not t.keys or getattr(op, "elidable", False):
            return None
        names = sorted(t.keys)
        for other in names[1:]:
            parent[find(other)] = find(names[0])
        keys.append(t.keys)
    groups: dict[str, list[Operation]] = {}
    for op, op_keys in zip(segment, keys, strict=True):
        groups.setdefault(find(next(iter(op_keys))), []).append(op)
    return list(groups.values())


def django_length(operations: list[Operation], app_label: str) -> int:
    """``len(MigrationOptimizer().optimize(operations, app_label))``, computed in pieces."""
    total = 0
    pieces = split_segments(operations)
    for i, piece in enumerate(pieces):
        if not isinstance(piece, list):
            total += 1
            continue
        parts = _components(piece, app_label) if len(piece) > 1 else None
        if parts is None:
            optimized = fast_django_optimize(piece, app_label) if piece else []
            total += len(_segment_result(pieces, i, optimized))
            continue
        # components contain no elidable operation (see _components)
        for part in parts:
            total += len(fast_django_optimize(part, app_label))
    return total
