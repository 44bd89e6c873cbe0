"""Raft (distlib.consensus.raft), the Raft KV store and the Raft invariant checks.

Budget: about 60 s on 2 cores (the 300-seed fault sweep is most of it).
"""

from __future__ import annotations

import random

import pytest

from distlib.check.raft_invariants import (
    ELECTION_SAFETY,
    LEADER_COMPLETENESS,
    STATE_MACHINE_SAFETY,
    AppendKVStore,
    RaftMonitor,
    check_election_safety,
    check_exactly_once,
    check_log_matching,
    fuzz,
)
from distlib.consensus.raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NOOP,
    AppendEntries,
    AppendEntriesReply,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    ListMachine,
    NoElectionRestrictionRaft,
    OldTermCommitRaft,
    RaftNode,
    RequestVote,
    RequestVoteReply,
    Snapshot,
    VolatileVoteRaft,
    figure8,
    leader_crash,
    make_cluster,
    partitioned_old_leader,
    restarted_voter,
    split_vote,
)
from distlib.consensus.raft_kv import KVCommand, KVNode, KVStore, NoDedupKVNode, NoDedupKVStore
from distlib.sim import History, Send


# ---- a hand-driven runtime: no simulator, we deliver messages ourselves ---------------------------
class FakeRuntime:
    def __init__(self):
        self.sent: list[tuple[str, str, object, dict]] = []
        self.timers: dict[tuple[str, str], float] = {}
        self.storages: dict[str, dict] = {}
        self.time = 0.0          # simulated time: a test moves it by hand

    @property
    def now(self) -> float:
        return self.time

    def send(self, src, dst, msg):
        # Record what was on "disk" at the moment the reply left: persistence must come first.
        self.sent.append((src, dst, msg, dict(self.storages[src])))

    def set_timer(self, node, name, delay):
        self.timers[(node, name)] = delay

    def cancel_timer(self, node, name):
        self.timers.pop((node, name), None)

    def annotate(self, node, text):
        pass

    def take(self):
        out, self.sent = self.sent, []
        return out


EMPTY_SNAPSHOT = Snapshot(0, 0, None)


def make_node(cls=RaftNode, *, name="n1", peers=("n1", "n2", "n3"), term=0, voted_for=None, log=(),
              snapshot=EMPTY_SNAPSHOT, **config):
    rt = FakeRuntime()
    node = cls(**config)
    storage = {"current_term": term, "voted_for": voted_for, "log": list(log), "snapshot": snapshot}
    rt.storages[name] = storage
    node.attach(name, peers, storage, rt, random.Random(0))
    node.on_recover()
    return node, rt


def ents(*terms):
    return [Entry(t, f"c{i + 1}") for i, t in enumerate(terms)]


def make_leader(cls=RaftNode, *, term, log, peers=("n1", "n2", "n3"), **config):
    node, rt = make_node(cls, peers=peers, term=term - 1, log=log, noop_on_elect=False, **config)
    node.campaign()
    for p in sorted(node.peers):
        node.on_message(p, RequestVoteReply(term, True))
    assert node.role == LEADER and node.current_term == term
    rt.take()
    return node, rt


# ---- messages and config --------------------------------------------------------------------------
def test_messages_have_readable_reprs():
    assert repr(RequestVote(3, "n2", 4, 2)) == "RequestVote(term=3, cand=n2, lastIdx=4, lastTerm=2)"
    ae = AppendEntries(3, "n1", 4, 2, (Entry(3, "x"),), 4)
    assert repr(ae) == "AppendEntries(term=3, leader=n1, prev=4/t2, entries=[Entry(t=3, 'x')], commit=4)"
    assert "FAIL" in repr(AppendEntriesReply(3, False, conflict_index=2, conflict_term=1))


@pytest.mark.parametrize("kwargs, name", [
    ({"election_timeout": (0.3, 0.1)}, "election_timeout"),
    ({"election_timeout": 0.3}, "election_timeout"),
    ({"heartbeat": 0.5}, "heartbeat"),
    ({"snapshot_threshold": 0}, "snapshot_threshold"),
    ({"max_entries": 0}, "max_entries"),
])
def test_bad_config_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RaftNode(**kwargs)


