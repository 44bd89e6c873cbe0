"""Benchmark the linearizability checker on append-heavy key-value histories (get / put / append).

Run:   .venv/bin/python benchmarks/bench_lin_append.py             # the table below, one process per case
       .venv/bin/python benchmarks/bench_lin_append.py --plain     # the same with the model as it was
                                                                   # (no state merging, no pruning)

The workload of issue 7 §5: 50 clients on 10 keys, 60% appends, 30% reads, 10% writes, a few
thousand operations, seeds fixed. Histories come from simulating a real linearizable store
(:func:`generate`): each client runs its operations back to back; each operation takes effect
atomically at a random instant inside its window; about 3% time out (``info``) and of those half
took effect — possibly after the client gave up. The *linearizable twin* is that history; the
*illegal* variant makes one read of one key stale (it returns the value from before a write or
append that completed before the read began; tokens are unique, so that value never comes back).

Each case runs in a fresh subprocess, so its peak memory is its own: ``peak MB`` is the process's
peak RSS (Python, imports and the history included), ``+check MB`` how much the check added to it,
``est MB`` the checker's own estimate of its memo caches (``LinResult.memory``).
Target (issue 7): Illegal in < 1 s, Ok on the twin in < 1 s, peak memory < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence

from distlib.check.linearizability import DEFAULT_MAX_STEPS, check_linearizability
from distlib.check.models import AppendKVStore, Model, ModelOp
from distlib.sim.history import History, Op
from distlib.sim.rng import stream


def generate(seed: int, n_ops: int = 2000, n_clients: int = 50, n_keys: int = 10, *,
             mix: tuple[float, float, float] = (0.6, 0.3, 0.1), info_rate: float = 0.03,
             latency: float = 0.010, timeout: float = 0.05, illegal_key: str | None = None) -> History:
    """A history recorded from a linearizable store (keys ``k0``..); ``illegal_key``: one stale read.

    ``mix``: probabilities of (append, read, write). Values are unique tokens ``"c<client>.<seq>;"``
    (an absent key reads ``None``). An operation lasts ``latency`` on average (exponential); one
    longer than ``timeout``, or with probability ``info_rate``, times out: the client records
    ``info`` at the timeout and goes on, and the operation took effect with probability 1/2 at a
    random instant up to two timeouts after its invocation.
    """
    rng = stream(seed, f"lin-append/{n_ops}/{n_clients}/{n_keys}")
    keys = [f"k{i}" for i in range(n_keys)]
    if illegal_key is not None and illegal_key not in keys:
        raise ValueError(f"illegal_key must be one of {', '.join(keys)} (got {illegal_key!r})")
    clock = [rng.uniform(0, 0.002) for _ in range(n_clients)]
    seq = [0] * n_clients
    ops: list[dict] = []
    for _ in range(n_ops):
        c = min(range(n_clients), key=lambda j: (clock[j], j))   # the client that is free first
        call = clock[c]
        seq[c] += 1
        key = keys[rng.randrange(n_keys)]
        u = rng.random()
        f = "append" if u < mix[0] else ("read" if u < mix[0] + mix[1] else "write")
        dur = rng.expovariate(1 / latency) + 0.0005
        if dur > timeout or rng.random() < info_rate:
            status, end = "info", call + min(dur, timeout)
            point = rng.uniform(call, call + 2 * timeout) if rng.random() < 0.5 else None
        else:
            status, end = "ok", call + dur
            point = rng.uniform(call, end)
        ops.append({"c": c, "f": f, "key": key, "in": None if f == "read" else f"c{c}.{seq[c]};",
                    "call": call, "end": end, "point": point, "status": status, "out": None})
        clock[c] = end + rng.expovariate(1 / 0.002)
    # apply every op that took effect at its instant, in instant order: the store's true run
    value: dict[str, str | None] = {k: None for k in keys}
    applied: dict[str, list[tuple[str | None, int]]] = {k: [] for k in keys}  # (value before, op)
    for i in sorted((i for i, o in enumerate(ops) if o["point"] is not None),
                    key=lambda i: (ops[i]["point"], i)):
        o = ops[i]
        k = o["key"]
        applied[k].append((value[k], i))
        if o["f"] == "read":
            o["out"] = value[k]
        elif o["f"] == "append":
            value[k] = (value[k] or "") + o["in"]
        else:
            value[k] = o["in"]
    if illegal_key is not None:
        _stale_read(ops, applied[illegal_key])
    events = []
    for i, o in enumerate(ops):
        proc = f"c{o['c']}"
        events.append((o["call"], 1, i, Op(proc, "invoke", o["f"], o["key"], o["in"], o["call"])))
        out = o["out"] if o["f"] == "read" and o["status"] == "ok" else o["in"]
        events.append((o["end"], 0, i, Op(proc, o["status"], o["f"], o["key"], out, o["end"])))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return History(e[3] for e in events)


def _stale_read(ops: list[dict], applied: list[tuple[str | None, int]]) -> None:
    """Make an ok read from the second half return the value from before an ok write/append that
    completed before the read was invoked."""
    for j in range(len(applied) // 2, len(applied)):
        r = ops[applied[j][1]]
        if r["f"] != "read" or r["status"] != "ok":
            continue
        for before, w in reversed(applied[:j]):
            o = ops[w]
            if o["f"] != "read" and o["status"] == "ok" and o["end"] < r["call"] and before != r["out"]:
                r["out"] = before
                return
    raise RuntimeError("no read to make stale")


class PlainAppendKVStore(AppendKVStore):
    """The append model as it was before issue 7: no state merging, no pruning with appends."""

    def for_history(self, ops: Sequence[ModelOp], unknown: Sequence[bool]) -> Model:
        return self

    def prune(self, ops: Sequence[ModelOp], unknown: Sequence[bool]) -> list[bool]:
        return [True] * len(ops)


CASES = [  # name, seed, n_ops, n_clients, n_keys, illegal key
    *[(f"{n}ops_seed{s}{'_illegal' if bad else ''}", s, n, 50, 10, "k7" if bad else None)
      for n in (2000, 5000) for s in (1, 2, 3) for bad in (False, True)],
]


def run_case(name: str, plain: bool, max_steps: int | None) -> dict:
    """One case in this process (the parent starts a fresh one per case). ``keys`` in the table: each
    key's verdict by its initial (O/I/U)."""
    _, seed, n, clients, keys, bad = next(c for c in CASES if c[0] == name)
    hist = generate(seed, n, clients, keys, illegal_key=bad)
    model = PlainAppendKVStore() if plain else AppendKVStore()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = check_linearizability(hist, model, max_steps=max_steps)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    return {"verdict": res.verdict, "time": dt, "peak_mb": peak / 1024, "check_mb": (peak - before) / 1024,
            "est_mb": res.memory / 2**20, "steps": res.steps, "states": res.states, "key": res.key,
            "expected": "Illegal" if bad else "Ok", "reason": res.reason,
            "per_key": "".join(v[0] for v in res.key_verdicts.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", action="store_true", help="use the append model as it was (no merging)")
    ap.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS,
                    help="the checker's step budget; 0: none (unbounded in time, still bounded in memory)")
    ap.add_argument("--only", default="", help="substring of case names to run")
    ap.add_argument("--case", default="", help=argparse.SUPPRESS)   # internal: run one case, print JSON
    args = ap.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args.plain, args.max_steps or None)))
        return 0
    print(f"{'history':<26}{'verdict':<9}{'keys':<12}{'time s':>8}{'peak MB':>9}{'+check MB':>10}"
          f"{'est MB':>8}{'steps':>10}{'states':>9}")
    status = 0
    for name, *_ in CASES:
        if args.only and args.only not in name:
            continue
        cmd = [sys.executable, __file__, "--case", name, f"--max-steps={args.max_steps}"]
        cmd += ["--plain"] if args.plain else []
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(f"{name:<26}{r['verdict']:<9}{r['per_key']:<12}{r['time']:>8.2f}{r['peak_mb']:>9.0f}"
              f"{r['check_mb']:>10.0f}{r['est_mb']:>8.0f}{r['steps']:>10}{r['states']:>9}", flush=True)
        if r["verdict"] != r["expected"]:
            print(f"  wanted {r['expected']}: {r['reason']}")
            if not args.plain:   # the plain model is expected to fall short: it shows the problem
                status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
