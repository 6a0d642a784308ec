"""The sim's fee rates: Hyperliquid's perps tiers by name, or the config's own rates.

Tiers (maker, taker) from Hyperliquid's fee schedule (hyperliquid.gitbook.io,
"Trading > Fees", perps, 14-day volume tiers, no staking discount or referral):
tier 0 (base) 0.015% / 0.045%, 1 (> $5M) 0.012 / 0.040, 2 (> $25M) 0.008 / 0.035,
3 (> $100M) 0.004 / 0.030, 4 (> $500M) 0 / 0.028, 5 (> $2B) 0 / 0.026, 6 (> $7B) 0 / 0.024.
"""
from __future__ import annotations

from config import SimConfig

PERPS_TIERS: tuple[tuple[float, float], ...] = (
    (0.00015, 0.00045), (0.00012, 0.00040), (0.00008, 0.00035), (0.00004, 0.00030),
    (0.0, 0.00028), (0.0, 0.00026), (0.0, 0.00024),
)


def fee_rates(sim: SimConfig) -> tuple[float, float]:
    """(maker, taker) fee rates: the tier's when ``sim.fee_tier`` names one, else the
    config's ``maker_fee``/``taker_fee``."""
    if sim.fee_tier < 0:
        return sim.maker_fee, sim.taker_fee
    return PERPS_TIERS[sim.fee_tier]
