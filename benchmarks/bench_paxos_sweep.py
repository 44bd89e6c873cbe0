"""Paxos and Multi-Paxos under random faults: many seeds, zero safety violations expected.

    .venv/bin/python benchmarks/bench_paxos_sweep.py [--seeds 10000] [--multi-seeds 10000]

Single-decree: three proposers, random crashes/partitions/pauses, 10% loss, 5% duplication
(`random_paxos`), checked for agreement, validity and learner agreement. Multi-Paxos: ten commands
under random faults (`random_multipaxos`), checked for per-slot agreement and prefix-equal applied
logs; "completed" counts runs where every command was applied somewhere by the end.
"""

import argparse
import time

from distlib.check.paxos_invariants import check_multipaxos, check_paxos
from distlib.check.sweep import sweep
from distlib.consensus.multipaxos import random_multipaxos
from distlib.consensus.paxos import random_paxos
from distlib.viz import progress


def learned(run) -> str:
    return "learned" if any(v is not None for v in run.learned.values()) else "nothing learned"


def completed(run) -> str:
    done = any(set(run.commands) <= set(log) for log in run.logs.values())
    return "completed" if done else "incomplete"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--multi-seeds", type=int, default=10_000)
    args = ap.parse_args()
    for name, run, check, outcome, n in [
        ("single-decree Paxos", random_paxos, check_paxos, learned, args.seeds),
        ("Multi-Paxos", random_multipaxos, check_multipaxos, completed, args.multi_seeds),
    ]:
        t0 = time.perf_counter()
        result = sweep(run, progress(range(n), desc=name), check, outcome=outcome)
        dt = time.perf_counter() - t0
        print(f"{name}: {result.summary()}; {dt:.1f} s ({1000 * dt / max(n, 1):.2f} ms/seed)")


if __name__ == "__main__":
    main()
