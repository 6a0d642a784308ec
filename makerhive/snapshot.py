"""Immutable snapshots of the running hive, for the live view and the summary.

Actors publish their latest state into a ``StatusBoard`` (see ``makerhive.status``);
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

    @property
    def net_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl - self.fees + self.funding


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
