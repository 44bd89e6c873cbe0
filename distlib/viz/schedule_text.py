"""Fault schedules typed as text: the grammar now lives in :mod:`distlib.sim.schedule_text`, so that
protocols' ``run_*(faults="crash n1 at 1")`` accept it too without importing viz; re-exported here
for the panels and for code that imported it from viz."""

from distlib.sim.schedule_text import KINDS, format_schedule, parse_schedule

__all__ = ["KINDS", "format_schedule", "parse_schedule"]
