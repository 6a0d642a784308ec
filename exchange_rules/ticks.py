"""Hyperliquid's price and size rules, in Decimal, shared by every venue.

Perpetuals: a price has at most 5 significant figures and at most 6 - szDecimals
decimal places; an integer price is always valid. A size has at most szDecimals
decimals. An order must be worth at least $10.
"""

from __future__ import annotations

import bisect
import functools
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal

MAX_DECIMALS_PERP = 6
MAX_SIG_FIGS = 5
MIN_NOTIONAL_USD = Decimal(10)

Rounding = Literal["down", "up", "nearest"]
_MODES = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_EVEN}


def _dec(x: float | Decimal | str) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(repr(x) if isinstance(x, float) else x)


@functools.lru_cache(maxsize=512)
def _tick_for(exponent: int, sz_decimals: int) -> Decimal:
    sig_tick = Decimal(1).scaleb(exponent - (MAX_SIG_FIGS - 1))
    dec_tick = Decimal(1).scaleb(-(MAX_DECIMALS_PERP - sz_decimals))
    return min(max(sig_tick, dec_tick), Decimal(1))


def tick_at(px: float | Decimal, sz_decimals: int) -> Decimal:
    """The price increment that is valid around ``px`` (it changes with magnitude)."""
    d = _dec(px)
    if d <= 0:
        raise ValueError(f"price must be positive, got {px}")
    return _tick_for(d.adjusted(), sz_decimals)  # adjusted() = floor(log10(px))


def round_price(px: float | Decimal, sz_decimals: int, mode: Rounding = "nearest") -> Decimal:
    """Round to a valid price: bids round ``down`` and asks ``up`` to stay passive."""
    d = _dec(px)
    tick = tick_at(d, sz_decimals)
    out = (d / tick).to_integral_value(rounding=_MODES[mode]) * tick
    if out <= 0:
        raise ValueError(f"price {px} rounds to a non-positive price")
    # Rounding across a power of ten can change the tick (9999.96 -> 10000.0): re-snap.
    tick2 = tick_at(out, sz_decimals)
    if tick2 != tick:
        out = (out / tick2).to_integral_value(rounding=_MODES[mode]) * tick2
    return out.normalize()


def is_valid_price(px: float | Decimal, sz_decimals: int) -> bool:
    d = _dec(px)
    if d <= 0:
        return False
    if d == d.to_integral_value():
        return True
    return d % tick_at(d, sz_decimals) == 0


@functools.lru_cache(maxsize=16)
def _lot(sz_decimals: int) -> Decimal:
    return Decimal(1).scaleb(-sz_decimals)


def round_size(sz: float | Decimal, sz_decimals: int, mode: Rounding = "down") -> Decimal:
    """Round a size to the lot (10^-szDecimals); ``down`` never grows an order."""
    lot = _lot(sz_decimals)
    return ((_dec(sz) / lot).to_integral_value(rounding=_MODES[mode]) * lot).normalize()


def is_valid_size(sz: float | Decimal, sz_decimals: int) -> bool:
    d = _dec(sz)
    return d > 0 and d == round_size(d, sz_decimals)


def meets_min_notional(px: float | Decimal, sz: float | Decimal) -> bool:
    return _dec(px) * _dec(sz) >= MIN_NOTIONAL_USD


def to_wire(x: float | Decimal) -> str:
    """Hyperliquid's number string: plain decimal, no trailing zeros ("1900.5", "100")."""
    d = _dec(x).normalize()
    s = format(d, "f")
    return s


# -- float paths ----------------------------------------------------------------------------
# The same rules for floats, without Decimal, equal to the Decimal functions bit for bit
# (``float(round_price(x, ...)) == round_price_float(x, ...)`` for every float x; property
# tests in tests/test_rules_float.py). The Decimal functions read a float as the decimal
# ``repr(x)``; these decide on the float itself and fall back to the Decimal function
# whenever the float could be read differently:
#
# - floor(log10) of repr(x) is the k with fl(10^k) <= x < fl(10^(k+1)) (rounding is
#   monotonic and fl(10^k) reprs as 10^k), so the tick comes from a table;
# - q = x * 10^j (10^j exact) is within 2.3e-16·q of repr(x)·10^j. Away from an integer
#   that fixes floor and ceiling; near the integer m, repr(x)·10^-j is exactly m·10^-j
#   iff x == m / 10^j (one correctly rounded division; m has at most 13 digits and a
#   decimal of at most 15 digits is the only one that short rounding to its float) and
#   otherwise lies on the same side of it as x does;
# - the rounded decimal n·10^-j (n < 1e13) becomes the float n / 10^j, correctly rounded
#   like float(Decimal).
# Nearest-rounding ties (within 1e-15·q of a half) and anything out of range go to Decimal.

