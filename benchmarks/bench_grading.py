"""Grading throughput: a class folder graded with --jobs 1 and --jobs 2 (notebooks per minute).

Run:  .venv/bin/python benchmarks/bench_grading.py [--students 6] [--jobs 1 2] [--timeout 60]

Builds a class folder in a temporary directory: every student hands in every course notebook, half
of them the solutions (full marks), half the blank exercises ("not answered yet"), so with the four
chapters of today 6 students make 24 notebooks. Grades it once per --jobs value with the grader's
own entry point (``grade``; one kernel per notebook, parallel worker processes for jobs > 1) and
prints wall time and notebooks/minute, and checks that every run gives the same report.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from distlib.grading import grader
from distlib.grading.notebooks import repo_root


def make_class(root: Path, students: int) -> int:
    """``students`` folders s01, s02, ...; odd ones hand in the solutions, even ones the stubs."""
    repo = repo_root()
    count = 0
    for k in range(1, students + 1):
        folder = root / f"s{k:02d}"
        folder.mkdir()
        source = repo / ("solutions" if k % 2 else "exercises")
        for nb in sorted(source.glob("*.ipynb")):
            shutil.copyfile(nb, folder / nb.name)
            count += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=6)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--timeout", type=int, default=60)
    args = ap.parse_args()
    solutions = repo_root() / "solutions"
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp)
        notebooks = make_class(root, args.students)
        print(f"class folder: {args.students} students, {notebooks} notebooks; {os.cpu_count()} cores")
        reports = {}
        for jobs in args.jobs:
            start = time.perf_counter()
            report = grader.grade(root, solutions, args.timeout, jobs=jobs)
            elapsed = time.perf_counter() - start
            reports[jobs] = grader.to_json(report, solutions, args.timeout)
            points = [s.points for s in report.students]
            print(f"  --jobs {jobs}: {elapsed:6.1f} s  {60 * report.graded / elapsed:5.1f} notebooks/minute  "
                  f"(graded {report.graded}, per-student points {min(points):g}..{max(points):g} of "
                  f"{report.students[0].possible:g}, {len(report.warnings)} warnings)")
        same = all(r == reports[args.jobs[0]] for r in reports.values())
        print(f"  reports identical across --jobs: {same}")


if __name__ == "__main__":
    main()
