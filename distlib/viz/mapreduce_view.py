"""Chapter 09's MapReduce figures: a task Gantt chart, the shuffle's data flow, read locality.

>>> fig = gantt_figure(run)          # doctest: +SKIP
>>> print(gantt_summary(run))        # doctest: +SKIP

* :func:`gantt_figure` -- one lane per worker; a bar per phase of every task attempt (map: read, map,
  write; reduce: shuffle, reduce, write + commit), read from each worker's ``storage["timeline"]``.
  Backup attempts are hatched ``/``, re-executions hatched ``x``; the part of an attempt lost when its
  worker failed is a grey bar up to the moment the master noticed; a completed map task whose output
  died with its worker's disk gets a vermillion ring; crashes, restarts and pauses are marked on the
  lanes, the master's failure detections with a diamond, the end of the job with a dashed line.
* :func:`dataflow_figure` -- a Sankey diagram from the M map tasks to the R reduce tasks, each link as
  wide as the bytes of that region delivered in the shuffle (re-fetches included: bytes *moved*).
* :func:`locality_figure` -- map attempts by where they read their block: local disk, same rack, another
  rack (Dean & Ghemawat §3.4), for one run or several side by side.

Each has a text twin (``*_summary``) printed under the figure: nbval compares the text, not the plotly
JSON. Everything is read from the run's storage and trace (never from live node objects), so the same
run gives the same JSON.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from distlib.sim import Crash, Pause, Restart, Resume

from . import theme

MAP_COLORS = {"read": "#56B4E9", "map": "#0072B2", "write": "#1B4F72"}      # blues: the map phase
REDUCE_COLORS = {"shuffle": "#E69F00", "reduce": "#009E73", "write": "#00573F", "commit": "#00573F"}
STOPPED = "#999999"         # killed twin of a backup, preempted, superseded, lost with its worker
_PHASES = (("map", "read", "map: read block"), ("map", "map", "map: map + partition + combine"),
           ("map", "write", "map: write regions to local disk"),
           ("reduce", "shuffle", "reduce: shuffle (fetch regions)"),
           ("reduce", "reduce", "reduce: sort + reduce"),
           ("reduce", "write", "reduce: write temp file + rename"))
_STOP_PHASES = ("killed", "superseded", "failed")


def _unpack(run: Any) -> Any:
    if not all(hasattr(run, a) for a in ("attempts", "world", "workers", "splits", "reduces")):
        raise ValueError(f"run must be a MapReduceRun (from distlib.compute.mapreduce.run_mapreduce; got "
                         f"{type(run).__name__})")
    return run


def _label(info: dict) -> str:
    return f"{'m' if info['kind'] == 'map' else 'r'}{info['task']}"


def _flags(info: dict) -> str:
    out = []
    if info["backup"]:
        out.append("backup")
    if info["reexec"]:
        out.append("re-run")
    return " ".join(out)


def lost_outputs(run: Any) -> dict[int, tuple[float, str]]:
    """Completed map attempts whose output died with their worker (§3.3): attempt -> (time the master
    reset the task, worker). Read from the master's events ("map task i will re-execute: ... with w")."""
    run = _unpack(run)
    out: dict[int, tuple[float, str]] = {}
    for t, text in run.master.get("events", ()):
        if text.startswith("map task ") and "re-execute" in text:
            task, worker = int(text.split()[2]), text.rsplit(" ", 1)[1]
            done = [a for a, i in run.attempts.items() if i["kind"] == "map" and i["task"] == task
                    and i["worker"] == worker and i["status"] == "done" and i["end"] <= t and a not in out]
            if done:
                out[max(done)] = (t, worker)
    return out


def _faults(run: Any) -> list[tuple[float, str, str]]:
    """(time, worker, "crash" | "restart" | "pause" | "resume") from the trace."""
    names = {Crash: "crash", Restart: "restart", Pause: "pause", Resume: "resume"}
    lanes = set(run.workers)
    return [(r.time, r.node, names[type(r)]) for r in run.world.trace.of(Crash, Restart, Pause, Resume)
            if r.node in lanes]


