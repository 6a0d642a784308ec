"""One asset's team without actors: the live actors' role cores, routed by the backtester.

The book, quoter, risk and order roles (strategy/*_role.py) are the very objects the
live actors drive; here each message a role sends is ``post(asset, role, msg)``: the
backtester queues it behind everything sent before it and hands it back to ``handle``.
So messages meet in one first-in first-out order at each instant, the order the live
hive follows in lockstep (``venues.lockstep``), and a backtest and a lockstep run of
the same scenario make the same decisions by construction.

What leaves the desk for the venue is what the order actor gives the gateway:
``Command`` batches (``send(asset, command)``), each one wire message. Reports meant
for the meta-supervisor go to ``report`` (None: nobody listens, none are made).

Not modelled, because nothing of it changes a decision on the simulated venue: the
order actor's periodic fill sync (the engine loses no fill message), the start-up
reconciliation (a backtest starts flat with no order), the budget-driven refresh
tolerance (the simulated venue reports no budget share), the event log.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from config import Config
from messages.control import Tick
from messages.market import Trade
from strategy.book_role import BookRole
from strategy.order_role import Command, OrderRole
from strategy.order_tracker import OrderTracker
from strategy.outbox import LOG, VENUE, Outbox
from strategy.performance import PerformanceTracker
from strategy.quoter import QuoterCore
from strategy.quoter_role import QuoterRole
from strategy.risk import RiskCore
from strategy.risk_role import RiskRole
from supervisor.asset_money import META, AssetMoney

__all__ = ["Command", "Desk", "VenueEvents"]

Post = Callable[[str, str, Any], None]


class VenueEvents(NamedTuple):
    """One venue message to the order actor (a VenueBatch): answers or fills, in order."""

    events: tuple[Any, ...]


class Desk:
    def __init__(self, cfg: Config, asset: str, asset_index: int, capital: float, *, post: Post,
                 send: Callable[[str, Command], None], report: Callable[[Any], None] | None = None,
                 epoch: int = 1, ts: float = 0.0) -> None:
        a = cfg.assets[asset]
        al = cfg.allocation
        self.asset = asset
        self.post = post
        self.send = send
        self.book = BookRole(asset, a.market.sigma_bp, a.quoting)
        self.quoter = QuoterRole(QuoterCore(asset, a.quoting, a.market.sz_decimals), ts)
        self.risk_role = RiskRole(RiskCore(asset, a.risk, capital, ts=ts),
                                  PerformanceTracker(asset, al.sample_s, al.report_s, ts), ts,
                                  reports=report is not None)
        self.order = OrderRole.for_quoting(OrderTracker(asset, asset_index, epoch, a.market.sz_decimals,
                                                        a.quoting.refresh_tolerance_bp), ts, a.quoting, a.risk)
        self.money = AssetMoney()
        self._report = report
        self._handlers: dict[str, Callable[[Any], Outbox]] = {
            "book": self.book.handle, "quoter": self.quoter.handle, "risk": self.risk_role.handle,
            "order": self._order, "sup": self._sup}

    @property
    def risk(self) -> RiskCore:
        return self.risk_role.core

    @property
    def stalls(self) -> int:
        return self.quoter.stalls

    @property
    def sweeps(self) -> int:
        return self.quoter.core.sweeps

    @property
    def report(self) -> Callable[[Any], None] | None:
        return self._report

    @report.setter
    def report(self, report: Callable[[Any], None] | None) -> None:
        self._report = report
        self.risk_role.reports = report is not None

    def start(self) -> None:
        """The fresh quoter's RiskStateRequest: risk states its view once."""
        self._deliver(self.quoter.start())

    def handle(self, role: str, msg: Any) -> None:
        """A message posted to ``role`` reaches it."""
        self._deliver(self._handlers[role](msg))

    def on_trade(self, trade: Trade) -> None:
        """The backtester hands the book each trade as it prints; a print beyond the touch
        goes on to the quoter (its sweep guard)."""
        self._deliver(self.book.handle(trade))

    def _deliver(self, out: Outbox) -> None:
        for to, msg in out:
            if to == VENUE:
                self.send(self.asset, msg)
            elif to == META:
                if self._report is not None:
                    self._report(msg)
            elif to != LOG:
                self.post(self.asset, to, msg)

    def _order(self, msg: Any) -> Outbox:
        if not isinstance(msg, VenueEvents):
            return self.order.handle(msg)
        out: Outbox = []
        for ev in msg.events:
            out += self.order.handle(ev)
        return out

    def _sup(self, msg: Any) -> Outbox:
        """The asset supervisor: money through its core, ticks to the quoter's staleness
        check (the order actor's fill sync is not modelled)."""
        if isinstance(msg, Tick):
            return [("quoter", msg)]
        return self.money.handle(msg)
