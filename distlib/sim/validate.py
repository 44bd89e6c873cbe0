"""Argument checks shared by the whole library: a bad value raises ``ValueError`` naming the
parameter and what is allowed (the course's rule for bad input), in one wording everywhere."""

from __future__ import annotations

import math


def _range(lo: float, hi: float, above: bool) -> str:
    if math.isinf(hi):
        return f"> {lo:g}" if above else f">= {lo:g}"
    return f"in ({lo:g}, {hi:g}]" if above else f"in [{lo:g}, {hi:g}]"


def number(name: str, value: object, lo: float = 0.0, hi: float = math.inf, *,
           above: bool = False) -> float:
    """``value`` as a float if it is a number in [lo, hi] ((lo, hi] with ``above``).

    Booleans and NaN are not numbers here.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if ok:
        ok = (lo < value if above else lo <= value) and value <= hi  # type: ignore[operator]
    if not ok:
        raise ValueError(f"{name} must be a number {_range(lo, hi, above)} (got {value!r})")
    return float(value)  # type: ignore[arg-type]


def integer(name: str, value: object, lo: int = 0, hi: int | None = None) -> int:
    """``value`` if it is an integer in lo..hi (no upper bound if ``hi`` is None); not a bool."""
    ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value
    if ok and hi is not None:
        ok = value <= hi  # type: ignore[operator]
    if not ok:
        allowed = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be an integer {allowed} (got {value!r})")
    return value  # type: ignore[return-value]
