"""Checks for the chapter 01 (system models, CAP and consistency) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message and prints a
"right: ..." line otherwise. Expected answers are computed — by the linearizability checker, the
sequential/causal and session-guarantee checkers of :mod:`distlib.check.consistency` and the simulator
— never stored.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from typing import Any

from distlib.check.consistency import (
    LEVELS,
    causally_consistent,
    consistency_level,
    history_from_rows,
    read_your_writes,
    sequentially_consistent,
    session_guarantees,
    session_violations,
)
from distlib.check.linearizability import LinOp, check_linearizability
from distlib.check.models import UNKNOWN, CASRegister, ModelOp, Register
from distlib.grading import guard
from distlib.sim import FaultSchedule, History
from distlib.sim.faults import PartitionFault
from distlib.storage.register import run_register

from .feedback import call_copy, check_schedule, differential, exercise
from .feedback import fail as _fail

# ---- models-classify -----------------------------------------------------------------------------
# (process, f, value, start, end): every operation ok; writes write distinct values; initial None.
CLASSIFY_ROWS: dict[str, list[tuple[str, str, Any, float, float]]] = {
    "H1": [("c1", "write", 1, 0.0, 1.0), ("c2", "read", 1, 0.5, 1.5), ("c2", "read", 1, 2.0, 2.5)],
    "H2": [("c1", "write", 1, 0.0, 1.0), ("c1", "write", 2, 1.5, 2.0), ("c2", "read", 1, 2.5, 3.0)],
    "H3": [("c1", "write", 1, 0.0, 1.0), ("c2", "write", 2, 0.0, 1.0),
           ("c3", "read", 2, 2.0, 2.5), ("c3", "read", 1, 3.0, 3.5),
           ("c4", "read", 1, 2.0, 2.5), ("c4", "read", 2, 3.0, 3.5)],
    "H4": [("c1", "write", 1, 0.0, 1.0), ("c2", "read", 1, 1.5, 2.0), ("c2", "write", 2, 2.5, 3.0),
           ("c3", "read", 2, 3.5, 4.0), ("c3", "read", 1, 4.5, 5.0)],
    "H5": [("c1", "write", 1, 0.0, 1.0), ("c1", "read", None, 1.5, 2.0), ("c2", "read", 1, 2.5, 3.0)],
}

# Why a history is NOT at a level: the property of that level it breaks (no label is revealed).
_BREAKS = {
    "linearizable": "no order of its operations respects real time (an operation that finished before "
                    "another began comes first) and the register's rules: some read returns a value that "
                    "was already overwritten, or not yet written, at every moment of its interval",
    "sequential": "no single order of all operations keeps every client's own order and the register's "
                  "rules — two clients would need to see the writes in different orders",
    "causal": "a client sees effects out of causal order: a write it has already observed (or its own "
              "write) disappears from its view",
    "eventual": "a read returns a value nobody wrote — no replica could ever hold it",
}


def classify_histories() -> dict[str, History]:
    """The histories of the classification exercise, by name."""
    return {name: history_from_rows(rows) for name, rows in CLASSIFY_ROWS.items()}


def show_histories() -> None:
    """Print the classification histories as text (one line per event)."""
    for name, h in classify_histories().items():
        print(f"{name}:")
        for inv, done in h.pairs():
            what = f"write {inv.value!r}" if inv.f == "write" else f"read -> {done.value!r}"
            print(f"   {inv.process}: {what:<12} from t={inv.time:g} to t={done.time:g}")


@exercise("models-classify")
def check_classification(answer: Any) -> None:
    """Exercise models-classify: the strongest consistency model each history satisfies.

    Feedback says why a label is wrong without naming the right one (a retry must reason, not copy).
    """
    names = sorted(CLASSIFY_ROWS)
    if not isinstance(answer, dict) or sorted(answer) != names:
        _fail(f"the answer must be a dict with exactly the keys {names} (got {answer!r}).")
    for name in names:
        if not isinstance(answer[name], str) or answer[name] not in LEVELS:
            _fail(f"answer[{name!r}] = {answer[name]!r}; use one of {LEVELS}.")
    wrong = []
    for name, h in classify_histories().items():
        expected, got = consistency_level(h), answer[name]
        if got == expected:
            continue
        if LEVELS.index(got) < LEVELS.index(expected):
            wrong.append(f"{name} is not {got!r}: {_BREAKS[got]}")
        else:
            wrong.append(f"{name} satisfies a stronger model than {got!r}; give the STRONGEST model it "
                         "satisfies (check the definitions from the strongest down)")
    if wrong:
        _fail(f"{len(wrong)} of {len(names)} histories are misclassified. " + " ".join(
            f"({i}) {w}." for i, w in enumerate(wrong, 1)))
    print(f"right: all {len(names)} histories classified at their strongest model.")


# ---- ap-partition ----------------------------------------------------------------------------------
HUNT = dict(seed=1, until=3.0)


def hunt_run(mode: str, schedule: FaultSchedule | None = None) -> Any:
    """The bug-hunt scenario: ``run_register(mode, seed=1, until=3.0, faults=schedule)``."""
    return run_register(mode, HUNT["seed"], until=HUNT["until"], faults=schedule)


@exercise("ap-partition")
def check_ap_partition(schedule: Any) -> None:
    """Exercise ap-partition: a partition schedule under which the AP register is not linearizable."""
    schedule = check_schedule(schedule, min_faults=1, max_faults=2)
    if not all(isinstance(f, PartitionFault) for f in schedule):
        _fail("use partitions only: the point is that the network, not a crash, forces the choice.")
    try:
        ap = hunt_run("ap", schedule)
    except ValueError as exc:
        _fail(f"the schedule does not fit this cluster (replicas n1, n2, n3): {exc}")
    verdict = ap.check()
    if verdict.verdict == "Unknown":
        _fail("the checker ran out of budget (Unknown is not a pass); use a shorter partition.")
    if verdict.ok:
        ends = [f.at for f in schedule]
        late = all(at >= HUNT["until"] for at in ends)
        hint = ("it starts after the clients stop (t = 3): nothing is left to go wrong"
                if late else "clients on both sides must read and write while it lasts; try cutting "
                "off one replica for at least half a second while the workload runs")
        _fail(f"under '{schedule.describe()}' the AP history is still linearizable "
              f"({ap.summary()}): {hint}.")
    cp = hunt_run("cp", schedule)
    if not cp.check().ok:
        _fail("your schedule also breaks the CP register — that would be a bug in the course; "
              "please report it.")
    print(f"right: '{schedule.describe()}' makes the AP register non-linearizable "
          f"({verdict.reason}); the CP register stays linearizable and serves "
          f"{cp.availability():.0%} of requests instead of {ap.availability():.0%}.")


# ---- model-cas ---------------------------------------------------------------------------------------
INFO = "info"

# (process, f, input, output, call, ret, status); the register starts at 0.
CAS_HISTORIES: dict[str, tuple[str, list[tuple]]] = {
    "K1": ("write 1, then a cas 1->2 that swaps, then a read of 2",
           [("c1", "write", 1, None, 0.0, 1.0, "ok"), ("c2", "cas", (1, 2), True, 2.0, 3.0, "ok"),
            ("c1", "read", None, 2, 4.0, 5.0, "ok")]),
    "K2": ("write 1, then a cas 0->2 that claims it swapped",
           [("c1", "write", 1, None, 0.0, 1.0, "ok"), ("c2", "cas", (0, 2), True, 2.0, 3.0, "ok")]),
    "K3": ("write 1, then a cas 1->2 that claims it did NOT swap",
           [("c1", "write", 1, None, 0.0, 1.0, "ok"), ("c2", "cas", (1, 2), False, 2.0, 3.0, "ok")]),
    "K4": ("write 1, a cas 0->5 that did not swap, a read of 1",
           [("c1", "write", 1, None, 0.0, 1.0, "ok"), ("c2", "cas", (0, 5), False, 2.0, 3.0, "ok"),
            ("c3", "read", None, 1, 4.0, 5.0, "ok")]),
    "K5": ("two concurrent cas 0->1 and 0->2: the first swaps, the second does not; a read of 1",
           [("c1", "cas", (0, 1), True, 0.0, 2.0, "ok"), ("c2", "cas", (0, 2), False, 0.5, 1.5, "ok"),
            ("c3", "read", None, 1, 3.0, 4.0, "ok")]),
    "K6": ("write 3, then a read of 0",
           [("c1", "write", 3, None, 0.0, 1.0, "ok"), ("c2", "read", None, 0, 2.0, 3.0, "ok")]),
    "K7": ("a cas 0->1 that timed out (outcome unknown), then a read of 1",
           [("c1", "cas", (0, 1), UNKNOWN, 0.0, math.inf, INFO), ("c2", "read", None, 1, 2.0, 3.0, "ok")]),
    "K8": ("a read of 0 and a concurrent write 4; then a read of 4",
           [("c1", "read", None, 0, 0.0, 2.0, "ok"), ("c2", "write", 4, None, 0.5, 1.0, "ok"),
            ("c1", "read", None, 4, 3.0, 4.0, "ok")]),
    "K9": ("write 1, then a cas 0->5 that timed out, then a read of 5",
           [("c1", "write", 1, None, 0.0, 1.0, "ok"), ("c2", "cas", (0, 5), UNKNOWN, 2.0, math.inf, INFO),
            ("c3", "read", None, 5, 4.0, 5.0, "ok")]),
}


def cas_history(name: str) -> list[LinOp]:
    """History ``name`` of :data:`CAS_HISTORIES` as checker operations."""
    _, rows = CAS_HISTORIES[name]
    return [LinOp(i, p, f, None, inp, out, a, b, st, b if st == "ok" else a + 0.5)
            for i, (p, f, inp, out, a, b, st) in enumerate(rows)]


class _StudentModel(Register):
    """A CAS register (initial 0) whose ``step`` is the student's function."""

    name = "your cas-register"

    def __init__(self, step: Callable[[Any, ModelOp], tuple[bool, Any]]):
        super().__init__(0)
        self._student_step = step

    def step(self, state: Any, op: ModelOp) -> tuple[bool, Any]:
        try:
            out = self._student_step(state, op)
        except NotImplementedError:
            raise
        except Exception as exc:
            raise _StepError(f"step({state!r}, {op!r}) raised {type(exc).__name__}: {exc}") from None
        if not (isinstance(out, tuple) and len(out) == 2):
            raise _StepError(f"step({state!r}, {op!r}) returned {out!r}; return a pair (ok, new_state)")
        return bool(out[0]), out[1]

    def ignorable(self, op: ModelOp) -> bool:
        return False

    def prune(self, ops: Any, unknown: Any) -> list[bool]:
        return [True] * len(ops)


