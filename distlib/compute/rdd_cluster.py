"""RDDs on the simulated cluster (``Context(master="sim")``): a driver and executors as actors.

Zaharia et al. (NSDI 2012) §5.1: the driver's DAG scheduler (stages from :mod:`.rdd_scheduler`) hands
tasks to executors with *locality*: a task goes where its partition is cached (PROCESS_LOCAL), else
where its DFS block is (NODE_LOCAL), else anywhere (after ``locality_wait``: delay scheduling). A
task pipelines its stage's narrow dependencies; a shuffle map task writes one bucket per reduce
partition to the executor's LOCAL disk (volatile here: it dies with the executor). A task first
fetches what is not local (shuffle buckets, cached partitions held elsewhere, DFS blocks), then
computes in one step and takes simulated time from :class:`Costs`.

Failures. An executor crash loses its memory (cached partitions) and its local disk (shuffle
files); DFS blocks survive (they are in ``storage``). The driver notices by heartbeat timeout,
forgets the executor's cache entries and map outputs, and re-runs its in-flight tasks. A task that
cannot fetch a map output reports *FetchFailed*; the driver then resubmits exactly the missing
partitions of the parent stage (and, recursively through the lineage, theirs) before the task runs
again. A restarted executor is a new, empty *incarnation* (every message carries it). The driver
does not fail (faults may name executors only).

Decisions (docs/ARCHITECTURE.md): links are reliable (faults are executor crashes, pauses,
partitions); a fetch is acknowledged at once with the time the data will take (``FetchAck``), so a
big transfer is never mistaken for a dead executor; DFS writes (checkpoint, saveAsTextFile) keep the
writer's copy in its durable storage and send two replicas without waiting; the DFS metadata (which
blocks a file has, where) is the Context's, kept by the driver.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from distlib.partitioning.hashing import stable_hash
from distlib.sim import CrashFault, FaultSchedule, Node, World, as_schedule
from distlib.sim.validate import number, one_of

from .jobs import pairs_size, record_size
from .mapreduce import Costs as MapReduceCosts
from .rdd import (
    RDD,
    CheckpointRDD,
    HadoopRDD,
    JobFailed,
    NarrowDependency,
    ShuffleDependency,
)
from .rdd_scheduler import (
    DAG,
    BlockStore,
    CrashRecord,
    JobRecord,
    Stage,
    StageRecord,
    TaskRecord,
    narrow_rdds,
    stage_record,
    write_shuffle,
)

DRIVER = "driver"
BROKEN = ("recompute-all", "no-unregister", "immortal-cache")


@dataclass(frozen=True)
class Costs(MapReduceCosts):
    """Chapter 09's costs (disk and network bytes/s, CPU s/record, per-task overhead) plus memory:
    reading a cached partition is ``mem_rate`` bytes/s, far faster than the disk, and is not parsed,
    while every record read from a DFS file (text) or a checkpoint costs ``parse_per_record`` (RDD
    paper §6.1: Hadoop's iterations pay I/O *and* deserialization; Spark's cached ones neither)."""
    mem_rate: float = 400_000.0
    cpu_per_record: float = 0.002
    parse_per_record: float = 0.02
    task_overhead: float = 0.05


# ---- messages ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Register:
    inc: int
    blocks: tuple[tuple[int, int], ...] = ()     # cached partitions it claims (only a broken one has any)


@dataclass(frozen=True)
class Heartbeat:
    inc: int


@dataclass(frozen=True)
class Rejoin:
    inc: int


@dataclass(frozen=True)
class DropRDD:
    rdd: int


@dataclass(frozen=True)
class TaskSpec:
    attempt: int
    stage: int
    rdd: RDD = field(repr=False)
    partition: int
    dep: ShuffleDependency | None = field(repr=False)
    func: Callable | None = field(repr=False)
    map_locs: dict = field(repr=False)             # shuffle id -> per map partition (executor, inc) | None
    cache_locs: dict = field(repr=False)           # (rdd id, p) -> ((executor, inc), ...)
    write: tuple[str, tuple[str, ...]] | None = None   # DFS block id to write, replica holders


@dataclass(frozen=True)
class Launch:
    inc: int
    spec: TaskSpec


@dataclass(frozen=True)
class Status:
    """Executor -> driver: an attempt ended (``outcome`` success / failed / fetch-failed). ``cached``: the
    partitions it stored that are still in memory; ``evicted``: every partition it pushed out, including
    ones it had stored itself a moment before."""
    inc: int
    attempt: int
    outcome: str
    result: Any = field(default=None, repr=False)
    sizes: tuple[int, ...] = ()
    cached: tuple[tuple[int, int], ...] = ()
    evicted: tuple[tuple[int, int], ...] = ()
    hits: tuple[tuple[int, int], ...] = ()
    remote_hits: tuple[tuple[int, int], ...] = ()
    computed: tuple[tuple[int, int], ...] = ()
    error: str = ""
    error_type: str = ""
    fetch: tuple[int, int, tuple[str, int] | None] | None = None   # (shuffle, map partition, location)
    fetch_time: float = 0.0            # seconds from launch to having every input (the shuffle read)


@dataclass(frozen=True)
class Fetch:
    req: int
    kind: str                  # "shuffle" | "cache" | "block"
    key: tuple
    inc: int                   # the incarnation the requester believes holds it (-1: any)


@dataclass(frozen=True)
class FetchAck:
    req: int
    eta: float


@dataclass(frozen=True)
class Data:
    req: int
    payload: Any = field(repr=False)     # None: not here
    size: int = 0


@dataclass(frozen=True)
class StoreBlock:
    block: str
    data: tuple = field(repr=False)


class _Missing(Exception):
    """A task needed data its fetch phase did not bring (should not happen: reported as FetchFailed)."""

    def __init__(self, shuffle: int, m: int, loc: tuple[str, int] | None):
        super().__init__(f"shuffle {shuffle} map {m}")
        self.fetch = (shuffle, m, loc)


# ---- executor --------------------------------------------------------------------------------------------
@dataclass
class _Run:
    spec: TaskSpec
    start: float
    fetched: dict = field(default_factory=dict)        # (kind, key) -> payload
    failed: set = field(default_factory=set)           # cache keys whose remote copy was gone
    inflight: dict = field(default_factory=dict)       # req -> (kind, key, [targets], try)
    net_bytes: int = 0
    result: Any = None
    commit: Any = None
    fetch_time: float = 0.0


class _TaskContext:
    """What a task's code reads in sim mode: local memory and disk, or what the fetch phase brought."""

    def __init__(self, ex: Executor, run: _Run):
        self.ex, self.run = ex, run
        self.records = 0
        self.parsed = 0
        self.disk = 0
        self.mem = 0
        self.hits: list = []
        self.remote_hits: list = []
        self.computed: list = []
        self.puts: list = []
        self.mine: dict = {}

    def count(self, it: Iterator) -> Iterator:
        for x in it:
            self.records += 1
            yield x

    def cached(self, rdd: RDD, p: int) -> list | None:
        key = (rdd.id, p)
        if key in self.mine:          # computed earlier in this very task (a join of x with x.mapValues)
            return self.mine[key]
        data = self.ex.cache.get(key)
        if data is not None:
            self.hits.append(key)
            self.mem += sum(record_size(x) for x in data)
            return data
        data = self.run.fetched.get(("cache", key))
        if data is not None:
            self.remote_hits.append(key)
        return data

    def cache_put(self, rdd: RDD, p: int, data: list) -> None:
        self.computed.append((rdd.id, p))
        self.puts.append(((rdd.id, p), data))
        self.mine[(rdd.id, p)] = data     # memory takes it at commit: a crash before that loses it

    def shuffle_read(self, dep: ShuffleDependency, p: int) -> Iterator:
        locs = self.run.spec.map_locs.get(dep.shuffle_id)
        if locs is None:
            raise _Missing(dep.shuffle_id, 0, None)
        for m, loc in enumerate(locs):
            local = self.ex.shuffle.get((dep.shuffle_id, m)) if loc == (self.ex.id, self.ex.inc) else None
            if local is not None:
                self.disk += pairs_size(local[p])
                yield from local[p]
                continue
            got = self.run.fetched.get(("shuffle", (dep.shuffle_id, m, p)))
            if got is None:
                raise _Missing(dep.shuffle_id, m, loc)
            yield from got

    def read_block(self, block: str, lo: int = 0, hi: int | None = None) -> Sequence:
        data = self.ex.storage["blocks"].get(block)
        local = data is not None
        if data is None:
            data = self.run.fetched.get(("block", (block,)))
            if data is None:
                raise RuntimeError(f"DFS block {block} was not fetched")
        part = data[lo:hi]
        if local:
            self.disk += sum(len(str(s)) + 1 for s in part)
        self.parsed += len(part)
        return part


