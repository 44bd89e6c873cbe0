"""Checks for the chapter 08 (a Chubby-style lock service) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message naming the rule
the answer broke (Burrows, OSDI 2006, §2.4 sequencers and §2.8 leases; Kleppmann 2016 for fencing),
and prints a "right: ..." line otherwise. Expected answers are computed from the rules -- or by
running the namespace and the simulated cell -- after the learner's function has returned, on every
case of a small generated domain, smallest first.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from fractions import Fraction
from itertools import permutations, product
from typing import Any

from distlib.check.lockservice import check_fenced_effects
from distlib.coordination.cell import ResourceServer
from distlib.coordination.client import PRIMARY
from distlib.coordination.namespace import EXCLUSIVE, SHARED, Command, Namespace, Result, Sequencer
from distlib.coordination.runs import LockRun, gc_pause
from distlib.grading import guard

from .feedback import call, differential, exercise, first_failure, same
from .feedback import fail as _fail

_TOL = Fraction(1, 10**9)


def _number(x: Any) -> bool:
    return type(x) in (int, float)


# ---- lease-grace: the client's lease and the grace period ---------------------------------------------
def _timing_cases() -> list[tuple[float, float, float, float]]:
    """(lease, max_drift, failover, rtt), smallest first."""
    return list(product((0.6, 1.2, 12.0), (0.0, 0.02, 0.15), (0.5, 2.0, 30.0), (0.01, 0.1)))


def _bounds(lease: float, drift: float, failover: float, rtt: float) -> tuple[Fraction, Fraction]:
    """The largest client lease (exclusive) and the smallest grace, exactly (no float rounding)."""
    lease_max = Fraction(lease) * (1 - Fraction(drift))
    grace_min = (Fraction(failover) + Fraction(rtt)) * (1 + Fraction(drift))
    return lease_max, grace_min


def reference_timing(lease: float, max_drift: float, failover: float, rtt: float) -> tuple[float, float]:
    """A choice inside the allowed ranges: 90 % of the longest safe client lease, 1.5 x the shortest
    grace period that outlasts the fail-over."""
    lease_max, grace_min = _bounds(lease, max_drift, failover, rtt)
    return float(lease_max * Fraction(9, 10)), float(grace_min * Fraction(3, 2))


@exercise("lease-grace")
def check_timing(choose_timing: Callable[[float, float, float, float], tuple[float, float]]) -> None:
    """Exercise lease-grace: ``choose_timing(lease, max_drift, failover, rtt) -> (client_lease, grace)``."""
    cases = _timing_cases()
    for case in cases:
        lease, drift, failover, rtt = case
        got = call(choose_timing, *case)
        where = f"for lease={lease:g}, max_drift={drift:g}, failover={failover:g}, rtt={rtt:g}"
        if type(got) is not tuple or len(got) != 2 or not all(_number(x) for x in got):
            _fail(f"{where} you returned {got!r}: return a tuple (client_lease, grace) of two numbers.")
        client_lease, grace = (Fraction(x) for x in got)
        lease_max, grace_min = _bounds(*case)
        # Float arithmetic is off by ~1e-16: a bound computed in floats is judged within 1e-9 of it
        # (an answer *at* the client-lease bound is still refused: it must be strictly shorter).
        if client_lease >= lease_max * (1 - _TOL):
            slow = "" if drift == 0 else (f" A client clock running slow by {drift:g} stretches "
                                          f"{float(client_lease):g} local seconds to "
                                          f"{float(client_lease / (1 - Fraction(drift))):.4g} real ones.")
            _fail(f"{where} your client lease {float(client_lease):g} does not end strictly before the "
                  f"master's lease can (it must be < lease x (1 - max_drift) = {float(lease_max):g}): the "
                  f"client could still trust its lock after the master freed it.{slow}")
        if client_lease < lease_max / 2 * (1 - _TOL):
            _fail(f"{where} your client lease {float(client_lease):g} is needlessly short (less than half "
                  f"of {float(lease_max):g}): jeopardy would start at every slow KeepAlive.")
        if grace < grace_min * (1 - _TOL):
            _fail(f"{where} your grace period {float(grace):g} ends before a fail-over of {failover:g} s "
                  f"plus a KeepAlive round trip of {rtt:g} s is over, measured on a clock that may run "
                  f"fast by {drift:g} (it needs >= (failover + rtt) x (1 + max_drift) = "
                  f"{float(grace_min):.4g}): healthy sessions would be given up.")
        if grace > 2 * grace_min * (1 + _TOL):
            _fail(f"{where} your grace period {float(grace):g} is more than twice what the fail-over "
                  f"needs ({float(grace_min):.4g}): the application stays blocked in jeopardy for nothing.")
    print(f"right: on all {len(cases)} combinations your client lease ends before the master's even on a "
          "slow clock, and your grace period outlasts the fail-over even on a fast one.")


# ---- sequencer-check: the resource server's check -----------------------------------------------------
_LOCKS = (PRIMARY, "/ls/cell/db/primary")


def reference_accept(seq: Sequencer | None, lock: str, highest: int) -> bool:
    """Burrows §2.4 / Kleppmann: an exclusive sequencer for this lock, not older than the newest seen."""
    return (seq is not None and seq.lock == lock and seq.mode == EXCLUSIVE
            and seq.generation >= highest)


def _sequencer_cases() -> list[tuple[Sequencer | None, str, int]]:
    cases: list[tuple[Sequencer | None, str, int]] = []
    for lock in _LOCKS:
        others = (lock, lock.rsplit("/", 1)[0], lock + "2", _LOCKS[1] if lock == _LOCKS[0] else _LOCKS[0])
        for highest in range(4):
            cases.append((None, lock, highest))
            for name, mode, gen in product(others, (EXCLUSIVE, SHARED), range(4)):
                cases.append((Sequencer(name, mode, gen), lock, highest))
    return cases


def _describe_seq(case: tuple, got: Any) -> str:
    seq, lock, highest = case
    return (f"accept({seq!r}, lock={lock!r}, highest={highest}) returned {got!r} "
            f"({'accepted' if got is True else 'rejected' if got is False else 'not a bool'})")


def _explain_seq(case: tuple, got: Any) -> str:
    seq, lock, highest = case
    if type(got) is not bool:
        return "return True (accept the write) or False (reject it)"
    if seq is None:
        return "a write without a sequencer cannot prove its holder still holds the lock: reject it"
    if seq.lock != lock:
        return f"this sequencer is for another lock ({seq.lock}): it proves nothing about {lock}"
    if seq.mode != EXCLUSIVE:
        return "a shared (reader) lock does not entitle anyone to write"
    if seq.generation < highest:
        return (f"generation {seq.generation} is older than the newest the resource has accepted "
                f"({highest}): its holder lost the lock since -- reject it")
    return (f"generation {seq.generation} >= {highest}: the current holder (or a newer one) must be able "
            "to write, again and again")


_SEQ_MISTAKES = (
    (lambda c: c[0] is not None and c[0].lock == c[1] and c[0].mode == EXCLUSIVE and c[0].generation > c[2],
     "a strict > rejects the current holder's second write (its generation equals the highest seen)"),
    (lambda c: c[0] is not None and c[0].mode == EXCLUSIVE and c[0].generation >= c[2],
     "you never compare the sequencer's lock name with the resource's lock"),
    (lambda c: c[0] is not None and c[0].lock == c[1] and c[0].generation >= c[2],
     "you never check the mode: a shared lock's sequencer does not entitle anyone to write"),
    (lambda c: c[0] is None or (c[0].lock == c[1] and c[0].mode == EXCLUSIVE and c[0].generation >= c[2]),
     "you accept writes without a sequencer: that is exactly the unfenced client of the GC-pause story"),
)


@exercise("sequencer-check")
def check_sequencer(accept: Callable[[Sequencer | None, str, int], bool]) -> None:
    """Exercise sequencer-check: ``accept(seq, lock, highest) -> bool`` on every sequencer/generation/
    lock-name combination, then replayed against the writes of the unfenced GC-pause story."""
    n = differential(_sequencer_cases(), lambda c: call(accept, *copy.deepcopy(c)),
                     lambda c: [reference_accept(*c)], _describe_seq, _explain_seq, mistakes=_SEQ_MISTAKES)
    # The GC-pause story's writes, as the resource received them, through the learner's check.
    story = gc_pause(0, fenced=False)
    highest, accepted = 0, []
    for t, client, gen, value, _ok, _why in story.writes:
        seq = Sequencer(PRIMARY, EXCLUSIVE, gen)
        ok = call(accept, seq, PRIMARY, highest)
        if ok is True:
            highest = max(highest, gen)
            accepted.append((t, client, gen, value, True, None))
    replay = LockRun(story.world, story.seed, story.config, True, writes=accepted)
    problems = check_fenced_effects(replay)
    if problems:
        _fail(f"replaying the GC-pause story through your check: {problems[0]}.")
    print(f"right: your check agrees with the rule on all {n} sequencer/lock/generation combinations, and "
          f"in the GC-pause story it accepts {len(accepted)} writes and rejects the paused client's late "
          f"one.")


# ---- election-recipe: primary election on the namespace ----------------------------------------------
DIRECTORY = PRIMARY.rsplit("/", 1)[0]
_MAX_CALLS = 20


class _Session:
    """One client's session on a namespace: the ``call(kind, path, arg)`` handed to a recipe."""

    def __init__(self, ns: Namespace, name: str):
        self.ns, self.name = ns, name
        prior = ns.opened.get(name)            # a client re-opening after an expiry: a new open
        self.sid = ns.apply(Command("open", seq=prior[0] + 1 if prior else 1, arg=name)).value
        self.seq = 0
        self.calls: list[str] = []

    def __call__(self, kind: str, path: str | None = None, arg: Any = None) -> Result:
        self.calls.append(kind)
        if len(self.calls) > _MAX_CALLS:
            raise RuntimeError(f"more than {_MAX_CALLS} calls in one campaign")
        if kind in ("open", "close", "expire", "keepalive"):
            raise RuntimeError(f"the recipe must not {kind} sessions")
        self.seq += 1
        return self.ns.apply(Command(kind, self.sid, self.seq, path, arg))


