"""Reading, writing and parsing exercise notebooks (no kernel needed here).

Everything in this module is pure and deterministic: the generator, the strength tests and the
grader all parse notebooks through it, so they agree on what an exercise is.
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4.rwbase import rejoin_lines

BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
ROLE_SOLUTION = "solution"
ROLE_CHECK = "check"
RAISES_TAG = "raises-exception"
# Run, unseen and unnumbered, before the first cell (and again after a kernel restart) by the grader and
# the strength tests: importing every check module protects every reference answer before any student
# code can take a reference to it (distlib.grading.guard).
GUARD_PREAMBLE = """\
import distlib.grading.checks.all  # noqa: F401
from distlib.grading.guard import import_system_restorer as _distlib_restorer
from distlib.grading.guard import disarm_checks as __distlib_disarm_checks
from distlib.grading.guard import start_grading as _distlib_start_grading
__distlib_restore_checks = _distlib_restorer()
_distlib_start_grading()
del _distlib_restorer, _distlib_start_grading
"""
# Run, unseen, by the grader before every check cell: the import system is put back as it was at the
# preamble (builtins.__import__, sys.meta_path, path hooks: red team, chapter 05, faked every check with
# an import hook) and the check modules (and the package) are dropped from sys.modules and imported
# fresh, so an answer cell that replaced a check module, rebound a package attribute or monkeypatched a
# check function does not decide its own grade. The guard's record of shortcuts is kept.
CHECK_RESTORE = "__distlib_restore_checks()"
# Run, unseen, after every check cell (grader and strength tests): answer cells that follow cannot run a
# check (see distlib.grading.guard.disarm_checks).
CHECK_DISARM = "__distlib_disarm_checks()"
# Run, unseen, by the strength tests after every answer variant: many variants share one kernel, and a
# recorded tampering answer must not spoil the ones after it (the grader does NOT run this: a learner's
# changed library stays changed, and every later check says so).
LIBRARY_RESTORE = "from distlib.grading import guard as _g; _g.restore_library(); del _g"
# The grader's own hidden cells (above) load and seal the whole library: they get this limit, not the
# per-exercise --timeout a learner's cell gets.
HIDDEN_TIMEOUT = 300
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def repo_root() -> Path:
    """The checkout holding ``distlib`` (it is installed editable), home of solutions/ and exercises/."""
    return Path(__file__).resolve().parents[2]


def read_notebook(path: str | Path) -> NotebookNode:
    """Read a v4 notebook without letting nbformat invent random cell ids.

    ``nbformat.read`` fills missing ids with random strings, which would make the generator's
    output differ run to run; we fill them from the cell position and source instead.
    Raises ``ValueError`` if the file is not a JSON v4 notebook.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        raise ValueError(f"{path}: not a version 4 Jupyter notebook (need nbformat 4 and a cells list)")
    nb = nbformat.from_dict(data)
    try:
        rejoin_lines(nb)  # what nbformat.reads does: multi-line strings stored as lists -> str
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed notebook ({exc})") from exc
    if nb.get("nbformat_minor", 0) >= 5:
        for index, cell in enumerate(nb.cells):
            if not isinstance(cell, dict):
                raise ValueError(f"{path}: cell {index} is not an object")
            if "id" not in cell:
                digest = hashlib.sha1(f"{index}:{_source(cell)}".encode()).hexdigest()[:8]
                cell["id"] = f"cell-{index}-{digest}"
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or "cell_type" not in cell:
            raise ValueError(f"{path}: cell {index} has no cell_type")
        cell["source"] = _source(cell)
        cell.setdefault("metadata", NotebookNode())
    return nb


def notebook_text(nb: NotebookNode) -> str:
    """The canonical serialization: nbformat's v4 writer (sorted keys, indent=1) plus a newline."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def write_notebook(nb: NotebookNode, path: str | Path) -> None:
    Path(path).write_text(notebook_text(nb), encoding="utf-8")


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def exercise_meta(cell: dict[str, Any]) -> dict[str, Any] | None:
    """The cell's ``metadata["exercise"]`` if it is a dict with a role, else None."""
    if cell.get("cell_type") != "code":
        return None
    meta = cell.get("metadata", {}).get("exercise")
    if not isinstance(meta, dict) or meta.get("role") not in (ROLE_SOLUTION, ROLE_CHECK):
        return None
    return meta


@dataclass
class WrongAnswer:
    name: str
    code: str


@dataclass
class Exercise:
    """One exercise of a solutions (or exercises) notebook, located by cell index."""

    id: str
    points: float
    solution_index: int | None
    check_index: int | None
    wrong_answers: list[WrongAnswer] = field(default_factory=list)
    # other correct answers the chapter's text allows (the check must accept each of them)
    right_answers: list[WrongAnswer] = field(default_factory=list)


