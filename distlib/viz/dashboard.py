"""Dashboards (chapter 11): the Grafana idea -- a front end that only *queries* a data source.

A :class:`Dashboard` is a list of :class:`Chart` s (Grafana calls them panels; ``Panel`` is already the
course's control panel), each defined by one PromQL query, plus a template variable (``$node``) and a
time range. Drawing a dashboard evaluates every query as a range query against the simulated TSDB
(:class:`distlib.monitoring.Engine`) -- nothing is computed from the simulator's internals -- and lays
the answers out as time series, stats, a heatmap of histogram buckets and an alert-state timeline.

>>> run = watch_raft()                                   # doctest: +SKIP
>>> dashboard_figure(run, node="n2", start=600, end=1500).show()     # doctest: +SKIP
>>> print(dashboard_summary(run, node="n2", start=600, end=1500))     # doctest: +SKIP
>>> grafana_json(RAFT_DASHBOARD)          # import into a real Grafana with a Prometheus data source

The template variable works as in Grafana: ``$node`` in a query is replaced by the chosen value, and
"All" by the regex ``.*`` (Grafana's ``allValue``), so queries write ``instance=~"$node"``.

**Decision:** the simulated run is cached per (seed, fault schedule, length, interval) and every
evaluated query per (run, query, range, step), so moving the time range or the node re-renders without
re-simulating (``benchmarks``-style timing in ``tests/test_dashboard.py``'s docstring).
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go

from distlib.monitoring import TSDB, Engine, load_rules, parse
from distlib.monitoring.scenario import RAFT_RULES, MonitoredRun
from distlib.sim.schedule_text import as_schedule, format_schedule
from distlib.sim.validate import integer, number, one_of

from .theme import FAULT, MESSAGE_COLORS, PAUSE

KINDS = ("timeseries", "stat", "heatmap", "state-timeline")
ALL = "All"
ALL_VALUE = ".*"          # what "All" stands for inside =~ (Grafana's custom allValue)
_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


# ---- the model -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chart:
    """One dashboard panel: a PromQL ``query`` drawn as ``kind``.

    ``legend`` is Grafana's legendFormat (``"{{instance}}"``); ``unit`` is shown on the axis. A heatmap
    query must return cumulative histogram buckets with an ``le`` label (one series per bucket); a
    state timeline reads ``ALERTS``-like series, whose ``alertstate`` label is ``pending`` or ``firing``.
    """

    title: str
    query: str
    kind: str = "timeseries"
    legend: str = ""
    unit: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title:
            raise ValueError(f"title must be a non-empty string (got {self.title!r})")
        one_of("kind", self.kind, KINDS)
        if not isinstance(self.query, str):
            raise ValueError(f"query must be a PromQL string (got {self.query!r})")
        parse(expand(self.query, {"node": "x"}))       # a bad query fails here, naming its position


@dataclass(frozen=True)
class Dashboard:
    """Charts, one template variable (``variable``, its values the ``label`` values of ``source``)."""

    title: str
    charts: tuple[Chart, ...]
    variable: str = "node"
    source: str = "up"
    label: str = "instance"

    def __post_init__(self) -> None:
        charts = tuple(self.charts)
        if not charts or not all(isinstance(c, Chart) for c in charts):
            raise ValueError(f"charts must be a non-empty list of Chart (got {self.charts!r})")
        object.__setattr__(self, "charts", charts)
        parse(self.source)

    def options(self, db: TSDB) -> list[str]:
        """The variable's choices: "All", then every value of ``label`` on ``source`` (Grafana's
        ``label_values(up, instance)``), sorted."""
        values = {dict(key).get(self.label) for key in db.series
                  if dict(key).get("__name__") == self.source}
        return [ALL, *sorted(v for v in values if v)]


def expand(query: str, variables: dict[str, str]) -> str:
    """``query`` with ``$name`` / ``${name}`` replaced (``All`` -> ``.*``); an unknown variable is an
    error."""
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in variables:
            raise ValueError(f"query must use only the dashboard's variables ${', $'.join(variables)} "
                             f"(got ${name})")
        value = variables[name]
        return ALL_VALUE if value == ALL else re.escape(value).replace("\\", "\\\\")
    return _VAR.sub(sub, query)


RAFT_DASHBOARD = Dashboard("Raft cluster", (
    Chart("Targets up", 'count(up{instance=~"$node"} == 1)', "stat"),
    Chart("Highest term", 'max(raft_term{instance=~"$node"})', "stat"),
    Chart("Alerts firing", 'count(ALERTS{alertstate="firing"}) or vector(0)', "stat"),
    Chart("up (scrape succeeded)", 'up{instance=~"$node"}', legend="{{instance}}"),
    Chart("Leader changes seen in 5m", 'increase(raft_leader_changes_seen_total{instance=~"$node"}[5m])',
          legend="{{instance}}"),
    Chart("Messages sent /s", 'sum by (instance) (rate(node_messages_sent_total{instance=~"$node"}[1m]))',
          legend="{{instance}}", unit="msg/s"),
    Chart("Raft term", 'raft_term{instance=~"$node"}', legend="{{instance}}"),
    Chart("RPC round trips (observations per 1m, by bucket)",
          'sum by (le) (increase(raft_rpc_duration_seconds_bucket{instance=~"$node"}[1m]))', "heatmap",
          unit="s"),
    Chart("Alerts", "ALERTS", "state-timeline", legend="{{alertname}} {{instance}}"),
))


# ---- the data source: a cached simulated run ------------------------------------------------------
NODES = ("n1", "n2", "n3", "n4", "n5")
# The faults of distlib.monitoring.scenario.raft_under_faults (seed 1, one hour) as schedule text: n2
# leads at 720 s; the partition takes the monitoring server to the minority's side. (Not the same run
# sample for sample: here the rule groups and the Alertmanager run too, and the faults are scheduled
# up front.)
DEFAULT_FAULTS = ("crash n2 at 720 restart 1080; partition n1,n2,prometheus | n3,n4,n5 at 1800 heal 2160; "
                  "pause n5 at 2700 until 2880")


def watch_raft(seed: int = 1, faults: Any = DEFAULT_FAULTS, *, until: float = 3600.0,
               interval: float = 15.0) -> MonitoredRun:
    """Five instrumented Raft servers (chapter 03's, timers stretched as in
    :func:`~distlib.monitoring.scenario.raft_under_faults`) under a fault schedule (text or
    :class:`~distlib.sim.FaultSchedule`; ``prometheus`` -- the monitoring server -- may be put in a
    partition), scraped every ``interval`` s, with the course's rule file ``RAFT_RULES`` evaluated and
    an Alertmanager. Cached: the same arguments return the same run object."""
    seed = integer("seed", seed)
    schedule = as_schedule(faults, [*NODES, "prometheus"])
    return _watch(seed, format_schedule(schedule), number("until", until, 60.0, 6 * 3600.0),
                  number("interval", interval, 1.0, 300.0))


@lru_cache(maxsize=8)
def _watch(seed: int, faults: str, until: float, interval: float) -> MonitoredRun:
    from distlib.consensus.raft import LEADER, RaftNode, make_cluster
    from distlib.monitoring import Alertmanager, MonitoringServer, Observer, instrumented
    from distlib.sim.schedule_text import parse_schedule

    world = make_cluster(len(NODES), seed=seed, cls=instrumented(RaftNode), election_timeout=(1.5, 3.0),
                         heartbeat=0.5, latency=(0.005, 0.03))
    observer = Observer(world)
    server = MonitoringServer(world, interval=interval, timeout=min(10.0, interval)).start()
    am = Alertmanager(world, group_wait=30.0, group_interval=300.0)
    for group in load_rules(RAFT_RULES, alertmanager=am):
        server.add_rules(group)
    schedule = parse_schedule(faults, [*NODES, "prometheus"])
    schedule.apply(world)

    def leader() -> str | None:      # the same choice as raft_under_faults' client (highest term)
        best = None
        for name, node in world.nodes.items():
            if world.status[name] == "up" and getattr(node, "role", None) == LEADER:
                if best is None or node.current_term > world.nodes[best].current_term:
                    best = name
        return best

    def propose_loop():
        k = 0
        while True:
            yield world.env.timeout(2.0)
            who = leader()
            if who is not None:
                world.nodes[who].propose(f"cmd{k}")
                k += 1

    world.process(propose_loop())
    world.run(until=until)
    marks = [(f.at, str(f).split(" at ")[0]) for f in schedule]
    for f in schedule:
        back = getattr(f, "restart", None) or getattr(f, "resume", None) or getattr(f, "heal", None)
        if back is not None:
            marks.append((back, "heal" if hasattr(f, "groups") else
                          ("restart " if hasattr(f, "restart") else "resume ") + f.node))
    run = MonitoredRun(world, observer, server, sorted(marks))
    run.alertmanager = am            # type: ignore[attr-defined]
    return run


_QUERY_CACHE: OrderedDict[tuple, dict] = OrderedDict()
_QUERY_CACHE_SIZE = 256


def query_range(db: TSDB, query: str, start: float, end: float, step: float) -> dict:
    """``Engine(db).range(...)``, memoised per (database, query, range, step): a re-render that moves
    nothing re-queries nothing. (A database is append-only in a finished run; a live one must not be
    drawn through this cache.)"""
    key = (id(db), db.sample_count, query, start, end, step)
    got = _QUERY_CACHE.get(key)
    if got is None:
        got = Engine(db).range(query, start, end, step)
        _QUERY_CACHE[key] = got
        if len(_QUERY_CACHE) > _QUERY_CACHE_SIZE:
            _QUERY_CACHE.popitem(last=False)
    else:
        _QUERY_CACHE.move_to_end(key)
    return got


# ---- evaluation -----------------------------------------------------------------------------------
@dataclass
class ChartData:
    chart: Chart
    query: str                              # after $node was substituted
    times: list[float]
    series: list[tuple[str, dict[float, float]]]   # (legend, {t: value}) in label order
    labels: list[dict[str, str]]                    # each series' labels, same order


def _legend(fmt: str, labels: tuple, query: str) -> str:
    d = dict(labels)
    if fmt:
        return _LEGEND.sub(lambda m: d.get(m.group(1), ""), fmt).strip() or query
    rest = [f'{k}="{v}"' for k, v in labels if k != "__name__"]
    return "{" + ", ".join(rest) + "}" if rest else d.get("__name__", query)


def _check_range(start: float, end: float, step: float) -> tuple[float, float, float]:
    start = number("start", start, 0.0)
    end = number("end", end, 0.0)
    step = number("step", step, above=True)
    if end <= start:
        raise ValueError(f"end must be after start (got start={start:g} s, end={end:g} s)")
    return start, end, step


def evaluate(dashboard: Dashboard, db: TSDB, *, node: str = ALL, start: float = 0.0,
             end: float = 3600.0, step: float = 15.0) -> list[ChartData]:
    """Every chart's query (``$node`` substituted) as a range query over ``[start, end]``."""
    if not isinstance(dashboard, Dashboard):
        raise ValueError(f"dashboard must be a Dashboard (got {dashboard!r})")
    start, end, step = _check_range(start, end, step)
    one_of(dashboard.variable, node, dashboard.options(db))
    times = []
    t = start
    while t <= end + 1e-9:
        times.append(round(t, 3))
        t = start + len(times) * step
    out = []
    for chart in dashboard.charts:
        q = expand(chart.query, {dashboard.variable: node})
        got = query_range(db, q, start, end, step)
        series = [(_legend(chart.legend, lab, q), dict(points)) for lab, points in got.items()]
        out.append(ChartData(chart, q, times, series, [dict(lab) for lab in got]))
    return out


