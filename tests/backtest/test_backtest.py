"""The deterministic backtester: same inputs, same outputs; the default config trades
both sides; the report's attribution adds up and its net PnL is the engine's own
accounting to the cent; the CLI's JSON contracts."""
import tomllib
import json
import math
import pathlib
import subprocess
import sys

import msgspec
import pytest

from backtest import sweep
from backtest.engine import Backtest, run_backtest, select_assets, zero_latency
from backtest.report import build_report, plot, render_table, to_json
import config as c
from messages.market import BookSnapshot, Level
from messages.orders import Funding
from venues.sim.engine import SimExchange
from tests.sim_helpers import formula_market

ROOT = pathlib.Path(__file__).resolve().parents[2]
MINUTES = 180.0


@pytest.fixture(scope="module")
def cfg():
    return zero_latency(formula_market(c.load(ROOT / "config.toml")))


@pytest.fixture(scope="module")
def result(cfg):
    return run_backtest(cfg, duration_s=MINUTES)


@pytest.fixture(scope="module")
def report(result):
    return build_report(result)


def _fills(res):
    return {a: [(f.ts, f.side, f.px, f.sz, f.fee, f.mid) for f in r.fills] for a, r in res.records.items()}


def test_same_config_seed_and_duration_give_identical_results(cfg):
    one, two = (run_backtest(cfg, duration_s=90) for _ in range(2))
    assert _fills(one) == _fills(two) and any(_fills(one).values())
    assert json.dumps(build_report(one), sort_keys=True) == json.dumps(build_report(two), sort_keys=True)


def test_another_seed_gives_another_run(cfg):
    a = run_backtest(cfg, duration_s=30, assets=["BTC"], seed=1)
    b = run_backtest(cfg, duration_s=30, assets=["BTC"], seed=2)
    assert _fills(a) != _fills(b)


def test_default_config_trades_both_sides_of_every_asset(report):
    assert report["assets"] == ["BTC", "ETH", "SOL", "XRP", "HYPE"]
    total = report["total"]
    assert total["fills_buy"] > 0 and total["fills_sell"] > 0
    for i, (a, m) in enumerate(report["per_asset"].items()):
        assert m["fills_buy"] > 0 and m["fills_sell"] > 0, a
        # a push at start, then every 0.5 s from the asset's staggered offset (i/5 of it)
        assert m["book_events"] == 1 + math.floor((MINUTES - i * 0.1) / 0.5 + 1e-9), a
        assert m["trade_events"] > 0


def test_level_events_count_the_price_levels_that_changed_per_side(cfg, result):
    bt = Backtest(cfg, assets=["BTC"])
    rec = bt.records["BTC"]

    def push(seq, bids, asks):
        before = rec.level_events
        bt._count_book(BookSnapshot("BTC", float(seq), seq, tuple(Level(p, s) for p, s in bids),
                                    tuple(Level(p, s) for p, s in asks)))
        return rec.level_events - before

    assert push(1, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 1.0)]) == 3  # the first snapshot: every level
    assert push(2, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 1.0)]) == 0  # nothing changed
    # 100 changed size, 99 went, 98 came; the ask side is unchanged
    assert push(3, [(100.0, 1.5), (98.0, 2.0)], [(101.0, 1.0)]) == 3
    assert push(4, [(100.0, 1.5), (98.0, 2.0)], []) == 1  # the ask went
    assert push(5, [(100.0, 1.5), (98.0, 2.0)], [(99.5, 1.0)]) == 1  # a bid price may come back as an ask
    assert rec.book_events == 5 and rec.level_events == 8
    # a real run: the background book is redrawn each step, so most levels change
    for a, r in result.records.items():
        assert r.book_events < r.level_events <= 4 * bt.cfg.sim.book_levels * r.book_events, a
    assert result.market_events == sum(r.level_events + r.trade_events for r in result.records.values())


