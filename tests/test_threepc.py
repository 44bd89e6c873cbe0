"""Three-phase commit (distlib.transactions.threepc): non-blocking under crashes with bounded delays,
broken by a partition -- caught by the atomic-commitment checker and found by the model checker.

Budget: about 10 s on 2 cores (the 300-seed crash sweep dominates).
"""

from __future__ import annotations

import pytest

from distlib.check.atomic import atomic_commitment_invariant, check_atomic_commitment
from distlib.check.explore import explore, replay
from distlib.check.sweep import sweep
from distlib.sim.trace import Annotate, Send
from distlib.transactions import threepc
from distlib.transactions.threepc import (
    PreCommit,
    PreCommitted,
    crash_scenario,
    partition_scenario,
    random_3pc,
    run_3pc,
)
from distlib.transactions.twopc import Committed, Prepared, blocking_scenario, log_cost

PS = ("p1", "p2", "p3")


def test_all_yes_commits_through_precommit():
    run = run_3pc(seed=0)
    assert set(run.outcomes.values()) == {"commit"} and run.violations == []
    for p in PS:
        assert run.world.storage[p]["log"] == [Prepared(1, PS), PreCommitted(1), Committed(1)]
    cost = log_cost(run)
    # 2PC's four messages per participant plus PreCommit and its ack
    assert cost["by_type"] == {"Ack": 3, "Decision": 3, "PreCommit": 3, "PreCommitAck": 3, "Prepare": 3,
                               "Vote": 3}
    assert cost["participant_forced"] == 9   # Prepared, PreCommitted, Committed per participant


def test_no_vote_aborts_without_precommit():
    run = run_3pc(seed=1, votes={"p2": "no"})
    assert set(run.outcomes.values()) == {"abort"} and run.violations == []
    assert not [r for r in run.world.trace.of(Send) if isinstance(r.msg, PreCommit)]


@pytest.mark.parametrize("point, outcome", [("votes-in", "abort"), ("precommitting", "commit")])
def test_coordinator_crash_does_not_block(point, outcome):
    # 2PC blocks in exactly this place (the coordinator dies with every participant prepared)
    two = blocking_scenario(seed=0, until=1.9)
    assert two.outcome == "blocked"
    run = crash_scenario(seed=0, point=point)
    assert not run.world.is_up("coord")
    assert run.blocked == [] and run.violations == []
    assert {run.outcomes[p] for p in PS} == {outcome}


def test_partition_loses_agreement_and_the_checker_says_so():
    run = partition_scenario(seed=0)
    assert run.outcomes == {"coord": "commit", "p1": "commit", "p2": "abort", "p3": "abort"}
    assert run.outcome == "mixed"
    assert check_atomic_commitment(run) == ["tx 1: atomic commitment broken: coord, p1 committed but p2, "
                                            "p3 aborted"]
    # the same timing without the partition commits everywhere
    assert set(run_3pc(seed=0, latency=0.01).outcomes.values()) == {"commit"}


def test_crash_only_sweep_has_no_violation_and_no_blocking():
    result = sweep(random_3pc, range(300), check_atomic_commitment)
    assert result.ok, f"seed {result.first_failing_seed}: {result.violations}"
    assert result.outcomes.get("blocked", 0) == 0
    assert result.outcomes.get("commit", 0) > 50 and result.outcomes.get("abort", 0) > 50
    # the sweep is not vacuous: termination protocols really ran
    ran = sum(1 for s in range(60) if any("termination protocol" in r.text
                                          for r in random_3pc(s).world.trace.of(Annotate)))
    assert ran > 0


def test_model_checker_finds_the_partition_violation():
    nodes = threepc.model_nodes(2)
    result = explore(nodes, {"atomic": atomic_commitment_invariant}, max_drops=2, max_depth=12)
    assert result.status == "violation", result.summary()
    assert "committed but" in result.message
    kinds = [s.kind for s in result.counterexample]
    # the coordinator's ack timeout fires while messages to the participants are still in flight
    # (what a partition does): it commits; a participant's termination protocol aborts.
    assert ("timer", "coord", "ack-timeout:1") in [(s.kind, s.node, s.timer) for s in result.counterexample]
    assert "timer" in kinds
    world = replay(result.counterexample, nodes)
    assert check_atomic_commitment(world)


@pytest.mark.parametrize("kwargs, word", [
    ({"ack_timeout": 0}, "ack_timeout"),
    ({"timeout": -1}, "timeout"),
    ({"report_timeout": "x"}, "report_timeout"),
    ({"crash": "p1", "crash_at": "votes-in"}, "crash_at"),
    ({"crash": "coord", "crash_at": "soon"}, "crash_at"),
    ({"crash": "p9", "crash_at": "prepared"}, "crash"),
    ({"faults": "crash p7 at 0.1"}, "p7"),
    ({"participants": 0}, "participants"),
    ({"until": 0}, "until"),
])
def test_bad_parameters_raise_value_error(kwargs, word):
    with pytest.raises(ValueError, match=word):
        run_3pc(**kwargs)


def test_fault_text_runs_like_its_schedule():
    from distlib.sim import FaultSchedule, crash
    a = run_3pc(seed=2, faults="crash coord at 0.03")
    b = run_3pc(seed=2, faults=FaultSchedule([crash("coord", at=0.03)]))
    assert a.world.trace == b.world.trace and a.blocked == []
