"""Raft membership change, checked: a bounded model for the explorer and a fault fuzzer.

**The model** (:func:`membership_model`): four servers n1..n4; n1, n2, n3 form the initial
configuration, n4 is outside it. The search starts right after n3 won term 1 (its no-op is in
n1..n3's logs, not yet known committed) and n3 is asked to replace n1 by n4 — in one step
(``mode="direct"``, the BROKEN ``config_change="direct"``: {n1,n2,n3} -> {n2,n3,n4}) or in two
single-server steps (``mode="single"``: AddServer(n4), then RemoveServer(n1) as soon as the first
is OK, thesis §4.1). The servers are the real :class:`~distlib.consensus.raft.RaftNode`, narrowed
by :func:`bounded` so that the search is finite and small: each server may campaign at most
``campaigns[name]`` times (counted in storage; n1 and n4 once, n2 and n3 never, by default), no
heartbeat, catch-up-round or CheckQuorum timer is armed (time is abstract and no message is lost
unless a ``drop`` step is allowed, so they would only add states), the election timer is armed
without drawing from the random stream, and clocks read 0 (so :func:`~distlib.check.explore.replay`
sends the very messages the search did). Everything else — votes, logs, configurations, learners,
catch-up, commitment, the own-term rule — is the production code.

The invariants are Election Safety (Figure 3) on every state, and Log Matching. With
``mode="direct"`` the explorer finds two leaders of one term in 11 steps: n3 appends
{n2,n3,n4}, which reaches n4 only; n1 wins term 2 with n2's vote (a majority of {n1,n2,n3}) and
n4 wins term 2 with n3's vote (a majority of {n2,n3,n4}) — the disjoint majorities of the
extended Raft paper's Figure 10. With ``mode="single"`` the same bound gives no violation: every
majority of {n1,n2,n3} meets every majority of {n1,n2,n3,n4}, and every majority of that meets
every majority of {n2,n3,n4}. Both steps are committed within 12 steps, so a bound of 17 also
covers elections after the change. No symmetry applies: n1 (removed), n2, n3 (leader) and n4
(added) all play different parts.

**The fuzzer** (:func:`membership_fuzz`): 4 or 5 servers, one of them outside the initial
configuration, random crashes (with restarts), partitions, pauses, message loss, duplication and
reordering, and an admin client that keeps asking the leader for a random valid single-server
change (add the outsider, remove a voter, ...) while KV clients or a proposer load the log;
checked by :class:`~distlib.check.raft_invariants.RaftMonitor` after every event and, for the KV
store, by the linearizability checker over the client history.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from distlib.check.linearizability import check_linearizability
from distlib.check.models import AppendKVStore
from distlib.check.raft_invariants import (
    FuzzResult,
    RaftMonitor,
    check_exactly_once,
    log_matching_pair,
    start_load,
)
from distlib.consensus.raft import (
    LEADER,
    NOOP,
    OK,
    Entry,
    RaftNode,
    make_cluster,
    membership_client,
    random_change,
)
from distlib.consensus.raft_kv import KVNode
from distlib.sim import FaultSchedule
from distlib.sim.validate import integer, one_of, subclass

SERVERS = ("n1", "n2", "n3", "n4")
INITIAL = ("n1", "n2", "n3")
MODES = ("single", "direct")


# ---- the bounded model -------------------------------------------------------------------------------
_BOUNDED: dict[type, type] = {}


def bounded(cls: type[RaftNode]) -> type[RaftNode]:
    """``cls`` with the model's bounds (see the module docstring); one class per ``cls`` (cached)."""
    subclass("cls", cls, RaftNode)
    if cls not in _BOUNDED:
        _BOUNDED[cls] = type(f"Bounded{cls.__name__}", (_Bounds, cls), {"__module__": __name__})
    return _BOUNDED[cls]


