"""Checks for the chapter 09 (MapReduce) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message naming the rule the
answer broke (Dean & Ghemawat 2004: §2 the programming model, §3.3 re-execution and atomic rename, §4.3
the combiner) and prints a "right: ..." line otherwise. Expected answers are computed from the rules
after the learner's function has returned, on every case of a small generated domain (smallest first)
plus seeded random ones, and then by running the simulated cluster with the learner's code plugged in:
the learner's map and reduce inside the workers, the learner's re-execution rule inside the master.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from distlib.compute import jobs as jobs_mod
from distlib.compute.jobs import Job, reference
from distlib.compute.mapreduce import Master, run_mapreduce
from distlib.grading import guard

from .feedback import Raised, call, check_schedule, differential, exercise, first_failure, outcome
from .feedback import fail as _fail

SEED = 2004          # the paper's year: the seeded random cases are the same on every run


def _show(value: Any) -> str:
    text = f"raised {value.exc}: {value.message}" if isinstance(value, Raised) else f"returned {value!r}"
    return text if len(text) <= 400 else text[:397] + "..."


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _callable(fn: Any, what: str) -> None:
    if not callable(fn):
        _fail(f"{what} must be a function (got {type(fn).__name__} {fn!r}).")


# ---- mr-invindex: map and reduce of an inverted index -------------------------------------------------
VOCAB = ("ant", "bee", "cat", "dog", "elk")
DOCS = ("b.txt", "a.txt", "c.txt")          # b before a: an answer that does not sort shows it


def reference_index(files: dict[str, list[str]]) -> list[tuple[str, tuple[str, ...]]]:
    """The inverted index of ``files``: every word (split on whitespace) with the sorted tuple of the
    distinct documents that contain it, in word order."""
    where: dict[str, set[str]] = {}
    for doc, lines in files.items():
        for line in lines:
            for word in line.split():
                where.setdefault(word, set()).add(doc)
    return [(w, tuple(sorted(where[w]))) for w in sorted(where)]


def _index_cases() -> list[dict[str, list[str]]]:
    """Hand-made small corpora (one word, a repeated word, two documents, ...), then 60 seeded random
    ones of 1-3 documents with 1-3 lines of 1-4 words."""
    cases: list[dict[str, list[str]]] = [
        {"a.txt": ["ant"]},
        {"a.txt": ["ant bee"]},
        {"a.txt": ["ant ant"]},
        {"a.txt": ["ant", "ant bee"]},
        {"b.txt": ["cat"], "a.txt": ["cat"]},
        {"b.txt": ["ant bee"], "a.txt": ["bee cat"]},
        {"b.txt": ["dog dog", "dog"], "a.txt": ["dog elk"], "c.txt": ["elk"]},
        # words are what line.split() gives: case and punctuation are part of them (red team: answers
        # that lowercased or stripped punctuation passed while every case was lower-case letters)
        {"a.txt": ["The the"]},
        {"a.txt": ["cat. cat"], "b.txt": ["(cat)"]},
        {"b.txt": ["Ant ant", "ANT"], "a.txt": ["ant!"]},
    ]
    rng = random.Random(SEED)
    for _ in range(60):
        docs = DOCS[:rng.randint(1, 3)]
        cases.append({d: [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(1, 4)))
                          for _ in range(rng.randint(1, 3))] for d in docs})
    return cases


def _index_mistakes() -> list[tuple[Callable[[dict], Any], str]]:
    def via(map_fn: Callable, reduce_fn: Callable) -> Callable[[dict], Any]:
        return lambda files: reference(Job("m", map_fn, reduce_fn), files)

    def per_word(key: tuple[str, int], line: str) -> list[tuple[str, str]]:
        return [(w, key[0]) for w in line.split()]

    def per_line(key: tuple[str, int], line: str) -> list[tuple[str, Any]]:
        return [(w, key) for w in line.split()]

    return [
        (via(per_word, lambda w, docs: [(w, tuple(sorted(docs)))]),
         "a document that contains a word twice is listed twice: keep each document once (a set, or "
         "dict.fromkeys, in map or in reduce)"),
        (via(per_word, lambda w, docs: [(w, tuple(dict.fromkeys(docs)))]),
         "the documents come out in the order the reducer received them, not sorted: sort them"),
        (via(per_word, lambda w, docs: [(w, sorted(set(docs)))]),
         "the documents must be a tuple, not a list (records are immutable values)"),
        (via(per_word, lambda w, docs: [(w, len(set(docs)))]),
         "that counts the documents; the index lists them"),
        (via(per_line, lambda w, docs: [(w, tuple(sorted(set(docs))))]),
         "map's key is (document, line number): emit the document key[0], not the whole key"),
    ]


@exercise("mr-invindex")
def check_invindex(index_map: Callable[[tuple[str, int], str], Any],
                   index_reduce: Callable[[str, list], Any]) -> None:
    """Exercise mr-invindex: the inverted index's map and reduce, run sequentially on 67 generated corpora,
    then in the cluster with a worker crash."""
    _callable(index_map, "index_map")
    _callable(index_reduce, "index_reduce")
    job = Job("invindex", index_map, index_reduce)
    cases = _index_cases()
    n = differential(
        cases, lambda files: outcome(lambda: reference(job, copy.deepcopy(files))),
        lambda files: [reference_index(files)],
        lambda files, got: f"on the input {_short(files)} your map and reduce {_show(got)}",
        lambda files, got: ("each output record is (word, sorted tuple of the distinct documents containing "
                            "it), one per word"),
        mistakes=_index_mistakes())
    rng = random.Random(SEED + 1)
    files = {d: [" ".join(rng.choice(VOCAB + ("fox", "gnu")) for _ in range(rng.randint(2, 6)))
                 for _ in range(12)] for d in DOCS}
    want = Counter(reference_index(files))
    for faults in (None, "crash w2 at 0.6 restart 2"):
        run = outcome(lambda faults=faults: run_mapreduce(1, job=job, files=files, maps=6, reduces=3,
                                                       faults=faults))
        if isinstance(run, Raised):
            _fail(f"running your job in the cluster raised {run.exc}")
        got = Counter(run.records())
        if run.status != "done" or got != want:
            why = run.error or (f"{sum((want - got).values())} records missing, "
                                f"{sum((got - want).values())} extra")
            _fail(f"in the cluster (M=6, R=3, faults: {faults or 'none'}) your job ended {run.status}: "
                  f"{why}. The reduce of one word must not depend on which map task or reduce task saw it")
    print(f"right: your index agrees with the definition on all {n} corpora, and in the cluster (M=6, R=3, "
          "with and without a crash) it produces the same index.")


# ---- mr-combiner: the mean, with a combiner -----------------------------------------------------------
def temps_map(key: tuple[str, int], line: str) -> list[tuple[str, tuple[int, int]]]:
    """The exercise's map: a line "city,temperature" -> (city, (temperature, 1))."""
    city, temp = line.split(",")
    return [(city, (int(temp), 1))]


