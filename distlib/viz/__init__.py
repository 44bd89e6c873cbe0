"""Figures and widgets for the course notebooks (the top layer: protocols never import it).

>>> from distlib import viz
>>> viz.setup()                       # once, at the top of every notebook
>>> fig = viz.spacetime(world)        # doctest: +SKIP
>>> print(viz.describe(world))        # doctest: +SKIP
"""

from .panel import (
                    ChoiceControl,
                    Control,
                    FloatControl,
                    IntControl,
                    Panel,
                    ScheduleControl,
                    TextControl,
                    figure_bundle,
)
from .progressbar import in_kernel, progress
from .schedule_text import format_schedule, parse_schedule
from .spacetime import describe, message_kind, spacetime
from .theme import setup

__all__ = [
    "ChoiceControl", "Control", "FloatControl", "IntControl", "Panel", "ScheduleControl", "TextControl",
    "describe", "figure_bundle", "format_schedule", "in_kernel", "message_kind", "parse_schedule",
    "progress", "setup", "spacetime",
]
