"""The model checker: TLA+ cross-check, violations with shortest counterexamples, replay, bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from distlib.check.explore import Message, ReplayWorld, StateView, Step, canon, explore, replay
from distlib.check.tla_twophase import (
    TLC_STATES_3_RMS,
    TM,
    Commit,
    check_twophase,
    spec_states,
    tc_consistent,
    twophase_nodes,
)
from distlib.sim import Crash, Deliver, Drop, Duplicate, Node, Restart, Send


# ---- TwoPhase.tla ------------------------------------------------------------------------------
def test_twophase_has_exactly_tlcs_288_states_for_three_rms():
    result = check_twophase(3)
    assert result.status == "ok" and result.ok
    assert result.states == TLC_STATES_3_RMS == 288
    assert spec_states(3) == 288          # the spec enumerated directly agrees


@pytest.mark.parametrize("n", [1, 2, 4])
def test_twophase_actor_model_matches_the_spec_for_other_sizes(n):
    assert check_twophase(n).states == spec_states(n)


class MajorityTM(TM):
    """A broken TM (the source article's 2PC): commits once a majority has prepared."""

    def on_message(self, src: str, msg: Any) -> None:
        super().on_message(src, msg)
        if self.tm_state == "init" and 2 * len(self.tm_prepared) > len(self.rms):
            self.set_timer("commit", 0)

    def on_timer(self, name: str) -> None:
        if name == "commit" and self.tm_state == "init":
            self.tm_state = "committed"
            self.cancel_timer("abort")
            for r in self.rms:
                self.send(r, Commit())
        else:
            super().on_timer(name)


def test_majority_commit_breaks_tc_consistent_with_a_shortest_counterexample():
    nodes = twophase_nodes(3)
    nodes["tm"] = (MajorityTM, nodes["tm"][1])
    result = explore(nodes, {"TCConsistent": tc_consistent}, keep_messages=True)
    assert result.status == "violation" and not result.ok
    assert result.invariant == "TCConsistent"
    # Shortest run: r1, r2 prepare; TM hears both; commits; r3 aborts; r1 gets Commit = 7 steps
    # (r3 may abort at any point; BFS returns one of the 7-step runs, never a longer one).
    assert len(result.counterexample) == 7
    assert "committed" in result.message and "aborted" in result.message
    world = replay(result.counterexample, nodes, keep_messages=True)
    final = {n: world.nodes[n].rm_state for n in ("r1", "r2", "r3")}
    assert "committed" in final.values() and "aborted" in final.values()


# ---- small protocols of our own ----------------------------------------------------------------
@dataclass(frozen=True)
class Inc:
    req: int


@dataclass(frozen=True)
class Ack:
    req: int


class VolatileCounter(Node):
    """Acks increments but keeps the count in memory only: a crash forgets acknowledged work."""

    def on_start(self) -> None:
        self.count = 0

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Inc):
            self.count += 1
            self.send(src, Ack(msg.req))


class DurableCounter(Node):
    """Persists before acking, and ignores a request id it has already applied (idempotent)."""

    def on_start(self) -> None:
        self.storage.setdefault("applied", frozenset())

    def on_recover(self) -> None:
        pass

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Inc):
            self.storage["applied"] = self.storage["applied"] | {msg.req}
            self.send(src, Ack(msg.req))


def _count(state: dict) -> int:
    return state.get("count", len(state["storage"].get("applied", ())))


def acked_not_lost(view: StateView) -> bool | str:
    if not view.up["ctr"]:
        return True          # judged when it is back: a down counter answers nothing
    acked = {m.msg.req for m in view.outputs}
    have = _count(view.states["ctr"])
    if len(acked) > have:
        return f"{len(acked)} increments acknowledged but the counter holds {have}"
    return True


def at_most_two(view: StateView) -> bool | str:
    c = _count(view.states["ctr"]) if view.up["ctr"] else 0
    return c <= 2 or f"count is {c} after two increments"


def two_increments(system: Any) -> None:
    system.send("c", "ctr", Inc(1))
    system.send("c", "ctr", Inc(2))


