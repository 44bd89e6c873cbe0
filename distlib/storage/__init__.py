"""Replicated storage: a CP (ABD quorum) and an AP (local + gossip) register for chapter 01."""

from .register import (
                       APReplica,
                       CPReplica,
                       RegisterRun,
                       causally_consistent,
                       consistency_level,
                       history_from_rows,
                       run_register,
                       sequentially_consistent,
)

__all__ = ["APReplica", "CPReplica", "RegisterRun", "causally_consistent", "consistency_level",
           "history_from_rows", "run_register", "sequentially_consistent"]
