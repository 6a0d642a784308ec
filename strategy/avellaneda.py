"""Avellaneda–Stoikov (2008) closed-form quotes for a finite horizon.

Kept unit-free: callers pass prices and sigma in any consistent unit (the quoter uses
basis points relative to fair value), sigma per sqrt of the horizon's time unit.
"""
from __future__ import annotations

import math


def reservation_price(s: float, q: float, gamma: float, sigma: float, tau: float) -> float:
    """r = s − q·γ·σ²·τ: the price at which holding q more or less is a matter of indifference."""
    return s - q * gamma * sigma * sigma * tau


def optimal_spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    """Total bid-to-ask spread γσ²τ + (2/γ)·ln(1 + γ/k): inventory risk plus fill-rate term."""
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if not k > 0:
        raise ValueError(f"k must be > 0, got {k}")
    return gamma * sigma * sigma * tau + (2.0 / gamma) * math.log1p(gamma / k)


def quotes(s: float, q: float, gamma: float, sigma: float, tau: float, k: float) -> tuple[float, float]:
    """(bid, ask): the optimal spread centred on the reservation price."""
    r = reservation_price(s, q, gamma, sigma, tau)
    half = optimal_spread(gamma, sigma, tau, k) / 2.0
    return r - half, r + half
