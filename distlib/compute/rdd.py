"""Spark-style Resilient Distributed Datasets: a PySpark-compatible subset, on one process or on the
simulated cluster.

Source: M. Zaharia et al., "Resilient Distributed Datasets: A Fault-Tolerant Abstraction for
In-Memory Cluster Computing" (NSDI 2012). §2 the abstraction (Table 2: transformations are lazy,
actions run jobs), §4 the representation (Table 3: partitions, dependencies, compute(partition),
preferred locations, partitioner), §5.1 the scheduler (stages cut at wide dependencies, narrow ones
pipelined; locality; lost shuffle outputs resubmitted), §5.2-5.3 memory (LRU of RDD partitions),
§5.4 checkpointing.

    sc = Context("sim", executors=4, faults="crash e2 at 1.2 restart 3")
    counts = (sc.textFile("book.txt").flatMap(str.split).map(lambda w: (w, 1))
                .reduceByKey(lambda a, b: a + b))
    counts.collect()          # the first action runs a job: two stages, a shuffle between them

The same program text runs on PySpark (``SparkContext`` has the same method names). What differs,
on purpose: the default partition function is :func:`portable_hash` = ``stable_hash`` (the same in
every process), ``groupByKey`` values are lists, and a job that keeps failing raises
:class:`JobFailed` (or ``ValueError`` when our own record check failed) instead of a Py4J error.

This module is the API and the lineage; :mod:`.rdd_scheduler` cuts stages and runs them in-process
(``master="local"``); :mod:`.rdd_cluster` runs them on executors as actors (``master="sim"``).
"""

from __future__ import annotations

import itertools
import os
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from distlib.partitioning.hashing import stable_hash
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import flag, integer, number, one_of

MASTERS = ("local", "sim")


class JobFailed(RuntimeError):
    """A job aborted: a task kept failing (``spark.task.maxFailures``) or the cluster could not finish."""


class RecordError(ValueError):
    """A record that the operation cannot take (a non-pair given to reduceByKey, join, ...)."""


def portable_hash(key: Any) -> int:
    """PySpark's name for the default partition function; here ``stable_hash`` (BLAKE2b over the key's
    canonical bytes), so every executor sends a key to the same reducer, in every process."""
    if key is None:
        return 0
    if isinstance(key, bool):
        return stable_hash(int(key))
    if isinstance(key, float):
        return stable_hash(int(key)) if key.is_integer() else stable_hash(repr(key))
    if isinstance(key, tuple):
        return stable_hash(tuple(portable_hash(k) for k in key))
    return stable_hash(key)


def check_pair(record: Any, op: str) -> tuple[Any, Any]:
    """``record`` as (key, value); anything else is the operation's ValueError (it is not a pair RDD)."""
    if isinstance(record, (tuple, list)) and len(record) == 2:
        return record[0], record[1]
    raise RecordError(f"{op} records must be (key, value) pairs (got {record!r})")


# ---- partitioners and dependencies (RDD paper §4) ----------------------------------------------------
class Partitioner:
    numPartitions: int

    def __call__(self, key: Any) -> int:
        raise NotImplementedError


class HashPartitioner(Partitioner):
    """``partitionFunc(key) % numPartitions`` (PySpark's partitionBy)."""

    def __init__(self, numPartitions: int, partitionFunc: Callable[[Any], int] = portable_hash):
        self.numPartitions = numPartitions
        self.func = partitionFunc

    def __call__(self, key: Any) -> int:
        return self.func(key) % self.numPartitions

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, HashPartitioner) and other.numPartitions == self.numPartitions
                and other.func is self.func)

    def __hash__(self) -> int:
        return self.numPartitions


class RangePartitioner(Partitioner):
    """Keys split by sorted bounds (sortByKey); ``ascending=False`` numbers the ranges backwards."""

    def __init__(self, bounds: Sequence[Any], ascending: bool, keyfunc: Callable[[Any], Any]):
        self.bounds = list(bounds)
        self.numPartitions = len(self.bounds) + 1
        self.ascending = ascending
        self.keyfunc = keyfunc

    def __call__(self, key: Any) -> int:
        p = bisect_left(self.bounds, self.keyfunc(key))
        return p if self.ascending else self.numPartitions - 1 - p


class Dependency:
    rdd: RDD
    wide = False


class NarrowDependency(Dependency):
    """Each child partition depends on a few parent partitions (one-to-one, or a range for union)."""

    def __init__(self, rdd: RDD, offset: int = 0):
        self.rdd, self.offset = rdd, offset

    def parents(self, p: int) -> list[int]:
        return [p - self.offset] if 0 <= p - self.offset < self.rdd.getNumPartitions() else []


