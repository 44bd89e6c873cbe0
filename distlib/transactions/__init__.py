"""Transactions across nodes: two-phase commit (Gray 1978)."""

from .twopc import (
    CRASH_POINTS,
    SCENARIOS,
    Aborted,
    Ack,
    Begin,
    Committed,
    Coordinator,
    Decision,
    DecisionReply,
    DecisionRequest,
    EagerCoordinator,
    Ended,
    MajorityCoordinator,
    NoLogParticipant,
    Outcome,
    Participant,
    Prepare,
    Prepared,
    Started,
    TwoPCRun,
    Vote,
    blocking_scenario,
    build_2pc,
    random_2pc,
    random_faults,
    run_2pc,
    scenario,
)

__all__ = [
    "CRASH_POINTS", "SCENARIOS", "Ack", "Aborted", "Begin", "Committed", "Coordinator", "Decision",
    "DecisionReply", "DecisionRequest", "EagerCoordinator", "Ended", "MajorityCoordinator",
    "NoLogParticipant", "Outcome", "Participant", "Prepare", "Prepared", "Started", "TwoPCRun", "Vote",
    "blocking_scenario", "build_2pc", "random_2pc", "random_faults", "run_2pc", "scenario",
]
