"""Grade exercises notebooks against the canonical checks of ``solutions/``.

    python -m distlib.grade PATH [--solutions DIR] [--json OUT] [--csv OUT] [--timeout S] [--jobs N]

PATH is one notebook or a class folder searched recursively for ``*.ipynb``. In a class folder the
student is the first folder under PATH (``submissions/alice/04_two_phase_commit.ipynb``); a notebook
at the top level takes the student from its file name (``alice_04_two_phase_commit.ipynb`` or
``04_two_phase_commit-alice.ipynb``), else it is graded but counted for no student, with a warning.

Matching: a file is graded as the course notebook ``DIR/<name>`` (default: the repository's
``solutions/``; the course is every solutions notebook with exercises) whose name it carries, also
when the name has a suffix or prefix (``04_two_phase_commit (1).ipynb``,
``04_two_phase_commit-Copy1.ipynb``). Anything else is not graded, with a warning naming the file.
When a student handed in several copies of one notebook, only one is graded: the shallowest path,
then the exact course name, then the first path in sorted order; the warning names the others.

Per student, every course notebook is in the denominator: one not handed in scores 0 of its points,
each of its exercises "missing".

Grading a notebook: every check cell's source is replaced by the canonical one, the notebook runs in
a fresh kernel (errors allowed, per-cell time limit, interrupt on timeout, output capped per cell)
and an exercise passes iff its check cell ran without error. ``--jobs N`` grades N notebooks at once,
each in its own worker process and kernel (default: the number of cores); the report does not depend
on N.

Statuses: ``pass``; ``not answered yet`` (the stub's NotImplementedError); ``fail: <first line of the
error>``, naming the cause when it is not the check itself (``fail: setup cell 1 raised ImportError:
...; nothing could be graded``, ``fail: the solution cell raised ...``); ``timeout``; ``missing`` (the
check cell was deleted, or the notebook was not handed in); ``error: ...`` (the file could not be
graded at all).

Output: a table on stdout, then the warnings and a summary ("N students, M notebooks graded, K
warnings"). Nothing is written unless asked: ``--json OUT`` writes the report (per-student totals,
per notebook and per exercise); ``--csv OUT`` writes one row per (student, exercise) to OUT and the
per-student totals to OUT's name with ``-totals`` (``grades.csv`` -> ``grades-totals.csv``).
The grader never crashes on a submission and exits 0 once grading completed; it exits 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ..sim import validate
from ..viz.progressbar import progress
from .kernel import CellRun, KernelSession
from .notebooks import (
    CHECK_DISARM,
    CHECK_RESTORE,
    GUARD_PREAMBLE,
    HIDDEN_TIMEOUT,
    ROLE_CHECK,
    ROLE_SOLUTION,
    exercise_meta,
    find_exercises,
    read_notebook,
    repo_root,
)

PASS, TIMEOUT, MISSING, NOT_ANSWERED = "pass", "timeout", "missing", "not answered yet"


@dataclass
class ExerciseGrade:
    id: str
    points: float
    possible: float
    status: str


@dataclass
class SubmissionGrade:
    submission: str  # path relative to the graded folder (or the file name); "" if not handed in
    student: str     # see the module docstring; "" when the file names no student
    notebook: str    # the course notebook it was graded as (its file name in solutions/)
    points: float = 0
    possible: float = 0
    error: str | None = None  # set when the submission could not be graded at all
    notes: list[str] = field(default_factory=list)
    exercises: list[ExerciseGrade] = field(default_factory=list)


@dataclass
class StudentGrade:
    """One student's total over every notebook of the course (in course order)."""

    student: str
    points: float
    possible: float
    notebooks: list[SubmissionGrade]


@dataclass
class GradeReport:
    """What ``grade`` returns: per-student totals, notebooks counted for no student, warnings."""

    course: list[tuple[str, float]]   # (notebook, possible points) in name order
    students: list[StudentGrade]      # by name; empty when a single file was graded
    unassigned: list[SubmissionGrade]  # graded but counted for no student (and a single graded file)
    warnings: list[str]
    graded: int                       # notebooks run through the grader

    @property
    def submissions(self) -> list[SubmissionGrade]:
        """Every notebook entry: the students' (handed in or not), then the unassigned ones."""
        return [nb for s in self.students for nb in s.notebooks] + self.unassigned

    def summary(self) -> str:
        points = sum(g.points for g in self.submissions)
        possible = sum(g.possible for g in self.submissions)
        return (f"{_count(len(self.students), 'student')}, {_count(self.graded, 'notebook')} graded, "
                f"{_count(len(self.warnings), 'warning')}; {_fmt(points)}/{_fmt(possible)} points in total")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).split("\n") if line.strip()), "")


