"""Import every check module of ``distlib.grading.checks`` (found on disk, so a new chapter's module
needs no registration), so that every exercise's reference answers are protected
(:mod:`distlib.grading.guard`). The grader and the strength tests import this before any student cell
(:data:`distlib.grading.notebooks.GUARD_PREAMBLE`)."""

from importlib import import_module
from pkgutil import iter_modules

from distlib.grading import checks as _package
from distlib.grading import guard as _guard

MODULES = sorted(m.name for m in iter_modules(_package.__path__) if m.name != "all")
for _name in MODULES:
    import_module(f"{_package.__name__}.{_name}")
_guard.seal()   # the first import (the grader's hidden preamble) records the library as shipped
