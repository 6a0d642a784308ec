"""The runtime auto-tuner: bounded, logged adjustments of the spread and the inventory
skew from the asset's own rolling performance.

Three rules, looked at once a period over a rolling window of the asset's equity (net
PnL), fills and inventory (what the risk actor publishes):

- **losing** (the window's Sharpe of equity changes below ``losing_sharpe``): widen;
- **idle** (not losing, fewer than ``min_fills_per_h`` fills an hour): tighten;
- **loaded** (mean |inventory| above ``inventory_pressure`` of the limit): raise the skew.

Otherwise each multiplier steps back toward 1. Every step is at most ``step`` (10%) and
every multiplier stays within its bounds, so a wrong rule can only cost so much; each
change is an event with the figures behind it. Pure: time is an argument.
"""
from __future__ import annotations

import collections
import math
from typing import NamedTuple

from config import AutoTunerConfig
from messages.risk import RiskState


class TunerChange(NamedTuple):
    """What one look decided: the new multipliers and why (for the event log)."""

    spread_mult: float
    skew_mult: float
    why: str


class _Sample(NamedTuple):
    ts: float
    equity: float
    fills: int
    load: float  # |inventory| / limit


class AutoTuner:
    def __init__(self, cfg: AutoTunerConfig) -> None:
        self.cfg = cfg
        self.spread_mult = 1.0
        self.skew_mult = 1.0
        self._samples: collections.deque[_Sample] = collections.deque()
        self._next_sample = -math.inf
        self._next_look = math.nan  # a period after the first observation

    def keep_multipliers(self, old: "AutoTuner") -> None:
        """After a reload with other settings: start from ``old``'s multipliers, within our bounds."""
        c = self.cfg
        self.spread_mult = min(max(old.spread_mult, c.min_spread_mult), c.max_spread_mult)
        self.skew_mult = min(max(old.skew_mult, 1.0), c.max_skew_mult)

    def observe(self, ts: float, risk: RiskState) -> TunerChange | None:
        """Take the asset's latest risk state; once a period, maybe change the multipliers."""
        c = self.cfg
        if not math.isfinite(ts):
            return None
        if math.isnan(self._next_look):
            self._next_look = ts + c.period_s
        if ts >= self._next_sample:
            self._next_sample = ts + c.sample_s
            equity = risk.net_pnl
            load = abs(risk.position * risk.mid) / risk.limit_usd if risk.limit_usd > 0 else 0.0
            if math.isfinite(equity) and math.isfinite(load):
                self._samples.append(_Sample(ts, equity, risk.fills_buy + risk.fills_sell, load))
            while self._samples and self._samples[0].ts < ts - c.window_s:
                self._samples.popleft()
        if ts < self._next_look:
            return None
        self._next_look = ts + c.period_s
        return self._look()

    def _look(self) -> TunerChange | None:
        c = self.cfg
        s = list(self._samples)
        if len(s) < c.min_samples or s[-1].ts - s[0].ts <= 0:
            return None
        hours = (s[-1].ts - s[0].ts) / 3600.0
        changes = [b.equity - a.equity for a, b in zip(s, s[1:])]
        mean = sum(changes) / len(changes)
        sd = math.sqrt(sum((x - mean) ** 2 for x in changes) / len(changes))
        sharpe = mean / sd * math.sqrt(len(changes)) if sd > 0 else 0.0  # of the window, not annualised
        fills_per_h = (s[-1].fills - s[0].fills) / hours
        load = sum(x.load for x in s) / len(s)
        spread, skew, why = self.spread_mult, self.skew_mult, []
        if sharpe < c.losing_sharpe:
            spread = min(c.max_spread_mult, spread * (1 + c.step))
            why.append(f"losing (Sharpe {sharpe:.2f} over {hours * 60:.0f} min): wider")
        elif fills_per_h < c.min_fills_per_h:
            spread = max(c.min_spread_mult, spread * (1 - c.step))
            why.append(f"idle ({fills_per_h:.0f} fills/h): tighter")
        else:
            spread = _toward_one(spread, c.step)
        if load > c.inventory_pressure:
            skew = min(c.max_skew_mult, skew * (1 + c.step))
            why.append(f"loaded ({load:.0%} of the limit on average): more skew")
        else:
            skew = _toward_one(skew, c.step)
        if abs(spread - self.spread_mult) < 1e-12 and abs(skew - self.skew_mult) < 1e-12:
            return None
        self.spread_mult, self.skew_mult = spread, skew
        return TunerChange(spread, skew, "; ".join(why) or "back toward the configured spread and skew")


def _toward_one(m: float, step: float) -> float:
    """One bounded step back toward 1 (never past it)."""
    return max(1.0, m * (1 - step)) if m > 1.0 else min(1.0, m * (1 + step))
