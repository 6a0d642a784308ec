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


def test_compare_takes_config_overrides_for_makerhive_and_refuses_unknown_keys():
    import pytest

    from bench.compare import parse_args

    a = parse_args(["--seed", "2", "--set", "quoting.tape_edge.enabled=false",
                    "--set", "quoting.tape_edge.margin_bp=0.5"])
    assert a["sets"] == {"quoting.tape_edge.enabled": False, "quoting.tape_edge.margin_bp": 0.5}
    assert not _makerhive_config(a["sets"]).assets["BTC"].quoting.tape_edge.enabled
    with pytest.raises(SystemExit):
        parse_args(["--set", "quoting.tape_edge.no_such_key=1"])
    with pytest.raises(SystemExit):
        parse_args(["--set", "quoting.tape_edge.enabled"])


def test_compare_takes_an_optimizers_overlay_and_set_keys_win_over_it(tmp_path, capsys):
    import pytest

    from bench.compare import parse_args

    best = tmp_path / "best.toml"
    best.write_text("[quoting]\nlevel_spacing_bp = 2.0\nmin_spread_bp = 3.0\n")
    a = parse_args(["--params", str(best), "--set", "quoting.min_spread_bp=2.5"])
    assert a["sets"] == {"quoting.level_spacing_bp": 2.0, "quoting.min_spread_bp": 2.5}
    assert _makerhive_config(a["sets"]).assets["HYPE"].quoting.level_spacing_bp == 2.0  # every asset's
    for text, said in (("[quoting]\nlevel_spacing_bp = -2.0\n", "level_spacing_bp"), ("[quoting\n", "not a valid params file")):
        best.write_text(text)
        with pytest.raises(SystemExit):
            parse_args(["--params", str(best)])
        assert said in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--params", str(tmp_path / "absent.toml")])
    assert "no such params file" in capsys.readouterr().err


def test_compare_splits_makerhive_pnl_and_counts_fills_the_book_made(tmp_path):
    from bench.compare import run_makerhive

    generate(tmp_path, hours=300 / 3600, seed=1)
    mh = run_makerhive(tmp_path, 1.0, {"quoting.tape_edge.enabled": False})
    assert mh["fills"] > 0 and 0 <= mh["fills_book_through"] <= mh["fills"]
    parts = mh["capture_bp"] + mh["fees_bp"] + mh["inventory_bp"]
    assert abs(parts - mh["bp_per_notional"]) < 1e-3  # the parts add up to the net


def test_compare_replays_a_kept_stream_instead_of_generating_one(tmp_path):
    import pytest

    from bench.compare import STREAM_INFO, load_stream, parse_args

    kept = tmp_path / "kept"
    info, gen_s = load_stream(kept, hours=60 / 3600, seed=3, keep=True, reuse=False)
    assert gen_s is not None and (kept / STREAM_INFO).is_file()
    files = sorted(p.relative_to(kept) for p in kept.rglob("*"))
    again, gen_s = load_stream(kept, hours=5.0, seed=99, keep=False, reuse=True)
    assert again == info and gen_s is None  # read back as written: the stream's own hours and seed
    assert sorted(p.relative_to(kept) for p in kept.rglob("*")) == files  # nothing generated again
    assert parse_args(["--stream", str(kept)])["stream_dir"] == str(kept)
    for bad in (["--stream", str(tmp_path / "nothing")], ["--stream", str(kept), "--seed", "3"],
                ["--stream", str(kept), "--keep", str(tmp_path / "k2")]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_compare_generates_and_replays_another_coins_market(tmp_path):
    import pytest

    from bench.compare import STREAM_INFO, load_stream, parse_args, run_makerhive

    assert parse_args([])["asset"] == "BTC"
    assert parse_args(["--asset", "hype"])["asset"] == "HYPE"
    for bad in (["--asset", "DOGE"], ["--stream", str(tmp_path), "--asset", "HYPE"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    kept = tmp_path / "hype"
    info, _ = load_stream(kept, hours=300 / 3600, seed=2, keep=True, reuse=False, asset="HYPE")
    assert info["asset"] == "HYPE" and json.loads((kept / STREAM_INFO).read_text())["asset"] == "HYPE"
    assert list(asset_files(kept, "HYPE")) and not list(asset_files(kept, "BTC"))
    btc_tick = generate(tmp_path / "btc", hours=60 / 3600, seed=2)["tick"]
    assert info["tick"] != btc_tick  # HYPE's own price grid, not BTC's
    mh = run_makerhive(kept, info["tick"], {"quoting.tape_edge.enabled": False}, "HYPE")
    assert mh["events"] > 0 and mh["fills"] > 0
