"""What a decoded Hyperliquid frame or answer must satisfy before anything uses it.

The decoder runs non-strict (numbers arrive as strings), so "NaN", "inf" and "1e300"
decode into float fields without complaint; a single NaN fill would make a position NaN
and every limit comparison false. Each function here returns why an item is unusable
("" when it is fine); the venue counts, logs once and drops what fails, item by item,
so one bad fill does not cost the good ones beside it.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from messages.validity import bad_number as _bad_number
from venues.hyperliquid import wire

EARLIEST_MS = 1_577_836_800_000  # 2020-01-01: nothing of Hyperliquid's is older
FUTURE_SLACK_MS = 86_400_000  # clocks differ, but not by a day
SIDES = ("B", "A")
MAX_PX = 1e10  # above any perp's price on any venue
MAX_SZ = 1e13  # above any order's size in coins
MAX_FEE_SHARE = 0.01  # Hyperliquid's fees are a few bp: a fee above 1% of the notional is garbage


def _bad_time(t: int, now_ms: float) -> str:
    if not EARLIEST_MS <= t <= now_ms + FUTURE_SLACK_MS:
        return f"time {t} ms is not a plausible timestamp"
    return ""


def _first(*problems: str) -> str:
    return next((p for p in problems if p), "")


def book(b: wire.WsBook, now_ms: float) -> str:
    """Finite positive prices and sizes, each side in order, uncrossed, both sides there."""
    bids, asks = b.levels
    if not bids or not asks:
        return "empty book side"
    for side, levels in (("bid", bids), ("ask", asks)):
        prev = math.nan
        for lv in levels:
            why = _first(_bad_number(f"{side} price", lv.px, positive=True, limit=MAX_PX),
                         _bad_number(f"{side} size", lv.sz, positive=True, limit=MAX_SZ))
            if why:
                return why
            if prev == prev and ((side == "bid" and lv.px >= prev) or (side == "ask" and lv.px <= prev)):
                return f"{side} levels out of order ({prev} then {lv.px})"
            prev = lv.px
    if bids[0].px >= asks[0].px:
        return f"crossed book: bid {bids[0].px} >= ask {asks[0].px}"
    return _bad_time(b.time, now_ms)


def trade(t: wire.WsTrade, now_ms: float) -> str:
    return _first("" if t.side in SIDES else f"side {t.side!r} is neither B nor A",
                  _bad_number("price", t.px, positive=True, limit=MAX_PX),
                  _bad_number("size", t.sz, positive=True, limit=MAX_SZ), _bad_time(t.time, now_ms))


def fill(f: wire.WsFill, now_ms: float) -> str:
    why = _first("" if f.side in SIDES else f"side {f.side!r} is neither B nor A",
                 _bad_number("price", f.px, positive=True, limit=MAX_PX),
                 _bad_number("size", f.sz, positive=True, limit=MAX_SZ),
                 _bad_number("fee", f.fee), _bad_number("startPosition", f.startPosition, limit=MAX_SZ),
                 _bad_number("closedPnl", f.closedPnl, limit=1e18), _bad_time(f.time, now_ms))
    if not why and abs(f.fee) > MAX_FEE_SHARE * f.px * f.sz:
        why = f"fee {f.fee} is more than 1% of the fill's notional"
    return why


def order_update(u: wire.WsOrder, now_ms: float) -> str:
    o = u.order
    return _first("" if o.side in SIDES else f"side {o.side!r} is neither B nor A",
                  _bad_number("price", o.limitPx, non_negative=True, limit=MAX_PX),
                  _bad_number("size", o.sz, non_negative=True, limit=MAX_SZ),
                  _bad_time(u.statusTimestamp, now_ms))


def funding(f: wire.WsFunding, now_ms: float) -> str:
    return _first(_bad_number("usdc", f.usdc), _bad_number("szi", f.szi, limit=MAX_SZ),
                  _bad_number("fundingRate", f.fundingRate, limit=1.0),
                  _bad_time(f.time, now_ms))


def asset_ctx(c: wire.PerpAssetCtx) -> str:
    return _first(_bad_number("funding", c.funding, limit=1.0),
                  _bad_number("markPx", c.markPx, positive=True, limit=MAX_PX),
                  _bad_number("oraclePx", c.oraclePx, non_negative=True, limit=MAX_PX))


def open_order(o: wire.OpenOrderInfo) -> str:
    return _first("" if o.side in SIDES else f"side {o.side!r} is neither B nor A",
                  _bad_number("price", o.limitPx, positive=True, limit=MAX_PX),
                  _bad_number("size", o.sz, non_negative=True, limit=MAX_SZ))


def position(p: wire.Position) -> str:
    return _bad_number("szi", p.szi, limit=MAX_SZ)


def user(claimed: str, ours: str) -> str:
    return "" if claimed.lower() == ours.lower() else f"for user {claimed}, not ours"


def keep(items: Iterable[Any], check: Any, reject: Any, *args: Any) -> list[Any]:
    """The items that pass ``check(item, *args)``; ``reject(item, why)`` for each that fails."""
    out = []
    for it in items:
        why = check(it, *args)
        if why:
            reject(it, why)
        else:
            out.append(it)
    return out
