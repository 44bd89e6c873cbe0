"""Checker of the sharded key-value store (:mod:`distlib.partitioning.sharded_kv`).

It reads the client-visible history and the nodes' durable storage at the end of a run:

1. **The rebalancing finished** and the shard map is the one the plan implies (computed here
   from the plan, not read from the protocol).
2. **Every key ends on exactly its owner**: a key held by a node that does not own its shard,
   or by two nodes, is a violation (a migration that copied but never deleted, or a stray).
3. **No acknowledged write lost or duplicated.** Put values are unique, so the final value of
   a key names the write it came from. Let W be that write. It is acceptable iff no
   *acknowledged* write on the key was invoked after W completed (W's completion is "never"
   if W timed out: it may have landed at any time). Otherwise that later acknowledged write was
   lost, or W was applied again after it (a duplicate). A key with an acknowledged write must
   exist at its owner.
4. **Reads**: the whole history is linearizable per key (a single owner serves each key at a
   time, so it must be); Unknown (budget exhausted) is reported, never passed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distlib.partitioning.sharded_kv import ShardedRun


def _writes(run: ShardedRun) -> dict[str, list[tuple[Any, float, float, str]]]:
    """Per key: (value, invoked, completed or inf, "ok"/"info") of every write."""
    out: dict[str, list[tuple[Any, float, float, str]]] = {}
    for inv, done in run.history.pairs():
        if inv.f != "write" or (done is not None and done.type == "fail"):
            continue
        end = done.time if done is not None and done.type == "ok" else math.inf
        out.setdefault(inv.key, []).append((inv.value, inv.time, end, "ok" if end < math.inf else "info"))
    return out


def check_sharding(run: ShardedRun, *, max_steps: int = 500_000) -> list[str]:
    """Violations of the sharded store's guarantees in ``run`` (an empty list: none found)."""
    from distlib.check.linearizability import check_linearizability
    from distlib.check.models import KVStore
    from distlib.partitioning.sharded_kv import shard_of

    problems: list[str] = []
    if not run.finished():
        problems.append("rebalancing did not finish: the plan's moves are still pending at the end")
    final = run.final_map().owners
    expected = run.expected_owners()
    wrong = [s for s in range(run.shards) if final[s] != expected[s]]
    if wrong:
        problems.append(f"shard map disagrees with the plan for shards {wrong}: "
                        + ", ".join(f"s{s} on {final[s]}, should be {expected[s]}" for s in wrong[:4]))

    holders: dict[str, list[str]] = {}
    holdings = run.holdings()
    for node, held in holdings.items():
        for key in held:
            holders.setdefault(key, []).append(node)
    for key, nodes in sorted(holders.items()):
        owner = expected[shard_of(key, run.shards)]
        if nodes != [owner]:
            problems.append(f"key {key!r} is held by {', '.join(nodes)}; its owner is {owner} only")

    for key, writes in sorted(_writes(run).items()):
        owner = expected[shard_of(key, run.shards)]
        present = key in holdings.get(owner, {})
        value = holdings[owner][key] if present else None
        acked = [w for w in writes if w[3] == "ok"]
        if not present:
            if acked:
                problems.append(f"acknowledged write {key}={acked[-1][0]!r} lost: {key!r} is missing on "
                                f"its owner {owner}")
            continue
        origin = [w for w in writes if w[0] == value]
        if not origin:
            problems.append(f"{key!r} ends as {value!r}, a value no client wrote")
            continue
        _, _, w_end, _ = origin[0]
        later = [w for w in acked if w[1] > w_end]
        if later:
            lost = later[-1]
            problems.append(f"acknowledged write {key}={lost[0]!r} (at t={lost[1]:.3f}) lost: {key!r} ends "
                            f"as {value!r}, written before it (lost, or applied again after it)")

    verdict = check_linearizability(run.history, KVStore(None), max_steps=max_steps)
    if not verdict.ok:
        problems.append(f"linearizability: {verdict.verdict}: {verdict.reason}")
    return problems