class ShuffleDependency(Dependency):
    """Every child partition may depend on every parent partition: a shuffle (a stage boundary)."""
    wide = True

    def __init__(self, rdd: RDD, partitioner: Partitioner, op: str):
        self.rdd, self.partitioner, self.op = rdd, partitioner, op
        self.shuffle_id = rdd.ctx._next_shuffle()


def _callsite() -> str:
    """``file:line`` of the user's code that created an RDD (Spark's creation site), basename only so
    printed lineages do not depend on where the course is checked out."""
    here = os.path.dirname(__file__)
    f = sys._getframe(1)
    while f is not None and os.path.dirname(f.f_code.co_filename) == here:
        f = f.f_back
    if f is None:
        return "<unknown>:0"
    return f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"


# ---- RDDs ----------------------------------------------------------------------------------------------
class RDD:
    """An immutable, partitioned collection with its lineage. Transformations return new RDDs and run
    nothing; actions (collect, count, ...) run a job through the context's scheduler."""

    kind = "RDD"

    def __init__(self, ctx: Context, deps: list[Dependency], op: str):
        ctx._check_running(op)
        self.ctx = ctx
        self.id = ctx._next_rdd()
        self.deps = deps
        self.partitioner: Partitioner | None = None
        self.site = f"{op} at {_callsite()}"
        self._name: str | None = None
        self.persisted = False
        self.checkpoint_wanted = False
        self.checkpointed: CheckpointRDD | None = None

    # ---- Table 3's interface ----
    def getNumPartitions(self) -> int:
        raise NotImplementedError

    @property
    def dependencies(self) -> list[Dependency]:
        """The lineage: after a checkpoint, one narrow dependency on the checkpoint data (§5.4)."""
        if self.checkpointed is not None:
            return [NarrowDependency(self.checkpointed)]
        return self.deps

    def compute(self, p: int, tc: Any) -> Iterator:
        raise NotImplementedError

    def preferred(self, p: int) -> list[str]:
        """Nodes where partition ``p`` is cheap to compute (DFS block holders); [] if anywhere."""
        if self.checkpointed is not None:
            return self.checkpointed.preferred(p)
        for d in self.deps:
            if not d.wide:
                for q in d.parents(p):       # type: ignore[attr-defined]
                    locs = d.rdd.preferred(q)
                    if locs:
                        return locs
        return []

    def iterator(self, p: int, tc: Any) -> Iterator:
        """Partition ``p``: from the checkpoint, from the cache, or computed from the parents."""
        if self.checkpointed is not None:
            return self.checkpointed.compute(p, tc)
        if self.persisted:
            data = tc.cached(self, p)
            if data is not None:
                return iter(data)
            data = list(self.compute(p, tc))
            tc.cache_put(self, p, data)
            return iter(data)
        return self.compute(p, tc)

    # ---- naming and printing ----
    def name(self) -> str | None:
        return self._name

    def setName(self, name: str) -> RDD:
        self._name = name
        return self

    def __repr__(self) -> str:
        named = f"{self._name} " if self._name else ""
        return f"{named}{self.kind}[{self.id}] at {self.site}"

    def _describe(self) -> list[str]:
        level = "Memory Serialized 1x Replicated" if self.persisted else ""
        lines = [f"{self!r} [{level}]"]
        if self.persisted:
            n, size = self.ctx._backend.cached_summary(self)
            if n:
                lines.append(f"    CachedPartitions: {n}; MemorySize: {float(size)} B; DiskSize: 0.0 B")
        return lines

    def toDebugString(self) -> str:
        """The lineage in Spark's layout: one line per RDD, ``+-(n)`` where a shuffle starts a new stage."""
        def children(rdd: RDD, prefix: str) -> list[str]:
            deps = rdd.dependencies
            out: list[str] = []
            for i, d in enumerate(deps):
                out += debug(d.rdd, prefix, d.wide, i == len(deps) - 1)
            return out

        def debug(rdd: RDD, prefix: str, shuffle: bool, last: bool) -> list[str]:
            if not shuffle:
                return [prefix + s for s in rdd._describe()] + children(rdd, prefix)
            part = f"({rdd.getNumPartitions()})"
            left = (len(part) - 1) // 2
            this = prefix.rstrip()
            if this.endswith("|"):
                this = this[:-1]
            nxt = this + ("  " if last else "| ") + " " * left + "|" + " " * (len(part) - left)
            desc = rdd._describe()
            return ([f"{this}+-{part} {desc[0]}"] + [nxt + s for s in desc[1:]] + children(rdd, nxt))

        part = f"({self.getNumPartitions()})"
        left = (len(part) - 1) // 2
        nxt = " " * left + "|" + " " * (len(part) - left)
        desc = self._describe()
        return "\n".join([f"{part} {desc[0]}"] + [f"{nxt} {s}" for s in desc[1:]] + children(self, nxt))

    # ---- persistence ----
    def persist(self, storageLevel: Any = None) -> RDD:
        """Keep partitions in executor memory once computed (LRU eviction beyond ``memory``)."""
        self.ctx._check_running("persist")
        self.persisted = True
        return self

    def cache(self) -> RDD:
        return self.persist()

    def unpersist(self, blocking: bool = False) -> RDD:
        self.ctx._check_running("unpersist")
        self.persisted = False
        self.ctx._backend.unpersist(self)
        return self

    @property
    def is_cached(self) -> bool:
        return self.persisted

    def checkpoint(self) -> None:
        """Write the partitions to the DFS after the next action and cut the lineage there (§5.4)."""
        self.ctx._check_running("checkpoint")
        if self.ctx._checkpoint_dir is None:
            raise ValueError("checkpoint directory must be set with sc.setCheckpointDir(path) before "
                             "checkpoint (got none)")
        self.checkpoint_wanted = True

    def isCheckpointed(self) -> bool:
        return self.checkpointed is not None

    # ---- narrow transformations ----
    def mapPartitionsWithIndex(self, f: Callable[[int, Iterator], Iterable],
                               preservesPartitioning: bool = False) -> RDD:
        return PythonRDD(self, f, preservesPartitioning, "mapPartitionsWithIndex")

    def mapPartitions(self, f: Callable[[Iterator], Iterable], preservesPartitioning: bool = False) -> RDD:
        return PythonRDD(self, lambda _, it: f(it), preservesPartitioning, "mapPartitions")

    def map(self, f: Callable[[Any], Any], preservesPartitioning: bool = False) -> RDD:
        return PythonRDD(self, lambda _, it: map(f, it), preservesPartitioning, "map")

    def flatMap(self, f: Callable[[Any], Iterable], preservesPartitioning: bool = False) -> RDD:
        return PythonRDD(self, lambda _, it: itertools.chain.from_iterable(map(f, it)),
                         preservesPartitioning, "flatMap")

    def glom(self) -> RDD:
        """Each partition as one list."""
        return PythonRDD(self, lambda _, it: [list(it)], False, "glom")

    def filter(self, f: Callable[[Any], bool]) -> RDD:
        return PythonRDD(self, lambda _, it: filter(f, it), True, "filter")

    def mapValues(self, f: Callable[[Any], Any]) -> RDD:
        def each(_: int, it: Iterator) -> Iterator:
            for rec in it:
                k, v = check_pair(rec, "mapValues")
                yield k, f(v)
        return PythonRDD(self, each, True, "mapValues")

    def flatMapValues(self, f: Callable[[Any], Iterable]) -> RDD:
        def each(_: int, it: Iterator) -> Iterator:
            for rec in it:
                k, v = check_pair(rec, "flatMapValues")
                for x in f(v):
                    yield k, x
        return PythonRDD(self, each, True, "flatMapValues")

    def keys(self) -> RDD:
        return PythonRDD(self, lambda _, it: (check_pair(r, "keys")[0] for r in it), False, "keys")

    def values(self) -> RDD:
        return PythonRDD(self, lambda _, it: (check_pair(r, "values")[1] for r in it), False, "values")

    def keyBy(self, f: Callable[[Any], Any]) -> RDD:
        return PythonRDD(self, lambda _, it: ((f(x), x) for x in it), False, "keyBy")

    def union(self, other: RDD) -> RDD:
        return UnionRDD(self.ctx, [self, other])

    # ---- wide transformations ----
    def partitionBy(self, numPartitions: int | None = None,
                    partitionFunc: Callable[[Any], int] = portable_hash) -> RDD:
        n = self._num("partitionBy", numPartitions)
        part = HashPartitioner(n, partitionFunc)
        if self.partitioner == part:       # already partitioned that way: no shuffle (as PySpark)
            return self
        return ShuffledRDD(self, part, "partitionBy")

    def combineByKey(self, createCombiner: Callable, mergeValue: Callable, mergeCombiners: Callable,
                     numPartitions: int | None = None, partitionFunc: Callable[[Any], int] = portable_hash,
                     *, _op: str = "combineByKey") -> RDD:
        n = self._num(_op, numPartitions)

        def combine_locally(_: int, it: Iterator) -> Iterator:
            acc: dict = {}
            for rec in it:
                try:
                    k, v = rec
                except (TypeError, ValueError):     # not a pair: say so, naming the operation
                    check_pair(rec, _op)
                    raise
                if k in acc:
                    acc[k] = mergeValue(acc[k], v)
                else:
                    acc[k] = createCombiner(v)
            return iter(acc.items())

        def merge(_: int, it: Iterator) -> Iterator:
            acc: dict = {}
            for k, c in it:
                acc[k] = mergeCombiners(acc[k], c) if k in acc else c
            return iter(acc.items())

        part = HashPartitioner(n, partitionFunc)
        local = PairwiseRDD(self, combine_locally, _op)
        return PythonRDD(ShuffledRDD(local, part, _op), merge, True, _op)

    def reduceByKey(self, func: Callable[[Any, Any], Any], numPartitions: int | None = None,
                    partitionFunc: Callable[[Any], int] = portable_hash) -> RDD:
        return self.combineByKey(lambda v: v, func, func, numPartitions, partitionFunc, _op="reduceByKey")

    def foldByKey(self, zeroValue: Any, func: Callable[[Any, Any], Any], numPartitions: int | None = None,
                  partitionFunc: Callable[[Any], int] = portable_hash) -> RDD:
        return self.combineByKey(lambda v: func(zeroValue, v), func, func, numPartitions, partitionFunc,
                                 _op="foldByKey")

    def groupByKey(self, numPartitions: int | None = None,
                   partitionFunc: Callable[[Any], int] = portable_hash) -> RDD:
        def append(acc: list, v: Any) -> list:
            acc.append(v)
            return acc
        return self.combineByKey(lambda v: [v], append, lambda a, b: a + b, numPartitions, partitionFunc,
                                 _op="groupByKey")

    def distinct(self, numPartitions: int | None = None) -> RDD:
        return (self.map(lambda x: (x, None))
                .combineByKey(lambda v: v, lambda a, _: a, lambda a, _: a, numPartitions, _op="distinct")
                .map(lambda kv: kv[0]))

    def _pair_partitioner(self, other: RDD, op: str, numPartitions: int | None) -> Partitioner:
        """Scala Spark's CoGroupedRDD choice (the paper's representation): without ``numPartitions``,
        this RDD's hash partitioner if it has one (then this side is not shuffled), else as many
        partitions as this RDD. (PySpark's Python join would shuffle both sides into a+b partitions
        unless both share a partitioner; results are the same, lineages differ.)"""
        n = self._num(op, numPartitions)
        if numPartitions is None and isinstance(self.partitioner, HashPartitioner):
            return self.partitioner
        return HashPartitioner(n)

    def cogroup(self, other: RDD, numPartitions: int | None = None) -> RDD:
        """(k, (values in self, values in other)); a side already hash-partitioned the same way is a
        narrow dependency, not a shuffle (the RDD paper's co-partitioned join, Fig. 4)."""
        return CoGroupedRDD(self.ctx, [self, other], self._pair_partitioner(other, "cogroup", numPartitions),
                            "cogroup")

    def join(self, other: RDD, numPartitions: int | None = None) -> RDD:
        part = self._pair_partitioner(other, "join", numPartitions)
        grouped = CoGroupedRDD(self.ctx, [self, other], part, "join")
        return grouped.flatMapValues(lambda vs: [(a, b) for a in vs[0] for b in vs[1]])

    def sortByKey(self, ascending: bool = True, numPartitions: int | None = None,
                  keyfunc: Callable[[Any], Any] = lambda x: x) -> RDD:
        """Range-partition by sampled keys, then sort each partition. Like Spark, choosing the ranges
        runs a sampling job at once (sortByKey is the one transformation that does)."""
        flag("ascending", ascending)
        n = self._num("sortByKey", numPartitions)
        if n == 1:
            bounds: list = []
        else:
            total = self.count()
            fraction = min(20.0 * n / max(total, 1), 1.0)
            seed = self.id

            def sample(p: int, it: Iterator) -> Iterator:
                rng = stream(seed, f"sortByKey/{p}")
                return (keyfunc(check_pair(r, "sortByKey")[0]) for r in it if rng.random() < fraction)
            keys = sorted(self.mapPartitionsWithIndex(sample).collect())
            bounds = [keys[int(len(keys) * (i + 1) / n)] for i in range(n - 1)] if keys else []
            bounds = sorted(set(bounds))
        part = RangePartitioner(bounds, ascending, keyfunc)
        shuffled = ShuffledRDD(self, part, "sortByKey")
        return PythonRDD(shuffled, lambda _, it: iter(sorted(it, key=lambda kv: keyfunc(kv[0]),
                                                             reverse=not ascending)), True, "sortByKey")

    def sortBy(self, keyfunc: Callable[[Any], Any], ascending: bool = True,
               numPartitions: int | None = None) -> RDD:
        return self.keyBy(keyfunc).sortByKey(ascending, numPartitions).values()

    def _num(self, op: str, n: int | None) -> int:
        self.ctx._check_running(op)
        if n is None:
            return self.getNumPartitions()
        return integer(f"{op} numPartitions", n, 1)

    # ---- actions (each runs a job) ----
    def collect(self) -> list:
        return [x for part in self.ctx._run(self, lambda _, it: list(it), "collect") for x in part]

    def count(self) -> int:
        return sum(self.ctx._run(self, lambda _, it: sum(1 for _ in it), "count"))

    def reduce(self, f: Callable[[Any, Any], Any]) -> Any:
        def part(_: int, it: Iterator) -> list:
            acc = _EMPTY
            for x in it:
                acc = x if acc is _EMPTY else f(acc, x)
            return [] if acc is _EMPTY else [acc]
        vals = [v for r in self.ctx._run(self, part, "reduce") for v in r]
        if not vals:
            raise ValueError("reduce needs a non-empty RDD (got an empty one)")
        acc = vals[0]
        for v in vals[1:]:
            acc = f(acc, v)
        return acc

    def fold(self, zeroValue: Any, op: Callable[[Any, Any], Any]) -> Any:
        def part(_: int, it: Iterator) -> Any:
            acc = zeroValue
            for x in it:
                acc = op(acc, x)
            return acc
        acc = zeroValue
        for v in self.ctx._run(self, part, "fold"):
            acc = op(acc, v)
        return acc

    def sum(self) -> Any:
        return self.fold(0, lambda a, b: a + b)

    def take(self, num: int) -> list:
        """The first ``num`` records: scans one partition, then more (x4) until it has enough (as Spark)."""
        integer("take num", num, 0)
        out: list = []
        total, scanned = self.getNumPartitions(), 0
        while len(out) < num and scanned < total:
            step = 1 if scanned == 0 else min(total - scanned, 4 * scanned)
            want = num - len(out)
            parts = list(range(scanned, scanned + step))
            for got in self.ctx._run(self, lambda _, it, w=want: list(itertools.islice(it, w)), "take",
                                     parts):
                out.extend(got)
            scanned += step
        return out[:num]

    def first(self) -> Any:
        got = self.take(1)
        if not got:
            raise ValueError("first needs a non-empty RDD (got an empty one)")
        return got[0]

    def isEmpty(self) -> bool:
        return self.getNumPartitions() == 0 or not self.take(1)

    def countByKey(self) -> dict:
        out: dict = {}
        for k, n in self.map(lambda r: (check_pair(r, "countByKey")[0], 1)).reduceByKey(
                lambda a, b: a + b).collect():
            out[k] = n
        return out

    def countByValue(self) -> dict:
        return dict(self.map(lambda x: (x, 1)).reduceByKey(lambda a, b: a + b).collect())

    def collectAsMap(self) -> dict:
        return dict(check_pair(r, "collectAsMap") for r in self.collect())

    def foreach(self, f: Callable[[Any], Any]) -> None:
        self.ctx._run(self, lambda _, it: [f(x) for x in it] and None, "foreach")

    def saveAsTextFile(self, path: str) -> None:
        """One DFS file ``path/part-0000i`` of ``str(record)`` lines per partition (a new directory)."""
        self.ctx._check_running("saveAsTextFile")
        self.ctx._save(self, path)


