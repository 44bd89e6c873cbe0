"""A lock-service timeline (chapter 08): the cell's master, each client's belief that it holds the
lock, its pauses and session expiries, and every write the resource server saw.

>>> fig = lock_figure(run)          # doctest: +SKIP
>>> print(lock_summary(run))        # doctest: +SKIP

Lanes, top to bottom: ``master`` (which replica was the ready master, crashes as crosses), one lane
per client (a bar while it *believed* it held the lock, labelled with the lock generation; grey
bands while it was paused; a diamond where its session expired) and ``res`` (a dot per accepted
write in its generation's colour, a red X per rejected one). Read from the run's records only; the
figure is a pure function of the run. :func:`lock_panel` is the chapter's interactive run.
"""

from __future__ import annotations

import plotly.graph_objects as go

from distlib.check.lockservice import belief_intervals, check_fenced_effects
from distlib.coordination.cell import CELL, CellConfig
from distlib.coordination.runs import LockRun, run_cell
from distlib.sim import Crash
from distlib.sim.validate import flag, integer, number

from . import theme

REJECTED = "#D55E00"
PAUSED = "rgba(150,150,150,0.35)"
_GEN_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")


def _colour(gen: int) -> str:
    return _GEN_COLOURS[(gen - 1) % len(_GEN_COLOURS)]


def _clients(run: LockRun) -> list[str]:
    return sorted(run.events)


def lock_figure(run: LockRun, *, title: str | None = None) -> go.Figure:
    """The timeline of ``run`` (see the module docstring)."""
    if not isinstance(run, LockRun):
        raise ValueError(f"run must be a LockRun (got {type(run).__name__})")
    lanes = ["master", *_clients(run), "res"]
    y = {name: len(lanes) - 1 - i for i, name in enumerate(lanes)}
    fig = go.Figure()
    # The master lane: who was ready when; crashes of replicas.
    for i, (t, node) in enumerate(run.masters):
        end = run.masters[i + 1][0] if i + 1 < len(run.masters) else run.until
        fig.add_trace(go.Scatter(x=[t, end], y=[y["master"]] * 2, mode="lines+text", text=[node, ""],
                                 textposition="top right", line={"width": 10, "color": "#444444"},
                                 showlegend=False, hovertext=f"{node} master from {t:.3f}"))
    crashes = [(r.time, r.node) for r in run.world.trace if isinstance(r, Crash) and r.node in CELL]
    if crashes:
        fig.add_trace(go.Scatter(x=[t for t, _ in crashes], y=[y["master"]] * len(crashes), mode="markers",
                                 marker={"symbol": "x", "size": 12, "color": REJECTED}, name="replica crash",
                                 hovertext=[f"{n} crashed at {t:.3f}" for t, n in crashes]))
    # Clients: pauses, beliefs, expiries.
    for client, spans in sorted(run.pauses.items()):
        if client not in y:
            continue
        for start, end in spans:
            fig.add_shape(type="rect", x0=start, x1=end, y0=y[client] - 0.3, y1=y[client] + 0.3,
                          fillcolor=PAUSED, line={"width": 0})
    for client, _lock, gen, start, end in belief_intervals(run):
        fig.add_trace(go.Scatter(x=[start, end], y=[y[client]] * 2, mode="lines+text",
                                 text=[f"gen {gen}", ""], textposition="top right",
                                 line={"width": 8, "color": _colour(gen)}, showlegend=False,
                                 hovertext=f"{client} believes it holds the lock (gen {gen}) "
                                           f"{start:.3f}-{end:.3f}"))
    expired = [(t, c) for c, evs in run.events.items() for t, kind, _ in evs if kind == "expired"]
    if expired:
        fig.add_trace(go.Scatter(x=[t for t, _ in expired], y=[y[c] for _, c in expired], mode="markers",
                                 marker={"symbol": "diamond", "size": 10, "color": "#000000"},
                                 name="session expired"))
    # The resource: accepted writes by generation, rejected ones.
    for gen in sorted({w[2] for w in run.writes if w[4]}):
        xs = [w[0] for w in run.writes if w[4] and w[2] == gen]
        fig.add_trace(go.Scatter(x=xs, y=[y["res"]] * len(xs), mode="markers", name=f"write, gen {gen}",
                                 marker={"size": 7, "color": _colour(gen)}))
    bad = [w for w in run.writes if not w[4]]
    if bad:
        fig.add_trace(go.Scatter(x=[w[0] for w in bad], y=[y["res"]] * len(bad), mode="markers",
                                 name="rejected (stale sequencer)",
                                 marker={"symbol": "x", "size": 13, "color": REJECTED},
                                 hovertext=[f"{w[1]}'s write {w[3]} (gen {w[2]}): {w[5]}" for w in bad]))
    if check_fenced_effects(run):
        fig.add_annotation(x=run.until, y=y["res"] + 0.45, text="effects interleaved!", showarrow=False,
                           font={"color": REJECTED}, xanchor="right")
    fig.update_layout(title=title or f"Lock service{run.note}", height=140 + 45 * len(lanes),
                      template=theme.course_template(), xaxis_title="time (s)",
                      yaxis={"tickvals": [y[n] for n in lanes], "ticktext": lanes,
                             "range": [-0.7, len(lanes)]},
                      legend={"orientation": "h", "y": -0.25})
    fig.update_xaxes(range=[0, run.until])
    return fig