# ---- grading one notebook ---------------------------------------------------------------------
def grade_notebook(path: Path, canonical_path: Path, timeout: int, *, submission: str = "",
                   student: str = "", notebook: str = "") -> SubmissionGrade:
    """Grade one submission against its canonical solutions notebook. Never raises for bad input."""
    result = SubmissionGrade(submission or path.name, student, notebook or canonical_path.name)
    try:
        canonical = read_notebook(canonical_path)
    except (OSError, ValueError) as exc:
        result.error = f"cannot read solutions notebook {canonical_path}: {_first_line(str(exc))}"
        return result
    exercises, _ = find_exercises(canonical)
    exercises = [ex for ex in exercises if ex.check_index is not None]
    possible = {ex.id: (ex.points if ex.solution_index is not None else 0) for ex in exercises}
    checks = {ex.id: canonical.cells[ex.check_index].source for ex in exercises}
    result.possible = sum(possible.values())

    def grade_all(status: str) -> None:
        result.exercises = [ExerciseGrade(ex.id, 0, possible[ex.id], status) for ex in exercises]

    try:
        nb = read_notebook(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = _first_line(str(exc)).removeprefix(f"{path}: ")
        grade_all(f"fail: invalid notebook: {reason}")
        return result

    # Restore canonical checks (a student cannot edit a check to pass); remember where each is.
    check_cells: dict[str, list[int]] = {}
    solution_cells: dict[str, list[int]] = {}
    owner: dict[int, str] = {}  # cell index -> exercise id, to attribute timeouts
    for index, cell in enumerate(nb.cells):
        meta = exercise_meta(cell)
        if meta is None or meta.get("id") not in checks:
            continue
        owner[index] = meta["id"]
        if meta["role"] == ROLE_CHECK:
            cell.source = checks[meta["id"]]
            check_cells.setdefault(meta["id"], []).append(index)
        elif meta["role"] == ROLE_SOLUTION:
            solution_cells.setdefault(meta["id"], []).append(index)

    runs: dict[int, CellRun] = {}
    broke: dict[str, str] = {}  # exercise id -> "timeout" / "dead" from one of its own cells
    last = max((i for ids in check_cells.values() for i in ids), default=-1)
    if last >= 0:
        try:
            checks_at = {i for ids in check_cells.values() for i in ids}
            _execute(nb, last, path.parent, timeout, runs, result.notes, checks_at)
        except Exception as exc:  # the kernel could not even start: grade what ran, fail the rest
            result.notes.append(f"execution stopped: {type(exc).__name__}: {_first_line(str(exc))}")
    for index, run in runs.items():
        if run.status in ("timeout", "dead") and index in owner:
            broke.setdefault(owner[index], run.status)

    first_exercise = min(owner, default=len(nb.cells))
    causes: dict[str, int] = {}  # exercise id -> the earlier non-exercise cell its failure is due to
    for ex in exercises:
        indices = check_cells.get(ex.id, [])
        if not indices:
            status = MISSING
        else:
            results = [runs.get(i) for i in indices]
            if all(r is not None and r.status == "ok" for r in results):
                # A pass is a check that SAYS so: every check prints a "right: ..." line (the strength
                # tests prove it for every solution); a check cell that merely raised nothing was faked.
                status = PASS if all(_RIGHT.search(r.stdout) for r in results) else NO_VERDICT
            elif broke.get(ex.id) == "timeout" or any(r is not None and r.status == "timeout"
                                                      for r in results):
                status = TIMEOUT
            elif broke.get(ex.id) == "dead":
                status = "fail: kernel died while running this exercise"
            else:
                bad = next((r for r in results if r is not None and r.status != "ok"), None)
                solution = _solution_run(runs, solution_cells.get(ex.id, []), indices[0])
                status, cause = _failure(bad, solution, _cause(runs, owner, indices[0]))
                if cause is not None:
                    causes[ex.id] = cause
        earned = possible[ex.id] if status == PASS else 0
        result.exercises.append(ExerciseGrade(ex.id, earned, possible[ex.id], status))
    # "nothing could be graded" only when it is literally true of this notebook.
    nothing = len(causes) == len(exercises) and all(c < first_exercise for c in causes.values())
    for e in result.exercises:
        if e.id in causes:
            cell = causes[e.id]
            where = "setup cell" if cell < first_exercise else "cell"
            e.status = (f"fail: {where} {cell} raised {runs[cell].error_line}; "
                        + ("nothing could be graded" if nothing else "this exercise could not be graded"))
    result.points = sum(e.points for e in result.exercises)
    return result


_RIGHT = re.compile(r"^right\b", re.IGNORECASE | re.MULTILINE)
NO_VERDICT = "fail: the check cell finished without its 'right: ...' verdict (was the check replaced?)"


def _solution_run(runs: dict[int, CellRun], cells: list[int], check: int) -> CellRun | None:
    """How the exercise's answer ran: its last solution cell before its (first) check cell."""
    before = [i for i in cells if i < check]
    return runs.get(before[-1]) if before else None


def _cause(runs: dict[int, CellRun], owner: dict[int, str], check: int) -> int | None:
    """The first cell that belongs to no exercise, ran before ``check`` and did not finish (the
    likely reason the check then found a name undefined: an import or a helper failed), or None."""
    return next((i for i in sorted(runs) if i < check and i not in owner and runs[i].status != "ok"),
                None)


def _failure(bad: CellRun | None, solution: CellRun | None, cause: int | None) -> tuple[str, int | None]:
    """The status of an exercise whose check cell did not pass (nor time out), or ("", cell) when
    the earlier non-exercise ``cause`` cell explains it (the check found a name undefined)."""
    solution_error = solution.error_line if solution is not None and solution.status == "error" else None
    if solution is not None and solution.ename == "NotImplementedError":
        return NOT_ANSWERED, None  # the stub is still there, whatever the check then raised
    if bad is None:
        return "fail: the check cell did not run", None
    if bad.ename == "NotImplementedError":
        return NOT_ANSWERED, None  # a stub function (its body still raises) called by the check
    if bad.ename == "NameError":
        if solution_error is not None:  # the answer never got defined: its own error is the cause
            return f"fail: the solution cell raised {solution_error}", None
        if cause is not None:
            return "", cause
    if solution_error is not None:
        return f"fail: {bad.error_line} (the solution cell raised {solution_error})", None
    return f"fail: {bad.error_line}", None


def _execute(nb, last: int, cwd: Path, timeout: int, runs: dict[int, CellRun], notes: list[str],
             checks_at: set[int] = frozenset()) -> None:
    """Run code cells 0..last (later cells cannot change a grade), recording each outcome. Before each
    check cell (``checks_at``) the check modules are re-imported fresh (:data:`CHECK_RESTORE`).

    If a cell kills the kernel or ignores the interrupt, the session restarts it; we then replay
    the cells that had run fine so later exercises are not failed for an earlier one's crash.
    """
    with KernelSession(cwd, timeout) as kernel:
        _hidden_setup(kernel, notes)
        for index, cell in enumerate(nb.cells[: last + 1]):
            if cell.get("cell_type") != "code":
                continue
            restarts = kernel.restarts
            if index in checks_at:
                restore = kernel.run(CHECK_RESTORE, store_history=False, timeout=HIDDEN_TIMEOUT)
                if restore.status != "ok":   # e.g. sys.modules made unusable: the check then fails
                    notes.append(f"cell {index}: restoring the check modules failed: {restore.error_line}")
            runs[index] = kernel.run(cell.source)
            if index in checks_at:
                kernel.run(CHECK_DISARM, store_history=False, timeout=HIDDEN_TIMEOUT)
            if kernel.restarts == restarts:
                continue
            what = "killed the kernel" if runs[index].status == "dead" else "ignored the interrupt"
            notes.append(f"cell {index} {what}; restarted the kernel and replayed the cells before it")
            _hidden_setup(kernel, notes)
            for earlier in sorted(runs):
                if earlier < index and runs[earlier].status == "ok":
                    if kernel.run(nb.cells[earlier].source).status == "dead":
                        notes.append("the replay killed the kernel too; later cells ran in a fresh kernel")
                        break


def _hidden_setup(kernel: KernelSession, notes: list[str]) -> None:
    run = kernel.run(GUARD_PREAMBLE, store_history=False, timeout=HIDDEN_TIMEOUT)
    if run.status != "ok":  # a broken check module: the exercises using it will fail and say why
        notes.append(f"the grader's hidden setup failed: {run.error_line}")


# ---- the course and the class folder ----------------------------------------------------------
@dataclass(frozen=True)
class CourseNotebook:
    name: str       # file name in solutions/
    path: Path
    possible: float
    exercises: tuple[tuple[str, float], ...]  # (id, points) in notebook order


def course(solutions: Path) -> tuple[list[CourseNotebook], list[str]]:
    """The notebooks of ``solutions`` that have exercises (by name), and problems reading them."""
    notebooks, problems = [], []
    for path in sorted(solutions.glob("*.ipynb")):
        try:
            exercises, _ = find_exercises(read_notebook(path))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"cannot read solutions notebook {path}: {_first_line(str(exc))}")
            continue
        graded = tuple((ex.id, ex.points if ex.solution_index is not None else 0)
                       for ex in exercises if ex.check_index is not None)
        if graded:
            notebooks.append(CourseNotebook(path.name, path, sum(p for _, p in graded), graded))
    return notebooks, problems


