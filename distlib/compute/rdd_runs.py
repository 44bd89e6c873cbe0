"""Runs of chapter 10's RDD programs on the simulated cluster under executor crashes, for the checkers and
sweeps.

The programs are the shipped ones of :mod:`distlib.compute.programs` -- the very code that
``tests/test_spark_equality.py`` runs on PySpark -- and so are their plain-Python references. Three
workloads: ``wordcount`` (:func:`~distlib.compute.programs.count_words` over ``textFile``), ``join``
(:func:`~distlib.compute.programs.join_example`, chapter 09's customers and orders) and ``pagerank``
(the RDD paper's §3.2.2 PageRank, 3 iterations of :func:`~distlib.compute.programs.pagerank_step`, the
links co-partitioned with the ranks and cached). :func:`random_rdd` draws a workload, 3-5 executors,
maybe a small executor memory (so LRU eviction happens) and 0-3 executor crashes at any moment, each
restarted (at most one crash-stop with 4 or more executors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlib.sim import CrashFault, FaultSchedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import one_of

from . import programs
from .rdd import RDD, Context

WORKLOADS = ("wordcount", "join", "pagerank")


def pagerank_loop(links: RDD, ranks: RDD, iterations: int, partitions: int | None = None,
                  cache: bool = True, each: Callable[[int, RDD], None] | None = None) -> RDD:
    """:func:`~distlib.compute.programs.rank_pages`'s loop, run by a driver that may act between
    iterations: ``iterations`` times :func:`~distlib.compute.programs.pagerank_step`, the new ranks
    cached when ``cache`` (the next iteration joins them, and a driver that runs an action per iteration
    would otherwise rebuild them from the shuffle), then ``each(i, ranks)`` (a count, a checkpoint, a
    crash)."""
    for i in range(iterations):
        ranks = programs.pagerank_step(links, ranks, partitions)
        if cache:
            ranks = ranks.cache()
        if each is not None:
            each(i, ranks)
    return ranks


def _pagerank(sc: Context, edges: list[programs.Edge], iterations: int, partitions: int,
              cache: bool) -> list[tuple[Any, float]]:
    links, ranks = programs.page_links(sc.parallelize(edges, partitions), cache, partitions)
    ranks = pagerank_loop(links, ranks, iterations, partitions, cache)
    return programs.rounded_ranks(ranks.collect())


def workload_program(name: str, seed: int = 0, size: int = 1,
                     cache: bool = True) -> tuple[dict[str, list[str]], Callable[[Context], Any], Any]:
    """The input files, the program (a function of the Context, returning a sorted result) and the
    plain-Python reference result of workload ``name``; ``size`` scales the input."""
    check_seed(seed)
    one_of("workload", name, WORKLOADS)
    if name == "wordcount":
        lines = programs.sample_lines(seed, 80 * size)
        return ({"input.txt": lines},
                lambda sc: sorted(programs.count_words(sc.textFile("input.txt", 4), 4).collect()),
                programs.reference_word_count(lines))
    if name == "join":
        customers, orders = programs.sample_tables(seed, 120 * size)
        return ({}, lambda sc: programs.join_example(sc, customers, orders, 3),
                programs.reference_join(customers, orders))
    edges = programs.sample_graph(seed, 24 * size, 48 * size)
    return {}, lambda sc: _pagerank(sc, edges, 3, 3, cache), programs.reference_pagerank(edges, 3)


@dataclass
class RDDRun:
    """One program run: its result, the reference, and the context (records, world) for the checkers."""
    seed: int
    workload: str
    sc: Context
    result: Any
    expected: Any
    error: str
    schedule: FaultSchedule
    broken: str | None

    @property
    def world(self) -> Any:
        """The simulated cluster's World (its trace), as every scenario result has."""
        return self.sc.world

    @property
    def outcome(self) -> str:
        return "failed" if self.error else "done"

    def check(self) -> list[str]:
        from distlib.check.rdd import check_rdd  # the checker sits a layer above
        return check_rdd(self)

    def summary(self) -> str:
        jobs = self.sc.jobs
        end = max((j.end or 0.0) for j in jobs) if jobs else 0.0
        rec = sum(len(j.recomputed()) for j in jobs)
        status = "error: " + self.error if self.error else ("ok" if not self.check() else "WRONG")
        broken = f", BROKEN {self.broken}" if self.broken else ""
        return (f"rdd seed {self.seed} {self.workload}{broken} on {self.sc.executors} executors: {status}; "
                f"{len(jobs)} jobs, done at t={end:.2f}s, {rec} map tasks re-run; "
                f"faults: {self.schedule.describe()}")


def run_rdd(seed: int = 0, *, workload: str = "wordcount", executors: int = 4, faults: Any = None,
            memory: int | None = None, broken: str | None = None, size: int = 1,
            locality_wait: float = 1.0, cache: bool = True) -> RDDRun:
    """Run ``workload`` (``size`` scales its input; ``cache``: PageRank caches links and ranks) on a
    fresh ``Context("sim")``."""
    files, program, expected = workload_program(workload, seed, size, cache)
    sc = Context("sim", executors=executors, seed=seed, faults=faults, memory=memory, broken=broken,
                 files=files, block_size=600, job_timeout=400.0, locality_wait=locality_wait)
    error = ""
    result: Any = None
    try:
        result = program(sc)
    except Exception as e:   # a failed job is a finding for the checker, not a crash of the sweep
        error = f"{type(e).__name__}: {e}"
    sched = sc._backend.schedule
    return RDDRun(seed, workload, sc, result, expected, error, sched, broken)


