"""The loaded side stops once the inventory's 3-sigma 5-minute move would cost more than
``quoting.inventory_risk_pct`` of the capital: a cap that shrinks as the market runs."""
from __future__ import annotations

import math

import msgspec

import config
from messages.market import MarketState
from messages.risk import RiskState
from strategy.quoter import QuoterCore


def _state(sigma_bp: float) -> MarketState:
    return MarketState(asset="ETH", ts=100.0, seq=1, mid=3000.0, microprice=3000.0, best_bid=2999.9,
                       best_ask=3000.1, spread_bp=0.67, imbalance=0.0, sigma_bp=sigma_bp, regime="NORMAL")


def _risk(position: float) -> RiskState:
    return RiskState(asset="ETH", ts=100.0, position=position, avg_entry=3000.0, mid=3000.0, realized_pnl=0.0,
                     unrealized_pnl=0.0, fees=0.0, capital=20_000.0, limit_usd=5_000.0)


def _quoter(pct: float) -> QuoterCore:
    q = config.load("config.toml").assets["ETH"].quoting
    q = msgspec.structs.replace(q, model="as", fee_aware=False, inventory_risk_pct=pct,
                                position_cap_lots=0.0,  # the volatility cap alone (the lot cap stops sooner)
                                tape_edge=msgspec.structs.replace(q.tape_edge, enabled=False))
    return QuoterCore("ETH", q, 4)


def test_a_long_inventory_past_its_volatility_cap_stops_the_bids_only():
    # 0.05% of $20k = $10; at 1 bp/sqrt(s) a 3-sigma 5-minute move is 52 bp: cap about $1,925
    cap = 0.0005 * 20_000 / (3 * 1.0 * math.sqrt(300) / 1e4)
    long = _quoter(0.0005).quote(_state(1.0), _risk((cap + 100) / 3000.0), 100.0)
    assert long.bids == () and long.asks
    assert "volatility cap" in long.note
    short = _quoter(0.0005).quote(_state(1.0), _risk(-(cap + 100) / 3000.0), 100.0)
    assert short.asks == () and short.bids


def test_the_same_inventory_quotes_both_sides_in_a_quiet_market_but_not_in_a_wild_one():
    position = 1_000 / 3000.0  # $1,000 long
    quiet = _quoter(0.0005).quote(_state(1.0), _risk(position), 100.0)
    wild = _quoter(0.0005).quote(_state(3.0), _risk(position), 100.0)
    assert quiet.bids and quiet.asks
    assert wild.bids == () and wild.asks


def test_off_by_zero_and_refused_out_of_range():
    position = 1_000 / 3000.0  # past the cap at 5 bp/sqrt(s) (about $385)
    assert _quoter(0.0005).quote(_state(5.0), _risk(position), 100.0).bids == ()
    assert _quoter(0.0).quote(_state(5.0), _risk(position), 100.0).bids
    import tomllib
    from pathlib import Path

    import pytest

    raw = tomllib.loads(Path("config.toml").read_text())
    raw["quoting"]["inventory_risk_pct"] = math.nan
    with pytest.raises(config.ConfigError, match="inventory_risk_pct"):
        config.from_dict(raw)