_SEPARATORS = r"[\s_.-]+"
# Words a copy of a file picks up on its way (Jupyter's "-Copy1", a browser's " (1)", "Copy of ...",
# "final", "v2"); what remains around the course name, if anything, is a student's name. Numbers of
# one or two digits are copy counters; longer ones are kept (student ids).
_DECORATION = re.compile(r"^(copy\d*|of|\d{1,2}|v\d+|final|old|new|backup|checkpoint|submission|"
                         r"submitted)$", re.IGNORECASE)


def _name_pattern(stem: str) -> re.Pattern[str]:
    """The course notebook's stem as a whole word sequence, any separators, any case."""
    words = [re.escape(w) for w in re.split(_SEPARATORS, stem) if w]
    return re.compile(r"(?<![A-Za-z0-9])" + _SEPARATORS.join(words) + r"(?![A-Za-z0-9])", re.IGNORECASE)


def match_notebook(file_name: str, notebooks: Sequence[CourseNotebook]) -> tuple[CourseNotebook | None, str]:
    """The course notebook whose name ``file_name`` carries (the longest if several), and the name
    left around it once copy decorations are dropped: ``alice_04_x (1).ipynb`` -> (04_x, "alice")."""
    stem = Path(file_name).stem
    best: tuple[CourseNotebook, re.Match[str]] | None = None
    for nb in notebooks:
        m = _name_pattern(Path(nb.name).stem).search(stem)
        if m and (best is None or len(m.group()) > len(best[1].group())):
            best = (nb, m)
    if best is None:
        return None, ""
    nb, m = best
    rest = re.split(r"[\s_.()\[\]-]+", stem[: m.start()] + " " + stem[m.end():])
    return nb, "_".join(w for w in rest if w and not _DECORATION.match(w))


