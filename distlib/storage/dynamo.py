"""A Dynamo-style replicated key-value store (DeCandia et al., "Dynamo", SOSP 2007) on distlib.sim.

* **Placement and N** (§4.2-§4.3): nodes sit on chapter 06's consistent-hashing ring
  (:class:`~distlib.partitioning.placement.Ring`); a key's *preference list* is
  ``ring.owners(key, N)``, and ``ring.owners(key, len(members))`` extends it for fallbacks.
* **Coordinator per request, R and W** (§4.5): a partition-aware client sends each get/put to
  a node of the key's preference list; that node coordinates. A put stores the new version on
  the N replicas and answers after W acks; a get asks the N replicas and answers after R replies.
* **Versions** (§4.4): in ``mode="vv"`` each put makes a dotted version (:mod:`.versions`); a
  replica keeps every version no other version has seen, so concurrent puts become
  **siblings** that a get returns together, with a context the client sends back when it writes
  the merged value. ``mode="lww"`` keeps one value per key: the highest ``(timestamp, node, seq)``
  where the timestamp is the coordinator's clock, ``now + skew[node]`` -- skewed clocks make an
  older write win over a newer one (a lost update, counted by the checker).
* **Sloppy quorum and hinted handoff** (§4.6): with ``sloppy=True``, when a replica has not
  answered within ``replica_timeout`` the coordinator sends its copy to the next node of the
  extended list with a *hint* naming the intended replica. The fallback keeps hinted versions
  apart, durably (``storage["hints"]``), and every ``handoff_interval`` offers them to their
  intended node; a hint is deleted only once that node acknowledged it. Fallbacks also answer
  reads for the keys they hold hints of (they are among the first N healthy nodes).
* **Read repair** (§5): replicas that answered a get with an outdated set are sent the merged
  set, which they merge with their own (never replace).
* **Anti-entropy** (§4.7): every ``ae_interval`` a node compares, with the next peer in turn,
  a Merkle tree (:mod:`.merkle`) over the keys both replicate, descending only where hashes
  differ, and the two exchange and merge the entries of the differing leaves.
* ``write_back=True`` makes a get write its answer back to W replicas before answering
  (ABD's second phase, chapter 01's :class:`~distlib.storage.register.CPReplica`): with strict
  quorums (R + W > N, no sloppy quorum) and LWW on synchronized clocks, the store is linearizable.

Broken variants (caught by :mod:`distlib.check.replication`): :class:`OverwritingRepairNode`
(read repair writes the coordinator's answer to every replica that replied, and replicas
*replace* their copy with it, wiping a newer write that landed meanwhile) and
:class:`ForgetfulHintsNode` (hints dropped on restart).

Everything a node needs after a crash (data, hints, dot counters) is in ``storage``.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from distlib.partitioning.placement import Ring
from distlib.sim import FaultSchedule, History, Node, World, as_schedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import flag, integer, names, node_times, number, one_of

from .merkle import MerkleTree, bucket_of
from .versions import Version, VersionVector, context_of, reconcile

MODES = ("vv", "lww")


# ---- values ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stamped:
    """An LWW value: the highest ``(ts, node, seq)`` wins; ``seq`` makes stamps unique per node."""

    ts: float
    node: str
    seq: int
    value: Any = None

    @property
    def stamp(self) -> tuple[float, str, int]:
        return (self.ts, self.node, self.seq)


Stored = tuple  # a key's durable copy: tuple[Version, ...] (vv, siblings) or (Stamped,) (lww)


def merge_stored(mode: str, a: Stored, b: Stored) -> Stored:
    """The merge of two copies of a key (commutative, associative, idempotent)."""
    if mode == "vv":
        return reconcile(a + b)
    both = a + b
    return (max(both, key=lambda s: s.stamp),) if both else ()


def values_of(stored: Stored) -> tuple[Any, ...]:
    return tuple(v.value for v in stored)


def digest(stored: Stored) -> bytes:
    """A digest of a key's copy for Merkle leaves (``repr`` of frozen values is deterministic)."""
    return blake2b(repr(stored).encode(), digest_size=16).digest()


# ---- messages --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Get:
    req_id: str
    key: str


@dataclass(frozen=True)
class Put:
    req_id: str
    key: str
    value: Any
    context: VersionVector = VersionVector()


@dataclass(frozen=True)
class GetOk:
    req_id: str
    values: tuple
    context: VersionVector
    versions: tuple = ()


@dataclass(frozen=True)
class PutOk:
    req_id: str
    version: Any            # the Version (vv) or Stamped (lww) the put created


@dataclass(frozen=True)
class Fail:
    req_id: str
    reason: str


@dataclass(frozen=True)
class Replicate:
    op: str
    key: str
    stored: Stored
    hint: str | None = None          # the intended replica, when sent to a fallback


