"""Multi-Paxos: a replicated log with a distinguished leader (Lamport, "Paxos Made Simple", §3).

One Paxos instance per log slot. A node that believes there is no leader runs
phase 1 **once for all slots** with a fresh ballot; acceptors promise for every
slot and report everything they have accepted. The new leader re-proposes, per
slot, the value of the highest-numbered accepted proposal, fills gaps with no-ops
(§3: "it proposes ... a special no-op command"), and from then on needs only
phase 2 — one round trip per command. Heartbeats keep followers from starting
elections; a higher ballot from anyone deposes the leader.

A client is told "ok" only for the command that was **decided in its slot**. A
leader assigns a request to a slot, but the slot is decided by whoever gets a
majority to accept: a deposed leader's slot can be filled by its successor's
no-op or by another client's command, and a leader elected again later learns
that decision like any other. So the reply compares the decided value with the
waiting client's command, and a leader that steps down forgets its waiters (the
clients retry). Commands are compared by value: a command that must not be
confused with another carries its identity (the key-value store's commands carry
client id and sequence number, :mod:`distlib.consensus.multipaxos_kv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlib.sim import Node
from distlib.sim.validate import integer, number, span, subclass

# Phase 1's Prepare and the Nack carry nothing slot-specific: the single-decree messages serve.
from .paxos import Ballot, Nack, Prepare, majority

NOOP = "no-op"


@dataclass(frozen=True)
class Promise:
    n: Ballot
    accepted: tuple[tuple[int, Ballot, Any], ...]   # (slot, ballot, value) for every accepted slot

    def __repr__(self) -> str:
        return f"Promise(n={self.n!r}, accepted={len(self.accepted)} slots)"


@dataclass(frozen=True)
class Accept:
    n: Ballot
    slot: int
    v: Any

    def __repr__(self) -> str:
        return f"Accept(n={self.n!r}, slot={self.slot}, v={self.v!r})"


@dataclass(frozen=True)
class Accepted:
    n: Ballot
    slot: int
    v: Any

    def __repr__(self) -> str:
        return f"Accepted(n={self.n!r}, slot={self.slot}, v={self.v!r})"


@dataclass(frozen=True)
class Decide:
    slot: int
    v: Any

    def __repr__(self) -> str:
        return f"Decide(slot={self.slot}, v={self.v!r})"


@dataclass(frozen=True)
class Heartbeat:
    n: Ballot
    decided_upto: int

    def __repr__(self) -> str:
        return f"Heartbeat(n={self.n!r})"


@dataclass(frozen=True)
class CatchUp:
    after: int   # the follower has applied slots 1..after and asks for the rest

    def __repr__(self) -> str:
        return f"CatchUp(after={self.after})"


@dataclass(frozen=True)
class Request:
    req_id: str
    command: Any

    def __repr__(self) -> str:
        return f"Request({self.req_id}, {self.command!r})"


@dataclass(frozen=True)
class Reply:
    req_id: str
    ok: bool
    slot: int | None = None
    leader: str | None = None

    def __repr__(self) -> str:
        if self.ok:
            return f"Reply({self.req_id}, slot={self.slot})"
        return f"Reply({self.req_id}, not leader, try {self.leader})"


class MultiPaxosNode(Node):
    """Acceptor, learner and (when elected) leader of a replicated log."""

    def __init__(self, *, heartbeat: float = 0.05, election_timeout: tuple[float, float] = (0.15, 0.3)):
        lo, hi = span("election_timeout", election_timeout)
        if number("heartbeat", heartbeat, above=True) >= lo:
            raise ValueError(f"heartbeat must be a number in (0, election_timeout low={lo:g}) "
                             f"(got {heartbeat!r})")
        self.heartbeat = heartbeat
        self.election_timeout = (lo, hi)

    # ---- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.storage.setdefault("accepted", {})   # slot -> (ballot, value): acceptor state
        self.storage.setdefault("decided", {})    # slot -> value: what this learner knows is chosen
        self.role = "follower"
        self.leader: str | None = None
        self.ballot: Ballot | None = None
        self.promises: dict[str, Promise] = {}
        self.acks: dict[int, set[str]] = {}
        self.proposed: dict[int, Any] = {}
        self.waiting: dict[int, tuple[str, str, Any]] = {}   # slot -> (client, req_id, command) to answer
        self.next_slot = 1
        self.applied: list[Any] = []
        self._apply_ready()
        self.reset_election_timer()

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(sorted(self.peers + (self.id,)))

    @property
    def decided(self) -> dict[int, Any]:
        return self.storage["decided"]

    def reset_election_timer(self) -> None:
        self.set_timer("election", self.rng.uniform(*self.election_timeout))

    # ---- phase 1, once per leadership (§3) ------------------------------------------------------
    def campaign(self) -> None:
        round_ = max(self.storage.get("round", 0), self.storage.get("seen_round", 0)) + 1
        self.storage["round"] = round_
        self.ballot = Ballot(round_, self.id)
        self.role = "candidate"
        self.promises = {}
        for a in self.members:
            self.send(a, Prepare(self.ballot))
        self.reset_election_timer()

    def on_prepare(self, src: str, msg: Prepare) -> None:
        promised = self.storage.get("promised")
        if promised is not None and msg.n < promised:
            self.send(src, Nack(msg.n, promised))
            return
        self.storage["promised"] = msg.n           # persist before replying
        self.storage["seen_round"] = max(self.storage.get("seen_round", 0), msg.n.round)
        if src != self.id:
            self.step_down(src)
        accepted = tuple((slot, b, v) for slot, (b, v) in sorted(self.storage["accepted"].items()))
        self.send(src, Promise(msg.n, accepted))

    def on_promise(self, src: str, msg: Promise) -> None:
        if self.role != "candidate" or msg.n != self.ballot:
            return
        self.promises[src] = msg
        if len(self.promises) < majority(len(self.members)):
            return
        # Become leader: per slot, adopt the highest-numbered accepted value (§2.2 applied per slot),
        # and fill the gaps below the highest such slot with no-ops (§3).
        best: dict[int, tuple[Ballot, Any]] = {}
        for p in (self.promises[a] for a in sorted(self.promises)):
            for slot, b, v in p.accepted:
                if slot not in best or b > best[slot][0]:
                    best[slot] = (b, v)
        top = max(list(best) + list(self.decided) + [0])
        self.role, self.leader = "leader", self.id
        self.annotate(f"leader with ballot {self.ballot!r}")
        self.acks, self.proposed = {}, {}
        for slot in range(1, top + 1):
            if slot in self.decided:
                continue
            self.propose(slot, best[slot][1] if slot in best else NOOP)
        self.next_slot = top + 1
        # The Accepts just sent are in flight: announce leadership without re-sending them (a re-send
        # now would double every recovered slot's phase-2 traffic); the heartbeat timer re-sends later.
        self.send_heartbeats(resend=False)

    def step_down(self, leader: str | None) -> None:
        if self.role != "follower":
            self.role = "follower"
            self.cancel_timer("heartbeat")
        # A deposed leader can no longer say what its slots will hold: the next leader may fill them
        # with no-ops or other commands. Its clients time out and retry with whoever leads now.
        self.waiting = {}
        self.leader = leader
        self.reset_election_timer()

    # ---- phase 2, one round trip per command -----------------------------------------------------
    def propose(self, slot: int, value: Any) -> None:
        self.proposed[slot] = value
        self.acks[slot] = set()
        for a in self.members:
            self.send(a, Accept(self.ballot, slot, value))

    def on_accept(self, src: str, msg: Accept) -> None:
        promised = self.storage.get("promised")
        if promised is not None and msg.n < promised:
            self.send(src, Nack(msg.n, promised))
            return
        self.storage["promised"] = msg.n
        self.storage["accepted"][msg.slot] = (msg.n, msg.v)    # persist before answering
        if src != self.id:
            self.step_down(src)
        self.send(src, Accepted(msg.n, msg.slot, msg.v))

    def on_accepted(self, src: str, msg: Accepted) -> None:
        if self.role != "leader" or msg.n != self.ballot or msg.slot not in self.acks:
            return
        acks = self.acks[msg.slot]
        if len(acks) >= majority(len(self.members)):
            return   # already announced
        acks.add(src)
        if len(acks) >= majority(len(self.members)):   # chosen: a majority accepted (§2.3)
            self.learn(msg.slot, msg.v)
            for member in self.peers:
                self.send(member, Decide(msg.slot, msg.v))

    def on_nack(self, src: str, msg: Nack) -> None:
        self.storage["seen_round"] = max(self.storage.get("seen_round", 0), msg.promised.round)
        if msg.n == self.ballot and self.role in ("candidate", "leader"):
            self.step_down(None)

    # ---- learning and applying ----------------------------------------------------------------------
    def on_decide(self, src: str, msg: Decide) -> None:
        self.learn(msg.slot, msg.v)

    def learn(self, slot: int, value: Any) -> None:
        if slot not in self.decided:
            self.decided[slot] = value
        self._apply_ready()

    def _apply_ready(self) -> None:
        while len(self.applied) + 1 in self.decided:
            slot = len(self.applied) + 1
            value = self.decided[slot]
            self.applied.append(value)
            result = self.apply(slot, value)
            waiter = self.waiting.pop(slot, None)
            if waiter is not None:
                self.answer(slot, value, result, waiter)

    def apply(self, slot: int, value: Any) -> Any:
        """Hook for a state machine built on the log; what it returns is the client's result."""
        return None

    def answer(self, slot: int, value: Any, result: Any, waiter: tuple[str, str, Any]) -> None:
        """Tell the client waiting on ``slot`` what became of its command, now that ``slot`` is decided."""
        client, req_id, command = waiter
        if value == command:
            self.reply(client, req_id, True, slot=slot, result=result)
        else:
            # Another leader's value (a no-op, another client's command) took the slot: this command
            # was not decided here. No ack; the client retries (a duplicate-detecting state machine
            # makes the retry harmless if the command is decided in some other slot after all).
            self.reply(client, req_id, False)

    def reply(self, client: str, req_id: str, ok: bool, *, slot: int | None = None,
              result: Any = None) -> None:
        """Send the client's reply (a subclass with its own reply message overrides this)."""
        self.send(client, Reply(req_id, ok, slot=slot, leader=self.leader))

    # ---- clients and heartbeats -----------------------------------------------------------------------
    def on_request(self, src: str, msg: Request) -> None:
        self.submit(src, msg.req_id, msg.command)

    def submit(self, client: str, req_id: str, command: Any) -> None:
        """A client asks for ``command``: a leader gives it the next slot, anyone else redirects."""
        if self.role != "leader":
            self.reply(client, req_id, False)
            return
        for slot in sorted(self.proposed):
            if slot not in self.decided and self.proposed[slot] == command:
                # A retry of a command this leadership already proposes: wait for that slot rather
                # than deciding the command twice (a retry that reaches another leader still can).
                self.waiting[slot] = (client, req_id, command)
                return
        slot = self.next_slot
        self.next_slot += 1
        self.waiting[slot] = (client, req_id, command)
        self.propose(slot, command)

    def send_heartbeats(self, *, resend: bool = True) -> None:
        for p in self.peers:
            self.send(p, Heartbeat(self.ballot, len(self.applied)))
        # Phase 2 messages can be lost: re-send Accept for every slot not yet chosen.
        need = majority(len(self.members))
        for slot in (sorted(self.proposed) if resend else ()):
            if slot not in self.decided and len(self.acks[slot]) < need:
                for a in self.members:
                    if a not in self.acks[slot]:
                        self.send(a, Accept(self.ballot, slot, self.proposed[slot]))
        self.set_timer("heartbeat", self.heartbeat)

    def on_heartbeat(self, src: str, msg: Heartbeat) -> None:
        promised = self.storage.get("promised")
        if promised is None or msg.n >= promised:
            self.step_down(src)
            if msg.decided_upto > len(self.applied):   # missed decisions while down or cut off
                self.send(src, CatchUp(len(self.applied)))

    def on_catch_up(self, src: str, msg: CatchUp) -> None:
        for slot in sorted(s for s in self.decided if s > msg.after):
            self.send(src, Decide(slot, self.decided[slot]))

    def on_message(self, src: str, msg: Any) -> None:
        handler = {Prepare: self.on_prepare, Promise: self.on_promise, Nack: self.on_nack,
                   Accept: self.on_accept, Accepted: self.on_accepted, Decide: self.on_decide,
                   Heartbeat: self.on_heartbeat, Request: self.on_request,
                   CatchUp: self.on_catch_up}.get(type(msg))
        if handler is not None:
            handler(src, msg)

    def on_timer(self, name: str) -> None:
        if name == "election" and self.role != "leader":
            self.campaign()
        elif name == "heartbeat" and self.role == "leader":
            self.send_heartbeats()


