"""Helpers for the tests of the generated markets (bench.santafe, bench.queue_reactive)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backtest.replay import ReplayBacktest
from bench.compare import _makerhive_config
from bench.stream import generate
from venues.replay import ReplayStats, asset_events, asset_files, read_lines


def sample(market: Any, seconds: float) -> tuple[list[tuple], list[tuple]]:
    """(ts, bids, asks, latent value) every 0.5 s, and every print with its time, of
    ``seconds`` of ``market`` in 0.1 s steps."""
    out, prints = [], []
    for n in range(1, round(seconds * 10) + 1):
        prints.extend((n * 0.1, p) for p in market.advance(n * 0.1))
        if n % 5 == 0:
            bids, asks = market.book(20)
            out.append((n * 0.1, bids, asks, market.value))
    return out, prints


def two_minutes_of_hype(root: Path, market_model: str) -> dict[str, Any]:
    """Two minutes of HYPE from ``market_model`` under ``root``, checked to be a recording
    that reads back frame for frame, in time order, replays, and is the same again."""
    info = generate(root, hours=120 / 3600, seed=3, asset="HYPE", market_model=market_model)
    assert info["market"] == market_model and info["books"] == 240 and info["trades"] > 100
    assert info["tick"] == 0.001 and info["lot"] == 0.01
    frames = [json.loads(line) for p in asset_files(root, "HYPE") for line in read_lines(p)]
    stats = ReplayStats()
    assert sum(1 for _ in asset_events(root, "HYPE", stats)) == 240 + info["trades"] and stats.malformed == 0
    assert [f["t"] for f in frames] == sorted(f["t"] for f in frames)
    res = ReplayBacktest(_makerhive_config(), root, assets=["HYPE"]).run()
    assert res.records["HYPE"].book_events >= 230
    assert generate(root / "again", hours=120 / 3600, seed=3, asset="HYPE", market_model=market_model) == info
    return info
