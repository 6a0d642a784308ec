"""The fewest venue actions that turn the live orders into the wanted ladder.

Orders are matched slot by slot, a slot being (side, level). A resting order close
enough to what is wanted (price within ``tolerance_bp`` of the mid, size within
``size_tolerance`` of the wanted size) stays where it is: cancelling and replacing it
would give up its place in the queue for nothing. Everything else live is cancelled
and the wanted levels without a keeper are placed.
"""
from __future__ import annotations

from typing import Literal, Sequence

import msgspec

from messages.market import Side
from messages.orders import QuoteLevel

_SIDE_ORDER = {"B": 0, "A": 1}
_EPS_BP = 1e-9  # float slack, so a move of exactly tolerance_bp counts as within it


class LiveOrder(msgspec.Struct, frozen=True):
    """One of our orders as the order actor tracks it, from placement until it ends."""

    cloid: str
    side: Side
    level: int
    px: float
    sz: float
    state: Literal["pending", "resting", "cancelling"]


def _slot_key(side: str, level: int) -> tuple[int, int]:
    return (_SIDE_ORDER.get(side, 2), level)


def _fits(order: LiveOrder, want: QuoteLevel, mid: float, tolerance_bp: float, size_tolerance: float) -> bool:
    ref = mid if mid > 0 else want.px  # no mid: measure the move against the wanted price
    moved_bp = abs(order.px - want.px) / ref * 1e4
    return moved_bp <= tolerance_bp + _EPS_BP and abs(order.sz - want.sz) <= size_tolerance * want.sz


def diff_orders(wanted: Sequence[QuoteLevel], live: Sequence[LiveOrder], *, mid: float,
                tolerance_bp: float, size_tolerance: float = 0.25) -> tuple[list[str], list[QuoteLevel]]:
    """(cloids to cancel, levels to place).

    Cancels come first, in (side, level, cloid) order; placements follow in side (bids
    first) then level order. Orders already "cancelling" are left alone: not kept, not
    cancelled again, and they do not stop their slot being placed. If ``wanted`` names a
    slot twice, the first one counts.
    """
    want: dict[tuple[str, int], QuoteLevel] = {}
    for w in wanted:
        want.setdefault((w.side, w.level), w)

    by_slot: dict[tuple[str, int], list[LiveOrder]] = {}
    for o in live:
        if o.state != "cancelling":
            by_slot.setdefault((o.side, o.level), []).append(o)

    cancels: list[LiveOrder] = []
    places: list[QuoteLevel] = []
    for slot, w in want.items():
        orders = by_slot.pop(slot, [])
        fitting = [o for o in orders if _fits(o, w, mid, tolerance_bp, size_tolerance)]
        if fitting:
            # Keep one: a resting order (it holds a queue place) before a pending one,
            # then the closest in price, then by cloid for determinism.
            keep = min(fitting, key=lambda o: (o.state != "resting", abs(o.px - w.px), o.cloid))
            cancels.extend(o for o in orders if o is not keep)
        else:
            cancels.extend(orders)
            places.append(w)
    for orders in by_slot.values():  # slots no longer wanted
        cancels.extend(orders)

    cancels.sort(key=lambda o: (*_slot_key(o.side, o.level), o.cloid))
    places.sort(key=lambda w: _slot_key(w.side, w.level))
    return [o.cloid for o in cancels], places
