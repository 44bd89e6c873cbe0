"""distlib — the shared library of *Runnable Distributed Systems*.

Layers (dependencies point down only)::

    distlib.viz, distlib.grading      figures, widgets, exercise checks, grader
    distlib.check                     invariants, linearizability, model checking
    distlib.<topic>                   transactions, consensus, ...
    distlib.sim                       the deterministic simulated cluster
"""

__version__ = "0.1.0"
