"""Record Hyperliquid's public market data (l2Book and trades per coin) to disk, for
replay in backtests (``venues.replay``). Public data: no key, no account.

    makerhive record --assets BTC,ETH --out DIR [--duration S] [--ws-url URL]
                     [--network testnet|mainnet]

Each l2Book or trades frame becomes one line
``{"t": <local receive epoch ms>, "ch": "l2Book"|"trades", "data": <data as received>}``
in ``DIR/<COIN>/<YYYY-MM-DD>T<HH>.jsonl.gz``, one file per coin and UTC hour of the
receive time. The data is copied byte for byte (``msgspec.Raw``), so a replay sees
what the venue sent, not our reading of it; the frame is still decoded with the typed
``wire`` decoder first, and one that does not decode is counted and dropped, never
fatal.

Files stay readable if the process dies: the compressor is sync-flushed every
``flush_s`` seconds, so at most that much is lost and the reader tolerates the
missing gzip end. A restart within the hour appends a new gzip member to the file.

The connection is watched, because a quiet socket is the failure mode of a long
recording: the connect runs under an outer deadline (trio-websocket can hang on an
upgrade that never answers), ``{"method":"ping"}`` goes out every ``ping_s`` (the
server closes a connection idle for 60 s), and the session is declared stalled when
no frame came for ``stall_s`` or ``max_missed_pongs`` pings went unanswered. The only
cadence a quiet coin guarantees is the pong's, so ``stall_s`` (45 s) spans two pings.
Then it reconnects with jittered exponential backoff and subscribes again.

The clock (``clock``: epoch ms, called once per received message) and the URL are
injectable, so the tests run it against a local server with a clock that crosses an
hour.
"""
from __future__ import annotations

import gzip
import json
import random
import signal
import ssl
import sys
import time
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, wrap_client_stream

from venues.hyperliquid import wire
from venues.replay import file_name

WS_URLS = {"mainnet": "wss://api.hyperliquid.xyz/ws", "testnet": "wss://api.hyperliquid-testnet.xyz/ws"}
HOUR_MS = 3_600_000
CHANNELS = ("l2Book", "trades")
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class _RawFrame(msgspec.Struct):
    channel: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")


_raw_decoder = msgspec.json.Decoder(_RawFrame)


class Stalled(Exception):
    """The connection went quiet: no frame, or no pong, for too long."""


# -- the files ------------------------------------------------------------------------------
class HourlyWriter:
    """One coin's gzip files, a new one per UTC hour of the receive time."""

    def __init__(self, root: Path, coin: str, level: int = 6) -> None:
        self.dir = Path(root) / coin
        self.level = level
        self.files: set[Path] = set()
        self._hour = -1
        self._f: gzip.GzipFile | None = None
        self._dirty = False

    def write(self, t_ms: int, line: bytes) -> None:
        hour = t_ms // HOUR_MS
        if hour != self._hour or self._f is None:
            self.close()
            self.dir.mkdir(parents=True, exist_ok=True)
            path = self.dir / file_name(hour * HOUR_MS)
            self._f = gzip.GzipFile(path, "ab", compresslevel=self.level)  # a new gzip member
            self._hour = hour
            self.files.add(path)
        self._f.write(line)
        self._dirty = True

    def flush(self) -> None:
        """Make everything written so far readable from the file (Z_SYNC_FLUSH)."""
        if self._f is not None and self._dirty:
            self._f.flush(zlib.Z_SYNC_FLUSH)
            self._dirty = False

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
            self._dirty = False


def frame_line(t_ms: int, channel: str, data: bytes) -> bytes:
    return b'{"t":%d,"ch":"%s","data":%s}\n' % (t_ms, channel.encode(), data)


# -- the recorder -----------------------------------------------------------------------------
@dataclass
class RecorderStats:
    frames: Counter = field(default_factory=Counter)  # (coin, channel) -> frames written
    connects: int = 0
    reconnects: int = 0
    stalls: int = 0
    malformed: int = 0
    ignored: int = 0  # well-formed but not recorded: acks, pongs, other channels or coins
    errors: int = 0  # error frames from the venue
    last_error: str = ""

    def summary(self, files: Iterable[Path]) -> dict[str, Any]:
        per_coin: dict[str, dict[str, int]] = {}
        for (coin, ch), n in sorted(self.frames.items()):
            per_coin.setdefault(coin, {})[ch] = n
        return {"frames": per_coin, "frames_total": sum(self.frames.values()),
                "files": sorted(str(p) for p in files), "connects": self.connects,
                "reconnects": self.reconnects, "stalls": self.stalls, "malformed": self.malformed,
                "ignored": self.ignored, "venue_errors": self.errors, "last_error": self.last_error}


