"""Chapter 10's RDD figures: the lineage cut into stages, a timeline of tasks per executor, and time per
iteration of an iterative program.

>>> fig = lineage_figure(counts)          # doctest: +SKIP
>>> print(lineage_summary(counts))        # doctest: +SKIP

* :func:`lineage_figure` -- every RDD of a program's lineage as a box, sources on the left; narrow
  dependencies as grey lines, shuffle (wide) dependencies as dashed orange arrows; the boxes of one
  stage inside one shaded rectangle (Zaharia et al. NSDI 2012, Fig. 5: stages are cut at shuffles,
  narrow dependencies are pipelined in one task); cached RDDs drawn with a thick black border,
  checkpointed ones with a double square.
* :func:`timeline_figure` -- one lane per executor; a bar per task attempt coloured by its stage;
  recomputations (a lost map output or cached partition computed again) hatched ``x``; attempts lost
  with their executor or refused by a FetchFailed in grey; cache hits as diamonds at the task's start;
  crashes and restarts on the lanes; the end of every job as a dotted line.
* :func:`iterations_figure` -- simulated seconds per iteration of one or several iterative runs
  (:func:`~distlib.compute.rdd_runs.iterate`) side by side: the shape of the paper's Fig. 7.

Each has a text twin (``*_summary``) printed under the figure: nbval compares the text, not the plotly
JSON. Stages in the lineage figure are the ones a *first* job on the RDD would build (a fresh
:class:`~distlib.compute.rdd_scheduler.DAG`, parents first, numbered from 0 as Spark numbers them);
the timeline reads the run's records (``sc.jobs``, ``sc.crashes``, the world's trace).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from distlib.sim import Crash, Restart

from . import theme

STAGE_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#B8A200")
STAGE_FILLS = ("rgba(0,114,178,0.09)", "rgba(230,159,0,0.10)", "rgba(0,158,115,0.09)",
               "rgba(204,121,167,0.10)", "rgba(86,180,233,0.10)", "rgba(184,162,0,0.10)")
NARROW = "#888888"
SHUFFLE = "#E69F00"
LOST = "#CCCCCC"


# ---- the lineage and its stages -------------------------------------------------------------------------
def _rdd(rdd: Any) -> Any:
    if not (hasattr(rdd, "dependencies") and hasattr(rdd, "getNumPartitions") and hasattr(rdd, "ctx")):
        raise ValueError(f"rdd must be an RDD of distlib.compute.rdd (got {type(rdd).__name__})")
    return rdd


def _op(rdd: Any) -> str:
    return rdd.site.split(" at ")[0]


def _label(rdd: Any) -> str:
    name = f"{rdd.name()} " if rdd.name() else ""
    return f"{name}{rdd.kind}[{rdd.id}]"


def lineage(rdd: Any) -> dict[str, Any]:
    """The lineage graph of ``rdd`` with the stages a first job on it would have.

    Returns ``{"rdds": {id: rdd}, "edges": [(child id, parent id, wide)], "stages": [(stage id, kind,
    tasks, [rdd ids pipelined in it])], "stage_of": {rdd id: stage id}, "depth": {rdd id: column}}``.
    An RDD pipelined in several stages (used below two shuffles and not cached) is in each stage's
    list; ``stage_of`` names the first.
    """
    from distlib.compute.rdd_scheduler import DAG, narrow_rdds  # viz reads the library's scheduler

    rdd = _rdd(rdd)
    rdds: dict[int, Any] = {}
    edges: list[tuple[int, int, bool]] = []

    def walk(r: Any) -> None:
        if r.id in rdds:
            return
        rdds[r.id] = r
        for d in r.dependencies:
            edges.append((r.id, d.rdd.id, bool(d.wide)))
            walk(d.rdd)
    walk(rdd)
    dag = DAG()
    final = dag.result_stage(rdd)
    stages = []
    stage_of: dict[int, int] = {}
    for st in dag.all_stages(final):
        members = [r.id for r in narrow_rdds(st.rdd)]
        stages.append((st.id, st.kind, st.partitions, sorted(members)))
    for sid, _kind, _n, members in sorted(stages):
        for m in members:
            stage_of.setdefault(m, sid)
    depth: dict[int, int] = {}

    def col(i: int) -> int:
        if i not in depth:
            parents = [p for c, p, _w in edges if c == i]
            depth[i] = 0 if not parents else 1 + max(col(p) for p in parents)
        return depth[i]
    for i in rdds:
        col(i)
    return {"rdds": rdds, "edges": edges, "stages": sorted(stages), "stage_of": stage_of, "depth": depth}


def _positions(g: dict[str, Any]) -> dict[int, tuple[float, float]]:
    """Each stage in its own horizontal band (so stage rectangles never overlap), columns by depth."""
    pos: dict[int, tuple[float, float]] = {}
    top = 0.0
    for sid, _kind, _n, members in g["stages"]:
        columns: dict[int, list[int]] = {}
        for m in members:
            if g["stage_of"].get(m) == sid and m not in pos:
                columns.setdefault(g["depth"][m], []).append(m)
        if not columns:
            continue
        for d, ids in columns.items():
            for row, i in enumerate(sorted(ids)):
                pos[i] = (float(d), -(top + row))
        top += max(len(ids) for ids in columns.values()) + 1.3
    for i in sorted(g["rdds"]):        # not in any stage's pipeline (never expected): a last band
        if i not in pos:
            pos[i] = (float(g["depth"][i]), -top)
    return pos


def lineage_figure(rdd: Any, *, title: str | None = None) -> go.Figure:
    """The lineage of ``rdd`` as boxes and arrows, grouped into stages (see the module docstring)."""
    g = lineage(rdd)
    pos = _positions(g)
    data: list[dict[str, Any]] = []
    for wide, name, color, dash in ((False, "narrow dependency (pipelined)", NARROW, "solid"),
                                    (True, "shuffle dependency (stage boundary)", SHUFFLE, "dash")):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for c, p, w in g["edges"]:
            if w == wide:
                xs += [pos[p][0], pos[c][0], None]
                ys += [pos[p][1], pos[c][1], None]
        if xs:
            data.append(dict(type="scatter", mode="lines", x=xs, y=ys, name=name, hoverinfo="skip",
                             line=dict(color=color, width=3 if wide else 2, dash=dash)))
    ids = sorted(g["rdds"], key=lambda i: (g["depth"][i], i))
    colors = [STAGE_COLORS[g["stage_of"].get(i, 0) % len(STAGE_COLORS)] for i in ids]
    symbols, widths, lines = [], [], []
    for i in ids:
        r = g["rdds"][i]
        symbols.append("square" if not (r.checkpointed is not None or r.checkpoint_wanted) else "square-dot")
        widths.append(4 if r.persisted else 1)
        lines.append(theme.TEXT if r.persisted else "white")
    hover = []
    for i in ids:
        r = g["rdds"][i]
        flags = [f for f, on in (("cached", r.persisted),
                                 ("checkpointed", r.checkpointed is not None or r.checkpoint_wanted)) if on]
        hover.append(html.escape(f"{r!r}: {r.getNumPartitions()} partitions, stage {g['stage_of'].get(i)}"
                                 + (f" ({', '.join(flags)})" if flags else "")))
    data.append(dict(type="scatter", mode="markers+text", x=[pos[i][0] for i in ids],
                     y=[pos[i][1] for i in ids], name="RDD (thick border: cached)",
                     text=[f"{_label(g['rdds'][i])}<br>{html.escape(_op(g['rdds'][i]))}"
                           f"{' (cached)' if g['rdds'][i].persisted else ''}" for i in ids],
                     # labels alternate below/above by column, so long lineages stay readable
                     textposition=["bottom center" if g["depth"][i] % 2 == 0 else "top center" for i in ids],
                     textfont=dict(size=10, color=theme.TEXT),
                     hovertext=hover, hoverinfo="text",
                     marker=dict(symbol=symbols, size=22, color=colors,
                                 line=dict(width=widths, color=lines))))
    shapes, notes = [], []
    for sid, kind, n, members in g["stages"]:
        own = [m for m in members if g["stage_of"].get(m) == sid]
        if not own:
            continue
        x0 = min(pos[m][0] for m in own) - 0.35
        x1 = max(pos[m][0] for m in own) + 0.35
        y0 = min(pos[m][1] for m in own) - 0.5
        y1 = max(pos[m][1] for m in own) + 0.55      # room for the labels above odd columns
        shapes.append(dict(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, xref="x", yref="y", layer="below",
                           fillcolor=STAGE_FILLS[sid % len(STAGE_FILLS)],
                           line=dict(color=STAGE_COLORS[sid % len(STAGE_COLORS)], width=1)))
        notes.append(dict(x=x0, y=y1, xref="x", yref="y", xanchor="left", yanchor="bottom", showarrow=False,
                          text=f"stage {sid}: {kind}, {n} tasks",
                          font=dict(size=11, color=STAGE_COLORS[sid % len(STAGE_COLORS)])))
    ncol = max(g["depth"].values()) + 1
    nrow = max(-y for _x, y in pos.values()) + 1.2
    if title is None:
        title = (f"Lineage of {_label(rdd)}: {len(g['rdds'])} RDDs, {len(g['stages'])} stages, "
                 f"{sum(1 for e in g['edges'] if e[2])} shuffle dependencies")
    layout = dict(
        title=dict(text=html.escape(title)), showlegend=True, hovermode="closest",
        height=round(200 + 70 * nrow), margin=dict(l=20, r=20, t=90, b=20), shapes=shapes, annotations=notes,
        legend=dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom", font=dict(size=11)),
        xaxis=dict(visible=False, range=[-0.9, ncol - 0.1], fixedrange=True),
        yaxis=dict(visible=False, range=[-nrow + 0.6, 1.0], fixedrange=True),
    )
    return go.Figure(data=data, layout=layout)


def lineage_summary(rdd: Any) -> str:
    """The text twin of :func:`lineage_figure`: each stage with the RDDs it pipelines, then the shuffles."""
    g = lineage(rdd)
    lines = []
    for sid, kind, n, members in g["stages"]:
        chain = " -> ".join(f"{_label(g['rdds'][m])} {_op(g['rdds'][m])}"
                            f"{' (cached)' if g['rdds'][m].persisted else ''}" for m in members)
        lines.append(f"stage {sid} ({kind}, {n} tasks): {chain}")
    shuffles = [(c, p) for c, p, w in g["edges"] if w]
    narrow = sum(1 for e in g["edges"] if not e[2])
    lines.append(f"{len(g['rdds'])} RDDs, {narrow} narrow dependencies, {len(shuffles)} shuffle dependencies"
                 + (": " + ", ".join(f"{_label(g['rdds'][p])} => {_label(g['rdds'][c])}" for c, p in shuffles)
                    if shuffles else ""))
    return "\n".join(lines)


# ---- tasks on executors --------------------------------------------------------------------------------
def _context(source: Any) -> Any:
    sc = getattr(source, "sc", source)
    if not (hasattr(sc, "jobs") and hasattr(sc, "crashes") and hasattr(sc, "names")):
        raise ValueError(f"source must be a Context, an RDDRun or an Iterations "
                         f"(got {type(source).__name__})")
    if getattr(sc, "master", None) != "sim":
        raise ValueError(f"source must run on master='sim' (a timeline needs simulated executors; got "
                         f"{getattr(sc, 'master', None)!r})")
    return sc


def _restarts(sc: Any) -> list[tuple[float, str, str]]:
    names = {Crash: "crash", Restart: "restart"}
    lanes = set(sc.names)
    return [(r.time, r.node, names[type(r)]) for r in sc.world.trace.of(Crash, Restart) if r.node in lanes]


def timeline_figure(source: Any, *, title: str | None = None) -> go.Figure:
    """Task attempts per executor over simulated time (see the module docstring)."""
    sc = _context(source)
    lanes = list(sc.names)
    tasks = [t for j in sc.jobs for t in j.tasks]
    now = sc.now
    end = max([j.end for j in sc.jobs if j.end is not None] + [now, 1e-3])
    stage_ids = sorted({t.stage for t in tasks})
    many = len(stage_ids) > 8
    groups: dict[str, dict[str, list]] = {}
    colors: dict[str, str] = {}

    def add(group: str, color: str, t: Any, pattern: str) -> None:
        b = groups.setdefault(group, {"y": [], "base": [], "x": [], "pattern": [], "hover": [], "color": []})
        colors.setdefault(group, color)
        stop = t.end if t.end is not None else now
        b["y"].append(t.executor)
        b["base"].append(t.start)
        b["x"].append(max(stop - t.start, 0.0))
        b["pattern"].append(pattern)
        b["color"].append(color)
        extra = []
        if t.recompute:
            extra.append("recomputation")
        if t.hits:
            extra.append(f"{len(t.hits)} cache hits")
        if t.computed:
            extra.append(f"cached {len(t.computed)} partitions")
        b["hover"].append(html.escape(
            f"job {t.job} stage {t.stage} ({t.kind}) partition {t.partition}, attempt {t.attempt} on "
            f"{t.executor}: {t.start:.3f}-{stop:.3f} s, {t.outcome}, {t.locality}"
            + (f" ({', '.join(extra)})" if extra else "")))

    for t in tasks:
        color = STAGE_COLORS[t.stage % len(STAGE_COLORS)]
        if t.outcome not in ("success", "running"):
            add(f"{t.outcome} (lost work)", LOST, t, "")
        elif many:
            add(f"{t.kind} tasks", color, t, "x" if t.recompute else "")
        else:
            add(f"stage {t.stage} ({t.kind})", color, t, "x" if t.recompute else "")
    data: list[dict[str, Any]] = []
    order = sorted(groups, key=lambda g: (g.endswith("(lost work)"), g))
    for g in order:
        b = groups[g]
        data.append(dict(type="bar", orientation="h", y=b["y"], base=b["base"], x=b["x"], name=g, width=0.6,
                         hovertext=b["hover"], hoverinfo="text",
                         marker=dict(color=b["color"], line=dict(width=0.5, color="white"),
                                     pattern=dict(shape=b["pattern"], fgcolor="white", size=6))))
    rec = [t for t in tasks if t.recompute and t.outcome == "success"]
    if rec:   # a legend entry for the hatch (the bars themselves carry it)
        data.append(dict(type="scatter", mode="markers", name="recomputation (hatched x)",
                         x=[(t.start + (t.end or now)) / 2 for t in rec], y=[t.executor for t in rec],
                         marker=dict(symbol="x-thin-open", size=9, color=theme.TEXT, line=dict(width=1.5)),
                         hovertext=[f"job {t.job} stage {t.stage} partition {t.partition} recomputed on "
                                    f"{t.executor}" for t in rec], hoverinfo="text"))
    hits = [t for t in tasks if t.hits]
    if hits:
        data.append(dict(type="scatter", mode="markers", name="read a cached partition",
                         x=[t.start for t in hits], y=[t.executor for t in hits],
                         marker=dict(symbol="diamond", size=8, color=theme.TEXT),
                         hovertext=[f"{len(t.hits)} cached partition(s) read by job {t.job} stage {t.stage} "
                                    f"partition {t.partition}" for t in hits], hoverinfo="text"))
    styles = {"crash": ("x", theme.FAULT), "restart": ("triangle-right", theme.RESTART)}
    faults = _restarts(sc)
    for what, (symbol, color) in styles.items():
        pts = [(t, e) for t, e, k in faults if k == what]
        if pts:
            data.append(dict(type="scatter", mode="markers", name=f"executor {what}", x=[t for t, _ in pts],
                             y=[e for _, e in pts], marker=dict(symbol=symbol, size=15, color=color,
                                                               line=dict(width=3, color=color)),
                             hovertext=[f"{e} {what} at {t:.3f} s" for t, e in pts], hoverinfo="text"))
    shapes = [dict(type="line", x0=j.end, x1=j.end, xref="x", yref="paper", y0=0, y1=1,
                   line=dict(color=theme.TEXT, width=1, dash="dot")) for j in sc.jobs if j.end is not None]
    if title is None:
        title = (f"{len(sc.jobs)} job(s) on {len(lanes)} executors: {len(tasks)} task attempts, "
                 f"{len(rec)} recomputations, {len(sc.crashes)} crash(es)")
    layout = dict(
        title=dict(text=html.escape(title), y=0.99, yref="container", yanchor="top"),
        barmode="overlay", bargap=0.3, height=200 + 42 * len(lanes), margin=dict(l=60, r=20, t=110, b=45),
        hovermode="closest", shapes=shapes,
        legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom", font=dict(size=11)),
        xaxis=dict(title=dict(text="simulated time (s)"), range=[-0.01 * end, end * 1.03], zeroline=False),
        yaxis=dict(type="category", categoryorder="array", categoryarray=list(reversed(lanes)),
                   range=[-0.6, len(lanes) - 0.3], fixedrange=True, autorange=False),
    )
    return go.Figure(data=data, layout=layout)


def timeline_summary(source: Any, *, tasks: bool = False) -> str:
    """The text twin of :func:`timeline_figure`: one line per job, per executor, per crash and per
    recomputed task (``tasks=True``: every attempt too)."""
    sc = _context(source)
    lines = [j.summary() for j in sc.jobs]
    for e in sc.names:
        mine = [t for j in sc.jobs for t in j.tasks if t.executor == e]
        ok = sum(1 for t in mine if t.outcome == "success")
        rec = sum(1 for t in mine if t.recompute and t.outcome == "success")
        hits = sum(len(t.hits) for t in mine)
        lost = sum(1 for t in mine if t.outcome not in ("success", "running"))
        lines.append(f"{e}: {ok} tasks" + (f", {rec} recomputations" if rec else "")
                     + (f", {hits} cache hits" if hits else "") + (f", {lost} attempts lost" if lost else ""))
        if tasks:
            for t in sorted(mine, key=lambda t: t.start):
                stop = f"{t.end:.2f}" if t.end is not None else "..."
                flags = (" RECOMPUTE" if t.recompute else "") + ("" if t.outcome == "success" else
                                                                 f" {t.outcome.upper()}")
                lines.append(f"    job {t.job} stage {t.stage} p{t.partition} {t.start:.2f}-{stop}{flags}")
    for c in sc.crashes:
        cached = ", ".join(f"RDD {r} p{p}" for r, p in c.cached) or "none"
        shuffle = ", ".join(f"shuffle {s} map {m}" for s, m in c.shuffle) or "none"
        lines.append(f"{c.executor} crashed @{c.time:.2f}: lost cached partitions [{cached}], "
                     f"shuffle outputs [{shuffle}]")
    for t, e, k in _restarts(sc):
        if k == "restart":
            lines.append(f"{e} restarted (empty) @{t:.2f}")
    for j in sc.jobs:
        for t in j.recomputed():
            lines.append(f"recomputed: job {t.job} stage {t.stage} ({t.kind}) partition {t.partition} on "
                         f"{t.executor} @{t.start:.2f}")
    return "\n".join(lines)


# ---- iterations ----------------------------------------------------------------------------------------
def _runs(runs: Any) -> dict[str, Any]:
    if hasattr(runs, "times") and hasattr(runs, "program"):
        runs = {f"{runs.program}, {'cache' if runs.cache else 'no cache'}": runs}
    if not isinstance(runs, Mapping) or not runs or not all(hasattr(r, "times") for r in runs.values()):
        raise ValueError(f"runs must be an Iterations (distlib.compute.rdd_runs.iterate) or a non-empty dict "
                         f"of them (got {type(runs).__name__})")
    return dict(runs)


def iterations_figure(runs: Any, *, title: str | None = None) -> go.Figure:
    """Simulated seconds per iteration, one bar group per iteration, one colour per run."""
    runs = _runs(runs)
    data = []
    for k, (label, r) in enumerate(runs.items()):
        n = len(r.times)
        data.append(dict(type="bar", name=label, x=[f"iteration {i + 1}" for i in range(n)], y=list(r.times),
                         marker=dict(color=STAGE_COLORS[k % len(STAGE_COLORS)]),
                         text=[f"{t:.1f}" for t in r.times], textposition="outside",
                         hovertext=[f"{label}, iteration {i + 1}: {t:.3f} s, {r.tasks[i]} tasks, "
                                    f"{r.recomputed[i]} recomputed" for i, t in enumerate(r.times)],
                         hoverinfo="text"))
    if title is None:
        title = "Simulated time per iteration"
    top = max(max(r.times) for r in runs.values())
    layout = dict(title=dict(text=html.escape(title)), barmode="group", height=380,
                  margin=dict(l=60, r=20, t=80, b=45),
                  legend=dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom"),
                  yaxis=dict(title=dict(text="simulated seconds"), range=[0, top * 1.15]))
    return go.Figure(data=data, layout=layout)


def iterations_summary(runs: Any) -> str:
    """The text twin of :func:`iterations_figure`: each run's seconds per iteration, first vs later."""
    runs = _runs(runs)
    lines = []
    for label, r in runs.items():
        ts = " ".join(f"{t:.2f}" for t in r.times)
        later = r.times[1:]
        ratio = (f"; first / mean of later = {r.times[0] / (sum(later) / len(later)):.1f}x"
                 if later and sum(later) > 0 else "")
        tasks = [t for j in r.sc.jobs for t in j.tasks]
        hits = sum(len(t.hits) + len(t.remote_hits) for t in tasks)
        computed = sum(len(t.computed) for t in tasks)
        cache = f"; cached partitions: {hits} read, {computed} computed" if hits or computed else ""
        lines.append(f"{label}: {ts} s{ratio}{cache}; recomputed {sum(r.recomputed)} of {sum(r.tasks)} tasks")
    return "\n".join(lines)
