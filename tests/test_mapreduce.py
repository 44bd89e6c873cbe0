"""MapReduce on the simulated cluster (distlib.compute) and its checker (distlib.check.mapreduce).

Budget: about 15 s on 2 cores, most of it the 300-seed sweep.
"""

from __future__ import annotations

from collections import Counter

import pytest

from distlib.check.mapreduce import check_counting, check_exit, check_mapreduce
from distlib.check.sweep import sweep
from distlib.compute.dfs import DFS, split_counts
from distlib.compute.jobs import (
    JOB_NAMES,
    Job,
    build_job,
    hash_partition,
    reference,
    sample_input,
)
from distlib.compute.mapreduce import Region, random_mapreduce, run_mapreduce
from distlib.partitioning.hashing import stable_hash


def done_attempts(run, kind):
    return {a: i for a, i in run.attempts.items() if i["kind"] == kind and i["status"] == "done"}


# ---- normal operation ------------------------------------------------------------------------------
@pytest.mark.parametrize("job", JOB_NAMES)
def test_every_job_equals_its_sequential_reference_and_runs_each_task_once(job):
    run = run_mapreduce(3, job=job, backups=False)
    assert run.status == "done"
    assert check_mapreduce(run) == []
    assert Counter(run.records()) == Counter(reference(run.job, run.files))
    assert set(run.executions("map").values()) == {1}
    assert set(run.executions("reduce").values()) == {1}
    assert sorted(run.output_files()) == [f"out/part-{r:05d}" for r in range(3)]


def test_the_reference_is_what_a_reader_expects():
    files = {"a.txt": ["the cat", "the dog"], "b.txt": ["a cat"]}
    assert reference(build_job("wordcount"), files) == [("a", 1), ("cat", 2), ("dog", 1), ("the", 2)]
    assert reference(build_job("invindex"), files)[1] == ("cat", ("a.txt", "b.txt"))
    assert reference(build_job("grep", pattern="dog"), files) == [("a.txt", 1, "the dog")]


def test_sort_output_is_globally_sorted_across_part_files():
    run = run_mapreduce(0, job="sort", lines=300, reduces=4, backups=False)
    keys = [rec[0] for rec in run.records()]
    assert keys == sorted(keys) and len(keys) == 300
    sizes = [len(r) for r in run.output_files().values()]
    assert min(sizes) > 300 / 4 / 3          # sampled boundaries split the keys roughly evenly


def test_the_join_pairs_every_order_with_its_customer():
    files = {"customers.csv": ["c1,ada", "c2,bob"], "orders.csv": ["o1,c1,5", "o2,c1,7", "o3,c9,1"]}
    run = run_mapreduce(0, job="join", files=files, maps=2, reduces=2)
    assert sorted(run.records()) == [("c1", "ada", "o1", 5), ("c1", "ada", "o2", 7)]


def test_the_default_partitioner_is_a_stable_hash_not_pythons_hash():
    for key in ("the", "map", 7, ("doc1.txt", 3)):
        assert hash_partition(key, 5) == stable_hash(key) % 5
    run = run_mapreduce(1, job="wordcount", backups=False)
    for r, path in enumerate(run.output_files()):
        assert all(stable_hash(word) % run.reduces == r for word, _ in run.output_files()[path])


def test_the_combiner_shrinks_the_shuffle_and_keeps_the_output():
    with_c = run_mapreduce(2, job="wordcount", combiner=True, backups=False)
    without = run_mapreduce(2, job="wordcount", combiner=False, backups=False)
    assert Counter(with_c.records()) == Counter(without.records())
    assert with_c.shuffle_bytes() < 0.7 * without.shuffle_bytes()


