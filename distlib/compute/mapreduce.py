"""MapReduce on the simulated cluster: a master and workers as actors.

Source: J. Dean & S. Ghemawat, "MapReduce: Simplified Data Processing on Large Clusters" (OSDI 2004).
§3.1 execution overview, §3.2 master data structures, §3.3 fault tolerance, §3.4 locality, §3.5 task
granularity, §3.6 backup tasks; §4.1-4.3 partitioning function, ordering guarantee, combiner.

    client: load the input into the DFS as M blocks (3 replicas each), start master + workers
    master  (§3.2: per task idle / in-progress / completed, the worker; per completed map task the
             location and sizes of its R regions)
      - pings every worker; no answer for ``fail_after`` => the worker failed (§3.3)
      - gives an idle worker an idle map task, preferring one whose block it holds, then one on its
        rack (§3.4); reduce tasks once every map task has completed once
      - close to the end of a phase (no idle task left) a free worker runs a BACKUP of the longest-
        running in-progress task; whichever attempt finishes first counts (§3.6)
    map worker: read the block (locally, or from a replica over the network), run map, partition the
        pairs into R regions with hash(key) mod R, run the combiner, write the regions to its LOCAL
        disk, report their sizes
    reduce worker: fetch region r from every map task's worker (the shuffle), sort by key, group,
        run reduce, write a temporary file, RENAME it atomically to part-r (§3.3), report

Fault tolerance by re-execution (§3.3): when a worker fails, its in-progress tasks go back to idle, and
so do its COMPLETED map tasks -- their output was on its local disk; completed reduce tasks are not
re-run, their output is in the global file system. A reduce task that has not fetched a re-executed
map task's region yet gets the new location from the master. Duplicate executions (backups, a worker
wrongly declared dead) are harmless: the master counts the first completion of a task and ignores the
rest, and the output rename replaces the file with one execution's data.

Decisions (see docs/ARCHITECTURE.md):
- A crash, or being declared dead, ends a worker *incarnation*: ``storage["inc"]`` is bumped and the
  worker registers afresh with nothing on its local disk (intermediate files are volatile attributes).
  Every message carries the incarnation, so results of a dead incarnation are never counted. DFS block
  replicas are in ``storage`` and survive.
- Stragglers are a per-worker ``slow`` factor in the job config (a bad disk: the paper's 30 MB/s ->
  1 MB/s), multiplying that worker's disk, CPU and serving time; the simulator has no notion of speed.
- The master is not made fault-tolerant: like the paper's implementation it aborts the job if it fails
  (its restart finds the job marked failed).
- All work takes simulated time from a :class:`Costs` model; user functions run instantly in Python
  and their results are released when the simulated work is over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.sim import FaultSchedule, Node, World, as_schedule
from distlib.sim.rng import check_seed, stream
from distlib.sim.validate import flag, integer, number, one_of, subclass

from .dfs import (
    DFS,
    Append,
    Appended,
    Created,
    CreateFile,
    NameNode,
    OutputMeta,
    Rename,
    Renamed,
    Split,
    check_files,
)
from .jobs import JOB_NAMES, Job, build_job, group, pairs_size, record_size, sample_input

MASTER, NAMENODE = "master", "nn"


@dataclass(frozen=True)
class Costs:
    """Simulated time of work: bytes per second of a local disk and of one network transfer, seconds
    per record of CPU, and a fixed start-up cost per task (§3.5: tasks are not free)."""
    disk_rate: float = 4_000.0
    net_rate: float = 2_000.0
    cpu_per_record: float = 0.01
    task_overhead: float = 0.3


# ---- messages: master <-> worker -------------------------------------------------------------------
@dataclass(frozen=True)
class Register:
    inc: int


@dataclass(frozen=True)
class Welcome:
    inc: int


@dataclass(frozen=True)
class Ping:
    inc: int


@dataclass(frozen=True)
class Pong:
    inc: int


@dataclass(frozen=True)
class Rejoin:
    """Master -> a worker incarnation it declared dead: start a new incarnation, with an empty disk."""
    inc: int


@dataclass(frozen=True)
class RunMap:
    inc: int
    attempt: int
    split: Split


@dataclass(frozen=True)
class RunReduce:
    inc: int
    attempt: int
    task: int
    locations: tuple[tuple[int, int, str], ...] = field(repr=False)   # (map task, map attempt, worker)


@dataclass(frozen=True)
class MapLocations:
    """Master -> reduce worker: where completed map tasks' output is (pushed, or asked by WhereIs)."""
    inc: int
    attempt: int
    locations: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class WhereIs:
    inc: int
    attempt: int
    tasks: tuple[int, ...]


@dataclass(frozen=True)
class TaskAck:
    inc: int
    attempt: int


@dataclass(frozen=True)
class MapDone:
    inc: int
    attempt: int
    task: int
    sizes: tuple[int, ...]             # bytes per region (§3.2)


@dataclass(frozen=True)
class ReduceDone:
    inc: int
    attempt: int
    task: int


@dataclass(frozen=True)
class TaskFailed:
    """A user function (or the partitioner) raised: the attempt failed; the master may retry it."""
    inc: int
    attempt: int
    error: str


@dataclass(frozen=True)
class DoneAck:
    inc: int
    attempt: int


@dataclass(frozen=True)
class Abort:
    """Another attempt of this task finished first: stop (the slot is needed)."""
    inc: int
    attempt: int


@dataclass(frozen=True)
class JobDone:
    ok: bool
    error: str = ""


# ---- messages: worker <-> worker ---------------------------------------------------------------------
@dataclass(frozen=True)
class ReadBlock:
    block: str
    attempt: int


