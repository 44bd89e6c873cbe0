"""Sagas (distlib.transactions.saga) and their checkers (distlib.check.saga).

Budget: about 10 s on 2 cores (the 300-seed sweeps of the correct saga and of each broken variant).
"""

from __future__ import annotations

from typing import Any

import pytest

from distlib.check.saga import (
    check_invariant,
    check_saga,
    find_anomalies,
    saga_states,
    settle_times,
)
from distlib.check.sweep import sweep
from distlib.sim import Node, World
from distlib.transactions.localstore import Refuse, Tx
from distlib.transactions.saga import (
    ANOMALIES,
    SCENARIOS,
    TRAVEL,
    CancelReply,
    CancelRequest,
    DirectPublishService,
    NoLogOrchestrator,
    NonIdempotentService,
    Orchestrator,
    Saga,
    SagaEnded,
    SagaService,
    Step,
    StepDone,
    StepReply,
    StepRequest,
    UndoReply,
    UndoRequest,
    WrongOrderOrchestrator,
    anomaly_scenario,
    random_saga,
    run_saga,
    scenario,
)


def undo_order(run, saga="s1") -> list[str]:
    return [e.step for e in run.journal() if e.saga == saga and e.kind == "undo"]


def committed(run, saga="s1") -> list[str]:
    return [e.step for e in run.journal() if e.saga == saga and e.kind == "step"]


# ---- the normal cases ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["orchestration", "choreography"])
def test_a_saga_completes_every_step_once(mode):
    run = run_saga(1, mode)
    assert run.outcomes == {"s1": "completed"}
    assert committed(run) == ["flight", "hotel", "payment", "ticket", "confirm"]
    assert run.violations == []
    assert run.db("flight")["seats"] == 9 and run.db("flight")["tickets"] == {"s1": 1}
    assert run.db("payment")["balance"] == 700 and run.db("hotel")["confirmed"] == {"s1": 1}
    assert "s1=completed" in run.summary() and "violations: 0" in run.summary()


@pytest.mark.parametrize("mode", ["orchestration", "choreography"])
@pytest.mark.parametrize("fail, undone", [("flight", []), ("hotel", ["flight"]),
                                          ("payment", ["hotel", "flight"])])
def test_a_failure_compensates_the_committed_steps_in_reverse(mode, fail, undone):
    run = run_saga(2, mode, fail_step=fail)
    assert run.outcomes == {"s1": "compensated"}
    assert undo_order(run) == undone                      # Cj ... C1
    assert [e.step for e in run.journal() if e.kind == "failed"] == [fail]
    assert "ticket" not in committed(run) and fail not in committed(run)
    # semantic atomicity: back where we started, for this saga's resources
    assert run.db("flight")["held"] == {} and run.db("hotel")["held"] == {}
    assert run.db("payment")["charges"] == {}
    assert run.violations == []


def test_orchestrator_log_records_the_saga():
    run = run_saga(3, fail_step="payment")
    kinds = [type(r).__name__ for r in run.log()]
    assert kinds == ["SagaBegun", "StepDone", "StepDone", "StepFailed", "Undone", "Undone", "SagaEnded"]
    assert run.log()[-1] == SagaEnded("s1", "compensated")


def test_same_seed_same_trace():
    a, b = random_saga(17), random_saga(17)
    assert a.world.trace == b.world.trace and len(a.world.trace) > 0
    assert random_saga(18).world.trace != a.world.trace


def test_retriable_steps_are_never_compensated_and_retry_until_done():
    run = run_saga(1, service_config={"flight": {"flaky": 0.6}}, until=6.0)
    assert run.outcomes == {"s1": "completed"}                 # ticket retried after the pivot
    notes = [r.text for r in run.world.trace.records if r.kind == "annotate"]
    assert sum("issue_ticket for s1 failed transiently" in n for n in notes) == 7   # no retry limit
    assert undo_order(run) == []
    assert run.violations == []


