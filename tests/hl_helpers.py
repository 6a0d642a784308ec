"""Pieces for testing the Hyperliquid venue directly, without sockets or actors.

``RecordingGateway`` records what the venue hands the actors, in order; ``ScriptedRest``
answers each action from a script (``before_answer`` runs first: the feed racing ahead
of the answer); ``bare_venue`` is a venue with one asset's metadata already loaded.
``hl_hive_config`` points a test hive at a fake exchange.
"""
from __future__ import annotations

from typing import Any

import msgspec

from tests.hive_helpers import sim_config
from venues.hyperliquid import wire
from venues.hyperliquid.signing import Signer
from venues.hyperliquid.venue import HyperliquidVenue


class RecordingGateway:
    def __init__(self) -> None:
        self.board = None
        self.dms_at = None
        self.events: list[Any] = []  # VenueBatch contents, in order
        self.market: list[Any] = []  # books and trades
        self.resyncs: list[str] = []

    def attach(self, venue: Any) -> None:
        pass

    def deliver(self, asset: str, msg: Any) -> None:
        self.events.extend(msg.events)

    def deliver_book(self, snap: Any) -> None:
        self.market.append(snap)

    def deliver_trade(self, trade: Any) -> None:
        self.market.append(trade)

    def reconnected(self, asset: str, ts: float) -> None:
        self.resyncs.append(asset)


class ScriptedRest:
    def __init__(self) -> None:
        self.answers: list[Any] = []  # an answer dict, or an exception to raise
        self.before_answer: list[Any] = []  # a callable (or None) per request
        self.sent: list[dict[str, Any]] = []  # the actions, in order
        self.open_orders: list[wire.OpenOrderInfo] = []
        self.reads: list[str] = []  # the /info requests' types, in order

    async def exchange(self, body: dict[str, Any], n: int) -> dict[str, Any]:
        self.sent.append(body["action"])
        race = self.before_answer.pop(0) if self.before_answer else None
        if race is not None:
            race()
        answer = self.answers.pop(0) if self.answers else {
            "status": "ok", "response": {"type": "cancel", "data": {"statuses": ["success"] * n}}}
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def info(self, payload: dict[str, Any], kind: Any = Any, routine: bool = False) -> Any:
        self.reads.append(payload["type"])
        assert payload["type"] == "frontendOpenOrders"
        return tuple(self.open_orders)


def apply_to_tracker(tracker: Any, events: list[Any]) -> None:
    """What the order actor does with a VenueBatch's events (strategy/order_tracker.py)."""
    from messages.orders import Fill, OrderAck, OrderCancelled, OrderReject

    for ev in events:
        if isinstance(ev, Fill):
            tracker.on_fill(ev)
        elif isinstance(ev, OrderAck):
            tracker.on_ack(ev)
        elif isinstance(ev, OrderCancelled):
            tracker.on_cancelled(ev)
        elif isinstance(ev, OrderReject):
            tracker.on_reject(ev)


def bare_venue(key: str, asset: str = "ETH") -> tuple[HyperliquidVenue, RecordingGateway, ScriptedRest]:
    gw = RecordingGateway()
    venue = HyperliquidVenue(sim_config(portfolio={"assets": [asset]}), gw, signer=Signer(key))
    venue._index, venue._coin_of, venue._szd = {asset: 1}, {1: asset}, {asset: 4}
    rest = ScriptedRest()
    venue.rest = rest  # type: ignore[assignment]
    return venue, gw, rest


def hl_hive_config(fake: Any, assets: tuple[str, ...], **hl: object) -> Any:
    """The test config, trading ``assets`` on the fake exchange in real time."""
    cfg = sim_config(portfolio={"assets": list(assets)}, run={"speed": 1.0, "venue": "hyperliquid"},
                     dead_mans_switch={"window_s": 8.0, "renew_every_s": 2.0})
    venue = msgspec.structs.replace(cfg.venue.hyperliquid, base_url=fake.base_url, ws_url=fake.ws_url,
                                    **{"stall_s": 3.0, "ping_every_s": 0.5, "request_timeout_s": 3.0, **hl})
    return msgspec.structs.replace(cfg, venue=msgspec.structs.replace(cfg.venue, hyperliquid=venue))
