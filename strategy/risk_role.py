"""The risk actor's logic: fills, marks and money decisions in, the RiskState out.

Fills and the position come only from the order role (``OwnFills``, ``VenuePosition``),
which owns dedupe and the position; this role books the money.

Every change is stated to the quoter and the order actor (throttled by
``should_publish``), and how the asset does goes to the supervisor as exposure and
performance reports. ``AllocationUpdate`` (capital, risk multipliers) and
``PortfolioGate`` (exposure allowance, drawdown stop) change the next ``RiskState`` at
once, so the quoter quotes with them on its next quote.
"""
from __future__ import annotations

from typing import Any

from messages.allocation import AllocationUpdate, PortfolioGate
from messages.market import MarketState
from messages.orders import Funding
from messages.validity import finite
from messages.risk import Liquidated, MarginState, OwnFills, RiskState, RiskStateRequest, VenuePosition
from strategy.outbox import LOG, SUPERVISOR, Note, Outbox
from strategy.performance import ExposureThrottle, PerformanceTracker
from strategy.risk import RiskCore, should_publish

MESSAGES = (MarketState, OwnFills, Funding, VenuePosition, RiskStateRequest, AllocationUpdate, PortfolioGate,
            MarginState, Liquidated)


class RiskRole:
    def __init__(self, core: RiskCore, perf: PerformanceTracker, ts: float, *, reports: bool = True) -> None:
        self.core = core
        self.perf = perf
        self.exposure = ExposureThrottle(core.asset)
        self.reports = reports  # False: nobody listens to the supervisor's figures
        self.ts = ts
        self.state: RiskState | None = None  # the latest state computed
        self._published: RiskState | None = None
        self._last_pub = -1e18

    def handle(self, msg: Any) -> Outbox:
        bad = self.core.bad_input
        out = self._handle(msg)
        if self.core.bad_input != bad:
            out = self._bad_input_note() + out
        return out

    def _bad_input_note(self) -> Outbox:
        """Unusable input is dropped by the core; the log hears of the 1st, 10th, 100th ..."""
        n = self.core.bad_input
        if n & (n - 1) and str(n).rstrip("0") != "1":
            return []
        return [(LOG, Note(self.ts, "bad_input", f"{n} unusable input(s) dropped; latest: {self.core.last_bad}"))]

    def _handle(self, msg: Any) -> Outbox:
        core = self.core
        if isinstance(msg, MarketState):
            if finite(msg.ts):
                self.ts = max(self.ts, msg.ts)
            core.mark(msg.mid, msg.ts)
            return self._publish(force=False)
        if isinstance(msg, OwnFills) and msg.live:
            if not core.on_fills(msg.fills, msg.position, live=True):
                return []
            self.ts = max(self.ts, msg.ts)
            return self._publish(force=True)
        if isinstance(msg, OwnFills):
            if finite(msg.ts):
                self.ts = max(self.ts, msg.ts)
            if msg.start:
                core.reset_fills()
            if core.on_fills(msg.fills, msg.position) and core.mid == 0:
                core.mark(msg.fills[-1].px, self.ts)  # a start-up history: valued at its last price until a book
            return self._publish(force=True)
        if isinstance(msg, Funding):
            return self._publish(force=True) if core.on_funding(msg) else []
        if isinstance(msg, VenuePosition):
            if msg.funding is not None:
                core.set_funding_total(msg.funding, msg.ts)
            diff = core.reconcile_position(msg.position)
            out: Outbox = []
            if abs(diff) > 0:
                out.append((LOG, Note(msg.ts, "reconciled", f"position differed from the venue by {diff:g}; venue wins")))
            return out + self._publish(force=True)
        if isinstance(msg, RiskStateRequest):
            return self._publish(force=True)
        if isinstance(msg, MarginState):
            return self._publish(force=False) if core.on_margin(msg) else []
        if isinstance(msg, Liquidated):
            core.on_liquidated(msg)
            return [(LOG, Note(msg.ts, "liquidation", f"position liquidated ({msg.detail}): the asset halts"))] \
                + self._publish(force=True)
        if isinstance(msg, AllocationUpdate):
            core.apply_allocation(msg)
            return self._publish(force=True)
        if isinstance(msg, PortfolioGate):
            core.apply_gate(msg)
            return self._publish(force=True)
        return []

    def _publish(self, force: bool) -> Outbox:
        state = self.core.state(self.ts)
        self.state = state
        out = self._reports(state) if self.reports else []
        last = self._published
        if not should_publish(state, last, self._last_pub, force=force):
            return out
        if last is not None and state.halted != last.halted:
            out.append((LOG, Note(self.ts, "halt" if state.halted else "resume", state.halt_reason or "limits clear")))
        self._published, self._last_pub = state, self.ts
        out += [("quoter", state), ("order", state)]
        return out

    def _reports(self, state: RiskState) -> Outbox:
        """How the asset does, for the supervisors."""
        inv = state.position * state.mid
        net = state.net_pnl
        exp = self.exposure.observe(state.ts, inv, net, state.limit_usd)
        rep = self.perf.observe(state.ts, net, capital=state.capital, fills=state.fills_buy + state.fills_sell,
                                volume_usd=state.volume_usd, inventory_usd=inv, limit_usd=state.limit_usd)
        return [(SUPERVISOR, r) for r in (exp, rep) if r is not None]