def _detections(run: Any) -> list[tuple[float, str, str]]:
    """(time, worker, text) of every failure the master detected."""
    out = []
    for t, text in run.master.get("events", ()):
        if text.startswith("worker "):
            out.append((t, text.split()[1], text))
    return out


def gantt_figure(run: Any, *, title: str | None = None) -> go.Figure:
    """The task Gantt chart of ``run`` (a :class:`~distlib.compute.mapreduce.MapReduceRun`)."""
    run = _unpack(run)
    attempts = run.attempts
    lanes = list(run.workers)
    end = run.job_time if run.job_time is not None else run.world.now
    span = max(end, 1e-3)
    bars: dict[str, dict[str, list]] = {}
    recorded_end: dict[int, float] = {}

    def add(group: str, worker: str, start: float, stop: float, pattern: str, hover: str) -> None:
        b = bars.setdefault(group, {"y": [], "base": [], "x": [], "pattern": [], "hover": []})
        b["y"].append(worker)
        b["base"].append(start)
        b["x"].append(max(stop - start, 0.0))
        b["pattern"].append(pattern)
        b["hover"].append(html.escape(hover))

    for w in lanes:
        for a, kind, task, phase, start, stop in run.world.storage[w].get("timeline", ()):
            info = attempts.get(a, {"backup": False, "reexec": False, "status": "?"})
            recorded_end[a] = max(recorded_end.get(a, 0.0), stop)
            pattern = "/" if info["backup"] else ("x" if info["reexec"] else "")
            if phase == "failed":
                group = "failed (user code raised)"
            elif phase in _STOP_PHASES:
                group = "stopped (killed twin, preempted)"
            else:
                group = next(name for k, p, name in _PHASES if k == kind and p == (
                    "write" if phase == "commit" else phase))
            flags = _flags(info) if a in attempts else ""
            add(group, w, start, stop, pattern,
                f"{kind} task {task}, attempt {a}{' (' + flags + ')' if flags else ''}: {phase} "
                f"{start:.3f}-{stop:.3f} s on {w}; attempt {info['status']}")
    for a, info in attempts.items():     # what a failed worker was doing: lost, up to the detection
        if info["status"] == "lost" and info["end"] is not None:
            start = max(recorded_end.get(a, info["start"]), info["start"])
            add("lost with its worker", info["worker"], start, info["end"], "",
                f"{info['kind']} task {info['task']}, attempt {a}: lost when {info['worker']} failed "
                f"(the master noticed at {info['end']:.3f} s)")

    data: list[dict[str, Any]] = []
    colors = {name: (MAP_COLORS if k == "map" else REDUCE_COLORS)[p] for k, p, name in _PHASES}
    colors["stopped (killed twin, preempted)"] = STOPPED
    colors["lost with its worker"] = "#DDDDDD"
    colors["failed (user code raised)"] = theme.FAULT
    order = [name for _k, _p, name in _PHASES] + ["stopped (killed twin, preempted)", "lost with its worker",
                                                  "failed (user code raised)"]
    for group in order:
        b = bars.get(group)
        if not b:
            continue
        data.append(dict(type="bar", orientation="h", y=b["y"], base=b["base"], x=b["x"], name=group,
                         width=0.6, hovertext=b["hover"], hoverinfo="text",
                         marker=dict(color=colors[group], line=dict(width=0.5, color="white"),
                                     pattern=dict(shape=b["pattern"], fgcolor="white", size=6))))
    # one label per attempt, at its start: m3, r1, m6 backup, m2 re-run
    labels = sorted((info["start"], info["worker"], " ".join(filter(None, (_label(info), _flags(info)))))
                    for info in attempts.values())
    if labels:
        data.append(dict(type="scatter", mode="text", x=[s for s, *_ in labels],
                         y=[w for _s, w, _t in labels],
                         text=[t for *_, t in labels], textposition="top right", showlegend=False,
                         textfont=dict(size=10, color=theme.TEXT), hoverinfo="skip"))
    lost = lost_outputs(run)
    if lost:
        pts = [(attempts[a], t) for a, (t, _w) in sorted(lost.items())]
        data.append(dict(type="scatter", mode="markers", name="map output lost (on the failed disk)",
                         x=[(i["start"] + i["end"]) / 2 for i, _ in pts], y=[i["worker"] for i, _ in pts],
                         marker=dict(symbol="circle-open", size=18, color=theme.FAULT, line=dict(width=3)),
                         hovertext=[html.escape(f"map task {i['task']} completed on {i['worker']}, but its "
                                                f"output died with it: re-executed (reset at {t:.3f} s)")
                                    for i, t in pts], hoverinfo="text"))
    styles = {"crash": ("x", theme.FAULT), "restart": ("triangle-right", theme.RESTART),
              "pause": ("line-ns", theme.PAUSE), "resume": ("triangle-right-open", theme.PAUSE)}
    faults = _faults(run)
    for what, (symbol, color) in styles.items():
        pts = [(t, w) for t, w, k in faults if k == what]
        if pts:
            data.append(dict(type="scatter", mode="markers", name=what, x=[t for t, _ in pts],
                             y=[w for _, w in pts], marker=dict(symbol=symbol, size=15, color=color,
                                                               line=dict(width=3, color=color)),
                             hovertext=[f"{w} {what} at {t:.3f} s" for t, w in pts], hoverinfo="text"))
    seen = _detections(run)
    if seen:
        data.append(dict(type="scatter", mode="markers", name="master declares the worker failed",
                         x=[t for t, *_ in seen], y=[w for _t, w, _x in seen],
                         marker=dict(symbol="diamond-open", size=13, color=theme.FAULT, line=dict(width=2)),
                         hovertext=[html.escape(f"{x} (t={t:.3f})") for t, _w, x in seen], hoverinfo="text"))
    shapes, notes = [], []
    if run.job_time is not None:
        shapes.append(dict(type="line", x0=run.job_time, x1=run.job_time, xref="x", yref="paper", y0=0, y1=1,
                           line=dict(color=theme.TEXT, width=1.5, dash="dash")))
        notes.append(dict(x=run.job_time, y=1, xref="x", yref="paper", showarrow=False, xanchor="right",
                          yanchor="bottom", text=f"job {run.status} {run.job_time:.2f} s",
                          font=dict(size=11, color=theme.TEXT)))
    if title is None:
        title = gantt_title(run)
    layout = dict(
        title=dict(text=html.escape(title), y=0.99, yref="container", yanchor="top"),
        barmode="overlay", bargap=0.3, height=200 + 42 * len(lanes), margin=dict(l=60, r=20, t=120, b=45),
        hovermode="closest", shapes=shapes, annotations=notes,
        legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom", font=dict(size=11)),
        xaxis=dict(title=dict(text="simulated time (s)"), range=[-0.01 * span, span * 1.05], zeroline=False),
        yaxis=dict(type="category", categoryorder="array", categoryarray=list(reversed(lanes)),
                   range=[-0.6, len(lanes) - 0.3], fixedrange=True, autorange=False),
    )
    return go.Figure(data=data, layout=layout)


