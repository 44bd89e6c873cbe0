"""One IPython kernel driven cell by cell through nbclient, robust to hostile code.

Used by the strength tests and the grader: run arbitrary source strings in order, with a per-cell
time limit (interrupt on timeout), and survive kernels that die or ignore the interrupt. The output a
cell produces is capped (:data:`OUTPUT_LIMIT`): a student's cell printing 100 MB would otherwise be
held, several times over, in the grader's memory.
"""

from __future__ import annotations

import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync

TIMEOUT_ENAME = "CellTimeoutError"
# After interrupting a timed-out cell, how long the kernel may take to answer again before we
# declare it stuck (e.g. the student's loop swallows KeyboardInterrupt) and restart it.
_RESPONSIVE_WAIT = 10.0
# Output kept per cell, in characters: everything up to OUTPUT_LIMIT; beyond it only the first and
# the last OUTPUT_KEEP characters of stream text (plus any error), with a marker saying how much was
# dropped. A check's verdict ("right: ..." or the traceback) comes last, so the tail keeps it.
OUTPUT_LIMIT = 1_000_000
OUTPUT_KEEP = 64 * 1024


async def _async_get_shell_msg(kc: Any, timeout: float) -> dict[str, Any]:
    return await ensure_async(kc.shell_channel.get_msg(timeout=timeout))


_get_shell_msg = run_sync(_async_get_shell_msg)


@dataclass
class CellRun:
    """The outcome of one cell: status is "ok", "error", "timeout" or "dead" (the kernel died)."""

    status: str
    ename: str = ""
    evalue: str = ""
    stdout: str = ""
    outputs: list[Any] = field(default_factory=list)

    @property
    def error_line(self) -> str:
        """The first line of the error, e.g. ``AssertionError: wrong, because ...``."""
        if self.status == "timeout":
            return "timeout"
        if self.status == "dead":
            return "kernel died"
        text = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        return text.strip().split("\n")[0]


def _size(out: Any) -> int:
    """Characters an output holds (stream text, data values, traceback lines)."""
    kind = out.get("output_type")
    if kind == "stream":
        return len(out.get("text", ""))
    if kind == "error":
        return len(out.get("evalue", "")) + sum(len(line) for line in out.get("traceback", []))
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in out.get("data", {}).values())


class _OutputCap:
    """The per-cell budget: admit outputs while they fit, then keep a head, a rolling tail and errors."""

    def __init__(self, limit: int, keep: int) -> None:
        self.limit, self.keep = limit, keep
        self.used = 0
        self.truncating = False
        self.dropped = 0
        self.tail: deque[tuple[str, str]] = deque()  # (stream name, text), at most ~keep characters
        self.tail_len = 0
        self.errors: list[Any] = []  # error outputs that arrived while truncating: always kept

    def admit(self, outs: list[Any], out: Any) -> None:
        """Called right after ``out`` was appended to ``outs``."""
        if not self.truncating:
            size = _size(out)
            if self.used + size <= self.limit:
                self.used += size
                return
            self.truncating = True
            kept: list[Any] = []
            room = self.keep
            for o in outs:  # keep the first `keep` characters of what is there, the rest to the tail
                size = _size(o)
                if o.get("output_type") == "error":
                    kept.append(o)
                elif size <= room:
                    kept.append(o)
                    room -= size
                elif o.get("output_type") == "stream":
                    if room > 0:
                        kept.append(nbformat.v4.new_output("stream", name=o["name"], text=o["text"][:room]))
                    self._to_tail(o["name"], o["text"][room:])
                    room = 0
                else:
                    self.dropped += size
            outs[:] = kept
            return
        outs.pop()
        if out.get("output_type") == "stream":
            self._to_tail(out["name"], out["text"])
        elif out.get("output_type") == "error":
            self.errors.append(out)
        else:
            self.dropped += _size(out)

    def _to_tail(self, name: str, text: str) -> None:
        self.tail.append((name, text))
        self.tail_len += len(text)
        while self.tail_len - len(self.tail[0][1]) >= self.keep:
            _, first = self.tail.popleft()
            self.tail_len -= len(first)
            self.dropped += len(first)

    def finish(self, outs: list[Any]) -> None:
        """Append the truncation marker, the tail and late errors to the cell's outputs."""
        if not self.truncating:
            return
        if self.tail_len > self.keep:  # cut the oldest chunk so exactly `keep` characters remain
            name, first = self.tail.popleft()
            cut = self.tail_len - self.keep
            self.tail.appendleft((name, first[cut:]))
            self.dropped += cut
            self.tail_len -= cut
        outs.append(nbformat.v4.new_output(
            "stream", name="stdout", text=f"\n[... {self.dropped} characters of output truncated ...]\n"))
        for name, text in self.tail:
            if outs and outs[-1].get("output_type") == "stream" and outs[-1].get("name") == name:
                outs[-1]["text"] += text
            else:
                outs.append(nbformat.v4.new_output("stream", name=name, text=text))
        outs.extend(self.errors)


class _CappedClient(NotebookClient):
    """nbclient's client with a per-cell output budget (nbclient itself keeps every message)."""

    def start_cell(self, limit: int = OUTPUT_LIMIT, keep: int = OUTPUT_KEEP) -> None:
        self._cap = _OutputCap(limit, keep)

    def finish_cell(self, outs: list[Any]) -> None:
        self._cap.finish(outs)

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> Any:
        deferred_clear = self.clear_before_next_output
        out = super().output(outs, msg, display_id, cell_index)
        cap = getattr(self, "_cap", None)
        if cap is None:
            return out
        if deferred_clear and not self.clear_before_next_output:  # clear_output(wait=True) happened
            self._cap = cap = _OutputCap(cap.limit, cap.keep)
            cap.used = sum(_size(o) for o in outs)
        if out is not None and outs and outs[-1] is out:
            cap.admit(outs, out)
        return out

    def clear_output(self, outs: list[Any], msg: dict[str, Any], cell_index: int) -> None:
        super().clear_output(outs, msg, cell_index)
        cap = getattr(self, "_cap", None)
        if cap is not None and not outs:  # cleared now: what was dropped or kept is gone too
            self._cap = _OutputCap(cap.limit, cap.keep)


