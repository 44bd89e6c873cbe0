"""Terminal front end, for lab machines without a browser.

    python -m distlib list
    python -m distlib run pingpong --seed 3 --loss 0.2
    python -m distlib run 2pc --faults "crash coord at 0.05 restart 1; partition p1 | p2,p3 at 0.02 heal 0.5"
    python -m distlib run gossip --nodes 8 --latency 0.01,0.2 --html gossip.html
    python -m distlib sweep 2pc --seeds 10000

``sweep`` runs a randomized scenario for many seeds with a text progress bar (on a terminal) and
checks every run; it exits 1 if any run violated a property, printing the first failing seed.

``run`` prints the trace (``Trace.format``), a summary, and with ``--html`` writes the
space-time diagram as a standalone HTML page. Bad arguments print one line on stderr
and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from distlib import scenarios

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def _latency(text: str) -> float | tuple[float, float]:
    """``0.01`` (constant) or ``LO,HI`` (uniform)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or LO,HI (got {text!r})") from None
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError(f"must be a number or LO,HI (got {text!r})")


def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        p = -1.0
    if not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1] (got {text!r})")
    return p


def _non_negative_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (got {text!r})")
    return n


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m distlib", description="Run the course's simulated-cluster scenarios "
                 "in a terminal.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the scenarios")
    r = sub.add_parser("run", help="run a scenario, print its trace and a summary")
    r.add_argument("scenario", help="scenario name (see: python -m distlib list)")
    r.add_argument("--seed", type=_non_negative_int, default=None, help="master seed (default 0)")
    r.add_argument("--nodes", type=_non_negative_int, default=None, help="number of nodes")
    r.add_argument("--loss", type=_probability, default=None, help="message loss probability")
    r.add_argument("--latency", type=_latency, default=None, metavar="LO,HI",
                   help="one-way latency: a constant or a uniform range LO,HI")
    r.add_argument("--faults", default=None, metavar="TEXT",
                   help='fault schedule, e.g. "crash n2 at 1.5 restart 3; partition n1 | n2,n3 at 2 heal 4"')
    r.add_argument("--until", type=float, default=None, help="simulated time to run until")
    r.add_argument("--html", default=None, metavar="FILE", help="write the space-time diagram to FILE")
    r.add_argument("--limit", type=_non_negative_int, default=200,
                   help="print at most N trace records (default 200; 0 prints all)")
    w = sub.add_parser("sweep", help="run a randomized scenario for many seeds and check every run")
    w.add_argument("name", help="one of: " + ", ".join(scenarios.SWEEPS))
    w.add_argument("--seeds", type=_non_negative_int, default=1000, help="how many seeds (default 1000)")
    w.add_argument("--start", type=_non_negative_int, default=0, help="first seed (default 0)")
    return ap


def _parse_faults(text: str, nodes: Sequence[str]) -> Any:
    # The one schedule grammar, shared with the panels and every run_*(faults="...").
    from distlib.sim.schedule_text import parse_schedule
    return parse_schedule(text, nodes=list(nodes))


def _list() -> str:
    width = max(len(n) for n in scenarios.SCENARIOS)
    lines = []
    for sc in scenarios.SCENARIOS.values():
        lines.append(f"{sc.name:<{width}}  {sc.description}")
        lines.append(f"{'':<{width}}  options: {', '.join('--' + p for p in sc.params)}")
    return "\n".join(lines)


def _run(args: argparse.Namespace, out) -> None:
    sc = scenarios.get(args.scenario)
    params: dict[str, Any] = {"seed": args.seed, "nodes": args.nodes, "loss": args.loss,
                              "latency": args.latency, "until": args.until}
    if args.faults is not None:
        if "faults" not in sc.params:
            raise ValueError(f"scenario {sc.name!r} does not take faults (it takes: {', '.join(sc.params)})")
        params["faults"] = _parse_faults(args.faults, sc.node_names(args.nodes))
    try:
        result = scenarios.run(sc.name, **params)
    except ImportError as e:
        raise ValueError(f"scenario {sc.name!r} is not available here ({e})") from None
    world = result.world
    trace = world.trace
    print(f"== {sc.name}: trace ({len(trace)} records) ==", file=out)
    print(trace.format(limit=args.limit or None), file=out)
    print("== summary ==", file=out)
    print(result.summary(), file=out)
    print(f"trace: {trace.summary()}", file=out)
    if params.get("faults") is not None:
        print(f"faults: {params['faults'].describe()}", file=out)
    if args.html:
        from distlib.viz import spacetime  # plotly is heavy: only when a diagram is wanted
        fig = spacetime(trace, title=f"{sc.name} — {result.summary()}")
        try:
            fig.write_html(args.html, include_plotlyjs=True)
        except OSError as e:
            raise ValueError(f"--html cannot write {args.html!r}: {e.strerror}") from None
        print(f"wrote the space-time diagram to {args.html}", file=out)


def _sweep(args: argparse.Namespace, out) -> int:
    from distlib.check.sweep import sweep
    from distlib.viz.progressbar import progress

    run, check = scenarios.sweep_parts(args.name)
    seeds = range(args.start, args.start + args.seeds)
    result = sweep(run, progress(seeds, desc=args.name), check)
    print(f"{args.name}: {result.summary()}", file=out)
    if result.first_failing_seed is not None:
        for v in result.violations[result.first_failing_seed]:
            print(f"  seed {result.first_failing_seed}: {v}", file=out)
        return 1
    return 0


def main(argv: Sequence[str] | None = None, out=None) -> int:
    """The CLI; returns the exit status (0 ok, 2 bad arguments)."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            print(_list(), file=out)
            print("\nsweeps (python -m distlib sweep NAME --seeds N):", file=out)
            for name, (description, _) in scenarios.SWEEPS.items():
                print(f"  {name:<12} {description}", file=out)
        elif args.command == "sweep":
            return _sweep(args, out)
        else:
            _run(args, out)
    except ValueError as e:
        print(f"python -m distlib {args.command}: error: {e}", file=sys.stderr)
        return USAGE_ERROR
    return 0
