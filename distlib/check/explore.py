"""Explicit-state model checking: breadth-first search over every interleaving.

The simulator runs *one* interleaving per seed; a model checker runs *all* of
them (for a small configuration, up to some bounds). It drives the very same
:class:`~distlib.sim.Node` classes the simulator runs, through its own runtime
that records sends and timers instead of scheduling them::

    result = explore(nodes, {"atomic": atomic_commitment_invariant}, max_crashes=1, max_depth=8)
    result.status, result.states, len(result.counterexample)  # ('violation', 2333, 8)
    print(result)                                  # the numbered steps of the shortest bad run
    world = replay(result.counterexample, nodes)   # the same run in the simulator ...
    spacetime(world.trace)                         # ... and as a diagram

The model (in the style of TLC, Stateright and Maelstrom's lin-kv checker):

* A **state** is each node's state (``Node.state()``: volatile attributes and
  storage, or just the storage of a crashed node), the *multiset* of messages in
  flight, the set of armed timers, the messages sent to names outside the
  cluster (clients), and how much of each fault budget has been used.
* **Steps** from a state: deliver any message in flight (removing it), deliver it
  but keep a copy in flight (a network duplicate), drop it, fire any armed timer
  (time is abstract: any armed timer may fire next, before or after any
  delivery), crash an up node (volatile state and timers are lost; messages to it
  stay in flight and vanish if delivered while it is down), restart a crashed
  node (a fresh object from the same config and the old storage, ``on_recover``).
  Drops, duplicates and crashes are each bounded (``max_drops`` ...).
* **Deduplication** by a canonical fingerprint of the state: dicts and sets are
  sorted, dataclasses are taken field by field, so the fingerprint never depends
  on set iteration order, ``id()`` or ``PYTHONHASHSEED``. Each node's canonical
  text and each message's get a number (in order of discovery, per exploration);
  a fingerprint is the sequence of those numbers, so equal fingerprints mean
  equal canonical states exactly, with no hash in between.
* **Reactions are cached.** What a node does with an event (the node after it,
  its sends, its timer changes) depends only on its own canonical state and the
  event — the premise of deduplication, applied to one node — so it is computed
  once per (node, canonical state, event) and replayed elsewhere, unless the
  handler drew from its random stream. Most transitions of a large exploration
  are such replays (``benchmarks/bench_explore.py``: Paxos, 3 acceptors, 2
  proposers in full contact, 85,296 states).
* **Invariants** are predicates over a :class:`StateView`, checked at every
  state. BFS discovers states in order of depth, so the first violation found
  has a *shortest* path from the initial state: that path is the counterexample.

**Symmetry reduction** (opt-in, ``symmetry=[("p1", "p2", "p3")]``): states that
are renamings of each other within a group of interchangeable nodes count once
(the fingerprint is the least over all renamings). TwoPhase with 3 RMs has 288
states and 80 orbits (:func:`~distlib.check.tla_twophase.spec_states` counts both
from the spec); the verdict and the length of the shortest counterexample do not
change, and the counterexample replays as is.

Bounds versus budget. ``max_depth``, ``max_drops``, ``max_duplicates`` and
``max_crashes`` define the question asked ("no violation in any run of at most
20 steps with at most 1 crash"); answering it completely is ``"ok"``
(``result.depth_limited`` says whether the depth bound actually cut runs short).
``max_states`` is a *budget*: if it runs out the question is unanswered, the
status is ``"budget exhausted"`` and ``result.ok`` is False — never a pass.

``keep_messages=True`` switches to TLA+'s message model: the set of messages
only grows, and delivering a message is an action enabled whenever it is in the
set (it is not consumed). Lamport's TwoPhase spec is written this way.

Limits: nodes read ``now`` as 0.0 (time is abstract), and a node's ``rng`` is
not part of the fingerprint (two states that differ only in a random stream's
position are merged). Messages must be immutable values (frozen dataclasses).
"""

from __future__ import annotations

import array
import bisect
import copy
import dataclasses
import enum
import hashlib
import itertools
import math
import operator
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from distlib.sim.node import Node
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import number
from distlib.sim.world import World

NodeSpec = tuple[type[Node], dict[str, Any]]
InvariantResult = Union[bool, str]

STEP_KINDS = ("deliver", "duplicate", "drop", "timer", "crash", "restart")


# ---- canonical values ---------------------------------------------------------------------
_ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes, range})
_FROZEN: dict[type, tuple[str, ...] | None] = {}   # type -> field names if a frozen dataclass
_CANON_CACHE: dict[Any, Any] = {}                   # frozen dataclass value -> its canonical form
_KEY_CACHE: dict[Any, str] = {}                     # message value -> repr(canon(message))
_SHARED: dict[Any, bool] = {}                       # frozen dataclass value -> immutable all through
_first = operator.itemgetter(0)


def _frozen_fields(t: type) -> tuple[str, ...] | None:
    if t not in _FROZEN:
        frozen = dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen  # type: ignore[attr-defined]
        _FROZEN[t] = tuple(f.name for f in dataclasses.fields(t)) if frozen else None
    return _FROZEN[t]


def _plain_order(xs: Any) -> type | None:
    """The type of every item of ``xs`` if all are ``str`` or all ``int`` (they sort as they are
    and are their own canonical form, so no ``repr`` is needed to order them), else None."""
    for first in xs:
        t = type(first)
        if (t is str or t is int) and all(type(v) is t for v in xs):
            return t
        return None
    return None


