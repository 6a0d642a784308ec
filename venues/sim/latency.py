"""Latency profiles of the simulated venue: how long messages spend on the wire.

``LatencyModel(sim, seed)`` answers four questions, each call one draw:

- ``order_s()``: client -> matching engine, one way (an order, a cancel, a request);
- ``ack_s()``: matching engine -> client (acks, fills, answers);
- ``feed_s()``: how late a book push reaches us;
- ``book_interval_s()``: the time to the next l2Book push of one coin.

Profiles (``sim.latency_profile``):

- ``fixed``: exactly ``sim.order_latency_ms`` / ``ack_latency_ms`` / ``feed_latency_ms``
  and ``sim.book_interval_s``, always.
- ``zero``: no latency at all; pushes every ``sim.book_interval_s``.
- ``hyperliquid``: drawn like Hyperliquid's from a nearby client. The order leg carries
  block inclusion (lognormal, median 165 ms, σ = 0.71), the ack leg the way back
  (lognormal, median 30 ms, σ = 0.5), so an order's round trip ``order_s() + ack_s()``
  has median ≈ 0.2 s and p99 ≈ 0.9 s. Feed delay lognormal with median 50 ms
  (σ = 0.5, p99 ≈ 0.16 s). The l2Book push interval is ``sim.book_interval_s`` (0.5 s
  by default) plus a small exponential jitter (mean 4% of it, at most 20%): never
  below it.

Seeded and deterministic: each kind of draw has its own stream, so the sequence of,
say, ack delays depends only on the seed and how many acks came before, not on how
they interleave with orders or pushes. ``LatencyModel(sim, seed, stream=i)`` is the
i-th wire of the same seed: the backtester gives each asset its own (its index in the
config), so an asset's latencies do not depend on what the other assets do, and the
assets of one backtest can run in separate processes with the same results
(``backtest/parallel.py``). Wire 0 draws exactly what the single wire drew before.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from config import SimConfig
from venues.sim.market import seed_entropy

_Draw = Callable[[np.random.Generator, int], np.ndarray]

# hyperliquid profile: lognormal (median seconds, sigma of the log)
HL_ORDER = (0.165, 0.71)
HL_ACK = (0.030, 0.50)
HL_FEED = (0.050, 0.50)
HL_BOOK_JITTER = 0.04  # mean extra time between pushes, as a fraction of the interval

_BLOCK = 256  # draws fetched at a time per stream
_STREAM_TAG = 0x1A7E  # keeps these streams apart from the market's, for the same seed


class _Stream:
    """Lognormal (or exponential) draws, fetched in blocks; the same values in the same
    order as one draw at a time."""

    __slots__ = ("_rng", "_draw", "_buf", "_i")

    def __init__(self, ss: np.random.SeedSequence, draw: _Draw) -> None:
        self._rng = np.random.Generator(np.random.PCG64(ss))
        self._draw = draw
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._draw(self._rng, _BLOCK).tolist()
            self._i = 0
        x = self._buf[self._i]
        self._i += 1
        return x


def _lognormal(median: float, sigma: float) -> _Draw:
    mu = math.log(median)
    return lambda rng, n: rng.lognormal(mu, sigma, size=n)


class LatencyModel:
    def __init__(self, sim: SimConfig, seed: int, stream: int = 0) -> None:
        if stream < 0:
            raise ValueError(f"stream must be >= 0, got {stream}")
        self.profile = sim.latency_profile
        self._interval = float(sim.book_interval_s)
        self._order = sim.order_latency_ms / 1000.0
        self._ack = sim.ack_latency_ms / 1000.0
        self._feed = sim.feed_latency_ms / 1000.0
        if self.profile == "zero":
            self._order = self._ack = self._feed = 0.0
        elif self.profile == "hyperliquid":
            # wire i's four streams are children 4i..4i+3 of the seed's sequence, so wire 0's
            # are what ``spawn(4)`` gave the single wire
            entropy = [seed_entropy(seed), _STREAM_TAG]
            o, a, f, b = (np.random.SeedSequence(entropy, spawn_key=(4 * stream + k,)) for k in range(4))
            self._s_order = _Stream(o, _lognormal(*HL_ORDER))
            self._s_ack = _Stream(a, _lognormal(*HL_ACK))
            self._s_feed = _Stream(f, _lognormal(*HL_FEED))
            jitter = HL_BOOK_JITTER * self._interval
            self._s_book = _Stream(b, lambda rng, n: np.minimum(rng.exponential(jitter, size=n), 5 * jitter))
        elif self.profile != "fixed":
            raise ValueError(f"unknown sim.latency_profile {self.profile!r}; allowed: fixed, hyperliquid, zero")
        self._random = self.profile == "hyperliquid"

    def order_s(self) -> float:
        """Client -> matching engine, one way (seconds)."""
        return self._s_order.next() if self._random else self._order

    def ack_s(self) -> float:
        """Matching engine -> client, one way (seconds)."""
        return self._s_ack.next() if self._random else self._ack

    def feed_s(self) -> float:
        """How late a book push arrives (seconds)."""
        return self._s_feed.next() if self._random else self._feed

    def book_interval_s(self) -> float:
        """Time to the next l2Book push of one coin (seconds); never below the configured one."""
        return self._interval + self._s_book.next() if self._random else self._interval
