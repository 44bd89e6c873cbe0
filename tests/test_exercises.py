"""Strength tests: every exercise's check fails on the stub and on every recorded wrong answer, and
passes on the solution; metadata follows the convention; exercises/ is in sync with solutions/.

One kernel per solutions notebook (see ``distlib.grading.strength``). The machinery itself is
tested on ``tests/fixtures/solutions/99_fixture.ipynb`` and on weakened copies of it.
Budget for the fixture tests: ~10 s on 2 cores; each course notebook adds about its own run time
times (2 + number of wrong answers) for the cells of its exercises.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from distlib.grading import generate
from distlib.grading.notebooks import exercise_meta, read_notebook, repo_root, write_notebook
from distlib.grading.strength import static_problems, strength_test

ROOT = repo_root()
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
FIXTURE = Path(__file__).parent / "fixtures" / "solutions" / "99_fixture.ipynb"
no_solutions = pytest.mark.skipif(not SOLUTIONS, reason="no solutions/*.ipynb yet")
course = pytest.mark.parametrize("path", SOLUTIONS or [None], ids=[p.name for p in SOLUTIONS] or ["none"])


# ---- the course's solutions notebooks -----------------------------------------------------------
@no_solutions
@course
def test_exercise_metadata(path):
    """Ids unique, points positive, markers well formed, at least one wrong answer per exercise."""
    problems = static_problems(path)
    assert not problems, "\n".join(problems)


@no_solutions
@course
def test_checks_are_strong(path):
    """Check FAILS on the stub and on each wrong answer, PASSES on the solution (one kernel)."""
    report = strength_test(path)
    assert report.exercises, f"{path.name} has no exercises"
    assert report.ok, str(report)


@no_solutions
def test_exercises_in_sync_with_solutions():
    _, report = generate.plan(ROOT / "solutions", ROOT / "exercises")
    outdated, stale = [p.name for p in report.outdated], [p.name for p in report.stale]
    assert report.clean, ("exercises/ is out of date; run `python -m distlib.grading.generate`: "
                          f"{outdated} outdated, {stale} stale")


# ---- the machinery, on the fixture ------------------------------------------------------------
def test_fixture_checks_are_strong():
    report = strength_test(FIXTURE)
    assert report.ok, str(report)
    assert report.exercises == ["add", "majority"]
    assert report.variants_run == 2 * (1 + 2 + 1)  # stub + 2 wrong answers + solution, each


def _cell(nb, ex_id, role):
    return next(c for c in nb.cells if (exercise_meta(c) or {}).get("id") == ex_id
                and exercise_meta(c)["role"] == role)


def test_weak_checks_are_caught(tmp_path):
    """Each defect the strength test exists for, planted in a copy of the fixture (one kernel)."""
    nb = copy.deepcopy(read_notebook(FIXTURE))
    add, maj = _cell(nb, "add", "solution"), _cell(nb, "majority", "solution")
    # add: a check that cannot fail, and a "wrong answer" that is in fact right.
    _cell(nb, "add", "check").source = "print('right: looks fine')"
    add.metadata.exercise["wrong_answers"].append({"name": "actually-right", "code": "return b + a"})
    # majority: a wrong answer that crashes the check instead of failing it, one that does not
    # even run, and a solution the check rejects.
    maj.metadata.exercise["wrong_answers"] = [
        {"name": "returns-none", "code": "def is_majority(votes, n):\n    return None if n else 1 / 0"},
        {"name": "typo", "code": "def is_majority(votes, n)\n    return True"},
        {"name": "crashes", "code": "def is_majority(votes, n):\n    return votes[n]"},
    ]
    maj.source = maj.source.replace("> n / 2", ">= n / 2")
    path = tmp_path / "weak.ipynb"
    write_notebook(nb, path)
    problems = strength_test(path).problems
    text = "\n".join(problems)
    expected = [
        "exercise add, stub: the check PASSED on the blank stub",
        "exercise add, wrong answer 'subtracts': the check PASSED on this wrong answer",
        "exercise add, wrong answer 'concatenates': the check PASSED on this wrong answer",
        "exercise add, wrong answer 'actually-right': the check PASSED on this wrong answer",
        "exercise majority, wrong answer 'typo': the recorded wrong answer itself fails to run (SyntaxError",
        "exercise majority, wrong answer 'crashes': the check crashed with IndexError",
        "exercise majority, solution: the check failed: AssertionError: wrong, because",
    ]
    for needle in expected:
        assert any(p.startswith(needle) for p in problems), f"missing {needle!r} in:\n{text}"
    # returns-none fails properly with AssertionError: not a problem.
    assert "returns-none" not in text
    assert len(problems) == len(expected), text


def test_static_problems_are_caught(tmp_path):
    nb = copy.deepcopy(read_notebook(FIXTURE))
    add, maj = _cell(nb, "add", "solution"), _cell(nb, "majority", "solution")
    add.metadata.exercise["wrong_answers"] = []
    add.metadata.exercise["points"] = 0
    maj.metadata.exercise["id"] = "add"  # duplicate id
    path = tmp_path / "static.ipynb"
    write_notebook(nb, path)
    text = "\n".join(static_problems(path))
    assert "exercise add: points must be a positive number, got 0" in text
    assert "exercise add: duplicate id, solution cells 3 and 6" in text
    assert "exercise add: no wrong_answers recorded" in text


def test_check_cell_missing_is_caught(tmp_path):
    nb = copy.deepcopy(read_notebook(FIXTURE))
    nb.cells.remove(_cell(nb, "majority", "check"))
    path = tmp_path / "nocheck.ipynb"
    write_notebook(nb, path)
    assert "exercise majority: solution cell 6 has no check cell" in static_problems(path)
