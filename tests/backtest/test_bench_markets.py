"""``python -m bench markets``: makerhive beside hftbacktest on every generated market,
coin and seed, with streams (and hftbacktest's results) kept and reused."""
from __future__ import annotations

import json

import pytest

from bench.compare import _makerhive_config
from bench.markets import one, parse_args, pooled, progress, stream_dir, summarise, table


def test_its_options_name_what_is_wrong():
    a = parse_args([])
    assert a["markets"] == ["orderbook", "santafe", "queue_reactive"] and a["assets"] == ["BTC", "HYPE"]
    assert a["seeds"] == [1, 2, 3, 4, 5, 6] and a["hours"] == 1.0 and a["sets"] == {}
    a = parse_args(["--markets", "santafe", "--assets", "hype", "--seeds", "2", "--first-seed", "28",
                    "--set", "quoting.tape_edge.confidence_z=1.0"])
    assert a["assets"] == ["HYPE"] and a["seeds"] == [28, 29]
    assert a["sets"] == {"quoting.tape_edge.confidence_z": 1.0}
    for bad in (["--markets", "nasdaq"], ["--markets", "santafe", "--assets", "SOL"], ["--seeds", "0"],
                ["--hours", "0"], ["--workers", "0"], ["--set", "quoting.nope=1"],
                ["--set", "quoting.tape_edge.confidence_z=-1"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    assert parse_args(["--markets", "orderbook", "--assets", "SOL"])["assets"] == ["SOL"]  # config.toml's market


def test_a_stream_and_hftbacktests_result_on_it_are_made_once_then_reused(tmp_path):
    hours = 90 / 3600
    root = stream_dir(tmp_path, "queue_reactive", "HYPE", 3, hours)
    root.mkdir(parents=True)
    usd = _makerhive_config().assets["HYPE"].quoting.order_size_usd
    kept = {"net_pnl": -1.25, "volume_usd": 500.0, "fills": 4, "bp_per_notional": -25.0}
    (root / f"hftbacktest-{usd:g}usd.json").write_text(json.dumps(kept))  # as an earlier run left it
    job = ("queue_reactive", "HYPE", 3, hours, str(tmp_path), {})
    first = one(job)
    assert first["hftbacktest"] == kept  # not traded again: it does not depend on makerhive's config
    assert (root / "stream.json").is_file()
    written = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    again = one(job)
    assert again == first  # the same stream, replayed the same way
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == written  # nothing regenerated
    assert json.loads((root / "stream.json").read_text())["market"] == "queue_reactive"
    (root / "hftbacktest-200usd.json").write_text(json.dumps(kept))  # hftbacktest trades makerhive's size
    changed = one(("queue_reactive", "HYPE", 3, hours, str(tmp_path), {"quoting.order_size_usd": 200.0}))
    assert changed["stream"] == first["stream"] and changed["makerhive"] != first["makerhive"]


def test_the_summary_pools_each_market_and_counts_streams_won_and_not_traded():
    def row(market, seed, ours, theirs):
        def side(bp):
            if bp is None:
                return {"net_pnl": 0.0, "volume_usd": 0.0, "fills": 0, "bp_per_notional": None}
            return {"net_pnl": bp * 1000 / 1e4, "volume_usd": 1000.0, "fills": 10, "bp_per_notional": bp}
        return {"market": market, "asset": "BTC", "seed": seed, "makerhive": side(ours), "hftbacktest": side(theirs)}

    rows = [row("santafe", 1, -2.0, -3.0), row("santafe", 2, -4.0, -1.0), row("santafe", 3, None, -1.0),
            row("queue_reactive", 1, 1.0, None)]
    s = summarise(rows)
    assert [(x["market"], x["streams"], x["wins"], x["no_trades"]) for x in s] == [("santafe", 3, 1, 1),
                                                                                  ("queue_reactive", 1, 1, 0)]
    assert s[0]["makerhive"]["bp_per_notional"] == -3.0 and s[0]["makerhive"]["fills"] == 20
    assert s[0]["hftbacktest"]["bp_per_notional"] == pytest.approx(-5 / 3, abs=0.01)
    assert progress(rows[2]) == ("santafe BTC seed 3: makerhive no trade (0 fills, +0.00 $), "
                                 "hftbacktest -1.00 bp (10 fills, -0.10 $)")
    total = pooled(rows)
    assert (total["streams"], total["wins"], total["no_trades"]) == (4, 2, 1)
    assert total["makerhive"]["bp_per_notional"] == pytest.approx(-5 / 3, abs=0.01)  # -0.5 $ on $3,000
    text = table(s, total)
    assert "santafe" in text and "1/2 (1 without a trade)" in text and "-3.00 bp" in text
    assert text.splitlines()[-1].startswith("all") and "2/3 (1 without a trade)" in text
