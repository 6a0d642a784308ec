"""Avellaneda–Stoikov closed forms, checked against the worked example."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategy.avellaneda import optimal_spread, quotes, reservation_price


def test_worked_check():
    s, q, gamma, sigma, tau, k = 100.0, 3.0, 0.1, 2.0, 0.5, 1.5
    assert reservation_price(s, q, gamma, sigma, tau) == pytest.approx(99.4, abs=1e-12)
    assert round(optimal_spread(gamma, sigma, tau, k), 6) == 1.490770
    bid, ask = quotes(s, q, gamma, sigma, tau, k)
    assert round(ask, 6) == 100.145385
    assert round(bid, 6) == 98.654615


def test_flat_inventory_reserves_at_the_mid():
    assert reservation_price(50.0, 0.0, 0.3, 4.0, 10.0) == 50.0


def test_bad_parameters_raise():
    with pytest.raises(ValueError):
        optimal_spread(0.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        optimal_spread(0.1, 1.0, 1.0, 0.0)


pos = st.floats(1e-3, 1e3)


@given(st.floats(1.0, 1e5), st.floats(-50, 50), pos, st.floats(0, 100), st.floats(0, 100), pos)
def test_quotes_are_centred_on_the_reservation(s, q, gamma, sigma, tau, k):
    bid, ask = quotes(s, q, gamma, sigma, tau, k)
    r = reservation_price(s, q, gamma, sigma, tau)
    spread = optimal_spread(gamma, sigma, tau, k)
    # a difference of two large floats carries their rounding error, not its own
    assert ask - bid == pytest.approx(spread, rel=1e-9, abs=1e-9 * (1 + abs(bid) + abs(ask)))
    assert (bid + ask) / 2 == pytest.approx(r, rel=1e-9, abs=1e-9 * (1 + abs(bid) + abs(ask)))
    # inventory skews symmetrically: long lowers r by what short raises it
    assert s - reservation_price(s, q, gamma, sigma, tau) == pytest.approx(
        reservation_price(s, -q, gamma, sigma, tau) - s, rel=1e-9, abs=1e-6)


@given(pos, st.floats(0, 10), st.floats(0, 100), pos)
def test_spread_shrinks_as_fills_decay_faster(gamma, sigma, tau, k):
    wide = optimal_spread(gamma, sigma, tau, k)
    narrow = optimal_spread(gamma, sigma, tau, k * 2)
    assert narrow < wide or math.isclose(narrow, wide, rel_tol=1e-12)
    assert wide >= gamma * sigma * sigma * tau