class _StepError(Exception):
    pass


_CAS_VALUES = (0, 1, 2)


def _step_cases() -> list[tuple[Any, ModelOp]]:
    """Every (state, op) over values 0-2: reads of each value or UNKNOWN, writes (ok or timed out),
    cas with every expected/new pair and output True, False or UNKNOWN."""
    ops = ([ModelOp("read", None, v) for v in (*_CAS_VALUES, UNKNOWN)]
           + [ModelOp("write", v, out) for v in _CAS_VALUES for out in (None, UNKNOWN)]
           + [ModelOp("cas", (e, n), out) for out in (True, False, UNKNOWN)
              for e in _CAS_VALUES for n in _CAS_VALUES])
    return [(state, op) for state in _CAS_VALUES for op in ops]


def _cas_allowed(case: tuple[Any, ModelOp]) -> list[tuple[bool, Any]]:
    """What a correct model may answer; (False, None) stands for "not possible here" (any state)."""
    state, op = case
    no = (False, None)
    if op.f == "read":
        if op.output is UNKNOWN:        # a timed-out read: legal, or skipped — it changes nothing
            return [(True, state), no]
        return [(True, state)] if op.output == state else [no]
    if op.f == "write":
        return [(True, op.input)]
    expected, new = op.input
    if op.output is True:
        return [(True, new)] if state == expected else [no]
    if op.output is False:
        return [(True, state)] if state != expected else [no]
    # UNKNOWN: it may have happened. On a match it swapped; otherwise it failed (no effect) or is skipped.
    return [(True, new)] if state == expected else [no, (True, state)]


