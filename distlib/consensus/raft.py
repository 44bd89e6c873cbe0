"""Raft: every rule of Figure 2, plus log compaction (§7), as a simulated actor.

Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm"
(USENIX ATC 2014). Rules are named after Figure 2 of the paper, e.g.
``# Fig. 2, RequestVote receiver 2`` — read the code beside the figure.

State, exactly as in Figure 2::

    persistent (self.storage)   currentTerm, votedFor, log[], snapshot (§7)
    volatile (all servers)      commitIndex, lastApplied, role
    volatile (leaders)          nextIndex[], matchIndex[]

Persistent state is written to ``storage`` *before* the RPC that depends on it
is answered (``storage`` is the simulated disk: it survives a crash, every
other attribute is lost).

Choices the figure leaves open, made here:

* Log indices start at 1; index 0 / term 0 is the empty prefix.
* **Fast back-off** (the optimisation at the end of §5.3): a failed
  AppendEntries reply carries ``conflict_term`` / ``conflict_index`` so the
  leader skips a whole conflicting term at a time instead of one entry.
* A replies carries ``match_index`` (the last index it verified) so that
  replies arriving out of order cannot move ``matchIndex`` backwards.
* A new leader appends a **no-op** entry of its own term (§8) so that entries
  of earlier terms commit promptly; ``noop_on_elect=False`` turns it off, which
  the :func:`figure8` scenario needs to replay the paper's Figure 8.
* Snapshots (§7, Figure 13) are sent in one chunk (offset 0, done=true).
* **Flow control** (after etcd-io/raft's ``Progress``): the leader keeps, per follower, a state —
  *probe* (one AppendEntries at a time until the follower's log position is found), *replicate*
  (entries streamed, at most ``max_inflight`` AppendEntries unanswered; commands that arrive while
  the window is full wait and leave together in the next one) or *snapshot* (an InstallSnapshot is
  out; nothing else is sent). A reply older than what the leader already knows never moves
  ``nextIndex``/``matchIndex`` backwards and never triggers a send. A follower that has been sent
  nothing for ``heartbeat`` seconds gets an AppendEntries (the heartbeat, Fig. 2 Leaders 1); what
  was in flight to it by then is presumed lost and is sent again.
* **PreVote and CheckQuorum** (Ongaro's thesis §9.6, §4.2.3; both off by default, so the core is
  Figure 2 and the chapter can show the disruption they cure). With ``pre_vote`` a server whose
  election timer fires first asks for *pre-votes* without touching its term; a peer grants one only if
  the log is up to date and it has not heard from a leader within the minimum election timeout. A
  server cut off alone can no longer inflate its term and depose a healthy leader when it returns.
  With ``check_quorum`` a leader that has not heard from a majority for a minimum election timeout
  steps down, and a server that heard from its leader within the minimum election timeout ignores
  RequestVote (it neither grants it nor adopts its term — "leader stickiness").
* Failed AppendEntries replies name the ``prevLogIndex`` they refused (``reject_index``) so the
  leader can tell a current refusal from a stale one.
* :meth:`RaftNode.campaign` lets a scripted scenario start an election now, as
  if the election timer had fired.

**Membership change. Decision: single-server changes** (Ongaro's PhD thesis, 2014, §4.1), not
the joint consensus of the extended paper (§6, Figures 10-11). When C_old and C_new differ by
one server, every majority of C_old and every majority of C_new share a server, so no two
leaders of one term can be elected and no two different entries committed, whatever mix of
old and new configurations the servers hold at a moment — one log entry does the change, with
no intermediate C_old,new, and it is what the thesis recommends for most systems. Switching
directly between configurations that differ by more (replace n1 by n4: {n1,n2,n3} ->
{n2,n3,n4}) is the hazard joint consensus exists for (paper §6, Figure 10): {n1,n2} is a
majority of C_old and {n3,n4} of C_new, disjoint, so both sides elect a leader in the same term.
``config_change="direct"`` (BROKEN) does that (:func:`direct_change`; the model checker finds it
in :mod:`distlib.check.raft_membership`).

* A configuration is a log entry (:class:`Configuration`) and takes effect on a server as soon
  as it is APPENDED to its log, committed or not (thesis §4.1); the latest one in the log is used
  for elections and commitment. If it is deleted by a conflicting leader, the previous one
  holds again. The initial configuration is ``members`` (default: every server of the cluster,
  so nothing changes for a cluster that never reconfigures). Snapshots carry the configuration
  as of their last index (paper §7).
* Admin RPCs (thesis Fig. 4.3): :class:`AddServer`, :class:`RemoveServer` (and
  :class:`Reconfigure`) to the leader, answered with :class:`MembershipReply` OK once the new
  configuration is committed, NOT_LEADER, TIMEOUT, IN_PROGRESS or INVALID; the same as methods
  (:meth:`RaftNode.add_server`, ...). One change at a time: the next is refused until the
  previous one is committed.
* Ongaro's 2015 fix (raft-dev, "bug in single-server membership changes"): a leader appends no
  configuration entry until an entry of its own term is committed; the change waits for it.
  :class:`EarlyConfigRaft` (BROKEN) skips the rule and :func:`config_before_commit` shows the bug.
* A new server is first a non-voting **learner**: it receives AppendEntries/InstallSnapshot but
  neither its vote nor its log counts. It is caught up in rounds (thesis §4.2.1): a round
  replicates up to the leader's last index at the round's start; when a round ends within an
  election timeout the configuration with the server is appended; a round that lasts longer
  starts another; after ``catchup_rounds`` rounds the change fails with TIMEOUT.
* A leader that C_new removes keeps replicating without counting itself until C_new is
  committed, then steps down (thesis §4.2.2).
* A server not in its own latest configuration does not start elections (a new server waiting
  to be added, or one removed: etcd-io/raft's rule too). The thesis (§4.2.2) lets such
  a server campaign while C_new may be uncommitted, because it can be the only one able to win;
  skipping that costs liveness only, until the server holding C_new returns. A removed server
  that never received C_new still thinks it is a voter and, cut off from heartbeats, disrupts
  the cluster with higher terms (thesis §4.2.3): PreVote cures it (see :func:`membership_change`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from distlib.sim import Annotate, Deliver, Node, World
from distlib.sim.validate import flag, integer, names, number, one_of, span, subclass

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
# A leader's view of one follower's replication (etcd-io/raft's Progress states).
PROBE, REPLICATE, SNAPSHOT = "probe", "replicate", "snapshot"


# ---- log entries, snapshots and the state-machine interface -------------------------------------
@dataclass(frozen=True)
class NoOp:
    """The blank entry a new leader appends (§8); state machines never see it."""

    def __repr__(self) -> str:
        return "no-op"


NOOP = NoOp()


@dataclass(frozen=True)
class Entry:
    """One log entry: the term it was created in and the command."""

    term: int
    command: Any

    def __repr__(self) -> str:
        return f"Entry(t={self.term}, {self.command!r})"


@dataclass(frozen=True)
class Snapshot:
    """A compacted prefix of the log (§7): everything up to and including ``last_index``."""

    last_index: int
    last_term: int
    data: Any
    config: tuple[str, ...] | None = None    # the voters as of last_index (None: the initial ones)

    def __repr__(self) -> str:
        return f"Snapshot(upTo={self.last_index}, term={self.last_term})"


@dataclass(frozen=True)
class Configuration:
    """A configuration entry's command (thesis §4.1): the voting servers from this entry on.

    It takes effect on a server as soon as it is in that server's log, committed or not; state
    machines never see it (like the no-op)."""

    voters: tuple[str, ...]

    def __repr__(self) -> str:
        return "config{" + ",".join(self.voters) + "}"


class StateMachine(Protocol):
    """What Raft replicates. ``apply`` must be deterministic."""

    def apply(self, command: Any) -> Any: ...
    def snapshot(self) -> Any: ...            # an immutable copy of the state
    def restore(self, data: Any) -> None: ...


class ListMachine:
    """The default state machine: it remembers every command applied, in order."""

    def __init__(self) -> None:
        self.commands: list[Any] = []

    def apply(self, command: Any) -> Any:
        self.commands.append(command)
        return len(self.commands)

    def snapshot(self) -> Any:
        return tuple(self.commands)

    def restore(self, data: Any) -> None:
        self.commands = list(data)


# ---- RPCs (Figure 2; InstallSnapshot from Figure 13) ----------------------------------------------
@dataclass(frozen=True)
class RequestVote:
    term: int
    candidate: str
    last_log_index: int
    last_log_term: int

    def __repr__(self) -> str:
        return (f"RequestVote(term={self.term}, cand={self.candidate}, lastIdx={self.last_log_index}, "
                f"lastTerm={self.last_log_term})")


@dataclass(frozen=True)
class RequestVoteReply:
    term: int
    granted: bool

    def __repr__(self) -> str:
        return f"VoteReply(term={self.term}, granted={self.granted})"


@dataclass(frozen=True)
class PreVote:
    """Thesis §9.6: "would you vote for me in ``term``?" — sent without incrementing currentTerm."""

    term: int                # the term the sender would campaign in (its currentTerm + 1)
    candidate: str
    last_log_index: int
    last_log_term: int

    def __repr__(self) -> str:
        return (f"PreVote(term={self.term}, cand={self.candidate}, lastIdx={self.last_log_index}, "
                f"lastTerm={self.last_log_term})")


@dataclass(frozen=True)
class PreVoteReply:
    term: int                # the receiver's currentTerm (a higher one makes the asker adopt it)
    granted: bool
    for_term: int            # the term the pre-vote was asked for

    def __repr__(self) -> str:
        return f"PreVoteReply(term={self.term}, granted={self.granted}, for={self.for_term})"


@dataclass(frozen=True)
class AppendEntries:
    term: int
    leader: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int
    sent_at: float = 0.0      # the leader's clock at sending; echoed back (ReadIndex and leases, §6.4)

    def __repr__(self) -> str:
        ents = ", ".join(repr(e) for e in self.entries[:3]) + (", ..." if len(self.entries) > 3 else "")
        return (f"AppendEntries(term={self.term}, leader={self.leader}, prev={self.prev_log_index}"
                f"/t{self.prev_log_term}, entries=[{ents}], commit={self.leader_commit})")


@dataclass(frozen=True)
class AppendEntriesReply:
    term: int
    success: bool
    match_index: int = 0                 # success: last index known to match the leader's log
    conflict_index: int = 0              # failure: where the leader should retry (fast back-off)
    conflict_term: int | None = None
    reject_index: int | None = None      # failure: the prevLogIndex refused (tells stale from current)
    sent_at: float = 0.0                 # the AppendEntries' sent_at: "I still followed you then"

    def __repr__(self) -> str:
        if self.success:
            return f"AppendReply(term={self.term}, ok, match={self.match_index})"
        return (f"AppendReply(term={self.term}, FAIL, conflictIdx={self.conflict_index}, "
                f"conflictTerm={self.conflict_term})")


@dataclass(frozen=True)
class InstallSnapshot:
    term: int
    leader: str
    last_included_index: int
    last_included_term: int
    data: Any
    config: tuple[str, ...] | None = None    # the snapshot's configuration (§7)

    def __repr__(self) -> str:
        return (f"InstallSnapshot(term={self.term}, leader={self.leader}, "
                f"upTo={self.last_included_index}/t{self.last_included_term})")


@dataclass(frozen=True)
class InstallSnapshotReply:
    term: int
    last_included_index: int

    def __repr__(self) -> str:
        return f"SnapshotReply(term={self.term}, upTo={self.last_included_index})"


# ---- membership change: the admin RPCs of thesis Figure 4.3 -------------------------------------------
# Replies: OK once the new configuration is committed; NOT_LEADER (with a hint); TIMEOUT when a new
# server did not catch up within ``catchup_rounds`` rounds; IN_PROGRESS while another change is not
# committed; INVALID for a request no configuration could grant (``detail`` says why).
OK, NOT_LEADER, TIMEOUT, IN_PROGRESS, INVALID = "ok", "not leader", "timeout", "in progress", "invalid"
CONFIG_CHANGES = ("single", "direct")


@dataclass(frozen=True)
class AddServer:
    """Thesis Fig. 4.3 AddServer: add ``server`` to the cluster (after it catches up as a learner)."""

    req_id: str
    server: str

    def __repr__(self) -> str:
        return f"AddServer({self.server})"


@dataclass(frozen=True)
class RemoveServer:
    """Thesis Fig. 4.3 RemoveServer: remove ``server`` from the cluster."""

    req_id: str
    server: str

    def __repr__(self) -> str:
        return f"RemoveServer({self.server})"


@dataclass(frozen=True)
class Reconfigure:
    """Switch to the configuration ``voters``: one server different (an AddServer or RemoveServer),
    or, only with the BROKEN ``config_change="direct"``, any other set in one step."""

    req_id: str
    voters: tuple[str, ...]

    def __repr__(self) -> str:
        return "Reconfigure{" + ",".join(self.voters) + "}"


@dataclass(frozen=True)
class MembershipReply:
    req_id: str
    status: str                       # OK, NOT_LEADER, TIMEOUT, IN_PROGRESS or INVALID
    leader_hint: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    def __repr__(self) -> str:
        hint = f", leader={self.leader_hint}" if self.leader_hint and self.status == NOT_LEADER else ""
        return f"MembershipReply({self.status}{hint})"


# ---- flow control --------------------------------------------------------------------------------------
@dataclass
class Progress:
    """The leader's view of one follower beyond nextIndex/matchIndex (etcd-io/raft's ``Progress``).

    ``state`` is PROBE, REPLICATE or SNAPSHOT. ``inflight`` holds, oldest first, the last log index
    carried by each AppendEntries still unanswered (in PROBE: the one probe, even if empty).
    ``pending_snapshot`` is the last index of the InstallSnapshot out (SNAPSHOT only).
    """

    state: str = PROBE
    inflight: deque[int] = field(default_factory=deque)
    pending_snapshot: int = 0

    def __repr__(self) -> str:
        return f"Progress({self.state}, inflight={list(self.inflight)})"


@dataclass
class MembershipChange:
    """The one configuration change a leader is working on (thesis §4.1, §4.2.1).

    ``voters`` is the configuration it leads to; ``index`` the log index of its entry once
    appended. A server being added is first a learner, caught up in rounds: round ``rounds`` ends
    when the learner holds the leader's log up to ``round_end`` (its last index when the round
    began); ``caught_up`` once a round ended within an election timeout.
    """

    op: str                           # "add", "remove" or "direct"
    server: str | None
    voters: tuple[str, ...]
    token: Any
    reply_to: str | None = None       # who sent the admin RPC (None: a direct call)
    index: int | None = None
    rounds: int = 0
    round_end: int = 0
    caught_up: bool = False


@dataclass
class PendingRead:
    """A read the leader is working on (thesis §6.4): ``since`` is our clock when it arrived; ``index``
    the readIndex once our leadership since then is confirmed (or the lease covers it)."""

    token: Any
    since: float
    lease: bool = False
    index: int | None = None


# ---- the server -----------------------------------------------------------------------------------
class RaftNode(Node):
    """One Raft server.

    Config (keyword arguments, re-applied on restart):

    * ``election_timeout`` — ``(low, high)`` seconds; each wait is drawn uniformly (§5.2).
    * ``heartbeat`` — seconds between a leader's AppendEntries rounds; must be < ``low``.
    * ``snapshot_threshold`` — compact once this many applied entries sit in the log (None: never).
    * ``state_machine`` — a zero-argument factory for the replicated state machine.
    * ``noop_on_elect`` — a new leader appends a no-op of its term (§8).
    * ``max_entries`` — at most this many entries per AppendEntries.
    * ``max_inflight`` — at most this many AppendEntries with entries unanswered per follower
      (the replicate window; 1 = stop and wait, batching whatever arrives meanwhile).
    * ``pre_vote`` / ``check_quorum`` — the thesis §9.6 extensions (see the module docstring).
    * ``clock_rate`` — this server's clock runs at this many seconds per real second (drift); every
      timer and every lease is measured on it.
    * ``drift_bound`` — the leader's lease (§6.4.1) lasts the minimum election timeout divided by
      this; it must be at least the largest ratio of two servers' clock rates.
    * ``members`` — the initial configuration (the voters before any configuration entry); None:
      every server of the cluster. A server outside it waits to be added (see the module docstring).
    * ``catchup_rounds`` — a server being added gets this many catch-up rounds (thesis §4.2.1).
    * ``config_change`` — "single" (thesis §4.1), or the BROKEN "direct" (any new configuration
      in one entry).
    """

    def __init__(self, *, election_timeout: tuple[float, float] = (0.15, 0.3), heartbeat: float = 0.05,
                 snapshot_threshold: int | None = None,
                 state_machine: Callable[[], StateMachine] = ListMachine,
                 noop_on_elect: bool = True, max_entries: int = 64, max_inflight: int = 1,
                 pre_vote: bool = False, check_quorum: bool = False, clock_rate: float = 1.0,
                 drift_bound: float = 1.1, members: Sequence[str] | None = None, catchup_rounds: int = 10,
                 config_change: str = "single"):
        self.election_timeout = span("election_timeout", election_timeout)
        if number("heartbeat", heartbeat, above=True) >= self.election_timeout[0]:
            raise ValueError(f"heartbeat must be a number in (0, election_timeout low="
                             f"{self.election_timeout[0]:g}) (got {heartbeat!r})")
        self.heartbeat = float(heartbeat)
        self.snapshot_threshold = (None if snapshot_threshold is None
                                   else integer("snapshot_threshold", snapshot_threshold, 1))
        if not callable(state_machine):
            raise ValueError(f"state_machine must be a zero-argument factory (got {state_machine!r})")
        self.state_machine_factory = state_machine
        self.noop_on_elect = flag("noop_on_elect", noop_on_elect)
        integer("max_entries", max_entries, 1)
        self.max_entries = max_entries
        self.max_inflight = integer("max_inflight", max_inflight, 1)
        self.pre_vote = flag("pre_vote", pre_vote)
        self.check_quorum = flag("check_quorum", check_quorum)
        if not 0.5 <= number("clock_rate", clock_rate, above=True) <= 2.0:
            raise ValueError(f"clock_rate must be a number in [0.5, 2] (got {clock_rate!r})")
        self.clock_rate = float(clock_rate)
        self.drift_bound = number("drift_bound", drift_bound, 1.0)
        # A tuple, sorted: the same configuration whatever order it was given in.
        self.members = None if members is None else tuple(sorted(names("members", members)))
        self.catchup_rounds = integer("catchup_rounds", catchup_rounds, 1)
        self.config_change = one_of("config_change", config_change, CONFIG_CHANGES)

    # ---- persistent state (Fig. 2 "Persistent state on all servers") --------------------------------
    @property
    def current_term(self) -> int:
        return self.storage["current_term"]

    @property
    def voted_for(self) -> str | None:
        return self.storage["voted_for"]

    def _persist_term_vote(self, term: int, voted_for: str | None) -> None:
        """Write currentTerm and votedFor to stable storage (before any reply that depends on them)."""
        self.storage["current_term"] = term
        self.storage["voted_for"] = voted_for

    @property
    def log(self) -> list[Entry]:
        """The entries after the snapshot: ``log[k]`` has index ``snap_index + 1 + k``."""
        return self.storage["log"]

    @property
    def snapshot(self) -> Snapshot:
        return self.storage["snapshot"]

    @property
    def snap_index(self) -> int:
        return self.storage["snapshot"].last_index

    @property
    def last_index(self) -> int:
        return self.snap_index + len(self.storage["log"])

    @property
    def last_term(self) -> int:
        log = self.storage["log"]
        return log[-1].term if log else self.snapshot.last_term

    def term_at(self, index: int) -> int | None:
        """Term of the entry at ``index``; None if compacted away (below the snapshot) or absent."""
        snap = self.storage["snapshot"]
        if index == snap.last_index:
            return snap.last_term
        if snap.last_index < index <= self.last_index:
            return self.storage["log"][index - snap.last_index - 1].term
        return None

    def entry_at(self, index: int) -> Entry | None:
        snap_index = self.snap_index
        if snap_index < index <= self.last_index:
            return self.storage["log"][index - snap_index - 1]
        return None

    # ---- lifecycle -------------------------------------------------------------------------------------
    def on_start(self) -> None:
        self.storage.setdefault("current_term", 0)
        self.storage.setdefault("voted_for", None)
        self.storage.setdefault("log", [])
        self.storage.setdefault("snapshot", Snapshot(0, 0, None))
        if self.members is not None:
            names("members", self.members, tuple(sorted(self.peers + (self.id,))))
        self._init_volatile()

    def on_recover(self) -> None:
        self.on_start()   # storage is already there; only volatile state is rebuilt

    def _init_volatile(self) -> None:
        snap = self.snapshot
        self.role = FOLLOWER
        self.leader_hint: str | None = None
        # Fig. 2 "Volatile state on all servers": both start at 0 — here at the snapshot, which only
        # ever holds committed, applied entries (§7).
        self.commit_index = snap.last_index
        self.last_applied = snap.last_index
        self.sm = self.state_machine_factory()
        if snap.last_index > 0:
            self.sm.restore(snap.data)
        self.votes: set[str] = set()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.progress: dict[str, Progress] = {}        # leaders only: flow control per follower
        self.pre_votes: set[str] | None = None          # pre-votes gathered (a pre-vote round is on)
        self.heard_leader_at: float | None = None       # when a leader last reached us (stickiness)
        self.recent_active: set[str] = set()            # leaders: peers heard from since the last check
        self.acked_at: dict[str, float] = {}            # leaders: latest sent_at each peer answered
        self.reads: list[PendingRead] = []             # leaders: reads waiting (§6.4)
        self.read_rounds = 0                           # heartbeat rounds sent for reads (a statistic)
        self.round_at: float | None = None             # sent_at of the read round not yet confirmed
        self.round_wanted = False                      # reads arrived while that round was out
        self.learners: set[str] = set()                # leaders: servers being caught up (§4.2.1)
        self.change: MembershipChange | None = None    # leaders: the configuration change under way
        self._refresh_config()
        if self.check_quorum:
            # We may have acknowledged a leader just before crashing: do not help elect another
            # within the minimum election timeout (this keeps a leader's lease sound across restarts).
            self.heard_leader_at = self.clock()
        # (index, term, command) of every entry applied since a checker last drained it.
        self.applied: deque[tuple[int, int, Any]] = deque(maxlen=10_000)
        self._reset_election_timer()

    # ---- the configuration (thesis §4.1) ---------------------------------------------------------------
    def _refresh_config(self) -> None:
        """Find the latest configuration in the log (committed or not: thesis §4.1, a configuration
        takes effect as soon as it is appended), else the snapshot's, else the initial one. Run after
        any change to the log that may add or remove a configuration entry."""
        log = self.log
        snap = self.snapshot
        for k in range(len(log) - 1, -1, -1):
            if isinstance(log[k].command, Configuration):
                self.config_index = snap.last_index + 1 + k
                self._voters: tuple[str, ...] | None = log[k].command.voters
                return
        self.config_index = snap.last_index if snap.config is not None else 0
        self._voters = snap.config if snap.config is not None else self.members

    def _config_at(self, index: int) -> tuple[str, ...] | None:
        """The configuration in force at ``index`` (None: the initial one, never changed)."""
        if self.config_index <= index:
            return self._voters if self.config_index else None
        for k in range(index - self.snap_index - 1, -1, -1):
            if isinstance(self.log[k].command, Configuration):
                return self.log[k].command.voters
        return self.snapshot.config

    @property
    def voters(self) -> tuple[str, ...]:
        """The servers whose votes count, from the latest configuration in this server's log."""
        if self._voters is not None:
            return self._voters
        return tuple(sorted(self.peers + (self.id,)))    # no configuration given: the whole cluster

    @property
    def majority(self) -> int:
        if self._voters is None:
            return (len(self.peers) + 1) // 2 + 1
        return len(self._voters) // 2 + 1

    def _count(self, servers: Iterable[str]) -> int:
        """How many of ``servers`` are voters (every one, without a configuration)."""
        if self._voters is None:
            return sum(1 for _ in servers)
        return sum(1 for s in servers if s in self._voters)

    def _targets(self) -> list[str]:
        """Who a leader replicates to: the other voters and the learners being caught up."""
        if self._voters is None and not self.learners:
            return sorted(self.peers)
        return sorted((set(self.voters) | self.learners) - {self.id})

    def _other_voters(self) -> list[str]:
        return sorted(p for p in self.voters if p != self.id)

    def _reset_election_timer(self) -> None:
        # §5.2: randomized election timeouts make split votes rare.
        self.set_timer("election", self.rng.uniform(*self.election_timeout) / self.clock_rate)

    # ---- events ------------------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        if name == "election":
            # Fig. 2, Followers 2 / Candidates 4: election timeout elapses -> start a new election
            # (with PreVote: first find out whether it could be won, §9.6).
            if self.role != LEADER:
                if self.pre_vote:
                    self.pre_campaign()
                else:
                    self.campaign()
        elif name == "check quorum" and self.role == LEADER:
            # Thesis §6.2/§9.6 CheckQuorum: no word from a majority for a minimum election timeout ->
            # we may be the stale side of a partition; stop acting as leader (the term is unchanged).
            if self._count(self.recent_active | {self.id}) < self.majority:
                self.annotate(f"steps down (term {self.current_term}): no quorum heard")
                self._stop_leading()
            else:
                self.recent_active = set()
                self.set_timer("check quorum", self.election_timeout[0] / self.clock_rate)
        elif name.startswith("heartbeat ") and self.role == LEADER:
            # Fig. 2, Leaders 1: send (empty or not) AppendEntries during idle periods. This timer
            # fires only when nothing went to the follower for a whole heartbeat interval, so what
            # is still unanswered by now is presumed lost (§5.3: "retries AppendEntries RPCs
            # indefinitely") and is sent again.
            peer = name.split(" ", 1)[1]
            if peer in self.progress:
                self._resend(peer)
        elif name == "catch up" and self.role == LEADER:
            self._catch_up_round_timeout()

    def pre_campaign(self) -> None:
        """Thesis §9.6 PreVote: ask whether we could win term currentTerm+1 before moving to it."""
        if self.role == LEADER:
            return
        if self.id not in self.voters:
            self._reset_election_timer()     # not a voter (yet, or any more): no elections (§4.2.3)
            return
        self.pre_votes = {self.id}
        self._reset_election_timer()
        term = self.current_term + 1
        self.annotate(f"pre-candidate for term {term}")
        if self._count(self.pre_votes) >= self.majority:
            self.campaign()
            return
        self._ask_voters(PreVote(term, self.id, self.last_index, self.last_term))

    def _leader_is_fresh(self) -> bool:
        """We heard from a current leader within the minimum election timeout (or we are it)."""
        if self.role == LEADER:
            return True
        return (self.heard_leader_at is not None
                and self.clock() - self.heard_leader_at < self.election_timeout[0])

    def _on_pre_vote(self, src: str, msg: PreVote) -> None:
        # Grant if we would vote in that term: it is above ours, the log is up to date (§5.4.1), and
        # no leader has been heard from lately (a healthy leader's followers refuse the disrupter).
        granted = (msg.term > self.current_term and not self._leader_is_fresh()
                   and self._candidate_up_to_date(msg))
        self.send(src, PreVoteReply(self.current_term, granted, msg.term))

    def _on_pre_vote_reply(self, src: str, msg: PreVoteReply) -> None:
        if self.pre_votes is None or self.role == LEADER or msg.for_term != self.current_term + 1:
            return
        if msg.granted:
            self.pre_votes.add(src)
            if self._count(self.pre_votes) >= self.majority:
                self.campaign()

    def campaign(self) -> None:
        """Fig. 2, Candidates: on conversion to candidate, start an election."""
        if self.role == LEADER:
            return
        if self.id not in self.voters:
            # Not in our own latest configuration: a server waiting to be added, or one removed,
            # does not campaign (it could only disrupt, thesis §4.2.3; etcd-io/raft does the same).
            self._reset_election_timer()
            return
        self.pre_votes = None
        term = self.current_term + 1
        self._persist_term_vote(term, self.id)          # increment currentTerm, vote for self
        self.role = CANDIDATE
        self.leader_hint = None
        self.votes = {self.id}
        self._reset_election_timer()                     # reset election timer
        self.annotate(f"candidate for term {term}")
        if self._count(self.votes) >= self.majority:
            self._become_leader()
            return
        self._ask_voters(RequestVote(term, self.id, self.last_index, self.last_term))

    def _ask_voters(self, msg: Any) -> None:
        """Send ``msg`` to the other voters of our latest configuration (everyone, without one)."""
        if self._voters is None:
            self.broadcast(msg)
            return
        for peer in self._other_voters():
            self.send(peer, msg)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, (AddServer, RemoveServer, Reconfigure)):
            self._on_admin(src, msg)
            return
        if isinstance(msg, PreVote):
            self._on_pre_vote(src, msg)        # its term is hypothetical: never adopted
            return
        if self.role == LEADER and src in self.progress:
            self.recent_active.add(src)        # CheckQuorum: this follower can reach us
        if (self.check_quorum and isinstance(msg, RequestVote) and msg.term > self.current_term
                and self._leader_is_fresh()):
            return   # thesis §4.2.3: a leader is alive -> ignore the vote request, keep our term
        term = getattr(msg, "term", None)
        if term is not None and term > self.current_term:
            # Fig. 2, All servers 2: RPC request or response with term T > currentTerm:
            # set currentTerm = T, convert to follower.
            self._step_down(term)
        if isinstance(msg, RequestVote):
            self._on_request_vote(src, msg)
        elif isinstance(msg, RequestVoteReply):
            self._on_vote_reply(src, msg)
        elif isinstance(msg, AppendEntries):
            self._on_append_entries(src, msg)
        elif isinstance(msg, AppendEntriesReply):
            self._on_append_reply(src, msg)
        elif isinstance(msg, InstallSnapshot):
            self._on_install_snapshot(src, msg)
        elif isinstance(msg, InstallSnapshotReply):
            self._on_snapshot_reply(src, msg)
        elif isinstance(msg, PreVoteReply):
            self._on_pre_vote_reply(src, msg)

    def _step_down(self, term: int) -> None:
        was_leader = self.role == LEADER
        self._persist_term_vote(term, None)
        self.role = FOLLOWER
        self.votes = set()
        self.pre_votes = None
        if was_leader:
            self.annotate(f"steps down (term {term})")
            self._stop_leading()

    def _stop_leading(self) -> None:
        """Leave the leader role (the term stays as it is) and start waiting for the next leader."""
        self.role = FOLLOWER
        self.leader_hint = None
        self.heard_leader_at = None
        for peer in self.progress:
            self.cancel_timer(f"heartbeat {peer}")
        self.cancel_timer("check quorum")
        self.progress = {}
        self.acked_at = {}
        self.learners = set()
        change, self.change = self.change, None
        if change is not None:
            self.cancel_timer("catch up")
            # The entry may still commit under the next leader; the requester must ask again (Fig. 4.3).
            self._membership_done(change, NOT_LEADER)
        reads, self.reads = self.reads, []
        self.round_at, self.round_wanted = None, False
        for read in reads:
            self.on_read_failed(read.token)
        self._reset_election_timer()
        self.on_lost_leadership()

    # ---- RequestVote ---------------------------------------------------------------------------------
    def _candidate_up_to_date(self, msg: RequestVote) -> bool:
        """§5.4.1: the candidate's log is at least as up-to-date as ours (last term, then length)."""
        mine = (self.last_term, self.last_index)
        return (msg.last_log_term, msg.last_log_index) >= mine

    def _on_request_vote(self, src: str, msg: RequestVote) -> None:
        granted = False
        # Fig. 2, RequestVote receiver 1: reply false if term < currentTerm (§5.1).
        if msg.term == self.current_term:
            # Fig. 2, RequestVote receiver 2: votedFor is null or candidateId, and the candidate's log
            # is at least as up-to-date as the receiver's -> grant (election restriction, §5.4.1).
            if self.voted_for in (None, msg.candidate) and self._candidate_up_to_date(msg):
                granted = True
                self._persist_term_vote(self.current_term, msg.candidate)   # persist BEFORE replying
                self._reset_election_timer()    # Fig. 2, Followers 2: granting a vote resets the timer
        self.send(src, RequestVoteReply(self.current_term, granted))

    def _on_vote_reply(self, src: str, msg: RequestVoteReply) -> None:
        if self.role != CANDIDATE or msg.term != self.current_term or not msg.granted:
            return
        self.votes.add(src)
        # Fig. 2, Candidates 2: votes received from a majority of servers -> become leader (§4.1: of
        # the servers in our latest configuration; a vote from anyone else does not count).
        if self._count(self.votes) >= self.majority:
            self._become_leader()

    def _become_leader(self) -> None:
        self.role = LEADER
        self.leader_hint = self.id
        self.votes = set()
        self.cancel_timer("election")
        # Fig. 2, Volatile state on leaders: reinitialized after election.
        targets = self._targets()
        self.next_index = {p: self.last_index + 1 for p in targets}
        self.match_index = {p: 0 for p in targets}
        self.progress = {p: Progress() for p in targets}   # probe: where does each log end?
        self.pre_votes = None
        self.acked_at = {}
        self.reads = []
        self.round_at, self.round_wanted = None, False
        if self.check_quorum:
            self.recent_active = set()
            self.set_timer("check quorum", self.election_timeout[0] / self.clock_rate)
        self.annotate(f"leader of term {self.current_term}")
        if self.noop_on_elect:
            # §8: a blank no-op entry at the start of the term commits earlier entries promptly.
            self.log.append(Entry(self.current_term, NOOP))
            self._advance_commit()
        # Fig. 2, Leaders 1: upon election, send initial empty AppendEntries to each server.
        for peer in targets:
            self._send_append(peer)

    # ---- client commands (Fig. 2, Leaders 2) ------------------------------------------------------
    def propose(self, command: Any) -> int | None:
        """Leader only: append ``command`` to the log and start replicating it.

        Returns its log index, or None if this node is not the leader. Followers whose window is
        full get the command later, batched with whatever else arrived meanwhile.
        """
        if self.role != LEADER:
            return None
        self.log.append(Entry(self.current_term, command))   # persisted before anyone hears of it
        self._advance_commit()     # a cluster of one commits at once
        self._replicate_all()
        return self.last_index

    # ---- linearizable reads without the log (thesis §6.4, §6.4.1) ------------------------------------
    def clock(self) -> float:
        """This server's clock: real time scaled by ``clock_rate`` (a drifting quartz)."""
        return self.now * self.clock_rate

    def read(self, token: Any, *, lease: bool = False) -> bool:
        """Leader only: start a linearizable read; False if this node is not the leader.

        ReadIndex (§6.4): (1) wait until an entry of our term is committed (the no-op), (2) take
        readIndex = commitIndex, (3) confirm we still lead with a round of heartbeats acknowledged
        by a majority — sent after the read arrived, (4) wait until lastApplied >= readIndex, then
        :meth:`on_read_ready` is called with ``token`` and the state machine may be read.
        With ``lease`` (§6.4.1) step (3) is skipped while our lease holds: a majority acknowledged a
        heartbeat we sent at time t, so (their votes being sticky) no other leader can exist before
        t + minimum election timeout / drift_bound on our clock. If the lease has lapsed, the read
        falls back to a heartbeat round. If we lose leadership first, :meth:`on_read_failed` is called.
        """
        if self.role != LEADER:
            return False
        self.reads.append(PendingRead(token, self.clock(), lease))
        if not (lease and self.lease_until() > self.clock()):
            if self.round_at is None or self.clock() - self.round_at > self.heartbeat:
                self._read_round()
            else:
                self.round_wanted = True    # batched: the next round starts when this one is confirmed
        self._serve_reads()
        return True

    def _read_round(self) -> None:
        """ReadIndex step 3: an empty AppendEntries to every follower, at a prefix it is known to hold."""
        now = self.clock()
        self.round_at, self.round_wanted = now, False
        self.read_rounds += 1
        for peer in self._targets():
            prev = self.match_index[peer]
            self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev), (),
                                          self.commit_index, now))

    def _confirmed(self, since: float) -> bool:
        """A majority (us included) answered an AppendEntries we sent at or after ``since``."""
        return self._count([self.id] + [p for p, t in self.acked_at.items() if t >= since]) >= self.majority

    def lease_until(self) -> float:
        """The end of our lease on our clock (§6.4.1); -inf if we have none (leases need CheckQuorum)."""
        if self.role != LEADER or not self.check_quorum:
            return float("-inf")
        need = self.majority - self._count([self.id])      # peers that must have acknowledged
        if need == 0:
            return float("inf")
        acks = sorted((t for p, t in self.acked_at.items() if self._count([p])), reverse=True)
        if len(acks) < need:
            return float("-inf")
        return acks[need - 1] + self.election_timeout[0] / self.drift_bound

    def _serve_reads(self) -> None:
        if self.role != LEADER or self.term_at(self.commit_index) != self.current_term:
            return          # step 1: until our no-op commits we do not know the latest commit index
        if self.round_at is not None and self._confirmed(self.round_at):
            self.round_at = None
        lease_ok = any(r.lease for r in self.reads) and self.lease_until() > self.clock()
        waiting = []
        for r in self.reads:
            if r.index is None and ((r.lease and lease_ok) or self._confirmed(r.since)):
                r.index = self.commit_index        # step 2 (taken now: a later index is just as good)
            if r.index is not None and self.last_applied >= r.index:
                self.on_read_ready(r.token)        # step 4
            else:
                waiting.append(r)
        self.reads = waiting
        if self.round_wanted and self.round_at is None and any(r.index is None for r in waiting):
            self._read_round()

    # ---- AppendEntries: leader side ------------------------------------------------------------
    def _replicate_all(self) -> None:
        for peer in self._targets():
            self._replicate(peer)

    def _replicate(self, peer: str) -> None:
        """Send ``peer`` the entries it lacks, if its flow control lets us (else they wait)."""
        pr = self.progress.get(peer)
        if pr is None:
            return     # not (or no longer) replicated to: we stopped leading, or it left the cluster
        if pr.state == SNAPSHOT or (pr.state == PROBE and pr.inflight):
            return     # wait for the reply (or the heartbeat timeout) before sending more
        if pr.state == REPLICATE and len(pr.inflight) >= self.max_inflight:
            return     # window full: new entries leave together when a reply frees a slot
        if self.next_index[peer] > self.last_index:
            return     # nothing new; the heartbeat timer keeps the follower's election timer quiet
        self._send_append(peer)

    def _send_append(self, peer: str) -> None:
        """Fig. 2, Leaders 3: send AppendEntries with entries from nextIndex (or a snapshot, §7)."""
        pr = self.progress[peer]
        ni = self.next_index[peer]
        snap = self.snapshot
        self.set_timer(f"heartbeat {peer}", self.heartbeat / self.clock_rate)   # it heard from us: wait anew
        if ni <= snap.last_index:
            # §7: the entries the follower needs were discarded -> send the snapshot instead.
            pr.state, pr.pending_snapshot = SNAPSHOT, snap.last_index
            pr.inflight.clear()
            self.send(peer, InstallSnapshot(self.current_term, self.id, snap.last_index, snap.last_term,
                                            snap.data, snap.config))
            return
        prev = ni - 1
        start = prev - snap.last_index            # position of index ni in self.log
        entries = tuple(self.log[start:start + self.max_entries])
        last = prev + len(entries)
        if pr.state == PROBE:
            pr.inflight.clear()
            pr.inflight.append(last)              # the one probe
        elif entries:
            pr.inflight.append(last)
            self.next_index[peer] = last + 1      # optimistic: the next message continues after these
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev), entries,
                                      self.commit_index, self.clock()))

    def _resend(self, peer: str) -> None:
        """Nothing went to ``peer`` for a heartbeat interval: presume what is in flight lost, send again."""
        pr = self.progress[peer]
        if pr.state == REPLICATE and pr.inflight:
            self.next_index[peer] = self.match_index[peer] + 1
            pr.state = PROBE
        elif pr.state == SNAPSHOT:
            self.next_index[peer] = self.match_index[peer] + 1
            pr.state = PROBE
        pr.inflight.clear()
        self._send_append(peer)     # entries from nextIndex, an empty heartbeat, or the snapshot again

    def _on_append_reply(self, src: str, msg: AppendEntriesReply) -> None:
        if self.role != LEADER or msg.term != self.current_term or src not in self.progress:
            return   # a stale reply from an earlier term (or from a server no longer replicated to)
        pr = self.progress[src]
        if msg.sent_at > self.acked_at.get(src, -1.0):
            self.acked_at[src] = msg.sent_at       # src still followed us when we sent that
            if self.reads:
                self._serve_reads()
        if msg.success:
            # Fig. 2, Leaders 3: successful -> update nextIndex and matchIndex for the follower. Never
            # backwards: a reordered or duplicated reply may report less than we already know.
            self.match_index[src] = max(self.match_index[src], msg.match_index)
            match = self.match_index[src]
            self.next_index[src] = max(self.next_index[src], match + 1)
            while pr.inflight and pr.inflight[0] <= msg.match_index:
                pr.inflight.popleft()             # these AppendEntries are answered
            if pr.state == PROBE and not pr.inflight:
                pr.state = REPLICATE              # the follower's log position is found: stream
                self.next_index[src] = match + 1
            if self.change is not None:
                self._check_catch_up(src)
            self._advance_commit()
            self._replicate(src)    # more to send, if the window allows
            return
        rejected = msg.reject_index if msg.reject_index is not None else self.next_index[src] - 1
        if rejected <= self.match_index[src] or pr.state == SNAPSHOT:
            return   # stale: it refused a prefix we have since seen match (or predates the snapshot)
        if pr.state == PROBE and pr.inflight and rejected != self.next_index[src] - 1:
            return   # stale: not the answer to the probe now in flight
        # Fig. 2, Leaders 3: fails because of log inconsistency -> decrement nextIndex and retry,
        # here with the fast back-off of §5.3: skip the follower's whole conflicting term.
        ni = msg.conflict_index
        if msg.conflict_term is not None:
            last_of_term = self._last_index_of_term(msg.conflict_term)
            if last_of_term is not None:
                ni = last_of_term + 1
        self.next_index[src] = max(self.match_index[src] + 1, min(ni, rejected, self.last_index + 1), 1)
        pr.state = PROBE
        pr.inflight.clear()
        self._send_append(src)

    def _last_index_of_term(self, term: int) -> int | None:
        for k in range(len(self.log) - 1, -1, -1):
            t = self.log[k].term
            if t == term:
                return self.snap_index + 1 + k
            if t < term:
                break
        return None

    def _may_commit(self, index: int) -> bool:
        """§5.4.2: a leader commits by counting replicas only entries of its CURRENT term."""
        return self.term_at(index) == self.current_term

    def _advance_commit(self) -> None:
        # Fig. 2, Leaders 4: if there exists N > commitIndex, a majority of matchIndex[i] >= N and
        # log[N].term == currentTerm, set commitIndex = N.
        for n in range(self.last_index, self.commit_index, -1):
            if not self._may_commit(n):
                continue
            if self._voters is None:
                replicas = 1 + sum(1 for p in self.match_index if self.match_index[p] >= n)
            else:
                # §4.1: a majority of the latest configuration; learners do not count, and neither
                # does a leader that C_new removes (thesis §4.2.2).
                replicas = self._count([self.id] + [p for p, m in self.match_index.items() if m >= n])
            if replicas >= self.majority:
                self.commit_index = n
                self._apply_committed()
                if self.change is not None or self.config_index:
                    self._after_commit()
                return

    # ---- membership change (thesis §4.1-§4.2; Fig. 4.3) --------------------------------------------------
    def add_server(self, server: str, *, token: Any = None) -> str:
        """Leader only: add ``server`` (thesis Fig. 4.3 AddServer). Returns "accepted", NOT_LEADER or
        IN_PROGRESS at once; raises ValueError if ``server`` is not a server of the cluster or is
        already a voter. Once accepted, ``server`` is caught up as a learner (§4.2.1), then the new
        configuration is appended; :meth:`on_membership_done` gets ``token`` and OK when it is
        committed, TIMEOUT if the server did not catch up, NOT_LEADER if we stopped leading first.
        """
        return self._request_change("add", server, token, None)

    def remove_server(self, server: str, *, token: Any = None) -> str:
        """Leader only: remove ``server`` (thesis Fig. 4.3 RemoveServer); as :meth:`add_server`.
        ValueError if ``server`` is not a voter or is the last one. Removing the leader itself is
        allowed: it steps down once the new configuration is committed (§4.2.2)."""
        return self._request_change("remove", server, token, None)

    def reconfigure(self, voters: Sequence[str], *, token: Any = None) -> str:
        """Leader only: move to the configuration ``voters``. With ``config_change="single"`` it must
        differ from the current one by exactly one server (an add or a remove, ValueError otherwise);
        the BROKEN ``"direct"`` appends any new configuration at once, without catch-up."""
        return self._request_change("direct", voters, token, None)

    def _request_change(self, op: str, arg: Any, token: Any, reply_to: str | None) -> str:
        known = tuple(sorted(self.peers + (self.id,)))
        if op == "direct":
            target = tuple(sorted(names("voters", arg, known)))
        else:
            one_of("server", arg, known)
        if self.role != LEADER:
            return NOT_LEADER
        change = self.change
        if change is not None and ((change.op, change.server) == (op, arg)
                                   or (op == "direct" and change.voters == target)):
            # The same request again (a client retrying after its timeout): answer this one.
            change.token, change.reply_to = token, reply_to
            return "accepted"
        # One change at a time (§4.1): the previous one must be committed first.
        if self.change is not None or self.config_index > self.commit_index:
            return IN_PROGRESS
        current = self.voters
        where = ", ".join(current)
        if op == "direct":
            if target == current:
                raise ValueError(f"voters must differ from the configuration {where} (got {arg!r})")
            added = [s for s in target if s not in current]
            removed = [s for s in current if s not in target]
            if self.config_change == "single":
                if len(added) + len(removed) != 1:
                    raise ValueError(f"voters must differ from the configuration {where} by one server "
                                     f"(single-server changes, thesis §4.1) (got {arg!r})")
                op, arg = ("add", added[0]) if added else ("remove", removed[0])
        if op == "add" and arg in current:
            raise ValueError(f"server must not be a voter of the configuration {where} (got {arg!r})")
        if op == "remove":
            if arg not in current:
                raise ValueError(f"server must be a voter of the configuration {where} (got {arg!r})")
            if len(current) == 1:
                raise ValueError(f"server must not be the last voter of the configuration {where} "
                                 f"(got {arg!r})")
        if op == "add":
            target = tuple(sorted(current + (arg,)))
        elif op == "remove":
            target = tuple(s for s in current if s != arg)
        change = self.change = MembershipChange(op, None if op == "direct" else arg, target, token, reply_to)
        if op == "add":
            # §4.2.1: the new server first joins as a learner — it gets the log, its vote and its
            # log do not count — and is caught up in rounds before the configuration includes it.
            self.learners.add(arg)
            self.annotate(f"catching up {arg}")
            self._sync_progress()
            self._start_round()
        else:
            change.caught_up = True
            self._maybe_append_config()
        return "accepted"

    def _start_round(self) -> None:
        """§4.2.1: a round replicates everything in the leader's log when it starts."""
        change = self.change
        assert change is not None
        change.rounds += 1
        change.round_end = self.last_index
        self.set_timer("catch up", self.election_timeout[0] / self.clock_rate)
        if change.server is not None and self.match_index.get(change.server, 0) >= change.round_end:
            self._check_catch_up(change.server)

    def _check_catch_up(self, peer: str) -> None:
        change = self.change
        if (change is None or change.op != "add" or change.caught_up or peer != change.server
                or self.match_index[peer] < change.round_end):
            return
        # The round ended before its timer: it lasted less than an election timeout (§4.2.1), so
        # the new server is close enough behind not to stall commitment once it votes.
        change.caught_up = True
        self.cancel_timer("catch up")
        self._maybe_append_config()

    def _catch_up_round_timeout(self) -> None:
        """A round lasted an election timeout: start another (the new server is further behind by
        now), or give up after ``catchup_rounds`` rounds (§4.2.1; also the unreachable server)."""
        change = self.change
        if change is None or change.op != "add" or change.caught_up:
            return
        if change.rounds < self.catchup_rounds:
            self._start_round()
            return
        self.change = None
        self.learners.discard(change.server)
        self.annotate(f"gives up adding {change.server} after {change.rounds} rounds")
        self._sync_progress()
        self._membership_done(change, TIMEOUT)

    def _maybe_append_config(self) -> None:
        change = self.change
        if change is None or change.index is not None or not change.caught_up or self.role != LEADER:
            return
        # Ongaro's fix (raft-dev, 2015) of the single-server change bug: no configuration entry
        # before an entry of the leader's own term is committed. Otherwise a leader could append
        # C_new on top of a log whose latest configuration another leader of an earlier term was
        # replacing at the same time, and the two changes together skip a step (two majorities
        # that need not intersect). The change waits here; the no-op of §8 commits soon.
        if not self._may_append_config():
            return
        self.log.append(Entry(self.current_term, Configuration(change.voters)))
        change.index = self.last_index
        self.config_index, self._voters = change.index, change.voters    # in force once appended
        if change.server is not None:
            self.learners.discard(change.server)
        self.annotate("config " + ",".join(change.voters) + f" appended at {change.index}")
        self._sync_progress()
        self._advance_commit()
        if self.role == LEADER:
            self._replicate_all()

    def _may_append_config(self) -> bool:
        """Ongaro's 2015 rule: an entry of the leader's own term is committed."""
        return self.term_at(self.commit_index) == self.current_term

    def _after_commit(self) -> None:
        """The leader's commit index moved: finish a committed change; leave if it removed us."""
        if self.role != LEADER:
            return
        change = self.change
        if change is not None:
            if change.index is not None and self.commit_index >= change.index:
                self.change = None
                self._membership_done(change, OK)
            elif change.index is None:
                self._maybe_append_config()     # it was waiting for an entry of our term to commit
        if self.id not in self.voters and self.config_index <= self.commit_index:
            # §4.2.2: a leader that C_new removes manages the cluster until C_new is committed,
            # then steps down (not being a voter, it will not campaign).
            self.annotate(f"steps down (term {self.current_term}): removed from the configuration")
            self._stop_leading()

    def _sync_progress(self) -> None:
        """The leader's replication targets changed: stop sending to servers no longer in them,
        start probing new ones (nextIndex = our last index + 1, as after an election)."""
        targets = self._targets()
        for peer in [p for p in self.progress if p not in targets]:
            self.cancel_timer(f"heartbeat {peer}")
            for table in (self.progress, self.next_index, self.match_index, self.acked_at):
                table.pop(peer, None)
            self.recent_active.discard(peer)
        for peer in targets:
            if peer not in self.progress:
                self.next_index[peer] = self.last_index + 1
                self.match_index[peer] = 0
                self.progress[peer] = Progress()
                self._send_append(peer)

    def _membership_done(self, change: MembershipChange, status: str) -> None:
        if change.reply_to is not None:
            self.send(change.reply_to, MembershipReply(change.token, status, self.leader_hint))
        self.on_membership_done(change.token, status)

    def _on_admin(self, src: str, msg: Any) -> None:
        """The admin RPCs of Fig. 4.3, sent by a client; the reply comes when the change is done."""
        op, arg = (("add", msg.server) if isinstance(msg, AddServer)
                    else ("remove", msg.server) if isinstance(msg, RemoveServer) else ("direct", msg.voters))
        try:
            status = self._request_change(op, arg, msg.req_id, src)
        except ValueError as exc:
            self.send(src, MembershipReply(msg.req_id, INVALID, self.leader_hint, str(exc)))
            return
        if status != "accepted":
            self.send(src, MembershipReply(msg.req_id, status, self.leader_hint))

    # ---- AppendEntries: follower side -----------------------------------------------------------
    def _on_append_entries(self, src: str, msg: AppendEntries) -> None:
        # Fig. 2, AppendEntries receiver 1: reply false if term < currentTerm (§5.1).
        if msg.term < self.current_term:
            self.send(src, AppendEntriesReply(self.current_term, False))   # the sender steps down
            return
        if self.role == LEADER:
            # Two leaders in one term cannot happen (Election Safety); only a broken variant gets here.
            self.send(src, AppendEntriesReply(self.current_term, False, reject_index=msg.prev_log_index))
            return
        # Fig. 2, Candidates 3: AppendEntries from the new leader -> convert to follower.
        if self.role == CANDIDATE:
            self.role = FOLLOWER
            self.votes = set()
        self.leader_hint = msg.leader
        self.heard_leader_at = self.clock()
        self.pre_votes = None               # a leader exists: no election needed
        self._reset_election_timer()        # Fig. 2, Followers 2: heard from the current leader
        prev, entries = msg.prev_log_index, msg.entries
        snap_index = self.snap_index
        if prev < snap_index:
            # Entries up to our snapshot are committed, hence equal to the leader's (Log Matching):
            # skip them and check consistency at the snapshot boundary instead.
            skip = snap_index - prev
            entries, prev = entries[skip:], snap_index
            if len(msg.entries) < skip:
                self.send(src, AppendEntriesReply(self.current_term, True, match_index=snap_index,
                                                  sent_at=msg.sent_at))
                return
            prev_term = self.snapshot.last_term
        else:
            prev_term = msg.prev_log_term
        # Fig. 2, AppendEntries receiver 2: reply false if the log has no entry at prevLogIndex whose
        # term matches prevLogTerm (the consistency check, §5.3).
        if prev > self.last_index:
            self.send(src, AppendEntriesReply(self.current_term, False, conflict_index=self.last_index + 1,
                                              reject_index=msg.prev_log_index, sent_at=msg.sent_at))
            return
        my_prev_term = self.term_at(prev)
        if my_prev_term != prev_term:
            first = prev     # fast back-off: first index of our conflicting term
            while first - 1 > snap_index and self.term_at(first - 1) == my_prev_term:
                first -= 1
            self.send(src, AppendEntriesReply(self.current_term, False, conflict_index=first,
                                              conflict_term=my_prev_term, reject_index=msg.prev_log_index,
                                              sent_at=msg.sent_at))
            return
        log = self.log
        reconfigured = False
        for k, entry in enumerate(entries):
            index = prev + 1 + k
            pos = index - snap_index - 1
            if pos < len(log):
                if log[pos].term == entry.term:
                    continue
                # Fig. 2, AppendEntries receiver 3: an existing entry conflicts with a new one (same
                # index, different terms) -> delete it and all that follow it (§5.3).
                del log[pos:]
                # A configuration entry deleted with them no longer holds: the previous one does (§4.1).
                reconfigured = reconfigured or index <= self.config_index
            # Fig. 2, AppendEntries receiver 4: append any new entries not already in the log.
            log.append(entry)
            reconfigured = reconfigured or isinstance(entry.command, Configuration)
        if reconfigured:
            self._refresh_config()
        last_new = prev + len(entries)
        # Fig. 2, AppendEntries receiver 5: leaderCommit > commitIndex ->
        # commitIndex = min(leaderCommit, index of last new entry).
        if msg.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(msg.leader_commit, last_new))
            self._apply_committed()
        self.send(src, AppendEntriesReply(self.current_term, True, match_index=last_new, sent_at=msg.sent_at))

    # ---- applying and compaction (§7) -------------------------------------------------------------
    def _apply_committed(self) -> None:
        # Fig. 2, All servers 1: commitIndex > lastApplied -> apply log[lastApplied+1], in order.
        while self.last_applied < self.commit_index:
            index = self.last_applied + 1
            entry = self.entry_at(index)
            command = entry.command
            result = None if command is NOOP or isinstance(command, Configuration) else self.sm.apply(command)
            self.last_applied = index
            self.applied.append((index, entry.term, entry.command))
            self.on_apply(index, entry, result)
        self._maybe_compact()
        if self.reads:
            self._serve_reads()

    def _maybe_compact(self) -> None:
        threshold = self.snapshot_threshold
        if threshold is None or self.last_applied - self.snap_index < threshold:
            return
        # §7: snapshot the applied state, then discard the log up to lastApplied.
        index = self.last_applied
        snap = Snapshot(index, self.term_at(index), self.sm.snapshot(), self._config_at(index))   # §7
        del self.log[:index - self.snap_index]
        self.storage["snapshot"] = snap

    def _on_install_snapshot(self, src: str, msg: InstallSnapshot) -> None:
        # Fig. 13, InstallSnapshot receiver 1: reply immediately if term < currentTerm.
        if msg.term < self.current_term:
            self.send(src, InstallSnapshotReply(self.current_term, 0))
            return
        if self.role == CANDIDATE:
            self.role = FOLLOWER
            self.votes = set()
        self.leader_hint = msg.leader
        self.heard_leader_at = self.clock()
        self.pre_votes = None
        self._reset_election_timer()
        idx, term = msg.last_included_index, msg.last_included_term
        if idx > self.commit_index:
            # Fig. 13, receiver 6: an existing entry with the snapshot's last index and term ->
            # retain the entries that follow it; receiver 7: otherwise discard the entire log.
            if self.term_at(idx) == term:
                del self.log[:idx - self.snap_index]
            else:
                self.log.clear()
            self.storage["snapshot"] = Snapshot(idx, term, msg.data, msg.config)
            # Fig. 13, receiver 8: reset the state machine using the snapshot contents.
            self.sm = self.state_machine_factory()
            self.sm.restore(msg.data)
            self.commit_index = self.last_applied = idx
            self._refresh_config()     # §7: the snapshot carries the configuration as of its last index
        self.send(src, InstallSnapshotReply(self.current_term, idx))

    def _on_snapshot_reply(self, src: str, msg: InstallSnapshotReply) -> None:
        if self.role != LEADER or msg.term != self.current_term or src not in self.progress:
            return
        pr = self.progress[src]
        self.match_index[src] = max(self.match_index[src], msg.last_included_index)
        self.next_index[src] = max(self.next_index[src], self.match_index[src] + 1)
        if pr.state == SNAPSHOT and self.match_index[src] >= pr.pending_snapshot:
            # The follower holds everything up to the snapshot: stream from there on.
            pr.state = REPLICATE
            pr.inflight.clear()
            self.next_index[src] = self.match_index[src] + 1
        if self.change is not None:
            self._check_catch_up(src)
        self._advance_commit()
        self._replicate(src)

    # ---- hooks for layers on top (raft_kv) ------------------------------------------------------
    def on_apply(self, index: int, entry: Entry, result: Any) -> None:
        """Called after the entry at ``index`` was applied (``result`` from the state machine)."""

    def on_lost_leadership(self) -> None:
        """Called when a leader steps down."""

    def on_membership_done(self, token: Any, status: str) -> None:
        """A change started by :meth:`add_server` & co. ended: OK, TIMEOUT or NOT_LEADER."""

    def on_read_ready(self, token: Any) -> None:
        """A :meth:`read` is confirmed and applied up to its readIndex: read the state machine now."""

    def on_read_failed(self, token: Any) -> None:
        """A :meth:`read` cannot finish here: this server stopped leading."""

    def drain_applied(self) -> list[tuple[int, int, Any]]:
        """(index, term, command) applied since the last drain (for checkers)."""
        out = list(self.applied)
        self.applied.clear()
        return out

    def describe(self) -> str:
        """One line: role, term, snapshot, commit and last index, and the last six entries (index:tTerm)."""
        tail = self.log[-6:]
        first = self.snap_index + len(self.log) - len(tail) + 1   # the log index of tail[0]
        log = " ".join(f"{first + k}:t{e.term}" for k, e in enumerate(tail))
        voters = "" if self._voters is None else " voters=" + ",".join(self._voters)
        return (f"{self.id} {self.role:<9} term={self.current_term} snap={self.snap_index} "
                f"commit={self.commit_index} last={self.last_index} [{log}]{voters}")


