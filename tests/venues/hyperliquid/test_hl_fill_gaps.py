"""A feed fill whose startPosition does not follow on from the last fill the feed brought
means fills were lost in between: the venue counts the gap and reads them back at once
(the end-to-end case, with the read, is in test_hl_faults.py)."""
from __future__ import annotations

import time

import trio
from eth_account import Account

from messages.risk import FillHistory
from tests.hl_helpers import bare_venue
from venues.hyperliquid import wire
from venues.hyperliquid.venue import FILL_OWED_GRACE_S
from venues.runtime import VenueRequestFailed

KEY = "0x" + "7c" * 32
ACCOUNT = Account.from_key(KEY).address.lower()
ASSET = "ETH"


def _frame(*fills: tuple[int, str, float, float, int], snapshot: bool = False) -> wire.UserFillsFrame:
    """Fills of (tid, side, size, startPosition, ms ago)."""
    now = int(time.time() * 1000)
    return wire.UserFillsFrame(wire.WsUserFills(ACCOUNT, tuple(
        wire.WsFill(ASSET, 3000.0, sz, side, now - ago, 100 + tid, tid, 0.0045, False, None, start)
        for tid, side, sz, start, ago in fills), snapshot))


async def test_fills_that_follow_on_show_no_gap_and_a_missing_one_is_counted():
    venue, _, _ = bare_venue(KEY, ASSET)
    venue._on_frame(_frame((1, "B", 0.01, 0.0, 30), (2, "B", 0.02, 0.01, 20)), 0)
    venue._on_frame(_frame((3, "A", 0.01, 0.03, 10)), 0)  # 0.01 + 0.02 bought, now sells from 0.03
    assert venue.stats.fill_gaps == 0
    venue._on_frame(_frame((5, "A", 0.01, 0.01, 0)), 0)  # tid 4 (sold 0.01 from 0.02) never came
    assert venue.stats.fill_gaps == 1
    venue._on_frame(_frame((6, "B", 0.01, 0.0, 0)), 0)  # and from there on it follows on again
    assert venue.stats.fill_gaps == 1


async def test_history_and_duplicates_are_not_gaps():
    venue, _, _ = bare_venue(KEY, ASSET)
    venue._on_frame(_frame((1, "B", 0.01, 0.5, 100), (2, "B", 0.01, 0.0, 90), snapshot=True), 0)  # history
    venue._on_frame(_frame((3, "B", 0.01, 0.2, 50)), 0)
    venue._on_frame(_frame((3, "B", 0.01, 0.2, 50)), 0)  # the same fill again (userEvents brings it too)
    venue._on_frame(_frame((9, "A", 0.01, 0.7, 60)), 0)  # older than the last chained: not news
    assert venue.stats.fill_gaps == 0


async def test_across_a_reconnect_the_reconciles_read_closes_the_gap_and_without_it_the_next_fill_shows_it():
    venue, _, _ = bare_venue(KEY, ASSET)
    venue._on_frame(_frame((1, "B", 0.01, 0.0, 100)), 0)
    venue._on_connected(first=False)
    venue._chain_read(ASSET, list(_frame((2, "B", 0.02, 0.01, 60)).data.fills))  # the reconcile read this
    venue._on_frame(_frame((3, "A", 0.01, 0.03, 50)), 0)
    assert venue.stats.fill_gaps == 0
    venue._on_connected(first=False)  # and this time the reconcile's read fails (HTTP 429)
    venue._on_frame(_frame((5, "A", 0.01, 0.05, 0)), 0)  # tid 4 (bought 0.03) was lost while down
    assert venue.stats.fill_gaps == 1


CLOID = "0x6d680000107c00010000000000000001"
PLACED_MS = int(time.time() * 1000) - 5000


def _update(status: str, left: float, ago: int = 0) -> wire.OrderUpdatesFrame:
    """An orderUpdate of our order CLOID (0.04 bought at most), ``left`` of it resting."""
    order = wire.WsBasicOrder(ASSET, "B", 3000.0, left, 101, PLACED_MS, 0.04, CLOID)
    return wire.OrderUpdatesFrame((wire.WsOrder(order, status, int(time.time() * 1000) - ago),))


async def test_an_order_update_ahead_of_its_fill_waits_its_grace_and_reads_only_if_the_fill_never_comes(
        nursery, autojump_clock):
    """The order update and its fill race on two channels: a fill that comes within the
    grace period costs nothing; one that does not is read back (a catch-up read)."""
    venue, _, _ = bare_venue(KEY, ASSET)
    venue._nursery = nursery
    reads: list[tuple[str, int]] = []
    venue._catch_up = lambda asset, since_ms: reads.append((asset, since_ms))  # type: ignore[method-assign]
    venue._orders[CLOID] = [ASSET, 101, 0.04, "B"]
    venue._by_oid[101] = CLOID

    venue._on_frame(_update("open", 0.03, ago=10), 0)  # 0.01 filled, its fill not yet here
    venue._on_frame(_frame((1, "B", 0.01, 0.0, 20)), 0)  # ... and here it is, within the grace
    await trio.sleep(2 * FILL_OWED_GRACE_S)
    assert (venue.stats.fills_owed, reads) == (0, [])

    venue._on_frame(_update("filled", 0.0), 0)  # the other 0.03, and its fill never comes
    venue._on_frame(_frame((2, "B", 0.01, 0.01, -50)), 0)  # a later fill of another order does not pay it
    await trio.sleep(2 * FILL_OWED_GRACE_S)
    assert venue.stats.fills_owed == 1
    assert reads == [(ASSET, PLACED_MS)]  # its fills since the order was placed
    assert CLOID not in venue._orders  # filled: nothing of it is tracked any more


async def test_a_failed_read_of_missed_fills_is_tried_again_well_before_the_fill_sync(nursery, autojump_clock):
    """A gap's read-back that meets HTTP 500s (or a 429) is tried again within seconds; the
    periodic fill sync, half a minute away, stays the backstop only if every try fails."""
    venue, gw, _ = bare_venue(KEY, ASSET)
    venue._nursery = nursery
    histories: list[FillHistory] = []
    gw.deliver = lambda asset, msg: histories.append(msg) if isinstance(msg, FillHistory) else None
    lost = _frame((2, "B", 0.01, 0.01, 20)).data.fills[0]
    answers: list[object] = [VenueRequestFailed("HTTP 500"), VenueRequestFailed("HTTP 429"), (lost,)]

    async def fills_since(since_ms: int, routine: bool = False) -> tuple[wire.WsFill, ...]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    venue._fills_since = fills_since  # type: ignore[method-assign]
    venue._on_frame(_frame((1, "B", 0.01, 0.0, 30)), 0)
    venue._on_frame(_frame((3, "B", 0.01, 0.02, 10)), 0)  # tid 2 never came
    start = trio.current_time()
    while not histories and trio.current_time() - start < 10:
        await trio.sleep(0.1)
    assert [f.tid for h in histories for f in h.fills] == [2]
    assert trio.current_time() - start < 5 and answers == []
