"""A linearizable, exactly-once key-value store on the Multi-Paxos log.

The same store, commands and client as the Raft KV store (:mod:`distlib.consensus.raft_kv`,
Raft paper §8), on the replicated log of :mod:`distlib.consensus.multipaxos`:

* Every command — reads included — is a value in a log slot, applied in slot order.
  A ``get`` is answered only once its slot is decided and applied.
* A client is answered only when **its own command** was decided in the slot the
  leader gave it (:meth:`MultiPaxosNode.answer`); a slot lost to another leader's
  value gets ``error="retry"``, a deposed leader forgets its clients, and a
  follower redirects (``error="not leader"`` with a ``leader_hint``).
* The log alone is **at-least-once**: a client that times out retries, and the
  retry may be decided in a second slot while the first attempt is decided too
  (under random faults most runs decide some command twice). The state machine
  makes it exactly-once: each command carries ``(client, seq)``, and the
  :class:`~distlib.consensus.raft_kv.KVStore` session table executes a command
  only if its sequence number is new for that client, answering a repeat from
  the stored result. Because every replica applies the same slots in the same
  order, every replica skips the same duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .multipaxos import MultiPaxosNode
from .raft_kv import ClientReply, ClientRequest, KVCommand, KVStore, NoDedupKVStore, kv_client


class MultiPaxosKVNode(MultiPaxosNode):
    """A Multi-Paxos replica whose state machine is a :class:`~distlib.consensus.raft_kv.KVStore`."""

    store_cls: type[KVStore] = KVStore

    def on_start(self) -> None:
        # Volatile, rebuilt from the decided slots in storage: super().on_start() re-applies them.
        self.kv = self.store_cls()
        super().on_start()

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, ClientRequest):
            self.submit(src, msg.req_id, msg.command)
        else:
            super().on_message(src, msg)

    def apply(self, slot: int, value: Any) -> Any:
        if isinstance(value, KVCommand):      # a no-op fills a gap and changes nothing
            return self.kv.apply(value)
        return None

    def reply(self, client: str, req_id: str, ok: bool, *, slot: int | None = None,
              result: Any = None) -> None:
        if ok:
            self.send(client, ClientReply(req_id, True, result=result))
        else:
            error = "retry" if self.role == "leader" else "not leader"
            self.send(client, ClientReply(req_id, False, leader_hint=self.leader, error=error))


class NoDedupMultiPaxosKVNode(MultiPaxosKVNode):
    """BROKEN: no duplicate detection — a retried command decided in two slots is executed twice."""

    store_cls = NoDedupKVStore


@dataclass
class MultiPaxosKVRun:
    world: Any

    @property
    def logs(self) -> dict[str, list[Any]]:
        return {n: list(node.applied) for n, node in sorted(self.world.nodes.items())}

    @property
    def data(self) -> dict[str, Any]:
        """The store of the replica that applied the most slots (for the exactly-once check)."""
        best = max(sorted(self.world.nodes), key=lambda n: len(self.world.nodes[n].applied))
        return dict(self.world.nodes[best].kv.data)

    def duplicate_decisions(self) -> int:
        """How many commands were decided in more than one slot (the log alone is at-least-once)."""
        log = max(self.logs.values(), key=len)
        ids = [(v.client, v.seq) for v in log if isinstance(v, KVCommand)]
        return sum(1 for i in sorted(set(ids)) if ids.count(i) > 1)

    def check(self) -> list[str]:
        """Violations (:func:`distlib.check.paxos_invariants.check_multipaxos_kv`)."""
        from distlib.check.paxos_invariants import check_multipaxos_kv
        return check_multipaxos_kv(self)

    def summary(self) -> str:
        ops = self.world.history.pairs()
        done = sum(1 for _, d in ops if d is not None and d.type == "ok")
        return (f"seed {self.world.seed}: {len(ops)} client operations, {done} ok; longest applied log "
                f"{max(len(v) for v in self.logs.values())}; "
                f"{self.duplicate_decisions()} commands decided in two or more slots")


def run_multipaxos_kv(seed: int = 0, *, nodes: int = 3, clients: int = 2, ops: int = 10,
                      loss: float = 0.0, duplicate: float = 0.0, faults: Any = None, until: float = 4.0,
                      node_cls: type[MultiPaxosKVNode] = MultiPaxosKVNode) -> MultiPaxosKVRun:
    """``clients`` clients each run :func:`~distlib.consensus.raft_kv.kv_client` (``ops`` random
    get/put/append/cas on keys x and y, retried with the same sequence number until answered)."""
    from distlib.sim import World
    from distlib.sim.validate import integer

    integer("nodes", nodes, 1, 9)
    integer("clients", clients, 1, 20)
    if not (isinstance(node_cls, type) and issubclass(node_cls, MultiPaxosKVNode)):
        raise ValueError(f"node_cls must be a MultiPaxosKVNode subclass (got {node_cls!r})")
    world = World(seed, loss=loss, duplicate=duplicate)
    names = [f"n{i}" for i in range(1, nodes + 1)]
    world.add_nodes(node_cls, names)
    for c in range(1, clients + 1):
        world.process(kv_client(world, f"c{c}", names, ops=ops))
    if faults is not None:
        faults.apply(world)
    world.run(until=until)
    return MultiPaxosKVRun(world)


def random_multipaxos_kv(seed: int, **kwargs: Any) -> MultiPaxosKVRun:
    """Two clients, ten operations each, on three nodes under up to three random faults in the first
    3 s (crash/restart, partition, pause), 5% loss and duplication; 6 s in all."""
    from distlib.sim import FaultSchedule

    faults = FaultSchedule.random(seed, ["n1", "n2", "n3"], horizon=3.0, faults=3)
    kwargs.setdefault("until", 6.0)
    kwargs.setdefault("clients", 3)
    return run_multipaxos_kv(seed, loss=0.05, duplicate=0.05, faults=faults, **kwargs)
