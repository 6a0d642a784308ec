"""Realised volatility of the mid as an EWMA of squared log-returns per second.

Book snapshots arrive at uneven intervals (conflation drops some), so each squared
return is divided by its own dt, and the weight of the past decays with the actual
elapsed time (by a half-life) rather than with a count of updates.
"""
from __future__ import annotations

import math

MIN_DT_S = 0.01  # shortest interval over which a return counts as a rate


class EwmaVolatility:
    """sigma in basis points per sqrt(second) of a price observed at irregular times."""

    def __init__(self, halflife_s: float = 30.0, initial_sigma_bp: float = 1.0) -> None:
        if not halflife_s > 0:
            raise ValueError(f"halflife_s must be > 0, got {halflife_s}")
        if not initial_sigma_bp >= 0:
            raise ValueError(f"initial_sigma_bp must be >= 0, got {initial_sigma_bp}")
        self.halflife_s = halflife_s
        self._var = initial_sigma_bp * initial_sigma_bp  # bp^2 per second
        self._ts: float | None = None
        self._mid = 0.0

    @property
    def sigma_bp(self) -> float:
        return math.sqrt(self._var)

    def update(self, ts: float, mid: float) -> float:
        """Fold in one observation; returns the new sigma (bp/sqrt(s)).

        The first observation only anchors the series. Non-positive (or non-finite) mids
        and observations not later than the previous one are ignored entirely.
        """
        if not (mid > 0 and math.isfinite(mid) and math.isfinite(ts)):
            return self.sigma_bp
        if self._ts is None:
            self._ts, self._mid = ts, mid
            return self.sigma_bp
        dt = ts - self._ts
        if dt <= 0:
            return self.sigma_bp
        r_bp = (math.log(mid) - math.log(self._mid)) * 1e4
        alpha = 1.0 - math.exp(-math.log(2.0) * dt / self.halflife_s)  # = 1 - 2^(-dt/halflife)
        # Two prints microseconds apart would turn a normal return into an absurd rate.
        var = self._var + alpha * (r_bp * r_bp / max(dt, MIN_DT_S) - self._var)
        if math.isfinite(var):
            self._var = var
        self._ts, self._mid = ts, mid
        return self.sigma_bp