_KMIN, _KMAX = -60, 60
_DEC_BOUNDS = [float(f"1e{k}") for k in range(_KMIN, _KMAX + 1)]  # fl(10^k), increasing
_POW10_EXACT = [10.0**j for j in range(23)]  # exact: 10^j < 2^53 · 2^j for j <= 22
_Q_MAX = 1e13  # integers up to here have at most 13 digits
_REL = 1e-15  # > 4x the worst relative distance between q and repr(x)·10^j


def _adjusted(x: float) -> int | None:
    """floor(log10(Decimal(repr(x)))) for a positive finite float, None out of range."""
    i = bisect.bisect_right(_DEC_BOUNDS, x)
    if i == 0 or i == len(_DEC_BOUNDS):
        return None
    return i - 1 + _KMIN


def _tick_exp(adjusted: int, sz_decimals: int) -> int:
    """The exponent of ``_tick_for(adjusted, sz_decimals)``."""
    return min(max(adjusted - (MAX_SIG_FIGS - 1), -(MAX_DECIMALS_PERP - sz_decimals)), 0)


def _on_grid(x: float, j: int) -> bool | None:
    """Whether repr(x)·10^j is an integer (x > 0 finite, 0 <= j <= 22); None: undecided."""
    p = _POW10_EXACT[j]
    q = x * p
    if not q < _Q_MAX:
        return None
    m = round(q)
    if abs(q - m) > q * _REL:
        return False
    return x == m / p


def _digits(n: int) -> int:
    return len(str(n))


def _div_round(n: int, d: int, mode: str) -> int:
    """n / d rounded to an integer in ``mode`` (d > 0), exactly."""
    q, r = divmod(n, d)
    if r == 0 or mode == "down":
        return q
    if mode == "up":
        return q + 1
    twice = 2 * r
    if twice > d or (twice == d and q % 2 == 1):
        return q + 1
    return q


def _snap_scaled(m: int, e: int, sz_decimals: int, mode: str) -> tuple[int, int]:
    """``round_price`` of the decimal m·10^e (m > 0, e <= 0) as (n, te): the valid price
    n·10^te. ValueError if it rounds to zero."""
    te = _tick_exp(_digits(m) - 1 + e, sz_decimals)
    n = m * 10 ** (e - te) if e >= te else _div_round(m, 10 ** (te - e), mode)
    if n <= 0:
        raise ValueError("rounds to a non-positive price")
    te2 = _tick_exp(_digits(n) - 1 + te, sz_decimals)
    if te2 != te:  # across a power of ten the tick changes: re-snap
        n = n * 10 ** (te - te2) if te >= te2 else _div_round(n, 10 ** (te2 - te), mode)
        te = te2
    return n, te


def _to_float(n: int, te: int) -> float:
    """The float nearest n·10^te (te <= 0): one correctly rounded division."""
    return n / _POW10_EXACT[-te]


def tick_at_float(px: float, sz_decimals: int) -> float:
    """``float(tick_at(px, sz_decimals))`` for a float price."""
    if 0.0 < px < math.inf:
        adj = _adjusted(px)
        if adj is not None:
            te = _tick_exp(adj, sz_decimals)
            if te >= -22:
                return _to_float(1, te)
    return float(tick_at(px, sz_decimals))


def price_scaled(px: float, sz_decimals: int) -> tuple[int, int] | None:
    """A valid float price as (n, te) with px = n·10^te exactly (te its tick's exponent),
    or None if ``px`` is not a valid price the float path can read."""
    if not 0.0 < px < math.inf:
        return None
    adj = _adjusted(px)
    if adj is None:
        return None
    te = _tick_exp(adj, sz_decimals)
    if te < -22:
        return None
    p = _POW10_EXACT[-te]
    q = px * p
    if not q < _Q_MAX:
        return None
    m = round(q)
    if abs(q - m) > q * _REL or px != m / p:
        return None
    return m, te


def snap_scaled_float(m: int, e: int, sz_decimals: int, mode: Rounding) -> float | None:
    """``float(round_price(Decimal(m).scaleb(e), ...))`` for m > 0 and -22 <= e <= 0 (a
    price a whole number of ticks from a valid price); None if it rounds to zero."""
    try:
        n, te = _snap_scaled(m, e, sz_decimals, mode)
    except ValueError:
        return None
    return _to_float(n, te)


