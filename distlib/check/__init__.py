"""Checkers: protocol invariants, linearizability, model checking, seed sweeps.

Kept light: submodules are imported on first use (``from distlib.check.atomic import ...``
or ``distlib.check.sweep``), so ``import distlib.check`` pulls in no protocol code.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> submodule that defines it (imported lazily on attribute access)
_LAZY = {
    "check_atomic_commitment": "atomic",
    "atomic_commitment_invariant": "atomic",
    "sweep": "sweep",
    "SweepResult": "sweep",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
