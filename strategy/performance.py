"""What an asset tells the meta-supervisor about its results: the risk side of allocation.

``PerformanceTracker`` samples the asset's cumulative net PnL on a fixed grid (multiples
of ``sample_s`` of the runtime clock, so every asset's samples line up) and, every
``report_s``, hands out a ``PerformanceReport`` of the samples since the last one with
the fills, volume and inventory utilisation of the same stretch. ``ExposureThrottle``
says when the portfolio limits must hear of the asset's inventory: at least every
``EXPOSURE_EVERY_S`` and at once when it moved by a tenth of the limit.

Pure: the time comes in with every call. The risk actor and the backtester both drive it.
"""
from __future__ import annotations

import math

from messages.allocation import ExposureReport, PerformanceReport

EXPOSURE_EVERY_S = 1.0
EXPOSURE_MOVE = 0.1  # of the limit
MAX_GRID_POINTS = 10_000  # a jump in time longer than this many samples restarts the grid


class PerformanceTracker:
    def __init__(self, asset: str, sample_s: float, report_s: float, ts: float) -> None:
        if not (sample_s > 0 and report_s > 0):
            raise ValueError("sample_s and report_s must be > 0")
        self.asset = asset
        self.sample_s = float(sample_s)
        self.report_s = float(report_s)
        self._next = self._grid_after(ts)
        self._samples: list[float] = []
        self._first_ts = self._next
        self._last_pnl: float | None = None  # the last PnL seen (carried to grid points)
        self._base_pnl: float | None = None  # the PnL at the previous report's last sample
        self._last_report = ts
        self._fills0: int | None = None
        self._volume0 = 0.0
        self._max_util = 0.0

    def _grid_after(self, ts: float) -> float:
        return (math.floor(ts / self.sample_s + 1e-9) + 1) * self.sample_s

    def observe(self, ts: float, net_pnl: float, *, capital: float, fills: int, volume_usd: float,
                inventory_usd: float, limit_usd: float) -> PerformanceReport | None:
        """Feed the asset's figures at ``ts``; a report when one is due."""
        if self._fills0 is None:
            self._fills0, self._volume0 = fills, volume_usd
        if self._last_pnl is None:
            self._last_pnl = net_pnl
            self._base_pnl = net_pnl
        if ts >= self._next:
            n = math.floor((ts - self._next) / self.sample_s + 1e-9) + 1
            if n > MAX_GRID_POINTS:  # the clock jumped far ahead: start the grid again here
                self._next = self._grid_after(ts) - self.sample_s
                n = 1
            if not self._samples:
                self._first_ts = self._next
            # grid points before ts get the last value seen; one exactly at ts gets the new
            for i in range(n):
                g = self._next + i * self.sample_s
                self._samples.append(net_pnl if abs(g - ts) < 1e-9 else self._last_pnl)
            self._next += n * self.sample_s
        self._last_pnl = net_pnl
        if limit_usd > 0:
            self._max_util = max(self._max_util, abs(inventory_usd) / limit_usd)
        if ts - self._last_report < self.report_s or not self._samples:
            return None
        return self._report(ts, net_pnl, capital, fills, volume_usd)

    def _report(self, ts: float, net_pnl: float, capital: float, fills: int, volume_usd: float) -> PerformanceReport:
        pts = self._samples
        base = self._base_pnl if self._base_pnl is not None else pts[0]
        peak, dd = base, 0.0
        for p in pts:
            peak = max(peak, p)
            dd = max(dd, peak - p)
        report = PerformanceReport(
            asset=self.asset, ts=ts, first_ts=self._first_ts, sample_s=self.sample_s, pnl=tuple(pts),
            capital=capital, return_on_capital=(pts[-1] - base) / capital if capital > 0 else 0.0,
            drawdown_usd=dd, fills=fills - (self._fills0 or 0), volume_usd=volume_usd - self._volume0,
            inventory_utilisation=self._max_util, net_pnl=net_pnl)
        self._base_pnl = pts[-1]
        self._samples = []
        self._last_report = ts
        self._fills0, self._volume0 = fills, volume_usd
        self._max_util = 0.0
        return report


class ExposureThrottle:
    """When to tell the portfolio limits about the asset's inventory."""

    def __init__(self, asset: str) -> None:
        self.asset = asset
        self._last_ts = -math.inf
        self._last_inv: float | None = None

    def observe(self, ts: float, inventory_usd: float, net_pnl: float, limit_usd: float) -> ExposureReport | None:
        moved = self._last_inv is None or abs(inventory_usd - self._last_inv) >= EXPOSURE_MOVE * max(limit_usd, 1.0)
        if not moved and ts - self._last_ts < EXPOSURE_EVERY_S:
            return None
        self._last_ts, self._last_inv = ts, inventory_usd
        return ExposureReport(self.asset, ts, inventory_usd, net_pnl)
