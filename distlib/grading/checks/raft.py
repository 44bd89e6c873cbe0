"""Checks for the chapter 03 (Raft) exercises.

Each ``check_*`` raises :class:`AssertionError` with a "wrong, because ..." message that names the
rule the answer broke, and prints a "right: ..." line otherwise. Expected answers are computed — from
the rules of Ongaro & Ousterhout (2014) or by running the simulator — never stored. Where possible the
learner's function is plugged into the real :class:`~distlib.consensus.raft.RaftNode` (a subclass
overrides one method) and scenarios run under the invariant monitor.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from distlib.check.raft_invariants import RaftMonitor
from distlib.consensus.raft import LEADER, RaftNode, RequestVote, figure8, make_cluster
from distlib.grading import guard

from .feedback import call, call_copy, check_schedule, differential, exercise
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


_LOG_ENDS = [(0, 0)] + [(t, i) for t in (1, 2, 3) for i in (1, 2, 3, 4) if t <= i]


def _vote_cases() -> list[tuple[int, int, int, int]]:
    """Every pair of log ends (last term, last index), an empty log included: smallest first."""
    return [(ct, ci, mt, mi) for ct, ci in _LOG_ENDS for mt, mi in _LOG_ENDS]


def _why_vote(case: tuple[int, int, int, int], got: Any) -> str:
    ct, ci, mt, mi = case
    if ct != mt:
        later = "candidate's" if ct > mt else "voter's"
        return (f"the {later} last entry has the later term ({max(ct, mt)} > {min(ct, mt)}), so that log is "
                "more up-to-date whatever the lengths — §5.4.1 compares the LAST TERMS first and the lengths "
                "only on a tie")
    if ci == mi:
        return "the logs end with the same term at the same index: equally up-to-date, so grant"
    return ("same last term: the longer log is more up-to-date" + (", grant" if ci > mi else
            " — the candidate's is shorter and may lack an entry committed in that term, refuse"))


_VOTE_MISTAKES = [
    (lambda c: c[1] >= c[3], "you compare the log lengths only. A longer log whose last entry has an "
                             "older term holds stale leftovers of an old leader: compare last terms first "
                             "(§5.4.1)"),
    (lambda c: c[0] >= c[2], "you compare the last terms only. On equal last terms the longer log wins: a "
                             "shorter candidate may lack an entry committed in that term"),
    (lambda c: c[0] > c[2] or (c[0] == c[2] and c[1] > c[3]),
     "you refuse a candidate whose log is exactly as up-to-date as yours. §5.4.1 grants the vote when the "
     "candidate's log is AT LEAST as up-to-date — with strict comparisons two equal servers can never "
     "elect each other"),
]


class _VoteRaft(RaftNode):
    rule: Callable[[int, int, int, int], bool] = staticmethod(_up_to_date)

    def _candidate_up_to_date(self, msg: RequestVote) -> bool:
        return bool(type(self).rule(msg.last_log_term, msg.last_log_index, self.last_term,
                                    self.last_index))


@exercise("raft-up-to-date")
def check_up_to_date(candidate_up_to_date: Callable[[int, int, int, int], bool]) -> None:
    """Exercise raft-up-to-date: the election restriction's comparison (§5.4.1), on every pair of
    log ends."""
    cases = _vote_cases()
    def answer(case: tuple[int, int, int, int]) -> bool:
        got = call(candidate_up_to_date, *case)
        if type(got) is not bool:
            _fail(f"candidate_up_to_date{case} returned {got!r}; return True or False.")
        return got

    differential(cases, answer, lambda c: [_up_to_date(*c)],
                 lambda c, got: (f"candidate_up_to_date(cand_last_term={c[0]}, cand_last_index={c[1]}, "
                                 f"my_last_term={c[2]}, my_last_index={c[3]}) returned {got!r}"),
                 _why_vote, mistakes=_VOTE_MISTAKES)
    # Now inside real servers: a cluster of your voters under random crashes and partitions.
    cls = type("StudentVoteRaft", (_VoteRaft,), {"rule": staticmethod(candidate_up_to_date)})
    found = _fuzz_ok(cls, range(12))
    if found:
        seed, problem = found
        _fail(f"Raft servers using your rule broke a safety property under random faults (fuzz seed "
              f"{seed}): {problem}.")
    print(f"right: your rule matches §5.4.1 on all {len(cases)} pairs of log ends, and servers voting "
          "with it kept all four safety properties over 12 random fault runs.")


# ---- raft-commit (§5.4.2, Figure 2 Leaders rule 4) ------------------------------------------------
def _commit(match_index: dict[str, int], log_terms: list[int], current_term: int, commit_index: int) -> int:
    majority = len(match_index) // 2 + 1
    for n in range(len(log_terms), commit_index, -1):
        if log_terms[n - 1] != current_term:
            continue
        if sum(1 for m in match_index.values() if m >= n) >= majority:
            return n
    return commit_index


CommitCase = tuple[dict[str, int], list[int], int, int]


def _commit_cases(randomized: int = 3000, seed: int = 2014) -> list[CommitCase]:
    """Leader states: Figure 8 (c) and (e), then ``randomized`` seeded random states of 1-5 servers and
    logs of 0-7 entries (terms never decrease along a log; the leader's term is at least its last
    entry's; the leader's own match is its log length), sorted smallest first."""
    fixed: list[CommitCase] = [
        ({"n1": 3, "n2": 2, "n3": 2, "n4": 1, "n5": 0}, [1, 2, 4], 4, 1),   # Figure 8 (c)
        ({"n1": 3, "n2": 3, "n3": 3, "n4": 2, "n5": 2}, [1, 2, 4], 4, 1),   # Figure 8 (e)
    ]
    rng = random.Random(seed)
    generated: list[CommitCase] = []
    for _ in range(randomized):
        size, length = rng.randint(1, 5), rng.randint(0, 7)
        terms = sorted(rng.randint(1, 4) for _ in range(length))
        term = max(terms, default=1) + rng.choice((0, 0, 1))
        commit = rng.randint(0, length)
        match = {f"n{i}": (length if i == 1 else rng.randint(0, length)) for i in range(1, size + 1)}
        generated.append((match, terms, term, commit))
    generated.sort(key=lambda c: (len(c[0]) + len(c[1]), len(c[1])))
    return fixed + generated


def _commit_with(majority: Callable[[int], int], *, current_term_only: bool = True,
                 highest_first: bool = True) -> Callable[[CommitCase], int]:
    """The commitment rule with one ingredient swapped out: a model of a known mistake."""
    def rule(case: CommitCase) -> int:
        match, terms, term, commit = case
        need = majority(len(match))
        order = range(len(terms), commit, -1) if highest_first else range(commit + 1, len(terms) + 1)
        best = commit
        for n in order:
            if current_term_only and terms[n - 1] != term:
                continue
            if sum(1 for m in match.values() if m >= n) >= need:
                if highest_first:
                    return n
                best = n
                break
        return best
    return rule


_COMMIT_MISTAKES = [
    (_commit_with(lambda k: k // 2 + 1, current_term_only=False),
     "you commit entries of EARLIER terms by counting replicas. §5.4.2 (Figure 8): a leader counts replicas "
     "only for entries of its current term; earlier entries commit indirectly, with the first current-term "
     "entry above them"),
    (_commit_with(lambda k: k // 2), "half of the servers is not a majority: with k servers a majority is "
                                     "k // 2 + 1 (3 of 4, 3 of 5), so that any two majorities overlap"),
    (_commit_with(lambda k: round(k / 2)), "round(k / 2) is not a majority size: with k servers a majority "
                                           "is k // 2 + 1 (2 of 2, 3 of 4, 3 of 5), so any two majorities "
                                           "overlap"),
    (_commit_with(lambda k: k // 2 + 1, highest_first=False),
     "you stop at the LOWEST index that qualifies; commitIndex moves to the HIGHEST N stored on a majority "
     "with log[N].term == currentTerm"),
]


def _why_commit(case: CommitCase, got: Any) -> str:
    match, terms, term, commit = case
    expected = _commit(match, terms, term, commit)
    need = len(match) // 2 + 1
    if isinstance(got, int) and got < commit:
        return "commitIndex never goes down: committed entries stay committed"
    if isinstance(got, int) and 0 < got <= len(terms) and got > expected:
        holders = sum(1 for m in match.values() if m >= got)
        if terms[got - 1] != term:
            return (f"entry {got} is from term {terms[got - 1]}, not the current term {term}: a leader never "
                    "commits an entry of an earlier term by counting replicas (§5.4.2, Figure 8)")
        if holders < need:
            return (f"entry {got} is stored on {holders} of {len(match)} servers; a majority is {need}")
    return (f"the highest N > commitIndex stored on a majority ({need} of {len(match)}) with "
            f"log[N].term == currentTerm is {expected}" if expected != commit else
            "no entry of the current term is stored on a majority: commitIndex stays")


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


@exercise("raft-commit")
def check_commit(new_commit_index: Callable[[dict, list, int, int], int]) -> None:
    """Exercise raft-commit: the leader's commitment rule (Figure 2, Leaders 4; §5.4.2)."""
    cases = _commit_cases()
    differential(cases, lambda c: call_copy(new_commit_index, *c), lambda c: [_commit(*c)],
                 lambda c, got: (f"new_commit_index({c[0]}, log_terms={c[1]}, current_term={c[2]}, "
                                 f"commit_index={c[3]}) returned {got!r}"),
                 _why_commit, mistakes=_COMMIT_MISTAKES)
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
    print(f"right: your rule agrees with Figure 2 on all {len(cases)} leader states (Figure 8 and "
          "random), Figure 8 replays safely with it, and the leader_crash scenario commits the same entries.")


# ---- raft-bug-hunt -------------------------------------------------------------------------------
def bug_hunt_run(schedule: Any, cls: type[RaftNode] = RaftNode) -> RaftMonitor:
    """Five servers (seed 1) with a client proposing every 50 ms, ``schedule`` applied, 4 s, monitored."""
    monitor = RaftMonitor()
    world = make_cluster(5, seed=1, cls=cls, monitors=[monitor])
    schedule.apply(world)
    _propose_loop(world)
    world.run(until=4.0)
    return monitor


@exercise("raft-bug-hunt")
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


@exercise("raft-predict")
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


guard.protect("raft-up-to-date", _up_to_date, (RaftNode, "_candidate_up_to_date"))
guard.protect("raft-commit", _commit, (RaftNode, "_advance_commit"))
