"""Chapter 06's figures: the hash ring, load per node, the measured curves, and a shard migration.

>>> fig = ring_figure(ring, keys, before=old_ring)        # doctest: +SKIP
>>> print(ring_summary(ring, keys, before=old_ring))      # doctest: +SKIP

* :func:`ring_figure` -- the circle of 2**64 positions, drawn clockwise from the top (position 0).
  A ring's virtual nodes are ticks on the circle in their node's colour; every key is a dot at its
  hash position, coloured by its owner (any strategy: for mod-N, jump hash or rendezvous the dots
  show that ownership has nothing to do with position). Given ``before`` (the placement before a
  join or leave), the keys that changed owner are circled and, for two rings, the **arcs that
  changed owner** -- a joiner's stolen arcs -- are drawn as thick arcs outside the circle. A bar
  chart beside the circle shows keys per node, after and before.
* :func:`load_figure` -- keys per node against the mean (the load histogram).
* :func:`spread_figure` / :func:`movement_figure` -- the rows of
  :func:`~distlib.partitioning.metrics.imbalance_vs_vnodes` and
  :func:`~distlib.partitioning.metrics.movement_table`, plotted.
* :func:`migration_figure` -- a sharded-store run (:func:`~distlib.partitioning.sharded_kv.run_sharded`)
  as a space-time diagram (:func:`~distlib.viz.spacetime`) above the **shard map over time**: one
  lane per shard that moved, coloured by the owner the map names, with the moments the shard's data
  left its old owner and arrived at the new one.

Each figure has a ``*_summary`` text twin (nbval compares text; plotly JSON is excluded). Figures are
pure functions of their inputs: same inputs, same JSON.
"""

from __future__ import annotations

import html
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from distlib.partitioning.hashing import hash_array
from distlib.partitioning.placement import BoundedLoadRing, Placement, Ring
from distlib.sim import Deliver, Send

from . import theme
from .spacetime import describe, spacetime

if TYPE_CHECKING:
    from distlib.partitioning.sharded_kv import ShardedRun

# Okabe & Ito without vermillion (faults), then Tol's "muted" scheme: 12 distinguishable node colours.
NODE_COLORS: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#B8A200",
    "#332288", "#44AA99", "#882255", "#999933", "#AA4499", "#117733",
)
MOVED = "#000000"
CIRCLE = 2 ** 64
ARC_SAMPLES = 600          # points spent on drawing changed arcs, whatever their number (speed)


# ---- helpers -------------------------------------------------------------------------------------------
def node_colors(*placements: Placement | None) -> dict[str, str]:
    """A colour per node, in order of first appearance over ``placements`` (a node keeps its colour
    before and after a change)."""
    names: dict[str, None] = {}
    for p in placements:
        if p is not None:
            names.update(dict.fromkeys(p.nodes))
    return {n: NODE_COLORS[i % len(NODE_COLORS)] for i, n in enumerate(names)}


def _xy(h: int, r: float = 1.0) -> tuple[float, float]:
    """Position ``h`` on a circle of radius ``r``: 0 at the top, increasing clockwise."""
    a = 2 * math.pi * (h / CIRCLE)
    return r * math.sin(a), r * math.cos(a)


def _check_placement(name: str, p: object, *, optional: bool = False) -> Placement | None:
    if p is None and optional:
        return None
    if not isinstance(p, Placement):
        raise ValueError(f"{name} must be a placement (Ring, ModN, JumpHash, Rendezvous, BoundedLoadRing) "
                         f"(got {type(p).__name__})")
    return p


def _keys(keys: Sequence[Hashable]) -> list[Hashable]:
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
        raise ValueError(f"keys must be a list of keys (got {type(keys).__name__})")
    return list(keys)


def _owners(p: Placement, keys: list[Hashable], hashes: Any) -> list[str]:
    if isinstance(p, BoundedLoadRing):
        return [p.owner(k) for k in keys]   # placed keys answer from the placement, others as if placed now
    idx = p.lookup(hashes)                  # the batch path (numpy searchsorted for the ring)
    names = p.nodes
    return [names[i] for i in (idx.tolist() if hasattr(idx, "tolist") else idx)]


def _analyse(placement: object, keys: Sequence[Hashable], before: object) -> tuple:
    """Checked inputs and every key's hash and owner, after and before: computed once per drawing."""
    p = _check_placement("placement", placement)
    b = _check_placement("before", before, optional=True)
    ks = _keys(keys)
    arr = hash_array(ks)
    hashes = arr.tolist() if hasattr(arr, "tolist") else list(arr)
    owners = _owners(p, ks, arr)
    old = _owners(b, ks, arr) if b is not None else None
    return p, b, ks, hashes, owners, old


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _change(before: Placement | None, after: Placement) -> tuple[list[str], list[str]]:
    if before is None:
        return [], []
    joined = [n for n in after.nodes if n not in before.nodes]
    left = [n for n in before.nodes if n not in after.nodes]
    return joined, left


