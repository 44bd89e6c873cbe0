"""Checks for the chapter 10 (Spark-style RDDs) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message naming the rule the
answer broke (Zaharia et al., NSDI 2012: §4 narrow and wide dependencies, §5.1 stages, §5.1 and §2.1
recovery of lost partitions, §5.3 caching) and prints a "right: ..." line otherwise. Expected answers come
from the library itself, after the learner's function has returned, on every case of a small generated
domain (smallest first): the dependencies and stages of RDDs built with :mod:`distlib.compute.rdd`, the
partitions the simulated cluster really recomputes after a crash, and the computations counted in real
local-mode runs with the learner's choice of ``cache()``.

The callables that answer the exercises are protected (:mod:`distlib.grading.guard`): this module's
references, the DAG scheduler's stage builder (``DAG.result_stage``/``all_stages``/``parents``/
``shuffle_stage``, ``narrow_rdds``) and the lineage analysis of :mod:`distlib.viz.rdd_view`
(``lineage``). What stays open, by design: the chapter's own tools (``toDebugString``, the figures,
``rdd.dependencies``) -- an answer that builds the RDDs and reads them did the experiment the chapter
teaches; counting ``toDebugString``'s ``+-`` lines is a recorded wrong answer (it counts a shared parent
once per path).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from operator import add
from typing import Any

from distlib.compute import rdd_scheduler
from distlib.compute.rdd import Context
from distlib.compute.rdd_scheduler import DAG
from distlib.grading import guard
from distlib.viz import rdd_view

from .feedback import Raised, differential, exercise, outcome
from .feedback import fail as _fail

NARROW, WIDE = "narrow", "wide"


def _show(value: Any) -> str:
    text = f"raised {value.exc}: {value.message}" if isinstance(value, Raised) else f"returned {value!r}"
    return text if len(text) <= 400 else text[:397] + "..."


def _callable(fn: Any, what: str) -> None:
    if not callable(fn):
        _fail(f"{what} must be a function (got {type(fn).__name__} {fn!r}).")


def _pairs(sc: Context, partitions: int, hashed: bool) -> Any:
    rdd = sc.parallelize([(k, k) for k in range(6)], partitions)
    return rdd.partitionBy(partitions) if hashed else rdd


def _reaches(result: Any, target: Any) -> str:
    """How ``result`` depends on ``target``: "wide" if a path between them crosses a shuffle."""
    kinds: set[str] = set()

    def walk(r: Any, wide: bool) -> None:
        if r is target:
            kinds.add(WIDE if wide else NARROW)
            return
        for d in r.dependencies:
            walk(d.rdd, wide or d.wide)
    walk(result, False)
    return WIDE if WIDE in kinds else NARROW


# ---- rdd-narrow-wide: the dependency of a transformation on each input (§4, Fig. 4) ------------------------
UNARY = ("map", "filter", "mapValues", "reduceByKey", "groupByKey", "partitionBy")
BINARY = ("union", "join")
TAKES_N = ("reduceByKey", "groupByKey", "partitionBy", "join")
Case1 = tuple[str, list[tuple[int, bool]], Any]


def _apply(op: str, rdds: list[Any], n: int | None) -> Any:
    a = rdds[0]
    if op == "map":
        return a.map(lambda kv: kv)
    if op == "filter":
        return a.filter(lambda kv: True)
    if op == "mapValues":
        return a.mapValues(lambda v: v)
    if op == "reduceByKey":
        return a.reduceByKey(add, n)
    if op == "groupByKey":
        return a.groupByKey(n)
    if op == "partitionBy":
        return a.partitionBy(n)
    if op == "union":
        return a.union(rdds[1])
    return a.join(rdds[1], n)


def reference_dependencies(op: str, inputs: list[tuple[int, bool]], numPartitions: int | None) -> list[str]:
    """What the library builds: for each input, "wide" if the result reaches it through a shuffle."""
    sc = Context("local")
    rdds = [_pairs(sc, p, hashed) for p, hashed in inputs]
    result = _apply(op, rdds, numPartitions)
    return [_reaches(result, r) for r in rdds]


def _dep_cases() -> list[Case1]:
    shapes = [(p, h) for p in (2, 3) for h in (False, True)]
    cases: list[Case1] = []
    for op in UNARY + BINARY:
        # a join always gets numPartitions: its default differs between engines (Scala Spark keeps the left
        # input's partitioner, PySpark joins into both inputs' partitions together)
        ns = (2, 3) if op == "join" else (None, 2, 3) if op in TAKES_N else (None,)
        inputs = [[s] for s in shapes] if op in UNARY else [[a, b] for a in shapes for b in shapes]
        for n in ns:
            for inp in inputs:
                cases.append((op, inp, n))
    cases.sort(key=lambda c: (len(c[1]), UNARY.index(c[0]) if c[0] in UNARY else 9, c[2] or 0))
    return cases


def _allowed_dependencies(case: Case1) -> list[list[str]]:
    op, inputs, n = case
    want = reference_dependencies(op, inputs, n)
    allowed = [want]
    (p, hashed), = inputs if len(inputs) == 1 else [(0, False)]
    if op in ("reduceByKey", "groupByKey") and hashed and n in (None, p):
        allowed.append([NARROW])       # PySpark skips this shuffle (the input is partitioned that way)
    return allowed


def _dep_mistakes() -> list[tuple[Callable[[Case1], Any], str]]:
    def ref(c: Case1) -> list[str]:
        return reference_dependencies(*c)

    def join_always_wide(c: Case1) -> list[str]:
        return [WIDE, WIDE] if c[0] == "join" else ref(c)

    def join_narrow_if_hashed(c: Case1) -> list[str]:
        return [NARROW if h else WIDE for _p, h in c[1]] if c[0] == "join" else ref(c)

    def keyed_is_wide(c: Case1) -> list[str]:
        return [WIDE] if c[0] == "mapValues" else ref(c)

    def union_wide(c: Case1) -> list[str]:
        return [WIDE, WIDE] if c[0] == "union" else ref(c)

    def by_name(c: Case1) -> list[str]:
        wide = c[0] in ("reduceByKey", "groupByKey", "partitionBy", "join")
        return [WIDE if wide else NARROW] * len(c[1])

    return [
        (join_always_wide, "a join of inputs that are already hash-partitioned the way the join partitions "
                           "its output reads partition i of each input: a narrow dependency (Fig. 4, "
                           "'join with inputs co-partitioned')"),
        (join_narrow_if_hashed, "being hash-partitioned is not enough: the input must be partitioned like "
                                "the join's output -- the same number of partitions"),
        (by_name, "the operation's name does not decide it: a join of co-partitioned inputs is narrow, and "
                  "partitionBy of an input already partitioned that way moves nothing"),
        (keyed_is_wide, "mapValues keeps every record in its partition (it cannot change a key): narrow"),
        (union_wide, "union only lists the parents' partitions one after the other: narrow"),
    ]


@exercise("rdd-narrow-wide")
def check_dependencies(dependencies: Callable[[str, list, Any], Any]) -> None:
    """Exercise rdd-narrow-wide: narrow or wide per input, on every op x input partitioning x
    numPartitions (the expected answer is read from RDDs the library builds)."""
    _callable(dependencies, "dependencies")
    n = differential(
        _dep_cases(), lambda c: outcome(dependencies, c[0], c[1], c[2]), _allowed_dependencies,
        lambda c, got: f"dependencies({c[0]!r}, {c[1]!r}, {c[2]!r}) {_show(got)}",
        lambda c, got: ("return one 'narrow' or 'wide' per input: wide when a partition of the result may "
                        "need records from several partitions of that input (a shuffle)"),
        mistakes=_dep_mistakes())
    print(f"right: your classification matches the dependencies the library builds in all {n} cases "
          "(every operation, input partitioning and numPartitions).")


# ---- rdd-stages: how many stages a first action runs (§5.1, Fig. 5) ----------------------------------------
Step = tuple[Any, ...]
STAGE_OPS = ("map", "mapValues", "reduceByKey", "union", "join")


def build_program(sc: Context, program: Sequence[Step]) -> list[Any]:
    """The RDDs of ``program`` (each step refers to earlier steps by index)."""
    rdds: list[Any] = []
    for step in program:
        op = step[0]
        if op == "parallelize":
            rdds.append(sc.parallelize([(k % 4, k) for k in range(8)], step[1]))
        elif op == "map":
            rdds.append(rdds[step[1]].map(lambda kv: kv))
        elif op == "mapValues":
            rdds.append(rdds[step[1]].mapValues(lambda v: v))
        elif op == "reduceByKey":
            rdds.append(rdds[step[1]].reduceByKey(add))
        elif op == "union":
            rdds.append(rdds[step[1]].union(rdds[step[2]]))
        elif op == "join":
            rdds.append(rdds[step[1]].join(rdds[step[2]], step[3]))
        else:
            raise ValueError(f"unknown step {step!r}")
    return rdds


def reference_stages(program: Sequence[Step]) -> int:
    """Stages of a first action on the last step: the library's DAG scheduler, on the built RDDs."""
    rdd = build_program(Context("local"), program)[-1]
    dag = DAG()
    return len(dag.all_stages(dag.result_stage(rdd)))


