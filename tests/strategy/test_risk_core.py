"""RiskCore: average-cost PnL, inventory ladder, daily loss stop, reconciliation; fills reach it
as the order role forwards them (the one owner of dedupe and the position)."""
import math
import weakref

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import RiskConfig
from messages.orders import Fill
from strategy.order_tracker import OrderTracker
from strategy.risk import RiskCore

DAY = 86_400.0
T0 = 1_700_006_400.0  # 2023-11-15 00:00:00 UTC, a day boundary
_tid = iter(range(10**9))


def fill(side, px, sz, fee=0.0, ts=T0 + 100.0, tid=None):
    return Fill(asset="ETH", cloid="c", oid=1, tid=next(_tid) if tid is None else tid, side=side,
                px=px, sz=sz, fee=fee, ts=ts, remaining=0.0)


def core(capital=10_000.0, ts=T0, **risk):
    return RiskCore("ETH", RiskConfig(**risk), capital, ts=ts)


_owners: "weakref.WeakKeyDictionary[RiskCore, OrderTracker]" = weakref.WeakKeyDictionary()


def owner(c):
    """The order role's tracker in front of ``c``: the one owner of dedupe and the position."""
    return _owners.setdefault(c, OrderTracker("ETH", 1, 1, 6, 0.5))


def feed(c, f):
    """A live fill as it reaches risk: once, with the owner's position after it."""
    t = owner(c)
    return t.on_fill(f) and c.on_fill(f, t.position)


def feed_history(c, fills):
    """Venue history as it reaches risk: the new fills, with the owner's position after them."""
    t = owner(c)
    return c.on_fills([f for f in fills if t.on_fill(f)], t.position)


def test_average_cost_hand_worked():
    c = core()
    feed(c, fill("B", 100.0, 1.0, fee=0.015))
    feed(c, fill("B", 110.0, 1.0, fee=0.0165))
    assert c.position == 2.0 and c.avg_entry == 105.0
    feed(c, fill("A", 120.0, 1.5, fee=0.027))
    assert c.realized_pnl == pytest.approx(1.5 * 15.0)
    assert c.position == 0.5 and c.avg_entry == 105.0
    c.mark(100.0, T0 + 200)
    assert c.unrealized_pnl == pytest.approx(0.5 * (100.0 - 105.0))
    assert c.fees == pytest.approx(0.0585)
    assert c.net_pnl == pytest.approx(22.5 - 2.5 - 0.0585)
    assert (c.fills_buy, c.fills_sell) == (2, 1)
    assert c.volume_usd == pytest.approx(100 + 110 + 180)
    # |position| · fill px after each fill: 100, 220, 60
    assert c.max_abs_inventory_usd == pytest.approx(220.0)


def test_short_side_and_flip_through_zero():
    c = core()
    feed(c, fill("A", 50.0, 2.0))
    assert c.position == -2.0 and c.avg_entry == 50.0
    feed(c, fill("B", 40.0, 1.0))
    assert c.realized_pnl == pytest.approx(10.0) and c.position == -1.0 and c.avg_entry == 50.0
    # buy 3 more: 1 closes the short at +10, 2 open a long at 45
    feed(c, fill("B", 40.0, 0.5))
    feed(c, fill("B", 45.0, 2.5))
    assert c.realized_pnl == pytest.approx(10.0 + 5.0 + 2.5)
    assert c.position == 2.0 and c.avg_entry == 45.0
    feed(c, fill("A", 44.0, 2.0))
    assert c.position == 0.0 and c.avg_entry == 0.0
    assert c.realized_pnl == pytest.approx(17.5 - 2.0)


def test_a_float_residue_closes_flat():
    c = core()
    feed(c, fill("B", 10.0, 0.1))
    feed(c, fill("B", 10.0, 0.2))
    feed(c, fill("A", 11.0, 0.3))
    assert c.position == 0.0 and c.avg_entry == 0.0
    assert c.realized_pnl == pytest.approx(0.3)


def test_a_duplicated_fill_counts_once_in_position_and_pnl():
    c = core()
    f = fill("B", 100.0, 1.0, fee=0.5, tid=77)
    assert feed(c, f) is True
    before = c.state(T0 + 1)
    assert feed(c, f) is False
    assert feed(c, fill("A", 999.0, 5.0, fee=3.0, tid=77)) is False  # same tid, whatever else
    assert c.state(T0 + 1) == before
    assert feed_history(c, [f, fill("B", 101.0, 1.0, tid=78), fill("B", 101.0, 1.0, tid=78)]) == 1
    assert c.position == 2.0 and c.fills_buy == 2


