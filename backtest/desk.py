"""One asset's team without actors: the same four cores, wired as the live actors wire them.

book snapshot → ``BookCore.on_book`` → ``QuoterCore.quote`` (with the last ``RiskState``)
→ ``OrderTracker.plan`` → (cancels, places) for the venue; venue answers → the tracker;
new fills → ``RiskCore`` → a fresh ``RiskState`` → the order side, then a requote.

Each handler below is the handler of the actor that owns the core (actors/book.py,
quoter.py, order.py, risk.py); a ``tell`` between actors becomes a direct call, made in
the order the actor sends its messages. The actors are not imported: the backtester
must run without pykka, threads or a clock. What leaves the desk is what the order
actor would send the gateway: ``Command`` batches, each one wire message.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from makerhive.config import Config
from messages.allocation import AllocationUpdate, PortfolioGate
from messages.market import BookSnapshot, MarketState, Trade
from messages.orders import Fill, NewOrder, OrderAck, OrderCancelled, OrderReject, QuoteLadder
from messages.risk import RiskState
from strategy.book import BookCore
from strategy.order_tracker import OrderTracker
from strategy.performance import ExposureThrottle, PerformanceTracker
from strategy.quoter import QuoterCore
from strategy.risk import RiskCore, should_publish

# The live actors' cadences (copied, not imported: actors/ needs pykka).
RISK_MARK_INTERVAL_S = 1.0  # actors/book.py: marks sent to risk at most this often


class Command(NamedTuple):
    """What the order actor sends in one go: cancels first, then placements."""

    cancels: tuple[str, ...]
    places: tuple[NewOrder, ...]


class Desk:
    def __init__(self, cfg: Config, asset: str, asset_index: int, capital: float, *,
                 epoch: int = 1, ts: float = 0.0) -> None:
        a = cfg.assets[asset]
        self.asset = asset
        self.book = BookCore(asset, initial_sigma_bp=a.market.sigma_bp)
        self.quoter = QuoterCore(asset, a.quoting, a.market.sz_decimals)
        self.tracker = OrderTracker(asset, asset_index, epoch, a.market.sz_decimals,
                                    a.quoting.refresh_tolerance_bp)
        self.risk = RiskCore(asset, a.risk, capital, ts=ts)
        al = cfg.allocation
        self.perf = PerformanceTracker(asset, al.sample_s, al.report_s, ts)
        self.exposure = ExposureThrottle(asset)
        # what the risk actor tells its supervisors; None: nobody listens (no allocation loop)
        self.reports: list[Any] | None = None
        self._stale_after = a.quoting.stale_book_s
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
        self._out: list[Command] = []
        self.ladders = 0
        self.stalls = 0

    # -- entry points: one per message arriving from outside the team ---------------------
    def start(self) -> list[Command]:
        """The fresh quoter's RiskStateRequest: risk states its view once."""
        self._risk_publish(force=True)
        return self._drain()

    def on_book(self, snap: BookSnapshot) -> list[Command]:
        """BookActor: a snapshot → MarketState to the quoter, and (throttled) to risk."""
        state = self.book.on_book(snap)
        if state is not None:
            self._quoter_market(state)
            if state.ts - self._risk_marked >= RISK_MARK_INTERVAL_S or state.regime != self._regime:
                self._risk_marked, self._regime = state.ts, state.regime
                self._risk_market(state)
        return self._drain()

    def on_trade(self, trade: Trade) -> None:
        self.book.on_trade(trade)

    def on_venue(self, events: tuple[Any, ...]) -> list[Command]:
        """OrderActor: one venue batch (acks, rejects, cancels, fills, funding), in order."""
        for ev in events:
            if isinstance(ev, Fill):
                if self.tracker.on_fill(ev):
                    self._risk_fill(ev)
            elif isinstance(ev, OrderAck):
                self.tracker.on_ack(ev)
            elif isinstance(ev, OrderCancelled):
                self.tracker.on_cancelled(ev)
            elif isinstance(ev, OrderReject):
                self.tracker.on_reject(ev)
            else:  # funding and whatever the venue learns to say later
                handler = getattr(self.risk, "on_" + type(ev).__name__.lower(), None)
                if handler is not None:
                    handler(ev)
        return self._drain()

    def apply(self, msg: AllocationUpdate | PortfolioGate) -> list[Command]:
        """RiskActor: the meta-supervisor's grant or the portfolio's gate, then a fresh state."""
        if isinstance(msg, AllocationUpdate):
            self.risk.apply_allocation(msg)
        else:
            self.risk.apply_gate(msg)
        self._risk_publish(force=True)
        return self._drain()

    def tick(self, now: float) -> list[Command]:
        """QuoterActor's timer: no book for ``stale_book_s`` pulls every quote."""
        m = self._market
        last = m.ts if m is not None else 0.0
        if not self._stale and now - last > self._stale_after:
            self._stale = True
            self.stalls += 1
            self._order_ladder(QuoteLadder(self.asset, now, -1, (), ()))
        return self._drain()

    # -- risk actor ---------------------------------------------------------------------------
    def _risk_market(self, state: MarketState) -> None:
        self._risk_ts = max(self._risk_ts, state.ts)
        self.risk.mark(state.mid, state.ts)
        self._risk_publish(force=False)

    def _risk_fill(self, fill: Fill) -> None:
        self._risk_ts = max(self._risk_ts, fill.ts)
        if self.risk.on_fill(fill):
            self._risk_publish(force=True)

    def _risk_publish(self, force: bool) -> None:
        state = self.risk.state(self._risk_ts)
        self._report(state)
        if not should_publish(state, self._published, self._last_pub, force=force):
            return
        self._published, self._last_pub = state, self._risk_ts
        # risk tells the quoter, then the order actor; the order actor has the new state
        # before the quoter's resulting ladder reaches it
        self._order_risk_state(state)
        self._quoter_risk_state(state)

    def _report(self, state: RiskState) -> None:
        if self.reports is None:
            return
        inv = state.position * state.mid
        exp = self.exposure.observe(state.ts, inv, state.net_pnl, state.limit_usd)
        if exp is not None:
            self.reports.append(exp)
        rep = self.perf.observe(state.ts, state.net_pnl, capital=state.capital,
                                fills=state.fills_buy + state.fills_sell, volume_usd=state.volume_usd,
                                inventory_usd=inv, limit_usd=state.limit_usd)
        if rep is not None:
            self.reports.append(rep)

    # -- quoter actor -------------------------------------------------------------------------
    def _quoter_market(self, state: MarketState) -> None:
        self._market = state
        self._quote(state.ts, from_book=True)

    def _quoter_risk_state(self, state: RiskState) -> None:
        self._quoter_risk = state
        self._quote(state.ts, from_book=False)

    def _quote(self, ts: float, from_book: bool) -> None:
        market, risk = self._market, self._quoter_risk
        if market is None or risk is None:
            return
        if self._stale:
            if not from_book:
                return  # stay out until a fresh book arrives
            self._stale = False
        self.ladders += 1
        self._order_ladder(self.quoter.quote(market, risk, max(ts, market.ts)))

    # -- order actor --------------------------------------------------------------------------
    def _order_risk_state(self, state: RiskState) -> None:
        self._order_risk = state
        if state.halted:
            self._send_cancel(self.tracker.cancel_everything())

    def _order_ladder(self, ladder: QuoteLadder) -> None:
        risk = self._order_risk
        if risk is None:
            return
        if risk.halted:
            self._send_cancel(self.tracker.cancel_everything())
            return
        mid = risk.mid or (ladder.reservation or 0.0)
        if mid <= 0:
            return
        cancels, places = self.tracker.plan(ladder, mid, risk.limit_usd)
        if cancels or places:
            self._out.append(Command(tuple(cancels), tuple(places)))

    def _send_cancel(self, cloids: list[str]) -> None:
        if cloids:
            self._out.append(Command(tuple(cloids), ()))

    def _drain(self) -> list[Command]:
        out = self._out
        if out:
            self._out = []
        return out
