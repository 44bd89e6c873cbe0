"""Sagas: long-lived transactions as a sequence of local transactions with compensations.

Source: H. Garcia-Molina & K. Salem, "Sagas", SIGMOD 1987. A saga is a sequence of transactions
T1 ... Tn with compensating transactions C1 ... Cn-1; the system guarantees that either T1 ... Tn all
run, or T1 ... Tj, Cj ... C1 for some j (section 1, "Introduction"): atomicity is *semantic* -- Ci
undoes Ti's effect "from a semantic point of view", not by restoring the old bytes -- and there is no
isolation: other transactions see the effects of a saga that has not finished (ibid., and section
"Designing Sagas"). Compensations may not fail for good: the saga execution component retries them
until they succeed (the paper's "backward recovery"; with save points, "forward recovery" re-runs
steps instead).

Service-era vocabulary (C. Richardson, *Microservices Patterns*, 2018, ch. 4): a step is
**compensatable** (it has a compensation), the **pivot** (the go/no-go step: once it commits the saga
can only go forward) or **retriable** (after the pivot; guaranteed to succeed if retried). So a saga
is ``compensatable* [pivot] retriable*``: backward recovery before the pivot, forward recovery after.

The cluster (every node an actor, see :mod:`distlib.sim.node`):

* **services** (:class:`SagaService`) own a local ACID store in their durable ``storage``
  (:mod:`distlib.transactions.localstore`): a database, an **inbox** (idempotency key -> result, so
  a step or compensation delivered twice takes effect once) and an **outbox** (events written in the
  *same* local transaction as the state change, relayed until acknowledged: the transactional outbox).
* **orchestration**: an :class:`Orchestrator` with a durable saga log (``storage["log"]``) sends each
  step, waits for the reply, and on a failure compensates the committed steps in reverse order. It
  recovers from its log after a crash and resumes forward or backward.
* **choreography**: no coordinator; each service reacts to the previous service's event (relayed from
  its outbox) and publishes its own.
* an **app** node (:class:`SagaApp`, never crashed: it is the user) starts each saga and retries
  until the orchestrator (or the first service) has durably accepted it.

The network loses, duplicates and reorders messages; everything is retried (at-least-once), and the
inbox makes every step and compensation take effect exactly once. A step that only fails transiently
is retried up to its ``retries``; then the orchestrator *cancels* it (the service fences the key
off, or reports that it did commit), so a late copy can never commit a step the saga gave up on.
A compensation that the service refuses for good leaves the saga in an explicit **stuck** state with
the reason -- never a silent half-done saga.

Broken variants (each caught by :mod:`distlib.check.saga`): :class:`WrongOrderOrchestrator`
(compensates first-to-last), :class:`NonIdempotentService` (no inbox: duplicates apply twice),
:class:`NoLogOrchestrator` (saga state in memory: a crash forgets sagas half-done) and
:class:`DirectPublishService` (publishes its event after the local transaction, outside it: a crash
in between loses the event).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.sim import FaultSchedule, Node, World, as_schedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import flag, integer, number, one_of, subclass

from .localstore import Entry, Refuse, Tx, commit, init_store

KINDS = ("compensatable", "pivot", "retriable")
MODES = ("orchestration", "choreography")
Op = Callable[[Tx, Mapping[str, Any]], "Mapping[str, Any] | None"]


# ---- definitions ---------------------------------------------------------------------------------
def _name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty name (got {value!r})")
    return value


@dataclass(frozen=True)
class Step:
    """One step of a saga: ``action`` (an operation name) runs as a local transaction at ``service``.

    ``kind``: "compensatable" (needs ``compensation``, the operation that semantically undoes it),
    "pivot" (the go/no-go step, no compensation) or "retriable" (after the pivot; retried until it
    succeeds). ``retries``: how many *transient* failures of the step are tolerated before the saga
    gives up on it (None: no limit); compensations are always retried until they succeed.
    """

    name: str
    service: str
    action: str
    compensation: str | None = None
    kind: str = "compensatable"
    retries: int | None = None

    def __post_init__(self) -> None:
        _name("name", self.name)
        _name("service", self.service)
        _name("action", self.action)
        one_of("kind", self.kind, KINDS)
        if self.kind == "compensatable" and self.compensation is None:
            raise ValueError(f"compensation must name the operation that undoes compensatable step "
                             f"{self.name!r} (got None); a step that cannot be undone is the pivot or "
                             f"a retriable step")
        if self.kind != "compensatable" and self.compensation is not None:
            raise ValueError(f"compensation must be None for {self.kind} step {self.name!r}: a saga never "
                             f"compensates it (got {self.compensation!r})")
        if self.compensation is not None:
            _name("compensation", self.compensation)
        if self.retries is not None:
            integer("retries", self.retries)


@dataclass(frozen=True)
class Saga:
    """A saga definition: ``name`` and its ``steps`` in order, ``compensatable* [pivot] retriable*``."""

    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        _name("name", self.name)
        steps = self.steps
        if isinstance(steps, (str, Step)) or not isinstance(steps, Sequence) or not steps:
            raise ValueError(f"steps must be a non-empty list of Step values (got {steps!r})")
        steps = tuple(steps)
        for i, s in enumerate(steps):
            if not isinstance(s, Step):
                raise ValueError(f"steps[{i}] must be a Step (got {s!r})")
        names = [s.name for s in steps]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ValueError(f"steps[{i}].name must be unique in the saga (got {n!r} twice)")
        pivots = [i for i, s in enumerate(steps) if s.kind == "pivot"]
        if len(pivots) > 1:
            raise ValueError(f"steps must contain at most one pivot "
                             f"(got {', '.join(names[i] for i in pivots)})")
        seen_forward_only: str | None = None   # the first pivot/retriable step so far
        for i, s in enumerate(steps):
            if s.kind == "compensatable" and seen_forward_only is not None:
                raise ValueError(
                    f"steps[{i}] ({s.name!r}) is compensatable but comes after {seen_forward_only!r}: "
                    f"once a pivot or retriable step commits the saga can only go forward, so a later "
                    f"failure could not be undone -- put every compensatable step before the pivot")
            if s.kind == "retriable" and seen_forward_only is None and i + 1 < len(steps) \
                    and any(t.kind == "pivot" for t in steps[i + 1:]):
                raise ValueError(f"steps[{i}] ({s.name!r}) is retriable but comes before the pivot: "
                                 f"retriable steps follow the pivot")
            if s.kind != "compensatable" and seen_forward_only is None:
                seen_forward_only = s.name
        object.__setattr__(self, "steps", steps)

    @property
    def services(self) -> tuple[str, ...]:
        """The services the saga touches, in order of first use."""
        return tuple(dict.fromkeys(s.service for s in self.steps))

    def index(self, step: str) -> int:
        for i, s in enumerate(self.steps):
            if s.name == step:
                return i
        raise ValueError(f"step must be one of {', '.join(s.name for s in self.steps)} (got {step!r})")

    def step(self, name: str) -> Step:
        return self.steps[self.index(name)]

    @property
    def pivot(self) -> str | None:
        return next((s.name for s in self.steps if s.kind == "pivot"), None)


@dataclass(frozen=True)
class SagaInstance:
    """One saga to run: its id, its definition's name, when the app starts it, and its parameters."""

    saga: str
    definition: str
    start_at: float = 0.0
    ctx: tuple[tuple[str, Any], ...] = ()


def _items(data: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((data or {}).items()))


def _step_key(saga: str, step: str) -> str:
    return f"{saga}:{step}"


def _undo_key(saga: str, step: str) -> str:
    return f"{saga}:{step}:undo"


# ---- messages ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Begin:
    """App -> orchestrator: run this saga (re-sent until acknowledged)."""
    saga: str
    definition: str = field(repr=False)
    ctx: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class BeginAck:
    """Orchestrator -> app: the saga is in the orchestrator's durable log."""
    saga: str


