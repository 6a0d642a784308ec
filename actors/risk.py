"""RiskActor: owns inventory and PnL, applies limits and the daily loss stop.

Fills arrive from the order actor (deduplicated by trade id in the core); on start the
actor rebuilds its books from the venue's fill history, so a restarted risk actor knows
exactly what its predecessor knew.

Upward, it reports to its asset supervisor (which passes it to the meta-supervisor): a
``PerformanceReport`` every ``allocation.report_s`` and an ``ExposureReport`` whenever
its inventory moved or a second passed. Downward, the meta-supervisor's
``AllocationUpdate`` (capital, risk multipliers) and ``PortfolioGate`` (exposure
allowance, drawdown stop) change the next ``RiskState`` at once, so the quoter quotes
with them on its next quote.
"""
from __future__ import annotations

from typing import Any

from actors.asset_actor import AssetActor
from actors.context import AssetContext
from strategy.performance import PerformanceTracker
from strategy.risk import RiskCore
from strategy.risk_role import MESSAGES, RiskRole


class RiskActor(AssetActor):
    def __init__(self, ctx: AssetContext, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        ts = ctx.start_ts()
        a = ctx.cfg.allocation
        self.role = RiskRole(RiskCore(ctx.asset, ctx.acfg.risk, ctx.capital(), ts=ts),
                             PerformanceTracker(ctx.asset, a.sample_s, a.report_s, ts), ts)
        self.core = self.role.core

    def init(self) -> None:
        self.ctx.team.set("risk", self.actor_ref)
        fills = self.ctx.gateway.fills(self.ctx.asset, 0.0)
        self.core.on_fills(fills)
        if fills:
            self.core.mark(fills[-1].px, self.role.ts)

    def handle(self, msg: Any) -> None:
        if not isinstance(msg, MESSAGES):
            super().handle(msg)
            return
        out = self.role.handle(msg)
        if self.role.state is not None:
            self.board.risk[self.ctx.asset] = self.role.state
        self.deliver(out)

    def cleanup(self, reason: str) -> None:
        self.board.risk[self.ctx.asset] = self.core.state(self.role.ts)
