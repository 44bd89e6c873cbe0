"""Checks for the chapter 11 (monitoring) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message and prints a
"right: ..." line otherwise.

* A **PromQL answer** is judged by what it computes, never by its text: it is evaluated with the course's
  engine (checked against the real Prometheus, ``tests/test_monitoring_prometheus.py``) on generated data
  sets -- seeded, with counter resets, missed scrapes, ties, idle windows -- at many instants, and its
  result is compared with the reference query's, so every equivalent query is right.
* ``rate`` **by hand** is differential over generated counters: the learner's function against
  Prometheus' ``extrapolatedRate`` (our engine's, bit-compatible with 2.42).
* An **alert rule** is judged by its behaviour over generated ``up`` histories: it must not fire on short
  blips, must fire on real outages soon enough, must not flap during one.
* The **dashboard bug hunt** runs the mystery schedules through :func:`distlib.viz.dashboard.watch_raft`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import cache
from typing import Any

from distlib.grading import guard
from distlib.monitoring import TSDB, Engine, PromQLError, load_rules, promql
from distlib.monitoring.promql import _extrapolated_rate, _range_function
from distlib.monitoring.rules import AlertingRule

from .feedback import call, differential, exercise, fail

SEED = 2015                      # Gorilla's year: the generated data sets are the same on every run
INSTANCES = ("n1", "n2", "n3")
TYPES = ("AppendEntries", "RequestVote")
REASONS = ("loss", "partition")
RPCS = ("AppendEntries", "RequestVote")
BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, math.inf)
STEP = 15.0


def _le(b: float) -> str:
    return "+Inf" if math.isinf(b) else repr(b)


# ---- generated data sets ---------------------------------------------------------------------------
def _gen_cluster(seed: int, *, resets: bool, gaps: bool, ties: bool, idle: bool) -> TSDB:
    """One hour of three Raft-like targets scraped every 15 s: messages sent by type, dropped by reason,
    an RPC latency histogram by rpc. ``resets``: one instance restarts (every counter of it back to 0);
    ``gaps``: scrapes missed (no sample) and a few timestamps jittered; ``ties``: two instances with the
    very same traffic and latency; ``idle``: a quiet spell with nothing sent, dropped or observed."""
    rng = random.Random(f"{SEED}/{seed}/{resets}/{gaps}/{ties}/{idle}")
    db = TSDB()
    restart_at = {i: rng.randrange(60, 180) * STEP for i in INSTANCES[:1]} if resets else {}
    quiet = (rng.randrange(40, 120) * STEP, 0.0)
    quiet = (quiet[0], quiet[0] + rng.randrange(20, 40) * STEP) if idle else (-1.0, -1.0)
    profiles = {}
    for inst in INSTANCES:
        profiles[inst] = (rng.uniform(1, 9), rng.uniform(0.0, 0.08), rng.uniform(0.002, 0.08))
    if ties:
        profiles["n3"] = profiles["n2"]
    for inst in INSTANCES:
        local = random.Random(f"{SEED}/{seed}/{inst}/{ties and inst == 'n3'}")
        if ties and inst == "n3":
            local = random.Random(f"{SEED}/{seed}/n2/False")
        rate, drop_p, latency = profiles[inst]
        sent = {t: 0.0 for t in TYPES}
        dropped = {r: 0.0 for r in REASONS}
        buckets = {(rpc, b): 0.0 for rpc in RPCS for b in BUCKETS}
        counts = {rpc: 0.0 for rpc in RPCS}
        sums = {rpc: 0.0 for rpc in RPCS}
        restarted = False
        for k in range(241):
            t = k * STEP
            if gaps and local.random() < 0.08:
                continue                                     # a missed scrape: no sample at all
            ts = t + (local.choice((-0.4, 0.3, 1.1)) if gaps and local.random() < 0.1 else 0.0)
            ts = max(ts, 0.0)
            if inst in restart_at and not restarted and t >= restart_at[inst]:
                restarted = True
                sent = dict.fromkeys(sent, 0.0)
                dropped = dict.fromkeys(dropped, 0.0)
                buckets = dict.fromkeys(buckets, 0.0)
                counts = dict.fromkeys(counts, 0.0)
                sums = dict.fromkeys(sums, 0.0)
            busy = not (quiet[0] <= t <= quiet[1])
            for typ in TYPES:
                n = local.randrange(0, int(rate * STEP) + 1) if busy else 0
                sent[typ] += n
                for _ in range(n):
                    if local.random() < drop_p:
                        dropped[REASONS[local.randrange(2)]] += 1
            for rpc in RPCS:
                n = local.randrange(0, 6) if busy else 0
                for _ in range(n):
                    x = local.expovariate(1 / latency)
                    counts[rpc] += 1
                    sums[rpc] += x
                    for b in BUCKETS:
                        if x <= b:
                            buckets[(rpc, b)] += 1
            base = {"job": "raft", "instance": inst}
            for typ in TYPES:
                db.append({"__name__": "node_messages_sent_total", **base, "type": typ}, ts, sent[typ])
            for reason in REASONS:
                if dropped[reason] or k > 0:
                    db.append({"__name__": "node_messages_dropped_total", **base, "reason": reason}, ts,
                              dropped[reason])
            for rpc in RPCS:
                for b in BUCKETS:
                    db.append({"__name__": "raft_rpc_duration_seconds_bucket", **base, "rpc": rpc,
                               "le": _le(b)}, ts, buckets[(rpc, b)])
                for suffix, value in (("count", counts[rpc]), ("sum", sums[rpc])):
                    name = f"raft_rpc_duration_seconds_{suffix}"
                    db.append({"__name__": name, **base, "rpc": rpc}, ts, value)
    return db


DATASET_KINDS = (
    ("steady", dict(resets=False, gaps=False, ties=False, idle=False)),
    ("a restart (counter resets)", dict(resets=True, gaps=False, ties=False, idle=False)),
    ("missed scrapes and jitter", dict(resets=False, gaps=True, ties=False, idle=False)),
    ("two identical instances", dict(resets=False, gaps=False, ties=True, idle=False)),
    ("an idle spell", dict(resets=False, gaps=False, ties=False, idle=True)),
    ("everything at once", dict(resets=True, gaps=True, ties=True, idle=True)),
)


@cache
def _datasets() -> list[tuple[str, TSDB]]:
    return [(name, _gen_cluster(i, **kw)) for i, (name, kw) in enumerate(DATASET_KINDS)]


INSTANTS = (300.0, 610.0, 905.0, 1200.0, 1515.0, 1800.0, 2107.5, 2400.0, 2700.0, 3000.0, 3300.0, 3600.0)


def _canon(result: Any, key: str) -> Any:
    """A query result as a comparable value: ``((key label value, value), ...)``, or a string naming
    what is wrong with its shape. NaN is the string "NaN" (so NaN equals NaN)."""
    if isinstance(result, float):
        return "a scalar, not an instant vector"
    if isinstance(result, dict):
        return "a range vector, not an instant vector"
    out: dict[str, Any] = {}
    for labels, value in result:
        d = dict(labels)
        k = d.get(key, "")
        if k in out:
            return f"more than one element with {key}={k!r}"
        out[k] = "NaN" if value != value else value
    return tuple(sorted(out.items()))


def _close(a: Any, b: Any) -> bool:
    if type(a) is float and type(b) is float:
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return False


def _snap(got: Any, ref: Any) -> Any:
    """``got`` with every value within float tolerance of the reference's replaced by the reference's:
    equivalent queries (or arithmetic) may sum in another order and differ in the last bits."""
    if _close(got, ref):
        return ref
    if type(got) is tuple and type(ref) is tuple and [k for k, _ in got] == [k for k, _ in ref]:
        return tuple((k, r if _close(g, r) else g) for (k, g), (_, r) in zip(got, ref, strict=True))
    return got


def _evaluate(query: str, db: TSDB, t: float, key: str) -> Any:
    try:
        return _canon(Engine(db).instant(query, t), key)
    except PromQLError as exc:
        return f"error: {exc}"


def _show(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    if not value:
        return "no series"
    return "{" + ", ".join(f"{key}={k}: {v}" for k, v in value) + "}"


def _check_query(exercise_id: str, answer: Callable[[], str], reference: str, key: str,
                 mistakes: list[tuple[str, str]], explain: Callable[[Any, Any], str]) -> int:
    query = call(answer)
    if type(query) is not str:
        fail(f"{getattr(answer, '__name__', 'your function')}() must return the query as a str "
             f"(got {type(query).__name__}).")
    try:
        promql.parse(query)
    except PromQLError as exc:
        fail(f"the query does not parse: {exc}.")
    cases = [(name, db, t) for name, db in _datasets() for t in INSTANTS]
    cache: dict[tuple[int, float], Any] = {}

    def expected(c: tuple) -> Any:
        k = (id(c[1]), c[2])
        if k not in cache:
            cache[k] = _evaluate(reference, c[1], c[2], key)
        return cache[k]

    return differential(
        cases, lambda c: _snap(_evaluate(query, c[1], c[2], key), expected(c)), lambda c: [expected(c)],
        lambda c, got: f"on the data set with {c[0]}, at t = {c[2]:g} s your query gives "
                       f"{_show(got, key)} but the right answer is {_show(expected(c), key)}",
        lambda c, got: explain(c, got),
        mistakes=[((lambda c, q=q: _snap(_evaluate(q, c[1], c[2], key), expected(c))), message)
                  for q, message in mistakes])


# ---- error-ratio --------------------------------------------------------------------------------------
ERROR_RATIO = ("sum by (instance) (rate(node_messages_dropped_total[5m])) "
               "/ sum by (instance) (rate(node_messages_sent_total[5m]))")


def reference_error_ratio() -> str:
    return ERROR_RATIO


def _why_ratio(case: Any, got: Any) -> str:
    if isinstance(got, str):
        return ("the answer must be an instant vector with one element per instance: aggregate both "
                "sides by instance")
    if not got:
        return ("no series matched on both sides: dropped messages are labelled by reason, sent ones by "
                "type, so `/` finds no pairs until both sides are summed to the same labels (instance)")
    return ("the ratio of two per-second rates over the same 5m window, each summed per instance "
            "(dropped messages are counted among the sent ones already)")


@exercise("error-ratio")
def check_error_ratio(error_ratio: Callable[[], str]) -> None:
    """Exercise error-ratio: the share of sent messages dropped in the last 5 minutes, per instance."""
    n = _check_query("error-ratio", error_ratio, ERROR_RATIO, "instance", [
        ("rate(node_messages_dropped_total[5m]) / rate(node_messages_sent_total[5m])",
         "the two sides have different labels (reason vs type), so the division matches nothing: "
         "sum both sides by instance first"),
        ("sum by (instance) (node_messages_dropped_total) / sum by (instance) (node_messages_sent_total)",
         "you divide the raw counters: that is the ratio since each process started, not over the last "
         "5 minutes, and a restart (a counter reset) changes it for no reason -- take rate() first"),
        ("sum(rate(node_messages_dropped_total[5m])) / sum(rate(node_messages_sent_total[5m]))",
         "that is one ratio for the whole cluster; the question asks for one per instance"),
        ("sum by (instance) (rate(node_messages_dropped_total[5m])) / (sum by (instance) "
         "(rate(node_messages_sent_total[5m])) + sum by (instance) (rate(node_messages_dropped_total[5m])))",
         "dropped messages are already counted in node_messages_sent_total (the node sent them, the "
         "network lost them): do not add them to the denominator"),
    ], _why_ratio)
    print(f"right: your query gives the reference's answer on {n} (data set, instant) cases "
          "(resets, missed scrapes, ties, idle windows)")


# ---- p99 ----------------------------------------------------------------------------------------------
P99 = "histogram_quantile(0.99, sum by (le, rpc) (rate(raft_rpc_duration_seconds_bucket[5m])))"


def reference_p99() -> str:
    return P99


def _why_p99(case: Any, got: Any) -> str:
    if isinstance(got, str):
        return ("histogram_quantile needs ONE histogram per rpc: sum the bucket rates of all instances "
                "by (le, rpc)")
    return ("the 0.99-quantile of the last 5 minutes' observations: histogram_quantile over the rates of "
            "the buckets, summed across instances by le and rpc")


@exercise("p99")
def check_p99(p99: Callable[[], str]) -> None:
    """Exercise p99: the 99th percentile RPC round trip over 5 minutes, per rpc, across the instances."""
    n = _check_query("p99", p99, P99, "rpc", [
        ("histogram_quantile(0.99, rate(raft_rpc_duration_seconds_bucket[5m]))",
         "that is one p99 per instance; the question wants one per rpc across all instances -- sum the "
         "bucket rates by (le, rpc) first"),
        ("histogram_quantile(0.99, sum by (rpc) (rate(raft_rpc_duration_seconds_bucket[5m])))",
         "summing away the le label merges all buckets into one: histogram_quantile needs le kept"),
        ("histogram_quantile(99, sum by (le, rpc) (rate(raft_rpc_duration_seconds_bucket[5m])))",
         "a quantile is between 0 and 1: the 99th percentile is 0.99 (99 gives +Inf)"),
        ("histogram_quantile(0.99, sum by (le, rpc) (raft_rpc_duration_seconds_bucket))",
         "without rate() the buckets hold every observation since the process started: that is the "
         "all-time p99, not the last 5 minutes', and a restart resets it"),
        ("histogram_quantile(0.99, max by (le, rpc) (rate(raft_rpc_duration_seconds_bucket[5m])))",
         "max of the bucket rates is not a histogram of the whole cluster: add the instances' buckets up"),
    ], _why_p99)
    print(f"right: your query gives the reference's p99 on {n} (data set, instant) cases")


# ---- rate-by-hand -------------------------------------------------------------------------------------
def reference_rate(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """Prometheus' rate() over the samples of one counter inside the window [start, end] (seconds)."""
    if len(samples) < 2:
        return None
    ts = [round(t * 1000) for t, _ in samples]
    vs = [float(v) for _, v in samples]
    s_ms, e_ms = round(start * 1000), round(end * 1000)
    return _extrapolated_rate(ts, vs, 0, len(ts), s_ms, e_ms, e_ms - s_ms, True, True)


