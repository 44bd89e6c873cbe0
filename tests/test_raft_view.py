"""The Raft view (distlib.viz.raft_view): recorder, figure, scrubber, text twin. Budget: < 10 s."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from distlib.consensus.raft import figure8, leader_crash, make_cluster, split_vote
from distlib.viz.raft_view import RaftRecorder, raft_summary, raft_view, step_times


@pytest.fixture(scope="module")
def crash_run():
    rec = RaftRecorder()
    run = leader_crash(seed=1, monitors=[rec])
    return run, rec


def _trace(fig: go.Figure, name: str) -> go.Scatter:
    return next(t for t in fig.data if t.name == name)


def _lane_y(fig: go.Figure, node: str) -> int:
    return list(fig.layout.yaxis.ticktext).index(node)


def test_one_lane_per_node(crash_run):
    run, rec = crash_run
    fig = raft_view(rec)
    assert sorted(fig.layout.yaxis.ticktext) == sorted(run.world.nodes)
    assert list(fig.layout.yaxis3.categoryarray) == list(reversed(rec.nodes))
    # every lane is covered by role bands from time 0 to the end
    ys = [y for t in fig.data if t.fill == "toself" for y in t.y if y is not None]
    for node in rec.nodes:
        lane = _lane_y(fig, node)
        assert any(abs(y - lane) < 0.5 for y in ys), node


def test_leader_band_after_election(crash_run):
    run, rec = crash_run
    fig = raft_view(rec)
    leaders = run.leaders()
    assert leaders and rec.leaders() == [(t, term, n) for t, term, n in leaders]
    band = _trace(fig, "leader")
    for t_won, _term, node in leaders:
        lane = _lane_y(fig, node)
        xs = [x for x, y in zip(band.x, band.y, strict=True) if y is not None and abs(y - lane) < 0.5]
        assert xs and min(xs) == pytest.approx(t_won), (node, t_won)
    # the crashed leader has a "down" band from the crash to the restart
    down = _trace(fig, "down")
    assert min(x for x in down.x if x is not None) == pytest.approx(1.0)
    assert max(x for x in down.x if x is not None) == pytest.approx(2.0)


def test_log_boxes_match_log_lengths(crash_run):
    run, rec = crash_run
    fig = raft_view(rec, log_window=500)
    boxes = _trace(fig, "log entry (colour = term)")
    for node in run.world.nodes.values():
        assert sum(1 for y in boxes.y if y == node.id) == node.last_index
    # colour = term, and the term is written in the box
    final = rec.state_at(rec.end)
    assert list(boxes.text[:final["n1"].last_index]) == [str(t) for t in final["n1"].log_terms]
    # the commit bar sits just after each node's commit index
    bars = _trace(fig, "commit index")
    assert sorted(zip(bars.y, bars.x, strict=True)) == sorted((n, s.commit + 0.5) for n, s in final.items())


def test_log_window_limits_boxes(crash_run):
    _run, rec = crash_run
    fig = raft_view(rec, log_window=5)
    boxes = _trace(fig, "log entry (colour = term)")
    assert len(boxes.x) == 5 * len(rec.nodes)


def test_json_is_deterministic_and_valid():
    def build() -> go.Figure:
        rec = RaftRecorder()
        figure8(broken=True, monitors=[rec])
        return raft_view(rec)
    a, b = build(), build()
    assert a.to_json() == b.to_json()
    go.Figure(a.to_dict())          # raft_view skips validation for speed: a validated rebuild must pass


def test_scrubber_steps_show_state_at_their_time(crash_run):
    _run, rec = crash_run
    fig = raft_view(rec, max_steps=30)
    steps = fig.layout.sliders[0].steps
    assert 2 <= len(steps) <= 30
    times = [s.args[0]["x"][0][0] for s in steps]
    assert times == sorted(times) and times[-1] == pytest.approx(rec.end)
    assert fig.layout.sliders[0].active == len(steps) - 1
    dyn = list(steps[0].args[2])
    for step in steps:
        data, layout, idx = step.args
        assert list(idx) == dyn and all(len(v) == len(dyn) for v in data.values())
        t = data["x"][0][0]                                # the cursor is at the step's time
        assert data["x"][0] == [t, t] and float(step.label) == pytest.approx(t, abs=5e-4)
        states = rec.state_at(t)
        assert len(data["x"][2]) == sum(min(s.last_index, 40) for s in states.values())
        leaders = [n for n, s in states.items() if s.role == "leader"]
        assert ("leader: none" in layout["annotations[0].text"]) == (not leaders)


def test_step_times_keep_role_changes():
    rec = RaftRecorder()
    split_vote(seed=3, monitors=[rec])
    times = step_times(rec, 60)
    assert len(times) <= 60
    (t_won, _term, _node), = rec.leaders()
    assert t_won in times


def test_recorder_stores_changes_only():
    rec = RaftRecorder()
    world = make_cluster(3, seed=4)
    rec.install(world)
    world.run(until=2.0)
    states = [s for _, s in rec.changes]
    assert all(a != b for a, b in zip(states, states[1:], strict=False))
    times = [t for t, _ in rec.changes]
    assert len(set(times)) == len(times)
    # an idle cluster with a leader sending heartbeats: far fewer states than events
    assert len(rec.changes) < 40
    assert rec.state_at(2.0) == {n: s for n, s in rec.changes[-1][1].items()}


def test_summary_text(crash_run):
    run, rec = crash_run
    text = raft_summary(rec)
    assert text == raft_summary(rec)
    assert "leaders: t1 n2@0.183s, t2 n5@1.196s" in text
    assert "n5   leader" in text
    early = raft_summary(rec, at=1.5)
    assert "n2   down" in early and "commit   ?" in early


def test_bad_input():
    rec = RaftRecorder()
    with pytest.raises(ValueError, match="no events"):
        raft_view(rec)
    with pytest.raises(ValueError, match="recorder must be a RaftRecorder"):
        raft_view(object())
    leader_crash(seed=1, monitors=[rec], until=0.5)
    with pytest.raises(ValueError, match="max_steps must be an integer in"):
        raft_view(rec, max_steps=1)
    with pytest.raises(ValueError, match="log_window"):
        raft_view(rec, log_window=0)
    with pytest.raises(ValueError, match="at must be a time in"):
        raft_view(rec, at=9.0)
    other = make_cluster(3, seed=0)
    with pytest.raises(ValueError, match="one world"):
        rec(other)
