"""The fake Hyperliquid served on 127.0.0.1: REST (``POST /info``, ``POST /exchange``)
and the WebSocket (``/ws``) on ONE port, like the real service.

Each TCP connection's request head is read (bounded); a WebSocket upgrade to ``/ws`` is
handed to trio-websocket (the bytes already read are replayed to it), anything else is
HTTP/1.1 through h11 with keep-alive. The state machine (``exchange.FakeExchange``)
lives on the trio thread; every request, timer and fault runs there, one at a time.

Timers: the engine advances every ``sim.step_s`` (fills, trades, scheduled cancels,
funding are pushed as they happen; ``bbo`` when it changes), each subscribed coin's full
``l2Book`` goes out every ``sim.book_interval_s``, ``activeAssetCtx`` every
``ASSET_CTX_INTERVAL_S``. A WebSocket that sends nothing for ``idle_timeout_s`` (60 s)
is closed. The WS pushes an action causes are queued before its answer is sent (on a
``post``, on the same connection, they come first; over REST the two sockets race).

``FakeHyperliquid`` runs it in a daemon thread for tests (``start``/``stop`` or ``with``);
``serve`` runs it inside an existing trio loop instead. Inspection and fault controls
are thread-safe: they run on the fake's trio thread (from any thread, including another
trio loop's, where they block it briefly).
"""
from __future__ import annotations

import concurrent.futures
import functools
import logging
import math
import socket
import struct
import threading
import time
from http import HTTPStatus
from typing import Any, Callable

import h11
import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_server_stream

from config import Config
from testkit.hyperliquid_fake import exchange as ex
from testkit.hyperliquid_fake.exchange import FakeExchange, InvalidSubscription, Reply, normalize_subscription

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
MAX_WS_MESSAGE_BYTES = 1024 * 1024
HEAD_TIMEOUT_S = 30.0  # a request head (or the rest of a body) must arrive within this
KEEPALIVE_IDLE_S = 300.0  # an idle keep-alive HTTP connection is closed after this
HANDSHAKE_TIMEOUT_S = 10.0
WS_QUEUE = 64  # trio-websocket's receive queue
OUT_QUEUE_MAX = 50_000  # frames waiting for a slow client before it is dropped
ASSET_CTX_INTERVAL_S = 1.0
MAX_FAULT_S = 3600.0

_encode = msgspec.json.Encoder().encode


def _text(obj: Any) -> str:
    return _encode(obj).decode()


class _Replay(trio.abc.Stream):
    """A stream that first gives back bytes already read from it."""

    def __init__(self, stream: trio.SocketStream, head: bytes) -> None:
        self.stream = stream
        self._buf = head

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._buf:
            n = len(self._buf) if max_bytes is None else max_bytes
            out, self._buf = self._buf[:n], self._buf[n:]
            await trio.lowlevel.checkpoint()
            return out
        return await self.stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.stream.aclose()


class _WsConn:
    """One WebSocket client: its subscriptions and its outbound queue (one writer task)."""

    def __init__(self, ws: WebSocketConnection, raw: trio.SocketStream, ident: int) -> None:
        self.ws = ws
        self.raw = raw
        self.ident = ident
        self.subs: dict[str, tuple[str, str]] = {}  # normalised subscription (JSON) -> routing key
        self.send, self.recv = trio.open_memory_channel[str](OUT_QUEUE_MAX)
        self.scope = trio.CancelScope()
        self.dropped = False
        self.closed_why = ""

    def push(self, text: str) -> None:
        try:
            self.send.send_nowait(text)
        except trio.WouldBlock:
            self.closed_why = "client too slow: send queue full"
            self.scope.cancel()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass


def _is_ws_upgrade(head: bytes) -> bool:
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


def _abort(stream: trio.SocketStream) -> None:
    """Make the coming close a TCP reset (an abrupt drop, no WebSocket close frame)."""
    try:
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (OSError, AttributeError):
        pass


