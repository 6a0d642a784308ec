"""The order actor's logic: ladders and venue answers in, order commands out.

It owns the asset's live orders, position and fill dedupe (``OrderTracker``): a ladder
becomes the cancels and placements that turn the resting orders into it, a halt pulls
everything, and a new fill is counted once and passed on to risk with the position after
it (``OwnFills``). What goes to the venue is a ``Command`` (cancels first, then
placements: one wire message).
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple

from config import RiskConfig
from messages.orders import Fill, Funding, NewOrder, OrderAck, OrderCancelled, OrderReject, QuoteLadder
from messages.risk import Liquidated, MarginState, OwnFills, RiskState
from messages.validity import bad_fill
from strategy.budget_policy import refresh_tolerance_bp
from strategy.feedback import feedback, wants_feedback
from strategy.order_tracker import OrderTracker
from strategy.outbox import LOG, VENUE, Note, Outbox


class Command(NamedTuple):
    """What the order actor sends in one go: cancels first, then placements."""

    cancels: tuple[str, ...]
    places: tuple[NewOrder, ...]
    recv_ns: int = 0  # when the book that led to it arrived (tick-to-action), 0: unknown


class OrderRole:
    def __init__(self, tracker: OrderTracker, ts: float, *, feedback: bool = False,
                 risk_params: RiskConfig | None = None) -> None:
        """``feedback``: the quoter reads venue news (fills, post-only rejects, errors:
        strategy/feedback.py), so pass it on. ``risk_params``: the emergency unwind's
        slippage and cooldown (``[risk]``)."""
        self.tracker = tracker
        self.feedback = feedback
        self.risk_params = risk_params if risk_params is not None else RiskConfig()
        self.base_tolerance_bp = tracker.tolerance_bp
        self.risk: RiskState | None = None
        self.ts = ts
        self.mid = 0.0  # the last mid a ladder was planned at (risk's, else the ladder's own)

    @classmethod
    def for_quoting(cls, tracker: OrderTracker, ts: float, quoting: Any,
                    risk: RiskConfig | None = None) -> "OrderRole":
        """The role as the asset's quoting config wants it: the tracker's queue keeping,
        post-only safety and budget governor set, venue news passed on if read; ``risk``:
        the asset's ``[risk]`` (the emergency unwind)."""
        tracker.configure(quoting)
        return cls(tracker, ts, feedback=wants_feedback(quoting), risk_params=risk)

    def handle(self, msg: Any, budget_share_left: float = 1.0) -> Outbox:
        """``budget_share_left``: the venue's action budget left (0..1); a low one
        widens the refresh tolerance: fewer requotes, same cancels."""
        if isinstance(msg, QuoteLadder):
            self.ts = max(self.ts, msg.ts)
            return self._on_ladder(msg, budget_share_left)
        if isinstance(msg, RiskState):
            self.risk = msg
            if msg.halted:
                return self._cancel(self.tracker.cancel_everything())
            return self._take_back(msg, ())
        return self._on_venue(msg)

    def _on_venue(self, msg: Any) -> Outbox:
        if isinstance(msg, Fill) and bad_fill(msg):
            self.tracker.on_fill(msg)  # counted and dropped: neither risk nor the quoter hear of it
            return []
        news: Outbox = []
        if self.feedback:
            fb = feedback(msg, self.tracker.live.get(getattr(msg, "cloid", "")))
            if fb is not None and not (isinstance(msg, Fill) and self.tracker.seen(msg)):
                news = [("quoter", fb)]
        if isinstance(msg, Fill):
            self.ts = max(self.ts, msg.ts)
            if not self.tracker.on_fill(msg):
                return news
            return news + [("risk", OwnFills(msg.asset, msg.ts, (msg,), self.tracker.position))]
        if isinstance(msg, OrderAck):
            self.tracker.on_ack(msg)
        elif isinstance(msg, OrderCancelled):
            self.tracker.on_cancelled(msg)
        elif isinstance(msg, OrderReject):
            self.tracker.on_reject(msg)
        elif isinstance(msg, (Funding, MarginState, Liquidated)):  # the account's news is risk's
            return news + [("risk", msg)]
        return news

    def history(self, fills: Iterable[Fill]) -> Outbox:
        """Fills from the venue's history (a fill sync, a resync, the fills of a stop):
        the new ones, with the position after them, to risk."""
        new = tuple(f for f in fills if self.tracker.on_fill(f))
        if not new:
            return []
        return [("risk", OwnFills(self.tracker.asset, self.ts, new, self.tracker.position, live=False))]

    def _on_ladder(self, ladder: QuoteLadder, budget_share_left: float) -> Outbox:
        risk = self.risk
        if risk is None:
            return []
        if risk.halted:  # pull everything: no mid needed
            return self._cancel(self.tracker.cancel_everything())
        if not (ladder.bids or ladder.asks):
            return self._take_back(risk, self.tracker.cancel_everything())
        mid = risk.mid or ladder.reservation or ladder_mid(ladder)
        if mid <= 0:
            return []
        self.mid = mid
        self.tracker.tolerance_bp = refresh_tolerance_bp(self.base_tolerance_bp, budget_share_left)
        cancels, places = self.tracker.plan(ladder, mid, risk.limit_usd, risk.reduce_only)
        return self._take_back(risk, cancels, places, ladder.recv_ns)

    def _take_back(self, risk: RiskState, cancels: Iterable[str], places: Iterable[NewOrder] = (),
                   recv_ns: int = 0) -> Outbox:
        """The command with the emergency unwind's IOC added when risk says the position is
        past its emergency level (strategy/unwind.py); without one, just the cancels and
        placements given (or nothing)."""
        ioc = None
        mid = risk.mid or self.mid  # risk's mark, or before risk has one (a hive just started) the ladder's
        if risk.emergency_usd > 0 and not risk.halted:
            rp = self.risk_params
            ioc = self.tracker.take_back(mid, risk.limit_usd, risk.emergency_usd,
                                         rp.emergency_slippage_bp, max(self.ts, risk.ts), rp.emergency_cooldown_s)
        cancels, places = tuple(cancels), tuple(places)
        if self.tracker.ioc_inflight and places:
            places = self.tracker.hold_back_reducing(places)
        out: Outbox = []
        if ioc is not None:
            places = (ioc,) + places  # the IOC first: it must not wait behind new quotes
            out.append((LOG, Note(self.tracker.last_ioc_ts, "unwind",
                                  f"position ${abs(self.tracker.held) * mid:,.0f} past its ${risk.limit_usd:,.0f} "
                                  f"limit: reduce-only IOC {'sell' if ioc.side == 'A' else 'buy'} {ioc.sz:g} "
                                  f"at {ioc.px:g} at worst")))
        if not (cancels or places):
            return out
        return [(VENUE, Command(cancels, places, recv_ns)), *out]

    def _cancel(self, cloids: list[str]) -> Outbox:
        return [(VENUE, Command(tuple(cloids), ()))] if cloids else []


def ladder_mid(ladder: QuoteLadder) -> float:
    """A mid from the ladder itself, when risk has not marked one yet."""
    if ladder.bids and ladder.asks:
        return (ladder.bids[0].px + ladder.asks[0].px) / 2
    best = ladder.bids or ladder.asks
    return best[0].px if best else 0.0
