"""Two-phase commit (distlib.transactions.twopc) and its atomic-commitment checker.

Budget: about 10 s on 2 cores (two 500-seed sweeps dominate).
"""

from __future__ import annotations

import pytest

from distlib.check import atomic as atomic_mod
from distlib.check.atomic import check_atomic_commitment
from distlib.check.sweep import SweepResult, sweep
from distlib.sim import FaultSchedule, World, crash, cut
from distlib.sim.trace import Annotate, Deliver, Send
from distlib.transactions.twopc import (
    SCENARIOS,
    Aborted,
    Begin,
    Committed,
    Coordinator,
    Decision,
    DecisionReply,
    DecisionRequest,
    EagerCoordinator,
    MajorityCoordinator,
    NoLogParticipant,
    Outcome,
    Participant,
    Prepare,
    Prepared,
    Vote,
    blocking_scenario,
    random_2pc,
    random_faults,
    run_2pc,
    scenario,
)

PS = ("p1", "p2", "p3")


def sends(run, kind, src=None, dst=None):
    return [r for r in run.world.trace.of(Send)
            if isinstance(r.msg, kind) and (src is None or r.src == src) and (dst is None or r.dst == dst)]


def delivered(run, kind, dst=None):
    return [r for r in run.world.trace.of(Deliver)
            if isinstance(r.msg, kind) and (dst is None or r.dst == dst)]


def log(run, node):
    return list(run.world.storage[node].get("log", []))


# ---- the normal cases ---------------------------------------------------------------------------
def test_all_yes_commits_everywhere():
    run = run_2pc(seed=0)
    assert run.outcomes == {"coord": "commit", "p1": "commit", "p2": "commit", "p3": "commit"}
    assert run.votes == {"p1": "yes", "p2": "yes", "p3": "yes"}
    assert run.blocked == [] and run.violations == [] and run.outcome == "commit"
    for p in PS:
        assert log(run, p) == [Prepared(1, PS), Committed(1)]
    assert repr(Prepare(1, PS)) == "Prepare(tx=1)"
    assert repr(Vote(1, True)) == "Vote(tx=1, yes=True)"
    assert repr(Decision(1, True)) == "Decision(tx=1, commit=True)"
    assert "commit" in run.summary() and "violations: 0" in run.summary()


def test_same_seed_same_trace():
    a, b = random_2pc(17), random_2pc(17)
    assert a.world.trace == b.world.trace and len(a.world.trace) > 0
    assert random_2pc(18).world.trace != a.world.trace


def test_one_no_vote_aborts():
    run = run_2pc(seed=3, votes=["yes", "no", "yes"])
    assert run.outcomes == {"coord": "abort", "p1": "abort", "p2": "abort", "p3": "abort"}
    assert run.votes["p2"] == "no"
    # a no vote is a unilateral abort: no Prepared record, Aborted logged before voting
    assert log(run, "p2")[0] == Aborted(1)
    assert not any(isinstance(r, Prepared) for r in log(run, "p2"))


def test_vote_timeout_aborts():
    run = run_2pc(seed=1, crash="p3", crash_at=0.0)     # p3 never sees Prepare, never votes
    assert run.votes["p3"] is None
    assert run.outcomes["coord"] == "abort" and run.outcomes["p1"] == run.outcomes["p2"] == "abort"
    notes = [r for r in run.world.trace.of(Annotate) if "vote timeout" in r.text]
    assert notes and notes[0].time >= 0.5                 # decided by the timeout, not by a vote
    assert run.violations == []


def test_client_begin_gets_outcome():
    world = World(seed=2, latency=(0.01, 0.03))
    world.add_node("coord", Coordinator, participants=PS)   # no start_at: waits for a client
    for p in PS:
        world.add_node(p, Participant, coordinator="coord")
    results = []

    def workload(client):
        reply = yield from client.request("coord", Begin(req_id=client.next_id(), tx=7), f="commit",
                                          timeout=1.0, interpret=lambda r: ("ok", r.commit))
        results.append(reply)

    world.process(workload(world.client("c1")))
    world.run(until=2.0)
    assert results == [Outcome("c1:1", 7, True)]
    assert [op.type for op in world.history] == ["invoke", "ok"]
    assert check_atomic_commitment(world) == []


