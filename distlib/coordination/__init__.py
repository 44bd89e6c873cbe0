"""Coordination services (chapter 08): a Chubby-style lock service on chapter 03's Raft.

* :mod:`.namespace` — the replicated state machine: files, directories, sessions, locks, sequencers.
* :mod:`.cell` — the cell's replicas (``ChubbyServer``, a Raft node; master = leader), lease
  bookkeeping and fail-over, and the fenced ``ResourceServer``.
* :mod:`.client` — the client library (local lease, jeopardy, grace period) and its applications.
* :mod:`.runs` — runs and stories (primary election, GC pause, fail-over, stale cache, the sweep's
  random run).
* :mod:`.zookeeper` — the same recipes on a real ZooKeeper (kazoo), and a server to run them on.
"""

from .cell import AmnesiacServer, CellConfig, ChubbyServer, EagerInvalidationServer, ResourceServer
from .client import ChubbyClient
from .namespace import Command, LockServiceError, Namespace, Result, Sequencer
from .runs import (
    LockRun,
    failover,
    gc_pause,
    primary_election,
    random_lockservice,
    run_cell,
    stale_cache,
)

__all__ = [
    "AmnesiacServer", "CellConfig", "ChubbyClient", "ChubbyServer", "Command", "EagerInvalidationServer",
    "LockRun", "LockServiceError", "Namespace", "ResourceServer", "Result", "Sequencer", "failover",
    "gc_pause", "primary_election", "random_lockservice", "run_cell", "stale_cache",
]