def _cas_mistake(unknown_swaps: bool = False, unknown_fails: bool = False, false_anywhere: bool = False,
                 read_any: bool = False) -> Callable[[tuple[Any, ModelOp]], tuple[bool, Any]]:
    def model(case: tuple[Any, ModelOp]) -> tuple[bool, Any]:
        state, op = case
        if op.f == "read":
            return (True, state) if read_any or op.output is UNKNOWN or op.output == state else (False, None)
        if op.f == "write":
            return True, op.input
        expected, new = op.input
        if op.output is UNKNOWN and unknown_swaps:
            return True, new
        if op.output is False or (op.output is UNKNOWN and unknown_fails):
            return (True, state) if false_anywhere or state != expected else (False, None)
        return (True, new) if state == expected else (False, None)
    return model


_CAS_MISTAKES = [
    (_cas_mistake(unknown_swaps=True), "a timed-out cas swaps only if the current value equals `expected` — "
                                       "it may have happened, but a cas that happened on another value "
                                       "swapped nothing"),
    (_cas_mistake(unknown_fails=True), "a timed-out cas (output UNKNOWN) may have swapped: when the current "
                                       "value equals `expected` the model must allow the swap, or a later "
                                       "read of the new value looks impossible"),
    (_cas_mistake(false_anywhere=True), "a cas that reports no swap (output False) is legal only when the "
                                        "current value differs from `expected`"),
    (_cas_mistake(read_any=True), "a read is legal only when its output equals the current value"),
]


