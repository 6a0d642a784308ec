"""A second market for recorded-format streams, built on other assumptions than the
simulator's: the Santa Fe zero-intelligence book with Kyle-style informed takers.

Why: the streams ``bench compare`` replays by default come from the simulator's own
order-book market (``venues.sim.orderbook``), whose background makers quote around the
latent fair price, so the depth behind the touch leans toward where the price is going.
The book's forecast (``strategy/flow_fair.py``) was found on that market; a strategy
judged only there is judged on a market that shares its assumptions. Here no maker
knows anything:

- **Makers** (Farmer, Patelli and Zovko 2005, PNAS 102; ``market-sim.md`` §1): limit
  orders arrive Poisson at ``limit_rate`` a second a side, each at a distance d of 1 to
  ``place_ticks`` ticks from the opposite best (a bid at the best ask less d: inside the
  spread when the spread is wide) drawn with probability ∝ d^−``place_alpha`` (Cont,
  Stoikov and Talreja 2010 found 0.5; 0 is Santa Fe's uniform), lognormal sizes of mean
  ``limit_usd``; each resting lot cancels at ``cancel_rate`` a second. The spread and the
  depth profile emerge; the book leans only where takers have eaten it.
- **Noise takers**: market orders at ``noise_rate`` a second, Lomax sizes of mean
  ``taker_usd`` and tail ``tail_alpha``; each keeps the last one's side with probability
  ``sign_keep`` (runs of one side, as split metaorders give; Lillo and Farmer 2004).
- **Informed takers** (Kyle 1985): a latent value moves as a random walk of
  ``sigma_bp`` a √s with jumps (``jumps_per_hour`` of ``jump_bp``, Laplace). While it is
  beyond the touch, market orders toward it arrive at ``informed_rate`` a second for
  each ``informed_full_ticks`` it is beyond (at most ``MAX_STRENGTH`` times that). They alone drag the
  book after the value, so the trades, not the book's shape, carry what is known.

A market order walks the book from the touch (at most ``WALK_TICKS``). Deterministic per
seed. Output, like ``venues.sim.orderbook.OrderBookMarket``: ``advance(t)`` returns the
step's prints, ``book(levels)`` the book; ``mid`` is the book's mid (there is no fair
price a market maker could be scored against: the latent value is the insiders').
"""
from __future__ import annotations

import math

import msgspec
import numpy as np

from bench.grid_market import SPAN, WALK_TICKS, GridMarket
from venues.sim.orderbook import Print

MAX_STRENGTH = 20.0  # informed flow grows with the value's distance beyond the touch, up to this x


class SantaFeParams(msgspec.Struct, frozen=True, kw_only=True):
    price: float
    sz_decimals: int
    limit_rate: float  # limit orders a second, per side
    place_ticks: int  # placed 1..this many ticks from the opposite best ...
    place_alpha: float  # ... with probability ∝ distance^-place_alpha (0: uniform, Santa Fe's)
    limit_usd: float  # mean limit order (lognormal, sigma 0.8)
    cancel_rate: float  # per resting lot, a second
    noise_rate: float  # noise market orders a second
    taker_usd: float  # mean market order (Lomax)
    tail_alpha: float  # its tail exponent (> 1)
    sign_keep: float  # probability a noise order keeps the last one's side
    sigma_bp: float  # the latent value's volatility, bp a √s
    jumps_per_hour: float
    jump_bp: float  # mean absolute jump (Laplace)
    informed_rate: float  # informed market orders a second, per informed_full_ticks beyond the touch
    informed_full_ticks: float


# Estimates scaled to the same published figures as config.toml's order-book market
# (market-sim.md §2: one-tick touches for BTC, impact prices within ~1 bp of the mid,
# BTC $3.6B a day; est. 2-15 trades a second); the alt is thinner, wider and more informed.
PROFILES: dict[str, SantaFeParams] = {
    # half an hour of seed 1: the touch 1 tick wide 65% of the time (p90 3), 16 prints and
    # $31k a second, $7.7k at the best level and $190k in 20, the mid's σ 0.85 bp a √s
    # over a minute, 20 levels a side in 99% of the books
    "BTC": SantaFeParams(price=95_000.0, sz_decimals=5, limit_rate=30.0, place_ticks=40, place_alpha=0.5,
                         limit_usd=3_000.0, cancel_rate=0.25, noise_rate=2.0, taker_usd=2_500.0, tail_alpha=2.2,
                         sign_keep=0.6, sigma_bp=0.9, jumps_per_hour=0.5, jump_bp=12.0, informed_rate=3.0,
                         informed_full_ticks=4.0),
    # half an hour of seed 1: the touch 2 ticks wide at the median (p90 6), 9 prints and
    # $2.8k a second, $500 at the best level and $13k in 20, 20 levels a side in 97%
    "HYPE": SantaFeParams(price=30.0, sz_decimals=2, limit_rate=15.0, place_ticks=40, place_alpha=0.3,
                          limit_usd=400.0, cancel_rate=0.2, noise_rate=1.2, taker_usd=600.0, tail_alpha=2.0,
                          sign_keep=0.6, sigma_bp=2.2, jumps_per_hour=2.0, jump_bp=40.0, informed_rate=2.0,
                          informed_full_ticks=4.0),
}