def test_maps_read_their_block_locally_when_a_replica_holder_is_free():
    run = run_mapreduce(0, workers=4, maps=8, backups=False)
    assert run.reads() == {"local": 8, "rack": 0, "remote": 0}
    # one copy per block and a slow holder: a free worker reads the slow one's other block over the network
    one_copy = run_mapreduce(0, workers=4, maps=8, replication=1, backups=False, slow={"w1": 30.0}, until=300)
    reads = one_copy.reads()
    assert reads["rack"] + reads["remote"] > 0 and sum(reads.values()) == 8
    assert any(r.kind == "send" and type(r.msg).__name__ == "ReadBlock" for r in one_copy.world.trace.records)
    assert check_mapreduce(one_copy) == []


def test_same_seed_same_trace():
    a = run_mapreduce(5, job="invindex", loss=0.05, faults="crash w1 at 0.8 restart 2")
    b = run_mapreduce(5, job="invindex", loss=0.05, faults="crash w1 at 0.8 restart 2")
    assert [r.describe() for r in a.world.trace.records] == [r.describe() for r in b.world.trace.records]


# ---- the DFS -------------------------------------------------------------------------------------------
def test_blocks_get_three_replicas_on_two_racks_hdfs_style():
    nodes = [f"w{i}" for i in range(1, 7)]
    dfs = DFS(nodes, racks=2, replication=3)
    dfs.put("f", [f"line {i}" for i in range(60)], blocks=12)
    for block, where in dfs.locations.items():
        assert len(set(where)) == 3
        racks = [dfs.racks[n] for n in where]
        assert racks[0] != racks[1] and racks[1] == racks[2], (block, where)
    assert max(dfs.load.values()) - min(dfs.load.values()) <= 1      # least-loaded first
    assert sum(len(dfs.held_by(n)) for n in nodes) == 36


def test_splits_cover_the_input_in_order():
    files = sample_input("wordcount", 0, lines=50)
    dfs = DFS(["w1", "w2", "w3"])
    splits = dfs.load_input(files, 7)
    assert [s.task for s in splits] == list(range(7))
    assert [line for s in splits for line in dfs.blocks[s.block]] == [x for v in files.values() for x in v]
    assert split_counts([10, 1, 30], 6) == [2, 1, 3]


# ---- fault tolerance by re-execution (§3.3) -------------------------------------------------------------
def test_a_crashed_workers_completed_maps_rerun_but_its_finished_reduce_does_not():
    # R=8 on 4 workers: reduce tasks run in two waves, so when the first finished reduce's worker
    # crashes, the second wave still needs that worker's map output
    base = run_mapreduce(0, workers=4, maps=8, reduces=8, backups=False)
    first = min(done_attempts(base, "reduce").values(), key=lambda i: i["end"])
    victim, at = first["worker"], first["end"] + 0.01
    its_maps = sorted(i["task"] for i in done_attempts(base, "map").values() if i["worker"] == victim)
    assert its_maps and at < base.job_time
    run = run_mapreduce(0, workers=4, maps=8, reduces=8, backups=False, faults=f"crash {victim} at {at}")
    assert check_mapreduce(run) == []
    ex = run.executions("map")
    assert [m for m in range(8) if ex[m] == 2] == its_maps                  # re-executed, nothing else
    assert all(run.attempts[a]["reexec"] for a in run.attempts
               if run.attempts[a]["kind"] == "map" and run.attempts[a]["start"] > at)
    assert run.executions("reduce")[first["task"]] == 1                      # its output is in the DFS
    # the broken master keeps the dead worker's map output "completed": the reducers wait for ever
    broken = run_mapreduce(0, workers=4, maps=8, reduces=8, backups=False, until=30,
                           faults=f"crash {victim} at {at}", broken="forget-maps")
    assert broken.status == "running"
    assert any("did not finish" in v for v in check_mapreduce(broken))


def test_a_paused_worker_is_declared_dead_and_rejoins_with_a_new_incarnation():
    run = run_mapreduce(4, workers=4, backups=False, faults="pause w2 at 0.5 until 3")
    assert check_mapreduce(run) == []
    assert run.failures_detected() >= 1
    assert run.world.storage["w2"]["inc"] == 2


