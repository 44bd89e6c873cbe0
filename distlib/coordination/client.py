"""The Chubby client library and the applications that use it, as one simulated actor (Burrows §2.8).

Client side of a session:

* **Local lease**: a KeepAlive reply extends the client's lease to *send time* + ``client_lease``
  shortened by ``max_drift``, measured on the client's own clock (``clock_rate``: 1.01 runs 1 % fast).
  The master's lease starts when it *applies* the KeepAlive, later, and is longer: so while the
  client's clock errs by less than ``max_drift`` the client's lease ends first.
* **Jeopardy**: when the local lease runs out the client no longer trusts its session: it stops
  believing it holds its locks and keeps sending KeepAlives to every server in turn.
* **Grace period**: if a KeepAlive succeeds within ``grace`` (a new master was elected and extended
  every lease, §2.9) the session is *safe* again, locks and all; otherwise the client declares the
  session *expired* and starts a new one.

Applications (``app=``):

* ``"election"`` — primary election (§2.1's main use): create ``lock``'s file, try-acquire it
  exclusively (retrying while busy), write its name into it, then every ``work`` seconds decide to
  write to the resource server and send the write ``write_delay`` later — with its sequencer if
  ``fenced_writes``. The decision is not re-checked when the write goes out: a pause (a GC) between
  the two is Kleppmann's scenario. ``hold`` (seconds) makes a primary step down and compete again.
* ``"workload"`` — ``ops`` random create/write/read/delete operations (weights ``mix``) on files
  under ``/ls/cell/data``, recorded for the linearizability checker; reads are served from the
  client's cache when it holds the file and its lease is valid (``cache=False`` turns that off).
* ``"idle"`` — a session and nothing else (fail-over measurements).

What the client saw goes to ``storage``: ``events`` ``(time, kind, detail)`` with kinds ``session``,
``jeopardy``, ``safe``, ``expired``, ``belief-start``, ``belief-end``, ``write``; ``ops`` for the
workload. Checkers read them after the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distlib.sim import Node
from distlib.sim.validate import flag, integer, names, number, one_of

from .cell import (
    CELL,
    CellConfig,
    CellEvent,
    CellReply,
    CellRequest,
    Invalidate,
    InvalidateAck,
    ResourceReply,
    ResourceWrite,
)
from .namespace import EXCLUSIVE, EXISTS, NO_SUCH_FILE, NOT_MASTER, ROOT, SESSION_EXPIRED, Command

PRIMARY = ROOT + "/svc/primary"
DATA = ROOT + "/data"
APPS = ("election", "workload", "idle")
WORKLOAD_OPS = ("create", "write", "read", "delete")
WORKLOAD_WEIGHTS = (2, 2, 5, 1)          # read-mostly, as Chubby's clients are (§2.5)


class ChubbyClient(Node):
    """A client of the cell (see the module docstring for ``app`` and the keyword arguments)."""

    def __init__(self, *, servers: Sequence[str] = CELL, config: CellConfig | None = None,
                 app: str = "idle", lock: str = PRIMARY, resource: str | None = "res",
                 fenced_writes: bool = True, clock_rate: float = 1.0, hold: float | None = None,
                 work: float = 0.1, write_delay: float = 0.01, retry: float = 0.1, ops: int = 10,
                 keys: Sequence[str] = ("a", "b"), think: float = 0.05, start: float = 0.0,
                 cache: bool = True, mix: Sequence[float] = WORKLOAD_WEIGHTS):
        self.servers = names("servers", servers)
        self.config = config if config is not None else CellConfig()
        if not isinstance(self.config, CellConfig):
            raise ValueError(f"config must be a CellConfig (got {config!r})")
        self.app = one_of("app", app, APPS)
        self.lock = lock
        self.resource = resource
        self.fenced_writes = flag("fenced_writes", fenced_writes)
        self.clock_rate = number("clock_rate", clock_rate, 0.5, 2.0)
        self.hold = None if hold is None else number("hold", hold, above=True)
        self.work = number("work", work, above=True)
        self.write_delay = number("write_delay", write_delay)
        self.retry = number("retry", retry, above=True)
        self.ops = integer("ops", ops, 0)
        self.keys = names("keys", keys)
        self.think = number("think", think)
        self.start = number("start", start)
        self.cache_enabled = flag("cache", cache)
        if not (isinstance(mix, (tuple, list)) and len(mix) == 4 and sum(number("mix", w) for w in mix) > 0):
            raise ValueError(f"mix must be 4 weights (create, write, read, delete), not all 0 (got {mix!r})")
        self.mix = tuple(float(w) for w in mix)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def on_start(self) -> None:
        self.storage.setdefault("events", [])
        self.storage.setdefault("ops", [])
        # A restarted client process is a new client to the cell (its old session ends by expiry).
        self.storage["incarnation"] = self.storage.get("incarnation", 0) + 1
        self.me = f"{self.id}#{self.storage['incarnation']}"
        self.target = self.servers[self.rng.randrange(len(self.servers))]
        self.sid: int | None = None
        self.state = "none"                 # none | opening | valid | jeopardy
        self.seq = 0                        # per session
        self.open_seq = 0
        self.outstanding: tuple[str, Command] | None = None
        self.first_sent = 0.0
        self.ka_sent: dict[str, float] = {}
        self.ka_n = 0
        self.lease_end = 0.0
        self.holding = None                 # the Sequencer of the lock this client holds
        self.believes = False
        self.held_since = 0.0
        self.phase = "idle"
        self.done_ops = 0
        self.current_op: list | None = None
        self.pending_write = None
        self.primary_unknown = True
        self.cache: dict[str, Any] = {}     # path -> contents (valid only while the lease is)
        self.invalidated: set[str] = set()  # paths invalidated while a get for them was out
        self._after("open", self.start)

    def _after(self, name: str, local_seconds: float) -> None:
        """Arm a timer measured on this client's clock (a fast clock fires early in real time)."""
        self.set_timer(name, local_seconds / self.clock_rate)

    def _event(self, kind: str, detail: Any = None) -> None:
        self.storage["events"].append((self.now, kind, detail))

    # ---- sessions ----------------------------------------------------------------------------------
    def _open_session(self) -> None:
        self.state = "opening"
        self.open_seq += 1
        self.seq = 0
        self.first_sent = self.now
        self._call(Command("open", None, self.open_seq, None, self.me))

    def _session_opened(self, sid: int) -> None:
        self.sid = sid
        self.state = "valid"
        self._event("session", sid)
        self.annotate(f"session {sid}")
        self._extend_lease(self.first_sent)
        # A KeepAlive at once: the open may have waited for an election, so the lease it gave
        # (timed from the first send) can be nearly over already.
        self._after("ka", 0.0)
        self._app_start()

    def _extend_lease(self, sent: float) -> None:
        cfg = self.config
        # Local seconds from the send, shortened for drift, converted to real time by our clock rate.
        end = sent + cfg.client_lease * (1 - cfg.max_drift) / self.clock_rate
        if end > self.lease_end:
            self.lease_end = end
            self.set_timer("lease", max(0.0, end - self.now))

    def _send_keepalive(self) -> None:
        self.ka_n += 1
        req_id = f"{self.me}:ka{self.ka_n}"
        self.ka_sent = {req_id: self.now}            # only the latest attempt is waited for
        self.send(self.target, CellRequest(req_id, Command("keepalive", self.sid)))
        self._after("ka-timeout", self.config.rpc_timeout)

    def _on_keepalive_reply(self, msg: CellReply) -> None:
        sent = self.ka_sent.pop(msg.req_id, None)
        if sent is None or self.sid is None or msg.session != self.sid:
            return
        self.cancel_timer("ka-timeout")
        if msg.ok:
            self._extend_lease(sent)
            if self.state == "jeopardy":
                self.state = "valid"
                self.cancel_timer("grace")
                self._event("safe", self.sid)
                self.annotate("session safe")
                if self.holding is not None:
                    self._believe(True, "safe")
                self._app_resume()
            self._after("ka", self.config.keepalive)
        elif msg.error == SESSION_EXPIRED:
            self._session_lost("master")
        else:
            self._next_server(msg.leader_hint)
            self._after("ka", 0.02)

    def _session_lost(self, why: str) -> None:
        if self.sid is None:
            return
        self._event("expired", (self.sid, why))
        self.annotate(f"session {self.sid} expired ({why})")
        if self.holding is not None:
            self._believe(False, "expired")
        self.holding = None
        if self.current_op is not None:
            self._finish_op("info", None)
        self.sid = None
        self.state = "none"
        self.outstanding = None
        self.cache.clear()
        self.lease_end = 0.0
        for t in ("ka", "ka-timeout", "lease", "grace", "rpc", "resend", "work", "write", "retry", "step"):
            self.cancel_timer(t)
        self._after("open", self.retry)

    def _next_server(self, hint: str | None = None) -> None:
        if hint is not None and hint in self.servers and hint != self.target:
            self.target = hint
        else:
            self.target = self.servers[(self.servers.index(self.target) + 1) % len(self.servers)]

    # ---- requests (one at a time, retried with the same sequence number) ---------------------------
    def _request(self, kind: str, path: str | None = None, arg: Any = None) -> None:
        if kind == "get" and path is not None:
            self.invalidated.discard(path)
        elif kind in ("create", "set", "delete") and path is not None:
            self.cache.pop(path, None)          # our own change: never read our old copy after it
        self.seq += 1
        self._call(Command(kind, self.sid, self.seq, path, arg))

    def _call(self, cmd: Command) -> None:
        req_id = f"{self.me}:{cmd.kind}:{self.open_seq}.{cmd.seq}"
        self.outstanding = (req_id, cmd)
        self._resend()

    def _resend(self) -> None:
        if self.outstanding is not None:
            req_id, cmd = self.outstanding
            self.send(self.target, CellRequest(req_id, cmd))
            self._after("rpc", self.config.rpc_timeout)

    def _on_reply(self, msg: CellReply) -> None:
        if self.outstanding is None or msg.req_id != self.outstanding[0]:
            return
        if not msg.ok and msg.error in (NOT_MASTER, "retry"):
            self.cancel_timer("rpc")
            self._next_server(msg.leader_hint)
            self._after("resend", 0.02)                 # resend to the new target shortly
            return
        self.cancel_timer("rpc")
        _, cmd = self.outstanding
        self.outstanding = None
        if cmd.kind == "open":
            if msg.ok and self.state == "opening":
                self._session_opened(msg.value)
            return
        if not msg.ok and msg.error == SESSION_EXPIRED:
            self._session_lost("master")
            return
        self._app_reply(cmd, msg)

    # ---- events -------------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, CellReply):
            if msg.kind == "keepalive":
                self._on_keepalive_reply(msg)
            else:
                self._on_reply(msg)
        elif isinstance(msg, Invalidate):
            if msg.session == self.sid:
                self.cache.pop(msg.path, None)
                self.invalidated.add(msg.path)
                self.send(src, InvalidateAck(msg.session, msg.path))
        elif isinstance(msg, CellEvent):
            if msg.session == self.sid:
                if msg.kind == "failover":
                    self.cache.clear()       # the new master does not know what we cached
                self._event("event", (msg.kind, msg.path))
                self._app_event(msg)
        elif isinstance(msg, ResourceReply):
            pass

    def on_timer(self, name: str) -> None:
        if name == "open":
            if self.state == "none":
                self._open_session()
        elif name == "rpc":                      # no answer: try the next server
            self._next_server()
            self._resend()
        elif name == "resend":                   # redirected: the target is already the new one
            self._resend()
        elif name == "ka":
            if self.sid is not None:
                self._send_keepalive()
        elif name == "ka-timeout":
            if self.sid is not None:
                self._next_server()
                self._send_keepalive()
        elif name == "lease":
            if self.state == "valid" and self.now >= self.lease_end:
                # §2.8: the local lease ran out: jeopardy. Locks and the cache are no longer trusted.
                self.state = "jeopardy"
                self.cache.clear()
                self._event("jeopardy", self.sid)
                self.annotate("jeopardy")
                if self.holding is not None:
                    self._believe(False, "jeopardy")
                self._after("grace", self.config.grace)
        elif name == "grace":
            if self.state == "jeopardy":
                self._session_lost("grace")
        else:
            self._app_timer(name)

    # ---- applications -------------------------------------------------------------------------------
    def _believe(self, on: bool, why: str) -> None:
        if on == self.believes or self.holding is None:
            return
        self.believes = on
        gen = self.holding.generation
        self._event("belief-start" if on else "belief-end", (self.holding.lock, gen, why))

    def _app_start(self) -> None:
        if self.app == "election":
            self.phase = "mkdir"
            self._request("create", self.lock.rsplit("/", 1)[0], ("", True, False))
        elif self.app == "workload":
            self.phase = "mkdir"
            self._request("create", DATA, ("", True, False))

    def _app_event(self, msg: CellEvent) -> None:
        if self.app == "election" and msg.kind == "modified" and msg.path == self.lock:
            self.primary_unknown = True        # a secondary re-reads the file to learn the primary
            if self.outstanding is None and self.holding is None:
                self._request("get", self.lock)

    def _app_resume(self) -> None:
        if self.app == "election" and self.holding is not None:
            self._after("work", self.work)

    def _app_reply(self, cmd: Command, msg: CellReply) -> None:
        if self.app == "election":
            self._election_reply(cmd, msg)
        elif self.app == "workload":
            self._workload_reply(cmd, msg)

    def _app_timer(self, name: str) -> None:
        if self.app == "election":
            if name == "retry" and self.sid is not None and self.state == "valid":
                if self.outstanding is not None:
                    self._after("retry", self.retry)
                elif self.holding is None:
                    self._request("acquire", self.lock, EXCLUSIVE)
            elif name == "work":
                self._work()
            elif name == "write":
                self._write()
        elif self.app == "workload" and name == "step" and self.sid is not None:
            self._next_op()

    # election ----------------------------------------------------------------------------------------
    def _election_reply(self, cmd: Command, msg: CellReply) -> None:
        if cmd.kind == "create" and self.phase == "mkdir":
            self.phase = "mkfile"
            self._request("create", self.lock, ("", False, False))
        elif cmd.kind == "create":
            self.phase = "watch"
            self._request("watch", self.lock, ("modified",))
        elif cmd.kind == "watch":
            self.phase = "acquire"
            self._request("acquire", self.lock, EXCLUSIVE)
        elif cmd.kind == "get":
            if msg.ok:
                self.primary_unknown = False
                self._event("primary-is", msg.value[0])
            self._after("retry", self.retry)
        elif cmd.kind == "acquire":
            if msg.ok and self.state == "valid":
                self.holding = msg.value
                self.held_since = self.now
                self.annotate(f"primary with {msg.value!r}")
                self._believe(True, "granted")
                self._request("set", self.lock, self.id)     # announce: readers learn the primary
            elif self.primary_unknown and self.state == "valid":
                self._request("get", self.lock)   # someone else is primary: who? (then retry)
            else:
                self._after("retry", self.retry)
        elif cmd.kind == "set":
            self._after("work", self.work)
        elif cmd.kind == "release":
            self._after("retry", self.retry)

    def _work(self) -> None:
        if self.holding is None or self.state != "valid" or self.outstanding is not None:
            return
        if self.hold is not None and self.now - self.held_since >= self.hold:
            self._believe(False, "released")
            self.holding = None
            self._request("release", self.lock)
            return
        self.decide_write()

    def decide_write(self) -> bool:
        """The primary decides to write now; the write leaves ``write_delay`` later, not re-checked."""
        if self.holding is None or self.state != "valid" or self.resource is None:
            return False
        self.pending_write = self.holding
        self._after("write", self.write_delay)
        return True

    def _write(self) -> None:
        seq = self.pending_write
        if seq is None or self.resource is None:
            return
        self.pending_write = None
        n = len(self.storage["events"])
        value = f"{self.id}.{n}"
        self._event("write", (seq.generation, value))
        self.send(self.resource, ResourceWrite(f"{self.id}:w{n}", self.id, value,
                                               seq if self.fenced_writes else None, seq.generation))
        if self.holding is not None and self.state == "valid":
            self._after("work", self.work)

    # namespace workload -------------------------------------------------------------------------------
    def _next_op(self) -> None:
        if self.done_ops >= self.ops or self.outstanding is not None or self.state != "valid":
            return
        f = self.rng.choices(WORKLOAD_OPS, self.mix)[0]
        key = self.keys[self.rng.randrange(len(self.keys))]
        path = f"{DATA}/{key}"
        value = f"{self.id}.{self.done_ops}" if f in ("create", "write") else None
        self.done_ops += 1
        self.current_op = [self.id, f, key, value, self.now, None, None, None]
        if f == "read" and self._cached(path):
            self._finish_op("ok", self.cache[path])       # §2.5: served locally, no RPC
            self._after("step", self.think)
            return
        kind, arg = {"create": ("create", (value, False, False)), "write": ("set", value),
                     "read": ("get", None), "delete": ("delete", None)}[f]
        self._request(kind, path, arg)

    def _cached(self, path: str) -> bool:
        return (self.cache_enabled and path in self.cache and self.state == "valid"
                and self.now < self.lease_end)

    def _finish_op(self, status: str, output: Any) -> None:
        op = self.current_op
        if op is None:
            return
        op[5], op[6], op[7] = output, self.now, status
        self.storage["ops"].append(tuple(op))
        self.current_op = None

    def _workload_reply(self, cmd: Command, msg: CellReply) -> None:
        if self.phase == "mkdir":
            self.phase = "ops"
            self._after("step", self.think)
            return
        if self.current_op is None:
            return
        f = self.current_op[1]
        if f == "read" and msg.cacheable and self.cache_enabled and cmd.path not in self.invalidated:
            # Not if an invalidation overtook this reply: the contents may predate it. None: absent.
            self.cache[str(cmd.path)] = msg.value[0] if msg.ok else None
        if msg.ok:
            out = msg.value[0] if f == "read" else True
            self._finish_op("ok", out)
        elif (f == "create" and msg.error == EXISTS) or (f != "create" and msg.error == NO_SUCH_FILE):
            self._finish_op("ok", None if f == "read" else False)
        else:
            self._finish_op("info", None)
        self._after("step", self.think)
