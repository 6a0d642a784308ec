"""The emergency unwind's IOC on Hyperliquid: sent as a reduce-only Ioc order, never folded
into a batchModify with a quote's cancel, and its fill (before or after the answer) leaves
the order tracker with the position reduced and nothing live."""
from __future__ import annotations

import time
from typing import Any

import msgspec
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


def _cut(cfg: Any, hive: Any, limit_usd: float) -> Any:
    """The meta-supervisor's grant that leaves ``limit_usd`` of position limit: a max-position
    multiplier, the asset's capital unchanged (a capital this small would trip the daily
    loss stop, and a halted asset takes no action, the unwind included)."""
    from messages.allocation import AllocationUpdate, Multipliers

    capital = hive.board.risk[ASSET].capital
    mult = limit_usd / (cfg.assets[ASSET].risk.max_position_pct * capital)
    return AllocationUpdate(ASSET, hive.sim_time(), base=capital, reference=capital,
                            multipliers=Multipliers(max_position=mult), zone="punish")


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


def test_the_hive_on_the_fake_exchange_takes_a_cut_position_back_with_a_signed_ioc():
    """End to end against the fake exchange (signatures checked as the exchange would):
    a position is filled in by another user's takers, the meta-supervisor's grant cuts ETH's
    limit to a third of it, and a reduce-only IOC (a taker fill) takes it back; the hive's
    books equal the exchange's when it stops, and nothing is left open."""
    from makerhive.app import Hive
    from testkit.hyperliquid_fake import FakeHyperliquid
    from tests.hive_helpers import sim_config, wait_for
    from tests.hl_helpers import hl_hive_config
    from venues.hyperliquid.signing import Signer

    key = "0x" + "6d" * 32
    account = Account.from_key(key).address.lower()
    base = sim_config(portfolio={"assets": [ASSET]})
    a = base.assets[ASSET]
    # a market with (almost) no takers or arbitrageurs of its own: the position moves only by
    # the test's crosses and our own orders, so the IOC (not a quote at the touch) takes it back
    quiet = msgspec.structs.replace(a.market, taker_rate=1e-4, trade_rate=1e-4, arb_edge_bp=1000.0)
    base = msgspec.structs.replace(base, assets={**base.assets, ASSET: msgspec.structs.replace(a, market=quiet)})
    with FakeHyperliquid(base, seed=3, account=account) as fake:
        cfg = hl_hive_config(fake, (ASSET,))
        m = cfg.assets[ASSET].market
        hive = Hive(cfg, signer=Signer(key))
        hive.start()
        try:
            wait_for(lambda: any(o["coin"] == ASSET and o["side"] == "B" for o in fake.open_orders()), timeout=15,
                     what="ETH bids resting")

            def build_long() -> float:
                """Other users sell into our bids until we hold $300 (bounded); the exposure."""
                for _ in range(40):
                    if fake.position(ASSET) * m.price >= 300.0:
                        break
                    wait_for(lambda: any(o["coin"] == ASSET and o["side"] == "B" for o in fake.open_orders()),
                             timeout=10, what="ETH bids resting")
                    fake.cross(ASSET, "A", round(400.0 / m.price, m.sz_decimals))
                    time.sleep(0.05)
                return fake.position(ASSET) * m.price

            exposure = build_long()
            assert exposure > 100.0, exposure
            wait_for(lambda: hive.board.risk[ASSET].position == pytest.approx(fake.position(ASSET)), timeout=10,
                     what="the hive's position caught up with the exchange's")
            limit = exposure / 3.0  # 3x: past the emergency level
            hive.contexts[ASSET].supervisor.tell(_cut(cfg, hive, limit))
            wait_for(lambda: any(f["coin"] == ASSET and f["crossed"] for f in fake.fills()), timeout=15,
                     what="the IOC's taker fill")
            # back within the emergency level (then quoting goes on as usual, within the limit)
            wait_for(lambda: abs(fake.position(ASSET)) * hive.board.risk[ASSET].mid <= 1.5 * limit, timeout=15,
                     what="the position back within 1.5x the new limit")
            assert hive.board.risk[ASSET].limit_usd == pytest.approx(limit)
            takers = [f for f in fake.fills() if f["coin"] == ASSET and f["crossed"]]
            assert takers and all(f["side"] == "A" for f in takers)  # we sold, as the taker
        finally:
            summary = hive.stop()
        assert summary["assets"][ASSET]["inventory"] == pytest.approx(fake.position(ASSET), abs=1e-9)
        assert fake.open_orders() == []
        assert fake.stats["bad_signatures"] == 0