@dataclass(frozen=True)
class StepRequest:
    """Orchestrator -> service: run step ``step`` of ``saga`` (idempotency key ``saga:step``)."""
    saga: str
    step: str
    op: str = field(repr=False)
    ctx: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class StepReply:
    """Service -> orchestrator: "ok" (committed, with data), "failed" (refused) or "retry"."""
    saga: str
    step: str
    status: str
    data: tuple = field(default=(), repr=False)
    reason: str = field(default="", repr=False)


@dataclass(frozen=True)
class UndoRequest:
    """Orchestrator -> service: run the compensation of ``step`` (key ``saga:step:undo``)."""
    saga: str
    step: str
    op: str = field(repr=False)
    ctx: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class UndoReply:
    """Service -> orchestrator: "ok", "retry" (transient) or "refused" (for good: the saga is stuck)."""
    saga: str
    step: str
    status: str
    reason: str = field(default="", repr=False)


@dataclass(frozen=True)
class CancelRequest:
    """Orchestrator -> service: give up on ``step``: fence it off unless it has already committed."""
    saga: str
    step: str


@dataclass(frozen=True)
class CancelReply:
    saga: str
    step: str
    committed: bool
    data: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class StartSaga:
    """App -> first service (choreography): start this saga."""
    saga: str
    definition: str = field(repr=False)
    ctx: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class SagaEvent:
    """Service -> service (choreography): step ``step`` of ``saga`` "committed", "failed" or was
    "compensated". Relayed from the sender's outbox until acknowledged."""
    event_id: str = field(repr=False)
    saga: str
    step: str
    outcome: str
    definition: str = field(default="", repr=False)
    ctx: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class EventAck:
    """The receiver has durably processed the event (or the start request) ``event_id``."""
    event_id: str


# ---- the orchestrator's durable saga log ---------------------------------------------------------------
@dataclass(frozen=True)
class SagaBegun:
    saga: str
    definition: str
    ctx: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class StepDone:
    saga: str
    step: str
    data: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class StepFailed:
    saga: str
    step: str
    reason: str = ""


@dataclass(frozen=True)
class Undone:
    saga: str
    step: str


@dataclass(frozen=True)
class SagaEnded:
    saga: str
    outcome: str          # "completed" | "compensated" | "stuck"
    reason: str = ""


# ---- operations (the services' business logic) -------------------------------------------------------
# Written the way application code usually is -- a plain read-modify-write, NOT idempotent by itself:
# running reserve_seat twice takes two seats. Exactly-once effect comes from the inbox (idempotency
# keys), which is the point the chapter makes.
def _hold(tx: Tx, stock: str, amount: int, what: str) -> None:
    left = tx.read(stock)
    if left < amount:
        raise Refuse(f"no {what} left ({left} < {amount})")
    tx.write(stock, left - amount)
    held = tx.read("held")
    held[tx.saga] = held.get(tx.saga, 0) + amount
    tx.write("held", held)


def _release(tx: Tx, stock: str, amount: int) -> None:
    tx.write(stock, tx.read(stock) + amount)
    held = tx.read("held")
    held[tx.saga] = held.get(tx.saga, 0) - amount
    if held[tx.saga] == 0:
        del held[tx.saga]
    tx.write("held", held)


def reserve_seat(tx: Tx, ctx: Mapping[str, Any]) -> None:
    _hold(tx, "seats", ctx.get("seats", 1), "seats")


def release_seat(tx: Tx, ctx: Mapping[str, Any]) -> None:
    _release(tx, "seats", ctx.get("seats", 1))


def reserve_room(tx: Tx, ctx: Mapping[str, Any]) -> None:
    _hold(tx, "rooms", ctx.get("rooms", 1), "rooms")


def release_room(tx: Tx, ctx: Mapping[str, Any]) -> None:
    _release(tx, "rooms", ctx.get("rooms", 1))


def charge(tx: Tx, ctx: Mapping[str, Any]) -> None:
    price = ctx.get("price", 300)
    balance = tx.read("balance")
    if balance < price:
        raise Refuse(f"card declined (balance {balance} < {price})")
    tx.write("balance", balance - price)
    charges = tx.read("charges")
    charges[tx.saga] = charges.get(tx.saga, 0) + price
    tx.write("charges", charges)


def refund(tx: Tx, ctx: Mapping[str, Any]) -> None:
    price = ctx.get("price", 300)
    tx.write("balance", tx.read("balance") + price)
    charges = tx.read("charges")
    charges[tx.saga] = charges.get(tx.saga, 0) - price
    if charges[tx.saga] == 0:
        del charges[tx.saga]
    tx.write("charges", charges)


def _count(tx: Tx, key: str) -> None:
    done = tx.read(key)
    done[tx.saga] = done.get(tx.saga, 0) + 1
    tx.write(key, done)


def issue_ticket(tx: Tx, ctx: Mapping[str, Any]) -> None:
    _count(tx, "tickets")


def confirm_room(tx: Tx, ctx: Mapping[str, Any]) -> None:
    _count(tx, "confirmed")


