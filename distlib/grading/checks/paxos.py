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

import itertools
from collections.abc import Callable
from typing import Any

from distlib.consensus.paxos import Ballot, NoAdoptProposer, PaxosNode, Promise, run_paxos
from distlib.grading import guard

from .feedback import call, call_copy, check_schedule, differential, exercise
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


# ---- paxos-prepare / paxos-accept: the acceptor, on every reachable state -----------------------
ROUNDS = (1, 2)
PROPOSERS = ("n1", "n2", "n3")
VALUES = ("A", "B")
BALLOTS = tuple(Ballot(r, p) for r in ROUNDS for p in PROPOSERS)


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


def _messages() -> list[tuple]:
    return [("prepare", b) for b in BALLOTS] + [("accept", b, v) for b in BALLOTS for v in VALUES]


def _key(state: dict) -> tuple:
    return (state["promised"], state["accepted_n"], state["accepted_v"])


def _reachable(depth: int = 3) -> list[tuple[dict, list[tuple]]]:
    """Every acceptor state reachable in at most ``depth`` messages, with a shortest path to it,
    in breadth-first order (so the first failure found is the one with the shortest history)."""
    start = dict(EMPTY)
    seen = {_key(start): (start, [])}
    frontier = [(start, [])]
    for _ in range(depth):
        nxt = []
        for state, path in frontier:
            for msg in _messages():
                new, _ = (reference_on_prepare(state, msg[1]) if msg[0] == "prepare"
                          else reference_on_accept(state, msg[1], msg[2]))
                if _key(new) not in seen:
                    seen[_key(new)] = (new, path + [msg])
                    nxt.append((new, path + [msg]))
        frontier = nxt
    return list(seen.values())


def _allowed(state: dict, msg: tuple) -> list[tuple[dict, tuple]]:
    """Every (new_state, reply) the chapter's rules allow for ``msg`` in ``state``."""
    promised = state["promised"]
    if msg[0] == "prepare":
        n = msg[1]
        promise = ({**state, "promised": n}, ("promise", state["accepted_n"], state["accepted_v"]))
        nack = (dict(state), ("nack", promised))
        if promised is None or n > promised:
            return [promise]
        if n == promised:   # Lamport's rule promises only above; a repeat may be promised again too
            return [promise, nack]
        return [nack]
    n, v = msg[1], msg[2]
    if promised is None or n >= promised:
        return [({"promised": n, "accepted_n": n, "accepted_v": v}, ("accepted", n, v))]
    return [(dict(state), ("nack", promised))]


def _describe_msg(msg: tuple) -> str:
    return f"Prepare({msg[1]!r})" if msg[0] == "prepare" else f"Accept({msg[1]!r}, {msg[2]!r})"


def _describe_state(state: dict, path: list[tuple]) -> str:
    history = ", ".join(_describe_msg(m) for m in path) or "nothing"
    acc = ("nothing" if state["accepted_n"] is None
           else f"({state['accepted_n']!r}, {state['accepted_v']!r})")
    return f"after {history} (promised {state['promised']!r}, accepted {acc})"


def _why_acceptor(state: dict, msg: tuple, got_state: Any, got_reply: Any) -> str:
    promised, kind = state["promised"], msg[0]
    n = msg[1]
    expected_state, expected_reply = _allowed(state, msg)[0]
    want, got = expected_reply[0], (got_reply[0] if isinstance(got_reply, tuple) and got_reply else None)
    if want == "nack" and got in ("promise", "accepted"):
        if promised is not None and n.round == promised.round:
            return (f"you {'promised' if got == 'promise' else 'accepted'} {n!r} after promising "
                    f"{promised!r}, but {n!r} < {promised!r}: ballots with equal rounds are ordered by "
                    "proposer id — compare whole ballots, (round, proposer) pairs, with < on Ballot, "
                    "never the rounds alone")
        if kind == "accept" and state["accepted_n"] is not None and n > state["accepted_n"]:
            return (f"{n!r} is above the accepted {state['accepted_n']!r} but below the promise "
                    f"{promised!r}: compare with the promise (the summary's rule compares with the "
                    "accepted number, and lets two values be chosen)")
        return f"{n!r} is below the promise {promised!r}: refuse with ('nack', promised)"
    if want in ("promise", "accepted") and got == "nack":
        if promised is not None and n == promised and kind == "accept":
            return (f"Accept({n!r}) is for exactly the promised ballot: the rule refuses only ballots "
                    "BELOW the promise, so equal is accepted — otherwise nothing is ever chosen")
        return f"{n!r} is not below anything promised ({promised!r}): the acceptor must take it"
    if got != want and not (want == "promise" and got == "nack"):
        return f"the reply should be a ('{want}', ...) tuple"
    if kind == "prepare" and want == "promise" and got_reply != expected_reply:
        return (f"a Promise must report the highest-numbered proposal this acceptor accepted, here "
                f"{expected_reply[1:]!r}: that report is how a later proposer learns which value it must "
                "adopt")
    if got_reply != expected_reply:
        return f"the reply should be {expected_reply!r}"
    if want == "nack":
        return "a refusal changes nothing: return the state as it was"
    if kind == "prepare":
        return ("record the promise in the state (promised = n) before replying: the state is what the "
                "acceptor keeps on stable storage, and a promise that is not stored is forgotten")
    return ("accepting records the proposal (accepted_n, accepted_v) and implies a promise of n "
            "(promised = n), all on stable storage before the reply")


