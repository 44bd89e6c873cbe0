"""Raft membership change (Ongaro's thesis §4.1-4.2; extended paper §6) in distlib.consensus.raft,
the disjoint-majorities hazard of switching directly, and distlib.check.raft_membership.

Budget: about 60 s on 2 cores (the model check of the correct change is ~25 s of it).
"""

from __future__ import annotations

import pytest
from test_raft import make_leader, make_node

from distlib.check.explore import explore, replay
from distlib.check.raft_invariants import (
    ELECTION_SAFETY,
    LEADER_COMPLETENESS,
    STATE_MACHINE_SAFETY,
    RaftMonitor,
    check_election_safety,
)
from distlib.check.raft_membership import membership_fuzz, membership_model, model_invariants
from distlib.consensus.raft import (
    FOLLOWER,
    IN_PROGRESS,
    INVALID,
    LEADER,
    NOT_LEADER,
    OK,
    TIMEOUT,
    AddServer,
    AppendEntries,
    AppendEntriesReply,
    Configuration,
    Entry,
    InstallSnapshot,
    MembershipReply,
    RaftNode,
    Reconfigure,
    RemoveServer,
    RequestVote,
    RequestVoteReply,
    Snapshot,
    config_before_commit,
    direct_change,
    make_cluster,
    membership_change,
    membership_client,
)
from distlib.consensus.raft_kv import KVNode
from distlib.sim import Send

# The model-checking bound shared by the broken and the correct change (see test_model_checker_*).
DEPTH = 17


def cfg(*voters: str) -> Configuration:
    return Configuration(tuple(voters))


def leader_of(voters=("n1", "n2", "n3"), peers=("n1", "n2", "n3", "n4"), **config):
    """n1 leading term 2 of ``voters`` with its term-2 entry committed (so changes may start)."""
    node, rt = make_leader(term=2, log=[Entry(1, "a")], peers=peers, members=voters, **config)
    node.propose("b")
    for p in sorted(set(voters) - {"n1"}):
        node.on_message(p, AppendEntriesReply(2, True, match_index=2))
    assert node.commit_index == 2
    rt.take()
    return node, rt


# ---- configurations in the log ---------------------------------------------------------------------
def test_a_configuration_takes_effect_when_appended_and_a_truncated_one_reverts():
    node, rt = make_node(peers=("n1", "n2", "n3", "n4"), members=("n1", "n2", "n3"), term=1)
    assert node.voters == ("n1", "n2", "n3") and node.majority == 2
    entries = (Entry(1, "x"), Entry(1, cfg("n1", "n2", "n3", "n4")))
    node.on_message("n2", AppendEntries(1, "n2", 0, 0, entries, 0))
    assert node.voters == ("n1", "n2", "n3", "n4") and node.majority == 3     # uncommitted, in force
    # A leader of term 2 overwrites index 2: the configuration entry is gone, the previous one holds.
    node.on_message("n3", AppendEntries(2, "n3", 1, 1, (Entry(2, "y"),), 0))
    assert node.voters == ("n1", "n2", "n3") and node.config_index == 0


def test_votes_count_only_from_the_latest_configuration():
    node, rt = make_node(peers=("n1", "n2", "n3", "n4"), members=("n1", "n2", "n3"), term=0)
    node.campaign()
    assert sorted(d for _, d, m, _ in rt.take() if isinstance(m, RequestVote)) == ["n2", "n3"]
    node.on_message("n4", RequestVoteReply(1, True))          # not a voter: does not count
    assert node.role != LEADER
    node.on_message("n2", RequestVoteReply(1, True))
    assert node.role == LEADER


def test_a_server_outside_its_own_configuration_does_not_campaign():
    node, rt = make_node(name="n4", peers=("n1", "n2", "n3", "n4"), members=("n1", "n2", "n3"), term=3)
    node.on_timer("election")
    node.campaign()
    assert node.current_term == 3 and node.role == FOLLOWER and rt.take() == []
    assert ("n4", "election") in rt.timers                       # still watching, should it be added
    # Once its log holds a configuration with it, it is a voter like any other.
    node.on_message("n1", AppendEntries(3, "n1", 0, 0, (Entry(3, cfg("n1", "n2", "n3", "n4")),), 0))
    rt.take()
    node.on_timer("election")
    assert node.role == "candidate" and node.current_term == 4