def test_limit_is_the_smaller_of_cap_and_capital_share():
    c = core(capital=10_000.0, max_position_usd=5_000.0, max_position_pct=0.25)
    assert c.limit_usd == 2_500.0
    c.set_capital(40_000.0)
    assert c.limit_usd == 5_000.0
    s = c.state(T0)
    assert s.capital == 40_000.0 and s.limit_usd == 5_000.0


@pytest.mark.parametrize("units, side_mults, allow, reason", [
    (10.0, (1.0, 1.0), (True, True), ""),  # $1000 / $2500 = 40%
    (13.0, (1.5, 1.0), (True, True), ""),  # 52%: widen the bid
    (21.0, (1.5, 1.0), (False, True), ""),  # 84%: stop bidding
    (23.0, (1.5, 1.0), (False, True), "reduce-only"),  # 92%
    (-13.0, (1.0, 1.5), (True, True), ""),  # short: the ask is the loaded side
    (-21.0, (1.0, 1.5), (True, False), ""),
    (-23.0, (1.0, 1.5), (True, False), "reduce-only"),
])
def test_inventory_control_ladder(units, side_mults, allow, reason):
    c = core(capital=10_000.0)  # limit $2500; widen 0.5, stop 0.8, reduce-only 0.9
    feed(c, fill("B" if units > 0 else "A", 100.0, abs(units)))
    c.mark(100.0, T0 + 200)
    s = c.state(T0 + 200)
    assert (s.spread_mult_bid, s.spread_mult_ask) == side_mults
    assert (s.allow_bid, s.allow_ask) == allow
    assert s.halt_reason == reason
    assert s.halted is False
    assert (s.size_mult_bid, s.size_mult_ask) == (1.0, 1.0)


def test_state_carries_the_books():
    c = core(capital=10_000.0)
    feed(c, fill("B", 100.0, 2.0, fee=0.03))
    c.mark(101.0, T0 + 300)
    s = c.state(T0 + 301)
    assert (s.asset, s.ts, s.position, s.avg_entry, s.mid) == ("ETH", T0 + 301, 2.0, 100.0, 101.0)
    assert s.unrealized_pnl == pytest.approx(2.0) and s.fees == pytest.approx(0.03)
    assert s.net_pnl == pytest.approx(c.net_pnl)
    assert (s.fills_buy, s.fills_sell, s.volume_usd, s.max_abs_inventory_usd) == (1, 0, 200.0, 200.0)


def test_daily_loss_stop_latches_until_the_utc_day_rolls():
    c = core(capital=10_000.0, max_position_usd=50_000.0, max_position_pct=1.0)  # stop at −$500
    feed(c, fill("B", 100.0, 10.0, ts=T0 + 1000))
    c.mark(51.0, T0 + 1001)  # −$490
    assert c.state(T0 + 1001).halted is False
    c.mark(49.0, T0 + 1002)  # −$510
    s = c.state(T0 + 1002)
    assert s.halted is True and s.halt_reason == "daily loss stop"
    c.mark(100.0, T0 + 1003)  # recovered: still stopped for the day
    assert c.state(T0 + 1003).halted is True
    # next UTC day: the day starts from the PnL it inherits
    c.mark(60.0, T0 + DAY + 1)
    s = c.state(T0 + DAY + 1)
    assert s.halted is False and s.halt_reason == ""
    c.mark(12.0, T0 + DAY + 2)  # −$480 on the day (−$880 overall): still trading
    assert c.state(T0 + DAY + 2).halted is False
    c.mark(10.0, T0 + DAY + 3)  # exactly −$500 on the day: not below the stop
    assert c.state(T0 + DAY + 3).halted is False
    feed(c, fill("A", 10.0, 1.0, fee=0.02, ts=T0 + DAY + 4))
    assert c.state(T0 + DAY + 4).halted is True


def test_first_observation_starts_the_day():
    c = core(capital=10_000.0, ts=0.0)  # built with the default clock
    feed(c, fill("A", 100.0, 1.0, fee=600.0, ts=T0 + 5))  # a new day: starts at net 0
    assert c.state(T0 + 6).halted is True


def test_fees_alone_can_trip_the_stop_and_use_current_capital():
    c = core(capital=10_000.0)
    feed(c, fill("B", 100.0, 1.0, fee=400.0))
    c.mark(100.0, T0 + 200)
    assert c.state(T0 + 200).halted is False
    c.set_capital(7_000.0)  # the stop is now $350
    assert c.state(T0 + 201).halted is True


def test_replayed_history_from_earlier_days_does_not_count_today():
    yesterday = [fill("B", 100.0, 10.0, ts=T0 - 5000), fill("A", 40.0, 10.0, ts=T0 - 4000)]  # −$600
    restarted = core(capital=10_000.0, ts=T0 + 50)
    assert feed_history(restarted, yesterday) == 2
    restarted.mark(40.0, T0 + 60)
    s = restarted.state(T0 + 60)
    assert s.realized_pnl == pytest.approx(-600.0) and s.halted is False
    # the same losses made today do stop the asset, also after a restart
    today = [fill("B", 100.0, 10.0, ts=T0 + 10), fill("A", 40.0, 10.0, ts=T0 + 20)]
    again = core(capital=10_000.0, ts=T0 + 50)
    feed_history(again, today)
    again.mark(40.0, T0 + 60)
    assert again.state(T0 + 60).halted is True