# ---- broken variants (each one is caught by distlib.check.raft_invariants) -------------------------
class NoElectionRestrictionRaft(RaftNode):
    """BROKEN: grants votes without the up-to-date check of §5.4.1.

    A candidate with a stale log can win and overwrite committed entries.
    """

    def _candidate_up_to_date(self, msg: RequestVote) -> bool:
        return True


class OldTermCommitRaft(RaftNode):
    """BROKEN: commits any entry stored on a majority, whatever its term (what §5.4.2 forbids).

    Replays Figure 8: an entry from an earlier term is committed, then overwritten.
    """

    def _may_commit(self, index: int) -> bool:
        return True


class VolatileVoteRaft(RaftNode):
    """BROKEN: keeps votedFor in memory only, so a restarted server can vote twice in one term."""

    @property
    def voted_for(self) -> str | None:
        return self.__dict__.get("_volatile_vote")

    def _persist_term_vote(self, term: int, voted_for: str | None) -> None:
        self.storage["current_term"] = term
        self.storage["voted_for"] = None     # the bug: the vote never reaches the disk
        self._volatile_vote = voted_for


class EarlyConfigRaft(RaftNode):
    """BROKEN: appends a configuration entry before an entry of its own term is committed — the
    single-server change bug Ongaro reported on raft-dev in 2015 (:func:`config_before_commit`)."""

    def _may_append_config(self) -> bool:
        return True


