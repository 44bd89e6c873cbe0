"""The replicated state of a Chubby-style cell: namespace, sessions and locks (Burrows, OSDI 2006).

Everything here is a deterministic state machine (:class:`Namespace`), applied by every replica in
log order (chapter 03's Raft replicates it, :mod:`distlib.coordination.cell`). It never reads a clock:
the master stamps each command with its time (``Command.at``) before proposing it, so lock-delay is a
fact of the log that every replica agrees on.

* **Namespace** (§2.3): files and directories under ``/ls/cell``, each with metadata (§2.3 "per-node
  metadata"): an *instance number* greater than that of any earlier node of the same name, a *content
  generation* that grows when the contents are written, and a *lock generation* that grows when the
  node's lock goes from free to held. **Ephemeral** files are deleted when their session ends.
* **Sessions** (§2.8): ``open`` gives a session id; each ``keepalive`` entry counts a renewal; an
  ``expire`` entry carries the renewal count its master saw and is ignored if a renewal was applied
  since (so a master never expires a session that a KeepAlive it has not yet seen just extended).
  Expiry releases the session's locks and deletes its ephemeral files.
* **Locks** (§2.4): advisory, exclusive (one holder) or shared (many readers), try-acquire (a busy
  lock is an error the client retries). Holding a lock yields a :class:`Sequencer` (lock name, mode,
  lock generation) for downstream servers to check. **Lock-delay**: a lock freed because its holder's
  session expired cannot be taken again for ``lock_delay`` seconds (protects servers that do not check
  sequencers); an explicit release frees it at once.
* **Exactly once**: each session's commands carry a sequence number; a retried command already applied
  is answered from the session's last result (the same table as chapter 03's KV store).

A rejected command changes nothing: every check runs before the first mutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROOT = "/ls/cell"

# ---- typed protocol errors -------------------------------------------------------------------------
BAD_PATH = "bad path"               # not an absolute /ls/cell/... path
NO_SUCH_FILE = "no such file"
EXISTS = "exists"
NOT_DIRECTORY = "not a directory"
NOT_EMPTY = "not empty"
LOCK_BUSY = "lock busy"
LOCK_NOT_HELD = "lock not held"
STALE_SEQUENCER = "stale sequencer"
WRONG_LOCK = "wrong lock"
SESSION_EXPIRED = "session expired"
BAD_REQUEST = "bad request"
NOT_MASTER = "not master"
ERRORS = (BAD_PATH, NO_SUCH_FILE, EXISTS, NOT_DIRECTORY, NOT_EMPTY, LOCK_BUSY, LOCK_NOT_HELD,
          STALE_SEQUENCER, WRONG_LOCK, SESSION_EXPIRED, BAD_REQUEST, NOT_MASTER)

EXCLUSIVE, SHARED = "exclusive", "shared"
KINDS = ("open", "keepalive", "close", "expire", "create", "set", "get", "delete", "list", "acquire",
         "release", "check", "watch")
# Events a session may subscribe to (§2.7): contents modified, child added/removed, lock acquired.
EVENTS = ("modified", "child", "lock")
READS = frozenset({"get", "list", "check"})
# Commands that change a file's contents or existence: the master invalidates caches first (§2.5).
MODIFYING = frozenset({"create", "set", "delete"})
# Commands that need a live session (all but open/expire).
SESSION_KINDS = frozenset(KINDS) - {"open", "expire"}


class LockServiceError(Exception):
    """A protocol error as an exception (``code`` is one of :data:`ERRORS`)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Sequencer:
    """Burrows §2.4: an opaque byte-string naming the lock, its mode and its generation; here a value."""

    lock: str
    mode: str
    generation: int

    def __repr__(self) -> str:
        return f"Seq({self.lock}, {self.mode[0]}, gen={self.generation})"


@dataclass(frozen=True)
class Stat:
    """A node's metadata (§2.3)."""

    instance: int
    content_generation: int
    lock_generation: int
    ephemeral: bool
    directory: bool


@dataclass(frozen=True)
class Command:
    """One entry of the cell's log. ``arg`` depends on ``kind``:

    open: client name · create: ``(contents, directory, ephemeral)`` · set: contents ·
    acquire: mode · check: a :class:`Sequencer` · expire: the renewal count the master saw.
    ``at`` is stamped by the master when it proposes the command.
    """

    kind: str
    session: int | None = None
    seq: int = 0
    path: str | None = None
    arg: Any = None
    at: float = 0.0

    def __repr__(self) -> str:
        who = f"s{self.session}" if self.session is not None else "-"
        path = f" {self.path}" if self.path else ""
        arg = f" {self.arg!r}" if self.arg is not None else ""
        return f"{who}#{self.seq} {self.kind}{path}{arg}"


