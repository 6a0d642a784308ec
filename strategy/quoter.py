"""The quote model: Avellaneda–Stoikov in basis points around a fair price, as a ladder.

Everything is computed in bp relative to fair value (mid or microprice), so one set of
parameters fits a $0.50 coin and a $100,000 one alike. Inventory is counted in L1 lots
(q = position / L1 size), which makes γ "bp of skew per lot" and keeps the skew
independent of the asset's price. The regime scales the spread and trims the ladder;
risk multipliers widen or shrink each side; EXTREME volatility or a halt pulls
everything. Prices and sizes leave here already venue-valid, post-only safe and
strictly ordered, so the order actor never has to second-guess them.
"""
from __future__ import annotations

import math
from decimal import Decimal

from makerhive.config import QuotingConfig
from messages.market import MarketState, Side
from messages.orders import QuoteLadder, QuoteLevel
from messages.risk import RiskState
from strategy import avellaneda
from venues import rules

# Spread scale per regime (strategy.md). EXTREME never quotes; its scale only fills in
# the reported half spread of the empty ladder.
REGIME_SPREAD_SCALE = {"CALM": 0.7, "NORMAL": 1.0, "ELEVATED": 2.0, "EXTREME": 2.0}
ELEVATED_MAX_LEVELS = 2
_FAST_MAX_PX = 1e12  # the float path handles prices below this (grid prices of at most 13 digits)
_FAST_MIN_PX = 1e-200


class _Slow(Exception):
    """The float path cannot decide this side exactly: work it out in Decimal."""


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _snap(px: Decimal | float, sz_decimals: int, mode: rules.Rounding) -> Decimal | None:
    """A valid price rounded in ``mode``; None when there is no positive one.

    A float model price is first cut to 10 significant digits, so float noise
    (100.11000000000001) cannot push a directed rounding one whole tick further out.
    """
    if isinstance(px, float):
        if not math.isfinite(px):
            return None
        px = Decimal(f"{px:.10g}")
    if px <= 0:
        return None
    try:
        return rules.round_price(px, sz_decimals, mode)
    except ValueError:  # rounds down to zero: below the smallest tick
        return None


