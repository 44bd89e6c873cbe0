"""The 2PC / 3PC / Paxos Commit comparison is measured from runs; the CLI runs the new scenarios."""

from __future__ import annotations

import pytest

from distlib import scenarios
from distlib.transactions.compare import comparison_table, format_table


def test_comparison_table_from_runs():
    rows = {r["protocol"]: r for r in comparison_table(3, 1, seeds=60)}
    assert rows["2PC"]["coordinator_crash"] == "blocked"
    assert rows["3PC"]["coordinator_crash"] == "abort"            # non-blocking under a crash
    assert rows["Paxos Commit"]["coordinator_crash"] == "commit"  # and it does not even lose the commit
    assert rows["3PC"]["partition"] == "mixed" and rows["3PC"]["partition_violations"]
    assert rows["2PC"]["partition_violations"] == rows["Paxos Commit"]["partition_violations"] == []
    assert rows["3PC"]["partition_sweep"].split()[0] != "0"
    for p in ("2PC", "Paxos Commit"):
        assert rows[p]["partition_sweep"].startswith("0 violations, 0 blocked")
    assert [rows[p]["messages"] for p in ("2PC", "3PC", "Paxos Commit")] == [12, 18, 21]
    assert rows["2PC"]["message_delays"] + 1 == rows["Paxos Commit"]["message_delays"]
    assert "protocol" in format_table(list(rows.values())).splitlines()[0]


@pytest.mark.parametrize("name, outcome", [
    ("3pc", "commit"), ("3pc-crash", "abort"), ("3pc-partition", "mixed"), ("paxos-commit", "commit"),
    ("paxos-commit-leader-crash", "commit")])
def test_cli_scenarios(name, outcome):
    assert scenarios.run(name, seed=0).outcome == outcome


@pytest.mark.parametrize("name", ["3pc", "paxos-commit"])
def test_cli_sweeps(name):
    run, check = scenarios.sweep_parts(name)
    assert all(check(run(s)) == [] for s in range(20))


def test_scenario_bad_input():
    with pytest.raises(ValueError, match="nodes|participants"):
        scenarios.run("paxos-commit", nodes=0)
    with pytest.raises(ValueError, match="p9"):
        scenarios.run("3pc", faults="crash p9 at 1")