def reference_mean_combine(city: str, values: list) -> list[tuple[int, int]]:
    """Sums and counts are associative and commutative: combine them, divide only at the end."""
    return [(sum(t for t, _ in values), sum(c for _, c in values))]


def reference_mean_reduce(city: str, values: list) -> list[tuple[str, float]]:
    total, count = reference_mean_combine(city, values)[0]
    return [(city, total / count)]


TEMPS = ([5], [1, 2], [2, 4], [1, 2, 9], [-2, 7, 7], [3, 3, 4, 10], [0, 1, 0, 5])


def _compositions(values: Sequence[Any]) -> list[list[list[Any]]]:
    """Every split of ``values`` into consecutive non-empty groups."""
    out = []
    n = len(values)
    for cuts in itertools.product((False, True), repeat=max(n - 1, 0)):
        groups, start = [], 0
        for i, cut in enumerate(cuts, 1):
            if cut:
                groups.append(list(values[start:i]))
                start = i
        groups.append(list(values[start:]))
        out.append(groups)
    return out


def _combiner_cases() -> list[tuple[list[int], list[list[int]], str]]:
    """(temperatures in arrival order, how they are split among map tasks, how often the combiner ran);
    every order and every split of each list, smallest first."""
    cases = []
    for temps in TEMPS:
        for order in dict.fromkeys(itertools.permutations(temps)):
            for groups in _compositions(order):
                for mode in ("none", "once", "twice"):
                    cases.append((list(order), groups, mode))
    return cases


