"""The Raft view: role, term, log and commit index of every server over time, with a time scrubber.

RaftScope (Ongaro's browser visualization) shows the cluster *now*. This view shows the whole run
at once and lets you scrub through it:

* **top** — one lane per server; a coloured band per stretch of time in one role (follower grey,
  candidate orange, leader blue, down vermillion), labelled with the term where the term changes;
* **middle** — the commit index of every server over time (a lagging follower is a lower step);
* **bottom** — the logs at the scrubbed time: one box per entry, coloured by its term (and labelled
  with it), entries above the commit index paler, a black bar after the commit index, compacted
  entries (§7 snapshot) grey. A slider moves the time; a dotted cursor shows it above.

Record first, draw after::

    rec = RaftRecorder()
    run = leader_crash(monitors=[rec])          # or: rec.install(world); world.run(...)
    raft_view(rec).show()
    print(raft_summary(rec))

:class:`RaftRecorder` is a ``world.add_monitor`` callback: after every event it reads each node's
public state (``role``, ``storage``, ``commit_index``, the world's up/crashed/paused status) and
stores a snapshot only when something changed. The figure is a pure function of the recording:
same run, same JSON.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from distlib.sim import World
from distlib.sim.validate import integer

from . import theme
from .spacetime import _natural_key

ROLE_COLORS = {
    "follower": "#CFCFCF",
    "candidate": "#E69F00",
    "leader": "#0072B2",
    "down": theme.FAULT,
    "paused": "#F0C987",
}
# Terms cycle through these (Okabe-Ito minus vermillion, which means "fault").
TERM_COLORS = ("#56B4E9", "#009E73", "#CC79A7", "#E69F00", "#0072B2", "#B8A200", "#000000", "#999999")
SNAPSHOT_COLOR = "#DDDDDD"


@dataclass(frozen=True)
class NodeState:
    """What the view knows of one server at one moment."""

    role: str                      # follower | candidate | leader | down | paused
    term: int
    log_terms: tuple[int, ...]     # terms of the entries after the snapshot
    snap_index: int                # entries 1..snap_index are compacted into a snapshot (§7)
    commit: int | None             # None while down (commitIndex is volatile)

    @property
    def last_index(self) -> int:
        return self.snap_index + len(self.log_terms)


def _term_color(term: int) -> str:
    return TERM_COLORS[(term - 1) % len(TERM_COLORS)] if term > 0 else "#BBBBBB"


def _read(world: World, name: str) -> NodeState:
    node = world.nodes[name]
    status = world.status[name]
    storage = node.storage
    log = storage.get("log", [])
    snap = storage.get("snapshot")
    snap_index = getattr(snap, "last_index", 0) if snap is not None else 0
    terms = tuple(e.term for e in log)
    term = storage.get("current_term", 0)
    if status == "crashed":
        return NodeState("down", term, terms, snap_index, None)
    role = getattr(node, "role", "follower")
    if status == "paused":
        role = "paused"
    return NodeState(role, term, terms, snap_index, getattr(node, "commit_index", 0))


class RaftRecorder:
    """A world monitor that stores ``(time, {node: NodeState})`` whenever any node's state changed.

    Install with ``rec.install(world)`` or pass it in a scenario's ``monitors=[rec]``.
    ``changes`` is the list of snapshots, in time order (several may share a time).
    """

    def __init__(self) -> None:
        self.changes: list[tuple[float, dict[str, NodeState]]] = []
        self.world: World | None = None
        self._last: dict[str, NodeState] = {}

    def install(self, world: World) -> RaftRecorder:
        world.add_monitor(self)
        return self

    def __call__(self, world: World) -> None:
        if self.world is None:
            self.world = world
        elif world is not self.world:
            raise ValueError("a RaftRecorder records one world; make a new recorder per run")
        states = {name: _read(world, name) for name in world.nodes}
        if states != self._last:
            self._last = states
            if self.changes and self.changes[-1][0] == world.now:
                self.changes[-1] = (world.now, states)     # keep the last state of an instant
            else:
                self.changes.append((world.now, states))

    # ---- queries ------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        names = self.changes[-1][1] if self.changes else {}
        return sorted(names, key=_natural_key)

    @property
    def end(self) -> float:
        """The time the run reached (the world's clock), or the last change."""
        last = self.changes[-1][0] if self.changes else 0.0
        return max(last, self.world.now) if self.world is not None else last

    def state_at(self, t: float) -> dict[str, NodeState]:
        """The cluster as it was at time ``t`` (after every event at ``t``)."""
        if not self.changes:
            raise ValueError("the recorder saw no events: install it before running the world")
        times = [c[0] for c in self.changes]
        k = bisect.bisect_right(times, t) - 1
        return self.changes[max(k, 0)][1]

    def leaders(self) -> list[tuple[float, int, str]]:
        """(time, term, node) each time a node became leader."""
        out, was = [], {}
        for t, states in self.changes:
            for name in sorted(states, key=_natural_key):
                s = states[name]
                key = (s.role, s.term)
                if s.role == "leader" and was.get(name) != key:
                    out.append((t, s.term, name))
                was[name] = key
        return out


def _check_recorder(recorder: Any) -> RaftRecorder:
    if not isinstance(recorder, RaftRecorder):
        raise ValueError(f"recorder must be a RaftRecorder (got {type(recorder).__name__})")
    if not recorder.changes:
        raise ValueError("the recorder saw no events: install it before running the world")
    return recorder


# ---- picking scrubber times -------------------------------------------------------------------
def step_times(recorder: RaftRecorder, max_steps: int = 40) -> list[float]:
    """At most ``max_steps`` times to scrub through: role/term/up-down changes first, then an even grid.

    Deterministic, sorted, always including the end of the run.
    """
    integer("max_steps", max_steps, 2, 200)
    rec = _check_recorder(recorder)
    end = rec.end
    major: list[float] = []
    prev: dict[str, tuple] = {}
    for t, states in rec.changes:
        key = {n: (s.role, s.term) for n, s in states.items()}
        if key != prev:
            major.append(t)
        prev = key
    picks = {end}
    budget = max_steps - 1
    if len(major) > budget // 2:   # keep half the budget for an even grid
        k = budget // 2
        major = [major[round(i * (len(major) - 1) / max(k - 1, 1))] for i in range(k)]
    picks.update(major)
    grid = max_steps - len(picks)
    for i in range(grid):
        picks.add(round(end * i / max(grid, 1), 6))
    out = sorted(picks)
    while len(out) > max_steps:     # rounding collisions aside, trim evenly
        out.pop(len(out) // 2)
    return out


# ---- the figure ---------------------------------------------------------------------------------
def _fmt(t: float) -> str:
    return f"{t:.3f}"


def _log_trace(states: dict[str, NodeState], lanes: list[str], window: int, box: float) -> list[dict]:
    """The two scatter traces of the log panel (boxes, commit bars) for one moment."""
    xs, ys, colors, texts, hovers, opac = [], [], [], [], [], []
    cx, cy, ctext = [], [], []
    for name in lanes:
        s = states[name]
        first = max(1, s.last_index - window + 1)
        for index in range(first, s.last_index + 1):
            xs.append(index)
            ys.append(name)
            if index <= s.snap_index:
                colors.append(SNAPSHOT_COLOR)
                texts.append("s")
                hovers.append(f"{name} index {index}: in the snapshot (compacted, §7)")
                opac.append(1.0)
                continue
            term = s.log_terms[index - s.snap_index - 1]
            committed = s.commit is not None and index <= s.commit
            colors.append(_term_color(term))
            texts.append(str(term) if box >= 13 else "")
            hovers.append(f"{name} index {index}: term {term}, "
                          f"{'committed' if committed else 'not committed (as far as ' + name + ' knows)'}")
            opac.append(1.0 if committed else 0.38)
        if s.commit is not None and s.commit >= first - 1:
            cx.append(s.commit + 0.5)
            cy.append(name)
            ctext.append(f"{name} commitIndex = {s.commit}")
    boxes = dict(type="scatter", x=xs, y=ys, mode="markers+text", text=texts, hovertext=hovers,
                 hoverinfo="text", textfont=dict(size=max(8, int(box * 0.55)), color="white"),
                 marker=dict(symbol="square", size=box, color=colors, opacity=opac,
                             line=dict(width=1, color="white")),
                 name="log entry (colour = term)", showlegend=False, xaxis="x2", yaxis="y3")
    bars = dict(type="scatter", x=cx, y=cy, mode="markers", hovertext=ctext, hoverinfo="text",
                marker=dict(symbol="line-ns", size=box + 4, line=dict(width=3, color="#000000")),
                name="commit index", showlegend=False, xaxis="x2", yaxis="y3")
    return [boxes, bars]


def raft_view(recorder: RaftRecorder, *, title: str | None = None, max_steps: int = 40,
              log_window: int = 40, at: float | None = None) -> go.Figure:
    """The Raft view of a recorded run (see the module docstring).

    ``max_steps`` bounds the scrubber's steps (each a plotly frame); ``log_window`` shows at most
    that many of the latest entries per log; ``at`` is the time shown first (default: the end).
    """
    rec = _check_recorder(recorder)
    integer("log_window", log_window, 1, 500)
    lanes = rec.nodes
    end = rec.end
    if at is not None and (isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 <= at <= end):
        raise ValueError(f"at must be a time in [0, {end:g}] (got {at!r})")
    times = step_times(rec, max_steps)
    start = end if at is None else float(at)
    if start not in times:
        times = sorted(times[:-1] + [start]) if len(times) >= max_steps else sorted(times + [start])
    span = end if end > 0 else 1.0
    n = len(lanes)
    all_states = [s for _, states in rec.changes for s in states.values()]
    longest = max((s.last_index for s in all_states), default=1)
    shown = max(1, min(longest, log_window))
    box = float(max(7, min(22, 820 // (shown + 1))))

    traces: list[dict] = []
    # -- role bands: one filled trace per role (rectangles separated by None) ----------------------
    bands: dict[str, tuple[list, list, list]] = {r: ([], [], []) for r in ROLE_COLORS}
    labels_x, labels_y, labels_t = [], [], []
    for name in lanes:
        segs: list[tuple[float, float, NodeState]] = []
        for t, states in rec.changes:
            s = states.get(name)
            if s is None:
                continue
            if segs and (segs[-1][2].role, segs[-1][2].term) == (s.role, s.term):
                continue
            if segs:
                segs[-1] = (segs[-1][0], t, segs[-1][2])
            segs.append((t, end, s))
        last_label = -1.0
        prev_term = None
        for t0, t1, s in segs:
            xs, ys, hs = bands[s.role]
            lo, hi = (n - 1 - lanes.index(name)) - 0.32, (n - 1 - lanes.index(name)) + 0.32
            xs += [t0, t1, t1, t0, t0, None]
            ys += [lo, lo, hi, hi, lo, None]
            h = f"{name} {s.role}, term {s.term}<br>{_fmt(t0)}–{_fmt(t1)} s"
            hs += [h] * 5 + [None]
            if (s.term != prev_term and s.term > 0 and s.role != "down"
                    and t0 - last_label >= span / 45):
                labels_x.append(t0)
                labels_y.append(n - 1 - lanes.index(name))
                labels_t.append(f"t{s.term}")
                last_label = t0
            prev_term = s.term
    for role, (xs, ys, hs) in bands.items():
        if not xs:
            continue
        traces.append(dict(type="scatter", x=xs, y=ys, fill="toself", mode="lines",
                           line=dict(width=0.5, color=ROLE_COLORS[role]), fillcolor=ROLE_COLORS[role],
                           hoveron="fills+points", text=hs, hoverinfo="text", name=role,
                           xaxis="x", yaxis="y"))
    traces.append(dict(type="scatter", x=labels_x, y=labels_y, mode="text", text=labels_t,
                       textposition="middle right", textfont=dict(size=11, color="#111111"),
                       hoverinfo="skip", showlegend=False, xaxis="x", yaxis="y"))
    # -- commit index over time -----------------------------------------------------------------------
    dashes = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
    for k, name in enumerate(lanes):
        xs, ys = [], []
        for t, states in rec.changes:
            s = states.get(name)
            if s is None:
                continue
            xs.append(t)
            ys.append(s.commit)
        xs.append(end)
        ys.append(ys[-1] if ys else None)
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", line_shape="hv",
                           line=dict(width=2, color="#333333" if k % 2 == 0 else "#0072B2",
                                     dash=dashes[k % len(dashes)]),
                           name=f"commit {name}", legendgroup="commit", showlegend=False,
                           hovertemplate=f"{name} commitIndex %{{y}} at %{{x:.3f}} s<extra></extra>",
                           xaxis="x", yaxis="y2"))
    # -- cursor (in the lanes and the commit plot) and the log panel: these change per frame ----------
    top_commit = max((s.commit or 0 for s in all_states), default=0)

    def dynamic(t: float) -> list[dict]:
        states = rec.state_at(t)
        cur_lanes = dict(type="scatter", x=[t, t], y=[-0.6, n - 0.4], mode="lines",
                         line=dict(color="#000000", width=1.5, dash="dot"), hoverinfo="skip",
                         showlegend=False, xaxis="x", yaxis="y")
        cur_commit = dict(type="scatter", x=[t, t], y=[0, max(top_commit, 1)], mode="lines",
                          line=dict(color="#000000", width=1.5, dash="dot"), hoverinfo="skip",
                          showlegend=False, xaxis="x", yaxis="y2")
        return [cur_lanes, cur_commit] + _log_trace(states, lanes, log_window, box)

    first_dynamic = len(traces)
    traces += dynamic(start)
    dyn_idx = list(range(first_dynamic, len(traces)))
    # Legend swatches for terms seen (the log boxes themselves carry no legend entries).
    terms_seen = sorted({t for s in all_states for t in s.log_terms})
    for term in terms_seen[:12]:
        traces.append(dict(type="scatter", x=[None], y=[None], mode="markers", name=f"term {term}",
                           marker=dict(symbol="square", size=11, color=_term_color(term)),
                           xaxis="x", yaxis="y2", hoverinfo="skip"))

    def state_title(t: float) -> str:
        states = rec.state_at(t)
        lead = [f"{nm} (t{states[nm].term})" for nm in lanes if states[nm].role == "leader"]
        return f"logs at t = {_fmt(t)} s · leader: {', '.join(lead) or 'none'}"

    # The scrubber: one slider step per time, each an "update" of the four dynamic traces. (Plotly
    # frames would do the same, but plotly.py re-validates every frame: 4x slower to build.)
    def step(t: float) -> dict:
        cur_l, cur_c, boxes, bars = dynamic(t)
        data = {
            "x": [cur_l["x"], cur_c["x"], boxes["x"], bars["x"]],
            "y": [cur_l["y"], cur_c["y"], boxes["y"], bars["y"]],
            "text": [None, None, boxes["text"], None],
            "hovertext": [None, None, boxes["hovertext"], bars["hovertext"]],
            "marker.color": [None, None, boxes["marker"]["color"], None],
            "marker.opacity": [None, None, boxes["marker"]["opacity"], None],
        }
        return dict(method="update", label=_fmt(t),
                    args=[data, {"annotations[0].text": state_title(t)}, dyn_idx])

    steps = [step(t) for t in times]
    lane_h, log_h, commit_h = 34 * n, 30 * n + 20, 150
    height = 140 + lane_h + commit_h + log_h + 120
    total = lane_h + commit_h + log_h + 120
    # Domains from the bottom: log panel, gap, commit plot, gap, lanes.
    g = 60 / total
    d_log = (0.0, log_h / total)
    d_commit = (d_log[1] + g, d_log[1] + g + commit_h / total)
    d_lanes = (d_commit[1] + g / 2, 1.0)
    lo_idx = 0.5
    hi_idx = longest + 1.0
    if longest > log_window:
        lo_idx = longest - log_window + 0.5
    layout = dict(
        title=dict(text=title or "Raft: roles and terms, commit index, logs", y=0.985, yanchor="top"),
        height=height,
        margin=dict(l=60, r=20, t=100, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0.0, entrywidth=80,
                    traceorder="normal"),
        hovermode="closest",
        xaxis=dict(domain=[0, 1], range=[0, end * 1.01 if end else 1], anchor="y2",
                   title=dict(text="time (s)", standoff=4), showgrid=False),
        yaxis=dict(domain=list(d_lanes), range=[-0.6, n - 0.4], tickvals=list(range(n)),
                   ticktext=list(reversed(lanes)), showgrid=False, zeroline=False, fixedrange=True),
        yaxis2=dict(domain=list(d_commit), anchor="x", title=dict(text="commitIndex"),
                    rangemode="tozero", zeroline=False),
        xaxis2=dict(domain=[0, 1], anchor="y3", range=[lo_idx, hi_idx], title=dict(text="log index",
                    standoff=2), dtick=1 if (hi_idx - lo_idx) <= 30 else 5, showgrid=False,
                    zeroline=False),
        yaxis3=dict(domain=list(d_log), type="category", categoryorder="array",
                    categoryarray=list(reversed(lanes)), fixedrange=True, showgrid=False),
        annotations=[_panel_note(state_title(start), d_log[1])],
        sliders=[dict(active=times.index(start), steps=steps, x=0.0, len=1.0, y=0, yanchor="top",
                      pad=dict(t=36, b=4), currentvalue=dict(prefix="t = ", suffix=" s"))],
    )
    # Skip plotly's per-value validation (most of the build time); tests rebuild with validation on.
    return go.Figure(data=traces, layout=layout, _validate=False)


def _panel_note(text: str, y: float) -> dict:
    return dict(text=text, xref="paper", yref="paper", x=0.0, y=y, xanchor="left", yanchor="bottom",
                showarrow=False, font=dict(size=13), name="log-title")


# ---- the text twin ---------------------------------------------------------------------------------
def _runs(terms: Sequence[int]) -> str:
    out: list[str] = []
    for t in terms:
        if out and out[-1].split("×")[0] == f"t{t}":
            head, cnt = out[-1].split("×")
            out[-1] = f"{head}×{int(cnt) + 1}"
        else:
            out.append(f"t{t}×1")
    return " ".join(out) or "empty"


def raft_summary(recorder: RaftRecorder, *, at: float | None = None) -> str:
    """A short deterministic text twin of :func:`raft_view` (print it under the figure)."""
    rec = _check_recorder(recorder)
    t = rec.end if at is None else at
    states = rec.state_at(t)
    lines = [f"raft view: {len(rec.nodes)} servers, 0-{_fmt(rec.end)} s, {len(rec.changes)} recorded "
             f"states, {len(step_times(rec))} scrubber steps"]
    leaders = rec.leaders()
    lines.append("leaders: " + (", ".join(f"t{term} {name}@{_fmt(tt)}s" for tt, term, name in leaders)
                                or "none"))
    lines.append(f"at t={_fmt(t)} s:")
    for name in rec.nodes:
        s = states[name]
        snap = f"snapshot≤{s.snap_index} + " if s.snap_index else ""
        commit = "?" if s.commit is None else str(s.commit)
        lines.append(f"  {name:<4} {s.role:<9} term {s.term:<3} commit {commit:>3}/{s.last_index:<3} "
                     f"log {snap}{_runs(s.log_terms)}")
    return "\n".join(lines)


__all__ = ["NodeState", "RaftRecorder", "raft_summary", "raft_view", "step_times"]
