"""Past the hard limit (strategy/unwind.py): the risk core says how far, the quoter joins the
touch on the reducing side for the excess whatever its edge, and past the emergency level
the order role sends one reduce-only IOC at a time that takes the position back to the limit."""
from __future__ import annotations

import math

import msgspec
import pytest

import config
from config import RiskConfig
from exchange_rules import ticks as rules
from messages.market import MarketState
from messages.orders import Fill, OrderAck, OrderReject, QuoteLadder, QuoteLevel
from messages.risk import RiskState
from strategy import unwind
from strategy.order_role import Command, OrderRole
from strategy.order_tracker import OrderTracker
from strategy.quoter import QuoterCore
from strategy.risk import RiskCore

T0 = 1_700_006_400.0


# -- the pure decisions ---------------------------------------------------------------------
def test_excess_starts_past_the_threshold_and_counts_from_the_limit():
    assert unwind.excess_usd(10.0, 100.0, 1000.0, 1.0) == 0.0  # exactly at the limit
    assert unwind.excess_usd(12.0, 100.0, 1000.0, 1.0) == pytest.approx(200.0)
    assert unwind.excess_usd(-12.0, 100.0, 1000.0, 1.5) == 0.0  # past the limit, not past 1.5x
    assert unwind.excess_usd(-16.0, 100.0, 1000.0, 1.5) == pytest.approx(600.0)
    assert unwind.excess_usd(1.0, 100.0, 0.0, 1.0) == pytest.approx(100.0)  # no limit: all of it
    for bad in (math.nan, math.inf):
        assert unwind.excess_usd(bad, 100.0, 1000.0, 1.0) == 0.0
        assert unwind.excess_usd(12.0, bad, 1000.0, 1.0) == 0.0
        assert unwind.excess_usd(12.0, 100.0, bad, 1.0) == 0.0


def test_join_touch_moves_the_first_level_up_to_the_touch_and_keeps_the_rest():
    lv = (QuoteLevel("A", 0, 101.0, 1.0), QuoteLevel("A", 1, 102.0, 1.0))
    out = unwind.join_touch("A", lv, 99.9, 100.1, 3.0)
    assert out[0] == QuoteLevel("A", 0, 100.1, 3.0) and out[1:] == lv[1:]
    inside = (QuoteLevel("B", 0, 99.95, 5.0),)  # already better than the touch: keeps its price
    assert unwind.join_touch("B", inside, 99.9, 100.1, 3.0) == (QuoteLevel("B", 0, 99.95, 5.0),)
    assert unwind.join_touch("B", (), 99.9, 100.1, 3.0) == (QuoteLevel("B", 0, 99.9, 3.0),)


def test_the_ioc_reduces_toward_the_limit_within_the_slippage_on_the_price_grid():
    o = unwind.ioc_order("c1", 2.0, 3000.0, 1500.0, 30.0, 4)
    assert o is not None and o.side == "A" and o.tif == "Ioc" and o.reduce_only
    assert o.sz == pytest.approx(0.5)
    assert 3000.0 * (1 - 30e-4) <= o.px < 3000.0 and rules.is_valid_price_float(o.px, 4)
    short = unwind.ioc_order("c2", -2.0, 3000.0, 9000.0, 30.0, 4)  # more excess than position
    assert short is not None and short.side == "B" and short.sz == pytest.approx(2.0)
    assert 3000.0 < short.px <= 3000.0 * (1 + 30e-4)
    assert unwind.ioc_order("c3", 0.001, 3000.0, 3.0, 30.0, 4) is None  # under the $10 minimum


# -- the risk core --------------------------------------------------------------------------
def _loaded_risk(capital_after: float, **risk) -> RiskState:
    c = RiskCore("ETH", RiskConfig(**risk), 10_000.0, ts=T0)  # limit $2,500
    c.on_fill(Fill("ETH", "c", 1, 1, "B", 100.0, 20.0, 0.0, T0 + 1, 0.0), 20.0)  # $2,000 long
    c.mark(100.0, T0 + 2)
    c.set_capital(capital_after)
    return c.state(T0 + 3)