def changed_arcs(before: Ring, after: Ring) -> list[tuple[int, int, str, str]]:
    """Every arc of the circle whose owner differs between two rings: ``(start, end, old, new)``,
    the arc being the positions ``start+1 .. end`` (wrapping past the top when ``start > end``),
    clockwise from 0, adjacent arcs with the same change merged."""
    for name, r in (("before", before), ("after", after)):
        if not isinstance(r, Ring):
            raise ValueError(f"{name} must be a Ring (got {type(r).__name__})")
    cuts = sorted({p for p, _ in before.points()} | {p for p, _ in after.points()})
    out: list[tuple[int, int, str, str]] = []
    for i, end in enumerate(cuts):
        start = cuts[i - 1] if i else cuts[-1]      # the first arc wraps: (last cut, MASK64] + [0, first]
        old, new = before.owner_of_hash(end), after.owner_of_hash(end)
        if old == new:
            continue
        if out and out[-1][1] == start and out[-1][2:] == (old, new):
            out[-1] = (out[-1][0], end, old, new)
        else:
            out.append((start, end, old, new))
    if len(out) > 1 and out[0][0] == out[-1][1] and out[0][2:] == out[-1][2:]:
        first = out.pop(0)                          # merge across the top of the circle
        out[-1] = (out[-1][0], first[1], first[2], first[3])
    return out


def _plain_ring(p: Placement | None) -> bool:
    """A ring whose owners are fixed by arcs (a bounded-load ring's depend on the keys placed)."""
    return isinstance(p, Ring) and not isinstance(p, BoundedLoadRing)


def _arc_length(start: int, end: int) -> int:
    return (end - start) % CIRCLE or CIRCLE


# ---- the ring -------------------------------------------------------------------------------------------
def ring_figure(placement: Placement, keys: Sequence[Hashable], *, before: Placement | None = None,
                title: str | None = None, loads: bool = True) -> go.Figure:
    """The circle with virtual nodes and keys coloured by owner; what changed since ``before``.

    ``keys``: the keys to draw (a few hundred to a few thousand). ``loads``: add the keys-per-node
    bars on the right.
    """
    return _ring_figure(_analyse(placement, keys, before), title=title, loads=loads)


