"""Two-phase commit (2PC), done properly: Gray's protocol with durable logs and recovery.

Source: J. Gray, "Notes on Data Base Operating Systems" (1978), section 5.8.3 "Two-phase
commit" (presumed nothing: every outcome is logged and acknowledged), with the cooperative
termination protocol of Bernstein, Hadzilacos & Goodman, "Concurrency Control and Recovery in
Database Systems" (1987), ch. 7. The safety property is TLA+'s ``TCConsistent`` (Lamport & Gray,
"Consensus on Transaction Commit", 2006): no participant commits while another aborts.

The protocol, for one transaction ``tx``::

    coord                       participant p
      log Started(tx, ps)
      Prepare(tx) ------------>   vote yes: FORCE-WRITE Prepared(tx) THEN send Vote(yes)
                                  vote no:  log Aborted(tx), send Vote(no) (unilateral abort)
      <------------ Vote(tx, yes)
      all yes -> commit; any no or vote timeout -> abort
      FORCE-WRITE Committed/Aborted(tx) THEN send
      Decision(tx, commit) ---->  log the decision, send Ack(tx)
      <------------ Ack(tx)       (decision re-sent until every participant acks)
      all acked: log Ended(tx)

A prepared participant that has not heard the decision is IN DOUBT: it may not decide alone
(the coordinator may have logged either outcome). It asks the coordinator and its peers
(``DecisionRequest``); a peer that knows the outcome answers, and a peer that has not voted yet
aborts and answers "abort" (it can never be outvoted now). If everyone reachable is in doubt,
it waits: that is 2PC's blocking case (:func:`blocking_scenario`).

Presumed abort / presumed commit (Mohan, Lindsay & Obermarck, "Transaction Management in the R*
Distributed Database Management System", TODS 1986): ``presumption="abort"`` lets the coordinator
forget an aborted transaction -- abort records are not forced, aborts are not acknowledged and no
Ended record follows, because "no information" is answered "abort"; ``presumption="commit"`` forces
the participant list (the collecting record, here ``Started``) before phase 1, and then commits are
not forced at participants, not acknowledged and not Ended. :func:`log_cost` counts forced writes
and messages per run under each rule (the default ``"nothing"`` is Gray's protocol above).

Everything here is a plain actor (:class:`distlib.sim.Node`): no SimPy, so the model checker
runs the same classes. Broken variants for exercises and checkers: :class:`MajorityCoordinator`,
:class:`EagerCoordinator`, :class:`NoLogParticipant`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.sim import FaultSchedule, Node, World, as_schedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import integer, number, one_of

# ---- messages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepare:
    """Coordinator -> participant: phase 1, "can you commit tx?" (carries the participant list)."""
    tx: int
    participants: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Vote:
    """Participant -> coordinator: its vote on tx."""
    tx: int
    yes: bool


@dataclass(frozen=True)
class Decision:
    """Coordinator -> participant: phase 2, the outcome of tx."""
    tx: int
    commit: bool


@dataclass(frozen=True)
class Ack:
    """Participant -> coordinator: the decision on tx is durable here; stop re-sending it."""
    tx: int


@dataclass(frozen=True)
class DecisionRequest:
    """An in-doubt participant -> coordinator and peers: "what was decided on tx?"."""
    tx: int


@dataclass(frozen=True)
class DecisionReply:
    """Answer to a DecisionRequest from a node that knows (or just made) the outcome."""
    tx: int
    commit: bool


@dataclass(frozen=True)
class Begin:
    """Client -> coordinator: run tx through two-phase commit."""
    req_id: Any
    tx: int


@dataclass(frozen=True)
class Outcome:
    """Coordinator -> client: the outcome of tx (echoes the request's req_id)."""
    req_id: Any
    tx: int
    commit: bool



# ---- durable log records (``storage["log"]``, append-only) -------------------------------------


@dataclass(frozen=True)
class Started:
    """Coordinator: tx began with these participants (so recovery knows whom to tell)."""
    tx: int
    participants: tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    """Participant: it promised to commit tx if told to (forced before its yes vote)."""
    tx: int
    participants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Committed:
    tx: int


@dataclass(frozen=True)
class Aborted:
    tx: int


@dataclass(frozen=True)
class Ended:
    """Coordinator: every participant acknowledged the decision on tx."""
    tx: int




def log_of(storage: Mapping) -> list:
    """The durable log kept in a node's ``storage`` (empty if it never wrote one)."""
    return list(storage.get("log", ()))


def logged_decisions(storage: Mapping, tx: int) -> list[bool]:
    """Every decision on ``tx`` in a log, in order (True = commit). Normally zero or one."""
    return [isinstance(r, Committed) for r in log_of(storage)
            if isinstance(r, (Committed, Aborted)) and r.tx == tx]


def _word(commit: bool) -> str:
    return "commit" if commit else "abort"


PRESUMPTIONS = ("nothing", "abort", "commit")


def acknowledged(presumption: str, commit: bool) -> bool:
    """Whether a ``commit`` (or abort) decision is acknowledged by participants (and so re-sent
    until acked and closed with an Ended record) under ``presumption`` (R*: the presumed outcome
    needs no acknowledgement -- a participant that asks later is told it by default)."""
    return presumption == "nothing" or (presumption == "abort") == commit


def is_forced(record: Any, presumption: str = "nothing", coordinator: bool = False) -> bool:
    """Whether writing ``record`` is a forced (synchronous) log write under ``presumption``.

    Gray (presumed nothing): Prepared and every decision are forced; Started and Ended are not.
    Presumed abort: abort records are never forced. Presumed commit: the coordinator forces the
    collecting record (Started) and its decisions; participants do not force commit records.
    """
    if isinstance(record, Prepared) or getattr(type(record), "FORCED", False):
        return True   # a record class of another protocol may declare itself forced (3PC's PreCommitted)
    if isinstance(record, Started):
        return presumption == "commit"
    if isinstance(record, Committed):
        return coordinator or presumption != "commit"
    if isinstance(record, Aborted):
        return presumption != "abort"
    return False


class _Actor(Node):
    """Shared helpers: the append-only durable log."""

    def _log(self, record: Any) -> None:
        self.storage.setdefault("log", []).append(record)
        self.annotate(f"log {record!r}")

    def decision(self, tx: int) -> bool | None:
        """This node's durable decision on ``tx`` (True commit, False abort, None undecided)."""
        found = logged_decisions(self.storage, tx)
        return found[0] if found else None


# ---- coordinator ------------------------------------------------------------------------------


@dataclass
class _CoordTx:
    """The coordinator's volatile view of one transaction."""
    participants: tuple[str, ...]
    phase: str = "collecting"                          # collecting -> forcing -> decided
    votes: dict[str, bool] = field(default_factory=dict)
    commit: bool | None = None
    acked: dict[str, bool] = field(default_factory=dict)
    waiters: list[tuple[str, Any]] = field(default_factory=list)   # (client, req_id)


class Coordinator(_Actor):
    """The transaction manager of Gray's 2PC.

    ``participants`` are the resource managers; ``vote_timeout`` is how long it waits for the
    votes; ``resend_interval`` how often it re-sends an unacknowledged decision; ``log_delay``
    how long a forced log write takes (the decision leaves only after it is durable); with
    ``start_at`` set it begins transaction ``tx`` by itself at that time (no client needed).
    """

    def __init__(self, participants: Sequence[str] = ("p1", "p2", "p3"), vote_timeout: float = 0.5,
                 resend_interval: float = 0.2, log_delay: float = 0.005, start_at: float | None = None,
                 tx: int = 1, presumption: str = "nothing"):
        if isinstance(participants, str) or not participants:
            raise ValueError("participants must be a non-empty sequence of node names "
                             f"(got {participants!r})")
        ps = tuple(participants)
        if any(not isinstance(p, str) or not p for p in ps) or len(set(ps)) != len(ps):
            raise ValueError(f"participants must be distinct non-empty names (got {participants!r})")
        self.participants = ps
        self.vote_timeout = number("vote_timeout", vote_timeout, above=True)
        self.resend_interval = number("resend_interval", resend_interval, above=True)
        self.log_delay = number("log_delay", log_delay)
        self.start_at = (None if start_at is None else number("start_at", start_at))
        self.tx = integer("tx", tx)
        self.presumption = one_of("presumption", presumption, PRESUMPTIONS)
        self.txs: dict[int, _CoordTx] = {}   # volatile; (re)built by on_start / on_recover

    # ---- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.txs: dict[int, _CoordTx] = {}
        if self.start_at is not None:
            self.set_timer("start", max(0.0, self.start_at - self.now))

    def on_recover(self) -> None:
        """Rebuild from the log. Gray: a logged decision is re-sent; a transaction with no logged
        decision is aborted -- safe (presumed abort on recovery) because no decision left before
        it was logged, so nobody can have committed."""
        self.txs = {}
        log = log_of(self.storage)
        for rec in log:
            if isinstance(rec, Started):
                self.txs[rec.tx] = _CoordTx(rec.participants)
        for tx, t in self.txs.items():
            found = logged_decisions(self.storage, tx)
            ended = any(isinstance(r, Ended) and r.tx == tx for r in log)
            if found:
                t.phase, t.commit = "decided", found[0]
                if ended or not acknowledged(self.presumption, found[0]):
                    t.acked = {p: True for p in t.participants}
                else:
                    self.annotate(f"recovered: re-sending logged decision {_word(found[0])} for tx {tx}")
                    self._announce(tx)
            else:
                self.annotate(f"recovered: tx {tx} has no logged decision -> abort")
                t.phase, t.commit = "forcing", False
                self._make_durable(tx)
        if self.start_at is not None and self.tx not in self.txs and self.now <= self.start_at:
            self.set_timer("start", self.start_at - self.now)

    # ---- events ---------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "start":
            self.begin(self.tx)
        elif kind == "vote-timeout":
            self._on_vote_timeout(int(arg))
        elif kind == "force":
            self._make_durable(int(arg))
        elif kind == "resend":
            self._announce(int(arg))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Begin):
            self.begin(msg.tx, waiter=(src, msg.req_id))
        elif isinstance(msg, Vote):
            self._on_vote(src, msg)
        elif isinstance(msg, Ack):
            self._on_ack(src, msg.tx)
        elif isinstance(msg, DecisionRequest):
            self._on_request(src, msg.tx)

    # ---- phase 1 -----------------------------------------------------------------------------
    def begin(self, tx: int, waiter: tuple[str, Any] | None = None) -> None:
        """Start two-phase commit for ``tx`` (idempotent: a known tx just gains a waiter)."""
        t = self.txs.get(tx)
        if t is None and self.decision(tx) is not None:
            # decided earlier (e.g. aborted on a DecisionRequest before Begin arrived)
            t = self.txs[tx] = _CoordTx(self.participants, "decided", commit=self.decision(tx))
        if t is not None:
            if waiter is not None:
                if t.phase == "decided":
                    self.send(waiter[0], Outcome(waiter[1], tx, bool(t.commit)))
                else:
                    t.waiters.append(waiter)
            return
        t = self.txs[tx] = _CoordTx(self.participants)
        if waiter is not None:
            t.waiters.append(waiter)
        self._log(Started(tx, self.participants))   # presumed nothing: recovery must know tx exists
        for p in self.participants:
            self.send(p, Prepare(tx, self.participants))
        self.set_timer(f"vote-timeout:{tx}", self.vote_timeout)

    def verdict(self, votes: Mapping[str, bool], participants: Sequence[str]) -> bool | None:
        """Gray's decision rule: commit iff EVERY participant voted yes; any no aborts at once;
        otherwise keep waiting (None)."""
        if any(v is False for v in votes.values()):
            return False
        if all(votes.get(p) is True for p in participants):
            return True
        return None

    def verdict_on_timeout(self, votes: Mapping[str, bool], participants: Sequence[str]) -> bool:
        """A missing vote counts as no: the coordinator cannot know that participant can commit."""
        return False

    def _on_vote(self, src: str, msg: Vote) -> None:
        t = self.txs.get(msg.tx)
        if t is None or src not in t.participants:
            return
        if t.phase == "decided":
            # a late or duplicated vote: that participant may need the outcome (under a presumption
            # an unacknowledged outcome is not re-sent: the participant asks if it lacks it)
            if not t.acked.get(src) and acknowledged(self.presumption, bool(t.commit)):
                self.send(src, Decision(msg.tx, bool(t.commit)))
            return
        if t.phase != "collecting":
            return
        t.votes[src] = msg.yes
        outcome = self.verdict(t.votes, t.participants)
        if outcome is not None:
            self._decide(msg.tx, outcome, "all votes yes" if outcome else f"{src} voted no")

    def _on_vote_timeout(self, tx: int) -> None:
        t = self.txs.get(tx)
        if t is not None and t.phase == "collecting":
            missing = [p for p in t.participants if p not in t.votes]
            outcome = self.verdict_on_timeout(t.votes, t.participants)
            self._decide(tx, outcome, f"vote timeout, missing {','.join(missing)}")

    # ---- phase 2 -----------------------------------------------------------------------------
    def _decide(self, tx: int, commit: bool, why: str) -> None:
        """Gray: force-write the decision, and only then send it."""
        t = self.txs[tx]
        if t.phase != "collecting":
            return
        t.phase, t.commit = "forcing", commit
        self.cancel_timer(f"vote-timeout:{tx}")
        self.annotate(f"tx {tx}: decide {_word(commit)} ({why})")
        if self.log_delay > 0 and is_forced(Committed(tx) if commit else Aborted(tx), self.presumption,
                                            coordinator=True):
            self.set_timer(f"force:{tx}", self.log_delay)
        else:
            self._make_durable(tx)

    def _make_durable(self, tx: int) -> None:
        t = self.txs[tx]
        if t.phase != "forcing":
            return
        self._log(Committed(tx) if t.commit else Aborted(tx))
        t.phase = "decided"
        self._announce(tx)

    def _announce(self, tx: int) -> None:
        """Send the decision to every participant that has not acked; answer waiting clients."""
        t = self.txs[tx]
        commit = bool(t.commit)
        for p in t.participants:
            if not t.acked.get(p):
                self.send(p, Decision(tx, commit))
        for client, req_id in t.waiters:
            self.send(client, Outcome(req_id, tx, commit))
        t.waiters = []
        if acknowledged(self.presumption, commit) and any(not t.acked.get(p) for p in t.participants):
            self.set_timer(f"resend:{tx}", self.resend_interval)

    def _on_ack(self, src: str, tx: int) -> None:
        t = self.txs.get(tx)
        if t is None or t.phase != "decided" or src not in t.participants or t.acked.get(src) \
                or not acknowledged(self.presumption, bool(t.commit)):
            return
        t.acked[src] = True
        if all(t.acked.get(p) for p in t.participants):
            self.cancel_timer(f"resend:{tx}")
            self._log(Ended(tx))

    def _on_request(self, src: str, tx: int) -> None:
        t = self.txs.get(tx)
        if t is not None:
            if t.phase == "decided":
                self.send(src, DecisionReply(tx, bool(t.commit)))
            return   # still collecting or forcing: the Decision will come
        if self.presumption == "commit":
            # R*'s presumed commit: the collecting record is forced before any Prepare leaves, so a
            # prepared participant asking about a tx this log does not know asks about one that
            # committed and was forgotten.
            self.send(src, DecisionReply(tx, True))
            return
        # Never started here (nothing logged): it can only abort. Log it first, so a late Begin
        # for the same tx cannot commit it afterwards.
        self._log(Aborted(tx))
        self.txs[tx] = _CoordTx(self.participants, "decided", commit=False)
        self.send(src, DecisionReply(tx, False))

    # ---- views ------------------------------------------------------------------------------
    def phase(self, tx: int) -> str:
        """"unknown", "collecting", "forcing" (decision made, not yet durable) or "decided"."""
        t = self.txs.get(tx)
        return "unknown" if t is None else t.phase