# ---- RequestVote -------------------------------------------------------------------------------------
def test_vote_for_an_older_term_is_refused():
    node, rt = make_node(term=5)
    node.on_message("n2", RequestVote(4, "n2", 10, 4))
    [(_, dst, reply, _)] = rt.take()
    assert dst == "n2" and reply == RequestVoteReply(5, False)


def test_one_vote_per_term_and_it_is_persisted_before_the_reply():
    node, rt = make_node(term=1)
    node.on_message("n2", RequestVote(2, "n2", 0, 0))
    node.on_message("n3", RequestVote(2, "n3", 0, 0))
    (_, _, r1, disk1), (_, _, r2, _) = rt.take()
    assert r1 == RequestVoteReply(2, True) and r2 == RequestVoteReply(2, False)
    assert disk1["voted_for"] == "n2" and disk1["current_term"] == 2
    node.on_message("n2", RequestVote(2, "n2", 0, 0))     # a retransmission is granted again
    assert rt.take()[0][2].granted


@pytest.mark.parametrize("cand_last_idx, cand_last_term, granted", [
    (5, 1, False),     # older last term, even though longer
    (2, 2, False),     # same last term, shorter log
    (3, 2, True),      # same last term, same length
    (1, 3, True),      # newer last term wins even if shorter
])
def test_election_restriction(cand_last_idx, cand_last_term, granted):
    node, rt = make_node(term=2, log=ents(1, 2, 2))
    node.on_message("n2", RequestVote(3, "n2", cand_last_idx, cand_last_term))
    assert rt.take()[0][2].granted is granted


def test_broken_variant_ignores_the_election_restriction():
    node, rt = make_node(NoElectionRestrictionRaft, term=2, log=ents(1, 2, 2))
    node.on_message("n2", RequestVote(3, "n2", 0, 0))
    assert rt.take()[0][2].granted


def test_candidate_wins_with_a_majority_and_higher_term_demotes_a_leader():
    node, rt = make_node(peers=("n1", "n2", "n3", "n4", "n5"), term=1, noop_on_elect=False)
    node.on_timer("election")
    assert node.role == CANDIDATE and node.current_term == 2 and node.voted_for == "n1"
    assert sorted(dst for _, dst, m, _ in rt.take() if isinstance(m, RequestVote)) == ["n2", "n3", "n4", "n5"]
    node.on_message("n2", RequestVoteReply(2, True))
    node.on_message("n2", RequestVoteReply(2, True))      # a duplicate counts once
    assert node.role == CANDIDATE
    node.on_message("n3", RequestVoteReply(2, True))
    assert node.role == LEADER
    heartbeats = [m for _, _, m, _ in rt.take() if isinstance(m, AppendEntries)]
    assert len(heartbeats) == 4 and all(m.entries == () for m in heartbeats)
    node.on_message("n4", AppendEntriesReply(7, False))
    assert node.role == FOLLOWER and node.current_term == 7 and node.voted_for is None


# ---- AppendEntries, follower side ----------------------------------------------------------------------
def test_append_entries_from_an_old_term_is_refused():
    node, rt = make_node(term=3, log=ents(1))
    node.on_message("n2", AppendEntries(2, "n2", 1, 1, (Entry(2, "x"),), 1))
    assert rt.take()[0][2] == AppendEntriesReply(3, False)
    assert node.last_index == 1


def test_consistency_check_with_fast_backoff_hints():
    node, rt = make_node(term=3, log=ents(1, 2, 2, 2))
    node.on_message("n2", AppendEntries(3, "n2", 7, 3, (), 0))      # our log is too short
    r = rt.take()[0][2]
    assert not r.success and r.conflict_index == 5 and r.conflict_term is None
    node.on_message("n2", AppendEntries(3, "n2", 4, 3, (), 0))      # term mismatch at index 4
    r = rt.take()[0][2]
    assert not r.success and r.conflict_term == 2 and r.conflict_index == 2
    assert node.last_index == 4 and node.leader_hint == "n2"