def test_log_is_forced_before_the_message_leaves():
    """Gray's write-ahead rules, observed after every event: a yes vote never exists without the
    voter's Prepared record, a decision message never exists without the coordinator's record."""

    def broken_rules(world):
        bad = []
        for r in world.trace.of(Send):
            logged = world.storage[r.src].get("log", [])
            if isinstance(r.msg, Vote) and r.msg.yes and Prepared(r.msg.tx, PS) not in logged:
                bad.append(f"{r.src} voted yes before logging Prepared")
            if isinstance(r.msg, Decision) and r.src == "coord":
                rec = Committed(r.msg.tx) if r.msg.commit else Aborted(r.msg.tx)
                if rec not in logged:
                    bad.append(f"coord sent {r.msg!r} before logging it")
        return bad

    def watch(coordinator_cls, participant_cls):
        from distlib.transactions.twopc import build_2pc
        run = build_2pc(seed=0, coordinator_cls=coordinator_cls, participant_cls=participant_cls)
        seen: list[str] = []
        run.world.add_monitor(lambda w: seen.extend(broken_rules(w)))
        run.run(1.0)
        return seen

    assert watch(Coordinator, Participant) == []
    assert any("voted yes before logging" in s for s in watch(Coordinator, NoLogParticipant))
    assert any("before logging it" in s for s in watch(EagerCoordinator, Participant))


# ---- recovery -------------------------------------------------------------------------------------
def test_coordinator_recovers_and_resends_logged_decision():
    # p1 never hears the decision (coord->p1 is cut), then coord crashes with Committed logged.
    faults = FaultSchedule([cut("coord", "p1", at=0.015, heal=0.5), crash("coord", at=0.1, restart=1.0)])
    run = run_2pc(seed=0, participants=1, latency=0.01, faults=faults, until=0.99)
    assert Committed(1) in log(run, "coord")
    assert run.outcomes["p1"] is None and run.blocked == ["p1"]      # in doubt while coord is down
    run.run(2.0)
    assert run.outcomes == {"coord": "commit", "p1": "commit"}
    got = delivered(run, Decision, dst="p1")
    assert got and got[0].sent_at >= 1.0                               # the re-sent decision
    assert run.violations == []


def test_coordinator_recovers_without_decision_and_aborts():
    run = run_2pc(seed=4, crash="coord", crash_at="votes-in", restart_at=0.3)
    assert run.outcomes == {"coord": "abort", "p1": "abort", "p2": "abort", "p3": "abort"}
    assert run.votes == {"p1": "yes", "p2": "yes", "p3": "yes"}


def test_participant_crash_after_prepare_recovers_in_doubt_and_learns():
    run = run_2pc(seed=5, crash="p2", crash_at="prepared", restart_at=0.5, until=0.49)
    assert run.outcomes["p1"] == run.outcomes["p3"] == "commit"
    assert run.outcomes["p2"] is None and run.blocked == ["p2"]
    run.run(2.0)
    assert run.outcomes["p2"] == "commit" and run.blocked == []
    notes = [r.text for r in run.world.trace.of(Annotate) if r.node == "p2"]
    assert any("IN DOUBT" in t for t in notes)
    assert [r for r in sends(run, DecisionRequest, src="p2") if r.time >= 0.5]   # it asked
    assert run.violations == []


def test_blocking_scenario_blocks_until_coordinator_restarts():
    restart = blocking_scenario.RESTART_AT
    for seed in range(3):
        run = blocking_scenario(seed=seed, until=restart - 0.01)
        assert not run.world.is_up("coord")
        assert run.votes == {"p1": "yes", "p2": "yes", "p3": "yes"}
        assert run.blocked == list(PS) and run.outcome == "blocked"
        assert all(run.outcomes[p] is None for p in PS)
        # they did try: every participant asked the coordinator and its peers, repeatedly
        for p in PS:
            assert len(sends(run, DecisionRequest, src=p)) >= 3 * 3
        assert delivered(run, DecisionReply) == []                 # ... and nobody could answer
        run.run(restart + 1.0)
        assert run.blocked == []
        assert set(run.outcomes.values()) == {"abort"}             # no decision was logged: abort
        assert run.violations == []