def _rate_cases() -> list[tuple[list[tuple[float, float]], float, float]]:
    rng = random.Random(SEED)
    cases: list[tuple[list[tuple[float, float]], float, float]] = [
        ([], 0.0, 60.0), ([(30.0, 5.0)], 0.0, 60.0),
        ([(10.0, 0.0), (25.0, 15.0)], 0.0, 60.0),                       # two samples
        ([(10.0, 100.0), (25.0, 130.0), (40.0, 160.0), (55.0, 190.0), (70.0, 10.0), (85.0, 40.0),
          (100.0, 70.0)], 0.0, 120.0),                                   # the chapter's counter
        ([(0.0, 5.0), (15.0, 5.0), (30.0, 5.0)], 0.0, 30.0),            # flat: rate 0
        ([(5.0, 1.0), (20.0, 16.0), (35.0, 31.0)], 0.0, 60.0),          # starts near zero: the zero cut
        ([(5.0, 50.0), (20.0, 3.0), (35.0, 2.0)], 0.0, 40.0),           # two resets in a row
    ]
    for _ in range(600):
        interval = rng.choice((1.0, 5.0, 15.0, 30.0))
        n = rng.randrange(2, 25)
        range_s = rng.choice((1, 2, 4, 5, 10)) * 60.0
        start = float(rng.randrange(0, 3600))
        end = start + range_s
        t = start + rng.uniform(0, interval * 1.5)
        value = rng.choice((0.0, rng.uniform(0, 5), rng.uniform(0, 1e4)))
        samples = []
        while t <= end and len(samples) < n:
            if rng.random() < 0.12:
                value = rng.choice((0.0, rng.uniform(0, 20)))           # a counter reset
            samples.append((round(t, 3), float(round(value, 3))))
            value += rng.choice((0.0, rng.uniform(0, 40), float(rng.randrange(0, 10))))
            gap = interval * (rng.choice((1, 1, 1, 2, 3)) if rng.random() < 0.3 else 1)
            t += gap + rng.choice((0.0, 0.0, 0.001, -0.002, 0.25))
        if len(samples) >= 2 and rng.random() < 0.2:
            end = samples[-1][0]                                       # the window ends on a sample
        cases.append((samples, start, end))
    return cases


