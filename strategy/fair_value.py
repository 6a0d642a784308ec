"""The fair price the ladder is built around: mid, microprice, a queue-imbalance-adjusted
mid, or the microprice moved by the order flow's forecast (``flow``, strategy/flow_fair.py).

The mid ignores which side is about to be taken out; the microprice and the imbalance
adjustment lean toward the heavier queue, so a quote left behind by an obvious next move
is not offered at yesterday's price.
"""
from __future__ import annotations

import math

from messages.market import MarketState


def fair_price(market: MarketState, mode: str, use_microprice: bool, imbalance_weight: float) -> float:
    """The fair price under ``mode`` ("auto" follows ``use_microprice``); may be NaN if the book is."""
    if mode == "auto":
        mode = "microprice" if use_microprice else "mid"
    if mode == "microprice":
        return market.microprice
    if mode == "flow":
        shift = market.flow_shift_bp if math.isfinite(market.flow_shift_bp) else 0.0
        return market.microprice * (1.0 + shift / 1e4)
    if mode == "imbalance":
        imb = market.imbalance if -1.0 <= market.imbalance <= 1.0 else 0.0  # NaN: no lean
        return market.mid + imbalance_weight * imb * (market.best_ask - market.best_bid) / 2.0
    return market.mid
