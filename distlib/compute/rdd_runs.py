"""Runs of small RDD programs on the simulated cluster under executor crashes, for the checkers and sweeps.

Three workloads, each with a plain-Python reference: ``wordcount`` (textFile, flatMap, reduceByKey),
``join`` (two pair RDDs joined, then counted per key) and ``pagerank`` (the RDD paper's §3.2.2
PageRank, 3 iterations, the links co-partitioned with the ranks and cached). :func:`random_rdd`
draws a workload, 3-5 executors, maybe a small executor memory (so LRU eviction happens) and 0-3
executor crashes at any moment, each restarted (at most one crash-stop with 4 or more executors).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlib.sim import CrashFault, FaultSchedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import one_of

from .rdd import Context

WORKLOADS = ("wordcount", "join", "pagerank")


def _add(a: Any, b: Any) -> Any:
    return a + b


def sample_text(seed: int, lines: int = 200) -> list[str]:
    rng = stream(seed, "rdd-text")
    words = [f"w{i}" for i in range(40)]
    return [" ".join(rng.choice(words[: rng.randint(5, 40)]) for _ in range(rng.randint(1, 8)))
            for _ in range(lines)]


def sample_graph(seed: int, pages: int = 30) -> list[tuple[str, str]]:
    rng = stream(seed, "rdd-graph")
    edges = set()
    for p in range(pages):
        for _ in range(rng.randint(1, 4)):
            q = rng.randrange(pages)
            if q != p:
                edges.add((f"p{p}", f"p{q}"))
    return sorted(edges)


def wordcount(sc: Context, path: str, partitions: int = 4) -> list[tuple[str, int]]:
    words = sc.textFile(path, partitions).flatMap(str.split).map(lambda w: (w, 1))
    return sorted(words.reduceByKey(_add, partitions).collect())


def wordcount_reference(lines: list[str]) -> list[tuple[str, int]]:
    return sorted(Counter(w for line in lines for w in line.split()).items())


def join(sc: Context, left: list, right: list, partitions: int = 3) -> list:
    a = sc.parallelize(left, partitions)
    b = sc.parallelize(right, partitions + 1)
    return sorted(a.join(b, partitions).map(lambda kv: (kv[0], kv[1][0] * kv[1][1]))
                  .reduceByKey(_add).collect())


def join_reference(left: list, right: list) -> list:
    out: Counter = Counter()
    for k, x in left:
        for k2, y in right:
            if k == k2:
                out[k] += x * y
    return sorted(out.items())


def pagerank(sc: Context, edges: list[tuple[str, str]], iterations: int = 3, partitions: int = 3,
             cache: bool = True) -> list[tuple[str, float]]:
    """RDD paper §3.2.2: links grouped and hash-partitioned once (and cached); each iteration joins
    them with the ranks (co-partitioned: no shuffle of links) and sums the contributions."""
    links = sc.parallelize(edges, partitions).groupByKey(partitions)
    if cache:
        links = links.cache()
    ranks = links.mapValues(lambda _: 1.0)
    for _ in range(iterations):
        contribs = links.join(ranks).flatMap(
            lambda kv: [(dst, kv[1][1] / len(kv[1][0])) for dst in kv[1][0]])
        ranks = contribs.reduceByKey(_add, partitions).mapValues(lambda r: 0.15 + 0.85 * r)
        if cache:
            ranks = ranks.cache()
    return sorted(ranks.collect())


def pagerank_reference(edges: list[tuple[str, str]], iterations: int = 3) -> list[tuple[str, float]]:
    links: dict[str, list[str]] = {}
    for s, d in edges:
        links.setdefault(s, []).append(d)
    ranks = {s: 1.0 for s in links}
    for _ in range(iterations):
        contribs: dict[str, float] = {}
        for s, dsts in links.items():
            if s in ranks:            # the join keeps pages that have links AND a rank
                for d in dsts:
                    contribs[d] = contribs.get(d, 0.0) + ranks[s] / len(dsts)
        ranks = {k: 0.15 + 0.85 * v for k, v in contribs.items()}
    return sorted(ranks.items())


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
            locality_wait: float = 1.0) -> RDDRun:
    """Run ``workload`` (``size`` scales its input) on a fresh ``Context("sim")``."""
    check_seed(seed)
    one_of("workload", workload, WORKLOADS)
    lines = sample_text(seed, 120 * size)
    sc = Context("sim", executors=executors, seed=seed, faults=faults, memory=memory, broken=broken,
                 files={"input.txt": lines}, block_size=600, job_timeout=400.0, locality_wait=locality_wait)
    error = ""
    result: Any = None
    if workload == "wordcount":
        expected: Any = wordcount_reference(lines)
        program: Callable[[], Any] = lambda: wordcount(sc, "input.txt")
    elif workload == "join":
        rng = stream(seed, "rdd-join")
        left = [(f"k{rng.randrange(12)}", rng.randint(1, 9)) for _ in range(40 * size)]
        right = [(f"k{rng.randrange(15)}", rng.randint(1, 9)) for _ in range(30 * size)]
        expected = join_reference(left, right)
        program = lambda: join(sc, left, right)
    else:
        edges = sample_graph(seed, 24 * size)
        expected = pagerank_reference(edges)
        program = lambda: pagerank(sc, edges)
    try:
        result = program()
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
    horizon = {"wordcount": 3.0, "join": 1.0, "pagerank": 2.0}[wl]     # about a fault-free run
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
def lr_points(seed: int, n: int = 400, dims: int = 3) -> list[str]:
    """Labelled points ``"y x1 .. xd"`` with y = +-1, roughly separable by a random hyperplane."""
    rng = stream(seed, "rdd-lr")
    w = [rng.uniform(-1, 1) for _ in range(dims)]
    out = []
    for _ in range(n):
        x = [rng.uniform(-1, 1) for _ in range(dims)]
        y = 1 if sum(a * b for a, b in zip(w, x, strict=True)) + rng.gauss(0, 0.1) > 0 else -1
        out.append(" ".join([str(y)] + [f"{v:.4f}" for v in x]))
    return out


def _parse_point(line: str) -> tuple[float, list[float]]:
    y, *x = line.split()
    return float(y), [float(v) for v in x]


def logistic_regression(sc: Context, path: str, iterations: int = 10, cache: bool = True,
                        partitions: int | None = None,
                        before: Callable[[int], None] | None = None) -> list[float]:
    """RDD paper §3.2.1: points parsed once (and cached), then one ``map``/``reduce`` job per
    iteration computing the gradient. ``before(i)`` runs before iteration i's job (to inject a crash)."""
    import math
    points = sc.textFile(path, partitions).map(_parse_point)
    if cache:
        points = points.cache()
    dims = len(points.first()[1])
    w = [0.0] * dims
    for i in range(iterations):
        if before is not None:
            before(i)
        cur = list(w)

        def grad(p: tuple[float, list[float]], cur: list[float] = cur) -> list[float]:
            y, x = p
            s = (1.0 / (1.0 + math.exp(-y * sum(a * b for a, b in zip(cur, x, strict=True)))) - 1.0) * y
            return [s * v for v in x]
        g = points.map(grad).reduce(lambda a, b: [u + v for u, v in zip(a, b, strict=True)])
        w = [a - b for a, b in zip(w, g, strict=True)]
    return w


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
    sc = Context("sim", executors=executors, seed=seed, memory=memory, block_size=4000)
    marks: list[int] = []

    def before(i: int) -> None:
        marks.append(len(sc.jobs))
        if crash is not None and crash[0] == i:
            sc.crash(crash[1], after=0.05, restart=0.5)

    if program == "lr":
        sc.writeFile("points.txt", lr_points(seed, 1600 * size))
        result: Any = logistic_regression(sc, "points.txt", iterations, cache, 2 * executors, before)
    else:
        sc.setCheckpointDir("checkpoints")
        edges = sample_graph(seed, 120 * size)
        parts = 2 * executors
        links = sc.parallelize(edges, parts).groupByKey(parts)
        if cache:
            links = links.cache()
        ranks = links.mapValues(lambda _: 1.0)
        for i in range(iterations):
            before(i)
            contribs = links.join(ranks).flatMap(
                lambda kv: [(dst, kv[1][1] / len(kv[1][0])) for dst in kv[1][0]])
            ranks = contribs.reduceByKey(_add, parts).mapValues(lambda r: 0.15 + 0.85 * r)
            if cache:
                ranks = ranks.cache()
            if checkpoint_every and (i + 1) % checkpoint_every == 0:
                ranks.checkpoint()
            ranks.count()
        result = sorted(ranks.collect())
    marks.append(len(sc.jobs))
    times, tasks, recomputed = [], [], []
    for a, b in zip(marks, marks[1:], strict=False):
        jobs = sc.jobs[a:b]
        times.append(sum(j.duration or 0.0 for j in jobs))
        tasks.append(sum(1 for j in jobs for t in j.tasks if t.outcome == "success"))
        recomputed.append(sum(len(j.recomputed()) for j in jobs))
    return Iterations(program, cache, times, tasks, recomputed, result, sc)
