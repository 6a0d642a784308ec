"""Hyperliquid's price and size rules, in Decimal, shared by every venue.

Perpetuals: a price has at most 5 significant figures and at most 6 - szDecimals
decimal places; an integer price is always valid. A size has at most szDecimals
decimals. An order must be worth at least $10.
"""
from __future__ import annotations

import functools
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
