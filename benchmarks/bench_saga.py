"""Fault sweeps of sagas: many seeds, random faults, the saga checkers; and the anomaly counts.

Run:  .venv/bin/python benchmarks/bench_saga.py [--seeds 10000] [--anomaly-seeds 1000]

Each seed runs 1-2 travel-booking sagas (orchestration or choreography, drawn from the seed) with a
business failure at a random step or none, up to 20% loss and duplication, up to 40% transient
failures and 0-3 random faults (crash with restart, partition, pause) of the orchestrator and the
services. The correct saga must show 0 violations; each broken variant must be caught. Then each
isolation anomaly is counted over ``--anomaly-seeds`` seeds with and without its countermeasure.
Prints seeds, violations, outcome counts, settle times and wall time per sweep.
"""

from __future__ import annotations

import argparse
import statistics
import time

from distlib.check.saga import check_invariant, check_saga, find_anomalies, settle_times
from distlib.check.sweep import sweep
from distlib.transactions.saga import (
    ANOMALIES,
    COUNTERMEASURES,
    DirectPublishService,
    NoLogOrchestrator,
    NonIdempotentService,
    WrongOrderOrchestrator,
    anomaly_scenario,
    random_saga,
)

VARIANTS = {
    "correct saga": {},
    "BROKEN wrong compensation order": {"orchestrator_cls": WrongOrderOrchestrator, "mode": "orchestration"},
    "BROKEN non-idempotent services": {"service_cls": NonIdempotentService},
    "BROKEN orchestrator without a durable log": {"orchestrator_cls": NoLogOrchestrator,
                                                   "mode": "orchestration", "kinds": ("crash",)},
    "BROKEN event published outside the local tx": {"service_cls": DirectPublishService,
                                                     "mode": "choreography", "kinds": ("crash",)},
}
KIND = {"lost-update": "lost update", "dirty-read": "dirty read",
        "non-repeatable-read": "non-repeatable read"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--anomaly-seeds", type=int, default=1_000)
    args = ap.parse_args()
    for label, kwargs in VARIANTS.items():
        settle: list[float] = []

        def run(seed: int, kw=kwargs, settle=settle):
            r = random_saga(seed, **kw)
            if not kw:
                settle.extend(t for t in settle_times(r).values() if t is not None)
            return r

        start = time.perf_counter()
        result = sweep(run, range(args.seeds), check_saga)
        elapsed = time.perf_counter() - start
        print(f"[{label}]")
        print(f"  seeds={len(result.seeds)} violations={len(result.violations)} "
              f"first_failing_seed={result.first_failing_seed}")
        print("  outcomes: " + " ".join(f"{k}={v}" for k, v in sorted(result.outcomes.items())))
        if settle:
            settle.sort()
            print(f"  time to settle: median {statistics.median(settle):.3f} s, "
                  f"p99 {settle[int(0.99 * (len(settle) - 1))]:.3f} s, max {settle[-1]:.3f} s")
        print(f"  time={elapsed:.2f}s ({1000 * elapsed / max(1, len(result.seeds)):.2f} ms/seed)")
    print(f"[isolation anomalies over {args.anomaly_seeds} seeds: runs showing the anomaly / runs "
          f"violating the invariant]")
    for anomaly in ANOMALIES:
        for cm in (False, True):
            start = time.perf_counter()
            shown = broken = 0
            for seed in range(args.anomaly_seeds):
                r = anomaly_scenario(anomaly, seed, countermeasure=cm)
                shown += bool(find_anomalies(r)[KIND[anomaly]])
                broken += bool(check_invariant(r))
            label = f"with {COUNTERMEASURES[anomaly]}" if cm else "without countermeasure"
            print(f"  {anomaly:<20} {label:<30} anomaly={shown:>5} invariant violated={broken:>5} "
                  f"({time.perf_counter() - start:.2f}s)")


if __name__ == "__main__":
    main()
