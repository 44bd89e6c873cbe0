"""Bad input to every public entry point is a ``ValueError`` that names the parameter, raised when the
call is made (not when a run reaches the value, and never a TypeError from deep inside, an endless run
or a silently ignored argument).

The table is (entry point, keyword arguments, a fragment the message must contain — the parameter's
name, usually as "<name> must"). Each entry point is tried with wrong types (str, None, list, bool
where a number is expected), NaN, infinities, negatives, zero, empty collections, unknown node names
and reversed ranges.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import pytest

from distlib import scenarios
from distlib.check.sweep import sweep
from distlib.consensus.multipaxos import MultiPaxosNode, random_multipaxos, run_multipaxos
from distlib.consensus.paxos import PaxosNode, dueling_proposers, random_paxos, run_paxos
from distlib.consensus.raft import (
    RaftNode,
    figure8,
    leader_crash,
    make_cluster,
    partitioned_old_leader,
    restarted_voter,
    split_vote,
)
from distlib.consensus.raft_kv import KVNode, kv_client
from distlib.scenarios import Gossiper, PingPong
from distlib.sim import (
    FaultSchedule,
    Latency,
    LinkConfig,
    Node,
    World,
    as_schedule,
    crash,
    cut,
    parse_schedule,
    partition,
    pause,
)
from distlib.storage.register import APReplica, CPReplica, run_register
from distlib.transactions.twopc import (
    Coordinator,
    Participant,
    blocking_scenario,
    build_2pc,
    model_nodes,
    random_2pc,
    random_faults,
    run_2pc,
    scenario,
)

NAN, INF = math.nan, math.inf


class Quiet(Node):
    pass


def world3(**kw: Any) -> World:
    world = World(0, **kw)
    world.add_nodes(Quiet, ["n1", "n2", "n3"])
    return world


def apply_faults(*faults: Any) -> None:
    FaultSchedule(faults).apply(world3())


def world_call(method: str, *args: Any, **kwargs: Any) -> None:
    getattr(world3(), method)(*args, **kwargs)


def make_kv_client(**kw: Any) -> Any:
    world = make_cluster(3, cls=KVNode)
    args = {"world": world, "name": "c1", "servers": ["n1", "n2", "n3"]} | kw
    return kv_client(**args)


def client_call(timeout: Any) -> None:
    world = world3()
    client = world.client("c1")
    gen = client.call("n1", Ping(), timeout=timeout)
    world.process(gen)
    world.run(until=1)


class Ping:
    req_id = "c1:1"


def nothing(seed: int) -> Any:
    return seed


def no_check(result: Any) -> list[str]:
    return []


GOOD_RAFT = {"election_timeout": (0.15, 0.3), "heartbeat": 0.05}

# (id, entry point, kwargs, fragment)
CASES: list[tuple[str, Any, dict[str, Any], str]] = [
    # ---- World and the network ------------------------------------------------------------------------
    ("world-seed-neg", World, {"seed": -1}, "seed must"),
    ("world-seed-str", World, {"seed": "1"}, "seed must"),
    ("world-seed-float", World, {"seed": 1.5}, "seed must"),
    ("world-seed-bool", World, {"seed": True}, "seed must"),
    ("world-seed-none", World, {"seed": None}, "seed must"),
    ("world-latency-inf", World, {"latency": INF}, "latency must be a finite number"),
    ("world-latency-nan", World, {"latency": NAN}, "latency must"),
    ("world-latency-neg", World, {"latency": -0.1}, "latency must"),
    ("world-latency-str", World, {"latency": "0.01"}, "latency must"),
    ("world-latency-bool", World, {"latency": True}, "latency must"),
    ("world-latency-reversed", World, {"latency": (0.03, 0.01)}, "latency high must"),
    ("world-latency-pair-inf", World, {"latency": (0.01, INF)}, "latency high must"),
    ("world-latency-triple", World, {"latency": (0.01, 0.02, 0.03)}, "latency must"),
    ("world-loss-big", World, {"loss": 1.5}, "loss must"),
    ("world-loss-neg", World, {"loss": -0.1}, "loss must"),
    ("world-loss-nan", World, {"loss": NAN}, "loss must"),
    ("world-loss-str", World, {"loss": "0.1"}, "loss must"),
    ("world-loss-none", World, {"loss": None}, "loss must"),
    ("world-duplicate-big", World, {"duplicate": 2}, "duplicate must"),
    ("world-reorder-neg", World, {"reorder": -1}, "reorder must"),
    ("world-reorder-delay-inf", World, {"reorder_delay": INF}, "reorder_delay must"),
    ("world-reorder-delay-neg", World, {"reorder_delay": -1}, "reorder_delay must"),
    ("world-scripted-str", World, {"scripted": "yes"}, "scripted must"),
    ("world-scripted-int", World, {"scripted": 1}, "scripted must"),
    ("latency-constant-inf", Latency.constant, {"delay": INF}, "latency must"),
    ("latency-uniform-reversed", Latency.uniform, {"low": 0.2, "high": 0.1}, "latency high must"),
    ("latency-exponential-neg", Latency.exponential, {"mean": -1}, "latency mean must"),
    ("latency-exponential-low-inf", Latency.exponential, {"mean": 0.1, "low": INF}, "latency low must"),
    ("linkconfig-loss", LinkConfig.make, {"loss": 2}, "loss must"),
    ("world-add-node-empty", partial(world_call, "add_node"), {"name": "", "cls": Quiet}, "name must"),
    ("world-add-node-cls", partial(world_call, "add_node"), {"name": "x", "cls": int}, "cls must"),
    ("world-add-node-twice", partial(world_call, "add_node"), {"name": "n1", "cls": Quiet}, "name 'n1'"),
    ("world-at-neg", partial(world_call, "at"), {"time": -1, "fn": print}, "time must"),
    ("world-at-inf", partial(world_call, "at"), {"time": INF, "fn": print}, "time must"),
    ("world-at-nan", partial(world_call, "at"), {"time": NAN, "fn": print}, "time must"),
    ("world-run-inf", partial(world_call, "run"), {"until": INF}, "until must"),
    ("world-run-neg", partial(world_call, "run"), {"until": -1}, "until must"),
    ("world-run-str", partial(world_call, "run"), {"until": "1"}, "until must"),
    ("world-crash-unknown", partial(world_call, "crash"), {"name": "n9"}, "node must"),
    ("world-pause-unknown", partial(world_call, "pause"), {"name": "n9"}, "node must"),
    ("world-cut-unknown", partial(world_call, "cut"), {"src": "nX", "dst": "n1"}, "cut names unknown node"),
    ("world-cut-self", partial(world_call, "cut"), {"src": "n1", "dst": "n1"}, "cut needs two"),
    ("world-partition-unknown", partial(world_call, "partition", ["n9"]), {}, "groups names unknown"),
    ("world-partition-string", partial(world_call, "partition", "n1"), {}, "groups must"),
    ("world-set-link-unknown", partial(world_call, "set_link"), {"src": "n9", "dst": "n1"}, "set_link"),
    ("world-set-link-latency-inf", partial(world_call, "set_link"),
     {"src": "n1", "dst": "n2", "latency": INF}, "latency must"),
    ("world-client-node-name", partial(world_call, "client"), {"name": "n1"}, "name 'n1'"),
    ("client-timeout-zero", client_call, {"timeout": 0}, "timeout must"),
    ("client-timeout-inf", client_call, {"timeout": INF}, "timeout must"),
    ("client-timeout-str", client_call, {"timeout": "1"}, "timeout must"),
    # ---- fault constructors and schedules -----------------------------------------------------------------
    ("crash-at-neg", crash, {"node": "n1", "at": -1}, "at must"),
    ("crash-at-nan", crash, {"node": "n1", "at": NAN}, "at must"),
    ("crash-at-inf", crash, {"node": "n1", "at": INF}, "at must"),
    ("crash-at-str", crash, {"node": "n1", "at": "1"}, "at must"),
    ("crash-at-none", crash, {"node": "n1", "at": None}, "at must"),
    ("crash-restart-before", crash, {"node": "n1", "at": 2, "restart": 1}, "restart must"),
    ("crash-restart-inf", crash, {"node": "n1", "at": 1, "restart": INF}, "restart must"),
    ("crash-node-int", crash, {"node": 1, "at": 1}, "node must"),
    ("crash-node-empty", crash, {"node": "", "at": 1}, "node must"),
    ("crash-node-none", crash, {"node": None, "at": 1}, "node must"),
    ("pause-resume-before", pause, {"node": "n1", "at": 2, "resume": 1}, "resume must"),
    ("pause-resume-none", pause, {"node": "n1", "at": 1, "resume": None}, "resume"),
    ("pause-node-list", pause, {"node": ["n1"], "at": 1, "resume": 2}, "node must"),
    ("partition-no-groups", partition, {"at": 1}, "groups must"),
    ("partition-string-groups", partial(partition, "n1", "n2"), {"at": 1}, "groups must"),
    ("partition-twice", partial(partition, ["n1", "n2"], ["n2"]), {"at": 1}, "groups must"),
    ("partition-empty-group", partial(partition, []), {"at": 1}, "groups must"),
    ("partition-heal-before", partial(partition, ["n1"]), {"at": 2, "heal": 1}, "heal must"),
    ("partition-at-inf", partial(partition, ["n1"]), {"at": INF}, "at must"),
    ("cut-self", cut, {"src": "n1", "dst": "n1", "at": 1}, "cut needs two different nodes"),
    ("cut-src-none", cut, {"src": None, "dst": "n1", "at": 1}, "src must"),
    ("cut-dst-int", cut, {"src": "n1", "dst": 2, "at": 1}, "dst must"),
    ("cut-heal-nan", cut, {"src": "n1", "dst": "n2", "at": 1, "heal": NAN}, "heal must"),
    ("schedule-of-ints", FaultSchedule, {"faults": [1, 2]}, "faults must"),
    ("schedule-of-text", FaultSchedule, {"faults": "crash n1 at 1"}, "parse_schedule"),
    ("schedule-of-number", FaultSchedule, {"faults": 3}, "faults must"),
    # Used to be accepted by FaultSchedule.apply and to fail only when the run reached t = 1.
    ("apply-cut-unknown", partial(apply_faults, cut("nX", "n1", at=1)), {}, "cut names unknown node 'nX'"),
    ("apply-crash-unknown", partial(apply_faults, crash("n9", at=1)), {}, "node must"),
    ("apply-pause-unknown", partial(apply_faults, pause("n9", at=1, resume=2)), {}, "node must"),
    ("apply-partition-unknown", partial(apply_faults, partition(["n9"], at=1)), {}, "groups names unknown"),
    ("random-seed-neg", FaultSchedule.random, {"seed": -1, "nodes": ["n1"], "horizon": 1}, "seed must"),
    ("random-nodes-empty", FaultSchedule.random, {"seed": 0, "nodes": [], "horizon": 1}, "nodes must"),
    ("random-nodes-string", FaultSchedule.random, {"seed": 0, "nodes": "n1n2", "horizon": 1}, "nodes must"),
    ("random-nodes-twice", FaultSchedule.random, {"seed": 0, "nodes": ["n1", "n1"], "horizon": 1},
     "nodes must"),
    ("random-horizon-inf", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": INF},
     "horizon must"),
    ("random-horizon-neg", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": -1},
     "horizon must"),
    ("random-horizon-nan", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": NAN},
     "horizon must"),
    ("random-faults-neg", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": 1, "faults": -1},
     "faults must"),
    ("random-faults-float", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": 1, "faults": 1.5},
     "faults must"),
    ("random-faults-bool", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": 1, "faults": True},
     "faults must"),
    ("random-kinds-unknown", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": 1, "kinds": ["x"]},
     "kinds must"),
    ("random-kinds-string", FaultSchedule.random,
     {"seed": 0, "nodes": ["n1"], "horizon": 1, "kinds": "crash"}, "kinds must"),
    ("random-kinds-empty", FaultSchedule.random, {"seed": 0, "nodes": ["n1"], "horizon": 1, "kinds": []},
     "kinds must"),
    ("random-max-duration-neg", FaultSchedule.random,
     {"seed": 0, "nodes": ["n1"], "horizon": 1, "max_duration": -1}, "max_duration must"),
    ("random-max-duration-str", FaultSchedule.random,
     {"seed": 0, "nodes": ["n1"], "horizon": 1, "max_duration": "1"}, "max_duration must"),
    ("as-schedule-int", as_schedule, {"faults": 5, "nodes": ["n1"]}, "faults must"),
    ("as-schedule-unknown", as_schedule, {"faults": FaultSchedule([cut("nX", "n1", at=1)]), "nodes": ["n1"]},
     "unknown node 'nX'"),
    ("parse-schedule-unknown", parse_schedule, {"text": "crash n9 at 1", "nodes": ["n1"]}, "unknown node"),
    ("parse-schedule-bytes", parse_schedule, {"text": b"crash n1 at 1"}, "fault schedule must"),
    # ---- single-decree Paxos ------------------------------------------------------------------------------
    ("paxos-propose-at-str", run_paxos, {"propose_at": {"n1": "x"}}, "propose_at must"),
    ("paxos-propose-at-unknown", run_paxos, {"propose_at": {"n9": 0.1}}, "propose_at must"),
    ("paxos-propose-at-not-proposer", run_paxos, {"propose_at": {"n2": 0.1}}, "propose_at names 'n2'"),
    ("paxos-propose-at-neg", run_paxos, {"propose_at": {"n1": -1}}, "propose_at must"),
    ("paxos-propose-at-nan", run_paxos, {"propose_at": {"n1": NAN}}, "propose_at must"),
    ("paxos-propose-at-inf", run_paxos, {"propose_at": {"n1": INF}}, "propose_at must"),
    ("paxos-propose-at-number", run_paxos, {"propose_at": 0.1}, "propose_at must"),
    ("paxos-propose-at-list", run_paxos, {"propose_at": [0.1]}, "propose_at must"),
    ("paxos-retry-number", run_paxos, {"retry": 0.1}, "retry must"),
    ("paxos-retry-reversed", run_paxos, {"retry": (0.2, 0.1)}, "retry must"),
    ("paxos-retry-zero", run_paxos, {"retry": (0, 0.1)}, "retry must"),
    ("paxos-retry-str", run_paxos, {"retry": ("a", "b")}, "retry must"),
    ("paxos-retry-inf", run_paxos, {"retry": (0.1, INF)}, "retry must"),
    ("paxos-retry-none", run_paxos, {"retry": None}, "retry must"),
    ("paxos-faults-text-unknown", run_paxos, {"faults": "crash n9 at 1"}, "unknown node 'n9'"),
    ("paxos-faults-int", run_paxos, {"faults": 3}, "faults must"),
    ("paxos-faults-cut-unknown", run_paxos, {"faults": FaultSchedule([cut("nX", "n1", at=1)])},
     "unknown node 'nX'"),
    ("paxos-nodes-zero", run_paxos, {"nodes": 0}, "nodes must"),
    ("paxos-nodes-str", run_paxos, {"nodes": "3"}, "nodes must"),
    ("paxos-nodes-big", run_paxos, {"nodes": 10}, "nodes must"),
    ("paxos-proposals-unknown", run_paxos, {"proposals": {"n9": "A"}}, "proposals names unknown node"),
    ("paxos-proposals-list", run_paxos, {"proposals": ["n1"]}, "proposals must"),
    ("paxos-proposals-str", run_paxos, {"proposals": "A"}, "proposals must"),
    ("paxos-proposals-none-value", run_paxos, {"proposals": {"n1": None}}, "proposals must"),
    ("paxos-until-neg", run_paxos, {"until": -1}, "until must"),
    ("paxos-until-inf", run_paxos, {"until": INF}, "until must"),
    ("paxos-until-nan", run_paxos, {"until": NAN}, "until must"),
    ("paxos-loss", run_paxos, {"loss": 2}, "loss must"),
    ("paxos-latency-inf", run_paxos, {"latency": INF}, "latency must"),
    ("paxos-duplicate", run_paxos, {"duplicate": -1}, "duplicate must"),
    ("paxos-seed", run_paxos, {"seed": -1}, "seed must"),
    ("paxos-node-cls", run_paxos, {"node_cls": int}, "node_cls must"),
    ("paxos-node-cls-raft", run_paxos, {"node_cls": RaftNode}, "node_cls must"),
    ("paxos-classes-unknown", run_paxos, {"classes": {"n9": PaxosNode}}, "classes must"),
    ("paxos-classes-bad", run_paxos, {"classes": {"n1": int}}, "classes['n1'] must"),
    ("paxos-backoff-str", run_paxos, {"backoff": "no"}, "backoff must"),
    ("paxosnode-propose-at-str", PaxosNode, {"proposal": "A", "propose_at": "x"}, "propose_at must"),
    ("paxosnode-retry-number", PaxosNode, {"retry": 0.1}, "retry must"),
    ("paxosnode-max-round-zero", PaxosNode, {"max_round": 0}, "max_round must"),
    ("paxosnode-max-round-float", PaxosNode, {"max_round": 1.5}, "max_round must"),
    ("paxosnode-acceptors-str", PaxosNode, {"acceptors": "n1"}, "acceptors must"),
    ("paxosnode-acceptors-empty", PaxosNode, {"acceptors": ()}, "acceptors must"),
    ("paxosnode-learners-str", PaxosNode, {"learners": "L"}, "learners must"),
    ("paxosnode-backoff-int", PaxosNode, {"backoff": 0}, "backoff must"),
    ("paxos-duel-until", dueling_proposers, {"until": -1}, "until must"),
    ("paxos-duel-backoff", dueling_proposers, {"backoff": "off"}, "backoff must"),
    ("random-paxos-seed", random_paxos, {"seed": -1}, "seed must"),
    # ---- Multi-Paxos ---------------------------------------------------------------------------------------
    ("mpnode-election-timeout-number", MultiPaxosNode, {"election_timeout": 0.2}, "election_timeout must"),
    ("mpnode-election-timeout-reversed", MultiPaxosNode, {"election_timeout": (0.3, 0.2)},
     "election_timeout must"),
    ("mpnode-election-timeout-nan", MultiPaxosNode, {"election_timeout": (NAN, 0.2)},
     "election_timeout must"),
    ("mpnode-election-timeout-str", MultiPaxosNode, {"election_timeout": "0.2"}, "election_timeout must"),
    ("mpnode-heartbeat-str", MultiPaxosNode, {"heartbeat": "x"}, "heartbeat must"),
    ("mpnode-heartbeat-zero", MultiPaxosNode, {"heartbeat": 0}, "heartbeat must"),
    ("mpnode-heartbeat-nan", MultiPaxosNode, {"heartbeat": NAN}, "heartbeat must"),
    ("mpnode-heartbeat-none", MultiPaxosNode, {"heartbeat": None}, "heartbeat must"),
    ("mpnode-heartbeat-too-slow", MultiPaxosNode, {"heartbeat": 0.2}, "heartbeat must"),
    ("mp-commands-neg", run_multipaxos, {"commands": -1}, "commands must"),
    ("mp-commands-float", run_multipaxos, {"commands": 1.5}, "commands must"),
    ("mp-commands-str", run_multipaxos, {"commands": "10"}, "commands must"),
    ("mp-commands-bool", run_multipaxos, {"commands": True}, "commands must"),
    ("mp-nodes-zero", run_multipaxos, {"nodes": 0}, "nodes must"),
    ("mp-faults-text-unknown", run_multipaxos, {"faults": "pause n7 at 1 until 2"}, "unknown node 'n7'"),
    ("mp-faults-list", run_multipaxos, {"faults": [crash("n1", at=1)]}, "faults must"),
    ("mp-faults-cut-unknown", run_multipaxos, {"faults": FaultSchedule([cut("n1", "nX", at=1)])},
     "unknown node 'nX'"),
    ("mp-node-cls", run_multipaxos, {"node_cls": PaxosNode}, "node_cls must"),
    ("mp-until-inf", run_multipaxos, {"until": INF}, "until must"),
    ("mp-loss", run_multipaxos, {"loss": NAN}, "loss must"),
    ("random-mp-seed", random_multipaxos, {"seed": -1}, "seed must"),
    # ---- Raft and Raft KV -------------------------------------------------------------------------------
    ("raft-election-timeout-number", RaftNode, {"election_timeout": 0.2}, "election_timeout must"),
    ("raft-election-timeout-reversed", RaftNode, {"election_timeout": (0.3, 0.2)}, "election_timeout must"),
    ("raft-election-timeout-inf", RaftNode, {"election_timeout": (0.2, INF)}, "election_timeout must"),
    ("raft-heartbeat-str", RaftNode, {"heartbeat": "x"}, "heartbeat must"),
    ("raft-heartbeat-too-slow", RaftNode, {"heartbeat": 0.2}, "heartbeat must"),
    ("raft-heartbeat-nan", RaftNode, {"heartbeat": NAN}, "heartbeat must"),
    ("raft-snapshot-zero", RaftNode, {"snapshot_threshold": 0}, "snapshot_threshold must"),
    ("raft-snapshot-float", RaftNode, {"snapshot_threshold": 2.5}, "snapshot_threshold must"),
    ("raft-state-machine", RaftNode, {"state_machine": 5}, "state_machine must"),
    ("raft-noop-str", RaftNode, {"noop_on_elect": "no"}, "noop_on_elect must"),
    ("raft-max-entries-zero", RaftNode, {"max_entries": 0}, "max_entries must"),
    ("kvnode-heartbeat", KVNode, {"heartbeat": -1}, "heartbeat must"),
    ("raft-max-inflight-zero", RaftNode, {"max_inflight": 0}, "max_inflight must"),
    ("raft-max-inflight-float", RaftNode, {"max_inflight": 1.5}, "max_inflight must"),
    ("raft-pre-vote-str", RaftNode, {"pre_vote": "yes"}, "pre_vote must"),
    ("raft-check-quorum-int", RaftNode, {"check_quorum": 1}, "check_quorum must"),
    ("raft-clock-rate-zero", RaftNode, {"clock_rate": 0}, "clock_rate must"),
    ("raft-clock-rate-fast", RaftNode, {"clock_rate": 3.0}, "clock_rate must"),
    ("raft-clock-rate-str", RaftNode, {"clock_rate": "1"}, "clock_rate must"),
    ("raft-drift-bound-below-one", RaftNode, {"drift_bound": 0.9}, "drift_bound must"),
    ("raft-drift-bound-nan", RaftNode, {"drift_bound": NAN}, "drift_bound must"),
    ("raft-members-str", RaftNode, {"members": "n1"}, "members must"),
    ("raft-members-twice", RaftNode, {"members": ("n1", "n1")}, "members must"),
    ("raft-catchup-rounds-zero", RaftNode, {"catchup_rounds": 0}, "catchup_rounds must"),
    ("raft-config-change-unknown", RaftNode, {"config_change": "joint"}, "config_change must"),
    ("kv-read-mode-unknown", KVNode, {"read_mode": "fast"}, "read_mode must"),
    ("kv-read-mode-none", KVNode, {"read_mode": None}, "read_mode must"),
    ("cluster-n-zero", make_cluster, {"n": 0}, "n must"),
    ("cluster-n-str", make_cluster, {"n": "5"}, "n must"),
    ("cluster-seed", make_cluster, {"seed": -1}, "seed must"),
    ("cluster-cls", make_cluster, {"cls": PaxosNode}, "cls must"),
    ("cluster-latency-inf", make_cluster, {"latency": INF}, "latency must"),
    ("cluster-monitors-callable", make_cluster, {"monitors": print}, "monitors must"),
    ("cluster-monitors-items", make_cluster, {"monitors": [5]}, "monitors must"),
    ("cluster-config-heartbeat", make_cluster, {"heartbeat": INF}, "heartbeat must"),
    ("split-vote-until", split_vote, {"until": -1}, "until must"),
    ("split-vote-cls", split_vote, {"cls": int}, "cls must"),
    ("leader-crash-at-neg", leader_crash, {"crash_at": -1}, "crash_at must"),
    ("leader-crash-at-str", leader_crash, {"crash_at": "1"}, "crash_at must"),
    ("leader-crash-restart-before", leader_crash, {"crash_at": 2.0, "restart_at": 1.0}, "restart_at must"),
    ("leader-crash-until", leader_crash, {"until": NAN}, "until must"),
    ("old-leader-until", partitioned_old_leader, {"until": -1}, "until must"),
    ("figure8-broken", figure8, {"broken": "yes"}, "broken must"),
    ("figure8-cls", figure8, {"cls": int}, "cls must"),
    ("figure8-seed", figure8, {"seed": "0"}, "seed must"),
    ("restarted-voter-cls", restarted_voter, {"cls": PaxosNode}, "cls must"),
    ("kv-client-ops-neg", make_kv_client, {"ops": -1}, "ops must"),
    ("kv-client-ops-float", make_kv_client, {"ops": 2.5}, "ops must"),
    ("kv-client-ops-str", make_kv_client, {"ops": "3"}, "ops must"),
    ("kv-client-servers-empty", make_kv_client, {"servers": []}, "servers must"),
    ("kv-client-servers-str", make_kv_client, {"servers": "n1"}, "servers must"),
    ("kv-client-servers-unknown", make_kv_client, {"servers": ["n9"]}, "servers must"),
    ("kv-client-keys-empty", make_kv_client, {"keys": ()}, "keys must"),
    ("kv-client-keys-str", make_kv_client, {"keys": "xy"}, "keys must"),
    ("kv-client-attempt-timeout-zero", make_kv_client, {"attempt_timeout": 0}, "attempt_timeout must"),
    ("kv-client-attempt-timeout-nan", make_kv_client, {"attempt_timeout": NAN}, "attempt_timeout must"),
    ("kv-client-give-up-inf", make_kv_client, {"give_up": INF}, "give_up must"),
    ("kv-client-think-neg", make_kv_client, {"think": -1}, "think must"),
    ("kv-client-think-str", make_kv_client, {"think": "0.1"}, "think must"),
    ("kv-client-rng", make_kv_client, {"rng": 5}, "rng must"),
    ("kv-client-name-node", make_kv_client, {"name": "n1"}, "name must"),
    ("kv-client-world", make_kv_client, {"world": None}, "world must"),
    # ---- two-phase commit ------------------------------------------------------------------------------
    ("2pc-faults-text-unknown", run_2pc, {"faults": "crash p9 at 0.1"}, "unknown node 'p9'"),
    ("2pc-faults-int", run_2pc, {"faults": 1}, "faults must"),
    ("2pc-faults-cut-unknown", run_2pc, {"faults": FaultSchedule([cut("coord", "pX", at=1)])},
     "unknown node 'pX'"),
    ("2pc-participants-zero", run_2pc, {"participants": 0}, "participants must"),
    ("2pc-participants-str", run_2pc, {"participants": "3"}, "participants must"),
    ("2pc-votes-short", run_2pc, {"votes": ["yes"]}, "votes must"),
    ("2pc-votes-word", run_2pc, {"votes": ["yes", "yes", "maybe"]}, "votes must"),
    ("2pc-votes-unknown", run_2pc, {"votes": {"p9": "no"}}, "votes names unknown participant"),
    ("2pc-votes-str", run_2pc, {"votes": "yes"}, "votes must"),
    ("2pc-crash-unknown", run_2pc, {"crash": "p9", "crash_at": 1}, "crash must"),
    ("2pc-crash-at-word", run_2pc, {"crash": "p1", "crash_at": "later"}, "crash_at must"),
    ("2pc-crash-at-neg", run_2pc, {"crash": "p1", "crash_at": -1}, "crash_at must"),
    ("2pc-crash-at-inf", run_2pc, {"crash": "p1", "crash_at": INF}, "crash_at must"),
    ("2pc-crash-at-missing", run_2pc, {"crash": "p1"}, "crash_at must"),
    ("2pc-restart-before", run_2pc, {"crash": "p1", "crash_at": 1, "restart_at": 0.5}, "restart_at must"),
    ("2pc-until-zero", run_2pc, {"until": 0}, "until must"),
    ("2pc-until-inf", run_2pc, {"until": INF}, "until must"),
    ("2pc-latency-inf", run_2pc, {"latency": INF}, "latency must"),
    ("2pc-loss-str", run_2pc, {"loss": "0"}, "loss must"),
    ("2pc-vote-timeout-inf", run_2pc, {"vote_timeout": INF}, "vote_timeout must"),
    ("2pc-vote-timeout-zero", run_2pc, {"vote_timeout": 0}, "vote_timeout must"),
    ("2pc-start-at-nan", run_2pc, {"start_at": NAN}, "start_at must"),
    ("2pc-coordinator-cls", run_2pc, {"coordinator_cls": Participant}, "coordinator_cls must"),
    ("2pc-participant-cls", run_2pc, {"participant_cls": Coordinator}, "participant_cls must"),
    ("2pc-build-seed", build_2pc, {"seed": -1}, "seed must"),
    ("coordinator-participants-str", Coordinator, {"participants": "p1"}, "participants must"),
    ("coordinator-participants-empty", Coordinator, {"participants": []}, "participants must"),
    ("coordinator-participants-twice", Coordinator, {"participants": ["p1", "p1"]}, "participants must"),
    ("coordinator-vote-timeout", Coordinator, {"vote_timeout": 0}, "vote_timeout must"),
    ("coordinator-resend-inf", Coordinator, {"resend_interval": INF}, "resend_interval must"),
    ("coordinator-log-delay-neg", Coordinator, {"log_delay": -1}, "log_delay must"),
    ("coordinator-tx-neg", Coordinator, {"tx": -1}, "tx must"),
    ("participant-coordinator-empty", Participant, {"coordinator": ""}, "coordinator must"),
    ("participant-vote", Participant, {"vote": "maybe"}, "vote must"),
    ("participant-ask-zero", Participant, {"ask_interval": 0}, "ask_interval must"),
    ("participant-log-delay-nan", Participant, {"log_delay": NAN}, "log_delay must"),
    ("blocking-restart-neg", blocking_scenario, {"restart_at": -1}, "restart_at must"),
    ("blocking-until", blocking_scenario, {"until": -1}, "until must"),
    ("blocking-participants", blocking_scenario, {"participants": 0}, "participants must"),
    ("random-faults-participants", random_faults, {"seed": 0, "participants": 0}, "participants must"),
    ("random-faults-horizon", random_faults, {"seed": 0, "horizon": INF}, "horizon must"),
    ("random-faults-kinds", random_faults, {"seed": 0, "kinds": ["meteor"]}, "kinds must"),
    ("random-2pc-participants-str", random_2pc, {"seed": 0, "participants": "3"}, "participants must"),
    ("random-2pc-no-vote", random_2pc, {"seed": 0, "no_vote": 2}, "no_vote must"),
    ("random-2pc-max-faults", random_2pc, {"seed": 0, "max_faults": -1}, "max_faults must"),
    ("random-2pc-max-faults-float", random_2pc, {"seed": 0, "max_faults": 1.5}, "max_faults must"),
    ("random-2pc-seed", random_2pc, {"seed": -1}, "seed must"),
    ("model-nodes-participants", model_nodes, {"participants": 0}, "participants must"),
    ("model-nodes-votes-unknown", model_nodes, {"votes": {"p9": "no"}}, "votes names unknown participant"),
    ("model-nodes-votes-word", model_nodes, {"votes": {"p1": "maybe"}}, "votes['p1'] must"),
    ("model-nodes-votes-list", model_nodes, {"votes": ["no"]}, "votes must"),
    ("model-nodes-log-delay", model_nodes, {"coord_log_delay": -1}, "coord_log_delay must"),
    ("2pc-scenario-name", scenario, {"name": "nope"}, "name must"),
    # ---- the replicated register ---------------------------------------------------------------------------
    ("register-mode", run_register, {"mode": "ca"}, "mode must"),
    ("register-replicas", run_register, {"mode": "cp", "replicas": 0}, "replicas must"),
    ("register-sticky-str", run_register, {"mode": "ap", "sticky": "yes"}, "sticky must"),
    ("register-clients", run_register, {"mode": "cp", "clients": 0}, "clients must"),
    ("register-until-inf", run_register, {"mode": "cp", "until": INF}, "until must"),
    ("register-think-number", run_register, {"mode": "cp", "think": 0.1}, "think must"),
    ("register-think-reversed", run_register, {"mode": "cp", "think": (0.3, 0.1)}, "think must"),
    ("register-think-inf", run_register, {"mode": "cp", "think": (0.1, INF)}, "think must"),
    ("register-write-ratio", run_register, {"mode": "cp", "write_ratio": 1.5}, "write_ratio must"),
    ("register-timeout", run_register, {"mode": "cp", "timeout": 0}, "timeout must"),
    ("register-heal-before", run_register, {"mode": "cp", "partition": "n1", "partition_at": 2, "heal_at": 1},
     "heal_at must"),
    ("register-partition-unknown", run_register, {"mode": "cp", "partition": ["n9"]}, "partition must"),
    ("register-partition-all", run_register, {"mode": "cp", "partition": ["n1", "n2", "n3"]},
     "partition must"),
    ("register-faults-int", run_register, {"mode": "cp", "faults": 2}, "faults must"),
    ("register-faults-text-unknown", run_register, {"mode": "ap", "faults": "crash n9 at 1"},
     "unknown node 'n9'"),
    ("register-faults-cut-unknown", run_register,
     {"mode": "ap", "faults": FaultSchedule([cut("n1", "nX", at=1)])}, "unknown node 'nX'"),
    ("register-latency-inf", run_register, {"mode": "cp", "latency": INF}, "latency must"),
    ("register-settle-neg", run_register, {"mode": "cp", "settle": -1}, "settle must"),
    ("cp-replica-op-timeout", CPReplica, {"op_timeout": 0}, "op_timeout must"),
    ("cp-replica-op-timeout-str", CPReplica, {"op_timeout": "1"}, "op_timeout must"),
    ("ap-replica-gossip-zero", APReplica, {"gossip_interval": 0}, "gossip_interval must"),
    ("ap-replica-gossip-inf", APReplica, {"gossip_interval": INF}, "gossip_interval must"),
    # ---- named scenarios, their nodes, and sweeps --------------------------------------------------------
    ("scenario-unknown", scenarios.run, {"name": "nope"}, "scenario must"),
    ("scenario-param", partial(scenarios.run, "paxos-duel"), {"nodes": 3}, "does not take nodes"),
    ("scenario-pingpong-nodes", partial(scenarios.run, "pingpong"), {"nodes": 1}, "nodes must"),
    ("scenario-pingpong-faults-unknown", partial(scenarios.run, "pingpong"), {"faults": "crash n9 at 1"},
     "unknown node 'n9'"),
    ("scenario-pingpong-faults-int", partial(scenarios.run, "pingpong"), {"faults": 7}, "faults must"),
    ("scenario-pingpong-cut-unknown", partial(scenarios.run, "pingpong"),
     {"faults": FaultSchedule([cut("nX", "n1", at=1)])}, "unknown node 'nX'"),
    ("scenario-gossip-until-inf", partial(scenarios.run, "gossip"), {"until": INF}, "until must"),
    ("scenario-gossip-latency", partial(scenarios.run, "gossip"), {"latency": (0.2, 0.1)},
     "latency high must"),
    ("scenario-2pc-faults-unknown", partial(scenarios.run, "2pc"), {"faults": "crash n1 at 1"},
     "unknown node 'n1'"),
    ("scenario-paxos-loss", partial(scenarios.run, "paxos"), {"loss": 3}, "loss must"),
    ("scenario-multipaxos-faults", partial(scenarios.run, "multipaxos"), {"faults": "crash p1 at 1"},
     "unknown node 'p1'"),
    ("scenario-register-faults", partial(scenarios.run, "register-cp"), {"faults": "cut n1->n9 at 1"},
     "unknown node 'n9'"),
    ("scenario-raft-until", partial(scenarios.run, "raft-leader-crash"), {"until": -2}, "until must"),
    ("sweep-name", scenarios.sweep_parts, {"name": "nope"}, "sweep must"),
    ("pingpong-interval-zero", PingPong, {"pinger": True, "interval": 0}, "interval must"),
    ("pingpong-pinger-str", PingPong, {"pinger": "yes"}, "pinger must"),
    ("gossiper-period-zero", Gossiper, {"period": 0}, "period must"),
    ("gossiper-period-nan", Gossiper, {"period": NAN}, "period must"),
    ("gossiper-origin-str", Gossiper, {"origin": "n1"}, "origin must"),
    ("sweep-run", sweep, {"run": 5, "seeds": range(3), "check": no_check}, "run and check must"),
    ("sweep-seeds-int", sweep, {"run": nothing, "seeds": 5, "check": no_check}, "seeds must"),
    ("sweep-seeds-str", sweep, {"run": nothing, "seeds": "123", "check": no_check}, "seeds must"),
    ("sweep-progress", sweep, {"run": nothing, "seeds": range(3), "check": no_check, "progress": 1},
     "progress must"),
    ("sweep-outcome", sweep, {"run": nothing, "seeds": range(3), "check": no_check, "outcome": "x"},
     "outcome must"),
]

@pytest.mark.parametrize("fn, kwargs, fragment", [pytest.param(fn, kw, frag, id=name)
                                                  for name, fn, kw, frag in CASES])
def test_bad_input_raises_a_value_error_naming_the_parameter(fn, kwargs, fragment):
    with pytest.raises(ValueError) as err:
        fn(**kwargs)
    assert fragment in str(err.value), f"message does not name it: {err.value}"


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_a_bad_fault_is_refused_before_any_fault_is_scheduled():
    world = world3()
    with pytest.raises(ValueError, match="nX"):
        FaultSchedule([crash("n1", at=1), cut("nX", "n1", at=1)]).apply(world)
    world.run(until=2)
    assert world.status["n1"] == "up"   # the valid crash before it was not scheduled either


# ---- fault-schedule text is accepted wherever a FaultSchedule is -----------------------------------------
TEXT = "crash n2 at 0.01 restart 0.5; cut n1->n3 at 0.2 heal 0.4"


@pytest.mark.parametrize("run", [
    pytest.param(lambda f: run_paxos(1, proposals={"n1": "A", "n2": "B"}, faults=f), id="run_paxos"),
    pytest.param(lambda f: run_multipaxos(1, commands=3, faults=f, until=2.0), id="run_multipaxos"),
    pytest.param(lambda f: run_register("cp", 1, faults=f, until=1.0), id="run_register"),
    pytest.param(lambda f: scenarios.run("gossip", seed=1, faults=f), id="scenario-gossip"),
    pytest.param(lambda f: scenarios.run("paxos", seed=1, faults=f), id="scenario-paxos"),
])
def test_fault_text_runs_exactly_like_the_schedule(run):
    by_text = run(TEXT).world.trace.records
    by_schedule = run(parse_schedule(TEXT)).world.trace.records
    assert by_text == by_schedule
    assert any(r.kind == "crash" for r in by_text) and any(r.kind == "cut" for r in by_text)


def test_2pc_accepts_fault_text():
    text = "crash p2 at 0.01 restart 0.5"
    by_text = run_2pc(1, faults=text)
    by_schedule = run_2pc(1, faults=parse_schedule(text))
    assert by_text.world.trace.records == by_schedule.world.trace.records
    assert by_text.schedule == by_schedule.schedule


def test_parse_schedule_is_still_importable_from_viz():
    from distlib.viz import parse_schedule as from_viz
    assert from_viz is parse_schedule


def test_zero_commands_and_ops_are_allowed():
    assert run_multipaxos(1, commands=0, until=0.5).commands == []
    world = make_cluster(3, cls=KVNode)
    world.process(kv_client(world, "c1", ["n1", "n2", "n3"], ops=0))
    world.run(until=0.5)
    assert len(world.history) == 0
