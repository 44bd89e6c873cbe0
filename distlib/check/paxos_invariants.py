"""Paxos safety, read from the trace (Lamport, "Paxos Made Simple", §2.1).

- **Agreement**: at most one value is chosen. A value is chosen when a majority of
  acceptors accepted the same proposal; an acceptor's ``Accepted(n, v)`` sends in
  the trace say what it accepted and when.
- **Validity**: only a proposed value may be chosen.
- **Learners agree**: every node that learned a value learned the chosen one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from distlib.sim import Send, Trace


def chosen_values(trace: Trace, acceptors: Iterable[str]) -> dict[Any, Any]:
    """Ballot -> value for every ballot a majority of ``acceptors`` accepted."""
    acceptors = tuple(acceptors)
    need = len(acceptors) // 2 + 1
    accepted: dict[Any, set[str]] = {}
    values: dict[Any, Any] = {}
    for rec in trace.of(Send):
        msg = rec.msg
        if type(msg).__name__ == "Accepted" and rec.src in acceptors:
            accepted.setdefault(msg.n, set()).add(rec.src)
            values[msg.n] = msg.v
    return {n: values[n] for n in sorted(accepted) if len(accepted[n]) >= need}


def check_paxos(run: Any) -> list[str]:
    """Violations of agreement, validity and learner agreement in a :class:`PaxosRun`."""
    world = run.world
    acceptors = sorted(world.nodes)
    chosen = chosen_values(world.trace, acceptors)
    out: list[str] = []
    distinct = sorted({repr(v) for v in chosen.values()})
    if len(distinct) > 1:
        detail = ", ".join(f"{v!r} at ballot {n!r}" for n, v in chosen.items())
        out.append(f"agreement violated: more than one value chosen ({detail})")
    proposed = set(map(repr, run.proposals.values()))
    for n, v in chosen.items():
        if repr(v) not in proposed:
            out.append(f"validity violated: {v!r} chosen at ballot {n!r} was never proposed")
    if len(distinct) == 1:
        value = next(iter(chosen.values()))
        for name, learned in run.learned.items():
            if learned is not None and learned != value:
                out.append(f"{name} learned {learned!r} but {value!r} was chosen")
    return out


def check_multipaxos(run: Any) -> list[str]:
    """Per-slot agreement (from acceptors' ``Accepted`` sends) and prefix-agreement of applied logs."""
    world = run.world
    acceptors = tuple(sorted(world.nodes))
    need = len(acceptors) // 2 + 1
    votes: dict[tuple[int, Any], set[str]] = {}
    values: dict[tuple[int, Any], Any] = {}
    for rec in world.trace.of(Send):
        msg = rec.msg
        if type(msg).__name__ == "Accepted" and hasattr(msg, "slot") and rec.src in acceptors:
            votes.setdefault((msg.slot, msg.n), set()).add(rec.src)
            values[(msg.slot, msg.n)] = msg.v
    chosen: dict[int, set[str]] = {}
    for key in sorted(votes):
        if len(votes[key]) >= need:
            chosen.setdefault(key[0], set()).add(repr(values[key]))
    out = [f"slot {slot}: more than one value chosen ({', '.join(sorted(vs))})"
           for slot, vs in sorted(chosen.items()) if len(vs) > 1]
    logs = run.logs
    names = sorted(logs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = min(len(logs[a]), len(logs[b]))
            if logs[a][:common] != logs[b][:common]:
                out.append(f"{a} and {b} applied different commands in their common prefix")
    return out
