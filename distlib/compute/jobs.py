"""The jobs shipped with chapter 09, their inputs, and the sequential reference every run is judged by.

A job is the user's part of MapReduce (Dean & Ghemawat, OSDI 2004, §2.1)::

    map(k1, v1)            -> list of (k2, v2)      here k1 = (path, line number), v1 = the line
    combiner(k2, [v2])     -> list of v2            optional, run on the map worker (§4.3)
    reduce(k2, [v2])       -> list of output records
    partitioner(k2, R)     -> region in 0..R-1      default: stable_hash(k2) mod R (§4.1)

The default partitioner is :func:`distlib.partitioning.hashing.stable_hash` mod R, never Python's
``hash()``: that one is salted per process, so two workers would send the same key to different
reducers. :func:`reference` runs a job sequentially (no splits, no partitions, no combiner); a
distributed run under any fault schedule must produce the same multiset of records.

The five jobs are the paper's examples (§2.3): word count, inverted index, distributed grep, sort
(§5.3; a range partitioner from sampled keys, as TeraSort does, so the regions concatenate in order)
and a reduce-side join.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distlib.partitioning.hashing import stable_hash
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import integer, one_of

MapFn = Callable[[tuple[str, int], str], Iterable[tuple[Any, Any]]]
ReduceFn = Callable[[Any, list], Iterable[Any]]
CombineFn = Callable[[Any, list], Iterable[Any]]
Partitioner = Callable[[Any, int], int]


def hash_partition(key: Any, regions: int) -> int:
    """The paper's default partitioning, ``hash(key) mod R``, with a hash that is the same in every
    process (BLAKE2b over the key's canonical bytes)."""
    return stable_hash(key) % regions


def sort_key(key: Any) -> tuple[str, Any]:
    """How reducers order keys (§4.2 ordering guarantee): by type name, then value, so a job whose keys
    mix ints and strings still sorts instead of raising TypeError."""
    return (type(key).__name__, key)


def record_size(record: Any) -> int:
    """Bytes a record takes on disk or on the wire (its text form plus a separator)."""
    return len(str(record)) + 1


def pairs_size(pairs: Iterable[tuple[Any, Any]]) -> int:
    return sum(len(str(k)) + len(str(v)) + 2 for k, v in pairs)


@dataclass(frozen=True)
class Job:
    """A MapReduce program: the user functions, and whether its output is globally sorted."""

    name: str
    map: MapFn
    reduce: ReduceFn
    combiner: CombineFn | None = None
    partitioner: Partitioner | None = None
    globally_sorted: bool = False        # regions concatenated in order are sorted (sort job)
    description: str = ""

    def partition(self, key: Any, regions: int) -> int:
        """The region of ``key``; a user partitioner's answer outside 0..R-1 is a ValueError."""
        part = self.partitioner or hash_partition
        r = part(key, regions)
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < regions:
            raise ValueError(f"partitioner must return a region in 0..{regions - 1} "
                             f"(got {r!r} for key {key!r})")
        return r

    def without_combiner(self) -> Job:
        return Job(self.name, self.map, self.reduce, None, self.partitioner, self.globally_sorted,
                   self.description)


def group(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[Any, list]]:
    """Sort pairs by key (stable: values keep their order) and group them: what a reducer does."""
    out: list[tuple[Any, list]] = []
    for k, v in sorted(pairs, key=lambda kv: sort_key(kv[0])):
        if out and out[-1][0] == k:
            out[-1][1].append(v)
        else:
            out.append((k, [v]))
    return out


def reference(job: Job, files: Mapping[str, Sequence[str]]) -> list[Any]:
    """The job run sequentially on one machine: map every line in input order, group by key, reduce
    each key in sorted order. No partitions, no combiner -- the answer a cluster must reproduce."""
    pairs: list[tuple[Any, Any]] = []
    for path, lines in files.items():
        for i, line in enumerate(lines):
            pairs.extend(job.map((path, i), line))
    out: list[Any] = []
    for k, vs in group(pairs):
        out.extend(job.reduce(k, vs))
    return out


# ---- the shipped jobs ----------------------------------------------------------------------------------
_WORD = re.compile(r"[a-z0-9']+")


def _words(line: str) -> list[str]:
    return _WORD.findall(line.lower())


def _wc_map(key: tuple[str, int], line: str) -> list[tuple[str, int]]:
    return [(w, 1) for w in _words(line)]


def _sum_values(key: Any, values: list) -> list[int]:
    return [sum(values)]


def _wc_reduce(key: str, counts: list) -> list[tuple[str, int]]:
    return [(key, sum(counts))]


def _ii_map(key: tuple[str, int], line: str) -> list[tuple[str, str]]:
    doc = key[0]
    return [(w, doc) for w in dict.fromkeys(_words(line))]


def _distinct_docs(key: str, docs: list) -> list[str]:
    return sorted(set(docs))   # a combiner for the inverted index: dedupe per map task


def _ii_reduce(key: str, docs: list) -> list[tuple[str, tuple[str, ...]]]:
    return [(key, tuple(sorted(set(docs))))]


def _grep_job(pattern: str) -> Job:
    try:
        rx = re.compile(pattern)
    except (re.error, TypeError) as e:
        raise ValueError(f"pattern must be a regular expression (got {pattern!r}: {e})") from None

    def grep_map(key: tuple[str, int], line: str) -> list[tuple[tuple[str, int], str]]:
        return [(key, line)] if rx.search(line) else []

    def grep_reduce(key: tuple[str, int], lines: list) -> list[tuple[str, int, str]]:
        return [(key[0], key[1], line) for line in lines]   # identity (§2.3)

    return Job("grep", grep_map, grep_reduce, description=f"distributed grep for {pattern!r}: lines that "
               "match, with file and line number; the reduce is the identity")


def _sort_map(key: tuple[str, int], line: str) -> list[tuple[str, str]]:
    k, _, payload = line.partition(" ")
    return [(k, payload)]


def _sort_reduce(key: str, payloads: list) -> list[tuple[str, str]]:
    return [(key, p) for p in payloads]


def range_partitioner(boundaries: Sequence[Any]) -> Partitioner:
    """Keys below ``boundaries[0]`` go to region 0, ..., keys >= ``boundaries[-1]`` to the last one;
    with R regions there are R-1 boundaries, so concatenating the regions keeps keys sorted."""
    bounds = [sort_key(b) for b in boundaries]

    def partition(key: Any, regions: int) -> int:
        return min(bisect_right(bounds, sort_key(key)), regions - 1)
    return partition


def sample_boundaries(files: Mapping[str, Sequence[str]], regions: int, seed: int,
                      samples: int = 100) -> list[str]:
    """R-1 split points from a seeded sample of the input's keys (TeraSort's sampler): the quantiles of
    the sample, so each region gets about 1/R of the keys."""
    keys = [_sort_map(("", 0), line)[0][0] for lines in files.values() for line in lines]
    rng = stream(seed, "sort-sample")
    sample = sorted(rng.sample(keys, min(samples, len(keys))), key=sort_key)
    return [sample[(i * len(sample)) // regions] for i in range(1, regions)]


def _join_map(key: tuple[str, int], line: str) -> list[tuple[str, tuple]]:
    fields = line.split(",")
    if key[0].startswith("customers"):
        cid, name = fields
        return [(cid, ("C", name))]
    oid, cid, amount = fields
    return [(cid, ("O", oid, int(amount)))]


def _join_reduce(key: str, tagged: list) -> list[tuple[str, str, str, int]]:
    names = [t[1] for t in tagged if t[0] == "C"]
    orders = [t for t in tagged if t[0] == "O"]
    return [(key, name, oid, amount) for name in names for _, oid, amount in sorted(orders)]


JOB_NAMES = ("wordcount", "invindex", "grep", "sort", "join")


def build_job(name: str, *, files: Mapping[str, Sequence[str]] | None = None, reduces: int = 1, seed: int = 0,
              combiner: bool = True, pattern: str = "error") -> Job:
    """The shipped job ``name``; ``sort`` samples ``files`` for its range partitioner (``reduces`` regions),
    ``grep`` searches for ``pattern``; ``combiner=False`` drops the job's combiner."""
    one_of("job", name, JOB_NAMES)
    if name == "wordcount":
        job = Job("wordcount", _wc_map, _wc_reduce, _sum_values,
                  description="word count: (word, 1) per word; the combiner sums on the map worker")
    elif name == "invindex":
        job = Job("invindex", _ii_map, _ii_reduce, _distinct_docs,
                  description="inverted index: word -> sorted tuple of files containing it")
    elif name == "grep":
        job = _grep_job(pattern)
    elif name == "sort":
        if files is None:
            raise ValueError("files must be given for the sort job (its partitioner samples them)")
        check_seed(seed)
        bounds = sample_boundaries(files, integer("reduces", reduces, 1), seed)
        job = Job("sort", _sort_map, _sort_reduce, partitioner=range_partitioner(bounds),
                  globally_sorted=True,
                  description=f"sort by key with a range partitioner from sampled keys (boundaries {bounds})")
    else:
        job = Job("join", _join_map, _join_reduce,
                  description="reduce-side join of orders with customers on the customer id")
    return job if combiner else job.without_combiner()


# ---- inputs -------------------------------------------------------------------------------------------
_VOCAB = ("the of and to a in is it that for on was with as error at by this warn from be or have "
          "not are an disk node map reduce master worker shuffle block replica task rename crash").split()


def sample_input(job: str, seed: int = 0, lines: int = 120) -> dict[str, list[str]]:
    """A deterministic input for ``job`` with about ``lines`` lines in total: Zipf-like text in three
    documents (wordcount, invindex, grep), ``key payload`` records (sort), or customers and orders (join)."""
    one_of("job", job, JOB_NAMES)
    check_seed(seed)
    integer("lines", lines, 1)
    rng = stream(seed, f"input/{job}")
    if job == "sort":
        letters = "abcdefghijklmnopqrstuvwxyz"
        keys = ["".join(rng.choice(letters) for _ in range(6)) for _ in range(lines)]
        return {"records.txt": [f"{k} r{i}" for i, k in enumerate(keys)]}
    if job == "join":
        customers = max(1, lines // 4)
        orders = max(1, lines - customers)
        names = ("ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal")
        cs = [f"c{i},{names[i % len(names)]}" for i in range(customers)]
        os_ = [f"o{i},c{rng.randrange(customers + 2)},{rng.randint(1, 99)}" for i in range(orders)]
        return {"customers.csv": cs, "orders.csv": os_}
    weights = [1.0 / (i + 1) for i in range(len(_VOCAB))]
    docs = 3 if lines >= 3 else lines
    out: dict[str, list[str]] = {}
    for d in range(docs):
        n = lines // docs + (1 if d < lines % docs else 0)
        out[f"doc{d + 1}.txt"] = [" ".join(rng.choices(_VOCAB, weights, k=rng.randint(3, 9)))
                                  for _ in range(n)]
    return out
