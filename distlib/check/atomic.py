"""Atomic commitment: the safety properties of two-phase commit, as plain predicates.

The properties (Gray 1978; Lamport & Gray, "Consensus on Transaction Commit", 2006, whose
TLA+ specs TCommit/TwoPhase state the first one as the invariant ``TCConsistent``):

1. **Agreement** -- no node commits a transaction while another aborts it (participants and
   the coordinator alike).
2. **Validity** -- a transaction commits only if every participant voted yes (and none voted
   no) before the first commit.
3. **Stability** -- a decision, once taken, is never reversed.

The checker reads only ground truth: each node's durable log (``storage["log"]``) and the
messages nodes actually sent (the trace). Votes come from the ``Vote`` messages participants
sent, never from the coordinator's own bookkeeping, so a coordinator that miscounts is caught.
"""

from __future__ import annotations

from typing import Any

from distlib.transactions.twopc import (
    Aborted,
    Committed,
    Decision,
    DecisionReply,
    Outcome,
    Prepare,
    Started,
    Vote,
)

_DECISION_MSGS = (Decision, DecisionReply, Outcome)


def _word(commit: bool) -> str:
    return "commit" if commit else "abort"


def check_atomic_commitment(run_or_world: Any) -> list[str]:
    """Violations of atomic commitment in a 2PC run (a :class:`TwoPCRun` or a ``World``).

    Returns readable messages naming the transaction and the nodes; ``[]`` means no violation.
    """
    world = getattr(run_or_world, "world", run_or_world)
    storage: dict[str, dict] = world.storage
    records = world.trace.records

    participants: dict[int, set[str]] = {}
    # (node, tx) -> decisions that node declared, in order, each as (commit, "how")
    declared: dict[tuple[str, int], list[tuple[bool, str]]] = {}
    # first commit seen anywhere, per tx: (time or None for a log record, node)
    first_commit_time: dict[int, float] = {}
    votes: dict[tuple[str, int], list[tuple[float, bool]]] = {}

    for node in sorted(storage):
        for rec in storage[node].get("log", ()):
            if isinstance(rec, Started):
                participants.setdefault(rec.tx, set()).update(rec.participants)
            elif isinstance(rec, (Committed, Aborted)):
                declared.setdefault((node, rec.tx), []).append(
                    (isinstance(rec, Committed), f"logged {type(rec).__name__}"))

    for r in records:
        if r.kind != "send":
            continue
        msg = r.msg
        if isinstance(msg, Prepare):
            participants.setdefault(msg.tx, set()).update(msg.participants or (r.dst,))
        elif isinstance(msg, Vote):
            votes.setdefault((r.src, msg.tx), []).append((r.time, msg.yes))
        elif isinstance(msg, _DECISION_MSGS):
            declared.setdefault((r.src, msg.tx), []).append(
                (msg.commit, f"sent {type(msg).__name__}({_word(msg.commit)}) to {r.dst} at t={r.time:g}"))
            if msg.commit and msg.tx not in first_commit_time:
                first_commit_time[msg.tx] = r.time

    out: list[str] = []
    txs = sorted({tx for (_n, tx) in declared} | set(participants))
    for tx in txs:
        nodes = sorted(n for (n, t) in declared if t == tx)
        # 3. stability: one node, one decision
        steady = []
        for n in nodes:
            seq = declared[(n, tx)]
            flip = next((d for d in seq if d[0] != seq[0][0]), None)
            if flip is None:
                steady.append(n)
            else:
                out.append(f"tx {tx}: {n} decided both ways: it {seq[0][1]} and {flip[1]}")
        # 1. agreement (TCConsistent), among nodes that stuck to one decision
        committers = [n for n in steady if declared[(n, tx)][0][0]]
        aborters = [n for n in steady if not declared[(n, tx)][0][0]]
        if committers and aborters:
            out.append(f"tx {tx}: atomic commitment broken: {', '.join(committers)} committed but "
                       f"{', '.join(aborters)} aborted")
        committers = [n for n in nodes if any(c for c, _ in declared[(n, tx)])]
        # 2. validity: commit needs every participant's yes vote, sent before the first commit
        if committers:
            t_commit = first_commit_time.get(tx)
            for p in sorted(participants.get(tx, ())):
                cast = votes.get((p, tx), [])
                before = [yes for (t, yes) in cast if t_commit is None or t <= t_commit]
                if any(not yes for yes in before):
                    out.append(f"tx {tx}: committed (by {', '.join(committers)}) although {p} voted no")
                elif not before:
                    out.append(f"tx {tx}: committed (by {', '.join(committers)}) but {p} never voted yes")
    return out


def atomic_commitment_invariant(view: Any) -> bool | str:
    """Agreement and stability over the durable logs of one model-checker state.

    ``view`` is a :class:`distlib.check.explore.StateView` (``view.states[node]["storage"]``);
    returns True or a message. Validity needs the sent votes, which a single state does not
    keep, so it is checked on simulated runs by :func:`check_atomic_commitment`.
    """
    decided: dict[int, dict[str, set[bool]]] = {}
    for node in sorted(view.states):
        for rec in view.states[node].get("storage", {}).get("log", ()):
            if isinstance(rec, (Committed, Aborted)):
                decided.setdefault(rec.tx, {}).setdefault(node, set()).add(isinstance(rec, Committed))
    for tx in sorted(decided):
        for node, values in decided[tx].items():
            if len(values) > 1:
                return f"tx {tx}: {node} logged both commit and abort"
        commit = sorted(n for n, v in decided[tx].items() if v == {True})
        abort = sorted(n for n, v in decided[tx].items() if v == {False})
        if commit and abort:
            return f"tx {tx}: {', '.join(commit)} committed but {', '.join(abort)} aborted"
    return True
