"""The simulated market of one asset: a mid-price random walk, taker arrivals and a
background L2 book on Hyperliquid's tick grid.

Pure and deterministic: no clock, no threads, no I/O. Time comes in as ``ts``
(seconds); the process starts at ts = 0 with the mid at ``market.price`` and moves in
steps of ``sim.step_s``.

Model, per step of length dt:

- **Mid.** An arithmetic random walk in log price: log-return ~ N(0, (σ·1e-4)²·dt),
  σ = ``market.sigma_bp`` (bp per √s).
- **Takers.** Per side a Poisson number of arrivals with mean A·dt
  (A = ``market.taker_rate``). Each reaches δ bp from the mid with δ ~ Exponential(k)
  (k = ``market.taker_k_per_bp``), so arrivals that reach at least δ bp come with
  intensity A·e^(−kδ), the fill model the quoter assumes. Sizes in units are
  exponential with mean ``taker_size_usd / mid``, rounded to the lot (at least one).
- **Background book.** Best bid/ask half a ``book_spread_bp`` either side of the mid,
  rounded outwards onto the tick grid; further levels spaced by max(one tick, 0.5 bp);
  sizes uniform in 0.5x..1.5x ``depth_usd / mid``, redrawn each step.

Randomness: the seed is split (numpy ``SeedSequence``) into independent streams for
the mid, the taker counts, the reaches, the taker sizes and the book sizes. Each
stream is consumed strictly in step order, so the path and the arrivals do not depend
on how time is chopped into ``advance`` calls (one call to 60 s or 600 calls of 0.1 s
give bit-identical results), and the book at a step is a pure function of the seed,
the step and the mid, however often or rarely it is looked at.
"""
from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Literal, NamedTuple

import numpy as np

from makerhive.config import MarketConfig, SimConfig
from messages.market import Level
from venues.rules import round_price, round_size, tick_at

_EPS_STEPS = 1e-9  # ts within this many steps of a step boundary counts as reaching it
_LEVEL_SPACING_BP = 0.5


class TakerOrder(NamedTuple):
    """A taker arrival; ``side`` is the aggressor's ("B" buys and hits asks)."""

    side: Literal["B", "A"]
    reach_bp: float  # how far from the mid it is willing to trade, in bp
    sz: float  # units, a multiple of the lot


def seed_entropy(seed: int) -> int:
    """A non-negative entropy value for ``SeedSequence`` from any int (zigzag)."""
    seed = int(seed)
    return 2 * seed if seed >= 0 else -2 * seed - 1