@dataclass(frozen=True)
class Result:
    ok: bool
    value: Any = None
    error: str | None = None
    detail: str = ""

    def __repr__(self) -> str:
        return f"ok({self.value!r})" if self.ok else f"err({self.error})"


def _err(code: str, detail: str = "") -> Result:
    return Result(False, None, code, detail)


def check_path(path: object) -> str | None:
    """None if ``path`` is a well-formed absolute cell path, else the reason."""
    if not isinstance(path, str):
        return f"path must be a string (got {path!r})"
    if path != ROOT and not path.startswith(ROOT + "/"):
        return f"path must be absolute under {ROOT} (got {path!r})"
    parts = path[len(ROOT):].split("/")[1:]
    if any(p in ("", ".", "..") for p in parts):
        return f"path must have non-empty components without . or .. (got {path!r})"
    return None


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0]


class _File:
    __slots__ = ("directory", "contents", "ephemeral", "instance", "content_gen", "lock_gen", "mode",
                 "holders", "free_at")

    def __init__(self, directory: bool, contents: str, ephemeral: int | None, instance: int):
        self.directory = directory
        self.contents = contents
        self.ephemeral = ephemeral          # owning session id, or None
        self.instance = instance
        self.content_gen = 0
        self.lock_gen = 0
        self.mode: str | None = None
        self.holders: tuple[int, ...] = ()
        self.free_at = 0.0                  # lock-delay: no grant before this time

    def frozen(self) -> tuple:
        return tuple(getattr(self, s) for s in self.__slots__)

    @classmethod
    def thaw(cls, t: tuple) -> _File:
        f = cls.__new__(cls)
        for s, v in zip(cls.__slots__, t, strict=True):
            setattr(f, s, v)
        return f

    def stat(self) -> Stat:
        return Stat(self.instance, self.content_gen, self.lock_gen, self.ephemeral is not None,
                    self.directory)


