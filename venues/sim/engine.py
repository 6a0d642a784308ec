"""The simulated exchange's matching engine: the venue-side truth.

Pure, synchronous and deterministic: no clock (``ts`` always comes in as an argument),
no threads, no I/O. The trio service in ``venues.sim.venue`` adds latency, feeds and
fencing around it.

One ``MarketProcess`` per asset (config order) supplies the mid, a background L2 book
and taker arrivals. Our orders are post-only (ALO) limit orders resting on top of that
book. Matching, at each ``advance(ts)`` after every market has been stepped to ``ts``:

1. **Trade-through.** A resting bid at or above the background best ask (or an ask at
   or below the background best bid), because the mid moved, fills completely at its
   own price; the tape shows a matching trade.
2. **Takers.** Each arrival prints a public ``Trade`` at mid·(1 ± reach/1e4) on the
   tick grid (rounded away from the mid: buys above it, sells below) and fills our
   orders on the side it hits in price-time priority. Orders strictly better than the
   trade price fill first, up to the taker's size, and their queue is gone (the level
   traded through). At the trade price each order first waits for its ``queue_ahead``
   (the background size displayed at that price when it was placed) to trade: the
   background volume that trades there moves every order at that price forward, as one
   FIFO queue. Then it fills; partial fills leave the rest resting.

Every fill is maker: fee = px·sz·maker_fee (positive = paid). Positions are signed
units kept on the lot grid; cash is the per-asset cash flow since the start (sells
add px·sz, buys subtract it, fees subtract).

The engine uses only the public face of a market (``mid``, ``advance``, ``book``), so a
scripted market can stand in for one (``self.markets``) in tests.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from makerhive.config import Config
from messages.market import BookSnapshot, Level, Trade
from messages.orders import Fill, NewOrder, OpenOrder, OrderAck, OrderCancelled, OrderReject
from venues.rules import is_valid_price, is_valid_size, meets_min_notional, round_price, to_wire
from venues.sim.market import MarketProcess, TakerOrder, seed_entropy

ERR_TICK = "Price must be divisible by tick size. asset={i}"
ERR_SIZE = "Order has invalid size."
ERR_MIN_NOTIONAL = "Order must have minimum value of $10."
ERR_ALO = "Post only order would have immediately matched, bbo was {bid}@{ask}. asset={i}"
ERR_DUP_CLOID = "Duplicate cloid."
ERR_MISSING = "Order was never placed, already canceled, or filled."

Event = Fill | OrderCancelled | Trade


class Market(Protocol):
    """What the engine needs from a market process."""

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
    queue_ahead: float


@dataclass(slots=True)
class _Book:
    """One asset's venue-side state."""

    name: str
    index: int
    sz_decimals: int
    orders: dict[str, _Resting]  # cloid -> order, insertion (= oid) order
    fills: list[Fill]
    position: float = 0.0
    cash: float = 0.0


def _wire(x: float) -> float:
    """What survives the wire: the SDK sends numbers with 8 decimals and refuses
    (here: leaves unchanged, to be rejected) any that this rounding would alter."""
    if not math.isfinite(x):
        return x
    w = float(f"{x:.8f}")
    return w if abs(w - x) < 1e-12 else x


def _asset_seed(seed: int, index: int) -> int:
    """One independent seed per asset, from the run's seed and the asset's index."""
    state = np.random.SeedSequence([seed_entropy(seed), index]).generate_state(2, np.uint64)
    return int(state[0]) << 64 | int(state[1])


