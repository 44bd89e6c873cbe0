"""A Paxos view: the two phases of each ballot and every acceptor's state over time.

>>> fig = paxos_figure(run.world)          # doctest: +SKIP
>>> print(paxos_summary(run.world))        # doctest: +SKIP

Read from the trace only (the ``Send`` records of Lamport's messages, "Paxos Made Simple" §2.2):

* one **proposer** lane per node that sent ``Prepare``: a light bar for phase 1 of a ballot (from
  its first ``Prepare`` to its first ``Accept``, or to the proposer's next ballot) and a dark bar
  for phase 2 (from the first ``Accept`` on);
* per acceptor a **promised** lane — a step bar labelled with the ballot of its latest ``Promise``
  (an ``Accepted`` raises it too: accepting ``n`` means promising ``n``) — and an **accepted**
  lane, a bar coloured by value, labelled ``ballot = value``, from each ``Accepted`` it sent;
* a vertical line when a value becomes **chosen**: a majority of acceptors has sent ``Accepted``
  for the same ballot; crashes are marked on the acceptor's lanes.

A correct acceptor's promised ballot never goes down and its accepted bar never lies below its
promise; the broken variants of :mod:`distlib.consensus.paxos` show up as exactly that. The figure
is a pure function of the trace: same trace, same JSON.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from distlib.sim import Crash, Restart, Send, Trace, World

from . import theme

PHASE1 = "#9CC7E6"       # light blue: preparing
PHASE2 = "#0072B2"       # blue: asking acceptors to accept
PROMISE = "#DDDDDD"      # grey step bars: the promise
CHOSEN = "#000000"


def _natural(name: str) -> tuple:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def _kind(msg: Any) -> str:
    return type(msg).__name__


@dataclass(frozen=True)
class Interval:
    """One bar: ``lane`` from ``start`` to ``end``, with a label."""

    lane: str
    start: float
    end: float
    label: str
    ballot: Any = None
    value: Any = None


@dataclass
class PaxosTimeline:
    """What :func:`paxos_figure` draws, extracted from a trace (also handy in tests)."""

    acceptors: list[str]
    proposers: list[str]
    phases: list[Interval]                 # lane = proposer, label "phase 1 b" / "phase 2 b"
    promised: dict[str, list[Interval]]    # acceptor -> promise steps
    accepted: dict[str, list[Interval]]    # acceptor -> accepted (ballot, value) steps
    chosen: list[tuple[float, Any, Any]]   # (time, ballot, value), in time order
    crashes: list[tuple[float, str]]
    restarts: list[tuple[float, str]]
    end: float


def _unpack(trace: Trace | World) -> Trace:
    if isinstance(trace, World):
        return trace.trace
    if isinstance(trace, Trace):
        return trace
    raise ValueError(f"trace must be a distlib.sim.Trace or World (got {type(trace).__name__})")


def timeline(trace: Trace | World, acceptors: Sequence[str] | None = None) -> PaxosTimeline:
    """Extract phases, per-acceptor promised/accepted steps and chosen moments from ``trace``."""
    tr = _unpack(trace)
    sends = [r for r in tr if isinstance(r, Send)]
    if acceptors is None:
        acc = sorted({r.src for r in sends if _kind(r.msg) in ("Promise", "Accepted", "Nack")}, key=_natural)
    else:
        acc = list(acceptors)
        if len(set(acc)) != len(acc) or not all(isinstance(a, str) for a in acc):
            raise ValueError(f"acceptors must be distinct node names (got {acceptors!r})")
    proposers = sorted({r.src for r in sends if _kind(r.msg) == "Prepare"}, key=_natural)
    last = max((r.time for r in tr), default=0.0)
    end = last + 0.05 * (last or 1.0)   # open bars run a little past the last event, so they show
    need = len(acc) // 2 + 1

    # Proposer phases: ballot -> first Prepare / first Accept time.
    prep: dict[str, list[tuple[float, Any]]] = {p: [] for p in proposers}
    first_accept: dict[Any, float] = {}
    seen_ballot: set[Any] = set()
    for r in sends:
        k = _kind(r.msg)
        if k == "Prepare" and (r.src, r.msg.n) not in seen_ballot:
            seen_ballot.add((r.src, r.msg.n))
            prep[r.src].append((r.time, r.msg.n))
        elif k == "Accept" and hasattr(r.msg, "n") and (r.src, r.msg.n) not in first_accept:
            first_accept[(r.src, r.msg.n)] = r.time

    # Acceptor steps and chosen moments.
    promised: dict[str, list[Interval]] = {a: [] for a in acc}
    accepted: dict[str, list[Interval]] = {a: [] for a in acc}
    cur_p: dict[str, tuple[float, Any] | None] = {a: None for a in acc}
    cur_a: dict[str, tuple[float, Any, Any] | None] = {a: None for a in acc}
    votes: dict[Any, set[str]] = {}
    chosen: list[tuple[float, Any, Any]] = []
    announced: set[tuple[str, Any]] = set()
    crashes: list[tuple[float, str]] = []
    restarts: list[tuple[float, str]] = []

    def set_promise(a: str, t: float, n: Any) -> None:
        prev = cur_p[a]
        if prev is not None and prev[1] == n:
            return
        if prev is not None:
            promised[a].append(Interval(a, prev[0], t, f"promised {prev[1]!r}", prev[1]))
        cur_p[a] = (t, n)

    for r in tr:
        if isinstance(r, Crash):
            crashes.append((r.time, r.node))
            continue
        if isinstance(r, Restart):
            restarts.append((r.time, r.node))
            continue
        if not isinstance(r, Send) or r.src not in cur_p:
            continue
        k = _kind(r.msg)
        if k == "Promise":
            set_promise(r.src, r.time, r.msg.n)
        elif k == "Accepted" and hasattr(r.msg, "n") and not hasattr(r.msg, "slot"):
            if (r.src, r.msg.n) in announced:
                continue          # the same acceptance, announced to the next learner
            announced.add((r.src, r.msg.n))
            p = cur_p[r.src]
            if p is None or r.msg.n > p[1]:
                set_promise(r.src, r.time, r.msg.n)
            prev = cur_a[r.src]
            if prev is not None:
                accepted[r.src].append(Interval(r.src, prev[0], r.time, f"{prev[1]!r} = {prev[2]!r}",
                                                prev[1], prev[2]))
            cur_a[r.src] = (r.time, r.msg.n, r.msg.v)
            voters = votes.setdefault(r.msg.n, set())
            voters.add(r.src)
            if len(voters) == need:
                chosen.append((r.time, r.msg.n, r.msg.v))
    for a in acc:
        if cur_p[a] is not None:
            t, n = cur_p[a]
            promised[a].append(Interval(a, t, end, f"promised {n!r}", n))
        if cur_a[a] is not None:
            t, n, v = cur_a[a]
            accepted[a].append(Interval(a, t, end, f"{n!r} = {v!r}", n, v))

    phases: list[Interval] = []
    chosen_at = {b: t for t, b, _ in chosen}
    for p in proposers:
        starts = prep[p]
        for i, (t, b) in enumerate(starts):
            stop = starts[i + 1][0] if i + 1 < len(starts) else end
            a_t = first_accept.get((p, b))
            if a_t is not None and a_t <= stop:
                phases.append(Interval(p, t, a_t, f"phase 1 {b!r}", b))
                done = min(stop, chosen_at.get(b, stop))
                phases.append(Interval(p, a_t, max(done, a_t), f"phase 2 {b!r}", b))
            else:
                phases.append(Interval(p, t, stop, f"phase 1 {b!r}", b))
    return PaxosTimeline(acc, proposers, phases, promised, accepted, chosen, crashes, restarts, end)


def paxos_figure(trace: Trace | World, *, acceptors: Sequence[str] | None = None,
                 title: str | None = None) -> go.Figure:
    """The two phases per proposer and each acceptor's promised / accepted state over time."""
    tl = timeline(trace, acceptors)
    lanes = [f"{p} proposer" for p in tl.proposers]
    for a in tl.acceptors:
        lanes += [f"{a} promised", f"{a} accepted"]
    span = tl.end or 1.0
    px = 1000 / (span * 1.04)

    def fit(label: str, width: float) -> str:
        return label if len(label) * 7 <= width * px else ""

    data: list[dict[str, Any]] = []

    def bars(items: list[Interval], lane_of, name: str, color: Any, text_color: str, legend: bool,
             group: str | None = None) -> None:
        if not items:
            return
        data.append(dict(
            type="bar", orientation="h", base=[i.start for i in items],
            x=[max(i.end - i.start, span * 1e-4) for i in items], y=[lane_of(i) for i in items],
            name=name, legendgroup=group or name, showlegend=legend,
            marker=dict(color=color, line=dict(color="#FFFFFF", width=1)),
            text=[html.escape(fit(i.label, i.end - i.start)) for i in items], textposition="inside",
            insidetextanchor="start", textangle=0, constraintext="none",
            textfont=dict(size=11, color=text_color),
            hovertext=[html.escape(f"{i.lane}: {i.label}, {i.start:.3f}–{i.end:.3f} s") for i in items],
            hoverinfo="text", width=0.6))

    bars([i for i in tl.phases if i.label.startswith("phase 1")], lambda i: f"{i.lane} proposer",
         "phase 1: Prepare → Promise", PHASE1, theme.TEXT, True)
    bars([i for i in tl.phases if i.label.startswith("phase 2")], lambda i: f"{i.lane} proposer",
         "phase 2: Accept → Accepted", PHASE2, "#FFFFFF", True)
    bars([i for a in tl.acceptors for i in tl.promised[a]], lambda i: f"{i.lane} promised",
         "promised ballot", PROMISE, theme.TEXT, True)
    values: list[str] = []
    for a in tl.acceptors:
        for i in tl.accepted[a]:
            if repr(i.value) not in values:
                values.append(repr(i.value))
    for k, v in enumerate(values):
        color = theme.MESSAGE_COLORS[(k + 1) % len(theme.MESSAGE_COLORS)]
        items = [i for a in tl.acceptors for i in tl.accepted[a] if repr(i.value) == v]
        bars(items, lambda i: f"{i.lane} accepted", f"accepted {v}", color, "#FFFFFF", True)

    # Chosen moments: full-height lines as layout shapes (a categorical y axis has no numeric span).
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for k, (t, b, v) in enumerate(tl.chosen):
        shapes.append(dict(type="line", x0=t, x1=t, xref="x", yref="paper", y0=0, y1=1,
                           line=dict(color=CHOSEN, width=2, dash="dash")))
        notes.append(dict(x=t, y=1, xref="x", yref="paper", showarrow=False,
                          xanchor="left" if t < 0.8 * span else "right", yshift=-2 - 16 * (k % 2),
                          yanchor="top",
                          text=html.escape(f"chosen {v!r} ({b!r})"), font=dict(size=12, color=CHOSEN)))
    if tl.chosen:   # a legend entry for the lines
        data.append(dict(type="scatter", x=[None], y=[None], mode="lines", name="value chosen",
                         line=dict(color=CHOSEN, width=2, dash="dash")))
    marks = [(t, n, "crash") for t, n in tl.crashes if n in tl.acceptors or n in tl.proposers]
    marks += [(t, n, "restart") for t, n in tl.restarts if n in tl.acceptors or n in tl.proposers]
    for kind, symbol, color in (("crash", "x", theme.FAULT), ("restart", "triangle-right", theme.RESTART)):
        pts = [(t, n) for t, n, k in marks if k == kind]
        if not pts:
            continue
        xs, ys, hover = [], [], []
        for t, n in pts:
            for lane in (f"{n} proposer", f"{n} promised", f"{n} accepted"):
                if lane in lanes:
                    xs.append(t)
                    ys.append(lane)
                    hover.append(f"{n} {kind} at {t:.3f}")
        data.append(dict(type="scatter", x=xs, y=ys, mode="markers", name=kind, hovertext=hover,
                         hoverinfo="text", marker=dict(symbol=symbol, size=14, color=color)))

    if title is None:
        got = sorted({repr(v) for _, _, v in tl.chosen})
        title = ("Paxos: nothing chosen yet" if not got else
                 f"Paxos: {' and '.join(got)} chosen" + (" — AGREEMENT VIOLATED" if len(got) > 1 else ""))
    layout = dict(
        title=dict(text=html.escape(title), y=0.99, yref="container", yanchor="top"),
        barmode="overlay", height=170 + 34 * max(len(lanes), 1),
        margin=dict(l=110, r=20, t=110, b=45), hovermode="closest", shapes=shapes, annotations=notes,
        legend=dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom"),
        xaxis=dict(title=dict(text="simulated time (s)"), range=[-0.02 * span, span * 1.02], zeroline=False),
        yaxis=dict(type="category", categoryorder="array", categoryarray=list(reversed(lanes)),
                   range=[-0.7, len(lanes) - 0.4], fixedrange=True, autorange=False),
    )
    return go.Figure(data=data, layout=layout)