# ---- scenarios -------------------------------------------------------------------------------------
@dataclass
class RaftRun:
    """A finished (or runnable) scenario: the world, its nodes, and what to look at."""

    name: str
    world: World
    notes: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)     # figures a scenario measured

    @property
    def nodes(self) -> dict[str, RaftNode]:
        return self.world.nodes   # type: ignore[return-value]

    def leaders(self) -> list[tuple[float, int, str]]:
        """(time, term, node) of every election won, from the trace annotations."""
        out = []
        for rec in self.world.trace.of(Annotate):
            if rec.text.startswith("leader of term "):
                out.append((rec.time, int(rec.text.rsplit(" ", 1)[1]), rec.node))
        return out

    def elections(self) -> list[tuple[float, int, str]]:
        """(time, term, node) of every candidacy."""
        out = []
        for rec in self.world.trace.of(Annotate):
            if rec.text.startswith("candidate for term "):
                out.append((rec.time, int(rec.text.rsplit(" ", 1)[1]), rec.node))
        return out

    def summary(self) -> str:
        lines = [f"scenario {self.name} (seed {self.world.seed}), t={self.world.now:g}s"]
        lines += [f"  {n}" for n in self.notes]
        lines.append("  leaders: " + (", ".join(f"t{term}={node}@{t:.3f}s"
                                                for t, term, node in self.leaders()) or "none"))
        for name, node in self.world.nodes.items():
            status = self.world.status[name]
            lines.append("  " + (node.describe() if status != "crashed" else f"{name} CRASHED"))
        return "\n".join(lines)