def gantt_title(run: Any) -> str:
    t = f"{run.job_time:.2f} s" if run.job_time is not None else "not finished"
    backups = "backups on" if run.backups else "backups off"
    return (f"{run.job.name}: M={len(run.splits)} R={run.reduces} on {len(run.workers)} workers, {backups}"
            f" -- {run.status}, {t}")


def gantt_summary(run: Any) -> str:
    """The text twin of :func:`gantt_figure`: each worker's attempts in order, then the faults."""
    run = _unpack(run)
    lost = lost_outputs(run)
    lines = []
    for w in run.workers:
        mine = sorted((i["start"], a) for a, i in run.attempts.items() if i["worker"] == w)
        parts = []
        for _s, a in mine:
            i = run.attempts[a]
            stop = f"{i['end']:.2f}" if i["end"] is not None else "..."
            status = "" if i["status"] == "done" else f" {i['status'].upper()}"
            if a in lost:
                status += " OUTPUT-LOST"
            flags = f" {_flags(i)}" if _flags(i) else ""
            parts.append(f"{_label(i)} {i['start']:.2f}-{stop}{flags}{status}")
        lines.append(f"{w}: " + (", ".join(parts) if parts else "idle"))
    faults = _faults(run)
    if faults:
        lines.append("faults: " + ", ".join(f"{w} {k} @{t:.2f}" for t, w, k in faults))
    for t, _w, text in _detections(run):
        lines.append(f"master @{t:.2f}: {text}")
    execs = {k: run.executions(k) for k in ("map", "reduce")}
    backups = sum(1 for i in run.attempts.values() if i["backup"])
    reexec = sum(1 for i in run.attempts.values() if i["reexec"])
    when = f"{run.job_time:.2f} s" if run.job_time is not None else f"not finished by {run.world.now:g} s"
    lines.append(f"job {run.status} in {when}: {sum(execs['map'].values())} map attempts for "
                 f"{len(run.splits)} tasks, {sum(execs['reduce'].values())} reduce attempts for "
                 f"{run.reduces}; "
                 f"{backups} backups, {reexec} re-executions, {len(lost)} map outputs lost")
    return "\n".join(lines)