class MajorityCoordinator(Coordinator):
    """BROKEN (the source article's error): commits once a MAJORITY of participants voted yes.

    A participant that voted no (or never voted) has aborted on its own, so it disagrees."""

    def verdict(self, votes: Mapping[str, bool], participants: Sequence[str]) -> bool | None:
        yes = sum(1 for v in votes.values() if v)
        no = sum(1 for v in votes.values() if not v)
        if 2 * yes > len(participants):
            return True
        if 2 * no >= len(participants):
            return False
        return None

    def verdict_on_timeout(self, votes: Mapping[str, bool], participants: Sequence[str]) -> bool:
        return 2 * sum(1 for v in votes.values() if v) > len(participants)


class EagerCoordinator(Coordinator):
    """BROKEN: sends the decision BEFORE forcing it to the log.

    If it crashes in between, it recovers with no logged decision, presumes abort and tells
    everyone "abort" -- while some participants already committed."""

    def _decide(self, tx: int, commit: bool, why: str) -> None:
        t = self.txs[tx]
        if t.phase != "collecting":
            return
        t.phase, t.commit = "forcing", commit
        self.cancel_timer(f"vote-timeout:{tx}")
        self.annotate(f"tx {tx}: decide {_word(commit)} ({why}) and send it before logging")
        for p in t.participants:
            self.send(p, Decision(tx, commit))
        if self.log_delay > 0:
            self.set_timer(f"force:{tx}", self.log_delay)
        else:
            self._make_durable(tx)


