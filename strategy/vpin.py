"""VPIN over volume buckets, classified by the trade's own aggressor side (models.md §3.3).

Hyperliquid's trades carry the aggressor, so no bulk classification is needed. The
bucket size adapts: 50 times the running mean trade notional, so one setting fits BTC
and a thin alt. VPIN = mean |buy − sell| / bucket volume over the last 50 buckets.
"""
from __future__ import annotations

import math
from collections import deque

BUCKET_TRADES = 50.0  # bucket volume in mean trades
WINDOW_BUCKETS = 50
MIN_BUCKETS = 5


class Vpin:
    def __init__(self) -> None:
        self._mean_usd = math.nan
        self._buy = self._sell = 0.0
        self._imbalances: deque[float] = deque(maxlen=WINDOW_BUCKETS)
        self._sum = 0.0

    def on_trade(self, px: float, sz: float, side: str) -> None:
        usd = px * sz
        if not (usd > 0 and math.isfinite(usd)):
            return
        self._mean_usd = usd if math.isnan(self._mean_usd) else self._mean_usd + 0.01 * (usd - self._mean_usd)
        if side == "B":
            self._buy += usd
        else:
            self._sell += usd
        bucket = BUCKET_TRADES * self._mean_usd
        total = self._buy + self._sell
        if total >= bucket:
            if len(self._imbalances) == WINDOW_BUCKETS:
                self._sum -= self._imbalances[0]
            oi = abs(self._buy - self._sell) / total
            self._imbalances.append(oi)
            self._sum += oi
            self._buy = self._sell = 0.0

    @property
    def value(self) -> float:
        """VPIN in [0, 1]; NaN until a few buckets are full."""
        if len(self._imbalances) < MIN_BUCKETS:
            return math.nan
        return min(1.0, max(0.0, self._sum / len(self._imbalances)))
