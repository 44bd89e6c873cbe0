"""Checks for the chapter 06 (consistent hashing and sharding) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message and prints a
"right: ..." line otherwise. Expected answers are computed from the rules (Karger et al. 1997 for
the ring, Lamping & Veach 2014 for jump hash, Mirrokni, Thorup & Zadimoghaddam 2018 for bounded
loads) or by running the sharded store -- never stored.

A ring is given to the learner as its sorted list of ``(position, node)`` pairs (what
:meth:`~distlib.partitioning.placement.Ring.points` returns); positions and key hashes are
integers in ``0 .. 2**64 - 1``.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import combinations, permutations, product
from typing import Any

from distlib.grading import guard
from distlib.partitioning.hashing import JUMP_LCG, MASK64, jump, jump_array
from distlib.partitioning.metrics import movement
from distlib.partitioning.placement import BoundedLoadRing, JumpHash, Ring
from distlib.partitioning.sharded_kv import run_sharded

from .feedback import Raised, check_schedule, differential, exercise, outcome
from .feedback import fail as _fail

SEED = 1997          # Karger et al.'s year: the seeded random cases are the same on every run


def _show(value: Any) -> str:
    return f"raised {value.exc}" if isinstance(value, Raised) else f"returned {value!r}"


def _points_text(points: Sequence[tuple[int, str]], h: int | None = None) -> str:
    if len(points) <= 6:
        return repr(list(points))
    if h is None:
        return f"a ring of {len(points)} positions"
    i = bisect.bisect_left([p for p, _ in points], h)
    near = [points[j % len(points)] for j in (i - 1, i)]
    return f"a ring of {len(points)} positions (around h: ... {near[0]!r}, {near[1]!r} ...)"


# ---- ring-lookup ---------------------------------------------------------------------------------------
def reference_ring_owner(points: Sequence[tuple[int, str]], h: int) -> str:
    """The ring's rule: the node at the first position >= h, wrapping past the top to the first."""
    i = bisect.bisect_left([p for p, _ in points], h)
    return points[i % len(points)][1]


def _small_rings() -> list[list[tuple[int, str]]]:
    """Every ring with 1-4 positions out of 10, 20, 30, 40, each position owned by node a or b."""
    rings = []
    for size in (1, 2, 3, 4):
        for positions in combinations((10, 20, 30, 40), size):
            for names in product("ab", repeat=size):
                rings.append(list(zip(positions, names, strict=True)))
    return rings


def _ring_cases() -> list[tuple[list[tuple[int, str]], int]]:
    cases = [(pts, h) for pts in _small_rings() for h in (0, 9, 10, 11, 25, 40, 41, MASK64)]
    rng = random.Random(SEED)
    for vnodes in (1, 5, 50):
        pts = Ring(["a", "b", "c"], vnodes=vnodes).points()
        probes = [0, MASK64] + [p + d for p, _ in pts for d in (-1, 0, 1) if 0 <= p + d <= MASK64]
        probes += [rng.getrandbits(64) for _ in range(300)]
        cases += [(pts, h) for h in probes]
    return cases


def _why_ring(case: tuple[list[tuple[int, str]], int], got: Any) -> str:
    pts, h = case
    positions = [p for p, _ in pts]
    if h > positions[-1]:
        return (f"h = {h} lies past the last position {positions[-1]}: the search wraps around the top of "
                f"the circle, so the owner is the node at the FIRST position ({pts[0]!r})")
    if h in positions:
        return (f"h = {h} is exactly a node position: the key belongs to that node (the first position "
                ">= h), not to the next one")
    return "the owner is the node at the first position clockwise from h, i.e. the smallest position >= h"


def _ring_mistakes() -> list[tuple[Callable, str]]:
    def no_wrap_raises(case: tuple) -> Any:
        pts, h = case
        i = bisect.bisect_left([p for p, _ in pts], h)
        return Raised("IndexError") if i == len(pts) else pts[i][1]

    def no_wrap_none(case: tuple) -> Any:
        pts, h = case
        return next((n for p, n in pts if p >= h), None)

    def strictly_after(case: tuple) -> Any:
        pts, h = case
        i = bisect.bisect_right([p for p, _ in pts], h)
        return pts[i % len(pts)][1]

    def predecessor(case: tuple) -> Any:
        pts, h = case
        i = bisect.bisect_right([p for p, _ in pts], h) - 1
        return pts[i][1]

    wrap = ("you forget the wrap-around: a key hashed past the last position belongs to the node at the "
            "FIRST position (the circle closes at the top)")
    return [
        (no_wrap_raises, wrap), (no_wrap_none, wrap),
        (strictly_after, "off by one at the boundary: a key whose hash equals a node's position belongs to "
                         "that node (first position >= h, bisect_left), not to the next one"),
        (predecessor, "you take the node BEFORE the key (counter-clockwise); the owner is the first node "
                      "clockwise from it, its successor"),
    ]