def test_conflicting_entries_are_truncated_and_new_ones_appended():
    node, rt = make_node(term=3, log=ents(1, 1, 2, 2))
    node.on_message("n2", AppendEntries(3, "n2", 2, 1, (Entry(3, "a"), Entry(3, "b")), 0))
    assert [e.term for e in node.log] == [1, 1, 3, 3] and node.log[2].command == "a"
    (_, _, reply, disk) = rt.take()[0]
    assert reply.success and reply.match_index == 4
    assert disk["log"][2] == Entry(3, "a")     # on disk before the reply


def test_a_stale_append_does_not_truncate_a_longer_matching_log():
    node, rt = make_node(term=1, log=ents(1, 1, 1))
    node.on_message("n2", AppendEntries(1, "n2", 0, 0, (node.log[0],), 0))
    assert node.last_index == 3
    assert rt.take()[0][2].match_index == 1


def test_follower_commit_index_is_min_of_leader_commit_and_last_new_entry():
    node, rt = make_node(term=1, log=ents(1, 1, 1, 1))
    node.on_message("n2", AppendEntries(1, "n2", 1, 1, (node.log[1],), 10))
    assert node.commit_index == 2 and node.last_applied == 2
    assert node.sm.commands == ["c1", "c2"]


def test_append_entries_turns_a_candidate_into_a_follower():
    node, rt = make_node(term=1)
    node.campaign()
    node.on_message("n3", AppendEntries(2, "n3", 0, 0, (), 0))
    assert node.role == FOLLOWER and node.current_term == 2


# ---- leader side ----------------------------------------------------------------------------------------
def test_leader_commits_only_entries_of_its_current_term():
    node, rt = make_leader(term=3, log=ents(1, 2))
    node.on_message("n2", AppendEntriesReply(3, True, match_index=2))
    assert node.commit_index == 0          # index 2 is on a majority, but from term 2 (§5.4.2)
    node.propose("now")
    node.on_message("n2", AppendEntriesReply(3, True, match_index=3))
    assert node.commit_index == 3 and node.sm.commands == ["c1", "c2", "now"]


def test_broken_variant_commits_an_old_term_entry_by_counting():
    node, rt = make_leader(OldTermCommitRaft, term=3, log=ents(1, 2))
    node.on_message("n2", AppendEntriesReply(3, True, match_index=2))
    assert node.commit_index == 2


def test_leader_backs_off_using_the_conflict_term_and_never_below_match():
    node, rt = make_leader(term=4, log=ents(1, 1, 2, 2, 3))
    node.on_message("n2", AppendEntriesReply(4, False, conflict_index=3, conflict_term=2))
    assert node.next_index["n2"] == 5      # we have term 2 up to index 4: retry after it
    [(_, dst, ae, _)] = rt.take()
    assert dst == "n2" and ae.prev_log_index == 4 and ae.prev_log_term == 2
    node.on_message("n3", AppendEntriesReply(4, False, conflict_index=2, conflict_term=9))
    assert node.next_index["n3"] == 2      # term unknown to us: jump to the follower's first index of it
    node.on_message("n3", AppendEntriesReply(4, True, match_index=5))
    node.on_message("n3", AppendEntriesReply(4, False, conflict_index=1))   # stale, reordered
    assert node.next_index["n3"] == 6 and node.match_index["n3"] == 5


def test_a_new_leader_appends_a_noop_of_its_term():
    node, rt = make_node(term=1, log=ents(1))
    node.campaign()
    node.on_message("n2", RequestVoteReply(2, True))
    assert node.log[-1] == Entry(2, NOOP)
    node.on_message("n2", AppendEntriesReply(2, True, match_index=2))
    assert node.commit_index == 2 and node.sm.commands == ["c1"]   # the no-op is not applied


