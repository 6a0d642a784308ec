"""The meta-supervisor's money decisions without actors: allocation plus portfolio limits.

``CapitalCore`` takes the assets' reports and the time, and says what to send whom:
``AllocationUpdate``s (capital and risk multipliers) once per allocation period and on
quarantines, ``PortfolioGate``s when an asset's share of the exposure cap or the
drawdown stop changes, which assets to cancel everything for, and the events to show.
The meta-supervisor actor only routes what it returns; the backtester drives the very
same core, so what is backtested is what trades. Pure: no threads, no clock, no I/O.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from config import Config
from messages.allocation import (AllocationUpdate, ExposureReport, Multipliers, PerformanceReport, PortfolioGate,
                                 ScoreParts, Zone)
from strategy.portfolio import MIN_ROOM_USD, PortfolioGuard
from supervisor.allocation import Allocator, Change

GATE_CHANGE = 0.02  # an allowance is sent again when it moved by this share (or MIN_ROOM_USD)
# A cut allowance counts as still out this long after it was sent: the asset's orders may
# fill up to the old one until the cut has gone through its risk core, quoter and order
# core (threads that lag under load), so nobody else's raise may use that room before.
CUT_GRACE_S = 5.0


@dataclass
class Decisions:
    updates: list[AllocationUpdate] = field(default_factory=list)
    gates: list[PortfolioGate] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, asset, text)
    cancel_all: list[str] = field(default_factory=list)
    start: list[str] = field(default_factory=list)  # standby assets promoted: start their trees
    park: list[str] = field(default_factory=list)  # assets put on standby

    def __bool__(self) -> bool:
        return bool(self.updates or self.gates or self.events or self.cancel_all or self.start or self.park)

    def extend(self, other: "Decisions") -> None:
        self.updates += other.updates
        self.gates += other.gates
        self.events += other.events
        self.cancel_all += other.cancel_all
        self.start += other.start
        self.park += other.park


@dataclass(frozen=True)
class AssetAllocationView:
    """One asset's allocation as the view and the summary show it."""

    asset: str
    state: str
    capital: float
    base: float
    change: float  # of the capital at the last move
    zone: Zone
    multipliers: Multipliers
    score: ScoreParts | None
    compound: bool
    capital_start: float
    capital_min: float
    reallocations: int


@dataclass(frozen=True)
class PortfolioView:
    capital: float
    allocated: float
    equity: float
    exposure_usd: float
    exposure_cap_usd: float
    drawdown: float  # share of the day's starting equity, from the day's peak
    drawdown_stop: float
    halted: bool
    halt_reason: str


