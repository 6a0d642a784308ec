"""Past the hard limit: work the excess out, passively, then with an IOC; and reduce-only.

Why: the order tracker never lets resting size take the position past its limit, so a
position ends up past it only when the limit shrinks under it (the meta-supervisor cuts
the asset's capital or score zone, a parameter reload, a reconciled position larger
than the limit). That excess carries the very risk the limit was set to refuse, and the
strategy may see no level on the reducing side that pays (the tape edge), so it would
hold it for as long as the market takes to come back. Two steps (``[risk]``):

- past ``unwind_at`` × limit the reducing side's first level joins the touch for at
  least the excess, post-only, whatever its edge (a passive unwind: no fee beyond the
  maker's, but it waits for a taker);
- past ``emergency_at`` × limit a reduce-only immediate-or-cancel order takes the
  position back to the limit at once, paying the taker fee and at most
  ``emergency_slippage_bp`` through the mid (``emergency_ioc``; one per
  ``emergency_cooldown_s``, since the fills of the last one may still be on their way).

Before that, past ``reduce_only_at`` (or near liquidation), the asset is reduce-only: the
loaded side is not quoted and the reducing side no more than closes the position
(``within_position``), so no run of fills can carry a long through zero into a short.
"""
from __future__ import annotations

import math

from exchange_rules import ticks as rules
from messages.market import Side
from messages.orders import NewOrder, QuoteLevel

MIN_NOTIONAL_USD = 10.0  # Hyperliquid's minimum order value


def excess_usd(position: float, mid: float, limit_usd: float, at: float) -> float:
    """The exposure past the limit (USD) once |position|·mid is past ``at`` × limit; 0 before.
    A limit of 0 makes the whole position excess."""
    if not (math.isfinite(position) and math.isfinite(mid) and mid > 0 and math.isfinite(limit_usd)):
        return 0.0
    exposure = abs(position) * mid
    limit = max(limit_usd, 0.0)
    if exposure <= at * limit or exposure <= limit:
        return 0.0
    return exposure - limit


def reducing_side(position: float) -> Side:
    """The side whose fills reduce the position: sell a long, buy a short."""
    return "A" if position > 0 else "B"


def join_touch(side: Side, levels: tuple[QuoteLevel, ...], best_bid: float, best_ask: float,
               sz: float) -> tuple[QuoteLevel, ...]:
    """The reducing side with its first level at the touch (the best price on its own side
    of the book: post-only, it joins the queue there) for at least ``sz``; the side's other
    levels stay where they are. A first level already at or through the touch keeps its
    price."""
    touch = best_ask if side == "A" else best_bid
    if not (touch > 0 and sz > 0):
        return levels
    if levels:
        first = levels[0]
        inside = first.px <= touch if side == "A" else first.px >= touch
        px = first.px if inside else touch
        return (QuoteLevel(side, 0, px, max(first.sz, sz)),) + levels[1:]
    return (QuoteLevel(side, 0, touch, sz),)


def within_position(levels: tuple[QuoteLevel, ...], position: float, sz_decimals: int) -> tuple[QuoteLevel, ...]:
    """The reducing side's levels cut so that all of them filling at most closes the
    position (reduce-only: no fill may take it through zero); the level that would cross
    it shrinks to what is left, if that still meets the minimum order value."""
    left = abs(position)
    out: list[QuoteLevel] = []
    for lv in levels:
        if left <= 0:
            break
        if lv.sz <= left + 1e-12:
            out.append(lv)
            left -= lv.sz
            continue
        sz = rules.round_size_float(left, sz_decimals)
        if sz > 0 and rules.meets_min_notional_float(lv.px, sz):
            out.append(QuoteLevel(lv.side, lv.level, lv.px, sz))
        break
    return tuple(out)


def unwind_size(excess: float, mid: float, sz_decimals: int) -> float:
    """The excess in the asset's units, in whole lots (up: the last lot too), at least the
    minimum order value."""
    if not (excess > 0 and mid > 0):
        return 0.0
    return rules.round_size_float(max(excess, MIN_NOTIONAL_USD) / mid, sz_decimals, "up")


def ioc_order(cloid: str, position: float, mid: float, excess: float, slippage_bp: float,
              sz_decimals: int) -> NewOrder | None:
    """The reduce-only IOC that takes ``excess`` USD of the position back, priced at most
    ``slippage_bp`` through the mid (rounded toward the mid, onto the price grid); None if
    there is nothing to take or the position is below the minimum order value."""
    if not (position != 0 and math.isfinite(position) and mid > 0 and excess > 0):
        return None
    side = reducing_side(position)
    sz = min(unwind_size(excess, mid, sz_decimals), rules.round_size_float(abs(position), sz_decimals))
    if side == "A":
        px = rules.round_price_float(mid * (1.0 - slippage_bp / 1e4), sz_decimals, "up")
    else:
        px = rules.round_price_float(mid * (1.0 + slippage_bp / 1e4), sz_decimals, "down")
    if not (sz > 0 and px > 0 and rules.meets_min_notional_float(px, sz)):
        return None
    return NewOrder(cloid, side, px, sz, 0, tif="Ioc", reduce_only=True)
