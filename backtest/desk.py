"""One asset's team without actors: the same four cores, messaging as the live actors do.

Each ``_book``/``_quoter``/``_risk``/``_order``/``_sup`` handler below is the handler of
the actor that owns the core (actors/book.py, quoter.py, risk.py, order.py and the
asset supervisor's relaying in supervisor/asset.py), and every ``tell`` between them
is ``post(asset, role, msg)``: the backtester queues it behind everything sent before
it and hands it back to ``handle``. So messages meet in one first-in first-out order
at each instant, the order the live hive follows in lockstep (``venues.lockstep``),
and a backtest and a lockstep run of the same scenario make the same decisions.

The actors are not imported: the backtester runs without pykka, threads or a clock.
What leaves the desk for the venue is what the order actor would give the gateway:
``Command`` batches (``send(asset, command)``), each one wire message. Reports meant
for the meta-supervisor go to ``report`` (None: nobody listens, none are made).

Not modelled, because nothing of it changes a decision on the simulated venue: the
order actor's periodic fill sync (the engine loses no fill message), the start-up
reconciliation (a backtest starts flat with no order), the budget-driven refresh
tolerance (the simulated venue reports no budget share).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from makerhive.config import Config
from messages.allocation import AllocationUpdate, ExposureReport, PerformanceReport, PortfolioGate
from messages.control import Tick
from messages.market import BookSnapshot, MarketState, Trade
from messages.orders import (Fill, Funding, NewOrder, OrderAck, OrderCancelled, OrderReject, QuoteFeedback,
                             QuoteLadder)
from messages.risk import RiskState, RiskStateRequest
from strategy.book import BookCore, tape_models_needed
from strategy.feedback import feedback, wants_feedback
from strategy.order_tracker import OrderTracker
from strategy.performance import ExposureThrottle, PerformanceTracker
from strategy.quoter import QuoterCore
from strategy.risk import RiskCore, should_publish

# The live actors' cadences (copied, not imported: actors/ needs pykka).
RISK_MARK_INTERVAL_S = 1.0  # actors/book.py: marks sent to risk at most this often

Post = Callable[[str, str, Any], None]


class Command(NamedTuple):
    """What the order actor sends in one go: cancels first, then placements."""

    cancels: tuple[str, ...]
    places: tuple[NewOrder, ...]


class VenueEvents(NamedTuple):
    """One venue message to the order actor (a VenueBatch): answers or fills, in order."""

    events: tuple[Any, ...]


class Desk:
    def __init__(self, cfg: Config, asset: str, asset_index: int, capital: float, *, post: Post,
                 send: Callable[[str, Command], None], report: Callable[[Any], None] | None = None,
                 epoch: int = 1, ts: float = 0.0) -> None:
        a = cfg.assets[asset]
        self.asset = asset
        self.post = post
        self.send = send
        self.report = report
        self.book = BookCore(asset, initial_sigma_bp=a.market.sigma_bp, calib_window_s=a.quoting.glft.window_s,
                             calib_refit_s=a.quoting.glft.refit_s, tape_models=tape_models_needed(a.quoting))
        self.quoter = QuoterCore(asset, a.quoting, a.market.sz_decimals)
        self.tracker = OrderTracker(asset, asset_index, epoch, a.market.sz_decimals,
                                    a.quoting.refresh_tolerance_bp)
        self.risk = RiskCore(asset, a.risk, capital, ts=ts)
        al = cfg.allocation
        self.perf = PerformanceTracker(asset, al.sample_s, al.report_s, ts)
        self.exposure = ExposureThrottle(asset)
        self._stale_after = a.quoting.stale_book_s
        self._feedback = wants_feedback(a.quoting)
        self.tracker.configure(a.quoting)
        self._start_ts = ts
        # what each actor remembers between messages
        self._risk_marked = -1e18  # book actor
        self._regime = ""
        self._risk_ts = ts  # risk actor
        self._published: RiskState | None = None
        self._last_pub = -1e18
        self._market: MarketState | None = None  # quoter actor
        self._quoter_risk: RiskState | None = None
        self._stale = False
        self._order_risk: RiskState | None = None  # order actor
        self.ladders = 0
        self.stalls = 0
        self._handlers = {"book": self._book, "quoter": self._quoter, "risk": self._risk, "order": self._order,
                          "sup": self._sup}

    def start(self) -> None:
        """The fresh quoter's RiskStateRequest: risk states its view once."""
        self.post(self.asset, "risk", RiskStateRequest(self.asset))

    def handle(self, role: str, msg: Any) -> None:
        """A message posted to ``role`` reaches it."""
        self._handlers[role](msg)

    def on_trade(self, trade: Trade) -> None:
        """The book actor's Trade handler: it only updates the core and tells nobody, so
        the backtester calls it directly when the trade prints."""
        self.book.on_trade(trade)

    # -- book actor -----------------------------------------------------------------------------
    def _book(self, snap: BookSnapshot) -> None:
        state = self.book.on_book(snap)
        if state is not None:
            self.post(self.asset, "quoter", state)
            if state.ts - self._risk_marked >= RISK_MARK_INTERVAL_S or state.regime != self._regime:
                self._risk_marked, self._regime = state.ts, state.regime
                self.post(self.asset, "risk", state)

    # -- quoter actor ---------------------------------------------------------------------------
    def _quoter(self, msg: Any) -> None:
        if isinstance(msg, MarketState):
            self._market = msg
            self._quote(msg.ts, from_book=True)
        elif isinstance(msg, RiskState):
            self._quoter_risk = msg
            self._quote(msg.ts, from_book=False)
        elif isinstance(msg, QuoteFeedback):
            self.quoter.on_feedback(msg)
        elif isinstance(msg, Tick):
            m = self._market
            last = m.ts if m is not None else self._start_ts
            if not self._stale and msg.now - last > self._stale_after:
                self._stale = True  # no book for stale_book_s: pull every quote
                self.stalls += 1
                self.post(self.asset, "order", QuoteLadder(self.asset, msg.now, -1, (), ()))

    def _quote(self, ts: float, from_book: bool) -> None:
        market, risk = self._market, self._quoter_risk
        if market is None or risk is None:
            return
        if self._stale:
            if not from_book:
                return  # stay out until a fresh book arrives
            self._stale = False
        self.ladders += 1
        self.post(self.asset, "order", self.quoter.quote(market, risk, max(ts, market.ts)))

    # -- risk actor -----------------------------------------------------------------------------
    def _risk(self, msg: Any) -> None:
        core = self.risk
        if isinstance(msg, MarketState):
            self._risk_ts = max(self._risk_ts, msg.ts)
            core.mark(msg.mid, msg.ts)
            self._publish(force=False)
        elif isinstance(msg, Fill):
            self._risk_ts = max(self._risk_ts, msg.ts)
            if core.on_fill(msg):
                self._publish(force=True)
        elif isinstance(msg, Funding):
            if core.on_funding(msg):
                self._publish(force=True)
        elif isinstance(msg, RiskStateRequest):
            self._publish(force=True)
        elif isinstance(msg, AllocationUpdate):
            core.apply_allocation(msg)
            self._publish(force=True)
        elif isinstance(msg, PortfolioGate):
            core.apply_gate(msg)
            self._publish(force=True)

    def _publish(self, force: bool) -> None:
        state = self.risk.state(self._risk_ts)
        if self.report is not None:
            self._tell_supervisors(state)
        if not should_publish(state, self._published, self._last_pub, force=force):
            return
        self._published, self._last_pub = state, self._risk_ts
        self.post(self.asset, "quoter", state)
        self.post(self.asset, "order", state)

    def _tell_supervisors(self, state: RiskState) -> None:
        inv = state.position * state.mid
        exp = self.exposure.observe(state.ts, inv, state.net_pnl, state.limit_usd)
        rep = self.perf.observe(state.ts, state.net_pnl, capital=state.capital,
                                fills=state.fills_buy + state.fills_sell, volume_usd=state.volume_usd,
                                inventory_usd=inv, limit_usd=state.limit_usd)
        if exp is not None:
            self.post(self.asset, "sup", exp)
        if rep is not None:
            self.post(self.asset, "sup", rep)

    # -- the asset supervisor's relaying ----------------------------------------------------------
    def _sup(self, msg: Any) -> None:
        if isinstance(msg, (AllocationUpdate, PortfolioGate)):
            self.post(self.asset, "risk", msg)
        elif isinstance(msg, (ExposureReport, PerformanceReport)):
            if self.report is not None:
                self.report(msg)
        elif isinstance(msg, Tick):  # staleness checks (the order actor's fill sync is not modelled)
            self.post(self.asset, "quoter", msg)

    # -- order actor ----------------------------------------------------------------------------
    def _order(self, msg: Any) -> None:
        if isinstance(msg, VenueEvents):
            for ev in msg.events:
                self._on_venue(ev)
        elif isinstance(msg, QuoteLadder):
            self._on_ladder(msg)
        elif isinstance(msg, RiskState):
            self._order_risk = msg
            if msg.halted:
                self._send_cancel(self.tracker.cancel_everything())

    def _on_venue(self, ev: Any) -> None:
        fb = feedback(ev, self.tracker.live.get(getattr(ev, "cloid", ""))) if self._feedback else None
        if fb is not None:  # the quoter's news (strategy/feedback.py); a repeated fill is none
            if not isinstance(ev, Fill) or ev.tid not in self.tracker.seen_tids:
                self.post(self.asset, "quoter", fb)
        if isinstance(ev, Fill):
            if self.tracker.on_fill(ev):
                self.post(self.asset, "risk", ev)
        elif isinstance(ev, OrderAck):
            self.tracker.on_ack(ev)
        elif isinstance(ev, OrderCancelled):
            self.tracker.on_cancelled(ev)
        elif isinstance(ev, OrderReject):
            self.tracker.on_reject(ev)
        elif isinstance(ev, Funding):
            self.post(self.asset, "risk", ev)

    def _on_ladder(self, ladder: QuoteLadder) -> None:
        risk = self._order_risk
        if risk is None:
            return
        if risk.halted or not (ladder.bids or ladder.asks):  # pull everything
            self._send_cancel(self.tracker.cancel_everything())
            return
        mid = risk.mid or ladder.reservation or _ladder_mid(ladder)
        if mid <= 0:
            return
        cancels, places = self.tracker.plan(ladder, mid, risk.limit_usd)
        if cancels or places:
            self.send(self.asset, Command(tuple(cancels), tuple(places)))

    def _send_cancel(self, cloids: list[str]) -> None:
        if cloids:
            self.send(self.asset, Command(tuple(cloids), ()))


def _ladder_mid(ladder: QuoteLadder) -> float:
    """A mid from the ladder itself, when risk has not marked one yet (as actors/order.py)."""
    if ladder.bids and ladder.asks:
        return (ladder.bids[0].px + ladder.asks[0].px) / 2
    best = ladder.bids or ladder.asks
    return best[0].px if best else 0.0
