"""Paxos Commit (Gray & Lamport, "Consensus on Transaction Commit", ACM TODS 31(1), 2006).

Transaction commit as N separate consensus problems: **one Paxos instance per participant (RM)**,
deciding that RM's vote, "prepared" or "aborted" (section 4.2). The transaction commits iff every
instance chooses "prepared". Each instance runs on the same 2F + 1 acceptors, so the outcome
survives any F acceptor failures: no single coordinator can block it.

The normal case (section 4.2), with the pieces reused from 2PC::

    leader (= acceptor a1)         RM p                       acceptors a1..a(2F+1)
      Prepare(tx) ------------>      FORCE Prepared
                                     Vote(tx, yes) ------------>  the phase 2a message of instance
                                                                  (tx, p) in ballot 0, which belongs
                                                                  to p: FORCE the acceptance, then
      <-------------------------------------------------------- Phase2b(tx, p, 0, prepared)
      F+1 acceptors accepted "prepared" for every RM: commit
      Decision(tx, commit) ------>   log Committed

An RM's own vote needs no phase 1: ballot 0 is reserved for it (Lamport's "special proposer").
If the leader is silent (a vote timeout, or an in-doubt RM asking the acceptors), an acceptor
takes over (lowest rank first, then randomized retries): phase 1 with a higher ballot on every
instance of the transaction, then phase 2a with the value phase 1 reports -- or "aborted" for an
RM whose vote no acceptor of the quorum accepted -- exactly single-decree Paxos
(:mod:`distlib.consensus.paxos`: :class:`~distlib.consensus.paxos.Ballot` and its acceptor rules,
kept here per instance).

With F = 0 there is one acceptor, the leader itself: the RMs' phase 2a messages are 2PC's votes to
the coordinator, its acceptance is the coordinator's forced write, and its crash blocks everyone
until it restarts -- "The Two-Phase Commit protocol is thus the degenerate case of the Paxos
Commit algorithm with a single acceptor" (section 5). :func:`blocking_scenario` shows both.

Costs are measured by :func:`normal_case_cost` beside the paper's (:data:`PAPER`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from distlib.consensus.paxos import Ballot, majority
from distlib.sim import FaultSchedule, Node, World, as_schedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import integer, names, number, span

from .twopc import (
    Decision,
    DecisionReply,
    DecisionRequest,
    Participant,
    Prepare,
    TwoPCRun,
    Vote,
    _participant_names,
    log_cost,
)

B0 = Ballot(0, "")   # ballot 0 of every instance: the RM's own vote (below every leader's ballot)


# ---- messages ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Phase1a:
    """A new leader -> acceptors: prepare ``ballot`` on every RM's instance of ``tx``."""
    tx: int
    ballot: Ballot
    rms: tuple[str, ...]


@dataclass(frozen=True)
class Phase1b:
    """Acceptor -> leader: promised; per RM, the (ballot, value) it accepted (None, None if none)."""
    tx: int
    ballot: Ballot
    accepted: tuple[tuple[str, Ballot | None, bool | None], ...]


@dataclass(frozen=True)
class Phase2a:
    """Leader -> acceptors: accept ``prepared`` for ``rm``'s instance in ``ballot`` (> 0)."""
    tx: int
    rm: str
    ballot: Ballot
    prepared: bool


@dataclass(frozen=True)
class Phase2b:
    """Acceptor -> the leader of ``ballot``: it accepted ``prepared`` for ``rm``'s instance."""
    tx: int
    rm: str
    ballot: Ballot
    prepared: bool


@dataclass(frozen=True)
class Nack:
    """Acceptor -> leader: it promised ``promised`` > ``ballot`` on some instance of ``tx``."""
    tx: int
    ballot: Ballot
    promised: Ballot


# ---- durable records (acceptor ``storage["log"]``; their current values in storage dicts) ----------
@dataclass(frozen=True)
class InstancePromised:
    """Acceptor: promised ``ballot`` on every instance of ``tx`` (forced before Phase1b)."""
    FORCED: ClassVar[bool] = True
    tx: int
    ballot: Ballot


@dataclass(frozen=True)
class InstanceAccepted:
    """Acceptor: accepted ``prepared`` for ``rm``'s instance in ``ballot`` (forced before Phase2b)."""
    FORCED: ClassVar[bool] = True
    tx: int
    rm: str
    ballot: Ballot
    prepared: bool


