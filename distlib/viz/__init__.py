"""Figures and widgets for the course notebooks (the top layer: protocols never import it).

>>> from distlib import viz
>>> viz.setup()                       # once, at the top of every notebook
>>> fig = viz.spacetime(world)        # doctest: +SKIP
>>> print(viz.describe(world))        # doctest: +SKIP
"""

from .spacetime import describe, message_kind, spacetime
from .theme import setup

__all__ = ["describe", "message_kind", "setup", "spacetime"]
