"""Actor nodes: the only way protocol code meets the world.

A protocol is a subclass of :class:`Node` that reacts to four events::

    on_start()               the node boots for the first time
    on_message(src, msg)     a message arrived
    on_timer(name)           a timer it set has fired
    on_recover()             it restarted after a crash (volatile state is gone)

and acts only through ``send``, ``broadcast``, ``set_timer``, ``cancel_timer``,
``annotate`` and its ``storage`` (a dict that survives crashes). Nothing here
calls SimPy: the node talks to a :class:`Runtime`, which the simulator
(:class:`~distlib.sim.world.World`) or the model checker provides. This is the
etcd-io/raft style — the protocol is a pure state machine; I/O and time live
outside.

A crash discards the node *object*: a restart builds a fresh instance with the
same constructor arguments and hands it the old ``storage``. So anything not in
``storage`` really is lost, and a protocol that forgets to persist something
fails its tests instead of passing by accident.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol


class Runtime(Protocol):
    """What a node may ask of the world around it."""

    @property
    def now(self) -> float: ...
    def send(self, src: str, dst: str, msg: Any) -> None: ...
    def set_timer(self, node: str, name: str, delay: float) -> None: ...
    def cancel_timer(self, node: str, name: str) -> None: ...
    def annotate(self, node: str | None, text: str) -> None: ...


class Node:
    """Base class of every protocol actor.

    Subclasses keep volatile state in ordinary attributes (set in ``on_start``
    or ``on_recover``) and durable state in ``self.storage``.
    """

    # Attributes of the base class that are wiring, not protocol state; the
    # model checker leaves them out of a state's fingerprint.
    WIRING = frozenset({"id", "peers", "storage", "rng", "_runtime"})

    # Subclasses take their configuration as keyword arguments in their own
    # ``__init__`` (e.g. ``Participant(vote="no")``); the runtime re-creates the
    # object from the same configuration on restart, like a binary's flags.
    id: str
    peers: tuple[str, ...]
    storage: dict
    rng: random.Random

    def attach(self, node_id: str, peers: Sequence[str], storage: dict, runtime: Runtime,
               rng: random.Random) -> None:
        """Wire the node to a runtime (done by the World or the model checker, not by protocols)."""
        self.id = node_id
        self.peers = tuple(p for p in peers if p != node_id)
        self.storage = storage
        self.rng = rng
        self._runtime = runtime

    # ---- events (override these) ------------------------------------------------
    def on_start(self) -> None:
        """First boot. Default: nothing."""

    def on_message(self, src: str, msg: Any) -> None:
        """A message ``msg`` from ``src`` arrived."""

    def on_timer(self, name: str) -> None:
        """The timer ``name`` fired."""

    def on_recover(self) -> None:
        """Restart after a crash: rebuild volatile state from ``self.storage``.

        Default: run ``on_start`` again.
        """
        self.on_start()

    # ---- actions ---------------------------------------------------------------
    @property
    def now(self) -> float:
        return self._runtime.now

    def send(self, dst: str, msg: Any) -> None:
        self._runtime.send(self.id, dst, msg)

    def broadcast(self, msg: Any, include_self: bool = False) -> None:
        """Send ``msg`` to every peer (in sorted order, for determinism)."""
        targets = sorted(self.peers + ((self.id,) if include_self else ()))
        for dst in targets:
            self._runtime.send(self.id, dst, msg)

    def set_timer(self, name: str, delay: float) -> None:
        """(Re)arm timer ``name`` to fire after ``delay``; an armed timer of that name is replaced."""
        if not delay >= 0:
            raise ValueError(f"delay must be >= 0 (got {delay!r})")
        self._runtime.set_timer(self.id, name, delay)

    def cancel_timer(self, name: str) -> None:
        self._runtime.cancel_timer(self.id, name)

    def annotate(self, text: str) -> None:
        """Put a note in the trace (shown on diagrams)."""
        self._runtime.annotate(self.id, text)

    # ---- introspection -----------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The node's protocol state (volatile attributes and storage), for checkers and views."""
        out = {k: v for k, v in vars(self).items() if k not in self.WIRING}
        out["storage"] = dict(self.storage)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"
