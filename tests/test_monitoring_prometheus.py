"""distlib.monitoring against the real Prometheus (Debian's 2.42): the same samples in both, the same
queries, answers compared within a float tolerance; our alert evaluation checked by ``promtool test
rules``; our rule files checked by ``promtool check rules``.

The data set is a simulated Raft run under faults (a leader crash and restart -- counters reset --, a
partition that cuts the monitoring server off with a minority, a pause), scraped every 15 s for an hour.
Locally the tests skip when /usr/bin/prometheus is absent; under CI=true they fail instead.
"""

from __future__ import annotations

import math
import os

import pytest
import yaml

from distlib.monitoring import TSDB, Engine, format_labels, is_stale, load_rules, real
from distlib.monitoring.scenario import EPOCH, RAFT_RULES, raft_under_faults, shifted

REL, ABS = 1e-9, 1e-12      # floats summed in a different order differ in the last bits only

INSTANT_QUERIES = [
    'up', 'up == 0', 'up == bool 0', 'sum(up)', 'count(up == 1)',
    'rate(node_messages_sent_total[5m])', 'rate(node_messages_sent_total{type="AppendEntries"}[1m])',
    'irate(node_messages_sent_total[1m])', 'increase(node_messages_received_total[5m])',
    'increase(raft_leader_changes_seen_total[10m])', 'delta(raft_commit_index[5m])',
    'idelta(raft_commit_index[5m])', 'changes(raft_term[15m])', 'resets(node_messages_sent_total[30m])',
    'rate(node_messages_received_total{type="AppendEntriesReply"}[2m])',
    'sum by (instance) (rate(node_messages_sent_total[5m]))',
    'sum without (type) (rate(node_messages_sent_total[5m]))',
    'avg by (type) (rate(node_messages_received_total[5m]))', 'max(raft_term)',
    'min by (job) (raft_commit_index)', 'count by (type) (node_messages_sent_total)',
    'topk(2, rate(node_messages_sent_total{type="AppendEntries"}[5m]))',
    'bottomk(2, scrape_duration_seconds)',
    'histogram_quantile(0.99, sum by (le) (rate(raft_rpc_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.5, sum by (le, rpc) (rate(raft_rpc_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.9, rate(raft_rpc_duration_seconds_bucket{rpc="AppendEntries"}[10m]))',
    'histogram_quantile(0.99, sum by (le, instance) (rate(raft_rpc_duration_seconds_bucket[5m])))',
    'rate(raft_rpc_duration_seconds_sum[5m]) / rate(raft_rpc_duration_seconds_count[5m])',
    'raft_commit_index offset 5m', 'rate(node_messages_sent_total[5m] offset 10m)',
    'raft_commit_index - raft_commit_index offset 1m', 'avg_over_time(raft_commit_index[5m])',
    'min_over_time(up[10m])', 'max_over_time(scrape_duration_seconds[5m])', 'sum_over_time(up[5m])',
    'count_over_time(up[10m])', 'last_over_time(raft_term[5m])',
    'stddev_over_time(scrape_duration_seconds[10m])', 'stdvar_over_time(raft_commit_index[5m])',
    'quantile_over_time(0.9, scrape_duration_seconds[10m])', 'present_over_time(raft_is_leader[5m])',
    'raft_is_leader == 1', 'node_messages_sent_total * on(instance) group_left raft_is_leader',
    'rate(node_messages_sent_total[5m]) / on(instance) group_left '
    'sum by (instance) (rate(node_messages_sent_total[5m]))',
    'raft_commit_index / ignoring(job) raft_last_log_index',
    'sum(rate(node_messages_dropped_total[5m])) / sum(rate(node_messages_sent_total[5m]))',
    'up unless on(instance) raft_is_leader == 1', 'raft_is_leader == 1 or up == 0',
    'up and on(instance) raft_is_leader == 1', 'absent(up{job="nope", instance="n9"})',
    'absent(up{job="raft"})', 'scalar(max(raft_term))', '-raft_term', '2 ^ raft_term',
    'raft_commit_index % 7', 'raft_commit_index >= bool raft_last_log_index',
    'clamp_max(raft_commit_index, 100)', 'clamp_min(raft_commit_index, 100)',
    'abs(delta(raft_commit_index[5m]))', 'sqrt(raft_commit_index)', 'ln(raft_commit_index + 1)',
    'floor(rate(node_messages_sent_total[5m]))',
    'ceil(avg_over_time(scrape_duration_seconds[5m]) * 1000)',
    '{__name__=~"raft_(term|commit_index)", instance!="n1"}',
    'node_messages_sent_total{type!~"Append.*"}', 'sum(raft_rpc_duration_seconds_count) by (rpc)',
    'max without (instance) (raft_term)', 'count(count by (instance) (node_messages_sent_total))',
    '1 + 2 * 3 - 4 / 8', 'time()', 'exp(-1 * up)', 'vector(time() - 60)',
    'sum by (instance) (rate(node_messages_sent_total[5m])) > 1',
    'count by (le) (raft_rpc_duration_seconds_bucket)', 'raft_term[1m]',
    'group by (instance) (node_messages_sent_total)', 'absent_over_time(up{instance="n1"}[1m])',
    '(raft_commit_index > 10) * 2', '10 < bool raft_commit_index',
    'rate(synthetic_total[5m])', 'increase(synthetic_total[2m])', 'delta(synthetic_total[5m])',
    'irate(synthetic_total[5m])', 'resets(synthetic_total[10m])',
]

