"""QuoterCore: A–S in bp around fair value, regimes, risk multipliers, venue-valid ladders."""
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import QuotingConfig
from messages.market import MarketState
from messages.risk import RiskState
from strategy.quoter import QuoterCore
from exchange_rules import ticks as rules

# Defaults: γ=0.05, k=0.5/bp, τ=60 s. With σ=1 bp/√s the A–S spread is
# 0.05·1·60 + (2/0.05)·ln(1.1) = 3 + 3.812407 = 6.812407 bp, half 3.406204 bp.
HALF = (3.0 + 40.0 * math.log(1.1)) / 2


def market(**kw) -> MarketState:
    d = dict(asset="ETH", ts=50.0, seq=7, mid=100.0, microprice=100.0, best_bid=99.99, best_ask=100.01,
             spread_bp=2.0, imbalance=0.0, sigma_bp=1.0, regime="NORMAL", recv_ns=4242)
    d.update(kw)
    return MarketState(**d)


def risk(**kw) -> RiskState:
    d = dict(asset="ETH", ts=50.0, position=0.0, avg_entry=0.0, mid=100.0, realized_pnl=0.0,
             unrealized_pnl=0.0, fees=0.0, capital=20_000.0, limit_usd=5_000.0)
    d.update(kw)
    return RiskState(**d)


def pxs(levels):
    return [lv.px for lv in levels]


def szs(levels):
    return [lv.sz for lv in levels]


def test_flat_ladder_hand_worked():
    ladder = QuoterCore("ETH", QuotingConfig(), 2).quote(market(), risk(), 51.0)
    assert (ladder.asset, ladder.ts, ladder.seq, ladder.recv_ns) == ("ETH", 51.0, 7, 4242)
    assert ladder.reservation == 100.0
    assert ladder.half_spread_bp == pytest.approx(HALF)
    # bids 100·(1 − (3.406 + i)/1e4) = 99.96594, 99.95594, 99.94594 -> down, tick 0.001 under 100
    assert pxs(ladder.bids) == [99.965, 99.955, 99.945]
    # asks 100.03406, 100.04406, 100.05406 -> up, tick 0.01 from 100
    assert pxs(ladder.asks) == [100.04, 100.05, 100.06]
    # $150 x (1, 2, 4) / px, rounded down to 0.01
    assert szs(ladder.bids) == [1.50, 3.00, 6.00]
    assert szs(ladder.asks) == [1.49, 2.99, 5.99]
    assert [lv.level for lv in ladder.bids] == [0, 1, 2]
    assert {lv.side for lv in ladder.bids} == {"B"} and {lv.side for lv in ladder.asks} == {"A"}


def test_long_inventory_skews_down_and_stays_post_only():
    # 4.5 units at $100 = 3 L1 lots: r = −3·0.05·1²·60 = −9 bp
    ladder = QuoterCore("ETH", QuotingConfig(), 2).quote(market(), risk(position=4.5), 50.0)
    assert ladder.reservation == pytest.approx(99.91)
    # bids 100·(1 − (9 + 3.406 + i)/1e4) = 99.87594, ... -> down
    assert pxs(ladder.bids) == [99.875, 99.865, 99.855]
    # the asks' skewed prices (99.945..) are under fair value: L1 stops at fair + half the
    # minimum spread (0.5 bp -> 100.005, rounded up to the 0.01 tick), then 1 bp apart
    assert pxs(ladder.asks) == [100.01, 100.02, 100.03]
    assert all(a > 99.99 for a in pxs(ladder.asks))


def test_short_inventory_skews_up_and_stays_post_only():
    ladder = QuoterCore("ETH", QuotingConfig(), 2).quote(market(), risk(position=-4.5), 50.0)
    assert ladder.reservation == pytest.approx(100.09)
    # bids would be 100.05..: held at fair − half the minimum spread (99.995), 1 bp apart
    assert pxs(ladder.bids) == [99.995, 99.985, 99.975]
    assert pxs(ladder.asks) == [100.13, 100.14, 100.15]


def test_post_only_edge_when_the_book_sits_on_one_side_of_fair():
    # microprice pulled up to the ask: fair − 0.5 bp would still cross a 100.00 ask
    m = market(microprice=100.012, best_bid=99.99, best_ask=100.0)
    ladder = QuoterCore("ETH", QuotingConfig(), 2).quote(m, risk(position=-4.5), 50.0)
    assert pxs(ladder.bids)[0] == 99.99  # one tick under the best ask
    assert all(b < 100.0 for b in pxs(ladder.bids))
    assert pxs(ladder.bids) == sorted(pxs(ladder.bids), reverse=True)


