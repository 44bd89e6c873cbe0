"""Single-decree Paxos, following Lamport, "Paxos Made Simple" (2001).

Every :class:`PaxosNode` plays all three roles of §2: it is an **acceptor** (its
promise and accepted proposal live in ``storage`` and are written before it
answers), a **learner** (it counts ``Accepted`` announcements), and, when given a
``proposal``, a **proposer**.

Phase 1 (§2.2): the proposer picks a ballot ``n`` never used before and sends
``Prepare(n)`` to the acceptors. An acceptor that has not promised a higher ballot
promises not to accept any proposal numbered below ``n`` and reports the
highest-numbered proposal it has accepted.

Phase 2: with promises from a majority, the proposer sends ``Accept(n, v)`` where
``v`` is the value of the highest-numbered proposal among the promises — or its own
value if there is none. An acceptor accepts unless it has promised a ballot
greater than ``n``.

A value is **chosen** once a majority of acceptors accepted the same proposal.
Safety never depends on timing; progress needs one proposer at a time, which
randomized back-off (or a distinguished leader, see :mod:`distlib.consensus.multipaxos`)
provides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distlib.sim import Node
from distlib.sim.validate import flag, integer, node_times, number, span, subclass
from distlib.sim.validate import names as name_list


@dataclass(frozen=True, order=True)
class Ballot:
    """A proposal number, unique per proposer (disjoint sets, §2.5): compared by round, then proposer id."""

    round: int
    proposer: str

    def __repr__(self) -> str:
        return f"{self.round}.{self.proposer}"


# ---- messages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepare:
    n: Ballot

    def __repr__(self) -> str:
        return f"Prepare(n={self.n!r})"


@dataclass(frozen=True)
class Promise:
    n: Ballot
    accepted_n: Ballot | None   # highest-numbered proposal this acceptor accepted, if any
    accepted_v: Any

    def __repr__(self) -> str:
        prior = "none" if self.accepted_n is None else f"({self.accepted_n!r}, {self.accepted_v!r})"
        return f"Promise(n={self.n!r}, accepted={prior})"


@dataclass(frozen=True)
class Nack:
    n: Ballot
    promised: Ballot   # lets the proposer skip ahead instead of guessing

    def __repr__(self) -> str:
        return f"Nack(n={self.n!r}, promised={self.promised!r})"


@dataclass(frozen=True)
class Accept:
    n: Ballot
    v: Any

    def __repr__(self) -> str:
        return f"Accept(n={self.n!r}, v={self.v!r})"


@dataclass(frozen=True)
class Accepted:
    n: Ballot
    v: Any

    def __repr__(self) -> str:
        return f"Accepted(n={self.n!r}, v={self.v!r})"


def majority(n: int) -> int:
    return n // 2 + 1


class PaxosNode(Node):
    """Acceptor + learner, and proposer of ``proposal`` from time ``propose_at``.

    ``retry`` is the (low, high) range of the random wait before a proposer that
    failed tries again with a higher ballot; ``backoff=False`` retries after exactly
    ``retry[0]``, which lets two proposers duel forever (livelock).
    """

    def __init__(self, *, acceptors: tuple[str, ...] | None = None, proposal: Any = None,
                 propose_at: float | None = None, retry: tuple[float, float] = (0.05, 0.15),
                 backoff: bool = True, max_round: int | None = None,
                 learners: tuple[str, ...] | None = None):
        self.acceptor_names = None if acceptors is None else name_list("acceptors", acceptors)
        self.proposal = proposal
        self.propose_at = None if propose_at is None else number("propose_at", propose_at)
        self.retry = span("retry", retry)
        self.backoff = flag("backoff", backoff)
        self.max_round = None if max_round is None else integer("max_round", max_round, 1)
        self.learner_names = None if learners is None else name_list("learners", learners, empty=True)

    # ---- lifecycle ---------------------------------------------------------------------------
    def on_start(self) -> None:
        self.acceptors = tuple(sorted(self.acceptor_names or (self.peers + (self.id,))))
        self.chosen: Any = None        # learner: the value this node learned, if any
        self.votes: dict[Ballot, set[str]] = {}   # learner: acceptors that accepted each ballot
        self.values: dict[Ballot, Any] = {}
        self.ballot: Ballot | None = None          # proposer: the ballot in progress
        self.promises: dict[str, Promise] = {}
        self.phase = "idle"                        # proposer: idle / prepare / accept / done
        if self.proposal is not None and self.propose_at is not None:
            self.set_timer("propose", self.propose_at)

    def on_recover(self) -> None:
        # Acceptor state is in storage; a recovering proposer simply tries again.
        self.on_start()
        if self.proposal is not None and self.propose_at is not None:
            self.set_timer("propose", self._retry_delay())

    # ---- acceptor (§2.2, phase 1b and 2b) ---------------------------------------------------------
    @property
    def promised(self) -> Ballot | None:
        return self.storage.get("promised")

    def on_prepare(self, src: str, msg: Prepare) -> None:
        promised = self.promised
        if promised is not None and msg.n < promised:
            self.send(src, Nack(msg.n, promised))
            return
        # Promise never to accept below n: persist before replying (§2.5, stable storage).
        self.storage["promised"] = msg.n
        self.storage["seen_round"] = max(self.storage.get("seen_round", 0), msg.n.round)
        self.send(src, Promise(msg.n, self.storage.get("accepted_n"), self.storage.get("accepted_v")))

    def on_accept(self, src: str, msg: Accept) -> None:
        promised = self.promised
        if promised is not None and msg.n < promised:
            self.send(src, Nack(msg.n, promised))
            return
        # Accept unless promised a higher ballot (§2.2, phase 2b); persist before announcing (§2.5).
        self.storage["promised"] = msg.n
        self.storage["accepted_n"] = msg.n
        self.storage["accepted_v"] = msg.v
        for learner in self.learners():
            self.send(learner, Accepted(msg.n, msg.v))

    def learners(self) -> list[str]:
        """Who hears this acceptor's ``Accepted`` announcements (§2.3: here, every node by default)."""
        if self.learner_names is not None:
            return sorted(self.learner_names)
        return sorted(self.peers + (self.id,))

    # ---- proposer (§2.2, phase 1a and 2a) ---------------------------------------------------------
    def start_round(self) -> None:
        # A ballot never used before: a persisted round counter, higher than any seen (§2.5: a proposer
        # keeps the highest number it has tried in stable storage).
        round_ = max(self.storage.get("round", 0), self.storage.get("seen_round", 0)) + 1
        if self.max_round is not None and round_ > self.max_round:
            self.phase = "idle"   # out of ballots (a model-checking bound): give up quietly
            return
        self.storage["round"] = round_
        self.ballot = Ballot(round_, self.id)
        self.promises = {}
        self.phase = "prepare"
        for a in self.acceptors:
            self.send(a, Prepare(self.ballot))
        if self.max_round is None or round_ < self.max_round:   # no ballots left: no retry
            self.set_timer("propose", self._retry_delay())

    def _retry_delay(self) -> float:
        lo, hi = self.retry
        return self.rng.uniform(lo, hi) if self.backoff else lo

    def choose_value(self, promises: list[Promise]) -> Any:
        """Phase 2a: the value of the highest-numbered accepted proposal, else our own (§2.2)."""
        prior = [p for p in promises if p.accepted_n is not None]
        if prior:
            return max(prior, key=lambda p: p.accepted_n).accepted_v
        return self.proposal

    def on_promise(self, src: str, msg: Promise) -> None:
        if self.phase != "prepare" or msg.n != self.ballot:
            return
        self.promises[src] = msg
        if len(self.promises) >= majority(len(self.acceptors)):
            value = self.choose_value([self.promises[a] for a in sorted(self.promises)])
            self.phase = "accept"
            for a in self.acceptors:
                self.send(a, Accept(self.ballot, value))

    def on_nack(self, src: str, msg: Nack) -> None:
        if msg.n == self.ballot and self.phase in ("prepare", "accept"):
            self.storage["seen_round"] = max(self.storage.get("seen_round", 0), msg.promised.round)
            self.phase = "idle"   # wait for the retry timer: back off instead of duelling at once

    # ---- learner (§2.3) ---------------------------------------------------------------------------
    def on_accepted(self, src: str, msg: Accepted) -> None:
        voters = self.votes.setdefault(msg.n, set())
        voters.add(src)
        self.values[msg.n] = msg.v
        if self.chosen is None and len(voters) >= majority(len(self.acceptors)):
            self.chosen = msg.v
            self.annotate(f"learned {msg.v!r}")
            if self.ballot == msg.n or self.proposal is not None:
                self.phase = "done"
                self.cancel_timer("propose")

    # ---- dispatch -----------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        handler = {Prepare: self.on_prepare, Promise: self.on_promise, Nack: self.on_nack,
                   Accept: self.on_accept, Accepted: self.on_accepted}.get(type(msg))
        if handler is not None:
            handler(src, msg)

    def on_timer(self, name: str) -> None:
        if name == "propose" and self.chosen is None and self.proposal is not None:
            self.start_round()