def _stage_cases() -> list[list[Step]]:
    out: list[list[Step]] = []

    def grow(prog: list[Step], left: int) -> None:
        out.append(list(prog))
        if left == 0:
            return
        k = len(prog)
        options: list[Step] = [("parallelize", 3)]
        options += [(op, i) for op in ("map", "mapValues", "reduceByKey") for i in range(k)]
        options += [("union", i, j) for i in range(k) for j in range(k)]
        options += [("join", i, j, n) for i in range(k) for j in range(k) for n in (2, 3)]
        for step in options:
            grow(prog + [step], left - 1)
    grow([("parallelize", 2)], 3)
    out.sort(key=len)
    return out


def _reachable(program: Sequence[Step]) -> list[int]:
    seen: list[int] = []

    def walk(i: int) -> None:
        if i in seen:
            return
        seen.append(i)
        for j in program[i][1:3] if program[i][0] != "parallelize" else ():
            walk(j)
    walk(len(program) - 1)
    return sorted(seen)


def _stage_mistakes() -> list[tuple[Callable[[list[Step]], Any], str]]:
    def per_path(program: list[Step]) -> int:        # toDebugString's +- lines, plus one
        rdd = build_program(Context("local"), program)[-1]

        def walk(r: Any) -> int:
            return sum((1 if d.wide else 0) + walk(d.rdd) for d in r.dependencies)
        return 1 + walk(rdd)

    def per_op(program: list[Step], join_shuffles: int = 1) -> int:
        used = _reachable(program)
        return 1 + sum(1 for i in used if program[i][0] == "reduceByKey") + join_shuffles * sum(
            1 for i in used if program[i][0] == "join")

    def all_steps(program: list[Step]) -> int:
        return 1 + sum(1 for s in program if s[0] in ("reduceByKey",)) + 2 * sum(1 for s in program
                                                                               if s[0] == "join")

    return [
        (lambda p: reference_stages(p) - 1, "the action's own stage (the result stage) counts too"),
        (per_path, "a shuffle shared by two paths of the lineage (an RDD used twice) is one stage, run once: "
                   "counting toDebugString's '+-' lines counts it once per path"),
        (per_op, "a join of two co-partitioned inputs adds no stage, and a join of inputs that are not "
                 "partitioned alike shuffles each side that is not"),
        (lambda p: per_op(p, 2), "a join shuffles only the inputs that are not already partitioned like its "
                                 "output (Fig. 5: B's side of the join is narrow)"),
        (all_steps, "only the steps the last RDD depends on run; the others are never computed"),
    ]


