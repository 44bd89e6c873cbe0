"""Fault sweep of two-phase commit: many seeds, random faults, the atomic-commitment checker.

Run:  .venv/bin/python benchmarks/bench_twopc_sweep.py [--seeds 10000] [--participants 3]

Each seed runs one transaction with 0-3 random faults (crash with restart, partition, pause),
up to 20% message loss and duplication, and 10% "no" votes; a second sweep adds crash-stop
faults (a node that never comes back), which is what leaves prepared participants blocked.
Prints seeds, violations, outcome counts and wall time per sweep.
"""

from __future__ import annotations

import argparse
import time

from distlib.check.atomic import check_atomic_commitment
from distlib.check.sweep import sweep
from distlib.transactions.twopc import random_2pc

CONFIGS = {
    "crash+restart, partition, pause": ("crash", "partition", "pause"),
    "... plus crash-stop": ("crash", "crash-stop", "partition", "pause"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--participants", type=int, default=3)
    args = ap.parse_args()
    for label, kinds in CONFIGS.items():
        start = time.perf_counter()
        result = sweep(lambda s, k=kinds: random_2pc(s, args.participants, kinds=k), range(args.seeds),
                       check_atomic_commitment)
        elapsed = time.perf_counter() - start
        counts = {k: result.outcomes.get(k, 0) for k in ("commit", "abort", "blocked", "mixed")}
        print(f"[{label}] participants={args.participants}")
        print(f"  seeds={len(result.seeds)} violations={len(result.violations)} "
              f"first_failing_seed={result.first_failing_seed}")
        print("  outcomes: " + " ".join(f"{k}={v}" for k, v in counts.items()))
        print(f"  time={elapsed:.2f}s ({1000 * elapsed / max(1, len(result.seeds)):.2f} ms/seed)")


if __name__ == "__main__":
    main()