def _value(v: Any, ref: Any) -> Any:
    """A rate as compared: NaN as "NaN", and snapped to the reference within float tolerance."""
    if type(v) is float and v != v:
        return "NaN"
    return _snap(v, ref)


def _expected_rate(case: tuple) -> Any:
    r = reference_rate(*case)
    return "NaN" if r is not None and r != r else r


def _rate_model(correct_resets: bool, extrapolate: str, zero_cut: bool = True,
                keep_after_reset: bool = True) -> Callable:
    def model(case: tuple) -> Any:
        samples, start, end = case
        if len(samples) < 2:
            return None
        vs = [v for _, v in samples]
        result = vs[-1] - vs[0]
        if correct_resets:
            for a, b in zip(vs, vs[1:], strict=False):
                if b < a:
                    result += a if keep_after_reset else a - b
        t_first, t_last = samples[0][0], samples[-1][0]
        sampled = t_last - t_first
        if extrapolate == "full":          # to both edges whatever the gap: increase / sampled time
            return _value(result / sampled, _expected_rate(case)) if sampled else None
        if extrapolate == "none":          # the samples' increase over the whole window
            return _value(result / (end - start), _expected_rate(case))
        to_start, to_end = t_first - start, end - t_last
        avg = sampled / (len(samples) - 1)
        if zero_cut and result > 0 and vs[0] >= 0:
            to_start = min(to_start, sampled * vs[0] / result)
        interval = sampled + (to_start if to_start < avg * 1.1 else avg / 2) \
            + (to_end if to_end < avg * 1.1 else avg / 2)
        return _value(result * interval / sampled / (end - start), _expected_rate(case))
    return model


