"""The course's monitoring scenario: a Raft cluster of chapter 03 under faults, watched by the simulated
Prometheus -- and the deterministic data set the differential test gives the real one.

Raft runs with slow timers (heartbeat 0.5 s, election timeout 1.5-3 s) so that a 15 s scrape interval and
PromQL's usual windows (1m, 5m) see something: the protocol is the same, only its clock is stretched.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlib.consensus.raft import LEADER, RaftNode, make_cluster
from distlib.sim import World
from distlib.sim.validate import integer, number

from .instrument import Observer, instrumented
from .scrape import MonitoringServer
from .tsdb import TSDB, is_stale

# Epoch offset for data handed to the real Prometheus (2023-11-14T22:13:20Z): simulated second 0 is
# this Unix time there. Any fixed instant works; retention is set long when the server starts.
EPOCH = 1_700_000_000

# The course's rule file for the Raft cluster (Prometheus rule-file YAML; `promtool check rules` passes
# on it, and `promtool test rules` agrees with our evaluation of it on the scenario's data).
RAFT_RULES = """\
groups:
  - name: raft
    interval: 15s
    rules:
      - record: instance:node_messages_sent:rate1m
        expr: sum by (instance) (rate(node_messages_sent_total[1m]))
      - record: job:raft_rpc_duration_seconds:p99_5m
        expr: histogram_quantile(0.99, sum by (job, le) (rate(raft_rpc_duration_seconds_bucket[5m])))
      - alert: TargetDown
        expr: up == 0
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} cannot be scraped"
      - alert: LeaderChanges
        expr: increase(raft_leader_changes_seen_total[5m]) > 0
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.instance }} saw {{ $value }} new leaders in 5m"
      - alert: NoLeader
        expr: max by (job) (raft_is_leader) < 1
        for: 30s
        labels:
          severity: page
      - alert: TooFewTargetsUp
        expr: count by (job) (up == 1) < 3
        for: 30s
        labels:
          severity: page
      - alert: MessagesDropped
        expr: >-
          sum by (instance) (rate(node_messages_dropped_total[1m])) > 0.5
          and on(instance) instance:node_messages_sent:rate1m > 0
        for: 1m
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.instance }} drops {{ $value }} messages/s"
"""


@dataclass
class MonitoredRun:
    world: World
    observer: Observer
    server: MonitoringServer
    faults: list[tuple[float, str]]

    @property
    def db(self) -> TSDB:
        return self.server.db


def _leader(world: World) -> str | None:
    best = None
    for name, node in world.nodes.items():
        if world.status[name] == "up" and getattr(node, "role", None) == LEADER:
            if best is None or node.current_term > world.nodes[best].current_term:
                best = name
    return best


def raft_under_faults(seed: int = 1, *, until: float = 3600.0, interval: float = 15.0, n: int = 5,
                      propose_every: float = 2.0) -> MonitoredRun:
    """``n`` instrumented Raft servers for ``until`` simulated seconds, scraped every ``interval``:
    a client proposes a command every ``propose_every`` s; the leader crashes at 20% of the run and
    restarts at 30%; a minority (with the monitoring server) is partitioned off from 50% to 60%; a
    follower is paused from 75% to 80%."""
    seed = integer("seed", seed)
    until = number("until", until, 60.0)
    interval = number("interval", interval, above=True)
    integer("n", n, 3, 9)
    propose_every = number("propose_every", propose_every, above=True)
    world = make_cluster(n, seed=seed, cls=instrumented(RaftNode), election_timeout=(1.5, 3.0), heartbeat=0.5,
                         latency=(0.005, 0.03))
    observer = Observer(world)
    server = MonitoringServer(world, interval=interval, timeout=min(10.0, interval)).start()
    faults: list[tuple[float, str]] = []
    state: dict[str, str | None] = {}

    def propose_loop():
        k = 0
        while True:
            yield world.env.timeout(propose_every)
            leader = _leader(world)
            if leader is not None:
                world.nodes[leader].propose(f"cmd{k}")
                k += 1

    def crash_leader() -> None:
        state["old"] = _leader(world)
        if state["old"]:
            world.crash(state["old"])
            faults.append((world.now, f"crash {state['old']} (leader)"))

    def restart_old() -> None:
        if state.get("old"):
            world.restart(state["old"])     # type: ignore[arg-type]
            faults.append((world.now, f"restart {state['old']}"))

    names = list(world.nodes)
    minority = names[: (n - 1) // 2]

    def split() -> None:
        world.partition([*minority, server.name], names[(n - 1) // 2:])
        faults.append((world.now, f"partition {','.join(minority)},prometheus | rest"))

    def heal() -> None:
        world.heal()
        faults.append((world.now, "heal"))

    def pause() -> None:
        world.pause(names[-1])
        faults.append((world.now, f"pause {names[-1]}"))

    def resume() -> None:
        world.resume(names[-1])
        faults.append((world.now, f"resume {names[-1]}"))

    world.process(propose_loop())
    world.at(0.2 * until, crash_leader)
    world.at(0.3 * until, restart_old)
    world.at(0.5 * until, split)
    world.at(0.6 * until, heal)
    world.at(0.75 * until, pause)
    world.at(0.8 * until, resume)
    world.run(until=until)
    return MonitoredRun(world, observer, server, faults)


def shifted(db: TSDB, offset: float = EPOCH, *, drop_stale: bool = True) -> TSDB:
    """A copy of ``db`` with every timestamp moved by ``offset`` seconds (staleness markers dropped:
    OpenMetrics, the real server's import format, cannot carry them)."""
    out = TSDB()
    off = round(offset * 1000)
    for key, (ts, vs) in db.raw_samples().items():
        for t, v in zip(ts, vs, strict=True):
            if drop_stale and is_stale(v):
                continue
            out.append(key, (t + off) / 1000, v)
    return out
