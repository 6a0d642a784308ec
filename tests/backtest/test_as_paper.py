"""The Avellaneda–Stoikov paper's own simulation: the symmetric benchmark's mean profit
matches its closed form; the inventory strategy cuts the dispersion of outcomes."""
import math

import pytest

from backtest.as_paper import KEYS, run_as_paper, symmetric_expected_profit
from strategy import avellaneda

PATHS = 1000


@pytest.fixture(scope="module")
def at_01():
    return {s: run_as_paper(s, 0.1, PATHS, seed=11) for s in ("inventory", "symmetric")}


@pytest.mark.parametrize("gamma", [0.1, 0.01, 0.5])
def test_symmetric_mean_profit_matches_the_closed_form(gamma):
    r = run_as_paper("symmetric", gamma, PATHS, seed=3)
    expected = symmetric_expected_profit(gamma)
    se = r["profit_std"] / math.sqrt(PATHS)
    assert abs(r["profit_mean"] - expected) < 3 * se, (r, expected)


def test_closed_form_is_the_sum_over_steps():
    # by hand: 200 steps, the spread shrinking with T - t, both sides filling
    total = 0.0
    for i in range(200):
        d = avellaneda.optimal_spread(0.1, 2.0, 1.0 - i * 0.005, 1.5) / 2
        total += 2 * 140 * math.exp(-1.5 * d) * 0.005 * d
    assert symmetric_expected_profit(0.1) == pytest.approx(total)
    assert 60 < total < 75  # the paper's symmetric column at gamma = 0.1 says 67.21


def test_inventory_strategy_has_far_smaller_dispersion_at_gamma_01(at_01):
    inv, sym = at_01["inventory"], at_01["symmetric"]
    assert inv["final_q_std"] < 0.5 * sym["final_q_std"]  # paper: 2.80 vs 8.66
    assert inv["profit_std"] < 0.6 * sym["profit_std"]  # paper: 5.89 vs 13.43
    assert inv["profit_mean"] > 0.85 * sym["profit_mean"]  # at a similar mean profit (62.94 vs 67.21)
    assert abs(inv["final_q_mean"]) < 0.5


def test_both_strategies_quote_the_same_spread(at_01):
    inv, sym = at_01["inventory"], at_01["symmetric"]
    assert inv["spread_mean"] == sym["spread_mean"]
    mean = sum(avellaneda.optimal_spread(0.1, 2.0, 1.0 - i * 0.005, 1.5) for i in range(200)) / 200
    assert inv["spread_mean"] == pytest.approx(mean)


def test_result_keys_and_determinism(at_01):
    assert tuple(at_01["inventory"]) == KEYS
    assert run_as_paper("inventory", 0.1, PATHS, seed=11) == at_01["inventory"]
    assert run_as_paper("inventory", 0.1, PATHS, seed=12) != at_01["inventory"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        run_as_paper("greedy", 0.1, 10, 0)
    with pytest.raises(ValueError):
        run_as_paper("inventory", 0.0, 10, 0)
    with pytest.raises(ValueError):
        run_as_paper("inventory", 0.1, 1, 0)
