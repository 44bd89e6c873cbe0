"""Checks for the chapter 07 (replication and quorums) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message and prints a
"right: ..." line otherwise. Expected answers are computed from the rules (quorum intersection by
enumerating every read and write quorum; version vectors, sibling sets and dotted versions as in
DeCandia et al., SOSP 2007, §4.4, and :mod:`distlib.storage.versions`) -- never stored.

Plain data only crosses the boundary: a version vector is a ``{node: counter}`` dict (a missing
node counts 0), a stored version is ``((node, n), context_dict, value)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations, product
from typing import Any

from distlib.grading import guard
from distlib.storage import versions as _versions
from distlib.storage.dynamo import merge_stored
from distlib.storage.versions import Version, VersionVector, context_of, covers, merge_all, reconcile

from .feedback import Raised, differential, exercise, outcome


def _show(value: Any) -> str:
    if isinstance(value, Raised):
        return f"raised {value.exc}"
    return f"returned {value!r}"


# ---- quorum-overlap ------------------------------------------------------------------------------------
def reference_overlap(n: int, r: int, w: int) -> int:
    """The fewest replicas any R-subset and any W-subset of N replicas share, by enumeration."""
    nodes = range(n)
    return min(len(set(a) & set(b)) for a in combinations(nodes, r) for b in combinations(nodes, w))


def _overlap_cases() -> list[tuple[int, int, int]]:
    return [(n, r, w) for n in range(1, 8) for r in range(1, n + 1) for w in range(1, n + 1)]


@exercise("quorum-overlap")
def check_overlap(overlap: Callable[[int, int, int], int]) -> None:
    """Exercise quorum-overlap: the guaranteed overlap of a read and a write quorum, every N <= 7."""
    mistakes = [
        (lambda c: c[1] + c[2] - c[0], "when R + W <= N the two quorums can be disjoint: the overlap is 0, "
                                       "never negative"),
        (lambda c: int(c[1] + c[2] > c[0]), "R + W > N guarantees AT LEAST one common replica, but there can "
                                            "be more: R + W - N of them"),
        (lambda c: min(c[1], c[2]), "that is the most two quorums can share, not the fewest: an adversary "
                                    "picks the W writers and the R readers as far apart as N allows"),
    ]
    n = differential(_overlap_cases(), lambda c: outcome(overlap, *c), lambda c: [reference_overlap(*c)],
                     lambda c, got: f"overlap(n={c[0]}, r={c[1]}, w={c[2]}) {_show(got)}",
                     lambda c, got: "put the W writers first and the R readers last among the N replicas: "
                                    "they share max(0, R + W - N)",
                     mistakes=mistakes)
    print(f"right: your overlap agrees with enumerating every pair of quorums on all {n} cases (N = 1..7). "
          "Quorums intersect for every choice exactly when R + W > N.")


# ---- vv-compare ----------------------------------------------------------------------------------------
def reference_compare(a: dict[str, int], b: dict[str, int]) -> str:
    """"before", "after", "equal" or "concurrent": ``a`` relative to ``b`` (missing counts 0)."""
    nodes = sorted(set(a) | set(b))
    le = all(a.get(k, 0) <= b.get(k, 0) for k in nodes)
    ge = all(a.get(k, 0) >= b.get(k, 0) for k in nodes)
    return "equal" if le and ge else "before" if le else "after" if ge else "concurrent"


def _vectors() -> list[dict[str, int]]:
    """Every vector over nodes a, b with counters 0..2 (a 0 counter left out), and over a, b, c
    with counters 0..1."""
    out = [{k: v for k, v in zip("ab", cs, strict=True) if v} for cs in product(range(3), repeat=2)]
    out += [{k: v for k, v in zip("abc", cs, strict=True) if v} for cs in product(range(2), repeat=3)
            if cs[2]]
    return out


def _compare_cases() -> list[tuple[dict[str, int], dict[str, int]]]:
    vs = _vectors()
    cases = [(a, b) for a in vs for b in vs]
    cases += [({"a": 1, "b": 0}, {"a": 1}), ({"a": 2}, {"a": 2, "c": 0}), ({"b": 0}, {})]   # explicit zeros
    return cases


def _compare_mistakes() -> list[tuple[Callable, str]]:
    def by_sum(c: tuple) -> str:
        sa, sb = sum(c[0].values()), sum(c[1].values())
        return "equal" if sa == sb else "before" if sa < sb else "after"

    def common_only(c: tuple) -> str:
        a, b = c
        keys = set(a) & set(b)
        return reference_compare({k: a[k] for k in keys}, {k: b[k] for k in keys})

    def any_smaller(c: tuple) -> str:
        a, b = c
        nodes = set(a) | set(b)
        if all(a.get(k, 0) == b.get(k, 0) for k in nodes):
            return "equal"
        if any(a.get(k, 0) < b.get(k, 0) for k in nodes):
            return "before"
        return "after"

    return [
        (by_sum, "comparing the totals loses WHICH replica counted: {a:2} and {b:2} have the same total but "
                 "each saw a write the other did not -- concurrent"),
        (common_only, "a node missing from one vector counts 0 there; comparing only the nodes both name "
                      "misses the writes one side has and the other has not seen"),
        (any_smaller, "one smaller counter is not enough for 'before': every counter must be <= (and one <); "
                      "if each side is ahead somewhere the versions are concurrent"),
    ]


@exercise("vv-compare")
def check_compare(compare: Callable[[dict[str, int], dict[str, int]], str]) -> None:
    """Exercise vv-compare: before / after / equal / concurrent on every pair of small vectors."""
    n = differential(_compare_cases(), lambda c: outcome(compare, *c), lambda c: [reference_compare(*c)],
                     lambda c, got: f"compare({c[0]!r}, {c[1]!r}) {_show(got)}",
                     lambda c, got: f"the answer is {reference_compare(*c)!r}: a is before b when every "
                                    "counter of a is <= b's (a missing node counts 0) and one is smaller",
                     mistakes=_compare_mistakes())
    print(f"right: your comparison agrees with the rule on all {n} pairs of vectors (counters 0..2 on two "
          "nodes, 0..1 on three, explicit zeros).")


# ---- merge-siblings ------------------------------------------------------------------------------------
Sibling = tuple[list[str], dict[str, int]]


def reference_merge(siblings: Sequence[Sibling]) -> tuple[list[str], dict[str, int]]:
    """The client's reconciliation of a shopping cart: the union of the items (sorted, once each) and
    the pointwise maximum of the siblings' clocks (the context of the merged write)."""
    items = sorted({i for cart, _ in siblings for i in cart})
    clock: dict[str, int] = {}
    for _, vv in siblings:
        for k, v in vv.items():
            clock[k] = max(clock.get(k, 0), v)
    return items, dict(sorted((k, v) for k, v in clock.items() if v > 0))