def reference_campaign(call: Callable[..., Result], name: str) -> Sequencer | str:
    """Make the directory and the lock file if missing, try the lock; the winner writes its name
    into the file and returns its sequencer, a loser returns the name the file holds."""
    call("create", DIRECTORY, ("", True, False))
    call("create", PRIMARY, ("", False, False))
    got = call("acquire", PRIMARY, EXCLUSIVE)
    if got.ok:
        call("set", PRIMARY, name)
        return got.value
    return call("get", PRIMARY).value[0]


def _setup(ns: Namespace, start: str) -> None:
    """The namespace before the campaign: empty, directory only, directory and file, the lock held
    by another service's instance ``x0``, or left over by an ``old`` primary whose session expired."""
    if start == "empty":
        return
    x = _Session(ns, "x0")
    x("create", DIRECTORY, ("", True, False))
    if start == "directory":
        return
    x("create", PRIMARY, ("", False, False))
    if start == "file":
        return
    x("acquire", PRIMARY, EXCLUSIVE)
    x("set", PRIMARY, "x0" if start == "held" else "old")
    if start == "expired":
        ns.apply(Command("expire", x.sid, 0, arg=ns.sessions[x.sid][1]))


def _election_cases() -> list[tuple[str, tuple[str, ...]]]:
    """(start, script): a script is clients campaigning in order, ``-cN`` meaning cN's session expires."""
    cases = []
    for start in ("empty", "directory", "file", "held", "expired"):
        for k in (1, 2, 3):
            for order in permutations([f"c{i}" for i in range(1, k + 1)]):
                cases.append((start, order))
        cases.append((start, ("c1", "c2", "-c1", "c2", "c3")))
        cases.append((start, ("c1", "-c1", "c2", "c1")))
    return cases