def test_compensations_that_fail_transiently_are_retried_until_they_commit():
    run = run_saga(0, fail_step="payment", service_config={"hotel": {"flaky": 0.7}}, until=6.0)
    notes = [r.text for r in run.world.trace.records if r.kind == "annotate"]
    assert sum("release_room for s1 failed transiently" in n for n in notes) == 17   # no retry limit
    assert run.outcomes == {"s1": "compensated"} and undo_order(run) == ["hotel", "flight"]
    assert run.violations == []


# ---- faults -------------------------------------------------------------------------------------------
def test_orchestrator_recovers_from_its_log_and_resumes_backward():
    run = run_saga(1, fail_step="payment", crash="orch", crash_at="after:hotel", restart_after=0.3)
    notes = [r.text for r in run.world.trace.records if r.kind == "annotate"]
    assert any(n.startswith("recovered saga s1: resuming") for n in notes)
    assert run.outcomes == {"s1": "compensated"} and undo_order(run) == ["hotel", "flight"]
    assert run.violations == []


def test_no_log_orchestrator_leaves_the_saga_half_done():
    run = run_saga(1, crash="orch", crash_at="after:hotel", restart_after=0.3,
                   orchestrator_cls=NoLogOrchestrator)
    assert run.outcomes == {"s1": "running"}
    assert any("did not settle" in v and "half-done" in v for v in run.violations)


def test_duplicates_take_effect_once_with_the_inbox_and_twice_without():
    good = run_saga(1, fail_step="payment", duplicate=0.3)
    assert any(r.kind == "duplicate" for r in good.world.trace.records)
    assert good.violations == []
    bad = run_saga(1, fail_step="payment", duplicate=0.3, service_cls=NonIdempotentService)
    assert any("exactly-once effect broken" in v for v in bad.violations)


def test_wrong_compensation_order_is_caught():
    run = run_saga(1, fail_step="payment", orchestrator_cls=WrongOrderOrchestrator)
    assert undo_order(run) == ["flight", "hotel"]
    assert any("reverse order" in v for v in run.violations)


def test_outbox_keeps_the_event_across_a_crash_direct_publish_loses_it():
    good = run_saga(1, "choreography", crash="hotel", crash_at="after:hotel", restart_after=0.3)
    assert good.outcomes == {"s1": "completed"} and good.violations == []
    notes = [r.text for r in good.world.trace.records if r.kind == "annotate"]
    assert any("relaying 1 outbox event" in n for n in notes)
    bad = run_saga(1, "choreography", crash="hotel", crash_at="after:hotel", restart_after=0.3,
                   service_cls=DirectPublishService)
    assert bad.outcomes == {"s1": "running"}
    assert any("half-done" in v for v in bad.violations)


def test_a_permanently_refused_compensation_is_an_explicit_stuck_state():
    run = run_saga(1, fail_step="payment", stuck_step="hotel")
    assert run.outcomes == {"s1": "stuck"}
    assert run.log()[-1].outcome == "stuck" and "release_room" in run.log()[-1].reason
    assert any(v.startswith("saga s1: stuck:") and "refuses release_room" in v for v in run.violations)
    chor = run_saga(1, "choreography", fail_step="payment", stuck_step="hotel")
    assert chor.outcomes == {"s1": "stuck"}
    assert saga_states(chor)["s1"].reason.startswith("compensation of hotel refused")


@pytest.mark.parametrize("mode", ["orchestration", "choreography"])
def test_a_step_that_keeps_failing_transiently_is_given_up_and_compensated(mode):
    run = run_saga(1, mode, service_config={"hotel": {"flaky": 1.0}})
    assert run.outcomes == {"s1": "compensated"} and undo_order(run) == ["flight"]
    assert saga_states(run)["s1"].failed == "hotel"
    assert run.violations == []


class _Probe(Node):
    """Sends scripted messages and records the replies (for fencing tests)."""

    def __init__(self, script: tuple = ()):
        self.script = script

    def on_start(self) -> None:
        self.storage.setdefault("got", [])
        for i, (at, _dst, _msg) in enumerate(self.script):
            self.set_timer(f"send:{i}", at)

    def on_timer(self, name: str) -> None:
        _t, dst, msg = self.script[int(name.partition(":")[2])]
        self.send(dst, msg)

    def on_message(self, src: str, msg: Any) -> None:
        self.storage["got"].append(msg)


