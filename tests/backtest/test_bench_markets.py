"""``python -m bench markets``: makerhive beside hftbacktest on every generated market,
coin and seed, with streams (and hftbacktest's results) kept and reused."""
from __future__ import annotations

import json

import pytest

from bench.compare import _makerhive_config
from bench.markets import one, parse_args, pooled, progress, run, stream_dir, summarise, table


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


def test_it_takes_an_optimizers_overlay_under_the_set_keys(tmp_path):
    best = tmp_path / "best.toml"
    best.write_text("[quoting]\nposition_cap_lots = 4.0\n[quoting.glft]\nskew_adj = 0.2\n")
    a = parse_args(["--params", str(best), "--set", "quoting.glft.skew_adj=0.5"])
    assert a["sets"] == {"quoting.position_cap_lots": 4.0, "quoting.glft.skew_adj": 0.5}
    best.write_text("[quoting]\nno_such_key = 1\n")
    with pytest.raises(SystemExit):
        parse_args(["--params", str(best)])


def _kept_hftbacktest(streams, hours):
    """The queue-reactive HYPE seed 3 stream's directory with hftbacktest's result already
    in it, as an earlier run leaves it (hftbacktest is not what these tests are about)."""
    root = stream_dir(streams, "queue_reactive", "HYPE", 3, hours)
    root.mkdir(parents=True)
    usd = _makerhive_config().assets["HYPE"].quoting.order_size_usd
    kept = {"net_pnl": -1.25, "volume_usd": 500.0, "fills": 4, "bp_per_notional": -25.0}
    (root / f"hftbacktest-{usd:g}usd.json").write_text(json.dumps(kept))
    return root, kept


def test_a_stream_and_hftbacktests_result_on_it_are_made_once_then_reused(tmp_path):
    hours = 90 / 3600
    root, kept = _kept_hftbacktest(tmp_path, hours)
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


def _row(market, seed, net, vol=1000.0, capture=None, inventory=None, asset="BTC"):
    ours = {"net_pnl": net, "volume_usd": vol, "fills": 10, "bp_per_notional": net / vol * 1e4}
    if capture is not None:
        ours.update(capture_bp=capture, inventory_bp=inventory, fills_book_through=2)
    theirs = {"net_pnl": -1.0, "volume_usd": 1000.0, "fills": 10, "bp_per_notional": -10.0}
    return {"market": market, "asset": asset, "seed": seed, "makerhive": ours, "hftbacktest": theirs}


def _baseline(tmp_path, rows, hours=1.0):
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"setup": {"hours": hours}, "total": {}, "summary": [], "rows": rows}))
    return str(path)


def test_a_baseline_must_hold_every_stream_of_the_run_and_says_which_is_missing(tmp_path, capsys):
    rows = [_row(m, s, 1.0) for m in ("santafe", "queue_reactive") for s in (1, 2)]
    a = parse_args(["--markets", "santafe,queue_reactive", "--assets", "BTC", "--seeds", "2",
                    "--baseline", _baseline(tmp_path, rows)])
    assert [(r["market"], r["seed"]) for r in a["baseline"]["rows"]] == [
        ("santafe", 1), ("santafe", 2), ("queue_reactive", 1), ("queue_reactive", 2)]
    for argv, said in (
            (["--seeds", "3"], "no row for santafe BTC seed 3 (2 of this run's 6 streams missing; it ran seeds [1, 2])"),
            (["--seeds", "2", "--hours", "2"], "its streams are 1.0 h long, this run's 2 h"),
    ):
        with pytest.raises(SystemExit):
            parse_args(["--markets", "santafe,queue_reactive", "--assets", "BTC", "--baseline",
                        _baseline(tmp_path, rows), *argv])
        assert said in capsys.readouterr().err
    for text, said in (("{", "not the JSON of a `python -m bench markets --json` run"),
                       (json.dumps({"rows": []}), "not the JSON of a `python -m bench markets --json` run")):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(SystemExit):
            parse_args(["--baseline", str(tmp_path / "bad.json")])
        assert said in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--baseline", str(tmp_path / "absent.json")])
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="quarter hour"):  # --quick replays shorter streams than the baseline's
        run(quick=True, markets=["santafe"], assets=["BTC"], seeds=[1, 2], streams=str(tmp_path),
            baseline={"path": "base.json", "hours": 1.0, "rows": rows})


