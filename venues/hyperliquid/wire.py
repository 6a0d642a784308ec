"""Hyperliquid's WebSocket frames and REST answers as typed msgspec Structs.

Every frame is ``{"channel": ..., "data": ...}``; the channel is the tag of a tagged
union, so one ``decode_frame`` call turns the bytes into the right Struct in a single
pass, with no intermediate dicts. Numbers arrive as decimal strings ("106217.0"); the
decoder runs non-strict so those land directly in ``float`` fields (prices and sizes
the strategy uses) while ids stay ``int``. Fields we do not use are not declared (and
so skipped), fields the venue may leave out have defaults: a new key on the wire never
breaks us, a missing required one makes the frame malformed (counted and dropped by
the caller, never fatal).
"""
from __future__ import annotations

from typing import Any, Union

import msgspec


class Malformed(ValueError):
    """A frame or answer that does not have the shape the API documents."""


# -- market data ----------------------------------------------------------------------------
class WsLevel(msgspec.Struct, gc=False):
    px: float
    sz: float
    n: int = 0


class WsBook(msgspec.Struct, gc=False):
    coin: str
    levels: tuple[tuple[WsLevel, ...], tuple[WsLevel, ...]]  # bids best first, asks best first
    time: int


class WsTrade(msgspec.Struct, gc=False):
    coin: str
    side: str  # the aggressor: "B" bought, "A" sold
    px: float
    sz: float
    time: int
    tid: int
    hash: str = ""


class WsBbo(msgspec.Struct, gc=False):
    coin: str
    time: int
    bbo: tuple[Union[WsLevel, None], Union[WsLevel, None]]


class PerpAssetCtx(msgspec.Struct, gc=False):
    funding: float = 0.0  # the predicted hourly rate
    markPx: float = 0.0
    oraclePx: float = 0.0
    openInterest: float = 0.0
    dayNtlVlm: float = 0.0
    midPx: Union[float, None] = None
    premium: Union[float, None] = None


class WsActiveAssetCtx(msgspec.Struct, gc=False):
    coin: str
    ctx: PerpAssetCtx


# -- the account ----------------------------------------------------------------------------
class WsFill(msgspec.Struct, gc=False):
    coin: str
    px: float
    sz: float
    side: str
    time: int
    oid: int
    tid: int
    fee: float = 0.0  # positive paid, negative a rebate
    crossed: bool = False  # True: we were the taker
    cloid: Union[str, None] = None
    startPosition: float = 0.0
    closedPnl: float = 0.0
    dir: str = ""
    hash: str = ""
    feeToken: str = "USDC"
    liquidation: Union[dict[str, Any], None] = None  # {liquidatedUser, markPx, method} on a liquidation's fills


class WsUserFills(msgspec.Struct, gc=False):
    user: str
    fills: tuple[WsFill, ...]
    isSnapshot: bool = False  # the first message after a (re)subscribe re-sends history


class WsBasicOrder(msgspec.Struct, gc=False):
    coin: str
    side: str
    limitPx: float
    sz: float  # remaining
    oid: int
    timestamp: int
    origSz: float = 0.0
    cloid: Union[str, None] = None


class WsOrder(msgspec.Struct, gc=False):
    order: WsBasicOrder
    status: str  # open, filled, canceled, scheduledCancel, <error>Rejected, ...Canceled
    statusTimestamp: int


class WsFunding(msgspec.Struct, gc=False):
    time: int
    coin: str
    usdc: float
    szi: float
    fundingRate: float


class WsNonUserCancel(msgspec.Struct, gc=False):
    coin: str
    oid: int


class WsUserEvent(msgspec.Struct, gc=False):
    """One of {fills}, {funding}, {liquidation}, {nonUserCancel}: the others stay None."""

    fills: Union[tuple[WsFill, ...], None] = None
    funding: Union[WsFunding, None] = None
    liquidation: Union[dict[str, Any], None] = None
    nonUserCancel: Union[tuple[WsNonUserCancel, ...], None] = None


class PostResponse(msgspec.Struct):
    type: str  # "info" | "action" | "error"
    payload: msgspec.Raw = msgspec.Raw(b"null")


class PostData(msgspec.Struct):
    id: int
    response: PostResponse


# -- frames: the channel is the tag ----------------------------------------------------------
class _Frame(msgspec.Struct, tag_field="channel"):
    pass


class BookFrame(_Frame, tag="l2Book"):
    data: WsBook


class TradesFrame(_Frame, tag="trades"):
    data: tuple[WsTrade, ...]


class BboFrame(_Frame, tag="bbo"):
    data: WsBbo


class AssetCtxFrame(_Frame, tag="activeAssetCtx"):
    data: WsActiveAssetCtx


class UserFillsFrame(_Frame, tag="userFills"):
    data: WsUserFills


class OrderUpdatesFrame(_Frame, tag="orderUpdates"):
    data: tuple[WsOrder, ...]