class StaleAckMultiPaxos(MultiPaxosNode):
    """BROKEN: acks whoever waits on a slot once it is decided, whatever was decided there, and keeps
    its waiters across step-down and re-election (the library's code before the fix)."""

    def step_down(self, leader: str | None) -> None:
        waiting = self.waiting
        super().step_down(leader)
        self.waiting = waiting

    def answer(self, slot: int, value: Any, result: Any, waiter: tuple[str, str, Any]) -> None:
        if self.role == "leader":
            self.reply(waiter[0], waiter[1], True, slot=slot, result=result)


# ---- scenarios -----------------------------------------------------------------------------------
@dataclass
class MultiPaxosRun:
    world: Any
    commands: list[Any]

    @property
    def logs(self) -> dict[str, list[Any]]:
        return {n: list(node.applied) for n, node in sorted(self.world.nodes.items())}

    def summary(self) -> str:
        leaders = sorted(n for n, node in self.world.nodes.items()
                         if self.world.is_up(n) and node.role == "leader")
        longest = max((len(v) for v in self.logs.values()), default=0)
        return (f"seed {self.world.seed}: {len(self.commands)} commands submitted, longest applied log "
                f"{longest}, leader now {', '.join(leaders) or 'none'}")


def run_multipaxos(seed: int = 0, *, nodes: int = 3, commands: int = 10, loss: float = 0.0,
                   duplicate: float = 0.0, faults: Any = None, until: float = 4.0,
                   node_cls: type[MultiPaxosNode] = MultiPaxosNode) -> MultiPaxosRun:
    """A client submits ``commands`` commands one after another, retrying and following redirects."""
    from distlib.sim import World, as_schedule

    integer("nodes", nodes, 1, 9)
    integer("commands", commands, 0)
    subclass("node_cls", node_cls, MultiPaxosNode)
    world = World(seed, loss=loss, duplicate=duplicate)
    names = [f"n{i}" for i in range(1, nodes + 1)]
    faults = as_schedule(faults, names)
    world.add_nodes(node_cls, names)
    cmds = [f"cmd{i}" for i in range(commands)]

    def workload(client):
        target = names[0]
        for cmd in cmds:
            while True:
                reply = yield from client.call(target, Request(client.next_id(), cmd), timeout=0.3)
                if reply is not None and reply.ok:
                    break
                if reply is not None and reply.leader:
                    target = reply.leader
                else:
                    target = names[(names.index(target) + 1) % len(names)]

    world.process(workload(world.client("c1")))
    faults.apply(world)
    world.run(until=until)
    return MultiPaxosRun(world, cmds)


