"""Nothing unusable from Hyperliquid gets past the venue's edge.

The decoder is lax (numbers arrive as strings, so "NaN" and "1e300" become floats); the
venue checks each item and drops, counts and logs what fails, keeping the good items
beside it. Fuzzed frames must never put a non-finite number, an unknown side or another
user's fill into a message for the actors; reconciliation reads with a bad entry fail
(and are retried) rather than being half-trusted.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pytest
import trio
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hive_helpers import sim_config
from messages.market import BookSnapshot, Trade
from messages.orders import Fill, Funding, VenueBatch
from venues.hyperliquid import wire
from venues.hyperliquid.signing import Signer
from venues.hyperliquid.venue import HyperliquidVenue
from venues.runtime import VenueRequestFailed

KEY = "0x" + "7c" * 32
ACCOUNT = Account.from_key(KEY).address.lower()
NOW_MS = 1_760_000_000_000


class _Gateway:
    def __init__(self) -> None:
        self.board = None
        self.dms_at = None
        self.out: list[Any] = []

    def attach(self, venue: Any) -> None:
        pass

    def deliver(self, asset: str, msg: VenueBatch) -> None:
        self.out.extend(msg.events)

    def deliver_book(self, snap: BookSnapshot) -> None:
        self.out.append(snap)

    def deliver_trade(self, trade: Trade) -> None:
        self.out.append(trade)

    def reconnected(self, asset: str, ts: float) -> None:
        pass


def _venue() -> tuple[HyperliquidVenue, _Gateway]:
    gw = _Gateway()
    venue = HyperliquidVenue(sim_config(portfolio={"assets": ["ETH"]}), gw, signer=Signer(KEY))
    venue._index, venue._coin_of, venue._szd = {"ETH": 1}, {1: "ETH"}, {"ETH": 4}
    return venue, gw


def _feed(venue: HyperliquidVenue, obj: dict[str, Any]) -> None:
    """A frame as the feed hands it over: decoded by the lax decoder, then the venue."""
    venue._on_frame(wire.decode_frame(json.dumps(obj)), 0)


def _fill(**over: Any) -> dict[str, Any]:
    f = {"coin": "ETH", "px": "3000.5", "sz": "0.01", "side": "B", "time": NOW_MS, "oid": 5, "tid": 77,
         "fee": "0.0045", "crossed": False, "startPosition": "0.0", "closedPnl": "0.0"}
    f.update(over)
    return f


def _book(bids: list[tuple[str, str]], asks: list[tuple[str, str]], t: int = NOW_MS) -> dict[str, Any]:
    side = lambda lv: [{"px": p, "sz": s, "n": 1} for p, s in lv]  # noqa: E731
    return {"channel": "l2Book", "data": {"coin": "ETH", "time": t, "levels": [side(bids), side(asks)]}}


async def test_a_nan_fill_is_dropped_and_the_good_one_beside_it_kept():
    venue, gw = _venue()
    _feed(venue, {"channel": "userFills", "data": {"user": ACCOUNT, "fills": [
        _fill(sz="NaN", tid=1), _fill(tid=2), _fill(px="inf", tid=3), _fill(side="X", tid=4),
        _fill(time=10 ** 14, tid=5), _fill(fee="1e300", tid=6)]}})
    fills = [e for e in gw.out if isinstance(e, Fill)]
    assert [f.tid for f in fills] == [2]
    assert venue.stats.bad_input == 5


async def test_fills_for_another_user_are_dropped():
    venue, gw = _venue()
    _feed(venue, {"channel": "userFills", "data": {"user": "0x" + "12" * 20, "fills": [_fill()]}})
    assert gw.out == [] and venue.stats.bad_input == 1


@pytest.mark.parametrize("bids,asks,why", [
    ([("3000", "1")], [("2999", "1")], "crossed"),
    ([("3000", "1")], [], "empty"),
    ([("NaN", "1")], [("3001", "1")], "nan price"),
    ([("3000", "-1")], [("3001", "1")], "negative size"),
    ([("-3000", "1")], [("3001", "1")], "negative price"),
    ([("2999", "1"), ("3000", "1")], [("3001", "1")], "bids out of order"),
])
async def test_unusable_books_never_reach_the_book_actor(bids, asks, why):
    venue, gw = _venue()
    _feed(venue, _book(bids, asks))
    assert gw.out == [], why
    _feed(venue, _book([("3000", "1")], [("3001", "2")]))
    assert len(gw.out) == 1 and isinstance(gw.out[0], BookSnapshot)


async def test_a_book_from_a_wrong_clock_is_dropped():
    venue, gw = _venue()
    _feed(venue, _book([("3000", "1")], [("3001", "1")], t=10 ** 14))
    assert gw.out == []


async def test_trades_and_funding_are_checked_too():
    venue, gw = _venue()
    _feed(venue, {"channel": "trades", "data": [
        {"coin": "ETH", "side": "B", "px": "3000", "sz": "0.5", "time": NOW_MS, "tid": 1},
        {"coin": "ETH", "side": "Z", "px": "3000", "sz": "0.5", "time": NOW_MS, "tid": 2},
        {"coin": "ETH", "side": "A", "px": "nan", "sz": "0.5", "time": NOW_MS, "tid": 3}]})
    _feed(venue, {"channel": "user", "data": {"funding": {"time": NOW_MS, "coin": "ETH", "usdc": "NaN",
                                                           "szi": "1", "fundingRate": "0.0001"}}})
    assert [type(e) for e in gw.out] == [Trade]
    assert not any(isinstance(e, Funding) for e in gw.out)


async def test_a_reconciliation_read_with_a_nan_fill_fails_instead_of_lying():
    venue, _ = _venue()

    class Rest:
        async def info(self, payload: dict[str, Any], kind: Any, routine: bool = False) -> Any:
            return wire.decode_as(kind, json.dumps([_fill(tid=1), _fill(sz="NaN", tid=2)]))

    venue.rest = Rest()  # type: ignore[assignment]
    with pytest.raises(VenueRequestFailed, match="unusable"):
        await venue._fills_since(NOW_MS - 1000)


_number = st.one_of(st.sampled_from(["NaN", "nan", "inf", "-inf", "1e300", "1e400", "-1", "0", "", "abc"]),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.floats(min_value=1e-6, max_value=1e6).map(str))
_time = st.one_of(st.just(NOW_MS), st.integers(min_value=-10, max_value=10 ** 16))
_side = st.sampled_from(["B", "A", "X", "", "b"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fills=st.lists(st.fixed_dictionaries({"px": _number, "sz": _number, "side": _side, "time": _time,
                                             "fee": _number, "tid": st.integers(0, 2 ** 40)}), max_size=5),
       book=st.tuples(st.lists(st.tuples(_number, _number), max_size=4),
                      st.lists(st.tuples(_number, _number), max_size=4), _time),
       trades=st.lists(st.fixed_dictionaries({"px": _number, "sz": _number, "side": _side, "time": _time}),
                       max_size=4))
def test_fuzzed_frames_never_carry_an_unusable_number_downstream(fills, book, trades):
    trio.run(_fuzz_once, fills, book, trades)


async def _fuzz_once(fills, book, trades):
    venue, gw = _venue()
    frames = [{"channel": "userFills", "data": {"user": ACCOUNT, "fills": [_fill(**f) for f in fills]}},
              _book(book[0], book[1], book[2]),
              {"channel": "trades", "data": [{"coin": "ETH", "tid": i, **t} for i, t in enumerate(trades)]}]
    for obj in frames:
        try:
            frame = wire.decode_frame(json.dumps(obj))
        except wire.Malformed:
            continue  # the feed counts and drops these before the venue sees them
        venue._on_frame(frame, 0)
    for msg in gw.out:
        if isinstance(msg, BookSnapshot):
            levels = msg.bids + msg.asks
            assert levels and all(math.isfinite(lv.px) and lv.px > 0 and math.isfinite(lv.sz) and lv.sz > 0
                                  for lv in levels)
            assert msg.bids[0].px < msg.asks[0].px
        elif isinstance(msg, (Fill, Trade)):
            assert msg.side in ("B", "A")
            assert math.isfinite(msg.px) and msg.px > 0 and math.isfinite(msg.sz) and msg.sz > 0
            assert 1.5e9 < msg.ts < 1e10
        if isinstance(msg, Fill):
            assert math.isfinite(msg.fee)
