"""Checkers for the lock service (chapter 08), stated on what was *observed*, never on beliefs.

* :func:`check_fenced_effects` — mutual exclusion of **effects**: the resource server never
  accepted a write of an older lock generation after one of a newer generation (two holders'
  writes interleaved). It reads the resource's own record of what it accepted.
* :func:`belief_overlaps` — the separate report of times two clients *believed* they held the lock.
  Overlaps happen in a correct service (a paused client believes on, frozen); the lesson is that
  beliefs overlap and effects must not. :func:`check_beliefs` fails only on overlaps no pause
  explains: a client that was running and still trusted a lease its master had let expire.
* :func:`check_session_safety` — no lock was granted while a previous holder's session still had
  a lease some master had promised (a KeepAlive/open reply's ``valid_until``), unless that holder
  released it explicitly.
* :func:`check_namespace` — linearizability of the namespace clients' operations with
  :class:`NamespaceModel` and chapter 01's checker.
* :func:`check_lockservice` — all of them (the sweep's check); :func:`sessions_abandoned` counts
  sessions a client gave up while a master still held them (the no-grace variant's harm).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from distlib.coordination.namespace import Namespace
from distlib.coordination.runs import LockRun
from distlib.sim.history import History, Op

from .linearizability import check_linearizability
from .models import UNKNOWN, Model, ModelOp


# ---- effects ---------------------------------------------------------------------------------------
def check_fenced_effects(run: LockRun) -> list[str]:
    """Accepted writes must come in non-decreasing lock generation (Kleppmann's fencing property)."""
    out: list[str] = []
    newest: tuple[int, str, float] | None = None
    for t, client, gen, value, accepted, _reason in run.writes:
        if not accepted:
            continue
        if newest is not None and gen < newest[0]:
            out.append(f"effects interleaved: at t={t:.3f} the resource accepted {client}'s write {value!r} "
                       f"of lock generation {gen} after {newest[1]}'s write of generation {newest[0]} "
                       f"(t={newest[2]:.3f})")
        if newest is None or gen >= newest[0]:
            newest = (gen, client, t)
    return out


# ---- beliefs ----------------------------------------------------------------------------------------
def belief_intervals(run: LockRun) -> list[tuple[str, str, int, float, float]]:
    """``(client, lock, generation, start, end)`` for each time a client believed it held a lock."""
    out = []
    for client, events in sorted(run.events.items()):
        start: dict[tuple[str, int], float] = {}
        for t, kind, detail in events:
            if kind == "belief-start":
                start[(detail[0], detail[1])] = t
            elif kind == "belief-end" and (detail[0], detail[1]) in start:
                out.append((client, detail[0], detail[1], start.pop((detail[0], detail[1])), t))
        for (lock, gen), t in sorted(start.items()):
            out.append((client, lock, gen, t, run.until))
    return sorted(out, key=lambda b: (b[3], b[0]))


def _ended_late_by_pause(run: LockRun, client: str, start: float, end: float) -> bool:
    """True if the belief ended the instant the client resumed from a pause (its lease timer, due
    while it was frozen, fired on resume) or is still open while the client is paused at the end."""
    return any(p0 < end and p1 > start and p1 - 1e-9 <= end <= p1 + 1e-6
               for p0, p1 in run.pauses.get(client, []))


def belief_overlaps(run: LockRun) -> list[dict[str, Any]]:
    """Every pair of belief intervals on the same lock that overlap in time (exclusive locks)."""
    beliefs = belief_intervals(run)
    out = []
    for i, a in enumerate(beliefs):
        for b in beliefs[i + 1:]:
            if a[1] != b[1] or a[0] == b[0]:
                continue
            lo, hi = max(a[3], b[3]), min(a[4], b[4])
            if lo < hi:
                old, new = (a, b) if a[2] <= b[2] else (b, a)
                out.append({"lock": a[1], "from": lo, "to": hi, "stale": old[0], "stale_gen": old[2],
                            "holder": new[0], "holder_gen": new[2],
                            "paused": _ended_late_by_pause(run, old[0], old[3], old[4])})
    return out


def check_beliefs(run: LockRun) -> list[str]:
    """Overlapping beliefs that no pause of the stale client explains."""
    return [f"{o['stale']} (gen {o['stale_gen']}) and {o['holder']} (gen {o['holder_gen']}) both believed "
            f"they held {o['lock']} during [{o['from']:.3f}, {o['to']:.3f}] and {o['stale']} was not paused"
            for o in belief_overlaps(run) if not o["paused"]]


# ---- sessions --------------------------------------------------------------------------------------
def lock_history(run: LockRun) -> list[tuple[float, str, str, int, int, str]]:
    """The committed log replayed: ``(at, grant|release, path, session, generation, why)``."""
    ns = Namespace(lock_delay=run.config.lock_delay)
    for cmd in run.log:
        ns.apply(cmd)
    return ns.lock_events


def check_session_safety(run: LockRun) -> list[str]:
    """No grant while an earlier holder, not released explicitly, has a lease a master promised."""
    promises: dict[int, list[tuple[float, float]]] = {}      # session -> (sent at, valid_until)
    for t, _client, reply in run.replies:
        if reply.ok and reply.valid_until is not None and reply.session is not None:
            promises.setdefault(reply.session, []).append((t, reply.valid_until))
    out: list[str] = []
    ended: dict[str, list[tuple[int, str]]] = {}            # path -> holders whose hold ended, and how
    for at, kind, path, sid, gen, why in lock_history(run):
        if kind == "release":
            ended.setdefault(path, []).append((sid, why))
            continue
        for prev, how in ended.get(path, []):
            if how == "released" or prev == sid:
                continue
            lease = max((v for sent, v in promises.get(prev, []) if sent <= at), default=None)
            if lease is not None and lease > at + 1e-9:
                out.append(f"session safety: {path} granted to session {sid} (generation {gen}) at "
                           f"t={at:.3f} while session {prev}, its earlier holder, had a lease promised "
                           f"until t={lease:.3f}")
        ended[path] = []
    return out


def sessions_abandoned(run: LockRun) -> list[tuple[str, int, float]]:
    """Sessions a client declared expired (grace over) that the cell never expired before that time:
    ``(client, session, time)``. Chubby's grace period exists to keep this empty across fail-overs."""
    expired_at: dict[int, float] = {}
    for cmd in run.log:
        if cmd.kind == "expire":
            expired_at.setdefault(cmd.session, cmd.at)  # type: ignore[arg-type]
    out = []
    for client, events in sorted(run.events.items()):
        for t, kind, detail in events:
            if kind == "expired" and detail[1] == "grace":
                sid = detail[0]
                if expired_at.get(sid, float("inf")) > t:
                    out.append((client, sid, t))
    return out


# ---- the namespace -----------------------------------------------------------------------------------
class NamespaceModel(Model):
    """One file per key: absent (``None``) or its contents. Operations (the workload's): ``create``
    (True, or False if it existed), ``write`` (True, or False if absent), ``read`` (contents or None)
    and ``delete`` (True, or False if absent). Files under one directory that is never removed are
    independent, so the checker partitions by key."""

    name = "namespace"
    partition_by_key = True

    def init(self) -> Hashable:
        return None

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        f, out = op.f, op.output
        exists = state is not None
        if f == "read":
            return (out is UNKNOWN or out == state), state
        if f == "create":
            if out is UNKNOWN:
                return True, state if exists else op.input
            return (out is True) != exists, state if exists else op.input
        if f in ("write", "delete"):
            new = (op.input if f == "write" else None) if exists else state
            if out is UNKNOWN:
                return True, new
            return (out is True) == exists, new
        raise ValueError(f"op.f must be 'create', 'write', 'read' or 'delete' for a namespace (got {f!r})")

    def ignorable(self, op: ModelOp) -> bool:
        return op.f == "read" and op.output is UNKNOWN

    def read_only(self, op: ModelOp) -> bool:
        return op.f == "read"


def namespace_history(run: LockRun) -> History:
    """The workload clients' operations as a Jepsen history (invocations and completions by time)."""
    events: list[tuple[float, int, str, Any]] = []
    for n, (proc, f, key, value, t0, output, t1, status) in enumerate(run.ops):
        events.append((t0, 2 * n, "invoke", (proc, f, key, value)))
        events.append((t1, 2 * n + 1, status, (proc, f, key, output)))
    events.sort(key=lambda e: (e[0], e[1]))
    return History(Op(p, typ, f, key, val, t) for t, _n, typ, (p, f, key, val) in events)


def check_namespace(run: LockRun) -> list[str]:
    if not run.ops:
        return []
    result = check_linearizability(namespace_history(run), NamespaceModel())
    return [] if result.ok else [f"namespace linearizability: {result.verdict}: {result.reason}"]


def check_lockservice(run: LockRun) -> list[str]:
    """Every check above that must hold for the correct service (the sweep's check)."""
    return (check_fenced_effects(run) + check_beliefs(run) + check_session_safety(run)
            + check_namespace(run))
