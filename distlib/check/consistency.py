"""Weaker consistency models than linearizability, decided exactly by enumeration.

For the tiny histories of chapter 01: is a history sequentially consistent (Lamport 1979: one
total order that respects each process's program order), causally consistent (each process sees
a legal serialization of the writes that causally precede its reads)? ``consistency_level``
names the strongest of linearizable > sequential > causal > eventual that a history satisfies.
Exponential in the history size: never use these on large histories.

Session guarantees (Terry, Demers, Petersen, Spreitzer, Theimer & Welch, "Session Guarantees
for Weakly Consistent Replicated Data", PDIS 1994) are promises to one client — its *session*,
here a history's process — rather than about the whole system: :func:`read_your_writes`,
:func:`monotonic_reads`, :func:`writes_follow_reads`, :func:`monotonic_writes`,
:func:`session_guarantees` (all four, each on its own) and :func:`session_violations` (any set of
them together, with the reasons). They are polynomial (a cycle search), fit for whole runs.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from distlib.check.linearizability import check_linearizability, operations_from_history
from distlib.check.models import UNKNOWN, Model, Register
from distlib.sim import History, Op
from distlib.sim.validate import one_of

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


# ---- session guarantees (Terry et al. 1994) --------------------------------------------------------
SESSION_GUARANTEES = ("read-your-writes", "monotonic-reads", "writes-follow-reads", "monotonic-writes")
_INITIAL = object()   # stands for the write of the initial value, before every other write


def session_violations(history: Iterable[Op], guarantees: str | Sequence[str] = SESSION_GUARANTEES,
                       initial: Any = None) -> list[str]:
    """Why ``history`` breaks the session ``guarantees`` taken together (``[]``: it keeps them).

    Terry et al. (PDIS 1994) define the guarantees on the servers' databases: ``DB(S, t)`` is the
    ordered sequence of writes server S has received by time t, and all servers order writes alike
    (``WriteOrder``: with total propagation, that consistent ordering is their eventual
    consistency). For the reads and writes of one session, in the paper's words:

    * **read your writes** — if read R follows write W, W is included in DB(S, t), where S
      performs R at time t;
    * **monotonic reads** — if R1 occurs before R2, RelevantWrites(S1, t1, R1) is a subset of
      DB(S2, t2);
    * **writes follow reads** — if R1 precedes write W2, then for any server S2, if W2 is in
      DB(S2) then any W1 in RelevantWrites(S1, t1, R1) is also in DB(S2) and WriteOrder(W1, W2);
    * **monotonic writes** — if W1 precedes W2, then for any server S2, if W2 is in DB(S2) then
      W1 is also in DB(S2) and WriteOrder(W1, W2).

    A client's history shows no databases, only what reads returned. For a register (each key
    its own) whose writes write distinct values, a read names the one write it saw, ``w(R)``: the
    last write of its server's database in WriteOrder (the initial value counts as a write before
    all others), so a database that includes W and answers ``w(R)`` has ``W ⪯ w(R)``. With ``≺``
    a WriteOrder to be found and "precedes" a session's program order, the guarantees become:

    * read your writes: W precedes R  ⇒  ``W ⪯ w(R)``
    * monotonic reads: R1 precedes R2  ⇒  ``w(R1) ⪯ w(R2)``
    * writes follow reads: R1 precedes W2  ⇒  ``w(R1) ≺ W2``
    * monotonic writes: W1 precedes W2  ⇒  ``W1 ≺ W2``

    The history keeps the chosen guarantees iff ONE total order of the writes meets all these
    constraints of all sessions, i.e. iff their graph over writes has no cycle (found by a
    depth-first search: polynomial). The paper offers the guarantees à la carte, and each alone
    is weaker than several together: "write 1, write 2, read 1" keeps read-your-writes (2 may be
    ordered before 1) but not read-your-writes with monotonic writes. A session is a history's
    process; only its ``ok`` operations are its own, an ``info`` write (outcome unknown) may
    still be the one a read saw, and ``fail`` operations never happened.
    """
    wanted = _guarantees(guarantees)
    ops = [op for op in operations_from_history(list(history)) if op.status != "fail"]
    writes: dict[tuple[Hashable, Hashable], Any] = {}     # (key, value) -> its write
    for op in ops:
        if op.f == "write":
            if op.input == initial or (op.key, op.input) in writes:
                raise ValueError(f"history: session guarantees need every write of a key to write a distinct "
                                 f"value other than the initial one ({op.input!r} is written twice)")
            writes[(op.key, op.input)] = op
    problems: list[str] = []
    edges: dict[Hashable, list[tuple[Hashable, str]]] = {}   # a -> [(b, why a comes no later than b)]

    def edge(a: Hashable, b: Hashable, why: str) -> None:
        if a != b:
            edges.setdefault(a, []).append((b, why))

    def seen(r: Any) -> Hashable | None:
        if r.output == initial:
            return (r.key, _INITIAL)
        if (r.key, r.output) not in writes:
            problems.append(f"{r.process} read {r.output!r}, which no write wrote")
            return None
        return (r.key, r.output)

    for key, value in writes:
        edge((key, _INITIAL), (key, value), f"the initial value {initial!r} comes before every write")
    lanes: dict[str, list[Any]] = {}
    for op in ops:                       # invocation order: each process's program order
        lanes.setdefault(op.process, []).append(op)
    for process, lane in sorted(lanes.items()):
        my_writes: list[Any] = []
        my_reads: list[tuple[Any, Hashable]] = []
        for op in lane:
            if op.status != "ok":
                continue
            if op.f == "read":
                got = seen(op)
                if got is None:
                    continue
                if "read-your-writes" in wanted:
                    for w in my_writes:
                        if w.key == op.key:
                            edge((w.key, w.input), got, f"{process} wrote {w.input!r}, then read "
                                                        f"{op.output!r} [read-your-writes]")
                if "monotonic-reads" in wanted:
                    for r, saw in my_reads:
                        if r.key == op.key:
                            edge(saw, got, f"{process} read {r.output!r}, then {op.output!r} "
                                           f"[monotonic-reads]")
                my_reads.append((op, got))
            elif op.f == "write":
                me = (op.key, op.input)
                if "writes-follow-reads" in wanted:
                    for r, saw in my_reads:
                        if r.key == op.key:
                            edge(saw, me, f"{process} read {r.output!r}, then wrote {op.input!r} "
                                          f"[writes-follow-reads]")
                if "monotonic-writes" in wanted:
                    for w in my_writes:
                        if w.key == op.key:
                            edge((w.key, w.input), me, f"{process} wrote {w.input!r}, then {op.input!r} "
                                                       f"[monotonic-writes]")
                my_writes.append(op)
    cycle = _find_cycle(edges)
    if cycle:
        problems.append("no order of the writes fits: " + "; ".join(cycle))
    return problems


def _find_cycle(edges: dict[Hashable, list[tuple[Hashable, str]]]) -> list[str]:
    """The reasons along one cycle of ``edges`` ([] if there is none); iterative DFS, in insertion order."""
    state: dict[Hashable, int] = {}          # 1: on the current path, 2: done
    for root in list(edges):
        if state.get(root):
            continue
        path: list[tuple[Hashable, str]] = [(root, "")]
        stack = [iter(edges.get(root, ()))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()[0]] = 2
                stack.pop()
                continue
            node, why = nxt
            if state.get(node) == 1:         # back to a node on the path: a cycle
                start = next(i for i, (n, _) in enumerate(path) if n == node)
                return [w for _, w in path[start + 1:]] + [why]
            if not state.get(node):
                state[node] = 1
                path.append((node, why))
                stack.append(iter(edges.get(node, ())))
    return []


def _guarantees(guarantees: str | Sequence[str]) -> frozenset[str]:
    names = (guarantees,) if isinstance(guarantees, str) else guarantees
    if not isinstance(names, (list, tuple)) or not names:
        raise ValueError(f"guarantees must be one or more of {', '.join(SESSION_GUARANTEES)} "
                         f"(got {guarantees!r})")
    return frozenset(str(one_of("guarantees", g, SESSION_GUARANTEES)) for g in names)


def read_your_writes(history: Iterable[Op], initial: Any = None) -> bool:
    """Does every read of a session reflect the session's earlier writes? (see :func:`session_violations`)"""
    return not session_violations(history, "read-your-writes", initial)


