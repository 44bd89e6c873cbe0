"""A linearizable key-value store replicated with Raft (the paper's §8, "Client interaction").

* Commands ``get``, ``put``, ``append`` and ``cas`` are entries in the Raft log.
  By default **reads go through the log too** (``read_mode="log"``): a ``get`` is
  answered only once its entry is committed and applied, so it can never read a value
  a newer leader has already overwritten. It costs a log entry and its replication.
* ``read_mode="read_index"`` answers a ``get`` without a log entry, by the ReadIndex
  protocol of Ongaro's thesis §6.4 (one heartbeat round to a majority per batch of
  reads); ``read_mode="lease"`` (§6.4.1) answers from the leader's state while its
  lease holds (no message at all), falling back to ReadIndex when it has lapsed. Leases
  rely on clocks (``clock_rate`` per server, ``drift_bound``) and on leader stickiness,
  so ``lease`` turns ``check_quorum`` on.
* ``read_mode="local"`` is BROKEN: the leader answers from its local state at once.
  A leader cut off in a minority does not know it has been replaced and serves stale
  values (:func:`stale_read` shows it; the linearizability checker catches it).
* Clients send :class:`ClientRequest` to any server; a non-leader replies with
  ``error="not leader"`` and a ``leader_hint`` (§8: "redirect").
* Each request carries ``(client, seq)``. The state machine keeps, per client, the
  last sequence number applied and its result (§8: "the state machine tracks the
  latest serial number processed for each client, along with the associated
  response"). A retried command that was already applied is answered from that
  table instead of being executed again — exactly-once semantics. The table is
  part of the state, hence of every snapshot.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from distlib.sim import World
from distlib.sim.validate import integer, number
from distlib.sim.validate import names as name_list

from .raft import LEADER, Entry, RaftNode

OPS = ("get", "put", "append", "cas")
# History names of the operations (the linearizability checker's Jepsen conventions).
HISTORY_F = {"get": "read", "put": "write", "append": "append", "cas": "cas"}


@dataclass(frozen=True)
class KVCommand:
    """A client command as stored in the log. ``cas`` takes ``value=(expected, new)``."""

    client: str
    seq: int
    op: str
    key: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"op must be one of {OPS} (got {self.op!r})")

    def __repr__(self) -> str:
        val = "" if self.op == "get" else f" {self.value!r}"
        return f"{self.client}#{self.seq} {self.op} {self.key}{val}"


@dataclass(frozen=True)
class ClientRequest:
    req_id: str
    command: KVCommand

    def __repr__(self) -> str:
        return f"Request({self.command!r})"


@dataclass(frozen=True)
class ClientReply:
    req_id: str
    ok: bool
    result: Any = None
    leader_hint: str | None = None
    error: str | None = None

    def __repr__(self) -> str:
        if self.ok:
            return f"Reply(ok, {self.result!r})"
        return f"Reply({self.error}, leader={self.leader_hint})"


class KVStore:
    """The replicated state machine: the data plus the client session table (§8)."""

    dedup = True

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sessions: dict[str, tuple[int, Any]] = {}   # client -> (last seq applied, its result)

    def apply(self, cmd: KVCommand) -> Any:
        if self.dedup and cmd.client in self.sessions:
            last_seq, last_result = self.sessions[cmd.client]
            if cmd.seq <= last_seq:
                # §8: already executed -> respond without executing it again. (An older seq is a stale
                # duplicate; its client has moved on and ignores the answer.)
                return last_result if cmd.seq == last_seq else None
        result = self._execute(cmd)
        self.sessions[cmd.client] = (cmd.seq, result)
        return result

    def _execute(self, cmd: KVCommand) -> Any:
        if cmd.op == "get":
            return self.data.get(cmd.key)
        if cmd.op == "put":
            self.data[cmd.key] = cmd.value
            return None
        if cmd.op == "append":
            self.data[cmd.key] = (self.data.get(cmd.key) or "") + cmd.value
            return None
        expected, new = cmd.value          # cas
        if self.data.get(cmd.key) == expected:
            self.data[cmd.key] = new
            return True
        return False

    def snapshot(self) -> Any:
        # Sorted tuples: immutable (shared by messages) and independent of insertion order.
        return (tuple(sorted(self.data.items())), tuple(sorted(self.sessions.items())))

    def restore(self, data: Any) -> None:
        items, sessions = data
        self.data = dict(items)
        self.sessions = dict(sessions)


class NoDedupKVStore(KVStore):
    """BROKEN: executes every retried command again (no session table check)."""

    dedup = False


READ_MODES = ("log", "read_index", "lease", "local")


class KVNode(RaftNode):
    """A Raft server whose state machine is a :class:`KVStore` and that answers clients (§8).

    ``read_mode`` — how a ``get`` is answered: "log" (default), "read_index", "lease", or the
    broken "local" (see the module docstring).
    """

    def __init__(self, *, read_mode: str = "log", **config: Any):
        if read_mode not in READ_MODES:
            raise ValueError(f"read_mode must be one of {READ_MODES} (got {read_mode!r})")
        self.read_mode = read_mode
        config.setdefault("state_machine", KVStore)
        if read_mode == "lease":
            config["check_quorum"] = True     # a lease is sound only if followers' votes are sticky
        super().__init__(**config)

    def on_start(self) -> None:
        super().on_start()
        self.pending: dict[int, tuple[str, str, KVCommand]] = {}   # log index -> (client, req_id, cmd)
        self.reads_served = 0

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, ClientRequest):
            self._on_client_request(src, msg)
        else:
            super().on_message(src, msg)

    def _on_client_request(self, src: str, msg: ClientRequest) -> None:
        if self.role != LEADER:
            # §8: a follower rejects the request and supplies the most recent leader it has heard from.
            self.send(src, ClientReply(msg.req_id, False, leader_hint=self.leader_hint, error="not leader"))
            return
        cmd = msg.command
        if cmd.op == "get" and self.read_mode != "log":
            if self.read_mode == "local":
                # BROKEN: "I am the leader, so my state is the latest" — not after a partition.
                self._answer_read((src, msg.req_id, cmd))
            else:
                self.read((src, msg.req_id, cmd), lease=self.read_mode == "lease")
            return
        # Register before proposing: a one-server cluster commits and applies inside propose().
        self.pending[self.last_index + 1] = (src, msg.req_id, cmd)
        self.propose(cmd)

    def _answer_read(self, token: tuple[str, str, KVCommand]) -> None:
        src, req_id, cmd = token
        self.reads_served += 1
        self.send(src, ClientReply(req_id, True, result=self.sm.data.get(cmd.key)))

    def on_read_ready(self, token: Any) -> None:
        self._answer_read(token)

    def on_read_failed(self, token: Any) -> None:
        src, req_id, _ = token
        self.send(src, ClientReply(req_id, False, leader_hint=self.leader_hint, error="retry"))

    def on_apply(self, index: int, entry: Entry, result: Any) -> None:
        waiting = self.pending.pop(index, None)
        if waiting is None:
            return
        src, req_id, cmd = waiting
        if entry.command == cmd:
            self.send(src, ClientReply(req_id, True, result=result))
        else:
            # Another leader's entry took this slot: ours was lost; the client must retry.
            self.send(src, ClientReply(req_id, False, leader_hint=self.leader_hint, error="retry"))

    def on_lost_leadership(self) -> None:
        # The entries may still commit under the next leader; clients time out and retry, and the
        # session table makes the retry harmless.
        self.pending.clear()


class NoDedupKVNode(KVNode):
    """BROKEN: a KV server without duplicate detection (a retried command applies twice)."""

    def __init__(self, **config: Any):
        config.setdefault("state_machine", NoDedupKVStore)
        super().__init__(**config)


def kv_client(world: World, name: str, servers: Sequence[str], *, ops: int = 20,
              keys: Sequence[str] = ("x", "y"), attempt_timeout: float = 0.25, give_up: float = 1.5,
              think: float = 0.02, rng: random.Random | None = None,
              mix: Sequence[str] = OPS) -> Generator[Any, Any, None]:
    """A SimPy process: ``ops`` random operations, each retried (same seq) until answered.

    Every operation is one history entry: ``ok`` with its result, or ``info`` if no
    server answered within ``give_up`` seconds (it may still take effect later).
    Append values are unique tokens (``"c1.3;"``) so duplicates are visible. Each operation is
    drawn from ``mix`` (repeat an op to make it likelier, e.g. ``("get", "get", "put")``).
    Arguments are checked at the call, not when the world first runs the process.
    """
    if not isinstance(world, World):
        raise ValueError(f"world must be a distlib.sim.World (got {world!r})")
    if not isinstance(name, str) or not name or name in world.nodes:
        raise ValueError(f"name must be a client name not used by a node (got {name!r})")
    servers = list(name_list("servers", servers, tuple(world.nodes)))
    integer("ops", ops, 0)
    if not isinstance(keys, (list, tuple)) or not keys:
        raise ValueError(f"keys must be a non-empty list of keys (got {keys!r})")
    keys = list(keys)
    attempt_timeout = number("attempt_timeout", attempt_timeout, above=True)
    give_up = number("give_up", give_up, above=True)
    think = number("think", think)
    if rng is not None and not isinstance(rng, random.Random):
        raise ValueError(f"rng must be a random.Random or None (got {rng!r})")
    if not isinstance(mix, (list, tuple)) or not mix or any(m not in OPS for m in mix):
        raise ValueError(f"mix must be a non-empty list drawn from {OPS} (got {mix!r})")
    return _kv_client(world, name, servers, ops, keys, attempt_timeout, give_up, think, rng, tuple(mix))


def _kv_client(world: World, name: str, servers: list[str], ops: int, keys: list[str],
               attempt_timeout: float, give_up: float, think: float,
               rng: random.Random | None, mix: tuple[str, ...] = OPS) -> Generator[Any, Any, None]:
    from distlib.sim import stream
    rng = rng or stream(world.seed, f"client/{name}")
    client = world.client(name)
    history = world.history
    env = world.env
    target = servers[rng.randrange(len(servers))]
    for seq in range(1, ops + 1):
        op = rng.choice(mix)
        key = rng.choice(keys)
        token = f"{name}.{seq};"
        value: Any = None
        if op in ("put", "append"):
            value = token
        elif op == "cas":
            value = (None if rng.random() < 0.3 else f"{rng.choice(['c1', 'c2', 'c3'])}.{seq - 1};", token)
        cmd = KVCommand(name, seq, op, key, value)
        inv = history.invoke(name, HISTORY_F[op], key, value, env.now)
        deadline = env.now + give_up
        attempt = 0
        done = False
        while env.now < deadline:
            attempt += 1
            reply = yield from client.call(target, ClientRequest(f"{name}:{seq}.{attempt}", cmd),
                                           timeout=min(attempt_timeout, max(deadline - env.now, 1e-6)))
            if reply is not None and reply.ok:
                out = reply.result if op in ("get", "cas") else value
                history.complete(inv, "ok", out, env.now)
                done = True
                break
            if reply is not None and reply.leader_hint and reply.leader_hint != target:
                target = reply.leader_hint          # §8: follow the redirect
            else:
                target = servers[(servers.index(target) + 1) % len(servers)]
                yield env.timeout(0.02)             # nobody knows a leader yet: back off a little
        if not done:
            history.complete(inv, "info", None, env.now)
        yield env.timeout(think)


# ---- reads: the scripted stale read and the cost of each method ------------------------------------
def _op(world: World, name: str, servers: list[str], target: str, cmd: KVCommand, *,
        attempt_timeout: float = 0.2, give_up: float = 1.5) -> Generator[Any, Any, Any]:
    """One client operation with retries and redirects, recorded in the history; returns its result."""
    client = world.client(name)
    env = world.env
    inv = world.history.invoke(name, HISTORY_F[cmd.op], cmd.key, cmd.value, env.now)
    deadline = env.now + give_up
    attempt = 0
    while env.now < deadline:
        attempt += 1
        reply = yield from client.call(target, ClientRequest(f"{name}:{cmd.seq}.{attempt}", cmd),
                                       timeout=min(attempt_timeout, max(deadline - env.now, 1e-6)))
        if reply is not None and reply.ok:
            result = reply.result if cmd.op in ("get", "cas") else cmd.value
            world.history.complete(inv, "ok", result, env.now)
            return result
        if reply is not None and reply.leader_hint and reply.leader_hint != target:
            target = reply.leader_hint
        else:
            target = servers[(servers.index(target) + 1) % len(servers)]
            yield env.timeout(0.02)
    world.history.complete(inv, "info", None, env.now)
    return None


def stale_read(read_mode: str = "local", *, seed: int = 0, until: float = 3.0, cls: type[KVNode] = KVNode,
               monitors: Sequence[Any] = (), **config: Any) -> Any:
    """A leader is cut off alone; the majority elects another and takes a write; then a read reaches
    the old leader. ``local`` answers from the old leader's state — the value before the write, after
    the write was acknowledged: not linearizable. ReadIndex cannot confirm its leadership and a lease
    has lapsed, so the old leader never answers and the client's retry reaches the new leader.

    c1 puts x="a" (0.5 s); the leader is cut off alone (1.0 s); c2 puts x="b" at the new leader
    (1.6 s); c3 reads x at the old leader (2.0 s); healed at 2.6 s. Returns a ``RaftRun`` whose
    ``stats`` holds ``read`` (what c3 got) and ``old``/``new`` leaders; check ``world.history``.
    ``cls`` (a :class:`KVNode` subclass) lets an exercise check plug a learner's read rule in.
    """
    from distlib.consensus.raft import RaftRun, _current_leader, make_cluster
    world = make_cluster(5, seed=seed, cls=cls, monitors=monitors, read_mode=read_mode, **config)
    names = sorted(world.nodes)
    state: dict[str, Any] = {}

    def script() -> Generator[Any, Any, None]:
        yield world.env.timeout(0.5)
        first = _current_leader(world) or names[0]
        yield from _op(world, "c1", names, first, KVCommand("c1", 1, "put", "x", "a"))
        yield world.env.timeout(max(1.0 - world.env.now, 0))
        state["old"] = old = _current_leader(world)
        world.partition([old])
        yield world.env.timeout(0.6)
        state["new"] = new = _current_leader(world)
        yield from _op(world, "c2", names, new or names[0], KVCommand("c2", 1, "put", "x", "b"))
        yield world.env.timeout(max(2.0 - world.env.now, 0))
        state["read"] = yield from _op(world, "c3", names, old, KVCommand("c3", 1, "get", "x"))

    world.process(script())
    world.at(2.6, world.heal)
    world.run(until=until)
    run = RaftRun(f"stale_read({read_mode})", world)
    run.stats = {"old": state.get("old"), "new": state.get("new"), "read": state.get("read")}
    run.notes.append(f"old leader {state.get('old')} cut off at 1 s, {state.get('new')} leads the majority; "
                     f"c3's read of x (put 'a', then 'b') returned {state.get('read')!r} [{read_mode}]")
    return run


def read_cost(read_mode: str, *, seed: int = 0, n: int = 3, reads: int = 50, clients: int = 1,
              **config: Any) -> dict[str, float]:
    """Messages between servers per ``get`` on a healthy cluster.

    After a leader is elected (1 s), ``clients`` clients each send ``reads`` gets, one after another,
    to the leader. ``per_read``: server-to-server messages in that window per read; the same window
    on an identical cluster with no reads gives ``idle`` (heartbeats only) and ``extra_per_read``,
    the messages beyond them (log reads come out low there because their AppendEntries stand in for
    heartbeats).
    """
    from distlib.consensus.raft import _current_leader, make_cluster
    from distlib.sim import Send
    if read_mode not in READ_MODES:
        raise ValueError(f"read_mode must be one of {READ_MODES} (got {read_mode!r})")
    integer("reads", reads, 1)
    integer("clients", clients, 1)

    def window(with_reads: bool, end: float | None) -> tuple[int, float]:
        world = make_cluster(n, seed=seed, cls=KVNode, read_mode=read_mode, **config)
        world.run(until=1.0)
        leader = _current_leader(world)
        done: list[float] = []

        def reader(name: str) -> Generator[Any, Any, None]:
            client = world.client(name)
            for k in range(1, reads + 1):
                cmd = KVCommand(name, k, "get", "x")
                reply = yield from client.call(leader, ClientRequest(f"{name}:{k}", cmd), timeout=1.0)
                if reply is None or not reply.ok:
                    raise RuntimeError(f"read {k} of {name} failed on a healthy cluster: {reply!r}")
            done.append(world.now)

        if with_reads:
            for c in range(1, clients + 1):
                world.process(reader(f"c{c}"))
            world.run(until=60.0)
            end = max(done)
        else:
            world.run(until=end)
        count = sum(1 for r in world.trace.of(Send)
                    if 1.0 <= r.time <= end and r.src in world.nodes and r.dst in world.nodes)
        return count, end

    busy, end = window(True, None)
    idle, _ = window(False, end)
    total = reads * clients
    return {"messages": busy, "idle": idle, "reads": total, "seconds": end - 1.0,
            "per_read": busy / total, "extra_per_read": (busy - idle) / total}
