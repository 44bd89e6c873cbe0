"""Where does a key live? Six placement strategies behind one interface.

Every strategy answers ``owner(key)`` (one node), ``owners(key, n)`` (``n`` distinct nodes, the
replicas, primary first), changes with ``add(node, weight=1)`` / ``remove(node)``, and lists its
``nodes``. Keys are hashed once with :func:`~distlib.partitioning.hashing.stable_hash`; every
strategy also answers from a precomputed hash (``owner_of_hash``) and for a whole array of
hashes at once (``lookup(hashes)``: node *indexes* into ``nodes``, vectorized with numpy).

* :class:`ModN` -- ``nodes[h mod N]``: perfectly simple, and a change of N moves almost every
  key (a key stays only if ``h mod N == h mod (N+1)``: probability 1/(N+1)).
* :class:`Ring` -- consistent hashing (Karger et al., STOC 1997): nodes and keys hash onto one
  circle of 2**64 positions; a key belongs to the first node position clockwise from it
  (wrapping past the top back to 0). Each node sits at many *virtual node* positions
  (Dynamo, SOSP 2007, §4.2), so its share of the circle is a sum of many arcs and evens out;
  a weight scales its number of virtual nodes.
* :class:`JumpHash` -- Lamping & Veach 2014: no table, a key's bucket comes from a short
  pseudo-random recurrence; buckets are numbered 0..N-1 and may only be added or removed at
  the end (see the class for what removing another node costs).
* :class:`Rendezvous` -- highest random weight (Thaler & Ravishankar 1998): every node scores
  the key, the highest score wins; weighted by ``-w / ln(u)`` (Schindelhauer & Schomaker 2005).
* :class:`BoundedLoadRing` -- consistent hashing with bounded loads (Mirrokni, Thorup &
  Zadimoghaddam, SODA 2018): a ring whose nodes accept at most ``ceil((1+eps) * m / n)`` of the
  ``m`` placed keys; a full node passes the key on clockwise.
* :class:`~distlib.partitioning.maglev.Maglev` -- Maglev hashing (Eisenbud et al., NSDI 2016,
  §3.4): a prime-size lookup table filled by the nodes' permutations (in :mod:`.maglev`).

Bad input raises ValueError naming the parameter and what is allowed.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from distlib.sim.validate import integer, number

from .hashing import (
    MASK64,
    as_hash_array,
    check_hash,
    jump,
    jump_array,
    mix64,
    mix64_array,
    np,
    stable_hash,
    unit_interval,
)

STRATEGIES = ("modn", "ring", "jump", "rendezvous", "bounded", "maglev")


def _check_name(node: object) -> str:
    if not isinstance(node, str) or not node:
        raise ValueError(f"node must be a non-empty string (got {node!r})")
    return node


def _nodes_arg(nodes: Iterable[str] | Mapping[str, float]) -> list[tuple[str, Any]]:
    """``nodes`` as (name, weight) pairs: a list of names (weight 1) or a {name: weight} map."""
    if isinstance(nodes, str):
        raise ValueError(f"nodes must be a list of node names or a {{name: weight}} mapping (got {nodes!r})")
    pairs = list(nodes.items()) if isinstance(nodes, Mapping) else [(n, 1) for n in nodes]
    if not pairs:
        raise ValueError("nodes must name at least one node (got none)")
    seen: set[str] = set()
    for name, _w in pairs:
        _check_name(name)
        if name in seen:
            raise ValueError(f"nodes must have distinct names (got {name!r} twice)")
        seen.add(name)
    return pairs


def distinct_from(table: Sequence[str], start: int, n: int) -> list[str]:
    """The first ``n`` distinct names met walking ``table`` from ``start``, wrapping around: replicas of a
    key in a slot table (mod-N's slots, Maglev's lookup table)."""
    out: list[str] = []
    for i in range(len(table)):
        name = table[(start + i) % len(table)]
        if name not in out:
            out.append(name)
            if len(out) == n:
                break
    return out


class Placement:
    """The interface every strategy implements; subclasses fill in the hash-level methods."""

    kind = "placement"

    def __init__(self, nodes: Iterable[str] | Mapping[str, float]):
        self._weights: dict[str, float] = {}
        for name, w in _nodes_arg(nodes):
            self._weights[name] = self._check_weight(w)
        self._rebuild()

    # ---- membership -------------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        """The node names, in the order they joined."""
        return tuple(self._weights)

    @property
    def weights(self) -> dict[str, float]:
        return dict(self._weights)

    def _check_weight(self, weight: object) -> float:
        return number("weight", weight, 0.0, above=True)

    def add(self, node: str, weight: float = 1) -> None:
        """``node`` joins with ``weight`` (a positive number: its share relative to the others)."""
        _check_name(node)
        if node in self._weights:
            raise ValueError(f"node must not already be a member (got {node!r}; members: "
                             f"{', '.join(self._weights)})")
        self._weights[node] = self._check_weight(weight)
        self._rebuild()

    def remove(self, node: str) -> None:
        """``node`` leaves; its keys go to the others."""
        self._check_member(node)
        if len(self._weights) == 1:
            raise ValueError(f"node {node!r} is the last member: a placement needs at least one node")
        del self._weights[node]
        self._rebuild()

    def _check_member(self, node: object) -> str:
        if node not in self._weights:
            raise ValueError(f"node must be one of {', '.join(self._weights)} (got {node!r})")
        return node  # type: ignore[return-value]

    def _rebuild(self) -> None:
        """Recompute derived tables after a membership change."""

    # ---- lookups ----------------------------------------------------------------------------------
    def owner(self, key: Hashable) -> str:
        """The node that owns ``key``."""
        return self.owner_of_hash(stable_hash(key))

    def owners(self, key: Hashable, n: int) -> list[str]:
        """``n`` distinct nodes for ``key``'s replicas, the owner first."""
        n = integer("n", n, 1, len(self._weights))
        return self.owners_of_hash(stable_hash(key), n)

    def owner_of_hash(self, h: int) -> str:
        raise NotImplementedError

    def owners_of_hash(self, h: int, n: int) -> list[str]:
        raise NotImplementedError

    def lookup(self, hashes: Sequence[int] | Any) -> Any:
        """Owners of many key hashes at once, as indexes into :attr:`nodes`.

        With numpy: ``hashes`` is a uint64 array (or a sequence of ints) and the answer an int64
        array. Without numpy: a list of ints. The default is a loop over ``owner_of_hash``;
        strategies override it with vectorized code.
        """
        index = {n: i for i, n in enumerate(self._weights)}
        if np is None:
            return [index[self.owner_of_hash(check_hash(h))] for h in hashes]
        arr = as_hash_array(hashes)
        return np.fromiter((index[self.owner_of_hash(int(h))] for h in arr), dtype=np.int64,
                           count=len(arr))

    def assignment(self, keys: Iterable[Hashable]) -> dict[Hashable, str]:
        """``{key: owner}`` for every key (in the order given)."""
        return {k: self.owner(k) for k in keys}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self._weights)} nodes: {', '.join(self._weights)}>"