def _program_text(program: Sequence[Step]) -> str:
    return "[" + ", ".join(repr(s) for s in program) + "]"


@exercise("rdd-stages")
def check_stages(count_stages: Callable[[list], Any]) -> None:
    """Exercise rdd-stages: the number of stages of a first action, on every program of up to 3 steps
    after a parallelize (the expected answer is the library's DAG scheduler on the built RDDs)."""
    _callable(count_stages, "count_stages")
    n = differential(
        _stage_cases(), lambda p: outcome(count_stages, p), lambda p: [reference_stages(p)],
        lambda p, got: f"count_stages({_program_text(p)}) {_show(got)}",
        lambda p, got: ("one stage per shuffle dependency in the lineage (each counted once) plus the result "
                        "stage; a join reads an input co-partitioned with its output without a shuffle"),
        mistakes=_stage_mistakes())
    print(f"right: your count matches the library's DAG scheduler on all {n} programs.")


# ---- rdd-lost: which partitions are recomputed after an executor crash (§5.1) ------------------------------
Case3 = tuple[list[str], list[str], str]
EXECUTORS = ("e1", "e2", "e3")


def reference_recomputed(map_on: list[str], cached_on: list[str], dead: str) -> tuple[list[int], list[int]]:
    """The cached partitions that lived on ``dead``; and, only if there are some (they are rebuilt from the
    shuffle, and every reduce partition needs every map output), the map partitions whose shuffle output
    lived on ``dead``. A cached RDD that survived whole does not need its parent stage at all."""
    lost_cached = [r for r, e in enumerate(cached_on) if e == dead]
    lost_maps = [m for m, e in enumerate(map_on) if e == dead] if lost_cached else []
    return lost_maps, lost_cached


