"""Raft's safety properties (Figure 3 of Ongaro & Ousterhout 2014) as checks, plus a fault fuzzer.

* **Election Safety** — at most one leader can be elected in a given term.
* **Log Matching** — if two logs contain an entry with the same index and term,
  the logs are identical in all entries up through that index.
* **Leader Completeness** — if an entry is committed in a term, it is present in
  the logs of the leaders of all higher-numbered terms.
* **State Machine Safety** — if a server has applied an entry at an index, no
  other server ever applies a different entry at that index.

:class:`RaftMonitor` checks all four after every event of a run
(``world.add_monitor``), remembering what it saw over the whole run (leaders per
term, committed and applied entries), and records :class:`Violation` s.
:func:`check_log_matching` and :func:`check_election_safety` are the same rules
as plain predicates over a set of node states.

:func:`fuzz` runs a Raft (or Raft KV) cluster under random faults — crashes with
restarts, partitions, pauses, message loss, duplication and reordering — with
the monitor installed and, for the KV store, the linearizability checker and an
exactly-once check on the client history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from distlib.check.linearizability import check_linearizability
from distlib.check.models import UNKNOWN, AppendKVStore  # AppendKVStore: re-exported (it lived here)
from distlib.consensus.raft import LEADER, RaftNode, make_cluster
from distlib.consensus.raft_kv import KVNode, kv_client
from distlib.sim import FaultSchedule, History, World

ELECTION_SAFETY = "Election Safety"
LOG_MATCHING = "Log Matching"
LEADER_COMPLETENESS = "Leader Completeness"
STATE_MACHINE_SAFETY = "State Machine Safety"


@dataclass(frozen=True)
class Violation:
    time: float
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"t={self.time:.3f}s {self.invariant}: {self.detail}"


# ---- plain predicates ----------------------------------------------------------------------------
def _window(node: Any) -> tuple[int, list]:
    """(snapshot index, entries after it) of a node: the part of the log we can still see."""
    return node.snap_index, node.log


def log_matching_pair(a: Any, b: Any) -> str | None:
    """None if the Log Matching property holds between nodes ``a`` and ``b``, else why not."""
    sa, la = _window(a)
    sb, lb = _window(b)
    lo = max(sa, sb) + 1
    hi = min(sa + len(la), sb + len(lb))
    if hi < lo:
        return None
    xa = la[lo - sa - 1:hi - sa]
    xb = lb[lo - sb - 1:hi - sb]
    if xa == xb:
        return None
    # The highest index where the terms agree: everything up to it must be identical.
    for k in range(len(xa) - 1, -1, -1):
        if xa[k].term == xb[k].term:
            if xa[:k + 1] != xb[:k + 1]:
                j = next(j for j in range(k + 1) if xa[j] != xb[j])
                return (f"{a.id} and {b.id} both hold term {xa[k].term} at index {lo + k} but differ at "
                        f"index {lo + j}: {xa[j]!r} vs {xb[j]!r}")
            return None
    return None


def check_log_matching(nodes: Iterable[Any]) -> list[str]:
    """Log Matching over every pair of ``nodes`` (RaftNode-like objects)."""
    nodes = list(nodes)
    out = []
    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            why = log_matching_pair(nodes[i], nodes[j])
            if why:
                out.append(why)
    return out


def check_election_safety(nodes: Iterable[Any]) -> list[str]:
    """At most one of ``nodes`` is leader of any one term (a snapshot; the monitor checks the whole run)."""
    seen: dict[int, str] = {}
    out = []
    for node in nodes:
        if node.role == LEADER:
            other = seen.setdefault(node.current_term, node.id)
            if other != node.id:
                out.append(f"{other} and {node.id} are both leader of term {node.current_term}")
    return out


# ---- the monitor ---------------------------------------------------------------------------------------
class RaftMonitor:
    """Checks the four safety properties after every event of a world; install with :meth:`install`.

    ``violations`` lists what failed (each invariant is reported at most ``max_reports`` times).
    """

    def __init__(self, *, max_reports: int = 5):
        self.max_reports = max_reports
        self.violations: list[Violation] = []
        self.leaders: dict[int, str] = {}                        # term -> the leader seen
        self.applied: dict[int, tuple[int, Any, str]] = {}       # index -> (term, command, first node)
        self.committed_in: dict[int, int] = {}                   # index -> term it was first applied in
        self._commit_order: list[int] = []
        self._lc_checked: dict[tuple[str, int], int] = {}        # (leader, term) -> entries verified
        self._logs: dict[str, tuple] = {}
        self._counts: dict[str, int] = {}
        self._dual: set[tuple[int, str]] = set()                # (term, second leader) reported
        self.events = 0

    def install(self, world: World) -> RaftMonitor:
        world.add_monitor(self)
        return self

    @property
    def ok(self) -> bool:
        return not self.violations

    def _report(self, time: float, invariant: str, detail: str) -> None:
        n = self._counts.get(invariant, 0)
        self._counts[invariant] = n + 1
        if n < self.max_reports:
            self.violations.append(Violation(time, invariant, detail))

    def __call__(self, world: World) -> None:
        self.events += 1
        now = world.now
        live = [node for name, node in world.nodes.items()
                if world.status[name] != "crashed" and hasattr(node, "role")]
        changed = []
        for node in live:
            # Election Safety, over the whole run: remember the first leader of every term.
            if node.role == LEADER:
                first = self.leaders.setdefault(node.current_term, node.id)
                if first != node.id and (node.current_term, node.id) not in self._dual:
                    self._dual.add((node.current_term, node.id))
                    self._report(now, ELECTION_SAFETY,
                                 f"{first} and {node.id} were both leader of term {node.current_term}")
            # State Machine Safety: what this node applied must match what anyone applied there.
            for index, term, command in node.drain_applied():
                seen = self.applied.get(index)
                if seen is None:
                    self.applied[index] = (term, command, node.id)
                    self.committed_in[index] = node.current_term
                    self._commit_order.append(index)
                elif (seen[0], seen[1]) != (term, command):
                    self._report(now, STATE_MACHINE_SAFETY,
                                 f"{node.id} applied {command!r} (term {term}) at index {index}, but "
                                 f"{seen[2]} applied {seen[1]!r} (term {seen[0]}) there")
            key = (node.snap_index, tuple(node.log))
            if self._logs.get(node.id) != key:
                self._logs[node.id] = key
                changed.append(node)
        # Log Matching: only pairs where one log changed since the last event.
        for node in changed:
            for other in live:
                if other is not node and (other not in changed or other.id > node.id):
                    why = log_matching_pair(node, other)
                    if why:
                        self._report(now, LOG_MATCHING, why)
        # Leader Completeness: a leader of term T holds every entry committed in a term < T.
        for node in live:
            if node.role != LEADER:
                continue
            mark = (node.id, node.current_term)
            start = self._lc_checked.get(mark, 0)
            for index in self._commit_order[start:]:
                term, command, _ = self.applied[index]
                if self.committed_in[index] >= node.current_term or index < node.snap_index:
                    continue
                have = node.term_at(index)
                if have != term:
                    entry = node.entry_at(index)
                    self._report(now, LEADER_COMPLETENESS,
                                 f"{node.id}, leader of term {node.current_term}, lacks committed "
                                 f"index {index} = {command!r} (term {term}); it has {entry!r}")
            self._lc_checked[mark] = len(self._commit_order)

    def summary(self) -> str:
        if self.ok:
            return (f"all four invariants held over {self.events} events "
                    f"({len(self.leaders)} terms with a leader, {len(self.applied)} entries applied)")
        return "\n".join(str(v) for v in self.violations)


# ---- exactly-once ---------------------------------------------------------------------------------------
def check_exactly_once(history: Iterable[Any], data: Mapping[str, Any]) -> list[str]:
    """No append took effect twice; an ``ok`` append took effect exactly once.

    ``data`` is the final key -> value map of a replica that applied everything committed.
    Append values must be unique tokens ending in ``;`` (as :func:`kv_client` makes them). The
    "exactly once" half is checked only on keys never overwritten by a write or cas.
    """
    hist = history if isinstance(history, History) else History(history)
    overwritten = {op.key for op in hist if op.type == "invoke" and op.f in ("write", "cas")}
    out = []
    for inv, done in hist.pairs():
        if inv.f != "append":
            continue
        tokens = (data.get(inv.key) or "").split(";")
        count = tokens.count(inv.value.rstrip(";"))
        if count > 1:
            out.append(f"append {inv.value!r} to {inv.key} by {inv.process} took effect {count} times")
        elif count == 0 and done is not None and done.type == "ok" and inv.key not in overwritten:
            out.append(f"append {inv.value!r} to {inv.key} by {inv.process} was acknowledged but is lost")
    return out


def start_load(world: Any, names: list[str], *, kv: bool, clients: int, ops: int) -> None:
    """The fuzzers' load: ``clients`` KV clients of ``ops`` operations each, or (``kv=False``) a command
    proposed to whoever leads every 30 ms."""
    if kv:
        for c in range(1, clients + 1):
            world.process(kv_client(world, f"c{c}", list(names), ops=ops))
        return

    def proposer() -> Any:
        k = 0
        while True:
            yield world.env.timeout(0.03)
            for name in names:
                node = world.nodes[name]
                if world.status[name] == "up" and node.role == LEADER:
                    k += 1
                    node.propose(f"cmd{k}")
    world.process(proposer())


# ---- the fuzzer ---------------------------------------------------------------------------------------
@dataclass
class FuzzResult:
    seed: int
    world: World
    monitor: RaftMonitor
    schedule: FaultSchedule
    linearizable: Any = None                  # LinResult for KV runs
    exactly_once: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        lin_ok = self.linearizable is None or self.linearizable.ok
        return self.monitor.ok and lin_ok and not self.exactly_once

    def problems(self) -> list[str]:
        out = [str(v) for v in self.monitor.violations]
        if self.linearizable is not None and not self.linearizable.ok:
            out.append(f"linearizability: {self.linearizable.verdict} {self.linearizable.reason}")
        out += [f"exactly-once: {p}" for p in self.exactly_once]
        return out

    def summary(self) -> str:
        head = f"seed {self.seed}: {'ok' if self.ok else 'VIOLATION'}; faults: {self.schedule.describe()}"
        return "\n".join([head] + ["  " + p for p in self.problems()])


def fuzz(seed: int, *, cls: type[RaftNode] = RaftNode, n: int | None = None, duration: float = 3.0,
         faults: int = 3, loss: float | None = None, duplicate: float | None = None,
         reorder: float | None = None, kv: bool = False, clients: int = 2, ops: int = 15,
         snapshot_threshold: int | None = 8, **config: Any) -> FuzzResult:
    """One short run under random faults drawn from ``seed`` (everything else derived from it too).

    ``n`` (3-5), ``loss``/``duplicate``/``reorder`` default to values drawn from the seed.
    Without ``kv`` a background proposer submits commands to whoever leads; with ``kv``
    (``cls`` must be a :class:`KVNode`) ``clients`` clients run :func:`kv_client` and the history is
    checked for linearizability and exactly-once appends.
    """
    from distlib.sim import stream
    rng = stream(seed, "fuzz")
    n = n if n is not None else rng.choice((3, 4, 5))
    loss = loss if loss is not None else rng.choice((0.0, 0.02, 0.1))
    duplicate = duplicate if duplicate is not None else rng.choice((0.0, 0.05))
    reorder = reorder if reorder is not None else rng.choice((0.0, 0.1))
    if kv and not issubclass(cls, KVNode):
        raise ValueError(f"cls must be a KVNode subclass when kv=True (got {cls.__name__})")
    monitor = RaftMonitor()
    world = make_cluster(n, seed=seed, cls=cls, latency=(0.002, 0.02), loss=loss, duplicate=duplicate,
                         reorder=reorder, monitors=[monitor],
                         snapshot_threshold=snapshot_threshold, **config)
    names = sorted(world.nodes)
    schedule = FaultSchedule.random(seed, names, horizon=duration * 0.8, faults=faults,
                                    kinds=("crash", "partition", "pause"), max_duration=duration / 3)
    schedule.apply(world)
    start_load(world, names, kv=kv, clients=clients, ops=ops)
    world.run(until=duration)
    result = FuzzResult(seed, world, monitor, schedule)
    if kv:
        result.linearizable = check_linearizability(world.history, AppendKVStore(), max_steps=2_000_000)
        best = max(world.nodes.values(), key=lambda node: node.last_applied)
        result.exactly_once = check_exactly_once(world.history, best.sm.data)
    return result


def read_fuzz(seed: int, read_mode: str, *, duration: float = 4.0, clients: int = 4, ops: int = 40,
              cls: type[KVNode] = KVNode, **config: Any) -> FuzzResult:
    """The KV store with ``read_mode`` reads under a nemesis aimed at reads: twice, at random times, the
    leader of the moment is cut off alone (for 0.5-1.5 s), besides random loss. Clients use one key
    ``x`` and read half the time, so a stale read shows. Checked like :func:`fuzz` (monitor,
    linearizability, exactly-once). ``cls``: a :class:`KVNode` subclass (an exercise check's).
    """
    from distlib.consensus.raft import _current_leader
    from distlib.sim import stream
    rng = stream(seed, "read-fuzz")
    monitor = RaftMonitor()
    world = make_cluster(rng.choice((3, 5)), seed=seed, cls=cls, latency=(0.002, 0.02),
                         loss=rng.choice((0.0, 0.02)), monitors=[monitor], read_mode=read_mode,
                         snapshot_threshold=8, **config)
    names = sorted(world.nodes)
    for _ in range(2):
        at = round(rng.uniform(0.3, duration * 0.6), 3)
        length = round(rng.uniform(0.5, 1.5), 3)

        def cut_off(at: float = at, length: float = length) -> None:
            leader = _current_leader(world)
            if leader is not None:
                world.partition([leader])
                world.at(min(at + length, duration), world.heal)

        world.at(at, cut_off)
    for c in range(1, clients + 1):
        world.process(kv_client(world, f"c{c}", names, ops=ops, keys=("x",), think=0.01,
                                mix=("get", "get", "get", "put", "append", "cas")))
    world.run(until=duration)
    result = FuzzResult(seed, world, monitor, FaultSchedule())
    result.linearizable = check_linearizability(world.history, AppendKVStore(), max_steps=2_000_000)
    best = max(world.nodes.values(), key=lambda node: node.last_applied)
    result.exactly_once = check_exactly_once(world.history, best.sm.data)
    return result


__all__ = [
    "AppendKVStore", "ELECTION_SAFETY", "FuzzResult", "LEADER_COMPLETENESS", "LOG_MATCHING",
    "RaftMonitor", "STATE_MACHINE_SAFETY", "UNKNOWN", "Violation", "check_election_safety",
    "check_exactly_once", "check_log_matching", "fuzz", "log_matching_pair", "read_fuzz",
]
