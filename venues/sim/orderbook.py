"""The order-flow market of one asset (``sim.market_model = "orderbook"``): a persistent
price-time book on Hyperliquid's price grid, kept by background makers and walked by
takers, so a quote fills only when the flow in front of it has been consumed.

Why: the formula market (``venues.sim.market``) fills quotes with the quoter's own
A·e^(−kδ) law; here fills emerge from queues, cancels and informed flow
(``market-sim.md``: a queue-reactive book around a latent fair price).

- **Fair price.** The formula model's process (``MarketProcess``, same seed) is the latent
  price: diffusion, regimes, trends, jumps, ``market.episodes`` and funding. Its takers
  supply arrival times, sides, heavy-tailed (Lomax) sizes and the trend-informed flag;
  their ``reach`` is ignored (rate and mean size: ``trade_rate``, ``trade_size_usd``). ``mid`` is this
  fair price (what PnL and markouts use).
- **Book.** Background lots per tick (numpy int64, one array per side) on the grid of
  the starting price's tick (``exchange_rules.ticks``; a price crossing a power of ten keeps it).
  A level where our orders rest keeps its exact FIFO queue as segments ``[owner, lots]``
  (owner None: background); ours join at the back, a new price is a new order.
- **Makers** act every ``_MAKER_EVERY_S``: on ``_WINDOW`` ticks from their anchor (the
  fair price ± ``book_spread_ticks``/2 scaled by the regime, never crossing the other
  side) each background lot is cancelled with probability 1 − e^(−cancel_rate·Δ)
  (cancels ∝ queue size) and orders of ``maker_order_usd`` arrive Poisson at the rate
  that keeps ``depth_usd`` (scaled by the regime) per level on average. Levels the fair
  price left behind (bids above the anchor, asks below) are pulled at rate
  1/``maker_lag_s``: the touch follows the fair price with a lag.
- **Takers** are market orders walking the book from the touch (at most ``_WALK_BP``
  from the fair price). An uninformed one turns informed (trades toward the fair price)
  with probability ``informed_share``·min(1, |fair − book mid| / half spread).
- **Arbitrageurs** take every resting quote more than ``arb_edge_bp`` through the fair
  price, after an exponential delay of mean ``arb_delay_s`` (latency arbitrage).

Deterministic: the latent process and three own streams (makers, informed coin,
arbitrage), consumed step by step, so how time is chopped into ``advance`` calls
changes nothing.
"""
from __future__ import annotations

import math
from typing import Literal, NamedTuple

import msgspec
import numpy as np

from config import MarketConfig, SimConfig
from messages.market import Level
from exchange_rules.ticks import tick_at_float
from venues.sim.market import MarketProcess, seed_entropy

_MAKER_EVERY_S = 0.5  # background makers revise their quotes this often
_WINDOW = 40  # ticks per side on which background makers keep orders
_WALK_BP = 100.0  # a market order walks at most this far from the fair price
_SCAN = 256  # ticks looked at a time when searching for the next non-empty level
_BOOK_SCAN = 64  # ticks read at a time when listing the book
_UNIFORMS = 4096  # uniforms drawn at a time per stream


class Print(NamedTuple):
    """One public trade at one level; ``fills``: (cloid, size) of our orders it filled,
    in queue order."""

    side: Literal["B", "A"]  # the aggressor's
    px: float
    sz: float
    fills: tuple[tuple[str, float], ...]
    taker: str = "uninformed"  # who took: "uninformed", "informed" or "arbitrage" (latency arbitrage)


