"""The Dynamo-style store (distlib.storage.dynamo), version vectors, Merkle trees, PBS, and the
replication checker (distlib.check.replication).

Budget: about 25 s on 2 cores, most of it the two 300-seed sweeps.
"""

from __future__ import annotations

import pytest

from distlib.check.linearizability import check_linearizability
from distlib.check.models import KVStore
from distlib.check.replication import check_replication, lww_losses
from distlib.check.sweep import sweep
from distlib.sim import FaultSchedule, crash
from distlib.storage.dynamo import Config, DynamoNode, quorum_demo, random_dynamo, run_dynamo
from distlib.storage.merkle import MerkleTree, bucket_of, diff_buckets, repair_cost
from distlib.storage.pbs import standard_error, t_visibility, wars
from distlib.storage.register import run_register
from distlib.storage.versions import Version, VersionVector, compare, reconcile

VV = VersionVector.of


# ---- version vectors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("a, b, order", [
    ({"n1": 1}, {"n1": 2}, "before"),
    ({"n1": 2, "n2": 1}, {"n1": 2}, "after"),
    ({"n1": 1, "n2": 0}, {"n1": 1}, "equal"),
    ({"n1": 1}, {"n2": 1}, "concurrent"),
    ({"n1": 2, "n2": 1}, {"n1": 1, "n2": 2}, "concurrent"),
    ({}, {"n3": 1}, "before"),
])
def test_compare_version_vectors(a, b, order):
    assert compare(a, b) == order
    flipped = {"before": "after", "after": "before"}.get(order, order)
    assert compare(b, a) == flipped


def test_merge_is_the_pointwise_maximum_and_descends_from_both():
    a, b = VV({"n1": 3, "n2": 1}), VV({"n2": 4, "n3": 2})
    m = a.merge(b)
    assert m.as_dict() == {"n1": 3, "n2": 4, "n3": 2}
    assert m.compare(a) == "after" and m.compare(b) == "after" and m == b.merge(a)


def test_concurrent_versions_stay_siblings_and_a_merging_write_replaces_both():
    x = Version(("n1", 1), VV({}), "x")
    y = Version(("n2", 1), VV({}), "y")
    assert reconcile([x, y]) == (x, y) == reconcile([y, x, y])
    merged = Version(("n1", 2), x.clock.merge(y.clock), "xy")
    assert reconcile([x, y, merged]) == (merged,)


def test_dots_avoid_the_false_dominance_of_server_side_clocks():
    # One coordinator serves two clients that both read nothing: {n1:1} and {n1:2} as full vectors
    # would order them, but neither client saw the other's write.
    first = Version(("n1", 1), VV({}), "a")
    second = Version(("n1", 2), VV({}), "b")
    assert second.clock.compare(first.clock) == "after"          # what plain vectors would conclude
    assert reconcile([first, second]) == (first, second)          # both kept


# ---- Merkle trees ----------------------------------------------------------------------------------------
def test_merkle_descent_finds_exactly_the_differing_buckets():
    a = {f"k{i}": bytes([i % 7]) for i in range(500)}
    b = dict(a)
    for k in ("k3", "k77", "k400"):
        b[k] = b"changed"
    del b["k250"]
    ta, tb = MerkleTree(a, 6), MerkleTree(b, 6)
    found, rounds = diff_buckets(ta, tb)
    assert sorted(found) == sorted({bucket_of(k, 6) for k in ("k3", "k77", "k400", "k250")})
    assert rounds[0]["hashes"] == 1 and len(rounds) == 7
    assert diff_buckets(ta, MerkleTree(dict(a), 6)) == ([], [{"level": 0, "hashes": 1, "differing": 0}])


@pytest.mark.parametrize("keys, divergence, seed", [(2_000, 0.01, 0), (2_000, 0.2, 1), (500, 0.0, 2)])
def test_merkle_repair_is_exact_and_pays_off_only_for_small_divergence(keys, divergence, seed):
    r = repair_cost(keys, divergence, seed=seed)
    assert r["exact"]
    assert r["keys_sent"] >= r["differing_keys"]
    if divergence == 0:
        assert r["keys_sent"] == 0 and r["levels_exchanged"] == 1
    elif divergence <= 0.01:
        assert r["merkle_bytes"] < 0.3 * r["full_bytes"]
    else:   # a fifth of the keys differ: nearly every leaf differs, and the hashes are pure overhead
        assert r["merkle_bytes"] > r["full_bytes"]


