"""distlib.viz: space-time diagram, describe(), setup(), the control panel, schedule text, progress.

Budget: a few seconds (small worlds, no browser).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from ipywidgets.widgets.widget import _instances

from distlib import viz
from distlib.sim import (
    Annotate,
    Crash,
    Deliver,
    Drop,
    FaultSchedule,
    Node,
    Partition,
    Restart,
    Send,
    Trace,
    World,
    crash,
    cut,
    partition,
)
from distlib.viz import progressbar


@dataclass(frozen=True)
class Ping:
    seq: int


@dataclass(frozen=True)
class Pong:
    seq: int


class Pinger(Node):
    """Every 0.1 s send a Ping to the next peer; answer Pings with Pongs."""

    def on_start(self) -> None:
        self.seq = 0
        self.set_timer("tick", 0.1)

    def on_timer(self, name: str) -> None:
        self.seq += 1
        self.send(self.peers[self.seq % len(self.peers)], Ping(self.seq))
        if self.seq == 5:
            self.annotate("five pings")
        self.set_timer("tick", 0.1)

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, Ping):
            self.send(src, Pong(msg.seq))


def scenario(seed: int = 1, loss: float = 0.1, faults: FaultSchedule | None = None,
             until: float = 5.0, client: bool = False) -> World:
    world = World(seed=seed, latency=(0.01, 0.05), loss=loss)
    world.add_nodes(Pinger, ["n1", "n2", "n3"])
    if faults is None:
        faults = FaultSchedule([crash("n2", at=1.5, restart=3.0),
                                partition(["n1"], ["n2", "n3"], at=2.0, heal=4.0)])
    faults.apply(world)
    if client:
        world.at(0.25, lambda: world.client("c1").send("n1", Ping(99)))
    world.run(until=until)
    return world


@pytest.fixture(scope="module")
def world() -> World:
    return scenario()


def traces_named(fig: go.Figure, name: str) -> list:
    return [t for t in fig.data if t.name == name]


# ---- spacetime ----------------------------------------------------------------------------------
def test_one_lane_per_node_and_client():
    w = scenario(client=True, until=1.0)
    fig = viz.spacetime(w)
    assert list(fig.layout.yaxis.ticktext) == ["n1", "n2", "n3", "c1"]
    assert list(fig.layout.yaxis.tickvals) == [0, 1, 2, 3]
    # A bare Trace: the names in it, in natural order (n2 before n10).
    t = Trace([Send(0.0, 1, "n10", "n2", "x"), Deliver(0.1, 1, "n10", "n2", "x", 0.0)])
    assert list(viz.spacetime(t).layout.yaxis.ticktext) == ["n2", "n10"]
    # nodes= picks and orders lanes; messages to a lane not shown are left out.
    fig2 = viz.spacetime(w, nodes=["n3", "n1"])
    assert list(fig2.layout.yaxis.ticktext) == ["n3", "n1"]
    shown = sum(_heads(t) for t in fig2.data if t.name in ("Ping", "Pong"))
    assert shown == sum(1 for r in w.trace.of(Deliver) if {r.src, r.dst} <= {"n1", "n3"})


def _heads(trace) -> int:
    """Arrowheads drawn by one message trace (one per segment; segment starts have size 0)."""
    return sum(1 for s in trace.marker.size if s > 0)


def test_one_arrow_per_delivered_message(world):
    fig = viz.spacetime(world)
    delivered = world.trace.of(Deliver)
    kinds = {viz.message_kind(r.msg) for r in delivered}
    assert kinds == {"Ping", "Pong"}
    assert sum(_heads(t) for t in fig.data if t.name in kinds) == len(delivered)
    for t in fig.data:
        if t.name in kinds:   # segments are None-separated triples, in one trace per type
            assert len(t.x) == 3 * _heads(t) and t.x[2::3] == (None,) * _heads(t)
    first = delivered[0]
    ping = traces_named(fig, viz.message_kind(first.msg))[0]
    assert (ping.x[0], ping.x[1]) == (first.sent_at, first.time)
    assert repr(first.msg) in ping.text[0]


def test_drops_are_marked_with_their_reason(world):
    fig = viz.spacetime(world)
    by_reason: dict[str, int] = {}
    for r in world.trace.of(Drop):
        by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
    assert {"loss", "partition", "crashed"} <= set(by_reason)
    for reason, count in by_reason.items():
        (marks,) = traces_named(fig, f"dropped ({reason})")
        assert len(marks.x) == count
        assert all(f"({reason})" in text for text in marks.text)
        assert marks.marker.symbol == "x-thin"
    # a message that died at a crashed node is marked on that node's lane, at the time it arrived
    dead = next(r for r in world.trace.of(Drop) if r.reason == "crashed")
    (marks,) = traces_named(fig, "dropped (crashed)")
    assert (dead.time, 1) in set(zip(marks.x, marks.y, strict=True))


def test_partition_band_spans_partition_to_heal(world):
    fig = viz.spacetime(world)
    (band,) = traces_named(fig, "partition")
    assert band.fill == "toself"
    assert min(band.x) == 2.0 and max(band.x) == 4.0
    assert "n1 | n2,n3" in band.text
    calm = viz.spacetime(scenario(faults=FaultSchedule(), until=1.0))
    assert not traces_named(calm, "partition") and not traces_named(calm, "crash")


def test_cut_band_and_unhealed_partition():
    w = scenario(faults=FaultSchedule([cut("n1", "n2", at=0.5, heal=0.8),
                                       partition(["n3"], at=1.0)]), until=1.5)
    fig = viz.spacetime(w)
    (cutband,) = traces_named(fig, "cut link")
    assert (min(cutband.x), max(cutband.x)) == (0.5, 0.8) and "n1→n2" in cutband.text
    (band,) = traces_named(fig, "partition")
    assert min(band.x) == 1.0 and "not healed" in band.text


def test_crash_restart_and_down_segment(world):
    fig = viz.spacetime(world)
    (c,) = traces_named(fig, "crash")
    (r,) = traces_named(fig, "restart")
    (down,) = traces_named(fig, "down")
    crash_rec = world.trace.of(Crash)[0]
    restart_rec = world.trace.of(Restart)[0]
    assert (c.x, c.y) == ((crash_rec.time,), (1,))
    assert (r.x, r.y) == ((restart_rec.time,), (1,))
    assert down.x[:2] == (1.5, 3.0) and down.y[:2] == (1, 1) and down.line.dash == "dash"


def test_figure_passes_plotly_validation(world):
    # spacetime() skips plotly's validation for speed; rebuilding with validation on must accept
    # every property and give the same figure.
    fig = viz.spacetime(world, show_timers=True)
    assert json.loads(go.Figure(fig.to_dict()).to_json()) == json.loads(fig.to_json())


def test_same_trace_same_json_and_no_uids():
    a = viz.spacetime(scenario(seed=7)).to_json()
    b = viz.spacetime(scenario(seed=7)).to_json()
    assert a == b
    assert '"uid"' not in a
    assert a != viz.spacetime(scenario(seed=8)).to_json()


def test_window_timers_annotations_and_bad_arguments(world):
    fig = viz.spacetime(world, t0=1.0, t1=2.0, show_timers=True, title="zoom", height=400)
    assert fig.layout.height == 400 and fig.layout.title.text == "zoom"
    lo, hi = fig.layout.xaxis.range
    assert lo < 1.0 and hi > 2.0 and fig.layout.xaxis.rangeslider.visible
    for t in fig.data:
        if t.name in ("Ping", "Pong"):
            starts, ends = t.x[0::3], t.x[1::3]
            assert all(s <= 2.0 and e >= 1.0 for s, e in zip(starts, ends, strict=True))
    (timers,) = traces_named(fig, "timer")
    assert timers.x and all(1.0 <= x <= 2.0 for x in timers.x)
    assert not traces_named(viz.spacetime(world), "timer")
    (notes,) = traces_named(viz.spacetime(world), "note")
    written = sum(1 for r in world.trace.of(Annotate) if r.text == "five pings")
    assert written >= 3 and sum("five pings" in h for h in notes.hovertext) == written
    assert notes.text.count("five pings") >= 1                       # labelled where there is room
    with pytest.raises(ValueError, match="t1 must be greater than t0"):
        viz.spacetime(world, t0=2, t1=1)
    with pytest.raises(ValueError, match="t0 must be a number >= 0"):
        viz.spacetime(world, t0=-1)
    with pytest.raises(ValueError, match="nodes must"):
        viz.spacetime(world, nodes="n1")
    with pytest.raises(ValueError, match="height must be"):
        viz.spacetime(world, height=10)
    with pytest.raises(ValueError, match="trace must be"):
        viz.spacetime([1, 2])


def test_describe_is_exact_and_deterministic():
    t = Trace([
        Send(0.0, 1, "n1", "n2", "ping"), Deliver(0.01, 1, "n1", "n2", "ping", 0.0),
        Send(0.5, 2, "n1", "n2", "ping"), Drop(0.5, 2, "n1", "n2", "ping", 0.5, "partition"),
        Partition(0.4, (("n1",), ("n2",))), Crash(1.0, "n2"), Crash(1.2, "n1"),
        Send(1.3, 3, "n2", "n1", "x"),
    ])
    assert viz.describe(t) == (
        "time 0.000-1.300 s; lanes: n1, n2\n"
        "messages: 3 sent, 1 delivered, 1 dropped (partition 1), 1 in flight\n"
        "faults: 2 crashes, 1 partition")
    w = scenario()
    assert viz.describe(w) == viz.describe(scenario())
    assert "dropped (loss" in viz.describe(w) and "lanes: n1, n2, n3" in viz.describe(w)


def test_setup_is_idempotent():
    viz.setup()
    viz.setup()
    assert pio.renderers.default == "plotly_mimetype"
    assert pio.templates.default == "rds"
    assert pio.templates["rds"].layout.colorway[0] == "#0072B2"


# ---- the panel ------------------------------------------------------------------------------------
def make_panel() -> tuple[viz.Panel, list]:
    calls: list = []

    def run(seed: int, loss: float, mode: str, faults: FaultSchedule):
        calls.append((seed, loss, mode, faults))
        if mode == "broken":
            raise ZeroDivisionError("division by zero")
        if loss > 0.45:
            raise ValueError("loss above 0.45 makes this scenario meaningless")
        w = scenario(seed=seed, loss=loss, faults=faults, until=1.0)
        return viz.spacetime(w), viz.describe(w)

    panel = viz.Panel(run, {
        "seed": viz.IntControl(1, 0, 20),
        "loss": viz.FloatControl(0.0, 0.0, 0.5, 0.05),
        "mode": viz.ChoiceControl(["normal", "broken"]),
        "faults": viz.ScheduleControl("crash n2 at 0.3 restart 0.6", nodes=["n1", "n2", "n3"]),
    }, title="ping")
    return panel, calls


def _plotly_outputs(panel: viz.Panel) -> list[dict]:
    return [o["data"]["application/vnd.plotly.v1+json"] for o in panel.output.outputs]


def test_panel_runs_redraws_and_passes_parsed_values():
    panel, calls = make_panel()
    assert panel.runs == 1 and calls[0][:3] == (1, 0.0, "normal")
    assert calls[0][3] == FaultSchedule([crash("n2", at=0.3, restart=0.6)])
    assert len(_plotly_outputs(panel)) == 1 and "crash" in panel.text
    first = panel.figure
    assert panel.rerun(seed=2, loss=0.2) is True
    assert panel.runs == 2 and panel.figure is not first
    assert panel.inputs["seed"].value == 2 and panel.inputs["loss"].value == 0.2
    assert "dropped (loss" in panel.summary.value
    # the learner moving a widget reruns too
    panel.inputs["seed"].value = 3
    assert panel.runs == 3 and calls[-1][0] == 3
    assert len(_plotly_outputs(panel)) == 1          # replaced, not appended
    assert isinstance(panel.widget, __import__("ipywidgets").VBox)
    assert panel._repr_mimebundle_()["text/plain"] == "Panel: ping [ok]"


def test_panel_errors_show_a_message_and_keep_the_old_figure():
    panel, _ = make_panel()
    good_fig, good_out = panel.figure, panel.output.outputs
    # a typo in the schedule text box
    panel.inputs["faults"].value = "crash n2 at 0.3; partition n1 | at 2"
    assert "clause 2" in panel.error_text and "expected a node name after '|'" in panel.error_text
    # the compared text/plain says so, so a notebook whose panel defaults fail fails nbval
    assert panel._repr_mimebundle_()["text/plain"].startswith("Panel: ping [error: Invalid value: fault")
    assert "clause 2" in panel.error.value and "Traceback" not in panel.error.value
    assert panel.figure is good_fig and panel.output.outputs is good_out
    # a ValueError from the scenario itself
    panel.inputs["faults"].value = ""
    assert panel.error_text == "" and panel.error.value == ""
    ok_fig = panel.figure
    assert ok_fig is not good_fig
    panel.inputs["loss"].value = 0.5
    assert panel.error_text == "Invalid value: loss above 0.45 makes this scenario meaningless"
    assert panel.figure is ok_fig
    # any other exception: a message, not a traceback
    panel.rerun(loss=0.0, mode="broken")
    assert panel.error_text == "The scenario failed: ZeroDivisionError: division by zero"
    assert panel.figure is ok_fig
    # out-of-range values from code are refused before running, and name the range
    assert panel.rerun(seed=99) is False
    assert "seed must be an integer in 0..20 (got 99)" in panel.error_text
    assert panel.inputs["seed"].value != 99
    with pytest.raises(ValueError, match="unknown control"):
        panel.rerun(sed=1)
    assert panel.rerun(mode="normal") is True and panel.error_text == ""


def test_controls_reject_bad_declarations():
    with pytest.raises(ValueError, match="default must be an integer in"):
        viz.IntControl(5, 0, 3)
    with pytest.raises(ValueError, match="default must be a number in"):
        viz.FloatControl(2.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="default must be one of"):
        viz.ChoiceControl(["a", "b"], default="c")
    with pytest.raises(ValueError, match="clause 1"):
        viz.ScheduleControl("crash at 1")
    with pytest.raises(ValueError, match="controls must be"):
        viz.Panel(lambda: None, {"x": 3})


# ---- schedule text -------------------------------------------------------------------------------
def test_schedule_text_parses_the_documented_example():
    s = viz.parse_schedule("crash n2 at 1.5 restart 3; partition n1 | n2,n3 at 2 heal 4; "
                           "pause n1 at 1 until 2; cut n1->n2 at 1")
    assert s.describe() == ("crash n2 at 1.5, restart at 3; partition n1 | n2,n3 at 2, heal at 4; "
                            "pause n1 at 1 until 2; cut n1->n2 at 1")
    assert viz.parse_schedule("") == FaultSchedule() == viz.parse_schedule("no faults")
    assert viz.parse_schedule("crash n1 at 1\n\ncut n1 -> n2 at 2 heal at 3") == FaultSchedule(
        [crash("n1", at=1), cut("n1", "n2", at=2, heal=3)])


@pytest.mark.parametrize("seed", range(12))
def test_schedule_text_round_trips(seed):
    s = FaultSchedule.random(seed, ["n1", "n2", "n3", "n4"], horizon=5.0, faults=5,
                             kinds=("crash", "crash-stop", "partition", "pause", "cut"))
    assert viz.parse_schedule(viz.format_schedule(s)) == s
    assert viz.parse_schedule(s.describe()) == s
    exact = FaultSchedule([crash("n1", at=0.1 + 0.2, restart=1 / 3)])
    assert viz.parse_schedule(viz.format_schedule(exact)) == exact


@pytest.mark.parametrize("text, fragment", [
    ("crsh n2 at 1", "unknown fault 'crsh'; a clause starts with one of crash, partition, pause, cut; "
                     "did you mean 'crash'?"),
    ("crash n2 1.5", "clause 1 ('crash n2 1.5'): expected 'at' after 'crash n2' but found '1.5'"),
    ("crash n1 at 1; crash n2 at", "clause 2 ('crash n2 at'): expected a time"),
    ("partition n1 | at 2", "expected a node name after '|' but found 'at'"),
    ("pause n1 at 2", "expected 'until' or 'resume' followed by a time"),
    ("cut n1 n2 at 1", "expected '->' after 'cut n1'"),
    ("crash n9 at 1", "unknown node 'n9'; the nodes are n1, n2, n3"),
    ("crash n2 at 3 restart 1", "restart must be a number >= 3 (got 1.0)"),
    ("crash n2 at -1", "times must be numbers >= 0 (got '-1')"),
    ("crash n2 at 1 now", "unexpected 'now' (the clause should end here)"),
    ("partition n1,n2 | n2 at 1", "node 'n2' appears in two groups"),
    ("cut n1->n1 at 1", "cut needs two different nodes"),
])
def test_schedule_text_rejects_bad_text_pointedly(text, fragment):
    with pytest.raises(ValueError) as err:
        viz.parse_schedule(text, nodes=["n1", "n2", "n3"])
    assert fragment in str(err.value)
    assert str(err.value).startswith("fault schedule, clause ")


# ---- progress -------------------------------------------------------------------------------------
def test_progress_text_bar_and_silence(capsys):
    out = io.StringIO()
    assert list(viz.progress(range(5), desc="sweep", file=out)) == [0, 1, 2, 3, 4]
    assert out.getvalue().endswith("\rsweep |" + "#" * 30 + "| 5/5\n")
    out = io.StringIO()
    assert list(viz.progress((i for i in range(3)), file=out)) == [0, 1, 2]
    assert out.getvalue().endswith(" 3 done\n")
    # not a kernel, not a terminal (pytest captures stderr): nothing is written at all
    assert list(viz.progress([1, 2])) == [1, 2]
    assert capsys.readouterr() == ("", "")
    with pytest.raises(ValueError, match="total must be"):
        list(viz.progress([1], total=-1))


def test_progress_widget_in_a_kernel(monkeypatch):
    shown: list = []
    monkeypatch.setattr(progressbar, "in_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    assert list(viz.progress(range(250), desc="seeds")) == list(range(250))
    ((bundle, raw),) = shown
    assert raw and bundle["text/plain"] == "progress: seeds"     # fixed text: nbval-safe
    model = bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    bar, label = _instances[model].children
    assert (bar.value, bar.max, bar.bar_style, label.value) == (250, 250, "success", "250/250")
    # stopping early leaves the bar where it got to, marked as unfinished
    shown.clear()
    for i in viz.progress(range(10), desc="early"):
        if i == 3:
            break
    bar, label = _instances[shown[0][0]["application/vnd.jupyter.widget-view+json"]["model_id"]].children
    assert (bar.value, bar.bar_style, label.value) == (3, "warning", "3/10")   # items 0-2 finished
    json.dumps(bundle)
