"""Quotes, order commands and the venue's answers.

Every order command carries the asset and the sender's epoch: the gateway refuses
commands from a retired epoch (fencing), so a zombie order actor cannot trade.
Client order ids (cloids) encode asset, epoch and sequence (see ``exchange_rules.cloid``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from messages.market import Side


class QuoteLevel(msgspec.Struct, frozen=True, gc=False):
    """One order the quoter wants resting: side, venue-valid price and size."""

    side: Side
    level: int  # 0 = L1 (tightest), 1 = L2, ...
    px: float
    sz: float


class QuoteLadder(msgspec.Struct, frozen=True, tag=True):
    """The complete set of orders the quoter wants resting for one asset.

    An empty side means "nothing resting on that side"; the order actor cancels.
    """

    asset: str
    ts: float
    seq: int
    bids: tuple[QuoteLevel, ...]
    asks: tuple[QuoteLevel, ...]
    reservation: float = 0.0
    half_spread_bp: float = 0.0
    recv_ns: int = 0  # from the book snapshot that caused it (latency only)
    note: str = ""  # why a side is thin or empty (no edge, a guard, a breaker), for the view
    # priced on an old book: the order actor cancels and shrinks toward it but places nothing
    retreat_only: bool = False


class NewOrder(msgspec.Struct, frozen=True, gc=False):
    """A limit order to place: post-only (``tif = "Alo"``), the quotes; or an immediate-or-
    cancel, reduce-only order that takes liquidity up to ``px`` (``"Ioc"``), the emergency
    unwind of a position past its limit (strategy/unwind.py)."""

    cloid: str
    side: Side
    px: float
    sz: float
    level: int = 0
    tif: Literal["Alo", "Ioc"] = "Alo"
    reduce_only: bool = False


class PlaceOrders(msgspec.Struct, frozen=True, tag=True):
    asset: str
    epoch: int
    ts: float
    orders: tuple[NewOrder, ...]
    recv_ns: int = 0  # from the book snapshot that caused it (latency only)


class CancelOrders(msgspec.Struct, frozen=True, tag=True):
    asset: str
    epoch: int
    ts: float
    cloids: tuple[str, ...]


class OrderAck(msgspec.Struct, frozen=True, tag=True):
    """The venue accepted the order and it rests on the book."""

    asset: str
    cloid: str
    oid: int
    ts: float


class OrderReject(msgspec.Struct, frozen=True, tag=True):
    """The venue (or the gateway) refused an order; ``reason`` is the venue's text."""

    asset: str
    cloid: str
    reason: str
    ts: float


class OrderCancelled(msgspec.Struct, frozen=True, tag=True):
    """An order left the book without (further) fills."""

    asset: str
    cloid: str
    ts: float
    reason: str = "cancel"


class Fill(msgspec.Struct, frozen=True, tag=True, omit_defaults=True):
    """One of our orders traded. ``tid`` is unique per fill: dedupe by it.

    ``fee`` is what we paid (negative = rebate), in USD. ``remaining`` is the order's
    size left resting after this fill (0 = fully filled).
    """

    asset: str
    cloid: str
    oid: int
    tid: int
    side: Side
    px: float
    sz: float
    fee: float
    ts: float
    remaining: float
    crossed: bool = False  # we took liquidity (the emergency unwind's IOC): the taker fee (left out when False)


class OpenOrder(msgspec.Struct, frozen=True, gc=False):
    """An order resting on the venue, as the venue reports it."""

    asset: str
    cloid: str
    oid: int
    side: Side
    px: float
    sz: float  # remaining size
    ts: float


class VenueBatch(msgspec.Struct, frozen=True, tag=True):
    """Several venue answers for one asset in one message (one response to a batch
    request, or the fills of one matching step), in the order the venue produced them."""

    asset: str
    ts: float
    events: tuple["VenueEvent", ...]


class Funding(msgspec.Struct, frozen=True, tag=True):
    """A funding payment on our position: ``usd`` > 0 is received, < 0 paid.

    ``rate`` is the hourly rate applied; longs pay shorts when it is positive.
    """

    asset: str
    ts: float
    rate: float
    position: float
    usd: float


VenueEvent = OrderAck | OrderReject | OrderCancelled | Fill | Funding


class Resync(msgspec.Struct, frozen=True, tag=True):
    """The venue connection came back (or something looks off): reconcile with the
    venue before trusting our order map again."""

    asset: str
    ts: float
    reason: str


class QueryLiveOrders(msgspec.Struct, frozen=True, tag=True):
    """Ask (not tell) an order actor for the cloids it knows are live or in flight."""

    asset: str


class AccountSnapshot(msgspec.Struct, frozen=True):
    """Open orders, position and fills of one asset, all as of the same instant at the
    venue, so that reconciling with them can never mix two moments."""

    asset: str
    open_orders: tuple[OpenOrder, ...]
    position: float
    fills: tuple[Fill, ...]
    cash: float = float("nan")  # the venue's cash flow for the asset, where it reports one
    mid: float = float("nan")  # the venue's mid at that instant
    funding: float | None = None  # cumulative funding of the asset, where the venue reports it
    ts: float = 0.0  # the venue's clock at that instant


class QuoteFeedback(msgspec.Struct, frozen=True, tag=True):
    """What the order actor tells the quoter about its orders (strategy/feedback.py):
    a fill (markouts), a placement accepted or refused post-only (ALO safety ticks), an
    API error (breaker), a funding rate (funding skew). ``value``: fill price or rate."""

    asset: str
    ts: float
    kind: Literal["fill", "placed", "alo_reject", "error", "funding"]
    side: str = ""
    level: int = -1
    value: float = 0.0