def _lost_cases() -> list[Case3]:
    cases: list[Case3] = []
    for m, r in sorted(itertools.product((1, 2, 3), repeat=2), key=sum):
        for map_on in itertools.product(EXECUTORS, repeat=m):
            for cached_on in itertools.product(EXECUTORS, repeat=r):
                for dead in EXECUTORS:
                    cases.append((list(map_on), list(cached_on), dead))
    return cases


def _lost_mistakes() -> list[tuple[Callable[[Case3], Any], str]]:
    def only_cache(c: Case3) -> Any:
        return [], reference_recomputed(*c)[1]

    def always_maps(c: Case3) -> Any:
        return [m for m, e in enumerate(c[0]) if e == c[2]], reference_recomputed(*c)[1]

    def all_maps(c: Case3) -> Any:
        lost = reference_recomputed(*c)[1]
        return (list(range(len(c[0]))) if lost else []), lost

    def everything(c: Case3) -> Any:
        lost = reference_recomputed(*c)[1]
        return (list(range(len(c[0]))), list(range(len(c[1])))) if lost else ([], [])

    return [
        (only_cache, "a lost cached partition is rebuilt from the shuffle, and the shuffle outputs that were "
                     "on the dead executor are gone too: those map partitions must run again first"),
        (always_maps, "when no cached partition was lost, the job reads the cached RDD whole and never needs "
                      "the shuffle below it: no map task runs"),
        (all_maps, "only the map outputs that were on the dead executor are missing; the others are still on "
                   "their executors' disks (fine-grained recovery: recompute exactly the lost partitions)"),
        (everything, "lineage recovers exactly the lost partitions, not the whole RDD"),
    ]


def _sim_scenarios() -> list[tuple[int, int, int, str]]:
    return [(0, 3, 3, "e1"), (0, 4, 2, "e2"), (1, 2, 4, "e3"), (2, 3, 3, "e2")]


def sim_recomputed(seed: int, maps: int, reduces: int,
                   dead: str) -> tuple[Case3, tuple[list[int], list[int]]]:
    """Run the exercise's program on the simulated cluster: ``counts`` cached, ``dead`` crashes before the
    second action. Returns the placement before the crash and what the second job really recomputed."""
    sc = Context("sim", executors=3, seed=seed)
    counts = (sc.parallelize([(k % 7, 1) for k in range(60)], maps).map(lambda kv: kv)
              .reduceByKey(add, reduces).cache())
    counts.collect()
    driver = sc._backend.driver
    outputs = driver.outputs[max(driver.outputs)]
    map_on = [o[0] for o in outputs]
    cached_on = [driver.cache_locs[(counts.id, r)][0][0] for r in range(reduces)]
    sc.crash(dead, after=0.0)
    counts.map(lambda kv: kv).collect()
    job = sc.jobs[-1]
    again = sorted(t.partition for t in job.tasks if t.kind == "shuffle-map" and t.outcome == "success")
    rebuilt = sorted({k[1] for t in job.tasks if t.outcome == "success"
                      for k in t.computed if k[0] == counts.id})
    return (map_on, cached_on, dead), (again, rebuilt)


