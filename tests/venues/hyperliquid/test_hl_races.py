"""The feed and a request's answer race on Hyperliquid: every ordering is survivable.

On the real exchange an order can be filled (or cancelled) and reported on the
WebSocket before the REST answer that placed or modified it comes back; a cancel can
land on an order that the feed already reported gone. Each ordering is replayed here
against the venue directly: the venue must not die, must not leak state for an order
that has ended, and what it tells the order actor must leave the order tracker with
exactly the orders the exchange still has and the right position. One unexpected
exception while handling an answer is contained: that asset cancels and reconciles.
The last test runs the whole hive against the fake exchange with racing answers.
"""
from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from tests.hive_helpers import sim_config, wait_for
from tests.hl_helpers import apply_to_tracker, bare_venue, hl_hive_config
from messages.orders import CancelOrders, Fill, NewOrder, OrderAck, PlaceOrders
from strategy.order_diff import LiveOrder
from strategy.order_tracker import OrderTracker
from exchange_rules.cloid import make_cloid
from venues.hyperliquid import wire
from venues.hyperliquid.signing import Signer
from venues.hyperliquid.venue import HyperliquidVenue

KEY = "0x" + "6b" * 32
ACCOUNT = Account.from_key(KEY).address.lower()
ASSET = "ETH"
OLD, NEW, OTHER, LATER = (make_cloid(1, 1, seq) for seq in (1, 2, 3, 4))
OLD_OID, NEW_OID = 1001, 1002


def _venue():
    return bare_venue(KEY)


def _tracker(*orders: tuple[str, str, str]) -> OrderTracker:
    t = OrderTracker(ASSET, 1, 1, 4, 1.0)
    for cloid, side, state in orders:
        t.live[cloid] = LiveOrder(cloid=cloid, side=side, level=0, px=3000.0, sz=0.01, state=state)  # type: ignore[arg-type]
    return t


def _fill(cloid: str, oid: int, tid: int, sz: float = 0.01) -> wire.UserFillsFrame:
    f = wire.WsFill(ASSET, 3000.0, sz, "B", 1_700_000_000_000, oid, tid, 0.0045, False, cloid)
    return wire.UserFillsFrame(wire.WsUserFills(ACCOUNT, (f,)))


def _update(cloid: str, oid: int, status: str) -> wire.OrderUpdatesFrame:
    o = wire.WsBasicOrder(ASSET, "B", 3000.0, 0.0, oid, 1_700_000_000_000, 0.01, cloid)
    return wire.OrderUpdatesFrame((wire.WsOrder(o, status, 1_700_000_000_000),))


def _ok(*statuses: Any) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": list(statuses)}}}


def _place(cloid: str, side: str = "B") -> PlaceOrders:
    return PlaceOrders(ASSET, 1, 0.0, (NewOrder(cloid, side, 3000.0, 0.01),))  # type: ignore[arg-type]


def _resting_old(venue: HyperliquidVenue) -> None:
    """OLD rests on the book, acknowledged with its oid."""
    venue._orders[OLD] = [ASSET, OLD_OID, 0.01, "B"]
    venue._by_oid[OLD_OID] = OLD


def _modify_batch() -> list[Any]:
    """The order actor's replacement of OLD by NEW on the same side: one batchModify."""
    return [CancelOrders(ASSET, 1, 0.0, (OLD,)), _place(NEW)]


def _assert_nothing_leaks(venue: HyperliquidVenue) -> None:
    assert venue._orders == {} and venue._by_oid == {}


async def test_a_placement_filled_on_the_feed_before_its_answer():
    venue, gw, rest = _venue()
    rest.before_answer.append(lambda: venue._on_frame(_fill(NEW, NEW_OID, 7), 0))
    rest.answers.append(_ok({"resting": {"oid": NEW_OID}}))
    tracker = _tracker((NEW, "B", "pending"))
    await venue._flush([_place(NEW)], {ASSET})
    apply_to_tracker(tracker, gw.events)
    assert [type(e) for e in gw.events] == [Fill, OrderAck]
    assert tracker.live == {} and tracker.position == pytest.approx(0.01)
    _assert_nothing_leaks(venue)
    assert venue.stats.internal_errors == 0


