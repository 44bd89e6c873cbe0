"""Recording and alerting rules (Prometheus rule files) and a minimal Alertmanager.

Rule files use Prometheus' YAML (``groups: [{name, interval, rules: [{record|alert, expr, for, labels,
annotations}]}]``); :func:`load_rules` refuses invalid YAML, unknown fields, bad names and a ``for``
that is not a duration, with a ``ValueError`` naming the field.

An alerting rule's instances (one per output label set) move **inactive -> pending -> firing ->
resolved**: a new result is *pending* (``for: 0`` fires at once); it *fires* once it has been present
for ``for`` at every evaluation since it appeared; when it disappears, a pending alert is dropped and a
firing one is *resolved*. Like Prometheus, each evaluation writes ``ALERTS{alertname, alertstate, ...}``
= 1 for every pending/firing instance (staleness markers when one goes away), and hands every
firing or just-resolved alert to the Alertmanager.

:class:`Alertmanager` groups alerts by ``group_by`` labels, waits ``group_wait`` before a group's
first notification, sends changes no sooner than ``group_interval`` after the last one and repeats an
unchanged group every ``repeat_interval``; it drops duplicates (same label set), inhibition targets and
silenced alerts. Notifications are :class:`Notification` trace records (and a list). Its timers are
checked after each rule evaluation, so send times fall on evaluation ticks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

from distlib.sim import Record, World
from distlib.sim.validate import number

from .promql import Engine, PromQLError, parse, parse_duration, value_type
from .tsdb import LABEL_NAME_RE, METRIC_NAME_RE, STALE_NAN, Labels, format_labels, labels_of

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"


@dataclass(frozen=True, slots=True)
class Notification(Record):
    """An Alertmanager notification: one group's firing and resolved alerts."""

    receiver: str
    group: Labels
    firing: tuple[Labels, ...]
    resolved: tuple[Labels, ...]

    def describe(self) -> str:
        g = ",".join(f"{k}={v}" for k, v in self.group) or "*"
        return (f"alertmanager -> {self.receiver}  NOTIFY [{g}] firing={len(self.firing)} "
                f"resolved={len(self.resolved)}")


@dataclass
class Alert:
    """One instance of an alerting rule."""

    labels: Labels
    annotations: dict[str, str]
    state: str
    active_at: float
    value: float
    fired_at: float | None = None
    resolved_at: float | None = None


def go_float(v: float) -> str:
    """``v`` as Go's ``%v`` prints a float64 (shortest digits; exponent form below 1e-4 or from 1e6),
    which is how Prometheus renders ``{{ $value }}`` in annotations."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    sign, digits, exp = Decimal(repr(v)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    dp = len(digits) + int(exp)              # position of the decimal point after the first digit run
    x = dp - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:          # strconv.FormatFloat(v, 'g', -1, 64): shortest digits, eprec 6
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return f"{neg}{ds}{'0' * (dp - len(ds))}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def _template(text: str, labels: Labels, value: float) -> str:
    """Prometheus' common template forms: ``{{ $labels.x }}``, ``{{ $value }}``, ``{{ $labels }}``."""
    d = dict(labels)

    def sub(m: re.Match) -> str:
        what = m.group(1).strip()
        if what == "$value":
            return go_float(value)
        if what.startswith("$labels."):
            return d.get(what[len("$labels."):], "")
        raise ValueError(f"annotations must use only {{{{ $labels.<name> }}}} and {{{{ $value }}}} "
                         f"(got {{{{ {what} }}}})")
    return re.sub(r"\{\{(.*?)\}\}", sub, text)


def _label_map(where: str, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must map label names to strings (got {value!r})")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not LABEL_NAME_RE.match(k):
            raise ValueError(f"{where} must use label names matching [a-zA-Z_][a-zA-Z0-9_]* (got {k!r})")
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise ValueError(f"{where} must map label names to strings (got {k}={v!r})")
        out[k] = str(v)
    return out


def _check_expr(where: str, expr: object) -> str:
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"{where} must be a PromQL expression string (got {expr!r})")
    try:
        tree = parse(expr)
    except PromQLError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if value_type(tree) not in ("vector", "scalar"):
        raise ValueError(f"{where} must give an instant vector or a scalar (got a {value_type(tree)})")
    return expr


def _seconds(where: str, value: object) -> float:
    if isinstance(value, str):
        try:
            return parse_duration(value) / 1000
        except ValueError:
            pass
    raise ValueError(f"{where} must be a duration such as 30s, 5m or 1h30m (got {value!r})")