# ---- mod-N ---------------------------------------------------------------------------------------------
class ModN(Placement):
    """``slots[h mod S]``: a node of integer weight ``w`` holds ``w`` slots. The baseline that
    reshuffles: changing S moves a key unless ``h mod S == h mod S'``."""

    kind = "modn"

    def _check_weight(self, weight: object) -> float:
        return float(integer("weight", weight, 1))

    def _rebuild(self) -> None:
        self._slots = [n for n, w in self._weights.items() for _ in range(int(w))]
        index = {n: i for i, n in enumerate(self._weights)}
        self._slot_index = [index[n] for n in self._slots]

    def owner_of_hash(self, h: int) -> str:
        return self._slots[check_hash(h) % len(self._slots)]

    def owners_of_hash(self, h: int, n: int) -> list[str]:
        # The next slots after the owner's, skipping nodes already chosen (a node may hold several).
        return distinct_from(self._slots, check_hash(h) % len(self._slots), n)

    def lookup(self, hashes: Sequence[int] | Any) -> Any:
        if np is None:
            return [self._slot_index[check_hash(h) % len(self._slots)] for h in hashes]
        arr = as_hash_array(hashes)
        return np.asarray(self._slot_index, dtype=np.int64)[arr % np.uint64(len(self._slots))]