@exercise("rdd-lost")
def check_recomputed(recomputed: Callable[[list, list, str], Any]) -> None:
    """Exercise rdd-lost: on every placement of 1-3 map outputs and 1-3 cached partitions on 3 executors and
    every dead executor; then on placements from the simulated cluster, against what it really re-ran."""
    _callable(recomputed, "recomputed")

    def answer(c: Case3) -> Any:
        got = outcome(recomputed, c[0], c[1], c[2])
        return tuple(got) if type(got) is list and len(got) == 2 else got   # a [maps, cached] list is fine

    n = differential(
        _lost_cases(), answer, lambda c: [reference_recomputed(*c)],
        lambda c, got: (f"with map outputs on {c[0]}, counts' cached partitions on {c[1]} and {c[2]} dead, "
                        f"recomputed {_show(got)}"),
        lambda c, got: ("return (sorted map partitions, sorted cached partitions) that the next job runs "
                        "again"),
        mistakes=_lost_mistakes())
    for seed, maps, reduces, dead in _sim_scenarios():
        case, really = sim_recomputed(seed, maps, reduces, dead)
        got = answer(case)
        if got != really:
            _fail(f"on the simulated cluster (map outputs on {case[0]}, cached partitions on {case[1]}, "
                  f"{dead} crashed) the second job re-ran map partitions {really[0]} and rebuilt cached "
                  f"partitions {really[1]}; your function {_show(got)}")
    print(f"right: your answer is exact on all {n} placements and matches what the simulated cluster "
          f"re-ran in {len(_sim_scenarios())} crash runs.")


# ---- rdd-cache: where to put cache() (§3.2, §5.3) ----------------------------------------------------------
Case4 = tuple[list[str], list[int]]


def model_computations(steps: Sequence[str], actions: Sequence[int], cached: Sequence[int],
                       reuse_shuffles: bool = True) -> dict[int, int]:
    """How often each step of a chain is computed over the jobs (one job per action, on all
    partitions): a job stops at a cached step already in memory, and above a shuffle whose map output a
    previous job wrote (the library skips that stage)."""
    count = dict.fromkeys(range(len(steps)), 0)
    in_memory: set[int] = set()
    shuffled: set[int] = set()

    def compute(i: int) -> None:
        if i in cached and i in in_memory:
            return
        count[i] += 1
        if steps[i] == "reduceByKey":
            if not (reuse_shuffles and i in shuffled):
                compute(i - 1)
                shuffled.add(i)
        elif i > 0:
            compute(i - 1)
        if i in cached:
            in_memory.add(i)
    for a in actions:
        compute(a)
    return count


def reference_cache(steps: Sequence[str], actions: Sequence[int]) -> list[list[int]]:
    """Every smallest set of steps whose cache() makes each step computed at most once (sorted lists)."""
    best: list[list[int]] = []
    for size in range(len(steps) + 1):
        for subset in itertools.combinations(range(len(steps)), size):
            if max(model_computations(steps, actions, subset).values()) <= 1:
                best.append(list(subset))
        if best:
            return best
    return best


def _cache_cases() -> list[Case4]:
    cases: list[Case4] = []
    for n in (1, 2, 3):
        for ops in itertools.product(("map", "reduceByKey"), repeat=n):
            steps = ["source", *ops]
            for k in (2, 3):
                for actions in itertools.product(range(n + 1), repeat=k):
                    cases.append((steps, list(actions)))
    return cases