@dataclass(frozen=True)
class ReplicateAck:
    op: str


@dataclass(frozen=True)
class Fetch:
    op: str
    key: str


@dataclass(frozen=True)
class FetchReply:
    op: str
    stored: Stored


@dataclass(frozen=True)
class Repair:
    key: str
    stored: Stored


@dataclass(frozen=True)
class Handoff:
    key: str
    stored: Stored


@dataclass(frozen=True)
class HandoffAck:
    key: str
    stored: Stored


@dataclass(frozen=True)
class TreeProbe:
    """Anti-entropy: "these are my hashes of these nodes of level ``level``"."""

    sid: str
    level: int
    indexes: tuple[int, ...]
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class TreeDiff:
    sid: str
    level: int
    differing: tuple[int, ...]


@dataclass(frozen=True)
class TreeEntries:
    sid: str
    buckets: tuple[int, ...]
    entries: tuple[tuple[str, Stored], ...]
    reply: bool                      # True: the answer to the other side's entries (ends the exchange)


# ---- the node --------------------------------------------------------------------------------------------
@dataclass
class _Op:
    kind: str                        # "put" | "get"
    client: str
    req_id: str
    key: str
    pref: list[str]
    ext: list[str]
    stored: Stored = ()              # put: what is replicated; get: the merged answer so far
    version: Any = None              # put: the version it created (reported to the client)
    acks: set[str] = field(default_factory=set)
    replies: dict[str, Stored] = field(default_factory=dict)
    assigned: dict[str, str] = field(default_factory=dict)    # intended replica -> node asked now
    used: set[str] = field(default_factory=set)
    phase: str = "wait"              # get: "wait" -> ("writeback") -> "done"; put: "wait" -> "done"


