"""The wire protocol between makerhive and ``makerhive sim-server``.

One WebSocket, JSON text frames. Every frame is a JSON object whose ``"type"`` names
it (msgspec tagged unions); the payloads are the hive's own message Structs, so what
crosses the wire is exactly what the embedded sim would hand the gateway.

Client -> server (``ClientFrame``):

- ``commands``: ``{"type":"commands","cmds":[PlaceOrders|CancelOrders, ...]}``, the
  commands of one asset sent together, applied in order; fire and forget (the answers
  come back as a ``VenueBatch``).
- requests, each with a client-chosen ``id`` that its ``reply`` carries back:
  ``cancel_all`` (asset), ``open_orders`` (asset), ``position`` (asset), ``fills``
  (asset, since), ``snapshot`` (asset, since) and ``schedule_cancel`` (at: seconds of
  venue time, or null to clear the dead-man's switch).
- ``ping`` (nonce, the client's clock): answered at once with a ``pong``.

Server -> client (``ServerFrame``):

- ``hello``: first frame of every connection: the server clock ``now`` (venue time,
  seconds), its ``speed``, the assets with their index and szDecimals, the session
  number.
- ``BookSnapshot`` / ``Trade`` / ``VenueBatch``: books (one per frame), public trades,
  and the account's acks, rejects, cancels, fills and funding of one asset.
- ``reply``: ``id`` and either ``value`` (JSON, its type fixed by the request kind:
  ``REPLY_TYPES``) or ``error`` (the venue's text).
- ``pong``: the ping's nonce and client time echoed, and the server clock.

The admin door (``/admin`` path, for tests and tools; never the trading client):
``{"admin": "state"}`` answers a JSON object with what the venue holds (see
``venues.remote.server``); ``{"admin": "drop"}`` closes the trading client's connection.

JSON cannot carry NaN or infinity (msgspec writes them as null), hence
``WireAccount``'s optional cash, mid and funding, and the client refuses a non-finite
scheduled-cancel time before it is sent (null would *clear* the switch).
"""
from __future__ import annotations

import math
from typing import Literal, Union

import msgspec

from messages.market import BookSnapshot, Trade
from messages.orders import AccountSnapshot, CancelOrders, Fill, OpenOrder, PlaceOrders, VenueBatch

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a snapshot with every fill of a long run fits
ADMIN_PATH = "/admin"


class _Frame(msgspec.Struct, frozen=True, kw_only=True):
    pass


# -- client -> server --------------------------------------------------------------------
class Commands(_Frame, tag="commands"):
    cmds: tuple[PlaceOrders | CancelOrders, ...]


class CancelAllRequest(_Frame, tag="cancel_all"):
    id: int
    asset: str


class OpenOrdersRequest(_Frame, tag="open_orders"):
    id: int
    asset: str


class PositionRequest(_Frame, tag="position"):
    id: int
    asset: str


class FillsRequest(_Frame, tag="fills"):
    id: int
    asset: str
    since: float


class SnapshotRequest(_Frame, tag="snapshot"):
    id: int
    asset: str
    since: float


class ScheduleCancelRequest(_Frame, tag="schedule_cancel"):
    id: int
    at: float | None


class Ping(_Frame, tag="ping"):
    nonce: int
    ts: float  # the client's clock when sent


Request = Union[CancelAllRequest, OpenOrdersRequest, PositionRequest, FillsRequest, SnapshotRequest,
                ScheduleCancelRequest]
REQUEST_TYPES: tuple[type, ...] = (CancelAllRequest, OpenOrdersRequest, PositionRequest, FillsRequest,
                                   SnapshotRequest, ScheduleCancelRequest)
ClientFrame = Union[Commands, CancelAllRequest, OpenOrdersRequest, PositionRequest, FillsRequest,
                    SnapshotRequest, ScheduleCancelRequest, Ping]


def request_kind(req: Request) -> str:
    return type(req).__struct_config__.tag  # type: ignore[return-value]


# -- server -> client --------------------------------------------------------------------
class AssetInfo(msgspec.Struct, frozen=True):
    name: str
    index: int
    sz_decimals: int


class Hello(_Frame, tag="hello"):
    now: float  # the server's clock (venue time, seconds) when sent
    speed: float  # simulated seconds per real second
    assets: tuple[AssetInfo, ...]
    session: int
    version: int = PROTOCOL_VERSION


class Reply(_Frame, tag="reply"):
    id: int
    value: msgspec.Raw = msgspec.Raw(b"null")
    error: str | None = None


class Pong(_Frame, tag="pong"):
    nonce: int
    ts: float  # the ping's client time, echoed
    now: float  # the server's clock when answered


ServerFrame = Union[Hello, BookSnapshot, Trade, VenueBatch, Reply, Pong]


class WireAccount(msgspec.Struct, frozen=True):
    """``AccountSnapshot`` on the wire: cash and mid may be NaN, which JSON cannot carry."""

    asset: str
    open_orders: tuple[OpenOrder, ...]
    position: float
    fills: tuple[Fill, ...]
    cash: float | None = None
    mid: float | None = None
    funding: float | None = None
    ts: float = 0.0

    @classmethod
    def of(cls, snap: AccountSnapshot) -> "WireAccount":
        funding = snap.funding
        return cls(snap.asset, snap.open_orders, snap.position, snap.fills,
                   cash=snap.cash if math.isfinite(snap.cash) else None,
                   mid=snap.mid if math.isfinite(snap.mid) else None,
                   funding=funding if funding is not None and math.isfinite(funding) else None, ts=snap.ts)

    def to_snapshot(self) -> AccountSnapshot:
        nan = float("nan")
        return AccountSnapshot(self.asset, self.open_orders, self.position, self.fills,
                               cash=nan if self.cash is None else self.cash,
                               mid=nan if self.mid is None else self.mid, funding=self.funding, ts=self.ts)


# what each request's reply value decodes to
REPLY_TYPES: dict[type, object] = {
    CancelAllRequest: int,
    OpenOrdersRequest: tuple[OpenOrder, ...],
    PositionRequest: float,
    FillsRequest: tuple[Fill, ...],
    SnapshotRequest: WireAccount,
    ScheduleCancelRequest: Union[str, None],
}


# -- the admin door -------------------------------------------------------------------------
class AdminRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    admin: Literal["state", "drop"]


# -- codecs ---------------------------------------------------------------------------------
_encoder = msgspec.json.Encoder()


def encode(frame: object) -> str:
    """One frame as a JSON text message."""
    return _encoder.encode(frame).decode()


def encode_value(value: object) -> msgspec.Raw:
    return msgspec.Raw(_encoder.encode(value))


def client_decoder() -> msgspec.json.Decoder:
    """Decodes what the server sends (used by the client)."""
    return msgspec.json.Decoder(ServerFrame)


def server_decoder() -> msgspec.json.Decoder:
    """Decodes what the client sends (used by the server)."""
    return msgspec.json.Decoder(ClientFrame)


def admin_decoder() -> msgspec.json.Decoder:
    return msgspec.json.Decoder(AdminRequest)


def decode_value(req_type: type, raw: msgspec.Raw | bytes) -> object:
    """A reply's value, typed by the request it answers (raises msgspec.DecodeError)."""
    return msgspec.json.decode(raw, type=REPLY_TYPES[req_type])


Malformed = msgspec.DecodeError  # ValidationError is a subclass: bad JSON and bad shape alike