def _acceptor_mistakes(kind: str) -> list[tuple[Callable, str]]:
    """Known wrong acceptors, each as a model over (state, path, msg) cases and what it gets wrong."""
    def rule(below: Callable[[dict, Ballot], bool]) -> Callable:
        def model(case: tuple) -> tuple:
            state, _, msg = case
            n = msg[1]
            if below(state, n):
                return dict(state), ("nack", state["promised"])
            if kind == "prepare":
                return {**state, "promised": n}, ("promise", state["accepted_n"], state["accepted_v"])
            return {"promised": n, "accepted_n": n, "accepted_v": msg[2]}, ("accepted", n, msg[2])
        return model

    by_round = rule(lambda s, n: s["promised"] is not None and n.round < s["promised"].round)
    by_accepted = rule(lambda s, n: s["accepted_n"] is not None and n < s["accepted_n"])
    mistakes = [
        (by_round, "you compare ballots by their round only. Ballots with equal rounds are ordered by "
                   "proposer id (1.n3 > 1.n2): compare whole ballots — (round, proposer) pairs — with < "
                   "on Ballot, or an acceptor accepts below its promise"),
        (by_accepted, "you compare with the highest ACCEPTED ballot (the summary's rule). The acceptor "
                      "must compare with its PROMISE: promising n means refusing everything below n"),
    ]
    if kind == "accept":
        strict = rule(lambda s, n: s["promised"] is not None and n <= s["promised"])
        mistakes.append((strict, "you refuse an Accept for exactly the promised ballot. The rule refuses "
                                 "only ballots BELOW the promise — a proposer's Accept carries the very "
                                 "ballot it was promised, so refusing it means nothing is ever chosen"))
    return mistakes


def _check_acceptor(fn: Callable, kind: str) -> int:
    def answer(case: tuple[dict, list[tuple], tuple]) -> Any:
        state, _, msg = case
        args = (state, msg[1]) if kind == "prepare" else (state, msg[1], msg[2])
        result = call_copy(fn, *args)
        if not (type(result) is tuple and len(result) == 2 and type(result[0]) is dict):
            _fail(f"{_describe_state(state, case[1])}, {_describe_msg(msg)} returned {result!r}; return "
                  "a pair (new_state, reply) with new_state a dict")
        return result

    def describe(case: tuple, got: tuple) -> str:
        state, path, msg = case
        return (f"{_describe_state(state, path)}, {_describe_msg(msg)} gave state {got[0]!r} and reply "
                f"{got[1]!r}")

    def explain(case: tuple, got: tuple) -> str:
        return _why_acceptor(case[0], case[2], got[0], got[1])

    cases = [(state, path, msg) for state, path in _reachable() for msg in _messages() if msg[0] == kind]
    return differential(cases, answer, lambda c: _allowed(c[0], c[2]), describe, explain,
                        mistakes=_acceptor_mistakes(kind))


@exercise("paxos-prepare")
def check_on_prepare(on_prepare: Callable[[dict, Ballot], tuple[dict, tuple]]) -> None:
    """Exercise paxos-prepare: the acceptor's answer to Prepare(n), in every reachable state."""
    n = _check_acceptor(on_prepare, "prepare")
    print(f"right: your on_prepare follows the acceptor's rule on all {n} (state, Prepare) pairs "
          "reachable with 6 ballots and 2 values.")


@exercise("paxos-accept")
def check_on_accept(on_accept: Callable[[dict, Ballot, Any], tuple[dict, tuple]]) -> None:
    """Exercise paxos-accept: the acceptor's answer to Accept(n, v), in every reachable state."""
    n = _check_acceptor(on_accept, "accept")
    print(f"right: your on_accept follows the acceptor's rule on all {n} (state, Accept) pairs "
          "reachable with 6 ballots and 2 values.")


# ---- paxos-choose ---------------------------------------------------------------------------------
MINE = Ballot(7, "n1")
_PRIOR = [Ballot(r, p) for r in (1, 2, 3) for p in PROPOSERS]
# A ballot always carries one value; values sort against the ballots, to catch "max by value".
_VALUE_OF = {b: "ZYXWVUTSR"[i] for i, b in enumerate(_PRIOR)}