def run_computations(steps: Sequence[str], actions: Sequence[int], cached: Sequence[int]) -> dict[int, int]:
    """The same chain run for real (local mode): each step counts its partitions as it computes them.
    Returns the largest count per step over its partitions."""
    sc = Context("local")
    seen: dict[tuple[int, int], int] = {}

    def counter(i: int) -> Callable:
        def f(p: int, it: Any) -> Any:
            seen[(i, p)] = seen.get((i, p), 0) + 1
            return it
        return f
    rdds: list[Any] = []
    for i, op in enumerate(steps):
        if op == "source":
            r = sc.parallelize([(k % 3, k) for k in range(12)], 2).mapPartitionsWithIndex(counter(i), True)
        elif op == "map":
            r = rdds[-1].mapPartitionsWithIndex(counter(i), True)
        else:
            r = rdds[-1].reduceByKey(add, 2).mapPartitionsWithIndex(counter(i), True)
        if i in cached:
            r = r.cache()
        rdds.append(r)
    for a in actions:
        rdds[a].collect()
    return {i: max((c for (j, _p), c in seen.items() if j == i), default=0) for i in range(len(steps))}


def _cache_mistakes() -> list[tuple[Callable[[Case4], Any], str]]:
    def reused_targets(c: Case4) -> Any:
        return sorted(set(c[1][:-1]))

    def source(c: Case4) -> Any:
        return [] if reference_cache(*c) == [[]] else [0]

    def every_recomputed(c: Case4) -> Any:
        counts = model_computations(c[0], c[1], ())
        return [i for i, k in counts.items() if k > 1]

    def no_shuffle_reuse(c: Case4) -> Any:
        best: list[int] | None = None
        for size in range(len(c[0]) + 1):
            for subset in itertools.combinations(range(len(c[0])), size):
                if max(model_computations(c[0], c[1], subset, reuse_shuffles=False).values()) <= 1:
                    best = list(subset)
                    break
            if best is not None:
                return best
        return best

    return [
        (lambda c: [], "an RDD used by two actions is computed by both unless it is cached"),
        (source, "caching the input saves reading it, but every transformation above it still runs again "
                 "in every job: cache the RDD the later jobs reuse"),
        (reused_targets, "what matters is what a later job would compute again, not which RDDs the actions "
                         "ran on"),
        (every_recomputed, "one cached RDD stops a later job from walking further down the lineage: the "
                           "steps below it need no cache of their own"),
        (no_shuffle_reuse, "a later job does not re-run a shuffle's map side while its output files "
                           "still exist (the stage is skipped): only the steps above the shuffle are "
                           "computed again"),
    ]


@exercise("rdd-cache")
def check_cache(where_to_cache: Callable[[list, list], Any]) -> None:
    """Exercise rdd-cache: the smallest set of steps to cache so that no step is computed twice, on every
    chain of 1-3 map/reduceByKey steps with 2-3 actions; each answer is also run for real (local mode)."""
    _callable(where_to_cache, "where_to_cache")
    cases = _cache_cases()
    answers: dict[int, Any] = {}

    def answer(c: Case4) -> Any:
        got = outcome(where_to_cache, c[0], c[1])
        answers[id(c)] = got
        return got

    n = differential(
        cases, answer, lambda c: reference_cache(*c),
        lambda c, got: f"where_to_cache({c[0]!r}, {c[1]!r}) {_show(got)}",
        lambda c, got: ("return the sorted list of the fewest steps whose cache() makes every step computed "
                        "at most once over all the actions"),
        mistakes=_cache_mistakes())
    for c in cases[:: max(1, len(cases) // 60)]:
        counts = run_computations(c[0], c[1], answers[id(c)])
        if max(counts.values()) > 1:
            _fail(f"run for real with cache() on steps {answers[id(c)]}, the chain {c[0]} with actions on "
                  f"{c[1]} computed a step {max(counts.values())} times ({counts})")
    print(f"right: your choice is a smallest sufficient cache() on all {n} programs, and real runs compute "
          "no step twice.")


guard.protect("rdd-narrow-wide", reference_dependencies, _allowed_dependencies)
guard.protect("rdd-stages", reference_stages, (DAG, "result_stage"), (DAG, "all_stages"), (DAG, "parents"),
              (DAG, "shuffle_stage"), rdd_scheduler.narrow_rdds, rdd_view.lineage)
guard.protect("rdd-lost", reference_recomputed, sim_recomputed)
guard.protect("rdd-cache", reference_cache, model_computations)
