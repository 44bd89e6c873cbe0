"""The Lamport space-time diagram of a trace, and a short text description of it.

Lamport, "Time, Clocks, and the Ordering of Events in a Distributed System"
(1978), Fig. 1: one line per process, time along it, an arrow per message.
Here time runs left to right and each node (and client) gets a horizontal lane.

Performance: everything of one kind goes into *one* scatter trace with ``None``
separators between segments (one trace per message type, not per message), and
no ``fig.add_annotation`` per message: a few thousand messages stay fast to
build, serialize and draw.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from distlib.sim import (
    Annotate,
    Crash,
    Cut,
    Deliver,
    Drop,
    Duplicate,
    Heal,
    Partition,
    Pause,
    Restart,
    Resume,
    Send,
    Timer,
    Trace,
    World,
)
from distlib.sim.validate import number

from . import theme

DROP_REASONS = ("loss", "partition", "cut", "crashed")
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,23}$")


# ---- helpers -----------------------------------------------------------------------------------
def _natural_key(name: str) -> tuple:
    """"n2" < "n10": split digits out so lanes are ordered the way people count."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def message_kind(msg: Any) -> str:
    """The legend/colour category of a message: its class name, or the tag of a tagged tuple/str.

    ``Prepare(tx=1)`` -> ``"Prepare"``; ``"ping"`` -> ``"ping"``; ``("vote", 3)`` -> ``"vote"``.
    """
    if isinstance(msg, str):
        return msg if _WORD.match(msg) else "str"
    if isinstance(msg, tuple) and msg and isinstance(msg[0], str) and _WORD.match(msg[0]):
        return msg[0]
    if isinstance(msg, dict) and isinstance(msg.get("type"), str) and _WORD.match(msg["type"]):
        return msg["type"]
    return type(msg).__name__


