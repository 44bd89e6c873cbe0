"""Maglev hashing (distlib.partitioning.maglev; Eisenbud et al., NSDI 2016, §3.4).

Budget: about 5 s on 2 cores.
"""

from __future__ import annotations

import copy

import pytest

from distlib.partitioning import make_placement
from distlib.partitioning.hashing import hash_array, stable_hash
from distlib.partitioning.maglev import Maglev, disruption, is_prime, maglev_table
from distlib.partitioning.metrics import movement


def test_population_loop_by_hand():
    """M = 7, three backends with (offset, skip) = (3, 4), (0, 2), (3, 1), so the preference lists
    are B0: 3 0 4 1 5 2 6, B1: 0 2 4 6 1 3 5, B2: 3 4 5 6 0 1 2. Turns: B0 takes 3, B1 takes 0,
    B2 finds 3 taken and takes 4; B0 finds 0 taken, 4 taken, takes 1; B1 takes 2; B2 takes 5;
    B0 finds 5 and 2 taken and takes 6: the table is full."""
    assert maglev_table([(3, 4), (0, 2), (3, 1)], 7) == [1, 0, 1, 0, 2, 2, 0]
    # Without B1: B0 3, B2 4, B0 0, B2 5, B0 (4 taken) 1, B2 6, B0 (5 taken) 2.
    assert maglev_table([(3, 4), (3, 1)], 7) == [0, 0, 0, 0, 1, 1, 1]
    # B0's slots 1 and 3 stay B0 and B2's 4 and 5 stay B2: only B1's slots (0, 2) and slot 6 moved.


def test_weights_thin_out_the_lighter_turns():
    # Weight 1 and 0.5: B1 plays every other round (rounds 1, 3, 5 ...). Round 0: B0 takes 3;
    # round 1: B0 0, B1 (3 taken) 4; round 2: B0 (4 taken) 1; round 3: B0 5, B1 (5 taken) 6;
    # round 4: B0 (5 taken) 2 -- five slots for B0, two for B1.
    assert maglev_table([(3, 4), (3, 1)], 7, [1.0, 0.5]) == [0, 0, 0, 0, 1, 0, 1]
    w = Maglev({"a": 1, "b": 2, "c": 0.5}, m=10007)
    counts = w.slot_counts()
    assert abs(counts["b"] - 2 * counts["a"]) <= 2 and abs(counts["a"] - 2 * counts["c"]) <= 2


@pytest.mark.parametrize("n, m", [(3, 7), (10, 1009), (10, 65537), (100, 10007), (37, 65537)])
def test_every_backend_gets_floor_or_ceil_of_m_over_n(n, m):
    counts = Maglev([f"b{i}" for i in range(n)], m=m).slot_counts().values()
    assert set(counts) <= {m // n, -(-m // n)}
    if m >= 100 * n:                               # the paper's rule: shares within 1 %
        assert max(counts) / min(counts) <= 1.01


@pytest.mark.parametrize("change", ["join", "leave"])
def test_disruption_is_close_to_minimal_but_not_exactly(change):
    names = [f"b{i}" for i in range(10)]
    before = Maglev(names)
    after = copy.deepcopy(before)
    if change == "join":
        after.add("new")
    else:
        after.remove("b4")
    d = disruption(before, after)
    assert d["necessary"] <= d["changed"] <= d["necessary"] + 0.01 * before.m
    assert d["excess"] > 0                          # not minimal: a few surviving slots move too
    if change == "leave":
        assert d["necessary"] == before.slot_counts()["b4"]


def test_placement_interface():
    mg = make_placement("maglev", ["a", "b", "c", "d"], m=101)
    assert isinstance(mg, Maglev) and mg.kind == "maglev"
    keys = [f"user:{i}" for i in range(300)]
    idx = mg.lookup(hash_array(keys))
    assert [mg.nodes[i] for i in idx] == [mg.owner(k) for k in keys]
    for k in keys[:50]:
        owners = mg.owners(k, 3)
        assert owners[0] == mg.owner(k) and len(set(owners)) == 3
        assert owners[0] == mg.table()[stable_hash(k) % 101]
    m = movement("maglev", "join", nodes=5, keys=5000, trials=1, m=1009)
    assert m.necessary <= m.moved < 1.5 * m.necessary and not m.minimal


def test_is_prime():
    assert [p for p in range(30) if is_prime(p)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert is_prime(65537) and not is_prime(65535)


@pytest.mark.parametrize("build, message", [
    (lambda: Maglev(["a", "b"], m=100), "m must be a prime >= the number of backends (2) (got 100)"),
    (lambda: Maglev(["a", "b", "c"], m=2), "m must be a prime >= the number of backends (3) (got 2)"),
    (lambda: Maglev(["a"], m=1), "m must be an integer >= 2 (got 1)"),
    (lambda: Maglev(["a", "a"], m=7), "nodes must have distinct names"),
    (lambda: Maglev({"a": 0}, m=7), "weight must be a number > 0 (got 0)"),
    (lambda: Maglev(["a", "b"], m=2).add("c"), "m must be a prime >= the number of backends (3) (got 2)"),
    (lambda: Maglev(["a"], m=7).remove("z"), "node must be one of a (got 'z')"),
    (lambda: maglev_table([(7, 1)], 7), "prefs must be (offset in 0..6, skip in 1..6) pairs (got (7, 1))"),
    (lambda: maglev_table([(0, 0)], 7), "prefs must be (offset in 0..6, skip in 1..6) pairs (got (0, 0))"),
    (lambda: make_placement("maglev", ["a"], vnodes=3), "option 'vnodes' does not apply to maglev"),
    (lambda: disruption(Maglev(["a"], m=7), Maglev(["a"], m=11)), "after must have the same table size"),
])
def test_bad_input(build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert message in str(err.value)