def _run_db(source: MonitoredRun | TSDB) -> tuple[TSDB, list[tuple[float, str]]]:
    if isinstance(source, TSDB):
        return source, []
    if isinstance(source, MonitoredRun):
        return source.db, list(source.faults)
    raise ValueError(f"source must be a MonitoredRun (watch_raft()) or a TSDB (got {source!r})")


# ---- drawing --------------------------------------------------------------------------------------
HEAT_COLORS = [[0.0, "#FFFFFF"], [1.0, MESSAGE_COLORS[0]]]
STATE_COLORS = [[0.0, "#FFFFFF"], [0.33, "#FFFFFF"], [0.34, PAUSE], [0.66, PAUSE], [0.67, FAULT],
                [1.0, FAULT]]


def _buckets(data: ChartData) -> tuple[list[str], list[list[float | None]]]:
    """Cumulative ``le`` buckets -> per-bucket counts (Grafana's "heatmap" format), rows by bound."""
    bounds = [float(lab.get("le", "nan")) for lab in data.labels]
    order = sorted(range(len(bounds)), key=lambda i: bounds[i])
    names, rows = [], []
    prev: list[float | None] = [0.0] * len(data.times)
    for i in order:
        values = data.series[i][1]
        cum = [values.get(t) for t in data.times]
        rows.append([None if c is None or p is None else max(0.0, c - p) for c, p in zip(cum, prev,
                                                                                          strict=True)])
        prev = cum
        b = bounds[i]
        names.append("+Inf" if math.isinf(b) else f"≤{b * 1000:g} ms" if b < 1 else f"≤{b:g} s")
    return names, rows


