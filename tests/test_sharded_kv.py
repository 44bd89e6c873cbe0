"""The sharded key-value store (distlib.partitioning.sharded_kv) and its checker (distlib.check.sharding).

Budget: about 25 s on 2 cores, most of it the two 300-seed sweeps.
"""

from __future__ import annotations

import copy

import pytest

from distlib.check.sharding import check_sharding
from distlib.check.sweep import sweep
from distlib.partitioning.sharded_kv import (
    CFG,
    KVReply,
    Migrate,
    ShardData,
    Step,
    random_sharded,
    run_sharded,
    shard_of,
)
from distlib.sim import FaultSchedule, crash, partition


def sends(run, cls, src=None):
    return [r for r in run.world.trace.records
            if r.kind == "send" and isinstance(r.msg, cls) and (src is None or r.src == src)]


def first_move(run):
    """(time, source, destination, shard) of the first ShardData of the run."""
    r = sends(run, ShardData)[0]
    return r.time, r.src, r.dst, r.msg.shard


# ---- normal operation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["ring", "rendezvous", "jump", "modn"])
def test_rebalancing_without_faults_moves_exactly_the_shards_the_plan_implies(strategy):
    run = run_sharded(1, strategy=strategy)
    assert run.check() == []
    assert run.finished() and run.final_map().owners == run.expected_owners()
    moved = {r.msg.shard for r in sends(run, ShardData)}
    start = run_sharded(1, strategy=strategy, plan=()).final_map().owners
    # Each step moves the shards whose owner changes; with two steps a shard can move twice.
    assert len(moved) >= sum(a != b for a, b in zip(start, run.expected_owners(), strict=True))
    assert all(b is not None and b.type == "ok" for _, b in run.history.pairs())


def test_mod_n_moves_far_more_shards_than_consistent_hashing():
    counts = {s: len(sends(run_sharded(2, strategy=s), ShardData)) for s in ("ring", "rendezvous", "modn")}
    assert counts["modn"] > 2 * max(counts["ring"], counts["rendezvous"])


def test_clients_with_a_stale_map_are_redirected_and_succeed():
    run = run_sharded(0)
    wrong = [r for r in sends(run, KVReply) if r.msg.error == "wrong shard"]
    assert wrong, "no client ever used a stale map"
    assert all(r.msg.map is not None for r in wrong)
    assert all(b.type == "ok" for _, b in run.history.pairs())


def test_every_key_ends_on_exactly_its_owner():
    run = run_sharded(3)
    owners = run.final_map().owners
    for node, held in run.holdings().items():
        assert all(owners[shard_of(k, run.shards)] == node for k in held)
    held = [k for h in run.holdings().values() for k in h]
    assert len(held) == len(set(held))


# ---- faults in the middle of a migration ---------------------------------------------------------------
def test_source_crash_mid_handoff_resumes_from_storage():
    t, src, dst, shard = first_move(run_sharded(0))
    run = run_sharded(0, faults=FaultSchedule([crash(src, at=t + 0.001, restart=t + 0.6)]))
    assert run.check() == []
    # The frozen shard survived the crash and was sent again after the restart.
    assert [r for r in sends(run, ShardData, src) if r.msg.shard == shard and r.time >= t + 0.6]


def test_target_partitioned_from_source_keeps_the_shard_frozen_then_completes():
    t, src, dst, shard = first_move(run_sharded(0))
    run = run_sharded(0, faults=FaultSchedule([partition([dst], at=t - 0.05, heal=t + 0.7)]))
    assert run.check() == []
    resent = [r for r in sends(run, ShardData, src) if r.msg.shard == shard]
    assert len(resent) >= 3          # re-sent while the partition lasted, delivered after the heal


def test_config_crash_mid_step_resumes_the_plan():
    t, _, _, _ = first_move(run_sharded(0))
    run = run_sharded(0, faults=FaultSchedule([crash(CFG, at=t + 0.001, restart=t + 0.8)]))
    assert run.check() == [] and run.finished()
    assert [r for r in sends(run, Migrate) if r.time >= t + 0.8]


def test_lost_and_duplicated_messages_do_not_lose_or_repeat_writes():
    run = run_sharded(4, loss=0.15, duplicate=0.15, until=7.0)
    assert run.check() == []


# ---- the checker can fail ------------------------------------------------------------------------------
def _tampered(run, mutate):
    bad = copy.copy(run)
    world = copy.copy(run.world)
    world.storage = copy.deepcopy(run.world.storage)
    bad.world = world
    mutate(world.storage)
    return check_sharding(bad)


def _owned_key(storage, node):
    for st in storage[node]["shards"].values():
        if st["state"] == "owned" and st["data"]:
            return st, next(iter(st["data"]))
    raise AssertionError(f"{node} holds no key")


