"""PreVote and CheckQuorum (Ongaro's thesis §9.6 and §4.2.3) in distlib.consensus.raft.

Budget: about 15 s.
"""

from __future__ import annotations

from test_raft import make_leader, make_node

from distlib.check.raft_invariants import RaftMonitor, fuzz
from distlib.consensus.raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntries,
    PreVote,
    PreVoteReply,
    RequestVote,
    RequestVoteReply,
    flapping,
    make_cluster,
)


def test_a_pre_candidate_asks_without_touching_its_term_and_campaigns_only_with_a_majority():
    node, rt = make_node(peers=("n1", "n2", "n3", "n4", "n5"), term=3, pre_vote=True)
    node.on_timer("election")
    msgs = [(d, m) for _, d, m, _ in rt.take()]
    assert node.current_term == 3 and node.role == FOLLOWER and node.voted_for is None
    assert [d for d, _ in msgs] == ["n2", "n3", "n4", "n5"]
    assert all(m == PreVote(4, "n1", 0, 0) for _, m in msgs)
    node.on_message("n2", PreVoteReply(3, True, 4))
    node.on_message("n3", PreVoteReply(3, False, 4))
    node.on_message("n2", PreVoteReply(3, True, 4))          # counted once
    assert node.role == FOLLOWER and node.current_term == 3
    node.on_message("n4", PreVoteReply(3, True, 4))
    assert node.role == CANDIDATE and node.current_term == 4 and node.voted_for == "n1"
    assert {type(m) for _, _, m, _ in rt.take()} == {RequestVote}


def test_a_pre_vote_is_refused_while_a_leader_is_fresh_and_never_changes_the_receivers_term():
    node, rt = make_node(term=2, pre_vote=True)
    node.on_message("n3", PreVote(5, "n3", 0, 0))            # no leader heard of: granted
    assert rt.take()[0][2] == PreVoteReply(2, True, 5) and node.current_term == 2 and node.voted_for is None
    node.on_message("n2", AppendEntries(2, "n2", 0, 0, (), 0))
    rt.take()
    rt.time = 0.1
    node.on_message("n3", PreVote(5, "n3", 0, 0))            # n2 leads and was heard from 100 ms ago
    assert rt.take()[0][2] == PreVoteReply(2, False, 5) and node.current_term == 2
    rt.time = 0.16                                            # > the minimum election timeout (150 ms)
    node.on_message("n3", PreVote(5, "n3", 0, 0))
    assert rt.take()[0][2] == PreVoteReply(2, True, 5)


def test_check_quorum_followers_ignore_vote_requests_while_their_leader_is_fresh():
    node, rt = make_node(term=2, check_quorum=True)
    node.on_message("n2", AppendEntries(2, "n2", 0, 0, (), 0))
    rt.take()
    node.on_message("n3", RequestVote(9, "n3", 5, 5))
    assert rt.take() == [] and node.current_term == 2          # sticky: term kept, no reply
    plain, rt2 = make_node(term=2)
    plain.on_message("n2", AppendEntries(2, "n2", 0, 0, (), 0))
    plain.on_message("n3", RequestVote(9, "n3", 5, 5))
    assert plain.current_term == 9 and rt2.take()[-1][2] == RequestVoteReply(9, True)


def test_check_quorum_leader_without_a_majority_steps_down_keeping_its_term():
    node, rt = make_leader(term=3, log=[], check_quorum=True)
    node.on_timer("check quorum")            # the vote replies showed a majority reaches us
    assert node.role == LEADER and rt.timers[("n1", "check quorum")] == 0.15
    node.on_timer("check quorum")            # then a whole minimum election timeout of silence
    assert node.role == FOLLOWER and node.current_term == 3 and node.voted_for == "n1"
    node2, _ = make_leader(term=3, log=[], check_quorum=True)
    node2.on_timer("check quorum")
    node2.on_message("n2", RequestVoteReply(3, False))          # any message proves n2 reaches us
    node2.on_timer("check quorum")
    assert node2.role == LEADER


def test_check_quorum_makes_a_leader_cut_off_in_a_minority_step_down():
    world = make_cluster(5, seed=2, check_quorum=True)
    world.run(until=1.0)
    old = next(n for n, node in world.nodes.items() if node.role == LEADER)
    world.partition([old])
    world.run(until=1.0 + world.nodes[old].election_timeout[0] * 2 + 0.01)
    assert world.nodes[old].role == FOLLOWER
    plain = make_cluster(5, seed=2)
    plain.run(until=1.0)
    old = next(n for n, node in plain.nodes.items() if node.role == LEADER)
    plain.partition([old])
    plain.run(until=2.0)
    assert plain.nodes[old].role == LEADER                       # still believes it leads


def test_pre_vote_stops_the_disruption_of_a_flapping_server():
    for mode in ("node", "link"):
        plain = flapping(0, mode=mode, duration=20.0)
        cured = flapping(0, mode=mode, duration=20.0, pre_vote=True, check_quorum=True)
        assert plain.stats["changes"] >= 10, plain.notes
        assert cured.stats["changes"] == 0 and cured.stats["max_term"] == 1, cured.notes


def test_safety_and_linearizability_hold_with_pre_vote_and_check_quorum_under_faults():
    from distlib.consensus.raft_kv import KVNode
    for seed in range(60):
        r = fuzz(seed, duration=2.0, pre_vote=True, check_quorum=True)
        assert r.ok, r.summary()
    for seed in range(10):
        r = fuzz(seed, cls=KVNode, kv=True, pre_vote=True, check_quorum=True)
        assert r.ok, r.summary()
    monitor = RaftMonitor()
    flapping(1, duration=10.0, pre_vote=True, check_quorum=True, monitors=[monitor])
    assert monitor.ok, monitor.summary()