class Namespace:
    """The cell's replicated state machine (``apply`` / ``snapshot`` / ``restore``)."""

    def __init__(self, lock_delay: float = 0.0):
        self.lock_delay = float(lock_delay)
        self.files: dict[str, _File] = {ROOT: _File(True, "", None, 1)}
        self.next_instance = 2
        self.next_session = 1
        # session id -> [client, renewals, last seq, last result]
        self.sessions: dict[int, list] = {}
        self.opened: dict[str, tuple[int, Result]] = {}     # client -> (seq, result of its open)
        # Lock history for checkers and views: (at, kind, path, session, generation, why).
        self.lock_events: list[tuple[float, str, str, int, int, str]] = []
        self.watches: dict[int, dict[str, tuple[str, ...]]] = {}    # session -> path -> event kinds

    # ---- the state machine interface --------------------------------------------------------------
    def apply(self, cmd: Command) -> Result:
        if not isinstance(cmd, Command) or cmd.kind not in KINDS:
            return _err(BAD_REQUEST, f"unknown command {cmd!r}")
        if cmd.kind == "open":
            return self._open(cmd)
        if cmd.kind == "expire":
            return self._expire(cmd)
        sess = self.sessions.get(cmd.session)  # type: ignore[arg-type]
        if sess is None:
            return _err(SESSION_EXPIRED, f"session {cmd.session} is not open")
        if cmd.kind == "keepalive":
            sess[1] += 1
            return Result(True, sess[1])
        if cmd.seq <= sess[2]:
            # §8 of the Raft paper, as in raft_kv: a retry of the last command gets its result again.
            return sess[3] if cmd.seq == sess[2] else _err(BAD_REQUEST, "stale duplicate")
        try:
            result = getattr(self, "_" + cmd.kind)(cmd, cmd.session)
        except LockServiceError as e:      # raised before any mutation: the namespace is unchanged
            result = _err(e.code, e.detail)
        sess[2], sess[3] = cmd.seq, result
        return result

    def query(self, cmd: Command) -> Result:
        """A read (``get``, ``list``, ``check``) evaluated without changing anything: how the master
        answers reads confirmed by Raft's ReadIndex instead of a log entry."""
        if not isinstance(cmd, Command) or cmd.kind not in READS:
            return _err(BAD_REQUEST, f"not a read: {cmd!r}")
        if cmd.session not in self.sessions:
            return _err(SESSION_EXPIRED, f"session {cmd.session} is not open")
        try:
            return getattr(self, "_" + cmd.kind)(cmd, cmd.session)
        except LockServiceError as e:
            return _err(e.code, e.detail)

    def snapshot(self) -> Any:
        return (tuple((p, f.frozen()) for p, f in sorted(self.files.items())), self.next_instance,
                self.next_session, tuple((k, tuple(v)) for k, v in sorted(self.sessions.items())),
                tuple(sorted(self.opened.items())), tuple(self.lock_events), self.lock_delay,
                tuple((k, tuple(sorted(v.items()))) for k, v in sorted(self.watches.items())))

    def restore(self, data: Any) -> None:
        (files, self.next_instance, self.next_session, sessions, opened, events, self.lock_delay,
         watches) = data
        self.watches = {k: dict(v) for k, v in watches}
        self.files = {p: _File.thaw(t) for p, t in files}
        self.sessions = {k: list(v) for k, v in sessions}
        self.opened = dict(opened)
        self.lock_events = list(events)

    # ---- read-only helpers (views, tests) ---------------------------------------------------------
    def stat(self, path: str) -> Stat | None:
        f = self.files.get(path)
        return None if f is None else f.stat()

    def holders(self, path: str) -> tuple[int, ...]:
        f = self.files.get(path)
        return () if f is None else f.holders

    def paths(self) -> list[str]:
        return sorted(self.files)

    def ephemerals(self, sid: int) -> list[str]:
        return sorted(p for p, f in self.files.items() if f.ephemeral == sid)

    def watchers(self, path: str, kind: str) -> list[int]:
        """Sessions subscribed to ``kind`` events on ``path``."""
        return [s for s, w in sorted(self.watches.items()) if kind in w.get(path, ())]

    # ---- sessions ----------------------------------------------------------------------------------
    def _open(self, cmd: Command) -> Result:
        client = cmd.arg
        if not isinstance(client, str) or not client:
            return _err(BAD_REQUEST, f"open needs a client name (got {client!r})")
        done = self.opened.get(client)
        if done is not None and done[0] >= cmd.seq:
            return done[1] if done[0] == cmd.seq else _err(BAD_REQUEST, "stale duplicate")
        sid = self.next_session
        self.next_session += 1
        self.sessions[sid] = [client, 0, 0, None]
        result = Result(True, sid)
        self.opened[client] = (cmd.seq, result)
        return result

    def _close(self, cmd: Command, sid: int) -> Result:
        self._end_session(sid, cmd.at, "closed")
        return Result(True, None)

    def _expire(self, cmd: Command) -> Result:
        sess = self.sessions.get(cmd.session)  # type: ignore[arg-type]
        if sess is None:
            return _err(SESSION_EXPIRED, f"session {cmd.session} is not open")
        if sess[1] != cmd.arg:
            # A KeepAlive was applied after the master decided: the lease was extended, keep it.
            return _err(BAD_REQUEST, f"session {cmd.session} was renewed (renewal {sess[1]})")
        self._end_session(cmd.session, cmd.at, "expired")  # type: ignore[arg-type]
        return Result(True, None)

    def _end_session(self, sid: int, at: float, why: str) -> None:
        del self.sessions[sid]
        self.watches.pop(sid, None)
        for path in sorted(self.files):
            f = self.files[path]
            if sid in f.holders:
                f.holders = tuple(h for h in f.holders if h != sid)
                self.lock_events.append((at, "release", path, sid, f.lock_gen, why))
                if not f.holders:
                    f.mode = None
                    # §2.4 lock-delay: only when the holder failed; a clean close frees the lock now.
                    if why == "expired":
                        f.free_at = at + self.lock_delay
        # Ephemeral files go with their session (deepest first; ephemeral nodes are never directories).
        for path in sorted((p for p, f in self.files.items() if f.ephemeral == sid), reverse=True):
            del self.files[path]

    # ---- files ---------------------------------------------------------------------------------------
    def _file(self, path: Any) -> _File:
        bad = check_path(path)
        if bad is not None:
            raise LockServiceError(BAD_PATH, bad)
        f = self.files.get(path)
        if f is None:
            raise LockServiceError(NO_SUCH_FILE, path)
        return f

    def _create(self, cmd: Command, sid: int) -> Result:
        path = cmd.path
        bad = check_path(path)
        if bad is not None:
            raise LockServiceError(BAD_PATH, bad)
        assert isinstance(path, str)
        if not (isinstance(cmd.arg, tuple) and len(cmd.arg) == 3 and isinstance(cmd.arg[0], str)):
            raise LockServiceError(BAD_REQUEST,
                                   f"create needs (contents, directory, ephemeral) (got {cmd.arg!r})")
        contents, directory, ephemeral = cmd.arg
        if directory and ephemeral:
            raise LockServiceError(BAD_REQUEST, "ephemeral nodes are files, not directories")
        if path in self.files:
            raise LockServiceError(EXISTS, path)
        parent = self.files.get(parent_of(path))
        if parent is None:
            raise LockServiceError(NO_SUCH_FILE, parent_of(path))
        if not parent.directory:
            raise LockServiceError(NOT_DIRECTORY, parent_of(path))
        f = self.files[path] = _File(bool(directory), "" if directory else contents,
                                     sid if ephemeral else None, self.next_instance)
        self.next_instance += 1
        return Result(True, f.stat())

    def _set(self, cmd: Command, sid: int) -> Result:
        f = self._file(cmd.path)
        if f.directory:
            raise LockServiceError(BAD_REQUEST, f"{cmd.path} is a directory")
        if not isinstance(cmd.arg, str):
            raise LockServiceError(BAD_REQUEST, f"contents must be a string (got {cmd.arg!r})")
        f.contents = cmd.arg
        f.content_gen += 1
        return Result(True, f.stat())

    def _get(self, cmd: Command, sid: int) -> Result:
        f = self._file(cmd.path)
        return Result(True, (f.contents, f.stat()))

    def _list(self, cmd: Command, sid: int) -> Result:
        f = self._file(cmd.path)
        if not f.directory:
            raise LockServiceError(NOT_DIRECTORY, str(cmd.path))
        prefix = f"{cmd.path}/"
        return Result(True, tuple(p[len(prefix):] for p in sorted(self.files)
                                  if p.startswith(prefix) and "/" not in p[len(prefix):]))

    def _delete(self, cmd: Command, sid: int) -> Result:
        f = self._file(cmd.path)
        path = str(cmd.path)
        if path == ROOT:
            raise LockServiceError(BAD_PATH, "the cell's root cannot be deleted")
        if f.directory and any(p.startswith(path + "/") for p in self.files):
            raise LockServiceError(NOT_EMPTY, path)
        for h in f.holders:
            self.lock_events.append((cmd.at, "release", path, h, f.lock_gen, "deleted"))
        del self.files[path]
        return Result(True, None)

    # ---- locks ---------------------------------------------------------------------------------------
    def _acquire(self, cmd: Command, sid: int) -> Result:
        f = self._file(cmd.path)
        path, mode = str(cmd.path), cmd.arg
        if mode not in (EXCLUSIVE, SHARED):
            raise LockServiceError(BAD_REQUEST, f"mode must be {EXCLUSIVE!r} or {SHARED!r} (got {mode!r})")
        if sid in f.holders:
            if f.mode != mode:
                raise LockServiceError(LOCK_BUSY, f"already held in {f.mode} mode")
            return Result(True, Sequencer(path, mode, f.lock_gen))
        if f.holders and (mode == EXCLUSIVE or f.mode == EXCLUSIVE):
            raise LockServiceError(LOCK_BUSY, f"held {f.mode} by session(s) {list(f.holders)}")
        if not f.holders:
            if cmd.at < f.free_at:
                raise LockServiceError(LOCK_BUSY, f"lock-delay until {f.free_at:.3f}")
            f.lock_gen += 1
            f.mode = mode
        f.holders = f.holders + (sid,)
        self.lock_events.append((cmd.at, "grant", path, sid, f.lock_gen, mode))
        return Result(True, Sequencer(path, mode, f.lock_gen))

    def _release(self, cmd: Command, sid: int) -> Result:
        f = self._file(cmd.path)
        if sid not in f.holders:
            raise LockServiceError(LOCK_NOT_HELD, f"session {sid} does not hold {cmd.path}")
        f.holders = tuple(h for h in f.holders if h != sid)
        self.lock_events.append((cmd.at, "release", str(cmd.path), sid, f.lock_gen, "released"))
        if not f.holders:
            f.mode = None
        return Result(True, None)

    def _watch(self, cmd: Command, sid: int) -> Result:
        """Subscribe the session to event kinds on a path (an empty tuple unsubscribes)."""
        self._file(cmd.path)
        kinds = cmd.arg
        if not (isinstance(kinds, tuple) and all(k in EVENTS for k in kinds)):
            raise LockServiceError(BAD_REQUEST, f"watch needs a tuple drawn from {EVENTS} (got {kinds!r})")
        self.watches.setdefault(sid, {})[str(cmd.path)] = kinds
        return Result(True, kinds)

    def _check(self, cmd: Command, sid: int) -> Result:
        """§2.4 CheckSequencer: is this sequencer still the lock's current one?"""
        seq = cmd.arg
        if not isinstance(seq, Sequencer):
            raise LockServiceError(BAD_REQUEST, f"check needs a Sequencer (got {seq!r})")
        f = self._file(seq.lock)
        if f.lock_gen != seq.generation or f.mode != seq.mode or not f.holders:
            raise LockServiceError(STALE_SEQUENCER, f"{seq!r}; lock generation is {f.lock_gen}")
        return Result(True, True)