def test_snapshots_carry_the_configuration():
    node, rt = make_node(peers=("n1", "n2", "n3", "n4"), members=("n1", "n2", "n3"), term=1,
                         snapshot_threshold=2)
    node.on_message("n2", AppendEntries(1, "n2", 0, 0, (Entry(1, cfg("n1", "n2", "n3", "n4")), Entry(1, "x"),
                                                        Entry(1, cfg("n2", "n3", "n4"))), 2))
    assert node.snapshot == Snapshot(2, 1, ("x",), ("n1", "n2", "n3", "n4"))   # as of index 2, not 3
    assert node.voters == ("n2", "n3", "n4")
    fresh, rt2 = make_node(name="n4", peers=("n1", "n2", "n3", "n4"), members=("n1", "n2", "n3"), term=1)
    fresh.on_message("n2", InstallSnapshot(1, "n2", 2, 1, ("x",), ("n1", "n2", "n3", "n4")))
    assert fresh.voters == ("n1", "n2", "n3", "n4") and fresh.config_index == 2
    fresh.on_recover()                                           # and it survives a restart
    assert fresh.voters == ("n1", "n2", "n3", "n4")


# ---- the leader's side -------------------------------------------------------------------------------
def test_no_configuration_entry_before_an_entry_of_the_leaders_term_is_committed():
    # Ongaro's 2015 fix: the change waits for the leader's own first entry to commit.
    node, rt = make_leader(term=2, log=[Entry(1, "a")], members=("n1", "n2", "n3"))
    assert node.remove_server("n3") == "accepted"
    assert not any(isinstance(e.command, Configuration) for e in node.log)
    node.propose("b")
    node.on_message("n2", AppendEntriesReply(2, True, match_index=2))     # term 2 entry committed
    assert node.log[-1] == Entry(2, cfg("n1", "n2")) and node.voters == ("n1", "n2")


def test_bad_requests_get_a_clear_answer():
    node, rt = leader_of()
    with pytest.raises(ValueError, match=r"server must not be a voter .*\(got 'n2'\)"):
        node.add_server("n2")
    with pytest.raises(ValueError, match=r"server must be one of n1, n2, n3, n4 \(got 'n9'\)"):
        node.remove_server("n9")
    with pytest.raises(ValueError, match=r"server must be a voter .*\(got 'n4'\)"):
        node.remove_server("n4")
    with pytest.raises(ValueError, match="by one server"):
        node.reconfigure(("n2", "n3", "n4"))                     # two servers differ
    # The same answers over the admin RPCs of Fig. 4.3.
    node.on_message("c", AddServer("r1", "n2"))
    assert node.remove_server("n3") == "accepted"
    assert node.add_server("n4") == IN_PROGRESS                  # one change at a time
    node.on_message("c", RemoveServer("r2", "n2"))
    node.on_message("c", Reconfigure("r3", ("n1",)))
    replies = [m for _, d, m, _ in rt.take() if d == "c"]
    assert [(r.req_id, r.status) for r in replies] == [("r1", INVALID), ("r2", IN_PROGRESS),
                                                       ("r3", IN_PROGRESS)]
    assert "must not be a voter" in replies[0].detail
    follower, _ = make_node(peers=("n1", "n2", "n3"))
    assert follower.add_server("n3") == NOT_LEADER
    solo, _ = make_node(peers=("n1",))
    solo.campaign()
    with pytest.raises(ValueError, match=r"server must not be the last voter .*\(got 'n1'\)"):
        solo.remove_server("n1")


@pytest.mark.parametrize("kwargs, name", [
    ({"members": "n1"}, "members"), ({"members": []}, "members"), ({"catchup_rounds": 0}, "catchup_rounds"),
    ({"config_change": "joint"}, "config_change"),
])
def test_bad_config_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RaftNode(**kwargs)
    with pytest.raises(ValueError, match="members"):
        make_node(members=("n1", "n7"))                          # not a server of the cluster


def test_a_new_server_is_a_learner_until_caught_up_and_commitment_ignores_it():
    node, rt = leader_of()
    assert node.add_server("n4") == "accepted"
    assert node.learners == {"n4"} and node.voters == ("n1", "n2", "n3")
    sent = [m for _, d, m, _ in rt.take() if d == "n4"]
    assert isinstance(sent[0], AppendEntries)                    # it gets the log ...
    node.propose("c")
    node.on_message("n4", AppendEntriesReply(2, True, match_index=3))      # ... but does not count
    assert node.commit_index == 2
    # The round (up to index 2, the last index when it began) is over: n4 is promoted.
    assert node.log[-1] == Entry(2, cfg("n1", "n2", "n3", "n4")) and node.learners == set()
    node.on_message("n2", AppendEntriesReply(2, True, match_index=4))
    assert node.commit_index == 3                                # n1, n2, n4: 3 of the 4 voters now
    node.on_message("n4", AppendEntriesReply(2, True, match_index=4))
    assert node.commit_index == 4 and node.change is None


