"""A PromQL subset: a parser and an evaluator over :class:`~distlib.monitoring.tsdb.TSDB`.

Semantics follow the Prometheus 2.x documentation and engine (the version Debian ships, 2.42; the
differential test compares with it):

* an **instant selector** at time ``t`` takes each series' latest sample in ``[t - lookback, t]``
  (default lookback 5 minutes), unless that sample is a staleness marker;
* a **range selector** ``x[5m]`` takes every sample in ``[t - 5m, t]``, both ends included (Prometheus
  3 made the left end open), staleness markers dropped; ``offset d`` shifts both back by ``d``;
* ``rate``/``increase``/``delta`` extrapolate to the window's ends exactly as Prometheus'
  ``extrapolatedRate`` does (counter resets added back, extrapolation stopped at the counter's zero
  point and at 1.1 average sample intervals from a boundary); ``irate`` uses the last two samples;
* functions and arithmetic drop the metric name; comparisons without ``bool`` filter and keep it.

Anything outside the subset raises :class:`PromQLError` (a ``ValueError``) that names the construct and
its position in the query -- never a silently wrong number. Times are seconds (floats) in the API and
integer milliseconds inside, as in Prometheus.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Union

from .tsdb import TSDB, Labels, is_stale

DEFAULT_LOOKBACK = 300.0


class PromQLError(ValueError):
    """A query that is malformed or outside the subset; ``pos`` is the 0-based character offset."""

    def __init__(self, message: str, pos: int, query: str):
        self.pos = pos
        self.query = query
        pointer = query[max(0, pos - 20):pos + 20]
        super().__init__(f"query: {message} at position {pos} (near {pointer!r})")


# ---- lexer ---------------------------------------------------------------------------------------
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
                   "w": 604_800_000, "y": 31_536_000_000}
_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<duration>(?:\d+(?:ms|s|m|h|d|w|y))+(?![a-zA-Z0-9_]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@:])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str       # duration, number, string, ident, op, eof
    text: str
    pos: int


def _lex(query: str) -> list[Token]:
    out = []
    pos = 0
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None:
            raise PromQLError(f"unexpected character {query[pos]!r}", pos, query)
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            out.append(Token(kind, m.group(), pos))     # type: ignore[arg-type]
        pos = m.end()
    out.append(Token("eof", "", len(query)))
    return out


def parse_duration(text: str) -> int:
    """``"1h30m"`` as milliseconds (``ValueError`` naming ``duration`` for anything else)."""
    if not isinstance(text, str) or not re.fullmatch(r"(?:\d+(?:ms|s|m|h|d|w|y))+", text):
        raise ValueError(f"duration must be a Prometheus duration such as 30s, 5m or 1h30m (got {text!r})")
    return sum(int(n) * _DURATION_UNITS[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text))


def _unquote(tok: Token, query: str) -> str:
    s = tok.text
    if s[0] == "`":
        return s[1:-1]
    body = s[1:-1]
    out = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
              "f": "\f", "v": "\v"}
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            raise PromQLError(f"unsupported escape sequence '\\{nxt}' in a string", tok.pos + i + 1, query)
        out.append(c)
        i += 1
    return "".join(out)


# ---- AST -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Matcher:
    """A label matcher: ``=``, ``!=``, ``=~`` or ``!~`` (regexes are anchored at both ends)."""

    name: str
    op: str
    value: str
    regex: Any = field(default=None, compare=False, repr=False)

    def matches(self, labels: dict[str, str]) -> bool:
        v = labels.get(self.name, "")
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        hit = self.regex.fullmatch(v) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class NumberLiteral:
    value: float
    pos: int = 0


@dataclass(frozen=True)
class StringLiteral:
    value: str
    pos: int = 0


@dataclass(frozen=True)
class VectorSelector:
    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    pos: int = 0


@dataclass(frozen=True)
class MatrixSelector:
    vector: VectorSelector
    range_ms: int
    pos: int = 0


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    pos: int = 0


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: Any
    param: Any
    grouping: tuple[str, ...]
    without: bool
    by: bool
    pos: int = 0


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: Any
    rhs: Any
    return_bool: bool = False
    on: bool = False
    matching: tuple[str, ...] = ()
    card: str = "one-to-one"          # or many-to-one (group_left), one-to-many (group_right)
    include: tuple[str, ...] = ()
    explicit_matching: bool = False
    pos: int = 0


@dataclass(frozen=True)
class Unary:
    op: str
    expr: Any
    pos: int = 0


Expr = Union[NumberLiteral, StringLiteral, VectorSelector, MatrixSelector, Call, Aggregate, Binary, Unary]

# function name -> (argument types, return type); "scalar?" marks an optional trailing argument
_RANGE_FUNCS = ("rate", "irate", "increase", "delta", "idelta", "changes", "resets",
                "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
                "last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time",
                "absent_over_time")
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    **{f: (("matrix",), "vector") for f in _RANGE_FUNCS},
    "quantile_over_time": (("scalar", "matrix"), "vector"),
    "histogram_quantile": (("scalar", "vector"), "vector"),
    "abs": (("vector",), "vector"), "ceil": (("vector",), "vector"), "floor": (("vector",), "vector"),
    "sqrt": (("vector",), "vector"), "exp": (("vector",), "vector"), "ln": (("vector",), "vector"),
    "clamp_min": (("vector", "scalar"), "vector"), "clamp_max": (("vector", "scalar"), "vector"),
    "absent": (("vector",), "vector"),
    "time": ((), "scalar"), "vector": (("scalar",), "vector"), "scalar": (("vector",), "scalar"),
}
# Real PromQL functions this subset does not implement: named as unsupported, not as unknown.
_UNSUPPORTED_FUNCS = frozenset({
    "label_replace", "label_join", "sort", "sort_desc", "timestamp", "predict_linear", "deriv",
    "holt_winters", "round", "clamp", "day_of_month", "day_of_week", "days_in_month", "hour", "minute",
    "month", "year", "sgn", "log2", "log10", "exp2", "histogram_count", "histogram_sum",
    "histogram_fraction", "mad_over_time", "acos", "asin", "atan", "cos", "sin", "tan", "deg", "rad", "pi",
    "cosh", "sinh", "tanh", "acosh", "asinh", "atanh"})
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "topk", "bottomk", "group")
_UNSUPPORTED_AGGS = frozenset({"stddev", "stdvar", "quantile", "count_values", "limitk", "limit_ratio"})
_KEEP_NAME = frozenset({"last_over_time"})   # the one function whose result keeps the metric name

# binary operator precedence, lowest first; "^" is right-associative
_PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, "<=": 3, "<": 3, ">=": 3, ">": 3,
               "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6}
_COMPARISONS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
_SET_OPS = frozenset({"and", "or", "unless"})


def value_type(e: Expr) -> str:
    """``scalar``, ``vector``, ``matrix`` or ``string``."""
    if isinstance(e, NumberLiteral):
        return "scalar"
    if isinstance(e, StringLiteral):
        return "string"
    if isinstance(e, MatrixSelector):
        return "matrix"
    if isinstance(e, Call):
        return FUNCTIONS[e.func][1]
    if isinstance(e, Unary):
        return value_type(e.expr)
    if isinstance(e, Binary):
        return "scalar" if value_type(e.lhs) == value_type(e.rhs) == "scalar" else "vector"
    return "vector"


# ---- parser --------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = _lex(query)
        self.i = 0

    def err(self, message: str, tok: Token | None = None) -> PromQLError:
        tok = tok or self.peek()
        return PromQLError(message, tok.pos, self.query)

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        tok = self.peek()
        if tok.text != text or tok.kind not in ("op", "ident"):
            found = "end of query" if tok.kind == "eof" else repr(tok.text)
            raise self.err(f"expected {text!r}, found {found}")
        return self.next()

    def parse(self) -> Expr:
        if self.peek().kind == "eof":
            raise self.err("empty query")
        expr = self.expr(0)
        tok = self.peek()
        if tok.kind != "eof":
            raise self.err(f"unexpected {tok.text!r} after a complete expression")
        return expr

    def _binop(self) -> str | None:
        tok = self.peek()
        if tok.kind == "op" and tok.text in _PRECEDENCE:
            return tok.text
        if tok.kind == "ident" and tok.text in ("and", "or", "unless", "atan2"):
            return tok.text
        return None

    def expr(self, min_prec: int) -> Expr:
        lhs = self.unary()
        while True:
            op = self._binop()
            if op is None or _PRECEDENCE[op] < min_prec:
                return lhs
            optok = self.next()
            if op == "atan2":
                raise self.err("unsupported construct 'atan2'", optok)
            node_kw: dict[str, Any] = {}
            if self.peek().text == "bool" and self.peek().kind == "ident":
                if op not in _COMPARISONS:
                    raise self.err(f"'bool' modifier used with the non-comparison operator {op!r}")
                self.next()
                node_kw["return_bool"] = True
            if self.peek().kind == "ident" and self.peek().text in ("on", "ignoring"):
                kw = self.next().text
                node_kw["on"] = kw == "on"
                node_kw["matching"] = self.label_list()
                node_kw["explicit_matching"] = True
                if self.peek().kind == "ident" and self.peek().text in ("group_left", "group_right"):
                    g = self.next()
                    if op in _SET_OPS:
                        raise self.err(f"{g.text} is not allowed with the set operator {op!r}", g)
                    node_kw["card"] = "many-to-one" if g.text == "group_left" else "one-to-many"
                    node_kw["include"] = self.label_list() if self.peek().text == "(" else ()
            elif self.peek().kind == "ident" and self.peek().text in ("group_left", "group_right"):
                raise self.err(f"{self.peek().text} needs on(...) or ignoring(...) before it")
            next_min = _PRECEDENCE[op] + (0 if op == "^" else 1)
            rhs = self.expr(next_min)
            lhs = self.check_binary(Binary(op, lhs, rhs, pos=optok.pos, **node_kw), optok)

    def check_binary(self, b: Binary, tok: Token) -> Binary:
        lt, rt = value_type(b.lhs), value_type(b.rhs)
        for t in (lt, rt):
            if t not in ("scalar", "vector"):
                raise self.err(f"binary operator {b.op!r} needs scalars or instant vectors, not a {t}", tok)
        if b.op in _SET_OPS and (lt == "scalar" or rt == "scalar"):
            raise self.err(f"set operator {b.op!r} needs instant vectors on both sides", tok)
        if b.op in _COMPARISONS and lt == rt == "scalar" and not b.return_bool:
            raise self.err("comparisons between scalars must use the 'bool' modifier", tok)
        if b.explicit_matching and not (lt == rt == "vector"):
            raise self.err("vector matching (on/ignoring) needs instant vectors on both sides", tok)
        if b.card != "one-to-one":
            overlap = set(b.include) & set(b.matching) if b.on else set()
            if overlap:
                raise self.err(f"label {sorted(overlap)[0]!r} must not be both in on(...) and group_x(...)",
                               tok)
        return b

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("+", "-"):
            self.next()
            inner = self.expr(_PRECEDENCE["^"])      # binds looser than '^': -2^2 is -(2^2)
            if value_type(inner) not in ("scalar", "vector"):
                raise self.err("unary operator needs a scalar or an instant vector", tok)
            if tok.text == "+":
                return inner
            if isinstance(inner, NumberLiteral):
                return NumberLiteral(-inner.value, tok.pos)
            return Unary("-", inner, tok.pos)
        return self.postfix(self.primary())

    def postfix(self, e: Expr) -> Expr:
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text == "[":
                if not isinstance(e, VectorSelector):
                    if self.peek(1).kind == "duration" and self.peek(2).text.startswith(":") or \
                            self.peek(1).text.startswith(":"):
                        raise self.err("unsupported construct 'subquery'", tok)
                    raise self.err("a range [..] can only follow a metric selector", tok)
                if e.offset_ms:
                    raise self.err("offset must follow the range: write x[5m] offset 1h", tok)
                self.next()
                dur = self.next()
                if dur.kind != "duration":
                    if dur.kind == "number":
                        raise self.err("range must be a duration with a unit such as 5m", dur)
                    raise self.err("expected a duration such as 5m in the range", dur)
                if self.peek().text.startswith(":"):      # ':1m' lexes as a (metric-name) identifier
                    raise self.err("unsupported construct 'subquery'", self.peek())
                self.expect("]")
                ms = parse_duration(dur.text)
                if ms <= 0:
                    raise self.err("range must be > 0", dur)
                e = MatrixSelector(e, ms, tok.pos)
            elif tok.kind == "ident" and tok.text == "offset":
                self.next()
                sign = 1
                if self.peek().kind == "op" and self.peek().text in ("-", "+"):
                    sign = -1 if self.next().text == "-" else 1
                dur = self.next()
                if dur.kind != "duration":
                    raise self.err("offset needs a duration such as 5m", dur)
                off = sign * parse_duration(dur.text)
                if isinstance(e, VectorSelector):
                    if e.offset_ms:
                        raise self.err("offset may not be set multiple times", tok)
                    e = VectorSelector(e.name, e.matchers, off, e.pos)
                elif isinstance(e, MatrixSelector):
                    if e.vector.offset_ms:
                        raise self.err("offset may not be set multiple times", tok)
                    e = MatrixSelector(VectorSelector(e.vector.name, e.vector.matchers, off, e.vector.pos),
                                       e.range_ms, e.pos)
                else:
                    raise self.err("offset modifier must follow a metric selector", tok)
            elif tok.kind == "op" and tok.text == "@":
                raise self.err("unsupported construct '@ modifier'", tok)
            else:
                return e

    def primary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "number":
            self.next()
            text = tok.text
            return NumberLiteral(float(int(text, 16)) if text[:2].lower() == "0x" else float(text), tok.pos)
        if tok.kind == "duration":
            raise self.err(f"a duration ({tok.text}) is only allowed in [..] or after offset")
        if tok.kind == "string":
            self.next()
            return StringLiteral(_unquote(tok, self.query), tok.pos)
        if tok.kind == "op" and tok.text == "(":
            self.next()
            inner = self.expr(0)
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.text == "{":
            return self.selector(None, tok)
        if tok.kind == "ident":
            low = tok.text.lower()
            if low in ("inf", "nan") and self.peek(1).text not in ("(", "{"):
                self.next()
                return NumberLiteral(math.inf if low == "inf" else math.nan, tok.pos)
            nxt = self.peek(1)
            if tok.text in AGGREGATIONS and (nxt.text == "(" or nxt.text in ("by", "without")):
                return self.aggregate()
            if tok.text in _UNSUPPORTED_AGGS and (nxt.text == "(" or nxt.text in ("by", "without")):
                raise self.err(f"unsupported construct: aggregation {tok.text!r}", tok)
            if nxt.kind == "op" and nxt.text == "(":
                return self.call()
            if tok.text in ("by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                            "offset", "and", "or", "unless"):
                raise self.err(f"unexpected keyword {tok.text!r}")
            self.next()
            if self.peek().kind == "op" and self.peek().text == "{":
                return self.selector(tok.text, tok)
            return VectorSelector(tok.text, (Matcher("__name__", "=", tok.text),), 0, tok.pos)
        found = "end of query" if tok.kind == "eof" else repr(tok.text)
        raise self.err(f"unexpected {found}, expected an expression")

    def selector(self, name: str | None, start: Token) -> VectorSelector:
        self.expect("{")
        matchers: list[Matcher] = [Matcher("__name__", "=", name)] if name else []
        while self.peek().text != "}":
            lab = self.next()
            if lab.kind != "ident" or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", lab.text):
                raise self.err("expected a label name in the selector", lab)
            op = self.next()
            if op.text not in ("=", "!=", "=~", "!~"):
                raise self.err(f"expected a label matcher (=, !=, =~, !~) after {lab.text!r}", op)
            val = self.next()
            if val.kind != "string":
                raise self.err("label matcher value must be a quoted string", val)
            value = _unquote(val, self.query)
            regex = None
            if op.text in ("=~", "!~"):
                try:
                    regex = re.compile(value)
                except re.error as exc:
                    raise self.err(f"invalid regular expression {value!r}: {exc}", val) from None
            if lab.text == "__name__" and name is not None:
                raise self.err("metric name given twice (before the braces and as __name__)", lab)
            matchers.append(Matcher(lab.text, op.text, value, regex))
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != "}":
                raise self.err("expected ',' or '}' in the selector")
        self.expect("}")
        if not any(not m.matches({}) for m in matchers):
            raise self.err("vector selector must contain at least one matcher that does not match the "
                           "empty string", start)
        metric = next((m.value for m in matchers if m.name == "__name__" and m.op == "="), None)
        return VectorSelector(metric, tuple(matchers), 0, start.pos)

    def label_list(self) -> tuple[str, ...]:
        self.expect("(")
        out: list[str] = []
        while self.peek().text != ")":
            tok = self.next()
            if tok.kind != "ident" or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", tok.text):
                raise self.err("expected a label name in the list", tok)
            out.append(tok.text)
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != ")":
                raise self.err("expected ',' or ')' in the label list")
        self.expect(")")
        return tuple(out)

    def call(self) -> Call:
        tok = self.next()
        if tok.text in _UNSUPPORTED_FUNCS:
            raise self.err(f"unsupported construct: function {tok.text!r}", tok)
        if tok.text not in FUNCTIONS:
            raise self.err(f"unknown function {tok.text!r}", tok)
        self.expect("(")
        args: list[Expr] = []
        while self.peek().text != ")":
            args.append(self.expr(0))
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != ")":
                raise self.err("expected ',' or ')' in the argument list")
        self.expect(")")
        want, _ = FUNCTIONS[tok.text]
        if len(args) != len(want):
            raise self.err(f"function {tok.text!r} takes {len(want)} argument(s), got {len(args)}", tok)
        for a, w in zip(args, want, strict=True):
            got = value_type(a)
            if got != w:
                raise self.err(f"function {tok.text!r} expects a {w} argument, got a {got}",
                               Token("", "", getattr(a, "pos", tok.pos)))
        return self.postfix_check(Call(tok.text, tuple(args), tok.pos))

    def postfix_check(self, c: Call) -> Call:
        return c

    def aggregate(self) -> Aggregate:
        tok = self.next()
        grouping: tuple[str, ...] = ()
        without = by = False
        if self.peek().text in ("by", "without"):
            kw = self.next().text
            without, by = kw == "without", kw == "by"
            grouping = self.label_list()
        self.expect("(")
        param = None
        if tok.text in ("topk", "bottomk"):
            param = self.expr(0)
            if value_type(param) != "scalar":
                raise self.err(f"{tok.text} needs a scalar parameter first", tok)
            self.expect(",")
        expr = self.expr(0)
        if value_type(expr) != "vector":
            raise self.err(f"aggregation {tok.text!r} expects an instant vector, got a {value_type(expr)}",
                           tok)
        self.expect(")")
        if self.peek().text in ("by", "without") and self.peek().kind == "ident":
            if by or without:
                raise self.err("grouping given twice (before and after the arguments)")
            kw = self.next().text
            without, by = kw == "without", kw == "by"
            grouping = self.label_list()
        return Aggregate(tok.text, expr, param, grouping, without, by, tok.pos)


def parse(query: str) -> Expr:
    """The syntax tree of ``query``; :class:`PromQLError` (a ``ValueError``) for anything else."""
    if not isinstance(query, str):
        raise ValueError(f"query must be a PromQL string (got {query!r})")
    return _Parser(query).parse()


# ---- evaluation ----------------------------------------------------------------------------------
Vector = list[tuple[Labels, float]]


def _drop_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != "__name__")


def _sig(labels: Labels, on: bool, names: tuple[str, ...]) -> Labels:
    if on:
        return tuple(p for p in labels if p[0] in names)
    return tuple(p for p in labels if p[0] != "__name__" and p[0] not in names)


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    if op == "%":
        if b == 0 or math.isinf(a):
            return math.nan
        return math.fmod(a, b)           # Go's math.Mod: the sign follows the dividend
    if op == "^":
        try:
            return math.pow(a, b)
        except (OverflowError, ValueError):
            if a == 0 and b < 0:
                return math.inf
            return math.nan if a < 0 else math.inf
    raise AssertionError(op)


def _compare(op: str, a: float, b: float) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


def _extrapolated_rate(ts: list[int], vs: list[float], a: int, b: int, range_start: int, range_end: int,
                       range_ms: int, is_counter: bool, is_rate: bool, has_reset: bool = True) -> float:
    """Prometheus' ``extrapolatedRate`` (promql/functions.go, 2.42) over samples ``a..b-1`` (b - a >= 2),
    times in ms. ``has_reset=False`` promises no decrease inside the window (skips the loop)."""
    first, last = vs[a], vs[b - 1]
    result = last - first
    if is_counter and has_reset:
        prev = 0.0
        for i in range(a, b):
            v = vs[i]
            if v < prev:
                result += prev               # a counter reset: add back what was there before
            prev = v
    t_first, t_last = ts[a], ts[b - 1]
    to_start = (t_first - range_start) / 1000
    to_end = (range_end - t_last) / 1000
    sampled = (t_last - t_first) / 1000
    avg_step = sampled / (b - a - 1)
    if is_counter and result > 0 and first >= 0:
        to_zero = sampled * (first / result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = avg_step * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else avg_step / 2
    interval += to_end if to_end < threshold else avg_step / 2
    factor = interval / sampled               # this order of operations, to the last bit, as 2.42
    if is_rate:
        factor /= range_ms / 1000
    return result * factor


def _quantile(q: float, values: list[float]) -> float:
    """Prometheus' ``quantile`` (linear interpolation between closest ranks, as in quantile_over_time)."""
    if not values:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if q != q:
        return math.nan
    s = sorted(values)
    rank = q * (len(s) - 1)
    lower = max(0, int(math.floor(rank)))
    upper = min(len(s) - 1, lower + 1)
    weight = rank - math.floor(rank)
    return s[lower] * (1 - weight) + s[upper] * weight


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """``histogram_quantile`` for one histogram given as ``[(upper bound le, cumulative count)]``
    (Prometheus' ``bucketQuantile``: sort, merge equal bounds, force monotonic counts, then
    interpolate linearly inside the bucket that holds the rank)."""
    if q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    bs = sorted(buckets, key=lambda b: b[0])
    if not bs or not (math.isinf(bs[-1][0]) and bs[-1][0] > 0):
        return math.nan
    merged: list[list[float]] = []
    for le, c in bs:                              # coalesceBuckets: equal bounds add up
        if merged and merged[-1][0] == le:
            merged[-1][1] += c
        else:
            merged.append([le, c])
    top = -math.inf                               # ensureMonotonic
    for b in merged:
        if b[1] > top:
            top = b[1]
        elif b[1] < top:
            b[1] = top
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