def test_messages_lost_and_duplicated_change_nothing():
    run = run_mapreduce(6, job="join", loss=0.15, duplicate=0.1)
    assert check_mapreduce(run) == []


def test_a_failed_master_aborts_the_job_as_in_the_paper():
    run = run_mapreduce(0, faults="crash master at 0.5 restart 0.6")
    assert run.status == "failed" and "master failed" in run.error
    assert any("did not finish" in v for v in check_mapreduce(run))


# ---- stragglers and backup tasks (§3.6) ------------------------------------------------------------------
def test_backup_tasks_cut_the_time_a_straggler_costs():
    kw = dict(job="sort", lines=400, workers=6, maps=12, reduces=4, slow={"w3": 30.0}, until=500)
    on = run_mapreduce(0, backups=True, **kw)
    off = run_mapreduce(0, backups=False, **kw)
    assert check_mapreduce(on) == [] and check_mapreduce(off) == []
    assert any(i["backup"] for i in on.attempts.values())
    assert on.job_time < 0.25 * off.job_time
    healthy = run_mapreduce(0, backups=True, **{**kw, "slow": {}})
    assert on.job_time < 3 * healthy.job_time


# ---- user errors: retried, then the job fails naming the task --------------------------------------------
def test_a_raising_map_function_fails_the_job_naming_the_task():
    def bad_map(key, line):
        if key[1] == 7:
            raise ZeroDivisionError("bad record")
        return [(w, 1) for w in line.split()]
    job = Job("bad", bad_map, lambda k, vs: [(k, sum(vs))])
    run = run_mapreduce(0, job=job, files={"f": [f"w{i} x" for i in range(20)]}, maps=4, max_failures=3)
    assert run.status == "failed"
    assert run.error == "map task 1 failed 3 times: ZeroDivisionError: bad record"
    assert run.job_time < 10 and all("exited_at" in run.world.storage[w] for w in run.workers)


def test_a_partitioner_outside_the_regions_fails_the_job_with_a_clear_error():
    job = Job("p", lambda k, line: [(line, 1)], lambda k, vs: [(k, len(vs))], partitioner=lambda k, r: r)
    run = run_mapreduce(0, job=job, files={"f": ["a", "b", "c"]}, maps=3, reduces=2)
    assert run.status == "failed"
    assert run.error.startswith("map task ") and " failed 3 times: ValueError: partitioner must return a " \
        "region in 0..1 (got 2 for key " in run.error


# ---- the checker catches the broken variants --------------------------------------------------------------
def test_append_without_rename_doubles_output_and_is_caught():
    found = []
    for seed in range(120):
        run = random_mapreduce(seed, broken="append")
        violations = check_mapreduce(run)
        if violations:
            found.append(seed)
            assert any("counted more than once" in v for v in violations)
    assert len(found) >= 3, found
    # the same seeds with the atomic rename are correct
    assert all(check_mapreduce(random_mapreduce(seed)) == [] for seed in found)


def test_the_checker_sees_double_counting_and_early_exits():
    run = run_mapreduce(0, backups=False)
    assert check_counting(run) == [] and check_exit(run) == []
    twin = dict(next(iter(done_attempts(run, "map").values())))
    run.attempts[max(run.attempts) + 1] = twin
    assert any("counted complete 2 times" in v for v in check_counting(run))
    run.world.storage["w1"]["exited_at"] = 0.1
    assert any("exited at 0.1" in v for v in check_exit(run))


def test_the_output_check_lists_missing_and_extra_records():
    run = run_mapreduce(0, backups=False)
    nn = run.world.storage["nn"]["files"]
    nn["out/part-00000"] = nn["out/part-00000"][1:] + (("zzz", 1),)
    found = check_mapreduce(run)
    assert any("1 missing" in v and "1 extra" in v and "('zzz', 1)" in v for v in found)