def _probe_world(script: tuple, service_cls=SagaService) -> World:
    world = World(0, latency=0.01)
    world.add_node("probe", _Probe, script=script)
    world.add_node("hotel", service_cls, db={"rooms": 1, "held": {}})
    world.run(until=1.0)
    return world


def test_a_cancelled_step_is_fenced_off_so_a_late_copy_cannot_commit():
    ctx = (("rooms", 1),)
    world = _probe_world(((0.0, "hotel", CancelRequest("s1", "hotel")),
                          (0.1, "hotel", StepRequest("s1", "hotel", "reserve_room", ctx))))
    got = world.storage["probe"]["got"]
    assert got[0] == CancelReply("s1", "hotel", False)
    assert got[1] == StepReply("s1", "hotel", "failed", reason="cancelled by the orchestrator before it ran")
    assert world.storage["hotel"]["db"]["rooms"] == 1


def test_a_compensation_never_runs_for_a_step_that_did_not_commit():
    ctx = (("rooms", 1),)
    world = _probe_world(((0.0, "hotel", UndoRequest("s1", "hotel", "release_room", ctx)),
                          (0.1, "hotel", StepRequest("s1", "hotel", "reserve_room", ctx))))
    got = world.storage["probe"]["got"]
    assert got[0] == UndoReply("s1", "hotel", "ok")
    assert got[1].status == "failed"                         # fenced: compensated before it ran
    assert world.storage["hotel"]["db"]["rooms"] == 1         # no effect either way
    assert [e.kind for e in world.storage["hotel"]["journal"]] == ["skip"]
    # without the inbox the compensation runs on nothing: a room appears from nowhere
    broken = _probe_world(((0.0, "hotel", UndoRequest("s1", "hotel", "release_room", ctx)),),
                          NonIdempotentService)
    assert broken.storage["hotel"]["db"]["rooms"] == 2


def test_a_committed_step_reports_committed_on_cancel():
    ctx = (("rooms", 1),)
    world = _probe_world(((0.0, "hotel", StepRequest("s1", "hotel", "reserve_room", ctx)),
                          (0.1, "hotel", CancelRequest("s1", "hotel"))))
    got = world.storage["probe"]["got"]
    assert got[0].status == "ok" and got[1] == CancelReply("s1", "hotel", True)


# ---- sweeps -------------------------------------------------------------------------------------------
def test_sagas_hold_over_300_random_seeds():
    result = sweep(random_saga, range(300), check_saga)
    assert result.ok, result.summary() + str(list(result.violations.items())[:2])
    assert set(result.outcomes) >= {"completed", "compensated"}
    # the sweep really injects faults: crashes, restarts from storage, duplicates
    kinds = {x.kind for s in range(20) for x in random_saga(s).world.trace.records}
    assert {"crash", "restart", "duplicate", "drop", "partition", "pause"} <= kinds


@pytest.mark.parametrize("label, kwargs, word", [
    ("wrong order", {"orchestrator_cls": WrongOrderOrchestrator}, "reverse order"),
    ("non-idempotent", {"service_cls": NonIdempotentService}, "exactly-once"),
    ("no log", {"orchestrator_cls": NoLogOrchestrator, "mode": "orchestration", "kinds": ("crash",)},
     "half-done"),
    ("direct publish", {"service_cls": DirectPublishService, "mode": "choreography", "kinds": ("crash",)},
     "half-done"),
])
def test_each_broken_variant_is_caught_by_a_sweep(label, kwargs, word):
    result = sweep(lambda s: random_saga(s, **kwargs), range(300), check_saga)
    assert not result.ok, label
    assert any(word in v for vs in result.violations.values() for v in vs), label