class _Eval:
    """Evaluates one query at many instants, fetching each selector's samples once for the whole span."""

    def __init__(self, db: TSDB, query: str, start_ms: int, end_ms: int, lookback_ms: int):
        self.db = db
        self.query = query
        self.start = start_ms
        self.end = end_ms
        self.lookback = lookback_ms
        self._cache: dict[tuple[int, str], list[tuple[Labels, list[int], list[float]]]] = {}
        self._resets: dict[tuple[int, str], list] = {}
        self._dropped: dict[Labels, Labels] = {}

    def fetch(self, vs: VectorSelector, range_ms: int | None) -> list[tuple[Labels, list[int], list[float]]]:
        key = (id(vs), "m" if range_ms is not None else "v")
        got = self._cache.get(key)
        if got is None:
            back = range_ms if range_ms is not None else self.lookback
            lo = self.start - vs.offset_ms - back
            hi = self.end - vs.offset_ms
            got = []
            for s in self.db.select(vs.matchers):
                ts, vals = s.samples(lo, hi)
                if range_ms is not None:            # range selectors never see staleness markers
                    keep = [i for i, v in enumerate(vals) if not (v != v and is_stale(v))]
                    if len(keep) != len(vals):
                        ts = [ts[i] for i in keep]
                        vals = [vals[i] for i in keep]
                if ts:
                    got.append((s.labels, ts, vals))
            self._cache[key] = got
        return got

    def err(self, message: str, node: Any) -> PromQLError:
        return PromQLError(message, getattr(node, "pos", 0), self.query)

    # -- the evaluator proper: returns a float (scalar), a Vector, or a matrix list
    def eval(self, e: Expr, t: int) -> Any:
        if isinstance(e, NumberLiteral):
            return e.value
        if isinstance(e, StringLiteral):
            return e.value
        if isinstance(e, VectorSelector):
            ref = t - e.offset_ms
            out: Vector = []
            for labels, ts, vals in self.fetch(e, None):
                i = bisect_right(ts, ref) - 1
                if i < 0 or ts[i] < ref - self.lookback:
                    continue
                v = vals[i]
                if v != v and is_stale(v):
                    continue
                out.append((labels, v))
            return out
        if isinstance(e, MatrixSelector):
            return self.matrix(e, t)
        if isinstance(e, Unary):
            inner = self.eval(e.expr, t)
            if isinstance(inner, float):
                return -inner
            return [(_drop_name(lab), -v) for lab, v in inner]
        if isinstance(e, Binary):
            return self.binary(e, t)
        if isinstance(e, Aggregate):
            return self.aggregate(e, t)
        if isinstance(e, Call):
            return self.call(e, t)
        raise self.err(f"cannot evaluate {type(e).__name__}", e)

    def matrix(self, e: MatrixSelector, t: int) -> list[tuple[Labels, list[int], list[float]]]:
        end = t - e.vector.offset_ms
        start = end - e.range_ms
        out = []
        for labels, ts, vals in self.fetch(e.vector, e.range_ms):
            a = bisect_left(ts, start)
            b = bisect_right(ts, end)
            if a < b:
                out.append((labels, ts[a:b], vals[a:b]))
        return out

    def call(self, e: Call, t: int) -> Any:
        f = e.func
        if f == "time":
            return t / 1000
        if f == "vector":
            return [((), float(self.eval(e.args[0], t)))]
        if f == "scalar":
            v = self.eval(e.args[0], t)
            return v[0][1] if len(v) == 1 else math.nan
        if f == "absent":
            if self.eval(e.args[0], t):
                return []
            return [(self._absent_labels(e.args[0]), 1.0)]
        if f == "absent_over_time":
            if self.matrix(e.args[0], t):
                return []
            return [(self._absent_labels(e.args[0].vector), 1.0)]
        if f == "histogram_quantile":
            return self.histogram_quantile(float(self.eval(e.args[0], t)), self.eval(e.args[1], t))
        if f in ("clamp_min", "clamp_max"):
            vec = self.eval(e.args[0], t)
            bound = float(self.eval(e.args[1], t))
            pick = max if f == "clamp_min" else min
            return [(_drop_name(lab), math.nan if v != v or bound != bound else pick(v, bound))
                    for lab, v in vec]
        if f in ("abs", "ceil", "floor", "sqrt", "exp", "ln"):
            fn = _MATH[f]
            return [(_drop_name(lab), fn(v)) for lab, v in self.eval(e.args[0], t)]
        if f == "quantile_over_time":
            q = float(self.eval(e.args[0], t))
            return [(_drop_name(lab), _quantile(q, vals)) for lab, _, vals in self.matrix(e.args[1], t)]
        ms: MatrixSelector = e.args[0]
        out: Vector = []
        end = t - ms.vector.offset_ms
        start = end - ms.range_ms
        if f in ("rate", "increase", "delta"):
            # The hot path of range queries: no slicing; a prefix count of counter resets per series
            # lets windows without a reset skip the correction loop (results are bit-identical).
            counter = f != "delta"
            for labels, ts, vals, resets in self.fetch_with_resets(ms.vector, ms.range_ms):
                a = bisect_left(ts, start)
                b = bisect_right(ts, end)
                if b - a < 2:
                    continue
                v = _extrapolated_rate(ts, vals, a, b, start, end, ms.range_ms, counter, f == "rate",
                                       counter and resets[b - 1] != resets[a])
                out.append((self.drop_name(labels), v))
            return out
        for labels, ts, vals in self.matrix(ms, t):
            v = _range_function(f, ts, vals, start, end, ms.range_ms)
            if v is not None:
                out.append((labels if f in _KEEP_NAME else self.drop_name(labels), v))
        return out

    def drop_name(self, labels: Labels) -> Labels:
        got = self._dropped.get(labels)
        if got is None:
            got = self._dropped[labels] = _drop_name(labels)
        return got

    def fetch_with_resets(self, vs: VectorSelector,
                          range_ms: int) -> list[tuple[Labels, list[int], list[float], list[int]]]:
        """:meth:`fetch` plus, per series, ``resets[i]`` = number of decreases among samples 0..i."""
        key = (id(vs), "r")
        got = self._resets.get(key)
        if got is None:
            got = []
            for labels, ts, vals in self.fetch(vs, range_ms):
                counts = [0] * len(vals)
                n = 0
                for i in range(1, len(vals)):
                    if vals[i] < vals[i - 1]:
                        n += 1
                    counts[i] = n
                got.append((labels, ts, vals, counts))
            self._resets[key] = got
        return got

    @staticmethod
    def _absent_labels(vs: Any) -> Labels:
        if not isinstance(vs, VectorSelector):
            return ()
        eq: dict[str, list[str]] = {}
        for m in vs.matchers:
            if m.name != "__name__" and m.op == "=":
                eq.setdefault(m.name, []).append(m.value)
        bad = {m.name for m in vs.matchers if m.op != "="}
        return tuple(sorted((k, v[0]) for k, v in eq.items() if len(v) == 1 and k not in bad))

    def histogram_quantile(self, q: float, vec: Vector) -> Vector:
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for labels, v in vec:
            le = dict(labels).get("le")
            if le is None:
                continue
            try:
                bound = float(le)
            except ValueError:
                continue
            key = tuple(p for p in labels if p[0] not in ("le", "__name__"))
            groups.setdefault(key, []).append((bound, v))
        return [(k, bucket_quantile(q, groups[k])) for k in sorted(groups)]

    def binary(self, e: Binary, t: int) -> Any:
        lhs = self.eval(e.lhs, t)
        rhs = self.eval(e.rhs, t)
        op = e.op
        cmp = op in _COMPARISONS
        if isinstance(lhs, float) and isinstance(rhs, float):
            if cmp:
                return 1.0 if _compare(op, lhs, rhs) else 0.0
            return _arith(op, lhs, rhs)
        if isinstance(lhs, float) or isinstance(rhs, float):
            swap = isinstance(lhs, float)
            vec, s = (rhs, lhs) if swap else (lhs, rhs)
            out: Vector = []
            for labels, v in vec:
                a, b = (s, v) if swap else (v, s)
                if cmp:
                    keep = _compare(op, a, b)
                    if e.return_bool:
                        out.append((_drop_name(labels), 1.0 if keep else 0.0))
                    elif keep:
                        out.append((labels, v))
                else:
                    out.append((_drop_name(labels), _arith(op, a, b)))
            return out
        if op in _SET_OPS:
            return self.set_op(e, lhs, rhs)
        return self.vector_binary(e, lhs, rhs)

    def set_op(self, e: Binary, lhs: Vector, rhs: Vector) -> Vector:
        rsigs = {_sig(lab, e.on, e.matching) for lab, _ in rhs}
        if e.op == "and":
            return [s for s in lhs if _sig(s[0], e.on, e.matching) in rsigs]
        if e.op == "unless":
            return [s for s in lhs if _sig(s[0], e.on, e.matching) not in rsigs]
        lsigs = {_sig(lab, e.on, e.matching) for lab, _ in lhs}
        return list(lhs) + [s for s in rhs if _sig(s[0], e.on, e.matching) not in lsigs]

    def vector_binary(self, e: Binary, lhs: Vector, rhs: Vector) -> Vector:
        op = e.op
        cmp = op in _COMPARISONS
        many, one = (rhs, lhs) if e.card == "one-to-many" else (lhs, rhs)
        ones: dict[Labels, tuple[Labels, float]] = {}
        for labels, v in one:
            sig = _sig(labels, e.on, e.matching)
            if sig in ones:
                side = "right" if e.card != "one-to-many" else "left"
                raise self.err(f"found duplicate series for the match group {dict(sig)} on the {side} "
                               f"hand-side of the operation: many-to-many matching not allowed", e)
            ones[sig] = (labels, v)
        out: Vector = []
        seen_many: dict[Labels, Labels] = {}
        result_seen: set[Labels] = set()
        for labels, v in many:
            sig = _sig(labels, e.on, e.matching)
            match = ones.get(sig)
            if match is None:
                continue
            if e.card == "one-to-one":
                if sig in seen_many:
                    raise self.err(f"multiple matches for labels {dict(sig)}: many-to-one matching must be "
                                   f"explicit (group_left/group_right)", e)
                seen_many[sig] = labels
            olabels, ov = match
            a, b = (ov, v) if e.card == "one-to-many" else (v, ov)
            if cmp:
                keep = _compare(op, a, b)
                if e.return_bool:
                    value = 1.0 if keep else 0.0
                elif not keep:
                    continue
                else:
                    value = a
            else:
                value = _arith(op, a, b)
            res = self._result_labels(labels, olabels, e, drop=not cmp or e.return_bool)
            if e.card != "one-to-one":
                if res in result_seen:
                    raise self.err(f"multiple matches for labels {dict(res)}: grouping labels must ensure "
                                   f"unique matches", e)
                result_seen.add(res)
            out.append((res, value))
        return out

    @staticmethod
    def _result_labels(labels: Labels, other: Labels, e: Binary, drop: bool) -> Labels:
        d = dict(labels)
        if drop:
            d.pop("__name__", None)
        if e.card == "one-to-one":
            if e.on:
                d = {k: v for k, v in d.items() if k in e.matching}
            else:
                for k in e.matching:
                    d.pop(k, None)
        od = dict(other)
        for k in e.include:
            if od.get(k, ""):
                d[k] = od[k]
            else:
                d.pop(k, None)
        return tuple(sorted(d.items()))

    def aggregate(self, e: Aggregate, t: int) -> Vector:
        vec = self.eval(e.expr, t)
        k = 0
        if e.op in ("topk", "bottomk"):
            kv = float(self.eval(e.param, t))
            if kv != kv or math.isinf(kv):
                raise self.err(f"{e.op}: k must be a finite number (got {kv})", e)
            k = int(kv)
        groups: dict[Labels, list[tuple[Labels, float]]] = {}
        for labels, v in vec:
            if e.without:
                key = tuple(p for p in labels if p[0] != "__name__" and p[0] not in e.grouping)
            else:
                key = tuple(p for p in labels if p[0] in e.grouping)
            groups.setdefault(key, []).append((labels, v))
        out: Vector = []
        for key in sorted(groups):
            members = groups[key]
            vals = [v for _, v in members]
            if e.op == "sum":
                out.append((key, math.fsum(vals) if all(math.isfinite(x) for x in vals) else sum(vals)))
            elif e.op == "avg":
                total = math.fsum(vals) if all(math.isfinite(x) for x in vals) else sum(vals)
                out.append((key, total / len(vals)))
            elif e.op == "count":
                out.append((key, float(len(vals))))
            elif e.op == "group":
                out.append((key, 1.0))
            elif e.op in ("min", "max"):
                best = vals[0]
                for x in vals[1:]:
                    if best != best or (x < best if e.op == "min" else x > best):
                        best = x
                out.append((key, best))
            else:   # topk / bottomk keep the original series, labels and all
                if k < 1:
                    continue
                # NaN sorts last in both; ties keep input (label) order
                def rank(m: tuple[Labels, float], top: bool = e.op == "topk") -> tuple[int, float]:
                    v = m[1]
                    return (1, 0.0) if v != v else (0, -v if top else v)
                out.extend(sorted(members, key=rank)[:k])
        return out


