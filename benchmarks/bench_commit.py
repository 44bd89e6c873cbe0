"""Atomic commit beyond 2PC: Paxos Commit and 3PC sweeps, costs beside Gray & Lamport, the
comparison table, and the model checker on 3PC's partition violation.

Run:  .venv/bin/python benchmarks/bench_commit.py [--seeds 10000] [--mc-paxos-commit]

Prints, per section: seeds, violations, blocked, outcome counts and wall time (sweeps); messages,
message delays and forced writes of a failure-free commit measured beside the paper's figures;
the 2PC / 3PC / Paxos Commit table; explorer states and the counterexample. ``--mc-paxos-commit``
also model-checks Paxos Commit with F = 1 and 2 RMs to depth 10 (about two minutes).
"""

from __future__ import annotations

import argparse
import time

from distlib.check.atomic import atomic_commitment_invariant, check_atomic_commitment
from distlib.check.explore import explore
from distlib.check.sweep import sweep
from distlib.transactions import paxos_commit, threepc
from distlib.transactions.compare import comparison_table, format_table


def _sweep(label: str, run, seeds: int) -> None:
    start = time.perf_counter()
    result = sweep(run, range(seeds), check_atomic_commitment)
    elapsed = time.perf_counter() - start
    counts = {k: result.outcomes.get(k, 0) for k in ("commit", "abort", "blocked", "mixed")}
    print(f"[{label}] seeds={len(result.seeds)} violations={len(result.violations)} "
          f"first_failing_seed={result.first_failing_seed}")
    print("  outcomes: " + " ".join(f"{k}={v}" for k, v in counts.items())
          + f"  time={elapsed:.1f}s ({1000 * elapsed / max(1, seeds):.2f} ms/seed)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--mc-paxos-commit", action="store_true")
    args = ap.parse_args()

    _sweep("Paxos Commit F=1, <= F acceptors crash-stop, RM crashes, partitions, pauses, loss",
           paxos_commit.random_paxos_commit, args.seeds)
    _sweep("Paxos Commit F=2", lambda s: paxos_commit.random_paxos_commit(s, f=2), args.seeds // 10)
    _sweep("3PC, crashes only (with and without restart)", threepc.random_3pc, args.seeds)

    print("\n[normal case, measured; paper = Gray & Lamport 2006]")
    for key, text in paxos_commit.PAPER.items():
        print(f"  paper {key}: {text}")
    for n, f in ((3, 0), (3, 1), (5, 1), (5, 2)):
        c = paxos_commit.normal_case_cost(n, f)
        for label in ("2pc", "paxos_commit"):
            m = c[label]
            print(f"  N={n} F={f} {label:12s} measured: {m['messages']:3d} messages {m['by_type']}, "
                  f"{m['message_delays']} message delays, {m['write_delays']} write delays, "
                  f"{m['forced_writes']} forced writes | paper accounting: {m['paper_accounting']}")
        print(f"  N={n} F={f} paper: 2PC {3 * n - 1} messages / 4 delays; Paxos Commit 5 delays")

    print("\n[comparison, measured from runs]")
    start = time.perf_counter()
    print(format_table(comparison_table(3, 1, seeds=500)))
    print(f"  time={time.perf_counter() - start:.1f}s")

    print("\n[model checker: 3PC, coord + 2 participants, up to 2 drops]")
    result = explore(threepc.model_nodes(2), {"atomic": atomic_commitment_invariant}, max_drops=2,
                     max_depth=12)
    print(f"  {result.summary()}  ({result.seconds:.1f}s)")
    print("\n".join("  " + line for line in result.format().splitlines()[1:]))
    result = explore(paxos_commit.model_nodes(2, 0), {"atomic": atomic_commitment_invariant},
                     keep_messages=True, max_crashes=1, restarts=False)
    print(f"[model checker: Paxos Commit F=0 (2PC), 2 RMs, 1 crash] {result.summary()} "
          f"({result.seconds:.1f}s)")
    if args.mc_paxos_commit:
        result = explore(paxos_commit.model_nodes(2, 1), {"atomic": atomic_commitment_invariant},
                         max_crashes=1, crashable=("a1",), restarts=False, max_depth=10, max_states=400_000)
        print(f"[model checker: Paxos Commit F=1, 2 RMs, leader crash, depth 10] {result.summary()} "
              f"({result.seconds:.1f}s)")


if __name__ == "__main__":
    main()
