"""The RDD programs shipped with chapter 10, written once against the PySpark RDD API.

Every program takes a context ``sc`` -- a PySpark ``SparkContext`` (``local_session().sparkContext``,
:mod:`distlib.compute.spark`) or a :class:`distlib.compute.rdd.Context` (local or simulated) -- and plain
Python data, and returns a plain, sorted result that compares equal across engines. Only the calls both
engines share are used: ``parallelize(data, numSlices)``, ``map``, ``flatMap``, ``mapPartitions``,
``mapValues``, ``distinct``, ``reduceByKey``, ``groupByKey`` (these three with ``numPartitions``, None
for the engine's default), ``join``, ``cache``, ``collect``, ``reduce``.

Each program is a function of RDDs (:func:`count_words`, :func:`rank_pages`; on a cluster their input
comes from ``sc.textFile``, see ``distlib/compute/spark_app.py``) with a wrapper taking driver-side data.
The iterative ones are built from one step (:func:`pagerank_step`, :func:`descend`), so a driver that
wants an action per iteration (``distlib.compute.rdd_runs.iterate``) runs the very same code. The crash
sweeps and the chapter's simulated runs (:mod:`distlib.compute.rdd_runs`) run these programs too, with
their ``partitions`` argument (``numPartitions`` of the shuffles: the RDD paper's co-partitioned
PageRank, §3.2.2) and their input from ``textFile``.

* :func:`word_count` -- ``flatMap`` words, ``(w, 1)``, ``reduceByKey``: one shuffle.
* :func:`pagerank` -- the RDD paper's §3.2.2 and Spark's ``examples/src/main/python/pagerank.py``:
  ``links`` (distinct edges grouped by source, cached), ranks start at 1.0, each iteration joins links
  with ranks, sends ``rank / out-degree`` along every link (``flatMap``), sums per page
  (``reduceByKey``) and damps (``mapValues(0.15 + 0.85 * x)``). As in Spark's example, a page nobody
  links to drops out after the first iteration (it receives no contribution).
* :func:`join_example` -- an inner join of two pair RDDs (chapter 09's customers and orders).
* :func:`logistic_regression` -- the RDD paper's §3.2.1: ``points`` cached, a fixed initial ``w``, and
  per iteration one ``map`` + ``reduce`` computing the gradient on the executors.
* :func:`mapreduce` -- any chapter 09 :class:`~distlib.compute.jobs.Job` as an RDD job (map with
  ``flatMap``, the combiner on each map partition, ``groupByKey``, reduce with ``flatMap``); with
  ``build_job("wordcount")`` it is chapter 09's word count, same tokenizer, same words.

Floats: Spark, our engine and the plain-Python references add the same terms in different orders
(partition boundaries, shuffle fetch order), and float addition is not associative: results differ in
the last bits (about 1e-16 relative per sum). Every float a program returns is rounded to ``DIGITS``
= 9 decimal places; two values a few ulps apart round apart only when they straddle a rounding
boundary, about a 1e-6 chance per value, and the inputs here are fixed, so a test either always passes
or always fails.

Each ``reference_*`` function computes the same answer in plain Python (a dict, no RDDs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import add
from typing import Any

from distlib.compute.jobs import Job, group, sample_input, sort_key

# chapter 09's tokenizer: both chapters count the same words
from distlib.compute.jobs import _words as words
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import integer, number

DIGITS = 9
DAMPING = 0.85

Edge = tuple[Any, Any]
Point = tuple[float, tuple[float, ...]]     # (label y in {-1, +1}, features x)


def _partitions(partitions: int) -> int:
    return integer("partitions", partitions, 1)


def _shuffle(partitions: int | None) -> int | None:
    """``numPartitions`` of a shuffle: None leaves the engine's default."""
    return None if partitions is None else _partitions(partitions)


# ---- word count --------------------------------------------------------------------------------------
def count_words(lines: Any, partitions: int | None = None) -> Any:
    """The program itself, from an RDD of lines (``sc.textFile(path)`` on a cluster) to the lazy RDD of
    ``(word, count)`` pairs: one shuffle, into ``partitions`` partitions (None: as many as ``lines``)."""
    return lines.flatMap(words).map(lambda w: (w, 1)).reduceByKey(add, _shuffle(partitions))


