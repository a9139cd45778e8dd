"""The indexed reduction engine.

Django's ``MigrationOptimizer`` compares every operation with every later operation and
restarts from the top after each reduction (n² ``reduce()`` calls per reduction).  This
engine applies the same pairwise rule — for an operation *p* and a later *x*:

* ``reduce(p, x)`` returns a list and every operation between them let *p* through
  (``reduce(p, k)`` truthy): *right* reduction, the list replaces *x*, *p* goes;
* otherwise, if every operation *k* between them can move across *x*
  (``reduce(k, x) is True``): *left* reduction, the list replaces *p*, *x* goes;
* otherwise *p* is left alone;

but only evaluates pairs whose touch sets (:mod:`.touch`) intersect: every other pair
commutes and counts as ``True``.  Operations live in a doubly linked list with
sortable position keys; a per-model index gives the operations touching a model in
order, so the scan of *p* visits only the operations on its models, and stops at the
first full barrier (an inert RunPython/RunSQL) once a right reduction is impossible —
a left reduction can never cross such a barrier.  After a reduction the pass continues
with the next operation instead of restarting; passes repeat until nothing changes, so
the result is a fixpoint of the same rule Django uses.  After the first pass only
operations related to something that changed in the previous pass (or to the partner
of their failed left reduction) are scanned again.

The reducer decides what "related" means: the squasher reducer (:mod:`.rules`) answers
``True`` for every unrelated pair, which is what makes skipping them exact.
"""

from __future__ import annotations

import enum
import itertools
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final, Literal

from django.db.migrations.operations.base import Operation

from .rules import ReduceResult
from .touch import Touch, is_inert

PairReducer = Callable[[Operation, Operation], tuple[ReduceResult, str | None]]
#: called just before a reduction is applied, with the two operations, the result and the
#: rule; answering False vetoes it (the pair then counts as not commuting, which is always
#: safe).  The guard's local fallback uses it to replay runs reduction by reduction.
Gate = Callable[[Operation, Operation, list[Operation], str | None], bool]
TouchFn = Callable[[Operation], Touch]

_INF = float("inf")


class _Veto(enum.Enum):
    """What :meth:`Engine._apply` answers when the gate vetoes a reduction."""

    VETOED = enum.auto()


_VETOED: Final = _Veto.VETOED


class Node:
    """One operation in the working list."""

    __slots__ = ("op", "key", "serial", "prev", "next", "alive", "touch", "inert", "fresh",
                 "partner")

    def __init__(self, op: Operation, key: tuple[int, ...], serial: int, touch: Touch) -> None:
        self.op = op
        self.key = key
        self.serial = serial
        self.prev: Node | None = None
        self.next: Node | None = None
        self.alive = True
        self.touch = touch
        self.inert = is_inert(op)
        self.fresh = True  # not scanned since it was created
        self.partner: Touch | None = None  # touch set of the failed left-reduction partner

    def entry(self) -> tuple[tuple[int, ...], int, Node]:
        return (self.key, self.serial, self)

    def __lt__(self, other: Node) -> bool:  # only for heap/bisect ties; never reached
        return self.serial < other.serial


Entry = tuple[tuple[int, ...], int, Node]


