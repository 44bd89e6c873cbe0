"""Deterministic random streams derived from one master seed.

Every source of randomness in a run (the network, each node, each client, the
nemesis) gets its own ``random.Random`` seeded from ``(master_seed, stream name)``.
Adding a node or a client therefore never perturbs the other streams.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, stream: str) -> int:
    """A 64-bit seed for ``stream``, a pure function of ``(seed, stream)``."""
    digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def stream(seed: int, name: str) -> random.Random:
    """A fresh ``random.Random`` for the named stream."""
    return random.Random(derive_seed(seed, name))


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (got {seed!r})")
    return seed
