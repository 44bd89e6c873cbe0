"""The two helpers every exercise check uses: a "wrong, because ..." failure, and calling a
learner's function so that its own bug becomes feedback rather than a crash of the check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn


def fail(message: str) -> NoReturn:
    """Fail the check with feedback: ``AssertionError("wrong, because <message>")``."""
    raise AssertionError("wrong, because " + message)


def call(fn: Callable, *args: Any) -> Any:
    """``fn(*args)``; a stub's NotImplementedError passes through, any other exception is feedback."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # a learner's bug: report it as feedback, not a crash
        fail(f"calling {getattr(fn, '__name__', 'your function')}{args!r} raised "
             f"{type(exc).__name__}: {exc}")


def check_schedule(schedule: Any, *, max_faults: int = 3, min_faults: int = 0) -> None:
    """A bug-hunt answer must be a :class:`~distlib.sim.FaultSchedule` of a sensible size."""
    from distlib.sim import FaultSchedule

    if not isinstance(schedule, FaultSchedule):
        fail(f"schedule must be a FaultSchedule (got {type(schedule).__name__}).")
    if not min_faults <= len(schedule) <= max_faults:
        wanted = (f"at most {max_faults}" if min_faults == 0 else f"{min_faults} to {max_faults}")
        fail(f"use {wanted} faults (you used {len(schedule)}); the bug needs only one.")