class SantaFeMarket(GridMarket):
    def __init__(self, params: SantaFeParams, seed: int, step_s: float = 0.1) -> None:
        super().__init__(params.price, params.sz_decimals, seed, 0x5AF3, step_s)
        self.p = p = params
        self._last_sign = 1
        w = np.arange(1, p.place_ticks + 1, dtype=float) ** -p.place_alpha
        self._place_cdf = np.cumsum(w / w.sum())
        self._seed_book()

    # -- the grid ----------------------------------------------------------------------
    def _best_bid(self) -> int:
        nz = np.flatnonzero(self._bids[self._lo():self._hi()])
        return self._lo() + int(nz[-1]) if len(nz) else -1

    def _best_ask(self) -> int:
        nz = np.flatnonzero(self._asks[self._lo():self._hi()])
        return self._lo() + int(nz[0]) if len(nz) else -1

    def _lo(self) -> int:
        return max(0, self._centre - 4 * WALK_TICKS)

    def _hi(self) -> int:
        return min(len(self._bids), self._centre + 4 * WALK_TICKS)

    def _book_window(self) -> tuple[int, int]:
        return self._lo(), self._hi()

    def _seed_book(self) -> None:
        """A book around the start price, as the makers would have left it."""
        c = self._centre = SPAN
        rng, p = self._rng, self.p
        share = np.diff(self._place_cdf, prepend=0.0)
        for k in range(1, p.place_ticks + 1):
            depth = p.limit_rate / max(p.cancel_rate, 1e-9) * share[k - 1]  # orders a level, in equilibrium
            for arr, i in ((self._bids, c - k), (self._asks, c + k)):
                n = rng.poisson(depth)
                arr[i] += sum(self._limit_lots() for _ in range(n))
        self._bb, self._ba = self._best_bid(), self._best_ask()

    def _limit_lots(self) -> int:
        usd = self.p.limit_usd * math.exp(self._rng.normal(-0.32, 0.8))  # lognormal, mean limit_usd
        return max(1, round(usd / self._lot_usd))

    # -- one step --------------------------------------------------------------------
    def _step(self, out: list[Print]) -> None:
        p, rng, dt = self.p, self._rng, self.step_s
        self._move_value(p.sigma_bp, p.jumps_per_hour, p.jump_bp)
        self._cancel(dt)
        for buy in (True, False):
            for _ in range(rng.poisson(p.limit_rate * dt)):
                self._place(buy)
        for _ in range(rng.poisson(p.noise_rate * dt)):
            if rng.random() >= p.sign_keep:
                self._last_sign = 1 if rng.random() < 0.5 else -1
            self._take(self._last_sign > 0, self._lomax_lots(p.taker_usd, p.tail_alpha), out)
        value = self.value
        beyond = (value - self._px(self._ba)) if value > self.mid else (self._px(self._bb) - value)
        if beyond > 0:
            strength = min(MAX_STRENGTH, beyond / (p.informed_full_ticks * self.tick))
            for _ in range(rng.poisson(p.informed_rate * strength * dt)):
                self._take(value > self.mid, self._lomax_lots(p.taker_usd, p.tail_alpha), out)
        self._recentre()

    def _cancel(self, dt: float) -> None:
        keep = math.exp(-self.p.cancel_rate * dt)
        lo, hi = self._bb - 3 * self.p.place_ticks - 50, self._ba + 3 * self.p.place_ticks + 50
        lo, hi = max(lo, 0), min(hi, len(self._bids))
        for arr in (self._bids, self._asks):
            seg = arr[lo:hi]
            seg[:] = self._rng.binomial(seg, keep)
        if self._n % 50 == 0:  # orders left far from the touch by a move: gone within their lifetime
            for arr in (self._bids, self._asks):
                arr[:lo] = 0
                arr[hi:] = 0
        if self._bids[self._bb] == 0:
            self._bb = self._best_bid()
        if self._asks[self._ba] == 0:
            self._ba = self._best_ask()

    def _place(self, buy: bool) -> None:
        d = 1 + min(int(np.searchsorted(self._place_cdf, self._rng.random(), side="right")), self.p.place_ticks - 1)
        lots = self._limit_lots()
        if buy:
            i = (self._ba if self._ba >= 0 else self._bb + 1) - d
            self._bids[i] += lots
            if i > self._bb:
                self._bb = i
        else:
            i = (self._bb if self._bb >= 0 else self._ba - 1) + d
            self._asks[i] += lots
            if self._ba < 0 or i < self._ba:
                self._ba = i

    def _take(self, buy: bool, lots: int, out: list[Print]) -> None:
        if (self._ba if buy else self._bb) < 0:
            return
        self._walk(buy, lots, out)
        arr = self._asks if buy else self._bids
        if buy:
            self._ba = self._best_ask() if arr[self._ba] == 0 else self._ba
        else:
            self._bb = self._best_bid() if arr[self._bb] == 0 else self._bb
        if self._bb < 0 or self._ba < 0:  # a side walked empty: makers refill it from the other
            ref = self._ba if self._bb < 0 else self._bb
            for _ in range(3):
                self._place(self._bb < 0)
            if self._bb < 0 or self._ba < 0:
                raise RuntimeError(f"the book lost a side near tick {ref}")

    def _recentre(self) -> None:
        mid_i = (self._bb + self._ba) // 2
        if abs(mid_i - self._centre) > WALK_TICKS:
            self._centre = mid_i
            if not 8 * WALK_TICKS < mid_i < len(self._bids) - 8 * WALK_TICKS:
                raise RuntimeError("the price left the grid: a longer grid is needed for this run")