def test_settle_times_are_reported():
    run = run_saga(1, fail_step="payment")
    t = settle_times(run)["s1"]
    assert t is not None and 0 < t < 1
    assert settle_times(run_saga(1, crash="orch", crash_at="after:hotel",
                                 orchestrator_cls=NoLogOrchestrator))["s1"] is None


def test_every_named_scenario_runs():
    for name in SCENARIOS:
        run = scenario(name, 0)
        assert run.summary()
        broken = "bug" in name or name == "stuck"
        assert bool(run.violations) == broken, (name, run.violations)


# ---- isolation anomalies ------------------------------------------------------------------------------
KIND = {"lost-update": "lost update", "dirty-read": "dirty read",
        "non-repeatable-read": "non-repeatable read"}


@pytest.mark.parametrize("anomaly", ANOMALIES)
def test_each_anomaly_breaks_the_invariant_and_its_countermeasure_removes_it(anomaly):
    plain = [anomaly_scenario(anomaly, s) for s in range(30)]
    shown = sum(bool(find_anomalies(r)[KIND[anomaly]]) for r in plain)
    broken = sum(bool(check_invariant(r)) for r in plain)
    assert shown >= 25 and broken >= 25, (shown, broken)
    fixed = [anomaly_scenario(anomaly, s, countermeasure=True) for s in range(30)]
    assert sum(bool(find_anomalies(r)[KIND[anomaly]]) for r in fixed) == 0
    assert sum(bool(check_invariant(r)) for r in fixed) == 0
    for r in plain + fixed:   # the sagas themselves are fine: atomicity is not isolation
        assert [v for v in check_saga(r) if not v.startswith("invariant")] == []


def test_dirty_read_message_names_the_sagas():
    run = anomaly_scenario("dirty-read", 0)
    found = find_anomalies(run)["dirty read"]
    assert found and "s2's withdraw read balance as s1's credit wrote it" in found[0]
    assert any("balance -100 < 0" in v for v in check_invariant(run))


# ---- operations and definitions -----------------------------------------------------------------------
def test_tx_records_reads_writes_and_refuse():
    tx = Tx({"rooms": 2}, {"rooms": 5}, "s1", "hotel")
    assert tx.read("rooms") == 2 and tx.reads == {"rooms": 5}
    tx.write("rooms", 1, based_on=4)
    assert tx.read("rooms") == 1 and tx.writes == {"rooms": 1} and tx.based_on == {"rooms": 4}
    with pytest.raises(KeyError, match="no key 'beds'"):
        tx.read("beds")
    assert issubclass(Refuse, Exception)


def test_learner_ops_plug_in():
    def release_room(tx, ctx):
        tx.write("rooms", tx.read("rooms") + 1)
        held = tx.read("held")
        held.pop(tx.saga)
        tx.write("held", held)
    run = run_saga(1, fail_step="payment", ops={"release_room": release_room})
    assert run.violations == [] and undo_order(run) == ["hotel", "flight"]


def test_saga_definition_accessors():
    assert TRAVEL.pivot == "payment" and TRAVEL.services == ("flight", "hotel", "payment")
    assert TRAVEL.index("hotel") == 1 and TRAVEL.step("ticket").kind == "retriable"
    assert repr(StepRequest("s1", "hotel", "reserve_room", ())) == "StepRequest(saga='s1', step='hotel')"
    assert StepDone("s1", "hotel") == StepDone("s1", "hotel", ())


# ---- bad input: a clear ValueError naming the parameter -----------------------------------------------
S = Step("a", "svc", "op", "undo")