class RecordingRule:
    """``record: name`` / ``expr``: the result is stored as a new series named ``name``."""

    def __init__(self, record: str, expr: str, labels: Mapping[str, str] | None = None):
        if not isinstance(record, str) or not METRIC_NAME_RE.match(record):
            raise ValueError(f"record must be a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]* "
                             f"(got {record!r})")
        self.name = record
        self.expr = _check_expr("expr", expr)
        self.labels = _label_map("labels", labels)
        self._last: set[Labels] = set()

    def evaluate(self, engine: Engine, t: float) -> list[tuple[Labels, float]]:
        got = engine.instant(self.expr, t)
        vec = [((), got)] if isinstance(got, float) else got
        out = {}
        for lab, v in vec:
            d = dict(lab)
            d.update(self.labels)
            d["__name__"] = self.name
            out[labels_of(d)] = v
        return sorted(out.items())


class AlertingRule:
    """``alert: name`` / ``expr`` / ``for`` / ``labels`` / ``annotations``."""

    def __init__(self, alert: str, expr: str, for_: float | str = 0.0,
                 labels: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None):
        if not isinstance(alert, str) or not LABEL_NAME_RE.match(alert):
            raise ValueError(f"alert must be a name matching [a-zA-Z_][a-zA-Z0-9_]* (got {alert!r})")
        self.name = alert
        self.expr = _check_expr("expr", expr)
        if isinstance(for_, str):
            self.for_ = _seconds("for", for_)
        else:
            self.for_ = number("for", for_)
        self.labels = _label_map("labels", labels)
        ann = _label_map("annotations", annotations)
        for text in ann.values():
            _template(text, (), 0.0)                 # refuse unsupported template syntax now
        self.annotations = ann
        self.active: dict[Labels, Alert] = {}
        self.transitions: list[tuple[float, Labels, str, str]] = []   # (t, labels, from, to)

    def evaluate(self, engine: Engine, t: float) -> list[Alert]:
        """One evaluation at ``t``: update states; returns the alerts that just resolved."""
        got = engine.instant(self.expr, t)
        vec = [((), got)] if isinstance(got, float) else got
        seen: dict[Labels, float] = {}
        for lab, v in vec:
            d = {k: x for k, x in lab if k != "__name__"}
            d.update(self.labels)
            d["alertname"] = self.name
            key = labels_of(d)
            if key in seen:
                raise ValueError(f"expr gives two results with the labels {format_labels(key)} once the "
                                 f"rule's labels are applied")
            seen[key] = v
        resolved = []
        for key, v in seen.items():
            a = self.active.get(key)
            if a is None or a.state == RESOLVED:
                ann = {k: _template(x, key, v) for k, x in self.annotations.items()}
                a = self.active[key] = Alert(key, ann, PENDING, t, v)
                self.transitions.append((t, key, INACTIVE, PENDING))
            a.value = v
            a.annotations = {k: _template(x, key, v) for k, x in self.annotations.items()}
            if a.state == PENDING and t - a.active_at >= self.for_:
                a.state, a.fired_at = FIRING, t
                self.transitions.append((t, key, PENDING, FIRING))
        for key in sorted(self.active):
            a = self.active[key]
            if key in seen or a.state == RESOLVED:
                continue
            if a.state == PENDING:
                del self.active[key]
                self.transitions.append((t, key, PENDING, INACTIVE))
            else:
                a.state, a.resolved_at = RESOLVED, t
                self.transitions.append((t, key, FIRING, RESOLVED))
                resolved.append(a)
        for key in [k for k, a in self.active.items() if a.state == RESOLVED and a not in resolved]:
            del self.active[key]
        return resolved

    def firing(self) -> list[Alert]:
        return [self.active[k] for k in sorted(self.active) if self.active[k].state == FIRING]

    def pending(self) -> list[Alert]:
        return [self.active[k] for k in sorted(self.active) if self.active[k].state == PENDING]