def find_exercises(nb: NotebookNode) -> tuple[list[Exercise], list[str]]:
    """Exercises in notebook order (by check cell, else solution cell) and the problems found.

    Problems are human-readable sentences (duplicate ids, bad points, a check without a solution,
    malformed wrong answers, missing markers, ...); an empty list means the notebook follows the
    convention.
    """
    by_id: dict[str, Exercise] = {}
    problems: list[str] = []
    for index, cell in enumerate(nb.cells):
        meta = exercise_meta(cell)
        if meta is None:
            raw = cell.get("metadata", {}).get("exercise") if isinstance(cell, dict) else None
            if raw is not None:
                problems.append(f"cell {index}: metadata.exercise needs role 'solution' or 'check' "
                                f"in a code cell, got {raw!r}")
            continue
        ex_id = meta.get("id")
        if not isinstance(ex_id, str) or not _ID_RE.match(ex_id):
            problems.append(f"cell {index}: exercise id must be a non-empty string of letters, digits, "
                            f"'-', '_' or '.', got {ex_id!r}")
            continue
        ex = by_id.setdefault(ex_id, Exercise(ex_id, 0, None, None))
        if meta["role"] == ROLE_SOLUTION:
            if ex.solution_index is not None:
                problems.append(f"exercise {ex_id}: duplicate id, solution cells {ex.solution_index} "
                                f"and {index}")
                continue
            ex.solution_index = index
            points = meta.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or not points > 0:
                problems.append(f"exercise {ex_id}: points must be a positive number, got {points!r}")
            else:
                ex.points = points
            try:
                solution_block(cell["source"])
            except ValueError as exc:
                problems.append(f"exercise {ex_id}: cell {index}: {exc}")
            for key, into in (("wrong_answers", ex.wrong_answers), ("right_answers", ex.right_answers)):
                recorded = meta.get(key, [])
                if not isinstance(recorded, list):
                    problems.append(f"exercise {ex_id}: {key} must be a list of {{name, code}}")
                    recorded = []
                for k, item in enumerate(recorded):
                    if (not isinstance(item, dict) or not isinstance(item.get("name"), str)
                            or not isinstance(item.get("code"), str) or not item["code"].strip()):
                        problems.append(f"exercise {ex_id}: {key}[{k}] must be "
                                        f"{{'name': str, 'code': non-empty str}}, got {item!r}")
                        continue
                    into.append(WrongAnswer(item["name"], item["code"]))
        else:
            if ex.check_index is not None:
                problems.append(f"exercise {ex_id}: duplicate id, check cells {ex.check_index} and {index}")
                continue
            ex.check_index = index
            if BEGIN_MARKER in cell["source"]:
                problems.append(f"exercise {ex_id}: the check cell {index} contains {BEGIN_MARKER!r}")
    for ex in by_id.values():
        if ex.solution_index is None:
            problems.append(f"exercise {ex.id}: check cell {ex.check_index} has no solution cell")
        if ex.check_index is None:
            problems.append(f"exercise {ex.id}: solution cell {ex.solution_index} has no check cell")
        if (ex.solution_index is not None and ex.check_index is not None
                and ex.check_index < ex.solution_index):
            problems.append(f"exercise {ex.id}: the check cell {ex.check_index} comes before the "
                            f"solution cell {ex.solution_index}")
    exercises = sorted(by_id.values(), key=lambda e: (e.check_index if e.check_index is not None
                                                      else e.solution_index or 0))
    return exercises, problems


def solution_block(source: str) -> tuple[int, int, str]:
    """Locate the single solution block: (first line index, last line index, marker indentation).

    Raises ``ValueError`` unless the source has exactly one ``### BEGIN SOLUTION`` line followed by
    one ``### END SOLUTION`` line at the same indentation.
    """
    lines = source.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN_MARKER]
    ends = [i for i, line in enumerate(lines) if line.strip() == END_MARKER]
    if len(begins) != 1 or len(ends) != 1:
        raise ValueError(f"a solution cell needs exactly one line {BEGIN_MARKER!r} and one line "
                         f"{END_MARKER!r}, found {len(begins)} and {len(ends)}")
    begin, end = begins[0], ends[0]
    if end < begin:
        raise ValueError(f"{END_MARKER!r} (line {end + 1}) comes before {BEGIN_MARKER!r} (line {begin + 1})")
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    end_indent = lines[end][: len(lines[end]) - len(lines[end].lstrip())]
    if indent != end_indent:
        raise ValueError(f"{BEGIN_MARKER!r} and {END_MARKER!r} must have the same indentation")
    return begin, end, indent


def replace_block(source: str, code: str) -> str:
    """``source`` with its solution block (markers included) replaced by ``code``.

    ``code`` is dedented, then indented to the BEGIN marker's indentation, so wrong answers can be
    recorded without the indentation of the function body they land in.
    """
    begin, end, indent = solution_block(source)
    lines = source.split("\n")
    body = textwrap.indent(textwrap.dedent(code).strip("\n"), indent).split("\n")
    return "\n".join(lines[:begin] + body + lines[end + 1:])


def stub_code(ex_id: str) -> str:
    return f'raise NotImplementedError("Exercise {ex_id}: write your solution here")'


def stub_source(source: str, ex_id: str) -> str:
    """The student's version of a solution cell: the block becomes a NotImplementedError stub."""
    return replace_block(source, stub_code(ex_id))


def add_tag(cell: dict[str, Any], tag: str) -> None:
    tags = cell.setdefault("metadata", NotebookNode()).setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)
