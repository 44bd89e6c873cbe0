"""Model checking single-decree Paxos: every interleaving of a small configuration.

The explorer (:mod:`distlib.check.explore`) runs the very ``PaxosNode`` classes the
simulator runs, on 3 acceptors with 2 proposers (n1 proposes "A", n2 "B"), and checks
agreement and validity in every reachable state. Chosen-ness is read from a history
variable, the acceptors' ``Accepted`` announcements to a learner outside the cluster
(see :func:`distlib.check.paxos_invariants.paxos_model`). The correct protocol explores
completely ("ok"); each broken variant yields a shortest counterexample that replays in
the simulator and violates agreement there too. Budget: about 25 s on 2 cores.
"""

import pytest

from distlib.check.explore import explore, replay
from distlib.check.paxos_invariants import chosen_values, model_invariants, paxos_model
from distlib.consensus.paxos import AcceptBelowPromise, Accepted, ForgetfulAcceptor, NoAdoptProposer

ACCEPTORS = ("n1", "n2", "n3")


def run(classes=None, **kw):
    kw.setdefault("max_states", 60_000)
    max_round = kw.pop("max_round", 1)
    return explore(paxos_model(classes, max_round=max_round), model_invariants(), **kw)


@pytest.mark.parametrize("bounds", [
    dict(max_crashes=2),                       # any two crashes (and restarts) of any nodes
    dict(max_drops=1, max_crashes=1),
    dict(max_duplicates=1),
    dict(max_round={"n1": 1, "n2": 2}),        # n2 may retry with a higher ballot
    dict(max_round={"n1": 2, "n2": 1}),
], ids=["2-crashes", "drop+crash", "duplicate", "n2-retries", "n1-retries"])
def test_correct_paxos_is_safe_in_every_interleaving(bounds):
    result = run(**bounds)
    assert result.status == "ok", result.format()
    assert not result.depth_limited
    # A run where both ballots complete exists (so the check was not vacuous): depth covers it.
    assert result.depth >= 14
    print(result.summary())


def test_model_reaches_a_chosen_value():
    """Non-vacuity: the invariant is evaluated on states where a value *is* chosen."""
    seen: list[str] = []

    def spy(view):
        from distlib.check.paxos_invariants import chosen_in_view
        seen.extend(repr(v) for v in chosen_in_view(view).values())
        return True

    result = explore(paxos_model(), {"spy": spy})
    assert result.ok
    assert {"'A'", "'B'"} <= set(seen)   # either proposer can win, in different interleavings


def agreement_broken_in_replay(result, specs):
    world = replay(result.counterexample, specs)
    chosen = chosen_values(world.trace, ACCEPTORS)
    return world, chosen


@pytest.mark.parametrize("name,classes,bounds", [
    ("no adoption", {"n1": NoAdoptProposer, "n2": NoAdoptProposer}, {}),
    ("accept below promise", {n: AcceptBelowPromise for n in ACCEPTORS}, {}),
    ("forgetful acceptor", {n: ForgetfulAcceptor for n in ACCEPTORS}, {"max_crashes": 1}),
])
def test_broken_variant_has_a_counterexample_that_replays(name, classes, bounds):
    result = run(classes, **bounds)
    assert result.status == "violation", f"{name}: {result.summary()}"
    assert result.invariant == "agreement"
    specs = paxos_model(classes)
    world, chosen = agreement_broken_in_replay(result, specs)
    assert len(set(chosen.values())) == 2, (name, chosen)
    # The replayed trace handles exactly the counterexample's messages, in its order.
    handled = [(r.src, r.dst, r.msg) for r in world.trace if r.kind in ("deliver", "drop")]
    assert handled == [(s.message.src, s.message.dst, s.message.msg) for s in result.counterexample
                       if s.kind in ("deliver", "drop")]
    assert any(isinstance(r.msg, Accepted) for r in world.trace if r.kind == "send")


def test_forgetful_acceptor_needs_a_crash():
    """Without crashes a volatile promise is as good as a durable one: the bug hides."""
    classes = {n: ForgetfulAcceptor for n in ACCEPTORS}
    assert run(classes).status == "ok"
    broken = run(classes, max_crashes=1)
    assert any(s.kind == "crash" for s in broken.counterexample)
    assert any(s.kind == "restart" for s in broken.counterexample)


def test_counterexample_for_no_adoption_shows_the_ignored_report():
    result = run({"n1": NoAdoptProposer, "n2": NoAdoptProposer})
    steps = [s.describe() for s in result.counterexample]
    # Somewhere an acceptor reported an accepted proposal in its Promise, and a different value won.
    assert any("Promise" in s and "accepted=none" not in s for s in steps), "\n".join(steps)
    assert len(result.counterexample) == 14    # the shortest: 7 steps per ballot


def test_model_rejects_bad_bounds():
    with pytest.raises(ValueError, match="max_round"):
        paxos_model(max_round=0)
    with pytest.raises(ValueError, match="max_round"):
        paxos_model(max_round={"n3": 1})


# ---- the Paxos view (distlib.viz.paxos_view) reads the same traces ----------------------------------
def test_paxos_view_is_deterministic_and_shows_the_violation():
    import plotly.graph_objects as go

    from distlib.consensus.paxos import PaxosNode, run_paxos
    from distlib.sim import FaultSchedule, partition
    from distlib.viz.paxos_view import paxos_figure, paxos_summary, timeline

    sched = FaultSchedule([partition(["n2"], ["n1", "n3"], at=0.0, heal=0.15)])

    def late(cls):
        return run_paxos(1, proposals={"n1": "A", "n2": "B"}, propose_at={"n2": 0.2}, faults=sched,
                         classes={"n2": cls}, until=0.5)

    good, bad = late(PaxosNode), late(NoAdoptProposer)
    assert paxos_figure(good.world).to_json() == paxos_figure(late(PaxosNode).world).to_json()
    go.Figure(paxos_figure(bad.world).to_dict())            # validates every property
    assert {repr(v) for _, _, v in timeline(good.world).chosen} == {"'A'"}
    assert {repr(v) for _, _, v in timeline(bad.world).chosen} == {"'A'", "'B'"}
    assert "AGREEMENT VIOLATED" in paxos_summary(bad.world)
    assert "AGREEMENT VIOLATED" not in paxos_summary(good.world)
    # A correct acceptor's promise never goes down.
    for steps in timeline(good.world).promised.values():
        assert [s.ballot for s in steps] == sorted(s.ballot for s in steps)