def test_cooperative_termination_from_a_peer_that_knows():
    # coord->p3 is cut, so only p1 and p2 get the commit; then the coordinator dies for good.
    faults = FaultSchedule([cut("coord", "p3", at=0.015), crash("coord", at=0.1)])
    run = run_2pc(seed=0, latency=0.01, faults=faults, until=2.0)
    assert not run.world.is_up("coord")
    assert run.outcomes == {"coord": "commit", "p1": "commit", "p2": "commit", "p3": "commit"}
    replies = delivered(run, DecisionReply, dst="p3")
    assert replies and {r.src for r in replies} <= {"p1", "p2"}
    assert run.violations == []


def test_cooperative_termination_a_peer_that_has_not_voted_aborts():
    # p3 never gets Prepare; the coordinator dies before any vote arrives: p1, p2 are in doubt.
    faults = FaultSchedule([cut("coord", "p3", at=0.0), crash("coord", at=0.02)])
    run = run_2pc(seed=0, latency=0.01, faults=faults, until=2.0)
    assert run.votes == {"p1": "yes", "p2": "yes", "p3": None}
    assert run.outcomes == {"coord": None, "p1": "abort", "p2": "abort", "p3": "abort"}
    assert log(run, "p3") == [Aborted(1)]
    assert run.violations == []


# ---- the checker against the correct protocol and the broken variants ----------------------------
def test_atomic_commitment_holds_over_500_random_seeds():
    result = sweep(random_2pc, range(500), check_atomic_commitment)
    assert result.ok, f"seed {result.first_failing_seed}: {result.violations}"
    # the sweep is not vacuous: both outcomes occur and the faults really hit the protocol
    assert result.outcomes.get("commit", 0) > 50 and result.outcomes.get("abort", 0) > 50
    kinds = {type(f).__name__ for s in range(500) for f in random_faults(s, faults=3)}
    assert {"CrashFault", "PartitionFault", "PauseFault"} <= kinds
    recovered = sum(1 for s in range(60) if any("IN DOUBT" in r.text for r in
                                                random_2pc(s).world.trace.of(Annotate)))
    assert recovered > 0


def test_majority_coordinator_is_caught():
    run = scenario("majority-bug")
    assert any("committed but p3 aborted" in v for v in run.violations)
    assert any("p3 voted no" in v for v in run.violations)
    # with p3 down, a majority commits although p3 never voted at all
    run = run_2pc(seed=0, crash="p3", crash_at=0.0, coordinator_cls=MajorityCoordinator)
    assert any("p3 never voted yes" in v for v in run.violations)
    result = sweep(lambda s: random_2pc(s, coordinator_cls=MajorityCoordinator), range(100),
                   check_atomic_commitment)
    assert result.first_failing_seed is not None
    print(f"MajorityCoordinator first caught at seed {result.first_failing_seed}: "
          f"{result.violations[result.first_failing_seed][0]}")


def test_no_log_participant_is_caught():
    schedule = FaultSchedule([crash("p2", at=0.04, restart=0.1)])
    bad = run_2pc(seed=1, participant_cls=NoLogParticipant, faults=schedule)
    assert any("p2 aborted" in v for v in bad.violations)
    assert run_2pc(seed=1, faults=schedule).violations == []        # the correct one survives
    result = sweep(lambda s: random_2pc(s, participant_cls=NoLogParticipant), range(500),
                   check_atomic_commitment)
    assert result.first_failing_seed is not None
    print(f"NoLogParticipant first caught at seed {result.first_failing_seed} "
          f"({result.first_failure.schedule.describe()}): {result.violations[result.first_failing_seed]}")


def test_eager_coordinator_is_caught():
    run = scenario("eager-bug")
    assert any("coord decided both ways" in v for v in run.violations)
    assert run_2pc(seed=0, crash="coord", crash_at="votes-in", restart_at=0.5).violations == []


def test_every_named_scenario_runs():
    for name, (description, _thunk) in SCENARIOS.items():
        run = scenario(name, seed=2)
        assert description
        assert bool(run.violations) == name.endswith("-bug"), (name, run.violations)


def test_checker_reads_votes_from_the_trace_not_the_coordinator():
    # a correct run, then pretend the coordinator had logged commit although p2's vote was "no"
    run = run_2pc(seed=0, votes={"p2": "no"})
    run.world.storage["coord"]["log"].append(Committed(1))
    found = check_atomic_commitment(run.world)
    assert any("coord decided both ways" in v for v in found)
    assert any("p2 voted no" in v for v in found)
    assert atomic_mod.check_atomic_commitment(run_2pc(seed=0)) == []


