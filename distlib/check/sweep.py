"""Seed sweeps: run a scenario for many seeds and check each run.

>>> from distlib.transactions.twopc import random_2pc
>>> from distlib.check.atomic import check_atomic_commitment
>>> result = sweep(random_2pc, range(100), check_atomic_commitment)   # doctest: +SKIP
>>> result.ok, result.outcomes                                          # doctest: +SKIP
(True, {'abort': 41, 'commit': 59})

No printing and no figures here (callers report); ``progress`` may wrap the seed iterable
(e.g. a progress bar) without this module knowing about it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

R = TypeVar("R")


@dataclass
class SweepResult(Generic[R]):
    """What a sweep found. ``violations`` holds only the failing seeds."""

    seeds: list[int] = field(default_factory=list)
    violations: dict[int, list[str]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    first_failing_seed: int | None = None
    first_failure: R | None = None      # the run of the first failing seed, to inspect

    @property
    def ok(self) -> bool:
        return not self.violations


    def summary(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        first = "" if self.first_failing_seed is None else f"; first failing seed {self.first_failing_seed}"
        return (f"{len(self.seeds)} seeds, {len(self.violations)} with violations{first}; "
                f"outcomes: {counts or 'none'}")


def _default_outcome(result: Any) -> str:
    value = getattr(result, "outcome", None)
    return value if isinstance(value, str) else "done"


def sweep(run: Callable[[int], R], seeds: Iterable[int], check: Callable[[R], list[str]],
          progress: Callable[[Iterable], Iterable] | None = None,
          outcome: Callable[[R], str] | None = None) -> SweepResult[R]:
    """Run ``run(seed)`` for every seed, ``check`` each result, and tally.

    ``outcome(result)`` names the result for the counts (default: its ``outcome`` attribute,
    e.g. a 2PC run's "commit"/"abort"/"blocked"). Seeds are run in the order given.
    """
    if not callable(run) or not callable(check):
        raise ValueError("run and check must be callables: run(seed) -> result, check(result) -> list[str]")
    if isinstance(seeds, str) or not isinstance(seeds, Iterable):
        raise ValueError(f"seeds must be an iterable of seeds such as range(100) (got {seeds!r})")
    for name, fn in (("progress", progress), ("outcome", outcome)):
        if fn is not None and not callable(fn):
            raise ValueError(f"{name} must be a callable or None (got {fn!r})")
    classify = outcome or _default_outcome
    seq: Iterable[int] = seeds if progress is None else progress(seeds)
    res: SweepResult[R] = SweepResult()
    for seed in seq:
        result = run(seed)
        res.seeds.append(seed)
        found = list(check(result))
        if found:
            res.violations[seed] = found
            if res.first_failing_seed is None:
                res.first_failing_seed = seed
                res.first_failure = result
        name = classify(result)
        res.outcomes[name] = res.outcomes.get(name, 0) + 1
    return res