class Executor(Node):
    """A Spark executor: one task slot, a block store (memory, LRU), a local disk for shuffle files,
    and the DFS blocks it holds as a datanode (``storage["blocks"]``, durable)."""

    def __init__(self, *, memory: int | None, costs: Costs, heartbeat: float = 0.25,
                 fetch_timeout: float = 0.5, fetch_retries: int = 2, immortal_cache: bool = False):
        self.memory, self.costs = memory, costs
        self.heartbeat, self.fetch_timeout, self.fetch_retries = heartbeat, fetch_timeout, fetch_retries
        self.immortal_cache = immortal_cache

    def on_start(self) -> None:
        self.storage.setdefault("blocks", {})
        self.storage.setdefault("log", [])          # (time, inc, event, key): for the checkers
        self.reqs = itertools.count(1)
        self.tokens = itertools.count(1)
        self.outbox: dict[int, tuple[str, Any]] = {}
        self._incarnation()
        self.set_timer("heartbeat", self.heartbeat)

    def on_recover(self) -> None:
        self.on_start()

    def _incarnation(self) -> None:
        self.storage["inc"] = self.inc = self.storage.get("inc", 0) + 1
        if self.immortal_cache:   # BROKEN: memory that survives the process (it cannot)
            self.cache = self.storage.setdefault("cache", BlockStore(self.memory))
        else:
            self.cache = BlockStore(self.memory)
        self.shuffle: dict[tuple[int, int], list] = {}      # (shuffle id, map partition) -> buckets
        self.run: _Run | None = None
        self.send(DRIVER, Register(self.inc, tuple(self.cache.blocks)))

    def _log(self, event: str, key: Any) -> None:
        self.storage["log"].append((self.now, self.inc, event, key))

    # ---- events ----
    def on_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "heartbeat":
            self.send(DRIVER, Heartbeat(self.inc))
            self.set_timer("heartbeat", self.heartbeat)
        elif kind == "serve":
            dst, msg = self.outbox.pop(int(arg))
            self.send(dst, msg)
        elif kind == "fetch":
            r = self.run
            if r is not None and int(arg) in r.inflight:
                self._miss(*r.inflight.pop(int(arg)), final=False)
        elif kind == "work" and self.run is not None and self.run.spec.attempt == int(arg):
            self._commit()

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Launch):
            if msg.inc == self.inc and self.run is None:
                self.run = _Run(msg.spec, self.now)
                self._plan()
        elif isinstance(msg, Fetch):
            self._serve(src, msg)
        elif isinstance(msg, FetchAck):
            r = self.run
            if r is not None and msg.req in r.inflight:
                self.set_timer(f"fetch:{msg.req}", msg.eta + self.fetch_timeout)
        elif isinstance(msg, Data):
            self._on_data(msg)
        elif isinstance(msg, StoreBlock):
            self.storage["blocks"][msg.block] = msg.data
        elif isinstance(msg, DropRDD):
            for key in self.cache.drop_rdd(msg.rdd):
                self._log("dropped", key)
        elif isinstance(msg, Rejoin):
            if msg.inc == self.inc:
                self._log("reset", None)
                self._incarnation()

    # ---- serving fetches ----
    def _serve(self, src: str, msg: Fetch) -> None:
        payload: Any = None
        rate = self.costs.disk_rate
        if msg.inc in (-1, self.inc):
            if msg.kind == "shuffle":
                sid, m, p = msg.key
                out = self.shuffle.get((sid, m))
                payload = None if out is None else out[p]
            elif msg.kind == "cache":
                payload = self.cache.get(msg.key)
                rate = self.costs.mem_rate
            else:
                payload = self.storage["blocks"].get(msg.key[0])
        if payload is None:
            self.send(src, Data(msg.req, None))
            return
        size = pairs_size(payload) if msg.kind == "shuffle" else sum(record_size(x) for x in payload)
        eta = size / rate + size / self.costs.net_rate
        self.send(src, FetchAck(msg.req, eta))
        token = next(self.tokens)
        self.outbox[token] = (src, Data(msg.req, payload, size))
        self.set_timer(f"serve:{token}", eta)

    # ---- running a task: plan, fetch, compute, commit ----
    def _needs(self) -> list[tuple[str, tuple, list[tuple[str, int]]]]:
        """What the task must fetch, walking its pipeline as RDD.iterator will (cache, checkpoint,
        DFS block, shuffle); a needed map output with no location is a FetchFailed at once."""
        r = self.run
        assert r is not None
        spec, out = r.spec, []
        seen: set = set()

        def block(bid: str) -> None:
            if bid not in self.storage["blocks"] and ("block", (bid,)) not in r.fetched:
                holders = [(n, -1) for n in self.dfs_locations(bid) if n != self.id]
                out.append(("block", (bid,), holders))

        def walk(rdd: RDD, p: int) -> None:
            if (rdd.id, p) in seen:
                return
            seen.add((rdd.id, p))
            if rdd.checkpointed is not None:
                block(rdd.checkpointed.blocks[p])
                return
            if rdd.persisted:
                key = (rdd.id, p)
                if key in self.cache.blocks or ("cache", key) in r.fetched:
                    return
                locs = [loc for loc in spec.cache_locs.get(key, ())
                        if loc[0] != self.id and (key, loc) not in r.failed]
                if locs:
                    out.append(("cache", key, locs))
                    return
            if isinstance(rdd, HadoopRDD):
                block(rdd.splits[p][0])
            elif isinstance(rdd, CheckpointRDD):
                block(rdd.blocks[p])
            for d in rdd.dependencies:
                if isinstance(d, ShuffleDependency):
                    locs = spec.map_locs.get(d.shuffle_id)
                    for m, loc in enumerate(locs or [None]):
                        if loc is None:
                            raise _Missing(d.shuffle_id, m, None)
                        if loc == (self.id, self.inc) and (d.shuffle_id, m) in self.shuffle:
                            continue
                        if ("shuffle", (d.shuffle_id, m, p)) not in r.fetched:
                            out.append(("shuffle", (d.shuffle_id, m, p), [loc]))
                elif isinstance(d, NarrowDependency):
                    for q in d.parents(p):
                        walk(d.rdd, q)
        walk(spec.dep.rdd if spec.dep is not None else spec.rdd, spec.partition)
        return out

    def dfs_locations(self, bid: str) -> tuple[str, ...]:
        return self.storage.get("dfs", {}).get(bid, ())

    def _plan(self) -> None:
        r = self.run
        assert r is not None
        try:
            needs = self._needs()
        except _Missing as e:
            self._fetch_failed(e.fetch)
            return
        asked = {(k, key) for k, key, _, _ in r.inflight.values()}
        for kind, key, targets in needs:
            if (kind, key) in asked:
                continue
            if not targets:          # every replica holder is this node or unknown: wait and retry
                targets = [(n, -1) for n in self.dfs_locations(key[0])] or [(self.id, -1)]
            self._ask(kind, key, targets, 0)
            asked.add((kind, key))
        if not r.inflight:
            self._compute()

    def _ask(self, kind: str, key: tuple, targets: list, tries: int) -> None:
        r = self.run
        assert r is not None
        req = next(self.reqs)
        target, inc = targets[tries % len(targets)]
        r.inflight[req] = (kind, key, targets, tries)
        self.send(target, Fetch(req, kind, key, inc))
        self.set_timer(f"fetch:{req}", self.fetch_timeout)

    def _miss(self, kind: str, key: tuple, targets: list, tries: int, *, final: bool) -> None:
        """A fetch came back empty (``final``: the holder says it has no such data) or timed out."""
        r = self.run
        assert r is not None
        if kind == "block":              # try the next replica (for ever: a DFS block is durable)
            self._ask(kind, key, targets, tries + 1)
        elif kind == "cache":            # that copy is gone: compute the partition from its lineage
            r.failed.add((key, targets[0]))
            self._plan()
        elif not final and tries + 1 < self.fetch_retries:
            self._ask(kind, key, targets, tries + 1)
        else:
            sid, m, _ = key
            self._fetch_failed((sid, m, targets[0]))

    def _on_data(self, msg: Data) -> None:
        r = self.run
        if r is None or msg.req not in r.inflight:
            return
        self.cancel_timer(f"fetch:{msg.req}")
        kind, key, targets, tries = r.inflight.pop(msg.req)
        if msg.payload is None:
            self._miss(kind, key, targets, tries, final=True)
            return
        r.fetched[(kind, key)] = msg.payload
        r.net_bytes += msg.size
        if not r.inflight:
            self._plan()

    def _fetch_failed(self, fetch: tuple) -> None:
        r = self.run
        assert r is not None
        for req in list(r.inflight):
            self.cancel_timer(f"fetch:{req}")
        self.run = None
        self.send(DRIVER, Status(self.inc, r.spec.attempt, "fetch-failed", fetch=fetch))

    def _compute(self) -> None:
        r = self.run
        assert r is not None
        spec = r.spec
        r.fetch_time = self.now - r.start
        tc = _TaskContext(self, r)
        written = 0
        try:
            if spec.dep is not None:
                buckets = write_shuffle(spec.dep, spec.partition, tc)
                tc.records += sum(len(b) for b in buckets)
                sizes = tuple(pairs_size(b) for b in buckets)
                written = sum(sizes)
                r.result = buckets
                r.commit = (tc, sizes)
            else:
                assert spec.func is not None
                r.result = spec.func(spec.partition, spec.rdd.iterator(spec.partition, tc))
                if spec.write is not None:
                    written = 3 * sum(record_size(x) for x in r.result)
                r.commit = (tc, ())
        except _Missing as e:
            self._fetch_failed(e.fetch)
            return
        except Exception as e:   # the user's code (or a record check) raised: this attempt failed
            self.run = None
            self.send(DRIVER, Status(self.inc, spec.attempt, "failed", error=f"{type(e).__name__}: {e}",
                                     error_type=type(e).__name__))
            return
        c = self.costs
        took = (c.task_overhead + tc.records * c.cpu_per_record + tc.parsed * c.parse_per_record
                + tc.disk / c.disk_rate + tc.mem / c.mem_rate + written / c.disk_rate)
        self.set_timer(f"work:{spec.attempt}", took)

    def _commit(self) -> None:
        r = self.run
        assert r is not None
        spec = r.spec
        tc, sizes = r.commit
        cached, evicted = [], []
        for key, data in tc.puts:
            stored, gone = self.cache.put(key, data)
            for k in gone:
                self._log("evicted", k)
                if k in cached:
                    cached.remove(k)
            evicted += gone
            if stored:
                self._log("cached", key)
                cached.append(key)
        result = r.result
        if spec.dep is not None:
            self.shuffle[(spec.dep.shuffle_id, spec.partition)] = r.result
            result = None
        elif spec.write is not None:
            bid, replicas = spec.write
            self.storage["blocks"][bid] = tuple(r.result)
            for n in replicas:
                if n != self.id:
                    self.send(n, StoreBlock(bid, tuple(r.result)))
        self.run = None
        self.send(DRIVER, Status(self.inc, spec.attempt, "success", result, sizes, tuple(cached),
                                 tuple(evicted), tuple(tc.hits), tuple(tc.remote_hits), tuple(tc.computed),
                                 fetch_time=r.fetch_time))


