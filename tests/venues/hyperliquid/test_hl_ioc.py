"""The emergency unwind's IOC on Hyperliquid: sent as a reduce-only Ioc order, never folded
into a batchModify with a quote's cancel, and its fill (before or after the answer) leaves
the order tracker with the position reduced and nothing live."""
from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from messages.orders import CancelOrders, PlaceOrders
from strategy.order_diff import LiveOrder
from strategy.order_tracker import OrderTracker
from tests.hl_helpers import apply_to_tracker, bare_venue
from venues.hyperliquid import wire

KEY = "0x" + "6c" * 32
ACCOUNT = Account.from_key(KEY).address.lower()
ASSET = "ETH"
IOC_OID = 2001



def _loaded() -> tuple[OrderTracker, Any, str]:
    """A tracker 1 ETH long against a $1,000 limit at $3,000, with a quote resting on the
    ask; the IOC it sends and the quote's cloid."""
    t = OrderTracker(ASSET, 1, 1, 4, 1.0)
    t.position = 1.0
    quote = "0x" + "ab" * 16
    t.live[quote] = LiveOrder(cloid=quote, side="A", level=0, px=3001.0, sz=0.01, state="resting")
    ioc = t.take_back(3000.0, 1000.0, 2000.0, 30.0, 100.0, 2.0)
    assert ioc is not None
    return t, ioc, quote


def _fill(cloid: str, sz: float) -> wire.UserFillsFrame:
    f = wire.WsFill(ASSET, 2995.0, sz, "A", 1_700_000_000_000, IOC_OID, 77, 0.9, True, cloid)
    return wire.UserFillsFrame(wire.WsUserFills(ACCOUNT, (f,)))


async def test_the_ioc_goes_reduce_only_alone_and_its_early_fill_lands_once():
    venue, gw, rest = bare_venue(KEY)
    t, ioc, quote = _loaded()
    venue._orders[quote] = [ASSET, 1500, 0.01, "A"]
    venue._by_oid[1500] = quote
    rest.before_answer.append(None)  # the quote's cancel
    rest.before_answer.append(lambda: venue._on_frame(_fill(ioc.cloid, ioc.sz), 0))  # filled before answered
    rest.answers.append({"status": "ok", "response": {"type": "cancel", "data": {"statuses": ["success"]}}})
    rest.answers.append({"status": "ok", "response": {"type": "order", "data": {"statuses": [
        {"filled": {"totalSz": str(ioc.sz), "avgPx": "2995.0", "oid": IOC_OID}}]}}})
    await venue._flush([CancelOrders(ASSET, 1, 0.0, (quote,)), PlaceOrders(ASSET, 1, 0.0, (ioc,))], {ASSET})
    kinds = [a["type"] for a in rest.sent]
    assert "batchModify" not in kinds and kinds == ["cancelByCloid", "order"]
    wire_order = rest.sent[1]["orders"][0]
    assert wire_order["t"] == {"limit": {"tif": "Ioc"}} and wire_order["r"] is True and wire_order["b"] is False
    apply_to_tracker(t, gw.events)
    assert t.position == pytest.approx(1.0 - ioc.sz)
    assert t.live.get(quote) is None or t.live[quote].state == "cancelling"
    assert t.ioc_inflight == {}  # answered: the next may go after the cooldown
    assert ioc.cloid not in venue._orders and venue.stats.internal_errors == 0


async def test_an_ioc_that_finds_nothing_is_refused_and_forgotten():
    venue, gw, rest = bare_venue(KEY)
    t, ioc, _ = _loaded()
    rest.answers.append({"status": "ok", "response": {"type": "order", "data": {"statuses": [
        {"error": "Order could not immediately match against any resting orders. asset=1"}]}}})
    await venue._flush([PlaceOrders(ASSET, 1, 0.0, (ioc,))], {ASSET})
    apply_to_tracker(t, gw.events)
    assert t.position == 1.0 and t.ioc_inflight == {}
    assert venue._orders == {}
