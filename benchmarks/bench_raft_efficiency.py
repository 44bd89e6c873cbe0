"""Raft's message efficiency: AppendEntries per committed entry, messages under churn, wasted snapshots.

    .venv/bin/python benchmarks/bench_raft_efficiency.py              # 50 seeds each
    .venv/bin/python benchmarks/bench_raft_efficiency.py --seeds 10   # quick

1. **Sequential commands** on three servers and a reliable network, after a leader is elected: ten
   commands, each submitted when the previous one is done. Two meanings of "done": committed at the
   leader (a client got its answer), and applied on every server (what a widely used lab test suite
   waits for before its next command; its budget is 42 RPCs for the ten). Printed: AppendEntries
   deliveries per committed entry per follower, and the total per ten commands against that budget,
   for latency 5-15 ms and for a constant 10 ms.
2. **Churn**: five servers, 10 simulated seconds, six random crashes/partitions, a command every
   10 ms to every server that believes it leads, with snapshots every 8 entries (as the fault sweep)
   and without. Printed: messages and AppendEntries per committed entry, messages per simulated second.
3. **Snapshots**: three servers compacting every 8 entries, no faults, a command every 10 ms for
   3 s. Printed: InstallSnapshot messages in all, and to a follower that already held the entries.
4. **Flapping network** (:func:`distlib.consensus.raft.flapping`, a simulated minute): leader changes
   per minute without and with PreVote / CheckQuorum (thesis §9.6).
5. **Reads** (:func:`distlib.consensus.raft_kv.read_cost`): messages between servers per ``get`` for
   reads through the log, ReadIndex and leases, with one and with four clients.

The scenarios of 1 and 2 are :func:`distlib.consensus.raft.sequential_commands` and
:func:`distlib.consensus.raft.churn`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

from distlib.consensus.raft import (
    LEADER,
    InstallSnapshot,
    RaftNode,
    churn,
    flapping,
    make_cluster,
    sequential_commands,
)
from distlib.consensus.raft_kv import read_cost
from distlib.sim import Deliver, World


def _leader(world: World) -> RaftNode | None:
    best = None
    for name, node in world.nodes.items():
        if world.status[name] == "up" and node.role == LEADER:
            if best is None or node.current_term > best.current_term:
                best = node
    return best


def snapshots(seed: int, duration: float = 3.0) -> tuple[int, int]:
    """(InstallSnapshot deliveries, those to a follower that already held the snapshot's last entry)."""
    wasted = [0]

    class Counting(RaftNode):
        def on_message(self, src: str, msg: Any) -> None:
            if isinstance(msg, InstallSnapshot) and msg.term == self.current_term:
                if self.term_at(msg.last_included_index) == msg.last_included_term \
                        or self.commit_index >= msg.last_included_index:
                    wasted[0] += 1
            super().on_message(src, msg)

    world = make_cluster(3, seed=seed, cls=Counting, snapshot_threshold=8)

    def proposer():
        k = 0
        while True:
            yield world.env.timeout(0.01)
            node = _leader(world)
            if node is not None:
                k += 1
                node.propose(f"cmd{k}")

    world.process(proposer())
    world.run(until=duration)
    total = sum(1 for r in world.trace.of(Deliver) if isinstance(r.msg, InstallSnapshot))
    return total, wasted[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--churn-seeds", type=int, default=3)
    a = ap.parse_args()
    if a.seeds < 1 or a.churn_seeds < 1:
        ap.error("--seeds and --churn-seeds must be >= 1")

    print(f"[1] ten sequential commands, 3 servers, reliable network, {a.seeds} seeds")
    print(f"    {'latency':>12} {'next command when':>22} {'AE/entry/follower':>18} "
          f"{'AE per 10 (min-max)':>20} {'> 42':>5}")
    for label, latency in (("5-15 ms", (0.005, 0.015)), ("10 ms const", 0.01)):
        for wait, what in (("leader", "committed at leader"), ("all", "applied everywhere")):
            stats = [sequential_commands(s, latency=latency, wait=wait).stats for s in range(a.seeds)]
            per = [st["per_entry"] for st in stats]
            totals = [st["append"] for st in stats]
            print(f"    {label:>12} {what:>22} {statistics.mean(per):>10.2f} (max {max(per):.2f}) "
                  f"{min(totals):>9}-{max(totals):<10} {sum(1 for t in totals if t > 42):>5}", flush=True)

    print(f"\n[2] churn: 5 servers, 10 s, 6 random crashes/partitions, {a.churn_seeds} seeds")
    for threshold in (8, None):
        rows = [churn(s, snapshot_threshold=threshold).stats for s in range(a.churn_seeds)]
        msgs = sum(r["messages"] for r in rows)
        app = sum(r["append"] for r in rows)
        com = sum(r["committed"] for r in rows)
        secs = 10.0 * len(rows)
        label = f"snapshot every {threshold}" if threshold else "no snapshots"
        print(f"    {label:>17}: messages per committed entry {msgs / com:.1f}; AppendEntries per "
              f"committed entry {app / com:.1f}; messages per simulated second {msgs / secs:,.0f}; "
              f"committed {com}", flush=True)

    print(f"\n[3] snapshots every 8 entries, 3 servers, no faults, {a.seeds} seeds")
    snaps = [snapshots(s) for s in range(a.seeds)]
    print(f"    InstallSnapshot delivered {sum(t for t, _ in snaps)}, to a follower that already had "
          f"the entries {sum(w for _, w in snaps)}", flush=True)

    print(f"\n[4] flapping network, 60 simulated seconds, 5 servers, {a.churn_seeds} seeds: leader changes "
          f"per minute")
    for mode in ("node", "link"):
        for pre_vote, check_quorum in ((False, False), (True, False), (False, True), (True, True)):
            per = [flapping(s, mode=mode, pre_vote=pre_vote, check_quorum=check_quorum).stats["per_minute"]
                   for s in range(a.churn_seeds)]
            label = " + ".join(f for f, on in (("PreVote", pre_vote), ("CheckQuorum", check_quorum)) if on)
            print(f"    {mode:>4} {label or 'plain Raft':>24}: {statistics.mean(per):6.1f} per minute "
                  f"(min {min(per):.0f}, max {max(per):.0f})", flush=True)

    print("\n[5] messages between servers per read, 3 servers, healthy (idle heartbeats included; "
          "'extra' = beyond an idle cluster's)")
    for clients in (1, 4):
        for mode in ("log", "read_index", "lease"):
            c = read_cost(mode, reads=50, clients=clients)
            print(f"    {clients} client(s) {mode:>10}: {c['per_read']:5.2f} per read, extra "
                  f"{c['extra_per_read']:5.2f}; {c['reads'] / c['seconds']:6.0f} reads/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
