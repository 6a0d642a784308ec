"""Does the backtester trade like the live hive? The same scenario both ways, fill by fill.

``against_live`` runs a config once through the hive in lockstep (``venues.lockstep``: the
real actors, supervisors and meta-supervisor on the embedded sim, deterministic) and once
through ``AllocationBacktest`` (the same cores on one event clock), and compares every
fill: cloid, side, price, size and time, then each asset's final position and cash at the
venue. They should agree exactly; where they do not, the first differing fill says where
to look (``makerhive backtest --against-live``). Exact for the ``zero`` and ``fixed``
latency profiles. Under the random ``hyperliquid`` profile they drift apart: the live
hive's own queries (fill syncs, dead-man's switch renewals) draw latencies and queue on
the wires, which the backtester does not model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backtest.allocation import AllocationBacktest
from backtest.engine import zero_latency
from config import Config
from makerhive.app import Hive

FillKey = tuple[float, str, str, float, float]  # ts, cloid, side, px, sz


@dataclass
class AssetAgreement:
    asset: str
    live: list[FillKey]
    backtest: list[FillKey]
    live_book: tuple[float, float]  # position, cash at the venue at the end
    backtest_book: tuple[float, float]

    @property
    def first_difference(self) -> int | None:
        """Index of the first fill that differs (or the shorter list's length), None if none."""
        for i, (a, b) in enumerate(zip(self.live, self.backtest)):
            if a != b:
                return i
        return None if len(self.live) == len(self.backtest) else min(len(self.live), len(self.backtest))

    @property
    def agree(self) -> bool:
        return self.first_difference is None and self.live_book == self.backtest_book


@dataclass
class Agreement:
    seed: int
    duration_s: float
    assets: dict[str, AssetAgreement]
    backtest: AllocationBacktest
    summary: dict[str, Any] = field(default_factory=dict)  # the live hive's run summary

    @property
    def agree(self) -> bool:
        return all(a.agree for a in self.assets.values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.seed, "duration_s": self.duration_s, "agree": self.agree, "assets": {}}
        for name, a in self.assets.items():
            i = a.first_difference
            out["assets"][name] = {
                "fills_live": len(a.live), "fills_backtest": len(a.backtest), "agree": a.agree,
                "first_difference": None if i is None else {
                    "index": i, "live": a.live[i] if i < len(a.live) else None,
                    "backtest": a.backtest[i] if i < len(a.backtest) else None},
                "position_cash_live": a.live_book, "position_cash_backtest": a.backtest_book}
        return out


def fill_keys(fills: Any) -> list[FillKey]:
    """What two runs' fills are compared by."""
    return [(round(f.ts, 9), f.cloid, f.side, f.px, f.sz) for f in fills]


def against_live(cfg: Config, *, seed: int, duration_s: float, zero: bool = True) -> Agreement:
    """Run ``cfg`` (its assets; the zero-latency wire, or with ``zero=False`` the config's
    latency profile) both ways for ``duration_s`` and compare."""
    if zero:
        cfg = zero_latency(cfg)
    assets = tuple(cfg.portfolio.assets)
    hive = Hive(cfg, seed=seed, lockstep=True)
    hive.start()
    try:
        hive.wait_until(duration_s)
        engine = hive.venue.engine
        live = {a: fill_keys(engine.fills(a)) for a in assets}
        live_book = {a: (engine.position(a), engine.cash(a)) for a in assets}
    finally:
        summary = hive.stop()
    bt = AllocationBacktest(cfg, seed=seed)
    bt.run(duration_s)
    per = {a: AssetAgreement(a, live[a], fill_keys(bt.sim.fills(a)), live_book[a],
                             (bt.sim.position(a), bt.sim.cash(a))) for a in assets}
    return Agreement(seed, duration_s, per, bt, summary)
