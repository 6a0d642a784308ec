"""Multi-horizon volatility and the regime that scales spread, levels and size."""
import math

from config import QuotingConfig, RegimeConfig
from strategy import regime
from strategy.quoter import QuoterCore
from tests.strategy.test_quoter_core import market, risk


def test_classify_by_the_largest_horizon():
    s = 1 / math.sqrt(60)  # 1 bp a minute
    assert regime.classify((3 * s, 3 * s, 3 * s), 5, 25, 60) == "CALM"
    assert regime.classify((3 * s, 30 * s, 3 * s), 5, 25, 60) == "ELEVATED"  # a wild 5 minutes is remembered
    assert regime.classify((70 * s, 3 * s, 3 * s), 5, 25, 60) == "EXTREME"
    assert regime.classify((math.nan, 1.0, 1.0), 5, 25, 60) == "EXTREME"


def test_horizons_react_at_their_own_speed():
    mv = regime.MultiHorizonVolatility(initial_sigma_bp=0.5)
    px = 100.0
    for i in range(1, 121):  # two minutes of 5 bp jumps every second
        px *= 1.0005 if i % 2 else 1 / 1.0005
        v1, v5, v15 = mv.update(float(i), px)
    assert v1 > v5 > v15 > 0.5


def test_quoter_regime_calm_tightens_extreme_pulls():
    p = QuotingConfig(regime=RegimeConfig(enabled=True))
    calm = QuoterCore("ETH", p, 2).quote(market(sigma_bp=0.1), risk(), 50.0)
    normal = QuoterCore("ETH", QuotingConfig(), 2).quote(market(sigma_bp=0.1), risk(), 50.0)
    assert calm.half_spread_bp < normal.half_spread_bp or calm.half_spread_bp == p.min_spread_bp / 2
    assert calm.bids[0].sz > normal.bids[0].sz  # CALM: size x1.2
    wild = QuoterCore("ETH", p, 2).quote(market(sigma_bp=20.0), risk(), 50.0)
    assert not wild.bids and not wild.asks and "EXTREME" in wild.note
