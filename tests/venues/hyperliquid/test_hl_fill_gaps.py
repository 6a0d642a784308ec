"""A feed fill whose startPosition does not follow on from the last fill the feed brought
means fills were lost in between: the venue counts the gap and reads them back at once
(the end-to-end case, with the read, is in test_hl_faults.py)."""
from __future__ import annotations

import time

from eth_account import Account

from tests.hl_helpers import bare_venue
from venues.hyperliquid import wire

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


async def test_history_duplicates_and_a_reconnect_are_not_gaps():
    venue, _, _ = bare_venue(KEY, ASSET)
    venue._on_frame(_frame((1, "B", 0.01, 0.5, 100), (2, "B", 0.01, 0.0, 90), snapshot=True), 0)  # history
    venue._on_frame(_frame((3, "B", 0.01, 0.2, 50)), 0)
    venue._on_frame(_frame((3, "B", 0.01, 0.2, 50)), 0)  # the same fill again (userEvents brings it too)
    venue._on_frame(_frame((9, "A", 0.01, 0.7, 60)), 0)  # older than the last chained: not news
    assert venue.stats.fill_gaps == 0
    venue._on_connected(first=False)  # what was missed while down, the reconcile reads
    venue._on_frame(_frame((10, "A", 0.01, 0.9, 0)), 0)
    assert venue.stats.fill_gaps == 0