_EMPTY = object()


class ParallelCollectionRDD(RDD):
    kind = "ParallelCollectionRDD"

    def __init__(self, ctx: Context, slices: list[list]):
        super().__init__(ctx, [], "parallelize")
        self.slices = slices

    def getNumPartitions(self) -> int:
        return len(self.slices)

    def compute(self, p: int, tc: Any) -> Iterator:
        return iter(self.slices[p])


class HadoopRDD(RDD):
    """A DFS file read split by split; a split's preferred locations are its block's replica holders."""
    kind = "HadoopRDD"

    def __init__(self, ctx: Context, path: str, splits: list[tuple[str, int, int, int]]):
        super().__init__(ctx, [], "textFile")
        self.path = path
        self.splits = splits                 # (block id, first line, end line, bytes)
        self._name = path

    def getNumPartitions(self) -> int:
        return len(self.splits)

    def compute(self, p: int, tc: Any) -> Iterator:
        block, lo, hi, _ = self.splits[p]
        return iter(tc.read_block(block, lo, hi))

    def preferred(self, p: int) -> list[str]:
        return list(self.ctx._dfs.locations.get(self.splits[p][0], ()))


class CheckpointRDD(RDD):
    """The partitions of a checkpointed RDD, read back from the DFS (no parents: lineage cut)."""
    kind = "ReliableCheckpointRDD"

    def __init__(self, ctx: Context, origin: RDD, blocks: list[str]):
        super().__init__(ctx, [], "checkpoint")
        self.blocks = blocks
        self.site = origin.site
        self.partitioner = origin.partitioner

    def getNumPartitions(self) -> int:
        return len(self.blocks)

    def compute(self, p: int, tc: Any) -> Iterator:
        return iter(tc.read_block(self.blocks[p]))

    def preferred(self, p: int) -> list[str]:
        return list(self.ctx._dfs.locations.get(self.blocks[p], ()))


