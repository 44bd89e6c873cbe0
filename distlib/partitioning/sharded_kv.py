"""A sharded key-value store on the simulated cluster, rebalanced while clients keep writing.

Shape (the "fixed number of partitions" design: Dynamo's strategy 3, Riak, Redis Cluster slots):

* A key lives in shard ``stable_hash(key) mod S``; S is fixed, so a key never changes shard.
  Shards are placed on storage nodes by a placement strategy (:mod:`.placement`) applied to
  the shard names, so a join or leave moves few *shards* and every key in them moves along.
* The config node ``cfg`` holds the **shard map** -- ``(version, owner of each shard)`` -- in
  durable storage and runs the rebalancing plan (``join``/``leave`` steps at given times), one
  step at a time. It answers ``GetMap`` and pushes each new map to every node.
* Clients route by their cached map. A node that does not own the shard answers
  ``wrong shard`` with the newest map it knows; if that map is not newer than the client's,
  the client asks ``cfg``. A ``moving`` answer means "retry shortly".
* Each put carries ``(client, seq)``; an owner keeps per shard the last seq applied per client
  and answers a retried put without applying it again. That table moves with the shard, so a
  retry that lands on the new owner is still recognised.

Migration of shard s from A to B (epoch e, one number per rebalancing step):

1. ``cfg -> A: Migrate(s, B, e)`` (re-sent until done). A **freezes** s -- it keeps serving its
   other shards, but answers ``moving`` for s -- and sends ``ShardData(s, e, data, sessions)``
   to B, re-sending until acknowledged.
2. B installs the data durably, owns s from now on, and acks. A later duplicate of the data
   (epoch not newer than B's) is acked and ignored, so it never overwrites newer writes.
3. A deletes its copy, remembers "s went to B at e", and tells ``cfg: MigrateDone(s, e)``.
4. ``cfg`` sets owner(s) = B, bumps the map version and pushes the map.

**Decision -- freeze, not forward.** While s is in flight its writes are refused (``moving``)
instead of being forwarded to B. Forwarding would keep s writable, but then an acknowledged
write's fate depends on a second hop that can be lost, duplicated or reordered with the
snapshot; with a freeze the snapshot *is* the final state of s at A, so no acknowledged write
can be missing from it. The cost is a short unavailability of one shard (a round trip or two;
longer if A and B are partitioned -- that is the consistent choice). Real systems add a bulk
copy while serving before the frozen catch-up (MongoDB's chunk migration "critical section");
with shards this small a single frozen copy is the whole story.

Everything a node needs after a crash is in ``storage`` (shard states, data, sessions, epochs,
the map; ``cfg``'s plan position and pending moves), so a migration resumes after a restart.

Broken variant (:class:`EagerConfigNode` + :class:`EagerShardNode`, ``broken=True``): ownership
switches *before the data has arrived* -- cfg publishes the new map when a move starts, the
target serves a shard as soon as the map names it (empty until the data lands, then the old
data is merged over the new writes), and the source deletes its copy after one unacknowledged
send. :mod:`distlib.check.sharding` catches it.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.sim import FaultSchedule, History, Node, World, as_schedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import integer, number

from .hashing import stable_hash
from .placement import STRATEGIES, make_placement

CFG = "cfg"
OWNED, FROZEN, GONE = "owned", "frozen", "gone"
CHANGES = ("join", "leave")


def shard_of(key: Any, shards: int) -> int:
    return stable_hash(key) % shards


# ---- messages (frozen: they appear in diagrams) --------------------------------------------------------
@dataclass(frozen=True)
class ShardMap:
    version: int
    owners: tuple[str, ...]          # owners[s] is the node that owns shard s

    def __repr__(self) -> str:
        return f"Map(v{self.version})"


@dataclass(frozen=True)
class KVRequest:
    req_id: str
    client: str
    seq: int
    op: str                          # "get" | "put"
    key: str
    value: Any = None

    def __repr__(self) -> str:
        val = "" if self.op == "get" else f"={self.value!r}"
        return f"{self.op} {self.key}{val}"


@dataclass(frozen=True)
class KVReply:
    req_id: str
    ok: bool
    value: Any = None
    error: str | None = None         # "wrong shard" | "moving"
    map: ShardMap | None = None

    def __repr__(self) -> str:
        return f"ok {self.value!r}" if self.ok else f"{self.error} {self.map!r}"


@dataclass(frozen=True)
class GetMap:
    req_id: str


@dataclass(frozen=True)
class MapReply:
    req_id: str
    map: ShardMap


@dataclass(frozen=True)
class MapUpdate:
    map: ShardMap


@dataclass(frozen=True)
class Migrate:
    shard: int
    dst: str
    epoch: int


@dataclass(frozen=True)
class ShardData:
    shard: int
    epoch: int
    items: tuple[tuple[str, Any], ...]
    sessions: tuple[tuple[str, int], ...]

    def __repr__(self) -> str:
        return f"ShardData(s{self.shard}, e{self.epoch}, {len(self.items)} keys)"


@dataclass(frozen=True)
class ShardAck:
    shard: int
    epoch: int


@dataclass(frozen=True)
class MigrateDone:
    shard: int
    epoch: int


@dataclass(frozen=True)
class Step:
    """One rebalancing step of the plan: ``node`` joins or leaves at time ``at``."""

    change: str
    node: str
    at: float

    def __str__(self) -> str:
        return f"{self.node} {self.change}s at {self.at:g}"


def assignment(strategy: str, members: Sequence[str], shards: int, **options: Any) -> tuple[str, ...]:
    """The owner of every shard for ``members`` (shard s is placed as the key ``("shard", s)``)."""
    p = make_placement(strategy, list(members), **options)
    return tuple(p.owner(("shard", s)) for s in range(shards))


def plan_members(strategy: str, members: Sequence[str], step: Step, **options: Any) -> tuple[str, ...]:
    """Members after ``step``, in the placement's order (jump hash's order matters)."""
    p = make_placement(strategy, list(members), **options)
    if step.change == "join":
        p.add(step.node)
    else:
        p.remove(step.node)
    return p.nodes


def _options(vnodes: int) -> dict[str, Any]:
    return {"vnodes": vnodes}


class ConfigNode(Node):
    """Holds the shard map and runs the rebalancing plan, one step at a time."""

    def __init__(self, *, members: Sequence[str], plan: Sequence[Step] = (), shards: int = 16,
                 strategy: str = "ring", vnodes: int = 100, retry: float = 0.1):
        self.members0 = tuple(members)
        self.plan = tuple(plan)
        self.shards = shards
        self.strategy = strategy
        self.options = {"vnodes": vnodes} if strategy in ("ring", "bounded") else {}
        self.retry = retry

    def on_start(self) -> None:
        st = self.storage
        if "map" not in st:
            st["map"] = ShardMap(0, assignment(self.strategy, self.members0, self.shards, **self.options))
            st["members"] = self.members0
            st["step"] = 0
            st["epoch"] = 0
            st["pending"] = {}           # shard -> (src, dst) of the current step
        self.set_timer("tick", 0.0)

    def on_recover(self) -> None:
        self.set_timer("tick", 0.0)      # resume: re-send pending moves, continue the plan

    def on_timer(self, name: str) -> None:
        st = self.storage
        if st["pending"]:
            for s, (src, dst) in sorted(st["pending"].items()):
                self.send(src, Migrate(s, dst, st["epoch"]))
        elif st["step"] < len(self.plan) and self.now >= self.plan[st["step"]].at:
            self._begin(self.plan[st["step"]])
        self.set_timer("tick", self.retry)

    def _begin(self, step: Step) -> None:
        st = self.storage
        members = plan_members(self.strategy, st["members"], step, **self.options)
        target = assignment(self.strategy, members, self.shards, **self.options)
        owners = st["map"].owners
        st["members"] = members
        st["step"] += 1
        st["epoch"] += 1
        st["pending"] = {s: (owners[s], target[s]) for s in range(self.shards) if owners[s] != target[s]}
        self.annotate(f"{step}: {len(st['pending'])} of {self.shards} shards move (epoch {st['epoch']})")
        for s, (src, dst) in sorted(st["pending"].items()):
            self.send(src, Migrate(s, dst, st["epoch"]))

    def on_message(self, src: str, msg: Any) -> None:
        st = self.storage
        if isinstance(msg, GetMap):
            self.send(src, MapReply(msg.req_id, st["map"]))
        elif isinstance(msg, MigrateDone) and msg.epoch == st["epoch"] and msg.shard in st["pending"]:
            _, dst = st["pending"].pop(msg.shard)
            self._set_owner(msg.shard, dst)

    def _set_owner(self, shard: int, node: str) -> None:
        old = self.storage["map"]
        owners = list(old.owners)
        owners[shard] = node
        self.storage["map"] = ShardMap(old.version + 1, tuple(owners))
        self.broadcast(MapUpdate(self.storage["map"]))


class ShardNode(Node):
    """A storage node: serves the shards it owns, hands them over on ``Migrate``."""

    def __init__(self, *, members: Sequence[str], shards: int = 16, strategy: str = "ring",
                 vnodes: int = 100, resend: float = 0.1, config: str = CFG):
        self.members0 = tuple(members)
        self.shards = shards
        self.strategy = strategy
        self.options = {"vnodes": vnodes} if strategy in ("ring", "bounded") else {}
        self.resend = resend
        self.config = config

    def on_start(self) -> None:
        st = self.storage
        if "shards" not in st:
            owners = assignment(self.strategy, self.members0, self.shards, **self.options)
            st["map"] = ShardMap(0, owners)
            st["shards"] = {s: self._state(OWNED, 0) for s in range(self.shards) if owners[s] == self.id}
        self.on_recover()

    def on_recover(self) -> None:
        if any(x["state"] == FROZEN for x in self.storage["shards"].values()):
            self.set_timer("resend", 0.0)     # a crash mid-handoff: carry on sending the data

    @staticmethod
    def _state(state: str, epoch: int, data: dict | None = None, sessions: dict | None = None,
               to: str | None = None) -> dict[str, Any]:
        return {"state": state, "epoch": epoch, "data": data or {}, "sessions": sessions or {}, "to": to}

    # ---- clients ----------------------------------------------------------------------------------
    def _serving(self, s: int) -> dict[str, Any] | None:
        return self.storage["shards"].get(s)

    def _on_request(self, src: str, msg: KVRequest) -> None:
        s = shard_of(msg.key, self.shards)
        st = self._serving(s)
        if st is None or st["state"] == GONE:
            self.send(src, KVReply(msg.req_id, False, error="wrong shard", map=self.storage["map"]))
            return
        if st["state"] == FROZEN:
            self.send(src, KVReply(msg.req_id, False, error="moving"))
            return
        if msg.op == "get":
            self.send(src, KVReply(msg.req_id, True, st["data"].get(msg.key)))
            return
        if msg.seq > st["sessions"].get(msg.client, 0):      # else: a retry already applied here
            st["data"][msg.key] = msg.value
            st["sessions"][msg.client] = msg.seq
        self.send(src, KVReply(msg.req_id, True))

    # ---- migration ----------------------------------------------------------------------------------
    def _send_data(self, s: int, st: dict[str, Any]) -> None:
        self.send(st["to"], ShardData(s, st["epoch"], tuple(sorted(st["data"].items())),
                                      tuple(sorted(st["sessions"].items()))))

    def _on_migrate(self, src: str, msg: Migrate) -> None:
        st = self.storage["shards"].get(msg.shard)
        if st is None:
            return
        if st["state"] == OWNED and st["epoch"] < msg.epoch:
            st.update(state=FROZEN, epoch=msg.epoch, to=msg.dst)
            self.annotate(f"freeze s{msg.shard} -> {msg.dst}")
            self._send_data(msg.shard, st)
            self.set_timer("resend", self.resend)
        elif st["epoch"] == msg.epoch and st["state"] == FROZEN:
            self._send_data(msg.shard, st)
        elif st["epoch"] == msg.epoch and st["state"] == GONE:
            self.send(src, MigrateDone(msg.shard, msg.epoch))    # cfg missed our report

    def _on_data(self, src: str, msg: ShardData) -> None:
        shards = self.storage["shards"]
        st = shards.get(msg.shard)
        if st is None or st["epoch"] < msg.epoch:
            shards[msg.shard] = self._state(OWNED, msg.epoch, dict(msg.items), dict(msg.sessions))
            self.annotate(f"own s{msg.shard} ({len(msg.items)} keys)")
        self.send(src, ShardAck(msg.shard, msg.epoch))          # a duplicate is acked, never re-installed

    def _on_ack(self, msg: ShardAck) -> None:
        st = self.storage["shards"].get(msg.shard)
        if st is not None and st["state"] == FROZEN and st["epoch"] == msg.epoch:
            st.update(state=GONE, data={}, sessions={})
            self.send(self.config, MigrateDone(msg.shard, msg.epoch))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, KVRequest):
            self._on_request(src, msg)
        elif isinstance(msg, Migrate):
            self._on_migrate(src, msg)
        elif isinstance(msg, ShardData):
            self._on_data(src, msg)
        elif isinstance(msg, ShardAck):
            self._on_ack(msg)
        elif isinstance(msg, MapUpdate) and msg.map.version > self.storage["map"].version:
            self.storage["map"] = msg.map

    def on_timer(self, name: str) -> None:
        frozen = [(s, st) for s, st in sorted(self.storage["shards"].items()) if st["state"] == FROZEN]
        for s, st in frozen:
            self._send_data(s, st)
        if frozen:
            self.set_timer("resend", self.resend)


class EagerConfigNode(ConfigNode):
    """BROKEN: publishes the new owners as soon as a move starts, before any data has moved."""

    def _begin(self, step: Step) -> None:
        super()._begin(step)
        for s, (_src, dst) in sorted(self.storage["pending"].items()):
            self._set_owner(s, dst)


class EagerShardNode(ShardNode):
    """BROKEN: serves a shard as soon as the map names it (before its data arrives, merging the
    data over newer writes when it does), and drops its own copy after one send."""

    def _serving(self, s: int) -> dict[str, Any] | None:
        shards = self.storage["shards"]
        st = shards.get(s)
        if self.storage["map"].owners[s] == self.id and (st is None or st["state"] == GONE):
            shards[s] = st = self._state(OWNED, -1)            # "it's mine now" -- but empty
        return st

    def _on_migrate(self, src: str, msg: Migrate) -> None:
        st = self.storage["shards"].get(msg.shard)
        if st is not None and st["state"] == OWNED and st["epoch"] < msg.epoch:
            st.update(epoch=msg.epoch, to=msg.dst)
            self._send_data(msg.shard, st)                     # once, no retry
            st.update(state=GONE, data={}, sessions={})
            self.send(src, MigrateDone(msg.shard, msg.epoch))
        elif st is not None and st["state"] == GONE and st["epoch"] == msg.epoch:
            self.send(src, MigrateDone(msg.shard, msg.epoch))

    def _on_data(self, src: str, msg: ShardData) -> None:
        st = self.storage["shards"].get(msg.shard)
        if st is not None and st["state"] == OWNED and st["epoch"] < msg.epoch:
            st["data"].update(msg.items)                       # old values over the new writes
            st["sessions"].update(msg.sessions)
            st["epoch"] = msg.epoch
            self.send(src, ShardAck(msg.shard, msg.epoch))
        else:
            super()._on_data(src, msg)


# ---- clients -------------------------------------------------------------------------------------------
def shard_client(world: World, name: str, *, shards: int, keys: Sequence[str], ops: int = 20,
                 write_ratio: float = 0.6, attempt_timeout: float = 0.2, give_up: float = 1.0,
                 think: float = 0.03, backoff: float = 0.02, config: str = CFG,
                 rng: random.Random | None = None) -> Generator[Any, Any, None]:
    """A SimPy process: ``ops`` random gets/puts, each retried (same seq) until answered.

    Routes by its cached map; on ``wrong shard`` adopts the reply's map if newer, else asks
    ``cfg``. Put values are unique (``"c1.3"``) so the checker can tell writes apart. Each
    operation is one history entry: ``ok``, or ``info`` if it gave up (it may still have
    taken effect).
    """
    rng = rng or stream(world.seed, f"client/{name}")
    client = world.client(name)
    history, env = world.history, world.env
    cached: ShardMap | None = None
    for seq in range(1, ops + 1):
        put = rng.random() < write_ratio
        key = rng.choice(list(keys))
        value = f"{name}.{seq}" if put else None
        s = shard_of(key, shards)
        inv = history.invoke(name, "write" if put else "read", key, value, env.now)
        deadline = env.now + give_up
        attempt, done, refresh = 0, False, cached is None
        while env.now < deadline:
            attempt += 1
            if refresh:
                reply = yield from client.call(config, GetMap(f"{name}:{seq}.{attempt}m"),
                                               timeout=max(min(attempt_timeout, deadline - env.now), 1e-6))
                if reply is not None and (cached is None or reply.map.version > cached.version):
                    cached = reply.map
                refresh = cached is None          # cfg unreachable: carry on with the cached map
                if cached is None or env.now >= deadline:
                    continue
            req = KVRequest(f"{name}:{seq}.{attempt}", name, seq, "put" if put else "get", key, value)
            reply = yield from client.call(cached.owners[s], req,
                                           timeout=max(min(attempt_timeout, deadline - env.now), 1e-6))
            if reply is None:
                refresh = True                 # maybe the owner changed; maybe it is just down
            elif reply.ok:
                history.complete(inv, "ok", value if put else reply.value, env.now)
                done = True
                break
            elif reply.error == "wrong shard":
                if reply.map is not None and reply.map.version > cached.version:
                    cached = reply.map
                else:
                    refresh = True
                    yield env.timeout(backoff)
            else:                               # moving: the shard is in flight
                yield env.timeout(backoff)
        if not done:
            history.complete(inv, "info", None, env.now)
        yield env.timeout(think)


# ---- a run ---------------------------------------------------------------------------------------------
@dataclass
class ShardedRun:
    """What :func:`run_sharded` returns: the world and what the checker needs to judge it."""

    seed: int
    world: World
    members: tuple[str, ...]           # initial storage members
    plan: tuple[Step, ...]
    shards: int
    strategy: str
    vnodes: int
    broken: bool
    schedule: FaultSchedule = field(default_factory=FaultSchedule)

    @property
    def history(self) -> History:
        return self.world.history

    @property
    def storage_nodes(self) -> list[str]:
        return [n for n in self.world.nodes if n != CFG]

    def final_map(self) -> ShardMap:
        return self.world.storage[CFG]["map"]

    def expected_owners(self) -> tuple[str, ...]:
        """Where every shard must be once the whole plan has run (computed from the plan alone)."""
        opts = _options(self.vnodes) if self.strategy in ("ring", "bounded") else {}
        members = self.members
        for step in self.plan:
            members = plan_members(self.strategy, members, step, **opts)
        return assignment(self.strategy, members, self.shards, **opts)

    def finished(self) -> bool:
        st = self.world.storage[CFG]
        return st["step"] == len(self.plan) and not st["pending"]

    def holdings(self) -> dict[str, dict[str, Any]]:
        """Every key each storage node holds durably (owned or frozen shards), by node."""
        out: dict[str, dict[str, Any]] = {}
        for n in self.storage_nodes:
            held: dict[str, Any] = {}
            for st in self.world.storage[n].get("shards", {}).values():
                if st["state"] != GONE:
                    held.update(st["data"])
            out[n] = held
        return out

    @property
    def outcome(self) -> str:
        return "migrated" if self.finished() else "unfinished"

    def check(self) -> list[str]:
        """Violations found by :func:`distlib.check.sharding.check_sharding` (empty: all good)."""
        from distlib.check.sharding import check_sharding  # the checker sits a layer above
        return check_sharding(self)

    def summary(self) -> str:
        h = self.history
        done = [b for _, b in h.pairs() if b is not None]
        ok = sum(1 for b in done if b.type == "ok")
        moves = sum(1 for r in self.world.trace.records if r.kind == "send" and isinstance(r.msg, ShardData))
        plan = "; ".join(str(s) for s in self.plan) or "no rebalancing"
        broken = ", BROKEN" if self.broken else ""
        return (f"sharded-kv seed {self.seed} ({self.strategy}, {self.shards} shards{broken}): "
                f"{plan}; map v{self.final_map().version}, {self.outcome}; {ok}/{len(done)} ops ok; "
                f"{moves} ShardData sends; faults: {self.schedule.describe()}")


def _check_plan(plan: Sequence[Step | tuple], members: Sequence[str]) -> tuple[Step, ...]:
    out = []
    current = list(members)
    for item in plan:
        step = item if isinstance(item, Step) else Step(*item)
        if step.change not in CHANGES:
            raise ValueError(f"plan change must be one of {', '.join(CHANGES)} (got {step.change!r})")
        number("plan time", step.at, 0.0)
        if step.change == "join":
            if step.node in current or step.node == CFG:
                raise ValueError(f"plan node must not already be a member to join (got {step.node!r})")
            current.append(step.node)
        else:
            if step.node not in current:
                raise ValueError(f"plan node must be a member to leave ({', '.join(current)}); "
                                 f"got {step.node!r}")
            if len(current) == 1:
                raise ValueError(f"plan must not remove the last member ({step.node!r})")
            current.remove(step.node)
        out.append(step)
    return tuple(out)


def run_sharded(seed: int = 0, *, nodes: int = 3, plan: Sequence[Step | tuple] = (("join", "n4", 0.8),
                                                                                 ("leave", "n2", 1.8)),
                strategy: str = "ring", shards: int = 32, vnodes: int = 100, clients: int = 3, ops: int = 25,
                keys: int = 16, faults: FaultSchedule | str | None = None, loss: float = 0.0,
                duplicate: float = 0.0, latency: Any = (0.01, 0.03), until: float = 5.0,
                broken: bool = False) -> ShardedRun:
    """Run the sharded store: storage nodes ``n1..nN`` (+ joiners), config node ``cfg``, clients
    ``c1..cK`` doing random puts/gets on ``keys`` keys while the ``plan`` rebalances.

    ``faults``: None, a :class:`~distlib.sim.FaultSchedule` or its text ("crash n2 at 1 restart 2").
    """
    check_seed(seed)
    nodes = integer("nodes", nodes, 1, 26)
    shards = integer("shards", shards, 1, 4096)
    clients = integer("clients", clients, 1, 20)
    keys = integer("keys", keys, 1)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)} (got {strategy!r})")
    if strategy == "bounded":
        raise ValueError("strategy must not be 'bounded' for the store (its owners depend on the order "
                         "shards were placed); use ring, rendezvous, jump or modn")
    members = tuple(f"n{i}" for i in range(1, nodes + 1))
    steps = _check_plan(plan, members)
    everyone = list(members) + [s.node for s in steps if s.change == "join" and s.node not in members]
    schedule = as_schedule(faults, [CFG, *everyone])     # None, a FaultSchedule or its text form
    world = World(seed, latency=latency, loss=loss, duplicate=duplicate)
    cfg_cls, node_cls = (EagerConfigNode, EagerShardNode) if broken else (ConfigNode, ShardNode)
    world.add_node(CFG, cfg_cls, members=members, plan=steps, shards=shards, strategy=strategy, vnodes=vnodes)
    for n in dict.fromkeys(everyone):
        world.add_node(n, node_cls, members=members, shards=shards, strategy=strategy, vnodes=vnodes)
    key_names = [f"k{i}" for i in range(keys)]
    for i in range(1, clients + 1):
        world.process(shard_client(world, f"c{i}", shards=shards, keys=key_names, ops=ops))
    world.start()
    schedule.apply(world)
    world.run(until=until)
    return ShardedRun(seed, world, members, steps, shards, strategy, vnodes, broken, schedule)


def random_sharded(seed: int, *, broken: bool = False, strategy: str = "ring", faults: int = 3,
                   loss: float = 0.05, duplicate: float = 0.02) -> ShardedRun:
    """A randomized run for sweeps: crash (with restart) / partition / pause faults on every node,
    ``cfg`` included, all healed by t=2.5; some message loss and duplication."""
    names = [CFG, "n1", "n2", "n3", "n4"]
    schedule = FaultSchedule.random(seed, names, horizon=2.5, faults=faults)
    return run_sharded(seed, faults=schedule, loss=loss, duplicate=duplicate, strategy=strategy,
                       broken=broken)
