"""2PC vs 3PC vs Paxos Commit, measured from runs (chapter 04's comparison table).

Every cell comes from simulated runs, none from prose: the normal case on constant 10 ms links
(messages, forced log writes, message delays), the coordinator crash at 2PC's blocking point, a
partition that splits the coordinator's side from the rest while the decision is being made, and
a seed sweep under random partitions. Sagas (chapter 05, :mod:`distlib.transactions.saga`) give up
isolation instead and are compared there.
"""

from __future__ import annotations

from typing import Any

from distlib.sim import FaultSchedule, partition
from distlib.sim.validate import integer

PROTOCOLS = ("2PC", "3PC", "Paxos Commit")


def _normal(name: str, n: int, f: int) -> Any:
    """A failure-free commit on constant links with short forced writes (see paxos_commit.LINK)."""
    from . import paxos_commit, threepc, twopc
    from .paxos_commit import LINK, WRITE
    from .threepc import _configured
    if name == "2PC":
        return twopc.build_2pc(0, n, latency=LINK,
                               coordinator_cls=_configured(twopc.Coordinator, log_delay=WRITE),
                               participant_cls=_configured(twopc.Participant, log_delay=WRITE)).run(2.0)
    if name == "3PC":
        return threepc.run_3pc(seed=0, participants=n, latency=LINK, log_delay=WRITE)
    return paxos_commit.run_paxos_commit(0, n, f, latency=LINK, log_delay=WRITE)


def _coordinator_crash(name: str, n: int, f: int) -> Any:
    from . import paxos_commit, threepc, twopc
    until = 1.9   # before 2PC's coordinator restarts (twopc.blocking_scenario.RESTART_AT = 2)
    if name == "2PC":
        return twopc.blocking_scenario(seed=0, participants=n, until=until)
    if name == "3PC":
        return threepc.crash_scenario(seed=0, participants=n, until=until)
    return paxos_commit.blocking_scenario(seed=0, f=f, participants=n, until=until)


def _partition(name: str, n: int, f: int) -> Any:
    """The coordinator's side {coordinator, p1} is cut from the rest just after the votes are in."""
    from . import paxos_commit, threepc, twopc
    from .threepc import PARTITION_AT
    rest = [f"p{i}" for i in range(2, n + 1)]
    if name == "Paxos Commit":
        accs = [f"a{i}" for i in range(2, 2 * f + 2)]
        faults = FaultSchedule([partition(["a1", "p1"], accs + rest, at=PARTITION_AT)])
        return paxos_commit.run_paxos_commit(0, n, f, latency=0.01, faults=faults)
    faults = FaultSchedule([partition(["coord", "p1"], rest, at=PARTITION_AT)])
    if name == "2PC":
        return twopc.run_2pc(seed=0, participants=n, latency=0.01, faults=faults)
    return threepc.run_3pc(seed=0, participants=n, latency=0.01, faults=faults)


def _random_partitions(name: str, seed: int, n: int, f: int) -> Any:
    """One partition into two random non-empty sides, starting while the transaction is being
    decided (t in [0, 0.08)) and lasting 1-2.5 time units -- longer than every timeout."""
    from distlib.sim.rng import stream

    from . import paxos_commit, threepc, twopc
    ps = [f"p{i}" for i in range(1, n + 1)]
    nodes = [f"a{i}" for i in range(1, 2 * f + 2)] + ps if name == "Paxos Commit" else ["coord"] + ps
    rng = stream(seed, "compare/partition")
    side = [x for x in nodes if rng.random() < 0.5] or nodes[:1]
    if len(side) == len(nodes):
        side = side[:-1]
    at = round(rng.uniform(0.0, 0.08), 4)
    faults = FaultSchedule([partition(side, [x for x in nodes if x not in side], at=at,
                                      heal=round(at + rng.uniform(1.0, 2.5), 3))])
    if name == "2PC":
        return twopc.run_2pc(seed=seed, participants=n, faults=faults, until=6.0)
    if name == "3PC":
        return threepc.run_3pc(seed=seed, participants=n, faults=faults, until=6.0)
    return paxos_commit.run_paxos_commit(seed, n, f, faults=faults, until=6.0)


def comparison_table(participants: int = 3, f: int = 1, seeds: int = 200) -> list[dict[str, Any]]:
    """One row per protocol (``PROTOCOLS``), measured:

    ``messages``, ``forced_writes`` and ``message_delays`` of a failure-free commit (from the
    coordinator's start); ``coordinator_crash``: what the participants do when the coordinator
    (Paxos Commit: the leader) crashes with every vote in -- "blocked" or the outcome they reached
    without it; ``partition``: the outcome when {coordinator, p1} is cut off while deciding
    ("mixed" = agreement lost); ``partition_sweep``: seeds with a violation / seeds blocked at the
    end, over ``seeds`` runs each with one random two-sided partition during the decision that
    outlasts the timeouts and then heals (the same generator for all three; :func:`_random_partitions`).
    """
    from distlib.check.atomic import check_atomic_commitment

    from .paxos_commit import _critical_path
    from .twopc import log_cost

    n = integer("participants", participants, 2, 9)
    f = integer("f", f, 0, 3)
    seeds = integer("seeds", seeds, 1)
    rows = []
    for name in PROTOCOLS:
        normal = _normal(name, n, f)
        cost = log_cost(normal)
        delays, _writes = _critical_path(normal)
        crashed = _coordinator_crash(name, n, f)
        split = _partition(name, n, f)
        bad = blocked = 0
        for s in range(seeds):
            run = _random_partitions(name, s, n, f)
            bad += bool(check_atomic_commitment(run))
            blocked += bool([p for p in run.blocked if run.world.is_up(p)])
        rows.append({
            "protocol": name,
            "messages": cost["messages"],
            "forced_writes": cost["forced_writes"],
            "message_delays": delays,
            "coordinator_crash": crashed.outcome,
            "partition": split.outcome,
            "partition_violations": split.violations,
            "partition_sweep": f"{bad} violations, {blocked} blocked / {seeds} seeds",
        })
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table (for a notebook's compared output or a terminal)."""
    cols = ("protocol", "messages", "forced_writes", "message_delays", "coordinator_crash", "partition",
            "partition_sweep")
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(lines)
