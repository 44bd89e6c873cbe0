"""The DAG scheduler of :mod:`.rdd` (RDD paper §5.1), the records of a run, and local mode.

On an action the scheduler builds stages from the lineage: a *result stage* for the RDD the action
is on, and one *shuffle map stage* per shuffle dependency, found by walking narrow dependencies
(pipelined inside one task) and cutting at wide ones. A shuffle map stage is kept by shuffle id
across jobs, so outputs that still exist are reused (the stage is *skipped*, as Spark's UI says). A
parent stage is not even needed when every partition of an RDD above it is cached.

``master="local"`` runs each missing stage's tasks in this process, parents first; a task that
raises is retried up to ``max_failures`` times (``spark.task.maxFailures`` = 4), then the job fails
naming the stage, the partition and the error. ``master="sim"`` (:mod:`.rdd_cluster`) runs the same
stages and tasks on simulated executors. Both fill the same records (:class:`JobRecord`).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .jobs import record_size
from .rdd import RDD, JobFailed, NarrowDependency, RecordError, ShuffleDependency, check_pair


# ---- records of a run ---------------------------------------------------------------------------------
@dataclass
class StageRecord:
    """A stage of a job: ``kind`` "shuffle-map" or "result"; ``skipped`` if its output already existed."""
    id: int
    kind: str
    rdd: str
    tasks: int
    parents: tuple[int, ...]
    skipped: bool = True
    shuffle_bytes: int = 0           # bytes its map tasks wrote (shuffle-map stages)


@dataclass
class TaskRecord:
    """One task attempt. ``outcome``: success, failed (user code raised), lost (its executor died),
    fetch-failed (a map output it needed was gone). ``recompute``: this map output had been produced
    before and was lost, or it rebuilt a persisted partition that had been in memory before (on any
    executor; lost in a crash or evicted, even by the attempt that stored it). A persisted partition that
    was never stored -- it did not fit, and the LRU store does not evict a partition of the same RDD to
    make room (RDD paper §5.3) -- is computed from its lineage on every use: a cache miss each time, in
    ``computed``, but not a recomputation, since nothing was lost.
    ``computed``: persisted partitions it computed (cache misses);
    ``hits``: persisted partitions it read from memory."""
    attempt: int
    job: int
    stage: int
    kind: str
    partition: int
    executor: str
    start: float
    end: float | None = None
    outcome: str = "running"
    recompute: bool = False
    locality: str = "ANY"
    hits: tuple[tuple[int, int], ...] = ()
    computed: tuple[tuple[int, int], ...] = ()
    remote_hits: tuple[tuple[int, int], ...] = ()
    error: str = ""
    inc: int = 0
    fetch_time: float = 0.0          # sim: seconds spent getting inputs (shuffle fetch, remote blocks)


@dataclass
class JobRecord:
    id: int
    action: str
    rdd: str
    start: float
    end: float | None = None
    status: str = "running"
    error: str = ""
    stages: list[StageRecord] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def stage(self, sid: int) -> StageRecord:
        return next(s for s in self.stages if s.id == sid)

    @property
    def skipped(self) -> int:
        return sum(1 for s in self.stages if s.skipped)

    def recomputed(self) -> list[TaskRecord]:
        return [t for t in self.tasks if t.recompute and t.outcome == "success"]

    def summary(self) -> str:
        t = f"{self.duration:.3f}s" if self.duration is not None else "unfinished"
        ok = sum(1 for x in self.tasks if x.outcome == "success")
        return (f"job {self.id} ({self.action} on {self.rdd}): {self.status} in {t}; "
                f"{len(self.stages)} stages "
                f"({self.skipped} skipped), {ok} tasks succeeded of {len(self.tasks)} attempts, "
                f"{len(self.recomputed())} recomputations")


@dataclass
class CrashRecord:
    """An executor crash and what died with it (its memory and its local disk)."""
    executor: str
    time: float
    inc: int
    cached: tuple[tuple[int, int], ...]
    shuffle: tuple[tuple[int, int], ...]       # (shuffle id, map partition)


# ---- stages -----------------------------------------------------------------------------------------
@dataclass
class Stage:
    id: int
    rdd: RDD
    kind: str                                  # "shuffle-map" | "result"
    dep: ShuffleDependency | None = None

    @property
    def partitions(self) -> int:
        return self.rdd.getNumPartitions()


class DAG:
    """Stage bookkeeping shared by both modes: shuffle map stages by shuffle id (kept across jobs)."""

    def __init__(self) -> None:
        self.ids = itertools.count()
        self.by_shuffle: dict[int, Stage] = {}

    def shuffle_stage(self, dep: ShuffleDependency) -> Stage:
        st = self.by_shuffle.get(dep.shuffle_id)
        if st is None:
            self.parents(dep.rdd)          # parents first, so they get the smaller ids (as Spark)
            st = self.by_shuffle[dep.shuffle_id] = Stage(next(self.ids), dep.rdd, "shuffle-map", dep)
        return st

    def result_stage(self, rdd: RDD) -> Stage:
        self.parents(rdd)
        return Stage(next(self.ids), rdd, "result")

    def parents(self, rdd: RDD, all_cached: Callable[[RDD], bool] | None = None) -> list[Stage]:
        """The shuffle map stages right below ``rdd``'s pipeline (not below an RDD that ``all_cached``
        says is wholly in memory: its tasks will not need them)."""
        out: list[Stage] = []
        seen: set[int] = set()

        def walk(r: RDD) -> None:
            if r.id in seen:
                return
            seen.add(r.id)
            if all_cached is not None and all_cached(r):
                return
            for d in r.dependencies:
                if isinstance(d, ShuffleDependency):
                    st = self.shuffle_stage(d)
                    if st not in out:
                        out.append(st)
                else:
                    walk(d.rdd)
        walk(rdd)
        return out

    def all_stages(self, stage: Stage) -> list[Stage]:
        """Every stage a job on ``stage`` involves (parents first), whether or not it must run."""
        out: list[Stage] = []

        def walk(st: Stage) -> None:
            for p in self.parents(st.rdd):
                walk(p)
            if st not in out:
                out.append(st)
        walk(stage)
        return out


def stage_record(dag: DAG, st: Stage) -> StageRecord:
    return StageRecord(st.id, st.kind, repr(st.rdd), st.partitions, tuple(p.id for p in dag.parents(st.rdd)))


def write_shuffle(dep: ShuffleDependency, p: int, tc: Any) -> list[list[tuple[Any, Any]]]:
    """A shuffle map task: partition ``p`` of the parent, bucketed by the partitioner."""
    part = dep.partitioner
    buckets: list[list[tuple[Any, Any]]] = [[] for _ in range(part.numPartitions)]
    for rec in dep.rdd.iterator(p, tc):
        try:
            k, v = rec
        except (TypeError, ValueError):
            check_pair(rec, dep.op)
            raise
        buckets[part(k)].append((k, v))
    return buckets


def narrow_rdds(rdd: RDD) -> list[RDD]:
    """The RDDs one task of ``rdd``'s stage pipelines (down to shuffles and sources)."""
    out: list[RDD] = []

    def walk(r: RDD) -> None:
        if r in out:
            return
        out.append(r)
        for d in r.dependencies:
            if isinstance(d, NarrowDependency):
                walk(d.rdd)
    walk(rdd)
    return out


