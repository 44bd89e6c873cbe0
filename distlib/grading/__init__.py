'''Exercises: one source, generated stubs, strength tests, an executor and a grader.

This docstring is the reference for chapter authors.

The exercise convention
=======================
``solutions/NN_topic.ipynb`` is the single source of every exercise of chapter NN. An exercise is
a *solution cell* followed (later in the notebook) by its *check cell*; put the statement in a
markdown cell before them.

Solution cell
    A code cell with ::

        metadata["exercise"] = {
            "id": "2pc-all-yes",          # unique in the notebook: letters, digits, - _ .
            "points": 2,                   # > 0
            "role": "solution",
            "wrong_answers": [             # at least one, or the strength tests fail
                {"name": "majority", "code": "<text that replaces the solution block>"},
            ],
        }

    Its source holds exactly one line ``### BEGIN SOLUTION`` and one line ``### END SOLUTION``
    (nbgrader's markers), possibly indented, e.g. inside a function body. Everything between and
    including the markers is *the solution block*::

        def decide(votes, participants, timed_out):
            """Gray's rule: commit iff ALL participants voted yes."""
            ### BEGIN SOLUTION
            ...
            ### END SOLUTION

    Optionally ``"right_answers"`` (same shape) records other answers the chapter's text allows (a
    different but correct rule); the strength tests prove the check accepts each of them. Record a
    shortcut (an answer that calls the course's reference) among the wrong answers too: see
    :mod:`distlib.grading.guard`.

    A wrong answer's ``code`` replaces the block; write it without the block's indentation (it is
    dedented, then indented to the BEGIN marker's column). Record *plausible* mistakes, the ones
    the chapter warns about (a majority instead of all votes, ...): code that runs but is wrong.

Check cell
    The code cell with ``metadata["exercise"] = {"id": <same id>, "role": "check"}``. It calls a
    check from ``distlib.grading.checks.<topic>`` that raises ``AssertionError`` with a specific
    "wrong, because ..." message when the answer is wrong and prints a "right: ..." line when it is
    right. Let ``NotImplementedError`` from the stub propagate. Keep checks deterministic.

Cells between a solution cell and its check cell run again for every variant (stub, each wrong
answer, solution); cells after the check see the solution's state.

Tools
=====
``python -m distlib.grading.generate [--check]`` (:mod:`.generate`)
    Writes ``exercises/NN_topic.ipynb`` for every solutions notebook: each solution block becomes
    ``raise NotImplementedError("Exercise <id>: write your solution here")`` at the block's
    indentation, outputs and execution counts are cleared, ``wrong_answers`` are removed, stub and
    check cells are tagged ``raises-exception`` (so ``pytest --nbval-lax exercises`` passes).
    Byte-for-byte deterministic. ``--check`` writes nothing and exits 1 listing out-of-date files.
``python -m distlib.grading.execute PATH...`` (:mod:`.execute`)
    Executes notebooks in place with nbclient (120 s per cell, the notebook's folder as working
    directory) and normalizes them so two runs give identical bytes. Fails naming the cell if a
    cell not tagged ``raises-exception`` raises.
``tests/test_exercises.py`` (:mod:`.strength`)
    For every exercise of every ``solutions/*.ipynb``: the check FAILS on the stub, FAILS with an
    ``AssertionError`` on every recorded wrong answer, PASSES (printing "right") on the solution;
    ids are unique, points positive, at least one wrong answer; ``exercises/`` is in sync.
``python -m distlib.grade PATH [--solutions DIR] [--json OUT] [--csv OUT] [--timeout S] [--jobs N]``
    (:mod:`.grader`) Grades one notebook or a class folder (one sub-folder per student) against the
    canonical check cells of ``solutions/`` (students cannot edit a check to pass; a deleted check is
    "missing"), N notebooks at a time; per-student totals over every course notebook; renamed
    copies matched, duplicates and unknown files warned about; files written only when asked.

Checks that cannot be fooled (the design every check follows; see ``checks/feedback.py``):
differential over generated inputs, smallest failing case reported, known mistakes diagnosed by
behaviour, strict-type comparison, the expected answer computed after the learner's function returned;
reference answers protected by :mod:`.guard`; check cells import their module themselves (rebinding
``checks`` changes nothing). Students' code still runs unsandboxed in the grader's kernel: the
grader defends against mistakes, loops, edited check cells, delegation to the reference and rebinding,
not against deliberately tampering with the grader's own modules.
'''

from typing import Any

# Lazy exports: a check module (imported by every exercises notebook) must not pull in the grader,
# nbclient or the generator; and `python -m distlib.grading.generate` must not warn (runpy).
_EXPORTS = {
    "ExerciseGrade": "grader", "SubmissionGrade": "grader", "grade": "grader", "grade_notebook": "grader",
    "Exercise": "notebooks", "find_exercises": "notebooks", "read_notebook": "notebooks",
    "replace_block": "notebooks", "stub_source": "notebooks", "write_notebook": "notebooks",
    "StrengthReport": "strength", "strength_test": "strength", "make_exercise_notebook": "generate",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'distlib.grading' has no attribute {name!r}")
    from importlib import import_module
    return getattr(import_module(f"{__name__}.{module}"), name)