def _story(case: tuple) -> str:
    temps, groups, mode = case
    how = {"none": "the combiner did not run (it may not: it is an optimisation)",
           "once": "the combiner ran once on each map task's values",
           "twice": "the combiner ran on each map task's values, then again on its own outputs"}[mode]
    return f"temperatures {temps} seen by {len(groups)} map task(s) as {groups}; {how}"


def _pipeline(case: tuple, combine: Callable, reduce_fn: Callable, learner: bool) -> Any:
    """What the reduce task returns for this case; a combiner returning other than one value fails."""
    temps, groups, mode = case
    fn_c = (lambda *a: call(combine, *copy.deepcopy(a))) if learner else combine
    fn_r = (lambda *a: call(reduce_fn, *copy.deepcopy(a))) if learner else reduce_fn
    pairs = [[(t, 1) for t in g] for g in groups]
    if mode == "none":
        return fn_r("oslo", [p for g in pairs for p in g])
    parts = []
    for g in pairs:
        out = fn_c("oslo", g)
        if learner and (type(out) not in (list, tuple) or len(out) != 1):
            _fail(f"{_story(case)}: mean_combine('oslo', {g}) returned {_short(out)}. A combiner combines: "
                  "return a list with ONE value standing for all the values it was given")
        parts.extend(out)
    if mode == "twice":
        again = fn_c("oslo", parts)
        if learner and (type(again) not in (list, tuple) or len(again) != 1):
            _fail(f"{_story(case)}: combining your combiner's outputs {parts} returned {_short(again)}: "
                  "return a list with ONE value")
        parts = list(again)
    return fn_r("oslo", parts)


def _close_mean(got: Any, temps: list[int], city: str = "oslo") -> bool:
    if type(got) not in (list, tuple) or len(got) != 1 or type(got[0]) is not tuple or len(got[0]) != 2:
        return False
    name, mean = got[0]
    return (name == city and type(mean) in (int, float) and math.isfinite(mean)
            and abs(Fraction(mean) - Fraction(sum(temps), len(temps))) <= Fraction(1, 10**9))


def _why_mean(case: tuple, got: Any) -> str:
    temps, groups, mode = case
    if type(got) not in (list, tuple) or len(got) != 1 or type(got[0]) is not tuple or len(got[0]) != 2:
        return "mean_reduce must return a list with one record (city, mean)"
    mean = got[0][1]
    means = [sum(g) / len(g) for g in groups]
    if mode != "none" and len(groups) > 1 and type(mean) in (int, float) and math.isclose(
            mean, sum(means) / len(means)):
        return (f"that is the mean of the map tasks' means {means}: averaging averages weighs a map task "
                "with one value like one with many. Combine sums and counts; divide only in the reduce")
    if type(mean) is int:
        return "integer division: the mean of 1 and 2 is 1.5"
    return ("the mean is the sum of all temperatures divided by their number, however the values were split "
            "and combined")


