"""Stable 64-bit hashes of keys, and the arithmetic the placement strategies share.

Why not Python's ``hash()``: it is salted per process for ``str`` and ``bytes`` (PYTHONHASHSEED),
so two runs -- or a client and a server -- would disagree on where a key lives. Every position
here comes from BLAKE2b with an 8-byte digest over a *canonical* encoding of the key, so ``"7"``,
``b"7"`` and ``7`` are three different keys, and the same key hashes the same everywhere.

numpy is optional: with it, :func:`hash_array` returns a ``uint64`` array and the strategies'
batch paths are vectorized; without it, the same functions work on lists of Python ints.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from hashlib import blake2b
from typing import Any

try:   # optional dependency: the batch paths use it when present
    import numpy as np
except ImportError:   # pragma: no cover - exercised only where numpy is absent
    np = None  # type: ignore[assignment]

MASK64 = (1 << 64) - 1
# Lamping & Veach 2014, Figure 1: the 64-bit linear congruential generator of jump hash.
JUMP_LCG = 2862933555777941757
KEY_TYPES = "a str, bytes, int or a tuple of them"


def key_bytes(key: Any) -> bytes:
    """The canonical bytes of ``key``: a type tag, then the value (tuples length-prefixed).

    Raises ValueError for anything else (lists, dicts, floats, None ...): a key must mean the
    same on every machine, and ``1.0 == 1`` or a mutable list would break that.
    """
    t = type(key)
    if t is str:
        return b"s" + key.encode("utf-8", "surrogatepass")
    if t is bytes:
        return b"b" + key
    if t is int:
        return b"i" + str(key).encode()
    if t is tuple:
        parts = [key_bytes(k) for k in key]
        return b"t" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    raise ValueError(f"key must be {KEY_TYPES} (got {t.__name__}: {key!r})")


def stable_hash(key: Hashable) -> int:
    """A 64-bit hash of ``key`` that is the same in every process and on every machine."""
    if type(key) is str:   # the common case, without the generic dispatch
        data = b"s" + key.encode("utf-8", "surrogatepass")
    else:
        data = key_bytes(key)
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big")


def hash_array(keys: Iterable[Hashable]) -> Any:
    """``stable_hash`` of every key: a numpy ``uint64`` array (a list of ints without numpy)."""
    if np is None:
        return [stable_hash(k) for k in keys]
    # The digests joined and read as big-endian uint64: the same numbers as stable_hash, without
    # building a Python int per key (the loop's main cost after BLAKE2b itself).
    digests = b"".join([blake2b(b"s" + k.encode("utf-8", "surrogatepass") if type(k) is str
                                else key_bytes(k), digest_size=8).digest() for k in keys])
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def check_hash(h: object) -> int:
    if isinstance(h, bool) or not isinstance(h, int) or not 0 <= h <= MASK64:
        raise ValueError(f"h must be an integer in 0..{MASK64} (a 64-bit key hash) (got {h!r})")
    return h


def mix64(x: int) -> int:
    """SplitMix64's finalizer (Steele, Lea & Flood 2014): a bijection on 64-bit ints that
    spreads every input bit over every output bit. Used to derive independent per-node and
    per-replica hashes from one key hash without hashing the key again."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & MASK64
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & MASK64
    return x ^ (x >> 31)


def mix64_array(x: Any) -> Any:
    """:func:`mix64` on a numpy uint64 array (multiplication wraps modulo 2**64, as wanted)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def unit_interval(x: int) -> float:
    """A 64-bit hash as a float strictly inside (0, 1): the top 53 bits, centred in their cell."""
    return ((x >> 11) + 0.5) / 9007199254740992.0


def jump(key: int, buckets: int) -> int:
    """Jump consistent hash (Lamping & Veach 2014, Figure 1): a bucket in ``0..buckets-1``.

    The key's 64-bit value seeds a linear congruential generator; each step draws the next
    bucket count ``j`` at which the key would *jump* (move to bucket ``j``). Going from ``n`` to
    ``n+1`` buckets the key moves with probability exactly ``1/(n+1)``, and only to the new
    bucket ``n`` -- so growing the cluster moves the minimum, and no table is stored at all.
    """
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * JUMP_LCG + 1) & MASK64
        j = int((b + 1) * (2147483648.0 / ((key >> 33) + 1)))   # (b+1) * 2**31 / (top 31 bits + 1)
    return b


def jump_array(keys: Any, buckets: int) -> Any:
    """:func:`jump` for a numpy uint64 array of keys: the same recurrence, all keys at once.

    Each pass advances every key that has not yet jumped past ``buckets``; a key makes about
    ``ln(buckets)`` jumps, so the loop runs a few dozen times at most.
    """
    key = keys.astype(np.uint64, copy=True)
    b = np.full(key.shape, -1, dtype=np.int64)
    j = np.zeros(key.shape, dtype=np.int64)
    active = np.ones(key.shape, dtype=bool)
    mult, one, shift = np.uint64(JUMP_LCG), np.uint64(1), np.uint64(33)
    while active.any():
        idx = np.nonzero(active)[0]
        b[idx] = j[idx]
        k = key[idx] * mult + one
        key[idx] = k
        draw = (b[idx] + 1).astype(np.float64) * (2147483648.0 / ((k >> shift).astype(np.float64) + 1.0))
        j[idx] = draw.astype(np.int64)
        active[idx] = j[idx] < buckets
    return b


def as_hash_array(hashes: Sequence[int] | Any) -> Any:
    """``hashes`` as a numpy uint64 array (validated when it is not one already)."""
    if isinstance(hashes, np.ndarray):
        if hashes.dtype != np.uint64:
            raise ValueError(f"hashes must be a uint64 array of key hashes (got dtype {hashes.dtype})")
        return hashes
    return np.array([check_hash(h) for h in hashes], dtype=np.uint64)
