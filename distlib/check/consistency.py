"""Weaker consistency models than linearizability, decided exactly by enumeration.

For the tiny histories of chapter 01: is a history sequentially consistent (Lamport 1979: one
total order that respects each process's program order), causally consistent (each process sees
a legal serialization of the writes that causally precede its reads)? ``consistency_level``
names the strongest of linearizable > sequential > causal > eventual that a history satisfies.
Exponential in the history size: never use these on large histories.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from distlib.check.linearizability import check_linearizability, operations_from_history
from distlib.check.models import UNKNOWN, Model, Register
from distlib.sim import History, Op

LEVELS = ("linearizable", "sequential", "causal", "eventual", "none")


def _program(history: Iterable[Op]) -> dict[str, list[Any]]:
    """Each process's completed ok/info operations in program order (fail ops never happened)."""
    out: dict[str, list[Any]] = {}
    for op in operations_from_history(list(history)):
        if op.status != "fail":
            out.setdefault(op.process, []).append(op)
    return {p: out[p] for p in sorted(out)}


def sequentially_consistent(history: Iterable[Op], model: Model | None = None) -> bool:
    """Lamport (1979): is there ONE order of all operations, keeping each process's program order
    (but ignoring real time across processes), that the sequential model accepts?

    Timed-out (``info``) operations may be placed or left out.
    """
    model = model if model is not None else Register(None)
    prog = _program(history)
    lanes = list(prog.values())
    seen: set[tuple[tuple[int, ...], Hashable]] = set()

    def search(pos: tuple[int, ...], state: Hashable) -> bool:
        if all(p == len(lane) for p, lane in zip(pos, lanes, strict=True)):
            return True
        if (pos, state) in seen:
            return False
        seen.add((pos, state))
        for i, lane in enumerate(lanes):
            if pos[i] == len(lane):
                continue
            op = lane[pos[i]]
            nxt = pos[:i] + (pos[i] + 1,) + pos[i + 1:]
            ok, new = model.step(state, op.model_op)
            if ok and search(nxt, new):
                return True
            if op.status == "info" and search(nxt, state):   # it may never have happened
                return True
        return False

    return search(tuple(0 for _ in lanes), model.init())


def causally_consistent(history: Iterable[Op], initial: Any = None) -> bool:
    """Causal memory (Ahamad et al., 1995) for a register whose writes write distinct values.

    Causal order = each process's program order plus "a read returning v comes after the write
    of v", closed transitively. The history is causal if it is acyclic and every process can
    explain what IT saw: some order of all writes plus its own reads that extends causal order
    and in which each read returns the latest preceding write (or ``initial``).
    """
    prog = _program(history)
    ops = [op for lane in prog.values() for op in lane]
    n = len(ops)
    writes = [i for i, o in enumerate(ops) if o.f == "write"]
    by_value: dict[Hashable, int] = {}
    for i in writes:
        if ops[i].input in by_value:
            raise ValueError("history: causally_consistent needs each write to write a distinct value "
                             f"({ops[i].input!r} is written twice)")
        by_value[ops[i].input] = i
    before = [set() for _ in range(n)]          # before[j]: ops causally before j (direct)
    k = 0
    for lane in prog.values():
        for j in range(1, len(lane)):
            before[k + j].add(k + j - 1)
        k += len(lane)
    for j, o in enumerate(ops):
        if o.f == "read" and o.status == "ok" and o.output != initial:
            if o.output not in by_value:
                return False                    # a value nobody wrote: not even eventual
            before[j].add(by_value[o.output])
    # transitive closure (tiny n) and a cycle check
    closure = [set(b) for b in before]
    changed = True
    while changed:
        changed = False
        for j in range(n):
            extra = set().union(*(closure[i] for i in closure[j])) - closure[j] if closure[j] else set()
            if extra:
                closure[j] |= extra
                changed = True
    if any(j in closure[j] for j in range(n)):
        return False
    for lane_ops in prog.values():
        mine = [ops.index(o) for o in lane_ops if o.f == "read"]
        subset = sorted(set(writes) | set(mine))
        if not _serializable(ops, subset, closure, initial):
            return False
    return True


def _serializable(ops: list[Any], subset: list[int], closure: list[set[int]], initial: Any) -> bool:
    """Is there an order of ``subset`` extending causal order where each ok read sees the last write?"""
    members = set(subset)
    seen: set[tuple[frozenset[int], Hashable]] = set()

    def search(placed: frozenset[int], value: Hashable) -> bool:
        if len(placed) == len(members):
            return True
        if (placed, value) in seen:
            return False
        seen.add((placed, value))
        for i in subset:
            if i in placed or not (closure[i] & members) <= placed:
                continue
            o = ops[i]
            if o.f == "write":
                if search(placed | {i}, o.input):
                    return True
            elif o.output is UNKNOWN or o.status != "ok" or o.output == value:
                if search(placed | {i}, value):
                    return True
        return False

    return search(frozenset(), initial)


def consistency_level(history: Iterable[Op], initial: Any = None) -> str:
    """The strongest of :data:`LEVELS` the register history satisfies.

    "eventual" means only that every read returned a value someone wrote (or ``initial``): a
    finite history cannot violate eventual consistency otherwise, since that promise is about
    the replicas converging *later*. "none" means a read returned a value nobody wrote.
    """
    hist = list(history)
    if check_linearizability(hist, Register(initial)).ok:
        return "linearizable"
    if sequentially_consistent(hist, Register(initial)):
        return "sequential"
    written = {o.value for o in hist if o.f == "write" and o.type == "invoke"}
    reads_ok = all(o.value in written or o.value == initial
                   for o in hist if o.f == "read" and o.type == "ok")
    if not reads_ok:
        return "none"
    if causally_consistent(hist, initial):
        return "causal"
    return "eventual"


def history_from_rows(rows: Sequence[tuple[str, str, Any, float, float]]) -> History:
    """Build a history from ``(process, f, value, start, end)`` rows (all ``ok``), e.g.
    ``("c1", "write", 1, 0.0, 1.0)`` or ``("c2", "read", 1, 1.5, 2.0)``; handy for small examples."""
    events: list[tuple[float, int, Op]] = []
    for row in rows:
        if not (isinstance(row, (tuple, list)) and len(row) == 5):
            raise ValueError(f"rows must be (process, f, value, start, end) tuples (got {row!r})")
        p, f, v, a, b = row
        if f not in ("read", "write"):
            raise ValueError(f"f must be 'read' or 'write' (got {f!r})")
        if not b > a:
            raise ValueError(f"end must be > start (got {a!r}, {b!r} for {row!r})")
        # at equal times a completion sorts before an invocation (a process's next op may start
        # the instant its previous one ends)
        events.append((a, 1, Op(p, "invoke", f, None, v if f == "write" else None, a)))
        events.append((b, 0, Op(p, "ok", f, None, v if f == "read" else None, b)))
    events.sort(key=lambda e: (e[0], e[1]))
    return History(op for _, _, op in events)


__all__ = ["LEVELS", "causally_consistent", "consistency_level", "history_from_rows",
           "sequentially_consistent"]
