"""A generated market-data stream in the recorder's format (``makerhive record``), so one
stream can be replayed by makerhive (``backtest --replay``) and converted for hftbacktest.

Why generated: the comparison must run anywhere, offline, and be the same stream every
time. The market is the simulator's order-book market for BTC from ``config.toml``
(``venues.sim.orderbook``: a book 1–2 ticks wide, 20+20 levels, heavy-tailed takers,
informed flow), seeded; or, built on other assumptions, the Santa Fe zero-intelligence
book with informed takers (``bench.santafe``) or the queue-reactive book with bursts of
self-exciting order flow (``bench.queue_reactive``). Written as Hyperliquid sends it: an l2Book of 20+20 levels every
0.5 s and a trades frame for each 0.1 s step with prints, venue time ``time`` in the
data, receive time 25 ms (trades) and 30 ms (books) later.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import config as config_mod
from exchange_rules.ticks import to_wire
from venues.hyperliquid.recorder import HourlyWriter, frame_line
from bench import queue_reactive, santafe
from venues.sim.orderbook import OrderBookMarket

ROOT = Path(__file__).resolve().parents[1]
T0_MS = 1_751_414_400_000  # 2025-07-02T00:00:00Z
BOOK_EVERY_S = 0.5
LEVELS = 20
TRADE_DELAY_MS, BOOK_DELAY_MS = 25, 30


# the markets built on other assumptions than the simulator's: their profiles by coin, and the market
GENERATED: dict[str, tuple[dict[str, Any], Any]] = {
    "santafe": (santafe.PROFILES, santafe.SantaFeMarket),
    "queue_reactive": (queue_reactive.PROFILES, queue_reactive.QueueReactiveMarket),
}
MARKETS = ("orderbook", *GENERATED)


def generate(root: str | Path, *, hours: float, seed: int, asset: str = "BTC",
             market_model: str = "orderbook") -> dict[str, Any]:
    """Write ``hours`` of ``asset`` under ``root``; what was written. ``market_model``:
    the simulator's order-book market (config.toml's), or one of ``GENERATED`` (their own
    profiles): ``"santafe"``, the zero-intelligence book with informed takers, or
    ``"queue_reactive"``, the queue-reactive book with self-exciting order flow."""
    cfg = config_mod.load(ROOT / "config.toml")
    step_s = cfg.sim.step_s
    mkt: Any
    if market_model in GENERATED:
        profiles, market_cls = GENERATED[market_model]
        if asset not in profiles:
            raise ValueError(f"{market_model}: no profile for {asset} (one of {', '.join(profiles)})")
        mkt = market_cls(profiles[asset], seed, step_s)
        price, szd = profiles[asset].price, profiles[asset].sz_decimals
    elif market_model == "orderbook":
        market = cfg.assets[asset].market
        mkt = OrderBookMarket(asset, market, cfg.sim, seed, compiled=True)
        price, szd = market.price, market.sz_decimals
    else:
        raise ValueError(f"market_model {market_model!r}: one of {', '.join(MARKETS)}")
    w = HourlyWriter(Path(root), asset)
    steps = round(hours * 3600 / step_s)
    book_every = max(1, round(BOOK_EVERY_S / step_s))
    tid = books = trades = 0
    try:
        for n in range(1, steps + 1):
            venue_ms = T0_MS + round(n * step_s * 1000)
            prints = mkt.advance(n * step_s)
            if prints:
                data = []
                for p in prints:
                    tid += 1
                    data.append({"coin": asset, "side": p.side, "px": to_wire(p.px), "sz": to_wire(p.sz),
                                 "time": venue_ms, "hash": "0x0", "tid": tid, "users": ["0xa", "0xb"]})
                t = venue_ms + TRADE_DELAY_MS
                w.write(t, frame_line(t, "trades", json.dumps(data, separators=(",", ":")).encode()))
                trades += len(data)
            if n % book_every == 0:
                bids, asks = mkt.book(LEVELS)
                levels = [[{"px": to_wire(lv.px), "sz": to_wire(lv.sz), "n": 1} for lv in side] for side in (bids, asks)]
                t = venue_ms + BOOK_DELAY_MS
                data_b = json.dumps({"coin": asset, "time": venue_ms, "levels": levels}, separators=(",", ":"))
                w.write(t, frame_line(t, "l2Book", data_b.encode()))
                books += 1
    finally:
        w.close()
    return {"asset": asset, "hours": hours, "seed": seed, "books": books, "trades": trades,
            "tick": mkt.tick, "lot": 10.0 ** -szd, "start_price": price, "market": market_model}