def _merge_cases() -> list[list[Sibling]]:
    # the last two clocks carry explicit zero counters (red-team finding: a merge that copied zeros into
    # the context passed when no input had one)
    carts = [["milk"], ["eggs", "milk"], ["bread"], [], ["eggs"], ["tea"], ["jam", "milk"]]
    clocks = [{"a": 1}, {"b": 1}, {"a": 2, "b": 1}, {"a": 1, "c": 2}, {"c": 1}, {"a": 1, "b": 0},
              {"b": 0, "c": 2}]
    pool = list(zip(carts, clocks, strict=True))
    cases = [[x] for x in pool]
    cases += [[x, y] for x, y in product(pool, repeat=2) if x is not y]
    cases += [list(t) for t in combinations(pool, 3)]
    return cases


def _merge_mistakes() -> list[tuple[Callable, str]]:
    def last_only(c: list) -> Any:
        cart, vv = c[-1]
        return sorted(cart), dict(sorted(vv.items()))

    def min_clock(c: list) -> Any:
        keys = set.intersection(*(set(vv) for _, vv in c))
        return reference_merge(c)[0], {k: min(vv[k] for _, vv in c) for k in sorted(keys)}

    def common_keys(c: list) -> Any:
        keys = set.intersection(*(set(vv) for _, vv in c))
        return reference_merge(c)[0], {k: max(vv[k] for _, vv in c) for k in sorted(keys)}

    def concatenated(c: list) -> Any:
        return sorted(i for cart, _ in c for i in cart), reference_merge(c)[1]

    def keeps_zeros(c: list) -> Any:
        clock: dict[str, int] = {}
        for _, vv in c:
            for k, v in vv.items():
                clock[k] = max(clock.get(k, 0), v)
        return reference_merge(c)[0], dict(sorted(clock.items()))

    return [
        (last_only, "keeping one sibling is last-writer-wins: the other siblings' items are lost, which is "
                    "exactly what siblings exist to prevent"),
        (min_clock, "the context must say the merged value has seen EVERY sibling: the pointwise maximum, "
                    "not the minimum"),
        (common_keys, "a node that appears in only one sibling's clock still belongs in the context "
                      "(the maximum with a missing 0 is its counter)"),
        (concatenated, "an item in two siblings is one item in the cart, not two: take the union"),
        (keeps_zeros, "the context is written without zero entries (a zero counter says nothing: a missing "
                      "node counts 0), so drop the zeros you copied from the siblings' clocks"),
    ]