def monotonic_reads(history: Iterable[Op], initial: Any = None) -> bool:
    """Does no read of a session see an older state than an earlier read of it did?"""
    return not session_violations(history, "monotonic-reads", initial)


def writes_follow_reads(history: Iterable[Op], initial: Any = None) -> bool:
    """Is every write of a session ordered after the writes its earlier reads saw?"""
    return not session_violations(history, "writes-follow-reads", initial)


def monotonic_writes(history: Iterable[Op], initial: Any = None) -> bool:
    """Are a session's writes ordered as the session issued them?

    Alone this never fails on a register history: it constrains only the order of writes, and
    reads reveal that order only through the read-side guarantees. "write 1, write 2, read 1"
    passes each guarantee alone but not ``session_violations(h, ("read-your-writes",
    "monotonic-writes"))`` — with last-writer-wins on skewed clocks, 2 may really be ordered first.
    """
    return not session_violations(history, "monotonic-writes", initial)


def session_guarantees(history: Iterable[Op], initial: Any = None) -> dict[str, bool]:
    """Each of the four guarantees, checked on its own: ``{"read-your-writes": True, ...}``."""
    hist = list(history)
    return {g: not session_violations(hist, g, initial) for g in SESSION_GUARANTEES}


__all__ = ["LEVELS", "SESSION_GUARANTEES", "causally_consistent", "consistency_level", "history_from_rows",
           "monotonic_reads", "monotonic_writes", "read_your_writes", "sequentially_consistent",
           "session_guarantees", "session_violations", "writes_follow_reads"]
