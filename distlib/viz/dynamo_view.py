"""Chapter 07's figures: availability and staleness of a Dynamo-style run, and the PBS curves.

* :func:`read_freshness` -- classifies every operation of a run (:func:`~distlib.storage.dynamo.run_dynamo`):
  a write ok / failed / unknown; a read ok-fresh, ok-**stale** or failed. A read is *stale* when it
  misses the latest write to its key acknowledged before the read began: it returns neither that
  value nor the value of any write invoked after that one (which may legitimately have replaced it).
* :func:`operations_figure` / :func:`quorum_scenario` -- one dot per operation on a time line per
  client, coloured by that class, with the faults as bands; ``quorum_scenario`` runs the store and
  returns ``(figure, summary)`` for a :class:`~distlib.viz.Panel`.
* :func:`pbs_figure` / :func:`pbs_summary` -- the t-visibility curves of
  :func:`~distlib.storage.pbs.pbs_curves`.

Figures are pure functions of their inputs; every figure has a text twin (nbval compares text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from distlib.sim import FaultSchedule
from distlib.sim.validate import flag, integer, number, one_of
from distlib.storage.dynamo import MODES, Config, DynamoRun, run_dynamo

from . import theme

CLASSES = ("write ok", "write failed", "read fresh", "read stale", "read failed")
_COLORS = dict(zip(CLASSES, (theme.MESSAGE_COLORS[2], theme.MESSAGE_COLORS[6], theme.MESSAGE_COLORS[1],
                             theme.MESSAGE_COLORS[5], theme.MESSAGE_COLORS[0]), strict=True))
_SYMBOLS = {"write ok": "square", "write failed": "x", "read fresh": "circle", "read stale": "diamond",
            "read failed": "x"}


def _values(out: Any) -> tuple:
    if out is None:
        return ()
    return out if isinstance(out, tuple) else (out,)


def read_freshness(run: DynamoRun) -> list[dict[str, Any]]:
    """One row per operation: ``{"client", "f", "key", "start", "end", "class"}`` (see the module doc)."""
    pairs = run.history.pairs()
    writes = [(inv, done) for inv, done in pairs if inv.f == "write"]
    rows = []
    for inv, done in pairs:
        ok = done is not None and done.type == "ok"
        end = done.time if done is not None else inv.time
        if inv.f == "write":
            cls = "write ok" if ok else "write failed"
        elif not ok:
            cls = "read failed"
        else:
            acked = [(d.time, i) for i, d in writes
                     if i.key == inv.key and d is not None and d.type == "ok" and d.time < inv.time]
            cls = "read fresh"
            if acked:
                _, last = max(acked, key=lambda a: (a[0], a[1].process))
                later = {i.value for i, _ in writes if i.key == inv.key and i.time > last.time}
                got = set(_values(done.value))
                if last.value not in got and not got & later:
                    cls = "read stale"
        rows.append({"client": inv.process, "f": inv.f, "key": inv.key, "start": inv.time, "end": end,
                     "class": cls})
    return rows


def tally(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {c: sum(1 for r in rows if r["class"] == c) for c in CLASSES}


def operations_figure(run: DynamoRun, rows: list[dict[str, Any]] | None = None, *,
                      title: str | None = None) -> go.Figure:
    """Every operation as a dot at its completion time on its client's lane; faults as bands."""
    rows = read_freshness(run) if rows is None else rows
    clients = sorted({r["client"] for r in rows})
    fig = go.Figure()
    for cls in CLASSES:
        mine = [r for r in rows if r["class"] == cls]
        fig.add_trace(go.Scatter(
            x=[round(r["end"], 4) for r in mine], y=[r["client"] for r in mine], mode="markers", name=cls,
            marker={"color": _COLORS[cls], "symbol": _SYMBOLS[cls], "size": 11 if "stale" in cls else 8},
            hovertext=[f"{r['f']} {r['key']} [{r['start']:.3f}, {r['end']:.3f}]" for r in mine],
            hoverinfo="text"))
    for i, f in enumerate(run.schedule):
        lo = getattr(f, "at", 0.0)
        hi = next((getattr(f, a) for a in ("restart", "heal", "until") if getattr(f, a, None) is not None),
                  None)
        fig.add_vrect(x0=lo, x1=hi if hi is not None else lo + 0.02, fillcolor="grey", opacity=0.15,
                      line_width=0, annotation_text=str(f) if i < 3 else None, annotation_position="top left")
    fig.update_layout(title=title or run.config.describe(), height=160 + 40 * max(len(clients), 1),
                      xaxis_title="time", yaxis={"categoryorder": "array", "categoryarray": clients},
                      legend={"orientation": "h", "y": -0.35})
    return fig


