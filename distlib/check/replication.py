"""Checker of the Dynamo-style store (:mod:`distlib.storage.dynamo`).

It reads the nodes' durable storage at the end of a run (after faults healed and hinted handoff
and anti-entropy had time to work), the acknowledged writes the clients recorded, and the history:

0. **Durability** (recorded by the run's monitor): after every restart each acknowledged write
   is still held, in data or hints, by at least W nodes.
1. **Convergence**: every key's N preference-list replicas hold the same copy, no other node
   holds the key, and no hint is left undelivered.
2. **No acknowledged write lost** (version vectors): every acked put's dot is still present in
   the final copy, or knowingly overwritten by a version whose context covers it.
3. **Siblings preserve concurrent writes**: the final copy is an antichain (no version there
   obsoletes another) and a lost acked write that is concurrent with a surviving version is
   named as such (a sibling set must have kept both).
4. **LWW**: losses are the expected lesson, so they are *counted* (:func:`lww_losses`), not
   reported -- unless ``lww_losses_allowed=False``.
5. **Linearizability** for the strict configuration (``Config.strict``: R + W > N, no sloppy
   quorum, LWW on synchronized clocks, reads written back): the history against a KV register per
   key. Unknown (budget exhausted) is reported, never passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distlib.storage.dynamo import DynamoRun


def written_keys(run: DynamoRun) -> list[str]:
    keys = {inv.key for inv, _ in run.history.pairs() if inv.f == "write"}
    for node in run.members:
        keys.update(run.world.storage[node].get("data", {}))
    return sorted(keys)


def check_convergence(run: DynamoRun) -> list[str]:
    problems = []
    for key in written_keys(run):
        pref = run.preference(key)
        copies = run.copies(key)
        strays = sorted(set(copies) - set(pref))
        if strays:
            problems.append(f"{key!r} is held by {', '.join(strays)}, outside its preference list {pref}")
        seen = {n: copies.get(n, ()) for n in pref}
        if len(set(seen.values())) > 1:
            parts = "; ".join(f"{n}: {[getattr(v, 'value', v) for v in c]}" for n, c in seen.items())
            problems.append(f"replicas of {key!r} did not converge: {parts}")
    left = run.hints_left()
    if left:
        problems.append(f"{left} hinted version(s) never handed back to their intended replica")
    return problems


def final_copy(run: DynamoRun, key: str) -> tuple:
    """The merge of every preference-list replica's copy of ``key`` (what a full read would see)."""
    from distlib.storage.dynamo import merge_stored
    out: tuple = ()
    for copy in run.copies(key).values():
        out = merge_stored(run.config.mode, out, copy)
    return out


def check_vv(run: DynamoRun) -> list[str]:
    from distlib.storage.versions import covers, reconcile
    problems = []
    for key in written_keys(run):
        for node, copy in sorted(run.copies(key).items()):
            if reconcile(copy) != copy:
                problems.append(f"{node}'s siblings of {key!r} are not an antichain: {copy}")
    for w in run.acked:
        final = final_copy(run, w.key)
        if covers(final, w.version.dot):
            continue
        concurrent = [v for v in final if not w.version.obsoletes(v)]
        why = (f" (concurrent with surviving {', '.join(repr(v.value) for v in concurrent)}: siblings must "
               f"keep both)" if concurrent else "")
        problems.append(f"acknowledged write {w.key}={w.value!r} (dot {w.version.dot}, acked at "
                        f"t={w.done:.3f}) lost{why}")
    return problems


def lww_losses(run: DynamoRun) -> dict[str, Any]:
    """Acknowledged LWW writes missing from the final state, classified against the write ``u``
    whose value survived: ``skew`` if ``u`` finished before the lost write began (only a clock
    that runs ahead makes an older write win), ``concurrent`` if they overlapped (a sibling set
    would have kept both). A write overwritten by one that began after it ended is not lost."""
    origin: dict[tuple[str, Any], tuple[float, float]] = {}
    for inv, done in run.history.pairs():
        if inv.f == "write":
            end = done.time if done is not None and done.type == "ok" else float("inf")
            origin[(inv.key, inv.value)] = (inv.time, end)
    out: dict[str, Any] = {"acked": len(run.acked), "skew": 0, "concurrent": 0, "examples": []}
    for w in run.acked:
        final = final_copy(run, w.key)
        if not final or final[0].value == w.value:
            if not final:
                out["concurrent"] += 1
            continue
        u_start, u_end = origin.get((w.key, final[0].value), (float("-inf"), float("inf")))
        if u_start > w.done:
            continue
        kind = "skew" if u_end < w.invoked else "concurrent"
        out[kind] += 1
        if len(out["examples"]) < 3:
            out["examples"].append(f"{w.key}={w.value!r} (acked t={w.done:.3f}) lost to {final[0].value!r} "
                                   f"({kind})")
    out["lost"] = out["skew"] + out["concurrent"]
    return out


def check_replication(run: DynamoRun, *, lww_losses_allowed: bool = True, linearizable: bool | None = None,
                      max_steps: int = 500_000) -> list[str]:
    """Violations in ``run`` (an empty list: none found). ``linearizable`` defaults to
    ``run.config.strict``."""
    problems = check_convergence(run) + run.under_replicated[:3]
    if run.config.mode == "vv":
        problems += check_vv(run)
    elif not lww_losses_allowed:
        losses = lww_losses(run)
        if losses["lost"]:
            problems.append(f"LWW lost {losses['lost']} acknowledged write(s): "
                            + "; ".join(losses["examples"]))
    if linearizable is None:
        linearizable = run.config.strict
    if linearizable:
        from distlib.check.linearizability import check_linearizability
        from distlib.check.models import KVStore
        verdict = check_linearizability(run.history, KVStore(None), max_steps=max_steps)
        if not verdict.ok:
            problems.append(f"linearizability: {verdict.verdict}: {verdict.reason}")
    return problems


__all__ = ["check_convergence", "check_replication", "check_vv", "final_copy", "lww_losses", "written_keys"]