def test_attribution_adds_up_to_net_pnl(report):
    for name, m in [*report["per_asset"].items(), ("total", report["total"])]:
        parts = m["spread_capture"] - m["fees"] + m["funding"] + m["inventory_pnl"]
        assert parts == pytest.approx(m["net_pnl"], abs=1e-9), name
        assert m["spread_capture"] <= m["spread_capture_abs"] + 1e-12
    assert report["total"]["net_pnl"] == pytest.approx(sum(m["net_pnl"] for m in report["per_asset"].values()))


def test_net_pnl_is_the_engines_own_accounting_to_the_cent(result, report):
    for a, rec in result.records.items():
        venue = rec.engine_cash + rec.engine_position * rec.final_mid
        assert report["per_asset"][a]["net_pnl"] == pytest.approx(venue, abs=0.005), a
        assert rec.position == rec.engine_position
        assert rec.equity[-1] == pytest.approx(venue, abs=0.005)  # the curve ends where the books do
        # the risk core (what the live risk actor holds) saw every fill exactly once
        assert rec.risk_fills == len(rec.fills)
        assert rec.risk_position == pytest.approx(rec.engine_position, abs=1e-9)
        assert rec.orders_sent == rec.acks + rec.rejects  # zero latency: nothing still in flight
    assert abs(report["total"]["accounting_diff"]) < 0.005


def test_execution_metrics_are_consistent(report):
    for m in report["per_asset"].values():
        assert m["fills"] == m["fills_buy"] + m["fills_sell"]
        assert m["fill_rate"] == pytest.approx(m["fills"] / m["orders_sent"])
        assert m["actions_per_fill"] == pytest.approx((m["orders_sent"] + m["cancels_sent"]) / m["fills"])
        assert m["cancel_to_fill"] == pytest.approx(m["cancels_sent"] / m["fills"])
        inv = m["inventory_usd"]
        assert 0 <= inv["p50"] <= inv["p90"] <= inv["p99"] <= inv["max"]
        assert all(v is None or math.isfinite(v) for v in m["markout_bp"].values())
        assert m["max_drawdown"] >= 0
    assert report["total"]["sharpe"] is not None
    assert "sqrt" in report["sharpe_method"]


def test_each_asset_starts_with_the_meta_supervisors_first_allocation(cfg):
    # equal shares, but no asset gets more than allocation.cap_pct (35%) of the capital
    bt = Backtest(cfg, assets=["eth", "BTC"])
    assert bt.assets == ("ETH", "BTC")
    assert bt.capital == {"ETH": 35_000.0, "BTC": 35_000.0}
    assert all(d.risk.capital == 35_000.0 for d in bt.desks.values())
    five = Backtest(cfg)
    assert set(five.capital.values()) == {cfg.portfolio.capital_usd / 5}
    with pytest.raises(c.ConfigError):
        select_assets(cfg, ["DOGE"])


def test_latency_delays_the_wire_but_the_books_still_balance():
    cfg = formula_market(c.load(ROOT / "config.toml"))  # the config's fixed 20/20/10 ms
    rep = build_report(run_backtest(cfg, duration_s=60, assets=["BTC", "SOL"]))
    assert rep["latency"] == {"profile": "fixed", "order_ms": 20.0, "ack_ms": 20.0, "feed_ms": 10.0}
    assert rep["total"]["fills"] > 0
    assert abs(rep["total"]["accounting_diff"]) < 0.005
    zero = build_report(run_backtest(zero_latency(cfg), duration_s=60, assets=["BTC", "SOL"]))
    actions = [(r["total"]["orders_sent"], r["total"]["cancels_sent"]) for r in (zero, rep)]
    assert actions[0] != actions[1]  # latency changes what happens


def test_random_latency_profile_is_deterministic_too():
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["sim"]["latency_profile"] = "hyperliquid"
    cfg = c.from_dict(raw)
    one, two = (build_report(run_backtest(cfg, duration_s=40, assets=["ETH"])) for _ in range(2))
    assert one == two
    assert one["latency"]["profile"] == "hyperliquid" and one["total"]["fills"] > 0
    assert abs(one["total"]["accounting_diff"]) < 0.005


