"""The live run records its own market: every book and trade the venue delivers,
in ``makerhive record``'s format, so the re-optimiser can replay the last hours.

``RecordingGateway`` is the venue gateway with a tap: each book and trade is handed
to a ``SelfRecorder`` (an append to a deque on the venue thread, nothing more) before
it goes on to the book actor. A writer thread turns them into Hyperliquid's wire JSON
(l2Book, trades) and appends them to ``<dir>/<COIN>/<hour>.jsonl.gz`` through the
recorder's own ``HourlyWriter``, flushing every second, so ``backtest --replay`` and
the re-optimiser read them like a recording of Hyperliquid.

Time: a Hyperliquid run stamps venue epoch milliseconds; the simulated clock starts
at 0, so its seconds are laid on a fixed epoch (``SIM_EPOCH_MS``).
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from messages.market import BookSnapshot, Trade
from venues.gateway import Gateway
from venues.hyperliquid.recorder import HourlyWriter, frame_line

log = logging.getLogger(__name__)
SIM_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: where a simulated clock's 0 lands


def run_dir(cfg: Any, seed: int) -> Path:
    """This run's recording: ``<reoptimize.record_dir or journal_dir/recording>/<UTC start>-seed<N>``
    (one directory a run: a simulated clock starts at 0 every time)."""
    root = Path(cfg.reoptimize.record_dir or Path(cfg.run.journal_dir) / "recording")
    return root / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{time.time_ns() % 1_000_000:06d}-seed{seed}"


def _num(x: float) -> str:
    return repr(float(x))


def book_json(b: BookSnapshot, t_ms: int) -> bytes:
    levels = [[{"px": _num(lv.px), "sz": _num(lv.sz), "n": 1} for lv in side] for side in (b.bids, b.asks)]
    return msgspec.json.encode({"coin": b.asset, "time": t_ms, "levels": levels})


def trade_json(tr: Trade, t_ms: int) -> bytes:
    return msgspec.json.encode([{"coin": tr.asset, "side": tr.side, "px": _num(tr.px), "sz": _num(tr.sz),
                                 "time": t_ms, "tid": int(tr.tid), "hash": ""}])


class SelfRecorder:
    """Books and trades in, gzip files out (on its own thread)."""

    def __init__(self, root: str | Path, *, epoch_ms: int | None = None, flush_s: float = 1.0,
                 max_pending: int = 200_000) -> None:
        self.root = Path(root)
        self.epoch_ms = SIM_EPOCH_MS if epoch_ms is None else epoch_ms
        self.flush_s = flush_s
        self._pending: collections.deque[BookSnapshot | Trade] = collections.deque(maxlen=max_pending)
        self._writers: dict[str, HourlyWriter] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one writer at a time (the thread, or flush() from outside)
        self._thread = threading.Thread(target=self._run, name="self-recorder", daemon=True)
        self.written = 0
        self.dropped = 0  # not finite: never written

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def add(self, item: BookSnapshot | Trade) -> None:
        self._pending.append(item)

    def _t_ms(self, ts: float) -> int:
        return self.epoch_ms + round(ts * 1000) if ts < 1e9 else round(ts * 1000)

    def flush(self) -> None:
        """Write everything received so far and make it readable."""
        with self._lock:
            while self._pending:
                item = self._pending.popleft()
                self._write(item)
            for w in self._writers.values():
                w.flush()

    def _write(self, item: BookSnapshot | Trade) -> None:
        if not (item.ts == item.ts and abs(item.ts) != float("inf")):
            self.dropped += 1
            return
        t = self._t_ms(item.ts)
        w = self._writers.get(item.asset)
        if w is None:
            w = self._writers[item.asset] = HourlyWriter(self.root, item.asset)
        if type(item) is BookSnapshot:
            w.write(t, frame_line(t, "l2Book", book_json(item, t)))
        else:
            w.write(t, frame_line(t, "trades", trade_json(item, t)))
        self.written += 1

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            try:
                self.flush()
            except OSError as e:  # a full disk must not stop the trading
                log.error("self-recording: %s", e)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self.flush()
        except OSError as e:
            log.error("self-recording: %s", e)
        for w in self._writers.values():
            w.close()


class RecordingGateway(Gateway):
    """The gateway, with every delivered book and trade also handed to ``recorder``."""

    def __init__(self, *args: Any, recorder: SelfRecorder, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.recorder = recorder

    def deliver_book(self, snap: BookSnapshot) -> None:
        self.recorder.add(snap)
        super().deliver_book(snap)

    def deliver_trade(self, trade: Trade) -> None:
        self.recorder.add(trade)
        super().deliver_trade(trade)