@pytest.mark.parametrize("regime, half, n", [
    ("CALM", 0.7 * HALF, 3), ("NORMAL", HALF, 3), ("ELEVATED", 2.0 * HALF, 2),
])
def test_regime_scales_spread_and_trims_levels(regime, half, n):
    ladder = QuoterCore("ETH", QuotingConfig(), 2).quote(market(regime=regime), risk(), 50.0)
    assert ladder.half_spread_bp == pytest.approx(half)
    assert len(ladder.bids) == n and len(ladder.asks) == n
    assert ladder.bids[0].px == float(rules.round_price(100 * (1 - half / 1e4), 2, "down"))
    assert ladder.asks[0].px == float(rules.round_price(100 * (1 + half / 1e4), 2, "up"))


def test_elevated_with_a_single_level_config_keeps_one():
    params = QuotingConfig(levels=1, level_size_mult=(1.0,))
    ladder = QuoterCore("ETH", params, 2).quote(market(regime="ELEVATED"), risk(), 50.0)
    assert len(ladder.bids) == 1 and len(ladder.asks) == 1


def test_extreme_regime_and_halt_pull_everything():
    core = QuoterCore("ETH", QuotingConfig(), 2)
    for m, r in [(market(regime="EXTREME", sigma_bp=9.0), risk()),
                 (market(), risk(halted=True, halt_reason="daily loss stop"))]:
        ladder = core.quote(m, r, 50.0)
        assert ladder.bids == () and ladder.asks == ()
        assert ladder.seq == 7 and ladder.recv_ns == 4242


def test_spread_clamped_to_min_and_max():
    core = QuoterCore("ETH", QuotingConfig(), 2)
    # σ = 3: 0.05·9·60 + 3.81 = 30.8 bp > max 20
    wide = core.quote(market(sigma_bp=3.0), risk(), 50.0)
    assert wide.half_spread_bp == 10.0
    assert pxs(wide.bids)[0] == 99.9 and pxs(wide.asks)[0] == 100.1
    core.set_params(QuotingConfig(min_spread_bp=12.0, max_spread_bp=20.0))
    assert core.quote(market(), risk(), 50.0).half_spread_bp == 6.0


def test_risk_multipliers_widen_and_resize_one_side():
    ladder = QuoterCore("ETH", QuotingConfig(), 2).quote(
        market(), risk(spread_mult_bid=1.5, size_mult_ask=2.0), 50.0)
    # bid distance 1.5 · 3.406 = 5.109 bp -> 99.94891 -> 99.948
    assert pxs(ladder.bids) == [99.948, 99.938, 99.928]
    assert szs(ladder.bids) == [1.5, 3.0, 6.0]
    assert pxs(ladder.asks) == [100.04, 100.05, 100.06]
    assert szs(ladder.asks) == [2.99, 5.99, 11.99]  # $300, $600, $1200


def test_disallowed_side_is_empty():
    core = QuoterCore("ETH", QuotingConfig(), 2)
    no_bid = core.quote(market(), risk(allow_bid=False), 50.0)
    assert no_bid.bids == () and pxs(no_bid.asks) == [100.04, 100.05, 100.06]
    no_ask = core.quote(market(), risk(allow_ask=False), 50.0)
    assert no_ask.asks == () and pxs(no_ask.bids) == [99.965, 99.955, 99.945]


def test_levels_under_ten_dollars_or_zero_lots_are_dropped():
    # $12 L1 at half size = $6: dropped; L2 $12 and L3 $24 stay, keeping their level numbers
    small = QuotingConfig(order_size_usd=12.0)
    ladder = QuoterCore("ETH", small, 2).quote(market(), risk(size_mult_bid=0.5), 50.0)
    assert [lv.level for lv in ladder.bids] == [1, 2]
    assert szs(ladder.bids) == [0.12, 0.24]
    assert [lv.level for lv in ladder.asks] == [0, 1, 2]
    # whole units only at $30,000: $150 / 30,000 rounds to 0 lots on every level
    btc = market(mid=30_000.0, microprice=30_000.0, best_bid=29_999.0, best_ask=30_001.0)
    assert QuoterCore("BTC", QuotingConfig(), 0).quote(btc, risk(), 50.0).bids == ()


def test_fair_value_is_microprice_or_mid():
    m = market(microprice=100.005)
    with_micro = QuoterCore("ETH", QuotingConfig(), 2).quote(m, risk(), 50.0)
    assert with_micro.reservation == 100.005
    plain = QuoterCore("ETH", QuotingConfig(use_microprice=False), 2).quote(m, risk(), 50.0)
    assert plain.reservation == 100.0
    assert with_micro.bids[0].px > plain.bids[0].px


def test_inventory_counts_in_l1_lots():
    # the same dollar inventory skews the same number of bp, whatever the price
    a = QuoterCore("A", QuotingConfig(), 2).quote(market(), risk(position=3.0), 50.0)
    m2 = market(mid=2000.0, microprice=2000.0, best_bid=1999.9, best_ask=2000.1)
    b = QuoterCore("B", QuotingConfig(), 2).quote(m2, risk(position=0.15), 50.0)
    assert (a.reservation / 100.0 - 1) * 1e4 == pytest.approx(-6.0)
    assert (b.reservation / 2000.0 - 1) * 1e4 == pytest.approx(-6.0)