@exercise("mr-combiner")
def check_combiner(mean_combine: Callable[[str, list], Any], mean_reduce: Callable[[str, list], Any]) -> None:
    """Exercise mr-combiner: the mean temperature per city with a combiner, on every order and split of the
    values with the combiner run 0, 1 or 2 times; then in the cluster with the combiner on and off."""
    _callable(mean_combine, "mean_combine")
    _callable(mean_reduce, "mean_reduce")

    def judge(case: tuple) -> str | None:
        got = _pipeline(case, mean_combine, mean_reduce, learner=True)
        if _close_mean(got, case[0]):
            return None
        return (f"{_story(case)}: your reduce returned {_short(got)}, but the mean of {case[0]} is "
                f"{sum(case[0]) / len(case[0])!r}: {_why_mean(case, got)}")

    n = first_failure(_combiner_cases(), judge)
    rng = random.Random(SEED + 2)
    cities = ("oslo", "lima", "kyiv", "pune")
    lines = [f"{rng.choice(cities)},{rng.randint(-10, 35)}" for _ in range(90)]
    files = {"temps.csv": lines}
    sums: dict[str, list[int]] = {}
    for line in lines:
        city, t = line.split(",")
        sums.setdefault(city, []).append(int(t))
    for combiner in (True, False):
        job = Job("mean", temps_map, mean_reduce, mean_combine)
        run = outcome(lambda job=job, combiner=combiner: run_mapreduce(2, job=job, files=files, maps=6,
                                                                    reduces=2, combiner=combiner))
        if isinstance(run, Raised):
            _fail(f"running your job in the cluster (combiner {'on' if combiner else 'off'}) raised "
                  f"{run.exc}")
        got = {rec[0]: rec[1] for rec in run.records() if type(rec) is tuple and len(rec) == 2}
        bad = [c for c in sorted(sums) if c not in got or not _close_mean([(c, got[c])], sums[c], c)]
        if run.status != "done" or bad:
            _fail(f"in the cluster (M=6, R=2, combiner {'on' if combiner else 'off'}) the job ended "
                  f"{run.status}{': ' + run.error if run.error else ''}; wrong means for {bad}")
    print(f"right: your combiner and reduce give the exact mean on all {n} orders, splits and combiner runs, "
          "and in the cluster with the combiner on and off.")


# ---- mr-reexec: what runs again when a worker fails ---------------------------------------------------
def reference_reexecute(tasks: list[dict], failed: str) -> list[tuple[str, int]]:
    """§3.3: the failed worker's in-progress tasks (map or reduce) and its COMPLETED map tasks (their
    output was on its local disk) go back to idle; completed reduce tasks do not (their output is in the
    global file system). Sorted."""
    out = []
    for t in tasks:
        if t["worker"] != failed:
            continue
        if t["state"] == "in-progress" or (t["state"] == "completed" and t["kind"] == "map"):
            out.append((t["kind"], t["index"]))
    return sorted(out)


def _allowed_reexecute(case: tuple[list[dict], str]) -> list[list[tuple[str, int]]]:
    tasks, failed = case
    rule = reference_reexecute(tasks, failed)
    if all(t["state"] == "completed" for t in tasks if t["kind"] == "reduce"):
        # every reduce task is done: nobody will fetch the lost map output, so re-running it is allowed
        # but not needed (the library skips it)
        completed_maps = {t["index"] for t in tasks if t["kind"] == "map" and t["state"] == "completed"}
        lean = [x for x in rule if not (x[0] == "map" and x[1] in completed_maps)]
        return [rule, lean] if lean != rule else [rule]
    return [rule]


STATES = ((None, "idle"), ("w1", "in-progress"), ("w2", "in-progress"), ("w1", "completed"),
          ("w2", "completed"))


def _reexec_cases() -> list[tuple[list[dict], str]]:
    """Every task table with 1-2 map and 1-2 reduce tasks, each task idle, in progress or completed on w1
    or w2, and either worker failing (1,800 cases), smallest first; then worker names sharing a prefix."""
    cases = []
    for m, r in ((1, 1), (1, 2), (2, 1), (2, 2)):
        kinds = [("map", i) for i in range(m)] + [("reduce", j) for j in range(r)]
        for states in itertools.product(STATES, repeat=len(kinds)):
            tasks = [{"kind": k, "index": i, "state": s, "worker": w}
                     for (k, i), (w, s) in zip(kinds, states, strict=True)]
            for failed in ("w1", "w2"):
                cases.append((tasks, failed))
    # worker names that share a prefix (w1, w10): the failed worker's tasks, not every name containing it
    for kind in ("map", "reduce"):
        for state in ("in-progress", "completed"):
            for on, failed in (("w10", "w1"), ("w1", "w10"), ("w11", "w1")):
                cases.append(([{"kind": kind, "index": 0, "state": state, "worker": on},
                               {"kind": "map" if kind == "reduce" else "reduce", "index": 0,
                                "state": "completed", "worker": failed}], failed))
    return cases


def _canonical(got: Any) -> Any:
    """A list/tuple/set of (kind, index) pairs, sorted; anything else as it is (it will not match)."""
    if type(got) in (list, tuple, set, frozenset) and all(type(x) is tuple and len(x) == 2 for x in got):
        try:
            return sorted(got)
        except TypeError:
            return got
    return got


