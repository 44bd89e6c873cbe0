"""A linearizability checker: Wing & Gong's search with Lowe's memoization.

A history is *linearizable* (Herlihy & Wing, "Linearizability: A Correctness
Condition for Concurrent Objects", TOPLAS 1990) when every completed operation
can be given a single instant between its invocation and its completion such
that, in the order of those instants, the operations form a legal run of the
object's sequential specification (a :mod:`~distlib.check.models` model).

How the search works (Wing & Gong 1993; Lowe, "Testing for Linearizability",
2017; the same algorithm as the Go checker *porcupine*):

* Every operation becomes a *call* entry at its invocation time and a *return*
  entry at its completion time; the entries sit in one doubly linked list sorted
  by time (calls before returns at equal times, so touching operations count as
  concurrent).
* Walk the list from the front. At a call entry, try to linearize that operation
  next: if the model accepts it, *lift* the call and its return out of the list,
  push it on a stack and restart from the front. At a return entry, the operation
  that returns there had to be linearized before anything later: this branch is
  dead, so pop the last choice, *unlift* it and try the next candidate.
* Lowe's memoization: a configuration is (set of linearized operations, model
  state). Reaching one twice explores the same future, so each is cached (the set
  is a bitmask in a Python int) and never explored again.
* P-compositionality (Herlihy & Wing §3.3, locality): for a model with
  ``partition_by_key`` the history is checked key by key. The keys' searches are
  resumable and run *interleaved* — round-robin, a slice of model steps each — so
  one expensive key cannot spend the whole budget while a cheap Illegal key waits:
  any Illegal key makes the history Illegal; Unknown only if no key is Illegal and
  some key ran out.
* Budgets: ``max_steps`` (model steps, all keys together: time), ``max_states``
  (configurations per key) and ``max_memory`` (estimated bytes of all memo caches:
  when exceeded, the key with the largest cache stops and the others go on). The
  memory cap holds even with ``max_steps=None``, so a search ends Unknown with a
  reason instead of being killed by the operating system.
* A model may merge states that no operation of the history at hand can tell apart
  (``Model.for_history``; :class:`~distlib.check.models.AppendKVStore` does, so
  wrong orders of concurrent appends collapse into one configuration).

History conventions (Jepsen's): ``fail`` operations certainly did not happen and
are dropped; ``info`` operations (and invocations never completed) may or may
not have happened, so they are concurrent with everything after their
invocation: they may be linearized anywhere after it, or omitted. The search
succeeds as soon as every ``ok`` operation is linearized (the rest are omitted).

The verdict is ``"Ok"``, ``"Illegal"`` or ``"Unknown"`` (a budget exhausted; the
reason says which key and which budget, ``LinResult.key_verdicts`` gives every key's
verdict); :attr:`LinResult.ok` is True only for ``"Ok"`` — Unknown never counts as a pass.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Generator, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.check.models import UNKNOWN, Model, ModelOp, Register
from distlib.sim import validate
from distlib.sim.history import History, Op

VERDICTS = ("Ok", "Illegal", "Unknown")
DEFAULT_MAX_STEPS = 5_000_000
DEFAULT_MAX_MEMORY = 2**30   # bytes of memo cache (estimated) over all keys: 1 GiB


@dataclass(frozen=True)
class LinOp:
    """One operation of a history, invocation and completion paired."""

    index: int          # position in invocation order
    process: str
    f: str
    key: Hashable | None
    input: Any          # value given at invocation
    output: Any         # value observed at completion (UNKNOWN for info/open operations)
    call: float
    ret: float          # completion time; math.inf for info/open operations
    status: str         # "ok", "fail" or "info"
    end: float = math.nan  # time the completion was recorded (info: its timeout; open: nan)

    @property
    def model_op(self) -> ModelOp:
        return ModelOp(self.f, self.input, self.output, self.key)

    def interval(self) -> str:
        ret = "∞" if self.ret == math.inf else f"{self.ret:.3f}"
        return f"[{self.call:.3f}, {ret}]"


def operations_from_history(history: Iterable[Op]) -> list[LinOp]:
    """Pair invocations with completions (``History.pairs``) into :class:`LinOp` records."""
    if not isinstance(history, History):
        history = History(history)
    ops: list[LinOp] = []
    for i, (inv, done) in enumerate(history.pairs()):
        if done is None:
            ops.append(LinOp(i, inv.process, inv.f, inv.key, inv.value, UNKNOWN, inv.time, math.inf,
                             "info"))
        elif done.type == "info":
            ops.append(LinOp(i, inv.process, inv.f, inv.key, inv.value, UNKNOWN, inv.time, math.inf,
                             "info", done.time))
        else:
            if done.time < inv.time:
                raise ValueError(f"history: completion of {inv!r} at {done.time} precedes its invocation")
            ops.append(LinOp(i, inv.process, inv.f, inv.key, inv.value, done.value, inv.time, done.time,
                             done.type, done.time))
    return ops


def describe(model: Model, op: LinOp) -> str:
    """``read x -> 1 by c2 at [0.310, 0.400]``: an operation in explanation text."""
    k = "" if op.key is None else f"{op.key} "
    if op.f == "read":
        what = f"read {k}-> {op.output!r}"
    elif op.f == "write":
        what = f"write {k}={op.input!r}" if not k else f"write {op.key}={op.input!r}"
    else:
        what = model.describe_op(op.model_op)
    tag = {"info": " (outcome unknown)", "fail": " (failed)"}.get(op.status, "")
    return f"{what} by {op.process} at {op.interval()}{tag}"


@dataclass
class LinResult:
    """The checker's answer. ``ok`` is True only when ``verdict == "Ok"``."""

    verdict: str
    model: Model
    operations: list[LinOp]
    order: list[int] = field(default_factory=list)      # Ok: witness; Illegal: longest prefix found
    points: dict[int, float] = field(default_factory=dict)  # a linearization instant per op in order
    culprit: int | None = None                           # Illegal: the op that cannot be placed next
    key: Hashable | None = None                          # the partition that was Illegal/Unknown
    state: str = ""                                      # model state after ``order`` (Illegal)
    reason: str = ""
    steps: int = 0                                       # model.step calls made
    states: int = 0                                      # distinct configurations cached
    keys: int = 1                                        # partitions checked
    culprit_step_ok: bool | None = None                  # Illegal: would the model accept the culprit?
    key_verdicts: dict[Hashable, str] = field(default_factory=dict)  # each partition's verdict
    key_reasons: dict[Hashable, str] = field(default_factory=dict)   # why a partition is Unknown
    memory: int = 0                                      # peak estimated bytes of memo caches

    @property
    def ok(self) -> bool:
        return self.verdict == "Ok"

    def __repr__(self) -> str:
        tail = f": {self.reason}" if self.reason else ""
        return (f"LinResult({self.verdict}, ops={len(self.operations)}, steps={self.steps}, "
                f"states={self.states}{tail})")

    def explain(self, max_prefix: int = 8) -> str:
        """A readable account of the verdict."""
        ops, model = self.operations, self.model
        n_ok = sum(1 for o in ops if o.status == "ok")
        n_info = sum(1 for o in ops if o.status == "info")
        n_fail = len(ops) - n_ok - n_info
        head = (f"{len(ops)} operations ({n_ok} ok, {n_info} info, {n_fail} fail) "
                f"checked against a {model.name}")
        if self.keys > 1:
            head += f", key by key ({self.keys} keys)"
        lines = [head + f"; {self.states} configurations explored."]
        if self.verdict == "Ok":
            lines.append(f"Ok: linearizable. A witness order ({len(self.order)} operations; "
                         "fail ops dropped, unused info ops omitted):")
            lines += _listing(model, ops, self.order, max_prefix)
        elif self.verdict == "Illegal":
            where = "" if self.key is None else f" (key {self.key!r})"
            lines.append(f"Illegal: not linearizable{where}.")
            lines.append(f"The longest linearizable prefix found has {len(self.order)} operations:")
            lines += _listing(model, ops, self.order, max_prefix)
            lines.append(f"after which {self.state}.")
            if self.culprit is not None:
                c = ops[self.culprit]
                placed = set(self.order)
                pending = [o for o in ops if o.index not in placed and o.index != c.index
                           and o.status != "fail" and o.call <= c.ret]
                lines.append(f"Then {describe(model, c)} cannot be placed. It completed at {c.ret:.3f}, so "
                             "it must be linearized before any operation invoked later.")
                if self.culprit_step_ok is False:
                    lines.append(f"  It is not legal in this state ({self.state}).")
                if pending:
                    lines.append("  No other pending operation can go first and make it legal:")
                    lines += [f"    - {describe(model, o)}" for o in pending[:max_prefix]]
                    if len(pending) > max_prefix:
                        lines.append(f"    ... and {len(pending) - max_prefix} more")
                lines.append("Every other order of the operations was tried (memoized) and gets no further.")
        else:
            lines.append(f"Unknown: {self.reason}. Unknown is not a pass: raise the budget or shorten "
                         "the history.")
        if self.keys > 1 and self.verdict != "Ok":
            lines.append("Per key: " + ", ".join(f"{k}: {v}" for k, v in self.key_verdicts.items()))
            lines += [f"  {k}: {why}" for k, why in self.key_reasons.items()
                      if self.verdict == "Unknown" and k != self.key]
        return "\n".join(lines)