def test_coarse_ticks_push_levels_apart():
    # 1 decimal at most (szDecimals 5) around $1: every level rounds to 0.9 or 1.1 first
    m = market(mid=1.0, microprice=1.0, best_bid=0.9, best_ask=1.1)
    ladder = QuoterCore("X", QuotingConfig(), 5).quote(m, risk(), 50.0)
    assert pxs(ladder.bids) == [0.9, 0.8, 0.7]
    assert pxs(ladder.asks) == [1.1, 1.2, 1.3]


def test_no_bid_when_no_positive_price_exists():
    m = market(mid=0.15, microprice=0.15, best_bid=0.1, best_ask=0.2)
    ladder = QuoterCore("X", QuotingConfig(), 5).quote(m, risk(), 50.0)
    assert pxs(ladder.bids) == [0.1]  # 0.1 − 0.1 = 0: nothing further out
    assert pxs(ladder.asks) == [0.2, 0.3, 0.4]


# -- every emitted ladder is venue-valid --------------------------------------------------
regimes = st.sampled_from(["CALM", "NORMAL", "ELEVATED", "EXTREME"])


@st.composite
def scenario(draw, sz_decimals):
    fair = math.exp(draw(st.floats(math.log(0.5), math.log(150_000.0))))
    spread = draw(st.floats(0.0, 50.0))  # bp
    bb = rules.round_price(fair * (1 - spread / 2e4), sz_decimals, "down")
    ba = rules.round_price(fair * (1 + spread / 2e4), sz_decimals, "up")
    if ba <= bb:
        ba = rules.round_price(bb + rules.tick_at(bb, sz_decimals), sz_decimals, "up")
    bb_f, ba_f = float(bb), float(ba)
    micro = bb_f + (ba_f - bb_f) * draw(st.floats(0.0, 1.0))
    m = market(mid=(bb_f + ba_f) / 2, microprice=micro, best_bid=bb_f, best_ask=ba_f,
               sigma_bp=draw(st.floats(0.0, 10.0)), regime=draw(regimes))
    lots = draw(st.floats(-40.0, 40.0))
    r = risk(position=lots * 150.0 / fair,
             spread_mult_bid=draw(st.sampled_from([1.0, 1.5, 3.0])),
             spread_mult_ask=draw(st.sampled_from([1.0, 1.5, 3.0])),
             size_mult_bid=draw(st.sampled_from([0.0, 0.5, 1.0, 1.2])),
             size_mult_ask=draw(st.sampled_from([0.5, 1.0, 2.0])))
    levels = draw(st.integers(1, 5))
    params = QuotingConfig(
        gamma=draw(st.floats(0.01, 0.5)), k_per_bp=draw(st.floats(0.1, 2.0)),
        horizon_s=draw(st.floats(1.0, 300.0)), min_spread_bp=0.5, max_spread_bp=draw(st.floats(0.5, 60.0)),
        levels=levels, level_spacing_bp=draw(st.floats(0.0, 3.0)),
        order_size_usd=draw(st.floats(10.0, 2000.0)), level_size_mult=tuple(float(1 + i) for i in range(levels)),
        use_microprice=draw(st.booleans()))
    return m, r, params


@pytest.mark.parametrize("sz_decimals", range(6))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_ladder_is_venue_valid(sz_decimals, data):
    m, r, params = data.draw(scenario(sz_decimals))
    ladder = QuoterCore("X", params, sz_decimals).quote(m, r, m.ts)
    for levels, side in ((ladder.bids, "B"), (ladder.asks, "A")):
        for lv in levels:
            assert lv.side == side
            assert rules.is_valid_price(lv.px, sz_decimals), lv
            assert rules.is_valid_size(lv.sz, sz_decimals), lv
            assert rules.meets_min_notional(lv.px, lv.sz), lv
        assert [lv.level for lv in levels] == sorted({lv.level for lv in levels})
        assert all(lv.level < min(params.levels, 2 if m.regime == "ELEVATED" else 99) for lv in levels)
    b, a = pxs(ladder.bids), pxs(ladder.asks)
    assert all(px < m.best_ask for px in b)  # post-only
    assert all(px > m.best_bid for px in a)
    assert all(x > y for x, y in zip(b, b[1:]))  # strictly away from fair
    assert all(x < y for x, y in zip(a, a[1:]))
    if b and a:
        assert b[0] < a[0]
    if m.regime == "EXTREME":
        assert not b and not a
    # the ladder survives the wire
    assert msgspec.json.decode(msgspec.json.encode(ladder), type=type(ladder)) == ladder
