"""The fake Hyperliquid's state machine: pure, synchronous, no I/O, time as an argument.

It speaks Hyperliquid's JSON (shapes from ``/work/shared/reference/hyperliquid.md``) on
top of our simulated matching engine (``venues.sim.engine.SimExchange``), which does
the market (background book, takers, queue position, trade-through) and matches our
resting orders. The server (``server.py``) feeds it parsed request bodies and the
clock, and routes what it queues in ``outbox`` to WebSocket subscribers.

**Time.** ``t`` is float seconds since the fake started (the engine's clock); epoch ms
are ``start_ms + round(t * 1000)``. The fake runs in real time, so nonces can be checked
against the wall clock.

**One traded user.** The engine holds one account: ``account``, or, when ``vaults`` are
given, the first vault (a sub-account of ``account``, traded with ``vaultAddress``).
Actions acting for another known user are refused with Hyperliquid's "Must deposit
before performing actions" text; info for any other user is empty.

**Orders.** Every order gets our own oid (from ``FIRST_OID``) and an internal engine key;
the client's cloid is kept beside it. ALO orders go to the engine as they are. A
Gtc/Ioc order that crosses the background book takes its displayed levels up to the
limit (a taker fill: ``crossed: true``, taker fee); an Ioc remainder is cancelled, a
Gtc remainder is filled at its limit price too (the background book does not deplete,
so a resting remainder would be traded through at once anyway). A Gtc that crosses
nothing rests like an ALO. Our own resting orders a Gtc/Ioc would cross are cancelled
first (self-trade prevention, status ``selfTradeCanceled``). A modify cancels the old
order and places a new one with a new oid (the cloid may be kept).

**Positions and PnL** are kept here from the fill stream (the engine only sees its
maker fills): signed size, average entry, closed PnL (gross of fees), fees, funding.
Funding is paid here every ``sim.funding_interval_s`` at the market's current hourly
rate (``usd = -szi * mid * rate * interval/1h``); the engine's own funding is ignored.

**Limits.** Per-signer nonces (the 100 highest kept, a window of (now - 2 d, now + 1 d)),
the address budget (``sim.address_budget_initial`` + 1 per USDC traded; cancels up to
min(cap + 100000, 2 cap); beyond, one action per 10 s), and the IP weight per minute
(``sim.ip_weight_per_minute``) -> HTTP 429.
"""
from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections import OrderedDict, deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import msgspec
from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action

from config import Config
from messages.market import Trade
from messages.orders import Fill, NewOrder, OrderAck, OrderCancelled, OrderReject
from exchange_rules.ticks import is_valid_price, is_valid_size, meets_min_notional, round_price, round_size, tick_at, to_wire
from venues.sim import engine as sim_engine
from venues.sim.engine import SimExchange, exchange_weight, info_weight
from venues.sim.market import TakerOrder

__all__ = ["FakeExchange", "Reply", "InvalidSubscription", "IpWeight", "normalize_subscription"]

# -- texts (per-order texts carry Hyperliquid's " asset=N" suffix) ----------------------------
ERR_TICK = sim_engine.ERR_TICK  # "Price must be divisible by tick size. asset={i}"
ERR_SIZE = "Order has invalid size. asset={i}"
ERR_MIN_NOTIONAL = "Order must have minimum value of $10. asset={i}"
ERR_ALO = sim_engine.ERR_ALO  # "Post only order would have immediately matched, bbo was {bid}@{ask}. asset={i}"
ERR_REDUCE_ONLY = "Reduce only order would increase position. asset={i}"
ERR_IOC = "Order could not immediately match against any resting orders. asset={i}"
ERR_DUP_CLOID = "Duplicate cloid. asset={i}"  # UNVERIFIED wording
ERR_MARGIN = "Insufficient margin to place order. asset={i}"  # PerpMargin (reference/hyperliquid.md)
ERR_INVALID_ASSET = "Invalid asset. asset={i}"  # UNVERIFIED wording
ERR_TRIGGER_UNSUPPORTED = "Trigger orders are not supported by the fake. asset={i}"
ERR_MISSING = sim_engine.ERR_MISSING  # "Order was never placed, already canceled, or filled."
ERR_MODIFY_MISSING = "Cannot modify canceled or filled order"  # UNVERIFIED wording
# whole-request errors: {"status": "err", "response": <text>} with HTTP 200
ERR_UNKNOWN_SIGNER = "User or API Wallet {address} does not exist."
ERR_BAD_SIGNATURE = "Invalid signature."  # UNVERIFIED: a signature that recovers no address at all
ERR_UNKNOWN_VAULT = "Vault or sub-account {vault} is not controlled by {signer}."  # UNVERIFIED wording
ERR_MUST_DEPOSIT = "Must deposit before performing actions. User: {user}"
ERR_NONCE_DUPLICATE = "Invalid nonce: duplicate nonce"  # UNVERIFIED wording (the three nonce texts)
ERR_NONCE_TOO_LOW = "Invalid nonce: nonce too low"
ERR_NONCE_WINDOW = "Invalid nonce: nonce too far from current time"
ERR_EXPIRED = "Action expired"  # UNVERIFIED wording
ERR_ADDRESS_BUDGET = sim_engine.ERR_ADDRESS_BUDGET  # "Too many cumulative requests sent ({used} > {cap}) ..."
ERR_SCHEDULE_TOO_SOON = sim_engine.ERR_SCHEDULE_TOO_SOON  # UNVERIFIED wording
ERR_SCHEDULE_TRIGGERS = sim_engine.ERR_SCHEDULE_TRIGGERS  # UNVERIFIED wording
ERR_EMPTY_BATCH = "Empty batch."  # UNVERIFIED wording
ERR_GROUPING = "Only grouping \"na\" is supported by the fake."
# HTTP-level texts (axum's rejections, as Hyperliquid's servers answer them)
ERR_DESERIALIZE = "Failed to deserialize the JSON body into the target type"  # HTTP 422
ERR_JSON_SYNTAX = "Failed to parse the request body as JSON"  # HTTP 400
ERR_CONTENT_TYPE = "Expected request with `Content-Type: application/json`"  # HTTP 415
RATE_LIMITED_BODY = {"error": "rate limited"}  # HTTP 429; UNVERIFIED body (the status code is what counts)
# WebSocket error frames: {"channel": "error", "data": <text>}
ERR_WS_PARSE = "Error parsing JSON into valid websocket request: {raw}"
ERR_ALREADY_SUBSCRIBED = "Already subscribed: {sub}"
ERR_ALREADY_UNSUBSCRIBED = "Already unsubscribed: {sub}"
ERR_INVALID_SUBSCRIPTION = "Invalid subscription {sub}"

FIRST_OID = 30_000_000_001  # our oids; realistic magnitudes catch int handling bugs
OWN_TID_BASE = 1 << 48  # tids of our taker fills (the engine's own tids count from 1)
NONCES_KEPT = 100
DAY_MS = 86_400_000
NONCE_PAST_MS = 2 * DAY_MS
NONCE_FUTURE_MS = DAY_MS
EXPIRED_COST = 5  # an action refused for a stale expiresAfter costs 5x
THROTTLED_EVERY_S = sim_engine.THROTTLED_EVERY_S  # 10 s: one action this often beyond the budget
CANCEL_CAP_EXTRA = sim_engine.CANCEL_CAP_EXTRA
IP_WINDOW_S = 60.0
USER_FILLS_MAX = 2000  # userFills / userFillsByTime answer at most this many
USER_FILLS_SNAPSHOT_MAX = 500  # fills re-sent in the userFills subscription snapshot (UNVERIFIED count)
USER_FUNDING_MAX = 500
TRADES_REPLAY = 30  # trades replayed on a trades subscription (3P, UNVERIFIED)
ORDER_HISTORY_MAX = 200_000  # closed orders kept for orderStatus
TAKER_SWEEP_LEVELS = 80
BACKGROUND_USERS = ("0x000000000000000000000000000000000000dead", "0x000000000000000000000000000000000000beef")
_CLOID_RE = re.compile(r"^0x[0-9a-fA-F]{32}$")
_ADDR_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


class Malformed(Exception):
    """A request that does not deserialize into the API's types (HTTP 422)."""


class InvalidSubscription(Exception):
    pass


@dataclass(slots=True)
class Reply:
    """An HTTP answer: ``status`` 200 with a JSON ``body``, or an error ``status`` with
    ``body`` a text (422/400/415/500) or JSON (429)."""

    status: int
    body: Any


