"""Read back what ``venues.hyperliquid.recorder`` wrote: recorded l2Book and trades
frames as ``BookSnapshot`` and ``Trade`` messages, in the order they were received.

A recording is ``DIR/<COIN>/<YYYY-MM-DD>T<HH>.jsonl.gz``, one line per frame:
``{"t": <local receive epoch ms>, "ch": "l2Book"|"trades", "data": <as received>}``.
File names sort in time order, and within a file lines are in receive order, so one
asset is one sorted stream and several assets are merged on ``t`` (ties: the order of
``assets``, then file order), which keeps a replay a pure function of the files.

A recorder killed mid-hour leaves a gzip stream without its end (and maybe half a
line): everything up to the last complete line is read, the rest is counted in
``ReplayStats.truncated_files``. A line that is not a frame of the documented shape
is counted in ``malformed`` and skipped. Neither ever stops a replay. A file that a
restarted recorder appended to holds several gzip members: they are read in turn.
"""
from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import msgspec

from messages.market import BookSnapshot, Trade
from venues.hyperliquid.convert import book_snapshot, trade
from venues.hyperliquid.wire import WsBook, WsTrade

SUFFIX = ".jsonl.gz"
_CHUNK = 1 << 16

Message = Union[BookSnapshot, Trade]


class _Line(msgspec.Struct, tag_field="ch"):
    t: int


class BookLine(_Line, tag="l2Book"):
    data: WsBook


class TradesLine(_Line, tag="trades"):
    data: tuple[WsTrade, ...]


_line_decoder = msgspec.json.Decoder(Union[BookLine, TradesLine], strict=False)


@dataclass
class ReplayStats:
    files: int = 0
    lines: int = 0
    books: int = 0
    trades: int = 0
    malformed: int = 0
    truncated_files: int = 0


def file_name(hour_start_ms: int) -> str:
    """The file of the UTC hour that starts at ``hour_start_ms``: ``2025-07-02T03.jsonl.gz``."""
    import datetime as dt

    when = dt.datetime.fromtimestamp(hour_start_ms // 1000, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H") + SUFFIX


def recorded_assets(root: str | Path) -> list[str]:
    """The coins a recording holds (sub-directories with at least one file), sorted."""
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir() and any(p.glob("*" + SUFFIX)))


def asset_files(root: str | Path, coin: str) -> list[Path]:
    return sorted(Path(root, coin).glob("*" + SUFFIX))


def read_lines(path: str | Path, stats: ReplayStats | None = None) -> Iterator[bytes]:
    """The complete lines of a gzip file, tolerant of a missing end (a killed writer)."""
    stats = stats if stats is not None else ReplayStats()
    stats.files += 1
    d = zlib.decompressobj(wbits=31)
    tail = b""
    complete = True
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            try:
                out = d.decompress(chunk)
                while d.eof and d.unused_data:  # the next gzip member (an appended file)
                    rest = d.unused_data
                    d = zlib.decompressobj(wbits=31)
                    out += d.decompress(rest)
            except zlib.error:
                complete = False
                break
            if out:
                lines = (tail + out).split(b"\n")
                tail = lines.pop()
                yield from lines
    if not d.eof or tail:
        complete = False
    if not complete:
        stats.truncated_files += 1


def asset_events(root: str | Path, coin: str, stats: ReplayStats | None = None) -> Iterator[tuple[int, Message]]:
    """One coin's frames as (receive ms, message), in recording order. Each book gets
    ``seq`` = its rank in this stream; a trades frame gives one ``Trade`` per print."""
    stats = stats if stats is not None else ReplayStats()
    decode = _line_decoder.decode
    seq = 0
    for path in asset_files(root, coin):
        for raw in read_lines(path, stats):
            if not raw.strip():
                continue
            stats.lines += 1
            try:
                line = decode(raw)
            except (msgspec.ValidationError, msgspec.DecodeError):
                stats.malformed += 1
                continue
            if type(line) is BookLine:
                seq += 1
                stats.books += 1
                yield line.t, book_snapshot(line.data, seq, 0)
            else:
                for t in line.data:
                    stats.trades += 1
                    yield line.t, trade(t)


class _Stamp(msgspec.Struct):
    t: int


_stamp_decoder = msgspec.json.Decoder(_Stamp)


def last_time_ms(root: str | Path, coin: str) -> int | None:
    """The receive time of a coin's last readable line (None: nothing readable)."""
    for path in reversed(asset_files(root, coin)):
        last = None
        for raw in read_lines(path):
            try:
                last = _stamp_decoder.decode(raw).t
            except (msgspec.ValidationError, msgspec.DecodeError):
                continue
        if last is not None:
            return last
    return None


def events(root: str | Path, assets: Iterable[str] | None = None,
           stats: ReplayStats | None = None) -> Iterator[tuple[int, Message]]:
    """Every coin's (receive ms, message) merged in time order (all coins by default)."""
    coins = list(assets) if assets is not None else recorded_assets(root)
    stats = stats if stats is not None else ReplayStats()
    streams = [asset_events(root, c, stats) for c in coins]
    return heapq.merge(*streams, key=lambda e: e[0])


def messages(root: str | Path, assets: Iterable[str] | None = None,
             stats: ReplayStats | None = None) -> Iterator[Message]:
    """The recorded ``BookSnapshot`` and ``Trade`` messages, merged in receive order."""
    for _, msg in events(root, assets, stats):
        yield msg
