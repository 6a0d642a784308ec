"""Queue-position models: where a resting order stands in its price level's queue.

The models of hftbacktest (``models.md`` §4), for an L2 view of the book: all we see of
a level is its displayed size, so our place in it is an estimate, ``front``, the
quantity ahead of us. It starts at the displayed size when the order is placed (we
join at the back) and moves two ways:

- **Trades** at our price consume the queue from the front: ``front -= qty``.
- **Depth changes** at our price (``prev_qty -> new_qty``) that trades do not explain
  are cancels (or additions). Where a cancel came from, in front of us or behind, is
  unknown:

  * ``risk_averse``: always from behind, unless the level shrinks below our estimate:
    ``front = min(front, new_qty)``. Only trades move us; the most conservative model.
  * the probabilistic update (after Rigtorp): with ``back = prev_qty - front`` and
    ``p = P(front, back)`` the probability that the decrease was behind us,
    ``front = min(front - (1 - p)·chg + min(back - p·chg, 0), new_qty)`` where
    ``chg = prev_qty - new_qty - cum_trade`` (``cum_trade``: the trade quantity at our
    price since the last depth change, already taken off ``front``). A level that grew
    (``chg < 0``) only caps ``front`` at ``new_qty``.

  ``P`` is one of power(n), log, power2(n), log2 and power3(n) (table in §4.3).

Pure functions of their arguments; ``front`` may come out negative (the order is at
the head with that much to spare), callers that need a queue length clamp it at 0.
"""
from __future__ import annotations

import math
from collections.abc import Callable

MODELS = ("risk_averse", "power", "log", "power2", "log2", "power3")


def power_prob(n: float) -> Callable[[float, float], float]:
    """hftbacktest PowerProbQueueFunc(n): back^n / (back^n + front^n)."""

    def p(front: float, back: float) -> float:
        b = back ** n
        return b / (b + front ** n)

    return p


def log_prob(front: float, back: float) -> float:
    """hftbacktest LogProbQueueFunc: ln(1+back) / (ln(1+back) + ln(1+front))."""
    b = math.log1p(back)
    return b / (b + math.log1p(front))


def power2_prob(n: float) -> Callable[[float, float], float]:
    """hftbacktest PowerProbQueueFunc2(n): back^n / (back+front)^n."""

    def p(front: float, back: float) -> float:
        return back ** n / (back + front) ** n

    return p


def log2_prob(front: float, back: float) -> float:
    """hftbacktest LogProbQueueFunc2: ln(1+back) / ln(1+back+front)."""
    return math.log1p(back) / math.log1p(back + front)


def power3_prob(n: float) -> Callable[[float, float], float]:
    """hftbacktest PowerProbQueueFunc3(n): 1 - (front/(front+back))^n."""

    def p(front: float, back: float) -> float:
        return 1.0 - (front / (front + back)) ** n

    return p


class QueueModel:
    """One queue-position model: ``on_trade`` and ``on_depth_change`` return the new front.

    ``prob`` is P(front, back), the probability that a decrease happened behind us;
    ``None`` is the risk-averse model.
    """

    def __init__(self, name: str, prob: Callable[[float, float], float] | None, power: float | None = None) -> None:
        self.name = name
        self.power = power
        self._prob = prob

    def __repr__(self) -> str:
        return f"QueueModel({self.name!r}" + (f", power={self.power:g})" if self.power is not None else ")")

    @property
    def risk_averse(self) -> bool:
        return self._prob is None

    def prob(self, front: float, back: float) -> float:
        """P(front, back); 1 where the formula is undefined (0/0: an empty queue)."""
        if self._prob is None:
            return 1.0
        front, back = max(front, 0.0), max(back, 0.0)
        try:
            p = self._prob(front, back)
        except ZeroDivisionError:
            return 1.0
        return p if math.isfinite(p) else 1.0

    def on_trade(self, front: float, qty: float) -> float:
        """A trade of ``qty`` at our price: the queue ahead of us shrinks by it."""
        return front - qty

    def on_depth_change(self, front: float, prev_qty: float, new_qty: float, cum_trade: float = 0.0) -> float:
        """The displayed size at our price went ``prev_qty -> new_qty``; ``cum_trade`` is
        the trade quantity at our price since the previous depth change (the caller
        resets it to 0 afterwards)."""
        if self._prob is None:
            return min(front, new_qty)
        chg = prev_qty - new_qty - cum_trade
        if chg < 0:  # the level grew (beyond what trades took): joiners queue behind us
            return min(front, new_qty)
        back = prev_qty - front
        p = self.prob(front, back)
        est = front - (1.0 - p) * chg + min(back - p * chg, 0.0)
        return min(est, new_qty)


def queue_model(name: str, power: float = 3.0) -> QueueModel:
    """The model ``sim.queue_model`` names; ``power`` is n for the power models."""
    if not (math.isfinite(power) and power > 0):
        raise ValueError(f"queue power must be a finite number > 0, got {power!r}")
    if name == "risk_averse":
        return QueueModel(name, None)
    if name == "power":
        return QueueModel(name, power_prob(power), power)
    if name == "log":
        return QueueModel(name, log_prob)
    if name == "power2":
        return QueueModel(name, power2_prob(power), power)
    if name == "log2":
        return QueueModel(name, log2_prob)
    if name == "power3":
        return QueueModel(name, power3_prob(power), power)
    raise ValueError(f"unknown queue model {name!r}; known: {list(MODELS)}")
