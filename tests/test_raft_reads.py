"""Linearizable reads in the Raft KV store: ReadIndex (thesis §6.4), leases (§6.4.1, with clock drift),
and the broken "read the leader's local state" variant caught by the linearizability checker.

Budget: about 20 s.
"""

from __future__ import annotations

import pytest
from test_raft import ents, make_leader

from distlib.check.linearizability import check_linearizability
from distlib.check.models import AppendKVStore
from distlib.check.raft_invariants import read_fuzz
from distlib.consensus.raft import AppendEntries, AppendEntriesReply, RaftNode
from distlib.consensus.raft_kv import (
    ClientReply,
    ClientRequest,
    KVCommand,
    KVNode,
    KVStore,
    read_cost,
    stale_read,
)


class Reader(RaftNode):
    def on_start(self):
        super().on_start()
        self.ready, self.failed = [], []

    def on_read_ready(self, token):
        self.ready.append(token)

    def on_read_failed(self, token):
        self.failed.append(token)


def test_read_index_waits_for_a_majority_heartbeat_sent_after_the_read_arrived():
    node, rt = make_leader(Reader, term=2, log=[], peers=("n1", "n2", "n3", "n4", "n5"))
    node.propose("w")
    for p in ("n2", "n3"):
        node.on_message(p, AppendEntriesReply(2, True, match_index=1, sent_at=0.0))
    assert node.commit_index == 1
    rt.take()
    rt.time = 1.0
    assert node.read("r1")
    rounds = [(d, m) for _, d, m, _ in rt.take()]
    assert [d for d, _ in rounds] == ["n2", "n3", "n4", "n5"]
    assert all(isinstance(m, AppendEntries) and m.entries == () and m.sent_at == 1.0 for _, m in rounds)
    node.on_message("n2", AppendEntriesReply(2, True, match_index=1, sent_at=0.0))   # an older ack
    node.on_message("n4", AppendEntriesReply(2, True, match_index=0, sent_at=1.0))
    assert node.ready == []                                  # us + n4: 2 of 5
    node.on_message("n5", AppendEntriesReply(2, True, match_index=0, sent_at=1.0))
    assert node.ready == ["r1"]


def test_read_index_first_waits_for_an_entry_of_the_leaders_term_to_commit():
    node, rt = make_leader(Reader, term=3, log=ents(1))     # index 1 (term 1) may be committed: unknown
    assert node.read("r")
    for p in ("n2", "n3"):
        node.on_message(p, AppendEntriesReply(3, True, match_index=1, sent_at=0.0))
    assert node.ready == [] and node.commit_index == 0      # acknowledged, but nothing of term 3 committed
    node.propose("w")
    node.on_message("n2", AppendEntriesReply(3, True, match_index=2, sent_at=0.0))
    assert node.commit_index == 2 and node.ready == ["r"]


def test_a_lease_read_needs_no_message_until_the_lease_ends_and_drift_shortens_it():
    node, rt = make_leader(Reader, term=2, log=[], check_quorum=True, drift_bound=1.5)
    node.propose("w")
    node.on_message("n2", AppendEntriesReply(2, True, match_index=1, sent_at=0.0))
    assert node.lease_until() == pytest.approx(0.0 + 0.15 / 1.5)
    rt.take()
    rt.time = 0.05
    node.read("r1", lease=True)
    assert node.ready == ["r1"] and rt.take() == []         # served locally, no round
    rt.time = 0.2                                            # the lease has lapsed: a ReadIndex round
    node.read("r2", lease=True)
    assert node.ready == ["r1"] and len(rt.take()) == 2
    plain, _ = make_leader(Reader, term=2, log=[])
    assert plain.lease_until() == float("-inf")             # no stickiness, no lease


def test_a_leader_that_steps_down_fails_its_pending_reads():
    node, rt = make_leader(Reader, term=2, log=[])
    node.read("r")
    node.on_message("n2", AppendEntriesReply(5, False))
    assert node.failed == ["r"] and node.ready == []


def test_clock_rate_scales_timers_and_is_validated():
    fast, rt = make_leader(term=2, log=[], clock_rate=2.0)
    assert rt.timers[("n1", "heartbeat n2")] == pytest.approx(0.025)
    with pytest.raises(ValueError, match="clock_rate must"):
        RaftNode(clock_rate=3.0)
    with pytest.raises(ValueError, match="read_mode must"):
        KVNode(read_mode="dirty")


def test_kv_read_modes_answer_gets_without_a_log_entry():
    node, rt = make_leader(KVNode, term=2, log=[], read_mode="read_index")
    node.sm.data["x"] = "v"
    node.propose(KVCommand("c0", 1, "put", "y", "1"))
    node.on_message("n2", AppendEntriesReply(2, True, match_index=1, sent_at=0.0))
    rt.take()
    last = node.last_index
    node.on_message("c1", ClientRequest("c1:1", KVCommand("c1", 1, "get", "x")))
    assert node.last_index == last                            # no log entry for the read
    node.on_message("n3", AppendEntriesReply(2, True, match_index=1, sent_at=0.0))
    assert [m for _, d, m, _ in rt.take() if d == "c1"] == [ClientReply("c1:1", True, result="v")]
    assert isinstance(node.sm, KVStore)


@pytest.mark.parametrize("mode", ["log", "read_index", "lease"])
def test_scripted_partition_read_is_linearizable_for_correct_modes(mode):
    run = stale_read(mode)
    assert run.stats["read"] == "b", run.notes
    assert check_linearizability(run.world.history, AppendKVStore()).ok


def test_scripted_partition_read_from_local_state_is_stale_and_caught():
    run = stale_read("local")
    assert run.stats["read"] == "a", run.notes
    verdict = check_linearizability(run.world.history, AppendKVStore())
    assert verdict.verdict == "Illegal"


def test_read_sweep_catches_local_reads_and_passes_read_index_and_leases():
    assert any(not read_fuzz(s, "local").linearizable.ok for s in range(40))
    for mode in ("read_index", "lease"):
        for seed in range(40):
            r = read_fuzz(seed, mode)
            assert r.ok, r.summary()


def test_lease_reads_stay_linearizable_with_drifting_clocks_within_the_bound():
    # Clocks 5 % apart, drift_bound 1.1: the lease is short enough.
    for seed in range(15):
        r = read_fuzz(seed, "lease", clock_rate=1.0 + 0.05 * (seed % 2), drift_bound=1.1)
        assert r.ok, r.summary()


def test_messages_per_read_log_vs_read_index_vs_lease():
    cost = {m: read_cost(m, reads=20) for m in ("log", "read_index", "lease")}
    assert cost["lease"]["extra_per_read"] == 0
    assert cost["read_index"]["extra_per_read"] == pytest.approx(4.0)        # 2 heartbeats + 2 acks
    assert cost["log"]["per_read"] < cost["read_index"]["per_read"]