# ---- driver ------------------------------------------------------------------------------------------------
@dataclass
class _Exec:
    inc: int
    last_seen: float
    alive: bool = True
    running: int | None = None


@dataclass
class _Job:
    record: JobRecord
    rdd: RDD
    func: Callable
    parts: list[int]
    write: str | None = None                   # DFS path prefix for write jobs
    results: dict = field(default_factory=dict)
    holders: dict = field(default_factory=dict)        # write jobs: partition -> DFS replica holders
    error: Exception | None = None
    final: Stage = field(init=False)


class Driver(Node):
    """The driver: DAG scheduler, task scheduler, MapOutputTracker and BlockManagerMaster in one actor."""

    def __init__(self, *, backend: SimBackend, executors: Sequence[str], max_failures: int = 4,
                 heartbeat_timeout: float = 1.0, check_interval: float = 0.25, locality_wait: float = 1.0,
                 broken: str | None = None):
        self.backend = backend
        self.expected = tuple(executors)
        self.max_failures = max_failures
        self.heartbeat_timeout, self.check_interval = heartbeat_timeout, check_interval
        self.locality_wait = locality_wait
        self.broken = broken

    def on_start(self) -> None:
        self.dag = DAG()
        self.execs: dict[str, _Exec] = {}
        self.outputs: dict[int, list[tuple[str, int, tuple[int, ...]] | None]] = {}
        self.cache_locs: dict[tuple[int, int], list[tuple[str, int]]] = {}
        self.deps: dict[int, ShuffleDependency] = {}
        self.attempts = itertools.count(1)
        self.running: dict[int, tuple[Stage, int, TaskRecord]] = {}
        self.queue: list[tuple[Stage, int, float]] = []
        self.active: dict[int, Stage] = {}          # stages of the current job: waiting or running
        self.ready: set[int] = set()
        self.extra: dict[int, set[int]] = {}        # stage -> shuffle ids it must wait for (FetchFailed)
        self.failures: dict[tuple[int, int], int] = {}
        self.fetch_failures: dict[int, int] = {}
        self.done_maps: set[tuple[int, int]] = set()
        self.job: _Job | None = None
        self.write_plan: dict[int, tuple[str, ...]] = {}
        self.stage_records: dict[int, StageRecord] = {}
        # for the checkers: map outputs and cache entries as the driver learnt them
        self.map_log: list[tuple[float, int, int, str, int]] = []      # (time, shuffle, m, executor, inc)
        self.cache_log: list[tuple[float, tuple[int, int], str, int]] = []
        self.first_cached: dict[tuple[int, int], float] = {}
        # (time, executor, incarnation, why): when the driver stopped trusting an executor's outputs
        self.lost_log: list[tuple[float, str, int, str]] = []
        self.set_timer("check", self.check_interval)

    # ---- jobs ----
    def submit(self, job: _Job) -> None:
        self.job = job
        job.final = self.dag.result_stage(job.rdd)
        self.failures, self.fetch_failures = {}, {}
        stages = self.dag.all_stages(job.final)
        self.stage_records = {st.id: stage_record(self.dag, st) for st in stages}
        job.record.stages = [self.stage_records[k] for k in sorted(self.stage_records)]
        self._submit_stage(job.final)
        self._schedule()

    def _available(self, st: Stage) -> bool:
        assert st.dep is not None
        outs = self.outputs.get(st.dep.shuffle_id)
        return outs is not None and len(outs) == st.partitions and all(o is not None for o in outs)

    def _all_cached(self, rdd: RDD) -> bool:
        return rdd.persisted and all(self.cache_locs.get((rdd.id, p)) for p in range(rdd.getNumPartitions()))

    def _missing_parents(self, st: Stage) -> list[Stage]:
        parents = self.dag.parents(st.rdd, self._all_cached)
        for sid in sorted(self.extra.get(st.id, ())):
            ms = self.dag.shuffle_stage(self.deps[sid])
            if ms not in parents:
                parents.append(ms)
        return [p for p in parents if not self._available(p)]

    def _submit_stage(self, st: Stage) -> None:
        if self.job is None:
            return
        self.active[st.id] = st
        if st.id not in self.stage_records:
            self.stage_records[st.id] = stage_record(self.dag, st)
            self.job.record.stages.append(self.stage_records[st.id])
        missing = self._missing_parents(st)
        if missing:
            self.ready.discard(st.id)
            self.queue = [q for q in self.queue if q[0].id != st.id]
            for m in missing:
                if m.id not in self.ready:
                    self._submit_stage(m)
        else:
            self.extra.pop(st.id, None)
            self.ready.add(st.id)
            self.stage_records[st.id].skipped = False
            self._enqueue(st)

    def _todo(self, st: Stage) -> list[int]:
        assert self.job is not None
        if st.dep is not None:
            outs = self.outputs.setdefault(st.dep.shuffle_id, [None] * st.partitions)
            return [m for m in range(st.partitions) if outs[m] is None]
        return [p for p in self.job.parts if p not in self.job.results]

    def _enqueue(self, st: Stage) -> None:
        busy = {(q[0].id, q[1]) for q in self.queue} | {(s.id, p) for s, p, _ in self.running.values()}
        for p in self._todo(st):
            if (st.id, p) not in busy:
                self.queue.append((st, p, self.now))

    def _stage_progress(self) -> None:
        """Wake stages whose parents are all available now; finish the job when the results are in."""
        job = self.job
        if job is None:
            return
        if not self._todo(job.final):
            self._end_job()
            return
        for st in sorted(self.active.values(), key=lambda s: s.id):
            if st.id in self.ready:
                if st.dep is not None and self._available(st):
                    self.ready.discard(st.id)
                    del self.active[st.id]
                continue
            missing = self._missing_parents(st)
            if not missing:
                self._submit_stage(st)
            for m in missing:      # a parent finished earlier may have lost outputs since: run it again
                if m.id not in self.active:
                    self._submit_stage(m)

    def _end_job(self, error: Exception | None = None) -> None:
        job = self.job
        assert job is not None
        job.error = error
        job.record.end = self.now
        job.record.status = "failed" if error is not None else "done"
        job.record.error = str(error) if error is not None else ""
        # Attempts still running go on (their executors are busy); a map output they bring is kept.
        self.job, self.queue, self.active, self.ready, self.extra = None, [], {}, set(), {}
        self.backend.job_ended(job)

    # ---- task scheduling (locality, delay scheduling) ----
    def _prefs(self, st: Stage, p: int) -> tuple[str, list[str]]:
        rdd = st.dep.rdd if st.dep is not None else st.rdd

        def walk(r: RDD, q: int) -> tuple[str, list[str]] | None:
            if r.persisted:
                locs = [e for e, inc in self.cache_locs.get((r.id, q), ()) if self._alive(e, inc)]
                if locs:
                    return "PROCESS_LOCAL", locs
            if r.checkpointed is not None or isinstance(r, (HadoopRDD, CheckpointRDD)):
                return "NODE_LOCAL", r.preferred(q)
            for d in r.dependencies:
                if isinstance(d, NarrowDependency):
                    for pq in d.parents(q):
                        got = walk(d.rdd, pq)
                        if got is not None:
                            return got
            return None
        return walk(rdd, p) or ("ANY", [])

    def _alive(self, e: str, inc: int) -> bool:
        ex = self.execs.get(e)
        return ex is not None and ex.alive and ex.inc == inc

    def _schedule(self) -> None:
        if self.job is None:
            return
        wait_until = None
        for e in sorted(self.execs):
            ex = self.execs[e]
            if not ex.alive or ex.running is not None:
                continue
            choice = None
            for i, (st, p, since) in enumerate(self.queue):
                level, locs = self._prefs(st, p)
                live = [n for n in locs if self.execs.get(n) is not None and self.execs[n].alive]
                if e in live:
                    choice = (i, level)
                    break
                # (the same sum as the timer's, so a timer firing at that instant finds it expired)
                if choice is None and (not live or self.now >= since + self.locality_wait):
                    choice = (i, "ANY")
                elif choice is None:
                    t = since + self.locality_wait
                    wait_until = t if wait_until is None else min(wait_until, t)
            if choice is not None:
                i, level = choice
                st, p, _ = self.queue.pop(i)
                if st.id not in self.ready or self._missing_parents(st):
                    self._submit_stage(st)      # a parent lost outputs meanwhile: resubmit it first
                    self._schedule()
                    return
                self._launch(e, st, p, level)
        if wait_until is not None and self.queue:
            self.set_timer("locality", max(0.0, wait_until - self.now))

    def _launch(self, e: str, st: Stage, p: int, level: str) -> None:
        assert self.job is not None
        a = next(self.attempts)
        ex = self.execs[e]
        sid = st.dep.shuffle_id if st.dep is not None else None
        rec = TaskRecord(a, self.job.record.id, st.id, st.kind, p, e, self.now, locality=level, inc=ex.inc,
                         recompute=sid is not None and (sid, p) in self.done_maps)
        self.job.record.tasks.append(rec)
        root = st.dep.rdd if st.dep is not None else st.rdd
        map_locs, cache_locs = {}, {}
        for r in narrow_rdds(root):
            for d in r.dependencies:
                if isinstance(d, ShuffleDependency):
                    self.deps[d.shuffle_id] = d
                    outs = self.outputs.get(d.shuffle_id) or [None] * d.rdd.getNumPartitions()
                    map_locs[d.shuffle_id] = tuple(None if o is None else (o[0], o[1]) for o in outs)
            if r.persisted:
                for key, locs in self.cache_locs.items():
                    if key[0] == r.id:
                        cache_locs[key] = tuple(locs)
        write = None
        if self.job.write is not None and st.dep is None:
            bid = self.backend.block_id(self.job.write, p)
            others = sorted((n for n in self.execs if n != e and self.execs[n].alive),
                            key=lambda n: (hash_of(bid, n), n))
            write = (bid, (e, *others[:2]))
            self.write_plan[a] = write[1]
        spec = TaskSpec(a, st.id, st.rdd, p, st.dep, self.job.func if st.dep is None else None, map_locs,
                        cache_locs, write)
        ex.running = a
        self.running[a] = (st, p, rec)
        self.send(e, Launch(ex.inc, spec))

    # ---- events ----
    def on_timer(self, name: str) -> None:
        if name == "check":
            for e in sorted(self.execs):
                ex = self.execs[e]
                if ex.alive and self.now - ex.last_seen > self.heartbeat_timeout:
                    self._lost(e, f"no heartbeat for {self.now - ex.last_seen:.2f}s")
            self.set_timer("check", self.check_interval)
        self._schedule()

    def on_message(self, src: str, msg: Any) -> None:
        if src not in self.expected:
            return
        ex = self.execs.get(src)
        inc = msg.inc
        if ex is None or inc > ex.inc:
            if ex is not None and ex.alive:
                self._lost(src, f"it came back as incarnation {inc}")
            self.execs[src] = ex = _Exec(inc, self.now)
            if isinstance(msg, Register) and msg.blocks:   # a broken executor claiming old memory
                for key in msg.blocks:
                    self._add_cache(key, src, inc)
        elif inc < ex.inc:
            return
        elif not ex.alive:
            self.send(src, Rejoin(inc))                     # declared dead: start afresh, empty
            return
        ex.last_seen = self.now
        if isinstance(msg, Status):
            self._status(src, msg)
        self._schedule()

    def _add_cache(self, key: tuple[int, int], e: str, inc: int) -> None:
        self.first_cached.setdefault(key, self.now)
        locs = self.cache_locs.setdefault(key, [])
        if (e, inc) not in locs:
            locs.append((e, inc))
            self.cache_log.append((self.now, key, e, inc))

    def _status(self, e: str, msg: Status) -> None:
        ex = self.execs[e]
        if ex.running == msg.attempt:
            ex.running = None
        got = self.running.pop(msg.attempt, None)
        for key in msg.evicted:
            # An evicted partition had been in memory, even one this very attempt stored and then pushed
            # out for a later one (it is then in neither ``cached`` nor ``cache_log``): rebuilding it later
            # is a recomputation.
            self.first_cached.setdefault(key, self.now)
            locs = self.cache_locs.get(key, [])
            if (e, msg.inc) in locs:
                locs.remove((e, msg.inc))
        for key in msg.cached:
            self._add_cache(key, e, msg.inc)
        if got is None:
            return
        st, p, rec = got
        rec.end, rec.outcome = self.now, msg.outcome
        rec.hits, rec.remote_hits, rec.computed = msg.hits, msg.remote_hits, msg.computed
        rec.fetch_time = msg.fetch_time
        if any(self.first_cached.get(k, self.now + 1) <= rec.start for k in msg.computed):
            rec.recompute = True             # it rebuilt a partition that had been in memory
        current = self.job is not None and rec.job == self.job.record.id
        if msg.outcome == "success" and st.dep is None and not current:
            return                       # a result of a job that is over
        if msg.outcome != "success" and not current:
            return
        assert self.job is not None or st.dep is not None
        if msg.outcome == "success":
            if st.dep is not None:
                sid = st.dep.shuffle_id
                outs = self.outputs.setdefault(sid, [None] * st.partitions)
                outs[p] = (e, msg.inc, msg.sizes)
                self.done_maps.add((sid, p))
                self.map_log.append((self.now, sid, p, e, msg.inc))
                self.stage_records[st.id].shuffle_bytes += sum(msg.sizes)
            else:
                assert self.job is not None
                if p not in self.job.results:
                    self.job.results[p] = msg.result
                    if self.job.write is not None:
                        self.job.holders[p] = self.write_plan[msg.attempt]
            self._stage_progress()
        elif msg.outcome == "failed":
            rec.error = msg.error
            n = self.failures[(st.id, p)] = self.failures.get((st.id, p), 0) + 1
            if n >= self.max_failures:
                where = f"task for partition {p} of stage {st.id} ({st.rdd!r}) failed {n} times"
                if msg.error_type == "RecordError":
                    text = msg.error.partition(": ")[2]
                    err: Exception = ValueError(f"{text}; job {rec.job} aborted: {where}")
                else:
                    err = JobFailed(f"job {rec.job} aborted: {where}; last error: {msg.error}")
                self._end_job(err)
                return
            self._enqueue(st)
        else:   # fetch-failed: the map output is gone; resubmit what is missing, then this task
            assert msg.fetch is not None
            sid, m, loc = msg.fetch
            rec.error = f"FetchFailed(shuffle {sid}, map {m}, from {loc})"
            n = self.fetch_failures[st.id] = self.fetch_failures.get(st.id, 0) + 1
            if n > 8 * max(1, st.partitions):
                self._end_job(JobFailed(f"job {rec.job} aborted: stage {st.id} ({st.rdd!r}) hit {n} fetch "
                                        f"failures (shuffle {sid} map {m} from {loc}) and cannot make "
                                        f"progress"))
                return
            if loc is not None:
                self.lost_log.append((self.now, loc[0], loc[1], "fetch failed"))
                self._unregister(sid, tuple(loc), m)
            self.extra.setdefault(st.id, set()).add(sid)
            self._submit_stage(st)
            self._stage_progress()

    def _unregister(self, sid: int, loc: tuple[str, int], m: int) -> None:
        """Forget map outputs at ``loc`` (Spark: every output of that executor, its files are gone)."""
        if self.broken == "no-unregister":
            return
        for outs in self.outputs.values():
            for i, o in enumerate(outs):
                if o is not None and (o[0], o[1]) == loc:
                    outs[i] = None
        if self.broken == "recompute-all":   # BROKEN: rerun the whole parent stage, lost or not
            outs = self.outputs.get(sid, [])
            for i in range(len(outs)):
                outs[i] = None

    def _lost(self, e: str, why: str) -> None:
        """Executor ``e`` is gone: its memory and shuffle files with it; re-run its in-flight task."""
        ex = self.execs[e]
        ex.alive = False
        self.lost_log.append((self.now, e, ex.inc, "declared dead"))
        self.annotate(f"executor {e} (incarnation {ex.inc}) lost: {why}")
        for key in list(self.cache_locs):
            locs = self.cache_locs[key]
            if (e, ex.inc) in locs:
                locs.remove((e, ex.inc))
        if self.outputs:
            sids = sorted(self.outputs)
            lost_sids = [s for s in sids if any(o is not None and o[0] == e and o[1] == ex.inc
                                                for o in self.outputs[s])]
            for s in lost_sids:
                self._unregister(s, (e, ex.inc), -1)
        for a, (_, _, rec) in sorted(self.running.items()):
            if rec.executor == e:
                rec.outcome, rec.end = "lost", self.now
                del self.running[a]
        ex.running = None
        for st in sorted(self.active.values(), key=lambda s: s.id):
            if st.id in self.ready:
                self._enqueue(st)
        self._stage_progress()
        self._schedule()