# ---- the shuffle -----------------------------------------------------------------------------------------
def shuffle_matrix(run: Any) -> dict[tuple[int, int], int]:
    """(map task, region) -> bytes of that region delivered to reduce workers (re-fetches included).
    Sums to :meth:`~distlib.compute.mapreduce.MapReduceRun.shuffle_bytes`."""
    from distlib.compute.mapreduce import Region  # viz reads the library's message type

    run = _unpack(run)
    out: dict[tuple[int, int], int] = {}
    for r in run.world.trace.records:
        if r.kind == "deliver" and isinstance(r.msg, Region) and r.msg.pairs is not None:
            key = (r.msg.map_task, r.msg.region)
            out[key] = out.get(key, 0) + r.msg.size
    return dict(sorted(out.items()))


def _region_records(run: Any) -> dict[int, int]:
    files = run.output_files()
    return {r: len(files.get(f"{run.out}/part-{r:05d}", ())) for r in range(run.reduces)}


def dataflow_figure(run: Any, *, title: str | None = None) -> go.Figure:
    """A Sankey diagram: M map tasks (input bytes) -> R reduce tasks (records out), links = shuffle bytes."""
    run = _unpack(run)
    m, r = len(run.splits), run.reduces
    flows = shuffle_matrix(run)
    out_records = _region_records(run)
    sent = {i: sum(b for (mi, _), b in flows.items() if mi == i) for i in range(m)}
    got = {j: sum(b for (_, rj), b in flows.items() if rj == j) for j in range(r)}
    labels = [f"map {i}: {sp.size} B in, {sent[i]} B out" for i, sp in enumerate(run.splits)]
    labels += [f"reduce {j}: {got[j]} B in, {out_records[j]} records" for j in range(r)]

    def ys(n: int) -> list[float]:
        return [0.02 + 0.96 * (k + 0.5) / n for k in range(n)]

    colors = [theme.MESSAGE_COLORS[j % len(theme.MESSAGE_COLORS)] for j in range(r)]
    link_colors = [_fade(colors[j]) for (_i, j) in flows]
    node = dict(label=[html.escape(s) for s in labels], pad=6, thickness=14,
                x=[0.01] * m + [0.99] * r, y=ys(m) + ys(r),
                color=["#0072B2"] * m + colors, line=dict(width=0))
    link = dict(source=[i for i, _ in flows], target=[m + j for _, j in flows], value=list(flows.values()),
                color=link_colors,
                customdata=[f"map {i} -> reduce {j}: {b} B" for (i, j), b in flows.items()],
                hovertemplate="%{customdata}<extra></extra>")
    data = [dict(type="sankey", arrangement="fixed", node=node, link=link, valueformat="d", valuesuffix=" B")]
    if title is None:
        comb = "with" if run.job.combiner is not None else "without"
        title = (f"The shuffle: {sum(flows.values())} B from M={m} map tasks to R={r} reduce tasks "
                 f"({run.job.name}, {comb} combiner)")
    layout = dict(title=dict(text=html.escape(title)), height=max(320, 34 * max(m, r) + 120),
                  margin=dict(l=20, r=20, t=60, b=20), font=dict(size=12))
    return go.Figure(data=data, layout=layout)


