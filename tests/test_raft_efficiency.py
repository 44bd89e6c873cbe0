"""Raft's flow control (issue 8, "Raft's message efficiency"): probe / replicate / snapshot per follower,
batching while an AppendEntries is outstanding, stale replies that move nothing, and the message counts.

Budget: about 10 s.
"""

from __future__ import annotations

import pytest
from test_raft import ents, make_leader

from distlib.consensus.raft import (
    PROBE,
    REPLICATE,
    SNAPSHOT,
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    churn,
    sequential_commands,
)


def sent(rt):
    return [(dst, msg) for _, dst, msg, _ in rt.take()]


def streaming_leader(**config):
    """A term-2 leader with an empty log whose followers answered the first probe (both REPLICATE)."""
    node, rt = make_leader(term=2, log=[], **config)
    for peer in ("n2", "n3"):
        node.on_message(peer, AppendEntriesReply(2, True, match_index=0))
    assert all(node.progress[p].state == REPLICATE for p in ("n2", "n3"))
    rt.take()
    return node, rt


def test_commands_arriving_while_an_append_is_outstanding_leave_in_one_batch():
    node, rt = streaming_leader()
    node.propose("a")
    assert [(d, [e.command for e in m.entries]) for d, m in sent(rt)] == [("n2", ["a"]), ("n3", ["a"])]
    for c in ("b", "c", "d"):
        node.propose(c)
    assert sent(rt) == []                          # window of one: they wait
    node.on_message("n2", AppendEntriesReply(2, True, match_index=1))
    [(dst, msg)] = sent(rt)
    assert dst == "n2" and msg.prev_log_index == 1 and [e.command for e in msg.entries] == ["b", "c", "d"]
    assert node.next_index["n2"] == 5 and node.commit_index == 1


def test_a_stale_or_duplicated_success_reply_moves_nothing_and_sends_nothing():
    node, rt = streaming_leader()
    for c in ("a", "b"):
        node.propose(c)
    node.on_message("n2", AppendEntriesReply(2, True, match_index=1))
    rt.take()
    node.on_message("n2", AppendEntriesReply(2, True, match_index=2))
    assert (node.match_index["n2"], node.next_index["n2"]) == (2, 3)
    node.on_message("n2", AppendEntriesReply(2, True, match_index=1))    # reordered, older
    node.on_message("n2", AppendEntriesReply(2, True, match_index=2))    # duplicated
    assert (node.match_index["n2"], node.next_index["n2"]) == (2, 3)
    assert sent(rt) == []


def test_a_stale_refusal_neither_backs_off_nor_sends_a_snapshot():
    node, rt = streaming_leader(snapshot_threshold=3)
    for i in range(4):
        node.propose(f"x{i}")
    node.on_message("n2", AppendEntriesReply(2, True, match_index=1))
    node.on_message("n2", AppendEntriesReply(2, True, match_index=4))
    assert node.snap_index == 4 and node.match_index["n2"] == 4
    rt.take()
    # A refusal of the first probe (prevLogIndex 0... an older AppendEntries) arrives late.
    node.on_message("n2", AppendEntriesReply(2, False, conflict_index=1, reject_index=0))
    assert node.next_index["n2"] == 5 and node.progress["n2"].state == REPLICATE
    assert not [m for _, m in sent(rt) if isinstance(m, InstallSnapshot)]


def test_a_current_refusal_backs_off_one_probe_at_a_time_and_its_stale_copy_is_ignored():
    node, rt = make_leader(term=4, log=ents(1, 1, 2))      # first probes went out with prevLogIndex 3
    node.on_message("n3", AppendEntriesReply(4, False, conflict_index=2, reject_index=3))
    assert node.progress["n3"].state == PROBE and node.next_index["n3"] == 2
    [(dst, msg)] = sent(rt)
    assert dst == "n3" and msg.prev_log_index == 1 and len(msg.entries) == 2
    node.on_message("n3", AppendEntriesReply(4, False, conflict_index=2, reject_index=3))   # duplicate
    node.propose("d")
    assert sent(rt) == []                  # the duplicate is stale; probes go one at a time
    node.on_message("n3", AppendEntriesReply(4, True, match_index=3))
    assert node.progress["n3"].state == REPLICATE and node.match_index["n3"] == 3
    [(dst, msg)] = sent(rt)
    assert dst == "n3" and msg.prev_log_index == 3 and [e.command for e in msg.entries] == ["d"]


def test_silence_for_a_heartbeat_resends_what_was_lost_from_match_index():
    node, rt = streaming_leader()
    for c in ("a", "b"):
        node.propose(c)                                  # "a" goes out, and is lost
    rt.take()
    node.on_timer("heartbeat n2")
    [(dst, msg)] = sent(rt)
    assert dst == "n2" and msg.prev_log_index == 0 and [e.command for e in msg.entries] == ["a", "b"]
    assert node.progress["n2"].state == PROBE
    node.on_message("n2", AppendEntriesReply(2, True, match_index=2))
    assert node.progress["n2"].state == REPLICATE and node.next_index["n2"] == 3


def test_snapshot_state_sends_nothing_else_until_the_snapshot_is_answered():
    node, rt = make_leader(term=1, log=[], snapshot_threshold=3)
    node.on_message("n2", AppendEntriesReply(1, True, match_index=0))
    for i in range(5):
        node.propose(f"x{i}")
    node.on_message("n2", AppendEntriesReply(1, True, match_index=5))
    rt.take()
    node.on_message("n3", AppendEntriesReply(1, True, match_index=0))
    [(_, msg)] = sent(rt)
    assert isinstance(msg, InstallSnapshot) and node.progress["n3"].state == SNAPSHOT
    node.propose("y")
    assert [d for d, _ in sent(rt)] == ["n2"]
    node.on_message("n3", InstallSnapshotReply(1, 5))
    assert node.progress["n3"].state == REPLICATE
    [(dst, msg)] = sent(rt)
    assert dst == "n3" and isinstance(msg, AppendEntries) and msg.prev_log_index == 5


@pytest.mark.parametrize("latency", [(0.005, 0.015), 0.01])
def test_sequential_commands_cost_at_most_1_2_appends_per_entry_per_follower(latency):
    for seed in range(5):
        stats = sequential_commands(seed, latency=latency).stats
        assert stats["done"] and stats["per_entry"] <= 1.2, (seed, stats)
        lab = sequential_commands(seed, latency=latency, wait="all").stats
        assert lab["done"] and lab["append"] <= 42, (seed, lab)     # the lab suite's budget for ten


def test_churn_costs_a_few_messages_per_committed_entry():
    # Before flow control this run cost 855 messages per committed entry (80,000 a simulated second).
    run = churn(0, duration=4.0)
    assert run.stats["committed"] > 200 and run.stats["per_entry"] < 8, run.stats
