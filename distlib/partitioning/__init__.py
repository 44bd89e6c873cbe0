"""Partitioning (chapter 06): where keys live -- placement strategies, their measured
properties, and a sharded key-value store that migrates shards on the simulated cluster."""

from .hashing import stable_hash
from .maglev import Maglev
from .placement import (
    STRATEGIES,
    BoundedLoadRing,
    JumpHash,
    ModN,
    Placement,
    Rendezvous,
    Ring,
    make_placement,
)

__all__ = ["STRATEGIES", "BoundedLoadRing", "JumpHash", "Maglev", "ModN", "Placement", "Rendezvous", "Ring",
           "make_placement", "stable_hash"]