def noop(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """The compensation of a read-only step: there is nothing to undo."""


# -- the isolation-anomaly scenarios (the last hotel room; an account balance) ------------------------
def quote_room(tx: Tx, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Read how many rooms are free (a read-only step: the saga remembers the answer)."""
    rooms = tx.read("rooms")
    if rooms < 1:
        raise Refuse("no room left")
    return {"quoted_rooms": rooms, "rooms_version": tx.version("rooms")}


def book_blind(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """Book by writing back the quoted count minus one: a value computed from an earlier read
    (another saga's booking in between is overwritten: a lost update)."""
    tx.write("rooms", ctx["quoted_rooms"] - 1, based_on=ctx["rooms_version"])
    tx.write("bookings", tx.read("bookings") + [tx.saga])


def book_trusting(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """Book trusting the quote: re-reads the count (and may see another value: a non-repeatable
    read) but decides on the quote."""
    rooms = tx.read("rooms")
    if ctx["quoted_rooms"] < 1:
        raise Refuse("no room left")
    tx.write("rooms", rooms - 1)
    tx.write("bookings", tx.read("bookings") + [tx.saga])


def book_commutative(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """Countermeasure *commutative update*: decrement the current count, checked in this same local
    transaction -- bookings in any order give the same result and none is lost."""
    rooms = tx.read("rooms")
    if rooms < 1:
        raise Refuse("no room left")
    tx.write("rooms", rooms - 1)
    tx.write("bookings", tx.read("bookings") + [tx.saga])


def book_reread(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """Countermeasure *reread value* before the pivot: book only if the count has not changed since
    the quote (an optimistic check); otherwise refuse, and the saga compensates."""
    if tx.version("rooms") != ctx["rooms_version"]:
        raise Refuse("the room count changed since the quote")
    rooms = tx.read("rooms")
    tx.write("rooms", rooms - 1)
    tx.write("bookings", tx.read("bookings") + [tx.saga])


def credit(tx: Tx, ctx: Mapping[str, Any]) -> None:
    tx.write("balance", tx.read("balance") + ctx.get("amount", 100))


def debit_back(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """The compensation of ``credit``: take the money back (whatever the balance is now)."""
    tx.write("balance", tx.read("balance") - ctx.get("amount", 100))


def withdraw(tx: Tx, ctx: Mapping[str, Any]) -> None:
    amount = ctx.get("amount", 100)
    balance = tx.read("balance")
    if balance < amount:
        raise Refuse(f"insufficient funds ({balance} < {amount})")
    tx.write("balance", balance - amount)


def verify_transfer(tx: Tx, ctx: Mapping[str, Any]) -> None:
    if ctx.get("fraud", False):
        raise Refuse("the transfer failed the fraud check")
    _count(tx, "verified")


def credit_pending(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """Countermeasure *semantic lock*: the money arrives as "pending" -- not spendable until the saga
    completes -- so no other saga can read (and spend) a value that may be compensated."""
    pending = tx.read("pending")
    pending[tx.saga] = ctx.get("amount", 100)
    tx.write("pending", pending)


def cancel_pending(tx: Tx, ctx: Mapping[str, Any]) -> None:
    pending = tx.read("pending")
    pending.pop(tx.saga, None)
    tx.write("pending", pending)


def settle_pending(tx: Tx, ctx: Mapping[str, Any]) -> None:
    """After the pivot: release the semantic lock, the pending money becomes spendable."""
    pending = tx.read("pending")
    if tx.saga in pending:
        tx.write("balance", tx.read("balance") + pending.pop(tx.saga))
        tx.write("pending", pending)


OPS: dict[str, Op] = {f.__name__: f for f in (
    reserve_seat, release_seat, reserve_room, release_room, charge, refund, issue_ticket, confirm_room,
    noop, quote_room, book_blind, book_trusting, book_commutative, book_reread, credit, debit_back,
    withdraw, verify_transfer, credit_pending, cancel_pending, settle_pending)}


# ---- the travel-booking saga of the chapter ---------------------------------------------------------------
TRAVEL = Saga("trip", (
    Step("flight", "flight", "reserve_seat", "release_seat", retries=3),
    Step("hotel", "hotel", "reserve_room", "release_room", retries=3),
    Step("payment", "payment", "charge", kind="pivot", retries=3),
    Step("ticket", "flight", "issue_ticket", kind="retriable"),
    Step("confirm", "hotel", "confirm_room", kind="retriable"),
))
TRAVEL_DB: dict[str, dict[str, Any]] = {
    "flight": {"seats": 10, "held": {}, "tickets": {}},
    "hotel": {"rooms": 10, "held": {}, "confirmed": {}},
    "payment": {"balance": 1000, "charges": {}},
}
TRAVEL_CTX: dict[str, Any] = {"seats": 1, "rooms": 1, "price": 300}


def travel_invariant(initial: Mapping[str, Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], str | None]:
    """The travel services' invariant: nothing is created or lost -- free + held seats (rooms) stay
    at the initial count, and the balance plus what was charged stays at the initial balance."""
    def conserved(dbs: Mapping[str, Any]) -> str | None:
        for service, stock, held in (("flight", "seats", "held"), ("hotel", "rooms", "held"),
                                     ("payment", "balance", "charges")):
            d = dbs.get(service)
            if d is None or stock not in d or held not in d:
                continue
            total = initial[service][stock] + sum(initial[service][held].values())
            now = d[stock] + sum(d[held].values())
            if now != total or d[stock] < 0:
                return f"{service}: {d[stock]} {stock} + {now - d[stock]} {held} != the {total} there were"
        return None
    conserved.__doc__ = travel_invariant.__doc__
    return conserved


# What makes each refusable step of TRAVEL fail for a business reason (the scenario's fail_step).
TRAVEL_FAIL_DB: dict[str, tuple[str, str, Any]] = {
    "flight": ("flight", "seats", 0), "hotel": ("hotel", "rooms", 0), "payment": ("payment", "balance", 0)}


# ---- services --------------------------------------------------------------------------------------------
@dataclass
class _Job:
    """A request being executed (volatile: a crash loses it, and the sender's retry brings it back)."""
    kind: str                         # "step" | "undo"
    saga: str
    step: str
    op: str
    ctx: dict[str, Any]
    reply_to: str
    definition: str = ""              # choreography
    ack: str | None = None            # choreography: the event (or start) id to acknowledge

    @property
    def key(self) -> str:
        return _step_key(self.saga, self.step) if self.kind == "step" else _undo_key(self.saga, self.step)


class SagaService(Node):
    """A service with a local ACID store, an inbox (dedup by idempotency key) and an outbox.

    ``db``: the initial database; ``ops``: operation name -> function (defaults to :data:`OPS`);
    ``definitions``: the saga definitions (choreography: each service knows the chain);
    ``work_time``: how long a local transaction takes (a crash meanwhile loses it, uncommitted);
    ``flaky``: probability that an attempt fails transiently (nothing commits; it is retried);
    ``refuse``: operations this service refuses for good (a step: business failure; a compensation:
    the saga is stuck); ``relay_interval``: how often unacknowledged outbox events are re-sent.
    """

    dedup = True    # the inbox: a request whose key has a result is answered from it, not re-run

    def __init__(self, db: Mapping[str, Any] | None = None, ops: Mapping[str, Op] | None = None,
                 definitions: Mapping[str, Saga] | None = None, work_time: float = 0.005,
                 flaky: float = 0.0, refuse: Sequence[str] = (), relay_interval: float = 0.1):
        self.db = dict(db or {})
        self.ops = dict(OPS)
        for name, fn in (ops or {}).items():
            if not callable(fn):
                raise ValueError(f"ops[{name!r}] must be a function op(tx, ctx) (got {fn!r})")
            self.ops[_name("ops key", name)] = fn
        self.definitions = dict(definitions or {})
        self.work_time = number("work_time", work_time)
        self.flaky = number("flaky", flaky, 0.0, 1.0)
        if isinstance(refuse, str):
            raise ValueError(f"refuse must be a list of operation names (got {refuse!r})")
        self.refuse = tuple(refuse)
        self.relay_interval = number("relay_interval", relay_interval, above=True)

    # ---- lifecycle ---------------------------------------------------------------------------
    def on_start(self) -> None:
        init_store(self.storage, self.db)
        self.working: dict[str, _Job] = {}
        self.transient: dict[str, int] = {}
        self._jobs = 0
        if self.storage["outbox"]:
            self.set_timer("relay", 0.0)

    def on_recover(self) -> None:
        self.on_start()
        if self.storage["outbox"]:
            self.annotate(f"recovered: relaying {len(self.storage['outbox'])} outbox event(s)")

    # ---- events ------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, StepRequest):
            self._enqueue(_Job("step", msg.saga, msg.step, msg.op, dict(msg.ctx), src))
        elif isinstance(msg, UndoRequest):
            self._enqueue(_Job("undo", msg.saga, msg.step, msg.op, dict(msg.ctx), src))
        elif isinstance(msg, CancelRequest):
            self._cancel(src, msg)
        elif isinstance(msg, StartSaga):
            d = self._definition(msg.definition)
            first = d.steps[0]
            self._enqueue(_Job("step", msg.saga, first.name, first.action, dict(msg.ctx), src,
                               msg.definition, f"{msg.saga}:start"))
        elif isinstance(msg, SagaEvent):
            self._on_event(src, msg)
        elif isinstance(msg, EventAck):
            outbox = self.storage["outbox"]
            outbox[:] = [e for e in outbox if e[0] != msg.event_id]

    def on_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "work":
            self._execute(arg)
        elif kind == "relay":
            self._relay()

    def _definition(self, name: str) -> Saga:
        if name not in self.definitions:
            raise ValueError(f"service {self.id} does not know saga definition {name!r}")
        return self.definitions[name]

    # ---- requests ----------------------------------------------------------------------------
    def _enqueue(self, job: _Job) -> None:
        inbox = self.storage["inbox"]
        if self.dedup and job.key in inbox:          # a duplicate, or a retry after a lost reply
            self._answer(job, inbox[job.key])
            return
        slot = job.key
        if not self.dedup:                           # without an inbox every copy runs
            self._jobs += 1
            slot = f"{job.key}#{self._jobs}"
        elif slot in self.working:
            return                                   # already running: its answer will come
        self.working[slot] = job
        if self.work_time > 0:
            self.set_timer(f"work:{slot}", self.work_time)
        else:
            self._execute(slot)

    def _execute(self, slot: str) -> None:
        job = self.working.pop(slot, None)
        if job is None:
            return
        inbox = self.storage["inbox"]
        if self.dedup and job.key in inbox:           # cancelled (fenced) or done while we worked
            self._answer(job, inbox[job.key])
            return
        entry = Entry(self.now, self.id, job.saga, job.step, job.kind, job.op)
        if job.kind == "undo" and self.dedup:
            done = inbox.get(_step_key(job.saga, job.step))
            if done is None or done[0] != "ok":
                # The step never committed here: there is nothing to undo. Fence its key off, so a
                # late copy of the step request cannot commit it after its compensation.
                fence = {_step_key(job.saga, job.step): done or ("cancelled", "compensated before it ran")}
                result = ("ok", ())
                self._finish(job, None, Entry(self.now, self.id, job.saga, job.step, "skip", job.op,
                                              "the step never committed here: nothing to undo"),
                             {**fence, job.key: result}, result)
                return
        if job.op in self.refuse or job.op not in self.ops:
            why = (f"{self.id} refuses {job.op}" if job.op in self.ops
                   else f"{self.id} has no operation {job.op!r}")
            self._refused(job, why)
            return
        if self.flaky and self.rng.random() < self.flaky:
            self._transient(job)
            return
        tx = Tx(self.storage["db"], self.storage["versions"], job.saga, job.step)
        try:
            data = self.ops[job.op](tx, copy.deepcopy(job.ctx))
        except Refuse as exc:
            self._refused(job, str(exc))
            return
        if data is not None and not isinstance(data, Mapping):
            raise TypeError(f"operation {job.op} must return a dict or None (got {data!r})")
        result = ("ok", _items(data))
        self._finish(job, tx, entry, {job.key: result}, result)

    def _refused(self, job: _Job, reason: str) -> None:
        kind = "failed" if job.kind == "step" else "refused"
        result = ("failed" if job.kind == "step" else "refused", reason)
        self._finish(job, None, Entry(self.now, self.id, job.saga, job.step, kind, job.op, reason),
                     {job.key: result}, result)

    def _transient(self, job: _Job) -> None:
        """A transient failure: the local transaction rolled back, nothing is recorded."""
        self.annotate(f"{job.op} for {job.saga} failed transiently (rolled back)")
        if job.ack is None:      # orchestration: say so; the orchestrator retries
            self._reply(job, ("retry", "transient failure"))
            return
        # Choreography: no acknowledgement, so the event is re-delivered; count, and give up on a
        # step (a definite local decision: nothing committed) after its retries.
        n = self.transient[job.key] = self.transient.get(job.key, 0) + 1
        if job.kind == "step":
            step = self._definition(job.definition).step(job.step)
            if step.retries is not None and n > step.retries:
                self._refused(job, f"gave up after {n} transient failures")

    def _finish(self, job: _Job, tx: Tx | None, entry: Entry, inbox: dict[str, Any],
                result: tuple) -> None:
        """Commit the local transaction (state, inbox, journal and -- in choreography -- the events it
        causes, written to the outbox in the same transaction), then answer."""
        events, extra = self._consequences(job, result)
        self._commit(tx, entry, inbox, events, extra)
        self._answer(job, result)

    def _commit(self, tx: Tx | None, entry: Entry, inbox: dict[str, Any],
                events: list[tuple[str, str, Any]], extra: list[Entry]) -> None:
        commit(self.storage, tx, entry, inbox=inbox, outbox=events)
        for e in extra:
            commit(self.storage, None, e)
        self._send_now(events)

    def _send_now(self, events: list[tuple[str, str, Any]]) -> None:
        for _eid, dst, msg in events:
            self.send(dst, msg)
        if events:
            self.set_timer("relay", self.relay_interval)

    def _relay(self) -> None:
        """The outbox relay: re-send every event not yet acknowledged."""
        outbox = self.storage["outbox"]
        for _eid, dst, msg in outbox:
            self.send(dst, msg)
        if outbox:
            self.set_timer("relay", self.relay_interval)

    def _answer(self, job: _Job, result: tuple) -> None:
        if job.ack is not None:
            status = result[0]
            if status in ("ok", "failed", "refused", "cancelled"):
                self.send(job.reply_to, EventAck(job.ack))
            return
        self._reply(job, result)

    def _reply(self, job: _Job, result: tuple) -> None:
        status, detail = result[0], result[1]
        if job.kind == "step":
            if status == "ok":
                self.send(job.reply_to, StepReply(job.saga, job.step, "ok", detail))
            elif status == "retry":
                self.send(job.reply_to, StepReply(job.saga, job.step, "retry", reason=detail))
            else:   # failed, or cancelled (fenced off before it ran)
                self.send(job.reply_to, StepReply(job.saga, job.step, "failed", reason=str(detail)))
        else:
            word = "ok" if status == "ok" else status
            reason = "" if status == "ok" else str(detail)
            self.send(job.reply_to, UndoReply(job.saga, job.step, word, reason))

    def _cancel(self, src: str, msg: CancelRequest) -> None:
        key = _step_key(msg.saga, msg.step)
        inbox = self.storage["inbox"]
        done = inbox.get(key)
        if done is None:
            commit(self.storage, None, Entry(self.now, self.id, msg.saga, msg.step, "failed", "",
                                             "cancelled by the orchestrator before it ran"),
                   inbox={key: ("cancelled", "cancelled by the orchestrator before it ran")})
            done = inbox[key]
        self.send(src, CancelReply(msg.saga, msg.step, done[0] == "ok", done[1] if done[0] == "ok" else ()))

    # ---- choreography --------------------------------------------------------------------------
    def _on_event(self, src: str, ev: SagaEvent) -> None:
        d = self._definition(ev.definition)
        i = d.index(ev.step)
        if ev.outcome == "committed":
            nxt = d.steps[i + 1]
            job = _Job("step", ev.saga, nxt.name, nxt.action, dict(ev.ctx), src, ev.definition, ev.event_id)
        else:   # "failed" or "compensated": undo the step before it
            prev = d.steps[i - 1]
            job = _Job("undo", ev.saga, prev.name, prev.compensation or "noop", dict(ev.ctx), src,
                       ev.definition, ev.event_id)
        self._enqueue(job)

    def _consequences(self, job: _Job, result: tuple) -> tuple[list[tuple[str, str, Any]], list[Entry]]:
        """Choreography: the events this result publishes and the saga's end, if it ends here."""
        if job.ack is None:
            return [], []
        d = self._definition(job.definition)
        i = d.index(job.step)
        status = result[0]
        ctx = dict(job.ctx)
        if status == "ok" and job.kind == "step":
            ctx.update(dict(result[1]))
        end = None
        events: list[tuple[str, str, Any]] = []

        def publish(step: str, outcome: str, dst: str) -> None:
            eid = f"{job.saga}:{step}:{outcome}"
            events.append((eid, dst, SagaEvent(eid, job.saga, step, outcome, job.definition, _items(ctx))))

        if job.kind == "step":
            if status == "ok":
                if i + 1 < len(d.steps):
                    publish(job.step, "committed", d.steps[i + 1].service)
                else:
                    end = ("completed", "")
            elif d.steps[i].kind == "retriable":
                end = ("stuck", f"retriable step {job.step} could not complete: {result[1]}")
            elif i > 0:
                publish(job.step, "failed", d.steps[i - 1].service)
            else:
                end = ("compensated", "")
        elif status == "refused":
            end = ("stuck", f"compensation of {job.step} refused: {result[1]}")
        elif i > 0:
            publish(job.step, "compensated", d.steps[i - 1].service)
        else:
            end = ("compensated", "")
        extra = [] if end is None else [Entry(self.now, self.id, job.saga, job.step, "end", end[0], end[1])]
        return events, extra


class NonIdempotentService(SagaService):
    """BROKEN: no inbox -- every copy of a request (a network duplicate, a retry after a lost reply)
    runs the operation again: two seats for one booking, a refund paid twice."""

    dedup = False


class DirectPublishService(SagaService):
    """BROKEN (the dual write): commits its local transaction, and only afterwards -- ``publish_delay``
    later, from memory -- publishes the event. A crash in between loses the event for good: the next
    service never hears of the saga, which stays half-done."""

    def __init__(self, publish_delay: float = 0.02, **config: Any):
        super().__init__(**config)
        self.publish_delay = number("publish_delay", publish_delay, above=True)

    def on_start(self) -> None:
        super().on_start()
        self.unsent: list[tuple[str, str, Any]] = []     # volatile: lost in a crash
        self.unacked: list[tuple[str, str, Any]] = []

    def _commit(self, tx: Tx | None, entry: Entry, inbox: dict[str, Any],
                events: list[tuple[str, str, Any]], extra: list[Entry]) -> None:
        commit(self.storage, tx, entry, inbox=inbox)          # the state change, without its event
        for e in extra:
            commit(self.storage, None, e)
        if events:
            self.unsent.extend(events)
            self.set_timer("publish", self.publish_delay)

    def on_timer(self, name: str) -> None:
        if name == "publish":
            events, self.unsent = self.unsent, []
            self.unacked.extend(events)
            for _eid, dst, msg in events:
                self.send(dst, msg)
            self.set_timer("resend", self.relay_interval)
        elif name == "resend":
            for _eid, dst, msg in self.unacked:
                self.send(dst, msg)
            if self.unacked:
                self.set_timer("resend", self.relay_interval)
        else:
            super().on_timer(name)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, EventAck):
            self.unacked = [e for e in self.unacked if e[0] != msg.event_id]
        super().on_message(src, msg)


# ---- the orchestrator ------------------------------------------------------------------------------------
@dataclass
class _Run:
    """The orchestrator's volatile view of one saga (rebuilt from the log on recovery)."""
    saga: str
    definition: Saga
    ctx: dict[str, Any]
    done: list[str] = field(default_factory=list)       # committed steps, in order
    undone: list[str] = field(default_factory=list)     # compensated steps, in order
    phase: str = "forward"      # forward -> (cancelling) -> backward -> ended
    transient: int = 0


class Orchestrator(Node):
    """The saga execution coordinator with a durable saga log (``storage["log"]``).

    ``definitions``: the saga definitions it can run; ``resend_interval``: how long it waits for a
    reply before re-sending the current request (the network loses messages); ``retry_interval``:
    the pause after a transient failure.
    """

    def __init__(self, definitions: Mapping[str, Saga] | None = None, resend_interval: float = 0.15,
                 retry_interval: float = 0.05):
        self.definitions = dict(definitions or {})
        for name, d in self.definitions.items():
            if not isinstance(d, Saga):
                raise ValueError(f"definitions[{name!r}] must be a Saga (got {d!r})")
        self.resend_interval = number("resend_interval", resend_interval, above=True)
        self.retry_interval = number("retry_interval", retry_interval, above=True)

    # ---- the log ------------------------------------------------------------------------------
    def _log(self, record: Any) -> None:
        self.storage.setdefault("log", []).append(record)

    def _records(self) -> list[Any]:
        return list(self.storage.get("log", ()))

    # ---- lifecycle ---------------------------------------------------------------------------
    def on_start(self) -> None:
        self.runs: dict[str, _Run] = {}

    def on_recover(self) -> None:
        """Rebuild every saga from the log and resume it: forward from the first step without a
        result, or backward from the last committed step not yet compensated. A step that was sent
        but has no logged result is simply sent again: the service's inbox makes that safe."""
        self.runs = {}
        for rec in self._records():
            if isinstance(rec, SagaBegun):
                self.runs[rec.saga] = _Run(rec.saga, self.definitions[rec.definition], dict(rec.ctx))
                continue
            r = self.runs.get(getattr(rec, "saga", None))
            if r is None:
                continue
            if isinstance(rec, StepDone):
                r.done.append(rec.step)
                r.ctx.update(dict(rec.data))
            elif isinstance(rec, StepFailed):
                r.phase = "backward"
            elif isinstance(rec, Undone):
                r.undone.append(rec.step)
            elif isinstance(rec, SagaEnded):
                r.phase = "ended"
        for saga, r in self.runs.items():
            if r.phase != "ended":
                self.annotate(f"recovered saga {saga}: resuming {r.phase} after {len(r.done)} step(s)")
                self._drive(saga)

    # ---- events ------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Begin):
            self._begin(src, msg)
            return
        r = self.runs.get(getattr(msg, "saga", None))
        if r is None or r.phase == "ended":
            return
        if isinstance(msg, StepReply):
            self._on_step_reply(r, msg)
        elif isinstance(msg, CancelReply):
            self._on_cancel_reply(r, msg)
        elif isinstance(msg, UndoReply):
            self._on_undo_reply(r, msg)

    def on_timer(self, name: str) -> None:
        kind, _, saga = name.partition(":")
        if kind == "resend" and saga in self.runs and self.runs[saga].phase != "ended":
            self._drive(saga)

    def _begin(self, src: str, msg: Begin) -> None:
        if msg.saga not in self.runs:
            if msg.definition not in self.definitions:
                self.annotate(f"unknown saga definition {msg.definition!r}: ignored")
                return
            self._log(SagaBegun(msg.saga, msg.definition, msg.ctx))
            self.runs[msg.saga] = _Run(msg.saga, self.definitions[msg.definition], dict(msg.ctx))
            self.annotate(f"saga {msg.saga} begun")
            self._drive(msg.saga)
        self.send(src, BeginAck(msg.saga))

    # ---- the saga's state machine ----------------------------------------------------------------
    def compensation_order(self, committed: list[Step]) -> list[Step]:
        """Garcia-Molina & Salem: after T1 ... Tj, run Cj ... C1 -- the reverse order."""
        return list(reversed(committed))

    def _to_undo(self, r: _Run) -> list[Step]:
        committed = [s for s in r.definition.steps if s.name in r.done and s.kind == "compensatable"]
        return [s for s in self.compensation_order(committed) if s.name not in r.undone]

    def current(self, saga: str) -> tuple[str, str | None]:
        """(phase, the step it is waiting for) of ``saga``: for views and tests."""
        r = self.runs[saga]
        if r.phase in ("forward", "cancelling"):
            i = len(r.done)
            return r.phase, r.definition.steps[i].name if i < len(r.definition.steps) else None
        if r.phase == "backward":
            todo = self._to_undo(r)
            return r.phase, todo[0].name if todo else None
        return r.phase, None

    def _drive(self, saga: str) -> None:
        """Send the request the saga is waiting for (again), or end the saga."""
        r = self.runs[saga]
        d = r.definition
        ctx = _items(r.ctx)
        if r.phase in ("forward", "cancelling"):
            i = len(r.done)
            if i == len(d.steps):
                self._end(r, "completed")
                return
            step = d.steps[i]
            if r.phase == "forward":
                self.send(step.service, StepRequest(saga, step.name, step.action, ctx))
            else:
                self.send(step.service, CancelRequest(saga, step.name))
        elif r.phase == "backward":
            todo = self._to_undo(r)
            if not todo:
                self._end(r, "compensated")
                return
            step = todo[0]
            self.send(step.service, UndoRequest(saga, step.name, step.compensation or "noop", ctx))
        self.set_timer(f"resend:{saga}", self.resend_interval)

    def _end(self, r: _Run, outcome: str, reason: str = "") -> None:
        r.phase = "ended"
        self.cancel_timer(f"resend:{r.saga}")
        self._log(SagaEnded(r.saga, outcome, reason))
        self.annotate(f"saga {r.saga} {outcome}" + (f": {reason}" if reason else ""))

    def _committed(self, r: _Run, step: Step, data: tuple) -> None:
        self._log(StepDone(r.saga, step.name, data))
        r.done.append(step.name)
        r.ctx.update(dict(data))
        r.phase, r.transient = "forward", 0
        self._drive(r.saga)

    def _failed(self, r: _Run, step: Step, reason: str) -> None:
        r.transient = 0
        if step.kind == "retriable":
            # After the pivot there is no way back: a retriable step that cannot complete is stuck.
            self._end(r, "stuck", f"retriable step {step.name} could not complete: {reason}")
            return
        self._log(StepFailed(r.saga, step.name, reason))
        self.annotate(f"saga {r.saga}: step {step.name} failed ({reason}) -> compensate")
        r.phase = "backward"
        self._drive(r.saga)

    def _waiting_for(self, r: _Run, phases: tuple[str, ...], step: str) -> Step | None:
        if r.phase not in phases:
            return None
        i = len(r.done)
        if i >= len(r.definition.steps) or r.definition.steps[i].name != step:
            return None
        return r.definition.steps[i]

    def _on_step_reply(self, r: _Run, msg: StepReply) -> None:
        step = self._waiting_for(r, ("forward",), msg.step)
        if step is None:
            return                   # late, duplicated, or about a step we already gave up on
        if msg.status == "ok":
            self._committed(r, step, msg.data)
        elif msg.status == "failed":
            self._failed(r, step, msg.reason)
        else:
            r.transient += 1
            if step.retries is not None and r.transient > step.retries:
                self.annotate(f"saga {r.saga}: giving up on {step.name} after {r.transient} transient "
                              f"failures -> cancel it")
                r.phase = "cancelling"
                self._drive(r.saga)
            else:
                self.set_timer(f"resend:{r.saga}", self.retry_interval)

    def _on_cancel_reply(self, r: _Run, msg: CancelReply) -> None:
        step = self._waiting_for(r, ("cancelling",), msg.step)
        if step is None:
            return
        if msg.committed:            # it did commit after all (a slow copy): carry on forward
            self._committed(r, step, msg.data)
        else:
            self._failed(r, step, f"gave up after {r.transient} transient failures")

    def _on_undo_reply(self, r: _Run, msg: UndoReply) -> None:
        if r.phase != "backward":
            return
        todo = self._to_undo(r)
        if not todo or todo[0].name != msg.step:
            return
        if msg.status == "ok":
            self._log(Undone(r.saga, msg.step))
            r.undone.append(msg.step)
            self._drive(r.saga)
        elif msg.status == "refused":
            self._end(r, "stuck", f"compensation of {msg.step} refused: {msg.reason}")
        else:                        # transient: compensations are retried until they succeed
            self.set_timer(f"resend:{r.saga}", self.retry_interval)


class WrongOrderOrchestrator(Orchestrator):
    """BROKEN: compensates in the order the steps ran (C1 ... Cj), not in reverse."""

    def compensation_order(self, committed: list[Step]) -> list[Step]:
        return list(committed)


class NoLogOrchestrator(Orchestrator):
    """BROKEN: keeps the saga log in memory. It acknowledges a saga, runs some steps, crashes -- and
    restarts knowing nothing: the committed steps are neither completed nor compensated."""

    def on_start(self) -> None:
        super().on_start()
        self.memory: list[Any] = []

    def _log(self, record: Any) -> None:
        self.memory.append(record)

    def _records(self) -> list[Any]:
        return list(getattr(self, "memory", ()))

    def on_recover(self) -> None:
        self.on_start()
        super().on_recover()


# ---- the app (the user): starts sagas and retries until they are accepted -----------------------
class SagaApp(Node):
    """Starts each saga instance at its ``start_at`` and re-sends until it is durably accepted: by
    the orchestrator (``BeginAck``) or, in choreography, by the first step's service (``EventAck``)."""

    def __init__(self, instances: Sequence[SagaInstance] = (), definitions: Mapping[str, Saga] | None = None,
                 mode: str = "orchestration", orchestrator: str = "orch", resend_interval: float = 0.2):
        self.instances = tuple(instances)
        self.definitions = dict(definitions or {})
        self.mode = one_of("mode", mode, MODES)
        self.orchestrator = orchestrator
        self.resend_interval = number("resend_interval", resend_interval, above=True)

    def on_start(self) -> None:
        self.storage.setdefault("accepted", {})
        for inst in self.instances:
            if inst.saga not in self.storage["accepted"]:
                self.set_timer(f"start:{inst.saga}", max(0.0, inst.start_at - self.now))

    def on_timer(self, name: str) -> None:
        saga = name.partition(":")[2]
        if saga in self.storage["accepted"]:
            return
        inst = next(i for i in self.instances if i.saga == saga)
        if self.mode == "orchestration":
            self.send(self.orchestrator, Begin(saga, inst.definition, inst.ctx))
        else:
            first = self.definitions[inst.definition].steps[0]
            self.send(first.service, StartSaga(saga, inst.definition, inst.ctx))
        self.set_timer(name, self.resend_interval)

    def on_message(self, src: str, msg: Any) -> None:
        saga = None
        if isinstance(msg, BeginAck):
            saga = msg.saga
        elif isinstance(msg, EventAck) and msg.event_id.endswith(":start"):
            saga = msg.event_id[: -len(":start")]
        if saga is not None and saga not in self.storage["accepted"]:
            self.storage["accepted"][saga] = self.now
            self.cancel_timer(f"start:{saga}")


# ---- runs and scenarios ------------------------------------------------------------------------------------
APP, ORCH = "app", "orch"


class SagaRun:
    """One simulated run of one or more sagas; every view reads the world's durable state and trace.

    ``invariant(dbs) -> str | None`` (optional) is the application invariant the anomaly scenarios
    check after every local transaction (e.g. no overbooking, balance >= 0).
    """

    def __init__(self, world: World, mode: str, definitions: Mapping[str, Saga],
                 instances: tuple[SagaInstance, ...], services: tuple[str, ...], seed: int,
                 schedule: FaultSchedule | None = None, invariant: Callable[[Mapping[str, Any]], str | None]
                 | None = None, label: str = ""):
        self.world = world
        self.mode = mode
        self.definitions = dict(definitions)
        self.instances = instances
        self.services = services
        self.seed = seed
        self.schedule = schedule
        self.invariant = invariant
        self.label = label

    def run(self, until: float) -> SagaRun:
        self.world.run(until=until)
        return self

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.world.nodes)

    def journal(self) -> list[Entry]:
        """Every service's journal merged in time order (ties: service order)."""
        entries = [e for s in self.services for e in self.world.storage[s].get("journal", ())]
        order = {s: i for i, s in enumerate(self.services)}
        return sorted(entries, key=lambda e: (e.time, order[e.service]))

    def log(self) -> list[Any]:
        """The orchestrator's durable log (empty in choreography)."""
        if ORCH not in self.world.storage:
            return []
        return list(self.world.storage[ORCH].get("log", ()))

    def definition_of(self, saga: str) -> Saga:
        inst = next(i for i in self.instances if i.saga == saga)
        return self.definitions[inst.definition]

    def db(self, service: str) -> dict[str, Any]:
        return dict(self.world.storage[service].get("db", {}))

    @property
    def outcomes(self) -> dict[str, str]:
        """saga -> "completed" | "compensated" | "stuck" | "running" (from the journals)."""
        from distlib.check.saga import saga_states  # check sits above; import lazily
        return {s: st.outcome for s, st in saga_states(self).items()}

    @property
    def outcome(self) -> str:
        """The run in one word: the sagas' outcomes joined ("completed", "compensated+completed", ...)."""
        return "+".join(sorted(set(self.outcomes.values()))) or "none"

    @property
    def violations(self) -> list[str]:
        from distlib.check.saga import check_saga
        return check_saga(self)

    def summary(self) -> str:
        o = self.outcomes
        sagas = " ".join(f"{s}={v}" for s, v in o.items())
        sent = sum(1 for r in self.world.trace.records if r.kind == "send")
        return (f"seed {self.seed} {self.mode}: {sagas} | violations: {len(self.violations)} | "
                f"{sent} messages by t={self.world.now:g}")

    def __repr__(self) -> str:
        return f"<SagaRun {self.summary()}>"


CRASH_POINTS = {
    "after:<step>": "the moment the crashed node has committed (service) or logged (orchestrator) that step",
}


def _crash_after(world: World, node: str, step: str, restart_after: float | None) -> None:
    """Crash ``node`` right after the event that commits ``step`` there (or logs it, the orchestrator)."""
    done: list[bool] = []

    def committed(w: World) -> bool:
        if node == ORCH:   # its own view (a log-less orchestrator keeps it in memory only)
            return any(step in r.done for r in getattr(w.nodes[node], "runs", {}).values())
        return any(e.step == step and e.kind == "step" for e in w.storage[node].get("journal", ()))

    def monitor(w: World) -> None:
        if done or w.status[node] != "up" or not committed(w):
            return
        done.append(True)
        w.annotate(node, f"crash point: right after {step} committed")
        w.crash(node)
        if restart_after is not None:
            w.at(w.now + restart_after, lambda: w.restart(node))

    world.add_monitor(monitor)


def build_saga(seed: int = 0, mode: str = "orchestration", *, definition: Saga = TRAVEL,
               instances: Sequence[SagaInstance] | None = None, sagas: int = 1, stagger: float = 0.0,
               ctx: Mapping[str, Any] | None = None, db: Mapping[str, Mapping[str, Any]] | None = None,
               fail_step: str | None = None, stuck_step: str | None = None,
               ops: Mapping[str, Op] | None = None, loss: float = 0.0, duplicate: float = 0.0,
               reorder: float = 0.0, latency: Any = (0.01, 0.03), flaky: float = 0.0,
               faults: FaultSchedule | str | None = None, crash: str | None = None,
               crash_at: str | float | None = None, restart_after: float | None = None,
               orchestrator_cls: type[Orchestrator] = Orchestrator,
               service_cls: type[SagaService] = SagaService,
               service_config: Mapping[str, Mapping] | None = None,
               definitions: Mapping[str, Saga] | None = None,
               invariant: Callable[[Mapping[str, Any]], str | None] | None = None,
               label: str = "") -> SagaRun:
    """Build (not run) a saga scenario; ``run.run(until)`` advances it. See :func:`run_saga`."""
    seed = check_seed(seed)
    one_of("mode", mode, MODES)
    if not isinstance(definition, Saga):
        raise ValueError(f"definition must be a Saga (got {definition!r})")
    defs = {definition.name: definition, **dict(definitions or {})}
    for name, d in defs.items():
        if not isinstance(d, Saga) or d.name != name:
            raise ValueError(f"definitions must map each saga's name to the Saga (got {name!r}: {d!r})")
    if instances is None:
        integer("sagas", sagas, 1, 20)
        stagger = number("stagger", stagger)
        base = dict(TRAVEL_CTX if definition is TRAVEL else {})
        base.update(ctx or {})
        instances = tuple(SagaInstance(f"s{k + 1}", definition.name, k * stagger, _items(base))
                          for k in range(sagas))
    else:
        instances = tuple(instances)
        if not instances or not all(isinstance(i, SagaInstance) for i in instances):
            raise ValueError(f"instances must be a non-empty list of SagaInstance (got {instances!r})")
        for i in instances:
            if i.definition not in defs:
                raise ValueError(f"instances name unknown saga definition {i.definition!r} "
                                 f"(known: {', '.join(defs)})")
            number("start_at", i.start_at)
        ids = [i.saga for i in instances]
        if len(set(ids)) != len(ids):
            raise ValueError(f"instances must have distinct saga ids (got {ids!r})")
    services = tuple(dict.fromkeys(s for i in instances for s in defs[i.definition].services))
    dbs: dict[str, dict[str, Any]] = {s: copy.deepcopy(TRAVEL_DB.get(s, {})) if definition is TRAVEL else {}
                                      for s in services}
    for s, init in (db or {}).items():
        if s not in services:
            raise ValueError(f"db names unknown service {s!r}; the services are {', '.join(services)}")
        dbs[s] = copy.deepcopy(dict(init))
    refuse: dict[str, list[str]] = {s: [] for s in services}
    if fail_step is not None:
        if fail_step not in [t.name for t in definition.steps]:
            raise ValueError(f"fail_step must be one of {', '.join(t.name for t in definition.steps)} "
                             f"or None (got {fail_step!r})")
        step = definition.step(fail_step)
        if step.kind == "retriable":
            raise ValueError(f"fail_step must be a compensatable step or the pivot (got retriable step "
                             f"{fail_step!r}: it cannot fail for good)")
        if definition is TRAVEL and fail_step in TRAVEL_FAIL_DB:
            service, key, value = TRAVEL_FAIL_DB[fail_step]
            dbs[service][key] = value
        else:
            refuse[step.service].append(step.action)
    if stuck_step is not None:
        names = [t.name for t in definition.steps if t.kind == "compensatable"]
        if stuck_step not in names:
            raise ValueError(f"stuck_step must be a compensatable step ({', '.join(names)}) or None "
                             f"(got {stuck_step!r})")
        step = definition.step(stuck_step)
        refuse[step.service].append(step.compensation or "noop")
    loss = number("loss", loss, 0.0, 1.0)
    duplicate = number("duplicate", duplicate, 0.0, 1.0)
    reorder = number("reorder", reorder, 0.0, 1.0)
    flaky = number("flaky", flaky, 0.0, 1.0)
    subclass("orchestrator_cls", orchestrator_cls, Orchestrator)
    subclass("service_cls", service_cls, SagaService)
    nodes = ((ORCH,) if mode == "orchestration" else ()) + services
    faults = None if faults is None else as_schedule(faults, nodes)
    if crash is not None:
        one_of("crash", crash, nodes)
        if isinstance(crash_at, str):
            if not crash_at.startswith("after:") or crash_at[6:] not in [t.name for t in definition.steps]:
                raise ValueError(f"crash_at must be a time >= 0 or 'after:<step>' with a step of "
                                 f"{definition.name} (got {crash_at!r})")
        else:
            crash_at = number("crash_at", crash_at)
        if restart_after is not None:
            restart_after = number("restart_after", restart_after, above=True)
    elif crash_at is not None or restart_after is not None:
        raise ValueError("crash must name the node to crash when crash_at or restart_after is given")

    world = World(seed, latency=latency, loss=loss, duplicate=duplicate, reorder=reorder)
    world.add_node(APP, SagaApp, instances=instances, definitions=defs, mode=mode)
    if mode == "orchestration":
        world.add_node(ORCH, orchestrator_cls, definitions=defs)
    extra = dict(service_config or {})
    for s in services:
        if s in extra and not isinstance(extra[s], Mapping):
            raise ValueError(f"service_config[{s!r}] must be a dict of SagaService options "
                             f"(got {extra[s]!r})")
        config: dict[str, Any] = {"db": dbs[s], "ops": ops, "definitions": defs, "flaky": flaky,
                                  "refuse": tuple(refuse[s])}
        config.update(extra.get(s, {}))
        world.add_node(s, service_cls, **config)
    world.start()
    if faults is not None:
        faults.apply(world)
    if crash is not None:
        if isinstance(crash_at, str):
            _crash_after(world, crash, crash_at[6:], restart_after)
        else:
            at = float(crash_at)  # type: ignore[arg-type]
            world.at(at, lambda: world.crash(crash))
            if restart_after is not None:
                world.at(at + restart_after, lambda: world.restart(crash))
    if invariant is None and definition is TRAVEL:
        invariant = travel_invariant(dbs)
    return SagaRun(world, mode, defs, instances, services, seed, faults, invariant, label)


def run_saga(seed: int = 0, mode: str = "orchestration", *, until: float = 3.0, **options: Any) -> SagaRun:
    """Run sagas (default: one travel booking, :data:`TRAVEL`) until time ``until``.

    Nodes: "app" (starts the sagas; never crashed), "orch" (orchestration only) and one node per
    service ("flight", "hotel", "payment"). Options (all checked, ValueError naming the parameter):
    ``fail_step`` (a step that fails for a business reason: no seats / no rooms / card declined),
    ``stuck_step`` (a step whose compensation is refused for good), ``sagas``/``stagger``/``ctx``/
    ``instances``/``definition``/``definitions``, ``db`` (initial databases), ``ops`` (operation
    name -> function, e.g. your own compensations), ``loss``/``duplicate``/``reorder``/``latency``,
    ``flaky`` (transient failure probability per attempt), ``faults`` (a FaultSchedule or its text),
    ``crash``/``crash_at``/``restart_after`` (crash a node at a time or at "after:<step>"),
    ``orchestrator_cls``/``service_cls`` (the broken variants), ``service_config``.
    """
    until = number("until", until, above=True)
    return build_saga(seed, mode, **options).run(until)


def random_faults(seed: int, mode: str = "orchestration", *, horizon: float = 1.0, faults: int = 3,
                  kinds: Sequence[str] = ("crash", "partition", "pause"),
                  services: Sequence[str] = TRAVEL.services) -> FaultSchedule:
    """Random faults over the orchestrator (orchestration) and the services, healed by ``horizon``."""
    nodes = ((ORCH,) if one_of("mode", mode, MODES) == "orchestration" else ()) + tuple(services)
    return FaultSchedule.random(seed, nodes, horizon=horizon, faults=faults, kinds=kinds)


def random_saga(seed: int, mode: str | None = None, *, orchestrator_cls: type[Orchestrator] = Orchestrator,
                service_cls: type[SagaService] = SagaService, max_faults: int = 3,
                kinds: Sequence[str] = ("crash", "partition", "pause"), until: float = 6.0) -> SagaRun:
    """One travel-booking run with everything drawn from ``seed``: the mode (unless given), 1-2
    concurrent sagas, a business failure at a random step (or none), message loss and duplication
    up to 20%, transient failures up to 40% (so steps are given up on), and 0..``max_faults``
    random faults (crash with restart, partition, pause) of the orchestrator and services in [0, 1).
    Used by the sweeps."""
    rng = stream(check_seed(seed), "saga/random")
    picked = rng.choice(MODES)
    mode = picked if mode is None else one_of("mode", mode, MODES)
    integer("max_faults", max_faults)
    fail = rng.choice([None, None, "flight", "hotel", "payment"])
    sagas = rng.randint(1, 2)
    loss = round(rng.uniform(0.0, 0.2), 3)
    duplicate = round(rng.uniform(0.0, 0.2), 3)
    flaky = round(rng.uniform(0.0, 0.4), 3)
    schedule = random_faults(seed, mode, faults=rng.randint(0, max_faults), kinds=kinds)
    return run_saga(seed, mode, sagas=sagas, stagger=0.02, fail_step=fail, loss=loss, duplicate=duplicate,
                    flaky=flaky, faults=schedule, until=until, orchestrator_cls=orchestrator_cls,
                    service_cls=service_cls)


# ---- the isolation anomalies (two concurrent sagas) -------------------------------------------------------
ANOMALIES = ("lost-update", "dirty-read", "non-repeatable-read")
COUNTERMEASURES = {"lost-update": "commutative update", "dirty-read": "semantic lock",
                   "non-repeatable-read": "reread value"}


def _rooms_invariant(capacity: int) -> Callable[[Mapping[str, Any]], str | None]:
    def no_overbooking(dbs: Mapping[str, Any]) -> str | None:
        hotel = dbs.get("hotel")
        if not hotel:
            return None
        booked = len(hotel["bookings"])
        if booked > capacity or hotel["rooms"] < 0:
            return f"overbooked: {booked} bookings for {capacity} room(s), rooms = {hotel['rooms']}"
        return None
    no_overbooking.__doc__ = f"no overbooking: at most {capacity} booking(s), rooms never below 0"
    return no_overbooking


def balance_invariant(dbs: Mapping[str, Any]) -> str | None:
    """The balance never goes below 0."""
    bank = dbs.get("bank")
    if bank and bank["balance"] < 0:
        return f"balance {bank['balance']} < 0"
    return None


def anomaly_scenario(anomaly: str, seed: int = 0, *, countermeasure: bool = False,
                     mode: str = "orchestration", until: float = 3.0) -> SagaRun:
    """Two concurrent sagas on shared data, without isolation (Richardson ch. 4, "Handling the lack
    of isolation"): ``anomaly`` is one of :data:`ANOMALIES`; ``countermeasure=True`` runs the same
    sagas with the countermeasure of :data:`COUNTERMEASURES`. The second saga starts at a time drawn
    from ``seed``. The run's ``invariant`` is the application's: no overbooking / balance >= 0."""
    one_of("anomaly", anomaly, ANOMALIES)
    flag("countermeasure", countermeasure)
    rng = stream(check_seed(seed), f"saga/anomaly/{anomaly}")
    if anomaly in ("lost-update", "non-repeatable-read"):
        book = {"lost-update": ("book_blind", "book_commutative"),
                "non-repeatable-read": ("book_trusting", "book_reread")}[anomaly][int(countermeasure)]
        d = Saga("last-room", (Step("quote", "hotel", "quote_room", "noop"),
                               Step("pay", "payment", "charge", "refund"),
                               Step("book", "hotel", book, kind="pivot")))
        insts = (SagaInstance("s1", d.name, 0.0, _items({"price": 100})),
                 SagaInstance("s2", d.name, round(rng.uniform(0.0, 0.08), 3), _items({"price": 100})))
        db = {"hotel": {"rooms": 1, "bookings": []}, "payment": {"balance": 1000, "charges": {}}}
        return run_saga(seed, mode, definition=d, instances=insts, db=db, until=until,
                        invariant=_rooms_invariant(1), label=anomaly)
    # dirty read: s1 credits 100, fails the fraud check and takes the money back; s2 withdraws 100.
    if countermeasure:
        d1 = Saga("deposit", (Step("credit", "bank", "credit_pending", "cancel_pending"),
                              Step("verify", "fraud", "verify_transfer", kind="pivot"),
                              Step("settle", "bank", "settle_pending", kind="retriable")))
    else:
        d1 = Saga("deposit", (Step("credit", "bank", "credit", "debit_back"),
                              Step("verify", "fraud", "verify_transfer", kind="pivot")))
    d2 = Saga("withdrawal", (Step("withdraw", "bank", "withdraw", kind="pivot"),))
    insts = (SagaInstance("s1", "deposit", 0.0, _items({"amount": 100, "fraud": True})),
             SagaInstance("s2", "withdrawal", round(rng.uniform(0.0, 0.15), 3), _items({"amount": 100})))
    db = {"bank": {"balance": 0, "pending": {}}, "fraud": {"verified": {}}}
    return run_saga(seed, mode, definition=d1, definitions={"withdrawal": d2}, instances=insts, db=db,
                    until=until, invariant=balance_invariant, label=anomaly,
                    service_config={"fraud": {"work_time": 0.1}})


# Named scenarios for the CLI, notebooks and widgets: name -> (description, thunk(seed)).
SCENARIOS: dict[str, tuple[str, Callable[[int], SagaRun]]] = {
    "complete": ("one trip booked: flight, hotel, payment (the pivot), ticket, confirmation",
                 lambda s: run_saga(s)),
    "hotel-full": ("the hotel has no room: the flight is released (backward recovery)",
                   lambda s: run_saga(s, fail_step="hotel")),
    "card-declined": ("the pivot fails: hotel, then flight, are compensated in reverse order",
                      lambda s: run_saga(s, fail_step="payment")),
    "choreography": ("the same trip by choreography: services react to each other's events",
                     lambda s: run_saga(s, "choreography", fail_step="payment")),
    "orchestrator-crash": ("the orchestrator crashes after the hotel step and recovers from its log",
                           lambda s: run_saga(s, fail_step="payment", crash=ORCH, crash_at="after:hotel",
                                              restart_after=0.3)),
    "stuck": ("the hotel refuses the compensation for good: the saga is stuck, with the reason",
              lambda s: run_saga(s, fail_step="payment", stuck_step="hotel")),
    "wrong-order-bug": ("BROKEN WrongOrderOrchestrator: compensates flight before hotel",
                        lambda s: run_saga(s, fail_step="payment", orchestrator_cls=WrongOrderOrchestrator)),
    "duplicate-bug": ("BROKEN NonIdempotentService under 30% duplication: steps take effect twice",
                      lambda s: run_saga(s, fail_step="payment", duplicate=0.3,
                                         service_cls=NonIdempotentService)),
    "nolog-bug": ("BROKEN NoLogOrchestrator: crashes after the hotel step and forgets the saga",
                  lambda s: run_saga(s, crash=ORCH, crash_at="after:hotel", restart_after=0.3,
                                     orchestrator_cls=NoLogOrchestrator)),
    "outbox-bug": ("BROKEN DirectPublishService (choreography): the hotel crashes between its commit and "
                   "its event", lambda s: run_saga(s, "choreography", crash="hotel", crash_at="after:hotel",
                                                   restart_after=0.3, service_cls=DirectPublishService)),
}


def scenario(name: str, seed: int = 0) -> SagaRun:
    """Run the named scenario (see ``SCENARIOS``)."""
    one_of("name", name, tuple(SCENARIOS))
    return SCENARIOS[name][1](seed)