@exercise("ring-lookup")
def check_ring_owner(owner: Callable[[list[tuple[int, str]], int], str]) -> None:
    """Exercise ring-lookup: the ring's successor rule with wrap-around, on every small ring and probe."""
    cases = _ring_cases()
    n = differential(cases, lambda c: outcome(owner, c[0], c[1]), lambda c: [reference_ring_owner(*c)],
                     lambda c, got: f"with points {_points_text(c[0], c[1])} and h = {c[1]} you {_show(got)}",
                     _why_ring, mistakes=_ring_mistakes())
    print(f"right: your lookup agrees with the ring's rule on all {n} cases (every ring of up to 4 "
          "positions, keys on, between and past the positions, and 3 real rings with 900 random keys).")


# ---- ring-moved ----------------------------------------------------------------------------------------
TOLERANCE = 0.01       # the chapter's statement: within 1 %, or half a key (rounding), whichever is larger


def reference_expected_moved(keys: int, nodes: int, change: str) -> dict[str, float]:
    """Expected keys moved by one join (to ``nodes`` nodes) or leave (from ``nodes`` nodes)."""
    if change == "join":
        return {"ring": keys / (nodes + 1), "modn": keys * nodes / (nodes + 1)}
    return {"ring": keys / nodes, "modn": keys * (nodes - 1) / nodes}


def _moved_cases() -> list[tuple[int, int, str]]:
    return ([(k, n, "join") for n in range(1, 13) for k in (100, 1000, 12345)]
            + [(k, n, "leave") for n in range(2, 13) for k in (100, 1000, 12345)])


def _close(got: Any, want: float) -> bool:
    return (type(got) in (int, float) and math.isfinite(got)
            and abs(got - want) <= max(TOLERANCE * want, 0.5))


def _moved_mistakes() -> list[tuple[str, Callable[[int, int, str], float], str]]:
    """(which entry, model, what it gets wrong)."""
    return [
        ("ring", lambda k, n, c: k / n if c == "join" else k / (n - 1),
         "you divide by the cluster size BEFORE a join (or after a leave). A joining node takes 1/(N+1) of "
         "the circle of an N-node cluster: K/(N+1) keys; a leaving node had 1/N of it: K/N keys"),
        ("modn", lambda k, n, c: float(k),
         "mod-N does not move EVERY key: a key stays when h mod N = h mod (N±1), which holds for 1 value in "
         "N+1 on a join (1 in N on a leave)"),
        ("modn", lambda k, n, c: reference_expected_moved(k, n, c)["ring"],
         "mod-N is not consistent: a key stays only when h mod N = h mod (N±1), for a fraction 1/(N+1) of "
         "hashes on a join (1/N on a leave), so it moves almost everything, not the minimum"),
        ("modn", lambda k, n, c: k * (n - 1) / n if c == "join" else k * (n - 2) / (n - 1),
         "count again which keys stay under mod-N: on a join h mod N = h mod (N+1) exactly when h mod "
         "N(N+1) < N, a fraction N/(N(N+1)) = 1/(N+1); on a leave 1/N"),
    ]


@exercise("ring-moved")
def check_expected_moved(expected_moved: Callable[[int, int, str], dict[str, float]]) -> None:
    """Exercise ring-moved: expected keys moved by a join or leave, for an even ring and for mod-N."""
    cases = _moved_cases()
    answers = []
    for k, n, change in cases:
        got = outcome(expected_moved, k, n, change)
        if type(got) is not dict or sorted(got) != ["modn", "ring"]:
            _fail(f"expected_moved({k}, {n}, {change!r}) {_show(got)}; return a dict with exactly the keys "
                  "'ring' and 'modn'")
        answers.append(((k, n, change), got))
    for (k, n, change), got in answers:
        want = reference_expected_moved(k, n, change)
        for entry in ("ring", "modn"):
            if _close(got[entry], want[entry]):
                continue
            alike = [(c, g) for c, g in answers if c[2] == change]     # mistakes differ per join/leave
            reason = next((why for e, model, why in _moved_mistakes() if e == entry and all(
                _close(g[entry], model(*c)) for c, g in alike)), None)
            if reason is None:
                reason = ("a joining node takes 1/(N+1) of an evenly shared ring, a leaving one gives back "
                          "1/N; under mod-N a key stays only when h mod N = h mod (N±1)")
            _fail(f"expected_moved({k}, {n}, {change!r})[{entry!r}] is {got[entry]!r}, not within 1 % of the "
                  f"expectation: {reason}.")
    m = movement("ring", "join", nodes=10, keys=20_000, trials=3, vnodes=100)
    print(f"right: your formula matches on all {len(cases)} cases. Measured on a 10-node ring with 100 "
          f"vnodes, a join moved {m.moved:.0f} of {m.keys} keys (formula: {m.ideal:.0f}).")