RANGE_QUERIES = [
    'sum by (instance) (rate(node_messages_sent_total[5m]))', 'up', 'sum(up)',
    'increase(raft_leader_changes_seen_total[5m])', 'max(raft_term)',
    'histogram_quantile(0.99, sum by (le) (rate(raft_rpc_duration_seconds_bucket[5m])))',
    'irate(node_messages_received_total{type="AppendEntries"}[1m])', 'raft_commit_index offset 2m',
    'avg_over_time(scrape_duration_seconds[2m])', 'rate(node_messages_dropped_total[1m])',
    'raft_is_leader == 1', 'count(up == 0)', 'time()', 'topk(1, raft_commit_index)',
    'sum without (type) (increase(node_messages_received_total[3m]))',
    'delta(raft_commit_index[2m])', 'changes(raft_is_leader[10m])', 'rate(synthetic_total[5m])',
    'increase(synthetic_total[1m])',
]

# Simulated seconds: just after the leader crash (720), after its restart (1080: counters reset; the
# synthetic counters start at 1100),
# inside the partition (1800-2160), around the pause (2700-2880), late, and around the lookback edge
# after the last scrape at 3585 (+299, +300 and +301 s: a sample exactly 5 min old still counts in 2.x).
INSTANT_TIMES = [730, 1100, 1130, 1160, 1300, 1850, 2200, 2750, 3500, 3884, 3885, 3886]


def _add_synthetic(db) -> None:
    """Counters that start inside a window (with first values near and far from zero, so the
    zero-point cut of the extrapolation decides), reset, and are sampled irregularly."""
    base = EPOCH + 1000
    for first in (0.0, 5.0, 10.0, 20.0, 100.0):
        for k in range(60):
            db.append({"__name__": "synthetic_total", "case": f"start{first:g}"}, base + 100 + 15 * k,
                      first + 15.0 * k)
    value = 0.0
    for k in range(120):
        value = 3.0 if k % 37 == 36 else value + 7.0 + (k % 5)     # resets to 3 every 37 samples
        db.append({"__name__": "synthetic_total", "case": "resets"}, base + 10 * k + (k % 3), value)


def _engine_missing() -> None:
    msg = "needs Debian's prometheus (apt-get install -y --no-install-recommends prometheus)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{msg}: missing under CI, where .ci/run installs it")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def run():
    return raft_under_faults(seed=1, until=3600.0)


@pytest.fixture(scope="module")
def both(run, tmp_path_factory):
    """(our engine over the shifted samples, a started real Prometheus over the same samples)."""
    if not real.available():
        _engine_missing()
    db = shifted(run.db)
    _add_synthetic(db)
    data = tmp_path_factory.mktemp("prom") / "data"
    real.backfill(db.to_openmetrics(), data)
    server = real.PrometheusServer(data).start()
    try:
        yield Engine(db), server
    finally:
        server.stop()
    assert server.proc is not None and server.proc.poll() is not None, "prometheus was left running"


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=REL, abs_tol=ABS)


