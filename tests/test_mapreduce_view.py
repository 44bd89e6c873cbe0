"""Chapter 09's MapReduce figures (distlib.viz.mapreduce_view): Gantt chart, shuffle Sankey, locality."""

from __future__ import annotations

import pytest

from distlib.compute.mapreduce import run_mapreduce
from distlib.viz.mapreduce_view import (
    dataflow_figure,
    dataflow_summary,
    gantt_figure,
    gantt_summary,
    locality_figure,
    locality_summary,
    lost_outputs,
    shuffle_matrix,
)


@pytest.fixture(scope="module")
def healthy():
    return run_mapreduce(0)


@pytest.fixture(scope="module")
def crashed():
    return run_mapreduce(0, faults="crash w2 at 1.2 restart 3")


@pytest.fixture(scope="module")
def straggler():
    return run_mapreduce(0, job="sort", lines=400, workers=6, maps=12, reduces=4, slow={"w3": 30.0},
                         until=400)


def traces(fig, name_part):
    return [t for t in fig.data if name_part in (t.name or "")]


def test_one_bar_per_recorded_phase_on_its_workers_lane(healthy):
    fig = gantt_figure(healthy)
    assert list(fig.layout.yaxis.categoryarray) == ["w4", "w3", "w2", "w1"]
    bars = [t for t in fig.data if t.type == "bar"]
    spans = [s for w in healthy.workers for s in healthy.world.storage[w]["timeline"]]
    assert sum(len(b.x) for b in bars) == len(spans) == 8 * 3 + 3 * 4
    reads = traces(fig, "map: read block")[0]
    assert sorted(reads.y) == ["w1", "w1", "w2", "w2", "w3", "w3", "w4", "w4"]
    shuffle = traces(fig, "reduce: shuffle")[0]
    assert all(b > 1.0 for b in shuffle.base)          # reduces start once every map task is done
    labels = next(t for t in fig.data if t.type == "scatter" and t.mode == "text")
    assert sorted(labels.text) == sorted([f"m{i}" for i in range(8)] + ["r0", "r1", "r2"])
    assert not traces(fig, "crash") and not traces(fig, "lost")
    assert fig.layout.shapes[0].x0 == healthy.job_time
    assert gantt_summary(healthy).splitlines() == [
        "w1: m1 0.01-0.57, m7 0.57-1.24, r0 1.24-2.39",
        "w2: m2 0.00-0.57, m6 0.57-1.22, r1 1.24-2.29",
        "w3: m3 0.01-0.57, m5 0.57-1.14, r2 1.24-2.35",
        "w4: m0 0.00-0.55, m4 0.55-1.13",
        "job done in 2.39 s: 8 map attempts for 8 tasks, 3 reduce attempts for 3; 0 backups, "
        "0 re-executions, 0 map outputs lost",
    ]


def test_a_crash_marks_the_lost_output_the_lost_attempt_and_the_re_execution(crashed):
    assert lost_outputs(crashed) == {2: (2.25, "w2")}     # map task 2's attempt 2 finished on w2, then died
    fig = gantt_figure(crashed)
    assert list(traces(fig, "crash")[0].y) == ["w2"] and list(traces(fig, "restart")[0].y) == ["w2"]
    ring = traces(fig, "map output lost")[0]
    assert list(ring.y) == ["w2"] and "map task 2" in ring.hovertext[0]
    lost = traces(fig, "lost with its worker")[0]
    assert list(lost.y) == ["w2"] and lost.base[0] + lost.x[0] == pytest.approx(2.25)
    assert list(traces(fig, "master declares")[0].x) == [2.25]
    patterns = [p for t in fig.data if t.type == "bar" for p in t.marker.pattern.shape]
    assert "x" in patterns and "/" in patterns            # the re-run of m2 and the backup of m6
    text = gantt_summary(crashed)
    assert "w2: m2 0.00-0.57 OUTPUT-LOST, m6 0.57-2.25 LOST" in text
    assert "m2 2.25-2.82 re-run" in text and "m6 1.76-2.41 backup" in text
    assert "faults: w2 crash @1.20, w2 restart @3.00" in text
    assert text.endswith("1 backups, 1 re-executions, 1 map outputs lost")


def test_the_straggler_and_its_backup(straggler):
    fig = gantt_figure(straggler)
    stopped = traces(fig, "stopped")[0]
    assert set(stopped.y) == {"w3"}                       # both of w3's attempts lost the race
    labels = next(t for t in fig.data if t.type == "scatter" and t.mode == "text")
    assert "m7 backup" in labels.text and "r2 backup" in labels.text
    assert "w3: m7 0.01-2.51 KILLED, r2 2.70-8.37 KILLED" in gantt_summary(straggler)


def test_the_shuffle_matrix_is_the_bytes_delivered(healthy, straggler):
    for run in (healthy, straggler):
        flows = shuffle_matrix(run)
        assert sum(flows.values()) == run.shuffle_bytes()
        assert all(0 <= m < len(run.splits) and 0 <= r < run.reduces for m, r in flows)
    fig = dataflow_figure(healthy)
    sankey = fig.data[0]
    assert len(sankey.node.label) == 8 + 3
    assert sum(sankey.link.value) == healthy.shuffle_bytes() == 1312
    assert sankey.node.label[8] == "reduce 0: 486 B in, 14 records"
    assert dataflow_summary(healthy).splitlines()[:2] == [
        "input 2892 B in 8 splits; shuffle 1312 B (with combiner, 45% of the input); output 38 records",
        "into each reduce task: r0 486 B, r1 403 B, r2 423 B",
    ]


def test_without_the_combiner_the_shuffle_is_larger():
    without = run_mapreduce(0, combiner=False)
    assert "without combiner" in dataflow_figure(without).layout.title.text
    assert sum(shuffle_matrix(without).values()) > 2 * 1312
    assert "(without combiner, " in dataflow_summary(without)


def test_locality_counts_per_run(healthy, straggler):
    runs = {"wordcount": healthy, "sort": straggler}
    fig = locality_figure(runs)
    assert [t.name for t in fig.data] == ["wordcount", "sort"]
    assert list(fig.data[1].y) == [12, 1, 0]
    assert locality_summary(runs).splitlines() == [
        "wordcount: local 8, same rack 0, another rack 0 of 8 map attempts (100% local)",
        "sort: local 12, same rack 1, another rack 0 of 13 map attempts (92% local)",
    ]
    assert locality_summary(healthy).startswith("wordcount, 4 workers: local 8")


def test_same_run_same_json():
    a = run_mapreduce(2, faults="crash w1 at 0.8 restart 2")
    b = run_mapreduce(2, faults="crash w1 at 0.8 restart 2")
    assert gantt_figure(a).to_json() == gantt_figure(b).to_json()
    assert dataflow_figure(a).to_json() == dataflow_figure(b).to_json()
    assert gantt_summary(a) == gantt_summary(b)


@pytest.mark.parametrize("fn", [gantt_figure, gantt_summary, dataflow_figure, dataflow_summary,
                                locality_figure, locality_summary, shuffle_matrix, lost_outputs])
@pytest.mark.parametrize("bad", [None, "run", 3])
def test_bad_input(fn, bad):
    with pytest.raises(ValueError, match="run must be a MapReduceRun"):
        fn(bad)


def test_an_empty_dict_of_runs_is_refused():
    with pytest.raises(ValueError, match="runs must not be empty"):
        locality_figure({})