def test_a_cut_of_capital_under_the_position_asks_for_an_unwind_and_past_1_5x_an_ioc():
    s = _loaded_risk(10_000.0)
    assert (s.unwind_usd, s.emergency_usd) == (0.0, 0.0)  # within the limit
    s = _loaded_risk(6_000.0)  # limit $1,500: 1.33x
    assert s.unwind_usd == pytest.approx(500.0) and s.emergency_usd == 0.0
    s = _loaded_risk(4_000.0)  # limit $1,000: 2x
    assert s.unwind_usd == pytest.approx(1000.0) and s.emergency_usd == pytest.approx(1000.0)
    assert _loaded_risk(4_000.0, emergency_ioc=False).emergency_usd == 0.0


def test_a_halted_asset_unwinds_nothing():
    c = RiskCore("ETH", RiskConfig(), 10_000.0, ts=T0)
    c.on_fill(Fill("ETH", "c", 1, 1, "B", 100.0, 20.0, 0.0, T0 + 1, 0.0), 20.0)
    c.mark(100.0, T0 + 2)
    c.set_capital(4_000.0)
    c.portfolio_halt = "portfolio drawdown stop"
    s = c.state(T0 + 3)
    assert s.halted and (s.unwind_usd, s.emergency_usd) == (0.0, 0.0)


# -- the quoter -----------------------------------------------------------------------------
def _market() -> MarketState:
    return MarketState(asset="ETH", ts=100.0, seq=1, mid=3000.0, microprice=3000.0, best_bid=2999.9,
                       best_ask=3000.1, spread_bp=0.67, imbalance=0.0, sigma_bp=1.0, regime="NORMAL",
                       tape_drift_bid=(-30.0,), tape_drift_ask=(-30.0,), tape_bin_bp=0.5)


def _risk(position: float, unwind_usd: float = 0.0, limit_usd: float = 500.0, **kw) -> RiskState:
    return RiskState(asset="ETH", ts=100.0, position=position, avg_entry=3000.0, mid=3000.0, realized_pnl=0.0,
                     unrealized_pnl=0.0, fees=0.0, capital=1000.0, limit_usd=limit_usd, unwind_usd=unwind_usd, **kw)


def _quoter() -> QuoterCore:
    q = config.load("config.toml").assets["ETH"].quoting
    q = msgspec.structs.replace(q, model="as", fee_aware=True, min_spread_bp=8.0, levels=1,
                                tape_edge=msgspec.structs.replace(q.tape_edge, enabled=True))
    return QuoterCore("ETH", q, 4)


def test_past_the_limit_the_reducing_side_joins_the_touch_though_no_level_pays():
    q = _quoter()
    plain = q.quote(_market(), _risk(0.3), 100.0)
    assert plain.asks == ()  # the tape's 30 bp against: no level pays
    long_ = q.quote(_market(), _risk(0.3, unwind_usd=400.0, allow_bid=False), 100.0)
    assert len(long_.asks) == 1 and long_.asks[0].px == 3000.1
    assert long_.asks[0].sz == pytest.approx(rules.round_size_float(400.0 / 3000.0, 4, "up"))
    assert long_.bids == () and "past the position limit" in long_.note
    short = q.quote(_market(), _risk(-0.3, unwind_usd=400.0, allow_ask=False), 100.0)
    assert len(short.bids) == 1 and short.bids[0].px == 2999.9 and short.asks == ()
    halted = q.quote(_market(), _risk(0.3, unwind_usd=400.0, halted=True), 100.0)
    assert halted.asks == () and halted.bids == ()


# -- the order role -------------------------------------------------------------------------
def _role(position: float) -> OrderRole:
    t = OrderTracker("ETH", 1, 1, 4, 0.5)
    t.position = position
    return OrderRole(t, 100.0, risk_params=RiskConfig(emergency_cooldown_s=2.0, emergency_slippage_bp=30.0))


def _iocs(out) -> list:
    return [o for _, cmd in out if isinstance(cmd, Command) for o in cmd.places if o.tif == "Ioc"]