def _monitor_list(monitors: object) -> list[Callable[[World], None]]:
    if isinstance(monitors, str) or not isinstance(monitors, Iterable):
        raise ValueError(f"monitors must be a list of callables monitor(world) (got {monitors!r})")
    out = list(monitors)
    for m in out:
        if not callable(m):
            raise ValueError(f"monitors must be a list of callables monitor(world) (got {m!r} in it)")
    return out


def make_cluster(n: int = 5, *, seed: int = 0, cls: type[RaftNode] = RaftNode, latency: Any = (0.005, 0.015),
                 loss: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                 monitors: Iterable[Callable[[World], None]] = (), **config: Any) -> World:
    """A world with ``n`` Raft servers ``n1..nN`` of class ``cls`` (config passed through)."""
    integer("n", n, 1, 15)
    subclass("cls", cls, RaftNode)
    monitors = _monitor_list(monitors)
    world = World(seed, latency=latency, loss=loss, duplicate=duplicate, reorder=reorder)
    world.add_nodes(cls, [f"n{i}" for i in range(1, n + 1)], **config)
    for m in monitors:
        world.add_monitor(m)
    return world


def _current_leader(world: World) -> str | None:
    best = None
    for name, node in world.nodes.items():
        if world.status[name] == "up" and getattr(node, "role", None) == LEADER:
            if best is None or node.current_term > world.nodes[best].current_term:
                best = name
    return best


