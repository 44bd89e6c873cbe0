"""distlib.monitoring without the real engine: Gorilla round trips, the TSDB, every PromQL function
against values computed by hand from the Prometheus documentation's definitions, scraping under
faults (up, staleness, garbage), the observer, rules and the Alertmanager, and a bad-input table."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from distlib.consensus.raft import RaftNode, make_cluster
from distlib.monitoring import (
    STALE_NAN,
    TSDB,
    AlertingRule,
    Alertmanager,
    ChunkEncoder,
    Engine,
    MonitoringServer,
    Notification,
    Observer,
    PromQLError,
    RecordingRule,
    RuleGroup,
    ScrapeReply,
    ScrapeRequest,
    decode_chunk,
    instrumented,
    is_stale,
    labels_of,
    load_rules,
    parse_duration,
    parse_exposition,
)
from distlib.monitoring.gorilla import bits_float, float_bits
from distlib.monitoring.promql import bucket_quantile
from distlib.monitoring.rules import go_float
from distlib.sim import Node, World


# ---- Gorilla -------------------------------------------------------------------------------------
def _roundtrip(ts, vs):
    enc = ChunkEncoder()
    for t, v in zip(ts, vs, strict=True):
        enc.append(t, v)
    got_t, got_v = decode_chunk(enc.to_bytes(), enc.count)
    assert got_t == ts
    assert [float_bits(v) for v in got_v] == [float_bits(v) for v in vs]
    return enc


def test_gorilla_special_values_roundtrip_bit_for_bit():
    specials = [0.0, -0.0, math.nan, STALE_NAN, math.inf, -math.inf, 5e-324, 1.7976931348623157e308,
                bits_float(0x7FF8000000000001), 1.0, 1.0, 2.5, -3.25]
    ts = [1000 * i for i in range(len(specials))]
    _roundtrip(ts, specials)
    assert is_stale(STALE_NAN) and not is_stale(math.nan) and not is_stale(1.0)


@pytest.mark.parametrize("dod", [0, 1, -1, 64, -63, 65, -64, 256, -255, 257, -256, 2048, -2047, 2049, -2048,
                                 2**31, -(2**31) + 2, 123_456, -123_456])
def test_gorilla_every_delta_of_delta_bucket_and_its_edges(dod):
    first = 2**31 - 1                                     # the largest first delta the header holds
    ts = [5, 5 + first, 5 + 2 * first + dod]              # delta of deltas: dod ...
    ts.append(ts[-1] + first + dod)                       # ... then 0
    _roundtrip(ts, [1.0, 2.0, 3.0, 4.0])


def test_gorilla_random_series_roundtrip():
    rng = random.Random(7)
    for _ in range(40):
        t = rng.randrange(-10**12, 10**12)
        ts, vs = [], []
        for _ in range(rng.randrange(1, 200)):
            t += rng.choice([15_000, 15_000, 15_001, 14_937, 17_048, 1, 300_000, 2**31 // 4])
            ts.append(t)
            vs.append(rng.choice([rng.random(), float(rng.randrange(100)), math.nan, STALE_NAN, -math.inf,
                                  rng.uniform(-1e300, 1e300)]))
        _roundtrip(ts, vs)


def test_gorilla_compresses_regular_scrapes_like_the_paper():
    # constant value, regular timestamps: 1 bit + 1 bit per sample after the header
    enc = _roundtrip([15_000 * i for i in range(120)], [42.0] * 120)
    assert enc.nbytes == 50        # header 64 + 64 + 32 bits, then 118 x ('0' + '0') = 396 bits
    # a slowly growing counter costs more, still far below 16 bytes/sample
    enc = _roundtrip([15_000 * i for i in range(120)], [float(10 * i) for i in range(120)])
    assert enc.nbytes / 120 < 3


def test_gorilla_refuses_out_of_order_and_truncated():
    enc = ChunkEncoder()
    enc.append(1000, 1.0)
    with pytest.raises(ValueError, match="t must be > the chunk's last timestamp"):
        enc.append(1000, 2.0)
    enc.append(2000, 2.0)
    with pytest.raises(ValueError, match="ends early"):
        decode_chunk(enc.to_bytes()[:10], 2)


# ---- TSDB ----------------------------------------------------------------------------------------
def test_tsdb_chunks_select_and_bytes_per_sample():
    db = TSDB()
    for i in range(300):
        db.append({"__name__": "x", "job": "a"}, 15.0 * i, float(i))
    s = db.series[labels_of({"__name__": "x", "job": "a"})]
    assert len(s.chunks) == 2 and s.count == 300          # cut at 120 samples, like Prometheus
    ts, vs = s.samples(15_000 * 100, 15_000 * 130)
    assert ts == [15_000 * i for i in range(100, 131)] and vs == [float(i) for i in range(100, 131)]
    assert 0 < db.bytes_per_sample() < 2
    with pytest.raises(ValueError, match="out of order"):
        db.append({"__name__": "x", "job": "a"}, 15.0 * 10, 1.0)
    assert labels_of({"b": "2", "a": "1", "c": ""}) == (("a", "1"), ("b", "2"))   # empty = absent


def test_tsdb_openmetrics_export_skips_staleness_markers():
    db = TSDB()
    db.append({"__name__": "x_total", "job": 'a"b'}, 1.5, 3.0)
    db.append({"__name__": "x_total", "job": 'a"b'}, 16.5, STALE_NAN)
    db.append({"__name__": "y"}, 2, math.inf)
    assert db.to_openmetrics() == 'x_total{job="a\\"b"} 3.0 1.500\ny +Inf 2\n# EOF\n'


# ---- PromQL: hand-computed values ------------------------------------------------------------------
def _db(series: dict[str, list[tuple[float, float]]]) -> TSDB:
    db = TSDB()
    for text, samples in series.items():
        name, _, rest = text.partition("{")
        labels = {"__name__": name}
        for pair in filter(None, rest.rstrip("}").split(",")):
            k, v = pair.split("=")
            labels[k] = v.strip('"')
        for t, v in samples:
            db.append(labels, t, v)
    return db


def _one(result):
    assert isinstance(result, list) and len(result) == 1, result
    return result[0][1]


@pytest.mark.parametrize("samples, query, t, expected", [
    # 1/s counter sampled at both window ends: no extrapolation needed
    ([(15 * i, 15.0 * i) for i in range(21)], "rate(x[5m])", 300, 1.0),
    # reset 30 -> 5: increase = (15 - 10) + 30 over exactly 60 s
    ([(0, 10), (15, 20), (30, 30), (45, 5), (60, 15)], "increase(x[1m])", 60, 35.0),
    ([(0, 10), (15, 20), (30, 30), (45, 5), (60, 15)], "rate(x[1m])", 60, 35.0 / 60),
    # samples 5 s after the start and 10 s before the end: both gaps < 1.1 x 15 s, extrapolated fully
    ([(5, 5), (20, 20), (35, 35), (50, 50)], "increase(x[1m])", 60, 45 * 60 / 45),
    # zero point 1 s before the first sample (value 1, slope 1/s) cuts the 10 s gap to 1 s
    ([(10, 1), (25, 16), (40, 31), (55, 46)], "increase(x[1m])", 60, 45 * (45 + 1 + 5) / 45),
    # first sample 30 s in (> 1.1 x 15 s) and far from zero: extrapolate half an interval only
    ([(30, 100), (45, 115), (60, 130)], "increase(x[1m])", 60, 30 * (30 + 7.5 + 0) / 30),
    # delta: a gauge, no reset handling and no zero cut
    ([(30, 100), (45, 85), (60, 130)], "delta(x[1m])", 60, 30 * (30 + 7.5) / 30),
    ([(0, 10), (15, 20), (30, 30), (45, 5), (60, 15)], "irate(x[1m])", 60, 10 / 15),
    ([(0, 10), (15, 20), (30, 30), (45, 5)], "irate(x[1m])", 45, 5 / 15),     # reset: last value / dt
    ([(0, 10), (15, 20), (30, 30), (45, 5)], "idelta(x[1m])", 45, -25.0),
    ([(0, 1), (15, 1), (30, 2), (45, 1)], "changes(x[1m])", 45, 2.0),
    ([(0, 10), (15, 20), (30, 5), (45, 1)], "resets(x[1m])", 45, 2.0),
    ([(0, 1), (15, 2), (30, 6)], "avg_over_time(x[1m])", 30, 3.0),
    ([(0, 1), (15, 2), (30, 6)], "sum_over_time(x[1m])", 30, 9.0),
    ([(0, 1), (15, 2), (30, 6)], "min_over_time(x[1m])", 30, 1.0),
    ([(0, 1), (15, 2), (30, 6)], "max_over_time(x[1m])", 30, 6.0),
    ([(0, 1), (15, 2), (30, 6)], "count_over_time(x[1m])", 30, 3.0),
    ([(0, 1), (15, 2), (30, 6)], "last_over_time(x[1m])", 30, 6.0),
    ([(0, 1), (15, 2), (30, 6)], "stdvar_over_time(x[1m])", 30, ((1 - 3) ** 2 + 1 + 9) / 3),
    ([(0, 1), (15, 2), (30, 6)], "stddev_over_time(x[1m])", 30, math.sqrt(14 / 3)),
    # quantile_over_time: rank q*(n-1) = 0.75*2 = 1.5 -> halfway between 2 and 6
    ([(0, 1), (15, 2), (30, 6)], "quantile_over_time(0.75, x[1m])", 30, 4.0),
    ([(0, 1), (15, 2), (30, 6)], "present_over_time(x[1m])", 30, 1.0),
    # range [t - 1m, t] includes both ends: 4 samples at 0, 15, 30, 45 for t = 60 minus nothing
    ([(0, 1), (15, 1), (30, 1), (45, 1), (60, 1)], "count_over_time(x[1m])", 60, 5.0),
    ([(0, 1), (15, 1), (30, 1), (45, 1), (60, 1)], "count_over_time(x[1m] offset 15s)", 60, 4.0),
    ([(0, 3), (60, 7)], "x offset 1m", 60, 3.0),
    ([(0, 3), (60, 7)], "x - x offset 1m", 60, 4.0),
    ([(0, -3.5)], "abs(x)", 0, 3.5),
    ([(0, 2.5)], "ceil(x) + floor(x)", 0, 5.0),
    ([(0, 9)], "sqrt(x)", 0, 3.0),
    ([(0, 1)], "ln(exp(x))", 0, 1.0),
    ([(0, 50)], "clamp_max(x, 10)", 0, 10.0),
    ([(0, 5)], "clamp_min(x, 10)", 0, 10.0),
    ([(0, 7)], "x % 4", 0, 3.0),
    ([(0, 2)], "x ^ 3 ^ 2", 0, 2.0 ** 9),                 # '^' is right-associative
    ([(0, 2)], "-x ^ 2", 0, -4.0),                          # unary minus binds looser than '^'
    ([(0, 2)], "1 + x * 3 - 4 / 2", 0, 5.0),
    ([(0, 2)], "vector(time())", 90, 90.0),
])
def test_promql_functions_by_hand(samples, query, t, expected):
    got = _one(Engine(_db({"x": samples})).instant(query, t))
    assert got == pytest.approx(expected, rel=1e-12), query


def test_histogram_quantile_docs_example():
    buckets = [(0.1, 10), (0.5, 50), (1.0, 90), (math.inf, 100)]
    assert bucket_quantile(0.9, buckets) == pytest.approx(1.0)    # rank 90 ends bucket (0.5, 1]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.5)
    assert bucket_quantile(0.3, buckets) == pytest.approx(0.1 + 0.4 * 20 / 40)
    assert bucket_quantile(0.05, buckets) == pytest.approx(0.05)  # first bucket starts at 0
    assert bucket_quantile(0.99, buckets) == 1.0                  # in +Inf: the highest finite bound
    assert math.isnan(bucket_quantile(0.5, [(0.1, 1), (1.0, 2)]))  # no +Inf bucket
    assert bucket_quantile(-1, buckets) == -math.inf and bucket_quantile(2, buckets) == math.inf
    db = _db({'h_bucket{le="0.1",job="a"}': [(0, 10)], 'h_bucket{le="0.5",job="a"}': [(0, 50)],
              'h_bucket{le="1",job="a"}': [(0, 90)], 'h_bucket{le="+Inf",job="a"}': [(0, 100)]})
    assert Engine(db).instant("histogram_quantile(0.3, h_bucket)", 0) == [
        ((("job", "a"),), pytest.approx(0.3))]


def _vec(engine, q, t=0):
    return {tuple(v for k, v in lab if k != "__name__") or (): round(v, 9) for lab, v in engine.instant(q, t)}


def test_aggregations_and_vector_matching():
    db = _db({'x{job="a",n="1"}': [(0, 1)], 'x{job="a",n="2"}': [(0, 4)], 'x{job="b",n="3"}': [(0, 10)],
              'w{job="a"}': [(0, 2)], 'w{job="b"}': [(0, 5)]})
    e = Engine(db)
    assert _vec(e, "sum by (job) (x)") == {("a",): 5.0, ("b",): 10.0}
    assert _vec(e, "sum(x) by (job)") == {("a",): 5.0, ("b",): 10.0}
    assert _vec(e, "avg without (n) (x)") == {("a",): 2.5, ("b",): 10.0}
    assert _vec(e, "count(x)") == {(): 3.0}
    assert _vec(e, "max(x)") == {(): 10.0} and _vec(e, "min by (job) (x)") == {("a",): 1.0, ("b",): 10.0}
    assert [dict(lab)["n"] for lab, _ in e.instant("topk(2, x)", 0)] == ["2", "3"]
    assert [dict(lab)["n"] for lab, _ in e.instant("bottomk(1, x)", 0)] == ["1"]
    assert _vec(e, "x / on(job) group_left w") == {("a", "1"): 0.5, ("a", "2"): 2.0, ("b", "3"): 2.0}
    assert _vec(e, "sum by (job) (x) / ignoring(n) w") == {("a",): 2.5, ("b",): 2.0}
    assert _vec(e, "x > 3") == {("a", "2"): 4.0, ("b", "3"): 10.0}               # filter keeps value
    assert _vec(e, "x > bool 3") == {("a", "1"): 0.0, ("a", "2"): 1.0, ("b", "3"): 1.0}
    assert _vec(e, "x and on(job) w > 3") == {("b", "3"): 10.0}
    assert _vec(e, "x unless on(job) w > 3") == {("a", "1"): 1.0, ("a", "2"): 4.0}
    assert set(_vec(e, "w or x")) == {("a",), ("b",), ("a", "1"), ("a", "2"), ("b", "3")}
    assert _vec(e, "w or on(job) x") == {("a",): 2.0, ("b",): 5.0}      # every job already in w
    assert e.instant("x > 3", 0)[0][0][0] == ("__name__", "x")                  # comparison keeps name
    assert e.instant("x + 0", 0)[0][0][0] != ("__name__", "x")                  # arithmetic drops it
    with pytest.raises(PromQLError, match="many-to-many"):
        e.instant("w / on(job) x", 0)
    with pytest.raises(PromQLError, match="multiple matches"):
        e.instant("x + on(job) w", 0)                 # two x per job need group_left
    assert e.instant("absent(x)", 0) == []
    assert e.instant('absent(nope{job="z", n=~"1"})', 0) == [((("job", "z"),), 1.0)]
    assert math.isnan(e.instant("scalar(w)", 0))                          # 2 samples: NaN
    assert e.instant("scalar(max(w))", 0) == 5.0


def test_lookback_and_staleness():
    db = TSDB()
    db.append({"__name__": "x"}, 0, 1.0)
    db.append({"__name__": "y"}, 0, 1.0)
    db.append({"__name__": "y"}, 30, STALE_NAN)
    e = Engine(db)
    assert _one(e.instant("x", 300)) == 1.0              # a sample exactly 5 min old still counts (2.x)
    assert e.instant("x", 300.001) == []
    assert _one(e.instant("y", 29)) == 1.0
    assert e.instant("y", 30) == [] and e.instant("y", 200) == []     # stale: gone before 5 min pass
    assert _one(e.instant("count_over_time(y[1m])", 40)) == 1.0       # markers are not samples
    assert _one(Engine(db, lookback=10).instant("x", 10)) == 1.0
    assert Engine(db, lookback=10).instant("x", 11) == []


def test_range_query_steps_and_scalars():
    db = _db({"x": [(15 * i, float(i)) for i in range(10)]})
    e = Engine(db)
    r = e.range("x * 2", 0, 60, 30)
    assert r == {(): [(0.0, 0.0), (30.0, 4.0), (60.0, 8.0)]}
    assert e.range("time()", 0, 20, 10) == {(): [(0.0, 0.0), (10.0, 10.0), (20.0, 20.0)]}
    m = e.instant("x[30s]", 30)
    assert m == {(("__name__", "x"),): [(0.0, 0.0), (15.0, 1.0), (30.0, 2.0)]}


@pytest.mark.parametrize("query, construct, pos", [
    ("rate(x[5m:1m])", "subquery", 9),
    ("x @ 100", "@ modifier", 2),
    ("label_replace(x, 'a', 'b', 'c', 'd')", "function 'label_replace'", 0),
    ("quantile(0.9, x)", "aggregation 'quantile'", 0),
    ("foo(x)", "unknown function 'foo'", 0),
    ("sum(x", "expected ')'", 5),
    ("x{a=}", "quoted string", 4),
    ("rate(x)", "expects a matrix", 5),
    ("x[5]", "duration with a unit", 2),
    ("{}", "at least one matcher", 0),
    ('{a=~".*"}', "at least one matcher", 0),
    ("1 > 2", "bool", 2),
    ("x + ", "unexpected end of query", 4),
    ("x y", "unexpected 'y'", 2),
    ("sum(x[5m])", "expects an instant vector", 0),
    ("x[5m] + 1", "not a matrix", 6),
    ("x offset 5m offset 1m", "offset may not be set multiple times", 12),
    ("x{a=~\"(\"}", "invalid regular expression", 5),
    ("x and 1", "set operator", 2),
    ("x * on(a) group_left(a) y", "must not be both", 2),
    ("", "empty query", 0),
    ("x $ y", "unexpected character", 2),
    ("x atan2 y", "atan2", 2),
    ("5m", "duration (5m) is only allowed", 0),
])
def test_bad_queries_name_the_construct_and_position(query, construct, pos):
    with pytest.raises(PromQLError) as info:
        Engine(TSDB()).instant(query, 0)
    assert construct in str(info.value) and info.value.pos == pos, str(info.value)
    assert f"at position {pos}" in str(info.value)


# ---- scraping the simulated cluster ----------------------------------------------------------------
def _cluster(seed: int = 1):
    w = make_cluster(3, seed=seed, cls=instrumented(RaftNode), election_timeout=(1.5, 3.0), heartbeat=0.5,
                     latency=(0.005, 0.02))
    return w, Observer(w)


def test_scrape_up_staleness_and_counter_reset_on_restart():
    w, _ = _cluster()
    srv = MonitoringServer(w, interval=15, timeout=5).start()
    w.at(100, lambda: w.crash("n3"))
    w.at(200, lambda: w.restart("n3"))
    w.run(until=400)
    e = Engine(srv.db)
    up = {dict(lab)["instance"]: v for lab, v in e.instant("up", 150)}
    assert up == {"n1": 1.0, "n2": 1.0, "n3": 0.0}
    # the crashed node's series went stale at the first failed scrape (105 s), not 5 min later
    assert e.instant('raft_term{instance="n3"}', 150) == []
    assert _one(e.instant('raft_term{instance="n3"}', 90)) >= 1
    h = {t.instance: t for t in srv.targets()}
    assert h["n3"].failures == 7 and h["n3"].up and h["n1"].failures == 0
    # the restarted process starts its counters from zero: resets() sees it, rate() corrects for it
    assert _one(e.instant('resets(node_messages_sent_total{instance="n3",type="AppendEntriesReply"}[10m])',
                          390)) >= 0
    started = e.instant('process_start_time_seconds{instance="n3"}', 390)
    assert _one(started) == 200.0
    assert all(v >= 0 for _, v in e.instant("rate(node_messages_received_total[5m])", 390))


def test_partitioned_monitoring_server_sees_the_other_side_down():
    w, _ = _cluster()
    srv = MonitoringServer(w, interval=15, timeout=5).start()
    w.at(100, lambda: w.partition(["prometheus", "n1"], ["n2", "n3"]))
    w.run(until=200)
    up = {dict(lab)["instance"]: v for lab, v in Engine(srv.db).instant("up", 190)}
    assert up == {"n1": 1.0, "n2": 0.0, "n3": 0.0}
    assert srv.health["n2"].last_error.startswith("timeout")


class _Garbage(Node):
    def on_message(self, src, msg):
        if isinstance(msg, ScrapeRequest):
            self.send(src, ScrapeReply(msg.req_id, 200, "this is {not an exposition\n"))


class _Broken(Node):
    def on_message(self, src, msg):
        if isinstance(msg, ScrapeRequest):
            self.send(src, ScrapeReply(msg.req_id, 500, "internal error"))


def test_garbage_error_and_silent_targets_are_down_with_a_reason():
    w = World(1, latency=0.01)
    w.add_node("g", _Garbage)
    w.add_node("b", _Broken)
    w.add_node("q", Node)                  # never answers a scrape
    srv = MonitoringServer(w, interval=10, timeout=2).start()
    w.run(until=35)
    h = {t.instance: t for t in srv.targets()}
    assert not h["g"].up and "not a Prometheus text exposition" in h["g"].last_error
    assert not h["b"].up and h["b"].last_error.startswith("HTTP 500")
    assert not h["q"].up and h["q"].last_error.startswith("timeout")
    assert all(v == 0.0 for _, v in Engine(srv.db).instant("up", 30))


def test_service_discovery_adds_and_removes_targets():
    w, _ = _cluster()
    wanted = ["n1", "n2"]
    srv = MonitoringServer(w, interval=15, timeout=5, targets=lambda: list(wanted)).start()
    w.at(50, lambda: wanted.append("n3"))
    w.at(110, lambda: wanted.remove("n1"))
    w.run(until=200)
    e = Engine(srv.db)
    assert sorted(dict(lab)["instance"] for lab, _ in e.instant("up", 40)) == ["n1", "n2"]
    assert sorted(dict(lab)["instance"] for lab, _ in e.instant("up", 100)) == ["n1", "n2", "n3"]
    # n1 left discovery at the 120 s round: its up series and all others got staleness markers
    assert sorted(dict(lab)["instance"] for lab, _ in e.instant("up", 130)) == ["n2", "n3"]
    assert e.instant('raft_term{instance="n1"}', 130) == []


def test_observer_metrics_from_state_and_trace():
    w, obs = _cluster()
    w.run(until=60)
    leader = next(n for n, node in w.nodes.items() if node.role == "leader")
    fams = {name for name, _, _ in parse_exposition(obs.exposition(leader))}
    assert {"raft_term", "raft_commit_index", "raft_is_leader", "raft_leader_changes_seen_total",
            "node_messages_sent_total", "raft_rpc_duration_seconds_bucket"} <= fams
    lt = dict((n, v) for n, lab, v in parse_exposition(obs.exposition(leader)) if n == "raft_is_leader")
    assert lt == {"raft_is_leader": 1.0}
    counts = [v for n, lab, v in parse_exposition(obs.exposition(leader))
              if n == "raft_rpc_duration_seconds_count" and lab.get("rpc") == "AppendEntries"]
    assert counts and counts[0] > 50         # heartbeats every 0.5 s to 2 followers, answered
    with pytest.raises(ValueError, match="node must be one of"):
        obs.exposition("zz")


def test_protocol_code_has_no_monitoring_imports():
    root = Path(__file__).resolve().parents[1] / "distlib"
    for sub in ("consensus", "transactions", "sim", "storage"):
        for path in (root / sub).glob("*.py"):
            assert "monitoring" not in path.read_text(), path


# ---- rules and the Alertmanager --------------------------------------------------------------------
def test_alert_goes_pending_firing_resolved_and_writes_ALERTS():
    db = TSDB()
    for i in range(40):
        t = 15.0 * i
        db.append({"__name__": "up", "instance": "a"}, t, 0.0 if 5 <= i < 15 else 1.0)
    rule = AlertingRule("Down", "up == 0", "1m", {"severity": "page"},
                        {"summary": "{{ $labels.instance }} down"})
    am = Alertmanager(group_wait=0, group_interval=30)
    group = RuleGroup("g", [rule], alertmanager=am)
    e = Engine(db)
    states = {}
    for i in range(40):
        group.evaluate(e, 15.0 * i)
        am.flush(15.0 * i)
        a = rule.active.get(labels_of({"alertname": "Down", "instance": "a", "severity": "page"}))
        states[15 * i] = a.state if a else "inactive"
    assert states[60] == "inactive" and states[75] == "pending" and states[120] == "pending"
    assert states[135] == "firing"                  # 75 + 60: for: 1m held at every evaluation
    assert states[225] == "resolved" and states[240] == "inactive"
    assert [(t, a, b) for t, _, a, b in rule.transitions] == [
        (75.0, "inactive", "pending"), (135.0, "pending", "firing"), (225.0, "firing", "resolved")]
    assert _one(e.instant('ALERTS{alertstate="pending"}', 120)) == 1.0
    assert e.instant('ALERTS{alertstate="pending"}', 135) == []          # stale once it fires
    assert _one(e.instant('ALERTS{alertstate="firing"}', 135)) == 1.0
    assert [(n.time, len(n.firing), len(n.resolved)) for n in am.notifications] == [
        (135.0, 1, 0), (225.0, 0, 1)]
    assert rule.firing() == [] and am.notifications[0].describe().startswith("alertmanager -> team")


def test_alert_with_for_does_not_flap_on_a_single_blip():
    db = TSDB()
    for i in range(20):
        db.append({"__name__": "up", "instance": "a"}, 15.0 * i, 0.0 if i in (4, 8, 9) else 1.0)
    rule = AlertingRule("Down", "up == 0", 30.0)
    e = Engine(db)
    for i in range(20):
        RuleGroup("g", [rule]).evaluate(e, 15.0 * i)
    assert [b for _, _, _, b in rule.transitions] == ["pending", "inactive", "pending", "inactive"]


def test_recording_rule_feeds_later_rules_in_the_same_evaluation():
    db = _db({'x{i="1"}': [(0, 2)], 'x{i="2"}': [(0, 3)]})
    g = RuleGroup("g", [RecordingRule("job:x:sum", "sum(x)", {"team": "db"}),
                        AlertingRule("Big", "job:x:sum > 4")])
    g.evaluate(Engine(db), 0)
    assert Engine(db).instant("job:x:sum", 0) == [((("__name__", "job:x:sum"), ("team", "db")), 5.0)]
    assert g.alerting_rules()[0].firing()[0].value == 5.0


def test_alertmanager_groups_dedups_inhibits_and_silences():
    from distlib.monitoring import Alert
    w = World(0)
    am = Alertmanager(w, group_by=("cluster",), group_wait=10, group_interval=60, repeat_interval=600,
                      inhibit_rules=[({"alertname": "NoQuorum"}, {"alertname": "NodeLag"}, ("cluster",))])

    def alert(name, **labels):
        return Alert(labels_of({"alertname": name, **labels}), {}, "firing", 0.0, 1.0)
    am.receive([alert("NodeDown", cluster="c1", node="n1"), alert("NodeDown", cluster="c1", node="n2"),
                alert("NodeDown", cluster="c1", node="n1")], 0)                        # a duplicate
    assert am.flush(5) == []                                   # group_wait not over
    [n] = am.flush(10)
    assert len(n.firing) == 2 and n.group == (("cluster", "c1"),)
    am.receive([alert("NoQuorum", cluster="c2"), alert("NodeLag", cluster="c2", node="n3")], 20)
    [n2] = am.flush(30)
    assert [dict(x)["alertname"] for x in n2.firing] == ["NoQuorum"]        # NodeLag inhibited
    am.silence({"alertname": "NodeDown", "node": "n2"}, 40, 1000)
    am.receive([alert("NodeDown", cluster="c1", node="n1"),
                alert("NodeDown", cluster="c1", node="n2")], 45)
    assert am.flush(50) == []                                  # changed, but group_interval not over
    [n3] = am.flush(70)
    assert [dict(x)["node"] for x in n3.firing] == ["n1"]
    assert am.flush(400) == []
    assert [n.group for n in am.flush(640)] == [(("cluster", "c2"),)]     # 30 + repeat_interval
    assert all(isinstance(r, Notification) for r in w.trace.of(Notification)) and len(w.trace) == 4


def test_load_rules_round_trip_and_go_formatting():
    from distlib.monitoring.scenario import RAFT_RULES
    groups = load_rules(RAFT_RULES)
    assert [type(r).__name__ for r in groups[0].rules].count("AlertingRule") == 5
    assert go_float(1.0) == "1" and go_float(0.5) == "0.5" and go_float(1e6) == "1e+06"
    assert go_float(123456.0) == "123456" and go_float(1e-5) == "1e-05" and go_float(2.5e-3) == "0.0025"


# ---- bad input: one table per public entry point ---------------------------------------------------
_GOOD_RULE = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n"


@pytest.mark.parametrize("call, message", [
    (lambda: labels_of({"1bad": "x"}), "labels must use names"),
    (lambda: labels_of({"__name__": "bad-name"}), "metric name"),
    (lambda: labels_of({"a": 1}), "labels must map label names to strings"),
    (lambda: TSDB().append({"job": "x"}, 0, 1.0), "labels must include __name__"),
    (lambda: TSDB().append({"__name__": "x"}, math.inf, 1.0), "t must be a finite number"),
    (lambda: TSDB().append({"__name__": "x"}, 0, "1"), "value must be a float"),
    (lambda: Engine("db"), "db must be a distlib.monitoring.TSDB"),
    (lambda: Engine(TSDB(), lookback=0), "lookback must be"),
    (lambda: Engine(TSDB()).instant(42, 0), "query must be a PromQL string"),
    (lambda: Engine(TSDB()).instant("up", math.nan), "t must be a finite number"),
    (lambda: Engine(TSDB()).range("up", 10, 0, 1), "end must be >= start"),
    (lambda: Engine(TSDB()).range("up", 0, 10, 0), "step must be"),
    (lambda: Engine(TSDB()).range("up", 0, 1e6, 1), "step must give at most 11,000"),
    (lambda: Engine(TSDB()).range("up[5m]", 0, 10, 1), "range query needs"),
    (lambda: parse_duration("5 minutes"), "duration must be"),
    (lambda: MonitoringServer("w"), "world must be"),
    (lambda: MonitoringServer(World(0), interval=0), "interval must be"),
    (lambda: MonitoringServer(World(0), interval=10, timeout=11), "timeout must be"),
    (lambda: MonitoringServer(World(0), job=""), "job must be"),
    (lambda: MonitoringServer(World(0), targets=["n1"]), "targets must be a zero-argument callable"),
    (lambda: Observer("w"), "world must be"),
    (lambda: Observer(World(0), rpc_buckets=(1, 0.5)), "rpc_buckets must be increasing"),
    (lambda: instrumented(int), "cls must be a subclass"),
    (lambda: parse_exposition(b"x 1"), "body must be text"),
    (lambda: parse_exposition("x{ 1"), "not a Prometheus text exposition"),
    (lambda: load_rules("groups: [\n"), "not valid YAML"),
    (lambda: load_rules("groups:\n  - name: g\n    rules: []\n    limit: 3\n"), "unknown field 'limit'"),
    (lambda: load_rules(_GOOD_RULE + "        for: soon\n"), "for must be a duration"),
    (lambda: load_rules(_GOOD_RULE + "        keep_firing_for: 1m\n"), "unknown field 'keep_firing_for'"),
    (lambda: load_rules(_GOOD_RULE.replace("up == 0", "rate(up)")), "expects a matrix"),
    (lambda: load_rules(_GOOD_RULE.replace("alert: A", "alert: 'A B'")), "alert must be a name"),
    (lambda: load_rules(_GOOD_RULE.replace("alert: A", "record: 'a-b'")), "record must be a metric name"),
    (lambda: load_rules("rules: []\n"), "single key 'groups'"),
    (lambda: load_rules(_GOOD_RULE + "        annotations:\n          s: '{{ humanize $value }}'\n"),
     "annotations must use only"),
    (lambda: AlertingRule("A", "up", for_=-1), "for must be a number"),
    (lambda: RuleGroup("g", ["up"]), "rules must be RecordingRule or AlertingRule"),
    (lambda: RuleGroup("g", [], interval=0), "interval must be"),
    (lambda: Alertmanager(group_by="job"), "group_by must be a list of label names"),
    (lambda: Alertmanager(group_interval=0), "group_interval must be"),
    (lambda: Alertmanager(inhibit_rules=[({"a": "1"},)]), "inhibit_rules must hold"),
    (lambda: Alertmanager().silence({}, 0, 10), "matchers must name at least one label"),
    (lambda: Alertmanager().silence({"a": "b"}, 10, 5), "end must be"),
])
def test_bad_input_table(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        call()


def test_our_exposition_parser_agrees_with_prometheus_client():
    from prometheus_client.parser import text_string_to_metric_families
    w, obs = _cluster(seed=4)
    w.run(until=30)
    for name in w.nodes:
        text = obs.exposition(name)
        ref = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples
               if not s.name.endswith("_created")]
        assert parse_exposition(text) == ref and len(ref) >= 8
    escaped = 'x{a="q\\"uo\\\\te\\n"} -1.5e3\n'
    assert parse_exposition(escaped) == [("x", {"a": 'q"uo\\te\n'}, -1500.0)]
    for bad in ("x{a=1} 2", "x 1 2 3", 'x{a="b" c="d"} 1', "x inf", "x 1_0", "{a=\"b\"} 1"):
        with pytest.raises(ValueError, match="not a Prometheus text exposition"):
            parse_exposition(bad)


def test_same_seed_same_samples_and_a_byte_budget():
    from distlib.monitoring.scenario import raft_under_faults
    a = raft_under_faults(seed=3, until=600.0)
    b = raft_under_faults(seed=3, until=600.0)
    sa, sb = a.db.raw_samples(), b.db.raw_samples()
    assert list(sa) == list(sb)
    assert all(sa[k][0] == sb[k][0] and [float_bits(v) for v in sa[k][1]] == [float_bits(v) for v in sb[k][1]]
               for k in sa)
    assert any(is_stale(v) for _, vs in sa.values() for v in vs)          # the crash left markers
    assert a.db.bytes_per_sample() < 3.0                                  # vs 16 raw bytes per sample


def test_any_protocol_gets_the_generic_metrics_two_phase_commit():
    from distlib.transactions.twopc import Coordinator, Participant, build_2pc
    run = build_2pc(seed=1, participants=2, coordinator_cls=instrumented(Coordinator),
                    participant_cls=instrumented(Participant))
    Observer(run.world)
    srv = MonitoringServer(run.world, interval=1, timeout=0.5, job="2pc").start()
    run.run(5)
    e = Engine(srv.db)
    assert {v for _, v in e.instant("up", 4)} == {1.0}
    sent = {dict(lab)["type"]: v for lab, v in e.instant('node_messages_sent_total{instance="coord"}', 4)}
    assert sent.get("Prepare") == 2.0 and sent.get("Decision") == 2.0, sent
    assert e.instant('{__name__=~"raft_.*"}', 4) == []            # no Raft families on 2PC nodes
