"""EwmaVolatility: time-decayed EWMA of squared bp log-returns per second."""
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategy.volatility import EwmaVolatility


def test_first_update_only_anchors():
    v = EwmaVolatility(halflife_s=30.0, initial_sigma_bp=2.0)
    assert v.sigma_bp == 2.0
    assert v.update(0.0, 100.0) == 2.0
    assert v.sigma_bp == 2.0


def test_flat_mid_decays_variance_by_half_each_halflife():
    v = EwmaVolatility(halflife_s=30.0, initial_sigma_bp=2.0)
    v.update(0.0, 100.0)
    # one half-life with a zero return: variance 4 -> 2
    assert v.update(30.0, 100.0) == pytest.approx(math.sqrt(2.0), rel=1e-12)
    # two more half-lives in uneven steps: the decay depends on elapsed time, not on the count
    v.update(40.0, 100.0)
    v.update(90.0, 100.0)
    assert v.sigma_bp == pytest.approx(math.sqrt(0.5), rel=1e-12)


def test_one_return_hand_worked():
    v = EwmaVolatility(halflife_s=30.0, initial_sigma_bp=1.0)
    v.update(10.0, 100.0)
    # a 10 bp log-return over 2 s: sample = 10^2 / 2 = 50 bp^2/s
    alpha = 1.0 - 2.0 ** (-2.0 / 30.0)
    expected = math.sqrt(1.0 + alpha * (50.0 - 1.0))
    assert v.update(12.0, 100.0 * math.exp(10e-4)) == pytest.approx(expected, rel=1e-9)
    # a fall counts the same as a rise
    w = EwmaVolatility(halflife_s=30.0, initial_sigma_bp=1.0)
    w.update(10.0, 100.0)
    assert w.update(12.0, 100.0 * math.exp(-10e-4)) == pytest.approx(expected, rel=1e-9)


def test_ignores_non_positive_dt_and_mids():
    v = EwmaVolatility(halflife_s=30.0, initial_sigma_bp=1.0)
    v.update(10.0, 100.0)
    assert v.update(10.0, 120.0) == 1.0  # dt = 0
    assert v.update(5.0, 80.0) == 1.0  # dt < 0
    assert v.update(11.0, 0.0) == 1.0
    assert v.update(11.0, -5.0) == 1.0
    assert v.update(11.0, float("nan")) == 1.0
    # the anchor is still (10, 100): the next return is measured from it
    ref = EwmaVolatility(halflife_s=30.0, initial_sigma_bp=1.0)
    ref.update(10.0, 100.0)
    assert v.update(12.0, 101.0) == pytest.approx(ref.update(12.0, 101.0), rel=1e-15)


def test_recovers_true_sigma_at_irregular_intervals():
    rng = random.Random(42)
    true_sigma = 3.0  # bp / sqrt(s)
    v = EwmaVolatility(halflife_s=600.0, initial_sigma_bp=0.5)
    ts, mid = 0.0, 2000.0
    v.update(ts, mid)
    for _ in range(20_000):
        dt = rng.uniform(0.1, 1.5)
        ts += dt
        mid *= math.exp(rng.gauss(0.0, true_sigma * math.sqrt(dt)) / 1e4)
        v.update(ts, mid)
    assert v.sigma_bp == pytest.approx(true_sigma, rel=0.1)


def test_rejects_bad_parameters():
    with pytest.raises(ValueError):
        EwmaVolatility(halflife_s=0.0)
    with pytest.raises(ValueError):
        EwmaVolatility(initial_sigma_bp=-1.0)


@given(st.lists(st.tuples(st.floats(-5, 50, allow_nan=False), st.floats(-10, 1e6, allow_nan=False)),
                max_size=40))
def test_sigma_stays_finite_and_non_negative(steps):
    v = EwmaVolatility(halflife_s=10.0, initial_sigma_bp=1.0)
    ts = 0.0
    for dt, mid in steps:
        ts += dt
        s = v.update(ts, mid)
        assert math.isfinite(s) and s >= 0.0
        assert s == v.sigma_bp
