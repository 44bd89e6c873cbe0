"""The exercise pipeline's machinery: generator, executor and grader, on the fixture notebook.

Budget: ~35 s on 2 cores (kernel start-ups dominate; the grader runs once over all fixture
submissions and the tests share its JSON).
"""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from distlib.grading import execute, generate, grader
from distlib.grading.notebooks import (
    exercise_meta,
    notebook_text,
    read_notebook,
    replace_block,
    stub_source,
    write_notebook,
)

FIXTURES = Path(__file__).parent / "fixtures"
SOLUTIONS = FIXTURES / "solutions"
EXERCISES = FIXTURES / "exercises"
NAME = "99_fixture.ipynb"
PY = sys.executable


# ---- notebook parsing -------------------------------------------------------------------------
def test_stub_keeps_indentation_and_replaces_markers():
    src = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\nx = 1"
    assert stub_source(src, "add") == (
        'def add(a, b):\n    raise NotImplementedError("Exercise add: write your solution here")\nx = 1')


def test_wrong_answer_is_reindented_to_the_block():
    src = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    assert replace_block(src, "y = 2\nreturn y") == "def f():\n    y = 2\n    return y"
    assert replace_block(src, "    return 3\n") == "def f():\n    return 3"


@pytest.mark.parametrize("src, needle", [
    ("x = 1", "exactly one line"),
    ("### BEGIN SOLUTION\nx = 1", "exactly one line"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "found 2 and 1"),
    ("### END SOLUTION\nx=1\n### BEGIN SOLUTION", "comes before"),
    ("if 1:\n    ### BEGIN SOLUTION\n    x = 1\n### END SOLUTION", "same indentation"),
])
def test_malformed_solution_blocks_are_rejected(src, needle):
    with pytest.raises(ValueError, match=needle):
        stub_source(src, "x")


# ---- generator --------------------------------------------------------------------------------
def test_generated_fixture_exercises_are_in_sync():
    assert generate.main(["--check", "--solutions", str(SOLUTIONS), "--exercises", str(EXERCISES)]) == 0


def test_generator_output_hides_solutions_and_tags_cells():
    sol = read_notebook(SOLUTIONS / NAME)
    ex = read_notebook(EXERCISES / NAME)
    text = (EXERCISES / NAME).read_text()
    assert "BEGIN SOLUTION" not in text and "wrong_answers" not in text
    assert "return a + b" not in text and "majority-of-received" not in text
    assert text.endswith("}\n") and text == notebook_text(generate.make_exercise_notebook(sol))
    roles = {}
    for cell in ex.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        meta = exercise_meta(cell)
        if meta:
            roles[(meta["id"], meta["role"])] = cell
            assert "raises-exception" in cell.metadata.tags
    assert set(roles) == {("add", "solution"), ("add", "check"), ("majority", "solution"),
                          ("majority", "check")}
    assert roles[("add", "solution")].source == (
        'def add(a, b):\n    raise NotImplementedError("Exercise add: write your solution here")')
    assert roles[("majority", "solution")].metadata.exercise == {"id": "majority", "points": 2,
                                                                   "role": "solution"}


def test_generator_is_deterministic_and_check_reports_drift(tmp_path, capsys):
    sols, exs = tmp_path / "solutions", tmp_path / "exercises"
    sols.mkdir()
    nb = read_notebook(SOLUTIONS / NAME)
    for cell in nb.cells:  # executed solutions: outputs and counts must not leak into exercises
        if cell.cell_type == "code":
            cell.execution_count = 7
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="secret\n")]
    write_notebook(nb, sols / NAME)
    args = ["--solutions", str(sols), "--exercises", str(exs)]
    assert generate.main(["--check", *args]) == 1
    assert f"out of date: {exs / NAME}" in capsys.readouterr().out
    assert generate.main(args) == 0
    first = (exs / NAME).read_bytes()
    assert first == (EXERCISES / NAME).read_bytes()  # outputs cleared: same as the unexecuted source
    assert generate.main(args) == 0 and (exs / NAME).read_bytes() == first
    assert generate.main(["--check", *args]) == 0
    (exs / NAME).write_text(first.decode().replace("write your solution", "edited"))
    (exs / "50_stale.ipynb").write_bytes(first)
    capsys.readouterr()
    assert generate.main(["--check", *args]) == 1
    out = capsys.readouterr().out
    assert f"out of date: {exs / NAME}" in out and "stale" in out and "50_stale.ipynb" in out
    assert generate.main(args) == 0
    assert (exs / NAME).read_bytes() == first and not (exs / "50_stale.ipynb").exists()


