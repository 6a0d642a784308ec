"""Guéant–Lehalle–Fernandez-Tapia asymptotic quotes (models.md §2.2), in bp around fair value.

Infinite horizon: a bot that never ends needs no made-up (T − t). Units: δ and σ in bp
(σ per √s), k per bp, A per second, inventory q in L1 lots, γ per lot and bp.
"""
from __future__ import annotations

import math


def coefficients(gamma: float, k: float, a: float) -> tuple[float, float]:
    """(c1, c2): half spread = c1 + σ·c2/2, skew = σ·c2 per lot."""
    if not (gamma > 0 and k > 0 and a > 0):
        raise ValueError(f"gamma, k and A must be > 0, got {gamma}, {k}, {a}")
    x = gamma / k
    c1 = math.log1p(x) / gamma
    # (1 + γ/k)^(1 + k/γ) in logs: it overflows for small γ/k otherwise
    log_pow = (1.0 + 1.0 / x) * math.log1p(x)
    c2 = math.sqrt(gamma / (2.0 * k * a)) * math.exp(min(log_pow, 700.0) / 2.0)
    return c1, c2


def half_spread_and_skew(gamma: float, k: float, a: float, sigma: float) -> tuple[float, float]:
    """(half spread in bp, skew in bp per lot of inventory)."""
    c1, c2 = coefficients(gamma, k, a)
    return c1 + sigma * c2 / 2.0, sigma * c2