# ---- acceptor (and leader) -------------------------------------------------------------------------
class Acceptor(Node):
    """One of the 2F + 1 acceptors; ``leader`` is the initial leader, which starts ``tx`` at ``start_at``.

    Every acceptor may become a leader: the initial one on its ``vote_timeout``, any of them when
    an in-doubt RM asks and the outcome is unknown (after ``takeover`` x its rank, so the lowest
    ranked one tries first), then again after a random wait in ``retry`` until it learns the
    outcome. ``log_delay`` is a forced write; ``max_round`` caps leader ballots (for model checking).
    """

    def __init__(self, acceptors: Sequence[str] = ("a1", "a2", "a3"), rms: Sequence[str] = ("p1", "p2", "p3"),
                 leader: str = "a1", start_at: float | None = None, tx: int = 1, vote_timeout: float = 0.5,
                 takeover: float = 0.3, retry: tuple[float, float] = (0.1, 0.3), log_delay: float = 0.005,
                 max_round: int | None = None):
        self.acceptors = names("acceptors", acceptors)
        self.rms = names("rms", rms)
        self.leader = names("leader", [leader], self.acceptors)[0]
        self.start_at = None if start_at is None else number("start_at", start_at)
        self.tx = integer("tx", tx)
        self.vote_timeout = number("vote_timeout", vote_timeout, above=True)
        self.takeover = number("takeover", takeover, above=True)
        self.retry = span("retry", retry)
        self.log_delay = number("log_delay", log_delay)
        self.max_round = None if max_round is None else integer("max_round", max_round, 1)

    # ---- lifecycle ------------------------------------------------------------------------------
    def on_start(self) -> None:
        self.pending: dict[tuple[int, str], tuple[Ballot, bool]] = {}   # accepts being forced
        self.learned: dict[tuple[int, str, Ballot], dict[str, bool]] = {}  # 2b's per instance ballot
        self.chosen: dict[int, dict[str, bool]] = {}     # tx -> rm -> chosen value (learned)
        self.outcome: dict[int, bool] = {}               # tx -> decided outcome (announced)
        self.leading: dict[int, Ballot] = {}             # tx -> the ballot this node leads
        self.promises: dict[int, dict[str, Phase1b] | None] = {}
        self.collecting: list[int] = []                  # txs waiting for votes in ballot 0
        self.takeovers: list[int] = []                   # txs with a takeover timer armed
        if self.id == self.leader and self.start_at is not None:
            self.set_timer("start", max(0.0, self.start_at - self.now))

    def on_recover(self) -> None:
        # Promises and acceptances are in storage; a recovering leader waits to be asked.
        self.on_start()
        if self.id == self.leader and self.start_at is not None and self.now > self.start_at:
            self.cancel_timer("start")

    def _send(self, dst: str, msg: Any) -> None:
        """A message to ourselves is a local step (the simulator's self-sends cross the network)."""
        if dst == self.id:
            self.on_message(self.id, msg)
        else:
            self.send(dst, msg)

    # ---- acceptor: stable state per instance ------------------------------------------------------
    def promised(self, tx: int, rm: str) -> Ballot | None:
        return self.storage.get("promised", {}).get((tx, rm))

    def accepted(self, tx: int, rm: str) -> tuple[Ballot | None, bool | None]:
        return self.storage.get("accepted", {}).get((tx, rm), (None, None))

    def _accept(self, tx: int, rm: str, ballot: Ballot, prepared: bool) -> None:
        """Phase 2b: accept unless promised a higher ballot; force the acceptance, then announce it."""
        p = self.promised(tx, rm)
        if p is not None and ballot < p:
            if ballot.round > 0:
                self._send(ballot.proposer, Nack(tx, ballot, p))
            return
        if self.accepted(tx, rm) == (ballot, prepared) or (tx, rm) in self.pending:
            if self.accepted(tx, rm) == (ballot, prepared):   # a duplicate: repeat the durable answer
                self._announce_2b(tx, rm, ballot, prepared)
            return
        self.pending[(tx, rm)] = (ballot, prepared)
        if self.log_delay > 0:
            self.set_timer(f"force:{tx}:{rm}", self.log_delay)
        else:
            self._accepted_durable(tx, rm)

    def _accepted_durable(self, tx: int, rm: str) -> None:
        ballot, prepared = self.pending.pop((tx, rm))
        p = self.promised(tx, rm)
        if p is not None and ballot < p:   # a higher promise arrived while we were writing
            return
        self.storage.setdefault("promised", {})[(tx, rm)] = ballot
        self.storage.setdefault("accepted", {})[(tx, rm)] = (ballot, prepared)
        self.storage.setdefault("log", []).append(InstanceAccepted(tx, rm, ballot, prepared))
        self._announce_2b(tx, rm, ballot, prepared)

    def _announce_2b(self, tx: int, rm: str, ballot: Ballot, prepared: bool) -> None:
        learner = self.leader if ballot.round == 0 else ballot.proposer
        self._send(learner, Phase2b(tx, rm, ballot, prepared))

    def _on_1a(self, src: str, m: Phase1a) -> None:
        if src != self.id and m.tx in self.takeovers:   # another acceptor is already leading: let it
            self.takeovers.remove(m.tx)
            self.cancel_timer(f"takeover:{m.tx}")
        higher = [p for p in (self.promised(m.tx, rm) for rm in m.rms) if p is not None and p > m.ballot]
        if higher:
            self._send(src, Nack(m.tx, m.ballot, max(higher)))
            return
        promised = self.storage.setdefault("promised", {})
        for rm in m.rms:
            promised[(m.tx, rm)] = m.ballot
        self.storage["seen_round"] = max(self.storage.get("seen_round", 0), m.ballot.round)
        self.storage.setdefault("log", []).append(InstancePromised(m.tx, m.ballot))
        self._send(src, Phase1b(m.tx, m.ballot, tuple((rm,) + self.accepted(m.tx, rm) for rm in m.rms)))

    # ---- leader -----------------------------------------------------------------------------------
    def begin(self, tx: int) -> None:
        """Ballot 0: ask every RM to prepare; their votes go straight to the acceptors."""
        if tx in self.outcome or tx in self.collecting:
            return
        self.collecting.append(tx)
        for rm in self.rms:
            self.send(rm, Prepare(tx, self.rms))
        self.set_timer(f"vote-timeout:{tx}", self.vote_timeout)

    def has_all_votes(self, tx: int) -> bool:
        """Every RM's ballot-0 vote reached this acceptor (being forced or durable)."""
        return all((tx, rm) in self.pending or self.accepted(tx, rm)[0] == B0 for rm in self.rms)

    def _lead(self, tx: int, why: str) -> None:
        """Phase 1 with a fresh ballot on every instance of ``tx`` (a new or recovering leader)."""
        if tx in self.outcome:
            return
        if tx in self.collecting:
            self.collecting.remove(tx)
        round_ = max(self.storage.get("round", 0), self.storage.get("seen_round", 0)) + 1
        if self.max_round is not None and round_ > self.max_round:
            return   # out of ballots (a model-checking bound)
        self.storage["round"] = round_
        ballot = self.leading[tx] = Ballot(round_, self.id)
        self.promises[tx] = {}
        self.annotate(f"tx {tx}: lead ballot {ballot!r} ({why})")
        for a in self.acceptors:
            self._send(a, Phase1a(tx, ballot, self.rms))
        lo, hi = self.retry
        self.set_timer(f"retry:{tx}", self.rng.uniform(lo, hi))

    def _on_1b(self, src: str, m: Phase1b) -> None:
        got = self.promises.get(m.tx)
        if got is None or self.leading.get(m.tx) != m.ballot:
            return
        got[src] = m
        if len(got) < majority(len(self.acceptors)):
            return
        self.promises[m.tx] = None   # phase 2 sent once per ballot
        for rm in self.rms:
            if rm in self.chosen.get(m.tx, {}):
                continue
            reports = [(b, v) for p in got.values() for (r, b, v) in p.accepted if r == rm and b is not None]
            # Paxos: the value of the highest ballot any quorum member accepted; none -> "aborted"
            value = max(reports, key=lambda bv: bv[0])[1] if reports else False
            for a in self.acceptors:
                self._send(a, Phase2a(m.tx, rm, m.ballot, bool(value)))

    def _on_2b(self, src: str, m: Phase2b) -> None:
        voters = self.learned.setdefault((m.tx, m.rm, m.ballot), {})
        voters[src] = m.prepared
        if len(voters) >= majority(len(self.acceptors)) and m.rm not in self.chosen.get(m.tx, {}):
            self.chosen.setdefault(m.tx, {})[m.rm] = m.prepared
            chosen = self.chosen[m.tx]
            if not m.prepared:
                self._decide(m.tx, False, f"{m.rm}'s instance chose aborted")
            elif all(chosen.get(rm) for rm in self.rms):
                self._decide(m.tx, True, "every RM's instance chose prepared")

    def _decide(self, tx: int, commit: bool, why: str) -> None:
        if tx in self.outcome:
            return
        self.outcome[tx] = commit
        if tx in self.collecting:
            self.collecting.remove(tx)
        for name in (f"vote-timeout:{tx}", f"retry:{tx}", f"takeover:{tx}"):
            self.cancel_timer(name)
        self.annotate(f"tx {tx}: {'commit' if commit else 'abort'} ({why})")
        for rm in self.rms:
            self.send(rm, Decision(tx, commit))

    def _on_request(self, src: str, tx: int) -> None:
        if tx in self.outcome:
            self.send(src, DecisionReply(tx, self.outcome[tx]))
        elif tx not in self.collecting and tx not in self.takeovers and tx not in self.leading:
            self.takeovers.append(tx)
            self.set_timer(f"takeover:{tx}", self.takeover * self.acceptors.index(self.id))

    # ---- dispatch -----------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Vote):
            if src in self.rms:
                self._accept(msg.tx, src, B0, msg.yes)   # the RM's phase 2a in its own ballot 0
        elif isinstance(msg, Phase2a):
            self._accept(msg.tx, msg.rm, msg.ballot, msg.prepared)
        elif isinstance(msg, Phase1a):
            self._on_1a(src, msg)
        elif isinstance(msg, Phase1b):
            self._on_1b(src, msg)
        elif isinstance(msg, Phase2b):
            self._on_2b(src, msg)
        elif isinstance(msg, Nack):
            if self.leading.get(msg.tx) == msg.ballot:
                self.storage["seen_round"] = max(self.storage.get("seen_round", 0), msg.promised.round)
                self.promises[msg.tx] = None   # wait for the retry timer (back off, do not duel)
        elif isinstance(msg, DecisionRequest):
            self._on_request(src, msg.tx)

    def on_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "start":
            self.begin(self.tx)
        elif kind == "force":
            tx, _, rm = arg.partition(":")
            self._accepted_durable(int(tx), rm)
        elif kind in ("vote-timeout", "takeover", "retry"):
            tx = int(arg)
            if kind == "takeover" and tx in self.takeovers:
                self.takeovers.remove(tx)
            self._lead(tx, {"vote-timeout": "votes missing", "takeover": "an RM is in doubt",
                            "retry": "no outcome yet"}[kind])