@exercise("merge-siblings")
def check_merge(merge: Callable[[list[Sibling]], tuple[list[str], dict[str, int]]]) -> None:
    """Exercise merge-siblings: a shopping-cart merge of one to three siblings."""
    n = differential(_merge_cases(), lambda c: outcome(merge, c), lambda c: [reference_merge(c)],
                     lambda c, got: f"merge({c!r}) {_show(got)}",
                     lambda c, got: f"expected {reference_merge(c)!r}: the sorted union of the items and the "
                                    "pointwise maximum of the clocks (as a tuple of a list and a dict)",
                     mistakes=_merge_mistakes())
    print(f"right: your merge keeps every sibling's items and a context that covers them all, on all {n} "
          "sibling sets.")


# ---- choose-rw -----------------------------------------------------------------------------------------
def reference_choose(rtt: Sequence[int], reads: int, writes: int, target: int) -> tuple[int, int] | None:
    """Among (R, W) with R + W > N and read latency (the R-th fastest round trip) <= ``target``, the
    pair with the least total latency ``reads * read_latency + writes * write_latency``; ties go to
    the larger W (more copies before the client is told), then the smaller R. None if no pair fits."""
    order = sorted(rtt)
    n = len(order)
    best: tuple[tuple[int, int, int], tuple[int, int]] | None = None
    for r in range(1, n + 1):
        for w in range(1, n + 1):
            if r + w <= n or order[r - 1] > target:
                continue
            key = (reads * order[r - 1] + writes * order[w - 1], -w, r)
            if best is None or key < best[0]:
                best = (key, (r, w))
    return None if best is None else best[1]


def _choose_cases() -> list[tuple[list[int], int, int, int]]:
    rtts: list[list[int]] = []
    for n in range(1, 5):
        rtts += [list(t) for t in product((1, 4, 9), repeat=n)]
    rtts += [[3, 1, 7, 2, 5], [10, 10, 10, 10, 10], [1, 1, 30, 40, 50]]
    loads = [(9, 1), (1, 1), (1, 9), (99, 1)]
    return [(rtt, rd, wr, t) for rtt in rtts for rd, wr in loads for t in (0, 1, 4, 9)]


def _choose_mistakes() -> list[tuple[Callable, str]]:
    def r1_wn(c: tuple) -> Any:
        rtt = sorted(c[0])
        return (1, len(rtt)) if rtt[0] <= c[3] else None

    def no_target(c: tuple) -> Any:
        return reference_choose(c[0], c[1], c[2], 10**9)

    def ge_n(c: tuple) -> Any:
        rtt, rd, wr, target = c
        order = sorted(rtt)
        n = len(order)
        opts = [((rd * order[r - 1] + wr * order[w - 1], -w, r), (r, w)) for r in range(1, n + 1)
                for w in range(1, n + 1) if r + w >= n and order[r - 1] <= target]
        return min(opts)[1] if opts else None

    def small_w(c: tuple) -> Any:
        rtt, rd, wr, target = c
        order = sorted(rtt)
        n = len(order)
        opts = [((rd * order[r - 1] + wr * order[w - 1], w, r), (r, w)) for r in range(1, n + 1)
                for w in range(1, n + 1) if r + w > n and order[r - 1] <= target]
        return min(opts)[1] if opts else None

    def unsorted(c: tuple) -> Any:
        rtt, rd, wr, target = c
        n = len(rtt)
        opts = [((rd * rtt[r - 1] + wr * rtt[w - 1], -w, r), (r, w)) for r in range(1, n + 1)
                for w in range(1, n + 1) if r + w > n and rtt[r - 1] <= target]
        return min(opts)[1] if opts else None

    return [
        (r1_wn, "R = 1, W = N is the folklore for read-heavy loads, but it is not always the cheapest: with "
                "one slow replica every write waits for it, and with writes common that costs more"),
        (no_target, "the read latency target is a constraint: a pair whose R-th fastest reply comes later "
                    "than the target is not allowed, however cheap its writes"),
        (ge_n, "R + W = N is not enough: a read quorum and a write quorum can then miss each other; the "
               "chapter asks for R + W > N"),
        (small_w, "on a tie in total latency take the LARGER W: the same cost, and more copies exist "
                  "before the client is told the write succeeded"),
        (unsorted, "the R-th reply to arrive is the R-th FASTEST replica, not replica number R: sort the "
                   "round-trip times first"),
    ]


@exercise("choose-rw")
def check_choose(choose: Callable[[list[int], int, int, int], tuple[int, int] | None]) -> None:
    """Exercise choose-rw: the cheapest strict (R, W) under a read latency target."""
    n = differential(_choose_cases(), lambda c: outcome(choose, *c), lambda c: [reference_choose(*c)],
                     lambda c, got: (f"choose(rtt={c[0]}, reads={c[1]}, writes={c[2]}, target={c[3]}) "
                                     f"{_show(got)}"),
                     lambda c, got: f"expected {reference_choose(*c)!r} (a tuple (R, W), or None if no pair "
                                    "meets the target)",
                     mistakes=_choose_mistakes())
    print(f"right: your choice agrees with trying every (R, W) on all {n} cases (every cluster of 1-4 "
          "replicas with round trips 1, 4 or 9 ms, and three of 5; four workloads; four targets).")


