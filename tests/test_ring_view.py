"""Chapter 06's figures (distlib.viz.ring_view): what they draw matches the placements. Budget: < 10 s."""

from __future__ import annotations

import copy

import plotly.graph_objects as go
import pytest

from distlib.partitioning import JumpHash, ModN, Ring
from distlib.partitioning.hashing import stable_hash
from distlib.partitioning.metrics import imbalance_vs_vnodes, keys_moved, load_stats, movement_table
from distlib.partitioning.sharded_kv import run_sharded
from distlib.viz import IntControl, Panel
from distlib.viz.ring_view import (
    CIRCLE,
    changed_arcs,
    load_figure,
    load_summary,
    migration_figure,
    migration_summary,
    movement_figure,
    movement_summary,
    ring_change,
    ring_figure,
    ring_summary,
    shard_moves,
    spread_figure,
    spread_summary,
)

KEYS = [f"user:{i}" for i in range(600)]


def _join(ring, node="n5"):
    after = copy.deepcopy(ring)
    after.add(node)
    return after


def _trace(fig: go.Figure, name: str):
    return next(t for t in fig.data if t.name == name)


def _length(s: int, e: int) -> int:
    return (e - s) % CIRCLE or CIRCLE


def test_changed_arcs_of_a_join_are_exactly_the_joiners_share():
    before = Ring(["n1", "n2", "n3", "n4"], vnodes=8)
    after = _join(before)
    arcs = changed_arcs(before, after)
    assert arcs and all(new == "n5" and old != "n5" for _, _, old, new in arcs)
    share = sum(_length(s, e) for s, e, _, _ in arcs) / CIRCLE
    assert share == pytest.approx(after.arc_shares()["n5"], abs=1e-12)
    # every changed arc ends at one of n5's positions (it took the arc up to its vnode)
    n5 = {p for p, n in after.points() if n == "n5"}
    assert {e for _, e, _, _ in arcs} <= n5


def test_changed_arcs_of_a_leave_are_the_leavers_share_and_wrap_around_the_top():
    before = Ring(["n1", "n2", "n3"], vnodes=1)
    after = copy.deepcopy(before)
    after.remove("n1")
    arcs = changed_arcs(before, after)
    assert [old for _, _, old, _ in arcs] == ["n1"]
    share = sum(_length(s, e) for s, e, _, _ in arcs) / CIRCLE
    assert share == pytest.approx(before.arc_shares()["n1"], abs=1e-12)
    # a probe just after each arc's start and at its end changes owner; one past the end does not
    for s, e, old, new in arcs:
        for h in ((s + 1) % CIRCLE, e):
            assert before.owner_of_hash(h) == old and after.owner_of_hash(h) == new
        assert before.owner_of_hash((e + 1) % CIRCLE) == after.owner_of_hash((e + 1) % CIRCLE)


def test_ring_figure_circles_exactly_the_moved_keys_and_colours_keys_by_owner():
    before = Ring(["n1", "n2", "n3", "n4"], vnodes=8)
    after = _join(before)
    fig = ring_figure(after, KEYS, before=before)
    go.Figure(fig.to_dict())                      # built without validation: it must still validate
    hashes = [stable_hash(k) for k in KEYS]
    moved = keys_moved(before, after, hashes)
    assert _trace(fig, f"moved ({moved})") is not None and len(_trace(fig, f"moved ({moved})").x) == moved
    loads = load_stats(after, hashes).loads
    for node in after.nodes:
        assert len(_trace(fig, node).x) == loads[node]
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(bars.y) == [loads[n] for n in after.nodes]
    ticks = [t for t in fig.data if t.name in [f"{n} vnodes" for n in after.nodes]]
    assert sum(len(t.x) for t in ticks) == len(after.points())        # one tick per vnode
    assert fig.to_json() == ring_figure(after, KEYS, before=before).to_json()     # deterministic


