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

The connection is the trading venue's own ``Feed``: one deadline over connect and
upgrade, a ping every ``ping_s``, a stall when no frame came for ``stall_s`` or
``max_missed_pongs`` pings went unanswered (the only cadence a quiet coin guarantees is
the pong's, so ``stall_s`` (45 s) spans two pings), then a reconnect with jittered
exponential backoff and the subscriptions again.

The clock (``clock``: epoch ms, called once per received message) and the URL are
injectable, so the tests run it against a local server with a clock that crosses an
hour.
"""
from __future__ import annotations

import gzip
import json
import random
import signal
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import trio

from venues.hyperliquid import wire
from venues.hyperliquid.feed import Feed
from venues.replay import file_name

WS_URLS = {"mainnet": "wss://api.hyperliquid.xyz/ws", "testnet": "wss://api.hyperliquid-testnet.xyz/ws"}
HOUR_MS = 3_600_000
CHANNELS = ("l2Book", "trades")


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class _RawFrame(msgspec.Struct):
    channel: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")


_raw_decoder = msgspec.json.Decoder(_RawFrame)


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
    """Writes what a ``Feed`` subscribed to l2Book and trades of ``coins`` receives."""

    def __init__(self, coins: Iterable[str], out: str | Path, *, url: str = WS_URLS["mainnet"],
                 clock: Callable[[], int] = epoch_ms, connect_timeout_s: float = 10.0,
                 ping_s: float = 20.0, stall_s: float = 45.0, max_missed_pongs: int = 2,
                 backoff_min_s: float = 0.5, backoff_max_s: float = 30.0, flush_s: float = 2.0,
                 rng: random.Random | None = None) -> None:
        self.coins = tuple(dict.fromkeys(c.strip() for c in coins if c.strip()))
        if not self.coins:
            raise ValueError("no coin to record")
        self.out = Path(out)
        self.url = url
        self.clock = clock
        self.flush_s = flush_s
        self.feed = Feed(url, [{"type": ch, "coin": c} for c in self.coins for ch in CHANNELS], self.on_frame,
                         ping_every_s=ping_s, stall_s=stall_s, max_missed_pongs=max_missed_pongs,
                         connect_timeout_s=connect_timeout_s, first_connect_s=None,
                         backoff_min_s=backoff_min_s, backoff_max_s=backoff_max_s,
                         on_lost=lambda why: print(f"record: connection lost ({why}); reconnecting", file=sys.stderr),
                         rng=rng)
        self.writers = {c: HourlyWriter(self.out, c) for c in self.coins}
        self._frames: Counter = Counter()
        self._ignored = 0
        self._errors = 0

    @property
    def stats(self) -> RecorderStats:
        f = self.feed.stats
        return RecorderStats(frames=self._frames, connects=f.connects, reconnects=f.reconnects, stalls=f.stalls,
                             malformed=f.malformed, ignored=self._ignored + f.ignored + f.pongs,
                             errors=f.error_frames, last_error=f.last_error)

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
                    await self.feed.run()
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

    # -- one message -------------------------------------------------------------------------
    def on_frame(self, frame: Any, recv_ns: int, msg: str | bytes) -> None:
        """Write an l2Book or trades frame of a recorded coin; count the rest (a frame
        that did not decode is counted by the feed)."""
        t_ms = self.clock()
        kind = type(frame)
        if kind is wire.BookFrame:
            coin = frame.data.coin
        elif kind is wire.TradesFrame and frame.data:
            coin = frame.data[0].coin
        else:
            if frame is not None:  # acks, error frames, empty trades
                self._ignored += 1
            return
        writer = self.writers.get(coin)
        if writer is None:
            self._ignored += 1
            return
        raw = _raw_decoder.decode(msg)
        writer.write(t_ms, frame_line(t_ms, raw.channel, bytes(raw.data)))
        self._frames[(coin, raw.channel)] += 1


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
    if not summary.get("frames_total"):  # an empty recording must not pass for one in a script
        why = summary.get("last_error") or "the feed sent nothing for these coins"
        print(f"makerhive record: nothing was captured in {summary['seconds']:g} s: {why}", file=sys.stderr)
        return 1
    return 0
