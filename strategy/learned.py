"""The learned fill and adverse-selection model, and the quoting switch that uses it.

``features`` turns one quote (a side and price of the ladder) and the MarketState it
was made on into a fixed vector; the same function makes the training rows
(backtest/learned_data.py) and the live ones, so the two can never drift apart.

A model file (``makerhive train-model``) is JSON: the feature names, and for each of
two gradient-boosted classifiers (P(fill within T), P(adverse markout | fill)) its
trees as flat node arrays. ``TreeModel`` walks them in plain Python, with no
scikit-learn and no allocation per node; a file is read once per path and shared.

``LearnedGuard`` (``quoting.learned``) scores both sides of each new ladder (once per
book, not per requote) and widens the side whose fills it expects to be picked off
(``adverse_threshold``), or pulls that side's levels (``pull_threshold``).
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import msgspec

from config.schema import LearnedConfig
from exchange_rules import ticks as rules
from messages.market import MarketState
from messages.orders import QuoteLadder, QuoteLevel

FEATURES = ("dist_touch_bp", "dist_fair_bp", "spread_bp", "imbalance", "sigma_bp", "micro_drift_bp",
            "aggressor", "vpin", "fill_a", "fill_k", "level")
FORMAT = "makerhive-learned/1"


def features(market: MarketState, side: str, px: float, level: int) -> list[float]:
    """One quote's features, signed so that positive means "toward this side": the book
    leaning our way, the microprice drifting our way, the takers coming at us."""
    mid = market.mid
    s = 1.0 if side == "B" else -1.0
    touch = market.best_bid if side == "B" else market.best_ask
    aggressor = market.aggressor_buy_ratio
    return [
        s * (touch - px) / mid * 1e4,  # behind the touch (>0) or improving it (<0)
        s * (mid - px) / mid * 1e4,
        market.spread_bp,
        s * market.imbalance,
        market.sigma_bp,
        -s * market.micro_drift_bp,  # the microprice moving away from our side
        (1.0 - aggressor) if side == "B" else aggressor,  # sellers hit bids, buyers lift asks
        market.vpin,
        market.fill_a,
        market.fill_k,
        float(level),
    ]


class TreeModel:
    """A binary gradient-boosted classifier as flat arrays: P(class 1 | x)."""

    __slots__ = ("baseline", "trees")

    def __init__(self, baseline: float, trees: Sequence[dict[str, list]]) -> None:
        self.baseline = float(baseline)
        # per tree: (feature, threshold, missing_left, left, right, is_leaf, value) lists
        self.trees = [(t["feature"], t["threshold"], t["missing_left"], t["left"], t["right"], t["is_leaf"],
                       t["value"]) for t in trees]

    def raw(self, x: Sequence[float]) -> float:
        total = self.baseline
        for feature, threshold, missing_left, left, right, is_leaf, value in self.trees:
            i = 0
            while not is_leaf[i]:
                v = x[feature[i]]
                if v != v:  # NaN: the side the training sent missing values to
                    i = left[i] if missing_left[i] else right[i]
                elif v <= threshold[i]:
                    i = left[i]
                else:
                    i = right[i]
            total += value[i]
        return total

    def proba(self, x: Sequence[float]) -> float:
        r = self.raw(x)
        return 1.0 / (1.0 + math.exp(-r)) if r > -700 else 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TreeModel":
        return cls(d["baseline"], d["trees"])


class FillModel:
    """Both classifiers of one model file."""

    def __init__(self, doc: dict[str, Any]) -> None:
        if doc.get("format") != FORMAT or tuple(doc.get("features", ())) != FEATURES:
            raise ValueError(f"not a {FORMAT} model with features {FEATURES}")
        self.doc = doc
        self.fill = TreeModel.from_dict(doc["fill"])
        self.adverse = TreeModel.from_dict(doc["adverse"])


@lru_cache(maxsize=8)
def load_model(path: str) -> FillModel:
    """The model in ``path`` (read once per path: every quoter of the run shares it)."""
    return FillModel(json.loads(Path(path).read_text()))


class LearnedGuard:
    """Widen or pull the side the model expects adverse fills on."""

    def __init__(self, cfg: LearnedConfig) -> None:
        self.cfg = cfg
        self.model = load_model(cfg.model_path)
        self._seq = -1
        self._p = {"B": 0.0, "A": 0.0}  # P(adverse | fill) of each side's L1, for the last book
        self.widened = 0
        self.pulled = 0

    def adverse(self, market: MarketState, ladder: QuoteLadder) -> dict[str, float]:
        """P(adverse | fill) per side at the side's L1 (scored once per book)."""
        if market.seq != self._seq:
            self._seq = market.seq
            for side, levels in (("B", ladder.bids), ("A", ladder.asks)):
                self._p[side] = self.model.adverse.proba(features(market, side, levels[0].px, 0)) if levels else 0.0
        return self._p

    def adjust(self, market: MarketState, ladder: QuoteLadder, sz_decimals: int) -> QuoteLadder:
        if not (market.mid > 0 and math.isfinite(market.mid)):
            return ladder
        p = self.adverse(market, ladder)
        bids, asks, notes = ladder.bids, ladder.asks, []
        for side in ("B", "A"):
            if p[side] >= self.cfg.pull_threshold:
                self.pulled += 1
                notes.append(f"learned: {side} pulled (P adverse {p[side]:.2f})")
                bids, asks = ((), asks) if side == "B" else (bids, ())
            elif p[side] >= self.cfg.adverse_threshold:
                self.widened += 1
                notes.append(f"learned: {side} widened (P adverse {p[side]:.2f})")
                extra = (self.cfg.widen_mult - 1.0) * max(ladder.half_spread_bp, 0.0) * market.mid / 1e4
                if side == "B":
                    bids = _shift(bids, -extra, sz_decimals)
                else:
                    asks = _shift(asks, extra, sz_decimals)
        if not notes:
            return ladder
        note = "; ".join(([ladder.note] if ladder.note else []) + notes)
        return msgspec.structs.replace(ladder, bids=bids, asks=asks, note=note)


def _shift(levels: tuple[QuoteLevel, ...], by: float, sz_decimals: int) -> tuple[QuoteLevel, ...]:
    """Each level moved ``by`` (away from the mid), rounded outward onto the venue's grid."""
    mode: rules.Rounding = "down" if by < 0 else "up"
    out = []
    for lv in levels:
        try:
            px = rules.round_price_float(lv.px + by, sz_decimals, mode)
        except ValueError:
            continue  # below the smallest tick: not quotable
        if px > 0:
            out.append(msgspec.structs.replace(lv, px=px))
    return tuple(out)