class _Uniforms:
    """A stream of uniforms served one at a time from numpy blocks (cheap per draw)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i == len(self._buf):
            self._buf = self._rng.random(_UNIFORMS).tolist()
            self._i = 0
        u = self._buf[self._i]
        self._i += 1
        return u


class OrderBookMarket:
    def __init__(self, asset: str, market: MarketConfig, sim: SimConfig, seed: int, *,
                 compiled: bool = False) -> None:
        """``compiled``: the makers' update in numba (``orderbook_kernel``): the same
        numbers, ~5x cheaper an update, after a few seconds of compiling (backtests)."""
        self.asset = asset
        self.market = market
        flow = msgspec.structs.replace(market, taker_rate=market.trade_rate or market.taker_rate,
                                       taker_size_usd=market.trade_size_usd or market.taker_size_usd)
        self.process = MarketProcess(asset, flow, sim, seed)
        self.sz_decimals = d = market.sz_decimals
        self._lot = 10.0 ** -d
        self._step_s = float(sim.step_s)
        self._tick = tick_at_float(market.price, d)
        # a price is i ticks: i / 10^dp (correctly rounded) below a tick of 1, i·tick above
        self._px_dp = max(0, -math.floor(math.log10(self._tick) + 1e-9))
        self._px_div = 10.0 ** self._px_dp
        self._px_mul = self._tick if self._tick >= 1 else 1.0
        self._sz_div = 10.0 ** d
        size = max(4 * round(market.price / self._tick), 4 * _WINDOW)
        self._bids = np.zeros(size, dtype=np.int64)
        self._asks = np.zeros(size, dtype=np.int64)
        self._bb = 0  # best background bid index (0: none)
        self._ba = size  # best background ask index (size: none)
        # our orders: the FIFO segments of the levels they rest at, and where each is
        self._q_bid: dict[int, list[list]] = {}
        self._q_ask: dict[int, list[list]] = {}
        self._where: dict[str, tuple[bool, int]] = {}  # cloid -> (bid?, index)
        mk_ss, inf_ss, arb_ss = np.random.SeedSequence([seed_entropy(seed), 0x0B00C]).spawn(3)
        self._rng_maker = np.random.Generator(np.random.PCG64(mk_ss))
        self._u_informed = _Uniforms(np.random.Generator(np.random.PCG64(inf_ss)))
        self._u_arb = _Uniforms(np.random.Generator(np.random.PCG64(arb_ss)))
        self._maker_every = max(1, round(_MAKER_EVERY_S / self._step_s))
        self._p_arb = 1.0 - math.exp(-self._step_s / market.arb_delay_s)
        self._n = 0
        self._ht_n = -1  # the step _ht was worked out at
        self._ht: tuple[int, float] = (1, 0.0)
        self._compiled = compiled
        self._informed = False  # the last _maybe_informed made its taker informed
        if compiled:
            from venues.sim.orderbook_kernel import both_sides_entry

            self._kernel_both = both_sides_entry()
        # the compiled update's outputs: what it pulled, cancelled and added
        self._pulled = np.zeros(_WINDOW, dtype=np.int64)
        self._cancels = np.zeros(_WINDOW, dtype=np.int64)
        self._adds = np.zeros(_WINDOW, dtype=np.int64)
        self._pulled_a = np.zeros(_WINDOW, dtype=np.int64)  # the asks' (both sides in one call)
        self._cancels_a = np.zeros(_WINDOW, dtype=np.int64)
        self._adds_a = np.zeros(_WINDOW, dtype=np.int64)
        self._maker_update(first=True)

    # -- the public face the engine reads ----------------------------------------------
    @property
    def mid(self) -> float:
        """The fair (latent) price."""
        return self.process.mid

    @property
    def funding_rate(self) -> float:
        return self.process.funding_rate

    @property
    def tick(self) -> float:
        return self._tick

    def _px(self, i: int) -> float:
        return i * self._px_mul / self._px_div

    def _sz(self, lots: int) -> float:
        return lots / self._sz_div

    def top(self) -> tuple[float, float]:
        """The background's best bid and ask (−inf, inf for an empty side)."""
        return (self._px(self._bb) if self._bb > 0 else -math.inf,
                self._px(self._ba) if self._ba < len(self._asks) else math.inf)

    def book(self, levels: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The background book: (bids best first, asks best first), ``levels`` deep."""
        if levels <= 0:
            return (), ()
        mul, div, szd = self._px_mul, self._px_div, self._sz_div
        bids: list[Level] = []
        arr, i = self._bids, self._bb
        while i > 0:  # plain lists: a few dozen levels are cheaper read than vectorised
            lo = max(1, i - _BOOK_SCAN + 1)
            seg = arr[lo:i + 1].tolist()
            for j in range(i - lo, -1, -1):
                q = seg[j]
                if q:
                    bids.append(Level((lo + j) * mul / div, q / szd))
                    if len(bids) == levels:
                        break
            if len(bids) == levels:
                break
            i = lo - 1
        asks: list[Level] = []
        arr, i, n = self._asks, self._ba, len(self._asks)
        while i < n:
            seg = arr[i:i + _BOOK_SCAN].tolist()
            for j, q in enumerate(seg):
                if q:
                    asks.append(Level((i + j) * mul / div, q / szd))
                    if len(asks) == levels:
                        break
            if len(asks) == levels:
                break
            i += _BOOK_SCAN
        return tuple(bids), tuple(asks)

    # -- our orders ------------------------------------------------------------------
    def _index(self, px: float, bid: bool) -> int:
        """The grid level of a price (a price between two levels rests at the one on its
        passive side, so it never crosses what it did not cross)."""
        x = px / self._tick
        i = round(x)
        if abs(x - i) > 1e-6:
            i = math.floor(x) if bid else math.ceil(x)
        return i

    def add_order(self, cloid: str, side: str, px: float, sz: float) -> None:
        """Rest one of our orders at the back of its level's queue."""
        bid = side == "B"
        i = self._index(px, bid)
        arr, queues = (self._bids, self._q_bid) if bid else (self._asks, self._q_ask)
        if not 0 < i < len(arr):
            raise ValueError(f"{self.asset}: price {px} is outside the simulated book")
        seg = queues.get(i)
        if seg is None:
            q = int(arr[i])
            seg = queues[i] = [[None, q]] if q else []
        seg.append([cloid, round(sz / self._lot)])
        self._where[cloid] = (bid, i)

    def cancel_order(self, cloid: str) -> None:
        """Take one of our orders out of its queue (no-op if it is not resting)."""
        where = self._where.pop(cloid, None)
        if where is None:
            return
        bid, i = where
        queues = self._q_bid if bid else self._q_ask
        seg = queues[i]
        for k, s in enumerate(seg):
            if s[0] == cloid:
                del seg[k]
                break
        self._tidy(queues, i)

    @staticmethod
    def _tidy(queues: dict[int, list[list]], i: int) -> None:
        """Forget a level's segments once none of ours rest there (the array holds its
        background)."""
        if all(s[0] is None for s in queues[i]):
            del queues[i]

    def take(self, buy: bool, sz: float, limit_px: float) -> list[Print]:
        """An order of ours that takes liquidity (IOC): ``sz`` walking the other side from
        the touch, no further than ``limit_px``, in price-time priority; its prints."""
        lots = round(sz / self._lot)
        if lots <= 0:
            return []
        limit = self._index(limit_px, buy)  # off the grid: the level on the order's own passive side
        out: list[Print] = []
        self._walk(buy, lots, limit, out, "ours")
        return out

    def queue_ahead(self, cloid: str) -> float:
        """Size (units) ahead of one of our orders in its level's FIFO queue."""
        bid, i = self._where[cloid]
        ahead = 0
        for owner, lots in (self._q_bid if bid else self._q_ask)[i]:
            if owner == cloid:
                break
            ahead += lots
        return self._sz(ahead)

    def _best_ours(self, bid: bool) -> int | None:
        queues = self._q_bid if bid else self._q_ask
        if not queues:
            return None
        return max(queues) if bid else min(queues)

    def _bid_all(self) -> int:
        ours = self._best_ours(True)
        return self._bb if ours is None else max(ours, self._bb)

    def _ask_all(self) -> int:
        ours = self._best_ours(False)
        return self._ba if ours is None else min(ours, self._ba)

    # -- the process -----------------------------------------------------------------
    def advance(self, ts: float) -> list[Print]:
        """Step to ``ts``; the trades of those steps, in order."""
        target = math.floor(ts / self._step_s + 1e-9)
        out: list[Print] = []
        n = self._n
        if n >= target:
            return out
        proc, step_s, every, lot = self.process, self._step_s, self._maker_every, self._lot
        while n < target:
            n = self._n = n + 1
            takers = proc.advance(n * step_s)
            if n % every == 0:
                self._maker_update()
            self._arbitrage(out)
            for t in takers:
                side = t.side
                informed = t.informed
                if not informed:
                    side = self._maybe_informed(side)
                    informed = self._informed
                self._walk(side == "B", max(1, round(t.sz / lot)), None, out,
                           "informed" if informed else "uninformed")
        return out

    def _half_ticks(self) -> tuple[int, float]:
        """(spread in whole ticks the makers quote now, the fair price in ticks); the
        process moves only in ``advance``, so once per step."""
        if self._ht_n == self._n:
            return self._ht
        m = self.market
        mult = self.process.book_spread_bp / m.book_spread_bp
        self._ht = ht = max(1, round(m.book_spread_ticks * mult)), self.process.mid / self._tick
        self._ht_n = self._n
        return ht

    def _maybe_informed(self, side: str) -> str:
        """The taker's side: its own, or (``_informed`` set) the side the fair price favours."""
        self._informed = False
        qb, qa = self._q_bid, self._q_ask  # _bid_all and _ask_all, inlined: this runs per taker
        bb = max(max(qb), self._bb) if qb else self._bb
        ba = min(min(qa), self._ba) if qa else self._ba
        if bb <= 0 or ba >= len(self._asks):
            return side
        s, x = self._half_ticks()
        gap = x - (bb + ba) / 2
        p = self.market.informed_share * min(1.0, abs(gap) / (s / 2))
        if p > 0 and self._u_informed() < p:
            self._informed = True
            return "B" if gap > 0 else "A"
        return side

    def _arbitrage(self, out: list[Print]) -> None:
        """Latency arbitrage: quotes left more than arb_edge_bp through the fair price are
        taken, each side with probability p_arb per step while the chance lasts."""
        fair = self.process.mid
        edge = self.market.arb_edge_bp * 1e-4
        lim = math.floor(fair * (1 - edge) / self._tick)
        qa = self._q_ask
        ask = min(min(qa), self._ba) if qa else self._ba  # _ask_all, inlined: this runs every step
        if ask <= lim and self._u_arb() < self._p_arb:
            self._walk(True, None, lim, out, "arbitrage")
        lim = math.ceil(fair * (1 + edge) / self._tick)
        qb = self._q_bid
        bid = max(max(qb), self._bb) if qb else self._bb
        if bid >= lim and self._u_arb() < self._p_arb:
            self._walk(False, None, lim, out, "arbitrage")

    def _walk(self, buy: bool, lots: int | None, limit: int | None, out: list[Print],
              taker: str = "uninformed") -> None:
        """A market order (``lots``; None: unlimited) walking one side from the touch up to
        ``limit`` (None: ``_WALK_BP`` from the fair price), in price-time priority; its
        prints say which ``taker`` it was."""
        fair = self.process.mid
        side = "B" if buy else "A"
        if buy:
            arr, queues, i, step = self._asks, self._q_ask, self._ask_all(), 1
            if limit is None:
                limit = math.floor(fair * (1 + _WALK_BP * 1e-4) / self._tick)
            limit = min(limit, len(arr) - 1)
        else:
            arr, queues, i, step = self._bids, self._q_bid, self._bid_all(), -1
            if limit is None:
                limit = math.ceil(fair * (1 - _WALK_BP * 1e-4) / self._tick)
            limit = max(limit, 1)
        left = lots if lots is not None else 1 << 62
        while left > 0 and (i <= limit if buy else i >= limit):
            seg = queues.get(i)
            if seg is None:
                q = int(arr[i])
                if q:
                    take = q if q < left else left
                    arr[i] = q - take
                    left -= take
                    out.append(Print(side, self._px(i), self._sz(take), (), taker))
            else:
                took, fills = self._eat(seg, left, arr, i)
                if took:
                    left -= took
                    out.append(Print(side, self._px(i), self._sz(took), tuple(fills), taker))
                if not seg or all(s[0] is None for s in seg):
                    del queues[i]
            if left > 0:
                i += step
        if buy:
            if self._ba < len(arr) and arr[self._ba] == 0:
                self._ba = self._next_ask(self._ba)
        elif self._bb > 0 and arr[self._bb] == 0:
            self._bb = self._next_bid(self._bb)

    def _eat(self, seg: list[list], left: int, arr: np.ndarray, i: int) -> tuple[int, list[tuple[str, float]]]:
        """Consume up to ``left`` lots of one FIFO queue from its front."""
        took = 0
        fills: list[tuple[str, float]] = []
        while left > 0 and seg:
            owner, q = seg[0]
            take = q if q < left else left
            left -= take
            took += take
            if owner is None:
                arr[i] -= take
            else:
                fills.append((owner, self._sz(take)))
            if take == q:
                seg.pop(0)
                if owner is not None:
                    del self._where[owner]
            else:
                seg[0][1] = q - take
        return took, fills

    def _next_bid(self, i: int) -> int:
        """The best non-empty background bid at or below ``i`` (0: none)."""
        arr = self._bids
        for _ in range(4):  # usually a level or two away: look before scanning
            if i <= 0 or arr[i]:
                return max(i, 0)
            i -= 1
        while i > 0:
            lo = max(1, i - _SCAN + 1)
            nz = np.flatnonzero(self._bids[lo:i + 1])
            if len(nz):
                return lo + int(nz[-1])
            i = lo - 1
        return 0

    def _next_ask(self, i: int) -> int:
        """The best non-empty background ask at or above ``i`` (len: none)."""
        arr, n = self._asks, len(self._asks)
        for _ in range(4):  # usually a level or two away: look before scanning
            if i >= n or arr[i]:
                return min(i, n)
            i += 1
        while i < n:
            nz = np.flatnonzero(self._asks[i:i + _SCAN])
            if len(nz):
                return i + int(nz[0])
            i += _SCAN
        return n

    # -- background makers -------------------------------------------------------------
    def _maker_update(self, first: bool = False) -> None:
        m, proc = self.market, self.process
        fair = proc.mid
        s, x = self._half_ticks()
        depth_lots = proc.depth_usd / fair / self._lot
        order_usd = m.maker_order_usd if m.maker_order_usd > 0 else m.depth_usd / 4
        order_lots = max(1, round(order_usd / fair / self._lot))
        dt = _MAKER_EVERY_S
        rate = depth_lots / order_lots * (1.0 if first else m.cancel_rate * dt)  # orders per level per update
        p_cancel = 0.0 if first else 1.0 - math.exp(-m.cancel_rate * dt)
        p_stale = 1.0 - math.exp(-dt / m.maker_lag_s)
        bid_anchor = math.floor(x + 0.5 - s / 2)
        if self._compiled:
            self._both_sides_compiled(bid_anchor, s, rate, order_lots, p_cancel, p_stale)
            return
        self._side_update(True, min(bid_anchor, self._ask_all() - 1), rate, order_lots, p_cancel, p_stale)
        self._side_update(False, max(bid_anchor + s, self._bid_all() + 1), rate, order_lots, p_cancel, p_stale)

    def _side_update(self, bid: bool, anchor: int, rate: float, order_lots: int, p_cancel: float,
                     p_stale: float) -> None:
        rng = self._rng_maker
        arr, queues = (self._bids, self._q_bid) if bid else (self._asks, self._q_ask)
        n = len(arr)
        # stale levels the fair price left behind: pulled whole, each with p_stale
        best = self._bb if bid else self._ba
        s0, s1 = (max(anchor + 1, 1), best + 1) if bid else (best, min(anchor, n))
        if s0 + 1 == s1:  # the usual case, one stale level: a scalar draw, the same uniform
            if rng.random() < p_stale:
                ours = queues.get(s0) if queues else None
                gone = int(arr[s0])
                arr[s0] = 0
                if ours is not None:  # where ours rest, keep the queue exact
                    arr[s0] = gone
                    self._cancel_background(arr, queues, s0, gone)
        elif s0 < s1:
            pull = rng.random(s1 - s0) < p_stale
            if pull.any():
                ours = [i for i in queues if s0 <= i < s1] if queues else None
                if ours:
                    old = arr[s0:s1].copy()
                    arr[s0:s1][pull] = 0
                    for i in ours:  # where ours rest, keep the queue exact
                        gone = int(old[i - s0] - arr[i])
                        arr[i] = old[i - s0]
                        self._cancel_background(arr, queues, i, gone)
                else:
                    arr[s0:s1][pull] = 0
        lo, hi = (max(1, anchor - _WINDOW + 1), anchor + 1) if bid else (anchor, min(n, anchor + _WINDOW))
        if lo >= hi:
            return
        q = arr[lo:hi]  # a view: updated in place
        adds = None
        if p_cancel > 0:
            cancels = rng.binomial(q, p_cancel)
            adds = rng.poisson(rate, size=hi - lo)
        else:
            cancels = None
            adds = rng.poisson(rate, size=hi - lo)
        if order_lots != 1:
            adds *= order_lots
        ours = [i for i in queues if lo <= i < hi] if queues else None
        if ours:  # where ours rest, keep the queue exact (plain ints: numpy scalars are slow)
            cl = cancels.tolist() if cancels is not None else None
            al = adds.tolist()
            for i in ours:
                j = i - lo
                if cl is not None:
                    self._cancel_background(arr, queues, i, cl[j])
                    cancels[j] = 0
                a = al[j]
                if a:
                    seg = queues[i]
                    if seg[-1][0] is None:
                        seg[-1][1] += a
                    else:
                        seg.append([None, a])
                    arr[i] += a
                    adds[j] = 0
        if cancels is not None:
            q -= cancels
        q += adds
        if bid:
            top = max(self._bb, hi - 1)
            self._bb = top if arr[top] else self._next_bid(top)
        else:
            top = min(self._ba, lo)
            self._ba = top if top < n and arr[top] else self._next_ask(top)

    def _both_sides_compiled(self, bid_anchor: int, s: int, rate: float, order_lots: int, p_cancel: float,
                             p_stale: float) -> None:
        """``_side_update`` of the bids then the asks in one compiled call (one crossing into
        numba instead of two); the same draws, in the same order, as ``_side_update`` on the
        bids then the asks."""
        qb, qa = self._q_bid, self._q_ask
        ours_bid = max(qb) if qb else -1
        ours_ask = min(qa) if qa else -1
        bb0, ba0, n = self._bb, self._ba, len(self._asks)
        # the stale ranges' sizes, bounded before the call (the best bid can only rise to its anchor)
        anchor_b = min(bid_anchor, (ba0 if ours_ask < 0 else min(ours_ask, ba0)) - 1)
        need_b = bb0 - max(anchor_b + 1, 1) + 1
        need_a = min(max(bid_anchor + s, max(ours_bid, bb0, anchor_b) + 1), n) - ba0
        if need_b > len(self._pulled):
            self._pulled = np.zeros(need_b, dtype=np.int64)
        if need_a > len(self._pulled_a):
            self._pulled_a = np.zeros(need_a, dtype=np.int64)
        bufs = self._cancels, self._adds, self._cancels_a, self._adds_a
        self._bb, self._ba, anchor_b, anchor_a = self._kernel_both(
            self._rng_maker, self._bids, self._asks, bb0, ba0, bid_anchor, bid_anchor + s, ours_bid, ours_ask, _WINDOW,
            p_stale, p_cancel, rate, order_lots, self._pulled, bufs[0], bufs[1], self._pulled_a, bufs[2], bufs[3])
        if qb:
            self._keep_queues(qb, max(anchor_b + 1, 1), bb0 + 1, max(1, anchor_b - _WINDOW + 1), anchor_b + 1,
                              self._pulled, bufs[0], bufs[1])
        if qa:
            self._keep_queues(qa, ba0, min(anchor_a, n), anchor_a, min(n, anchor_a + _WINDOW),
                              self._pulled_a, bufs[2], bufs[3])

    def _keep_queues(self, queues: dict[int, list[list]], s0: int, s1: int, lo: int, hi: int, pulled: np.ndarray,
                     cancels: np.ndarray, adds: np.ndarray) -> None:
        """Where ours rest, keep the queue exact after a compiled update (the arrays hold
        the totals already): what it pulled from [s0, s1), cancelled and added on [lo, hi)."""
        for i in [i for i in queues if s0 <= i < s1]:
            self._cancel_segments(queues, i, int(pulled[i - s0]))
        if lo >= hi:
            return
        for i in [i for i in queues if lo <= i < hi]:
            j = i - lo
            self._cancel_segments(queues, i, int(cancels[j]))
            a = int(adds[j])
            if a:
                seg = queues[i]
                if seg[-1][0] is None:
                    seg[-1][1] += a
                else:
                    seg.append([None, a])

    @staticmethod
    def _cancel_background(arr: np.ndarray, queues: dict[int, list[list]], i: int, lots: int) -> None:
        """Cancel ``lots`` of background at level ``i``; where our orders rest, spread
        over its background segments in proportion to their size (each background lot
        is as likely to go), the remainder from the back."""
        if lots <= 0:
            return
        arr[i] -= lots
        OrderBookMarket._cancel_segments(queues, i, lots)

    @staticmethod
    def _cancel_segments(queues: dict[int, list[list]], i: int, lots: int) -> None:
        """The queue's side of ``_cancel_background`` (the array already counted)."""
        if lots <= 0:
            return
        seg = queues.get(i)
        if seg is None:
            return
        bg = [s for s in seg if s[0] is None]
        if len(bg) == 1:  # one background segment (the usual case): it takes the whole cancel
            s = bg[0]
            s[1] -= min(s[1], lots)
            if s[1] == 0:
                seg[:] = [s for s in seg if s[0] is not None or s[1] > 0]
            return
        total = sum(s[1] for s in bg)
        left = lots
        for s in bg:
            c = min(s[1], lots * s[1] // total) if total else 0
            s[1] -= c
            left -= c
        for s in reversed(bg):
            c = min(s[1], left)
            s[1] -= c
            left -= c
        seg[:] = [s for s in seg if s[0] is not None or s[1] > 0]
