"""Fault schedules (the "nemesis"): explicit or drawn at random from a seed.

>>> schedule = FaultSchedule([crash("n2", at=1.5, restart=3.0),
...                           partition(["n1"], ["n2", "n3"], at=2, heal=4)])
>>> schedule.apply(world)          # doctest: +SKIP

A schedule is an ordered tuple of small frozen faults, so it can be printed,
compared, replayed and shrunk (remove faults, shorten them) by the checkers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from .rng import check_seed, stream
from .validate import integer, number
from .validate import names as name_list

if TYPE_CHECKING:
    from .world import World


@dataclass(frozen=True)
class CrashFault:
    node: str
    at: float
    restart: float | None = None

    def check(self, world: World) -> None:
        world._check_node(self.node)

    def apply(self, world: World) -> None:
        self.check(world)
        world.at(self.at, lambda: world.crash(self.node))
        if self.restart is not None:
            world.at(self.restart, lambda: world.restart(self.node))

    def __str__(self) -> str:
        back = f", restart at {self.restart:g}" if self.restart is not None else ""
        return f"crash {self.node} at {self.at:g}{back}"


@dataclass(frozen=True)
class PauseFault:
    node: str
    at: float
    resume: float

    def check(self, world: World) -> None:
        world._check_node(self.node)

    def apply(self, world: World) -> None:
        self.check(world)
        world.at(self.at, lambda: world.pause(self.node))
        world.at(self.resume, lambda: world.resume(self.node))

    def __str__(self) -> str:
        return f"pause {self.node} at {self.at:g} until {self.resume:g}"


@dataclass(frozen=True)
class PartitionFault:
    groups: tuple[tuple[str, ...], ...]
    at: float
    heal: float | None = None

    def check(self, world: World) -> None:
        from .network import Network
        Network.validate_groups(self.groups, tuple(world.nodes), tuple(world.clients))

    def apply(self, world: World) -> None:
        self.check(world)
        world.at(self.at, lambda: world.partition(*self.groups))
        if self.heal is not None:
            world.at(self.heal, world.heal)

    def __str__(self) -> str:
        sides = " | ".join(",".join(g) for g in self.groups)
        back = f", heal at {self.heal:g}" if self.heal is not None else ""
        return f"partition {sides} at {self.at:g}{back}"


@dataclass(frozen=True)
class CutFault:
    src: str
    dst: str
    at: float
    heal: float | None = None

    def check(self, world: World) -> None:
        # Now, as crash/pause/partition do -- not when the run reaches ``at``.
        for n in (self.src, self.dst):
            if n not in world.nodes and n not in world.clients:
                raise ValueError(f"cut names unknown node {n!r}; known nodes: {', '.join(world.nodes)}")

    def apply(self, world: World) -> None:
        self.check(world)
        world.at(self.at, lambda: world.cut(self.src, self.dst))
        if self.heal is not None:
            world.at(self.heal, world.heal)

    def __str__(self) -> str:
        back = f", heal at {self.heal:g}" if self.heal is not None else ""
        return f"cut {self.src}->{self.dst} at {self.at:g}{back}"


Fault = Union[CrashFault, PauseFault, PartitionFault, CutFault]
_FAULT_TYPES = (CrashFault, PauseFault, PartitionFault, CutFault)


def _times(at: float, end: float | None, end_name: str) -> tuple[float, float | None]:
    at = number("at", at, 0.0)
    if end is not None:
        end = number(end_name, end, at)
    return at, end


def _name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a node name, a non-empty string (got {value!r})")
    return value


def crash(node: str, *, at: float, restart: float | None = None) -> CrashFault:
    """Crash ``node`` at time ``at``; restart it from storage at ``restart`` (if given)."""
    at, restart = _times(at, restart, "restart")
    return CrashFault(_name("node", node), at, restart)


def pause(node: str, *, at: float, resume: float) -> PauseFault:
    """Pause ``node`` at ``at`` until ``resume`` (a pause always ends)."""
    at = number("at", at, 0.0)
    resume = number("resume", resume, at)
    return PauseFault(_name("node", node), at, resume)


def partition(*groups: Sequence[str], at: float, heal: float | None = None) -> PartitionFault:
    """Partition into ``groups`` at ``at``; heal everything at ``heal`` (if given)."""
    at, heal = _times(at, heal, "heal")
    # Each group is a list of names: partition("n1", "n2") would split the names into letters.
    checked = tuple(name_list("groups", g) for g in groups) if groups else ()
    if not checked:
        raise ValueError("groups must be at least one list of node names, e.g. partition(['n1'], at=1) "
                         "(unlisted nodes form one more group)")
    flat = [n for g in checked for n in g]
    twice = sorted({n for n in flat if flat.count(n) > 1})
    if twice:
        raise ValueError(f"groups must put each node in one group only (node {twice[0]!r} appears in "
                         f"two groups)")
    return PartitionFault(checked, at, heal)


def cut(src: str, dst: str, *, at: float, heal: float | None = None) -> CutFault:
    """Cut the one-way link ``src -> dst`` at ``at``."""
    at, heal = _times(at, heal, "heal")
    if _name("src", src) == _name("dst", dst):
        raise ValueError(f"cut needs two different nodes (got {src!r} twice)")
    return CutFault(src, dst, at, heal)


class FaultSchedule:
    """An ordered, immutable collection of faults."""

    def __init__(self, faults: Iterable[Fault] = ()):
        if isinstance(faults, str):
            raise ValueError(f"faults must be fault values such as crash('n1', at=1); for text use "
                             f"distlib.sim.parse_schedule (got {faults!r})")
        try:
            self.faults: tuple[Fault, ...] = tuple(faults)
        except TypeError:
            raise ValueError(f"faults must be a list of fault values such as crash('n1', at=1) "
                             f"(got {faults!r})") from None
        for f in self.faults:
            if not isinstance(f, _FAULT_TYPES):
                raise ValueError(f"faults must hold only crash/pause/partition/cut faults (got {f!r})")

    def apply(self, world: World) -> None:
        """Schedule every fault in ``world``; a fault naming an unknown node is refused before any
        fault is scheduled (not when the run reaches it)."""
        for f in self.faults:
            f.check(world)
        for f in self.faults:
            f.apply(world)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.faults)

    def __len__(self) -> int:
        return len(self.faults)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FaultSchedule) and self.faults == other.faults

    def __hash__(self) -> int:
        return hash(self.faults)

    def __repr__(self) -> str:
        return f"FaultSchedule({list(self.faults)!r})"

    def describe(self) -> str:
        return "; ".join(str(f) for f in self.faults) or "no faults"

    def without(self, index: int) -> FaultSchedule:
        return FaultSchedule(self.faults[:index] + self.faults[index + 1:])

    @classmethod
    def random(cls, seed: int, nodes: Sequence[str], *, horizon: float, faults: int = 3,
               kinds: Sequence[str] = ("crash", "partition", "pause"),
               max_duration: float | None = None) -> FaultSchedule:
        """``faults`` faults drawn from ``seed`` within [0, horizon); each heals before ``horizon``.

        ``kinds`` chooses among "crash" (with restart), "crash-stop" (no restart),
        "partition", "pause" and "cut".
        """
        check_seed(seed)
        allowed = ("crash", "crash-stop", "partition", "pause", "cut")
        if isinstance(kinds, str) or not kinds:
            raise ValueError(f"kinds must be a non-empty list drawn from {allowed} (got {kinds!r})")
        for k in kinds:
            if k not in allowed:
                raise ValueError(f"kinds must be drawn from {allowed} (got {k!r})")
        nodes = name_list("nodes", nodes)
        horizon = number("horizon", horizon, 0.0)
        integer("faults", faults, 0)
        span = number("max_duration", max_duration) if max_duration is not None else horizon / 2
        rng = stream(seed, "nemesis")
        names = list(nodes)
        out: list[Fault] = []
        for _ in range(faults):
            kind = rng.choice(list(kinds))
            at = round(rng.uniform(0, horizon * 0.8), 3)
            end = round(min(horizon, at + rng.uniform(0.05, 1.0) * span), 3)
            if kind == "crash":
                out.append(CrashFault(rng.choice(names), at, end))
            elif kind == "crash-stop":
                out.append(CrashFault(rng.choice(names), at, None))
            elif kind == "pause":
                out.append(PauseFault(rng.choice(names), at, end))
            elif kind == "cut" and len(names) >= 2:
                src, dst = rng.sample(names, 2)
                out.append(CutFault(src, dst, at, end))
            elif len(names) >= 2:
                shuffled = names[:]
                rng.shuffle(shuffled)
                k = rng.randint(1, len(shuffled) - 1)
                out.append(PartitionFault((tuple(sorted(shuffled[:k])), tuple(sorted(shuffled[k:]))),
                                          at, end))
        return cls(sorted(out, key=lambda f: f.at))
