"""The shipped RDD programs (:mod:`distlib.compute.programs`) run unchanged on Apache Spark (PySpark 4.3.0,
``local[2]``), on :mod:`distlib.compute.rdd` in local and in simulated mode, and as plain Python: all four
answers are equal. The lineage has the same shape too: as many shuffle boundaries (``+-(`` lines of
``toDebugString()``) in Spark's word count and PageRank as in ours.

One SparkSession for the whole pytest process (a JVM holds one SparkContext; field notes §3). Locally
the Spark tests skip when pyspark or Java is missing (``make spark``); under CI=true they fail
(``.ci/run`` installs both)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from distlib.compute import jobs, programs, rdd
from distlib.compute import spark as sparkmod

LINES = programs.sample_lines(seed=0, lines=120) + [
    "", "Don't SHOUT: don't, DON'T!", "tab\tseparated  words\u00a0and   spaces", "x" * 40]
# Every page has an out-link (sample_graph), plus duplicates, a dangling page (only linked to) and a
# page nobody links to ("orphan": it drops out after iteration 1, as in Spark's example).
EDGES = programs.sample_graph(seed=0, pages=20, links=60) + [("p1", "sink"), ("p1", "sink"), ("orphan", "p2")]
CUSTOMERS, ORDERS = programs.sample_tables(seed=0, lines=40)
POINTS = programs.sample_points(seed=0, n=200, dims=3)
JOB_FILES = jobs.sample_input("wordcount", seed=1, lines=90)


def _missing(msg: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{msg}: missing under CI, where .ci/run installs it")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def spark_sc():
    ok, why = sparkmod.spark_available()
    if not ok:
        _missing(why)
    session = sparkmod.local_session(2)
    yield session.sparkContext
    sparkmod.stop()


def _ours(master: str):
    return rdd.Context(master=master, executors=3, seed=0)


@pytest.fixture(scope="module")
def ours_local():
    return _ours("local")


@pytest.fixture(scope="module")
def ours_sim():
    return _ours("sim")


ENGINES = ("spark", "local", "sim")
_FIXTURE = {"spark": "spark_sc", "local": "ours_local", "sim": "ours_sim"}


@pytest.fixture(params=ENGINES)
def sc(request):
    return request.getfixturevalue(_FIXTURE[request.param])


# ---- the references are right (hand-computed), so agreeing with them means something ----------------
def test_references_on_hand_computed_cases():
    assert programs.reference_word_count(["The cat", "the CAT's hat"]) == [("cat", 1), ("cat's", 1),
                                                                         ("hat", 1), ("the", 2)]
    # a -> b, a -> c, b -> a; c has no out-link. One iteration: a sends 1/2 to b and c, b sends 1 to a.
    assert programs.reference_pagerank([("a", "b"), ("a", "c"), ("b", "a"), ("a", "b")], 1) == [
        ("a", 1.0), ("b", 0.575), ("c", 0.575)]
    # Two iterations: c has no rank to send (it is not in links), so a receives only b's 0.575.
    assert programs.reference_pagerank([("a", "b"), ("a", "c"), ("b", "a")], 2) == [
        ("a", round(0.15 + 0.85 * 0.575, 9)), ("b", 0.575), ("c", 0.575)]
    assert programs.reference_join([(1, "x"), (2, "y"), (1, "z")], [(1, "A"), (3, "B"), (1, "C")]) == [
        (1, ("x", "A")), (1, ("x", "C")), (1, ("z", "A")), (1, ("z", "C"))]
    # One point y=1, x=(1,), w=0: sigmoid(0) = 0.5, gradient (0.5 - 1) * 1 * 1 = -0.5, w = 0 + 0.5.
    assert programs.reference_logistic_regression([(1.0, (1.0,))], 1) == (0.5,)


# ---- each program on each engine equals the plain-Python answer --------------------------------------
def test_word_count(sc):
    assert programs.word_count(sc, LINES) == programs.reference_word_count(LINES)


@pytest.mark.parametrize("cache", [True, False])
def test_pagerank(sc, cache):
    got = programs.pagerank(sc, EDGES, 10, cache=cache)
    assert got == programs.reference_pagerank(EDGES, 10)
    assert "orphan" not in dict(got) and "sink" in dict(got)


def test_join(sc):
    got = programs.join_example(sc, CUSTOMERS, ORDERS)
    assert got == programs.reference_join(CUSTOMERS, ORDERS)
    assert 0 < len(got) < len(ORDERS)          # some orders name no customer: an inner join drops them


@pytest.mark.parametrize("cache", [True, False])
def test_logistic_regression(sc, cache):
    w = programs.logistic_regression(sc, POINTS, 10, cache=cache)
    assert w == programs.reference_logistic_regression(POINTS, 10)
    assert all(wi > 0 for wi in w[1:])         # it learns the hyperplane's positive weights


def test_chapter09_word_count_as_an_rdd_job(sc):
    job = jobs.build_job("wordcount")
    got = programs.mapreduce(sc, job, JOB_FILES)
    assert got == sorted(jobs.reference(job, JOB_FILES), key=jobs.sort_key)
    # chapter 10's word count over the same lines counts the same words
    assert got == programs.word_count(sc, [line for doc in JOB_FILES.values() for line in doc])
    assert programs.mapreduce(sc, job.without_combiner(), JOB_FILES) == got


def test_chapter09_join_as_an_rdd_job(sc):
    files = jobs.sample_input("join", seed=2, lines=40)
    job = jobs.build_job("join")
    assert programs.mapreduce(sc, job, files) == sorted(jobs.reference(job, files), key=jobs.sort_key)


@pytest.mark.parametrize("partitions", [1, 5])
def test_partition_count_does_not_change_answers(sc, partitions):
    assert programs.word_count(sc, LINES, partitions) == programs.reference_word_count(LINES)
    assert programs.pagerank(sc, EDGES, 3, partitions=partitions) == programs.reference_pagerank(EDGES, 3)


@pytest.mark.parametrize("partitions", [1, 3])
def test_shuffle_partitions_and_step_by_step_drivers_do_not_change_answers(sc, partitions):
    # the form the simulated runs use (distlib.compute.rdd_runs): numPartitions on every shuffle, PageRank
    # driven one pagerank_step at a time (ranks cached), logistic regression one descend at a time over
    # points parsed from text
    lines = sc.parallelize(LINES, 2)
    assert sorted(programs.count_words(lines, partitions).collect()) == programs.reference_word_count(LINES)
    links, ranks = programs.page_links(sc.parallelize(EDGES, 2), True, partitions)
    for _ in range(3):
        ranks = programs.pagerank_step(links, ranks, partitions).cache()
    assert programs.rounded_ranks(ranks.collect()) == programs.reference_pagerank(EDGES, 3)
    points = sc.parallelize([programs.format_point(p) for p in POINTS], 2).map(programs.parse_point)
    w = programs.initial_w(POINTS)
    for _ in range(3):
        w = programs.descend(points, w, len(POINTS))
    assert programs.rounded(w) == programs.reference_logistic_regression(POINTS, 3)


# ---- the same lineage shape --------------------------------------------------------------------------
def test_spark_lineage_shape(spark_sc):
    text = sparkmod.debug_string(programs.word_count_rdd(spark_sc, LINES))
    assert text.count("+-(") == 1 and "ShuffledRDD" in text and "ParallelCollectionRDD" in text
    # PageRank: toDebugString prints a shared parent once per path to it. Iteration 1: distinct and
    # groupByKey under both sides of the join (links, and ranks = links.map) = 4, the join's shuffle,
    # reduceByKey's. Later joins shuffle nothing: ranks (reduceByKey + mapValues) and links are
    # hash-partitioned alike, so the union is partitioner-aware; each adds reduceByKey + links' 2.
    ranks = [programs.pagerank_rdd(spark_sc, EDGES, i) for i in (1, 2, 3)]
    assert [sparkmod.shuffle_boundaries(r) for r in ranks] == [6, 9, 12]
    # Each shuffled RDD once: distinct, groupByKey, the first join, one reduceByKey per iteration.
    assert [sparkmod.shuffle_boundaries(r, distinct=True) for r in ranks] == [4, 5, 6]


@pytest.mark.parametrize("master", ["local", "sim"])
def test_same_shuffle_boundaries_as_spark(spark_sc, master):
    ours = _ours(master)
    for build in (lambda c: programs.word_count_rdd(c, LINES),
                  lambda c: programs.pagerank_rdd(c, EDGES, 1),
                  lambda c: programs.pagerank_rdd(c, EDGES, 2)):
        theirs = sparkmod.debug_string(build(spark_sc))
        mine = sparkmod.debug_string(build(ours))
        both = f"ours:\n{mine}\nSpark:\n{theirs}"
        assert mine.count("+-(") == theirs.count("+-("), both
        assert (sparkmod.shuffle_boundaries(build(ours), distinct=True)
                == sparkmod.shuffle_boundaries(build(spark_sc), distinct=True)), both


def test_spark_app_reads_a_text_file(spark_sc, tmp_path):
    """What spark-submit runs (docs/spark-lab.md): the same program over sc.textFile instead of a list."""
    from distlib.compute import spark_app
    words = tmp_path / "words.txt"
    words.write_text("\n".join(LINES) + "\n")
    expected = sorted(programs.reference_word_count(LINES), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert spark_app.run(spark_sc, "wordcount", str(words), top=5) == expected
    edges = tmp_path / "edges.txt"
    edges.write_text("".join(f"{a} {b}\n" for a, b in EDGES) + "\n")
    ranks = sorted(programs.reference_pagerank(EDGES, 4), key=lambda kv: (-kv[1], kv[0]))[:3]
    got = spark_app.run(spark_sc, "pagerank", str(edges), iterations=4, top=3, output=str(tmp_path / "out"))
    assert [(page, round(rank, programs.DIGITS)) for page, rank in got] == ranks
    assert (tmp_path / "out" / "_SUCCESS").exists()


# ---- the session itself ------------------------------------------------------------------------------
def test_session_is_local_loopback_quiet_and_reused(spark_sc):
    conf = dict(spark_sc.getConf().getAll())
    assert spark_sc.master == "local[2]" and spark_sc.defaultParallelism == 2
    assert conf["spark.driver.host"] == "127.0.0.1" and conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.enabled"] == "false" and spark_sc.uiWebUrl is None
    assert conf["spark.ui.showConsoleProgress"] == "false"
    assert "log4j2-spark.properties" in conf["spark.driver.extraJavaOptions"]
    assert sparkmod.LOG4J.is_file()
    assert sparkmod.local_session(2).sparkContext is spark_sc      # one per process


def test_a_fresh_process_prints_nothing_on_stderr():
    """What a notebook cell would capture: the JVM starts with fd 2 on /dev/null, logs stay at warn,
    no progress bar -- stderr is empty and stdout is exactly the answer."""
    ok, why = sparkmod.spark_available()
    if not ok:
        _missing(why)
    code = textwrap.dedent("""
        from distlib.compute import programs, spark
        sc = spark.local_session(2).sparkContext
        print(programs.word_count(sc, ["b a", "a"]))
        print(spark.shuffle_boundaries(programs.word_count_rdd(sc, ["b a"])))
        spark.stop()
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout == "[('a', 2), ('b', 1)]\n1\n"
    assert out.stderr == ""