def test_crash_loses_acknowledged_increments_of_a_volatile_counter():
    nodes = {"ctr": (VolatileCounter, {})}
    result = explore(nodes, {"acked": acked_not_lost}, initial=two_increments, max_crashes=1)
    assert result.status == "violation"
    kinds = [s.kind for s in result.counterexample]
    assert kinds == ["deliver", "crash", "restart"]
    world = replay(result.counterexample, nodes, initial=two_increments)
    assert [r.node for r in world.trace.of(Crash, Restart)] == ["ctr", "ctr"]
    assert world.nodes["ctr"].count == 0 and len(world.trace.of(Deliver)) == 1
    assert [r.msg for r in world.trace.of(Send) if r.src == "ctr"] == [Ack(1)]   # the lost ack


def test_durable_counter_survives_crashes_drops_and_duplicates_within_bounds():
    nodes = {"ctr": (DurableCounter, {})}
    result = explore(nodes, {"acked": acked_not_lost, "at most two": at_most_two},
                     initial=two_increments, max_crashes=2, max_drops=1, max_duplicates=1)
    assert result.status == "ok" and not result.depth_limited
    assert result.states > 20 and result.transitions > result.states


def test_duplicate_delivery_double_counts_a_non_idempotent_counter():
    nodes = {"ctr": (VolatileCounter, {})}
    result = explore(nodes, {"at most two": at_most_two}, initial=two_increments, max_duplicates=1)
    assert result.status == "violation"
    assert [s.kind for s in result.counterexample].count("duplicate") == 1
    assert len(result.counterexample) == 3
    world = replay(result.counterexample, nodes, initial=two_increments)
    assert len(world.trace.of(Duplicate)) == 1 and world.nodes["ctr"].count == 3
    # without the duplicate budget the same protocol is fine
    assert explore(nodes, {"at most two": at_most_two}, initial=two_increments).ok


@dataclass(frozen=True)
class Ping:
    n: int


class PingPong(Node):
    """p1 and p2 bounce a counter; p2 retransmits on a timer. Invariant: n stays below a limit."""

    def __init__(self, limit: int = 3):
        self.limit = limit

    def on_start(self) -> None:
        self.seen = -1
        if self.id == "p1":
            self.send("p2", Ping(0))
        else:
            self.set_timer("retry", 1.0)

    def on_message(self, src: str, msg: Any) -> None:
        self.seen = max(self.seen, msg.n)
        if msg.n < self.limit:
            self.send(src, Ping(msg.n + 1))

    def on_timer(self, name: str) -> None:
        self.send("p1", Ping(self.seen + 1))


def below(limit: int):
    def inv(view: StateView) -> bool | str:
        worst = max(s.get("seen", -1) for s in view.states.values())
        return worst < limit or f"a node saw {worst}"
    return inv


def test_counterexample_is_shortest_and_its_replay_has_the_same_deliveries_in_order():
    nodes = {"p1": (PingPong, {"limit": 9}), "p2": (PingPong, {"limit": 9})}
    result = explore(nodes, {"below 3": below(3)}, max_drops=1)
    assert result.status == "violation"
    # Ping(0) -> p2, Ping(1) -> p1, Ping(2) -> p2, Ping(3) -> p1: four steps, and no shorter run
    # exists (the same search cut at depth 3 finds nothing).
    assert len(result.counterexample) == 4
    assert explore(nodes, {"below 3": below(3)}, max_drops=1, max_depth=3).ok
    world = replay(result.counterexample, nodes)
    delivered = [(r.src, r.dst, r.msg) for r in world.trace.of(Deliver)]
    expected = [(s.message.src, s.message.dst, s.message.msg) for s in result.counterexample
                if s.kind in ("deliver", "duplicate")]
    assert delivered == expected
    assert max(n.seen for n in world.nodes.values()) == 3


