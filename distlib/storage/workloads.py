"""Which setting for which workload -- a table filled from runs, not from prose.

Every :data:`WORKLOADS` entry (a client mix on the Dynamo-style store of :mod:`.dynamo`, 5 nodes,
N = 3) is run against every :data:`CANDIDATES` configuration over ``seeds`` seeds, three times per
seed: without faults, with one crash and with one partition (both hit the first preference-list
node of key ``k0``, from t = 0.3 to 1.5). Measured per (workload, configuration):

* ``p99_read`` / ``p99_write`` -- 99th-percentile latency of successful gets / puts in the runs
  without faults, in ms (the links take 5-20 ms one way);
* ``stale_pct`` -- successful reads that missed the last write acknowledged before they began
  (and returned nothing newer);
* ``ryw_pct`` -- successful reads by a client that missed *its own* last acknowledged write of
  the key (read-your-writes violations, same "nothing newer" allowance);
* ``lost`` -- acknowledged writes discarded without anybody having seen them: LWW's losses
  (:func:`distlib.check.replication.lww_losses`), or for version vectors the checker's lost-write
  findings (:func:`distlib.check.replication.check_vv`; 0 when the store is correct);
* ``crash_read`` / ``crash_write`` / ``part_read`` / ``part_write`` -- availability: the percentage
  of gets / puts that succeeded in the crash runs and in the partition runs.

:func:`pick` then applies one stated rule per workload to those numbers and names the cells that
decided it; :func:`table_text` prints both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.partitioning.placement import Ring
from distlib.sim.validate import integer

from .dynamo import Config, DynamoRun, member_names, run_dynamo


@dataclass(frozen=True)
class Workload:
    name: str
    write_ratio: float
    keys: int
    clients: int
    ops: int
    rule: str                 # how :func:`pick` chooses, in words (the code is in RULES)


@dataclass(frozen=True)
class Candidate:
    label: str
    config: Config


WORKLOADS: tuple[Workload, ...] = (
    Workload("read-heavy, p99 read <= 40 ms", 0.1, 4, 4, 20,
             "meets the read target with reads available in both fault runs, then fewest stale reads, "
             "then fastest writes"),
    Workload("write-heavy", 0.9, 4, 4, 20,
             "writes available in both fault runs, then lowest p99 write, then fewest stale reads"),
    Workload("must not lose writes", 0.7, 2, 4, 20,
             "no lost write and W >= 2, then highest write availability under faults, then lowest p99 write"),
    Workload("read-your-writes needed", 0.5, 2, 4, 20,
             "no read-your-writes violation, then highest availability, then lowest p99 read + write"),
    Workload("shopping cart, concurrent adds", 0.8, 1, 5, 16,
             "no lost add, then highest write availability under faults, then lowest p99 write"),
)

CANDIDATES: tuple[Candidate, ...] = (
    Candidate("R=1 W=1 sloppy VV", Config(r=1, w=1)),
    Candidate("R=2 W=2 sloppy VV", Config(r=2, w=2)),
    Candidate("R=1 W=3 sloppy VV", Config(r=1, w=3)),
    Candidate("R=1 W=3 strict VV", Config(r=1, w=3, sloppy=False)),
    Candidate("R=2 W=2 strict LWW+wb", Config(r=2, w=2, mode="lww", sloppy=False, write_back=True)),
    Candidate("R=2 W=2 sloppy LWW", Config(r=2, w=2, mode="lww")),
)

FAULT_WINDOW = (0.3, 1.5)
READ_TARGET_MS = 40.0


def fault_texts() -> dict[str, str | None]:
    """The three fault settings; both faults hit ``k0``'s first preference-list node (as the
    clients compute it: run_dynamo's 5 nodes, 16 virtual nodes each)."""
    x = Ring(member_names(5), vnodes=16).owners("k0", 1)[0]
    others = ",".join(n for n in member_names(5) if n != x)
    lo, hi = FAULT_WINDOW
    return {"none": None, "crash": f"crash {x} at {lo} restart {hi}",
            "partition": f"partition {x} | {others} at {lo} heal {hi}"}


def _values(out: Any) -> set[Any]:
    if out is None:
        return set()
    return set(out) if isinstance(out, tuple) else {out}


def _missed(writes: list, read: Any, got: set[Any], last: Any) -> bool:
    """The read returned neither ``last`` (a write acked before it began) nor the value of any
    write that may have taken effect after it: one not acknowledged before ``last`` was invoked
    (a failed or timed-out put may still have landed: Dynamo does not roll back)."""
    newer = {i.value for i, d in writes if i.key == read.key and i is not last
             and not (d is not None and d.type == "ok" and d.time < last.time)}
    return last.value not in got and not got & newer


