"""A simulated Prometheus server: pulls ``/metrics`` from every target over the simulated network.

The server is a client endpoint of the world (default name ``"prometheus"``), so a partition can cut it
off from the nodes it watches -- monitoring is a distributed system too. Every ``interval`` seconds of
simulated time it re-reads the target list (service discovery: by default every node of the world) and
scrapes each target with a timeout. A scrape at ``t0`` writes, all with timestamp ``t0``:

* the target's samples, with the target labels ``job`` and ``instance`` added (a scraped label with one
  of those names is kept as ``exported_job`` / ``exported_instance``, as with ``honor_labels: false``);
* ``up`` (1 or 0), ``scrape_duration_seconds`` and ``scrape_samples_scraped``;
* a **staleness marker** for every series the target exposed last time but not now -- all of them when
  the scrape failed, and, when a target leaves service discovery, for its ``up`` series too.

A failed scrape (timeout, an HTTP error, garbage that does not parse) never stops the server: ``up`` is
0 and :meth:`MonitoringServer.targets` says why, like Prometheus' targets page. Unlike Prometheus,
which spreads targets over the interval, every target is scraped at the same instants (simpler
figures; nothing here depends on it). ``*_created`` samples are ignored: prometheus_client fills them
from the wall clock, which has no meaning in simulated time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from distlib.sim import World
from distlib.sim.validate import number

from .instrument import ScrapeReply, ScrapeRequest
from .tsdb import STALE_NAN, TSDB, Labels, labels_of


@dataclass
class TargetHealth:
    """The last scrape of one target (Prometheus' /api/v1/targets entry)."""

    instance: str
    up: bool = False
    last_scrape: float | None = None
    last_duration: float | None = None
    last_error: str = ""
    scrapes: int = 0
    failures: int = 0


_SAMPLE_RE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*")
_LABEL_RE = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*(?:,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf}


def parse_exposition(body: str) -> list[tuple[str, dict[str, str], float]]:
    """``(name, labels, value)`` for every sample of a Prometheus text exposition (format 0.0.4);
    ``ValueError`` naming the line if it is not one. Comment lines (``# HELP``, ``# TYPE``) are skipped,
    and so are ``*_created`` samples (see the module doc). Our own parser: prometheus_client's reads
    character by character and was most of a scrape's cost."""
    if not isinstance(body, str):
        raise ValueError(f"body must be text (got {type(body).__name__})")
    out = []
    for no, line in enumerate(body.split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _SAMPLE_RE.fullmatch(line)
        if m is None:
            raise ValueError(f"body is not a Prometheus text exposition (line {no}: {line[:60]!r})")
        name, labeltext, value = m.group(1), m.group(2), m.group(3)
        if name.endswith("_created"):
            continue
        labels: dict[str, str] = {}
        if labeltext:
            pos = 0
            while pos < len(labeltext):
                lm = _LABEL_RE.match(labeltext, pos)
                if lm is None or lm.end() == pos:
                    raise ValueError(f"body is not a Prometheus text exposition (line {no}: bad labels)")
                labels[lm.group(1)] = re.sub(r'\\[\\"n]', lambda e: _UNESCAPE[e.group()], lm.group(2))
                pos = lm.end()
        if value in _SPECIAL:
            v = _SPECIAL[value]
        elif _NUMBER_RE.fullmatch(value):
            v = float(value)
        else:
            raise ValueError(f"body is not a Prometheus text exposition (line {no}: value {value!r})")
        out.append((name, labels, v))
    return out


class MonitoringServer:
    """Scrapes, stores into :attr:`db` (a :class:`TSDB`), evaluates rule groups, sends alerts on.

    ``interval``/``timeout`` are seconds of simulated time (timeout <= interval, as Prometheus
    requires); ``targets`` is a zero-argument callable returning node names (default: the world's
    nodes, re-read every interval).
    """

    def __init__(self, world: World, *, name: str = "prometheus", job: str = "raft", interval: float = 15.0,
                 timeout: float = 10.0, targets: Callable[[], list[str]] | None = None,
                 db: TSDB | None = None):
        if not isinstance(world, World):
            raise ValueError(f"world must be a distlib.sim.World (got {world!r})")
        self.world = world
        self.interval = number("interval", interval, above=True)
        self.timeout = number("timeout", timeout, 0.0, self.interval, above=True)
        if not isinstance(job, str) or not job:
            raise ValueError(f"job must be a non-empty string (got {job!r})")
        if targets is not None and not callable(targets):
            raise ValueError(f"targets must be a zero-argument callable returning node names "
                             f"(got {targets!r})")
        if db is not None and not isinstance(db, TSDB):
            raise ValueError(f"db must be a distlib.monitoring.TSDB (got {db!r})")
        self.job = job
        self.name = name
        self.client = world.client(name)
        self.db = db if db is not None else TSDB()
        self._targets_fn = targets or (lambda: list(world.nodes))
        self.health: dict[str, TargetHealth] = {}
        self._last_series: dict[str, set[Labels]] = {}
        self._active: dict[str, Any] = {}
        self.rule_groups: list[Any] = []
        self._started = False

    # ---- the scrape loop ------------------------------------------------------------------------
    def start(self) -> MonitoringServer:
        """Start discovery and scraping at the world's current time (idempotent); returns self."""
        if not self._started:
            self._started = True
            self.world.process(self._discovery())
            for group in self.rule_groups:
                self.world.process(group.run(self))
        return self

    def add_rules(self, group: Any) -> None:
        """Evaluate a :class:`~distlib.monitoring.rules.RuleGroup` against this server's database."""
        from .rules import RuleGroup
        if not isinstance(group, RuleGroup):
            raise ValueError(f"group must be a distlib.monitoring.RuleGroup (got {group!r})")
        self.rule_groups.append(group)
        if self._started:
            self.world.process(group.run(self))

    def _discovery(self) -> Generator[Any, Any, None]:
        env = self.world.env
        while True:
            now = env.now
            wanted = list(self._targets_fn())
            for name in wanted:
                if name not in self._active:
                    self.health.setdefault(name, TargetHealth(name))
                    self._active[name] = True
                    self.world.process(self._scrape_loop(name, now))
            for name in list(self._active):
                if name not in wanted:
                    del self._active[name]
                    self._vanish(name, now)
            yield env.timeout(self.interval)

    def _vanish(self, name: str, t: float) -> None:
        """A target left service discovery: every series it had, ``up`` included, goes stale."""
        for key in sorted(self._last_series.pop(name, set())):
            self.db.append(key, t, STALE_NAN)
        for meta in ("up", "scrape_duration_seconds", "scrape_samples_scraped"):
            key = labels_of({"__name__": meta, "job": self.job, "instance": name})
            if key in self.db.series:
                self.db.append(key, t, STALE_NAN)
        self.health.pop(name, None)

    def _scrape_loop(self, name: str, first: float) -> Generator[Any, Any, None]:
        env = self.world.env
        t0 = first
        while name in self._active:
            yield from self._scrape(name, t0)
            t0 += self.interval
            if t0 > env.now:
                yield env.timeout(t0 - env.now)
            if name not in self._active:
                return

    def _scrape(self, name: str, t0: float) -> Generator[Any, Any, None]:
        req = ScrapeRequest(self.client.next_id())
        reply = yield from self.client.call(name, req, timeout=self.timeout)
        if name not in self._active:
            return                                 # left discovery while we waited: nothing to write
        duration = self.world.now - t0
        samples: list[tuple[Labels, float]] = []
        error = ""
        if reply is None:
            error = f"timeout: no answer within {self.timeout:g}s"
        elif not isinstance(reply, ScrapeReply) or reply.status != 200:
            error = f"HTTP {getattr(reply, 'status', '?')}: {getattr(reply, 'body', '')!s}".strip()
        else:
            try:
                samples = self._relabel(name, parse_exposition(reply.body))
            except ValueError as exc:
                error = str(exc)
                samples = []
        h = self.health[name]
        h.scrapes += 1
        h.last_scrape, h.last_duration = t0, duration
        h.up, h.last_error = not error, error
        if error:
            h.failures += 1
        previous = self._last_series.get(name, set())
        now_keys = {k for k, _ in samples}
        for key in sorted(previous - now_keys):
            self.db.append(key, t0, STALE_NAN)
        for key, value in samples:
            self.db.append(key, t0, value)
        self._last_series[name] = now_keys
        base = {"job": self.job, "instance": name}
        self.db.append(labels_of({"__name__": "up", **base}), t0, 0.0 if error else 1.0)
        self.db.append(labels_of({"__name__": "scrape_duration_seconds", **base}), t0, duration)
        self.db.append(labels_of({"__name__": "scrape_samples_scraped", **base}), t0, float(len(samples)))

    def _relabel(self, name: str, raw: list[tuple[str, dict[str, str], float]]) -> list[tuple[Labels, float]]:
        out: dict[Labels, float] = {}
        for metric, labels, value in raw:
            lab = dict(labels)
            for target_label in ("job", "instance"):
                if target_label in lab:
                    lab[f"exported_{target_label}"] = lab.pop(target_label)
            lab.update({"__name__": metric, "job": self.job, "instance": name})
            key = labels_of(lab)
            if key in out:
                raise ValueError(f"body repeats the series {metric}{labels}")
            out[key] = value
        return sorted(out.items())

    def targets(self) -> list[TargetHealth]:
        """Health of every active target, by name."""
        return [self.health[n] for n in sorted(self.health)]
