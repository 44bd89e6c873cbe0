"""A distributed file system just big enough for MapReduce: files in blocks, replicas, a name service.

Ghemawat, Gobioff & Leung, "The Google File System" (SOSP 2003): files are split into fixed-size
chunks, each replicated on several chunkservers (3 by default, §2.3), and a single master keeps the
namespace and where every chunk lives (§2.6). Replica placement (§4.2) spreads replicas across racks
(a whole rack can fail) and prefers chunkservers with below-average disk use. Here the blocks are
placed the way HDFS does it by default: the first replica on the least-loaded node, the second on the
least-loaded node of *another* rack, the third on another node of the second replica's rack (two
racks survive a rack failure; one cross-rack copy saves bandwidth). Ties are broken by a stable hash.

Decisions:
- A block holds whole lines (a record never straddles two blocks), so a map task reads one block.
  The input is cut into exactly M blocks, one per map task (the paper's M input splits, §3.1).
- The workers are also the datanodes (the paper's workers run GFS chunkservers, §3.4); a block's
  replica sits in the worker's durable ``storage["blocks"]`` -- it survives a crash.
- :class:`NameNode` is an actor that serves the *output* namespace: a reduce task writes a temporary
  file and renames it atomically (§3.3 "Semantics in the Presence of Failures"); the input block map
  is computed here, at load time, and handed to the master with the splits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlib.partitioning.hashing import stable_hash
from distlib.sim import Node
from distlib.sim.validate import integer
from distlib.sim.validate import names as name_list


@dataclass(frozen=True)
class Split:
    """One input split = one block: map task ``task`` reads lines ``first..first+len-1`` of ``path``."""
    task: int
    block: str
    path: str
    first: int
    lines: int
    size: int                                  # bytes
    replicas: tuple[str, ...]


def split_counts(line_counts: Sequence[int], m: int) -> list[int]:
    """How many blocks each file gets so that there are ``m`` in all: proportional to its lines
    (largest remainder), at least one per file, never more than its lines."""
    total = sum(line_counts)
    counts = [1] * len(line_counts)
    left = m - len(line_counts)
    while left > 0:
        # the file whose blocks are currently the largest gets one more block (ties: first file)
        best = max((i for i in range(len(line_counts)) if counts[i] < line_counts[i]),
                   key=lambda i: (line_counts[i] / counts[i], -i))
        counts[best] += 1
        left -= 1
    assert sum(counts) == m <= total
    return counts


def racks_of(nodes: Sequence[str], racks: int) -> dict[str, int]:
    """Nodes in contiguous groups of racks: with 6 nodes and 2 racks, the first 3 share rack 0."""
    return {n: (i * racks) // len(nodes) for i, n in enumerate(nodes)}


class DFS:
    """Files of lines cut into blocks, each block's replicas placed on ``replication`` of ``nodes``."""

    def __init__(self, nodes: Sequence[str], *, racks: int = 2, replication: int = 3):
        self.nodes = name_list("nodes", nodes)
        self.replication = integer("replication", replication, 1, len(self.nodes))
        self.racks = racks_of(self.nodes, integer("racks", racks, 1, len(self.nodes)))
        self.files: dict[str, tuple[str, ...]] = {}        # path -> block ids, in order
        self.blocks: dict[str, tuple[str, ...]] = {}       # block id -> lines
        self.locations: dict[str, tuple[str, ...]] = {}    # block id -> replica nodes
        self.load: dict[str, int] = {n: 0 for n in self.nodes}

    def _least_loaded(self, block: str, candidates: Sequence[str]) -> str:
        return min(candidates, key=lambda n: (self.load[n], stable_hash((block, n))))

    def place(self, block: str) -> tuple[str, ...]:
        """Replica nodes for a new block (HDFS default policy over GFS's rack spreading)."""
        chosen: list[str] = []
        first = self._least_loaded(block, self.nodes)
        racks = sorted(set(self.racks.values()))
        if len(racks) > 1 and self.replication >= 3:
            # The rack that takes two replicas is the least loaded one (per node), so racks stay even;
            # the first replica goes to the least-loaded node elsewhere (HDFS: the writer's node).
            def rack_load(r: int) -> tuple[float, int]:
                members = [n for n in self.nodes if self.racks[n] == r]
                return (sum(self.load[n] for n in members) / len(members), r)
            pair = min((r for r in racks if sum(1 for n in self.nodes if self.racks[n] == r) >= 2),
                       key=rack_load, default=None)
            if pair is not None:
                first = self._least_loaded(block, [n for n in self.nodes if self.racks[n] != pair])
        chosen.append(first)
        while len(chosen) < self.replication:
            free = [n for n in self.nodes if n not in chosen]
            if len(chosen) == 1:
                other = [n for n in free if self.racks[n] != self.racks[first]]
                pick = other or free
            elif len(chosen) == 2:
                same = [n for n in free if self.racks[n] == self.racks[chosen[1]]]
                pick = same or free
            else:
                pick = free
            chosen.append(self._least_loaded(block, pick))
        for n in chosen:
            self.load[n] += 1
        return tuple(chosen)

    def put(self, path: str, lines: Sequence[str], blocks: int) -> list[str]:
        """Store ``lines`` as file ``path`` in ``blocks`` blocks of (nearly) equal line counts."""
        if not isinstance(path, str) or not path:
            raise ValueError(f"path must be a non-empty string (got {path!r})")
        if path in self.files:
            raise ValueError(f"path must be a new file ({path!r} exists)")
        integer("blocks", blocks, 1, max(1, len(lines)))
        ids = []
        for b in range(blocks):
            lo, hi = (b * len(lines)) // blocks, ((b + 1) * len(lines)) // blocks
            bid = f"{path}#{b}"
            self.blocks[bid] = tuple(lines[lo:hi])
            self.locations[bid] = self.place(bid)
            ids.append(bid)
        self.files[path] = tuple(ids)
        return ids

    def load_input(self, files: Mapping[str, Sequence[str]], maps: int) -> list[Split]:
        """Store every input file and return the ``maps`` splits, one per block, in input order."""
        check_files(files)
        total = sum(len(v) for v in files.values())
        integer("maps", maps, len(files), total)
        splits: list[Split] = []
        counts = split_counts([len(v) for v in files.values()], maps)
        for (path, lines), count in zip(files.items(), counts, strict=True):
            first = 0
            for bid in self.put(path, list(lines), count):
                data = self.blocks[bid]
                splits.append(Split(len(splits), bid, path, first, len(data), sum(len(s) + 1 for s in data),
                                    self.locations[bid]))
                first += len(data)
        return splits

    def held_by(self, node: str) -> dict[str, tuple[str, ...]]:
        """The blocks (id -> lines) whose replica sits on ``node``."""
        return {b: self.blocks[b] for b, where in self.locations.items() if node in where}


