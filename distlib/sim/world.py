"""The World: one seed, the nodes, the network, the clients and the trace.

>>> from distlib.sim import World, Node
>>> class Echo(Node):
...     def on_message(self, src, msg):
...         if msg == "ping":
...             self.send(src, "pong")
>>> world = World(seed=1, latency=0.01)
>>> _ = world.add_nodes(Echo, ["a", "b"])
>>> world.at(0.0, lambda: world.nodes["a"].send("b", "ping"))
>>> world.run(until=1)
>>> [r.describe() for r in world.trace.of(Deliver)]
["a -> b  deliver #1 'ping'", "b -> a  deliver #2 'pong'"]

Same seed and same scenario ⇒ the identical trace: the only randomness is
derived from ``seed`` (see :mod:`distlib.sim.rng`) and SimPy breaks ties between
simultaneous events in scheduling order.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import fields
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

from .client import Client
from .history import History
from .network import LatencySpec, LinkConfig, Network
from .node import Node
from .rng import check_seed, stream
from .trace import (
    Annotate,
    Crash,
    Cut,
    Deliver,
    Drop,
    Duplicate,
    Heal,
    Partition,
    Pause,
    Restart,
    Resume,
    Send,
    Timer,
    Trace,
)
from .validate import flag, number

UP, CRASHED, PAUSED = "up", "crashed", "paused"


class _Delivery:
    """One message copy in flight: a duck-typed SimPy event, much lighter than ``simpy.Timeout``.

    ``Environment.step`` pops it, iterates ``callbacks`` (any iterable; the world shares one
    tuple) and then reads ``_ok``. ``data`` is ``(msg_id, src, dst, msg, sent_at)``.
    """

    __slots__ = ("callbacks", "data")
    _ok = True
    _value = None

    def __init__(self, callbacks: tuple, data: tuple):
        self.callbacks = callbacks
        self.data = data


def _fast_new(cls: type) -> Callable[..., Any]:
    """A constructor for the frozen, slotted record ``cls`` that skips the frozen-dataclass
    ``__init__`` (it goes through ``object.__setattr__`` per field, twice as slow); it builds
    equal records. The code is generated like dataclasses does, one line per field."""
    names = [f.name for f in fields(cls)]
    ns: dict[str, Any] = {"new": object.__new__, "cls": cls}
    for n in names:
        ns[f"set_{n}"] = getattr(cls, n).__set__   # the slot's member descriptor
    body = "".join(f"    set_{n}(rec, {n})\n" for n in names)
    exec(f"def make({', '.join(names)}):\n    rec = new(cls)\n{body}    return rec\n", ns)
    return ns["make"]


_new_send, _new_drop, _new_deliver = _fast_new(Send), _fast_new(Drop), _fast_new(Deliver)


class World:
    """A deterministic simulated cluster.

    Parameters set the default link: ``latency`` (a number, a ``(low, high)``
    pair or a :class:`~distlib.sim.network.Latency`), ``loss``, ``duplicate`` and
    ``reorder`` probabilities in [0, 1].
    """

    def __init__(self, seed: int = 0, *, latency: LatencySpec | None = None, loss: float = 0.0,
                 duplicate: float = 0.0, reorder: float = 0.0, reorder_delay: float = 0.1,
                 scripted: bool = False):
        self.seed = check_seed(seed)
        # Scripted: messages wait in ``in_flight`` and timers stay armed until the caller says what
        # happens next (deliver/drop/duplicate/fire) -- how a model checker's counterexample replays.
        self.scripted = flag("scripted", scripted)
        self.in_flight: dict[int, tuple[int, str, str, Any, float]] = {}   # id -> (id, src, dst, msg, sent)
        self.env = simpy.Environment()
        self.trace = Trace()
        self.history = History()
        self.network = Network(LinkConfig.make(latency, loss, duplicate, reorder, reorder_delay))
        self.nodes: dict[str, Node] = {}
        self.storage: dict[str, dict] = {}
        self.clients: dict[str, Client] = {}
        self.status: dict[str, str] = {}
        self._net_rng = stream(self.seed, "network")
        self._specs: dict[str, tuple[type[Node], dict[str, Any]]] = {}
        self._node_rng: dict = {}
        self._timers: dict[tuple[str, str], int] = {}
        self._held: dict[str, list[Callable[[], None]]] = {}   # work queued while a node is paused
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._monitors: list[Callable[[World], None]] = []
        self._started = False
        self._delivery_cbs = (self._on_delivery,)   # shared by every in-flight message
        self._plain_cfg: LinkConfig | None = None     # last link config seen to be fault-free

    # ---- building the cluster ------------------------------------------------------------
    def add_node(self, name: str, cls: type[Node], **config: Any) -> Node:
        """Add a node named ``name`` running ``cls(**config)``; config is re-applied on restart."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string (got {name!r})")
        if name in self.nodes or name in self.clients:
            raise ValueError(f"name {name!r} is already used by a node or client")
        if not (isinstance(cls, type) and issubclass(cls, Node)):
            raise ValueError(f"cls must be a subclass of distlib.sim.Node (got {cls!r})")
        self._specs[name] = (cls, config)
        self.storage[name] = {}
        self._node_rng[name] = stream(self.seed, f"node/{name}")
        self.nodes[name] = self._build(name)
        self.status[name] = UP
        for node in self.nodes.values():
            node.peers = tuple(n for n in self.nodes if n != node.id)
        if self._started:
            self._at_now(lambda: self._boot(name))
        return self.nodes[name]

    def add_nodes(self, cls: type[Node], names: Iterable[str], **config: Any) -> list[Node]:
        return [self.add_node(n, cls, **config) for n in names]

    def _build(self, name: str) -> Node:
        cls, config = self._specs[name]
        node = cls(**config)
        node.attach(name, tuple(n for n in self._specs if n != name), self.storage[name], self,
                    self._node_rng[name])
        return node

    def client(self, name: str) -> Client:
        """The client endpoint ``name`` (created on first use)."""
        if name not in self.clients:
            if name in self.nodes:
                raise ValueError(f"name {name!r} is already used by a node")
            self.clients[name] = Client(self, name)
        return self.clients[name]

    def add_monitor(self, fn: Callable[[World], None]) -> None:
        """Call ``fn(world)`` after every event (delivery, timer, fault): invariant checks."""
        self._monitors.append(fn)

    # ---- running -------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.env.now

    def start(self) -> None:
        """Boot every node (``on_start``) at the current time, in the order they were added."""
        if self._started:
            return
        self._started = True
        for name in list(self.nodes):
            self._at_now(lambda name=name: self._boot(name))

    def _boot(self, name: str) -> None:
        # A fault scheduled for the boot instant may already have struck: a crashed node does not
        # boot (its restart runs on_recover), a paused one boots when it resumes.
        status = self.status[name]
        if status == PAUSED:
            self._held[name].append(lambda: self._boot(name))
        elif status == UP:
            self.nodes[name].on_start()

    def run(self, until: float | None = None) -> None:
        """Run until simulated time ``until`` (or until nothing is left to happen)."""
        if until is not None:
            until = number("until", until, self.env.now)
        self.start()
        # A run only grows the trace, and CPython's full (generation-2) collections re-traverse
        # all of it: on long runs that was a third of the kernel's time. Postpone them until the
        # run ends; young generations are still collected. Simulated behaviour is unaffected.
        t0, t1, t2 = gc.get_threshold()
        if t0:
            gc.set_threshold(t0, t1, max(t2, 1_000_000))
        try:
            self.env.run(until=until)
        finally:
            if t0:
                gc.set_threshold(t0, t1, t2)

    def process(self, generator: Generator) -> simpy.Process:
        """Run a SimPy generator (a client workload, a test driver) inside the world."""
        return self.env.process(generator)

    def at(self, time: float, fn: Callable[[], None]) -> None:
        """Call ``fn()`` at simulated time ``time`` (must not be in the past)."""
        time = number("time", time, self.env.now)
        ev = self.env.timeout(time - self.env.now)
        ev.callbacks.append(lambda _ev: self._event(fn))

    def _at_now(self, fn: Callable[[], None]) -> None:
        ev = self.env.timeout(0)
        ev.callbacks.append(lambda _ev: self._event(fn))

    def _event(self, fn: Callable[[], None]) -> None:
        fn()
        self.check_monitors()

    def check_monitors(self) -> None:
        """Run every monitor now (the world does it after each event; a script after each step)."""
        for m in self._monitors:
            m(self)

    # ---- the Runtime interface nodes use ---------------------------------------------------
    # send/_on_delivery are the kernel's hot path (benchmarks/bench_kernel.py): they are written
    # flat on purpose. Behaviour and trace are those of the plain version: check blocked links,
    # then loss, then schedule the copy, then maybe a duplicate; on arrival re-check the link
    # (partitions drop messages in flight), then a crashed or paused destination.
    def send(self, src: str, dst: str, msg: Any) -> None:
        if dst not in self.nodes and dst not in self.clients:
            raise ValueError(f"dst {dst!r} is not a node or client of this world")
        mid = next(self._ids)
        env = self.env
        now = env._now
        append = self.trace.records.append
        append(_new_send(now, mid, src, dst, msg))
        if self.scripted:
            self.in_flight[mid] = (mid, src, dst, msg, now)
            return
        net = self.network
        if net._group or net._cuts:
            reason = net.blocked(src, dst)
            if reason:
                append(_new_drop(now, mid, src, dst, msg, now, reason))
                return
        cfg = net.overrides.get((src, dst), net.config) if net.overrides else net.config
        if cfg is not self._plain_cfg:
            # Not the last link seen to be reliable with constant latency (no randomness at all).
            if cfg.loss or cfg.duplicate or cfg.reorder or cfg.latency.kind != "constant":
                self._send_faulty(cfg, mid, src, dst, msg, now)
                return
            self._plain_cfg = cfg
        delay = cfg.latency.a
        # Fast path (reliable link, constant latency): what _schedule_delivery does, inlined,
        # down to Environment.schedule's heappush: the same (time, priority, event id) key as
        # env.timeout(delay), so ties break exactly as before.
        heappush(env._queue, (now + delay, NORMAL, next(env._eid),
                              _Delivery(self._delivery_cbs, (mid, src, dst, msg, now))))

    def _send_faulty(self, cfg: LinkConfig, mid: int, src: str, dst: str, msg: Any,
                     now: float) -> None:
        rng = self._net_rng
        if cfg.loss and rng.random() < cfg.loss:
            self.trace.records.append(_new_drop(now, mid, src, dst, msg, now, "loss"))
            return
        self._schedule_delivery(cfg, mid, src, dst, msg, now)
        if cfg.duplicate and rng.random() < cfg.duplicate:
            copy = next(self._ids)
            self.trace.append(Duplicate(now, mid, copy, src, dst, msg))
            self._schedule_delivery(cfg, copy, src, dst, msg, now)

    def _schedule_delivery(self, cfg: LinkConfig, mid: int, src: str, dst: str, msg: Any,
                           sent_at: float) -> None:
        rng = self._net_rng
        delay = cfg.latency.sample(rng)
        if cfg.reorder and rng.random() < cfg.reorder:
            delay += rng.uniform(0.0, cfg.reorder_delay)
        self.env.schedule(_Delivery(self._delivery_cbs, (mid, src, dst, msg, sent_at)), NORMAL, delay)

    def _on_delivery(self, ev: _Delivery) -> None:
        """A copy arrives: re-check the link (a partition drops messages in flight), then dst."""
        mid, src, dst, msg, sent_at = ev.data
        status = self.status.get(dst)
        net = self.network
        if net._group or net._cuts or status == CRASHED or status == PAUSED:
            reason = net.blocked(src, dst)
            if reason is None and status == CRASHED:
                reason = "crashed"
            if reason:
                self.trace.records.append(_new_drop(self.env._now, mid, src, dst, msg, sent_at, reason))
                return
            if status == PAUSED:
                self._held[dst].append(lambda: self._on_delivery(ev))
                return
        self.trace.records.append(_new_deliver(self.env._now, mid, src, dst, msg, sent_at))
        node = self.nodes.get(dst)
        if node is None:
            self.clients[dst].receive(src, msg)
        else:
            node.on_message(src, msg)
        if self._monitors:
            for m in self._monitors:
                m(self)

    def set_timer(self, node: str, name: str, delay: float) -> None:
        token = next(self._tokens)
        self._timers[(node, name)] = token
        if self.scripted:
            return   # armed; fires when the script calls fire()
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _ev: self._fire(node, name, token))

    def cancel_timer(self, node: str, name: str) -> None:
        self._timers.pop((node, name), None)

    def _fire(self, node: str, name: str, token: int) -> None:
        if self._timers.get((node, name)) != token:
            return  # cancelled, re-armed, or the node crashed since
        if self.status[node] == PAUSED:
            self._held[node].append(lambda: self._fire(node, name, token))
            return
        del self._timers[(node, name)]
        self.trace.append(Timer(self.env.now, node, name))
        self.nodes[node].on_timer(name)
        for m in self._monitors:
            m(self)

    # ---- scripted worlds: the caller decides what happens next ------------------------------------
    def _in_flight(self, msg_id: int) -> tuple[int, str, str, Any, float]:
        if not self.scripted:
            raise ValueError("deliver/drop/duplicate/fire need World(scripted=True)")
        if msg_id not in self.in_flight:
            raise ValueError(f"msg_id must be a message in flight ({sorted(self.in_flight)}); got {msg_id!r}")
        return self.in_flight[msg_id]

    def deliver(self, msg_id: int) -> None:
        """Deliver the in-flight message ``msg_id`` now, exactly as a simulated arrival would."""
        self._in_flight(msg_id)
        self._on_delivery(_Delivery((), self.in_flight.pop(msg_id)))

    def drop(self, msg_id: int) -> None:
        """Lose the in-flight message ``msg_id`` now."""
        mid, src, dst, msg, sent_at = self._in_flight(msg_id)
        del self.in_flight[msg_id]
        self.trace.records.append(_new_drop(self.env.now, mid, src, dst, msg, sent_at, "loss"))

    def duplicate(self, msg_id: int) -> int:
        """Put a second copy of ``msg_id`` in flight; returns the copy's id."""
        mid, src, dst, msg, sent_at = self._in_flight(msg_id)
        copy = next(self._ids)
        self.trace.append(Duplicate(self.env.now, mid, copy, src, dst, msg))
        self.in_flight[copy] = (copy, src, dst, msg, sent_at)
        return copy

    def fire(self, node: str, name: str) -> None:
        """Fire ``node``'s armed timer ``name`` now."""
        if not self.scripted:
            raise ValueError("deliver/drop/duplicate/fire need World(scripted=True)")
        if (node, name) not in self._timers:
            raise ValueError(f"timer {name!r} of {node!r} is not armed (armed: {self.timers(node)})")
        self._fire(node, name, self._timers[(node, name)])

    def annotate(self, node: str | None, text: str) -> None:
        self.trace.append(Annotate(self.env.now, node, text))

    def timers(self, node: str) -> list[str]:
        """Names of the timers ``node`` has armed, sorted."""
        return sorted(name for (n, name) in self._timers if n == node)

    # ---- node faults ---------------------------------------------------------------------------
    def _check_node(self, name: str) -> None:
        if name not in self.nodes:
            known = ", ".join(self.nodes) or "none"
            raise ValueError(f"node must be one of the world's nodes ({known}); got {name!r}")

    def is_up(self, name: str) -> bool:
        self._check_node(name)
        return self.status[name] == UP

    def crash(self, name: str) -> None:
        """Crash ``name`` now: volatile state and timers are lost, ``storage`` is kept."""
        self._check_node(name)
        if self.status[name] == CRASHED:
            return
        self.status[name] = CRASHED
        held = self._held.pop(name, [])
        for key in [k for k in self._timers if k[0] == name]:
            del self._timers[key]
        self.trace.append(Crash(self.env.now, name))
        # Messages a paused node was holding die with it: replayed now, they find the node
        # crashed and are recorded as drops (held timers find themselves cancelled).
        for work in held:
            work()

    def restart(self, name: str) -> None:
        """Restart a crashed ``name``: a fresh instance with the old storage runs ``on_recover``."""
        self._check_node(name)
        if self.status[name] != CRASHED:
            return
        self.status[name] = UP
        self.nodes[name] = self._build(self.nodes[name].id)
        self.nodes[name].peers = tuple(n for n in self.nodes if n != name)
        self.trace.append(Restart(self.env.now, name))
        self._event(self.nodes[name].on_recover)

    def pause(self, name: str) -> None:
        """Freeze ``name`` (a GC pause, SIGSTOP): messages and timers wait until ``resume``."""
        self._check_node(name)
        if self.status[name] != UP:
            return
        self.status[name] = PAUSED
        self._held[name] = []
        self.trace.append(Pause(self.env.now, name))

    def resume(self, name: str) -> None:
        self._check_node(name)
        if self.status[name] != PAUSED:
            return
        self.status[name] = UP
        self.trace.append(Resume(self.env.now, name))
        for work in self._held.pop(name, []):
            if self.status[name] == UP:
                work()

    # ---- network faults ----------------------------------------------------------------------
    def partition(self, *groups: Sequence[str]) -> None:
        """Split the network: ``world.partition(["n1"], ["n2", "n3"])``.

        Nodes not named form one more group together; clients not named reach every side.
        """
        checked = Network.validate_groups(groups, tuple(self.nodes), tuple(self.clients))
        self.network.partition(checked)
        self.trace.append(Partition(self.env.now, checked))

    def cut(self, src: str, dst: str, *, both_ways: bool = False) -> None:
        """Cut the link ``src -> dst`` (one-way unless ``both_ways``)."""
        for n in (src, dst):
            if n not in self.nodes and n not in self.clients:
                raise ValueError(f"cut names unknown node {n!r}")
        if src == dst:
            raise ValueError(f"cut needs two different nodes (got {src!r} twice)")
        self.network.cut(src, dst)
        self.trace.append(Cut(self.env.now, src, dst))
        if both_ways:
            self.network.cut(dst, src)
            self.trace.append(Cut(self.env.now, dst, src))

    def heal(self) -> None:
        """Remove every partition and cut."""
        self.network.heal()
        self.trace.append(Heal(self.env.now))

    def set_link(self, src: str, dst: str, *, latency: LatencySpec | None = None, loss: float = 0.0,
                 duplicate: float = 0.0, reorder: float = 0.0) -> None:
        """Override how the one-way link ``src -> dst`` behaves."""
        for n in (src, dst):
            if n not in self.nodes and n not in self.clients:
                raise ValueError(f"set_link names unknown node {n!r}")
        self.network.set_link(src, dst, LinkConfig.make(latency, loss, duplicate, reorder,
                                                         base=self.network.config))