def test_funding_and_unknown_venue_events_are_handled(cfg, monkeypatch):
    class Novel(msgspec.Struct, frozen=True):
        asset: str
        ts: float

    real = SimExchange.advance

    def advance(self, ts):
        out = real(self, ts)
        if abs(ts - 30.0) < 1e-9:
            out = [*out, Funding("BTC", ts, 1e-5, 0.01, -0.25), Novel("BTC", ts), Novel("NOPE", ts)]
        return out

    monkeypatch.setattr(SimExchange, "advance", advance)
    rep = build_report(run_backtest(cfg, duration_s=40, assets=["BTC"]))
    m = rep["per_asset"]["BTC"]
    assert m["funding"] == -0.25 and m["funding_events"] == 1
    assert m["other_venue_events"] == {"Novel": 1}
    assert m["spread_capture"] - m["fees"] + m["funding"] + m["inventory_pnl"] == pytest.approx(m["net_pnl"])


def test_report_renders_as_table_json_and_plot(cfg, tmp_path):
    res = run_backtest(cfg, duration_s=20, assets=["ETH"])
    rep = build_report(res)
    to_json(rep, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["per_asset"]["ETH"]["net_pnl"] == rep["per_asset"]["ETH"]["net_pnl"]
    from rich.console import Console

    console = Console(width=140, record=True, file=open("/dev/null", "w"))
    console.print(render_table(rep))
    assert "spread capture" in console.export_text()
    plot(res, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_grid_overrides_every_asset():
    grid = sweep.parse_grid(["quoting.gamma=0.02,0.1", "sim.latency_profile=zero", "assets.BTC.quoting.levels=2"])
    assert grid == [("quoting.gamma", [0.02, 0.1]), ("sim.latency_profile", ["zero"]),
                    ("assets.BTC.quoting.levels", [2])]
    combos = sweep.combinations(grid)
    assert len(combos) == 2
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["assets"]["BTC"]["quoting"] = {"level_size_mult": [1.0, 2.0]}
    built = sweep.build_config(raw, combos[1])
    assert {a.quoting.gamma for a in built.assets.values()} == {0.1}  # HYPE's own 0.08 too
    assert built.assets["BTC"].quoting.levels == 2
    with pytest.raises(ValueError):
        sweep.parse_grid(["quoting.gamma"])


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_as_paper_json_has_exactly_the_contract_keys(tmp_path):
    out = tmp_path / "as.json"
    p = _cli("--scenario", "as-paper", "--strategy", "inventory", "--gamma", "0.1", "--paths", "300",
             "--seed", "5", "--json", str(out))
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_text())
    assert set(doc) == {"profit_mean", "profit_std", "final_q_mean", "final_q_std", "spread_mean"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in doc.values())
    from backtest.as_paper import run_as_paper

    assert doc == run_as_paper("inventory", 0.1, 300, 5)


def test_cli_sim_backtest_writes_report_and_sweep_writes_rows(tmp_path):
    p = _cli("--assets", "BTC", "--duration", "30", "--seed", "3", "--json", str(tmp_path / "bt.json"))
    assert p.returncode == 0, p.stderr
    rep = json.loads((tmp_path / "bt.json").read_text())
    assert rep["assets"] == ["BTC"] and rep["seed"] == 3 and rep["duration_s"] == 30
    assert abs(rep["per_asset"]["BTC"]["accounting_diff"]) < 0.005
    p = _cli("--sweep", "--grid", "quoting.gamma=0.02,0.1", "--assets", "SOL", "--duration", "20",
             "--workers", "2", "--out", str(tmp_path / "s.jsonl"))
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["quoting.gamma"] for r in rows] == [0.02, 0.1]
    assert "sweep: 2/2 runs (100%)" in p.stderr
    assert all(set(sweep.HEADLINE) <= set(r) for r in rows)
    assert _cli("--sweep").returncode == 2
    assert _cli("--assets", "DOGE", "--duration", "5").returncode == 2