def word_count_rdd(sc: Any, lines: Sequence[str], partitions: int = 2) -> Any:
    """:func:`count_words` over ``lines`` from the driver (nothing runs yet)."""
    p = _partitions(partitions)
    return count_words(sc.parallelize(list(lines), p))


def word_count(sc: Any, lines: Sequence[str], partitions: int = 2) -> list[tuple[str, int]]:
    """``[(word, count)]`` sorted by word."""
    return sorted(word_count_rdd(sc, lines, partitions).collect())


def reference_word_count(lines: Iterable[str]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for line in lines:
        for w in words(line):
            counts[w] = counts.get(w, 0) + 1
    return sorted(counts.items())


# ---- PageRank ----------------------------------------------------------------------------------------
def _contributions(urls: Iterable[Any], rank: float) -> Iterator[tuple[Any, float]]:
    urls = list(urls)                  # a PySpark ResultIterable or our list: iterate once
    for url in urls:
        yield url, rank / len(urls)


def page_links(edges: Any, cache: bool = True, partitions: int | None = None) -> tuple[Any, Any]:
    """PageRank's start, from an RDD of directed edges ``(src, dst)``: ``links`` (distinct edges grouped by
    source, hash-partitioned into ``partitions``) and the initial ``ranks`` (1.0 for every source)."""
    n = _shuffle(partitions)
    links = edges.distinct(n).groupByKey(n)
    if cache:
        links = links.cache()          # reused by every iteration's join: the paper's point
    ranks = links.map(lambda url_neighbors: (url_neighbors[0], 1.0))
    return links, ranks


def pagerank_step(links: Any, ranks: Any, partitions: int | None = None) -> Any:
    """One iteration: join links with ranks (links' partitioning is kept: they are not shuffled), send
    ``rank / out-degree`` along every link, sum per page and damp. Returns the new lazy ``ranks``."""
    contribs = links.join(ranks).flatMap(lambda kv: _contributions(kv[1][0], kv[1][1]))
    sums = contribs.reduceByKey(add, _shuffle(partitions))
    return sums.mapValues(lambda rank: (1 - DAMPING) + DAMPING * rank)


def rank_pages(edges: Any, iterations: int, cache: bool = True, partitions: int | None = None) -> Any:
    """The program itself, from an RDD of directed edges ``(src, dst)`` to the lazy RDD of
    ``(page, rank)`` after ``iterations`` iterations of :func:`pagerank_step`."""
    integer("iterations", iterations, 1)
    links, ranks = page_links(edges, cache, partitions)
    for _ in range(iterations):
        ranks = pagerank_step(links, ranks, partitions)
    return ranks


def pagerank_rdd(sc: Any, edges: Sequence[Edge], iterations: int, cache: bool = True,
                 partitions: int = 2) -> Any:
    """:func:`rank_pages` over ``edges`` from the driver (nothing runs yet)."""
    integer("iterations", iterations, 1)
    p = _partitions(partitions)
    return rank_pages(sc.parallelize(list(edges), p), iterations, cache)


def pagerank(sc: Any, edges: Sequence[Edge], iterations: int, cache: bool = True,
             partitions: int = 2) -> list[tuple[Any, float]]:
    """``[(page, rank)]`` sorted by page, ranks rounded to ``DIGITS`` places."""
    return rounded_ranks(pagerank_rdd(sc, edges, iterations, cache, partitions).collect())


def rounded_ranks(ranks: Iterable[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """``[(page, rank)]`` sorted by page, ranks rounded to ``DIGITS`` places: what every engine agrees on."""
    return sorted((page, round(rank, DIGITS)) for page, rank in ranks)


def reference_pagerank(edges: Iterable[Edge], iterations: int) -> list[tuple[Any, float]]:
    integer("iterations", iterations, 1)
    links: dict[Any, list[Any]] = {}
    for src, dst in dict.fromkeys(edges):          # distinct, in first-seen order
        links.setdefault(src, []).append(dst)
    ranks = {page: 1.0 for page in links}
    for _ in range(iterations):
        sums: dict[Any, float] = {}
        for src, dsts in links.items():
            if src in ranks:                        # the join: only pages that have a rank send
                for dst in dsts:
                    sums[dst] = sums.get(dst, 0.0) + ranks[src] / len(dsts)
        ranks = {page: (1 - DAMPING) + DAMPING * s for page, s in sums.items()}
    return rounded_ranks(ranks.items())


# ---- join --------------------------------------------------------------------------------------------
def join_example(sc: Any, left: Sequence[tuple[Any, Any]], right: Sequence[tuple[Any, Any]],
                 partitions: int = 2) -> list[tuple[Any, tuple[Any, Any]]]:
    """Inner join: ``[(key, (left value, right value))]`` for every matching pair, sorted."""
    p = _partitions(partitions)
    return sorted(sc.parallelize(list(left), p).join(sc.parallelize(list(right), p)).collect())


def reference_join(left: Iterable[tuple[Any, Any]],
                   right: Iterable[tuple[Any, Any]]) -> list[tuple[Any, tuple[Any, Any]]]:
    by_key: dict[Any, list[Any]] = {}
    for k, w in right:
        by_key.setdefault(k, []).append(w)
    return sorted((k, (v, w)) for k, v in left for w in by_key.get(k, ()))


# ---- logistic regression -----------------------------------------------------------------------------
def _sigmoid(z: float) -> float:
    # Two forms so that exp never overflows, whatever w grows to.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _gradient(point: Point, w: tuple[float, ...]) -> tuple[float, ...]:
    y, x = point
    scale = (_sigmoid(y * sum(wi * xi for wi, xi in zip(w, x, strict=True))) - 1.0) * y
    return tuple(scale * xi for xi in x)


def _vector_add(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(ai + bi for ai, bi in zip(a, b, strict=True))


def initial_w(points: Sequence[Point]) -> tuple[float, ...]:
    """The starting ``w``: zeros. The paper starts from a random w; a fixed one keeps every engine on the
    same path."""
    return tuple(0.0 for _ in _check_points(points)[0][1])


def rounded(w: Iterable[float]) -> tuple[float, ...]:
    """``w`` rounded to ``DIGITS`` places: what every engine agrees on (see the module docstring)."""
    return tuple(round(wi, DIGITS) for wi in w)


def parse_point(line: str) -> Point:
    """A point from its text form ``"y x1 .. xd"`` (:func:`format_point`), for ``sc.textFile`` input."""
    y, *x = line.split()
    return float(y), tuple(float(v) for v in x)


def format_point(point: Point) -> str:
    """The text form of a point; ``repr`` of a float reads back exactly, so parsing changes nothing."""
    return " ".join(repr(v) for v in (point[0], *point[1]))


def descend(points: Any, w: tuple[float, ...], n: int, step: float = 1.0) -> tuple[float, ...]:
    """One iteration over the RDD ``points`` (``n`` of them): one ``map`` + ``reduce`` job sums the
    gradient on the executors, then ``w -= step * gradient / n`` (the paper subtracts the summed
    gradient; dividing by n keeps one step size right for any n)."""
    # w=w: bind this iteration's w into the closure (a recomputation later must not see a newer w).
    gradient = points.map(lambda p, w=w: _gradient(p, w)).reduce(_vector_add)
    return tuple(wi - step * gi / n for wi, gi in zip(w, gradient, strict=True))


def _check_points(points: Sequence[Point]) -> list[Point]:
    points = list(points)
    if not points:
        raise ValueError("points must be a non-empty list of (y, x) pairs (got [])")
    return points


def logistic_regression(sc: Any, points: Sequence[Point], iterations: int, cache: bool = True,
                        partitions: int = 2, step: float = 1.0) -> tuple[float, ...]:
    """Gradient descent on the logistic loss, ``iterations`` steps of :func:`descend`. Returns the final
    ``w`` rounded to ``DIGITS`` places."""
    integer("iterations", iterations, 1)
    number("step", step, 0.0, above=True)
    pts = _check_points(points)
    p = _partitions(partitions)
    data = sc.parallelize(pts, p)
    if cache:
        data = data.cache()            # read by every iteration
    w = initial_w(pts)
    for _ in range(iterations):
        w = descend(data, w, len(pts), step)
    return rounded(w)


def reference_logistic_regression(points: Sequence[Point], iterations: int,
                                  step: float = 1.0) -> tuple[float, ...]:
    integer("iterations", iterations, 1)
    pts = _check_points(points)
    w = initial_w(pts)
    for _ in range(iterations):
        gradient = tuple(0.0 for _ in w)
        for p in pts:
            gradient = _vector_add(gradient, _gradient(p, w))
        w = tuple(wi - step * gi / len(pts) for wi, gi in zip(w, gradient, strict=True))
    return rounded(w)


# ---- chapter 09's jobs on RDDs -----------------------------------------------------------------------
def _combine(job: Job, pairs: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
    """The combiner on one map partition, as a MapReduce map worker runs it (Dean & Ghemawat §4.3)."""
    for k, vs in group(pairs):
        for v in job.combiner(k, vs):   # type: ignore[misc]
            yield k, v


def mapreduce(sc: Any, job: Job, files: Mapping[str, Sequence[str]], partitions: int = 2) -> list[Any]:
    """A chapter 09 job as an RDD program: records ``((path, line number), line)``, the job's map as a
    ``flatMap``, its combiner per partition (``mapPartitions``), ``groupByKey`` as the shuffle, its
    reduce as a ``flatMap``. Output records sorted (by :func:`~distlib.compute.jobs.sort_key`), comparable
    with ``sorted(jobs.reference(job, files), key=sort_key)``."""
    p = _partitions(partitions)
    records = [((path, i), line) for path, lines in files.items() for i, line in enumerate(lines)]
    pairs = sc.parallelize(records, p).flatMap(lambda r: job.map(r[0], r[1]))
    if job.combiner is not None:
        pairs = pairs.mapPartitions(lambda it: _combine(job, it))
    out = pairs.groupByKey().flatMap(lambda kv: job.reduce(kv[0], list(kv[1])))
    return sorted(out.collect(), key=sort_key)


# ---- inputs ------------------------------------------------------------------------------------------
def sample_lines(seed: int = 0, lines: int = 120) -> list[str]:
    """Chapter 09's word-count text (Zipf-like over a small vocabulary), its documents concatenated."""
    return [line for doc in sample_input("wordcount", seed, lines).values() for line in doc]


def sample_graph(seed: int = 0, pages: int = 20, links: int = 60) -> list[Edge]:
    """``links`` random directed edges ``("p3", "p7")`` between ``pages`` pages (duplicates possible:
    the program's ``distinct`` removes them); every page links somewhere."""
    check_seed(seed)
    integer("pages", pages, 2)
    integer("links", links, 1)
    rng = stream(seed, "pagerank-graph")
    names = [f"p{i}" for i in range(pages)]
    edges = [(n, rng.choice([m for m in names if m != n])) for n in names]
    edges += [tuple(rng.sample(names, 2)) for _ in range(max(0, links - pages))]
    return edges  # type: ignore[return-value]


def sample_points(seed: int = 0, n: int = 200, dims: int = 3) -> list[Point]:
    """``n`` labelled points: features uniform in [-1, 1], label the sign of a fixed hyperplane with
    10 % of the labels flipped (so the data is not separable and w stays finite)."""
    check_seed(seed)
    integer("n", n, 1)
    integer("dims", dims, 1)
    rng = stream(seed, "logreg-points")
    true_w = [1.0 + i for i in range(dims)]
    out: list[Point] = []
    for _ in range(n):
        x = tuple(round(rng.uniform(-1, 1), 6) for _ in range(dims))
        y = 1.0 if sum(a * b for a, b in zip(true_w, x, strict=True)) >= 0 else -1.0
        out.append((-y if rng.random() < 0.1 else y, x))
    return out


def sample_tables(seed: int = 0, lines: int = 40) -> tuple[list[tuple[str, str]], list[tuple[str, tuple]]]:
    """Chapter 09's join input as pair lists: customers ``(cid, name)`` and orders ``(cid, (oid, amount))``
    (some orders name a customer who does not exist: the inner join drops them)."""
    files = sample_input("join", seed, lines)
    customers = [tuple(line.split(",")) for line in files["customers.csv"]]
    orders = []
    for line in files["orders.csv"]:
        oid, cid, amount = line.split(",")
        orders.append((cid, (oid, int(amount))))
    return customers, orders  # type: ignore[return-value]