# ---- the store: normal operation -------------------------------------------------------------------------
def test_fault_free_run_converges_with_siblings_kept():
    run = run_dynamo(1)
    assert run.check() == []
    assert run.counts()["ok"] == sum(run.counts().values())
    assert any(len(set(out)) > 1 for inv, done in run.history.pairs()
               if inv.f == "read" and done is not None and isinstance(out := done.value, tuple))


def test_sweep_correct_vv_store_300_seeds_no_violation():
    result = sweep(random_dynamo, range(300), check_replication)
    assert result.ok, (result.first_failing_seed, result.violations.get(result.first_failing_seed))


def test_sweep_strict_quorums_with_read_write_back_are_linearizable_300_seeds():
    config = Config(mode="lww", sloppy=False, write_back=True)
    assert config.strict
    result = sweep(lambda s: random_dynamo(s, config), range(300), check_replication)
    assert result.ok, (result.first_failing_seed, result.violations.get(result.first_failing_seed))


@pytest.mark.parametrize("seed, config", [(641, Config(r=1, w=1)), (2068, Config()),
                                          (4748, Config(mode="lww", sloppy=False, write_back=True))])
def test_regressions_from_the_10000_seed_sweep(seed, config):
    # 641: a duplicated Put made concurrent dots (n2, 3) and (n2, 4); a replica holding only the second
    # gave a reader the context {n2: 4}, whose next put obsoleted (n2, 3) unseen. Fixed by replicating
    # the coordinator's whole sibling set. 2068: anti-entropy needed longer to settle than 2.5.
    # 4748: a reply arriving during a get's write-back was merged into the answer, so the client was
    # told a value only one replica held (a later get read None: Illegal).
    assert random_dynamo(seed, config).check() == []


# ---- R + W > N alone is not linearizable -----------------------------------------------------------------
@pytest.mark.parametrize("cause, write_back, verdict", [
    ("no-write-back", False, "Illegal"), ("no-write-back", True, "Ok"),
    ("sloppy-quorum", False, "Illegal"), ("sloppy-quorum", True, "Illegal"),
])
def test_r_plus_w_above_n_alone_is_not_linearizable(cause, write_back, verdict):
    run = quorum_demo(cause, write_back=write_back)
    assert run.config.r + run.config.w > run.config.n
    assert check_linearizability(run.history, KVStore(None)).verdict == verdict


def test_abd_register_with_write_back_is_linearizable_on_the_same_kind_of_faults():
    for seed in range(20):
        faults = FaultSchedule.random(seed, ["n1", "n2", "n3"], horizon=3.0, faults=3)
        assert run_register("cp", seed, faults=faults, until=4.0).check().ok


def test_lww_with_a_fast_clock_loses_acknowledged_writes_and_the_loss_is_counted():
    skewed = Config(mode="lww", skew=(("n1", 0.5),))
    counts = [lww_losses(random_dynamo(s, skewed, faults=0, loss=0.0)) for s in range(5)]
    assert sum(c["skew"] for c in counts) > 0
    plain = [lww_losses(random_dynamo(s, Config(mode="lww"), faults=0, loss=0.0)) for s in range(5)]
    assert sum(c["skew"] for c in plain) == 0
    run = random_dynamo(0, skewed, faults=0, loss=0.0)
    assert check_replication(run) == [] or all("LWW" not in p for p in check_replication(run))
    if lww_losses(run)["lost"]:
        assert any("LWW lost" in p for p in check_replication(run, lww_losses_allowed=False))


# ---- broken variants -------------------------------------------------------------------------------------
def test_overwriting_read_repair_is_caught():
    config = Config(variant="overwriting-repair")
    result = sweep(lambda s: random_dynamo(s, config), range(100), check_replication)
    assert not result.ok
    assert any("lost" in v for vs in result.violations.values() for v in vs)


