"""Checks for the chapter 03 (Raft) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message that names the
rule the answer broke, and prints a "right: ..." line otherwise. Expected answers are computed — from
the rules of Ongaro & Ousterhout (2014) or by running the simulator — never stored. Where possible the
learner's function is plugged into the real :class:`~distlib.consensus.raft.RaftNode` (a subclass
overrides one method) and scenarios run under the invariant monitor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distlib.check.raft_invariants import RaftMonitor
from distlib.consensus.raft import LEADER, RaftNode, RequestVote, figure8, make_cluster

from .feedback import call as _call
from .feedback import check_schedule
from .feedback import fail as _fail


def _propose_loop(world: Any, every: float = 0.05) -> None:
    """A background client: every ``every`` seconds, hand a command to whoever leads."""
    def proposer():
        k = 0
        while True:
            yield world.env.timeout(every)
            for name in sorted(world.nodes):
                node = world.nodes[name]
                if world.status[name] == "up" and node.role == LEADER:
                    k += 1
                    node.propose(f"cmd{k}")
    world.process(proposer())


def _fuzz_ok(cls: type[RaftNode], seeds: range) -> tuple[int, str] | None:
    """Run the random-fault fuzzer over ``seeds``; the first (seed, problem) found, or None."""
    from distlib.check.raft_invariants import fuzz
    for seed in seeds:
        result = fuzz(seed, cls=cls, duration=2.5)
        if not result.ok:
            return seed, result.problems()[0]
    return None


# ---- raft-up-to-date (§5.4.1) -------------------------------------------------------------------
def _up_to_date(ct: int, ci: int, mt: int, mi: int) -> bool:
    return ct > mt or (ct == mt and ci >= mi)


def _vote_cases() -> list[tuple[tuple[int, int, int, int], str]]:
    return [
        ((3, 5, 3, 5), "the logs end with the same term at the same index: equally up-to-date, grant"),
        ((3, 6, 3, 5), "same last term and the candidate's log is longer: it is more up-to-date"),
        ((3, 4, 3, 5), "same last term but the candidate's log is shorter: it may lack an entry "
                       "committed in term 3, refuse"),
        ((4, 2, 3, 7), "the candidate's last entry has a later term (4 > 3): its log is more "
                       "up-to-date even though it is shorter — §5.4.1 compares the LAST TERM first"),
        ((2, 9, 3, 7), "the candidate's log is longer, but its last entry is from term 2 < 3: the extra "
                       "entries are stale leftovers of an old leader, and it may lack entries committed in "
                       "term 3 — compare the last terms first, the lengths only on a tie"),
        ((0, 0, 0, 0), "two empty logs are equally up-to-date"),
        ((0, 0, 1, 1), "an empty log is less up-to-date than any non-empty one"),
        ((1, 1, 0, 0), "any entry beats an empty log"),
    ]


class _VoteRaft(RaftNode):
    rule: Callable[[int, int, int, int], bool] = staticmethod(_up_to_date)

    def _candidate_up_to_date(self, msg: RequestVote) -> bool:
        return bool(type(self).rule(msg.last_log_term, msg.last_log_index, self.last_term,
                                    self.last_index))


def check_up_to_date(candidate_up_to_date: Callable[[int, int, int, int], bool]) -> None:
    """Exercise raft-up-to-date: the election restriction's comparison (§5.4.1)."""
    cases = _vote_cases()
    for (ct, ci, mt, mi), why in cases:
        expected = _up_to_date(ct, ci, mt, mi)
        got = _call(candidate_up_to_date, ct, ci, mt, mi)
        if got is not expected and got != expected:
            _fail(f"candidate_up_to_date(cand_last_term={ct}, cand_last_index={ci}, my_last_term={mt}, "
                  f"my_last_index={mi}) returned {got!r}, expected {expected!r}: {why}.")
    # Now inside real servers: a cluster of your voters under random crashes and partitions.
    cls = type("StudentVoteRaft", (_VoteRaft,), {"rule": staticmethod(candidate_up_to_date)})
    found = _fuzz_ok(cls, range(12))
    if found:
        seed, problem = found
        _fail(f"Raft servers using your rule broke a safety property under random faults (fuzz seed "
              f"{seed}): {problem}.")
    print(f"right: your rule matches §5.4.1 on all {len(cases)} cases, and servers voting with it kept "
          "all four safety properties over 12 random fault runs.")


