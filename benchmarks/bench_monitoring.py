"""Monitoring: bytes/sample (vs Gorilla's 1.37), TSDB ingestion, PromQL speed beside the real
Prometheus, and what scraping costs the simulation.

Run:  .venv/bin/python benchmarks/bench_monitoring.py [--series 1000] [--hours 6] [--no-real]

* bytes/sample: the course's data set (5 instrumented Raft servers under faults, scraped every 15 s for
  an hour: counters, gauges, histogram buckets, up/scrape_*), per metric family and overall, beside the
  paper's 1.37 bytes/sample on Facebook's data.
* ingestion: ``TSDB.append`` of ``--series`` series x ``--hours`` at 15 s (samples/s), and the
  synthetic set's bytes/sample.
* query: ``sum by (job) (rate(x[5m]))`` as a range query over the whole span with a 1-minute step, cold
  (chunks decoded on the way) and warm; the same query on Debian's prometheus over the same data
  backfilled with promtool (if installed and not ``--no-real``), and the ratio. Instant queries/s on
  the course data set.
* scrape cost: simulated hour of the Raft cluster with and without the monitoring server.
Prints numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from distlib.consensus.raft import RaftNode, make_cluster
from distlib.monitoring import TSDB, Engine, real
from distlib.monitoring.scenario import EPOCH, raft_under_faults

PAPER = 1.37


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def synthetic(series: int, hours: float, seed: int = 1) -> tuple[TSDB, float]:
    """Counters x_total{job, instance} growing by a random 0-20 per 15 s, a restart now and then."""
    rng = random.Random(seed)
    n = int(hours * 3600 / 15)
    jobs = ("api", "db", "cache", "worker")
    db = TSDB()
    labels = [{"__name__": "x_total", "job": jobs[i % 4], "instance": f"i{i}"} for i in range(series)]
    values = [0.0] * series
    steps = [[rng.randrange(21) for _ in range(n)] for _ in range(series)]
    t0 = time.perf_counter()
    for k in range(n):
        t = EPOCH + 15.0 * k
        for i in range(series):
            values[i] = 0.0 if steps[i][k] == 0 and rng.random() < 0.01 else values[i] + steps[i][k]
            db.append(labels[i], t, values[i])
    return db, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--no-real", action="store_true")
    args = ap.parse_args()

    # -- the course's data set
    run, secs = timed(lambda: raft_under_faults(seed=1, until=3600.0))
    db = run.db
    print(f"course data set: {len(db.series)} series, {db.sample_count} samples "
          f"(simulated 1 h in {secs:.2f} s)")
    fams: dict[str, list[int]] = {}
    for key, s in db.series.items():
        name = dict(key)["__name__"]
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix):
                name = name[: -len(suffix)] + "_*"
        f = fams.setdefault(name, [0, 0])
        f[0] += s.nbytes
        f[1] += s.count
    for name in sorted(fams):
        b, n = fams[name]
        print(f"  {name:<36} {b / n:6.3f} bytes/sample ({n} samples)")
    print(f"  {'overall':<36} {db.bytes_per_sample():6.3f} bytes/sample  (Gorilla paper: {PAPER})")

    engine = Engine(db)
    queries = ['sum by (instance) (rate(node_messages_sent_total[5m]))', 'up == 0',
               'histogram_quantile(0.99, sum by (le) (rate(raft_rpc_duration_seconds_bucket[5m])))',
               'max(raft_term)', 'increase(raft_leader_changes_seen_total[10m])']
    t0 = time.perf_counter()
    n = 0
    for q in queries:
        for t in range(300, 3600, 60):
            engine.instant(q, t)
            n += 1
    dt = time.perf_counter() - t0
    print(f"instant queries on the course data: {n / dt:,.0f} queries/s ({n} queries, 5 kinds)")

    # -- ingestion + the big range query
    big, secs = synthetic(args.series, args.hours)
    print(f"ingestion: {big.sample_count:,} samples in {secs:.2f} s = {big.sample_count / secs:,.0f} "
          f"samples/s; {big.bytes_per_sample():.3f} bytes/sample")
    q = "sum by (job) (rate(x_total[5m]))"
    start, end = EPOCH + 300, EPOCH + args.hours * 3600 - 15
    e = Engine(big)
    cold, t_cold = timed(lambda: e.range(q, start, end, 60))
    _, t_warm = timed(lambda: e.range(q, start, end, 60))
    points = sum(len(v) for v in cold.values())
    print(f"range query {q!r}, {args.series} series x {args.hours:g} h, step 1m ({points} points out):")
    print(f"  distlib cold {t_cold:.2f} s, warm {t_warm:.2f} s")
    if args.no_real or not real.available():
        print("  prometheus: skipped (" + ("--no-real" if args.no_real else "not installed") + ")")
    else:
        with tempfile.TemporaryDirectory() as d:
            _, t_fill = timed(lambda: real.backfill(big.to_openmetrics(), Path(d) / "data"))
            with real.PrometheusServer(Path(d) / "data") as prom:
                ours_real, t_first = timed(lambda: prom.range(q, start, end, 60))
                best = min(timed(lambda: prom.range(q, start, end, 60))[1] for _ in range(3))
            worst = max(abs(a[1] - b[1]) / max(abs(b[1]), 1e-12)
                        for k in cold for a, b in zip(cold[k], ours_real[k], strict=True))
        print(f"  prometheus 2.42 (HTTP API, JSON included): first {t_first:.3f} s, best of 3 {best:.3f} s "
              f"(backfill {t_fill:.1f} s)")
        print(f"  ratio distlib warm / prometheus: {t_warm / best:.0f}x; largest relative difference "
              f"{worst:.1e}")

    # -- scrape cost in the simulation
    def bare():
        w = make_cluster(5, seed=1, cls=RaftNode, election_timeout=(1.5, 3.0), heartbeat=0.5,
                         latency=(0.005, 0.03))
        w.run(until=3600)
        return w
    w, t_bare = timed(bare)
    run2, t_mon = timed(lambda: raft_under_faults(seed=1, until=3600.0))
    scrapes = sum(h.scrapes for h in run2.server.targets())
    print(f"scrape cost: 1 simulated hour, Raft alone {t_bare:.2f} s ({len(w.trace)} records); with faults, "
          f"observer and 15 s scrapes {t_mon:.2f} s ({scrapes} scrapes, "
          f"{(t_mon - t_bare) / max(scrapes, 1) * 1000:.2f} ms each, upper bound)")


if __name__ == "__main__":
    main()
