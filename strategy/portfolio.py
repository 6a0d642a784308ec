"""Portfolio limits, above every asset's own: the exposure cap and the drawdown stop.

Pure: inventory and PnL come in as each asset reports them, the time as an argument.

- **Exposure cap.** Total |inventory| across assets may be at most ``max_exposure_pct``
  of the capital. Each trading asset may hold up to its current |inventory| plus an
  equal part of the headroom left under the cap (``allowances``): however the assets
  fill, their allowances add up to at most the cap. An asset whose allowance is used up
  holds back every quote that would add to its |inventory|; one that cannot reach its
  allowance (it is above its own limit) is not bothered (None).
- **Drawdown stop.** Equity = capital + Σ net PnL. When it falls ``drawdown_stop_pct``
  of the day's starting equity below the day's peak, everything halts (every order
  cancelled) until the operator resumes or the UTC day rolls.
"""
from __future__ import annotations

import math
from typing import Iterable

DAY_S = 86_400.0
MIN_ROOM_USD = 10.0  # Hyperliquid's minimum order value: less room than this holds adds back


def _day(ts: float) -> int:
    return math.floor(ts / DAY_S)


class PortfolioGuard:
    def __init__(self, capital: float, *, max_exposure_pct: float, drawdown_stop_pct: float,
                 assets: Iterable[str], now: float) -> None:
        self.capital = float(capital)
        self.cap_usd = max_exposure_pct * self.capital
        self.stop_pct = drawdown_stop_pct
        self.inventory: dict[str, float] = {a: 0.0 for a in assets}  # signed USD
        self.pnl: dict[str, float] = {a: 0.0 for a in self.inventory}
        self._day = _day(now)
        self.day_start = self.capital
        self.peak = self.capital
        self.halted = False
        self.halt_reason = ""

    # -- inputs ---------------------------------------------------------------------------
    def on_exposure(self, asset: str, inventory_usd: float, net_pnl: float) -> None:
        if asset in self.inventory:
            self.inventory[asset] = inventory_usd
            self.pnl[asset] = net_pnl

    # -- exposure -------------------------------------------------------------------------
    @property
    def gross(self) -> float:
        """Σ |inventory| over every asset (a stopped asset's position still counts)."""
        return sum(abs(v) for v in self.inventory.values())

    def allowances(self, trading: Iterable[str], own_limits: dict[str, float],
                   granted: dict[str, float | None] | None = None) -> dict[str, float | None]:
        """Per trading asset, the most |inventory| it may hold (None: the cap cannot bind,
        its own limit is tighter).

        ``granted``: the allowances the assets were last sent (an asset missing from it, or
        None, was held to its own limit only). With it, no allowance rises into room that
        another asset may still fill up to: an asset hears of a cut only after it is sent,
        and its resting orders may fill up to the old allowance until then (one asset's
        fills raise its own allowance and cut the others', all at once)."""
        trading = list(trading)
        if not trading:
            return {}
        headroom = max(0.0, self.cap_usd - self.gross) / len(trading)
        want = {a: abs(self.inventory.get(a, 0.0)) + headroom for a in trading}
        if granted is not None:
            want = self._no_overlap(want, own_limits, granted)
        return {a: None if w >= own_limits.get(a, math.inf) else w for a, w in want.items()}

    def _no_overlap(self, want: dict[str, float], own_limits: dict[str, float],
                    granted: dict[str, float | None]) -> dict[str, float]:
        """Cuts at once; raises share only what the cap leaves beyond every allowance still
        out (the old one of each asset, what a stopped asset holds), pro rata."""
        old = {}
        for a in want:
            g, own = granted.get(a), own_limits.get(a, math.inf)
            old[a] = own if g is None else min(g, own)
        out_there = sum(old.values()) + sum(abs(v) for a, v in self.inventory.items() if a not in want)
        raises = {a: w - old[a] for a, w in want.items() if w > old[a]}
        asked = sum(raises.values())
        if not raises or asked <= self.cap_usd - out_there:
            return want
        share = max(0.0, self.cap_usd - out_there) / asked
        return {a: (old[a] + raises[a] * share if a in raises else w) for a, w in want.items()}

    # -- equity and the drawdown stop ---------------------------------------------------------
    @property
    def equity(self) -> float:
        return self.capital + sum(self.pnl.values())

    @property
    def drawdown(self) -> float:
        """The fall from the day's peak, as a share of the day's starting equity."""
        return max(0.0, self.peak - self.equity) / self.day_start if self.day_start > 0 else 0.0

    def check(self, now: float) -> str | None:
        """Roll the day, follow the peak; the reason when the stop trips now (else None)."""
        day = _day(now)
        equity = self.equity
        if day > self._day:
            self._day = day
            self.day_start = self.peak = equity
            if self.halted:
                self.halted, self.halt_reason = False, ""
        self.peak = max(self.peak, equity)
        if self.halted:
            return None
        dd = self.drawdown
        if dd >= self.stop_pct:
            self.halted = True
            self.halt_reason = (f"portfolio drawdown stop: equity ${equity:,.2f} is {dd:.2%} of the day's "
                                f"starting ${self.day_start:,.0f} below its peak (stop {self.stop_pct:.2%})")
            return self.halt_reason
        return None

    def resume(self, now: float) -> bool:
        """The operator lifts the stop: the drawdown counts again from here."""
        if not self.halted:
            return False
        self.halted, self.halt_reason = False, ""
        self.peak = self.equity
        return True