def _esc(text: str, width: int = 90, limit: int = 600) -> str:
    """Escape for plotly hover labels (which render a little HTML) and wrap long reprs."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    chunks = [text[i:i + width] for i in range(0, len(text), width)] or [""]
    return "<br>".join(html.escape(c, quote=False) for c in chunks)


def _unpack(trace: Trace | World) -> tuple[Trace, list[str] | None]:
    if isinstance(trace, World):
        return trace.trace, list(trace.nodes) + list(trace.clients)
    if isinstance(trace, Trace):
        return trace, None
    raise ValueError(f"trace must be a distlib.sim.Trace or World (got {type(trace).__name__})")


def _names_in(trace: Trace) -> list[str]:
    seen: dict[str, None] = {}
    for r in trace:
        if isinstance(r, (Send, Deliver, Drop, Duplicate, Cut)):
            seen[r.src] = None
            seen[r.dst] = None
        elif isinstance(r, (Timer, Crash, Restart, Pause, Resume)):
            seen[r.node] = None
        elif isinstance(r, Annotate) and r.node is not None:
            seen[r.node] = None
        elif isinstance(r, Partition):
            for g in r.groups:
                for n in g:
                    seen[n] = None
    return sorted(seen, key=_natural_key)


def _lanes(trace: Trace, default: list[str] | None, nodes: Sequence[str] | None) -> list[str]:
    if nodes is None:
        if default is not None:
            extra = [n for n in _names_in(trace) if n not in default]
            return default + extra
        return _names_in(trace)
    if isinstance(nodes, str) or not all(isinstance(n, str) for n in nodes):
        raise ValueError(f"nodes must be a list of node names (got {nodes!r})")
    lanes = list(nodes)
    if not lanes:
        raise ValueError("nodes must name at least one node")
    if len(set(lanes)) != len(lanes):
        raise ValueError(f"nodes must not repeat a name (got {lanes!r})")
    return lanes


def _check_time(name: str, value: float | None) -> float | None:
    return None if value is None else number(name, value)


def _f(t: float) -> str:
    return f"{t:.4f}"


def _scatter(**props: Any) -> dict[str, Any]:
    return dict(type="scatter", **props)


class _Lines:
    """Accumulates many segments/points for one scatter trace (None-separated)."""

    __slots__ = ("x", "y", "text", "size")

    def __init__(self) -> None:
        self.x: list[float | None] = []
        self.y: list[float | None] = []
        self.text: list[str | None] = []
        self.size: list[float] = []

    def segment(self, x0: float, y0: float, x1: float, y1: float, text: str, head: float = 0.0) -> None:
        self.x += [x0, x1, None]
        self.y += [y0, y1, None]
        self.text += [text, text, None]
        self.size += [0.0, head, 0.0]

    def point(self, x: float, y: float, text: str) -> None:
        self.x.append(x)
        self.y.append(y)
        self.text.append(text)

    def __bool__(self) -> bool:
        return bool(self.x)


# ---- the figure --------------------------------------------------------------------------------
def spacetime(trace: Trace | World, *, nodes: Sequence[str] | None = None, title: str | None = None,
              t0: float | None = None, t1: float | None = None, show_timers: bool = False,
              height: int | None = None) -> go.Figure:
    """A space-time diagram of ``trace`` (a :class:`~distlib.sim.Trace`, or a World for its trace).

    One lane per node and client (``nodes`` picks and orders them); an arrow per
    delivered message, coloured by message type; a red X where a dropped message
    died (hover: the reason); crashes with a dashed "down" segment until restart;
    pauses; partitions and cuts as shaded bands; notes from ``annotate``; timer
    firings if ``show_timers``. ``t0``/``t1`` limit the time window. The figure is
    a pure function of its inputs: same trace, same JSON.
    """
    trace, default = _unpack(trace)
    lanes = _lanes(trace, default, nodes)
    t0, t1 = _check_time("t0", t0), _check_time("t1", t1)
    if t0 is not None and t1 is not None and t1 <= t0:
        raise ValueError(f"t1 must be greater than t0 (got t0={t0}, t1={t1})")
    if height is not None and (isinstance(height, bool) or not isinstance(height, int) or height < 150):
        raise ValueError(f"height must be an integer >= 150 pixels or None (got {height!r})")
    ylane = {n: i for i, n in enumerate(lanes)}
    n = len(lanes)

    t_last = 0.0
    for r in trace:
        t_last = max(t_last, r.time)
    lo = 0.0 if t0 is None else t0
    hi = (t_last if t_last > lo else lo + 1.0) if t1 is None else t1

    def visible(a: float, b: float) -> bool:   # does [a, b] meet the window?
        return b >= lo and a <= hi

    copies: dict[int, int] = {r.copy_id: r.msg_id for r in trace.of(Duplicate)}
    arrows: dict[str, _Lines] = {}
    drop_path = _Lines()
    drops: dict[str, _Lines] = {}
    down, paused = _Lines(), _Lines()
    crash_pts, restart_pts, timer_pts, note_pts = _Lines(), _Lines(), _Lines(), _Lines()
    notes: list[str] = []
    bands: list[tuple[str, float, float, str]] = []   # (kind, start, end, label)
    down_since: dict[str, float] = {}
    paused_since: dict[str, float] = {}
    part: tuple[float, str] | None = None
    cuts: list[tuple[float, str]] = []

    for r in trace:
        if isinstance(r, Deliver):
            if r.src in ylane and r.dst in ylane and visible(r.sent_at, r.time):
                kind = message_kind(r.msg)
                dup = f" (duplicate of #{copies[r.msg_id]})" if r.msg_id in copies else ""
                text = (f"<b>#{r.msg_id} {r.src} → {r.dst}</b>{dup}<br>{_esc(repr(r.msg))}<br>"
                        f"sent {_f(r.sent_at)} · delivered {_f(r.time)} "
                        f"(+{(r.time - r.sent_at) * 1000:.1f} ms)")
                arrows.setdefault(kind, _Lines()).segment(r.sent_at, ylane[r.src], r.time, ylane[r.dst],
                                                          text, head=11.0)
        elif isinstance(r, Drop):
            if r.src in ylane and visible(r.sent_at, r.time):
                text = (f"<b>DROPPED #{r.msg_id} {r.src} → {r.dst}</b> ({r.reason})<br>{_esc(repr(r.msg))}"
                        f"<br>sent {_f(r.sent_at)} · died {_f(r.time)}")
                ys = ylane[r.src]
                if r.time > r.sent_at and r.dst in ylane:
                    xe, ye = r.time, ylane[r.dst]       # died on arrival (in-flight partition, dst down)
                    drop_path.segment(r.sent_at, ys, xe, ye, text)
                else:                                   # died as it left: a short stub towards dst
                    step = 0.0 if r.dst not in ylane else (ylane[r.dst] > ys) - (ylane[r.dst] < ys)
                    xe, ye = r.time, ys + 0.35 * step
                    if step:
                        drop_path.segment(r.time, ys, xe, ye, text)
                drops.setdefault(r.reason, _Lines()).point(xe, ye, text)
        elif isinstance(r, Crash):
            down_since[r.node] = r.time
            if r.node in ylane and visible(r.time, r.time):
                crash_pts.point(r.time, ylane[r.node], f"<b>{r.node} CRASH</b> at {_f(r.time)}")
        elif isinstance(r, Restart):
            start = down_since.pop(r.node, None)
            if r.node in ylane:
                if start is not None and visible(start, r.time):
                    down.segment(start, ylane[r.node], r.time, ylane[r.node],
                                 f"{r.node} down {_f(start)}–{_f(r.time)}")
                if visible(r.time, r.time):
                    restart_pts.point(r.time, ylane[r.node],
                                      f"<b>{r.node} restart</b> at {_f(r.time)} (state from storage)")
        elif isinstance(r, Pause):
            paused_since[r.node] = r.time
        elif isinstance(r, Resume):
            start = paused_since.pop(r.node, None)
            if r.node in ylane and start is not None and visible(start, r.time):
                paused.segment(start, ylane[r.node], r.time, ylane[r.node],
                               f"{r.node} paused {_f(start)}–{_f(r.time)}")
        elif isinstance(r, Partition):
            if part is not None:
                bands.append(("partition", part[0], r.time, part[1]))
            part = (r.time, " | ".join(",".join(g) for g in r.groups))
        elif isinstance(r, Cut):
            cuts.append((r.time, f"{r.src}→{r.dst}"))
        elif isinstance(r, Heal):
            if part is not None:
                bands.append(("partition", part[0], r.time, part[1]))
                part = None
            bands += [("cut", c[0], r.time, c[1]) for c in cuts]
            cuts = []
        elif isinstance(r, Timer):
            if show_timers and r.node in ylane and visible(r.time, r.time):
                timer_pts.point(r.time, ylane[r.node], f"{r.node} timer {html.escape(r.name)!s} "
                                                       f"fired at {_f(r.time)}")
        elif isinstance(r, Annotate):
            y = ylane.get(r.node, -0.62) if r.node is not None else -0.62
            if (r.node is None or r.node in ylane) and visible(r.time, r.time):
                note_pts.point(r.time, y, f"<b>{r.node or 'note'}</b> at {_f(r.time)}: {_esc(r.text)}")
                notes.append(r.text if len(r.text) <= 18 else r.text[:17] + "…")

    # Whatever is still open at the end of the trace stays open to the window's edge.
    end = max(hi, t_last)
    for node in sorted(down_since, key=_natural_key):
        if node in ylane and visible(down_since[node], end):
            down.segment(down_since[node], ylane[node], end, ylane[node],
                         f"{node} down since {_f(down_since[node])} (no restart)")
    for node in sorted(paused_since, key=_natural_key):
        if node in ylane and visible(paused_since[node], end):
            paused.segment(paused_since[node], ylane[node], end, ylane[node],
                           f"{node} paused since {_f(paused_since[node])}")
    if part is not None:
        bands.append(("partition", part[0], end, part[1] + " (not healed)"))
    bands += [("cut", c[0], end, c[1] + " (not healed)") for c in cuts]

    data: list[dict[str, Any]] = []
    # Bands first so that everything else is drawn on top of them.
    top, bottom = -0.5, n - 0.5
    shown = set()
    for kind, a, b, label in bands:
        if not visible(a, b):
            continue
        fill = theme.PARTITION_FILL if kind == "partition" else theme.CUT_FILL
        name = "partition" if kind == "partition" else "cut link"
        data.append(_scatter(
            x=[a, b, b, a, a], y=[top, top, bottom, bottom, top], mode="lines", fill="toself",
            fillcolor=fill, line=dict(width=0), hoveron="fills", hoverinfo="text",
            text=f"{name} {label}<br>{_f(a)}–{_f(b)}", name=name, legendgroup=name,
            showlegend=name not in shown, legendrank=400 if kind == "partition" else 410))
        shown.add(name)
    band_labels = [(a, label) for kind, a, b, label in bands if visible(a, b)]
    if band_labels:
        data.append(_scatter(
            x=[max(a, lo) for a, _ in band_labels], y=[top] * len(band_labels), mode="text",
            text=[html.escape(lab) for _, lab in band_labels], textposition="top right",
            textfont=dict(size=10, color=theme.FAULT), hoverinfo="skip", showlegend=False))
    if down:
        data.append(_scatter(x=down.x, y=down.y, text=down.text, mode="lines", name="down", legendrank=320,
                               line=dict(color=theme.FAULT, width=3, dash="dash"), hoverinfo="text"))
    if paused:
        data.append(_scatter(x=paused.x, y=paused.y, text=paused.text, mode="lines", name="paused",
                               legendrank=330, line=dict(color=theme.PAUSE, width=6, dash="dot"),
                               hoverinfo="text"))
    for i, kind in enumerate(arrows):
        a = arrows[kind]
        color = theme.MESSAGE_COLORS[i % len(theme.MESSAGE_COLORS)]
        data.append(_scatter(
            x=a.x, y=a.y, text=a.text, mode="lines+markers", name=kind, hoverinfo="text", legendrank=100 + i,
            line=dict(color=color, width=1.5),
            marker=dict(symbol="arrow", angleref="previous", size=a.size, color=color)))
    if drop_path:
        data.append(_scatter(x=drop_path.x, y=drop_path.y, text=drop_path.text, mode="lines",
                               line=dict(color=theme.FAULT, width=1, dash="dot"), hoverinfo="text",
                               name="dropped", showlegend=False))
    reasons = [r for r in DROP_REASONS if r in drops] + sorted(r for r in drops if r not in DROP_REASONS)
    for reason in reasons:
        d = drops[reason]
        data.append(_scatter(x=d.x, y=d.y, text=d.text, mode="markers", name=f"dropped ({reason})",
                               legendrank=200, hoverinfo="text",
                               marker=dict(symbol="x-thin", size=10, line=dict(color=theme.FAULT, width=2.5),
                                           color=theme.FAULT)))
    if crash_pts:
        data.append(_scatter(x=crash_pts.x, y=crash_pts.y, text=crash_pts.text, mode="markers",
                               name="crash", hoverinfo="text", legendrank=300,
                               marker=dict(symbol="x", size=20, color=theme.FAULT,
                                           line=dict(color="#4D1A00", width=1.5))))
    if restart_pts:
        data.append(_scatter(x=restart_pts.x, y=restart_pts.y, text=restart_pts.text, mode="markers",
                               name="restart", hoverinfo="text", legendrank=310,
                               marker=dict(symbol="triangle-right", size=13, color=theme.RESTART)))
    if timer_pts:
        data.append(_scatter(x=timer_pts.x, y=timer_pts.y, text=timer_pts.text, mode="markers",
                               name="timer", hoverinfo="text", legendrank=340,
                               marker=dict(symbol="circle-open", size=8, color="#777777")))
    if note_pts:
        # Label a note only if no other label sits close before it on the same lane (labels at
        # nearly the same time overlap into an unreadable smudge); every note keeps its hover text.
        gap = 0.09 * (hi - lo)
        last: dict[float, float] = {}
        labels = []
        for x, y, t in zip(note_pts.x, note_pts.y, notes, strict=True):
            free = x - last.get(y, -float("inf")) >= gap   # type: ignore[operator]
            labels.append(html.escape(t) if free else "")
            if free:
                last[y] = x  # type: ignore[assignment]
        # Labels run rightwards from their note, except near the right edge where they would be cut.
        sides = ["top left" if x > hi - 1.5 * gap else "top right" for x in note_pts.x]  # type: ignore[operator]
        data.append(_scatter(
            x=note_pts.x, y=note_pts.y, hovertext=note_pts.text, hoverinfo="text", text=labels,
            mode="markers+text", textposition=sides,
            textfont=dict(size=10, color=theme.TEXT), name="note", legendrank=350,
            marker=dict(symbol="diamond", size=7, color=theme.TEXT)))

    pad = (hi - lo) * 0.02
    legend_rows = max(1, -(-sum(1 for d in data if d.get("showlegend", True) and d.get("name")) // 6))
    layout = dict(
        # Title pinned to the top of the figure; the legend grows upwards from the plot below it.
        title=dict(text=html.escape(title) if title is not None else "Space-time diagram",
                   y=0.99, yref="container", yanchor="top"),
        height=height if height is not None else 240 + 26 * legend_rows + 70 * max(n, 2),
        margin=dict(l=70, r=20, t=50 + 26 * legend_rows, b=40),
        hovermode="closest",
        legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom",
                    itemsizing="constant"),
        xaxis=dict(title=dict(text="simulated time (s)"), range=[lo - pad, hi + pad], zeroline=False,
                   showgrid=True, rangeslider=dict(visible=True, thickness=0.07, range=[lo - pad, hi + pad])),
        yaxis=dict(tickmode="array", tickvals=list(range(n)), ticktext=lanes, range=[n - 0.4, -0.95],
                   showgrid=True, gridcolor=theme.LANE, gridwidth=1, zeroline=False, fixedrange=True,
                   tickfont=dict(size=14)),
    )
    # Skip plotly's per-value validation: it costs most of the build time for large traces.
    # The tests rebuild the figure with validation on, so a bad property still fails loudly.
    return go.Figure(data=data, layout=layout, _validate=False)


# ---- the text description ------------------------------------------------------------------------
def describe(trace: Trace | World) -> str:
    """A short deterministic summary to print under a figure (nbval compares this text).

    >>> print(describe(world))                         # doctest: +SKIP
    time 0.000-2.013 s; lanes: n1, n2, n3
    messages: 24 sent, 22 delivered, 2 dropped (partition 2), 0 in flight
    faults: 1 partition, 1 heal
    """
    trace, default = _unpack(trace)
    lanes = _lanes(trace, default, None)
    recs = trace.records
    first = recs[0].time if recs else 0.0
    last = recs[-1].time if recs else 0.0
    counts = {k: 0 for k in ("send", "deliver", "drop", "duplicate", "crash", "restart", "pause",
                             "resume", "partition", "cut", "heal", "annotate", "timer")}
    reasons: dict[str, int] = {}
    for r in recs:
        counts[r.kind] = counts.get(r.kind, 0) + 1
        if isinstance(r, Drop):
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    order = [r for r in DROP_REASONS if r in reasons] + sorted(r for r in reasons if r not in DROP_REASONS)
    why = f" ({', '.join(f'{r} {reasons[r]}' for r in order)})" if reasons else ""
    in_flight = counts["send"] + counts["duplicate"] - counts["deliver"] - counts["drop"]
    dup = f", {counts['duplicate']} duplicated" if counts["duplicate"] else ""
    faults = [(counts[k], k) for k in ("crash", "restart", "pause", "resume", "partition", "cut", "heal")
              if counts[k]]
    fault_text = ", ".join(f"{c} {k}{'es' if c > 1 and k == 'crash' else 's' if c > 1 else ''}"
                           for c, k in faults) or "none"
    lines = [
        f"time {first:.3f}-{last:.3f} s; lanes: {', '.join(lanes) or 'none'}",
        f"messages: {counts['send']} sent, {counts['deliver']} delivered, {counts['drop']} dropped{why}"
        f"{dup}, {in_flight} in flight",
        f"faults: {fault_text}",
    ]
    extra = []
    if counts["timer"]:
        extra.append(f"{counts['timer']} timer firings")
    if counts["annotate"]:
        extra.append(f"{counts['annotate']} notes")
    if extra:
        lines.append("also: " + ", ".join(extra))
    return "\n".join(lines)
