"""The real Prometheus beside the simulator: backfill a data set, start a server, ask its HTTP API.

Observed on this machine (``../shared/ENGINE-FIELD-NOTES.md`` §2): Debian's ``prometheus`` 2.42 is
started with two-dash flags (``--config.file``; the seed article's one-dash ``-config.file`` fails),
``/-/ready`` answers within 0.1 s, blocks written before start are queryable at once, blocks written
while it runs only after a minute -- so :func:`backfill` runs *before* :class:`PrometheusServer` starts.
Retention counts from the newest block, so a long ``retention`` keeps a backfilled past.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from distlib.childserver import ChildServer, free_port  # noqa: F401 (free_port: re-export)

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def available() -> bool:
    """True if Debian's ``prometheus`` and ``promtool`` are installed."""
    return os.access(PROMETHEUS, os.X_OK) and os.access(PROMTOOL, os.X_OK)


def backfill(openmetrics: str, data_dir: str | Path) -> str:
    """``promtool tsdb create-blocks-from openmetrics`` into ``data_dir``; returns promtool's output.

    promtool silently drops out-of-order samples and reads timestamps as seconds; the text should come
    from :meth:`TSDB.to_openmetrics`, which writes both correctly.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".om", delete=False) as f:
        f.write(openmetrics)
        path = f.name
    try:
        out = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", path, str(data_dir)],
                             capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(path)
    if out.returncode != 0:
        raise RuntimeError(f"promtool create-blocks-from failed ({out.returncode}): "
                           f"{out.stderr or out.stdout}")
    return out.stdout


class PrometheusServer(ChildServer):
    """A ``prometheus`` child process on 127.0.0.1:<free port> with its own config and storage dir.

    Use as a context manager (:class:`~distlib.childserver.ChildServer`); ``stop()`` sends SIGTERM and
    waits. ``scrape_configs`` is a list of Prometheus scrape_config mappings (default none: a query-only
    server over backfilled data).
    """

    name = "prometheus"

    def __init__(self, data_dir: str | Path | None = None, *, scrape_configs: list[dict] | None = None,
                 rule_files: list[str] | None = None, retention: str = "100y",
                 lookback: str = "5m", ready_timeout: float = 30.0):
        super().__init__(ready_timeout=ready_timeout)
        self.data_dir = Path(data_dir) if data_dir is not None else self.dir / "data"
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
                  "scrape_configs": scrape_configs or [], "rule_files": rule_files or []}
        (self.dir / "prometheus.yml").write_text(json.dumps(config))   # JSON is YAML
        self.args = [PROMETHEUS, f"--config.file={self.dir / 'prometheus.yml'}",
                     f"--storage.tsdb.path={self.data_dir}", f"--web.listen-address=127.0.0.1:{self.port}",
                     f"--storage.tsdb.retention.time={retention}", f"--query.lookback-delta={lookback}"]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    # ---- HTTP API --------------------------------------------------------------------------------
    def api(self, path: str, **params: Any) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise ValueError(f"prometheus: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def instant(self, query: str, t: float) -> Any:
        """Like :meth:`Engine.instant`: a float, a sorted ``[(labels, value)]`` or ``{labels: [(t, v)]}``."""
        data = self.api("query", query=query, time=f"{t:.3f}")
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return _num(result[1])
        if kind == "vector":
            return sorted((_labels(s["metric"]), _num(s["value"][1])) for s in result)
        if kind == "matrix":
            return {_labels(s["metric"]): [(float(t), _num(v)) for t, v in s["values"]] for s in sorted(
                result, key=lambda s: _labels(s["metric"]))}
        raise ValueError(f"prometheus: unexpected result type {kind}")

    def range(self, query: str, start: float, end: float, step: float) -> dict:
        data = self.api("query_range", query=query, start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step:g}")
        return {_labels(s["metric"]): [(float(t), _num(v)) for t, v in s["values"]]
                for s in sorted(data["result"], key=lambda s: _labels(s["metric"]))}


def _labels(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(metric.items()))


def _num(text: str) -> float:
    return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(text, None) or float(text)


def check_rules(path: str | Path) -> subprocess.CompletedProcess:
    """``promtool check rules <path>``."""
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def promtool_test_rules(path: str | Path) -> subprocess.CompletedProcess:
    """``promtool test rules <path>`` (a unit-test file naming its rule files)."""
    return subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
