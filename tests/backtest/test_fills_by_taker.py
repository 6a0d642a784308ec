"""The backtest report's breakdown of our fills by the taker that made them, on the
order-book market: which flow a quote earns from and which picks it off."""
from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

import config as config_mod
from backtest.engine import run_backtest
from backtest.report import build_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result():
    cfg = config_mod.load(ROOT / "config.toml")
    cfg = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, latency_profile="hyperliquid"))
    return cfg, run_backtest(cfg, duration_s=400.0, seed=2)


def test_every_fill_on_the_order_book_market_names_its_taker(result):
    _, res = result
    fills = [f for r in res.records.values() for f in r.fills]
    assert len(fills) > 30
    assert {f.taker for f in fills} <= {"uninformed", "informed", "arbitrage"}
    assert all(f.taker for f in fills)
    total = build_report(res)["total"]["fills_by_taker"]
    assert sum(v["fills"] for v in total.values()) == len(fills)
    assert {"uninformed", "arbitrage"} <= set(total)


def test_arbitrageurs_only_take_quotes_left_past_their_edge(result):
    """Latency arbitrage takes what rests more than arb_edge_bp through the fair price: each
    of our fills it made lost at least that much against the fair price at the fill."""
    cfg, res = result
    arb = [(a, f) for a, r in res.records.items() for f in r.fills if f.taker == "arbitrage"]
    assert arb
    for a, f in arb:
        capture_bp = ((f.mid - f.px) if f.side == "B" else (f.px - f.mid)) / f.mid * 1e4
        assert capture_bp <= -cfg.assets[a].market.arb_edge_bp + 1e-6
