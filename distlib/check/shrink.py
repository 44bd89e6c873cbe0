"""Shrink a failing fault schedule to a minimal one that still fails.

A random nemesis finds bugs with schedules like "six crashes and partitions
over ten seconds"; a person wants the one or two faults that matter. Shrinking
(as in QuickCheck, Jepsen and Hypothesis) repeats the run with smaller
schedules, keeping any that still fail::

    def fails(schedule, until=3.0):
        run = run_2pc(seed=1, faults=schedule, until=until, participant_cls=NoLogParticipant)
        return bool(run.violations)
    result = shrink(random_faults(2, 3, faults=7), fails, until=3.0)
    print(result.summary())
    # 7 faults -> 1 fault in 22 runs: crash p3 at 0.02, restart at 0.02; until 0.07

Passes, repeated until nothing changes (or ``max_runs`` is spent):

1. **ddmin over faults** (Zeller & Hildebrandt, "Simplifying and Isolating
   Failure-Inducing Input", TSE 2002): try halves, then complements, then finer
   splits, keeping any subset that still fails. The result is 1-minimal: removing
   any single remaining fault makes the run pass.
2. **Each fault earlier and shorter**: binary-search the earliest start (keeping
   its duration) and then the shortest duration that still fail, in steps of
   ``resolution``.
3. **A shorter run**: binary-search the smallest ``until`` that still fails, if
   ``fails`` accepts an ``until`` keyword and one was given.

Everything is deterministic: the same schedule and ``fails`` give the same
result and the same number of runs. ``fails`` must itself be deterministic (a
simulator run with a fixed seed is).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from distlib.sim.faults import CrashFault, CutFault, Fault, FaultSchedule, PartitionFault, PauseFault
from distlib.sim.validate import number

# The field holding each fault kind's end time (None = never ends).
_END = {CrashFault: "restart", PauseFault: "resume", PartitionFault: "heal", CutFault: "heal"}


@dataclass
class ShrinkResult:
    """The minimal failing schedule and how it was found."""

    schedule: FaultSchedule
    until: float | None
    runs: int                 # how many times ``fails`` was called
    before: int               # number of faults before shrinking ...
    after: int                # ... and after
    original: FaultSchedule
    original_until: float | None
    exhausted: bool = False   # max_runs ran out: the result still fails but may not be minimal

    def summary(self) -> str:
        def n(k: int) -> str:
            return f"{k} fault{'s' if k != 1 else ''}"
        text = f"{n(self.before)} -> {n(self.after)} in {self.runs} runs: {self.schedule.describe()}"
        if self.until is not None:
            text += f"; until {self.until:g}"
        if self.exhausted:
            text += " (max_runs reached: may not be minimal)"
        return text

    def __str__(self) -> str:
        return self.summary()


class _Budget(Exception):
    pass


def _accepts_until(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "until" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _end(f: Fault) -> float | None:
    return getattr(f, _END[type(f)])


def _with_times(f: Fault, at: float, end: float | None) -> Fault:
    return dataclasses.replace(f, at=at, **{_END[type(f)]: end})


def _snap(x: float, resolution: float) -> float:
    # Round to the grid so shrunk times read as 0.25, not 0.24999999999999997.
    return round(round(x / resolution) * resolution, 10)


def _ddmin(items: list[Fault], test: Callable[[list[Fault]], bool]) -> list[Fault]:
    """Zeller & Hildebrandt's ddmin: a 1-minimal failing sublist of ``items`` (order kept)."""
    n = 2
    while len(items) >= 2:
        size = math.ceil(len(items) / n)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        for c in chunks:                               # reduce to a subset
            if test(c):
                items, n = c, 2
                break
        else:
            for i in range(len(chunks)):               # reduce to a complement
                comp = [x for j, c in enumerate(chunks) if j != i for x in c]
                if len(chunks) > 2 and test(comp):
                    items, n = comp, max(n - 1, 2)
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), 2 * n)             # increase granularity
    return items