# ---- raft-commit (§5.4.2, Figure 2 Leaders rule 4) ------------------------------------------------
def _commit(match_index: dict[str, int], log_terms: list[int], current_term: int, commit_index: int) -> int:
    majority = len(match_index) // 2 + 1
    for n in range(len(log_terms), commit_index, -1):
        if log_terms[n - 1] != current_term:
            continue
        if sum(1 for m in match_index.values() if m >= n) >= majority:
            return n
    return commit_index


def _commit_cases() -> list[tuple[dict[str, int], list[int], int, int, str]]:
    return [
        ({"n1": 3, "n2": 3, "n3": 3, "n4": 1, "n5": 0}, [1, 2, 2], 2, 0,
         "index 3 (term 2 = current term) is stored on n1, n2, n3 — a majority of 5: commit up to 3"),
        ({"n1": 3, "n2": 3, "n3": 1, "n4": 1, "n5": 0}, [1, 2, 2], 2, 0,
         "index 3 is only on 2 of 5 servers; index 1 is on 4, but it is from term 1 and the leader is in "
         "term 2: a leader never commits an entry of an earlier term by counting replicas (§5.4.2). "
         "Nothing new commits"),
        ({"n1": 3, "n2": 2, "n3": 2, "n4": 1, "n5": 0}, [1, 2, 4], 4, 1,
         "this is Figure 8 (c): index 2 (term 2) is on a majority but the leader is in term 4, so it may "
         "not commit it — a later leader could still overwrite it. Index 3 (term 4) is on one server "
         "only. commitIndex stays 1"),
        ({"n1": 3, "n2": 3, "n3": 3, "n4": 2, "n5": 2}, [1, 2, 4], 4, 1,
         "index 3 (term 4, the current term) is on a majority: committing it commits index 2 with it "
         "(Log Matching makes everything before it identical)"),
        ({"n1": 5, "n2": 4, "n3": 4, "n4": 2}, [1, 1, 1, 3, 3], 3, 1,
         "with 4 servers a majority is 3: index 4 is on n1, n2, n3 — commit 4 (index 5 is on one server)"),
        ({"n1": 5, "n2": 5, "n3": 2, "n4": 2}, [1, 1, 1, 3, 3], 3, 2,
         "with 4 servers, 2 copies are not a majority: nothing new commits"),
        ({"n1": 4, "n2": 4, "n3": 4}, [2, 2, 2, 2], 2, 4,
         "everything is already committed; commitIndex never goes down"),
        ({"n1": 2}, [1, 1], 1, 0, "a one-server cluster is its own majority"),
        ({"n1": 6, "n2": 6, "n3": 0}, [1, 1, 3, 3, 5, 5], 5, 2,
         "the highest index on a majority with the current term is 6"),
    ]


class _CommitRaft(RaftNode):
    rule: Callable[[dict, list, int, int], int] = staticmethod(_commit)

    def _advance_commit(self) -> None:
        match = dict(self.match_index)
        match[self.id] = self.last_index
        terms = [self.term_at(i) for i in range(1, self.last_index + 1)]
        n = type(self).rule(match, terms, self.current_term, self.commit_index)
        if isinstance(n, int) and n > self.commit_index:
            self.commit_index = min(n, self.last_index)
            self._apply_committed()


def figure8_run(cls: type[RaftNode]) -> RaftMonitor:
    """The paper's Figure 8 (:func:`distlib.consensus.raft.figure8`) on ``cls`` servers, monitored."""
    monitor = RaftMonitor()
    figure8(cls=cls, monitors=[monitor])
    return monitor


def check_commit(new_commit_index: Callable[[dict, list, int, int], int]) -> None:
    """Exercise raft-commit: the leader's commitment rule (Figure 2, Leaders 4; §5.4.2)."""
    cases = _commit_cases()
    for match, terms, term, commit, why in cases:
        expected = _commit(match, terms, term, commit)
        got = _call(new_commit_index, dict(match), list(terms), term, commit)
        if got != expected:
            _fail(f"new_commit_index({match}, log_terms={terms}, current_term={term}, commit_index="
                  f"{commit}) returned {got!r}, expected {expected}: {why}.")
    cls = type("StudentCommitRaft", (_CommitRaft,), {"rule": staticmethod(new_commit_index)})
    monitor = figure8_run(cls)
    if not monitor.ok:
        _fail(f"replaying Figure 8 with your rule inside real Raft servers broke safety: "
              f"{monitor.violations[0]}.")
    # And it must still make progress: the same committed entries as the reference servers.
    from distlib.consensus.raft import leader_crash
    mine, ref = leader_crash(seed=1, cls=cls), leader_crash(seed=1)
    for name in sorted(ref.nodes):
        if mine.nodes[name].sm.commands != ref.nodes[name].sm.commands:
            _fail(f"in the leader_crash scenario {name} applied {len(mine.nodes[name].sm.commands)} "
                  f"commands with your rule but {len(ref.nodes[name].sm.commands)} with Raft's: your "
                  "leaders commit too little.")
    print(f"right: your rule agrees with Figure 2 on all {len(cases)} cases, Figure 8 replays safely "
          "with it, and the leader_crash scenario commits the same entries.")