def test_sweep_reports_first_failure_and_counts():
    class R:
        def __init__(self, s):
            self.outcome = "even" if s % 2 == 0 else "odd"
            self.seed = s

    wrapped = []

    def progress(it):
        wrapped.append(True)
        return it

    res = sweep(R, [1, 2, 3, 4, 6], lambda r: [f"bad {r.seed}"] if r.seed in (3, 6) else [],
                progress=progress)
    assert isinstance(res, SweepResult) and wrapped == [True]
    assert res.seeds == [1, 2, 3, 4, 6] and res.first_failing_seed == 3
    assert res.violations == {3: ["bad 3"], 6: ["bad 6"]} and not res.ok
    assert res.first_failure.seed == 3
    assert res.outcomes == {"odd": 2, "even": 3}
    assert "5 seeds, 2 with violations" in res.summary()


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, word", [
    ({"participants": 0}, "participants"),
    ({"participants": 10}, "participants"),
    ({"participants": "3"}, "participants"),
    ({"loss": 1.5}, "loss"),
    ({"duplicate": -0.1}, "duplicate"),
    ({"seed": -1}, "seed"),
    ({"votes": ["yes", "no"]}, "votes"),
    ({"votes": ["yes", "maybe", "yes"]}, "votes"),
    ({"votes": {"p9": "no"}}, "votes"),
    ({"crash": "p7", "crash_at": 0.1}, "crash"),
    ({"crash": "p1"}, "crash_at"),
    ({"crash_at": 0.1}, "crash"),
    ({"crash": "coord", "crash_at": "prepared"}, "crash_at"),
    ({"crash": "p1", "crash_at": "votes-in"}, "crash_at"),
    ({"crash": "p1", "crash_at": "soon"}, "crash_at"),
    ({"crash": "p1", "crash_at": 1.0, "restart_at": 0.5}, "restart_at"),
    ({"faults": [crash("p1", at=0.1)]}, "faults"),
    ({"coordinator_cls": Participant}, "coordinator_cls"),
    ({"participant_cls": Coordinator}, "participant_cls"),
    ({"until": 0}, "until"),
    ({"latency": "fast"}, "latency"),
])
def test_bad_parameters_raise_value_error(kwargs, word):
    with pytest.raises(ValueError, match=word):
        run_2pc(**kwargs)


def test_bad_node_config_and_scenario_name():
    with pytest.raises(ValueError, match="vote"):
        Participant(vote="maybe")
    with pytest.raises(ValueError, match="vote_timeout"):
        Coordinator(participants=PS, vote_timeout=0)
    with pytest.raises(ValueError, match="participants"):
        Coordinator(participants=("p1", "p1"))
    with pytest.raises(ValueError, match="name"):
        scenario("nope")
    with pytest.raises(ValueError, match="participants"):
        random_faults(0, participants=12)


# ---- the same actors under the model checker ----------------------------------------------------
def _explore(coordinator_cls, participant_cls, participants, crashes):
    from distlib.check.atomic import atomic_commitment_invariant
    from distlib.check.explore import explore

    nodes = {"coord": (coordinator_cls, {"participants": participants, "start_at": 0.0})}
    nodes.update({p: (participant_cls, {"coordinator": "coord"}) for p in participants})
    # TLA+'s message model (a growing set): re-sent requests add no new states, so it is finite
    return explore(nodes, {"atomic": atomic_commitment_invariant}, max_crashes=crashes,
                   keep_messages=True)


def test_model_checker_proves_one_participant_with_a_crash():
    result = _explore(Coordinator, Participant, ("p1",), 1)
    assert result.ok and result.states > 100, result.summary()


@pytest.mark.parametrize("coordinator_cls, participant_cls", [
    (Coordinator, NoLogParticipant), (EagerCoordinator, Participant)])
def test_model_checker_finds_the_broken_variants(coordinator_cls, participant_cls):
    result = _explore(coordinator_cls, participant_cls, ("p1", "p2"), 1)
    assert result.status == "violation", result.summary()
    assert "committed but" in result.summary()