def collect(path: Path) -> list[tuple[Path, str, str]]:
    """(notebook, path relative to ``path``, first folder or "") for a file or, recursively, a
    folder; hidden files and folders (``.ipynb_checkpoints``) and ``__MACOSX`` are skipped."""
    if path.is_file():
        return [(path, path.name, "")]
    found = []
    for nb in sorted(path.rglob("*.ipynb")):
        rel = nb.relative_to(path)
        if any(p.startswith(".") or p == "__MACOSX" for p in rel.parts) or not nb.is_file():
            continue
        found.append((nb, rel.as_posix(), rel.parts[0] if len(rel.parts) > 1 else ""))
    return found


@dataclass(frozen=True)
class _Job:
    file: Path
    label: str
    student: str
    notebook: CourseNotebook


@dataclass
class _Plan:
    jobs: list[_Job]
    students: list[str]
    warnings: list[str]


def plan(path: Path, notebooks: Sequence[CourseNotebook]) -> _Plan:
    """Which file to grade as which course notebook, for which student; what to warn about."""
    names = ", ".join(nb.name for nb in notebooks) or "none"
    warnings: list[str] = []
    students: set[str] = set()
    candidates: dict[tuple[str, str], list[tuple[tuple[int, bool, str], _Job]]] = {}
    jobs: list[_Job] = []
    single = path.is_file()
    for file, label, folder in collect(path):
        nb, rest = match_notebook(file.name, notebooks)
        if folder:
            students.add(folder)
        if nb is None:
            warnings.append(f"{label}: not a notebook of the course (solutions: {names}); not graded")
            continue
        student = folder or rest
        job = _Job(file, label, student, nb)
        if single:
            jobs.append(job)
        elif not student:
            warnings.append(f"{label}: at the top level and its name carries no student name; graded but "
                            f"counted for no student (put each student's notebooks in a folder named "
                            f"after the student, or name the file like alice_{nb.name})")
            jobs.append(job)
        else:
            students.add(student)
            depth = len(Path(label).parts)
            candidates.setdefault((student, nb.name), []).append(((depth, file.name != nb.name, label), job))
    for (student, name), found in sorted(candidates.items()):
        found.sort(key=lambda c: c[0])
        jobs.append(found[0][1])
        if len(found) > 1:
            others = ", ".join(c[1].label for c in found[1:])
            warnings.append(f"{student}: {len(found)} copies of {name}; graded {found[0][1].label}, "
                            f"ignored {others}")
    jobs.sort(key=lambda j: (j.student == "", j.student, j.notebook.name, j.label))
    return _Plan(jobs, [] if single else sorted(students), warnings)