# ---- the ring with virtual nodes -----------------------------------------------------------------------
class Ring(Placement):
    """Consistent hashing on a circle of 2**64 positions with virtual nodes.

    Node ``a`` of weight ``w`` sits at ``max(1, round(vnodes * w))`` positions, the hashes of
    ``("a", 0)``, ``("a", 1)``, ...; a key with hash ``h`` belongs to the node at the first
    position ``>= h``, and past the largest position it wraps to the smallest. A lookup is a
    binary search over the sorted positions: O(log V) for V virtual nodes.

    >>> ring = Ring(["a", "b", "c"], vnodes=50)
    >>> ring.owner("user:42") in ring.nodes
    True
    """

    kind = "ring"

    def __init__(self, nodes: Iterable[str] | Mapping[str, float], *, vnodes: int = 100):
        self.vnodes = integer("vnodes", vnodes, 1)
        self._positions: dict[str, list[int]] = {}   # node -> its vnode positions (cached across changes)
        super().__init__(nodes)

    def vnode_count(self, node: str) -> int:
        """How many positions ``node`` has: its weight times ``vnodes``, at least one."""
        return max(1, round(self.vnodes * self._weights[self._check_member(node)]))

    def _node_positions(self, node: str) -> list[int]:
        count = self.vnode_count(node)
        cached = self._positions.get(node)
        if cached is None or len(cached) != count:
            cached = [stable_hash((node, i)) for i in range(count)]
            self._positions[node] = cached
        return cached

    def _rebuild(self) -> None:
        for gone in [n for n in self._positions if n not in self._weights]:
            del self._positions[gone]
        # Sorted by (position, node index): two nodes hashing to one position (odds 2**-64 per
        # pair) still order the same way everywhere.
        points = sorted((p, i) for i, n in enumerate(self._weights) for p in self._node_positions(n))
        self._points = [p for p, _ in points]
        self._point_index = [i for _, i in points]
        names = list(self._weights)
        self._point_owner = [names[i] for i in self._point_index]
        if np is not None:
            self._points_np = np.array(self._points, dtype=np.uint64)
            self._point_index_np = np.array(self._point_index, dtype=np.int64)

    def points(self) -> list[tuple[int, str]]:
        """Every virtual node as ``(position, node)``, clockwise from 0 (for ring figures)."""
        return list(zip(self._points, self._point_owner, strict=True))

    def _slot(self, h: int) -> int:
        i = bisect.bisect_left(self._points, h)
        return 0 if i == len(self._points) else i      # wrap-around: past the top is the start

    def owner_of_hash(self, h: int) -> str:
        return self._point_owner[self._slot(check_hash(h))]

    def owners_of_hash(self, h: int, n: int) -> list[str]:
        # Dynamo's preference list: walk clockwise, skipping positions of nodes already chosen.
        i = self._slot(check_hash(h))
        out: list[str] = []
        total = len(self._points)
        for step in range(total):
            name = self._point_owner[(i + step) % total]
            if name not in out:
                out.append(name)
                if len(out) == n:
                    break
        return out

    def lookup(self, hashes: Sequence[int] | Any) -> Any:
        if np is None:
            return [self._point_index[self._slot(check_hash(h))] for h in hashes]
        arr = as_hash_array(hashes)
        slots = np.searchsorted(self._points_np, arr, side="left")
        slots[slots == len(self._points)] = 0           # wrap-around
        return self._point_index_np[slots]

    def arc_shares(self) -> dict[str, float]:
        """Each node's fraction of the circle (the load it would get from infinitely many keys)."""
        share = dict.fromkeys(self._weights, 0)
        total = len(self._points)
        for k in range(total):
            prev = self._points[k - 1] if k else self._points[-1] - (MASK64 + 1)
            share[self._point_owner[k]] += self._points[k] - prev
        return {n: s / (MASK64 + 1) for n, s in share.items()}