def _play(case: tuple, campaign: Callable, learner: bool) -> tuple[list[Any], list[tuple]]:
    start, script = case
    ns = Namespace()
    _setup(ns, start)
    sessions: dict[str, _Session] = {}
    answers: list[Any] = []
    for step in script:
        if step.startswith("-"):
            s = sessions.pop(step[1:])
            ns.apply(Command("expire", s.sid, 0, arg=ns.sessions[s.sid][1]))
            continue
        s = sessions.get(step) or _Session(ns, step)
        sessions[step] = s
        if learner:
            answers.append(call(campaign, s, step))
        else:
            answers.append(campaign(s, step))
    state = []
    for path in ns.paths():
        st = ns.stat(path)
        got = ns.query(Command("get", None, 0, path)) if st is not None and not st.directory else None
        holders = tuple(ns.sessions.get(h, ["?"])[0] for h in ns.holders(path))
        state.append((path, got.value[0] if got is not None and got.ok else None, holders))
    return answers, state


@exercise("election-recipe")
def check_campaign(campaign: Callable[[Callable[..., Result], str], Sequencer | str]) -> None:
    """Exercise election-recipe: ``campaign(call, name)`` on every start state and client order."""
    def judge(case: tuple) -> str | None:
        start, script = case
        got, state = _play(case, campaign, learner=True)
        want, want_state = _play(case, reference_campaign, learner=False)
        where = f"starting from the '{start}' namespace, with the script {' '.join(script)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if type(g) not in (str, Sequencer):
                return f"{where}: campaign #{i + 1} returned {g!r}; return a Sequencer or a name (str)"
            if isinstance(w, Sequencer) and not isinstance(g, Sequencer):
                return (f"{where}: campaign #{i + 1} returned {g!r}, but the lock was free to take -- "
                        "try the lock before believing the file's contents (they may name a dead primary)")
            if not same(g, w):
                return (f"{where}: campaign #{i + 1} returned {g!r}, expected {w!r} -- the winner returns "
                        "the sequencer its exclusive acquire gave it; a loser returns the name written "
                        "in the lock file by the primary")
        if state != want_state:
            return (f"{where}: afterwards the namespace holds {state} (path, contents, holders), expected "
                    f"{want_state} -- the primary announces itself by writing its name into the lock "
                    "file, and nothing else is created")
        return None

    n = first_failure(_election_cases(), judge)
    print(f"right: your recipe elects exactly one primary per lock generation and every loser learns "
          f"its name, in all {n} start states and client orders (expiries included).")