def ok_default() -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "default"}}


def err(text: str) -> dict[str, Any]:
    return {"status": "err", "response": text}


def usd(x: float) -> str:
    """A USD amount as Hyperliquid writes it (6 decimals at most, no trailing zeros)."""
    if not math.isfinite(x):
        return "0"
    s = to_wire(Decimal(f"{x:.6f}"))
    return "0" if s in ("-0", "0") else s


def num(x: float | Decimal) -> str:
    s = to_wire(x)
    return "0" if s == "-0" else s


def _hash(*parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


# -- the IP weight window ---------------------------------------------------------------------
class IpWeight:
    """The request weight spent over the last minute, as the exchange counts it per IP."""

    def __init__(self, limit: int, window_s: float = IP_WINDOW_S) -> None:
        self.limit = int(limit)
        self.window_s = window_s
        self._q: deque[tuple[float, int]] = deque()
        self._total = 0

    def used(self, t: float) -> int:
        while self._q and self._q[0][0] <= t - self.window_s:
            self._total -= self._q.popleft()[1]
        return self._total

    def try_charge(self, t: float, weight: int) -> bool:
        """Charge ``weight`` if it fits in the window; False (nothing charged) if not."""
        if self.used(t) + weight > self.limit:
            return False
        self.add(t, weight)
        return True

    def add(self, t: float, weight: int) -> None:
        if weight > 0:
            self._q.append((t, int(weight)))
            self._total += int(weight)


# -- nonces -----------------------------------------------------------------------------------
class _Nonces:
    """One signer's nonce set: the 100 highest used, ascending."""

    __slots__ = ("kept",)

    def __init__(self) -> None:
        self.kept: list[int] = []

    def refusal(self, nonce: int, now_ms: int) -> str | None:
        if not (now_ms - NONCE_PAST_MS < nonce < now_ms + NONCE_FUTURE_MS):
            return ERR_NONCE_WINDOW
        i = bisect.bisect_left(self.kept, nonce)
        if i < len(self.kept) and self.kept[i] == nonce:
            return ERR_NONCE_DUPLICATE
        if len(self.kept) >= NONCES_KEPT and nonce <= self.kept[0]:
            return ERR_NONCE_TOO_LOW
        return None

    def commit(self, nonce: int) -> None:
        bisect.insort(self.kept, nonce)
        if len(self.kept) > NONCES_KEPT:
            del self.kept[0]


# -- the account --------------------------------------------------------------------------------
@dataclass(slots=True)
class _Order:
    oid: int
    asset: int
    coin: str
    side: str  # "B" | "A"
    limit_px: str
    sz: float  # remaining
    orig_sz: float
    timestamp: int
    cloid: str | None
    tif: str
    reduce_only: bool
    key: str  # the engine's cloid for it
    status: str = "open"
    status_ts: int = 0


@dataclass(slots=True)
class _Ledger:
    pos: float = 0.0
    entry: float = 0.0
    cash: float = 0.0  # sells add px*sz, buys subtract, fees subtract, funding adds what it pays
    fees: float = 0.0
    realized: float = 0.0
    funding_paid_all: float = 0.0  # > 0: paid (clearinghouseState cumFunding convention, UNVERIFIED)
    funding_paid_open: float = 0.0
    funding_paid_change: float = 0.0
    leverage: int = 20
    is_cross: bool = True


class _Market:
    """Stands in for an engine market: the real one, plus takers we inject (``cross``)."""

    def __init__(self, inner: Any, default_funding: float) -> None:
        self.inner = inner
        self.injected: list[TakerOrder] = []
        self._default_funding = default_funding

    @property
    def mid(self) -> float:
        return self.inner.mid

    @property
    def funding_rate(self) -> float:
        rate = getattr(self.inner, "funding_rate", self._default_funding)
        return float(rate() if callable(rate) else rate)

    def advance(self, ts: float) -> list[TakerOrder]:
        out = self.inner.advance(ts)
        if self.injected:
            out = self.injected + list(out)
            self.injected = []
        return out

    def book(self, levels: int) -> Any:
        return self.inner.book(levels)


# -- request parsing ----------------------------------------------------------------------------
def _need(d: Any, key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    if not isinstance(d, dict):
        raise Malformed(f"expected a map, got {type(d).__name__}")
    if key not in d or d[key] is None:
        if optional:
            return None
        raise Malformed(f"missing field `{key}`")
    v = d[key]
    if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise Malformed(f"`{key}`: invalid type, expected an integer")
    if not isinstance(v, kind):
        raise Malformed(f"`{key}`: invalid type")
    return v


def _decimal(text: Any, key: str) -> Decimal:
    if not isinstance(text, str):
        raise Malformed(f"`{key}`: invalid type, expected a string")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise Malformed(f"`{key}`: invalid number {text!r}") from None
    if not d.is_finite():
        raise Malformed(f"`{key}`: invalid number {text!r}")
    return d


def _address(v: Any, key: str) -> str:
    if not isinstance(v, str) or not _ADDR_RE.match(v):
        raise Malformed(f"`{key}`: invalid address")
    return v.lower()


@dataclass(slots=True)
class _Wire:
    """One parsed order wire."""

    a: int
    b: bool
    p: Decimal
    s: Decimal
    r: bool
    tif: str | None  # None: a trigger order
    c: str | None


def _parse_order(w: Any) -> _Wire:
    a = _need(w, "a", int)
    b = _need(w, "b", bool)
    p = _decimal(_need(w, "p", str), "p")
    s = _decimal(_need(w, "s", str), "s")
    r = _need(w, "r", bool)
    t = _need(w, "t", dict)
    tif: str | None
    if "limit" in t:
        tif = _need(_need(t, "limit", dict), "tif", str)
        if tif not in ("Alo", "Ioc", "Gtc"):
            raise Malformed(f"unknown variant `{tif}`, expected one of `Alo`, `Ioc`, `Gtc`")
    elif "trigger" in t:
        tif = None
    else:
        raise Malformed("`t`: expected `limit` or `trigger`")
    c = _need(w, "c", str, optional=True)
    if c is not None and not _CLOID_RE.match(c):
        raise Malformed(f"`c`: invalid cloid {c!r}")
    return _Wire(a, b, p, s, r, tif, None if c is None else c.lower())


def batch_len(action: Any) -> int:
    """Orders/cancels/modifies in an action (1 for the others): the IP weight and
    address-budget count."""
    if isinstance(action, dict):
        for k in ("orders", "cancels", "modifies"):
            v = action.get(k)
            if isinstance(v, list):
                return len(v)
    return 1


def normalize_subscription(sub: Any, coins: Any) -> tuple[tuple[str, str], dict[str, Any]]:
    """(routing key, the normalised subscription the ack echoes), or InvalidSubscription."""
    if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
        raise InvalidSubscription
    kind = sub["type"]
    if kind in ("l2Book", "trades", "bbo", "activeAssetCtx"):
        coin = sub.get("coin")
        if not isinstance(coin, str) or coin not in coins:
            raise InvalidSubscription
        if kind == "l2Book":
            norm = {"type": kind, "coin": coin, "nSigFigs": sub.get("nSigFigs"), "mantissa": sub.get("mantissa")}
        else:
            norm = {"type": kind, "coin": coin}
        return (kind, coin), norm
    if kind in ("userFills", "orderUpdates", "userEvents"):
        user = sub.get("user")
        if not isinstance(user, str) or not _ADDR_RE.match(user):
            raise InvalidSubscription
        user = user.lower()
        if kind == "userFills":
            return ("userFills", user), {"type": kind, "user": user,
                                         "aggregateByTime": bool(sub.get("aggregateByTime", False))}
        return ("user" if kind == "userEvents" else kind, user), {"type": kind, "user": user}
    raise InvalidSubscription


# -- the state machine ----------------------------------------------------------------------------
class FakeExchange:
    """Hyperliquid's API as a state machine over ``SimExchange``; see the module doc."""

    def __init__(self, cfg: Config, seed: int | None = 7, account: str = "", agents: tuple[str, ...] = (),
                 vaults: tuple[str, ...] = (), start_ms: int = 0) -> None:
        if not _ADDR_RE.match(account or ""):
            raise ValueError(f"account must be a 0x address, got {account!r}")
        self.cfg = cfg
        self.account = account.lower()
        self.agents = frozenset(a.lower() for a in agents)
        self.vaults = tuple(v.lower() for v in vaults)
        self.user = self.vaults[0] if self.vaults else self.account  # whose orders the engine holds
        self.start_ms = int(start_ms)
        sim = cfg.sim
        # The engine's own address budget is made unlimited: the fake counts it (per
        # Hyperliquid's rules, with the expired-action and noop costs the engine lacks).
        # Its markets are wrapped as taker processes below: the formula market's.
        engine_cfg = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(sim, address_budget_initial=10 ** 15,
                                                                               market_model="formula"))
        self.engine = SimExchange(engine_cfg, seed)
        self.coins: tuple[str, ...] = tuple(cfg.portfolio.assets)
        self.index = {c: i for i, c in enumerate(self.coins)}
        self.sz_dec = tuple(cfg.assets[c].market.sz_decimals for c in self.coins)
        self.markets: dict[str, _Market] = {}
        for c in self.coins:
            m = _Market(self.engine.markets[c], cfg.assets[c].market.funding_rate)
            self.engine.markets[c] = m
            self.markets[c] = m
        self.maker_fee = sim.maker_fee
        self.taker_fee = sim.taker_fee
        self.ip = IpWeight(sim.ip_weight_per_minute)
        # the account
        self.ledgers = {c: _Ledger() for c in self.coins}
        self.capital_usd: float | None = None  # None: the config's portfolio capital (set_capital overrides)
        self.liquidations = 0
        self._open: dict[int, _Order] = {}  # oid -> open order, oid order
        self._orders: OrderedDict[int, _Order] = OrderedDict()  # every order we know (closed ones bounded)
        self._by_key: dict[str, _Order] = {}  # engine key -> open order
        self._by_cloid: dict[str, int] = {}  # cloid -> the latest oid with it
        self._fills: list[dict[str, Any]] = []
        self._funding_hist: list[dict[str, Any]] = []
        self._next_oid = FIRST_OID
        self._next_own_tid = OWN_TID_BASE
        self._cum_vlm = 0.0
        self._n_used = 0
        self._reserved = 0
        self._last_action_t = -math.inf
        self._nonces: dict[str, _Nonces] = {}
        self._funding_k = 1
        # the market side
        self._recent_trades = {c: deque(maxlen=TRADES_REPLAY) for c in self.coins}
        self._day_ntl = {c: 0.0 for c in self.coins}
        self._day_base = {c: 0.0 for c in self.coins}
        self._last_bbo: dict[str, Any] = {}
        self._book_seq = 0
        # faults
        self._reject_n = 0
        self._reject_text = ""
        self._drop_fills = 0
        self._drop_coin: str | None = None  # drop only this coin's fill pushes (None: any coin's)
        self._drop_keeps_updates = False  # a dropped fill's order update is still pushed
        self._dms_refuse_n = 0
        self._dms_refuse_text = ""
        # what the server pushes: (routing key, channel, data)
        self.outbox: list[tuple[tuple[str, str], str, Any]] = []
        self.stats: dict[str, Any] = {
            "bad_signatures": 0, "nonce_refusals": 0, "expired": 0, "budget_refusals": 0, "actions": {},
            "orders_placed": 0, "orders_rejected": 0, "cancels": 0, "schedule_cancel_sets": 0,
            "schedule_cancel_clears": 0, "schedule_cancel_fired": 0, "margin_rejects": 0, "ws_connections": 0, "ws_open": 0,
            "subscriptions": 0, "info_requests": 0, "exchange_requests": 0, "posts": 0, "throttled": 0,
            "failed_requests": 0, "malformed": 0, "fills": 0, "fill_pushes_dropped": 0, "ws_drops": 0,
            "raced_answers": 0, "answers_lost": 0, "exchange_cancels": 0, "schedule_cancel_refused": 0}
        self.engine.advance(0.0)

    # -- helpers ----------------------------------------------------------------------------------
    def ms(self, t: float) -> int:
        return self.start_ms + round(t * 1000)

    def t_of(self, ms: int) -> float:
        return (ms - self.start_ms) / 1000.0

    def coin_of(self, asset: int | str) -> str:
        if isinstance(asset, str):
            if asset not in self.index:
                raise KeyError(f"unknown coin {asset!r}; the fake trades {list(self.coins)}")
            return asset
        return self.coins[asset]

    def _push(self, key: tuple[str, str], channel: str, data: Any) -> None:
        self.outbox.append((key, channel, data))

    def drain(self) -> list[tuple[tuple[str, str], str, Any]]:
        out, self.outbox = self.outbox, []
        return out

    def _oid(self) -> int:
        oid = self._next_oid
        self._next_oid += 1
        return oid

    def _remember(self, o: _Order) -> None:
        self._orders[o.oid] = o
        if o.cloid is not None:
            self._by_cloid[o.cloid] = o.oid
        for _ in range(len(self._orders)):  # bounded: forget the oldest closed orders
            if len(self._orders) <= ORDER_HISTORY_MAX:
                break
            old_oid, old = next(iter(self._orders.items()))
            if old.status == "open":
                self._orders.move_to_end(old_oid)
                continue
            del self._orders[old_oid]
            if old.cloid is not None and self._by_cloid.get(old.cloid) == old_oid:
                del self._by_cloid[old.cloid]

    def _close(self, o: _Order, status: str, t: float) -> None:
        o.status = status
        o.status_ts = self.ms(t)
        self._open.pop(o.oid, None)
        self._by_key.pop(o.key, None)

    def _basic(self, o: _Order) -> dict[str, Any]:
        d: dict[str, Any] = {"coin": o.coin, "side": o.side, "limitPx": o.limit_px, "sz": num(o.sz),
                             "oid": o.oid, "timestamp": o.timestamp, "origSz": num(o.orig_sz)}
        if o.cloid is not None:
            d["cloid"] = o.cloid
        return d

    def _ws_order(self, o: _Order, status: str, t: float) -> dict[str, Any]:
        return {"order": self._basic(o), "status": status, "statusTimestamp": self.ms(t)}

    def _frontend(self, o: _Order) -> dict[str, Any]:
        return {"coin": o.coin, "side": o.side, "limitPx": o.limit_px, "sz": num(o.sz), "oid": o.oid,
                "timestamp": o.timestamp, "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0",
                "children": [], "isPositionTpsl": False, "reduceOnly": o.reduce_only, "orderType": "Limit",
                "origSz": num(o.orig_sz), "tif": o.tif, "cloid": o.cloid}

    def _push_updates(self, updates: list[dict[str, Any]]) -> None:
        if updates:
            self._push(("orderUpdates", self.user), "orderUpdates", updates)

    # -- fills and the ledger -------------------------------------------------------------------------
    def _book_fill(self, o: _Order, px: float, sz: float, fee: float, tid: int, t: float,
                   crossed: bool) -> dict[str, Any]:
        c = o.coin
        d = self.sz_dec[self.index[c]]
        led = self.ledgers[c]
        signed = sz if o.side == "B" else -sz
        start = led.pos
        new = round(start + signed, d)
        closed = 0.0
        if start == 0 or (start > 0) == (signed > 0):
            direction = "Open Long" if signed > 0 else "Open Short"
            led.entry = (led.entry * abs(start) + px * sz) / abs(new) if new != 0 else 0.0
            led.funding_paid_change = 0.0
        else:
            closing = min(sz, abs(start))
            closed = (px - led.entry) * closing * (1.0 if start > 0 else -1.0)
            if round(sz - abs(start), d) > 0:
                direction = "Long > Short" if start > 0 else "Short > Long"
                led.entry = px
                led.funding_paid_open = 0.0
            else:
                direction = "Close Long" if start > 0 else "Close Short"
                if new == 0:
                    led.entry = 0.0
                    led.funding_paid_open = 0.0
            led.funding_paid_change = 0.0
        led.pos = new
        led.cash += -signed * px - fee
        led.fees += fee
        led.realized += closed
        self._cum_vlm += px * sz
        fill: dict[str, Any] = {
            "coin": c, "px": num(px), "sz": num(sz), "side": o.side, "time": self.ms(t),
            "startPosition": num(round(start, d)), "dir": direction, "closedPnl": usd(closed),
            "hash": _hash(c, tid), "oid": o.oid, "crossed": crossed, "fee": usd(fee), "tid": tid}
        if o.cloid is not None:
            fill["cloid"] = o.cloid
        fill["feeToken"] = "USDC"
        self._fills.append(fill)
        self.stats["fills"] += 1
        return fill

    def _emit_fills(self, items: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        """Push fills (and the order update each caused), minus the ones a fault drops."""
        fills: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for fill, update in items:
            if self._drop_fills > 0 and (self._drop_coin is None or fill["coin"] == self._drop_coin):
                self._drop_fills -= 1
                self.stats["fill_pushes_dropped"] += 1
                if self._drop_keeps_updates and update is not None:
                    updates.append(update)
                continue
            fills.append(fill)
            if update is not None:
                updates.append(update)
        if fills:
            self._push(("userFills", self.user), "userFills", {"user": self.user, "fills": fills})
            self._push(("user", self.user), "user", {"fills": fills})
        self._push_updates(updates)

    def _push_trades(self, trades: list[dict[str, Any]]) -> None:
        by_coin: dict[str, list[dict[str, Any]]] = {}
        for tr in trades:
            by_coin.setdefault(tr["coin"], []).append(tr)
        for c, lst in by_coin.items():
            self._push(("trades", c), "trades", lst)

    def _trade(self, coin: str, side: str, px: float, sz: float, tid: int, t: float,
               users: tuple[str, str] = BACKGROUND_USERS) -> dict[str, Any]:
        tr = {"coin": coin, "side": side, "px": num(px), "sz": num(sz), "time": self.ms(t),
              "hash": _hash(coin, tid), "tid": tid, "users": list(users)}
        self._recent_trades[coin].append(tr)
        self._day_ntl[coin] += px * sz
        self._day_base[coin] += sz
        return tr

    # -- the market clock --------------------------------------------------------------------------
    def step(self, t: float) -> None:
        """Advance the engine to ``t``: scheduled cancels, fills, trades, funding."""
        armed, _ = self.engine.schedule_cancel_state()
        events = self.engine.advance(t)
        self._on_engine_events(events, t)
        if armed is not None and armed <= t:
            self.stats["schedule_cancel_fired"] += 1
        self._pay_funding(t)

    def _on_engine_events(self, events: list[Any], t: float) -> None:
        trades: list[dict[str, Any]] = []
        items: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        updates: list[dict[str, Any]] = []
        for ev in events:
            if isinstance(ev, Trade):
                trades.append(self._trade(ev.asset, ev.side, ev.px, ev.sz, ev.tid, ev.ts))
            elif isinstance(ev, Fill):
                o = self._by_key.get(ev.cloid)
                if o is None:
                    continue  # cannot happen: every engine order is ours
                fill = self._book_fill(o, ev.px, ev.sz, ev.fee, ev.tid, ev.ts, crossed=False)
                o.sz = ev.remaining
                if ev.remaining <= 0:
                    o.sz = 0.0
                    self._close(o, "filled", ev.ts)
                    items.append((fill, self._ws_order(o, "filled", ev.ts)))
                else:
                    items.append((fill, self._ws_order(o, "open", ev.ts)))
            elif isinstance(ev, OrderCancelled):
                o = self._by_key.get(ev.cloid)
                if o is None:
                    continue
                status = "scheduledCancel" if ev.reason == sim_engine.SCHEDULED_CANCEL_REASON else "canceled"
                self._close(o, status, ev.ts)
                updates.append(self._ws_order(o, status, ev.ts))
            # the engine's Funding events are ignored: funding is paid by _pay_funding
        self._push_trades(trades)
        self._emit_fills(items)
        self._push_updates(updates)

    def _pay_funding(self, t: float) -> None:
        interval = float(self.cfg.sim.funding_interval_s)
        hours = interval / 3600.0
        bound = 0
        while self._funding_k * interval <= t and bound < 1000:
            at = self._funding_k * interval
            self._funding_k += 1
            bound += 1
            for c in self.coins:
                led = self.ledgers[c]
                if led.pos == 0:
                    continue
                m = self.markets[c]
                rate = m.funding_rate
                received = -led.pos * m.mid * rate * hours
                led.cash += received
                led.funding_paid_all -= received
                led.funding_paid_open -= received
                led.funding_paid_change -= received
                d = self.sz_dec[self.index[c]]
                ms = self.ms(at)
                delta = {"time": ms, "coin": c, "usdc": usd(received), "szi": num(round(led.pos, d)),
                         "fundingRate": num(Decimal(f"{rate:.10f}"))}
                self._funding_hist.append({"delta": {"type": "funding", "coin": c, "usdc": delta["usdc"],
                                                     "szi": delta["szi"], "fundingRate": delta["fundingRate"],
                                                     "nSamples": None},
                                           "hash": "0x" + "0" * 64, "time": ms})
                self._push(("user", self.user), "user", {"funding": delta})

    # -- market data ---------------------------------------------------------------------------------
    def l2_book(self, coin: str, t: float) -> dict[str, Any]:
        self._book_seq += 1
        snap = self.engine.book_snapshot(coin, t, self._book_seq)
        ours: dict[tuple[str, float], tuple[int, float]] = {}
        for o in self._open.values():
            if o.coin == coin:
                k = (o.side, float(o.limit_px))
                n, s = ours.get(k, (0, 0.0))
                ours[k] = (n + 1, s + o.sz)

        def levels(side: str, lvls: Any) -> list[dict[str, Any]]:
            out = []
            for lv in lvls:
                n, s = ours.get((side, lv.px), (0, 0.0))
                out.append({"px": num(lv.px), "sz": num(lv.sz), "n": n + (1 if lv.sz > s + 1e-12 else 0)})
            return out

        return {"coin": coin, "time": self.ms(t), "levels": [levels("B", snap.bids), levels("A", snap.asks)]}

    def bbo(self, coin: str, t: float) -> dict[str, Any]:
        book = self.l2_book(coin, t)
        bids, asks = book["levels"]
        return {"coin": coin, "time": book["time"], "bbo": [bids[0] if bids else None, asks[0] if asks else None]}

    def bbo_if_changed(self, coin: str, t: float) -> dict[str, Any] | None:
        b = self.bbo(coin, t)
        if b["bbo"] == self._last_bbo.get(coin):
            return None
        self._last_bbo[coin] = b["bbo"]
        return b

    def asset_ctx(self, coin: str) -> dict[str, Any]:
        i = self.index[coin]
        d = self.sz_dec[i]
        m = self.markets[coin]
        mid = m.mid
        bids, asks = m.book(1)
        mark = num(round_price(mid, d))
        mkt = self.cfg.assets[coin].market
        oi = round_size(mkt.depth_usd * 50 / mkt.price, d)
        return {"dayNtlVlm": usd(self._day_ntl[coin]), "funding": num(Decimal(f"{m.funding_rate:.10f}")),
                "impactPxs": [num(bids[0].px), num(asks[0].px)] if bids and asks else None,
                "markPx": mark, "midPx": mark, "openInterest": num(oi), "oraclePx": mark,
                "premium": "0.0", "prevDayPx": num(round_price(mkt.price, d)),
                "dayBaseVlm": num(round(self._day_base[coin], d))}

    def active_asset_ctx(self, coin: str) -> dict[str, Any]:
        return {"coin": coin, "ctx": self.asset_ctx(coin)}

    def meta(self) -> dict[str, Any]:
        return {"universe": [{"name": c, "szDecimals": self.sz_dec[i], "maxLeverage": 50 if c == "BTC" else 20}
                             for i, c in enumerate(self.coins)]}

    def subscription_snapshot(self, key: tuple[str, str], t: float) -> list[tuple[str, Any]]:
        """The messages that follow a subscribe ack (before the live pushes)."""
        kind, what = key
        if kind == "l2Book":
            return [("l2Book", self.l2_book(what, t))]
        if kind == "bbo":
            return [("bbo", self.bbo(what, t))]
        if kind == "activeAssetCtx":
            return [("activeAssetCtx", self.active_asset_ctx(what))]
        if kind == "trades":
            recent = list(self._recent_trades[what])
            return [("trades", recent)] if recent else []
        if kind == "userFills":
            fills = self._fills[-USER_FILLS_SNAPSHOT_MAX:] if what == self.user else []
            return [("userFills", {"isSnapshot": True, "user": what, "fills": fills})]
        return []  # orderUpdates and userEvents send no snapshot

    # -- inspection ---------------------------------------------------------------------------------
    def open_orders(self, asset: int | str | None = None) -> list[dict[str, Any]]:
        coin = None if asset is None else self.coin_of(asset)
        return [self._frontend(o) for o in self._open.values() if coin is None or o.coin == coin]

    def position(self, asset: int | str) -> float:
        return self.ledgers[self.coin_of(asset)].pos

    def fills(self) -> list[dict[str, Any]]:
        return list(self._fills)

    def dms_at_ms(self) -> int | None:
        at, _ = self.engine.schedule_cancel_state()
        return None if at is None else self.ms(at)

    def snapshot_stats(self) -> dict[str, Any]:
        s = dict(self.stats)
        s["actions"] = dict(self.stats["actions"])
        return s

    # -- faults ---------------------------------------------------------------------------------------
    def reject_next(self, n: int, text: str) -> None:
        self._reject_n = max(0, int(n))
        self._reject_text = str(text)

    def drop_fill_pushes(self, n: int, keep_updates: bool = False, coin: str | None = None) -> None:
        self._drop_fills = max(0, int(n))
        self._drop_keeps_updates = bool(keep_updates)
        self._drop_coin = coin

    def exchange_cancel(self, asset: int | str, status: str, t: float) -> int:
        """The exchange cancels our resting orders in ``asset`` on its own (margin,
        reduce-only, self-trade, delisting): each gets an orderUpdate with ``status``
        (one of Hyperliquid's ``...Canceled`` statuses); nothing else tells the client.
        How many were cancelled."""
        if not status.endswith("Canceled"):
            raise ValueError(f"an exchange-side cancel status ends in 'Canceled', got {status!r}")
        self.step(t)
        coin = self.coin_of(asset)
        mine = [o for o in self._open.values() if o.coin == coin]
        if mine:
            self.engine.cancel(coin, [o.key for o in mine], t)
            for o in mine:
                self._close(o, status, t)
            self._push_updates([self._ws_order(o, status, t) for o in mine])
        self.stats["exchange_cancels"] += len(mine)
        return len(mine)

    def refuse_schedule_cancel(self, n: int, text: str = "") -> None:
        """The next ``n`` scheduleCancel settings are refused (the day's triggers spent, by
        default) and change nothing; clearing the switch is not refused."""
        self._dms_refuse_n = max(0, int(n))
        limit = self.cfg.sim.schedule_cancel_triggers_per_day
        self._dms_refuse_text = text or ERR_SCHEDULE_TRIGGERS.format(used=limit, limit=limit)

    def exhaust_budget(self, t: float) -> int:
        """The account's address budget is spent now (every action beyond the cap is
        refused but one per 10 s; cancels keep their larger cap); the headroom taken."""
        taken = max(0, self._cap() - self._n_used)
        self._n_used += taken
        self._last_action_t = max(self._last_action_t, t)
        return taken

    def grant_budget(self, n: int) -> None:
        """``n`` more address actions, as volume traded elsewhere (or reserveRequestWeight
        bought by an operator) would give: ends an ``exhaust_budget``."""
        self._reserved += max(0, int(n))

    def cross(self, asset: int | str, side: str, sz: float, t: float) -> list[dict[str, Any]]:
        """Another user's taker order of ``sz`` on ``side`` ("B" buys: it lifts our asks)
        that trades through our resting orders in price-time priority. The fills (ours)."""
        if side not in ("B", "A"):
            raise ValueError(f"side must be 'B' or 'A', got {side!r}")
        coin = self.coin_of(asset)
        d = self.sz_dec[self.index[coin]]
        q = float(round_size(sz, d, "down"))
        if q <= 0:
            raise ValueError(f"size {sz} is below the lot of {coin}")
        self.step(t)  # the market at t first, so the price below is computed on the right mid
        m = self.markets[coin]
        mid = m.mid
        hit = "A" if side == "B" else "B"
        mine = sorted((o for o in self._open.values() if o.coin == coin and o.side == hit),
                      key=lambda o: ((float(o.limit_px) if hit == "A" else -float(o.limit_px)), o.oid))
        target: float | None = None
        left = q
        for o in mine:
            target = float(o.limit_px)
            left -= o.sz
            if left <= 0:
                break
        if target is None:  # nothing of ours there: a print at the background's touch
            bids, asks = m.book(1)
            lvl = asks if side == "B" else bids
            px = lvl[0].px if lvl else mid
        else:  # one tick beyond our worst order needed: every order up to it fills first
            tick = float(tick_at(target, d))
            px = target + tick if side == "B" else max(target - tick, tick)
        reach = (px / mid - 1.0) * 1e4 if side == "B" else (1.0 - px / mid) * 1e4
        m.injected.append(TakerOrder(side, reach, q))  # type: ignore[arg-type]
        before = len(self._fills)
        self.step(t)
        return list(self._fills[before:])

    def take(self, oid: int, t: float) -> list[dict[str, Any]]:
        """Another user takes our open order ``oid`` in full now, walking through every
        order of ours ahead of it on its side; the fills made (none if it is not open)."""
        o = self._open.get(oid)
        if o is None:
            return []
        ahead = [x for x in self._open.values() if x.coin == o.coin and x.side == o.side
                 and (float(x.limit_px) >= float(o.limit_px) if o.side == "B"
                      else float(x.limit_px) <= float(o.limit_px))]
        return self.cross(o.coin, "A" if o.side == "B" else "B", sum(x.sz for x in ahead), t)

    # -- /info --------------------------------------------------------------------------------------------
    def handle_info(self, body: Any, t: float, charge_ip: bool = True) -> Reply:
        self.stats["info_requests"] += 1
        try:
            kind = _need(body, "type", str)
            handler = self._INFO.get(kind)
            if handler is None:
                raise Malformed(f"unknown variant `{kind}`")
            if charge_ip and not self.ip.try_charge(t, info_weight(kind)):
                self.stats["throttled"] += 1
                return Reply(429, RATE_LIMITED_BODY)
            answer = handler(self, body, t)
        except Malformed as e:
            self.stats["malformed"] += 1
            return Reply(422, f"{ERR_DESERIALIZE}: {e}")
        if charge_ip and kind in ("userFills", "userFillsByTime", "userFunding") and isinstance(answer, list):
            self.ip.add(t, info_weight(kind, len(answer)) - info_weight(kind))
        return Reply(200, answer)

    def _user_of(self, body: Any) -> str:
        return _address(_need(body, "user", str), "user")

    def _i_meta(self, body: Any, t: float) -> Any:
        return self.meta()

    def _i_meta_ctxs(self, body: Any, t: float) -> Any:
        return [self.meta(), [self.asset_ctx(c) for c in self.coins]]

    def _i_all_mids(self, body: Any, t: float) -> Any:
        return {c: num(round_price(self.markets[c].mid, self.sz_dec[i])) for i, c in enumerate(self.coins)}

    def _i_clearinghouse(self, body: Any, t: float) -> Any:
        user = self._user_of(body)
        positions = []
        ntl = margin = upnl_sum = cash = 0.0
        if user == self.user:
            for i, c in enumerate(self.coins):
                led = self.ledgers[c]
                cash += led.cash
                if led.pos == 0:
                    continue
                mid = self.markets[c].mid
                value = abs(led.pos) * mid
                upnl = (mid - led.entry) * led.pos
                m_used = value / led.leverage
                ntl += value
                margin += m_used
                upnl_sum += upnl
                positions.append({"type": "oneWay", "position": {
                    "coin": c, "szi": num(round(led.pos, self.sz_dec[i])),
                    "leverage": {"type": "cross" if led.is_cross else "isolated", "value": led.leverage},
                    "entryPx": num(Decimal(f"{led.entry:.10g}")) if led.entry > 0 else None,
                    "positionValue": usd(value), "unrealizedPnl": usd(upnl),
                    "returnOnEquity": usd(upnl / m_used if m_used else 0.0), "liquidationPx": None,
                    "marginUsed": usd(m_used), "maxLeverage": 50 if c == "BTC" else 20,
                    "cumFunding": {"allTime": usd(led.funding_paid_all), "sinceOpen": usd(led.funding_paid_open),
                                   "sinceChange": usd(led.funding_paid_change)}}})
            capital = self._capital()
        else:
            capital = 0.0
        raw = capital + cash
        value = raw + sum(self.ledgers[c].pos * self.markets[c].mid for c in self.coins) if user == self.user else 0.0
        summary = {"accountValue": usd(value), "totalNtlPos": usd(ntl), "totalRawUsd": usd(raw),
                   "totalMarginUsed": usd(margin)}
        for ap in positions:  # cross: the price at which the account's value falls to its maintenance margin
            p = ap["position"]
            led = self.ledgers[p["coin"]]
            liq = self.markets[p["coin"]].mid - (value - margin / 2) / led.pos
            p["liquidationPx"] = num(Decimal(f"{liq:.6g}")) if liq > 0 else None
        return {"marginSummary": summary, "crossMarginSummary": dict(summary),
                "crossMaintenanceMarginUsed": usd(margin / 2), "withdrawable": usd(max(0.0, value - margin)),
                "assetPositions": positions, "time": self.ms(t)}

    def _i_open_orders(self, body: Any, t: float) -> Any:
        user = self._user_of(body)
        if user != self.user:
            return []
        return [{"coin": o.coin, "limitPx": o.limit_px, "oid": o.oid, "side": o.side, "sz": num(o.sz),
                 "timestamp": o.timestamp} for o in self._open.values()]

    def _i_frontend_open_orders(self, body: Any, t: float) -> Any:
        user = self._user_of(body)
        return self.open_orders() if user == self.user else []

    def _i_user_fills(self, body: Any, t: float) -> Any:
        user = self._user_of(body)
        if user != self.user:
            return []
        return list(reversed(self._fills[-USER_FILLS_MAX:]))  # newest first

    def _i_user_fills_by_time(self, body: Any, t: float) -> Any:
        user = self._user_of(body)
        start = _need(body, "startTime", int)
        end = _need(body, "endTime", int, optional=True)
        if user != self.user:
            return []
        lo = bisect.bisect_left(self._fills, start, key=lambda f: f["time"])
        out = []
        for f in self._fills[lo:]:
            if end is not None and f["time"] > end:
                break
            out.append(f)
            if len(out) >= USER_FILLS_MAX:
                break
        return out  # oldest first

    def _i_user_rate_limit(self, body: Any, t: float) -> Any:
        self._user_of(body)
        return {"cumVlm": usd(self._cum_vlm), "nRequestsUsed": self._n_used, "nRequestsCap": self._cap(),
                "nRequestsSurplus": 0}

    def _i_user_fees(self, body: Any, t: float) -> Any:
        self._user_of(body)
        add, cross = num(Decimal(repr(self.maker_fee))), num(Decimal(repr(self.taker_fee)))
        return {"dailyUserVlm": [], "feeSchedule": {"cross": cross, "add": add, "spotCross": cross,
                                                    "spotAdd": add, "tiers": {"vip": [], "mm": []},
                                                    "referralDiscount": "0.0"},
                "userCrossRate": cross, "userAddRate": add, "userSpotCrossRate": cross, "userSpotAddRate": add,
                "activeReferralDiscount": "0.0", "trial": None, "feeTrialReward": "0.0",
                "nextTrialAvailableTimestamp": None}

    def _i_l2_book(self, body: Any, t: float) -> Any:
        coin = _need(body, "coin", str)
        return self.l2_book(coin, t) if coin in self.index else None

    def _i_order_status(self, body: Any, t: float) -> Any:
        user = self._user_of(body)
        if "oid" not in body:
            raise Malformed("missing field `oid`")
        ref = body["oid"]
        o: _Order | None = None
        if isinstance(ref, bool):
            raise Malformed("`oid`: invalid type")
        if isinstance(ref, int):
            o = self._orders.get(ref)
        elif isinstance(ref, str) and _CLOID_RE.match(ref):
            oid = self._by_cloid.get(ref.lower())
            o = None if oid is None else self._orders.get(oid)
        else:
            raise Malformed("`oid`: expected an integer or a cloid")
        if o is None or user != self.user:
            return {"status": "unknownOid"}
        return {"status": "order", "order": {"order": self._frontend(o), "status": o.status,
                                             "statusTimestamp": o.status_ts}}

    def _i_exchange_status(self, body: Any, t: float) -> Any:
        return {"specialStatuses": None, "time": self.ms(t)}

    def _i_user_funding(self, body: Any, t: float) -> Any:
        user = self._user_of(body)
        start = _need(body, "startTime", int)
        end = _need(body, "endTime", int, optional=True)
        if user != self.user:
            return []
        out = [f for f in self._funding_hist if f["time"] >= start and (end is None or f["time"] <= end)]
        return out[:USER_FUNDING_MAX]

    _INFO: dict[str, Callable[["FakeExchange", Any, float], Any]] = {
        "meta": _i_meta, "metaAndAssetCtxs": _i_meta_ctxs, "allMids": _i_all_mids,
        "clearinghouseState": _i_clearinghouse, "openOrders": _i_open_orders,
        "frontendOpenOrders": _i_frontend_open_orders, "userFills": _i_user_fills,
        "userFillsByTime": _i_user_fills_by_time, "userRateLimit": _i_user_rate_limit, "userFees": _i_user_fees,
        "l2Book": _i_l2_book, "orderStatus": _i_order_status, "exchangeStatus": _i_exchange_status,
        "userFunding": _i_user_funding}

    # -- the address budget -------------------------------------------------------------------------------
    def _cap(self) -> int:
        return self.cfg.sim.address_budget_initial + math.floor(self._cum_vlm) + self._reserved

    def _budget_refusal(self, n: int, t: float, cancel: bool) -> str | None:
        cap = self._cap()
        if cancel:
            cap = min(cap + CANCEL_CAP_EXTRA, 2 * cap)
        if self._n_used + n <= cap or t - self._last_action_t >= THROTTLED_EVERY_S:
            self._n_used += n
            self._last_action_t = max(self._last_action_t, t)
            return None
        return ERR_ADDRESS_BUDGET.format(used=self._n_used + n, cap=cap, vlm=self._cum_vlm)

    # -- /exchange ------------------------------------------------------------------------------------------
    def handle_exchange(self, body: Any, t: float, charge_ip: bool = True) -> Reply:
        self.stats["exchange_requests"] += 1
        if charge_ip and not self.ip.try_charge(t, exchange_weight(batch_len(body.get("action"))
                                                                   if isinstance(body, dict) else 1)):
            self.stats["throttled"] += 1
            return Reply(429, RATE_LIMITED_BODY)
        try:
            action = _need(body, "action", dict)
            kind = _need(action, "type", str)
            if kind not in self._ACTIONS:
                raise Malformed(f"unknown variant `{kind}`")
            nonce = _need(body, "nonce", int)
            sig = _need(body, "signature", dict)
            _need(sig, "r", str)
            _need(sig, "s", str)
            _need(sig, "v", int)
            vault = body.get("vaultAddress")
            if vault is not None:
                vault = _address(vault, "vaultAddress")
            expires = _need(body, "expiresAfter", int, optional=True)
            parsed = self._ACTIONS[kind][0](self, action)
        except Malformed as e:
            self.stats["malformed"] += 1
            return Reply(422, f"{ERR_DESERIALIZE}: {e}")
        return Reply(200, self._authorised(kind, action, parsed, nonce, sig, vault, expires, t))

    def _authorised(self, kind: str, action: dict[str, Any], parsed: Any, nonce: int, sig: dict[str, Any],
                    vault: str | None, expires: int | None, t: float) -> dict[str, Any]:
        try:
            signer = str(recover_agent_or_user_from_l1_action(action, sig, vault, nonce, expires, False)).lower()
        except Exception:  # a signature that recovers nothing
            self.stats["bad_signatures"] += 1
            return err(ERR_BAD_SIGNATURE)
        if signer != self.account and signer not in self.agents:
            self.stats["bad_signatures"] += 1
            return err(ERR_UNKNOWN_SIGNER.format(address=signer))
        if vault is not None and vault not in self.vaults:
            return err(ERR_UNKNOWN_VAULT.format(vault=vault, signer=signer))
        acting = vault if vault is not None else self.account
        now_ms = self.ms(t)
        if expires is not None and expires < now_ms:
            self.stats["expired"] += 1
            self._n_used += EXPIRED_COST
            return err(ERR_EXPIRED)
        nonces = self._nonces.setdefault(signer, _Nonces())
        refusal = nonces.refusal(nonce, now_ms)
        if refusal is not None:
            self.stats["nonce_refusals"] += 1
            return err(refusal)
        if acting != self.user:
            return err(ERR_MUST_DEPOSIT.format(user=acting))
        cancel = kind in ("cancel", "cancelByCloid")
        refusal = self._budget_refusal(batch_len(action), t, cancel)
        if refusal is not None:
            self.stats["budget_refusals"] += 1
            return err(refusal)
        nonces.commit(nonce)
        acts = self.stats["actions"]
        acts[kind] = acts.get(kind, 0) + 1
        return self._ACTIONS[kind][1](self, parsed, t)

    # parsers: raise Malformed on a shape the API would not deserialize
    def _p_order(self, action: dict[str, Any]) -> list[_Wire]:
        orders = _need(action, "orders", list)
        grouping = action.get("grouping", "na")
        if grouping != "na":
            if isinstance(grouping, str) and grouping in ("normalTpsl", "positionTpsl"):
                raise _Unsupported(ERR_GROUPING)
            raise Malformed("`grouping`: unknown variant")
        return [_parse_order(w) for w in orders]

    def _p_cancel(self, action: dict[str, Any]) -> list[tuple[int, int]]:
        return [(_need(c, "a", int), _need(c, "o", int)) for c in _need(action, "cancels", list)]

    def _p_cancel_by_cloid(self, action: dict[str, Any]) -> list[tuple[int, str]]:
        out = []
        for c in _need(action, "cancels", list):
            asset = _need(c, "asset", int)
            cloid = _need(c, "cloid", str)
            if not _CLOID_RE.match(cloid):
                raise Malformed(f"`cloid`: invalid cloid {cloid!r}")
            out.append((asset, cloid.lower()))
        return out

    def _p_batch_modify(self, action: dict[str, Any]) -> list[tuple[int | str, _Wire]]:
        out: list[tuple[int | str, _Wire]] = []
        for m in _need(action, "modifies", list):
            if not isinstance(m, dict) or "oid" not in m:
                raise Malformed("missing field `oid`")
            ref = m["oid"]
            if isinstance(ref, bool) or not isinstance(ref, (int, str)):
                raise Malformed("`oid`: invalid type")
            if isinstance(ref, str):
                if not _CLOID_RE.match(ref):
                    raise Malformed(f"`oid`: invalid cloid {ref!r}")
                ref = ref.lower()
            out.append((ref, _parse_order(_need(m, "order", dict))))
        return out

    def _p_modify(self, action: dict[str, Any]) -> list[tuple[int | str, _Wire]]:
        return self._p_batch_modify({"modifies": [{"oid": action.get("oid"), "order": action.get("order")}]})

    def _p_schedule_cancel(self, action: dict[str, Any]) -> int | None:
        return _need(action, "time", int, optional=True)

    def _p_none(self, action: dict[str, Any]) -> None:
        return None

    def _p_update_leverage(self, action: dict[str, Any]) -> tuple[int, bool, int]:
        return _need(action, "asset", int), _need(action, "isCross", bool), _need(action, "leverage", int)

    def _p_reserve(self, action: dict[str, Any]) -> int:
        return _need(action, "weight", int)

    # actions (authorised, budget spent)
    def _a_order(self, wires: list[_Wire], t: float) -> dict[str, Any]:
        if not wires:
            return err(ERR_EMPTY_BATCH)
        statuses = [self._place(w, t) for w in wires]
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}

    def _a_cancel(self, cancels: list[tuple[int, int]], t: float) -> dict[str, Any]:
        if not cancels:
            return err(ERR_EMPTY_BATCH)
        statuses: list[Any] = []
        for a, oid in cancels:
            o = self._open.get(oid)
            statuses.append(self._cancel_one(o, a, t))
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}

    def _a_cancel_by_cloid(self, cancels: list[tuple[int, str]], t: float) -> dict[str, Any]:
        if not cancels:
            return err(ERR_EMPTY_BATCH)
        statuses: list[Any] = []
        for a, cloid in cancels:
            oid = self._by_cloid.get(cloid)
            statuses.append(self._cancel_one(None if oid is None else self._open.get(oid), a, t))
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}

    def _cancel_one(self, o: _Order | None, asset: int, t: float) -> Any:
        if o is None or o.asset != asset or o.status != "open":
            return {"error": ERR_MISSING}
        res = self.engine.cancel(o.coin, [o.key], t)
        if not res or not isinstance(res[0], OrderCancelled):
            return {"error": ERR_MISSING}
        self._close(o, "canceled", t)
        self.stats["cancels"] += 1
        self._push_updates([self._ws_order(o, "canceled", t)])
        return "success"

    def _a_batch_modify(self, mods: list[tuple[int | str, _Wire]], t: float) -> dict[str, Any]:
        if not mods:
            return err(ERR_EMPTY_BATCH)
        statuses: list[Any] = []
        for ref, w in mods:
            if isinstance(ref, int):
                o = self._open.get(ref)
            else:
                oid = self._by_cloid.get(ref)
                o = None if oid is None else self._open.get(oid)
            if o is None:
                statuses.append({"error": ERR_MODIFY_MISSING})
                continue
            static = self._static_refusal(w)
            if static is not None:  # the new order is invalid: the old one stays
                statuses.append({"error": static})
                continue
            self.engine.cancel(o.coin, [o.key], t)
            self._close(o, "canceled", t)
            self._push_updates([self._ws_order(o, "canceled", t)])
            statuses.append(self._place(w, t))
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}

    def _a_schedule_cancel(self, at_ms: int | None, t: float) -> dict[str, Any]:
        if at_ms is None:
            self.engine.schedule_cancel(t, None)
            self.stats["schedule_cancel_clears"] += 1
            return ok_default()
        if self._dms_refuse_n > 0:
            self._dms_refuse_n -= 1
            self.stats["schedule_cancel_refused"] += 1
            return err(self._dms_refuse_text)
        refusal = self.engine.schedule_cancel(t, self.t_of(at_ms))
        if refusal is not None:
            return err(refusal)
        self.stats["schedule_cancel_sets"] += 1
        return ok_default()

    def _a_noop(self, _: None, t: float) -> dict[str, Any]:
        return ok_default()

    def _a_update_leverage(self, p: tuple[int, bool, int], t: float) -> dict[str, Any]:
        asset, is_cross, lev = p
        if not 0 <= asset < len(self.coins) or not 1 <= lev <= 50:
            return err(f"Invalid leverage value. asset={asset}")
        led = self.ledgers[self.coins[asset]]
        led.leverage, led.is_cross = lev, is_cross
        return ok_default()

    def _a_reserve(self, weight: int, t: float) -> dict[str, Any]:
        if weight < 0:
            return err("Invalid weight.")
        self._reserved += weight
        self.ledgers[self.coins[0]].cash -= 0.0005 * weight  # paid from the perps balance
        return ok_default()

    _ACTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
        "order": (_p_order, _a_order), "cancel": (_p_cancel, _a_cancel),
        "cancelByCloid": (_p_cancel_by_cloid, _a_cancel_by_cloid),
        "batchModify": (_p_batch_modify, _a_batch_modify), "modify": (_p_modify, _a_batch_modify),
        "scheduleCancel": (_p_schedule_cancel, _a_schedule_cancel), "noop": (_p_none, _a_noop),
        "updateLeverage": (_p_update_leverage, _a_update_leverage),
        "reserveRequestWeight": (_p_reserve, _a_reserve)}

    # -- one order ------------------------------------------------------------------------------------------
    def _static_refusal(self, w: _Wire) -> str | None:
        """Refusals that depend on the order alone (and the position): tick, lot, $10."""
        if not 0 <= w.a < len(self.coins):
            return ERR_INVALID_ASSET.format(i=w.a)
        d = self.sz_dec[w.a]
        if w.tif is None:
            return ERR_TRIGGER_UNSUPPORTED.format(i=w.a)
        if not (w.p > 0 and is_valid_price(w.p, d)):
            return ERR_TICK.format(i=w.a)
        if not is_valid_size(w.s, d):
            return ERR_SIZE.format(i=w.a)
        if not meets_min_notional(w.p, w.s):
            return ERR_MIN_NOTIONAL.format(i=w.a)
        if w.r:
            pos = self.ledgers[self.coins[w.a]].pos
            if pos == 0 or (pos > 0) == w.b:
                return ERR_REDUCE_ONLY.format(i=w.a)
        return None

    def _reject(self, text: str) -> dict[str, Any]:
        self.stats["orders_rejected"] += 1
        return {"error": text}

    # -- margin ---------------------------------------------------------------------------------------------
    def _capital(self) -> float:
        return float(self.cfg.portfolio.capital_usd) if self.capital_usd is None else self.capital_usd

    def account_value(self) -> float:
        return self._capital() + sum(led.cash + led.pos * self.markets[c].mid for c, led in self.ledgers.items())

    def _margin_needed(self, extra: tuple[str, float] | None = None) -> float:
        """Initial margin of every position and resting order (at each asset's leverage)."""
        need = 0.0
        for c, led in self.ledgers.items():
            ntl = abs(led.pos) * self.markets[c].mid
            ntl += sum(float(o.limit_px) * o.sz for o in self._open.values() if o.coin == c and not o.reduce_only)
            if extra is not None and extra[0] == c:
                ntl += extra[1]
            need += ntl / led.leverage
        return need

    def set_capital(self, usd: float | None) -> None:
        self.capital_usd = None if usd is None else float(usd)

    def liquidate(self, asset: int | str, t: float) -> list[dict[str, Any]]:
        """The exchange liquidates our position in ``asset`` at the mark: our orders there are
        cancelled (liquidatedCanceled), the position is closed by a fill carrying
        ``liquidation``, and a userEvents ``liquidation`` is pushed. The fills made."""
        self.step(t)
        coin = self.coin_of(asset)
        led = self.ledgers[coin]
        mine = [o for o in self._open.values() if o.coin == coin]
        if mine:
            self.engine.cancel(coin, [o.key for o in mine], t)
            for o in mine:
                self._close(o, "liquidatedCanceled", t)
            self._push_updates([self._ws_order(o, "liquidatedCanceled", t) for o in mine])
        if led.pos == 0:
            return []
        mid = self.markets[coin].mid
        i = self.index[coin]
        value = self.account_value()
        side = "A" if led.pos > 0 else "B"
        oid = self._oid()
        o = _Order(oid=oid, asset=i, coin=coin, side=side, limit_px=num(Decimal(f"{mid:.6g}")), sz=abs(led.pos),
                   orig_sz=abs(led.pos), timestamp=self.ms(t), cloid=None, tif="Ioc", reduce_only=True,
                   key=f"o{oid}", status="filled", status_ts=self.ms(t))
        tid = self._next_own_tid
        self._next_own_tid += 1
        ntl = abs(led.pos) * mid
        fill = self._book_fill(o, mid, abs(led.pos), 0.0, tid, t, crossed=True)
        fill["liquidation"] = {"liquidatedUser": self.user, "markPx": num(Decimal(f"{mid:.6g}")), "method": "market"}
        self._emit_fills([(fill, None)])
        self.liquidations += 1
        self._push(("user", self.user), "user", {"liquidation": {
            "lid": self.liquidations, "liquidator": "0x" + "11" * 20, "liquidated_user": self.user,
            "liquidated_ntl_pos": usd(ntl), "liquidated_account_value": usd(value)}})
        return [fill]

    def _place(self, w: _Wire, t: float) -> dict[str, Any]:
        if self._reject_n > 0:
            self._reject_n -= 1
            return self._reject(self._reject_text)
        static = self._static_refusal(w)
        if static is not None:
            return self._reject(static)
        if not w.r and self._margin_needed((self.coins[w.a], float(w.p) * float(w.s))) > self.account_value():
            self.stats["margin_rejects"] += 1
            return self._reject(ERR_MARGIN.format(i=w.a))
        coin = self.coins[w.a]
        if w.c is not None and any(o.cloid == w.c for o in self._open.values()):
            return self._reject(ERR_DUP_CLOID.format(i=w.a))
        side = "B" if w.b else "A"
        oid = self._oid()
        o = _Order(oid=oid, asset=w.a, coin=coin, side=side, limit_px=num(w.p), sz=float(w.s), orig_sz=float(w.s),
                   timestamp=self.ms(t), cloid=w.c, tif=w.tif or "Gtc", reduce_only=w.r, key=f"o{oid}",
                   status_ts=self.ms(t))
        if w.tif != "Alo":
            self._self_trade(o, t)
            crossed = self._sweep(o, t)
            if crossed is not None:
                return crossed
            if w.tif == "Ioc":
                self._remember(o)
                o.status, o.status_ts = "iocCancelRejected", self.ms(t)
                self._push_updates([self._ws_order(o, "iocCancelRejected", t)])
                return self._reject(ERR_IOC.format(i=w.a))
        res = self.engine.place(coin, [NewOrder(o.key, side, float(w.p), float(w.s))], t)[0]  # type: ignore[arg-type]
        self._remember(o)
        if isinstance(res, OrderReject):
            reason = res.reason if " asset=" in res.reason else f"{res.reason} asset={w.a}"
            status = "badAloPxRejected" if reason.startswith("Post only order") else "rejected"
            o.status, o.status_ts = status, self.ms(t)
            self._push_updates([self._ws_order(o, status, t)])
            return self._reject(reason)
        assert isinstance(res, OrderAck)
        self._open[oid] = o
        self._by_key[o.key] = o
        self.stats["orders_placed"] += 1
        self._push_updates([self._ws_order(o, "open", t)])
        resting: dict[str, Any] = {"oid": oid}
        if o.cloid is not None:
            resting["cloid"] = o.cloid
        return {"resting": resting}

    def _self_trade(self, o: _Order, t: float) -> None:
        """Cancel our own resting orders that ``o`` would trade with (expire maker)."""
        px = float(o.limit_px)
        victims = [r for r in self._open.values() if r.coin == o.coin and r.side != o.side
                   and (float(r.limit_px) <= px if o.side == "B" else float(r.limit_px) >= px)]
        if not victims:
            return
        self.engine.cancel(o.coin, [r.key for r in victims], t)
        updates = []
        for r in victims:
            self._close(r, "selfTradeCanceled", t)
            updates.append(self._ws_order(r, "selfTradeCanceled", t))
        self._push_updates(updates)

    def _sweep(self, o: _Order, t: float) -> dict[str, Any] | None:
        """A Gtc/Ioc order that crosses the background book takes its displayed levels up
        to its limit (see the module doc); None if it crosses nothing."""
        i = o.asset
        d = self.sz_dec[i]
        limit = float(o.limit_px)
        bids, asks = self.markets[o.coin].book(TAKER_SWEEP_LEVELS)
        levels = asks if o.side == "B" else bids
        if not levels or (levels[0].px > limit if o.side == "B" else levels[0].px < limit):
            return None
        if o.reduce_only:  # never beyond the position it reduces
            o.sz = min(o.sz, abs(self.ledgers[o.coin].pos))
        left = o.sz
        pieces: list[tuple[float, float]] = []
        for lv in levels:
            if (lv.px > limit if o.side == "B" else lv.px < limit) or left <= 0:
                break
            q = min(left, lv.sz)
            pieces.append((lv.px, q))
            left = round(left - q, d)
        if left > 0 and o.tif == "Gtc":
            pieces.append((limit, left))
            left = 0.0
        self._remember(o)
        items = []
        trades = []
        total = notional = 0.0
        for px, q in pieces:
            tid = self._next_own_tid
            self._next_own_tid += 1
            fee = px * q * self.taker_fee
            fill = self._book_fill(o, px, q, fee, tid, t, crossed=True)
            o.sz = round(o.sz - q, d)
            total += q
            notional += px * q
            users = (self.user, BACKGROUND_USERS[1]) if o.side == "B" else (BACKGROUND_USERS[0], self.user)
            trades.append(self._trade(o.coin, o.side, px, q, tid, t, users))
            items.append((fill, None))
        status = "filled" if o.sz <= 0 else "canceled"
        if o.sz <= 0:
            o.sz = 0.0
        o.status, o.status_ts = status, self.ms(t)
        if items:  # the order's final state rides with its last fill
            items[-1] = (items[-1][0], self._ws_order(o, status, t))
        self._push_trades(trades)
        self._emit_fills(items)
        self.stats["orders_placed"] += 1
        filled: dict[str, Any] = {"totalSz": num(round(total, d)),
                                  "avgPx": num(Decimal(f"{notional / total:.8g}")) if total else "0", "oid": o.oid}
        if o.cloid is not None:
            filled["cloid"] = o.cloid
        return {"filled": filled}


class _Unsupported(Malformed):
    """A valid request the fake does not serve (answered like a malformed one)."""
