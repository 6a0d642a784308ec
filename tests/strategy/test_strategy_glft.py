"""GLFT quotes: the worked example of hftbacktest's notebook, and properties of the quoter in GLFT mode."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import GlftConfig, QuotingConfig
from strategy import glft
from strategy.quoter import QuoterCore
from tests.strategy.test_quoter_core import market, risk

GLFT = QuotingConfig(model="glft", fee_aware=True, glft=GlftConfig(calibrate=True))


def test_hftbacktest_worked_example():
    # models.md §2.3: A = 2.9862/s, k = 0.042357, γ = 0.05, σ = 10.69 -> half 20.472, skew 9.763 (ticks)
    c1, c2 = glft.coefficients(0.05, 0.042357, 2.9862)
    assert c1 == pytest.approx(15.5905, abs=1e-4)
    assert c2 == pytest.approx(0.91331, abs=1e-5)
    half, skew = glft.half_spread_and_skew(0.05, 0.042357, 2.9862, 10.69)
    assert half == pytest.approx(20.472, abs=1e-3)
    assert skew == pytest.approx(9.763, abs=1e-3)


def test_more_trades_deep_in_the_book_mean_a_wider_spread():
    narrow, _ = glft.half_spread_and_skew(0.05, 1.0, 1.0, 1.0)  # trades rarely reach past 1 bp
    wide, _ = glft.half_spread_and_skew(0.05, 0.1, 1.0, 1.0)  # trades reach 10 bp often
    assert wide > 3 * narrow


def test_calibrated_a_k_from_the_market_state_set_the_spread():
    core = QuoterCore("ETH", GLFT, 2)
    tight = core.quote(market(fill_a=5.0, fill_k=2.0), risk(), 50.0)
    loose = core.quote(market(fill_a=5.0, fill_k=0.2, seq=8), risk(), 50.0)
    assert loose.half_spread_bp > tight.half_spread_bp
    assert loose.bids[0].px < tight.bids[0].px and loose.asks[0].px > tight.asks[0].px


def test_no_edge_after_the_fee_is_not_quoted_and_says_why():
    p = QuotingConfig(model="glft", fee_aware=True, maker_fee_bp=5.0, min_spread_bp=1.0,
                      glft=GlftConfig(calibrate=False, k_per_bp=5.0, a_per_s=50.0))
    ladder = QuoterCore("ETH", p, 2).quote(market(best_bid=99.999, best_ask=100.001), risk(), 50.0)
    # the inner levels sit under 5 bp from fair: dropped, the note says so
    assert all(abs(lv.px - 100.0) / 100.0 * 1e4 >= 5.0 for lv in ladder.bids + ladder.asks)
    assert "without edge after the 5bp maker fee" in ladder.note


finite = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(mid=st.floats(min_value=0.5, max_value=90_000), spread_ticks=st.integers(1, 30),
       position_lots=st.floats(min_value=-20, max_value=20), sigma=st.floats(min_value=0, max_value=20),
       a=st.one_of(finite, st.just(math.nan)), k=st.one_of(st.floats(min_value=0.01, max_value=10), st.just(math.nan)),
       imb=st.floats(min_value=-1, max_value=1))
def test_glft_ladder_properties(mid, spread_ticks, position_lots, sigma, a, k, imb):
    tick = 10 ** (math.floor(math.log10(mid)) - 4)
    bb, ba = round(mid - spread_ticks * tick / 2, 8), round(mid + spread_ticks * tick / 2, 8)
    m = market(mid=(bb + ba) / 2, microprice=(bb + ba) / 2, best_bid=bb, best_ask=ba, sigma_bp=sigma,
               fill_a=a, fill_k=k, imbalance=imb)
    fair = m.microprice
    position = position_lots * 150.0 / fair
    ladder = QuoterCore("ETH", GLFT, 2).quote(m, risk(position=position, mid=fair), 50.0)
    for lv in ladder.bids + ladder.asks:
        assert math.isfinite(lv.px) and math.isfinite(lv.sz) and lv.px > 0 and lv.sz > 0
    assert all(lv.px < ba for lv in ladder.bids) and all(lv.px > bb for lv in ladder.asks)  # post-only
    if ladder.bids and ladder.asks:
        assert ladder.bids[0].px < ladder.asks[0].px  # never crossed
    r = ladder.reservation
    for lv in ladder.bids:  # no level with negative edge after the fee, against the reservation
        assert (r - lv.px) / fair * 1e4 >= GLFT.maker_fee_bp - 1e-6
    for lv in ladder.asks:
        assert (lv.px - r) / fair * 1e4 >= GLFT.maker_fee_bp - 1e-6
    if abs(position_lots) > 0.5 and sigma > 0.01:  # long -> reservation below fair, short -> above
        assert (r - fair) * position_lots < 0


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(["mid", "microprice", "best_bid", "best_ask", "sigma_bp", "imbalance",
                              "fill_a", "fill_k", "vpin", "micro_drift_bp", "aggressor_buy_ratio", "position"]),
       bad=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_inputs_give_a_finite_or_empty_ladder(field, bad):
    full = QuotingConfig(model="glft", fee_aware=True, fair_value="imbalance")
    full = full.__class__(**{**{f: getattr(full, f) for f in full.__struct_fields__},
                             "toxicity": full.toxicity.__class__(enabled=True),
                             "regime": full.regime.__class__(enabled=True),
                             "breakers": full.breakers.__class__(enabled=True)})
    core = QuoterCore("ETH", full, 2)
    kw = {field: bad}
    r = risk(position=bad) if field == "position" else risk(position=1.0)
    m = market(**{k: v for k, v in kw.items() if k != "position"})
    ladder = core.quote(m, r, 50.0)
    for lv in ladder.bids + ladder.asks:
        assert math.isfinite(lv.px) and math.isfinite(lv.sz) and lv.px > 0
    assert all(lv.px < m.best_ask for lv in ladder.bids if math.isfinite(m.best_ask))
