"""What a backtest keeps of a run: the raw material of the report.

One ``AssetRecord`` per asset, filled by the event loop from the venue's side of the
wire (fills as the engine made them, with the true mid at that moment), plus samples
of equity and inventory once per simulated second. Markouts are resolved on the fly,
so a day-long run does not keep a mid series.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

MARKOUT_HORIZONS_S = (1.0, 5.0, 30.0)


@dataclass(slots=True)
class FillRecord:
    ts: float
    side: str  # "B" we bought, "A" we sold
    px: float
    sz: float
    fee: float  # paid; negative is a rebate
    mid: float  # the engine's mid when the fill happened
    taker: str = ""  # who took our order: "uninformed", "informed", "arbitrage" ("": not known)


@dataclass
class AssetRecord:
    asset: str
    capital: float
    fills: list[FillRecord] = field(default_factory=list)
    cash: float = 0.0  # fills' cash flow minus fees plus funding, like the venue's
    position: float = 0.0
    funding: float = 0.0
    funding_events: int = 0
    orders_sent: int = 0
    cancels_sent: int = 0
    acks: int = 0
    rejects: int = 0
    alo_rejects: int = 0  # placements refused because they would have crossed (post-only)
    budget_rejects: int = 0  # placements refused for the address action budget
    cancel_misses: int = 0  # cancels of orders that had already gone (filled or cancelled)
    ioc_fills: int = 0  # fills of the emergency unwind's IOCs (taker fee; strategy/unwind.py)
    cancel_rejects: int = 0  # cancels the venue refused (budget, failed request)
    failed_requests: int = 0  # commands the engine failed as a whole (injected faults)
    book_events: int = 0  # book snapshots that reached the book core
    level_events: int = 0  # their price levels that appeared, disappeared or changed size, per side
    trade_events: int = 0  # public trades that reached the book core
    other_events: Counter = field(default_factory=Counter)
    equity: list[float] = field(default_factory=list)  # cash + position·mid, per sample
    inventory_usd: list[float] = field(default_factory=list)  # position·mid, per sample
    markout_sum: dict[float, float] = field(default_factory=lambda: {h: 0.0 for h in MARKOUT_HORIZONS_S})
    markout_n: dict[float, int] = field(default_factory=lambda: {h: 0 for h in MARKOUT_HORIZONS_S})
    pending: dict[float, deque] = field(default_factory=lambda: {h: deque() for h in MARKOUT_HORIZONS_S})
    # the venue's own accounting at the end, for the identity check
    final_mid: float = 0.0
    engine_cash: float = 0.0
    engine_position: float = 0.0
    engine_pnl: float = 0.0
    risk_net_pnl: float = 0.0  # the RiskCore's view, at its last mark
    risk_fills: int = 0  # fills the RiskCore applied (each once)
    risk_position: float = 0.0
    stalls: int = 0
    sweeps: int = 0  # prints that pulled a side of ours (quoting.sweep_guard)


@dataclass
class BacktestResult:
    seed: int
    duration_s: float
    assets: tuple[str, ...]
    capital_usd: float
    latency: dict[str, Any]
    sample_ts: list[float]
    records: dict[str, AssetRecord]
    steps: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    # (ts, asset, strategy.order_actions.OrderAction) in time order, when the run kept them
    orders: list[tuple[float, str, Any]] = field(default_factory=list)

    @property
    def events(self) -> int:
        """Book snapshots and trades that reached the book cores."""
        return sum(r.book_events + r.trade_events for r in self.records.values())

    @property
    def market_events(self) -> int:
        """Market-data events as hftbacktest counts them: one per price level update (a
        level that appeared, disappeared or changed size since the asset's previous
        snapshot; the first snapshot counts all its levels) and one per trade."""
        return sum(r.level_events + r.trade_events for r in self.records.values())