def test_ring_summary_counts_moves_against_the_ideal():
    before = Ring(["n1", "n2", "n3", "n4"], vnodes=100)
    after = _join(before)
    text = ring_summary(after, KEYS, before=before)
    moved = keys_moved(before, after, [stable_hash(k) for k in KEYS])
    assert f"n5 joins: {moved} of 600 keys moved" in text
    assert "ideal K/(N+1) = 120" in text and "from n1, n2, n3, n4 to n5" in text
    mod = ModN(["n1", "n2", "n3", "n4"])
    text = ring_summary(_join(mod), KEYS, before=mod)
    assert "arcs" not in text                      # no arcs for mod-N
    moved = int(text.split("n5 joins: ")[1].split(" ")[0])
    assert moved > 400                             # about N/(N+1) = 80 % of the keys


def test_jump_hash_leave_of_a_middle_node_moves_more_than_necessary():
    before = JumpHash(["n1", "n2", "n3", "n4"])
    after = copy.deepcopy(before)
    after.remove("n1")
    line = ring_summary(after, KEYS, before=before).splitlines()[-1]
    moved, necessary = int(line.split(": ")[1].split(" ")[0]), int(line.split("necessary ")[1].split(" ")[0])
    assert moved > necessary


def test_ring_change_panel_shows_bad_values_as_a_message():
    panel = Panel(ring_change, {"nodes": IntControl(4, 1, 12), "vnodes": IntControl(8, 1, 200)})
    assert panel.error_text == "" and panel.runs == 1
    assert "n5 joins" in panel.text
    assert panel.rerun(nodes=1) is True            # a join to one node is fine
    panel.run = lambda **kw: ring_change(change="leave n1", **kw)
    assert panel.rerun(nodes=1) is False
    assert "last member" in panel.error_text
    with pytest.raises(ValueError, match="change must be one of"):
        ring_change(change="split")
    with pytest.raises(ValueError, match="vnodes must be an integer >= 1"):
        ring_change(vnodes=0)
    fig, text = ring_change("rendezvous", change="leave last")
    assert "n4 leaves" in text and "ignores them" in text and isinstance(fig, go.Figure)


def test_load_spread_and_movement_figures_and_summaries():
    loads = {"a": 10, "b": 30, "c": 20}
    assert load_summary(loads) == ("3 nodes, 60 keys, mean 20.0; fullest b 30 (max/mean 1.50), "
                                   "emptiest a 10; CV 0.408")
    go.Figure(load_figure(loads).to_dict())
    rows = imbalance_vs_vnodes((1, 10, 100), nodes=5, keys=2000, trials=2)
    go.Figure(spread_figure(rows).to_dict())
    text = spread_summary(rows)
    assert text.count("\n") == 4 and "fitted: CV of arc shares ~ v^-0." in text
    table = movement_table(("modn", "ring"), nodes=4, keys=2000, trials=1)
    fig = movement_figure(table)
    go.Figure(fig.to_dict())
    assert [t.name for t in fig.data] == ["one node joins", "one node leaves"]
    text = movement_summary(table)
    assert "mod-N" in text and text.count("\n") == 5
    with pytest.raises(ValueError, match="rows must have the keys"):
        spread_figure([{"vnodes": 1}])
    with pytest.raises(ValueError, match="loads must be a non-empty"):
        load_figure({})


def test_migration_figure_lanes_and_handoff_order():
    run = run_sharded(1)
    fig = migration_figure(run)
    go.Figure(fig.to_dict())
    moves = shard_moves(run)
    assert len(moves) == 13
    assert sorted(fig.layout.yaxis2.ticktext) == sorted(f"s{m['shard']}" for m in moves)
    # the correct store names the new owner only after the data has arrived
    assert all(m["sent"] < m["arrived"] < m["map"] for m in moves)
    assert migration_summary(run).endswith("13 handoffs; 0 with the map ahead of the data")
    assert not any(t.name == "map switched before the data arrived" for t in fig.data)


def test_migration_figure_shows_the_broken_map_running_ahead_of_the_data():
    bad = run_sharded(2, broken=True, faults="partition n4 | n1,n2,n3 at 0.85 heal 1.3", keys=8, ops=30)
    moves = shard_moves(bad)
    early = [m for m in moves if m["map"] < m["arrived"]]
    assert early
    fig = migration_figure(bad)
    assert len(_trace(fig, "map switched before the data arrived").x) == len(early)
    assert f"{len(early)} with the map ahead of the data" in migration_summary(bad)
    with pytest.raises(ValueError, match="run must be a ShardedRun"):
        migration_figure(bad.world)