class PythonRDD(RDD):
    """A Python function over each partition of one parent. Like PySpark's PipelinedRDD, a chain of
    map/filter/flatMap/... on an RDD that is neither cached nor checkpointed becomes ONE RDD whose
    function is the composition (one task pipelines them anyway, §5.1)."""
    kind = "PythonRDD"

    def __init__(self, parent: RDD, f: Callable[[int, Iterator], Iterable], preserves: bool, op: str):
        if (type(parent) is PythonRDD and not parent.persisted and not parent.checkpoint_wanted
                and parent.checkpointed is None):
            inner, prev = parent.func, parent.deps[0].rdd

            def func(p: int, it: Iterator) -> Iterable:
                return f(p, iter(inner(p, it)))
            preserves = preserves and parent.preserves
        else:
            func, prev = f, parent
        super().__init__(parent.ctx, [NarrowDependency(prev)], op)
        self.func = func
        self.preserves = preserves
        self.partitioner = prev.partitioner if preserves else None

    def getNumPartitions(self) -> int:
        return self.deps[0].rdd.getNumPartitions()

    def compute(self, p: int, tc: Any) -> Iterator:
        return tc.count(iter(self.func(p, self.deps[0].rdd.iterator(p, tc))))


class PairwiseRDD(PythonRDD):
    """The map side of a shuffle: a partition's records combined by key before they are written."""
    kind = "PairwiseRDD"

    def __init__(self, parent: RDD, f: Callable[[int, Iterator], Iterable], op: str):
        RDD.__init__(self, parent.ctx, [NarrowDependency(parent)], op)
        self.func, self.preserves = f, False