# ---- grading many notebooks -------------------------------------------------------------------
def _grade_job(job: _Job, timeout: int) -> SubmissionGrade:
    """Grade one planned file (in this process or a worker); never raises."""
    try:
        g = grade_notebook(job.file, job.notebook.path, timeout, submission=job.label, student=job.student,
                           notebook=job.notebook.name)
    except Exception as exc:  # last line of defence: one submission never stops the others
        g = _not_graded(job, f"grader error: {type(exc).__name__}: {_first_line(str(exc))}")
    if job.file.name != job.notebook.name:
        g.notes.insert(0, f"file name {job.file.name!r} differs from the course notebook's; graded as "
                          f"{job.notebook.name}")
    return g


def _not_graded(job: _Job, error: str) -> SubmissionGrade:
    return SubmissionGrade(job.label, job.student, job.notebook.name, error=error)


def _complete(g: SubmissionGrade, nb: CourseNotebook) -> SubmissionGrade:
    """An error without exercises still lists the notebook's exercises, at 0 of their points."""
    if g.error is not None and not g.exercises:
        g.possible = nb.possible
        g.exercises = [ExerciseGrade(ex, 0, p, f"error: {g.error}") for ex, p in nb.exercises]
    return g


def _run_jobs(jobs: list[_Job], timeout: int, workers: int,
              progress_file: IO[str] | None) -> list[SubmissionGrade]:
    results: list[SubmissionGrade | None] = [None] * len(jobs)
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(progress(jobs, desc="grading", file=progress_file)):
            results[i] = _grade_job(job, timeout)
    else:
        # spawn, not fork: the caller may be a Jupyter kernel with threads and sockets of its own.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
            futures = {pool.submit(_grade_job, job, timeout): i for i, job in enumerate(jobs)}
            # Completion order varies run to run; results land in their planned slot.
            for future in progress(as_completed(futures), total=len(futures), desc="grading",
                                   file=progress_file):
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception as exc:  # the worker process itself died (killed, out of memory)
                    results[i] = _not_graded(jobs[i], f"grader worker failed: {type(exc).__name__}: "
                                                      f"{_first_line(str(exc))}")
    return [_complete(g, job.notebook) for g, job in zip(results, jobs, strict=True)]  # type: ignore[arg-type]


def grade(path: Path, solutions: Path, timeout: int = 60, *, jobs: int = 1,
          progress_file: IO[str] | None = None) -> GradeReport:
    """Grade a notebook or a class folder (see the module docstring) with ``jobs`` parallel kernels.

    ``progress_file``: where the text progress bar goes (default: stderr if it is a terminal, a
    widget in a notebook).
    """
    validate.integer("timeout", timeout, 1)
    validate.integer("jobs", jobs, 1)
    notebooks, problems = course(Path(solutions))
    p = plan(Path(path), notebooks)
    graded = _run_jobs(p.jobs, timeout, jobs, progress_file)
    students = []
    for student in p.students:
        mine = {g.notebook: g for g in graded if g.student == student}
        entries = [mine.get(nb.name) or _missing(student, nb) for nb in notebooks]
        students.append(StudentGrade(student, sum(g.points for g in entries),
                                     sum(g.possible for g in entries), entries))
    unassigned = [g for g in graded if g.student not in p.students]
    return GradeReport([(nb.name, nb.possible) for nb in notebooks], students, unassigned,
                       problems + p.warnings, len(graded))


def _missing(student: str, nb: CourseNotebook) -> SubmissionGrade:
    return SubmissionGrade("", student, nb.name, 0, nb.possible, notes=["not handed in"],
                           exercises=[ExerciseGrade(ex, 0, p, MISSING) for ex, p in nb.exercises])