def hash_of(block: str, node: str) -> int:
    return stable_hash((block, node))


# ---- the backend the Context talks to -------------------------------------------------------------------
class SimBackend:
    """One World kept across actions: the driver, executors ``e1..eN``, the fault schedule."""

    def __init__(self, ctx: Any, *, faults: Any = None, costs: Costs | None = None,
                 broken: str | None = None):
        self.ctx = ctx
        if broken is not None:
            one_of("broken", broken, BROKEN)
        self.broken = broken
        self.costs = costs if costs is not None else Costs()
        if not isinstance(self.costs, Costs):
            raise ValueError(f"costs must be a distlib.compute.rdd_cluster.Costs value (got {costs!r})")
        self.schedule = as_schedule(faults, list(ctx.names))
        self.world = World(ctx.seed, latency=(0.002, 0.006))
        self.world.add_node(DRIVER, Driver, backend=self, executors=ctx.names, max_failures=ctx.max_failures,
                            locality_wait=ctx.locality_wait, broken=broken)
        for e in ctx.names:
            self.world.add_node(e, Executor, memory=ctx.memory, costs=self.costs,
                                immortal_cache=broken == "immortal-cache")
            self.world.storage[e]["blocks"] = {}
            self.world.storage[e]["dfs"] = ctx._dfs.locations      # the name node's block map (shared)
        for path in ctx._dfs.files:
            self.stored(ctx._dfs.files[path])
        self.done: simpy.Event | None = None
        self.world.start()
        self.apply(self.schedule)
        env = self.world.env
        while env.peek() == env.now:      # boot everyone now, so the driver's tables exist before a job
            env.step()

    @property
    def driver(self) -> Driver:
        return self.world.nodes[DRIVER]  # type: ignore[return-value]

    @property
    def now(self) -> float:
        return self.world.now

    def apply(self, schedule: Any) -> None:
        """Apply a fault schedule (absolute times); a crash first records what dies with the executor."""
        sched = as_schedule(schedule, list(self.ctx.names))
        for f in sched:
            if isinstance(f, CrashFault):
                self.world.at(f.at, lambda n=f.node: self._record_crash(n))
        sched.apply(self.world)

    def crash(self, executor: str, after: float = 0.0, restart: float | None = None) -> None:
        """Crash ``executor`` ``after`` seconds from now (restart ``restart`` seconds after the crash)."""
        one_of("executor", executor, self.ctx.names)
        at = self.world.now + number("after", after)
        back = None if restart is None else at + number("restart", restart)
        self.apply(FaultSchedule([CrashFault(executor, at, back)]))

    def _record_crash(self, e: str) -> None:
        if not self.world.is_up(e):
            return
        node = self.world.nodes[e]
        if not hasattr(node, "inc"):      # crashed before it ever booted: nothing to lose
            return
        self.ctx.crashes.append(CrashRecord(e, self.world.now, node.inc, tuple(node.cache.blocks),
                                            tuple(sorted(node.shuffle))))

    def stored(self, blocks: Sequence[str]) -> None:
        """DFS blocks loaded from outside (the course's 'upload'): each replica onto its holder's disk."""
        for b in blocks:
            for n in self.ctx._dfs.locations[b]:
                self.world.storage[n]["blocks"][b] = self.ctx._dfs.blocks[b]

    def cached_summary(self, rdd: RDD) -> tuple[int, int]:
        d = self.driver
        keys = [k for k, locs in d.cache_locs.items() if k[0] == rdd.id and locs]
        size = 0
        for k in keys:
            e, _ = d.cache_locs[k][0]
            node = self.world.nodes[e]
            data = node.cache.blocks.get(k) if self.world.is_up(e) else None
            size += sum(record_size(x) for x in data or ())
        return len(keys), size

    def unpersist(self, rdd: RDD) -> None:
        d = self.driver
        for key in [k for k in d.cache_locs if k[0] == rdd.id]:
            del d.cache_locs[key]
        for e in self.ctx.names:
            self.world.at(self.world.now, lambda e=e: d.send(e, DropRDD(rdd.id)))

    def run_job(self, rdd: RDD, func: Callable[[int, Iterator], Any], parts: Sequence[int], action: str,
                write: str | None = None) -> list:
        record = JobRecord(len(self.ctx.jobs), action, repr(rdd), self.world.now)
        self.ctx.jobs.append(record)
        job = self.last_job = _Job(record, rdd, func, list(parts), write)
        if not job.parts:
            record.end, record.status = self.world.now, "done"
            return []
        env = self.world.env
        self.done = env.event()
        self.world.at(self.world.now, lambda: self.driver.submit(job))
        limit = env.timeout(self.ctx.job_timeout)
        env.run(until=simpy.AnyOf(env, [self.done, limit]))
        if record.status == "running":
            record.status, record.end = "failed", self.world.now
            down = [e for e in self.ctx.names if not self.world.is_up(e)]
            record.error = (f"job {record.id} did not finish within {self.ctx.job_timeout:g}s of simulated "
                            f"time (executors down: {', '.join(down) or 'none'}; a task may be waiting "
                            f"for a DFS block whose every replica is down)")
            self.driver._end_job(JobFailed(record.error))
            raise JobFailed(record.error)
        if job.error is not None:
            raise job.error
        return [job.results[p] for p in job.parts]

    def job_ended(self, job: _Job) -> None:
        if self.done is not None and not self.done.triggered:
            self.done.succeed()

    def block_id(self, path: str, p: int) -> str:
        return f"{path}/part-{p:05d}#0"

    def write_files(self, rdd: RDD, path: str, func: Callable[[int, Iterator], list],
                    action: str) -> list[str]:
        n = rdd.getNumPartitions()
        parts = self.run_job(rdd, func, list(range(n)), action, write=path)
        dfs = self.ctx._dfs
        blocks = []
        for p, lines in enumerate(parts):
            bid = self.block_id(path, p)
            dfs.files[f"{path}/part-{p:05d}"] = (bid,)
            dfs.blocks[bid] = tuple(lines)
            dfs.locations[bid] = self.last_job.holders[p]
            blocks.append(bid)
        return blocks