class ShuffledRDD(RDD):
    """The reduce side of a shuffle: partition p is bucket p of every map task's output."""
    kind = "ShuffledRDD"

    def __init__(self, parent: RDD, part: Partitioner, op: str):
        dep = ShuffleDependency(parent, part, op)
        super().__init__(parent.ctx, [dep], op)
        self.partitioner = part

    def getNumPartitions(self) -> int:
        assert self.partitioner is not None
        return self.partitioner.numPartitions

    def compute(self, p: int, tc: Any) -> Iterator:
        return tc.shuffle_read(self.deps[0], p)


class UnionRDD(RDD):
    """The partitions of each parent one after the other (range dependencies)."""
    kind = "UnionRDD"

    def __init__(self, ctx: Context, parents: list[RDD]):
        deps, off = [], 0
        for r in parents:
            if r.ctx is not ctx:
                raise ValueError("union other must come from the same Context (got an RDD of another one)")
            deps.append(NarrowDependency(r, off))
            off += r.getNumPartitions()
        super().__init__(ctx, list(deps), "union")
        self.n = off

    def getNumPartitions(self) -> int:
        return self.n

    def compute(self, p: int, tc: Any) -> Iterator:
        for d in self.deps:
            assert isinstance(d, NarrowDependency)
            for q in d.parents(p):
                return d.rdd.iterator(q, tc)
        return iter(())


