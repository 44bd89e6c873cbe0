"""Probabilistically bounded staleness (Bailis et al., "Probabilistically Bounded Staleness for
Practical Partial Quorums", VLDB 2012): **t-visibility**, the probability that a read issued ``t``
time units after a write committed returns that write (or a newer one).

Measured by Monte-Carlo *in the simulator*: three replicas ``n1..n3`` (N = 3) of the Dynamo-style
store (:mod:`.dynamo`) and a coordinator ``co`` outside the ring, so every replica is one network hop
away as in the paper's WARS model (W: write to a replica, A: its ack, R: read request, S: read
response). Every link's one-way latency is exponential with mean ``mean``; the client's link to the
coordinator takes no time, so a trial's write commits when the W-th ack arrives, and reads are
issued at ``commit + t`` for each ``t``. Read repair, hinted handoff and anti-entropy are off (the
paper's model has none of them), so nothing but the write's own messages spreads it. Trials use
distinct keys in one world and are spaced far apart, so they never interfere.

:func:`wars` computes the same probabilities directly from the WARS model (no simulator): the two
must agree within Monte-Carlo error, which the tests check.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Sequence
from typing import Any

from distlib.sim import Latency, World
from distlib.sim.validate import integer, number

from .dynamo import DynamoNode, Get, Put

DEFAULT_TIMES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


def _check(n: int, r: int, w: int, trials: int, mean: float, times: Sequence[float]) -> list[float]:
    integer("n", n, 1, 9)
    integer("r", r, 1, n)
    integer("w", w, 1, n)
    integer("trials", trials, 1)
    number("mean", mean, above=True)
    if isinstance(times, str) or not times:
        raise ValueError(f"times must be a non-empty list of numbers >= 0 (got {times!r})")
    return [number("times", t, 0.0) for t in times]


def t_visibility(r: int, w: int, *, n: int = 3, trials: int = 500, mean: float = 1.0,
                 times: Sequence[float] = DEFAULT_TIMES, seed: int = 0) -> list[float]:
    """P(a read ``t`` after commit sees the write) for each ``t`` in ``times``, simulated."""
    ts = _check(n, r, w, trials, mean, times)
    world = World(seed, latency=Latency.exponential(mean))
    replicas = [f"n{i}" for i in range(1, n + 1)]
    cfg = dict(members=replicas, n=n, r=r, w=w, mode="vv", sloppy=False, read_repair=False,
               handoff_interval=None, ae_interval=None, op_timeout=1e6)
    world.add_nodes(DynamoNode, replicas, **cfg)
    world.add_node("co", DynamoNode, **cfg)
    client = world.client("c")
    for dst in ("co",):
        world.set_link("c", dst, latency=0.0)
        world.set_link(dst, "c", latency=0.0)
    seen = [0] * len(ts)
    spacing = 60.0 * mean + max(ts)          # every message of a trial long delivered before the next

    def read(key: str, value: str, at: float, slot: int) -> Generator[Any, Any, None]:
        yield world.env.timeout(at)
        reply = yield from client.call("co", Get(f"{key}/r{slot}", key), timeout=1e6)
        if value in reply.values:
            seen[slot] += 1

    def trial(i: int) -> Generator[Any, Any, None]:
        yield world.env.timeout(i * spacing)
        key, value = f"k{i}", f"v{i}"
        yield from client.call("co", Put(f"{key}/w", key, value), timeout=1e6)
        for slot, t in enumerate(ts):
            world.process(read(key, value, t, slot))

    for i in range(trials):
        world.process(trial(i))
    world.run()
    return [s / trials for s in seen]


def wars(r: int, w: int, *, n: int = 3, trials: int = 20_000, mean: float = 1.0,
         times: Sequence[float] = DEFAULT_TIMES, seed: int = 0) -> list[float]:
    """The same probabilities from the WARS model directly: a replica has the write when a read
    request reaches it iff its W delay ends before ``commit + t + R``; the read takes the first
    ``r`` replicas by R + S."""
    ts = _check(n, r, w, trials, mean, times)
    rng = random.Random(f"wars/{seed}")
    seen = [0] * len(ts)
    for _ in range(trials):
        wd = [rng.expovariate(1 / mean) for _ in range(n)]
        commit = sorted(x + rng.expovariate(1 / mean) for x in wd)[w - 1]
        for slot, t in enumerate(ts):
            rd = [rng.expovariate(1 / mean) for _ in range(n)]
            order = sorted(range(n), key=lambda i, rd=rd: rd[i] + rng.expovariate(1 / mean))
            if any(wd[i] <= commit + t + rd[i] for i in order[:r]):
                seen[slot] += 1
    return [s / trials for s in seen]


def pbs_curves(*, n: int = 3, trials: int = 500, mean: float = 1.0, times: Sequence[float] = DEFAULT_TIMES,
               seed: int = 0, quorums: Sequence[tuple[int, int]] | None = None) -> dict[str, Any]:
    """t-visibility curves for every (R, W) in ``quorums`` (default: all of 1..N x 1..N), simulated:
    ``{"n", "mean", "trials", "times", "curves": {(r, w): [p(t) ...]}, "strict": [(r, w) with r + w > n]}``.
    Plain data for the chapter's plot."""
    if quorums is None:
        quorums = [(r, w) for r in range(1, n + 1) for w in range(1, n + 1)]
    curves = {(r, w): t_visibility(r, w, n=n, trials=trials, mean=mean, times=times, seed=seed)
              for r, w in quorums}
    return {"n": n, "mean": mean, "trials": trials, "times": list(times), "curves": curves,
            "strict": [q for q in quorums if q[0] + q[1] > n]}


def standard_error(p: float, trials: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / trials)


__all__ = ["DEFAULT_TIMES", "pbs_curves", "standard_error", "t_visibility", "wars"]
