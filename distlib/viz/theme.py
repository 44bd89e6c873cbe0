"""The course look: one plotly template and the renderer, set once per notebook by :func:`setup`.

Colours come from Okabe & Ito's colour-blind-safe palette ("Color Universal
Design", 2008). Vermillion is reserved for faults (drops, crashes), so message
types never use it.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE_NAME = "rds"
RENDERER = "plotly_mimetype"

# Okabe-Ito, reordered: message types cycle through these (no vermillion: it means "fault").
MESSAGE_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#999999",  # grey
    "#B8A200",  # a darkened Okabe-Ito yellow (the original is unreadable on white)
)
FAULT = "#D55E00"        # vermillion: drops, crashes, down time
RESTART = "#009E73"      # green: back up
PAUSE = "#E69F00"        # orange: frozen
PARTITION_FILL = "rgba(213, 94, 0, 0.09)"
CUT_FILL = "rgba(204, 121, 167, 0.10)"
LANE = "#BBBBBB"
TEXT = "#333333"


def course_template() -> go.layout.Template:
    """The course template: plotly_white, larger type, the colour-blind-safe colourway."""
    base = pio.templates["plotly_white"]
    t = go.layout.Template(base)
    t.layout.colorway = list(MESSAGE_COLORS)
    t.layout.font = dict(family="Arial, Helvetica, sans-serif", size=13, color=TEXT)
    t.layout.title = dict(font=dict(size=17), x=0.01, xanchor="left")
    t.layout.hoverlabel = dict(font=dict(family="Menlo, Consolas, monospace", size=12), align="left")
    t.layout.legend = dict(bgcolor="rgba(255,255,255,0.8)")
    return t


def setup() -> None:
    """Course-wide notebook setup: plotly_mimetype renderer and the course template as default.

    The ``plotly_mimetype`` renderer emits only ``application/vnd.plotly.v1+json``
    (no HTML with a random div id, no 4.8 MB of plotly.js per notebook), so
    committed outputs are deterministic. Calling it twice changes nothing.
    """
    if TEMPLATE_NAME not in pio.templates:
        pio.templates[TEMPLATE_NAME] = course_template()
    pio.templates.default = TEMPLATE_NAME
    pio.renderers.default = RENDERER
