"""Shared pytest configuration: markers and the nbval comparison tweaks.

This file is also loaded as a plugin (``-p tests.conftest``) by ``make test`` when nbval runs on
``chapters/``, ``solutions/`` and ``exercises/``, which lie outside ``tests/`` and would not see it otherwise.
"""

from __future__ import annotations

import pytest

# Mime types nbval must not compare byte for byte:
# - plotly JSON embeds the whole template, so it changes with the plotly version; each figure cell
#   prints a short text summary instead, and that *is* compared.
# - HTML outputs (pandas tables, widget fallbacks) may carry random ids.
NBVAL_SKIP_COMPARE: tuple[str, ...] = ("application/vnd.plotly.v1+json", "text/html")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (slow, needs /usr/bin/chromium)"
    )
    config.addinivalue_line("markers", "slow: takes more than a few seconds; deselect with -m 'not slow'")


def pytest_collectstart(collector: pytest.Collector) -> None:
    # nbval's IPyNbFile sets `skip_compare` (a tuple) in __init__, before collection starts.
    skip = getattr(collector, "skip_compare", None)
    if isinstance(skip, tuple):
        collector.skip_compare = skip + tuple(m for m in NBVAL_SKIP_COMPARE if m not in skip)
