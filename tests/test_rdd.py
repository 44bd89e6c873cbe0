"""Spark-style RDDs (distlib.compute.rdd, rdd_scheduler, rdd_cluster) and their checker (distlib.check.rdd).

Budget: about 10 s on 2 cores, most of it the 300-seed crash sweep.
"""

from __future__ import annotations

import pytest

from distlib.check.rdd import check_cache_hits, check_rdd, check_recomputation, same
from distlib.check.sweep import sweep
from distlib.compute import programs
from distlib.compute.rdd import Context, JobFailed, portable_hash
from distlib.compute.rdd_runs import WORKLOADS, iterate, random_rdd, run_rdd
from distlib.compute.rdd_scheduler import BlockStore
from distlib.partitioning.hashing import stable_hash

MASTERS = ["local", "sim"]
TEXT = ["the cat sat", "the dog", "a cat and a dog", "", "the end"] * 4


def ctx(master, **kw):
    return Context(master, executors=3, files={"book.txt": TEXT}, block_size=40, **kw)


# ---- the API: same answers as a plain Python program, in both modes ---------------------------------------
@pytest.mark.parametrize("master", MASTERS)
def test_word_count_join_and_friends_equal_plain_python(master):
    sc = ctx(master)
    counts = sc.textFile("book.txt").flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    assert sorted(counts.collect()) == programs.reference_word_count(TEXT)
    a = sc.parallelize([(1, "a"), (2, "b"), (3, "c")], 2)
    b = sc.parallelize([(1, "x"), (1, "y"), (3, "z"), (4, "w")], 3)
    assert sorted(a.join(b).collect()) == [(1, ("a", "x")), (1, ("a", "y")), (3, ("c", "z"))]
    assert sorted(a.cogroup(b).mapValues(lambda v: (list(v[0]), list(v[1]))).collect()) == [
        (1, (["a"], ["x", "y"])), (2, (["b"], [])), (3, (["c"], ["z"])), (4, ([], ["w"]))]
    assert sorted(b.groupByKey().mapValues(list).collect()) == [(1, ["x", "y"]), (3, ["z"]), (4, ["w"])]
    assert sorted(sc.parallelize([3, 1, 3, 2, 1]).distinct().collect()) == [1, 2, 3]
    assert a.union(b).count() == 7 and a.union(b).getNumPartitions() == 5
    assert a.keys().collect() == [1, 2, 3] and a.values().collect() == ["a", "b", "c"]
    assert a.flatMapValues(lambda v: [v, v]).count() == 6
    assert sc.parallelize(range(10), 3).sum() == 45
    assert sc.parallelize(range(1, 6)).reduce(lambda x, y: x * y) == 120
    assert b.countByKey() == {1: 2, 3: 1, 4: 1}
    assert a.collectAsMap() == {1: "a", 2: "b", 3: "c"}
    assert sc.parallelize(range(100), 7).take(12) == list(range(12))
    assert sc.parallelize(["x", "y"]).first() == "x"