@pytest.mark.parametrize("make, word", [
    (lambda: Step("a", "svc", "op"), "compensation must name"),
    (lambda: Step("", "svc", "op", "undo"), "name must be"),
    (lambda: Step("a", "", "op", "undo"), "service must be"),
    (lambda: Step("a", "svc", "", "undo"), "action must be"),
    (lambda: Step("a", "svc", "op", "undo", kind="maybe"), "kind must be one of"),
    (lambda: Step("a", "svc", "op", "undo", retries=-1), "retries must be an integer >= 0"),
    (lambda: Step("a", "svc", "op", "undo", retries=1.5), "retries must be an integer"),
    (lambda: Step("a", "svc", "op", "undo", kind="pivot"), "compensation must be None for pivot"),
    (lambda: Saga("t", ()), "steps must be a non-empty list"),
    (lambda: Saga("t", "ab"), "steps must be a non-empty list"),
    (lambda: Saga("t", (S, "x")), r"steps\[1\] must be a Step"),
    (lambda: Saga("t", (S, S)), r"steps\[1\].name must be unique"),
    (lambda: Saga("t", (Step("p", "s", "o", kind="pivot"), Step("b", "s", "o", "u"))),
     r"steps\[1\] \('b'\) is compensatable but comes after 'p'"),
    (lambda: Saga("t", (Step("p", "s", "o", kind="pivot"), Step("q", "s", "o", kind="pivot"))),
     "at most one pivot"),
    (lambda: Saga("t", (Step("r", "s", "o", kind="retriable"), Step("p", "s", "o", kind="pivot"))),
     "retriable but comes before the pivot"),
    (lambda: Saga("", (S,)), "name must be"),
    (lambda: run_saga(mode="gossip"), "mode must be one of"),
    (lambda: run_saga(fail_step="taxi"), "fail_step must be one of"),
    (lambda: run_saga(fail_step="ticket"), "fail_step must be a compensatable step or the pivot"),
    (lambda: run_saga(stuck_step="payment"), "stuck_step must be a compensatable step"),
    (lambda: run_saga(loss=1.5), "loss must be a number in"),
    (lambda: run_saga(flaky=-0.1), "flaky must be a number in"),
    (lambda: run_saga(sagas=0), "sagas must be an integer in"),
    (lambda: run_saga(until=0), "until must be a number > 0"),
    (lambda: run_saga(crash="taxi", crash_at=0.1), "crash must be one of"),
    (lambda: run_saga(crash="orch", crash_at="after:taxi"), "crash_at must be a time"),
    (lambda: run_saga(crash_at=0.1), "crash must name the node"),
    (lambda: run_saga(crash="orch", crash_at=0.1, restart_after=0), "restart_after must be a number > 0"),
    (lambda: run_saga(faults="crash taxi at 1"), "unknown node 'taxi'"),
    (lambda: run_saga(db={"taxi": {}}), "db names unknown service 'taxi'"),
    (lambda: run_saga(orchestrator_cls=dict), "orchestrator_cls must be a subclass of Orchestrator"),
    (lambda: run_saga(service_cls=Orchestrator), "service_cls must be a subclass of SagaService"),
    (lambda: run_saga(definition="trip"), "definition must be a Saga"),
    (lambda: run_saga(service_config={"hotel": 3}), r"service_config\['hotel'\] must be a dict"),
    (lambda: run_saga(ops={"release_room": 3}), r"ops\['release_room'\] must be a function"),
    (lambda: run_saga(service_config={"hotel": {"work_time": -1}}), "work_time must be a number >= 0"),
    (lambda: run_saga(seed=-1), "seed must be a non-negative integer"),
    (lambda: Orchestrator(definitions={"x": 3}), r"definitions\['x'\] must be a Saga"),
    (lambda: Orchestrator(resend_interval=0), "resend_interval must be a number > 0"),
    (lambda: SagaService(refuse="release_room"), "refuse must be a list"),
    (lambda: SagaService(relay_interval=0), "relay_interval must be a number > 0"),
    (lambda: anomaly_scenario("phantom"), "anomaly must be one of"),
    (lambda: anomaly_scenario("dirty-read", countermeasure="yes"), "countermeasure must be True or False"),
    (lambda: random_saga(1, mode="x"), "mode must be one of"),
    (lambda: random_saga(1, max_faults=-1), "max_faults must be an integer >= 0"),
    (lambda: scenario("nope"), "name must be one of"),
    (lambda: DirectPublishService(publish_delay=0), "publish_delay must be a number > 0"),
])
def test_bad_input_raises_a_value_error_naming_the_parameter(make, word):
    with pytest.raises(ValueError, match=word):
        make()
