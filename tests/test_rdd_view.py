"""Chapter 10's RDD figures (distlib.viz.rdd_view): lineage and stages, task timeline, iterations."""

from __future__ import annotations

import pytest

from distlib.compute.rdd import Context
from distlib.compute.rdd_runs import iterate, run_rdd
from distlib.viz.rdd_view import (
    LOST,
    iterations_figure,
    iterations_summary,
    lineage,
    lineage_figure,
    lineage_summary,
    timeline_figure,
    timeline_summary,
)


def add(a, b):
    return a + b


@pytest.fixture(scope="module")
def crashed():
    # e2 dies at t=1.3 (the result stage has begun) holding map output 1 of the word count's shuffle:
    # exactly that task re-runs
    return run_rdd(0, faults="crash e2 at 1.3 restart 2.3")


@pytest.fixture(scope="module")
def lr_runs():
    return {"cache": iterate("lr", cache=True, iterations=4),
            "no cache": iterate("lr", cache=False, iterations=4)}


def wordcount(sc):
    words = sc.parallelize(["a b", "b c", "c a a"], 3).flatMap(str.split)
    return words.map(lambda w: (w, 1)).reduceByKey(add, 2)


def test_word_count_is_two_stages_cut_at_the_one_shuffle():
    sc = Context("local")
    counts = wordcount(sc)
    g = lineage(counts)
    assert [(sid, kind, n) for sid, kind, n, _ in g["stages"]] == [(0, "shuffle-map", 3), (1, "result", 2)]
    wide = [(c, p) for c, p, w in g["edges"] if w]
    assert len(wide) == 1 and g["stage_of"][wide[0][1]] == 0 and g["stage_of"][wide[0][0]] == 1
    assert g["stage_of"][0] == 0 and g["stage_of"][counts.id] == 1
    assert lineage_summary(counts).splitlines() == [
        "stage 0 (shuffle-map, 3 tasks): ParallelCollectionRDD[0] parallelize -> PythonRDD[2] map -> "
        "PairwiseRDD[3] reduceByKey",
        "stage 1 (result, 2 tasks): ShuffledRDD[4] reduceByKey -> PythonRDD[5] reduceByKey",
        "5 RDDs, 3 narrow dependencies, 1 shuffle dependencies: PairwiseRDD[3] => ShuffledRDD[4]",
    ]
    fig = lineage_figure(counts)
    names = [t.name for t in fig.data]
    assert names == ["narrow dependency (pipelined)", "shuffle dependency (stage boundary)",
                     "RDD (thick border: cached)"]
    assert len(fig.data[1].x) == 3                      # one segment (x0, x1, None)
    assert [s.type for s in fig.layout.shapes] == ["rect", "rect"]
    assert [a.text for a in fig.layout.annotations] == ["stage 0: shuffle-map, 3 tasks",
                                                        "stage 1: result, 2 tasks"]
    boxes = fig.data[2]
    assert len(boxes.x) == 5 and max(boxes.x) == 4    # the source left, the result in the 5th column


def test_cached_rdds_are_marked_and_co_partitioned_joins_add_no_shuffle():
    sc = Context("local")
    links = sc.parallelize([("a", "b"), ("b", "a"), ("c", "a")], 2).groupByKey(2).cache()
    ranks = links.mapValues(lambda _: 1.0)
    joined = links.join(ranks)
    g = lineage(joined)
    # one shuffle (groupByKey); the join reads both co-partitioned sides partition by partition
    assert sum(1 for e in g["edges"] if e[2]) == 1
    assert [kind for _s, kind, _n, _m in g["stages"]] == ["shuffle-map", "result"]
    fig = lineage_figure(joined)
    boxes = next(t for t in fig.data if t.name.startswith("RDD"))
    cached = [w for w, text in zip(boxes.marker.line.width, boxes.text, strict=True) if "(cached)" in text]
    assert cached == [4] and sorted(boxes.marker.line.width).count(4) == 1
    assert "(cached)" in lineage_summary(joined)
    # into 3 partitions, not links' 2: the join shuffles both sides (plus groupByKey's shuffle)
    other = sc.parallelize([("a", 1)], 3)
    assert sum(1 for e in lineage(links.join(other, 3))["edges"] if e[2]) == 3