# ---- jump-hash -----------------------------------------------------------------------------------------
def reference_jump(key: int, buckets: int) -> int:
    """Lamping & Veach 2014, Figure 1, in Python (floating point, as in the paper)."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * JUMP_LCG + 1) & MASK64
        j = int((b + 1) * (float(1 << 31) / ((key >> 33) + 1)))
    return b


def reference_jump_exact(key: int, buckets: int) -> int:
    """The same recurrence in exact integer arithmetic (the chapter's formula, floor((b+1)·2^31/(x+1)))."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * JUMP_LCG + 1) & MASK64
        j = (b + 1) * (1 << 31) // ((key >> 33) + 1)
    return b


BUCKETS = tuple(range(1, 41)) + (100, 1000, 65536, 1 << 31)


def _jump_cases() -> list[tuple[int, int]]:
    rng = random.Random(SEED)
    keys = [0, 1, 2, 3, 42, 1 << 32, (1 << 33) - 1, 1 << 63, MASK64]
    keys += [rng.getrandbits(64) for _ in range(300)]
    return [(k, n) for n in BUCKETS for k in keys]


def _jump_mistakes() -> list[tuple[Callable, str]]:
    def variant(shift: int, answer: str) -> Callable[[tuple[int, int]], int]:
        """The paper's loop with the random draw shifted by ``shift`` and ``answer`` ("b" or "j") returned."""
        def model(case: tuple[int, int]) -> int:
            key, buckets = case
            b, j = -1, 0
            while j < buckets:
                b = j
                key = (key * JUMP_LCG + 1) & MASK64
                j = int((b + 1) * (float(1 << 31) / ((key >> shift) + 1)))
            return b if answer == "b" else j
        return model

    shift32, returns_j = variant(32, "b"), variant(33, "j")
    return [
        (shift32, "you take key >> 32: the paper divides 2^31 by the top 31 bits plus one, (key >> 33) + 1, "
                  "so that the ratio is (b+1)/r for r uniform in (0, 1]"),
        (returns_j, "you return j, the first jump at or beyond `buckets`; the key's bucket is b, the last "
                    "jump below it"),
    ]


def _why_jump(case: tuple[int, int], got: Any) -> str:
    _, buckets = case
    if type(got) is int and not 0 <= got < buckets:
        return f"a bucket must be in 0..{buckets - 1}"
    return ("follow the recurrence: key = key * 2862933555777941757 + 1 modulo 2^64 (mask with "
            "0xFFFFFFFFFFFFFFFF), b = j, j = floor((b + 1) * 2^31 / ((key >> 33) + 1)), while j < buckets; "
            "return b")


@exercise("jump-hash")
def check_jump_hash(jump_hash: Callable[[int, int], int]) -> None:
    """Exercise jump-hash: Lamping & Veach's recurrence on 309 keys x 44 bucket counts."""
    cases = _jump_cases()
    n = differential(cases, lambda c: outcome(jump_hash, c[0], c[1]),
                     lambda c: [reference_jump(*c), reference_jump_exact(*c)],
                     lambda c, got: f"jump_hash({c[0]}, {c[1]}) {_show(got)}", _why_jump,
                     mistakes=_jump_mistakes())
    # Minimal movement, measured on the learner's function: 1 -> 40 buckets, every key moves only to
    # the new bucket.
    rng = random.Random(SEED + 1)
    keys = [rng.getrandbits(64) for _ in range(2000)]
    pairs = [(outcome(jump_hash, k, 10), outcome(jump_hash, k, 11)) for k in keys]
    moved = [(a, b) for a, b in pairs if a != b]
    wrong = [(k, a, b) for k, (a, b) in zip(keys, pairs, strict=True) if a != b and b != 10]
    if wrong:
        k, a, b = wrong[0]
        _fail(f"jump_hash({k}, 10) = {a!r} but jump_hash({k}, 11) = {b!r}: a key may only move to the new "
              "bucket 10 when an 11th bucket is added")
    moved = len(moved)
    print(f"right: your jump hash agrees with the paper's recurrence on all {n} (key, buckets) cases; "
          f"going from 10 to 11 buckets it moves {moved} of 2000 keys (expected 2000/11 = 182), all to "
          "bucket 10.")


# ---- bounded-load --------------------------------------------------------------------------------------
def _nodes_of(points: Sequence[tuple[int, str]]) -> list[str]:
    return list(dict.fromkeys(n for _, n in points))


def reference_bounded(points: Sequence[tuple[int, str]], hashes: Sequence[int], eps: float, *,
                      static: bool = False) -> list[str]:
    """Place ``hashes`` in order; the i-th key (1-based) may go only to a node holding fewer than
    ``ceil((1+eps) * i / n)`` keys -- or ``ceil((1+eps) * m / n)`` for all ``m`` keys if ``static``;
    it goes to the first such node clockwise from its hash."""
    positions = [p for p, _ in points]
    nodes = _nodes_of(points)
    load = dict.fromkeys(nodes, 0)
    factor = 1 + Fraction(repr(eps))
    out = []
    for i, h in enumerate(hashes, 1):
        cap = math.ceil(factor * (len(hashes) if static else i) / len(nodes))
        start = bisect.bisect_left(positions, h)
        for step in range(len(points)):
            node = points[(start + step) % len(points)][1]
            if load[node] < cap:
                break
        load[node] += 1
        out.append(node)
    return out


LAYOUTS = (
    [(10, "a"), (30, "b")],
    [(10, "a"), (20, "b"), (30, "c")],
    [(10, "a"), (20, "b"), (30, "a"), (40, "b")],
    [(15, "a"), (25, "a"), (35, "b"), (45, "c")],
)
EPSILONS = (0.25, 0.5, 1.0)


def _bounded_cases() -> list[tuple[list[tuple[int, str]], list[int], float]]:
    cases = []
    for size in (1, 2, 3, 4):
        for layout in LAYOUTS:
            for eps in EPSILONS:
                for seq in permutations((5, 10, 25, 28, 50), size):
                    cases.append((layout, list(seq), eps))
    rng = random.Random(SEED + 2)
    for vnodes in (1, 3, 10):
        pts = Ring(["a", "b", "c", "d"], vnodes=vnodes).points()
        for eps in EPSILONS:
            cases.append((pts, [rng.getrandbits(64) for _ in range(60)], eps))
    return cases


def _bounded_mistakes() -> list[tuple[Callable, str]]:
    def plain(case: tuple) -> list[str]:
        pts, hashes, _ = case
        return [reference_ring_owner(pts, h) for h in hashes]

    def at_most(case: tuple) -> list[str]:
        pts, hashes, eps = case
        positions = [p for p, _ in pts]
        load = dict.fromkeys(_nodes_of(pts), 0)
        out = []
        for i, h in enumerate(hashes, 1):
            cap = math.ceil((1 + Fraction(repr(eps))) * i / len(load))
            start = bisect.bisect_left(positions, h)
            node = pts[start % len(pts)][1]
            for step in range(len(pts)):
                node = pts[(start + step) % len(pts)][1]
                if load[node] <= cap:
                    break
            load[node] += 1
            out.append(node)
        return out

    def no_wrap_walk(case: tuple) -> list[str]:
        pts, hashes, eps = case
        positions = [p for p, _ in pts]
        load = dict.fromkeys(_nodes_of(pts), 0)
        out = []
        for i, h in enumerate(hashes, 1):
            cap = math.ceil((1 + Fraction(repr(eps))) * i / len(load))
            start = bisect.bisect_left(positions, h) % len(pts)
            node = pts[start][1]
            for j in range(start, len(pts)):
                if load[pts[j][1]] < cap:
                    node = pts[j][1]
                    break
            load[node] += 1
            out.append(node)
        return out

    return [
        (plain, "you place every key on its successor, full or not: a node at capacity must pass the key on "
                "clockwise to the first node with room"),
        (at_most, "off by one on the capacity: a node may take a key only while its load is BELOW "
                  "ceil((1+eps)·i/n) (load < capacity), or it ends above the bound"),
        (no_wrap_walk, "your walk for a node with room stops at the last position: it must wrap around the "
                       "top of the circle and go on from the first position"),
    ]


def _why_bounded(case: tuple, got: Any) -> str:
    return ("place the keys in the given order; the i-th key may go only to a node whose load is below "
            "ceil((1+eps)·i/n) (n distinct nodes), the first such node clockwise from its hash, wrapping "
            "around")


@exercise("bounded-load")
def check_bounded_assign(bounded_assign: Callable[[list, list, float], list[str]]) -> None:
    """Exercise bounded-load: consistent hashing with bounded loads, on every small placement order."""
    def answer(case: tuple) -> Any:
        got = outcome(bounded_assign, case[0], case[1], case[2])
        return list(got) if type(got) is tuple else got

    def describe(case: tuple, got: Any) -> str:
        pts, hashes, eps = case
        hs = repr(hashes) if len(hashes) <= 6 else f"{len(hashes)} random hashes"
        shown = _show(got)
        if len(hashes) > 6 and isinstance(got, list):
            want = reference_bounded(pts, hashes, eps)
            first = next((i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w), len(want))
            put = got[first] if first < len(got) else None
            shown = f"first differed at key {first + 1} (you put it on {put!r})"
        return f"with points {_points_text(pts)}, hashes {hs} and eps = {eps} you {shown}"

    n = differential(_bounded_cases(), answer,
                     lambda c: [reference_bounded(*c), reference_bounded(*c, static=True)],
                     describe, _why_bounded, mistakes=_bounded_mistakes())
    print(f"right: your placement agrees with consistent hashing with bounded loads on all {n} cases "
          "(every order of up to 4 of 5 keys on 4 small rings, 3 values of eps, 9 random runs of 60 keys).")


# ---- shard-bug-hunt ------------------------------------------------------------------------------------
BUG_HUNT = {"seed": 2, "keys": 8, "ops": 30}


def bug_hunt_run(schedule: Any, *, broken: bool = True) -> Any:
    """The bug hunt's scenario: ``run_sharded(seed=2, keys=8, ops=30, broken=..., faults=schedule)``."""
    return run_sharded(**BUG_HUNT, broken=broken, faults=schedule)


@exercise("shard-bug-hunt")
def check_shard_bug_hunt(schedule: Any) -> None:
    """Exercise shard-bug-hunt: a schedule without partitions under which the eager handoff breaks."""
    from distlib.sim.faults import CutFault, PartitionFault

    schedule = check_schedule(schedule, max_faults=2)
    if any(isinstance(f, PartitionFault) for f in schedule):
        _fail("no partitions here: the chapter already showed one. Use a crash (with restart), a pause or a "
              "one-way cut.")
    cuts = [f for f in schedule if isinstance(f, CutFault)]
    for a in cuts:
        for b in cuts:
            heal_a = math.inf if a.heal is None else a.heal
            heal_b = math.inf if b.heal is None else b.heal
            if (a.src, a.dst) == (b.dst, b.src) and a.at < heal_b and b.at < heal_a:
                _fail(f"cuts {a.src}->{a.dst} and {b.src}->{b.dst} overlap in time: two opposite one-way "
                      "cuts are a partition between the two nodes. Cut one direction, or crash or pause.")
    try:
        bad = bug_hunt_run(schedule)
    except ValueError as exc:
        _fail(f"the schedule is not valid for this cluster: {exc}")
    violations = bad.check()
    if not violations:
        _fail(f"under '{schedule.describe()}' the eager handoff gets away with it ({bad.summary()}). The "
              "bug needs the new owner to serve a shard before its data has arrived: disturb the joining "
              "node n4 (or the sources) while n4 joins, between t = 0.8 and 1.0.")
    good = bug_hunt_run(schedule, broken=False)
    problems = good.check()
    if problems:
        _fail("your schedule also breaks the correct store — that would be a bug in the course; please "
              f"report it ({problems[0]}).")
    print(f"right: under '{schedule.describe()}' the checker catches the eager handoff ({violations[0]}), "
          "while the correct store under the same faults loses nothing.")


guard.protect("ring-lookup", reference_ring_owner, (Ring, "owner_of_hash"), (Ring, "owners_of_hash"),
              (Ring, "_slot"), (Ring, "lookup"), (BoundedLoadRing, "owner_of_hash"),
              (BoundedLoadRing, "owners_of_hash"))
guard.protect("ring-moved", reference_expected_moved, movement)
guard.protect("jump-hash", reference_jump, reference_jump_exact, jump, jump_array,
              (JumpHash, "owner_of_hash"), (JumpHash, "owners_of_hash"), (JumpHash, "lookup"))
guard.protect("bounded-load", reference_bounded, (BoundedLoadRing, "_place"), (BoundedLoadRing, "place"),
              (BoundedLoadRing, "place_all"), (BoundedLoadRing, "_first_with_room"))

__all__ = ["check_bounded_assign", "check_expected_moved", "check_jump_hash", "check_ring_owner",
           "check_shard_bug_hunt", "bug_hunt_run"]