def test_availability_and_clear_errors_without_java(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    ok, why = sparkmod.spark_available()
    assert not ok and "no Java runtime" in why and "JAVA_HOME" in why
    monkeypatch.setattr(sparkmod, "_session", None)      # as if nothing had started in this process
    with pytest.raises(RuntimeError, match="cannot start Spark: no Java runtime"):
        sparkmod.local_session(2)
    monkeypatch.setattr(sparkmod.importlib.util, "find_spec", lambda name: None)
    ok, why = sparkmod.spark_available()
    assert not ok and "pyspark is not installed" in why and "make spark" in why


@pytest.mark.parametrize("call, message", [
    (lambda: sparkmod.local_session(0), "cores must be an integer >= 1 (got 0)"),
    (lambda: programs.word_count(None, LINES, partitions=0), "partitions must be an integer >= 1 (got 0)"),
    (lambda: programs.pagerank(None, EDGES, 0), "iterations must be an integer >= 1 (got 0)"),
    (lambda: programs.pagerank(None, EDGES, 2, partitions=0), "partitions must be an integer >= 1 (got 0)"),
    (lambda: programs.join_example(None, [], [], partitions=-1),
     "partitions must be an integer >= 1 (got -1)"),
    (lambda: programs.mapreduce(None, jobs.build_job("wordcount"), JOB_FILES, partitions=0),
     "partitions must be an integer >= 1 (got 0)"),
    (lambda: programs.logistic_regression(None, [], 3), "points must be a non-empty list"),
    (lambda: programs.count_words(rdd.Context("local").parallelize(LINES), 0),
     "partitions must be an integer >= 1 (got 0)"),
    (lambda: programs.page_links(rdd.Context("local").parallelize(EDGES), partitions=0),
     "partitions must be an integer >= 1 (got 0)"),
    (lambda: programs.initial_w([]), "points must be a non-empty list"),
    (lambda: programs.logistic_regression(None, POINTS, 3, step=0), "step must be a number > 0 (got 0)"),
    (lambda: programs.sample_graph(pages=1), "pages must be an integer >= 2 (got 1)"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
