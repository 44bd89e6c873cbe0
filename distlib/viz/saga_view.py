"""A saga timeline: one lane per service (and the orchestrator), every local transaction a saga
committed, the compensations, the retries, the pivot.

>>> fig = saga_figure(run)          # doctest: +SKIP
>>> print(saga_summary(run))        # doctest: +SKIP

Read from ground truth only: the services' journals of committed local transactions
(:mod:`distlib.transactions.localstore`) and the trace (re-sent requests and events, transient
failures, crashes). Marks, coloured by saga:

* a filled circle where a forward step committed (Ti), a **diamond** for the pivot with a dashed
  line across the figure: from there the saga can only go forward;
* a left-pointing triangle where a compensation committed (Ci) -- they should run right to left
  through the saga's steps, last step first;
* an X where a step failed (refused, or given up after transient failures), an open circle where a
  compensation found nothing to undo, a star where the saga got **stuck** (with the reason);
* small grey ticks where a request or event was re-sent (a retry) and orange ticks where an attempt
  failed transiently; crashes as vermillion crosses.

The figure is a pure function of the run: same run, same JSON. :func:`saga_summary` is its text twin.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

from distlib.sim import Crash, Restart, Send
from distlib.transactions.localstore import Entry

from . import theme

COMPENSATION = "#E69F00"
RETRY = "#999999"
TRANSIENT = "#E69F00"
_REQUESTS = ("StepRequest", "UndoRequest", "CancelRequest", "SagaEvent", "StartSaga", "Begin")


def _unpack(run: Any) -> Any:
    if not (hasattr(run, "journal") and hasattr(run, "world") and hasattr(run, "services")):
        raise ValueError(f"run must be a SagaRun (from distlib.transactions.saga.run_saga; got "
                         f"{type(run).__name__})")
    return run


def _retries(run: Any) -> list[tuple[float, str, str, str]]:
    """(time, lane, saga, what) of every request or event sent again (the first copy is no retry)."""
    seen: set[tuple] = set()
    out = []
    for r in run.world.trace.records:
        if not isinstance(r, Send) or type(r.msg).__name__ not in _REQUESTS:
            continue
        m = r.msg
        key = (r.src, r.dst, type(m).__name__, getattr(m, "saga", ""), getattr(m, "step", ""),
               getattr(m, "outcome", ""))
        if key in seen:
            what = f"{type(m).__name__} {getattr(m, 'step', '')}".strip()
            out.append((r.time, r.dst, m.saga, f"re-sent {what} ({r.src} -> {r.dst})"))
        seen.add(key)
    return out


def _transients(run: Any) -> list[tuple[float, str, str]]:
    return [(r.time, r.node, r.text) for r in run.world.trace.records
            if r.kind == "annotate" and r.node in run.services and "failed transiently" in r.text]


def _lanes(run: Any) -> list[str]:
    orch = ["orch"] if run.mode == "orchestration" and "orch" in run.world.nodes else []
    return orch + list(run.services)


def _label(e: Entry, pivot: bool) -> str:
    if e.kind == "step":
        return f"{e.step}{' (pivot)' if pivot else ''}"
    if e.kind == "undo":
        return f"undo {e.step}"
    if e.kind == "failed":
        return f"{e.step} failed"
    if e.kind == "skip":
        return f"undo {e.step}: nothing to undo"
    if e.kind in ("refused", "stuck") or (e.kind == "end" and e.op == "stuck"):
        return "STUCK"
    return f"saga {e.op}"


def saga_figure(run: Any, *, title: str | None = None) -> go.Figure:
    """The timeline of every saga in ``run`` (a :class:`~distlib.transactions.saga.SagaRun`)."""
    run = _unpack(run)
    from distlib.check.saga import saga_states  # viz sits above check

    lanes = _lanes(run)
    states = saga_states(run)
    sagas = [i.saga for i in run.instances]
    color = {s: theme.MESSAGE_COLORS[k % 4] for k, s in enumerate(sagas)}   # blue, orange, green, purple
    journal = run.journal()
    last = max([r.time for r in run.world.trace.records] or [1.0])
    span = max(last, 1e-3)
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []

    styles = {   # kind -> (symbol, size, legend name)
        "step": ("circle", 12, "step committed"),
        "pivot": ("diamond", 16, "pivot committed"),
        "undo": ("triangle-left", 13, "compensation committed"),
        "failed": ("x", 13, "step failed"),
        "skip": ("circle-open", 12, "nothing to undo"),
        "stuck": ("star", 18, "stuck"),
    }
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in journal:
        if e.kind == "end" and e.op != "stuck":
            continue
        d = run.definition_of(e.saga)
        kind = e.kind
        if kind == "step" and d.step(e.step).kind == "pivot":
            kind = "pivot"
        elif kind in ("refused", "end"):
            kind = "stuck"
        groups.setdefault((e.saga, kind), []).append(e)
    for saga in sagas:
        d = run.definition_of(saga)
        for kind in ("step", "pivot", "undo", "failed", "skip", "stuck"):
            es = groups.get((saga, kind), [])
            if not es:
                continue
            symbol, size, _name = styles[kind]
            data.append(dict(
                type="scatter", mode="markers+text", x=[e.time for e in es], y=[e.service for e in es],
                name=f"{saga}: {styles[kind][2]}", legendgroup=saga, showlegend=True,
                text=[html.escape(_label(e, d.pivot == e.step)) for e in es], textposition="top center",
                textfont=dict(size=11, color=color[saga]),
                marker=dict(symbol=symbol, size=size, color=theme.FAULT if kind == "stuck" else color[saga],
                            line=dict(width=2, color=color[saga])),
                hovertext=[html.escape(f"{e.saga} {e.kind} {e.step} ({e.op}) at {e.service}, t={e.time:.3f}"
                                       + (f": {e.reason}" if e.reason else "")) for e in es],
                hoverinfo="text"))
        for e in groups.get((saga, "pivot"), [])[:1]:
            shapes.append(dict(type="line", x0=e.time, x1=e.time, xref="x", yref="paper", y0=0, y1=1,
                               line=dict(color=color[saga], width=1.5, dash="dash")))
            notes.append(dict(x=e.time, y=1, xref="x", yref="paper", showarrow=False, xanchor="left",
                              yanchor="top", yshift=-2 - 14 * (sagas.index(saga) % 3),
                              text=html.escape(f"{saga} past the pivot: forward only"),
                              font=dict(size=11, color=color[saga])))
        st = states[saga]
        if st.outcome == "stuck":
            notes.append(dict(x=0, y=0, xref="paper", yref="paper", showarrow=False, xanchor="left",
                              yanchor="bottom", yshift=4 + 14 * sagas.index(saga),
                              text=html.escape(f"{saga} STUCK: {st.reason}"),
                              font=dict(size=12, color=theme.FAULT)))
    retries = [x for x in _retries(run) if x[1] in lanes]
    if retries:
        data.append(dict(type="scatter", mode="markers", x=[t for t, *_ in retries],
                         y=[lane for _t, lane, *_ in retries], name="retry (re-sent)",
                         marker=dict(symbol="line-ns-open", size=10, color=RETRY, line=dict(width=1.5)),
                         hovertext=[html.escape(f"{s}: {w} at t={t:.3f}") for t, _l, s, w in retries],
                         hoverinfo="text"))
    transient = _transients(run)
    if transient:
        data.append(dict(type="scatter", mode="markers", x=[t for t, *_ in transient],
                         y=[n for _t, n, _x in transient], name="transient failure",
                         marker=dict(symbol="x-thin-open", size=9, color=TRANSIENT, line=dict(width=2)),
                         hovertext=[html.escape(f"{n}: {x} at t={t:.3f}") for t, n, x in transient],
                         hoverinfo="text"))
    for cls, symbol, col, name in ((Crash, "x", theme.FAULT, "crash"),
                                   (Restart, "triangle-right", theme.RESTART, "restart")):
        pts = [(r.time, r.node) for r in run.world.trace.of(cls) if r.node in lanes]
        if pts:
            data.append(dict(type="scatter", mode="markers", x=[t for t, _ in pts], y=[n for _, n in pts],
                             name=name, marker=dict(symbol=symbol, size=14, color=col),
                             hovertext=[f"{n} {name} at {t:.3f}" for t, n in pts], hoverinfo="text"))
    if title is None:
        title = "Saga timeline: " + ", ".join(f"{s} {states[s].outcome}" for s in sagas)
    layout = dict(
        title=dict(text=html.escape(title), y=0.99, yref="container", yanchor="top"),
        height=230 + 60 * len(lanes), margin=dict(l=80, r=20, t=110, b=45), hovermode="closest",
        shapes=shapes, annotations=notes,
        legend=dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom"),
        xaxis=dict(title=dict(text="simulated time (s)"), range=[-0.02 * span, span * 1.04], zeroline=False),
        yaxis=dict(type="category", categoryorder="array", categoryarray=list(reversed(lanes)),
                   range=[-0.6, len(lanes) - 0.2], fixedrange=True, autorange=False),
    )
    return go.Figure(data=data, layout=layout)


_TAGS = {"step": "", "undo": "undo ", "failed": "FAILED ", "skip": "skip ", "refused": "REFUSED undo ",
         "stuck": "STUCK "}


def _mark(e: Entry, pivot: str | None) -> str:
    star = "*" if e.kind == "step" and pivot == e.step else ""
    return f"{_TAGS.get(e.kind, '')}{e.step}{star}@{e.time:.3f}"


def saga_summary(run: Any) -> str:
    """A deterministic text twin of :func:`saga_figure` (print it under the figure; nbval compares it)."""
    run = _unpack(run)
    from distlib.check.saga import saga_states

    states = saga_states(run)
    retries = _retries(run)
    transient = _transients(run)
    lines = []
    for inst in run.instances:
        s = inst.saga
        st = states[s]
        d = st.definition
        es = [e for e in run.journal() if e.saga == s]

        shown = " ".join(_mark(e, d.pivot) for e in es if e.kind != "end") or "nothing committed"
        settle = f" in {st.settle_time:.3f} s" if st.settle_time is not None else ""
        n_retry = sum(1 for r in retries if r[2] == s)
        n_trans = sum(1 for t in transient if f" {s} " in f" {t[2]} ")
        lines.append(f"{s} ({d.name}): {shown} -> {st.outcome}{settle}; {n_retry} retries, "
                     f"{n_trans} transient failures")
        if st.outcome == "stuck":
            lines.append(f"  stuck: {st.reason}")
    crashes = [f"{r.node}@{r.time:.3f}" for r in run.world.trace.of(Crash)]
    if crashes:
        lines.append("crashes: " + ", ".join(crashes))
    lines.append("(* = the pivot)")
    return "\n".join(lines)


__all__ = ["saga_figure", "saga_summary"]
