"""Grade exercises notebooks against the canonical checks of ``solutions/``.

    python -m distlib.grade PATH [--solutions DIR] [--json OUT] [--csv OUT] [--timeout S]

PATH is one notebook or a folder searched recursively for ``*.ipynb`` (e.g.
``submissions/alice/04_two_phase_commit.ipynb``). Each submission is matched by file name with
``DIR/<name>`` (default: the repository's ``solutions/``); every check cell's source is replaced by
the canonical one, the notebook runs in a fresh kernel (errors allowed, per-cell time limit,
interrupt on timeout) and an exercise passes iff its check cell ran without error.

Statuses: ``pass``, ``fail: <first line of the error>``, ``timeout``, ``missing`` (the check cell
was deleted). The grader never crashes on a submission and exits 0 once grading completed; it
exits 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .kernel import CellRun, KernelSession
from .notebooks import ROLE_CHECK, exercise_meta, find_exercises, read_notebook, repo_root

PASS, TIMEOUT, MISSING = "pass", "timeout", "missing"
DEFAULT_JSON = "grades.json"


@dataclass
class ExerciseGrade:
    id: str
    points: float
    possible: float
    status: str


@dataclass
class SubmissionGrade:
    submission: str  # path relative to the graded folder (or the file name)
    student: str     # the first folder under the graded folder, "" for a single file
    notebook: str    # file name, matched with the solutions notebook
    points: float = 0
    possible: float = 0
    error: str | None = None  # set when the submission could not be graded at all
    notes: list[str] = field(default_factory=list)
    exercises: list[ExerciseGrade] = field(default_factory=list)


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).split("\n") if line.strip()), "")


def grade_notebook(path: Path, canonical_path: Path, timeout: int, *, submission: str = "",
                   student: str = "") -> SubmissionGrade:
    """Grade one submission against its canonical solutions notebook. Never raises for bad input."""
    result = SubmissionGrade(submission or path.name, student, path.name)
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
    owner: dict[int, str] = {}  # cell index -> exercise id, to attribute timeouts
    for index, cell in enumerate(nb.cells):
        meta = exercise_meta(cell)
        if meta is None or meta.get("id") not in checks:
            continue
        owner[index] = meta["id"]
        if meta["role"] == ROLE_CHECK:
            cell.source = checks[meta["id"]]
            check_cells.setdefault(meta["id"], []).append(index)

    runs: dict[int, CellRun] = {}
    broke: dict[str, str] = {}  # exercise id -> "timeout" / "dead" from one of its own cells
    last = max((i for ids in check_cells.values() for i in ids), default=-1)
    if last >= 0:
        try:
            _execute(nb, last, path.parent, timeout, runs, result.notes)
        except Exception as exc:  # the kernel could not even start: grade what ran, fail the rest
            result.notes.append(f"execution stopped: {type(exc).__name__}: {_first_line(str(exc))}")
    for index, run in runs.items():
        if run.status in ("timeout", "dead") and index in owner:
            broke.setdefault(owner[index], run.status)

    for ex in exercises:
        indices = check_cells.get(ex.id, [])
        if not indices:
            status = MISSING
        else:
            results = [runs.get(i) for i in indices]
            if all(r is not None and r.status == "ok" for r in results):
                status = PASS
            elif broke.get(ex.id) == "timeout" or any(r is not None and r.status == "timeout"
                                                      for r in results):
                status = TIMEOUT
            elif broke.get(ex.id) == "dead":
                status = "fail: kernel died while running this exercise"
            else:
                bad = next((r for r in results if r is not None and r.status != "ok"), None)
                status = "fail: " + (bad.error_line if bad is not None else "the check cell did not run")
        earned = possible[ex.id] if status == PASS else 0
        result.exercises.append(ExerciseGrade(ex.id, earned, possible[ex.id], status))
    result.points = sum(e.points for e in result.exercises)
    return result


def _execute(nb, last: int, cwd: Path, timeout: int, runs: dict[int, CellRun], notes: list[str]) -> None:
    """Run code cells 0..last (later cells cannot change a grade), recording each outcome.

    If a cell kills the kernel or ignores the interrupt, the session restarts it; we then replay
    the cells that had run fine so later exercises are not failed for an earlier one's crash.
    """
    with KernelSession(cwd, timeout) as kernel:
        for index, cell in enumerate(nb.cells[: last + 1]):
            if cell.get("cell_type") != "code":
                continue
            restarts = kernel.restarts
            runs[index] = kernel.run(cell.source)
            if kernel.restarts == restarts:
                continue
            what = "killed the kernel" if runs[index].status == "dead" else "ignored the interrupt"
            notes.append(f"cell {index} {what}; restarted the kernel and replayed the cells before it")
            for earlier in sorted(runs):
                if earlier < index and runs[earlier].status == "ok":
                    if kernel.run(nb.cells[earlier].source).status == "dead":
                        notes.append("the replay killed the kernel too; later cells ran in a fresh kernel")
                        break


def collect(path: Path) -> list[tuple[Path, str, str]]:
    """(notebook, submission label, student) for a file or, recursively, a folder."""
    if path.is_file():
        return [(path, path.name, "")]
    found = []
    for nb in sorted(path.rglob("*.ipynb")):
        rel = nb.relative_to(path)
        if ".ipynb_checkpoints" in rel.parts or not nb.is_file():
            continue
        found.append((nb, rel.as_posix(), rel.parts[0] if len(rel.parts) > 1 else ""))
    return found


def grade(path: Path, solutions: Path, timeout: int = 60) -> list[SubmissionGrade]:
    grades = []
    for nb, label, student in collect(path):
        canonical = solutions / nb.name
        if not canonical.is_file():
            grades.append(SubmissionGrade(label, student, nb.name,
                                          error=f"no solutions notebook {nb.name} in {solutions}"))
            continue
        try:
            grades.append(grade_notebook(nb, canonical, timeout, submission=label, student=student))
        except Exception as exc:  # last line of defence: one submission never stops the others
            error = f"grader error: {type(exc).__name__}: {_first_line(str(exc))}"
            grades.append(SubmissionGrade(label, student, nb.name, error=error))
    return grades


def _fmt(x: float) -> str:
    return f"{x:g}"


def table(grades: list[SubmissionGrade]) -> str:
    rows = [("submission", "exercise", "points", "status")]
    for g in grades:
        if g.error:
            rows.append((g.submission, "-", f"0/{_fmt(g.possible)}", f"error: {g.error}"))
        for e in g.exercises:
            rows.append((g.submission, e.id, f"{_fmt(e.points)}/{_fmt(e.possible)}", e.status))
        rows.append((g.submission, "TOTAL", f"{_fmt(g.points)}/{_fmt(g.possible)}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
    lines.insert(1, "-" * (sum(widths) + 6 + 10))
    total = sum(g.points for g in grades)
    possible = sum(g.possible for g in grades)
    lines.append(f"{len(grades)} submissions, {_fmt(total)}/{_fmt(possible)} points in total")
    return "\n".join(line.rstrip() for line in lines)


def to_json(grades: list[SubmissionGrade], solutions: Path, timeout: int) -> dict:
    return {
        "solutions": str(solutions),
        "timeout": timeout,
        "points": sum(g.points for g in grades),
        "possible": sum(g.possible for g in grades),
        "submissions": [asdict(g) for g in grades],
    }


def write_csv(grades: list[SubmissionGrade], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["student", "submission", "exercise", "points", "possible", "status"])
        for g in grades:
            if g.error:
                w.writerow([g.student, g.submission, "", 0, _fmt(g.possible), f"error: {g.error}"])
            for e in g.exercises:
                w.writerow([g.student, g.submission, e.id, _fmt(e.points), _fmt(e.possible), e.status])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distlib.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, metavar="PATH", help="a notebook or a folder of submissions")
    parser.add_argument("--solutions", type=Path, default=repo_root() / "solutions",
                        help="folder of canonical solutions notebooks (default: the repo's solutions/)")
    parser.add_argument("--json", type=Path, default=Path(DEFAULT_JSON),
                        help=f"where to write the JSON report (default: ./{DEFAULT_JSON})")
    parser.add_argument("--csv", type=Path, default=None, help="also write one CSV row per exercise")
    parser.add_argument("--timeout", type=int, default=60,
                        help="time limit per cell (so per exercise), in whole seconds (default 60)")
    args = parser.parse_args(argv)  # exits 2 on malformed arguments
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if not args.path.exists():
        parser.error(f"PATH: no such file or folder: {args.path}")
    if not args.solutions.is_dir():
        parser.error(f"--solutions: no such folder: {args.solutions}")
    if args.path.is_file() and args.path.suffix != ".ipynb":
        parser.error(f"PATH must be a .ipynb notebook or a folder, got {args.path}")

    grades = grade(args.path, args.solutions, args.timeout)
    print(table(grades))
    report = to_json(grades, args.solutions, args.timeout)
    try:
        args.json.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
        if args.csv is not None:
            write_csv(grades, args.csv)
            print(f"wrote {args.csv}")
    except OSError as exc:
        print(f"error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    return 0