def _states(data: ChartData) -> tuple[list[str], list[list[float]]]:
    """ALERTS series -> one row per alert (legend without the state), 0 none / 1 pending / 2 firing."""
    rows: dict[str, list[float]] = {}
    for (name, values), labels in zip(data.series, data.labels, strict=True):
        firing = labels.get("alertstate") == "firing"
        row = rows.setdefault(name, [0.0] * len(data.times))
        for j, t in enumerate(data.times):
            if t in values:
                row[j] = max(row[j], 2.0 if firing else 1.0)
    names = sorted(rows)
    return names, [rows[n] for n in names]


def dashboard_figure(source: MonitoredRun | TSDB, dashboard: Dashboard = RAFT_DASHBOARD, *,
                     node: str = ALL, start: float = 0.0, end: float = 3600.0, step: float = 15.0,
                     title: str | None = None) -> go.Figure:
    """The dashboard drawn from ``source``'s TSDB: stats in the top row, then one full-width row per
    other chart, all sharing the time axis; the run's faults are drawn as Grafana-style annotations.

    Built from plain dicts (no ``make_subplots``, one unvalidated ``go.Figure``): plotly's property
    machinery was most of a re-render's time."""
    db, marks = _run_db(source)
    data = evaluate(dashboard, db, node=node, start=start, end=end, step=step)
    stats = [d for d in data if d.chart.kind == "stat"]
    others = [d for d in data if d.chart.kind != "stat"]
    stat_px, row_px, gap_px, top_px, bottom_px = 100, 170, 42, 70, 90
    rows_px = [max(row_px, 18 * len(_states(d)[0])) if d.chart.kind == "state-timeline" else row_px
               for d in others]
    height = top_px + bottom_px + (stat_px + gap_px if stats else 0) + sum(rows_px) + gap_px * len(others)
    plot_h = height - top_px - bottom_px
    x_end = data[0].times[-1] if data else end
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {}
    notes: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    y = 1.0                                           # paper coordinates, top down
    if stats:
        h = stat_px / plot_h
        for i, d in enumerate(stats):
            value = _last(d)
            traces.append({"type": "indicator", "mode": "number",
                           "value": value if value is not None else math.nan,
                           "title": {"text": d.chart.title, "font": {"size": 14}},
                           "number": {"font": {"size": 34}, "valueformat": "~g"},
                           "domain": {"x": [i / len(stats) + 0.01, (i + 1) / len(stats) - 0.01],
                                      "y": [y - h, y]}})
        y -= h + gap_px / plot_h
    legend_seen: set[str] = set()
    for k, d in enumerate(others):
        n = k + 1
        xa, ya = ("x", "y") if n == 1 else (f"x{n}", f"y{n}")
        h = rows_px[k] / plot_h
        layout[f"xaxis{'' if n == 1 else n}"] = {
            "anchor": ya, "domain": [0, 1], "range": [start, x_end], "showticklabels": n == len(others),
            **({"matches": "x"} if n > 1 else {}),
            **({"title": {"text": "simulated time (s)"}} if n == len(others) else {})}
        layout[f"yaxis{'' if n == 1 else n}"] = {"anchor": xa, "domain": [max(0.0, y - h), y],
                                                 **({"dtick": 1, "type": "category"} if d.chart.kind
                                                    != "timeseries" else {}),
                                                 **({"title": {"text": d.chart.unit}} if d.chart.unit
                                                    and d.chart.kind == "timeseries" else {})}
        notes.append({"text": f"<b>{d.chart.title}</b>", "x": 0, "y": y, "xref": "paper", "yref": "paper",
                      "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"size": 13}})
        common = {"xaxis": xa, "yaxis": ya}
        if d.chart.kind == "timeseries":
            for j, (legend, values) in enumerate(d.series):
                traces.append({"type": "scatter", "x": d.times, "y": [values.get(t) for t in d.times],
                               "mode": "lines", "name": legend, "legendgroup": legend,
                               "showlegend": legend not in legend_seen,
                               "line": {"color": MESSAGE_COLORS[j % len(MESSAGE_COLORS)], "width": 1.6,
                                        "shape": "hv" if _is_gauge_01(values) else "linear"},
                               "hovertemplate": f"{legend}<br>t=%{{x}} s<br>%{{y:.4g}}<extra></extra>",
                               **common})
                legend_seen.add(legend)
        elif d.chart.kind == "heatmap":
            names, z = _buckets(d)
            traces.append({"type": "heatmap", "x": d.times, "y": names, "z": z, "colorscale": HEAT_COLORS,
                           "showscale": False, "hovertemplate": "t=%{x} s<br>%{y}: %{z:.3g}<extra></extra>",
                           **common})
        else:
            names, z = _states(d)
            if names:
                traces.append({"type": "heatmap", "x": d.times, "y": names, "z": z, "zmin": 0, "zmax": 2,
                               "colorscale": STATE_COLORS, "showscale": False, "ygap": 2,
                               "hovertemplate": "t=%{x} s<br>%{y}: %{z}<extra>0 none, 1 pending, "
                                                "2 firing</extra>", **common})
            else:
                notes.append({"text": "no alerts in this range", "showarrow": False, "xref": "paper",
                              "yref": "paper", "x": 0.5, "y": y - h / 2})
        for t, text in marks:
            if start <= t <= end:
                shapes.append({"type": "line", "xref": xa, "yref": f"{ya} domain", "x0": t, "x1": t,
                               "y0": 0, "y1": 1, "line": {"color": FAULT, "width": 1, "dash": "dot"}})
                if k == 0:
                    notes.append({"x": t, "y": 1.0, "xref": xa, "yref": f"{ya} domain", "text": text,
                                  "showarrow": False, "textangle": -90, "xanchor": "left", "yanchor": "top",
                                  "font": {"size": 10, "color": FAULT}})
        y -= h + gap_px / plot_h
    shown = "All nodes" if node == ALL else node
    layout.update({
        "title": {"text": title or f"{dashboard.title} — {dashboard.variable}: {shown}, {start:g}–{end:g} s"},
        "height": height, "margin": {"l": 60, "r": 20, "t": top_px, "b": bottom_px},
        "legend": {"orientation": "h", "y": 0, "yanchor": "top", "x": 0, "yref": "paper"},
        "annotations": notes, "shapes": shapes})
    return go.Figure(data=traces, layout=layout, _validate=False)


def _is_gauge_01(values: dict[float, float]) -> bool:
    return all(v in (0.0, 1.0) for v in values.values())


def _last(d: ChartData) -> float | None:
    """A stat's value: the sum over its series of each one's last value in range (Grafana "last")."""
    lasts = [values[max(values)] for _, values in d.series if values]
    return sum(lasts) if lasts else None


# ---- the text twin --------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    if v != v:
        return "NaN"
    return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.3e}"


def _spans(times: Sequence[float], flags: Sequence[bool]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    begin = prev = None
    for t, f in zip(times, flags, strict=True):
        if f and begin is None:
            begin = t
        if not f and begin is not None:
            out.append((begin, prev))
            begin = None
        prev = t
    if begin is not None:
        out.append((begin, times[-1]))
    return out


def _spans_text(spans: list[tuple[float, float]]) -> str:
    return ", ".join(f"{a:g}" if a == b else f"{a:g}–{b:g}" for a, b in spans) or "never"


def chart_summary(d: ChartData) -> str:
    """One chart's answer in words (nbval compares this, not the plotly JSON)."""
    head = f"[{d.chart.kind}] {d.chart.title} — {d.query}"
    if not d.series:
        return head + "\n    no data"
    lines = [head]
    if d.chart.kind == "stat":
        v = _last(d)
        lines.append(f"    last value {_fmt(v) if v is not None else 'no data'}")
    elif d.chart.kind == "heatmap":
        names, z = _buckets(d)
        totals = [sum(c for c in row if c is not None) for row in z]
        whole = sum(totals)
        top = max(range(len(names)), key=lambda i: totals[i])
        lines.append(f"    {len(names)} buckets; the busiest {names[top]} "
                     f"({100 * totals[top] / whole:.0f}% of the plotted counts)" if whole else
                     f"    {len(names)} buckets, all empty")
    elif d.chart.kind == "state-timeline":
        names, z = _states(d)
        for name, row in zip(names, z, strict=True):
            pend = _spans(d.times, [v == 1.0 for v in row])
            fire = _spans(d.times, [v == 2.0 for v in row])
            lines.append(f"    {name}: pending {_spans_text(pend)}; firing {_spans_text(fire)}")
    else:
        for legend, values in d.series[:8]:
            present = [t for t in d.times if t in values]
            gaps = _spans(d.times, [t not in values for t in d.times])
            gap = f"; no data {_spans_text(gaps)} s" if gaps else ""
            if _is_gauge_01(values):
                zero = _spans(present, [values[t] == 0.0 for t in present]) if present else []
                ones = any(values[t] == 1.0 for t in present)
                lines.append(f"    {legend}: 0 at {_spans_text(zero)} s{', else 1' if ones else ''}{gap}"
                             if zero else f"    {legend}: always 1{gap}")
            else:
                t_max = max(present, key=lambda t: (values[t], -t))
                lines.append(f"    {legend}: max {_fmt(values[t_max])} at {t_max:g} s, "
                             f"last {_fmt(values[present[-1]])}{gap}")
        if len(d.series) > 8:
            lines.append(f"    ... and {len(d.series) - 8} more series")
    return "\n".join(lines)


def dashboard_summary(source: MonitoredRun | TSDB, dashboard: Dashboard = RAFT_DASHBOARD, *,
                      node: str = ALL, start: float = 0.0, end: float = 3600.0, step: float = 15.0) -> str:
    """The dashboard as text: one block per chart (what :func:`dashboard_figure` draws)."""
    db, marks = _run_db(source)
    data = evaluate(dashboard, db, node=node, start=start, end=end, step=step)
    head = f"{dashboard.title} — {dashboard.variable}={node}, {start:g}–{end:g} s, step {step:g} s"
    faults = [f"{t:g} {text}" for t, text in marks if start <= t <= end]
    lines = [head] + ([f"annotations: {'; '.join(faults)}"] if faults else [])
    return "\n".join(lines + [chart_summary(d) for d in data])


# ---- Grafana export -------------------------------------------------------------------------------
_GRAFANA_TYPES = {"timeseries": "timeseries", "stat": "stat", "heatmap": "heatmap",
                  "state-timeline": "state-timeline"}
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def _duration(seconds: float) -> str:
    s = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0 and s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def to_grafana(dashboard: Dashboard, *, range_seconds: float = 3600.0) -> dict[str, Any]:
    """The dashboard as a Grafana dashboard model (schema 39): the same queries with ``$node`` left for
    Grafana to fill from ``label_values(up, instance)``; the data source is an import-time input."""
    if not isinstance(dashboard, Dashboard):
        raise ValueError(f"dashboard must be a Dashboard (got {dashboard!r})")
    range_seconds = number("range_seconds", range_seconds, above=True)
    panels = []
    stats = [c for c in dashboard.charts if c.kind == "stat"]
    width = 24 // max(1, len(stats))
    for i, chart in enumerate(stats):
        panels.append((chart, {"x": i * width, "y": 0, "w": width, "h": 4}))
    y = 4 if stats else 0
    for chart in dashboard.charts:
        if chart.kind != "stat":
            panels.append((chart, {"x": 0, "y": y, "w": 24, "h": 8}))
            y += 8
    out = []
    for pid, (chart, pos) in enumerate(panels, start=1):
        target: dict[str, Any] = {"refId": "A", "datasource": DATASOURCE, "expr": chart.query,
                                  "range": True}
        if chart.legend:
            target["legendFormat"] = chart.legend
        if chart.kind == "heatmap":
            target["format"] = "heatmap"
            target["legendFormat"] = "{{le}}"
        panel: dict[str, Any] = {"id": pid, "type": _GRAFANA_TYPES[chart.kind], "title": chart.title,
                                 "datasource": DATASOURCE, "gridPos": pos, "targets": [target]}
        if chart.unit:
            panel["fieldConfig"] = {"defaults": {"unit": {"s": "s", "msg/s": "reqps"}.get(chart.unit,
                                                                                         chart.unit)},
                                    "overrides": []}
        if chart.kind == "stat":
            panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
        out.append(panel)
    values = f"label_values({dashboard.source}, {dashboard.label})"
    slug = re.sub(r"[^a-z0-9]+", "-", dashboard.title.lower()).strip("-")
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "title": dashboard.title, "uid": f"distlib-{slug}"[:40], "schemaVersion": 39, "version": 1,
        "editable": True, "tags": ["distlib", "chapter-11"],
        "time": {"from": f"now-{_duration(range_seconds)}", "to": "now"},
        "refresh": "", "panels": out,
        "templating": {"list": [{
            "name": dashboard.variable, "label": dashboard.variable, "type": "query",
            "datasource": DATASOURCE, "query": {"query": values, "refId": "vars"}, "definition": values,
            "includeAll": True, "allValue": ALL_VALUE, "multi": False, "refresh": 2, "sort": 1,
            "current": {"text": ALL, "value": "$__all"}}]},
        "annotations": {"list": []},
    }


def grafana_json(dashboard: Dashboard = RAFT_DASHBOARD, *, range_seconds: float = 3600.0) -> str:
    """:func:`to_grafana` as JSON text (Dashboards -> New -> Import in Grafana)."""
    return json.dumps(to_grafana(dashboard, range_seconds=range_seconds), indent=2, sort_keys=True)


# ---- the chapter's panel scenario -----------------------------------------------------------------
def raft_dashboard(node: str = ALL, start: float = 0.0, end: float = 3600.0, faults: Any = DEFAULT_FAULTS,
                   *, seed: int = 1, dashboard: Dashboard = RAFT_DASHBOARD) -> tuple[go.Figure, str]:
    """``(figure, summary)`` of the Raft dashboard for one node / time range / fault schedule; the run is
    cached, so only a new schedule re-simulates (a few seconds); anything else re-renders."""
    run = watch_raft(seed, faults)
    kwargs = dict(node=node, start=start, end=end, step=_step(start, end))
    return dashboard_figure(run, dashboard, **kwargs), dashboard_summary(run, dashboard, **kwargs)


def _step(start: float, end: float) -> float:
    """Grafana's step: the range over ~240 points, never below the scrape interval (15 s)."""
    return max(15.0, 15.0 * math.ceil((end - start) / 240 / 15.0))


__all__ = ["ALL", "DEFAULT_FAULTS", "KINDS", "RAFT_DASHBOARD", "Chart", "ChartData", "Dashboard",
           "chart_summary", "dashboard_figure", "dashboard_summary", "evaluate", "expand", "grafana_json",
           "query_range", "raft_dashboard", "to_grafana", "watch_raft"]
