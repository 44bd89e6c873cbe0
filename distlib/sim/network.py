"""The network model: latency, loss, duplication, reordering, partitions and cuts.

:class:`Network` only *decides* (is this link up? how late is this copy?); the
:class:`~distlib.sim.world.World` schedules the deliveries. All randomness comes
from the one ``random.Random`` the world hands in.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Union

from .validate import number


@dataclass(frozen=True)
class Latency:
    """A one-way delay distribution: ``constant``, ``uniform`` or ``exponential``.

    ``Latency.uniform(0.01, 0.03)`` draws from [0.01, 0.03]; ``exponential(mean, low)``
    draws ``low`` plus an exponential with the given mean.
    """

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def constant(cls, delay: float) -> Latency:
        return cls("constant", number("latency", delay, 0.0))

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        low = number("latency low", low, 0.0)
        high = number("latency high", high, 0.0)
        if high < low:
            raise ValueError(f"latency high must be >= low (got low={low}, high={high})")
        return cls("uniform", low, high)

    @classmethod
    def exponential(cls, mean: float, low: float = 0.0) -> Latency:
        mean = number("latency mean", mean, 0.0)
        return cls("exponential", mean, number("latency low", low, 0.0))

    @classmethod
    def of(cls, spec: LatencySpec) -> Latency:
        """Coerce a spec: a Latency, a number (constant) or a ``(low, high)`` pair (uniform)."""
        if isinstance(spec, Latency):
            return spec
        if isinstance(spec, tuple) and len(spec) == 2:
            return cls.uniform(*spec)
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            return cls.constant(spec)
        raise ValueError(
            f"latency must be a number, a (low, high) pair or a Latency (got {spec!r})")

    def sample(self, rng: random.Random) -> float:
        if self.kind == "constant":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return self.b + (rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0)

    @property
    def mean(self) -> float:
        if self.kind == "constant":
            return self.a
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return self.a + self.b

    def __str__(self) -> str:
        if self.kind == "constant":
            return f"{self.a:g}"
        if self.kind == "uniform":
            return f"U({self.a:g}, {self.b:g})"
        return f"{self.b:g}+Exp(mean {self.a:g})"


LatencySpec = Union[Latency, float, int, tuple]


@dataclass(frozen=True)
class LinkConfig:
    """How one directed link behaves. Probabilities are per message copy."""

    latency: Latency = Latency("uniform", 0.01, 0.03)
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0          # probability a message is held back ...
    reorder_delay: float = 0.1    # ... by an extra delay drawn from [0, reorder_delay]

    @classmethod
    def make(cls, latency: LatencySpec | None = None, loss: float = 0.0, duplicate: float = 0.0,
             reorder: float = 0.0, reorder_delay: float = 0.1,
             base: LinkConfig | None = None) -> LinkConfig:
        base = base or cls()
        return replace(
            base,
            latency=base.latency if latency is None else Latency.of(latency),
            loss=number("loss", loss, 0.0, 1.0),
            duplicate=number("duplicate", duplicate, 0.0, 1.0),
            reorder=number("reorder", reorder, 0.0, 1.0),
            reorder_delay=number("reorder_delay", reorder_delay, 0.0),
        )


class Network:
    """Link configuration and the current partition/cut state."""

    def __init__(self, config: LinkConfig | None = None):
        self.config = config or LinkConfig()
        self.overrides: dict[tuple[str, str], LinkConfig] = {}
        self._group: dict[str, int] = {}        # node -> partition group; empty = no partition
        self._cuts: set[tuple[str, str]] = set()

    # ---- configuration ---------------------------------------------------------------
    def set_link(self, src: str, dst: str, config: LinkConfig) -> None:
        self.overrides[(src, dst)] = config

    # ---- partitions --------------------------------------------------------------------
    @staticmethod
    def validate_groups(groups: Iterable[Sequence[str]], known: Sequence[str],
                        clients: Sequence[str] = ()) -> tuple[tuple[str, ...], ...]:
        """Check a partition: every name known, none twice. Unlisted nodes form one extra group.

        Clients may be placed in a group; an unplaced client reaches every side.
        """
        if isinstance(groups, (str, bytes)):
            raise ValueError("groups must be a list of lists of node names (got a string)")
        out: list[tuple[str, ...]] = []
        seen: set[str] = set()
        for g in groups:
            if isinstance(g, str):
                raise ValueError(f"groups must be a list of lists of node names (got {g!r} as a group)")
            group = tuple(g)
            for n in group:
                if n not in known and n not in clients:
                    raise ValueError(f"groups names unknown node {n!r}; known nodes: {', '.join(known)}")
                if n in seen:
                    raise ValueError(f"groups names node {n!r} twice; each node may be in one group only")
                seen.add(n)
            if group:
                out.append(group)
        rest = tuple(n for n in known if n not in seen)
        if rest:
            out.append(rest)
        return tuple(out)

    def partition(self, groups: tuple[tuple[str, ...], ...]) -> None:
        self._group = {n: i for i, g in enumerate(groups) for n in g}

    def cut(self, src: str, dst: str) -> None:
        """Cut the one-way link src -> dst."""
        self._cuts.add((src, dst))

    def heal(self) -> None:
        self._group = {}
        self._cuts = set()

    def blocked(self, src: str, dst: str) -> str | None:
        """Why src -> dst cannot carry a message right now ("partition"/"cut"), or None."""
        if src == dst:
            return None
        if (src, dst) in self._cuts:
            return "cut"
        g = self._group
        if g:
            gs, gd = g.get(src), g.get(dst)
            if gs is not None and gd is not None and gs != gd:
                return "partition"
        return None
