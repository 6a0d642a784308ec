"""The simulated exchange's matching engine: the venue-side truth.

Pure, synchronous and deterministic: no clock (``ts`` always comes in as an argument),
no threads, no I/O. The trio service in ``venues.sim.venue`` adds latency, feeds and
fencing around it.

One ``MarketProcess`` per asset (config order) supplies the mid, a background L2 book
and taker arrivals. Our orders are post-only (ALO) limit orders resting on top of that
book. At each ``advance(ts)``:

0. **Due events**, in time order, before the markets move: a scheduled cancel whose
   time has come (every open order of every asset cancelled, reason
   ``"scheduledCancel"``), and funding every ``sim.funding_interval_s`` (a ``Funding``
   per asset with a position: usd = −position·mid·rate·interval/1h, the market's
   current hourly rate, booked to the asset's cash).
1. Every market is stepped to ``ts``; then per asset:
2. **Queue update**, once per l2Book interval (``sim.book_interval_s``: the depth a
   backtest on recorded Hyperliquid books would see). Each resting order carries
   ``front``, its estimated place in its price level's queue (``venues.sim.queue``):
   the background size displayed at its price when it was placed. Where the displayed
   size at its price changed since the last look (the background book is redrawn as
   the market moves), the configured model (``sim.queue_model``, ``sim.queue_power``)
   moves it: cancels may come from in front of us. A price beyond the book the engine
   reads (``_DEPTH_MAX_MULT`` x ``sim.book_levels`` levels) is left alone.
3. **Trade-through.** A resting bid at or above the background best ask (or an ask at
   or below the background best bid), because the mid moved, fills completely at its
   own price; the tape shows a matching trade.
4. **Takers.** Each arrival prints a public ``Trade`` at mid·(1 ± reach/1e4) on the
   tick grid (rounded away from the mid: buys above it, sells below) and fills our
   orders on the side it hits in price-time priority. Orders strictly better than the
   trade price fill first, up to the taker's size, and their queue is gone (the level
   traded through). At the trade price each order first waits for its ``front`` to
   trade: the background volume that trades there moves every order at that price
   forward (one FIFO queue, ours in time order). Then it fills; partial fills leave
   the rest resting.

Every fill is maker: fee = px·sz·maker_fee (positive = paid). Positions are signed
units kept on the lot grid; cash is the per-asset cash flow since the start (sells
add px·sz, buys subtract it, fees subtract, funding adds what it pays).

**Venue rules** as on Hyperliquid (``hyperliquid.md`` §3, §7): tick, lot, $10
minimum, post-only, duplicate cloids; an open-order cap per account
(``sim.open_order_cap``); the address action budget (``sim.address_budget_initial`` +
1 per USDC traded; a batch of n orders or cancels spends n; cancels may go up to
min(cap + 100000, 2·cap); beyond, one request per 10 s; otherwise the whole batch is
refused with Hyperliquid's "Too many cumulative requests sent ..." text); the IP's
request weight over the last minute (accounted here, enforced by the venue service:
``ip_weight_used``); the ``scheduleCancel`` dead-man's switch (at least
``sim.schedule_cancel_min_ahead_s`` ahead, ``sim.schedule_cancel_triggers_per_day``
triggers per UTC day of simulated time).

**Requests and peeks.** ``place``, ``cancel`` and ``cancel_all`` are requests. The
queries ``open_orders``, ``position``, ``fills`` and ``rate_limit_status`` are requests
when given ``ts=`` (they cost IP weight then, and ``open_orders``/``position``/``fills``
can be failed by ``faults.fail_requests``); without ``ts`` they are free peeks at the
venue's truth, for tests, tools and invariant checks. ``fills`` serves the last hour (at
most 10,000 per asset); ``fill_count`` and ``fills_digest`` cover the whole run.

**Faults** (``self.faults``, ``venues.sim.faults``): injected rejects, split fills,
failed requests, throttling.

The engine uses only the public face of a market (``mid``, ``advance``, ``book`` and,
if it has one, ``funding_rate``), so a scripted market can stand in for one
(``self.markets``) in tests. From a ``MarketProcess`` it also reads what ``book`` would
show more cheaply (``top``, ``level``, ``touch_bounds``: prices first, sizes only where
needed), with bit-identical results.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from config import Config
from messages.market import BookSnapshot, Level, Trade
from messages.orders import Fill, Funding, NewOrder, OpenOrder, OrderAck, OrderCancelled, OrderReject
from exchange_rules.ticks import (is_valid_price_float, is_valid_size_float, meets_min_notional_float, round_price_float,
                          round_size_float, to_wire)
from venues.sim.faults import Faults, SimRequestFailed
from venues.sim.fees import fee_rates
from venues.sim.market import MarketProcess, TakerOrder, seed_entropy
from venues.sim.orderbook import OrderBookMarket, Print
from venues.sim.queue import QueueModel, queue_model
from strategy.risk import fill_identity

# Like Hyperliquid (userFillsByTime serves at most the 10,000 latest fills), the venue
# forgets old fills, so a run of weeks keeps flat memory. An order actor asks for fills
# since its sync watermark, seconds back; an hour covers any restart or reconnect.
FILL_HISTORY_S = 3600.0
FILL_HISTORY_N = 10_000
_MASK64 = (1 << 64) - 1

__all__ = ["SimExchange", "SimRequestFailed", "Event", "exchange_weight", "info_weight"]

ERR_TICK = "Price must be divisible by tick size. asset={i}"
ERR_SIZE = "Order has invalid size."
ERR_MIN_NOTIONAL = "Order must have minimum value of $10."
ERR_ALO = "Post only order would have immediately matched, bbo was {bid}@{ask}. asset={i}"
ERR_DUP_CLOID = "Duplicate cloid."
ERR_REDUCE_ONLY = "Reduce only order would increase position. asset={i}"
ERR_IOC = "Order could not immediately match against any resting orders. asset={i}"
ERR_MISSING = "Order was never placed, already canceled, or filled."
# The exact text Hyperliquid answers a request beyond the address budget with (a 3P capture).
ERR_ADDRESS_BUDGET = ("Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded ${vlm:.2f}. "
                      "Place taker orders to free up 1 request per USDC traded.")
# UNVERIFIED wording (no official text found): the open-order cap and scheduleCancel refusals.
ERR_OPEN_ORDER_CAP = "Too many open orders: the account is at its limit of {cap}. asset={i}"
ERR_SCHEDULE_TOO_SOON = "Scheduled cancel time must be at least {min_s:g} seconds in the future."
ERR_SCHEDULE_TRIGGERS = "Too many scheduled cancel triggers today: {used} of {limit} used."

SCHEDULED_CANCEL_REASON = "scheduledCancel"
# kinds of ``SimExchange.account_log`` entries (ts, kind, amount): actions spent within the
# cap (placements; cancels, whose cap is higher), spent without a check (cancel_all),
# asked for beyond the cap (throttled or refused), and notional traded
SPEND, SPEND_CANCEL, SPEND_ANYWAY, OVER, VOLUME = range(5)
THROTTLED_EVERY_S = 10.0  # an address beyond its budget may still send one request this often
CANCEL_CAP_EXTRA = 100_000  # cancels' cap: min(cap + 100000, 2 * cap)
IP_WINDOW_S = 60.0  # the IP weight limit is per minute
DAY_S = 86_400.0
_DEPTH_FIRST_LEVELS = 5  # the queue update reads this many levels first, more only if needed
_DEPTH_MAX_MULT = 4  # ... and at most this many times sim.book_levels (beyond: no news)

# /info request weights (hyperliquid.md §7).
_INFO_WEIGHT = {"l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2, "spotClearinghouseState": 2,
                "exchangeStatus": 2, "userRole": 60}
_INFO_DEFAULT_WEIGHT = 20
_INFO_ITEMS_PER_WEIGHT = {k: 20 for k in (
    "recentTrades", "historicalOrders", "userFills", "userFillsByTime", "fundingHistory", "userFunding",
    "nonUserFundingUpdates", "userNonFundingLedgerUpdates", "twapHistory", "userTwapSliceFills",
    "userTwapSliceFillsByTime", "delegatorHistory", "delegatorRewards", "validatorStats")} | {"candleSnapshot": 60}

Event = Fill | OrderCancelled | Trade | Funding


def exchange_weight(batch_len: int) -> int:
    """IP weight of one /exchange request carrying ``batch_len`` orders or cancels."""
    return 1 + max(0, batch_len) // 40


def info_weight(kind: str, items: int = 0) -> int:
    """IP weight of one /info request of type ``kind`` that returned ``items`` items."""
    w = _INFO_WEIGHT.get(kind, _INFO_DEFAULT_WEIGHT)
    per = _INFO_ITEMS_PER_WEIGHT.get(kind)
    return w + (max(0, items) // per if per else 0)


class Market(Protocol):
    """What the engine needs from a market process (and ``funding_rate`` if it has one)."""

    @property
    def mid(self) -> float: ...
    def advance(self, ts: float) -> list[TakerOrder]: ...
    def book(self, levels: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]: ...


@dataclass(slots=True)
class _Resting:
    cloid: str
    oid: int
    side: str  # "B" or "A"
    px: float
    sz: float  # remaining
    ts: float
    front: float  # estimated background size ahead of us at our price (>= 0)
    orig_sz: float
    level_qty: float  # displayed background size at our price when last looked
    cum_trade: float = 0.0  # background volume traded at our price since level_qty last changed


@dataclass(slots=True)
class _Book:
    """One asset's venue-side state."""

    name: str
    index: int
    sz_decimals: int
    orders: dict[str, _Resting]  # cloid -> order, insertion (= oid) order
    fills: deque[Fill]  # the recent ones only (FILL_HISTORY_S, FILL_HISTORY_N)
    position: float = 0.0
    fill_count: int = 0  # every fill ever, with fill_digest: what a run is checked by
    fill_digest: int = 0
    cash: float = 0.0
    funding: float = 0.0
    depth_look: int = -1  # the l2Book interval in which the queues were last updated


