"""Client-side accounting of Hyperliquid's two rate limits (pure; time is an argument).

- **IP weight**: 1200 per minute across REST (and WS posts). ``/exchange`` costs
  ``1 + floor(n / 40)`` for a batch of n; ``/info`` costs 2 for the light requests and 20
  for the rest. We count what we spend over a sliding minute so a burst (five order
  actors reconciling at once) waits instead of earning HTTP 429s.
- **Address actions**: 10,000 + 1 per USDC traded, a batch of n orders or cancels
  counting n; cancels may go up to ``min(cap + 100000, 2 * cap)``. The venue's own count
  (``userRateLimit``) is the truth; between refreshes we count our own spending so the
  order actor sees what is left now, not a minute ago.
"""
from __future__ import annotations

import collections
from typing import Deque

IP_WEIGHT_PER_MINUTE = 1200
LIGHT_INFO = frozenset({"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
                        "exchangeStatus"})
INITIAL_ADDRESS_BUDGET = 10_000


def exchange_weight(batch_len: int) -> int:
    return 1 + max(0, batch_len) // 40


def info_weight(kind: str, items: int = 0) -> int:
    """What one /info request costs; ``items`` returned add 1 per 20 for the history kinds."""
    base = 2 if kind in LIGHT_INFO else 60 if kind == "userRole" else 20
    if kind in ("userFills", "userFillsByTime", "userFunding", "fundingHistory", "historicalOrders",
                "recentTrades"):
        base += items // 20
    return base


class IpWeight:
    """The weight spent over the last minute."""

    def __init__(self, per_minute: int = IP_WEIGHT_PER_MINUTE, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._spent: Deque[tuple[float, int]] = collections.deque()
        self._total = 0

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0][0] <= now - self.window_s:
            self._total -= self._spent.popleft()[1]

    def used(self, now: float) -> int:
        self._expire(now)
        return self._total

    def remaining(self, now: float) -> int:
        return max(0, self.per_minute - self.used(now))

    def share_left(self, now: float) -> float:
        """The share of the minute's weight still free (0..1)."""
        return self.remaining(now) / self.per_minute if self.per_minute > 0 else 0.0

    def spend(self, now: float, weight: int) -> None:
        self._expire(now)
        self._spent.append((now, weight))
        self._total += weight

    def wait_for(self, now: float, weight: int) -> float:
        """Seconds until ``weight`` more fits in the window (0 if it fits now)."""
        self._expire(now)
        if self._total + weight <= self.per_minute:
            return 0.0
        need = self._total + weight - self.per_minute
        freed = 0
        for ts, w in self._spent:
            freed += w
            if freed >= need:
                return max(0.0, ts + self.window_s - now)
        return self.window_s


class AddressBudget:
    """Address actions left: the venue's figure at the last refresh minus what we spent since."""

    def __init__(self) -> None:
        self.cap = INITIAL_ADDRESS_BUDGET
        self.used = 0
        self.cum_volume = 0.0
        self.refreshed_at: float | None = None
        self.spent_since_refresh = 0

    def refresh(self, now: float, used: int, cap: int, cum_volume: float) -> None:
        self.used, self.cap, self.cum_volume = used, cap, cum_volume
        self.refreshed_at = now
        self.spent_since_refresh = 0

    def spend(self, n: int) -> None:
        self.used += n
        self.spent_since_refresh += n

    def remaining(self) -> int:
        return self.cap - self.used

    def cancel_remaining(self) -> int:
        """Cancels keep working past the cap, up to min(cap + 100000, 2 cap)."""
        return min(self.cap + 100_000, 2 * self.cap) - self.used

    def share_left(self) -> float:
        return max(0.0, self.remaining()) / self.cap if self.cap > 0 else 0.0