def _fade(color: str, alpha: float = 0.45) -> str:
    c = color.lstrip("#")
    return f"rgba({int(c[0:2], 16)}, {int(c[2:4], 16)}, {int(c[4:6], 16)}, {alpha})"


def dataflow_summary(run: Any) -> str:
    """The text twin of :func:`dataflow_figure`: bytes in, shuffled per region, records out."""
    run = _unpack(run)
    flows = shuffle_matrix(run)
    out_records = _region_records(run)
    total_in = sum(sp.size for sp in run.splits)
    total = sum(flows.values())
    per_region = ", ".join(f"r{j} {sum(b for (_, rj), b in flows.items() if rj == j)} B"
                           for j in range(run.reduces))
    per_map = ", ".join(f"m{i} {sum(b for (mi, _), b in flows.items() if mi == i)}"
                        for i in range(len(run.splits)))
    comb = "with" if run.job.combiner is not None else "without"
    biggest = max(flows.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]), default=None)
    lines = [f"input {total_in} B in {len(run.splits)} splits; shuffle {total} B ({comb} combiner, "
             f"{100 * total / max(total_in, 1):.0f}% of the input); output "
             f"{sum(out_records.values())} records",
             f"into each reduce task: {per_region}",
             f"out of each map task (B): {per_map}"]
    if biggest is not None:
        (i, j), b = biggest
        lines.append(f"largest link: map {i} -> reduce {j}, {b} B")
    return "\n".join(lines)


# ---- locality ------------------------------------------------------------------------------------------
_WHERE = (("local", "local disk"), ("rack", "same rack"), ("remote", "another rack"))


def _runs(runs: Any) -> dict[str, Any]:
    if isinstance(runs, Mapping):
        if not runs:
            raise ValueError("runs must not be empty (got {})")
        return {str(k): _unpack(v) for k, v in runs.items()}
    run = _unpack(runs)
    return {f"{run.job.name}, {len(run.workers)} workers": run}


def locality_figure(runs: Any, *, title: str | None = None) -> go.Figure:
    """Map attempts by where their block was read, for one run or a dict label -> run (grouped bars)."""
    named = _runs(runs)
    data = []
    for k, (label, run) in enumerate(named.items()):
        reads = run.reads()
        data.append(dict(type="bar", name=html.escape(label), x=[w for _, w in _WHERE],
                         y=[reads[key] for key, _ in _WHERE], text=[reads[key] for key, _ in _WHERE],
                         textposition="outside", marker=dict(color=theme.MESSAGE_COLORS[k % 8])))
    layout = dict(title=dict(text=html.escape(title or "Where map tasks read their input block (§3.4)")),
                  barmode="group", height=330, margin=dict(l=60, r=20, t=60, b=45),
                  yaxis=dict(title=dict(text="map attempts")),
                  legend=dict(orientation="h", x=0, y=-0.2, xanchor="left", yanchor="top"))
    return go.Figure(data=data, layout=layout)


def locality_summary(runs: Any) -> str:
    """The text twin of :func:`locality_figure`: one line per run."""
    lines = []
    for label, run in _runs(runs).items():
        reads = run.reads()
        n = sum(reads.values())
        lines.append(f"{label}: local {reads['local']}, same rack {reads['rack']}, another rack "
                     f"{reads['remote']} of {n} map attempts ({100 * reads['local'] / max(n, 1):.0f}% local)")
    return "\n".join(lines)


__all__ = ["dataflow_figure", "dataflow_summary", "gantt_figure", "gantt_summary", "gantt_title",
           "locality_figure", "locality_summary", "lost_outputs", "shuffle_matrix"]
