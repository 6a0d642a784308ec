"""``makerhive sim-server``: the simulated exchange in its own process, over a WebSocket.

The same matching engine as the embedded sim (``venues.sim.engine.SimExchange``) on its
own trio loop and clock (``MockClock(rate=speed)``): the market advances every
``sim.step_s``, each asset's book is pushed every ``sim.book_interval_s`` (its own beat),
and the sim's latency model (``venues.sim.latency``) delays both directions: commands
and requests reach the engine ``order_s()`` after they arrive, answers leave
``ack_s()`` after, books ``feed_s()`` late. Each asset's wire is FIFO, as in the
embedded sim. Public trades go out as they print.

**The account lives here**, not in the connection: orders, positions and the
scheduled cancel survive a client's disconnect or death. A killed client's orders keep
resting until cancelled or until the dead-man's switch (``schedule_cancel``) fires.
One trading client at a time: a new connection replaces the old one (answers to the
old connection's requests are dropped; its commands already on the wire still reach
the engine, as they would at a real exchange).

The admin door (``ws://HOST:PORT/admin``) answers ``{"admin": "state"}`` with what
the venue holds, for tests that watch from outside: the server clock, open orders and
positions per asset, the scheduled cancel, every firing of the dead-man's switch, and
the log of the request kinds the current trading client sent, in order.

Listens on 127.0.0.1 only and prints ``listening on ws://127.0.0.1:PORT`` once ready.
"""
from __future__ import annotations

import argparse
import functools
import logging
import math
import signal
import sys
import time
from typing import Any

import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from config import Config
from messages.market import BookSnapshot, Trade
from messages.orders import AccountSnapshot, CancelOrders, OrderCancelled, OrderReject, PlaceOrders, VenueBatch
from venues.remote import protocol as p
from venues.sim.engine import SCHEDULED_CANCEL_REASON, SimExchange
from venues.sim.latency import LatencyModel
from venues.sim.venue import DelayLine

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost")
BIND_HOST = "127.0.0.1"
OUT_QUEUE_MAX = 20_000  # frames waiting for a slow client before we drop it
REQUEST_LOG_MAX = 20_000  # entries of the current client's request log kept
MESSAGE_QUEUE = 64  # trio-websocket's receive queue (the reader only decodes and routes)
CONNECT_TIMEOUT_S = 5.0  # real seconds for a WebSocket handshake
DISCONNECT_TIMEOUT_S = 1.0


class _Client:
    """The trading client's connection: an outbound queue drained by one writer task."""

    def __init__(self, gen: int, ws: WebSocketConnection, now: float) -> None:
        self.gen = gen
        self.ws = ws
        self.connected_at = now
        self.scope = trio.CancelScope()
        self.send, self.recv = trio.open_memory_channel[str](OUT_QUEUE_MAX)
        self.requests: list[dict[str, Any]] = []
        self.requests_dropped = 0
        self.closed_why = ""

    def push(self, text: str) -> None:
        try:
            self.send.send_nowait(text)
        except trio.WouldBlock:
            self.close("client too slow: send queue full")
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def close(self, why: str) -> None:
        if not self.closed_why:
            self.closed_why = why
        self.scope.cancel()

    def note(self, kind: str, asset: str, ts: float) -> None:
        if len(self.requests) < REQUEST_LOG_MAX:
            self.requests.append({"kind": kind, "asset": asset, "ts": ts})
        else:
            self.requests_dropped += 1


