"""The trace: typed, timestamped records of everything that happened in a run.

Figures and checkers read the trace, never simulator internals. Records are
small frozen dataclasses; ``Trace.format()`` renders them as readable text and
two runs with the same seed produce equal traces (``trace_a == trace_b``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Record:
    time: float

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True)
class Send(Record):
    msg_id: int
    src: str
    dst: str
    msg: Any

    def describe(self) -> str:
        return f"{self.src} -> {self.dst}  send #{self.msg_id} {self.msg!r}"


@dataclass(frozen=True, slots=True)
class Deliver(Record):
    msg_id: int
    src: str
    dst: str
    msg: Any
    sent_at: float

    def describe(self) -> str:
        return f"{self.src} -> {self.dst}  deliver #{self.msg_id} {self.msg!r}"


@dataclass(frozen=True, slots=True)
class Drop(Record):
    msg_id: int
    src: str
    dst: str
    msg: Any
    sent_at: float
    reason: str  # "loss", "partition", "cut", "crashed"

    def describe(self) -> str:
        return f"{self.src} -> {self.dst}  DROP #{self.msg_id} ({self.reason}) {self.msg!r}"


@dataclass(frozen=True, slots=True)
class Duplicate(Record):
    msg_id: int
    copy_id: int
    src: str
    dst: str
    msg: Any

    def describe(self) -> str:
        return f"{self.src} -> {self.dst}  duplicate #{self.msg_id} as #{self.copy_id}"


@dataclass(frozen=True, slots=True)
class Timer(Record):
    node: str
    name: str

    def describe(self) -> str:
        return f"{self.node}  timer {self.name!r} fired"


@dataclass(frozen=True, slots=True)
class Crash(Record):
    node: str

    def describe(self) -> str:
        return f"{self.node}  CRASH"


@dataclass(frozen=True, slots=True)
class Restart(Record):
    node: str

    def describe(self) -> str:
        return f"{self.node}  restart (from storage)"


@dataclass(frozen=True, slots=True)
class Pause(Record):
    node: str

    def describe(self) -> str:
        return f"{self.node}  pause"


@dataclass(frozen=True, slots=True)
class Resume(Record):
    node: str

    def describe(self) -> str:
        return f"{self.node}  resume"


@dataclass(frozen=True, slots=True)
class Partition(Record):
    groups: tuple[tuple[str, ...], ...]

    def describe(self) -> str:
        return "PARTITION " + " | ".join(",".join(g) for g in self.groups)


@dataclass(frozen=True, slots=True)
class Cut(Record):
    src: str
    dst: str

    def describe(self) -> str:
        return f"CUT {self.src} -> {self.dst}"


@dataclass(frozen=True, slots=True)
class Heal(Record):
    def describe(self) -> str:
        return "HEAL (all links restored)"


@dataclass(frozen=True, slots=True)
class Annotate(Record):
    node: str | None
    text: str

    def describe(self) -> str:
        return f"{self.node or '*'}  note: {self.text}"


class Trace:
    """An append-only, time-ordered list of :class:`Record`."""

    __slots__ = ("records",)

    def __init__(self, records: list[Record] | None = None):
        self.records: list[Record] = records if records is not None else []

    def append(self, record: Record) -> None:
        self.records.append(record)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trace) and self.records == other.records

    def of(self, *kinds: type[Record]) -> list[Record]:
        """Records of the given types, in order: ``trace.of(Drop)``."""
        return [r for r in self.records if isinstance(r, kinds)]

    def counts(self) -> dict[str, int]:
        """Number of records per kind, keys sorted."""
        out: dict[str, int] = {}
        for r in self.records:
            out[r.kind] = out.get(r.kind, 0) + 1
        return dict(sorted(out.items()))

    def format(self, limit: int | None = None) -> str:
        """One readable line per record: ``  0.012  n1 -> n2  send #3 Prepare(tx=1)``."""
        recs = self.records if limit is None else self.records[:limit]
        lines = [f"{r.time:8.3f}  {r.describe()}" for r in recs]
        if limit is not None and len(self.records) > limit:
            lines.append(f"... {len(self.records) - limit} more records")
        return "\n".join(lines)

    def summary(self) -> str:
        """A one-line, comparable summary: ``42 records: deliver=20, send=22``."""
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"{len(self.records)} records: {counts}"
