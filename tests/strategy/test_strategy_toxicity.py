"""Toxicity guards widen or pull the side a signal threatens; markouts and VPIN measure it."""
import math

import pytest

from config import QuotingConfig, ToxicityConfig
from strategy import toxicity
from strategy.quoter import QuoterCore
from strategy.vpin import Vpin
from tests.strategy.test_quoter_core import market, risk

LIMITS = dict(drift_limit_bp=3.0, imbalance_limit=0.65, aggressor_limit=0.7, vpin_limit=0.7, widen_mult=1.5)
QUIET = dict(drift_bp=0.0, imbalance=0.0, buy_ratio=0.5, vpin=math.nan, markout_bid=math.nan, markout_ask=math.nan)


def g(**kw):
    return toxicity.guard(**{**QUIET, **kw}, **LIMITS)


def test_quiet_market_changes_nothing():
    assert g() == toxicity.CLEAR


def test_rising_microprice_widens_the_ask_only():
    out = g(drift_bp=4.0)
    assert out.spread_mult_ask == 1.5 and out.spread_mult_bid == 1.0 and not out.pull_ask
    assert "ask: microprice drift +4.0bp" in out.reasons


def test_two_signals_on_one_side_pull_it():
    out = g(imbalance=-0.8, buy_ratio=0.2)  # heavy asks, sellers hitting: bids threatened
    assert out.pull_bid and not out.pull_ask


def test_markout_ladder_and_severe_vpin():
    out = g(markout_bid=0.7, markout_ask=0.1)
    assert out.spread_mult_bid == pytest.approx(1.5 * 1.5) and out.spread_mult_ask == pytest.approx(0.9)
    both = g(vpin=0.9, drift_bp=-5.0)
    assert both.pull_bid and both.pull_ask and "VPIN 0.90" in both.reasons


def test_nan_signals_say_nothing():
    assert g(drift_bp=math.nan, imbalance=math.nan, buy_ratio=math.nan) == toxicity.CLEAR


def test_markouts_score_fills_that_went_against_us():
    mk = toxicity.Markouts(horizon_s=5.0)
    mk.on_fill(0.0, "B", 100.0)
    mk.on_fill(0.0, "A", 100.0)
    mk.update(4.0, 99.0, 1.0)
    assert math.isnan(mk.ema["B"])  # not yet horizon old
    mk.update(5.0, 99.9, 1.0)  # price fell 10 bp: our bid was picked off, our ask was good
    assert mk.ema["B"] == 1.0 and mk.ema["A"] == 0.0


def test_vpin_one_sided_flow_is_toxic_balanced_is_not():
    one, mixed = Vpin(), Vpin()
    for i in range(2000):
        one.on_trade(100.0, 1.0, "B")
        mixed.on_trade(100.0, 1.0, "B" if i % 2 else "A")
    assert one.value == pytest.approx(1.0) and mixed.value < 0.1


def test_quoter_pulls_the_threatened_side_and_reports_it():
    p = QuotingConfig(toxicity=ToxicityConfig(enabled=True))
    ladder = QuoterCore("ETH", p, 2).quote(market(imbalance=0.9, aggressor_buy_ratio=0.9), risk(), 50.0)
    assert ladder.bids and not ladder.asks
    assert "book imbalance" in ladder.note and "buy aggressors" in ladder.note