# ---- broken variants (for tests, the model checker and exercises) ---------------------------------
class NoAdoptProposer(PaxosNode):
    """BROKEN: proposes its own value even when a promise reports an accepted one."""

    def choose_value(self, promises: list[Promise]) -> Any:
        return self.proposal


class ForgetfulAcceptor(PaxosNode):
    """BROKEN: keeps its promise in memory only, so a crash forgets it."""

    def on_start(self) -> None:
        super().on_start()
        self._volatile_promise: Ballot | None = None

    @property
    def promised(self) -> Ballot | None:
        return self._volatile_promise

    def on_prepare(self, src: str, msg: Prepare) -> None:
        if self._volatile_promise is not None and msg.n < self._volatile_promise:
            self.send(src, Nack(msg.n, self._volatile_promise))
            return
        self._volatile_promise = msg.n
        # Forgets accepted proposals too: a restarted acceptor reports "nothing accepted".
        self.send(src, Promise(msg.n, self.__dict__.get("_acc_n"), self.__dict__.get("_acc_v")))

    def on_accept(self, src: str, msg: Accept) -> None:
        if self._volatile_promise is not None and msg.n < self._volatile_promise:
            self.send(src, Nack(msg.n, self._volatile_promise))
            return
        self._volatile_promise = msg.n
        self._acc_n, self._acc_v = msg.n, msg.v
        for learner in self.learners():
            self.send(learner, Accepted(msg.n, msg.v))