def test_generator_names_the_malformed_cell(tmp_path, capsys):
    nb = read_notebook(SOLUTIONS / NAME)
    nb.cells[3].source = nb.cells[3].source.replace("### END SOLUTION", "")
    write_notebook(nb, tmp_path / NAME)
    assert generate.main(["--check", "--solutions", str(tmp_path), "--exercises", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "exercise 'add', cell 3" in err and "END SOLUTION" in err


# ---- executor ---------------------------------------------------------------------------------
def _write_nb(path: Path, sources: list[str], tags: dict[int, list[str]] | None = None) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i}"
        if tags and i in tags:
            cell.metadata.tags = tags[i]
    write_notebook(nb, path)
    return path


def test_execute_is_deterministic_and_drops_widget_views(tmp_path):
    path = _write_nb(tmp_path / "w.ipynb", [
        "import ipywidgets, pathlib\nprint(pathlib.Path.cwd().name)",
        "ipywidgets.IntSlider(value=3)",
        "raise ValueError('expected')",
        "",
        "1 + 1",
    ], tags={2: ["raises-exception"]})
    assert execute.main([str(path)]) == 0
    first = path.read_bytes()
    assert execute.main([str(path)]) == 0
    assert path.read_bytes() == first
    nb = read_notebook(path)
    assert "widgets" not in nb.metadata
    assert [c.execution_count for c in nb.cells] == [1, 2, 3, None, 4]
    assert nb.cells[0].outputs[0].text == tmp_path.name + "\n"  # ran in the notebook's folder
    assert nb.cells[1].outputs[0].data == {"text/plain": "IntSlider(value=3)"}
    assert nb.cells[2].outputs[0].ename == "ValueError"
    assert all("execution" not in c.metadata for c in nb.cells)


def test_execute_fails_naming_the_cell_and_leaves_file(tmp_path, capsys):
    path = _write_nb(tmp_path / "bad.ipynb", ["x = 1", "# the broken one\n1 / 0", "print('never')"])
    before = path.read_bytes()
    assert execute.main([str(path)]) == 1
    err = capsys.readouterr().err
    assert "cell 1 ('# the broken one')" in err and "ZeroDivisionError" in err
    assert path.read_bytes() == before


# ---- grader -----------------------------------------------------------------------------------
def _submission(answers: dict[str, str] | None = None, *, drop_check: str | None = None,
                tamper: dict[str, str] | None = None) -> str:
    """An exercises notebook as a student hands it in: stubs replaced by ``answers``."""
    nb = copy.deepcopy(read_notebook(EXERCISES / NAME))
    for cell in list(nb.cells):
        meta = exercise_meta(cell)
        if not meta:
            continue
        if meta["role"] == "solution" and answers and meta["id"] in answers:
            cell.source = answers[meta["id"]]
        if meta["role"] == "check" and meta["id"] == drop_check:
            nb.cells.remove(cell)
        if meta["role"] == "check" and tamper and meta["id"] in tamper:
            cell.source = tamper[meta["id"]]
    return notebook_text(nb)


ADD_OK = "def add(a, b):\n    return a + b"
MAJ_OK = "def is_majority(votes, n):\n    return sum(votes) > n / 2"
STUDENTS = {
    "alice": _submission({"add": ADD_OK, "majority": MAJ_OK}),
    "bob": _submission({"add": "def add(a, b):\n    return a - b",
                        "majority": "def is_majority(votes, n):\n    return sum(votes) > len(votes) / 2"}),
    "carol": _submission({"add": "def add(a, b):\n    raise ValueError('oops')",
                          "majority": "raise RuntimeError('boom')"}),
    "dave": _submission({"add": "def add(a, b):\n    while True:\n        pass", "majority": MAJ_OK}),
    "erin": _submission({"majority": MAJ_OK}, drop_check="add"),
    "frank": _submission({"majority": "def is_majority(votes, n):\n    return True"},
                         tamper={"add": "print('right: trust me')", "majority": "pass"}),
    "ivan": _submission({"add": "import os\nos._exit(3)", "majority": MAJ_OK}),
    "gina": '{"cells": [ {"cell_type": "code", ',
    "blank": _submission(),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    for student, text in STUDENTS.items():
        (root / student).mkdir()
        (root / student / NAME).write_text(text)
    (root / "henry").mkdir()
    (root / "henry" / "77_unknown.ipynb").write_text(STUDENTS["alice"])
    out = root.parent / (root.name + "-out")
    out.mkdir()
    proc = subprocess.run(
        [PY, "-m", "distlib.grade", str(root), "--solutions", str(SOLUTIONS), "--timeout", "5",
         "--json", str(out / "g.json"), "--csv", str(out / "g.csv")],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "g.json").read_text())
    subs = {s["student"]: s for s in report["submissions"]}
    return proc.stdout, report, subs, out


def _statuses(sub):
    return {e["id"]: (e["points"], e["status"]) for e in sub["exercises"]}


def test_grader_correct_submission_gets_full_points(graded):
    _, _, subs, _ = graded
    assert _statuses(subs["alice"]) == {"add": (1, "pass"), "majority": (2, "pass")}
    assert (subs["alice"]["points"], subs["alice"]["possible"]) == (3, 3)
    assert subs["alice"]["submission"] == f"alice/{NAME}"


def test_grader_reports_wrong_answers_with_the_check_message(graded):
    _, _, subs, _ = graded
    st = _statuses(subs["bob"])
    assert st["add"] == (0, "fail: AssertionError: wrong, because add(1, 2) returned -1, not 3")
    assert st["majority"][0] == 0
    assert st["majority"][1].startswith("fail: AssertionError: wrong, because is_majority([True, True], n=4)")


def test_grader_reports_exceptions(graded):
    _, _, subs, _ = graded
    st = _statuses(subs["carol"])
    assert st["add"] == (0, "fail: ValueError: oops")
    # The solution cell raised, so the name never got defined: the check fails.
    assert st["majority"] == (0, "fail: NameError: name 'is_majority' is not defined")


def test_grader_times_out_infinite_loop_and_continues(graded):
    _, _, subs, _ = graded
    assert _statuses(subs["dave"]) == {"add": (0, "timeout"), "majority": (2, "pass")}


def test_grader_survives_a_killed_kernel_and_replays(graded):
    _, _, subs, _ = graded
    assert _statuses(subs["ivan"]) == {"add": (0, "fail: kernel died while running this exercise"),
                                       "majority": (2, "pass")}  # the setup cell was replayed
    assert subs["ivan"]["notes"] == ["cell 3 killed the kernel; restarted the kernel and replayed the "
                                     "cells before it"]


def test_grader_deleted_check_is_missing(graded):
    _, _, subs, _ = graded
    assert _statuses(subs["erin"]) == {"add": (0, "missing"), "majority": (2, "pass")}


def test_grader_restores_tampered_checks(graded):
    _, _, subs, _ = graded
    st = _statuses(subs["frank"])
    assert st["add"] == (0, "fail: NotImplementedError: Exercise add: write your solution here")
    assert st["majority"][0] == 0 and st["majority"][1].startswith("fail: AssertionError: wrong, because")


def test_grader_survives_corrupt_json_and_unknown_notebooks(graded):
    _, report, subs, _ = graded
    st = _statuses(subs["gina"])
    assert st["add"][0] == 0 and st["add"][1].startswith("fail: invalid notebook: not valid JSON")
    assert subs["henry"]["error"].startswith("no solutions notebook 77_unknown.ipynb")
    assert subs["henry"]["exercises"] == []
    assert _statuses(subs["blank"]) == {
        "add": (0, "fail: NotImplementedError: Exercise add: write your solution here"),
        "majority": (0, "fail: NameError: name 'is_majority' is not defined")}  # the stub cell raised
    assert report["points"] == 3 + 2 + 2 + 2 and report["possible"] == 3 * 9


def test_grader_table_and_csv(graded):
    stdout, _, _, out = graded
    assert f"dave/{NAME}" in stdout and "timeout" in stdout and "missing" in stdout
    assert "10 submissions, 9/27 points in total" in stdout
    rows = list(csv.DictReader((out / "g.csv").open()))
    assert {"student": "erin", "submission": f"erin/{NAME}", "exercise": "add", "points": "0",
            "possible": "1", "status": "missing"} in rows
    assert len(rows) == 9 * 2 + 1


def test_grader_single_file(tmp_path, capsys):
    path = tmp_path / NAME
    path.write_text(STUDENTS["alice"])
    code = grader.main([str(path), "--solutions", str(SOLUTIONS), "--json", str(tmp_path / "g.json")])
    assert code == 0
    sub = json.loads((tmp_path / "g.json").read_text())["submissions"][0]
    assert (sub["submission"], sub["student"], sub["points"]) == (NAME, "", 3)


@pytest.mark.parametrize("args", [
    ["does-not-exist"],
    ["notes.txt"],
    [str(EXERCISES / NAME), "--solutions", "no-such-dir"],
    [str(EXERCISES / NAME), "--solutions", str(SOLUTIONS), "--timeout", "0"],
    [str(EXERCISES / NAME), "--timeout", "soon"],
])
def test_grader_bad_arguments_exit_2(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a notebook")
    with pytest.raises(SystemExit) as exc:
        grader.main(args)
    assert exc.value.code == 2
    assert not (tmp_path / "grades.json").exists()