class DynamoNode(Node):
    """One storage node (and coordinator) of the store; see the module docstring."""

    def __init__(self, members: Sequence[str] = ("n1", "n2", "n3"), n: int = 3, r: int = 2, w: int = 2, *,
                 mode: str = "vv", sloppy: bool = True, read_repair: bool = True, write_back: bool = False,
                 skew: float = 0.0, vnodes: int = 16, replica_timeout: float = 0.1, op_timeout: float = 0.5,
                 handoff_interval: float | None = 0.25, ae_interval: float | None = 0.3, ae_depth: int = 3):
        self.members = names("members", list(members))
        self.n = integer("n", n, 1, len(self.members))
        self.r = integer("r", r, 1, self.n)
        self.w = integer("w", w, 1, self.n)
        self.mode = one_of("mode", mode, MODES)
        self.sloppy = flag("sloppy", sloppy)
        self.read_repair = flag("read_repair", read_repair)
        self.write_back = flag("write_back", write_back)
        self.skew = number("skew", skew, -math.inf)
        self.replica_timeout = number("replica_timeout", replica_timeout, above=True)
        self.op_timeout = number("op_timeout", op_timeout, above=True)
        self.handoff_interval = None if handoff_interval is None else number(
            "handoff_interval", handoff_interval, above=True)
        self.ae_interval = None if ae_interval is None else number("ae_interval", ae_interval, above=True)
        self.ae_depth = integer("ae_depth", ae_depth, 0, 16)
        self.ring = Ring(self.members, vnodes=vnodes)

    # ---- lifecycle ----
    def on_start(self) -> None:
        for k in ("data", "hints", "counters"):
            self.storage.setdefault(k, {})
        self.storage.setdefault("seq", 0)
        # Operation names must never repeat across restarts: a late ack or reply for a request the
        # crashed incarnation made would otherwise count toward a new request's quorum (the
        # 10,000-seed strict sweep found a read written back to one replica instead of W).
        self.storage["incarnation"] = self.storage.get("incarnation", 0) + 1
        self.ops: dict[str, _Op] = {}          # volatile: a crash forgets requests in flight
        self.op_seq = 0
        self.ae_turn = 0
        if self.handoff_interval is not None:
            self.set_timer("handoff", self.handoff_interval)
        if self.ae_interval is not None and self.id in self.members:
            # Staggered first rounds, so nodes do not all probe at the same instant.
            first = self.ae_interval * (1 + self.members.index(self.id) / len(self.members))
            self.set_timer("anti-entropy", first)

    def on_recover(self) -> None:
        self.on_start()

    # ---- local storage ----
    def preference(self, key: str) -> list[str]:
        return self.ring.owners(key, self.n)

    def extended(self, key: str) -> list[str]:
        return self.ring.owners(key, len(self.members))

    def local(self, key: str) -> Stored:
        return self.storage["data"].get(key, ())

    def store(self, key: str, stored: Stored, hint: str | None = None) -> None:
        if hint is not None and hint != self.id:
            hints = self.storage["hints"].setdefault(hint, {})
            hints[key] = merge_stored(self.mode, hints.get(key, ()), stored)
        else:
            self.storage["data"][key] = merge_stored(self.mode, self.local(key), stored)

    def readable(self, key: str) -> Stored:
        """What this node answers a Fetch with: its copy plus any hinted versions of the key."""
        out = self.local(key)
        for intended in sorted(self.storage["hints"]):
            out = merge_stored(self.mode, out, self.storage["hints"][intended].get(key, ()))
        return out

    def apply_repair(self, key: str, stored: Stored) -> None:
        self.store(key, stored)

    # ---- messages ----
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Put):
            self._begin_put(src, msg)
        elif isinstance(msg, Get):
            self._begin_get(src, msg)
        elif isinstance(msg, Replicate):
            self.store(msg.key, msg.stored, msg.hint)
            self.send(src, ReplicateAck(msg.op))
        elif isinstance(msg, ReplicateAck):
            self._on_ack(src, msg.op)
        elif isinstance(msg, Fetch):
            self.send(src, FetchReply(msg.op, self.readable(msg.key)))
        elif isinstance(msg, FetchReply):
            self._on_reply(src, msg.op, msg.stored)
        elif isinstance(msg, Repair):
            self.apply_repair(msg.key, msg.stored)
        elif isinstance(msg, Handoff):
            self.store(msg.key, msg.stored)
            self.send(src, HandoffAck(msg.key, msg.stored))
        elif isinstance(msg, HandoffAck):
            hints = self.storage["hints"].get(src, {})
            if hints.get(msg.key) == msg.stored:          # nothing new arrived meanwhile
                del hints[msg.key]
                if not hints:
                    del self.storage["hints"][src]
        elif isinstance(msg, (TreeProbe, TreeDiff, TreeEntries)):
            self._anti_entropy(src, msg)

    def _new_op(self, kind: str, client: str, req_id: str, key: str) -> _Op:
        self.op_seq += 1
        name = self._op_name()
        op = _Op(kind, client, req_id, key, self.preference(key), self.extended(key))
        self.ops[name] = op
        self.set_timer(name, self.op_timeout)
        if self.sloppy:
            self.set_timer(f"{name}/fallback", self.replica_timeout)
        return op

    def _op_name(self) -> str:
        return f"{self.id}/{self.storage['incarnation']}.{self.op_seq}"

    def _send_to(self, name: str, op: _Op, target: str, hint: str | None) -> None:
        op.used.add(target)
        if op.kind == "put" or op.phase == "writeback":
            if target == self.id:                        # a local step needs no message
                self.store(op.key, op.stored, hint)
                self._on_ack(self.id, name)
            else:
                self.send(target, Replicate(name, op.key, op.stored, hint))
        else:
            if target == self.id:
                self._on_reply(self.id, name, self.readable(op.key))
            else:
                self.send(target, Fetch(name, op.key))

    def _begin_put(self, client: str, msg: Put) -> None:
        key = msg.key
        if self.mode == "vv":
            counter = max(self.storage["counters"].get(key, 0), msg.context.get(self.id)) + 1
            self.storage["counters"][key] = counter          # durable before the dot is used
            stored: Stored = (Version((self.id, counter), msg.context, msg.value),)
        else:
            self.storage["seq"] += 1
            stored = (Stamped(round(self.now + self.skew, 9), self.id, self.storage["seq"], msg.value),)
        op = self._new_op("put", client, msg.req_id, key)
        op.version = stored[0]
        op.stored = stored
        if self.mode == "vv" and self.id in op.pref:
            # Replicate the coordinator's whole sibling set, not just the new version: then no replica
            # can hold the dot (A, k) without A's earlier dots (or versions that replaced them). A
            # replica holding only (A, k) would hand a reader the context {A: k}, and that reader's
            # next put would silently obsolete a concurrent (A, k-1) it never saw (found by the
            # 10,000-seed sweep: a duplicated Put made two concurrent dots at one coordinator).
            self.store(key, stored)
            op.stored = self.local(key)
        name = self._op_name()
        for target in op.pref:
            op.assigned[target] = target
            self._send_to(name, op, target, None)

    def _begin_get(self, client: str, msg: Get) -> None:
        op = self._new_op("get", client, msg.req_id, msg.key)
        name = self._op_name()
        for target in op.pref:
            op.assigned[target] = target
            self._send_to(name, op, target, None)

    def _counts(self, op: _Op, who: set[str] | dict) -> int:
        # Only answers from the node currently standing for an intended replica count, once each.
        return sum(1 for intended in op.pref if op.assigned.get(intended) in who or intended in who)

    def _on_ack(self, src: str, name: str) -> None:
        op = self.ops.get(name)
        if op is None:
            return
        op.acks.add(src)
        if self._counts(op, op.acks) < self.w:
            return
        if op.kind == "put" and op.phase == "wait":
            self.send(op.client, PutOk(op.req_id, op.version))
            self._finish(name, op)
        elif op.kind == "get" and op.phase == "writeback":
            self._answer_get(op)
            self._finish(name, op, keep=True)

    def _on_reply(self, src: str, name: str, stored: Stored) -> None:
        op = self.ops.get(name)
        if op is None or op.kind != "get" or op.phase == "writeback":
            # During the write-back the answer is fixed: it is what is being written to W replicas
            # (merging a late reply into it would answer a value only one replica holds).
            return
        op.replies[src] = stored
        op.stored = merge_stored(self.mode, op.stored, stored)
        if op.phase == "wait" and self._counts(op, op.replies) >= self.r:
            if self.write_back:
                op.phase, op.acks, op.used = "writeback", set(), set()
                op.assigned = {i: i for i in op.pref}
                for target in op.pref:
                    self._send_to(name, op, target, None)
                return
            self._answer_get(op)
            op.phase = "done"
            self.cancel_timer(f"{name}/fallback")
            for node in sorted(op.replies):
                self._maybe_repair(op, node)
        elif op.phase == "done":
            self._maybe_repair(op, src)                 # a late reply: repair it too

    def _answer_get(self, op: _Op) -> None:
        stored = op.stored
        ctx = context_of(stored) if self.mode == "vv" else VersionVector()
        self.send(op.client, GetOk(op.req_id, values_of(stored), ctx, stored))
        op.phase = "done"

    def _maybe_repair(self, op: _Op, node: str) -> None:
        if not self.read_repair or node not in op.pref:
            return
        theirs = op.replies[node]
        if merge_stored(self.mode, theirs, op.stored) != theirs:
            if node == self.id:
                self.apply_repair(op.key, op.stored)
            else:
                self.send(node, Repair(op.key, op.stored))

    def _finish(self, name: str, op: _Op, keep: bool = False) -> None:
        op.phase = "done"
        self.cancel_timer(f"{name}/fallback")
        if not keep:
            self.cancel_timer(name)
            del self.ops[name]

    # ---- timers ----
    def on_timer(self, name: str) -> None:
        if name == "handoff":
            self._handoff()
        elif name == "anti-entropy":
            self._start_anti_entropy()
        elif name.endswith("/fallback"):
            self._fallback(name[: -len("/fallback")])
        else:
            op = self.ops.pop(name, None)
            if op is not None and op.kind == "get" and op.phase != "done":
                self.send(op.client, Fail(op.req_id, "too few replicas answered"))
            # A put that timed out says nothing: some replicas may have stored it (client: info).

    def _fallback(self, name: str) -> None:
        """Sloppy quorum: stand in for every intended replica whose stand-in has not answered."""
        op = self.ops.get(name)
        if op is None or op.phase == "done":
            return
        answered = op.acks if (op.kind == "put" or op.phase == "writeback") else set(op.replies)
        spare = [n for n in op.ext[self.n:] if n not in op.used]
        for intended in op.pref:
            if op.assigned.get(intended) in answered or intended in answered or not spare:
                continue
            sub = spare.pop(0)
            op.assigned[intended] = sub
            self._send_to(name, op, sub, intended)
        self.set_timer(f"{name}/fallback", self.replica_timeout)

    def _handoff(self) -> None:
        for intended in sorted(self.storage["hints"]):
            for key in sorted(self.storage["hints"][intended]):
                self.send(intended, Handoff(key, self.storage["hints"][intended][key]))
        self.set_timer("handoff", self.handoff_interval)   # type: ignore[arg-type]

    # ---- anti-entropy ----
    def _shared(self, peer: str) -> dict[str, bytes]:
        return {k: digest(v) for k, v in self.storage["data"].items()
                if v and peer in (p := self.preference(k)) and self.id in p}

    def _start_anti_entropy(self) -> None:
        peers = [m for m in self.members if m != self.id]
        if peers:
            peer = peers[self.ae_turn % len(peers)]
            self.ae_turn += 1
            tree = MerkleTree(self._shared(peer), self.ae_depth)
            self.send(peer, TreeProbe(f"{self.id}>{peer}:{self.ae_turn}", 0, (0,), (tree.root,)))
        self.set_timer("anti-entropy", self.ae_interval)   # type: ignore[arg-type]

    def _entries(self, peer: str, buckets: Sequence[int]) -> tuple[tuple[str, Stored], ...]:
        wanted = set(buckets)
        shared = self._shared(peer)
        return tuple((k, self.storage["data"][k]) for k in sorted(shared)
                     if bucket_of(k, self.ae_depth) in wanted)

    def _anti_entropy(self, src: str, msg: Any) -> None:
        if self.id not in self.members:
            return
        if isinstance(msg, TreeProbe):
            tree = MerkleTree(self._shared(src), self.ae_depth)
            mine = tree.hashes(msg.level, list(msg.indexes))
            differing = tuple(i for i, a, b in zip(msg.indexes, msg.hashes, mine, strict=True) if a != b)
            if not differing:
                return
            if msg.level == self.ae_depth:
                self.send(src, TreeEntries(msg.sid, differing, self._entries(src, differing), False))
            else:
                self.send(src, TreeDiff(msg.sid, msg.level, differing))
        elif isinstance(msg, TreeDiff):
            tree = MerkleTree(self._shared(src), self.ae_depth)
            children = tuple(c for i in msg.differing for c in (2 * i, 2 * i + 1))
            self.send(src, TreeProbe(msg.sid, msg.level + 1, children,
                                     tuple(tree.hashes(msg.level + 1, list(children)))))
        elif isinstance(msg, TreeEntries):
            mine = self._entries(src, msg.buckets)
            for key, stored in msg.entries:
                self.store(key, stored)
            if not msg.reply:
                self.send(src, TreeEntries(msg.sid, msg.buckets, mine, True))


