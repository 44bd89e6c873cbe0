"""The "which setting for which workload" table (distlib.storage.workloads): measured from runs.

Budget: about 6 s on 2 cores.
"""

from __future__ import annotations

import pytest

from distlib.storage.dynamo import Config
from distlib.storage.workloads import (
    CANDIDATES,
    WORKLOADS,
    Candidate,
    fault_texts,
    measure,
    pick,
    table_text,
    workload_table,
)

CART = WORKLOADS[4]
BY_LABEL = {c.label: c for c in CANDIDATES}


def test_lww_loses_concurrent_adds_and_version_vectors_keep_them():
    vv = measure(CART, BY_LABEL["R=1 W=1 sloppy VV"], seeds=2)
    lww = measure(CART, BY_LABEL["R=2 W=2 sloppy LWW"], seeds=2)
    assert vv["lost"] == 0 and lww["lost"] > 0


def test_strict_quorums_lose_write_availability_sloppy_ones_keep_it():
    strict = measure(WORKLOADS[1], BY_LABEL["R=1 W=3 strict VV"], seeds=2)
    sloppy = measure(WORKLOADS[1], BY_LABEL["R=1 W=3 sloppy VV"], seeds=2)
    assert strict["crash_write"] < 100 and strict["part_write"] < 100
    assert sloppy["crash_write"] == sloppy["part_write"] == 100
    # Same quorum sizes: normal-operation latency is the same, W = 3 writes slower than R = 1 reads.
    assert strict["p99_write"] == sloppy["p99_write"] > strict["p99_read"]


def test_partial_quorums_read_stale_values_and_overlapping_ones_do_not_without_faults():
    fast = measure(WORKLOADS[3], BY_LABEL["R=1 W=1 sloppy VV"], seeds=2)
    assert fast["stale_pct"] > 0 and fast["p99_read"] < 40
    strict = measure(WORKLOADS[3], BY_LABEL["R=1 W=3 strict VV"], seeds=2)
    assert strict["stale_pct"] == 0 and strict["ryw_pct"] == 0


def _row(config, **metrics):
    base = {"workload": CART.name, "config": config, "r": 1, "w": 1, "p99_read": 40.0, "p99_write": 40.0,
            "stale_pct": 0.0, "ryw_pct": 0.0, "lost": 0, "crash_read": 100.0, "crash_write": 100.0,
            "part_read": 100.0, "part_write": 100.0, "runs": 3}
    return base | metrics


def test_pick_follows_the_rule_and_names_its_cells():
    rows = [_row("fast but lossy", lost=3, p99_write=10.0), _row("safe", p99_write=60.0),
            _row("safe, unavailable", p99_write=20.0, part_write=80.0)]
    (choice,) = pick(rows)
    assert choice["config"] == "safe"
    assert choice["because"] == {"lost": 0, "crash_write": 100.0, "part_write": 100.0, "p99_write": 60.0}
    assert "* safe " in table_text(rows, [choice])


def test_faults_hit_a_replica_of_k0():
    texts = fault_texts()
    assert texts["none"] is None
    assert texts["crash"].startswith("crash n") and texts["partition"].startswith("partition n")


@pytest.mark.parametrize("build, message", [
    (lambda: measure(CART, CANDIDATES[0], seeds=0), "seeds must be an integer >= 1 (got 0)"),
    (lambda: workload_table(workloads=()), "workloads and candidates must be non-empty"),
    (lambda: Candidate("bad", Config(r=4)), "r must be an integer in 1..3 (got 4)"),
])
def test_bad_input(build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert message in str(err.value)