class _Bounds(RaftNode):
    def __init__(self, *, max_campaigns: int = 0, boot: str | None = None, lead: bool = False,
                 requests: tuple[tuple[str, Any], ...] = (), **config: Any):
        super().__init__(**config)
        self.max_campaigns = max_campaigns
        self.boot = boot              # the leader of term 1, whose no-op this server stores at boot
        self.lead = lead              # this server is that leader
        self.requests = requests      # the administrator's changes, asked of the leader in turn

    def on_start(self) -> None:
        fresh = "current_term" not in self.storage
        if fresh and self.boot is not None:
            # The state right after ``boot`` won term 1 and its no-op (§8) reached every voter.
            self.storage.update(current_term=1, voted_for=self.boot, log=[Entry(1, NOOP)])
        super().on_start()
        self.asked = 0
        if fresh and self.lead:
            self._become_leader()
            self._ask()

    def _ask(self) -> None:
        if self.asked < len(self.requests) and self.role == LEADER:
            op, arg = self.requests[self.asked]
            self.asked += 1
            if op == "voters":
                self.reconfigure(arg, token=self.asked)
            elif op == "add":
                self.add_server(arg, token=self.asked)
            else:
                self.remove_server(arg, token=self.asked)

    def on_membership_done(self, token: Any, status: str) -> None:
        if status == OK:
            self._ask()

    def set_timer(self, name: str, delay: float) -> None:
        if name == "election":
            if self.storage.get("campaigns", 0) < self.max_campaigns:
                super().set_timer(name, delay)
            else:
                self.cancel_timer(name)       # a timer that can do nothing would only add states
        # heartbeat, catch-up and CheckQuorum timers are never armed in the model

    def _reset_election_timer(self) -> None:
        self.set_timer("election", self.election_timeout[0])   # abstract time: no need to draw

    def clock(self) -> float:
        # Abstract time, as in the explorer: a replay in the simulator (whose clock moves) then
        # sends the very messages the search did (AppendEntries carry the sender's clock).
        return 0.0

    def campaign(self) -> None:
        if self.role != LEADER and self.id in self.voters:
            self.storage["campaigns"] = self.storage.get("campaigns", 0) + 1
        super().campaign()


def membership_model(mode: str = "direct", *, cls: type[RaftNode] = RaftNode,
                     campaigns: Mapping[str, int] | None = None,
                     leader: str = "n3") -> dict[str, tuple[type, dict[str, Any]]]:
    """Node specs for :func:`distlib.check.explore.explore`: n1..n4, n4 outside the initial
    configuration {n1, n2, n3}, whose leader ``leader`` has just won term 1 (its no-op stored on
    n1..n3, not yet known committed) and is asked to replace n1 by n4 — directly (``"direct"``)
    or as AddServer(n4), then RemoveServer(n1) once that is OK (``"single"``)."""
    one_of("mode", mode, MODES)
    one_of("leader", leader, INITIAL)
    budget = {"n1": 1, "n4": 1} if campaigns is None else dict(campaigns)
    for n, k in budget.items():
        one_of("campaigns key", n, SERVERS)
        integer(f"campaigns[{n!r}]", k, 0)
    if mode == "direct":
        requests: tuple[tuple[str, Any], ...] = (("voters", ("n2", "n3", "n4")),)
    else:
        requests = (("add", "n4"), ("remove", "n1"))
    specs: dict[str, tuple[type, dict[str, Any]]] = {}
    for n in SERVERS:
        config: dict[str, Any] = {"members": INITIAL, "config_change": mode, "noop_on_elect": False,
                                  "max_campaigns": budget.get(n, 0)}
        if n in INITIAL:
            config["boot"] = leader
        if n == leader:
            config.update(lead=True, requests=requests)
        specs[n] = (bounded(cls), config)
    return specs


def election_safety(view: Any) -> bool | str:
    """At most one leader per term among the servers of a state."""
    seen: dict[int, str] = {}
    for name in SERVERS:
        state = view.states.get(name)
        if view.up.get(name) and state is not None and state.get("role") == LEADER:
            term = state["storage"]["current_term"]
            if term in seen:
                return f"{seen[term]} and {name} are both leader of term {term}"
            seen[term] = name
    return True


@dataclass
class _LogView:
    id: str
    snap_index: int
    log: list


def log_matching(view: Any) -> bool | str:
    """Log Matching (Figure 3) between every two servers' logs."""
    logs = [_LogView(n, view.states[n]["storage"]["snapshot"].last_index, view.states[n]["storage"]["log"])
            for n in SERVERS if n in view.states]
    for i, a in enumerate(logs):
        for b in logs[i + 1:]:
            why = log_matching_pair(a, b)
            if why:
                return why
    return True


def model_invariants() -> dict[str, Callable[[Any], bool | str]]:
    return {"Election Safety": election_safety, "Log Matching": log_matching}