def paxos_summary(trace: Trace | World, *, acceptors: Sequence[str] | None = None) -> str:
    """A deterministic text twin of :func:`paxos_figure` (print it under the figure)."""
    tl = timeline(trace, acceptors)
    lines = []
    for p in tl.proposers:
        ballots = [i for i in tl.phases if i.lane == p]
        text = ", ".join(f"{i.label.split(' ')[0]} {i.label.split(' ')[1]} of {i.ballot!r} at {i.start:.3f}"
                         for i in ballots)
        lines.append(f"proposer {p}: {text}")
    for a in tl.acceptors:
        prom = " -> ".join(f"{i.ballot!r}@{i.start:.3f}" for i in tl.promised[a]) or "none"
        acc = " -> ".join(f"({i.ballot!r}, {i.value!r})@{i.start:.3f}" for i in tl.accepted[a]) or "none"
        lines.append(f"acceptor {a}: promised {prom}; accepted {acc}")
    if tl.chosen:
        lines.append("chosen: " + ", ".join(f"{v!r} at ballot {b!r} (t={t:.3f})" for t, b, v in tl.chosen))
    else:
        lines.append("chosen: nothing")
    if len({repr(v) for _, _, v in tl.chosen}) > 1:
        lines.append("AGREEMENT VIOLATED: more than one value chosen")
    return "\n".join(lines)


__all__ = ["Interval", "PaxosTimeline", "paxos_figure", "paxos_summary", "timeline"]
