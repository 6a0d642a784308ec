"""A and k fitted from the tape recover the intensity the trades were drawn from."""
import math
import random

import pytest

from strategy.calibration import IntensityCalibrator


def _tape(cal, a, k, seconds, seed=1, fair=100.0):
    """Takers arriving at rate A, each reaching an Exp(k) depth: λ(≥δ) = A·e^(−kδ)."""
    rng = random.Random(seed)
    ts = 0.0
    while ts < seconds:
        ts += rng.expovariate(a)
        depth_bp = rng.expovariate(k)
        side = rng.choice("BA")
        px = fair * (1 + depth_bp / 1e4) if side == "B" else fair * (1 - depth_bp / 1e4)
        cal.on_trade(ts, px, side, fair)
    return ts


@pytest.mark.parametrize("a,k", [(2.0, 0.5), (0.5, 0.2), (5.0, 1.5)])
def test_fit_recovers_a_and_k(a, k):
    cal = IntensityCalibrator(window_s=600, refit_s=5, bin_bp=0.5 / k * 0.5, bins=40)
    ts = _tape(cal, a, k, 600)
    fa, fk = cal.fit(ts)
    assert fk == pytest.approx(k, rel=0.15)
    assert fa == pytest.approx(a, rel=0.25)


def test_no_fit_before_enough_tape_and_refit_only_every_few_seconds():
    cal = IntensityCalibrator(refit_s=5)
    _tape(cal, 2.0, 0.5, 10)
    assert math.isnan(cal.fit(10.0)[0])  # 10 s of tape: too little
    _tape(cal, 2.0, 0.5, 120, seed=2)
    a1, _ = cal.fit(120.0)
    assert math.isfinite(a1)
    for i in range(50):
        cal.on_trade(121.0 + i * 0.01, 100.5, "B", 100.0)
    assert cal.fit(122.0)[0] == a1  # within refit_s: the old fit


def test_one_taker_walking_the_book_counts_once_at_its_deepest():
    cal = IntensityCalibrator()
    for px in (100.01, 100.02, 100.05):
        cal.on_trade(1.0, px, "B", 100.0)
    assert len(cal._depths) == 1 and cal._depths[0][1] == pytest.approx(5.0)


def test_nan_trades_are_ignored():
    cal = IntensityCalibrator()
    cal.on_trade(math.nan, 100.0, "B", 100.0)
    cal.on_trade(1.0, math.nan, "B", 100.0)
    cal.on_trade(1.0, 100.0, "B", math.nan)
    assert not cal._depths
