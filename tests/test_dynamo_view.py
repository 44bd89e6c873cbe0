"""Chapter 07's view: the staleness classification behind the quorum panel, its bad-input messages,
and the PBS summary."""

from __future__ import annotations

import pytest

from distlib.storage.dynamo import quorum_demo
from distlib.viz.dynamo_view import pbs_summary, quorum_scenario, read_freshness, tally


def test_the_demo_read_that_misses_nothing_acknowledged_is_fresh_and_writes_unacked_fail():
    # quorum_demo's put is never acknowledged, so neither read can be stale (nothing acked to miss)
    rows = read_freshness(quorum_demo())
    assert [r["class"] for r in rows] == ["write failed", "read fresh", "read fresh"]


def test_sloppy_demo_read_missing_an_acknowledged_write_is_stale():
    rows = read_freshness(quorum_demo("sloppy-quorum"))
    assert [r["class"] for r in rows] == ["write ok", "read stale"]


def test_partial_quorums_under_a_partition_show_stale_reads_and_strict_ones_do_not():
    faults = "partition n1,n2 | n3,n4,n5 at 0.3 heal 1.2"
    from distlib.viz.schedule_text import parse_schedule

    _, loose = quorum_scenario(r=1, w=1, faults=parse_schedule(faults))
    _, strict = quorum_scenario(r=2, w=2, sloppy=False, faults=parse_schedule(faults))
    assert "staleness: 0 of" not in loose
    assert "staleness: 0 of" in strict


@pytest.mark.parametrize("kwargs, message", [
    ({"r": 4}, "r must be an integer in 1..3 (got 4)"),
    ({"n": 6}, "n must be an integer in 1..5 (got 6)"),
    ({"latency": 0.0}, "latency must be"),
    ({"mode": "crdt"}, "mode must be one of vv, lww (got 'crdt')"),
])
def test_bad_values_raise_value_errors_naming_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        quorum_scenario(**kwargs)


def test_tally_and_pbs_summary():
    rows = read_freshness(quorum_demo("sloppy-quorum"))
    assert tally(rows)["read stale"] == 1 and tally(rows)["write ok"] == 1
    text = pbs_summary({"n": 3, "times": [0.0, 1.0], "curves": {(1, 1): [0.5, 0.9], (2, 2): [1.0, 1.0]}})
    assert text.splitlines() == ["R W  t=0     t=1    ", "1 1  0.500   0.900  ",
                                 "2 2  1.000   1.000    (R+W>N)"]
