"""Trend and funding skew; circuit breakers with their cooldowns."""
import pytest

from config import BreakersConfig, FundingSkewConfig, QuotingConfig, TrendConfig
from messages.orders import QuoteFeedback
from strategy.breakers import Breakers
from strategy.quoter import QuoterCore
from strategy.trend import TrendSignal, funding_shift_bp
from tests.strategy.test_quoter_core import market, risk


def test_trend_sign_and_strength():
    t = TrendSignal(60, 300, 10)
    for i in range(600):
        t.update(float(i), 100.0 * (1 + 0.0001 * i / 60))  # +1 bp a minute
    assert 0 < t.strength < 1
    down = TrendSignal(60, 300, 10)
    for i in range(600):
        down.update(float(i), 100.0 * (1 - 0.001 * i / 60))
    assert down.strength == -1.0


def test_funding_leans_toward_the_side_that_earns_it():
    assert funding_shift_bp(0.0001, 1.0) == pytest.approx(-1.0)  # longs pay 1 bp/h: lean short
    assert funding_shift_bp(float("nan"), 1.0) == 0.0
    p = QuotingConfig(funding_skew=FundingSkewConfig(enabled=True))
    core = QuoterCore("ETH", p, 2)
    core.on_feedback(QuoteFeedback("ETH", 1.0, "funding", value=0.0001))
    assert core.quote(market(), risk(), 50.0).reservation < 100.0


def test_trend_moves_the_reservation_with_the_market():
    p = QuotingConfig(trend=TrendConfig(enabled=True))
    core = QuoterCore("ETH", p, 2)
    for i in range(300):
        px = 100.0 * (1 + 0.002 * i / 300)
        lad = core.quote(market(seq=i + 1, ts=float(i), mid=px, microprice=px, best_bid=px - 0.01,
                                best_ask=px + 0.01), risk(), float(i))
    assert lad.reservation > px


def test_one_percent_in_a_minute_widens_for_five_minutes():
    b = Breakers()
    b.on_price(0.0, 100.0)
    b.on_price(30.0, 101.2)
    st = b.state(31.0)
    assert st.spread_mult == 3.0 and not st.paused and st.until == 330.0 and "1.2%" in st.reason
    assert b.state(331.0).spread_mult == 1.0


def test_three_percent_in_five_minutes_pauses_and_api_errors_pause():
    b = Breakers()
    for i in range(5):
        b.on_price(i * 60.0, 100.0 * (1 + 0.008 * i))
    assert b.state(241.0).paused and b.state(241.0).until == 240.0 + 900.0
    api = Breakers()
    for i in range(6):
        api.on_api_error(float(i))
    assert api.state(10.0).paused and not api.state(126.0).paused


def test_quoter_pauses_on_a_breaker_and_says_until_when():
    core = QuoterCore("ETH", QuotingConfig(breakers=BreakersConfig(enabled=True)), 2)
    for i in range(6):
        core.on_feedback(QuoteFeedback("ETH", float(i), "error"))
    lad = core.quote(market(), risk(), 10.0)
    assert not lad.bids and not lad.asks and "API errors" in lad.note and "until 125" in lad.note
