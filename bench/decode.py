"""Decode cost of Hyperliquid market data: bytes off the WebSocket to the hive's messages.

A full l2Book push (20 + 20 levels, the shape of hyperliquid.md §11a, BTC-like prices
and sizes as decimal strings) goes through ``wire.decode_frame`` (typed msgspec
decode, strings to floats) and ``convert.book_snapshot``; ``us_per_frame`` is the
median of both together, timed one frame at a time (so it includes ~0.05 µs of
timer), target ≤ 10 µs. Also: its p99, the conversion alone (``us_to_snapshot``),
and a trades frame of three prints decoded and converted to ``Trade`` messages
(``us_per_trades_frame``). The garbage collector stays on, as in the live process.
"""
from __future__ import annotations

import json
import statistics
import time

from venues.hyperliquid import wire
from venues.hyperliquid.convert import book_snapshot, trade

TARGET_US = 10.0
LEVELS = 20


def book_frame(levels: int = LEVELS) -> bytes:
    """A realistic l2Book frame: the §11a sample's shape, ``levels`` per side."""
    bids = [{"px": f"{106217.0 - 2 * i - (i % 3):.1f}", "sz": f"{0.001 + 0.13791 * ((7 * i) % 11):.5f}", "n": 1 + i % 4}
            for i in range(levels)]
    asks = [{"px": f"{106233.0 + 3 * i + (i % 2):.1f}", "sz": f"{0.26739 + 0.0713 * ((5 * i) % 13):.5f}",
             "n": 1 + i % 3} for i in range(levels)]
    frame = {"channel": "l2Book", "data": {"coin": "BTC", "time": 1751427259657, "levels": [bids, asks]}}
    return json.dumps(frame, separators=(",", ":")).encode()


def trades_frame(n: int = 3) -> bytes:
    """A trades frame of ``n`` prints, each shaped like hyperliquid.md §11b."""
    prints = [{"coin": "BTC", "side": "AB"[i % 2], "px": f"{106296.0 + i:.1f}", "sz": f"{0.00017 * (i + 1):.5f}",
               "time": 1751430933565 + i, "hash": "0xde93a8a0729ade63d8840417805ba9010b008818422ddedb1285744426b7350"
               + str(i), "tid": 293353986402527 + i,
               "users": ["0xcc0a3b6e3267c84361e91d8230868eea53431e4b", "0xc64cc00b46101bd40aa1c3121195e85c0b0918d8"]}
              for i in range(n)]
    return json.dumps({"channel": "trades", "data": prints}, separators=(",", ":")).encode()


def _times_us(fn, raw: bytes, n: int) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    for i in range(n):
        t0 = clock()
        fn(raw, i)
        out.append((clock() - t0) / 1e3)
    return out


def _book(raw: bytes, i: int) -> object:
    return book_snapshot(wire.decode_frame(raw).data, i, 0)


def _trades(raw: bytes, i: int) -> object:
    return [trade(t) for t in wire.decode_frame(raw).data]


def _p99(xs: list[float]) -> float:
    return sorted(xs)[int(0.99 * (len(xs) - 1))]


def run(quick: bool = False) -> dict:
    n = 20_000 if quick else 200_000
    book_raw, trades_raw = book_frame(), trades_frame()
    data = wire.decode_frame(book_raw).data
    for fn, raw in ((_book, book_raw), (_trades, trades_raw)):  # warm up
        _times_us(fn, raw, 2_000)
    frame = _times_us(_book, book_raw, n)
    decode_only = _times_us(lambda raw, i: wire.decode_frame(raw), book_raw, n)
    convert = _times_us(lambda raw, i: book_snapshot(data, i, 0), book_raw, n)
    trades = _times_us(_trades, trades_raw, n)
    med = statistics.median(frame)
    return {
        "us_per_frame": round(med, 3),
        "us_per_frame_p99": round(_p99(frame), 3),
        "us_decode_only": round(statistics.median(decode_only), 3),
        "us_to_snapshot": round(statistics.median(convert), 3),
        "us_per_trades_frame": round(statistics.median(trades), 3),
        "target_us_per_frame": TARGET_US,
        "meets_target": med <= TARGET_US,
        "frame_bytes": len(book_raw),
        "levels_per_side": LEVELS,
        "trades_frame_prints": 3,
        "frames_timed": n,
        "method": "median of single-frame perf_counter_ns timings, decode_frame + book_snapshot, GC on",
    }
