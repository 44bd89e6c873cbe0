"""Execute notebooks in place, deterministically.

    python -m distlib.grading.execute [--timeout S] PATH...

Each notebook runs top to bottom in a fresh python3 kernel of the current environment, in the
notebook's folder, with a per-cell timeout. The result is normalized so two executions give
byte-identical files: ``metadata.widgets`` (random model ids) and widget-view outputs are dropped
(their ``text/plain`` fallback stays), no timing metadata is recorded, execution counts are 1..n.
A cell that raises fails the run (exit 1, the cell is named) unless it is tagged
``raises-exception``; a failed notebook is left untouched on disk.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from .kernel import TIMEOUT_ENAME, new_client
from .notebooks import read_notebook, write_notebook

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class NotebookError(Exception):
    """A cell failed; the message names the notebook and the cell."""


def normalize(nb: NotebookNode) -> NotebookNode:
    """Strip what differs between two executions of the same notebook (in place; returns ``nb``)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not data:  # nothing but the widget view: drop the whole output
                    continue
            # The kernel flushes stdout in chunks whose boundaries depend on timing: merge
            # consecutive stream outputs of the same stream so the file does not.
            if (out.get("output_type") == "stream" and kept and kept[-1].get("output_type") == "stream"
                    and kept[-1].get("name") == out.get("name")):
                kept[-1]["text"] = kept[-1]["text"] + out["text"]
                continue
            kept.append(out)
        cell.outputs = kept
    return nb


def _describe(index: int, cell: NotebookNode) -> str:
    first = next((line for line in cell.source.split("\n") if line.strip()), "")
    return f"cell {index} ({first[:60]!r})"


def execute_notebook(path: str | Path, timeout: int = 120) -> NotebookNode:
    """Execute the notebook at ``path`` and return it normalized (the file is not written).

    Raises :class:`NotebookError` naming the cell if one raises without the ``raises-exception``
    tag, times out, or kills the kernel.
    """
    if not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive whole number of seconds, got {timeout!r}")
    path = Path(path)
    nb = read_notebook(path)
    client = new_client(nb, timeout, allow_errors=False)
    replies: list[dict] = []
    client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.append(execute_reply)
    # The kernel process's stderr is launcher noise; errors in cells arrive as outputs.
    with client.setup_kernel(cwd=str(path.resolve().parent), stderr=subprocess.DEVNULL):
        assert client.kc is not None
        info = client.wait_for_reply(client.kc.kernel_info())
        if info is not None and "language_info" in info["content"]:
            nb.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            replies.clear()
            try:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                error = None
            except CellExecutionError as exc:
                error = f"raised:\n{exc}"
            except (CellTimeoutError, DeadKernelError) as exc:
                error = str(exc)
            # A timeout comes back as an error reply: a failure even in a raises-exception cell.
            if replies and replies[-1].get("content", {}).get("ename") == TIMEOUT_ENAME:
                error = f"exceeded the {timeout} s cell timeout"
            if error is not None:
                raise NotebookError(f"{path}: {_describe(index, cell)} {error}")
    return normalize(nb)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distlib.grading.execute", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebooks to execute")
    parser.add_argument("--timeout", type=int, default=120, help="per-cell timeout in seconds (120)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    missing = [p for p in args.paths if not p.is_file()]
    if missing:
        parser.error("no such notebook: " + ", ".join(map(str, missing)))
    failed = 0
    for path in args.paths:
        start = time.perf_counter()  # wall clock only for the report, never in notebook content
        try:
            nb = execute_notebook(path, args.timeout)
        except (NotebookError, ValueError) as exc:
            failed += 1
            print(f"FAILED {path} after {time.perf_counter() - start:.1f} s: {exc}", file=sys.stderr)
            continue
        write_notebook(nb, path)
        print(f"{path}: executed in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
