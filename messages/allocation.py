"""Capital allocation and portfolio limits: reports up, grants and gates down.

- ``PerformanceReport``  risk actor -> its asset supervisor -> meta-supervisor, every
  ``allocation.report_s``: the asset's PnL on a fixed grid and what it did meanwhile.
- ``ExposureReport``     the same way, at least every second and on inventory news: what
  the portfolio limits watch (inventory, PnL).
- ``AllocationUpdate``   meta-supervisor -> asset supervisor -> risk actor: the capital
  and risk multipliers the asset trades with from its next quote on.
- ``PortfolioGate``      the same way: the portfolio's limits on this asset (how much
  inventory it may hold, or a halt).
- ``ResumeTrading``      operator -> meta-supervisor: lift a portfolio drawdown stop.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Zone = Literal["reward", "hold", "punish", "pause"]
ZONES: tuple[Zone, ...] = ("pause", "punish", "hold", "reward")  # worst to best


class PerformanceReport(msgspec.Struct, frozen=True, tag=True):
    """One asset's results since its previous report.

    ``pnl`` is the cumulative net PnL at ``first_ts``, ``first_ts + sample_s``, ... (a
    fixed grid shared by every asset); the other figures cover the same stretch.
    """

    asset: str
    ts: float
    first_ts: float
    sample_s: float
    pnl: tuple[float, ...]
    capital: float  # the capital the asset traded with (its base, plus its PnL in compound mode)
    return_on_capital: float  # PnL over the report / capital
    drawdown_usd: float  # the largest fall from a peak within the report
    fills: int
    volume_usd: float
    inventory_utilisation: float  # the largest |inventory| / limit seen within the report
    net_pnl: float  # cumulative, now


class ExposureReport(msgspec.Struct, frozen=True, tag=True):
    asset: str
    ts: float
    inventory_usd: float  # signed, marked at the mid
    net_pnl: float  # cumulative


class Multipliers(msgspec.Struct, frozen=True):
    size: float = 1.0
    spread: float = 1.0
    max_position: float = 1.0


class ScoreParts(msgspec.Struct, frozen=True):
    """A score and its parts, each normalised to 0..1 (drawdown: 1 is the worst)."""

    score: float
    sharpe: float
    ret: float
    drawdown: float
    consistency: float


class AllocationUpdate(msgspec.Struct, frozen=True, tag=True):
    """What the meta-supervisor grants an asset. ``base`` is the capital it controls;
    with ``compound`` the asset trades with base + its own PnL. ``reference`` is the
    equal share (quote sizes scale with capital / reference when ``size_follows_capital``)."""

    asset: str
    ts: float
    base: float
    reference: float
    multipliers: Multipliers = Multipliers()
    zone: Zone = "hold"
    score: ScoreParts | None = None  # None: too little data yet
    compound: bool = False
    size_follows_capital: bool = True


class PortfolioGate(msgspec.Struct, frozen=True, tag=True):
    """The portfolio's limits on one asset. ``max_inventory_usd``: its share of the
    portfolio's exposure cap (None: the cap cannot bind); quotes that would take |inventory|
    past it are held back. ``halted``: the portfolio drawdown stop (cancel all, quote nothing)."""

    asset: str
    ts: float
    max_inventory_usd: float | None = None
    halted: bool = False
    reason: str = ""


class ResumeTrading(msgspec.Struct, frozen=True, tag=True):
    """Operator command: lift the portfolio drawdown stop."""
