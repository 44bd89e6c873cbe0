"""``python -m distlib``: runs scenarios in a terminal, and refuses bad arguments cleanly.

Runs the CLI as a real subprocess (what a student types). Budget: about 15 s, mostly interpreter
start-up and importing plotly for --html.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import pytest

from distlib import cli, scenarios
from distlib.sim import Send

ROOT = Path(__file__).resolve().parents[1]


def distlib(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distlib", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def test_list_names_every_registered_scenario():
    res = distlib("list")
    assert res.returncode == 0, res.stderr
    for name in ("pingpong", "gossip", "2pc", "2pc-blocking"):
        assert any(line.startswith(name + " ") for line in res.stdout.splitlines()), name


def test_run_pingpong_prints_the_trace_and_a_summary():
    res = distlib("run", "pingpong", "--seed", "3", "--until", "1.3", "--latency", "0.1")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "   0.000  n1 -> n2  send #1 Ping(seq=1)" in out
    assert "   0.200  n2 -> n1  deliver #2 Pong(seq=1)" in out      # constant latency 0.1, both ways
    assert "pingpong seed 3: n1 sent 3 pings to 1 peer, got 3 pongs back (0 missing) by t=1.3" in out
    assert "trace: 15 records: deliver=6, send=6, timer=3" in out


def test_run_with_faults_shows_them_in_trace_and_summary():
    res = distlib("run", "pingpong", "--nodes", "3", "--until", "3",
                  "--faults", "crash n2 at 1 restart 2; partition n1 | n3 at 0.2 heal 0.8")
    assert res.returncode == 0, res.stderr
    assert "n2  CRASH" in res.stdout and "n2  restart (from storage)" in res.stdout
    assert "PARTITION n1 | n3 | n2" in res.stdout
    assert "(partition)" in res.stdout and "(crashed)" in res.stdout
    assert "faults: crash n2 at 1, restart at 2; partition n1 | n3 at 0.2, heal at 0.8" in res.stdout


def run_in_process(*argv: str) -> str:
    out = io.StringIO()
    assert cli.main(list(argv), out=out) == 0
    return out.getvalue()


def test_same_seed_same_output_other_seed_other_output():
    args = ("run", "gossip", "--nodes", "6", "--loss", "0.2", "--latency", "0.01,0.2")
    a, b = run_in_process(*args, "--seed", "4"), run_in_process(*args, "--seed", "4")
    assert a == b
    assert a != run_in_process(*args, "--seed", "5")
    assert "gossip seed 4: " in a


def test_limit_truncates_the_printed_trace():
    out = run_in_process("run", "gossip", "--limit", "5")
    lines = out.split("== summary ==")[0].strip().splitlines()
    assert len(lines) == 1 + 5 + 1 and lines[-1].endswith("more records")


@pytest.mark.skipif(not has("distlib.transactions.twopc"), reason="distlib.transactions.twopc not present")
def test_run_2pc_through_the_cli():
    res = distlib("run", "2pc", "--seed", "1", "--nodes", "2")
    assert res.returncode == 0, res.stderr
    assert "coord -> p1  send" in res.stdout and "Prepare(tx=1)" in res.stdout
    assert "coord=commit p1=commit p2=commit" in res.stdout
    blocked = distlib("run", "2pc-blocking", "--until", "1.5")
    assert blocked.returncode == 0, blocked.stderr
    assert "coord  CRASH" in blocked.stdout and "blocked: p1,p2,p3" in blocked.stdout


@pytest.mark.skipif(not has("distlib.viz.spacetime"), reason="distlib.viz.spacetime not present")
def test_html_writes_a_standalone_plotly_page(tmp_path):
    page = tmp_path / "diagram.html"
    res = distlib("run", "pingpong", "--until", "1", "--html", str(page))
    assert res.returncode == 0, res.stderr
    text = page.read_text()
    assert "plotly" in text.lower() and len(text) > 1_000_000     # plotly.js embedded, not a CDN link
    assert f"wrote the space-time diagram to {page}" in res.stdout


@pytest.mark.parametrize("args, word", [
    (("run", "nosuch"), "scenario must be one of"),
    (("run", "pingpong", "--loss", "1.5"), "--loss"),
    (("run", "pingpong", "--seed", "x"), "--seed"),
    (("run", "pingpong", "--latency", "0.3,0.1"), "latency high must be >= low"),
    (("run", "pingpong", "--nodes", "1"), "nodes must be an integer"),
    (("run", "pingpong", "--until", "-1"), "until"),
    (("run", "pingpong", "--faults", "crash n9 at 1"), "unknown node 'n9'"),
    (("run", "2pc-blocking", "--loss", "0.1"), "does not take loss"),
    (("bogus",), "invalid choice"),
])
def test_bad_arguments_print_one_line_and_exit_2(args, word):
    res = distlib(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and word in res.stderr, res.stderr
    assert res.stdout == ""


def test_registry_refuses_unknown_scenarios_and_parameters():
    with pytest.raises(ValueError, match="scenario must be one of"):
        scenarios.run("nosuch")
    with pytest.raises(ValueError, match="does not take faults"):
        scenarios.run("2pc-blocking", faults="crash coord at 1")
    run = scenarios.run("pingpong", seed=2, nodes=3, until=1)
    assert run.world.seed == 2 and sorted(run.world.nodes) == ["n1", "n2", "n3"]


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_every_registered_scenario_runs_with_its_defaults(name):
    run = scenarios.run(name)
    assert run.world.trace.of(Send), f"{name} sent no message"
    assert run.summary().strip()


@pytest.mark.parametrize("name", sorted(scenarios.SWEEPS))
def test_every_sweep_runs_and_reports(name):
    buf = io.StringIO()
    code = cli.main(["sweep", name, "--seeds", "3"], out=buf)
    if "BROKEN" in scenarios.SWEEPS[name][0]:
        # a sweep of a broken variant may or may not hit its bug in 3 seeds; it must run and report
        assert code in (0, 1) and buf.getvalue().startswith(f"{name}: 3 seeds, ")
        return
    assert code == 0
    assert buf.getvalue().startswith(f"{name}: 3 seeds, 0 with violations")


def test_sweep_exits_1_and_names_the_first_failing_seed(monkeypatch):
    from distlib.check.paxos_invariants import check_paxos
    from distlib.consensus.paxos import NoAdoptProposer, random_paxos

    broken = ("broken", lambda: (lambda seed: random_paxos(seed, node_cls=NoAdoptProposer), check_paxos))
    monkeypatch.setitem(scenarios.SWEEPS, "broken-paxos", broken)
    buf = io.StringIO()
    assert cli.main(["sweep", "broken-paxos", "--seeds", "20"], out=buf) == 1
    text = buf.getvalue()
    assert "with violations; first failing seed" in text and "agreement violated" in text


def test_sweep_rejects_unknown_names(capsys):
    assert cli.main(["sweep", "nope"]) == 2
    assert "sweep must be one of" in capsys.readouterr().err