def _diff(ours, theirs) -> str:
    """Empty if equal within tolerance; else what differs."""
    if isinstance(ours, float) or isinstance(theirs, float):
        if not (isinstance(ours, float) and isinstance(theirs, float) and _same(ours, theirs)):
            return f"scalar: ours {ours!r} vs prometheus {theirs!r}"
        return ""
    if isinstance(ours, list):
        ours = {k: [(0.0, v)] for k, v in ours}
        theirs = {k: [(0.0, v)] for k, v in theirs} if isinstance(theirs, list) else theirs
    if set(ours) != set(theirs):
        only_o = sorted(set(ours) - set(theirs))[:3]
        only_t = sorted(set(theirs) - set(ours))[:3]
        return f"series differ: only ours {only_o}, only prometheus {only_t}"
    for k in ours:
        a, b = ours[k], theirs[k]
        if [t for t, _ in a] != [t for t, _ in b]:
            return f"{format_labels(k)}: timestamps differ ({len(a)} vs {len(b)} points)"
        for (t, x), (_, y) in zip(a, b, strict=True):
            if not _same(x, y):
                return f"{format_labels(k)} at {t}: ours {x!r} vs prometheus {y!r}"
    return ""


def test_query_list_is_big_enough():
    assert len(set(INSTANT_QUERIES)) >= 60 and len(set(INSTANT_QUERIES)) == len(INSTANT_QUERIES)
    assert len(set(RANGE_QUERIES)) >= 15


@pytest.mark.slow
def test_instant_queries_match_prometheus(both):
    ours_engine, prom = both
    failures = []
    checked = 0
    for q in INSTANT_QUERIES:
        for t in INSTANT_TIMES:
            at = EPOCH + t
            got = _diff(ours_engine.instant(q, at), prom.instant(q, at))
            checked += 1
            if got:
                failures.append(f"{q} @ {t}: {got}")
    assert not failures, f"{len(failures)} of {checked} differ:\n" + "\n".join(failures[:40])


@pytest.mark.slow
def test_range_queries_match_prometheus(both):
    ours_engine, prom = both
    failures = []
    for q in RANGE_QUERIES:
        for start, end, step in ((600, 3500, 60), (1000, 2300, 45)):
            got = _diff(ours_engine.range(q, EPOCH + start, EPOCH + end, step),
                        prom.range(q, EPOCH + start, EPOCH + end, step))
            if got:
                failures.append(f"{q} [{start}..{end} step {step}]: {got}")
    assert not failures, f"{len(failures)} differ:\n" + "\n".join(failures[:40])


@pytest.mark.slow
def test_bad_query_is_refused_by_both(both):
    ours_engine, prom = both
    for q in ("sum(up", "rate(up)", "up{job=}", "1 > 2"):
        with pytest.raises(ValueError):
            ours_engine.instant(q, EPOCH + 100)
        with pytest.raises(ValueError, match="bad_data"):
            prom.instant(q, EPOCH + 100)


def test_promtool_checks_our_rule_file(tmp_path):
    if not real.available():
        _engine_missing()
    path = tmp_path / "raft.rules.yml"
    path.write_text(RAFT_RULES)
    out = real.check_rules(path)
    assert out.returncode == 0, out.stdout + out.stderr
    n = sum(len(g.rules) for g in load_rules(RAFT_RULES))
    assert f"SUCCESS: {n} rules found" in out.stdout
    # and a broken file is refused by promtool and by us
    bad = RAFT_RULES.replace("for: 1m", "for: soon", 1)
    path.write_text(bad)
    assert real.check_rules(path).returncode != 0
    with pytest.raises(ValueError, match="for must be a duration"):
        load_rules(bad)


