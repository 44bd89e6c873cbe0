"""Single-decree Paxos and Multi-Paxos: the rules, agreement under faults, broken variants caught."""

import pytest

from distlib.check.paxos_invariants import check_multipaxos, check_paxos, chosen_values
from distlib.consensus.multipaxos import MultiPaxosNode, random_multipaxos, run_multipaxos
from distlib.consensus.paxos import (
    Accept,
    AcceptBelowPromise,
    Accepted,
    Ballot,
    ForgetfulAcceptor,
    NoAdoptProposer,
    PaxosNode,
    Prepare,
    Promise,
    dueling_proposers,
    random_paxos,
    run_paxos,
)
from distlib.sim import FaultSchedule, World, crash

NODES = ["n1", "n2", "n3"]


def acceptor(world_seed: int = 0) -> tuple[World, PaxosNode]:
    world = World(world_seed)
    world.add_nodes(PaxosNode, NODES)
    world.run(until=1e-6)   # boot the nodes (on_start) and nothing more
    return world, world.nodes["n1"]


def sent(world: World, src: str) -> list:
    return [r.msg for r in world.trace if r.kind == "send" and r.src == src]


def test_ballots_are_ordered_by_round_then_proposer():
    assert Ballot(2, "n1") > Ballot(1, "n9")
    assert Ballot(1, "n2") > Ballot(1, "n1")


def test_acceptor_promises_and_persists_before_replying():
    world, a = acceptor()
    a.on_message("n2", Prepare(Ballot(3, "n2")))
    assert a.storage["promised"] == Ballot(3, "n2")
    assert sent(world, "n1")[-1] == Promise(Ballot(3, "n2"), None, None)


def test_acceptor_rejects_prepare_and_accept_below_its_promise():
    world, a = acceptor()
    a.on_message("n2", Prepare(Ballot(3, "n2")))
    a.on_message("n3", Prepare(Ballot(2, "n3")))
    a.on_message("n3", Accept(Ballot(2, "n3"), "X"))
    assert "accepted_n" not in a.storage
    kinds = [type(m).__name__ for m in sent(world, "n1")]
    assert kinds == ["Promise", "Nack", "Nack"]


def test_promise_reports_highest_accepted_proposal():
    world, a = acceptor()
    a.on_message("n2", Accept(Ballot(1, "n2"), "A"))
    a.on_message("n3", Prepare(Ballot(5, "n3")))
    assert sent(world, "n1")[-1] == Promise(Ballot(5, "n3"), Ballot(1, "n2"), "A")


def test_proposer_adopts_value_of_highest_numbered_accepted_proposal():
    node = PaxosNode(proposal="mine")
    promises = [Promise(Ballot(4, "n1"), None, None),
                Promise(Ballot(4, "n1"), Ballot(2, "n2"), "old"),
                Promise(Ballot(4, "n1"), Ballot(3, "n3"), "newer")]
    assert node.choose_value(promises) == "newer"
    assert node.choose_value(promises[:1]) == "mine"
    assert NoAdoptProposer(proposal="mine").choose_value(promises) == "mine"


def test_single_proposer_value_is_learned_everywhere():
    run = run_paxos(1, proposals={"n1": "A"})
    assert run.learned == {"n1": "A", "n2": "A", "n3": "A"}
    assert list(chosen_values(run.world.trace, NODES).values()) == ["A"]
    assert check_paxos(run) == []


def test_ballot_round_survives_a_crash_so_ballots_stay_unique():
    run = run_paxos(2, proposals={"n1": "A"}, faults=FaultSchedule([crash("n1", at=0.001, restart=0.05)]))
    ballots = [r.msg.n for r in run.world.trace if r.kind == "send" and isinstance(r.msg, Prepare)]
    assert len(set(ballots)) >= 2 and all(b.proposer == "n1" for b in ballots)
    assert run.learned["n1"] == "A"


def test_dueling_proposers_livelock_without_backoff_and_decide_with_it():
    duel = dueling_proposers(0, backoff=False)
    assert all(v is None for v in duel.learned.values())
    prepares = sum(1 for r in duel.world.trace if r.kind == "send" and isinstance(r.msg, Prepare))
    assert prepares > 60   # ballots keep pre-empting each other
    calm = dueling_proposers(0, backoff=True)
    assert len({v for v in calm.learned.values()}) == 1 and None not in calm.learned.values()


random_run = random_paxos


def test_agreement_and_validity_hold_under_random_faults():
    decided = 0
    for seed in range(300):
        run = random_run(seed)
        assert check_paxos(run) == [], f"seed {seed}"
        decided += any(v is not None for v in run.learned.values())
    assert decided >= 290   # and it almost always makes progress too


@pytest.mark.parametrize("cls", [NoAdoptProposer, ForgetfulAcceptor, AcceptBelowPromise])
def test_broken_variants_are_caught(cls):
    caught = [seed for seed in range(300) if check_paxos(random_run(seed, node_cls=cls))]
    assert caught, f"{cls.__name__} never violated agreement"


def test_checker_sees_two_chosen_values():
    run = random_run(0, node_cls=NoAdoptProposer)
    violations = check_paxos(run)
    assert violations and "agreement violated" in violations[0]


@pytest.mark.parametrize("kwargs, message", [
    ({"nodes": 0}, "nodes"), ({"proposals": {"n7": "A"}}, "proposals"), ({"loss": 2}, "loss"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_paxos(0, **kwargs)


def test_accepted_is_announced_to_all_learners():
    world, a = acceptor()
    a.on_message("n2", Accept(Ballot(1, "n2"), "A"))
    assert [m for m in sent(world, "n1") if isinstance(m, Accepted)] == [Accepted(Ballot(1, "n2"), "A")] * 3


# ---- Multi-Paxos -------------------------------------------------------------------------------------
def test_multipaxos_replicates_commands_in_order():
    run = run_multipaxos(1, commands=10)
    assert all(log == run.commands for log in run.logs.values())
    # one leader, phase 1 once: every Prepare carries the same ballot
    prepares = {r.msg.n for r in run.world.trace if r.kind == "send" and type(r.msg).__name__ == "Prepare"}
    assert len(prepares) == 1


def test_multipaxos_safe_and_live_under_random_faults():
    for seed in range(150):
        run = random_multipaxos(seed)
        assert check_multipaxos(run) == [], f"seed {seed}"
        assert any(set(run.commands) <= set(log) for log in run.logs.values()), f"seed {seed} stalled"


def test_new_leader_keeps_values_chosen_by_old_leader():
    faults = FaultSchedule([crash("n1", at=0.5, restart=2.0)])
    world_run = run_multipaxos(3, commands=8, faults=faults, until=5.0)
    logs = world_run.logs
    assert check_multipaxos(world_run) == []
    survivors = [log for name, log in logs.items() if name != "n1"]
    assert all(set(world_run.commands) <= set(log) for log in survivors)


def test_multipaxos_rejects_bad_timeouts():
    with pytest.raises(ValueError, match="election_timeout"):
        MultiPaxosNode(election_timeout=(0.3, 0.1))
    with pytest.raises(ValueError, match="heartbeat"):
        MultiPaxosNode(heartbeat=0.5)
