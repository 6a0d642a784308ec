"""A third market for recorded-format streams: the queue-reactive book (Huang, Lehalle and
Rosenbaum 2015) with a self-exciting (Hawkes) clock for market orders and news that
redraws the book.

Why: the simulator's order-book market and the Santa Fe book (``bench.santafe``) both
send market orders as a Poisson stream, so trades never come in bursts, and their queues
evolve whatever their size. Real books do neither (``market-sim.md`` §1): order flow is
self-exciting, with an endogeneity near 0.8 (Bacry, Mastromatteo and Muzy 2015), and
makers add to short queues, cancel from long ones and take from thin ones (HLR 2015, the
"best single core" there). A maker whose quotes are priced on averages meets the bursts
here, and a quote deep in the book fills mostly inside one.

- **Queues** (HLR's model I, in units of an average event size, AES): per level i from a
  side's best (i = 0..``LEVELS``−1), AES-sized limit orders arrive at
  a_i / (1 + q/``queue_half_aes``) a second (fewer on a long queue), each resting AES
  cancels at ``cancel_rate`` a second; a_i is set so the queue's mean is
  ``depth_aes[i]``. A spread wider than a tick fills from inside at ``inside_rate``.
- **Market orders**: per side at ``mkt_rate``·(1 + ``thin_boost``/(1 + q)) on a best
  queue of q AES (the thin side is taken more), plus a Hawkes excitation: each market
  order adds ``hawkes_self`` a second to its side's intensity and ``hawkes_cross`` to the
  other's, decaying at ``hawkes_decay`` a second (branching ratio
  (self + cross)/decay < 1). Lomax sizes of mean ``taker_usd``; each walks the book.
- **News**: a latent value moves as a random walk of ``sigma_bp`` a √s with jumps. A
  share ``informed_share`` of the market orders trades toward it while it is beyond the
  touch, and when a best queue is eaten away with the value more than ``redraw_bp`` from
  the mid, the makers redraw the book around the value with probability ``redraw_prob``
  (HLR's θ_reinit): the price jumps there with no print, as a book does on news.

Deterministic per seed. Output like ``bench.santafe.SantaFeMarket``: ``advance(t)``
returns the step's prints, ``book(levels)`` the book, ``mid`` the book's mid.
"""
from __future__ import annotations

import math

import msgspec
import numpy as np

from bench.grid_market import SPAN, WALK_TICKS, GridMarket
from venues.sim.orderbook import Print

LEVELS = 30  # queues a side the makers work, from the side's best


class QueueReactiveParams(msgspec.Struct, frozen=True, kw_only=True):
    price: float
    sz_decimals: int
    aes_usd: float  # the average event size: a limit order or a cancel moves about this much
    depth_aes: tuple[float, ...]  # the mean queue (AES) at levels 0, 1, ... from the best (the last repeats)
    queue_half_aes: float  # a queue this long gets half the limit orders an empty one would
    cancel_rate: float  # per resting AES, a second
    inside_rate: float  # limit orders a second inside a spread wider than a tick, per side
    mkt_rate: float  # market orders a second per side, before excitation ...
    thin_boost: float  # ... times (1 + this / (1 + best queue in AES))
    hawkes_self: float  # intensity (a second) each market order adds to its own side ...
    hawkes_cross: float  # ... and to the other side
    hawkes_decay: float  # the excitation's decay rate, a second
    taker_usd: float  # mean market order (Lomax)
    tail_alpha: float  # its tail exponent (> 1)
    informed_share: float  # market orders that trade toward the value while it is beyond the touch
    sigma_bp: float  # the latent value's volatility, bp a √s
    jumps_per_hour: float
    jump_bp: float  # mean absolute jump (Laplace)
    redraw_prob: float  # a best queue eaten with the value past the mid by redraw_bp: the book redrawn there
    redraw_bp: float


# Scaled to the same published figures as config.toml's and bench.santafe's markets
# (market-sim.md §2: one-tick BTC touches, impact prices within ~1 bp of the mid; est.
# 2-15 trades a second, more in bursts); the alt is thinner, wider and more informed.
PROFILES: dict[str, QueueReactiveParams] = {
    "BTC": QueueReactiveParams(price=95_000.0, sz_decimals=5, aes_usd=2_500.0,
                               depth_aes=(3.0, 3.5, 4.0, 4.0, 4.5), queue_half_aes=4.0, cancel_rate=0.3,
                               inside_rate=30.0, mkt_rate=0.6, thin_boost=2.0, hawkes_self=1.6, hawkes_cross=0.4,
                               hawkes_decay=2.5, taker_usd=2_500.0, tail_alpha=2.2, informed_share=0.3,
                               sigma_bp=0.9, jumps_per_hour=0.5, jump_bp=12.0, redraw_prob=0.3, redraw_bp=3.0),
    "HYPE": QueueReactiveParams(price=30.0, sz_decimals=2, aes_usd=250.0,
                                depth_aes=(1.5, 2.0, 2.5, 2.5, 3.0), queue_half_aes=2.0, cancel_rate=0.25,
                                inside_rate=8.0, mkt_rate=0.4, thin_boost=2.0, hawkes_self=1.6, hawkes_cross=0.4,
                                hawkes_decay=2.5, taker_usd=500.0, tail_alpha=2.0, informed_share=0.4,
                                sigma_bp=2.2, jumps_per_hour=2.0, jump_bp=40.0, redraw_prob=0.3, redraw_bp=8.0),
}