# ---- repair-merge (bug hunt) ---------------------------------------------------------------------------
Stored = list[tuple[tuple[str, int], dict[str, int], str]]


def reference_repair(mine: Stored, incoming: Stored) -> Stored:
    """Merge two sibling sets: every version once (by dot), minus those whose dot another version's
    context covers, sorted by dot."""
    by_dot = {}
    for v in list(mine) + list(incoming):
        by_dot[tuple(v[0])] = v
    alive = [v for v in by_dot.values()
             if not any(o is not v and o[1].get(v[0][0], 0) >= v[0][1] for o in by_dot.values())]
    return sorted(alive, key=lambda v: v[0])


_UNIVERSES = [
    # two blind writes through coordinator a (dots a1, a2 with empty contexts) stay siblings
    {("a", 1): {}, ("a", 2): {}, ("b", 1): {"a": 1}, ("b", 2): {"a": 2, "b": 1}},
    {("a", 1): {}, ("b", 1): {}, ("a", 2): {"a": 1, "b": 1}, ("b", 2): {"a": 1}},
    {("a", 1): {}, ("a", 2): {"a": 1}, ("b", 1): {"a": 2}, ("b", 2): {}},
]


def _repair_cases() -> list[tuple[Stored, Stored]]:
    cases = []
    for u in _UNIVERSES:
        versions = [(dot, ctx, f"v{dot[0]}{dot[1]}") for dot, ctx in sorted(u.items())]
        subsets = [[v for v, keep in zip(versions, mask, strict=True) if keep]
                   for mask in product((0, 1), repeat=len(versions))]
        # only sets a replica can hold: no version in it obsoletes another
        held = [s for s in subsets if reference_repair(s, []) == s]
        cases += [(a, b) for a in held for b in held]
    return cases


def _repair_mistakes() -> list[tuple[Callable, str]]:
    def replace(c: tuple) -> Any:
        return sorted(c[1], key=lambda v: v[0])

    def union(c: tuple) -> Any:
        by_dot = {tuple(v[0]): v for v in list(c[0]) + list(c[1])}
        return sorted(by_dot.values(), key=lambda v: v[0])

    def full_clock(c: tuple) -> Any:
        by_dot = {tuple(v[0]): v for v in list(c[0]) + list(c[1])}

        def clock(v: Any) -> dict[str, int]:
            d = dict(v[1])
            d[v[0][0]] = max(d.get(v[0][0], 0), v[0][1])
            return d

        alive = [v for v in by_dot.values() if not any(
            o is not v and reference_compare(clock(v), clock(o)) == "before" for o in by_dot.values())]
        return sorted(alive, key=lambda v: v[0])

    return [
        (replace, "that is the bug itself: replacing the copy with the repair wipes any version the replica "
                  "has and the repair has not seen -- a newer write that landed meanwhile"),
        (union, "keeping every version forever is safe but wrong: a version whose dot another version's "
                "context covers was seen by that writer and replaced on purpose -- drop it"),
        (full_clock, "comparing full clocks (context + dot) invents dominance: two blind writes through "
                     "coordinator a get dots (a, 1) and (a, 2), and {a: 2} looks 'after' {a: 1} although the "
                     "second writer never saw the first. Only a context that covers a dot obsoletes it"),
    ]


@exercise("repair-merge")
def check_repair(repair: Callable[[Stored, Stored], Stored]) -> None:
    """Exercise repair-merge: the fixed read repair, on every pair of sibling sets of three histories."""
    n = differential(_repair_cases(), lambda c: outcome(repair, *c), lambda c: [reference_repair(*c)],
                     lambda c, got: f"repair(mine={c[0]!r}, incoming={c[1]!r}) {_show(got)}",
                     lambda c, got: f"expected {reference_repair(*c)!r}: keep every version once, drop one "
                                    "only when another version's context covers its dot, sort by dot",
                     mistakes=_repair_mistakes())
    print(f"right: your repair merges like the correct store on all {n} pairs of sibling sets; nothing a "
          "replica holds is lost unless a writer saw it.")


guard.protect("quorum-overlap", reference_overlap)
guard.protect("vv-compare", reference_compare, _versions.compare, (VersionVector, "compare"),
              (VersionVector, "descends"))
guard.protect("merge-siblings", reference_merge, merge_all, context_of, (VersionVector, "merge"))
guard.protect("choose-rw", reference_choose)
guard.protect("repair-merge", reference_repair, reconcile, covers, merge_stored, (Version, "obsoletes"))

__all__ = ["check_choose", "check_compare", "check_merge", "check_overlap", "check_repair"]
