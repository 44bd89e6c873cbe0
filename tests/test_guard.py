"""Exercise checks cannot be fooled: reference tripwires, strict comparison, rebinding ``checks``.

The per-exercise proofs (every recorded wrong answer and shortcut rejected, the solution accepted) are
the strength tests in ``test_exercises.py``; this file tests the machinery and the attacks that are
not a replacement of a solution block.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from distlib.grading import guard
from distlib.grading.checks import feedback, twopc
from distlib.grading.generate import make_exercise_notebook
from distlib.grading.kernel import KernelSession
from distlib.grading.notebooks import (
    CHECK_DISARM,
    CHECK_RESTORE,
    GUARD_PREAMBLE,
    ROLE_CHECK,
    exercise_meta,
    read_notebook,
    repo_root,
)

SOLUTIONS = sorted((repo_root() / "solutions").glob("*.ipynb"))


@pytest.fixture(autouse=True)
def _fresh_record():
    """Shortcut records are kernel-global (a notebook's whole session); each test starts clean."""
    saved = list(guard._calls)
    guard._calls.clear()
    yield
    guard._calls[:] = saved


def _library_module(name: str) -> types.ModuleType:
    """A loaded module whose ``__name__`` is inside distlib: code defined in it is library code."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    return module


def test_a_protected_reference_refuses_callers_outside_the_library():
    def answer(x):
        return x * 2

    holder = _library_module("distlib.tests_fake_home")
    holder.answer = answer
    guard.protect("fake-exercise", answer)
    assert guard.is_protected(holder.answer)
    with pytest.raises(guard.ShortcutError, match="fake-exercise"):
        holder.answer(2)                    # called from this test module: not the library
    assert guard.shortcuts("fake-exercise") == [f"{__name__}.test_a_protected_reference_refuses_callers_"
                                                "outside_the_library.<locals>.answer"]
    library = _library_module("distlib.tests_fake_caller")
    exec("def use(f):\n    return f(21)", library.__dict__)
    assert library.use(holder.answer) == 42  # called from library code: allowed


def test_laundering_through_feedback_call_is_still_refused():
    with pytest.raises(AssertionError, match="course's own answer"):
        feedback.call(twopc._gray_decision, {}, ["p1"], True)


def test_shortcut_recorded_even_if_caught_fails_the_check():
    def sneaky(votes, participants, timed_out):
        try:
            twopc._cooperative({"p2": "committed"})
        except guard.ShortcutError:
            pass
        if any(v == "no" for v in votes.values()):
            return "abort"
        if all(votes.get(p) == "yes" for p in participants):
            return "commit"
        return "abort" if timed_out else None

    def terminate(peers):
        states = list(peers.values())
        if "committed" in states:
            return "commit"
        return "abort" if ("aborted" in states or "not voted" in states) else None

    sneaky({}, ["p1"], True)            # a cell that tried the reference and swallowed the refusal
    with pytest.raises(AssertionError, match="2pc-cooperative"):
        twopc.check_terminate(terminate)   # a right rule, but the notebook called the reference
    twopc.check_terminate(terminate)       # judged again after the call is gone: right
    twopc.check_decide(sneaky)  # another exercise's reference does not concern 2pc-decide


def test_same_refuses_look_alike_values():
    class Equal:
        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

    assert not feedback.same(Equal(), "commit")
    assert not feedback.same(1, True) and not feedback.same(True, 1)
    assert not feedback.same(("promise", None), ["promise", None])
    assert feedback.same({"a": (1, None)}, {"a": (1, None)})


def test_feedback_is_reproducible():
    """Seeded generation: the same wrong answer gets the same message every time."""
    def majority(votes, participants, timed_out):
        yes = sum(v == "yes" for v in votes.values())
        return "commit" if yes > len(participants) / 2 else ("abort" if timed_out else None)

    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as info:
            twopc.check_decide(majority)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "returned 'commit'" in messages[0] or "returned None" in messages[0]


@pytest.mark.skipif(not SOLUTIONS, reason="no solutions/*.ipynb yet")
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_rebinding_checks_cannot_pass_a_check(path: Path, tmp_path: Path):
    """A cell that rebinds ``checks`` to an object printing "right" must not pass any check of the
    blank exercises notebook: check cells import their module themselves."""
    nb = make_exercise_notebook(read_notebook(path))
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    fake = ("class _AlwaysRight:\n    def __getattr__(self, name):\n"
            "        return lambda *a, **k: print('right: fake')\nchecks = _AlwaysRight()\n")
    checks_run = 0
    with KernelSession(path.parent, timeout=120) as kernel:
        assert kernel.run(GUARD_PREAMBLE, store_history=False).status == "ok"
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = exercise_meta(cell)
            is_check = meta is not None and meta["role"] == ROLE_CHECK
            if is_check:   # as the grader does around every check cell
                assert kernel.run(CHECK_RESTORE, store_history=False).status == "ok"
            run = kernel.run(cell.source)
            if is_check:
                kernel.run(CHECK_DISARM, store_history=False)
            if index == first_code:
                assert kernel.run(fake).status == "ok"
            if is_check:
                checks_run += 1
                assert run.status != "ok", f"{path.name}: check {meta['id']} passed with `checks` rebound"
    assert checks_run > 0


def _shortcut_submission(path: Path) -> tuple[object, dict[str, str]]:
    """The solutions notebook with every exercise that has a recorded shortcut answered by it (the
    others keep the blank stub): what a student who delegates to the course's code hands in."""
    from distlib.grading.notebooks import find_exercises, replace_block, stub_source

    nb = read_notebook(path)
    exercises, _ = find_exercises(nb)
    used: dict[str, str] = {}
    for ex in exercises:
        cell = nb.cells[ex.solution_index]
        shortcut = next((w for w in ex.wrong_answers if w.name.startswith("shortcut")), None)
        if shortcut is None:
            cell.source = stub_source(cell.source, ex.id)
        else:
            cell.source = replace_block(cell.source, shortcut.code)
            used[ex.id] = shortcut.name
    return nb, used


@pytest.mark.skipif(not SOLUTIONS, reason="no solutions/*.ipynb yet")
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_the_grader_scores_shortcuts_zero(path: Path, tmp_path: Path):
    """In the grader (not only the strength tests): an answer that calls the shipped reference scores 0,
    and the status says why."""
    from distlib.grading.grader import grade_notebook
    from distlib.grading.notebooks import write_notebook

    nb, used = _shortcut_submission(path)
    if not used:
        pytest.skip(f"{path.name} records no shortcut answer")
    submission = tmp_path / path.name
    write_notebook(nb, submission)
    graded = grade_notebook(submission, path, 120)
    by_id = {e.id: e for e in graded.exercises}
    for ex_id, name in used.items():
        grade = by_id[ex_id]
        assert grade.points == 0, f"{ex_id} ({name}) scored {grade.points}: {grade.status}"
        assert "own answer" in grade.status or "ShortcutError" in grade.status, (ex_id, grade.status)
    assert graded.points == 0, [(e.id, e.status) for e in graded.exercises if e.points]


TAMPER = '''import sys, types
import distlib.grading.checks as _pkg
import distlib.grading.checks.paxos as _real
_real.check_on_prepare = lambda f: print("right: (patched)")
_fake = types.SimpleNamespace(check_on_accept=lambda f: print("right: (fake module)"),
                              check_choose_value=lambda f: print("right: (fake module)"))
_pkg.paxos = _fake
sys.modules["distlib.grading.checks.paxos"] = _fake
'''


def test_the_grader_ignores_check_modules_tampered_with_from_an_answer(tmp_path: Path):
    """Red-team finding (chapters 07, 08): an answer cell that monkeypatched a check function, rebound the
    package attribute or replaced the module in sys.modules scored full points. The grader re-imports the
    check modules before every check cell, so blank answers with tampering score 0."""
    from distlib.grading.generate import make_exercise_notebook as make
    from distlib.grading.grader import grade_notebook
    from distlib.grading.notebooks import write_notebook

    path = repo_root() / "solutions" / "02_paxos.ipynb"
    nb = make(read_notebook(path))
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[first_code].source += "\n" + TAMPER
    submission = tmp_path / path.name
    write_notebook(nb, submission)
    graded = grade_notebook(submission, path, 120)
    scored = {e.id: e.status for e in graded.exercises if e.points}
    assert not scored, scored
