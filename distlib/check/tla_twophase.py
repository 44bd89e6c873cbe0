"""Lamport's TwoPhase TLA+ spec, as actors the explorer can run — a cross-check of the explorer.

The spec (Lamport, ``TwoPhase.tla`` in the TLA+ examples; Gray & Lamport,
"Consensus on Transaction Commit", 2006, §3) has a transaction manager (TM) and
resource managers (RMs)::

    rmState[r] in {working, prepared, committed, aborted}   tmState in {init, committed, aborted}
    tmPrepared  the RMs the TM knows are prepared            msgs  a set of messages that only grows

    TMRcvPrepared(r)   tmState = init, Prepared(r) in msgs       -> tmPrepared += {r}
    TMCommit           tmState = init, tmPrepared = RM           -> tmState = committed, msgs += {Commit}
    TMAbort            tmState = init                            -> tmState = aborted,   msgs += {Abort}
    RMPrepare(r)       rmState[r] = working                      -> prepared,  msgs += {Prepared(r)}
    RMChooseToAbort(r) rmState[r] = working                      -> aborted
    RMRcvCommitMsg(r)  Commit in msgs                            -> committed
    RMRcvAbortMsg(r)   Abort in msgs                             -> aborted

TLC finds 288 reachable states for three RMs. The actor version below reaches
exactly those states when explored with ``keep_messages=True`` (messages are a
set that only grows, delivery never consumes them):

* spontaneous actions (TMCommit, TMAbort, RMPrepare, RMChooseToAbort) are timers
  that are armed exactly while the action is enabled, so the set of armed timers
  is a function of the spec's variables and adds no states;
* the one ``Commit`` (``Abort``) message of the spec is sent to every RM at once,
  so "Commit in msgs" corresponds one-to-one to "Commit to r in flight for each r".

:func:`spec_states` enumerates the spec directly (no actors, no explorer) as an
independent second count.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from distlib.check.explore import ExploreResult, StateView, explore
from distlib.sim.node import Node
from distlib.sim.validate import flag, integer

TLC_STATES_3_RMS = 288   # TLC's count for TwoPhase with RM = {r1, r2, r3}


@dataclass(frozen=True)
class Prepared:
    rm: str


@dataclass(frozen=True)
class Commit:
    pass


@dataclass(frozen=True)
class Abort:
    pass


class TM(Node):
    """The transaction manager of TwoPhase.tla."""

    def __init__(self, rms: tuple[str, ...]):
        self.rms = tuple(rms)

    def on_start(self) -> None:
        self.tm_state = "init"
        self.tm_prepared: frozenset[str] = frozenset()
        self.set_timer("abort", 0)           # TMAbort is enabled while tmState = "init"

    def on_message(self, src: str, msg: Any) -> None:
        # TMRcvPrepared(r): tmState = "init" /\ Prepared(r) \in msgs
        if isinstance(msg, Prepared) and self.tm_state == "init":
            self.tm_prepared = self.tm_prepared | {msg.rm}
            if self.tm_prepared == frozenset(self.rms):
                self.set_timer("commit", 0)  # TMCommit is now enabled

    def on_timer(self, name: str) -> None:
        if self.tm_state != "init":
            return
        if name == "commit":                 # TMCommit: tmPrepared = RM
            self.tm_state = "committed"
            self.cancel_timer("abort")
            for r in self.rms:
                self.send(r, Commit())
        elif name == "abort":                # TMAbort
            self.tm_state = "aborted"
            self.cancel_timer("commit")
            for r in self.rms:
                self.send(r, Abort())


class RM(Node):
    """A resource manager of TwoPhase.tla."""

    def __init__(self, tm: str = "tm"):
        self.tm = tm

    def on_start(self) -> None:
        self.rm_state = "working"
        self.set_timer("prepare", 0)         # RMPrepare(r) and RMChooseToAbort(r): enabled while working
        self.set_timer("choose_abort", 0)

    def _leave_working(self, state: str) -> None:
        self.rm_state = state
        self.cancel_timer("prepare")
        self.cancel_timer("choose_abort")

    def on_timer(self, name: str) -> None:
        if self.rm_state != "working":
            return
        if name == "prepare":                # RMPrepare(r)
            self._leave_working("prepared")
            self.send(self.tm, Prepared(self.id))
        elif name == "choose_abort":         # RMChooseToAbort(r)
            self._leave_working("aborted")

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Commit):          # RMRcvCommitMsg(r)
            self._leave_working("committed")
        elif isinstance(msg, Abort):         # RMRcvAbortMsg(r)
            self._leave_working("aborted")


def twophase_nodes(n_rms: int = 3) -> dict[str, tuple[type[Node], dict[str, Any]]]:
    """``{"tm": (TM, ...), "r1": (RM, ...), ...}`` for :func:`~distlib.check.explore.explore`."""
    integer("n_rms", n_rms, 1, 6)
    rms = tuple(f"r{i}" for i in range(1, n_rms + 1))
    nodes: dict[str, tuple[type[Node], dict[str, Any]]] = {"tm": (TM, {"rms": rms})}
    nodes.update({r: (RM, {"tm": "tm"}) for r in rms})
    return nodes


def tc_consistent(view: StateView) -> bool | str:
    """TCConsistent: no RM has committed while another has aborted."""
    states = {n: s["rm_state"] for n, s in view.states.items() if "rm_state" in s}
    done = sorted(n for n, s in states.items() if s == "committed")
    gone = sorted(n for n, s in states.items() if s == "aborted")
    if done and gone:
        return f"{', '.join(done)} committed but {', '.join(gone)} aborted"
    return True


def type_ok(view: StateView) -> bool | str:
    """TPTypeOK: every variable holds a value of its declared type."""
    for n, s in view.states.items():
        if "rm_state" in s and s["rm_state"] not in ("working", "prepared", "committed", "aborted"):
            return f"rmState[{n}] = {s['rm_state']!r}"
        if "tm_state" in s and s["tm_state"] not in ("init", "committed", "aborted"):
            return f"tmState = {s['tm_state']!r}"
    return True


def check_twophase(n_rms: int = 3, **kwargs: Any) -> ExploreResult:
    """Explore TwoPhase with ``n_rms`` RMs in TLA+'s message model; 288 states for 3 RMs."""
    return explore(twophase_nodes(n_rms), {"TPTypeOK": type_ok, "TCConsistent": tc_consistent},
                   keep_messages=True, **kwargs)


