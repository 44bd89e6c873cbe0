"""Checks for the chapter 05 (sagas) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message naming the rule
the answer broke (Garcia-Molina & Salem's guarantee, Richardson's step kinds, the inbox), and prints
a "right: ..." line otherwise. Expected answers are computed -- from the rules, or by running the
library's services and orchestrator with the learner's function plugged in -- after the learner's
function has returned, on every case of a small generated domain, smallest first.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

from distlib.grading import guard
from distlib.transactions import saga as saga_mod
from distlib.transactions.localstore import Tx
from distlib.transactions.saga import Orchestrator, Step, release_room, reserve_room

from .feedback import call, check_schedule, exercise, first_failure, same
from .feedback import fail as _fail


# ---- saga-compensate: the compensation of reserve_room -------------------------------------------------
def _clean(held: dict) -> dict:
    """Holds without zero entries (a saga holding 0 rooms holds nothing)."""
    return {k: v for k, v in held.items() if v != 0}


def _apply(db: dict, versions: dict, saga: str, op: Callable, ctx: dict, learner: bool = False) -> Tx:
    tx = Tx(db, versions, saga, "hotel")
    if learner:
        call(op, tx, copy.deepcopy(ctx))
    else:
        op(tx, copy.deepcopy(ctx))
    for key, value in tx.writes.items():
        db[key] = value
        versions[key] = versions.get(key, 0) + 1
    return tx


def _compensate_cases() -> list[tuple[int, int, dict, str]]:
    """(free rooms before, rooms s1 books, other sagas' holds, what happens between T and C);
    smallest first."""
    cases = []
    others = ({}, {"s2": 1}, {"s2": 2, "s3": 1})
    between = ("nothing", "s4 books a room", "s2 cancels its hold")
    for n in (1, 2):
        for free in range(n, n + 3):
            for held in others:
                for event in between:
                    if event == "s2 cancels its hold" and "s2" not in held:
                        continue
                    if event == "s4 books a room" and free - n < 1:
                        continue
                    cases.append((free, n, dict(held), event))
    return cases


def _run_compensation(case: tuple, compensation: Callable, learner: bool) -> tuple[dict, dict, Tx | None]:
    free, n, held, event = case
    db = {"rooms": free, "held": dict(held), "confirmed": {"s2": 1} if "s2" in held else {}}
    versions = {k: 0 for k in db}
    _apply(db, versions, "s1", reserve_room, {"rooms": n})
    if event == "s4 books a room":
        _apply(db, versions, "s4", reserve_room, {"rooms": 1})
    elif event == "s2 cancels its hold":
        _apply(db, versions, "s2", release_room, {"rooms": held["s2"]})
    before = copy.deepcopy(db)
    tx = _apply(db, versions, "s1", compensation, {"rooms": n}, learner=learner)
    return before, db, tx


@exercise("saga-compensate")
def check_compensate(cancel_room: Callable[[Tx, dict], Any]) -> None:
    """Exercise saga-compensate: the compensation of ``reserve_room``, on every generated state, then in
    real sagas (the card is declined; two trips at once)."""
    from distlib.check.saga import check_saga
    from distlib.transactions.saga import run_saga

    def judge(case: tuple) -> str | None:
        free, n, held, event = case
        before, got, tx = _run_compensation(case, cancel_room, learner=True)
        _b, want, _t = _run_compensation(case, release_room, learner=False)
        where = (f"s1 reserved {n} room(s) of {free} free (other holds {held}), then {event}; "
                 f"before the compensation the hotel had rooms={before['rooms']}, held={before['held']}")
        if tx is not None and not tx.writes and before == got:
            return (f"{where}. Your cancel_room changed nothing in the database: change the values you "
                    "read and write them back with tx.write(key, value)")
        if got.get("confirmed") != want.get("confirmed") or set(got) != set(want):
            return (f"{where}. Your cancel_room changed other data ({got}): a compensation touches only what "
                    "its step did")
        mine = _clean(got["held"]).get("s1", 0)
        theirs = {k: v for k, v in _clean(got["held"]).items() if k != "s1"}
        if theirs != {k: v for k, v in _clean(want["held"]).items() if k != "s1"}:
            return (f"{where}. Afterwards the other sagas' holds are {theirs}: a compensation undoes only "
                    "its own saga's step -- the other bookings must stay as they are")
        if mine != 0:
            return (f"{where}. Afterwards s1 still holds {mine} room(s): the compensation must release s1's "
                    "hold")
        if not same(got["rooms"], want["rooms"]):
            delta = got["rooms"] - before["rooms"]
            return (f"{where}. Your compensation changed the free rooms by {delta:+d}: it must give back "
                    "exactly the rooms s1 held (ctx['rooms']) -- semantically undo the booking, whatever "
                    "other sagas did meanwhile, not restore an old count")
        return None

    n = first_failure(_compensate_cases(), judge)
    for kwargs in ({"fail_step": "payment"}, {"fail_step": "payment", "sagas": 2, "stagger": 0.01},
                   {"fail_step": "payment", "mode": "choreography"}):
        run = run_saga(1, ops={"release_room": cancel_room}, **kwargs)
        problems = check_saga(run)
        if problems:
            how = ", ".join(f"{k}={v}" for k, v in kwargs.items())
            _fail(f"with your cancel_room in a real saga ({how}) the checker found: {problems[0]}")
    print(f"right: your compensation undoes the reservation on all {n} generated states (other sagas' "
          "holds untouched) and keeps real sagas atomic, by orchestration and by choreography.")


# ---- saga-order: which compensations, in which order -----------------------------------------------
_NAMES = ("hotel", "flight", "car", "insurance", "museum")


def _plan(steps: list[str], committed: list[str]) -> list[str]:
    """Garcia-Molina & Salem: after T1 ... Tj committed and T(j+1) failed, run Cj ... C1."""
    return list(reversed(committed))


def _order_cases() -> list[tuple[list[str], list[str]]]:
    """Every saga of 1-5 steps (names in several orders) and every failure point."""
    cases = []
    for size in range(1, 6):
        for shift in range(size):
            names = list(_NAMES[shift:] + _NAMES[:shift])[:size]
            for failed in range(size):
                cases.append((names, names[:failed]))
    return cases


def _why_order(steps: list[str], committed: list[str], got: Any) -> str:
    failed = steps[len(committed)]
    if isinstance(got, list) and failed in got:
        return (f"{failed} failed: it never committed, so there is nothing to compensate -- a compensation "
                "runs only for a step that committed")
    if got == committed and len(committed) > 1:
        return ("that is the order the steps ran; compensations run in REVERSE order, the last committed "
                "step first (Cj ... C1)")
    if isinstance(got, list) and any(g not in committed for g in got):
        return "only the steps that committed before the failure are compensated"
    if isinstance(got, list) and len(set(got)) != len(got):
        return "each committed step is compensated exactly once"
    return "compensate every committed step exactly once, last committed first"


@exercise("saga-order")
def check_order(compensation_plan: Callable[[list[str], list[str]], list[str]]) -> None:
    """Exercise saga-order: the compensations to run and their order, on every saga of 1-5 steps and
    every failure point; then plugged into the orchestrator."""
    from distlib.check.saga import check_saga
    from distlib.transactions.saga import run_saga

    def judge(case: tuple[list[str], list[str]]) -> str | None:
        steps, committed = case
        got = call(compensation_plan, list(steps), list(committed))
        if same(got, _plan(steps, committed)):
            return None
        return (f"compensation_plan({steps}, committed={committed}) returned {got!r} "
                f"({steps[len(committed)]} failed): {_why_order(steps, committed, got)}.")

    n = first_failure(_order_cases(), judge)

    class LearnerOrchestrator(Orchestrator):
        def compensation_order(self, committed: list[Step]) -> list[Step]:
            by_name = {s.name: s for s in committed}
            names = [s.name for s in saga_mod.TRAVEL.steps]
            planned = call(compensation_plan, names, [s.name for s in committed])
            return [by_name[x] for x in planned if x in by_name]

    for fail in ("hotel", "payment"):
        run = run_saga(1, fail_step=fail, orchestrator_cls=LearnerOrchestrator)
        problems = check_saga(run)
        if problems:
            _fail(f"plugged into the orchestrator (fail_step={fail!r}) your plan gives: {problems[0]}")
    print(f"right: your plan compensates exactly the committed steps, last first, on all {n} cases, and "
          "the orchestrator using it keeps the travel saga atomic.")


# ---- saga-pivot: where the point of no return must be --------------------------------------------------
def _pivot_rule(steps: list[dict]) -> str | None:
    """The pivot is the first step that cannot be compensated (everything after it must then go
    forward, so no later step may refuse: else the order is impossible -> "reorder"); None if every
    step can be compensated."""
    first = next((i for i, s in enumerate(steps) if not s["undoable"]), None)
    if first is None:
        return None
    if any(s["may_refuse"] for s in steps[first + 1:]):
        return "reorder"
    return steps[first]["name"]


def _pivot_cases() -> list[list[dict]]:
    cases = []
    for size in range(1, 5):
        names = ["quote", "reserve", "charge", "ship"][:size]
        for props in itertools.product([(True, True), (True, False), (False, True), (False, False)],
                                       repeat=size):
            cases.append([{"name": n, "undoable": u, "may_refuse": r}
                          for n, (u, r) in zip(names, props, strict=True)])
    return cases


def _why_pivot(steps: list[dict], got: Any) -> str:
    want = _pivot_rule(steps)
    undoable = [s["name"] for s in steps if s["undoable"]]
    if want is None:
        return (f"every step can be compensated ({', '.join(undoable)}): any failure can be undone, so the "
                "saga needs no pivot")
    if want == "reorder":
        return ("once a step that cannot be compensated has committed, the saga can only go forward -- but "
                "a later step may still refuse, and nothing could undo the steps before it: this order "
                "cannot be made safe")
    if got == "reorder":
        return "every step after the first non-compensatable one can be retried to success: the order is fine"
    return ("the pivot is the point of no return: the FIRST step that cannot be compensated -- every step "
            "before it must be undoable, every step after it must be retriable")


@exercise("saga-pivot")
def check_pivot(choose_pivot: Callable[[list[dict]], str | None]) -> None:
    """Exercise saga-pivot: where the pivot must be, on every saga of 1-4 steps with every mix of
    undoable / may-refuse."""
    def judge(steps: list[dict]) -> str | None:
        got = call(choose_pivot, copy.deepcopy(steps))
        if same(got, _pivot_rule(steps)):
            return None
        shown = ", ".join(f"{s['name']}({'undoable' if s['undoable'] else 'NOT undoable'}, "
                          f"{'may refuse' if s['may_refuse'] else 'never refuses'})" for s in steps)
        return f"choose_pivot([{shown}]) returned {got!r}: {_why_pivot(steps, got)}."
    n = first_failure(_pivot_cases(), judge)
    print(f"right: your pivot rule agrees with compensatable* [pivot] retriable* on all {n} sagas.")


# ---- saga-idempotent: the inbox -------------------------------------------------------------------------
def _deliver(inbox: dict, key: str, execute: Callable[[], tuple]) -> tuple:
    """The inbox rule: answer a known key from the inbox; otherwise execute, and record a definite
    result (ok or failed) -- never a transient one, which must be retried."""
    if key in inbox:
        return inbox[key]
    result = execute()
    if result[0] in ("ok", "failed"):
        inbox[key] = result
    return result


OUTCOMES = (("ok", "booked"), ("failed", "no room left"), ("retry", "database busy"))


def _idempotent_cases() -> list[tuple[tuple[tuple[str, str], ...], tuple[str, ...]]]:
    """(what successive executions of each key would return, the keys delivered in order)."""
    cases = []
    plans = [(o,) for o in OUTCOMES] + [(OUTCOMES[2], o) for o in OUTCOMES] + \
        [(OUTCOMES[1], OUTCOMES[0]), (OUTCOMES[2], OUTCOMES[2], OUTCOMES[0])]
    for plan in plans:
        for deliveries in (1, 2, 3, 4):
            cases.append((plan, ("s1:hotel",) * deliveries))
    for plan in plans[:4]:
        cases.append((plan, ("s1:hotel", "s2:hotel", "s1:hotel", "s2:hotel")))
    return cases


def _simulate(fn: Callable, plan: tuple, keys: tuple, learner: bool) -> tuple[list, dict, dict]:
    inbox: dict = {}
    calls: dict[str, int] = {}
    replies = []
    for key in keys:
        def execute(key: str = key) -> tuple:
            i = calls.get(key, 0)
            calls[key] = i + 1
            return plan[min(i, len(plan) - 1)]
        replies.append(call(fn, inbox, key, execute) if learner else fn(inbox, key, execute))
    return replies, calls, inbox


@exercise("saga-idempotent")
def check_idempotent(deliver: Callable[[dict, str, Callable[[], tuple]], tuple]) -> None:
    """Exercise saga-idempotent: a step behind an inbox, on every delivery pattern (duplicates, a
    refusal, transient failures, two keys interleaved)."""
    def judge(case: tuple) -> str | None:
        plan, keys = case
        got_replies, got_calls, got_inbox = _simulate(deliver, plan, keys, learner=True)
        want_replies, want_calls, want_inbox = _simulate(_deliver, plan, keys, learner=False)
        story = (f"the step is delivered {len(keys)} time(s) ({', '.join(keys)}); executing it would return "
                 f"{' then '.join(repr(p) for p in plan)}")
        if got_calls != want_calls:
            extra = {k: got_calls.get(k, 0) for k in sorted(set(got_calls) | set(want_calls))}
            if any(got_calls.get(k, 0) > want_calls.get(k, 0) for k in want_calls):
                if any(p[0] == "failed" for p in plan[:1]):
                    return (f"{story}: you executed it {extra} times. A refusal is a definite result: record "
                            "it, or a duplicate may commit the step after the saga has already compensated")
                return (f"{story}: you executed it {extra} times. Once a key has a definite result, a "
                        "duplicate is answered from the inbox and never runs again (exactly-once effect)")
            return (f"{story}: you executed it only {extra} times. A transient failure ('retry') committed "
                    "nothing: do not record it, so the retry runs the step again")
        if not all(same(g, w) for g, w in zip(got_replies, want_replies, strict=True)):
            return (f"{story}: your replies were {got_replies}. A duplicate must get the same answer as the "
                    "first definite execution, and a transient failure is reported as it is")
        if not same(dict(got_inbox), want_inbox):
            return (f"{story}: your inbox ended as {got_inbox}. Record each key's definite result (ok or "
                    "failed) as execute returned it, and nothing else")
        return None
    n = first_failure(_idempotent_cases(), judge)
    print(f"right: on all {n} delivery patterns each step took effect at most once, refusals stayed "
          "refusals, and transient failures were retried.")


# ---- saga-bug-hunt: the lost event ------------------------------------------------------------------------
@exercise("saga-bug-hunt")
def check_bug_hunt(schedule: Any) -> None:
    """Exercise saga-bug-hunt: a fault schedule under which DirectPublishService loses an event."""
    from distlib.check.saga import check_saga
    from distlib.transactions.saga import DirectPublishService, run_saga

    schedule = check_schedule(schedule, max_faults=3)
    try:
        bad = run_saga(1, "choreography", service_cls=DirectPublishService, faults=schedule)
    except ValueError as exc:
        _fail(f"the schedule is not valid for this cluster: {exc}")
    problems = [p for p in check_saga(bad) if "did not settle" in p]
    if not problems:
        _fail(f"under '{schedule.describe()}' the service that publishes after its transaction still got its "
              f"event out ({bad.summary()}). Crash a service after it has committed its step but before "
              "its event leaves (publish_delay = 0.02 s later), and restart it.")
    good = run_saga(1, "choreography", faults=schedule)
    if check_saga(good):
        _fail(f"your schedule also stops the correct saga ({check_saga(good)[0]}): a service that never "
              "restarts stops any saga. Restart the crashed service; the outbox then relays the event.")
    print(f"right: '{schedule.describe()}' loses the event without an outbox ({problems[0]}), while the "
          "transactional outbox relays it after the restart.")


guard.protect("saga-compensate", release_room, saga_mod._release)
guard.protect("saga-order", _plan, (Orchestrator, "compensation_order"), (Orchestrator, "_to_undo"))
guard.protect("saga-pivot", _pivot_rule)
guard.protect("saga-idempotent", _deliver)
# The service looks operations up in OPS: point its entry at the protected wrapper too, so a learner
# cannot fetch the original from the dict (library code still calls through it).
saga_mod.OPS["release_room"] = saga_mod.release_room