# ---- broken variants -------------------------------------------------------------------------------------
class OverwritingRepairNode(DynamoNode):
    """BROKEN: read repair sends the answer to every replica that replied, and a replica *replaces*
    its copy with the repair instead of merging -- a write that landed after the read's replies
    is wiped out."""

    def _maybe_repair(self, op: _Op, node: str) -> None:
        if not self.read_repair or node not in op.pref:
            return
        if node == self.id:
            self.apply_repair(op.key, op.stored)
        else:
            self.send(node, Repair(op.key, op.stored))

    def apply_repair(self, key: str, stored: Stored) -> None:
        self.storage["data"][key] = stored


class ForgetfulHintsNode(DynamoNode):
    """BROKEN: hinted versions are kept as if in memory only -- a restart loses every hint."""

    def on_recover(self) -> None:
        self.storage["hints"] = {}
        self.on_start()


VARIANTS: dict[str, type[DynamoNode]] = {"correct": DynamoNode, "overwriting-repair": OverwritingRepairNode,
                                         "forgetful-hints": ForgetfulHintsNode}


# ---- clients and runs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AckedWrite:
    """A put some client saw acknowledged, with the version it created."""

    key: str
    value: Any
    version: Any
    invoked: float
    done: float


@dataclass(frozen=True)
class Config:
    """A store configuration (checked at construction: R and W in 1..N, N <= cluster size)."""

    nodes: int = 5
    n: int = 3
    r: int = 2
    w: int = 2
    mode: str = "vv"
    sloppy: bool = True
    read_repair: bool = True
    write_back: bool = False
    skew: tuple[tuple[str, float], ...] = ()
    variant: str = "correct"

    def __post_init__(self) -> None:
        integer("nodes", self.nodes, 1, 26)
        integer("n", self.n, 1)
        if self.n > self.nodes:
            raise ValueError(f"n must be an integer in 1..{self.nodes} (the cluster size) (got {self.n!r})")
        integer("r", self.r, 1, self.n)
        integer("w", self.w, 1, self.n)
        one_of("mode", self.mode, MODES)
        for name in ("sloppy", "read_repair", "write_back"):
            flag(name, getattr(self, name))
        node_times("skew", dict(self.skew), member_names(self.nodes), lo=-60.0)
        one_of("variant", self.variant, tuple(VARIANTS))

    @property
    def strict(self) -> bool:
        """The configuration this course proves linearizable: R + W > N, no sloppy quorum, LWW on
        synchronized clocks, reads written back."""
        return (self.r + self.w > self.n and not self.sloppy and self.mode == "lww" and self.write_back
                and not any(s for _, s in self.skew))

    def describe(self) -> str:
        extra = [self.mode.upper(), "sloppy" if self.sloppy else "strict quorums"]
        if self.write_back:
            extra.append("read write-back")
        if not self.read_repair:
            extra.append("no read repair")
        if any(s for _, s in self.skew):
            extra.append("skew " + ", ".join(f"{n}{s:+g}" for n, s in self.skew if s))
        if self.variant != "correct":
            extra.append(f"BROKEN: {self.variant}")
        return f"N={self.n} R={self.r} W={self.w} on {self.nodes} nodes ({', '.join(extra)})"