def _choose_cases() -> list[list[Promise]]:
    """Every list of 1-3 promises (each reporting nothing or one of 9 ballots), in every order."""
    options = [None] + _PRIOR
    cases = []
    for size in (1, 2, 3):
        for combo in itertools.product(options, repeat=size):
            cases.append([Promise(MINE, b, None if b is None else _VALUE_OF[b]) for b in combo])
    return cases


def _why_choose(promises: list[Promise], got: Any) -> str:
    prior = [p for p in promises if p.accepted_n is not None]
    if not prior:
        return "no acceptor in the majority has accepted anything: propose your own value"
    best = max(prior, key=lambda p: p.accepted_n)
    if got == "mine":
        return (f"a promise reports the accepted proposal ({best.accepted_n!r}, {best.accepted_v!r}): "
                "adopt its value, not your own (§2.2) — that rule keeps a chosen value chosen")
    by_round = max(prior, key=lambda p: p.accepted_n.round)
    if got == by_round.accepted_v and by_round.accepted_n != best.accepted_n:
        return (f"{best.accepted_n!r} > {by_round.accepted_n!r}: ballots with equal rounds are ordered by "
                "proposer id — compare whole ballots, not rounds")
    if got == prior[0].accepted_v:
        return f"adopt the value of the HIGHEST-numbered report, ({best.accepted_n!r}), not the first one"
    return f"adopt the value of the highest-numbered report, ({best.accepted_n!r}, {best.accepted_v!r})"


@exercise("paxos-choose")
def check_choose_value(choose_value: Callable[[list, Any], Any]) -> None:
    """Exercise paxos-choose: the proposer's phase 2a value, on every promise list and order."""
    def prior(promises: list[Promise]) -> list[Promise]:
        return [p for p in promises if p.accepted_n is not None]

    def by(key: Callable[[Promise], Any]) -> Callable[[list[Promise]], Any]:
        return lambda ps: max(prior(ps), key=key).accepted_v if prior(ps) else "mine"

    mistakes = [
        (lambda ps: "mine", "you always propose your own value. A promise that reports an accepted "
                            "proposal obliges the proposer to adopt its value (§2.2): that rule keeps a "
                            "chosen value chosen"),
        (lambda ps: prior(ps)[0].accepted_v if prior(ps) else "mine",
         "you adopt the FIRST reported value; adopt the value of the HIGHEST-numbered report"),
        (by(lambda p: p.accepted_n.round), "you compare the reports by round only. Ballots with equal "
                                           "rounds are ordered by proposer id (3.n3 > 3.n2): compare whole "
                                           "ballots"),
        (by(lambda p: p.accepted_v), "you compare values; compare the BALLOTS of the reports and adopt the "
                                     "value of the highest-numbered one"),
    ]
    n = differential(
        _choose_cases(), lambda ps: call_copy(choose_value, ps, "mine"),
        lambda ps: [by(lambda p: p.accepted_n)(ps)],
        lambda ps, got: f"with promises {ps} you chose {got!r}", _why_choose, mistakes=mistakes)
    # ... and in the simulator: the late proposer must keep 'A'.
    from distlib.check.paxos_invariants import check_paxos

    class Student(PaxosNode):
        def choose_value(self, promises: list[Promise]) -> Any:
            return call(choose_value, list(promises), self.proposal)

    run = late_proposer(Student)
    bad = check_paxos(run)
    if bad:
        _fail(f"in the late-proposer scenario your rule lets n2 overwrite the chosen value: {bad[0]}.")
    print(f"right: your rule agrees with Lamport's on all {n} promise lists (every order, equal rounds), "
          f"and a late proposer using it keeps the chosen value ({run.summary()}).")


# ---- paxos-predict --------------------------------------------------------------------------------
@exercise("paxos-predict")
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
@exercise("paxos-bug-hunt")
def check_bug_hunt(schedule: Any) -> None:
    """Exercise paxos-bug-hunt: a fault schedule under which NoAdoptProposer breaks agreement."""
    from distlib.check.paxos_invariants import check_paxos
    from distlib.sim.faults import PartitionFault

    schedule = check_schedule(schedule, max_faults=3)
    if any(isinstance(f, PartitionFault) for f in schedule):
        _fail("no partitions here: the chapter already showed the partition that keeps n2 late. Find "
              "another way to keep n2 from hearing about the first ballot (a crash, a pause or one-way "
              "cuts).")
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


guard.protect("paxos-prepare", reference_on_prepare, (PaxosNode, "on_prepare"))
guard.protect("paxos-accept", reference_on_accept, (PaxosNode, "on_accept"))
guard.protect("paxos-choose", (PaxosNode, "choose_value"))
