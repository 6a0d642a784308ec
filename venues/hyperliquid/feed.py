"""One Hyperliquid WebSocket connection that stays up: subscribe, ping, detect stalls,
reconnect, resubscribe. The trading venue and the market-data recorder both use it.

Why each piece:
- **One deadline over connect, TLS and the upgrade.** trio-websocket's own timeouts do
  not bound a peer that accepts TCP and then says nothing, and ``open_websocket_url``
  leaves the socket open when the upgrade is cut short; so the TCP (and TLS) stream is
  opened here, under ``fail_after``, and always closed here.
- **Application ping** every ``ping_every_s`` (the server drops a connection idle for
  60 s, whatever flows the other way), answered by ``{"channel":"pong"}``.
- **Stall detection**: nothing at all heard for ``stall_s``, or ``max_missed_pongs``
  pings unanswered, means the link is dead though TCP may not know it yet: drop it and
  reconnect.
- **Reconnect** with jittered exponential backoff (reset by a session that carried
  data), then re-send every subscription (there is no resume token). ``on_connected``
  tells the owner, which reconciles: the data missed meanwhile is not replayed except
  the userFills snapshot.
- **Malformed frames** are counted and logged once per kind with the frame's start,
  then dropped: never fatal.
"""
from __future__ import annotations

import json
import logging
import random
import ssl
import time
import urllib.parse
from typing import Any, Callable

import msgspec
import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, wrap_client_stream

from venues.hyperliquid import wire
from venues.ws_errors import describe

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
PING = json.dumps({"method": "ping"})
GREETING = "Websocket connection established."  # the SDK skips it (hyperliquid.md §1.1)
LOST = (ConnectionClosed, HandshakeError, OSError, trio.TooSlowError, trio.BrokenResourceError,
        trio.ClosedResourceError)


class Stalled(Exception):
    """The connection is open but nothing (or no pong) comes back."""


class FeedStats(msgspec.Struct, kw_only=True):
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    stalls: int = 0
    frames: int = 0
    malformed: int = 0
    ignored: int = 0  # well-formed but of no use here: channels never subscribed, the greeting
    error_frames: int = 0
    pings: int = 0
    pongs: int = 0
    last_error: str = ""


