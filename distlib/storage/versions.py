"""Version vectors and sibling sets: how a Dynamo-style store tells "newer" from "concurrent".

A **version vector** maps replica names to counters (Dynamo calls them vector clocks, DeCandia et
al., SOSP 2007, §4.4). For two vectors ``a`` and ``b``:

* ``a`` is *before* ``b`` when every counter of ``a`` is <= the same counter of ``b`` and one is
  smaller (``b`` has seen everything ``a`` has, and more): ``b`` may replace ``a``;
* *equal* when all counters agree; *concurrent* otherwise (each has seen something the other
  has not): neither may replace the other, both are kept as **siblings** and handed to the
  client, which merges them and writes the result back with the merged vector as its context.

**Decision -- dotted versions.** A stored version is ``(value, dot, context)``: the ``dot``
``(node, n)`` names the one write that made it, ``context`` is the vector the client read
before writing. Its full vector is ``context`` plus the dot. A version is obsolete only when
another version's *context* covers its dot. Comparing full vectors instead would go wrong when
one coordinator serves two clients that both wrote with the same (old) context: it issues
``{n1: 1}`` then ``{n1: 2}``, and ``{n1: 2}`` would silently "descend" from a write it never saw
(the false dominance of server-side vector clocks; Preguiça et al., "Dotted Version Vectors",
2010). With dots the two writes stay siblings, as they must.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ORDERS = ("before", "after", "equal", "concurrent")


@dataclass(frozen=True, order=True)
class VersionVector:
    """An immutable version vector: ``entries`` are ``(node, counter)`` pairs, sorted, counters > 0.

    >>> a = VersionVector.of({"n1": 2})
    >>> b = a.increment("n2")
    >>> a.compare(b), b.compare(a), a.compare(a.increment("n3").merge(b))
    ('before', 'after', 'before')
    """

    entries: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, counters: Mapping[str, int] | None = None) -> VersionVector:
        """A vector from ``{node: counter}`` (zero counters are dropped)."""
        items = dict(counters or {})
        for node, n in items.items():
            bad_count = not isinstance(n, int) or isinstance(n, bool) or n < 0
            if not isinstance(node, str) or not node or bad_count:
                raise ValueError(f"counters must map node names to integers >= 0 (got {node!r}: {n!r})")
        return cls(tuple(sorted((k, v) for k, v in items.items() if v > 0)))

    def get(self, node: str) -> int:
        for k, v in self.entries:
            if k == node:
                return v
        return 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.entries)

    def increment(self, node: str) -> VersionVector:
        """This vector with ``node``'s counter one higher."""
        d = self.as_dict()
        d[node] = d.get(node, 0) + 1
        return VersionVector.of(d)

    def with_entry(self, node: str, counter: int) -> VersionVector:
        """This vector with ``node``'s counter raised to at least ``counter``."""
        d = self.as_dict()
        d[node] = max(d.get(node, 0), counter)
        return VersionVector.of(d)

    def merge(self, other: VersionVector) -> VersionVector:
        """The pointwise maximum: a vector that has seen everything either has seen."""
        d = self.as_dict()
        for k, v in other.entries:
            d[k] = max(d.get(k, 0), v)
        return VersionVector.of(d)

    def descends(self, other: VersionVector) -> bool:
        """True if this vector has seen everything ``other`` has (``other`` is before or equal)."""
        mine = self.as_dict()
        return all(mine.get(k, 0) >= v for k, v in other.entries)

    def compare(self, other: VersionVector) -> str:
        """``"before"``, ``"after"``, ``"equal"`` or ``"concurrent"`` (this vector relative to ``other``)."""
        ge, le = self.descends(other), other.descends(self)
        if ge and le:
            return "equal"
        if le:
            return "before"
        if ge:
            return "after"
        return "concurrent"

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}:{v}" for k, v in self.entries) + "}"


def compare(a: Mapping[str, int] | VersionVector, b: Mapping[str, int] | VersionVector) -> str:
    """Compare two version vectors given as vectors or ``{node: counter}`` dicts."""
    va = a if isinstance(a, VersionVector) else VersionVector.of(a)
    vb = b if isinstance(b, VersionVector) else VersionVector.of(b)
    return va.compare(vb)


def merge_all(vectors: Iterable[VersionVector]) -> VersionVector:
    out = VersionVector()
    for v in vectors:
        out = out.merge(v)
    return out


@dataclass(frozen=True, order=True)
class Version:
    """One stored version of a key: the write ``dot = (node, n)`` made ``value`` after reading ``context``."""

    dot: tuple[str, int]
    context: VersionVector
    value: Any = None

    @property
    def clock(self) -> VersionVector:
        """The version's full vector: its context plus its own dot."""
        return self.context.with_entry(*self.dot)

    def obsoletes(self, other: Version) -> bool:
        """True if this version was written by a client that had seen ``other``."""
        return self.context.get(other.dot[0]) >= other.dot[1]


def reconcile(versions: Iterable[Version]) -> tuple[Version, ...]:
    """The sibling set of ``versions``: duplicates and obsolete versions dropped, sorted by dot.

    Order-independent and idempotent, so replicas that merge the same versions in any order
    (read repair, hinted handoff, anti-entropy, duplicated messages) hold the same set.
    """
    unique = {v.dot: v for v in versions}
    alive = [v for v in unique.values() if not any(o.obsoletes(v) for o in unique.values() if o is not v)]
    return tuple(sorted(alive, key=lambda v: v.dot))


def context_of(versions: Iterable[Version]) -> VersionVector:
    """What a client has seen after reading ``versions``: the merge of their vectors (the context
    of its next write)."""
    return merge_all(v.clock for v in versions)


def covers(versions: Iterable[Version], dot: tuple[str, int]) -> bool:
    """Is the write ``dot`` present in, or overwritten (knowingly) by, one of ``versions``?"""
    return any(v.dot == dot or v.context.get(dot[0]) >= dot[1] for v in versions)


__all__ = ["ORDERS", "Version", "VersionVector", "compare", "context_of", "covers", "merge_all", "reconcile"]
