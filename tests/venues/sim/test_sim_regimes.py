"""The crypto market model (``market.regimes = true``): regime switching, jumps,
heavy-tailed and informed taker flow, and the funding rate. Long runs use a coarse
step and a negligible taker rate where takers are not the point, to stay fast."""
import math
import pathlib

import msgspec
import numpy as np
import pytest

import config as c
from tests.sim_helpers import formula_market
from exchange_rules.ticks import is_valid_size
from venues.sim.market import (
    _JUMP_RATE_MULT,
    _SIGMA_MULT,
    _SPREAD_MULT,
    FUNDING_REVERSION_S,
    REGIMES,
    MarketProcess,
    stationary_occupancy,
)

QUIET = 1e-9  # a taker rate that yields no takers: for runs about the mid only


@pytest.fixture(scope="module")
def cfg():
    return formula_market(c.load(pathlib.Path(__file__).resolve().parents[3] / "config.toml"))


def make(cfg, asset="HYPE", seed=1, step_s=None, **market):
    mk = msgspec.structs.replace(cfg.assets[asset].market, **market)
    sim = cfg.sim if step_s is None else msgspec.structs.replace(cfg.sim, step_s=step_s)
    return MarketProcess(asset, mk, sim, seed)


def chunked(m, total_s, chunk_s):
    """Advance in chunks; per chunk (regime, log-return, takers) or regime None when
    the chunk saw a switch or a jump (its regime is not one thing)."""
    out = []
    n = int(round(total_s / chunk_s))
    for i in range(1, n + 1):
        h, j, before = len(m.regime_history), len(m.jumps), m.mid
        takers = m.advance(i * chunk_s)
        clean = len(m.regime_history) == h and len(m.jumps) == j
        out.append((m.regime if clean else None, math.log(m.mid / before), takers))
    return out


def test_same_seed_gives_the_same_regimes_jumps_and_path_however_time_is_chopped(cfg):
    kw = dict(jump_rate_per_hour=30.0)
    one = make(cfg, seed=5, **kw)
    takers_one = one.advance(7200.0)
    chops = [0.1, 0.37, 1.3, 4.05, 0.2, 9.9]
    a, b = make(cfg, seed=5, **kw), make(cfg, seed=5, **kw)
    path_a, path_b, takers_a, takers_b = [], [], [], []
    t, i = 0.0, 0
    while t < 7200.0:
        t = min(7200.0, t + chops[i % len(chops)])
        i += 1
        takers_a += a.advance(t)
        takers_b += b.advance(t)
        path_a.append(a.mid)
        path_b.append(b.mid)
    assert path_a == path_b and takers_a == takers_b
    assert len(one.regime_history) > 3 and len(one.jumps) > 10  # switches and jumps were crossed
    assert takers_one == takers_a
    assert one.mid == a.mid and one.funding_rate == a.funding_rate
    assert one.regime_history == a.regime_history and one.jumps == a.jumps and one.regime == a.regime
    assert one.book(20) == a.book(20)
    assert any(t.informed for t in takers_one)
    other = make(cfg, seed=6, **kw)
    takers_other = other.advance(7200.0)
    assert other.regime_history != one.regime_history and other.mid != one.mid
    assert takers_other != takers_one and other.jumps != one.jumps


def test_regimes_off_is_the_plain_model(cfg):
    m = make(cfg, regimes=False, jump_rate_per_hour=100.0, informed_share=1.0)
    takers = m.advance(3600.0)
    assert m.regime == "normal" and m.regime_history == ((0.0, "normal"),) and m.jumps == ()
    assert not any(t.informed for t in takers)
    assert m.book_spread_bp == cfg.assets["HYPE"].market.book_spread_bp
    assert m.regime_seconds["normal"] == pytest.approx(3600.0)