class CoGroupedRDD(RDD):
    """(key, (values of parent 0, values of parent 1)) per key; a parent hash-partitioned like this RDD
    is read partition by partition (narrow), any other one through a shuffle."""
    kind = "CoGroupedRDD"

    def __init__(self, ctx: Context, parents: list[RDD], part: Partitioner, op: str):
        deps: list[Dependency] = []
        for i, r in enumerate(parents):
            if r.ctx is not ctx:
                raise ValueError(f"{op} other must come from the same Context (got an RDD of another one)")
            if r.partitioner == part:
                deps.append(NarrowDependency(r))
            else:
                tagged = PairwiseRDD(r, lambda _, it, i=i: ((k, (i, v)) for k, v in
                                                           (check_pair(rec, op) for rec in it)), op)
                deps.append(ShuffleDependency(tagged, part, op))
        super().__init__(ctx, deps, op)
        self.partitioner = part
        self.op = op

    def getNumPartitions(self) -> int:
        assert self.partitioner is not None
        return self.partitioner.numPartitions

    def compute(self, p: int, tc: Any) -> Iterator:
        groups: dict = {}
        n = len(self.deps)
        for i, d in enumerate(self.deps):
            if d.wide:
                for k, (_, v) in tc.shuffle_read(d, p):
                    groups.setdefault(k, tuple([] for _ in range(n)))[i].append(v)
            else:
                for rec in d.rdd.iterator(p, tc):
                    k, v = check_pair(rec, self.op)
                    groups.setdefault(k, tuple([] for _ in range(n)))[i].append(v)
        return tc.count(iter(groups.items()))


