"""Chapter 08's lock service: the namespace state machine, the cell on Raft, sessions and leases,
sequencers and fencing, the stories, the checkers against broken variants, a seed sweep, bad input."""

from __future__ import annotations

import dataclasses

import pytest

from distlib.check.linearizability import check_linearizability
from distlib.check.lockservice import (
    NamespaceModel,
    belief_overlaps,
    check_beliefs,
    check_fenced_effects,
    check_lockservice,
    check_namespace,
    check_session_safety,
    namespace_history,
    sessions_abandoned,
)
from distlib.coordination import (
    CellConfig,
    ChubbyClient,
    ChubbyServer,
    Command,
    LockServiceError,
    Namespace,
    ResourceServer,
    Sequencer,
    failover,
    gc_pause,
    primary_election,
    random_lockservice,
    run_cell,
    stale_cache,
)
from distlib.coordination import namespace as ns
from distlib.coordination.cell import CELL, CellRequest
from distlib.coordination.runs import VARIANTS
from distlib.sim import History, Op, World

F = "/ls/cell/f"


def _sm(lock_delay: float = 0.0) -> tuple[Namespace, int, int]:
    """A namespace with two open sessions (ids 1 and 2) and the file /ls/cell/f."""
    sm = Namespace(lock_delay=lock_delay)
    a = sm.apply(Command("open", None, 1, None, "a")).value
    b = sm.apply(Command("open", None, 1, None, "b")).value
    assert sm.apply(Command("create", a, 1, F, ("x", False, False))).ok
    return sm, a, b


# ---- the state machine ------------------------------------------------------------------------------
def test_metadata_generations_and_instances():
    sm, a, b = _sm()
    st = sm.stat(F)
    assert (st.content_generation, st.lock_generation) == (0, 0)
    assert sm.apply(Command("set", a, 2, F, "y")).value.content_generation == 1
    first = sm.apply(Command("acquire", a, 3, F, "exclusive")).value
    assert first == Sequencer(F, "exclusive", 1)
    assert sm.apply(Command("release", a, 4, F)).ok
    assert sm.apply(Command("acquire", b, 1, F, "exclusive")).value.generation == 2
    # Delete and re-create: the new node's instance number is larger than the old one's.
    sm.apply(Command("release", b, 2, F))
    old = sm.stat(F).instance
    assert sm.apply(Command("delete", a, 5, F)).ok
    assert sm.apply(Command("create", a, 6, F, ("", False, False))).value.instance > old


def test_exclusive_and_shared_locks():
    sm, a, b = _sm()
    assert sm.apply(Command("acquire", a, 2, F, "shared")).ok
    assert sm.apply(Command("acquire", b, 1, F, "shared")).value.generation == 1   # readers share
    r = sm.apply(Command("acquire", b, 2, F, "exclusive"))
    assert r.error == ns.LOCK_BUSY
    sm.apply(Command("release", a, 3, F))
    sm.apply(Command("release", b, 3, F))
    assert sm.apply(Command("acquire", b, 4, F, "exclusive")).value.generation == 2
    assert sm.apply(Command("acquire", a, 4, F, "shared")).error == ns.LOCK_BUSY


def test_expiry_releases_locks_deletes_ephemerals_and_lock_delay():
    sm, a, b = _sm(lock_delay=2.0)
    sm.apply(Command("create", a, 2, F + "e", ("", False, True)))
    sm.apply(Command("acquire", a, 3, F, "exclusive", at=1.0))
    renewals = sm.apply(Command("keepalive", a)).value
    # An expire decided before the last KeepAlive was applied is ignored: the lease was extended.
    assert not sm.apply(Command("expire", a, 0, None, renewals - 1, at=4.0)).ok
    assert sm.holders(F) == (a,)
    assert sm.apply(Command("expire", a, 0, None, renewals, at=5.0)).ok
    assert sm.holders(F) == () and sm.stat(F + "e") is None
    assert sm.apply(Command("acquire", b, 1, F, "exclusive", at=6.0)).error == ns.LOCK_BUSY   # lock-delay
    assert sm.apply(Command("acquire", b, 2, F, "exclusive", at=7.0)).ok
    assert sm.apply(Command("get", a, 9, F)).error == ns.SESSION_EXPIRED