# ---- participant ----------------------------------------------------------------------------


class Participant(_Actor):
    """A resource manager of Gray's 2PC.

    ``vote`` is what it will vote ("yes" or "no"); ``ask_interval`` how often an in-doubt
    participant asks the coordinator and its peers; ``log_delay`` how long a forced write takes.
    """

    def __init__(self, coordinator: str = "coord", vote: str = "yes", ask_interval: float = 0.25,
                 log_delay: float = 0.005, presumption: str = "nothing"):
        if not isinstance(coordinator, str) or not coordinator:
            raise ValueError(f"coordinator must be a node name (got {coordinator!r})")
        if vote not in ("yes", "no"):
            raise ValueError(f"vote must be 'yes' or 'no' (got {vote!r})")
        self.coordinator = coordinator
        self.vote = vote
        self.ask_interval = number("ask_interval", ask_interval, above=True)
        self.log_delay = number("log_delay", log_delay)
        self.presumption = one_of("presumption", presumption, PRESUMPTIONS)
        self.forcing: dict[int, tuple[str, ...]] = {}   # volatile; reset by on_start / on_recover

    def on_start(self) -> None:
        self.forcing: dict[int, tuple[str, ...]] = {}   # tx -> participants, while Prepared is written

    def on_recover(self) -> None:
        """Rebuild from the log: a prepared but undecided transaction is IN DOUBT -- the participant
        must not decide alone; it starts asking at once. Anything not in the log was never
        promised: its work was lost in the crash, so it is aborted (if anyone asks)."""
        self.on_start()
        for rec in log_of(self.storage):
            if isinstance(rec, Prepared) and self.decision(rec.tx) is None:
                self.annotate(f"recovered IN DOUBT on tx {rec.tx}: must ask, may not decide alone")
                self._ask(rec.tx)

    # ---- what it has promised --------------------------------------------------------------
    def _write_prepared(self, tx: int, participants: tuple[str, ...]) -> None:
        self._log(Prepared(tx, participants))

    def prepared(self, tx: int) -> tuple[str, ...] | None:
        """The participant list of ``tx`` if this node is prepared (promised yes), else None."""
        for rec in log_of(self.storage):
            if isinstance(rec, Prepared) and rec.tx == tx:
                return rec.participants
        return None

    def phase(self, tx: int) -> str:
        """"unknown", "preparing", "prepared" (in doubt), "committed" or "aborted"."""
        d = self.decision(tx)
        if d is not None:
            return "committed" if d else "aborted"
        if self.prepared(tx) is not None:
            return "prepared"
        return "preparing" if tx in self.forcing else "unknown"

    # ---- events ---------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Prepare):
            self._on_prepare(msg)
        elif isinstance(msg, Decision):
            self._learn(msg.tx, msg.commit, f"Decision from {src}")
            self._ack(msg.tx)
        elif isinstance(msg, DecisionReply):
            if self.decision(msg.tx) is None:
                self._learn(msg.tx, msg.commit, f"cooperative termination: {src} knew")
                self._ack(msg.tx)
        elif isinstance(msg, DecisionRequest):
            self._on_request(src, msg.tx)

    def on_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "force":
            self._prepared_durable(int(arg))
        elif kind == "ask":
            self._ask(int(arg))

    def _on_prepare(self, msg: Prepare) -> None:
        tx = msg.tx
        d = self.decision(tx)
        if d is not None:
            if not d:   # already aborted (voted no, or aborted when a peer asked): say no again
                self._send_vote(tx, False)
            return
        if self.prepared(tx) is not None:   # a duplicate Prepare: repeat the (durable) yes
            self._send_vote(tx, True)
            return
        if tx in self.forcing:
            return
        if self.vote == "no":
            self._log(Aborted(tx))        # Gray: a no vote is a unilateral abort
            self._send_vote(tx, False)
            return
        # Gray: force-write the prepared record BEFORE the yes vote leaves.
        self.forcing[tx] = msg.participants
        if self.log_delay > 0:
            self.set_timer(f"force:{tx}", self.log_delay)
        else:
            self._prepared_durable(tx)

    def _prepared_durable(self, tx: int) -> None:
        participants = self.forcing.pop(tx, None)
        if participants is None:
            return
        self._write_prepared(tx, participants)
        self._send_vote(tx, True)
        self.set_timer(f"ask:{tx}", self.ask_interval)

    def _send_vote(self, tx: int, yes: bool) -> None:
        """Where a vote goes: the coordinator (Paxos Commit sends it to every acceptor instead)."""
        self.send(self.coordinator, Vote(tx, yes))

    def _ack(self, tx: int) -> None:
        """Acknowledge the (now durable) decision on ``tx``, unless the presumption makes it implicit."""
        d = self.decision(tx)
        if d is not None and acknowledged(self.presumption, d):
            self.send(self.coordinator, Ack(tx))

    def _learn(self, tx: int, commit: bool, how: str) -> None:
        d = self.decision(tx)
        if d is not None:
            if d != commit:
                self.annotate(f"ignored {_word(commit)} for tx {tx}: already {_word(d)}")
            return
        if commit and self.prepared(tx) is None:
            # No durable promise: the tx's work did not survive (a crash lost it), so it cannot
            # commit here. Correct 2PC never gets here (no commit without our logged yes).
            self.annotate(f"told to commit tx {tx} but no Prepared record: its work is lost -> abort")
            commit = False
        self.forcing.pop(tx, None)
        self.cancel_timer(f"force:{tx}")
        self.cancel_timer(f"ask:{tx}")
        self._log(Committed(tx) if commit else Aborted(tx))
        self.annotate(f"tx {tx}: {_word(commit)} ({how})")

    def _ask(self, tx: int) -> None:
        """In doubt: ask the coordinator and (cooperative termination) every other participant."""
        participants = self.prepared(tx)
        if participants is None or self.decision(tx) is not None:
            return
        self.send(self.coordinator, DecisionRequest(tx))
        for p in participants:
            if p != self.id:
                self.send(p, DecisionRequest(tx))
        self.set_timer(f"ask:{tx}", self.ask_interval)

    def _on_request(self, src: str, tx: int) -> None:
        d = self.decision(tx)
        if d is not None:
            self.send(src, DecisionReply(tx, d))
        elif self.prepared(tx) is None:
            # Not voted yet: vote no now, by aborting -- the coordinator can never commit without
            # our yes, so "abort" is the outcome and we may tell the asker.
            self.annotate(f"asked about tx {tx} before voting: abort unilaterally")
            self._learn(tx, False, f"{src} asked before we voted")
            self.send(src, DecisionReply(tx, False))
        # prepared and undecided: we are in doubt too, nothing to tell