# ---- pause-bug-hunt: the pause that breaks the unfenced service ---------------------------------------
def bug_hunt_run(pause_at: float, pause_for: float, *, fenced: bool = False) -> LockRun:
    return gc_pause(0, fenced=fenced, lock_delay=1.0, pause_at=pause_at, pause_for=pause_for, until=5.0)


@exercise("pause-bug-hunt")
def check_pause_bug_hunt(pause_at: Any, pause_for: Any) -> None:
    """Exercise pause-bug-hunt: a GC pause under which the unfenced service with lock-delay 1 s lets
    two lock generations' writes interleave, while the fenced one rejects the late write."""
    if not (_number(pause_at) and _number(pause_for)):
        _fail(f"pause_at and pause_for must be numbers (got {pause_at!r}, {pause_for!r}).")
    if not (0 < pause_at < 5 and 0 < pause_for <= 3):
        _fail(f"keep 0 < pause_at < 5 and 0 < pause_for <= 3 (got {pause_at!r}, {pause_for!r}).")
    bad = bug_hunt_run(pause_at, pause_for)
    if not bad.pauses:
        _fail(f"at t={pause_at:g} nobody held the lock yet, so nobody was paused ({bad.summary()}).")
    problems = check_fenced_effects(bad)
    if not problems:
        _fail(f"a {pause_for:g} s pause at t={pause_at:g} does no harm ({bad.summary()}). The late write "
              "must arrive after the next primary has written: the pause must outlast the session's "
              "lease AND the lock-delay, and end before the run does.")
    good = bug_hunt_run(pause_at, pause_for, fenced=True)
    if check_fenced_effects(good) or all(w[4] for w in good.writes):
        _fail("with sequencers this pause should be rejected at the resource -- that would be a bug in the "
              "course; please report it.")
    print(f"right: a {pause_for:g} s pause at t={pause_at:g} outlasts lease and lock-delay: {problems[0]}; "
          "with sequencers the late write is rejected.")


guard.protect("lease-grace", reference_timing)
guard.protect("sequencer-check", reference_accept, (ResourceServer, "check"))
guard.protect("election-recipe", reference_campaign)

__all__ = ["bug_hunt_run", "check_campaign", "check_pause_bug_hunt", "check_sequencer", "check_timing"]
