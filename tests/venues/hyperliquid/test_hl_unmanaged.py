"""No order of ours rests on Hyperliquid without somebody tracking it.

An action whose answer is lost may have landed: the order actor is told it failed, and
the venue cancels the order the moment it shows up (an orderUpdate, a fill) and, failing
that, at the periodic open-order audit, which also catches anything else of ours that
nobody tracks. Tested on the venue directly and with the whole hive against the fake
exchange losing answers.
"""
from __future__ import annotations

import time

import pytest
import trio
from eth_account import Account

from tests.hive_helpers import sim_config, wait_for
from tests.hl_helpers import bare_venue, hl_hive_config
from makerhive.invariants import orphan_orders
from messages.orders import NewOrder, PlaceOrders
from exchange_rules.cloid import make_cloid
from venues.hyperliquid import wire
from venues.hyperliquid.rest import ActionOutcomeUnknown
from venues.hyperliquid.signing import Signer

KEY = "0x" + "3d" * 32
ACCOUNT = Account.from_key(KEY).address.lower()


def _venue():
    return bare_venue(KEY)


def _open(cloid: str | None, oid: int, age_s: float) -> wire.OpenOrderInfo:
    return wire.OpenOrderInfo("ETH", "B", 3000.0, 0.01, oid, int((time.time() - age_s) * 1000), 0.01, cloid)


async def test_the_audit_cancels_only_our_untracked_orders():
    venue, _, rest = _venue()
    tracked, untracked, young = make_cloid(1, 1, 1), make_cloid(1, 1, 2), make_cloid(1, 1, 3)
    venue._orders[tracked] = ["ETH", 11, 0.01, "B"]
    rest.open_orders = [_open(tracked, 11, 60), _open(untracked, 12, 60), _open(young, 13, 0.5),
                        _open(None, 14, 60), _open("0x" + "ab" * 16, 15, 60)]  # the last two: not ours
    assert await venue.audit() == 1
    await venue._cancel_pending_unmanaged()
    assert [a["type"] for a in rest.sent] == ["cancel"]
    assert rest.sent[0]["cancels"] == [{"a": 1, "o": 12}]
    assert venue.stats.unmanaged_cancelled == 1


async def test_an_order_whose_outcome_was_unknown_is_cancelled_when_it_shows_up():
    venue, gw, rest = _venue()
    cloid = make_cloid(1, 1, 7)
    rest.answers.append(ActionOutcomeUnknown("exchange: ReadTimeout"))
    await venue._flush([PlaceOrders("ETH", 1, 0.0, (NewOrder(cloid, "B", 3000.0, 0.01),))], {"ETH"})
    assert gw.resyncs == ["ETH"] and cloid not in venue._orders  # the actor was told it failed
    # ... but it landed: the feed shows it resting
    o = wire.WsBasicOrder("ETH", "B", 3000.0, 0.01, 99, int(time.time() * 1000), 0.01, cloid)
    venue._on_frame(wire.OrderUpdatesFrame((wire.WsOrder(o, "open", int(time.time() * 1000)),)), 0)
    await venue._cancel_pending_unmanaged()
    assert rest.sent[-1] == {"type": "cancel", "cancels": [{"a": 1, "o": 99}]}
    assert venue.stats.unmanaged_cancelled == 1


async def test_an_open_update_from_before_our_cancel_answer_is_not_an_untracked_order():
    """The cancel's answer can come before the feed's update from just before the cancel
    (a partial fill): that "open" is stale news of an order that is gone. Neither cancelled
    again nor a reason to reconcile; its smaller size is still a fill owed to us."""
    venue, gw, rest = _venue()
    cloid = make_cloid(1, 1, 8)
    venue._orders[cloid] = ["ETH", 99, 0.01, "B"]
    venue._by_oid[99] = cloid
    await venue._cancel_by_cloid([("ETH", cloid)])  # answered "success" first
    now_ms = int(time.time() * 1000)
    o = wire.WsBasicOrder("ETH", "B", 3000.0, 0.006, 99, now_ms, 0.01, cloid)
    async with trio.open_nursery() as nursery:
        venue._nursery = nursery
        venue._on_frame(wire.OrderUpdatesFrame((wire.WsOrder(o, "open", now_ms),)), 0)
        assert venue._owed[cloid][0] == pytest.approx(0.004)  # read back if no fill comes
        nursery.cancel_scope.cancel()
    await venue._cancel_pending_unmanaged()
    assert [a["type"] for a in rest.sent] == ["cancelByCloid"] and venue.stats.unmanaged_cancelled == 0
    assert gw.resyncs == []
    # the feed catches up: the order's own "canceled" ends what is remembered of it
    venue._on_frame(wire.OrderUpdatesFrame((wire.WsOrder(o, "canceled", now_ms),)), 0)
    assert cloid not in venue._cancelled


ASSETS = ("ETH", "SOL")


def test_lost_answers_leave_no_order_resting_untracked():
    """The fake executes actions and cuts the connection before answering: whatever
    landed is found and cancelled; at a clean stop the books agree with the exchange."""
    from makerhive.app import Hive
    from testkit.hyperliquid_fake import FakeHyperliquid

    base = sim_config(portfolio={"assets": list(ASSETS)})
    with FakeHyperliquid(base, seed=4, account=ACCOUNT) as fake:
        cfg = hl_hive_config(fake, ASSETS)
        hive = Hive(cfg, signer=Signer(KEY))
        hive.start()
        try:
            wait_for(lambda: {o["coin"] for o in fake.open_orders()} >= set(ASSETS), timeout=15, what="quoting")
            fake.lose_answers(4)
            wait_for(lambda: fake.stats["answers_lost"] >= 4, timeout=20, what="four lost answers")
            assert hive.venue.stats.unknown_outcomes >= 1  # one per request, whatever it carried
            wait_for(lambda: all(orphan_orders(hive, a) == 0 for a in ASSETS), timeout=20,
                     what="no order resting that our order actors do not know")
            wait_for(lambda: {o["coin"] for o in fake.open_orders()} >= set(ASSETS), timeout=15,
                     what="quoting again")
        finally:
            summary = hive.stop()
        for a in ASSETS:
            assert summary["assets"][a]["inventory"] == pytest.approx(fake.position(a), abs=1e-9), a
        assert fake.open_orders() == []
        assert summary["portfolio"]["open_orders_at_exit"] == 0
