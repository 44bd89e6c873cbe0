"""Checks for the chapter 02 (Paxos) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message
naming the rule of Lamport's "Paxos Made Simple" (2001) the answer broke, and prints a
"right: ..." line otherwise. Expected answers are computed — by feeding the same
messages to the library's :class:`~distlib.consensus.paxos.PaxosNode` or by running the
simulator — never stored.

The acceptor exercises use a plain-dict state ``{"promised": Ballot | None,
"accepted_n": Ballot | None, "accepted_v": value | None}`` and tuple replies
``("promise", accepted_n, accepted_v)``, ``("accepted", n, v)`` or ``("nack", promised)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distlib.consensus.paxos import (
    Ballot,
    Nack,
    NoAdoptProposer,
    PaxosNode,
    Promise,
    run_paxos,
)

from .feedback import call as _call
from .feedback import check_schedule
from .feedback import fail as _fail

NODES = ["n1", "n2", "n3"]
EMPTY = {"promised": None, "accepted_n": None, "accepted_v": None}




def late_proposer_faults() -> Any:
    """n2 cut off from n1 and n3 until t=0.15: it does not hear that 'A' was chosen."""
    from distlib.sim import FaultSchedule, partition

    return FaultSchedule([partition(["n2"], ["n1", "n3"], at=0.0, heal=0.15)])


def late_proposer(cls: type[PaxosNode] = PaxosNode, faults: Any = "default", **kw: Any) -> Any:
    """n1 proposes 'A' at t=0; n2 proposes 'B' at t=0.2, after 'A' has been chosen."""
    return run_paxos(1, proposals={"n1": "A", "n2": "B"}, propose_at={"n2": 0.2},
                     faults=late_proposer_faults() if faults == "default" else faults,
                     classes={"n2": cls}, until=kw.pop("until", 1.0), **kw)


# ---- the reference acceptor: the library's PaxosNode, driven message by message ------------------
class _Reference:
    """Feeds messages to a real PaxosNode acceptor and reads back its state and reply."""

    def __init__(self) -> None:
        from distlib.sim import World

        self.world = World(0)
        self.world.add_nodes(PaxosNode, NODES)
        self.world.run(until=1e-6)   # boot only
        self.node = self.world.nodes["n1"]

    def state(self) -> dict[str, Any]:
        s = self.node.storage
        return {"promised": s.get("promised"), "accepted_n": s.get("accepted_n"),
                "accepted_v": s.get("accepted_v")}

    def deliver(self, msg: Any) -> tuple:
        before = len(self.world.trace)
        self.node.on_message("n2", msg)
        sent = [r.msg for r in self.world.trace.records[before:] if r.kind == "send"]
        first = sent[0]
        if isinstance(first, Promise):
            return ("promise", first.accepted_n, first.accepted_v)
        if isinstance(first, Nack):
            return ("nack", first.promised)
        return ("accepted", first.n, first.v)


def _b(r: int, p: str) -> Ballot:
    return Ballot(r, p)


# Each scenario: a list of ("prepare", n) / ("accept", n, v) steps and why it matters.
SCENARIOS: list[tuple[list[tuple], str]] = [
    ([("prepare", _b(1, "n2"))],
     "a fresh acceptor promises any ballot and reports that it has accepted nothing"),
    ([("prepare", _b(2, "n2")), ("prepare", _b(1, "n3"))],
     "after promising 2.n2 the acceptor must refuse (nack) the lower ballot 1.n3 — that is the promise"),
    ([("prepare", _b(2, "n2")), ("prepare", _b(2, "n2"))],
     "the same Prepare again (a network duplicate or a retry) is not below the promise: promise again"),
    ([("prepare", _b(1, "n2")), ("accept", _b(1, "n2"), "A")],
     "Accept for the promised ballot itself must be accepted (the rule is 'not below the promise', "
     "so equal is fine) — otherwise nothing is ever chosen"),
    ([("prepare", _b(3, "n3")), ("accept", _b(2, "n2"), "B")],
     "the acceptor promised 3.n3 and has accepted nothing; Accept(2.n2) is below the promise and must be "
     "refused. Comparing with the highest *accepted* number (the summary's rule) accepts it and can "
     "let two values be chosen"),
    ([("accept", _b(1, "n2"), "A"), ("prepare", _b(4, "n3"))],
     "a Promise must report the highest-numbered proposal the acceptor accepted, here (1.n2, 'A'): "
     "that report is how a later proposer learns it must adopt 'A'"),
    ([("accept", _b(1, "n2"), "A"), ("accept", _b(2, "n3"), "B"), ("prepare", _b(5, "n2"))],
     "after accepting 1.n2='A' and then 2.n3='B' the acceptor reports its latest acceptance (2.n3, 'B')"),
    ([("prepare", _b(2, "n2")), ("accept", _b(3, "n3"), "C"), ("prepare", _b(2, "n1"))],
     "accepting 3.n3 implies a promise of 3.n3: a later Prepare(2.n1) is below it and is refused"),
    ([("prepare", _b(1, "n2")), ("prepare", _b(1, "n3"))],
     "ballots are ordered by round, then proposer: 1.n3 > 1.n2, so the acceptor promises 1.n3"),
]


def _student_steps(on_prepare: Callable, on_accept: Callable, steps: list[tuple]) -> list[tuple]:
    state = dict(EMPTY)
    out = []
    for step in steps:
        if step[0] == "prepare":
            result = _call(on_prepare, dict(state), step[1])
        else:
            result = _call(on_accept, dict(state), step[1], step[2])
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict)):
            _fail(f"your function must return (new_state, reply); it returned {result!r}.")
        state, reply = result
        out.append((dict(state), reply))
    return out


def _reference_steps(steps: list[tuple]) -> list[tuple]:
    ref = _Reference()
    out = []
    from distlib.consensus.paxos import Accept, Prepare

    for step in steps:
        msg = Prepare(step[1]) if step[0] == "prepare" else Accept(step[1], step[2])
        reply = ref.deliver(msg)
        out.append((ref.state(), reply))
    return out


def _compare(on_prepare: Callable, on_accept: Callable, mine: str) -> int:
    """Run every scenario; only the steps of kind ``mine`` are the student's to get right."""
    checked = 0
    for steps, why in SCENARIOS:
        if not any(s[0] == mine for s in steps):
            continue
        got = _student_steps(on_prepare, on_accept, steps)
        want = _reference_steps(steps)
        for i, ((gs, gr), (ws, wr)) in enumerate(zip(got, want, strict=True)):
            step = steps[i]
            what = (f"Prepare({step[1]!r})" if step[0] == "prepare" else f"Accept({step[1]!r}, {step[2]!r})")
            history = ", then ".join(f"{s[0]} {s[1]!r}" + (f"={s[2]!r}" if len(s) > 2 else "")
                                     for s in steps[:i]) or "nothing"
            if tuple(gr) != wr:
                _fail(f"after {history}, {what} got reply {gr!r}, expected {wr!r}: {why}.")
            if gs != ws:
                _fail(f"after {history}, {what} left the state {gs!r}, expected {ws!r}: {why}. "
                      "(The state is what the acceptor keeps on stable storage before it replies.)")
        checked += 1
    return checked