class RuleGroup:
    """Rules evaluated in order every ``interval`` seconds (a recording rule's output is visible to
    the rules after it in the same evaluation, as in Prometheus)."""

    def __init__(self, name: str, rules: Iterable[RecordingRule | AlertingRule], *, interval: float = 15.0,
                 alertmanager: Alertmanager | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string (got {name!r})")
        self.name = name
        self.rules = list(rules)
        for r in self.rules:
            if not isinstance(r, (RecordingRule, AlertingRule)):
                raise ValueError(f"rules must be RecordingRule or AlertingRule objects (got {r!r})")
        self.interval = number("interval", interval, above=True)
        if alertmanager is not None and not isinstance(alertmanager, Alertmanager):
            raise ValueError(f"alertmanager must be a distlib.monitoring.Alertmanager (got {alertmanager!r})")
        self.alertmanager = alertmanager
        self._alert_series: set[Labels] = set()

    def evaluate(self, engine: Engine, t: float) -> None:
        """Evaluate every rule at ``t``, writing results and ``ALERTS`` into ``engine.db``."""
        db = engine.db
        alerts_now: set[Labels] = set()
        to_send: list[Alert] = []
        for rule in self.rules:
            if isinstance(rule, RecordingRule):
                got = rule.evaluate(engine, t)
                keys = {k for k, _ in got}
                for k in sorted(rule._last - keys):
                    db.append(k, t, STALE_NAN)
                for k, v in got:
                    db.append(k, t, v)
                rule._last = keys
            else:
                resolved = rule.evaluate(engine, t)
                for a in rule.pending() + rule.firing():
                    key = labels_of({**dict(a.labels), "__name__": "ALERTS", "alertstate": a.state})
                    alerts_now.add(key)
                    db.append(key, t, 1.0)
                to_send.extend(rule.firing() + resolved)
        for k in sorted(self._alert_series - alerts_now):
            db.append(k, t, STALE_NAN)
        self._alert_series = alerts_now
        if self.alertmanager is not None:
            self.alertmanager.receive(to_send, t)

    def run(self, server: Any) -> Generator[Any, Any, None]:
        """The SimPy process a :class:`~distlib.monitoring.scrape.MonitoringServer` runs."""
        env = server.world.env
        engine = Engine(server.db)
        while True:
            yield env.timeout(self.interval)
            self.evaluate(engine, env.now)
            if self.alertmanager is not None:
                self.alertmanager.flush(env.now)

    def alerting_rules(self) -> list[AlertingRule]:
        return [r for r in self.rules if isinstance(r, AlertingRule)]


_RULE_FIELDS = {"record", "alert", "expr", "for", "labels", "annotations"}
_GROUP_FIELDS = {"name", "interval", "rules"}


def load_rules(text: str, *, alertmanager: Alertmanager | None = None) -> list[RuleGroup]:
    """Rule groups from a Prometheus rule file's YAML text."""
    if not isinstance(text, str):
        raise ValueError(f"text must be the YAML text of a rule file (got {type(text).__name__})")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"text is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"groups"} or not isinstance(doc["groups"], list):
        raise ValueError(f"text must be a mapping with the single key 'groups' holding a list (got {doc!r})")
    out = []
    names = set()
    for gi, g in enumerate(doc["groups"]):
        where = f"groups[{gi}]"
        if not isinstance(g, dict):
            raise ValueError(f"{where} must be a mapping (got {g!r})")
        unknown = sorted(set(g) - _GROUP_FIELDS)
        if unknown:
            raise ValueError(f"{where} has the unknown field {unknown[0]!r} (allowed: name, interval, rules)")
        name = g.get("name")
        if not isinstance(name, str) or not name or name in names:
            raise ValueError(f"{where}.name must be a non-empty string unique in the file (got {name!r})")
        names.add(name)
        interval = _seconds(f"{where}.interval", g["interval"]) if "interval" in g else 15.0
        rules_in = g.get("rules")
        if not isinstance(rules_in, list):
            raise ValueError(f"{where}.rules must be a list (got {rules_in!r})")
        rules: list[RecordingRule | AlertingRule] = []
        for ri, r in enumerate(rules_in):
            rw = f"{where}.rules[{ri}]"
            if not isinstance(r, dict):
                raise ValueError(f"{rw} must be a mapping (got {r!r})")
            unknown = sorted(set(r) - _RULE_FIELDS)
            if unknown:
                raise ValueError(f"{rw} has the unknown field {unknown[0]!r} "
                                 f"(allowed: {', '.join(sorted(_RULE_FIELDS))})")
            if ("record" in r) == ("alert" in r):
                raise ValueError(f"{rw} must have exactly one of 'record' and 'alert'")
            try:
                if "record" in r:
                    for bad in ("for", "annotations"):
                        if bad in r:
                            raise ValueError(f"{bad!r} is only allowed in alerting rules")
                    rules.append(RecordingRule(r["record"], r.get("expr"), r.get("labels")))
                else:
                    rules.append(AlertingRule(r["alert"], r.get("expr"),
                                              _seconds("for", r["for"]) if "for" in r else 0.0,
                                              r.get("labels"), r.get("annotations")))
            except ValueError as exc:
                raise ValueError(f"{rw}.{exc}") from None
        out.append(RuleGroup(name, rules, interval=interval, alertmanager=alertmanager))
    return out


# ---- Alertmanager -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Silence:
    """Mute alerts whose labels equal ``matchers`` from ``start`` until ``end`` (seconds)."""

    matchers: tuple[tuple[str, str], ...]
    start: float
    end: float

    def mutes(self, labels: Labels, t: float) -> bool:
        d = dict(labels)
        return self.start <= t < self.end and all(d.get(k) == v for k, v in self.matchers)


@dataclass
class _Group:
    key: Labels
    created: float
    alerts: dict[Labels, Alert] = field(default_factory=dict)
    last_sent: float | None = None
    sent_firing: tuple[Labels, ...] = ()
    resolved_pending: dict[Labels, Alert] = field(default_factory=dict)


class Alertmanager:
    """Grouping, deduplication, inhibition and silences; notifications as trace records.

    ``inhibit_rules`` are ``(source_labels, target_labels, equal)``: while an alert whose labels include
    ``source_labels`` fires, alerts including ``target_labels`` that agree on every ``equal`` label are
    muted (e.g. "cluster has no quorum" inhibits "node lags").
    """

    def __init__(self, world: World | None = None, *, receiver: str = "team",
                 group_by: Iterable[str] = ("alertname",), group_wait: float = 30.0,
                 group_interval: float = 300.0, repeat_interval: float = 3600.0,
                 inhibit_rules: Iterable[tuple[Mapping[str, str], Mapping[str, str], Iterable[str]]] = ()):
        if world is not None and not isinstance(world, World):
            raise ValueError(f"world must be a distlib.sim.World or None (got {world!r})")
        self.world = world
        if not isinstance(receiver, str) or not receiver:
            raise ValueError(f"receiver must be a non-empty name (got {receiver!r})")
        self.receiver = receiver
        gb = tuple(group_by) if not isinstance(group_by, str) else None
        if gb is None or any(not isinstance(x, str) or not LABEL_NAME_RE.match(x) for x in gb):
            raise ValueError(f"group_by must be a list of label names (got {group_by!r})")
        self.group_by = gb
        self.group_wait = number("group_wait", group_wait)
        self.group_interval = number("group_interval", group_interval, above=True)
        self.repeat_interval = number("repeat_interval", repeat_interval, above=True)
        self.inhibit_rules = []
        for rule in inhibit_rules:
            if not (isinstance(rule, tuple) and len(rule) == 3):
                raise ValueError(f"inhibit_rules must hold (source_labels, target_labels, equal) triples "
                                 f"(got {rule!r})")
            src, dst, eq = rule
            self.inhibit_rules.append((_label_map("inhibit source", src), _label_map("inhibit target", dst),
                                       tuple(eq)))
        self.silences: list[Silence] = []
        self.groups: dict[Labels, _Group] = {}
        self.notifications: list[Notification] = []
        self.received = 0

    def silence(self, matchers: Mapping[str, str], start: float, end: float) -> Silence:
        """Add a silence (equality matchers) active in ``[start, end)``."""
        m = _label_map("matchers", matchers)
        if not m:
            raise ValueError("matchers must name at least one label (a silence of everything is refused)")
        lo = number("start", start)
        s = Silence(tuple(sorted(m.items())), lo, number("end", end, lo))
        self.silences.append(s)
        return s

    def _muted(self, a: Alert, firing: list[Alert], t: float) -> bool:
        if any(s.mutes(a.labels, t) for s in self.silences):
            return True
        d = dict(a.labels)
        for src, dst, eq in self.inhibit_rules:
            if not all(d.get(k) == v for k, v in dst.items()):
                continue
            for other in firing:
                od = dict(other.labels)
                if other is a or not all(od.get(k) == v for k, v in src.items()):
                    continue
                if all(od.get(k) == d.get(k) for k in eq):
                    return True
        return False

    def receive(self, alerts: list[Alert], t: float) -> None:
        """Alerts from one rule evaluation (firing ones and those that just resolved)."""
        self.received += len(alerts)
        firing = [a for a in alerts if a.state == FIRING]
        for a in alerts:
            key = tuple((k, v) for k, v in a.labels if k in self.group_by)
            g = self.groups.get(key)
            if g is None:
                if a.state != FIRING:
                    continue
                g = self.groups[key] = _Group(key, t)
            if a.state == RESOLVED:
                if a.labels in g.alerts:
                    del g.alerts[a.labels]
                    g.resolved_pending[a.labels] = a
            elif not self._muted(a, firing, t):
                g.alerts[a.labels] = a                 # dedup: one entry per label set
            else:
                g.alerts.pop(a.labels, None)

    def flush(self, t: float) -> list[Notification]:
        """Send what is due at ``t``; returns the notifications sent."""
        sent = []
        for key in sorted(self.groups):
            g = self.groups[key]
            firing = tuple(sorted(g.alerts))
            changed = firing != g.sent_firing or bool(g.resolved_pending)
            if g.last_sent is None:
                due = firing and t >= g.created + self.group_wait
            elif changed:
                due = t >= g.last_sent + self.group_interval
            else:
                due = firing and t >= g.last_sent + self.repeat_interval
            if not due:
                continue
            n = Notification(t, self.receiver, key, firing, tuple(sorted(g.resolved_pending)))
            g.last_sent, g.sent_firing = t, firing
            g.resolved_pending = {}
            sent.append(n)
            if not firing:
                del self.groups[key]
        for n in sent:
            self.notifications.append(n)
            if self.world is not None:
                self.world.trace.append(n)
        return sent