def canon(x: Any) -> Any:
    """A hashable, repr-stable normal form of ``x``: dicts and sets sorted, dataclasses by field.

    ``repr(canon(x))`` is the same in every process for equal states, whatever the
    insertion history of the sets and dicts inside (set order depends on it). Frozen
    dataclasses are memoised by equality, so ``Vote(1)`` and ``Vote(True)`` (equal in
    Python) share one form. Dicts with only ``str`` (or only ``int``) keys and sets of only
    ``str`` (or ``int``) are sorted by value; anything else by the ``repr`` of its form.
    """
    t = type(x)
    if t in _ATOMS:
        return x
    if isinstance(x, dict):
        if _plain_order(x) is not None:   # the common case: attribute and storage dicts
            return ("{}", tuple([(k, v if type(v) in _ATOMS else canon(v))
                                 for k, v in sorted(x.items(), key=_first)]))
        return ("{}", tuple(sorted(((canon(k), canon(v)) for k, v in x.items()), key=repr)))
    if isinstance(x, (set, frozenset)):
        if _plain_order(x) is not None:
            return ("set", tuple(sorted(x)))
        return ("set", tuple(sorted((canon(v) for v in x), key=repr)))
    if isinstance(x, (list, tuple)):
        return tuple([v if type(v) in _ATOMS else canon(v) for v in x])
    names = _frozen_fields(t)
    if names is not None:
        # Messages and log records are immutable values met again and again: memoise them
        # (by equality, so the cache is independent of object identity).
        try:
            return _CANON_CACHE[x]
        except KeyError:
            pass
        except TypeError:   # an unhashable field: no caching
            return (t.__name__,) + tuple(canon(getattr(x, f)) for f in names)
        out = _CANON_CACHE[x] = (t.__name__,) + tuple(canon(getattr(x, f)) for f in names)
        if len(_CANON_CACHE) > 100_000:
            _CANON_CACHE.clear()
        return out
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (t.__name__,) + tuple(canon(getattr(x, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, enum.Enum):
        return repr(x)
    if hasattr(x, "__dict__") and not isinstance(x, type):
        return (t.__qualname__, canon(vars(x)))
    return repr(x)


def _canon_renamed(x: Any, ren: Mapping[str, str], groups: frozenset[frozenset[str]] = frozenset()) -> Any:
    """``canon(x)`` of ``x`` with every string that is a key of ``ren`` replaced by its value.

    Dicts and sets are sorted *after* renaming, so the result is the canonical form of the
    renamed value (with ``ren`` and ``groups`` empty it equals ``canon(x)``). A sequence that
    lists one of ``groups`` whole, each name once, is sorted: it is that group, in whatever
    order a configuration listed it. Used by symmetry reduction.
    """
    t = type(x)
    if t is str:
        return ren.get(x, x)
    if t in _ATOMS:
        return x
    if isinstance(x, dict):
        if _plain_order(x) is not None:
            pairs = [(ren.get(k, k) if type(k) is str else k, v) for k, v in x.items()]
            return ("{}", tuple([(k, _canon_renamed(v, ren, groups)) for k, v in sorted(pairs, key=_first)]))
        return ("{}", tuple(sorted(((_canon_renamed(k, ren, groups), _canon_renamed(v, ren, groups))
                                    for k, v in x.items()), key=repr)))
    if isinstance(x, (set, frozenset)):
        if _plain_order(x) is not None:
            return ("set", tuple(sorted([ren.get(v, v) if type(v) is str else v for v in x])))
        return ("set", tuple(sorted((_canon_renamed(v, ren, groups) for v in x), key=repr)))
    if isinstance(x, (list, tuple)):
        if (groups and x and all(type(v) is str for v in x) and frozenset(x) in groups
                and len(set(x)) == len(x)):
            return tuple(sorted([ren.get(v, v) for v in x]))
        return tuple([_canon_renamed(v, ren, groups) for v in x])
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (t.__name__,) + tuple(_canon_renamed(getattr(x, f.name), ren, groups)
                                     for f in dataclasses.fields(x))
    if isinstance(x, enum.Enum):
        return repr(x)
    if hasattr(x, "__dict__") and not isinstance(x, type):
        return (t.__qualname__, _canon_renamed(vars(x), ren, groups))
    return repr(x)


def _unordered(c: Any) -> Any:
    """A canonical form with the items of every sequence sorted (to compare configurations whose
    tuples of names come in another order after renaming)."""
    if type(c) is tuple:
        return ("seq", tuple(sorted((_unordered(v) for v in c), key=repr)))
    return c


_OBJ_GETSTATE = getattr(object, "__getstate__", None)


def _plain_object(t: type) -> bool:
    """Instances of ``t`` copy like a plain ``__dict__`` (no custom copy/pickle hooks, no slots)."""
    return (getattr(t, "__deepcopy__", None) is None and t.__reduce_ex__ is object.__reduce_ex__
            and t.__reduce__ is object.__reduce__ and t.__new__ is object.__new__
            and getattr(t, "__getstate__", None) is _OBJ_GETSTATE
            and getattr(t, "__setstate__", None) is None and "__slots__" not in t.__dict__)


_PLAIN: dict[type, bool] = {}


def _dup(x: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` with fast paths: immutable values (atoms, tuples and frozen
    dataclasses of immutable values) are shared, not copied; plain objects are copied
    through their ``__dict__``. Anything else goes to ``copy.deepcopy``."""
    t = type(x)
    if t in _ATOMS:
        return x
    i = id(x)
    y = memo.get(i)
    if y is not None:
        return y
    if t is dict:
        y = memo[i] = {}
        for k, v in x.items():
            y[k] = _dup(v, memo)
        return y
    if t is list:
        y = memo[i] = []
        y.extend([_dup(v, memo) for v in x])
        return y
    if t is set:
        y = memo[i] = set()
        y.update([_dup(v, memo) for v in x])
        return y
    if t is tuple or t is frozenset:
        if all(type(v) in _ATOMS for v in x):
            return x
        items = [_dup(v, memo) for v in x]
        if all(a is b for a, b in zip(items, x, strict=True)):
            return x
        return t(items)
    names = _frozen_fields(t)
    if names is not None:
        try:
            shared = _SHARED.get(x)
        except TypeError:   # unhashable: a mutable field inside
            shared = False
        if shared is None:
            shared = all(_dup(getattr(x, f), {}) is getattr(x, f) for f in names)
            _SHARED[x] = shared
            if len(_SHARED) > 100_000:
                _SHARED.clear()
        return x if shared else copy.deepcopy(x, memo)
    plain = _PLAIN.get(t)
    if plain is None:
        plain = _PLAIN[t] = _plain_object(t)
    if plain and hasattr(x, "__dict__"):
        y = memo[i] = object.__new__(t)
        y.__dict__.update({k: _dup(v, memo) for k, v in x.__dict__.items()})
        return y
    return copy.deepcopy(x, memo)


def _key(x: Any) -> str:
    """``repr(canon(x))``, memoised for hashable values (messages are keyed once, not per state)."""
    try:
        return _KEY_CACHE[x]
    except KeyError:
        pass
    except TypeError:
        return repr(canon(x))
    out = _KEY_CACHE[x] = repr(canon(x))
    if len(_KEY_CACHE) > 100_000:
        _KEY_CACHE.clear()
    return out


# ---- what the checker shows -----------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """A message in flight: ``src -> dst  msg``."""

    src: str
    dst: str
    msg: Any

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst} {self.msg!r}"


@dataclass(frozen=True)
class Step:
    """One transition of a counterexample.

    ``kind`` is one of ``deliver``, ``duplicate`` (deliver and keep a copy in
    flight), ``drop``, ``timer``, ``crash``, ``restart``; ``node`` is the node
    acted on (the destination, for message steps).
    """

    kind: str
    node: str
    message: Message | None = None
    timer: str | None = None

    def describe(self) -> str:
        if self.kind == "deliver":
            return f"deliver {self.message}"
        if self.kind == "duplicate":
            return f"deliver {self.message} (a duplicate stays in flight)"
        if self.kind == "drop":
            return f"drop {self.message}"
        if self.kind == "timer":
            return f"{self.node}: timer {self.timer!r} fires"
        return f"{self.kind} {self.node}"

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class StateView:
    """What invariants see of a state.

    ``states[name]`` is ``Node.state()`` of an up node, or ``{"storage": {...}}``
    of a crashed one; ``messages`` are the messages in flight (a multiset, in
    canonical order); ``outputs`` the messages sent to names outside the cluster.
    """

    states: dict[str, dict]
    up: dict[str, bool]
    messages: tuple[Message, ...]
    timers: tuple[tuple[str, str], ...]
    outputs: tuple[Message, ...]


@dataclass
class ExploreResult:
    """The outcome of :func:`explore`. ``ok`` is True only for status ``"ok"``."""

    status: str
    states: int
    depth: int
    transitions: int
    seconds: float
    counterexample: list[Step] = field(default_factory=list)
    invariant: str | None = None       # the name of the violated invariant
    message: str | None = None         # its explanation
    final: StateView | None = None     # the violating state
    depth_limited: bool = False        # max_depth cut some runs short
    bounds: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary(self) -> str:
        """One deterministic line (no timing), e.g. for a notebook's compared output."""
        head = (f"{self.status}: {self.states} states, {self.transitions} transitions, "
                f"depth {self.depth}")
        if self.status == "violation":
            head += f"; {self.invariant!r} violated after {len(self.counterexample)} steps"
            if self.message:
                head += f": {self.message}"
        elif self.status == "ok" and self.depth_limited:
            head += f" (runs cut at max_depth={self.bounds.get('max_depth')})"
        elif self.status == "budget exhausted":
            head += f" (max_states={self.bounds.get('max_states')} reached: NOT a pass)"
        return head

    def format(self) -> str:
        """The summary and the numbered counterexample."""
        lines = [self.summary()]
        lines += [f"  {i:2d}. {s.describe()}" for i, s in enumerate(self.counterexample, 1)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class _LazyRandom:
    """A node's random stream, copied on first use.

    Each state needs its own copy of each node's stream (a handler that draws must not move
    its parent's), but most handlers never draw, and copying a Mersenne Twister costs more
    than the handler. This stands in for the node's ``random.Random``: the copy is taken from
    the parent's stream (which no longer changes: a finished state is only read) the first
    time the node asks for anything. ``drawn`` says whether that happened.
    """

    __slots__ = ("_src", "_rng")

    def __init__(self, src: Any):
        while isinstance(src, _LazyRandom):
            if src._rng is not None:
                src = src._rng
                break
            src = src._src
        self._src = src
        self._rng: random.Random | None = None

    @property
    def drawn(self) -> bool:
        return self._rng is not None

    def _real(self) -> random.Random:
        if self._rng is None:
            rng = random.Random.__new__(random.Random)   # no seeding: the state is set next
            rng.setstate(self._src.getstate())
            self._rng = rng
        return self._rng

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._real(), name)


def _drawn(rng: Any) -> bool:
    return not isinstance(rng, _LazyRandom) or rng.drawn


# ---- the explorer's runtime: one global state of the cluster ------------------------------------
class _AsConfigured:
    """Stands for "this attribute still holds the value its constructor gave it" in a symmetric key."""

    def __repr__(self) -> str:
        return "<as configured>"


_AS_CONFIGURED = _AsConfigured()


class _Static:
    """What every state shares: the node specs, the exploration mode and the symmetries."""

    def __init__(self, specs: Mapping[str, NodeSpec], keep_messages: bool, seed: int,
                 symmetry: tuple[tuple[str, ...], ...] = ()):
        self.specs = dict(specs)
        self.names = tuple(specs)
        self.keep = keep_messages
        self.seed = seed
        # Symmetry: every permutation of the names within each group, as (renaming, inverse).
        self.perms: list[tuple[dict[str, str], dict[str, str]]] = []
        self.groups = frozenset(frozenset(g) for g in symmetry)
        if symmetry:
            for images in itertools.product(*(itertools.permutations(g) for g in symmetry)):
                ren = {a: b for g, img in zip(symmetry, images, strict=True)
                       for a, b in zip(g, img, strict=True) if a != b}
                self.perms.append((ren, {b: a for a, b in ren.items()}))
        # What each node's constructor set (configuration kept as attributes): in a symmetric key
        # an attribute still equal to it is written as "as configured", so the coordinator of
        # (p1, p2, p3) and that of (p2, p1, p3) — the same coordinator renamed — key alike.
        self.configured: dict[str, dict[str, Any]] = {}
        if symmetry:
            for n, (cls, config) in self.specs.items():
                self.configured[n] = dict(vars(cls(**config)))
        self.sym_nodes: dict[tuple[str, int, int], int] = {}
        self.sym_msgs: dict[tuple[int, int], tuple[str, int]] = {}
        # Every key text met in this exploration gets a small number, in order of discovery, so
        # a fingerprint is a short string of numbers: exact (no hash collisions) and cheap.
        self.numbers: dict[Any, int] = {}
        self.steps: dict[str, tuple[Step, Step, Step]] = {}   # message key -> deliver/duplicate/drop

    def number(self, key: Any) -> int:
        n = self.numbers.get(key)
        if n is None:
            n = self.numbers[key] = len(self.numbers)
        return n


# Effects a handler had on its runtime, recorded so a cached reaction can be replayed.
_SEND, _SET, _CANCEL = 0, 1, 2
_SEP = 2**32 - 1   # ends a section of a fingerprint


class _Sys:
    """A global state; it is also the :class:`~distlib.sim.node.Runtime` its nodes talk to.

    Copy-on-write: a successor shares every node object with its parent except the one the
    step acts on (:meth:`own` deep-copies that one first), and keeps each node's canonical
    key in ``keys`` so a fingerprint re-serialises only what changed. A shared node's
    runtime is still the parent; that is harmless because a node only acts after ``own``.
    Messages in flight and outputs are kept sorted by key (the canonical order), so neither
    the fingerprint nor the enabled steps sort them again.
    """

    def __init__(self, static: _Static):
        self.static = static
        self.nodes: dict[str, Node | None] = {}
        self.storage: dict[str, dict] = {n: {} for n in static.names}
        self.rngs: dict[str, Any] = {n: stream(static.seed, f"node/{n}") for n in static.names}
        # (canonical key, its number, message), sorted by key: a multiset in canonical order
        self.inflight: list[tuple[str, int, Message]] = []
        self.timers: set[tuple[str, str]] = set()
        self.outputs: list[tuple[str, int, Message]] = []
        self.used = {"drops": 0, "duplicates": 0, "crashes": 0}
        self.keys: dict[str, int] = {}                  # node -> number of its canonical key
        self.states: dict[str, dict] = {}               # node -> what invariants see of it
        self.log: list[tuple[int, Any, Any, Any]] | None = None   # effects, while recording

    # Runtime interface ----------------------------------------------------------------
    @property
    def now(self) -> float:
        return 0.0   # time is abstract: the order of events is all that is explored

    def send(self, src: str, dst: str, msg: Any) -> None:
        m = Message(src, dst, msg)
        k = _key(m)
        entry = (k, self.static.number(k), m)
        if self.log is not None:
            self.log.append((_SEND, entry, None, None))
        self._put(entry)

    def _put(self, entry: tuple[str, int, Message]) -> None:
        if entry[2].dst not in self.static.specs:
            bisect.insort(self.outputs, entry, key=_first)   # to a client: observable, never delivered
            return
        if self.static.keep:
            i = bisect.bisect_left(self.inflight, entry[0], key=_first)
            if i < len(self.inflight) and self.inflight[i][0] == entry[0]:
                return                      # TLA+ msgs is a set: sending again changes nothing
        bisect.insort(self.inflight, entry, key=_first)

    def set_timer(self, node: str, name: str, delay: float) -> None:
        if self.log is not None:
            self.log.append((_SET, node, name, None))
        self.timers.add((node, name))

    def cancel_timer(self, node: str, name: str) -> None:
        if self.log is not None:
            self.log.append((_CANCEL, node, name, None))
        self.timers.discard((node, name))

    def annotate(self, node: str | None, text: str) -> None:
        pass   # notes are for diagrams; replay() re-runs the handlers, which annotate the trace

    # construction / copying ---------------------------------------------------------------
    def build(self, name: str) -> Node:
        cls, config = self.static.specs[name]
        node = cls(**config)
        node.attach(name, tuple(n for n in self.static.names if n != name), self.storage[name], self,
                    self.rngs[name])
        return node

    def successor(self) -> _Sys:
        """A copy sharing every node with this state (call :meth:`own` before touching one)."""
        new = _Sys.__new__(_Sys)
        new.static = self.static
        new.nodes = dict(self.nodes)
        new.storage = dict(self.storage)
        new.rngs = dict(self.rngs)
        new.inflight = list(self.inflight)
        new.timers = set(self.timers)
        new.outputs = list(self.outputs)
        new.used = dict(self.used)
        new.keys = dict(self.keys)
        new.states = dict(self.states)
        new.log = None
        return new

    def own(self, name: str) -> None:
        """Give this state a private copy of node ``name`` (and its storage and rng)."""
        old = self.rngs[name]
        rng = self.rngs[name] = _LazyRandom(old)
        memo: dict[int, Any] = {id(self.static): self.static, id(old): rng}
        node = self.nodes[name]
        if node is None:
            self.storage[name] = _dup(self.storage[name], memo)
            return
        # A node shared from the reaction cache may hold another state's stream and runtime:
        # map whatever it holds to this state's.
        memo[id(node.rng)] = rng
        memo[id(node._runtime)] = self          # the copy talks to this state
        copied = _dup(node, memo)
        self.nodes[name] = copied
        self.storage[name] = copied.storage

    def react(self, name: str, event: Any, handler: Callable[[Node], None],
              cache: dict[tuple, tuple] | None) -> None:
        """Run ``handler`` on node ``name`` (an event keyed ``event``), or replay its cached effect.

        A node's reaction to an event is a function of its canonical state: the explorer
        already treats two states with equal keys as one, and a handler sees nothing but
        its own node (``now`` is constant). So the resulting node (shared copy-on-write), its
        key and the sends and timer changes are cached per (node, key, event) — unless the
        handler drew from its random stream, which is not part of the key.
        """
        ck = (name, self.keys[name], event)
        hit = cache.get(ck) if cache is not None else None
        if hit is not None:
            node, key, state, effects = hit
            self.nodes[name] = node
            self.storage[name] = node.storage
            self.keys[name] = key
            self.states[name] = state
            for op, a, b, _ in effects:
                if op == _SEND:
                    self._put(a)
                elif op == _SET:
                    self.timers.add((a, b))
                else:
                    self.timers.discard((a, b))
            return
        self.own(name)
        self.log = []
        try:
            handler(self.nodes[name])
            effects = tuple(self.log)
        finally:
            self.log = None
        self.rekey(name)
        if cache is not None and not _drawn(self.rngs[name]):
            cache[ck] = (self.nodes[name], self.keys[name], self.states[name], effects)

    def release(self) -> None:
        """Forget this state's contents. Nodes point back at their state (their runtime), so a
        dropped state would be a reference cycle left to the garbage collector; clearing it
        lets reference counting free it at once (a large saving in long explorations)."""
        self.nodes.clear()
        self.storage.clear()
        self.rngs.clear()

    def rekey(self, name: str) -> None:
        """Recompute node ``name``'s canonical key (and the state invariants see) after a change."""
        node = self.nodes[name]
        if node is None:
            state = {"storage": dict(self.storage[name])}
            key = repr(("down", canon(self.storage[name])))
        else:
            state = node.state()
            key = repr(("up", canon(state)))
        self.states[name] = state
        self.keys[name] = self.static.number(key)

    # views ------------------------------------------------------------------------------------
    def view(self) -> StateView:
        """What invariants see. The per-node dicts are shared with other states: read, never write."""
        names = self.static.names
        return StateView(
            states={n: self.states[n] for n in names},
            up={n: self.nodes[n] is not None for n in names},
            messages=tuple([e[2] for e in self.inflight]),
            timers=tuple(sorted(self.timers, key=lambda t: (names.index(t[0]), t[1]))),
            outputs=tuple([e[2] for e in self.outputs]),
        )

    def fingerprint(self) -> bytes:
        """The state's identity within this exploration: the numbers of its parts' canonical keys.

        Numbers are given per exploration in order of discovery (deterministic, as the search
        is); equal keys get equal numbers, so equal fingerprints mean equal canonical states —
        exactly, not up to a hash. Sections are separated by a number no key gets (2**32 - 1).
        """
        number = self.static.number
        parts = [self.keys[n] for n in self.static.names]
        parts.append(_SEP)
        parts += [e[1] for e in self.inflight]
        parts.append(_SEP)
        parts += [e[1] for e in self.outputs]
        parts.append(_SEP)
        parts += sorted([number(t) for t in self.timers])
        parts.append(_SEP)
        parts += (self.used["drops"], self.used["duplicates"], self.used["crashes"])
        return array.array("I", parts).tobytes()

    def symmetric_fingerprint(self) -> bytes:
        """The smallest fingerprint over every renaming of the state by the symmetry groups.

        States that are renamings of each other (one orbit) get the same value, so the search
        keeps one of them. Numbers are fixed once given, so the set of renamed fingerprints,
        and its minimum, is the same for every state of an orbit.
        """
        st = self.static
        number = st.number
        best: bytes | None = None
        for p, (ren, inv) in enumerate(st.perms):
            # the node at position n of the renamed state is inv[n]'s, renamed
            parts = [self._sym_node(inv.get(n, n), p, ren) for n in st.names]
            parts.append(_SEP)
            parts += [i for _, i in sorted([self._sym_msg(e, p, ren) for e in self.inflight])]
            parts.append(_SEP)
            parts += [i for _, i in sorted([self._sym_msg(e, p, ren) for e in self.outputs])]
            parts.append(_SEP)
            parts += sorted([number((ren.get(a, a), ren.get(b, b))) for a, b in self.timers])
            parts.append(_SEP)
            parts += (self.used["drops"], self.used["duplicates"], self.used["crashes"])
            fp = array.array("I", parts).tobytes()
            if best is None or fp < best:
                best = fp
        assert best is not None
        return best

    def _sym_node(self, name: str, p: int, ren: Mapping[str, str]) -> int:
        st = self.static
        ck = (name, self.keys[name], p)
        out = st.sym_nodes.get(ck)
        if out is None:
            state = self.states[name]
            conf = st.configured[name]
            marked = {k: (_AS_CONFIGURED if k in conf and type(v) is type(conf[k]) and v == conf[k] else v)
                      for k, v in state.items()}
            up = "down" if self.nodes[name] is None else "up"
            out = st.sym_nodes[ck] = st.number(repr((up, _canon_renamed(marked, ren, st.groups))))
        return out

    def _sym_msg(self, entry: tuple[str, int, Message], p: int, ren: Mapping[str, str]) -> tuple[str, int]:
        st = self.static
        ck = (entry[1], p)
        out = st.sym_msgs.get(ck)
        if out is None:
            k = repr(_canon_renamed(entry[2], ren, st.groups))
            out = st.sym_msgs[ck] = (k, st.number(k))
        return out


class _Bounds:
    def __init__(self, max_drops: int, max_duplicates: int, max_crashes: int, restarts: bool,
                 crashable: tuple[str, ...]):
        self.max_drops = max_drops
        self.max_duplicates = max_duplicates
        self.max_crashes = max_crashes
        self.restarts = restarts
        self.crashable = crashable


def _enabled(sys: _Sys, b: _Bounds) -> list[tuple[Step, str | None]]:
    """Every step possible in ``sys``, in a deterministic order (identical copies collapsed),
    each with its message's canonical key (None for steps without a message)."""
    steps: list[tuple[Step, str | None]] = []
    last: int | None = None
    keep = sys.static.keep
    dup_ok = sys.used["duplicates"] < b.max_duplicates
    drop_ok = sys.used["drops"] < b.max_drops
    cached = sys.static.steps
    for k, i, m in sys.inflight:         # sorted by key: identical copies are adjacent
        if i == last:
            continue   # delivering either of two identical copies leads to the same state
        last = i
        trio = cached.get(k)
        if trio is None:
            trio = cached[k] = (Step("deliver", m.dst, m), Step("duplicate", m.dst, m),
                                Step("drop", m.dst, m))
        up = sys.nodes[m.dst] is not None
        if keep:
            if up:
                steps.append((trio[0], k))
            continue
        steps.append((trio[0], k))
        if up and dup_ok:
            steps.append((trio[1], k))
        if drop_ok:
            steps.append((trio[2], k))
    names = sys.static.names
    for node, name in sorted(sys.timers, key=lambda t: (names.index(t[0]), t[1])):
        steps.append((Step("timer", node, timer=name), None))
    if sys.used["crashes"] < b.max_crashes:
        steps += [(Step("crash", n), None) for n in b.crashable if sys.nodes[n] is not None]
    if b.restarts:
        steps += [(Step("restart", n), None) for n in names if sys.nodes[n] is None]
    return steps


def _successor(sys: _Sys, step: Step, cache: dict[tuple, tuple] | None = None,
               key: str | None = None) -> _Sys:
    """The state after ``step`` (``sys`` itself is left untouched); ``cache`` memoises reactions,
    ``key`` is the step's message key if the caller knows it."""
    new = sys.successor()
    kind, n = step.kind, step.node
    if kind in ("deliver", "duplicate", "drop"):
        m = step.message
        assert m is not None
        i = bisect.bisect_left(new.inflight, _key(m) if key is None else key, key=_first)
        number = new.inflight[i][1]
        if kind == "duplicate":
            new.used["duplicates"] += 1
        elif not sys.static.keep:
            new.inflight.pop(i)
        if kind == "drop":
            new.used["drops"] += 1
            return new
        if new.nodes[m.dst] is not None:           # delivered to a crashed node: lost
            new.react(m.dst, number, lambda node: node.on_message(m.src, m.msg), cache)
    elif kind == "timer":
        new.timers.discard((n, step.timer))
        new.react(n, ("timer", step.timer), lambda node: node.on_timer(step.timer), cache)
    elif kind == "crash":
        new.used["crashes"] += 1
        new.nodes[n] = None
        new.timers = {t for t in new.timers if t[0] != n}
        # what is left (the storage) is a function of the node's key: cache it like a reaction
        ck = (n, sys.keys[n], "crash")
        hit = cache.get(ck) if cache is not None else None
        if hit is None:
            new.rekey(n)
            if cache is not None:
                cache[ck] = (new.keys[n], new.states[n])
        else:
            new.keys[n], new.states[n] = hit
    elif kind == "restart":
        new.own(n)                                   # a private copy of the storage
        new.nodes[n] = new.build(n)
        new.nodes[n].on_recover()
        new.rekey(n)
    else:  # pragma: no cover - Step kinds are produced by _enabled only
        raise ValueError(f"step kind must be one of {STEP_KINDS} (got {kind!r})")
    return new


def _check(invariants: Mapping[str, Callable[[StateView], InvariantResult]],
           view: StateView) -> tuple[str, str] | None:
    for name, inv in invariants.items():
        verdict = inv(view)
        if verdict is True:
            continue
        if verdict is False:
            return name, ""
        if isinstance(verdict, str):
            return name, verdict
        raise ValueError(f"invariant {name!r} must return True, False or a message string "
                         f"(got {verdict!r})")
    return None


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer (got {value!r})")
    return value


def _check_symmetry(symmetry: Sequence[Sequence[str]] | None, nodes: Mapping[str, NodeSpec],
                    crash_set: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    if symmetry is None:
        return ()
    what = "symmetry must be a list of groups of at least 2 node names, each name in one group"
    if isinstance(symmetry, str) or not isinstance(symmetry, Sequence):
        raise ValueError(f"{what} (got {symmetry!r})")
    groups: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for g in symmetry:
        if isinstance(g, str) or not isinstance(g, Sequence) or len(g) < 2:
            raise ValueError(f"{what} (got {symmetry!r})")
        for n in g:
            if n not in nodes:
                raise ValueError(f"symmetry names unknown node {n!r}; nodes: {', '.join(nodes)}")
            if n in seen:
                raise ValueError(f"{what} (got {n!r} twice in {symmetry!r})")
            seen.add(n)
        groups.append(tuple(g))
    if math.prod(math.factorial(len(g)) for g in groups) > 5040:
        raise ValueError(f"symmetry groups must have at most 5040 renamings in all (got {symmetry!r})")
    for g in groups:
        if len({n in crash_set for n in g}) > 1:
            raise ValueError(f"symmetry group {g} must be all crashable or none "
                             f"(crashable: {list(crash_set)})")
    # Every renaming must map each node's (class, configuration) to its image's.
    static = _Static(nodes, False, 0, tuple(groups))
    for ren, _ in static.perms:
        for n, (cls, config) in nodes.items():
            m = ren.get(n, n)
            if nodes[m][0] is not cls or (_unordered(_canon_renamed(config, ren))
                                          != _unordered(canon(nodes[m][1]))):
                raise ValueError(f"symmetry group nodes must have the same class and configuration up to "
                                 f"their names: renaming {ren} maps {n}'s ({cls.__name__}, {config!r}) "
                                 f"to {m}'s ({nodes[m][0].__name__}, {nodes[m][1]!r})")
    return tuple(groups)


def _check_nodes(nodes: Mapping[str, NodeSpec]) -> None:
    if not isinstance(nodes, Mapping) or not nodes:
        raise ValueError("nodes must be a non-empty dict {name: (NodeClass, config dict)}")
    for name, spec in nodes.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"nodes keys must be non-empty strings (got {name!r})")
        if (not isinstance(spec, tuple) or len(spec) != 2 or not isinstance(spec[0], type)
                or not issubclass(spec[0], Node) or not isinstance(spec[1], dict)):
            raise ValueError(f"nodes[{name!r}] must be (a distlib.sim.Node subclass, a config dict) "
                             f"(got {spec!r})")


def explore(nodes: Mapping[str, NodeSpec],
            invariants: Mapping[str, Callable[[StateView], InvariantResult]], *,
            initial: Callable[[Any], None] | None = None,
            max_states: int = 200_000, max_depth: int | None = None,
            max_drops: int = 0, max_duplicates: int = 0, max_crashes: int = 0,
            restarts: bool = True, crashable: Sequence[str] | None = None,
            keep_messages: bool = False, seed: int = 0,
            symmetry: Sequence[Sequence[str]] | None = None) -> ExploreResult:
    """Explore every interleaving of ``nodes`` breadth-first, checking ``invariants`` at each state.

    ``nodes`` maps a name to ``(NodeClass, config)``; nodes boot with ``on_start``
    in dict order. ``initial(system)`` then runs once (``system.nodes`` and
    ``system.send(src, dst, msg)``, e.g. to inject a client's request); the same
    function is given the World by :func:`replay`. An invariant returns True
    (holds), False, or a string explaining the violation. A handler that raises
    is reported as a violation of ``"no exception"``.

    ``crashable`` limits which nodes may crash (default: all); ``restarts``
    allows restarting crashed nodes. See the module docstring for the bounds.

    ``symmetry`` (opt-in) lists groups of interchangeable nodes, e.g. ``[("p1", "p2",
    "p3")]``: states that differ only by a renaming of the names within groups count as
    one (symmetry reduction; Ip & Dill's scalarsets, TLC's ``SYMMETRY``). A group's
    nodes must have the same class and the same configuration up to their names, and
    all or none of them be crashable (both checked); every string equal to a grouped
    name is taken to denote that node. The invariants must not tell the nodes of a
    group apart (not checked). The search stays exact on the quotient: the same
    verdict, a shortest counterexample of the same length, and it replays as is
    (every step is one the search actually took); ``states`` counts orbits.
    """
    _check_nodes(nodes)
    if not isinstance(invariants, Mapping):
        raise ValueError("invariants must be a dict {name: predicate(view) -> True | False | str}")
    if _count("max_states", max_states) < 1:
        raise ValueError(f"max_states must be >= 1 (got {max_states})")
    if max_depth is not None:
        _count("max_depth", max_depth)
    for name, v in (("max_drops", max_drops), ("max_duplicates", max_duplicates),
                    ("max_crashes", max_crashes)):
        _count(name, v)
    if keep_messages and (max_drops or max_duplicates):
        raise ValueError("max_drops and max_duplicates must be 0 with keep_messages=True "
                         "(messages in a set that only grows are never lost or repeated)")
    crash_set = tuple(nodes) if crashable is None else tuple(crashable)
    for n in crash_set:
        if n not in nodes:
            raise ValueError(f"crashable names unknown node {n!r}; nodes: {', '.join(nodes)}")
    check_seed(seed)
    groups = _check_symmetry(symmetry, nodes, crash_set)
    bounds = _Bounds(max_drops, max_duplicates, max_crashes, restarts,
                     tuple(n for n in nodes if n in crash_set))
    bounds_info = {"max_states": max_states, "max_depth": max_depth, "max_drops": max_drops,
                   "max_duplicates": max_duplicates, "max_crashes": max_crashes,
                   "keep_messages": keep_messages, "symmetry": groups or None}

    t0 = time.perf_counter()   # reported in the result only; never steers the search
    init = _Sys(_Static(nodes, keep_messages, seed, groups))
    fingerprint = _Sys.symmetric_fingerprint if groups else _Sys.fingerprint
    for n in init.static.names:
        init.nodes[n] = init.build(n)
    for n in init.static.names:
        init.nodes[n].on_start()
    if initial is not None:
        initial(init)
    for n in init.static.names:
        init.rekey(n)

    def result(status: str, **kw: Any) -> ExploreResult:
        return ExploreResult(status=status, states=len(parents), depth=max_seen, transitions=transitions,
                             seconds=time.perf_counter() - t0, bounds=bounds_info, **kw)

    def path(fp: bytes) -> list[Step]:
        steps: list[Step] = []
        while True:
            parent, step = parents[fp]
            if parent is None:
                return steps[::-1]
            steps.append(step)
            fp = parent

    def violation(fp: bytes, found: tuple[str, str], view: StateView | None) -> ExploreResult:
        return result("violation", counterexample=path(fp), invariant=found[0], message=found[1],
                      final=view)

    fp0 = fingerprint(init)
    parents: dict[bytes, tuple[bytes | None, Step | None]] = {fp0: (None, None)}
    transitions = 0
    max_seen = 0
    depth_limited = False
    view0 = init.view()
    found = _check(invariants, view0)
    if found:
        return violation(fp0, found, view0)

    cache: dict[tuple, tuple] = {}   # (node, its key, event) -> its reaction; see _Sys.react
    queue: deque[tuple[_Sys, bytes, int]] = deque([(init, fp0, 0)])
    while queue:
        sys, fp, depth = queue.popleft()
        steps = _enabled(sys, bounds)
        if max_depth is not None and depth >= max_depth:
            depth_limited = depth_limited or bool(steps)
            sys.release()
            continue
        for step, mkey in steps:
            transitions += 1
            try:
                child = _successor(sys, step, cache, mkey)
            except Exception as exc:  # a protocol bug found by exploration: report it with its path
                bad = hashlib.blake2b(repr(("exception", fp, step)).encode(), digest_size=16).digest()
                parents[bad] = (fp, step)
                max_seen = max(max_seen, depth + 1)
                return violation(bad, ("no exception", f"{type(exc).__name__}: {exc}"), None)
            cfp = fingerprint(child)
            if cfp in parents:
                child.release()
                continue
            if len(parents) >= max_states:
                return result("budget exhausted", depth_limited=depth_limited)
            parents[cfp] = (fp, step)
            max_seen = max(max_seen, depth + 1)
            view = child.view()
            found = _check(invariants, view)
            if found:
                return violation(cfp, found, view)
            queue.append((child, cfp, depth + 1))
        sys.release()
    return result("ok", depth_limited=depth_limited)


# ---- replay in the simulator ----------------------------------------------------------------
class ReplayWorld(World):
    """A scripted :class:`World` (``scripted=True``) that applies counterexample steps.

    Messages wait in ``in_flight`` and timers stay armed until :meth:`apply_step` says what
    happens next; the World's own delivery, timer and fault code then runs, so the trace is
    the simulator's. With ``keep_messages`` (TLA+'s message set) a delivery leaves a copy in
    flight. A reply to a sender outside the cluster (injected by ``initial``) goes to a client.
    """

    def __init__(self, seed: int = 0, *, keep_messages: bool = False):
        super().__init__(seed, scripted=True)
        self.keep_messages = keep_messages

    def send(self, src: str, dst: str, msg: Any) -> None:
        if dst not in self.nodes and dst not in self.clients:
            self.client(dst)
        super().send(src, dst, msg)

    def _msg_id(self, m: Message) -> int:
        for mid, (_, src, dst, msg, _sent) in self.in_flight.items():
            if src == m.src and dst == m.dst and msg == m.msg:
                return mid
        raise RuntimeError(f"replay diverged: {m} is not in flight")

    def apply_step(self, step: Step) -> None:
        """Make ``step`` happen now; monitors run after it, as after any simulator event."""
        if step.kind in ("deliver", "duplicate", "drop"):
            assert step.message is not None
            mid = self._msg_id(step.message)
            if step.kind == "drop":
                self.drop(mid)
            else:
                if step.kind == "duplicate" or self.keep_messages:
                    self.duplicate(mid)           # the copy stays in flight
                self.deliver(mid)                 # runs the monitors itself
            return
        if step.kind == "timer":
            if step.timer not in self.timers(step.node):
                raise RuntimeError(f"replay diverged: timer {step.timer!r} of {step.node} is not armed")
            self.fire(step.node, step.timer)      # runs the monitors itself
        elif step.kind == "crash":
            self.crash(step.node)
            self.check_monitors()
        elif step.kind == "restart":
            self.restart(step.node)               # runs the monitors itself
        else:
            raise ValueError(f"step.kind must be one of {STEP_KINDS} (got {step.kind!r})")


def replay(counterexample: Sequence[Step], nodes: Mapping[str, NodeSpec], *,
           initial: Callable[[Any], None] | None = None, keep_messages: bool = False,
           seed: int = 0, tick: float = 1.0) -> ReplayWorld:
    """Run ``counterexample`` in the simulator: one step every ``tick`` of simulated time.

    Returns the world, so ``world.trace`` holds the same deliveries in the same
    order as the counterexample (ready for ``distlib.viz.spacetime``). Pass the
    same ``nodes``, ``initial`` and ``keep_messages`` as to :func:`explore`.
    """
    _check_nodes(nodes)
    tick = number("tick", tick, above=True)
    world = ReplayWorld(seed, keep_messages=keep_messages)
    for name, (cls, config) in nodes.items():
        world.add_node(name, cls, **config)
    world.run(until=tick / 2)          # every on_start, at time 0
    if initial is not None:
        initial(world)
    for i, step in enumerate(counterexample, 1):
        if not isinstance(step, Step):
            raise ValueError(f"counterexample must be a list of Step (item {i} is {step!r})")
        world.run(until=i * tick)      # nothing else is scheduled: this only advances the clock
        world.apply_step(step)
    return world