# ---- resource manager -------------------------------------------------------------------------------
class PaxosCommitRM(Participant):
    """An RM: 2PC's participant whose vote goes to every acceptor (its phase 2a in ballot 0), which
    acknowledges nothing (the acceptors hold the outcome) and, in doubt, asks the acceptors."""

    def __init__(self, acceptors: Sequence[str] = ("a1", "a2", "a3"), **config: Any):
        super().__init__(**config)
        self.acceptors = names("acceptors", acceptors)

    def _send_vote(self, tx: int, yes: bool) -> None:
        for a in self.acceptors:
            self.send(a, Vote(tx, yes))

    def _ack(self, tx: int) -> None:
        pass

    def _ask(self, tx: int) -> None:
        if self.prepared(tx) is None or self.decision(tx) is not None:
            return
        for a in self.acceptors:
            self.send(a, DecisionRequest(tx))
        self.set_timer(f"ask:{tx}", self.ask_interval)


# ---- runs -------------------------------------------------------------------------------------------
class PaxosCommitRun(TwoPCRun):
    """A Paxos Commit run. ``outcomes`` are the RMs' logged decisions (acceptors log no outcome);
    ``blocked`` counts RMs that are up, prepared and undecided (as :class:`threepc.ThreePCRun`)."""

    def __init__(self, world: World, tx: int, acceptors: tuple[str, ...], rms: tuple[str, ...], seed: int,
                 schedule: FaultSchedule | None, f: int):
        super().__init__(world, tx, acceptors[0], rms, seed, schedule)
        self.acceptors = acceptors
        self.f = f

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.participants

    @property
    def blocked(self) -> list[str]:
        return [p for p in super().blocked if self.world.is_up(p)]

    def summary(self) -> str:
        return f"F={self.f} ({len(self.acceptors)} acceptors) " + super().summary()

    def __repr__(self) -> str:
        return f"<PaxosCommitRun {self.summary()}>"


