"""Holding inventory costs something in the edge check (``tape_edge.hold_horizon_s``), and
a position cap in L1 lots (``position_cap_lots``): strategy/hold_value.py and the quoter."""
from __future__ import annotations

import math
import tomllib
from pathlib import Path

import msgspec
import pytest

import config
from messages.market import MarketState
from messages.risk import RiskState
from strategy import hold_value
from strategy.quoter import QuoterCore

LOT = 150.0 / 3000.0  # an L1 lot of ETH at 3000


def _state(bid_tails: tuple[float, ...], ask_tails: tuple[float, ...], sigma_bp: float = 1.0) -> MarketState:
    return MarketState(asset="ETH", ts=100.0, seq=1, mid=3000.0, microprice=3000.0, best_bid=2999.9,
                       best_ask=3000.1, spread_bp=0.67, imbalance=0.0, sigma_bp=sigma_bp, regime="NORMAL",
                       tape_drift_bid=bid_tails, tape_drift_ask=ask_tails, tape_bin_bp=0.5)


def _risk(lots: float) -> RiskState:
    return RiskState(asset="ETH", ts=100.0, position=lots * LOT, avg_entry=3000.0, mid=3000.0, realized_pnl=0.0,
                     unrealized_pnl=0.0, fees=0.0, capital=1_000_000.0, limit_usd=1_000_000.0)


def _quoter(levels: int = 1, cap_lots: float = 0.0, **tape: object) -> QuoterCore:
    q = config.load("config.toml").assets["ETH"].quoting
    # A-S with a negligible horizon: the reservation price barely moves with inventory, as
    # with the default GLFT's damped skew, so only the holding cost can credit an unwind
    # and levels of 1, 2 and 4 lots, which the tests below count on
    q = msgspec.structs.replace(q, model="as", horizon_s=1e-6, fee_aware=True, min_spread_bp=8.0, levels=levels,
                                level_size_mult=(1.0, 2.0, 4.0),
                                inventory_risk_pct=0.0, position_cap_lots=cap_lots,
                                tape_edge=msgspec.structs.replace(q.tape_edge, enabled=True, **tape))
    return QuoterCore("ETH", q, 4)


def test_the_saving_is_the_change_in_the_quadratic_holding_cost_per_lot_filled():
    c = 2.0
    # long 3 lots, sell 1: cost c/2*(9 - 4) = 2.5c saved, per lot filled
    assert math.isclose(hold_value.saving_bp("A", 3.0, 1.0, c), 2.5 * c)
    assert math.isclose(hold_value.saving_bp("B", -3.0, 1.0, c), 2.5 * c)  # the mirror
    assert hold_value.saving_bp("B", 3.0, 1.0, c) == 0.0  # adding is not charged here
    assert hold_value.saving_bp("A", 0.0, 1.0, c) == 0.0  # from flat a fill only adds
    assert hold_value.saving_bp("A", 0.5, 1.0, c) == 0.0  # 0.5 long to 0.5 short: no saving
    assert math.isclose(hold_value.saving_bp("A", 1.0, 4.0, c), 0.0)  # 1 long to 3 short: worse, clamped
    assert hold_value.saving_bp("A", math.nan, 1.0, c) == 0.0
    assert math.isclose(hold_value.hold_cost_bp(0.05, 2.0, 60.0), 0.05 * 4.0 * 60.0)
    assert hold_value.hold_cost_bp(0.05, math.nan, 60.0) == 0.0


def test_a_stuck_position_is_unwound_once_its_risk_pays_for_the_tapes_move():
    # the tape says no depth pays on either side: 4 bp out, 1.5 bp fee, 6 bp adverse move -> -3.5 bp
    m = _state((-6.0,), (-6.0,))
    off = _quoter()
    assert off.quote(m, _risk(3.0), 100.0).asks == ()  # the position is stuck
    on = _quoter(hold_horizon_s=60.0)  # c = 0.05 * 1 * 60 = 3 bp a lot
    ladder = on.quote(m, _risk(3.0), 100.0)  # selling a lot saves 2.5 lots * 3 bp = 7.5 bp
    assert len(ladder.asks) == 1 and ladder.bids == ()  # the reducing side only
    assert on.quote(m, _risk(1.0), 100.0).asks == ()  # one lot: saves 1.5 bp, not enough
    assert on.quote(_state((-6.0,), (-6.0,), sigma_bp=2.0), _risk(1.0), 100.0).asks  # ... unless it is wilder
    short = on.quote(m, _risk(-3.0), 100.0)
    assert len(short.bids) == 1 and short.asks == ()


