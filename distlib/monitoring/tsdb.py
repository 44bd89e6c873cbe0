"""An in-memory time-series database: Prometheus' data model with a Gorilla-compressed head.

A **series** is identified by its label set (the metric name is the label ``__name__``), written as a
sorted tuple of ``(name, value)`` pairs so that two equal label sets are one dict key. Samples are
``(t, value)`` with ``t`` in seconds (simulated time, a float) stored as integer milliseconds, like
Prometheus; each series keeps closed chunks of at most :data:`CHUNK_SAMPLES` samples (Prometheus cuts
head chunks at 120) plus one open chunk, all Gorilla-encoded (:mod:`distlib.monitoring.gorilla`).

Staleness (Prometheus docs, "Staleness"): when a scrape fails or a series vanishes from its target, the
scraper appends :data:`STALE_NAN`, a NaN with a reserved bit pattern; queries treat it as "no value
from here on" (:func:`is_stale`), never as a number.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping

from .gorilla import ChunkEncoder, bits_float, decode_chunk, float_bits

STALE_BITS = 0x7FF0000000000002
STALE_NAN = bits_float(STALE_BITS)
CHUNK_SAMPLES = 120

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

Labels = tuple[tuple[str, str], ...]


def is_stale(value: float) -> bool:
    """True for the staleness marker (an ordinary NaN is a value, not a marker)."""
    return value != value and float_bits(value) == STALE_BITS


def labels_of(labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """A label set as the canonical sorted tuple, checking names (``ValueError`` naming ``labels``).

    Empty values are dropped: in Prometheus a label with an empty value is the same as no label.
    """
    items = list(labels.items()) if isinstance(labels, Mapping) else list(labels)
    out: dict[str, str] = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"labels must map label names to strings (got {labels!r})")
        name, value = item
        if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
            raise ValueError(f"labels must use names matching [a-zA-Z_][a-zA-Z0-9_]* (got {name!r})")
        if not isinstance(value, str):
            raise ValueError(f"labels must map label names to strings (got {name}={value!r})")
        if name == "__name__" and not METRIC_NAME_RE.match(value):
            raise ValueError(f"labels must give a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]* "
                             f"(got {value!r})")
        if name in out:
            raise ValueError(f"labels must not repeat a label name (got {name!r} twice)")
        if value != "":
            out[name] = value
    return tuple(sorted(out.items()))


def format_labels(labels: Labels) -> str:
    """``name{a="1", b="2"}`` -- the PromQL way of writing a series."""
    name = ""
    rest = []
    for k, v in labels:
        if k == "__name__":
            name = v
        else:
            escaped = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            rest.append(f'{k}="{escaped}"')
    return f"{name}{{{', '.join(rest)}}}" if rest or not name else name


class Series:
    """One series' samples: closed Gorilla chunks plus an open one (and a decoded cache per chunk)."""

    __slots__ = ("labels", "chunks", "_open", "_cache", "_last_t")

    def __init__(self, labels: Labels):
        self.labels = labels
        self.chunks: list[tuple[bytes, int, int, int]] = []    # (data, count, first_t, last_t)
        self._open = ChunkEncoder()
        self._cache: dict[int, tuple[list[int], list[float]]] = {}
        self._last_t: int | None = None

    def append(self, t_ms: int, value: float) -> None:
        if self._last_t is not None and t_ms <= self._last_t:
            raise ValueError(f"t must be after the series' last sample at {self._last_t / 1000:g}s "
                             f"(out of order for {format_labels(self.labels)}; got {t_ms / 1000:g}s)")
        if self._open.count >= CHUNK_SAMPLES:
            self.chunks.append((self._open.to_bytes(), self._open.count, self._open.first_t,
                                self._open.last_t))
            self._open = ChunkEncoder()
        self._open.append(t_ms, value)
        self._last_t = t_ms
        self._cache.pop(len(self.chunks), None)

    @property
    def count(self) -> int:
        return sum(c[1] for c in self.chunks) + self._open.count

    @property
    def nbytes(self) -> int:
        """Compressed size: chunk payloads only (the paper's bytes/sample counts the stream)."""
        return sum(len(c[0]) for c in self.chunks) + self._open.nbytes

    def _decoded(self, i: int) -> tuple[list[int], list[float]]:
        got = self._cache.get(i)
        if got is None:
            if i < len(self.chunks):
                data, count, _, _ = self.chunks[i]
            else:
                data, count = self._open.to_bytes(), self._open.count
            got = self._cache[i] = decode_chunk(data, count)
        return got

    def samples(self, mint_ms: int | None = None,
                maxt_ms: int | None = None) -> tuple[list[int], list[float]]:
        """Samples with ``mint <= t <= maxt`` (ms, inclusive both ends), decoded from their chunks."""
        ts: list[int] = []
        vs: list[float] = []
        bounds = [(c[2], c[3]) for c in self.chunks]
        if self._open.count:
            bounds.append((self._open.first_t, self._open.last_t))
        for i, (lo, hi) in enumerate(bounds):
            if (maxt_ms is not None and lo > maxt_ms) or (mint_ms is not None and hi < mint_ms):
                continue
            cts, cvs = self._decoded(i)
            a = 0 if mint_ms is None else bisect_left(cts, mint_ms)
            b = len(cts) if maxt_ms is None else bisect_right(cts, maxt_ms)
            ts.extend(cts[a:b])
            vs.extend(cvs[a:b])
        return ts, vs