def _range_function(f: str, ts: list[int], vs: list[float], start: int, end: int,
                    range_ms: int) -> float | None:
    if f in ("rate", "increase", "delta"):
        if len(ts) < 2:
            return None
        return _extrapolated_rate(ts, vs, 0, len(ts), start, end, range_ms, f != "delta", f == "rate")
    if f in ("irate", "idelta"):
        if len(ts) < 2:
            return None
        last, prev = vs[-1], vs[-2]
        if f == "idelta":
            return last - prev
        dt = (ts[-1] - ts[-2]) / 1000
        if dt == 0:
            return None
        return (last if last < prev else last - prev) / dt
    if f == "changes":
        return float(sum(1 for a, b in pairwise(vs) if a != b and not (a != a and b != b)))
    if f == "resets":
        return float(sum(1 for a, b in pairwise(vs) if b < a))
    if f == "count_over_time":
        return float(len(vs))
    if f == "sum_over_time":
        return math.fsum(vs) if all(math.isfinite(x) for x in vs) else sum(vs)
    if f == "avg_over_time":
        total = math.fsum(vs) if all(math.isfinite(x) for x in vs) else sum(vs)
        return total / len(vs)
    if f in ("min_over_time", "max_over_time"):
        best = vs[0]
        for x in vs[1:]:
            if best != best or (x < best if f == "min_over_time" else x > best):
                best = x
        return best
    if f == "last_over_time":
        return vs[-1]
    if f == "present_over_time":
        return 1.0
    if f in ("stddev_over_time", "stdvar_over_time"):
        mean = math.fsum(vs) / len(vs) if all(math.isfinite(x) for x in vs) else sum(vs) / len(vs)
        var = sum((x - mean) ** 2 for x in vs) / len(vs)
        return math.sqrt(var) if f == "stddev_over_time" else var
    raise AssertionError(f)


