"""QuoterActor: MarketState + RiskState -> the QuoteLadder the order actor should rest.

It quotes only once it has heard from risk: on a (re)start risk speaks after the order
actor has reconciled with the venue, so restart => reconcile => quote holds.
"""
from __future__ import annotations

from typing import Any

from actors.asset_actor import AssetActor
from actors.context import AssetContext
from messages.control import MarketStateRequest, Tick
from messages.market import MarketState, Sweep
from messages.orders import QuoteFeedback
from messages.params import SetQuotingParams
from messages.risk import RiskState
from strategy.outbox import LOG
from strategy.quoter import QuoterCore
from strategy.quoter_role import QuoterRole


class QuoterActor(AssetActor):
    def __init__(self, ctx: AssetContext, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        self.role = QuoterRole(QuoterCore(ctx.asset, ctx.acfg.quoting, ctx.acfg.market.sz_decimals),
                               ctx.start_ts())
        self.core = self.role.core
        self.quoting = False

    def init(self) -> None:
        self.ctx.team.set("quoter", self.actor_ref)
        self.deliver(self.role.start())
        self.send("book", MarketStateRequest(self.ctx.asset))  # quote without waiting a push

    def handle(self, msg: Any) -> None:
        if not isinstance(msg, (MarketState, Sweep, RiskState, Tick, QuoteFeedback, SetQuotingParams)):
            super().handle(msg)
            return
        swept = self.core.sweeps
        out = self.role.handle(msg)
        self.deliver(out)
        if self.core.sweeps != swept:  # counted on the board across restarts of this quoter
            self.board.sweeps[self.ctx.asset] = self.board.sweeps.get(self.ctx.asset, 0) + self.core.sweeps - swept
        for to, m in out:  # the status board's phase follows what was sent
            if to == LOG and m.kind in ("stall", "resume"):
                self.quoting = False
                if m.kind == "stall" and not self._being_replaced():
                    self.board.set_phase(self.ctx.asset, "stalled")
            elif to == "order":
                # the guards in force follow every ladder (the log hears of them once settled)
                self.board.set_guard(self.ctx.asset, m.note)
                if not self.quoting and not self.role.stale and not self._being_replaced():
                    self.quoting = True
                    self.board.set_phase(self.ctx.asset, "quoting")

    def _being_replaced(self) -> bool:
        """The supervisor is restarting the team (it cancels first, which can take seconds
        while the venue is slow): this quoter is on its way out and its ladders are fenced,
        so "restarting" stands until the new order actor reconciles and a new quoter quotes."""
        return self.board.phase.get(self.ctx.asset) == "restarting"
