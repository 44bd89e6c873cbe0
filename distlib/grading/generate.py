"""Generate ``exercises/NN_topic.ipynb`` from ``solutions/NN_topic.ipynb``.

    python -m distlib.grading.generate [--check] [--solutions DIR] [--exercises DIR]

Without ``--check`` it (re)writes every exercises notebook and deletes exercises notebooks whose
solutions notebook is gone. With ``--check`` it writes nothing and exits 1 listing the files that
are out of date, missing or stale. Output is byte-for-byte deterministic.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from .notebooks import (
    RAISES_TAG,
    ROLE_SOLUTION,
    add_tag,
    exercise_meta,
    notebook_text,
    read_notebook,
    repo_root,
    stub_source,
)


def make_exercise_notebook(solution: NotebookNode) -> NotebookNode:
    """The student version of a solutions notebook.

    Solution blocks become stubs, outputs and execution counts are cleared, ``wrong_answers`` are
    removed, stub and check cells are tagged ``raises-exception`` (so ``nbval --nbval-lax`` passes)
    and ``metadata.widgets`` is dropped. Raises ``ValueError`` if a solution cell is malformed.
    """
    nb = copy.deepcopy(solution)
    nb.metadata.pop("widgets", None)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        meta = exercise_meta(cell)
        if meta is None:
            continue
        if meta["role"] == ROLE_SOLUTION:
            try:
                cell.source = stub_source(cell.source, str(meta.get("id")))
            except ValueError as exc:
                raise ValueError(f"exercise {meta.get('id')!r}, cell {index}: {exc}") from exc
            meta.pop("wrong_answers", None)  # students must not see the recorded wrong answers
            meta.pop("right_answers", None)  # ... nor the recorded alternative solutions
        add_tag(cell, RAISES_TAG)
    return nb


@dataclass
class SyncReport:
    """What ``generate`` would change: exercise files to write, and stale ones to delete."""

    outdated: list[Path]
    stale: list[Path]

    @property
    def clean(self) -> bool:
        return not self.outdated and not self.stale


def plan(solutions_dir: Path, exercises_dir: Path) -> tuple[dict[Path, str], SyncReport]:
    """The text every exercises notebook should have, and which files differ from it now."""
    wanted: dict[Path, str] = {}
    for src in sorted(solutions_dir.glob("*.ipynb")):
        try:
            wanted[exercises_dir / src.name] = notebook_text(make_exercise_notebook(read_notebook(src)))
        except ValueError as exc:
            raise ValueError(f"{src}: {exc}") from exc
    outdated = [p for p, text in wanted.items()
                if not p.exists() or p.read_text(encoding="utf-8") != text]
    existing = exercises_dir.glob("*.ipynb") if exercises_dir.is_dir() else []
    stale = sorted(p for p in existing if p not in wanted)
    return wanted, SyncReport(outdated, stale)


def main(argv: Sequence[str] | None = None) -> int:
    root = repo_root()
    parser = argparse.ArgumentParser(prog="python -m distlib.grading.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report out-of-date files (exit 1)")
    parser.add_argument("--solutions", type=Path, default=root / "solutions", help="source folder")
    parser.add_argument("--exercises", type=Path, default=root / "exercises", help="output folder")
    args = parser.parse_args(argv)
    if not args.solutions.is_dir():
        print(f"--solutions: no such folder {args.solutions}", file=sys.stderr)
        return 2
    try:
        wanted, report = plan(args.solutions, args.exercises)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if report.clean:
            print(f"exercises up to date ({len(wanted)} notebooks)")
            return 0
        for path in report.outdated:
            print(f"out of date: {path}  (run: python -m distlib.grading.generate)")
        for path in report.stale:
            print(f"stale (no solutions notebook): {path}")
        return 1
    args.exercises.mkdir(parents=True, exist_ok=True)
    for path in report.outdated:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path}")
    for path in report.stale:
        path.unlink()
        print(f"removed stale {path}")
    print(f"{len(wanted)} exercises notebooks, {len(report.outdated)} written, {len(report.stale)} removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