def test_reconcile_venue_wins():
    c = core()
    feed(c, fill("B", 100.0, 2.0))
    c.mark(104.0, T0 + 200)
    assert c.reconcile_position(2.0) == 0.0
    assert c.reconcile_position(3.0) == -1.0
    assert c.position == 3.0 and c.avg_entry == 100.0  # our entry kept
    assert c.reconcile_position(0.0) == 3.0
    assert c.position == 0.0 and c.avg_entry == 0.0
    assert c.reconcile_position(-1.5) == 1.5  # we were flat: entered at the mid
    assert c.position == -1.5 and c.avg_entry == 104.0
    assert c.unrealized_pnl == 0.0


def test_reconcile_before_any_mark_enters_at_the_first_mark():
    c = core()
    assert c.reconcile_position(4.0) == -4.0
    assert c.unrealized_pnl == 0.0
    c.mark(250.0, T0 + 1)
    assert c.avg_entry == 250.0 and c.unrealized_pnl == 0.0
    c.mark(251.0, T0 + 2)
    assert c.unrealized_pnl == pytest.approx(4.0)


def test_reconcile_ignores_float_residue():
    c = core()
    feed(c, fill("B", 10.0, 0.1))
    feed(c, fill("B", 10.0, 0.2))
    assert c.reconcile_position(0.3) == 0.0


# -- properties ---------------------------------------------------------------------------
fills_st = st.lists(
    st.tuples(st.sampled_from(["B", "A"]),
              st.integers(1, 200_000).map(lambda x: x / 100),  # px 0.01 .. 2000
              st.integers(1, 5_000).map(lambda x: x / 1000),  # sz 0.001 .. 5
              st.integers(-50, 500).map(lambda x: x / 1000),  # fee, rebates included
              st.integers(0, 40)),  # tid: repeats are duplicates
    max_size=60)


def run(seq, mid):
    c = core(capital=1e9)
    for i, (side, px, sz, fee, tid) in enumerate(seq):
        feed(c, fill(side, px, sz, fee, ts=T0 + i, tid=tid))
    c.mark(mid, T0 + 100)
    return c


@given(fills_st, st.integers(1, 200_000).map(lambda x: x / 100))
def test_pnl_identity_and_dedupe(seq, mid):
    c = run(seq, mid)
    seen, cash, fees, pos, gross = set(), 0.0, 0.0, 0.0, 0.0
    for side, px, sz, fee, tid in seq:
        if tid in seen:
            continue
        seen.add(tid)
        cash += px * sz if side == "A" else -px * sz
        pos += sz if side == "B" else -sz
        fees += fee
        gross += px * sz + abs(fee)
    assert c.position == pytest.approx(pos, abs=1e-9)
    lhs = c.realized_pnl + c.unrealized_pnl - c.fees
    rhs = cash - fees + c.position * mid
    assert math.isclose(lhs, rhs, rel_tol=1e-6, abs_tol=1e-6 * (1 + gross + abs(pos) * mid))
    assert lhs == c.net_pnl == pytest.approx(c.state(T0 + 100).net_pnl)
    # every duplicate, anywhere, changes nothing
    unique = []
    seen.clear()
    for f in seq:
        if f[4] not in seen:
            seen.add(f[4])
            unique.append(f)
    assert run(unique, mid).state(T0 + 100) == c.state(T0 + 100)
    assert run(seq + seq, mid).state(T0 + 100) == c.state(T0 + 100)


def test_funding_counts_once_and_reconciles_to_the_venue_total():
    from messages.orders import Funding

    core = RiskCore("ETH", RiskConfig(), 20_000.0)
    f1 = Funding("ETH", 3600.0, 0.0001, 1.0, -0.35)
    assert core.on_funding(f1) and not core.on_funding(f1)
    assert core.funding == pytest.approx(-0.35)
    core.set_funding_total(-0.50, as_of=3600.0)  # the venue's total wins up to its instant
    assert core.funding == pytest.approx(-0.50)
    assert not core.on_funding(f1)  # already in the total
    assert core.on_funding(Funding("ETH", 7200.0, 0.0001, 1.0, -0.40))
    core.set_funding_total(-0.50, as_of=3600.0)  # a later payment survives a restatement
    assert core.funding == pytest.approx(-0.90)
    assert core.state(7200.0).funding == pytest.approx(-0.90)
