"""Measured properties of the placement strategies, as plain data (the chapter plots them).

* :func:`load_stats` -- how evenly keys spread: max/mean and the coefficient of variation (CV,
  standard deviation / mean) of the per-node key counts.
* :func:`imbalance_vs_vnodes` -- the ring's CV as the number of virtual nodes grows. A node with
  ``v`` virtual nodes owns the sum of ``v`` arcs; arc lengths are roughly independent
  exponentials, so its share has CV about ``1/sqrt(v)``. :func:`fit_exponent` fits the measured
  curve's slope on log-log axes (theory: -1/2).
* :func:`keys_moved` / :func:`movement` -- how many keys change owner when a node joins or
  leaves, against the *necessary* count (keys the new node now owns, or the leaving node
  owned) and the *ideal* K/(N+1) on a join and K/N on a leave.

Everything is deterministic: keys are ``"{seed}/key{i}"``, node names fixed per trial.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from distlib.sim.validate import integer

from .hashing import hash_array, np
from .placement import STRATEGIES, Placement, Ring, make_placement

CHANGES = ("join", "leave")


@dataclass(frozen=True)
class LoadStats:
    loads: dict[str, int]       # keys per node, in the placement's node order
    mean: float
    max_over_mean: float
    cv: float                   # coefficient of variation: population std / mean


def _stats(counts: Sequence[float]) -> tuple[float, float, float]:
    mean = sum(counts) / len(counts)
    if mean == 0:
        return 0.0, 0.0, 0.0
    var = sum((c - mean) ** 2 for c in counts) / len(counts)
    return mean, max(counts) / mean, math.sqrt(var) / mean


def _counts(placement: Placement, hashes: Any) -> list[int]:
    idx = placement.lookup(hashes)
    counts = [0] * len(placement.nodes)
    if np is not None:
        return np.bincount(idx, minlength=len(counts)).tolist()
    for i in idx:
        counts[i] += 1
    return counts


def load_stats(placement: Placement, hashes: Any) -> LoadStats:
    """Per-node key counts of ``hashes`` (key hashes, see :func:`~.hashing.hash_array`) and their spread."""
    counts = _counts(placement, hashes)
    mean, mx, cv = _stats(counts)
    return LoadStats(dict(zip(placement.nodes, counts, strict=True)), mean, mx, cv)


def sample_hashes(count: int, seed: int = 0) -> Any:
    """The hashes of ``count`` deterministic keys ``"{seed}/key{i}"``."""
    count = integer("keys", count, 1)
    return hash_array(f"{seed}/key{i}" for i in range(count))


def _names(nodes: int, trial: int) -> list[str]:
    return [f"t{trial}-n{i}" for i in range(1, nodes + 1)]


def imbalance_vs_vnodes(vnodes: Sequence[int] = (1, 2, 5, 10, 20, 50, 100, 200, 500), *, nodes: int = 10,
                        keys: int = 100_000, trials: int = 5, seed: int = 0) -> list[dict[str, float]]:
    """For each vnode count, the ring's load spread averaged over ``trials`` rings.

    Rows: ``vnodes``, ``max_over_mean`` and ``cv`` of key counts (these include the sampling
    noise of ``keys`` keys, about ``sqrt(nodes/keys)``), ``cv_arcs`` (the exact CV of the
    nodes' shares of the circle: the vnode effect alone), ``expected_cv`` = ``1/sqrt(vnodes)``.
    """
    nodes = integer("nodes", nodes, 2)
    trials = integer("trials", trials, 1)
    hashes = sample_hashes(keys, seed)
    rows = []
    for v in vnodes:
        v = integer("vnodes", v, 1)
        mx = cv = cv_arcs = 0.0
        for t in range(trials):
            ring = Ring(_names(nodes, t), vnodes=v)
            st = load_stats(ring, hashes)
            mx += st.max_over_mean
            cv += st.cv
            cv_arcs += _stats(list(ring.arc_shares().values()))[2]
        rows.append({"vnodes": v, "max_over_mean": mx / trials, "cv": cv / trials,
                     "cv_arcs": cv_arcs / trials, "expected_cv": 1 / math.sqrt(v)})
    return rows


def fit_exponent(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ``log(y)`` against ``log(x)``: y ~ x**slope."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"xs and ys must be two sequences of equal length >= 2 "
                         f"(got {len(xs)} and {len(ys)})")
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError("xs must not all be equal")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx


def keys_moved(before: Placement, after: Placement, hashes: Any) -> int:
    """How many of ``hashes`` have a different owner (by name) in ``after`` than in ``before``."""
    a = before.lookup(hashes)
    b = after.lookup(hashes)
    if np is not None:
        names_a = np.array(before.nodes, dtype=object)[a]
        names_b = np.array(after.nodes, dtype=object)[b]
        return int(np.count_nonzero(names_a != names_b))
    return sum(before.nodes[x] != after.nodes[y] for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class Movement:
    kind: str
    change: str
    nodes: int             # cluster size before the change
    keys: int
    moved: float           # keys that changed owner (mean over trials)
    necessary: float       # keys that had to (mean): the joiner's keys after / the leaver's before
    ideal: float           # K/(N+1) on a join, K/N on a leave
    ratio: float           # moved / ideal
    minimal: bool          # moved == necessary in every trial
    fraction: float        # moved / keys

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def movement(kind: str, change: str = "join", *, nodes: int = 10, keys: int = 100_000, trials: int = 5,
             leaver: int = -1, seed: int = 0, **options: Any) -> Movement:
    """Keys moved when one node joins (``change="join"``) or leaves a ``nodes``-node cluster.

    ``leaver`` is the index of the node that leaves (default -1: the one that joined last; for
    jump hash any other index costs about twice the minimum). ``options`` go to the strategy
    (``vnodes``, ``eps``). Each trial uses other node names; the counts are averaged.
    """
    if change not in CHANGES:
        raise ValueError(f"change must be one of {', '.join(CHANGES)} (got {change!r})")
    nodes = integer("nodes", nodes, 2)
    trials = integer("trials", trials, 1)
    leaver = integer("leaver", leaver, -nodes, nodes - 1)
    hashes = sample_hashes(keys, seed)
    k = len(hashes)
    moved_total = necessary_total = 0
    minimal = True
    for t in range(trials):
        before = make_placement(kind, _names(nodes, t), **options)
        if kind == "bounded":
            for h in (hashes.tolist() if np is not None else hashes):
                before._place(h)                       # bounded loads: the keys are placed first
        after = copy.deepcopy(before)
        if change == "join":
            joiner = f"t{t}-new"
            after.add(joiner)
            after_idx = after.lookup(hashes)
            necessary = sum(1 for i in after_idx if after.nodes[i] == joiner)
        else:
            gone = before.nodes[leaver]
            after.remove(gone)
            before_idx = before.lookup(hashes)
            necessary = sum(1 for i in before_idx if before.nodes[i] == gone)
        moved = keys_moved(before, after, hashes)
        moved_total += moved
        necessary_total += necessary
        minimal = minimal and moved == necessary
    ideal = k / (nodes + 1) if change == "join" else k / nodes
    moved_mean = moved_total / trials
    return Movement(kind, change, nodes, k, moved_mean, necessary_total / trials, ideal, moved_mean / ideal,
                    minimal, moved_mean / k)


def movement_table(kinds: Sequence[str] = STRATEGIES, *, nodes: int = 10, keys: int = 20_000,
                   trials: int = 3, vnodes: int = 100, seed: int = 0) -> list[dict[str, Any]]:
    """:func:`movement` for every strategy, on a join and on a leave (rows of plain dicts)."""
    rows = []
    for kind in kinds:
        opts = {"vnodes": vnodes} if kind in ("ring", "bounded") else {}
        for change in CHANGES:
            rows.append(movement(kind, change, nodes=nodes, keys=keys, trials=trials, seed=seed,
                                 **opts).as_dict())
    return rows
