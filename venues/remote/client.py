"""``RemoteSimVenue``: the venue behind the gateway is ``makerhive sim-server``, over a WebSocket.

A runtime service (``serve``) on the venue runtime's trio thread:

- **Connect, then start.** It connects to ``cfg.remote.url`` (connect and hello under
  one outer deadline: trio-websocket's own timeout does not bound a silent peer) and
  waits for the server's ``hello`` before it reports started, so the actors start only
  once the venue is reachable; it gives up (the runtime fails to start) if the server
  cannot be reached within ``first_connect_s``.
- **One clock.** On every hello the runtime clock (a ``MockClock``) jumps forward to the
  server's, so venue timestamps and the runtime clock agree: the fill-sync watermark
  and the stale-book guard compare them. Pongs carry the server clock too; a lag beyond
  ``clock_tolerance_s`` is corrected forward the same way (a clock cannot go back: a
  client ahead of the server, e.g. run at a higher speed, is reported, not corrected).
- **Frames to the gateway.** Books go to ``deliver_book``, trades to ``deliver_trade``,
  account events (``VenueBatch``) to ``deliver``, replies to the request waiting for
  their id. A malformed frame is counted and dropped, never fatal.
- **Liveness.** An application ping every ``ping_every_s``; nothing heard for
  ``stall_s`` means the link is dead (half-open): drop it and reconnect, with jittered
  exponential backoff. After every reconnect each asset's order actor is told
  (``gateway.reconnected``) and reconciles.

The VenueCore methods: ``send`` is fire and forget (while disconnected, the commands
are answered at once with a reject each: they never left); the requests await the
reply with their id and raise ``VenueRequestFailed`` on an error reply, a lost
connection or no reply within ``request_timeout_s``.

All durations here are **real seconds**; the runtime clock runs ``speed`` times faster,
so they are scaled by the clock's rate before trio sees them.
"""
from __future__ import annotations

import logging
import math
import random
import time
from typing import Any, Callable

import msgspec
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from config import Config
from messages.market import BookSnapshot, Trade
from messages.orders import AccountSnapshot, CancelOrders, Fill, OpenOrder, OrderReject, PlaceOrders, VenueBatch
from messages.validity import bad_fill, bad_open_order, finite
from venues.edge import EdgeCheck
from venues.gateway import Gateway
from venues.remote import protocol as p
from venues.runtime import VenueRequestFailed, VenueUnavailable
from venues.ws_errors import describe as _describe

log = logging.getLogger(__name__)

MESSAGE_QUEUE = 256  # trio-websocket's receive queue; the reader only decodes and routes
OUT_QUEUE_MAX = 20_000  # frames waiting for the socket before we call the link dead


class ConfigMismatch(Exception):
    """The server trades other assets (or with other sizes) than our config says."""


class _Pending:
    __slots__ = ("kind", "done", "value", "error")

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.done = trio.Event()
        self.value: Any = None
        self.error: str | None = None


class _Link:
    """One live connection: the frames waiting for its writer."""

    def __init__(self, session: int, scope: trio.CancelScope) -> None:
        self.session = session
        self.scope = scope
        self.send, self.recv = trio.open_memory_channel[str](OUT_QUEUE_MAX)
        self.dead = ""

    def push(self, text: str) -> bool:
        if self.dead:
            return False
        try:
            self.send.send_nowait(text)
            return True
        except trio.WouldBlock:
            self.kill("send queue full")
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self.kill("closed")
        return False

    def kill(self, why: str) -> None:
        self.dead = self.dead or why
        self.scope.cancel()


class RemoteStats(msgspec.Struct, kw_only=True):
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    frames_in: int = 0
    malformed: int = 0
    stale_replies: int = 0
    unsent: int = 0  # commands answered locally because no connection was up
    clock_jumps: int = 0
    clock_jumped_s: float = 0.0
    rtt_s: float = float("nan")  # last ping round trip, runtime-clock seconds
    last_error: str = ""


