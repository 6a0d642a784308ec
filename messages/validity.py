"""Whether a message's numbers can be used at all: finite, in range, a known side.

Every number from outside can be NaN, and one NaN in a position makes every limit
comparison false. The cores and the venue edges call these before they use a message;
each returns why it is unusable ("" when it is fine), so the caller can count and log it.
"""

from __future__ import annotations

import math
from typing import Any

SIDES = ("B", "A")
MAX_PX = 1e10  # above any perp's price
MAX_SZ = 1e13  # above any order's size in coins
MAX_USD = 1e15  # above any account's money
_PLAIN = (float, int)  # not bool: a subclass of int, and no number


def finite(x: Any) -> bool:
    """A real, finite number (bools and strings are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def bad_number(name: str, x: Any, *, positive: bool = False, non_negative: bool = False, limit: float = MAX_USD) -> str:
    if not finite(x):
        return f"{name} {x!r} is not a finite number"
    if abs(x) > limit:
        return f"{name} {x!r} is out of range"
    if positive and x <= 0:
        return f"{name} {x!r} is not positive"
    if non_negative and x < 0:
        return f"{name} {x!r} is negative"
    return ""


def _first(*problems: str) -> str:
    return next((p for p in problems if p), "")


def _side(side: Any) -> str:
    return "" if side in SIDES else f"side {side!r} is neither B nor A"


def bad_fill(f: Any) -> str:
    """A Fill: known side, positive price and size, finite fee, time and remaining size."""
    px, sz, fee, ts, rem = f.px, f.sz, f.fee, f.ts, f.remaining
    if (
        f.side in SIDES
        and px.__class__ in _PLAIN
        and sz.__class__ in _PLAIN
        and fee.__class__ in _PLAIN
        and ts.__class__ in _PLAIN
        and rem.__class__ in _PLAIN
        and 0.0 < px <= MAX_PX
        and 0.0 < sz <= MAX_SZ
        and -MAX_USD <= fee <= MAX_USD
        and 0.0 <= ts <= MAX_USD
        and 0.0 <= rem <= MAX_SZ
    ):
        return ""  # the common case in one pass of comparisons (a NaN fails them all)
    return why_fill(f)


def why_fill(f: Any) -> str:
    """``bad_fill``'s slow path: field by field, what is wrong ("" if nothing)."""
    return _first(
        _side(f.side),
        bad_number("price", f.px, positive=True, limit=MAX_PX),
        bad_number("size", f.sz, positive=True, limit=MAX_SZ),
        bad_number("fee", f.fee),
        bad_number("time", f.ts, non_negative=True),
        bad_number("remaining", f.remaining, non_negative=True, limit=MAX_SZ),
    )


def bad_trade(t: Any) -> str:
    px, sz, ts = t.px, t.sz, t.ts
    if (
        t.side in SIDES
        and px.__class__ in _PLAIN
        and sz.__class__ in _PLAIN
        and ts.__class__ in _PLAIN
        and 0.0 < px <= MAX_PX
        and 0.0 < sz <= MAX_SZ
        and 0.0 <= ts <= MAX_USD
    ):
        return ""  # the common case in one pass of comparisons, as bad_fill's
    return why_trade(t)


def why_trade(t: Any) -> str:
    """``bad_trade``'s slow path: field by field, what is wrong ("" if nothing)."""
    return _first(
        _side(t.side),
        bad_number("price", t.px, positive=True, limit=MAX_PX),
        bad_number("size", t.sz, positive=True, limit=MAX_SZ),
        bad_number("time", t.ts, non_negative=True),
    )


def bad_funding(f: Any) -> str:
    return _first(
        bad_number("usd", f.usd),
        bad_number("rate", f.rate, limit=1.0),
        bad_number("position", f.position, limit=MAX_SZ),
        bad_number("time", f.ts, non_negative=True),
    )


def bad_open_order(o: Any) -> str:
    return _first(
        _side(o.side),
        bad_number("price", o.px, positive=True, limit=MAX_PX),
        bad_number("size", o.sz, non_negative=True, limit=MAX_SZ),
    )


def _side_fine(levels: Any, bid: bool) -> bool:
    """Every level a plain finite number in range, strictly worse than the one before: the
    common case, in one pass of comparisons (a NaN fails every comparison, an infinity the
    range), since every snapshot of every asset is checked (20 + 20 levels, twice a second
    and more). False sends the snapshot to the slow path, which says what is wrong."""
    prev = math.inf if bid else -math.inf
    for lv in levels:
        px, sz = lv.px, lv.sz
        if px.__class__ not in _PLAIN or sz.__class__ not in _PLAIN:
            return False
        if not (0.0 < px <= MAX_PX and 0.0 < sz <= MAX_SZ):
            return False
        if (px >= prev) if bid else (px <= prev):
            return False
        prev = px
    return True


def bad_book(snap: Any) -> str:
    """A BookSnapshot: finite time, every level a finite positive price and size, each
    side in order, and (when both sides are there) uncrossed."""
    bids, asks = snap.bids, snap.asks
    if (
        snap.ts.__class__ in _PLAIN
        and 0.0 <= snap.ts <= MAX_USD
        and _side_fine(bids, True)
        and _side_fine(asks, False)
        and not (bids and asks and bids[0].px >= asks[0].px)
    ):
        return ""
    return why_book(snap)


def why_book(snap: Any) -> str:
    """``bad_book``'s slow path: level by level, what is wrong ("" if nothing)."""
    why = bad_number("time", snap.ts, non_negative=True)
    if why:
        return why
    for name, levels, worse in (("bid", snap.bids, lambda a, b: b >= a), ("ask", snap.asks, lambda a, b: b <= a)):
        prev = None
        for lv in levels:
            why = _first(
                bad_number(f"{name} price", lv.px, positive=True, limit=MAX_PX),
                bad_number(f"{name} size", lv.sz, positive=True, limit=MAX_SZ),
            )
            if why:
                return why
            if prev is not None and worse(prev, lv.px):
                return f"{name} levels out of order ({prev} then {lv.px})"
            prev = lv.px
    if snap.bids and snap.asks and snap.bids[0].px >= snap.asks[0].px:
        return f"crossed book: bid {snap.bids[0].px} >= ask {snap.asks[0].px}"
    return ""


def bad_event(ev: Any) -> str:
    """One venue answer of a VenueBatch (fills and funding carry numbers; the rest a time)."""
    kind = type(ev).__name__
    if kind == "Fill":
        return bad_fill(ev)
    if kind == "Funding":
        return bad_funding(ev)
    return bad_number("time", getattr(ev, "ts", 0.0), non_negative=True)