def _wire(x: float) -> float:
    """What survives the wire: the SDK sends numbers with 8 decimals and refuses
    (here: leaves unchanged, to be rejected) any that this rounding would alter."""
    if not math.isfinite(x):
        return x
    w = round(x, 8)  # = float(f"{x:.8f}"): both correctly rounded to 8 decimals
    return w if abs(w - x) < 1e-12 else x


def _asset_seed(seed: int, index: int) -> int:
    """One independent seed per asset, from the run's seed and the asset's index."""
    state = np.random.SeedSequence([seed_entropy(seed), index]).generate_state(2, np.uint64)
    return int(state[0]) << 64 | int(state[1])


def _day(ts: float) -> int:
    return math.floor(ts / DAY_S)


class SimExchange:
    def __init__(self, cfg: Config, seed: int | None = None, *, compiled: bool = False,
                 only: Iterable[str] | None = None) -> None:
        """``compiled``: order-book markets compile their makers' update (same results,
        faster after a few seconds of compiling: for backtests). ``only``: trade just these
        of the config's assets, each exactly as in the whole (its index, so its market's
        seed, from the config's list): one process's share of a parallel backtest."""
        self.cfg = cfg
        self.seed = cfg.run.seed if seed is None else seed
        sim = cfg.sim
        self.maker_fee, self.taker_fee = fee_rates(sim)
        self.book_levels = sim.book_levels
        self.queue: QueueModel = queue_model(sim.queue_model, sim.queue_power)
        self.open_order_cap = sim.open_order_cap
        # trade id of each fill -> the taker that made it (order-book markets); None: not kept.
        # The backtester asks for it and takes each entry as its fill is recorded.
        self.fill_takers: dict[int, str] | None = None
        self.ip_weight_limit = sim.ip_weight_per_minute
        self.funding_interval = float(sim.funding_interval_s)
        self.depth_interval = float(sim.book_interval_s)
        self.markets: dict[str, Market] = {}
        self._books: dict[str, _Book] = {}
        keep = None if only is None else set(only)
        for i, name in enumerate(cfg.portfolio.assets):
            if keep is not None and name not in keep:
                continue
            market = cfg.assets[name].market
            seed = _asset_seed(self.seed, i)
            self.markets[name] = (OrderBookMarket(name, market, sim, seed, compiled=compiled)
                                  if sim.market_model == "orderbook" else MarketProcess(name, market, sim, seed))
            self._books[name] = _Book(name, i, market.sz_decimals, {}, deque(maxlen=FILL_HISTORY_N))
        self.faults = Faults(self._books)
        self._next_oid = 1
        self._next_tid = 1
        self._now = 0.0  # the latest ts the engine has been told
        # the address's action budget
        self._cum_vlm = 0.0
        self._n_used = 0
        self._last_action_ts = -math.inf
        # what the address spent and traded, kept when set to a list: how a parallel backtest
        # checks that its shares of one account never met the account's shared limits
        self.account_log: list[tuple[float, int, float]] | None = None
        self.peak_open_orders = 0  # the most open orders the account could have had at once
        # the IP's request weight: (ts, weight), oldest first
        self._ip: deque[tuple[float, int]] = deque()
        self._ip_total = 0
        # scheduleCancel
        self._cancel_at: float | None = None
        self._trigger_day = 0
        self._triggers = 0
        # funding: the k-th payment is due at k * interval
        self._funding_k = 1

    # -- helpers ------------------------------------------------------------------------
    def _book(self, asset: str) -> _Book:
        try:
            return self._books[asset]
        except KeyError:
            raise KeyError(f"unknown asset {asset!r}; the sim trades {list(self._books)}") from None

    def _tid(self) -> int:
        tid = self._next_tid
        self._next_tid += 1
        return tid

    def _note_time(self, ts: float) -> None:
        if ts > self._now:
            self._now = ts

    def _fail_if_armed(self, asset: str, what: str) -> None:
        if self.faults.take_failure(asset):
            raise SimRequestFailed(f"{what} for {asset} failed (injected fault)")

    def _fill(self, b: _Book, o: _Resting, sz: float, ts: float, events: list[Event], taker: str = "") -> None:
        """Fill ``sz`` of ``o``: one Fill, or several if a partial-fill fault is armed."""
        frac = self.faults.fill_fraction(b.name)
        if frac is None:
            events.append(self._fill_piece(b, o, sz, ts, taker))
            return
        d = b.sz_decimals
        piece = max(round_size_float(o.orig_sz * frac, d, "down"), 10.0 ** -d)
        left = sz
        while left > 0:
            q = min(piece, left)
            left = round(left - q, d)
            events.append(self._fill_piece(b, o, q, ts, taker))

    def _fill_piece(self, b: _Book, o: _Resting, sz: float, ts: float, taker: str = "") -> Fill:
        """One Fill of ``sz`` of ``o``; ``taker``: who took it, where the market says ("": unknown)."""
        o.sz = round(o.sz - sz, b.sz_decimals)
        if o.sz <= 0:
            o.sz = 0.0
            del b.orders[o.cloid]
        return self._book_fill(b, o.cloid, o.oid, o.side, o.px, sz, self.maker_fee, o.sz, ts, taker)

    def _book_fill(self, b: _Book, cloid: str, oid: int, side: str, px: float, sz: float, fee_rate: float,
                   remaining: float, ts: float, taker: str, crossed: bool = False) -> Fill:
        """A fill of ours on the account: position, cash and fee, the served history, the
        running count and identity digest."""
        d = b.sz_decimals
        notional = px * sz
        fee = notional * fee_rate
        self._cum_vlm += notional
        if self.account_log is not None:
            self.account_log.append((ts, VOLUME, notional))
        if side == "B":
            b.position = round(b.position + sz, d)
            b.cash -= notional + fee
        else:
            b.position = round(b.position - sz, d)
            b.cash += notional - fee
        tid = self._tid()
        if self.fill_takers is not None and taker:
            self.fill_takers[tid] = taker
        f = Fill(asset=b.name, cloid=cloid, oid=oid, tid=tid, side=side, px=px,  # type: ignore[arg-type]
                 sz=sz, fee=fee, ts=ts, remaining=remaining, crossed=crossed)
        b.fills.append(f)
        b.fill_count += 1
        b.fill_digest = (b.fill_digest + fill_identity(f.tid, f.sz, f.px)) & _MASK64
        while b.fills[0].ts < ts - FILL_HISTORY_S:
            b.fills.popleft()
        return f

    def _side_orders(self, b: _Book, side: str) -> list[_Resting]:
        """Resting orders of one side in price-time priority (best price first)."""
        orders = [o for o in b.orders.values() if o.side == side]
        if side == "B":
            orders.sort(key=lambda o: (-o.px, o.oid))
        else:
            orders.sort(key=lambda o: (o.px, o.oid))
        return orders

    def _depth(self, market: Market, side: str, worst_px: float) -> tuple[dict[float, float], float | None]:
        """The background sizes by price on one side, read just deep enough to reach
        ``worst_px`` (at most ``_DEPTH_MAX_MULT`` x ``sim.book_levels`` levels); and the
        horizon: the last price read (None if that was the whole side, so a price absent
        from it has nothing there)."""
        n = min(_DEPTH_FIRST_LEVELS, self.book_levels)
        most = self.book_levels * _DEPTH_MAX_MULT
        while True:
            bids, asks = market.book(n)
            levels = bids if side == "B" else asks
            if len(levels) < n:
                return {lv.px: lv.sz for lv in levels}, None
            last = levels[-1].px
            if (worst_px >= last if side == "B" else worst_px <= last) or n >= most:
                return {lv.px: lv.sz for lv in levels}, last
            n = min(2 * n, most)

    @staticmethod
    def _visible(side: str, px: float, horizon: float | None) -> bool:
        return horizon is None or (px >= horizon if side == "B" else px <= horizon)

    def _level(self, market: Market, side: str, px: float) -> float | None:
        """The background size at ``px`` on one side, as the depth read up to ``px`` sees
        it (``_depth``): 0.0 if no level has that price, None if ``px`` is beyond the book
        the engine reads (no news from there)."""
        if type(market) is MarketProcess:  # reads prices first, sizes only where needed
            return market.level(side, px, self.book_levels * _DEPTH_MAX_MULT)
        sizes, horizon = self._depth(market, side, px)
        return sizes.get(px, 0.0) if self._visible(side, px, horizon) else None

    @staticmethod
    def _top(market: Market) -> tuple[float, float]:
        """The background's best bid and ask prices (-inf, inf for an empty side)."""
        if type(market) is MarketProcess or type(market) is OrderBookMarket:
            return market.top()
        bids, asks = market.book(1)
        return bids[0].px if bids else -math.inf, asks[0].px if asks else math.inf

    # -- the market ---------------------------------------------------------------------
    def advance(self, ts: float) -> list[Event]:
        """Step every market to ``ts`` and match; the scheduled cancels, funding, fills
        and public trades, in order."""
        if ts > self._now:
            self._now = ts
        events: list[Event] = []
        if (self._cancel_at is not None and self._cancel_at <= ts) or self._funding_k * self.funding_interval <= ts:
            self._due(ts, events)
        markets = self.markets
        arrivals = [(b, markets[name].advance(ts)) for name, b in self._books.items()]
        look = math.floor(ts / self.depth_interval + 1e-9)
        for b, takers in arrivals:
            if type(markets[b.name]) is OrderBookMarket:  # it matched our orders in its queues already
                if takers:
                    self._prints(b, takers, ts, events)  # type: ignore[arg-type]
            elif b.orders or takers:
                market = markets[b.name]
                if b.orders:
                    if look != b.depth_look:
                        self._update_queues(b, market)
                    self._trade_through(b, market, ts, events)
                for t in takers:
                    self._take(b, market, t, ts, events)
            b.depth_look = look
        return events

    def _prints(self, b: _Book, prints: list[Print], ts: float, events: list[Event]) -> None:
        """An order-flow book's trades, with the fills of our orders it matched."""
        name = b.name
        for p in prints:
            events.append(Trade(name, ts, p.px, p.sz, p.side, self._tid()))
            for cloid, sz in p.fills:
                self._fill(b, b.orders[cloid], sz, ts, events, p.taker)

    def _due(self, ts: float, events: list[Event]) -> None:
        """A scheduled cancel and funding payments due by ``ts``, in time order."""
        due: list[tuple[float, int]] = []
        if self._cancel_at is not None and self._cancel_at <= ts:
            due.append((self._cancel_at, 0))
        interval = self.funding_interval
        while self._funding_k * interval <= ts:
            due.append((self._funding_k * interval, 1))
            self._funding_k += 1
        for t, kind in sorted(due):
            if kind == 0:
                self._fire_scheduled_cancel(t, events)
            else:
                self._pay_funding(t, events)

    def _fire_scheduled_cancel(self, at: float, events: list[Event]) -> None:
        self._cancel_at = None
        for b in self._books.values():
            events.extend(OrderCancelled(asset=b.name, cloid=c, ts=at, reason=SCHEDULED_CANCEL_REASON)
                          for c in b.orders)
            self._unrest(b, list(b.orders))
            b.orders.clear()
        self._roll_day(at)
        self._triggers += 1

    def _funding_rate(self, name: str, market: Market) -> float:
        rate = getattr(market, "funding_rate", self.cfg.assets[name].market.funding_rate)
        return float(rate() if callable(rate) else rate)

    def _pay_funding(self, at: float, events: list[Event]) -> None:
        hours = self.funding_interval / 3600.0
        for b in self._books.values():
            if b.position == 0:
                continue
            market = self.markets[b.name]
            rate = self._funding_rate(b.name, market)
            usd = -b.position * market.mid * rate * hours
            b.cash += usd
            b.funding += usd
            events.append(Funding(asset=b.name, ts=at, rate=rate, position=b.position, usd=usd))

    def _update_queues(self, b: _Book, market: Market) -> None:
        """Move our queue estimates where the displayed size at our price changed."""
        if type(market) is MarketProcess:  # the same, order by order (see _level)
            depth = self.book_levels * _DEPTH_MAX_MULT
            for o in b.orders.values():
                if o.front > 0:
                    new = market.level(o.side, o.px, depth)
                    if new is not None and new != o.level_qty:
                        front = self.queue.on_depth_change(o.front, o.level_qty, new, o.cum_trade)
                        o.front = max(0.0, front)
                        o.cum_trade = 0.0
                        o.level_qty = new
            return
        for side in ("B", "A"):
            # an order at the head of its queue stays there: only the others can move
            orders = [o for o in b.orders.values() if o.side == side and o.front > 0]
            if not orders:
                continue
            worst = min(o.px for o in orders) if side == "B" else max(o.px for o in orders)
            sizes, horizon = self._depth(market, side, worst)
            for o in orders:
                if not self._visible(side, o.px, horizon):
                    continue  # beyond the book we can see: no news
                new = sizes.get(o.px, 0.0)
                if new != o.level_qty:
                    front = self.queue.on_depth_change(o.front, o.level_qty, new, o.cum_trade)
                    o.front = max(0.0, front)
                    o.cum_trade = 0.0
                    o.level_qty = new

    def _trade_through(self, b: _Book, market: Market, ts: float, events: list[Event]) -> None:
        if type(market) is MarketProcess:
            bounds = market.touch_bounds()  # best bid <= lo, best ask >= hi
            if bounds is not None:
                lo, hi = bounds
                for o in b.orders.values():
                    if o.px >= hi if o.side == "B" else o.px <= lo:
                        break
                else:
                    return  # nothing can be crossed: no need to work the book out
        best_bid, best_ask = self._top(market)
        crossed = [o for o in b.orders.values() if (o.px >= best_ask if o.side == "B" else o.px <= best_bid)]
        if not crossed:
            return
        # in price-time priority, bids first
        for o in sorted((o for o in crossed if o.side == "B"), key=lambda o: (-o.px, o.oid)):
            events.append(Trade(b.name, ts, o.px, o.sz, "A", self._tid()))
            self._fill(b, o, o.sz, ts, events)
        for o in sorted((o for o in crossed if o.side == "A"), key=lambda o: (o.px, o.oid)):
            events.append(Trade(b.name, ts, o.px, o.sz, "B", self._tid()))
            self._fill(b, o, o.sz, ts, events)

    def _take(self, b: _Book, market: Market, t: TakerOrder, ts: float, events: list[Event]) -> None:
        mid = market.mid
        d = b.sz_decimals
        if t.side == "B":  # a buyer lifts asks
            px = round_price_float(mid * (1 + t.reach_bp / 1e4), d, "up")
            hit = "A"
        else:
            px = round_price_float(mid * (1 - t.reach_bp / 1e4), d, "down")
            hit = "B"
        events.append(Trade(b.name, ts, px, t.sz, t.side, self._tid()))
        left = t.sz
        passed = 0.0  # background volume traded at px during this print
        at_px: list[_Resting] = []
        for o in self._side_orders(b, hit):
            better = o.px < px if hit == "A" else o.px > px
            if better:  # the print went through this price: its queue is gone
                o.front = 0.0
                if left > 0:
                    q = min(left, o.sz)
                    left = round(left - q, d)
                    self._fill(b, o, q, ts, events)
            elif o.px == px:
                at_px.append(o)
                ahead = max(0.0, round(o.front - passed, d))
                used = min(left, ahead)
                passed = round(passed + used, d)
                left = round(left - used, d)
                if left > 0:
                    q = min(left, o.sz)
                    left = round(left - q, d)
                    self._fill(b, o, q, ts, events)
            else:
                break  # worse than the print: this and every later order are untouched
        if at_px:
            # the background volume this print took at px: what went ahead of our orders,
            # and what was left after them (it traded behind us)
            bg = round(passed + left, d)
            for o in at_px:
                if o.sz > 0:
                    o.front = max(0.0, round(self.queue.on_trade(o.front, bg), 12))
                    o.cum_trade += bg

    # -- the address budget and the IP weight ---------------------------------------------
    def _request_cap(self) -> int:
        return self.cfg.sim.address_budget_initial + math.floor(self._cum_vlm)

    def _cancel_cap(self) -> int:
        cap = self._request_cap()
        return min(cap + CANCEL_CAP_EXTRA, 2 * cap)

    def _budget_text(self, n: int, cancel: bool) -> str:
        cap = self._cancel_cap() if cancel else self._request_cap()
        return ERR_ADDRESS_BUDGET.format(used=max(self._n_used, cap) + n, cap=cap, vlm=self._cum_vlm)

    def _spend(self, n: int, ts: float, cancel: bool) -> str | None:
        """Spend ``n`` address actions; None if allowed, else the refusal text."""
        cap = self._cancel_cap() if cancel else self._request_cap()
        if self.account_log is not None:
            self.account_log.append((ts, (SPEND_CANCEL if cancel else SPEND) if self._n_used + n <= cap else OVER, n))
        if self._n_used + n <= cap or ts - self._last_action_ts >= THROTTLED_EVERY_S:
            self._n_used += n
            self._last_action_ts = max(self._last_action_ts, ts)
            return None
        return ERR_ADDRESS_BUDGET.format(used=self._n_used + n, cap=cap, vlm=self._cum_vlm)

    def _batch_refusal(self, asset: str, n: int, ts: float, cancel: bool) -> str | None:
        if self.faults.take_throttle(asset):
            return self._budget_text(n, cancel)
        return self._spend(n, ts, cancel)

    def charge_ip_weight(self, ts: float, weight: int) -> None:
        """Account ``weight`` against the IP at ``ts`` (for requests the venue service
        serves itself, e.g. an l2Book snapshot: ``info_weight("l2Book")``)."""
        if weight > 0:
            self._note_time(ts)
            self._ip.append((ts, int(weight)))
            self._ip_total += int(weight)
            horizon = self._now - IP_WINDOW_S
            while self._ip and self._ip[0][0] <= horizon:
                self._ip_total -= self._ip.popleft()[1]

    def ip_weight_used(self, ts: float) -> int:
        """The IP weight spent in the minute up to ``ts``: (ts − 60 s, ts]. Cheap for
        the current time; a time more than a minute before the latest charge may
        miss what has been forgotten."""
        if ts >= self._now:
            cut, stale = ts - IP_WINDOW_S, 0
            for t, w in self._ip:
                if t > cut:
                    break
                stale += w
            return self._ip_total - stale
        return sum(w for t, w in self._ip if ts - IP_WINDOW_S < t <= ts)

    def rate_limit_status(self, ts: float | None = None) -> dict[str, float | int]:
        """The address's budget, like ``/info userRateLimit``; a request (weight 20) if
        ``ts`` is given."""
        if ts is not None:
            self.charge_ip_weight(ts, info_weight("userRateLimit"))
        return {"cumVlm": self._cum_vlm, "nRequestsUsed": self._n_used, "nRequestsCap": self._request_cap()}

    # -- scheduleCancel --------------------------------------------------------------------
    def _roll_day(self, ts: float) -> None:
        day = _day(ts)
        if day != self._trigger_day:
            self._trigger_day = day
            self._triggers = 0

    def schedule_cancel(self, ts: float, at: float | None) -> str | None:
        """Set (or, with ``at=None``, clear) the dead-man's switch: at ``at`` every open
        order of every asset is cancelled. None if accepted, else the refusal text.
        One address action (and IP weight 1), like any other."""
        self._note_time(ts)
        self.charge_ip_weight(ts, exchange_weight(1))
        injected = self.faults.take_schedule_cancel_refusal()
        if injected is not None:
            return injected
        if at is not None:
            min_s = self.cfg.sim.schedule_cancel_min_ahead_s
            if not (math.isfinite(at) and at - ts >= min_s):
                return ERR_SCHEDULE_TOO_SOON.format(min_s=min_s)
            used, limit = self.schedule_cancel_triggers(ts), self.cfg.sim.schedule_cancel_triggers_per_day
            if used >= limit:
                return ERR_SCHEDULE_TRIGGERS.format(used=used, limit=limit)
        refusal = self._spend(1, ts, cancel=False)
        if refusal is not None:
            return refusal
        self._cancel_at = None if at is None else float(at)
        return None

    def schedule_cancel_triggers(self, ts: float) -> int:
        """Scheduled cancels fired on the UTC day of ``ts`` (simulated time)."""
        return self._triggers if _day(ts) == self._trigger_day else 0

    def schedule_cancel_state(self) -> tuple[float | None, int]:
        """(the scheduled cancel time or None, triggers fired today), today being the
        day of the latest time the engine has been told."""
        return self._cancel_at, self.schedule_cancel_triggers(self._now)

    # -- orders -------------------------------------------------------------------------
    def _bbo(self, b: _Book, market: Market) -> tuple[float, float]:
        """Best bid and ask of the combined book (background and ours)."""
        best_bid, best_ask = self._top(market)
        for o in b.orders.values():
            if o.side == "B":
                best_bid = max(best_bid, o.px)
            else:
                best_ask = min(best_ask, o.px)
        return best_bid, best_ask

    def _unrest(self, b: _Book, cloids: Sequence[str]) -> None:
        """Take cancelled orders out of an order-flow book's queues."""
        market = self.markets[b.name]
        if type(market) is OrderBookMarket:
            for c in cloids:
                market.cancel_order(c)

    def open_order_count(self) -> int:
        """Open orders of the account, all assets."""
        return sum(len(b.orders) for b in self._books.values())

    def _refusal(self, b: _Book, market: Market, o: NewOrder, px: float, sz: float) -> str | None:
        """Why the venue refuses this order (first reason wins), or None."""
        d = b.sz_decimals
        if not (math.isfinite(px) and px > 0 and is_valid_price_float(px, d)):
            return ERR_TICK.format(i=b.index)
        if not (math.isfinite(sz) and is_valid_size_float(sz, d)):
            return ERR_SIZE
        if not meets_min_notional_float(px, sz):
            return ERR_MIN_NOTIONAL
        bid, ask = self._top(market)  # the combined book's touch on the side the order could hit:
        if o.side == "B":
            for r in b.orders.values():
                if r.side == "A" and r.px < ask:
                    ask = r.px
            crossed = px >= ask
        else:
            for r in b.orders.values():
                if r.side == "B" and r.px > bid:
                    bid = r.px
            crossed = px <= bid
        if crossed:
            bid, ask = self._bbo(b, market)
            return ERR_ALO.format(bid=_bbo_text(bid), ask=_bbo_text(ask), i=b.index)
        if o.cloid in b.orders:
            return ERR_DUP_CLOID
        n_open = self.open_order_count()
        if n_open >= self.peak_open_orders:
            self.peak_open_orders = n_open + 1  # if this one rests
        if n_open >= self.open_order_cap:
            return ERR_OPEN_ORDER_CAP.format(cap=self.open_order_cap, i=b.index)
        return None

    def place(self, asset: str, orders: Sequence[NewOrder], ts: float) -> list[Any]:
        """Validate and rest post-only orders; one answer per order, in order (an IOC's
        answer also carries its fills and the cancel of its rest: ``_ioc``). A batch
        beyond the address budget is refused as a whole (each order rejected with the
        budget text)."""
        b = self._book(asset)
        for o in orders:
            if o.side not in ("B", "A"):
                raise ValueError(f"order {o.cloid}: side must be 'B' or 'A', got {o.side!r}")
        self._fail_if_armed(asset, "place")
        if not orders:
            return []
        self._note_time(ts)
        self.charge_ip_weight(ts, exchange_weight(len(orders)))
        refusal = self._batch_refusal(asset, len(orders), ts, cancel=False)
        if refusal is not None:
            return [OrderReject(asset=asset, cloid=o.cloid, reason=refusal, ts=ts) for o in orders]
        market = self.markets[asset]
        out: list[OrderAck | OrderReject] = []
        for o in orders:
            px, sz = _wire(o.px), _wire(o.sz)
            reason = self.faults.take_reject(asset)
            if reason is None and o.tif == "Ioc":
                out += self._ioc(b, market, o, px, sz, ts)
                continue
            if reason is None:
                reason = self._refusal(b, market, o, px, sz)
            if reason is not None:
                out.append(OrderReject(asset=asset, cloid=o.cloid, reason=reason, ts=ts))
                continue
            oid = self._next_oid
            self._next_oid += 1
            if type(market) is OrderBookMarket:  # joins the back of its level's queue
                market.add_order(o.cloid, o.side, px, sz)
                queue = market.queue_ahead(o.cloid)
            else:
                queue = self._level(market, o.side, px)
                if queue is None:
                    queue = 0.0
            b.orders[o.cloid] = _Resting(o.cloid, oid, o.side, px, float(sz), ts, queue, float(sz), queue)
            out.append(OrderAck(asset=asset, cloid=o.cloid, oid=oid, ts=ts))
        return out

    def _ioc(self, b: _Book, market: Market, o: NewOrder, px: float, sz: float, ts: float) -> list[Any]:
        """An immediate-or-cancel order (the emergency unwind's, reduce-only): it takes the
        background's displayed liquidity from the touch up to ``px`` and pays the taker
        fee; the rest is cancelled. Our own resting orders it would cross are cancelled
        first (Hyperliquid's self-trade prevention). Answers: an ack, then its fills and
        the cancel of what was left, or one reject. Its trades are not printed on the
        public tape (the sim's tape is the background's)."""
        d = b.sz_decimals
        if not (math.isfinite(px) and px > 0 and is_valid_price_float(px, d)):
            return [OrderReject(b.name, o.cloid, ERR_TICK.format(i=b.index), ts)]
        if not (math.isfinite(sz) and is_valid_size_float(sz, d) and sz > 0):
            return [OrderReject(b.name, o.cloid, ERR_SIZE, ts)]
        buy = o.side == "B"
        if o.reduce_only:
            if (b.position >= 0) if buy else (b.position <= 0):
                return [OrderReject(b.name, o.cloid, ERR_REDUCE_ONLY.format(i=b.index), ts)]
            sz = min(sz, abs(b.position))
        out: list[Any] = []
        crossed = [r.cloid for r in b.orders.values()
                   if r.side != o.side and (r.px <= px if buy else r.px >= px)]
        for c in crossed:
            del b.orders[c]
            out.append(OrderCancelled(asset=b.name, cloid=c, ts=ts, reason="selfTradeCanceled"))
        self._unrest(b, crossed)
        if type(market) is OrderBookMarket:
            prints = [(p.px, p.sz) for p in market.take(buy, sz, px)]
        else:  # the intensity market's displayed book (it keeps no queues to deplete)
            bids, asks = market.book(self.book_levels * _DEPTH_MAX_MULT)
            prints, left = [], sz
            for lv in (asks if buy else bids):
                if left <= 0 or (lv.px > px if buy else lv.px < px):
                    break
                q = min(left, round_size_float(lv.sz, d))
                if q > 0:
                    prints.append((lv.px, q))
                    left = round(left - q, d)
        if not prints:
            return out + [OrderReject(b.name, o.cloid, ERR_IOC.format(i=b.index), ts)]
        oid = self._next_oid
        self._next_oid += 1
        out.append(OrderAck(asset=b.name, cloid=o.cloid, oid=oid, ts=ts))
        left = sz
        for ppx, q in prints:
            left = round(left - q, d)
            out.append(self._book_fill(b, o.cloid, oid, o.side, ppx, q, self.taker_fee, max(left, 0.0), ts, "ours",
                                       crossed=True))
        if left > 0:
            out.append(OrderCancelled(asset=b.name, cloid=o.cloid, ts=ts, reason="ioc"))
        return out

    def fill_count(self, asset: str) -> int:
        """How many fills of ours there have been, including those no longer served."""
        return self._book(asset).fill_count

    def fills_digest(self, asset: str) -> int:
        """The order-free digest (``strategy.risk.fill_identity``) of every fill of ours."""
        return self._book(asset).fill_digest

    def cancel(self, asset: str, cloids: Sequence[str], ts: float) -> list[OrderCancelled | OrderReject]:
        """Cancel by cloid; one answer per cloid. A batch beyond the (cancel) budget is
        refused as a whole."""
        b = self._book(asset)
        self._fail_if_armed(asset, "cancel")
        if not cloids:
            return []
        self._note_time(ts)
        self.charge_ip_weight(ts, exchange_weight(len(cloids)))
        refusal = self._batch_refusal(asset, len(cloids), ts, cancel=True)
        if refusal is not None:
            return [OrderReject(asset=asset, cloid=c, reason=refusal, ts=ts) for c in cloids]
        out: list[OrderCancelled | OrderReject] = []
        for c in cloids:
            if b.orders.pop(c, None) is None:
                out.append(OrderReject(asset=asset, cloid=c, reason=ERR_MISSING, ts=ts))
            else:
                self._unrest(b, (c,))
                out.append(OrderCancelled(asset=asset, cloid=c, ts=ts, reason="cancel"))
        return out

    def cancel_all(self, asset: str, ts: float) -> list[OrderCancelled]:
        """Cancel every open order of the asset: one cancel batch of that many, counted
        against the address budget and the IP weight but never refused (the emergency
        path; throttle faults do not apply, a failure fault does)."""
        b = self._book(asset)
        self._fail_if_armed(asset, "cancel_all")
        self._note_time(ts)
        n = len(b.orders)
        if n:
            self.charge_ip_weight(ts, exchange_weight(n))
            self._n_used += n
            if self.account_log is not None:
                self.account_log.append((ts, SPEND_ANYWAY, n))
            self._last_action_ts = max(self._last_action_ts, ts)
        out = [OrderCancelled(asset=asset, cloid=c, ts=ts, reason="cancel_all") for c in b.orders]
        self._unrest(b, list(b.orders))
        b.orders.clear()
        return out

    # -- queries ------------------------------------------------------------------------
    def _query(self, asset: str, what: str, ts: float | None) -> _Book:
        b = self._book(asset)
        if ts is not None:
            self._fail_if_armed(asset, what)
        return b

    def open_orders(self, asset: str, ts: float | None = None) -> tuple[OpenOrder, ...]:
        """The asset's resting orders by oid; a request (``openOrders``, weight 20) if
        ``ts`` is given."""
        b = self._query(asset, "open_orders", ts)
        if ts is not None:
            self.charge_ip_weight(ts, info_weight("openOrders"))
        return tuple(OpenOrder(asset=asset, cloid=o.cloid, oid=o.oid, side=o.side, px=o.px, sz=o.sz, ts=o.ts)  # type: ignore[arg-type]
                     for o in sorted(b.orders.values(), key=lambda o: o.oid))

    def queue_ahead(self, asset: str, cloid: str) -> float:
        """Background size still ahead of a resting order at its price (exact on an
        order-flow book, estimated by the queue model on the formula market)."""
        market = self.markets[asset]
        if type(market) is OrderBookMarket:
            self._book(asset).orders[cloid]  # KeyError for an order that is not resting
            return market.queue_ahead(cloid)
        return self._book(asset).orders[cloid].front

    def position(self, asset: str, ts: float | None = None) -> float:
        """A request (``clearinghouseState``, weight 2) if ``ts`` is given."""
        b = self._query(asset, "position", ts)
        if ts is not None:
            self.charge_ip_weight(ts, info_weight("clearinghouseState"))
        return b.position

    def cash(self, asset: str) -> float:
        return self._book(asset).cash

    def funding(self, asset: str) -> float:
        """Funding received (> 0) or paid (< 0) on the asset since the start, USD."""
        return self._book(asset).funding

    def mid(self, asset: str) -> float:
        self._book(asset)
        return self.markets[asset].mid

    def pnl(self, asset: str) -> float:
        b = self._book(asset)
        return b.cash + b.position * self.markets[asset].mid

    def fills(self, asset: str, since_ts: float = 0.0, ts: float | None = None) -> tuple[Fill, ...]:
        """Our fills since ``since_ts``; a request (``userFillsByTime``, weight 20 + 1 per
        20 fills) if ``ts`` is given."""
        b = self._query(asset, "fills", ts)
        out = tuple(f for f in b.fills if f.ts >= since_ts)
        if ts is not None:
            self.charge_ip_weight(ts, info_weight("userFillsByTime", len(out)))
        return out

    def book_snapshot(self, asset: str, ts: float, seq: int) -> BookSnapshot:
        """The background book with our resting sizes added at their prices."""
        b = self._book(asset)
        n = self.book_levels
        market = self.markets[asset]
        bids, asks = market.book(n)
        mine: dict[str, list[_Resting]] = {"B": [], "A": []}
        for o in b.orders.values():
            mine[o.side].append(o)
        if type(market) is MarketProcess or type(market) is OrderBookMarket:  # sorted, no repeats, n deep
            if mine["B"]:
                bids = _merge_ours(bids, mine["B"], b.sz_decimals, n, True)
            if mine["A"]:
                asks = _merge_ours(asks, mine["A"], b.sz_decimals, n, False)
        else:
            bids = _with_ours(bids, mine["B"], b.sz_decimals, n, True)
            asks = _with_ours(asks, mine["A"], b.sz_decimals, n, False)
        return BookSnapshot(asset=asset, ts=ts, seq=seq, bids=bids, asks=asks)

    def asset_index(self, asset: str) -> int:
        return self._book(asset).index

    def sz_decimals(self, asset: str) -> int:
        return self._book(asset).sz_decimals


