"""The generated stream of ``python -m bench compare`` is a recording like ``makerhive
record`` makes: Hyperliquid's frames, a 20+20-level book every 0.5 s and trades, which
``makerhive backtest --replay`` replays (the hftbacktest half needs the bench extra)."""
from __future__ import annotations

import json

from backtest.replay import ReplayBacktest
from bench.compare import _makerhive_config
from bench.stream import generate
from venues.replay import ReplayStats, asset_events, asset_files, read_lines


def test_the_generated_stream_is_a_replayable_recording(tmp_path):
    info = generate(tmp_path, hours=120 / 3600, seed=3)
    assert info["books"] == 240 and info["trades"] > 100
    frames = [json.loads(line) for p in asset_files(tmp_path, "BTC") for line in read_lines(p)]
    books = [f["data"] for f in frames if f["ch"] == "l2Book"]
    assert len(books) == 240
    assert all(len(b["levels"][0]) == 20 and len(b["levels"][1]) == 20 for b in books)
    assert all(float(b["levels"][0][0]["px"]) < float(b["levels"][1][0]["px"]) for b in books)  # never crossed
    assert [f["t"] for f in frames] == sorted(f["t"] for f in frames)  # in receive order
    stats = ReplayStats()
    assert sum(1 for _ in asset_events(tmp_path, "BTC", stats)) == 240 + info["trades"] and stats.malformed == 0
    res = ReplayBacktest(_makerhive_config(), tmp_path, assets=["BTC"]).run()
    rec = res.records["BTC"]
    r = res.meta["replay"]
    assert r["trades_replayed"] + r["trades_dropped"] == info["trades"] and rec.book_events >= 230
    assert rec.level_events > 20 * 40  # the book moves
    assert generate(tmp_path / "again", hours=120 / 3600, seed=3) == info  # same seed, same stream
