"""The saga timeline (distlib.viz.saga_view): marks from the journals, retries from the trace, text twin."""

from __future__ import annotations

import pytest

from distlib.transactions.saga import ORCH, run_saga, scenario
from distlib.viz.saga_view import saga_figure, saga_summary


def traces(fig, name_part):
    return [t for t in fig.data if name_part in (t.name or "")]


def test_completed_saga_marks_every_step_and_the_pivot():
    run = scenario("complete", 1)
    fig = saga_figure(run)
    assert list(fig.layout.yaxis.categoryarray) == ["payment", "hotel", "flight", "orch"]
    steps = traces(fig, "s1: step committed")[0]
    assert list(steps.text) == ["flight", "hotel", "ticket", "confirm"]
    pivot = traces(fig, "s1: pivot committed")[0]
    assert list(pivot.text) == ["payment (pivot)"] and pivot.marker.symbol == "diamond"
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].x0 == pivot.x[0]
    assert "s1 completed" in fig.layout.title.text
    assert saga_summary(run).splitlines()[0] == (
        "s1 (trip): flight@0.046 hotel@0.090 payment*@0.132 ticket@0.165 confirm@0.207 -> completed in "
        "0.207 s; 0 retries, 0 transient failures")


def test_compensations_failures_retries_and_crashes_are_drawn():
    run = run_saga(1, fail_step="payment", crash=ORCH, crash_at="after:hotel", restart_after=0.3)
    fig = saga_figure(run)
    undo = traces(fig, "s1: compensation committed")[0]
    assert list(undo.text) == ["undo hotel", "undo flight"] and undo.x[0] < undo.x[1]
    assert list(traces(fig, "s1: step failed")[0].text) == ["payment failed"]
    assert traces(fig, "crash") and traces(fig, "restart") and traces(fig, "retry")
    assert not fig.layout.shapes                          # the pivot never committed
    text = saga_summary(run)
    assert "FAILED payment@" in text and "-> compensated in" in text and "crashes: orch@" in text


def test_transient_failures_are_counted():
    run = run_saga(1, service_config={"flight": {"flaky": 0.6}}, until=6.0)
    assert traces(saga_figure(run), "transient failure")
    assert "8 retries, 8 transient failures" in saga_summary(run).splitlines()[0]   # 1 flight + 7 ticket


def test_a_stuck_saga_is_shown_with_its_reason():
    run = scenario("stuck", 1)
    fig = saga_figure(run)
    assert traces(fig, "s1: stuck")
    assert any("STUCK: hotel refuses release_room" in a.text for a in fig.layout.annotations)
    assert "  stuck: hotel refuses release_room" in saga_summary(run)


def test_choreography_has_no_orchestrator_lane_and_same_run_same_json():
    a = saga_figure(run_saga(2, "choreography", fail_step="hotel"))
    b = saga_figure(run_saga(2, "choreography", fail_step="hotel"))
    assert list(a.layout.yaxis.categoryarray) == ["payment", "hotel", "flight"]
    assert a.to_json() == b.to_json()


@pytest.mark.parametrize("bad", [None, "run", 3])
def test_bad_input(bad):
    with pytest.raises(ValueError, match="run must be a SagaRun"):
        saga_figure(bad)
    with pytest.raises(ValueError, match="run must be a SagaRun"):
        saga_summary(bad)