# ---- snapshots (§7) ----------------------------------------------------------------------------------------
def test_compaction_keeps_the_log_short_and_leader_sends_a_snapshot():
    node, rt = make_leader(term=1, log=[], snapshot_threshold=3)
    for i in range(5):
        node.propose(f"x{i}")
    node.on_message("n2", AppendEntriesReply(1, True, match_index=5))
    assert node.snap_index == 5 and node.log == [] and node.snapshot.data == tuple(f"x{i}" for i in range(5))
    rt.take()
    node.on_message("n3", AppendEntriesReply(1, True, match_index=0))     # n3 answers the first probe
    [(_, _, msg, _)] = rt.take()
    assert isinstance(msg, InstallSnapshot) and msg.last_included_index == 5
    node.on_message("n3", InstallSnapshotReply(1, 5))
    assert node.match_index["n3"] == 5 and node.next_index["n3"] == 6


def test_install_snapshot_resets_the_state_machine_or_keeps_a_matching_suffix():
    node, rt = make_node(term=1, log=ents(1, 1, 1))
    node.on_message("n2", InstallSnapshot(2, "n2", 5, 2, ("a", "b", "c", "d", "e")))
    assert node.snap_index == 5 and node.log == [] and node.sm.commands == ["a", "b", "c", "d", "e"]
    assert node.commit_index == node.last_applied == 5
    assert rt.take()[0][2] == InstallSnapshotReply(2, 5)
    node2, _ = make_node(term=1, log=ents(1, 1, 1, 1))
    node2.on_message("n2", InstallSnapshot(1, "n2", 2, 1, ("c1", "c2")))
    assert node2.snap_index == 2 and [e.command for e in node2.log] == ["c3", "c4"]


def test_restart_rebuilds_from_snapshot_and_log():
    node, rt = make_node(term=4, voted_for="n2", log=ents(3, 4), snapshot=Snapshot(2, 3, ("p", "q")))
    assert (node.current_term, node.voted_for, node.last_index, node.last_term) == (4, "n2", 4, 4)
    assert node.commit_index == 2 and node.sm.commands == ["p", "q"] and node.role == FOLLOWER


# ---- the KV state machine ----------------------------------------------------------------------------------
def test_kv_store_applies_a_retried_command_once_and_snapshots_sessions():
    sm = KVStore()
    assert sm.apply(KVCommand("c1", 1, "append", "x", "a;")) is None
    sm.apply(KVCommand("c1", 1, "append", "x", "a;"))            # the retry
    assert sm.apply(KVCommand("c2", 1, "cas", "x", ("a;", "b;"))) is True
    assert sm.apply(KVCommand("c2", 1, "cas", "x", ("a;", "b;"))) is True   # cached result, no re-run
    assert sm.apply(KVCommand("c1", 2, "get", "x")) == "b;"
    copy = KVStore()
    copy.restore(sm.snapshot())
    assert copy.apply(KVCommand("c1", 2, "get", "x")) == "b;" and copy.data == {"x": "b;"}
    bad = NoDedupKVStore()
    bad.apply(KVCommand("c1", 1, "append", "x", "a;"))
    bad.apply(KVCommand("c1", 1, "append", "x", "a;"))
    assert bad.data["x"] == "a;a;"


def test_exactly_once_check_flags_a_double_append():
    h = History()
    op = h.invoke("c1", "append", "x", "c1.1;", 0.0)
    h.complete(op, "ok", "c1.1;", 1.0)
    assert check_exactly_once(h, {"x": "c1.1;"}) == []
    assert "2 times" in check_exactly_once(h, {"x": "c1.1;c1.1;"})[0]
    assert "lost" in check_exactly_once(h, {})[0]


def test_invariant_predicates_on_hand_built_states():
    a, _ = make_node(name="n1", log=ents(1, 1, 2))
    b, _ = make_node(name="n2", log=ents(1, 1, 2, 2))
    c, _ = make_node(name="n3", log=[Entry(1, "c1"), Entry(1, "other"), Entry(2, "c3")])
    assert check_log_matching([a, b]) == []
    assert check_log_matching([a, c]) and "index 2" in check_log_matching([a, c])[0]
    a.role = b.role = LEADER
    a.storage["current_term"], b.storage["current_term"] = 3, 4
    assert check_election_safety([a, b]) == []       # leaders of different terms
    b.storage["current_term"] = 3
    assert check_election_safety([a, b]) == ["n1 and n2 are both leader of term 3"]