# ---- jump consistent hash ------------------------------------------------------------------------------
class JumpHash(Placement):
    """Jump consistent hash (Lamping & Veach 2014) over named buckets.

    Jump hash maps a key to a bucket *number* in 0..N-1, so names map to numbers through the
    list :attr:`nodes`: bucket ``i`` is ``nodes[i]``, and a joining node becomes bucket N. That
    join is exactly minimal: a key moves only if it now falls in bucket N.

    The paper's algorithm can only shrink from the end. Removing the *last* node is minimal
    too; removing any other node ``x`` is done here the usual way -- the last node's name takes
    over ``x``'s bucket number and the last bucket disappears -- so ``x``'s keys move (they must)
    *and* so do the last node's own keys (they need not): about 2K/N instead of K/N.
    Every bucket holds the same share: there are no weights (each node's weight is 1).
    """

    kind = "jump"

    def _check_weight(self, weight: object) -> float:
        if weight != 1 or isinstance(weight, bool):
            raise ValueError(f"weight must be 1 for jump hash (every bucket gets 1/N of the keys) "
                             f"(got {weight!r})")
        return 1.0

    def remove(self, node: str) -> None:
        self._check_member(node)
        if len(self._weights) == 1:
            raise ValueError(f"node {node!r} is the last member: a placement needs at least one node")
        names = list(self._weights)
        last = names.pop()
        if node != last:
            names[names.index(node)] = last     # the last bucket's name moves into the hole
        self._weights = dict.fromkeys(names, 1.0)
        self._rebuild()

    def _rebuild(self) -> None:
        self._names = list(self._weights)

    def owner_of_hash(self, h: int) -> str:
        return self._names[jump(check_hash(h), len(self._names))]

    def owners_of_hash(self, h: int, n: int) -> list[str]:
        # Replica i is the jump bucket of a re-mixed hash, skipping buckets already chosen; after
        # 8n tries (rare, only when n is close to N) the next buckets in order fill up the rest.
        h = check_hash(h)
        count = len(self._names)
        chosen = [jump(h, count)]
        salt = h
        for _ in range(8 * n):
            if len(chosen) == n:
                break
            salt = mix64((salt + 1) & MASK64)
            b = jump(salt, count)
            if b not in chosen:
                chosen.append(b)
        b = chosen[0]
        while len(chosen) < n:
            b = (b + 1) % count
            if b not in chosen:
                chosen.append(b)
        return [self._names[b] for b in chosen]

    def lookup(self, hashes: Sequence[int] | Any) -> Any:
        if np is None:
            return [jump(check_hash(h), len(self._names)) for h in hashes]
        return jump_array(as_hash_array(hashes), len(self._names))


# ---- rendezvous / highest random weight ----------------------------------------------------------------
class Rendezvous(Placement):
    """Highest random weight (Thaler & Ravishankar 1998), weighted.

    Node ``x`` scores key ``k`` with ``u = H(x, k)`` in (0, 1) and weight ``w``:
    ``score = -w / ln(u)``; the key goes to the top score, its replicas to the next ones. With
    that score a node wins with probability exactly ``w / sum(w)`` (Schindelhauer & Schomaker,
    "Weighted distributed hash tables", 2005). Adding a node moves only the keys it now wins;
    removing one moves only the keys it had -- exactly minimal, at the price of O(N) per lookup.
    ``H(x, k)`` mixes the key hash with a per-node seed (the hash of the node's name).
    """

    kind = "rendezvous"

    def _rebuild(self) -> None:
        self._names = list(self._weights)
        self._seeds = [stable_hash(("rendezvous", n)) for n in self._names]
        self._w = [self._weights[n] for n in self._names]
        if np is not None:
            self._seeds_np = np.array(self._seeds, dtype=np.uint64)
            self._w_np = np.array(self._w, dtype=np.float64)

    def scores(self, h: int) -> list[float]:
        """Every node's score for the key hash ``h`` (in :attr:`nodes` order)."""
        h = check_hash(h)
        return [-w / math.log(unit_interval(mix64(h ^ s))) for s, w in zip(self._seeds, self._w, strict=True)]

    def owner_of_hash(self, h: int) -> str:
        sc = self.scores(h)
        return self._names[max(range(len(sc)), key=sc.__getitem__)]   # first of equal scores wins

    def owners_of_hash(self, h: int, n: int) -> list[str]:
        sc = self.scores(h)
        order = sorted(range(len(sc)), key=lambda i: (-sc[i], i))
        return [self._names[i] for i in order[:n]]

    def lookup(self, hashes: Sequence[int] | Any) -> Any:
        if np is None:
            return [self._names.index(self.owner_of_hash(check_hash(h))) for h in hashes]
        arr = as_hash_array(hashes)
        best = np.full(arr.shape, -np.inf)
        out = np.zeros(arr.shape, dtype=np.int64)
        # One node at a time keeps memory at O(K); ">" keeps the first of equal scores, as above.
        for i in range(len(self._names)):
            u = ((mix64_array(arr ^ self._seeds_np[i]) >> np.uint64(11)).astype(np.float64) + 0.5) \
                / 9007199254740992.0
            score = -self._w_np[i] / np.log(u)
            better = score > best
            best[better] = score[better]
            out[better] = i
        return out


