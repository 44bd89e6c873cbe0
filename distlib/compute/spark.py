"""The real engine beside :mod:`distlib.compute.rdd`: Apache Spark (PySpark 4.3.0, Java 17) in local mode.

:func:`local_session` starts a ``SparkSession`` on ``local[cores]`` that a notebook cell or a test can
use without noise and without touching the network:

* bound to 127.0.0.1 (``SPARK_LOCAL_IP``, ``spark.driver.host``/``bindAddress``) with the web UI off --
  otherwise Spark picks the machine's external address and opens port 4040;
* quiet: the progress bar off, Log4j 2 at ``warn`` from the properties file shipped next to this module
  (Hadoop's NativeCodeLoader at ``error``), and the JVM started with its stderr (fd 2) pointed at
  ``/dev/null``: the one line Log4j cannot control ("Using incubator modules") and every later JVM
  warning would otherwise land in notebook outputs -- captured by nbclient but not by nbval, so a saved
  notebook would fail strict nbval. Errors still reach Python as exceptions through py4j;
* deterministic: ``spark.default.parallelism`` = ``cores``, Python workers run this interpreter (so they
  import the same ``distlib``) with ``PYTHONHASHSEED=0`` (PySpark's default, made explicit), which fixes
  how ``portable_hash`` spreads string keys over partitions;
* one per process: a JVM holds one active ``SparkContext``; a second call returns the same session, a
  call with another ``cores`` stops it and starts a new one (the JVM is reused: about 0.1 s).

Observed start-up facts (5 to 8 s cold, 0.1 s warm; 300 to 550 MB JVM RSS) are in
``../shared/ENGINE-FIELD-NOTES.md`` §3. pyspark is imported lazily: the simulator never needs it, and
the default install (``make lab``) does not include it -- ``make spark`` adds the ``spark`` extra.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from distlib.sim.validate import integer

LOG4J = Path(__file__).with_name("log4j2-spark.properties")
MIN_JAVA = 17            # Spark 4.x runs on Java 17 or 21
INSTALL_HINT = "make spark (or: pip install -e '.[spark]')"
JAVA_HINT = "apt-get install -y --no-install-recommends openjdk-17-jre-headless"

_session: Any = None
startup_seconds: float | None = None     # how long the last cold or warm start took (for the reports)


def java() -> str | None:
    """The ``java`` Spark's launcher will run: ``$JAVA_HOME/bin/java`` if JAVA_HOME is set, else PATH's."""
    home = os.environ.get("JAVA_HOME")
    if home:
        path = Path(home) / "bin" / "java"
        return str(path) if os.access(path, os.X_OK) else None
    return shutil.which("java")


def java_version(path: str) -> int | None:
    """The major version ``path -version`` reports (17 for ``"17.0.15"``, 8 for ``"1.8.0_392"``)."""
    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def spark_available() -> tuple[bool, str]:
    """``(True, "pyspark 4.3.0, java 17 at /usr/bin/java")`` if a local session can start, else
    ``(False, why not and how to fix it)``."""
    if importlib.util.find_spec("pyspark") is None:
        return False, f"pyspark is not installed: {INSTALL_HINT}"
    jvm = java()
    if jvm is None:
        where = "JAVA_HOME/bin/java" if os.environ.get("JAVA_HOME") else "java on PATH"
        return False, f"no Java runtime ({where} not found); Spark needs Java {MIN_JAVA}+: {JAVA_HINT}"
    major = java_version(jvm)
    if major is None or major < MIN_JAVA:
        return False, f"{jvm} is Java {major or '?'}; Spark 4 needs Java {MIN_JAVA}+: {JAVA_HINT}"
    from importlib.metadata import version
    return True, f"pyspark {version('pyspark')}, java {major} at {jvm}"


def _builder(cores: int) -> Any:
    from pyspark.sql import SparkSession
    return (SparkSession.builder
            .master(f"local[{cores}]")
            .appName("distlib")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.default.parallelism", str(cores))
            .config("spark.sql.shuffle.partitions", str(cores))
            .config("spark.pyspark.python", sys.executable)
            .config("spark.pyspark.driver.python", sys.executable)
            .config("spark.executorEnv.PYTHONHASHSEED", "0")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{LOG4J}"))


def local_session(cores: int = 2) -> Any:
    """A quiet ``SparkSession`` on ``local[cores]`` bound to 127.0.0.1; the same one on every call.

    Raises ``RuntimeError`` saying what to install when pyspark or Java is missing (Spark's own error
    would be "Java gateway process exited", with the reason on a stderr we silence)."""
    global _session, startup_seconds
    integer("cores", cores, 1)
    if _session is not None:
        if _session.sparkContext._jsc is not None and _session.sparkContext.master == f"local[{cores}]":
            return _session
        _session.stop()
        _session = None
    ok, why = spark_available()
    if not ok:
        raise RuntimeError(f"cannot start Spark: {why}")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    # The launcher reads these at SparkContext creation: workers must run this interpreter (this venv's
    # distlib and pyspark), and PYTHONHASHSEED must be the same in every worker.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    t0 = time.monotonic()
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        # The JVM inherits fd 2 now and keeps it: its stderr is /dev/null for the life of the process.
        os.dup2(devnull, 2)
        session = _builder(cores).getOrCreate()
    except Exception as e:
        raise RuntimeError(f"Spark did not start ({type(e).__name__}: {e}); JVM output is silenced -- "
                           f"{why}") from e
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    startup_seconds = time.monotonic() - t0
    _session = session
    return session


def stop() -> None:
    """Stop this process's session (the JVM stays up; the next :func:`local_session` reuses it)."""
    global _session
    if _session is not None:
        _session.stop()
        _session = None