def _rate_mistakes() -> list[tuple[Callable, str]]:
    return [
        (_rate_model(False, "prometheus"),
         "you ignore counter resets: when a sample is smaller than the one before, the counter restarted "
         "from zero, and the value before the drop must be added back"),
        (_rate_model(True, "prometheus", keep_after_reset=False),
         "at a reset you add back only the drop (before - after); the counter restarted from ZERO, so what "
         "it counted before the drop (the value before it) must be added back whole"),
        (_rate_model(True, "full"),
         "you divide the increase by the time between the first and last sample, which extrapolates it "
         "all the way to both edges whatever the gap; Prometheus extrapolates to an edge only if it is "
         "closer than 1.1 average intervals (otherwise by half an interval)"),
        (_rate_model(True, "none"),
         "you divide the samples' increase by the window without extrapolating: Prometheus stretches it "
         "towards the window's edges first (the samples never cover the whole window)"),
        (_rate_model(True, "prometheus", zero_cut=False),
         "you extrapolate a counter to before the point where it would have been zero; Prometheus never "
         "extrapolates the start past the counter's zero"),
    ]


def _case_text(case: tuple) -> str:
    samples, start, end = case
    shown = samples if len(samples) <= 8 else samples[:4] + ["..."] + samples[-3:]
    return f"rate({shown}, start={start:g}, end={end:g})"


