"""Model checking Multi-Paxos with clients: is anyone told "ok" for a command that was not decided?

Per-slot agreement is not enough: the stale-ack bug of issue 7 (section 7) kept agreement
and still told a client "ok" for a slot that every replica decided as something else.
Random fault sweeps of ~29,000 runs never hit it; a breadth-first search over the
interleavings of a small configuration does, in 18 steps. The configuration
(:func:`multipaxos_model`):

- **Servers** n1, n2, n3 run the class under test, wrapped by :func:`bounded` so that the
  state space is finite and small: n1 may campaign twice and n2 once (n3 never); each
  leader addresses a fixed majority (n1 asks {n1, n2}, n2 asks {n2, n3} — Lamport's
  "some set of acceptors", as in :func:`~distlib.check.paxos_invariants.paxos_model`;
  decisions still go to everyone); no heartbeats (time is abstract and messages are lost
  only by a ``drop`` step, so heartbeats would only add states).
- **Clients** are actor nodes (:class:`ModelClient`): cA asks n1 for "A", cB asks n2 for
  "B", one request each, no retries, and remember the ok replies they receive.
- **Invariant** (:func:`acked_only_if_decided`): a client that received ``ok`` for slot s
  holds a command that every server which has decided s decided there (and some server
  has decided s). Decisions live in storage, so the invariant also holds across crashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlib.consensus.multipaxos import MultiPaxosNode, Reply, Request
from distlib.sim import Node

SERVERS = ("n1", "n2", "n3")


class ModelClient(Node):
    """Sends one ``Request`` to ``server`` when it starts; keeps every ok reply it receives in storage."""

    def __init__(self, *, server: str, command: Any):
        self.server = server
        self.command = command

    def on_start(self) -> None:
        if not self.storage.get("sent"):
            self.storage["sent"] = True
            self.storage["command"] = self.command
            self.send(self.server, Request(f"{self.id}:1", self.command))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Reply) and msg.ok:
            self.storage["acked"] = tuple(self.storage.get("acked", ())) + ((src, msg.slot),)


_BOUNDED: dict[type, type] = {}


def bounded(cls: type[MultiPaxosNode]) -> type[MultiPaxosNode]:
    """``cls`` with the model's bounds: at most ``max_campaigns`` campaigns (counted in storage, so a
    restart does not reset it), Prepare/Accept sent only to ``contact``, no heartbeats.

    The protocol code is ``cls``'s own; only when a node campaigns, whom it asks and the
    heartbeat timer change. One class per ``cls`` (cached), so runs are comparable.
    """
    if not (isinstance(cls, type) and issubclass(cls, MultiPaxosNode)):
        raise ValueError(f"cls must be a MultiPaxosNode subclass (got {cls!r})")
    if cls not in _BOUNDED:
        _BOUNDED[cls] = type(f"Bounded{cls.__name__}", (_Bounds, cls), {"__module__": __name__})
    return _BOUNDED[cls]


class _Bounds(MultiPaxosNode):
    def __init__(self, *, max_campaigns: int = 0, contact: tuple[str, ...] | None = None, **config: Any):
        super().__init__(**config)
        self.max_campaigns = max_campaigns
        self.contact = contact

    @property
    def members(self) -> tuple[str, ...]:
        # The majority size stays that of the whole cluster: len(contact) == 2 == majority(3).
        return self.contact if self.contact is not None else super().members

    def _may_campaign(self) -> bool:
        return self.storage.get("campaigns", 0) < self.max_campaigns

    def reset_election_timer(self) -> None:
        if self._may_campaign():
            super().reset_election_timer()
        else:
            self.cancel_timer("election")      # a timer that can do nothing would only add states

    def campaign(self) -> None:
        if self._may_campaign():
            self.storage["campaigns"] = self.storage.get("campaigns", 0) + 1
            super().campaign()

    def send_heartbeats(self, *, resend: bool = True) -> None:
        pass


@dataclass(frozen=True)
class ClientSpec:
    name: str
    server: str
    command: Any


CLIENTS = (ClientSpec("cA", "n1", "A"), ClientSpec("cB", "n2", "B"))


def multipaxos_model(cls: type[MultiPaxosNode] = MultiPaxosNode, *,
                     clients: tuple[ClientSpec, ...] = CLIENTS,
                     campaigns: dict[str, int] | None = None) -> dict[str, tuple[type, dict[str, Any]]]:
    """Node specs for :func:`distlib.check.explore.explore`: servers n1..n3 of class ``cls`` (bounded,
    see :func:`bounded`) and one :class:`ModelClient` per client spec."""
    campaigns = {"n1": 2, "n2": 1} if campaigns is None else campaigns
    contact = {"n1": ("n1", "n2"), "n2": ("n2", "n3"), "n3": ("n3", "n1")}
    for n, k in campaigns.items():
        if n not in SERVERS:
            raise ValueError(f"campaigns names {n!r}; servers are {', '.join(SERVERS)}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"campaigns[{n!r}] must be an integer >= 0 (got {k!r})")
    specs: dict[str, tuple[type, dict[str, Any]]] = {}
    for n in SERVERS:
        specs[n] = (bounded(cls), {"max_campaigns": campaigns.get(n, 0), "contact": contact[n]})
    for c in clients:
        if c.server not in SERVERS or c.name in SERVERS:
            raise ValueError(f"clients must be named apart from the servers and address one of "
                             f"{', '.join(SERVERS)} (got {c!r})")
        specs[c.name] = (ModelClient, {"server": c.server, "command": c.command})
    return specs


def acked_only_if_decided(view: Any) -> bool | str:
    """A client told ``ok`` for slot s: some server decided s, and every server that did decided its
    command there."""
    for name, state in view.states.items():
        if name in SERVERS:
            continue
        storage = state["storage"]
        command = storage.get("command")
        for server, slot in storage.get("acked", ()):
            decided = {s: view.states[s]["storage"].get("decided", {}).get(slot) for s in SERVERS}
            holders = {s: v for s, v in decided.items() if v is not None}
            if not holders:
                return f"{server} told {name} ok for slot {slot}, which no server has decided"
            wrong = {s: v for s, v in holders.items() if v != command}
            if wrong:
                where = ", ".join(f"{s} decided {v!r}" for s, v in sorted(wrong.items()))
                return f"{server} told {name} ok for {command!r} in slot {slot}, but {where} there"
    return True


def model_invariants() -> dict[str, Any]:
    return {"acked only if decided": acked_only_if_decided}
