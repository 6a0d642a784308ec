"""Trend: a fast and a slow EMA of the mid (60 s / 300 s), their gap as a signed strength.

Weights decay with elapsed time, not with the count of books. Strength is the gap in bp
over ``full_bp``, clamped to [−1, 1]; positive means the market is rising.
"""
from __future__ import annotations

import math


class TrendSignal:
    def __init__(self, fast_s: float = 60.0, slow_s: float = 300.0, full_bp: float = 10.0) -> None:
        self.fast_s, self.slow_s, self.full_bp = fast_s, slow_s, full_bp
        self._fast = self._slow = math.nan
        self._ts = math.nan

    def update(self, ts: float, mid: float) -> float:
        if not (mid > 0 and math.isfinite(mid) and math.isfinite(ts)):
            return self.strength
        if math.isnan(self._ts):
            self._fast = self._slow = mid
        elif ts > self._ts:
            dt = ts - self._ts
            self._fast += (1.0 - math.exp(-dt / self.fast_s)) * (mid - self._fast)
            self._slow += (1.0 - math.exp(-dt / self.slow_s)) * (mid - self._slow)
        else:
            return self.strength
        self._ts = ts
        return self.strength

    @property
    def strength(self) -> float:
        if not (self._slow > 0):
            return 0.0
        gap_bp = (self._fast - self._slow) / self._slow * 1e4
        return max(-1.0, min(1.0, gap_bp / self.full_bp))


def funding_shift_bp(funding_rate_per_h: float, horizon_h: float) -> float:
    """Reservation shift in bp: a positive rate (longs pay) lowers it, so the hive leans short and earns it.

    The cost of holding one unit for ``horizon_h`` hours, priced into where it is indifferent.
    """
    if not math.isfinite(funding_rate_per_h):
        return 0.0
    return -funding_rate_per_h * 1e4 * horizon_h
