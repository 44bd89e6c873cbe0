"""Placement lookups per second: single keys and numpy batches, per strategy; uhashring beside the ring.

Run:  .venv/bin/python benchmarks/bench_partitioning.py [--keys 200000] [--nodes 10] [--vnodes 160]

* single: ``owner(key)`` in a Python loop (hashing included).
* batch end-to-end: ``lookup(hash_array(keys))`` -- hashing each key in Python, then one
  vectorized lookup (numpy ``searchsorted`` for the ring).
* batch, hashes given: ``lookup(hashes)`` on precomputed uint64 key hashes (what a store that
  keeps key hashes does).
* uhashring (ketama-compatible, 160 points per node by default) if it is importable:
  ``get_node(key)`` on the same keys, against a Ring with the same number of points.
* Maglev (NSDI 2016, §3.4): table build time, balance (slots per backend and key-count spread)
  and disruption (table slots that changed on a join / a leave, against the necessary ones) for
  the default M = 65537 and a 100-backend cluster (the paper's M > 100 N rule, shares within 1 %).
* Ring scaling: single lookups on a precomputed hash with 1e3..1e5 points (binary search:
  O(log V)), and the memory each virtual node takes (tracemalloc).
Prints numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from distlib.partitioning.hashing import hash_array, np
from distlib.partitioning.maglev import Maglev, disruption
from distlib.partitioning.metrics import load_stats
from distlib.partitioning.placement import BoundedLoadRing, JumpHash, ModN, Rendezvous, Ring


def rate(fn, n: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``fn()``: items per second for ``n`` items."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--vnodes", type=int, default=160)
    args = ap.parse_args()
    if np is None:
        print("numpy is not installed: batch numbers below use the pure-Python fallback")
    keys = [f"user:{i}" for i in range(args.keys)]
    names = [f"node{i}" for i in range(args.nodes)]
    hashes = hash_array(keys)
    print(f"keys={args.keys} nodes={args.nodes} vnodes/node={args.vnodes} (ring points="
          f"{args.nodes * args.vnodes})")
    print(f"hash_array alone: {rate(lambda: hash_array(keys), len(keys)) / 1e6:.2f} M keys/s")
    strategies = {
        "modn": ModN(names), "ring": Ring(names, vnodes=args.vnodes), "jump": JumpHash(names),
        "rendezvous": Rendezvous(names), "bounded(placed)": None, "maglev": Maglev(names),
    }
    bounded = BoundedLoadRing(names, vnodes=args.vnodes, eps=0.25)
    t0 = time.perf_counter()
    bounded.place_all(keys)
    strategies["bounded(placed)"] = bounded
    print(f"bounded: placing {len(keys)} keys took {time.perf_counter() - t0:.2f} s")
    print(f"{'strategy':<16} {'single k/s':>11} {'batch e2e k/s':>14} {'batch hashes k/s':>17}")
    results = {}
    for label, p in strategies.items():
        single = rate(lambda p=p: [p.owner(k) for k in keys], len(keys), repeat=1)
        e2e = rate(lambda p=p: p.lookup(hash_array(keys)), len(keys))
        pre = rate(lambda p=p: p.lookup(hashes), len(keys))
        results[label] = (single, e2e, pre)
        print(f"{label:<16} {single / 1e3:>11.0f} {e2e / 1e3:>14.0f} {pre / 1e3:>17.0f}")

    try:
        from uhashring import HashRing
    except ImportError:
        print("uhashring: not importable -- comparison skipped (pip install uhashring)")
    else:
        ring_u = HashRing(nodes=names)                   # ketama: 40 x 4 = 160 points per node
        points = len(ring_u.get_points())
        ours = Ring(names, vnodes=points // args.nodes)
        u_rate = rate(lambda: [ring_u.get_node(k) for k in keys], len(keys), repeat=1)
        single = rate(lambda: [ours.owner(k) for k in keys], len(keys), repeat=1)
        e2e = rate(lambda: ours.lookup(hash_array(keys)), len(keys))
        pre = rate(lambda: ours.lookup(hashes), len(keys))
        print(f"uhashring {ring_u.__class__.__module__} with {points} points: get_node "
              f"{u_rate / 1e3:.0f} k keys/s")
        print(f"  Ring with {len(ours.points())} points: single {single / 1e3:.0f} k/s "
              f"({single / u_rate:.1f}x), batch end-to-end {e2e / 1e3:.0f} k/s ({e2e / u_rate:.1f}x), "
              f"batch on hashes {pre / 1e3:.0f} k/s ({pre / u_rate:.1f}x)")

    print("maglev (M = table size, N = backends):")
    for n, m in ((args.nodes, 65537), (100, 65537), (100, 10007), (1000, 65537)):
        backends = [f"b{i}" for i in range(n)]
        t0 = time.perf_counter()
        mg = Maglev(backends, m=m)
        built = time.perf_counter() - t0
        slots = mg.slot_counts().values()
        st = load_stats(mg, hashes)
        joined = Maglev(backends + ["new"], m=m)
        left = Maglev(backends[1:], m=m)
        dj, dl = disruption(mg, joined), disruption(mg, left)
        print(f"  N={n:<5} M={m:<6} (M/N={m / n:>5.0f}) build {built:.2f} s; "
              f"slots/backend {min(slots)}..{max(slots)} (max/min {max(slots) / min(slots):.4f}); "
              f"keys max/mean {st.max_over_mean:.3f} CV {st.cv:.4f}; "
              f"join changes {dj['fraction']:.2%} of slots (necessary {dj['necessary'] / m:.2%}), "
              f"leave {dl['fraction']:.2%} (necessary {dl['necessary'] / m:.2%})")

    print("ring single lookup on a precomputed hash vs ring size (binary search):")
    probe = [int(h) for h in hashes[:50_000]]
    for total in (1_000, 10_000, 100_000):
        ring = Ring([f"node{i}" for i in range(total // 100)], vnodes=100)
        r = rate(lambda ring=ring: [ring.owner_of_hash(h) for h in probe], len(probe))
        print(f"  {total:>7} points: {r / 1e3:.0f} k lookups/s")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    big = Ring([f"node{i}" for i in range(100)], vnodes=1000)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"memory: {used / len(big.points()):.0f} bytes per virtual node "
          f"({len(big.points())} points, position cache + sorted lists + numpy arrays)")


if __name__ == "__main__":
    main()