def _acceptor_names(f: int) -> tuple[str, ...]:
    return tuple(f"a{i}" for i in range(1, 2 * f + 2))


CRASH_POINTS = {"votes-in": "the leader a1, the moment every RM's vote has reached it (being forced): "
                            "2PC's blocking point"}


def run_paxos_commit(seed: int = 0, participants: int = 3, f: int = 1,
                     votes: Sequence[str] | Mapping[str, str] | None = None, loss: float = 0.0,
                     latency: Any = (0.01, 0.03), duplicate: float = 0.0,
                     faults: FaultSchedule | str | None = None, crash_leader: str | None = None,
                     restart_at: float | None = None, until: float = 3.0, vote_timeout: float = 0.5,
                     log_delay: float = 0.005) -> PaxosCommitRun:
    """One transaction through Paxos Commit: RMs "p1".."pN", acceptors "a1".."a(2F+1)" (a1 leads).

    ``votes`` as :func:`twopc.run_2pc`; ``faults`` a :class:`~distlib.sim.FaultSchedule` or its text;
    ``crash_leader="votes-in"`` crashes a1 at 2PC's blocking point (see ``CRASH_POINTS``), and
    ``restart_at`` restarts it.
    """
    seed = check_seed(seed)
    rms = _participant_names(integer("participants", participants, 1, 9))
    f = integer("f", f, 0, 3)
    accs = _acceptor_names(f)
    vote_of = _votes(votes, rms)
    loss = number("loss", loss, 0.0, 1.0)
    duplicate = number("duplicate", duplicate, 0.0, 1.0)
    until = number("until", until, above=True)
    vote_timeout = number("vote_timeout", vote_timeout, above=True)
    log_delay = number("log_delay", log_delay)
    if crash_leader is not None and crash_leader not in CRASH_POINTS:
        raise ValueError(f"crash_leader must be one of {', '.join(CRASH_POINTS)} or None "
                         f"(got {crash_leader!r})")
    restart_at = None if restart_at is None else number("restart_at", restart_at)
    if restart_at is not None and crash_leader is None:
        raise ValueError("crash_leader must be given when restart_at is")
    schedule = None if faults is None else as_schedule(faults, accs + rms)
    world = World(seed, latency=latency, loss=loss, duplicate=duplicate)
    for a in accs:
        world.add_node(a, Acceptor, acceptors=accs, rms=rms, leader=accs[0], start_at=0.0,
                       vote_timeout=vote_timeout, log_delay=log_delay)
    for p in rms:
        world.add_node(p, PaxosCommitRM, acceptors=accs, coordinator=accs[0], vote=vote_of[p],
                       log_delay=log_delay)
    world.start()
    if schedule is not None:
        schedule.apply(world)
    if crash_leader is not None:
        _crash_leader_when_votes_in(world, accs[0], restart_at)
    return PaxosCommitRun(world, 1, accs, rms, seed, schedule, f).run(until)


