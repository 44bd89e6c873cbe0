"""Chapter 07's Dynamo-style store: seed sweeps, Merkle repair bytes, PBS t-visibility.

Run:  .venv/bin/python benchmarks/bench_dynamo.py [--seeds 10000] [--pbs-trials 2000] [--skip-sweeps]

1. Sweeps (random crash/partition/pause faults, 5 % loss, 2 % duplication) per configuration:
   violations must be 0 for the correct ones; the broken variant's count is what the checker caught.
2. Merkle anti-entropy: bytes to repair 1 % divergence over 100,000 keys vs a full transfer, for
   several tree depths (plus 10 % divergence, where the tree stops paying off).
3. PBS: t-visibility for N=3, R, W in 1..3, exponential one-way latencies (mean 1), simulated, with
   the WARS model computed directly beside it for R=W=1.
"""

from __future__ import annotations

import argparse
import time

from distlib.check.replication import check_replication, lww_losses
from distlib.check.sweep import sweep
from distlib.storage.dynamo import Config, random_dynamo
from distlib.storage.merkle import repair_cost
from distlib.storage.pbs import DEFAULT_TIMES, pbs_curves, wars

CONFIGS = {
    "VV, sloppy, N=3 R=2 W=2": Config(),
    "VV, sloppy, N=3 R=1 W=1": Config(r=1, w=1),
    "LWW strict + read write-back (linearizable)": Config(mode="lww", sloppy=False, write_back=True),
    "BROKEN overwriting read repair": Config(variant="overwriting-repair"),
}


def sweeps(seeds: int) -> None:
    for label, config in CONFIGS.items():
        start = time.perf_counter()
        result = sweep(lambda s, c=config: random_dynamo(s, c), range(seeds), check_replication)
        elapsed = time.perf_counter() - start
        print(f"[{label}] seeds={len(result.seeds)} violations={len(result.violations)} "
              f"first_failing_seed={result.first_failing_seed} "
              f"time={elapsed:.1f}s ({1000 * elapsed / max(1, seeds):.1f} ms/seed)")
    skewed = Config(mode="lww", skew=(("n1", 0.5),))
    totals = {"acked": 0, "skew": 0, "concurrent": 0}
    n = min(seeds, 1000)
    for s in range(n):
        out = lww_losses(random_dynamo(s, skewed, faults=0, loss=0.0))
        for k in totals:
            totals[k] += out[k]
    print(f"[LWW, n1 clock +0.5, no faults] {n} seeds: acked writes={totals['acked']} lost to skew="
          f"{totals['skew']} lost to concurrent writes={totals['concurrent']}")


def merkle() -> None:
    for divergence, depth in ((0.01, None), (0.01, 10), (0.01, 16), (0.01, 18), (0.10, None)):
        start = time.perf_counter()
        r = repair_cost(100_000, divergence, depth=depth)
        print(f"[merkle] keys=100000 divergence={divergence:.0%} depth={r['depth']}: differing keys="
              f"{r['differing_keys']} buckets={r['differing_buckets']} keys sent={r['keys_sent']} "
              f"merkle={r['merkle_bytes']:,} B (hashes {r['hash_bytes']:,}, entries {r['entry_bytes']:,}) "
              f"full={r['full_bytes']:,} B ratio={r['ratio']:.3f} exact={r['exact']} "
              f"({time.perf_counter() - start:.1f}s)")


def pbs(trials: int) -> None:
    start = time.perf_counter()
    data = pbs_curves(trials=trials)
    print(f"[pbs] N=3, exponential latency mean 1 on every link, {trials} trials per (R, W), "
          f"t = {list(DEFAULT_TIMES)} ({time.perf_counter() - start:.1f}s)")
    for (r, w), curve in data["curves"].items():
        print(f"  R={r} W={w}{' (strict)' if r + w > 3 else ''}: " + " ".join(f"{p:.3f}" for p in curve))
    print("  WARS model, R=1 W=1 (100,000 trials): "
          + " ".join(f"{p:.3f}" for p in wars(1, 1, trials=100_000)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--pbs-trials", type=int, default=2_000)
    ap.add_argument("--skip-sweeps", action="store_true")
    args = ap.parse_args()
    merkle()
    pbs(args.pbs_trials)
    if not args.skip_sweeps:
        sweeps(args.seeds)


if __name__ == "__main__":
    main()