def _table(tasks: list[dict]) -> str:
    return ", ".join(f"{t['kind']} {t['index']} {t['state']}" + (f" on {t['worker']}" if t["worker"] else "")
                     for t in tasks)


def _reexec_mistakes() -> list[tuple[Callable, str]]:
    def only_in_progress(case: tuple) -> list:
        tasks, failed = case
        return sorted((t["kind"], t["index"]) for t in tasks if t["worker"] == failed
                      and t["state"] == "in-progress")

    def everything_of_worker(case: tuple) -> list:
        tasks, failed = case
        return sorted((t["kind"], t["index"]) for t in tasks if t["worker"] == failed)

    def only_completed_maps(case: tuple) -> list:
        tasks, failed = case
        return sorted((t["kind"], t["index"]) for t in tasks if t["worker"] == failed
                      and t["state"] == "completed" and t["kind"] == "map")

    def all_in_progress(case: tuple) -> list:
        tasks, failed = case
        return sorted((t["kind"], t["index"]) for t in tasks if t["state"] == "in-progress"
                      or (t["worker"] == failed and t["state"] == "completed" and t["kind"] == "map"))

    return [
        (only_in_progress, "a completed map task's output is on the failed worker's LOCAL disk, which is "
                           "gone: its completed map tasks must run again (the reducers still need their "
                           "regions)"),
        (everything_of_worker, "a completed reduce task's output is already in the global file system "
                               "(renamed into place): it is never re-run"),
        (only_completed_maps, "the tasks the worker was running when it failed will never finish: put them "
                              "back to idle too"),
        (all_in_progress, "only the failed worker's tasks are affected; the other workers keep running "
                          "theirs"),
    ]


class _LearnerMaster(Master):
    """A master that asks the learner's rule which tasks to reset when a worker fails (§3.3)."""

    rule: Callable[[list[dict], str], Any] | None = None     # the learner's function, set per check

    def _worker_failed(self, w: str, why: str) -> None:
        ws = self.workers[w]
        ws.alive, ws.running = False, None
        self._event(f"worker {w} (incarnation {ws.inc}) failed: {why}")
        attempts = self.storage["attempts"]
        table, by_key = [], {}
        for t in self.maps + self.reds:
            if t.state == "in-progress":
                on = [attempts[a]["worker"] for a in t.running]
                worker = w if w in on else on[0]
            elif t.state == "completed":
                done = [i["worker"] for i in attempts.values() if i["kind"] == t.kind and i["task"] == t.index
                        and i["status"] == "done"]
                worker = t.location[1] if t.location is not None else done[-1]
            else:
                worker = None
            table.append({"kind": t.kind, "index": t.index, "state": t.state, "worker": worker})
            by_key[(t.kind, t.index)] = t
        answer = call(type(self).rule, copy.deepcopy(table), w)
        for key in _canonical(answer) if type(answer) in (list, tuple, set, frozenset) else ():
            t = by_key.get(key) if type(key) is tuple else None
            if t is None:
                continue
            if t.state == "in-progress":
                for a in list(t.running):
                    t.running.remove(a)
                    self._close(a, "lost")
                    if self.workers[attempts[a]["worker"]].running == a:
                        self.workers[attempts[a]["worker"]].running = None
                t.state = "idle"
            elif t.state == "completed":
                t.state, t.location, t.sizes = "idle", None, ()
                t.lost += 1
                self._event(f"{t.kind} task {t.index} will re-execute: your rule reset it")


def _scenarios() -> list[dict[str, Any]]:
    longer = dict(workers=4, maps=8, reduces=6, lines=240, backups=False, until=60)
    return [dict(longer, faults="crash w3 at 3.6 restart 8"),
            dict(longer, faults="crash w1 at 1.0 restart 4"),
            dict(backups=False, faults="crash w2 at 1.2 restart 3", until=60),
            dict(longer, faults="pause w2 at 2.4 until 4.5")]


