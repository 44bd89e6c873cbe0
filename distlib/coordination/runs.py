"""Runs of the lock service: a cell, clients, the resource server, faults — and what they saw.

:func:`run_cell` builds and runs one world and returns a :class:`LockRun` (everything the checkers
in :mod:`distlib.check.lockservice` read). The named stories:

* :func:`primary_election` — three clients compete for ``/ls/cell/svc/primary``; the winner writes
  its name into the file and writes to the resource with its sequencer.
* :func:`gc_pause` — the primary is paused (a long GC) after deciding to write; its session expires,
  another client becomes primary and writes; then the paused one wakes and sends its late write.
  ``fenced=True``: the resource rejects it (stale sequencer). ``fenced=False``: it lands after the
  new primary's writes — the effects of two lock generations interleave (the checker catches it).
* :func:`failover` — the master crashes while clients hold sessions; with the grace period the
  sessions survive the election, without it (``grace=False``) the clients give them up.
* :func:`random_lockservice` — the sweep's run: random crashes, partitions, pauses, loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlib.sim import Annotate, FaultSchedule, Pause, Resume, Send, World, as_schedule, stream
from distlib.sim.validate import flag, integer, number, subclass

from .cell import (
    CELL,
    AmnesiacServer,
    CellConfig,
    CellReply,
    ChubbyServer,
    EagerInvalidationServer,
    ResourceServer,
)
from .client import PRIMARY, ChubbyClient
from .namespace import Command

VARIANTS = ("correct", "no-fencing", "no-grace", "long-client-lease", "amnesiac-master", "stale-cache")


@dataclass
class LockRun:
    """What one run produced (read by the checkers and the views)."""

    world: World
    seed: int
    config: CellConfig
    fenced: bool
    events: dict[str, list[tuple[float, str, Any]]] = field(default_factory=dict)
    writes: list[tuple] = field(default_factory=list)
    ops: list[tuple] = field(default_factory=list)
    log: list[Command] = field(default_factory=list)
    replies: list[tuple[float, str, CellReply]] = field(default_factory=list)
    pauses: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    masters: list[tuple[float, str]] = field(default_factory=list)
    until: float = 0.0
    note: str = ""

    @property
    def outcome(self) -> str:
        rejected = sum(1 for w in self.writes if not w[4])
        return "rejected-writes" if rejected else "no-rejections"

    def summary(self) -> str:
        accepted = sum(1 for w in self.writes if w[4])
        gens = sorted({w[2] for w in self.writes if w[4]})
        sessions = sum(1 for evs in self.events.values() for e in evs if e[1] == "session")
        expired = sum(1 for evs in self.events.values() for e in evs if e[1] == "expired")
        return (f"lock service seed {self.seed}{self.note}: {len(self.masters)} master(s) ready, "
                f"{sessions} sessions opened, {expired} expired; resource accepted {accepted} writes "
                f"(generations {gens}), rejected {len(self.writes) - accepted}; "
                f"{len(self.ops)} namespace ops")


def _collect(world: World, seed: int, config: CellConfig, fenced: bool, until: float, note: str) -> LockRun:
    run = LockRun(world, seed, config, fenced, until=until, note=note)
    for name, node in world.nodes.items():
        if isinstance(node, ChubbyClient):
            run.events[name] = list(node.storage.get("events", []))
            run.ops.extend(node.storage.get("ops", []))
            op = getattr(node, "current_op", None)
            if op is not None and world.status[name] != "crashed":
                # Still waiting at the end: it may or may not have taken effect.
                run.ops.append((*op[:5], None, until, "info"))
        elif isinstance(node, ResourceServer):
            run.writes.extend(node.storage.get("writes", []))
    # The committed log: the longest committed prefix any replica holds (crashed ones included).
    best: tuple[int, list[Command]] = (-1, [])
    for name in CELL:
        node = world.nodes.get(name)
        if not isinstance(node, ChubbyServer):
            continue
        st = node.storage
        commit = getattr(node, "commit_index", 0) if world.status[name] == "up" else 0
        snap = st["snapshot"].last_index
        entries = st["log"][:max(0, commit - snap)]
        if commit > best[0] and snap == 0:
            best = (commit, [e.command for e in entries if isinstance(e.command, Command)])
    run.log = best[1]
    opened: dict[str, float] = {}
    for rec in world.trace:
        if isinstance(rec, Send) and isinstance(rec.msg, CellReply) and rec.src in CELL:
            run.replies.append((rec.time, rec.dst, rec.msg))
        elif isinstance(rec, Pause):
            opened[rec.node] = rec.time
        elif isinstance(rec, Resume) and rec.node in opened:
            run.pauses.setdefault(rec.node, []).append((opened.pop(rec.node), rec.time))
        elif isinstance(rec, Annotate) and rec.text == "master ready" and rec.node is not None:
            run.masters.append((rec.time, rec.node))
    for node, t in opened.items():
        run.pauses.setdefault(node, []).append((t, until))
    return run


def run_cell(seed: int = 0, *, election: int = 3, workload: int = 0, ops: int = 10,
             config: CellConfig | None = None, fenced: bool = True, hold: float | None = None,
             server_cls: type[ChubbyServer] = ChubbyServer, faults: FaultSchedule | str | None = None,
             loss: float = 0.0, latency: Any = (0.002, 0.008), until: float = 6.0,
             clock_rates: dict[str, float] | None = None, note: str = "", idle: int = 0,
             write_delay: float = 0.01, keys: tuple[str, ...] = ("a", "b"),
             mixes: dict[str, tuple[float, ...]] | None = None,
             actions: list[tuple[float, str, str]] | None = None, **raft: Any) -> LockRun:
    """A cell of five (``n1..n5``), ``election`` clients ``c1..`` competing for the primary lock,
    ``workload`` clients ``w1..`` doing namespace operations, ``idle`` clients ``i1..`` holding
    sessions only, and the resource server ``res``; ``raft`` goes to the replicas (e.g.
    ``election_timeout``).

    ``actions`` are scripted faults ``(time, "pause"|"resume"|"crash"|"restart"|"gc", node)``;
    ``node`` may be ``"master"`` or ``"primary"`` (see :func:`_action`); ``gc`` makes the node decide
    to write and then pauses it.
    """
    integer("seed", seed)
    integer("election", election, 0, 9)
    integer("workload", workload, 0, 9)
    integer("ops", ops, 0)
    config = config if config is not None else CellConfig()
    if not isinstance(config, CellConfig):
        raise ValueError(f"config must be a CellConfig (got {config!r})")
    flag("fenced", fenced)
    subclass("server_cls", server_cls, ChubbyServer)
    until = number("until", until, above=True)
    world = World(seed, latency=latency, loss=number("loss", loss, 0.0, 0.5))
    integer("idle", idle, 0, 9)
    world.add_nodes(server_cls, list(CELL), config=config, **raft)
    world.add_node("res", ResourceServer, lock=PRIMARY, fenced=fenced)
    rates = clock_rates or {}
    rng = stream(seed, "lockservice/clients")
    for i in range(1, election + 1):
        name = f"c{i}"
        world.add_node(name, ChubbyClient, config=config, app="election", fenced_writes=fenced, hold=hold,
                       clock_rate=rates.get(name, 1.0), start=round(rng.uniform(0.0, 0.3), 3),
                       write_delay=write_delay)
    for i in range(1, workload + 1):
        name = f"w{i}"
        extra = {"mix": mixes[name]} if mixes and name in mixes else {}
        world.add_node(name, ChubbyClient, config=config, app="workload", ops=ops, keys=keys, **extra,
                       clock_rate=rates.get(name, 1.0), start=round(rng.uniform(0.0, 0.3), 3))
    for i in range(1, idle + 1):
        name = f"i{i}"
        world.add_node(name, ChubbyClient, config=config, app="idle", clock_rate=rates.get(name, 1.0),
                       start=round(rng.uniform(0.0, 0.3), 3))
    schedule = as_schedule(faults, list(world.nodes))
    if schedule is not None:
        schedule.apply(world)
    resolved: dict[str, str] = {}
    for t, what, node in actions or []:
        world.at(t, _action(world, what, node, resolved))
    world.run(until=until)
    return _collect(world, seed, config, fenced, until, note)


def _action(world: World, what: str, node: str, resolved: dict[str, str]):
    """A scripted fault. ``node`` may be ``"master"`` (the ready master) or ``"primary"`` (the client
    that believes it holds the lock), resolved at the first action that names it; a suffix
    (``"primary#2"``) names another one, resolved separately."""
    def go() -> None:
        target = resolved.get(node, node)
        role = node.split("#")[0]         # "primary#2": a second, separately resolved primary
        if what in ("resume", "restart") and role in ("master", "primary") and node not in resolved:
            return                          # its pause/crash found no one to act on
        if role == "master" and node not in resolved:
            up = [n for n in CELL if world.status[n] == "up" and getattr(world.nodes[n], "ready", False)]
            if not up:
                return
            target = resolved[node] = up[0]
        elif role == "primary" and node not in resolved:
            up = [n for n, c in world.nodes.items() if isinstance(c, ChubbyClient) and c.believes]
            if not up:
                return
            target = resolved[node] = up[0]
        if what == "gc":
            # Kleppmann's pause: the primary has just decided to write; then it stops.
            world.nodes[target].decide_write()
            what_now = "pause"
        else:
            what_now = what
        world.annotate(None, f"{what} {target}")
        getattr(world, what_now)(target)
    return go


# ---- the stories -----------------------------------------------------------------------------------
def primary_election(seed: int = 0, *, until: float = 3.0) -> LockRun:
    """Three clients, one primary; nothing fails."""
    return run_cell(seed, election=3, until=until, note=" (primary election)")


def gc_pause(seed: int = 0, *, fenced: bool = True, lock_delay: float = 0.0, pause_at: float = 1.0,
             pause_for: float = 2.0, until: float = 5.0) -> LockRun:
    """Two clients; at ``pause_at`` the primary decides to write and is paused for ``pause_for``
    seconds before the write leaves (a stop-the-world GC). Its session expires meanwhile and the
    other client becomes primary and writes; then the paused one resumes and its write goes out."""
    flag("fenced", fenced)
    number("lock_delay", lock_delay)
    pause_at = number("pause_at", pause_at, above=True)
    pause_for = number("pause_for", pause_for, above=True)
    config = CellConfig(lock_delay=lock_delay)
    return run_cell(seed, election=2, config=config, fenced=fenced, until=until,
                    note=f" (GC pause {pause_for:g}s, {'fenced' if fenced else 'NOT fenced'}"
                         f"{f', lock-delay {lock_delay:g}s' if lock_delay else ''})",
                    actions=[(pause_at, "gc", "primary"), (pause_at + pause_for, "resume", "primary")])


def failover(seed: int = 0, *, grace: bool = True, crash_at: float = 1.0, down_for: float = 0.8,
             until: float = 4.0) -> LockRun:
    """The master crashes at ``crash_at`` (restarts ``down_for`` later) while three idle clients hold
    sessions; the election timeout is long (0.4–0.8 s) so the fail-over outlasts the client's lease.
    ``grace=False`` is the broken client that gives its session up as soon as its lease runs out."""
    flag("grace", grace)
    base = CellConfig()
    config = base if grace else base.unchecked(grace=1e-9)
    return run_cell(seed, election=0, workload=0, config=config, until=until,
                    note=f" (fail-over, {'grace period' if grace else 'NO grace period'})",
                    actions=[(crash_at, "crash", "master"), (crash_at + down_for, "restart", "master")],
                    idle=3, election_timeout=(0.4, 0.8))


def stale_cache(seed: int = 0, *, broken: bool = False, until: float = 3.0) -> LockRun:
    """A reader and a writer share one file (reads served from the reader's cache when it can); from 1.0
    to 1.4 every replica's messages to ``w1`` are lost (a one-way cut), invalidations included.
    The correct master holds each write until ``w1`` acknowledges or its lease runs out (``w1`` drops
    its cache when its own lease ends first); ``broken=True`` (:class:`EagerInvalidationServer`)
    does not wait, so ``w1`` can read its stale copy after the write was acknowledged."""
    flag("broken", broken)
    faults = "; ".join(f"cut {n}->w1 at 1.0 heal 1.4" for n in CELL)
    # w1 only reads (from its cache when it can), w2 creates the file then only writes.
    return run_cell(seed, election=0, workload=2, ops=60, keys=("a",), faults=faults, until=until,
                    mixes={"w1": (0, 0, 1, 0), "w2": (1, 4, 0, 0)},
                    server_cls=EagerInvalidationServer if broken else ChubbyServer,
                    note=f" (cache, invalidations to w1 lost 1.0-1.4{', NOT waited for' if broken else ''})")


def random_lockservice(seed: int, *, variant: str = "correct", until: float = 5.0) -> LockRun:
    """The sweep's run: 3 election clients (primaries step down after a random hold), 2 namespace
    clients, random replica crashes, client pauses, partitions, GC pauses of whoever is primary
    right after it decides to write, some loss, clocks drifting within ``max_drift``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)} (got {variant!r})")
    rng = stream(seed, "lockservice/sweep")
    base = CellConfig(lock_delay=0.0)
    config, server_cls, fenced = base, ChubbyServer, True
    if variant == "no-fencing":
        fenced = False
    elif variant == "no-grace":
        config = base.unchecked(grace=1e-9)
    elif variant == "long-client-lease":
        config = base.unchecked(client_lease=base.lease * 1.5)
    elif variant == "amnesiac-master":
        server_cls = AmnesiacServer
    elif variant == "stale-cache":
        server_cls = EagerInvalidationServer
    clients = ["c1", "c2", "c3"]
    rates = {c: 1.0 + rng.uniform(-base.max_drift, base.max_drift) for c in clients + ["w1", "w2"]}
    # Replicas crash and restart; clients pause (GC) but do not crash; partitions split everyone.
    horizon = until * 0.8
    everyone = list(CELL) + clients + ["w1", "w2", "res"]
    faults = FaultSchedule(
        FaultSchedule.random(seed, list(CELL), horizon=horizon, faults=rng.randint(0, 3), kinds=("crash",),
                             max_duration=1.5).faults
        + FaultSchedule.random(seed + 1_000_003, clients, horizon=horizon, faults=rng.randint(0, 2),
                               kinds=("pause",), max_duration=1.5).faults
        + FaultSchedule.random(seed + 2_000_006, everyone, horizon=horizon, faults=rng.randint(0, 2),
                               kinds=("partition",), max_duration=1.5).faults)
    # The nemesis also hunts the primary: it makes it decide to write and freezes it (a GC).
    actions = []
    for k in range(rng.randint(0, 2)):
        at = round(rng.uniform(0.5, horizon), 3)
        back = round(at + rng.uniform(0.1, 1.5), 3)
        actions += [(at, "gc", f"primary#{k}"), (back, "resume", f"primary#{k}")]
    return run_cell(seed, election=3, workload=2, ops=8, config=config, fenced=fenced, actions=actions,
                    hold=round(rng.uniform(0.3, 1.2), 3), server_cls=server_cls, faults=faults,
                    write_delay=round(rng.uniform(0.01, 0.06), 3), mixes={"w1": (1, 1, 8, 0)},
                    loss=round(rng.choice([0.0, 0.0, 0.02, 0.05]), 3), until=until, clock_rates=rates,
                    note=f" ({variant})")