# ---- reports ----------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x:g}"


def table(report: GradeReport) -> str:
    """The text table: one row per exercise, a not-handed-in notebook in one row, a total per student;
    then the warnings and the summary."""
    rows = [("student", "submission", "exercise", "points", "status")]
    sections = [(s.student, s.notebooks, (s.points, s.possible)) for s in report.students]
    sections += [(g.student or "-", [g], None) for g in report.unassigned]
    for who, entries, total in sections:
        for g in entries:
            if not g.submission:
                rows.append((who, g.notebook, "-", f"0/{_fmt(g.possible)}", "missing (not handed in)"))
                continue
            for e in g.exercises:
                rows.append((who, g.submission, e.id, f"{_fmt(e.points)}/{_fmt(e.possible)}", e.status))
            for note in g.notes:
                rows.append((who, g.submission, "-", "", f"note: {note}"))
        if total is not None:
            rows.append((who, "TOTAL", "", f"{_fmt(total[0])}/{_fmt(total[1])}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * (sum(widths) + 8 + 10))
    lines += [f"warning: {w}" for w in report.warnings]
    lines.append(report.summary())
    return "\n".join(line.rstrip() for line in lines)


def to_json(report: GradeReport, solutions: Path, timeout: int) -> dict[str, Any]:
    return {
        "solutions": str(solutions),
        "timeout": timeout,
        "course": [{"notebook": name, "possible": p} for name, p in report.course],
        "students": [asdict(s) for s in report.students],
        "unassigned": [asdict(g) for g in report.unassigned],
        "warnings": report.warnings,
        "summary": {"students": len(report.students), "notebooks_graded": report.graded,
                    "warnings": len(report.warnings)},
        "points": sum(g.points for g in report.submissions),
        "possible": sum(g.possible for g in report.submissions),
    }


def totals_path(out: Path) -> Path:
    """Where ``--csv OUT`` puts the per-student totals: ``grades.csv`` -> ``grades-totals.csv``."""
    return out.with_name(f"{out.stem}-totals{out.suffix or '.csv'}")


def write_csv(report: GradeReport, out: Path) -> list[Path]:
    """One row per (student, exercise) in ``out``; one row per student in ``totals_path(out)``."""
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["student", "notebook", "submission", "exercise", "points", "possible", "status"])
        for g in report.submissions:
            for e in g.exercises:
                w.writerow([g.student, g.notebook, g.submission, e.id, _fmt(e.points), _fmt(e.possible),
                            e.status])
    with totals_path(out).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["student", *(name for name, _ in report.course), "points", "possible"])
        for s in report.students:
            w.writerow([s.student, *(_fmt(g.points) for g in s.notebooks), _fmt(s.points), _fmt(s.possible)])
    return [out, totals_path(out)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distlib.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, metavar="PATH", help="a notebook or a class folder")
    parser.add_argument("--solutions", type=Path, default=repo_root() / "solutions",
                        help="folder of canonical solutions notebooks (default: the repo's solutions/)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="write the JSON report to OUT (default: no file, only the table)")
    parser.add_argument("--csv", type=Path, default=None, metavar="OUT",
                        help="write one CSV row per (student, exercise) to OUT and the per-student totals "
                             "to OUT-totals.csv (default: no file)")
    parser.add_argument("--timeout", type=int, default=60,
                        help="time limit per cell (so per exercise), in whole seconds (default 60)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="notebooks graded at once, each in its own kernel (default: the number of "
                             f"cores, {os.cpu_count() or 1} here)")
    args = parser.parse_args(argv)  # exits 2 on malformed arguments
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.jobs <= 0:
        parser.error(f"--jobs must be a positive number of notebooks, got {args.jobs}")
    if not args.path.exists():
        parser.error(f"PATH: no such file or folder: {args.path}")
    if not args.solutions.is_dir():
        parser.error(f"--solutions: no such folder: {args.solutions}")
    if args.path.is_file() and args.path.suffix != ".ipynb":
        parser.error(f"PATH must be a .ipynb notebook or a folder, got {args.path}")

    report = grade(args.path, args.solutions, args.timeout, jobs=args.jobs)
    print(table(report))
    try:
        if args.json is not None:
            data = to_json(report, args.solutions, args.timeout)
            args.json.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"wrote {args.json}")
        if args.csv is not None:
            for written in write_csv(report, args.csv):
                print(f"wrote {written}")
    except OSError as exc:
        print(f"error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    return 0