# ---- scenarios -----------------------------------------------------------------------------------------
def test_split_vote_scenario_wastes_terms_then_elects_one_leader():
    m = RaftMonitor()
    run = split_vote(monitors=[m])
    leaders = run.leaders()
    assert leaders and leaders[0][1] > 1           # term 1 (at least) ended without a leader
    assert len({term for _, term, _ in run.elections()}) > 1
    assert m.ok, m.summary()
    assert "split vote" in run.summary()


def test_leader_crash_scenario_elects_a_new_leader_that_keeps_committed_entries():
    m = RaftMonitor()
    run = leader_crash(monitors=[m])
    (t1, term1, old), (t2, term2, new) = run.leaders()[:2]
    assert old != new and term2 > term1 and 1.0 < t2 < 1.6
    applied = [node.sm.commands for node in run.nodes.values()]
    assert all(a == applied[0] for a in applied) and len(applied[0]) >= 15   # old leader caught up
    assert m.ok, m.summary()


def test_partitioned_old_leader_cannot_commit_and_is_overwritten():
    m = RaftMonitor()
    run = partitioned_old_leader(monitors=[m])
    assert m.ok, m.summary()
    for node in run.nodes.values():
        assert not any(str(c).startswith("lost") for c in node.sm.commands)
        assert not any(str(e.command).startswith("lost") for e in node.log)
        assert node.sm.commands[-1] == "after"
    assert "majority2" in run.nodes["n1"].sm.commands


def test_figure8_current_term_rule_prevents_the_lost_commit():
    m = RaftMonitor()
    run = figure8(monitors=[m])
    assert m.ok, m.summary()
    assert "y@t2" not in run.nodes["n1"].sm.commands        # never committed in term 4
    assert all(run.nodes[n].entry_at(2).command == "z@t3" for n in ("n2", "n3", "n4", "n5"))


def test_figure8_broken_commit_rule_loses_a_committed_entry():
    m = RaftMonitor()
    run = figure8(broken=True, monitors=[m])
    assert "y@t2" in run.nodes["n1"].sm.commands
    kinds = {v.invariant for v in m.violations}
    assert STATE_MACHINE_SAFETY in kinds and LEADER_COMPLETENESS in kinds


def test_persisted_vote_survives_a_restart_but_a_volatile_one_does_not():
    good = RaftMonitor()
    restarted_voter(monitors=[good])
    assert good.ok, good.summary()
    bad = RaftMonitor()
    run = restarted_voter(cls=VolatileVoteRaft, monitors=[bad])
    assert [v.invariant for v in bad.violations] == [ELECTION_SAFETY]
    assert {n for _, term, n in run.leaders() if term == 1} == {"n1", "n3"}


def test_same_seed_same_trace():
    a, b = fuzz(7), fuzz(7)
    assert a.world.trace.format() == b.world.trace.format()
    assert a.world.trace.format() != fuzz(8).world.trace.format()


# ---- fault sweeps -----------------------------------------------------------------------------------------
def test_invariants_hold_over_300_random_fault_runs():
    bad = []
    for seed in range(300):
        r = fuzz(seed, duration=2.0)
        if not r.ok:
            bad.append(r.summary())
    assert not bad, "\n".join(bad[:3])


def test_kv_histories_are_linearizable_and_exactly_once_under_faults():
    bad = []
    checked = 0
    for seed in range(40):
        r = fuzz(seed, cls=KVNode, kv=True, clients=3, ops=12)
        checked += sum(1 for op in r.world.history if op.type == "ok")
        if not r.ok:
            bad.append(r.summary())
    assert not bad, "\n".join(bad[:3])
    assert checked > 500


def test_fault_sweep_catches_missing_election_restriction():
    caught = [s for s in range(10) if not fuzz(s, cls=NoElectionRestrictionRaft, duration=2.0).ok]
    assert caught


def test_fault_sweep_catches_missing_duplicate_detection():
    results = [fuzz(s, cls=NoDedupKVNode, kv=True) for s in range(20)]
    assert any(r.exactly_once for r in results)
    assert any(r.linearizable is not None and r.linearizable.verdict == "Illegal" for r in results)