def test_shuffle_bytes_are_read_from_the_trace():
    run = run_mapreduce(0, backups=False)
    regions = [r for r in run.world.trace.records if r.kind == "deliver" and isinstance(r.msg, Region)]
    assert len(regions) == 8 * 3 and run.shuffle_bytes() == sum(r.msg.size for r in regions)


# ---- sweeps ---------------------------------------------------------------------------------------------
def test_300_random_runs_under_faults_all_correct():
    result = sweep(random_mapreduce, range(300), check_mapreduce)
    assert result.ok, (result.first_failing_seed, result.violations)
    assert result.outcomes == {"done": 300}


# ---- bad input ------------------------------------------------------------------------------------------
BAD = [
    (run_mapreduce, {"maps": 0}, "maps must be an integer in 3..120 (got 0)"),
    (run_mapreduce, {"reduces": 0}, "reduces must be an integer >= 1 (got 0)"),
    (run_mapreduce, {"workers": 0}, "workers must be an integer in 1..64 (got 0)"),
    (run_mapreduce, {"workers": 2}, "replication must be an integer in 1..2 (got 3)"),
    (run_mapreduce, {"racks": 9}, "racks must be an integer in 1..4 (got 9)"),
    (run_mapreduce, {"job": "pagerank"}, "job must be one of wordcount, invindex, grep, sort, join"),
    (run_mapreduce, {"files": {}}, "files must map file names to lists of lines"),
    (run_mapreduce, {"files": {"a.txt": []}}, "files['a.txt'] must not be empty"),
    (run_mapreduce, {"files": {"a.txt": "one line"}}, "files['a.txt'] must be a list of lines"),
    (run_mapreduce, {"files": {"a": ["x"]}, "maps": 2}, "maps must be an integer in 1..1 (got 2)"),
    (run_mapreduce, {"slow": {"w9": 3}}, "slow worker must be one of w1, w2, w3, w4 (got 'w9')"),
    (run_mapreduce, {"slow": {"w1": 0.5}}, "slow['w1'] must be a number >= 1 (got 0.5)"),
    (run_mapreduce, {"broken": "nope"}, "broken must be one of append, forget-maps (got 'nope')"),
    (run_mapreduce, {"combiner": "yes"}, "combiner must be True or False (got 'yes')"),
    (run_mapreduce, {"seed": -1}, "seed must be a non-negative integer (got -1)"),
    (run_mapreduce, {"faults": "crash w7 at 1"}, "unknown node 'w7'"),
    (run_mapreduce, {"job": "grep", "pattern": "("}, "pattern must be a regular expression"),
    (run_mapreduce, {"until": 0}, "until must be a number > 0 (got 0)"),
    (run_mapreduce, {"max_failures": 0}, "max_failures must be an integer >= 1 (got 0)"),
    (run_mapreduce, {"master_cls": DFS}, "master_cls must be a subclass of Master"),
    (DFS, {"nodes": ["a", "b"], "replication": 3}, "replication must be an integer in 1..2 (got 3)"),
    (DFS, {"nodes": []}, "nodes must be a non-empty list of distinct names"),
    (build_job, {"name": "nope"}, "job must be one of wordcount"),
    (build_job, {"name": "sort"}, "files must be given for the sort job"),
    (sample_input, {"job": "wordcount", "lines": 0}, "lines must be an integer >= 1 (got 0)"),
]


@pytest.mark.parametrize("fn, kwargs, fragment", BAD, ids=[f"{f.__name__}-{'-'.join(k)}-{i}"
                                                          for i, (f, k, _) in enumerate(BAD)])
def test_bad_input_is_a_value_error_naming_the_parameter(fn, kwargs, fragment):
    with pytest.raises(ValueError) as err:
        fn(**kwargs)
    assert fragment in str(err.value)
