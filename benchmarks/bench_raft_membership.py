"""Raft membership change: a large random-fault sweep of single-server changes, the broken direct
switch caught, and the model checker on the 3 -> 4 server change.

    .venv/bin/python benchmarks/bench_raft_membership.py                 # 10,000 seeds, 2 workers
    .venv/bin/python benchmarks/bench_raft_membership.py --seeds 500 --depth 17   # quick

1. ``--seeds`` runs of :func:`distlib.check.raft_membership.membership_fuzz` (4-5 servers, one
   outside the initial configuration; 3 simulated seconds; 3 random crash/partition/pause faults;
   random loss/duplication/reordering; snapshots every 8 entries; an administrator asking for 3
   random single-server changes), the four Raft invariants checked after every event; every
   10th seed is a KV run, its client history checked for linearizability and exactly-once
   appends. Violations must be 0. CPU seconds are summed over the workers.
2. The same sweep over ``--direct-seeds`` seeds with the BROKEN ``config_change="direct"``
   (each change replaces a voter in one step): how many runs the monitor catches.
3. The model checker (:func:`distlib.check.raft_membership.membership_model`): the direct switch
   {n1,n2,n3} -> {n2,n3,n4} (a violation, with its counterexample) and the same change as
   AddServer(n4) then RemoveServer(n1), breadth-first to ``--depth`` steps (and one deeper); then
   both again with any one server crashing (and restarting), to ``--crash-depth`` steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool

from distlib.check.explore import explore
from distlib.check.raft_membership import membership_fuzz, membership_model, model_invariants
from distlib.consensus.raft import OK, RaftNode
from distlib.consensus.raft_kv import KVNode


def one(args: tuple[int, str]) -> tuple[int, bool, list[str], int, float, set[str]]:
    seed, mode = args
    kv = seed % 10 == 9
    t0 = time.process_time()
    r = membership_fuzz(seed, config_change=mode, cls=KVNode if kv else RaftNode, kv=kv)
    cpu = time.process_time() - t0
    done = sum(1 for _, _, status in r.changes if status == OK)
    return seed, r.ok, r.problems(), done, cpu, {v.invariant for v in r.monitor.violations}


def sweep(label: str, seeds: int, mode: str, workers: int) -> list[tuple[int, list[str], set[str]]]:
    print(f"{label}: {seeds} seeds, config_change={mode!r}, {workers} workers", flush=True)
    start = time.perf_counter()
    bad: list[tuple[int, list[str], set[str]]] = []
    cpu = 0.0
    changes = 0
    with Pool(workers) as pool:
        for i, (seed, ok, problems, done, c, invs) in enumerate(
                pool.imap_unordered(one, [(s, mode) for s in range(seeds)], 20), 1):
            cpu += c
            changes += done
            if not ok:
                bad.append((seed, problems, invs))
            if i % 2000 == 0 or i == seeds:
                print(f"    {i:>6}/{seeds} seeds  {time.perf_counter() - start:7.1f}s wall  "
                      f"violations so far: {len(bad)}", flush=True)
    wall = time.perf_counter() - start
    print(f"    seeds={seeds} violations={len(bad)} changes committed={changes} "
          f"cpu={cpu:.1f}s ({1000 * cpu / max(seeds, 1):.1f} ms/seed) wall={wall:.1f}s")
    return sorted(bad)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--direct-seeds", type=int, default=1_000)
    ap.add_argument("--depth", type=int, default=17)
    ap.add_argument("--crash-depth", type=int, default=13)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    if a.seeds < 0 or a.direct_seeds < 0 or a.depth < 1 or a.workers < 1:
        ap.error("--seeds and --direct-seeds must be >= 0, --depth and --workers >= 1")

    bad = sweep("[1] single-server changes under faults", a.seeds, "single", a.workers)
    for seed, problems, _ in bad[:5]:
        print(f"    seed {seed}: {problems[:2]}")

    caught = sweep("\n[2] BROKEN direct switches under faults", a.direct_seeds, "direct", a.workers)
    es = [seed for seed, _, invs in caught if "Election Safety" in invs]
    print(f"    caught {len(caught)} of {a.direct_seeds} runs; Election Safety in {len(es)} "
          f"(first seeds: {es[:5]})")

    print(f"\n[3] model checker, 3 -> 4 server change (n3 leads term 1), max_depth={a.depth}", flush=True)
    r = explore(membership_model("direct"), model_invariants(), max_depth=a.depth)
    print(f"    direct: {r.summary()}  {r.seconds:.1f}s")
    for i, step in enumerate(r.counterexample, 1):
        print(f"      {i:2d}. {step}")
    for depth in (a.depth, a.depth + 1):
        r = explore(membership_model("single"), model_invariants(), max_depth=depth, max_states=5_000_000)
        print(f"    single (add n4, then remove n1), max_depth={depth}: {r.summary()}  {r.seconds:.1f}s "
              f"({r.states / max(r.seconds, 1e-9):,.0f} states/s)", flush=True)
    for mode in ("direct", "single"):
        r = explore(membership_model(mode), model_invariants(), max_depth=a.crash_depth, max_crashes=1,
                    max_states=5_000_000)
        print(f"    {mode}, one crash, max_depth={a.crash_depth}: {r.summary()}  {r.seconds:.1f}s",
              flush=True)
    return 1 if bad or not caught else 0


if __name__ == "__main__":
    sys.exit(main())
