"""Progress for long loops (seed sweeps): a widget bar in a notebook, a text bar in a terminal.

Nothing it shows is compared by nbval non-deterministically: in a kernel it only
displays a widget whose ``text/plain`` is a fixed string, and writes no stream
output; in a terminal it writes to stderr only when stderr is a TTY (or ``file``
is given). Updates are paced by item count, never by the wall clock.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

T = TypeVar("T")


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:   # pragma: no cover - IPython ships with ipykernel/ipywidgets
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _bar(done: int, total: int | None, desc: str, width: int = 30) -> str:
    if not total:
        return f"{desc} {done} done"
    filled = width * done // total
    return f"{desc} |{'#' * filled}{'.' * (width - filled)}| {done}/{total}"


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "", *,
             file: IO[str] | None = None) -> Iterator[T]:
    """Yield the items of ``iterable`` while showing how many are done.

    ``total`` defaults to ``len(iterable)`` when it has one. ``file`` forces the
    text bar onto that stream (tests, logs).
    """
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ValueError(f"total must be a non-negative integer or None (got {total!r})")
    if not isinstance(desc, str):
        raise ValueError(f"desc must be a string (got {desc!r})")
    if file is None and in_kernel():
        yield from _widget_progress(iterable, total, desc)
    elif file is not None or sys.stderr.isatty():
        yield from _text_progress(iterable, total, desc, file if file is not None else sys.stderr)
    else:
        yield from iterable


def _text_progress(iterable: Iterable[T], total: int | None, desc: str, out: IO[str]) -> Iterator[T]:
    step = max(1, (total or 100) // 100)
    done = 0
    out.write("\r" + _bar(0, total, desc))
    try:
        for item in iterable:
            yield item
            done += 1
            if done % step == 0 or done == total:
                out.write("\r" + _bar(done, total, desc))
                out.flush()
    finally:
        out.write("\r" + _bar(done, total, desc) + "\n")
        out.flush()


def _widget_progress(iterable: Iterable[T], total: int | None, desc: str) -> Iterator[T]:
    import ipywidgets as widgets
    from IPython.display import display

    bar = widgets.IntProgress(value=0, min=0, max=total or 1, description=desc,
                              style={"description_width": "initial"})
    label = widgets.Label(f"0/{total}" if total else "0 done")
    box = widgets.HBox([bar, label])
    bundle = box._repr_mimebundle_()
    bundle["text/plain"] = f"progress: {desc}" if desc else "progress"   # fixed: nbval compares it
    display(bundle, raw=True)
    step = max(1, (total or 100) // 100)
    done = 0
    finished = False
    try:
        for item in iterable:
            yield item
            done += 1
            if done % step == 0:
                if total:
                    bar.value = done
                label.value = f"{done}/{total}" if total else f"{done} done"
        finished = True
    finally:
        bar.max = max(total or done, 1)
        bar.value = done if total else bar.max
        label.value = f"{done}/{total}" if total else f"{done} done"
        bar.bar_style = "success" if finished else "warning"
