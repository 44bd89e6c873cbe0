"""MapReduce on the simulated cluster: fault sweeps, broken variants, and the paper's backup-task result.

Run:  .venv/bin/python benchmarks/bench_mapreduce.py [--seeds 10000] [--broken-seeds 300] [--runs 20]

1. ``--seeds`` random runs (``random_mapreduce``: one of five jobs, random M, R, 3-6 workers, 0-3 worker
   crashes/pauses/partitions, maybe a 3-30x slow worker, loss and duplication), each checked by
   ``check_mapreduce``: the correct engine must show 0 violations.
2. Each broken variant over ``--broken-seeds`` seeds: how many runs the checker catches.
3. Dean & Ghemawat §5.3: sort took 44% longer with backup tasks disabled. Here: the sort job (12 workers,
   M=48, R=12) over ``--runs`` seeds with one slow worker (a bad disk, 10x) -- job time with and without
   backups, and the extra attempts the backups cost; and §5.3's "machine failures" run: 2 of 12
   workers crash mid-map and restart, vs no failure.
Prints counts, times (simulated seconds) and wall time per part.
"""

from __future__ import annotations

import argparse
import statistics
import time

from distlib.check.mapreduce import check_mapreduce
from distlib.check.sweep import sweep
from distlib.compute.mapreduce import BROKEN, random_mapreduce, run_mapreduce
from distlib.sim.rng import stream


def _sort_run(seed: int, **kw):
    return run_mapreduce(seed, job="sort", lines=960, workers=12, maps=48, reduces=12, until=2000, **kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--broken-seeds", type=int, default=300)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()

    start = time.perf_counter()
    times: list[float] = []

    def run(seed: int):
        r = random_mapreduce(seed)
        if r.job_time is not None:
            times.append(r.job_time)
        return r

    res = sweep(run, range(args.seeds), check_mapreduce)
    wall = time.perf_counter() - start
    times.sort()
    print(f"[correct engine, {args.seeds} random seeds]")
    print(f"  violations={len(res.violations)} first_failing_seed={res.first_failing_seed}")
    print("  outcomes: " + " ".join(f"{k}={v}" for k, v in sorted(res.outcomes.items())))
    if times:
        p99 = times[int(0.99 * (len(times) - 1))]
        print(f"  job time: median {statistics.median(times):.2f} s, p99 {p99:.2f} s, max {times[-1]:.2f} s")
    print(f"  time={wall:.1f}s ({1000 * wall / max(1, args.seeds):.1f} ms/seed)")

    for variant in BROKEN:
        start = time.perf_counter()
        res = sweep(lambda s, v=variant: random_mapreduce(s, broken=v), range(args.broken_seeds),
                    check_mapreduce)
        wall = time.perf_counter() - start
        print(f"[BROKEN {variant}, {args.broken_seeds} seeds] caught in {len(res.violations)} runs "
              f"(first seed {res.first_failing_seed}); time={wall:.1f}s")

    start = time.perf_counter()
    rows: dict[str, list[float]] = {"healthy": [], "straggler, backups on": [], "straggler, backups off": [],
                                    "2 crashes, backups on": []}
    extra: list[float] = []
    for seed in range(args.runs):
        slow_one = f"w{stream(seed, 'bench-straggler').randint(1, 12)}"
        healthy = _sort_run(seed)
        on = _sort_run(seed, slow={slow_one: 10.0})
        off = _sort_run(seed, slow={slow_one: 10.0}, backups=False)
        crashes = _sort_run(seed, faults="crash w2 at 1 restart 4; crash w7 at 1.5 restart 5")
        for name, r in zip(rows, (healthy, on, off, crashes), strict=True):
            assert check_mapreduce(r) == [], (name, seed, check_mapreduce(r))
            rows[name].append(r.job_time)
        extra.append(len(on.attempts) / (48 + 12) - 1)
    wall = time.perf_counter() - start
    print(f"[§5.3 sort, 12 workers, M=48, R=12, {args.runs} seeds; one 10x slow worker]")
    base = statistics.mean(rows["healthy"])
    for name, ts in rows.items():
        m = statistics.mean(ts)
        print(f"  {name:<24} mean job time {m:7.2f} s  ({100 * (m / base - 1):+.0f}% vs healthy)")
    on_m = statistics.mean(rows["straggler, backups on"])
    off_m = statistics.mean(rows["straggler, backups off"])
    print(f"  without backups the job takes {100 * (off_m / on_m - 1):.0f}% longer (paper: 44%); backups "
          f"cost {100 * statistics.mean(extra):.0f}% extra task attempts")
    print(f"  time={wall:.1f}s")


if __name__ == "__main__":
    main()
