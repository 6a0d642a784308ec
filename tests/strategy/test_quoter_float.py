"""The quoter's float path gives exactly the ladder side its Decimal path gives: same
prices, same sizes, same levels, for prices of every magnitude, every szDecimals, touches
on and off the grid, books the model price runs into, and levels that collide."""
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from config import QuotingConfig
from messages.market import MarketState
from strategy.quoter import QuoterCore, _Slow
from exchange_rules import ticks as rules


def _market(fair: float, bid: float, ask: float) -> MarketState:
    return MarketState(asset="X", ts=1.0, seq=1, mid=fair, microprice=fair, best_bid=bid, best_ask=ask,
                       spread_bp=1.0, imbalance=0.0, sigma_bp=1.0, regime="NORMAL")


@st.composite
def _case(draw):
    szd = draw(st.integers(0, 6))
    fair = draw(st.one_of(st.floats(1e-5, 2e6), st.sampled_from([1.0, 10.0, 100.0, 1e4, 1e5, 99_999.5, 9.9999])))
    # the touches: on the grid near fair (sometimes through it: the model price runs into them), or anywhere
    gap_bp = draw(st.floats(-3.0, 30.0))
    bid = fair * (1 - gap_bp / 1e4)
    ask = fair * (1 + draw(st.floats(-3.0, 30.0)) / 1e4)
    if draw(st.booleans()) and bid > 0:
        try:
            bid = rules.round_price_float(bid, szd, "down")
        except ValueError:  # below the smallest tick
            pass
        ask = rules.round_price_float(ask, szd, "up")
    spacing = draw(st.sampled_from([0.0, 0.01, 0.3, 1.0, 2.5]))
    params = QuotingConfig(levels=3, level_spacing_bp=spacing,
                           order_size_usd=draw(st.sampled_from([10.0, 11.0, 150.0, 333.3, 5000.0])),
                           level_size_mult=(1.0, draw(st.sampled_from([1.0, 2.0, 1.5])), 4.0), min_spread_bp=1.0)
    return (szd, fair, bid, ask, params, draw(st.floats(-40.0, 40.0)), draw(st.floats(0.0, 10.0)),
            draw(st.sampled_from([1.0, 1.5, 0.7])), draw(st.sampled_from([1.0, 0.4, 1.1, 3.0])),
            draw(st.integers(0, 3)))


@settings(max_examples=1000, deadline=None)
@given(_case(), st.sampled_from(["B", "A"]))
@example((2, 30.0, 29.99, 30.01, QuotingConfig(), 0.0, 0.5, 1.0, 1.0, 3), "B")  # 150/30: whole lots
@example((5, 99_999.9, 99_999.0, 100_000.0, QuotingConfig(), 0.0, 0.5, 1.0, 1.0, 3), "A")  # across 1e5
@example((0, 0.000012, 0.000011, 0.000013, QuotingConfig(), 0.0, 0.5, 1.0, 1.0, 3), "B")  # a few ticks up
def test_float_side_is_the_decimal_side(case, side):
    szd, fair, bid, ask, params, r_bp, half, spread_mult, size_mult, n = case
    if not (bid > 0 and ask > 0 and math.isfinite(bid) and math.isfinite(ask)):
        return
    q = QuoterCore("X", params, szd)
    m = _market(fair, bid, ask)
    args = (side, fair, r_bp, half, spread_mult, size_mult, n, m)
    want = q._side_decimal(*args)
    try:
        got = q._side_float(*args)
    except _Slow:
        return  # the float path declined: the Decimal path answers
    assert got == want