class SimServer:
    """The engine, its clock-driven loops, and the WebSocket doors to it."""

    def __init__(self, cfg: Config, seed: int | None = None, speed: float = 1.0) -> None:
        self.cfg = cfg
        self.speed = float(speed)
        self.engine = SimExchange(cfg, seed if seed is not None else cfg.run.seed)
        self.latency = LatencyModel(cfg.sim, self.engine.seed)
        self.assets: tuple[str, ...] = tuple(cfg.portfolio.assets)
        self.asset_info = tuple(p.AssetInfo(a, self.engine.asset_index(a), self.engine.sz_decimals(a))
                                for a in self.assets)
        self._wire_in: dict[str, DelayLine] = {}
        self._wire_out: dict[str, DelayLine] = {}
        self._feed: dict[str, DelayLine] = {}
        self._seq = 0
        self._decoder = p.server_decoder()
        self._admin_decoder = p.admin_decoder()
        self.client: _Client | None = None  # the connected trading client
        self.latest: _Client | None = None  # the latest one, connected or not (its log stays readable)
        self.sessions = 0
        self.malformed = 0
        self.dms_fired: list[dict[str, Any]] = []
        self.port: int | None = None

    def _rt(self, real_s: float) -> float:
        """Real seconds in this loop's clock (which runs ``speed`` times real time)."""
        return real_s * self.speed

    # -- the service ------------------------------------------------------------------------
    async def run(self, host: str = BIND_HOST, port: int = 0,
                  task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the sim server listens on 127.0.0.1 only, not {host!r}")
        async with trio.open_nursery() as nursery:
            for asset in self.assets:
                self._wire_in[asset] = DelayLine(self._arrive)
                self._wire_out[asset] = DelayLine(self._depart)
                self._feed[asset] = DelayLine(self._push_book)
                nursery.start_soon(self._wire_in[asset].run)
                nursery.start_soon(self._wire_out[asset].run)
                nursery.start_soon(self._feed[asset].run)
            self.engine.advance(trio.current_time())
            n = len(self.assets)
            for i, asset in enumerate(self.assets):
                self._publish_book(asset)
                nursery.start_soon(self._book_loop, asset, i * self.cfg.sim.book_interval_s / n)
            nursery.start_soon(self._market_loop)
            serve = functools.partial(
                serve_websocket, self._handle, BIND_HOST, port, None, handler_nursery=nursery,
                message_queue_size=MESSAGE_QUEUE, max_message_size=p.MAX_MESSAGE_BYTES,
                connect_timeout=self._rt(CONNECT_TIMEOUT_S), disconnect_timeout=self._rt(DISCONNECT_TIMEOUT_S))
            server = await nursery.start(serve)
            self.port = server.port
            task_status.started(self.port)

    async def _market_loop(self) -> None:
        step = self.cfg.sim.step_s
        while True:
            await trio.sleep(step)
            now = trio.current_time()
            armed, _ = self.engine.schedule_cancel_state()
            by_asset: dict[str, list[Any]] = {}
            swept = 0
            for ev in self.engine.advance(now):
                if isinstance(ev, Trade):
                    self._push(ev)
                    continue
                if isinstance(ev, OrderCancelled) and ev.reason == SCHEDULED_CANCEL_REASON:
                    swept += 1
                by_asset.setdefault(ev.asset, []).append(ev)
            if armed is not None and armed <= now:
                self.dms_fired.append({"at": armed, "ts": now, "wall": time.time(), "cancelled": swept})
                log.info("dead-man's switch fired at %.3f: %d order(s) cancelled", armed, swept)
            for asset, events in by_asset.items():
                # account events go to whoever is connected when they arrive
                self._wire_out[asset].put((None, VenueBatch(asset, now, tuple(events))), self.latency.ack_s())

    async def _book_loop(self, asset: str, offset: float) -> None:
        await trio.sleep(offset)
        while True:
            await trio.sleep(self.latency.book_interval_s())
            self._publish_book(asset)

    def _publish_book(self, asset: str) -> None:
        self._seq += 1
        snap = self.engine.book_snapshot(asset, trio.current_time(), self._seq)
        self._feed[asset].put(snap, self.latency.feed_s())

    # -- to the client ------------------------------------------------------------------------
    def _push(self, frame: Any) -> None:
        client = self.client
        if client is not None:
            client.push(p.encode(frame))

    def _push_book(self, snap: BookSnapshot) -> None:
        self._push(snap)

    def _depart(self, item: tuple[int | None, Any]) -> None:
        """An answer leaves the engine: to the connection that asked (``gen``), or, for
        the account's own events (``gen`` None), to whoever is connected."""
        gen, frame = item
        client = self.client
        if client is not None and (gen is None or gen == client.gen):
            client.push(p.encode(frame))

    def _answer(self, asset: str, gen: int, frame: Any) -> None:
        self._wire_out[asset].put((gen, frame), self.latency.ack_s())

    # -- at the matching engine -----------------------------------------------------------------
    def _arrive(self, item: tuple[str, int, Any]) -> None:
        kind, gen, payload = item
        try:
            if kind == "cmds":
                self._apply_commands(gen, payload)
            else:
                self._apply_request(gen, payload)
        except Exception as e:  # a failed request must never stop the venue
            self._failed(kind, gen, payload, e)

    def _apply_commands(self, gen: int, cmds: tuple[PlaceOrders | CancelOrders, ...]) -> None:
        now = trio.current_time()
        answers: list[Any] = []
        for cmd in cmds:  # a cancel and a place sent together: applied in order
            if isinstance(cmd, PlaceOrders):
                answers += self.engine.place(cmd.asset, cmd.orders, now)
            else:
                answers += self.engine.cancel(cmd.asset, cmd.cloids, now)
        if answers:
            self._answer(cmds[0].asset, gen, VenueBatch(cmds[0].asset, now, tuple(answers)))

    def _apply_request(self, gen: int, req: p.Request) -> None:
        now = trio.current_time()
        e = self.engine
        value: Any
        if isinstance(req, p.CancelAllRequest):
            cancelled = e.cancel_all(req.asset, now)
            if cancelled:  # the order actor hears about each cancel too, before the reply
                self._answer(req.asset, gen, VenueBatch(req.asset, now, tuple(cancelled)))
            value = len(cancelled)
        elif isinstance(req, p.OpenOrdersRequest):  # queries given ts= are requests: charged, failable
            value = e.open_orders(req.asset, ts=now)
        elif isinstance(req, p.PositionRequest):
            value = e.position(req.asset, ts=now)
        elif isinstance(req, p.FillsRequest):
            value = e.fills(req.asset, req.since, ts=now)
        elif isinstance(req, p.SnapshotRequest):  # one request: charged (and failable) once
            value = p.WireAccount.of(AccountSnapshot(
                req.asset, e.open_orders(req.asset, ts=now), e.position(req.asset), e.fills(req.asset, req.since),
                cash=e.cash(req.asset), mid=e.mid(req.asset), funding=e.funding(req.asset), ts=now))
        else:
            value = e.schedule_cancel(now, req.at)
        self._answer(self._asset_of(req), gen, p.Reply(id=req.id, value=p.encode_value(value)))

    def _failed(self, kind: str, gen: int, payload: Any, e: Exception) -> None:
        """Commands are answered with a reject per order or cancel (nothing left pending),
        requests with an error reply."""
        now = trio.current_time()
        if kind == "cmds":
            text = f"request failed: {e}"
            asset = payload[0].asset
            rejects = [OrderReject(c.asset, o.cloid, text, now) for c in payload if isinstance(c, PlaceOrders)
                       for o in c.orders]
            rejects += [OrderReject(c.asset, cl, text, now) for c in payload if isinstance(c, CancelOrders)
                        for cl in c.cloids]
            if rejects:
                self._answer(asset, gen, VenueBatch(asset, now, tuple(rejects)))
        else:
            self._answer(self._asset_of(payload), gen, p.Reply(id=payload.id, error=str(e) or type(e).__name__))

    def _asset_of(self, req: p.Request) -> str:
        """The wire a request travels on: its asset's (account-wide ones: the first asset's)."""
        return getattr(req, "asset", self.assets[0])

    # -- connections ------------------------------------------------------------------------------
    async def _handle(self, request: WebSocketRequest) -> None:
        try:
            path = request.path
            ws = await request.accept()
            if path.rstrip("/") == p.ADMIN_PATH:
                await self._admin(ws)
            else:
                await self._client_session(ws)
        except ConnectionClosed:
            pass
        except Exception:  # one bad connection must not stop the server
            log.exception("connection handler failed")

    async def _client_session(self, ws: WebSocketConnection) -> None:
        self.sessions += 1
        client = _Client(self.sessions, ws, trio.current_time())
        old, self.client = self.client, client
        self.latest = client
        if old is not None:
            old.close(f"replaced by session {client.gen}")
        log.info("client session %d connected from %s", client.gen, ws.remote)
        try:
            with client.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, client)
                    client.push(p.encode(p.Hello(now=trio.current_time(), speed=self.speed,
                                                 assets=self.asset_info, session=client.gen)))
                    await self._reader(client)
        except* ConnectionClosed:
            pass
        finally:
            if self.client is client:
                self.client = None
            if not client.closed_why:
                client.closed_why = "disconnected"
            client.send.close()
            with trio.CancelScope(shield=True), trio.move_on_after(self._rt(DISCONNECT_TIMEOUT_S)):
                await ws.aclose()
            log.info("client session %d ended%s", client.gen, f": {client.closed_why}" if client.closed_why else "")

    async def _writer(self, client: _Client) -> None:
        async for text in client.recv:
            await client.ws.send_message(text)

    async def _reader(self, client: _Client) -> None:
        while True:
            raw = await client.ws.get_message()
            try:
                frame = self._decoder.decode(raw)
            except p.Malformed as e:
                self._malformed(f"undecodable frame: {e}")
                continue
            self._on_frame(client, frame)

    def _malformed(self, why: str) -> None:
        self.malformed += 1
        log.warning("malformed frame dropped (%d so far): %s", self.malformed, why)

    def _on_frame(self, client: _Client, frame: Any) -> None:
        now = trio.current_time()
        if isinstance(frame, p.Ping):
            client.push(p.encode(p.Pong(nonce=frame.nonce, ts=frame.ts, now=now)))
        elif isinstance(frame, p.Commands):
            cmds = frame.cmds
            if not cmds or len({c.asset for c in cmds}) != 1 or cmds[0].asset not in self._wire_in:
                self._malformed(f"commands must name one known asset: {sorted({c.asset for c in cmds})}")
                return
            asset = cmds[0].asset
            for c in cmds:
                client.note("place" if isinstance(c, PlaceOrders) else "cancel", asset, now)
            self._wire_in[asset].put(("cmds", client.gen, cmds), self.latency.order_s())
        else:  # a request
            asset = getattr(frame, "asset", None)
            client.note(p.request_kind(frame), asset or "*", now)
            if asset is not None and asset not in self._wire_in:
                client.push(p.encode(p.Reply(id=frame.id, error=f"unknown asset {asset!r}; "
                                                                 f"the venue trades {list(self.assets)}")))
                return
            self._wire_in[self._asset_of(frame)].put(("req", client.gen, frame), self.latency.order_s())

    # -- the admin door ---------------------------------------------------------------------------
    async def _admin(self, ws: WebSocketConnection) -> None:
        while True:
            raw = await ws.get_message()
            try:
                req = self._admin_decoder.decode(raw)
            except p.Malformed as e:
                await ws.send_message(p.encode({"error": f"bad admin request: {e}; "
                                                         'try {"admin": "state"} or {"admin": "drop"}'}))
                continue
            if req.admin == "state":
                await ws.send_message(p.encode(self.state()))
            else:
                client = self.client
                if client is not None:
                    client.close("dropped by admin")
                await ws.send_message(p.encode({"dropped": client is not None}))

    def state(self) -> dict[str, Any]:
        """What the venue holds now, and what the current client asked for."""
        e = self.engine
        at, triggers = e.schedule_cancel_state()
        latest = self.latest
        return {
            "now": trio.current_time(),
            "speed": self.speed,
            "open_orders": {a: e.open_orders(a) for a in self.assets},
            "positions": {a: e.position(a) for a in self.assets},
            "pnl": {a: e.pnl(a) for a in self.assets},
            "fills": {a: e.fill_count(a) for a in self.assets},
            "schedule_cancel": {"at": at, "triggers_today": triggers},
            "dms_fired": self.dms_fired,
            "sessions": self.sessions,
            "connected": self.client is not None,
            # the latest trading client (connected or not) and the requests it sent, in order
            "client": None if latest is None else {"session": latest.gen, "connected_at": latest.connected_at,
                                                   "ended": latest.closed_why or None},
            "requests": [] if latest is None else latest.requests,
            "requests_dropped": 0 if latest is None else latest.requests_dropped,
            "malformed": self.malformed,
        }


