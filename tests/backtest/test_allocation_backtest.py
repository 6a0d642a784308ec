"""The allocator in the backtester: the same cores on the event clock, deterministic and fast."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backtest.allocation import AllocationBacktest, compare, with_allocation
from backtest.engine import select_assets
from config.scenarios import allocation_set, allocation_timing, toxic
from tests.hive_helpers import ROOT, sim_config

# min_t_stat 0: reaction speed on 20 s periods, as recorded before allocation needed evidence
# (tests/test_allocation_evidence.py holds the evidence rule)
TIMING = dict(period_s=20.0, window_s=180.0, sample_s=4.0, report_s=8.0, min_history_s=60.0, min_t_stat=0.0)
ASSETS = ("BTC", "SOL", "HYPE")


def scenario():
    # the allocator is under test: pinned to the formula market and the quoter without the stack
    cfg = select_assets(allocation_timing(sim_config(legacy_quoting=True, sim={"market_model": "formula"}), **TIMING),
                        ASSETS)
    return toxic(cfg, "SOL", 100.0, 340.0)


@pytest.fixture(scope="module")
def runs():
    cfg = scenario()
    out = {}
    for enabled in (True, False):
        bt = AllocationBacktest(with_allocation(cfg, enabled), seed=7)
        out[enabled] = (bt, bt.run(420.0))
    return out


def test_the_toxic_asset_loses_capital_within_eight_periods_and_it_goes_to_the_others(runs):
    bt, result = runs[True]
    share = 100_000.0 / 3
    sol = bt.capital_series["SOL"]  # one sample per simulated second
    by = int(100 + 8 * TIMING["period_s"])
    assert min(sol[:by + 1]) <= 0.6 * share
    others = [bt.capital_series["BTC"][i] + bt.capital_series["HYPE"][i] for i in range(len(sol))]
    i = sol.index(min(sol[:by + 1]))
    assert others[i] > 2 * share
    assert all(sum(bt.capital_series[a][k] for a in ASSETS) <= 100_000.0 + 1e-6 for k in range(len(sol)))
    meta = result.meta["allocation"]["SOL"]
    assert meta["capital_min"] <= 0.6 * share and meta["reallocations"] >= 5


def test_static_allocation_keeps_equal_shares_and_the_supervisor_loses_less(runs):
    bt, static = runs[False]
    assert all(c == pytest.approx(100_000.0 / 3) for a in ASSETS for c in bt.capital_series[a])
    from backtest.report import build_report

    sup = build_report(runs[True][1])["per_asset"]["SOL"]["net_pnl"]
    base = build_report(static)["per_asset"]["SOL"]["net_pnl"]
    assert base < 0 and sup > base  # the toxic market cost the supervised book less


def test_same_config_and_seed_give_the_same_allocations(runs):
    bt, result = runs[True]
    again = AllocationBacktest(with_allocation(scenario(), True), seed=7)
    result2 = again.run(420.0)
    assert again.capital_series == bt.capital_series and again.events == bt.events
    assert result2.meta == result.meta


def test_compare_reports_both_modes_side_by_side():
    cfg = select_assets(sim_config(sim={"market_model": "formula"}), ("BTC", "ETH"))
    out = compare({"calm": cfg}, duration_s=60.0, workers=1)
    for mode in ("static", "supervisor"):
        assert {"net_pnl", "sharpe", "max_drawdown"} <= set(out["calm"][mode])
    assert set(out["total"]) == {"static", "supervisor"}


def test_the_scenario_set_has_five_assets_and_one_calm_market():
    sets = allocation_set(sim_config(sim={"market_model": "formula"}))
    assert len(sets) >= 3 and "no toxic episode" in sets
    for cfg in sets.values():
        assert cfg.portfolio.assets == ("BTC", "ETH", "SOL", "XRP", "HYPE")


def test_compare_allocation_command_line(tmp_path):
    out = tmp_path / "cmp.json"
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", "--compare-allocation", "--duration",
                           "30", "--workers", "2", "--json", str(out), "--config", str(ROOT / "config.toml")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["duration_s"] == 30.0 and "total" in data["scenarios"]
    assert "static" in proc.stdout and "supervisor" in proc.stdout


# the default evidence rule (min_t_stat 2), blocks scaled to the short window
EVIDENCE = {**TIMING, "min_t_stat": 2.0, "evidence_block_s": 18.0}


def net_pnl_both_ways(cfg, seed: int) -> tuple[AllocationBacktest, float, float]:
    from backtest.report import build_report

    sup = AllocationBacktest(with_allocation(cfg, True), seed=seed)
    pnl_sup = build_report(sup.run(420.0))["total"]["net_pnl"]
    pnl_static = build_report(AllocationBacktest(with_allocation(cfg, False), seed=seed).run(420.0))["total"]["net_pnl"]
    return sup, pnl_sup, pnl_static


def evidence_scenario():
    return select_assets(allocation_timing(sim_config(legacy_quoting=True, sim={"market_model": "formula"}),
                                           **EVIDENCE), ASSETS)


@pytest.mark.parametrize("seed", [7, 2])
def test_without_a_toxic_market_the_supervisor_earns_what_equal_shares_earn(seed):
    _, sup, static = net_pnl_both_ways(evidence_scenario(), seed)
    assert sup >= static - 1.0  # $1 on a portfolio earning -5..+14 in these 7 minutes


@pytest.mark.parametrize("seed", [7, 2])
def test_with_a_toxic_market_the_supervisor_cuts_it_and_loses_less(seed):
    bt, sup, static = net_pnl_both_ways(toxic(evidence_scenario(), "SOL", 100.0, 340.0), seed)
    assert min(bt.capital_series["SOL"]) < 0.6 * 100_000.0 / 3
    assert sup > static + 5.0
