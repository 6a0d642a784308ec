"""Book measurements and BookCore: what is accepted, what is derived, the trade tape."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.market import BookSnapshot, Level, Trade
from strategy.book import BookCore, imbalance, microprice, mid, regime_for, spread_bp


def snap(ts, seq, bids, asks, recv_ns=0, asset="ETH"):
    return BookSnapshot(asset=asset, ts=ts, seq=seq,
                        bids=tuple(Level(p, s) for p, s in bids),
                        asks=tuple(Level(p, s) for p, s in asks), recv_ns=recv_ns)


BIDS = [(3000.0, 2.0), (2999.5, 4.0), (2999.0, 1.0)]
ASKS = [(3000.5, 1.0), (3001.0, 1.0), (3001.5, 6.0)]


# -- measurements ------------------------------------------------------------------------
def test_mid_and_spread():
    assert mid(99.5, 100.5) == 100.0
    assert spread_bp(99.5, 100.5) == pytest.approx(100.0)
    assert spread_bp(3000.0, 3000.5) == pytest.approx(0.5 / 3000.25 * 1e4)


def test_microprice_leans_toward_the_thin_side():
    # 3 bid vs 1 ask: the ask is likely to go first, fair value sits near it
    assert microprice(100.0, 3.0, 101.0, 1.0) == pytest.approx(100.75)
    assert microprice(100.0, 1.0, 101.0, 3.0) == pytest.approx(100.25)
    assert microprice(100.0, 2.0, 101.0, 2.0) == pytest.approx(100.5)
    assert microprice(100.0, 0.0, 101.0, 0.0) == 100.5


def test_imbalance_over_top_levels():
    bids = [Level(p, s) for p, s in BIDS]
    asks = [Level(p, s) for p, s in ASKS]
    assert imbalance(bids, asks, 1) == pytest.approx((2 - 1) / 3)
    assert imbalance(bids, asks, 2) == pytest.approx((6 - 2) / 8)
    assert imbalance(bids, asks, 3) == pytest.approx((7 - 8) / 15)
    assert imbalance(bids, asks, 10) == pytest.approx((7 - 8) / 15)
    assert imbalance([], [], 5) == 0.0
    assert imbalance(bids, [], 5) == 1.0


@pytest.mark.parametrize("one_minute_bp, regime", [
    (0.0, "CALM"), (4.99, "CALM"), (5.0, "NORMAL"), (25.0, "NORMAL"), (25.01, "ELEVATED"),
    (60.0, "ELEVATED"), (60.01, "EXTREME"), (500.0, "EXTREME"),
])
def test_regime_thresholds_on_one_minute_vol(one_minute_bp, regime):
    assert regime_for(one_minute_bp / math.sqrt(60.0)) == regime


def test_regime_custom_thresholds():
    assert regime_for(1.0, thresholds=(10.0, 20.0, 30.0)) == "CALM"  # 7.75 bp a minute
    assert regime_for(3.0, thresholds=(10.0, 20.0, 30.0)) == "ELEVATED"  # 23.2


# -- BookCore ----------------------------------------------------------------------------
def test_on_book_derives_market_state():
    core = BookCore("ETH", depth_levels=2, initial_sigma_bp=1.5)
    st_ = core.on_book(snap(100.0, 7, BIDS, ASKS, recv_ns=123))
    assert st_ is not None and core.last is st_
    assert (st_.asset, st_.ts, st_.seq, st_.recv_ns) == ("ETH", 100.0, 7, 123)
    assert st_.best_bid == 3000.0 and st_.best_ask == 3000.5
    assert st_.mid == 3000.25
    assert st_.microprice == pytest.approx((3000.0 * 1.0 + 3000.5 * 2.0) / 3.0)
    assert st_.spread_bp == pytest.approx(0.5 / 3000.25 * 1e4)
    assert st_.imbalance == pytest.approx((6 - 2) / 8)
    assert st_.sigma_bp == 1.5  # first book only anchors the estimator
    assert st_.regime == "NORMAL"  # 1.5 * sqrt(60) = 11.6 bp a minute
    assert core.rejected == 0


def test_volatility_follows_the_mid():
    core = BookCore("ETH", vol_halflife_s=5.0, initial_sigma_bp=1.0)
    core.on_book(snap(0.0, 1, [(100.0, 1.0)], [(100.02, 1.0)]))
    # a 1% jump in half a second: a violent move, classed EXTREME
    st_ = core.on_book(snap(0.5, 2, [(101.0, 1.0)], [(101.02, 1.0)]))
    assert st_.sigma_bp > 20.0
    assert st_.regime == "EXTREME"
    assert st_.sigma_bp == core.vol.sigma_bp


@pytest.mark.parametrize("bids, asks", [
    ([], ASKS),  # empty bid side
    (BIDS, []),  # empty ask side
    ([(3001.0, 1.0)], [(3000.5, 1.0)]),  # crossed
    ([(3000.5, 1.0)], [(3000.5, 1.0)]),  # locked
])
def test_rejects_unquotable_books(bids, asks):
    core = BookCore("ETH")
    assert core.on_book(snap(1.0, 1, bids, asks)) is None
    assert core.rejected == 1 and core.last is None


def test_rejects_stale_books_and_keeps_the_last_good_one():
    core = BookCore("ETH")
    good = core.on_book(snap(10.0, 5, BIDS, ASKS))
    assert core.on_book(snap(9.0, 6, BIDS, ASKS)) is None  # older by ts
    assert core.on_book(snap(11.0, 4, BIDS, ASKS)) is None  # older by seq
    assert core.on_book(snap(10.0, 5, BIDS, ASKS)) is None  # the same one again
    assert core.rejected == 3
    assert core.last is good
    newer = core.on_book(snap(10.0, 6, BIDS, ASKS))  # same venue second, newer seq
    assert newer is not None and newer.seq == 6 and core.last is newer


def test_trade_tape_is_bounded_and_gives_the_aggressor_ratio():
    core = BookCore("ETH")
    assert core.aggressor_buy_ratio == 0.5
    for i in range(3):
        core.on_trade(Trade("ETH", float(i), 3000.0, 1.0, "B", i))
    core.on_trade(Trade("ETH", 3.0, 3000.0, 1.0, "A", 3))
    assert core.aggressor_buy_ratio == 0.75
    # 60 more sells: only the last 50 trades count, all of them sells
    for i in range(60):
        core.on_trade(Trade("ETH", 4.0 + i, 3000.0, 1.0, "A", 4 + i))
    assert core.aggressor_buy_ratio == 0.0
    for i in range(10):
        core.on_trade(Trade("ETH", 100.0 + i, 3000.0, 1.0, "B", 100 + i))
    assert core.aggressor_buy_ratio == pytest.approx(10 / 50)


price = st.floats(0.5, 150_000.0)
size = st.floats(0.001, 1e6)


@given(price, st.floats(0.01, 500.0), st.lists(size, min_size=1, max_size=8),
       st.lists(size, min_size=1, max_size=8))
def test_derived_figures_stay_in_range(bb, spread_bp_, bid_sizes, ask_sizes):
    ba = bb * (1 + spread_bp_ / 1e4)
    if not ba > bb:
        return
    bids = [(bb * (1 - i / 1e4), s) for i, s in enumerate(bid_sizes)]
    asks = [(ba * (1 + i / 1e4), s) for i, s in enumerate(ask_sizes)]
    st_ = BookCore("X").on_book(snap(1.0, 1, bids, asks))
    assert st_ is not None
    assert bb <= st_.microprice <= ba
    assert bb < st_.mid < ba
    assert -1.0 <= st_.imbalance <= 1.0
    assert st_.spread_bp > 0
