"""The order-flow market (sim.market_model = "orderbook"): what a maker trading it notices."""
from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

import config as config_mod
from messages.market import Trade
from messages.orders import Fill, NewOrder
from venues.sim.engine import SimExchange
from venues.sim.orderbook import OrderBookMarket

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _cfg(assets=("BTC",), **market):
    cfg = config_mod.load(ROOT / "config.toml")
    assert cfg.sim.market_model == "orderbook"  # the default
    assets_cfg = dict(cfg.assets)
    for a in assets:
        m = msgspec.structs.replace(assets_cfg[a].market, **market)
        assets_cfg[a] = msgspec.structs.replace(assets_cfg[a], market=m)
    return msgspec.structs.replace(cfg, assets=assets_cfg,
                                   portfolio=msgspec.structs.replace(cfg.portfolio, assets=tuple(assets)))


def _run(ex: SimExchange, t0: float, t1: float, step: float = 0.1) -> list:
    out = []
    n0, n1 = round(t0 / step), round(t1 / step)
    for k in range(n0 + 1, n1 + 1):
        out.extend(ex.advance(k * step))
    return out


@pytest.mark.parametrize("asset,lo,hi", [("BTC", 1, 3), ("ETH", 1, 3), ("HYPE", 1, 8)])
def test_touch_spread_and_depth_in_the_configured_range(asset, lo, hi):
    cfg = _cfg((asset,))
    ex = SimExchange(cfg, seed=3)
    m = ex.markets[asset]
    spreads, depth = [], []
    for k in range(1, 3001):
        ex.advance(k * 0.1)
        if k % 5 == 0:
            bids, asks = m.book(5)
            assert bids[0].px < asks[0].px  # never crossed
            spreads.append(round((asks[0].px - bids[0].px) / m.tick))
            depth.extend(lv.sz * lv.px for lv in bids + asks)
    med = float(np.median(spreads))
    assert lo <= med <= hi, (asset, med)
    mean_depth = float(np.mean(depth))
    assert 0.3 * cfg.assets[asset].market.depth_usd < mean_depth < 2 * cfg.assets[asset].market.depth_usd


def test_book_is_never_crossed_with_our_orders_in_it():
    ex = SimExchange(_cfg(("SOL",)), seed=5)
    m = ex.markets["SOL"]
    n = 0
    for k in range(1, 2001):
        ex.advance(k * 0.1)
        bid, ask = m.top()
        if k % 20 == 0:
            px_b = round(bid, 2)
            px_a = round(ask, 2)
            ex.place("SOL", [NewOrder(f"b{k}", "B", px_b, 0.1), NewOrder(f"a{k}", "A", px_a, 0.1)],
                     k * 0.1)
            n += 2
        bids, asks = ex.book_snapshot("SOL", k * 0.1, k).bids, ex.book_snapshot("SOL", k * 0.1, k).asks
        assert bids[0].px < asks[0].px


def _join_touch(ex, asset, ts, cloid, side="B", usd=50.0):
    m = ex.markets[asset]
    bid, ask = m.top()
    px = bid if side == "B" else ask
    sz = round(max(usd / px, 10 ** -m.sz_decimals), m.sz_decimals)
    (ack,) = ex.place(asset, [NewOrder(cloid, side, px, sz)], ts)
    assert not hasattr(ack, "reason"), ack
    return px


def test_a_quote_behind_a_long_queue_fills_only_after_the_queue_ahead_is_consumed():
    ex = SimExchange(_cfg(("ETH",), maker_lag_s=1e6, cancel_rate=1e-6, informed_share=0.0,
                          arb_edge_bp=1e6, jump_rate_per_hour=0.0, sigma_bp=1e-6, regimes=False), seed=2)
    _run(ex, 0, 1.0)
    px = _join_touch(ex, "ETH", 1.0, "q1")
    ahead0 = ex.queue_ahead("ETH", "q1")
    assert ahead0 > 0
    traded_at_px = 0.0
    filled_when = None
    for k in range(11, 6000):
        for ev in ex.advance(k * 0.1):
            if type(ev) is Trade and ev.px == px and ev.side == "A":
                traded_at_px += ev.sz
            if type(ev) is Fill and ev.cloid == "q1" and filled_when is None:
                filled_when = traded_at_px
        if filled_when is not None:
            break
        assert ex.queue_ahead("ETH", "q1") <= ahead0 + 1e-9  # only moves forward
    assert filled_when is not None
    # everything ahead of us traded first (cancels are off): no fill before the queue was eaten
    assert filled_when >= ahead0 - 1e-9


