"""Monitoring (chapter 11): instrument the simulated cluster, scrape it, store, query with PromQL, alert.

Pipeline: :func:`instrumented` node classes + an :class:`Observer` (per-node ``prometheus_client``
registries fed from node state and the trace) -> :class:`MonitoringServer` (pull scrapes over the
simulated network, ``up``, staleness markers) -> :class:`TSDB` (Gorilla-compressed head) ->
:class:`Engine` (a PromQL subset) -> :class:`RuleGroup` (recording and alerting rules) ->
:class:`Alertmanager` (grouping, deduplication, inhibition, silences).
"""

from .gorilla import ChunkEncoder, decode_chunk
from .instrument import Observer, ScrapeReply, ScrapeRequest, instrumented, observer_of
from .promql import Engine, PromQLError, parse, parse_duration
from .rules import (
    Alert,
    AlertingRule,
    Alertmanager,
    Notification,
    RecordingRule,
    RuleGroup,
    Silence,
    load_rules,
)
from .scrape import MonitoringServer, TargetHealth, parse_exposition
from .tsdb import STALE_NAN, TSDB, format_labels, is_stale, labels_of

__all__ = [
    "STALE_NAN", "TSDB", "Alert", "AlertingRule", "Alertmanager", "ChunkEncoder", "Engine",
    "MonitoringServer", "Notification", "Observer", "PromQLError", "RecordingRule", "RuleGroup",
    "ScrapeReply", "ScrapeRequest",
    "Silence", "TargetHealth", "decode_chunk", "format_labels", "instrumented", "is_stale", "labels_of",
    "load_rules", "observer_of", "parse", "parse_duration", "parse_exposition",
]
