"""Fault schedules typed as text by a learner, e.g. in a control panel::

    crash n2 at 1.5 restart 3; partition n1 | n2,n3 at 2 heal 4; pause n1 at 1 until 2; cut n1->n2 at 1

Grammar (clauses separated by ``;`` or new lines; ``at`` before an end time and
a comma before it are optional, so ``FaultSchedule.describe()`` output parses too)::

    crash NODE at T [restart [at] T2]
    pause NODE at T (until | resume [at]) T2
    partition A,B | C[,D ...] [| ...] at T [heal [at] T2]     (unlisted nodes form one more group)
    cut SRC->DST at T [heal [at] T2]

Errors are ``ValueError`` naming the clause and the offending word.

The grammar lives in the simulator layer (it needs nothing but :mod:`distlib.sim.faults`) so that
every protocol's ``run_*(faults=...)`` accepts the same text as the panels and the CLI
(:func:`as_schedule`); :mod:`distlib.viz.schedule_text` re-exports it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from .faults import (
    CrashFault,
    CutFault,
    FaultSchedule,
    PartitionFault,
    PauseFault,
    crash,
    cut,
    partition,
    pause,
)

KINDS = ("crash", "partition", "pause", "cut")
_TOKEN = re.compile(r"""\s*(?:
    (?P<arrow>->|→)
  | (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*(?:-(?!>)[A-Za-z0-9_.]+)*)
  | (?P<punct>[|,])
  | (?P<bad>\S)
)""", re.VERBOSE)


class _Clause:
    """A cursor over the tokens of one clause, with errors that quote the clause."""

    def __init__(self, index: int, text: str):
        self.index, self.text = index, text.strip()
        self.tokens: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            if kind is None:
                continue
            if kind == "bad":
                rest = text[m.start(kind):].split()[0]
                if re.match(r"-\d", rest):
                    self.fail(f"times must be numbers >= 0 (got {rest!r})")
                where = f" in {rest!r}" if len(rest) > 1 else ""
                self.fail(f"unexpected character {m.group(kind)!r}{where}")
            self.tokens.append((kind, m.group(kind)))
        self.pos = 0

    def fail(self, problem: str) -> None:
        raise ValueError(f"fault schedule, clause {self.index} ({self.text!r}): {problem}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _found(self) -> str:
        tok = self.peek()
        return "the end of the clause" if tok is None else repr(tok[1])

    def take_word(self, *words: str) -> str | None:
        """Consume the keyword if it is next (case-insensitive); return it, else None."""
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1].lower() in words:
            self.pos += 1
            return tok[1].lower()
        return None

    def expect_word(self, *words: str, after: str) -> str:
        word = self.take_word(*words)
        if word is None:
            wanted = " or ".join(repr(w) for w in words)
            self.fail(f"expected {wanted} after {after} but found {self._found()}")
        return word  # type: ignore[return-value]

    def take_punct(self, p: str) -> bool:
        tok = self.peek()
        if tok and tok[1] == p:
            self.pos += 1
            return True
        return False

    def name(self, what: str, after: str) -> str:
        tok = self.peek()
        if tok is None or tok[0] != "name" or tok[1].lower() in ("at", "heal", "restart", "until", "resume"):
            self.fail(f"expected {what} after {after} but found {self._found()}")
        self.pos += 1
        return tok[1]  # type: ignore[index]

    def number(self, what: str) -> float:
        tok = self.peek()
        if tok is None or tok[0] != "num":
            self.fail(f"expected a time (a number >= 0) for {what} but found {self._found()}")
        self.pos += 1
        return float(tok[1])  # type: ignore[index]

    def end_time(self, *words: str, required: bool = False) -> float | None:
        """``[,] WORD [at] T`` — an optional (or required) end time such as ``heal at 4``."""
        comma = self.take_punct(",")
        word = self.take_word(*words)
        if word is None:
            if required or comma:
                self.fail(f"expected {' or '.join(repr(w) for w in words)} followed by a time "
                          f"but found {self._found()}")
            return None
        self.take_word("at")
        return self.number(f"{word!r}")

    def done(self) -> None:
        if self.peek() is not None:
            self.fail(f"unexpected {self._found()} (the clause should end here)")


def _parse_clause(c: _Clause):
    head = c.peek()
    if head is None:
        return None
    word = c.take_word(*KINDS)
    if word is None:
        hint = difflib.get_close_matches(head[1].lower(), KINDS, n=1)
        tip = f"; did you mean {hint[0]!r}?" if hint else ""
        c.fail(f"unknown fault {head[1]!r}; a clause starts with one of {', '.join(KINDS)}{tip}")
    try:
        if word == "crash":
            node = c.name("a node name", "'crash'")
            c.expect_word("at", after=f"'crash {node}'")
            at = c.number("'at'")
            back = c.end_time("restart")
            c.done()
            return crash(node, at=at, restart=back)
        if word == "pause":
            node = c.name("a node name", "'pause'")
            c.expect_word("at", after=f"'pause {node}'")
            at = c.number("'at'")
            until = c.end_time("until", "resume", required=True)
            c.done()
            return pause(node, at=at, resume=until)  # type: ignore[arg-type]
        if word == "cut":
            src = c.name("a node name", "'cut'")
            arrow = c.peek()
            if arrow is None or arrow[0] != "arrow":
                c.fail(f"expected '->' after 'cut {src}' (write cut {src}->OTHER) but found {c._found()}")
            c.pos += 1
            dst = c.name("a node name", f"'{src}->'")
            c.expect_word("at", after=f"'cut {src}->{dst}'")
            at = c.number("'at'")
            heal = c.end_time("heal")
            c.done()
            return cut(src, dst, at=at, heal=heal)
        # partition
        groups: list[list[str]] = [[c.name("a node name", "'partition'")]]
        while True:
            if c.take_punct(","):
                groups[-1].append(c.name("a node name", f"',' in group {','.join(groups[-1])}"))
            elif c.take_punct("|"):
                groups.append([c.name("a node name", "'|'")])
            else:
                break
        c.expect_word("at", after="the partition's groups")
        at = c.number("'at'")
        heal = c.end_time("heal")
        c.done()
        return partition(*groups, at=at, heal=heal)
    except ValueError as e:
        if str(e).startswith("fault schedule, clause"):
            raise
        c.fail(str(e))


def _names(fault) -> list[str]:
    if isinstance(fault, (CrashFault, PauseFault)):
        return [fault.node]
    if isinstance(fault, CutFault):
        return [fault.src, fault.dst]
    return [n for g in fault.groups for n in g]


def parse_schedule(text: str, nodes: Sequence[str] | None = None) -> FaultSchedule:
    """Parse ``text`` into a :class:`~distlib.sim.FaultSchedule` (empty text or "no faults": none).

    If ``nodes`` is given, every name must be one of them. Raises ``ValueError``
    that names the clause and the offending word.
    """
    if not isinstance(text, str):
        raise ValueError(f"fault schedule must be text (got {type(text).__name__})")
    if text.strip().lower() in ("", "none", "no faults"):
        return FaultSchedule()
    faults = []
    clauses = re.split(r"[;\n]", text)
    index = 0
    for raw in clauses:
        if not raw.strip():
            continue
        index += 1
        clause = _Clause(index, raw)
        fault = _parse_clause(clause)
        if nodes is not None:
            for name in _names(fault):
                if name not in nodes:
                    clause.fail(f"unknown node {name!r}; the nodes are {', '.join(nodes)}")
        # A node in two groups and a cut from a node to itself are refused by partition()/cut().
        faults.append(fault)
    return FaultSchedule(faults)


def _num(x: float) -> str:
    """The shortest text that reads back as exactly ``x`` (3.0 -> "3")."""
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


def format_schedule(schedule: FaultSchedule) -> str:
    """The text form of ``schedule``; ``parse_schedule(format_schedule(s)) == s`` exactly."""
    parts = []
    for f in schedule:
        if isinstance(f, CrashFault):
            parts.append(f"crash {f.node} at {_num(f.at)}" + (f" restart {_num(f.restart)}"
                                                               if f.restart is not None else ""))
        elif isinstance(f, PauseFault):
            parts.append(f"pause {f.node} at {_num(f.at)} until {_num(f.resume)}")
        elif isinstance(f, PartitionFault):
            groups = " | ".join(",".join(g) for g in f.groups)
            parts.append(f"partition {groups} at {_num(f.at)}" + (f" heal {_num(f.heal)}"
                                                                  if f.heal is not None else ""))
        elif isinstance(f, CutFault):
            parts.append(f"cut {f.src}->{f.dst} at {_num(f.at)}" + (f" heal {_num(f.heal)}"
                                                                    if f.heal is not None else ""))
        else:
            raise ValueError(f"schedule holds a fault this text form cannot express: {f!r}")
    return "; ".join(parts)


def as_schedule(faults: FaultSchedule | str | None, nodes: Sequence[str]) -> FaultSchedule:
    """The ``faults`` argument of a ``run_*`` function as a schedule over ``nodes``: None (no faults),
    a :class:`~distlib.sim.FaultSchedule`, or its text form (``"crash n1 at 1; cut n2->n3 at 2"``).

    Every node a fault names must be one of ``nodes``, checked now rather than when the run
    reaches the fault.
    """
    if faults is None:
        return FaultSchedule()
    if isinstance(faults, str):
        return parse_schedule(faults, list(nodes))
    if not isinstance(faults, FaultSchedule):
        raise ValueError("faults must be None, a distlib.sim.FaultSchedule or fault-schedule text such as "
                         f"'crash n1 at 1' (got {type(faults).__name__} {faults!r})")
    for fault in faults:
        for name in _names(fault):
            if name not in nodes:
                raise ValueError(f"faults name unknown node {name!r} in '{fault}'; the nodes are "
                                 f"{', '.join(nodes)}")
    return faults