# ---- raft-bug-hunt -------------------------------------------------------------------------------
def bug_hunt_run(schedule: Any, cls: type[RaftNode] = RaftNode) -> RaftMonitor:
    """Five servers (seed 1) with a client proposing every 50 ms, ``schedule`` applied, 4 s, monitored."""
    monitor = RaftMonitor()
    world = make_cluster(5, seed=1, cls=cls, monitors=[monitor])
    schedule.apply(world)
    _propose_loop(world)
    world.run(until=4.0)
    return monitor


def check_bug_hunt(schedule: Any) -> None:
    """Exercise raft-bug-hunt: a fault schedule under which NoElectionRestrictionRaft loses safety."""
    from distlib.consensus.raft import NoElectionRestrictionRaft

    check_schedule(schedule, max_faults=3)
    try:
        broken = bug_hunt_run(schedule, NoElectionRestrictionRaft)
    except ValueError as exc:
        _fail(f"the schedule is not valid for this cluster: {exc}")
    if broken.ok:
        _fail(f"under '{schedule.describe()}' the servers without the election restriction stayed "
              "safe. A stale server must WIN an election: it needs a higher term than the others (a "
              "crashed server does not count terms up while it is down; a partitioned one keeps "
              "campaigning) and a log that misses committed entries.")
    sane = bug_hunt_run(schedule, RaftNode)
    if not sane.ok:
        _fail("your schedule also breaks correct Raft — that would be a bug in the course; please "
              f"report it ({sane.violations[0]}).")
    print(f"right: '{schedule.describe()}' lets a stale server win without the election restriction "
          f"({broken.violations[0]}), while correct Raft survives the same schedule.")


# ---- raft-predict ---------------------------------------------------------------------------------
PREDICT_COMMANDS = ("before", "lost0", "lost1", "lost2", "majority0", "majority1", "majority2", "after")


def check_prediction(survivors: Any) -> None:
    """Exercise raft-predict: which commands of partitioned_old_leader(seed=2) every server applies."""
    from distlib.consensus.raft import partitioned_old_leader

    if not isinstance(survivors, (set, frozenset, list, tuple)) or not all(
            isinstance(c, str) for c in survivors):
        _fail(f"survivors must be a set of command names (got {survivors!r}).")
    unknown = sorted(set(survivors) - set(PREDICT_COMMANDS))
    if unknown:
        _fail(f"{unknown} are not commands of this scenario; choose from {list(PREDICT_COMMANDS)}.")
    run = partitioned_old_leader(seed=2)
    applied = [set(node.sm.commands) for node in run.nodes.values()]
    actual = set.intersection(*applied) & set(PREDICT_COMMANDS)
    mine = set(survivors)
    if mine - actual:
        extra = sorted(mine - actual)
        if any(c.startswith("lost") for c in extra):
            _fail(f"{extra} never commit. The old leader appended them while cut off with one follower: "
                  "2 of 5 servers is no majority, so they stay uncommitted, and after the heal the new "
                  "leader's AppendEntries consistency check makes the old leader DELETE them (logs flow "
                  "only from leader to followers; a leader never takes entries from anyone).")
        _fail(f"{extra} are not applied on every server at the end.")
    missing = sorted(actual - mine)
    if missing:
        _fail(f"{missing} are committed and applied everywhere: committed entries survive every later "
              "leader change (Leader Completeness). The majority side elected a new leader, which "
              "committed them, and the healed minority copied them.")
    print(f"right: exactly {sorted(actual, key=PREDICT_COMMANDS.index)} survive on every server; "
          "the cut-off leader's entries were overwritten.")
