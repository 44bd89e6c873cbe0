"""A Chubby cell on chapter 03's Raft: five replicas, the master is the Raft leader (Burrows §2.1).

Every mutation is a command in the Raft log (:class:`~.namespace.Command`), applied by
:class:`~.namespace.Namespace` on each replica; only the master answers clients, and only once the
command is applied — so a deposed master can never answer. Reads (``get``/``list``/``check``) use
Raft's ReadIndex (``read_mode="read_index"``, the default: leadership confirmed by a heartbeat round,
state applied up to the read index, no log entry) or go through the log (``read_mode="log"``); either
way a read never misses a committed write.

Sessions and leases (§2.8), the master's side:

* A KeepAlive is a log entry. When it is applied on the master, the master extends the session's
  lease to ``now + lease`` and replies with that time (``valid_until``). The client started timing
  when it *sent* the KeepAlive, so its own lease ends before the master's.
* The master keeps lease deadlines in memory only. When one passes it proposes ``expire(session,
  renewals)``; the state machine ignores it if a KeepAlive was applied since (§2.8: "the master ...
  never expires a session whose lease it has extended").
* **Fail-over** (§2.9): a new master does not know what its predecessor promised, so once its first
  (no-op) entry is applied — it then knows every committed session — it grants *every* session a
  fresh lease of ``now + lease`` ("the new master ... conservatively assumes" each lease was just
  extended). Together with the client's grace period this lets sessions survive a fail-over.

Caching (§2.5): a ``get`` reply is *cacheable* unless a modification of the path is in progress, and
the master records the session as caching the path. A ``create``/``set``/``delete`` (and a session
expiry, for its ephemeral files) is *held*: the master sends :class:`Invalidate` to every caching
session and proposes the command only once each has acknowledged or its lease has expired at the
master (the client drops its cache when its own, shorter lease ends). A new master knows no cachers,
so it presumes every session caches every path, and refuses modifications until it is ready.
Events (§2.7: modified, child, lock, failover) are sent after the action, best effort.

Broken variant :class:`EagerInvalidationServer` does not wait for the acknowledgements (a cached
read can return a value older than a committed write: the namespace linearizability check catches
it). Broken variant :class:`AmnesiacServer` skips that conservative extension (it expires at once every
session it has not heard from itself), so a lock can be granted while a lease the old master
promised is still running: the session-safety checker catches it.

:class:`ResourceServer` is the downstream server a lock protects (§2.4, Kleppmann 2016): it keeps the
highest lock generation it has seen and rejects writes carrying an older sequencer (``fenced=True``);
``fenced=False`` is the broken server that accepts everything.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from distlib.consensus.raft import LEADER, NOOP, Entry, RaftNode
from distlib.sim import Node
from distlib.sim.validate import flag, number, one_of

from .namespace import (
    MODIFYING,
    NO_SUCH_FILE,
    NOT_MASTER,
    READS,
    STALE_SEQUENCER,
    WRONG_LOCK,
    Command,
    Namespace,
    Result,
    Sequencer,
)


# ---- configuration ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellConfig:
    """Lease lengths (seconds of simulated time; Chubby's defaults are 12 s leases and a 45 s grace).

    * ``lease`` — the master's lease per KeepAlive.
    * ``client_lease`` — how long the client trusts a KeepAlive reply, from when it *sent* the
      KeepAlive, measured on its own clock; must be shorter than ``lease``.
    * ``max_drift`` — the largest clock-rate error a client allows for: it shortens its local lease
      by that fraction, so even a clock running slow by ``max_drift`` ends it in time.
    * ``keepalive`` — how often a client sends a KeepAlive (well inside ``client_lease``).
    * ``grace`` — how long a client in *jeopardy* keeps trying before it declares the session expired.
    * ``lock_delay`` — how long a lock freed by an expired session stays unavailable.
    * ``rpc_timeout`` — a client's wait for a reply before it tries the next server.
    """

    lease: float = 0.6
    client_lease: float = 0.5
    max_drift: float = 0.02
    keepalive: float = 0.2
    grace: float = 1.5
    lock_delay: float = 0.0
    rpc_timeout: float = 0.1

    def __post_init__(self) -> None:
        lease = number("lease", self.lease, above=True)
        client_lease = number("client_lease", self.client_lease, above=True)
        if client_lease >= lease:
            raise ValueError(f"client_lease must be a number in (0, lease={lease:g}) "
                             f"(got {self.client_lease!r})")
        number("max_drift", self.max_drift, 0.0, 0.5)
        if number("keepalive", self.keepalive, above=True) >= client_lease * (1 - self.max_drift):
            raise ValueError(f"keepalive must be a number in (0, client_lease*(1-max_drift)="
                             f"{client_lease * (1 - self.max_drift):g}) (got {self.keepalive!r})")
        number("grace", self.grace, above=True)
        number("lock_delay", self.lock_delay)
        number("rpc_timeout", self.rpc_timeout, above=True)

    def unchecked(self, **changes: Any) -> CellConfig:
        """A copy with ``changes`` applied *without* the checks (for the broken variants only)."""
        new = object.__new__(CellConfig)
        for f in dataclasses.fields(self):
            object.__setattr__(new, f.name, changes.get(f.name, getattr(self, f.name)))
        return new


# ---- messages --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellRequest:
    """A client's command; the master stamps ``at`` and proposes it."""

    req_id: str
    command: Command

    def __repr__(self) -> str:
        return f"Req({self.command!r})"


@dataclass(frozen=True)
class CellReply:
    """The answer to a :class:`CellRequest` (``valid_until``: the lease end, for open/keepalive)."""

    req_id: str
    kind: str
    session: int | None
    ok: bool
    value: Any = None
    error: str | None = None
    detail: str = ""
    valid_until: float | None = None
    leader_hint: str | None = None
    cacheable: bool = False            # a get's contents may be cached (no invalidation in flight)

    def __repr__(self) -> str:
        if self.ok:
            lease = "" if self.valid_until is None else f", lease→{self.valid_until:.3f}"
            return f"Reply({self.kind} ok {self.value!r}{lease})"
        return f"Reply({self.kind} {self.error})"


@dataclass(frozen=True)
class Invalidate:
    """§2.5: the master asks a caching client to drop ``path`` before a modification proceeds."""

    session: int
    path: str

    def __repr__(self) -> str:
        return f"Invalidate({self.path})"


@dataclass(frozen=True)
class InvalidateAck:
    session: int
    path: str

    def __repr__(self) -> str:
        return f"InvalAck({self.path})"


@dataclass(frozen=True)
class CellEvent:
    """§2.7: delivered after the action: ``modified``, ``child``, ``lock`` (on ``path``) or
    ``failover`` (a new master; clients flush their caches)."""

    session: int
    kind: str
    path: str | None = None

    def __repr__(self) -> str:
        return f"Event({self.kind} {self.path or ''})".replace(" )", ")")


@dataclass
class _Held:
    """A modification waiting for cache invalidations (or the cachers' leases) before it is proposed."""

    src: str
    req_id: str
    command: Command
    paths: tuple[str, ...]
    waiting: set[int]


@dataclass(frozen=True)
class ResourceWrite:
    """A write to the protected resource; ``sequencer`` is None for a client that does not fence.
    ``generation`` is the lock generation the writer held (recorded for the checker, never trusted)."""

    req_id: str
    client: str
    value: str
    sequencer: Sequencer | None
    generation: int

    def __repr__(self) -> str:
        return f"Write({self.value}, {self.sequencer!r})"


@dataclass(frozen=True)
class ResourceReply:
    req_id: str
    ok: bool
    error: str | None = None

    def __repr__(self) -> str:
        return "WriteOK" if self.ok else f"WriteRejected({self.error})"


CELL = ("n1", "n2", "n3", "n4", "n5")
# How the master answers get/list/check: "read_index" (Raft's ReadIndex, thesis §6.4: confirmed
# leadership, no log entry) or "log" (a log entry like any command).
READ_MODES = ("read_index", "log")


# ---- the cell's servers ----------------------------------------------------------------------------
class ChubbyServer(RaftNode):
    """One replica of the cell. Config: ``cell`` (the replicas' names), ``config`` (a
    :class:`CellConfig`), and Raft's own keyword arguments."""

    def __init__(self, *, cell: tuple[str, ...] = CELL, config: CellConfig | None = None,
                 read_mode: str = "read_index", **raft: Any):
        self.cell = tuple(cell)
        self.read_mode = one_of("read_mode", read_mode, READ_MODES)
        self.config = config if config is not None else CellConfig()
        if not isinstance(self.config, CellConfig):
            raise ValueError(f"config must be a CellConfig (got {config!r})")
        raft.setdefault("election_timeout", (0.15, 0.3))
        raft["noop_on_elect"] = True           # the no-op tells a new master when it knows everything
        raft["state_machine"] = functools.partial(Namespace, lock_delay=self.config.lock_delay)
        super().__init__(**raft)

    def on_start(self) -> None:
        # The world's other endpoints (clients, the resource) are not voters.
        self.peers = tuple(p for p in self.cell if p != self.id)
        super().on_start()
        self.pending: dict[int, tuple[str, str, Command]] = {}
        self.ready = False                     # master and caught up (its no-op applied)
        self.leases: dict[int, float] = {}     # session -> lease end (master only, in memory)
        self.expiring: set[int] = set()
        # §2.5 caching, master side (memory only): who may cache which path. A new master knows
        # nothing, so for a path not in cache_known every session is presumed to cache it.
        self.cachers: dict[str, set[int]] = {}
        self.cache_known: set[str] = set()
        self.uncachable: dict[str, int] = {}    # path -> modifications in progress (gets not cacheable)
        self.held: list[_Held] = []
        self.in_flight: dict[tuple, tuple[str, ...]] = {}   # held-then-proposed command -> its paths
        self.fresh_sessions: set[int] = set()   # opened under this master: their caching is known
        self.cache_presumed: set[int] = set()   # sessions that existed when this master got ready

    # ---- clients ----------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, CellRequest):
            self._on_request(src, msg)
        elif isinstance(msg, InvalidateAck):
            self._on_invalidate_ack(msg)
        else:
            super().on_message(src, msg)

    def _on_request(self, src: str, msg: CellRequest) -> None:
        cmd = msg.command
        if self.role != LEADER:
            self.send(src, CellReply(msg.req_id, getattr(cmd, "kind", "?"), getattr(cmd, "session", None),
                                     False, error=NOT_MASTER, leader_hint=self.leader_hint))
            return
        if not isinstance(cmd, Command):
            self.send(src, CellReply(msg.req_id, "?", None, False, error="bad request"))
            return
        if cmd.kind in MODIFYING and not self.ready:
            # §2.9: a new master accepts no modification before it knows the sessions (and has told
            # them to flush their caches): the client retries shortly.
            self.send(src, CellReply(msg.req_id, cmd.kind, cmd.session, False, error="retry",
                                     leader_hint=self.id))
            return
        if cmd.kind in MODIFYING and isinstance(cmd.path, str):
            if any(h.command.session == cmd.session and h.command.seq == cmd.seq for h in self.held):
                return                            # a retry of a request already waiting
            self._hold(src, msg.req_id, cmd, (cmd.path,))
            return
        if cmd.kind in READS and self.read_mode == "read_index":
            self.read((src, msg.req_id, cmd))
            return
        self._propose_for(src, msg.req_id, cmd)

    def on_read_ready(self, token: Any) -> None:
        src, req_id, cmd = token
        self._reply(src, req_id, cmd, self.sm.query(cmd))

    def on_read_failed(self, token: Any) -> None:
        src, req_id, cmd = token
        self.send(src, CellReply(req_id, cmd.kind, cmd.session, False, error="retry",
                                 leader_hint=self.leader_hint))

    def _propose_for(self, src: str, req_id: str, cmd: Command) -> None:
        cmd = dataclasses.replace(cmd, at=self.now)
        self.pending[self.last_index + 1] = (src, req_id, cmd)
        self.propose(cmd)

    # ---- §2.5 cache invalidation: a modification waits until no client can read the old value -----
    def _hold(self, src: str, req_id: str, cmd: Command, paths: tuple[str, ...]) -> None:
        waiting: set[int] = set()
        for path in paths:
            caching = self.cachers.pop(path, set())
            if path not in self.cache_known:       # sessions older than this master may cache it
                caching |= set(self.sm.sessions) - self.fresh_sessions
            self.cache_known.add(path)
            self.uncachable[path] = self.uncachable.get(path, 0) + 1
            for sid in sorted(caching):
                if sid in self.sm.sessions:
                    waiting.add(sid)
                    self.send(self._client_of(sid), Invalidate(sid, path))
        self.in_flight[(cmd.kind, cmd.session, cmd.seq)] = paths
        self.held.append(_Held(src, req_id, cmd, paths, waiting))
        if waiting:
            self.set_timer("invalidate", self.config.rpc_timeout)
        self._release_held()

    def _client_of(self, sid: int) -> str:
        return str(self.sm.sessions[sid][0]).split("#")[0]

    def _release_held(self) -> None:
        still = []
        for h in self.held:
            h.waiting = {s for s in h.waiting if s in self.sm.sessions and self.leases.get(s, 0.0) > self.now}
            if h.waiting:
                still.append(h)
            else:
                if h.command.kind == "expire":
                    self.propose(h.command)
                else:
                    self._propose_for(h.src, h.req_id, h.command)
        self.held = still

    def _modified(self, cmd: Command) -> None:
        """A held modification was applied (first copy only): its paths may be cached again."""
        key = (cmd.kind, cmd.session, cmd.seq)
        for path in self.in_flight.pop(key, ()):
            left = self.uncachable.get(path, 0) - 1
            if left > 0:
                self.uncachable[path] = left
            else:
                self.uncachable.pop(path, None)

    def _on_invalidate_ack(self, msg: InvalidateAck) -> None:
        if self.role != LEADER:
            return
        for h in self.held:
            if msg.path in h.paths:
                h.waiting.discard(msg.session)
        self._release_held()

    def _events(self, cmd: Command, result: Result) -> None:
        """§2.7: events go out after the action (best effort, like any message)."""
        path = cmd.path
        if not result.ok or not isinstance(path, str):
            return
        out: list[tuple[int, str, str]] = []
        if cmd.kind == "set":
            out += [(s, "modified", path) for s in self.sm.watchers(path, "modified")]
        elif cmd.kind in ("create", "delete"):
            parent = path.rsplit("/", 1)[0]
            out += [(s, "child", parent) for s in self.sm.watchers(parent, "child")]
        elif cmd.kind == "acquire":
            out += [(s, "lock", path) for s in self.sm.watchers(path, "lock")]
        for sid, kind, p in out:
            if sid in self.sm.sessions:
                self.send(self._client_of(sid), CellEvent(sid, kind, p))

    def on_apply(self, index: int, entry: Entry, result: Any) -> None:
        cmd = entry.command
        if self.role == LEADER:
            if cmd is NOOP:
                if entry.term == self.current_term and not self.ready:
                    self._become_ready()
            elif isinstance(cmd, Command) and isinstance(result, Result):
                self._track_lease(cmd, result)
                if cmd.kind in MODIFYING or cmd.kind == "expire":
                    self._modified(cmd)
                if self.ready:
                    self._events(cmd, result)
        waiting = self.pending.pop(index, None)
        if waiting is None:
            return
        src, req_id, mine = waiting
        if cmd != mine:
            self.send(src, CellReply(req_id, mine.kind, mine.session, False, error="retry",
                                     leader_hint=self.leader_hint))
            return
        self._reply(src, req_id, mine, result)

    def _reply(self, src: str, req_id: str, mine: Command, result: Result) -> None:
        sid = result.value if mine.kind == "open" and result.ok else mine.session
        until = self.leases.get(sid) if mine.kind in ("open", "keepalive") and result.ok else None
        cacheable = False
        if (mine.kind == "get" and (result.ok or result.error == NO_SUCH_FILE) and self.ready
                and not self.uncachable.get(mine.path, 0)):     # §2.5: absence is cached too
            # Registered before the reply leaves: a later modification will invalidate this copy.
            cacheable = True
            self.cachers.setdefault(mine.path, set()).add(sid)
        self.send(src, CellReply(req_id, mine.kind, sid, result.ok, result.value, result.error,
                                 result.detail, until, cacheable=cacheable))

    def _track_lease(self, cmd: Command, result: Result) -> None:
        if cmd.kind in ("open", "keepalive") and result.ok:
            sid = result.value if cmd.kind == "open" else cmd.session
            if cmd.kind == "open" and self.ready and sid not in self.cache_presumed:
                self.fresh_sessions.add(sid)
            self.leases[sid] = max(self.leases.get(sid, 0.0), self.now + self.config.lease)
            self.expiring.discard(sid)
        elif cmd.kind in ("expire", "close"):
            if result.ok or cmd.kind == "expire" and result.error == "session expired":
                self.leases.pop(cmd.session, None)   # type: ignore[arg-type]
            self.expiring.discard(cmd.session)       # type: ignore[arg-type]
        self._arm_lease_timer()

    def _become_ready(self) -> None:
        """§2.9: the new master now knows every committed session; extend them all conservatively."""
        self.ready = True
        self.annotate("master ready")
        self.cache_presumed = set(self.sm.sessions)
        for sid in sorted(self.sm.sessions):
            self.leases[sid] = self._failover_lease(sid)
            # §2.9: a fail-over event; clients flush their caches (this master does not know them).
            self.send(self._client_of(sid), CellEvent(sid, "failover"))
        self._arm_lease_timer()

    def _failover_lease(self, sid: int) -> float:
        return max(self.leases.get(sid, 0.0), self.now + self.config.lease)

    def _arm_lease_timer(self) -> None:
        live = [t for s, t in self.leases.items() if s not in self.expiring]
        if self.ready and live:
            self.set_timer("leases", max(0.0, min(live) - self.now))
        else:
            self.cancel_timer("leases")

    def on_timer(self, name: str) -> None:
        if name == "leases":
            if self.role == LEADER and self.ready:
                for sid in [s for s in self.leases if s not in self.sm.sessions]:
                    del self.leases[sid]               # ended by an entry applied meanwhile
                for sid in sorted(self.leases):
                    if self.leases[sid] <= self.now and sid not in self.expiring:
                        self.expiring.add(sid)
                        expire = Command("expire", sid, 0, None, self.sm.sessions[sid][1], self.now)
                        # Its ephemeral files vanish with it: invalidate them first, like any change.
                        self._hold(self.id, "", expire, tuple(self.sm.ephemerals(sid)))
                self._release_held()
                self._arm_lease_timer()
        elif name == "invalidate":
            if self.role == LEADER and self.held:
                for h in self.held:                   # lost invalidations are sent again
                    for sid in sorted(h.waiting):
                        if sid in self.sm.sessions:
                            for path in h.paths:
                                self.send(self._client_of(sid), Invalidate(sid, path))
                self._release_held()
                if self.held:
                    self.set_timer("invalidate", self.config.rpc_timeout)
        else:
            super().on_timer(name)

    def on_lost_leadership(self) -> None:
        # What a deposed master promised stays promised: the next master extends every lease.
        self.pending.clear()
        self.leases.clear()
        self.expiring.clear()
        self.ready = False
        self.cancel_timer("leases")
        self.cancel_timer("invalidate")
        self.cachers.clear()
        self.cache_known.clear()
        self.uncachable.clear()
        self.held.clear()
        self.in_flight.clear()
        self.fresh_sessions.clear()
        self.cache_presumed.clear()


class EagerInvalidationServer(ChubbyServer):
    """BROKEN: sends cache invalidations but lets the modification proceed without waiting for the
    acknowledgements, so a client whose invalidation is slow or lost reads its stale cache."""

    def _release_held(self) -> None:
        for h in self.held:
            h.waiting.clear()
        super()._release_held()


class AmnesiacServer(ChubbyServer):
    """BROKEN: a new master does not extend leases on fail-over; sessions it has not renewed itself
    expire at once, although the old master may have promised them a lease that is still running."""

    def _failover_lease(self, sid: int) -> float:
        return self.leases.get(sid, self.now)


# ---- the resource a lock protects ------------------------------------------------------------------
class ResourceServer(Node):
    """A storage server behind the lock ``lock``. It records every write it saw (accepted or not) in
    ``storage["writes"]`` as ``(time, client, generation, value, accepted, reason)``.

    ``fenced=True`` (Burrows §2.4, Kleppmann's fencing token): a write must carry a sequencer for
    ``lock`` whose generation is at least the highest generation seen; older ones are rejected."""

    def __init__(self, *, lock: str = "/ls/cell/svc/primary", fenced: bool = True):
        self.lock = lock
        self.fenced = flag("fenced", fenced)

    def on_start(self) -> None:
        self.storage.setdefault("writes", [])
        self.storage.setdefault("highest", 0)

    def on_message(self, src: str, msg: Any) -> None:
        if not isinstance(msg, ResourceWrite):
            return
        error = self.check(msg.sequencer) if self.fenced else None
        accepted = error is None
        if accepted and msg.sequencer is not None:
            self.storage["highest"] = max(self.storage["highest"], msg.sequencer.generation)
        self.storage["writes"].append((self.now, msg.client, msg.generation, msg.value, accepted, error))
        if not accepted:
            self.annotate(f"rejected {msg.client}'s write: {error}")
        self.send(src, ResourceReply(msg.req_id, accepted, error))

    def check(self, seq: Sequencer | None) -> str | None:
        """The sequencer check: None if the write may go ahead, else the error."""
        if seq is None:
            return STALE_SEQUENCER + ": no sequencer"
        if seq.lock != self.lock or seq.mode != "exclusive":
            return WRONG_LOCK + f": {seq!r} is not an exclusive sequencer for {self.lock}"
        if seq.generation < self.storage["highest"]:
            return STALE_SEQUENCER + f": generation {seq.generation} < {self.storage['highest']}"
        return None