def member_names(nodes: int) -> list[str]:
    return [f"n{i}" for i in range(1, nodes + 1)]


def dynamo_client(world: World, name: str, run: DynamoRun, *, keys: Sequence[str], ops: int,
                  write_ratio: float = 0.5, attempts: int = 2, attempt_timeout: float = 0.6,
                  think: tuple[float, float] = (0.02, 0.12),
                  until: float = math.inf) -> Generator[Any, Any, None]:
    """A partition-aware client: random gets/puts, each to a coordinator from the key's preference
    list (the next one on a timeout, up to ``attempts``). A put carries the context of the client's
    last get of the key; a get that returns siblings is followed by a put of a merged value with the
    siblings' context (Dynamo's reconciliation on the client, §4.4). Records the history; starts no
    operation at or after ``until``."""
    rng = stream(world.seed, f"dynamo/client/{name}")
    client = world.client(name)
    history, env = world.history, world.env
    contexts: dict[str, VersionVector] = {}
    ring = Ring(member_names(run.config.nodes), vnodes=run.vnodes)
    seq = 0
    for _ in range(ops):
        yield env.timeout(rng.uniform(*think))
        if env.now >= until:
            return
        key = rng.choice(list(keys))
        put = rng.random() < write_ratio
        merge_after = False
        for phase in ("op", "merge"):
            if phase == "merge" and not merge_after:
                break
            if phase == "merge":
                put = True
            seq += 1
            value = f"{name}.{seq}" if put else None
            inv = history.invoke(name, "write" if put else "read", key, value, env.now)
            start = env.now
            pref = ring.owners(key, run.config.n)
            first = rng.randrange(run.config.n)
            # Coordinators come from the preference list (Dynamo §4.5), starting at a random member
            # (load spread); sloppy quorums pick fallback *replicas*, never fallback coordinators: a
            # coordinator's dots must be anchored in its own copy (see DynamoNode._begin_put).
            coords = pref[first:] + pref[:first]
            reply = None
            for a in range(attempts):
                coord = coords[a % len(coords)]
                msg = (Put(f"{name}:{seq}.{a}", key, value, contexts.get(key, VersionVector())) if put
                       else Get(f"{name}:{seq}.{a}", key))
                reply = yield from client.call(coord, msg, timeout=attempt_timeout)
                if reply is not None:
                    break
            if reply is None:
                history.complete(inv, "info", value, env.now)
            elif isinstance(reply, Fail):
                history.complete(inv, "fail", reply.reason, env.now)
            elif isinstance(reply, PutOk):
                history.complete(inv, "ok", value, env.now)
                run.acked.append(AckedWrite(key, value, reply.version, start, env.now))
            else:
                contexts[key] = reply.context
                # LWW reads one value (a register read); VV reads the sibling values as a tuple.
                if run.config.mode == "lww":
                    out = reply.values[0] if reply.values else None
                else:
                    out = tuple(reply.values) if reply.values else None
                history.complete(inv, "ok", out, env.now)
                merge_after = run.config.mode == "vv" and len(reply.values) > 1