class FakeHyperliquid:
    """Hyperliquid's API on 127.0.0.1 over our simulated exchange; see the module doc."""

    def __init__(self, cfg: Config, seed: int | None = 7, account: str = "", agents: tuple[str, ...] = (),
                 vaults: tuple[str, ...] = (), *, idle_timeout_s: float = 60.0, max_ws_connections: int = 10,
                 port: int = 0) -> None:
        self.cfg = cfg
        self.state = FakeExchange(cfg, seed, account, tuple(agents), tuple(vaults))
        self.account = self.state.account
        self.user = self.state.user
        self.idle_timeout_s = float(idle_timeout_s)
        self.max_ws_connections = int(max_ws_connections)
        self._want_port = int(port)
        self.port: int | None = None
        self._conns: set[_WsConn] = set()
        self._routes: dict[tuple[str, str], set[_WsConn]] = {}
        self._conn_ids = 0
        self._t0 = 0.0
        self._last_t = 0.0
        self._running = False
        self._token: trio.lowlevel.TrioToken | None = None
        self._loop_thread: threading.Thread | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: trio.Event | None = None
        self._error: BaseException | None = None
        # faults
        self._stall_until = -math.inf
        self._throttle_until = -math.inf
        self._fail_n = 0
        self._race_n = 0
        self._lose_n = 0
        self._race_delay_s = 0.0

    # -- addresses --------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake is not serving yet: call start()")
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws"

    # -- the thread wrapper -----------------------------------------------------------------------
    def start(self) -> "FakeHyperliquid":
        """Serve in a daemon thread (its own trio loop); returns once listening."""
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()

        def run() -> None:
            try:
                trio.run(self._thread_main, ready)
            except BaseException as e:  # reported to start()
                self._error = e
                log.exception("fake Hyperliquid stopped with an error")
            finally:
                self._running = False
                ready.set()

        self._thread = threading.Thread(target=run, name="fake-hyperliquid", daemon=True)
        self._thread.start()
        if not ready.wait(20.0):
            raise RuntimeError("the fake Hyperliquid did not start within 20 s")
        if self._error is not None or self.port is None:
            raise RuntimeError(f"the fake Hyperliquid failed to start: {self._error!r}") from self._error
        return self

    async def _thread_main(self, ready: threading.Event) -> None:
        self._stop_event = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(self.serve)
            ready.set()
            await self._stop_event.wait()
            nursery.cancel_scope.cancel()

    def stop(self) -> None:
        thread, token, ev = self._thread, self._token, self._stop_event
        if thread is None or token is None or ev is None:
            return
        try:
            token.run_sync_soon(ev.set)
        except trio.RunFinishedError:
            pass
        thread.join(10.0)

    def __enter__(self) -> "FakeHyperliquid":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` on the fake's trio thread (directly if we are on it or it is not running)."""
        token = self._token
        if not self._running or token is None or threading.current_thread() is self._loop_thread:
            return fn(*args)
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as e:  # handed to the caller
                    fut.set_exception(e)

        try:
            token.run_sync_soon(run)
        except trio.RunFinishedError:
            return fn(*args)
        return fut.result(timeout=30.0)

    def _t(self) -> float:
        """Seconds since the fake started (its engine clock)."""
        if self._running and threading.current_thread() is self._loop_thread:
            self._last_t = max(self._last_t, trio.current_time() - self._t0)
        return self._last_t

    # -- inspection (thread-safe) -------------------------------------------------------------------
    def open_orders(self, asset: int | str | None = None) -> list[dict[str, Any]]:
        return self._call(self.state.open_orders, asset)

    def position(self, asset: int | str) -> float:
        return self._call(self.state.position, asset)

    def fills(self) -> list[dict[str, Any]]:
        return self._call(self.state.fills)

    @property
    def stats(self) -> dict[str, Any]:
        return self._call(self.state.snapshot_stats)

    @property
    def dms_at_ms(self) -> int | None:
        return self._call(self.state.dms_at_ms)

    def now_ms(self) -> int:
        """The fake's clock in epoch ms (what it checks nonces against)."""
        return self._call(lambda: self.state.ms(self._t()))

    # -- faults (thread-safe, bounded) ----------------------------------------------------------------
    def drop_connections(self) -> int:
        """Close every WebSocket abruptly now (TCP reset, no close frame); how many."""
        def drop() -> int:
            conns = list(self._conns)
            for c in conns:
                c.dropped = True
                c.closed_why = "dropped by the fake"
                c.scope.cancel()
            self.state.stats["ws_drops"] += len(conns)
            return len(conns)
        return self._call(drop)

    def stall(self, seconds: float) -> None:
        """Keep every socket open but send nothing (no data, no pongs, no post answers)
        for ``seconds``: what would have been sent meanwhile is lost."""
        s = min(max(0.0, float(seconds)), MAX_FAULT_S)
        self._call(lambda: setattr(self, "_stall_until", self._t() + s))

    def throttle(self, seconds: float) -> None:
        """REST answers HTTP 429 for ``seconds``."""
        s = min(max(0.0, float(seconds)), MAX_FAULT_S)
        self._call(lambda: setattr(self, "_throttle_until", self._t() + s))

    def reject_next(self, n: int, text: str) -> None:
        """The next ``n`` orders get ``{"error": text}``."""
        self._call(self.state.reject_next, n, text)

    def fail_requests(self, n: int) -> None:
        """The next ``n`` REST requests get HTTP 500 (and change nothing)."""
        self._call(lambda: setattr(self, "_fail_n", max(0, int(n))))

    def race_answers(self, n: int, delay_s: float = 0.3) -> None:
        """The next ``n`` order or batchModify actions race their answer, as on the real
        exchange: every order they leave resting is taken in full by another user at
        once, its fill and order update are pushed on the WebSocket, and only then,
        ``delay_s`` later, does the REST answer (``resting``, with the oid) go out."""
        def arm() -> None:
            self._race_n = max(0, int(n))
            self._race_delay_s = min(max(0.0, float(delay_s)), MAX_FAULT_S)
        self._call(arm)

    def lose_answers(self, n: int) -> None:
        """The next ``n`` /exchange requests are executed, then their connection is cut
        before the answer: the client cannot know whether its action landed."""
        self._call(lambda: setattr(self, "_lose_n", max(0, int(n))))

    def drop_fill_pushes(self, n: int, keep_updates: bool = False, coin: str | None = None) -> None:
        """The next ``n`` fills (of ``coin`` only, if given) are not pushed over the WebSocket
        (userFills, user and, unless ``keep_updates``, the orderUpdate each caused) but are in
        REST userFills."""
        self._call(self.state.drop_fill_pushes, n, keep_updates, coin)

    def exchange_cancel(self, asset: int | str, status: str = "marginCanceled") -> int:
        """The exchange cancels our resting orders in ``asset`` on its own (see
        ``FakeExchange.exchange_cancel``); how many."""
        def go() -> int:
            n = self.state.exchange_cancel(asset, status, self._t())
            self._flush()
            return n
        return self._call(go)

    def refuse_schedule_cancel(self, n: int, text: str = "") -> None:
        """The next ``n`` scheduleCancel settings are refused (default: the day's triggers spent)."""
        self._call(self.state.refuse_schedule_cancel, n, text)

    def refusals_armed(self) -> int:
        """How many scheduleCancel refusals are still waiting for a renewal to refuse."""
        return self._call(lambda: self.state._dms_refuse_n)

    def exhaust_budget(self) -> int:
        """Spend the account's address budget now (see ``FakeExchange.exhaust_budget``)."""
        return self._call(lambda: self.state.exhaust_budget(self._t()))

    def grant_budget(self, n: int) -> None:
        """``n`` more address actions (ends an ``exhaust_budget``)."""
        self._call(self.state.grant_budget, n)

    def set_capital(self, usd: float | None) -> None:
        """The account's deposited USDC (None: the config's capital): its value, margin and
        liquidation prices follow."""
        self._call(self.state.set_capital, usd)

    def account_value(self) -> float:
        return self._call(self.state.account_value)

    def leverage(self, asset: int | str) -> tuple[int, bool]:
        """(leverage, is_cross) the account has set for ``asset``."""
        led = self.state.ledgers[self.state.coin_of(asset)]
        return led.leverage, led.is_cross

    def liquidate(self, asset: int | str) -> list[dict[str, Any]]:
        """Liquidate our position in ``asset`` now (see ``FakeExchange.liquidate``)."""
        def go() -> list[dict[str, Any]]:
            fills = self.state.liquidate(asset, self._t())
            self._flush()
            return fills
        return self._call(go)

    def cross(self, asset: int | str, side: str, sz: float) -> list[dict[str, Any]]:
        """Another user's taker order trading through our resting orders now (side "B"
        buys from our asks); the fills it made, as userFills entries."""
        def go() -> list[dict[str, Any]]:
            fills = self.state.cross(asset, side, sz, self._t())
            self._flush()
            return fills
        return self._call(go)

    # -- the service ----------------------------------------------------------------------------------
    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on 127.0.0.1 and run the timers; ``task_status.started(port)``."""
        self._token = trio.lowlevel.current_trio_token()
        self._loop_thread = threading.current_thread()
        self._t0 = trio.current_time()
        self.state.start_ms = time.time_ns() // 1_000_000
        self._last_t = 0.0
        self._running = True
        try:
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(functools.partial(
                    trio.serve_tcp, self._handle_tcp, self._want_port, host=HOST))
                self.port = listeners[0].socket.getsockname()[1]
                nursery.start_soon(self._market_loop)
                nursery.start_soon(self._every, self.cfg.sim.book_interval_s, self._push_books)
                nursery.start_soon(self._every, ASSET_CTX_INTERVAL_S, self._push_ctxs)
                task_status.started(self.port)
        finally:
            self._running = False

    async def _market_loop(self) -> None:
        await self._every(self.cfg.sim.step_s, self._step)

    async def _every(self, interval: float, fn: Callable[[], None]) -> None:
        nxt = trio.current_time()
        while True:
            nxt = max(nxt + interval, trio.current_time())
            await trio.sleep_until(nxt)
            try:
                fn()
            except Exception:  # a timer must never stop the fake
                log.exception("fake Hyperliquid timer failed")

    def _step(self) -> None:
        t = self._t()
        self.state.step(t)
        for coin in self.state.coins:
            if self._routes.get(("bbo", coin)):
                b = self.state.bbo_if_changed(coin, t)
                if b is not None:
                    self._publish(("bbo", coin), "bbo", b)
        self._flush()

    def _push_books(self) -> None:
        t = self._t()
        for coin in self.state.coins:
            if self._routes.get(("l2Book", coin)):
                self._publish(("l2Book", coin), "l2Book", self.state.l2_book(coin, t))

    def _push_ctxs(self) -> None:
        for coin in self.state.coins:
            if self._routes.get(("activeAssetCtx", coin)):
                self._publish(("activeAssetCtx", coin), "activeAssetCtx", self.state.active_asset_ctx(coin))

    def _stalled(self) -> bool:
        return self._t() < self._stall_until

    def _publish(self, key: tuple[str, str], channel: str, data: Any) -> None:
        conns = self._routes.get(key)
        if not conns or self._stalled():
            return
        text = _text({"channel": channel, "data": data})
        for c in list(conns):
            c.push(text)

    def _flush(self) -> None:
        for key, channel, data in self.state.drain():
            self._publish(key, channel, data)

    def _send(self, conn: _WsConn, obj: Any) -> None:
        if not self._stalled():
            conn.push(_text(obj))

    # -- TCP: HTTP or WebSocket -------------------------------------------------------------------------
    async def _handle_tcp(self, stream: trio.SocketStream) -> None:
        try:
            head = await self._read_head(stream)
            if head is None:
                return
            if _is_ws_upgrade(head):
                await self._serve_ws(stream, head)
            else:
                await self._serve_http(stream, head)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed):
            pass
        except Exception:  # one bad connection must not stop the server
            log.exception("fake Hyperliquid connection failed")
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _read_head(self, stream: trio.SocketStream) -> bytes | None:
        buf = b""
        with trio.move_on_after(KEEPALIVE_IDLE_S):
            while b"\r\n\r\n" not in buf:
                if len(buf) > MAX_HEAD_BYTES:
                    await stream.send_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                          b"content-length: 0\r\nconnection: close\r\n\r\n")
                    return None
                data = await stream.receive_some(65536)
                if not data:
                    return None
                buf += data
            return buf
        return None

    # -- HTTP -----------------------------------------------------------------------------------------
    async def _serve_http(self, stream: trio.SocketStream, head: bytes) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        conn.receive_data(head)
        try:
            while True:
                ev = await self._next_event(conn, stream, KEEPALIVE_IDLE_S)
                if not isinstance(ev, h11.Request):
                    return
                body = bytearray()
                while True:
                    part = await self._next_event(conn, stream, HEAD_TIMEOUT_S)
                    if isinstance(part, h11.Data):
                        body += part.data
                        if len(body) > MAX_BODY_BYTES:
                            self.state.stats["malformed"] += 1
                            await self._respond(conn, stream, 413, "text/plain", b"Payload Too Large", close=True)
                            return
                    elif isinstance(part, h11.EndOfMessage):
                        break
                    else:
                        return
                headers = {k.lower(): v for k, v in ev.headers}
                delay = 0.0
                try:
                    status, ctype, payload = self._http_request(ev.method, ev.target, headers, bytes(body))
                    delay = self._race_if_armed(bytes(body), status, payload)
                except Exception as e:  # answered, counted, never fatal
                    log.exception("fake Hyperliquid request failed")
                    status, ctype, payload = 500, "text/plain", f"internal error: {e}".encode()
                if delay > 0:
                    await trio.sleep(delay)
                if self._lose_n > 0 and ev.target.split(b"?", 1)[0] == b"/exchange" and status == 200:
                    self._lose_n -= 1
                    self.state.stats["answers_lost"] += 1
                    _abort(stream)
                    return
                await self._respond(conn, stream, status, ctype, payload)
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except h11.RemoteProtocolError as e:
            self.state.stats["malformed"] += 1
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                try:
                    await self._respond(conn, stream, e.error_status_hint, "text/plain", str(e).encode(), close=True)
                except h11.LocalProtocolError:
                    pass

    async def _next_event(self, conn: h11.Connection, stream: trio.SocketStream, timeout: float) -> Any:
        while True:
            ev = conn.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            data = b""
            with trio.move_on_after(timeout) as cs:
                data = await stream.receive_some(65536)
            if cs.cancelled_caught:
                return None
            conn.receive_data(data)

    async def _respond(self, conn: h11.Connection, stream: trio.SocketStream, status: int, ctype: str,
                       payload: bytes, close: bool = False) -> None:
        headers = [("content-type", ctype), ("content-length", str(len(payload)))]
        if close:
            headers.append(("connection", "close"))
        try:
            reason = HTTPStatus(status).phrase.encode()
        except ValueError:
            reason = b""
        data = conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        data += conn.send(h11.Data(data=payload)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        await stream.send_all(data)

    def _http_request(self, method: bytes, target: bytes, headers: dict[bytes, bytes],
                      body: bytes) -> tuple[int, str, bytes]:
        path = target.split(b"?", 1)[0]
        if path not in (b"/info", b"/exchange"):
            return 404, "text/plain", b"Not Found"
        if method != b"POST":
            return 405, "text/plain", b"Method Not Allowed"
        t = self._t()
        if self._fail_n > 0:
            self._fail_n -= 1
            self.state.stats["failed_requests"] += 1
            return 500, "text/plain", b"Internal Server Error"
        if t < self._throttle_until:
            self.state.stats["throttled"] += 1
            return 429, "application/json", _encode(ex.RATE_LIMITED_BODY)
        if b"application/json" not in headers.get(b"content-type", b"").lower():
            self.state.stats["malformed"] += 1
            return 415, "text/plain", ex.ERR_CONTENT_TYPE.encode()
        try:
            obj = msgspec.json.decode(body)
        except msgspec.DecodeError as e:
            self.state.stats["malformed"] += 1
            return 400, "text/plain", f"{ex.ERR_JSON_SYNTAX}: {e}".encode()
        if path == b"/info":
            reply = self.state.handle_info(obj, t)
        else:
            reply = self.state.handle_exchange(obj, t)
        self._flush()
        return self._http_reply(reply)

    def _race_if_armed(self, body: bytes, status: int, payload: bytes) -> float:
        """With ``race_answers`` armed and an order/batchModify just executed: take every
        order it left resting and push that on the feed; how long to hold the answer."""
        if self._race_n <= 0 or status != 200:
            return 0.0
        try:
            action = msgspec.json.decode(body).get("action", {})
            answer = msgspec.json.decode(payload)
        except (msgspec.DecodeError, AttributeError):
            return 0.0
        if not isinstance(action, dict) or action.get("type") not in ("order", "batchModify"):
            return 0.0
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            return 0.0
        self._race_n -= 1
        resting = {st["resting"]["oid"] for st in answer["response"]["data"]["statuses"]
                   if isinstance(st, dict) and isinstance(st.get("resting"), dict)}
        t = self._t()
        for o in self.state.open_orders():
            if o["oid"] in resting:
                self.state.take(o["oid"], t)
        self._flush()
        self.state.stats["raced_answers"] += 1
        return self._race_delay_s

    @staticmethod
    def _http_reply(reply: Reply) -> tuple[int, str, bytes]:
        if isinstance(reply.body, str) and reply.status != 200:
            return reply.status, "text/plain", reply.body.encode()
        return reply.status, "application/json", _encode(reply.body)

    # -- WebSocket -------------------------------------------------------------------------------------
    async def _serve_ws(self, stream: trio.SocketStream, head: bytes) -> None:
        async with trio.open_nursery() as nursery:  # holds trio-websocket's reader task
            ws = await self._ws_handshake(nursery, stream, head)
            if ws is not None:
                await self._ws_session(ws, stream)
            nursery.cancel_scope.cancel()

    async def _ws_handshake(self, nursery: trio.Nursery, stream: trio.SocketStream,
                            head: bytes) -> WebSocketConnection | None:
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
            request = await wrap_server_stream(nursery, _Replay(stream, head), message_queue_size=WS_QUEUE,
                                               max_message_size=MAX_WS_MESSAGE_BYTES)
            path = request.path.split("?", 1)[0].rstrip("/")
            if path != "/ws":
                await request.reject(404)
                return None
            if len(self._conns) >= self.max_ws_connections:
                await request.reject(429, body=b"Too many connections")
                return None
            return await request.accept()
        return None

    async def _ws_session(self, ws: WebSocketConnection, raw: trio.SocketStream) -> None:
        self._conn_ids += 1
        conn = _WsConn(ws, raw, self._conn_ids)
        self._conns.add(conn)
        st = self.state.stats
        st["ws_connections"] += 1
        st["ws_open"] = len(self._conns)
        try:
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._ws_writer, conn)
                    await self._ws_reader(conn)
                    nursery.cancel_scope.cancel()
        finally:
            self._conns.discard(conn)
            st["ws_open"] = len(self._conns)
            for ident, key in conn.subs.items():
                routed = self._routes.get(key)
                if routed is not None:
                    routed.discard(conn)
            conn.subs.clear()
            conn.send.close()
            with trio.CancelScope(shield=True):
                if conn.dropped:
                    _abort(raw)
                    await raw.aclose()
                else:
                    with trio.move_on_after(1.0):
                        await ws.aclose(1000, conn.closed_why or None)

    async def _ws_writer(self, conn: _WsConn) -> None:
        async for text in conn.recv:
            try:
                await conn.ws.send_message(text)
            except ConnectionClosed:
                conn.scope.cancel()
                return

    async def _ws_reader(self, conn: _WsConn) -> None:
        while True:
            msg: Any = None
            with trio.move_on_after(self.idle_timeout_s) as cs:
                try:
                    msg = await conn.ws.get_message()
                except ConnectionClosed:
                    return
            if cs.cancelled_caught:
                conn.closed_why = "idle timeout"
                return
            try:
                self._on_ws_message(conn, msg)
            except Exception:  # a bad message must not end the connection
                log.exception("fake Hyperliquid WS message failed")
                self.state.stats["malformed"] += 1

    def _ws_parse_error(self, conn: _WsConn, raw: Any) -> None:
        self.state.stats["malformed"] += 1
        text = raw if isinstance(raw, str) else repr(raw)
        self._send(conn, {"channel": "error", "data": ex.ERR_WS_PARSE.format(raw=text[:500])})

    def _on_ws_message(self, conn: _WsConn, raw: str | bytes) -> None:
        try:
            obj = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            self._ws_parse_error(conn, raw)
            return
        method = obj.get("method") if isinstance(obj, dict) else None
        if method == "ping":
            self._send(conn, {"channel": "pong"})
        elif method in ("subscribe", "unsubscribe") and isinstance(obj.get("subscription"), dict):
            self._on_subscription(conn, method, obj["subscription"])
        elif method == "post":
            self._on_post(conn, obj, raw)
        else:
            self._ws_parse_error(conn, raw)

    def _on_subscription(self, conn: _WsConn, method: str, sub: dict[str, Any]) -> None:
        try:
            key, norm = normalize_subscription(sub, self.state.index)
        except InvalidSubscription:
            self._send(conn, {"channel": "error", "data": ex.ERR_INVALID_SUBSCRIPTION.format(sub=_text(sub))})
            return
        ident = _text(norm)
        if method == "subscribe":
            if ident in conn.subs:
                self._send(conn, {"channel": "error", "data": ex.ERR_ALREADY_SUBSCRIBED.format(sub=ident)})
                return
            conn.subs[ident] = key
            self._routes.setdefault(key, set()).add(conn)
            self.state.stats["subscriptions"] += 1
            self._send(conn, {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": norm}})
            for channel, data in self.state.subscription_snapshot(key, self._t()):
                self._send(conn, {"channel": channel, "data": data})
        else:
            if ident not in conn.subs:
                self._send(conn, {"channel": "error", "data": ex.ERR_ALREADY_UNSUBSCRIBED.format(sub=ident)})
                return
            del conn.subs[ident]
            if key not in conn.subs.values():
                routed = self._routes.get(key)
                if routed is not None:
                    routed.discard(conn)
            self._send(conn, {"channel": "subscriptionResponse",
                              "data": {"method": "unsubscribe", "subscription": norm}})

    def _on_post(self, conn: _WsConn, obj: dict[str, Any], raw: Any) -> None:
        pid = obj.get("id")
        req = obj.get("request")
        if (isinstance(pid, bool) or not isinstance(pid, int) or not isinstance(req, dict)
                or req.get("type") not in ("info", "action") or "payload" not in req):
            self._ws_parse_error(conn, raw)
            return
        self.state.stats["posts"] += 1
        t = self._t()
        payload = req["payload"]
        if req["type"] == "info":
            reply = self.state.handle_info(payload, t)
            if reply.status == 200:
                kind = payload.get("type") if isinstance(payload, dict) else None
                response: dict[str, Any] = {"type": "info", "payload": {"type": kind, "data": reply.body}}
            else:
                response = {"type": "error", "payload": self._error_text(reply)}
        else:
            reply = self.state.handle_exchange(payload, t)
            self._flush()
            if reply.status == 200:
                response = {"type": "action", "payload": reply.body}
            else:
                response = {"type": "error", "payload": self._error_text(reply)}
        self._send(conn, {"channel": "post", "data": {"id": pid, "response": response}})

    @staticmethod
    def _error_text(reply: Reply) -> str:
        if isinstance(reply.body, str):
            return reply.body
        return f"{reply.status}: {_text(reply.body)}"