class MarketProcess:
    def __init__(self, asset: str, market: MarketConfig, sim: SimConfig, seed: int) -> None:
        if not sim.step_s > 0:
            raise ValueError(f"sim.step_s must be > 0, got {sim.step_s}")
        self.asset = asset
        self.market = market
        self.sim = sim
        self.sz_decimals = market.sz_decimals
        self._lot = Decimal(1).scaleb(-market.sz_decimals)
        self._lot_f = float(self._lot)
        self._step_s = float(sim.step_s)
        self._vol_step = market.sigma_bp * 1e-4 * math.sqrt(self._step_s)
        self._lam = market.taker_rate * self._step_s
        ss = np.random.SeedSequence(seed_entropy(seed))
        mid_ss, count_ss, reach_ss, size_ss, book_ss = ss.spawn(5)
        self._rng_mid = np.random.Generator(np.random.PCG64(mid_ss))
        self._rng_count = np.random.Generator(np.random.PCG64(count_ss))
        self._rng_reach = np.random.Generator(np.random.PCG64(reach_ss))
        self._rng_size = np.random.Generator(np.random.PCG64(size_ss))
        self._book_key = int(book_ss.generate_state(2, np.uint64)[0]) << 40
        self._n = 0  # steps taken
        self._log_mid = math.log(market.price)
        self._mid = float(market.price)
        self._book_n = -1  # the step the cached book belongs to
        self._bid_px: list[Decimal] = []
        self._ask_px: list[Decimal] = []
        self._bid_lv: list[Level] = []
        self._ask_lv: list[Level] = []
        self._u: list[float] = []

    # -- state ------------------------------------------------------------------------
    @property
    def mid(self) -> float:
        return self._mid

    @property
    def time(self) -> float:
        """The time of the last step taken (seconds)."""
        return self._n * self._step_s

    @property
    def steps(self) -> int:
        return self._n

    # -- the process ------------------------------------------------------------------
    def advance(self, ts: float) -> list[TakerOrder]:
        """Step the mid up to ``ts``; the taker arrivals of those steps, in step order."""
        target = math.floor(ts / self._step_s + _EPS_STEPS)
        k = target - self._n
        if k <= 0:
            return []
        z = self._rng_mid.standard_normal(k)
        # add.accumulate is sequential, so the path is the same as k single steps.
        path = np.cumsum(np.concatenate(([self._log_mid], self._vol_step * z)))
        log_mids = path[1:]
        counts = self._rng_count.poisson(self._lam, size=(k, 2))  # per step: buys, sells
        self._n = target
        self._log_mid = float(log_mids[-1])
        self._mid = math.exp(self._log_mid)
        total = int(counts.sum())
        if total == 0:
            return []
        reach = self._rng_reach.exponential(1.0 / self.market.taker_k_per_bp, size=total)
        units = self._rng_size.exponential(1.0, size=total)
        per_step = counts.sum(axis=1)
        mids = np.exp(np.repeat(log_mids, per_step))
        mean_units = self.market.taker_size_usd / mids
        sides = np.repeat(np.tile(np.array(["B", "A"]), k), counts.ravel())
        out: list[TakerOrder] = []
        d = self.sz_decimals
        lot = self._lot
        for side, r, u, m in zip(sides.tolist(), reach.tolist(), units.tolist(), mean_units.tolist()):
            sz = max(round_size(u * m, d, "nearest"), lot)
            out.append(TakerOrder(side, r, float(sz)))
        return out

    # -- the background book ----------------------------------------------------------
    def _book_reset(self) -> None:
        if self._book_n == self._n:
            return
        self._book_n = self._n
        self._bid_px.clear()
        self._ask_px.clear()
        self._bid_lv.clear()
        self._ask_lv.clear()
        self._u.clear()

    def _uniforms(self, levels: int) -> None:
        """Per-level size draws of this step: bid, ask, bid, ask, ... (prefix-stable)."""
        if len(self._u) >= 2 * levels:
            return
        rng = random.Random(self._book_key | self._n)
        n = max(2 * levels, 2 * self.sim.book_levels)
        self._u = [rng.random() for _ in range(n)]

    def _extend_prices(self, levels: int) -> None:
        d = self.sz_decimals
        half = self.market.book_spread_bp / 2e4
        if not self._bid_px:
            self._bid_px.append(round_price(self._mid * (1 - half), d, "down"))
            self._ask_px.append(round_price(self._mid * (1 + half), d, "up"))
        step_frac = Decimal(repr(_LEVEL_SPACING_BP * 1e-4))
        while len(self._bid_px) < levels:
            b = self._bid_px[-1]
            gap = max(tick_at(b, d), b * step_frac)
            if b - gap <= 0:
                break
            nb = round_price(b - gap, d, "down")
            if nb >= b or nb <= 0:  # defensive; rounding down below b - tick cannot do this
                break
            self._bid_px.append(nb)
        while len(self._ask_px) < levels:
            a = self._ask_px[-1]
            gap = max(tick_at(a, d), a * step_frac)
            self._ask_px.append(round_price(a + gap, d, "up"))

    def _size(self, u: float) -> float:
        mean = self.market.depth_usd / self._mid
        sz = round_size(mean * (0.5 + u), self.sz_decimals, "nearest")
        return float(max(sz, self._lot))

    def book(self, levels: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The background book at the current step: (bids best first, asks best first)."""
        if levels <= 0:
            return (), ()
        self._book_reset()
        self._extend_prices(levels)
        self._uniforms(levels)
        u = self._u
        while len(self._bid_lv) < min(levels, len(self._bid_px)):
            i = len(self._bid_lv)
            self._bid_lv.append(Level(float(self._bid_px[i]), self._size(u[2 * i])))
        while len(self._ask_lv) < levels:
            i = len(self._ask_lv)
            self._ask_lv.append(Level(float(self._ask_px[i]), self._size(u[2 * i + 1])))
        return tuple(self._bid_lv[:levels]), tuple(self._ask_lv[:levels])
