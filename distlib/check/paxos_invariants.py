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


def chosen_slots(trace: Trace, acceptors: Iterable[str]) -> dict[int, list[Any]]:
    """Slot -> the values chosen there (a majority of ``acceptors`` sent ``Accepted`` for one ballot).

    One value per slot when Multi-Paxos is safe; a list, so a checker can report a second one.
    """
    acceptors = tuple(acceptors)
    need = len(acceptors) // 2 + 1
    votes: dict[tuple[int, Any], set[str]] = {}
    values: dict[tuple[int, Any], Any] = {}
    for rec in trace.of(Send):
        msg = rec.msg
        if type(msg).__name__ == "Accepted" and hasattr(msg, "slot") and rec.src in acceptors:
            votes.setdefault((msg.slot, msg.n), set()).add(rec.src)
            values[(msg.slot, msg.n)] = msg.v
    chosen: dict[int, list[Any]] = {}
    for key in sorted(votes):
        if len(votes[key]) >= need:
            seen = chosen.setdefault(key[0], [])
            if all(repr(v) != repr(values[key]) for v in seen):
                seen.append(values[key])
    return chosen


def check_acks(trace: Trace, acceptors: Iterable[str]) -> list[str]:
    """Judge Multi-Paxos by what clients were told: every ``ok`` reply names a slot where a majority
    of acceptors accepted exactly that client's command.

    Read from the trace alone: a client's ``Request(req_id, command)`` sends say what it asked for,
    the servers' ``Reply(req_id, ok=True, slot)`` sends what it was told, and the acceptors'
    ``Accepted`` sends what was chosen (:func:`chosen_slots`). An ack for a slot that holds a no-op or
    another command — or that nothing was chosen in yet — is a lie to that client.
    """
    acceptors = tuple(acceptors)
    chosen = chosen_slots(trace, acceptors)
    asked: dict[str, Any] = {}
    out: list[str] = []
    for rec in trace.of(Send):
        msg, kind = rec.msg, type(rec.msg).__name__
        if kind == "Request" and rec.src not in acceptors:
            asked[msg.req_id] = msg.command
        elif kind == "Reply" and getattr(msg, "ok", False) and msg.req_id in asked:
            command = asked[msg.req_id]
            there = chosen.get(msg.slot, [])
            if not any(repr(v) == repr(command) for v in there):
                what = ", ".join(repr(v) for v in there) or "nothing chosen yet"
                out.append(f"{rec.src} told {rec.dst} at t={rec.time:.3f} that {command!r} ({msg.req_id}) is "
                           f"in slot {msg.slot}, but slot {msg.slot} holds {what}")
    return out