@pytest.mark.parametrize("master", MASTERS)
def test_order_collect_keeps_partitions_and_sorts_are_global(master):
    sc = ctx(master)
    data = list(range(23))
    rdd = sc.parallelize(data, 4)
    assert rdd.collect() == data                       # partition order, as PySpark
    assert rdd.glom().collect() == [data[i * 23 // 4:(i + 1) * 23 // 4] for i in range(4)]
    pairs = sc.parallelize([(k % 7, k) for k in range(40)], 3)
    got = pairs.sortByKey(numPartitions=3).collect()
    assert [k for k, _ in got] == sorted(k % 7 for k in range(40))
    down = pairs.sortByKey(ascending=False, numPartitions=2).keys().collect()
    assert down == sorted(down, reverse=True)
    assert sc.parallelize([5, 3, 9, 1], 2).sortBy(lambda x: -x, numPartitions=2).collect() == [9, 5, 3, 1]


def test_the_default_partition_function_is_stable_not_pythons_hash():
    for key in ("the", 7, ("a", 3)):
        assert portable_hash(key) == (stable_hash(key) if not isinstance(key, tuple)
                                      else stable_hash(tuple(portable_hash(k) for k in key)))
    sc = ctx("local")
    parts = sc.parallelize([(w, 1) for w in "abcdefgh"]).partitionBy(3)
    for p, keys in enumerate(parts.mapPartitionsWithIndex(lambda i, it: [(i, [k for k, _ in it])]).collect()):
        assert all(portable_hash(k) % 3 == p for k in keys[1])


@pytest.mark.parametrize("master", MASTERS)
def test_transformations_are_lazy(master):
    sc = ctx(master)
    boom = sc.parallelize([1, 2, 0]).map(lambda x: 1 // x).filter(lambda x: x > 0)
    grouped = boom.map(lambda x: (x, x)).reduceByKey(lambda a, b: a + b)
    assert sc.jobs == [] and grouped.getNumPartitions() == sc.defaultParallelism
    with pytest.raises(JobFailed, match=r"partition \d+ of stage \d+ .* failed 4 times; last error: "
                                         r"ZeroDivisionError: integer division or modulo by zero"):
        grouped.collect()


def test_a_failing_task_is_retried_four_times_on_the_cluster_then_the_job_fails():
    sc = ctx("sim")
    with pytest.raises(JobFailed, match="failed 4 times"):
        sc.parallelize(range(6), 3).map(lambda x: 1 // (x - 4)).collect()
    job = sc.jobs[-1]
    failed = [t for t in job.tasks if t.outcome == "failed"]
    assert len(failed) == 4 and {t.partition for t in failed} == {2}
    assert "ZeroDivisionError" in failed[0].error and job.status == "failed"
    assert sc.parallelize([1, 2]).count() == 2          # the context still works afterwards


@pytest.mark.parametrize("master", MASTERS)
def test_pair_operations_on_non_pairs_name_the_operation_and_the_record(master):
    sc = ctx(master)
    words = sc.parallelize(["the", "cat"], 2)
    for op, rdd in (("reduceByKey", words.reduceByKey(lambda a, b: a + b)),
                    ("groupByKey", words.groupByKey()),
                    ("join", words.join(sc.parallelize([("the", 1)])))):
        pattern = rf"{op} records must be \(key, value\) pairs \(got '(the|cat)'\)"
        with pytest.raises(ValueError, match=pattern):
            rdd.collect()


# ---- lineage, stages, cache, checkpoint -------------------------------------------------------------------
def test_to_debug_string_has_sparks_layout():
    sc = ctx("local")
    counts = sc.textFile("book.txt").flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    lines = counts.toDebugString().splitlines()
    n = counts.getNumPartitions()
    assert n == 5          # one split per 40-byte DFS block: more than minPartitions (2), as Hadoop
    assert [ln.split("[")[0].strip(" |+-") for ln in lines] == [
        "(5) PythonRDD", "ShuffledRDD", "(5) PairwiseRDD", "PythonRDD", "book.txt HadoopRDD"]
    assert lines[0].startswith("(5) PythonRDD[") and lines[1].startswith(" |  ShuffledRDD[")
    assert lines[2].startswith(" +-(5) PairwiseRDD[") and lines[3].startswith("    |  PythonRDD[")
    assert "at reduceByKey at test_rdd.py:" in lines[0] and lines[0].endswith(" []")
    counts.cache().count()
    cached = counts.toDebugString().splitlines()
    assert cached[0].endswith("[Memory Serialized 1x Replicated]")
    assert cached[1].strip(" |").startswith("CachedPartitions: 5;")


@pytest.mark.parametrize("master", MASTERS)
def test_stages_are_cut_at_shuffles_and_existing_outputs_are_skipped(master):
    sc = ctx(master)
    counts = sc.textFile("book.txt").flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    counts.collect()
    job = sc.jobs[-1]
    assert [(s.kind, s.skipped) for s in job.stages] == [("shuffle-map", False), ("result", False)]
    n = counts.getNumPartitions()
    assert job.stages[0].tasks == n and len(job.tasks) == 2 * n
    by_count = counts.map(lambda kv: (kv[1], kv[0])).groupByKey()
    by_count.collect()                       # the word count's shuffle output is reused
    job = sc.jobs[-1]
    assert [(s.kind, s.skipped) for s in job.stages] == [
        ("shuffle-map", True), ("shuffle-map", False), ("result", False)]
    assert job.skipped == 1


@pytest.mark.parametrize("master", MASTERS)
def test_co_partitioned_join_does_not_shuffle_the_partitioned_side(master):
    sc = ctx(master)
    links = sc.parallelize([(f"p{i}", i) for i in range(20)], 4).partitionBy(4).cache()
    ranks = links.mapValues(lambda _: 1.0)              # keeps the partitioner
    assert links.join(ranks).count() == 20
    stages = sc.jobs[-1].stages
    assert len(stages) == 2 and stages[0].kind == "shuffle-map"     # only partitionBy's shuffle
    other = links.join(sc.parallelize([("p1", 0)], 2))
    assert other.getNumPartitions() == 4                 # links' partitioner: only the other side moves
    assert other.count() == 1
    stages = sc.jobs[-1].stages
    assert [s.kind for s in stages] == ["shuffle-map"] * 2 + ["result"] and stages[0].skipped
    both = sc.parallelize([(1, 2)], 2).join(sc.parallelize([(1, 3)], 3))
    assert both.getNumPartitions() == 2 and both.collect() == [(1, (2, 3))]


@pytest.mark.parametrize("master", MASTERS)
def test_checkpoint_truncates_the_lineage_and_reads_back_the_same_data(master):
    sc = ctx(master)
    sc.setCheckpointDir("ck")
    counts = sc.textFile("book.txt").flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    counts.checkpoint()
    assert not counts.isCheckpointed()
    before = sorted(counts.collect())
    assert counts.isCheckpointed()
    text = counts.toDebugString()
    assert "ReliableCheckpointRDD" in text and "ShuffledRDD" not in text and "+-" not in text
    assert sorted(counts.collect()) == before
    assert len(sc.jobs[-1].stages) == 1


@pytest.mark.parametrize("master", MASTERS)
def test_save_as_text_file_writes_one_part_per_partition(master):
    sc = ctx(master)
    sc.parallelize(range(7), 3).saveAsTextFile("out")
    assert [sc.readFile(f"out/part-{p:05d}") for p in range(3)] == [["0", "1"], ["2", "3"], ["4", "5", "6"]]
    assert sorted(sc.textFile("out/part-00002").map(int).collect()) == [4, 5, 6]


def test_lru_memory_evicts_other_rdds_first_and_never_cycles_one_rdd():
    store = BlockStore(10)
    assert store.put((1, 0), list(range(4))) == (True, [])
    assert store.put((2, 0), list(range(4))) == (True, [])
    store.get((1, 0))                                     # rdd 2's block is now the least recent
    assert store.put((3, 0), list(range(4))) == (True, [(2, 0)])
    assert store.put((3, 1), list(range(5))) == (True, [(1, 0)])
    assert store.put((3, 2), list(range(5))) == (False, [])   # only rdd 3 left: keep it, skip the new one
    assert store.put((4, 0), list(range(11))) == (False, [])  # larger than the memory


def test_evicted_partitions_are_recomputed_from_lineage_and_results_stay_right():
    sc = Context("sim", executors=2, memory=10, seed=1)
    a = sc.parallelize(range(40), 4).map(lambda x: (x % 5, x)).cache()
    b = sc.parallelize(range(40), 4).map(lambda x: -x).cache()
    assert a.count() == 40 and b.count() == 40          # b's partitions push a's out (LRU, §5.3)
    evicted = {key for e in sc.names for _, _, event, key in sc.world.storage[e]["log"] if event == "evicted"}
    assert evicted and {k[0] for k in evicted} == {a.id}
    sums = sorted(a.reduceByKey(lambda x, y: x + y).collect())
    assert sums == [(k, sum(range(k, 40, 5))) for k in range(5)]
    rebuilt = {k for t in sc.jobs[-1].tasks if t.recompute for k in t.computed}
    assert rebuilt == evicted                               # exactly the evicted partitions
    assert check_recomputation(_as_run(sc)) == [] and check_cache_hits(_as_run(sc)) == []


def test_a_partition_evicted_by_the_task_that_stored_it_counts_as_recomputed_when_rebuilt():
    # One task stores a's partition, then b's, which pushes a's out at once: the driver never saw a's
    # partition in memory, yet it had been there, so rebuilding it is a recomputation (TaskRecord docs).
    sc = Context("sim", executors=1, memory=10)
    a = sc.parallelize(range(8), 1).map(lambda x: x + 1).cache()
    b = a.map(lambda x: 2 * x).cache()
    assert b.count() == 8 and a.count() == 8
    log = [(event, key) for _, _, event, key in sc.world.storage["e1"]["log"]]
    assert log[:3] == [("cached", (a.id, 0)), ("evicted", (a.id, 0)), ("cached", (b.id, 0))]
    (task,) = sc.jobs[1].tasks
    assert task.computed == ((a.id, 0),) and task.recompute
    assert check_recomputation(_as_run(sc)) == []          # eviction is a reason to rebuild


def test_a_partition_that_never_fit_is_computed_every_time_but_not_recomputed():
    # 10 partitions of 160 points, room for 250 records: each executor keeps its first one and will not
    # evict it for another partition of the same RDD (§5.3), so 6 of the 10 partitions are read and
    # parsed again in every iteration -- cache misses (``computed``), not recomputations: nothing was lost.
    run = iterate("lr", cache=True, memory=250)
    again = [len([k for t in j.tasks if t.outcome == "success" for k in t.computed]) for j in run.sc.jobs[1:]]
    assert again == [6] * 5 and run.recomputed == [0] * 6      # jobs[0] is iteration 0: it computes all 10
    logs = [event for e in run.sc.names for _, _, event, _ in run.sc.world.storage[e]["log"]]
    assert logs == ["cached"] * 4
    assert check_recomputation(_as_run(run.sc)) == []


def _as_run(sc):
    class Run:
        pass
    r = Run()
    r.sc = sc
    return r


def test_tasks_run_where_their_block_or_cached_partition_is():
    sc = Context("sim", executors=4, files={"f.txt": [f"line {i}" for i in range(400)]}, block_size=500)
    rdd = sc.textFile("f.txt", 8).cache()
    rdd.count()
    first = sc.jobs[-1].tasks
    assert sum(t.locality == "NODE_LOCAL" for t in first) >= 6
    rdd.count()
    again = sc.jobs[-1].tasks
    assert all(t.locality == "PROCESS_LOCAL" and t.hits for t in again)


# ---- failures ---------------------------------------------------------------------------------------------
def test_a_crash_in_the_reduce_stage_reruns_exactly_the_lost_map_partitions():
    lines = [f"w{i % 17} w{i % 5} w{i % 11}" for i in range(300)]
    clean = Context("sim", executors=4, files={"t.txt": lines}, block_size=600)
    words = clean.textFile("t.txt", 6).flatMap(str.split).map(lambda w: (w, 1))
    expected = sorted(words.reduceByKey(lambda a, b: a + b, 4).collect())
    map_end = max(t.end for t in clean.jobs[0].tasks if t.kind == "shuffle-map")
    sc = Context("sim", executors=4, files={"t.txt": lines}, block_size=600,
                 faults=f"crash e2 at {map_end + 0.01:.3f} restart {map_end + 1.0:.3f}")
    words = sc.textFile("t.txt", 6).flatMap(str.split).map(lambda w: (w, 1))
    assert sorted(words.reduceByKey(lambda a, b: a + b, 4).collect()) == expected
    (crash,) = sc.crashes
    lost = {m for _, m in crash.shuffle}
    assert lost, "e2 held map output when it crashed"
    rerun = {t.partition for t in sc.jobs[0].tasks if t.kind == "shuffle-map" and t.recompute}
    assert rerun == lost                                     # exactly those, not the whole stage
    assert any(t.outcome == "fetch-failed" for t in sc.jobs[0].tasks) or any(
        t.outcome == "lost" for t in sc.jobs[0].tasks)


def test_a_lost_cached_partition_is_rebuilt_from_lineage_and_only_it():
    sc = Context("sim", executors=3, seed=2)
    rdd = sc.parallelize(range(60), 6).map(lambda x: x * x).cache()
    assert rdd.sum() == sum(x * x for x in range(60))
    sc.crash("e1", after=0.0, restart=0.3)
    assert rdd.sum() == sum(x * x for x in range(60))
    (crash,) = sc.crashes
    rebuilt = {k for t in sc.jobs[-1].tasks if t.outcome == "success" for k in t.computed}
    assert rebuilt == set(crash.cached) and rebuilt


@pytest.mark.parametrize("faults", ["pause e2 at 0.3 until 3", "partition e1,e2 | e3,e4 at 0.5 heal 2.5"])
@pytest.mark.parametrize("workload", WORKLOADS)
def test_pauses_and_partitions_look_like_crashes_to_the_driver(workload, faults):
    run = run_rdd(1, workload=workload, faults=faults)
    assert check_rdd(run) == []
    assert run.sc._backend.driver.lost_log, "the driver gave up on an executor it could not hear"


def test_a_job_that_cannot_finish_fails_instead_of_hanging():
    sc = Context("sim", executors=3, files={"f.txt": ["a b"] * 50}, block_size=100, job_timeout=50.0,
                 faults="crash e1 at 0.01; crash e2 at 0.01; crash e3 at 0.01")
    with pytest.raises(JobFailed, match="did not finish within 50s .*executors down: e1, e2, e3"):
        sc.textFile("f.txt").count()


def test_the_same_seed_gives_the_same_run():
    a, b = random_rdd(11), random_rdd(11)
    assert a.summary() == b.summary()
    assert [(t.executor, t.start, t.outcome) for t in a.sc.jobs[0].tasks] == \
        [(t.executor, t.start, t.outcome) for t in b.sc.jobs[0].tasks]


@pytest.mark.parametrize("workload", WORKLOADS)
def test_each_workload_equals_its_reference_without_faults(workload):
    run = run_rdd(3, workload=workload)
    assert run.error == "" and check_rdd(run) == []


def test_the_sweeps_run_the_shipped_programs_and_their_references():
    # the programs tests/test_spark_equality.py runs on PySpark, on the same inputs: same answers
    local = Context("local")
    lines, edges = programs.sample_lines(3, 80), programs.sample_graph(3, 24, 48)
    customers, orders = programs.sample_tables(3, 120)
    shipped = {"wordcount": programs.word_count(local, lines),
               "join": programs.join_example(local, customers, orders),
               "pagerank": programs.pagerank(local, edges, 3)}
    references = {"wordcount": programs.reference_word_count(lines),
                  "join": programs.reference_join(customers, orders),
                  "pagerank": programs.reference_pagerank(edges, 3)}
    for wl in WORKLOADS:
        run = run_rdd(3, workload=wl)
        assert run.expected == references[wl] and same(run.result, shipped[wl]), wl
    assert len(edges) == 48 and len(orders) > len(customers) > 5


def test_300_random_crash_schedules_all_correct():
    result = sweep(random_rdd, range(300), check_rdd)
    assert result.ok, (result.first_failing_seed, result.violations)
    assert result.outcomes == {"done": 300}
    crashed = sum(1 for s in range(0, 300, 10) if random_rdd(s).sc.crashes)
    assert crashed > 15


@pytest.mark.parametrize("broken, check", [("recompute-all", check_recomputation),
                                           ("immortal-cache", check_cache_hits),
                                           ("no-unregister", check_rdd)])
def test_broken_schedulers_are_caught(broken, check):
    caught = [s for s in range(120) if check(random_rdd(s, broken=broken))]
    assert len(caught) >= 3, broken


# ---- iterative jobs (RDD paper §6.1) ----------------------------------------------------------------------
def test_logistic_regression_later_iterations_are_cheap_only_with_cache():
    cached = iterate("lr", cache=True, iterations=4)
    plain = iterate("lr", cache=False, iterations=4)
    # the shipped program's steps over textFile input: the shipped reference's answer
    assert cached.result == plain.result == programs.reference_logistic_regression(
        programs.sample_points(0, 1600), 4)
    assert max(cached.times[1:]) < cached.times[0] / 5            # first pays the DFS read and parse
    assert max(plain.times) < 1.1 * min(plain.times)              # flat without cache
    assert max(cached.times[1:]) < min(plain.times) / 5


def test_a_crash_in_iteration_k_recomputes_only_the_lost_partitions():
    run = iterate("lr", cache=True, iterations=4, crash=(2, "e2"))
    assert run.recomputed[:2] == [0, 0] and 0 < run.recomputed[2] < run.tasks[2]
    assert run.result == pytest.approx(iterate("lr", cache=True, iterations=4).result)
    plain = iterate("pagerank", iterations=5, crash=(4, "e2"))
    ckpt = iterate("pagerank", iterations=5, crash=(4, "e2"), checkpoint_every=2)
    assert same(ckpt.result, plain.result)
    assert same(plain.result, programs.reference_pagerank(programs.sample_graph(0, 120, 300), 5))
    assert 0 < ckpt.recomputed[4] < plain.recomputed[4]


# ---- bad input (one table per entry point) ----------------------------------------------------------------
def _stopped():
    sc = ctx("local")
    rdd = sc.parallelize([1])
    sc.stop()
    return sc, rdd


BAD = [
    (lambda: Context("yarn"), "master must be one of local, sim (got 'yarn')"),
    (lambda: Context("local", executors=0), "executors must be an integer in 1..64 (got 0)"),
    (lambda: Context("sim", memory=0), "memory must be an integer >= 1 (got 0)"),
    (lambda: Context("local", faults="crash e1 at 1"), "faults must be None with master='local'"),
    (lambda: Context("sim", faults="crash e9 at 1"), "e9"),
    (lambda: Context("sim", broken="lazy"), "broken must be one of recompute-all"),
    (lambda: Context("local", costs=object()), "costs must be None with master='local'"),
    (lambda: Context("sim", costs=object()), "costs must be a distlib.compute.rdd_cluster.Costs value"),
    (lambda: Context("local", files={"a.txt": []}), "files['a.txt'] must be non-empty"),
    (lambda: Context("local", files=["a"]), "files must map DFS paths"),
    (lambda: ctx("local").parallelize([1], 0), "numSlices must be an integer >= 1 (got 0)"),
    (lambda: ctx("local").textFile("book.txt", 0), "minPartitions must be an integer >= 1 (got 0)"),
    (lambda: ctx("local").textFile("nope.txt"), "name must be a DFS file (known: book.txt) (got 'nope.txt')"),
    (lambda: ctx("local").parallelize([(1, 2)]).reduceByKey(max, 0),
     "reduceByKey numPartitions must be an integer >= 1 (got 0)"),
    (lambda: ctx("local").parallelize([(1, 2)]).groupByKey(-1), "groupByKey numPartitions must be"),
    (lambda: ctx("local").parallelize([(1, 2)]).join(ctx("local").parallelize([(1, 2)]), 0),
     "join numPartitions must be"),
    (lambda: ctx("local").parallelize([(1, 2)]).partitionBy(0), "partitionBy numPartitions must be"),
    (lambda: ctx("local").parallelize([(1, 2)]).sortByKey(numPartitions=0), "sortByKey numPartitions must"),
    (lambda: ctx("local").parallelize([(1, 2)]).sortByKey(ascending="no"), "ascending must be True or False"),
    (lambda: ctx("local").parallelize([1]).distinct(0), "distinct numPartitions must be"),
    (lambda: ctx("local").parallelize([1]).take(-1), "take num must be an integer >= 0 (got -1)"),
    (lambda: ctx("local").parallelize([1]).checkpoint(), "checkpoint directory must be set"),
    (lambda: ctx("local").parallelize([]).reduce(max), "reduce needs a non-empty RDD"),
    (lambda: ctx("local").crash("e1"), "master must be 'sim' to crash an executor"),
    (lambda: ctx("sim").crash("e9"), "executor must be one of e1, e2, e3 (got 'e9')"),
    (lambda: _stopped()[0].parallelize([1]), "context must be running to call parallelize"),
    (lambda: _stopped()[0].textFile("book.txt"), "context must be running to call textFile"),
    (lambda: _stopped()[1].collect(), "context must be running to call collect"),
    (lambda: _stopped()[1].map(str), "context must be running to call map"),
    (lambda: _stopped()[1].count(), "context must be running to call count"),
]


@pytest.mark.parametrize("call, fragment", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_is_a_value_error_naming_the_parameter(call, fragment):
    with pytest.raises(ValueError) as e:
        call()
    assert fragment in str(e.value)


def test_saving_over_an_existing_path_is_refused():
    sc = ctx("local")
    sc.parallelize([1]).saveAsTextFile("out")
    with pytest.raises(ValueError, match="path must be a new DFS directory"):
        sc.parallelize([2]).saveAsTextFile("out")
