"""Immutable snapshots of the running hive, for the live view and the summary.

Actors publish their latest state into a ``StatusBoard`` (see ``actors.status``);
the view process receives encoded ``ViewSnapshot``s and never touches live objects.
"""

from __future__ import annotations

import msgspec

from messages.control import AssetPhase, Event


class AssetRow(msgspec.Struct, frozen=True, kw_only=True):
    asset: str
    phase: AssetPhase = "starting"
    regime: str = ""
    mid: float = 0.0
    spread_bp: float = 0.0
    our_bid: float = 0.0  # our best resting bid (0 = none)
    our_ask: float = 0.0  # our best resting ask (0 = none)
    open_orders: int = 0
    inventory: float = 0.0  # signed units
    inventory_usd: float = 0.0  # signed, marked at mid
    inventory_pct: float = 0.0  # |inventory_usd| / limit_usd * 100
    limit_usd: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    fills_buy: int = 0
    fills_sell: int = 0
    restarts: int = 0
    capital: float = 0.0
    halt_reason: str = ""
    bid_size: float = 0.0  # our best bid's size (0 = none)
    ask_size: float = 0.0
    guard: str = ""  # the quoter's note while a guard, breaker or missing edge thins its quotes
    fills_per_min: float = 0.0  # over the last minute of the runtime clock
    markout_bp: float | None = None  # mean 5 s markout of the recent fills (None: not known yet)
    sweeps: int = 0  # prints that pulled a side of ours for a moment (quoting.sweep_guard), this run

    @property
    def own_spread_bp(self) -> float | None:
        """Our best ask over our best bid, in bp of the mid (None without both sides)."""
        if self.our_bid > 0 and self.our_ask > 0 and self.mid > 0:
            return (self.our_ask - self.our_bid) / self.mid * 1e4
        return None

    @property
    def net_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl - self.fees + self.funding


class FillRow(msgspec.Struct, frozen=True, kw_only=True):
    """One of our recent fills, for the view's fills panel."""

    ts: float
    asset: str
    side: str  # "B" bought, "A" sold
    px: float
    sz: float
    fee: float = 0.0


class AllocationRow(msgspec.Struct, frozen=True, kw_only=True):
    """One asset's allocation: capital, score and its parts, zone, multipliers."""

    asset: str
    state: str = "active"  # active | quarantined | standby
    capital: float = 0.0  # what it trades with (base + own PnL in compound mode)
    base: float = 0.0  # what the supervisor granted
    change: float = 0.0  # of the base at its last move
    score: float | None = None  # None: too little data yet
    sharpe: float = 0.0  # the parts, normalised 0..1 (drawdown: 1 is the worst)
    ret: float = 0.0
    drawdown: float = 0.0
    consistency: float = 0.0
    zone: str = "hold"
    size_mult: float = 1.0
    spread_mult: float = 1.0
    max_position_mult: float = 1.0
    compound: bool = False
    capital_start: float = 0.0
    capital_min: float = 0.0
    reallocations: int = 0


class PortfolioRow(msgspec.Struct, frozen=True, kw_only=True):
    """The portfolio's limits: exposure against its cap, drawdown against its stop."""

    capital: float = 0.0
    allocated: float = 0.0
    equity: float = 0.0
    exposure_usd: float = 0.0
    exposure_cap_usd: float = 0.0
    drawdown: float = 0.0  # share of the day's starting equity
    drawdown_stop: float = 0.0
    halted: bool = False
    halt_reason: str = ""


class ViewSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    speed: float
    sim_time_s: float  # runtime clock since start (simulated seconds on the sim)
    wall_time_s: float  # real seconds since start
    capital: float
    portfolio_pnl: float
    assets: tuple[AssetRow, ...]
    events: tuple[Event, ...]  # newest last, bounded
    stopping: bool = False
    # a live venue's budgets and link: IP weight used/cap, address actions left/cap,
    # reconnects, when the dead-man's switch fires (empty on the sim)
    venue_status: dict[str, float | int | str] = msgspec.field(default_factory=dict)
    # the meta-supervisor's allocation (empty until it first publishes) and portfolio limits
    allocation: tuple[AllocationRow, ...] = ()
    portfolio: PortfolioRow | None = None
    fills: tuple[FillRow, ...] = ()  # our recent fills, newest last
    journal: str = ""  # where the run's journal is