def lock_summary(run: LockRun) -> str:
    """The figure's text twin: masters, beliefs, expiries, accepted/rejected writes, the checker."""
    lines = [run.summary()]
    lines.append("masters: " + (", ".join(f"{n} from t={t:.2f}" for t, n in run.masters) or "none"))
    for client, _lock, gen, start, end in belief_intervals(run):
        lines.append(f"  {client} believed it held the lock (gen {gen}) {start:.2f}-{end:.2f}")
    for w in run.writes:
        if not w[4]:
            lines.append(f"  REJECTED at t={w[0]:.2f}: {w[1]}'s write {w[3]!r}: {w[5]}")
    problems = check_fenced_effects(run)
    lines.append(f"effects checker: {len(problems)} violation(s)"
                 + (f" -- {problems[0]}" if problems else ""))
    return "\n".join(lines)


def lock_panel(seed: int = 0, pause_client: float = 0.0, crash_master: bool = False,
               partition: bool = False, lease: float = 0.6, fenced: bool = True) -> tuple[go.Figure, str]:
    """The chapter's panel: two clients compete for the primary lock. ``pause_client`` seconds of GC
    pause for the primary at t=1 (0: none); ``crash_master`` crashes the master at t=1.5 (back at
    2.3); ``partition`` cuts ``c1`` off from the cell 1.0-2.0; ``lease`` is the master's lease
    (the client's is 5/6 of it, KeepAlives every third of it)."""
    integer("seed", seed, 0)
    pause_client = number("pause_client", pause_client, 0.0, 3.0)
    flag("crash_master", crash_master)
    flag("partition", partition)
    lease = number("lease", lease, 0.2, 3.0)
    flag("fenced", fenced)
    config = CellConfig(lease=lease, client_lease=lease * 5 / 6, keepalive=lease / 3)
    actions: list[tuple[float, str, str]] = []
    if pause_client > 0:
        actions += [(1.0, "gc", "primary"), (1.0 + pause_client, "resume", "primary")]
    if crash_master:
        actions += [(1.5, "crash", "master"), (2.3, "restart", "master")]
    faults = "partition c1 | n1,n2,n3,n4,n5,c2,res at 1.0 heal 2.0" if partition else None
    run = run_cell(seed, election=2, config=config, fenced=fenced, actions=actions, faults=faults,
                   until=5.0)
    return lock_figure(run), lock_summary(run)


__all__ = ["lock_figure", "lock_panel", "lock_summary"]
