"""Three-phase commit (3PC): non-blocking when failures are crashes and delays are bounded,
and unsafe under a network partition.

Source: D. Skeen, "Nonblocking Commit Protocols" (SIGMOD 1981) -- a protocol is non-blocking iff no
state is adjacent to both a commit and an abort state and no non-committable state is adjacent to a
commit state; 2PC's prepared ("wait") state violates both, so 3PC adds a **pre-commit** state
between prepared and committed. The termination protocol follows Skeen's centralized scheme as
presented by Bernstein, Hadzilacos & Goodman, "Concurrency Control and Recovery in Database
Systems" (1987), ch. 7: a backup coordinator collects the states of the reachable participants and

* if anyone committed -> commit; if anyone aborted (or had not voted) -> abort;
* if anyone is **pre-committed** -> move the others to pre-commit, then commit;
* if everyone reachable is merely prepared -> abort.

The protocol, for one transaction ``tx`` (messages and log records reused from
:mod:`distlib.transactions.twopc`)::

    coord                       participant p
      Prepare(tx) ------------>   FORCE Prepared, Vote(yes)   (a no vote aborts at once, as in 2PC)
      all yes: PreCommit(tx) -->  FORCE PreCommitted, PreCommitAck
      all acked, or ack timeout:  FORCE Committed, Decision(commit) -->  log Committed

Timeouts (each one is the protocol's guess that a silent node has crashed):

* coordinator waiting for votes: abort (as 2PC);
* coordinator waiting for pre-commit acks: **commit anyway** -- a silent participant is presumed
  crashed and will learn the outcome when it recovers;
* participant prepared or pre-committed and undecided: run the termination protocol. The backup
  coordinator is the lowest-ranked participant that answers (a higher-ranked one that hears from
  a lower-ranked undecided one defers to it).

Why it is non-blocking: with crashes only and delays below the timeouts, a timeout really means a
crash, every operational participant hears every other, and the coordinator never commits while
an operational participant is only prepared (it moved everyone to pre-commit first). Why it is
unsafe under a partition: the two guesses above are made on *both* sides. If the coordinator's side
received PreCommit and the other side did not, the coordinator's ack timeout commits its side and
the other side's backup coordinator sees only prepared states and aborts (:func:`partition_scenario`;
Gray & Lamport 2006, section 3.3: no 3PC variant they knew was proven to satisfy a clearly stated
correctness condition). Paxos Commit (:mod:`distlib.transactions.paxos_commit`) is the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from distlib.sim import FaultSchedule, World, partition
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import integer, number, one_of

from .twopc import (
    Aborted,
    Committed,
    Coordinator,
    Decision,
    DecisionReply,
    DecisionRequest,
    Participant,
    Started,
    TwoPCRun,
    _CoordTx,
    _participant_names,
    log_of,
    logged_decisions,
    random_faults,
)

# ---- messages and log records ------------------------------------------------------------------


@dataclass(frozen=True)
class PreCommit:
    """(Backup) coordinator -> participant: everyone voted yes; enter the pre-commit state."""
    tx: int


@dataclass(frozen=True)
class PreCommitAck:
    """Participant -> whoever sent PreCommit: PreCommitted is durable here."""
    tx: int


@dataclass(frozen=True)
class StateRequest:
    """Termination protocol: a participant that timed out asks its peers for their state."""
    tx: int


@dataclass(frozen=True)
class StateReport:
    """Answer to a StateRequest: "prepared", "precommitted", "committed" or "aborted"."""
    tx: int
    state: str


@dataclass(frozen=True)
class PreCommitted:
    """Participant: it entered the pre-commit state (forced before the ack, like Prepared)."""
    FORCED: ClassVar[bool] = True
    tx: int


STATES = ("unknown", "prepared", "precommitted", "committed", "aborted")


# ---- coordinator --------------------------------------------------------------------------------


class ThreePCCoordinator(Coordinator):
    """The coordinator of 3PC: 2PC's phase 1, then PreCommit, then the decision.

    ``ack_timeout`` is how long it waits for pre-commit acks before committing anyway (Skeen's
    rule: a silent participant has crashed). Other parameters as :class:`twopc.Coordinator`.
    """

    def __init__(self, ack_timeout: float = 0.3, **config: Any):
        super().__init__(**config)
        one_of("presumption", self.presumption, ("nothing",))
        self.ack_timeout = number("ack_timeout", ack_timeout, above=True)
        self.precommit_acks: dict[int, dict[str, bool]] = {}

    def on_start(self) -> None:
        super().on_start()
        self.precommit_acks = {}

    def on_recover(self) -> None:
        """A logged decision is re-sent (as 2PC). Without one the coordinator may NOT abort alone
        (unlike 2PC): the participants may have committed through the termination protocol while
        it was down. It asks them instead and adopts what they decided."""
        self.precommit_acks = {}
        self.txs = {}
        for rec in log_of(self.storage):
            if isinstance(rec, Started):
                self.txs[rec.tx] = _CoordTx(rec.participants)
        for tx, t in self.txs.items():
            found = logged_decisions(self.storage, tx)
            if found:
                t.phase, t.commit = "decided", found[0]
                self._announce(tx)
            else:
                self.annotate(f"recovered: tx {tx} has no logged decision -> ask the participants")
                t.phase = "recovering"
                self._ask_participants(tx)
        if self.start_at is not None and self.tx not in self.txs and self.now <= self.start_at:
            self.set_timer("start", self.start_at - self.now)

    def _ask_participants(self, tx: int) -> None:
        t = self.txs[tx]
        if t.phase != "recovering":
            return
        for p in t.participants:
            self.send(p, DecisionRequest(tx))
        self.set_timer(f"ask:{tx}", self.resend_interval)

    # ---- phase 2: pre-commit ---------------------------------------------------------------------
    def _decide(self, tx: int, commit: bool, why: str) -> None:
        t = self.txs[tx]
        if commit and t.phase == "collecting":
            t.phase = "precommitting"
            self.cancel_timer(f"vote-timeout:{tx}")
            self.annotate(f"tx {tx}: all votes yes -> pre-commit")
            self.precommit_acks[tx] = {}
            for p in t.participants:
                self.send(p, PreCommit(tx))
            self.set_timer(f"ack-timeout:{tx}", self.ack_timeout)
            return
        if t.phase == "precommitting":
            t.phase = "collecting"   # hand the decision to 2PC's force-then-send path
        super()._decide(tx, commit, why)

    def _on_precommit_ack(self, src: str, tx: int) -> None:
        t = self.txs.get(tx)
        if t is None or t.phase != "precommitting" or src not in t.participants:
            return
        acks = self.precommit_acks.setdefault(tx, {})
        acks[src] = True
        if all(acks.get(p) for p in t.participants):
            self._decide(tx, True, "every participant pre-committed")

    def on_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "ack-timeout":
            t = self.txs.get(int(arg))
            if t is not None and t.phase == "precommitting":
                missing = [p for p in t.participants if not self.precommit_acks.get(int(arg), {}).get(p)]
                self._decide(int(arg), True, f"pre-commit ack timeout, {','.join(missing)} presumed crashed")
        elif kind == "ask":
            self._ask_participants(int(arg))
        else:
            super().on_timer(name)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, PreCommitAck):
            self._on_precommit_ack(src, msg.tx)
        elif isinstance(msg, DecisionReply):
            t = self.txs.get(msg.tx)
            if t is not None and t.phase == "recovering":
                self.cancel_timer(f"ask:{msg.tx}")
                self._log(Committed(msg.tx) if msg.commit else Aborted(msg.tx))
                t.phase, t.commit = "decided", msg.commit
                t.acked = {p: True for p in t.participants}   # they decided without us
        elif isinstance(msg, StateReport):
            pass   # an ack to nothing: the coordinator never asks for states
        else:
            super().on_message(src, msg)


# ---- participant --------------------------------------------------------------------------------


class ThreePCParticipant(Participant):
    """A 3PC participant with Skeen's termination protocol.

    ``timeout`` is how long it waits, prepared or pre-committed, before starting the termination
    protocol (it reuses 2PC's ``ask_interval`` timer); ``report_timeout`` how long the termination
    protocol collects the peers' states before it concludes. The bounded-delay assumption is in
    these numbers: ``timeout`` must exceed everything the coordinator may still be waiting for
    (vote timeout + ack timeout + round trips), or a slow coordinator is taken for a dead one.
    """

    def __init__(self, timeout: float = 1.0, report_timeout: float = 0.1, **config: Any):
        config.setdefault("ask_interval", timeout)
        super().__init__(**config)
        one_of("presumption", self.presumption, ("nothing",))
        self.report_timeout = number("report_timeout", report_timeout, above=True)
        self.reports: dict[int, dict[str, str]] = {}

    def on_start(self) -> None:
        super().on_start()
        self.reports = {}

    def precommitted(self, tx: int) -> bool:
        return any(isinstance(r, PreCommitted) and r.tx == tx for r in log_of(self.storage))

    def state_of(self, tx: int) -> str:
        """One of ``STATES``: what this participant reports in the termination protocol."""
        d = self.decision(tx)
        if d is not None:
            return "committed" if d else "aborted"
        if self.precommitted(tx):
            return "precommitted"
        return "prepared" if self.prepared(tx) is not None else "unknown"

    def phase(self, tx: int) -> str:
        if self.decision(tx) is None and self.precommitted(tx):
            return "precommitted"
        return super().phase(tx)

    # ---- events ----------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, PreCommit):
            self._on_precommit(src, msg.tx)
        elif isinstance(msg, StateRequest):
            self._on_state_request(src, msg.tx)
        elif isinstance(msg, StateReport):
            self._on_report(src, msg)
        elif isinstance(msg, PreCommitAck):
            pass   # a backup coordinator does not wait for these (see _conclude)
        else:
            super().on_message(src, msg)

    def on_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "collect":
            self._conclude(int(arg))
        elif kind == "term-commit":
            self._finish(int(arg), True, "backup coordinator: pre-commit round done")
        else:
            super().on_timer(name)

    def _on_precommit(self, src: str, tx: int) -> None:
        d = self.decision(tx)
        if d is False or (d is None and self.prepared(tx) is None):
            return   # never promised (or aborted): no ack, so nobody can count us as pre-committed
        if d is None and not self.precommitted(tx):
            self._log(PreCommitted(tx))
            self.annotate(f"tx {tx}: pre-committed (committable)")
            self.set_timer(f"ask:{tx}", self.ask_interval)   # restart the timeout in the new state
        self.send(src, PreCommitAck(tx))

    # ---- termination protocol --------------------------------------------------------------------
    def _ask(self, tx: int) -> None:
        """The timeout: the coordinator is presumed crashed -> collect the peers' states."""
        participants = self.prepared(tx)
        if participants is None or self.decision(tx) is not None:
            return
        self.annotate(f"tx {tx}: timeout in state {self.state_of(tx)} -> termination protocol")
        self.reports[tx] = {}
        for p in participants:
            if p != self.id:
                self.send(p, StateRequest(tx))
        self.set_timer(f"collect:{tx}", self.report_timeout)

    def _on_state_request(self, src: str, tx: int) -> None:
        if self.decision(tx) is None and self.prepared(tx) is None:
            # Not voted yet: abort unilaterally (as 2PC's cooperative termination), so a later
            # Prepare cannot make us vote yes behind the backup coordinator's back.
            self._learn(tx, False, f"{src} asked before we voted")
        self.send(src, StateReport(tx, self.state_of(tx)))

    def _on_report(self, src: str, msg: StateReport) -> None:
        tx = msg.tx
        if self.decision(tx) is not None:
            return
        if msg.state in ("committed", "aborted"):
            self.cancel_timer(f"collect:{tx}")
            self._finish(tx, msg.state == "committed", f"termination: {src} had {msg.state}")
            return
        if tx in self.reports:
            self.reports[tx][src] = msg.state

    def _conclude(self, tx: int) -> None:
        """Skeen's termination rule, applied by the lowest-ranked participant that answered."""
        participants = self.prepared(tx)
        if participants is None or self.decision(tx) is not None:
            return
        reports = self.reports.pop(tx, {})
        lower = [p for p in participants[:participants.index(self.id)] if p in reports]
        if lower:
            self.annotate(f"tx {tx}: {lower[0]} is up and ranks lower: it terminates, we wait")
            self.set_timer(f"ask:{tx}", self.ask_interval)
            return
        states = dict(reports, **{self.id: self.state_of(tx)})
        heard = ", ".join(f"{p}={s}" for p, s in sorted(states.items()))
        if any(s in ("aborted", "unknown") for s in states.values()):
            self._finish(tx, False, f"backup coordinator: {heard}")
        elif any(s == "precommitted" for s in states.values()):
            # Move everyone to pre-commit before committing: if we crash half-way, the next backup
            # coordinator still sees a pre-committed participant and commits too.
            self.annotate(f"tx {tx}: backup coordinator ({heard}) -> pre-commit everyone, then commit")
            if not self.precommitted(tx):
                self._log(PreCommitted(tx))
            for p in participants:
                if p != self.id:
                    self.send(p, PreCommit(tx))
            self.set_timer(f"term-commit:{tx}", self.report_timeout)
        else:
            self._finish(tx, False, f"backup coordinator: nobody pre-committed ({heard})")

    def _finish(self, tx: int, commit: bool, why: str) -> None:
        participants = self.prepared(tx)
        if self.decision(tx) is not None or participants is None:
            return
        self._learn(tx, commit, why)
        for p in participants:
            if p != self.id:
                self.send(p, Decision(tx, commit))
        self.send(self.coordinator, DecisionReply(tx, commit))   # tell a recovering coordinator too


# ---- runs -----------------------------------------------------------------------------------------


class ThreePCRun(TwoPCRun):
    """A 3PC run: 2PC's views (outcomes, votes, violations, outcome, summary).

    ``blocked`` counts only participants that are *up*: a non-blocking protocol promises that the
    operational ones decide; a crashed-for-good one cannot (``TwoPCRun.blocked`` counts it too).
    """

    @property
    def blocked(self) -> list[str]:
        return [p for p in super().blocked if self.world.is_up(p)]

    def __repr__(self) -> str:
        return f"<ThreePCRun {self.summary()}>"


def run_3pc(seed: int = 0, participants: int = 3, votes: Sequence[str] | Mapping[str, str] | None = None,
            loss: float = 0.0, latency: Any = (0.01, 0.03), crash: str | None = None,
            crash_at: float | str | None = None, restart_at: float | None = None,
            faults: FaultSchedule | str | None = None, until: float = 3.0, duplicate: float = 0.0,
            vote_timeout: float = 0.5, ack_timeout: float = 0.3, timeout: float = 1.0,
            report_timeout: float = 0.1, log_delay: float = 0.005) -> ThreePCRun:
    """Run one transaction through 3PC on "coord", "p1".."pN" (the arguments of
    :func:`twopc.run_2pc`). ``crash_at`` points: "votes-in" (the coordinator, the moment the last
    participant has logged Prepared and its yes vote is on its way: nothing decided, nothing
    pre-committed), "precommitting" (the coordinator, right after it sent PreCommit), "prepared" or
    "precommitted" (a participant, right after it logged that record).

    The default timeouts exceed the largest round trip of the default latency (0.06) several
    times over: the bounded-delay assumption 3PC needs. A partition breaks it.
    """
    from .twopc import build_2pc

    until = number("until", until, above=True)
    ack_timeout = number("ack_timeout", ack_timeout, above=True)
    timeout = number("timeout", timeout, above=True)
    report_timeout = number("report_timeout", report_timeout, above=True)
    point = crash_at if isinstance(crash_at, str) else None
    if point is not None:
        one_of("crash_at", point, THREEPC_CRASH_POINTS)
        want = "coord" if point in ("votes-in", "precommitting") else "a participant"
        if (crash == "coord") != (want == "coord"):
            raise ValueError(f"crash_at={point!r} applies to {want}, not {crash!r}")
    log_delay = number("log_delay", log_delay)
    coordinator_cls = _configured(ThreePCCoordinator, ack_timeout=ack_timeout, log_delay=log_delay)
    participant_cls = _configured(ThreePCParticipant, timeout=timeout, report_timeout=report_timeout,
                                  log_delay=log_delay)
    names = _participant_names(integer("participants", participants, 1, 9))
    if point is not None and crash not in ("coord",) + names:
        raise ValueError(f"crash must name a node ({', '.join(('coord',) + names)}) or be None "
                         f"(got {crash!r})")
    base = build_2pc(seed, participants, votes, loss, latency, None if point else crash,
                     None if point else crash_at, None if point else restart_at, faults,
                     coordinator_cls, participant_cls, duplicate, 0.0, vote_timeout, 0.0)
    run = ThreePCRun(base.world, base.tx, base.coordinator, base.participants, base.seed, base.schedule)
    if point is not None:
        _crash_at(run.world, crash, point, restart_at)
    return run.run(until)


THREEPC_CRASH_POINTS = ("votes-in", "precommitting", "prepared", "precommitted")


def _configured(cls: type, **defaults: Any) -> type:
    """A subclass of ``cls`` whose constructor defaults to ``defaults`` (``build_2pc`` passes the
    2PC configuration only). Named like ``cls`` so traces and summaries read the same."""
    def __init__(self: Any, **config: Any) -> None:
        cls.__init__(self, **{**defaults, **config})
    return type(cls.__name__, (cls,), {"__init__": __init__, "__module__": cls.__module__,
                                       "__qualname__": cls.__qualname__})


def _crash_at(world: World, node: str, point: str, restart_at: float | None) -> None:
    """Crash ``node`` right after the event that brings it to ``point`` (a phase name)."""
    done: list[bool] = []

    def reached(w: World) -> bool:
        if point == "votes-in":   # every participant prepared: the votes are all on their way
            ps = w.nodes[node].participants
            return all(w.status[p] == "up" and w.nodes[p].phase(1) == "prepared" for p in ps)
        return w.nodes[node].phase(1) == point

    def monitor(w: World) -> None:
        if done or w.status[node] != "up":
            return
        if reached(w):
            done.append(True)
            w.annotate(node, f"crash point {point!r} reached")
            w.crash(node)
            if restart_at is not None:
                w.at(max(restart_at, w.now), lambda: w.restart(node))

    world.add_monitor(monitor)


def crash_scenario(seed: int = 0, point: str = "votes-in", until: float = 3.0,
                   participants: int = 3) -> ThreePCRun:
    """The coordinator crashes for good at ``point`` ("votes-in": every participant prepared --
    2PC's blocking case; "precommitting": PreCommit just sent). Crashes only, bounded delays: the
    participants time out, the termination protocol decides (abort / commit), nobody blocks."""
    one_of("point", point, ("votes-in", "precommitting"))
    return run_3pc(seed=seed, participants=participants, crash="coord", crash_at=point, until=until)


PARTITION_AT = 0.033   # after the votes reach the coordinator, before PreCommit reaches p2/p3


def partition_scenario(seed: int = 0, until: float = 3.0) -> ThreePCRun:
    """3PC losing agreement: constant 10 ms links; at t=0.033 the network splits into
    {coord, p1} | {p2, p3} while PreCommit is in flight. p1 pre-commits and acks; the coordinator's
    ack timeout commits (p2, p3 "must have crashed"); p2 and p3 time out prepared, p2 becomes the
    backup coordinator of its side, sees nobody pre-committed and aborts. The atomic-commitment
    checker reports coord, p1 committed but p2, p3 aborted."""
    faults = FaultSchedule([partition(["coord", "p1"], ["p2", "p3"], at=PARTITION_AT)])
    return run_3pc(seed=seed, latency=0.01, faults=faults, until=until)


def random_3pc(seed: int, participants: int = 3, *, no_vote: float = 0.1,
               kinds: Sequence[str] = ("crash", "crash-stop"), max_faults: int = 2,
               loss: bool = False, until: float = 4.0) -> ThreePCRun:
    """One run drawn from ``seed``: 0..``max_faults`` faults of ``kinds`` (default crashes only, with
    and without restart: 3PC's failure model), each vote "no" with probability ``no_vote``, and --
    only with ``loss=True`` -- loss and duplication up to 20% (outside 3PC's model)."""
    rng = stream(check_seed(seed), "3pc/random")
    names = _participant_names(integer("participants", participants, 1, 9))
    votes = ["no" if rng.random() < number("no_vote", no_vote, 0.0, 1.0) else "yes" for _ in names]
    lossy = round(rng.uniform(0.0, 0.2), 3) if loss else 0.0
    dup = round(rng.uniform(0.0, 0.2), 3) if loss else 0.0
    schedule = random_faults(seed, participants, faults=rng.randint(0, integer("max_faults", max_faults, 0)),
                             kinds=kinds)
    return run_3pc(seed=seed, participants=participants, votes=votes, loss=lossy, duplicate=dup,
                   faults=schedule, until=until)


def model_nodes(participants: int = 2, *, votes: Mapping[str, str] | None = None
                ) -> dict[str, tuple[type, dict[str, Any]]]:
    """3PC as ``{name: (class, config)}`` for :func:`distlib.check.explore.explore` (log delays 0).

    Time is abstract in the explorer: any armed timer may fire before messages in flight arrive --
    exactly what a partition (or any delay longer than the timeout) does to 3PC.
    """
    names = _participant_names(integer("participants", participants, 1, 9))
    nodes: dict[str, tuple[type, dict[str, Any]]] = {
        "coord": (ThreePCCoordinator, {"participants": names, "start_at": 0.0, "log_delay": 0.0})}
    for p in names:
        vote = (votes or {}).get(p, "yes")
        one_of(f"votes[{p!r}]", vote, ("yes", "no"))
        nodes[p] = (ThreePCParticipant, {"coordinator": "coord", "vote": vote, "log_delay": 0.0})
    return nodes


SCENARIOS: dict[str, tuple[str, Callable[[int], ThreePCRun]]] = {
    "commit": ("all vote yes: Prepare, PreCommit, commit", lambda s: run_3pc(seed=s)),
    "coordinator-crash": ("the coordinator crashes for good once the votes are in (2PC blocks here): "
                          "the participants' termination protocol aborts", lambda s: crash_scenario(s)),
    "crash-after-precommit": ("the coordinator crashes for good right after sending PreCommit: "
                              "the termination protocol commits",
                              lambda s: crash_scenario(s, "precommitting")),
    "partition": ("{coord,p1} | {p2,p3} while PreCommit is in flight: one side commits, the other "
                  "aborts (atomic commitment broken)", lambda s: partition_scenario(s)),
}


def scenario(name: str, seed: int = 0) -> ThreePCRun:
    """Run the named scenario (see ``SCENARIOS``)."""
    if name not in SCENARIOS:
        raise ValueError(f"name must be one of {', '.join(SCENARIOS)} (got {name!r})")
    return SCENARIOS[name][1](seed)


