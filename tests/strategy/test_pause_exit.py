"""A pause for the market pulls the quotes but offers the position back at the touch."""
import math

import pytest

from config import BreakersConfig, PauseExitConfig, QuotingConfig
from messages.orders import QuoteFeedback
from strategy.pause_exit import exit_level
from strategy.quoter import QuoterCore
from tests.strategy.test_quoter_core import market, risk


def _crashing(core: QuoterCore) -> None:
    """Feed the breaker a 4% fall over four minutes: the 3%/5 min pause trips."""
    for i in range(5):
        px = 100.0 * (1 - 0.01 * i)
        core.quote(market(seq=i + 1, ts=i * 60.0, mid=px, microprice=px, best_bid=px - 0.01, best_ask=px + 0.01),
                   risk(), i * 60.0)


def _core(exit_on: bool = True, losing_only: bool = True) -> QuoterCore:
    return QuoterCore("ETH", QuotingConfig(breakers=BreakersConfig(enabled=True),
                                           pause_exit=PauseExitConfig(enabled=exit_on, losing_only=losing_only)), 2)


def _now(core: QuoterCore, position: float, **kw):
    px = 96.0
    kw.setdefault("unrealized_pnl", -4.0 * abs(position))  # bought at 100 (or sold at 92): under water
    return core.quote(market(seq=99, ts=250.0, mid=px, microprice=px, best_bid=95.99, best_ask=96.01),
                      risk(position=position, **kw), 250.0)


def test_a_price_pause_sells_a_long_back_at_the_best_ask_and_buys_nothing():
    core = _core()
    _crashing(core)
    lad = _now(core, 12.3456)
    assert core.breaker.paused and core.breaker.price_pause
    assert not lad.bids
    assert [(lv.side, lv.px, lv.sz) for lv in lad.asks] == [("A", 96.01, 12.34)]  # whole lots, never more
    assert "selling the position back at the touch" in lad.note


def test_a_position_the_move_pays_is_held_unless_every_position_is_to_go():
    core = _core()
    _crashing(core)
    lad = _now(core, -3.0, unrealized_pnl=12.0)  # short from 100: the fall pays it
    assert not lad.bids and not lad.asks
    every = _core(losing_only=False)
    _crashing(every)
    lad = _now(every, -3.0, unrealized_pnl=12.0)
    assert [(lv.px, lv.sz) for lv in lad.bids] == [(95.99, 3.0)]


def test_a_short_is_bought_back_at_the_best_bid():
    core = _core()
    _crashing(core)
    lad = _now(core, -3.0)
    assert not lad.asks and [(lv.px, lv.sz) for lv in lad.bids] == [(95.99, 3.0)]


def test_flat_off_halted_or_a_side_the_risk_core_forbids_quotes_nothing():
    for core, position, kw in ((_core(), 0.0, {}), (_core(exit_on=False), 5.0, {}), (_core(), 5.0, {"halted": True}),
                               (_core(), 5.0, {"allow_ask": False})):
        _crashing(core)
        lad = _now(core, position, **kw)
        assert core.breaker.paused
        assert not lad.bids and not lad.asks


def test_an_api_error_pause_sends_nothing_even_with_a_position():
    core = _core()
    for i in range(6):
        core.on_feedback(QuoteFeedback("ETH", float(i), "error"))
    lad = core.quote(market(), risk(position=5.0, unrealized_pnl=-1.0), 10.0)
    assert core.breaker.paused and not core.breaker.price_pause
    assert not lad.bids and not lad.asks and "API errors" in lad.note


def test_an_api_error_burst_during_a_price_pause_stops_the_exit_until_it_clears():
    core = _core()
    _crashing(core)
    for i in range(6):
        core.on_feedback(QuoteFeedback("ETH", 240.0 + i, "error"))
    lad = _now(core, 5.0)
    assert not lad.asks
    later = core.quote(market(seq=100, ts=400.0, mid=96.0, microprice=96.0, best_bid=95.99, best_ask=96.01),
                       risk(position=5.0, unrealized_pnl=-20.0), 400.0)
    assert core.breaker.paused and core.breaker.price_pause  # the price pause outlasts the API one
    assert [(lv.px, lv.sz) for lv in later.asks] == [(96.01, 5.0)]


def test_extreme_volatility_pulls_the_quotes_but_not_the_exit():
    core = _core()
    lad = core.quote(market(regime="EXTREME"), risk(position=2.0, unrealized_pnl=-1.0), 50.0)
    assert not lad.bids and [(lv.px, lv.sz) for lv in lad.asks] == [(100.01, 2.0)]
    off = _core(exit_on=False).quote(market(regime="EXTREME"), risk(position=2.0, unrealized_pnl=-1.0), 50.0)
    assert not off.bids and not off.asks


@pytest.mark.parametrize("position, bb, ba", [(1e-9, 99.0, 101.0), (0.05, 99.0, 101.0), (math.nan, 99.0, 101.0),
                                               (5.0, 99.0, math.nan), (-5.0, 0.0, 101.0)])
def test_no_exit_below_a_lot_or_the_minimum_order_or_without_a_touch(position, bb, ba):
    assert exit_level(position, bb, ba, 2)[1] == ()
