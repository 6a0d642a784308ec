"""``HyperliquidVenue``: the real exchange behind the gateway (a ``VenueCore``).

It runs on the venue runtime's trio thread and joins four things:

- **Market and account data** over one WebSocket (``Feed``): l2Book, trades and
  activeAssetCtx per asset; userFills, orderUpdates and user events for the account.
  Books go to ``gateway.deliver_book``, trades to ``deliver_trade``, fills, cancels and
  funding to the asset's order actor as ``VenueBatch``. After every reconnect each
  order actor is told to reconcile (``gateway.reconnected``).
- **Signed actions** over REST: the order actors' commands are queued and flushed by
  one task, one request in flight at a time, cancels before placements, every asset's
  commands batched into one ``cancelByCloid`` and one ``order`` action. Each status is
  mapped back to the order it answers; a batch answered with fewer statuses than
  orders rejects the rest with the first error; a request whose outcome is unknown
  rejects locally *and* makes the asset reconcile (an order that did land is then
  unknown to us and cancelled).
- **Reads** for reconciliation: open orders, clearinghouseState and fills since a
  watermark, shared between assets (they are account-wide on Hyperliquid) so five order
  actors resyncing at once cost one set of requests, not five.
- **Budgets**: IP weight counted client-side, the address budget refreshed from
  ``userRateLimit`` and counted as we spend; shown in ``stats`` and the live view.

Time: the runtime clock is moved to the Unix epoch (seconds) when the venue starts, so
venue timestamps (``time`` / 1000) and the runtime clock compare directly: the fill
watermark, the stale-book guard and ``scheduleCancel`` all rely on that.
"""
from __future__ import annotations

import collections
import logging
import math
import time
from typing import Any, Awaitable, Callable

import msgspec
import trio

from config import Config
from messages.market import BookSnapshot, Level, Trade
from messages.risk import FillHistory, Liquidated, MarginState
from messages.orders import (AccountSnapshot, CancelOrders, Fill, Funding, OpenOrder, OrderAck, OrderCancelled,
                             OrderReject, PlaceOrders, VenueBatch)
from exchange_rules import ticks as rules
from exchange_rules.cloid import parse_cloid
from venues.gateway import Gateway
from venues.hyperliquid import actions, checks, wire
from venues.hyperliquid.budget import AddressBudget
from venues.hyperliquid.feed import Feed
from venues.hyperliquid.rest import ActionOutcomeUnknown, HyperliquidRest, Throttled, WeightReserved
from venues.hyperliquid.signing import NonceSource, Signer
from venues.runtime import VenueRequestFailed, VenueUnavailable

log = logging.getLogger(__name__)

SHARED_READ_S = 1.0  # an account-wide read this fresh answers every asset that asks
FILL_PAGE = 2000  # userFillsByTime answers at most this many
FILL_PAGES_MAX = 5  # ... and only the 10,000 most recent fills are reachable
BUDGET_REFRESH_S = 60.0
STATUS_EVERY_S = 2.0
MARGIN_EVERY_S = 10.0  # margin ratio and liquidation prices read this often (clearinghouseState, weight 2)
SEEN_TIDS = 20_000
ROUTINE_MAX_DEFER_S = 30.0  # a fill sync or an audit deferred this long goes anyway
AUDIT_RETRY_S = 5.0  # an audit deferred for the IP weight reserve is tried again this soon
AUDIT_EVERY_S = 30.0  # open orders read this often (weight 20: 40 of the minute's 1200)
AUDIT_GRACE_S = 3.0  # an order this young may still be on its way into our map
CATCH_UP_TRIES = 4  # a read of missed fills that fails is tried this often in all, ...
CATCH_UP_RETRY_S = 0.5  # ... after this long, doubling (0.5 + 1 + 2 s: well before the fill sync)
FILL_OWED_GRACE_S = 1.0  # an order update and its fills race on two channels: wait this long for the fills
DOOMED_EXTRA_S = 30.0  # an order whose placement outcome is unknown is watched this long past its expiry
CANCELLED_MEMORY = 4_096  # orders our own answers cancelled, remembered for the feed's stale updates


class ConfigMismatch(VenueUnavailable):
    """The exchange does not list an asset of ours, or lists it with other sizes."""


class HyperliquidStats(msgspec.Struct, kw_only=True):
    actions_sent: int = 0
    orders_sent: int = 0
    cancels_sent: int = 0
    modifies_sent: int = 0
    rejects: int = 0
    unknown_outcomes: int = 0
    throttled: int = 0
    fills: int = 0
    duplicate_fills: int = 0
    funding_events: int = 0
    dms_renewals: int = 0
    dms_triggers_today: int = 0
    unknown_orders_cancelled: int = 0
    local_rejects: int = 0
    internal_errors: int = 0  # exceptions contained while handling one batch (each: cancel, reconcile)
    unmanaged_cancelled: int = 0  # orders of ours resting untracked (unknown outcome, lost answer): cancelled
    audits: int = 0
    bad_input: int = 0  # feed items that failed the edge checks (NaN, crossed, another user, ...): dropped
    leverage_set: int = 0  # assets whose updateLeverage the exchange accepted at start
    liquidations: int = 0  # liquidation events of ours seen (userEvents or a fill's liquidation field)
    fill_gaps: int = 0  # a feed fill's startPosition did not follow on from the last: fills were missed
    fills_owed: int = 0  # an order update showed more filled than the feed brought, and it stayed so


