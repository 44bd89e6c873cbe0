"""Benchmark the linearizability checker on generated register and key-value histories.

Run:   .venv/bin/python benchmarks/bench_linearizability.py            # check, print a table
       .venv/bin/python benchmarks/bench_linearizability.py --regenerate  # also rewrite the JSON files
       .venv/bin/python benchmarks/bench_linearizability.py --profile lin_register_1000_bad

Histories (seeded, deterministic): 5-10 clients issue overlapping read/write/cas
operations; each operation takes effect at a random atomic instant inside its
interval (so the history is linearizable by construction), about 2% time out and
are recorded ``info`` (half of those took effect). The ``_bad`` variant changes one
late read to return a value that was overwritten before the read began (a stale
read: not linearizable).

JSON format of ``benchmarks/data/lin_<name>.json`` (porcupine-compatible: the
``operations`` list decodes directly into porcupine's ``[]porcupine.Operation``
``{ClientId int, Input, Call int64, Output, Return int64}``)::

    {
      "model": "register" | "kv",      # kv: partition by Input.Key (porcupine's Model.Partition)
      "init": null,                    # initial value of every register
      "time_unit": "ns",               # Call/Return are integer nanoseconds of simulated time
      "operations": [
        {"ClientId": 3,                                    # client number
         "Input":  {"Op": "read"|"write"|"cas", "Key": "k1", "Value": 7},  # cas: Value = [old, new]
         "Call": 1200000,
         "Output": {"Value": 5, "Unknown": false},         # read result; Unknown: timed out (info)
         "Return": 1800000,                                # info ops: 9223372036854775807 (MaxInt64)
         "Timeout": 1900000},                              # info ops only: when the client gave up
        ...
      ]
    }

Operations appear in invocation order; info operations carry ``Return = MaxInt64``
(porcupine's convention for "may be concurrent with everything after it") and
``Unknown = true``: a model must accept any output for them. Their extra ``Timeout``
field (ignored by porcupine) is when the client gave up; the same client then goes
on issuing operations, so a reader rebuilding a Jepsen history records an ``info``
completion there. Failed operations (certainly not applied) are left out.
Files over 1 MB are written but must not be committed (see .gitignore advice in
the report); the 10,000-operation histories are regenerated with ``--regenerate``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

from distlib.check.linearizability import check_linearizability
from distlib.check.models import KVStore, Register
from distlib.sim.history import History, Op
from distlib.sim.rng import stream

DATA = Path(__file__).resolve().parent / "data"
MAX_INT64 = 2**63 - 1


def generate(seed: int, n_ops: int, n_clients: int, n_keys: int = 1, *, info_rate: float = 0.02,
             cas_rate: float = 0.1, stale_read: bool = False) -> History:
    """A linearizable history of ``n_ops`` operations by construction (optionally one stale read)."""
    rng = stream(seed, f"lin-history/{n_ops}/{n_clients}/{n_keys}")
    keys = ["x"] if n_keys == 1 else [f"k{i}" for i in range(n_keys)]
    # 1. intervals: each client runs its operations back to back with small gaps
    clock = [rng.uniform(0, 0.002) for _ in range(n_clients)]
    ops = []  # [call, ret, client, f, key, input, atomic_point_or_None, status]
    for _ in range(n_ops):
        c = min(range(n_clients), key=lambda j: (clock[j], j))  # the client that is free first
        call = clock[c]
        dur = rng.expovariate(1 / 0.010) + 0.001
        key = keys[rng.randrange(len(keys))]
        u = rng.random()
        f = "read" if u < 0.5 else ("cas" if u < 0.5 + cas_rate else "write")
        status = "info" if rng.random() < info_rate else "ok"
        point = rng.uniform(call, call + dur)
        if status == "info" and rng.random() < 0.5:
            point = None  # timed out and never took effect
        ops.append([call, call + dur, c, f, key, None, point, status])
        clock[c] = call + dur + rng.expovariate(1 / 0.002)
    # 2. apply at the atomic points, in point order, to get outputs
    value = {k: None for k in keys}
    written = {k: 0 for k in keys}
    outputs: dict[int, object] = {}
    for idx in sorted((i for i, o in enumerate(ops) if o[6] is not None), key=lambda i: (ops[i][6], i)):
        _, _, _, f, key, _, _, _ = ops[idx]
        if f == "read":
            outputs[idx] = value[key]
        elif f == "write":
            written[key] += 1
            ops[idx][5] = written[key]
            value[key] = written[key]
        else:  # cas: succeed (expected = current value) or fail (recorded as a fail op)
            written[key] += 1
            if rng.random() < 0.7:
                ops[idx][5] = [value[key], written[key]]
                value[key] = written[key]
            else:
                ops[idx][5] = [-1, written[key]]
                if ops[idx][7] == "ok":
                    ops[idx][7] = "fail"
    for o in ops:  # inputs of operations that never took effect
        if o[5] is None and o[3] != "read":
            o[5] = -7 if o[3] == "write" else [-1, -7]
    if stale_read:
        _inject_stale_read(ops, outputs)
    # 3. emit invoke/complete events in real-time order
    events = []
    for idx, (call, ret, c, f, key, inp, _, status) in enumerate(ops):
        proc = f"c{c + 1}"
        events.append((call, 1, idx, Op(proc, "invoke", f, key, inp, call)))
        out = outputs.get(idx) if f == "read" else inp
        if status == "info":
            events.append((ret, 0, idx, Op(proc, "info", f, key, inp, ret)))
        else:
            events.append((ret, 0, idx, Op(proc, status, f, key, out, ret)))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return History(e[3] for e in events)


def _inject_stale_read(ops: list, outputs: dict[int, object]) -> None:
    """Make one late ok read return a value overwritten (by a completed write) before it began."""
    n = len(ops)
    writes = [i for i, o in enumerate(ops) if o[3] == "write" and o[7] == "ok" and o[6] is not None]
    for r in range(int(n * 0.8), n):
        call, _, _, f, key, _, _, status = ops[r]
        if f != "read" or status != "ok":
            continue
        done = [i for i in writes if ops[i][4] == key and ops[i][1] < call]
        for w in sorted(done, key=lambda i: ops[i][1]):
            # w2 starts after w returns and returns before the read starts => w's value is stale
            if any(ops[w2][4] == key and ops[w2][0] > ops[w][1] and ops[w2][1] < call for w2 in done):
                outputs[r] = ops[w][5]
                return
    raise RuntimeError("no read to corrupt")


def to_porcupine(history: History, model: str) -> dict:
    from distlib.check.linearizability import operations_from_history

    ops = []
    for o in operations_from_history(history):
        ops.append({
            "ClientId": int(o.process[1:]) - 1,
            "Input": {"Op": o.f, "Key": o.key, "Value": o.input},
            "Call": round(o.call * 1e9),
            "Output": {"Value": None if o.status == "info" else (o.output if o.f == "read" else None),
                       "Unknown": o.status == "info"},
            "Return": MAX_INT64 if o.status == "info" else round(o.ret * 1e9),
            **({"Timeout": round(o.end * 1e9)} if o.status == "info" else {}),
            **({"Status": "fail"} if o.status == "fail" else {}),
        })
    # porcupine has no "fail": failed operations are dropped from the file
    ops = [o for o in ops if "Status" not in o]
    return {"model": model, "init": None, "time_unit": "ns", "operations": ops}


def from_porcupine(doc: dict) -> History:
    """Rebuild a History (time in seconds) from the JSON format above."""
    events = []
    for i, o in enumerate(doc["operations"]):
        proc, f, key, inp = f"c{o['ClientId'] + 1}", o["Input"]["Op"], o["Input"]["Key"], o["Input"]["Value"]
        call = o["Call"] / 1e9
        events.append((call, 1, i, Op(proc, "invoke", f, key, inp, call)))
        if o["Output"]["Unknown"]:  # info: recorded when the client gave up
            events.append((o["Timeout"] / 1e9, 0, i, Op(proc, "info", f, key, inp, o["Timeout"] / 1e9)))
            continue
        ret = o["Return"] / 1e9
        out = o["Output"]["Value"] if f == "read" else inp
        events.append((ret, 0, i, Op(proc, "ok", f, key, out, ret)))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return History(e[3] for e in events)


CASES = [  # name, n_ops, n_clients, n_keys
    ("register_100", 100, 5, 1), ("register_1000", 1000, 8, 1), ("register_10000", 10000, 10, 1),
    ("kv_100", 100, 5, 4), ("kv_1000", 1000, 8, 8), ("kv_10000", 10000, 10, 10),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regenerate", action="store_true", help="rewrite benchmarks/data/lin_*.json")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="substring of case names to run")
    ap.add_argument("--profile", default="", help="cProfile one case, e.g. register_1000_bad")
    args = ap.parse_args(argv)
    print(f"{'history':<22}{'ops':>7}{'clients':>8}{'keys':>6}  {'verdict':<8}{'time s':>9}"
          f"{'steps':>10}{'states':>10}")
    for name, n, clients, keys in CASES:
        for bad in (False, True):
            full = f"{name}_bad" if bad else name
            if args.only and args.only not in full or args.profile and args.profile != full:
                continue
            hist = generate(args.seed, n, clients, keys, stale_read=bad)
            model = Register() if keys == 1 else KVStore()
            if args.regenerate:
                DATA.mkdir(exist_ok=True)
                doc = to_porcupine(hist, "register" if keys == 1 else "kv")
                text = json.dumps(doc, separators=(",", ":"))
                (DATA / f"lin_{full}.json").write_text(text + "\n")
            if args.profile:
                prof = cProfile.Profile()
                prof.enable()
            t0 = time.perf_counter()
            res = check_linearizability(hist, model, max_steps=None)
            dt = time.perf_counter() - t0
            if args.profile:
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(12)
            n_ops = sum(1 for o in hist if o.type == "invoke")
            print(f"{full:<22}{n_ops:>7}{clients:>8}{keys:>6}  {res.verdict:<8}{dt:>9.3f}"
                  f"{res.steps:>10}{res.states:>10}")
            expected = "Illegal" if bad else "Ok"
            if res.verdict != expected:
                print(f"  UNEXPECTED verdict (wanted {expected}): {res.reason}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