def _search_down(lo: float, hi: float, ok: Callable[[float], bool], resolution: float) -> float:
    """The smallest x in [lo, hi] on the ``resolution`` grid with ok(x), given ok(hi) (bisection)."""
    if ok(lo):
        return lo
    while hi - lo > resolution * 1.5:
        mid = _snap((lo + hi) / 2, resolution)
        if mid <= lo or mid >= hi:
            break
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _simplify(faults: list[Fault], i: int, test: Callable[[list[Fault]], bool],
              resolution: float) -> Fault:
    """Fault ``i`` moved as early, then made as short, as it can be while ``test`` still fails."""
    f = faults[i]

    def swap(g: Fault) -> list[Fault]:
        return faults[:i] + [g] + faults[i + 1:]

    end = _end(f)
    dur = None if end is None else end - f.at

    def moved(at: float) -> Fault:
        return _with_times(f, at, None if dur is None else _snap(at + dur, resolution))

    at = _search_down(0.0, f.at, lambda a: test(swap(moved(a))), resolution)
    if at != f.at:       # the search returns f.at itself untested: keep f exactly then
        f = moved(at)
        end = _end(f)
        dur = None if end is None else end - f.at
    if dur is None:
        return f
    g = f

    def shortened(d: float) -> Fault:
        return _with_times(g, g.at, _snap(g.at + d, resolution))

    d = _search_down(0.0, dur, lambda x: test(swap(shortened(x))), resolution)
    return f if d == dur else shortened(d)


def shrink(schedule: FaultSchedule, fails: Callable[..., bool], *, until: float | None = None,
           resolution: float = 0.01, max_runs: int = 1000) -> ShrinkResult:
    """Delta-debug the failing ``schedule`` to a minimal one for which ``fails`` is still True.

    ``fails(schedule)`` (or ``fails(schedule, until=...)`` when ``until`` is given)
    runs the simulator and returns True when the invariant is violated. Times are
    moved in multiples of ``resolution``; at most ``max_runs`` runs are made.
    """
    if not isinstance(schedule, FaultSchedule):
        raise ValueError(f"schedule must be a FaultSchedule (got {type(schedule).__name__})")
    if not callable(fails):
        raise ValueError("fails must be a function schedule -> bool")
    for f in schedule:
        if type(f) not in _END:
            raise ValueError(f"schedule holds an unknown fault {f!r}; known: crash, pause, partition, cut")
    resolution = number("resolution", resolution, above=True)
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise ValueError(f"max_runs must be a positive integer (got {max_runs!r})")
    use_until = until is not None
    if use_until:
        until = number("until", until)
        if not _accepts_until(fails):
            raise ValueError("until was given but fails does not accept an until= keyword argument")
        until = float(until)

    original_until = until
    cache: dict[tuple, bool] = {}
    runs = 0

    def test(faults: Sequence[Fault], u: float | None) -> bool:
        nonlocal runs
        key = (tuple(faults), u)
        if key not in cache:
            if runs >= max_runs:
                raise _Budget
            runs += 1
            sched = FaultSchedule(faults)
            verdict = fails(sched, until=u) if use_until else fails(sched)
            if not isinstance(verdict, bool):
                raise ValueError(f"fails must return True or False (got {verdict!r})")
            cache[key] = verdict
        return cache[key]

    if not test(schedule.faults, until):
        raise ValueError("schedule must make fails(...) return True before it can be shrunk")

    best: list[Fault] = list(schedule.faults)
    exhausted = False
    try:
        while True:
            start = (tuple(best), until)
            # 1. fewer faults (the empty schedule first: maybe the bug needs no fault at all)
            if best and test([], until):
                best = []
            fixed_until = until
            best = _ddmin(best, lambda fs, u=fixed_until: test(fs, u))
            # 2. each fault earlier, then shorter
            for i in range(len(best)):
                best[i] = _simplify(best, i, lambda fs, u=fixed_until: test(fs, u), resolution)
            # 3. a shorter run
            if use_until:
                assert until is not None
                # (the shortest run tried is one resolution step: many runners reject until=0)
                until = _search_down(min(resolution, until), until, lambda u, fs=tuple(best): test(fs, u),
                                     resolution)
            if (tuple(best), until) == start:
                break
    except _Budget:
        exhausted = True
    return ShrinkResult(schedule=FaultSchedule(best), until=until, runs=runs, before=len(schedule),
                        after=len(best), original=schedule, original_until=original_until,
                        exhausted=exhausted)