def _ring_figure(analysis: tuple, *, title: str | None, loads: bool) -> go.Figure:
    p, b, ks, hashes, owners, old = analysis
    colors = node_colors(b, p)
    data: list[dict[str, Any]] = []
    ring_x, ring_y = "x", "y"

    # The circle itself, with 0 marked at the top.
    t = [2 * math.pi * i / 240 for i in range(241)]
    data.append(dict(type="scatter", x=[math.sin(a) for a in t], y=[math.cos(a) for a in t], mode="lines",
                     line=dict(color="#BBBBBB", width=1), hoverinfo="skip", showlegend=False,
                     xaxis=ring_x, yaxis=ring_y))

    # Arcs that changed owner (two rings only), thick, outside the circle, in the new owner's colour.
    arcs: list[tuple[int, int, str, str]] = []
    if _plain_ring(b) and _plain_ring(p):
        arcs = changed_arcs(b, p)
        total = sum(_arc_length(s, e) for s, e, _, _ in arcs) or 1
        by_new: dict[str, tuple[list, list, list]] = {}
        for s, e, loser, new in arcs:
            length = _arc_length(s, e)
            steps = max(2, round(ARC_SAMPLES * length / total))
            xs, ys, text = by_new.setdefault(new, ([], [], []))
            label = html.escape(f"arc {loser} → {new}: {_pct(length / CIRCLE)} of the circle")
            for i in range(steps + 1):
                x, y = _xy((s + length * i // steps) % CIRCLE, 1.1)
                xs.append(x)
                ys.append(y)
                text.append(label)
            xs.append(None)
            ys.append(None)
            text.append(None)
        first = True
        for new, (xs, ys, text) in by_new.items():
            data.append(dict(type="scatter", x=xs, y=ys, text=text, hoverinfo="text", mode="lines",
                             line=dict(color=colors[new], width=7), name="arcs that changed owner",
                             legendgroup="arcs", showlegend=first, xaxis=ring_x, yaxis=ring_y))
            first = False

    # Virtual nodes: one tick mark per position, turned to point at the centre; one trace per node
    # (one point per vnode and no per-point text keep big rings quick to redraw).
    if isinstance(p, Ring):
        ticks: dict[str, tuple[list, list, list]] = {n: ([], [], []) for n in p.nodes}
        for pos, owner in p.points():
            xs, ys, angles = ticks[owner]
            x, y = _xy(pos)
            xs.append(round(x, 5))
            ys.append(round(y, 5))
            angles.append(round(360 * pos / CIRCLE, 2))
        for node, (xs, ys, angles) in ticks.items():
            data.append(dict(type="scatter", x=xs, y=ys, mode="markers", name=f"{node} vnodes",
                             marker=dict(symbol="line-ns", angle=angles, size=14,
                                         line=dict(color=colors[node], width=2.5)),
                             hovertemplate=f"vnode of {html.escape(node)}<extra></extra>",
                             legendgroup=node, showlegend=False, xaxis=ring_x, yaxis=ring_y))

    # Keys: dots inside the circle, coloured by owner.
    for node in p.nodes:
        idx = [i for i, o in enumerate(owners) if o == node]
        pts = [_xy(hashes[i], 0.86) for i in idx]
        data.append(dict(type="scatter", x=[x for x, _ in pts], y=[y for _, y in pts], mode="markers",
                         marker=dict(color=colors[node], size=6), name=f"{node}", legendgroup=node,
                         text=[html.escape(f"{ks[i]!r} → {node}") for i in idx], hoverinfo="text",
                         xaxis=ring_x, yaxis=ring_y))
    moved: list[int] = []
    if b is not None:
        moved = [i for i in range(len(ks)) if old[i] != owners[i]]
        pts = [_xy(hashes[i], 0.86) for i in moved]
        data.append(dict(type="scatter", x=[x for x, _ in pts], y=[y for _, y in pts], mode="markers",
                         marker=dict(symbol="circle-open", color=MOVED, size=11, line=dict(width=1.5)),
                         name=f"moved ({len(moved)})", hoverinfo="text",
                         text=[html.escape(f"{ks[i]!r}: {old[i]} → {owners[i]}") for i in moved],
                         xaxis=ring_x, yaxis=ring_y))

    layout: dict[str, Any] = dict(
        height=520, margin=dict(l=20, r=20, t=70, b=30), hovermode="closest",
        legend=dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom"),
        xaxis=dict(range=[-1.25, 1.25], visible=False, domain=[0, 0.58] if loads else [0, 1]),
        yaxis=dict(range=[-1.25, 1.25], visible=False, scaleanchor="x", scaleratio=1),
        annotations=[dict(x=0, y=1.17, xref="x", yref="y", text="0", showarrow=False,
                          font=dict(size=11, color=theme.TEXT))],
    )
    if loads:
        counts = _counts(p, owners)
        names = list(p.nodes)
        data.append(dict(type="bar", x=names, y=[counts[n] for n in names], name="keys now",
                         marker=dict(color=[colors[n] for n in names]), xaxis="x2", yaxis="y2",
                         showlegend=False, hovertemplate="%{x}: %{y} keys<extra></extra>"))
        if b is not None:
            was = _counts(b, old)
            data.append(dict(type="scatter", x=list(b.nodes), y=[was[n] for n in b.nodes], mode="markers",
                             marker=dict(symbol="line-ew", size=26, line=dict(width=3, color=MOVED)),
                             name="keys before", xaxis="x2", yaxis="y2",
                             hovertemplate="%{x} before: %{y} keys<extra></extra>"))
        mean = len(ks) / len(names)
        layout["xaxis2"] = dict(domain=[0.68, 1], anchor="y2", type="category",
                                categoryorder="array", categoryarray=list(colors))
        layout["yaxis2"] = dict(anchor="x2", title=dict(text="keys per node"), rangemode="tozero")
        layout["shapes"] = [dict(type="line", xref="x2 domain", yref="y2", x0=0, x1=1, y0=mean, y1=mean,
                                 line=dict(color=theme.TEXT, width=1, dash="dash"))]
        layout["annotations"].append(dict(xref="x2 domain", yref="y2", x=1, y=mean, xanchor="right",
                                          yanchor="bottom", showarrow=False, text=f"mean {mean:.0f}",
                                          font=dict(size=11)))
    if title is None:
        title = _title(p, b, len(ks), len(moved))
    layout["title"] = dict(text=html.escape(title), y=0.98, yref="container", yanchor="top")
    return go.Figure(data=data, layout=layout, _validate=False)


def _counts(p: Placement, owners: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(p.nodes, 0)
    for o in owners:
        counts[o] += 1
    return counts


def _describe_placement(p: Placement) -> str:
    name = {"modn": "mod-N", "ring": "ring", "jump": "jump hash", "rendezvous": "rendezvous",
            "bounded": "bounded-load ring"}.get(p.kind, p.kind)
    if isinstance(p, Ring):
        extra = f", eps {p.eps:g}" if isinstance(p, BoundedLoadRing) else ""
        positions = sum(p.vnode_count(n) for n in p.nodes)
        return f"{name}: {len(p.nodes)} nodes x {p.vnodes} vnodes ({positions} positions{extra})"
    return f"{name}: {len(p.nodes)} nodes"


def _title(p: Placement, b: Placement | None, keys: int, moved: int) -> str:
    joined, left = _change(b, p)
    what = "; ".join([f"{n} joins" for n in joined] + [f"{n} leaves" for n in left])
    head = _describe_placement(p)
    if b is None:
        return head
    return f"{head} — {what or 'no change'}: {moved} of {keys} keys moved ({_pct(moved / max(keys, 1))})"


def ring_summary(placement: Placement, keys: Sequence[Hashable], *, before: Placement | None = None) -> str:
    """The text twin of :func:`ring_figure`: loads, and what a join/leave moved against the ideal."""
    return _ring_summary(_analyse(placement, keys, before))


def _ring_summary(analysis: tuple) -> str:
    p, b, ks, _hashes, owners, old = analysis
    counts = _counts(p, owners)
    mean = len(ks) / len(p.nodes)
    values = list(counts.values())
    cv = math.sqrt(sum((c - mean) ** 2 for c in values) / len(values)) / mean if mean else 0.0
    lines = [f"{_describe_placement(p)}; {len(ks)} keys",
             "keys per node: " + ", ".join(f"{n} {c}" for n, c in counts.items())
             + f" (max/mean {max(values) / mean if mean else 0:.2f}, CV {cv:.3f})"]
    if b is None:
        return "\n".join(lines)
    moved = sum(1 for o, n in zip(old, owners, strict=True) if o != n)
    joined, left = _change(b, p)
    k = len(ks)
    if joined and not left:
        necessary = sum(1 for o in owners if o in joined)
        ideal = k * len(joined) / len(p.nodes)
        lines.append(f"{', '.join(joined)} joins: {moved} of {k} keys moved ({_pct(moved / max(k, 1))}); "
                     f"necessary {necessary} (the keys {', '.join(joined)} now owns); "
                     f"ideal K/(N+1) = {ideal:.0f}")
    elif left and not joined:
        necessary = sum(1 for o in old if o in left)
        ideal = k * len(left) / len(b.nodes)
        lines.append(f"{', '.join(left)} leaves: {moved} of {k} keys moved ({_pct(moved / max(k, 1))}); "
                     f"necessary {necessary} (the keys {', '.join(left)} owned); ideal K/N = {ideal:.0f}")
    else:
        lines.append(f"{moved} of {k} keys moved ({_pct(moved / max(k, 1))})")
    if _plain_ring(b) and _plain_ring(p):
        arcs = changed_arcs(b, p)
        share = sum(_arc_length(s, e) for s, e, _, _ in arcs) / CIRCLE
        gainers = sorted({new for _, _, _, new in arcs}, key=list(p.nodes).index)
        losers = sorted({old for _, _, old, _ in arcs}, key=list(b.nodes).index)
        lines.append(f"arcs that changed owner: {len(arcs)}, {_pct(share)} of the circle; from "
                     f"{', '.join(losers) or 'nobody'} to {', '.join(gainers) or 'nobody'}")
    return "\n".join(lines)


# ---- the chapter's panel -----------------------------------------------------------------------------
CHANGES = ("join", "leave n1", "leave last", "no change")


def ring_change(strategy: str = "ring", nodes: int = 4, vnodes: int = 8, change: str = "join",
                keys: int = 500, seed: int = 0, eps: float = 0.25) -> tuple[go.Figure, str]:
    """One join or leave, drawn: ``nodes`` nodes ``n1..nN`` placed by ``strategy``; ``change`` is
    ``"join"`` (node N+1 joins), ``"leave n1"``, ``"leave last"`` or ``"no change"``; ``keys`` keys
    ``"{seed}/key{i}"``. Returns (:func:`ring_figure`, :func:`ring_summary`) -- for a
    :class:`~distlib.viz.Panel`. Bad values raise ValueError (the panel shows the message)."""
    from distlib.partitioning.placement import make_placement
    from distlib.sim.validate import integer

    nodes = integer("nodes", nodes, 1, 26)
    count = integer("keys", keys, 1, 20_000)
    if change not in CHANGES:
        raise ValueError(f"change must be one of {', '.join(CHANGES)} (got {change!r})")
    opts: dict[str, Any] = {}
    if strategy in ("ring", "bounded"):
        opts["vnodes"] = vnodes
    if strategy == "bounded":
        opts["eps"] = eps
    names = [f"{seed}/key{i}" for i in range(count)]

    def build() -> Placement:
        p = make_placement(strategy, [f"n{i}" for i in range(1, nodes + 1)], **opts)
        if isinstance(p, BoundedLoadRing):
            p.place_all(names)       # bounded loads: keys are placed in order; a change re-places them
        return p

    before, after = build(), build()   # two builds are cheaper than a deep copy of a big ring
    if change == "join":
        after.add(f"n{nodes + 1}")
    elif change == "leave n1":
        after.remove("n1")
    elif change == "leave last":
        after.remove(f"n{nodes}")
    prev = None if change == "no change" else before
    analysis = _analyse(after, names, prev)
    text = _ring_summary(analysis)
    if strategy not in ("ring", "bounded"):
        text += f"\n(vnodes apply to the ring only: {strategy} ignores them)"
    return _ring_figure(analysis, title=None, loads=True), text


# ---- load per node -------------------------------------------------------------------------------------
def load_figure(loads: Mapping[str, int], *, title: str | None = None) -> go.Figure:
    """Keys per node as bars, with the mean and the max/mean ratio (a :class:`LoadStats`' ``loads``)."""
    if not isinstance(loads, Mapping) or not loads:
        raise ValueError(f"loads must be a non-empty {{node: key count}} mapping (got {loads!r})")
    names = list(loads)
    counts = [loads[n] for n in names]
    mean = sum(counts) / len(counts)
    colors = {n: NODE_COLORS[i % len(NODE_COLORS)] for i, n in enumerate(names)}
    ratio = max(counts) / mean if mean else 0.0
    data = [dict(type="bar", x=names, y=counts, marker=dict(color=[colors[n] for n in names]),
                 hovertemplate="%{x}: %{y} keys<extra></extra>", showlegend=False)]
    layout = dict(
        title=dict(text=html.escape(title or f"Keys per node (max/mean {ratio:.2f})")),
        height=340, margin=dict(l=60, r=20, t=60, b=50),
        xaxis=dict(type="category", title=dict(text="node")),
        yaxis=dict(title=dict(text="keys"), rangemode="tozero"),
        shapes=[dict(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=mean, y1=mean,
                     line=dict(color=theme.TEXT, width=1, dash="dash"))],
        annotations=[dict(xref="x domain", yref="y", x=1, y=mean, xanchor="right", yanchor="bottom",
                          showarrow=False, text=f"mean {mean:.0f}")],
    )
    return go.Figure(data=data, layout=layout, _validate=False)


def load_summary(loads: Mapping[str, int]) -> str:
    names = list(loads)
    counts = [loads[n] for n in names]
    mean = sum(counts) / len(counts)
    cv = math.sqrt(sum((c - mean) ** 2 for c in counts) / len(counts)) / mean if mean else 0.0
    lo = min(names, key=lambda n: (loads[n], names.index(n)))
    hi = max(names, key=lambda n: (loads[n], -names.index(n)))
    return (f"{len(names)} nodes, {sum(counts)} keys, mean {mean:.1f}; fullest {hi} {loads[hi]} "
            f"(max/mean {max(counts) / mean if mean else 0:.2f}), emptiest {lo} {loads[lo]}; CV {cv:.3f}")


# ---- the measured curves ----------------------------------------------------------------------------
def spread_figure(rows: Sequence[Mapping[str, float]], *, title: str | None = None) -> go.Figure:
    """Load spread against virtual nodes (rows of ``metrics.imbalance_vs_vnodes``), log-log."""
    rows = _rows(rows, ("vnodes", "cv", "cv_arcs", "expected_cv", "max_over_mean"))
    v = [r["vnodes"] for r in rows]
    data = [
        dict(type="scatter", x=v, y=[r["expected_cv"] for r in rows], mode="lines", name="1/√v (theory)",
             line=dict(color=theme.TEXT, dash="dash")),
        dict(type="scatter", x=v, y=[r["cv_arcs"] for r in rows], mode="lines+markers",
             name="CV of arc shares (the vnode effect)", line=dict(color=NODE_COLORS[0])),
        dict(type="scatter", x=v, y=[r["cv"] for r in rows], mode="lines+markers",
             name="CV of key counts (+ sampling noise)", line=dict(color=NODE_COLORS[1])),
        dict(type="scatter", x=v, y=[r["max_over_mean"] - 1 for r in rows], mode="lines+markers",
             name="max/mean − 1 (fullest node's excess)", line=dict(color=NODE_COLORS[2], dash="dot")),
    ]
    layout = dict(
        title=dict(text=html.escape(title or "Load spread vs virtual nodes per node")),
        height=420, margin=dict(l=70, r=20, t=60, b=50),
        legend=dict(x=1, y=1, xanchor="right", yanchor="top"),
        xaxis=dict(type="log", title=dict(text="virtual nodes per node (v)")),
        yaxis=dict(type="log", title=dict(text="spread")),
    )
    return go.Figure(data=data, layout=layout, _validate=False)


def spread_summary(rows: Sequence[Mapping[str, float]]) -> str:
    from distlib.partitioning.metrics import fit_exponent

    rows = _rows(rows, ("vnodes", "cv", "cv_arcs", "expected_cv", "max_over_mean"))
    lines = [f"{'vnodes':>7} {'CV arcs':>8} {'CV keys':>8} {'1/sqrt(v)':>9} {'max/mean':>9}"]
    lines += [f"{r['vnodes']:>7} {r['cv_arcs']:>8.3f} {r['cv']:>8.3f} {r['expected_cv']:>9.3f} "
              f"{r['max_over_mean']:>9.2f}" for r in rows]
    if len(rows) >= 2:
        slope = fit_exponent([r["vnodes"] for r in rows], [r["cv_arcs"] for r in rows])
        lines.append(f"fitted: CV of arc shares ~ v^{slope:.2f} (theory: v^-0.50)")
    return "\n".join(lines)


def _rows(rows: Sequence[Mapping[str, Any]], need: tuple[str, ...]) -> list[Mapping[str, Any]]:
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or not rows:
        raise ValueError("rows must be a non-empty list of dicts (the rows of a distlib.partitioning.metrics "
                         "function)")
    for r in rows:
        missing = [k for k in need if not isinstance(r, Mapping) or k not in r]
        if missing:
            raise ValueError(f"rows must have the keys {', '.join(need)} (missing {', '.join(missing)})")
    return list(rows)


_KIND_NAMES = {"modn": "mod-N", "ring": "ring", "jump": "jump", "rendezvous": "rendezvous",
               "bounded": "bounded"}


def movement_figure(rows: Sequence[Mapping[str, Any]], *, title: str | None = None) -> go.Figure:
    """Keys moved / ideal per strategy, on a join and on a leave (rows of ``metrics.movement_table``)."""
    rows = _rows(rows, ("kind", "change", "ratio", "moved", "ideal", "minimal"))
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    data = []
    for i, change in enumerate(("join", "leave")):
        sel = {r["kind"]: r for r in rows if r["change"] == change}
        if not sel:
            continue
        xs = [_KIND_NAMES.get(k, k) for k in kinds if k in sel]
        data.append(dict(
            type="bar", x=xs, y=[sel[k]["ratio"] for k in kinds if k in sel], name=f"one node {change}s",
            marker=dict(color=NODE_COLORS[i]), text=[f"{sel[k]['ratio']:.2f}" for k in kinds if k in sel],
            textposition="outside",
            hovertext=[html.escape(f"{k} {change}: {sel[k]['moved']:.0f} moved, ideal {sel[k]['ideal']:.0f}"
                                   + (", minimal" if sel[k]["minimal"] else ""))
                       for k in kinds if k in sel], hoverinfo="text"))
    top = max(r["ratio"] for r in rows)
    layout = dict(
        title=dict(text=html.escape(title or "Keys moved by one join or leave, relative to the ideal")),
        barmode="group", height=400, margin=dict(l=70, r=20, t=60, b=50),
        yaxis=dict(title=dict(text="keys moved / ideal (K/(N+1) or K/N)"), range=[0, top * 1.15]),
        shapes=[dict(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=1, y1=1,
                     line=dict(color=theme.TEXT, width=1, dash="dash"))],
    )
    return go.Figure(data=data, layout=layout, _validate=False)


def movement_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    rows = _rows(rows, ("kind", "change", "ratio", "moved", "ideal", "minimal", "nodes", "keys"))
    first = rows[0]
    lines = [f"{first['keys']} keys, {first['nodes']} nodes before the change",
             f"{'strategy':<11} {'change':<6} {'moved':>8} {'ideal':>8} {'ratio':>6}  minimal"]
    lines += [f"{_KIND_NAMES.get(r['kind'], r['kind']):<11} {r['change']:<6} {r['moved']:>8.0f} "
              f"{r['ideal']:>8.0f} {r['ratio']:>6.2f}  {'yes' if r['minimal'] else 'no'}" for r in rows]
    return "\n".join(lines)


# ---- a shard migration --------------------------------------------------------------------------------
def _map_history(run: ShardedRun) -> list[tuple[float, int, tuple[str, ...]]]:
    """(time, version, owners) of every shard map cfg published, starting with the initial one."""
    from distlib.partitioning.sharded_kv import CFG, MapUpdate, assignment

    opts = {"vnodes": run.vnodes} if run.strategy in ("ring", "bounded") else {}
    maps = [(0.0, 0, assignment(run.strategy, run.members, run.shards, **opts))]
    for r in run.world.trace:
        if isinstance(r, Send) and r.src == CFG and isinstance(r.msg, MapUpdate) \
                and r.msg.map.version > maps[-1][1]:
            maps.append((r.time, r.msg.map.version, r.msg.map.owners))
    return maps


def _owner_runs(maps: list[tuple[float, int, tuple[str, ...]]], shard: int,
                end: float) -> list[tuple[float, float, str, int]]:
    """Shard ``shard``'s owners over time as (start, stop, owner, map version of the start) runs."""
    runs: list[tuple[float, float, str, int]] = []
    for k, (t, version, owners) in enumerate(maps):
        stop = maps[k + 1][0] if k + 1 < len(maps) else end
        if runs and runs[-1][2] == owners[shard]:
            runs[-1] = (runs[-1][0], stop, owners[shard], runs[-1][3])
        else:
            runs.append((t, stop, owners[shard], version))
    return runs


def shard_moves(run: ShardedRun) -> list[dict[str, Any]]:
    """Every shard handoff in ``run``: shard, epoch, from, to, when its data was first sent, when it
    first arrived, and when the map first named the new owner (None if that never happened)."""
    from distlib.partitioning.sharded_kv import ShardData

    sent: dict[tuple[int, int], tuple[float, str, str]] = {}
    arrived: dict[tuple[int, int], float] = {}
    for r in run.world.trace:
        if isinstance(r, Send) and isinstance(r.msg, ShardData):
            sent.setdefault((r.msg.shard, r.msg.epoch), (r.time, r.src, r.dst))
        elif isinstance(r, Deliver) and isinstance(r.msg, ShardData):
            arrived.setdefault((r.msg.shard, r.msg.epoch), r.time)
    maps = _map_history(run)
    moves = []
    for (shard, epoch), (t_sent, src, dst) in sorted(sent.items(), key=lambda kv: (kv[1][0], kv[0])):
        switches = [maps[k][0] for k in range(1, len(maps))
                    if maps[k][2][shard] == dst and maps[k - 1][2][shard] != dst]
        named = min(switches, key=lambda t: (abs(t - t_sent), t)) if switches else None
        moves.append({"shard": shard, "epoch": epoch, "src": src, "dst": dst, "sent": t_sent,
                      "arrived": arrived.get((shard, epoch)), "map": named})
    return moves


def migration_figure(run: ShardedRun, *, title: str | None = None) -> go.Figure:
    """The run's space-time diagram above the shard map over time (one lane per shard that moved)."""
    from distlib.partitioning.sharded_kv import ShardedRun

    if not isinstance(run, ShardedRun):
        raise ValueError(f"run must be a ShardedRun (from run_sharded) (got {type(run).__name__})")
    fig = spacetime(run.world, title=title if title is not None else run.summary())
    maps = _map_history(run)
    moves = shard_moves(run)
    moved_shards = sorted({s for s in range(run.shards) if len({m[2][s] for m in maps}) > 1}
                          | {m["shard"] for m in moves})
    end = max(fig.layout.xaxis.range[1], maps[-1][0])
    nodes = sorted({o for _, _, owners in maps for o in owners}, key=lambda n: (len(n), n))
    colors = {n: NODE_COLORS[i % len(NODE_COLORS)] for i, n in enumerate(nodes)}
    lane = {s: i for i, s in enumerate(moved_shards)}
    bars: dict[str, tuple[list, list, list]] = {}
    for s in moved_shards:
        for start, stop, owner, version in _owner_runs(maps, s, end):
            xs, ys, text = bars.setdefault(owner, ([], [], []))
            label = html.escape(f"s{s} on {owner} (map v{version}) {start:.3f}–{stop:.3f}")
            xs += [start, stop, None]
            ys += [lane[s], lane[s], None]
            text += [label, label, None]
    extra: list[dict[str, Any]] = []
    for owner in nodes:
        if owner in bars:
            xs, ys, text = bars[owner]
            extra.append(dict(type="scatter", x=xs, y=ys, text=text, hoverinfo="text", mode="lines",
                              line=dict(color=colors[owner], width=9), name=f"map: {owner}",
                              legendgroup=f"map-{owner}", xaxis="x2", yaxis="y2", legendrank=500))
    sends = [m for m in moves if m["shard"] in lane]
    extra.append(dict(type="scatter", x=[m["sent"] for m in sends], y=[lane[m["shard"]] for m in sends],
                      mode="markers", name="data sent (source freezes)", xaxis="x2", yaxis="y2",
                      marker=dict(symbol="triangle-right", size=10, color="#FFFFFF",
                                  line=dict(color=theme.TEXT, width=1.5)), legendrank=510,
                      hovertext=[html.escape(f"s{m['shard']} e{m['epoch']}: {m['src']} sends data to "
                                             f"{m['dst']} at {m['sent']:.3f}") for m in sends],
                      hoverinfo="text"))
    got = [m for m in sends if m["arrived"] is not None]
    extra.append(dict(type="scatter", x=[m["arrived"] for m in got], y=[lane[m["shard"]] for m in got],
                      mode="markers", name="data arrived", xaxis="x2", yaxis="y2", legendrank=520,
                      marker=dict(symbol="diamond", size=9, color=theme.TEXT),
                      hovertext=[html.escape(f"s{m['shard']} e{m['epoch']}: data at {m['dst']} at "
                                             f"{m['arrived']:.3f}") for m in got], hoverinfo="text"))
    early = [m for m in sends if m["map"] is not None and (m["arrived"] is None or m["map"] < m["arrived"])]
    if early:
        extra.append(dict(type="scatter", x=[m["map"] for m in early], y=[lane[m["shard"]] for m in early],
                          mode="markers", name="map switched before the data arrived", xaxis="x2",
                          yaxis="y2", legendrank=530,
                          marker=dict(symbol="x", size=12, color=theme.FAULT),
                          hovertext=[html.escape(f"s{m['shard']}: map names {m['dst']} at {m['map']:.3f}, "
                                                 f"data arrives {_t(m['arrived'])}")
                                      for m in early],
                          hoverinfo="text"))
    top_height = fig.layout.height
    lanes_px = 26 * max(len(moved_shards), 1) + 60
    total = top_height + lanes_px
    split = lanes_px / total
    fig.add_traces(extra)
    fig.update_layout(
        height=total,
        xaxis=dict(rangeslider=dict(visible=False), anchor="y"),
        yaxis=dict(domain=[split + 0.04, 1]),
        xaxis2=dict(matches="x", anchor="y2", title=dict(text="simulated time (s)"), showgrid=True),
        yaxis2=dict(domain=[0, split - 0.02], tickmode="array", tickvals=list(range(len(moved_shards))),
                    ticktext=[f"s{s}" for s in moved_shards], range=[len(moved_shards) - 0.5, -0.7],
                    fixedrange=True, title=dict(text="shard map")),
    )
    fig.layout.xaxis.title = None
    return fig


def migration_summary(run: ShardedRun) -> str:
    """The text twin of :func:`migration_figure`: the map versions and every handoff's timing."""
    maps = _map_history(run)
    moves = shard_moves(run)

    def count(owners: tuple[str, ...]) -> str:
        c: dict[str, int] = {}
        for o in owners:
            c[o] = c.get(o, 0) + 1
        return ", ".join(f"{n} {c[n]}" for n in sorted(c, key=lambda n: (len(n), n)))

    lines = [run.summary(), describe(run.world),
             f"shard map: v0 ({count(maps[0][2])}) -> v{maps[-1][1]} at t={maps[-1][0]:.3f} "
             f"({count(maps[-1][2])})"]
    early = 0
    for m in moves:
        arrived = "never" if m["arrived"] is None else f"{m['arrived']:.3f}"
        named = "never" if m["map"] is None else f"{m['map']:.3f}"
        flag = ""
        if m["map"] is not None and (m["arrived"] is None or m["map"] < m["arrived"]):
            flag = "  <- map switched before the data arrived"
            early += 1
        lines.append(f"  s{m['shard']:<3} e{m['epoch']} {m['src']}->{m['dst']}: data sent {m['sent']:.3f}, "
                     f"arrived {arrived}, map names {m['dst']} at {named}{flag}")
    lines.append(f"{len(moves)} handoffs; {early} with the map ahead of the data")
    return "\n".join(lines)


__all__ = ["CHANGES", "NODE_COLORS", "changed_arcs", "load_figure", "load_summary", "migration_figure",
           "migration_summary", "movement_figure", "movement_summary", "node_colors", "ring_figure",
           "ring_change", "ring_summary", "shard_moves", "spread_figure", "spread_summary"]


def _t(t: float | None) -> str:
    return "never" if t is None else f"{t:.3f}"
