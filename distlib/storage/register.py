"""A replicated read/write register in two flavours: CP (ABD quorums) and AP (local + gossip).

Both run on replicas ``n1``..``nN``; each client talks to one *home* replica (think: the
replica in its own data centre), so a client on the minority side of a partition can reach only
minority replicas — the setting of Gilbert & Lynch's proof of CAP (2002). That is a *sticky
session*; ``run_register(..., sticky=False)`` instead sends each operation to any replica (a load
balancer without session affinity), and the AP register then breaks read-your-writes (Terry et
al. 1994; :func:`distlib.check.consistency.read_your_writes`) when a partition separates the
replica that took a client's write from the one that answers its next read.

* **CP** — Attiya, Bar-Noy & Dolev, "Sharing Memory Robustly in Message-Passing Systems"
  (JACM 1995), in its multi-writer form (Lynch & Shvartsman 1997). The home replica coordinates:

  - *write v*: phase 1 asks every replica for its version and waits for a majority; the new
    version is ``(highest counter + 1, own id)``; phase 2 stores ``(version, v)`` and waits for a
    majority of acks before answering ok.
  - *read*: phase 1 collects ``(version, value)`` from a majority and picks the highest; phase 2
    writes it back to a majority (so no later read can return an older value), then answers.

  Any two majorities intersect, which is why every history is linearizable. Without a majority
  the replica **refuses** (``fail``: nothing was stored) or, for a write whose phase 2 reached some
  replicas but not a majority, stays silent (the client records ``info``: it may take effect).
* **AP** — every replica answers at once from its own copy; writes get a Lamport-style version
  ``(counter, replica)`` and the newest version wins (last-writer-wins). Replicas push each write to
  their peers and run anti-entropy every ``gossip_interval`` (send their whole state), so they
  converge once the network heals — eventual consistency, not linearizability.

``run_register("cp"|"ap", seed, ...)`` builds a world, runs a random read/write workload and returns
a :class:`RegisterRun` with ``.history``, ``.availability()``, ``.check()`` and ``.summary()``.

The module also has small exact checkers for the weaker consistency models of a register history —
:func:`sequentially_consistent`, :func:`causally_consistent` and :func:`consistency_level` — for the
tiny hand-written histories of chapter 01 (they enumerate orders: keep histories under ~10 ops).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from distlib.sim import FaultSchedule, History, Node, World, as_schedule
from distlib.sim import partition as make_partition
from distlib.sim.faults import PartitionFault
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import flag, integer, number, span

if TYPE_CHECKING:
    from distlib.check.linearizability import LinResult

MODES = ("cp", "ap")
Version = tuple[int, str]          # (counter, writer replica): totally ordered, ties impossible
NO_VERSION: Version = (0, "")


# ---- messages (frozen: they appear in diagrams) --------------------------------------------------
@dataclass(frozen=True)
class Read:
    req_id: str


@dataclass(frozen=True)
class Write:
    req_id: str
    value: Any


@dataclass(frozen=True)
class ReadOk:
    req_id: str
    value: Any


@dataclass(frozen=True)
class WriteOk:
    req_id: str


@dataclass(frozen=True)
class Refused:
    """The replica could not reach a majority; nothing was stored (a definite failure)."""

    req_id: str
    reason: str


@dataclass(frozen=True)
class Query:
    """ABD phase 1: "what is your version?"."""

    op: str


@dataclass(frozen=True)
class QueryReply:
    op: str
    version: Version
    value: Any


@dataclass(frozen=True)
class Store:
    """ABD phase 2: "store this version unless you have a newer one"."""

    op: str
    version: Version
    value: Any


@dataclass(frozen=True)
class StoreAck:
    op: str


@dataclass(frozen=True)
class Gossip:
    """AP: a replica's (version, value), pushed after a write and by anti-entropy."""

    version: Version
    value: Any


# ---- replicas ---------------------------------------------------------------------------------------
class _Replica(Node):
    """The durable copy both modes keep: ``storage["version"]``, ``storage["value"]``."""

    def __init__(self, initial: Any = None):
        self.initial = initial

    def on_start(self) -> None:
        self.storage.setdefault("version", NO_VERSION)
        self.storage.setdefault("value", self.initial)

    @property
    def version(self) -> Version:
        return self.storage["version"]

    @property
    def value(self) -> Any:
        return self.storage["value"]

    def _adopt(self, version: Version, value: Any) -> bool:
        """Keep the newer of ours and theirs (both modes: the highest version wins)."""
        if version > self.storage["version"]:
            self.storage["version"] = version
            self.storage["value"] = value
            return True
        return False


