"""What one command of the order side does to our orders, as a trader reads it.

A cancel of a resting order and a placement on the same side in one command replace
that quote: one *modify* (old and new price and size), not a cancel and an unrelated
placement. The Hyperliquid venue sends such pairs as ``batchModify``; the simulated
venue cancels and places. The journal records what we did, the same for both, so the
live order actor and the backtester build their rows here.
"""
from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple

from messages.orders import NewOrder
from strategy.order_diff import LiveOrder


class OrderAction(NamedTuple):
    action: str  # ours: "place", "cancel" or "modify"; the venue's answers: "ack", "reject", "cancelled"
    cloid: str  # the order placed (modify: the new one) or cancelled
    side: str | None = None
    px: float | None = None
    sz: float | None = None
    old_cloid: str = ""  # modify: the order it replaces
    old_px: float | None = None
    old_sz: float | None = None
    text: str = ""  # an answer's text (a reject's reason)


def order_actions(cancels: Iterable[str], places: Iterable[NewOrder],
                  live: Mapping[str, LiveOrder]) -> list[OrderAction]:
    """Pair each placement with a cancelled order on its side (the same ladder level
    first, else the oldest on that side); the rest are plain cancels and placements."""
    free: dict[str, list[LiveOrder]] = {}
    for c in cancels:
        o = live.get(c)
        if o is not None:
            free.setdefault(o.side, []).append(o)
    placed: list[OrderAction] = []
    for p in places:
        olds = free.get(p.side)
        if p.tif != "Alo":  # the emergency unwind's IOC takes liquidity: it replaces no quote
            placed.append(OrderAction("place", p.cloid, p.side, p.px, p.sz, text=f"{p.tif} reduce-only"
                                      if p.reduce_only else p.tif))
            continue
        if not olds:
            placed.append(OrderAction("place", p.cloid, p.side, p.px, p.sz))
            continue
        old = next((o for o in olds if o.level == p.level), olds[0])
        olds.remove(old)
        placed.append(OrderAction("modify", p.cloid, p.side, p.px, p.sz, old.cloid, old.px, old.sz))
    replaced = {a.old_cloid for a in placed}
    out = []
    for c in cancels:  # cancels first, as they go
        if c in replaced:
            continue
        o = live.get(c)
        out.append(OrderAction("cancel", c) if o is None else OrderAction("cancel", c, o.side, o.px, o.sz))
    return out + placed
