"""The status board: the latest published state of every asset, plus the event log.

Actors write immutable structs into it (one dict assignment, atomic under the GIL);
the view and the summary read consistent copies. Nothing here makes a trading decision:
it is observability, so control flow never depends on it.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable, Iterable, NamedTuple

import msgspec

from messages.control import AssetPhase, Event, EventKind
from messages.market import MarketState
from messages.risk import RiskState
from messages.snapshot import AllocationRow, AssetRow, FillRow, PortfolioRow, ViewSnapshot

log = logging.getLogger("makerhive.events")


# Events kept in memory (at most twice this many; every one goes to the events file as it
# happens). A quiet hive makes ~1,400 an hour at ~300 bytes each: at 20,000 the record took
# more than a day to fill and a 12-hour soak's RSS rose 6 MB with it; at 2,000 it is full
# within about three hours, at ~1-2 MB. What reads older events (the chaos harness) asks for more.
KEEP_RECORD = 2_000


class Recovery(NamedTuple):
    """One recovery, in perf-counter ns: failure, cancel-all sent, quoting again."""

    asset: str
    fail_ns: int
    cancel_sent_ns: int
    quoting_ns: int

    @property
    def cancel_ms(self) -> float:
        return (self.cancel_sent_ns - self.fail_ns) / 1e6 if self.cancel_sent_ns else float("nan")

    @property
    def requote_ms(self) -> float:
        return (self.quoting_ns - self.fail_ns) / 1e6


class StatusBoard:
    def __init__(self, assets: Iterable[str], *, venue: str = "sim", speed: float = 1.0,
                 capital: float = 0.0, keep_events: int = 200, keep_record: int = KEEP_RECORD) -> None:
        self.assets = tuple(assets)
        self.venue = venue
        self.speed = speed
        self.capital = capital
        self.phase: dict[str, AssetPhase] = {a: "starting" for a in self.assets}
        self.market: dict[str, MarketState] = {}
        self.risk: dict[str, RiskState] = {}
        self.quotes: dict[str, tuple[float, float, int]] = {}  # our bid, our ask, open orders
        self.restarts: dict[str, int] = {a: 0 for a in self.assets}
        self.allocation: dict[str, float] = {}
        self.counters: collections.Counter[str] = collections.Counter()
        self._recent: collections.deque[Event] = collections.deque(maxlen=keep_events)
        # the run's record: the latest events here (at most 2 x keep_record), every one to
        # ``event_sink`` (the events file)
        self.keep_record = keep_record
        self.events: list[Event] = []
        self.event_sink: Callable[[Event], None] | None = None
        self._lock = threading.Lock()
        self.stopping = False
        self._recovering: dict[str, tuple[int, int]] = {}
        self.venue_status: dict[str, float | int | str] = {}  # written by a live venue
        self.recoveries: list[Recovery] = []  # the latest, like events
        self.allocation_rows: tuple[AllocationRow, ...] = ()  # written by the meta-supervisor
        self.portfolio_row: PortfolioRow | None = None
        self.journal = None  # makerhive.journal.Journal: every event and allocation change, as they happen
        self._journaled_money: dict[str, tuple] = {}
        self.alerts = None  # makerhive.alerts.Alerter: the events worth a webhook message
        self.journal_path = ""
        self.quote_sizes: dict[str, tuple[float, float]] = {}  # our best bid's and ask's sizes
        self.guards: dict[str, str] = {}  # the quoter's latest guard note per asset ("" = none)
        self.sweeps: dict[str, int] = {}  # prints that pulled a side of ours, per asset (the sweep guard)
        self._fills: collections.deque[FillRow] = collections.deque(maxlen=200)
        self._fill_ts: dict[str, collections.deque[float]] = {a: collections.deque(maxlen=1000) for a in self.assets}
        self._seen_tids: collections.OrderedDict[tuple[str, int], None] = collections.OrderedDict()
        self._markouts: dict[str, collections.deque[float]] = {a: collections.deque(maxlen=50) for a in self.assets}

    def set_phase(self, asset: str, phase: AssetPhase) -> None:
        self.phase[asset] = phase
        if phase == "quoting":
            pending = self._recovering.pop(asset, None)
            if pending is not None:
                fail_ns, cancel_ns = pending
                self.recoveries.append(Recovery(asset, fail_ns, cancel_ns, time.perf_counter_ns()))
                self._trim(self.recoveries)

    def _trim(self, record: list) -> None:
        """Forget the oldest half once a record doubles its keep (amortised O(1) per item)."""
        if len(record) > 2 * self.keep_record:
            del record[:len(record) - self.keep_record]

    # -- recovery timing: failure -> cancel-all sent -> quoting again -----------------------
    def recovery_started(self, asset: str, fail_ns: int) -> None:
        self._recovering[asset] = (fail_ns or time.perf_counter_ns(), 0)

    def recovery_cancel_sent(self, asset: str, sent_ns: int) -> None:
        fail_ns, cancel_ns = self._recovering.get(asset, (0, 0))
        if fail_ns and not cancel_ns:
            self._recovering[asset] = (fail_ns, sent_ns)

    def set_guard(self, asset: str, note: str) -> None:
        """The quoter's guard in force now: its ladder's note ("" = none), as its event would say it."""
        self.guards[asset] = note[:110]

    def event(self, ts: float, kind: EventKind, asset: str, text: str) -> None:
        ev = Event(ts=ts, kind=kind, asset=asset, text=text)
        with self._lock:
            self._recent.append(ev)
            self.events.append(ev)
            self._trim(self.events)
            self.counters[kind] += 1
            if self.event_sink is not None:
                self.event_sink(ev)
        log.info("%8.2f %-10s %-5s %s", ts, kind, asset, text)
        if self.journal is not None:
            self.journal.event(ts, kind, asset, text)
        if self.alerts is not None:
            self.alerts.event(ts, kind, asset, text)

    def record_fill(self, fill) -> None:
        """A fill for the view (each trade id once: a resync hands them over again)."""
        key = (fill.asset, fill.tid)
        with self._lock:
            if key in self._seen_tids:
                return
            self._seen_tids[key] = None
            if len(self._seen_tids) > 5000:
                self._seen_tids.popitem(last=False)
            self._fills.append(FillRow(ts=fill.ts, asset=fill.asset, side=fill.side, px=fill.px, sz=fill.sz,
                                       fee=fill.fee))
            if fill.asset in self._fill_ts:
                self._fill_ts[fill.asset].append(fill.ts)

    def note_markout(self, asset: str, horizon_s: float, bp: float | None) -> None:
        """A resolved markout (from the journal's writer); the view shows the 5 s mean."""
        if horizon_s == 5.0 and bp is not None and asset in self._markouts:
            self._markouts[asset].append(bp)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def events_of(self, kind: EventKind, asset: str | None = None) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.kind == kind and (asset is None or e.asset == asset)]

    def set_money(self, views, portfolio) -> None:  # supervisor.capital views
        """The meta-supervisor's allocation and portfolio figures, as immutable rows."""
        rows = []
        for v in views:
            s, m = v.score, v.multipliers
            rows.append(AllocationRow(
                asset=v.asset, state=v.state, capital=v.capital, base=v.base, change=v.change,
                score=s.score if s is not None else None, sharpe=s.sharpe if s else 0.0, ret=s.ret if s else 0.0,
                drawdown=s.drawdown if s else 0.0, consistency=s.consistency if s else 0.0, zone=v.zone,
                size_mult=m.size, spread_mult=m.spread, max_position_mult=m.max_position, compound=v.compound,
                capital_start=v.capital_start, capital_min=v.capital_min, reallocations=v.reallocations))
        p = portfolio
        if self.journal is not None:
            self._journal_money(rows)
        self.allocation_rows = tuple(rows)
        self.portfolio_row = PortfolioRow(
            capital=p.capital, allocated=p.allocated, equity=p.equity, exposure_usd=p.exposure_usd,
            exposure_cap_usd=p.exposure_cap_usd, drawdown=p.drawdown, drawdown_stop=p.drawdown_stop,
            halted=p.halted, halt_reason=p.halt_reason)

    def _journal_money(self, rows: list[AllocationRow]) -> None:
        """Journal an asset's allocation when its capital, zone or state changed."""
        ts = max((r.ts for r in self.risk.values()), default=0.0)
        for r in rows:
            key = (round(r.capital, 2), r.zone, r.state)
            if self._journaled_money.get(r.asset) != key:
                self._journaled_money[r.asset] = key
                self.journal.allocation(ts, r.asset, r.capital, r.zone, r.state, r.score)

    def row(self, asset: str) -> AssetRow:
        m = self.market.get(asset)
        r = self.risk.get(asset)
        bid, ask, n_open = self.quotes.get(asset, (0.0, 0.0, 0))
        mid = (m.mid if m else 0.0) or (r.mid if r else 0.0)
        inv = r.position if r else 0.0
        inv_usd = inv * mid
        limit = r.limit_usd if r else 0.0
        phase = self.phase.get(asset, "starting")
        if r is not None and r.halted and phase == "quoting":
            phase = "halted"
        return AssetRow(
            asset=asset, phase=phase, regime=m.regime if m else "",
            mid=mid, spread_bp=m.spread_bp if m else 0.0,
            our_bid=bid, our_ask=ask, open_orders=n_open,
            inventory=inv, inventory_usd=inv_usd,
            inventory_pct=abs(inv_usd) / limit * 100 if limit else 0.0, limit_usd=limit,
            realized_pnl=r.realized_pnl if r else 0.0,
            unrealized_pnl=r.unrealized_pnl if r else 0.0,
            fees=r.fees if r else 0.0,
            funding=r.funding if r else 0.0,
            fills_buy=r.fills_buy if r else 0, fills_sell=r.fills_sell if r else 0,
            restarts=self.restarts.get(asset, 0),
            capital=self.allocation.get(asset, 0.0),
            halt_reason=r.halt_reason if r else "",
            bid_size=self.quote_sizes.get(asset, (0.0, 0.0))[0],
            ask_size=self.quote_sizes.get(asset, (0.0, 0.0))[1],
            guard=self.guards.get(asset, ""),
            sweeps=self.sweeps.get(asset, 0),
            markout_bp=_mean(self._markouts.get(asset, ())),
        )

    def snapshot(self, sim_time_s: float, wall_time_s: float) -> ViewSnapshot:
        rows = tuple(self.row(a) for a in self.assets)
        with self._lock:
            recent = tuple(self._recent)[-40:]
            fills = tuple(self._fills)[-20:]
            per_min = {a: sum(1 for t in ts if t > sim_time_s - 60.0) for a, ts in self._fill_ts.items()}
        minutes = min(1.0, max(sim_time_s, 1e-9) / 60.0)  # a run younger than a minute: its rate so far
        rows = tuple(msgspec.structs.replace(r, fills_per_min=per_min.get(r.asset, 0) / minutes) for r in rows)
        return ViewSnapshot(
            venue=self.venue, speed=self.speed, sim_time_s=sim_time_s, wall_time_s=wall_time_s,
            capital=self.capital, portfolio_pnl=sum(r.net_pnl for r in rows),
            assets=rows, events=recent, stopping=self.stopping, venue_status=dict(self.venue_status),
            allocation=self.allocation_rows, portfolio=self.portfolio_row,
            fills=tuple(sorted(fills, key=lambda f: f.ts)), journal=self.journal_path,
        )


def _mean(xs) -> float | None:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None