@exercise("rate-by-hand")
def check_rate(rate: Callable[[list[tuple[float, float]], float, float], float | None]) -> None:
    """Exercise rate-by-hand: Prometheus' rate() with reset correction and extrapolation, on 607 cases."""
    def answer(case: tuple) -> Any:
        got = call(rate, list(case[0]), case[1], case[2])
        if got is not None and type(got) is not float:
            fail(f"{_case_text(case)} returned {got!r}: return a float, or None with fewer than 2 samples.")
        return _value(got, _expected_rate(case))

    cases = _rate_cases()
    n = differential(
        cases, answer, lambda c: [_expected_rate(c)],
        lambda c, got: f"{_case_text(c)} gave {got!r}, Prometheus gives {_expected_rate(c)!r}",
        lambda c, got: ("with fewer than two samples there is no rate (return None)" if len(c[0]) < 2 else
                        "follow the two rules of the chapter: add back the value before every drop, then "
                        "extrapolate to each edge closer than 1.1 average intervals (else half an interval), "
                        "never past the counter's zero, and divide by the window"),
        mistakes=_rate_mistakes())
    print(f"right: your rate() agrees with Prometheus' extrapolatedRate on {n} generated counters "
          "(resets, gaps, jitter, windows ending on a sample, counters starting near zero)")


