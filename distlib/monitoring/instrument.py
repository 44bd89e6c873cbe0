"""Instrumentation: a ``prometheus_client`` registry per node, fed by an observer.

**Decision (issue 13):** protocol code stays free of monitoring imports. An :class:`Observer` reads the
two things every protocol already exposes -- node state (``world.nodes[n]``) and the trace -- and keeps
one ``CollectorRegistry`` per node *incarnation*: a restart builds a fresh registry, so counters start
again from zero exactly as a restarted process's do (which is what ``rate``'s counter-reset handling is
for). The only hook is :func:`instrumented`, a subclass factory that adds a ``/metrics`` endpoint to a
node class: a :class:`ScrapeRequest` delivered to the node is answered with the text exposition of its
registry, so scrapes cross the simulated network and fail when the node is crashed, paused or cut off.

Metrics (counters are read from the trace up to the scrape instant, gauges from node state at it)::

    node_messages_sent_total{type}        protocol messages sent (scrape traffic is not counted)
    node_messages_received_total{type}    protocol messages delivered to the node
    node_messages_dropped_total{reason}   messages the node sent that the network dropped
    process_start_time_seconds            simulated time of the incarnation's start
    raft_term, raft_commit_index, raft_last_log_index, raft_is_leader      (Raft nodes)
    raft_leader_changes_seen_total        new (term, leader) pairs this node saw (etcd's metric)
    raft_rpc_duration_seconds{rpc}        histogram: request sent -> reply delivered, at the caller

An RPC's duration pairs a reply with its request through the trace: a node's reply is sent in the same
event that delivered the request, so the ``Send`` right after a ``Deliver`` at the same node and time
is that request's answer. Requests whose reply is lost are never observed (as with a real client
library that only times completed calls).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from distlib.sim import Crash, Deliver, Drop, Node, Restart, Send, World

RPC_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class ScrapeRequest:
    """A scraper's ``GET /metrics``."""

    req_id: str

    def __repr__(self) -> str:
        return "GET /metrics"


@dataclass(frozen=True)
class ScrapeReply:
    """The answer: an HTTP status and the exposition text."""

    req_id: str
    status: int
    body: str

    def __repr__(self) -> str:
        return f"HTTP {self.status} ({len(self.body)} bytes)"


_MONITORING_MESSAGES = (ScrapeRequest, ScrapeReply)
_OBSERVERS: weakref.WeakKeyDictionary[Any, Observer] = weakref.WeakKeyDictionary()


class _NodeMetrics:
    """One incarnation's registry and metric objects."""

    def __init__(self, start: float, rpc_buckets: tuple[float, ...]):
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.sent = Counter("node_messages_sent", "Protocol messages sent", ["type"], registry=r)
        self.received = Counter("node_messages_received", "Protocol messages delivered", ["type"],
                                registry=r)
        self.dropped = Counter("node_messages_dropped", "Messages sent by this node that were dropped",
                               ["reason"], registry=r)
        self.start = Gauge("process_start_time_seconds", "Start of this incarnation (simulated s)",
                           registry=r)
        self.start.set(start)
        self.term = Gauge("raft_term", "Raft currentTerm", registry=r)
        self.commit = Gauge("raft_commit_index", "Raft commitIndex", registry=r)
        self.last_index = Gauge("raft_last_log_index", "Index of the last log entry", registry=r)
        self.is_leader = Gauge("raft_is_leader", "1 if this node believes it leads", registry=r)
        self.leader_changes = Counter("raft_leader_changes_seen", "New (term, leader) pairs seen",
                                      registry=r)
        self.rpc = Histogram("raft_rpc_duration_seconds", "RPC round trip seen by the caller", ["rpc"],
                             buckets=rpc_buckets, registry=r)
        self.leader_seen: tuple[int, str] | None = None
        self.is_raft = False