# -- the command line -----------------------------------------------------------------------------
async def _main(server: SimServer, host: str, port: int) -> None:
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(server.run, host, port)
        print(f"listening on ws://{BIND_HOST}:{bound}", flush=True)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
        nursery.cancel_scope.cancel()


def run_cli(args: argparse.Namespace) -> int:
    import config as config_mod

    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as e:
        print(f"makerhive sim-server: config error in {args.config}: {e}", file=sys.stderr)
        return 2
    if args.host not in LOOPBACK:
        print(f"makerhive sim-server: --host {args.host!r}: the sim server listens on 127.0.0.1 only",
              file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"makerhive sim-server: --port {args.port}: must be 0..65535", file=sys.stderr)
        return 2
    speed = cfg.run.speed if args.speed is None else args.speed
    if not (math.isfinite(speed) and 0 < speed <= 1000):
        print(f"makerhive sim-server: --speed {speed}: must be > 0 and <= 1000", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s sim-server: %(message)s")
    server = SimServer(cfg, seed=args.seed, speed=speed)
    failed: list[BaseException] = []
    try:
        try:
            trio.run(_main, server, args.host, args.port, clock=trio.testing.MockClock(rate=speed))
        except* OSError as eg:
            failed.extend(eg.exceptions)
    except KeyboardInterrupt:
        pass
    if failed:
        print(f"makerhive sim-server: cannot listen on {BIND_HOST}:{args.port}: {failed[0]}", file=sys.stderr)
        return 1
    return 0
