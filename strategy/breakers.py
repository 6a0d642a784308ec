"""Circuit breakers (strategy.md): price moves and API-error bursts, each with its cooldown.

>1% in a minute widens the spread 3× for 5 minutes; >3% in 5 minutes pulls every quote
for 15; more than 5 API errors in a minute pulls quotes for 2. (A stalled feed pulls
quotes in the quoter actor and the backtester, ``stale_book_s``.) The state says what
tripped and until when, so the view can show it.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

SAMPLE_S = 1.0  # prices kept at most once a second


class BreakerState(NamedTuple):
    spread_mult: float
    paused: bool
    reason: str
    until: float


CLEAR = BreakerState(1.0, False, "", 0.0)


class Breakers:
    def __init__(self, *, widen_move_pct: float = 1.0, widen_mult: float = 3.0, widen_cooldown_s: float = 300.0,
                 pause_move_pct: float = 3.0, pause_cooldown_s: float = 900.0, api_errors: int = 5,
                 api_cooldown_s: float = 120.0) -> None:
        self.widen_move, self.widen_mult, self.widen_cool = widen_move_pct / 100, widen_mult, widen_cooldown_s
        self.pause_move, self.pause_cool = pause_move_pct / 100, pause_cooldown_s
        self.api_errors, self.api_cool = api_errors, api_cooldown_s
        self._prices: deque[tuple[float, float]] = deque()
        self._errors: deque[float] = deque()
        self._widen_until = self._pause_until = -math.inf
        self._widen_reason = self._pause_reason = ""

    def on_price(self, ts: float, mid: float) -> None:
        if not (mid > 0 and math.isfinite(mid) and math.isfinite(ts)):
            return
        if not self._prices or ts - self._prices[-1][0] >= SAMPLE_S:
            self._prices.append((ts, mid))
        while self._prices and ts - self._prices[0][0] > 300.0:
            self._prices.popleft()
        lo5 = hi5 = lo1 = hi1 = mid
        for t, p in self._prices:
            lo5, hi5 = min(lo5, p), max(hi5, p)
            if ts - t <= 60.0:
                lo1, hi1 = min(lo1, p), max(hi1, p)
        if hi5 / lo5 - 1.0 > self.pause_move:
            self._pause_until = ts + self.pause_cool
            self._pause_reason = f"price moved {100 * (hi5 / lo5 - 1):.1f}% in 5 min"
        elif hi1 / lo1 - 1.0 > self.widen_move:
            self._widen_until = ts + self.widen_cool
            self._widen_reason = f"price moved {100 * (hi1 / lo1 - 1):.1f}% in 1 min"

    def on_api_error(self, ts: float) -> None:
        if not math.isfinite(ts):
            return
        self._errors.append(ts)
        while self._errors and ts - self._errors[0] > 60.0:
            self._errors.popleft()
        if len(self._errors) > self.api_errors:
            self._pause_until = max(self._pause_until, ts + self.api_cool)
            self._pause_reason = f"{len(self._errors)} API errors in 1 min"

    def state(self, ts: float) -> BreakerState:
        if ts < self._pause_until:
            return BreakerState(1.0, True, self._pause_reason, self._pause_until)
        if ts < self._widen_until:
            return BreakerState(self.widen_mult, False, self._widen_reason, self._widen_until)
        return CLEAR