@dataclass
class _Pending:
    client: str
    kind: str                        # "read" | "write"
    value: Any                       # the value to write (write) / chosen value (read, phase 2)
    phase: int = 1
    version: Version = NO_VERSION    # highest seen (phase 1) / being stored (phase 2)
    replies: set[str] = field(default_factory=set)


class CPReplica(_Replica):
    """ABD (Attiya, Bar-Noy, Dolev 1995): every read and write goes through a majority, twice."""

    def __init__(self, initial: Any = None, op_timeout: float = 0.3):
        super().__init__(initial)
        self.op_timeout = number("op_timeout", op_timeout, above=True)

    def on_start(self) -> None:
        super().on_start()
        self.pending: dict[str, _Pending] = {}   # volatile: a crash forgets operations in flight

    def on_recover(self) -> None:
        self.on_start()

    @property
    def majority(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, (Read, Write)):
            self._begin(src, msg)
        elif isinstance(msg, Query):
            self.send(src, QueryReply(msg.op, self.version, self.value))
        elif isinstance(msg, Store):
            self._adopt(msg.version, msg.value)   # ABD: never go back to an older version
            self.send(src, StoreAck(msg.op))
        elif isinstance(msg, QueryReply):
            self._on_query_reply(src, msg)
        elif isinstance(msg, StoreAck):
            self._on_store_ack(src, msg)

    def _begin(self, client: str, msg: Read | Write) -> None:
        kind = "write" if isinstance(msg, Write) else "read"
        op = _Pending(client, kind, msg.value if kind == "write" else None)
        op.version, op.replies = self.version, {self.id}   # our own copy counts as one answer
        if kind == "read":
            op.value = self.value
        self.pending[msg.req_id] = op
        self.set_timer(msg.req_id, self.op_timeout)
        for peer in sorted(self.peers):
            self.send(peer, Query(msg.req_id))
        self._maybe_advance(msg.req_id)

    def _on_query_reply(self, src: str, msg: QueryReply) -> None:
        op = self.pending.get(msg.op)
        if op is None or op.phase != 1:
            return
        op.replies.add(src)
        if msg.version > op.version:
            op.version = msg.version
            if op.kind == "read":
                op.value = msg.value
        self._maybe_advance(msg.op)

    def _maybe_advance(self, req_id: str) -> None:
        op = self.pending[req_id]
        if op.phase != 1 or len(op.replies) < self.majority:
            return
        # Phase 2. A write takes a version above every version a majority has seen (so above
        # every completed write); a read writes back the newest value it found.
        if op.kind == "write":
            op.version = (op.version[0] + 1, self.id)
        op.phase, op.replies = 2, {self.id}
        self._adopt(op.version, op.value)
        for peer in sorted(self.peers):
            self.send(peer, Store(req_id, op.version, op.value))
        self._maybe_finish(req_id)

    def _on_store_ack(self, src: str, msg: StoreAck) -> None:
        op = self.pending.get(msg.op)
        if op is None or op.phase != 2:
            return
        op.replies.add(src)
        self._maybe_finish(msg.op)

    def _maybe_finish(self, req_id: str) -> None:
        op = self.pending[req_id]
        if op.phase == 2 and len(op.replies) >= self.majority:
            del self.pending[req_id]
            self.cancel_timer(req_id)
            self.send(op.client, ReadOk(req_id, op.value) if op.kind == "read" else WriteOk(req_id))

    def on_timer(self, name: str) -> None:
        op = self.pending.pop(name, None)
        if op is None:
            return
        if op.phase == 1 or op.kind == "read":
            # Nothing new was stored (a read's write-back only spreads an existing value): refuse.
            self.annotate(f"no majority: refuse {op.kind}")
            self.send(op.client, Refused(name, f"no majority ({len(op.replies)}/{self.majority})"))
        else:
            # Phase 2 of a write reached a minority: it may still win later. Say nothing, so the
            # client records "info" (outcome unknown) instead of a false "fail".
            self.annotate("write outcome unknown")


