"""A replicated read/write register in two flavours: CP (ABD quorums) and AP (local + gossip).

Both run on replicas ``n1``..``nN``; each client talks to one *home* replica (think: the
replica in its own data centre), so a client on the minority side of a partition can reach only
minority replicas — the setting of Gilbert & Lynch's proof of CAP (2002).

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

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.check.linearizability import LinResult, check_linearizability, operations_from_history
from distlib.check.models import UNKNOWN, Model, Register
from distlib.sim import FaultSchedule, History, Node, Op, World
from distlib.sim import partition as make_partition
from distlib.sim.faults import PartitionFault
from distlib.sim.rng import check_seed, stream

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
        self.op_timeout = op_timeout

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
        self.gossip_interval = gossip_interval

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


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}] (got {value!r})")
    return value


def _check_float(name: str, value: object, lo: float, hi: float = float("inf"), *,
                 open_lo: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (lo < value if open_lo else lo <= value) and value <= hi  # type: ignore[operator]
    if not ok:
        bound = f"> {lo:g}" if open_lo else f">= {lo:g}"
        top = "" if hi == float("inf") else f" and <= {hi:g}"
        raise ValueError(f"{name} must be a number {bound}{top} (got {value!r})")
    return float(value)  # type: ignore[arg-type]


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
                 faults: FaultSchedule | None = None, until: float = 5.0,
                 latency: Any = (0.01, 0.03), think: tuple[float, float] = (0.05, 0.25),
                 write_ratio: float = 0.5, timeout: float = 0.5, op_timeout: float = 0.3,
                 gossip_interval: float = 0.5, settle: float = 1.0) -> RegisterRun:
    """Run a random read/write workload on a replicated register and record its history.

    ``mode``: "cp" (ABD majority quorums) or "ap" (local answers + gossip, last writer wins).
    Replicas are ``n1``..``nN``; client ``ck`` talks only to replica ``n((k-1) mod N + 1)``.
    ``partition``: replicas to cut off from the rest from ``partition_at`` until ``heal_at``
    (e.g. ``"n1"`` or ``["n1"]``), or a :class:`~distlib.sim.PartitionFault`; ``faults``: any
    further schedule. Clients issue operations until ``until``; the world then runs ``settle``
    more time units with no new operations so that gossip can reconcile the replicas.
    Each write writes a fresh value (1, 2, 3, ...), so a read names the write it saw.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    seed = check_seed(seed)
    replicas = _check_int("replicas", replicas, 1, 9)
    clients = _check_int("clients", clients, 1, 9)
    until = _check_float("until", until, 0.0, open_lo=True)
    partition_at = _check_float("partition_at", partition_at, 0.0)
    if heal_at is not None:
        heal_at = _check_float("heal_at", heal_at, partition_at)
    if (not isinstance(think, (tuple, list)) or len(think) != 2
            or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in think)
            or not 0 < think[0] <= think[1]):
        raise ValueError(f"think must be a pair (low, high) with 0 < low <= high (got {think!r})")
    write_ratio = _check_float("write_ratio", write_ratio, 0.0, 1.0)
    timeout = _check_float("timeout", timeout, 0.0, open_lo=True)
    op_timeout = _check_float("op_timeout", op_timeout, 0.0, open_lo=True)
    gossip_interval = _check_float("gossip_interval", gossip_interval, 0.0, open_lo=True)
    settle = _check_float("settle", settle, 0.0)
    if faults is not None and not isinstance(faults, FaultSchedule):
        raise ValueError(f"faults must be a FaultSchedule or None (got {type(faults).__name__})")

    world = World(seed, latency=latency)
    nodes = replica_names(replicas)
    if mode == "cp":
        world.add_nodes(CPReplica, nodes, op_timeout=op_timeout)
    else:
        world.add_nodes(APReplica, nodes, gossip_interval=gossip_interval)
    part = _partition_fault(partition, nodes, partition_at, heal_at)
    schedule = FaultSchedule(([part] if part is not None else []) + list(faults or ()))
    names = [f"c{k}" for k in range(1, clients + 1)]
    homes = {c: nodes[k % replicas] for k, c in enumerate(names)}
    for c in names:
        world.client(c)
    schedule.apply(world)

    counter = iter(range(1, 1_000_000))   # fresh write values, shared by all clients

    def workload(name: str):
        client = world.clients[name]
        rng = stream(seed, f"register/workload/{name}")
        while True:
            yield world.env.timeout(rng.uniform(*think))
            if world.now >= until:
                return
            if rng.random() < write_ratio:
                v = next(counter)
                yield from client.request(homes[name], Write(client.next_id(), v), f="write", value=v,
                                          timeout=timeout, interpret=_interpret)
            else:
                yield from client.request(homes[name], Read(client.next_id()), f="read",
                                          timeout=timeout, interpret=_interpret)

    for c in names:
        world.process(workload(c))
    world.run(until=until + max(timeout, settle))
    return RegisterRun(mode, seed, world, schedule, homes)


