"""Hyperliquid's decoded market data (``wire``) as the hive's messages (``messages.market``).

On the hot path of every l2Book push, so it does the least it can: the decoder already
turned the decimal strings into floats, and the levels already come best first on
both sides, which is ``BookSnapshot``'s order. Only the order count ``n`` is dropped.
"""
from __future__ import annotations

from messages.market import BookSnapshot, Level, Trade
from venues.hyperliquid.wire import WsBook, WsTrade


def book_snapshot(frame_data: WsBook, seq: int, recv_ns: int) -> BookSnapshot:
    """An l2Book push as a snapshot: ``ts`` is the block time in seconds, ``asset`` the coin."""
    bids, asks = frame_data.levels
    return BookSnapshot(frame_data.coin, frame_data.time / 1000, seq,
                        tuple([Level(lv.px, lv.sz) for lv in bids]),
                        tuple([Level(lv.px, lv.sz) for lv in asks]),
                        recv_ns)


def trade(t: WsTrade) -> Trade:
    """A public print; ``side`` stays the aggressor's ("B" bought, "A" sold)."""
    return Trade(t.coin, t.time / 1000, t.px, t.sz, t.side, t.tid)  # type: ignore[arg-type]