def test_a_modify_loses_priority():
    ex = SimExchange(_cfg(("ETH",), maker_lag_s=1e6, sigma_bp=1e-6, regimes=False, jump_rate_per_hour=0.0,
                          trade_rate=1e-6), seed=4)
    _run(ex, 0, 1.0)
    px = _join_touch(ex, "ETH", 1.0, "first")
    _run(ex, 1.0, 6.0)  # makers add behind us
    level = {lv.px: lv.sz for lv in ex.markets["ETH"].book(5)[0]}[px]  # background only
    ahead_before = ex.queue_ahead("ETH", "first")
    assert ahead_before < level  # some of the level joined behind us
    ex.cancel("ETH", ["first"], 6.0)
    ex.place("ETH", [NewOrder("again", "B", px, 0.02)], 6.0)
    assert ex.queue_ahead("ETH", "again") == pytest.approx(level)  # now the whole level is ahead


def test_informed_flow_gives_resting_quotes_negative_markouts():
    """A naive maker resting one lot at each touch: its fills are followed by the fair
    price moving against it, and more so with more informed flow."""
    def markout(share):
        ex = SimExchange(_cfg(("SOL",), informed_share=share), seed=11)
        m = ex.markets["SOL"]
        fills = []
        k = 0
        for k in range(1, 18001):
            ts = k * 0.1
            for ev in ex.advance(ts):
                if type(ev) is Fill:
                    fills.append((ts, ev.side, ev.px))
            if k % 10 == 0:
                ex.cancel_all("SOL", ts)
                bid, ask = m.top()
                ex.place("SOL", [NewOrder(f"b{k}", "B", bid, 0.1), NewOrder(f"a{k}", "A", ask, 0.1)],
                         ts)
        ex2 = SimExchange(_cfg(("SOL",), informed_share=share), seed=11)
        out = []
        # the fair price path does not depend on our orders: read it from a twin run
        fair = []
        for j in range(1, 18000 + 60):
            ex2.advance(j * 0.1)
            fair.append(ex2.markets["SOL"].mid)
        for ts, side, px in fills:
            j = round(ts / 0.1) - 1 + 50  # 5 s later
            if j < len(fair):
                sign = 1 if side == "B" else -1
                out.append(sign * (fair[j] - px) / px * 1e4)
        return float(np.mean(out)), len(out)

    low, n_low = markout(0.0)
    high, n_high = markout(0.8)
    assert n_low > 50 and n_high > 50
    assert high < 0
    assert high < low


def test_same_seed_same_stream_and_chopping_does_not_matter():
    def stream(step):
        ex = SimExchange(_cfg(("BTC", "HYPE")), seed=9)
        out = []
        t, k = 0.0, 0
        while t < 300 - 1e-9:
            k += 1
            t = round(k * step, 6)
            out.extend((type(e).__name__, e.asset, e.px, e.sz, e.side) for e in ex.advance(t) if type(e) is Trade)
        return out, ex.markets["BTC"].book(10)

    a, book_a = stream(0.1)
    b, book_b = stream(0.5)
    for asset in ("BTC", "HYPE"):  # per asset: one call steps the assets one after the other
        assert [t for t in a if t[1] == asset] == [t for t in b if t[1] == asset]
    assert a and book_a == book_b
    c, _ = stream(0.1)
    assert a == c
    ex = SimExchange(_cfg(("BTC", "HYPE")), seed=10)
    other = [(type(e).__name__, e.asset, e.px, e.sz, e.side) for e in _run(ex, 0, 300) if type(e) is Trade]
    assert other != a