def _listing(model: Model, ops: list[LinOp], order: list[int], limit: int) -> list[str]:
    shown = list(enumerate(order, 1))
    out: list[str] = []
    if len(shown) > limit:
        out.append(f"  ... {len(shown) - limit} earlier operations ...")
        shown = shown[-limit:]
    out += [f"  {n:>3}. {describe(model, ops[i])}" for n, i in shown]
    return out


def _sorted_keys(keys: Iterable[Hashable]) -> list[Hashable]:
    keys = list(keys)
    try:
        return sorted(keys)
    except TypeError:  # mixed key types: still deterministic
        return sorted(keys, key=lambda k: (type(k).__name__, repr(k)))


@dataclass
class _Outcome:
    verdict: str
    order: list[int]
    culprit: int | None = None
    state: Hashable = None
    steps: int = 0
    states: int = 0


class _Meter:
    """What one partition's search has used so far; the scheduler reads it between slices.

    ``limit``: the search pauses (yields) once ``steps`` reaches it. ``bytes`` estimates the memo
    cache: the set's own table (``sys.getsizeof``, exact; counted 1.5 times, since a resize holds
    the old table and the new one at once) plus the number of cached keys times the
    mean size of a sample of them (the key tuple and its four fields, ``sys.getsizeof`` each, small
    ints excepted: an upper estimate, since other fields shared between keys count once per key).
    ``shared`` is the meter of all partitions together; a search pauses as soon as it exceeds its
    ``cap``.
    """

    __slots__ = ("steps", "states", "bytes", "limit", "shared")

    def __init__(self, shared: _Total) -> None:
        self.steps = self.states = self.bytes = 0
        self.limit = 0
        self.shared = shared