def _votes(votes: Sequence[str] | Mapping[str, str] | None, rms: tuple[str, ...]) -> dict[str, str]:
    if votes is None:
        return {p: "yes" for p in rms}
    if isinstance(votes, Mapping):
        unknown = [k for k in votes if k not in rms]
        if unknown:
            raise ValueError(f"votes names unknown participant {unknown[0]!r}; participants are "
                             f"{', '.join(rms)}")
        out = {p: votes.get(p, "yes") for p in rms}
    elif isinstance(votes, str) or len(votes) != len(rms):
        raise ValueError(f"votes must be a list of {len(rms)} 'yes'/'no' values, one per participant "
                         f"(got {votes!r})")
    else:
        out = dict(zip(rms, votes, strict=True))
    for p, v in out.items():
        if v not in ("yes", "no"):
            raise ValueError(f"votes must be 'yes' or 'no' (got {v!r} for {p})")
    return out


def _crash_leader_when_votes_in(world: World, leader: str, restart_at: float | None) -> None:
    done: list[bool] = []

    def monitor(w: World) -> None:
        if not done and w.status[leader] == "up" and w.nodes[leader].has_all_votes(1) \
                and 1 not in w.nodes[leader].outcome:
            done.append(True)
            w.annotate(leader, "crash point 'votes-in' reached")
            w.crash(leader)
            if restart_at is not None:
                w.at(max(restart_at, w.now), lambda: w.restart(leader))

    world.add_monitor(monitor)


