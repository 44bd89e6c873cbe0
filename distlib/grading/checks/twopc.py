"""Checks for the chapter 04 (two-phase commit) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message
that points at the rule the answer broke, and prints a "right: ..." line otherwise.
Expected answers are computed (from the rules or by running the simulator), never
stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .feedback import call as _call
from .feedback import check_schedule
from .feedback import fail as _fail

PARTICIPANTS = ["p1", "p2", "p3"]




# ---- 2pc-decide --------------------------------------------------------------------------------
def _gray_decision(votes: dict[str, str], participants: list[str], timed_out: bool) -> str | None:
    if any(v == "no" for v in votes.values()):
        return "abort"
    if all(votes.get(p) == "yes" for p in participants):
        return "commit"
    return "abort" if timed_out else None


def _decide_cases() -> list[tuple[dict[str, str], list[str], bool, str]]:
    cases = []
    ps = PARTICIPANTS
    cases.append(({"p1": "yes", "p2": "yes", "p3": "yes"}, ps, False,
                  "every participant voted yes: that is exactly when the coordinator commits"))
    cases.append(({"p1": "yes", "p2": "no", "p3": "yes"}, ps, False,
                  "one participant voted no; a single no vote aborts the transaction (Gray: commit "
                  "needs ALL votes yes, not a majority)"))
    cases.append(({"p1": "no"}, ps, False,
                  "a no vote is already decisive: the coordinator may abort without waiting for the "
                  "other votes"))
    cases.append(({"p1": "yes", "p2": "yes"}, ps, False,
                  "p3 has not voted yet and there was no timeout: the coordinator must keep waiting "
                  "(return None); two yes votes out of three are not enough to commit"))
    cases.append(({"p1": "yes", "p2": "yes"}, ps, True,
                  "the vote timeout expired with p3's vote missing: a missing vote counts as no, so the "
                  "coordinator aborts (it cannot know p3 is willing to commit)"))
    cases.append(({}, ps, True,
                  "no votes arrived before the timeout: abort"))
    cases.append(({"p1": "yes"}, ["p1"], False,
                  "with a single participant that voted yes, commit"))
    cases.append(({"p1": "yes", "p2": "yes", "p3": "yes", "p4": "no", "p5": "yes"},
                  ["p1", "p2", "p3", "p4", "p5"], False,
                  "four yes votes and one no: still abort — commit needs every vote yes"))
    return cases


def check_decide(decide: Callable[[dict, list, bool], str | None]) -> None:
    """Exercise 2pc-decide: the coordinator's decision rule."""
    for votes, participants, timed_out, why in _decide_cases():
        expected = _gray_decision(votes, participants, timed_out)
        got = _call(decide, dict(votes), list(participants), timed_out)
        if got != expected:
            _fail(f"decide({votes}, {participants}, timed_out={timed_out}) returned {got!r}, "
                  f"expected {expected!r}: {why}.")
    print(f"right: your decision rule agrees with Gray's on all {len(_decide_cases())} cases.")


# ---- 2pc-prepare -------------------------------------------------------------------------------
def check_prepare(on_prepare: Callable[[bool, list, Callable[[str], None]], None]) -> None:
    """Exercise 2pc-prepare: log before you vote."""
    for can_commit in (True, False):
        log: list[str] = []
        sent: list[tuple[str, list[str]]] = []

        def send_vote(vote: str, sent: list = sent, log: list = log) -> None:
            sent.append((vote, list(log)))   # remember what was on disk when the vote left

        _call(on_prepare, can_commit, log, send_vote)
        if len(sent) != 1:
            _fail(f"with can_commit={can_commit} you sent {len(sent)} votes; a participant sends exactly "
                  "one vote per Prepare.")
        vote, log_at_send = sent[0]
        if can_commit:
            if vote != "yes":
                _fail(f"the participant can commit but voted {vote!r}; it should vote 'yes'.")
            if "prepared" not in log_at_send:
                _fail("you sent the yes vote before 'prepared' was in the log. If the participant "
                      "crashes right after the send, it restarts with no record of its promise, may "
                      "abort on its own, and the coordinator may already have committed: atomicity is "
                      "lost. Force-write 'prepared' first, then vote.")
        else:
            if vote != "no":
                _fail(f"the participant cannot commit but voted {vote!r}; it must vote 'no'.")
            if "prepared" in log:
                _fail("a participant that votes no must not log 'prepared' — after a crash it would "
                      "believe it is in doubt and wait for a decision it already knows (abort).")
            if "abort" not in log:
                _fail("a participant that votes no aborts at once: log 'abort' so it remembers after "
                      "a crash.")
    print("right: the yes vote leaves only after 'prepared' is on disk, and a no vote aborts.")


# ---- 2pc-cooperative ---------------------------------------------------------------------------