class NoLogParticipant(Participant):
    """BROKEN: votes yes WITHOUT force-writing Prepared (the promise lives in memory only).

    A crash after the yes vote erases the promise: after restart it aborts (when told to
    commit, or when a peer asks) although the coordinator may have committed."""

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.promised: dict[int, tuple[str, ...]] = {}   # volatile: lost in a crash

    def on_start(self) -> None:
        super().on_start()
        self.promised = {}

    def _write_prepared(self, tx: int, participants: tuple[str, ...]) -> None:
        self.promised[tx] = participants

    def prepared(self, tx: int) -> tuple[str, ...] | None:
        found = super().prepared(tx)
        return found if found is not None else self.promised.get(tx)


# ---- scenarios -------------------------------------------------------------------------------

CRASH_POINTS = {
    "votes-in": "coordinator: the moment it has every vote and has decided, before the decision is logged",
    "prepared": "participant: the moment it has logged Prepared and sent its yes vote",
}


class TwoPCRun:
    """One simulated run of 2PC (transaction ``tx``); every view reads the world's logs and trace.

    The properties are live: after ``run.run(until=...)`` they describe the later moment.
    """

    def __init__(self, world: World, tx: int, coordinator: str, participants: tuple[str, ...],
                 seed: int, schedule: FaultSchedule | None = None):
        self.world = world
        self.tx = tx
        self.coordinator = coordinator
        self.participants = participants
        self.seed = seed
        self.schedule = schedule
        self.presumption = "nothing"

    def run(self, until: float) -> TwoPCRun:
        """Advance the simulation to time ``until``."""
        self.world.run(until=until)
        return self

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.coordinator,) + self.participants

    @property
    def outcomes(self) -> dict[str, str | None]:
        """node -> "commit" | "abort" | None (undecided), from each node's durable log."""
        out: dict[str, str | None] = {}
        for n in self.nodes:
            found = logged_decisions(self.world.storage[n], self.tx)
            out[n] = _word(found[0]) if found else None
        return out

    @property
    def votes(self) -> dict[str, str | None]:
        """participant -> "yes" | "no" | None (never voted): the first vote it sent (trace)."""
        out: dict[str, str | None] = {p: None for p in self.participants}
        for r in self.world.trace.records:
            if r.kind == "send" and isinstance(r.msg, Vote) and r.msg.tx == self.tx \
                    and r.src in out and out[r.src] is None:
                out[r.src] = "yes" if r.msg.yes else "no"
        return out

    @property
    def blocked(self) -> list[str]:
        """Participants that are prepared (durably) and undecided: they cannot decide alone."""
        out = []
        for p in self.participants:
            st = self.world.storage[p]
            prepared = any(isinstance(r, Prepared) and r.tx == self.tx for r in log_of(st))
            if prepared and not logged_decisions(st, self.tx):
                out.append(p)
        return out

    @property
    def violations(self) -> list[str]:
        from distlib.check.atomic import check_atomic_commitment  # check sits above; import lazily
        return check_atomic_commitment(self)

    @property
    def outcome(self) -> str:
        """The run in one word: "mixed" (some commit, some abort -- a violation), "blocked"
        (someone prepared and undecided), "commit" or "abort"."""
        decided = [o for o in self.outcomes.values() if o is not None]
        if "commit" in decided and "abort" in decided:
            return "mixed"
        if self.blocked:
            return "blocked"
        return "commit" if "commit" in decided else "abort"

    def summary(self) -> str:
        o = self.outcomes
        nodes = " ".join(f"{n}={o[n] or 'undecided'}" for n in self.nodes)
        blocked = ",".join(self.blocked) or "none"
        v = self.violations
        sent = sum(1 for r in self.world.trace.records if r.kind == "send")
        return (f"seed {self.seed} tx {self.tx}: {self.outcome} | {nodes} | blocked: {blocked} | "
                f"violations: {len(v)} | {sent} messages by t={self.world.now:g}")

    def __repr__(self) -> str:
        return f"<TwoPCRun {self.summary()}>"