class Observer:
    """Per-node registries for ``world``, fed from node state and the trace (see the module doc).

    ``rpc_buckets`` are the histogram's upper bounds in seconds (sorted, > 0).
    """

    def __init__(self, world: World, *, rpc_buckets: tuple[float, ...] = RPC_BUCKETS):
        if not isinstance(world, World):
            raise ValueError(f"world must be a distlib.sim.World (got {world!r})")
        b = tuple(rpc_buckets) if isinstance(rpc_buckets, (tuple, list)) else ()
        if not b or any(not isinstance(x, (int, float)) or isinstance(x, bool) or not x > 0 for x in b) \
                or list(b) != sorted(set(b)):
            raise ValueError(f"rpc_buckets must be increasing numbers > 0 (got {rpc_buckets!r})")
        if world in _OBSERVERS:
            raise ValueError("world already has an Observer (one per world)")
        self.world = world
        self.rpc_buckets = b
        self._metrics: dict[str, _NodeMetrics] = {}
        self._cursor = 0
        self._cause: tuple[str, float, str, float] | None = None      # the last Deliver to a node
        self._pending: dict[int, tuple[str, str, float]] = {}           # reply msg id -> (caller, rpc, t0)
        _OBSERVERS[world] = self

    def metrics(self, node: str) -> _NodeMetrics:
        m = self._metrics.get(node)
        if m is None:
            m = self._metrics[node] = _NodeMetrics(0.0, self.rpc_buckets)
        return m

    def catch_up(self) -> None:
        """Fold the trace records since the last call into the counters and histograms."""
        records = self.world.trace.records
        nodes = self.world.nodes
        for i in range(self._cursor, len(records)):
            r = records[i]
            if isinstance(r, Send):
                if isinstance(r.msg, _MONITORING_MESSAGES):
                    continue
                if r.src in nodes:
                    self.metrics(r.src).sent.labels(type(r.msg).__name__).inc()
                    c = self._cause
                    if c is not None and c[0] == r.src and c[1] == r.time and \
                            type(r.msg).__name__ == c[2] + "Reply":
                        self._pending[r.msg_id] = (r.dst, c[2], c[3])
            elif isinstance(r, Deliver):
                if isinstance(r.msg, _MONITORING_MESSAGES):
                    continue
                self._cause = None
                if r.dst in nodes:
                    m = self.metrics(r.dst)
                    name = type(r.msg).__name__
                    m.received.labels(name).inc()
                    self._cause = (r.dst, r.time, name, r.sent_at)
                    leader = getattr(r.msg, "leader", None)
                    term = getattr(r.msg, "term", None)
                    if isinstance(leader, str) and isinstance(term, int) and m.leader_seen != (term, leader):
                        m.leader_seen = (term, leader)
                        m.leader_changes.inc()
                    got = self._pending.pop(r.msg_id, None)
                    if got is not None and got[0] == r.dst:
                        m.rpc.labels(got[1]).observe(r.time - got[2])
            elif isinstance(r, Drop):
                if isinstance(r.msg, _MONITORING_MESSAGES):
                    continue
                self._pending.pop(r.msg_id, None)
                if r.src in nodes:
                    self.metrics(r.src).dropped.labels(r.reason).inc()
            elif isinstance(r, Restart):
                self._metrics[r.node] = _NodeMetrics(r.time, self.rpc_buckets)
            elif isinstance(r, Crash):
                self._cause = None
        self._cursor = len(records)

    def _read_state(self, name: str, m: _NodeMetrics) -> None:
        node = self.world.nodes[name]
        storage = getattr(node, "storage", {})
        if "current_term" in storage and hasattr(node, "commit_index"):
            term = int(storage["current_term"])
            m.term.set(term)
            m.commit.set(getattr(node, "commit_index", 0))
            m.last_index.set(getattr(node, "last_index", 0))
            leads = getattr(node, "role", None) == "leader"
            m.is_leader.set(1 if leads else 0)
            if leads and m.leader_seen != (term, name):
                m.leader_seen = (term, name)
                m.leader_changes.inc()
            m.is_raft = True

    def exposition(self, node: str) -> str:
        """The text exposition ``node`` serves right now (Prometheus text format 0.0.4)."""
        if node not in self.world.nodes:
            raise ValueError(f"node must be one of the world's nodes ({', '.join(self.world.nodes)}); "
                             f"got {node!r}")
        self.catch_up()
        m = self.metrics(node)
        self._read_state(node, m)
        text = generate_latest(m.registry).decode()
        if not m.is_raft:     # a node that is not Raft does not export Raft's families
            text = "\n".join(line for line in text.splitlines() if "raft_" not in line) + "\n"
        return text


def observer_of(world: World) -> Observer | None:
    """The :class:`Observer` attached to ``world``, if any."""
    return _OBSERVERS.get(world)


_CLASSES: dict[type, type] = {}


def instrumented(cls: type[Node]) -> type[Node]:
    """``cls`` plus a ``/metrics`` endpoint: answers :class:`ScrapeRequest` from the world's Observer.

    The subclass is cached, so ``instrumented(RaftNode) is instrumented(RaftNode)``; every other
    message goes to ``cls`` untouched.
    """
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise ValueError(f"cls must be a subclass of distlib.sim.Node (got {cls!r})")
    if getattr(cls, "_serves_metrics", False):
        return cls
    got = _CLASSES.get(cls)
    if got is not None:
        return got

    def on_message(self: Node, src: str, msg: Any, _base: Callable = cls.on_message) -> None:
        if isinstance(msg, ScrapeRequest):
            obs = _OBSERVERS.get(self._runtime)
            if obs is None:
                self.send(src, ScrapeReply(msg.req_id, 503, "no Observer attached to this world\n"))
            else:
                self.send(src, ScrapeReply(msg.req_id, 200, obs.exposition(self.id)))
            return
        _base(self, src, msg)

    sub = type(f"Instrumented{cls.__name__}", (cls,), {
        "on_message": on_message, "_serves_metrics": True, "__module__": __name__,
        "__doc__": f"{cls.__name__} with a /metrics endpoint (distlib.monitoring.instrumented)."})
    _CLASSES[cls] = sub
    return sub
