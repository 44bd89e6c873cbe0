"""Sequential specifications ("models") for the linearizability checker.

A history is linearizable when its operations can be put in one order that
(1) respects real time — if ``a`` returned before ``b`` was invoked, ``a`` comes
first — and (2) is a legal run of a *sequential specification* (Herlihy & Wing,
"Linearizability", 1990, §2). A model is that sequential specification.

Writing a model
---------------
A model is an object with two methods::

    init() -> state                       # the state before any operation
    step(state, op) -> (ok, new_state)    # may ``op`` happen in ``state``? and then what?

* ``state`` must be hashable (a number, string, tuple, frozenset, ...): the
  checker memoizes ``(set of linearized operations, state)`` pairs (Lowe 2017),
  so two equal states must compare and hash equal. Never mutate a state; return
  a new one.
* ``op`` is a :class:`ModelOp` with ``op.f`` (operation name, e.g. ``"read"``),
  ``op.input`` (the value given at invocation, e.g. the value to write),
  ``op.output`` (the value observed at completion, e.g. what a read returned)
  and ``op.key``. For an ``info`` operation (timed out: it may or may not have
  happened) the output was never observed and is the :data:`UNKNOWN` sentinel:
  accept any output then.
* Return ``(False, state)`` when the operation could not have produced
  ``op.output`` in ``state``; the checker then tries another order.

For example, a counter with ``add`` and ``read``::

    class Counter(Model):
        def init(self):
            return 0
        def step(self, state, op):
            if op.f == "add":
                return True, state + op.input
            if op.f == "read":
                return (op.output is UNKNOWN or op.output == state), state
            raise ValueError(f"op.f must be 'add' or 'read' (got {op.f!r})")

Optional hooks, only for speed (the defaults are always correct): ``ignorable(op)``
(a timed-out op that can never matter, e.g. a read), ``read_only(op)`` (``op``
leaves *every* state unchanged, so the checker need not branch on it — a write of
the value already there is not read-only), ``prune(ops, unknown)`` (drop timed-out
ops that provably never help), ``for_history(ops, unknown)`` (a model specialized to one
history that merges states no operation of it can tell apart). :class:`Register` shows the
first three, :class:`AppendKVStore` the fourth.

Set ``partition_by_key = True`` when operations on different keys are
independent (a key-value store is a register per key): the checker then checks
each key's sub-history on its own, which is equivalent by the locality theorem
of Herlihy & Wing (§3.3, "P-compositionality") and exponentially cheaper.
"""

from __future__ import annotations

import copy
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple


class _Unknown:
    """The output of an operation whose completion was never observed."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "?"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class ModelOp(NamedTuple):
    """What a model sees of one operation."""

    f: str
    input: Any
    output: Any
    key: Hashable | None = None


_ATOMS = (int, str, float, bool, type(None), bytes)


def freeze(value: Any) -> Hashable:
    """A hashable copy of ``value`` (lists -> tuples, sets -> frozensets, dicts -> sorted tuples)."""
    if type(value) in _ATOMS:  # the common case, kept cheap: the checker calls this per step
        return value
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((repr(k), freeze(v)) for k, v in value.items()))
    return value


def _fmt_key(key: Hashable | None) -> str:
    return "" if key is None else f"{key} "


class Model:
    """Base class: override :meth:`init` and :meth:`step` (and optionally the describers)."""

    name = "model"
    partition_by_key = False

    def init(self) -> Hashable:
        raise NotImplementedError

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        raise NotImplementedError

    def ignorable(self, op: ModelOp) -> bool:
        """True if ``op`` with an unknown outcome can never change the state (e.g. a timed-out read).

        The checker drops such ``info`` operations: linearizing or omitting them is the same.
        """
        return False

    def read_only(self, op: ModelOp) -> bool:
        """Optional speed-up: True if ``op`` leaves *every* state unchanged (a read).

        The checker then never branches on it: when a read-only operation is legal now,
        linearizing it now is as good as later. Returning False is always safe.
        """
        return False

    def prune(self, ops: Sequence[ModelOp], unknown: Sequence[bool]) -> list[bool]:
        """Optional speed-up: which operations to keep (``unknown[i]``: op i is an info op).

        Return False only for info operations that provably never help a linearization.
        """
        return [True] * len(ops)

    def for_history(self, ops: Sequence[ModelOp], unknown: Sequence[bool]) -> Model:
        """Optional speed-up: a model to check exactly these operations with (default: ``self``).

        Called once per partition, after :meth:`prune`. The returned model may merge states that
        no operation *of this history* can tell apart (e.g. every value no read returned): the
        verdict is the same, the search far smaller. It must describe its states in explanations.
        """
        return self

    def describe_op(self, op: ModelOp) -> str:
        """A short label such as ``w x=1`` or ``r x→1`` (used on diagram bars)."""
        out = "" if op.output is None else f"→{op.output!r}"
        inp = "" if op.input is None else f" {op.input!r}"
        return f"{op.f} {_fmt_key(op.key)}{inp}{out}".replace("  ", " ").strip()

    def describe_state(self, state: Hashable, key: Hashable | None = None) -> str:
        return repr(state)


class Register(Model):
    """A single read/write register, optionally with compare-and-set.

    Operations (Jepsen conventions): ``read`` (output = value read), ``write``
    (input = value written) and ``cas`` (input = ``(expected, new)``; an ``ok``
    cas swapped, unless its output is exactly ``False``, which records a cas
    that returned "no swap"). ``initial`` is the value before any write.
    """

    name = "register"

    def __init__(self, initial: Any = None, *, allow_cas: bool = True):
        self.initial = freeze(initial)
        self.allow_cas = allow_cas

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        f = op.f
        if f == "read":
            out = op.output
            legal = out is UNKNOWN or out == state or (type(out) not in _ATOMS and freeze(out) == state)
            return legal, state
        if f == "write":
            return True, freeze(op.input)
        if f == "cas" and self.allow_cas:
            expected, new = _cas_args(op.input)
            if op.output is False:
                return state != expected, state
            if state == expected:
                return True, freeze(new)
            return False, state
        allowed = "'read', 'write' or 'cas'" if self.allow_cas else "'read' or 'write'"
        raise ValueError(f"op.f must be {allowed} for a {self.name} (got {f!r})")

    def ignorable(self, op: ModelOp) -> bool:
        return op.f == "read" and op.output is UNKNOWN

    def read_only(self, op: ModelOp) -> bool:
        return op.f == "read" or (op.f == "cas" and op.output is False)

    def prune(self, ops: Sequence[ModelOp], unknown: Sequence[bool]) -> list[bool]:
        """Drop timed-out writes/cas whose value nobody ever observes.

        Why this is sound: if no read returns ``v`` and no cas expects ``v``, then in any
        linearization containing the write of ``v`` only writes can follow it until the
        next write, so deleting it leaves a legal linearization. (Not applied when a cas
        reported "no swap", since that observes "the value is not ``expected``".)
        """
        keep = [True] * len(ops)
        observed = set()
        for op, unk in zip(ops, unknown, strict=True):
            if op.f == "read" and not unk:
                observed.add(freeze(op.output))
            elif op.f == "cas":
                if op.output is False:
                    return keep
                observed.add(_cas_args(op.input)[0])
        for i, (op, unk) in enumerate(zip(ops, unknown, strict=True)):
            if unk and op.f in ("write", "cas"):
                new = op.input if op.f == "write" else _cas_args(op.input)[1]
                keep[i] = freeze(new) in observed
        return keep

    def describe_op(self, op: ModelOp) -> str:
        k = "" if op.key is None else f"{op.key}"
        if op.f == "read":
            return f"r {k}→{op.output!r}" if k else f"r →{op.output!r}"
        if op.f == "write":
            return f"w {k}={op.input!r}" if k else f"w {op.input!r}"
        if op.f == "cas":
            try:
                expected, new = _cas_args(op.input)
            except ValueError:
                return f"cas {k} {op.input!r}".strip()
            res = " ✗" if op.output is False else ""
            return f"cas {k}{' ' if k else ''}{expected!r}→{new!r}{res}"
        return super().describe_op(op)

    def describe_state(self, state: Hashable, key: Hashable | None = None) -> str:
        return f"{key if key is not None else 'the register'} = {state!r}"


def _cas_args(value: Any) -> tuple[Any, Any]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"cas input must be a pair (expected, new) (got {value!r})")
    return freeze(value[0]), value[1]


class CASRegister(Register):
    """A register with read, write and compare-and-set (same as ``Register(allow_cas=True)``)."""

    name = "cas-register"

    def __init__(self, initial: Any = None):
        super().__init__(initial, allow_cas=True)


class KVStore(Register):
    """A key-value store: an independent register (read/write/cas) per key.

    The checker partitions the history by ``Op.key`` and checks each key alone
    (Herlihy & Wing's locality), so the per-key state is just the key's value.
    """

    name = "kv-store"
    partition_by_key = True

    def describe_state(self, state: Hashable, key: Hashable | None = None) -> str:
        return f"{key} = {state!r}"


class _Unread:
    """The state "holds a value no read of this history returns, nor extends" (AppendKVStore)."""

    def __repr__(self) -> str:
        return "<unread>"


_UNREAD: Any = _Unread()


class AppendKVStore(KVStore):
    """:class:`KVStore` plus ``append`` (string concatenation; an absent key reads ``None``, and
    appending to it starts from ``""``): Jepsen's get / put / append workload.

    Appends make orders matter: ``k`` concurrent appends give ``k!`` different strings, and a
    register's Lowe memo cannot merge them. :meth:`for_history` merges every string that is not a
    prefix of any value the history reads (or a cas expects) into one state, ``<unread>``: no read
    can follow it before the next write, whatever comes next, so which such string it is never
    matters. Wrong orders of appends then collapse at once instead of living until the next read.
    """

    name = "kv-store (read/write/cas/append)"

    def __init__(self, initial: Any = None, *, allow_cas: bool = True):
        super().__init__(initial, allow_cas=allow_cas)
        self._observed: list[str] | None = None   # set on the copy for_history returns

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        f = op.f
        if f == "append":
            if state is _UNREAD:
                return True, state
            return True, self._merge((state or "") + op.input)
        if state is _UNREAD:
            # The true value is not a prefix of anything observed, so it equals no read's output
            # and no cas's expected value: a read or swapping cas is illegal, a "no swap" cas legal.
            if f == "read":
                return op.output is UNKNOWN, state
            if f == "cas" and self.allow_cas:
                _cas_args(op.input)
                return op.output is False, state
        ok, new = super().step(state, op)
        return ok, (self._merge(new) if f != "read" else new)

    def _merge(self, value: Hashable) -> Hashable:
        observed = self._observed
        if observed is None or type(value) is not str:
            return value
        i = bisect_left(observed, value)  # the first observed value >= value: a prefix match if any
        return value if i < len(observed) and observed[i].startswith(value) else _UNREAD

    def for_history(self, ops: Sequence[ModelOp], unknown: Sequence[bool]) -> Model:
        observed = {v for v in _observed_values(ops, unknown) if type(v) is str}
        model = copy.copy(self)
        model._observed = sorted(observed)
        return model

    def prune(self, ops: Sequence[ModelOp], unknown: Sequence[bool]) -> list[bool]:
        """Drop timed-out writes/appends whose value no read contains and no cas expects.

        An append builds on what is there, so a read can observe a value *through* later appends
        (``"c;b;"`` observes a write of ``"c;"``): "observed" means "is a substring of a read's
        output or a cas's expected value". If no such value contains ``v``, a linearization with
        the write/append of ``v`` has no read and no swapping cas until the next write, so
        deleting it leaves a legal one. (Not applied when a cas reported "no swap": deleting it
        could make that cas's "not expected" false.)
        """
        if not any(op.f == "append" for op in ops):
            return super().prune(ops, unknown)
        keep = [True] * len(ops)
        if any(op.f == "cas" and op.output is False for op in ops):
            return keep
        observed = _observed_values(ops, unknown)
        if not all(type(v) is str or v is None for v in observed):
            return keep
        texts = [v for v in observed if v is not None]
        for i, (op, unk) in enumerate(zip(ops, unknown, strict=True)):
            if unk and op.f in ("write", "append") and type(op.input) is str and op.input:
                keep[i] = any(op.input in t for t in texts)
        return keep

    def describe_op(self, op: ModelOp) -> str:
        if op.f == "append":
            return f"append {op.key} {op.input!r}"
        return super().describe_op(op)

    def describe_state(self, state: Hashable, key: Hashable | None = None) -> str:
        if state is _UNREAD:
            return f"{key} holds a value that no read returns or extends (so no read may come next)"
        return super().describe_state(state, key)


def _observed_values(ops: Sequence[ModelOp], unknown: Sequence[bool]) -> list[Any]:
    """Values the history observes: outputs of completed reads, expected values of cas."""
    out = []
    for op, unk in zip(ops, unknown, strict=True):
        if op.f == "read" and not unk and op.output is not UNKNOWN:
            out.append(freeze(op.output))
        elif op.f == "cas":
            out.append(_cas_args(op.input)[0])
    return out


class Counter(Model):
    """A counter: ``add`` (input = amount, default 1), ``read`` (output = value)."""

    name = "counter"

    def __init__(self, initial: int = 0):
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        if op.f in ("add", "incr"):
            return True, state + (1 if op.input is None else op.input)
        if op.f == "read":
            return (op.output is UNKNOWN or op.output == state), state
        raise ValueError(f"op.f must be 'add', 'incr' or 'read' for a counter (got {op.f!r})")

    def ignorable(self, op: ModelOp) -> bool:
        return op.f == "read" and op.output is UNKNOWN

    def read_only(self, op: ModelOp) -> bool:
        return op.f == "read"

    def describe_op(self, op: ModelOp) -> str:
        if op.f == "read":
            return f"r →{op.output!r}"
        return f"+{1 if op.input is None else op.input!r}"


class SetModel(Model):
    """A grow-only set: ``add`` (input = element), ``read`` (output = all elements, any order)."""

    name = "set"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        if op.f == "add":
            return True, state | {freeze(op.input)}
        if op.f == "read":
            out = op.output
            return (out is UNKNOWN or frozenset(freeze(v) for v in out) == state), state
        raise ValueError(f"op.f must be 'add' or 'read' for a set (got {op.f!r})")

    def ignorable(self, op: ModelOp) -> bool:
        return op.f == "read" and op.output is UNKNOWN

    def read_only(self, op: ModelOp) -> bool:
        return op.f == "read"

    def describe_op(self, op: ModelOp) -> str:
        if op.f == "read":
            out = op.output if op.output is UNKNOWN else sorted(op.output, key=repr)
            return f"r →{out!r}"
        return f"add {op.input!r}"

    def describe_state(self, state: Hashable, key: Hashable | None = None) -> str:
        return "{" + ", ".join(sorted(repr(v) for v in state)) + "}"


__all__ = ["UNKNOWN", "AppendKVStore", "CASRegister", "Counter", "KVStore", "Model", "ModelOp", "Register",
           "SetModel", "freeze"]