# ---- the context -------------------------------------------------------------------------------------
class Context:
    """The driver's handle (PySpark's ``SparkContext``).

    ``master``: "local" runs tasks in this process, one after the other, without simulated time;
    "sim" runs a driver and ``executors`` executors (``e1``..) as actors on one
    :class:`~distlib.sim.World` kept across actions (so a cache outlives a job), with simulated time,
    costs and the executor ``faults`` (a schedule or its text, absolute simulated times).
    ``memory``: records an executor may cache (None: unlimited); ``files``: DFS files, path -> lines
    or text; ``block_size``: DFS block size in bytes; ``locality_wait``: simulated seconds a task waits
    for a free slot where its data is before it runs anywhere (``spark.locality.wait``);
    ``max_failures``: attempts of a task before its job fails (``spark.task.maxFailures``);
    ``job_timeout``: simulated seconds after which an action gives up (never a hung job); ``broken``
    names a deliberately wrong scheduler (checkers must catch it): see
    :data:`~distlib.compute.rdd_cluster.BROKEN`. Records: ``jobs`` (:class:`~.rdd_scheduler.JobRecord`
    per action) and ``crashes``.
    """

    def __init__(self, master: str = "local", appName: str = "distlib", *, executors: int = 3, seed: int = 0,
                 faults: Any = None, memory: int | None = None, costs: Any = None,
                 files: Mapping[str, Any] | None = None, block_size: int = 4096, max_failures: int = 4,
                 broken: str | None = None, job_timeout: float = 10_000.0, locality_wait: float = 1.0):
        from . import rdd_scheduler
        from .dfs import DFS
        self.master = one_of("master", master, MASTERS)
        self.appName = appName
        self.executors = integer("executors", executors, 1, 64)
        self.seed = check_seed(seed)
        self.memory = None if memory is None else integer("memory", memory, 1)
        self.block_size = integer("block_size", block_size, 1)
        self.max_failures = integer("max_failures", max_failures, 1)
        self.job_timeout = number("job_timeout", job_timeout, above=True)
        self.locality_wait = number("locality_wait", locality_wait)
        self.names = [f"e{i}" for i in range(1, self.executors + 1)]
        self._dfs = DFS(self.names, racks=1, replication=min(3, self.executors))
        self._rdds = itertools.count()
        self._shuffles = itertools.count()
        self._stopped = False
        self._checkpoint_dir: str | None = None
        self.jobs: list[rdd_scheduler.JobRecord] = []
        self.crashes: list[rdd_scheduler.CrashRecord] = []
        if files is not None:
            if not isinstance(files, Mapping):
                raise ValueError(f"files must map DFS paths to lines or text (got {files!r})")
            for path, content in files.items():
                self.writeFile(path, content)
        if self.master == "local":
            if faults is not None:
                raise ValueError(f"faults must be None with master='local' (no cluster to crash) "
                                 f"(got {faults!r})")
            if broken is not None:
                raise ValueError(f"broken must be None with master='local' (got {broken!r})")
            if costs is not None:
                raise ValueError(f"costs must be None with master='local' (no simulated time) "
                                 f"(got {costs!r})")
            self._backend: Any = rdd_scheduler.LocalBackend(self)
        else:
            from .rdd_cluster import SimBackend
            self._backend = SimBackend(self, faults=faults, costs=costs, broken=broken)

    # ---- bookkeeping ----
    def _next_rdd(self) -> int:
        return next(self._rdds)

    def _next_shuffle(self) -> int:
        return next(self._shuffles)

    def _check_running(self, op: str) -> None:
        if self._stopped:
            raise ValueError(f"context must be running to call {op} (got a stopped Context: stop() was "
                             f"called)")

    @property
    def defaultParallelism(self) -> int:
        return self.executors if self.master == "local" else max(2, self.executors)

    @property
    def now(self) -> float:
        """Simulated time (always 0 in local mode)."""
        return self._backend.now

    @property
    def world(self) -> Any:
        """The simulated World (sim mode), for figures and checkers."""
        return getattr(self._backend, "world", None)

    def stop(self) -> None:
        self._stopped = True

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def crash(self, executor: str, after: float = 0.0, restart: float | None = None) -> None:
        """Sim mode: crash ``executor`` ``after`` simulated seconds into the next action (it comes back,
        empty, ``restart`` seconds after the crash; None: never)."""
        self._check_running("crash")
        if self.master != "sim":
            raise ValueError(f"master must be 'sim' to crash an executor (got {self.master!r})")
        self._backend.crash(executor, after, restart)

    def setCheckpointDir(self, dirName: str) -> None:
        self._check_running("setCheckpointDir")
        if not isinstance(dirName, str) or not dirName:
            raise ValueError(f"dirName must be a non-empty DFS path (got {dirName!r})")
        self._checkpoint_dir = dirName

    # ---- data in ----
    def writeFile(self, path: str, content: str | Sequence[str]) -> None:
        """Store a DFS file (lines, or text split into lines) in blocks of ~``block_size`` bytes: the
        course's upload (``hdfs dfs -put``); PySpark's ``addFile`` is something else (ships a file to
        every executor), hence another name."""
        self._check_running("writeFile")
        lines = content.splitlines() if isinstance(content, str) else list(content)
        if not lines or not all(isinstance(s, str) for s in lines):
            raise ValueError(f"files[{path!r}] must be non-empty text or a non-empty list of lines "
                             f"(got {content!r:.60})")
        size = sum(len(s) + 1 for s in lines)
        blocks = max(1, min(len(lines), -(-size // self.block_size)))
        self._dfs.put(path, lines, blocks)
        if getattr(self, "_backend", None) is not None:
            self._backend.stored(self._dfs.files[path])

    def parallelize(self, data: Iterable, numSlices: int | None = None) -> RDD:
        self._check_running("parallelize")
        n = self.defaultParallelism if numSlices is None else integer("numSlices", numSlices, 1)
        items = list(data)
        slices = [items[(i * len(items)) // n:((i + 1) * len(items)) // n] for i in range(n)]
        return ParallelCollectionRDD(self, slices)

    def range(self, start: int, end: int | None = None, step: int = 1, numSlices: int | None = None) -> RDD:
        if end is None:
            start, end = 0, start
        return self.parallelize(range(start, end, step), numSlices)

    def textFile(self, name: str, minPartitions: int | None = None) -> RDD:
        """A DFS file's lines; at least ``minPartitions`` splits (Hadoop cuts blocks smaller if asked)."""
        self._check_running("textFile")
        n = min(self.defaultParallelism, 2) if minPartitions is None else integer("minPartitions",
                                                                                  minPartitions, 1)
        if name not in self._dfs.files:
            known = ", ".join(sorted(self._dfs.files)) or "none"
            raise ValueError(f"name must be a DFS file (known: {known}) (got {name!r})")
        blocks = self._dfs.files[name]
        total = sum(len(s) + 1 for b in blocks for s in self._dfs.blocks[b])
        goal = max(1, -(-total // n))
        splits = []
        for b in blocks:
            lines = self._dfs.blocks[b]
            size = sum(len(s) + 1 for s in lines)
            k = max(1, min(len(lines), -(-size // goal)))
            for i in range(k):
                lo, hi = (i * len(lines)) // k, ((i + 1) * len(lines)) // k
                splits.append((b, lo, hi, sum(len(s) + 1 for s in lines[lo:hi])))
        return HadoopRDD(self, name, splits)

    def union(self, rdds: Sequence[RDD]) -> RDD:
        self._check_running("union")
        return UnionRDD(self, list(rdds))

    # ---- running ----
    def _run(self, rdd: RDD, func: Callable[[int, Iterator], Any], action: str,
             partitions: Sequence[int] | None = None) -> list:
        self._check_running(action)
        parts = list(range(rdd.getNumPartitions())) if partitions is None else list(partitions)
        out = self._backend.run_job(rdd, func, parts, action)
        self._do_checkpoints(rdd)
        return out

    def _do_checkpoints(self, rdd: RDD) -> None:
        """After a job, write every RDD of its lineage marked for checkpointing (Spark's doCheckpoint)."""
        seen: set[int] = set()
        todo: list[RDD] = []

        def walk(r: RDD) -> None:
            if r.id in seen:
                return
            seen.add(r.id)
            if r.checkpoint_wanted and r.checkpointed is None:
                todo.append(r)
            for d in r.dependencies:
                walk(d.rdd)
        walk(rdd)
        for r in todo:
            path = f"{self._checkpoint_dir}/rdd-{r.id}"
            blocks = self._backend.write_files(r, path, lambda _, it: list(it), "checkpoint")
            r.checkpointed = CheckpointRDD(self, r, blocks)

    def _save(self, rdd: RDD, path: str) -> None:
        if not isinstance(path, str) or not path:
            raise ValueError(f"path must be a non-empty DFS path (got {path!r})")
        if any(p == path or p.startswith(path + "/") for p in self._dfs.files):
            raise ValueError(f"path must be a new DFS directory ({path!r} exists)")
        self._backend.write_files(rdd, path, lambda _, it: [str(x) for x in it], "saveAsTextFile")

    def readFile(self, path: str) -> list[str]:
        """The lines of a DFS file (a part file written by saveAsTextFile, say)."""
        return [s for b in self._dfs.files[path] for s in self._dfs.blocks[b]]
