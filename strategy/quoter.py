"""The quote model: Avellaneda–Stoikov in basis points around a fair price, as a ladder.

Everything is computed in bp relative to fair value (mid or microprice), so one set of
parameters fits a $0.50 coin and a $100,000 one alike. Inventory is counted in L1 lots
(q = position / L1 size), which makes γ "bp of skew per lot" and keeps the skew
independent of the asset's price. The regime scales the spread and trims the ladder;
risk multipliers widen or shrink each side; EXTREME volatility or a halt pulls
everything. Prices and sizes leave here already venue-valid, post-only safe and
strictly ordered, so the order actor never has to second-guess them.
"""
from __future__ import annotations

import math
from decimal import Decimal

from config import QuotingConfig
from messages.market import MarketState, Side, Sweep
from messages.orders import QuoteFeedback, QuoteLadder, QuoteLevel
from messages.risk import RiskState
from strategy import avellaneda, breakers, glft, hold_value, pause_exit, regime, toxicity, trend, unwind
from strategy.alo_safety import AloSafety
from strategy.fair_value import fair_price
from strategy.fill_edge import FillEdge
from strategy.auto_tuner import AutoTuner
from strategy.tape_edge import expected_drift
from exchange_rules import ticks as rules

# Spread scale per regime (strategy.md). EXTREME never quotes; its scale only fills in
# the reported half spread of the empty ladder.
REGIME_SPREAD_SCALE = {"CALM": 0.7, "NORMAL": 1.0, "ELEVATED": 2.0, "EXTREME": 2.0}
ELEVATED_MAX_LEVELS = 2
INVENTORY_RISK_SIGMAS = 3.0  # the move an inventory must survive ...
INVENTORY_RISK_HORIZON_S = 300.0  # ... over this long (a passive unwind's time scale)
_FAST_MAX_PX = 1e12  # the float path handles prices below this (grid prices of at most 13 digits)
_FAST_MIN_PX = 1e-200


class _Slow(Exception):
    """The float path cannot decide this side exactly: work it out in Decimal."""


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _snap(px: Decimal | float, sz_decimals: int, mode: rules.Rounding) -> Decimal | None:
    """A valid price rounded in ``mode``; None when there is no positive one.

    A float model price is first cut to 10 significant digits, so float noise
    (100.11000000000001) cannot push a directed rounding one whole tick further out.
    """
    if isinstance(px, float):
        if not math.isfinite(px):
            return None
        px = Decimal(f"{px:.10g}")
    if px <= 0:
        return None
    try:
        return rules.round_price(px, sz_decimals, mode)
    except ValueError:  # rounds down to zero: below the smallest tick
        return None


