"""Clients: SimPy processes that send requests, wait with a timeout, and record history.

A client is an endpoint on the network (it can be partitioned away like a
node) but never crashes. Requests must carry a ``req_id`` attribute and replies
echo it; :meth:`Client.request` records the Jepsen-style history::

    def workload(client):
        reply = yield from client.request("n1", Put(req_id=client.next_id(), key="x", value=1),
                                          f="write", key="x", value=1, timeout=0.5,
                                          interpret=lambda r: ("ok", None))
    world.process(workload(world.client("c1")))

``interpret(reply)`` maps a reply to ``("ok", value)`` or ``("fail", reason)``;
no reply before the timeout is recorded as ``info`` (outcome unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable
from typing import TYPE_CHECKING, Any

from .validate import number

if TYPE_CHECKING:
    from .world import World


class Client:
    def __init__(self, world: World, name: str):
        self.world = world
        self.name = name
        self._waiting: dict[Any, Any] = {}
        self._seq = 0

    def next_id(self) -> str:
        """A request id unique in the world: ``"c1:1"``, ``"c1:2"``, ..."""
        self._seq += 1
        return f"{self.name}:{self._seq}"

    def send(self, dst: str, msg: Any) -> None:
        self.world.send(self.name, dst, msg)

    def receive(self, src: str, msg: Any) -> None:
        event = self._waiting.pop(getattr(msg, "req_id", None), None)
        if event is not None:
            event.succeed(msg)

    def call(self, dst: str, msg: Any, *, timeout: float) -> Generator[Any, Any, Any]:
        """Send ``msg`` and wait for the reply carrying its ``req_id``; None on timeout."""
        timeout = number("timeout", timeout, above=True)
        req_id = getattr(msg, "req_id", None)
        if req_id is None:
            raise ValueError(f"msg must have a req_id attribute to match its reply (got {msg!r})")
        env = self.world.env
        reply = env.event()
        self._waiting[req_id] = reply
        self.send(dst, msg)
        expiry = env.timeout(timeout)
        yield reply | expiry
        if reply.triggered:
            return reply.value
        self._waiting.pop(req_id, None)
        return None

    def request(self, dst: str, msg: Any, *, f: str, key: Hashable | None = None, value: Any = None,
                timeout: float, interpret: Callable[[Any], tuple[str, Any]]) -> Generator[Any, Any, Any]:
        """:meth:`call`, recording invoke and ok/fail/info in ``world.history``."""
        history = self.world.history
        op = history.invoke(self.name, f, key, value, self.world.now)
        reply = yield from self.call(dst, msg, timeout=timeout)
        if reply is None:
            history.complete(op, "info", value, self.world.now)
            return None
        outcome, result = interpret(reply)
        if outcome not in ("ok", "fail"):
            raise ValueError(f"interpret must return ('ok'|'fail', value) (got {outcome!r})")
        history.complete(op, outcome, result, self.world.now)
        return reply