def test_the_baseline_difference_is_paired_by_stream_with_its_noise_per_market():
    base = {(r["market"], r["asset"], r["seed"]): r for r in
            [_row("santafe", 1, 1.0), _row("santafe", 2, 2.0), _row("santafe", 3, 3.0), _row("queue_reactive", 1, 5.0)]}
    rows = [_row("santafe", 1, 2.0), _row("santafe", 2, 4.0), _row("santafe", 3, 3.0), _row("queue_reactive", 1, 4.0)]
    s = summarise(rows, base)
    sf, qr = s[0]["vs_baseline"], s[1]["vs_baseline"]
    # santafe: differences +1, +2, 0: summed +3, the sum's standard error sqrt(3 x var) = sqrt(3)
    assert (sf["pairs"], sf["net_pnl_diff"], sf["better"], sf["worse"]) == (3, 3.0, 2, 0)
    assert sf["diff_se"] == pytest.approx(3 ** 0.5, abs=0.01) and sf["t"] == pytest.approx(3 / 3 ** 0.5, abs=0.01)
    assert sf["baseline_net_pnl"] == 6.0 and sf["baseline_bp_per_notional"] == 20.0
    assert (qr["pairs"], qr["net_pnl_diff"], qr["diff_se"], qr["t"], qr["worse"]) == (1, -1.0, None, None, 1)
    text = table(s)
    assert "vs baseline +3.00 $ ± 1.73, t +1.7 (2/3 better)" in text
    assert "vs baseline -1.00 $ (0/1 better)" in text  # one seed: no noise to give
    assert summarise(rows, {})[0]["vs_baseline"] is None and "no stream in common" in table(summarise(rows, {}))


def test_makerhives_bp_split_into_capture_and_holding_is_pooled_by_notional():
    rows = [_row("santafe", 1, -0.5, 1000.0, capture=1.0, inventory=-4.0),
            _row("santafe", 2, 0.3, 3000.0, capture=3.0, inventory=0.5)]
    mh = pooled(rows)["makerhive"]
    assert mh["capture_bp"] == pytest.approx((1.0 * 1000 + 3.0 * 3000) / 4000, abs=0.01)
    assert mh["inventory_bp"] == pytest.approx((-4.0 * 1000 + 0.5 * 3000) / 4000, abs=0.01)
    assert mh["fills_book_through"] == 4
    unsplit = pooled([_row("santafe", 1, 1.0)])["makerhive"]  # rows of an older run: no split to pool
    assert unsplit["capture_bp"] is None and unsplit["inventory_bp"] is None


def test_a_rerun_against_its_baseline_reports_the_paired_difference(tmp_path):
    hours = 90 / 3600
    _kept_hftbacktest(tmp_path, hours)
    setup = dict(markets=["queue_reactive"], assets=["HYPE"], seeds=[3], hours=hours, streams=str(tmp_path), workers=1)
    first = run(**setup)
    same = run(**setup, baseline={"path": "first.json", "hours": hours, "rows": first["rows"]})
    assert same["total"]["vs_baseline"]["net_pnl_diff"] == 0.0 and same["summary"][0]["vs_baseline"]["pairs"] == 1
    assert same["setup"]["baseline"] == "first.json"
    wider = run(**setup, sets={"quoting.min_spread_bp": 6.0},
                baseline={"path": "first.json", "hours": hours, "rows": first["rows"]})
    diff = wider["rows"][0]["makerhive"]["net_pnl"] - first["rows"][0]["makerhive"]["net_pnl"]
    assert wider["total"]["vs_baseline"]["net_pnl_diff"] == pytest.approx(diff, abs=0.01)
    assert wider["total"]["vs_baseline"]["baseline_net_pnl"] == pytest.approx(first["total"]["makerhive"]["net_pnl"])


def test_the_command_prints_the_summary_and_writes_every_stream_with_json(tmp_path, capsys):
    from bench.__main__ import main

    _kept_hftbacktest(tmp_path, 0.025)
    out = tmp_path / "m.json"
    assert main(["markets", "--markets", "queue_reactive", "--assets", "HYPE", "--seeds", "1", "--first-seed", "3",
                 "--hours", "0.025", "--streams", str(tmp_path), "--workers", "1", "--json", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)  # the table is on stderr; a row per stream would bury it
    assert set(printed) == {"setup", "total", "summary"} and printed["total"]["streams"] == 1
    written = json.loads(out.read_text())
    assert len(written["rows"]) == 1 and written["total"] == printed["total"]
