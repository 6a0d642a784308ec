"""QuoterActor: MarketState + RiskState -> the QuoteLadder the order actor should rest.

It quotes only once it has heard from risk: on a (re)start risk speaks after the order
actor has reconciled with the venue, so restart => reconcile => quote holds.
"""
from __future__ import annotations

import re
from typing import Any

import msgspec

from actors.asset_actor import AssetActor
from actors.context import AssetContext
from messages.control import MarketStateRequest, Tick
from messages.market import MarketState
from messages.orders import QuoteFeedback, QuoteLadder
from messages.risk import RiskState, RiskStateRequest
from strategy.quoter import QuoterCore


class QuoterActor(AssetActor):
    def __init__(self, ctx: AssetContext, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        self.core = QuoterCore(ctx.asset, ctx.acfg.quoting, ctx.acfg.market.sz_decimals)
        self.market: MarketState | None = None
        self.risk: RiskState | None = None
        self.quoting = False
        self.stale = False
        self._topic = ""  # the last ladder note without its numbers

    def init(self) -> None:
        self.ctx.team.set("quoter", self.actor_ref)
        self.send("risk", RiskStateRequest(self.ctx.asset))
        self.send("book", MarketStateRequest(self.ctx.asset))  # quote without waiting a push

    def handle(self, msg: Any) -> None:
        if isinstance(msg, MarketState):
            self.market = msg
            self._quote(msg.ts, from_book=True)
        elif isinstance(msg, RiskState):
            self.risk = msg
            self._quote(msg.ts, from_book=False)
        elif isinstance(msg, QuoteFeedback):
            self.core.on_feedback(msg)
        elif isinstance(msg, Tick):
            self._check_stale(msg.now)
        else:
            super().handle(msg)

    def _check_stale(self, now: float) -> None:
        """No book for a few pushes (feed stalled or dropped): pull every quote. Quoting
        on an old book is how a market maker gets picked off."""
        last = self.market.ts if self.market is not None else self.ctx.start_ts()
        if not self.stale and now - last > self.core.params.stale_book_s:
            self.stale = True
            self.send("order", QuoteLadder(self.ctx.asset, now, -1, (), ()))
            self.board.set_phase(self.ctx.asset, "stalled")
            self.event(now, "stall", f"no book for {now - last:.1f}s: all quotes pulled")

    def _note_event(self, ts: float, note: str) -> None:
        """A guard, breaker or missing edge that starts (or ends) is an event; its numbers
        changing is not."""
        topic = re.sub(r"[-+0-9.%]+", "", note)
        if topic != self._topic:
            self._topic = topic
            self.event(ts, "guard", note[:110] if note else "quoting freely again")

    def _quote(self, ts: float, from_book: bool) -> None:
        if self.market is None or self.risk is None:
            return
        if self.stale:
            if not from_book:
                return  # stay out until a fresh book arrives
            self.stale = False
            self.event(ts, "resume", "book feed back: quoting again")
            self.quoting = False
        ladder = self.core.quote(self.market, self.risk, max(ts, self.market.ts))
        if not from_book and ladder.recv_ns:
            # tick-to-action is measured from book updates only, not from risk news
            ladder = msgspec.structs.replace(ladder, recv_ns=0)
        self.send("order", ladder)
        self._note_event(ts, ladder.note)
        if not self.quoting:
            self.quoting = True
            self.board.set_phase(self.ctx.asset, "quoting")