def blocking_scenario(seed: int = 0, f: int = 1, until: float = 3.0, participants: int = 3,
                      restart_at: float | None = None) -> PaxosCommitRun:
    """2PC's blocking run (:func:`twopc.blocking_scenario`) under Paxos Commit: every RM votes yes and
    the leader crashes the moment it has every vote. With F >= 1 the RMs ask the acceptors, a2 takes
    over, phase 1 finds every vote accepted by a quorum, and the transaction commits without the
    leader. With F = 0 the leader was the only acceptor: everyone blocks until it restarts (at
    ``restart_at``, default :data:`twopc.blocking_scenario.RESTART_AT`), as in 2PC."""
    from .twopc import blocking_scenario as two
    if restart_at is None and f == 0:
        restart_at = two.RESTART_AT   # type: ignore[attr-defined]
    return run_paxos_commit(seed, participants, f, crash_leader="votes-in", restart_at=restart_at,
                            until=until)


def random_paxos_commit(seed: int, participants: int = 3, f: int = 1, *, no_vote: float = 0.1,
                        until: float = 4.0) -> PaxosCommitRun:
    """One run drawn from ``seed``: up to F acceptors crash for good at random times (the leader
    included), RMs crash and restart, partitions come and heal, loss and duplication up to 20%,
    each vote "no" with probability ``no_vote``. Used by the sweeps (0 violations, 0 blocked)."""
    from distlib.sim import crash as crash_fault

    rng = stream(check_seed(seed), "paxos-commit/random")
    rms = _participant_names(integer("participants", participants, 1, 9))
    accs = _acceptor_names(integer("f", f, 0, 3))
    votes = ["no" if rng.random() < number("no_vote", no_vote, 0.0, 1.0) else "yes" for _ in rms]
    dead = sorted(rng.sample(accs, rng.randint(0, f)))
    stops = [crash_fault(a, at=round(rng.uniform(0.0, 0.5), 3)) for a in dead]
    others = FaultSchedule.random(seed, accs + rms, horizon=0.8, faults=rng.randint(0, 3),
                                  kinds=("partition", "pause"))
    restarts = FaultSchedule.random(seed + 1, rms, horizon=0.8, faults=rng.randint(0, 2), kinds=("crash",))
    schedule = FaultSchedule(list(stops) + list(others.faults) + list(restarts.faults))
    return run_paxos_commit(seed, participants, f, votes=votes, loss=round(rng.uniform(0.0, 0.2), 3),
                            duplicate=round(rng.uniform(0.0, 0.2), 3), faults=schedule, until=until)


def model_nodes(participants: int = 2, f: int = 1, *, max_round: int = 1,
                votes: Mapping[str, str] | None = None) -> dict[str, tuple[type, dict[str, Any]]]:
    """Paxos Commit as ``{name: (class, config)}`` for :func:`distlib.check.explore.explore`:
    forced writes are part of the step (log delay 0), each leader has ``max_round`` ballots."""
    rms = _participant_names(integer("participants", participants, 1, 9))
    accs = _acceptor_names(integer("f", f, 0, 3))
    vote_of = _votes(votes, rms)
    nodes: dict[str, tuple[type, dict[str, Any]]] = {}
    for a in accs:
        nodes[a] = (Acceptor, {"acceptors": accs, "rms": rms, "leader": accs[0], "start_at": 0.0,
                               "log_delay": 0.0, "max_round": integer("max_round", max_round, 1)})
    for p in rms:
        nodes[p] = (PaxosCommitRM, {"acceptors": accs, "coordinator": accs[0], "vote": vote_of[p],
                                    "log_delay": 0.0})
    return nodes


