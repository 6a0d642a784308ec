"""A and k of λ(δ) = A·e^(−kδ) fitted online from the market's own trades (models.md §2.4, method 1).

Each trade's depth is how far it reached past the fair price (buy aggressors above it,
sell aggressors below); a taker that walks the book prints several trades at one time,
counted once at its deepest. Over a rolling window, λ(δ) is the rate of trades reaching
at least δ; an OLS fit of ln λ on δ gives ln A and −k. A fixed k would leave the quotes
where no trade ever reaches them on one market and inside the noise on another.
"""
from __future__ import annotations

import bisect
import math
from collections import deque

MIN_SPAN_S = 30.0  # no fit before this much tape: early rates are noise
MIN_POINTS = 3  # depth bins with trades needed for a fit
MIN_COUNT = 5  # a bin reached fewer times is noise, not a rate


class IntensityCalibrator:
    """Rolling trade depths in bp; ``fit`` refits at most every ``refit_s``."""

    def __init__(self, window_s: float = 600.0, refit_s: float = 5.0, bin_bp: float = 0.5, bins: int = 40) -> None:
        self.window_s, self.refit_s, self.bin_bp, self.bins = window_s, refit_s, bin_bp, bins
        self._depths: deque[tuple[float, float]] = deque()  # (ts, depth bp)
        self._sorted: list[float] = []  # the same depths, kept sorted (a fit bisects it)
        self._last: tuple[float, str] | None = None  # (ts, side) of the taker being walked
        self._first_ts: float | None = None
        self._next_fit = -math.inf
        self.a = math.nan
        self.k = math.nan

    def on_trade(self, ts: float, px: float, side: str, fair: float) -> None:
        if not (math.isfinite(ts) and px > 0 and fair > 0 and math.isfinite(px) and math.isfinite(fair)):
            return
        depth = (px - fair) / fair * 1e4 if side == "B" else (fair - px) / fair * 1e4
        depth = max(depth, 0.0)
        if self._first_ts is None:
            self._first_ts = ts
        if self._last == (ts, side) and self._depths:
            t0, d0 = self._depths[-1]
            self._depths[-1] = (t0, max(d0, depth))
            if depth > d0:
                del self._sorted[bisect.bisect_left(self._sorted, d0)]
                bisect.insort(self._sorted, depth)
        else:
            self._depths.append((ts, depth))
            bisect.insort(self._sorted, depth)
            self._last = (ts, side)

    def fit(self, ts: float) -> tuple[float, float]:
        """(A per second, k per bp), NaN until enough tape; refits at most every ``refit_s``."""
        if ts < self._next_fit or self._first_ts is None:
            return self.a, self.k
        self._next_fit = ts + self.refit_s
        cut = ts - self.window_s
        while self._depths and self._depths[0][0] < cut:
            del self._sorted[bisect.bisect_left(self._sorted, self._depths.popleft()[1])]
        span = min(self.window_s, ts - self._first_ts)
        if span < MIN_SPAN_S or len(self._depths) < MIN_POINTS:
            return self.a, self.k
        depths = self._sorted
        n = len(depths)
        xs, ys, ws = [], [], []
        for i in range(self.bins):
            delta = (i + 0.5) * self.bin_bp
            reached = n - bisect.bisect_left(depths, delta)
            if reached < MIN_COUNT:
                break
            xs.append(delta)
            ys.append(math.log(reached / span))
            ws.append(math.sqrt(reached))  # a Poisson count's log has variance ~ 1/count
        if len(xs) >= MIN_POINTS:
            slope, intercept = _weighted_line(xs, ys, ws)
            if slope < 0 and math.isfinite(slope) and math.isfinite(intercept):
                self.a, self.k = math.exp(intercept), -slope
        return self.a, self.k


def _weighted_line(xs: list[float], ys: list[float], ws: list[float]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line with weights ``ws`` on the residuals
    (numpy.polyfit's w); a few dozen points, so plain Python beats a LAPACK call."""
    w2 = [w * w for w in ws]
    sw = sum(w2)
    mx = sum(w * x for w, x in zip(w2, xs)) / sw
    my = sum(w * y for w, y in zip(w2, ys)) / sw
    sxx = sum(w * (x - mx) ** 2 for w, x in zip(w2, xs))
    sxy = sum(w * (x - mx) * (y - my) for w, x, y in zip(w2, xs, ys))
    if sxx <= 0:
        return math.nan, math.nan
    slope = sxy / sxx
    return slope, my - slope * mx