def random_rdd(seed: int, *, workload: str | None = None, broken: str | None = None) -> RDDRun:
    """A randomized run for sweeps (see the module docstring)."""
    check_seed(seed)
    rng = stream(seed, "rdd-sweep")
    wl = workload if workload is not None else rng.choice(WORKLOADS)
    n = rng.randint(3, 5)
    names = [f"e{i}" for i in range(1, n + 1)]
    memory = rng.choice((None, None, 8, 16))
    wait = rng.choice((1.0, 1.0, 0.0))      # 0: no delay scheduling, so cached data is fetched remotely
    horizon = {"wordcount": 2.0, "join": 1.0, "pagerank": 2.0}[wl]     # about a fault-free run
    faults = []
    stopped = False
    for _ in range(rng.randint(0, 3)):
        at = round(rng.uniform(0.0, horizon), 3)
        e = rng.choice(names)
        if n >= 4 and not stopped and rng.random() < 0.15:
            stopped = True
            faults.append(CrashFault(e, at, None))
        else:
            faults.append(CrashFault(e, at, round(at + rng.uniform(0.1, 3.0), 3)))
    # one crash at a time per executor: drop overlapping crashes of the same executor
    kept: list[CrashFault] = []
    for f in sorted(faults, key=lambda f: f.at):
        prev = [k for k in kept if k.node == f.node]
        if prev and (prev[-1].restart is None or prev[-1].restart >= f.at):
            continue
        kept.append(f)
    return run_rdd(seed, workload=wl, executors=n, faults=FaultSchedule(kept), memory=memory, broken=broken,
                   locality_wait=wait)


# ---- iterative jobs (RDD paper §6.1, Fig. 7) and recovery ------------------------------------------------
@dataclass
class Iterations:
    """Per-iteration simulated time and work of an iterative program (one action per iteration)."""
    program: str
    cache: bool
    times: list[float]
    tasks: list[int]
    # per iteration, tasks that re-ran a lost map output or rebuilt a cached partition that had been in
    # memory (crash or eviction); a partition that never fit is a cache miss, not counted (TaskRecord)
    recomputed: list[int]
    result: Any
    sc: Context

    def summary(self) -> str:
        ts = " ".join(f"{t:.2f}" for t in self.times)
        return (f"{self.program} ({'cache' if self.cache else 'no cache'}): seconds per iteration {ts}; "
                f"recomputed {sum(self.recomputed)} of {sum(self.tasks)} tasks")


def iterate(program: str = "lr", *, cache: bool = True, iterations: int = 6, executors: int = 4,
            seed: int = 0,
            crash: tuple[int, str] | None = None, checkpoint_every: int | None = None,
            memory: int | None = None, size: int = 1) -> Iterations:
    """Run logistic regression (``"lr"``) or PageRank (``"pagerank"``) on ``Context("sim")``, one action
    per iteration, and time each. ``crash=(k, executor)``: that executor crashes early in iteration k
    (and restarts); ``checkpoint_every``: PageRank checkpoints its ranks every that many iterations."""
    one_of("program", program, ("lr", "pagerank"))
    # lr: the points' text (52 kB per 1600) in blocks of about 160 points, one split each
    sc = Context("sim", executors=executors, seed=seed, memory=memory,
                 block_size=5300 if program == "lr" else 4000)
    parts = 2 * executors
    marks: list[int] = []

    def before(i: int) -> None:
        marks.append(len(sc.jobs))
        if crash is not None and crash[0] == i:
            sc.crash(crash[1], after=0.05, restart=0.5)

    if program == "lr":
        # programs.logistic_regression's steps, over points read from the DFS as text and parsed: the
        # first iteration pays the read and the parse, cached ones do not (§6.1, Fig. 7)
        pts = programs.sample_points(seed, 1600 * size)
        sc.writeFile("points.txt", [programs.format_point(p) for p in pts])
        data = sc.textFile("points.txt", parts).map(programs.parse_point)
        if cache:
            data = data.cache()
        w = programs.initial_w(pts)
        for i in range(iterations):
            before(i)
            w = programs.descend(data, w, len(pts))
        result: Any = programs.rounded(w)
    else:
        sc.setCheckpointDir("checkpoints")
        edges = programs.sample_graph(seed, 120 * size, 300 * size)
        links, ranks = programs.page_links(sc.parallelize(edges, parts), cache, parts)

        def each(i: int, ranks: RDD) -> None:
            before(i)
            if checkpoint_every and (i + 1) % checkpoint_every == 0:
                ranks.checkpoint()
            ranks.count()
        ranks = pagerank_loop(links, ranks, iterations, parts, cache, each)
        result = programs.rounded_ranks(ranks.collect())
    marks.append(len(sc.jobs))
    times, tasks, recomputed = [], [], []
    for a, b in zip(marks, marks[1:], strict=False):
        jobs = sc.jobs[a:b]
        times.append(sum(j.duration or 0.0 for j in jobs))
        tasks.append(sum(1 for j in jobs for t in j.tasks if t.outcome == "success"))
        recomputed.append(sum(len(j.recomputed()) for j in jobs))
    return Iterations(program, cache, times, tasks, recomputed, result, sc)