def test_trade_sizes_are_heavy_tailed():
    ex = SimExchange(_cfg(("ETH",)), seed=1)
    sizes = np.array([e.sz * e.px for e in _run(ex, 0, 3600) if type(e) is Trade])
    assert len(sizes) > 1000
    # prints beyond 10x the mean size: an exponential law would give ~1 in 22,000
    assert (sizes > 10 * sizes.mean()).sum() >= 10
    top = np.sort(sizes)[-max(10, len(sizes) // 20):]
    hill = 1.0 / np.mean(np.log(top / top[0]))
    assert 0.8 < hill < 5.0


def test_post_only_that_would_cross_is_rejected_and_fees_follow_the_tier():
    cfg = _cfg(("BTC",))
    cfg = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, fee_tier=3))
    ex = SimExchange(cfg, seed=1)
    assert (ex.maker_fee, ex.taker_fee) == (0.00004, 0.0003)
    _run(ex, 0, 1.0)
    bid, ask = ex.markets["BTC"].top()
    (rej,) = ex.place("BTC", [NewOrder("x", "B", ask, 0.001)], 1.0)
    assert "Post only order would have immediately matched" in rej.reason
    with pytest.raises(config_mod.ConfigError):
        bad = msgspec.structs.replace(cfg.sim, fee_tier=9)
        config_mod.validate(msgspec.structs.replace(cfg, sim=bad))


def test_nan_parameters_are_refused():
    cfg = _cfg(("BTC",))
    for f in ("cancel_rate", "maker_lag_s", "book_spread_ticks", "trade_rate"):
        m = msgspec.structs.replace(cfg.assets["BTC"].market, **{f: math.nan})
        bad = msgspec.structs.replace(cfg, assets={**cfg.assets, "BTC": msgspec.structs.replace(cfg.assets["BTC"], market=m)})
        with pytest.raises(config_mod.ConfigError, match=f):
            config_mod.validate(bad)


def test_the_formula_market_stays_selectable():
    cfg = _cfg(("BTC",))
    cfg = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, market_model="formula"))
    ex = SimExchange(cfg, seed=1)
    assert not isinstance(ex.markets["BTC"], OrderBookMarket)


def test_a_plain_backtest_uses_the_hyperliquid_wire_on_the_order_book(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "bt.json"
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", "--assets", "SOL", "--duration", "30",
                           "--json", str(out), "--config", str(ROOT / "config.toml")],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text())["latency"]["profile"] == "hyperliquid"


def test_an_ioc_takes_the_background_from_the_touch_pays_the_taker_fee_and_reduce_only_holds():
    from messages.orders import OrderAck, OrderCancelled, OrderReject
    from venues.sim.engine import ERR_IOC, ERR_REDUCE_ONLY

    ex = SimExchange(_cfg(("SOL",)), seed=5)
    _run(ex, 0.0, 30.0)
    m = ex.markets["SOL"]
    bids, asks = m.book(5)
    want = round(asks[0].sz + asks[1].sz / 2, 2)
    out = ex.place("SOL", [NewOrder("ioc-buy", "B", asks[1].px, want, tif="Ioc")], 30.0)
    assert isinstance(out[0], OrderAck)
    got = [f for f in out if isinstance(f, Fill)]
    assert [f.px for f in got] == [asks[0].px, asks[1].px]
    assert sum(f.sz for f in got) == pytest.approx(want)
    assert all(f.fee == pytest.approx(f.px * f.sz * ex.taker_fee) and f.crossed for f in got)
    assert ex.position("SOL") == pytest.approx(want)
    assert m.book(5)[1][0].px == asks[1].px  # the touch it took is gone
    assert ex.open_orders("SOL") == ()  # an IOC never rests

    refused = ex.place("SOL", [NewOrder("ro-buy", "B", asks[3].px, 1.0, tif="Ioc", reduce_only=True)], 30.0)
    assert [type(a) for a in refused] == [OrderReject] and refused[0].reason == ERR_REDUCE_ONLY.format(i=0)

    bids = m.book(5)[0]
    ex.place("SOL", [NewOrder("our-bid", "B", bids[0].px, 0.1)], 30.0)  # ours, resting at the best bid
    out = ex.place("SOL", [NewOrder("ro-sell", "A", bids[4].px, 10 * want, tif="Ioc", reduce_only=True)], 30.0)
    assert isinstance(out[0], OrderCancelled) and out[0].cloid == "our-bid"  # no trade with ourselves
    assert sum(f.sz for f in out if isinstance(f, Fill)) == pytest.approx(want)  # capped at the position
    assert ex.position("SOL") == pytest.approx(0.0)

    ask = m.book(1)[1][0].px
    behind = ex.place("SOL", [NewOrder("short", "B", round(ask - 0.05, 2), 1.0, tif="Ioc")], 30.0)
    assert [type(a) for a in behind] == [OrderReject] and behind[0].reason == ERR_IOC.format(i=0)
    assert ex.pnl("SOL") == pytest.approx(ex.cash("SOL"))  # flat: the fees and the spread are all it has