def test_drops_and_timers_appear_in_the_replayed_trace():
    nodes = {"p1": (PingPong, {"limit": 1}), "p2": (PingPong, {"limit": 1})}

    steps = [Step("drop", "p2", Message("p1", "p2", Ping(0))), Step("timer", "p2", timer="retry"),
             Step("deliver", "p1", Message("p2", "p1", Ping(0)))]
    world = replay(steps, nodes)
    assert [r.reason for r in world.trace.of(Drop)] == ["loss"]
    assert world.nodes["p1"].seen == 0
    with pytest.raises(RuntimeError, match="diverged"):
        replay([Step("deliver", "p1", Message("p2", "p1", Ping(7)))], nodes)
    result = explore(nodes, {"p1 hears nothing": lambda v: v.states["p1"]["seen"] < 0 or "p1 heard"})
    assert result.status == "violation" and len(result.counterexample) == 2


def test_budget_exhausted_is_never_a_pass_and_depth_bound_is_reported():
    big = check_twophase(3, max_states=50)
    assert big.status == "budget exhausted" and not big.ok and big.states == 50
    assert "NOT a pass" in big.summary()
    shallow = check_twophase(3, max_depth=2)
    assert shallow.ok and shallow.depth_limited and shallow.depth == 2 and shallow.states < 288


def test_exploration_is_deterministic_and_fingerprints_ignore_set_order():
    a = check_twophase(2)
    b = check_twophase(2)
    assert (a.states, a.transitions, a.depth) == (b.states, b.transitions, b.depth)
    s1, s2 = {"b", "a", "c"}, set()
    for x in ("c", "a", "b"):
        s2.add(x)
    assert repr(canon({"x": s1, "y": [1, {2: frozenset(s2)}]})) == repr(
        canon({"y": [1, {2: frozenset(s1)}], "x": s2}))


class Exploding(Node):
    def on_message(self, src: str, msg: Any) -> None:
        raise KeyError(msg)


def test_handler_exception_is_a_violation_with_its_path():
    result = explore({"n": (Exploding, {})}, {}, initial=lambda s: s.send("c", "n", "boom"))
    assert result.status == "violation" and result.invariant == "no exception"
    assert "KeyError" in result.message and len(result.counterexample) == 1


def test_bad_input_is_rejected_with_the_parameter_named():
    nodes = twophase_nodes(2)
    with pytest.raises(ValueError, match="max_drops"):
        explore(nodes, {}, max_drops=-1)
    with pytest.raises(ValueError, match="keep_messages"):
        explore(nodes, {}, keep_messages=True, max_drops=1)
    with pytest.raises(ValueError, match="nodes"):
        explore({"x": (object, {})}, {})
    with pytest.raises(ValueError, match="crashable"):
        explore(nodes, {}, crashable=["nope"])
    with pytest.raises(ValueError, match="must return True, False or a message"):
        explore(nodes, {"forgot return": lambda v: None})
    with pytest.raises(ValueError, match="n_rms"):
        twophase_nodes(0)


def test_replay_world_runs_monitors_after_each_step():
    nodes = twophase_nodes(2)
    seen: list[float] = []
    world = ReplayWorld(0, keep_messages=True)
    for name, (cls, config) in nodes.items():
        world.add_node(name, cls, **config)
    world.add_monitor(lambda w: seen.append(w.now))
    world.run(until=0.5)
    seen.clear()
    world.run(until=1.0)
    world.apply_step(Step("timer", "r1", timer="prepare"))
    assert world.nodes["r1"].rm_state == "prepared" and seen == [1.0]
    assert [m[1:3] for m in world.in_flight.values()] == [("r1", "tm")]


# ---- the course's own 2PC (distlib.transactions.twopc) ------------------------------------------
def twopc_nodes(n: int = 2, coord: type | None = None, part: type | None = None,
                votes: dict | None = None, coord_log_delay: float = 0.0) -> dict:
    from distlib.transactions.twopc import Coordinator, Participant, model_nodes
    return model_nodes(n, coordinator_cls=coord or Coordinator, participant_cls=part or Participant,
                       votes=votes, coord_log_delay=coord_log_delay)


