"""A linearizable key-value store replicated with Raft (the paper's §8, "Client interaction").

* Commands ``get``, ``put``, ``append`` and ``cas`` are entries in the Raft log.
  **Reads go through the log too** (no ReadIndex, no leases): a ``get`` is answered
  only once its entry is committed and applied, so it can never read a value a
  newer leader has already overwritten.
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


class KVNode(RaftNode):
    """A Raft server whose state machine is a :class:`KVStore` and that answers clients (§8)."""

    def __init__(self, **config: Any):
        config.setdefault("state_machine", KVStore)
        super().__init__(**config)

    def on_start(self) -> None:
        super().on_start()
        self.pending: dict[int, tuple[str, str, KVCommand]] = {}   # log index -> (client, req_id, cmd)

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
        # Register before proposing: a one-server cluster commits and applies inside propose().
        self.pending[self.last_index + 1] = (src, msg.req_id, msg.command)
        self.propose(msg.command)

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
              think: float = 0.02, rng: random.Random | None = None) -> Generator[Any, Any, None]:
    """A SimPy process: ``ops`` random operations, each retried (same seq) until answered.

    Every operation is one history entry: ``ok`` with its result, or ``info`` if no
    server answered within ``give_up`` seconds (it may still take effect later).
    Append values are unique tokens (``"c1.3;"``) so duplicates are visible.
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
    return _kv_client(world, name, servers, ops, keys, attempt_timeout, give_up, think, rng)


def _kv_client(world: World, name: str, servers: list[str], ops: int, keys: list[str],
               attempt_timeout: float, give_up: float, think: float,
               rng: random.Random | None) -> Generator[Any, Any, None]:
    from distlib.sim import stream
    rng = rng or stream(world.seed, f"client/{name}")
    client = world.client(name)
    history = world.history
    env = world.env
    target = servers[rng.randrange(len(servers))]
    for seq in range(1, ops + 1):
        op = rng.choice(OPS)
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
