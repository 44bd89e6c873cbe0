"""PBS against the papers (distlib.storage.pbs): the production latency fits, the vectorized WARS
model, the simulator with separate W/A/R/S links, and the published numbers we reproduce.

Budget: about 6 s on 2 cores.
"""

from __future__ import annotations

import random
import statistics

import numpy as np
import pytest

from distlib.storage.pbs import (
    MODELS,
    PAPER,
    ParetoExp,
    exponential_model,
    paper_comparison,
    standard_error,
    t_visibility,
    wars,
    wars_sample,
)


def test_pareto_exp_samples_follow_the_mixture():
    lat = ParetoExp.make(0.9, 2.0, 3.0, 0.5)      # mean 0.9 * 3 + 0.1 * 2 = 2.9
    draws = lat.draw(np.random.default_rng(1), (200_000,))
    assert lat.mean == pytest.approx(2.9)
    assert draws.mean() == pytest.approx(2.9, rel=0.02)
    assert draws.min() > 0
    # The Pareto body never goes below xm: P(draw < 2) is the exponential's share of it only.
    assert np.mean(draws < 2.0) == pytest.approx(0.1 * (1 - np.exp(-1.0)), abs=0.005)
    rng = random.Random(2)
    scalar = [lat.sample(rng) for _ in range(50_000)]
    assert statistics.median(scalar) == pytest.approx(float(np.median(draws)), rel=0.03)


def test_wars_sample_is_the_per_trial_threshold():
    """The vectorized threshold equals the papers' rule applied trial by trial."""
    s = wars_sample(1, 1, model=exponential_model(2.0, 1.0), trials=2000, seed=3)
    curve = wars(1, 1, model=exponential_model(2.0, 1.0), trials=2000, seed=3, times=(0.0, 1.0, 5.0))
    assert curve == [s.p_visible(t) for t in (0.0, 1.0, 5.0)]
    assert s.p_visible(s.t_at(0.9)) >= 0.9 > s.p_visible(s.t_at(0.9) - 1e-9)
    strict = wars_sample(2, 2, model="LNKD-DISK", trials=5000)
    assert (strict.tau == 0).all()                 # R + W > N: every read meets the write


@pytest.mark.parametrize("model", ["LNKD-DISK", "YMMR"])
def test_simulator_with_production_links_matches_wars(model):
    times = (0.0, 10.0)
    sim = t_visibility(1, 1, model=model, trials=1500, times=times)
    direct = wars(1, 1, model=model, trials=100_000, times=times)
    for p_sim, p_model in zip(sim, direct, strict=True):
        assert abs(p_sim - p_model) < 4 * standard_error(p_model, 1500)


def test_we_reproduce_the_published_numbers():
    rows = {(r["model"], r["r"], r["w"], r["quantity"], r["at"]): r for r in paper_comparison(trials=100_000)}
    assert len(rows) == len(PAPER)
    # Probabilities right after commit: within 1.5 points of every published one.
    for (model, _, _, quantity, at), row in rows.items():
        if quantity == "p@t" and at == 0.0:
            assert abs(row["ours"] - row["paper"]) < 0.015, model
    assert rows[("LNKD-DISK", 1, 1, "p@t", 10.0)]["ours"] == pytest.approx(0.925, abs=0.01)
    assert rows[("LNKD-SSD", 1, 1, "p@t", 5.0)]["ours"] > 0.9999
    # Times to 99.9 %: a tail quantile, so within 20 % (the papers' own estimates used 50,000 reads;
    # LNKD-DISK's converges to about 52 ms with a million trials, 15 % above the published 45.5).
    for key, row in rows.items():
        if key[3] == "t@p":
            assert row["ours"] == pytest.approx(row["paper"], rel=0.2), key
        if key[3] in ("Lr", "Lw"):
            assert row["ours"] == pytest.approx(row["paper"], rel=0.08), key


def test_the_fits_match_the_papers_table():
    assert str(MODELS["LNKD-SSD"].w) == "91.22% Pareto(xm=0.235, alpha=10) + 8.78% Exp(rate=1.66)"
    assert str(MODELS["LNKD-DISK"].w) == "38.00% Pareto(xm=1.05, alpha=1.51) + 62.00% Exp(rate=0.183)"
    assert MODELS["LNKD-DISK"].a == MODELS["LNKD-SSD"].a and MODELS["WAN"].wan == 75.0


@pytest.mark.parametrize("build, message", [
    (lambda: ParetoExp.make(1.5, 1, 1, 1), "pareto must be a number in [0, 1] (got 1.5)"),
    (lambda: ParetoExp.make(0.5, 0, 1, 1), "xm must be a number > 0 (got 0)"),
    (lambda: exponential_model(0.0), "w_mean must be a number > 0 (got 0.0)"),
    (lambda: wars(1, 1, model="LNKD-HDD"), "model must be one of LNKD-SSD, LNKD-DISK, YMMR, WAN"),
    (lambda: t_visibility(1, 1, model="WAN"), "supported by wars() only"),
    (lambda: wars_sample(4, 1), "r must be an integer in 1..3 (got 4)"),
    (lambda: paper_comparison(trials=10), "trials must be an integer >= 1000 (got 10)"),
])
def test_bad_input(build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert message in str(err.value)
