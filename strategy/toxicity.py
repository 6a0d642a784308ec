"""Toxicity guards: signs that the next trade against a side is informed, and what to do about it.

Each signal names the side it threatens (a rising price lifts our asks): microprice drift,
book imbalance, the aggressor ratio of the last trades, the markouts of our own fills on
that side, and VPIN for both sides. Each widens the threatened side; two or more signals
on one side pull it; severe VPIN with another signal pulls both. Reasons are returned
so the quoter can report them as events.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple


class Guard(NamedTuple):
    spread_mult_bid: float
    spread_mult_ask: float
    pull_bid: bool
    pull_ask: bool
    reasons: tuple[str, ...]


CLEAR = Guard(1.0, 1.0, False, False, ())


def guard(*, drift_bp: float, imbalance: float, buy_ratio: float, vpin: float, markout_bid: float,
          markout_ask: float, drift_limit_bp: float, imbalance_limit: float, aggressor_limit: float,
          vpin_limit: float, widen_mult: float) -> Guard:
    """The guard for one quote; NaN signals say nothing."""
    hits: dict[str, list[str]] = {"B": [], "A": []}
    if abs(drift_bp) > drift_limit_bp:  # NaN compares False
        hits["A" if drift_bp > 0 else "B"].append(f"microprice drift {drift_bp:+.1f}bp")
    if abs(imbalance) > imbalance_limit:
        hits["A" if imbalance > 0 else "B"].append(f"book imbalance {imbalance:+.2f}")
    if buy_ratio > aggressor_limit:
        hits["A"].append(f"buy aggressors {buy_ratio:.0%}")
    elif buy_ratio < 1.0 - aggressor_limit:
        hits["B"].append(f"sell aggressors {1 - buy_ratio:.0%}")
    mult = {"B": 1.0, "A": 1.0}
    for side, m in (("B", markout_bid), ("A", markout_ask)):  # strategy.md's markout ladder
        if m > 0.6:
            mult[side] *= 1.5
            hits[side].append(f"markout {m:.2f}")
        elif m > 0.4:
            mult[side] *= 1.25
        elif m < 0.2:
            mult[side] *= 0.9
    for side in ("B", "A"):
        mult[side] *= widen_mult ** min(len(hits[side]), 1)
    pull = {s: len(hits[s]) >= 2 for s in ("B", "A")}
    reasons = [f"{'bid' if s == 'B' else 'ask'}: {r}" for s in ("B", "A") for r in hits[s]]
    if vpin > vpin_limit:
        mult = {s: v * widen_mult for s, v in mult.items()}
        reasons.append(f"VPIN {vpin:.2f}")
        if hits["B"] or hits["A"]:
            pull = {"B": True, "A": True}
    return Guard(mult["B"], mult["A"], pull["B"], pull["A"], tuple(reasons))


class Markouts:
    """Per-side EMA of how far the fair price moved against our fills after ``horizon_s``,
    in units of the move volatility predicts over that time, clamped to [0, 1]."""

    def __init__(self, horizon_s: float = 5.0, alpha: float = 0.1) -> None:
        self.horizon_s, self.alpha = horizon_s, alpha
        self._pending: deque[tuple[float, str, float]] = deque()
        self.ema = {"B": math.nan, "A": math.nan}

    def on_fill(self, ts: float, side: str, px: float) -> None:
        if math.isfinite(ts) and px > 0 and math.isfinite(px) and side in self.ema:
            self._pending.append((ts, side, px))

    def update(self, ts: float, fair: float, sigma_bp: float) -> None:
        """Score the fills at least ``horizon_s`` old against ``fair`` now."""
        if not (fair > 0 and math.isfinite(fair)):
            return
        scale = max(sigma_bp, 0.1) * math.sqrt(self.horizon_s) if math.isfinite(sigma_bp) else 1.0
        while self._pending and ts - self._pending[0][0] >= self.horizon_s:
            _, side, px = self._pending.popleft()
            against_bp = (px - fair) / px * 1e4 if side == "B" else (fair - px) / px * 1e4
            score = min(1.0, max(0.0, against_bp / scale))
            old = self.ema[side]
            self.ema[side] = score if math.isnan(old) else old + self.alpha * (score - old)
