"""Market data: what the venue pushes and what the book actor publishes."""

from __future__ import annotations

import math

from typing import Literal

import msgspec

Side = Literal["B", "A"]  # Hyperliquid's convention: B = bid/buy, A = ask/sell


class Level(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One price level of an L2 book (aggregated size at a price)."""

    px: float
    sz: float


class BookSnapshot(msgspec.Struct, frozen=True, tag=True):
    """A full L2 snapshot (Hyperliquid pushes full books, never diffs).

    ``ts`` is venue time in seconds; ``recv_ns`` is a perf-counter stamp taken when
    the snapshot entered the process, used only to measure latency, never to decide.
    """

    asset: str
    ts: float
    seq: int
    bids: tuple[Level, ...]  # best first, descending prices
    asks: tuple[Level, ...]  # best first, ascending prices
    recv_ns: int = 0


class Trade(msgspec.Struct, frozen=True, tag=True):
    """A public trade print; ``side`` is the aggressor's side."""

    asset: str
    ts: float
    px: float
    sz: float
    side: Side
    tid: int


Regime = Literal["CALM", "NORMAL", "ELEVATED", "EXTREME"]


class MarketState(msgspec.Struct, frozen=True, tag=True):
    """What the quoter needs to know about the market, derived by the book core."""

    asset: str
    ts: float
    seq: int
    mid: float
    microprice: float
    best_bid: float
    best_ask: float
    spread_bp: float
    imbalance: float  # (bid depth - ask depth) / (bid depth + ask depth), top levels
    sigma_bp: float  # volatility of the mid, basis points per sqrt(second)
    regime: Regime
    recv_ns: int = 0  # carried from the BookSnapshot, for latency measurement only
    # measured from the trade tape (strategy/calibration.py, vpin.py); NaN: not yet known
    fill_a: float = math.nan  # λ(δ) = A·exp(-k·δ): trades per second reaching the fair price ...
    fill_k: float = math.nan  # ... and its decay per bp of depth
    aggressor_buy_ratio: float = 0.5  # buy share of the last 50 trades
    vpin: float = math.nan
    micro_drift_bp: float = 0.0  # microprice change since the previous book
    # strategy/tape_edge.py: per depth bin, the mean move after prints that reached it, for a
    # resting bid / ask (bp; empty: not measured or not enough tape yet)
    tape_drift_bid: tuple[float, ...] = ()
    tape_drift_ask: tuple[float, ...] = ()
    tape_bin_bp: float = 0.5
    # strategy/flow_fair.py: the mid's forecast move from the microprice, bp (0: not fitted)
    flow_shift_bp: float = 0.0


class Sweep(msgspec.Struct, frozen=True, tag=True):
    """From the book actor to the quoter: a print went beyond the touch on the maker ``side``
    (strategy/sweep_guard.py); the quoter's sweep guard judges its depth."""

    asset: str
    ts: float  # the print's venue time
    side: Side  # the maker side it went through: "A" for a buy
    depth_bp: float  # the print's distance from the mid of the book before it


class BookReady(msgspec.Struct, frozen=True, tag=True):
    """Wake-up for the book actor: a new snapshot waits in its latest-wins slot.

    The snapshot itself is not sent: the slot holds only the newest one (conflation).
    """