class APReplica(_Replica):
    """Answer locally at once; push writes to peers; anti-entropy every ``gossip_interval``."""

    def __init__(self, initial: Any = None, gossip_interval: float = 0.5):
        super().__init__(initial)
        self.gossip_interval = number("gossip_interval", gossip_interval, above=True)

    def on_start(self) -> None:
        super().on_start()
        self.set_timer("anti-entropy", self.gossip_interval)

    def on_recover(self) -> None:
        self.on_start()

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Read):
            self.send(src, ReadOk(msg.req_id, self.value))
        elif isinstance(msg, Write):
            # Lamport-style version: above everything this replica has seen (LWW register).
            self._adopt((self.version[0] + 1, self.id), msg.value)
            self.send(src, WriteOk(msg.req_id))
            self.broadcast(Gossip(self.version, self.value))
        elif isinstance(msg, Gossip):
            self._adopt(msg.version, msg.value)

    def on_timer(self, name: str) -> None:
        if name == "anti-entropy":
            if self.version != NO_VERSION:
                self.broadcast(Gossip(self.version, self.value))
            self.set_timer("anti-entropy", self.gossip_interval)


# ---- scenario --------------------------------------------------------------------------------------
def _interpret(reply: Any) -> tuple[str, Any]:
    if isinstance(reply, ReadOk):
        return "ok", reply.value
    if isinstance(reply, WriteOk):
        return "ok", None
    return "fail", getattr(reply, "reason", repr(reply))


@dataclass
class RegisterRun:
    """What :func:`run_register` returns."""

    mode: str
    seed: int
    world: World
    schedule: FaultSchedule
    homes: dict[str, str]            # client -> its replica
    sticky: bool = True              # False: each operation went to a replica picked at random

    @property
    def history(self) -> History:
        return self.world.history

    def counts(self) -> dict[str, int]:
        """Completed operations by outcome: ``{"ok": .., "fail": .., "info": ..}``."""
        out = {"ok": 0, "fail": 0, "info": 0}
        for _, done in self.history.pairs():
            out[done.type if done is not None else "info"] += 1
        return out

    def availability(self) -> float:
        """Fraction of operations that succeeded (ok); 1.0 if there were none."""
        c = self.counts()
        total = sum(c.values())
        return c["ok"] / total if total else 1.0

    def availability_by_client(self) -> dict[str, float]:
        ok: dict[str, int] = {}
        total: dict[str, int] = {}
        for inv, done in self.history.pairs():
            total[inv.process] = total.get(inv.process, 0) + 1
            ok[inv.process] = ok.get(inv.process, 0) + (done is not None and done.type == "ok")
        return {c: ok[c] / total[c] for c in sorted(total)}

    def check(self, max_steps: int | None = 2_000_000) -> LinResult:
        """The linearizability verdict on the history (a single register, initial value None)."""
        # The checker sits a layer above; imported here so the protocol module stays below it.
        from distlib.check.linearizability import check_linearizability
        from distlib.check.models import Register

        return check_linearizability(self.history, Register(None), max_steps=max_steps)

    def replicas(self) -> dict[str, tuple[Version, Any]]:
        """Each replica's durable (version, value), by name."""
        return {n: (s.get("version", NO_VERSION), s.get("value")) for n, s in self.world.storage.items()}

    def converged(self) -> bool:
        """Do all replicas hold the same version?"""
        return len({v for v, _ in self.replicas().values()}) == 1

    def summary(self) -> str:
        c = self.counts()
        total = sum(c.values())
        verdict = self.check().verdict
        return (f"{self.mode.upper()} register, seed {self.seed}: {total} ops ({c['ok']} ok, "
                f"{c['fail']} fail, {c['info']} info), availability {self.availability():.0%}, "
                f"linearizable: {verdict}; faults: {self.schedule.describe()}")


def replica_names(replicas: int) -> list[str]:
    return [f"n{i}" for i in range(1, replicas + 1)]


def _partition_fault(partition: Any, nodes: Sequence[str], at: float,
                     heal: float | None) -> PartitionFault | None:
    if partition is None:
        return None
    if isinstance(partition, PartitionFault):
        return partition
    side = [partition] if isinstance(partition, str) else list(partition) if isinstance(
        partition, (list, tuple)) else None
    if not side or any(n not in nodes for n in side) or len(set(side)) != len(side) \
            or len(side) >= len(nodes):
        raise ValueError(f"partition must be None, a PartitionFault, or a list of some (not all) of the "
                         f"replicas {', '.join(nodes)} to cut off (got {partition!r})")
    rest = [n for n in nodes if n not in side]
    return make_partition(side, rest, at=at, heal=heal)