# ---- consistent hashing with bounded loads -------------------------------------------------------------
class BoundedLoadRing(Ring):
    """Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, SODA 2018).

    Keys are *placed* one by one (:meth:`place`). With ``m`` keys placed (counting the new one)
    and ``n`` nodes, each node's capacity is ``ceil((1 + eps) * m / n)``; a key goes to the
    first node clockwise from its hash that is below capacity. No node ever holds more than
    ``(1+eps)`` times the average, whatever the hashes do; the price is that a key's node depends
    on the keys placed before it. On a join or leave every placed key is placed again in the
    original order (the paper shows the expected number of moves stays O(1/eps**2) times the
    minimum; :func:`~distlib.partitioning.metrics.keys_moved` measures it).
    """

    kind = "bounded"

    def __init__(self, nodes: Iterable[str] | Mapping[str, float], *, vnodes: int = 100,
                 eps: float = 0.25):
        self.eps = number("eps", eps, 0.0, above=True)
        self._eps_exact = Fraction(repr(self.eps))     # 0.1 means one tenth, not 0.1000000000000000055
        self._order: list[int] = []                    # placed key hashes, in placement order
        self._placed: dict[int, str] = {}
        self._load: dict[str, int] = {}
        super().__init__(nodes, vnodes=vnodes)

    def capacity(self, m: int | None = None) -> int:
        """``ceil((1 + eps) * m / n)`` for ``m`` placed keys (default: one more than now)."""
        m = len(self._order) + 1 if m is None else integer("m", m, 0)
        return self._capacity(m)

    def _capacity(self, m: int) -> int:
        # exact integer ceiling of (1 + p/q) * m / n: Fraction arithmetic per placed key dominated a
        # panel redraw (9,000 placements: 0.5 s)
        p, q = self._eps_exact.numerator, self._eps_exact.denominator
        return -(-(q + p) * m // (q * len(self._weights)))

    def _rebuild(self) -> None:
        super()._rebuild()
        order = self._order
        self._order, self._placed = [], {}
        self._load = dict.fromkeys(self._weights, 0)
        for h in order:
            self._place(h)

    def _first_with_room(self, h: int, cap: int) -> str:
        i = self._slot(h)
        total = len(self._points)
        for step in range(total):
            name = self._point_owner[(i + step) % total]
            if self._load[name] < cap:
                return name
        raise AssertionError("unreachable: n * capacity >= (1+eps) * m > m - 1 keys already placed")

    def _place(self, h: int) -> str:
        node = self._first_with_room(h, self._capacity(len(self._order) + 1))
        self._order.append(h)
        self._placed[h] = node
        self._load[node] += 1
        return node

    def place(self, key: Hashable) -> str:
        """Place ``key`` (if it is not placed yet) and return its node."""
        h = stable_hash(key)
        return self._placed[h] if h in self._placed else self._place(h)

    def place_all(self, keys: Iterable[Hashable]) -> dict[Hashable, str]:
        """Place a stream of keys in order; ``{key: node}``."""
        return {k: self.place(k) for k in keys}

    def loads(self) -> dict[str, int]:
        """How many placed keys each node holds."""
        return dict(self._load)

    def owner_of_hash(self, h: int) -> str:
        """The node of a placed key; for a key not placed, where it would go if placed now."""
        h = check_hash(h)
        if h in self._placed:
            return self._placed[h]
        return self._first_with_room(h, self.capacity())

    def owners_of_hash(self, h: int, n: int) -> list[str]:
        # The bounded owner first, then the ring's clockwise successors (capacity bounds the owner only).
        first = self.owner_of_hash(h)
        rest = [x for x in super().owners_of_hash(h, min(n + 1, len(self._weights))) if x != first]
        return [first] + rest[:n - 1]

    def lookup(self, hashes: Sequence[int] | Any) -> Any:
        return Placement.lookup(self, hashes)


def make_placement(kind: str, nodes: Iterable[str] | Mapping[str, float], **options: Any) -> Placement:
    """A placement by name: ``"modn"``, ``"ring"``, ``"jump"``, ``"rendezvous"``, ``"bounded"``
    or ``"maglev"`` (:mod:`.maglev`).

    ``options``: ``vnodes`` for ring/bounded, ``eps`` for bounded, ``m`` (table size) for maglev.
    """
    from .maglev import Maglev  # maglev.py builds on this module's Placement

    classes: dict[str, type[Placement]] = {"modn": ModN, "ring": Ring, "jump": JumpHash,
                                           "rendezvous": Rendezvous, "bounded": BoundedLoadRing,
                                           "maglev": Maglev}
    if kind not in classes:
        raise ValueError(f"kind must be one of {', '.join(STRATEGIES)} (got {kind!r})")
    allowed = {"ring": ("vnodes",), "bounded": ("vnodes", "eps"), "maglev": ("m",)}.get(kind, ())
    for opt in options:
        if opt not in allowed:
            raise ValueError(f"option {opt!r} does not apply to {kind} (it takes: "
                             f"{', '.join(allowed) or 'no options'})")
    return classes[kind](nodes, **options)
