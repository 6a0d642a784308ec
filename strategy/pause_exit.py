"""A pause stops new exposure, not the way out: while quotes are pulled for the market
(a price breaker, EXTREME volatility), the position is offered back at the touch.

Why: the breaker (3% in 5 minutes) and the EXTREME regime pull every quote because the
market is moving too fast to price a spread in. Pulling both sides also pulls the one
order that would close what the hive already holds, so a maker caught long at the start
of a crash holds the whole long through it: measured on the simulated HYPE toxic
episode, $1,185 bought in the first minutes, a pause renewed for 35 minutes as the price
kept falling, and the whole $144 HYPE lost was that one position. A reduce-only order at the
touch adds no exposure; it waits for a taker (post-only, the maker fee) and closes the
position when one comes.

Only for a pause about the market: an API-error burst or a stalled feed pull quotes
because the venue is not answering, and a halt (daily loss, portfolio stop, margin)
stops the asset; none of those quote anything.
"""
from __future__ import annotations

import math

from exchange_rules import ticks as rules
from messages.market import Side
from messages.orders import QuoteLevel
from strategy.unwind import join_touch, reducing_side


def exit_level(position: float, best_bid: float, best_ask: float, sz_decimals: int) -> tuple[Side, tuple[QuoteLevel, ...]]:
    """(the reducing side, its one level): the whole position, in whole lots, joining the
    touch of its own side of the book as the past-the-limit unwind does (a sell at the best
    ask, a buy at the best bid); no level when the position is smaller than a lot or than
    the minimum order value."""
    side = reducing_side(position)
    if not (math.isfinite(position) and math.isfinite(best_bid) and math.isfinite(best_ask)):
        return side, ()
    sz = rules.round_size_float(abs(position), sz_decimals)  # down: never more than is held
    levels = join_touch(side, (), best_bid, best_ask, sz)
    if not (levels and rules.meets_min_notional_float(levels[0].px, sz)):
        return side, ()
    return side, levels
