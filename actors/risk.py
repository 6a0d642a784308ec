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

import pykka

from actors.asset_actor import AssetActor
from actors.context import AssetContext
from messages.allocation import AllocationUpdate, PortfolioGate
from messages.market import MarketState
from messages.orders import Fill, Funding
from messages.risk import FillHistory, RiskState, RiskStateRequest, VenuePosition
from strategy.performance import ExposureThrottle, PerformanceTracker
from strategy.risk import RiskCore, should_publish


class RiskActor(AssetActor):
    def __init__(self, ctx: AssetContext, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        self.ts = ctx.start_ts()
        self.core = RiskCore(ctx.asset, ctx.acfg.risk, ctx.capital(), ts=self.ts)
        self._last: RiskState | None = None
        self._last_pub = -1e18
        a = ctx.cfg.allocation
        self.perf = PerformanceTracker(ctx.asset, a.sample_s, a.report_s, self.ts)
        self.exposure = ExposureThrottle(ctx.asset)

    def init(self) -> None:
        self.ctx.team.set("risk", self.actor_ref)
        fills = self.ctx.gateway.fills(self.ctx.asset, 0.0)
        self.core.on_fills(fills)
        if fills:
            self.core.mark(fills[-1].px, self.ts)

    def handle(self, msg: Any) -> None:
        if isinstance(msg, MarketState):
            self.ts = max(self.ts, msg.ts)
            self.core.mark(msg.mid, msg.ts)
            self._publish(force=False)
        elif isinstance(msg, Fill):
            self.ts = max(self.ts, msg.ts)
            if self.core.on_fill(msg):
                self._publish(force=True)
        elif isinstance(msg, FillHistory):
            self.ts = max(self.ts, msg.ts)
            self.core.on_fills(msg.fills)
            self._publish(force=True)
        elif isinstance(msg, Funding):
            if self.core.on_funding(msg):
                self._publish(force=True)
        elif isinstance(msg, VenuePosition):
            if msg.funding is not None:
                self.core.set_funding_total(msg.funding, msg.ts)
            diff = self.core.reconcile_position(msg.position)
            if abs(diff) > 0:
                self.event(msg.ts, "reconciled", f"position differed from the venue by {diff:g}; venue wins")
            self._publish(force=True)
        elif isinstance(msg, RiskStateRequest):
            self._publish(force=True)
        elif isinstance(msg, AllocationUpdate):
            self.core.apply_allocation(msg)
            self._publish(force=True)
        elif isinstance(msg, PortfolioGate):
            self.core.apply_gate(msg)
            self._publish(force=True)
        else:
            super().handle(msg)

    def _publish(self, force: bool) -> None:
        state = self.core.state(self.ts)
        last = self._last
        self.board.risk[self.ctx.asset] = state
        self._tell_supervisors(state)
        if not should_publish(state, last, self._last_pub, force=force):
            return
        if last is not None and state.halted != last.halted:
            self.event(self.ts, "halt" if state.halted else "resume",
                           state.halt_reason or "limits clear")
        self._last, self._last_pub = state, self.ts
        self.send("quoter", state)
        self.send("order", state)

    def _tell_supervisors(self, state: RiskState) -> None:
        """Tell the supervisors how the asset does (not when fenced: a zombie's figures are stale)."""
        if self.fenced or self.parent is None:
            return
        inv = state.position * state.mid
        net = state.net_pnl
        exp = self.exposure.observe(state.ts, inv, net, state.limit_usd)
        rep = self.perf.observe(state.ts, net, capital=state.capital, fills=state.fills_buy + state.fills_sell,
                                volume_usd=state.volume_usd, inventory_usd=inv, limit_usd=state.limit_usd)
        try:
            if exp is not None:
                self.parent.tell(exp)
            if rep is not None:
                self.parent.tell(rep)
        except pykka.ActorDeadError:
            pass  # the supervisor is going down: its replacement hears from our replacement

    def cleanup(self, reason: str) -> None:
        self.board.risk[self.ctx.asset] = self.core.state(self.ts)
