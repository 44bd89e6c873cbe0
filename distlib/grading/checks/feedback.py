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