class QuoterCore:
    """The quote model behind ``quote``; the stack's features switch on in ``params``.

    With every feature off it is plain Avellaneda–Stoikov as it always was. The extra
    inputs (own fills, funding, API errors, post-only results) arrive through the
    ``on_*`` methods; the market's trade measurements arrive on the MarketState.
    """

    def __init__(self, asset: str, params: QuotingConfig, sz_decimals: int) -> None:
        self.asset = asset
        self.sz_decimals = sz_decimals
        self._seq = -1
        self.funding_rate = math.nan  # per hour, last reported
        self.filled_at = {"B": -math.inf, "A": -math.inf}  # the last fill of each of our sides (venue time)
        self.swept_until = {"B": -math.inf, "A": -math.inf}  # a side a sweep hit is pulled until (sweep_guard)
        self.sweeps = 0  # sweeps that pulled a side
        self.fill_edge: FillEdge | None = None  # our fills against the tape (tape_edge.own_fills)
        self._market: MarketState | None = None  # the last book quoted from
        self._held_sign, self._held_since = 0, -math.inf  # the position's sign, since when (unwind_after_s)
        self.guard = toxicity.CLEAR
        self.breaker = breakers.CLEAR
        self._notes: dict[tuple[str, int, float, bool], str] = {}  # _no_edge_note's texts
        # per side: (book, inputs, levels, notes) of the last side worked out (see quote)
        self._sides_memo: dict[str, tuple[MarketState, tuple, tuple[QuoteLevel, ...], tuple[str, ...]] | None] = {
            "B": None, "A": None}
        self.set_params(params)

    def set_params(self, params: QuotingConfig) -> None:
        p = self.params = params
        self.mvol: regime.MultiHorizonVolatility | None = None  # started at the first book's sigma
        self.trend = trend.TrendSignal(p.trend.fast_s, p.trend.slow_s, p.trend.full_bp)
        b = p.breakers
        self.breakers = breakers.Breakers(
            widen_move_pct=b.widen_move_pct, widen_mult=b.widen_mult, widen_cooldown_s=b.widen_cooldown_s,
            pause_move_pct=b.pause_move_pct, pause_cooldown_s=b.pause_cooldown_s, api_errors=b.api_errors,
            api_cooldown_s=b.api_cooldown_s)
        self.markouts = toxicity.Markouts(p.toxicity.markout_horizon_s)
        self.alo = AloSafety(p.alo_safety.max_ticks, p.alo_safety.decay_after)
        self._observing = (p.regime.enabled or p.trend.enabled or p.breakers.enabled
                           or (p.toxicity.enabled and p.toxicity.markouts))
        te = p.tape_edge
        self.fill_edge = FillEdge(te.horizon_s, te.window_s, te.own_min_fills) if te.enabled and te.own_fills else None
        self.tuner: AutoTuner | None = AutoTuner(p.auto_tuner) if p.auto_tuner.enabled else None

    # -- inputs beyond the MarketState -----------------------------------------------------
    def on_fill(self, ts: float, side: str, px: float) -> None:
        if math.isfinite(ts) and math.isfinite(px) and px > 0:  # a NaN fill must not poison the markouts
            self.markouts.on_fill(ts, side, px)
            if side in self.filled_at:
                self.filled_at[side] = max(self.filled_at[side], ts)
            m, fe = self._market, self.fill_edge
            if fe is not None and m is not None and m.mid > 0 and side in ("B", "A"):
                depth = ((m.mid - px) if side == "B" else (px - m.mid)) / m.mid * 1e4
                drift = expected_drift(m.tape_drift_bid if side == "B" else m.tape_drift_ask, depth, m.tape_bin_bp)
                fe.on_fill(ts, side, m.mid, drift if math.isfinite(drift) else self.params.tape_edge.unknown_drift_bp)

    def on_sweep(self, sweep: Sweep) -> bool:
        """A print beyond the touch: when it reached ``sweep_guard.depth_bp`` from the mid, pull
        the side it hit for ``hold_s`` (venue time). True when the ladder should be rebuilt now."""
        sg = self.params.sweep_guard
        if not (sg.enabled and sweep.side in self.swept_until and math.isfinite(sweep.ts)
                and sweep.depth_bp >= sg.depth_bp):  # NaN depth: no sweep
            return False
        self.swept_until[sweep.side] = max(self.swept_until[sweep.side], sweep.ts + sg.hold_s)
        self.sweeps += 1
        return True

    def on_funding(self, rate_per_h: float) -> None:
        self.funding_rate = rate_per_h

    def on_api_error(self, ts: float) -> None:
        self.breakers.on_api_error(ts)

    def on_alo_reject(self, side: str, level: int) -> None:
        self.alo.on_reject(side, level)

    def on_alo_success(self, side: str, level: int) -> None:
        self.alo.on_success(side, level)

    def on_feedback(self, fb: QuoteFeedback) -> None:
        """One piece of news from the order actor (strategy/feedback.py)."""
        if fb.kind == "fill":
            self.on_fill(fb.ts, fb.side, fb.value)
        elif fb.kind == "placed":
            self.on_alo_success(fb.side, fb.level)
        elif fb.kind == "alo_reject":
            self.on_alo_reject(fb.side, fb.level)
        elif fb.kind == "error":
            self.on_api_error(fb.ts)
        elif fb.kind == "funding":
            self.on_funding(fb.value)

    def _observe(self, market: MarketState, fair: float) -> None:
        """Fold one new book into the stateful measurements (once per book, not per requote)."""
        if market.seq == self._seq:
            return
        self._seq = market.seq
        p = self.params
        if p.regime.enabled:
            if self.mvol is None:
                self.mvol = regime.MultiHorizonVolatility(market.sigma_bp)
            self.mvol.update(market.ts, market.mid)
        if p.trend.enabled:
            self.trend.update(market.ts, market.mid)
        if p.breakers.enabled:
            self.breakers.on_price(market.ts, market.mid)
        if p.toxicity.enabled and p.toxicity.markouts:
            self.markouts.update(market.ts, fair, market.sigma_bp)

    def _model(self, market: MarketState, q: float) -> tuple[float, float]:
        """(reservation shift bp, total spread bp before regime scaling) of the configured model."""
        p = self.params
        sigma = market.sigma_bp
        if p.model == "glft":
            g = p.glft
            a, k = g.a_per_s, g.k_per_bp
            if g.calibrate and market.fill_a > 0 and market.fill_k > 0 and math.isfinite(market.fill_a * market.fill_k):
                a, k = market.fill_a, market.fill_k
            half, skew = glft.half_spread_and_skew(g.gamma, k, a, sigma)
            return -q * skew * g.skew_adj, 2.0 * half
        r_bp = avellaneda.reservation_price(0.0, q, p.gamma, sigma, p.horizon_s)
        return r_bp, avellaneda.optimal_spread(p.gamma, sigma, p.horizon_s, p.k_per_bp)

    def quote(self, market: MarketState, risk: RiskState, ts: float) -> QuoteLadder:
        """The ladder wanted now for ``market`` under ``risk``."""
        p = self.params
        fair = fair_price(market, p.fair_value, p.use_microprice, p.imbalance_weight)
        if not (math.isfinite(fair) and fair > 0 and market.best_bid > 0 and market.best_ask > 0
                and math.isfinite(risk.position) and math.isfinite(ts)):
            return QuoteLadder(self.asset, ts, market.seq, (), (), recv_ns=market.recv_ns, note="no usable book")
        if not (0.0 <= risk.spread_mult_bid < math.inf and 0.0 <= risk.spread_mult_ask < math.inf
                and 0.0 <= risk.size_mult_bid < math.inf and 0.0 <= risk.size_mult_ask < math.inf
                and 0.0 <= risk.limit_usd < math.inf):  # finite and >= 0 (a NaN fails every comparison)
            return QuoteLadder(self.asset, ts, market.seq, (), (), recv_ns=market.recv_ns, note="risk state unusable")
        if not (math.isfinite(market.sigma_bp) and market.sigma_bp >= 0):
            return QuoteLadder(self.asset, ts, market.seq, (), (), recv_ns=market.recv_ns, note="volatility unknown")
        if self._observing:
            self._observe(market, fair)
        if self.fill_edge is not None:
            self._market = market
            self.fill_edge.on_mid(market.ts, market.mid)
        notes: list[str] = []
        q = risk.position * fair / p.order_size_usd  # inventory in L1 lots
        r_bp, spread = self._model(market, q)
        if self.tuner is not None:  # bounded, logged adjustments from the asset's own results
            r_bp *= self.tuner.skew_mult
            spread *= self.tuner.spread_mult
        n = min(p.levels, len(p.level_size_mult))
        size_mult = {"B": risk.size_mult_bid, "A": risk.size_mult_ask}
        if p.regime.enabled:
            rg = p.regime
            vols = tuple(v.sigma_bp for v in self.mvol.vols) if self.mvol is not None else ()
            reg = regime.classify(vols + (market.sigma_bp,),
                                  rg.calm_bp, rg.elevated_bp, rg.extreme_bp)
            scale, max_levels, size_scale = regime.SCALES[reg]
            n = min(n, max_levels)
            size_mult = {s: v * size_scale for s, v in size_mult.items()}
        else:
            reg = market.regime
            scale = REGIME_SPREAD_SCALE[reg]
            if reg == "ELEVATED":
                n = min(n, ELEVATED_MAX_LEVELS)
            if reg == "EXTREME":
                n = 0
        if reg == "EXTREME":
            notes.append("EXTREME volatility: quotes pulled")
        spread = min(max(spread * scale, p.min_spread_bp), p.max_spread_bp)
        if p.breakers.enabled:
            self.breaker = self.breakers.state(ts)
            if self.breaker.paused:
                n = 0
            spread = min(spread * self.breaker.spread_mult, p.max_spread_bp * self.breaker.spread_mult)
            if self.breaker.reason:
                notes.append(f"breaker: {self.breaker.reason} until {self.breaker.until:.0f}")
        half = spread / 2.0 if math.isfinite(spread) else p.max_spread_bp / 2.0
        if p.trend.enabled:
            t = self.trend.strength
            r_bp += t * p.trend.strength * half
            if abs(t) > 0.5:  # strong trend: half the counter-trend size
                counter = "A" if t > 0 else "B"
                size_mult[counter] *= 1.0 - 0.5 * abs(t)
        if p.funding_skew.enabled:
            r_bp += max(-half, min(half, trend.funding_shift_bp(self.funding_rate, p.funding_skew.horizon_h)))
        spread_mult = {"B": risk.spread_mult_bid, "A": risk.spread_mult_ask}
        allow = {"B": risk.allow_bid, "A": risk.allow_ask}
        if p.sweep_guard.enabled:
            for swept in ("B", "A"):
                allow[swept] = allow[swept] and ts >= self.swept_until[swept]
        if p.inventory_risk_pct > 0:
            loaded = self._over_inventory_risk(risk, fair, market.sigma_bp)
            if loaded:
                allow[loaded] = False
                notes.append(f"{'bid' if loaded == 'B' else 'ask'}: inventory past its volatility cap")
        if p.tape_edge.enabled and p.tape_edge.wait_book_after_fill:
            for fs in ("B", "A"):
                if allow[fs] and market.ts <= self.filled_at[fs]:  # the book we would quote from predates it
                    allow[fs] = False
                    notes.append(f"{'bid' if fs == 'B' else 'ask'}: filled since this book, waiting for the next")
        if p.toxicity.enabled:
            tx = p.toxicity
            g = self.guard = toxicity.guard(
                drift_bp=market.micro_drift_bp, imbalance=market.imbalance, buy_ratio=market.aggressor_buy_ratio,
                vpin=market.vpin if tx.vpin else math.nan,
                markout_bid=self.markouts.ema["B"] if tx.markouts else math.nan,
                markout_ask=self.markouts.ema["A"] if tx.markouts else math.nan,
                drift_limit_bp=tx.drift_bp, imbalance_limit=tx.imbalance, aggressor_limit=tx.aggressor,
                vpin_limit=tx.vpin_threshold, widen_mult=tx.widen_mult)
            spread_mult["B"] *= g.spread_mult_bid
            spread_mult["A"] *= g.spread_mult_ask
            allow["B"] = allow["B"] and not g.pull_bid
            allow["A"] = allow["A"] and not g.pull_ask
            notes.extend(g.reasons)
        if risk.halted:
            n = 0
        if not math.isfinite(r_bp):
            r_bp = 0.0
        sides: dict[str, tuple[QuoteLevel, ...]] = {}
        free_unwind = (p.tape_edge.enabled and p.tape_edge.unwind_free and self._held_long(ts, risk.position)
                       and (risk.unrealized_pnl < 0 or not p.tape_edge.unwind_losing_only))
        clamp = p.alo_safety.enabled and self.alo.any()
        lot = p.order_size_usd / fair  # an L1 lot in the asset's units
        hold_c = add_c = 0.0  # the holding costs (hold_value.py) of the tape edge's two experimental keys
        te = p.tape_edge
        if te.enabled and (te.hold_horizon_s > 0 or te.add_horizon_s > 0):
            gamma = p.glft.gamma if p.model == "glft" else p.gamma
            hold_c = hold_value.hold_cost_bp(gamma, market.sigma_bp, te.hold_horizon_s)
            add_c = hold_value.hold_cost_bp(gamma, market.sigma_bp, te.add_horizon_s)
        # a side depends only on these while no post-only clamp, unwinding or own-fill edge is
        # in play: a requote on risk news (same book, same position) reuses it
        reuse = not (clamp or free_unwind or self.fill_edge is not None)
        for s in ("B", "A"):
            if not allow[s]:
                sides[s] = ()
                continue
            key = (p, fair, q, r_bp, half, spread_mult[s], size_mult[s], n)
            memo = self._sides_memo[s]
            if reuse and memo is not None and memo[0] is market and memo[1] == key:
                sides[s] = memo[2]
                notes.extend(memo[3])
                continue
            levels = self._side(s, fair, r_bp, half, spread_mult[s], size_mult[s], n, market)
            if clamp and levels:
                levels = self._alo_clamp(s, levels, market)
            side_notes: list[str] = []
            if p.position_cap_lots > 0 and levels:
                keep = hold_value.within_lots(s, q, [lv.sz / lot for lv in levels], p.position_cap_lots)
                if keep < len(levels):
                    side_notes.append(f"{'bid' if s == 'B' else 'ask'}: {len(levels) - keep} level(s) past the "
                                      f"{p.position_cap_lots:g}-lot position cap")
                    levels = levels[:keep]
            if (p.fee_aware or p.tape_edge.enabled) and levels:
                free = self._unwinding(s, levels, risk.position) if free_unwind else 0
                edges = self._edges_bp(levels, free, fair, r_bp, market)
                if free and te.unwind_at_fee and min(edges[:free]) < 0.0:
                    levels, edges = self._closing_at_fee(levels, edges, free, fair * (1.0 + r_bp / 1e4))
                if free and max(edges[:free]) >= 0.0:  # said only when a closing level is out
                    side_notes.append(self._held_exit_note(s))
                if hold_c > 0 or add_c > 0:  # what a fill saves or adds in holding cost (hold_value.py)
                    x, held = q, []
                    for lv, edge in zip(levels, edges):
                        sz = lv.sz / lot
                        if edge + hold_value.saving_bp(s, x, sz, hold_c) - hold_value.added_cost_bp(s, x, sz, add_c) >= 0.0:
                            held.append(lv)
                            x += sz if s == "B" else -sz
                    kept = tuple(held)
                else:
                    kept = tuple(lv for lv, edge in zip(levels, edges) if edge >= 0.0)
                if len(kept) < len(levels):
                    side_notes.append(self._no_edge_note(s, len(levels) - len(kept)))
                levels = kept
            sides[s] = levels
            notes.extend(side_notes)
            self._sides_memo[s] = (market, key, levels, tuple(side_notes)) if reuse else None
        if (p.pause_exit.enabled and risk.position != 0 and not risk.halted
                and (reg == "EXTREME" or self.breaker.price_pause)
                and (risk.unrealized_pnl < 0 or not p.pause_exit.losing_only)):
            # pulled for the market, not for the venue: offer the position back at the touch
            s, exit_levels = pause_exit.exit_level(risk.position, market.best_bid, market.best_ask, self.sz_decimals)
            if exit_levels and (risk.allow_bid if s == "B" else risk.allow_ask):
                sides[s] = exit_levels
                # first, so the event (the note's first 110 characters) says it
                notes.insert(0, f"paused: {'buying' if s == 'B' else 'selling'} the position back at the touch")
        if risk.position != 0 and (risk.reduce_only or risk.unwind_usd > 0):
            s = unwind.reducing_side(risk.position)
            if risk.unwind_usd > 0 and not risk.halted:
                # past the hard limit: the reducing side joins the touch for the excess,
                # whatever its edge, a guard or the regime says (strategy/unwind.py)
                sz = unwind.unwind_size(risk.unwind_usd, fair, self.sz_decimals)
                sides[s] = unwind.join_touch(s, sides[s], market.best_bid, market.best_ask, sz)
                notes.append(f"past the position limit by ${risk.unwind_usd:,.0f}: "
                             f"{'buying' if s == 'B' else 'selling'} it back at the touch")
            if risk.reduce_only:
                # only orders that reduce the position, and no more of them than closes it
                sides["B" if s == "A" else "A"] = ()
                sides[s] = unwind.within_position(sides[s], risk.position, self.sz_decimals)
        return QuoteLadder(
            asset=self.asset, ts=ts, seq=market.seq, bids=sides["B"], asks=sides["A"],
            reservation=fair * (1.0 + r_bp / 1e4), half_spread_bp=half, recv_ns=market.recv_ns,
            note="; ".join(notes),
        )

    def _over_inventory_risk(self, risk: RiskState, fair: float, sigma_bp: float) -> str | None:
        """The side that would add to an inventory whose 3-sigma 5-minute move already costs
        ``inventory_risk_pct`` of the capital (None: neither). A fixed USD limit is too
        loose when the market runs and needlessly tight when it sleeps."""
        move = INVENTORY_RISK_SIGMAS * sigma_bp * math.sqrt(INVENTORY_RISK_HORIZON_S) / 1e4
        inv = risk.position * fair
        if not (move > 0 and math.isfinite(inv) and math.isfinite(risk.capital)):
            return None
        cap = self.params.inventory_risk_pct * risk.capital / move
        if inv >= cap:
            return "B"
        if inv <= -cap:
            return "A"
        return None

    def _held_long(self, ts: float, position: float) -> bool:
        """Whether the position has kept its sign for ``tape_edge.unwind_after_s`` (flat: no)."""
        sign = (position > 0) - (position < 0)
        if sign != self._held_sign:
            self._held_sign, self._held_since = sign, ts
        return sign != 0 and ts - self._held_since >= self.params.tape_edge.unwind_after_s

    def _held_exit_note(self, side: str) -> str:
        """Why ``side`` quotes where the tape may see no edge: the view says the position is
        being closed, not that the tape changed its mind."""
        te = self.params.tape_edge
        return (f"{'bid' if side == 'B' else 'ask'}: the position, held {te.unwind_after_s:g}s"
                f"{' at a loss' if te.unwind_losing_only else ''}, is priced to close without the tape's move")

    def _closing_at_fee(self, levels: tuple[QuoteLevel, ...], edges: list[float], free: int,
                        r: float) -> tuple[tuple[QuoteLevel, ...], list[float]]:
        """The held exit's closing levels that would not pay the maker fee against the
        reservation price ``r`` moved out to where they do (away from the other side, so no
        nearer to crossing); a level pushed onto or past the next one's price goes."""
        bid = levels[0].side == "B"
        fee = self.params.maker_fee_bp / 1e4
        snapped = _snap(r * (1.0 - fee) if bid else r * (1.0 + fee), self.sz_decimals, "down" if bid else "up")
        if snapped is None:
            return levels, edges
        at_fee = float(snapped)
        out: list[QuoteLevel] = []
        out_edges: list[float] = []
        for i, (lv, e) in enumerate(zip(levels, edges)):
            if i < free and e < 0.0:
                lv, e = QuoteLevel(lv.side, lv.level, at_fee, lv.sz), 0.0
            if out and (lv.px >= out[-1].px if bid else lv.px <= out[-1].px):
                continue
            out.append(lv)
            out_edges.append(e)
        return tuple(out), out_edges

    @staticmethod
    def _unwinding(side: str, levels: tuple[QuoteLevel, ...], position: float) -> int:
        """How many of ``side``'s first levels together only reduce the position (none
        while it is flat or on the other side)."""
        left = -position if side == "B" else position
        n = 0
        for lv in levels:
            left -= lv.sz
            if left < -1e-12:
                break
            n += 1
        return n

    def _no_edge_note(self, side: str, dropped: int) -> str:
        """Why ``dropped`` levels of ``side`` are not quoted (the same few texts, made once)."""
        p = self.params
        key = (side, dropped, p.maker_fee_bp, p.tape_edge.enabled)
        note = self._notes.get(key)
        if note is None:
            note = self._notes[key] = (
                f"{'bid' if side == 'B' else 'ask'}: {dropped} level(s) without edge after the "
                f"{p.maker_fee_bp:g}bp maker fee" + (" and the tape's adverse moves" if p.tape_edge.enabled else ""))
        return note

    def _edges_bp(self, levels: tuple[QuoteLevel, ...], free: int, fair: float, r_bp: float,
                  market: MarketState) -> list[float]:
        """Expected edge of a fill at each of one side's ``levels`` after the maker fee, against
        the reservation price (where holding the fill is a matter of indifference, so a reducing
        order earns its risk), and with ``tape_edge`` on, after the move the tape saw follow
        fills at that depth (all but the first ``free`` levels: see ``_unwinding``). One pass
        with the side's constants worked out once: this runs for every level of every requote."""
        if not levels:
            return []
        p = self.params
        te = p.tape_edge
        r = fair * (1.0 + r_bp / 1e4)
        fee = p.maker_fee_bp
        side = levels[0].side
        bid = side == "B"
        m = market.mid
        tails = market.tape_drift_bid if bid else market.tape_drift_ask
        bin_bp = market.tape_bin_bp
        excess = self.fill_edge.excess(side) if self.fill_edge is not None else None
        out = []
        for i, lv in enumerate(levels):
            px = lv.px
            edge = ((r - px) if bid else (px - r)) / fair * 1e4 - fee
            if te.enabled and i >= free:
                drift = expected_drift(tails, ((m - px) if bid else (px - m)) / m * 1e4, bin_bp)
                edge += (drift if math.isfinite(drift) else te.unknown_drift_bp) - te.margin_bp
                if excess is not None:
                    edge += excess
            out.append(edge)
        return out

    def _alo_clamp(self, side: Side, levels: tuple[QuoteLevel, ...], market: MarketState) -> tuple[QuoteLevel, ...]:
        """Keep ``ticks`` extra ticks between each level and the opposite touch after post-only rejects."""
        buy = side == "B"
        touch = _dec(market.best_ask if buy else market.best_bid)
        step = rules.tick_at(touch, self.sz_decimals)
        out: list[QuoteLevel] = []
        prev: float | None = None
        for lv in levels:
            extra = self.alo.ticks(side, lv.level)
            px = lv.px
            if extra:
                limit = _snap(touch - (1 + extra) * step if buy else touch + (1 + extra) * step,
                              self.sz_decimals, "down" if buy else "up")
                if limit is None:
                    continue
                px = min(px, float(limit)) if buy else max(px, float(limit))
            if prev is not None and (px >= prev if buy else px <= prev):
                continue
            prev = px
            out.append(lv if px == lv.px else QuoteLevel(side, lv.level, px, lv.sz))
        return tuple(out)

    def _side(self, side: Side, fair: float, r_bp: float, half: float, spread_mult: float,
              size_mult: float, n: int, market: MarketState) -> tuple[QuoteLevel, ...]:
        """One side's levels, outward from the reservation price."""
        try:
            return self._side_float(side, fair, r_bp, half, spread_mult, size_mult, n, market)
        except _Slow:
            return self._side_decimal(side, fair, r_bp, half, spread_mult, size_mult, n, market)

    def _side_float(self, side: Side, fair: float, r_bp: float, half: float, spread_mult: float,
                    size_mult: float, n: int, market: MarketState) -> tuple[QuoteLevel, ...]:
        """``_side_decimal`` on floats, equal to it bit for bit: every price is a valid
        price of at most 13 digits, so its float stands for its Decimal and the floats
        compare as the Decimals do; the float rules equal the Decimal ones. _Slow where
        that does not hold (or a size lands within float noise of a lot boundary)."""
        p, szd = self.params, self.sz_decimals
        if not (_FAST_MIN_PX < fair < _FAST_MAX_PX) or szd > 22:
            raise _Slow
        buy = side == "B"
        mode: rules.Rounding = "down" if buy else "up"  # always round away from the other side
        sign = -1.0 if buy else 1.0
        touch = market.best_ask if buy else market.best_bid
        edge: float | None = None
        edge_known = False
        l1 = r_bp + sign * half * spread_mult
        l1 = min(l1, -p.min_spread_bp / 2) if buy else max(l1, p.min_spread_bp / 2)
        lot_scale = 10.0 ** szd  # exact
        spacing, size_usd, mults = p.level_spacing_bp, p.order_size_usd, p.level_size_mult
        round_price_float, isfinite = rules.round_price_float, math.isfinite
        out: list[QuoteLevel] = []
        prev: float | None = None
        for i in range(n):
            # _snap of the model price: cut to 10 significant digits (the repr of that float
            # is that 10-digit decimal), then rounded away from the other side
            raw = fair * (1.0 + (l1 + sign * i * spacing) / 1e4)
            px = None
            if isfinite(raw):
                v = float(f"{raw:.10g}")
                if v > 0:
                    if not _FAST_MIN_PX < v < _FAST_MAX_PX:
                        raise _Slow
                    try:
                        px = round_price_float(v, szd, mode)
                    except ValueError:  # rounds down to zero: below the smallest tick
                        px = None
            if px is not None and (px >= touch if buy else px <= touch):
                if not edge_known:  # the edge: one tick inside the opposite touch
                    scaled = rules.price_scaled(touch, szd)
                    if scaled is None:
                        raise _Slow
                    m, te = scaled
                    edge = rules.snap_scaled_float(m - 1 if buy else m + 1, te, szd, mode) if (m > 1 or not buy) \
                        else None
                    edge_known = True
                px = edge
            if px is not None and prev is not None and (px >= prev if buy else px <= prev):
                prev_scaled = rules.price_scaled(prev, szd)  # two levels on one price: push the outer one out
                if prev_scaled is None:
                    raise _Slow
                m, te = prev_scaled
                px = rules.snap_scaled_float(m - 1 if buy else m + 1, te, szd, mode) if (m > 1 or not buy) else None
            if px is None:
                break  # no positive valid price this far out, nor further
            prev = px
            notional = size_usd * mults[i] * size_mult
            q = notional / px * lot_scale  # within 4e-16 of Decimal(notional) / px in lots
            if not (0.0 < q < 1e13):
                raise _Slow
            k = math.floor(q)
            if q - k <= q * 1e-14 or k + 1 - q <= q * 1e-14:
                raise _Slow  # at a lot boundary, up to float noise
            if k <= 0:
                continue
            sz = k / lot_scale
            if not rules.meets_min_notional_float(px, sz):
                continue
            out.append(QuoteLevel(side, i, px, sz))
        return tuple(out)

    def _side_decimal(self, side: Side, fair: float, r_bp: float, half: float, spread_mult: float,
                      size_mult: float, n: int, market: MarketState) -> tuple[QuoteLevel, ...]:
        """One side's levels, outward from the reservation price, in Decimal."""
        p, szd = self.params, self.sz_decimals
        buy = side == "B"
        mode: rules.Rounding = "down" if buy else "up"  # always round away from the other side
        sign = -1.0 if buy else 1.0
        # Post-only: a bid must stay under the best ask, an ask over the best bid; one that
        # would not is moved to the edge, one tick inside the opposite touch.
        touch = _dec(market.best_ask if buy else market.best_bid)
        step = rules.tick_at(touch, szd)
        edge = _snap(touch - step if buy else touch + step, szd, mode)
        # However hard inventory skews the reservation price, a side never comes closer
        # to fair value than half the minimum spread: skew may bring it to the touch, not
        # through fair value into a book that has moved since this snapshot.
        l1 = r_bp + sign * half * spread_mult
        l1 = min(l1, -p.min_spread_bp / 2) if buy else max(l1, p.min_spread_bp / 2)
        out: list[QuoteLevel] = []
        prev: Decimal | None = None
        for i in range(n):
            px = _snap(fair * (1.0 + (l1 + sign * i * p.level_spacing_bp) / 1e4), szd, mode)
            if px is not None and (px >= touch if buy else px <= touch):
                px = edge
            if px is not None and prev is not None and (px >= prev if buy else px <= prev):
                step = rules.tick_at(prev, szd)  # two levels on one price: push the outer one out
                px = _snap(prev - step if buy else prev + step, szd, mode)
            if px is None:
                break  # no positive valid price this far out, nor further
            prev = px
            notional = _dec(p.order_size_usd * p.level_size_mult[i] * size_mult)
            sz = rules.round_size(notional / px, szd, "down")
            if sz <= 0 or not rules.meets_min_notional(px, sz):
                continue
            out.append(QuoteLevel(side=side, level=i, px=float(px), sz=float(sz)))
        return tuple(out)
