"""How long a control panel takes to redraw: run a scenario, build the space-time figure, serialize it.

    .venv/bin/python benchmarks/bench_render.py [--runs 30]

Two scenarios:
  * 2pc     -- distlib.transactions.twopc.run_2pc with 20% loss (the chapter 04 default panel);
  * gossip  -- 3 nodes pinging each other every ~20 ms for 4 s of simulated time with 5% loss,
               a crash and a partition: a few hundred messages (this benchmark's own scenario).
Prints median and p95 wall time per phase (simulate, figure, to_json) and in total. Target: total
well under 200 ms per redraw.

Then the real thing end to end: a ``distlib.viz.Panel`` built like chapter 04's, re-rendered with
``panel.rerun(seed=...)`` (scenario, figure, plotly_mimetype bundle into the Output widget, summary).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

from distlib.sim import FaultSchedule, Node, World, crash, partition
from distlib.viz import describe, setup, spacetime


@dataclass(frozen=True)
class Ping:
    seq: int


@dataclass(frozen=True)
class Pong:
    seq: int


class Gossip(Node):
    def on_start(self) -> None:
        self.seq = 0
        self.set_timer("tick", 0.02 * (1 + self.rng.random()))

    def on_timer(self, name: str) -> None:
        self.seq += 1
        self.send(self.rng.choice(self.peers), Ping(self.seq))
        if self.seq % 50 == 0:
            self.annotate(f"round {self.seq}")
        self.set_timer("tick", 0.02 * (1 + self.rng.random()))

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, Ping):
            self.send(src, Pong(msg.seq))


def gossip(seed: int) -> World:
    world = World(seed=seed, latency=(0.01, 0.05), loss=0.05)
    world.add_nodes(Gossip, ["n1", "n2", "n3"])
    FaultSchedule([crash("n2", at=1.0, restart=1.8), partition(["n1"], ["n2", "n3"], at=2.5, heal=3.2)]
                  ).apply(world)
    world.run(until=4.0)
    return world


def twopc(seed: int) -> World | None:
    try:
        from distlib.transactions.twopc import run_2pc
    except ImportError:
        return None
    return run_2pc(seed=seed, loss=0.2).world


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def bench(name: str, make, runs: int) -> None:
    phases: dict[str, list[float]] = {"simulate": [], "figure": [], "to_json": [], "total": []}
    size = messages = 0
    for i in range(runs):
        a = time.perf_counter()
        world = make(i)
        if world is None:
            print(f"{name}: scenario not available, skipped")
            return
        b = time.perf_counter()
        fig = spacetime(world)
        describe(world)
        c = time.perf_counter()
        text = fig.to_json()
        d = time.perf_counter()
        for k, v in (("simulate", b - a), ("figure", c - b), ("to_json", d - c), ("total", d - a)):
            phases[k].append(v * 1000)
        size = len(text)
        messages = sum(1 for r in world.trace if r.kind == "send")
    print(f"{name}: {runs} runs, ~{messages} messages sent per run, figure JSON {size / 1024:.0f} KiB")
    for k, xs in phases.items():
        print(f"  {k:9s} median {statistics.median(xs):7.1f} ms   p95 {pct(xs, 0.95):7.1f} ms")


def bench_panel(runs: int) -> None:
    from distlib.transactions.twopc import run_2pc
    from distlib.viz import IntControl, Panel

    def scenario(seed: int):
        run = run_2pc(seed=seed, participants=3)
        return spacetime(run.world.trace, title=run.summary()), run.summary()

    panel = Panel(scenario, {"seed": IntControl(1, 0, 10_000)}, title="Two-phase commit")
    times = []
    for i in range(runs):
        a = time.perf_counter()
        ok = panel.rerun(seed=i + 2)
        times.append((time.perf_counter() - a) * 1000)
        assert ok, panel.error_text
    print(f"panel.rerun (chapter 04 default scenario): {runs} runs, "
          f"median {statistics.median(times):.1f} ms, "
          f"p95 {pct(times, 0.95):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    setup()
    spacetime(gossip(0)).to_json()     # warm up imports and plotly's validators
    bench("2pc", twopc, args.runs)
    bench("gossip", gossip, args.runs)
    bench_panel(args.runs)


if __name__ == "__main__":
    main()