class RemoteSimVenue:
    name = "remote-sim"

    # real seconds
    connect_timeout_s = 2.0
    hello_timeout_s = 2.0
    first_connect_s = 8.0  # the runtime waits 10 s for its services to start
    request_timeout_s = 10.0
    ping_every_s = 0.5
    stall_s = 4.0
    disconnect_timeout_s = 1.0
    backoff_min_s = 0.1
    backoff_max_s = 5.0
    backoff_reset_s = 10.0  # a session that lasted this long resets the backoff
    # runtime-clock seconds
    clock_tolerance_s = 0.25

    def __init__(self, cfg: Config, gateway: Gateway, *, url: str | None = None) -> None:
        self.cfg = cfg
        self.gateway = gateway
        self.url = url or cfg.remote.url
        self.assets = tuple(cfg.portfolio.assets)
        self.stats = RemoteStats()
        self.edge = EdgeCheck("remote-sim")  # frames from another process: checked before use
        self.server_speed: float | None = None
        self.session = 0
        self._index: dict[str, int] = {}
        self._link: _Link | None = None
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._nonce = 0
        self._last_rx = 0.0
        self._rate = 1.0
        self._decoder = p.client_decoder()
        self._rng = random.Random()
        self._warned_ahead = False
        gateway.attach(self)

    @property
    def connected(self) -> bool:
        return self._link is not None

    def _rt(self, real_s: float) -> float:
        return real_s * self._rate

    def _event(self, kind: str, text: str) -> None:
        board = self.gateway.board
        if board is not None:
            board.event(trio.current_time(), kind, "*", text)

    # -- the service ---------------------------------------------------------------------------
    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        rate = getattr(trio.lowlevel.current_clock(), "rate", 1.0)
        self._rate = rate if rate and rate > 0 else 1.0
        give_up = time.monotonic() + self.first_connect_s
        started = False
        failures = 0
        live = False  # the current session got as far as its hello

        def ready() -> None:
            nonlocal started, live
            live = True
            if not started:
                started = True
                task_status.started()
            else:
                now = trio.current_time()
                for asset in self.assets:  # each order actor reconciles before it trusts its map
                    self.gateway.reconnected(asset, now)

        while True:
            began = time.monotonic()
            live = False
            errors: list[BaseException] = []
            try:
                await self._session(ready, None if started else give_up)
            except* ConfigMismatch as eg:
                if not started:
                    raise
                errors.extend(eg.exceptions)
            except* Exception as eg:
                errors.extend(eg.exceptions)
            why = _describe(errors[0]) if errors else (self.stats.last_error or "connection closed")
            self.stats.last_error = why
            if self.session and time.monotonic() - began >= self.backoff_reset_s:
                failures = 0
            if not started:
                self.stats.connect_failures += 1
                if time.monotonic() >= give_up:
                    raise VenueUnavailable(f"sim server at {self.url} unreachable: {why}")
            log.warning("venue connection to %s lost or failed: %s", self.url, why)
            if live:
                self._event("info", f"venue connection lost: {why}; reconnecting")
            delay = min(self.backoff_max_s, self.backoff_min_s * 2 ** failures) * (1 + 0.2 * self._rng.random())
            failures += 1
            if not started:
                delay = max(0.0, min(delay, give_up - time.monotonic()))
            await trio.sleep(self._rt(delay))

    async def _session(self, ready: Callable[[], None], give_up: float | None) -> None:
        budget = self.connect_timeout_s + self.hello_timeout_s + 1.0
        if give_up is not None:
            budget = max(0.05, min(budget, give_up - time.monotonic()))
        opened: list[WebSocketConnection] = []
        try:
            await self._run_session(ready, budget, opened)
        finally:
            for ws in opened:
                await _close_tcp(ws)

    async def _run_session(self, ready: Callable[[], None], budget: float, opened: list[WebSocketConnection]) -> None:
        with trio.fail_after(self._rt(budget)) as guard:
            async with open_websocket_url(self.url, message_queue_size=MESSAGE_QUEUE,
                                          max_message_size=p.MAX_MESSAGE_BYTES,
                                          connect_timeout=self._rt(self.connect_timeout_s),
                                          disconnect_timeout=self._rt(self.disconnect_timeout_s)) as ws:
                opened.append(ws)
                hello = await self._read_hello(ws)
                guard.deadline = math.inf
                link: _Link | None = None
                try:
                    self._on_hello(hello)
                    async with trio.open_nursery() as nursery:
                        link = _Link(hello.session, nursery.cancel_scope)
                        self._link = link
                        self._last_rx = trio.current_time()
                        nursery.start_soon(self._writer, ws, link)
                        nursery.start_soon(self._heartbeat, link)
                        ready()
                        await self._reader(ws)
                finally:
                    if link is not None and link.dead:
                        self.stats.last_error = link.dead
                    self._link = None
                    self._fail_pending("connection to the venue lost")
                    # closing must not hang on a dead peer either
                    guard.deadline = trio.current_time() + self._rt(self.disconnect_timeout_s + 1.0)

    async def _read_hello(self, ws: WebSocketConnection) -> p.Hello:
        while True:
            raw = await ws.get_message()
            try:
                frame = self._decoder.decode(raw)
            except p.Malformed as e:
                self._malformed(raw, e)
                continue
            if isinstance(frame, p.Hello):
                return frame
            self._malformed(raw, "a frame before the server's hello")

    def _on_hello(self, hello: p.Hello) -> None:
        if hello.version != p.PROTOCOL_VERSION:
            raise ConfigMismatch(f"server speaks protocol {hello.version}, we speak {p.PROTOCOL_VERSION}")
        served = {a.name: a for a in hello.assets}
        missing = [a for a in self.assets if a not in served]
        if missing:
            raise ConfigMismatch(f"the sim server does not trade {missing} (it trades {sorted(served)})")
        for a in self.assets:
            ours = self.cfg.assets[a].market.sz_decimals
            if served[a].sz_decimals != ours:
                raise ConfigMismatch(f"{a}: the server's szDecimals is {served[a].sz_decimals}, our config's {ours}")
        self._index = {a: served[a].index for a in self.assets}
        self.session = hello.session
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        if self.server_speed is None and abs(hello.speed - self._rate) > 1e-9 * max(1.0, hello.speed):
            log.warning("sim server runs at speed %g, this runtime at %g: clocks will drift", hello.speed, self._rate)
            self._event("info", f"sim server speed x{hello.speed:g} differs from ours x{self._rate:g}")
        first = self.server_speed is None
        self.server_speed = hello.speed
        # before the actors start any lag is worth removing; later only a real one
        self._align(hello.now, 0.0 if first else self.clock_tolerance_s, latest=hello.now + self._rt(0.5))

    def _align(self, server_now: float, tolerance: float, latest: float) -> None:
        """Move the runtime clock forward to the server's (never back). ``server_now`` is
        the server's clock when it sent the frame, so at most its clock now: the runtime
        clock may end up behind the venue's by the one-way delay, never ahead of it.
        ``latest`` bounds the server's clock now from above (its time plus the round
        trip): only beyond it is our clock really ahead."""
        now = trio.current_time()
        ahead = server_now - now
        if ahead > tolerance:
            clock = trio.lowlevel.current_clock()
            jump = getattr(clock, "jump", None)
            if jump is None:
                log.warning("the runtime clock cannot jump: venue time is %.3fs ahead", ahead)
                return
            jump(ahead)
            self.stats.clock_jumps += 1
            self.stats.clock_jumped_s += ahead
            self._last_rx = trio.current_time()  # the jump is not silence
        elif now - latest > self.clock_tolerance_s and not self._warned_ahead:
            self._warned_ahead = True
            log.warning("runtime clock is %.3fs ahead of the venue's", now - latest)
            self._event("info", f"our clock runs {now - latest:.2f}s ahead of the venue's")

    async def _writer(self, ws: WebSocketConnection, link: _Link) -> None:
        async for text in link.recv:
            await ws.send_message(text)

    async def _heartbeat(self, link: _Link) -> None:
        while True:
            await trio.sleep(self._rt(self.ping_every_s))
            now = trio.current_time()
            silent = now - self._last_rx
            if silent > self._rt(self.stall_s):
                link.kill(f"nothing heard from the venue for {silent / self._rate:.1f}s")  # half-open: drop it
                return
            self._nonce += 1
            link.push(p.encode(p.Ping(nonce=self._nonce, ts=now)))

    async def _reader(self, ws: WebSocketConnection) -> None:
        decoder = self._decoder
        while True:
            raw = await ws.get_message()
            self._last_rx = trio.current_time()
            self.stats.frames_in += 1
            try:
                frame = decoder.decode(raw)
            except p.Malformed as e:
                self._malformed(raw, e)
                continue
            try:
                self._dispatch(frame)
            except Exception as e:  # a frame we cannot use is dropped, never fatal
                log.exception("venue frame could not be handled")
                self._malformed(raw, e)

    def _malformed(self, raw: Any, why: object) -> None:
        self.stats.malformed += 1
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        log.warning("malformed venue frame dropped (%d so far): %s: %.200s", self.stats.malformed, why, text)

    def _dispatch(self, frame: Any) -> None:
        if isinstance(frame, (BookSnapshot, Trade, VenueBatch)):
            frame = self.edge.item(frame)
            if frame is None:
                return
        if isinstance(frame, BookSnapshot):
            self.gateway.deliver_book(frame)
        elif isinstance(frame, Trade):
            self.gateway.deliver_trade(frame)
        elif isinstance(frame, VenueBatch):
            self.gateway.deliver(frame.asset, frame)
        elif isinstance(frame, p.Reply):
            self._on_reply(frame)
        elif isinstance(frame, p.Pong):
            rtt = max(0.0, trio.current_time() - frame.ts)
            self.stats.rtt_s = rtt
            # the server's clock now is at least what it sent: a lower bound never
            # pushes ours past the venue's, however late the pong was read
            self._align(frame.now, self.clock_tolerance_s, latest=frame.now + rtt)
        else:  # a second hello
            raise ValueError(f"unexpected {type(frame).__name__} in an established session")

    def _on_reply(self, reply: p.Reply) -> None:
        pending = self._pending.get(reply.id)
        if pending is None:
            self.stats.stale_replies += 1  # its caller gave up
            return
        if reply.error is not None:
            pending.error = reply.error
        else:
            try:
                pending.value = p.decode_value(pending.kind, reply.value)
            except p.Malformed as e:
                self.stats.malformed += 1
                pending.error = f"malformed reply: {e}"
        pending.done.set()

    def _fail_pending(self, why: str) -> None:
        for pending in self._pending.values():
            if not pending.done.is_set():
                pending.error = why
                pending.done.set()

    # -- VenueCore ---------------------------------------------------------------------------------
    def send(self, cmds: tuple[CancelOrders | PlaceOrders, ...]) -> None:
        """Commands for one asset, sent together and applied in order (fire and forget)."""
        if not cmds:
            return
        link = self._link
        if link is not None and link.push(p.encode(p.Commands(cmds=tuple(cmds)))):
            return
        self._reject_unsent(cmds, "not sent: no connection to the venue")

    def _reject_unsent(self, cmds: tuple[CancelOrders | PlaceOrders, ...], why: str) -> None:
        """Commands that never left are answered here, so nothing waits for them: a
        placement is gone, a cancel leaves its order resting (and known)."""
        self.stats.unsent += 1
        now = trio.current_time()
        asset = cmds[0].asset
        rejects = [OrderReject(asset, o.cloid, why, now) for c in cmds if isinstance(c, PlaceOrders) for o in c.orders]
        rejects += [OrderReject(asset, cl, why, now) for c in cmds if isinstance(c, CancelOrders) for cl in c.cloids]
        if rejects:
            self.gateway.deliver(asset, VenueBatch(asset, now, tuple(rejects)))

    async def _request(self, make: Callable[[int], p.Request]) -> Any:
        link = self._link
        if link is None:
            raise VenueRequestFailed(f"no connection to the venue ({self.stats.last_error or 'not connected'})")
        rid = self._next_id
        self._next_id += 1
        req = make(rid)
        pending = _Pending(type(req))
        self._pending[rid] = pending
        try:
            if not link.push(p.encode(req)):
                raise VenueRequestFailed(f"connection to the venue lost ({link.dead})")
            with trio.move_on_after(self._rt(self.request_timeout_s)):
                await pending.done.wait()
        finally:
            self._pending.pop(rid, None)
        if not pending.done.is_set():
            raise VenueRequestFailed(f"{p.request_kind(req)}: no reply within {self.request_timeout_s:g}s")
        if pending.error is not None:
            raise VenueRequestFailed(pending.error)
        return pending.value

    async def cancel_all(self, asset: str) -> int:
        return await self._request(lambda i: p.CancelAllRequest(id=i, asset=asset))

    async def open_orders(self, asset: str) -> tuple[OpenOrder, ...]:
        return self._usable_orders(await self._request(lambda i: p.OpenOrdersRequest(id=i, asset=asset)))

    async def position(self, asset: str) -> float:
        return self._usable_position(await self._request(lambda i: p.PositionRequest(id=i, asset=asset)))

    async def fills(self, asset: str, since_ts: float) -> tuple[Fill, ...]:
        return self._usable_fills(await self._request(lambda i: p.FillsRequest(id=i, asset=asset, since=since_ts)))

    async def snapshot(self, asset: str, since_ts: float) -> AccountSnapshot:
        wire: p.WireAccount = await self._request(lambda i: p.SnapshotRequest(id=i, asset=asset, since=since_ts))
        snap = wire.to_snapshot()
        self._usable_position(snap.position)
        self._usable_orders(snap.open_orders)
        return msgspec.structs.replace(snap, fills=self._usable_fills(snap.fills))

    # A reconciliation read is all or nothing: an unusable position or open order fails
    # it (and it is retried) rather than half-trusted; an unusable fill is dropped (the
    # next fill sync asks again).
    def _usable_position(self, x: Any) -> float:
        if not finite(x):
            self.edge._drop("position", "*", f"{x!r} is not a finite number")
            raise VenueRequestFailed(f"unusable position {x!r} from the venue")
        return x

    def _usable_orders(self, orders: tuple[OpenOrder, ...]) -> tuple[OpenOrder, ...]:
        for o in orders:
            why = bad_open_order(o)
            if why:
                self.edge._drop("open order", o.asset, why)
                raise VenueRequestFailed(f"unusable open order {o.cloid} from the venue: {why}")
        return orders

    def _usable_fills(self, fills: tuple[Fill, ...]) -> tuple[Fill, ...]:
        kept = tuple(f for f in fills if not bad_fill(f))
        for f in fills:
            if bad_fill(f):
                self.edge._drop("fill", f.asset, bad_fill(f))
        return kept

    async def schedule_cancel(self, at: float | None) -> str | None:
        """The venue's dead-man's switch: cancel everything at ``at`` unless renewed
        (``None`` clears it). None if accepted, else the venue's refusal."""
        if at is not None and not math.isfinite(at):
            return f"scheduled cancel time must be a finite number, not {at!r}"  # JSON null would clear it
        return await self._request(lambda i: p.ScheduleCancelRequest(id=i, at=at))

    def asset_index(self, asset: str) -> int:
        try:
            return self._index[asset]
        except KeyError:
            raise VenueUnavailable(f"asset index of {asset!r} unknown: no hello from the venue yet") from None


async def _close_tcp(ws: WebSocketConnection) -> None:
    """Make sure the TCP connection is closed. trio-websocket 0.12 leaves a client's
    socket open when the *server* closed the WebSocket (it waits for the server's TCP
    close, then its ``aclose`` returns early), to be found by the garbage collector."""
    stream = getattr(ws, "_stream", None)
    if stream is not None:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)