def debug_string(rdd: Any) -> str:
    """An RDD's lineage as text: PySpark's ``toDebugString()`` returns bytes, ours a str."""
    text = rdd.toDebugString()
    return text.decode() if isinstance(text, bytes) else text


_SHUFFLE_LINE = re.compile(r"\+-\(\d+\) \S*?\[(\d+)\]")


def shuffle_boundaries(rdd: Any, distinct: bool = False) -> int:
    """The shuffle (wide) dependencies in the lineage: each ``+-(n)`` line starts the map side of a
    shuffle, i.e. a stage boundary. ``toDebugString`` prints a parent once per path to it (PageRank's
    cached ``links`` under every iteration), so the plain count grows with the paths; ``distinct=True``
    counts each shuffled RDD (its ``[id]``) once -- the number of shuffle map stages a first run needs."""
    text = debug_string(rdd)
    if not distinct:
        return text.count("+-(")
    return len(set(_SHUFFLE_LINE.findall(text)))


def main(argv: list[str] | None = None) -> None:
    """``python -m distlib.compute.spark``: start a local session, run the shipped programs on it and on
    ``distlib.compute.rdd``, print Spark's ``toDebugString()`` beside ours, and how long each step took."""
    import argparse

    from distlib.compute import programs

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0] if main.__doc__ else None)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args(argv)
    ok, why = spark_available()
    print(why)
    if not ok:
        raise SystemExit(1)
    from distlib.compute import rdd

    sc = local_session(args.cores).sparkContext
    print(f"session start: {startup_seconds:.1f} s ({sc.master}, Spark {sc.version})")
    ours = rdd.Context(master="local")
    lines = programs.sample_lines(seed=0, lines=120)
    edges = programs.sample_graph(seed=0)
    customers, orders = programs.sample_tables(seed=0)
    points = programs.sample_points(seed=0)
    jobs_ = [("word count", lambda c: programs.word_count(c, lines)),
             ("word count again", lambda c: programs.word_count(c, lines)),
             ("PageRank, 10 iterations", lambda c: programs.pagerank(c, edges, 10)),
             ("join", lambda c: programs.join_example(c, customers, orders)),
             ("logistic regression, 10 iterations", lambda c: programs.logistic_regression(c, points, 10))]
    for name, job in jobs_:
        t0 = time.monotonic()
        theirs = job(sc)
        t1 = time.monotonic()
        mine = job(ours)
        t2 = time.monotonic()
        print(f"{name:<36} Spark {t1 - t0:6.2f} s   ours {t2 - t1:6.2f} s   equal: {theirs == mine}")
    for name, build in (("word count", lambda c: programs.word_count_rdd(c, lines)),
                        ("PageRank, 2 iterations", lambda c: programs.pagerank_rdd(c, edges, 2))):
        for engine, c in (("Spark", sc), ("ours", ours)):
            r = build(c)
            print(f"\n== {name}, {engine}: {shuffle_boundaries(r)} shuffle boundaries printed, "
                  f"{shuffle_boundaries(r, distinct=True)} distinct\n{debug_string(r)}")
    stop()


if __name__ == "__main__":
    main()
