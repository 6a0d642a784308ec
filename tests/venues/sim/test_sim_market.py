"""The simulated market process: determinism, the taker intensity law, the mid's
volatility and the background book's shape on Hyperliquid's grid.

The intensity and volatility laws are those of the plain model (``regimes = false``);
with regimes they hold within each regime, scaled by it (tests/test_sim_regimes.py)."""
import math
from decimal import Decimal

import msgspec
import numpy as np
import pytest

import config as c
from exchange_rules.ticks import is_valid_price, is_valid_size, round_price, tick_at
from venues.sim.market import MarketProcess, TakerOrder
from tests.sim_helpers import formula_market


@pytest.fixture(scope="module")
def cfg():
    import pathlib

    return formula_market(c.load(pathlib.Path(__file__).resolve().parents[3] / "config.toml"))


def proc(cfg, asset="BTC", seed=11, **market):
    mk = msgspec.structs.replace(cfg.assets[asset].market, **market)
    return MarketProcess(asset, mk, cfg.sim, seed)


def run(m, seconds, step=None):
    step = step or m.sim.step_s
    path, takers = [], []
    for i in range(1, int(round(seconds / step)) + 1):
        takers += m.advance(i * step)
        path.append(m.mid)
    return path, takers


def test_same_seed_is_bit_identical_and_another_seed_is_not(cfg):
    a, b, other = proc(cfg, seed=3), proc(cfg, seed=3), proc(cfg, seed=4)
    pa, ta = run(a, 60)
    pb, tb = run(b, 60)
    po, to = run(other, 60)
    assert pa == pb and ta == tb
    assert a.book(20) == b.book(20)
    assert pa != po and ta != to
    assert all(isinstance(t, TakerOrder) for t in ta) and ta


def test_the_path_does_not_depend_on_how_time_is_chopped(cfg):
    fine, coarse = proc(cfg, "ETH"), proc(cfg, "ETH")
    path, takers = run(fine, 60)
    assert coarse.advance(60.0) == takers
    assert coarse.mid == path[-1]
    assert coarse.book(20) == fine.book(20)


def test_advance_never_goes_back_and_counts_whole_steps(cfg):
    m = proc(cfg)
    assert m.advance(0.05) == [] and m.mid == cfg.assets["BTC"].market.price
    m.advance(1.0)
    assert m.steps == 10 and m.time == pytest.approx(1.0)
    mid = m.mid
    assert m.advance(0.5) == [] and m.advance(1.0) == [] and m.mid == mid


def test_taker_intensity_decays_as_a_exp_minus_k_delta(cfg):
    mk = cfg.assets["BTC"].market
    m = proc(cfg, seed=5, regimes=False)
    T = 20_000.0
    takers = m.advance(T)
    for side in ("B", "A"):
        reach = np.array([t.reach_bp for t in takers if t.side == side])
        for delta in (0.0, 1.0, 2.0, 4.0, 7.0):
            expected = mk.taker_rate * math.exp(-mk.taker_k_per_bp * delta) * T
            got = int((reach >= delta).sum())
            assert abs(got - expected) < 4 * math.sqrt(expected), (side, delta, got, expected)
    # and the mean reach is 1/k
    reach = np.array([t.reach_bp for t in takers])
    assert reach.mean() == pytest.approx(1 / mk.taker_k_per_bp, rel=0.03)


def test_taker_sizes_are_whole_lots_with_the_configured_mean(cfg):
    for asset in ("BTC", "XRP"):
        mk = cfg.assets[asset].market
        m = proc(cfg, asset, seed=9)
        takers = m.advance(3_000.0)
        lot = 10.0 ** -mk.sz_decimals
        assert all(is_valid_size(t.sz, mk.sz_decimals) and t.sz >= lot for t in takers)
        mean_usd = np.mean([t.sz for t in takers]) * mk.price
        assert mean_usd == pytest.approx(mk.taker_size_usd, rel=0.08)


def test_mid_log_returns_have_the_configured_volatility(cfg):
    mk = cfg.assets["HYPE"].market
    m = proc(cfg, "HYPE", seed=2, regimes=False)
    path, _ = run(m, 2_000)
    r = np.diff(np.log(path))
    want = mk.sigma_bp * 1e-4 * math.sqrt(cfg.sim.step_s)
    assert r.std() == pytest.approx(want, rel=0.03)
    assert abs(r.mean()) < 4 * want / math.sqrt(len(r))


@pytest.mark.parametrize("asset", ["BTC", "ETH", "SOL", "XRP", "HYPE"])
def test_background_book_sits_on_the_grid_around_the_mid(cfg, asset):
    mk = cfg.assets[asset].market
    d = mk.sz_decimals
    m = proc(cfg, asset, seed=21)
    lot = Decimal(1).scaleb(-d)
    for t in (0.0, 7.3, 61.0):
        m.advance(t)
        mean = m.depth_usd / m.mid  # the regime's depth and spread
        bids, asks = m.book(20)
        assert len(bids) == 20 and len(asks) == 20
        half = m.book_spread_bp / 2e4
        assert bids[0].px == float(round_price(m.mid * (1 - half), d, "down"))
        assert asks[0].px == float(round_price(m.mid * (1 + half), d, "up"))
        assert bids[0].px < m.mid < asks[0].px
        for side, sign in ((bids, -1), (asks, 1)):
            for lv in side:
                assert is_valid_price(lv.px, d)
                assert lv.sz > 0 and Decimal(repr(lv.sz)) % lot == 0
                assert 0.45 * mean <= lv.sz <= 1.55 * mean + float(lot)
            for near, far in zip(side, side[1:]):
                gap = sign * (far.px - near.px)
                assert gap > 0
                assert gap >= float(tick_at(near.px, d)) - 1e-12
                assert gap >= 0.5e-4 * near.px - 1e-9
        # a shallower look is a prefix of a deeper one, and looking twice changes nothing
        assert m.book(5) == (bids[:5], asks[:5])
        assert m.book(20) == (bids, asks)
    assert m.book(0) == ((), ())
