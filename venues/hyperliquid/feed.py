"""One Hyperliquid WebSocket connection that stays up: subscribe, ping, detect stalls,
reconnect, resubscribe.

Why each piece:
- **Outer deadline around the connect.** trio-websocket's own timeouts do not bound a
  peer that accepts TCP and then says nothing, so connect + subscribe run under one
  ``fail_after``.
- **Application ping** every ``ping_every_s`` (the server drops a connection idle for
  60 s, whatever flows the other way), answered by ``{"channel":"pong"}``.
- **Stall detection**: nothing at all heard for ``stall_s`` (books alone come every
  ~0.5 s per coin), or two pings unanswered, means the link is dead though TCP may not
  know it yet: drop it and reconnect.
- **Reconnect** with jittered exponential backoff, then re-send every subscription
  (there is no resume token). ``on_connected`` tells the owner, which reconciles: the
  data missed meanwhile is not replayed except the userFills snapshot.
- **Malformed frames** are counted and logged once per kind with the frame's start,
  then dropped: never fatal.
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
from typing import Any, Callable

import msgspec
import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from venues.hyperliquid import wire
from venues.ws_errors import describe as _describe

log = logging.getLogger(__name__)

MESSAGE_QUEUE = 512
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
PING = json.dumps({"method": "ping"})


class FeedStats(msgspec.Struct, kw_only=True):
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    frames: int = 0
    malformed: int = 0
    unknown_channels: int = 0
    error_frames: int = 0
    pings: int = 0
    pongs: int = 0
    last_error: str = ""


class Feed:
    """Keeps one connection to ``url`` alive with ``subscriptions`` on it.

    ``on_frame(frame, recv_ns)`` gets every decoded frame (on the trio thread; it must
    not block). ``on_connected(first)`` runs after each (re)subscribe.
    """

    connect_timeout_s = 10.0
    disconnect_timeout_s = 2.0
    backoff_min_s = 0.2
    backoff_max_s = 30.0
    backoff_reset_s = 60.0  # a session that lasted this long starts the backoff over

    def __init__(self, url: str, subscriptions: list[dict[str, Any]],
                 on_frame: Callable[[Any, int], None], on_connected: Callable[[bool], None], *,
                 ping_every_s: float = 20.0, stall_s: float = 10.0, first_connect_s: float = 8.0,
                 on_lost: Callable[[str], None] | None = None, seed: int | None = None) -> None:
        self.url = url
        self.subscriptions = subscriptions
        self.on_frame = on_frame
        self.on_connected = on_connected
        self.on_lost = on_lost
        self.ping_every_s = ping_every_s
        self.stall_s = stall_s
        self.first_connect_s = first_connect_s
        self.stats = FeedStats()
        self.connected = False
        self._rng = random.Random(seed)
        self._last_rx = 0.0
        self._unanswered_pings = 0
        self._warned: set[str] = set()
        self._ws: WebSocketConnection | None = None

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Connect (reporting started after the first subscribe), then keep connected
        forever; gives up only if the very first connect fails for ``first_connect_s``."""
        give_up = time.monotonic() + self.first_connect_s
        started = False
        failures = 0
        while True:
            began = time.monotonic()
            why = ""
            try:
                await self._session(lambda: task_status.started() if not started else None,
                                    None if started else give_up)
            except* (OSError, HandshakeError, ConnectionClosed, trio.TooSlowError, trio.BrokenResourceError,
                     trio.ClosedResourceError) as eg:
                why = _describe(eg.exceptions[0])
            if self.connected:
                started = True  # (the session ran: a later failure is a reconnect)
            self.connected = False
            self._ws = None
            why = why or self.stats.last_error or "connection closed"
            self.stats.last_error = why
            if self.stats.connects and not started:
                started = True
            if not started:
                self.stats.connect_failures += 1
                if time.monotonic() >= give_up:
                    raise ConnectionError(f"could not connect to {self.url}: {why}")
            else:
                if self.on_lost is not None:
                    self.on_lost(why)
                log.warning("Hyperliquid WebSocket lost (%s); reconnecting", why)
            if time.monotonic() - began >= self.backoff_reset_s:
                failures = 0
            delay = min(self.backoff_max_s, self.backoff_min_s * 2 ** failures) * (0.8 + 0.4 * self._rng.random())
            failures += 1
            if not started:
                delay = max(0.0, min(delay, give_up - time.monotonic()))
            await trio.sleep(delay)

    async def _session(self, report_started: Callable[[], None], give_up: float | None) -> None:
        budget = self.connect_timeout_s
        if give_up is not None:
            budget = max(0.05, min(budget, give_up - time.monotonic()))
        stream_holder: list[WebSocketConnection] = []
        try:
            with trio.fail_after(budget) as guard:
                async with open_websocket_url(self.url, message_queue_size=MESSAGE_QUEUE,
                                              max_message_size=MAX_MESSAGE_BYTES,
                                              connect_timeout=budget,
                                              disconnect_timeout=self.disconnect_timeout_s) as ws:
                    stream_holder.append(ws)
                    for sub in self.subscriptions:
                        await ws.send_message(json.dumps({"method": "subscribe", "subscription": sub}))
                    guard.deadline = math.inf
                    self._ws = ws
                    self.connected = True
                    first = self.stats.connects == 0
                    self.stats.connects += 1
                    if not first:
                        self.stats.reconnects += 1
                    self._last_rx = trio.current_time()
                    self._unanswered_pings = 0
                    report_started()
                    self.on_connected(first)
                    try:
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(self._heartbeat, ws, nursery.cancel_scope)
                            await self._reader(ws)
                    finally:
                        # closing must not hang on a dead peer either
                        guard.deadline = trio.current_time() + self.disconnect_timeout_s + 1.0
        finally:
            for ws in stream_holder:
                stream = getattr(ws, "_stream", None)  # trio-websocket may leave the TCP socket open
                if stream is not None:
                    with trio.CancelScope(shield=True):
                        await trio.aclose_forcefully(stream)

    async def _heartbeat(self, ws: WebSocketConnection, scope: trio.CancelScope) -> None:
        tick = min(self.ping_every_s, max(0.05, self.stall_s / 4))
        last_ping = trio.current_time()
        while True:
            await trio.sleep(tick)
            now = trio.current_time()
            silent = now - self._last_rx
            if silent > self.stall_s or self._unanswered_pings >= 2:
                self.stats.last_error = (f"stalled: nothing heard for {silent:.1f}s" if silent > self.stall_s
                                         else "two pings unanswered")
                scope.cancel()
                await ws.aclose()
                return
            if now - last_ping >= self.ping_every_s:
                last_ping = now
                self._unanswered_pings += 1
                self.stats.pings += 1
                await ws.send_message(PING)

    async def _reader(self, ws: WebSocketConnection) -> None:
        decode = wire.decode_frame
        while True:
            raw = await ws.get_message()
            recv_ns = time.perf_counter_ns()
            self._last_rx = trio.current_time()
            self.stats.frames += 1
            try:
                frame = decode(raw)
            except wire.UnknownChannel:
                self.stats.unknown_channels += 1
                continue
            except wire.Malformed as e:
                self._malformed(raw, e)
                continue
            if isinstance(frame, wire.PongFrame):
                self._unanswered_pings = 0
                self.stats.pongs += 1
                continue
            if isinstance(frame, wire.ErrorFrame):
                self.stats.error_frames += 1
                self._warn_once("error:" + str(frame.data)[:40], f"Hyperliquid WebSocket error: {frame.data!r:.200}")
                continue
            try:
                self.on_frame(frame, recv_ns)
            except Exception as e:  # noqa: BLE001 - a frame we cannot use is dropped, never fatal
                log.exception("Hyperliquid frame could not be handled")
                self._malformed(raw, e)

    def _malformed(self, raw: Any, why: object) -> None:
        self.stats.malformed += 1
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        self._warn_once(type(why).__name__ + str(why)[:60],
                        f"malformed Hyperliquid frame dropped ({self.stats.malformed} so far): {why}: {text:.200}")

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", text)

    async def send(self, obj: Any) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send_message(json.dumps(obj))
            return True
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
