"""What every exercise check is built from.

* :func:`fail` — the one "wrong, because ..." failure.
* :func:`call` — calling a learner's function so that its own bug becomes feedback, not a crash.
* :func:`exercise` — the decorator every check entry point wears: it fails (0 points) an answer that
  delegated to the course's reference (see :mod:`distlib.grading.guard`), before and after the check.
* :func:`first_failure` — differential checking: run a judge over generated cases, smallest first,
  and fail on the first (so the smallest) failing one.
* :func:`plain` / :func:`same` — compare a learner's value with the expected one by type and value,
  so an object whose ``__eq__`` always says True cannot pass.

Design (see ``docs/ARCHITECTURE.md``, "Exercise checks"): checks compare the learner's code with the
rule on *generated* inputs — every combination of a small domain (all tie orders, all vote/timeout
combinations, all permutations) plus seeded random larger ones — and compute the expected answer
only after the learner's function has returned, from pristine copies of the inputs.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from distlib.grading import guard

C = TypeVar("C")
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    """Fail the check with feedback: ``AssertionError("wrong, because <message>")``."""
    raise AssertionError("wrong, because " + message)


@guard.transparent
def call(fn: Callable, *args: Any) -> Any:
    """``fn(*args)``; a stub's NotImplementedError passes through, any other exception is feedback."""
    if not callable(fn):
        fail(f"expected a function, got {type(fn).__name__} {fn!r}.")
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except guard.ShortcutError as exc:
        fail(str(exc))
    except Exception as exc:  # a learner's bug: report it as feedback, not a crash
        fail(f"calling {getattr(fn, '__name__', 'your function')}{_short(args)} raised "
             f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Raised:
    """What a learner's function did instead of returning: it raised ``exc`` (a type name). Equal by
    type name only, so a crash can be compared with a known mistake that crashes on the same input."""

    exc: str
    message: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"<raised {self.exc}{': ' + self.message if self.message else ''}>"


@guard.transparent
def outcome(fn: Callable, *args: Any) -> Any:
    """``fn(*args)`` on deep copies of ``args``; a learner's exception becomes :class:`Raised` (part of
    the answer's behaviour). The stub's NotImplementedError propagates; a refused shortcut fails."""
    if not callable(fn):
        fail(f"expected a function, got {type(fn).__name__} {fn!r}.")
    try:
        return fn(*copy.deepcopy(args))
    except NotImplementedError:
        raise
    except guard.ShortcutError as exc:
        fail(str(exc))
    except Exception as exc:  # a learner's bug: part of the answer's behaviour
        return Raised(type(exc).__name__, str(exc))


def call_copy(fn: Callable, *args: Any) -> Any:
    """:func:`call` on deep copies of ``args`` (the learner cannot mutate the case under test)."""
    return call(fn, *copy.deepcopy(args))


def _short(args: tuple) -> str:
    text = repr(args)
    return text if len(text) <= 300 else text[:297] + "...)"


def _refuse_shortcuts(exercise_id: str, used: list[str]) -> None:
    if used:
        fail(f"your notebook calls {', '.join(used)}, the course's own answer to exercise "
             f"{exercise_id}. An answer that delegates to the reference scores 0: write the rule yourself.")


def _handed_in_references(args: tuple, kwargs: dict) -> list[str]:
    """Protected references handed in AS the answer (``from jobs import range_partitioner as
    make_partitioner``): the check would call them from library code, where they pass."""
    found: list[str] = []

    def look(value: Any, depth: int) -> None:
        for candidate in (value, getattr(value, "__func__", None), getattr(value, "func", None)):
            if candidate is not None and guard.is_protected(candidate):
                found.append(getattr(candidate, "__qualname__", repr(candidate)))
                return
        if depth and type(value) in (tuple, list):
            for item in value:
                look(item, depth - 1)
        elif depth and type(value) is dict:
            for item in value.values():
                look(item, depth - 1)

    for value in (*args, *kwargs.values()):
        look(value, 2)
    return found


def exercise(exercise_id: str) -> Callable[[F], F]:
    """Decorate a check entry point of exercise ``exercise_id`` (see the module docstring).

    Calls of the exercise's protected references made since the last check of it (in an answer cell,
    or by the learner's function during this check, even if the error was caught) fail the check; so
    does an answer that IS a protected reference, and a notebook that changed the sealed library
    (:func:`distlib.grading.guard.tampering`).
    """
    def decorate(check: F) -> F:
        @functools.wraps(check)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not guard.checks_armed():
                print(f"(grading: the check of {exercise_id} runs in its own check cell, not here)")
                return None
            changed = guard.tampering()
            if changed:
                shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
                fail(f"your notebook changed the course's library ({shown}). Checks run the library's "
                     "code, so an answer graded on a changed library scores 0: restart the kernel and "
                     "solve the exercise without rebinding anything in distlib.")
            handed_in = _handed_in_references(args, kwargs)
            if handed_in:
                fail(f"your answer is {', '.join(handed_in)}, the course's own code. An answer that "
                     "delegates to the reference scores 0: write the rule yourself.")
            _refuse_shortcuts(exercise_id, guard.take(exercise_id))
            try:
                result = check(*args, **kwargs)
            finally:
                during = guard.take(exercise_id)
            _refuse_shortcuts(exercise_id, during)
            return result
        checked.exercise_id = exercise_id  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]
    return decorate


