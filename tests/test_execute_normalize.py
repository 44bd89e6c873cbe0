"""The executor's normalization makes two executions of a notebook byte-identical."""

import nbformat

from distlib.grading.execute import normalize


def test_consecutive_stream_chunks_are_merged_per_stream():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('a'); print('b')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a"),
                    nbformat.v4.new_output("stream", name="stdout", text="\nb\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="warn\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="c\n")]
    nb.cells = [cell]
    normalize(nb)
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [
        ("stdout", "a\nb\n"), ("stderr", "warn\n"), ("stdout", "c\n")]


def test_widget_views_and_widget_state_are_dropped():
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"state": {}}
    cell = nbformat.v4.new_code_cell("panel")
    view = "application/vnd.jupyter.widget-view+json"
    cell.outputs = [nbformat.v4.new_output("display_data", data={view: {"model_id": "x"},
                                                                "text/plain": "Panel: demo"}),
                    nbformat.v4.new_output("display_data", data={view: {"model_id": "y"}})]
    nb.cells = [cell]
    normalize(nb)
    assert "widgets" not in nb.metadata
    assert [dict(o.data) for o in nb.cells[0].outputs] == [{"text/plain": "Panel: demo"}]