def endpoint(url: str) -> tuple[str, int, str, ssl.SSLContext | None]:
    """(host, port, path, TLS context or None) of a ws:// or wss:// URL; ValueError if not one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    tls = ssl.create_default_context() if parts.scheme == "wss" else None
    port = parts.port or (443 if tls is not None else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path, tls


class Feed:
    """Keeps one connection to ``url`` alive with ``subscriptions`` on it.

    ``on_frame(frame, recv_ns, raw)`` gets every message but pongs, on the trio thread (it
    must not block): the decoded frame, or None for one that did not decode (already
    counted here), with the raw text. ``on_connected(first)`` runs once every
    subscription of a (re)connect is acknowledged (or ``ack_timeout_s`` after they were
    sent, with a warning): a reconcile that reads the account before the feed is live
    could miss what happens in between. ``on_lost(why)`` runs after a session that had
    connected ends.
    """

    def __init__(self, url: str, subscriptions: list[dict[str, Any]],
                 on_frame: Callable[[Any, int, str | bytes], None],
                 on_connected: Callable[[bool], None] | None = None, *,
                 ping_every_s: float = 20.0, stall_s: float = 10.0, max_missed_pongs: int = 2,
                 connect_timeout_s: float = 10.0, first_connect_s: float | None = 8.0,
                 backoff_min_s: float = 0.2, backoff_max_s: float = 30.0, ack_timeout_s: float = 5.0,
                 on_lost: Callable[[str], None] | None = None, rng: random.Random | None = None) -> None:
        self.url = url
        self.endpoint = endpoint(url)  # a bad URL fails here, not in the reconnect loop
        self.subscriptions = subscriptions
        self.on_frame = on_frame
        self.on_connected = on_connected
        self.on_lost = on_lost
        self.ping_every_s = ping_every_s
        self.stall_s = stall_s
        self.max_missed_pongs = max_missed_pongs
        self.ack_timeout_s = ack_timeout_s
        self._acks_left = 0
        self._connected_pending: bool | None = None  # on_connected(first) waiting for the acks
        self._ack_deadline = float("inf")
        self.connect_timeout_s = connect_timeout_s
        self.first_connect_s = first_connect_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.stats = FeedStats()
        self.connected = False
        self._rng = rng or random.Random()
        self._unanswered_pings = 0
        self._carried_data = False
        self._warned: set[str] = set()
        self._ws: WebSocketConnection | None = None

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Connect (reporting started after the first subscribe), then stay connected.
        Gives up only if the very first connect fails for ``first_connect_s`` (None:
        never)."""
        give_up = None if self.first_connect_s is None else time.monotonic() + self.first_connect_s
        started = False
        failures = 0

        def report_started() -> None:
            nonlocal started, give_up
            if not started:
                started, give_up = True, None
                task_status.started()

        while True:
            was_connected = self.stats.connects
            try:
                await self._session(report_started, give_up)
                why = "the session ended"
            except* Stalled as eg:
                self.stats.stalls += 1
                why = str(eg.exceptions[0])
            except* LOST as eg:
                why = describe(_leaf(eg))
            self.connected = False
            self._ws = None
            self.stats.last_error = why
            if self.stats.connects == was_connected:
                self.stats.connect_failures += 1
                if give_up is not None and time.monotonic() >= give_up:
                    raise ConnectionError(f"could not connect to {self.url}: {why}")
            else:
                log.warning("Hyperliquid WebSocket lost (%s); reconnecting", why)
                if self.on_lost is not None:
                    self.on_lost(why)
            failures = 0 if self._carried_data else failures + 1
            delay = min(self.backoff_max_s, self.backoff_min_s * 2 ** failures) * (0.8 + 0.4 * self._rng.random())
            if give_up is not None:
                delay = max(0.0, min(delay, give_up - time.monotonic()))
            await trio.sleep(delay)

    async def _session(self, report_started: Callable[[], None], give_up: float | None) -> None:
        """One connection, until it fails."""
        self._carried_data = False
        host, port, resource, tls = self.endpoint
        budget = self.connect_timeout_s
        if give_up is not None:
            budget = max(0.05, min(budget, give_up - time.monotonic()))
        stream: trio.abc.Stream | None = None
        try:
            async with trio.open_nursery() as nursery:
                with trio.fail_after(budget):
                    if tls is None:
                        stream = await trio.open_tcp_stream(host, port)
                    else:
                        stream = await trio.open_ssl_over_tcp_stream(host, port, ssl_context=tls,
                                                                     https_compatible=True)
                    host_header = host if port in (80, 443) else f"{host}:{port}"
                    ws = await wrap_client_stream(nursery, stream, host_header, resource,
                                                  max_message_size=MAX_MESSAGE_BYTES)
                    for sub in self.subscriptions:
                        await ws.send_message(json.dumps({"method": "subscribe", "subscription": sub}))
                first = self.stats.connects == 0
                self.stats.connects += 1
                if not first:
                    self.stats.reconnects += 1
                self._ws = ws
                self.connected = True
                report_started()
                self._acks_left = len(self.subscriptions)
                self._connected_pending = first
                self._ack_deadline = trio.current_time() + self.ack_timeout_s
                if self._acks_left == 0:
                    self._fire_connected()
                try:
                    await self._live(ws)
                finally:
                    nursery.cancel_scope.cancel()  # the connection's reader task
        finally:
            if stream is not None:
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)

    def _fire_connected(self) -> None:
        first, self._connected_pending = self._connected_pending, None
        self._ack_deadline = float("inf")
        if first is not None and self.on_connected is not None:
            self.on_connected(first)

    async def _live(self, ws: WebSocketConnection) -> None:
        """Receive until the connection fails or stalls, pinging on the way. One task:
        waiting for a message is cancel-safe, so it simply times out."""
        now = trio.current_time()
        last_rx, next_ping = now, now + self.ping_every_s
        self._unanswered_pings = 0
        while True:
            now = trio.current_time()
            if now >= self._ack_deadline:
                log.warning("Hyperliquid WebSocket: %d subscription(s) unacknowledged after %.1fs; going on",
                            self._acks_left, self.ack_timeout_s)
                self._fire_connected()
            if now - last_rx >= self.stall_s:
                raise Stalled(f"stalled: nothing heard for {now - last_rx:.1f}s")
            if now >= next_ping:
                if self._unanswered_pings >= self.max_missed_pongs:
                    raise Stalled(f"stalled: {self._unanswered_pings} pings unanswered")
                self._unanswered_pings += 1
                self.stats.pings += 1
                next_ping = now + self.ping_every_s
                await ws.send_message(PING)
            with trio.move_on_after(min(next_ping, last_rx + self.stall_s, self._ack_deadline) - now):
                raw = await ws.get_message()
                last_rx = trio.current_time()
                self._on_message(raw)

    def _on_message(self, raw: str | bytes) -> None:
        recv_ns = time.perf_counter_ns()
        self.stats.frames += 1
        frame: Any = None
        try:
            frame = wire.decode_frame(raw)
        except wire.UnknownChannel:
            self.stats.ignored += 1
        except wire.Malformed as e:
            if raw == GREETING:
                self.stats.ignored += 1
            else:
                self._malformed(raw, e)
        if isinstance(frame, wire.PongFrame):
            self._unanswered_pings = 0
            self.stats.pongs += 1
            return
        if isinstance(frame, wire.ErrorFrame):
            self.stats.error_frames += 1
            self.stats.last_error = f"venue error: {frame.data}"
            self._warn_once("error:" + str(frame.data)[:40], f"Hyperliquid WebSocket error: {frame.data!r:.200}")
        elif isinstance(frame, wire.SubscribedFrame):
            if self._connected_pending is not None and getattr(frame.data, "get", None) is not None \
                    and frame.data.get("method") == "subscribe":
                self._acks_left -= 1
                if self._acks_left <= 0:
                    self._fire_connected()
        elif frame is not None:
            self._carried_data = True
        try:
            self.on_frame(frame, recv_ns, raw)
        except Exception as e:  # a frame we cannot use is dropped, never fatal
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


def _leaf(eg: BaseExceptionGroup) -> BaseException:
    e: BaseException = eg
    while isinstance(e, BaseExceptionGroup):
        e = e.exceptions[0]
    return e
