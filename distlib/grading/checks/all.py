"""Import every check module, so that every exercise's reference answers are protected
(:mod:`distlib.grading.guard`). The grader and the strength tests run this before any student cell."""

from . import models_cap, paxos, raft, twopc  # noqa: F401
