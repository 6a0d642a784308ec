"""A reconnect is reported (and so reconciled) only once the feed is live again.

Reading the account before the subscriptions are acknowledged would leave a gap: a fill
made between the read and the subscription taking effect would be in neither. The
server here acknowledges late, or never, on 127.0.0.1.
"""
from __future__ import annotations

import json

import trio
from trio_websocket import ConnectionClosed, serve_websocket

from venues.hyperliquid.feed import Feed

SUBS = [{"type": "trades", "coin": "ETH"}, {"type": "userFills", "user": "0x0"}]


async def _server(nursery: trio.Nursery, ack_after_s: float | None) -> int:
    async def handler(request):
        ws = await request.accept()
        try:
            subs = [json.loads(await ws.get_message()) for _ in SUBS]
            if ack_after_s is not None:
                await trio.sleep(ack_after_s)
                for s in subs:
                    await ws.send_message(json.dumps({"channel": "subscriptionResponse", "data": s}))
            while True:
                msg = json.loads(await ws.get_message())
                if msg.get("method") == "ping":
                    await ws.send_message(json.dumps({"channel": "pong"}))
        except ConnectionClosed:
            pass

    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    return server.port


async def _connected_at(ack_after_s: float | None, ack_timeout_s: float) -> tuple[float, float]:
    got: list[float] = []
    async with trio.open_nursery() as nursery:
        port = await _server(nursery, ack_after_s)
        feed = Feed(f"ws://127.0.0.1:{port}/ws", SUBS, lambda *a: None, lambda first: got.append(trio.current_time()),
                    ping_every_s=0.5, stall_s=5.0, ack_timeout_s=ack_timeout_s)
        start = trio.current_time()
        await nursery.start(feed.run)
        with trio.fail_after(10):
            while not got:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    return start, got[0]


async def test_on_connected_waits_for_every_subscription_ack():
    start, at = await _connected_at(ack_after_s=0.4, ack_timeout_s=5.0)
    assert 0.35 <= at - start < 2.0


async def test_missing_acks_do_not_block_for_ever():
    start, at = await _connected_at(ack_after_s=None, ack_timeout_s=0.6)
    assert 0.55 <= at - start < 3.0
