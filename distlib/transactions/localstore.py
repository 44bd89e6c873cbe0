"""A service's local ACID store, kept in its durable ``storage``: the database, key versions, the
inbox (idempotency keys -> results), the outbox (events not yet acknowledged) and a journal of every
local transaction that committed (the ground truth the saga checkers read).

A local transaction (:class:`Tx`) works on private copies and is installed by :func:`commit` in one
simulator event. A crash happens *between* events, never inside one, so everything a transaction
wrote -- state, inbox entry, outbox events, journal entry -- survives together or not at all: that is
the atomicity of the service's own database, which a saga builds on (Garcia-Molina & Salem, "Sagas",
1987: each step is an ordinary transaction).

Reads and writes are recorded with each key's *version* (bumped by every committed write), so the
isolation checker can tell which saga's write another saga read (dirty read), whether a saga read a
key twice and saw two versions (non-repeatable read), and whether a blind write was based on a stale
read (lost update).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Refuse(Exception):
    """Raised by an operation for a *business* failure ("no rooms left", "card declined"): the local
    transaction commits nothing but the refusal, and the saga goes backward (or is stuck, for a
    compensation)."""


class Tx:
    """One local transaction of a service: reads and writes go to private copies and are recorded.

    Operations are plain functions ``op(tx, ctx) -> dict | None`` that ``tx.read(key)`` and
    ``tx.write(key, value)`` the service's database; ``ctx`` is the saga instance's context
    (its parameters and the data earlier steps returned). Return a dict to add data to the context,
    or raise :class:`Refuse` for a business failure.
    """

    def __init__(self, db: Mapping[str, Any], versions: Mapping[str, int], saga: str, step: str):
        self._db = db
        self._versions = versions
        self.saga = saga
        self.step = step
        self.writes: dict[str, Any] = {}
        self.reads: dict[str, int] = {}        # key -> version first read
        self.based_on: dict[str, int] = {}     # key -> version a blind write was computed from

    def read(self, key: str) -> Any:
        """The current value of ``key`` (a copy: change it, then ``write`` it back)."""
        if key in self.writes:
            return copy.deepcopy(self.writes[key])
        if key not in self._db:
            raise KeyError(f"the service's database has no key {key!r} (it has {', '.join(self._db)})")
        self.reads.setdefault(key, self._versions.get(key, 0))
        return copy.deepcopy(self._db[key])

    def version(self, key: str) -> int:
        """The committed version of ``key`` (every committed write bumps it)."""
        self.reads.setdefault(key, self._versions.get(key, 0))
        return self._versions.get(key, 0)

    def write(self, key: str, value: Any, *, based_on: int | None = None) -> None:
        """Set ``key`` at commit. ``based_on``: the version of an *earlier* read this value was
        computed from (a blind write), so the checker can see an update that another saga lost."""
        self.writes[key] = copy.deepcopy(value)
        if based_on is not None:
            self.based_on[key] = based_on


@dataclass(frozen=True)
class Entry:
    """One committed local transaction (or a recorded refusal) in a service's journal.

    ``kind``: "step" (a forward step committed), "undo" (a compensation committed), "failed" (a step
    refused: business failure, or given up), "skip" (a compensation for a step that never committed
    here: nothing to undo, the step is fenced off), "refused" (a compensation refused for good),
    "stuck" (a retriable step given up), "end" (choreography: the saga ended, ``op`` says how).
    """

    time: float
    service: str
    saga: str
    step: str
    kind: str
    op: str = ""
    reason: str = ""
    reads: tuple[tuple[str, int], ...] = ()
    writes: tuple[tuple[str, int], ...] = ()       # key -> the new version
    based_on: tuple[tuple[str, int], ...] = ()
    after: Any = field(default=None, repr=False, compare=False)   # the whole database after commit


def init_store(storage: dict, db: Mapping[str, Any]) -> None:
    """Create the store on first boot (a restart finds it in ``storage`` and keeps it)."""
    if "db" not in storage:
        storage["db"] = copy.deepcopy(dict(db))
        storage["versions"] = {k: 0 for k in db}
        storage["inbox"] = {}
        storage["outbox"] = []
        storage["journal"] = []


def commit(storage: dict, tx: Tx | None, entry: Entry, *, inbox: Mapping[str, Any] | None = None,
           outbox: list[tuple[str, str, Any]] | None = None) -> Entry:
    """Install a local transaction: its writes, the inbox results, the outbox events and the journal
    entry, all in this one event (so all survive a later crash, or none was ever there)."""
    db, versions = storage["db"], storage["versions"]
    writes: list[tuple[str, int]] = []
    if tx is not None:
        for key, value in tx.writes.items():
            db[key] = value
            versions[key] = versions.get(key, 0) + 1
            writes.append((key, versions[key]))
        entry = Entry(entry.time, entry.service, entry.saga, entry.step, entry.kind, entry.op, entry.reason,
                      tuple(sorted(tx.reads.items())), tuple(writes), tuple(sorted(tx.based_on.items())),
                      copy.deepcopy(db))
    else:
        entry = Entry(entry.time, entry.service, entry.saga, entry.step, entry.kind, entry.op, entry.reason,
                      after=copy.deepcopy(db))
    if inbox:
        storage["inbox"].update(inbox)
    if outbox:
        storage["outbox"].extend(outbox)
    storage["journal"].append(entry)
    return entry
