"""Checks for the chapter 01 (system models, CAP and consistency) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message and prints a
"right: ..." line otherwise. Expected answers are computed — by the linearizability checker, the
sequential/causal checkers of :mod:`distlib.storage.register` and the simulator — never stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from distlib.check.consistency import (
    LEVELS,
    causally_consistent,
    consistency_level,
    history_from_rows,
    sequentially_consistent,
)
from distlib.check.linearizability import LinOp, check_linearizability
from distlib.check.models import UNKNOWN, CASRegister, ModelOp, Register
from distlib.sim import FaultSchedule, History
from distlib.sim.faults import PartitionFault
from distlib.storage.register import run_register

from .feedback import check_schedule
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

_WHY = {
    # reasons keyed by the *true* level; the level itself is computed by the checkers
    "linearizable": "there is an order that respects real time and the register's rules (the "
                    "linearizability checker finds the witness)",
    "sequential": "the read returns a value that was already overwritten before it began: real time "
                  "is broken, so it is not linearizable — but placing the read earlier gives one order "
                  "that keeps every client's program order, so it is sequentially consistent",
    "causal": "two clients see the two concurrent writes in opposite orders: no single order "
              "explains both (not sequential), but the writes are causally unrelated, so each client "
              "may order them its own way (causal)",
    "eventual": "a client sees effects out of causal order (a write it knows about disappears from "
                "view, or its own write vanishes for it): not causal; only the weak promise that "
                "replicas converge later is left (eventual)",
    "none": "a read returns a value nobody wrote",
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


def _facts(h: History) -> str:
    lin = check_linearizability(h, Register(None)).ok
    seq = sequentially_consistent(h)
    cau = causally_consistent(h)
    return f"linearizable: {lin}, sequential: {seq}, causal: {cau}"


def check_classification(answer: Any) -> None:
    """Exercise models-classify: the strongest consistency model each history satisfies."""
    names = sorted(CLASSIFY_ROWS)
    if not isinstance(answer, dict) or sorted(answer) != names:
        _fail(f"the answer must be a dict with exactly the keys {names} (got {answer!r}).")
    for name in names:
        if answer[name] not in LEVELS:
            _fail(f"answer[{name!r}] = {answer[name]!r}; use one of {LEVELS}.")
    for name, h in classify_histories().items():
        expected = consistency_level(h)
        got = answer[name]
        if got != expected:
            rank = LEVELS.index
            direction = ("too strong" if rank(got) < rank(expected) else "too weak")
            _fail(f"{name} is {expected!r}, not {got!r} ({direction}): {_WHY[expected]}. "
                  f"The checkers say {_facts(h)}.")
    print(f"right: all {len(names)} histories classified at their strongest model.")


# ---- ap-partition ----------------------------------------------------------------------------------
HUNT = dict(seed=1, until=3.0)


def hunt_run(mode: str, schedule: FaultSchedule | None = None) -> Any:
    """The bug-hunt scenario: ``run_register(mode, seed=1, until=3.0, faults=schedule)``."""
    return run_register(mode, HUNT["seed"], until=HUNT["until"], faults=schedule)


def check_ap_partition(schedule: Any) -> None:
    """Exercise ap-partition: a partition schedule under which the AP register is not linearizable."""
    check_schedule(schedule, min_faults=1, max_faults=2)
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


def check_cas_model(step: Callable[[Any, ModelOp], tuple[bool, Any]]) -> None:
    """Exercise model-cas: a compare-and-set register's sequential specification."""
    reference = CASRegister(0)
    for name in CAS_HISTORIES:
        text, _ = CAS_HISTORIES[name]
        ops = cas_history(name)
        expected = check_linearizability(ops, reference).verdict
        try:
            got = check_linearizability(ops, _StudentModel(step)).verdict
        except _StepError as exc:
            _fail(f"on history {name} ({text}) your {exc}.")
        if got != expected:
            rule = {
                "K2": "a cas swaps only when the current value equals `expected`",
                "K3": "a cas that reports no swap (output False) is legal only when the current "
                      "value differs from `expected`",
                "K6": "a write sets the value",
                "K7": "a timed-out cas has output UNKNOWN: it may have swapped, so the model must "
                      "allow the swap",
                "K8": "a read is legal only when its output equals the current value, and it does not "
                      "change the value",
            }.get(name, "read returns the current value, write sets it, cas swaps only on a match "
                        "and reports False otherwise")
            _fail(f"with your model the checker says {got} on history {name} ({text}); the correct "
                  f"verdict is {expected}. Rule: {rule}.")
    print(f"right: your model gives the correct verdict on all {len(CAS_HISTORIES)} histories.")


__all__ = ["CAS_HISTORIES", "CLASSIFY_ROWS", "cas_history", "check_ap_partition", "check_cas_model",
           "check_classification", "classify_histories", "hunt_run", "show_histories"]
