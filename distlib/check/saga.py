"""Saga checkers: semantic atomicity, termination, exactly-once effect, and isolation anomalies.

The properties (Garcia-Molina & Salem, "Sagas", 1987; the service-era names from Richardson,
*Microservices Patterns*, 2018, ch. 4):

1. **Semantic atomicity** -- a saga's committed steps are a prefix T1 ... Tj of its steps; it either
   ran them all, or every committed compensatable step was compensated, in reverse order (Cj ... C1),
   and no step after the failure point committed. A compensation runs only for a step that
   committed. Once the pivot committed, the saga goes forward only.
2. **Termination** -- every started saga ends *completed* or *compensated* once faults stop and
   retries drain; a saga left half-done is a violation, and a saga whose compensation was refused for
   good is reported as **stuck**, with the reason. :func:`settle_times` gives the time each took.
3. **Exactly-once effect** -- each step and each compensation took effect at most once, however many
   copies of its request arrived.
4. **Application invariants** (:func:`check_invariant`) -- the run's own predicate (no overbooking,
   balance >= 0, nothing created or lost) after every local commit.
5. **Isolation anomalies** (:func:`find_anomalies`) -- a saga reading a value another saga wrote and
   later compensated (*dirty read*), a write computed from a stale read that overwrote another saga's
   write (*lost update*), a saga reading the same key twice and seeing two versions (*non-repeatable
   read*).

Everything is read from ground truth: the services' journals of committed local transactions (each
written atomically with the state change) -- never from the orchestrator's bookkeeping, whose claims
("completed", "compensated") are checked against the journals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from distlib.transactions.localstore import Entry
from distlib.transactions.saga import Saga, SagaEnded, SagaRun


@dataclass
class SagaState:
    """What the journals say about one saga."""

    saga: str
    definition: Saga
    start: float
    committed: list[str] = field(default_factory=list)    # steps that took effect, in time order
    undone: list[str] = field(default_factory=list)       # compensations that took effect, in time order
    failed: str | None = None                              # the failure point (first step refused / given up)
    outcome: str = "running"                               # completed | compensated | stuck | running
    reason: str = ""
    end: float | None = None

    @property
    def settle_time(self) -> float | None:
        return None if self.end is None else self.end - self.start


def _entries(run: SagaRun, saga: str) -> list[Entry]:
    return [e for e in run.journal() if e.saga == saga]


def saga_states(run: SagaRun) -> dict[str, SagaState]:
    """saga id -> :class:`SagaState`, from the services' journals (and the orchestrator's log only for
    the reason a saga is stuck)."""
    ended = {r.saga: r for r in run.log() if isinstance(r, SagaEnded)}
    out: dict[str, SagaState] = {}
    journal = run.journal()
    for inst in run.instances:
        d = run.definitions[inst.definition]
        st = SagaState(inst.saga, d, inst.start_at)
        last = None
        for e in journal:
            if e.saga != inst.saga:
                continue
            if e.kind == "step" and e.step not in st.committed:
                st.committed.append(e.step)
                last = e.time
            elif e.kind == "undo" and e.step not in st.undone:
                st.undone.append(e.step)
                last = e.time
            elif e.kind == "failed" and st.failed is None:
                st.failed = e.step
                last = e.time
            elif e.kind in ("refused", "stuck") or (e.kind == "end" and e.op == "stuck"):
                st.outcome, st.reason, st.end = "stuck", e.reason, e.time
            elif e.kind == "skip":
                last = e.time
        rec = ended.get(inst.saga)
        if st.outcome == "stuck":
            pass
        elif rec is not None and rec.outcome == "stuck":
            st.outcome, st.reason = "stuck", rec.reason
        elif all(s.name in st.committed for s in d.steps):
            st.outcome = "completed"
        elif st.failed is not None:
            need = [s.name for s in d.steps if s.kind == "compensatable" and s.name in st.committed]
            if all(n in st.undone for n in need):
                st.outcome = "compensated"
        if st.outcome in ("completed", "compensated"):
            st.end = last
        out[inst.saga] = st
    return out


def settle_times(run: SagaRun) -> dict[str, float | None]:
    """saga -> time from its start to its last effect (None if it has not settled)."""
    return {s: st.settle_time for s, st in saga_states(run).items()}


def _exactly_once(run: SagaRun) -> list[str]:
    seen: dict[tuple[str, str, str], list[Entry]] = {}
    for e in run.journal():
        if e.kind in ("step", "undo"):
            seen.setdefault((e.saga, e.step, e.kind), []).append(e)
    out = []
    for (saga, step, kind), es in seen.items():
        if len(es) > 1:
            what = "step" if kind == "step" else "compensation of"
            times = ", ".join(f"t={e.time:.3f}" for e in es)
            out.append(f"saga {saga}: exactly-once effect broken: {what} {step} took effect {len(es)} times "
                       f"at {es[0].service} ({times})")
    return out


def check_saga(run: SagaRun, *, settled: bool = True) -> list[str]:
    """Every violation of semantic atomicity, exactly-once effect and termination in ``run`` (and of
    its application invariant, if it has one). ``settled=False`` skips termination (a run cut short
    on purpose). ``[]`` means none."""
    out = _exactly_once(run)
    states = saga_states(run)
    journal = run.journal()
    for saga, st in states.items():
        d = st.definition
        names = [s.name for s in d.steps]
        undo_times = {e.step: e.time for e in reversed(journal) if e.saga == saga and e.kind == "undo"}
        # a compensation only for a committed step
        for step in st.undone:
            if step not in st.committed:
                out.append(f"saga {saga}: compensation of {step} took effect but {step} never committed")
        # committed steps are a prefix T1..Tj, in order
        order = sorted(st.committed, key=names.index)
        if order != st.committed or order != names[:len(order)]:
            out.append(f"saga {saga}: steps committed as {', '.join(st.committed)}, not a prefix of "
                       f"{', '.join(names)} in order")
        if st.failed is not None:
            fi = names.index(st.failed)
            after = [s for s in st.committed if names.index(s) > fi]
            if after:
                out.append(f"saga {saga}: {', '.join(after)} committed after the failure of {st.failed}")
            pivot = d.pivot
            if pivot is not None and pivot in st.committed and st.failed != pivot \
                    and names.index(st.failed) > names.index(pivot) and st.outcome != "stuck":
                out.append(f"saga {saga}: {st.failed} failed after the pivot {pivot} committed")
        if st.outcome == "completed" and st.undone:
            out.append(f"saga {saga}: completed, yet {', '.join(st.undone)} was compensated")
        # reverse order of compensations (Garcia-Molina & Salem: Cj ... C1)
        comp = [n for n in names if n in undo_times]
        by_time = sorted(comp, key=lambda n: undo_times[n])
        if by_time != list(reversed(comp)):
            out.append(f"saga {saga}: compensations ran as {', '.join(by_time)}; they must run in reverse "
                       f"order of the steps ({', '.join(reversed(comp))})")
        if settled:
            if st.outcome == "running":
                done = ", ".join(st.committed) or "nothing"
                undone = f"; compensated {', '.join(st.undone)}" if st.undone else ""
                out.append(f"saga {saga}: did not settle: committed {done}{undone} -- neither completed nor "
                           f"compensated (half-done)")
            elif st.outcome == "stuck":
                out.append(f"saga {saga}: stuck: {st.reason}")
    # what the orchestrator claims must be what happened
    for rec in run.log():
        if isinstance(rec, SagaEnded) and rec.saga in states and rec.outcome != "stuck":
            real = states[rec.saga].outcome
            if real != rec.outcome:
                out.append(f"saga {rec.saga}: the orchestrator logged {rec.outcome}, but the services' "
                           f"journals say {real}")
    out.extend(check_invariant(run))
    return out


def check_invariant(run: SagaRun) -> list[str]:
    """The run's application invariant after every committed local transaction (first failure of each
    distinct message, with its time)."""
    if run.invariant is None:
        return []
    # replay: the database of each service as each journal entry left it
    dbs: dict[str, Any] = {s: None for s in run.services}
    out: list[str] = []
    seen: set[str] = set()
    for e in run.journal():
        if e.after is None:
            continue
        dbs[e.service] = e.after
        problem = run.invariant({k: v for k, v in dbs.items() if v is not None})
        if problem and problem not in seen:
            seen.add(problem)
            out.append(f"invariant violated at t={e.time:.3f} (after {e.saga}'s {e.kind} {e.step}): "
                       f"{problem}")
    return out


def find_anomalies(run: SagaRun) -> dict[str, list[str]]:
    """Isolation anomalies between sagas, from the versions each committed local transaction read and
    wrote: ``{"dirty read": [...], "lost update": [...], "non-repeatable read": [...]}``."""
    journal = run.journal()
    writer: dict[tuple[str, str, int], Entry] = {}
    for e in journal:
        for key, v in e.writes:
            writer[(e.service, key, v)] = e
    undo_time: dict[tuple[str, str], float] = {}
    for e in journal:
        if e.kind == "undo":
            undo_time.setdefault((e.saga, e.step), e.time)
    out: dict[str, list[str]] = {"dirty read": [], "lost update": [], "non-repeatable read": []}
    first_read: dict[tuple[str, str, str], tuple[int, Entry]] = {}
    for e in journal:
        if e.kind != "step":
            continue
        for key, v in e.reads:
            w = writer.get((e.service, key, v))
            if w is not None and w.saga != e.saga and w.kind == "step":
                t = undo_time.get((w.saga, w.step))
                if t is not None and t > e.time:
                    out["dirty read"].append(
                        f"{e.saga}'s {e.step} read {key} as {w.saga}'s {w.step} wrote it (t={w.time:.3f}); "
                        f"{w.saga} compensated {w.step} later (t={t:.3f})")
            prev = first_read.get((e.saga, e.service, key))
            if prev is None:
                first_read[(e.saga, e.service, key)] = (v, e)
            elif prev[0] != v:
                others = sorted({writer[(e.service, key, x)].saga for x in range(prev[0] + 1, v + 1)
                                 if (e.service, key, x) in writer} - {e.saga})
                if others:
                    out["non-repeatable read"].append(
                        f"{e.saga} read {key} at version {prev[0]} in {prev[1].step} and at version {v} in "
                        f"{e.step}: {', '.join(others)} changed it in between")
        written = dict(e.writes)
        for key, base in e.based_on:
            new = written.get(key)
            if new is None:
                continue
            lost = [writer[(e.service, key, x)] for x in range(base + 1, new)
                    if (e.service, key, x) in writer and writer[(e.service, key, x)].saga != e.saga]
            for w in lost:
                out["lost update"].append(
                    f"{e.saga}'s {e.step} wrote {key} from the value it read at version {base}, overwriting "
                    f"{w.saga}'s {w.step} (t={w.time:.3f}): that update is lost")
    return out


def anomaly_count(runs: Iterable[SagaRun], kind: str) -> tuple[int, int]:
    """(runs showing anomaly ``kind``, runs violating their invariant) over ``runs``."""
    shown = broken = 0
    for run in runs:
        shown += bool(find_anomalies(run)[kind])
        broken += bool(check_invariant(run))
    return shown, broken