@dataclass
class DynamoRun:
    """What :func:`run_dynamo` returns: the world, the configuration and what the checker needs."""

    seed: int
    config: Config
    world: World
    schedule: FaultSchedule
    vnodes: int
    keys: tuple[str, ...]
    acked: list[AckedWrite] = field(default_factory=list)
    under_replicated: list[str] = field(default_factory=list)   # durability breaches seen at restarts

    @property
    def history(self) -> History:
        return self.world.history

    @property
    def members(self) -> list[str]:
        return member_names(self.config.nodes)

    def preference(self, key: str) -> list[str]:
        return Ring(self.members, vnodes=self.vnodes).owners(key, self.config.n)

    def copies(self, key: str) -> dict[str, Stored]:
        """Every node's durable copy of ``key`` (nodes without one are left out)."""
        return {n: self.world.storage[n]["data"][key] for n in self.members
                if key in self.world.storage[n].get("data", {})}

    def hints_left(self) -> int:
        return sum(len(h) for n in self.members for h in self.world.storage[n].get("hints", {}).values())

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "fail": 0, "info": 0}
        for _, done in self.history.pairs():
            out[done.type if done is not None else "info"] += 1
        return out

    @property
    def outcome(self) -> str:
        return "siblings" if any(len(c) > 1 for k in self.keys for c in self.copies(k).values()) else "single"

    def check(self) -> list[str]:
        """Violations found by :func:`distlib.check.replication.check_replication` (empty: none)."""
        from distlib.check.replication import check_replication  # the checker sits a layer above
        return check_replication(self)

    def summary(self) -> str:
        c = self.counts()
        total = sum(c.values())
        return (f"dynamo seed {self.seed}: {self.config.describe()}; {total} ops ({c['ok']} ok, "
                f"{c['fail']} fail, {c['info']} info), {len(self.acked)} acked writes, "
                f"{self.hints_left()} hints left; "
                f"faults: {self.schedule.describe()}")