# ---- the fuzzer --------------------------------------------------------------------------------------
@dataclass
class MembershipFuzzResult(FuzzResult):
    """A :class:`FuzzResult` that also lists the membership changes asked for and how each ended."""
    changes: list[tuple[float, Any, str]] = field(default_factory=list)

    def summary(self) -> str:
        done = ", ".join(f"{c[0]} {c[1]}={s}" for _, c, s in self.changes if c)
        head = (f"seed {self.seed}: {'ok' if self.ok else 'VIOLATION'}; changes: {done or 'none'}; "
                f"faults: {self.schedule.describe()}")
        return "\n".join([head] + ["  " + p for p in self.problems()])


def membership_fuzz(seed: int, *, cls: type[RaftNode] = RaftNode, n: int | None = None,
                    duration: float = 3.0, faults: int = 3, changes: int = 3, kv: bool = False,
                    config_change: str = "single", clients: int = 2, ops: int = 15,
                    snapshot_threshold: int | None = 8, **config: Any) -> MembershipFuzzResult:
    """One run with random single-server changes under random faults (see the module docstring).

    ``n`` servers (4 or 5, drawn from the seed); the last starts outside the configuration.
    With ``config_change="direct"`` (BROKEN) every change replaces one voter by a server outside
    the configuration in one step. With ``kv`` (``cls`` a :class:`KVNode`) clients run
    :func:`~distlib.consensus.raft_kv.kv_client` and the history is checked for linearizability.
    """
    from distlib.sim import stream
    rng = stream(seed, "membership-fuzz")
    n = n if n is not None else rng.choice((4, 5))
    integer("n", n, 2, 9)
    integer("changes", changes, 0)
    one_of("config_change", config_change, MODES)
    if kv and not issubclass(cls, KVNode):
        raise ValueError(f"cls must be a KVNode subclass when kv=True (got {cls.__name__})")
    loss = rng.choice((0.0, 0.02, 0.1))
    duplicate = rng.choice((0.0, 0.05))
    reorder = rng.choice((0.0, 0.1))
    names = tuple(f"n{i}" for i in range(1, n + 1))
    monitor = RaftMonitor()
    world = make_cluster(n, seed=seed, cls=cls, latency=(0.002, 0.02), loss=loss, duplicate=duplicate,
                         reorder=reorder, monitors=[monitor], snapshot_threshold=snapshot_threshold,
                         members=names[:-1], config_change=config_change, **config)
    schedule = FaultSchedule.random(seed, list(names), horizon=duration * 0.8, faults=faults,
                                    kinds=("crash", "partition", "pause"), max_duration=duration / 3)
    schedule.apply(world)
    results: list[tuple[float, Any, str]] = []
    if config_change == "direct":
        def replace(node: RaftNode) -> tuple[str, tuple[str, ...]] | None:
            if node.role != LEADER:
                return None
            voters = node.voters
            outside = [s for s in names if s not in voters]
            if not outside:
                return None
            gone = voters[rng.randrange(len(voters))]
            new = outside[rng.randrange(len(outside))]
            return ("voters", tuple(sorted(set(voters) - {gone} | {new})))
        chooser: Callable[[RaftNode], Any] = replace
    else:
        chooser = random_change(rng, names)

    def admin() -> Generator[Any, Any, None]:
        yield world.env.timeout(rng.uniform(0.2, 0.6))
        yield from membership_client(world, "admin", names, [chooser] * changes, results=results,
                                     attempt_timeout=0.5, give_up=duration / 2, think=rng.uniform(0.0, 0.3))

    world.process(admin())
    start_load(world, list(names), kv=kv, clients=clients, ops=ops)
    world.run(until=duration)
    result = MembershipFuzzResult(seed, world, monitor, schedule, changes=results)
    if kv:
        result.linearizable = check_linearizability(world.history, AppendKVStore(), max_steps=2_000_000)
        best = max(world.nodes.values(), key=lambda node: node.last_applied)
        result.exactly_once = check_exactly_once(world.history, best.sm.data)
    return result


__all__ = [
    "INITIAL", "MODES", "MembershipFuzzResult", "SERVERS", "bounded", "election_safety",
    "log_matching", "membership_fuzz", "membership_model", "model_invariants",
]