def test_every_regime_is_visited_and_volatility_follows_the_regime(cfg):
    mk = cfg.assets["HYPE"].market
    m = make(cfg, seed=3, step_s=1.0, taker_rate=QUIET)
    hours = 48
    chunks = chunked(m, hours * 3600.0, 10.0)
    secs = m.regime_seconds
    assert set(name for _, name in m.regime_history) == set(REGIMES)
    assert sum(secs.values()) == pytest.approx(hours * 3600.0)
    occ = dict(zip(REGIMES, stationary_occupancy()))
    for name in REGIMES:
        assert secs[name] > 0, name
    # the long-run shares are about the stationary ones (episodes are long: loose)
    for name in ("calm", "normal", "volatile"):
        assert secs[name] / (hours * 3600) == pytest.approx(occ[name], abs=0.12), (name, secs)
    returns: dict[str, list[float]] = {name: [] for name in REGIMES}
    for regime, r, _ in chunks:
        if regime is not None:
            returns[regime].append(r)
    vol = {name: np.std(r) / math.sqrt(10.0) * 1e4 for name, r in returns.items() if len(r) > 30}
    assert vol["calm"] < vol["normal"] < vol["volatile"]
    for name in ("calm", "normal", "volatile"):  # σ_bp per √s, scaled by the regime
        assert vol[name] == pytest.approx(mk.sigma_bp * _SIGMA_MULT[REGIMES.index(name)], rel=0.1), (name, vol)
    # trends drift their way (per second, in bp)
    drift = {name: np.mean(r) / 10.0 * 1e4 for name, r in returns.items() if len(r) > 30}
    assert drift["trending_up"] > mk.trend_bp_per_min / 60 / 2
    assert drift["trending_down"] < -mk.trend_bp_per_min / 60 / 2


def test_the_background_book_widens_and_thins_with_the_regime(cfg):
    mk = cfg.assets["SOL"].market
    m = make(cfg, "SOL", seed=3, step_s=1.0, taker_rate=QUIET)
    seen: dict[str, tuple[float, float, float]] = {}
    for i in range(1, 48 * 360 + 1):
        m.advance(i * 10.0)
        bids, asks = m.book(1)
        seen[m.regime] = (m.book_spread_bp, (asks[0].px - bids[0].px) / m.mid * 1e4, m.depth_usd)
    assert set(seen) == set(REGIMES)
    for name, (spread, real, depth) in seen.items():
        assert spread == pytest.approx(mk.book_spread_bp * _SPREAD_MULT[REGIMES.index(name)])
        assert real >= spread - 1e-9  # rounded outwards onto the grid
    assert seen["calm"][0] <= seen["normal"][0] < seen["volatile"][0] < seen["crash"][0]
    assert seen["calm"][2] > seen["normal"][2] > seen["volatile"][2] > seen["crash"][2]


def test_informed_takers_lean_with_the_trend(cfg):
    m = make(cfg, seed=2, taker_rate=4.0, informed_share=0.4)
    by: dict[str, list] = {name: [] for name in REGIMES}
    for regime, _, takers in chunked(m, 6 * 3600.0, 2.0):
        if regime is not None:
            by[regime] += takers
    def buy_share(name):
        return np.mean([t.side == "B" for t in by[name]])
    assert len(by["trending_up"]) > 1000 and len(by["trending_down"]) > 1000, {k: len(v) for k, v in by.items()}
    assert buy_share("trending_up") == pytest.approx(0.5 + 0.4 / 2, abs=0.04)
    assert buy_share("trending_down") == pytest.approx(0.5 - 0.4 / 2, abs=0.04)
    assert buy_share("normal") == pytest.approx(0.5, abs=0.02)
    # informed takers trade with the drift, and only in trending (or crashing) markets
    assert all(t.side == "B" for t in by["trending_up"] if t.informed)
    assert all(t.side == "A" for t in by["trending_down"] if t.informed)
    assert np.mean([t.informed for t in by["trending_up"]]) == pytest.approx(0.4, abs=0.04)
    for name in ("calm", "normal", "volatile"):
        assert not any(t.informed for t in by[name])


