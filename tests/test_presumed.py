"""Presumed abort / presumed commit (Mohan, Lindsay & Obermarck 1986) as options of twopc:
forced log writes and messages counted on the same runs, safety kept under faults."""

from __future__ import annotations

import pytest

from distlib.check.atomic import check_atomic_commitment
from distlib.check.sweep import sweep
from distlib.transactions.twopc import (
    Aborted,
    Committed,
    Ended,
    is_forced,
    log_cost,
    random_faults,
    run_2pc,
)


def cost(presumption, votes=None):
    run = run_2pc(seed=0, latency=0.01, presumption=presumption, votes=votes)
    assert run.violations == []
    return run, log_cost(run)


def test_commit_costs_as_in_rstar():
    # n = 3 participants. Gray / presumed abort: 4n messages, 2n + 1 forced writes;
    # presumed commit: no acks (3n messages) and no forced commit at participants (n + 2 forced).
    for p in ("nothing", "abort"):
        run, c = cost(p)
        assert run.outcome == "commit" and c["messages"] == 12 and c["forced_writes"] == 7
    run, c = cost("commit")
    assert run.outcome == "commit" and c["messages"] == 9 and c["forced_writes"] == 5
    assert c["coordinator_forced"] == 2 and c["participant_forced"] == 3
    assert "Ack" not in c["by_type"]
    assert not any(isinstance(r, Ended) for r in run.world.storage["coord"]["log"])


def test_abort_costs_as_in_rstar():
    run, nothing = cost("nothing", {"p2": "no"})
    assert run.outcome == "abort" and nothing["messages"] == 12 and nothing["forced_writes"] == 6
    run, pa = cost("abort", {"p2": "no"})
    # presumed abort: no acks, nothing forced but the two yes voters' Prepared records
    assert run.outcome == "abort" and pa["messages"] == 9 and pa["forced_writes"] == 2
    assert pa["coordinator_forced"] == 0 and "Ack" not in pa["by_type"]
    run, pc = cost("commit", {"p2": "no"})
    assert run.outcome == "abort" and pc["messages"] == 12 and pc["forced_writes"] == 7


def test_forced_rule_by_record():
    assert is_forced(Committed(1)) and is_forced(Aborted(1)) and not is_forced(Ended(1))
    assert not is_forced(Aborted(1), "abort") and is_forced(Committed(1), "abort")
    assert not is_forced(Committed(1), "commit") and is_forced(Committed(1), "commit", coordinator=True)


@pytest.mark.parametrize("presumption", ["abort", "commit"])
def test_presumptions_stay_safe_under_faults(presumption):
    def run(seed):
        return run_2pc(seed=seed, presumption=presumption, loss=0.1, duplicate=0.1,
                       faults=random_faults(seed, faults=seed % 4), until=4.0)
    result = sweep(run, range(150), check_atomic_commitment)
    assert result.ok, f"seed {result.first_failing_seed}: {result.violations}"
    assert result.outcomes.get("commit", 0) > 20 and result.outcomes.get("abort", 0) > 5


@pytest.mark.parametrize("presumption, commit", [("nothing", False), ("abort", False), ("commit", True)])
def test_no_information_is_answered_by_the_presumption(presumption, commit):
    # A coordinator asked about a transaction its log does not know (forgotten after it ended)
    # answers with the presumed outcome: R*'s whole point.
    from distlib.sim import Node, World
    from distlib.transactions.twopc import Coordinator, DecisionReply, DecisionRequest

    class Asker(Node):
        def on_start(self):
            self.send("coord", DecisionRequest(7))

        def on_message(self, src, msg):
            self.storage["reply"] = msg

    world = World(0, latency=0.01)
    world.add_node("coord", Coordinator, participants=("p1",), presumption=presumption)
    world.add_node("p1", Asker)
    world.run(until=1.0)
    assert world.storage["p1"]["reply"] == DecisionReply(7, commit)


def test_bad_presumption():
    with pytest.raises(ValueError, match="presumption"):
        run_2pc(presumption="maybe")
    with pytest.raises(ValueError, match="presumption"):
        log_cost(run_2pc(), presumption="never")
