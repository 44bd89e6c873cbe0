"""Merkle trees for anti-entropy (DeCandia et al., "Dynamo", SOSP 2007, §4.7).

Two replicas of the same key range want to find the keys on which they differ without sending
every key. Each builds a binary hash tree over the range: the ``2**depth`` leaves are buckets of
keys (a key's bucket is the top ``depth`` bits of its stable hash, so both sides bucket alike),
a leaf's hash covers the sorted ``(key, value digest)`` pairs in its bucket, and an inner node's
hash covers its two children. Equal roots mean equal ranges (up to hash collisions). Otherwise
the replicas descend level by level, exchanging only the children of the nodes that differed,
and at the leaves send each other the entries of the differing buckets.

:func:`repair_cost` measures that exchange in bytes against a full transfer (the chapter's
"1 % divergence over 100,000 keys" numbers) and checks that the repair is exact. The simulated
store (:mod:`.dynamo`) runs the same descent as messages between nodes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Mapping
from hashlib import blake2b
from typing import Any

from distlib.partitioning.hashing import key_bytes, stable_hash
from distlib.sim.validate import integer, number

HASH_BYTES = 16          # digest size of every tree node (BLAKE2b-128)
_EMPTY = blake2b(b"", digest_size=HASH_BYTES).digest()


def bucket_of(key: Hashable, depth: int) -> int:
    """The leaf a key falls in: the top ``depth`` bits of its 64-bit stable hash."""
    return stable_hash(key) >> (64 - depth) if depth else 0


class MerkleTree:
    """A complete binary hash tree over ``items`` (key -> value digest as bytes).

    ``levels[0]`` is ``[root]``, ``levels[depth]`` the ``2**depth`` leaf hashes; node ``i`` of
    level ``d`` has children ``2i`` and ``2i+1`` on level ``d+1``.
    """

    def __init__(self, items: Mapping[Hashable, bytes], depth: int = 10):
        self.depth = integer("depth", depth, 0, 24)
        buckets: list[list[tuple[bytes, bytes]]] = [[] for _ in range(2 ** self.depth)]
        self.bucket_keys: list[list[Hashable]] = [[] for _ in range(2 ** self.depth)]
        for key, digest in items.items():
            b = bucket_of(key, self.depth)
            buckets[b].append((key_bytes(key), digest))
            self.bucket_keys[b].append(key)
        leaves = []
        for entries in buckets:
            if not entries:
                leaves.append(_EMPTY)
                continue
            h = blake2b(digest_size=HASH_BYTES)
            for kb, digest in sorted(entries):
                h.update(len(kb).to_bytes(4, "big") + kb + len(digest).to_bytes(4, "big") + digest)
            leaves.append(h.digest())
        levels = [leaves]
        while len(levels[0]) > 1:
            below = levels[0]
            levels.insert(0, [blake2b(below[i] + below[i + 1], digest_size=HASH_BYTES).digest()
                              for i in range(0, len(below), 2)])
        self.levels = levels

    @property
    def root(self) -> bytes:
        return self.levels[0][0]

    def hashes(self, level: int, indexes: list[int]) -> list[bytes]:
        return [self.levels[level][i] for i in indexes]


def diff_buckets(a: MerkleTree, b: MerkleTree) -> tuple[list[int], list[dict[str, int]]]:
    """The leaf buckets on which ``a`` and ``b`` differ, found by descending from the root, and
    per level what was exchanged: ``{"level", "hashes", "differing"}`` (the wire cost's inputs)."""
    if a.depth != b.depth:
        raise ValueError(f"trees must have the same depth (got {a.depth} and {b.depth})")
    frontier = [0]
    rounds: list[dict[str, int]] = []
    for level in range(a.depth + 1):
        differing = [i for i in frontier if a.levels[level][i] != b.levels[level][i]]
        rounds.append({"level": level, "hashes": len(frontier), "differing": len(differing)})
        if level == a.depth or not differing:
            return (differing if level == a.depth else []), rounds
        frontier = [c for i in differing for c in (2 * i, 2 * i + 1)]
    return [], rounds


def entry_bytes(key: Hashable, value: bytes) -> int:
    """Wire size of one entry: the key's encoding, the value, and two 4-byte length prefixes."""
    return len(key_bytes(key)) + len(value) + 8


def _merge_max(x: bytes | None, y: bytes | None) -> bytes:
    if x is None or y is None:
        return x if y is None else y     # type: ignore[return-value]
    return max(x, y)


def repair_cost(keys: int = 100_000, divergence: float = 0.01, *, depth: int | None = None,
                value_bytes: int = 100, seed: int = 0,
                merge: Callable[[bytes | None, bytes | None], bytes] = _merge_max) -> dict[str, Any]:
    """Bytes to repair two replicas of ``keys`` keys that differ on a ``divergence`` fraction.

    Replica B holds a newer value for ``round(keys * divergence)`` random keys (a third of them
    are missing on A altogether). The Merkle exchange: per level, one side sends the hashes of the
    nodes still in question (``HASH_BYTES`` each) and the other answers with a bitmap of those
    that differ (one bit each); at the leaves both send the entries of every differing bucket.
    The full transfer: B sends all its entries. ``depth`` defaults to the smallest tree whose
    leaves hold <= 8 keys on average. Returns plain numbers and ``exact``: after applying the
    exchanged entries both replicas equal the key-wise merge of the two.
    """
    keys = integer("keys", keys, 1)
    divergence = number("divergence", divergence, 0.0, 1.0)
    value_bytes = integer("value_bytes", value_bytes, 1)
    if depth is None:
        depth = max(0, math.ceil(math.log2(max(1.0, keys / 8))))
    depth = integer("depth", depth, 0, 24)
    rng = random.Random(f"merkle/{seed}")
    names = [f"key{i:07d}" for i in range(keys)]
    a: dict[Hashable, bytes] = {}
    for name in names:
        a[name] = b"\x00" + rng.randbytes(value_bytes - 1) if value_bytes > 1 else b"\x00"
    b = dict(a)
    changed = rng.sample(names, round(keys * divergence))
    for i, name in enumerate(changed):
        b[name] = b"\x01" + a[name][1:]            # a newer version (compares higher)
        if i % 3 == 0:
            del a[name]                             # ... that A never got at all
    ta, tb = MerkleTree(a, depth), MerkleTree(b, depth)
    buckets, rounds = diff_buckets(ta, tb)
    hash_bytes = sum(r["hashes"] * HASH_BYTES for r in rounds)
    bitmap_bytes = sum(math.ceil(r["hashes"] / 8) for r in rounds)
    sent_a = [(k, a[k]) for bk in buckets for k in ta.bucket_keys[bk]]
    sent_b = [(k, b[k]) for bk in buckets for k in tb.bucket_keys[bk]]
    entries = sum(entry_bytes(k, v) for k, v in sent_a) + sum(entry_bytes(k, v) for k, v in sent_b)
    for k, v in sent_b:
        a[k] = merge(a.get(k), v)
    for k, v in sent_a:
        b[k] = merge(b.get(k), v)
    full = sum(entry_bytes(k, v) for k, v in b.items())
    merkle = hash_bytes + bitmap_bytes + entries
    return {
        "keys": keys, "differing_keys": len(changed), "depth": depth, "leaves": 2 ** depth,
        "differing_buckets": len(buckets), "levels_exchanged": len(rounds),
        "keys_sent": len(sent_a) + len(sent_b), "hash_bytes": hash_bytes, "bitmap_bytes": bitmap_bytes,
        "entry_bytes": entries, "merkle_bytes": merkle, "full_bytes": full,
        "ratio": merkle / full, "exact": a == b and MerkleTree(a, depth).root == MerkleTree(b, depth).root,
    }


__all__ = ["HASH_BYTES", "MerkleTree", "bucket_of", "diff_buckets", "entry_bytes", "repair_cost"]
