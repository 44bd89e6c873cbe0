"""Raft view build/serialize time per named scenario, and (with --browser) plotly.js render time.

Run: .venv/bin/python benchmarks/bench_raft_view.py [--browser]
Prints one line per scenario: recorded states, scrubber steps, JSON size, build and to_json times
(best of 5), and the first-render and one-scrubber-step time in headless Chromium.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from distlib.consensus import raft
from distlib.viz import setup
from distlib.viz.raft_view import RaftRecorder, raft_view

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_ms(fig_json: str) -> tuple[float, float]:
    """(newPlot ms, one slider-step update ms) measured by performance.now() in headless Chromium."""
    import plotly
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    page = f"""<html><head><script src="file://{js}"></script></head><body><div id="g"></div><script>
var fig = {fig_json};
var t0 = performance.now();
Plotly.newPlot('g', fig.data, fig.layout).then(function() {{
  var t1 = performance.now();
  var s = fig.layout.sliders[0].steps[Math.floor(fig.layout.sliders[0].steps.length / 2)];
  Plotly.update('g', s.args[0], s.args[1], s.args[2]).then(function() {{
    var t2 = performance.now();
    document.getElementById('g').setAttribute('data-ms', (t1 - t0).toFixed(1) + ' ' + (t2 - t1).toFixed(1));
  }});
}});
</script></body></html>"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.html"
        path.write_text(page)
        out = subprocess.run([CHROMIUM, *FLAGS, "--virtual-time-budget=10000", "--window-size=1300,1000",
                              "--allow-file-access-from-files", "--dump-dom", f"file://{path}"],
                             capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-ms="([\d.]+) ([\d.]+)"', out)
    return (float(m.group(1)), float(m.group(2))) if m else (float("nan"), float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--browser", action="store_true", help="also time plotly.js in headless Chromium")
    args = ap.parse_args()
    setup()
    scenarios = {
        "split_vote": raft.split_vote, "leader_crash": raft.leader_crash,
        "partitioned_old_leader": raft.partitioned_old_leader, "figure8": raft.figure8,
    }
    if args.browser:   # plotly.js's own first-plot cost, for comparison
        import plotly.graph_objects as go
        trivial = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
        trivial.update_layout(sliders=[dict(steps=[dict(method="update", label="a",
                                                        args=[{"x": [[0, 2]]}, {}, [0]])])])
        first, step = browser_ms(trivial.to_json())
        print(f"{'(a one-line figure)':<24} browser newPlot={first:6.1f} ms  step={step:5.1f} ms")
    for name, fn in scenarios.items():
        rec = RaftRecorder()
        fn(monitors=[rec])
        builds, dumps = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            fig = raft_view(rec)
            t1 = time.perf_counter()
            text = fig.to_json()
            t2 = time.perf_counter()
            builds.append(t1 - t0)
            dumps.append(t2 - t1)
        line = (f"{name:<24} states={len(rec.changes):<4} steps={len(fig.layout.sliders[0].steps):<3} "
                f"json={len(text) / 1e3:6.1f} kB  build={min(builds) * 1e3:5.1f} ms  "
                f"to_json={min(dumps) * 1e3:5.1f} ms")
        if args.browser:
            first, step = browser_ms(json.dumps(json.loads(text)))
            line += f"  browser newPlot={first:6.1f} ms  step={step:5.1f} ms"
        print(line)


if __name__ == "__main__":
    main()