def check_files(files: object) -> None:
    """``files`` must map non-empty paths to non-empty lists of strings."""
    if not isinstance(files, Mapping) or not files:
        raise ValueError(f"files must map file names to lists of lines (got {files!r})")
    for path, lines in files.items():
        if not isinstance(path, str) or not path:
            raise ValueError(f"files must be keyed by non-empty file names (got {path!r})")
        if (isinstance(lines, str) or not isinstance(lines, Sequence)
                or not all(isinstance(s, str) for s in lines)):
            raise ValueError(f"files[{path!r}] must be a list of lines (strings) (got {lines!r})")
        if not lines:
            raise ValueError(f"files[{path!r}] must not be empty (an empty input file)")


# ---- the output namespace: messages and the name service ---------------------------------------------
@dataclass(frozen=True)
class OutputMeta:
    """Who wrote an output file: the reduce attempt and the map attempt each of its inputs came from."""
    task: int
    attempt: int
    inputs: tuple[tuple[int, int], ...] = field(repr=False)   # (map task, map attempt)


@dataclass(frozen=True)
class CreateFile:
    """Reduce worker -> name node: write ``path`` (a temporary file) with ``records``."""
    path: str
    records: tuple = field(repr=False)
    meta: OutputMeta


@dataclass(frozen=True)
class Created:
    path: str


@dataclass(frozen=True)
class Rename:
    """Atomically rename ``src`` to ``dst`` (POSIX: an existing ``dst`` is replaced in one step)."""
    src: str
    dst: str


@dataclass(frozen=True)
class Renamed:
    src: str
    dst: str
    ok: bool


@dataclass(frozen=True)
class Append:
    """Append ``records`` to ``path`` -- what the BROKEN reducer does instead of rename."""
    path: str
    records: tuple = field(repr=False)
    meta: OutputMeta


@dataclass(frozen=True)
class Appended:
    path: str
    attempt: int


class NameNode(Node):
    """The output side of the DFS: files, their writers, atomic rename. Everything is in storage
    (GFS's master logs namespace mutations, §2.6.3)."""

    def __init__(self, *, files: Mapping[str, Sequence[str]] | None = None):
        self.input_files = {p: tuple(b) for p, b in (files or {}).items()}   # path -> block ids

    def on_start(self) -> None:
        self.storage.setdefault("inputs", dict(self.input_files))
        self.storage.setdefault("files", {})      # path -> records
        self.storage.setdefault("meta", {})       # path -> tuple of OutputMeta (who wrote it)
        self.storage.setdefault("renamed", {})    # dst -> src of the last rename

    def on_recover(self) -> None:
        self.on_start()

    def on_message(self, src: str, msg: Any) -> None:
        files, meta = self.storage["files"], self.storage["meta"]
        if isinstance(msg, CreateFile):
            files[msg.path] = msg.records           # a re-sent create writes the same bytes again
            meta[msg.path] = (msg.meta,)
            self.send(src, Created(msg.path))
        elif isinstance(msg, Rename):
            if msg.src in files:
                files[msg.dst] = files.pop(msg.src)
                meta[msg.dst] = meta.pop(msg.src)
                self.storage["renamed"][msg.dst] = msg.src
                self.send(src, Renamed(msg.src, msg.dst, True))
            else:   # a duplicate of a rename that already happened is answered the same way
                self.send(src, Renamed(msg.src, msg.dst, self.storage["renamed"].get(msg.dst) == msg.src))
        elif isinstance(msg, Append):
            files[msg.path] = files.get(msg.path, ()) + msg.records
            meta[msg.path] = meta.get(msg.path, ()) + (msg.meta,)
            self.send(src, Appended(msg.path, msg.meta.attempt))

    def outputs(self, prefix: str) -> dict[str, tuple]:
        """Final files under ``prefix`` (temporary files left out), by path."""
        return {p: r for p, r in sorted(self.storage["files"].items())
                if p.startswith(prefix) and "/_temporary/" not in p}
