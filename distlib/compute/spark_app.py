"""Chapter 10's programs as a Spark application: the file ``spark-submit`` runs, on any master.

    spark-submit --master 'local[4]'           distlib/compute/spark_app.py wordcount INPUT
    spark-submit --master spark://host:7077 --py-files distlib.zip distlib/compute/spark_app.py pagerank EDGES
    spark-submit --master yarn --deploy-mode cluster --py-files distlib.zip distlib/compute/spark_app.py ...

The program code is ``programs.count_words`` / ``programs.rank_pages`` (:mod:`distlib.compute.programs`),
the same functions the tests run on ``local[2]`` and on :mod:`distlib.compute.rdd`. Only the input differs:
``sc.textFile(INPUT)`` (a local path, ``hdfs://...``, ``s3a://...``) instead of a Python list. The session
is built without ``.master(...)``: a master set in code would override ``--master``. PySpark pickles the
programs' lambdas by value but module-level functions (the tokenizer) by reference, so every executor
must be able to ``import distlib``: ``--py-files distlib.zip`` (``zip -r distlib.zip distlib``) or the
package installed on each node. See ``docs/spark-lab.md``.

Input formats: ``wordcount``, any text; ``pagerank``, one edge per line, ``src dst`` (whitespace-separated,
extra fields ignored, as in Spark's ``examples/src/main/python/pagerank.py``). Prints the top ``--top``
results by count or rank (ties by name) and, with ``--output DIR``, saves all of them with
``saveAsTextFile``.
"""

from __future__ import annotations

import argparse
from typing import Any


def _edge(line: str) -> tuple[str, str]:
    src, dst = line.split()[:2]
    return src, dst


def run(sc: Any, program: str, path: str, iterations: int = 10, top: int = 10,
        output: str | None = None) -> list[tuple[Any, Any]]:
    """Run ``program`` over the file at ``path`` on ``sc``; returns the ``top`` results."""
    from distlib.compute import programs

    lines = sc.textFile(path)
    if program == "wordcount":
        result = programs.count_words(lines)
    else:
        result = programs.rank_pages(lines.filter(lambda s: len(s.split()) >= 2).map(_edge), iterations)
    if output is not None:
        result.saveAsTextFile(output)
    return result.takeOrdered(top, key=lambda kv: (-kv[1], kv[0]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("program", choices=("wordcount", "pagerank"))
    ap.add_argument("input")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--output")
    args = ap.parse_args(argv)

    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName(f"distlib-{args.program}").getOrCreate()
    sc = spark.sparkContext
    for key, value in run(sc, args.program, args.input, args.iterations, args.top, args.output):
        print(f"{key}\t{value:.6f}" if isinstance(value, float) else f"{key}\t{value}")
    print(f"master={sc.master} defaultParallelism={sc.defaultParallelism}")
    spark.stop()


if __name__ == "__main__":
    main()
