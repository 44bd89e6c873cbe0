"""Engine overhead (issue 12): word count over ~50 MB of generated text, in one run, three ways.

Run:  .venv/bin/python benchmarks/bench_spark.py [--mb 50] [--partitions 2] [--repeat 2]

* plain Python: ``programs.reference_word_count`` (one dict, one process);
* ours: ``programs.word_count`` on ``distlib.compute.rdd.Context(master="local")`` (the same program);
* PySpark ``local[2]``: the same program on ``distlib.compute.spark.local_session(2)``; the session's
  start is timed apart, and each job is run ``--repeat`` times (the first pays for the Python workers).

The text is chapter 09's Zipf-like word-count input (``programs.sample_lines``), so all three count the
same words with the same tokenizer; the script checks that they return the same answer. Prints wall
seconds and MB/s per engine. :func:`pyspark_column` is the hook a wider benchmark (bench_rdd.py) can
call to add the PySpark column to its own table.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

from distlib.compute import programs
from distlib.compute import spark as sparkmod


def generate(mb: float, seed: int = 0) -> list[str]:
    """About ``mb`` MB of text (UTF-8 bytes plus one newline per line)."""
    probe = programs.sample_lines(seed, 3000)
    per_line = sum(len(line) + 1 for line in probe) / len(probe)
    return programs.sample_lines(seed, max(3, int(mb * 1e6 / per_line)))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def pyspark_column(lines: Sequence[str], cores: int = 2, partitions: int = 2,
                   repeat: int = 2) -> dict[str, Any]:
    """Word count of ``lines`` on PySpark ``local[cores]``: ``{"start_s", "runs_s": [...], "result"}``,
    or ``{"skipped": reason}`` when Spark cannot start here."""
    ok, why = sparkmod.spark_available()
    if not ok:
        return {"skipped": why}
    start, session = timed(lambda: sparkmod.local_session(cores))
    runs, result = [], None
    for _ in range(repeat):
        dt, result = timed(lambda: programs.word_count(session.sparkContext, lines, partitions))
        runs.append(dt)
    return {"start_s": start, "runs_s": runs, "result": result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    gen_s, lines = timed(lambda: generate(args.mb))
    size = sum(len(line) + 1 for line in lines) / 1e6
    print(f"input: {len(lines):,} lines, {size:.1f} MB (generated in {gen_s:.1f} s), "
          f"{args.partitions} partitions")

    def row(name: str, seconds: float, note: str = "") -> None:
        print(f"  {name:<28} {seconds:8.2f} s  {size / seconds:7.1f} MB/s  {note}")

    plain_s, expected = timed(lambda: programs.reference_word_count(lines))
    row("plain Python (dict)", plain_s, f"{len(expected)} distinct words")

    try:
        from distlib.compute import rdd
    except ImportError as e:
        print(f"  ours (distlib.compute.rdd)   n/a: {e}")
    else:
        ctx = rdd.Context(master="local")
        ours_s, got = timed(lambda: programs.word_count(ctx, lines, args.partitions))
        assert got == expected, "distlib.compute.rdd's word count differs from the plain-Python one"
        row("ours, local mode", ours_s)

    col = pyspark_column(lines, partitions=args.partitions, repeat=args.repeat)
    if "skipped" in col:
        print(f"  PySpark local[2]             n/a: {col['skipped']}")
        return
    assert col["result"] == expected, "PySpark's word count differs from the plain-Python one"
    print(f"  PySpark session start        {col['start_s']:8.2f} s")
    for i, dt in enumerate(col["runs_s"], 1):
        row(f"PySpark local[2], run {i}", dt, "(first run starts the Python workers)" if i == 1 else "")
    sparkmod.stop()


if __name__ == "__main__":
    main()