class TSDB:
    """Series by label set; ``append`` / ``select`` / bytes-per-sample accounting."""

    def __init__(self) -> None:
        self.series: dict[Labels, Series] = {}

    def append(self, labels: Mapping[str, str] | Labels, t: float, value: float) -> None:
        """Add one sample; ``t`` in seconds. Out-of-order samples raise ``ValueError`` (Prometheus
        rejects them too), so a scraper bug cannot silently reorder history."""
        key = labels if isinstance(labels, tuple) and _is_canonical(labels) else labels_of(labels)
        if not any(k == "__name__" for k, _ in key):
            raise ValueError(f"labels must include __name__ (the metric name) (got {labels!r})")
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise ValueError(f"t must be a finite number of seconds (got {t!r})")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"value must be a float (got {value!r})")
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series(key)
        series.append(round(t * 1000), float(value))

    def select(self, matchers: Iterable) -> list[Series]:
        """Series whose labels satisfy every matcher (objects with ``matches(labels_dict)``), sorted."""
        ms = list(matchers)
        out = []
        for key in sorted(self.series):
            d = dict(key)
            if all(m.matches(d) for m in ms):
                out.append(self.series[key])
        return out

    @property
    def sample_count(self) -> int:
        return sum(s.count for s in self.series.values())

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.series.values())

    def bytes_per_sample(self) -> float:
        """Compressed bytes per sample over every series (Gorilla paper: 1.37 on Facebook's data)."""
        n = self.sample_count
        return self.nbytes / n if n else math.nan

    def raw_samples(self) -> dict[Labels, tuple[list[int], list[float]]]:
        """Every series' samples (ms, values), keys sorted: for exports and tests."""
        return {k: self.series[k].samples() for k in sorted(self.series)}

    def to_openmetrics(self, *, skip_stale: bool = True) -> str:
        """The whole database as OpenMetrics text (timestamps in seconds, ``# EOF`` last): the input of
        ``promtool tsdb create-blocks-from openmetrics``. OpenMetrics cannot carry staleness markers,
        so they are left out (``skip_stale``); every series is written as an untyped metric."""
        lines: list[str] = []
        by_name: dict[str, list[Labels]] = {}
        for key in sorted(self.series):
            by_name.setdefault(dict(key)["__name__"], []).append(key)
        for name in sorted(by_name):
            for key in by_name[name]:
                ts, vs = self.series[key].samples()
                rest = [(k, v) for k, v in key if k != "__name__"]
                lab = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in rest) + "}" if rest else ""
                for t, v in zip(ts, vs, strict=True):
                    if skip_stale and is_stale(v):
                        continue
                    lines.append(f"{name}{lab} {_fmt_value(v)} {_fmt_ts(t)}")
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_samples(cls, samples: Mapping[Labels, tuple[Iterable[int], Iterable[float]]]) -> TSDB:
        """A database holding ``{labels: (times ms, values)}`` (e.g. another one's ``raw_samples()``)."""
        db = cls()
        for key in sorted(samples):
            ts, vs = samples[key]
            for t, v in zip(ts, vs, strict=True):
                db.append(key, t / 1000, v)
        return db


def _is_canonical(labels: tuple) -> bool:
    return all(isinstance(p, tuple) and len(p) == 2 for p in labels) and list(labels) == sorted(labels) \
        and len({k for k, _ in labels}) == len(labels)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt_value(v: float) -> str:
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _fmt_ts(t_ms: int) -> str:
    sec, ms = divmod(t_ms, 1000)
    return f"{sec}.{ms:03d}" if ms else str(sec)