def test_checker_flags_a_deleted_key_a_stray_copy_and_an_old_value():
    run = run_sharded(1)
    assert check_sharding(run) == []
    node = run.final_map().owners[0]

    def delete(storage):
        st, key = _owned_key(storage, node)
        del st["data"][key]
    assert any("lost" in p for p in _tampered(run, delete))

    def stray(storage):
        st, key = _owned_key(storage, node)
        other = next(n for n in run.storage_nodes if n != node)
        storage[other]["shards"][999] = {"state": "owned", "epoch": 0, "data": {key: st["data"][key]},
                                         "sessions": {}, "to": None}
    assert any("is held by" in p for p in _tampered(run, stray))

    def old_value(storage):
        # Put back the first acknowledged value of a key written at least twice (a lost update).
        writes = {}
        for a, b in run.history.pairs():
            if a.f == "write" and b.type == "ok":
                writes.setdefault(a.key, []).append(a.value)
        key = next(k for k, v in writes.items() if len(v) >= 2)
        owner = run.final_map().owners[shard_of(key, run.shards)]
        for st in storage[owner]["shards"].values():
            if key in st["data"]:
                st["data"][key] = writes[key][0]
    assert any("lost" in p for p in _tampered(run, old_value))


def test_checker_flags_an_unfinished_plan():
    run = run_sharded(0, plan=(Step("join", "n4", 4.9),), until=4.9)
    assert any("did not finish" in p for p in check_sharding(run))


# ---- sweeps --------------------------------------------------------------------------------------------
def test_sweep_300_seeds_of_random_faults_finds_no_violation():
    res = sweep(random_sharded, range(300), check_sharding)
    assert res.ok, (res.first_failing_seed, res.violations.get(res.first_failing_seed))
    assert res.outcomes == {"migrated": 300}


def test_sweep_catches_ownership_switched_before_the_data_arrived():
    res = sweep(lambda s: random_sharded(s, broken=True), range(300), check_sharding)
    assert len(res.violations) >= 30, res.summary()
    found = " ".join(p for ps in res.violations.values() for p in ps)
    assert "lost" in found


# ---- bad input -----------------------------------------------------------------------------------------
BAD = [
    ("strategy", dict(strategy="chord"), "strategy must be one of modn, ring, jump, rendezvous"),
    ("bounded", dict(strategy="bounded"), "strategy must not be 'bounded'"),
    ("nodes 0", dict(nodes=0), "nodes must be an integer in 1..26"),
    ("shards 0", dict(shards=0), "shards must be an integer in 1..4096"),
    ("clients", dict(clients=0), "clients must be an integer in 1..20"),
    ("vnodes", dict(vnodes=0), "vnodes must be an integer >= 1"),
    ("join existing", dict(plan=[("join", "n1", 1.0)]), "plan node must not already be a member"),
    ("leave missing", dict(plan=[("leave", "n9", 1.0)]), "plan node must be a member to leave"),
    ("leave last", dict(nodes=1, plan=[("leave", "n1", 1.0)]), "plan must not remove the last member"),
    ("bad change", dict(plan=[("split", "n1", 1.0)]), "plan change must be one of join, leave"),
    ("negative time", dict(plan=[("join", "n4", -1)]), "plan time must be a number >= 0"),
    ("faults unknown node", dict(faults="crash n9 at 1"), "unknown node 'n9'; the nodes are cfg, n1"),
]


@pytest.mark.parametrize("label,kwargs,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input(label, kwargs, message):
    with pytest.raises(ValueError) as err:
        run_sharded(0, until=0.1, **kwargs)
    assert message in str(err.value)


# ---- one node, driven by hand (the rules a sweep rarely reaches) ---------------------------------------
class FakeRuntime:
    now = 0.0

    def __init__(self):
        self.sent = []

    def send(self, src, dst, msg):
        self.sent.append((dst, msg))

    def set_timer(self, node, name, delay):
        pass

    def cancel_timer(self, node, name):
        pass

    def annotate(self, node, text):
        pass


def _node(name="n2"):
    import random

    from distlib.partitioning.sharded_kv import ShardNode
    node = ShardNode(members=("n1",), shards=4)
    rt = FakeRuntime()
    node.attach(name, ("n1", CFG), {}, rt, random.Random(0))
    node.on_start()
    return node, rt


def _put(node, seq, key, value, client="c1"):
    from distlib.partitioning.sharded_kv import KVRequest
    node.on_message(client, KVRequest(f"{client}:{seq}", client, seq, "put", key, value))


def test_a_late_duplicate_of_the_shard_data_never_overwrites_newer_writes():
    node, rt = _node()
    s = shard_of("k", 4)
    data = ShardData(s, 1, (("k", "old"),), ())
    node.on_message("n1", data)
    _put(node, 1, "k", "new")
    node.on_message("n1", data)                          # the network delivers the data again
    assert node.storage["shards"][s]["data"] == {"k": "new"}
    assert [m for _, m in rt.sent if isinstance(m, KVReply)][-1].ok


def test_a_retried_put_is_applied_once_even_after_the_shard_moved():
    node, rt = _node()
    s = shard_of("k", 4)
    node.on_message("n1", ShardData(s, 1, (("k", "a"),), (("c1", 5),)))   # the session table moved too
    _put(node, 5, "k", "a-retry")                         # c1's seq 5 was applied at the old owner
    _put(node, 6, "k", "b")
    _put(node, 6, "k", "b")
    _put(node, 5, "k", "a-late")
    assert node.storage["shards"][s]["data"] == {"k": "b"}
