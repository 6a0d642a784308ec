"""BookActor: keeps the L2 book and trade tape, publishes MarketState.

Book snapshots are conflated: the venue runtime drops the newest one into a latest-wins
slot and wakes us once; we always work on the newest book, never a backlog.
"""
from __future__ import annotations

import time
from typing import Any

import msgspec

from actors.asset_actor import AssetActor
from actors.context import AssetContext
from messages.control import MarketStateRequest
from messages.market import BookReady, Trade
from strategy.book import BookCore, tape_models_needed
from venues.gateway import BOOK_READY

RISK_MARK_INTERVAL_S = 1.0  # runtime-clock seconds between marks sent to the risk actor


class BookActor(AssetActor):
    def __init__(self, ctx: AssetContext, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        q = ctx.acfg.quoting
        self.core = BookCore(ctx.asset, initial_sigma_bp=ctx.acfg.market.sigma_bp, calib_window_s=q.glft.window_s,
                             calib_refit_s=q.glft.refit_s, tape_models=tape_models_needed(q))
        self.slot = ctx.gateway.book_slots[ctx.asset]
        self._risk_marked = -1e18
        self._regime = ""

    def init(self) -> None:
        self.ctx.team.set("book", self.actor_ref)
        self.actor_ref.tell(BOOK_READY)  # a book may already wait in the slot

    def handle(self, msg: Any) -> None:
        if isinstance(msg, BookReady):
            snap = self.slot.take()
            if snap is None:
                return
            snap = msgspec.structs.replace(snap, recv_ns=time.perf_counter_ns())
            state = self.core.on_book(snap)
            if state is not None:
                self.board.market[self.ctx.asset] = state
                self.send("quoter", state)
                # Risk needs marks for PnL and utilisation, not every book: sparing it a
                # wake-up per update keeps the quoting path short.
                if state.ts - self._risk_marked >= RISK_MARK_INTERVAL_S or state.regime != self._regime:
                    self._risk_marked, self._regime = state.ts, state.regime
                    self.send("risk", state)
        elif isinstance(msg, Trade):
            self.core.on_trade(msg)
        elif isinstance(msg, MarketStateRequest):
            if self.core.last is not None:
                self.send("quoter", self.core.last)
        else:
            super().handle(msg)
