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
    placed_ts: float = 0.0  # when we sent it (its age decides a move past max_age_s)


def diff_orders(wanted: Sequence[QuoteLevel], live: Sequence[LiveOrder], *, mid: float,
                tolerance_bp: float, size_tolerance: float = 0.25, keep_bp: float = 0.0,
                now: float = 0.0, max_age_s: float = 0.0) -> tuple[list[str], list[QuoteLevel]]:
    """(cloids to cancel, levels to place).

    Cancels come first, in (side, level, cloid) order; placements follow in side (bids
    first) then level order. Orders already "cancelling" are left alone: not kept, not
    cancelled again, and they do not stop their slot being placed. If ``wanted`` names a
    slot twice, the first one counts.
    """
    want: dict[tuple[str, int], QuoteLevel] = {}
    for w in wanted:
        key = (w.side, w.level)
        if key not in want:
            want[key] = w

    by_slot: dict[tuple[str, int], list[LiveOrder]] = {}
    for o in live:
        if o.state != "cancelling":
            key = (o.side, o.level)
            slot_orders = by_slot.get(key)
            if slot_orders is None:
                by_slot[key] = [o]
            else:
                slot_orders.append(o)

    cancels: list[LiveOrder] = []
    places: list[QuoteLevel] = []
    max_bp = tolerance_bp + _EPS_BP
    for slot, w in want.items():
        orders = by_slot.pop(slot, None)
        if not orders:
            places.append(w)
            continue
        # an order fits if it moved at most tolerance_bp (of the mid) and its size by at most size_tolerance
        ref = mid if mid > 0 else w.px  # no mid: measure the move against the wanted price
        wpx, wsz = w.px, w.sz
        max_sz = size_tolerance * wsz
        fitting = [o for o in orders if abs(o.px - wpx) / ref * 1e4 <= max_bp and abs(o.sz - wsz) <= max_sz]
        if not fitting and keep_bp > 0:
            far = keep_bp + _EPS_BP
            fitting = [o for o in orders if o.state == "resting" and abs(o.sz - wsz) <= max_sz
                       and 0 < ((wpx - o.px) if w.side == "B" else (o.px - wpx)) / ref * 1e4 <= far
                       and not (max_age_s > 0 and now - o.placed_ts > max_age_s)]
        if fitting:
            # Keep one: a resting order (it holds a queue place) before a pending one,
            # then the closest in price, then by cloid for determinism.
            keep = fitting[0] if len(fitting) == 1 else \
                min(fitting, key=lambda o: (o.state != "resting", abs(o.px - wpx), o.cloid))
            if len(orders) > 1:
                cancels.extend(o for o in orders if o is not keep)
        else:
            cancels.extend(orders)
            places.append(w)
    for orders in by_slot.values():  # slots no longer wanted
        cancels.extend(orders)

    if len(cancels) > 1:
        cancels.sort(key=lambda o: (_SIDE_ORDER.get(o.side, 2), o.level, o.cloid))
    if len(places) > 1:
        places.sort(key=lambda w: (_SIDE_ORDER.get(w.side, 2), w.level))
    return [o.cloid for o in cancels], places