# ---- cost: measured beside the paper ------------------------------------------------------------------
PAPER = {
    "source": "Gray & Lamport, Consensus on Transaction Commit, ACM TODS 31(1) 2006",
    "2pc_messages": "3N - 1 (section 3.2; 3N - 3 with the TM on the initiating RM's node)",
    "2pc_delays": "4 message delays (section 3.2; 3 with the TM co-located)",
    "paxos_commit_delays": "5 = one more than 2PC (abstract: 'one extra message delay'; section 5)",
    "write_delays": "the same stable-storage write delays for both (section 5)",
    "n5_f1_colocated": "N = 5, F = 1, with co-location: 2PC 12, Paxos Commit 17, Faster Paxos Commit 20 "
                       "messages (section 5)",
}


LINK, WRITE = 0.01, 0.001   # constant link latency and forced-write time of the cost runs


def _critical_path(run: Any) -> tuple[int, int]:
    """(message delays, forced-write delays) before the last RM learned the outcome: with every
    link taking LINK and every forced write WRITE (< LINK / 10), the time of the last Decision
    delivery is delays * LINK + writes * WRITE."""
    from distlib.sim.trace import Deliver

    t = max(r.time for r in run.world.trace.of(Deliver) if isinstance(r.msg, Decision))
    delays = int((t + 1e-9) // LINK)
    return delays, round((t - delays * LINK) / WRITE)


def normal_case_cost(participants: int = 3, f: int = 1) -> dict[str, Any]:
    """Messages, message delays and forced writes of one failure-free commit, measured on runs with
    constant links, beside 2PC measured the same way (:data:`PAPER` has the published figures).

    ``messages`` counts every send of the run (2PC's acknowledgements included; Paxos Commit has
    none). The paper's runs start with an RM's BeginCommit to the TM (one more delay; that RM gets
    no Prepare, and in 2PC BeginCommit doubles as its vote) and leave out 2PC's acknowledgements:
    ``paper_accounting`` applies those corrections, giving 3N - 1 and 4 delays for 2PC. Paxos
    Commit here sends every vote to all 2F + 1 acceptors and one Phase2b per instance from each of
    the 2F acceptors besides the leader: N(4F + 3) messages, no co-location or bundling.
    """
    from .threepc import _configured
    from .twopc import Coordinator, Participant, build_2pc

    n = integer("participants", participants, 1, 9)
    integer("f", f, 0, 3)
    two = build_2pc(0, n, latency=LINK, coordinator_cls=_configured(Coordinator, log_delay=WRITE),
                    participant_cls=_configured(Participant, log_delay=WRITE)).run(2.0)
    pc = run_paxos_commit(0, n, f, latency=LINK, log_delay=WRITE, until=2.0)
    out: dict[str, Any] = {"N": n, "F": f}
    for label, run in (("2pc", two), ("paxos_commit", pc)):
        assert run.violations == [] and set(run.outcomes.values()) == {"commit"}
        cost = log_cost(run)
        delays, writes = _critical_path(run)
        # the paper's run: +1 BeginCommit from the initiating RM, which then needs no Prepare (-1);
        # in 2PC its BeginCommit is also its vote (-1) and acknowledgements are not counted
        paper = cost["messages"] - (cost["by_type"].get("Ack", 0) + 1 if label == "2pc" else 0)
        out[label] = {"messages": cost["messages"], "by_type": cost["by_type"], "message_delays": delays,
                      "write_delays": writes, "forced_writes": cost["forced_writes"],
                      "paper_accounting": {"messages": paper, "message_delays": delays + 1}}
    return out


SCENARIOS: dict[str, tuple[str, Callable[[int], PaxosCommitRun]]] = {
    "commit": ("F=1: every RM votes yes; the leader learns every instance chose prepared",
               lambda s: run_paxos_commit(s)),
    "no-vote": ("F=1: p2 votes no: its instance chooses aborted, everyone aborts",
                lambda s: run_paxos_commit(s, votes={"p2": "no"})),
    "leader-crash": ("F=1: the leader crashes with every vote in (2PC's blocking point); a2 takes over "
                     "and commits", lambda s: blocking_scenario(s, f=1)),
    "f0-blocking": ("F=0 is 2PC: the only acceptor (the leader) crashes with every vote in; RMs block "
                    "until it restarts at t=2", lambda s: blocking_scenario(s, f=0)),
}


def scenario(name: str, seed: int = 0) -> PaxosCommitRun:
    """Run the named scenario (see ``SCENARIOS``)."""
    if name not in SCENARIOS:
        raise ValueError(f"name must be one of {', '.join(SCENARIOS)} (got {name!r})")
    return SCENARIOS[name][1](seed)