def test_catch_up_gives_up_after_the_rounds_and_reports_timeout():
    done = []
    node, rt = leader_of(catchup_rounds=3)
    node.on_membership_done = lambda token, status: done.append((token, status))
    node.add_server("n4", token="t")
    for _ in range(3):
        node.on_timer("catch up")                                # each round outlasts an election timeout
    assert done == [("t", TIMEOUT)] and node.learners == set() and "n4" not in node.progress
    assert node.voters == ("n1", "n2", "n3")


# ---- whole clusters --------------------------------------------------------------------------------
def test_add_then_remove_one_server_at_a_time():
    monitor = RaftMonitor()
    run = membership_change(0, monitors=[monitor])
    assert [(c, s) for _, c, s in run.stats["changes"]] == [(("add", "n4"), OK), (("remove", "n1"), OK)]
    assert all(run.nodes[n].voters == ("n2", "n3", "n4") for n in ("n2", "n3", "n4"))
    assert monitor.ok, monitor.summary()
    assert any("catching up n4" in note for note in run.notes)


def test_a_removed_leader_steps_down_after_committing_the_configuration_without_it():
    monitor = RaftMonitor()
    run = membership_change(0, remove="leader", monitors=[monitor])
    [(_, term, old)] = [rec for rec in run.leaders() if rec[0] < 0.6]
    removed = run.stats["changes"][1][1][1]
    assert removed == old and run.stats["changes"][1][2] == OK
    node = run.nodes[old]
    assert node.role == FOLLOWER and node.current_term == term    # it never campaigned again
    assert any(f"{old}: steps down (term {term}): removed" in n for n in run.notes)
    later = [rec for rec in run.leaders() if rec[0] > 0.6]
    assert later and all(n != old for _, _, n in later)
    assert monitor.ok, monitor.summary()


def test_a_learner_far_behind_catches_up_by_snapshot_and_a_dead_one_times_out():
    world = make_cluster(4, seed=3, members=("n1", "n2", "n3"), snapshot_threshold=5, catchup_rounds=4)
    world.crash("n4")
    world.run(until=0.5)
    leader = next(n for n, x in world.nodes.items() if x.role == LEADER)
    for i in range(30):
        world.nodes[leader].propose(f"c{i}")
    results: list = []
    world.process(membership_client(world, "admin", sorted(world.nodes), [("add", "n4")], results=results))
    world.run(until=2.0)
    assert results[0][2] == TIMEOUT and world.nodes[leader].voters == ("n1", "n2", "n3")
    assert results[0][0] - 0.5 >= 4 * 0.15                           # four rounds of an election timeout
    world.restart("n4")
    world.process(membership_client(world, "admin2", sorted(world.nodes), [("add", "n4")], results=results))
    world.run(until=3.0)
    assert results[1][2] == OK
    n4 = world.nodes["n4"]
    assert n4.snap_index > 0 and n4.snapshot.config is None and n4.voters == ("n1", "n2", "n3", "n4")
    assert any(r.dst == "n4" and isinstance(r.msg, InstallSnapshot) for r in world.trace.of(Send))


def test_membership_changes_under_faults_keep_safety_and_linearizability():
    for seed in range(300):
        r = membership_fuzz(seed)
        assert r.ok, r.summary()
    changed = 0
    for seed in range(30):
        r = membership_fuzz(seed, cls=KVNode, kv=True)
        assert r.ok, r.summary()
        changed += sum(1 for _, _, status in r.changes if status == OK)
    assert changed >= 30                      # the KV runs really did change the configuration


def test_membership_changes_with_pre_vote_and_check_quorum():
    for seed in range(60):
        r = membership_fuzz(seed, pre_vote=True, check_quorum=True)
        assert r.ok, r.summary()


