"""Strength tests: prove every check can fail, and passes on the solution.

``strength_test(path)`` runs a solutions notebook in ONE kernel, cells in order. At each exercise's
check cell it runs, in this order (the solution last, so later cells see correct state):

1. the stub (what students get) + the cells between solution and check + the check:
   the check must fail;
2. each recorded wrong answer + cells between + the check: the wrong answer itself must run, and
   the check must fail with an ``AssertionError`` (its "wrong, because ..." feedback), not crash;
3. each recorded ``right_answers`` entry (another answer the chapter's text allows), then the
   solution, + cells between + the check: everything must pass and the check must print a
   "right: ..." line.

Before the first cell, the kernel runs :data:`~.notebooks.GUARD_PREAMBLE` (every check module
imported, so every reference answer is protected before any answer cell runs — as in the grader). A
recorded wrong answer whose own cell is refused by the guard (``ShortcutError``: it called a reference
answer) counts as rejected when its check then fails, whatever the check's error.

Ordinary cells must run without error unless tagged ``raises-exception``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .kernel import CellRun, KernelSession
from .notebooks import (
    CHECK_DISARM,
    CHECK_RESTORE,
    GUARD_PREAMBLE,
    HIDDEN_TIMEOUT,
    LIBRARY_RESTORE,
    RAISES_TAG,
    Exercise,
    find_exercises,
    read_notebook,
    replace_block,
    stub_code,
    stub_source,
)

SHORTCUT_ENAME = "ShortcutError"


@dataclass
class StrengthReport:
    """Problems found in one solutions notebook; ``ok`` iff there are none."""

    path: Path
    problems: list[str] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)  # ids, in notebook order
    variants_run: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.path}: {len(self.exercises)} exercises, {self.variants_run} variants run"
        if self.ok:
            return head + ", all checks strong"
        return head + f", {len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)


def static_problems(path: str | Path) -> list[str]:
    """Convention problems visible without a kernel (ids, points, markers, missing wrong answers)."""
    nb = read_notebook(path)
    exercises, problems = find_exercises(nb)
    for ex in exercises:
        if ex.solution_index is not None and not ex.wrong_answers:
            problems.append(f"exercise {ex.id}: no wrong_answers recorded; record at least one plausible "
                            "wrong answer so the tests can prove the check catches it")
    return problems


def strength_test(path: str | Path, timeout: int = 120) -> StrengthReport:
    """Run the strength tests of one solutions notebook (see the module docstring)."""
    path = Path(path)
    report = StrengthReport(path, static_problems(path))
    nb = read_notebook(path)
    exercises, _ = find_exercises(nb)
    runnable = {ex.check_index: ex for ex in exercises
                if ex.solution_index is not None and ex.check_index is not None
                and ex.solution_index < ex.check_index}
    report.exercises = [ex.id for ex in exercises]
    # Cells from each solution cell up to its check are replayed per variant at the check cell.
    deferred = {i for ex in runnable.values() for i in range(ex.solution_index, ex.check_index)}
    with KernelSession(path.parent, timeout) as kernel:
        guard = kernel.run(GUARD_PREAMBLE, store_history=False, timeout=HIDDEN_TIMEOUT)
        if guard.status != "ok":
            report.problems.append(f"the guard preamble failed: {guard.error_line}")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or index in deferred:
                continue
            ex = runnable.get(index)
            if ex is not None:
                _exercise(kernel, nb, ex, report)
                continue
            run = kernel.run(cell.source)
            if run.status != "ok" and RAISES_TAG not in cell.metadata.get("tags", []):
                report.problems.append(f"cell {index} failed ({run.error_line}) and is not tagged "
                                       f"{RAISES_TAG!r}")
    return report


def _exercise(kernel: KernelSession, nb, ex: Exercise, report: StrengthReport) -> None:
    solution_src = nb.cells[ex.solution_index].source
    between = [c.source for c in nb.cells[ex.solution_index + 1: ex.check_index] if c.cell_type == "code"]
    check_src = nb.cells[ex.check_index].source
    try:
        stub = stub_source(solution_src, ex.id)
    except ValueError:
        return  # already reported by static_problems
    variants = [("stub", stub)]
    variants += [(f"wrong answer {w.name!r}", replace_block(solution_src, w.code)) for w in ex.wrong_answers]
    variants += [(f"right answer {r.name!r}", replace_block(solution_src, r.code)) for r in ex.right_answers]
    variants.append(("solution", solution_src))

    for label, source in variants:
        report.variants_run += 1
        first = kernel.run(source)
        mids = [kernel.run(s) for s in between]
        # as the grader does before every check cell
        kernel.run(CHECK_RESTORE, store_history=False, timeout=HIDDEN_TIMEOUT)
        check = kernel.run(check_src)
        kernel.run(CHECK_DISARM, store_history=False, timeout=HIDDEN_TIMEOUT)
        kernel.run(LIBRARY_RESTORE, store_history=False, timeout=HIDDEN_TIMEOUT)
        where = f"exercise {ex.id}, {label}"
        if label == "stub":
            if check.status == "ok":
                report.problems.append(f"{where}: the check PASSED on the blank stub "
                                       f"({stub_code(ex.id)}); a check that cannot fail is a defect")
            elif check.status in ("timeout", "dead"):
                report.problems.append(f"{where}: the check did not finish ({check.error_line})")
        elif label == "solution" or label.startswith("right answer"):
            for run, what in [(first, "solution cell"), *[(m, "cell after the solution") for m in mids],
                              (check, "check")]:
                if run.status != "ok":
                    report.problems.append(f"{where}: the {what} failed: {run.error_line}")
                    break
            else:
                if "right" not in check.stdout.lower():
                    report.problems.append(f"{where}: the check passed but printed no 'right: ...' line")
        else:
            if first.status == "error" and first.ename == SHORTCUT_ENAME:
                # a shortcut answer: the guard refused the reference call in the answer cell itself
                if check.status == "ok":
                    report.problems.append(f"{where}: the check PASSED after a refused shortcut")
                continue
            if first.status != "ok":
                report.problems.append(f"{where}: the recorded wrong answer itself fails to run "
                                       f"({first.error_line}); record code that runs but is wrong")
            elif check.status == "ok":
                report.problems.append(f"{where}: the check PASSED on this wrong answer")
            elif check.status in ("timeout", "dead"):
                report.problems.append(f"{where}: the check did not finish ({check.error_line})")
            elif not kernel.last_error_is_assertion():
                report.problems.append(f"{where}: the check crashed with {_name(check)} instead of "
                                       "failing with an AssertionError explaining what is wrong")
            elif not check.evalue.strip():
                report.problems.append(f"{where}: the check failed with an empty AssertionError; "
                                       "say 'wrong, because ...'")


def _name(run: CellRun) -> str:
    return run.error_line or run.ename