def _propose_at(world: World, time: float, command: Any, node: str | None = None) -> None:
    """At ``time``, hand ``command`` to ``node`` (default: the current leader, if any)."""
    def go() -> None:
        target = node or _current_leader(world)
        if target is not None and world.status[target] == "up":
            world.nodes[target].propose(command)
    world.at(time, go)


def split_vote(seed: int = 3, *, cls: type[RaftNode] = RaftNode,
               monitors: Iterable[Callable[[World], None]] = (), until: float = 3.0) -> RaftRun:
    """Five servers with almost equal election timeouts (150-160 ms): candidates collide.

    Several terms pass with no winner (each candidate votes for itself and
    the others are taken) until one timeout fires early enough to win.
    """
    world = make_cluster(5, seed=seed, cls=cls, monitors=monitors, election_timeout=(0.150, 0.160),
                         heartbeat=0.05, latency=(0.004, 0.012))
    world.run(until=until)
    run = RaftRun("split_vote", world)
    leaders = run.leaders()
    first = min(term for _, term, _ in leaders) if leaders else None
    run.notes.append(f"{len(run.elections())} candidacies; first leader in term {first}; "
                     f"{(first or 1) - 1} term(s) ended in a split vote")
    return run


def leader_crash(seed: int = 1, *, cls: type[RaftNode] = RaftNode,
                 monitors: Iterable[Callable[[World], None]] = (), crash_at: float = 1.0,
                 restart_at: float = 2.0, until: float = 3.0) -> RaftRun:
    """The leader crashes; a new one is elected; the old one restarts and catches up."""
    crash_at = number("crash_at", crash_at)
    restart_at = number("restart_at", restart_at, crash_at)
    world = make_cluster(5, seed=seed, cls=cls, monitors=monitors)
    for i in range(20):
        _propose_at(world, 0.5 + 0.1 * i, f"cmd{i}")
    state: dict[str, Any] = {}

    def kill() -> None:
        state["old"] = _current_leader(world)
        if state["old"]:
            world.crash(state["old"])

    world.at(crash_at, kill)
    world.at(restart_at, lambda: state.get("old") and world.restart(state["old"]))
    world.run(until=until)
    run = RaftRun("leader_crash", world)
    after = [(t, term, n) for t, term, n in run.leaders() if t > crash_at]
    if after:
        t, term, new = after[0]
        run.notes.append(f"leader {state.get('old')} crashed at {crash_at:g}s; {new} leads term {term} "
                         f"at {t:.3f}s ({(t - crash_at) * 1000:.0f} ms later)")
    run.notes.append("applied commands per node: " + ", ".join(
        f"{n}={len(node.sm.commands)}" for n, node in world.nodes.items()))
    return run