# ---- the hazard: switching directly -----------------------------------------------------------------
def test_a_direct_switch_elects_two_leaders_in_one_term_and_the_monitor_sees_it():
    monitor = RaftMonitor()
    run = direct_change(monitors=[monitor])
    assert run.stats["two_leaders"] == {2: ["n1", "n4"]}
    assert ELECTION_SAFETY in {v.invariant for v in monitor.violations}
    safe = RaftMonitor()
    run = direct_change(config_change="single", monitors=[safe])
    assert "refused" in run.notes[0] and safe.ok and run.stats["two_leaders"] == {}


def test_random_direct_switches_are_caught_by_the_election_safety_monitor():
    r = membership_fuzz(27, config_change="direct")
    assert ELECTION_SAFETY in {v.invariant for v in r.monitor.violations}, r.summary()
    assert membership_fuzz(27).ok


def test_model_checker_finds_two_leaders_when_switching_directly():
    specs = membership_model("direct")
    result = explore(specs, model_invariants(), max_depth=DEPTH)
    assert result.status == "violation" and result.invariant == "Election Safety"
    assert len(result.counterexample) == 11 and "n1 and n4 are both leader of term 2" in result.message
    world = replay(result.counterexample, specs)                  # the same run in the simulator
    assert check_election_safety(world.nodes.values()) == ["n1 and n4 are both leader of term 2"]


def test_model_checker_passes_the_same_change_in_two_single_server_steps():
    result = explore(membership_model("single"), model_invariants(), max_depth=DEPTH, max_states=1_000_000)
    assert result.ok and result.depth == DEPTH and result.states > 100_000, result.summary()


def test_the_model_reaches_the_end_of_both_changes_within_the_bound():
    # Not vacuous: within the bound the two steps both commit (12 steps) and elections follow.
    def done(view):
        st = view.states["n3"]
        last = [k for k, e in enumerate(st["storage"]["log"], 1) if e.command == cfg("n2", "n3", "n4")]
        return "both steps committed" if last and st["commit_index"] >= last[0] else True
    result = explore(membership_model("single"), {"done": done}, max_depth=DEPTH)
    assert result.status == "violation" and len(result.counterexample) <= DEPTH - 5


def test_membership_reply_repr_and_ok():
    assert MembershipReply("r", OK).ok and not MembershipReply("r", NOT_LEADER, "n2").ok
    assert repr(MembershipReply("r", NOT_LEADER, "n2")) == "MembershipReply(not leader, leader=n2)"
    assert repr(cfg("n1", "n2")) == "config{n1,n2}"


def test_scenario_and_client_arguments_are_checked_at_the_call():
    world = make_cluster(4, members=("n1", "n2", "n3"))
    with pytest.raises(ValueError, match="changes must be a list"):
        membership_client(world, "admin", ["n1"], [("promote", "n4")])
    with pytest.raises(ValueError, match="servers must be"):
        membership_client(world, "admin", ["n9"], [("add", "n4")])
    with pytest.raises(ValueError, match="name must be a client name"):
        membership_client(world, "n1", ["n1"], [("add", "n4")])
    with pytest.raises(ValueError, match=r"add must be one of n1, n2, n3, n4 \(got 'n9'\)"):
        membership_change(add="n9")
    with pytest.raises(ValueError, match="config_change must be one of single, direct"):
        direct_change(config_change="joint")


def test_a_removed_server_that_missed_c_new_disrupts_until_pre_vote_is_on():
    # Thesis §4.2.3: n1 never receives the configuration without it, times out, campaigns in ever
    # higher terms and deposes the leaders of the new cluster; PreVote refuses it (its log is behind).
    plain = membership_change(0)
    cured = membership_change(0, pre_vote=True)
    assert plain.nodes["n1"].voters == ("n1", "n2", "n3", "n4") and len(plain.leaders()) >= 5
    assert len(cured.leaders()) == 1 and cured.stats["changes"][-1][2] == OK


def test_ongaros_2015_bug_needs_the_own_term_commit_rule():
    # Without the rule, two changes from leaders of different terms (add n5 in term 1, remove n1 in
    # term 2) together differ by two servers: n1 wins term 3 and erases what term 2 committed.
    broken = RaftMonitor()
    config_before_commit(broken=True, monitors=[broken])
    assert {LEADER_COMPLETENESS, STATE_MACHINE_SAFETY} <= {v.invariant for v in broken.violations}
    safe = RaftMonitor()
    run = config_before_commit(monitors=[safe])
    assert safe.ok, safe.summary()
    assert "config n2,n3,n4" not in run.notes[1]                 # n2 never appended its change