def _why_step(case: tuple[Any, ModelOp], got: tuple[bool, Any]) -> str:
    state, op = case
    if op.f == "read":
        return "a read is legal exactly when it returns the current value, and it changes nothing"
    if op.f == "write":
        return "a write is always possible and sets the value to op.input"
    expected, new = op.input
    if op.output is True:
        return "a cas that swapped is legal only when the current value equals `expected`; it sets `new`"
    if op.output is False:
        return "a cas that did not swap is legal only when the current value differs; it changes nothing"
    return ("a timed-out cas may have happened: on a match it swapped to `new`; on another value it "
            "swapped nothing")


@exercise("model-cas")
def check_cas_model(step: Callable[[Any, ModelOp], tuple[bool, Any]]) -> None:
    """Exercise model-cas: a compare-and-set register's sequential specification, on every (state, op)
    over three values, then inside the linearizability checker on small histories."""
    def answer(case: tuple[Any, ModelOp]) -> tuple[bool, Any]:
        out = call_copy(step, *case)
        if not (type(out) is tuple and len(out) == 2 and type(out[0]) is bool):
            _fail(f"step({case[0]!r}, {case[1]!r}) returned {out!r}; return a pair (ok, new_state) with ok "
                  "True or False.")
        return (True, out[1]) if out[0] else (False, None)

    def describe(case: tuple[Any, ModelOp], got: tuple[bool, Any]) -> str:
        shown = got if got[0] else "(False, ...)"
        return f"step({case[0]!r}, {case[1]!r}) returned {shown}"

    n = differential(_step_cases(), answer, _cas_allowed, describe, _why_step, mistakes=_CAS_MISTAKES)
    reference = CASRegister(0)
    for name in CAS_HISTORIES:
        text, _ = CAS_HISTORIES[name]
        ops = cas_history(name)
        try:
            got = check_linearizability(ops, _StudentModel(step)).verdict
        except _StepError as exc:
            _fail(f"on history {name} ({text}) your {exc}.")
        expected = check_linearizability(ops, reference).verdict
        if got != expected:
            _fail(f"with your model the checker says {got} on history {name} ({text}); the correct "
                  f"verdict is {expected}.")
    print(f"right: your model agrees with the specification on all {n} (state, operation) pairs and gives "
          f"the correct verdict on all {len(CAS_HISTORIES)} histories.")



