"""From L2 snapshots and the trade tape to the MarketState the quoter works on.

The functions are the book's measurements; ``BookCore`` applies them to each new
snapshot, refuses books that cannot be quoted against (a missing side, crossed or
locked, stale), and carries the volatility estimate and the volatility regime.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any, Sequence

from messages.market import BookSnapshot, Level, MarketState, Regime, Trade
from messages.validity import bad_book, bad_trade
from strategy.calibration import IntensityCalibrator
from strategy.flow_fair import FlowFair
from strategy.tape_edge import TapeEdge
from strategy.volatility import EwmaVolatility
from strategy.vpin import Vpin

TAPE_LEN = 50  # trades kept for the aggressor ratio (strategy.md: last 50 trades)


def mid(best_bid: float, best_ask: float) -> float:
    return (best_bid + best_ask) / 2.0


def microprice(bid_px: float, bid_sz: float, ask_px: float, ask_sz: float) -> float:
    """Size-weighted mid: leans toward the side more likely to be taken out next.

    A heavy bid (little ask size) pulls the fair price toward the ask. Falls back to
    the plain mid when both sizes are zero.
    """
    total = bid_sz + ask_sz
    if total <= 0:
        return mid(bid_px, ask_px)
    return (bid_px * ask_sz + ask_px * bid_sz) / total


def spread_bp(best_bid: float, best_ask: float) -> float:
    """Bid-ask spread relative to the mid, in basis points."""
    m = mid(best_bid, best_ask)
    return (best_ask - best_bid) / m * 1e4


def imbalance(bids: Sequence[Level], asks: Sequence[Level], depth: int) -> float:
    """(bid depth − ask depth) / (bid depth + ask depth) over the top ``depth`` levels, in [-1, 1]."""
    b = sum(lv.sz for lv in bids[:depth])
    a = sum(lv.sz for lv in asks[:depth])
    total = b + a
    return (b - a) / total if total > 0 else 0.0


def tape_models_needed(q: Any) -> bool:
    """Whether the quoting config (QuotingConfig) reads A, k or VPIN from the MarketState."""
    return bool((q.model == "glft" and q.glft.calibrate) or (q.toxicity.enabled and q.toxicity.vpin))


def regime_for(sigma_bp: float, thresholds: tuple[float, float, float] = (5.0, 25.0, 60.0)) -> Regime:
    """Classify volatility by its 1-minute size, sigma·sqrt(60), against (calm, elevated, extreme)."""
    calm, elevated, extreme = thresholds
    one_minute = sigma_bp * math.sqrt(60.0)
    if one_minute > extreme:
        return "EXTREME"
    if one_minute > elevated:
        return "ELEVATED"
    if one_minute < calm:
        return "CALM"
    return "NORMAL"


class BookCore:
    """Turns each acceptable book snapshot into a MarketState; keeps the trade tape."""

    def __init__(self, asset: str, *, depth_levels: int = 5, vol_halflife_s: float = 30.0,
                 initial_sigma_bp: float = 1.0, calib_window_s: float = 600.0, calib_refit_s: float = 5.0,
                 tape_models: bool = True, tape_edge: TapeEdge | None = None,
                 flow_fair: FlowFair | None = None) -> None:
        self.asset = asset
        self.depth_levels = depth_levels
        self.vol = EwmaVolatility(vol_halflife_s, initial_sigma_bp)
        self.last: MarketState | None = None
        self.rejected = 0
        self.bad_input = 0  # books and trades with unusable numbers (NaN, inf, negative, out of order)
        self.last_bad = ""
        self._tape: deque[Trade] = deque(maxlen=TAPE_LEN)
        self._buys = 0  # buy aggressors in the tape
        self.tape_models = tape_models  # fit A, k and VPIN from the tape (tape_models_needed)
        self.calibrator = IntensityCalibrator(calib_window_s, calib_refit_s)
        self.vpin = Vpin()
        self.tape_edge = tape_edge  # the tape's markouts by depth (None: not measured)
        self.flow_fair = flow_fair  # the order flow's forecast of the mid (None: not made)

    def _acceptable(self, snap: BookSnapshot) -> bool:
        if not snap.bids or not snap.asks:
            return False
        why = bad_book(snap)
        if why:
            self.bad_input += 1
            self.last_bad = f"book: {why}"
            return False
        bb, ba = snap.bids[0].px, snap.asks[0].px
        if not (bb > 0 and ba > 0) or bb >= ba:  # crossed or locked: no passive price exists
            return False
        last = self.last
        if last is not None and (snap.ts < last.ts or snap.seq <= last.seq):
            return False  # stale or repeated: never step back to an older book
        return True

    def on_book(self, snap: BookSnapshot) -> MarketState | None:
        """The new MarketState, or None (and ``rejected`` += 1) for an unusable snapshot."""
        if not self._acceptable(snap):
            self.rejected += 1
            return None
        bid, ask = snap.bids[0], snap.asks[0]
        m = mid(bid.px, ask.px)
        sigma = self.vol.update(snap.ts, m)
        micro = microprice(bid.px, bid.sz, ask.px, ask.sz)
        last = self.last
        drift = (micro - last.microprice) / last.microprice * 1e4 if last is not None else 0.0
        fill_a, fill_k = self.calibrator.fit(snap.ts)
        te = self.tape_edge
        if te is not None:
            te.on_book(snap.ts, bid.px, ask.px, m)
        ff = self.flow_fair
        shift = ff.on_book(snap.ts, snap.bids, snap.asks, m, micro) if ff is not None else 0.0
        state = MarketState(
            asset=self.asset,
            ts=snap.ts,
            seq=snap.seq,
            mid=m,
            microprice=micro,
            best_bid=bid.px,
            best_ask=ask.px,
            spread_bp=spread_bp(bid.px, ask.px),
            imbalance=imbalance(snap.bids, snap.asks, self.depth_levels),
            sigma_bp=sigma,
            regime=regime_for(sigma),
            recv_ns=snap.recv_ns,
            fill_a=fill_a,
            fill_k=fill_k,
            aggressor_buy_ratio=self.aggressor_buy_ratio,
            vpin=self.vpin.value,
            micro_drift_bp=drift,
            tape_drift_bid=te.tails("B") if te is not None else (),
            tape_drift_ask=te.tails("A") if te is not None else (),
            tape_bin_bp=te.bin_bp if te is not None else 0.5,
            flow_shift_bp=shift,
        )
        self.last = state
        return state

    def on_trade(self, trade: Trade) -> None:
        why = bad_trade(trade)
        if why:
            self.bad_input += 1
            self.last_bad = f"trade: {why}"
            return
        if len(self._tape) == TAPE_LEN and self._tape[0].side == "B":
            self._buys -= 1
        self._tape.append(trade)
        self._buys += trade.side == "B"
        if self.tape_edge is not None and self.last is not None:
            self.tape_edge.on_trade(trade.ts, trade.px, trade.side, self.last.mid)
        if not self.tape_models:
            return
        self.vpin.on_trade(trade.px, trade.sz, trade.side)
        if self.last is not None:  # depth past the fair price of the book the taker saw
            self.calibrator.on_trade(trade.ts, trade.px, trade.side, self.last.mid)

    @property
    def aggressor_buy_ratio(self) -> float:
        """Share of the last trades whose aggressor bought; 0.5 (no signal) with no trades."""
        if not self._tape:
            return 0.5
        return self._buys / len(self._tape)