# ---- alert-for ----------------------------------------------------------------------------------------
UP_TARGETS = {
    # instance -> list of (start s, end s) of failed scrapes (inclusive, on the 15 s grid)
    "blip1": [(600, 600), (1800, 1800), (3000, 3000)],
    "blip2": [(900, 915), (2400, 2415)],
    "blip3": [(1200, 1230), (2700, 2730)],
    "flappy": [(t, t) for t in range(1500, 2100, 30)],
    "outage3m": [(1005, 1170)],
    "outage5m": [(2010, 2295)],
    "outage20m": [(600, 1785)],
    "healthy": [],
}
MUST_FIRE = {"outage3m": (1005, 1170), "outage5m": (2010, 2295), "outage20m": (600, 1785)}
FIRE_WITHIN = 180.0         # a 3-minute outage must page before it is over
RESOLVE_WITHIN = 600.0


def _up_db() -> TSDB:
    db = TSDB()
    for inst, downs in sorted(UP_TARGETS.items()):
        for k in range(241):
            t = k * STEP
            down = any(a <= t <= b for a, b in downs)
            db.append({"__name__": "up", "job": "raft", "instance": inst}, t, 0.0 if down else 1.0)
    return db


def _alert_timeline(rules_text: str) -> dict[str, list[float]]:
    """Evaluate the learner's rules over the generated ``up`` history: firing times per instance."""
    try:
        groups = load_rules(rules_text)
    except ValueError as exc:
        fail(f"the rule file is refused: {exc}.")
    alerting = [r for g in groups for r in g.rules if isinstance(r, AlertingRule)]
    if len(alerting) != 1:
        fail(f"the rule file must hold exactly one alerting rule (it holds {len(alerting)}).")
    rule = alerting[0]
    db = _up_db()
    engine = Engine(db)
    group = next(g for g in groups if rule in g.rules)
    firing: dict[str, list[float]] = {}
    t = 0.0
    while t <= 3600.0:
        try:
            group.evaluate(engine, t)
        except (PromQLError, ValueError) as exc:
            fail(f"the rule's expression cannot be evaluated: {exc}.")
        for alert in rule.firing():
            firing.setdefault(dict(alert.labels).get("instance", ""), []).append(t)
        t += group.interval
    return firing