class _Total:
    __slots__ = ("bytes", "cap", "peak")

    def __init__(self, cap: float) -> None:
        self.bytes = self.peak = 0
        self.cap = cap


_SAMPLE_EVERY = 64      # memo keys between two size samples (and memory checks)
_SLICE = 10_000         # model steps a partition runs before the next partition's turn


def _shared_int(x: object) -> bool:
    """CPython keeps one copy of each int in -5..256: a key holding one adds no memory for it."""
    return type(x) is int and -5 <= x <= 256  # type: ignore[operator]


def _search(model: Model, ops: Sequence[LinOp], mops: Sequence[ModelOp], max_states: int | None,
            meter: _Meter) -> Generator[None, None, _Outcome]:
    """Wing–Gong/Lowe search over one partition. Returns local indices into ``ops``.

    A generator: it pauses (yields) when ``meter.steps`` reaches ``meter.limit`` or the shared
    memory estimate exceeds its cap, so the scheduler can interleave partitions and stop one.

    Each search node (a prefix) is expanded once: its *candidates* are the call
    entries before the first return entry in the list (Wing & Gong's "minimal"
    operations); the children are those the model accepts. Partial-order
    reduction: a legal candidate that the model declares read-only (it leaves every
    state unchanged, e.g. a read) can be moved to the front of any linearization of
    the rest, so it becomes the node's only child — no branching on it. (Being a
    no-op *in the current state* is not enough: a write of the current value is a
    no-op now but not later.)
    """
    m = len(ops)
    n_ok = sum(1 for o in ops if o.status == "ok")
    init = model.init()
    if n_ok == 0:
        return _Outcome("Ok", [], state=init)

    # Entries sorted by time, calls before returns at equal times (touching ops are
    # concurrent), then by op for determinism. Info ops have no return entry.
    ev: list[tuple[float, int, int]] = []
    for i, o in enumerate(ops):
        ev.append((o.call, 0, i))
        if o.status == "ok":
            ev.append((o.ret, 1, i))
    ev.sort()
    n_e = len(ev)
    head, tail = n_e, n_e + 1
    eop = [i for _, _, i in ev]
    is_call = [kind == 0 for _, kind, _ in ev]
    ret_pos = [-1] * m
    for pos, (_, kind, i) in enumerate(ev):
        if kind == 1:
            ret_pos[i] = pos
    match = [ret_pos[eop[p]] if is_call[p] else -1 for p in range(n_e)]
    # Doubly linked list over positions 0..n_e-1 with head/tail sentinels (dancing links).
    nxt = list(range(1, n_e + 1)) + [0, -1]
    prv = [head] + list(range(0, n_e - 1)) + [-1, n_e - 1]
    nxt[n_e - 1] = tail
    # Compact configuration keys (Lowe's cache): ok ops are numbered in invocation order and
    # the linearized ones are stored as ``low`` (all ok ops below it are linearized) plus a
    # small bitmask ``win`` of the ones above it; info ops (never forced) get their own mask.
    # Keys then stay a few machine words long even for 10^5-operation histories.
    num = [0] * m
    n_ok_seen = n_info_seen = 0
    for i, o in enumerate(ops):
        if o.status == "ok":
            num[i] = n_ok_seen
            n_ok_seen += 1
        else:
            num[i] = n_info_seen
            n_info_seen += 1
    is_ok = [o.status == "ok" for o in ops]
    read_only = getattr(model, "read_only", None)
    ro = [bool(read_only(mo)) for mo in mops] if read_only is not None else [False] * m

    step = model.step
    cache: set[tuple[int, int, int, Hashable]] = set()
    cache_add = cache.add
    # A frame: [children [(entry, new_state), ...], next child index, state, low, win, ibits].
    frames: list[list] = []
    # Entries lifted on the way to the current node, as a linked list of (entry, parent) pairs:
    # remembering the longest prefix for the explanation is then O(1), not a copy.
    path: tuple | None = None
    depth = 0
    state = init
    low = win = ibits = 0
    done = 0
    steps = 0
    best: tuple | None = None
    best_len = -1
    best_culprit: int | None = None
    best_state: Hashable = init
    state_limit = max_states if max_states is not None else -1
    total = meter.shared
    next_sample = 1
    sampled_bytes = sampled = 0
    getsizeof = sys.getsizeof

    expand = True
    while True:
        if expand:
            if done == n_ok:
                return _Outcome("Ok", _unwind(path, eop), state=state, steps=steps, states=len(cache))
            children: list[tuple[int, Hashable]] = []
            e = nxt[head]
            while e != tail and is_call[e]:
                o = eop[e]
                ok, new_state = step(state, mops[o])
                steps += 1
                if ok:
                    if ro[o]:
                        children = [(e, new_state)]  # read-only: the only child needed (docstring)
                        break
                    children.append((e, new_state))
                e = nxt[e]
            if not children and depth > best_len:
                # a dead end deeper than any before: the explanation's longest prefix
                best_len = depth
                best = path
                best_culprit = eop[e] if e != tail else None
                best_state = state
            frames.append([children, 0, state, low, win, ibits])
            if steps >= meter.limit:
                meter.steps, meter.states = steps, len(cache)
                yield
        # Descend into the next unexplored child of the top frame, or backtrack.
        frame = frames[-1]
        children, idx, state, low, win, ibits = frame
        descended = False
        while idx < len(children):
            e, new_state = children[idx]
            idx += 1
            o = eop[e]
            if is_ok[o]:
                new_win = win | (1 << (num[o] - low))
                new_low = low
                if new_win & 1:  # the lowest unlinearized op got linearized: slide the window
                    ones = (~new_win & (new_win + 1)).bit_length() - 1
                    new_win >>= ones
                    new_low += ones
                k = (new_low, new_win, ibits, new_state)
                if k in cache:
                    continue
                low, win = new_low, new_win
            else:
                new_ibits = ibits | (1 << num[o])
                k = (low, win, new_ibits, new_state)
                if k in cache:
                    continue
                ibits = new_ibits
            cache_add(k)
            frame[1] = idx
            # lift the call entry and its return entry out of the list
            p, n = prv[e], nxt[e]
            nxt[p] = n
            prv[n] = p
            r = match[e]
            if r >= 0:
                p, n = prv[r], nxt[r]
                nxt[p] = n
                prv[n] = p
                done += 1
            path = (e, path)
            depth += 1
            state = new_state
            descended = True
            break
        if descended:
            n_cached = len(cache)
            if n_cached == state_limit:
                return _Outcome("Unknown", [], steps=steps, states=n_cached)
            if n_cached >= next_sample:
                next_sample += _SAMPLE_EVERY
                sampled_bytes += getsizeof(k) + sum(getsizeof(x) for x in k if not _shared_int(x))
                sampled += 1
                # x 1.5: while the set resizes, its old table (half the new one) is still alive
                estimate = getsizeof(cache) * 3 // 2 + n_cached * sampled_bytes // sampled
                total.bytes += estimate - meter.bytes
                total.peak = max(total.peak, total.bytes)
                meter.bytes = estimate
                if total.bytes > total.cap:
                    meter.steps, meter.states = steps, n_cached
                    yield
            expand = True
            continue
        # every child explored: this node fails; unlift the entry that led here
        frames.pop()
        if path is None:
            return _Outcome("Illegal", _unwind(best, eop), culprit=best_culprit, state=best_state,
                            steps=steps, states=len(cache))
        e, path = path
        depth -= 1
        r = match[e]
        if r >= 0:
            p, n = prv[r], nxt[r]
            nxt[p] = r
            prv[n] = r
            done -= 1
        p, n = prv[e], nxt[e]
        nxt[p] = e
        prv[n] = e
        expand = False