def run_dynamo(seed: int = 0, config: Config | None = None, *, clients: int = 3, ops: int = 12, keys: int = 4,
               faults: FaultSchedule | str | None = None, loss: float = 0.0, duplicate: float = 0.0,
               latency: Any = (0.005, 0.02), write_ratio: float = 0.6, attempts: int = 2, vnodes: int = 16,
               settle: float = 2.5, horizon: float = 2.0, replica_timeout: float = 0.1,
               op_timeout: float = 0.5, handoff_interval: float = 0.25,
               ae_interval: float = 0.3) -> DynamoRun:
    """Run the store: nodes ``n1..nK``, clients ``c1..cC`` doing random gets/puts on ``keys`` keys
    until about ``horizon``; then ``settle`` more time units with no client traffic for hinted
    handoff and anti-entropy (faults must heal by ``horizon`` for the convergence check to apply).
    """
    seed = check_seed(seed)
    config = config or Config()
    if not isinstance(config, Config):
        raise ValueError(f"config must be a distlib.storage.dynamo.Config (got {config!r})")
    clients = integer("clients", clients, 1, 20)
    ops = integer("ops", ops, 0)
    keys = integer("keys", keys, 1)
    attempts = integer("attempts", attempts, 1)
    settle = number("settle", settle, 0.0)
    horizon = number("horizon", horizon, 0.0)
    members = member_names(config.nodes)
    schedule = as_schedule(faults, members)
    world = World(seed, latency=latency, loss=loss, duplicate=duplicate)
    skew = dict(config.skew)
    cls = VARIANTS[config.variant]
    for m in members:
        world.add_node(m, cls, members=members, n=config.n, r=config.r, w=config.w, mode=config.mode,
                       sloppy=config.sloppy, read_repair=config.read_repair, write_back=config.write_back,
                       skew=skew.get(m, 0.0), vnodes=vnodes, replica_timeout=replica_timeout,
                       op_timeout=op_timeout, handoff_interval=handoff_interval, ae_interval=ae_interval)
    key_names = tuple(f"k{i}" for i in range(keys))
    run = DynamoRun(seed, config, world, schedule, vnodes, key_names)
    per_op = max(horizon / max(ops, 1), 0.02)
    for i in range(1, clients + 1):
        world.process(dynamo_client(world, f"c{i}", run, keys=key_names, ops=ops, write_ratio=write_ratio,
                                    attempts=attempts, think=(per_op * 0.2, per_op * 0.8), until=horizon))
    world.add_monitor(_durability_monitor(run))
    world.start()
    schedule.apply(world)
    world.run(until=horizon + settle)
    return run


def holders(run: DynamoRun, write: AckedWrite) -> list[str]:
    """Nodes whose durable data or hints hold ``write`` (or a version that knowingly replaced it)."""
    from .versions import covers
    out = []
    for node in run.members:
        st = run.world.storage[node]
        copies = [st.get("data", {}).get(write.key, ())]
        copies += [h.get(write.key, ()) for h in st.get("hints", {}).values()]
        for c in copies:
            if (covers(c, write.version.dot) if run.config.mode == "vv"
                    else any(v.stamp >= write.version.stamp for v in c)):
                out.append(node)
                break
    return out


def _durability_monitor(run: DynamoRun) -> Any:
    """After each restart, every acknowledged write must still be held by W nodes: copies only ever
    grow (merges keep what they replace's successors cover; a hint goes only once its replica has it),
    so a restart that loses some breaks Dynamo's durability promise even if anti-entropy later hides it."""
    last: dict[str, str] = {}

    def monitor(world: World) -> None:
        restarted = [n for n, s in world.status.items() if s == "up" and last.get(n, "up") == "crashed"]
        last.update(world.status)
        if not restarted:
            return
        for w in run.acked:
            held = holders(run, w)
            if len(held) < run.config.w:
                run.under_replicated.append(
                    f"after {', '.join(restarted)} restarted at t={world.now:.3f}, acknowledged write "
                    f"{w.key}={w.value!r} is held by {len(held)} node(s) ({', '.join(held) or 'none'}), "
                    f"fewer than W={run.config.w}")
    return monitor


def random_dynamo(seed: int, config: Config | None = None, *, faults: int = 3, loss: float = 0.05,
                  duplicate: float = 0.02, kinds: Sequence[str] = ("crash", "partition", "pause"),
                  **kwargs: Any) -> DynamoRun:
    """A randomized run for sweeps: ``faults`` random faults (healed by t=1.6), loss and duplication;
    3.5 time units of settling (a put started just before ``horizon`` may retry for 1.2 more).

    A strict configuration's clients make one attempt per operation: a retried put is a second
    write of the same value, and when the first attempt's coordinator was only paused, its late
    copy (with a later timestamp) can resurface after newer writes -- not a register any more."""
    config = config or Config()
    if config.strict:
        kwargs.setdefault("attempts", 1)
    kwargs.setdefault("settle", 3.5)
    schedule = FaultSchedule.random(seed, member_names(config.nodes), horizon=1.6, faults=faults, kinds=kinds)
    return run_dynamo(seed, config, faults=schedule, loss=loss, duplicate=duplicate, **kwargs)


