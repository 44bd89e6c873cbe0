"""Linearizability checker: known verdicts, info/fail semantics, partitioning, budget, properties."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distlib.check.linearizability import LinResult, check_linearizability, operations_from_history
from distlib.check.models import (
    UNKNOWN,
    AppendKVStore,
    CASRegister,
    Counter,
    KVStore,
    ModelOp,
    Register,
    SetModel,
)
from distlib.sim.history import History, Op

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data"


def mk(*spec, key="x") -> History:
    """History from (process, f, input, call, ret, output, type) tuples; ret None = never completed."""
    events = []
    for i, item in enumerate(spec):
        proc, f, inp, call, ret, out, typ = item[:7]
        k = item[7] if len(item) > 7 else key
        events.append((call, 1, i, Op(proc, "invoke", f, k, inp, call)))
        if ret is not None:
            events.append((ret, 0, i, Op(proc, typ, f, k, out if typ == "ok" else inp, ret)))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return History(e[3] for e in events)


def w(proc, v, call, ret, typ="ok", key="x"):
    return (proc, "write", v, call, ret, v, typ, key)


def r(proc, out, call, ret, typ="ok", key="x"):
    return (proc, "read", None, call, ret, out, typ, key)


def assert_witness(result: LinResult, model) -> None:
    """Independently validate an Ok witness: real-time order, points in intervals, legal run."""
    ops = result.operations
    order = result.order
    assert set(order) >= {o.index for o in ops if o.status == "ok"}
    assert all(ops[i].status != "fail" for i in order)
    pos = {i: n for n, i in enumerate(order)}
    for a, b in itertools.permutations(order, 2):
        if ops[a].ret < ops[b].call:
            assert pos[a] < pos[b], f"op {a} returned before {b} was invoked but comes later"
    for i in order:
        assert ops[i].call <= result.points[i] <= ops[i].ret
    states: dict = {}
    for i in order:
        o = ops[i]
        k = o.key if model.partition_by_key else None
        ok, states[k] = model.step(states.get(k, model.init()), o.model_op)
        assert ok, f"witness step {o} illegal"


# --- Herlihy & Wing style hand-made histories -------------------------------------------------

def test_stale_read_after_completed_write_is_illegal_and_explained():
    h = mk(w("c1", 1, 0.0, 0.1), w("c1", 2, 0.2, 0.3), r("c2", 1, 0.31, 0.40))
    res = check_linearizability(h)
    assert res.verdict == "Illegal" and res.ok is False
    assert res.culprit == 2 and res.order == [0, 1]
    assert res.reason.startswith("read x -> 1 by c2 at [0.310, 0.400] cannot be placed: after write x=2")
    text = res.explain()
    assert "x = 2" in text and "It is not legal in this state" in text


def test_read_concurrent_with_write_may_see_either_value():
    for seen in (None, 1):
        h = mk(w("c1", 1, 0.0, 1.0), r("c2", seen, 0.2, 0.4))
        res = check_linearizability(h)
        assert res.ok, seen
        assert_witness(res, Register())


def test_concurrent_reads_may_see_both_orders_but_sequential_reads_may_not_go_back():
    # two overlapping reads of a concurrent write: one sees the new value, the other the old: fine
    ok = mk(w("c1", 1, 0.0, 1.0), r("c2", 1, 0.1, 0.5), r("c3", None, 0.2, 0.6))
    assert check_linearizability(ok).ok
    # new-old inversion: a read that starts after another ended must not see an older value
    bad = mk(w("c1", 1, 0.0, 1.0), r("c2", 1, 0.1, 0.2), r("c3", None, 0.3, 0.4))
    res = check_linearizability(bad)
    assert res.verdict == "Illegal" and res.culprit == 2


def test_two_readers_observing_concurrent_writes_in_opposite_orders_is_illegal():
    h = mk(w("c1", 1, 0.0, 1.0), w("c2", 2, 0.0, 1.0),
           r("c3", 1, 0.1, 0.2), r("c3", 2, 0.3, 0.4),
           r("c4", 2, 0.1, 0.2), r("c4", 1, 0.3, 0.4))
    assert check_linearizability(h).verdict == "Illegal"
    # the same reads agreeing on one order are fine
    h2 = mk(w("c1", 1, 0.0, 1.0), w("c2", 2, 0.0, 1.0),
            r("c3", 1, 0.1, 0.2), r("c3", 2, 0.3, 0.4),
            r("c4", 1, 0.1, 0.2), r("c4", 2, 0.3, 0.4))
    res = check_linearizability(h2)
    assert res.ok
    assert_witness(res, Register())


def test_lost_write_is_illegal():
    h = mk(w("c1", 1, 0.0, 0.1), w("c2", 2, 0.05, 0.15), r("c3", 1, 0.2, 0.3), r("c3", 1, 0.4, 0.5),
           r("c1", 1, 0.6, 0.7))
    assert check_linearizability(h).ok  # w2 then w1: legal
    lost = mk(w("c1", 1, 0.0, 0.1), r("c2", None, 0.2, 0.3))  # acknowledged write vanished
    assert check_linearizability(lost).verdict == "Illegal"


def test_info_write_that_did_and_did_not_take_effect_are_both_accepted():
    took = mk(w("c1", 1, 0.0, 0.5, typ="info"), r("c2", 1, 1.0, 1.1), r("c2", 1, 1.2, 1.3))
    never = mk(w("c1", 1, 0.0, 0.5, typ="info"), r("c2", None, 1.0, 1.1), r("c2", None, 1.2, 1.3))
    late = mk(w("c1", 1, 0.0, 0.5, typ="info"), r("c2", None, 1.0, 1.1), r("c2", 1, 5.0, 5.1))
    for h in (took, never, late):  # late: an info op stays concurrent with everything after it
        res = check_linearizability(h)
        assert res.ok, h.format()
        assert_witness(res, Register())
    # but it cannot take effect and then be undone
    undone = mk(w("c1", 1, 0.0, 0.5, typ="info"), r("c2", 1, 1.0, 1.1), r("c2", None, 1.2, 1.3))
    assert check_linearizability(undone).verdict == "Illegal"


def test_open_invocation_counts_as_info():
    h = mk(w("c1", 1, 0.0, None), r("c2", 1, 1.0, 1.1))
    ops = operations_from_history(h)
    assert ops[0].status == "info" and ops[0].ret == math.inf and ops[0].output is UNKNOWN
    assert check_linearizability(h).ok


def test_fail_ops_are_ignored():
    assert check_linearizability(mk(w("c1", 1, 0.0, 0.1, typ="fail"), r("c2", None, 0.2, 0.3))).ok
    res = check_linearizability(mk(w("c1", 1, 0.0, 0.1, typ="fail"), r("c2", 1, 0.2, 0.3)))
    assert res.verdict == "Illegal"
    assert 0 not in res.order


def test_cas_register():
    h = mk(w("c1", 0, 0.0, 0.1), ("c2", "cas", (0, 5), 0.2, 0.3, None, "ok"), r("c1", 5, 0.4, 0.5))
    assert check_linearizability(h, CASRegister()).ok
    wrong = mk(w("c1", 0, 0.0, 0.1), ("c2", "cas", (3, 5), 0.2, 0.3, None, "ok"), r("c1", 5, 0.4, 0.5))
    assert check_linearizability(wrong, CASRegister()).verdict == "Illegal"
    # a cas that reported "no swap" observes that the value differs from the expected one
    noswap = mk(w("c1", 0, 0.0, 0.1), ("c2", "cas", (0, 5), 0.2, 0.3, False, "ok"))
    assert check_linearizability(noswap, CASRegister()).verdict == "Illegal"
    with pytest.raises(ValueError, match="op.f must be 'read' or 'write'"):
        check_linearizability(h, Register(allow_cas=False))


def test_kv_store_is_checked_key_by_key():
    h = mk(w("c1", 1, 0.0, 0.1, key="a"), w("c2", 7, 0.0, 0.1, key="b"), r("c3", 1, 0.2, 0.3, key="a"),
           r("c3", None, 0.4, 0.5, key="b"))
    res = check_linearizability(h, KVStore())
    assert res.verdict == "Illegal" and res.key == "b" and res.keys == 2
    assert "b = 7" in res.reason
    good = mk(w("c1", 1, 0.0, 0.1, key="a"), w("c2", 7, 0.0, 0.1, key="b"), r("c3", 7, 0.2, 0.3, key="b"),
              r("c3", 1, 0.4, 0.5, key="a"))
    res = check_linearizability(good, KVStore())
    assert res.ok and res.keys == 2 and len(res.order) == 4
    assert_witness(res, KVStore())
    with pytest.raises(ValueError, match="use model=KVStore"):
        check_linearizability(good, Register())


def test_counter_and_set_models():
    inc = [("c1", "add", 1, 0.0, 0.1, None, "ok"), ("c2", "add", 2, 0.0, 0.3, None, "ok")]
    assert check_linearizability(mk(*inc, ("c1", "read", None, 0.2, 0.25, 1, "ok")), Counter()).ok
    assert not check_linearizability(mk(*inc, ("c1", "read", None, 0.4, 0.5, 1, "ok")), Counter()).ok
    adds = [("c1", "add", "a", 0.0, 0.1, None, "ok"), ("c2", "add", "b", 0.0, 0.3, None, "ok")]
    assert check_linearizability(mk(*adds, ("c3", "read", None, 0.2, 0.25, ["a"], "ok")), SetModel()).ok
    assert not check_linearizability(mk(*adds, ("c3", "read", None, 0.4, 0.5, ["b"], "ok")), SetModel()).ok


def test_budget_gives_unknown_which_is_not_a_pass():
    h = mk(w("c1", 1, 0.0, 1.0), w("c2", 2, 0.0, 1.0), w("c3", 3, 0.0, 1.0), r("c4", 1, 1.5, 1.6))
    res = check_linearizability(h, max_steps=2)
    assert res.verdict == "Unknown" and res.ok is False
    assert "max_steps=2" in res.reason and "not a pass" in res.explain()
    res = check_linearizability(h, max_states=2)
    assert res.verdict == "Unknown" and "max_states=2" in res.reason
    assert check_linearizability(h, max_steps=None).ok


@pytest.mark.parametrize("name", ["max_steps", "max_states", "max_memory"])
@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_bad_budget_is_rejected(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be an integer >= 1"):
        check_linearizability(History(), **{name: bad})


def test_results_are_deterministic_and_empty_history_is_ok():
    h = mk(w("c1", 1, 0.0, 1.0), w("c2", 2, 0.0, 1.0), r("c3", 2, 0.1, 0.2), r("c3", 9, 0.3, 0.4))
    a, b = check_linearizability(h), check_linearizability(h)
    assert (a.verdict, a.order, a.culprit, a.explain()) == (b.verdict, b.order, b.culprit, b.explain())
    assert check_linearizability(History()).ok


# --- brute force cross-check and properties ---------------------------------------------------

def brute_force(history: History, model=None) -> bool:
    """Every subset of info ops x every permutation: the definition, for tiny histories."""
    ops = [o for o in operations_from_history(history) if o.status != "fail"]
    must = [o for o in ops if o.status == "ok"]
    maybe = [o for o in ops if o.status == "info"]
    model = model or CASRegister()
    for k in range(len(maybe) + 1):
        for extra in itertools.combinations(maybe, k):
            for perm in itertools.permutations(must + list(extra)):
                if any(perm[j].ret < perm[i].call for i in range(len(perm)) for j in range(i + 1, len(perm))):
                    continue
                state, legal = model.init(), True
                for o in perm:
                    legal, state = model.step(state, o.model_op)
                    if not legal:
                        break
                if legal:
                    return True
    return False


def random_history(rnd: random.Random, n_ops: int, n_clients: int, atomic: bool) -> History:
    """Clients issue ops; atomic=True: each takes effect at a random instant inside its interval."""
    clock = [rnd.uniform(0, 0.5) for _ in range(n_clients)]
    raw = []
    for i in range(n_ops):
        c = rnd.randrange(n_clients)
        call = clock[c]
        ret = call + rnd.uniform(0.1, 2.0)
        clock[c] = ret + rnd.uniform(0, 0.5)
        typ = rnd.choice(["ok"] * 6 + ["info", "fail"])
        f = rnd.choice(["read", "write"])
        point = rnd.uniform(call, ret) if typ == "ok" or (typ == "info" and rnd.random() < 0.5) else None
        raw.append([f"c{c + 1}", f, i + 1 if f == "write" else None, call, ret, None, typ, "x", point])
    value = None
    for op in sorted((o for o in raw if o[8] is not None), key=lambda o: o[8]):
        if op[1] == "write":
            value = op[2]
        else:
            op[5] = value
    for op in raw:
        if op[1] == "read" and (op[8] is None or not atomic):
            op[5] = rnd.choice([None, 1, 2, 3]) if not atomic else op[5]
    return mk(*(tuple(o[:8]) for o in raw))


def random_mixed_history(rnd: random.Random, n_ops: int, n_clients: int) -> History:
    """Arbitrary (mostly non-linearizable) read/write/cas histories over a tiny value domain.

    Repeated values matter: a write of the value already held is a no-op *now* but not
    later, which once fooled a too-eager partial-order reduction.
    """
    clock = [rnd.uniform(0, 0.5) for _ in range(n_clients)]
    vals = [None, 1, 2, 3]
    raw = []
    for _ in range(n_ops):
        c = rnd.randrange(n_clients)
        call = clock[c]
        ret = call + rnd.uniform(0.1, 2.0)
        clock[c] = ret + rnd.uniform(0, 0.5)
        typ = rnd.choice(["ok"] * 5 + ["info", "fail"])
        f = rnd.choice(["read", "write", "cas"])
        if f == "read":
            raw.append((f"c{c + 1}", f, None, call, ret, rnd.choice(vals), typ))
        elif f == "write":
            raw.append((f"c{c + 1}", f, rnd.choice(vals[1:]), call, ret, None, typ))
        else:  # output False: an ok cas that reported "no swap"
            raw.append((f"c{c + 1}", f, (rnd.choice(vals), rnd.choice(vals[1:])), call, ret,
                        rnd.choice([None, None, False]), typ))
    return mk(*raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
          database=None)
@given(seed=st.integers(0, 2**32), n_ops=st.integers(1, 14), n_clients=st.integers(1, 5))
def test_atomic_register_histories_are_ok_and_a_corrupted_read_is_illegal(seed, n_ops, n_clients):
    rnd = random.Random(seed)
    h = random_history(rnd, n_ops, n_clients, atomic=True)
    res = check_linearizability(h)
    assert res.ok, h.format()
    assert_witness(res, Register())
    reads = [i for i, op in enumerate(h) if op.type == "ok" and op.f == "read"]
    if reads:
        i = reads[rnd.randrange(len(reads))]
        op = h[i]
        h[i] = Op(op.process, op.type, op.f, op.key, 10_000, op.time)  # never written
        bad = check_linearizability(h)
        assert bad.verdict == "Illegal"
        assert bad.culprit is not None


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32), n_ops=st.integers(1, 6), n_clients=st.integers(1, 4),
       mixed=st.booleans())
def test_agrees_with_brute_force_on_tiny_histories(seed, n_ops, n_clients, mixed):
    rnd = random.Random(seed)
    h = random_mixed_history(rnd, n_ops, n_clients) if mixed else random_history(rnd, n_ops, n_clients, False)
    res = check_linearizability(h, CASRegister())
    assert res.ok == brute_force(h), h.format()
    if res.ok:
        assert_witness(res, CASRegister())


def test_model_step_contract():
    reg = Register(initial=0)
    assert reg.step(0, ModelOp("read", None, 0)) == (True, 0)
    assert reg.step(0, ModelOp("read", None, 1))[0] is False
    assert reg.step(0, ModelOp("read", None, UNKNOWN))[0] is True
    assert reg.step(0, ModelOp("write", [1, 2], None)) == (True, (1, 2))  # lists frozen: states hashable
    with pytest.raises(ValueError, match="cas input must be a pair"):
        reg.step(0, ModelOp("cas", 3, None))


@pytest.mark.parametrize("name,verdict", [("register_100", "Ok"), ("register_100_bad", "Illegal"),
                                          ("kv_1000", "Ok"), ("kv_1000_bad", "Illegal")])
def test_benchmark_json_histories(name, verdict):
    """The committed porcupine-format files decode and give the verdict they were generated with."""
    doc = json.loads((DATA / f"lin_{name}.json").read_text())
    events = []
    for i, o in enumerate(doc["operations"]):
        proc, f, key, inp = f"c{o['ClientId'] + 1}", o["Input"]["Op"], o["Input"]["Key"], o["Input"]["Value"]
        events.append((o["Call"], 1, i, Op(proc, "invoke", f, key, inp, o["Call"] / 1e9)))
        if o["Output"]["Unknown"]:
            events.append((o["Timeout"], 0, i, Op(proc, "info", f, key, inp, o["Timeout"] / 1e9)))
        else:
            out = o["Output"]["Value"] if f == "read" else inp
            events.append((o["Return"], 0, i, Op(proc, "ok", f, key, out, o["Return"] / 1e9)))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    model = Register() if doc["model"] == "register" else KVStore()
    assert check_linearizability(History(e[3] for e in events), model).verdict == verdict


# --- budgets shared by keys, the memory cap, append-heavy histories (issue 7 §5) --------------

def expensive(key: str, n: int = 16) -> list[tuple]:
    """n concurrent writes, then a read of the first: Ok, but ~1.7 million steps for n = 16."""
    return [w(f"{key}{i}", i, 0.0, 1.0, key=key) for i in range(n)] + [r(f"{key}r", 0, 1.5, 1.6, key=key)]


def test_an_expensive_first_key_does_not_hide_an_illegal_later_key():
    stale = [w("b1", 1, 0.0, 0.1, key="b"), w("b2", 2, 0.2, 0.3, key="b"), r("b3", 1, 0.4, 0.5, key="b")]
    res = check_linearizability(mk(*expensive("a"), *stale), KVStore(), max_steps=100_000)
    assert res.verdict == "Illegal" and res.key == "b"
    assert res.key_verdicts == {"a": "Unknown", "b": "Illegal"}
    assert res.key_reasons == {"a": "not finished: key 'b' is Illegal"}
    assert "Per key: a: Unknown, b: Illegal" in res.explain()
    # with b linearizable the answer is Unknown, and the reason names the key that ran out
    res = check_linearizability(mk(*expensive("a"), *stale[:2], r("b3", 2, 0.4, 0.5, key="b")), KVStore(),
                                max_steps=100_000)
    assert res.verdict == "Unknown" and not res.ok and res.key == "a"
    assert res.key_verdicts == {"a": "Unknown", "b": "Ok"}
    assert res.reason.startswith("key 'a' ran out of the step budget (max_steps=100000, shared by all keys)")


def test_memory_cap_gives_unknown_with_a_reason_even_without_a_step_budget():
    cap = 200_000
    res = check_linearizability(mk(*expensive("x")), Register(), max_steps=None, max_memory=cap)
    assert res.verdict == "Unknown" and not res.ok
    assert res.reason.startswith("key 'x': memo cache exceeded 195 KB (max_memory=200000 bytes) after ")
    assert cap < res.memory < 2 * cap   # stopped at the cap; unbounded, it caches 245,792 configurations
    assert res.states < 5_000
    # several keys: the largest cache is stopped and the other keys still get their verdicts
    h = mk(*expensive("a"), w("b1", 1, 0.0, 0.1, key="b"), r("b2", 1, 0.2, 0.3, key="b"))
    res = check_linearizability(h, KVStore(), max_steps=None, max_memory=cap)
    assert res.verdict == "Unknown" and res.key_verdicts == {"a": "Unknown", "b": "Ok"}
    assert "memo caches exceeded 195 KB over all keys" in res.reason and "the largest" in res.reason


def bench_append():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_lin_append.py"
    spec = importlib.util.spec_from_file_location("bench_lin_append", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_append_heavy_history_and_its_stale_read_twin_are_decided():
    """20 clients on 3 keys, 60% appends, timed-out ops: the model as it was gives Unknown on both."""
    generate = bench_append().generate
    res = check_linearizability(generate(1, 600, 20, 3), AppendKVStore(), max_steps=300_000)
    assert res.verdict == "Ok" and res.key_verdicts == {"k0": "Ok", "k1": "Ok", "k2": "Ok"}
    assert_witness(res, AppendKVStore())   # checked with the plain model: no merged states in it
    bad = check_linearizability(generate(1, 600, 20, 3, illegal_key="k1"), AppendKVStore(), max_steps=300_000)
    assert bad.verdict == "Illegal" and bad.key == "k1"


def test_append_store_merges_states_no_read_can_tell_apart():
    ops = [(f"c{i}", "append", f"t{i};", 0.0, 1.0, f"t{i};", "ok") for i in range(8)]
    seen = "".join(f"t{i};" for i in (3, 1, 4, 0, 5, 2, 7, 6))
    res = check_linearizability(mk(*ops, ("r", "read", None, 1.5, 1.6, seen, "ok")), AppendKVStore())
    assert res.ok and res.states < 600   # unmerged: one per ordered subset of the appends, 109,600
    late = mk(*ops, ("r", "read", None, 1.5, 1.6, seen[:-3], "ok"))   # t6 missing: no order fits
    bad = check_linearizability(late, AppendKVStore())
    assert bad.verdict == "Illegal" and "holds a value that no read returns or extends" in bad.explain()


def test_append_store_keeps_an_unread_timed_out_write_a_no_swap_cas_depends_on():
    """Only the timed-out write of c; explains why the cas saw something other than a;."""
    h = mk(("c1", "write", "a;", 0.0, 0.1, "a;", "ok"), ("c2", "write", "c;", 0.2, None, None, "info"),
           ("c3", "cas", ("a;", "b;"), 0.4, 0.5, False, "ok"), ("c4", "append", "d;", 0.6, 0.7, "d;", "ok"))
    assert brute_force(h, AppendKVStore())
    assert check_linearizability(h, AppendKVStore()).ok


def random_append_history(rnd: random.Random, n_ops: int, n_clients: int, atomic: bool) -> History:
    """Tiny get/put/append/cas histories over few (repeated) tokens; atomic: outputs from a real run."""
    clock = [rnd.uniform(0, 0.5) for _ in range(n_clients)]
    seen = [None, "a;", "b;", "a;b;", "b;a;", "a;a;", "c;", "c;a;", "a;b;a;"]
    raw = []
    for _ in range(n_ops):
        c = rnd.randrange(n_clients)
        call = clock[c]
        ret = call + rnd.uniform(0.1, 2.0)
        clock[c] = ret + rnd.uniform(0, 0.5)
        typ = rnd.choice(["ok"] * 5 + ["info", "fail"])
        f = rnd.choice(["append", "append", "read", "read", "write", "cas"])
        inp = {"append": rnd.choice(["a;", "b;"]), "write": rnd.choice(["a;", "c;"]), "read": None,
               "cas": (rnd.choice(seen), rnd.choice(["a;", "c;"]))}[f]
        out = rnd.choice(seen) if f == "read" else (rnd.choice([None, None, False]) if f == "cas" else inp)
        point = rnd.uniform(call, ret) if typ == "ok" or (typ == "info" and rnd.random() < 0.5) else None
        raw.append([f"c{c + 1}", f, inp, call, ret, out, typ, "x", point])
    if atomic:
        value = None
        for op in sorted((o for o in raw if o[8] is not None), key=lambda o: o[8]):
            if op[1] == "read":
                op[5] = value
            elif op[1] == "append":
                value = (value or "") + op[2]
            elif op[1] == "write":
                value = op[2]
            elif value == op[2][0]:
                value, op[5] = op[2][1], None
            else:
                op[5] = False
    return mk(*(tuple(o[:8]) for o in raw))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32), n_ops=st.integers(1, 6), n_clients=st.integers(1, 4),
       atomic=st.booleans())
def test_append_store_agrees_with_brute_force_on_tiny_histories(seed, n_ops, n_clients, atomic):
    """The merged states and the pruning of AppendKVStore change no verdict (the brute force
    steps the plain model, no history-specific merging)."""
    h = random_append_history(random.Random(seed), n_ops, n_clients, atomic)
    res = check_linearizability(h, AppendKVStore())
    assert res.ok == brute_force(h, AppendKVStore()), h.format()
    if atomic:
        assert res.ok, h.format()
    if res.ok:
        assert_witness(res, AppendKVStore())


# --- the history figure -----------------------------------------------------------------------

def test_history_figure_marks_order_and_culprit_deterministically():
    from distlib.viz.history import history_figure, history_summary

    h = mk(w("c1", 1, 0.0, 0.1), w("c1", 2, 0.2, 0.3), r("c2", 1, 0.31, 0.40),
           w("c3", 9, 0.05, 0.1, typ="info"), w("c3", 8, 0.2, 0.25, typ="fail"))
    res = check_linearizability(h)
    fig = history_figure(h, res)
    assert fig.to_json() == history_figure(h, check_linearizability(h)).to_json()
    bars = {t.name: t for t in fig.data}
    assert list(bars["cannot be placed"].text) == ["r x→1"]
    assert bars["cannot be placed"].marker.color == "#D55E00"
    assert list(bars["ok"].text) == ["1: w x=1", "2: w x=2"]
    assert "fail (did not happen)" in bars and "info (timed out: outcome unknown)" in bars
    assert "Not linearizable" in fig.layout.title.text
    assert "verdict Illegal" in history_summary(h, res)
    plain = history_figure(h)  # no result: just the bars
    assert all(not (t.text and any(s[:1].isdigit() for s in t.text)) for t in plain.data if t.type == "bar")


def test_write_of_the_current_value_is_not_treated_as_read_only():
    # cas None->1, then w2 || w1, then a cas(2->3) that reported "no swap" (so x != 2 then).
    # Legal order: cas, w2, w1, cas-no-swap. Linearizing w1 right after the cas is a no-op at
    # that moment, but forcing it there (as if it were a read) loses this order.
    h = mk(("c1", "cas", (None, 1), 0.267, 0.641, None, "ok"), w("c2", 2, 0.836, 2.83),
           w("c1", 1, 2.577, 3.825), ("c2", "cas", (2, 3), 3.117, 4.203, False, "ok"))
    res = check_linearizability(h, CASRegister())
    assert res.ok, res.explain()
    assert_witness(res, CASRegister())


def test_compare_figure_stacks_histories_on_one_time_axis():
    from distlib.storage.register import run_register
    from distlib.viz.history import compare_figure

    rows = []
    for mode in ("cp", "ap"):
        run = run_register(mode, 1, clients=3, until=3.0, partition=["n1"], partition_at=0.5, heal_at=1.5)
        rows.append((mode, run.history, run.check()))
    fig = compare_figure(rows, title="same partition")
    assert [a.text for a in fig.layout.annotations] == ["cp", "ap"]          # one titled row each
    assert {t.yaxis for t in fig.data} == {"y", "y2"}
    shown = [t.name for t in fig.data if t.showlegend]
    assert len(shown) == len(set(shown))                                      # no duplicate legend entries
    assert fig.to_json() == compare_figure(rows, title="same partition").to_json()
    with pytest.raises(ValueError, match="panels"):
        compare_figure([])


def test_fault_windows_are_shaded_and_labelled():
    from distlib.sim import FaultSchedule, crash, partition
    from distlib.storage.register import run_register
    from distlib.viz.history import history_figure

    run = run_register("ap", 1, clients=2, until=2.0, partition=["n1"], partition_at=0.5, heal_at=1.0)
    plain = history_figure(run.history, run.check())
    shaded = history_figure(run.history, run.check(),
                            faults=FaultSchedule([partition(["n1"], ["n2", "n3"], at=0.5, heal=1.0),
                                                  crash("n2", at=1.2)]))
    assert len(plain.layout.shapes) == 0
    bands = [(s.x0, s.x1) for s in shaded.layout.shapes]
    assert bands[0] == (0.5, 1.0) and bands[1][0] == 1.2 and bands[1][1] > 1.2   # open crash: to the end
    assert [a.text for a in shaded.layout.annotations] == ["partition n1 | n2,n3", "crash n2"]