class QueueReactiveMarket(GridMarket):
    def __init__(self, params: QueueReactiveParams, seed: int, step_s: float = 0.1) -> None:
        super().__init__(params.price, params.sz_decimals, seed, 0x9E0E, step_s)
        self.p = p = params
        self._aes = max(1, round(p.aes_usd / self._lot_usd))  # lots
        depth = np.array([p.depth_aes[min(i, len(p.depth_aes) - 1)] for i in range(LEVELS)])
        self._depth = depth
        # limit orders at level i on an empty queue: their rate at the mean queue balances its cancels
        self._add0 = p.cancel_rate * depth * (1.0 + depth / p.queue_half_aes)
        self._excite = [0.0, 0.0]  # Hawkes excitation of (buys, sells), a second
        self.redraws = 0
        self._redraw(SPAN)

    # -- the grid ----------------------------------------------------------------------
    def _best_bid(self, below: int) -> int:
        seg = self._bids[max(0, below - 4 * WALK_TICKS):below + 1]
        nz = np.flatnonzero(seg)
        return below - (len(seg) - 1 - int(nz[-1])) if len(nz) else -1

    def _best_ask(self, above: int) -> int:
        seg = self._asks[above:above + 4 * WALK_TICKS]
        nz = np.flatnonzero(seg)
        return above + int(nz[0]) if len(nz) else -1

    def _redraw(self, centre: int) -> None:
        """The makers' book drawn afresh with its best bid at ``centre`` (a one-tick touch);
        what rested between the old touch and the new is gone (it would cross)."""
        old_bb, old_ba = (self._bb, self._ba) if self._bb >= 0 else (centre, centre + 1)
        lo = max(0, min(centre, old_bb) - 4 * LEVELS)
        hi = min(len(self._bids), max(centre, old_ba) + 4 * LEVELS)
        self._bids[lo:hi] = 0
        self._asks[lo:hi] = 0
        sizes = self._rng.gamma(2.0, self._depth / 2.0, size=(2, LEVELS))  # mean depth, some spread
        for k in range(LEVELS):
            self._bids[centre - k] = max(1, round(sizes[0, k] * self._aes))
            self._asks[centre + 1 + k] = max(1, round(sizes[1, k] * self._aes))
        self._bb, self._ba = centre, centre + 1
        self.redraws += 1

    # -- one step --------------------------------------------------------------------
    def _step(self, out: list[Print]) -> None:
        p, rng, dt = self.p, self._rng, self.step_s
        self._move_value(p.sigma_bp, p.jumps_per_hour, p.jump_bp)
        self._queues(dt)
        decay = math.exp(-p.hawkes_decay * dt)
        self._excite = [e * decay for e in self._excite]
        counts = []
        for s, (arr, best) in enumerate(((self._asks, self._ba), (self._bids, self._bb))):
            q = arr[best] / self._aes
            counts.append(rng.poisson((p.mkt_rate * (1.0 + p.thin_boost / (1.0 + q)) + self._excite[s]) * dt))
        orders = [True] * counts[0] + [False] * counts[1]
        rng.shuffle(orders)
        for buy in orders:
            value = self.value
            if value > self._px(self._ba) or value < self._px(self._bb):
                if rng.random() < p.informed_share:
                    buy = value > self._px(self._ba)
            s = 0 if buy else 1
            self._excite[s] += p.hawkes_self
            self._excite[1 - s] += p.hawkes_cross
            self._take(buy, self._lomax_lots(p.taker_usd, p.tail_alpha), out)

    def _queues(self, dt: float) -> None:
        """One step of every worked queue: limit orders in (fewer on long queues), cancels out."""
        p, rng, aes = self.p, self._rng, self._aes
        for arr, idx in ((self._bids, np.arange(self._bb, self._bb - LEVELS, -1)),
                         (self._asks, np.arange(self._ba, self._ba + LEVELS))):
            q = arr[idx] / aes
            adds = rng.poisson(self._add0 / (1.0 + q / p.queue_half_aes) * dt)
            cancels = rng.poisson(p.cancel_rate * q * dt)
            arr[idx] = np.maximum(0, arr[idx] + (adds - cancels) * aes)
        if self._ba - self._bb > 1:  # a wide touch fills from inside, a tick at a time
            for buy in (True, False):
                for _ in range(rng.poisson(p.inside_rate * dt)):
                    if self._ba - self._bb <= 1:
                        break
                    if buy:
                        self._bb += 1
                        self._bids[self._bb] += aes
                    else:
                        self._ba -= 1
                        self._asks[self._ba] += aes
        if self._bids[self._bb] == 0:
            self._bb = self._refill(True)
        if self._asks[self._ba] == 0:
            self._ba = self._refill(False)

    def _refill(self, bid: bool) -> int:
        """A side's new best after its best queue emptied (none within reach: one order back at the old price)."""
        best = self._best_bid(self._bb) if bid else self._best_ask(self._ba)
        if best < 0:
            best = self._bb if bid else self._ba
            (self._bids if bid else self._asks)[best] = self._aes
        return best

    def _take(self, buy: bool, lots: int, out: list[Print]) -> None:
        self._walk(buy, lots, out)
        arr = self._asks if buy else self._bids
        if arr[self._ba if buy else self._bb] == 0:
            if buy:
                self._ba = self._refill(False)
            else:
                self._bb = self._refill(True)
            self._news()
        self._check()

    def _news(self) -> None:
        """A best queue was eaten: with the value more than ``redraw_bp`` from the mid, the
        makers may redraw the book around it (the price jumps there with no print)."""
        value = self.value
        if abs(value / self.mid - 1.0) * 1e4 > self.p.redraw_bp and self._rng.random() < self.p.redraw_prob:
            self._redraw(math.floor(value / self.tick + 1e-9) - self._i0)

    def _check(self) -> None:
        if not (self._bb < self._ba and 8 * WALK_TICKS < self._bb < len(self._bids) - 8 * WALK_TICKS):
            raise RuntimeError("the book crossed or left the grid: a longer grid is needed for this run")