def _participant_names(n: int) -> tuple[str, ...]:
    return tuple(f"p{i}" for i in range(1, n + 1))


def build_2pc(seed: int = 0, participants: int = 3, votes: Sequence[str] | Mapping[str, str] | None = None,
              loss: float = 0.0, latency: Any = (0.01, 0.03), crash: str | None = None,
              crash_at: float | str | None = None, restart_at: float | None = None,
              faults: FaultSchedule | str | None = None, coordinator_cls: type[Coordinator] = Coordinator,
              participant_cls: type[Participant] = Participant, duplicate: float = 0.0,
              reorder: float = 0.0, vote_timeout: float = 0.5, start_at: float = 0.0,
              presumption: str = "nothing") -> TwoPCRun:
    """Build (but do not run) the 2PC scenario of :func:`run_2pc`; ``run.run(until)`` advances it."""
    seed = check_seed(seed)
    integer("participants", participants, 1, 9)
    names = _participant_names(participants)
    if votes is None:
        vote_of = {p: "yes" for p in names}
    elif isinstance(votes, Mapping):
        unknown = [k for k in votes if k not in names]
        if unknown:
            raise ValueError(f"votes names unknown participant {unknown[0]!r}; participants are "
                             f"{', '.join(names)}")
        vote_of = {p: votes.get(p, "yes") for p in names}
    elif isinstance(votes, str) or len(votes) != participants:
        raise ValueError(f"votes must be a list of {participants} 'yes'/'no' values, one per participant "
                         f"(got {votes!r})")
    else:
        vote_of = dict(zip(names, votes, strict=True))
    for p, v in vote_of.items():
        if v not in ("yes", "no"):
            raise ValueError(f"votes must be 'yes' or 'no' (got {v!r} for {p})")
    loss = number("loss", loss, 0.0, 1.0)
    duplicate = number("duplicate", duplicate, 0.0, 1.0)
    reorder = number("reorder", reorder, 0.0, 1.0)
    if not (isinstance(coordinator_cls, type) and issubclass(coordinator_cls, Coordinator)):
        raise ValueError(f"coordinator_cls must be a subclass of Coordinator (got {coordinator_cls!r})")
    if not (isinstance(participant_cls, type) and issubclass(participant_cls, Participant)):
        raise ValueError(f"participant_cls must be a subclass of Participant (got {participant_cls!r})")
    all_nodes = ("coord",) + names
    faults = None if faults is None else as_schedule(faults, all_nodes)
    if crash is not None and crash not in all_nodes:
        raise ValueError(f"crash must name a node ({', '.join(all_nodes)}) or be None (got {crash!r})")
    if crash is None and (crash_at is not None or restart_at is not None):
        raise ValueError("crash must name the node to crash when crash_at or restart_at is given")
    if crash is not None:
        if crash_at is None:
            raise ValueError("crash_at must be given with crash: a time >= 0 or one of "
                             f"{', '.join(CRASH_POINTS)}")
        if isinstance(crash_at, str):
            if crash_at not in CRASH_POINTS:
                raise ValueError(f"crash_at must be a time >= 0 or one of {', '.join(CRASH_POINTS)} "
                                 f"(got {crash_at!r})")
            if (crash_at == "votes-in") != (crash == "coord"):
                raise ValueError(f"crash_at={crash_at!r} applies to "
                                 f"{'the coordinator' if crash_at == 'votes-in' else 'a participant'}, "
                                 f"not {crash!r}")
        else:
            crash_at = number("crash_at", crash_at)
        restart_at = (None if restart_at is None else number("restart_at", restart_at))
        if restart_at is not None and not isinstance(crash_at, str) and restart_at < crash_at:
            raise ValueError(f"restart_at must be >= crash_at ({crash_at:g}) (got {restart_at:g})")
    vote_timeout = number("vote_timeout", vote_timeout, above=True)
    start_at = number("start_at", start_at)
    one_of("presumption", presumption, PRESUMPTIONS)

    world = World(seed, latency=latency, loss=loss, duplicate=duplicate, reorder=reorder)
    world.add_node("coord", coordinator_cls, participants=names, vote_timeout=vote_timeout,
                   start_at=start_at, tx=1, presumption=presumption)
    for p in names:
        world.add_node(p, participant_cls, coordinator="coord", vote=vote_of[p], presumption=presumption)
    world.start()   # boot first, so a fault at time 0 hits a running node
    if faults is not None:
        faults.apply(world)
    if crash is not None:
        if isinstance(crash_at, str):
            _crash_at_point(world, crash, crash_at, tx=1)
        else:
            world.at(crash_at, lambda: world.crash(crash))
        if restart_at is not None:
            world.at(restart_at, lambda: world.restart(crash))
    run = TwoPCRun(world, 1, "coord", names, seed, faults)
    run.presumption = presumption
    return run


