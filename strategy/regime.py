"""Volatility at 1, 5 and 15 minutes, and the regime it puts the asset in (strategy.md).

A one-minute estimate alone flips with every burst; the longer horizons remember that a
market has been wild. The regime is set by the largest one-minute-scaled move of the
three horizons, and scales spread, levels and size; EXTREME pulls the quotes.
"""
from __future__ import annotations

import math

from messages.market import Regime
from strategy.volatility import EwmaVolatility

HORIZONS_S = (60.0, 300.0, 900.0)
# regime -> (spread scale, levels per side, size multiplier); strategy.md's table
SCALES: dict[str, tuple[float, int, float]] = {
    "CALM": (0.7, 5, 1.2),
    "NORMAL": (1.0, 3, 1.0),
    "ELEVATED": (2.0, 2, 0.7),
    "EXTREME": (2.0, 0, 0.0),
}


class MultiHorizonVolatility:
    """Three EWMA estimators of the mid with half-lives of 1, 5 and 15 minutes."""

    def __init__(self, initial_sigma_bp: float = 1.0) -> None:
        self.vols = tuple(EwmaVolatility(h, initial_sigma_bp) for h in HORIZONS_S)

    def update(self, ts: float, mid: float) -> tuple[float, float, float]:
        v1, v5, v15 = (v.update(ts, mid) for v in self.vols)
        return v1, v5, v15


def classify(sigmas_bp: tuple[float, ...], calm_bp: float, elevated_bp: float, extreme_bp: float) -> Regime:
    """The regime of the largest of ``sigmas_bp`` (bp per √s) as a one-minute move; NaN counts as EXTREME."""
    if not all(math.isfinite(s) for s in sigmas_bp) or not sigmas_bp:
        return "EXTREME"
    move = max(sigmas_bp) * math.sqrt(60.0)
    if move > extreme_bp:
        return "EXTREME"
    if move > elevated_bp:
        return "ELEVATED"
    if move < calm_bp:
        return "CALM"
    return "NORMAL"
