"""The exercise pipeline's machinery: generator, executor and grader, on the fixture notebook.

Budget: ~70 s on 2 cores (kernel start-ups dominate): the grader runs once over a class folder of
13 fixture submissions with --jobs 2 and the tests share its JSON; a 100 MB printer (marked slow,
~20 s) proves the grader's memory stays small; a 3-student folder is graded with --jobs 1 and 2.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from distlib.grading import execute, generate, grader
from distlib.grading.kernel import OUTPUT_KEEP, KernelSession
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


SETUP_BROKEN = _submission({"add": ADD_OK, "majority": MAJ_OK}).replace(
    '"def check_add(add):', '"import no_such_module_xyz\\n",\n    "def check_add(add):', 1)
SECOND = "98_second.ipynb"  # the fixture course has two notebooks: 99_fixture and this copy of it


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    sols = tmp_path_factory.mktemp("solutions")
    (sols / NAME).write_bytes((SOLUTIONS / NAME).read_bytes())
    (sols / SECOND).write_bytes((SOLUTIONS / NAME).read_bytes())
    (sols / "00_intro.ipynb").write_text(notebook_text(nbformat.v4.new_notebook()))  # no exercises
    return sols


def _class_folder(root: Path) -> None:
    for student, text in STUDENTS.items():
        (root / student).mkdir()
        (root / student / NAME).write_text(text)
    # alice: a renamed copy of the second notebook, and an old duplicate that must not be graded
    (root / "alice" / "98_second (1).ipynb").write_text(STUDENTS["alice"])
    (root / "alice" / "old").mkdir()
    (root / "alice" / "old" / NAME).write_text(STUDENTS["alice"])
    (root / "alice" / ".ipynb_checkpoints").mkdir()
    (root / "alice" / ".ipynb_checkpoints" / "99_fixture-checkpoint.ipynb").write_text(STUDENTS["alice"])
    (root / "henry").mkdir()
    (root / "henry" / "77_unknown.ipynb").write_text(STUDENTS["alice"])
    (root / "setup").mkdir()
    (root / "setup" / NAME).write_text(SETUP_BROKEN)
    # top level: one file that names its student, one that does not
    (root / f"carl_{SECOND}").write_text(STUDENTS["alice"])
    (root / NAME).write_text(STUDENTS["alice"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    root = tmp_path_factory.mktemp("submissions")
    _class_folder(root)
    out = root.parent / (root.name + "-out")
    out.mkdir()
    proc = subprocess.run(
        [PY, "-m", "distlib.grade", str(root), "--solutions", str(course), "--timeout", "5", "--jobs", "2",
         "--json", str(out / "g.json"), "--csv", str(out / "g.csv")],
        capture_output=True, text=True, timeout=600, cwd=out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "g.json").read_text())
    students = {s["student"]: s for s in report["students"]}
    subs = {s: {nb["notebook"]: nb for nb in st["notebooks"]} for s, st in students.items()}
    return proc.stdout, report, students, subs, out


def _statuses(sub):
    return {e["id"]: (e["points"], e["status"]) for e in sub["exercises"]}


def test_grader_correct_submission_gets_full_points(graded):
    _, _, students, subs, _ = graded
    assert _statuses(subs["alice"][NAME]) == {"add": (1, "pass"), "majority": (2, "pass")}
    assert (subs["alice"][NAME]["points"], subs["alice"][NAME]["possible"]) == (3, 3)
    assert subs["alice"][NAME]["submission"] == f"alice/{NAME}"


def test_grader_per_student_totals_count_every_course_notebook(graded):
    _, report, students, subs, _ = graded
    assert report["course"] == [{"notebook": SECOND, "possible": 3}, {"notebook": NAME, "possible": 3}]
    assert [nb["notebook"] for nb in students["bob"]["notebooks"]] == [SECOND, NAME]
    # a renamed copy is graded as its course notebook; the old/ duplicate is not graded at all
    assert (students["alice"]["points"], students["alice"]["possible"]) == (6, 6)
    assert subs["alice"][SECOND]["submission"] == "alice/98_second (1).ipynb"
    assert "graded as 98_second.ipynb" in subs["alice"][SECOND]["notes"][0]
    # a notebook not handed in: every exercise missing, 0 of its points, still in the denominator
    assert (students["bob"]["points"], students["bob"]["possible"]) == (0, 6)
    assert subs["bob"][SECOND]["submission"] == ""
    assert _statuses(subs["bob"][SECOND]) == {"add": (0, "missing"), "majority": (0, "missing")}
    # an unknown notebook is not graded (no more 0/0): henry has handed in nothing of the course
    assert (students["henry"]["points"], students["henry"]["possible"]) == (0, 6)
    assert all(nb["submission"] == "" for nb in students["henry"]["notebooks"])
    # a top-level file named after its student counts for that student
    assert (students["carl"]["points"], students["carl"]["possible"]) == (3, 6)
    assert subs["carl"][SECOND]["submission"] == f"carl_{SECOND}"
    assert sorted(students) == ["alice", "blank", "bob", "carl", "carol", "dave", "erin", "frank", "gina",
                                "henry", "ivan", "setup"]


def test_grader_warns_about_duplicates_unknown_and_anonymous_notebooks(graded):
    stdout, report, _, _, _ = graded
    assert report["warnings"] == [
        f"{NAME}: at the top level and its name carries no student name; graded but counted for no student "
        f"(put each student's notebooks in a folder named after the student, or name the file like "
        f"alice_{NAME})",
        "henry/77_unknown.ipynb: not a notebook of the course (solutions: 98_second.ipynb, 99_fixture.ipynb);"
        " not graded",
        f"alice: 2 copies of {NAME}; graded alice/{NAME}, ignored alice/old/{NAME}",
    ]
    assert [(g["submission"], g["student"], g["points"]) for g in report["unassigned"]] == [(NAME, "", 3)]
    # 12 students; 11 of their notebooks + carl's + the anonymous one graded (not old/, not henry's)
    assert report["summary"] == {"students": 12, "notebooks_graded": 13, "warnings": 3}
    assert "\n12 students, 13 notebooks graded, 3 warnings; 18/75 points in total\n" in stdout
    assert f"warning: alice: 2 copies of {NAME}" in stdout


def test_grader_reports_wrong_answers_with_the_check_message(graded):
    _, _, _, subs, _ = graded
    st = _statuses(subs["bob"][NAME])
    assert st["add"] == (0, "fail: AssertionError: wrong, because add(1, 2) returned -1, not 3")
    assert st["majority"][0] == 0
    assert st["majority"][1].startswith("fail: AssertionError: wrong, because is_majority([True, True], n=4)")


def test_grader_names_the_solution_cells_error(graded):
    _, _, _, subs, _ = graded
    st = _statuses(subs["carol"][NAME])
    assert st["add"] == (0, "fail: ValueError: oops")
    # The solution cell raised, so the name never got defined: that error is the cause, not NameError.
    assert st["majority"] == (0, "fail: the solution cell raised RuntimeError: boom")


def test_grader_blank_notebook_is_not_answered_yet(graded):
    _, _, _, subs, _ = graded
    assert _statuses(subs["blank"][NAME]) == {"add": (0, "not answered yet"),
                                              "majority": (0, "not answered yet")}


def test_grader_blames_a_failed_setup_cell(graded):
    _, _, _, subs, _ = graded
    cause = "fail: setup cell 1 raised ModuleNotFoundError: No module named 'no_such_module_xyz'; "
    assert _statuses(subs["setup"][NAME]) == {"add": (0, cause + "nothing could be graded"),
                                              "majority": (0, cause + "nothing could be graded")}


def test_grader_times_out_infinite_loop_and_continues(graded):
    _, _, _, subs, _ = graded
    assert _statuses(subs["dave"][NAME]) == {"add": (0, "timeout"), "majority": (2, "pass")}


def test_grader_survives_a_killed_kernel_and_replays(graded):
    _, _, _, subs, _ = graded
    assert _statuses(subs["ivan"][NAME]) == {"add": (0, "fail: kernel died while running this exercise"),
                                             "majority": (2, "pass")}  # the setup cell was replayed
    assert subs["ivan"][NAME]["notes"] == ["cell 3 killed the kernel; restarted the kernel and replayed the "
                                           "cells before it"]


def test_grader_deleted_check_is_missing(graded):
    _, _, _, subs, _ = graded
    assert _statuses(subs["erin"][NAME]) == {"add": (0, "missing"), "majority": (2, "pass")}


def test_grader_restores_tampered_checks(graded):
    _, _, _, subs, _ = graded
    st = _statuses(subs["frank"][NAME])
    assert st["add"] == (0, "not answered yet")  # the restored check called the stub
    assert st["majority"][0] == 0 and st["majority"][1].startswith("fail: AssertionError: wrong, because")


def test_grader_survives_corrupt_json(graded):
    _, report, _, subs, _ = graded
    st = _statuses(subs["gina"][NAME])
    assert st["add"][0] == 0 and st["add"][1].startswith("fail: invalid notebook: not valid JSON")
    assert report["points"] == 18 and report["possible"] == 12 * 6 + 3


def test_grader_table_and_csv(graded):
    stdout, _, _, _, out = graded
    assert f"dave/{NAME}" in stdout and "timeout" in stdout
    assert "bob      98_second.ipynb" in stdout and "missing (not handed in)" in stdout
    assert "alice    TOTAL" in stdout
    rows = list(csv.DictReader((out / "g.csv").open()))
    assert {"student": "erin", "notebook": NAME, "submission": f"erin/{NAME}", "exercise": "add",
            "points": "0", "possible": "1", "status": "missing"} in rows
    assert {"student": "bob", "notebook": SECOND, "submission": "", "exercise": "majority",
            "points": "0", "possible": "2", "status": "missing"} in rows
    assert len(rows) == (12 * 2 + 1) * 2  # every (student, exercise) of the course, + the anonymous file
    totals = list(csv.DictReader((out / "g-totals.csv").open()))
    assert totals[0] == {"student": "alice", SECOND: "3", NAME: "3", "points": "6", "possible": "6"}
    assert {"student": "bob", SECOND: "0", NAME: "0", "points": "0", "possible": "6"} in totals
    assert len(totals) == 12
    assert sorted(p.name for p in out.iterdir()) == ["g-totals.csv", "g.csv", "g.json"]  # nothing else


def test_grader_parallel_results_do_not_depend_on_jobs(tmp_path, course):
    root = tmp_path / "class"
    root.mkdir()
    for student in ("alice", "bob", "carol"):
        (root / student).mkdir()
        (root / student / NAME).write_text(STUDENTS[student])
    bars = [io.StringIO(), io.StringIO()]
    one = grader.grade(root, course, 5, jobs=1, progress_file=bars[0])
    two = grader.grade(root, course, 5, jobs=2, progress_file=bars[1])
    assert grader.to_json(one, course, 5) == grader.to_json(two, course, 5)
    assert [s.points for s in two.students] == [3, 0, 0]
    for bar in bars:
        assert bar.getvalue().rstrip().endswith(f"grading |{'#' * 30}| 3/3")


def test_grader_jobs_must_be_positive(course):
    with pytest.raises(ValueError, match=r"jobs must be an integer >= 1 \(got 0\)"):
        grader.grade(EXERCISES / NAME, course, jobs=0)


@pytest.mark.parametrize("file_name, notebook, student", [
    ("04_two_phase_commit.ipynb", "04_two_phase_commit.ipynb", ""),
    ("04_two_phase_commit (1).ipynb", "04_two_phase_commit.ipynb", ""),
    ("04_two_phase_commit-Copy1.ipynb", "04_two_phase_commit.ipynb", ""),
    ("Copy of 04_two_phase_commit.ipynb", "04_two_phase_commit.ipynb", ""),
    ("alice_04_two_phase_commit.ipynb", "04_two_phase_commit.ipynb", "alice"),
    ("04_two_phase_commit-alice.ipynb", "04_two_phase_commit.ipynb", "alice"),
    ("04-Two-Phase-Commit_bob_v2.ipynb", "04_two_phase_commit.ipynb", "bob"),
    ("20231234_02_paxos.ipynb", "02_paxos.ipynb", "20231234"),
    ("02_paxos_multi (2).ipynb", "02_paxos_multi.ipynb", ""),  # the longest course name wins
    ("04_two_phase.ipynb", None, ""),
    ("104_two_phase_commit.ipynb", None, ""),
])
def test_match_notebook_names(file_name, notebook, student):
    course = [grader.CourseNotebook(n, Path(n), 1, (("x", 1),))
              for n in ("02_paxos.ipynb", "02_paxos_multi.ipynb", "04_two_phase_commit.ipynb")]
    nb, who = grader.match_notebook(file_name, course)
    assert (nb.name if nb else None, who) == (notebook, student)


def test_grader_writes_no_file_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "alice" / NAME
    path.parent.mkdir()
    path.write_text(STUDENTS["alice"])
    assert grader.main([str(path), "--solutions", str(SOLUTIONS), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "alice/" not in out and f"-        {NAME}  add       1/1     pass" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice"]  # no grades.json in the cwd
    with pytest.raises(SystemExit):
        grader.main(["--help"])
    assert "default: no file" in capsys.readouterr().out


def test_grader_single_file(tmp_path):
    path = tmp_path / NAME
    path.write_text(STUDENTS["alice"])
    code = grader.main([str(path), "--solutions", str(SOLUTIONS), "--json", str(tmp_path / "g.json")])
    assert code == 0
    report = json.loads((tmp_path / "g.json").read_text())
    assert report["students"] == [] and report["summary"]["notebooks_graded"] == 1
    sub = report["unassigned"][0]
    assert (sub["submission"], sub["student"], sub["points"]) == (NAME, "", 3)


# ---- output cap -------------------------------------------------------------------------------
def test_kernel_session_caps_a_cells_output(tmp_path):
    src = ("print('a' * 9)\nfor i in range(30_000):\n    print('x' * 99)\nprint('right: end')\n"
           "raise ValueError('after the flood')")
    with KernelSession(tmp_path, 60) as kernel:
        run = kernel.run(src)
        after = kernel.run("print('small')")
        # clear_output (progress displays) frees the budget: the last line alone remains, untruncated
        redrawn = kernel.run("from IPython.display import clear_output\nfor i in range(120):\n"
                             "    clear_output(wait=True)\n    print('y' * 9994, i)")
    total = 10 + 30_000 * 100 + len("right: end\n")
    assert run.status == "error" and run.ename == "ValueError"
    assert run.stdout.startswith("a" * 9 + "\n" + "x" * 99 + "\n")
    assert run.stdout.endswith("x" * 99 + "\nright: end\n")  # the verdict comes last: the tail keeps it
    marker = f"\n[... {total - 2 * OUTPUT_KEEP} characters of output truncated ...]\n"
    assert marker in run.stdout and len(run.stdout) == 2 * OUTPUT_KEEP + len(marker)
    assert run.outputs[-1]["output_type"] == "error"
    assert redrawn.stdout == "y" * 9994 + " 119\n"
    assert after.stdout == "small\n" and after.outputs == [{"output_type": "stream", "name": "stdout",
                                                           "text": "small\n"}]


PRINTER = """
import resource, sys
from pathlib import Path
from distlib.grading import grader
g = grader.grade_notebook(Path(sys.argv[1]), Path(sys.argv[2]), 120)
print([(e.id, e.status) for e in g.exercises])
print("maxrss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@pytest.mark.slow
def test_grader_memory_stays_small_when_a_cell_prints_100_mb(tmp_path):
    flood = "for _ in range(1_000_000):\n    print('x' * 99)\n" + ADD_OK  # 100 MB, then the answer
    peaks = {}
    for label, add in (("quiet", ADD_OK), ("flood", flood)):
        path = tmp_path / label / NAME
        path.parent.mkdir()
        path.write_text(_submission({"add": add, "majority": MAJ_OK}))
        proc = subprocess.run([PY, "-c", PRINTER, str(path), str(SOLUTIONS / NAME)], capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        statuses, rss = proc.stdout.strip().split("\n")[-2:]
        assert statuses == "[('add', 'pass'), ('majority', 'pass')]"
        peaks[label] = int(rss.split()[1])
    # The grader process's peak, over the same grading of a quiet notebook (the baseline depends on the
    # environment's imports): without the cap 100 MB of prints added ~200 MB, with it a few MB.
    assert peaks["flood"] - peaks["quiet"] < 60, peaks