class CapitalCore:
    def __init__(self, cfg: Config, now: float, assets: tuple[str, ...] | None = None) -> None:
        self.cfg = cfg
        self.assets = tuple(assets if assets is not None else cfg.portfolio.assets)
        a = cfg.allocation
        pf = cfg.portfolio
        self.alloc = Allocator.for_config(cfg, self.assets)
        self.guard = PortfolioGuard(pf.capital_usd, max_exposure_pct=pf.max_exposure_pct,
                                    drawdown_stop_pct=pf.drawdown_stop_pct, assets=self.assets, now=now)
        self.own_limit = {x: cfg.assets[x].risk.max_position_usd for x in self.assets}
        self.period_s = a.period_s
        self._next_period = now + a.period_s
        self._gates: dict[str, PortfolioGate] = {}
        self._cuts: dict[str, list[tuple[float, float | None]]] = {}  # allowances replaced within CUT_GRACE_S
        self._at_cap = False
        self._start_capital = {x: self.alloc.books[x].capital for x in self.assets}
        self._min_capital = dict(self._start_capital)
        self._reallocs = {x: 0 for x in self.assets}
        self._change = {x: 0.0 for x in self.assets}
        # the gates hold from the start (trees start with them); their events show at the first tick
        self._pending = Decisions()
        self._gate_changes(now, self._pending)

    # -- inputs -------------------------------------------------------------------------------
    def on_report(self, r: PerformanceReport) -> None:
        self.alloc.on_report(r)

    def on_exposure(self, r: ExposureReport) -> None:
        self.guard.on_exposure(r.asset, r.inventory_usd, r.net_pnl)
        b = self.alloc.books.get(r.asset)
        if b is not None:
            b.net_pnl = r.net_pnl

    # -- the clock ------------------------------------------------------------------------------
    def on_tick(self, now: float) -> Decisions:
        out, self._pending = self._pending, Decisions()
        was_halted = self.guard.halted
        reason = self.guard.check(now)
        if was_halted and not self.guard.halted:
            out.events.append(("resume", "*", "a new day: the portfolio drawdown stop is lifted"))
        if reason is not None:
            out.events.append(("halt", "*", reason + "; every order cancelled. Resume with: makerhive resume"))
            out.cancel_all += list(self.assets)
        if now >= self._next_period:
            # whole periods since the last one (a late tick does not make several moves)
            self._next_period += self.period_s * max(1, math.floor((now - self._next_period) / self.period_s) + 1)
            out.extend(self._changes(self.alloc.rebalance(now), now))
        self._track()
        out.gates += self._gate_changes(now, out)
        return out

    def resume(self, now: float) -> Decisions:
        out = Decisions()
        if self.guard.resume(now):
            out.events.append(("resume", "*", "portfolio drawdown stop lifted by the operator: quoting again"))
        else:
            out.events.append(("info", "*", "no portfolio stop to lift"))
        out.gates += self._gate_changes(now, out)
        return out

    def quarantine(self, asset: str, now: float) -> Decisions:
        before = set(self.alloc.active())
        out = self._changes(self.alloc.quarantine(asset), now)
        out.start += [a for a in self.alloc.active() if a not in before]
        out.gates += self._gate_changes(now, out)
        return out

    def restore(self, asset: str, now: float) -> Decisions:
        out = self._changes(self.alloc.restore(asset), now)
        if self.alloc.books[asset].state == "standby":
            out.park.append(asset)
        out.gates += self._gate_changes(now, out)
        return out

    # -- what each asset is told ------------------------------------------------------------------
    def update(self, asset: str, now: float) -> AllocationUpdate:
        return self.alloc.update(asset, now)

    def gate(self, asset: str, now: float) -> PortfolioGate:
        g = self._gates.get(asset)
        return g if g is not None else PortfolioGate(asset, now)

    def state(self, asset: str) -> str:
        return self.alloc.books[asset].state

    def capital(self, asset: str) -> float:
        return self.alloc.books[asset].base

    def _changes(self, changes: list[Change], now: float) -> Decisions:
        out = Decisions()
        for c in changes:
            out.updates.append(self.alloc.update(c.asset, now))
            out.events.append(("allocation", c.asset, c.describe()))
            if c.capital_moved:
                self._reallocs[c.asset] += 1
                self._change[c.asset] = c.base_after - c.base_before
        return out

    def _track(self) -> None:
        for a, b in self.alloc.books.items():
            self._min_capital[a] = min(self._min_capital[a], b.capital)

    def _gate_changes(self, now: float, out: Decisions) -> list[PortfolioGate]:
        g = self.guard
        trading = self.alloc.active()
        allow = g.allowances(trading, self.own_limit, self._still_out(now))
        binding = any(v is not None for v in allow.values())
        if binding != self._at_cap:
            self._at_cap = binding
            head = max(0.0, g.cap_usd - g.gross) / max(1, len(trading))
            out.events.append(("exposure", "*",
                               f"portfolio exposure ${g.gross:,.0f} near its cap ${g.cap_usd:,.0f}: each asset may "
                               f"add at most ${head:,.0f}, quotes past that held back" if binding else
                               f"portfolio exposure ${g.gross:,.0f} well under its cap ${g.cap_usd:,.0f}: "
                               f"the assets' own limits apply again"))
        sent = []
        for a in self.assets:
            new = PortfolioGate(a, now, allow.get(a), g.halted, g.halt_reason)
            old = self._gates.get(a)
            if old is None:
                if new.max_inventory_usd is None and not new.halted:
                    continue  # nothing to say yet: the default gate
            elif not _gate_moved(old, new):
                continue
            if old is not None:
                self._cuts.setdefault(a, []).append((now, old.max_inventory_usd))
            self._gates[a] = new
            sent.append(new)
        return sent

    def _still_out(self, now: float) -> dict[str, float | None]:
        """Per asset, the largest allowance it may still be going by (None: its own limit):
        the last one sent, or one it replaced less than CUT_GRACE_S ago."""
        out: dict[str, float | None] = {}
        for a, gate in self._gates.items():
            cuts = self._cuts.get(a)
            if cuts:
                cuts[:] = [c for c in cuts if now - c[0] < CUT_GRACE_S]
            best = gate.max_inventory_usd
            for _, v in cuts or ():
                best = None if best is None or v is None else max(best, v)
            out[a] = best
        return out

    # -- for the view and the summary -------------------------------------------------------------
    def portfolio_view(self) -> PortfolioView:
        g = self.guard
        return PortfolioView(capital=g.capital, allocated=self.alloc.allocated, equity=g.equity,
                             exposure_usd=g.gross, exposure_cap_usd=g.cap_usd, drawdown=g.drawdown,
                             drawdown_stop=g.stop_pct, halted=g.halted, halt_reason=g.halt_reason)

    def views(self) -> list[AssetAllocationView]:
        out = []
        for a in self.assets:
            b = self.alloc.books[a]
            out.append(AssetAllocationView(
                asset=a, state=b.state, capital=b.capital, base=b.base, change=self._change[a], zone=b.zone,
                multipliers=b.multipliers, score=b.score, compound=b.compound,
                capital_start=self._start_capital[a], capital_min=min(self._min_capital[a], b.capital),
                reallocations=self._reallocs[a]))
        return out


def _gate_moved(old: PortfolioGate, new: PortfolioGate) -> bool:
    if old.halted != new.halted:
        return True
    a, b = old.max_inventory_usd, new.max_inventory_usd
    if (a is None) != (b is None):
        return True
    if a is None or b is None:
        return False
    return abs(a - b) > max(MIN_ROOM_USD, GATE_CHANGE * max(a, b))
