"""The fair price the ladder is built around: mid, microprice or a queue-imbalance-adjusted mid.

The mid ignores which side is about to be taken out; the microprice and the imbalance
adjustment lean toward the heavier queue, so a quote left behind by an obvious next move
is not offered at yesterday's price.
"""
from __future__ import annotations

from messages.market import MarketState


def fair_price(market: MarketState, mode: str, use_microprice: bool, imbalance_weight: float) -> float:
    """The fair price under ``mode`` ("auto" follows ``use_microprice``); may be NaN if the book is."""
    if mode == "auto":
        mode = "microprice" if use_microprice else "mid"
    if mode == "microprice":
        return market.microprice
    if mode == "imbalance":
        imb = market.imbalance if -1.0 <= market.imbalance <= 1.0 else 0.0  # NaN: no lean
        return market.mid + imbalance_weight * imb * (market.best_ask - market.best_bid) / 2.0
    return market.mid
