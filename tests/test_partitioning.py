"""Placement strategies (distlib.partitioning): lookups, measured properties, bad input.

Budget: about 10 s on 2 cores.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from distlib.partitioning import hashing, metrics, placement
from distlib.partitioning.hashing import MASK64, hash_array, jump, stable_hash
from distlib.partitioning.metrics import fit_exponent, imbalance_vs_vnodes, keys_moved, movement
from distlib.partitioning.placement import (
    BoundedLoadRing,
    JumpHash,
    ModN,
    Rendezvous,
    Ring,
    make_placement,
)

KEYS = [f"user:{i}" for i in range(3000)]
CLASSES = (ModN, Ring, JumpHash, Rendezvous, BoundedLoadRing)


# ---- the hash ---------------------------------------------------------------------------------------
def test_stable_hash_is_pinned_and_the_same_in_another_process():
    assert stable_hash("a") == 11881906679622767379
    # Python's hash() of a str changes with PYTHONHASHSEED; ours must not.
    code = "from distlib.partitioning import stable_hash; print(stable_hash('a'), hash('a'))"
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": s}).stdout.split() for s in ("1", "2")]
    assert outs[0][0] == outs[1][0] == "11881906679622767379"
    assert outs[0][1] != outs[1][1]


def test_key_types_are_distinct_keys():
    assert len({stable_hash("7"), stable_hash(b"7"), stable_hash(7), stable_hash(("7",))}) == 4
    assert stable_hash(("a", "bc")) != stable_hash(("ab", "c"))     # tuple parts are length-prefixed


def test_jump_matches_the_papers_recurrence_on_published_vectors():
    # Vectors of ClickHouse's jumpConsistentHash test (tests/queries/0_stateless/00580_...), which
    # implements Lamping & Veach's Figure 1 in C++.
    got = [jump(1, 1), jump(42, 57), jump(256, 1024), jump(3735883980, 1), jump(3735883980, 666),
           jump(16045690984833335023, 255)]
    assert got == [0, 43, 520, 0, 361, 237]


def test_jump_moves_a_key_only_to_the_new_bucket():
    for h in (stable_hash(k) for k in KEYS[:500]):
        for n in range(1, 30):
            a, b = jump(h, n), jump(h, n + 1)
            assert a == b or b == n


# ---- lookups ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES)
def test_batch_lookup_equals_single_lookups(cls):
    p = cls(["a", "b", "c", "d", "e"])
    hashes = hash_array(KEYS)
    assert [p.nodes[i] for i in p.lookup(hashes).tolist()] == [p.owner(k) for k in KEYS]


@pytest.mark.parametrize("cls", CLASSES)
def test_pure_python_path_without_numpy_gives_the_same_owners(cls, monkeypatch):
    p = cls(["a", "b", "c", "d", "e"])
    expected = p.lookup(hash_array(KEYS[:300])).tolist()
    for mod in (hashing, placement, metrics):
        monkeypatch.setattr(mod, "np", None)
    hashes = hash_array(KEYS[:300])
    assert isinstance(hashes, list)
    assert p.lookup(hashes) == expected


@pytest.mark.parametrize("cls", CLASSES)
def test_owners_are_distinct_and_start_with_the_owner(cls):
    p = cls(["a", "b", "c", "d", "e"])
    for k in KEYS[:200]:
        reps = p.owners(k, 3)
        assert len(set(reps)) == 3 and reps[0] == p.owner(k)
    assert sorted(p.owners("x", 5)) == ["a", "b", "c", "d", "e"]


def test_ring_wraps_around_past_the_largest_position():
    ring = Ring(["a", "b", "c"], vnodes=4)
    pts = ring.points()
    first_pos, first_node = pts[0]
    last_pos, last_node = pts[-1]
    assert ring.owner_of_hash(MASK64) == first_node            # past the top: back to the start
    assert ring.owner_of_hash(last_pos + 1) == first_node
    assert ring.owner_of_hash(0) == first_node
    assert ring.owner_of_hash(last_pos) == last_node            # exactly on a position: that node
    mid_pos, mid_node = pts[5]
    assert ring.owner_of_hash(pts[4][0] + 1) == mid_node
    assert ring.lookup([MASK64, last_pos, pts[4][0] + 1]).tolist() == \
        [ring.nodes.index(first_node), ring.nodes.index(last_node), ring.nodes.index(mid_node)]


def test_ring_preference_list_skips_vnodes_of_chosen_nodes():
    ring = Ring(["a", "b", "c"], vnodes=50)
    pts = ring.points()
    h = pts[0][0]
    walk = []
    for _, node in pts:
        if node not in walk:
            walk.append(node)
    assert ring.owners_of_hash(h, 3) == walk


@pytest.mark.parametrize("cls", (Ring, Rendezvous))
def test_weights_set_the_share(cls):
    p = cls({"a": 1, "b": 1, "c": 2})
    st = metrics.load_stats(p, metrics.sample_hashes(40_000))
    share = {n: c / 40_000 for n, c in st.loads.items()}
    tol = 0.05 if cls is Ring else 0.01
    assert abs(share["c"] - 0.5) < tol and abs(share["a"] - 0.25) < tol
    assert Ring({"a": 1, "b": 2.5}, vnodes=10).vnode_count("b") == 25


def test_modn_integer_weights_are_slots():
    p = ModN({"a": 1, "b": 3})
    counts = metrics.load_stats(p, metrics.sample_hashes(8000)).loads
    assert 0.2 < counts["a"] / 8000 < 0.3


# ---- measured properties (the numbers) ----------------------------------------------------------
@pytest.mark.parametrize("change", ["join", "leave"])
def test_ring_with_100_vnodes_moves_within_1_1_of_ideal(change):
    m = movement("ring", change, vnodes=100, keys=20_000, trials=6)
    assert m.minimal and m.ratio <= 1.1


@pytest.mark.parametrize("kind", ["jump", "rendezvous"])
@pytest.mark.parametrize("change", ["join", "leave"])
def test_jump_and_rendezvous_move_exactly_the_necessary_keys(kind, change):
    m = movement(kind, change, keys=20_000, trials=3)
    assert m.minimal and m.moved == m.necessary
    assert 0.85 < m.ratio < 1.15


def test_jump_removing_a_middle_node_also_moves_the_last_nodes_keys():
    m = movement("jump", "leave", leaver=0, keys=20_000, trials=3)
    assert not m.minimal and 1.7 < m.ratio < 2.3


def test_rendezvous_removing_any_node_is_minimal():
    assert movement("rendezvous", "leave", leaver=0, keys=10_000, trials=2).minimal


@pytest.mark.parametrize("n", [3, 10])
def test_modn_moves_about_n_over_n_plus_1(n):
    m = movement("modn", "join", nodes=n, keys=20_000, trials=2)
    assert abs(m.fraction - n / (n + 1)) < 0.02


def test_cv_shrinks_like_one_over_sqrt_vnodes():
    rows = imbalance_vs_vnodes((1, 4, 16, 64, 256), nodes=10, keys=20_000, trials=4)
    slope = fit_exponent([r["vnodes"] for r in rows], [r["cv_arcs"] for r in rows])
    assert -0.65 < slope < -0.35, slope
    assert rows[-1]["cv"] < rows[0]["cv"] / 5


def test_keys_moved_counts_by_name_not_by_index():
    a = Ring(["x", "y", "z"])
    b = Ring(["z", "y", "x"])          # same members, another order: same owners
    assert keys_moved(a, b, hash_array(KEYS)) == 0


# ---- bounded loads ----------------------------------------------------------------------------------
def test_bounded_loads_never_exceed_capacity_and_capacity_is_exact():
    b = BoundedLoadRing(["a", "b", "c", "d"], vnodes=1, eps=0.1)   # 1 vnode: the plain ring is very uneven
    b.place_all(KEYS)
    assert max(b.loads().values()) <= b.capacity(len(KEYS)) == 825
    plain = metrics.load_stats(Ring(["a", "b", "c", "d"], vnodes=1), hash_array(KEYS))
    assert max(plain.loads.values()) > 825
    assert BoundedLoadRing(["a"], eps=0.1).capacity(10) == 11      # not 12: eps is one tenth exactly


def test_bounded_keeps_a_placed_key_where_it_is_and_re_places_on_membership_change():
    b = BoundedLoadRing(["a", "b", "c"], eps=0.5)
    first = b.place_all(KEYS[:600])
    assert all(b.owner(k) == n for k, n in first.items())
    b.add("d")
    assert sum(b.loads().values()) == 600 and max(b.loads().values()) <= b.capacity(600)


# ---- bad input: one table of every entry point ------------------------------------------------------------
BAD = [
    ("no nodes", lambda: Ring([]), "nodes must name at least one node"),
    ("nodes a string", lambda: Ring("abc"), "nodes must be a list of node names"),
    ("duplicate names", lambda: Rendezvous(["a", "b", "a"]), "must have distinct names (got 'a' twice)"),
    ("empty name", lambda: ModN(["a", ""]), "node must be a non-empty string"),
    ("weight 0", lambda: Ring({"a": 0}), "weight must be a number > 0 (got 0)"),
    ("weight negative", lambda: Rendezvous({"a": 1, "b": -2}), "weight must be a number > 0"),
    ("weight nan", lambda: Ring(["a"]).add("b", float("nan")), "weight must be a number > 0"),
    ("modn fractional weight", lambda: ModN({"a": 1.5}), "weight must be an integer >= 1"),
    ("jump weight", lambda: JumpHash({"a": 2}), "weight must be 1 for jump hash"),
    ("vnodes 0", lambda: Ring(["a"], vnodes=0), "vnodes must be an integer >= 1 (got 0)"),
    ("vnodes float", lambda: Ring(["a"], vnodes=2.5), "vnodes must be an integer >= 1"),
    ("eps 0", lambda: BoundedLoadRing(["a"], eps=0), "eps must be a number > 0"),
    ("replicas > cluster", lambda: Ring(["a", "b"]).owners("k", 3), "n must be an integer in 1..2 (got 3)"),
    ("replicas 0", lambda: JumpHash(["a", "b"]).owners("k", 0), "n must be an integer in 1..2"),
    ("join existing", lambda: Ring(["a", "b"]).add("a"), "node must not already be a member (got 'a'"),
    ("remove missing", lambda: Rendezvous(["a", "b"]).remove("z"), "node must be one of a, b (got 'z')"),
    ("remove the last node", lambda: ModN(["a"]).remove("a"), "is the last member"),
    ("unhashable key list", lambda: Ring(["a"]).owner(["x"]), "key must be a str, bytes, int or a tuple"),
    ("unhashable key dict", lambda: JumpHash(["a"]).owners({"x": 1}, 1), "key must be a str, bytes, int"),
    ("float key", lambda: Rendezvous(["a"]).owner(1.0), "key must be a str, bytes, int"),
    ("list inside a tuple key", lambda: ModN(["a"]).owner(("a", [1])), "key must be a str, bytes, int"),
    ("bounded place unhashable", lambda: BoundedLoadRing(["a"]).place({1}), "key must be a str"),
    ("hash out of range", lambda: Ring(["a"]).owner_of_hash(-1), "h must be an integer in 0.."),
    ("hash array dtype", lambda: Ring(["a"]).lookup(hashing.np.array([1.5])), "hashes must be a uint64"),
    ("unknown strategy", lambda: make_placement("chord", ["a"]), "kind must be one of modn, ring, jump"),
    ("option for wrong strategy", lambda: make_placement("jump", ["a"], vnodes=3), "does not apply to jump"),
    ("movement change", lambda: movement("ring", "split"), "change must be one of join, leave"),
    ("movement leaver", lambda: movement("ring", "leave", nodes=3, leaver=5), "leaver must be an integer"),
    ("fit too short", lambda: fit_exponent([1], [1]), "xs and ys must be two sequences"),
]


@pytest.mark.parametrize("label,call,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_a_value_error_naming_the_parameter(label, call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)