def partitioned_old_leader(seed: int = 2, *, cls: type[RaftNode] = RaftNode,
                           monitors: Iterable[Callable[[World], None]] = (), until: float = 4.0) -> RaftRun:
    """The leader ends up in a minority: its new entries never commit and are overwritten on heal."""
    world = make_cluster(5, seed=seed, cls=cls, monitors=monitors)
    state: dict[str, Any] = {}

    def cut_off() -> None:
        old = _current_leader(world)
        state["old"] = old
        names = sorted(world.nodes)
        buddy = next(n for n in names if n != old)
        state["minority"] = [old, buddy]
        world.partition([old, buddy], [n for n in names if n not in (old, buddy)])
        for i in range(3):
            world.nodes[old].propose(f"lost{i}")   # the old leader still thinks it leads
        state["lost_at"] = world.nodes[old].last_index

    _propose_at(world, 0.6, "before")
    world.at(1.0, cut_off)
    for i in range(3):
        _propose_at(world, 1.6 + 0.1 * i, f"majority{i}")   # the majority side's new leader
    world.at(2.5, world.heal)
    _propose_at(world, 3.0, "after")
    world.run(until=until)
    run = RaftRun("partitioned_old_leader", world)
    old = state["old"]
    node = world.nodes[old]
    lost = [c for c in node.sm.commands if isinstance(c, str) and c.startswith("lost")]
    run.notes.append(f"old leader {old} cut off with {state['minority'][1]} at 1s; it appended "
                     f"lost0..lost2 up to index {state['lost_at']}")
    run.notes.append(f"after heal {old} is a {node.role} in term {node.current_term}; "
                     f"lost entries applied anywhere: {lost or 'none'}; {old} applied "
                     f"{list(node.sm.commands)}")
    return run


