"""The sweep guard: a print that went through the touch and far from the mid says the
side it hit is priced on a book that no longer holds.

Such a print comes from a taker who walked the book (news, a liquidation, an arbitrageur
on another venue). What is still resting on that side was priced before it, and the
takers behind it fill those quotes next, at the old price. The guard pulls the side the
sweep hit for a short hold and lets the next book after the hold price it again; the
other side, which only unwinds what the sweep gave us, keeps quoting.

The book role reports every print beyond the touch (``sweep_of``); the quoter core
judges it against its own ``sweep_guard`` settings, so a hot reload of them takes
effect at once.
"""
from __future__ import annotations

import math

from messages.market import MarketState, Sweep, Trade


def sweep_of(trade: Trade, book: MarketState | None) -> Sweep | None:
    """``trade`` as a sweep of the maker side it hit, if it printed beyond ``book``'s touch
    (a buy above the best ask sweeps the asks); None otherwise or on bad input.

    Beyond the touch, not at it: on a book many ticks wide a print at the touch is far
    from the mid but walked nothing.
    """
    if book is None or not (book.mid > 0 and math.isfinite(book.mid)) or not math.isfinite(trade.px):
        return None
    if trade.side == "B" and trade.px > book.best_ask:
        return Sweep(trade.asset, trade.ts, "A", (trade.px - book.mid) / book.mid * 1e4)
    if trade.side == "A" and trade.px < book.best_bid:
        return Sweep(trade.asset, trade.ts, "B", (book.mid - trade.px) / book.mid * 1e4)
    return None