class _Shared:
    """A read that several assets may ask for at once: one request, one answer."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.at = math.inf  # when it completed (runtime clock)
        self.key: Any = None


class HyperliquidVenue:
    name = "hyperliquid"

    def __init__(self, cfg: Config, gateway: Gateway, *, signer: Signer, account: str | None = None) -> None:
        self.cfg = cfg
        self.hl = cfg.venue.hyperliquid
        self.gateway = gateway
        self.signer = signer
        self.account = (account or self.hl.account_address or signer.address).lower()
        self.vault = self.hl.vault_address.lower() or None
        self.user = self.vault or self.account  # whose orders, fills and positions these are
        self.is_mainnet = self.hl.signs_mainnet()
        self.assets = tuple(cfg.portfolio.assets)
        self.rest = HyperliquidRest(self.hl.rest_url(), timeout_s=self.hl.request_timeout_s)
        self.nonces = NonceSource()
        self.budget = AddressBudget()
        self.stats = HyperliquidStats()
        self.asset_ctx: dict[str, wire.PerpAssetCtx] = {}
        self.maker_fee = self.taker_fee = math.nan  # the account's own rates (userFees)
        self.last_margin: dict[str, float] = {}  # account value and margin ratio, last read
        self.feed: Feed | None = None
        self._index: dict[str, int] = {}
        self._coin_of: dict[int, str] = {}
        self._szd: dict[str, int] = {}
        self._queue: list[CancelOrders | PlaceOrders] = []
        self._wake = trio.Event()
        self._busy: set[str] = set()  # assets with a request in flight
        self._idle = trio.Event()  # set (and replaced) whenever a flush ends
        self._orders: dict[str, list[Any]] = {}  # cloid -> [asset, oid, remaining size]
        # orders an answer of ours cancelled (a cancel, a modify's old order), oldest first: the
        # feed's updates from before the cancel can arrive after its answer, and such an update
        # says "open" of an order that is gone; it is not an untracked order to cancel
        self._cancelled: dict[str, list[Any]] = {}
        self._by_oid: dict[int, str] = {}
        self._seen_tids: set[int] = set()
        self._warned: set[str] = set()
        # placements whose outcome is unknown: the order actor was told they failed, so if
        # one of them shows up resting it is cancelled on sight (cloid -> watch until)
        self._doomed: dict[str, float] = {}
        self._unmanaged: list[tuple[str, int, str]] = []  # (asset, oid, why) to cancel now
        self._audit_wake = trio.Event()
        self._deferred_since: dict[str, float] = {}  # routine read -> when the reserve first put it off
        self._tid_order: collections.deque[int] = collections.deque()
        # per coin: the position after the last fill the feed brought, and that fill's time
        # (ms); the next fill's startPosition must start there (_follow_on)
        self._fill_chain: dict[str, tuple[float, int]] = {}
        self._catching_up: set[str] = set()  # coins with a catch-up read of their fills in flight
        self._catch_again: dict[str, int] = {}  # ... and a gap seen meanwhile: read again from then
        # cloid -> [size its order update is ahead of its fills by, the update's time (ms)]
        self._owed: dict[str, list[Any]] = {}
        self._nursery: trio.Nursery | None = None
        self._shared: dict[str, _Shared] = {}
        self._seq = 0
        self._dms_day = -1
        self._dms_fired_ms = -1  # the status time of the last firing seen
        self.book_to_wire_ns: collections.deque[int] = collections.deque(maxlen=100_000)
        self.modify_orders = True  # replace a quote with batchModify where possible
        gateway.attach(self)

    # -- the service --------------------------------------------------------------------------
    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self._align_clock()
        async with self.rest:
            await self._load_meta()
            await self._refresh_budget()
            await self._set_leverage()
            subs: list[dict[str, Any]] = []
            for a in self.assets:
                subs += [{"type": "l2Book", "coin": a}, {"type": "trades", "coin": a},
                         {"type": "activeAssetCtx", "coin": a}]
            subs += [{"type": "userFills", "user": self.user}, {"type": "orderUpdates", "user": self.user},
                     {"type": "userEvents", "user": self.user}]
            self.feed = Feed(self.hl.websocket_url(), subs, self._on_frame, self._on_connected,
                             ping_every_s=self.hl.ping_every_s, stall_s=self.hl.stall_s,
                             on_lost=self._on_lost)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(self.feed.run)
                nursery.start_soon(self._flusher)
                nursery.start_soon(self._budget_loop)
                nursery.start_soon(self._audit_loop)
                task_status.started()

    def _align_clock(self) -> None:
        """Runtime clock := Unix time, so venue times and ours are one scale."""
        clock = trio.lowlevel.current_clock()
        rate = getattr(clock, "rate", 1.0)
        if rate != 1.0:
            raise VenueUnavailable(f"the Hyperliquid venue runs in real time (speed 1), not x{rate:g}")
        ahead = time.time() - trio.current_time()
        jump = getattr(clock, "jump", None)
        if ahead > 0 and jump is not None:
            jump(ahead)

    async def _load_meta(self) -> None:
        meta: wire.Meta = await self.rest.info({"type": "meta"}, wire.Meta)
        listed = {m.name: (i, m) for i, m in enumerate(meta.universe)}
        for a in self.assets:
            if a not in listed:
                raise ConfigMismatch(f"{a} is not a perpetual listed on {self.hl.rest_url()} "
                                     f"(it lists {len(listed)}: {', '.join(sorted(listed)[:12])}...)")
            i, m = listed[a]
            if m.isDelisted:
                raise ConfigMismatch(f"{a} is delisted on {self.hl.rest_url()}")
            ours = self.cfg.assets[a].market.sz_decimals
            if m.szDecimals != ours:
                raise ConfigMismatch(f"{a}: the exchange's szDecimals is {m.szDecimals}, the config says {ours}; "
                                     f"set [assets.{a}.market] sz_decimals = {m.szDecimals}")
            self._index[a] = i
            self._coin_of[i] = a
            self._szd[a] = m.szDecimals
        # mark, oracle and funding before the feed's first activeAssetCtx arrives
        both = await self.rest.info({"type": "metaAndAssetCtxs"}, tuple[wire.Meta, tuple[wire.PerpAssetCtx, ...]])
        for a, i in self._index.items():
            if i < len(both[1]):
                self.asset_ctx[a] = both[1][i]
        fees: wire.UserFees = await self.rest.info({"type": "userFees", "user": self.user}, wire.UserFees)
        self.maker_fee, self.taker_fee = fees.userAddRate, fees.userCrossRate
        log.info("Hyperliquid %s as %s (signer %s): maker fee %g, taker fee %g",
                 "mainnet" if self.is_mainnet else "testnet", self.user, self.signer.address,
                 self.maker_fee, self.taker_fee)

    async def _refresh_budget(self) -> None:
        lim: wire.UserRateLimit = await self.rest.info({"type": "userRateLimit", "user": self.user},
                                                       wire.UserRateLimit)
        self.budget.refresh(trio.current_time(), lim.nRequestsUsed, lim.nRequestsCap, lim.cumVlm)

    async def _budget_loop(self) -> None:
        refreshed = margined = trio.current_time()
        while True:
            await trio.sleep(STATUS_EVERY_S)
            try:
                if trio.current_time() - refreshed >= BUDGET_REFRESH_S:
                    refreshed = trio.current_time()
                    try:
                        await self._refresh_budget()
                    except VenueRequestFailed as e:
                        log.warning("address budget refresh failed: %s", e)
                if trio.current_time() - margined >= MARGIN_EVERY_S:
                    margined = trio.current_time()
                    try:
                        await self.refresh_margin()
                    except VenueRequestFailed as e:
                        log.warning("margin refresh failed: %s", e)
                self._publish_status()
            except Exception:  # a status is not worth stopping the venue for
                self.stats.internal_errors += 1
                log.exception("address budget / status update failed")

    async def _set_leverage(self) -> None:
        """Each asset's leverage and margin mode from the config ([risk] leverage, margin_mode),
        before its first order. A refusal is an event; the asset trades at the exchange's."""
        for a in self.assets:
            r = self.cfg.assets[a].risk
            action = actions.update_leverage_action(self._index[a], r.margin_mode == "cross", r.leverage)
            try:
                answer = await self._post_action(action, 1)
            except VenueRequestFailed as e:
                answer = {"status": "err", "response": str(e)}
            if answer.get("status") == "ok":
                self.stats.leverage_set += 1
                log.info("%s: leverage %dx %s", a, r.leverage, r.margin_mode)
            else:
                why = str(answer.get("response"))[:200]
                log.warning("%s: updateLeverage refused: %s", a, why)
                self._event("margin", a, f"leverage {r.leverage}x {r.margin_mode} not set: {why}")

    async def refresh_margin(self) -> None:
        """Account value, margin ratio and each position's liquidation price, to every
        asset's risk core (through its order actor): sizing and the margin breakers."""
        state = await self._state()
        ms = state.marginSummary
        value = ms.accountValue
        if not (math.isfinite(value) and math.isfinite(state.crossMaintenanceMarginUsed)):
            self._bad_input("clearinghouseState", "*", f"account value {value!r} or maintenance margin is not finite")
            return
        capital = float(self.cfg.portfolio.capital_usd)
        share = max(0.0, min(1.0, value / capital)) if capital > 0 else 1.0
        ratio = state.crossMaintenanceMarginUsed / value if value > 0 else 1e9
        liq = {p.position.coin: p.position.liquidationPx for p in state.assetPositions}
        now = trio.current_time()
        self.last_margin = {"account_value": value, "margin_ratio": ratio}
        by_asset: dict[str, list[Any]] = {}
        for a in self.assets:
            ctx = self.asset_ctx.get(a)
            mark = ctx.markPx if ctx is not None else math.nan
            px = liq.get(a)
            px = px if px is not None and math.isfinite(px) and px > 0 else math.nan
            by_asset[a] = [MarginState(a, now, value, share, ratio, px, mark)]
        self._deliver(by_asset)

    def _on_liquidation(self, detail: dict[str, Any], coin: str | None) -> None:
        """A liquidation of ours: the asset halts (for an account-wide liquidation event,
        every cross-margin asset: an isolated one's own fills say when it is liquidated)."""
        self.stats.liquidations += 1
        text = ", ".join(f"{k}={v}" for k, v in detail.items() if k not in ("liquidatedUser", "liquidated_user"))
        assets = [coin] if coin in self._index else [a for a in self.assets
                                                     if self.cfg.assets[a].risk.margin_mode == "cross"]
        now = trio.current_time()
        for a in assets:
            self._event("liquidation", a, f"liquidated by the exchange ({text})")
        self._deliver({a: [Liquidated(a, now, text)] for a in assets})

    def _publish_status(self) -> None:
        board = self.gateway.board
        if board is None:
            return
        now = trio.current_time()
        board.venue_status.update({  # the dead-man's switch's keys are the gateway's
            "ip_weight_used": self.rest.ip.used(now), "ip_weight_cap": self.rest.ip.per_minute,
            "address_left": self.budget.remaining(), "address_cap": self.budget.cap,
            "reconnects": self.feed.stats.reconnects if self.feed else 0,
            "maker_fee_bp": round(self.maker_fee * 1e4, 3), "taker_fee_bp": round(self.taker_fee * 1e4, 3),
            "dms_at": self.gateway.dms_at or 0.0, "now": now, "network": "mainnet" if self.is_mainnet else "testnet",
        })

    def _event(self, kind: str, asset: str, text: str) -> None:
        board = self.gateway.board
        if board is not None:
            board.event(trio.current_time(), kind, asset, text)

    # -- the feed -------------------------------------------------------------------------------
    def _on_connected(self, first: bool) -> None:
        self._publish_status()
        if not first:
            # The fill chain is kept: the reconcile's read moves it past what was missed
            # while down, and if that read fails, the first fill after it shows the gap.
            now = trio.current_time()
            for asset in self.assets:  # each order actor reconciles before it trusts its map
                self.gateway.reconnected(asset, now)

    def _on_lost(self, why: str) -> None:
        self._event("info", "*", f"Hyperliquid WebSocket lost: {why}; reconnecting")

    def _on_frame(self, frame: Any, recv_ns: int, raw: str | bytes = b"") -> None:
        now_ms = time.time() * 1000.0  # the runtime clock is Unix time too, but frames may come before it is
        if isinstance(frame, wire.BookFrame):
            why = checks.book(frame.data, now_ms)
            if why:
                self._bad_input("l2Book", frame.data.coin, why)
            else:
                self._on_book(frame.data, recv_ns)
        elif isinstance(frame, wire.TradesFrame):
            for t in self._checked("trades", frame.data, checks.trade, now_ms):
                if t.coin in self._index:
                    self.gateway.deliver_trade(Trade(t.coin, t.time / 1000.0, t.px, t.sz, t.side, t.tid))
        elif isinstance(frame, wire.UserFillsFrame):
            why = checks.user(frame.data.user, self.user)
            if why:
                self._bad_input("userFills", "*", why)
            else:
                self._on_fills(tuple(self._checked("userFills", frame.data.fills, checks.fill, now_ms)),
                               chain=not frame.data.isSnapshot)
        elif isinstance(frame, wire.OrderUpdatesFrame):
            self._on_order_updates(tuple(self._checked("orderUpdates", frame.data, checks.order_update, now_ms)))
        elif isinstance(frame, wire.UserEventFrame):
            ev = frame.data
            if ev.fills:
                self._on_fills(tuple(self._checked("user fills", ev.fills, checks.fill, now_ms)))
            if ev.funding is not None:
                why = checks.funding(ev.funding, now_ms)
                if why:
                    self._bad_input("user funding", ev.funding.coin, why)
                else:
                    self._on_funding(ev.funding)
            if ev.nonUserCancel:
                for c in ev.nonUserCancel:
                    self._on_gone(c.coin, c.oid, "nonUserCancel")
            if ev.liquidation is not None:
                who = str(ev.liquidation.get("liquidated_user") or ev.liquidation.get("liquidatedUser") or "")
                if who.lower() == self.user.lower():
                    self._on_liquidation(ev.liquidation, None)
        elif isinstance(frame, wire.AssetCtxFrame):
            if frame.data.coin in self._index:
                why = checks.asset_ctx(frame.data.ctx)
                if why:
                    self._bad_input("activeAssetCtx", frame.data.coin, why)
                else:
                    self.asset_ctx[frame.data.coin] = frame.data.ctx

    def _checked(self, channel: str, items: Any, check: Callable[..., str], now_ms: float) -> list[Any]:
        return checks.keep(items, check, lambda it, why: self._bad_input(channel, getattr(it, "coin", "*"), why,
                                                                          it), now_ms)

    def _bad_input(self, channel: str, coin: str, why: str, item: Any = None) -> None:
        """Counted every time, logged once per channel and kind of problem, then dropped."""
        self.stats.bad_input += 1
        key = f"{channel}:{why.split(' ', 1)[0]}:{why.rsplit(' ', 1)[-1]}"
        if key not in self._warned and len(self._warned) < 1000:
            self._warned.add(key)
            log.warning("Hyperliquid %s for %s dropped (%d bad items so far): %s%s", channel, coin,
                        self.stats.bad_input, why, f": {item!r:.300}" if item is not None else "")

    def _on_book(self, book: wire.WsBook, recv_ns: int) -> None:
        if book.coin not in self._index:
            return
        self._seq += 1
        bids = tuple([Level(lv.px, lv.sz) for lv in book.levels[0]])
        asks = tuple([Level(lv.px, lv.sz) for lv in book.levels[1]])
        self.gateway.deliver_book(BookSnapshot(book.coin, book.time / 1000.0, self._seq, bids, asks, recv_ns))

    def _fill(self, f: wire.WsFill) -> Fill | None:
        """Our Fill for a venue fill (None for another market); tracks what remains."""
        asset = f.coin
        if asset not in self._index:
            return None
        cloid = f.cloid or self._by_oid.get(f.oid, "")
        remaining = 0.0
        if cloid in self._doomed:
            self._cancel_unmanaged(asset, f.oid, "filled after its placement's outcome was unknown")
        owed = self._owed.get(cloid)
        if owed is not None and f.tid not in self._seen_tids and f.time <= owed[1]:
            owed[0] -= f.sz  # a fill the update counted; later ones are not what it is owed
        known = self._orders.get(cloid)
        if known is not None:
            if f.tid not in self._seen_tids:
                known[2] = round(max(0.0, known[2] - f.sz), self._szd[asset])
            remaining = known[2]
            if remaining <= 0:
                self._forget(cloid)
        elif cloid in self._cancelled and f.tid not in self._seen_tids:  # filled before our cancel took it
            gone = self._cancelled[cloid]
            gone[2] = round(max(0.0, gone[2] - f.sz), self._szd[asset])
        side = "B" if f.side == "B" else "A"
        return Fill(asset, cloid, f.oid, f.tid, side, f.px, f.sz, f.fee, f.time / 1000.0, remaining, f.crossed)

    def _on_fills(self, fills: tuple[wire.WsFill, ...], chain: bool = True) -> None:
        by_asset: dict[str, list[Any]] = {}
        for f in fills:
            fill = self._fill(f)
            if fill is None:
                continue
            if f.tid in self._seen_tids:
                self.stats.duplicate_fills += 1  # the order actor dedupes too; this only counts
            else:
                if chain:
                    self._follow_on(f)
                self._remember_tid(f.tid)
                self.stats.fills += 1
                liq = f.liquidation
                if liq and str(liq.get("liquidatedUser", "")).lower() == self.user.lower():
                    self._on_liquidation(liq, f.coin)  # our own position taken over by the liquidator
            by_asset.setdefault(fill.asset, []).append(fill)
        self._deliver(by_asset)

    def _follow_on(self, f: wire.WsFill) -> None:
        """Check that a new feed fill starts where the last one left the position. If not, the
        feed lost fills in between (a dropped push, another client trading the coin): read the
        coin's fills at once rather than trade on a wrong position until the next fill sync,
        which a busy IP weight can put off for half a minute."""
        last = self._fill_chain.get(f.coin)
        if last is not None and f.time < last[1]:
            return  # older than what we chained: history, not news
        if last is not None and abs(f.startPosition - last[0]) > self._half_lot(f.coin):
            self.stats.fill_gaps += 1
            self._catch_up(f.coin, last[1])
        self._fill_chain[f.coin] = (_end_position(f), f.time)

    def _half_lot(self, coin: str) -> float:
        """Sizes closer than this are the same size on the coin's lot grid."""
        return 0.5 * 10.0 ** -self._szd[coin]

    def _catch_up(self, asset: str, since_ms: int) -> None:
        if self._nursery is None:
            return
        if asset in self._catching_up:  # the read in flight may have left before this gap: again after it
            self._catch_again[asset] = min(since_ms, self._catch_again.get(asset, since_ms))
            return
        self._catching_up.add(asset)
        self._nursery.start_soon(self._catch_up_read, asset, since_ms)

    async def _catch_up_read(self, asset: str, since_ms: int) -> None:
        """The coin's fills since ``since_ms`` (not a routine read: the position is wrong
        now), handed to the order actor as a fill sync's would be. A failed read is
        tried again a few times, sooner than the periodic fill sync would come."""
        try:
            fills = [f for f in await self._fills_retried(since_ms) if f.coin == asset]
            out = []
            for f in fills:
                fill = self._fill(f)
                if fill is not None and f.tid not in self._seen_tids:
                    self._remember_tid(f.tid)
                    self.stats.fills += 1
                    out.append(fill)
            if out:
                self.gateway.deliver(asset, FillHistory(asset, trio.current_time(), tuple(out)))
        except VenueRequestFailed as e:  # the periodic fill sync is still the backstop
            log.warning("catching up %s's missed fills failed: %s", asset, e)
        except Exception:
            self.stats.internal_errors += 1
            log.exception("catching up %s's missed fills failed", asset)
        finally:
            self._catching_up.discard(asset)
            again = self._catch_again.pop(asset, None)
            if again is not None:
                self._catch_up(asset, again)

    async def _fills_retried(self, since_ms: int) -> tuple[wire.WsFill, ...]:
        delay = CATCH_UP_RETRY_S
        for _ in range(CATCH_UP_TRIES - 1):
            try:
                return await self._fills_since(since_ms)
            except VenueRequestFailed as e:
                log.info("reading missed fills failed (%s); again in %.1f s", e, delay)
                await trio.sleep(delay)
                delay *= 2
        return await self._fills_since(since_ms)  # the last try: its failure is the caller's

    def _chain_read(self, asset: str, fills: list[wire.WsFill]) -> None:
        """Move the chain on to the newest fill a read brought (every read of fills), so the
        next feed fill is not taken for a gap the read has already filled."""
        if not fills:
            return
        newest_ms = max(f.time for f in fills)
        last = self._fill_chain.get(asset)
        if last is None or newest_ms > last[1]:
            self._fill_chain[asset] = (_position_after(fills), newest_ms)

    def _remember_tid(self, tid: int) -> None:
        self._seen_tids.add(tid)
        self._tid_order.append(tid)
        if len(self._tid_order) > SEEN_TIDS:
            self._seen_tids.discard(self._tid_order.popleft())

    def _on_order_updates(self, updates: tuple[wire.WsOrder, ...]) -> None:
        by_asset: dict[str, list[Any]] = {}
        now = trio.current_time()
        for u in updates:
            o = u.order
            if o.coin not in self._index:
                continue
            status = u.status
            cloid = o.cloid or self._by_oid.get(o.oid, "")
            if status == "scheduledCancel":
                self._note_dms_trigger(u.statusTimestamp)
            if status.endswith("anceled") or status == "scheduledCancel":
                if cloid:
                    by_asset.setdefault(o.coin, []).append(OrderCancelled(o.coin, cloid, now, status))
                self._forget(cloid)
                self._cancelled.pop(cloid, None)  # the feed has caught up with our answer
            elif status.endswith("Rejected"):
                if cloid:
                    by_asset.setdefault(o.coin, []).append(OrderReject(o.coin, cloid, status, now))
                self._forget(cloid)
            elif status == "filled":
                self._owes_fills(o, cloid, u.statusTimestamp)
                self._forget(cloid)  # the fill itself comes on userFills
            elif status == "open" and cloid in self._orders:
                self._owes_fills(o, cloid, u.statusTimestamp)
            elif status == "open" and cloid in self._cancelled:
                # from before our cancel, whose answer came first: the order is gone, but a
                # smaller size still says a fill happened, which may have been lost
                self._owes_fills(o, cloid, u.statusTimestamp)
            elif status == "open" and o.cloid and parse_cloid(o.cloid) is not None:
                # ours, resting, and tracked by nobody: an unknown outcome that landed, an
                # answer that was lost, another process of ours
                self._cancel_unmanaged(o.coin, o.oid, "an orderUpdate showed it resting untracked")
                self.gateway.reconnected(o.coin, now)
        self._deliver(by_asset)

    def _owes_fills(self, o: wire.WsBasicOrder, cloid: str, status_ms: int) -> None:
        """An order update that leaves less of the order than the feed's fills say means a
        fill is on its way or lost. The two channels race, so the fill gets a grace period;
        one still missing after it is read back at once (_fills_owed). This is the only sign
        of a lost fill that no later fill on the coin follows."""
        known = self._orders.get(cloid) or self._cancelled.get(cloid)
        if known is None or cloid in self._owed or self._nursery is None:
            return
        owed = known[2] - o.sz
        if owed > self._half_lot(o.coin):
            self._owed[cloid] = [owed, status_ms]
            self._nursery.start_soon(self._fills_owed, o.coin, cloid, o.timestamp)

    async def _fills_owed(self, asset: str, cloid: str, placed_ms: int) -> None:
        try:
            await trio.sleep(FILL_OWED_GRACE_S)
            if self._owed[cloid][0] > self._half_lot(asset):
                self.stats.fills_owed += 1
                self._catch_up(asset, placed_ms)
        finally:
            self._owed.pop(cloid, None)

    def _on_gone(self, coin: str, oid: int, reason: str) -> None:
        cloid = self._by_oid.get(oid, "")
        if coin in self._index and cloid:
            now = trio.current_time()
            self._deliver({coin: [OrderCancelled(coin, cloid, now, reason)]})
            self._forget(cloid)

    def _on_funding(self, f: wire.WsFunding) -> None:
        if f.coin not in self._index:
            return
        self.stats.funding_events += 1
        self._deliver({f.coin: [Funding(f.coin, f.time / 1000.0, f.fundingRate, f.szi, f.usdc)]})

    def _note_dms_trigger(self, at_ms: int) -> None:
        """One firing cancels every order at one instant: count distinct instants, per UTC day."""
        if at_ms == self._dms_fired_ms:
            return
        self._dms_fired_ms = at_ms
        day = at_ms // 86_400_000
        if day != self._dms_day:
            self._dms_day, self.stats.dms_triggers_today = day, 0
        self.stats.dms_triggers_today += 1
        self._event("cancel_all", "*", f"the exchange's dead-man's switch fired "
                                       f"({self.stats.dms_triggers_today} of 10 today)")

    def _deliver(self, by_asset: dict[str, list[Any]]) -> None:
        if not by_asset:
            return
        now = trio.current_time()
        for asset, events in by_asset.items():
            self.gateway.deliver(asset, VenueBatch(asset, now, tuple(events)))

    def _forget(self, cloid: str) -> list[Any] | None:
        """Stop tracking ``cloid``; what was known of it (None: nothing)."""
        known = self._orders.pop(cloid, None) if cloid else None
        if known is not None:
            self._by_oid.pop(known[1], None)
        return known

    def _forget_cancelled(self, cloid: str) -> None:
        """``_forget`` an order our own answer says is cancelled, remembering it a while:
        only then may an "open" update of it be the feed's stale news, never when its
        outcome is unknown (such an order may rest, and is cancelled when it shows up)."""
        known = self._forget(cloid)
        if known is not None:
            self._cancelled[cloid] = known
            if len(self._cancelled) > CANCELLED_MEMORY:
                del self._cancelled[next(iter(self._cancelled))]

    # -- sending: one flusher, cancels first ----------------------------------------------------------
    def send(self, cmds: tuple[CancelOrders | PlaceOrders, ...]) -> None:
        if cmds:
            self._queue.extend(cmds)
            self._wake.set()

    async def _flusher(self) -> None:
        """Flush queued commands as soon as their asset has no request in flight.

        One asset's commands go in the order sent, one flush at a time (a cancel must
        never overtake the placement it cancels); different assets' flushes overlap, and
        every asset that is free when a flush starts shares its batched actions."""
        async with trio.open_nursery() as nursery:
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                ready = [c for c in self._queue if c.asset not in self._busy]
                if not ready:
                    continue
                self._queue = [c for c in self._queue if c.asset in self._busy]
                assets = {c.asset for c in ready}
                self._busy |= assets
                nursery.start_soon(self._flush, ready, assets)

    async def _flush(self, batch: list[CancelOrders | PlaceOrders], assets: set[str]) -> None:
        """Send one batch; whatever goes wrong in handling it stays with its assets.

        The feed and a request's answer race (filled before acked, cancelled before
        modified): each transition below tolerates either order. Anything else that
        escapes is a bug in handling one answer, not a reason to stop the venue: it is
        counted and logged with the batch, and the batch's assets cancel and reconcile
        (the requests may have landed)."""
        failed = False
        try:
            await self._send_batch(batch)
        except Exception:  # contained: one answer never stops the venue
            failed = True
            self.stats.internal_errors += 1
            log.exception("handling a batch for %s failed (%d commands: %s); cancelling and reconciling",
                          ", ".join(sorted(assets)), len(batch),
                          ", ".join(sorted({type(c).__name__ for c in batch})))
        finally:
            self._release(assets)
        if failed:
            await self._recover(assets)

    async def _recover(self, assets: set[str]) -> None:
        """Cancel first, recover second: the assets' orders go, then their order actors
        reconcile with what the exchange says."""
        for asset in sorted(assets):
            self._event("failure", asset, "internal error handling an exchange answer: cancelling, reconciling")
            try:
                await self.cancel_all(asset)
            except Exception as e:  # the reconcile below finds what is left
                log.warning("cancel-all for %s after an internal error failed: %s", asset, e)
            self.gateway.reconnected(asset, trio.current_time())

    async def _send_batch(self, batch: list[CancelOrders | PlaceOrders]) -> None:
        cancels = [(c.asset, cl) for c in batch if isinstance(c, CancelOrders) for cl in c.cloids]
        places = [(c.asset, o) for c in batch if isinstance(c, PlaceOrders) for o in c.orders]
        recv = [c.recv_ns for c in batch if isinstance(c, PlaceOrders) and c.recv_ns]
        # cancels go before placements, so an order placed and cancelled within one
        # batch must not go at all: its cancel would find nothing and the order rest
        unplaced = {cl for _, cl in cancels} & {o.cloid for _, o in places}
        if unplaced:
            now = trio.current_time()
            self._deliver(self._group([(a, OrderCancelled(a, o.cloid, now, "cancelled before sent"))
                                       for a, o in places if o.cloid in unplaced]))
            cancels = [(a, cl) for a, cl in cancels if cl not in unplaced]
            places = [(a, o) for a, o in places if o.cloid not in unplaced]
        modifies, cancels, places = self._pair(cancels, places)
        if cancels:
            await self._cancel_by_cloid(cancels)
        if modifies:
            places += await self._modify(modifies, recv)
        if places:
            await self._place(places, recv)

    def _release(self, assets: set[str]) -> None:
        self._busy -= assets
        self._idle.set()
        self._idle = trio.Event()
        self._wake.set()  # their queued commands may go now

    async def _hold(self, asset: str, drain: bool = False) -> None:
        """Wait until ``asset`` has no request in flight (and with ``drain`` none queued
        either), then keep others off it until ``_release``."""
        while asset in self._busy or (drain and any(c.asset == asset for c in self._queue)):
            await self._idle.wait()
        self._busy.add(asset)

    def _pair(self, cancels: list[tuple[str, str]], places: list[tuple[str, Any]]
              ) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str]], list[tuple[str, Any]]]:
        """Turn a cancel and a placement on the same asset and side into one modify: the
        address budget counts it once instead of twice, and the order never leaves the
        book empty-handed in between. Only orders the exchange has acknowledged (an oid)
        pair up; the rest go as plain cancels and placements."""
        if not self.modify_orders:
            return [], cancels, places
        free: dict[tuple[str, str], list[str]] = {}
        rest_cancels: list[tuple[str, str]] = []
        for asset, cl in cancels:
            known = self._orders.get(cl)
            if known is not None and known[1] and len(known) > 3:
                free.setdefault((asset, known[3]), []).append(cl)
            else:
                rest_cancels.append((asset, cl))
        modifies: list[tuple[str, str, Any]] = []
        rest_places: list[tuple[str, Any]] = []
        for asset, o in places:
            olds = free.get((asset, o.side))
            if olds and o.tif == "Alo" and not self._invalid(asset, o):  # an IOC never replaces a quote
                modifies.append((asset, olds.pop(0), o))
            else:
                rest_places.append((asset, o))
        rest_cancels += [(asset, cl) for (asset, _), cls in free.items() for cl in cls]
        return modifies, rest_cancels, rest_places

    def _sign(self, action: dict[str, Any]) -> dict[str, Any]:
        nonce = self.nonces.next(int(time.time() * 1000))
        expires = int(time.time() * 1000 + self.hl.expires_after_s * 1000) if self.hl.expires_after_s > 0 else None
        sig = self.signer.sign(action, nonce, self.vault, expires, self.is_mainnet)
        return actions.exchange_body(action, nonce, sig, self.vault, expires)

    async def _post_action(self, action: dict[str, Any], n: int, recv_ns: list[int] | None = None) -> dict[str, Any]:
        self.stats.actions_sent += 1
        self.budget.spend(n)
        body = self._sign(action)
        if recv_ns:
            # from the book frame on the socket to the signed batch leaving
            out = time.perf_counter_ns()
            self.book_to_wire_ns.extend(out - r for r in recv_ns)
            recv_ns.clear()
        try:
            return await self.rest.exchange(body, n)
        finally:
            # what the account holds may have changed: the next read must be fresh
            # (a read still in flight may predate it too: nobody new may join that one)
            self._shared.clear()

    async def _place(self, places: list[tuple[str, Any]], recv_ns: list[int] | None = None) -> None:
        now = trio.current_time()
        wires: list[dict[str, Any]] = []
        sent: list[tuple[str, Any]] = []
        local: dict[str, list[Any]] = {}
        for asset, o in places:
            why = self._invalid(asset, o)
            if why:
                local.setdefault(asset, []).append(OrderReject(asset, o.cloid, why, now))
                self.stats.local_rejects += 1
                continue
            szd = self._szd[asset]
            wires.append(actions.order_wire(self._index[asset], o.side == "B", rules.to_wire(o.px),
                                            rules.to_wire(rules.round_size(o.sz, szd)), cloid=o.cloid,
                                            tif=o.tif, reduce_only=o.reduce_only))
            sent.append((asset, o))
        if self.budget.remaining() < len(wires) and wires:
            for asset, o in sent:
                local.setdefault(asset, []).append(
                    OrderReject(asset, o.cloid, "not sent: the address action budget is spent "
                                                f"({self.budget.used} of {self.budget.cap})", now))
            self.stats.local_rejects += len(sent)
            wires, sent = [], []
        self._deliver(local)
        if not wires:
            return
        for asset, o in sent:  # known before the answer: a fill may come first on the feed
            self._orders[o.cloid] = [asset, 0, o.sz, o.side]
        self.stats.orders_sent += len(wires)
        try:
            answer = await self._post_action(actions.order_action(wires), len(wires), recv_ns)
        except (ActionOutcomeUnknown, VenueRequestFailed) as e:
            self._request_failed(sent, e, placing=True)
            return
        self._answer(sent, answer, placing=True)

    async def _modify(self, modifies: list[tuple[str, str, Any]],
                      recv_ns: list[int] | None = None) -> list[tuple[str, Any]]:
        """Replace resting orders in place (``batchModify``): old cloid out, new one in.

        Returns the placements that must go as plain orders instead: their old order
        left the book (filled or cancelled, seen on the feed) while this batch's cancels
        were in flight, so there is nothing left to modify."""
        now = trio.current_time()
        still = [(a, old, o) for a, old, o in modifies if self._orders.get(old, (None, 0))[1]]
        orphaned = [(a, o) for a, old, o in modifies if not self._orders.get(old, (None, 0))[1]]
        modifies = still
        if not modifies:
            return orphaned
        if self.budget.remaining() < len(modifies):
            self._deliver(self._group([(a, OrderReject(a, o.cloid, "not sent: the address action budget is spent",
                                                       now)) for a, _, o in modifies]
                                      + [(a, OrderReject(a, old, "not sent: the address action budget is spent",
                                                         now)) for a, old, _ in modifies]))
            return orphaned
        entries = []
        for asset, old, o in modifies:
            szd = self._szd[asset]
            wire_order = actions.order_wire(self._index[asset], o.side == "B", rules.to_wire(o.px),
                                            rules.to_wire(rules.round_size(o.sz, szd)), cloid=o.cloid)
            entries.append((self._orders[old][1], wire_order))
            self._orders[o.cloid] = [asset, 0, o.sz, o.side]
        self.stats.orders_sent += len(modifies)
        self.stats.modifies_sent += len(modifies)
        try:
            answer = await self._post_action(actions.batch_modify_action(entries), len(modifies), recv_ns)
        except (ActionOutcomeUnknown, VenueRequestFailed) as e:
            # the old orders: a failed cancel leaves them resting (retried by the next
            # diff); the new: gone, or if the outcome is unknown found by reconciling
            self._request_failed([(a, o) for a, _, o in modifies], e, placing=True)
            self._request_failed([(a, old) for a, old, _ in modifies], e, placing=False)
            return orphaned
        ok = answer.get("status") == "ok"
        statuses = answer.get("response", {}).get("data", {}).get("statuses", []) if ok else []
        whole = "" if ok else str(answer.get("response", "refused"))
        events: list[tuple[str, Any]] = []
        for i, (asset, old, o) in enumerate(modifies):
            st = statuses[i] if i < len(statuses) else {"error": whole or "no status returned"}
            parsed, oid = _order_status(st)
            if oid:
                self._forget_cancelled(old)
                self._acked(o.cloid, oid)
                events += [(asset, OrderCancelled(asset, old, now, "modified")), (asset, OrderAck(asset, o.cloid, oid, now))]
            else:
                reason = parsed.error if parsed is not None and parsed.error else (whole or "modify refused")
                self._forget(o.cloid)
                self.stats.rejects += 1
                events.append((asset, OrderReject(asset, o.cloid, reason, now)))
                # the old order: still resting unless the exchange says it is gone; a
                # rejected cancel puts it back to resting and the next diff retries
                gone = "canceled or filled" in reason or reason.startswith("Order was never placed")
                if gone:
                    self._forget(old)
                    events.append((asset, OrderCancelled(asset, old, now, "gone")))
                else:
                    events.append((asset, OrderReject(asset, old, f"modify refused: {reason}", now)))
        self._deliver(self._group(events))
        return orphaned

    def _acked(self, cloid: str, oid: int) -> None:
        """The exchange gave ``cloid`` the id ``oid``. If the feed has already ended the
        order (filled or cancelled before this answer came), it stays forgotten."""
        known = self._orders.get(cloid)
        if known is not None:
            known[1] = oid
            self._by_oid[oid] = cloid

    @staticmethod
    def _group(events: list[tuple[str, Any]]) -> dict[str, list[Any]]:
        by: dict[str, list[Any]] = {}
        for asset, ev in events:
            by.setdefault(asset, []).append(ev)
        return by

    def _invalid(self, asset: str, o: Any) -> str:
        """Why an order must not go out (empty: it may). A quote never leaves with an
        invalid price: the quoter rounds passively; this is the last line."""
        szd = self._szd.get(asset)
        if szd is None:
            return f"not sent: {asset} is not traded by this venue"
        if not (o.px > 0 and rules.is_valid_price(o.px, szd)):
            return f"not sent: price {o.px} is not a valid {asset} price (5 significant figures, {6 - szd} decimals)"
        sz = rules.round_size(o.sz, szd)
        if sz <= 0:
            return f"not sent: size {o.sz} rounds to zero lots of {asset}"
        if not rules.meets_min_notional(o.px, sz):
            return f"not sent: {sz} x {o.px} is below the $10 minimum order value"
        return ""

    async def _cancel_by_cloid(self, cancels: list[tuple[str, str]]) -> None:
        if self.budget.cancel_remaining() < len(cancels):
            now = trio.current_time()
            by: dict[str, list[Any]] = {}
            for asset, cl in cancels:
                by.setdefault(asset, []).append(OrderReject(asset, cl, "not sent: cancel budget spent", now))
            self._deliver(by)
            return
        self.stats.cancels_sent += len(cancels)
        action = actions.cancel_by_cloid_action([(self._index[a], cl) for a, cl in cancels])
        try:
            answer = await self._post_action(action, len(cancels))
        except (ActionOutcomeUnknown, VenueRequestFailed) as e:
            self._request_failed(cancels, e, placing=False)
            return
        self._answer(cancels, answer, placing=False)

    def _request_failed(self, items: list[tuple[str, Any]], e: Exception, placing: bool) -> None:
        now = trio.current_time()
        unknown = isinstance(e, ActionOutcomeUnknown)
        if isinstance(e, Throttled):
            self.stats.throttled += 1
        if unknown:
            self.stats.unknown_outcomes += 1
        by: dict[str, list[Any]] = {}
        watch = now + max(self.hl.expires_after_s or self.hl.request_timeout_s, 1.0) + DOOMED_EXTRA_S
        for asset, item in items:
            cloid = item.cloid if placing else item
            if placing:
                self._forget(cloid)
                if unknown:
                    self._doomed[cloid] = watch
            by.setdefault(asset, []).append(OrderReject(asset, cloid, f"request failed: {e}", now))
        self._deliver(by)
        if unknown and placing:
            # some of these may rest now without our knowing: reconciling finds and cancels them
            for asset in by:
                self.gateway.reconnected(asset, now)

    def _answer(self, items: list[tuple[str, Any]], answer: dict[str, Any], placing: bool) -> None:
        now = trio.current_time()
        statuses: list[Any] = []
        whole_error = ""
        if answer.get("status") != "ok":
            whole_error = str(answer.get("response", "refused"))
        else:
            try:
                statuses = list(answer["response"]["data"]["statuses"])
            except (KeyError, TypeError):
                whole_error = f"unexpected answer: {str(answer)[:200]}"
        first_error = whole_error or next((s.get("error") for s in statuses
                                           if isinstance(s, dict) and s.get("error")), "") or "no status returned"
        by: dict[str, list[Any]] = {}
        for i, (asset, item) in enumerate(items):
            cloid = item.cloid if placing else item
            st = statuses[i] if i < len(statuses) else None
            ev: Any
            if placing:
                parsed, oid = _order_status(st)
                if oid:
                    self._acked(cloid, oid)
                    ev = OrderAck(asset, cloid, oid, now)
                else:
                    reason = (parsed.error if parsed is not None and parsed.error else first_error)
                    self._forget(cloid)
                    self.stats.rejects += 1
                    ev = OrderReject(asset, cloid, reason, now)
            else:
                if st == "success":
                    ev = OrderCancelled(asset, cloid, now, "cancel")
                    self._forget_cancelled(cloid)
                else:
                    reason = st.get("error") if isinstance(st, dict) and st.get("error") else first_error
                    ev = OrderReject(asset, cloid, str(reason), now)
                    if str(reason).startswith("Order was never placed"):
                        self._forget(cloid)
            by.setdefault(asset, []).append(ev)
        self._deliver(by)
        if whole_error:
            log.warning("Hyperliquid refused a %s batch of %d: %s", "placement" if placing else "cancel",
                        len(items), whole_error[:200])

    # -- no unmanaged order: cancel on sight, and look every AUDIT_EVERY_S -----------------------------
    def _cancel_unmanaged(self, asset: str, oid: int, why: str) -> None:
        self._unmanaged.append((asset, oid, why))
        self._audit_wake.set()

    async def _audit_loop(self) -> None:
        next_audit = trio.current_time() + AUDIT_EVERY_S
        while True:
            with trio.move_on_at(next_audit):
                await self._audit_wake.wait()
            self._audit_wake = trio.Event()
            try:
                if trio.current_time() >= next_audit:
                    next_audit = trio.current_time() + AUDIT_EVERY_S
                    await self.audit()
                await self._cancel_pending_unmanaged()
            except WeightReserved:  # the minute's weight is low: try again soon, not in 30 s
                next_audit = trio.current_time() + AUDIT_RETRY_S
                log.debug("open-order audit deferred: the IP weight left is kept for recovery")
            except VenueRequestFailed as e:
                log.warning("open-order audit failed: %s (next in %.0fs)", e, AUDIT_EVERY_S)
            except Exception:  # an audit is never worth stopping the venue for
                self.stats.internal_errors += 1
                log.exception("open-order audit failed")

    async def audit(self) -> int:
        """Read the account's open orders; cancel every order of ours that nobody tracks
        (older than ``AUDIT_GRACE_S``). Returns how many were found."""
        self.stats.audits += 1
        now = trio.current_time()
        self._doomed = {c: until for c, until in self._doomed.items() if until > now}
        orders = await self._routine("audit", self._open_orders_all)
        found = 0
        for o in orders:
            if o.coin in self._index and _is_ours(o) and o.cloid not in self._orders \
                    and o.timestamp / 1000.0 < time.time() - AUDIT_GRACE_S:
                self._unmanaged.append((o.coin, o.oid, "the open-order audit found it untracked"))
                found += 1
        return found

    async def _cancel_pending_unmanaged(self) -> None:
        todo, self._unmanaged = self._unmanaged, []
        by: dict[str, dict[int, str]] = {}
        for asset, oid, why in todo:
            by.setdefault(asset, {})[oid] = why
        for asset, oids in by.items():
            n = await self._cancel_oids(asset, list(oids))
            self.stats.unmanaged_cancelled += n
            if n:
                why = next(iter(oids.values()))
                log.warning("cancelled %d untracked order(s) of ours on %s: %s", n, asset, why)
                self._event("cancel_all", asset, f"cancelled {n} untracked order(s): {why}")

    # -- account-wide reads, shared between assets -----------------------------------------------------
    async def _shared_read(self, key: str, afn: Callable[[], Awaitable[Any]], fresh_s: float = SHARED_READ_S) -> Any:
        """One request answers every caller asking for ``key`` while it is in flight or
        less than ``fresh_s`` old."""
        now = trio.current_time()
        cur = self._shared.get(key)
        if cur is None or (cur.done.is_set() and now - cur.at > fresh_s):
            cur = self._shared[key] = _Shared()
            try:
                cur.value = await afn()
            except BaseException as e:
                cur.error = e
                self._shared.pop(key, None)
                raise
            finally:
                cur.at = trio.current_time()
                cur.done.set()
        else:
            await cur.done.wait()
        if cur.error is not None:
            raise VenueRequestFailed(str(cur.error))
        return cur.value

    async def _open_orders_all(self, routine: bool = False) -> tuple[wire.OpenOrderInfo, ...]:
        async def read() -> tuple[wire.OpenOrderInfo, ...]:
            orders = await self.rest.info({"type": "frontendOpenOrders", "user": self.user},
                                          tuple[wire.OpenOrderInfo, ...], routine=routine)
            _refuse_bad("frontendOpenOrders", orders, checks.open_order)
            return orders
        return await self._shared_read("orders", read)

    async def _state(self) -> wire.ClearinghouseState:
        async def read() -> wire.ClearinghouseState:
            state = await self.rest.info({"type": "clearinghouseState", "user": self.user}, wire.ClearinghouseState)
            _refuse_bad("clearinghouseState", [p.position for p in state.assetPositions], checks.position)
            return state
        return await self._shared_read("state", read)

    async def _fills_since(self, since_ms: int, routine: bool = False) -> tuple[wire.WsFill, ...]:
        """Every fill of the account from ``since_ms`` on, oldest first (paginated)."""
        out: list[wire.WsFill] = []
        start = since_ms
        for _ in range(FILL_PAGES_MAX):
            page = await self.rest.info({"type": "userFillsByTime", "user": self.user, "startTime": start},
                                        tuple[wire.WsFill, ...], routine=routine)
            _refuse_bad("userFillsByTime", page, checks.fill, time.time() * 1000.0)
            page = tuple(sorted(page, key=lambda f: (f.time, f.tid)))
            out.extend(page)
            if len(page) < FILL_PAGE:
                break
            start = page[-1].time  # inclusive: the overlap is deduped below
        seen: set[int] = set()
        fills = tuple(f for f in out if not (f.tid in seen or seen.add(f.tid)))
        by_coin: dict[str, list[wire.WsFill]] = {}
        for f in fills:
            by_coin.setdefault(f.coin, []).append(f)
        for coin, mine in by_coin.items():
            self._chain_read(coin, mine)
        return fills

    async def _fills_shared(self, since_s: float, routine: bool = False) -> tuple[wire.WsFill, ...]:
        """Fills since ``since_s``: assets asking at about the same time share a request
        from a little earlier (rounded down to 10 s), then filter."""
        if since_s > trio.current_time() + 60:
            return ()  # from the future: nothing (the exit check asks for no fills this way)
        since_ms = max(0, int(since_s * 1000))
        bucket = since_ms - since_ms % 10_000
        for key, cur in list(self._shared.items()):
            if key.startswith("fills:") and int(key[6:]) <= since_ms:
                if not cur.done.is_set() or trio.current_time() - cur.at <= SHARED_READ_S:
                    fills = await self._shared_read(key, lambda: self._fills_since(bucket, routine))
                    return tuple(f for f in fills if f.time >= since_ms)
        fills = await self._shared_read(f"fills:{bucket}", lambda: self._fills_since(bucket, routine))
        return tuple(f for f in fills if f.time >= since_ms)

    def _ours(self, asset: str, orders: tuple[wire.OpenOrderInfo, ...]) -> tuple[OpenOrder, ...]:
        out = []
        for o in orders:
            if o.coin != asset:
                continue
            if _is_ours(o):
                out.append(OpenOrder(asset, o.cloid, o.oid, "B" if o.side == "B" else "A", o.limitPx, o.sz,
                                     o.timestamp / 1000.0))
        return tuple(out)

    async def _handle_foreign(self, asset: str, orders: tuple[wire.OpenOrderInfo, ...]) -> None:
        """Orders on our account that makerhive did not place: left alone, or cancelled
        when ``unknown_orders = "cancel"``."""
        foreign = [o for o in orders if o.coin == asset and not _is_ours(o)]
        if not foreign or self.hl.unknown_orders != "cancel":
            return
        await self._cancel_oids(asset, [o.oid for o in foreign])
        self.stats.unknown_orders_cancelled += len(foreign)
        self._event("cancel_all", asset, f"cancelled {len(foreign)} open order(s) makerhive did not place")

    async def _cancel_oids(self, asset: str, oids: list[int]) -> int:
        if not oids:
            return 0
        idx = self._index[asset]
        answer = await self._post_action(actions.cancel_action([(idx, oid) for oid in oids]), len(oids))
        if answer.get("status") != "ok":
            raise VenueRequestFailed(f"cancel refused: {str(answer.get('response'))[:200]}")
        statuses = answer.get("response", {}).get("data", {}).get("statuses", [])
        return sum(1 for s in statuses if s == "success")

    # -- VenueCore reads --------------------------------------------------------------------------------
    async def cancel_all(self, asset: str) -> int:
        """Cancel every order of ours on ``asset`` and wait for the exchange to confirm.

        Commands still queued for the asset are dropped first, and its request in flight
        completes first (``_hold``), so nothing of ours lands after this."""
        self._queue = [c for c in self._queue if c.asset != asset]
        await self._hold(asset)
        try:
            orders = await self.rest.info({"type": "frontendOpenOrders", "user": self.user},
                                          tuple[wire.OpenOrderInfo, ...])
            ours = [o for o in orders if o.coin == asset and (_is_ours(o) or self.hl.unknown_orders == "cancel")]
            if not ours:
                return 0
            n = await self._cancel_oids(asset, [o.oid for o in ours])
            now = trio.current_time()
            events = []
            for o in ours:
                cloid = o.cloid or self._by_oid.get(o.oid, "")
                if cloid:
                    events.append(OrderCancelled(asset, cloid, now, "cancel_all"))
                self._forget(cloid)
            self._deliver({asset: events})
            return n
        finally:
            self._release({asset})

    async def cancel_known(self, asset: str) -> int:
        """Cancel every order of ours on ``asset`` that we know of, by cloid, in one action
        (IP weight 1), without the open-order read (weight 20) that ``cancel_all`` makes:
        a failing actor's first act. Its supervisor's ``cancel_all`` follows and finds the
        rest. Queued commands are dropped and the request in flight completes first, as in
        ``cancel_all``."""
        self._queue = [c for c in self._queue if c.asset != asset]
        await self._hold(asset)
        try:
            cloids = [cl for cl, known in self._orders.items() if known[0] == asset]
            if cloids:
                await self._cancel_by_cloid([(asset, cl) for cl in cloids])
            return len(cloids)
        finally:
            self._release({asset})

    async def open_orders(self, asset: str) -> tuple[OpenOrder, ...]:
        orders = await self._open_orders_all()
        return self._ours(asset, orders)

    async def position(self, asset: str) -> float:
        state = await self._state()
        return next((p.position.szi for p in state.assetPositions if p.position.coin == asset), 0.0)

    async def sync_fills(self, asset: str, since_ts: float) -> tuple[Fill, ...]:
        """The periodic fill sync's read: routine (a skipped sync is made at the next period,
        from the same watermark). It is the backstop for fills the WebSocket lost."""
        return await self._routine(f"fills:{asset}", lambda routine: self.fills(asset, since_ts, routine))

    async def _routine(self, key: str, read: Callable[[bool], Awaitable[Any]]) -> Any:
        """``read(routine)`` as a routine read: it gives way to the IP weight kept for cancels
        and recovery (``WeightReserved``), but not for longer than ``ROUTINE_MAX_DEFER_S``."""
        now = trio.current_time()
        since = self._deferred_since.get(key)
        try:
            out = await read(since is None or now - since < ROUTINE_MAX_DEFER_S)
        except WeightReserved:
            self._deferred_since.setdefault(key, now)
            raise
        self._deferred_since.pop(key, None)
        return out

    async def fills(self, asset: str, since_ts: float, routine: bool = False) -> tuple[Fill, ...]:
        out = []
        for f in await self._fills_shared(since_ts, routine):
            if f.coin == asset:
                fill = self._fill(f)
                if fill is not None:
                    out.append(fill)
        return tuple(out)

    async def snapshot(self, asset: str, since_ts: float) -> AccountSnapshot:
        """Open orders, position and fills of ``asset``. Hyperliquid has no atomic read,
        so the position is taken from the fills where there are any: the fills are read
        after the clearinghouse, and the newest one's ``startPosition`` plus its own size
        is the position after every fill listed (a fill on the feed after our read is a
        new trade id and is applied on arrival). With no fill in the window the
        clearinghouse's position stands."""
        # every command the order actor sent before asking has been answered first: an
        # order whose answer is still on its way would look unknown to it, and be lost
        await self._hold(asset, drain=True)
        try:
            orders = await self._open_orders_all()
            state = await self._state()
            fills = await self._fills_shared(since_ts)
        finally:
            self._release({asset})
        mine = [f for f in fills if f.coin == asset]
        szi = next((p.position.szi for p in state.assetPositions if p.position.coin == asset), 0.0)
        if mine:
            szi = _position_after(mine)
        if 0.0 < since_ts <= trio.current_time() + 60:
            # a resync: the order actor has applied fills from the feed up to now, and any
            # read here may predate one of them; its own count plus the fills listed is exact
            szi = math.nan
        try:
            await self._handle_foreign(asset, orders)
        except VenueRequestFailed as e:  # theirs, not ours: reconciling goes on
            log.warning("could not cancel foreign orders on %s: %s", asset, e)
        converted = tuple(x for x in (self._fill(f) for f in fills if f.coin == asset) if x is not None)
        mid = math.nan
        ctx = self.asset_ctx.get(asset)
        if ctx is not None and ctx.midPx:
            mid = ctx.midPx
        position = szi if math.isnan(szi) else round(szi, self._szd[asset])
        return AccountSnapshot(asset, self._ours(asset, orders), position, converted,
                               mid=mid, ts=trio.current_time())

    async def schedule_cancel(self, at: float | None) -> str | None:
        """The exchange's dead-man's switch (``None`` clears it). None if accepted, the
        exchange's refusal text if it said no. No answer (HTTP 429 or 500, a timeout, a
        lost connection) raises ``VenueRequestFailed``: the time armed before still
        protects us, so the caller counts a failed renewal instead of stopping at once
        (which cancels every asset and spends IP weight the next renewal needs)."""
        if at is not None and not math.isfinite(at):
            return f"scheduled cancel time must be a finite number, not {at!r}"
        action = actions.schedule_cancel_action(None if at is None else int(at * 1000))
        answer = await self._post_action(action, 1)
        if answer.get("status") != "ok":
            return str(answer.get("response"))[:200]
        self.stats.dms_renewals += 1
        return None

    @property
    def budget_share(self) -> float:
        """The scarcer of the two budgets: the share of the address actions left, or of
        the minute's IP weight left at the last request (read by order actors' threads,
        which widen their refresh tolerance as it shrinks)."""
        return min(self.budget.share_left(), self.rest.ip_share)

    def asset_index(self, asset: str) -> int:
        try:
            return self._index[asset]
        except KeyError:
            raise VenueUnavailable(f"asset index of {asset!r} unknown: the venue has not loaded meta yet") from None