async def test_a_modify_whose_new_order_fills_before_the_answer():
    """The live crash: the batchModify's new order was filled and forgotten when the
    answer came. The venue survives; the tracker ends with nothing live and the fill."""
    venue, gw, rest = _venue()
    _resting_old(venue)
    rest.before_answer.append(lambda: venue._on_frame(_fill(NEW, NEW_OID, 8), 0))
    rest.answers.append(_ok({"resting": {"oid": NEW_OID}}))
    tracker = _tracker((OLD, "B", "cancelling"), (NEW, "B", "pending"))
    await venue._flush(_modify_batch(), {ASSET})
    assert rest.sent[0]["type"] == "batchModify"
    apply_to_tracker(tracker, gw.events)
    assert tracker.live == {} and tracker.position == pytest.approx(0.01)
    _assert_nothing_leaks(venue)
    assert venue.stats.internal_errors == 0 and gw.resyncs == []


async def test_a_modify_whose_new_order_is_cancelled_before_the_answer():
    venue, gw, rest = _venue()
    _resting_old(venue)
    rest.before_answer.append(lambda: venue._on_frame(_update(NEW, NEW_OID, "marginCanceled"), 0))
    rest.answers.append(_ok({"resting": {"oid": NEW_OID}}))
    tracker = _tracker((OLD, "B", "cancelling"), (NEW, "B", "pending"))
    await venue._flush(_modify_batch(), {ASSET})
    apply_to_tracker(tracker, gw.events)
    assert tracker.live == {}
    _assert_nothing_leaks(venue)


async def test_a_modify_of_an_order_the_feed_reports_filled_before_the_answer():
    """The old order fills while the modify is in flight: the exchange refuses the modify
    ("canceled or filled"), the fill is counted once, the new order is known not to rest."""
    venue, gw, rest = _venue()
    _resting_old(venue)
    rest.before_answer.append(lambda: venue._on_frame(_fill(OLD, OLD_OID, 9), 0))
    rest.answers.append(_ok({"error": "Cannot modify canceled or filled order"}))
    tracker = _tracker((OLD, "B", "cancelling"), (NEW, "B", "pending"))
    await venue._flush(_modify_batch(), {ASSET})
    apply_to_tracker(tracker, gw.events)
    assert tracker.live == {} and tracker.position == pytest.approx(0.01)
    _assert_nothing_leaks(venue)


async def test_an_order_gone_before_its_modify_is_built_is_placed_plainly():
    """The old order is reported filled while this batch's cancels are in flight: there
    is nothing left to modify, so the new quote goes as an ordinary placement."""
    venue, gw, rest = _venue()
    _resting_old(venue)
    other = OTHER
    venue._orders[other] = [ASSET, 1003, 0.01, "A"]
    venue._by_oid[1003] = other
    rest.before_answer += [lambda: venue._on_frame(_fill(OLD, OLD_OID, 10), 0), None]
    rest.answers += [_ok("success"), _ok({"resting": {"oid": NEW_OID}})]
    # the cancel of an ask goes first (no ask placement to pair it with), then the bid
    batch = [CancelOrders(ASSET, 1, 0.0, (other, OLD)), _place(NEW)]
    await venue._flush(batch, {ASSET})
    assert [a["type"] for a in rest.sent] == ["cancelByCloid", "order"]
    tracker = _tracker((OLD, "B", "cancelling"), (other, "A", "cancelling"), (NEW, "B", "pending"))
    apply_to_tracker(tracker, gw.events)
    assert set(tracker.live) == {NEW} and tracker.live[NEW].state == "resting"
    assert venue._orders == {NEW: [ASSET, NEW_OID, 0.01, "B"]}
    assert venue.stats.internal_errors == 0


