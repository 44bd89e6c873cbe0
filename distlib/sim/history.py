"""Jepsen-style operation histories recorded by clients.

Each client operation appears twice: an ``invoke`` when it is issued and a
completion when it ends — ``ok`` (it took effect, with its result), ``fail`` (it
certainly did not take effect) or ``info`` (unknown: it timed out, so it may or
may not have taken effect). Checkers read these, never simulator internals.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES = ("invoke", "ok", "fail", "info")


@dataclass(frozen=True, slots=True)
class Op:
    """One history event. ``process`` is the client; ``f`` the operation name."""

    process: str
    type: OpType
    f: str
    key: Hashable | None = None
    value: Any = None
    time: float = 0.0

    def __post_init__(self) -> None:
        if self.type not in OP_TYPES:
            raise ValueError(f"type must be one of {OP_TYPES} (got {self.type!r})")

    def __repr__(self) -> str:
        key = "" if self.key is None else f" {self.key!r}"
        return f"{self.time:8.3f} {self.process:>4} {self.type:<6} {self.f}{key} {self.value!r}"


class History(list):
    """A list of :class:`Op` in real-time order (the order they were recorded)."""

    def __init__(self, ops: Iterable[Op] = ()):
        super().__init__(ops)

    def invoke(self, process: str, f: str, key: Hashable | None, value: Any, time: float) -> Op:
        op = Op(process, "invoke", f, key, value, time)
        self.append(op)
        return op

    def complete(self, invocation: Op, type: OpType, value: Any, time: float) -> Op:
        if type == "invoke":
            raise ValueError("type must be 'ok', 'fail' or 'info' for a completion (got 'invoke')")
        op = Op(invocation.process, type, invocation.f, invocation.key, value, time)
        self.append(op)
        return op

    def pairs(self) -> list[tuple[Op, Op | None]]:
        """(invoke, completion) pairs in invocation order; completion is None if still open."""
        open_by_process: dict[str, int] = {}
        out: list[list] = []
        for op in self:
            if op.type == "invoke":
                if op.process in open_by_process:
                    raise ValueError(f"process {op.process!r} invoked twice without completing")
                open_by_process[op.process] = len(out)
                out.append([op, None])
            else:
                if op.process not in open_by_process:
                    raise ValueError(f"process {op.process!r} completed an operation it never invoked")
                out[open_by_process.pop(op.process)][1] = op
        return [(a, b) for a, b in out]

    def format(self) -> str:
        return "\n".join(repr(op) for op in self)