def test_taker_sizes_are_heavy_tailed_whole_lots_with_the_configured_mean(cfg):
    mk = cfg.assets["BTC"].market
    m = make(cfg, "BTC", seed=4, taker_rate=40.0, size_tail_alpha=2.5)
    takers = m.advance(900.0)
    assert len(takers) > 50_000
    lot = 10.0 ** -mk.sz_decimals
    assert all(is_valid_size(t.sz, mk.sz_decimals) and t.sz >= lot for t in takers)
    usd = np.array([t.sz for t in takers]) * mk.price
    mean = usd.mean()
    assert mean == pytest.approx(mk.taker_size_usd, rel=0.1)
    # exponential sizes: q99/mean = 4.6, q99.9/mean = 6.9, median/mean = 0.69;
    # Lomax with α = 2.5: 8.0, 22.3 and 0.48
    assert np.quantile(usd, 0.99) / mean > 6.0
    assert np.quantile(usd, 0.999) / mean > 12.0
    assert np.median(usd) / mean < 0.6
    # the tail exponent (Hill estimator over the largest 0.5%) is about α
    top = np.sort(usd)[-len(usd) // 200:]
    hill = 1.0 / np.mean(np.log(top / top[0]))
    assert hill == pytest.approx(2.5, rel=0.3)
    # the plain model's sizes are exponential: a light tail
    plain = make(cfg, "BTC", seed=4, taker_rate=40.0, regimes=False).advance(300.0)
    p_usd = np.array([t.sz for t in plain]) * mk.price
    assert np.quantile(p_usd, 0.999) / p_usd.mean() < 8.0


def test_jumps_come_at_the_configured_rate(cfg):
    rate, size = 20.0, 30.0
    m = make(cfg, seed=8, step_s=1.0, taker_rate=QUIET, jump_rate_per_hour=rate, jump_bp=size)
    m.advance(72 * 3600.0)
    secs = m.regime_seconds
    expected = sum(rate / 3600 * _JUMP_RATE_MULT[i] * secs[name] for i, name in enumerate(REGIMES))
    got = len(m.jumps)
    assert abs(got - expected) < 4 * math.sqrt(expected), (got, expected)
    # their times are on the step grid in time order, and they lie within the run
    times = [t for t, _ in m.jumps]
    assert times == sorted(times) and 0 < times[0] and times[-1] <= 72 * 3600.0
    # in a normal market: random sign, mean size jump_bp; in a crash mostly down and bigger
    hist = m.regime_history
    starts = [t for t, _ in hist]

    def regime_at(t):
        return hist[int(np.searchsorted(starts, t, side="left")) - 1][1]

    normal = np.array([bp for t, bp in m.jumps if regime_at(t) == "normal"])
    crash = np.array([bp for t, bp in m.jumps if regime_at(t) == "crash"])
    assert len(normal) > 300 and len(crash) > 30
    assert np.abs(normal).mean() == pytest.approx(size, rel=0.12)
    assert np.mean(normal < 0) == pytest.approx(0.5, abs=0.08)
    assert np.mean(crash < 0) > 0.75 and np.abs(crash).mean() > 1.4 * size


def test_no_jumps_when_the_rate_is_zero(cfg):
    m = make(cfg, seed=8, step_s=1.0, taker_rate=QUIET, jump_rate_per_hour=0.0)
    m.advance(24 * 3600.0)
    assert m.jumps == ()


@pytest.mark.parametrize("regimes", [False, True])
def test_funding_mean_reverts_around_its_mean(cfg, regimes):
    mu, vol = 1.25e-5, 1e-5
    m = make(cfg, "ETH", seed=9, step_s=1.0, taker_rate=QUIET, regimes=regimes, funding_rate=mu, funding_vol=vol)
    assert m.funding_rate == mu
    f = []
    for i in range(1, 200 * 60 + 1):  # 200 hours, sampled every minute
        m.advance(i * 60.0)
        f.append(m.funding_rate)
    f = np.array(f)
    tol = 1.5 if regimes else 1.0  # with regimes the mean leans with trends and crashes
    assert abs(f.mean() - mu) < 0.3 * vol * tol
    assert f.std() == pytest.approx(vol, rel=0.15 * tol)
    lag = int(FUNDING_REVERSION_S / 60)
    d = f - f.mean()

    def corr(k):
        return float(np.dot(d[:-k], d[k:]) / np.dot(d, d))

    if not regimes:  # an OU process: correlation e^(-lag/τ)
        assert corr(lag) == pytest.approx(math.exp(-1), abs=0.1)
    assert corr(4 * lag) < 0.2  # deviations die out
    assert corr(1) > 0.9  # ... but slowly: no white noise