class SimExchange:
    def __init__(self, cfg: Config, seed: int | None = None) -> None:
        self.cfg = cfg
        self.seed = cfg.run.seed if seed is None else seed
        self.maker_fee = cfg.sim.maker_fee
        self.book_levels = cfg.sim.book_levels
        self.markets: dict[str, Market] = {}
        self._books: dict[str, _Book] = {}
        for i, name in enumerate(cfg.portfolio.assets):
            market = cfg.assets[name].market
            self.markets[name] = MarketProcess(name, market, cfg.sim, _asset_seed(self.seed, i))
            self._books[name] = _Book(name, i, market.sz_decimals, {}, [])
        self._next_oid = 1
        self._next_tid = 1

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

    def _fill(self, b: _Book, o: _Resting, sz: float, ts: float) -> Fill:
        d = b.sz_decimals
        o.sz = round(o.sz - sz, d)
        notional = o.px * sz
        fee = notional * self.maker_fee
        if o.side == "B":
            b.position = round(b.position + sz, d)
            b.cash -= notional + fee
        else:
            b.position = round(b.position - sz, d)
            b.cash += notional - fee
        if o.sz <= 0:
            o.sz = 0.0
            del b.orders[o.cloid]
        f = Fill(asset=b.name, cloid=o.cloid, oid=o.oid, tid=self._tid(), side=o.side, px=o.px,  # type: ignore[arg-type]
                 sz=sz, fee=fee, ts=ts, remaining=o.sz)
        b.fills.append(f)
        return f

    def _side_orders(self, b: _Book, side: str) -> list[_Resting]:
        """Resting orders of one side in price-time priority (best price first)."""
        orders = [o for o in b.orders.values() if o.side == side]
        if side == "B":
            orders.sort(key=lambda o: (-o.px, o.oid))
        else:
            orders.sort(key=lambda o: (o.px, o.oid))
        return orders

    # -- the market ---------------------------------------------------------------------
    def advance(self, ts: float) -> list[Fill | OrderCancelled | Trade]:
        """Step every market to ``ts`` and match; the fills and public trades, in order."""
        arrivals = [(b, self.markets[name].advance(ts)) for name, b in self._books.items()]
        events: list[Event] = []
        for b, takers in arrivals:
            market = self.markets[b.name]
            if b.orders:
                self._trade_through(b, market, ts, events)
            for t in takers:
                self._take(b, market, t, ts, events)
        return events

    def _trade_through(self, b: _Book, market: Market, ts: float, events: list[Event]) -> None:
        bids, asks = market.book(1)
        best_bid = bids[0].px if bids else -math.inf
        best_ask = asks[0].px if asks else math.inf
        for o in self._side_orders(b, "B"):
            if o.px >= best_ask:
                events.append(Trade(b.name, ts, o.px, o.sz, "A", self._tid()))
                events.append(self._fill(b, o, o.sz, ts))
        for o in self._side_orders(b, "A"):
            if o.px <= best_bid:
                events.append(Trade(b.name, ts, o.px, o.sz, "B", self._tid()))
                events.append(self._fill(b, o, o.sz, ts))

    def _take(self, b: _Book, market: Market, t: TakerOrder, ts: float, events: list[Event]) -> None:
        mid = market.mid
        d = b.sz_decimals
        if t.side == "B":  # a buyer lifts asks
            px = float(round_price(mid * (1 + t.reach_bp / 1e4), d, "up"))
            hit = "A"
        else:
            px = float(round_price(mid * (1 - t.reach_bp / 1e4), d, "down"))
            hit = "B"
        events.append(Trade(b.name, ts, px, t.sz, t.side, self._tid()))
        left = t.sz
        passed = 0.0  # background volume traded at px during this print
        for o in self._side_orders(b, hit):
            better = o.px < px if hit == "A" else o.px > px
            if better:  # the print went through this price: its queue is gone
                o.queue_ahead = 0.0
                if left > 0:
                    q = min(left, o.sz)
                    left = round(left - q, d)
                    events.append(self._fill(b, o, q, ts))
            elif o.px == px:
                ahead = max(0.0, round(o.queue_ahead - passed, d))
                used = min(left, ahead)
                passed = round(passed + used, d)
                left = round(left - used, d)
                o.queue_ahead = round(ahead - used, d)
                if left > 0:
                    q = min(left, o.sz)
                    left = round(left - q, d)
                    events.append(self._fill(b, o, q, ts))
            else:
                break  # worse than the print: this and every later order are untouched

    # -- orders -------------------------------------------------------------------------
    def _bbo(self, b: _Book, market: Market) -> tuple[float, float]:
        """Best bid and ask of the combined book (background and ours)."""
        bids, asks = market.book(1)
        best_bid = bids[0].px if bids else -math.inf
        best_ask = asks[0].px if asks else math.inf
        for o in b.orders.values():
            if o.side == "B":
                best_bid = max(best_bid, o.px)
            else:
                best_ask = min(best_ask, o.px)
        return best_bid, best_ask

    def place(self, asset: str, orders: Sequence[NewOrder], ts: float) -> list[OrderAck | OrderReject]:
        """Validate and rest post-only orders; one answer per order, in order."""
        b = self._book(asset)
        market = self.markets[asset]
        d = b.sz_decimals
        out: list[OrderAck | OrderReject] = []
        for o in orders:
            if o.side not in ("B", "A"):
                raise ValueError(f"order {o.cloid}: side must be 'B' or 'A', got {o.side!r}")
            px, sz = _wire(o.px), _wire(o.sz)
            reason = None
            if not (math.isfinite(px) and px > 0 and is_valid_price(px, d)):
                reason = ERR_TICK.format(i=b.index)
            elif not (math.isfinite(sz) and is_valid_size(sz, d)):
                reason = ERR_SIZE
            elif not meets_min_notional(px, sz):
                reason = ERR_MIN_NOTIONAL
            else:
                bid, ask = self._bbo(b, market)
                if (o.side == "B" and px >= ask) or (o.side == "A" and px <= bid):
                    reason = ERR_ALO.format(bid=_bbo_text(bid), ask=_bbo_text(ask), i=b.index)
                elif o.cloid in b.orders:
                    reason = ERR_DUP_CLOID
            if reason is not None:
                out.append(OrderReject(asset=asset, cloid=o.cloid, reason=reason, ts=ts))
                continue
            oid = self._next_oid
            self._next_oid += 1
            bids, asks = market.book(self.book_levels)
            levels = bids if o.side == "B" else asks
            queue = next((lv.sz for lv in levels if lv.px == px), 0.0)
            b.orders[o.cloid] = _Resting(o.cloid, oid, o.side, px, float(sz), ts, queue)
            out.append(OrderAck(asset=asset, cloid=o.cloid, oid=oid, ts=ts))
        return out

    def cancel(self, asset: str, cloids: Sequence[str], ts: float) -> list[OrderCancelled | OrderReject]:
        b = self._book(asset)
        out: list[OrderCancelled | OrderReject] = []
        for c in cloids:
            if b.orders.pop(c, None) is None:
                out.append(OrderReject(asset=asset, cloid=c, reason=ERR_MISSING, ts=ts))
            else:
                out.append(OrderCancelled(asset=asset, cloid=c, ts=ts, reason="cancel"))
        return out

    def cancel_all(self, asset: str, ts: float) -> list[OrderCancelled]:
        b = self._book(asset)
        out = [OrderCancelled(asset=asset, cloid=c, ts=ts, reason="cancel_all") for c in b.orders]
        b.orders.clear()
        return out

    # -- queries ------------------------------------------------------------------------
    def open_orders(self, asset: str) -> tuple[OpenOrder, ...]:
        b = self._book(asset)
        return tuple(OpenOrder(asset=asset, cloid=o.cloid, oid=o.oid, side=o.side, px=o.px, sz=o.sz, ts=o.ts)  # type: ignore[arg-type]
                     for o in sorted(b.orders.values(), key=lambda o: o.oid))

    def queue_ahead(self, asset: str, cloid: str) -> float:
        """Background size still ahead of a resting order at its price (for tests, tools)."""
        return self._book(asset).orders[cloid].queue_ahead

    def position(self, asset: str) -> float:
        return self._book(asset).position

    def cash(self, asset: str) -> float:
        return self._book(asset).cash

    def mid(self, asset: str) -> float:
        self._book(asset)
        return self.markets[asset].mid

    def pnl(self, asset: str) -> float:
        b = self._book(asset)
        return b.cash + b.position * self.markets[asset].mid

    def fills(self, asset: str, since_ts: float = 0.0) -> tuple[Fill, ...]:
        return tuple(f for f in self._book(asset).fills if f.ts >= since_ts)

    def book_snapshot(self, asset: str, ts: float, seq: int) -> BookSnapshot:
        """The background book with our resting sizes added at their prices."""
        b = self._book(asset)
        n = self.book_levels
        bids, asks = self.markets[asset].book(n)
        bid_sz: dict[float, float] = {lv.px: lv.sz for lv in bids}
        ask_sz: dict[float, float] = {lv.px: lv.sz for lv in asks}
        d = b.sz_decimals
        for o in b.orders.values():
            side = bid_sz if o.side == "B" else ask_sz
            side[o.px] = round(side.get(o.px, 0.0) + o.sz, d)
        out_bids = tuple(Level(px, sz) for px, sz in sorted(bid_sz.items(), reverse=True)[:n])
        out_asks = tuple(Level(px, sz) for px, sz in sorted(ask_sz.items())[:n])
        return BookSnapshot(asset=asset, ts=ts, seq=seq, bids=out_bids, asks=out_asks)

    def asset_index(self, asset: str) -> int:
        return self._book(asset).index

    def sz_decimals(self, asset: str) -> int:
        return self._book(asset).sz_decimals


def _bbo_text(px: float) -> str:
    return to_wire(px) if math.isfinite(px) else ("0" if px < 0 else "inf")