def _series_values(ts: list[int], vs: list[float], interval_ms: int, end_ms: int) -> str:
    """promtool's input_series notation: one value per interval from 0, '_' for none, 'stale'."""
    by_t = dict(zip(ts, vs, strict=True))
    out = []
    for t in range(0, end_ms + 1, interval_ms):
        v = by_t.get(t)
        if v is None:
            out.append("_")
        elif is_stale(v):
            out.append("stale")
        elif math.isnan(v):
            out.append("NaN")
        elif math.isinf(v):
            out.append("Inf" if v > 0 else "-Inf")
        else:
            out.append(repr(v))
    return " ".join(out)


@pytest.mark.slow
def test_alerts_match_promtool_test_rules(run, tmp_path):
    """Our alert states at every 15 s evaluation, written as promtool's expected alerts: promtool says
    SUCCESS only if the real rule engine fires exactly the same alerts (labels and annotations)."""
    if not real.available():
        _engine_missing()
    groups = load_rules(RAFT_RULES)
    db = run.db
    engine = Engine(TSDB.from_samples(db.raw_samples()))    # rules write into this copy, not into db
    interval_ms = 15_000
    end = 3585
    expected: dict[int, dict[str, list]] = {}
    firing_seen = 0
    for t in range(0, end + 1, 15):
        for g in groups:
            g.evaluate(engine, float(t))
        if t % 60 == 0 or t in (735, 1095, 1815, 2175):
            for g in groups:
                for rule in g.alerting_rules():
                    alerts = [{"exp_labels": {k: v for k, v in a.labels if k != "alertname"},
                               "exp_annotations": dict(a.annotations)} for a in rule.firing()]
                    firing_seen += len(alerts)
                    expected.setdefault(t, {})[rule.name] = alerts
    assert firing_seen > 0, "the scenario must make some alert fire, or the comparison proves little"
    input_series = []
    for key, (ts, vs) in db.raw_samples().items():
        input_series.append({"series": format_labels(key), "values": _series_values(ts, vs, interval_ms,
                                                                                      end * 1000)})
    rules_path = tmp_path / "raft.rules.yml"
    rules_path.write_text(RAFT_RULES)
    tests = [{"alertname": name, "eval_time": f"{t}s", "exp_alerts": alerts}
             for t in sorted(expected) for name, alerts in sorted(expected[t].items())]
    doc = {"rule_files": [str(rules_path)], "evaluation_interval": "15s",
           "tests": [{"interval": "15s", "input_series": input_series, "alert_rule_test": tests}]}
    test_path = tmp_path / "test.yml"
    test_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = real.promtool_test_rules(test_path)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "SUCCESS" in out.stdout


@pytest.mark.slow
def test_live_cluster_scraped_by_the_real_prometheus():
    """The live lab: a Raft cluster in real time serving /metrics on 127.0.0.1; the real server scrapes
    it every second, sees every target up, then the crashed node down."""
    if not real.available():
        _engine_missing()
    import time

    from distlib.consensus.raft import RaftNode, make_cluster
    from distlib.monitoring import Observer, instrumented
    from distlib.monitoring.live import LiveCluster

    world = make_cluster(3, seed=2, cls=instrumented(RaftNode), election_timeout=(1.5, 3.0), heartbeat=0.5,
                         latency=(0.005, 0.03))
    with LiveCluster(world, Observer(world), speed=2.0) as live:
        cfg = [{"job_name": "raft", "scrape_interval": "1s", "scrape_timeout": "1s",
                "static_configs": [{"targets": live.targets()}]}]
        with real.PrometheusServer(scrape_configs=cfg, retention="1d") as prom:
            def up() -> dict[str, float]:
                return {dict(lab)["instance"]: v for lab, v in prom.instant("up", time.time())}

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and sorted(up().values()) != [1.0, 1.0, 1.0]:
                time.sleep(0.5)
            assert sorted(up().values()) == [1.0, 1.0, 1.0], prom.log()[-2000:]
            terms = prom.instant("max(raft_term)", time.time())
            assert terms and terms[0][1] >= 1
            live.do(lambda: world.crash("n1"))
            n1 = f"127.0.0.1:{live.ports['n1']}"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and up().get(n1) != 0.0:
                time.sleep(0.5)
            assert up()[n1] == 0.0