# ---- session-ryw ------------------------------------------------------------------------------------
# A case: the completed operations of a register history, in the order they happened, as
# (client, f, value) tuples — value is the value written, or the value a read returned (None: the
# initial value). Writes write distinct values; every read returns None or a written value.
SessionOps = tuple[tuple[str, str, Any], ...]


def session_ops(run: Any) -> list[tuple[str, str, Any]]:
    """A register run's ``ok`` operations as ``(client, f, value)`` tuples, in invocation order."""
    out = []
    for inv, done in run.history.pairs():
        if done is not None and done.type == "ok":
            out.append((inv.process, inv.f, inv.value if inv.f == "write" else done.value))
    return out


def _history_of(ops: SessionOps) -> History:
    # One operation after another; only each client's own order matters to session guarantees.
    return history_from_rows([(c, f, v, float(2 * i), float(2 * i + 1)) for i, (c, f, v) in enumerate(ops)])


def _interleavings(lanes: list[list[tuple[str, str, Any]]]) -> list[SessionOps]:
    """Every merge of the sessions' operation lists that keeps each session's order."""
    if all(not lane for lane in lanes):
        return [()]
    out: list[SessionOps] = []
    for i, lane in enumerate(lanes):
        if lane:
            rest = lanes[:i] + [lane[1:]] + lanes[i + 1:]
            out.extend((lane[0], *tail) for tail in _interleavings(rest))
    return out


def _session_shapes(total: int) -> list[list[str]]:
    """Every split of ``total`` operations ("w"/"r") into 1-3 non-empty sessions."""
    shapes: list[list[str]] = []
    for k in range(1, min(3, total) + 1):
        for sizes in itertools.product(range(1, total + 1), repeat=k):
            if sum(sizes) != total or list(sizes) != sorted(sizes, reverse=True):
                continue
            for kinds in itertools.product("wr", repeat=total):
                text, lanes = "".join(kinds), []
                for size in sizes:
                    lanes.append(text[:size])
                    text = text[size:]
                shapes.append(lanes)
    return shapes


def _fill(shape: list[str], reads: tuple[Any, ...]) -> list[list[tuple[str, str, Any]]]:
    """Sessions c1, c2, ... of ``shape``: writes numbered 1, 2, ... in session order, reads from ``reads``."""
    value, it, lanes = 0, iter(reads), []
    for k, kinds in enumerate(shape, 1):
        lane = []
        for kind in kinds:
            if kind == "w":
                value += 1
                lane.append((f"c{k}", "write", value))
            else:
                lane.append((f"c{k}", "read", next(it)))
        lanes.append(lane)
    return lanes