def random_multipaxos(seed: int, **kwargs: Any) -> MultiPaxosRun:
    """Ten commands on three nodes under up to three random faults in the first 3 s (crash/restart,
    partition, pause), 5% loss and duplication; 6 s in all, so the cluster can finish after healing."""
    from distlib.sim import FaultSchedule

    faults = FaultSchedule.random(seed, ["n1", "n2", "n3"], horizon=3.0, faults=3)
    return run_multipaxos(seed, loss=0.05, duplicate=0.05, faults=faults, until=6.0, **kwargs)


def stale_ack_scenario(seed: int = 0, *, node_cls: type[MultiPaxosNode] = MultiPaxosNode,
                       until: float = 1.0) -> MultiPaxosRun:
    """The run in which the old code told client cA "ok" for "A", a command that was never decided.

    Latency 0.01, heartbeat 0.4 and election timeout (5, 6), so only the scripted campaigns happen:
    n1 leads (ballot 1.n1); cut off from n2 and n3 at 0.100, it puts cA's "A" in slot 1, accepted by
    n1 alone; after the heal at 0.115 cB's "B" goes to slot 2 and reaches everyone. n1 is cut off
    again (one way, n1 -> n2/n3) at 0.13; n2 campaigns at 0.14 (n1 hears the Prepare and steps down),
    wins with n3 and fills slot 1 with a no-op. n2 -> n1 is cut at 0.155, so n1 never hears of it;
    at 0.195 everything heals but n1 <-> n2, and n1 campaigns at 0.20, wins with n3 and adopts the
    no-op in slot 1. Every node decides {1: no-op, 2: "B"}. The clients record a history: ``ok`` with
    the slot, ``fail`` on a negative reply, ``info`` when no reply came within 0.5.
    """
    from distlib.sim import World

    world = World(seed, latency=0.01)
    names = ["n1", "n2", "n3"]
    world.add_nodes(node_cls, names, heartbeat=0.4, election_timeout=(5.0, 6.0))

    def client(name: str, command: str, at: float):
        c = world.client(name)
        yield world.env.timeout(at)
        yield from c.request("n1", Request(f"{name}:1", command), f="submit", value=command, timeout=0.5,
                             interpret=lambda r: ("ok", r.slot) if r.ok else ("fail", None))

    def campaign(name: str) -> None:
        if world.is_up(name):
            world.nodes[name].campaign()

    def cut_off(name: str, *, both_ways: bool) -> None:
        for other in names:
            if other != name:
                world.cut(name, other, both_ways=both_ways)

    world.process(client("cA", "A", 0.100))
    world.process(client("cB", "B", 0.108))
    world.at(0.001, lambda: campaign("n1"))
    world.at(0.100, lambda: cut_off("n1", both_ways=True))
    world.at(0.115, world.heal)
    world.at(0.130, lambda: cut_off("n1", both_ways=False))
    world.at(0.140, lambda: campaign("n2"))
    world.at(0.155, lambda: world.cut("n2", "n1"))
    world.at(0.195, lambda: (world.heal(), world.cut("n1", "n2", both_ways=True)))
    world.at(0.200, lambda: campaign("n1"))
    world.run(until=until)
    return MultiPaxosRun(world, ["A", "B"])