__all__ = ["AckedWrite", "Config", "DynamoNode", "DynamoRun", "Fail", "Fetch", "FetchReply",
           "ForgetfulHintsNode", "Get", "GetOk", "Handoff", "HandoffAck", "MODES", "OverwritingRepairNode",
           "Put", "PutOk", "Repair", "Replicate", "ReplicateAck", "Stamped", "TreeDiff", "TreeEntries",
           "TreeProbe", "VARIANTS", "digest", "dynamo_client", "member_names", "merge_stored",
           "random_dynamo",
           "run_dynamo", "values_of", "DEMO_CAUSES", "quorum_demo"]


# ---- why R + W > N alone is not linearizable -------------------------------------------------------------
DEMO_CAUSES = ("no-write-back", "sloppy-quorum")


def quorum_demo(cause: str = "no-write-back", *, write_back: bool = False, seed: int = 0) -> DynamoRun:
    """A scripted history on N=3, R=W=2 (R + W > N) that a register cannot explain.

    * ``"no-write-back"`` (3 nodes, strict quorums, LWW, read repair off): a put reaches only its
      coordinator A (a partition drops its copies, so it is never acknowledged); a get through B
      hears A first and returns the new value; a later get through C hears only B and C and returns
      the old one -- new, then old. ``write_back=True`` (ABD's second phase) makes the first get
      store its answer on W replicas before answering, and the anomaly is gone.
    * ``"sloppy-quorum"`` (5 nodes): with B and C cut off, the put is acknowledged by A and a
      fallback's hint; after the partition heals (hints not yet handed back) a get through B reads
      B and C and misses an acknowledged write -- even with ``write_back=True``: the quorums did
      not intersect.
    """
    one_of("cause", cause, DEMO_CAUSES)
    flag("write_back", write_back)
    sloppy = cause == "sloppy-quorum"
    config = Config(nodes=5 if sloppy else 3, mode="lww", sloppy=sloppy, read_repair=False,
                    write_back=write_back)
    members = member_names(config.nodes)
    world = World(seed, latency=0.01)
    for m in members:
        world.add_node(m, DynamoNode, members=members, n=3, r=2, w=2, mode="lww", sloppy=sloppy,
                       read_repair=False, write_back=write_back, vnodes=16, replica_timeout=0.05,
                       op_timeout=0.5, handoff_interval=5.0, ae_interval=None)
    run = DynamoRun(seed, config, world, FaultSchedule(), 16, ("x",))
    a, b, c = run.preference("x")
    for name in ("cw", "c1", "c2"):
        world.client(name)
    if sloppy:
        world.at(0.0, lambda: world.partition([m for m in members if m not in (b, c)], [b, c]))
        world.set_link(a, b, latency=0.3)     # B's get hears B and C first
    else:
        world.at(0.005, lambda: world.partition([a], [b, c]))   # A's copies are dropped at send
        world.set_link(c, b, latency=0.2)     # B hears A before C
        world.set_link(a, c, latency=0.3)     # C hears B before A
    world.at(0.15, world.heal)

    def op(client: str, at: float, dst: str, msg: Any, f: str, value: Any) -> Generator[Any, Any, None]:
        yield world.env.timeout(at)
        cl, history = world.clients[client], world.history
        inv = history.invoke(client, f, "x", value, world.now)
        start = world.now
        reply = yield from cl.call(dst, msg, timeout=1.0)
        if reply is None:
            history.complete(inv, "info", value, world.now)
        elif isinstance(reply, PutOk):
            history.complete(inv, "ok", value, world.now)
            run.acked.append(AckedWrite("x", value, reply.version, start, world.now))
        elif isinstance(reply, GetOk):
            history.complete(inv, "ok", reply.values[0] if reply.values else None, world.now)
        else:
            history.complete(inv, "fail", getattr(reply, "reason", None), world.now)

    world.process(op("cw", 0.0, a, Put("cw:1", "x", "new"), "write", "new"))
    if sloppy:
        world.process(op("c1", 0.3, b, Get("c1:1", "x"), "read", None))
    else:
        world.process(op("c1", 0.2, b, Get("c1:1", "x"), "read", None))
        world.process(op("c2", 0.3, c, Get("c2:1", "x"), "read", None))
    world.run(until=2.0)
    return run
