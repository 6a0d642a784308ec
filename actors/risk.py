"""RiskActor: owns inventory and PnL, applies limits and the daily loss stop.

Fills arrive from the order actor, which owns the position and fill dedupe: each new
fill once, with the position after it (``OwnFills``). On start the actor rebuilds its
books from the fill history of the order actor's start-up snapshot (a risk restart
restarts the order actor too), so a restarted risk actor knows exactly what its
predecessor knew. The logic lives in ``strategy.risk_role``.

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
from messages.orders import Funding
from messages.risk import OwnFills
from strategy.performance import PerformanceTracker
from strategy.risk import RiskCore
from strategy.risk_role import MESSAGES, RiskRole


class RiskActor(AssetActor):
    def __init__(self, ctx: AssetContext, *, capital: float, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        ts = ctx.start_ts()
        a = ctx.cfg.allocation
        self.role = RiskRole(RiskCore(ctx.asset, ctx.acfg.risk, capital, ts=ts),
                             PerformanceTracker(ctx.asset, a.sample_s, a.report_s, ts), ts)
        self.core = self.role.core
        # the board shows this actor's books only once they hold the venue's history (the
        # order actor's start-up fills): an actor that fails before that knows nothing, and
        # must not replace what its predecessor showed (the summary and the view read it)
        self._has_history = False

    def init(self) -> None:
        # the fill history comes from the order actor's start-up snapshot (read once): it
        # starts after us, and before the quoter, so no quote precedes it
        self.ctx.team.set("risk", self.actor_ref)

    def handle(self, msg: Any) -> None:
        if not isinstance(msg, MESSAGES):
            super().handle(msg)
            return
        out = self.role.handle(msg)
        self._record(msg)
        if isinstance(msg, OwnFills) and msg.start:
            self._has_history = True
        if self.role.state is not None and self._has_history:
            self.board.risk[self.ctx.asset] = self.role.state
        self.deliver(out)

    def _record(self, msg: Any) -> None:
        """Fills to the view and the journal (each keeps a trade id once), with the fair
        price now; funding to the journal."""
        j = self.ctx.journal
        fills = msg.fills if isinstance(msg, OwnFills) else ()
        if fills:
            fair = self.core.mid or None
            for f in fills:
                self.board.record_fill(f)
                if j is not None:
                    j.fill(f, fair, "taker" if f.crossed else "maker")
        elif isinstance(msg, Funding) and j is not None:
            j.funding(msg.asset, msg.ts, msg.rate, msg.position, msg.usd)

    def cleanup(self, reason: str) -> None:
        if self._has_history:
            self.board.risk[self.ctx.asset] = self.core.state(self.role.ts)