def _cooperative(peers: dict[str, str]) -> str | None:
    states = list(peers.values())
    if "committed" in states:
        return "commit"
    if "aborted" in states or "not voted" in states:
        return "abort"
    return None


def check_terminate(terminate: Callable[[dict[str, str]], str | None]) -> None:
    """Exercise 2pc-cooperative: what an in-doubt participant may conclude from its peers."""
    cases = [
        ({"p2": "committed", "p3": "in doubt"},
         "p2 has committed, so the coordinator decided commit: p1 may commit too"),
        ({"p2": "aborted", "p3": "in doubt"},
         "p2 aborted, so the decision cannot be commit (commit needs every vote yes, and decisions "
         "never change): abort"),
        ({"p2": "not voted", "p3": "in doubt"},
         "p2 has not voted: it can still vote no (it will, now), so the coordinator can never have "
         "committed: abort"),
        ({"p2": "in doubt", "p3": "in doubt"},
         "everyone reachable is in doubt: the coordinator may have logged commit or abort — nobody can "
         "know, so p1 must keep waiting (this is 2PC's blocking case). A timeout that aborts here can "
         "disagree with a commit the coordinator already logged"),
        ({"p2": "in doubt", "p3": "unreachable"},
         "p3 is unreachable and might already know the decision; p2 is in doubt: keep waiting"),
        ({"p2": "unreachable", "p3": "unreachable"},
         "nobody answers: keep waiting"),
        ({"p2": "in doubt", "p3": "committed", "p4": "in doubt"},
         "one peer committed, so the decision was commit"),
    ]
    for peers, why in cases:
        expected = _cooperative(peers)
        got = _call(terminate, dict(peers))
        if got != expected:
            _fail(f"terminate({peers}) returned {got!r}, expected {expected!r}: {why}.")
    print(f"right: all {len(cases)} situations resolved as the cooperative termination protocol allows.")


# ---- 2pc-predict -------------------------------------------------------------------------------
OUTCOMES = ("commit", "abort", "in doubt")


def _observed(run: Any, name: str) -> str:
    outcome = run.outcomes.get(name)
    return "in doubt" if outcome is None else outcome


def check_prediction(prediction: dict[str, str], *, when: str) -> None:
    """Exercise 2pc-predict: predict what each participant knows in the blocking scenario."""
    from distlib.transactions.twopc import blocking_scenario

    if not isinstance(prediction, dict) or sorted(prediction) != PARTICIPANTS:
        _fail(f"the prediction must be a dict with keys {PARTICIPANTS} (got {prediction!r}).")
    for name, value in prediction.items():
        if value not in OUTCOMES:
            _fail(f"prediction[{name!r}] = {value!r}; use one of {OUTCOMES}.")
    if when == "during":
        run = blocking_scenario(seed=1, until=blocking_scenario.RESTART_AT - 0.01)
        moment = "while the coordinator is down"
    elif when == "after":
        run = blocking_scenario(seed=1)
        moment = "after the coordinator has restarted"
    else:
        raise ValueError(f"when must be 'during' or 'after' (got {when!r})")
    for name in PARTICIPANTS:
        actual = _observed(run, name)
        if prediction[name] != actual:
            hint = {
                ("abort", "in doubt"): "a prepared participant may not abort on a timeout — the "
                                       "coordinator might have logged commit; it waits",
                ("commit", "in doubt"): "no Decision ever reached the participants, and none of them "
                                        "can know what the coordinator decided",
            }.get((prediction[name], actual), "run blocking_scenario(seed=1) and look at the trace")
            _fail(f"{moment}, {name} is {actual!r}, not {prediction[name]!r}: {hint}.")
    print(f"right: {moment} the participants are exactly as you predicted.")


# ---- 2pc-bug-hunt ------------------------------------------------------------------------------
def check_bug_hunt(schedule: Any) -> None:
    """Exercise 2pc-bug-hunt: a fault schedule under which NoLogParticipant breaks atomicity."""
    from distlib.check.atomic import check_atomic_commitment
    from distlib.transactions.twopc import NoLogParticipant, run_2pc

    check_schedule(schedule, max_faults=3)
    try:
        run = run_2pc(seed=1, participants=3, participant_cls=NoLogParticipant, faults=schedule)
    except ValueError as exc:
        _fail(f"the schedule is not valid for this cluster: {exc}")
    violations = check_atomic_commitment(run)
    if not violations:
        _fail(f"under '{schedule.describe()}' the broken participant still agrees with everyone "
              f"({run.summary()}). Crash a participant after it has sent its yes vote but before the "
              "decision reaches it, and restart it soon after.")
    sane = run_2pc(seed=1, participants=3, faults=schedule)
    if check_atomic_commitment(sane):
        _fail("your schedule also breaks the correct protocol — that would be a bug in the course; "
              "please report it.")
    print(f"right: '{schedule.describe()}' makes the no-log participant violate atomic commitment "
          f"({violations[0]}), while the correct participant survives the same schedule.")