def _periods(times: list[float], step: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for t in times:
        if out and t - out[-1][1] <= step + 1e-9:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def _judge_alert(rules_text: str) -> str | None:
    firing = _alert_timeline(rules_text)
    step = next(g for g in load_rules(rules_text)
                if any(isinstance(r, AlertingRule) for r in g.rules)).interval
    if "" in firing:
        return ("your alert has no instance label: it says that something is down, not which target -- "
                "alert per series (do not aggregate the instance away)")
    for inst in ("healthy",):
        if inst in firing:
            return f"it fires for a target that was never down ({inst}, at {firing[inst][0]:g} s)"
    for inst in ("blip1", "blip2", "blip3"):
        if inst in firing:
            longest = max(b - a + STEP for a, b in UP_TARGETS[inst])
            return (f"it fires for {inst}, a target that only missed {int(longest // STEP)} scrape(s) in a "
                    f"row ({longest:g} s) -- a few failed scrapes are not an outage; wait longer (`for`)")
    if "flappy" in firing and len(_periods(firing["flappy"], step)) > 1:
        return ("it flaps on an intermittent target (fires, resolves, fires again "
                f"{len(_periods(firing['flappy'], step))} times)")
    for inst, (a, b) in MUST_FIRE.items():
        times = firing.get(inst, [])
        during = [t for t in times if a <= t <= b + RESOLVE_WITHIN]
        if not during or during[0] > a + FIRE_WITHIN:
            return (f"{inst} was down from {a} s to {b} s ({(b - a + STEP) / 60:g} minutes) and your alert "
                    + ("never fired" if not during else f"fired only at {during[0]:g} s")
                    + f": a real outage must page within {FIRE_WITHIN / 60:g} minutes")
        periods = _periods(during, step)
        if len(periods) > 1:
            return f"it flaps during {inst}'s outage (resolves and fires again: {periods})"
        if any(t > b + RESOLVE_WITHIN for t in times) or periods[-1][1] > b + RESOLVE_WITHIN:
            return f"it keeps firing for {inst} long after it came back at {b + STEP:g} s"
        if any(t < a for t in times):
            return f"it fires for {inst} before its outage began"
    return None


@exercise("alert-for")
def check_alert_rule(target_down_rule: Callable[[], str]) -> None:
    """Exercise alert-for: a TargetDown rule that ignores blips, pages on real outages, does not flap."""
    text = call(target_down_rule)
    if type(text) is not str:
        fail(f"target_down_rule() must return the rule file as a str (got {type(text).__name__}).")
    problem = _judge_alert(text)
    if problem is not None:
        fail(problem + ".")
    print(f"right: on {len(UP_TARGETS)} generated targets your rule ignores blips of up to 3 failed scrapes "
          "and an intermittent target, pages every outage of 3+ minutes within 3 minutes, and never flaps")


# ---- dashboard-bug-hunt -------------------------------------------------------------------------------
FAULT_KINDS = ("leader crash", "follower crash", "follower pause", "minority partition",
               "monitoring server cut off")
_MYSTERY_SCHEDULES = {
    "A": "pause n5 at 420 until 660",
    "B": "partition prometheus | n1,n2,n3,n4,n5 at 420 heal 660",
    "C": "crash n2 at 420 restart 660",
    "D": "partition n1,n2 | n3,n4,n5,prometheus at 420 heal 660",
    "E": "crash n4 at 420 restart 660",
}
_TRUTH = {"A": "follower pause", "B": "monitoring server cut off", "C": "leader crash",
          "D": "minority partition", "E": "follower crash"}
_WHY_NOT = {
    "leader crash": "a leader crash shows one target down whose process restarts (a new start time, "
                    "counters from zero) AND a new leader and term on the others",
    "follower crash": "a follower crash shows one target down whose process restarts (a new start time, "
                      "counters from zero), and no new leader",
    "follower pause": "a paused node comes back as the same process: no restart, its counters continue "
                      "where they stopped, and nobody else notices much",
    "minority partition": "a minority partition with the server on the majority side shows the minority "
                          "unreachable while the majority elects a leader, and messages dropped for reason "
                          "'partition'",
    "monitoring server cut off": "if the monitoring server alone is cut off, every target is down at "
                                 "once while the cluster's own metrics show no new leader, no restart, "
                                 "no drops",
}
MYSTERY_UNTIL = 1020.0


def _mystery_schedule(name: str) -> str:
    return _MYSTERY_SCHEDULES[name]


def mystery_dashboard():
    """The bug hunt's dashboard: what it shows, each panel a PromQL query."""
    from distlib.viz.dashboard import Chart, Dashboard
    return Dashboard("Mystery", (
        Chart("up", "up", legend="{{instance}}"),
        Chart("New leaders seen in 5m", "increase(raft_leader_changes_seen_total[5m])",
              legend="{{instance}}"),
        Chart("Raft term", "raft_term", legend="{{instance}}"),
        Chart("Process restarts in 10m", "changes(process_start_time_seconds[10m])", legend="{{instance}}"),
        Chart("Messages dropped /s", "sum by (instance, reason) (rate(node_messages_dropped_total[1m]))",
              legend="{{instance}} {{reason}}"),
    ))


def mystery(name: str) -> tuple[Any, str]:
    """``(figure, summary)`` of mystery dashboard ``name`` ("A" ... "E"): one fault, not named, somewhere
    in 420-660 s (the figure has no fault annotations)."""
    from distlib.viz.dashboard import dashboard_figure, dashboard_summary, watch_raft
    if name not in _MYSTERY_SCHEDULES:
        raise ValueError(f"name must be one of {', '.join(_MYSTERY_SCHEDULES)} (got {name!r})")
    run = watch_raft(1, _mystery_schedule(name), until=MYSTERY_UNTIL)
    board = mystery_dashboard()
    # from 300 s: the boot election's leader change is out of every 5m window by then
    fig = dashboard_figure(run.db, board, start=300, end=MYSTERY_UNTIL, title=f"Mystery {name}")
    text = dashboard_summary(run.db, board, start=300, end=MYSTERY_UNTIL)
    return fig, text.replace("Mystery —", f"Mystery {name} —", 1)


@exercise("dashboard-bug-hunt")
def check_diagnosis(diagnose: Callable[[], dict[str, str]]) -> None:
    """Exercise dashboard-bug-hunt: which fault explains each mystery dashboard."""
    got = call(diagnose)
    if type(got) is not dict or set(got) != set(_TRUTH):
        fail(f"diagnose() must return a dict with the keys {', '.join(sorted(_TRUTH))} "
             f"(got {got!r}).")
    for name in sorted(_TRUTH):
        label = got[name]
        if type(label) is not str or label not in FAULT_KINDS:
            fail(f"the answer for {name} must be one of {', '.join(repr(k) for k in FAULT_KINDS)} "
                 f"(got {label!r}).")
    wrong = [name for name in sorted(_TRUTH) if got[name] != _TRUTH[name]]
    if wrong:
        name = wrong[0]
        # Neither the letter nor how many are wrong: with five labels, that feedback let a red-team
        # student solve the hunt from the feedback of five rotated guesses without reading a panel.
        fail(f"at least one mystery is not what you diagnosed: a {got[name]} would show this -- "
             f"{_WHY_NOT[got[name]]}. Check each dashboard against what its fault must look like.")
    print(f"right: all {len(_TRUTH)} mystery dashboards diagnosed")


guard.protect("error-ratio", reference_error_ratio)
guard.protect("p99", reference_p99)
# The engine computes rate too (a red-team answer fed its samples to Engine.instant): in the exercises
# notebook the engine is run only by the checks, from library code.
guard.protect("rate-by-hand", reference_rate, _extrapolated_rate, _range_function, (Engine, "instant"),
              (Engine, "range"))
guard.protect("dashboard-bug-hunt", _mystery_schedule)

__all__ = ["FAULT_KINDS", "check_alert_rule", "check_diagnosis", "check_error_ratio", "check_p99",
           "check_rate", "mystery", "mystery_dashboard", "reference_rate"]
