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



class BreakerState(NamedTuple):
    spread_mult: float
    paused: bool
    reason: str
    until: float
    # paused for the price alone: the venue answers, so orders that only reduce the
    # position may still go (strategy/pause_exit.py); not during an API-error pause
    price_pause: bool = False


CLEAR = BreakerState(1.0, False, "", 0.0)


class Breakers:
    def __init__(self, *, widen_move_pct: float = 1.0, widen_mult: float = 3.0, widen_cooldown_s: float = 300.0,
                 pause_move_pct: float = 3.0, pause_cooldown_s: float = 900.0, api_errors: int = 5,
                 api_cooldown_s: float = 120.0) -> None:
        self.widen_move, self.widen_mult, self.widen_cool = widen_move_pct / 100, widen_mult, widen_cooldown_s
        self.pause_move, self.pause_cool = pause_move_pct / 100, pause_cooldown_s
        self.api_errors, self.api_cool = api_errors, api_cooldown_s
        self._win1, self._win5 = _Window(60.0), _Window(300.0)
        self._errors: deque[float] = deque()
        self._widen_until = self._pause_until = self._api_until = -math.inf
        self._widen_reason = self._pause_reason = ""

    def on_price(self, ts: float, mid: float) -> None:
        if not (mid > 0 and math.isfinite(mid) and math.isfinite(ts)):
            return
        self._win1.add(ts, mid)
        self._win5.add(ts, mid)
        lo5, hi5 = self._win5.extremes()
        lo1, hi1 = self._win1.extremes()
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
            self._api_until = ts + self.api_cool
            self._pause_reason = f"{len(self._errors)} API errors in 1 min"

    def state(self, ts: float) -> BreakerState:
        if ts < self._pause_until:
            return BreakerState(1.0, True, self._pause_reason, self._pause_until, ts >= self._api_until)
        if ts < self._widen_until:
            return BreakerState(self.widen_mult, False, self._widen_reason, self._widen_until)
        return CLEAR


class _Window:
    """Lowest and highest price of the last ``span_s`` seconds, in O(1) per price
    (monotonic queues: a price that can never again be the extreme is dropped)."""

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self._lo: deque[tuple[float, float]] = deque()
        self._hi: deque[tuple[float, float]] = deque()

    def add(self, ts: float, px: float) -> None:
        lo, hi = self._lo, self._hi
        while lo and lo[-1][1] >= px:
            lo.pop()
        lo.append((ts, px))
        while hi and hi[-1][1] <= px:
            hi.pop()
        hi.append((ts, px))
        cut = ts - self.span_s
        while lo[0][0] < cut:
            lo.popleft()
        while hi[0][0] < cut:
            hi.popleft()

    def extremes(self) -> tuple[float, float]:
        return self._lo[0][1], self._hi[0][1]
