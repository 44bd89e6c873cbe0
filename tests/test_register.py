"""The CP/AP replicated register (distlib.storage.register) and its consistency helpers.

Budget: about 10 s on 2 cores.
"""

from __future__ import annotations

import pytest

from distlib.check.consistency import (
    causally_consistent,
    consistency_level,
    history_from_rows,
    sequentially_consistent,
)
from distlib.check.linearizability import check_linearizability
from distlib.check.models import Register
from distlib.sim import FaultSchedule, partition
from distlib.storage.register import CPReplica, Refused, replica_names, run_register


def _ops_in(run, client, start, end):
    """(invoke, completion) pairs of ``client`` invoked inside [start, end)."""
    return [(a, b) for a, b in run.history.pairs() if a.process == client and start <= a.time < end]


# ---- CP -------------------------------------------------------------------------------------------
def test_cp_is_linearizable_under_random_partitions_crashes_and_pauses():
    verdicts = {}
    for seed in range(60):
        faults = FaultSchedule.random(seed, replica_names(3), horizon=4.0, faults=3,
                                      kinds=("partition", "crash", "pause"))
        run = run_register("cp", seed, faults=faults, until=4.0, latency=(0.01, 0.08))
        verdicts[seed] = run.check().verdict
    # Unknown is not a pass: every verdict must be a definite Ok.
    assert all(v == "Ok" for v in verdicts.values()), {s: v for s, v in verdicts.items() if v != "Ok"}


def test_cp_with_five_replicas_and_two_cut_off_is_linearizable():
    for seed in range(10):
        run = run_register("cp", seed, replicas=5, clients=5, partition=["n1", "n2"])
        assert run.check().verdict == "Ok"


def test_cp_minority_side_refuses_majority_side_serves():
    run = run_register("cp", 3, partition="n1", partition_at=1.0, heal_at=3.0)
    assert run.homes["c1"] == "n1"
    # c1's operations issued well inside the partition never succeed: no majority on its side
    minority = _ops_in(run, "c1", 1.05, 2.6)
    assert minority and all(done.type in ("fail", "info") for _, done in minority)
    assert any(isinstance(r.msg, Refused) for r in run.world.trace.records
               if type(r).__name__ == "Deliver")
    # c2 and c3 (homed on n2, n3) keep working throughout
    for c in ("c2", "c3"):
        majority = _ops_in(run, c, 1.05, 2.6)
        assert majority and all(done.type == "ok" for _, done in majority)
    # after the heal, c1 is served again
    after = _ops_in(run, "c1", 3.1, 5.0)
    assert after and all(done.type == "ok" for _, done in after)
    assert run.availability() < 1.0


def test_cp_without_faults_is_fully_available():
    for seed in range(5):
        run = run_register("cp", seed)
        assert run.availability() == 1.0 and run.check().ok


def test_cp_partial_write_is_info_not_fail():
    """A write whose Store reached a minority may still win later: it must not be reported failed."""
    # cut n1 off after its Query round (replies in at 0.16), before its Stores land (0.18).
    run = run_register("cp", 0, clients=1, until=0.3, think=(0.1, 0.1), write_ratio=1.0,
                       latency=0.02, partition="n1", partition_at=0.17, heal_at=None)
    pairs = run.history.pairs()
    assert pairs[0][1].type == "info"
    assert run.world.storage["n1"]["value"] == 1       # stored locally: it may take effect
    assert run.check().ok


# ---- AP -------------------------------------------------------------------------------------------
def test_ap_is_always_available_and_not_linearizable_under_partition():
    illegal = 0
    for seed in range(20):
        run = run_register("ap", seed, partition="n1")
        assert run.availability() == 1.0
        verdict = run.check().verdict
        assert verdict in ("Ok", "Illegal")
        illegal += verdict == "Illegal"
    assert illegal >= 10


def test_ap_reconciles_after_heal():
    for seed in range(10):
        run = run_register("ap", seed, partition=["n1"], heal_at=3.0, until=5.0, settle=1.0)
        assert run.converged()
        # the surviving value is the write with the highest version (last writer wins)
        versions = {v for v, _ in run.replicas().values()}
        assert len(versions) == 1


