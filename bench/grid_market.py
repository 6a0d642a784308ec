"""What the generated markets built on other assumptions share (``bench.santafe``,
``bench.queue_reactive``): a book of whole lots on an integer tick grid around the start
price, a latent value that moves as a random walk with jumps, market orders of Lomax
sizes that walk the book from the touch, and a step clock.

Why one module: the markets differ in how makers add and cancel and in when market
orders come; the grid, the value and the walk are the same, and so must their random
draws be (each market's streams are fixed per seed).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from exchange_rules.ticks import tick_at_float
from messages.market import Level
from venues.sim.orderbook import Print

WALK_TICKS = 2000  # a market order walks at most this many ticks
SPAN = 200_000  # ticks each side of the start the grid holds


class GridMarket(ABC):
    """The grid (``_bids``, ``_asks``: lots per tick; ``_bb``, ``_ba``: the best indexes,
    which a subclass keeps), the value and the clock; a subclass supplies ``_step``."""

    def __init__(self, price: float, sz_decimals: int, seed: int, salt: int, step_s: float) -> None:
        self.step_s = step_s
        self.tick = tick_at_float(price, sz_decimals)
        self._szd = sz_decimals
        self._lot_usd = price * 10.0 ** -sz_decimals
        # a price is i ticks on a grid from a base, exact to the wire's decimals
        self._dp = max(0, -math.floor(math.log10(self.tick) + 1e-9))
        self._i0 = round(price / self.tick) - SPAN  # the grid's first tick
        self._bids = np.zeros(2 * SPAN, dtype=np.int64)
        self._asks = np.zeros(2 * SPAN, dtype=np.int64)
        self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), salt])))
        self._value = math.log(price)
        self._n = 0
        self._bb = self._ba = -1

    # -- the grid ----------------------------------------------------------------------
    def _px(self, i: int) -> float:
        return round((self._i0 + i) * self.tick, self._dp)

    def _sz(self, lots: int) -> float:
        return round(lots * 10.0 ** -self._szd, self._szd)

    def _book_window(self) -> tuple[int, int]:
        """The grid span ``book`` looks for resting lots in."""
        return max(0, self._bb - 4 * WALK_TICKS), min(len(self._asks), self._ba + 4 * WALK_TICKS)

    # -- the public face ---------------------------------------------------------------
    @property
    def mid(self) -> float:
        return (self._px(self._bb) + self._px(self._ba)) / 2.0

    @property
    def value(self) -> float:
        """The latent value: the insiders', or the news'."""
        return math.exp(self._value)

    def book(self, levels: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """(bids best first, asks best first), ``levels`` deep."""
        lo, hi = self._book_window()
        bi = np.flatnonzero(self._bids[lo:self._bb + 1])[::-1][:levels] + lo
        ai = np.flatnonzero(self._asks[self._ba:hi])[:levels] + self._ba
        return (tuple(Level(self._px(int(i)), self._sz(int(self._bids[i]))) for i in bi),
                tuple(Level(self._px(int(i)), self._sz(int(self._asks[i]))) for i in ai))

    def advance(self, t: float) -> list[Print]:
        """Steps up to time ``t``; the prints of their market orders, in order."""
        out: list[Print] = []
        while (self._n + 1) * self.step_s <= t + 1e-9:
            self._n += 1
            self._step(out)
        return out

    @abstractmethod
    def _step(self, out: list[Print]) -> None:
        """One step of ``step_s``: the makers', the takers' and the value's moves; prints to ``out``."""

    # -- what every step may use ---------------------------------------------------------
    def _move_value(self, sigma_bp: float, jumps_per_hour: float, jump_bp: float) -> None:
        """One step of the latent value: a random walk of ``sigma_bp`` a √s, and now and
        then a Laplace jump of mean size ``jump_bp``."""
        rng, dt = self._rng, self.step_s
        self._value += sigma_bp * 1e-4 * math.sqrt(dt) * rng.standard_normal()
        if rng.random() < jumps_per_hour * dt / 3600.0:
            self._value += rng.laplace(0.0, jump_bp) * 1e-4

    def _lomax_lots(self, mean_usd: float, tail_alpha: float) -> int:
        """A market order's size: Lomax with tail ``tail_alpha`` and mean ``mean_usd``, in lots."""
        usd = mean_usd * (tail_alpha - 1.0) * float(self._rng.pareto(tail_alpha))
        return max(1, round(usd / self._lot_usd))

    def _walk(self, buy: bool, lots: int, out: list[Print]) -> None:
        """A market order of ``lots`` walks the book from its best (at most ``WALK_TICKS``);
        its prints go to ``out``. Keeping the best indexes after it is the caller's."""
        arr, i, step = (self._asks, self._ba, 1) if buy else (self._bids, self._bb, -1)
        side: Literal["B", "A"] = "B" if buy else "A"
        end = i + step * WALK_TICKS
        while lots > 0 and i != end:
            q = int(arr[i])
            if q:
                take = min(q, lots)
                arr[i] = q - take
                lots -= take
                out.append(Print(side, self._px(i), self._sz(take), ()))  # none of ours rest here
            if lots > 0:
                i += step
