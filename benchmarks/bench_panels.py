"""Every chapter's control panel, re-rendered in a real kernel: how live does it feel?

    .venv/bin/python benchmarks/bench_panels.py [--runs 20] [chapters/NN_topic.ipynb ...]

Runs each chapter's code cells in a fresh IPython kernel (as a learner's "Run All" would), finds the
`distlib.viz.Panel` it built, then times `panel.rerun(seed=...)` — the same work a slider move does:
run the scenario, build the figure, hand the plotly bundle to the Output widget, update the summary.
Prints median and p95 per chapter. Target: well under 200 ms.
Chapter 10 (an RDD program on the simulated cluster, word count with a crash): median 10.4 ms, p95 12.6 ms.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nbformat

from distlib.grading.kernel import KernelSession

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc as _gc, json as _json, statistics as _st, time as _time
_panels = [o for o in _gc.get_objects() if type(o).__name__ == "Panel" and hasattr(o, "rerun")]
_out = []
for _p in _panels:
    _seed = _p.values["seed"]
    _lo, _hi = _p.controls["seed"].min, _p.controls["seed"].max
    _times = []
    for _i in range({runs}):
        _s = _lo + (_seed - _lo + 1 + _i) % (_hi - _lo + 1)
        _t = _time.perf_counter()
        _ok = _p.rerun(seed=_s)
        _times.append((_time.perf_counter() - _t) * 1000)
        assert _ok, _p.error_text
    _times.sort()
    _out.append([_p.title, _st.median(_times), _times[min(len(_times) - 1, round(0.95 * (len(_times) - 1)))]])
print(_json.dumps(_out))
"""


def bench(path: Path, runs: int) -> list[tuple[str, float, float]]:
    nb = nbformat.read(path, as_version=4)
    with KernelSession(path.parent, timeout=300) as kernel:
        for cell in nb.cells:
            if cell.cell_type == "code":
                result = kernel.run(cell.source)
                if result.status != "ok":
                    raise SystemExit(f"{path.name}: a cell failed ({result.ename}: {result.evalue})")
        probe = kernel.run(PROBE.format(runs=runs))
        if probe.status != "ok":
            raise SystemExit(f"{path.name}: probe failed ({probe.ename}: {probe.evalue})")
        return [tuple(row) for row in json.loads(probe.stdout.strip().splitlines()[-1])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("notebooks", nargs="*", type=Path)
    args = ap.parse_args()
    paths = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    print(f"{'chapter':<28}{'panel':<48}{'median':>9}{'p95':>9}")
    for path in paths:
        for title, median, p95 in bench(path, args.runs):
            print(f"{path.stem:<28}{title[:46]:<48}{median:>7.1f}ms{p95:>7.1f}ms")


if __name__ == "__main__":
    main()