def _ln(v: float) -> float:
    if v != v:
        return v
    if v < 0:
        return math.nan
    return -math.inf if v == 0 else math.log(v)


def _sqrt(v: float) -> float:
    return math.nan if v < 0 else math.sqrt(v)


def _exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _round_fn(fn: Callable[[float], int]) -> Callable[[float], float]:
    return lambda v: v if (v != v or math.isinf(v)) else float(fn(v))


_MATH: dict[str, Callable[[float], float]] = {
    "abs": abs, "ceil": _round_fn(math.ceil), "floor": _round_fn(math.floor), "sqrt": _sqrt, "exp": _exp,
    "ln": _ln}


# ---- the public API ------------------------------------------------------------------------------
def _seconds(name: str, value: object) -> int:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds (got {value!r})")
    return round(value * 1000)


class Engine:
    """Queries over a :class:`TSDB`: ``instant(query, t)`` and ``range(query, start, end, step)``.

    ``lookback`` (seconds, default 300 -- Prometheus' ``--query.lookback-delta``) is how far back an
    instant selector looks for a sample.
    """

    def __init__(self, db: TSDB, *, lookback: float = DEFAULT_LOOKBACK):
        if not isinstance(db, TSDB):
            raise ValueError(f"db must be a distlib.monitoring.TSDB (got {db!r})")
        self.db = db
        self.lookback_ms = _seconds("lookback", lookback)
        if self.lookback_ms <= 0:
            raise ValueError(f"lookback must be a number of seconds > 0 (got {lookback!r})")

    def instant(self, query: str, t: float) -> Any:
        """The value of ``query`` at time ``t``: a float (scalar), a list of ``(labels, value)`` sorted
        by labels (instant vector), or ``{labels: [(t, v), ...]}`` for a range selector."""
        tree = parse(query)
        at = _seconds("t", t)
        ev = _Eval(self.db, query, at, at, self.lookback_ms)
        got = ev.eval(tree, at)
        if isinstance(got, float):
            return got
        if isinstance(got, str):
            raise PromQLError("a string is not a query result this subset returns", 0, query)
        if value_type(tree) == "matrix":
            return {lab: list(zip((x / 1000 for x in ts), vals, strict=True))
                    for lab, ts, vals in sorted(got)}
        _check_unique(got, ev, tree)
        return sorted(got)

    def range(self, query: str, start: float, end: float,
              step: float) -> dict[Labels, list[tuple[float, float]]]:
        """``query`` evaluated at ``start, start + step, ... <= end``: ``{labels: [(t, value), ...]}``
        (a scalar result is a series with no labels, as in Prometheus' range API)."""
        tree = parse(query)
        s_ms, e_ms, step_ms = _seconds("start", start), _seconds("end", end), _seconds("step", step)
        if e_ms < s_ms:
            raise ValueError(f"end must be >= start (got start={start!r}, end={end!r})")
        if step_ms <= 0:
            raise ValueError(f"step must be a number of seconds > 0 (got {step!r})")
        if value_type(tree) not in ("scalar", "vector"):
            raise PromQLError(f"a range query needs a scalar or instant-vector expression, not a "
                              f"{value_type(tree)}", 0, query)
        if (e_ms - s_ms) // step_ms > 11_000:
            raise ValueError("step must give at most 11,000 points per series, as in Prometheus "
                             f"(got {(e_ms - s_ms) // step_ms + 1})")
        ev = _Eval(self.db, query, s_ms, e_ms, self.lookback_ms)
        out: dict[Labels, list[tuple[float, float]]] = {}
        t = s_ms
        while t <= e_ms:
            got = ev.eval(tree, t)
            if isinstance(got, float):
                got = [((), got)]
            else:
                _check_unique(got, ev, tree)
            for lab, v in got:
                out.setdefault(lab, []).append((t / 1000, v))
            t += step_ms
        return {k: out[k] for k in sorted(out)}


def _check_unique(vec: Vector, ev: _Eval, tree: Expr) -> None:
    seen: set[Labels] = set()
    for lab, _ in vec:
        if lab in seen:
            raise ev.err(f"vector cannot contain metrics with the same labelset {dict(lab)}", tree)
        seen.add(lab)