class QuoterCore:
    def __init__(self, asset: str, params: QuotingConfig, sz_decimals: int) -> None:
        self.asset = asset
        self.params = params
        self.sz_decimals = sz_decimals

    def set_params(self, params: QuotingConfig) -> None:
        self.params = params

    def quote(self, market: MarketState, risk: RiskState, ts: float) -> QuoteLadder:
        """The ladder wanted now for ``market`` under ``risk``."""
        p = self.params
        fair = market.microprice if p.use_microprice else market.mid
        if not (math.isfinite(fair) and fair > 0 and market.best_bid > 0 and market.best_ask > 0):
            return QuoteLadder(self.asset, ts, market.seq, (), (), recv_ns=market.recv_ns)

        q = risk.position * fair / p.order_size_usd  # inventory in L1 lots
        sigma, tau, gamma = market.sigma_bp, p.horizon_s, p.gamma
        r_bp = avellaneda.reservation_price(0.0, q, gamma, sigma, tau)
        spread = avellaneda.optimal_spread(gamma, sigma, tau, p.k_per_bp) * REGIME_SPREAD_SCALE[market.regime]
        spread = min(max(spread, p.min_spread_bp), p.max_spread_bp)
        half = spread / 2.0

        n = min(p.levels, len(p.level_size_mult))
        if market.regime == "ELEVATED":
            n = min(n, ELEVATED_MAX_LEVELS)
        if market.regime == "EXTREME" or risk.halted:
            n = 0
        bids = self._side("B", fair, r_bp, half, risk.spread_mult_bid, risk.size_mult_bid, n, market) \
            if risk.allow_bid else ()
        asks = self._side("A", fair, r_bp, half, risk.spread_mult_ask, risk.size_mult_ask, n, market) \
            if risk.allow_ask else ()
        return QuoteLadder(
            asset=self.asset, ts=ts, seq=market.seq, bids=bids, asks=asks,
            reservation=fair * (1.0 + r_bp / 1e4), half_spread_bp=half, recv_ns=market.recv_ns,
        )

    def _side(self, side: Side, fair: float, r_bp: float, half: float, spread_mult: float,
              size_mult: float, n: int, market: MarketState) -> tuple[QuoteLevel, ...]:
        """One side's levels, outward from the reservation price."""
        try:
            return self._side_float(side, fair, r_bp, half, spread_mult, size_mult, n, market)
        except _Slow:
            return self._side_decimal(side, fair, r_bp, half, spread_mult, size_mult, n, market)

    def _side_float(self, side: Side, fair: float, r_bp: float, half: float, spread_mult: float,
                    size_mult: float, n: int, market: MarketState) -> tuple[QuoteLevel, ...]:
        """``_side_decimal`` on floats, equal to it bit for bit: every price is a valid
        price of at most 13 digits, so its float stands for its Decimal and the floats
        compare as the Decimals do; the float rules equal the Decimal ones. _Slow where
        that does not hold (or a size lands within float noise of a lot boundary)."""
        p, szd = self.params, self.sz_decimals
        if not (_FAST_MIN_PX < fair < _FAST_MAX_PX) or szd > 22:
            raise _Slow
        buy = side == "B"
        mode: rules.Rounding = "down" if buy else "up"  # always round away from the other side
        sign = -1.0 if buy else 1.0
        touch = market.best_ask if buy else market.best_bid
        edge: float | None = None
        edge_known = False
        l1 = r_bp + sign * half * spread_mult
        l1 = min(l1, -p.min_spread_bp / 2) if buy else max(l1, p.min_spread_bp / 2)
        lot_scale = 10.0 ** szd  # exact
        spacing, size_usd, mults = p.level_spacing_bp, p.order_size_usd, p.level_size_mult
        round_price_float, isfinite = rules.round_price_float, math.isfinite
        out: list[QuoteLevel] = []
        prev: float | None = None
        for i in range(n):
            # _snap of the model price: cut to 10 significant digits (the repr of that float
            # is that 10-digit decimal), then rounded away from the other side
            raw = fair * (1.0 + (l1 + sign * i * spacing) / 1e4)
            px = None
            if isfinite(raw):
                v = float(f"{raw:.10g}")
                if v > 0:
                    if not _FAST_MIN_PX < v < _FAST_MAX_PX:
                        raise _Slow
                    try:
                        px = round_price_float(v, szd, mode)
                    except ValueError:  # rounds down to zero: below the smallest tick
                        px = None
            if px is not None and (px >= touch if buy else px <= touch):
                if not edge_known:  # the edge: one tick inside the opposite touch
                    scaled = rules.price_scaled(touch, szd)
                    if scaled is None:
                        raise _Slow
                    m, te = scaled
                    edge = rules.snap_scaled_float(m - 1 if buy else m + 1, te, szd, mode) if (m > 1 or not buy) \
                        else None
                    edge_known = True
                px = edge
            if px is not None and prev is not None and (px >= prev if buy else px <= prev):
                prev_scaled = rules.price_scaled(prev, szd)  # two levels on one price: push the outer one out
                if prev_scaled is None:
                    raise _Slow
                m, te = prev_scaled
                px = rules.snap_scaled_float(m - 1 if buy else m + 1, te, szd, mode) if (m > 1 or not buy) else None
            if px is None:
                break  # no positive valid price this far out, nor further
            prev = px
            notional = size_usd * mults[i] * size_mult
            q = notional / px * lot_scale  # within 4e-16 of Decimal(notional) / px in lots
            if not (0.0 < q < 1e13):
                raise _Slow
            k = math.floor(q)
            if q - k <= q * 1e-14 or k + 1 - q <= q * 1e-14:
                raise _Slow  # at a lot boundary, up to float noise
            if k <= 0:
                continue
            sz = k / lot_scale
            if not rules.meets_min_notional_float(px, sz):
                continue
            out.append(QuoteLevel(side, i, px, sz))
        return tuple(out)

    def _side_decimal(self, side: Side, fair: float, r_bp: float, half: float, spread_mult: float,
                      size_mult: float, n: int, market: MarketState) -> tuple[QuoteLevel, ...]:
        """One side's levels, outward from the reservation price, in Decimal."""
        p, szd = self.params, self.sz_decimals
        buy = side == "B"
        mode: rules.Rounding = "down" if buy else "up"  # always round away from the other side
        sign = -1.0 if buy else 1.0
        # Post-only: a bid must stay under the best ask, an ask over the best bid; one that
        # would not is moved to the edge, one tick inside the opposite touch.
        touch = _dec(market.best_ask if buy else market.best_bid)
        step = rules.tick_at(touch, szd)
        edge = _snap(touch - step if buy else touch + step, szd, mode)
        # However hard inventory skews the reservation price, a side never comes closer
        # to fair value than half the minimum spread: skew may bring it to the touch, not
        # through fair value into a book that has moved since this snapshot.
        l1 = r_bp + sign * half * spread_mult
        l1 = min(l1, -p.min_spread_bp / 2) if buy else max(l1, p.min_spread_bp / 2)
        out: list[QuoteLevel] = []
        prev: Decimal | None = None
        for i in range(n):
            px = _snap(fair * (1.0 + (l1 + sign * i * p.level_spacing_bp) / 1e4), szd, mode)
            if px is not None and (px >= touch if buy else px <= touch):
                px = edge
            if px is not None and prev is not None and (px >= prev if buy else px <= prev):
                step = rules.tick_at(prev, szd)  # two levels on one price: push the outer one out
                px = _snap(prev - step if buy else prev + step, szd, mode)
            if px is None:
                break  # no positive valid price this far out, nor further
            prev = px
            notional = _dec(p.order_size_usd * p.level_size_mult[i] * size_mult)
            sz = rules.round_size(notional / px, szd, "down")
            if sz <= 0 or not rules.meets_min_notional(px, sz):
                continue
            out.append(QuoteLevel(side=side, level=i, px=float(px), sz=float(sz)))
        return tuple(out)