@dataclass(frozen=True)
class BlockData:
    block: str
    attempt: int
    lines: tuple[str, ...] | None = field(repr=False)   # None: no replica here
    size: int = 0


@dataclass(frozen=True)
class Fetch:
    map_task: int
    map_attempt: int
    region: int
    attempt: int                       # the fetching reduce attempt


@dataclass(frozen=True)
class Region:
    map_task: int
    map_attempt: int
    region: int
    attempt: int
    pairs: tuple | None = field(repr=False)   # None: not on this worker (any more)
    size: int = 0


@dataclass
class _Work:
    """The one task attempt a worker is running (volatile)."""
    attempt: int
    kind: str                          # "map" | "reduce"
    task: int
    phase: str
    phase_start: float
    split: Split | None = None
    replica: int = 0                   # which replica a remote block read is trying
    regions: tuple = ()
    locations: dict[int, tuple[int, str]] = field(default_factory=dict)
    fetched: dict[int, tuple[int, tuple]] = field(default_factory=dict)
    records: tuple = ()
    pending: Any = None                # the name-node request awaiting an answer


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


class Worker(Node):
    """A MapReduce worker (and DFS datanode): one task slot, a local disk for map output.

    ``job`` holds the user functions; ``maps``/``reduces`` are M and R; ``racks`` maps every worker to its
    rack (to pick the nearest replica); ``slow`` >= 1 multiplies all its work (a straggler)."""

    def __init__(self, *, job: Job, maps: int, reduces: int, racks: Mapping[str, int], slow: float = 1.0,
                 costs: Costs = Costs(), master: str = MASTER, namenode: str = NAMENODE, out: str = "out",
                 resend_interval: float = 0.2, fetch_timeout: float = 0.5):
        self.job = job
        self.maps = integer("maps", maps, 1)
        self.reduces = integer("reduces", reduces, 1)
        self.racks = dict(racks)
        self.slow = number("slow", slow, 1.0)
        self.costs = costs
        self.master, self.namenode, self.out = master, namenode, out
        self.resend_interval = number("resend_interval", resend_interval, above=True)
        self.fetch_timeout = number("fetch_timeout", fetch_timeout, above=True)

    # ---- lifecycle ------------------------------------------------------------------------------
    def on_start(self) -> None:
        self.storage.setdefault("blocks", {})
        self.storage.setdefault("timeline", [])    # (attempt, kind, task, phase, start, end): for views
        self.current: _Work | None = None
        self.disk: dict[int, tuple[int, tuple]] = {}   # map task -> (attempt, regions): the LOCAL disk
        self.reports: dict[int, Any] = {}               # attempt -> MapDone/ReduceDone/TaskFailed, unacked
        self.outbox: dict[int, tuple[str, Any]] = {}    # serve token -> (dst, reply) after the disk read
        self.tokens = 0
        self.registered = False
        self.exited = "exited_at" in self.storage
        if not self.exited:
            self._new_incarnation()

    def on_recover(self) -> None:
        self.on_start()

    def _new_incarnation(self) -> None:
        self.storage["inc"] = self.inc = self.storage.get("inc", 0) + 1
        self.current, self.disk, self.reports = None, {}, {}
        self.registered = False
        self.send(self.master, Register(self.inc))
        self.set_timer("register", self.resend_interval)

    # ---- events ---------------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        if self.exited:
            return
        kind, _, arg = name.partition(":")
        if kind == "register":
            if not self.registered:
                self.send(self.master, Register(self.inc))
                self.set_timer("register", self.resend_interval)
        elif kind == "report":
            for msg in self.reports.values():
                self.send(self.master, msg)
            if self.reports:
                self.set_timer("report", self.resend_interval)
        elif kind == "serve":
            dst, reply = self.outbox.pop(int(arg))
            self.send(dst, reply)
        elif self.current is not None and self.current.attempt == int(arg):
            if kind == "work":
                self._phase_done()
            elif kind == "retry":
                self._retry()

    def on_message(self, src: str, msg: Any) -> None:
        if self.exited:
            return
        if isinstance(msg, JobDone):
            self._exit()
        elif isinstance(msg, Ping):
            self.send(src, Pong(self.inc))
        elif isinstance(msg, Welcome):
            if msg.inc == self.inc:
                self.registered = True
                self.cancel_timer("register")
        elif isinstance(msg, Rejoin):
            if msg.inc == self.inc:
                self.annotate(f"declared dead as incarnation {self.inc}: rejoin with an empty disk")
                self._new_incarnation()
        elif isinstance(msg, (RunMap, RunReduce)):
            if msg.inc == self.inc:
                self._on_run(msg)
        elif isinstance(msg, DoneAck):
            if msg.inc == self.inc:
                self.reports.pop(msg.attempt, None)
        elif isinstance(msg, Abort):
            if msg.inc == self.inc and self.current is not None and self.current.attempt == msg.attempt:
                self._span("killed")
                self.current = None
        elif isinstance(msg, MapLocations):
            w = self.current
            if msg.inc == self.inc and w is not None and w.kind == "reduce" and w.attempt == msg.attempt:
                for m, a, where in msg.locations:
                    if m not in w.fetched and w.locations.get(m) != (a, where):
                        w.locations[m] = (a, where)
                        self.send(where, Fetch(m, a, w.task, w.attempt))
        elif isinstance(msg, ReadBlock):
            lines = self.storage["blocks"].get(msg.block)
            size = sum(len(s) + 1 for s in lines) if lines is not None else 0
            self._serve(src, BlockData(msg.block, msg.attempt, lines, size), size)
        elif isinstance(msg, BlockData):
            w = self.current
            if w is not None and w.kind == "map" and w.attempt == msg.attempt and w.phase == "read":
                if msg.lines is None:
                    self._retry()
                else:
                    self._span("read")
                    self._map(msg.lines)
        elif isinstance(msg, Fetch):
            held = self.disk.get(msg.map_task)
            if held is not None and held[0] == msg.map_attempt:
                pairs = held[1][msg.region]
                size = pairs_size(pairs)
                reply = Region(msg.map_task, msg.map_attempt, msg.region, msg.attempt, pairs, size)
                self._serve(src, reply, size)
            else:
                self.send(src, Region(msg.map_task, msg.map_attempt, msg.region, msg.attempt, None))
        elif isinstance(msg, Region):
            self._on_region(src, msg)
        elif isinstance(msg, (Created, Renamed, Appended)):
            self._on_namenode(msg)

    # ---- helpers --------------------------------------------------------------------------------
    def _serve(self, dst: str, reply: Any, size: int) -> None:
        """Answer after reading ``size`` bytes from this (maybe slow) disk and pushing them out."""
        self.tokens += 1
        self.outbox[self.tokens] = (dst, reply)
        delay = size / self.costs.disk_rate * self.slow + size / self.costs.net_rate
        self.set_timer(f"serve:{self.tokens}", delay)

    def _span(self, end_phase: str | None = None) -> None:
        w = self.current
        if w is not None:
            self.storage["timeline"].append((w.attempt, w.kind, w.task, end_phase or w.phase, w.phase_start,
                                             self.now))

    def _enter(self, phase: str, delay: float | None = None) -> None:
        w = self.current
        assert w is not None
        w.phase, w.phase_start = phase, self.now
        if delay is not None:
            self.set_timer(f"work:{w.attempt}", delay * self.slow)

    def _report(self, msg: Any) -> None:
        self.reports[msg.attempt] = msg
        self.send(self.master, msg)
        self.set_timer("report", self.resend_interval)

    def _fail(self, error: BaseException) -> None:
        w = self.current
        assert w is not None
        self.annotate(f"{w.kind} task {w.task} attempt {w.attempt} failed: {_error_text(error)}")
        self._span("failed")
        self.current = None
        self._report(TaskFailed(self.inc, w.attempt, _error_text(error)))

    def _exit(self) -> None:
        self.exited = True
        self.storage["exited_at"] = self.now
        for t in ("register", "report"):
            self.cancel_timer(t)
        if self.current is not None:
            self.cancel_timer(f"work:{self.current.attempt}")
            self.cancel_timer(f"retry:{self.current.attempt}")
        self.current = None

    # ---- running a task -----------------------------------------------------------------------------
    def _on_run(self, msg: RunMap | RunReduce) -> None:
        if msg.attempt in self.reports:          # finished already: the report was lost, say it again
            self.send(self.master, self.reports[msg.attempt])
            return
        if self.current is not None and self.current.attempt == msg.attempt:
            self.send(self.master, TaskAck(self.inc, msg.attempt))
            return
        if self.current is not None:              # one slot: a new assignment supersedes a stale one
            self._span("superseded")
        self.send(self.master, TaskAck(self.inc, msg.attempt))
        if isinstance(msg, RunMap):
            sp = msg.split
            self.current = _Work(msg.attempt, "map", sp.task, "read", self.now, split=sp)
            lines = self.storage["blocks"].get(sp.block)
            if lines is not None:                 # data locality: read the block from the local disk
                self._enter("read", sp.size / self.costs.disk_rate)
            else:
                self._read_remote()
        else:
            self.current = _Work(msg.attempt, "reduce", msg.task, "shuffle", self.now)
            self.current.locations = {m: (a, where) for m, a, where in msg.locations}
            for m, (a, where) in sorted(self.current.locations.items()):
                self.send(where, Fetch(m, a, msg.task, msg.attempt))
            self.set_timer(f"retry:{msg.attempt}", self.fetch_timeout)
            self._maybe_reduce()

    def _replicas_by_distance(self, sp: Split) -> list[str]:
        mine = self.racks.get(self.id)
        return sorted(sp.replicas, key=lambda n: (self.racks.get(n) != mine, sp.replicas.index(n)))

    def _read_remote(self) -> None:
        w = self.current
        assert w is not None and w.split is not None
        order = self._replicas_by_distance(w.split)
        target = order[w.replica % len(order)]
        self.send(target, ReadBlock(w.split.block, w.attempt))
        self.set_timer(f"retry:{w.attempt}", self.fetch_timeout)

    def _retry(self) -> None:
        w = self.current
        assert w is not None
        if w.kind == "map" and w.phase == "read":
            w.replica += 1                       # that replica is down, slow or lost the message: next one
            self._read_remote()
        elif w.kind == "reduce" and w.phase == "shuffle":
            missing = tuple(m for m in range(self.maps) if m not in w.fetched)
            for m in missing:
                if m in w.locations:
                    a, where = w.locations[m]
                    self.send(where, Fetch(m, a, w.task, w.attempt))
            self.send(self.master, WhereIs(self.inc, w.attempt, missing))
            self.set_timer(f"retry:{w.attempt}", self.fetch_timeout)
        elif w.kind == "reduce" and w.phase == "commit" and w.pending is not None:
            self.send(self.namenode, w.pending)
            self.set_timer(f"retry:{w.attempt}", self.fetch_timeout)

    def _phase_done(self) -> None:
        w = self.current
        assert w is not None
        self._span()
        if w.kind == "map":
            if w.phase == "read":
                assert w.split is not None
                self._map(self.storage["blocks"][w.split.block])
            elif w.phase == "map":
                self._enter("write", sum(pairs_size(r) for r in w.regions) / self.costs.disk_rate)
            elif w.phase == "write":
                self.disk[w.task] = (w.attempt, w.regions)
                self.current = None
                self._report(MapDone(self.inc, w.attempt, w.task, tuple(pairs_size(r) for r in w.regions)))
        else:
            if w.phase == "reduce":
                self._enter("write", sum(record_size(r) for r in w.records) / self.costs.disk_rate)
            elif w.phase == "write":
                self._commit()

    def _map(self, lines: Sequence[str]) -> None:
        """Run the user's map over the block, partition into R regions, combine (§3.1 steps 3-4)."""
        w = self.current
        assert w is not None and w.split is not None
        job, sp = self.job, w.split
        regions: list[list[tuple[Any, Any]]] = [[] for _ in range(self.reduces)]
        try:
            for i, line in enumerate(lines):
                for k, v in job.map((sp.path, sp.first + i), line):
                    regions[job.partition(k, self.reduces)].append((k, v))
            if job.combiner is not None:
                regions = [[(k, cv) for k, vs in _in_order(r) for cv in job.combiner(k, vs)] for r in regions]
        except Exception as e:   # a user function raised: this attempt failed (§3.3 retries it)
            self._fail(e)
            return
        w.regions = tuple(tuple(r) for r in regions)
        self._enter("map", self.costs.task_overhead + len(lines) * self.costs.cpu_per_record)

    def _on_region(self, src: str, msg: Region) -> None:
        w = self.current
        if w is None or w.kind != "reduce" or w.attempt != msg.attempt or w.phase != "shuffle":
            return
        if msg.map_task in w.fetched:
            return
        if msg.pairs is None:                    # that worker lost the output: ask the master again
            if w.locations.get(msg.map_task) == (msg.map_attempt, src):
                del w.locations[msg.map_task]
            return
        w.fetched[msg.map_task] = (msg.map_attempt, msg.pairs)
        self._maybe_reduce()

    def _maybe_reduce(self) -> None:
        """Once every map task's region is here: sort by key, group, reduce (§3.1 steps 5-6)."""
        w = self.current
        assert w is not None
        if len(w.fetched) < self.maps:
            return
        self._span()
        self.cancel_timer(f"retry:{w.attempt}")
        pairs = [p for m in range(self.maps) for p in w.fetched[m][1]]
        try:
            out = [rec for k, vs in group(pairs) for rec in self.job.reduce(k, vs)]
        except Exception as e:
            self._fail(e)
            return
        w.records = tuple(out)
        self._enter("reduce", self.costs.task_overhead + len(pairs) * self.costs.cpu_per_record)

    # ---- output: temporary file, then atomic rename (§3.3) ---------------------------------------------
    def final_path(self, region: int) -> str:
        return f"{self.out}/part-{region:05d}"

    def _meta(self, w: _Work) -> OutputMeta:
        return OutputMeta(w.task, w.attempt, tuple((m, w.fetched[m][0]) for m in range(self.maps)))

    def _commit(self) -> None:
        w = self.current
        assert w is not None
        tmp = f"{self.out}/_temporary/part-{w.task:05d}.attempt-{w.attempt}"
        self._enter("commit")
        w.pending = CreateFile(tmp, w.records, self._meta(w))
        self.send(self.namenode, w.pending)
        self.set_timer(f"retry:{w.attempt}", self.fetch_timeout)

    def _on_namenode(self, msg: Any) -> None:
        w = self.current
        if w is None or w.kind != "reduce" or w.phase != "commit" or w.pending is None:
            return
        if isinstance(msg, Created) and isinstance(w.pending, CreateFile) and msg.path == w.pending.path:
            w.pending = Rename(msg.path, self.final_path(w.task))
            self.send(self.namenode, w.pending)
        elif isinstance(msg, Renamed) and isinstance(w.pending, Rename) and msg.src == w.pending.src:
            if msg.ok:
                self._committed()
            else:   # the temporary file is gone (should not happen): write it again
                self._commit()
        elif isinstance(msg, Appended) and isinstance(w.pending, Append) and msg.attempt == w.attempt:
            self._committed()

    def _committed(self) -> None:
        w = self.current
        assert w is not None
        self.cancel_timer(f"retry:{w.attempt}")
        self._span()
        self.current = None
        self._report(ReduceDone(self.inc, w.attempt, w.task))


