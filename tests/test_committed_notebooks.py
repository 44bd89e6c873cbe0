"""The committed notebooks follow the course's conventions (DESIGN.md, "Notebooks").

Chapters and solutions are committed executed top to bottom: execution counts 1..n, no stripped
counts beside kept outputs, no widget state (random model ids), every chapter starts with the course
set-up and has the errata box. Exercises are committed blank: no outputs, no counts.
"""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
BLANK = sorted((ROOT / "exercises").glob("*.ipynb"))


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_executed_top_to_bottom_with_counts_1_to_n(path):
    counts = [c.execution_count for c in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, "widget state (random model ids) must not be committed"
    for cell in code_cells(path):
        for out in cell.outputs:
            assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {})
            assert out.get("output_type") != "error" or "raises-exception" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_chapter_shape(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "setup()" in first_code.source, "the first code cell calls distlib.viz.setup()"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for part in ("After this chapter you can", "What the common summary gets wrong", "Further reading"):
        if path.name.startswith("00_") and part == "What the common summary gets wrong":
            continue   # the getting-started chapter teaches the tools, not a protocol
        assert part in text, f"{path.name} lacks the section {part!r}"


@pytest.mark.parametrize("path", BLANK, ids=lambda p: p.name)
def test_exercises_are_committed_blank(path):
    for cell in code_cells(path):
        assert cell.execution_count is None and not cell.outputs
