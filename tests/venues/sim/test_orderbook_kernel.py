"""The order-book market's compiled makers' update (venues/sim/orderbook_kernel.py) makes
the very market the numpy one does: same book, same trades, same fills of our orders,
with our orders resting, moving and being cancelled in it, on calm and wild markets."""
from __future__ import annotations

import random
from pathlib import Path

import msgspec
import pytest

import config as config_mod
from messages.orders import NewOrder
from venues.sim.engine import SimExchange

ROOT = Path(__file__).resolve().parents[3]


def _cfg(asset: str, **market) -> config_mod.Config:
    cfg = config_mod.load(ROOT / "config.toml")
    assets = dict(cfg.assets)
    assets[asset] = msgspec.structs.replace(assets[asset], market=msgspec.structs.replace(assets[asset].market,
                                                                                          **market))
    return msgspec.structs.replace(cfg, assets=assets, portfolio=msgspec.structs.replace(cfg.portfolio,
                                                                                         assets=(asset,)))


def _trace(cfg: config_mod.Config, asset: str, seed: int, compiled: bool, steps: int) -> list:
    """Everything a user of the engine sees, step by step, with a quoting pattern of our
    own (seeded) that rests orders at, inside and behind the touch and pulls them."""
    ex = SimExchange(cfg, seed=seed, compiled=compiled)
    m = ex.markets[asset]
    rnd = random.Random(seed)
    out, live, n = [], [], 0
    for k in range(1, steps + 1):
        ts = k * 0.1
        out.append([repr(e) for e in ex.advance(ts)])
        if k % 7 == 0:
            bid, ask = m.top()
            if bid > 0 and ask < float("inf"):
                side = rnd.choice("BA")
                off = rnd.choice((0, 0, 1, 2, 5))
                px = bid - off * m.tick if side == "B" else ask + off * m.tick
                n += 1
                sz = round(rnd.choice((1, 2, 5)) * 10 ** -m.sz_decimals * 100, m.sz_decimals)
                out.append([repr(a) for a in ex.place(asset, [NewOrder(f"c{n}", side, px, sz)], ts)])
                live.append(f"c{n}")
        if k % 11 == 0 and live:
            out.append([repr(a) for a in ex.cancel(asset, [live.pop(0)], ts)])
        if k % 5 == 0:
            out.append(repr(ex.book_snapshot(asset, ts, k)))
    out.append((m._bb, m._ba, m._bids.tolist(), m._asks.tolist(), repr(m._q_bid), repr(m._q_ask)))
    return out


@pytest.mark.parametrize("asset,seed,market", [
    ("BTC", 1, {}),
    ("SOL", 2, {}),
    ("HYPE", 3, {"jump_rate_per_hour": 400.0, "sigma_bp": 9.0}),  # stale levels, arbitrage, long walks
    ("ETH", 4, {"maker_lag_s": 0.3, "cancel_rate": 2.0}),
])
def test_compiled_makers_make_the_same_market(asset, seed, market):
    cfg = _cfg(asset, **market)
    plain = _trace(cfg, asset, seed, compiled=False, steps=1500)
    fast = _trace(cfg, asset, seed, compiled=True, steps=1500)
    assert sum(len(x) for x in plain if isinstance(x, list)) > 100  # trades and answers happened
    assert fast == plain
