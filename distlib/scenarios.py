"""Named, runnable scenarios: the registry behind ``python -m distlib run NAME``.

A scenario is a callable taking keyword parameters (a subset of ``seed``, ``nodes``,
``loss``, ``latency``, ``faults``, ``until``) and returning a *run*: any object with a
``.world`` (a :class:`~distlib.sim.World` that has been run) and a ``.summary()``
(one readable line). Protocol packages are imported lazily, so the registry and the
CLI work even when a protocol module is missing or broken.

>>> from distlib import scenarios
>>> run = scenarios.run("pingpong", seed=1, until=2)
>>> run.summary()
'pingpong seed 1: n1 sent 4 pings to 1 peer, got 4 pongs back (0 missing) by t=2'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distlib.sim import FaultSchedule, Node, World, as_schedule
from distlib.sim.validate import flag, integer, number

PARAMS = ("seed", "nodes", "loss", "latency", "faults", "until")


@dataclass(frozen=True)
class Scenario:
    """A registry entry: ``fn(**params)`` runs it; ``node_names(nodes)`` names its nodes."""

    name: str
    description: str
    fn: Callable[..., Any]
    params: tuple[str, ...]
    node_names: Callable[[int | None], list[str]]
    defaults: dict[str, Any] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {}


def register(name: str, description: str, params: tuple[str, ...],
             node_names: Callable[[int | None], list[str]], **defaults: Any):
    """Decorator adding ``fn`` to :data:`SCENARIOS` under ``name``."""
    for p in params:
        if p not in PARAMS:
            raise ValueError(f"params must be drawn from {PARAMS} (got {p!r})")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        SCENARIOS[name] = Scenario(name, description, fn, tuple(params), node_names, defaults)
        return fn
    return deco


def get(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)} (got {name!r})")
    return SCENARIOS[name]


def run(name: str, **params: Any) -> Any:
    """Run scenario ``name`` with ``params`` (None values mean "the scenario's default")."""
    sc = get(name)
    given = {k: v for k, v in params.items() if v is not None}
    for k in given:
        if k not in sc.params:
            raise ValueError(f"scenario {name!r} does not take {k} (it takes: {', '.join(sc.params)})")
    return sc.fn(**given)


def _names(n: int) -> list[str]:
    return [f"n{i}" for i in range(1, n + 1)]


class SimRun:
    """A finished demo run: the world plus a function that summarises it in one line."""

    def __init__(self, world: World, summarise: Callable[[World], str]):
        self.world = world
        self._summarise = summarise

    def summary(self) -> str:
        return self._summarise(self.world)

    def __repr__(self) -> str:
        return f"<SimRun {self.summary()}>"


def _world(seed: int, nodes: list[str], cls: type[Node], loss: float, latency: Any,
           faults: FaultSchedule | str | None, until: float, config: dict[str, dict[str, Any]]) -> World:
    world = World(seed, latency=latency, loss=loss)
    schedule = as_schedule(faults, nodes)
    for n in nodes:
        world.add_node(n, cls, **config.get(n, {}))
    world.start()   # boot first, so a fault at time 0 hits a running node
    schedule.apply(world)
    world.run(until=until)
    return world


# ---- pingpong: the smallest protocol there is ----------------------------------------------------------
@dataclass(frozen=True)
class Ping:
    seq: int


@dataclass(frozen=True)
class Pong:
    seq: int


class PingPong(Node):
    """The pinger sends ``Ping(seq)`` to every peer every ``interval``; everyone answers ``Pong``.

    ``seq`` and the pongs received live in storage, so a restarted pinger carries on numbering.
    """

    def __init__(self, pinger: bool = False, interval: float = 0.5):
        self.pinger = flag("pinger", pinger)
        self.interval = number("interval", interval, above=True)   # 0 would ping for ever at one instant

    def on_start(self) -> None:
        if self.pinger:
            self.storage.setdefault("seq", 0)
            self.storage.setdefault("pongs", [])
            self.set_timer("ping", 0.0)

    def on_timer(self, name: str) -> None:
        self.storage["seq"] += 1
        self.broadcast(Ping(self.storage["seq"]))
        self.set_timer("ping", self.interval)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Ping):
            self.send(src, Pong(msg.seq))
        elif isinstance(msg, Pong) and self.pinger:
            self.storage["pongs"].append((src, msg.seq))


def _pingpong_summary(world: World) -> str:
    st = world.storage["n1"]
    peers = len(world.nodes) - 1
    sent = st.get("seq", 0) * peers
    got = len(st.get("pongs", []))
    return (f"pingpong seed {world.seed}: n1 sent {sent} pings to {peers} peer{'s' * (peers != 1)}, "
            f"got {got} pongs back ({sent - got} missing) by t={world.now:g}")


@register("pingpong", "n1 pings every other node every 0.5 time units; each answers pong",
          PARAMS, lambda n: _names(2 if n is None else n))
def pingpong(seed: int = 0, nodes: int = 2, loss: float = 0.0, latency: Any = (0.01, 0.03),
             faults: FaultSchedule | str | None = None, until: float = 5.0) -> SimRun:
    names = _names(integer("nodes", nodes, 2, 26))
    world = _world(seed, names, PingPong, loss, latency, faults, until,
                   {"n1": {"pinger": True}})
    return SimRun(world, _pingpong_summary)


# ---- gossip: push epidemic -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rumour:
    text: str


class Gossiper(Node):
    """Push gossip: every ``period`` a node that knows the rumour tells one random peer.

    When a node learned the rumour is kept in storage, so a restarted node still knows it.
    """

    def __init__(self, origin: bool = False, period: float = 0.2):
        self.origin = flag("origin", origin)
        self.period = number("period", period, above=True)

    def on_start(self) -> None:
        if self.origin and "knows" not in self.storage:
            self.storage["knows"] = self.now
        self.set_timer("gossip", self.rng.uniform(0.0, self.period))   # desynchronise the rounds

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Rumour) and "knows" not in self.storage:
            self.storage["knows"] = self.now
            self.annotate(f"learned the rumour from {src}")

    def on_timer(self, name: str) -> None:
        if "knows" in self.storage:
            peers = sorted(self.peers)
            self.send(peers[self.rng.randrange(len(peers))], Rumour("hello from n1"))
        self.set_timer("gossip", self.period)


def _gossip_summary(world: World) -> str:
    learned = {n: world.storage[n].get("knows") for n in world.nodes}
    knowing = [t for t in learned.values() if t is not None]
    sent = sum(1 for r in world.trace.records if r.kind == "send")
    when = (f"everyone knew by t={max(knowing):.3f}" if len(knowing) == len(learned)
            else "not everyone knows it yet")
    return (f"gossip seed {world.seed}: {len(knowing)}/{len(learned)} nodes know the rumour; {when} | "
            f"{sent} messages by t={world.now:g}")


@register("gossip", "push gossip: n1 starts a rumour, every node that knows it tells a random peer",
          PARAMS, lambda n: _names(5 if n is None else n))
def gossip(seed: int = 0, nodes: int = 5, loss: float = 0.0, latency: Any = (0.01, 0.03),
           faults: FaultSchedule | str | None = None, until: float = 3.0) -> SimRun:
    names = _names(integer("nodes", nodes, 2, 50))
    world = _world(seed, names, Gossiper, loss, latency, faults, until,
                   {"n1": {"origin": True}})
    return SimRun(world, _gossip_summary)


# ---- two-phase commit (distlib.transactions, imported lazily) -------------------------------------------
def _twopc_names(n: int | None) -> list[str]:
    return ["coord"] + [f"p{i}" for i in range(1, (3 if n is None else n) + 1)]


@register("2pc", "two-phase commit of one transaction: coordinator 'coord', participants p1..pN "
          "(--nodes = number of participants)", PARAMS, _twopc_names)
def twopc(seed: int = 0, nodes: int = 3, loss: float = 0.0, latency: Any = (0.01, 0.03),
          faults: FaultSchedule | str | None = None, until: float = 3.0) -> Any:
    from distlib.transactions.twopc import run_2pc
    return run_2pc(seed=seed, participants=nodes, loss=loss, latency=latency, faults=faults, until=until)


@register("2pc-blocking", "2PC's blocking case: the coordinator crashes once all votes are in and "
          "restarts at t=2; prepared participants wait", ("seed", "nodes", "until"), _twopc_names)
def twopc_blocking(seed: int = 0, nodes: int = 3, until: float = 3.0) -> Any:
    from distlib.transactions.twopc import blocking_scenario
    return blocking_scenario(seed=seed, until=until, participants=nodes)


@register("3pc", "three-phase commit of one transaction (Skeen 1981): coordinator 'coord', participants "
          "p1..pN (--nodes = number of participants)", PARAMS, _twopc_names)
def threepc_run(seed: int = 0, nodes: int = 3, loss: float = 0.0, latency: Any = (0.01, 0.03),
                faults: FaultSchedule | str | None = None, until: float = 3.0) -> Any:
    from distlib.transactions.threepc import run_3pc
    return run_3pc(seed=seed, participants=nodes, loss=loss, latency=latency, faults=faults, until=until)


@register("3pc-crash", "3PC: the coordinator crashes for good once the votes are in (2PC's blocking "
          "point); the termination protocol decides", ("seed", "nodes", "until"), _twopc_names)
def threepc_crash(seed: int = 0, nodes: int = 3, until: float = 3.0) -> Any:
    from distlib.transactions.threepc import crash_scenario
    return crash_scenario(seed=seed, participants=nodes, until=until)


@register("3pc-partition", "3PC loses agreement: {coord,p1} | {p2,p3} while PreCommit is in flight; one "
          "side commits, the other aborts", ("seed", "until"), lambda n: _twopc_names(3))
def threepc_partition(seed: int = 0, until: float = 3.0) -> Any:
    from distlib.transactions.threepc import partition_scenario
    return partition_scenario(seed=seed, until=until)


def _paxos_commit_names(n: int | None) -> list[str]:
    return ["a1", "a2", "a3"] + [f"p{i}" for i in range(1, (3 if n is None else n) + 1)]


@register("paxos-commit", "Paxos Commit (Gray & Lamport 2006), F=1: acceptors a1..a3 (a1 leads), RMs "
          "p1..pN (--nodes = number of RMs)", PARAMS, _paxos_commit_names)
def paxos_commit_run(seed: int = 0, nodes: int = 3, loss: float = 0.0, latency: Any = (0.01, 0.03),
                     faults: FaultSchedule | str | None = None, until: float = 3.0) -> Any:
    from distlib.transactions.paxos_commit import run_paxos_commit
    return run_paxos_commit(seed, nodes, 1, loss=loss, latency=latency, faults=faults, until=until)


@register("paxos-commit-leader-crash", "Paxos Commit, F=1: the leader crashes once every vote is in (where "
          "2PC blocks); a2 takes over and commits", ("seed", "nodes", "until"), _paxos_commit_names)
def paxos_commit_leader_crash(seed: int = 0, nodes: int = 3, until: float = 3.0) -> Any:
    from distlib.transactions.paxos_commit import blocking_scenario
    return blocking_scenario(seed, f=1, participants=nodes, until=until)


# ---- Paxos and Multi-Paxos (distlib.consensus, imported lazily) ------------------------------------------
@register("paxos", "single-decree Paxos: n1 proposes 'A', n2 proposes 'B' 20 ms later; every node is an "
          "acceptor and learner", PARAMS, lambda n: _names(3 if n is None else n))
def paxos(seed: int = 0, nodes: int = 3, loss: float = 0.0, latency: Any = (0.01, 0.03),
          faults: FaultSchedule | str | None = None, until: float = 2.0) -> Any:
    from distlib.consensus.paxos import run_paxos
    return run_paxos(seed, nodes=integer("nodes", nodes, 2, 9), proposals={"n1": "A", "n2": "B"},
                     propose_at={"n1": 0.0, "n2": 0.02}, loss=loss, latency=latency,
                     faults=faults, until=until)


@register("paxos-duel", "two Paxos proposers retrying without back-off pre-empt each other for ever "
          "(livelock); safety still holds", ("seed", "until"), lambda n: _names(3))
def paxos_duel(seed: int = 0, until: float = 2.0) -> Any:
    from distlib.consensus.paxos import dueling_proposers
    return dueling_proposers(seed, backoff=False, until=until)


@register("multipaxos", "Multi-Paxos replicated log: a client submits 10 commands, following redirects",
          ("seed", "nodes", "loss", "faults", "until"), lambda n: _names(3 if n is None else n))
def multipaxos(seed: int = 0, nodes: int = 3, loss: float = 0.0, faults: FaultSchedule | str | None = None,
               until: float = 4.0) -> Any:
    from distlib.consensus.multipaxos import run_multipaxos
    return run_multipaxos(seed, nodes=integer("nodes", nodes, 1, 9), loss=loss, faults=faults,
                          until=until)


@register("multipaxos-stale-ack", "Multi-Paxos: n1's slot 1 (client cA's 'A') is lost to n2's no-op, then n1 "
          "is re-elected; cA must not be told 'ok' (issue 7's regression)", ("seed", "until"),
          lambda n: _names(3))
def multipaxos_stale_ack(seed: int = 0, until: float = 1.0) -> Any:
    from distlib.consensus.multipaxos import stale_ack_scenario
    return stale_ack_scenario(seed, until=until)


# ---- Raft's named scenarios (chapter 03) ----------------------------------------------------------------
@register("raft-split-vote", "Raft: five servers with nearly equal election timeouts split the vote",
          ("seed", "until"), lambda n: _names(5))
def raft_split_vote(seed: int = 3, until: float = 3.0) -> Any:
    from distlib.consensus.raft import split_vote
    return split_vote(seed, until=until)


@register("raft-leader-crash", "Raft: the leader crashes at t=1, a new one is elected, the old one restarts "
          "at t=2 and catches up", ("seed", "until"), lambda n: _names(5))
def raft_leader_crash(seed: int = 1, until: float = 3.0) -> Any:
    from distlib.consensus.raft import leader_crash
    return leader_crash(seed, until=until)


@register("raft-old-leader", "Raft: a leader cut off in a minority cannot commit; its entries are "
          "overwritten when the partition heals", ("seed", "until"), lambda n: _names(5))
def raft_old_leader(seed: int = 2, until: float = 4.0) -> Any:
    from distlib.consensus.raft import partitioned_old_leader
    return partitioned_old_leader(seed, until=until)


@register("raft-figure8", "Raft: the paper's Figure 8, where the current-term commit rule prevents a "
          "lost commit", ("seed",), lambda n: _names(5))
def raft_figure8(seed: int = 0) -> Any:
    from distlib.consensus.raft import figure8
    return figure8(seed=seed)


@register("raft-churn", "Raft: five servers under six random crashes/partitions for 10 s, a command every "
          "10 ms to whoever believes it leads; messages per committed entry", ("seed", "until"),
          lambda n: _names(5))
def raft_churn(seed: int = 0, until: float = 10.0) -> Any:
    from distlib.consensus.raft import churn
    return churn(seed, duration=number("until", until, above=True))


@register("raft-flapping", "Raft: n5's network flaps (0.5 s cut off, 0.5 s back) for a minute; plain Raft, "
          "so n5's inflated term deposes the leader every time it returns", ("seed", "until"),
          lambda n: _names(5))
def raft_flapping(seed: int = 0, until: float = 60.0) -> Any:
    from distlib.consensus.raft import flapping
    return flapping(seed, duration=number("until", until, above=True))


@register("raft-flapping-prevote", "Raft with PreVote and CheckQuorum (thesis 9.6) under the same flapping "
          "network: n5 never leaves term 1, the leader stays", ("seed", "until"), lambda n: _names(5))
def raft_flapping_prevote(seed: int = 0, until: float = 60.0) -> Any:
    from distlib.consensus.raft import flapping
    return flapping(seed, duration=number("until", until, above=True), pre_vote=True, check_quorum=True)


@register("raft-stale-read", "Raft KV, BROKEN reads from the leader's local state: the old leader, cut off "
          "alone, answers a read with the value before a write the new leader acknowledged",
          ("seed", "until"), lambda n: _names(5))
def raft_stale_read(seed: int = 0, until: float = 3.0) -> Any:
    from distlib.consensus.raft_kv import stale_read
    return stale_read("local", seed=seed, until=until)


@register("raft-read-index", "Raft KV with ReadIndex reads (thesis 6.4) in the same partition: the old "
          "leader cannot confirm it leads, the retry reads the new value", ("seed", "until"),
          lambda n: _names(5))
def raft_read_index(seed: int = 0, until: float = 3.0) -> Any:
    from distlib.consensus.raft_kv import stale_read
    return stale_read("read_index", seed=seed, until=until)


@register("raft-membership", "Raft: add n4 (caught up as a learner first), then remove n1, one server at a "
          "time (thesis 4.1), a command every 50 ms; n1 never learns it was removed and disrupts the "
          "new cluster with higher terms (thesis 4.2.3)", ("seed", "until"), lambda n: _names(4))
def raft_membership(seed: int = 0, until: float = 4.0) -> Any:
    from distlib.consensus.raft import membership_change
    return membership_change(seed, until=until)


@register("raft-direct-change", "Raft, BROKEN config_change=direct: n3 switches {n1,n2,n3} -> {n2,n3,n4} in "
          "one entry under a partition; n1 and n4 both lead term 2", ("seed",), lambda n: _names(4))
def raft_direct_change(seed: int = 0) -> Any:
    from distlib.consensus.raft import direct_change
    return direct_change(seed=seed)


# ---- the replicated register of chapter 01 (distlib.storage) ---------------------------------------
def _register_scenario(mode: str):
    def fn(seed: int = 0, nodes: int = 3, faults: FaultSchedule | str | None = None,
           until: float = 5.0) -> Any:
        from distlib.storage.register import run_register
        return run_register(mode, seed, replicas=integer("nodes", nodes, 1, 9),
                            faults=faults, until=until)
    return fn


register("register-cp", "chapter 01's register in CP mode (ABD majority quorums): refuses on a "
         "minority side", ("seed", "nodes", "faults", "until"),
         lambda n: _names(3 if n is None else n))(_register_scenario("cp"))
register("register-ap", "chapter 01's register in AP mode (local answers + anti-entropy): always "
         "available, not linearizable under a partition", ("seed", "nodes", "faults", "until"),
         lambda n: _names(3 if n is None else n))(_register_scenario("ap"))


# ---- sagas (chapter 05; distlib.transactions.saga, imported lazily) --------------------------------
def _saga_names(_n: int | None) -> list[str]:
    return ["orch", "flight", "hotel", "payment"]


def _saga_scenario(mode: str, fail_step: str | None):
    def fn(seed: int = 0, loss: float = 0.0, latency: Any = (0.01, 0.03),
           faults: FaultSchedule | str | None = None, until: float = 3.0) -> Any:
        from distlib.transactions.saga import run_saga
        return run_saga(seed, mode, fail_step=fail_step, loss=loss, latency=latency, faults=faults,
                        until=until)
    return fn


register("saga", "a travel-booking saga by orchestration: flight, hotel, payment (pivot), ticket, "
         "confirmation", ("seed", "loss", "latency", "faults", "until"), _saga_names)(
    _saga_scenario("orchestration", None))
register("saga-declined", "the saga's card is declined at the pivot: hotel then flight are compensated, "
         "in reverse order", ("seed", "loss", "latency", "faults", "until"), _saga_names)(
    _saga_scenario("orchestration", "payment"))
register("saga-choreography", "the declined-card saga by choreography: services react to each other's "
         "events (no orchestrator; 'orch' is not a node here)",
         ("seed", "loss", "latency", "faults", "until"),
         lambda n: ["flight", "hotel", "payment"])(_saga_scenario("choreography", "payment"))


# ---- seed sweeps: a randomized scenario and the checker that judges each run ---------------------------
def _sweep_2pc() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.atomic import check_atomic_commitment
    from distlib.transactions.twopc import random_2pc
    return random_2pc, check_atomic_commitment


def _sweep_3pc() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.atomic import check_atomic_commitment
    from distlib.transactions.threepc import random_3pc
    return random_3pc, check_atomic_commitment


def _sweep_paxos_commit() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.atomic import check_atomic_commitment
    from distlib.transactions.paxos_commit import random_paxos_commit
    return random_paxos_commit, check_atomic_commitment


def _sweep_paxos() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.paxos_invariants import check_paxos
    from distlib.consensus.paxos import random_paxos
    return random_paxos, check_paxos


def _sweep_multipaxos() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.paxos_invariants import check_multipaxos
    from distlib.consensus.multipaxos import random_multipaxos
    return random_multipaxos, check_multipaxos


def _sweep_multipaxos_kv() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.paxos_invariants import check_multipaxos_kv
    from distlib.consensus.multipaxos_kv import random_multipaxos_kv
    return random_multipaxos_kv, check_multipaxos_kv


def _sweep_raft() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.raft_invariants import fuzz
    from distlib.consensus.raft import RaftNode
    from distlib.consensus.raft_kv import KVNode

    def run(seed: int) -> Any:   # as benchmarks/bench_raft.py: every 10th seed a key-value run
        kv = seed % 10 == 9
        return fuzz(seed, duration=2.0, cls=KVNode if kv else RaftNode, kv=kv)

    return run, lambda result: result.problems()


def _sweep_raft_prevote() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.raft_invariants import fuzz
    from distlib.consensus.raft import RaftNode
    from distlib.consensus.raft_kv import KVNode

    def run(seed: int) -> Any:   # the raft sweep with PreVote and CheckQuorum on
        kv = seed % 10 == 9
        return fuzz(seed, duration=2.0, cls=KVNode if kv else RaftNode, kv=kv, pre_vote=True,
                    check_quorum=True)

    return run, lambda result: result.problems()


def _sweep_raft_reads(mode: str) -> Callable[[], tuple[Callable[[int], Any], Callable[[Any], list[str]]]]:
    def parts() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
        from distlib.check.raft_invariants import read_fuzz
        return (lambda seed: read_fuzz(seed, mode)), (lambda result: result.problems())
    return parts


def _sweep_membership(mode: str) -> Callable[[], tuple[Callable[[int], Any], Callable[[Any], list[str]]]]:
    def parts() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
        from distlib.check.raft_membership import membership_fuzz
        from distlib.consensus.raft import RaftNode
        from distlib.consensus.raft_kv import KVNode

        def run(seed: int) -> Any:   # as benchmarks/bench_raft_membership.py: every 10th seed a KV run
            kv = seed % 10 == 9
            return membership_fuzz(seed, config_change=mode, cls=KVNode if kv else RaftNode, kv=kv)

        return run, lambda result: result.problems()
    return parts


def _sweep_register_cp() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.sim import FaultSchedule
    from distlib.storage.register import run_register

    def run(seed: int) -> Any:
        faults = FaultSchedule.random(seed, _names(3), horizon=3.0, faults=3)
        return run_register("cp", seed, faults=faults, until=4.0)

    def check(result: Any) -> list[str]:
        verdict = result.check()
        return [] if verdict.ok else [f"linearizability: {verdict.verdict}: {verdict.reason}"]
    return run, check


def _sweep_sharded_kv() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.sharding import check_sharding
    from distlib.partitioning.sharded_kv import random_sharded
    return random_sharded, check_sharding


@register("sharded-kv", "chapter 06's sharded KV store: n4 joins at 0.8 and n2 leaves at 1.8 while three "
          "clients write; shards migrate (frozen during the handoff)", ("seed", "loss", "faults", "until"),
          lambda n: ["cfg", "n1", "n2", "n3", "n4"])
def sharded_kv(seed: int = 0, loss: float = 0.0, faults: FaultSchedule | str | None = None,
               until: float = 5.0) -> Any:
    from distlib.partitioning.sharded_kv import run_sharded
    return run_sharded(seed, loss=loss, faults=faults, until=until)


def _sweep_saga() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.saga import check_saga
    from distlib.transactions.saga import random_saga
    return random_saga, check_saga


@register("dynamo", "chapter 07's Dynamo-style store: N=3 R=2 W=2 on five nodes, version vectors with "
          "siblings, sloppy quorum + hinted handoff, read repair, Merkle anti-entropy; three clients",
          ("seed", "loss", "faults", "until"), lambda n: _names(5))
def dynamo(seed: int = 0, loss: float = 0.0, faults: FaultSchedule | str | None = None,
           until: float = 2.0) -> Any:
    from distlib.storage.dynamo import run_dynamo
    return run_dynamo(seed, loss=loss, faults=faults, horizon=number("until", until, above=True))


def _sweep_dynamo() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.replication import check_replication
    from distlib.storage.dynamo import random_dynamo
    return random_dynamo, check_replication


def _sweep_dynamo_strict() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.replication import check_replication
    from distlib.storage.dynamo import Config, random_dynamo
    config = Config(mode="lww", sloppy=False, write_back=True)
    return (lambda seed: random_dynamo(seed, config)), check_replication


# ---- MapReduce (chapter 09; distlib.compute.mapreduce, imported lazily) ---------------------------------
def _mapreduce_names(n: int | None) -> list[str]:
    return ["master", "nn"] + [f"w{i}" for i in range(1, (4 if n is None else n) + 1)]


@register("mapreduce", "chapter 09's word count as MapReduce: M=8 map tasks over DFS blocks (3 replicas), "
          "R=3 reduce tasks, 4 workers; --nodes sets the workers", PARAMS, _mapreduce_names)
def mapreduce(seed: int = 0, nodes: int = 4, loss: float = 0.0, latency: Any = (0.002, 0.006),
              faults: FaultSchedule | str | None = None, until: float = 60.0) -> Any:
    from distlib.compute.mapreduce import run_mapreduce
    return run_mapreduce(seed, workers=nodes, loss=loss, latency=latency, faults=faults, until=until)


@register("mapreduce-crash", "word count with w2 crashing at 1.2 (restart at 3): the master notices by its "
          "pings, and w2's task in progress and its completed map task run again elsewhere",
          ("seed", "loss", "until"), lambda n: _mapreduce_names(4))
def mapreduce_crash(seed: int = 0, loss: float = 0.0, until: float = 60.0) -> Any:
    from distlib.compute.mapreduce import run_mapreduce
    return run_mapreduce(seed, loss=loss, faults="crash w2 at 1.2 restart 3", until=until)


@register("mapreduce-straggler", "sort with a 30x slow worker w3, backup tasks on (compare --until with the "
          "no-backup run in benchmarks/bench_mapreduce.py)", ("seed", "until"), lambda n: _mapreduce_names(6))
def mapreduce_straggler(seed: int = 0, until: float = 200.0) -> Any:
    from distlib.compute.mapreduce import run_mapreduce
    return run_mapreduce(seed, job="sort", lines=400, workers=6, maps=12, reduces=4, slow={"w3": 30.0},
                         until=until)


def _sweep_mapreduce() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.mapreduce import check_mapreduce
    from distlib.compute.mapreduce import random_mapreduce
    return random_mapreduce, check_mapreduce


# ---- Spark-style RDDs (chapter 10; distlib.compute.rdd, imported lazily) --------------------------------
def _rdd_names(n: int | None) -> list[str]:
    return ["driver"] + [f"e{i}" for i in range(1, (n or 4) + 1)]


@register("rdd", "chapter 10's word count as an RDD program (textFile, flatMap, map, reduceByKey) on a "
          "driver and 4 executors; --nodes sets the executors", ("seed", "nodes", "faults"), _rdd_names)
def rdd(seed: int = 0, nodes: int = 4, faults: FaultSchedule | str | None = None) -> Any:
    from distlib.compute.rdd_runs import run_rdd
    return run_rdd(seed, executors=nodes, faults=faults)


@register("rdd-crash", "PageRank (3 iterations, links cached) with e2 crashing at 0.9 (back at 3): its "
          "cached partitions and shuffle files are lost; exactly the lost ones are recomputed from lineage",
          ("seed",), lambda n: _rdd_names(4))
def rdd_crash(seed: int = 0) -> Any:
    from distlib.compute.rdd_runs import run_rdd
    return run_rdd(seed, workload="pagerank", faults="crash e2 at 0.9 restart 3")


def _sweep_rdd() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.rdd import check_rdd
    from distlib.compute.rdd_runs import random_rdd
    return random_rdd, check_rdd


# ---- the lock service (chapter 08; distlib.coordination, imported lazily) ------------------------------
def _lockservice_names(_n: int | None) -> list[str]:
    return ["n1", "n2", "n3", "n4", "n5", "res", "c1", "c2", "c3"]


@register("lockservice", "chapter 08's Chubby-style cell (5 Raft replicas, master = leader): three clients "
          "elect a primary through /ls/cell/svc/primary and write to a resource with sequencers",
          ("seed", "faults", "until", "loss"), _lockservice_names)
def lockservice(seed: int = 0, faults: FaultSchedule | str | None = None, until: float = 3.0,
                loss: float = 0.0) -> Any:
    from distlib.coordination.runs import run_cell
    return run_cell(seed, election=3, faults=faults, until=until, loss=loss, note=" (primary election)")


@register("lockservice-gc-pause", "the primary pauses (a 2 s GC) after deciding to write; its session "
          "expires, c2 becomes primary; the late write carries a stale sequencer and is rejected",
          ("seed", "until"), lambda n: _lockservice_names(n)[:8])
def lockservice_gc_pause(seed: int = 0, until: float = 5.0) -> Any:
    from distlib.coordination.runs import gc_pause
    return gc_pause(seed, fenced=True, until=until)


@register("lockservice-gc-pause-unfenced", "the same pause without sequencers: the late write lands after "
          "the new primary's (effects of two lock generations interleave)", ("seed", "until"),
          lambda n: _lockservice_names(n)[:8])
def lockservice_gc_pause_unfenced(seed: int = 0, until: float = 5.0) -> Any:
    from distlib.coordination.runs import gc_pause
    return gc_pause(seed, fenced=False, until=until)


@register("lockservice-failover", "the master crashes at 1.0 while three clients hold sessions; jeopardy, "
          "then the new master extends every lease and the sessions survive (grace period)",
          ("seed", "until"), lambda n: ["n1", "n2", "n3", "n4", "n5", "res", "i1", "i2", "i3"])
def lockservice_failover(seed: int = 0, until: float = 4.0) -> Any:
    from distlib.coordination.runs import failover
    return failover(seed, grace=True, until=until)


@register("lockservice-failover-no-grace", "BROKEN: the same fail-over with clients that have no grace "
          "period: they give up sessions the new master still holds", ("seed", "until"),
          lambda n: ["n1", "n2", "n3", "n4", "n5", "res", "i1", "i2", "i3"])
def lockservice_failover_no_grace(seed: int = 0, until: float = 4.0) -> Any:
    from distlib.coordination.runs import failover
    return failover(seed, grace=False, until=until)


@register("lockservice-stale-cache", "a reader caching a file while a writer updates it; the master's "
          "invalidations to the reader are lost for 0.4 s, so each write waits for the reader's lease",
          ("seed", "until"), lambda n: ["n1", "n2", "n3", "n4", "n5", "res", "w1", "w2"])
def lockservice_stale_cache(seed: int = 0, until: float = 3.0) -> Any:
    from distlib.coordination.runs import stale_cache
    return stale_cache(seed, broken=False, until=until)


@register("lockservice-stale-cache-broken", "BROKEN: the same with a master that does not wait for "
          "invalidations: the reader serves its stale copy (try --seed 3)", ("seed", "until"),
          lambda n: ["n1", "n2", "n3", "n4", "n5", "res", "w1", "w2"])
def lockservice_stale_cache_broken(seed: int = 3, until: float = 3.0) -> Any:
    from distlib.coordination.runs import stale_cache
    return stale_cache(seed, broken=True, until=until)


def _sweep_lockservice() -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    from distlib.check.lockservice import check_lockservice
    from distlib.coordination.runs import random_lockservice
    return random_lockservice, check_lockservice


SWEEPS: dict[str, tuple[str, Callable[[], tuple[Callable[[int], Any], Callable[[Any], list[str]]]]]] = {
    "2pc": ("two-phase commit under random crashes/partitions/pauses, loss and duplication; "
            "checks atomic commitment", _sweep_2pc),
    "3pc": ("three-phase commit under crashes only (with and without restart), 3PC's failure model; "
            "checks atomic commitment (partitions break it: run 3pc-partition)", _sweep_3pc),
    "paxos-commit": ("Paxos Commit, F=1, up to F acceptors crashed for good (the leader too), RM crashes, "
                     "partitions, pauses, loss and duplication; checks atomic commitment",
                     _sweep_paxos_commit),
    "paxos": ("single-decree Paxos, three proposers, random faults; checks agreement and validity",
              _sweep_paxos),
    "multipaxos": ("Multi-Paxos, ten commands, random faults; checks per-slot agreement and that every "
                   "ok a client got names the slot its command was chosen in", _sweep_multipaxos),
    "multipaxos-kv": ("the key-value store on Multi-Paxos, three clients, random faults; checks agreement, "
                      "linearizability of the clients' history and exactly-once appends",
                      _sweep_multipaxos_kv),
    "raft": ("Raft under random faults, loss, duplication, reordering; checks the four safety "
             "properties after every event (every 10th seed a KV run, checked for linearizability)",
             _sweep_raft),
    "raft-prevote": ("the raft sweep with PreVote and CheckQuorum (thesis 9.6) switched on",
                     _sweep_raft_prevote),
    "raft-read-index": ("the Raft KV store with ReadIndex reads (thesis 6.4), the leader of the moment cut "
                        "off twice; checks safety, linearizability and exactly-once",
                        _sweep_raft_reads("read_index")),
    "raft-lease": ("the same with lease reads (thesis 6.4.1)", _sweep_raft_reads("lease")),
    "raft-local-read": ("the same with the BROKEN local-state reads (stale reads: violations expected)",
                        _sweep_raft_reads("local")),
    "raft-membership": ("Raft with an administrator asking for random single-server changes (thesis 4.1) "
                        "under random faults; checks the four safety properties (every 10th seed a KV "
                        "run, checked for linearizability)", _sweep_membership("single")),
    "raft-membership-direct": ("the same with the BROKEN direct switch (a voter replaced in one entry: "
                               "violations expected)", _sweep_membership("direct")),
    "dynamo": ("chapter 07's Dynamo-style store (VV, sloppy quorum, N=3 R=W=2) under random crashes/"
               "partitions/"
               "pauses, loss, duplication; checks durability after restarts, convergence after handoff and "
               "anti-entropy, no acked write lost, siblings", _sweep_dynamo),
    "dynamo-strict": ("the store with strict quorums, LWW and read write-back; also checks linearizability",
                      _sweep_dynamo_strict),
    "register-cp": ("chapter 01's CP register under random faults; checks linearizability",
                    _sweep_register_cp),
    "saga": ("travel-booking sagas (orchestration or choreography) under random crashes, partitions, "
             "pauses, loss, duplication and transient failures; checks semantic atomicity, exactly-once "
             "effect, termination and conservation", _sweep_saga),
    "mapreduce": ("MapReduce (one of five jobs, random M, R, 3-6 workers) under random worker crashes, "
                  "pauses, partitions, a slow worker, loss and duplication; checks the output equals the "
                  "sequential reference, one execution per output file, termination", _sweep_mapreduce),
    "rdd": ("chapter 10's RDD programs (word count, a join, PageRank with cache) on the simulated cluster "
            "under random executor crashes; checks the result equals the plain-Python reference, only lost "
            "partitions are recomputed, termination", _sweep_rdd),
    "lockservice": ("chapter 08's lock service: three primaries-to-be (stepping down after a random hold), "
                    "two namespace clients, random replica crashes, client pauses, partitions, loss, "
                    "drifting clocks; checks fenced effects, beliefs, session safety, namespace "
                    "linearizability", _sweep_lockservice),
    "sharded-kv": ("chapter 06's sharded KV store: a join and a leave under random crashes/partitions/"
                   "pauses (cfg included), loss and duplication; checks no acked write lost or "
                   "duplicated, keys only on their owners, linearizability", _sweep_sharded_kv),
}


def sweep_parts(name: str) -> tuple[Callable[[int], Any], Callable[[Any], list[str]]]:
    """``(run(seed), check(result) -> violations)`` of the named sweep."""
    if name not in SWEEPS:
        raise ValueError(f"sweep must be one of {', '.join(SWEEPS)} (got {name!r})")
    return SWEEPS[name][1]()