class AcceptBelowPromise(PaxosNode):
    """BROKEN: accepts any Accept, ignoring its promise (compares against the wrong number)."""

    def on_accept(self, src: str, msg: Accept) -> None:
        self.storage["accepted_n"] = msg.n
        self.storage["accepted_v"] = msg.v
        for learner in self.learners():
            self.send(learner, Accepted(msg.n, msg.v))


# ---- scenarios ----------------------------------------------------------------------------------
@dataclass
class PaxosRun:
    world: Any
    proposals: dict[str, Any]

    @property
    def learned(self) -> dict[str, Any]:
        """What each node has learned (None: nothing yet)."""
        return {name: getattr(node, "chosen", None) for name, node in sorted(self.world.nodes.items())}

    def summary(self) -> str:
        learned = {v for v in self.learned.values() if v is not None}
        who = sum(1 for v in self.learned.values() if v is not None)
        value = "nothing" if not learned else ", ".join(repr(v) for v in sorted(learned, key=repr))
        return (f"seed {self.world.seed}: {len(self.proposals)} proposer(s), "
                f"learned {value} at {who}/{len(self.learned)} nodes by t={self.world.now:g}")


def run_paxos(seed: int = 0, *, nodes: int = 3, proposals: dict[str, Any] | None = None,
              propose_at: dict[str, float] | None = None, loss: float = 0.0,
              latency: Any = (0.01, 0.03), duplicate: float = 0.0, faults: Any = None,
              until: float = 2.0, node_cls: type[PaxosNode] = PaxosNode,
              classes: dict[str, type[PaxosNode]] | None = None, backoff: bool = True,
              retry: tuple[float, float] = (0.05, 0.15)) -> PaxosRun:
    """Run single-decree Paxos on ``nodes`` nodes ``n1..nN`` (all acceptors and learners).

    ``proposals`` maps proposer name to its value (default: ``{"n1": "A"}``);
    ``propose_at`` when each starts (default 0); ``classes`` overrides the class per node.
    """
    from distlib.sim import World, as_schedule

    integer("nodes", nodes, 1, 9)
    names = [f"n{i}" for i in range(1, nodes + 1)]
    proposals = {"n1": "A"} if proposals is None else proposals
    if not isinstance(proposals, Mapping):
        raise ValueError(f"proposals must map node names ({', '.join(names)}) to values "
                         f"(got {proposals!r})")
    proposals = dict(proposals)
    for who, value in proposals.items():
        if who not in names:
            raise ValueError(f"proposals names unknown node {who!r}; nodes are {', '.join(names)}")
        if value is None:   # a node whose proposal is None does not propose: refuse, not ignore
            raise ValueError(f"proposals must map node names to values other than None (got {proposals!r})")
    propose_at = node_times("propose_at", {} if propose_at is None else propose_at, names)
    idle = [who for who in propose_at if who not in proposals]
    if idle:
        raise ValueError(f"propose_at names {idle[0]!r}, which has no proposal; proposers are "
                         f"{', '.join(proposals) or 'none'}")
    subclass("node_cls", node_cls, PaxosNode)
    classes = {} if classes is None else classes
    if not isinstance(classes, Mapping) or not all(who in names for who in classes):
        raise ValueError(f"classes must map node names ({', '.join(names)}) to PaxosNode subclasses "
                         f"(got {classes!r})")
    for who, cls in classes.items():
        subclass(f"classes[{who!r}]", cls, PaxosNode)
    world = World(seed, latency=latency, loss=loss, duplicate=duplicate)
    schedule = as_schedule(faults, names)
    for name in names:
        cls = classes.get(name, node_cls)
        world.add_node(name, cls, proposal=proposals.get(name), retry=retry, backoff=backoff,
                       propose_at=propose_at.get(name, 0.0) if name in proposals else None)
    schedule.apply(world)
    world.run(until=until)
    return PaxosRun(world, proposals)


