"""Shrinking failing fault schedules: ddmin over faults, earlier/shorter faults, shorter runs."""

from __future__ import annotations

import pytest

from distlib.check.shrink import shrink
from distlib.sim import CrashFault, FaultSchedule, PartitionFault, crash, cut, partition, pause


def noisy(extra: list) -> FaultSchedule:
    base = FaultSchedule.random(5, ["a", "b", "c"], horizon=10, faults=8,
                                kinds=("crash", "pause", "partition", "cut"))
    return FaultSchedule(sorted(list(base) + extra, key=lambda f: f.at))


def b_down_at_4(s: FaultSchedule) -> bool:
    return any(isinstance(f, CrashFault) and f.node == "b" and f.at <= 4
               and (f.restart is None or f.restart >= 4) for f in s)


def needs_two(s: FaultSchedule, until: float = 10.0) -> bool:
    """Synthetic bug: b is down at time 4 AND some partition starts after 5, in a run of >= 6."""
    return (until >= 6 and b_down_at_4(s)
            and any(isinstance(f, PartitionFault) and f.at >= 5 for f in s))


def test_synthetic_two_fault_bug_shrinks_to_exactly_those_two_and_the_shortest_run():
    original = noisy([crash("b", at=3.5, restart=5.0), partition(["a"], ["b", "c"], at=6.5, heal=9)])
    assert len(original) == 10 and needs_two(original)
    r = shrink(original, needs_two, until=10.0)
    assert (r.before, r.after) == (10, 2) and not r.exhausted
    kinds = sorted(type(f).__name__ for f in r.schedule)
    assert kinds == ["CrashFault", "PartitionFault"]
    assert needs_two(r.schedule, until=r.until)
    for i in range(len(r.schedule)):              # 1-minimal: every remaining fault matters
        assert not needs_two(r.schedule.without(i), until=r.until)
    c = next(f for f in r.schedule if isinstance(f, CrashFault))
    # moved as early as still fails (down at 4 with its 1.5 duration => starts at 2.5), then as short
    assert (c.at, c.restart) == (2.5, 4.0)
    p = next(f for f in r.schedule if isinstance(f, PartitionFault))
    assert p.at == 5.0 and p.heal == 5.0
    assert r.until == 6.0 and r.original_until == 10.0
    assert "10 faults -> 2 faults" in r.summary()


def test_shrinking_is_deterministic():
    original = noisy([crash("b", at=3.5, restart=5.0), partition(["a"], ["b", "c"], at=6.5, heal=9)])
    a = shrink(original, needs_two, until=10.0)
    b = shrink(original, needs_two, until=10.0)
    assert (a.schedule, a.until, a.runs) == (b.schedule, b.until, b.runs)


def test_fails_without_until_and_a_bug_that_needs_no_fault():
    original = noisy([crash("b", at=3.5)])
    r = shrink(original, b_down_at_4)             # fails(schedule) only: until is left alone
    assert r.until is None and len(r.schedule) == 1
    assert r.schedule.faults[0] == CrashFault("b", 0.0, None)   # crash-stop, moved to time 0
    always = shrink(original, lambda s: True)
    assert always.after == 0 and always.runs == 2   # the original, then the empty schedule


def test_max_runs_budget_returns_a_still_failing_schedule_marked_not_minimal():
    original = noisy([crash("b", at=3.5, restart=5.0), partition(["a"], ["b", "c"], at=6.5, heal=9)])
    r = shrink(original, needs_two, until=10.0, max_runs=4)
    assert r.exhausted and r.runs == 4 and "may not be minimal" in r.summary()
    assert needs_two(r.schedule, until=r.until)


def test_bad_input_is_rejected_with_the_parameter_named():
    s = FaultSchedule([pause("a", at=1, resume=2), cut("a", "b", at=1)])
    with pytest.raises(ValueError, match="must make fails"):
        shrink(s, lambda s: False)
    with pytest.raises(ValueError, match="schedule"):
        shrink([crash("a", at=1)], lambda s: True)
    with pytest.raises(ValueError, match="until"):
        shrink(s, lambda s: True, until=3.0)          # fails takes no until=
    with pytest.raises(ValueError, match="resolution"):
        shrink(s, lambda s: True, resolution=0)
    with pytest.raises(ValueError, match="max_runs"):
        shrink(s, lambda s: True, max_runs=0)
    with pytest.raises(ValueError, match="True or False"):
        shrink(s, lambda s: 1)


# ---- a real bug: 2PC whose participant does not log its yes vote ---------------------------------
def test_nolog_2pc_random_seven_fault_schedule_shrinks_to_one_crash():
    from distlib.transactions.twopc import NoLogParticipant, Participant, random_faults, run_2pc

    def fails_with(participant_cls):
        def fails(schedule: FaultSchedule, until: float = 3.0) -> bool:
            run = run_2pc(seed=1, faults=schedule, until=until, participant_cls=participant_cls)
            return bool(run.violations)
        return fails

    fails = fails_with(NoLogParticipant)
    original = random_faults(2, 3, faults=7, kinds=("crash", "partition", "pause"), horizon=0.5)
    assert len(original) == 7 and fails(original)
    r = shrink(original, fails, until=3.0)
    assert r.after == 1 and not r.exhausted and fails(r.schedule, until=r.until)
    (f,) = r.schedule
    # the one fault that matters: a participant crashes (and comes back) after voting yes
    assert isinstance(f, CrashFault) and f.node.startswith("p") and f.restart is not None
    assert not fails(FaultSchedule(), until=r.until)
    # the same minimal schedule is harmless to the correct participant, which logs before voting
    assert not fails_with(Participant)(r.schedule, until=r.until)
    assert r.until < 3.0 and r.runs < 60