class UserEventFrame(_Frame, tag="user"):
    data: WsUserEvent


class SubscribedFrame(_Frame, tag="subscriptionResponse"):
    data: Any = None


class PongFrame(_Frame, tag="pong"):
    pass


class ErrorFrame(_Frame, tag="error"):
    data: Any = None


class PostFrame(_Frame, tag="post"):
    data: PostData


Frame = Union[BookFrame, TradesFrame, BboFrame, AssetCtxFrame, UserFillsFrame, OrderUpdatesFrame,
              UserEventFrame, SubscribedFrame, PongFrame, ErrorFrame, PostFrame]

_frame_decoder = msgspec.json.Decoder(Frame, strict=False)
_encoder = msgspec.json.Encoder()


class _Channel(msgspec.Struct):
    channel: str = ""


_channel_decoder = msgspec.json.Decoder(_Channel)
KNOWN_CHANNELS = frozenset({"l2Book", "trades", "bbo", "activeAssetCtx", "userFills", "orderUpdates",
                            "user", "subscriptionResponse", "pong", "error", "post"})


class UnknownChannel(Malformed):
    """A well-formed frame on a channel we never subscribed to (ignored, not an error)."""


def decode_frame(raw: str | bytes) -> Frame:
    """One WebSocket frame as its Struct; ``Malformed`` if it has not the documented shape."""
    try:
        return _frame_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        try:
            channel = _channel_decoder.decode(raw).channel
        except (msgspec.ValidationError, msgspec.DecodeError):
            channel = ""
        if channel and channel not in KNOWN_CHANNELS:
            raise UnknownChannel(f"channel {channel!r}") from None
        raise Malformed(str(e)) from None


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


# -- REST answers ---------------------------------------------------------------------------
class AssetMeta(msgspec.Struct):
    name: str
    szDecimals: int
    maxLeverage: int = 0
    onlyIsolated: bool = False
    isDelisted: bool = False


class Meta(msgspec.Struct):
    universe: tuple[AssetMeta, ...]


class Position(msgspec.Struct):
    coin: str
    szi: float
    entryPx: Union[float, None] = None
    unrealizedPnl: float = 0.0
    cumFunding: Union[dict[str, float], None] = None  # {"allTime", "sinceOpen", "sinceChange"}
    liquidationPx: Union[float, None] = None
    leverage: Union[dict[str, Any], None] = None  # {"type": "cross"|"isolated", "value": int}


class AssetPosition(msgspec.Struct):
    position: Position
    type: str = "oneWay"


class MarginSummary(msgspec.Struct):
    accountValue: float = 0.0
    totalMarginUsed: float = 0.0
    totalNtlPos: float = 0.0


class ClearinghouseState(msgspec.Struct):
    assetPositions: tuple[AssetPosition, ...] = ()
    marginSummary: MarginSummary = msgspec.field(default_factory=MarginSummary)
    withdrawable: float = 0.0
    time: Union[int, None] = None
    crossMaintenanceMarginUsed: float = 0.0


class OpenOrderInfo(msgspec.Struct):
    coin: str
    side: str
    limitPx: float
    sz: float
    oid: int
    timestamp: int
    origSz: float = 0.0
    cloid: Union[str, None] = None


class UserRateLimit(msgspec.Struct):
    cumVlm: float
    nRequestsUsed: int
    nRequestsCap: int


class UserFees(msgspec.Struct):
    userAddRate: float = 0.0
    userCrossRate: float = 0.0


class RestingStatus(msgspec.Struct):
    oid: int
    cloid: Union[str, None] = None


class FilledStatus(msgspec.Struct):
    oid: int
    totalSz: float = 0.0
    avgPx: float = 0.0
    cloid: Union[str, None] = None


class OrderStatus(msgspec.Struct):
    """One per order in an order/batchModify answer: exactly one field is set."""

    resting: Union[RestingStatus, None] = None
    filled: Union[FilledStatus, None] = None
    error: Union[str, None] = None


_decoders: dict[Any, msgspec.json.Decoder] = {}


def decode_as(kind: Any, raw: str | bytes) -> Any:
    """A REST answer as ``kind`` (a Struct, tuple[...] of one, ...); ``Malformed`` if not."""
    dec = _decoders.get(kind)
    if dec is None:
        dec = _decoders[kind] = msgspec.json.Decoder(kind, strict=False)
    try:
        return dec.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise Malformed(f"{getattr(kind, '__name__', kind)}: {e}") from None


def convert_as(kind: Any, obj: Any) -> Any:
    """Like ``decode_as`` for an already-decoded JSON value (e.g. part of an answer)."""
    try:
        return msgspec.convert(obj, kind, strict=False)
    except msgspec.ValidationError as e:
        raise Malformed(f"{getattr(kind, '__name__', kind)}: {e}") from None