def _unwind(path: tuple | None, eop: list[int]) -> list[int]:
    out = []
    while path is not None:
        e, path = path
        out.append(eop[e])
    out.reverse()
    return out


def _points(ops: Sequence[LinOp], order: Sequence[int]) -> list[float]:
    """An instant inside each op's interval, nondecreasing along ``order`` (a valid order assumed).

    Lower bound: the latest invocation so far; upper bound: the earliest completion from
    here on. Both are nondecreasing and lower <= upper for a real-time-respecting order,
    so the midpoint is a valid linearization point.
    """
    n = len(order)
    lo: list[float] = []
    cur = -math.inf
    for i in order:
        cur = max(cur, ops[i].call)
        lo.append(cur)
    hi = [math.inf] * n
    cur = math.inf
    for j in range(n - 1, -1, -1):
        cur = min(cur, ops[order[j]].ret)
        hi[j] = cur
    return [a if b == math.inf else (a + b) / 2 for a, b in zip(lo, hi, strict=True)]


def check_linearizability(history: Iterable[Op] | Sequence[LinOp], model: Model | None = None, *,
                          max_steps: int | None = DEFAULT_MAX_STEPS,
                          max_states: int | None = None,
                          max_memory: int | None = DEFAULT_MAX_MEMORY) -> LinResult:
    """Check ``history`` against ``model`` (default :class:`~distlib.check.models.Register`).

    Budgets (each ``None`` = no bound; exceeding one gives verdict ``"Unknown"`` with a reason):

    * ``max_steps``: model steps over all keys together. With ``None`` the search is unbounded
      in *time* but still bounded in memory by ``max_memory``.
    * ``max_states``: configurations cached per key.
    * ``max_memory``: bytes of memo cache, estimated (see :class:`_Meter`), over all keys. When
      it is exceeded the key with the largest cache stops (Unknown) and frees it; the others
      go on. The default, 1 GiB, keeps a run far from an out-of-memory kill; ``None`` removes
      the cap (the search may then use all the machine's memory).

    With a ``partition_by_key`` model the keys are searched *interleaved* (round-robin, a slice
    of steps each), so an expensive key cannot use up the budget before a cheap Illegal one is
    looked at. The verdict is ``"Illegal"`` as soon as any key is Illegal, ``"Unknown"`` only if
    none is and some key ran out of a budget, else ``"Ok"``; ``key_verdicts`` has each key's.
    """
    if model is None:
        model = Register()
    if not (hasattr(model, "init") and hasattr(model, "step")):
        raise ValueError(f"model must have init() and step(state, op) (got {model!r})")
    for name, val in (("max_steps", max_steps), ("max_states", max_states), ("max_memory", max_memory)):
        if val is not None:
            validate.integer(name, val, 1)
    hist = list(history)
    if hist and all(isinstance(o, LinOp) for o in hist):
        ops = hist
        if any(o.index != i for i, o in enumerate(ops)):
            raise ValueError("LinOp.index must be the operation's position in the list (renumber "
                             "with dataclasses.replace(op, index=i))")
    else:
        ops = operations_from_history(hist)

    ignorable = getattr(model, "ignorable", None)
    live = [o for o in ops if o.status != "fail" and not (o.status == "info" and ignorable and
                                                          ignorable(o.model_op))]
    if getattr(model, "partition_by_key", False):
        groups: dict[Hashable, list[LinOp]] = {}
        for o in live:
            groups.setdefault(o.key, []).append(o)
        keys = _sorted_keys(groups)
        parts = [(k, groups[k]) for k in keys]
    else:
        distinct = _sorted_keys({o.key for o in ops})
        if len(distinct) > 1:
            raise ValueError(f"history has operations on {len(distinct)} keys {distinct[:5]!r}: use "
                             "model=KVStore() to check each key as its own register")
        parts = [(distinct[0] if distinct else None, live)]

    total = _Total(max_memory if max_memory is not None else math.inf)
    runs: list[_Run] = []
    for rank, (key, part) in enumerate(parts):
        prune = getattr(model, "prune", None)
        if prune is not None:  # model-specific sound reduction (e.g. unobserved timed-out writes)
            keep = prune([o.model_op for o in part], [o.status == "info" for o in part])
            part = [o for o, k in zip(part, keep, strict=True) if k or o.status == "ok"]
        mops = [o.model_op for o in part]
        for_history = getattr(model, "for_history", None)
        kmodel = for_history(mops, [o.status == "info" for o in part]) if for_history else model
        meter = _Meter(total)
        runs.append(_Run(rank, key, part, kmodel, meter, _search(kmodel, part, mops, max_states, meter)))

    budget = max_steps if max_steps is not None else math.inf
    steps = 0
    verdicts: dict[Hashable, str] = {}
    reasons: dict[Hashable, str] = {}
    orders: list[tuple[int, list[int], list[float]]] = []
    where = (lambda key: f"key {key!r}") if len(parts) != 1 or parts[0][0] is not None else \
        (lambda key: "the search")
    active = list(runs)
    illegal: tuple[_Run, _Outcome] | None = None
    while active and illegal is None and steps < budget:
        for run in list(active):
            if illegal is not None or steps >= budget:
                break
            if run.search is None:  # stopped for memory earlier in this round
                continue
            meter = run.meter
            before = meter.steps
            meter.limit = before + min(_SLICE, budget - steps)
            try:
                next(run.search)
            except StopIteration as stop:
                out: _Outcome = stop.value
                meter.steps, meter.states = out.steps, out.states
                active.remove(run)
                total.bytes -= meter.bytes      # the finished search's cache is garbage now
                run.search = None
                if out.verdict == "Illegal":
                    illegal = (run, out)
                elif out.verdict == "Unknown":  # a search returns Unknown only for max_states
                    verdicts[run.key] = "Unknown"
                    reasons[run.key] = (f"{where(run.key)} ran out of its configuration budget "
                                        f"(max_states={max_states}) after {out.steps} steps")
                else:
                    verdicts[run.key] = "Ok"
                    order = [run.part[i].index for i in out.order]
                    orders.append((run.rank, order, _points(ops, order)))
            steps += meter.steps - before
            if total.bytes > total.cap and illegal is None and active:
                # stop the biggest cache (not necessarily this one's): it is the one to blame
                big = max(active, key=lambda r: (r.meter.bytes, -r.rank))
                active.remove(big)
                total.bytes -= big.meter.bytes
                big.search.close()
                big.search = None
                verdicts[big.key] = "Unknown"
                m = big.meter
                if len(parts) == 1:
                    reasons[big.key] = (f"{where(big.key)}: memo cache exceeded {_mb(total.cap)} "
                                        f"(max_memory={max_memory} bytes) after {m.steps} steps and "
                                        f"{m.states} configurations")
                else:
                    reasons[big.key] = (f"{where(big.key)}: memo caches exceeded {_mb(total.cap)} over "
                                        f"all keys (max_memory={max_memory} bytes) and this key's was "
                                        f"the largest: about {_mb(m.bytes)} in {m.states} "
                                        f"configurations after {m.steps} steps")
    for run in active:  # still running when the step budget ran out, or when a key was Illegal
        if run.search is not None:
            run.search.close()
        verdicts[run.key] = "Unknown"
        if illegal is not None:
            reasons[run.key] = f"not finished: {where(illegal[0].key)} is Illegal"
        else:
            reasons[run.key] = (f"{where(run.key)} ran out of the step budget (max_steps={max_steps}"
                                f"{', shared by all keys' if len(parts) > 1 else ''}) after "
                                f"{run.meter.steps} steps and {run.meter.states} configurations")
    key_verdicts = {run.key: verdicts.get(run.key, "Illegal") for run in runs}
    key_reasons = {run.key: reasons[run.key] for run in runs if run.key in reasons}
    states = sum(run.meter.states for run in runs)
    common = dict(steps=steps, states=states, keys=len(parts), key_verdicts=key_verdicts,
                  key_reasons=key_reasons, memory=total.peak)
    if illegal is not None:
        run, out = illegal
        part, kmodel = run.part, run.model
        order = [part[i].index for i in out.order]
        return LinResult("Illegal", model, ops, order=order,
                         points=dict(zip(order, _points(ops, order), strict=True)),
                         culprit=None if out.culprit is None else part[out.culprit].index, key=run.key,
                         state=kmodel.describe_state(out.state, run.key),
                         reason=_illegal_reason(kmodel, ops, order, out, part, run.key),
                         culprit_step_ok=None if out.culprit is None else
                         bool(kmodel.step(out.state, part[out.culprit].model_op)[0]), **common)
    unknown = [run.key for run in runs if key_verdicts[run.key] == "Unknown"]
    if unknown:
        reason = key_reasons[unknown[0]]
        if len(unknown) > 1:
            reason += f" (and {len(unknown) - 1} more of the {len(parts)} keys)"
        return LinResult("Unknown", model, ops, key=unknown[0], reason=reason, **common)
    # Merge per-key witnesses into one global order: sort by linearization instant (real-time
    # order is respected because every instant lies inside its operation's interval).
    merged = sorted((t, rank, pos, i) for rank, order, pts in orders
                    for pos, (i, t) in enumerate(zip(order, pts, strict=True)))
    order = [i for _, _, _, i in merged]
    return LinResult("Ok", model, ops, order=order, points={i: t for t, _, _, i in merged}, **common)


@dataclass
class _Run:
    """One partition's search, as the scheduler sees it."""

    rank: int
    key: Hashable
    part: list[LinOp]
    model: Model
    meter: _Meter
    search: Generator[None, None, _Outcome] | None


def _mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def _illegal_reason(model: Model, ops: list[LinOp], order: list[int], out: _Outcome,
                    part: Sequence[LinOp], key: Hashable) -> str:
    if out.culprit is None:
        return "no operation can be linearized"
    culprit = describe(model, part[out.culprit])
    after = f"after {describe(model, ops[order[-1]])}" if order else "first"
    return f"{culprit} cannot be placed: {after}, {model.describe_state(out.state, key)}"


__all__ = ["DEFAULT_MAX_MEMORY", "DEFAULT_MAX_STEPS", "LinOp", "LinResult", "VERDICTS",
           "check_linearizability", "describe", "operations_from_history"]