def _ryw_cases() -> list[SessionOps]:
    """Every history of 1-4 operations in 1-3 sessions, every value a read may return, every
    interleaving (smallest first); then 400 seeded random ones of up to 9 operations and 6 writes."""
    cases: list[SessionOps] = []
    seen: set[SessionOps] = set()
    for total in range(1, 5):
        for shape in _session_shapes(total):
            writes = sum(lane.count("w") for lane in shape)
            nreads = sum(lane.count("r") for lane in shape)
            for reads in itertools.product((None, *range(1, writes + 1)), repeat=nreads):
                for case in _interleavings(_fill(shape, reads)):
                    if case not in seen:
                        seen.add(case)
                        cases.append(case)
    rng = random.Random(1994)    # Terry et al.'s year: a fixed stream, the same cases every run
    for _ in range(400):
        shape = ["".join(rng.choice("wr") for _ in range(rng.randint(1, 3)))
                 for _ in range(rng.randint(2, 3))]
        while sum(lane.count("w") for lane in shape) > 6:
            shape = [lane.replace("w", "r", 1) for lane in shape]
        writes = sum(lane.count("w") for lane in shape)
        reads = tuple(rng.choice((None, *range(1, writes + 1))) for lane in shape for k in lane if k == "r")
        lanes = _fill(shape, reads)
        merged: list[tuple[str, str, Any]] = []
        while any(lanes):
            lane = rng.choice([lane for lane in lanes if lane])
            merged.append(lane.pop(0))
        cases.append(tuple(merged))
    return cases


def _ryw_expected(case: SessionOps) -> list[bool]:
    return [read_your_writes(_history_of(case))]


def _ryw_mistake(kind: str) -> Callable[[SessionOps], bool]:
    def model(case: SessionOps) -> bool:
        if kind == "sessions-separately":
            # each session with every write (so its reads name a write) but no other session's reads
            return all(read_your_writes(_history_of(tuple(o for o in case if o[0] == c or o[1] == "write")))
                       for c in sorted({o[0] for o in case}))
        position = {v: i for i, (_, f, v) in enumerate(case) if f == "write"}
        last: dict[str, Any] = {}
        written: dict[str, list[Any]] = {}
        for client, f, v in case:
            if f == "write":
                last[client] = v
                written.setdefault(client, []).append(v)
            elif client in last:
                if kind == "own-last-write" and v != last[client]:
                    return False
                if kind == "initial-only" and v is None:
                    return False
                if kind == "list-order" and (v is None or any(position[v] < position[w]
                                                              for w in written[client])):
                    return False
        return True
    return model


_RYW_MISTAKES = [
    (_ryw_mistake("own-last-write"),
     "a read need not return the session's last write: any write ordered no earlier than the session's "
     "writes will do — another client's later write (yours is then in that database, superseded), or an "
     "earlier write of the session itself, if its later write can be ordered before it (read-your-writes "
     "alone does not order a session's own writes: that is monotonic writes)"),
    (_ryw_mistake("initial-only"), "reading the initial value after a write is only the smallest violation: "
                                   "a read of an OLDER write than one's own breaks the guarantee too, unless "
                                   "that write can be ordered after it"),
    (_ryw_mistake("list-order"), "the list is one interleaving of the sessions, not the order of the writes: "
                                 "that order is not given — the history keeps the guarantee if SOME order of "
                                 "the writes fits every session"),
    (_ryw_mistake("sessions-separately"),
     "all servers order the writes alike (the paper's WriteOrder), so ONE order of the writes must fit every "
     "session at once: two sessions can each be fine alone and need opposite orders (c1 wrote 1 and read 2 "
     "while c2 wrote 2 and read 1)"),
]


def _why_ryw(case: SessionOps, got: Any) -> str:
    if got is True:
        return "no order of the writes fits: " + "; ".join(session_violations(_history_of(case),
                                                                               "read-your-writes"))
    return ("some order of the writes lets every read see a database that includes the reader's earlier "
            "writes (a read of a write ordered after yours is fine)")