def first_failure(cases: Iterable[C], judge: Callable[[C], str | None]) -> int:
    """Judge every case in order (smallest first); fail with the first problem. Returns the count."""
    count = 0
    for case in cases:
        count += 1
        problem = judge(case)
        if problem is not None:
            fail(problem)
    return count


def differential(cases: Iterable[C], answer: Callable[[C], Any], allowed: Callable[[C], list[Any]],
                 describe: Callable[[C, Any], str], explain: Callable[[C, Any], str], *,
                 mistakes: Iterable[tuple[Callable[[C], Any], str]] = ()) -> int:
    """Compare a learner's ``answer(case)`` with every value ``allowed(case)`` on all ``cases``
    (smallest first). On a mismatch, fail with ``describe(case, got)`` for the smallest failing case
    and a reason: the message of the first known mistake whose model agrees with the learner on
    *every* case (the answer behaves exactly like that mistake), else ``explain(case, got)``.
    Returns the number of cases.
    """
    answers = [(case, answer(case)) for case in cases]
    for case, got in answers:
        if any(same(got, ok) for ok in allowed(case)):
            continue
        reason = next((message for model, message in mistakes
                       if all(same(g, model(c)) for c, g in answers)), None)
        fail(f"{describe(case, got)}: {reason or explain(case, got)}.")
    return len(answers)


_PLAIN_ATOMS = (str, int, float, bool, type(None))


def plain(value: Any) -> bool:
    """True for values built only of str/int/float/bool/None, tuples, lists and dicts of them, and
    frozen dataclass values of the library (e.g. ``Ballot``) — never a learner's own class."""
    if type(value) in _PLAIN_ATOMS:
        return True
    if type(value) in (tuple, list):
        return all(plain(v) for v in value)
    if type(value) is dict:
        return all(plain(k) and plain(v) for k, v in value.items())
    module = type(value).__module__ or ""
    return module.startswith("distlib.") and hasattr(value, "__dataclass_fields__")


def same(got: Any, expected: Any) -> bool:
    """``got == expected`` with the same types all the way down (True is not 1, a look-alike
    object is not a value)."""
    if type(got) is not type(expected):
        return False
    if type(got) in (tuple, list):
        return len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected, strict=True))
    if type(got) is dict:
        return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in expected)
    return bool(plain(got) and expected == got)


def check_schedule(schedule: Any, *, max_faults: int = 3, min_faults: int = 0) -> Any:
    """A bug-hunt answer must be a :class:`~distlib.sim.FaultSchedule` of a sensible size. Returns a
    rebuilt copy of plain library faults to run instead of the answer's object: a subclass of the
    schedule or of a fault could run any code when applied (red team, chapter 09: a "fault" that wrote
    the duplicate output into the name node itself)."""
    import dataclasses

    from distlib.sim import FaultSchedule
    from distlib.sim.faults import CrashFault, CutFault, PartitionFault, PauseFault

    if type(schedule) is not FaultSchedule:
        fail(f"schedule must be a FaultSchedule built from crash/pause/partition/cut faults "
             f"(got {type(schedule).__name__}).")
    faults = tuple(schedule.faults) if type(schedule.faults) is tuple else None
    if faults is None or any(type(f) not in (CrashFault, PauseFault, PartitionFault, CutFault)
                             or not all(plain(getattr(f, fld.name)) for fld in dataclasses.fields(f))
                             for f in faults):
        fail("schedule must hold only faults made by crash(), pause(), partition() and cut() "
             "(not subclasses or look-alikes).")
    if not min_faults <= len(faults) <= max_faults:
        wanted = (f"at most {max_faults}" if min_faults == 0 else f"{min_faults} to {max_faults}")
        fail(f"use {wanted} faults (you used {len(faults)}); the bug needs only one.")
    return FaultSchedule(dataclasses.replace(f) for f in faults)