def reference_on_prepare(state: dict, n: Ballot) -> tuple[dict, tuple]:
    """The acceptor's phase 1b rule (used as the given half in the accept exercise)."""
    if state["promised"] is not None and n < state["promised"]:
        return state, ("nack", state["promised"])
    return {**state, "promised": n}, ("promise", state["accepted_n"], state["accepted_v"])


def reference_on_accept(state: dict, n: Ballot, v: Any) -> tuple[dict, tuple]:
    """The acceptor's phase 2b rule (used as the given half in the prepare exercise)."""
    if state["promised"] is not None and n < state["promised"]:
        return state, ("nack", state["promised"])
    return {"promised": n, "accepted_n": n, "accepted_v": v}, ("accepted", n, v)


def check_on_prepare(on_prepare: Callable[[dict, Ballot], tuple[dict, tuple]]) -> None:
    """Exercise paxos-prepare: the acceptor's answer to Prepare(n) (Accepts handled correctly)."""
    n = _compare(on_prepare, reference_on_accept, "prepare")
    print(f"right: your on_prepare agrees with PaxosNode's acceptor in all {n} scenarios.")


def check_on_accept(on_accept: Callable[[dict, Ballot, Any], tuple[dict, tuple]]) -> None:
    """Exercise paxos-accept: the acceptor's answer to Accept(n, v) (with a correct on_prepare)."""
    n = _compare(reference_on_prepare, on_accept, "accept")
    print(f"right: your on_accept agrees with PaxosNode's acceptor in all {n} scenarios.")


# ---- paxos-choose ---------------------------------------------------------------------------------
def _promise(n: Ballot, acc: tuple | None) -> Promise:
    return Promise(n, None, None) if acc is None else Promise(n, acc[0], acc[1])


