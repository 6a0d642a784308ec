"""Hyperliquid's IP weight (1,200 a minute) is shared by every read and action of the
account. Cancels and the reads a recovery needs must not queue behind routine reads:
a failing actor's first cancel reads nothing, and the periodic fill sync and open-order
audit leave a reserve of the minute's weight untouched (but are never put off for long).
"""
from __future__ import annotations

import json

import httpx
import pytest
import trio

from exchange_rules.cloid import make_cloid
from tests.hl_helpers import bare_venue
from venues.hyperliquid.rest import ROUTINE_RESERVE, HyperliquidRest, WeightReserved
from venues.hyperliquid.venue import ROUTINE_MAX_DEFER_S

KEY = "0x" + "4e" * 32


async def test_a_failing_actors_first_cancel_goes_by_cloid_without_reading_the_open_orders():
    venue, gw, rest = bare_venue(KEY)
    a, b = make_cloid(1, 1, 1), make_cloid(1, 1, 2)
    venue._orders[a] = ["ETH", 11, 0.01, "B"]
    venue._orders[b] = ["ETH", 12, 0.01, "A"]
    assert await venue.cancel_known("ETH") == 2
    assert rest.reads == []  # no frontendOpenOrders read (20 of the minute's weight)
    assert rest.sent == [{"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": a}, {"asset": 1, "cloid": b}]}]
    assert {e.cloid for e in gw.events} == {a, b}  # the order actor hears they are gone
    assert await venue.cancel_known("ETH") == 0 and len(rest.sent) == 1  # nothing known left: nothing sent


def _rest_answering(payloads: list[str]) -> HyperliquidRest:
    def answer(request: httpx.Request) -> httpx.Response:
        payloads.append(json.loads(request.content)["type"])
        return httpx.Response(200, content=b"[]")

    rest = HyperliquidRest("http://127.0.0.1:1")
    rest.client = httpx.AsyncClient(base_url=rest.base_url, transport=httpx.MockTransport(answer))
    return rest


async def test_routine_reads_leave_the_reserve_to_cancels_and_recovery():
    sent: list[str] = []
    rest = _rest_answering(sent)
    now = trio.current_time()
    rest.ip.spend(now, rest.ip.per_minute - ROUTINE_RESERVE)  # the reserve is all that is left
    with pytest.raises(WeightReserved):
        await rest.info({"type": "frontendOpenOrders", "user": "0x0"}, routine=True)
    assert sent == [] and rest.reserved_skips == 1  # never left: no weight spent, no 429 earned
    # the same read for a cancel-all or a reconcile goes at once
    assert await rest.info({"type": "frontendOpenOrders", "user": "0x0"}) == []
    assert sent == ["frontendOpenOrders"]
    await rest.client.aclose()


def _venue_down_to_the_reserve(sent: list[str]):
    """A venue whose client has spent all of the minute's weight but the reserve."""
    venue, _, _ = bare_venue(KEY)
    venue.rest = _rest_answering(sent)
    venue.rest.ip.spend(trio.current_time(), venue.rest.ip.per_minute - ROUTINE_RESERVE)
    return venue


async def test_a_fill_sync_is_put_off_for_the_reserve_but_not_for_long():
    sent: list[str] = []
    venue = _venue_down_to_the_reserve(sent)
    now = trio.current_time()
    with pytest.raises(WeightReserved):
        await venue.sync_fills("ETH", 0.0)
    assert sent == []
    venue._deferred_since["fills:ETH"] = now - ROUTINE_MAX_DEFER_S - 1.0  # put off too long: the backstop goes anyway
    assert await venue.sync_fills("ETH", 0.0) == ()
    assert sent == ["userFillsByTime"]
    await venue.rest.client.aclose()


async def test_an_audit_put_off_for_the_reserve_goes_anyway_after_a_while():
    sent: list[str] = []
    venue = _venue_down_to_the_reserve(sent)
    now = trio.current_time()
    with pytest.raises(WeightReserved):
        await venue.audit()
    assert sent == [] and venue._deferred_since.get("audit") is not None and venue._deferred_since["audit"] >= now
    venue._deferred_since["audit"] = now - ROUTINE_MAX_DEFER_S - 1.0
    assert await venue.audit() == 0
    assert sent == ["frontendOpenOrders"] and venue._deferred_since.get("audit") is None
    await venue.rest.client.aclose()