# ---- weaker consistency models (exact, by enumeration: for tiny histories) ----------------------
LEVELS = ("linearizable", "sequential", "causal", "eventual", "none")


def _program(history: Iterable[Op]) -> dict[str, list[Any]]:
    """Each process's completed ok/info operations in program order (fail ops never happened)."""
    out: dict[str, list[Any]] = {}
    for op in operations_from_history(list(history)):
        if op.status != "fail":
            out.setdefault(op.process, []).append(op)
    return {p: out[p] for p in sorted(out)}


def sequentially_consistent(history: Iterable[Op], model: Model | None = None) -> bool:
    """Lamport (1979): is there ONE order of all operations, keeping each process's program order
    (but ignoring real time across processes), that the sequential model accepts?

    Timed-out (``info``) operations may be placed or left out.
    """
    model = model if model is not None else Register(None)
    prog = _program(history)
    lanes = list(prog.values())
    seen: set[tuple[tuple[int, ...], Hashable]] = set()

    def search(pos: tuple[int, ...], state: Hashable) -> bool:
        if all(p == len(lane) for p, lane in zip(pos, lanes, strict=True)):
            return True
        if (pos, state) in seen:
            return False
        seen.add((pos, state))
        for i, lane in enumerate(lanes):
            if pos[i] == len(lane):
                continue
            op = lane[pos[i]]
            nxt = pos[:i] + (pos[i] + 1,) + pos[i + 1:]
            ok, new = model.step(state, op.model_op)
            if ok and search(nxt, new):
                return True
            if op.status == "info" and search(nxt, state):   # it may never have happened
                return True
        return False

    return search(tuple(0 for _ in lanes), model.init())


def causally_consistent(history: Iterable[Op], initial: Any = None) -> bool:
    """Causal memory (Ahamad et al., 1995) for a register whose writes write distinct values.

    Causal order = each process's program order plus "a read returning v comes after the write
    of v", closed transitively. The history is causal if it is acyclic and every process can
    explain what IT saw: some order of all writes plus its own reads that extends causal order
    and in which each read returns the latest preceding write (or ``initial``).
    """
    prog = _program(history)
    ops = [op for lane in prog.values() for op in lane]
    n = len(ops)
    writes = [i for i, o in enumerate(ops) if o.f == "write"]
    by_value: dict[Hashable, int] = {}
    for i in writes:
        if ops[i].input in by_value:
            raise ValueError("history: causally_consistent needs each write to write a distinct value "
                             f"({ops[i].input!r} is written twice)")
        by_value[ops[i].input] = i
    before = [set() for _ in range(n)]          # before[j]: ops causally before j (direct)
    k = 0
    for lane in prog.values():
        for j in range(1, len(lane)):
            before[k + j].add(k + j - 1)
        k += len(lane)
    for j, o in enumerate(ops):
        if o.f == "read" and o.status == "ok" and o.output != initial:
            if o.output not in by_value:
                return False                    # a value nobody wrote: not even eventual
            before[j].add(by_value[o.output])
    # transitive closure (tiny n) and a cycle check
    closure = [set(b) for b in before]
    changed = True
    while changed:
        changed = False
        for j in range(n):
            extra = set().union(*(closure[i] for i in closure[j])) - closure[j] if closure[j] else set()
            if extra:
                closure[j] |= extra
                changed = True
    if any(j in closure[j] for j in range(n)):
        return False
    for lane_ops in prog.values():
        mine = [ops.index(o) for o in lane_ops if o.f == "read"]
        subset = sorted(set(writes) | set(mine))
        if not _serializable(ops, subset, closure, initial):
            return False
    return True