async def test_an_answer_acked_twice_changes_nothing():
    venue, gw, rest = _venue()
    rest.answers.append(_ok({"resting": {"oid": NEW_OID}}))
    tracker = _tracker((NEW, "B", "pending"))
    await venue._flush([_place(NEW)], {ASSET})
    venue._answer([(ASSET, NewOrder(NEW, "B", 3000.0, 0.01))], _ok({"resting": {"oid": NEW_OID}}), placing=True)
    apply_to_tracker(tracker, gw.events)
    assert tracker.live[NEW].state == "resting"
    assert venue._orders == {NEW: [ASSET, NEW_OID, 0.01, "B"]} and venue._by_oid == {NEW_OID: NEW}


async def test_a_cancel_answered_after_the_feed_reported_the_fill():
    venue, gw, rest = _venue()
    _resting_old(venue)
    rest.before_answer.append(lambda: venue._on_frame(_fill(OLD, OLD_OID, 12), 0))
    rest.answers.append(_ok({"error": "Order was never placed, already canceled, or filled. asset=1"}))
    tracker = _tracker((OLD, "B", "cancelling"))
    await venue._flush([CancelOrders(ASSET, 1, 0.0, (OLD,))], {ASSET})
    apply_to_tracker(tracker, gw.events)
    assert tracker.live == {} and tracker.position == pytest.approx(0.01)
    _assert_nothing_leaks(venue)


async def test_an_unexpected_exception_in_one_answer_is_contained():
    """A bug in handling one answer (here: an answer of a shape nobody expected) does not
    stop the venue: it is counted, the asset's orders are cancelled and it reconciles,
    and the next batch is handled normally."""
    venue, gw, rest = _venue()
    _resting_old(venue)
    rest.answers.append({"status": "ok", "response": "a string where an object belongs"})
    rest.answers.append(_ok("success"))  # the cancel-all's cancel
    rest.open_orders = [wire.OpenOrderInfo(ASSET, "B", 3000.0, 0.01, OLD_OID, 0, cloid=OLD)]
    await venue._flush(_modify_batch(), {ASSET})
    assert venue.stats.internal_errors == 1
    assert gw.resyncs == [ASSET]
    assert [a["type"] for a in rest.sent] == ["batchModify", "cancel"]
    assert ASSET not in venue._busy
    rest.answers.append(_ok({"resting": {"oid": 2000}}))
    await venue._flush([_place(LATER)], {ASSET})
    assert any(isinstance(e, OrderAck) and e.oid == 2000 for e in gw.events)


# -- the whole hive against the fake exchange, with racing answers ---------------------------------

def test_the_hive_survives_answers_that_race_the_feed(tmp_path):
    """Quotes are taken on the feed before their placement or modify is answered, again
    and again: the venue never dies, and at a clean stop positions and fill counts equal
    the exchange's with nothing left open."""
    from makerhive.app import Hive
    from testkit.hyperliquid_fake import FakeHyperliquid

    assets = ("ETH", "SOL")
    base = sim_config(portfolio={"assets": list(assets)})
    with FakeHyperliquid(base, seed=9, account=ACCOUNT) as fake:
        cfg = hl_hive_config(fake, assets)
        hive = Hive(cfg, signer=Signer(KEY))
        hive.start()
        try:
            wait_for(lambda: {o["coin"] for o in fake.open_orders()} >= set(assets), timeout=15, what="quoting")
            fake.race_answers(8, delay_s=0.25)
            wait_for(lambda: fake.stats["raced_answers"] >= 8, timeout=30, what="eight raced answers")
            assert hive.venue.stats.internal_errors == 0
            wait_for(lambda: {o["coin"] for o in fake.open_orders()} >= set(assets), timeout=15,
                     what="quoting after the races")
        finally:
            summary = hive.stop()
        fills: dict[str, int] = {}
        for f in fake.fills():
            fills[f["coin"]] = fills.get(f["coin"], 0) + 1
        assert sum(fills.values()) >= 8
        for a in assets:
            s = summary["assets"][a]
            assert s["inventory"] == pytest.approx(fake.position(a), abs=1e-9), a
            assert s["fills_buy"] + s["fills_sell"] == fills.get(a, 0), a
        assert fake.open_orders() == []
        assert summary["portfolio"]["open_orders_at_exit"] == 0