@exercise("mr-reexec")
def check_reexecute(to_reexecute: Callable[[list[dict], str], Any]) -> None:
    """Exercise mr-reexec: which tasks go back to idle when a worker fails, on every task table of 1-2 map
    and 1-2 reduce tasks; then plugged into the master under crashes and a pause."""
    _callable(to_reexecute, "to_reexecute")
    cases = _reexec_cases()
    n = differential(
        cases, lambda c: _canonical(outcome(lambda: to_reexecute(copy.deepcopy(c[0]), c[1]))),
        _allowed_reexecute,
        lambda c, got: (f"when {c[1]} fails with the tasks [{_table(c[0])}], to_reexecute "
                        f"{_show(got)}"),
        lambda c, got: ("reset exactly the failed worker's in-progress tasks and its completed map tasks "
                        "(a list of (kind, index) pairs)"),
        mistakes=_reexec_mistakes())

    class Plugged(_LearnerMaster):
        rule = staticmethod(to_reexecute)

    from distlib.check.mapreduce import check_mapreduce

    for kwargs in _scenarios():
        run = outcome(lambda kwargs=kwargs: run_mapreduce(0, master_cls=Plugged, **kwargs))
        if isinstance(run, Raised):
            _fail(f"the master using your rule raised {run.exc} (faults: {kwargs['faults']})")
        problems = check_mapreduce(run)
        if problems:
            _fail(f"the master using your rule (faults: {kwargs['faults']}): {problems[0]}")
    print(f"right: your rule matches §3.3 on all {n} task tables, and a master using it finishes every "
          "crash and pause scenario with the sequential program's output.")


# ---- mr-partitioner: a range partitioner for a total order ---------------------------------------------
def reference_range_region(boundaries: Sequence[str], key: str, regions: int) -> int:
    """Region r holds the keys k with boundaries[r-1] <= k < boundaries[r] (region 0: below the first
    boundary; the last region: from the last boundary up)."""
    return min(bisect.bisect_right(list(boundaries), key), regions - 1)


LETTERS = "abcdefg"


def _partition_cases() -> list[tuple[list[str], str]]:
    """Every sorted multiset of 0-3 boundaries out of b, d, f with every one-letter key (on, between, before
    and after the boundaries) and a few longer ones; then 6-letter keys against boundaries sampled the
    way the sort job samples them (seeded)."""
    cases = []
    for size in range(0, 4):
        # with repeats: sampled quantiles repeat on skewed keys (red team: an answer that special-cased
        # "key equals a boundary" with boundaries.index passed while no boundary repeated)
        for bounds in itertools.combinations_with_replacement("bdf", size):
            for key in list(LETTERS) + ["", "bb", "da", "fz", "B", "Dz", "a "]:
                cases.append((list(bounds), key))
    cases += [(["a", "c", "c", "d"], k) for k in ("a", "b", "c", "cc", "d", "e", "C")]
    cases += [(["B", "b"], k) for k in ("A", "B", "Ba", "a", "b", "c")]   # string order, not lower-case order
    rng = random.Random(SEED + 3)
    for regions in (2, 4, 7):
        keys = ["".join(rng.choice(LETTERS) for _ in range(6)) for _ in range(200)]
        bounds = jobs_mod.sample_boundaries({"records.txt": [f"{k} x" for k in keys]}, regions, SEED)
        cases += [(list(bounds), k) for k in keys[:60] + bounds]
    return cases


def _partition_mistakes() -> list[tuple[Callable, str]]:
    from distlib.partitioning.hashing import stable_hash

    return [
        (lambda c: bisect.bisect_left(c[0], c[1]),
         "a key equal to a boundary belongs to the region that STARTS at that boundary "
         "(boundaries[r-1] <= key), not to the one before it: count the boundaries <= key"),
        (lambda c: stable_hash(c[1]) % (len(c[0]) + 1),
         "a hash partitioner spreads keys evenly but in no order: concatenating the regions would not "
         "be sorted. A total order needs the region to grow with the key"),
        (lambda c: (ord(c[1][0]) if c[1] else 0) % (len(c[0]) + 1),
         "the first letter modulo R is not ordered either (and ignores the boundaries)"),
        (lambda c: max(bisect.bisect_right(c[0], c[1]) - 1, 0),
         "off by one: keys below the first boundary are region 0, keys from the first boundary on are "
         "region 1, and so on"),
    ]


