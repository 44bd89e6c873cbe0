"""Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
NSDI 2016, §3.4) behind chapter 06's placement interface.

Each backend ``i`` gets a *preference list*, a permutation of the ``M`` slots of a lookup table
(``M`` prime): ``offset = h1(name) mod M``, ``skip = h2(name) mod (M - 1) + 1``, and its ``j``-th
preference is ``(offset + j * skip) mod M`` -- a permutation because ``skip`` is in 1..M-1 and
``M`` is prime. Population: the backends take turns, each claiming its most preferred slot that is
still empty, until all ``M`` slots are filled (:func:`maglev_table`). A key with hash ``h`` goes to
``table[h mod M]``: one array access, and the table is rebuilt from scratch on every change.

Properties (§3.4): every backend gets ``floor(M/N)`` or ``ceil(M/N)`` slots, so with
``M > 100 N`` the shares differ by at most about 1 %; a change of backends moves *almost* only the
keys it must (backends' preferences barely shift), but unlike the ring, jump hash and rendezvous,
not exactly only those -- Maglev trades a little disruption for near-perfect balance.

What is supported here: ``owner``, ``owners`` (the replicas are the next distinct backends in the
table after the key's slot -- the paper defines no replica order; this mirrors the ring's
preference list), ``add``/``remove`` (rebuild), and **weights**: a backend of weight ``w`` takes a
turn in round ``k`` when ``floor((k + 1) w / w_max)`` exceeds ``floor(k w / w_max)``, so its share of
the turns -- and of the slots -- is proportional to its weight (the heaviest backend plays every
round). With equal weights this is exactly the paper's population loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from distlib.sim.validate import integer

from .hashing import as_hash_array, check_hash, np, stable_hash
from .placement import Placement, distinct_from

DEFAULT_M = 65537        # the paper's default table size (§5.3)


def is_prime(m: int) -> bool:
    if m < 2:
        return False
    if m % 2 == 0:
        return m == 2
    f = 3
    while f * f <= m:
        if m % f == 0:
            return False
        f += 2
    return True


def check_table_size(m: object, backends: int) -> int:
    """``m`` if it is a prime >= the number of backends (every backend needs a slot)."""
    m = integer("m", m, 2)
    if not is_prime(m) or m < backends:
        raise ValueError(f"m must be a prime >= the number of backends ({backends}) (got {m})")
    return m


def maglev_table(prefs: Sequence[tuple[int, int]], m: int,
                 weights: Sequence[float] | None = None) -> list[int]:
    """The lookup table for backends with ``(offset, skip)`` pairs: slot -> backend index.

    The paper's population loop (§3.4, Pseudocode 1): backends take turns claiming their next
    preferred empty slot until the table is full; ``weights`` (positive) thin out the turns of the
    lighter backends as described in the module docstring.
    """
    m = check_table_size(m, len(prefs))
    for offset, skip in prefs:
        if not (0 <= offset < m and 1 <= skip < m):
            raise ValueError(f"prefs must be (offset in 0..{m - 1}, skip in 1..{m - 1}) pairs "
                             f"(got {(offset, skip)})")
    n = len(prefs)
    if weights is None:
        weights = [1.0] * n
    top = max(weights)
    share = [w / top for w in weights]
    nxt = [0] * n
    entry = [-1] * m
    filled = 0
    k = 0
    while True:
        for i in range(n):
            # A turn in round k iff floor((k+1) * share) > floor(k * share): share * rounds turns.
            if int((k + 1) * share[i] + 1e-12) == int(k * share[i] + 1e-12):
                continue
            offset, skip = prefs[i]
            c = (offset + nxt[i] * skip) % m
            while entry[c] >= 0:
                nxt[i] += 1
                c = (offset + nxt[i] * skip) % m
            entry[c] = i
            nxt[i] += 1
            filled += 1
            if filled == m:
                return entry
        k += 1


class Maglev(Placement):
    """Maglev hashing: a prime-size lookup table filled by the backends' permutations.

    >>> mg = Maglev(["a", "b", "c"], m=101)
    >>> sorted(mg.slot_counts().values())      # floor(101/3) or ceil(101/3) each
    [33, 34, 34]
    """

    kind = "maglev"

    def __init__(self, nodes: Iterable[str] | Mapping[str, float], *, m: int = DEFAULT_M):
        self.m = integer("m", m, 2)
        super().__init__(nodes)

    def preferences(self, node: str) -> tuple[int, int]:
        """``(offset, skip)`` of ``node``'s permutation (two independent hashes of its name)."""
        self._check_member(node)
        offset = stable_hash(("maglev-offset", node)) % self.m
        return offset, stable_hash(("maglev-skip", node)) % (self.m - 1) + 1

    def _rebuild(self) -> None:
        names = list(self._weights)
        check_table_size(self.m, len(names))
        self._names = names
        self._table = maglev_table([self.preferences(n) for n in names], self.m,
                                   [self._weights[n] for n in names])
        self._named = [names[i] for i in self._table]
        if np is not None:
            self._table_np = np.array(self._table, dtype=np.int64)

    def table(self) -> list[str]:
        """The lookup table, slot by slot, as node names."""
        return list(self._named)

    def slot_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self._names, 0)
        for i in self._table:
            counts[self._names[i]] += 1
        return counts

    def owner_of_hash(self, h: int) -> str:
        return self._named[check_hash(h) % self.m]

    def owners_of_hash(self, h: int, n: int) -> list[str]:
        return distinct_from(self._named, check_hash(h) % self.m, n)

    def lookup(self, hashes: Sequence[int] | Any) -> Any:
        if np is None:
            return [self._table[check_hash(h) % self.m] for h in hashes]
        arr = as_hash_array(hashes)
        return self._table_np[(arr % np.uint64(self.m)).astype(np.int64)]


def disruption(before: Maglev, after: Maglev) -> dict[str, float]:
    """Slots whose backend changed between two tables of the same size, against the necessary
    change (slots of a removed backend, or the slots a new backend now holds):
    ``{"changed", "necessary", "fraction", "excess"}``."""
    if before.m != after.m:
        raise ValueError(f"after must have the same table size as before ({before.m}) (got {after.m})")
    old, new = before.table(), after.table()
    changed = sum(a != b for a, b in zip(old, new, strict=True))
    kept = set(before.nodes) & set(after.nodes)
    necessary = sum(a not in kept or b not in kept for a, b in zip(old, new, strict=True))
    return {"changed": changed, "necessary": necessary, "fraction": changed / before.m,
            "excess": (changed - necessary) / before.m}


__all__ = ["DEFAULT_M", "Maglev", "check_table_size", "disruption", "is_prime", "maglev_table"]
