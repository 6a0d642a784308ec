"""One owner per fact: the order role dedupes fills and keeps the position; risk books the
money from what it forwards. Whatever way a fill comes (live, again, late, in a fill
sync's history), the position and PnL count it once, and risk's limits see the order
role's position."""
from __future__ import annotations

import math

import pytest

from config import RiskConfig
from messages.market import MarketState
from messages.orders import Fill
from messages.risk import OwnFills, VenuePosition
from strategy.order_role import OrderRole
from strategy.order_tracker import OrderTracker
from strategy.performance import PerformanceTracker
from strategy.risk import RiskCore
from strategy.risk_role import RiskRole


def fill(tid: int, side: str, px: float, sz: float, ts: float, fee: float = 0.01) -> Fill:
    return Fill("ETH", f"c{tid}", tid, tid, side, px, sz, fee, ts, 0.0)


class Pair:
    """The order and risk roles of one asset, wired as both drivers wire them."""

    def __init__(self) -> None:
        self.order = OrderRole(OrderTracker("ETH", 1, 1, 4, 0.5), 0.0)
        self.risk = RiskRole(RiskCore("ETH", RiskConfig(max_position_usd=5_000.0, max_position_pct=1.0), 20_000.0),
                             PerformanceTracker("ETH", 1.0, 1.0, 0.0), 0.0)

    def deliver(self, out) -> None:
        for to, msg in out:
            if to == "risk":
                self.risk.handle(msg)

    def live(self, f: Fill) -> None:
        self.deliver(self.order.handle(f))

    def sync(self, fills) -> None:
        self.deliver(self.order.history(fills))


FILLS = [fill(1, "B", 3000.0, 0.5, 1.0), fill(2, "B", 3010.0, 0.25, 2.0), fill(3, "A", 3020.0, 0.5, 3.0),
         fill(4, "A", 3005.0, 0.1, 4.0)]


def books(p: Pair) -> tuple[float, float, float, int]:
    c = p.risk.core
    return c.position, c.realized_pnl, c.fees, c.fills_buy + c.fills_sell


def test_duplicated_late_and_resynced_fills_count_once_in_position_and_pnl():
    clean = Pair()
    for f in FILLS:
        clean.live(f)
    messy = Pair()
    messy.live(FILLS[1])  # reordered: the second fill first
    messy.live(FILLS[0])
    messy.live(FILLS[1])  # duplicated on the wire
    messy.sync(FILLS)  # the fill sync brings all of them again, and the two not yet seen
    messy.live(FILLS[3])  # late, after the sync had it
    assert messy.risk.core.fills_buy + messy.risk.core.fills_sell == 4
    assert books(messy)[0] == pytest.approx(0.15) == messy.order.tracker.position
    assert books(messy)[2] == pytest.approx(0.04)
    # average cost depends on the order fills are booked in, the rest does not
    assert books(messy)[::2] == pytest.approx(books(clean)[::2])
    assert messy.risk.core.position == messy.order.tracker.position


def test_risk_limits_see_the_order_roles_position():
    p = Pair()
    p.risk.handle(MarketState("ETH", 1.0, 1, 3000.0, 3000.0, 2999.5, 3000.5, 2.0, 0.0, 1.0, "NORMAL"))
    for i in range(3):  # 1.5 ETH = $4,500 of $5,000: past the stop
        p.live(fill(10 + i, "B", 3000.0, 0.5, 2.0 + i))
        p.live(fill(10 + i, "B", 3000.0, 0.5, 2.0 + i))  # each one twice
    s = p.risk.state
    assert s is not None and s.position == 1.5 == p.order.tracker.position
    assert not s.allow_bid and s.allow_ask


def test_a_reconciled_position_reaches_risk_as_the_owner_holds_it():
    p = Pair()
    p.live(FILLS[0])
    t = p.order.tracker
    t.resync((), 0.8)  # the venue says 0.8 (a fill we never saw): the owner adopts it
    p.risk.handle(VenuePosition("ETH", 5.0, t.position))
    assert p.risk.core.position == 0.8 == t.position
    t.resync((), math.nan)  # a venue position that is not a number: the owner's stands
    p.risk.handle(VenuePosition("ETH", 6.0, t.position))
    assert p.risk.core.position == 0.8 and p.risk.core.bad_input == 0
    p.live(FILLS[2])  # the next fill moves the owner's figure, and risk's with it
    assert p.risk.core.position == pytest.approx(0.3) and p.risk.core.position == t.position


def test_the_order_role_forwards_each_new_fill_with_the_position_after_it():
    p = Pair()
    [(to, msg)] = p.order.handle(FILLS[0])
    assert to == "risk" and msg == OwnFills("ETH", 1.0, (FILLS[0],), 0.5)
    [(to, msg)] = p.order.history(FILLS[:2])
    assert msg == OwnFills("ETH", 1.0, (FILLS[1],), 0.75, live=False)  # stamped with the role's time
    assert p.order.history(FILLS[:2]) == []