def _atomic():
    from distlib.check.atomic import atomic_commitment_invariant
    return {"atomic commitment": atomic_commitment_invariant}


def _replays_faithfully(result, nodes) -> list[str]:
    """Replay the counterexample; check the deliveries match; return the simulator checker's verdict."""
    from distlib.check.atomic import check_atomic_commitment
    world = replay(result.counterexample, nodes)
    delivered = [(r.src, r.dst, r.msg) for r in world.trace.of(Deliver)]
    expected, down = [], set()
    for s in result.counterexample:          # a delivery to a crashed node is a Drop in the trace
        if s.kind == "crash":
            down.add(s.node)
        elif s.kind == "restart":
            down.discard(s.node)
        elif s.kind in ("deliver", "duplicate") and s.node not in down:
            expected.append((s.message.src, s.message.dst, s.message.msg))
    assert delivered == expected
    return check_atomic_commitment(world)


def test_2pc_participant_crash_correct_holds_nolog_breaks_and_replays():
    from distlib.transactions.twopc import NoLogParticipant
    bounds = dict(max_crashes=1, crashable=["p1"], max_depth=8)
    good = explore(twopc_nodes(2), _atomic(), **bounds)
    assert good.status == "ok" and good.states > 1000
    bad_nodes = twopc_nodes(2, part=NoLogParticipant)
    bad = explore(bad_nodes, _atomic(), **bounds)
    assert bad.status == "violation" and "p1 aborted" in bad.message
    kinds = [s.kind for s in bad.counterexample]
    assert "crash" in kinds and "restart" in kinds and len(kinds) == 8
    assert any("atomic commitment broken" in v for v in _replays_faithfully(bad, bad_nodes))
    from distlib.viz import describe, spacetime  # the replayed trace draws like any other
    world = replay(bad.counterexample, bad_nodes)
    assert len(spacetime(world.trace).data) > 0
    assert "1 crash, 1 restart" in describe(world.trace)


def test_2pc_coordinator_crash_correct_holds_eager_breaks_and_replays():
    from distlib.transactions.twopc import EagerCoordinator
    bounds = dict(max_crashes=1, crashable=["coord"], max_depth=8)
    good = explore(twopc_nodes(2, coord_log_delay=0.005), _atomic(), **bounds)
    assert good.status == "ok"
    bad_nodes = twopc_nodes(2, coord=EagerCoordinator, coord_log_delay=0.005)
    bad = explore(bad_nodes, _atomic(), **bounds)
    assert bad.status == "violation"
    # the decision left before it was logged; the coordinator crashed in that window
    assert [s.kind for s in bad.counterexample][-2:] == ["crash", "restart"]
    assert _replays_faithfully(bad, bad_nodes)


def test_2pc_majority_coordinator_commits_over_a_no_vote():
    from distlib.transactions.twopc import MajorityCoordinator
    votes = {"p3": "no"}
    assert explore(twopc_nodes(3, votes=votes), _atomic(), max_depth=7).status == "ok"
    bad_nodes = twopc_nodes(3, coord=MajorityCoordinator, votes=votes)
    bad = explore(bad_nodes, _atomic(), max_depth=7)
    assert bad.status == "violation" and "p3 aborted" in bad.message
    assert len(bad.counterexample) == 6       # start, 3 Prepares, 2 yes votes: commit
    assert any("p3" in v for v in _replays_faithfully(bad, bad_nodes))


# ---- symmetry reduction (opt-in) ------------------------------------------------------------------
RMS3 = [("r1", "r2", "r3")]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_symmetry_counts_exactly_the_orbits_of_twophase(n):
    # spec_states(symmetric=True) renames RMs in the spec's own state tuples, no explorer involved
    result = check_twophase(n, symmetry=[tuple(f"r{i}" for i in range(1, n + 1))])
    assert result.ok and result.states == spec_states(n, symmetric=True)
    assert (spec_states(3, symmetric=True), spec_states(3)) == (80, 288)


