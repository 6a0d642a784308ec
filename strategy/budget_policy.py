"""How the order actor spends Hyperliquid's address action budget wisely.

Every placement and cancel costs one action of a budget that grows only with traded
volume (1 per USDC). When the budget runs low, requoting for small moves is the first
thing to give up: the refresh tolerance (how far a resting order may drift from the
wanted price before it is replaced) widens as the share left shrinks. With half or
more left nothing changes; at a quarter left it doubles; at 5% it is ten times wider.
Cancels are never held back (they have their own, higher cap). On Hyperliquid the share
is the scarcer of the address actions and the minute's IP weight (1200): a hive that
requotes five assets several times a second can spend the weight before the actions.
"""
from __future__ import annotations

from collections import deque

FULL_SPEED_SHARE = 0.5  # at or above this share left, quote as configured
MAX_WIDENING = 10.0


def refresh_tolerance_bp(base_bp: float, budget_share_left: float) -> float:
    """The refresh tolerance to use with ``budget_share_left`` (0..1) of the budget left."""
    share = min(1.0, max(0.0, budget_share_left))
    if share >= FULL_SPEED_SHARE:
        return base_bp
    widening = MAX_WIDENING if share <= 0 else min(MAX_WIDENING, FULL_SPEED_SHARE / share)
    return max(base_bp, 0.1) * widening


def governed_tolerance_bp(tolerance_bp: float, cancels: int, fills: int, max_cancels_per_fill: float) -> float:
    """The cancel-to-fill governor: past ``max_cancels_per_fill`` cancels per fill over its
    window, the refresh tolerance widens in proportion, so levels move less often until
    fills catch up (volume is what refills the budget)."""
    ratio = cancels / max(fills, 1)
    if not ratio > max_cancels_per_fill:
        return tolerance_bp
    return max(tolerance_bp, 0.1) * min(MAX_WIDENING, ratio / max_cancels_per_fill)


class CancelFillGovernor:
    """Cancels and fills over a rolling window, and the tolerance they allow."""

    def __init__(self, max_cancels_per_fill: float = 10.0, window_s: float = 300.0) -> None:
        self.max_cancels_per_fill, self.window_s = max_cancels_per_fill, window_s
        self._cancels: deque[tuple[float, int]] = deque()
        self._fills: deque[float] = deque()
        self.n_cancels = 0

    def _trim(self, ts: float) -> None:
        cut = ts - self.window_s
        while self._cancels and self._cancels[0][0] < cut:
            self.n_cancels -= self._cancels.popleft()[1]
        while self._fills and self._fills[0] < cut:
            self._fills.popleft()

    def on_cancels(self, ts: float, n: int) -> None:
        self._cancels.append((ts, n))
        self.n_cancels += n

    def on_fill(self, ts: float) -> None:
        self._fills.append(ts)

    def tolerance_bp(self, base_bp: float, ts: float) -> float:
        self._trim(ts)
        return governed_tolerance_bp(base_bp, self.n_cancels, len(self._fills), self.max_cancels_per_fill)