def check_multipaxos(run: Any) -> list[str]:
    """Per-slot agreement (from acceptors' ``Accepted`` sends), prefix-agreement of applied logs, and
    every ``ok`` told to a client names the slot its command was chosen in (:func:`check_acks`)."""
    world = run.world
    acceptors = tuple(sorted(world.nodes))
    chosen = chosen_slots(world.trace, acceptors)
    out = [f"slot {slot}: more than one value chosen ({', '.join(sorted(map(repr, vs)))})"
           for slot, vs in sorted(chosen.items()) if len(vs) > 1]
    logs = run.logs
    names = sorted(logs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = min(len(logs[a]), len(logs[b]))
            if logs[a][:common] != logs[b][:common]:
                out.append(f"{a} and {b} applied different commands in their common prefix")
    return out + check_acks(world.trace, acceptors)


# ---- the same properties for the model checker (distlib.check.explore) ---------------------------
MODEL_LEARNER = "learner"   # a name outside the cluster: acceptors' Accepted sends pile up there


def paxos_model(classes: dict[str, type] | None = None, *, max_round: dict[str, int] | int = 1,
                full_contact: bool = False) -> dict[str, tuple[type, dict[str, Any]]]:
    """Node specs for :func:`distlib.check.explore.explore`: acceptors n1..n3, proposers n1 ("A"), n2 ("B").

    Why the model is shaped like this:

    - **History variable.** Agreement is a property of the *past* ("two different values were each
      accepted by a majority at some time"), but a state holds only each acceptor's latest
      acceptance. So acceptors announce ``Accepted`` to :data:`MODEL_LEARNER`, a name outside the
      cluster; the explorer keeps such messages in ``view.outputs`` for ever, never delivers or drops
      them. That list is a TLA+-style history variable: every (acceptor, ballot, value) ever accepted.
    - **Finite.** ``max_round`` caps each proposer's ballot rounds (per node, or one int for both).
    - **Small.** By default each proposer addresses a fixed majority — n1 asks {n1, n2}, n2 asks
      {n2, n3} — which Lamport allows ("sends a request to each member of some set of acceptors",
      §2.2); two of three is a majority, and the two sets meet only in n2. ``full_contact=True``
      makes both address all three acceptors (about 300 times more states).
    """
    from distlib.consensus.paxos import PaxosNode

    names = ("n1", "n2", "n3")
    proposals = {"n1": "A", "n2": "B"}
    quorum = {"n1": ("n1", "n2"), "n2": ("n2", "n3")}
    rounds = max_round if isinstance(max_round, dict) else {n: max_round for n in proposals}
    for n, r in rounds.items():
        if n not in proposals:
            raise ValueError(f"max_round names {n!r}, which is not a proposer (n1, n2)")
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"max_round[{n!r}] must be an integer >= 1 (got {r!r})")
    specs: dict[str, tuple[type, dict[str, Any]]] = {}
    for n in names:
        cls = (classes or {}).get(n, PaxosNode)
        config: dict[str, Any] = {"learners": (MODEL_LEARNER,)}
        if n in proposals:
            config.update(proposal=proposals[n], propose_at=0.0, max_round=rounds.get(n, 1))
            if not full_contact:
                config["acceptors"] = quorum[n]
        specs[n] = (cls, config)
    return specs


def chosen_in_view(view: Any, acceptors: Iterable[str] = ("n1", "n2", "n3")) -> dict[Any, Any]:
    """Ballot -> value for every ballot a majority accepted, from a model-checker state's history.

    Reads the ``Accepted`` announcements in ``view.outputs`` (see :func:`paxos_model`).
    """
    acceptors = tuple(acceptors)
    need = len(acceptors) // 2 + 1
    accepted: dict[Any, set[str]] = {}
    values: dict[Any, Any] = {}
    for m in view.outputs:
        if type(m.msg).__name__ == "Accepted" and m.src in acceptors:
            accepted.setdefault(m.msg.n, set()).add(m.src)
            values[m.msg.n] = m.msg.v
    return {n: values[n] for n in sorted(accepted) if len(accepted[n]) >= need}


def model_invariants(proposed: Iterable[Any] = ("A", "B")) -> dict[str, Any]:
    """Agreement and validity as predicates over a model-checker :class:`StateView`."""
    proposed = tuple(proposed)

    def agreement(view: Any) -> bool | str:
        chosen = chosen_in_view(view)
        if len({repr(v) for v in chosen.values()}) > 1:
            return "two values chosen: " + ", ".join(f"{v!r} at ballot {n!r}" for n, v in chosen.items())
        return True

    def validity(view: Any) -> bool | str:
        for n, v in chosen_in_view(view).items():
            if v not in proposed:
                return f"{v!r} chosen at ballot {n!r} was never proposed"
        return True

    return {"agreement": agreement, "validity": validity}


# ---- the Multi-Paxos key-value store, judged by its clients' history ---------------------------------
def check_multipaxos_kv(run: Any, *, max_steps: int = 2_000_000) -> list[str]:
    """Violations in a :class:`~distlib.consensus.multipaxos_kv.MultiPaxosKVRun`.

    :func:`check_multipaxos` (per-slot agreement, prefix-equal applied logs), then what the clients
    saw: the history must be linearizable for a key-value store with append (an ``Unknown`` verdict
    is reported too — it never passes), and exactly-once — no append took effect twice in the final
    store, no acknowledged append is missing.
    """
    from distlib.check.linearizability import check_linearizability
    from distlib.check.raft_invariants import AppendKVStore, check_exactly_once

    out = check_multipaxos(run)
    history = run.world.history
    lin = check_linearizability(history, AppendKVStore(), max_steps=max_steps)
    if not lin.ok:
        out.append(f"linearizability: {lin.verdict}: {lin.reason}")
    out += [f"exactly-once: {p}" for p in check_exactly_once(history, run.data)]
    return out
