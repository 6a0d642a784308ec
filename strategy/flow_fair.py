"""Where the mid is going next, from the book's order flow: the ``fair_value = "flow"`` shift.

Why: a resting quote fills mostly once the price has already moved through it. The book
shows a move before the touch does: size added at the bid and taken from the ask (order
flow imbalance, Cont, Kukanov and Stoikov 2014, "The price impact of order book
events"), a heavy queue on one side. How much each of those says about the next mid is
the market's own business, so it is fitted on the market: a ridge regression of the
mid's move over the next ``horizon_s`` (against the microprice) on

- the microprice's lean from the mid (bp),
- the top-three-level imbalance times the spread (bp),
- the order flow imbalance over the last second and the last three seconds, each
  book's change of touch size in units of the mean level size,
- the book's weight: the size-weighted mean price of every level it shows, from the mid
  (bp). Makers who have seen a move add behind the touch on its side and pull on the
  other before the touch itself moves; on the order-book market this, with the next
  one, took the out-of-sample R² of the latent fair price's gap from the mid from
  0.2–0.37 to about 0.7 (README),
- the ten-level imbalance times the spread (bp), and the spread (bp),

over the books of the last ``window_s``, refitted every ``refit_s``. A book's label is
known ``horizon_s`` later; until ``min_samples`` labels are in, the forecast is 0 and
the fair price is the microprice. The forecast never goes past the largest move seen in
the window, so a bad fit cannot throw the ladder across the book.

Spoofing: an order shown deep in the book costs nothing until the price reaches it, so
one outsized order must not move our fair price. The book's weight counts no level above
``LEVEL_CAP`` median levels, and each feature is held within ``CLIP_SD`` of its standard
deviations over the window before it is forecast from. An order fifty times the largest
level, twenty levels out, moved the forecast 3.5–8.4 bp without them (BTC and HYPE on the
order-book market), 0.25–0.8 bp with them.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Sequence

import numpy as np

from messages.market import Level

N_FEATURES = 8  # a constant and the seven above
Features = tuple[float, ...]  # one book's, in that order
RIDGE = 1e-3  # keeps the fit defined on a book that never changes
# Each feature is held within this many of its standard deviations over the fit's window
# before it is forecast from: one outsized order (a spoof deep in the book) would otherwise
# drag the book's weight, and our fair price, as far as the bound lets it.
CLIP_SD = 4.0
LEVEL_CAP = 4.0  # the book's weight counts no level above this many median levels


class FlowFair:
    def __init__(self, horizon_s: float = 4.0, window_s: float = 600.0, refit_s: float = 5.0,
                 min_samples: int = 200, depth: int = 5) -> None:
        self.horizon_s = horizon_s
        self.window_s = window_s
        self.refit_s = refit_s
        self.min_samples = min_samples
        self.depth = depth
        self.beta: np.ndarray | None = None
        self._fitted_at = -math.inf
        self._prev: tuple[float, float, float, float] | None = None
        self._ofi: deque[tuple[float, float]] = deque()  # (ts, the book's flow imbalance)
        self._waiting: deque[tuple[float, Features, float]] = deque()  # (ts, features, micro): no label yet
        self._labelled: deque[tuple[float, Features, float]] = deque()  # (ts, features, move bp)
        # the fit's running sums; books that entered and left the window since the last fit
        # are folded in then, in one product each (a book's own outer product cost more)
        self._xtx = np.zeros((N_FEATURES, N_FEATURES))
        self._xty = np.zeros(N_FEATURES)
        self._entered: list[tuple[Features, float]] = []
        self._left: list[tuple[Features, float]] = []
        self._moves: deque[float] = deque()  # |label|, for the forecast's bound (monotone max queue)
        # the fit, and each feature's clip, as plain floats: a book's forecast is a few
        # multiplications, cheaper without numpy
        self._beta: list[float] = []
        self._lo: list[float] = []
        self._hi: list[float] = []

    @property
    def samples(self) -> int:
        return len(self._labelled)

    def on_book(self, ts: float, bids: Sequence[Level], asks: Sequence[Level], mid: float, micro: float) -> float:
        """The forecast move of the mid over ``horizon_s`` from ``micro``, bp (0: not known)."""
        x = self._features(ts, bids, asks, mid, micro)
        self._label(ts, mid)
        self._waiting.append((ts, x, micro))
        if self.samples >= self.min_samples and ts - self._fitted_at >= self.refit_s:
            self._fit(ts)
        if self.beta is None or not self._moves:
            return 0.0
        f = 0.0
        for b, v, lo, hi in zip(self._beta, x, self._lo, self._hi):
            f += b * (lo if v < lo else hi if v > hi else v)
        bound = self._moves[0]
        return max(-bound, min(bound, f)) if math.isfinite(f) else 0.0

    def _features(self, ts: float, bids: Sequence[Level], asks: Sequence[Level], mid: float,
                  micro: float) -> Features:
        bb, bq, ba, aq = bids[0].px, bids[0].sz, asks[0].px, asks[0].sz
        bsz = [lv.sz for lv in bids]
        asz = [lv.sz for lv in asks]
        d = self.depth
        sizes = bsz[:d] + asz[:d]
        mean_level = sum(sizes) / len(sizes)
        prev = self._prev
        e = 0.0
        if prev is not None and mean_level > 0:
            pbb, pbq, pba, paq = prev
            # the touch's size added at the bid less that added at the ask (Cont et al.)
            e = ((bq if bb >= pbb else 0.0) - (pbq if bb <= pbb else 0.0)
                 - (aq if ba <= pba else 0.0) + (paq if ba >= pba else 0.0)) / mean_level
        self._prev = (bb, bq, ba, aq)
        ofi = self._ofi
        ofi.append((ts, e))
        while ofi[0][0] < ts - 3.0:
            ofi.popleft()
        last_1s = last_3s = 0.0
        since = ts - 1.0
        for t, v in ofi:
            last_3s += v
            if t >= since:
                last_1s += v
        b3 = sum(bsz[:3])
        a3 = sum(asz[:3])
        spread = (ba - bb) / mid * 1e4
        imb = (b3 - a3) / (b3 + a3) * spread if b3 + a3 > 0 else 0.0
        # the book's weight with no level counted above LEVEL_CAP times the median level:
        # one outsized order deep in the book (a spoof costs nothing there) moves it little
        both = sorted(bsz + asz)
        cap = LEVEL_CAP * both[len(both) // 2]
        weight = value = 0.0
        for lv in bids:
            q = lv.sz if lv.sz < cap else cap
            weight += q
            value += lv.px * q
        for lv in asks:
            q = lv.sz if lv.sz < cap else cap
            weight += q
            value += lv.px * q
        centre = (value / weight - mid) / mid * 1e4 if weight > 0 else 0.0
        b10 = sum(bsz[:10])
        a10 = sum(asz[:10])
        imb10 = (b10 - a10) / (b10 + a10) * spread if b10 + a10 > 0 else 0.0
        return (1.0, (micro - mid) / mid * 1e4, imb, last_1s, last_3s, centre, imb10, spread)

    def _label(self, ts: float, mid: float) -> None:
        """Books ``horizon_s`` old learn where the mid went; books past the window leave."""
        waiting, labelled = self._waiting, self._labelled
        while waiting and waiting[0][0] <= ts - self.horizon_s:
            t0, x, m0 = waiting.popleft()
            y = (mid - m0) / m0 * 1e4
            labelled.append((t0, x, y))
            self._entered.append((x, y))
            moves = self._moves
            while moves and moves[-1] < abs(y):
                moves.pop()
            moves.append(abs(y))
        while labelled and labelled[0][0] < ts - self.window_s:
            _, x, y = labelled.popleft()
            self._left.append((x, y))
            if self._moves and self._moves[0] == abs(y):
                self._moves.popleft()

    def _fold(self, rows: list[tuple[Features, float]], sign: float) -> None:
        if rows:
            x = np.array([r[0] for r in rows])
            self._xtx += sign * (x.T @ x)
            self._xty += sign * (x.T @ np.array([r[1] for r in rows]))
            rows.clear()

    def _fit(self, ts: float) -> None:
        self._fitted_at = ts
        self._fold(self._entered, 1.0)
        self._fold(self._left, -1.0)
        n = self.samples
        xtx = self._xtx / n
        beta = np.linalg.solve(xtx + RIDGE * np.eye(N_FEATURES), self._xty / n)
        self.beta = beta if np.all(np.isfinite(beta)) else None
        mean = xtx[0]  # the first feature is the constant 1: its row holds the means
        sd = np.sqrt(np.maximum(np.diag(xtx) - mean * mean, 0.0))
        self._lo, self._hi = (mean - CLIP_SD * sd).tolist(), (mean + CLIP_SD * sd).tolist()
        self._beta = beta.tolist()