def figure8(*, broken: bool = False, seed: int = 0,
            monitors: Iterable[Callable[[World], None]] = (),
            cls: type[RaftNode] | None = None) -> RaftRun:
    """The paper's Figure 8, scripted on five servers (no no-op on election, as in the figure).

    (a) n1 leads term 2 and puts index 2 (term 2) on n2 only. (b) n1 crashes; n5 wins term 3 and
    writes a different index 2 (term 3) only locally, then crashes. (c) n1 restarts, wins term 4 and
    copies its term-2 entry to a majority. Correct Raft does NOT commit it (§5.4.2): (d) n1 crashes,
    n5 wins term 5 and overwrites index 2 everywhere — harmless, as it was never committed.
    With ``broken=True`` (:class:`OldTermCommitRaft`) n1 commits and applies it in (c), so (d)
    erases a committed entry: State Machine Safety fails. ``cls`` runs the script on any server
    class (an exercise plugs a learner's commitment rule in this way).
    """
    if cls is None:
        cls = OldTermCommitRaft if flag("broken", broken) else RaftNode
    world = make_cluster(5, seed=seed, cls=cls, monitors=monitors, latency=0.01,
                         election_timeout=(50.0, 60.0), heartbeat=0.05, noop_on_elect=False)
    nodes = world.nodes

    def campaign(n: str) -> Callable[[], None]:
        return lambda: nodes[n].campaign()

    world.at(0.01, campaign("n2"))                 # term 1: everyone gets index 1
    _propose_at(world, 0.1, "x@t1", "n2")
    world.at(0.3, campaign("n1"))                  # term 2: n1 leads (logs are equal)
    world.at(0.5, lambda: world.partition(["n1", "n2"], ["n3", "n4", "n5"]))
    _propose_at(world, 0.55, "y@t2", "n1")         # (a) index 2, term 2 on n1, n2
    world.at(0.7, lambda: world.crash("n1"))
    world.at(0.8, campaign("n5"))                  # (b) term 3, votes n3, n4, n5
    world.at(0.95, lambda: world.partition(["n1", "n2"], ["n3", "n4"], ["n5"]))
    _propose_at(world, 1.0, "z@t3", "n5")          # index 2, term 3 on n5 only
    world.at(1.1, lambda: world.crash("n5"))
    world.at(1.2, world.heal)
    world.at(1.2, lambda: world.restart("n1"))
    world.at(1.3, campaign("n1"))                  # term 3: refused (n3, n4 voted n5)
    world.at(1.5, campaign("n1"))                  # (c) term 4: n1 wins, copies index 2 to n3, n4
    world.at(1.8, lambda: world.crash("n1"))
    world.at(1.9, lambda: world.restart("n5"))
    world.at(2.0, campaign("n5"))                  # term 4: refused
    world.at(2.2, campaign("n5"))                  # (d) term 5: n5 wins (last term 3 > 2)
    _propose_at(world, 2.4, "w@t5", "n5")          # commits z@t3 at index 2 with it
    world.run(until=3.0)
    run = RaftRun("figure8" + ("(broken)" if broken else ""), world)
    n1_cmds = list(nodes["n1"].sm.commands)    # the crashed object still shows what n1 applied
    n5_cmds = list(nodes["n5"].sm.commands)
    run.notes.append(f"n1 applied {n1_cmds} before its last crash; n5 applied {n5_cmds}")
    run.notes.append("index 2 on the live servers: " + ", ".join(
        f"{n}={nodes[n].entry_at(2)!r}" for n in ("n2", "n3", "n4", "n5")))
    return run


def restarted_voter(*, cls: type[RaftNode] = RaftNode, seed: int = 0,
                    monitors: Iterable[Callable[[World], None]] = ()) -> RaftRun:
    """Two candidates in term 1; the voter between them crashes and restarts between their requests.

    n1 and n3 both campaign at 0.1 s. n1's RequestVote reaches n2 first and n2 votes for n1; n2 then
    crashes and restarts before n3's (slow) RequestVote arrives; n1 and n3 cannot talk directly.
    Correct Raft persisted votedFor, so n2 refuses n3 and term 1 has one leader.
    :class:`VolatileVoteRaft` forgot the vote and grants it again: n1 and n3 both lead term 1
    (Election Safety fails). No no-op on election here: n1's no-op reaching n2 first
    would make the empty log of n3 fail the up-to-date check and hide the bug.
    """
    world = make_cluster(3, seed=seed, cls=cls, monitors=monitors, latency=0.01,
                         election_timeout=(5.0, 6.0), heartbeat=0.05, noop_on_elect=False)
    world.set_link("n3", "n2", latency=0.05)
    world.at(0.0, lambda: world.cut("n1", "n3", both_ways=True))   # each learns of the other only via n2
    world.at(0.1, lambda: world.nodes["n1"].campaign())
    world.at(0.1, lambda: world.nodes["n3"].campaign())
    world.at(0.125, lambda: world.crash("n2"))
    world.at(0.13, lambda: world.restart("n2"))
    world.run(until=0.5)
    run = RaftRun("restarted_voter", world)
    run.notes.append("n2 voted for " + ", ".join(
        rec.dst for rec in world.trace.of(Deliver)
        if rec.src == "n2" and isinstance(rec.msg, RequestVoteReply) and rec.msg.granted) + " in term 1")
    return run


# ---- message cost (issue: Raft's message efficiency) ------------------------------------------------
def sequential_commands(seed: int = 0, *, n: int = 3, commands: int = 10, latency: Any = (0.005, 0.015),
                        wait: str = "leader", cls: type[RaftNode] = RaftNode, **config: Any) -> RaftRun:
    """``commands`` commands, one after another, on a healthy cluster; counts the AppendEntries.

    A leader is elected first (1 s); then each command is proposed when the previous one is
    done: committed at the leader (``wait="leader"``, a client got its answer) or applied on every
    server (``wait="all"``, as a widely used lab test suite waits). ``run.stats`` holds
    ``append`` (AppendEntries delivered in that window), ``followers`` and ``per_entry``
    (AppendEntries per committed entry per follower).
    """
    integer("commands", commands, 1)
    if wait not in ("leader", "all"):
        raise ValueError(f"wait must be one of ('leader', 'all') (got {wait!r})")
    world = make_cluster(n, seed=seed, cls=cls, latency=latency, **config)
    world.run(until=1.0)
    leader = _current_leader(world)
    run = RaftRun("sequential_commands", world)
    if leader is None:
        run.notes.append("no leader after 1 s")
        return run
    node = world.nodes[leader]
    start = world.now
    done: dict[str, float] = {}

    def client() -> Any:
        for k in range(commands):
            index = node.propose(f"cmd{k}")
            if index is None:
                return                      # the leader lost its leadership: the run reports it
            while not (node.commit_index >= index if wait == "leader"
                       else all(s.last_applied >= index for s in world.nodes.values())):
                yield world.env.timeout(0.001)
        done["t"] = world.now

    world.process(client())
    world.run(until=start + 10.0)
    end = done.get("t", world.now)
    count = sum(1 for r in world.trace.of(Deliver)
                if isinstance(r.msg, AppendEntries) and start <= r.time <= end)
    followers = n - 1
    run.stats = {"append": count, "followers": followers, "per_entry": count / (commands * max(followers, 1)),
                 "done": "t" in done}
    when = "committed at the leader" if wait == "leader" else "applied everywhere"
    run.notes.append(f"{commands} commands (the next one when {when}): {count} AppendEntries delivered, "
                     f"{run.stats['per_entry']:.2f} per entry per follower")
    return run


def churn(seed: int = 0, *, n: int = 5, duration: float = 10.0, faults: int = 6, period: float = 0.01,
          snapshot_threshold: int | None = 8, cls: type[RaftNode] = RaftNode,
          monitors: Iterable[Callable[[World], None]] = (), **config: Any) -> RaftRun:
    """``n`` servers under ``faults`` random crashes and partitions; counts messages per committed entry.

    Every ``period`` seconds each server that believes it leads gets a command (so a deposed leader
    in a minority keeps trying too). ``run.stats``: ``messages`` and ``append`` sent, ``committed``
    (the highest commit index), ``per_entry`` and ``append_per_entry``, ``per_second``.
    """
    from distlib.sim import FaultSchedule, Send
    duration = number("duration", duration, above=True)
    period = number("period", period, above=True)
    world = make_cluster(n, seed=seed, cls=cls, monitors=monitors, snapshot_threshold=snapshot_threshold,
                         **config)
    names = sorted(world.nodes)
    FaultSchedule.random(seed, names, horizon=duration * 0.9, faults=faults, kinds=("crash", "partition"),
                         max_duration=duration / 4).apply(world)

    def proposer() -> Any:
        k = 0
        while True:
            yield world.env.timeout(period)
            for name in names:
                if world.status[name] == "up" and world.nodes[name].role == LEADER:
                    k += 1
                    world.nodes[name].propose(f"cmd{k}")

    world.process(proposer())
    world.run(until=duration)
    run = RaftRun("churn", world)
    sends = world.trace.of(Send)
    append = sum(1 for r in sends if isinstance(r.msg, AppendEntries))
    committed = max(node.commit_index for node in world.nodes.values())
    run.stats = {"messages": len(sends), "append": append, "committed": committed,
                 "per_entry": len(sends) / max(committed, 1), "append_per_entry": append / max(committed, 1),
                 "per_second": len(sends) / duration}
    run.notes.append(f"{len(sends)} messages ({append} AppendEntries) for {committed} committed entries: "
                     f"{run.stats['per_entry']:.1f} per entry")
    return run


# ---- PreVote and CheckQuorum (thesis §9.6) ------------------------------------------------------
def flapping(seed: int = 0, *, pre_vote: bool = False, check_quorum: bool = False, mode: str = "node",
             duration: float = 60.0, down: float = 0.5, up: float = 0.5, n: int = 5,
             cls: type[RaftNode] = RaftNode, monitors: Iterable[Callable[[World], None]] = (),
             **config: Any) -> RaftRun:
    """A flapping network: counts leader changes per simulated minute (the disruption §9.6 cures).

    From 1 s on, for ``down`` seconds out of every ``down + up``: ``mode="node"`` cuts ``n<N>`` off
    from everyone (a server on a bad cable); ``mode="link"`` cuts the link between the leader of the
    moment and another server both ways. Longer than an election timeout, so the cut-off server's
    timer fires. Without PreVote it campaigns in higher and higher terms and, when the link
    comes back, its term deposes the healthy leader; with PreVote it never moves to a term it
    could not win. ``run.stats``: ``changes`` (elections won after the first), ``per_minute``.
    """
    if mode not in ("node", "link"):
        raise ValueError(f"mode must be one of ('node', 'link') (got {mode!r})")
    duration = number("duration", duration, above=True)
    down = number("down", down, above=True)
    up = number("up", up, above=True)
    world = make_cluster(n, seed=seed, cls=cls, monitors=monitors, pre_vote=pre_vote,
                         check_quorum=check_quorum, **config)
    names = sorted(world.nodes)

    def flap_down() -> None:
        if mode == "node":
            world.partition([names[-1]])
        else:
            leader = _current_leader(world) or names[0]
            other = names[-1] if leader != names[-1] else names[0]
            world.cut(leader, other, both_ways=True)

    t = 1.0
    while t < duration:
        world.at(t, flap_down)
        world.at(min(t + down, duration), world.heal)
        t += down + up
    world.run(until=duration)
    run = RaftRun(f"flapping_{mode}", world)
    wins = run.leaders()
    changes = max(len(wins) - 1, 0)
    run.stats = {"changes": changes, "per_minute": changes / (duration / 60.0),
                 "max_term": max(node.current_term for node in world.nodes.values())}
    features = " + ".join(f for f, on in (("PreVote", pre_vote), ("CheckQuorum", check_quorum)) if on)
    run.notes.append(f"{mode} flapping {down:g}s down / {up:g}s up, {features or 'plain Raft'}: "
                     f"{changes} leader changes in {duration:g}s ({run.stats['per_minute']:.1f} per minute), "
                     f"terms up to {run.stats['max_term']}")
    return run


# ---- membership change (thesis §4; extended paper §6) ------------------------------------------------
def _admin_message(req_id: str, change: tuple[str, Any]) -> Any:
    op, arg = change
    if op == "add":
        return AddServer(req_id, arg)
    if op == "remove":
        return RemoveServer(req_id, arg)
    return Reconfigure(req_id, tuple(arg))