def _crash_at_point(world: World, node: str, point: str, tx: int) -> None:
    """Crash ``node`` right after the event that brings it to protocol point ``point``."""
    wanted = "forcing" if point == "votes-in" else "prepared"
    done: list[bool] = []

    def monitor(w: World) -> None:
        if done or w.status[node] != "up":
            return
        if getattr(w.nodes[node], "phase", lambda _tx: None)(tx) == wanted:
            done.append(True)
            w.annotate(node, f"crash point {point!r} reached")
            w.crash(node)

    world.add_monitor(monitor)


def run_2pc(seed: int = 0, participants: int = 3, votes: Sequence[str] | Mapping[str, str] | None = None,
            loss: float = 0.0, latency: Any = (0.01, 0.03), crash: str | None = None,
            crash_at: float | str | None = None, restart_at: float | None = None,
            faults: FaultSchedule | str | None = None, until: float = 3.0,
            coordinator_cls: type[Coordinator] = Coordinator,
            participant_cls: type[Participant] = Participant, duplicate: float = 0.0,
            reorder: float = 0.0, vote_timeout: float = 0.5, start_at: float = 0.0,
            presumption: str = "nothing") -> TwoPCRun:
    """Run one transaction (tx 1) through 2PC on nodes "coord", "p1".."pN" until time ``until``.

    ``votes``: None (all yes), a list of "yes"/"no" per participant, or {"p2": "no"}.
    ``crash``/``crash_at``/``restart_at``: crash one node at a time or at a protocol point
    (see ``CRASH_POINTS``) and optionally restart it from its log. ``faults``: any
    :class:`~distlib.sim.FaultSchedule` or its text form ("crash p1 at 0.1"). The
    coordinator starts tx 1 by itself at ``start_at``. ``presumption``: "nothing" (Gray),
    "abort" or "commit" (R*'s presumed abort / presumed commit; see :func:`log_cost`).
    """
    until = number("until", until, above=True)
    run = build_2pc(seed, participants, votes, loss, latency, crash, crash_at, restart_at, faults,
                    coordinator_cls, participant_cls, duplicate, reorder, vote_timeout, start_at,
                    presumption)
    return run.run(until)