def new_client(nb: Any, timeout: int, *, allow_errors: bool, cap_output: bool = False) -> NotebookClient:
    """A NotebookClient configured the way the whole course executes notebooks.

    ``cap_output``: a client whose ``start_cell``/``finish_cell`` bracket a per-cell output budget.
    """
    client = (_CappedClient if cap_output else NotebookClient)(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
        interrupt_on_timeout=True,
        # Return at once after the interrupt, with this error, instead of waiting forever.
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"cell exceeded {timeout} s", "traceback": []},
        record_timing=False,  # wall-clock timestamps would make outputs non-deterministic
        shutdown_kernel="immediate",
    )
    # An empty registry: widget Output models are not emulated (observed reliable, see field notes).
    client.widget_registry = {}
    return client


class KernelSession:
    """A python3 kernel (from the current environment) in working directory ``cwd``.

    >>> with KernelSession(Path("."), timeout=30) as k:   # doctest: +SKIP
    ...     k.run("x = 1 + 1").status, k.run("print(x)").stdout
    ('ok', '2\\n')
    """

    def __init__(self, cwd: str | Path, timeout: int = 120) -> None:
        if not isinstance(timeout, int) or timeout <= 0:
            raise ValueError(f"timeout must be a positive whole number of seconds, got {timeout!r}")
        self.cwd = Path(cwd).resolve()
        self.timeout = timeout
        self.restarts = 0
        self._scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
        self._client: _CappedClient = new_client(self._scratch, timeout, allow_errors=True,  # type: ignore[assignment]
                                                 cap_output=True)
        self._reply: dict[str, Any] | None = None
        self._client.on_cell_executed = self._on_executed

    def _on_executed(self, cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        self._reply = execute_reply

    def __enter__(self) -> KernelSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        c = self._client
        c.km = c.create_kernel_manager()
        # The kernel process's own stderr is launcher noise (TCP warnings); cell output goes via iopub.
        c.start_new_kernel(cwd=str(self.cwd), stderr=subprocess.DEVNULL)
        c.start_new_kernel_client()

    def close(self) -> None:
        if self._client.km is not None:
            try:
                self._client._cleanup_kernel()
            except Exception:  # already dead: nothing left to clean
                self._client.km = None
                self._client.kc = None

    def restart(self) -> None:
        """A fresh kernel (all state lost): used after the kernel died or got stuck."""
        self.close()
        self.restarts += 1
        self.start()

    def run(self, source: str, *, store_history: bool = True, timeout: int | None = None) -> CellRun:
        """Execute ``source``; never raises for anything the code does. ``timeout`` replaces the
        session's per-cell limit for this cell (the grader's own hidden cells load the whole library)."""
        cell = nbformat.v4.new_code_cell(source)
        self._scratch.cells[0] = cell
        self._reply = None
        if not source.strip():
            return CellRun("ok")
        self._client.start_cell()
        limit = self._client.timeout
        if timeout is not None:
            self._client.timeout = timeout
        try:
            self._client.execute_cell(cell, 0, store_history=store_history)
        except DeadKernelError:
            self._client.finish_cell(cell.setdefault("outputs", []))
            self.restart()
            return CellRun("dead", outputs=list(cell.get("outputs", [])))
        finally:
            self._client.timeout = limit
        self._client.finish_cell(cell.outputs)
        content = (self._reply or {}).get("content", {})
        ename, evalue = str(content.get("ename", "")), str(content.get("evalue", ""))
        stdout = "".join(o.get("text", "") for o in cell.outputs
                         if o.get("output_type") == "stream" and o.get("name") == "stdout")
        outputs = list(cell.outputs)
        if content.get("status") != "error":
            return CellRun("ok", stdout=stdout, outputs=outputs)
        if ename == TIMEOUT_ENAME:
            if not self._responsive():
                self.restart()
            return CellRun("timeout", ename, evalue, stdout, outputs)
        return CellRun("error", ename, evalue, stdout, outputs)

    def last_error_is_assertion(self) -> bool:
        """Whether the last exception raised in the kernel is an AssertionError (or a subclass).

        IPython keeps it in ``sys.last_type``; the probe runs without touching history or names.
        """
        probe = self.run("print(issubclass(getattr(__import__('sys'), 'last_type', type(None)), "
                         "AssertionError))", store_history=False)
        return probe.status == "ok" and probe.stdout.strip() == "True"

    def _responsive(self) -> bool:
        """True if the kernel soon runs an empty, silent execute request (the interrupted cell ended).

        Not kernel_info: ipykernel 7 answers that from another thread even while a cell is busy.
        """
        kc = self._client.kc
        if kc is None:
            return False
        try:
            msg_id = kc.execute("", silent=True, store_history=False)
            deadline = time.monotonic() + _RESPONSIVE_WAIT
            while time.monotonic() < deadline:
                try:
                    msg = _get_shell_msg(kc, max(0.1, deadline - time.monotonic()))
                except Empty:
                    return False
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return True
        except Exception:
            return False
        return False