def job_error(job: int, st: Stage, p: int, n: int, e: BaseException) -> Exception:
    """The exception an action raises when a task failed ``n`` times: ValueError for our own record
    check (a non-pair given to reduceByKey...), else :class:`JobFailed` naming stage and partition."""
    where = f"task for partition {p} of stage {st.id} ({st.rdd!r}) failed {n} times"
    if isinstance(e, RecordError):
        return ValueError(f"{e}; job {job} aborted: {where}")
    return JobFailed(f"job {job} aborted: {where}; last error: {type(e).__name__}: {e}")


class BlockStore:
    """Executor memory for persisted partitions, LRU (RDD paper §5.3): when a new partition does not
    fit, evict the least recently used partition of ANOTHER RDD; if only partitions of the same RDD are
    left, do not cache the new one (cycling an RDD's partitions in and out helps nobody).
    ``limit`` is in records (None: unlimited)."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.blocks: OrderedDict[tuple[int, int], list] = OrderedDict()
        self.used = 0

    def get(self, key: tuple[int, int]) -> list | None:
        data = self.blocks.get(key)
        if data is not None:
            self.blocks.move_to_end(key)
        return data

    def put(self, key: tuple[int, int], data: list) -> tuple[bool, list[tuple[int, int]]]:
        """Store ``data``; returns (stored?, keys evicted to make room)."""
        if key in self.blocks:
            self.blocks.move_to_end(key)
            return True, []
        size = len(data)
        evicted: list[tuple[int, int]] = []
        if self.limit is not None:
            if size > self.limit:
                return False, []
            while self.used + size > self.limit:
                victim = next((k for k in self.blocks if k[0] != key[0]), None)
                if victim is None:
                    return False, evicted
                self.used -= len(self.blocks.pop(victim))
                evicted.append(victim)
        self.blocks[key] = data
        self.used += size
        return True, evicted

    def drop_rdd(self, rdd_id: int) -> list[tuple[int, int]]:
        gone = [k for k in self.blocks if k[0] == rdd_id]
        for k in gone:
            self.used -= len(self.blocks.pop(k))
        return gone


# ---- local mode ----------------------------------------------------------------------------------------
class LocalTaskContext:
    """What a task reads and writes in local mode: one block store, the shuffle outputs in a dict."""

    def __init__(self, backend: LocalBackend):
        self.b = backend
        self.hits: list[tuple[int, int]] = []
        self.computed: list[tuple[int, int]] = []

    def count(self, it: Iterator) -> Iterator:
        return it

    def cached(self, rdd: RDD, p: int) -> list | None:
        data = self.b.store.get((rdd.id, p))
        if data is not None:
            self.hits.append((rdd.id, p))
        return data

    def cache_put(self, rdd: RDD, p: int, data: list) -> None:
        self.computed.append((rdd.id, p))
        if rdd.persisted:
            self.b.store.put((rdd.id, p), data)

    def shuffle_read(self, dep: ShuffleDependency, p: int) -> Iterator:
        outs = self.b.outputs[dep.shuffle_id]
        return itertools.chain.from_iterable(out[p] for out in outs)  # type: ignore[index]

    def read_block(self, block: str, lo: int = 0, hi: int | None = None) -> Sequence:
        return self.b.ctx._dfs.blocks[block][lo:hi]


class LocalBackend:
    """Runs jobs in this process: missing parent stages first, each task in turn, no simulated time."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.dag = DAG()
        self.store = BlockStore(ctx.memory)
        self.outputs: dict[int, list[list | None]] = {}    # shuffle id -> per map partition: buckets
        self.attempts = itertools.count(1)
        self.now = 0.0

    def stored(self, blocks: Sequence[str]) -> None:
        return None

    def cached_summary(self, rdd: RDD) -> tuple[int, int]:
        keys = [k for k in self.store.blocks if k[0] == rdd.id]
        return len(keys), sum(record_size(x) for k in keys for x in self.store.blocks[k])

    def unpersist(self, rdd: RDD) -> None:
        self.store.drop_rdd(rdd.id)

    def _available(self, st: Stage) -> bool:
        assert st.dep is not None
        outs = self.outputs.get(st.dep.shuffle_id)
        return outs is not None and all(o is not None for o in outs)

    def _all_cached(self, rdd: RDD) -> bool:
        return rdd.persisted and all((rdd.id, p) in self.store.blocks for p in range(rdd.getNumPartitions()))

    def run_job(self, rdd: RDD, func: Callable[[int, Iterator], Any], parts: Sequence[int],
                action: str) -> list:
        job = JobRecord(len(self.ctx.jobs), action, repr(rdd), self.now)
        self.ctx.jobs.append(job)
        final = self.dag.result_stage(rdd)
        records = {st.id: stage_record(self.dag, st) for st in self.dag.all_stages(final)}
        job.stages = [records[k] for k in sorted(records)]
        try:
            self._run_parents(final, job, records)
            records[final.id].skipped = False
            out = [self._task(job, final, p, func) for p in parts]
        except Exception as e:
            job.status, job.error, job.end = "failed", str(e), self.now
            raise
        job.status, job.end = "done", self.now
        return out

    def _run_parents(self, st: Stage, job: JobRecord, records: dict[int, StageRecord]) -> None:
        for parent in self.dag.parents(st.rdd, self._all_cached):
            if self._available(parent):
                continue
            self._run_parents(parent, job, records)
            assert parent.dep is not None
            outs = self.outputs.setdefault(parent.dep.shuffle_id, [None] * parent.partitions)
            rec = records.setdefault(parent.id, stage_record(self.dag, parent))
            rec.skipped = False
            for m in range(parent.partitions):
                if outs[m] is None:
                    outs[m] = self._task(job, parent, m, None)

    def _task(self, job: JobRecord, st: Stage, p: int, func: Callable | None) -> Any:
        failures = 0
        while True:
            tc = LocalTaskContext(self)
            rec = TaskRecord(next(self.attempts), job.id, st.id, st.kind, p, "driver", self.now,
                             locality="PROCESS_LOCAL")
            job.tasks.append(rec)
            try:
                if st.dep is not None:
                    result: Any = write_shuffle(st.dep, p, tc)
                else:
                    assert func is not None
                    result = func(p, st.rdd.iterator(p, tc))
            except Exception as e:
                failures += 1
                rec.outcome, rec.error, rec.end = "failed", f"{type(e).__name__}: {e}", self.now
                if failures >= self.ctx.max_failures:
                    raise job_error(job.id, st, p, failures, e) from e
                continue
            rec.outcome, rec.end = "success", self.now
            rec.hits, rec.computed = tuple(tc.hits), tuple(tc.computed)
            return result

    def write_files(self, rdd: RDD, path: str, func: Callable[[int, Iterator], list],
                    action: str) -> list[str]:
        parts = self.run_job(rdd, func, list(range(rdd.getNumPartitions())), action)
        blocks = []
        for p, lines in enumerate(parts):
            blocks += self.ctx._dfs.put(f"{path}/part-{p:05d}", lines, 1)
        return blocks