def membership_client(world: World, name: str, servers: Sequence[str], changes: Sequence[Any], *,
                      results: list[tuple[float, Any, str]] | None = None, attempt_timeout: float = 1.0,
                      give_up: float = 5.0, think: float = 0.0) -> Any:
    """A SimPy process: an administrator asking for ``changes``, one after another.

    A change is ``("add", server)``, ``("remove", server)``, ``("voters", (...))`` or a callable
    ``leader_node -> change | None`` that picks one against the leader's configuration when asked.
    Each is sent to the leader (following NOT_LEADER hints; IN_PROGRESS and timeouts are retried)
    until it is answered or ``give_up`` seconds pass. ``results`` receives ``(time, change,
    status)``: OK, TIMEOUT, INVALID or "gave up". Arguments are checked at the call.
    """
    from distlib.sim.validate import names as name_list
    if not isinstance(world, World):
        raise ValueError(f"world must be a distlib.sim.World (got {world!r})")
    if not isinstance(name, str) or not name or name in world.nodes:
        raise ValueError(f"name must be a client name not used by a node (got {name!r})")
    servers = list(name_list("servers", servers, tuple(world.nodes)))
    if not isinstance(changes, (list, tuple)) or not all(
            callable(c) or (isinstance(c, tuple) and len(c) == 2 and c[0] in ("add", "remove", "voters"))
            for c in changes):
        raise ValueError("changes must be a list of ('add'|'remove', server), ('voters', names) or "
                         f"callables leader -> change (got {changes!r})")
    attempt_timeout = number("attempt_timeout", attempt_timeout, above=True)
    give_up = number("give_up", give_up, above=True)
    think = number("think", think)
    return _membership_client(world, name, servers, list(changes), results, attempt_timeout, give_up, think)


def _membership_client(world: World, name: str, servers: list[str], changes: list[Any],
                       results: list[tuple[float, Any, str]] | None, attempt_timeout: float,
                       give_up: float, think: float) -> Any:
    client = world.client(name)
    env = world.env
    seq = 0
    for change in changes:
        deadline = env.now + give_up
        target = _current_leader(world) or servers[0]
        status, chosen = "gave up", change
        while env.now < deadline:
            if callable(change):
                up = world.status[target] == "up"
                chosen = change(world.nodes[target]) if up else None
                if chosen is None:
                    target = _current_leader(world) or servers[(servers.index(target) + 1) % len(servers)]
                    yield env.timeout(0.05)
                    continue
            seq += 1
            reply = yield from client.call(target, _admin_message(f"{name}:{seq}", chosen),
                                           timeout=min(attempt_timeout, max(deadline - env.now, 1e-6)))
            if reply is None or reply.status in (NOT_LEADER, IN_PROGRESS):
                if reply is not None and reply.leader_hint and reply.leader_hint != target:
                    target = reply.leader_hint                 # Fig. 4.3: NOT_LEADER carries a hint
                else:
                    target = servers[(servers.index(target) + 1) % len(servers)]
                    yield env.timeout(0.05)
                continue
            status = reply.status
            break
        if results is not None:
            results.append((env.now, chosen, status))
        yield env.timeout(think)


def random_change(rng: Any, universe: Sequence[str]) -> Callable[[RaftNode], tuple[str, str] | None]:
    """A chooser for :func:`membership_client`: at a leader, a random valid single-server change (add
    a server of ``universe`` outside the configuration, or remove a voter, never the last one)."""
    universe = tuple(universe)

    def choose(node: RaftNode) -> tuple[str, str] | None:
        if node.role != LEADER:
            return None
        voters = node.voters
        options = ([("add", s) for s in universe if s not in voters]
                   + [("remove", s) for s in voters if len(voters) > 1])
        return options[rng.randrange(len(options))]
    return choose


def _configs(world: World) -> list[tuple[float, str, str]]:
    """(time, leader, text) of every configuration appended by a leader, from the annotations."""
    return [(rec.time, rec.node, rec.text) for rec in world.trace.of(Annotate)
            if rec.text.startswith(("config ", "catching up ", "gives up adding ", "steps down"))]


def membership_change(seed: int = 0, *, add: str | None = "n4", remove: str | None = "n1", n: int = 4,
                      faults: Any = None, cls: type[RaftNode] = RaftNode,
                      monitors: Iterable[Callable[[World], None]] = (), until: float = 4.0,
                      **config: Any) -> RaftRun:
    """Replace a server, one server at a time (thesis §4.1): n1..n{n-1} form the cluster, n{n} is
    outside it. From 0.5 s an administrator asks the leader to add ``add`` (caught up as a learner
    first, §4.2.1), then, once that is committed, to remove ``remove`` (``"leader"``: whoever leads
    then — it steps down after committing the configuration without itself, §4.2.2). A command is
    proposed every 50 ms. ``faults``: a fault schedule (text or :class:`FaultSchedule`).
    ``run.stats``: ``changes`` ((time, change, status) per request), ``voters`` per server at the end.
    """
    from distlib.sim import as_schedule
    integer("n", n, 2, 15)
    world = make_cluster(n, seed=seed, cls=cls, monitors=monitors,
                         members=tuple(f"n{i}" for i in range(1, n)), **config)
    names = sorted(world.nodes)
    as_schedule(faults, names).apply(world)
    for name, what in (("add", add), ("remove", remove)):
        if what is not None and what not in names and not (name == "remove" and what == "leader"):
            raise ValueError(f"{name} must be one of {', '.join(names)}{' or leader' * (name == 'remove')} "
                             f"(got {what!r})")
    results: list[tuple[float, Any, str]] = []
    changes: list[Any] = []
    if add is not None:
        changes.append(("add", add))
    if remove == "leader":
        changes.append(lambda node: ("remove", node.id) if node.role == LEADER else None)
    elif remove is not None:
        changes.append(("remove", remove))

    def admin() -> Any:
        yield world.env.timeout(0.5)
        yield from membership_client(world, "admin", names, changes, results=results)

    def proposer() -> Any:
        k = 0
        while True:
            yield world.env.timeout(0.05)
            leader = _current_leader(world)
            if leader is not None:
                k += 1
                world.nodes[leader].propose(f"cmd{k}")

    world.process(admin())
    world.process(proposer())
    world.run(until=until)
    run = RaftRun("membership_change", world)
    run.stats = {"changes": results, "voters": {name: node.voters for name, node in world.nodes.items()}}
    events = [(t, f"{node}: {text}") for t, node, text in _configs(world)]
    events += [(t, f"admin: {change[0]} {change[1]} -> {status}" if isinstance(change, tuple)
                else f"admin: no change chosen -> {status}") for t, change, status in results]
    run.notes += [f"{t:.3f}s {text}" for t, text in sorted(events, key=lambda e: e[0])]
    return run


def direct_change(seed: int = 0, *, config_change: str = "direct",
                  monitors: Iterable[Callable[[World], None]] = (), until: float = 1.5) -> RaftRun:
    """The hazard single-server changes avoid (extended paper §6, Figure 10), scripted.

    n1, n2, n3 form the cluster; n3 leads term 1. At 0.2 s the network splits {n1, n2} | {n3, n4}
    and n3 switches, in ONE entry, to {n2, n3, n4} (replace n1 by n4; the BROKEN
    ``config_change="direct"``). The entry reaches n4 only. At 0.5 s n1 campaigns: n2's vote makes
    a majority of {n1, n2, n3}, the configuration both still have; n4 campaigns: n3's vote makes
    a majority of {n2, n3, n4}. Both lead term 2 — Election Safety fails. With
    ``config_change="single"`` the leader refuses the request (ValueError: two servers differ),
    and nothing else happens: the change must be made in two steps (:func:`membership_change`).
    """
    one_of("config_change", config_change, CONFIG_CHANGES)
    world = make_cluster(4, seed=seed, monitors=monitors, latency=0.01, election_timeout=(5.0, 6.0),
                         heartbeat=0.05, members=("n1", "n2", "n3"), config_change=config_change)
    nodes = world.nodes
    state: dict[str, Any] = {}

    def switch() -> None:
        world.partition(["n1", "n2"], ["n3", "n4"])
        try:
            state["status"] = nodes["n3"].reconfigure(("n2", "n3", "n4"))
        except ValueError as exc:
            state["status"] = f"refused: {exc}"

    world.at(0.01, lambda: nodes["n3"].campaign())
    world.at(0.2, switch)
    world.at(0.5, lambda: nodes["n1"].campaign())
    world.at(0.5, lambda: nodes["n4"].campaign())
    world.run(until=until)
    run = RaftRun(f"direct_change({config_change})", world)
    run.notes.append(f"n3 asked to switch {{n1,n2,n3}} -> {{n2,n3,n4}} at 0.2 s: {state.get('status')}")
    run.notes.append("voters: " + ", ".join(f"{n}={{{','.join(node.voters)}}}" for n, node in nodes.items()))
    by_term: dict[int, list[str]] = {}
    for _, term, node in run.leaders():
        by_term.setdefault(term, []).append(node)
    two = {t: ls for t, ls in by_term.items() if len(ls) > 1}
    run.stats = {"leaders_by_term": by_term, "two_leaders": two}
    run.notes.append("terms with two leaders: " + (", ".join(f"term {t}: {' and '.join(ls)}"
                                                           for t, ls in two.items()) or "none"))
    return run


def config_before_commit(*, broken: bool = False, seed: int = 0,
                         monitors: Iterable[Callable[[World], None]] = ()) -> RaftRun:
    """Ongaro's 2015 single-server change bug (raft-dev), scripted: why a leader appends no
    configuration entry before an entry of its own term is committed.

    n1..n4 form the cluster; n1 leads term 1. (a) Cut off with n5, n1 adds n5: C_a =
    {n1,...,n5} reaches n5 only. (b) n2 wins term 2 with n3's and n4's votes (its log lacks C_a),
    then n4 is cut off too. n2 is asked to remove n1: C_b = {n2,n3,n4}. Correct Raft waits: n2's
    no-op is not committed (n1 and n4 are out of reach), so C_b is never appended. With
    ``broken=True`` (:class:`EarlyConfigRaft`) n2 appends C_b at once, and C_b's majority {n2,n3}
    commits it. (c) n1 restarts and, with C_a's majority {n1, n4, n5}, wins term 3 — C_a and C_b
    differ by two servers, so their majorities need not meet — and lacks what term 2 committed:
    Leader Completeness fails; after the heal n1 overwrites it (State Machine Safety).
    """
    cls = EarlyConfigRaft if flag("broken", broken) else RaftNode
    world = make_cluster(5, seed=seed, cls=cls, monitors=monitors, latency=0.01,
                         election_timeout=(50.0, 60.0), heartbeat=0.05, members=("n1", "n2", "n3", "n4"))
    nodes = world.nodes
    state: dict[str, Any] = {}

    def campaign(n: str) -> Callable[[], None]:
        return lambda: nodes[n].campaign()

    def add_n5() -> None:
        world.partition(["n1", "n5"], ["n2", "n3", "n4"])
        state["add"] = nodes["n1"].add_server("n5")

    def remove_n1() -> None:
        state["remove"] = nodes["n2"].remove_server("n1")

    world.at(0.01, campaign("n1"))                         # term 1: n1 leads n1..n4
    world.at(0.2, add_n5)                                  # (a) C_a reaches n5 only
    world.at(0.5, campaign("n2"))                          # (b) term 2: n2, n3, n4
    world.at(0.525, lambda: world.partition(["n1", "n5"], ["n2", "n3"], ["n4"]))
    world.at(0.6, remove_n1)
    world.at(0.9, lambda: world.crash("n1"))
    world.at(1.0, lambda: world.restart("n1"))
    world.at(1.0, lambda: world.partition(["n1", "n4", "n5"], ["n2", "n3"]))
    world.at(1.1, campaign("n1"))                          # term 2: n4 already voted for n2
    world.at(1.3, campaign("n1"))                          # (c) term 3: n1, n4, n5
    world.at(1.6, world.heal)
    world.run(until=2.5)
    run = RaftRun("config_before_commit" + ("(broken)" if broken else ""), world)
    run.notes.append(f"n1 adds n5 at 0.2 s: {state.get('add')}; n2 (term 2) removes n1 at 0.6 s: "
                     f"{state.get('remove')}")
    run.notes.append("configurations appended: " + "; ".join(
        f"{node} at {t:.3f}s: {text}" for t, node, text in _configs(world) if text.startswith("config ")))
    return run