def test_ap_diverges_during_a_partition():
    run = run_register("ap", 1, partition="n1", heal_at=None, until=3.0, settle=0.0)
    assert not run.converged()


def test_determinism_same_seed_same_history():
    a = run_register("ap", 7, partition="n2")
    b = run_register("ap", 7, partition="n2")
    assert a.history == b.history
    assert a.world.trace.format() == b.world.trace.format()
    c = run_register("ap", 8, partition="n2")
    assert c.history != a.history


@pytest.mark.parametrize("kwargs, word", [
    (dict(mode="ca"), "mode"),
    (dict(mode="cp", replicas=0), "replicas"),
    (dict(mode="cp", clients=True), "clients"),
    (dict(mode="cp", until=0), "until"),
    (dict(mode="cp", partition=["n9"]), "partition"),
    (dict(mode="cp", partition=["n1", "n2", "n3"]), "partition"),
    (dict(mode="ap", heal_at=0.5, partition_at=1.0), "heal_at"),
    (dict(mode="ap", write_ratio=1.5), "write_ratio"),
    (dict(mode="ap", think=(0, 1)), "think"),
    (dict(mode="ap", faults=[1]), "faults"),
    (dict(mode="ap", seed=-1), "seed"),
])
def test_bad_parameters_name_themselves(kwargs, word):
    with pytest.raises(ValueError, match=word):
        run_register(**kwargs)


def test_partition_fault_accepted():
    run = run_register("cp", 2, partition=partition(["n3"], ["n1", "n2"], at=0.5, heal=1.5))
    assert run.schedule.describe() == "partition n3 | n1,n2 at 0.5, heal at 1.5"
    assert run.check().ok


def test_single_replica_cp_works():
    run = run_register("cp", 1, replicas=1, clients=2)
    assert run.availability() == 1.0 and run.check().ok
    assert isinstance(run.world.nodes["n1"], CPReplica)


# ---- the consistency hierarchy on hand-made histories -----------------------------------------------
LIN = [("c1", "write", 1, 0.0, 1.0), ("c2", "read", 1, 1.5, 2.0)]
STALE = [("c1", "write", 1, 0.0, 1.0), ("c2", "read", None, 1.5, 2.0)]              # sequential
IRIW = [("c1", "write", 1, 0.0, 1.0), ("c2", "write", 2, 0.0, 1.0),                # causal
        ("c3", "read", 1, 2.0, 2.5), ("c3", "read", 2, 3.0, 3.5),
        ("c4", "read", 2, 2.0, 2.5), ("c4", "read", 1, 3.0, 3.5)]
BACKWARDS = [("c1", "write", 1, 0.0, 1.0), ("c1", "write", 2, 1.0, 2.0),             # eventual
             ("c2", "read", 2, 2.5, 3.0), ("c2", "read", 1, 3.5, 4.0)]
THIN_AIR = [("c1", "write", 1, 0.0, 1.0), ("c2", "read", 7, 1.5, 2.0)]


@pytest.mark.parametrize("rows, level", [(LIN, "linearizable"), (STALE, "sequential"), (IRIW, "causal"),
                                         (BACKWARDS, "eventual"), (THIN_AIR, "none")])
def test_consistency_level_of_classic_histories(rows, level):
    h = history_from_rows(rows)
    assert consistency_level(h) == level


def test_hierarchy_is_nested():
    for rows in (LIN, STALE, IRIW, BACKWARDS):
        h = history_from_rows(rows)
        lin = check_linearizability(h, Register(None)).ok
        seq = sequentially_consistent(h)
        cau = causally_consistent(h)
        assert (not lin or seq) and (not seq or cau)


def test_history_from_rows_rejects_bad_rows():
    with pytest.raises(ValueError, match="end"):
        history_from_rows([("c1", "write", 1, 1.0, 1.0)])
    with pytest.raises(ValueError, match="f must"):
        history_from_rows([("c1", "cas", 1, 0.0, 1.0)])