def _hint_scenario(variant: str):
    # k0's preference list loses two replicas (and the second fallback is down too): a put is acked by
    # the one live replica plus the first fallback's hint; that fallback restarts before the replicas
    # come back.
    config = Config(variant=variant)
    probe = run_dynamo(0, config, ops=0)
    pref = probe.preference("k0")
    ext = probe.world.nodes["n1"].extended("k0")
    fallback = ext[3]                # the first node past the preference list; ext[4] is down too
    faults = FaultSchedule([crash(pref[1], at=0.0, restart=2.5), crash(pref[2], at=0.0, restart=2.5),
                            crash(ext[4], at=0.0, restart=2.5), crash(fallback, at=1.6, restart=1.7)])
    return run_dynamo(0, config, faults=faults, keys=1, clients=1, ops=4, write_ratio=1.0, attempts=3,
                      horizon=1.0, handoff_interval=0.5)


def test_hints_dropped_on_restart_are_caught_and_kept_hints_are_not():
    bad = _hint_scenario("forgetful-hints")
    assert any("fewer than W=2" in p for p in bad.check())
    good = _hint_scenario("correct")
    assert good.check() == []
    assert good.acked and bad.acked


# ---- PBS -------------------------------------------------------------------------------------------------
def test_pbs_simulation_matches_the_wars_model():
    times = (0.0, 1.0, 3.0)
    sim = t_visibility(1, 1, trials=300, times=times)
    model = wars(1, 1, trials=20_000, times=times)
    for p_sim, p_model in zip(sim, model, strict=True):
        assert abs(p_sim - p_model) < 4 * standard_error(p_model, 300) + 0.01
    assert sim[0] < 0.9 and sim == sorted(sim)
    assert t_visibility(2, 2, trials=100, times=(0.0,)) == [1.0]


# ---- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("build, message", [
    (lambda: Config(r=0), "r must be an integer in 1..3 (got 0)"),
    (lambda: Config(w=4), "w must be an integer in 1..3 (got 4)"),
    (lambda: Config(n=6), "n must be an integer in 1..5 (the cluster size) (got 6)"),
    (lambda: Config(nodes=0), "nodes must be an integer in 1..26 (got 0)"),
    (lambda: Config(mode="crdt"), "mode must be one of vv, lww (got 'crdt')"),
    (lambda: Config(sloppy="yes"), "sloppy must be True or False (got 'yes')"),
    (lambda: Config(skew=(("n9", 0.1),)), "skew must map node names"),
    (lambda: Config(variant="nope"), "variant must be one of correct, overwriting-repair, forgetful-hints"),
    (lambda: DynamoNode(members=["n1", "n1"]), "members must be a non-empty list of distinct names"),
    (lambda: DynamoNode(members=["n1", "n2"], n=3), "n must be an integer in 1..2 (got 3)"),
    (lambda: DynamoNode(r=True), "r must be an integer in 1..3 (got True)"),
    (lambda: DynamoNode(replica_timeout=0), "replica_timeout must be a number > 0 (got 0)"),
    (lambda: run_dynamo(0, config={"n": 3}), "config must be a distlib.storage.dynamo.Config"),
    (lambda: run_dynamo(0, clients=0), "clients must be an integer in 1..20 (got 0)"),
    (lambda: run_dynamo(0, faults="crash n9 at 1"), "n9"),
    (lambda: repair_cost(0), "keys must be an integer >= 1 (got 0)"),
    (lambda: repair_cost(10, 1.5), "divergence must be a number in [0, 1] (got 1.5)"),
    (lambda: MerkleTree({}, depth=30), "depth must be an integer in 0..24 (got 30)"),
    (lambda: t_visibility(0, 1), "r must be an integer in 1..3 (got 0)"),
    (lambda: t_visibility(1, 1, times=()), "times must be a non-empty list"),
    (lambda: VersionVector.of({"n1": -1}), "counters must map node names to integers >= 0"),
])
def test_bad_input(build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert message in str(err.value)
