"""What holding inventory costs, in the units of the quoter's edge check (bp per lot filled).

Why: the tape edge keeps a level only if its distance plus the move the tape saw follow
fills there still pays the maker fee. With one side often the only one that pays, a
position builds; then, as often, no level on the reducing side pays either, and the
position is held for tens of minutes, carrying all of its risk for no reward. Holding it
is not free: under the Avellaneda–Stoikov / GLFT mean-variance objective, a position of
x lots held for a horizon H costs ½·γ·σ²·H·x² (γ per lot and bp, σ in bp per √s). A
fill of s lots that takes the position from x to x' changes that cost by
½·γ·σ²·H·(x'² − x²); per lot filled, that is the value added to the level's edge here.

Two halves, each with its own H (``tape_edge.hold_horizon_s``, ``add_horizon_s``):
``saving_bp`` credits a fill that reduces |x| with the cost it saves, so a stuck position
is unwound at a price justified by the risk it carries (the larger the position or the
wilder the market, the more of the tape's adverse move it accepts); ``added_cost_bp``
charges a fill that grows |x| with the cost it adds, so a position grows only as far as
the tape's edge pays for its risk. Both are off by default: measured on the evaluation,
the first loses more the larger H (its unwinding fills are picked off as the tape said
they would be), the second trades calm and normal losses for trending gains, net ~0.
"""
from __future__ import annotations

import math


def hold_cost_bp(gamma: float, sigma_bp: float, horizon_s: float) -> float:
    """c = γ·σ²·H: bp per lot of position, per lot filled (0 when any input is unusable)."""
    c = gamma * sigma_bp * sigma_bp * horizon_s
    return c if math.isfinite(c) and c > 0 else 0.0


def saving_bp(side: str, position_lots: float, size_lots: float, c: float) -> float:
    """The holding cost a fill of ``size_lots`` on ``side`` ("B" buys, "A" sells) saves, per
    lot filled, from a position of ``position_lots`` (signed): c·(|x| − |x'|)·(|x| + |x'|)/(2s),
    i.e. c·(x − s/2) for a sell and −c·(x + s/2) for a buy; never below zero."""
    if not (c > 0 and size_lots > 0 and math.isfinite(position_lots)):
        return 0.0
    v = c * (position_lots - size_lots / 2.0) if side == "A" else -c * (position_lots + size_lots / 2.0)
    return v if v > 0 else 0.0


def added_cost_bp(side: str, position_lots: float, size_lots: float, c: float) -> float:
    """The holding cost a fill of ``size_lots`` on ``side`` adds, per lot filled, from a position
    of ``position_lots``: c·(x + s/2) for a buy, c·(s/2 − x) for a sell; never below zero
    (the mirror of ``saving_bp``: a level that grows the position must pay for its risk)."""
    if not (c > 0 and size_lots > 0 and math.isfinite(position_lots)):
        return 0.0
    v = c * (position_lots + size_lots / 2.0) if side == "B" else c * (size_lots / 2.0 - position_lots)
    return v if v > 0 else 0.0


def within_lots(side: str, position_lots: float, sizes_lots: list[float], cap_lots: float) -> int:
    """How many of a side's first levels (sizes in lots, innermost first) can all fill with the
    position staying within ±``cap_lots`` (or, when already past it, not growing)."""
    x = position_lots
    n = 0
    for s in sizes_lots:
        x2 = x + s if side == "B" else x - s
        if abs(x2) > cap_lots + 1e-9 and abs(x2) > abs(x):
            break
        x = x2
        n += 1
    return n