def spec_states(n_rms: int = 3, *, symmetric: bool = False) -> int:
    """Count TwoPhase's reachable states straight from the spec's actions (no actors).

    ``symmetric=True`` counts them up to renaming the RMs (the orbits under every permutation
    of RM), the number the explorer's symmetry reduction must reach: 80 for three RMs.
    """
    integer("n_rms", n_rms, 1, 6)
    flag("symmetric", symmetric)
    rms = range(n_rms)
    # state = (rmState tuple, tmState, tmPrepared frozenset, msgs frozenset)
    init = (("working",) * n_rms, "init", frozenset(), frozenset())

    def next_states(s: tuple) -> list[tuple]:
        rm, tm, prep, msgs = s
        out = []

        def set_rm(r: int, v: str) -> tuple[str, ...]:
            return rm[:r] + (v,) + rm[r + 1:]

        for r in rms:
            if tm == "init" and ("Prepared", r) in msgs:
                out.append((rm, tm, prep | {r}, msgs))                           # TMRcvPrepared(r)
            if rm[r] == "working":
                out.append((set_rm(r, "prepared"), tm, prep, msgs | {("Prepared", r)}))  # RMPrepare
                out.append((set_rm(r, "aborted"), tm, prep, msgs))               # RMChooseToAbort
            if ("Commit",) in msgs:
                out.append((set_rm(r, "committed"), tm, prep, msgs))             # RMRcvCommitMsg
            if ("Abort",) in msgs:
                out.append((set_rm(r, "aborted"), tm, prep, msgs))               # RMRcvAbortMsg
        if tm == "init" and prep == frozenset(rms):
            out.append((rm, "committed", prep, msgs | {("Commit",)}))             # TMCommit
        if tm == "init":
            out.append((rm, "aborted", prep, msgs | {("Abort",)}))                # TMAbort
        return out

    seen = {init}
    queue = deque([init])
    while queue:
        for t in next_states(queue.popleft()):
            if t not in seen:
                seen.add(t)
                queue.append(t)
    if not symmetric:
        return len(seen)

    def renamed(s: tuple, to: tuple[int, ...]) -> tuple:   # RM r becomes RM to[r]
        rm, tm, prep, msgs = s
        new_rm = [""] * n_rms
        for r in rms:
            new_rm[to[r]] = rm[r]
        new_msgs = sorted(("Prepared", to[m[1]]) if m[0] == "Prepared" else m for m in msgs)
        return tuple(new_rm), tm, tuple(sorted(to[r] for r in prep)), tuple(new_msgs)

    return len({min(renamed(s, to) for to in itertools.permutations(rms)) for s in seen})
