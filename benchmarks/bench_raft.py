"""Raft benchmarks: a large random-fault sweep, and leader re-election time after a leader crash.

    .venv/bin/python benchmarks/bench_raft.py                      # 10,000 seeds, 2 workers
    .venv/bin/python benchmarks/bench_raft.py --seeds 500 --election-seeds 100   # quick

1. ``--seeds`` runs of :func:`distlib.check.raft_invariants.fuzz` (3-5 servers, 2 simulated
   seconds, 3 random crash/partition/pause faults, random loss/duplication/reordering, snapshots
   every 8 entries) with the four Raft invariants checked after every event; every 10th seed is a
   KV run with clients, checked for linearizability and exactly-once appends. Violations must be 0.
2. For each election-timeout range: 5 servers, link latency 2-10 ms, the leader crashes at 1 s;
   time until a new leader is elected (median, p99, max) over ``--election-seeds`` seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from multiprocessing import Pool

from distlib.check.raft_invariants import fuzz
from distlib.consensus.raft import LEADER, RaftNode, RaftRun, make_cluster
from distlib.consensus.raft_kv import KVNode


def one_fuzz(seed: int) -> tuple[int, bool, list[str], int]:
    kv = seed % 10 == 9
    r = fuzz(seed, duration=2.0, cls=KVNode if kv else RaftNode, kv=kv)
    return seed, r.ok, r.problems(), r.monitor.events


def reelection_time(args: tuple[int, tuple[float, float]]) -> float | None:
    """Seconds from the leader's crash (at 1 s) to the next election won; None if none within 10 s."""
    seed, timeout = args
    world = make_cluster(5, seed=seed, latency=(0.002, 0.010), election_timeout=timeout,
                         heartbeat=min(0.05, timeout[0] / 3))
    world.run(until=1.0)
    leaders = [n for n, node in world.nodes.items() if node.role == LEADER]
    if not leaders:
        return None
    old = max(leaders, key=lambda n: world.nodes[n].current_term)
    world.crash(old)
    t = 1.0
    run = RaftRun("reelection", world)
    while t < 11.0:
        t += 0.05
        world.run(until=t)
        after = [rec for rec in run.leaders() if rec[0] > 1.0]
        if after:
            return after[0][0] - 1.0
    return None


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--election-seeds", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    if a.seeds < 0 or a.election_seeds < 1 or a.workers < 1:
        ap.error("--seeds must be >= 0, --election-seeds and --workers >= 1")

    print(f"[1] random-fault sweep: {a.seeds} seeds, {a.workers} workers", flush=True)
    start = time.perf_counter()
    bad: list[tuple[int, list[str]]] = []
    events = 0
    with Pool(a.workers) as pool:
        for i, (seed, ok, problems, ev) in enumerate(pool.imap_unordered(one_fuzz, range(a.seeds), 20), 1):
            events += ev
            if not ok:
                bad.append((seed, problems))
            if i % 500 == 0 or i == a.seeds:
                el = time.perf_counter() - start
                print(f"    {i:>6}/{a.seeds} seeds  {el:7.1f}s  violations so far: {len(bad)}", flush=True)
    elapsed = time.perf_counter() - start
    print(f"    seeds={a.seeds} violations={len(bad)} time={elapsed:.1f}s "
          f"({1000 * elapsed / max(a.seeds, 1):.1f} ms/seed wall, {events} monitored events)")
    for seed, problems in sorted(bad)[:5]:
        print(f"    seed {seed}: {problems[:2]}")

    print(f"\n[2] re-election after the leader crashes (5 servers, latency 2-10 ms, "
          f"{a.election_seeds} seeds each)", flush=True)
    print(f"    {'election timeout':>18} {'median':>8} {'p99':>8} {'max':>8} {'no leader':>9}")
    with Pool(a.workers) as pool:
        for timeout in ((0.150, 0.300), (0.300, 0.600), (0.150, 0.155)):
            times = pool.map(reelection_time, [(s, timeout) for s in range(a.election_seeds)], 10)
            got = [t * 1000 for t in times if t is not None]
            label = f"{timeout[0] * 1000:.0f}-{timeout[1] * 1000:.0f} ms"
            print(f"    {label:>18} {statistics.median(got):7.0f}ms {pct(got, 99):7.0f}ms "
                  f"{max(got):7.0f}ms {len(times) - len(got):>9}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
