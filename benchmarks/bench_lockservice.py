"""The lock service (chapter 08): seed sweeps of the correct cell and of each broken variant, the
fail-over with and without a grace period, and the GC-pause story with and without fencing.

Run:  .venv/bin/python benchmarks/bench_lockservice.py [--seeds 10000] [--variant-seeds 500]
                                                      [--failover-seeds 200]

Each sweep seed (``distlib.coordination.runs.random_lockservice``) runs a 5-replica cell for 5 s with
three clients competing for the primary lock (stepping down after a random hold), two namespace
clients, 0-3 replica crashes with restart, 0-2 client pauses, 0-2 partitions, 0-5 % loss and client
clocks drifting within ``max_drift``. The correct service must show 0 violations of
``check_lockservice``; each broken variant is swept over ``--variant-seeds`` seeds and reported with
the seeds it was caught on (no-grace is caught by the abandoned-session count, not a safety check).
"""

from __future__ import annotations

import argparse
import statistics
import time

from distlib.check.lockservice import (
    belief_overlaps,
    check_beliefs,
    check_fenced_effects,
    check_lockservice,
    check_session_safety,
    sessions_abandoned,
)
from distlib.coordination.runs import VARIANTS, failover, gc_pause, random_lockservice


def sweep_variant(variant: str, seeds: int) -> None:
    t0 = time.perf_counter()
    bad: dict[str, int] = {"effects": 0, "beliefs": 0, "session safety": 0, "namespace": 0}
    violating = abandoned_runs = overlaps = rejected = ops = 0
    first = None
    for seed in range(seeds):
        run = random_lockservice(seed, variant=variant)
        parts = {"effects": check_fenced_effects(run), "beliefs": check_beliefs(run),
                 "session safety": check_session_safety(run)}
        found = check_lockservice(run)
        parts["namespace"] = [v for v in found if v.startswith("namespace")]
        for k, v in parts.items():
            bad[k] += bool(v)
        if found:
            violating += 1
            first = first if first is not None else (seed, found[0])
        abandoned_runs += bool(sessions_abandoned(run))
        overlaps += len(belief_overlaps(run))
        rejected += sum(1 for w in run.writes if not w[4])
        ops += len(run.ops)
    dt = time.perf_counter() - t0
    print(f"{variant:<18} {seeds:>6} seeds  violating seeds {violating:>5}  by check {bad}  "
          f"runs with abandoned sessions {abandoned_runs}  belief overlaps {overlaps}  "
          f"stale writes rejected {rejected}  namespace ops checked {ops}  {dt:.1f} s "
          f"({1000 * dt / max(seeds, 1):.1f} ms/seed)")
    if first is not None:
        print(f"    first: seed {first[0]}: {first[1]}")


def failover_times(seeds: int) -> None:
    for grace in (True, False):
        gaps, lost, jeop = [], 0, 0
        for seed in range(seeds):
            run = failover(seed, grace=grace)
            crash = 1.0
            after = [t for t, _n in run.masters if t > crash]
            if after:
                gaps.append(after[0] - crash)
            lost += len(sessions_abandoned(run))
            jeop += sum(1 for evs in run.events.values() for e in evs if e[1] == "jeopardy")
        label = "with grace period   " if grace else "WITHOUT grace period"
        print(f"fail-over {label}: {seeds} seeds, master crash -> new master ready: median "
              f"{statistics.median(gaps):.3f} s, max {max(gaps):.3f} s; jeopardy episodes {jeop}; "
              f"sessions given up while the cell held them: {lost}")


def gc_story() -> None:
    for fenced, delay in ((True, 0.0), (False, 0.0), (False, 3.0), (False, 1.0)):
        run = gc_pause(0, fenced=fenced, lock_delay=delay)
        print(f"GC pause 2 s, {'fenced  ' if fenced else 'unfenced'}, lock-delay {delay:g} s: "
              f"effects violations {len(check_fenced_effects(run))}, stale writes rejected "
              f"{sum(1 for w in run.writes if not w[4])}, belief overlaps {len(belief_overlaps(run))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--variant-seeds", type=int, default=500)
    ap.add_argument("--failover-seeds", type=int, default=200)
    args = ap.parse_args()
    gc_story()
    failover_times(args.failover_seeds)
    sweep_variant("correct", args.seeds)
    for v in VARIANTS[1:]:
        sweep_variant(v, args.variant_seeds)


if __name__ == "__main__":
    main()
