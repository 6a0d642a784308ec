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
from strategy.book_role import BookRole
from venues.gateway import BOOK_READY


class BookActor(AssetActor):
    def __init__(self, ctx: AssetContext, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        self.role = BookRole(ctx.asset, ctx.acfg.market.sigma_bp, ctx.acfg.quoting)
        self.core = self.role.core
        self.slot = ctx.gateway.book_slots[ctx.asset]

    def init(self) -> None:
        self.ctx.team.set("book", self.actor_ref)
        self.actor_ref.tell(BOOK_READY)  # a book may already wait in the slot

    def handle(self, msg: Any) -> None:
        if isinstance(msg, BookReady):
            snap = self.slot.take()
            if snap is None:
                return
            snap = msgspec.structs.replace(snap, recv_ns=time.perf_counter_ns())
            out = self.role.handle(snap)
            if out:
                self.board.market[self.ctx.asset] = self.core.last
            self.deliver(out)
        elif isinstance(msg, (Trade, MarketStateRequest)):
            self.deliver(self.role.handle(msg))
        else:
            super().handle(msg)