def test_append_model_sees_a_double_append_as_illegal():
    from distlib.check.linearizability import check_linearizability
    h = History()
    a = h.invoke("c1", "append", "x", "a;", 0.0)
    h.complete(a, "ok", "a;", 1.0)
    r = h.invoke("c2", "read", "x", None, 2.0)
    h.complete(r, "ok", "a;a;", 3.0)
    assert check_linearizability(h, AppendKVStore()).verdict == "Illegal"


def test_snapshots_keep_the_log_bounded_and_bring_a_lagging_node_back():
    threshold = 20
    longest = []

    def watch(world):
        longest.append(max(len(n.storage.get("log", ())) for name, n in world.nodes.items()
                           if world.status[name] == "up"))

    world = make_cluster(3, seed=5, snapshot_threshold=threshold, monitors=[watch])
    world.at(1.0, lambda: world.crash("n3"))
    world.at(15.0, lambda: world.restart("n3"))

    def proposer():
        k = 0
        while True:
            yield world.env.timeout(0.02)
            for node in world.nodes.values():
                if node.role == LEADER and world.status[node.id] == "up":
                    k += 1
                    node.propose(k)
    world.process(proposer())
    world.run(until=20.0)
    nodes = world.nodes
    assert min(n.last_applied for n in nodes.values()) > 800
    assert max(longest) <= threshold + 40          # ~one heartbeat of new entries beyond the threshold
    assert any(isinstance(r.msg, InstallSnapshot) and r.dst == "n3" for r in world.trace.of(Send))
    n3, n1 = nodes["n3"].sm.commands, nodes["n1"].sm.commands
    assert len(n3) > 800 and n3 == n1[:len(n3)]      # caught up through the snapshot, same order
    assert isinstance(nodes["n1"].sm, ListMachine) and nodes["n1"].snap_index > 0


def test_kv_followers_redirect_and_a_one_server_cluster_answers():
    from distlib.consensus.raft_kv import ClientReply, ClientRequest, kv_client
    world = make_cluster(3, seed=4, cls=KVNode)
    world.process(kv_client(world, "c1", ["n1", "n2", "n3"], ops=10))
    world.run(until=1.0)
    leader = next(n for n, node in world.nodes.items() if node.role == LEADER)
    follower = next(n for n in world.nodes if n != leader)
    answers = []

    def ask():
        reply = yield from world.client("t").call(
            follower, ClientRequest("t:1", KVCommand("t", 1, "get", "x")), timeout=0.5)
        answers.append(reply)
    world.process(ask())
    world.run(until=3.0)
    assert answers == [ClientReply("t:1", False, leader_hint=leader, error="not leader")]
    assert sum(1 for op in world.history if op.type == "ok") == 10
    solo = make_cluster(1, seed=4, cls=KVNode)
    solo.process(kv_client(solo, "c1", ["n1"], ops=5))
    solo.run(until=3.0)
    assert sum(1 for op in solo.history if op.type == "ok") == 5


def test_append_model_keeps_timed_out_writes_observed_through_appends():
    """Regression (bench_raft seed 6769): a timed-out write seen by a read only *through* a later
    append ('c;b;') was pruned as "never observed", and a linearizable history came out Illegal."""
    from distlib.check.linearizability import check_linearizability
    from distlib.check.raft_invariants import AppendKVStore
    from distlib.sim import History

    h = History()
    w1 = h.invoke("c1", "write", "x", "a;", 0.0)
    ap = h.invoke("c2", "append", "x", "b;", 0.0)
    h.complete(w1, "ok", None, 0.2)
    w2 = h.invoke("c1", "write", "x", "c;", 0.3)    # times out: may or may not have happened
    h.complete(ap, "ok", None, 0.4)
    rd = h.invoke("c2", "read", "x", None, 0.5)
    h.complete(rd, "ok", "c;b;", 0.6)
    h.complete(w2, "info", None, 1.0)
    assert check_linearizability(h, AppendKVStore()).verdict == "Ok"
    h[-2] = h[-2].__class__("c2", "ok", "read", "x", "a;c;", 0.6)   # no order explains this one
    assert check_linearizability(h, AppendKVStore()).verdict == "Illegal"
