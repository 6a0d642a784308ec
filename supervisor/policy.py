"""Pure supervision decisions, modelled on Erlang/OTP: what to restart, and whether.

No threads, no clocks: times come in as arguments (the runtime clock's seconds).
"""
from __future__ import annotations

import collections
import random
from typing import Literal, Sequence

Strategy = Literal["one_for_one", "rest_for_one", "one_for_all"]
RestartType = Literal["permanent", "transient", "temporary"]
STRATEGIES: tuple[Strategy, ...] = ("one_for_one", "rest_for_one", "one_for_all")


def affected_children(strategy: Strategy, order: Sequence[str], failed: str) -> list[str]:
    """Children to restart, in start order, when ``failed`` exits abnormally."""
    if failed not in order:
        raise ValueError(f"unknown child {failed!r}")
    if strategy == "one_for_one":
        return [failed]
    if strategy == "one_for_all":
        return list(order)
    if strategy == "rest_for_one":
        return list(order[order.index(failed):])
    raise ValueError(f"unknown strategy {strategy!r}; allowed: {STRATEGIES}")


def should_restart(restart: RestartType, reason: str) -> bool:
    """OTP: permanent always; transient only after an abnormal exit; temporary never."""
    if restart == "permanent":
        return True
    if restart == "transient":
        return reason != "normal"
    return False


class RestartIntensity:
    """At most ``max_restarts`` restarts within any ``period`` seconds.

    ``allow(now)`` records a restart attempt and says whether it is within the limit;
    past it the supervisor gives up (OTP: more than MaxR restarts in MaxT seconds).
    """

    def __init__(self, max_restarts: int, period: float) -> None:
        self.max_restarts = max_restarts
        self.period = period
        self._times: collections.deque[float] = collections.deque()

    def allow(self, now: float) -> bool:
        self._times.append(now)
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        return len(self._times) <= self.max_restarts

    @property
    def recent(self) -> int:
        return len(self._times)


def backoff_delay(attempt: int, base: float, cap: float, jitter: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: min(cap, base·2^attempt)·(1 + U[0,1)·jitter)."""
    return min(cap, base * (2 ** max(0, attempt))) * (1.0 + rng.random() * jitter)
