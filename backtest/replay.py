"""Backtest on a recording: the same cores and the same matching engine, with the
recorded Hyperliquid books and trades as the market.

``ReplayMarket`` is a recorded coin behind the engine's ``Market`` face (``mid``,
``advance``, ``book``), standing where the synthetic ``MarketProcess`` stands, so
everything the engine does for synthetic markets holds here unchanged: our post-only
orders rest on the recorded book, join the queue behind the size displayed at their
price (``venues.sim.queue``, ``sim.queue_model``), move up as recorded trades at
their price eat that queue and as the level shrinks, fill when a recorded trade
prints at or through their price, and fill whole when the recorded book moves through
them.

A recorded trade reaches the engine as a ``TakerOrder`` whose reach is measured from
the market's mid so that the engine's own rounding onto the tick grid lands exactly
on the recorded price (a hair inside it, then rounded outwards: ``_reach_bp``).

Time: t = 0 is the first instant at which every asset has a recorded book; a message
is due when its local receive time is, so the replay sees the venue with the
recording's own network delays (plus the configured feed latency, if any). The
engine sees the recording in steps of ``sim.step_s``: at each step the latest book
received by then, then the prints received since the last step; a book is pushed to
the strategy at the first step at or after it arrived, instead of on the synthetic
push timer. Funding is not in a recording: none is paid. Same files and config: the
same result.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from backtest.engine import Backtest
from backtest.record import BacktestResult
from config import Config
from messages.market import BookSnapshot, Level
from venues.replay import Message, ReplayStats, asset_events, asset_files, last_time_ms, recorded_assets
from venues.sim.market import TakerOrder

_INSIDE = 1e-9  # relative: how far inside the recorded price the taker's reach stops


class ReplayError(ValueError):
    """The recording cannot be replayed (missing, empty, no book for an asset)."""


def _reach_bp(side: str, px: float, mid: float) -> float:
    """The reach that makes the engine print at ``px``: it rounds a buyer's
    mid·(1 + reach/1e4) up and a seller's mid·(1 − reach/1e4) down onto the grid, and
    a tick is at least 1e-5 of the price (5 significant figures)."""
    if side == "B":
        return (px * (1 - _INSIDE) / mid - 1.0) * 1e4
    return (1.0 - px * (1 + _INSIDE) / mid) * 1e4


class ReplayMarket:
    """One recorded coin as the engine's market."""

    funding_rate = 0.0

    def __init__(self, asset: str, stream: Iterable[tuple[int, Message]]) -> None:
        self.asset = asset
        self._it: Iterator[tuple[int, Message]] = iter(stream)
        self._ahead: deque[tuple[int, Message]] = deque()
        self._t0_ms = 0
        self._bids: tuple[Level, ...] = ()
        self._asks: tuple[Level, ...] = ()
        self._mid = 0.0
        self.fresh = False  # a recorded book arrived since the last push
        self.books = 0
        self.trades = 0
        self.dropped_trades = 0  # before t = 0, or with no two-sided book to measure from

    # -- setting up ---------------------------------------------------------------------
    def first_book_ms(self) -> int | None:
        """Receive time of the recording's first book for the coin (reads ahead to it)."""
        for t, msg in self._ahead:
            if type(msg) is BookSnapshot:
                return t
        for t, msg in self._it:
            self._ahead.append((t, msg))
            if type(msg) is BookSnapshot:
                return t
        return None

    def start(self, t0_ms: int) -> None:
        """Make ``t0_ms`` (epoch ms) time 0: the book as of then, trades before it dropped."""
        self._t0_ms = t0_ms
        self.advance(0.0)
        self.dropped_trades += self.trades
        self.trades = 0
        self.fresh = False

    def _next(self) -> tuple[int, Message] | None:
        if self._ahead:
            return self._ahead.popleft()
        return next(self._it, None)

    # -- the Market face ----------------------------------------------------------------
    @property
    def mid(self) -> float:
        return self._mid

    def book(self, levels: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        return self._bids[:levels], self._asks[:levels]

    def advance(self, ts: float) -> list[TakerOrder]:
        """Apply what was received up to ``ts`` s after t = 0: the last book, and the
        trades as taker orders (measured from the mid at ``ts``, as the engine prices them)."""
        limit = self._t0_ms * 1_000_000 + round(ts * 1e9)  # ns
        prints: list[Any] = []
        while True:
            ev = self._next()
            if ev is None:
                break
            if ev[0] * 1_000_000 > limit:
                self._ahead.appendleft(ev)
                break
            msg = ev[1]
            if type(msg) is BookSnapshot:
                self._on_book(msg)
            else:
                prints.append(msg)
        if not prints:
            return []
        mid = self._mid
        if not mid > 0:
            self.dropped_trades += len(prints)
            return []
        self.trades += len(prints)
        return [TakerOrder(p.side, _reach_bp(p.side, p.px, mid), p.sz) for p in prints]

    def _on_book(self, snap: BookSnapshot) -> None:
        self.books += 1
        self._bids, self._asks = snap.bids, snap.asks
        if snap.bids and snap.asks and snap.bids[0].px < snap.asks[0].px:
            self._mid = (snap.bids[0].px + snap.asks[0].px) / 2  # a one-sided or crossed book keeps the old mid
        self.fresh = True


class ReplayBacktest(Backtest):
    """``Backtest`` with each asset's market replaced by its recording."""

    timed_pushes = False  # books are pushed when the recording has them
    compiled_market = False  # its markets are recordings: nothing to compile

    def __init__(self, cfg: Config, root: str | Path, *, seed: int | None = None,
                 assets: Iterable[str] | None = None, only: Iterable[str] | None = None) -> None:
        """``only``: replay just these of the recorded assets, as they replay in the whole
        (the whole's start and end; ``backtest/parallel.py``)."""
        self.root = Path(root)
        if not self.root.is_dir():
            raise ReplayError(f"no recording at {self.root}")
        names = list(assets) if assets is not None else recorded_assets(self.root)
        if not names:
            raise ReplayError(f"{self.root} holds no recorded coin")
        super().__init__(cfg, seed=seed, assets=names, only=only)  # ConfigError for a coin the config lacks
        missing = [a for a in self.portfolio if not asset_files(self.root, a)]
        if missing:
            raise ReplayError(f"{self.root} has no recording of {missing}; it has {recorded_assets(self.root)}")
        self.replay_stats = ReplayStats()
        markets = {a: ReplayMarket(a, asset_events(self.root, a, self.replay_stats)) for a in self.assets}
        first = {a: m.first_book_ms() for a, m in markets.items()}
        for a in self.portfolio:  # the others' first books, read aside: t = 0 is the whole's
            if a not in markets:
                first[a] = ReplayMarket(a, asset_events(self.root, a, ReplayStats())).first_book_ms()
        no_book = [a for a in self.portfolio if first[a] is None]
        if no_book:
            raise ReplayError(f"no readable l2Book recorded for {no_book}")
        self.t0_ms = max(t for t in first.values() if t is not None)
        self.end_ms = max(t for t in (last_time_ms(self.root, a) for a in self.portfolio) if t is not None)
        for a, m in markets.items():
            m.start(self.t0_ms)
            self.sim.markets[a] = m
        self.sim.funding_interval = math.inf  # no funding in a recording
        self.span_s = (self.end_ms - self.t0_ms) / 1000

    def run(self, duration_s: float | None = None) -> BacktestResult:
        """Replay the whole recording from t = 0, or its first ``duration_s`` seconds."""
        d = self.span_s if duration_s is None else min(float(duration_s), self.span_s)
        if not d > 0:
            raise ReplayError(f"the recording spans {self.span_s:g} s once every asset has a book: nothing to replay")
        result = super().run(d)
        result.meta["replay"] = self.summary()
        return result

    def summary(self) -> dict[str, Any]:
        s = self.replay_stats
        markets = [self.sim.markets[a] for a in self.assets]
        return {
            "dir": str(self.root), "t0_ms": self.t0_ms, "end_ms": self.end_ms, "span_s": self.span_s,
            "files": s.files, "lines": s.lines, "malformed_lines": s.malformed,
            "truncated_files": s.truncated_files,
            "books_replayed": sum(m.books for m in markets),  # type: ignore[attr-defined]
            "trades_replayed": sum(m.trades for m in markets),  # type: ignore[attr-defined]
            "trades_dropped": sum(m.dropped_trades for m in markets),  # type: ignore[attr-defined]
        }

    def _step(self, t: int, j: int) -> None:
        super()._step(t, j)
        for a in self.assets:
            m = self.sim.markets[a]
            if m.fresh:  # type: ignore[attr-defined]
                m.fresh = False  # type: ignore[attr-defined]
                self._push_book(a, t)


# the summary's counts: a parallel replay's are its shares' summed
SUMMED_KEYS = ("files", "lines", "malformed_lines", "truncated_files", "books_replayed", "trades_replayed",
               "trades_dropped")


def run_replay(cfg: Config, root: str | Path, *, duration_s: float | None = None, seed: int | None = None,
               assets: Iterable[str] | None = None) -> BacktestResult:
    """One deterministic backtest on a recording: same files and config → same result."""
    return ReplayBacktest(cfg, root, seed=seed, assets=assets).run(duration_s)
