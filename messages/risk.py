"""Risk state, capital allocation and the results of reconciliation."""

from __future__ import annotations

import msgspec

from messages.orders import Fill


class RiskState(msgspec.Struct, frozen=True, tag=True):
    """What the risk core allows, published to the quoter and the order actor.

    ``position`` is signed units; PnL figures are USD. Multipliers scale the quoter's
    size and spread per side (inventory control); ``halted`` stops the asset entirely.
    """

    asset: str
    ts: float
    position: float
    avg_entry: float
    mid: float
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    capital: float
    limit_usd: float
    funding: float = 0.0  # received (+) or paid (-)
    allow_bid: bool = True
    allow_ask: bool = True
    size_mult_bid: float = 1.0
    size_mult_ask: float = 1.0
    spread_mult_bid: float = 1.0
    spread_mult_ask: float = 1.0
    halted: bool = False
    halt_reason: str = ""
    fills_buy: int = 0
    fills_sell: int = 0
    volume_usd: float = 0.0
    max_abs_inventory_usd: float = 0.0
    # from the meta-supervisor: the score zone, its max-position multiplier, the portfolio's
    # exposure cap holding adds back, and the most a fill ever took |inventory| past the limit
    zone: str = "hold"
    max_position_mult: float = 1.0
    exposure_held: bool = False
    max_limit_excess_usd: float = 0.0
    fills_digest: int = 0  # the fills applied, by identity (strategy.risk.fill_identity)
    # past the hard limit (strategy/unwind.py): the exposure (USD) beyond the limit that the
    # reducing side works out passively at the touch, and, past the emergency level, the
    # exposure beyond the limit to cut with a reduce-only IOC (0: nothing to do)
    unwind_usd: float = 0.0
    emergency_usd: float = 0.0
    # past reduce_only_at (or near liquidation): only orders that reduce the position, and
    # no more of them than closes it
    reduce_only: bool = False

    @property
    def net_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl - self.fees + self.funding


class VenuePosition(msgspec.Struct, frozen=True, tag=True):
    """The asset's position after the order role adopted the venue's at a
    reconciliation (and the venue's cumulative funding, where it reports it)."""

    asset: str
    ts: float
    position: float
    funding: float | None = None


class FillHistory(msgspec.Struct, frozen=True, tag=True):
    """Fills fetched from the venue (the order actor's fill sync); the order role dedupes
    them by trade id."""

    asset: str
    ts: float
    fills: tuple[Fill, ...]


class OwnFills(msgspec.Struct, frozen=True, tag=True):
    """Fills the order role took as new (each trade id once, in the order it applied
    them) and the asset's position after them, from the order role to risk.

    The order role is the one owner of trade-id dedupe and of the position (it needs
    the position at once for the worst-case inventory cap); risk books the fills' PnL
    and takes ``position`` as the asset's. ``live``: False for fills from the venue's
    history (start-up, fill sync): they are not measured against the limit in force."""

    asset: str
    ts: float
    fills: tuple[Fill, ...]
    position: float
    live: bool = True
    start: bool = False  # the order role's start-up history, all the venue has: risk rebuilds from it


class RiskStateRequest(msgspec.Struct, frozen=True, tag=True):
    """Ask the risk actor to restate its RiskState now (a fresh quoter wants it)."""

    asset: str


class MarginState(msgspec.Struct, frozen=True, tag=True):
    """The account's margin as the venue reports it (Hyperliquid's clearinghouseState).
    ``capital_share``: the account's value over the configured capital, at most 1 (risk is
    sized from the smaller); ``margin_ratio``: maintenance margin used / account value;
    ``liquidation_px``: NaN when the asset has no position (or no liquidation price)."""

    asset: str
    ts: float
    account_value: float
    capital_share: float
    margin_ratio: float
    liquidation_px: float
    mark_px: float


class Liquidated(msgspec.Struct, frozen=True, tag=True):
    """The exchange liquidated (part of) our position in the asset: it halts."""

    asset: str
    ts: float
    detail: str = ""