def _serializable(ops: list[Any], subset: list[int], closure: list[set[int]], initial: Any) -> bool:
    """Is there an order of ``subset`` extending causal order where each ok read sees the last write?"""
    members = set(subset)
    seen: set[tuple[frozenset[int], Hashable]] = set()

    def search(placed: frozenset[int], value: Hashable) -> bool:
        if len(placed) == len(members):
            return True
        if (placed, value) in seen:
            return False
        seen.add((placed, value))
        for i in subset:
            if i in placed or not (closure[i] & members) <= placed:
                continue
            o = ops[i]
            if o.f == "write":
                if search(placed | {i}, o.input):
                    return True
            elif o.output is UNKNOWN or o.status != "ok" or o.output == value:
                if search(placed | {i}, value):
                    return True
        return False

    return search(frozenset(), initial)


def consistency_level(history: Iterable[Op], initial: Any = None) -> str:
    """The strongest of :data:`LEVELS` the register history satisfies.

    "eventual" means only that every read returned a value someone wrote (or ``initial``): a
    finite history cannot violate eventual consistency otherwise, since that promise is about
    the replicas converging *later*. "none" means a read returned a value nobody wrote.
    """
    hist = list(history)
    if check_linearizability(hist, Register(initial)).ok:
        return "linearizable"
    if sequentially_consistent(hist, Register(initial)):
        return "sequential"
    written = {o.value for o in hist if o.f == "write" and o.type == "invoke"}
    reads_ok = all(o.value in written or o.value == initial
                   for o in hist if o.f == "read" and o.type == "ok")
    if not reads_ok:
        return "none"
    if causally_consistent(hist, initial):
        return "causal"
    return "eventual"


def history_from_rows(rows: Sequence[tuple[str, str, Any, float, float]]) -> History:
    """Build a history from ``(process, f, value, start, end)`` rows (all ``ok``), e.g.
    ``("c1", "write", 1, 0.0, 1.0)`` or ``("c2", "read", 1, 1.5, 2.0)``; handy for small examples."""
    events: list[tuple[float, int, Op]] = []
    for row in rows:
        if not (isinstance(row, (tuple, list)) and len(row) == 5):
            raise ValueError(f"rows must be (process, f, value, start, end) tuples (got {row!r})")
        p, f, v, a, b = row
        if f not in ("read", "write"):
            raise ValueError(f"f must be 'read' or 'write' (got {f!r})")
        if not b > a:
            raise ValueError(f"end must be > start (got {a!r}, {b!r} for {row!r})")
        # at equal times a completion sorts before an invocation (a process's next op may start
        # the instant its previous one ends)
        events.append((a, 1, Op(p, "invoke", f, None, v if f == "write" else None, a)))
        events.append((b, 0, Op(p, "ok", f, None, v if f == "read" else None, b)))
    events.sort(key=lambda e: (e[0], e[1]))
    return History(op for _, _, op in events)


__all__ = ["APReplica", "CPReplica", "Gossip", "LEVELS", "MODES", "Query", "QueryReply", "Read", "ReadOk",
           "Refused", "RegisterRun", "Store", "StoreAck", "Write", "WriteOk", "causally_consistent",
           "consistency_level", "history_from_rows", "replica_names", "run_register",
           "sequentially_consistent"]