_NB = len(_DEC_BOUNDS)
_POW10_INT = [10**j for j in range(2 * (_KMAX - _KMIN) + 8)]
_bisect_right = bisect.bisect_right
_floor = math.floor


def round_price_float(px: float, sz_decimals: int, mode: Rounding = "nearest") -> float:
    """``float(round_price(px, sz_decimals, mode))`` for a float price (same errors)."""
    # _adjusted, _tick_exp and the integer rounding inlined: this runs for every price the sim makes
    if 0.0 < px < math.inf:
        i = _bisect_right(_DEC_BOUNDS, px)
        if 0 < i < _NB:
            adj = i - 1 + _KMIN
            te = adj - (MAX_SIG_FIGS - 1)
            dec = sz_decimals - MAX_DECIMALS_PERP
            if dec > te:
                te = dec
            if te > 0:
                te = 0
            if te >= -22:
                p = _POW10_EXACT[-te]
                q = px * p
                if q < _Q_MAX:
                    m = round(q)
                    tol = q * _REL
                    d = q - m
                    if -tol <= d <= tol:  # near the integer m: on it, or just below or above it
                        if mode != "nearest":
                            y = m / p
                            if mode == "down":
                                if px < y:
                                    m -= 1
                            elif px > y:
                                m += 1
                    elif mode == "down":
                        m = _floor(q)
                    elif mode == "up":
                        m = _floor(q) + 1
                    elif -tol <= abs(d) - 0.5 <= tol:  # a tie, or nearly: leave it to Decimal
                        m = -1
                    if m > 0:
                        # across a power of ten (up to 10^(adj+1)) the tick changes: re-snap
                        k = adj + 1 - te
                        if k <= 0 or m >= _POW10_INT[k]:
                            te2 = _tick_exp(_digits(m) - 1 + te, sz_decimals)
                            if te2 != te:
                                m = m * 10 ** (te - te2) if te >= te2 else _div_round(m, 10 ** (te2 - te), mode)
                                te = te2
                        return m / _POW10_EXACT[-te]
                    if m == 0:
                        raise ValueError(f"price {px} rounds to a non-positive price")
    return float(round_price(px, sz_decimals, mode))


def round_size_float(sz: float, sz_decimals: int, mode: Rounding = "down") -> float:
    """``float(round_size(sz, sz_decimals, mode))`` for a float size."""
    if 0.0 < sz < math.inf and 0 <= sz_decimals <= 22:
        p = _POW10_EXACT[sz_decimals]
        q = sz * p
        if q < _Q_MAX:
            m = round(q)
            tol = q * _REL
            d = q - m
            if -tol <= d <= tol:  # near the integer m (see round_price_float)
                if mode != "nearest":
                    y = m / p
                    if mode == "down":
                        if sz < y:
                            m -= 1
                    elif sz > y:
                        m += 1
                return m / p
            if mode == "down":
                return _floor(q) / p
            if mode == "up":
                return (_floor(q) + 1) / p
            if not -tol <= abs(d) - 0.5 <= tol:
                return m / p
    elif sz == 0.0:
        return sz  # keeps the sign of a zero, as Decimal does
    return float(round_size(sz, sz_decimals, mode))


def is_valid_price_float(px: float, sz_decimals: int) -> bool:
    """``is_valid_price(px, sz_decimals)`` for a float price."""
    if 0.0 < px < math.inf:
        if px.is_integer():
            return True
        adj = _adjusted(px)
        if adj is not None:
            te = _tick_exp(adj, sz_decimals)
            if te >= -22:
                on = _on_grid(px, -te)
                if on is not None:
                    return on
    return is_valid_price(px, sz_decimals)


def is_valid_size_float(sz: float, sz_decimals: int) -> bool:
    """``is_valid_size(sz, sz_decimals)`` for a float size."""
    if 0.0 < sz < math.inf and 0 <= sz_decimals <= 22:
        on = _on_grid(sz, sz_decimals)
        if on is not None:
            return on
    return is_valid_size(sz, sz_decimals)


_NOTIONAL_LO = float(MIN_NOTIONAL_USD) * (1.0 - 1e-12)
_NOTIONAL_HI = float(MIN_NOTIONAL_USD) * (1.0 + 1e-12)


def meets_min_notional_float(px: float, sz: float) -> bool:
    """``meets_min_notional(px, sz)`` for float price and size."""
    v = px * sz
    if v > _NOTIONAL_HI and v < math.inf:
        return True
    if v < _NOTIONAL_LO and v > -math.inf:
        return False
    return meets_min_notional(px, sz)