def test_explicit_release_has_no_lock_delay_and_retries_are_answered_once():
    sm, a, b = _sm(lock_delay=5.0)
    sm.apply(Command("acquire", a, 2, F, "exclusive", at=1.0))
    sm.apply(Command("release", a, 3, F, at=1.5))
    assert sm.apply(Command("acquire", b, 1, F, "exclusive", at=1.6)).ok
    # A duplicate of b's acquire (a retry after a lost reply) returns the first answer, not "busy".
    assert sm.apply(Command("acquire", b, 1, F, "exclusive", at=1.7)).ok
    create = Command("create", a, 4, "/ls/cell/g", ("", False, False))
    assert sm.apply(create).ok and sm.apply(create).ok


def test_check_sequencer():
    sm, a, b = _sm()
    seq = sm.apply(Command("acquire", a, 2, F, "exclusive")).value
    assert sm.apply(Command("check", b, 1, None, seq)).ok
    sm.apply(Command("release", a, 3, F))
    sm.apply(Command("acquire", b, 2, F, "exclusive"))
    assert sm.apply(Command("check", b, 3, None, seq)).error == ns.STALE_SEQUENCER


BAD_REQUESTS = [
    (Command("create", 1, 2, "ls/cell/x", ("", False, False)), ns.BAD_PATH),
    (Command("create", 1, 2, "/other/x", ("", False, False)), ns.BAD_PATH),
    (Command("create", 1, 2, "/ls/cell//x", ("", False, False)), ns.BAD_PATH),
    (Command("create", 1, 2, "/ls/cell/a/..", ("", False, False)), ns.BAD_PATH),
    (Command("create", 1, 2, 7, ("", False, False)), ns.BAD_PATH),
    (Command("create", 1, 2, "/ls/cell/no/x", ("", False, False)), ns.NO_SUCH_FILE),
    (Command("create", 1, 2, F + "/x", ("", False, False)), ns.NOT_DIRECTORY),
    (Command("create", 1, 2, F, ("", False, False)), ns.EXISTS),
    (Command("create", 1, 2, "/ls/cell/d", ("", True, True)), ns.BAD_REQUEST),
    (Command("create", 1, 2, "/ls/cell/d", "oops"), ns.BAD_REQUEST),
    (Command("set", 1, 2, "/ls/cell/missing", "v"), ns.NO_SUCH_FILE),
    (Command("set", 1, 2, F, 42), ns.BAD_REQUEST),
    (Command("set", 1, 2, "/ls/cell", "v"), ns.BAD_REQUEST),
    (Command("get", 1, 2, "relative"), ns.BAD_PATH),
    (Command("list", 1, 2, F), ns.NOT_DIRECTORY),
    (Command("delete", 1, 2, "/ls/cell"), ns.BAD_PATH),
    (Command("delete", 1, 2, "/ls/cell/missing"), ns.NO_SUCH_FILE),
    (Command("acquire", 1, 2, F, "both"), ns.BAD_REQUEST),
    (Command("acquire", 1, 2, "/ls/cell/missing", "exclusive"), ns.NO_SUCH_FILE),
    (Command("release", 1, 2, F), ns.LOCK_NOT_HELD),
    (Command("check", 1, 2, None, "token"), ns.BAD_REQUEST),
    (Command("check", 1, 2, None, Sequencer("/ls/cell/missing", "exclusive", 1)), ns.NO_SUCH_FILE),
    (Command("check", 1, 2, None, Sequencer(F, "exclusive", 9)), ns.STALE_SEQUENCER),
    (Command("get", 99, 1, F), ns.SESSION_EXPIRED),
    (Command("keepalive", 99), ns.SESSION_EXPIRED),
    (Command("expire", 99, 0, None, 0), ns.SESSION_EXPIRED),
    (Command("open", None, 1, None, ""), ns.BAD_REQUEST),
    (Command("nonsense", 1, 2), ns.BAD_REQUEST),
    ("not a command", ns.BAD_REQUEST),
]


@pytest.mark.parametrize("cmd,code", BAD_REQUESTS, ids=[repr(c) for c, _ in BAD_REQUESTS])
def test_bad_requests_are_typed_errors_and_change_nothing(cmd, code):
    sm, a, b = _sm()
    sm.apply(Command("create", a, 2, "/ls/cell/dir", ("", True, False)))
    if isinstance(cmd, Command) and cmd.kind not in ("open", "expire", "keepalive"):
        cmd = dataclasses.replace(cmd, seq=3)           # after the directory's create (seq 2)
    before = sm.snapshot()
    result = sm.apply(cmd)
    assert not result.ok and result.error == code, result
    after = sm.snapshot()
    # Only the session's dedup entry (last seq and its error) may differ.
    assert _without_dedup(after) == _without_dedup(before)