def _in_order(pairs: Sequence[tuple[Any, Any]]) -> list[tuple[Any, list]]:
    """Group pairs by key in order of first appearance (a combiner sees one key's values at a time)."""
    groups: dict[Any, list] = {}
    for k, v in pairs:
        groups.setdefault(k, []).append(v)
    return list(groups.items())


class AppendWorker(Worker):
    """BROKEN: a reduce task appends its records straight to the final file instead of writing a
    temporary file and renaming it. Two executions of one reduce task (a backup, or a worker wrongly
    declared dead) both append: the output holds every record twice."""

    def _commit(self) -> None:
        w = self.current
        assert w is not None
        self._enter("commit")
        w.pending = Append(self.final_path(w.task), w.records, self._meta(w))
        self.send(self.namenode, w.pending)
        self.set_timer(f"retry:{w.attempt}", self.fetch_timeout)


# ---- master ----------------------------------------------------------------------------------------
@dataclass
class _Task:
    """§3.2: a task's state (idle / in-progress / completed) and, for a completed map task, where its
    output is and how big each region is."""
    kind: str
    index: int
    state: str = "idle"
    running: list[int] = field(default_factory=list)      # live attempts
    location: tuple[int, str] | None = None               # completed map task: (attempt, worker)
    sizes: tuple[int, ...] = ()
    failures: int = 0
    lost: int = 0                                         # times its output died with a worker