def _read_stats(run: DynamoRun) -> tuple[int, int, int, int]:
    """(ok reads, stale reads, reads after an own write, read-your-writes violations)."""
    pairs = run.history.pairs()
    writes = [(inv, done) for inv, done in pairs if inv.f == "write"]
    reads = stale = own_reads = ryw = 0
    for inv, done in pairs:
        if inv.f != "read" or done is None or done.type != "ok":
            continue
        reads += 1
        got = _values(done.value)
        acked = [(d.time, i) for i, d in writes
                 if i.key == inv.key and d is not None and d.type == "ok" and d.time < inv.time]

        if acked:
            stale += _missed(writes, inv, got, max(acked, key=lambda a: (a[0], a[1].process))[1])
            mine = [a for a in acked if a[1].process == inv.process]
            if mine:
                own_reads += 1
                ryw += _missed(writes, inv, got, max(mine, key=lambda a: a[0])[1])
    return reads, stale, own_reads, ryw


def _lost(run: DynamoRun) -> int:
    from distlib.check.replication import check_vv, lww_losses  # the checker sits a layer above
    if run.config.mode == "lww":
        return int(lww_losses(run)["lost"])
    return sum(1 for p in check_vv(run) if p.startswith("acknowledged write"))


def _p99(xs: list[float]) -> float:
    if not xs:
        return math.nan
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(0.99 * len(xs)) - 1)]


@dataclass
class _Acc:
    read_lat: list[float] = field(default_factory=list)
    write_lat: list[float] = field(default_factory=list)
    reads: int = 0
    stale: int = 0
    own: int = 0
    ryw: int = 0
    lost: int = 0
    avail: dict[str, list[int]] = field(default_factory=dict)   # "crash/read" -> [ok, total]


def measure(workload: Workload, candidate: Candidate, *, seeds: int = 6) -> dict[str, Any]:
    """One row of the table: the metrics of ``candidate`` under ``workload`` (see the module doc)."""
    seeds = integer("seeds", seeds, 1)
    acc = _Acc()
    for fault, text in fault_texts().items():
        for seed in range(seeds):
            # A strict configuration's clients make one attempt (see random_dynamo: a retried put is
            # a second write of the same value, which a register cannot explain).
            run = run_dynamo(seed, candidate.config, clients=workload.clients, ops=workload.ops,
                             keys=workload.keys, write_ratio=workload.write_ratio, faults=text,
                             attempts=1 if candidate.config.strict else 2)
            for inv, done in run.history.pairs():
                ok = done is not None and done.type == "ok"
                if fault != "none":
                    slot = acc.avail.setdefault(f"{fault}/{inv.f}", [0, 0])
                    slot[0] += ok
                    slot[1] += 1
                elif ok:       # latency in normal operation: a fault's timeouts belong to availability
                    (acc.read_lat if inv.f == "read" else acc.write_lat).append(1000 * (done.time - inv.time))
            reads, stale, own, ryw = _read_stats(run)
            acc.reads += reads
            acc.stale += stale
            acc.own += own
            acc.ryw += ryw
            acc.lost += _lost(run)

    def pct(key: str) -> float:
        ok, total = acc.avail.get(key, [0, 0])
        return 100.0 * ok / total if total else math.nan

    return {"workload": workload.name, "config": candidate.label, "r": candidate.config.r,
            "w": candidate.config.w,
            "p99_read": _p99(acc.read_lat), "p99_write": _p99(acc.write_lat),
            "stale_pct": 100.0 * acc.stale / acc.reads if acc.reads else 0.0,
            "ryw_pct": 100.0 * acc.ryw / acc.own if acc.own else 0.0, "lost": acc.lost,
            "crash_read": pct("crash/read"), "crash_write": pct("crash/write"),
            "part_read": pct("partition/read"), "part_write": pct("partition/write"),
            "runs": 3 * seeds}


def _min_avail(row: dict[str, Any], kind: str = "write") -> float:
    vals = [row[f"crash_{kind}"], row[f"part_{kind}"]]
    return min(v for v in vals if not math.isnan(v)) if any(not math.isnan(v) for v in vals) else 100.0