def test_past_the_emergency_level_one_ioc_goes_at_a_time_and_not_within_the_cooldown():
    role = _role(1.0)  # $3,000 long against a $1,000 limit
    risk = _risk(1.0, unwind_usd=2000.0, emergency_usd=2000.0, limit_usd=1000.0)
    out = role.handle(risk)
    first = _iocs(out)
    assert len(first) == 1
    notes = [m for to, m in out if to == "log"]
    assert [n.kind for n in notes] == ["unwind"] and "reduce-only IOC sell" in notes[0].text
    o = first[0]
    assert o.side == "A" and o.reduce_only and o.sz == pytest.approx(0.6667)
    assert o.cloid not in role.tracker.live  # it never rests
    later = msgspec.structs.replace(risk, ts=105.0)
    assert _iocs(role.handle(later)) == []  # still in flight
    role.handle(OrderAck("ETH", o.cloid, 7, 100.05))
    role.handle(Fill("ETH", o.cloid, 7, 11, "A", 2995.0, 0.6667, 0.9, 100.05, 0.0))
    assert role.tracker.position == pytest.approx(0.3333)
    assert _iocs(role.handle(msgspec.structs.replace(risk, ts=101.0))) == []  # within the cooldown
    # risk now says $1,000 excess, the tracker's own position only $0 past the limit: nothing
    assert _iocs(role.handle(msgspec.structs.replace(risk, ts=103.0, emergency_usd=1000.0))) == []


def test_a_refused_ioc_frees_the_way_for_the_next_after_the_cooldown():
    role = _role(-1.0)
    risk = _risk(-1.0, unwind_usd=2000.0, emergency_usd=2000.0, limit_usd=1000.0)
    (o,) = _iocs(role.handle(risk))
    assert o.side == "B"
    role.handle(OrderReject("ETH", o.cloid, "Order could not immediately match against any resting orders.", 100.05))
    assert _iocs(role.handle(msgspec.structs.replace(risk, ts=101.0))) == []
    assert len(_iocs(role.handle(msgspec.structs.replace(risk, ts=102.5)))) == 1


def test_an_unanswered_ioc_is_given_up_after_its_timeout():
    role = _role(1.0)
    risk = _risk(1.0, unwind_usd=2000.0, emergency_usd=2000.0, limit_usd=1000.0)
    assert len(_iocs(role.handle(risk))) == 1
    assert _iocs(role.handle(msgspec.structs.replace(risk, ts=120.0))) == []
    assert len(_iocs(role.handle(msgspec.structs.replace(risk, ts=131.0)))) == 1


def test_no_ioc_while_halted_or_without_emergency():
    role = _role(1.0)
    calm = _risk(1.0, unwind_usd=2000.0, limit_usd=1000.0)
    assert _iocs(role.handle(calm)) == []
    halted = _risk(1.0, unwind_usd=0.0, emergency_usd=0.0, limit_usd=1000.0, halted=True)
    assert _iocs(role.handle(halted)) == []


# -- reduce-only ----------------------------------------------------------------------------
def test_within_position_cuts_the_reducing_side_to_what_closes_the_position():
    lv = (QuoteLevel("A", 0, 3000.0, 0.02), QuoteLevel("A", 1, 3001.0, 0.02), QuoteLevel("A", 2, 3002.0, 0.02))
    assert unwind.within_position(lv, 0.05, 4) == lv[:2] + (QuoteLevel("A", 2, 3002.0, 0.01),)
    assert unwind.within_position(lv, 0.041, 4) == lv[:2]  # 0.001 left: under the $10 minimum
    assert unwind.within_position(lv, -0.02, 4) == lv[:1]


def test_risk_turns_reduce_only_past_its_threshold():
    def state(units: float) -> RiskState:
        c = RiskCore("ETH", RiskConfig(), 10_000.0, ts=T0)  # limit $2,500; reduce-only past 0.9
        c.on_fill(Fill("ETH", "c", 1, 1, "B" if units > 0 else "A", 100.0, abs(units), 0.0, T0 + 1, 0.0), units)
        c.mark(100.0, T0 + 2)
        return c.state(T0 + 3)

    assert not state(21.0).reduce_only and state(23.0).reduce_only and state(-23.0).reduce_only


