"""Probabilistically bounded staleness (Bailis et al., "Probabilistically Bounded Staleness for
Practical Partial Quorums", VLDB 2012; "Quantifying Eventual Consistency with PBS", CACM 2014):
**t-visibility**, the probability that a read issued ``t`` time units after a write committed
returns that write (or a newer one).

The WARS model (both papers): a write's coordinator sends it to all N
replicas (one-way delay W), each acknowledges (A); the write commits at the W-th ack, ``w_t``. A
read sent ``t`` after commit reaches each replica after R and comes back after S; the coordinator
takes the first ``r`` replies by R + S. A reply is fresh iff the write reached that replica first:
``W[i] <= w_t + t + R[i]``.

Three ways to get the numbers, which must agree:

* :func:`t_visibility` -- Monte-Carlo *in the simulator*: the Dynamo-style store (:mod:`.dynamo`)
  with N replicas and a coordinator outside the ring, so every replica is one hop away. With the
  default exponential model every link's one-way latency is exponential with mean ``mean``; with a
  named :class:`WarsModel` the write goes through coordinator ``cw`` and the read through ``cr``
  (the papers allow a different read coordinator), so each of W, A, R, S gets its own link
  distribution. The client's link to the coordinators takes no time, reads are issued at
  ``commit + t``; read repair, hinted handoff and anti-entropy are off (WARS has none of them).
* :func:`wars` -- the WARS model directly, vectorized with numpy: per trial the smallest ``t`` at
  which the read would be fresh (:func:`wars_sample`), so one sample gives the whole curve, the
  t at which 99.9 % is reached and the read/write latency percentiles.
* :func:`paper_comparison` -- our numbers beside the ones the papers publish (:data:`PAPER`).

The production models (:data:`MODELS`) are the papers' fits of LinkedIn's (Voldemort, SSD and
spinning disk) and Yammer's (Riak) latency statistics as mixtures of a Pareto body and an
exponential tail, in milliseconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from distlib.sim import Latency, World
from distlib.sim.validate import integer, number, one_of

from .dynamo import DynamoNode, Get, Put

DEFAULT_TIMES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


# ---- latency models ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParetoExp(Latency):
    """A one-way delay drawn, with probability ``pareto``, from a Pareto(``xm``, ``alpha``) and
    otherwise from an exponential with rate ``rate`` -- the shape of the PBS papers' production fits.
    A :class:`~distlib.sim.Latency`, so the simulator's links accept it."""

    pareto: float = 1.0
    xm: float = 1.0
    alpha: float = 2.0
    rate: float = 1.0

    @classmethod
    def make(cls, pareto: float, xm: float, alpha: float, rate: float) -> ParetoExp:
        return cls("pareto-exp", 0.0, 0.0, number("pareto", pareto, 0.0, 1.0),
                   number("xm", xm, above=True), number("alpha", alpha, above=True),
                   number("rate", rate, above=True))

    def sample(self, rng: random.Random) -> float:
        if rng.random() < self.pareto:
            return self.xm / (1.0 - rng.random()) ** (1.0 / self.alpha)   # 1 - U is in (0, 1]
        return rng.expovariate(self.rate)

    def draw(self, gen: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        body = self.xm / (1.0 - gen.random(shape)) ** (1.0 / self.alpha)
        tail = gen.exponential(1.0 / self.rate, shape)
        return np.where(gen.random(shape) < self.pareto, body, tail)

    @property
    def mean(self) -> float:
        body = math.inf if self.alpha <= 1 else self.alpha * self.xm / (self.alpha - 1)
        return self.pareto * body + (1 - self.pareto) / self.rate

    def __str__(self) -> str:
        return (f"{self.pareto:.2%} Pareto(xm={self.xm:g}, alpha={self.alpha:g}) + "
                f"{1 - self.pareto:.2%} Exp(rate={self.rate:g})")


def _draw(lat: Latency, gen: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """``shape`` samples of a latency (the simulator's kinds or a :class:`ParetoExp`)."""
    if isinstance(lat, ParetoExp):
        return lat.draw(gen, shape)
    if lat.kind == "constant":
        return np.full(shape, lat.a)
    if lat.kind == "uniform":
        return gen.uniform(lat.a, lat.b, shape)
    return lat.b + (gen.exponential(lat.a, shape) if lat.a > 0 else np.zeros(shape))


@dataclass(frozen=True)
class WarsModel:
    """The four WARS one-way delay distributions, plus ``wan``: for a WAN model, every replica but
    one random local one (chosen separately for the write and for the read) is ``wan`` further away
    each way (the VLDB paper's WAN scenario, 75 ms on top of LNKD-DISK)."""

    name: str
    w: Latency
    a: Latency
    r: Latency
    s: Latency
    wan: float = 0.0
    source: str = ""


def exponential_model(w_mean: float = 1.0, ars_mean: float = 1.0) -> WarsModel:
    """Exponential W with mean ``w_mean`` and A = R = S exponential with mean ``ars_mean`` (the
    papers' synthetic sweep: W rate lambda, A = R = S rate 1)."""
    w = Latency.exponential(number("w_mean", w_mean, above=True))
    ars = Latency.exponential(number("ars_mean", ars_mean, above=True))
    return WarsModel(f"exp(W mean {w_mean:g}, ARS mean {ars_mean:g})", w, ars, ars, ars,
                     source="exponential sweep (CACM 2014 fig. 'rwratio'; VLDB 2012 same figure)")


_SSD = ParetoExp.make(0.9122, 0.235, 10.0, 1.66)
_DISK_W = ParetoExp.make(0.38, 1.05, 1.51, 0.183)
_YMMR_W = ParetoExp.make(0.939, 3.0, 3.35, 0.0028)
_YMMR_ARS = ParetoExp.make(0.982, 1.5, 3.8, 0.0217)
_FITS = "VLDB 2012, table of distribution fits for production latencies (table:fits)"

#: The papers' production fits (milliseconds).
MODELS: dict[str, WarsModel] = {
    "LNKD-SSD": WarsModel("LNKD-SSD", _SSD, _SSD, _SSD, _SSD, source=_FITS),
    "LNKD-DISK": WarsModel("LNKD-DISK", _DISK_W, _SSD, _SSD, _SSD, source=_FITS),
    "YMMR": WarsModel("YMMR", _YMMR_W, _YMMR_ARS, _YMMR_ARS, _YMMR_ARS, source=_FITS),
    "WAN": WarsModel("WAN", _DISK_W, _SSD, _SSD, _SSD, wan=75.0, source=_FITS + " + 75 ms WAN hops"),
}


def model_of(model: str | WarsModel) -> WarsModel:
    if isinstance(model, WarsModel):
        return model
    return MODELS[str(one_of("model", model, list(MODELS)))]


# ---- the WARS model, vectorized ------------------------------------------------------------------------
@dataclass(frozen=True)
class WarsSample:
    """Per trial: ``tau`` the smallest t >= 0 at which the read is fresh, and the read and write
    latencies (R-th fastest R + S, W-th fastest W + A)."""

    tau: np.ndarray
    read_latency: np.ndarray
    write_latency: np.ndarray

    def p_visible(self, t: float) -> float:
        return float(np.mean(self.tau <= t))

    def t_at(self, p: float) -> float:
        """The smallest t at which a fraction ``p`` of reads is fresh: the ceil(p * trials)-th
        smallest threshold."""
        k = max(1, math.ceil(number("p", p, 0.0, 1.0) * len(self.tau) - 1e-9))
        return float(np.partition(self.tau, k - 1)[k - 1])


def _check_quorum(n: int, r: int, w: int, trials: int) -> None:
    integer("n", n, 1, 9)
    integer("r", r, 1, n)
    integer("w", w, 1, n)
    integer("trials", trials, 1)


def wars_sample(r: int, w: int, *, n: int = 3, model: str | WarsModel | None = None, mean: float = 1.0,
                trials: int = 100_000, seed: int = 0) -> WarsSample:
    """``trials`` independent WARS trials (default model: every delay exponential with ``mean``)."""
    _check_quorum(n, r, w, trials)
    m = exponential_model(mean, mean) if model is None else model_of(model)
    gen = np.random.default_rng([seed, n, r, w])
    shape = (trials, n)
    wd, ad, rd, sd = (_draw(lat, gen, shape) for lat in (m.w, m.a, m.r, m.s))
    if m.wan:
        rows = np.arange(trials)
        far_w = np.ones(shape, dtype=bool)
        far_w[rows, gen.integers(0, n, trials)] = False
        far_r = np.ones(shape, dtype=bool)
        far_r[rows, gen.integers(0, n, trials)] = False
        wd, ad = wd + m.wan * far_w, ad + m.wan * far_w
        rd, sd = rd + m.wan * far_r, sd + m.wan * far_r
    commit = np.sort(wd + ad, axis=1)[:, w - 1]
    first = np.argsort(rd + sd, axis=1, kind="stable")[:, :r]
    ahead = np.take_along_axis(wd - rd, first, axis=1).min(axis=1) - commit
    return WarsSample(np.maximum(ahead, 0.0), np.sort(rd + sd, axis=1)[:, r - 1], commit)


def _times(times: Sequence[float]) -> list[float]:
    if isinstance(times, str) or not times:
        raise ValueError(f"times must be a non-empty list of numbers >= 0 (got {times!r})")
    return [number("times", t, 0.0) for t in times]


def wars(r: int, w: int, *, n: int = 3, trials: int = 20_000, mean: float = 1.0,
         times: Sequence[float] = DEFAULT_TIMES, seed: int = 0,
         model: str | WarsModel | None = None) -> list[float]:
    """P(fresh read ``t`` after commit) for each ``t`` in ``times``, from the WARS model directly."""
    ts = _times(times)
    number("mean", mean, above=True)
    sample = wars_sample(r, w, n=n, model=model, mean=mean, trials=trials, seed=seed)
    return [sample.p_visible(t) for t in ts]


# ---- the same in the simulator -------------------------------------------------------------------------
def t_visibility(r: int, w: int, *, n: int = 3, trials: int = 500, mean: float = 1.0,
                 times: Sequence[float] = DEFAULT_TIMES, seed: int = 0,
                 model: str | WarsModel | None = None) -> list[float]:
    """P(a read ``t`` after commit sees the write) for each ``t`` in ``times``, simulated."""
    _check_quorum(n, r, w, trials)
    number("mean", mean, above=True)
    ts = _times(times)
    m = None if model is None else model_of(model)
    if m is not None and m.wan:
        raise ValueError(f"model {m.name!r} (a WAN model) is supported by wars() only, not simulated")
    world = World(seed, latency=Latency.exponential(mean))
    replicas = [f"n{i}" for i in range(1, n + 1)]
    cfg = dict(members=replicas, n=n, r=r, w=w, mode="vv", sloppy=False, read_repair=False,
               handoff_interval=None, ae_interval=None, op_timeout=1e9)
    world.add_nodes(DynamoNode, replicas, **cfg)
    writer, reader = ("co", "co") if m is None else ("cw", "cr")
    for coordinator in dict.fromkeys((writer, reader)):
        world.add_node(coordinator, DynamoNode, **cfg)
    client = world.client("c")
    for dst in dict.fromkeys((writer, reader)):
        world.set_link("c", dst, latency=0.0)
        world.set_link(dst, "c", latency=0.0)
    if m is not None:
        for rep in replicas:
            world.set_link(writer, rep, latency=m.w)
            world.set_link(rep, writer, latency=m.a)
            world.set_link(reader, rep, latency=m.r)
            world.set_link(rep, reader, latency=m.s)
    seen = [0] * len(ts)
    # Trials use distinct keys and nothing spreads a write but its own messages, so overlapping
    # trials cannot interfere; the spacing only keeps the trace readable.
    spacing = 60.0 * (mean if m is None else 1.0) + max(ts)

    def read(key: str, value: str, at: float, slot: int) -> Generator[Any, Any, None]:
        yield world.env.timeout(at)
        reply = yield from client.call(reader, Get(f"{key}/r{slot}", key), timeout=1e9)
        if value in reply.values:
            seen[slot] += 1

    def trial(i: int) -> Generator[Any, Any, None]:
        yield world.env.timeout(i * spacing)
        key, value = f"k{i}", f"v{i}"
        yield from client.call(writer, Put(f"{key}/w", key, value), timeout=1e9)
        for slot, t in enumerate(ts):
            world.process(read(key, value, t, slot))

    for i in range(trials):
        world.process(trial(i))
    world.run()
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


# ---- the published numbers -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    """One number a PBS paper publishes: ``quantity`` is ``"p@t"`` (probability of a fresh read at
    ``t`` ms after commit), ``"t@p"`` (ms until a fraction ``p`` of reads is fresh), ``"Lr"`` /
    ``"Lw"`` (99.9th-percentile read / write latency, ms). ``where`` cites the place."""

    model: str
    r: int
    w: int
    quantity: str
    at: float
    value: float
    where: str


_CACM = "CACM 2014, §PBS in Action"
_VLDB_T = "VLDB 2012, table of t at p_s=.001 and p99.9 latencies (table:lat-stale)"
#: Numbers found in the papers' text (N = 3), read from the authors' LaTeX sources: the CACM article
#: (github.com/pbailis/paper-repo-cacm-pbs-research-highlight, pbs-cacm.tex) and a revision of the
#: VLDB paper (github.com/pbailis/pbs-vldb-historical-paper-material, writeup/ernst.tex; the labels
#: in parentheses are its LaTeX labels). The "over" entry: the paper says "over 99.999 %".
PAPER: tuple[Published, ...] = (
    Published("exp W mean 0.25", 1, 1, "p@t", 0.0, 0.94, _CACM + ", Write Latency Distribution Effects"),
    Published("exp W mean 0.25", 1, 1, "t@p", 0.999, 1.0, _CACM + ", Write Latency Distribution Effects"),
    Published("exp W mean 10", 1, 1, "p@t", 0.0, 0.41, _CACM + ", Write Latency Distribution Effects"),
    Published("exp W mean 10", 1, 1, "t@p", 0.999, 65.0, _CACM + ", Write Latency Distribution Effects"),
    Published("LNKD-SSD", 1, 1, "p@t", 0.0, 0.974, _CACM + ", Staleness in Production"),
    Published("LNKD-SSD", 1, 1, "p@t", 5.0, 0.99999, _CACM + ", Staleness in Production (over)"),  # ">"
    Published("LNKD-SSD", 1, 1, "t@p", 0.999, 1.85, _VLDB_T),
    Published("LNKD-DISK", 1, 1, "p@t", 0.0, 0.439, _CACM + ", Staleness in Production"),
    Published("LNKD-DISK", 1, 1, "p@t", 10.0, 0.925, _CACM + ", Staleness in Production"),
    Published("LNKD-DISK", 1, 1, "t@p", 0.999, 45.5, _VLDB_T),
    Published("LNKD-DISK", 2, 1, "t@p", 0.999, 13.6, _VLDB_T),
    Published("LNKD-DISK", 1, 2, "t@p", 0.999, 43.3, _VLDB_T),
    Published("LNKD-DISK", 1, 1, "Lw", 0.999, 10.99, _VLDB_T),
    Published("YMMR", 1, 1, "p@t", 0.0, 0.893, _CACM + ", Staleness in Production"),
    Published("YMMR", 1, 1, "t@p", 0.999, 1364.0, _CACM + ", Staleness in Production"),
    Published("YMMR", 2, 1, "t@p", 0.999, 202.0, _VLDB_T),
    Published("YMMR", 1, 1, "Lr", 0.999, 5.58, _VLDB_T),
    Published("YMMR", 1, 1, "Lw", 0.999, 10.83, _VLDB_T),
    Published("YMMR", 3, 1, "Lr", 0.999, 219.27, _VLDB_T),
    Published("WAN", 1, 1, "t@p", 0.999, 113.0, _VLDB_T),
)


def _model_for(name: str) -> WarsModel:
    if name.startswith("exp W mean "):
        return exponential_model(float(name.split()[-1]), 1.0)
    return MODELS[name]


def paper_comparison(*, trials: int = 200_000, seed: int = 0) -> list[dict[str, Any]]:
    """Every :data:`PAPER` number beside ours from :func:`wars_sample` with the same model and
    quorum: rows ``{"model", "r", "w", "quantity", "at", "paper", "ours", "where"}``."""
    integer("trials", trials, 1000)
    samples: dict[tuple[str, int, int], WarsSample] = {}
    rows = []
    for pub in PAPER:
        key = (pub.model, pub.r, pub.w)
        if key not in samples:
            samples[key] = wars_sample(pub.r, pub.w, model=_model_for(pub.model), trials=trials, seed=seed)
        s = samples[key]
        if pub.quantity == "p@t":
            ours = s.p_visible(pub.at)
        elif pub.quantity == "t@p":
            ours = s.t_at(pub.at)
        else:
            lat = s.read_latency if pub.quantity == "Lr" else s.write_latency
            ours = float(np.quantile(lat, pub.at))
        rows.append({"model": pub.model, "r": pub.r, "w": pub.w, "quantity": pub.quantity, "at": pub.at,
                     "paper": pub.value, "ours": ours, "where": pub.where})
    return rows


def comparison_text(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of :func:`paper_comparison` as a fixed-width table."""
    lines = [f"{'model':<16} {'R':>1} {'W':>1}  {'quantity':<22} {'paper':>9} {'ours':>9}  where"]
    for row in rows:
        q, at = row["quantity"], row["at"]
        what = {"p@t": f"P(fresh) at t={at:g} ms", "t@p": f"t for {at:.1%} fresh, ms",
                "Lr": f"read latency p{at * 100:g}", "Lw": f"write latency p{at * 100:g}"}[q]
        fmt = "{:>9.5f}" if q == "p@t" else "{:>9.2f}"
        lines.append(f"{row['model']:<16} {row['r']:>1} {row['w']:>1}  {what:<22} "
                     f"{fmt.format(row['paper'])} {fmt.format(row['ours'])}  {row['where']}")
    return "\n".join(lines)


__all__ = ["DEFAULT_TIMES", "MODELS", "PAPER", "ParetoExp", "Published", "WarsModel", "WarsSample",
           "comparison_text", "exponential_model", "model_of", "paper_comparison", "pbs_curves",
           "standard_error", "t_visibility", "wars", "wars_sample"]