def _with_ours(levels: tuple[Level, ...], orders: list[_Resting], d: int, n: int, bids: bool) -> tuple[Level, ...]:
    """One side of the book with our resting sizes added at their prices (in order
    placed), best first, at most ``n`` levels."""
    sizes = {lv.px: lv.sz for lv in levels}
    for o in orders:
        sizes[o.px] = round(sizes.get(o.px, 0.0) + o.sz, d)
    return tuple(Level(px, sz) for px, sz in sorted(sizes.items(), reverse=bids)[:n])


def _merge_ours(levels: tuple[Level, ...], orders: list[_Resting], d: int, n: int, bids: bool) -> tuple[Level, ...]:
    """``_with_ours`` for a side that is sorted best first without repeated prices: our
    sizes merged in place instead of re-sorting the side."""
    out = list(levels)
    for o in orders:
        px = o.px
        for i, lv in enumerate(out):
            p = lv.px
            if p == px:
                out[i] = Level(px, round(lv.sz + o.sz, d))
                break
            if p < px if bids else p > px:
                out.insert(i, Level(px, round(0.0 + o.sz, d)))
                break
        else:
            out.append(Level(px, round(0.0 + o.sz, d)))
    return tuple(out[:n])


def _bbo_text(px: float) -> str:
    return to_wire(px) if math.isfinite(px) else ("0" if px < 0 else "inf")