class Recorder:
    def __init__(self, coins: Iterable[str], out: str | Path, *, url: str = WS_URLS["mainnet"],
                 clock: Callable[[], int] = epoch_ms, connect_timeout_s: float = 10.0,
                 ping_s: float = 20.0, stall_s: float = 45.0, max_missed_pongs: int = 2,
                 backoff_min_s: float = 0.5, backoff_max_s: float = 30.0, flush_s: float = 2.0,
                 rng: random.Random | None = None) -> None:
        self.coins = tuple(dict.fromkeys(c.strip() for c in coins if c.strip()))
        if not self.coins:
            raise ValueError("no coin to record")
        self.out = Path(out)
        _endpoint(url)  # a bad URL fails here, not in the reconnect loop
        self.url = url
        self.clock = clock
        self.connect_timeout_s = connect_timeout_s
        self.ping_s = ping_s
        self.stall_s = stall_s
        self.max_missed_pongs = max_missed_pongs
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.flush_s = flush_s
        self.rng = rng or random.Random()
        self.stats = RecorderStats()
        self.writers = {c: HourlyWriter(self.out, c) for c in self.coins}
        self._outstanding_pings = 0
        self._got_data = False

    @property
    def files(self) -> set[Path]:
        return set().union(*(w.files for w in self.writers.values()))

    def summary(self) -> dict[str, Any]:
        return self.stats.summary(self.files)

    async def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Record until ``duration_s`` passed or the caller cancels; files closed on the
        way out, whatever ends it. Returns the summary."""
        try:
            with trio.move_on_after(duration_s if duration_s is not None else float("inf")):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._flusher)
                    await self._connect_loop()
        finally:
            self.close()
        return self.summary()

    def close(self) -> None:
        for w in self.writers.values():
            w.close()

    async def _flusher(self) -> None:
        while True:
            await trio.sleep(self.flush_s)
            for w in self.writers.values():
                w.flush()

    async def _connect_loop(self) -> None:
        failures = 0
        while True:
            why = "the session ended"
            try:
                await self._session()
            except* Stalled as eg:
                self.stats.stalls += 1
                why = str(eg.exceptions[0])
            except* _LOST as eg:
                why = _describe(_leaf(eg))
            self.stats.last_error = why
            print(f"record: connection lost ({why}); reconnecting", file=sys.stderr)
            failures = 0 if self._got_data else failures + 1  # a session that carried data was healthy
            delay = min(self.backoff_max_s, self.backoff_min_s * 2 ** failures)
            await trio.sleep(delay * (0.5 + 0.5 * self.rng.random()))

    async def _session(self) -> None:
        """One connection, until it fails (``_got_data`` says whether it carried data).

        The TCP (and TLS) stream is opened here rather than by ``open_websocket_url``,
        so that a handshake cut short by the deadline still closes its socket."""
        self._got_data = False
        host, port, resource, tls = _endpoint(self.url)
        stream: trio.abc.Stream | None = None
        try:
            async with trio.open_nursery() as nursery:
                # one deadline over the TCP connect, TLS and the upgrade together
                with trio.fail_after(self.connect_timeout_s):
                    if tls is None:
                        stream = await trio.open_tcp_stream(host, port)
                    else:
                        stream = await trio.open_ssl_over_tcp_stream(host, port, ssl_context=tls,
                                                                     https_compatible=True)
                    host_header = host if port in (80, 443) else f"{host}:{port}"
                    ws = await wrap_client_stream(nursery, stream, host_header, resource,
                                                  max_message_size=MAX_MESSAGE_BYTES)
                    self.stats.connects += 1
                    if self.stats.connects > 1:
                        self.stats.reconnects += 1
                    await self._subscribe(ws)
                try:
                    await self._live(ws)
                finally:
                    nursery.cancel_scope.cancel()  # the connection's reader task
        finally:
            if stream is not None:
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)

    async def _subscribe(self, ws: WebSocketConnection) -> None:
        for coin in self.coins:
            for ch in CHANNELS:
                await ws.send_message(wire.encode({"method": "subscribe",
                                                   "subscription": {"type": ch, "coin": coin}}).decode())

    async def _live(self, ws: WebSocketConnection) -> None:
        """Receive until the connection fails or stalls; pings go out on the way. One
        task: waiting for a message is cancel-safe, so it simply times out."""
        now = trio.current_time()
        last_rx, next_ping = now, now + self.ping_s
        self._outstanding_pings = 0
        while True:
            now = trio.current_time()
            if now - last_rx >= self.stall_s:
                raise Stalled(f"no frame for {now - last_rx:.1f} s")
            if now >= next_ping:
                if self._outstanding_pings >= self.max_missed_pongs:
                    raise Stalled(f"{self._outstanding_pings} pings unanswered")
                self._outstanding_pings += 1
                next_ping = now + self.ping_s
                await ws.send_message('{"method":"ping"}')
            with trio.move_on_after(min(next_ping, last_rx + self.stall_s) - now):
                msg = await ws.get_message()
                last_rx = trio.current_time()
                self.on_message(self.clock(), msg)

    # -- one message -------------------------------------------------------------------------
    def on_message(self, t_ms: int, msg: str | bytes) -> None:
        """Write an l2Book or trades frame of a recorded coin; count the rest."""
        try:
            frame = wire.decode_frame(msg)
        except wire.UnknownChannel:
            self.stats.ignored += 1
            return
        except wire.Malformed:
            if msg == "Websocket connection established.":  # the SDK's greeting (hyperliquid.md §1.1)
                self.stats.ignored += 1
            else:
                self.stats.malformed += 1
            return
        kind = type(frame)
        if kind is wire.BookFrame:
            coin = frame.data.coin
        elif kind is wire.TradesFrame:
            if not frame.data:
                self.stats.ignored += 1
                return
            coin = frame.data[0].coin
        else:
            if kind is wire.PongFrame:
                self._outstanding_pings = 0
            elif kind is wire.ErrorFrame:
                self.stats.errors += 1
                self.stats.last_error = f"venue error: {frame.data}"
            self.stats.ignored += 1
            return
        writer = self.writers.get(coin)
        if writer is None:
            self.stats.ignored += 1
            return
        raw = _raw_decoder.decode(msg)
        writer.write(t_ms, frame_line(t_ms, raw.channel, bytes(raw.data)))
        self.stats.frames[(coin, raw.channel)] += 1
        self._got_data = True


_LOST = (ConnectionClosed, HandshakeError, OSError, trio.TooSlowError, trio.BrokenResourceError)


def _leaf(eg: BaseExceptionGroup) -> BaseException:
    e: BaseException = eg
    while isinstance(e, BaseExceptionGroup):
        e = e.exceptions[0]
    return e


def _describe(e: BaseException) -> str:
    if isinstance(e, trio.TooSlowError):
        return "connect timed out (TooSlowError)"
    return f"{type(e).__name__}: {e}"


def _endpoint(url: str) -> tuple[str, int, str, ssl.SSLContext | None]:
    """(host, port, path, TLS context or None) of a ws:// or wss:// URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    tls = ssl.create_default_context() if parts.scheme == "wss" else None
    port = parts.port or (443 if tls is not None else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path, tls


# -- the command line ---------------------------------------------------------------------------
async def _record(rec: Recorder, duration_s: float | None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            async def stop_on_signal() -> None:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            # announced once the signals are ours: a SIGTERM from now on closes the files
            print(f"record: {', '.join(rec.coins)} from {rec.url} into {rec.out}", file=sys.stderr, flush=True)
            await rec.run(duration_s)
            nursery.cancel_scope.cancel()


def run_cli(args: Any) -> int:
    coins = [c.strip() for c in args.assets.split(",") if c.strip()]
    if not coins:
        print("makerhive record: --assets names no coin", file=sys.stderr)
        return 2
    try:
        rec = Recorder(coins, args.out, url=args.ws_url or WS_URLS[args.network])
    except ValueError as e:
        print(f"makerhive record: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    trio.run(_record, rec, args.duration)
    summary = rec.summary()  # also when a signal cut the run short
    summary["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(summary, indent=2))
    return 0