def log_cost(run: Any, presumption: str | None = None) -> dict[str, Any]:
    """What one commit-protocol run cost, read from its durable logs and its trace.

    ``messages`` (every send, re-sends included) and ``by_type`` (per message class), ``log_writes``
    (every record appended) and ``forced_writes`` (those :func:`is_forced` under ``presumption``,
    default the run's own), split ``coordinator`` / ``participants`` (/ ``acceptors`` for a run that
    has them). Works for any run object with ``world``, ``coordinator`` and ``participants``.
    """
    presumption = one_of("presumption", getattr(run, "presumption", "nothing") if presumption is None
                         else presumption, PRESUMPTIONS)
    by_type: dict[str, int] = {}
    for r in run.world.trace.records:
        if r.kind == "send":
            name = type(r.msg).__name__
            by_type[name] = by_type.get(name, 0) + 1
    out: dict[str, Any] = {"messages": sum(by_type.values()), "by_type": dict(sorted(by_type.items()))}
    forced = {"coordinator": 0, "participants": 0, "acceptors": 0}
    writes = {"coordinator": 0, "participants": 0, "acceptors": 0}
    acceptors = tuple(getattr(run, "acceptors", ()))   # Paxos Commit: the coordinator is one of them
    for node in tuple(dict.fromkeys((run.coordinator,) + tuple(run.participants) + acceptors)):
        role = ("acceptors" if node in acceptors else
                "coordinator" if node == run.coordinator else "participants")
        for rec in log_of(run.world.storage[node]):
            writes[role] += 1
            forced[role] += is_forced(rec, presumption, coordinator=role == "coordinator")
    out.update(log_writes=sum(writes.values()), forced_writes=sum(forced.values()),
               coordinator_forced=forced["coordinator"], participant_forced=forced["participants"])
    if acceptors:
        out["acceptor_forced"] = forced["acceptors"]
    return out


def blocking_scenario(seed: int = 0, until: float = 3.0, participants: int = 3,
                      restart_at: float | None = None) -> TwoPCRun:
    """2PC's blocking case: every participant votes yes (and is prepared); the coordinator
    crashes the moment the votes are in, before its decision is logged or sent. Until it
    restarts (at ``restart_at``, default :attr:`blocking_scenario.RESTART_AT`) nobody can decide:
    a prepared participant may not abort alone, and every peer it can ask is in doubt too.
    After the restart the coordinator finds no logged decision and aborts."""
    return run_2pc(seed=seed, participants=participants, crash="coord", crash_at="votes-in",
                   restart_at=blocking_scenario.RESTART_AT if restart_at is None else restart_at,
                   until=until)


blocking_scenario.RESTART_AT = 2.0   # type: ignore[attr-defined]