def run_register(mode: str, seed: int = 0, *, replicas: int = 3, clients: int = 3,
                 partition: str | Sequence[str] | PartitionFault | None = None,
                 partition_at: float = 1.0, heal_at: float | None = 3.0,
                 faults: FaultSchedule | str | None = None, until: float = 5.0,
                 latency: Any = (0.01, 0.03), think: tuple[float, float] = (0.05, 0.25),
                 write_ratio: float = 0.5, timeout: float = 0.5, op_timeout: float = 0.3,
                 gossip_interval: float = 0.5, settle: float = 1.0, sticky: bool = True) -> RegisterRun:
    """Run a random read/write workload on a replicated register and record its history.

    ``mode``: "cp" (ABD majority quorums) or "ap" (local answers + gossip, last writer wins).
    Replicas are ``n1``..``nN``; client ``ck`` talks only to replica ``n((k-1) mod N + 1)``.
    ``partition``: replicas to cut off from the rest from ``partition_at`` until ``heal_at``
    (e.g. ``"n1"`` or ``["n1"]``), or a :class:`~distlib.sim.PartitionFault`; ``faults``: any
    further schedule. Clients issue operations until ``until``; the world then runs ``settle``
    more time units with no new operations so that gossip can reconcile the replicas.
    Each write writes a fresh value (1, 2, 3, ...), so a read names the write it saw.
    ``sticky=False`` sends each operation to a replica drawn at random (its own random stream,
    so the workload — times, reads or writes, values — is the same as with ``sticky=True``).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    seed = check_seed(seed)
    replicas = integer("replicas", replicas, 1, 9)
    clients = integer("clients", clients, 1, 9)
    until = number("until", until, 0.0, above=True)
    partition_at = number("partition_at", partition_at, 0.0)
    if heal_at is not None:
        heal_at = number("heal_at", heal_at, partition_at)
    think = span("think", think)
    write_ratio = number("write_ratio", write_ratio, 0.0, 1.0)
    timeout = number("timeout", timeout, 0.0, above=True)
    op_timeout = number("op_timeout", op_timeout, 0.0, above=True)
    gossip_interval = number("gossip_interval", gossip_interval, 0.0, above=True)
    settle = number("settle", settle, 0.0)
    sticky = flag("sticky", sticky)

    world = World(seed, latency=latency)
    nodes = replica_names(replicas)
    faults = as_schedule(faults, nodes)
    if mode == "cp":
        world.add_nodes(CPReplica, nodes, op_timeout=op_timeout)
    else:
        world.add_nodes(APReplica, nodes, gossip_interval=gossip_interval)
    part = _partition_fault(partition, nodes, partition_at, heal_at)
    schedule = FaultSchedule(([part] if part is not None else []) + list(faults))
    names = [f"c{k}" for k in range(1, clients + 1)]
    homes = {c: nodes[k % replicas] for k, c in enumerate(names)}
    for c in names:
        world.client(c)
    schedule.apply(world)

    counter = iter(range(1, 1_000_000))   # fresh write values, shared by all clients

    def workload(name: str):
        client = world.clients[name]
        rng = stream(seed, f"register/workload/{name}")
        route = stream(seed, f"register/route/{name}")
        while True:
            yield world.env.timeout(rng.uniform(*think))
            if world.now >= until:
                return
            replica = homes[name] if sticky else nodes[route.randrange(replicas)]
            if rng.random() < write_ratio:
                v = next(counter)
                yield from client.request(replica, Write(client.next_id(), v), f="write", value=v,
                                          timeout=timeout, interpret=_interpret)
            else:
                yield from client.request(replica, Read(client.next_id()), f="read",
                                          timeout=timeout, interpret=_interpret)

    for c in names:
        world.process(workload(c))
    world.run(until=until + max(timeout, settle))
    return RegisterRun(mode, seed, world, schedule, homes, sticky)


__all__ = ["APReplica", "CPReplica", "Gossip", "MODES", "Query", "QueryReply", "Read", "ReadOk", "Refused",
           "RegisterRun", "Store", "StoreAck", "Write", "WriteOk", "replica_names", "run_register"]