def random_paxos(seed: int, **kwargs: Any) -> PaxosRun:
    """Three proposers (A at 0, B soon after, C at 0.3 s) under faults drawn from ``seed``: up to three
    crashes/partitions/pauses in the first second, 10% loss, 5% duplication. Used by sweeps."""
    from distlib.sim import FaultSchedule

    faults = FaultSchedule.random(seed, ["n1", "n2", "n3"], horizon=1.0, faults=3,
                                  kinds=("crash", "partition", "pause"))
    return run_paxos(seed, proposals={"n1": "A", "n2": "B", "n3": "C"},
                     propose_at={"n1": 0.0, "n2": 0.05 + 0.01 * (seed % 7), "n3": 0.3},
                     loss=0.1, duplicate=0.05, faults=faults, until=2.0, **kwargs)


def dueling_proposers(seed: int = 0, *, backoff: bool = False, until: float = 2.0) -> PaxosRun:
    """Two proposers that keep pre-empting each other's ballots (§2.4's livelock) unless they back off.

    Retrying after a fixed wait equal to one round trip makes each Prepare arrive just after the
    rival's and before its Accept — the classic duel; random back-off breaks the symmetry.
    """
    return run_paxos(seed, nodes=3, proposals={"n1": "A", "n2": "B"}, latency=0.01,
                     propose_at={"n1": 0.0, "n2": 0.015}, backoff=backoff, retry=(0.03, 0.09),
                     until=until)