def run_summary(run: DynamoRun, rows: list[dict[str, Any]] | None = None) -> str:
    rows = read_freshness(run) if rows is None else rows
    t = tally(rows)
    writes, reads = t["write ok"] + t["write failed"], t["read fresh"] + t["read stale"] + t["read failed"]
    ok_reads = t["read fresh"] + t["read stale"]
    avail = (t["write ok"] + ok_reads) / max(writes + reads, 1)
    stale = t["read stale"] / max(ok_reads, 1)
    return (f"{run.config.describe()}\n"
            f"availability: {avail:.0%} of {writes + reads} operations answered ok "
            f"(writes {t['write ok']}/{writes}, reads {ok_reads}/{reads})\n"
            f"staleness: {t['read stale']} of {ok_reads} answered reads missed the latest acknowledged "
            f"write ({stale:.0%})\n"
            f"faults: {run.schedule.describe()}")


def quorum_scenario(n: int = 3, r: int = 2, w: int = 2, latency: float = 0.02, faults: Any = None,
                    sloppy: bool = True, mode: str = "vv", seed: int = 0) -> tuple[go.Figure, str]:
    """Run the store on 5 nodes with N/R/W, one-way latency uniform in [latency/4, latency], and
    ``faults`` (a FaultSchedule or its text); return (:func:`operations_figure`, :func:`run_summary`).
    Bad values raise ValueError naming the parameter (a Panel shows the message)."""
    n = integer("n", n, 1, 5)
    latency = number("latency", latency, 0.001, 0.5)
    flag("sloppy", sloppy)
    one_of("mode", mode, MODES)
    config = Config(nodes=5, n=n, r=r, w=w, sloppy=sloppy, mode=mode)
    schedule = faults if faults is not None else FaultSchedule()
    run = run_dynamo(seed, config, clients=3, ops=14, faults=schedule, latency=(latency / 4, latency),
                     settle=1.0)
    rows = read_freshness(run)
    return operations_figure(run, rows), run_summary(run, rows)


def pbs_figure(result: Mapping[str, Any], *, title: str | None = None) -> go.Figure:
    """One line per (R, W): P(a read t after commit sees the write) against t."""
    fig = go.Figure()
    for (r, w), ps in sorted(result["curves"].items()):
        strict = r + w > result["n"]
        fig.add_trace(go.Scatter(x=list(result["times"]), y=list(ps), mode="lines+markers",
                                 name=f"R={r} W={w}" + (" (R+W>N)" if strict else ""),
                                 line={"dash": "dot" if strict else "solid"}))
    fig.update_layout(title=title or (f"t-visibility, N={result['n']}, exponential latency mean "
                                      f"{result['mean']:g} ({result['trials']} trials per curve)"),
                      xaxis_title="t after commit (multiples of the mean one-way latency)",
                      yaxis_title="P(read sees the write)", yaxis_range=[0, 1.03], height=420)
    return fig


def pbs_summary(result: Mapping[str, Any]) -> str:
    times = list(result["times"])
    head = "R W  " + " ".join(f"t={t:<5g}" for t in times)
    lines = [head]
    for (r, w), ps in sorted(result["curves"].items()):
        lines.append(f"{r} {w}  " + " ".join(f"{p:<7.3f}" for p in ps)
                     + ("  (R+W>N)" if r + w > result["n"] else ""))
    return "\n".join(lines)


__all__ = ["CLASSES", "operations_figure", "pbs_figure", "pbs_summary", "quorum_scenario", "read_freshness",
           "run_summary", "tally"]