def _without_dedup(snap: tuple) -> tuple:
    files, instance, session, sessions, opened, events, delay, watches = snap
    return files, instance, session, tuple((k, v[:2]) for k, v in sessions), opened, events, delay, watches


def test_snapshot_restore_round_trip():
    sm, a, b = _sm(lock_delay=1.0)
    sm.apply(Command("acquire", a, 2, F, "exclusive"))
    copy = Namespace()
    copy.restore(sm.snapshot())
    assert copy.snapshot() == sm.snapshot()
    assert copy.apply(Command("acquire", b, 1, F, "exclusive")).error == ns.LOCK_BUSY


# ---- bad configuration ------------------------------------------------------------------------------
BAD_CONFIG = [
    ({"client_lease": 0.6}, "client_lease"),          # not shorter than the master's lease
    ({"client_lease": 0.9}, "client_lease"),
    ({"lease": 0}, "lease"),
    ({"lease": float("nan")}, "lease"),
    ({"grace": 0}, "grace"),
    ({"grace": -1}, "grace"),
    ({"keepalive": 0.5}, "keepalive"),                # not inside the client's lease
    ({"max_drift": 0.9}, "max_drift"),
    ({"lock_delay": -1}, "lock_delay"),
    ({"rpc_timeout": 0}, "rpc_timeout"),
    ({"lease": "1"}, "lease"),
]


@pytest.mark.parametrize("kwargs,name", BAD_CONFIG, ids=[str(k) for k, _ in BAD_CONFIG])
def test_bad_config_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        CellConfig(**kwargs)


BAD_CALLS = [
    (lambda: run_cell(-1), "seed"),
    (lambda: run_cell(0, election=20), "election"),
    (lambda: run_cell(0, config="fast"), "config"),
    (lambda: run_cell(0, fenced="yes"), "fenced"),
    (lambda: run_cell(0, until=0), "until"),
    (lambda: run_cell(0, server_cls=int), "server_cls"),
    (lambda: run_cell(0, faults="explode n9 at 1"), "explode"),
    (lambda: gc_pause(0, pause_for=0), "pause_for"),
    (lambda: failover(0, grace="no"), "grace"),
    (lambda: random_lockservice(0, variant="nope"), "variant"),
    (lambda: ChubbyClient(app="chat"), "app"),
    (lambda: ChubbyClient(clock_rate=5), "clock_rate"),
    (lambda: ChubbyServer(config=3), "config"),
    (lambda: ResourceServer(fenced=1), "fenced"),
    (lambda: ChubbyServer(read_mode="lease"), "read_mode"),
    (lambda: ChubbyClient(mix=(0, 0, 0, 0)), "mix"),
    (lambda: ChubbyClient(mix=(1, -1, 1, 1)), "mix"),
    (lambda: ChubbyClient(cache="yes"), "cache"),
]