def test_reduce_only_quotes_no_more_than_closes_the_position():
    q = config.load("config.toml").assets["ETH"].quoting
    q = msgspec.structs.replace(q, model="as", fee_aware=False, levels=3, tape_edge=msgspec.structs.replace(
        q.tape_edge, enabled=False), inventory_risk_pct=0.0, toxicity=msgspec.structs.replace(q.toxicity, enabled=False))
    quoter = QuoterCore("ETH", q, 4)
    free = quoter.quote(_market(), _risk(0.03, limit_usd=100_000.0), 100.0)
    assert sum(lv.sz for lv in free.asks) > 0.03 and free.bids  # plenty either way
    ladder = quoter.quote(_market(), _risk(0.03, limit_usd=100_000.0, reduce_only=True), 100.0)
    assert ladder.bids == () and ladder.asks
    assert sum(lv.sz for lv in ladder.asks) <= 0.03 + 1e-12


def test_while_the_ioc_is_in_flight_no_new_quote_on_the_reducing_side_goes_out():
    role = _role(1.0)
    risk = _risk(1.0, unwind_usd=2000.0, emergency_usd=2000.0, limit_usd=1000.0)
    role.handle(risk)  # the IOC
    ladder = QuoteLadder("ETH", 100.1, 2, bids=(QuoteLevel("B", 0, 2999.0, 0.01),),
                         asks=(QuoteLevel("A", 0, 3000.1, 0.6667),))
    out = role.handle(ladder)
    placed = [o for _, cmd in out if isinstance(cmd, Command) for o in cmd.places]
    assert placed == []  # the ask waits for the IOC's answer (and a bid would add past the limit)
    assert role.tracker.live == {}  # nothing phantom left behind
    (cloid,) = role.tracker.ioc_inflight
    role.handle(OrderReject("ETH", cloid, "Order could not immediately match against any resting orders.", 100.2))
    out = role.handle(msgspec.structs.replace(ladder, ts=100.3))
    assert [o.side for _, cmd in out if isinstance(cmd, Command) for o in cmd.places] == ["A"]


def test_before_risk_has_a_mark_the_ioc_is_priced_from_the_last_ladder():
    role = _role(1.0)
    unmarked = msgspec.structs.replace(_risk(1.0, unwind_usd=2000.0, emergency_usd=2000.0, limit_usd=1000.0), mid=0.0)
    assert _iocs(role.handle(unmarked)) == []  # no price to cap it with yet
    ladder = QuoteLadder("ETH", 100.1, 2, bids=(), asks=(QuoteLevel("A", 0, 3000.1, 0.01),), reservation=3000.0)
    (o,) = _iocs(role.handle(ladder))
    assert o.side == "A" and 3000.0 * (1 - 30e-4) <= o.px < 3000.0


def test_reduce_only_at_the_order_layer_never_rests_more_than_closes_the_position():
    from strategy.order_diff import LiveOrder

    t = OrderTracker("ETH", 1, 1, 4, 0.5)
    t.position = 0.05
    t.live["old"] = LiveOrder(cloid="old", side="A", level=1, px=3002.0, sz=0.04, state="resting")
    ladder = QuoteLadder("ETH", 100.0, 1, bids=(), asks=(QuoteLevel("A", 0, 3000.1, 0.04),))
    cancels, places = t.plan(ladder, 3000.0, 1000.0, reduce_only=True)
    resting = sum(o.sz for o in t.live.values() if o.state != "cancelling")
    assert resting <= 0.05 + 1e-12 and places  # the new level shrank or the old one went
    free = OrderTracker("ETH", 1, 1, 4, 0.5)
    free.position = 0.05
    _, more = free.plan(QuoteLadder("ETH", 100.0, 1, bids=(), asks=(QuoteLevel("A", 0, 3000.1, 0.08),)), 3000.0, 1000.0)
    assert sum(o.sz for o in more) == pytest.approx(0.08)  # without it, only the limit caps the side