def _refuse_bad(what: str, items: Any, check: Callable[..., str], *args: Any) -> None:
    """A reconciliation read with one unusable entry is not trusted at all: the read
    fails and is retried, so no NaN reaches a position and no open order is missed."""
    for it in items:
        why = check(it, *args)
        if why:
            raise VenueRequestFailed(f"{what}: unusable entry ({why}): {it!r:.200}")


def _is_ours(o: wire.OpenOrderInfo) -> bool:
    """Placed by makerhive (any run, any epoch): its cloid carries our magic."""
    return bool(o.cloid) and parse_cloid(o.cloid) is not None


def _position_after(fills: list[wire.WsFill]) -> float:
    """The position after the newest of ``fills``. Trade ids are hashes, not a sequence,
    so among fills of the same millisecond the newest is the end of the chain: the one
    whose resulting position no other fill of that millisecond starts from."""
    newest = max(f.time for f in fills)
    last = [f for f in fills if f.time == newest]
    starts = [f.startPosition for f in last]
    for f in last:
        if not any(abs(_end_position(f) - s) < 1e-12 for s in starts):
            return _end_position(f)
    return _end_position(last[-1])


def _end_position(f: wire.WsFill) -> float:
    """The position a fill left: where it started, plus its own size."""
    return f.startPosition + (f.sz if f.side == "B" else -f.sz)


def _order_status(st: Any) -> tuple[wire.OrderStatus | None, int]:
    """One order's status in an order or batchModify answer, and its oid if it rests or
    filled (0 when it was refused or the status is not what the API documents)."""
    if not isinstance(st, dict):
        return None, 0
    try:
        parsed = wire.convert_as(wire.OrderStatus, st)
    except wire.Malformed:
        return None, 0
    if parsed.resting is not None:
        return parsed, parsed.resting.oid
    if parsed.filled is not None:
        return parsed, parsed.filled.oid
    return parsed, 0
