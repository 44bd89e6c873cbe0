"""Argument checks shared by the whole library: a bad value raises ``ValueError`` naming the
parameter and what is allowed (the course's rule for bad input), in one wording everywhere:
``"{name} must be {what is allowed} (got {value!r})"``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _range(lo: float, hi: float, above: bool) -> str:
    if math.isinf(hi):
        return f"> {lo:g}" if above else f">= {lo:g}"
    return f"in ({lo:g}, {hi:g}]" if above else f"in [{lo:g}, {hi:g}]"


def _is_number(value: object) -> bool:
    """A finite int or float. Booleans, NaN and infinities are not numbers here: every number the
    library takes is a time, a delay or a probability, and an infinite one only hangs a run."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(name: str, value: object, lo: float = 0.0, hi: float = math.inf, *,
           above: bool = False) -> float:
    """``value`` as a float if it is a finite number in [lo, hi] ((lo, hi] with ``above``)."""
    ok = _is_number(value)
    if ok:
        ok = (lo < value if above else lo <= value) and value <= hi  # type: ignore[operator]
    if not ok:
        finite = "finite " if isinstance(value, float) and math.isinf(value) else ""
        raise ValueError(f"{name} must be a {finite}number {_range(lo, hi, above)} (got {value!r})")
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


def span(name: str, value: object, lo: float = 0.0, *, above: bool = True) -> tuple[float, float]:
    """``value`` as ``(low, high)`` floats if it is a pair of finite numbers with
    lo < low <= high (lo <= low if not ``above``): an election timeout, a back-off range."""
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value)
    if ok:
        low, high = value  # type: ignore[misc]
        ok = (lo < low if above else lo <= low) and low <= high
    if not ok:
        rel = "<" if above else "<="
        raise ValueError(f"{name} must be a (low, high) pair of numbers with {lo:g} {rel} low <= high "
                         f"(got {value!r})")
    return float(value[0]), float(value[1])  # type: ignore[index]


def flag(name: str, value: object) -> bool:
    """``value`` if it is True or False (a string such as "no" is truthy: refuse it)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False (got {value!r})")
    return value


def one_of(name: str, value: object, allowed: Sequence[object]) -> object:
    """``value`` if it is one of ``allowed``."""
    try:
        ok = value in allowed
    except TypeError:   # an unhashable value asked of a dict's keys
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))} (got {value!r})")
    return value


def names(name: str, value: object, known: Sequence[str] | None = None, *,
          empty: bool = False) -> tuple[str, ...]:
    """``value`` as a tuple of distinct non-empty names (drawn from ``known`` if given); a single
    string is refused (it would be read letter by letter)."""
    what = f"names from {', '.join(known)}" if known is not None else "names"
    ok = isinstance(value, (tuple, list)) and (empty or len(value) > 0)
    if ok:
        ok = (all(isinstance(n, str) and n for n in value)    # type: ignore[union-attr]
              and len(set(value)) == len(value))               # type: ignore[arg-type]
    if ok and known is not None:
        ok = all(n in known for n in value)                    # type: ignore[union-attr]
    if not ok:
        many = "a list of" if empty else "a non-empty list of"
        raise ValueError(f"{name} must be {many} distinct {what} (got {value!r})")
    return tuple(value)  # type: ignore[arg-type]


def node_times(name: str, value: object, known: Sequence[str], lo: float = 0.0) -> dict[str, float]:
    """``value`` as ``{node: time}`` if it maps names from ``known`` to finite numbers >= lo."""
    ok = isinstance(value, Mapping) and all(k in known and _is_number(v) and v >= lo
                                            for k, v in value.items())
    if not ok:
        raise ValueError(f"{name} must map node names ({', '.join(known)}) to numbers >= {lo:g} "
                         f"(got {value!r})")
    return {k: float(v) for k, v in value.items()}  # type: ignore[union-attr]


def subclass(name: str, value: object, base: type) -> type:
    """``value`` if it is ``base`` or a subclass of it."""
    if not (isinstance(value, type) and issubclass(value, base)):
        raise ValueError(f"{name} must be a subclass of {base.__name__} (got {value!r})")
    return value