def test_timeline_marks_exactly_the_recomputed_task_the_lost_attempt_and_the_crash(crashed):
    sc = crashed.sc
    fig = timeline_figure(crashed)
    bars = [t for t in fig.data if t.type == "bar"]
    attempts = [t for j in sc.jobs for t in j.tasks]
    assert sum(len(b.x) for b in bars) == len(attempts) == 11
    hatched = [(b.name, y, base) for b in bars for y, base, p in zip(b.y, b.base, b.marker.pattern.shape,
                                                                     strict=True) if p == "x"]
    rec = [t for t in attempts if t.recompute and t.outcome == "success"]
    assert len(rec) == 1 and hatched == [("stage 0 (shuffle-map)", rec[0].executor, rec[0].start)]
    lost = next(b for b in bars if "lost work" in b.name)
    assert list(lost.y) == ["e2"] and list(lost.marker.color) == [LOST]
    crash = next(t for t in fig.data if t.name == "executor crash")
    assert list(crash.x) == [1.3] and list(crash.y) == ["e2"]
    restart = next(t for t in fig.data if t.name == "executor restart")
    assert list(restart.x) == [2.3]
    text = timeline_summary(crashed)
    assert "e2 crashed @1.30: lost cached partitions [none], shuffle outputs [shuffle 0 map 1]" in text
    assert text.splitlines()[-1] == "recomputed: job 0 stage 0 (shuffle-map) partition 1 on e1 @2.30"
    assert "1 recomputations" in text.splitlines()[0]


def test_timeline_of_a_healthy_run_has_no_fault_marks_and_lists_every_task_on_request():
    run = run_rdd(0)
    fig = timeline_figure(run)
    assert not [t for t in fig.data if "crash" in (t.name or "") or "recomput" in (t.name or "")]
    assert all(p == "" for b in fig.data if b.type == "bar" for p in b.marker.pattern.shape)
    full = timeline_summary(run, tasks=True)
    n = sum(len(j.tasks) for j in run.sc.jobs)
    assert sum(1 for line in full.splitlines() if line.startswith("    job ")) == n
    assert "recomputed" not in timeline_summary(run)


def test_cache_hits_are_drawn_where_tasks_read_memory(lr_runs):
    fig = timeline_figure(lr_runs["cache"])
    hits = next(t for t in fig.data if t.name == "read a cached partition")
    tasks = [t for j in lr_runs["cache"].sc.jobs for t in j.tasks if t.hits]
    assert len(hits.x) == len(tasks) > 0
    assert not [t for t in timeline_figure(lr_runs["no cache"]).data if t.name == "read a cached partition"]


def test_iterations_first_vs_later_with_and_without_cache(lr_runs):
    fig = iterations_figure(lr_runs)
    assert [t.name for t in fig.data] == ["cache", "no cache"]
    assert list(fig.data[0].x) == [f"iteration {i}" for i in range(1, 5)]
    cache, plain = lr_runs["cache"].times, lr_runs["no cache"].times
    assert list(fig.data[0].y) == cache and cache[0] > 5 * max(cache[1:])     # Fig. 7's shape
    assert max(plain) < 1.2 * min(plain)                                        # every iteration rereads
    lines = iterations_summary(lr_runs).splitlines()
    assert lines[0].startswith("cache: ") and "first / mean of later = " in lines[0]
    assert "cached partitions: " in lines[0] and "cached partitions" not in lines[1]
    assert iterations_summary(lr_runs["cache"]).startswith("lr, cache: ")


@pytest.mark.parametrize("call, message", [
    (lambda: lineage_figure([1, 2]), "rdd must be an RDD"),
    (lambda: timeline_figure(Context("local")), "master='sim'"),
    (lambda: timeline_summary("run"), "source must be a Context"),
    (lambda: iterations_figure({}), "runs must be an Iterations"),
    (lambda: iterations_summary([1.0]), "runs must be an Iterations"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()


def test_stage_rectangles_never_overlap_and_hold_their_own_rdds():
    sc = Context("local")
    b = sc.parallelize([(k % 5, k) for k in range(20)], 3).groupByKey(3)
    d = sc.parallelize([(k % 4, -k) for k in range(8)], 2).map(lambda kv: kv)
    f = d.union(sc.parallelize([(1, 2)], 2))
    g = lineage(b.join(f, 3))
    assert [kind for _s, kind, _n, _m in g["stages"]] == ["shuffle-map", "shuffle-map", "result"]
    fig = lineage_figure(b.join(f, 3))
    rects = [(s.y0, s.y1) for s in fig.layout.shapes]
    assert len(rects) == 3
    for i, (lo, hi) in enumerate(rects):      # one horizontal band per stage (Fig. 5's regions)
        for lo2, hi2 in rects[i + 1:]:
            assert hi2 < lo or hi < lo2
    boxes = next(t for t in fig.data if t.name.startswith("RDD"))
    colors = dict(zip(boxes.text, boxes.marker.color, strict=True))
    assert len(set(colors.values())) == 3     # each stage's RDDs in the stage's colour
