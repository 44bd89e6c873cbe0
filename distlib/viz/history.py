"""History diagrams: one bar per operation, one lane per client, and the checker's verdict on top.

>>> fig = history_figure(world.history, check_linearizability(world.history, KVStore()))  # doctest: +SKIP

* a bar spans invocation → completion; ``info`` bars (timed out) are hatched, with a thin
  tail to the right edge (they may still take effect); ``fail`` bars are grey;
* for an Ok result each linearized operation is numbered in the witness order and
  a diamond marks an instant where it can take effect (a dotted line joins them in
  order); for Illegal the same is drawn for the longest linearizable prefix, and
  the operation that cannot be placed is red.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

from distlib.check.linearizability import LinOp, LinResult, describe, operations_from_history
from distlib.check.models import KVStore, Model, Register
from distlib.sim.history import Op
from distlib.viz import theme

OK_COLOR = "#0072B2"      # blue
INFO_COLOR = "#E69F00"    # orange: unknown outcome
FAIL_COLOR = "#BBBBBB"    # grey: did not happen
CULPRIT_COLOR = theme.FAULT
ORDER_COLOR = "#333333"


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def _label(model: Model, op: LinOp) -> str:
    text = model.describe_op(op.model_op)
    if op.status == "info":
        text = text.replace("→?", "") + " ?"
    elif op.status == "fail":
        text += " ✗"
    return text


def fault_bands(fig: go.Figure, faults: Iterable[object] | None, end: float) -> go.Figure:
    """Shade each fault's time window (partition, cut, crash, pause) across the whole figure, labelled.

    ``faults`` is a :class:`~distlib.sim.FaultSchedule` (or its faults); an open-ended fault runs to
    ``end``. Shapes span the paper height, so stacked rows share one band.
    """
    for fault in faults or ():
        start = getattr(fault, "at", None)
        stop = next((getattr(fault, a) for a in ("heal", "restart", "resume")
                     if getattr(fault, a, None) is not None), end)
        if start is None:
            continue
        fig.add_vrect(x0=start, x1=stop, fillcolor=theme.FAULT, opacity=0.08, line_width=0, layer="below",
                      annotation_text=str(fault).split(" at ")[0], annotation_position="top left",
                      annotation_font=dict(size=10, color=theme.FAULT))
    return fig


def history_figure(history: Iterable[Op] | Iterable[LinOp], result: LinResult | None = None, *,
                   title: str | None = None, faults: Iterable[object] | None = None) -> go.Figure:
    """A bar per operation per client; with ``result``, the linearization order and the culprit."""
    if result is not None:
        ops = result.operations
        model = result.model
    else:
        items = list(history)
        ops = items if items and all(isinstance(o, LinOp) for o in items) else operations_from_history(items)
        model = KVStore() if len({o.key for o in ops}) > 1 else Register()
    lanes = sorted({o.process for o in ops}, key=_natural)
    finite = [t for o in ops for t in (o.call, o.ret, o.end) if math.isfinite(t)]
    t0, t1 = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (t1 - t0) or 1.0
    right = t1 + 0.06 * span  # info bars run to here: "maybe still in effect"

    rank: dict[int, int] = {}
    culprit = None
    if result is not None:
        rank = {i: n for n, i in enumerate(result.order, 1)}
        culprit = result.culprit if result.verdict == "Illegal" else None

    groups: dict[str, list[LinOp]] = {"ok": [], "info": [], "fail": [], "culprit": []}
    for o in ops:
        groups["culprit" if o.index == culprit else o.status].append(o)
    style = {
        "ok": dict(name="ok", color=OK_COLOR, opacity=1.0, pattern=None),
        "info": dict(name="info (timed out: outcome unknown)", color=INFO_COLOR, opacity=0.6,
                     pattern=dict(shape="/", fgcolor="#8A5F00", size=8, solidity=0.25)),
        "fail": dict(name="fail (did not happen)", color=FAIL_COLOR, opacity=0.6, pattern=None),
        "culprit": dict(name="cannot be placed", color=CULPRIT_COLOR, opacity=1.0, pattern=None),
    }
    fig = go.Figure()
    left = t0 - 0.02 * span
    px_per_unit = 1050 / (right - left)  # rough plot width in pixels: decides which labels fit

    # Info operations never completed: after the timeout a thin hatched tail runs to the
    # right edge ("may still take effect"), drawn thin and first so later bars stay visible.
    tails = [o for o in groups["info"] if o.index != culprit]
    if tails:
        starts = [o.end if math.isfinite(o.end) else o.call for o in tails]
        fig.add_trace(go.Bar(
            orientation="h", base=starts, x=[max(right - t, 1e-9) for t in starts],
            y=[o.process for o in tails], name="info: may take effect later", width=0.12,
            marker=dict(color=INFO_COLOR, opacity=0.35, pattern=dict(shape="/", fgcolor="#8A5F00", size=6)),
            hovertext=[describe(model, o) for o in tails], hoverinfo="text", showlegend=False))
    for cat in ("ok", "info", "fail", "culprit"):
        members = groups[cat]
        if not members:
            continue
        st = style[cat]
        base, width, text, hover = [], [], [], []
        for o in members:
            end = o.ret if math.isfinite(o.ret) else (o.end if math.isfinite(o.end) else o.call + 0.01 * span)
            base.append(o.call)
            width.append(max(end - o.call, 1e-9))
            n = rank.get(o.index)
            label = (f"{n}: " if n is not None else "") + _label(model, o)
            if len(label) * 7.5 > width[-1] * px_per_unit:  # does not fit: number only (hover has it)
                label = str(n) if n is not None and len(str(n)) * 7.5 <= width[-1] * px_per_unit else ""
            text.append(label)
            hover.append(describe(model, o) + (f"<br>linearized #{n}" if n is not None else ""))
        marker: dict = dict(color=st["color"], opacity=st["opacity"], line=dict(color="#FFFFFF", width=1))
        if st["pattern"]:
            marker["pattern"] = st["pattern"]
        fig.add_trace(go.Bar(
            orientation="h", base=base, x=width, y=[o.process for o in members], name=st["name"],
            marker=marker, text=text, textposition="inside", insidetextanchor="start", textangle=0,
            textfont=dict(size=12, color="#FFFFFF" if cat in ("ok", "culprit") else "#333333"),
            constraintext="none", cliponaxis=False, hovertext=hover, hoverinfo="text", width=0.55))

    if result is not None and result.order:
        pts = [(result.points[i], ops[i].process) for i in result.order if i in result.points]
        label = "linearization order" if result.verdict == "Ok" else "longest linearizable prefix"
        fig.add_trace(go.Scatter(
            x=[p for p, _ in pts], y=[lane for _, lane in pts], mode="lines+markers", name=label,
            line=dict(color="rgba(51,51,51,0.6)", width=1, dash="dot"),
            marker=dict(symbol="diamond", size=7, color=ORDER_COLOR),
            hovertext=[f"#{n} at t={p:.3f}" for n, (p, _) in enumerate(pts, 1)], hoverinfo="text"))

    if title is None:
        if result is None:
            title = f"History: {len(ops)} operations, {len(lanes)} clients"
        elif result.verdict == "Ok":
            title = f"Linearizable (Ok): {len(result.order)} operations in a legal order"
        elif result.verdict == "Illegal":
            where = "" if result.key is None else f" on key {result.key!r}"
            title = (f"Not linearizable{where}: the red operation cannot be placed after "
                     f"{len(result.order)} operations")
        else:
            title = f"Unknown: {result.reason}"
    fig.update_layout(
        title=title, barmode="overlay", bargap=0.3, height=140 + 56 * max(len(lanes), 1),
        margin=dict(l=60, r=20, t=60, b=50), uniformtext=dict(minsize=9, mode="show"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        xaxis=dict(title="time (s)", range=[left, right], zeroline=False),
        yaxis=dict(categoryorder="array", categoryarray=list(reversed(lanes)), title=None),
    )
    return fault_bands(fig, faults, right)


def history_summary(history: Iterable[Op] | Iterable[LinOp], result: LinResult | None = None) -> str:
    """A short text twin of :func:`history_figure` (print it under the figure: nbval compares it)."""
    ops = result.operations if result is not None else operations_from_history(list(history))
    counts = {s: sum(1 for o in ops if o.status == s) for s in ("ok", "info", "fail")}
    lanes = len({o.process for o in ops})
    line = (f"{len(ops)} operations by {lanes} clients "
            f"({counts['ok']} ok, {counts['info']} info, {counts['fail']} fail)")
    if result is not None:
        line += f"; verdict {result.verdict}"
        if result.verdict == "Illegal":
            line += f": {result.reason}"
    return line


__all__ = ["history_figure", "history_summary"]


def compare_figure(panels: Sequence[tuple[str, Iterable[Op] | Iterable[LinOp], LinResult | None]], *,
                   title: str | None = None, faults: Iterable[object] | None = None) -> go.Figure:
    """Several histories stacked on one time axis, one row each: ``[(label, history, result), ...]``.

    For side-by-side comparisons (the CP and the AP register under the same partition): each row
    is :func:`history_figure` of its history, titled by its label.
    """
    from plotly.subplots import make_subplots

    if not panels:
        raise ValueError("panels must name at least one (label, history, result) triple")
    figs = [history_figure(h, r) for _, h, r in panels]
    heights = [len(f.layout.yaxis.categoryarray or ()) or 1 for f in figs]
    out = make_subplots(rows=len(figs), cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        row_heights=[h / sum(heights) for h in heights],
                        subplot_titles=[label for label, _, _ in panels])
    seen: set[str] = set()
    left = min(f.layout.xaxis.range[0] for f in figs)
    right = max(f.layout.xaxis.range[1] for f in figs)
    for row, fig in enumerate(figs, 1):
        for trace in fig.data:
            trace = go.Figure(trace).data[0]          # a copy, free to re-home on this row
            trace.showlegend = bool(trace.name) and trace.name not in seen and trace.showlegend is not False
            seen.add(trace.name or "")
            trace.legendgroup = trace.name
            out.add_trace(trace, row=row, col=1)
        out.update_yaxes(categoryorder="array", categoryarray=fig.layout.yaxis.categoryarray, row=row, col=1)
    out.update_xaxes(range=[left, right], zeroline=False)
    out.update_xaxes(title="time (s)", row=len(figs), col=1)
    out.update_layout(title=title, barmode="overlay", bargap=0.3,
                      height=120 + sum(60 * h + 40 for h in heights),
                      margin=dict(l=60, r=20, t=90, b=50), uniformtext=dict(minsize=9, mode="show"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.04, xanchor="right", x=1.0))
    return fault_bands(out, faults, right)