@pytest.mark.parametrize("call,name", BAD_CALLS, ids=[str(i) for i in range(len(BAD_CALLS))])
def test_bad_arguments_raise_value_error(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ---- the cell over the network -------------------------------------------------------------------------
def _cell(seed: int = 0, **config) -> World:
    world = World(seed, latency=(0.002, 0.008))
    world.add_nodes(ChubbyServer, list(CELL), config=CellConfig(**config))
    return world


def _script(world: World, steps, out: list) -> None:
    """A raw client (no KeepAlives): each step ``(delay, Command)``; replies (or None) go to ``out``."""
    client = world.client("raw")

    def proc():
        target = "n1"
        for i, (delay, cmd) in enumerate(steps):
            yield world.env.timeout(delay)
            sid = out[0].value if out and cmd.session == "S" else cmd.session
            cmd = Command(cmd.kind, sid, cmd.seq, cmd.path, cmd.arg)
            for attempt in range(40):
                reply = yield from client.call(target, CellRequest(f"raw:{i}.{attempt}", cmd), timeout=0.2)
                if reply is not None and reply.error in (ns.NOT_MASTER, "retry"):
                    target = reply.leader_hint or CELL[(CELL.index(target) + 1) % 5]
                    yield world.env.timeout(0.05)
                    continue
                break
            out.append(reply)
    world.process(proc())


def test_cell_answers_typed_errors_and_expires_a_silent_session():
    world = _cell(lock_delay=0.0)
    out: list = []
    steps = [
        (0.5, Command("open", None, 1, None, "raw")),
        (0.0, Command("acquire", "S", 1, "/ls/cell/x", "exclusive")),
        (0.0, Command("create", "S", 2, "/ls/cell/x", ("", False, True))),
        (0.0, Command("release", "S", 3, "/ls/cell/x")),
        (0.0, Command("acquire", "S", 4, "/ls/cell/x", "exclusive")),
        (0.0, Command("create", "S", 5, "relative", ("", False, False))),
        # No KeepAlives: after the lease (0.6 s) the master expires the session.
        (1.5, Command("get", "S", 6, "/ls/cell/x")),
    ]
    _script(world, steps, out)
    world.run(until=4.0)
    assert len(out) == len(steps) and all(r is not None for r in out), out   # never a hang
    assert [r.ok for r in out] == [True, False, True, False, True, False, False]
    assert [r.error for r in out[1:]] == [ns.NO_SUCH_FILE, None, ns.LOCK_NOT_HELD, None, ns.BAD_PATH,
                                          ns.SESSION_EXPIRED]
    assert out[4].value == Sequencer("/ls/cell/x", "exclusive", 1)
    open_reply = out[0]
    assert open_reply.valid_until is not None
    # Every replica applied the expiry: the ephemeral file is gone, the lock is free.
    for n in CELL:
        sm = world.nodes[n].sm
        assert sm.stat("/ls/cell/x") is None and not sm.sessions


def test_primary_election_one_primary_who_announces_itself():
    run = primary_election(0)
    primaries = {c for c, evs in run.events.items() for _, k, _ in evs if k == "belief-start"}
    assert len(primaries) == 1
    (primary,) = primaries
    leader = next(n for n in CELL if run.world.nodes[n].role == "leader")
    contents = run.world.nodes[leader].sm.files["/ls/cell/svc/primary"].contents
    assert contents == primary
    assert {w[1] for w in run.writes} == {primary} and all(w[4] for w in run.writes)
    assert check_lockservice(run) == []


def test_secondaries_learn_the_primary_from_events():
    run = primary_election(0)
    primary = next(c for c, evs in run.events.items() if any(k == "belief-start" for _, k, _ in evs))
    told = 0
    for c, evs in run.events.items():
        if c != primary:
            told += ("modified", "/ls/cell/svc/primary") in [d for _, k, d in evs if k == "event"]
            assert [d for _, k, d in evs if k == "primary-is"][-1] == primary
    assert told >= 1        # a secondary subscribed before the primary wrote its name was told


def test_failover_event_reaches_every_session():
    run = failover(0)
    for evs in run.events.values():
        assert ("failover", None) in [d for _, k, d in evs if k == "event"]


# ---- caching with invalidation ----------------------------------------------------------------------
def _cached_reads(run) -> int:
    return sum(1 for o in run.ops if o[1] == "read" and o[7] == "ok" and o[4] == o[6])


def test_cache_serves_reads_and_stays_linearizable_when_invalidations_are_lost():
    runs = [stale_cache(s) for s in range(20)]
    assert sum(_cached_reads(r) for r in runs) > 50           # the cache is really used
    assert all(check_namespace(r) == [] for r in runs)


def test_cache_served_after_a_lost_invalidation_is_caught():
    caught = [s for s in range(20) if check_namespace(stale_cache(s, broken=True))]
    assert caught, "the eager-invalidation master was never caught"
    assert check_namespace(stale_cache(caught[0])) == []


def test_uncached_client_sends_every_read():
    run = run_cell(1, election=0, workload=2, ops=20, until=4.0)
    assert _cached_reads(run) > 0


@pytest.mark.parametrize("read_mode", ["read_index", "log"])
def test_reads_by_read_index_or_through_the_log(read_mode):
    faults = "crash n1 at 0.8 restart 1.6; partition n2,n3 | n1,n4,n5,w1,w2,w3 at 1.2 heal 1.9"
    run = run_cell(2, election=0, workload=3, ops=15, faults=faults, until=4.0, read_mode=read_mode)
    reads_logged = sum(1 for c in run.log if c.kind == "get")
    assert (reads_logged > 0) == (read_mode == "log")
    assert sum(1 for o in run.ops if o[1] == "read" and o[7] == "ok") >= 10
    assert check_lockservice(run) == []


def test_same_seed_same_run():
    a, b = gc_pause(3), gc_pause(3)
    assert a.summary() == b.summary() and a.writes == b.writes and a.events == b.events


# ---- the GC pause: fencing --------------------------------------------------------------------------
def test_gc_pause_with_sequencers_rejects_the_late_write():
    run = gc_pause(0, fenced=True)
    rejected = [w for w in run.writes if not w[4]]
    assert len(rejected) == 1 and rejected[0][5].startswith(ns.STALE_SEQUENCER)
    assert check_fenced_effects(run) == [] and check_lockservice(run) == []
    overlaps = belief_overlaps(run)
    assert overlaps and all(o["paused"] for o in overlaps)      # beliefs overlapped; effects did not


def test_gc_pause_without_fencing_corrupts_the_resource():
    run = gc_pause(0, fenced=False)
    found = check_fenced_effects(run)
    assert len(found) == 1 and "generation 1 after" in found[0], found
    assert check_beliefs(run) == []         # the overlap is explained by the pause: beliefs are not the bug


def test_lock_delay_protects_unfenced_clients_only_from_short_pauses():
    assert check_fenced_effects(gc_pause(0, fenced=False, lock_delay=3.0)) == []     # pause 2 s < delay
    assert check_fenced_effects(gc_pause(0, fenced=False, lock_delay=1.0)) != []     # pause 2 s > delay


# ---- fail-over: grace period ------------------------------------------------------------------------
def test_failover_sessions_survive_with_grace_and_die_without():
    good, bad = failover(0, grace=True), failover(0, grace=False)
    assert len(good.masters) == 2 and good.masters[1][0] > 1.0       # a new master after the crash
    kinds = [k for evs in good.events.values() for _, k, _ in evs]
    assert kinds.count("session") == 3 and "expired" not in kinds and "safe" in kinds
    assert sessions_abandoned(good) == []
    assert len(sessions_abandoned(bad)) >= 3


# ---- the checkers catch each broken variant ---------------------------------------------------------
def _first_caught(variant: str, check, seeds=range(60)) -> int | None:
    for seed in seeds:
        if check(random_lockservice(seed, variant=variant, until=3.0)):
            return seed
    return None


@pytest.mark.parametrize("variant,check", [
    ("no-fencing", check_fenced_effects),
    ("long-client-lease", check_beliefs),
    ("amnesiac-master", check_session_safety),
    ("no-grace", sessions_abandoned),
])
def test_broken_variant_is_caught(variant, check):
    seed = _first_caught(variant, check)
    assert seed is not None, f"{variant} never caught in 60 seeds"
    # The same seed with the correct service passes every check.
    assert check_lockservice(random_lockservice(seed, until=3.0)) == []
    assert not sessions_abandoned(random_lockservice(seed, until=3.0))


def test_namespace_model_and_history():
    ok = History([Op("a", "invoke", "create", "k", "v", 0), Op("a", "ok", "create", "k", True, 1),
                  Op("b", "invoke", "read", "k", None, 2), Op("b", "ok", "read", "k", "v", 3),
                  Op("a", "invoke", "delete", "k", None, 4), Op("a", "ok", "delete", "k", True, 5),
                  Op("b", "invoke", "write", "k", "w", 6), Op("b", "ok", "write", "k", False, 7)])
    assert check_linearizability(ok, NamespaceModel()).ok
    stale = History(list(ok) + [Op("b", "invoke", "read", "k", None, 8), Op("b", "ok", "read", "k", "v", 9)])
    assert check_linearizability(stale, NamespaceModel()).verdict == "Illegal"
    run = run_cell(1, election=0, workload=3, ops=10, until=3.0)
    assert len(namespace_history(run)) == 2 * len(run.ops) and len(run.ops) >= 25
    assert check_namespace(run) == []


def test_namespace_checker_catches_a_lost_write():
    run = run_cell(1, election=0, workload=3, ops=20, until=3.0, keys=("a",))
    reads = [i for i, o in enumerate(run.ops) if o[1] == "read" and o[7] == "ok" and o[5] is not None]
    assert reads
    i = reads[0]
    run.ops[i] = (*run.ops[i][:5], "never-written", *run.ops[i][6:])
    assert check_namespace(run)


# ---- the sweep --------------------------------------------------------------------------------------
def test_sweep_300_seeds_no_violations():
    # (its duration is benchmarks/bench_lockservice.py's business, never an assertion)
    bad = {}
    for seed in range(300):
        found = check_lockservice(random_lockservice(seed, until=3.0))
        if found:
            bad[seed] = found
    assert bad == {}


def test_variants_listed():
    assert VARIANTS[0] == "correct" and len(VARIANTS) == 6
    with pytest.raises(LockServiceError):
        raise LockServiceError(ns.BAD_PATH, "x")