class Engine:
    """Run reductions to a fixpoint; see module docstring."""

    def __init__(self, operations: list[Operation], reducer: PairReducer, touch_fn: TouchFn,
                 gate: Gate | None = None) -> None:
        self.reducer = reducer
        self.gate = gate
        self.touch_fn = touch_fn
        self.serials = itertools.count()
        self.by_model: dict[str, list[Entry]] = {}
        self.universal: list[Entry] = []
        self.narrowed: list[Entry] = []
        self.barriers: list[Entry] = []
        self.has_elidable = any(getattr(op, "elidable", False) for op in operations)
        self.stats: Counter[str] = Counter()
        self.changed_keys: set[str] = set()
        self.changed_all = False
        self.dirty_keys: set[str] = set()
        self.dirty_all = True
        self.head: Node | None = None
        prev: Node | None = None
        for i, op in enumerate(operations):
            node = self._new_node(op, (i,))
            if prev is None:
                self.head = node
            else:
                prev.next = node
                node.prev = prev
            prev = node

    # -- bookkeeping -------------------------------------------------------------------
    def _new_node(self, op: Operation, key: tuple[int, ...]) -> Node:
        node = Node(op, key, next(self.serials), self.touch_fn(op))
        self._note_change(node)
        entry = node.entry()
        if node.touch.keys is None:
            insort(self.universal, entry)
            if node.inert:
                insort(self.barriers, entry)
        else:
            for name in node.touch.keys:
                insort(self.by_model.setdefault(name, []), entry)
            if node.touch.narrowed:
                insort(self.narrowed, entry)
        return node

    def _note_change(self, node: Node) -> None:
        if node.touch.keys is None:
            self.changed_all = True
        else:
            self.changed_keys |= node.touch.keys

    def _dirty(self, node: Node) -> bool:
        """Can ``node``'s scan outcome differ from its last (fruitless) scan?  Only if an
        operation related to it, or to its failed left-reduction partner, appeared or
        vanished during the previous pass (unrelated ones answer True both before and
        after)."""
        if node.fresh or self.dirty_all or node.touch.keys is None:
            return True
        if node.touch.keys & self.dirty_keys:
            return True
        partner = node.partner
        return partner is not None and (partner.keys is None or bool(partner.keys & self.dirty_keys))

    def _unlink(self, node: Node) -> None:
        self._note_change(node)
        node.alive = False
        if node.prev is not None:
            node.prev.next = node.next
        else:
            self.head = node.next
        if node.next is not None:
            node.next.prev = node.prev

    def _replace(self, node: Node, ops: list[Operation]) -> Node | None:
        """Replace ``node`` by ``ops`` in place; return the first new node (or None)."""
        before, after = node.prev, node.next
        self._unlink(node)
        first: Node | None = None
        prev = before
        for k, op in enumerate(ops):
            key = node.key if len(ops) == 1 else (*node.key, k)
            new = self._new_node(op, key)
            new.prev = prev
            if prev is None:
                self.head = new
            else:
                prev.next = new
            prev = new
            first = first or new
        if prev is not None:
            prev.next = after
        if after is not None:
            after.prev = prev
        return first

    def operations(self) -> list[Operation]:
        return [node.op for node in self._iter(self.head)]

    @staticmethod
    def _iter(start: Node | None, stop: Node | None = None) -> Iterator[Node]:
        node = start
        while node is not None and node is not stop:
            yield node
            node = node.next

    # -- index queries -----------------------------------------------------------------
    def _first_barrier_after(self, node: Node) -> Node | None:
        """The first full barrier (universal inert node) after ``node``."""
        entries = self.barriers
        i = bisect_right(entries, (node.key, _INF))
        while i < len(entries):
            cand = entries[i][2]
            if cand.alive:
                return cand
            del entries[i]
        return None

    def _related_between(self, touch: Touch, lo: Node, hi: Node | None) -> list[Node]:
        """Alive nodes strictly after ``lo`` and before ``hi`` (None = end) that are
        related to ``touch`` (share a model, or universal), in list order."""
        if touch.keys is None:
            return list(self._iter(lo.next, hi))
        lo_key = (lo.key, _INF)
        hi_key = (hi.key, -1) if hi is not None else None
        found: dict[int, Node] = {}
        for entries in (*(self.by_model.get(k, ()) for k in touch.keys), self.universal):
            start = bisect_right(entries, lo_key)
            end = bisect_left(entries, hi_key) if hi_key is not None else len(entries)
            for _, serial, cand in entries[start:end]:
                if cand.alive:
                    found[serial] = cand
        return sorted(found.values(), key=lambda n: n.key)

    def _compact(self) -> None:
        self.universal = [e for e in self.universal if e[2].alive]
        self.barriers = [e for e in self.barriers if e[2].alive]
        self.narrowed = [e for e in self.narrowed if e[2].alive]
        for name, entries in list(self.by_model.items()):
            self.by_model[name] = [e for e in entries if e[2].alive]

    def _narrowed_between(self, lo: Node, hi: Node, related: set[int]) -> set[str]:
        kinds: set[str] = set()
        entries = self.narrowed
        start = bisect_right(entries, (lo.key, _INF))
        end = bisect_left(entries, (hi.key, -1))
        for _, serial, cand in entries[start:end]:
            if cand.alive and serial not in related and cand.touch.narrowed:
                kinds.add(cand.touch.narrowed)
        return kinds

    # -- the algorithm -----------------------------------------------------------------
    def run(self, max_passes: int = 1000) -> list[Operation]:
        """Passes until one changes nothing.  After the first pass only operations whose
        outcome may have changed (see :meth:`_dirty`) are scanned again."""
        for _ in range(max_passes):
            changed = False
            self.dirty_keys, self.dirty_all = self.changed_keys, self.changed_all or self.dirty_all
            self.changed_keys, self.changed_all = set(), False
            node = self.head
            while node is not None:
                if not self._dirty(node):
                    node = node.next
                    continue
                node.fresh = False
                node.partner = None
                nxt = self._scan(node)
                if nxt is False:
                    node = node.next
                else:
                    changed = True
                    node = nxt
            self.stats["passes"] += 1
            self.dirty_all = False
            self._compact()
            if not changed:
                break
        return self.operations()

    def _scan(self, p: Node) -> Node | None | Literal[False]:
        """Try to reduce ``p`` with a later node. Returns False when nothing happened,
        otherwise the node to continue the pass with (None = end of list)."""
        if p.inert and not self.has_elidable:
            return False  # base reduce(): merges only with elidable operations
        stop = self._first_barrier_after(p)
        candidates = self._related_between(p.touch, p, stop.next if stop else None)
        right = True
        passthrough = False
        for x in candidates:
            result, rule = self.reducer(p.op, x.op)
            if isinstance(result, list):
                applied = self._apply(p, x, result, rule, right, passthrough)
                if applied is not _VETOED:
                    return applied
                result = False
            if not result:
                right = False
            elif rule == "option_passthrough":
                passthrough = True
            if x.inert and x.touch.universal and not right:
                break  # no left reduction can cross a full barrier
        return False

    @staticmethod
    def _alive_from(node: Node | None) -> Node | None:
        while node is not None and not node.alive:
            node = node.next
        return node

    def _apply(self, p: Node, x: Node, result: list[Operation], rule: str | None,
               right: bool, passthrough: bool) -> Node | None | Literal[False, _Veto.VETOED]:
        if right:
            if self.gate is not None and not self.gate(p.op, x.op, result, rule):
                return _VETOED
            related = {n.serial for n in self._related_between(p.touch, p, x)}
            crossed = self._narrowed_between(p, x, related)
            resume, x_next = p.next, x.next
            self._unlink(p)
            first = self._replace(x, result)
            if resume is x:
                resume = first or x_next
        else:
            in_between = self._related_between(x.touch, p, x)
            passthrough = False
            for k in in_between:
                res, krule = self.reducer(k.op, x.op)
                if res is not True:
                    p.partner = x.touch
                    return False
                passthrough = passthrough or krule == "option_passthrough"
            if self.gate is not None and not self.gate(p.op, x.op, result, rule):
                return _VETOED
            crossed = self._narrowed_between(p, x, {n.serial for n in in_between})
            after_p = p.next
            first = self._replace(p, result)
            self._unlink(x)
            resume = first or after_p
        if passthrough:
            crossed.add("option_passthrough")
        self._count(rule, crossed, 2 - len(result))
        return self._alive_from(resume)

    def _count(self, rule: str | None, crossed: set[str], removed: int) -> None:
        self.stats["reductions"] += 1
        self.stats[rule or "django_reduce"] += 1
        for kind in crossed:
            name = kind if kind == "option_passthrough" else f"crossed_{kind}_barrier"
            self.stats[name] += 1
        self.stats["ops_removed"] += removed
