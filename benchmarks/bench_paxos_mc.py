"""Model-checking single-decree Paxos: states, depth and time, correct and broken variants.

Run:  .venv/bin/python benchmarks/bench_paxos_mc.py          (about 2 minutes on 2 cores)
      .venv/bin/python benchmarks/bench_paxos_mc.py --quick  (skips the full-contact model)

3 acceptors n1..n3, proposers n1 ("A") and n2 ("B"); the model is
:func:`distlib.check.paxos_invariants.paxos_model` (acceptors' Accepted announcements are the
history variable the agreement invariant reads). Numbers of states and depth are deterministic;
times are wall clock.
"""

from __future__ import annotations

import sys

from distlib.check.explore import explore
from distlib.check.paxos_invariants import model_invariants, paxos_model
from distlib.consensus.paxos import AcceptBelowPromise, ForgetfulAcceptor, NoAdoptProposer

ALL = ("n1", "n2", "n3")
CASES = [
    # (label, classes, model options, explorer bounds)
    ("correct, 1 ballot each", None, {}, {}),
    ("correct, 1 ballot each, <=2 crashes", None, {}, {"max_crashes": 2}),
    ("correct, 1 ballot each, <=1 drop, <=1 crash", None, {}, {"max_drops": 1, "max_crashes": 1}),
    ("correct, <=1 duplicate", None, {}, {"max_duplicates": 1}),
    ("correct, n2 up to 2 ballots", None, {"max_round": {"n1": 1, "n2": 2}}, {}),
    ("correct, n2 up to 2 ballots, <=1 crash", None, {"max_round": {"n1": 1, "n2": 2}}, {"max_crashes": 1}),
    ("NoAdoptProposer", {"n1": NoAdoptProposer, "n2": NoAdoptProposer}, {}, {}),
    ("AcceptBelowPromise", {n: AcceptBelowPromise for n in ALL}, {}, {}),
    ("ForgetfulAcceptor, no crash", {n: ForgetfulAcceptor for n in ALL}, {}, {}),
    ("ForgetfulAcceptor, <=1 crash", {n: ForgetfulAcceptor for n in ALL}, {}, {"max_crashes": 1}),
]
FULL = [("correct, full contact, 1 ballot each", None, {"full_contact": True}, {})]


def main(argv: list[str]) -> None:
    cases = CASES + ([] if "--quick" in argv else FULL)
    print(f"{'configuration':48s} {'status':17s} {'states':>8s} {'transitions':>11s} {'depth':>5s} "
          f"{'cex':>4s} {'seconds':>8s}")
    for label, classes, model, bounds in cases:
        r = explore(paxos_model(classes, **model), model_invariants(), max_states=500_000, **bounds)
        cex = str(len(r.counterexample)) if r.status == "violation" else "-"
        print(f"{label:48s} {r.status:17s} {r.states:8d} {r.transitions:11d} {r.depth:5d} {cex:>4s} "
              f"{r.seconds:8.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