@dataclass
class _WorkerState:
    inc: int
    last_seen: float
    alive: bool = True
    running: int | None = None


class Master(Node):
    """The MapReduce master (§3.2). ``splits`` are the M input splits (with their replicas), ``reduces``
    is R; ``racks`` maps worker -> rack; ``backups`` turns §3.6's backup tasks on; a task whose user code
    raised ``max_failures`` times fails the job, naming the task (never a hung job)."""

    def __init__(self, *, workers: Sequence[str], splits: Sequence[Split], reduces: int,
                 racks: Mapping[str, int], backups: bool = True, ping_interval: float = 0.25,
                 fail_after: float = 1.0, resend_interval: float = 0.2, max_failures: int = 3):
        self.expected = tuple(workers)
        self.splits = tuple(splits)
        self.reduces = integer("reduces", reduces, 1)
        self.racks = dict(racks)
        self.backups = flag("backups", backups)
        self.ping_interval = number("ping_interval", ping_interval, above=True)
        self.fail_after = number("fail_after", fail_after, above=True)
        self.resend_interval = number("resend_interval", resend_interval, above=True)
        self.max_failures = integer("max_failures", max_failures, 1)

    # ---- lifecycle ----------------------------------------------------------------------------------
    def on_start(self) -> None:
        st = self.storage
        st["status"], st["error"], st["done_at"] = "running", "", None
        st["attempts"] = {}   # attempt -> dict(kind, task, worker, start, end, status, backup, reexec, read)
        st["events"] = []     # (time, text): failures detected, tasks reset, job end
        self.maps = [_Task("map", i) for i in range(len(self.splits))]
        self.reds = [_Task("reduce", r) for r in range(self.reduces)]
        self.workers: dict[str, _WorkerState] = {}
        self.unacked: dict[int, Any] = {}
        self.reduce_phase = False
        self.set_timer("ping", self.ping_interval)
        self.set_timer("resend", self.resend_interval)

    def on_recover(self) -> None:
        """§3.3 Master Failure: "our current implementation aborts the MapReduce computation if the
        master fails". The task table was volatile; the job is marked failed."""
        self.maps, self.reds, self.workers, self.unacked = [], [], {}, {}
        if self.storage.get("status") == "running":
            self._end(False, "the master failed; the job is aborted (§3.3)")

    @property
    def status(self) -> str:
        return self.storage["status"]

    def _event(self, text: str) -> None:
        self.storage["events"].append((self.now, text))
        self.annotate(text)

    # ---- events -----------------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        if self.status != "running":
            return
        if name == "ping":
            for w in sorted(self.workers):
                ws = self.workers[w]
                if not ws.alive:
                    # keep asking: a worker cut off by a partition answers once it heals, and is told
                    # to rejoin (otherwise an idle worker would never speak to the master again)
                    self.send(w, Ping(ws.inc))
                elif self.now - ws.last_seen > self.fail_after:
                    self._worker_failed(w, f"no answer for {self.now - ws.last_seen:.2f}s")
                else:
                    self.send(w, Ping(ws.inc))
            self.set_timer("ping", self.ping_interval)
        elif name == "resend":
            for a, msg in list(self.unacked.items()):
                if self.storage["attempts"][a]["status"] == "running":
                    self.send(self.storage["attempts"][a]["worker"], msg)
                else:
                    del self.unacked[a]
            self.set_timer("resend", self.resend_interval)

    def on_message(self, src: str, msg: Any) -> None:
        if src not in self.expected:
            return
        if self.status != "running":
            self.send(src, JobDone(self.status == "done", self.storage["error"]))
            return
        inc = getattr(msg, "inc", None)
        if inc is None or not self._heard(src, inc, isinstance(msg, Register)):
            return
        if isinstance(msg, TaskAck):
            self.unacked.pop(msg.attempt, None)
        elif isinstance(msg, (MapDone, ReduceDone, TaskFailed)):
            self.send(src, DoneAck(inc, msg.attempt))
            self.unacked.pop(msg.attempt, None)
            self._finished(src, msg)
        elif isinstance(msg, WhereIs):
            found = tuple((m, t.location[0], t.location[1]) for m in msg.tasks
                          if (t := self.maps[m]).location is not None)
            if found:
                self.send(src, MapLocations(inc, msg.attempt, found))
        self._schedule()

    def _heard(self, w: str, inc: int, register: bool) -> bool:
        """Bookkeeping on any message from worker ``w``'s incarnation ``inc``; True if it is the live one."""
        ws = self.workers.get(w)
        if ws is None or inc > ws.inc:
            if ws is not None and ws.alive:
                self._worker_failed(w, f"it restarted as incarnation {inc}")
            self.workers[w] = _WorkerState(inc, self.now)
            self.send(w, Welcome(inc))
            return True
        if inc < ws.inc:
            return False                      # from an incarnation already replaced
        if not ws.alive:
            self.send(w, Rejoin(inc))         # declared dead (paused, partitioned): start afresh
            return False
        ws.last_seen = self.now
        if register:
            self.send(w, Welcome(inc))
        return True

    # ---- failures (§3.3) -----------------------------------------------------------------------------
    def _worker_failed(self, w: str, why: str) -> None:
        ws = self.workers[w]
        ws.alive, ws.running = False, None
        self._event(f"worker {w} (incarnation {ws.inc}) failed: {why}")
        attempts = self.storage["attempts"]
        for t in self.maps + self.reds:
            for a in [a for a in t.running if attempts[a]["worker"] == w]:
                t.running.remove(a)
                self._close(a, "lost")
            if t.state == "in-progress" and not t.running:
                t.state = "idle"
        self._reset_completed_maps(w)

    def _reset_completed_maps(self, w: str) -> None:
        """Completed map tasks of a failed worker run again: their output was on its local disk. Not
        needed once every reduce task has completed (nobody will fetch it)."""
        if all(t.state == "completed" for t in self.reds):
            return
        for t in self.maps:
            if t.state == "completed" and t.location is not None and t.location[1] == w:
                t.state, t.location, t.sizes = "idle", None, ()
                t.lost += 1
                self._event(f"map task {t.index} will re-execute: its output died with {w}")

    # ---- scheduling (§3.4 locality, §3.6 backups) -------------------------------------------------------
    def _schedule(self) -> None:
        if self.status != "running":
            return
        for w in sorted(self.workers):
            ws = self.workers[w]
            if ws.alive and ws.running is None:
                choice = self._pick(w)
                if choice is not None:
                    self._assign(w, *choice)
        self._preempt()

    def _preempt(self) -> None:
        """Free a slot for a map task that must re-run when every live worker holds a reduce task: those
        reduce tasks wait for that very map output, so nobody would ever run it (Hadoop's "reduce
        preemption"; the paper's machines ran several tasks at once and never hit this). The newest
        reduce attempt is stopped and its task goes back to idle; if it had already renamed its output,
        the re-run renames identical data over it."""
        if not any(t.state == "idle" for t in self.maps):
            return
        attempts = self.storage["attempts"]
        live = [ws for ws in self.workers.values() if ws.alive]
        if not live or any(ws.running is None or attempts[ws.running]["kind"] == "map" for ws in live):
            return
        a = max(ws.running for ws in live if ws.running is not None)
        info = attempts[a]
        t = self.reds[info["task"]]
        t.running.remove(a)
        if not t.running:
            t.state = "idle"
        self._close(a, "preempted")
        ws = self.workers[info["worker"]]
        ws.running = None
        self.send(info["worker"], Abort(ws.inc, a))
        self._event(f"reduce attempt {a} on {info['worker']} preempted: map task(s) must re-run first")
        self._schedule()

    def _locality(self, w: str, t: _Task) -> int:
        reps = self.splits[t.index].replicas
        if w in reps:
            return 0
        return 1 if any(self.racks.get(r) == self.racks.get(w) for r in reps) else 2

    def _pick(self, w: str) -> tuple[_Task, bool] | None:
        idle = [t for t in self.maps if t.state == "idle"]
        if idle:
            return min(idle, key=lambda t: (self._locality(w, t), t.index)), False
        if self.reduce_phase:
            idle = [t for t in self.reds if t.state == "idle"]
            if idle:
                return idle[0], False
        if not self.backups:
            return None
        # Close to the end of a phase (nothing idle left in it): back up the longest-running task
        # that has one attempt only, on another worker.
        # "Close to completion" is read as: some tasks of the phase have finished, and the candidate
        # has already run longer than twice the median finished attempt of its kind -- so a phase
        # whose tasks all started together gets no backups until one of them is done, and a task that
        # is merely a little bigger than the others is left alone.
        phase = self.maps if any(t.state != "completed" for t in self.maps) else self.reds
        kind = phase[0].kind
        attempts = self.storage["attempts"]
        took = sorted(i["end"] - i["start"] for i in attempts.values()
                      if i["kind"] == kind and i["status"] == "done")
        if not took:
            return None
        typical = 2 * took[len(took) // 2]
        cands = [t for t in phase if t.state == "in-progress" and len(t.running) == 1
                 and attempts[t.running[0]]["worker"] != w
                 and self.now - attempts[t.running[0]]["start"] > typical]
        if not cands:
            return None
        return min(cands, key=lambda t: (attempts[t.running[0]]["start"], t.index)), True

    def _assign(self, w: str, t: _Task, backup: bool) -> None:
        attempts = self.storage["attempts"]
        a = len(attempts) + 1
        ws = self.workers[w]
        read = ("local", "rack", "remote")[self._locality(w, t)] if t.kind == "map" else None
        attempts[a] = {"kind": t.kind, "task": t.index, "worker": w, "inc": ws.inc, "start": self.now,
                       "end": None, "status": "running", "backup": backup, "reexec": t.lost > 0, "read": read}
        t.state = "in-progress"
        t.running.append(a)
        ws.running = a
        if t.kind == "map":
            msg: Any = RunMap(ws.inc, a, self.splits[t.index])
        else:
            msg = RunReduce(ws.inc, a, t.index, self._locations())
        if backup:
            self.annotate(f"backup {t.kind} task {t.index} on {w}")
        self.unacked[a] = msg
        self.send(w, msg)

    def _locations(self) -> tuple[tuple[int, int, str], ...]:
        return tuple((t.index, t.location[0], t.location[1]) for t in self.maps if t.location is not None)

    def _close(self, a: int, status: str) -> None:
        info = self.storage["attempts"][a]
        info["status"], info["end"] = status, self.now

    # ---- completions ------------------------------------------------------------------------------
    def _finished(self, w: str, msg: MapDone | ReduceDone | TaskFailed) -> None:
        ws = self.workers[w]
        if ws.running == msg.attempt:
            ws.running = None
        info = self.storage["attempts"].get(msg.attempt)
        if info is None or info["status"] != "running":
            return                           # killed, lost or superseded: its result is not counted
        t = (self.maps if info["kind"] == "map" else self.reds)[info["task"]]
        t.running.remove(msg.attempt)
        if isinstance(msg, TaskFailed):
            self._close(msg.attempt, "failed")
            t.failures += 1
            if t.failures >= self.max_failures:
                self._end(False, f"{t.kind} task {t.index} failed {t.failures} times: {msg.error}")
            elif not t.running:
                t.state = "idle"
            return
        self._close(msg.attempt, "done")
        t.state = "completed"
        for other in t.running:              # the slower twin of a backup: stop it
            self._close(other, "killed")
            ow = self.storage["attempts"][other]["worker"]
            ows = self.workers.get(ow)
            if ows is not None and ows.running == other:
                ows.running = None
                self.send(ow, Abort(ows.inc, other))
        t.running = []
        if isinstance(msg, MapDone):
            t.location, t.sizes = (msg.attempt, w), msg.sizes
            if all(m.state == "completed" for m in self.maps):
                self.reduce_phase = True
            # §3.3: reduce workers that are still fetching learn the (new) location at once
            for r in self.reds:
                for ra in r.running:
                    rw = self.storage["attempts"][ra]["worker"]
                    self.send(rw, MapLocations(self.workers[rw].inc, ra, ((t.index, msg.attempt, w),)))
        elif all(r.state == "completed" for r in self.reds):
            self._end(True, "")

    def _end(self, ok: bool, error: str) -> None:
        st = self.storage
        st["status"], st["error"], st["done_at"] = ("done" if ok else "failed"), error, self.now
        for a, info in st["attempts"].items():
            if info["status"] == "running":
                self._close(a, "killed")
        self._event(f"job {'done' if ok else 'FAILED: ' + error}")
        self.cancel_timer("ping")
        self.cancel_timer("resend")
        for w in self.expected:
            self.send(w, JobDone(ok, error))


class ForgetfulMaster(Master):
    """BROKEN: does not re-run a failed worker's COMPLETED map tasks, as if map output were in the
    global file system. Reducers that still need that output wait for it for ever."""

    def _reset_completed_maps(self, w: str) -> None:
        return


# ---- a run -----------------------------------------------------------------------------------------
BROKEN = ("append", "forget-maps")


@dataclass
class MapReduceRun:
    """What :func:`run_mapreduce` returns: the world, the job and what the checker needs."""

    seed: int
    world: World
    job: Job
    files: dict[str, list[str]]
    splits: tuple[Split, ...]
    reduces: int
    workers: tuple[str, ...]
    backups: bool
    slow: dict[str, float]
    schedule: FaultSchedule
    broken: str | None = None
    out: str = "out"

    @property
    def master(self) -> dict:
        return self.world.storage[MASTER]

    @property
    def status(self) -> str:
        """"done", "failed" or "running" (did not finish by the end of the run)."""
        return self.master.get("status", "running")

    @property
    def outcome(self) -> str:
        return self.status

    @property
    def job_time(self) -> float | None:
        return self.master.get("done_at")

    @property
    def error(self) -> str:
        return self.master.get("error", "")

    @property
    def attempts(self) -> dict[int, dict]:
        return self.master.get("attempts", {})

    def output_files(self) -> dict[str, tuple]:
        nn = self.world.storage[NAMENODE]
        return {p: r for p, r in sorted(nn.get("files", {}).items())
                if p.startswith(self.out + "/") and "/_temporary/" not in p}

    def output_meta(self) -> dict[str, tuple[OutputMeta, ...]]:
        nn = self.world.storage[NAMENODE]
        return {p: nn["meta"][p] for p in self.output_files()}

    def records(self) -> list[Any]:
        """Every output record, part files in order."""
        return [r for recs in self.output_files().values() for r in recs]

    def executions(self, kind: str) -> dict[int, int]:
        """Task -> how many attempts of it were started (backups and re-executions included)."""
        n = len(self.splits) if kind == "map" else self.reduces
        out = {i: 0 for i in range(n)}
        for info in self.attempts.values():
            if info["kind"] == kind:
                out[info["task"]] += 1
        return out

    def reads(self) -> dict[str, int]:
        """Map attempts by where their block was read: local, rack (same rack) or remote (§3.4)."""
        out = {"local": 0, "rack": 0, "remote": 0}
        for info in self.attempts.values():
            if info["read"] is not None:
                out[info["read"]] += 1
        return out

    def shuffle_bytes(self) -> int:
        """Bytes of map output delivered to reducers (the shuffle), duplicates included."""
        return sum(r.msg.size for r in self.world.trace.records
                   if r.kind == "deliver" and isinstance(r.msg, Region) and r.msg.pairs is not None)

    def failures_detected(self) -> int:
        return sum(1 for _, text in self.master.get("events", ()) if text.startswith("worker "))

    def check(self) -> list[str]:
        from distlib.check.mapreduce import check_mapreduce  # the checker sits a layer above
        return check_mapreduce(self)

    def summary(self) -> str:
        ex_m, ex_r = self.executions("map"), self.executions("reduce")
        backups = sum(1 for i in self.attempts.values() if i["backup"])
        reads = self.reads()
        t = self.job_time
        when = f"in {t:.2f}s" if t is not None else f"not finished by t={self.world.now:g}"
        broken = f", BROKEN {self.broken}" if self.broken else ""
        err = f" ({self.error})" if self.status == "failed" else ""
        slow = ",".join(f"{w}x{f:g}" for w, f in self.slow.items()) or "none"
        return (f"mapreduce seed {self.seed} {self.job.name}{broken}: M={len(self.splits)} R={self.reduces} "
                f"on {len(self.workers)} workers, {self.status}{err} {when}; map attempts "
                f"{sum(ex_m.values())}, reduce attempts {sum(ex_r.values())} ({backups} backups); reads "
                f"local {reads['local']} rack {reads['rack']} remote {reads['remote']}; shuffle "
                f"{self.shuffle_bytes()} B; {len(self.records())} output records; slow: {slow}; "
                f"faults: {self.schedule.describe()}")

    def __repr__(self) -> str:
        return f"<MapReduceRun {self.summary()}>"


def worker_names(n: int) -> list[str]:
    return [f"w{i}" for i in range(1, n + 1)]


def run_mapreduce(seed: int = 0, *, job: str | Job = "wordcount",
                  files: Mapping[str, Sequence[str]] | None = None, lines: int = 120, workers: int = 4,
                  maps: int = 8, reduces: int = 3, racks: int = 2,
                  replication: int = 3, combiner: bool = True, backups: bool = True,
                  slow: Mapping[str, float] | None = None, faults: FaultSchedule | str | None = None,
                  loss: float = 0.0, duplicate: float = 0.0, latency: Any = (0.002, 0.006),
                  costs: Costs | None = None, until: float = 60.0, broken: str | None = None,
                  pattern: str = "error", max_failures: int = 3,
                  master_cls: type[Master] | None = None) -> MapReduceRun:
    """Run one MapReduce job on ``workers`` workers (``w1..wN``), a master and a name node ``nn``.

    ``job``: a name from :data:`JOB_NAMES` or a :class:`Job`; ``files``: path -> lines (default: the
    job's :func:`~distlib.compute.jobs.sample_input` with ``lines`` lines); ``maps``/``reduces``: M and
    R; ``slow``: worker -> factor >= 1 (stragglers); ``faults``: a schedule or its text over the workers
    (and master/nn); ``broken``: None, "append" (reduce without atomic rename) or "forget-maps" (a master
    that does not re-run a failed worker's completed maps); ``master_cls``: a :class:`Master` subclass to
    run instead (chapter 09's exercises plug a learner's rule into one). Runs until the job ends or ``until``.
    """
    seed = check_seed(seed)
    nworkers = integer("workers", workers, 1, 64)
    integer("reduces", reduces, 1)
    flag("combiner", combiner)
    flag("backups", backups)
    if broken is not None:
        one_of("broken", broken, BROKEN)
    if master_cls is not None:
        subclass("master_cls", master_cls, Master)
    names = worker_names(nworkers)
    if isinstance(job, Job):
        if files is None:
            raise ValueError("files must be given with a Job object (sample inputs exist only for the "
                             "named jobs)")
    else:
        one_of("job", job, JOB_NAMES)
    if files is None:
        files = sample_input(str(job), seed, lines)
    check_files(files)
    files = {p: list(v) for p, v in files.items()}
    the_job = job if isinstance(job, Job) else build_job(job, files=files, reduces=reduces, seed=seed,
                                                          combiner=combiner, pattern=pattern)
    if isinstance(job, Job) and not combiner:
        the_job = the_job.without_combiner()
    slow_of = dict(slow or {})
    for w, f in slow_of.items():
        one_of("slow worker", w, names)
        number(f"slow[{w!r}]", f, 1.0)
    costs = costs if costs is not None else Costs()
    if not isinstance(costs, Costs):
        raise ValueError(f"costs must be a Costs value (got {costs!r})")
    dfs = DFS(names, racks=racks, replication=replication)
    splits = dfs.load_input(files, maps)
    schedule = as_schedule(faults, [MASTER, NAMENODE, *names])
    world = World(seed, latency=latency, loss=loss, duplicate=duplicate)
    if master_cls is None:
        master_cls = ForgetfulMaster if broken == "forget-maps" else Master
    worker_cls = AppendWorker if broken == "append" else Worker
    world.add_node(MASTER, master_cls, workers=names, splits=splits, reduces=reduces, racks=dfs.racks,
                   backups=backups, max_failures=max_failures)
    world.add_node(NAMENODE, NameNode, files=dfs.files)
    for w in names:
        world.add_node(w, worker_cls, job=the_job, maps=len(splits), reduces=reduces, racks=dfs.racks,
                       slow=slow_of.get(w, 1.0), costs=costs)
        world.storage[w]["blocks"] = dfs.held_by(w)    # the worker's DFS disk, loaded before it boots
    world.start()
    schedule.apply(world)
    world.run(until=number("until", until, above=True))
    return MapReduceRun(seed, world, the_job, files, tuple(splits), reduces, tuple(names), backups, slow_of,
                        schedule, broken)


def random_mapreduce(seed: int, *, broken: str | None = None, backups: bool | None = None) -> MapReduceRun:
    """A randomized run for sweeps: a job, M, R and 3-6 workers drawn from the seed; 0-3 worker faults
    (crash with restart, at most one crash-stop, pause, partition) all healed by t=2; maybe one slow
    worker (3x, 10x or 30x; without backups such a job may take minutes, hence ``until=400``); up to 5%
    loss and 2% duplication."""
    check_seed(seed)
    rng = stream(seed, "mapreduce-sweep")
    job = rng.choice(JOB_NAMES)
    n = rng.randint(3, 6)
    names = worker_names(n)
    lines = rng.randint(20, 80)
    maps = rng.randint(3, 8)
    reduces = rng.randint(1, 4)
    kinds = ["crash", "pause", "partition"] + (["crash-stop"] if n >= 4 else [])
    schedule = FaultSchedule.random(seed, names, horizon=2.0, faults=rng.randint(0, 3), kinds=kinds)
    stops = [f for f in schedule if getattr(f, "restart", 0) is None]
    if len(stops) > 1:   # more permanent failures than replicas-1 could lose a block for good
        schedule = FaultSchedule([f for f in schedule if f not in stops[1:]])
    slow = {rng.choice(names): float(rng.choice((3, 10, 30)))} if rng.random() < 0.3 else {}
    return run_mapreduce(seed, job=job, lines=lines, workers=n, maps=maps, reduces=reduces,
                         combiner=rng.random() < 0.7,
                         backups=(rng.random() < 0.7) if backups is None else backups,
                         slow=slow, faults=schedule, loss=rng.choice((0.0, 0.02, 0.05)),
                         duplicate=rng.choice((0.0, 0.02)), broken=broken, until=400.0)