def test_each_level_is_credited_with_the_position_left_by_the_levels_inside_it():
    m = _state((-6.0,), (-6.0,))
    # sizes 1, 2, 4 lots; long 4 lots: L1 saves c*3.5 = 10.5, L2 (from 3) c*2 = 6, L3 (from 1) nothing
    ladder = _quoter(levels=3, hold_horizon_s=60.0).quote(m, _risk(4.0), 100.0)
    assert [lv.level for lv in ladder.asks] == [0, 1]


def test_the_position_cap_trims_the_adding_side_only():
    m = _state((0.0,), (0.0,))  # every level pays
    flat = _quoter(levels=3, cap_lots=3.0).quote(m, _risk(0.0), 100.0)
    assert [lv.level for lv in flat.bids] == [0, 1] and [lv.level for lv in flat.asks] == [0, 1]  # 1 + 2 lots
    long = _quoter(levels=3, cap_lots=3.0).quote(m, _risk(2.5), 100.0)
    assert long.bids == ()  # 2.5 + 1 > 3
    assert [lv.level for lv in long.asks] == [0, 1]  # 2.5 -> 1.5 -> -0.5; the 4-lot L3 would go to -4.5
    assert "position cap" in long.note
    over = _quoter(levels=3, cap_lots=3.0).quote(m, _risk(10.0), 100.0)
    assert [lv.level for lv in over.asks] == [0, 1, 2]  # past the cap: reducing is always allowed
    assert len(_quoter(levels=3).quote(m, _risk(2.5), 100.0).bids) == 3  # off


@pytest.mark.parametrize("key,value", [("position_cap_lots", -1.0), ("position_cap_lots", math.nan),
                                       ("tape_edge.hold_horizon_s", -5.0), ("tape_edge.hold_horizon_s", math.inf)])
def test_out_of_range_values_are_refused(key: str, value: float):
    raw = tomllib.loads(Path("config.toml").read_text())
    node = raw["quoting"]
    *head, last = key.split(".")
    for part in head:
        node = node[part]
    node[last] = value
    with pytest.raises(config.ConfigError):
        config.from_dict(raw)


def test_the_added_cost_mirrors_the_saving():
    c = 2.0
    assert math.isclose(hold_value.added_cost_bp("B", 3.0, 1.0, c), 3.5 * c)  # long 3 to 4: c/2*(16-9)
    assert math.isclose(hold_value.added_cost_bp("A", -3.0, 1.0, c), 3.5 * c)
    assert math.isclose(hold_value.added_cost_bp("B", 0.0, 1.0, c), 0.5 * c)  # from flat
    assert hold_value.added_cost_bp("A", 3.0, 1.0, c) == 0.0  # reducing adds nothing
    assert hold_value.added_cost_bp("B", math.nan, 1.0, c) == 0.0


def test_a_growing_position_must_pay_for_its_risk_out_of_the_tapes_edge():
    m = _state((0.0,), (0.0,))  # 4 bp out, 1.5 bp fee, no adverse move: +2.5 bp each side
    off = _quoter()
    assert off.quote(m, _risk(3.0), 100.0).bids  # no charge: the long keeps growing
    on = _quoter(add_horizon_s=10.0)  # c = 0.05 * 1 * 10 = 0.5 bp a lot
    assert on.quote(m, _risk(0.0), 100.0).bids  # flat: 0.25 bp charged, still pays
    long = on.quote(m, _risk(6.0), 100.0)  # 6 to 7 lots: 3.25 bp > 2.5
    assert long.bids == () and long.asks
    assert on.quote(m, _risk(-6.0), 100.0).bids  # the same bid reduces a short: no charge