def random_faults(seed: int, participants: int = 3, *, horizon: float = 0.5, faults: int = 3,
                  kinds: Sequence[str] = ("crash", "partition", "pause")) -> FaultSchedule:
    """A random fault schedule over "coord", "p1".."pN", drawn from ``seed`` (FaultSchedule.random):
    ``faults`` faults in [0, horizon), each healed or restarted by ``horizon``. The default
    horizon overlaps the transaction (which needs about 0.1 time units without faults)."""
    integer("participants", participants, 1, 9)
    return FaultSchedule.random(seed, ("coord",) + _participant_names(participants), horizon=horizon,
                                faults=faults, kinds=kinds)


def random_2pc(seed: int, participants: int = 3, *, coordinator_cls: type[Coordinator] = Coordinator,
               participant_cls: type[Participant] = Participant, no_vote: float = 0.1,
               kinds: Sequence[str] = ("crash", "partition", "pause"), max_faults: int = 3,
               until: float = 4.0) -> TwoPCRun:
    """One run with everything drawn from ``seed``: 0..``max_faults`` random faults of ``kinds``
    (default: crash with restart, partition, pause; add "crash-stop" to see blocking), message
    loss and duplication up to 20%, and each vote "no" with probability ``no_vote``. Used by
    the fault sweeps in tests and benchmarks."""
    rng = stream(check_seed(seed), "2pc/random")
    no_vote = number("no_vote", no_vote, 0.0, 1.0)
    integer("max_faults", max_faults, 0)
    names = _participant_names(integer("participants", participants, 1, 9))
    votes = ["no" if rng.random() < no_vote else "yes" for _ in names]
    loss = round(rng.uniform(0.0, 0.2), 3)
    duplicate = round(rng.uniform(0.0, 0.2), 3)
    n_faults = rng.randint(0, max_faults)
    schedule = random_faults(seed, participants, faults=n_faults, kinds=kinds)
    return run_2pc(seed=seed, participants=participants, votes=votes, loss=loss, duplicate=duplicate,
                   faults=schedule, until=until, coordinator_cls=coordinator_cls,
                   participant_cls=participant_cls)


def model_nodes(participants: int = 2, *, coordinator_cls: type[Coordinator] = Coordinator,
                participant_cls: type[Participant] = Participant, votes: Mapping[str, str] | None = None,
                coord_log_delay: float = 0.0) -> dict[str, tuple[type, dict[str, Any]]]:
    """The 2PC cluster as ``{name: (class, config)}`` for the model checker (:mod:`distlib.check.explore`).

    The coordinator starts tx 1 by itself. ``log_delay=0`` makes each forced write part of the step
    that asks for it (fewer states); give the coordinator a delay where the window between deciding
    and logging is the point (``EagerCoordinator``).
    """
    integer("participants", participants, 1, 9)
    names = _participant_names(participants)
    if votes is not None and not isinstance(votes, Mapping):
        raise ValueError(f"votes must map participants ({', '.join(names)}) to 'yes'/'no' (got {votes!r})")
    for p, v in (votes or {}).items():
        if p not in names:
            raise ValueError(f"votes names unknown participant {p!r}; participants are {', '.join(names)}")
        one_of(f"votes[{p!r}]", v, ("yes", "no"))
    coord_log_delay = number("coord_log_delay", coord_log_delay)
    nodes: dict[str, tuple[type, dict[str, Any]]] = {
        "coord": (coordinator_cls, {"participants": names, "start_at": 0.0, "log_delay": coord_log_delay})}
    for p in names:
        nodes[p] = (participant_cls, {"coordinator": "coord", "vote": (votes or {}).get(p, "yes"),
                                      "log_delay": 0.0})
    return nodes


# Named scenarios for the CLI, notebooks and widgets: name -> (description, thunk(seed)).
SCENARIOS: dict[str, tuple[str, Callable[[int], TwoPCRun]]] = {
    "commit": ("all participants vote yes: commit", lambda s: run_2pc(seed=s)),
    "no-vote": ("p2 votes no: everyone aborts", lambda s: run_2pc(seed=s, votes={"p2": "no"})),
    "vote-timeout": ("p3 is down from the start: its vote never comes, the coordinator aborts",
                     lambda s: run_2pc(seed=s, crash="p3", crash_at=0.0)),
    "blocking": ("the coordinator crashes once the votes are in; participants block until it restarts",
                 lambda s: blocking_scenario(seed=s)),
    "participant-recovery": ("p2 crashes right after voting yes, restarts in doubt and learns the outcome",
                             lambda s: run_2pc(seed=s, crash="p2", crash_at="prepared", restart_at=0.5)),
    "majority-bug": ("BROKEN MajorityCoordinator: p3 votes no, the coordinator commits anyway",
                     lambda s: run_2pc(seed=s, votes={"p3": "no"}, coordinator_cls=MajorityCoordinator)),
    "nolog-bug": ("BROKEN NoLogParticipant: p2 crashes after voting yes and forgets its promise",
                  lambda s: run_2pc(seed=s, crash="p2", crash_at="prepared", restart_at=0.1,
                                    participant_cls=NoLogParticipant)),
    "eager-bug": ("BROKEN EagerCoordinator: it sends commit, crashes before logging it, recovers "
                  "and aborts", lambda s: run_2pc(seed=s, crash="coord", crash_at="votes-in",
                                                  restart_at=0.5, coordinator_cls=EagerCoordinator)),
}


def scenario(name: str, seed: int = 0) -> TwoPCRun:
    """Run the named scenario (see ``SCENARIOS``)."""
    if name not in SCENARIOS:
        raise ValueError(f"name must be one of {', '.join(SCENARIOS)} (got {name!r})")
    return SCENARIOS[name][1](seed)