@exercise("mr-partitioner")
def check_partitioner(make_partitioner: Callable[[list[str]], Callable[[str, int], int]]) -> None:
    """Exercise mr-partitioner: a range partitioner, on every small boundary set and key, then as the sort
    job's partitioner in the cluster (the part files concatenated must be globally sorted)."""
    _callable(make_partitioner, "make_partitioner")

    def answer(case: tuple[list[str], str]) -> Any:
        bounds, key = case
        part = outcome(lambda: make_partitioner(list(bounds)))
        if isinstance(part, Raised) or not callable(part):
            return part
        return outcome(lambda: part(key, len(bounds) + 1))

    n = differential(
        _partition_cases(), answer, lambda c: [reference_range_region(c[0], c[1], len(c[0]) + 1)],
        lambda c, got: (f"with boundaries {c[0]} (R = {len(c[0]) + 1} regions) the key {c[1]!r} "
                        f"{_show(got)}"),
        lambda c, got: ("region r holds the keys k with boundaries[r-1] <= k < boundaries[r]; region 0 the "
                        "keys below boundaries[0], the last region the keys from boundaries[-1] up"),
        mistakes=_partition_mistakes())
    from distlib.check.mapreduce import check_mapreduce

    files = jobs_mod.sample_input("sort", seed=3, lines=300)
    for regions in (3, 5):
        bounds = jobs_mod.sample_boundaries(files, regions, SEED)
        part = outcome(lambda bounds=bounds: make_partitioner(list(bounds)))
        if isinstance(part, Raised) or not callable(part):
            _fail(f"make_partitioner({bounds}) {_show(part)}; it must return a function "
                  "(key, regions) -> region")
        job = Job("sort", jobs_mod._sort_map, jobs_mod._sort_reduce, partitioner=part, globally_sorted=True)
        run = outcome(lambda job=job, regions=regions: run_mapreduce(3, job=job, files=files, maps=6,
                                                                  reduces=regions, backups=False))
        if isinstance(run, Raised):
            _fail(f"sorting with your partitioner raised {run.exc}")
        problems = check_mapreduce(run)
        if problems:
            _fail(f"sorting 300 records with your partitioner (R={regions}, boundaries {bounds}): "
                  f"{problems[0]}")
    print(f"right: your partitioner agrees with the boundaries on all {n} keys, and the sort job using it "
          "writes part files whose concatenation is globally sorted.")


# ---- mr-bug-hunt: the appending reducer ------------------------------------------------------------------
@exercise("mr-bug-hunt")
def check_bug_hunt(schedule: Any) -> None:
    """Exercise mr-bug-hunt: a fault schedule under which the appending reducer counts output twice."""
    from distlib.check.mapreduce import check_mapreduce

    schedule = check_schedule(schedule, max_faults=2)
    try:
        bad = run_mapreduce(0, broken="append", backups=False, faults=schedule)
    except ValueError as exc:
        _fail(f"the schedule is not valid for this cluster (master, nn, w1-w4): {exc}")
    problems = [p for p in check_mapreduce(bad) if "more than once" in p or "differs" in p]
    if not problems:
        _fail(f"under '{schedule.describe()}' the appending reducer still wrote each region once "
              f"({bad.summary()}). A region is appended twice only if two executions of one reduce task both "
              "reach the append: make the master give up on a worker (no answer to its pings for 1 s) "
              "while that worker can still finish its reduce task and write to nn.")
    good = run_mapreduce(0, backups=False, faults=schedule)
    if check_mapreduce(good):
        _fail(f"your schedule also breaks the correct engine ({check_mapreduce(good)[0]}); keep the faults "
              "short enough for the job to finish (every fault should end).")
    print(f"right: '{schedule.describe()}' makes the appending reducer count its output twice "
          f"({problems[0]}), while temporary file + atomic rename leaves exactly one copy.")


guard.protect("mr-invindex", reference_index, jobs_mod._ii_map, jobs_mod._ii_reduce, jobs_mod._distinct_docs)
guard.protect("mr-combiner", reference_mean_combine, reference_mean_reduce)
guard.protect("mr-partitioner", reference_range_region, jobs_mod.range_partitioner)
guard.protect("mr-reexec", reference_reexecute, (Master, "_worker_failed"), (Master, "_reset_completed_maps"))