@exercise("session-ryw")
def check_read_your_writes(reads_your_writes: Callable[[list[tuple[str, str, Any]]], bool]) -> None:
    """Exercise session-ryw: the read-your-writes check (Terry et al. 1994) on every history of up to
    four operations in one to three sessions in every interleaving, seeded random larger ones, then on
    two runs of chapter 01's AP register with wandering clients."""
    def answer(case: SessionOps) -> Any:
        out = call_copy(reads_your_writes, list(case))
        if type(out) is not bool:
            _fail(f"reads_your_writes({list(case)!r}) returned {out!r}; return True or False.")
        return out

    def describe(case: SessionOps, got: Any) -> str:
        return f"reads_your_writes({list(case)!r}) returned {got!r}"

    n = differential(_ryw_cases(), answer, _ryw_expected, describe, _why_ryw, mistakes=_RYW_MISTAKES)
    runs = 0
    for sticky in (False, True):
        run = run_register("ap", 0, clients=2, until=2.0, think=(0.1, 0.3), partition="n1", partition_at=0.5,
                           heal_at=1.5, sticky=sticky)
        ops = tuple(session_ops(run))
        got = answer(ops)
        expected = read_your_writes(run.history)
        if got is not expected:
            _fail(f"on chapter 01's AP run (seed 0, sticky={sticky}) your function returns {got!r}: "
                  f"{_why_ryw(ops, got)}.")
        runs += 1
    print(f"right: your check agrees with the definition on all {n} histories and on {runs} runs of the AP "
          f"register (wandering clients break read-your-writes, sticky ones keep it).")


# ---- session-partition ------------------------------------------------------------------------------
SESSION_HUNT = dict(seed=2, until=3.0)


def session_run(schedule: FaultSchedule | None = None, sticky: bool = False) -> Any:
    """The bug-hunt scenario: ``run_register("ap", seed=2, until=3.0, faults=schedule, sticky=sticky)``
    (each operation goes to a random replica unless ``sticky``)."""
    return run_register("ap", SESSION_HUNT["seed"], until=SESSION_HUNT["until"], faults=schedule,
                        sticky=sticky)


@exercise("session-partition")
def check_session_partition(schedule: Any) -> None:
    """Exercise session-partition: a partition schedule under which clients that wander between the AP
    register's replicas stop reading their own writes."""
    schedule = check_schedule(schedule, min_faults=1, max_faults=2)
    if not all(isinstance(f, PartitionFault) for f in schedule):
        _fail("use partitions only: the point is that the network, not a crash, separates a client's write "
              "from its next read.")
    try:
        loose = session_run(schedule)
    except ValueError as exc:
        _fail(f"the schedule does not fit this cluster (replicas n1, n2, n3): {exc}")
    if read_your_writes(loose.history):
        if all(f.at >= SESSION_HUNT["until"] for f in schedule):
            hint = "it starts after the clients stop (t = 3): nothing is left to go wrong"
        elif not loose.check().ok:
            hint = ("the history is not linearizable (some client read a stale value), yet every client "
                    "still read its own writes: a stale read breaks this guarantee only when the READER "
                    "wrote the newer value. A client must write on one side and then be sent to the other "
                    "side while the partition lasts: make it last longer, or move it")
        else:
            hint = ("the replicas caught up before any client read across it; make it last longer, while "
                    "clients write and read")
        _fail(f"under '{schedule.describe()}' every client of the wandering AP register still reads its own "
              f"writes ({loose.summary()}): {hint}.")
    sticky = session_run(schedule, sticky=True)
    if not read_your_writes(sticky.history):
        _fail("your schedule also breaks read-your-writes with sticky sessions — that would be a bug in the "
              "course; please report it.")
    why = session_violations(loose.history, "read-your-writes")
    print(f"right: under '{schedule.describe()}' wandering clients stop reading their own writes "
          f"({'; '.join(why)}); with sticky sessions every client reads its own writes (linearizable: "
          f"{sticky.check().verdict}).")


guard.protect("models-classify", consistency_level, sequentially_consistent, causally_consistent)
guard.protect("model-cas", (Register, "step"))
guard.protect("session-ryw", read_your_writes, session_violations, session_guarantees)


__all__ = ["CAS_HISTORIES", "CLASSIFY_ROWS", "SESSION_HUNT", "cas_history", "check_ap_partition",
           "check_cas_model", "check_classification", "check_read_your_writes", "check_session_partition",
           "classify_histories", "hunt_run", "session_ops", "session_run", "show_histories"]