def check_choose_value(choose_value: Callable[[list, Any], Any]) -> None:
    """Exercise paxos-choose: the proposer's phase 2a value."""
    mine = _b(7, "n1")
    cases = [
        ([None, None], "no acceptor in the majority has accepted anything: propose your own value"),
        ([None, (_b(2, "n2"), "X")], "one acceptor reports (2.n2, 'X'): adopt 'X', not your own value"),
        ([(_b(2, "n2"), "X"), (_b(5, "n3"), "Y")],
         "two reports: adopt the value of the HIGHEST-numbered one, (5.n3, 'Y') — not the first promise's"),
        ([(_b(5, "n3"), "Y"), (_b(2, "n2"), "X"), None],
         "the highest-numbered report (5.n3, 'Y') wins wherever it sits in the list"),
        ([(_b(3, "n3"), "Y"), (_b(3, "n2"), "X")],
         "ballots compare by round, then proposer: 3.n3 > 3.n2, so adopt 'Y'"),
        ([(_b(2, "n2"), "Z"), (_b(4, "n2"), "A"), (_b(1, "n3"), "Q")],
         "compare ballots, not values: (4.n2, 'A') is the highest even though 'Z' sorts after 'A'"),
    ]
    node = PaxosNode(proposal="mine")
    for reports, why in cases:
        promises = [_promise(mine, r) for r in reports]
        expected = node.choose_value(list(promises))
        got = _call(choose_value, list(promises), "mine")
        if got != expected:
            _fail(f"with promises {promises} you chose {got!r}, expected {expected!r}: {why}.")
    # ... and in the simulator: the late proposer must keep 'A'.
    from distlib.check.paxos_invariants import check_paxos

    class Student(PaxosNode):
        def choose_value(self, promises: list[Promise]) -> Any:
            return choose_value(list(promises), self.proposal)

    run = late_proposer(Student)
    bad = check_paxos(run)
    if bad:
        _fail(f"in the late-proposer scenario your rule lets n2 overwrite the chosen value: {bad[0]}.")
    print(f"right: your rule agrees with Lamport's on all {len(cases)} cases, and a late proposer using it "
          f"keeps the chosen value ({run.summary()}).")


# ---- paxos-predict --------------------------------------------------------------------------------
def check_prediction(prediction: dict[str, Any]) -> None:
    """Exercise paxos-predict: which value does the late proposer n2 send in its Accept, and learn?"""
    from distlib.consensus.paxos import Accept

    keys = ["n2 accept value", "n2 learns"]
    if not isinstance(prediction, dict) or sorted(prediction) != sorted(keys):
        _fail(f"the prediction must be a dict with keys {keys} (got {prediction!r}).")
    run = late_proposer()
    sent = [r.msg.v for r in run.world.trace if r.kind == "send" and r.src == "n2"
            and isinstance(r.msg, Accept)]
    actual = {"n2 accept value": sent[0] if sent else None, "n2 learns": run.learned["n2"]}
    for k in keys:
        if prediction[k] != actual[k]:
            hint = ("n2's Promise replies come from a majority, which must include n1 or n3; both "
                    "accepted (1.n1, 'A') and report it, so n2 must adopt 'A' instead of its own 'B'"
                    if actual[k] == "A" else "run the scenario and read the Accept messages n2 sends")
            _fail(f"{k!r} is {actual[k]!r} in the simulator, not {prediction[k]!r}: {hint}.")
    print("right: n2 proposes and learns 'A' — the value chosen before it arrived survives.")


# ---- paxos-bug-hunt ------------------------------------------------------------------------------
def check_bug_hunt(schedule: Any) -> None:
    """Exercise paxos-bug-hunt: a fault schedule under which NoAdoptProposer breaks agreement."""
    from distlib.check.paxos_invariants import check_paxos

    check_schedule(schedule, max_faults=3)
    try:
        run = late_proposer(NoAdoptProposer, faults=schedule)
    except ValueError as exc:
        _fail(f"the schedule is not valid for this cluster: {exc}")
    violations = check_paxos(run)
    if not violations:
        _fail(f"under '{schedule.describe()}' the broken proposer does no harm ({run.summary()}). "
              "If n2 hears the Accepted messages for 'A' it learns 'A' and never proposes; keep n2 from "
              "hearing about the first ballot until after t=0.2, and let it reach the others afterwards.")
    sane = late_proposer(PaxosNode, faults=schedule)
    if check_paxos(sane):
        _fail("your schedule also breaks the correct protocol — that would be a bug in the course; "
              "please report it.")
    print(f"right: '{schedule.describe()}' makes the non-adopting proposer violate agreement "
          f"({violations[0]}), while the correct proposer adopts 'A' under the same schedule.")
