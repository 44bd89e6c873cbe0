"""Replicated storage: a CP (ABD quorum) and an AP (local + gossip) register for chapter 01."""

from .register import APReplica, CPReplica, RegisterRun, run_register

__all__ = ["APReplica", "CPReplica", "RegisterRun", "run_register"]