def _shapes(nodes: dict, symmetry: Any, keep: bool = True) -> tuple[set, set]:
    """Every state's shape up to renaming RMs, and the shapes of TCConsistent violations."""
    shapes: set = set()
    bad: set = set()

    def record(view: StateView) -> bool:
        rms = tuple(sorted(s["rm_state"] for s in view.states.values() if "rm_state" in s))
        tm = view.states["tm"]
        shape = (tm["tm_state"], len(tm["tm_prepared"]), rms,
                 tuple(sorted(type(m.msg).__name__ for m in view.messages)))
        shapes.add(shape)
        if tc_consistent(view) is not True:
            bad.add(shape)
        return True

    assert explore(nodes, {"record": record}, keep_messages=keep, symmetry=symmetry).ok
    return shapes, bad


def test_symmetry_reaches_the_same_states_and_violations_up_to_renaming():
    nodes = twophase_nodes(3)
    nodes["tm"] = (MajorityTM, nodes["tm"][1])
    full, full_bad = _shapes(nodes, None)
    reduced, reduced_bad = _shapes(nodes, RMS3)
    assert full_bad and reduced_bad == full_bad
    assert reduced == full
    assert explore(nodes, {}, keep_messages=True, symmetry=RMS3).states < \
        explore(nodes, {}, keep_messages=True).states


def test_symmetry_finds_the_same_counterexamples_and_they_replay():
    nodes = twophase_nodes(3)
    nodes["tm"] = (MajorityTM, nodes["tm"][1])
    full = explore(nodes, {"TCConsistent": tc_consistent}, keep_messages=True)
    reduced = explore(nodes, {"TCConsistent": tc_consistent}, keep_messages=True, symmetry=RMS3)
    assert (reduced.status, reduced.invariant, len(reduced.counterexample)) == \
        (full.status, full.invariant, len(full.counterexample)) == ("violation", "TCConsistent", 7)
    assert reduced.states < full.states
    world = replay(reduced.counterexample, nodes, keep_messages=True)
    final = {n: world.nodes[n].rm_state for n in ("r1", "r2", "r3")}
    assert "committed" in final.values() and "aborted" in final.values()


@pytest.mark.parametrize("kind", ["nolog", "eager"])
def test_symmetry_finds_the_2pc_crash_bugs_with_the_same_shortest_runs(kind):
    from distlib.check.atomic import check_atomic_commitment
    from distlib.transactions.twopc import EagerCoordinator, NoLogParticipant
    nodes = (twopc_nodes(2, part=NoLogParticipant) if kind == "nolog"
             else twopc_nodes(2, coord=EagerCoordinator, coord_log_delay=0.005))
    full = explore(nodes, _atomic(), max_crashes=1, max_depth=12)
    reduced = explore(nodes, _atomic(), max_crashes=1, max_depth=12, symmetry=[("p1", "p2")])
    assert reduced.status == full.status == "violation"
    assert len(reduced.counterexample) == len(full.counterexample) == 8
    assert reduced.states < 0.6 * full.states        # at most 2 renamings: about half the states
    assert check_atomic_commitment(replay(reduced.counterexample, nodes))
    # the correct protocol stays correct on the quotient
    assert explore(twopc_nodes(2), _atomic(), max_crashes=1, max_depth=8, symmetry=[("p1", "p2")]).ok


def test_symmetry_groups_must_really_be_interchangeable():
    with pytest.raises(ValueError, match="same class and configuration"):
        explore(twopc_nodes(3, votes={"p3": "no"}), {}, symmetry=[("p1", "p2", "p3")])
    with pytest.raises(ValueError, match="unknown node"):
        explore(twophase_nodes(2), {}, symmetry=[("r1", "r9")])
    with pytest.raises(ValueError, match="symmetry must be"):
        explore(twophase_nodes(2), {}, symmetry=[("r1",)])
    with pytest.raises(ValueError, match="crashable"):
        explore(twophase_nodes(2), {}, symmetry=[("r1", "r2")], crashable=["r1"])
    with pytest.raises(ValueError, match="same class and configuration"):
        explore(twophase_nodes(2), {}, symmetry=[("tm", "r1")])