def _read_heavy(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    ok = [r for r in rows if r["p99_read"] <= READ_TARGET_MS and _min_avail(r, "read") >= 99.0] or rows
    best = min(ok, key=lambda r: (r["stale_pct"], r["p99_write"]))
    return best, ["p99_read", "crash_read", "part_read", "stale_pct"]


def _write_heavy(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    ok = [r for r in rows if _min_avail(r) >= 99.0] or rows
    best = min(ok, key=lambda r: (r["p99_write"], r["stale_pct"]))
    return best, ["crash_write", "part_write", "p99_write"]


def _no_loss(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    # W >= 2: an acknowledged write is on W disks when acknowledged (the protocol counts W acks);
    # the runs' crashes keep disks, so they cannot show what W = 1 risks -- the one unmeasured rule.
    ok = [r for r in rows if r["lost"] == 0 and r["w"] >= 2] or rows
    best = min(ok, key=lambda r: (-_min_avail(r), r["p99_write"]))
    return best, ["lost", "w", "crash_write", "part_write"]


def _cart(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    ok = [r for r in rows if r["lost"] == 0] or rows
    best = min(ok, key=lambda r: (-_min_avail(r), r["p99_write"]))
    return best, ["lost", "crash_write", "part_write", "p99_write"]


def _ryw(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    ok = [r for r in rows if r["ryw_pct"] == 0] or rows
    best = min(ok, key=lambda r: (-min(_min_avail(r, "read"), _min_avail(r)), r["p99_read"] + r["p99_write"]))
    return best, ["ryw_pct", "crash_read", "part_write"]


RULES: dict[str, Callable[[list[dict[str, Any]]], tuple[dict[str, Any], list[str]]]] = {
    WORKLOADS[0].name: _read_heavy, WORKLOADS[1].name: _write_heavy, WORKLOADS[2].name: _no_loss,
    WORKLOADS[3].name: _ryw, WORKLOADS[4].name: _cart,
}


def workload_table(*, seeds: int = 6, workloads: Sequence[Workload] = WORKLOADS,
                   candidates: Sequence[Candidate] = CANDIDATES) -> list[dict[str, Any]]:
    """:func:`measure` for every (workload, candidate): rows of plain dicts, workload-major."""
    if not workloads or not candidates:
        raise ValueError("workloads and candidates must be non-empty lists")
    return [measure(w, c, seeds=seeds) for w in workloads for c in candidates]


def pick(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per workload: the chosen configuration by its rule and the cells that decided it:
    ``{"workload", "config", "rule", "because": {column: value}}``."""
    out = []
    for w in WORKLOADS:
        mine = [r for r in rows if r["workload"] == w.name]
        if not mine:
            continue
        best, cols = RULES[w.name](mine)
        out.append({"workload": w.name, "config": best["config"], "rule": w.rule,
                    "because": {c: best[c] for c in cols}})
    return out


COLUMNS = (("p99_read", "p99 r ms", "{:>8.1f}"), ("p99_write", "p99 w ms", "{:>8.1f}"),
           ("stale_pct", "stale %", "{:>7.1f}"), ("ryw_pct", "RYW %", "{:>6.1f}"), ("lost", "lost", "{:>5d}"),
           ("crash_read", "crash r%", "{:>8.0f}"), ("crash_write", "crash w%", "{:>8.0f}"),
           ("part_read", "part r%", "{:>7.0f}"), ("part_write", "part w%", "{:>7.0f}"))


def table_text(rows: Sequence[dict[str, Any]], picks: Sequence[dict[str, Any]] | None = None) -> str:
    """The rows as a fixed-width table, one block per workload, the pick marked with ``*``."""
    chosen = {p["workload"]: p["config"] for p in (picks if picks is not None else pick(rows))}
    head = f"  {'configuration':<24}" + " ".join(f"{h:>{len(f.format(0))}}" for _, h, f in COLUMNS)
    lines = [f"{len(rows) and rows[0]['runs']} runs per cell (none/crash/partition x seeds); "
             f"* = the pick"]
    for w in WORKLOADS:
        mine = [r for r in rows if r["workload"] == w.name]
        if not mine:
            continue
        lines += ["", w.name, head]
        for r in mine:
            mark = "*" if chosen.get(w.name) == r["config"] else " "
            cells = " ".join(fmt.format(int(r[c]) if c == "lost" else r[c]) for c, _, fmt in COLUMNS)
            lines.append(f"{mark} {r['config']:<24}{cells}")
    return "\n".join(lines)


def picks_text(picks: Sequence[dict[str, Any]]) -> str:
    lines = []
    for p in picks:
        why = ", ".join(f"{k} = {v:.1f}" if isinstance(v, float) else f"{k} = {v}"
                        for k, v in p["because"].items())
        lines.append(f"{p['workload']}: {p['config']}  (rule: {p['rule']}; deciding cells: {why})")
    return "\n".join(lines)


__all__ = ["CANDIDATES", "Candidate", "READ_TARGET_MS", "RULES", "WORKLOADS", "Workload", "fault_texts",
           "measure", "pick", "picks_text", "table_text", "workload_table"]
