"""Checkers for MapReduce runs (:mod:`distlib.compute.mapreduce`).

Dean & Ghemawat (OSDI 2004) §3.3, "Semantics in the Presence of Failures": when the user's map and
reduce are deterministic, the distributed run produces the same output as a non-faulting sequential
execution of the whole program. That is the main check here, under any fault schedule:

- **termination**: the job is done by the end of the run (every fault in the sweeps heals early);
- **same output**: the multiset of output records equals :func:`~distlib.compute.jobs.reference`
  (missing and extra records are listed);
- **one execution per output**: each of the R regions has exactly one final file, written by exactly
  one reduce attempt, which read every map task's region exactly once -- no task output counted twice;
- **ordering** (§4.2): keys are sorted inside each part file; for the sort job also across them;
- **counting**: the master accepted at most one completion of a task between two losses of its output
  (re-executions after a failure are allowed, double counting is not);
- **no waste without failures**: with backups off and no worker declared failed, every map and reduce
  task ran exactly once (measured from the master's attempt table);
- **workers exit only after the job is done**.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from distlib.compute.jobs import reference, sort_key


def _key(record: Any) -> Any:
    return record[0] if isinstance(record, tuple) and record else record


def _diff(got: Counter, want: Counter, limit: int = 3) -> str:
    missing = want - got
    extra = got - want
    parts = []
    if missing:
        parts.append(f"{sum(missing.values())} missing (e.g. "
                     + ", ".join(f"{r!r} x{n}" for r, n in sorted(missing.items(), key=repr)[:limit]) + ")")
    if extra:
        parts.append(f"{sum(extra.values())} extra (e.g. "
                     + ", ".join(f"{r!r} x{n}" for r, n in sorted(extra.items(), key=repr)[:limit]) + ")")
    return "; ".join(parts)


def check_output(run: Any) -> list[str]:
    """The output equals the sequential reference, as a multiset of records."""
    want = Counter(reference(run.job, run.files))
    got = Counter(run.records())
    if got == want:
        return []
    return [f"output differs from the sequential reference: {_diff(got, want)}"]


def check_files(run: Any) -> list[str]:
    """One final file per region, one writer per file, every map task read once, keys in order."""
    out: list[str] = []
    files = run.output_files()
    meta = run.output_meta()
    maps = len(run.splits)
    for r in range(run.reduces):
        path = f"{run.out}/part-{r:05d}"
        if path not in files:
            if run.status == "done":
                out.append(f"region {r} has no output file {path}")
            continue
        writers = meta[path]
        if len(writers) != 1:
            attempts = ", ".join(str(m.attempt) for m in writers)
            out.append(f"{path} holds {len(writers)} writes of reduce task {r} (attempts {attempts}): "
                       f"task output counted more than once")
        for m in writers:
            if m.task != r:
                out.append(f"{path} was written by reduce task {m.task}, not {r}")
            tasks = [t for t, _ in m.inputs]
            if sorted(tasks) != list(range(maps)):
                out.append(f"{path} (attempt {m.attempt}) read map tasks {tasks}, not each of "
                           f"0..{maps - 1} once")
        keys = [sort_key(_key(rec)) for rec in files[path]]
        if any(a > b for a, b in zip(keys, keys[1:], strict=False)):
            out.append(f"{path}: keys are not in sorted order (§4.2)")
    extra = [p for p in files if p not in {f"{run.out}/part-{r:05d}" for r in range(run.reduces)}]
    if extra:
        out.append(f"unexpected output files: {', '.join(extra)}")
    if getattr(run.job, "globally_sorted", False) and not out:
        keys = [sort_key(_key(rec)) for rec in run.records()]
        if any(a > b for a, b in zip(keys, keys[1:], strict=False)):
            out.append("sort job: the part files concatenated are not globally sorted (range partitioner)")
    return out


def check_counting(run: Any) -> list[str]:
    """From the master's table: a task is completed at most once per loss of its output; without
    failures and backups every task ran exactly once."""
    out: list[str] = []
    done: Counter = Counter()
    for info in run.attempts.values():
        if info["status"] == "done":
            done[(info["kind"], info["task"])] += 1
    lost: Counter = Counter()
    for _, text in run.master.get("events", ()):
        if text.startswith("map task ") and "re-execute" in text:
            lost[("map", int(text.split()[2]))] += 1
    for (kind, task), n in sorted(done.items()):
        if n > 1 + lost[(kind, task)]:
            out.append(f"{kind} task {task} was counted complete {n} times but its output was lost only "
                       f"{lost[(kind, task)]} times")
    if run.status == "done" and not run.backups and run.failures_detected() == 0:
        retried = any(info["status"] == "failed" for info in run.attempts.values())
        if not retried:
            for kind in ("map", "reduce"):
                many = {t: n for t, n in run.executions(kind).items() if n != 1}
                if many:
                    t, n = min(many.items())
                    out.append(f"no worker failed and backups are off, yet {kind} task {t} ran {n} times")
    return out


def check_exit(run: Any) -> list[str]:
    """Workers exit only after the master ended the job."""
    done_at = run.job_time
    out = []
    for w in run.workers:
        at = run.world.storage[w].get("exited_at")
        if at is not None and (done_at is None or at < done_at):
            out.append(f"worker {w} exited at {at:g}, before the job ended ({done_at})")
    return out


def check_mapreduce(run: Any) -> list[str]:
    """Every property above; an empty list means the run is correct."""
    out: list[str] = []
    if run.status != "done":
        why = f": {run.error}" if run.error else ""
        out.append(f"the job did not finish (status {run.status}{why}) by t={run.world.now:g}")
    out += check_files(run)
    if run.status == "done":
        out += check_output(run)
    out += check_counting(run)
    out += check_exit(run)
    return out
