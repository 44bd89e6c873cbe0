"""Checkers for RDD runs on the simulated cluster (:mod:`distlib.compute.rdd_runs`).

Zaharia et al. (NSDI 2012) §2.1, §5.1: an RDD is recomputed from its lineage, deterministically, so a
run under executor crashes must return what a plain sequential program returns; and recovery is
*fine-grained*: only the partitions that were lost (and are needed again) are recomputed. Checked here:

1. **same result**: the program's result equals its plain-Python reference, under any crash schedule;
2. **no needless recomputation**: a shuffle map partition is re-run only if every registered copy of
   its output was lost (the executor crashed or was reset, or the driver declared it dead or could not
   fetch from it -- a pause or a partition looks like a crash from the driver) before the re-run
   ended; a persisted
   partition is computed again only if no live executor held it in memory (crash, reset, LRU eviction
   or unpersist) -- "recompute everything" fails here;
3. **termination**: the program finished (every crash in the sweeps restarts; a failed or stuck job is
   a violation);
4. **memory dies with the process**: a cache hit on an executor incarnation reads a partition that this
   very incarnation cached -- a restarted executor comes back empty.

The ground truth is the run's records: the driver's registrations (``map_log``, ``cache_log``), the
task attempts (``sc.jobs``), the crash records (``sc.crashes``) and each executor's log of what its
memory gained and lost (``storage["log"]``).
"""

from __future__ import annotations

import math
from typing import Any


def same(got: Any, want: Any) -> bool:
    """Equal, floats within a relative 1e-9 (a sum's order depends on the partitioning)."""
    if isinstance(got, float) and isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(same(a, b) for a, b in zip(got, want, strict=True))
    return bool(got == want)


def _ends(run: Any) -> tuple[dict[tuple[str, int], float], dict[tuple[str, int, Any], list[float]]]:
    """When each executor incarnation ended (crash, reset, or the driver stopped trusting it), and
    every time a cached key left it (evicted, dropped)."""
    inc_end: dict[tuple[str, int], float] = {}
    for c in run.sc.crashes:
        inc_end.setdefault((c.executor, c.inc), c.time)
    for t, e, inc, _ in run.sc._backend.driver.lost_log:   # declared dead, or a fetch from it failed
        inc_end[(e, inc)] = min(t, inc_end.get((e, inc), t))
    key_gone: dict[tuple[str, int, Any], list[float]] = {}
    world = run.sc.world
    for e in run.sc.names:
        for t, inc, event, key in world.storage[e].get("log", ()):
            if event == "reset":
                inc_end.setdefault((e, inc), t)
            elif event in ("evicted", "dropped"):
                key_gone.setdefault((e, inc, key), []).append(t)
    return inc_end, key_gone


def _cached_at(run: Any) -> dict[tuple[str, int, Any], list[float]]:
    out: dict[tuple[str, int, Any], list[float]] = {}
    for e in run.sc.names:
        for t, inc, event, key in run.sc.world.storage[e].get("log", ()):
            if event == "cached":
                out.setdefault((e, inc, key), []).append(t)
    return out


def check_result(run: Any) -> list[str]:
    if run.error:
        return [f"the program did not finish: {run.error}"]
    if not same(run.result, run.expected):
        got, want = run.result or [], run.expected
        missing = [r for r in want if not any(same(r, g) for g in got)][:3]
        extra = [r for r in got if not any(same(r, w) for w in want)][:3]
        return [f"result differs from the plain-Python reference: missing {missing}, extra {extra}"]
    return []


def check_recomputation(run: Any) -> list[str]:
    """Property 2: no map output and no cached partition is recomputed while a live copy exists."""
    drv = run.sc._backend.driver
    inc_end, key_gone = _ends(run)
    cached = _cached_at(run)
    inf = float("inf")
    sid_of = {st.id: sid for sid, st in drv.dag.by_shuffle.items()}
    out: list[str] = []
    for job in run.sc.jobs:
        for t in job.tasks:
            if t.outcome != "success" or t.end is None:
                continue
            if t.kind == "shuffle-map":
                sid = sid_of[t.stage]
                for at, s, m, e, inc in drv.map_log:
                    if (s, m) == (sid, t.partition) and at <= t.start and inc_end.get((e, inc), inf) > t.end:
                        out.append(f"job {job.id}: map partition {m} of shuffle {sid} re-run by attempt "
                                   f"{t.attempt} on {t.executor} at t={t.start:.3f} while its output on {e} "
                                   f"(incarnation {inc}) was still there")
                        break
            for key in set(t.computed):
                for at, k, e, inc in drv.cache_log:
                    if k != key or at > t.start:
                        continue
                    # the copy the driver learnt of at ``at`` was cached at ``since`` (the executor's time)
                    since = max((c for c in cached.get((e, inc, key), []) if c <= at), default=None)
                    if since is None:
                        continue      # a claim with nothing behind it: property 4's business
                    evicted = any(since <= g <= t.end for g in key_gone.get((e, inc, key), []))
                    if not evicted and inc_end.get((e, inc), inf) > t.end:
                        out.append(f"job {job.id}: cached partition {key[1]} of RDD {key[0]} recomputed by "
                                   f"attempt {t.attempt} on {t.executor} at t={t.start:.3f} while {e} "
                                   f"(incarnation {inc}) held it in memory")
                        break
    return out


def check_cache_hits(run: Any) -> list[str]:
    """Property 4: a cache hit is on a partition that executor incarnation cached itself."""
    cached = _cached_at(run)
    out: list[str] = []
    for job in run.sc.jobs:
        for t in job.tasks:
            for key in t.hits:
                times = cached.get((t.executor, t.inc, key), [])
                if not any(at <= (t.end if t.end is not None else at) for at in times):
                    out.append(f"job {job.id}: attempt {t.attempt} read cached partition {key[1]} of RDD "
                               f"{key[0]} from {t.executor}'s memory (incarnation {t.inc}), which never "
                               f"cached it: memory must die with the executor")
    return out


def check_rdd(run: Any) -> list[str]:
    """Every property above; an empty list means the run is correct."""
    return check_result(run) + check_recomputation(run) + check_cache_hits(run)
