"""The chapter 08 lock-service view: figure, text twin and panel."""

import plotly.io as pio
import pytest

from distlib.coordination import gc_pause
from distlib.viz.lock_view import lock_figure, lock_panel, lock_summary


def test_unfenced_gc_pause_shows_the_interleaved_effects():
    run = gc_pause(0, fenced=False)
    text = lock_summary(run)
    assert "c1 believed it held the lock (gen 1)" in text and "c2 believed it held the lock (gen 2)" in text
    assert "effects checker: 1 violation(s)" in text
    fig = lock_figure(run)
    assert any(a.text == "effects interleaved!" for a in fig.layout.annotations)


def test_fenced_gc_pause_marks_the_rejected_write():
    run = gc_pause(0, fenced=True)
    text = lock_summary(run)
    assert "REJECTED" in text and "stale sequencer" in text
    assert "effects checker: 0 violation(s)" in text
    names = [t.name for t in lock_figure(run).data]
    assert "rejected (stale sequencer)" in names


def test_figure_is_a_pure_function_of_the_run():
    assert pio.to_json(lock_figure(gc_pause(1))) == pio.to_json(lock_figure(gc_pause(1)))


def test_panel_runs_and_rejects_bad_values():
    fig, text = lock_panel(pause_client=2.0, crash_master=True)
    assert text.startswith("lock service seed 0") and fig.data
    with pytest.raises(ValueError, match="lease must be a number"):
        lock_panel(lease=0.1)
    with pytest.raises(ValueError, match="pause_client"):
        lock_panel(pause_client=-1)
    with pytest.raises(ValueError, match="run must be a LockRun"):
        lock_figure("run")
