"""One asset's PnL and limits: what the quoter may do, derived from fills.

Who owns what: the order role (``strategy.order_tracker``) is the one owner of the
asset's position and of trade-id dedupe; every fill it takes as new reaches this core
once, with the position after it (``OwnFills``), and a reconciled position likewise
(``VenuePosition``). This core keeps no dedupe of its own and no position tally: it
books each fill's PnL against the position it was last told and then takes the one it
is told. It owns the money: average entry, realized PnL, fees, funding. PnL uses average-cost accounting,
so realized + unrealized − fees always equals the cash flow of the fills plus the
position marked at the mid. Inventory control works on utilisation of the position
limit (widen, then stop, then reduce-only on the loaded side); the daily loss stop
halts the asset until the UTC day rolls.

The meta-supervisor steers the core from above (``apply_allocation``): the capital it
trades with (its base, plus its own PnL in compound mode), which sets the position
limit and the daily loss stop and, relative to the equal share, the quote size; and the
score zone's risk multipliers (size, spread, max position). The portfolio's limits
(``apply_gate``) come on top: an allowance of |inventory| under the portfolio's exposure
cap, past which quotes that add exposure are held back, and the portfolio drawdown stop.
The configured ``max_position_usd`` stays a hard cap whatever the multipliers say.
"""
from __future__ import annotations

import math
from typing import Iterable

from config import RiskConfig
from messages.allocation import AllocationUpdate, Multipliers, PortfolioGate
from messages.orders import Fill, Funding
from messages.risk import Liquidated, MarginState, RiskState
from messages.validity import bad_fill, bad_funding, bad_number, finite
from strategy import unwind
from strategy.position import EPS as _EPS, step

DAY_S = 86_400.0
MIN_ADD_USD = 10.0  # less exposure allowance than this (Hyperliquid's minimum order) holds adds back
MAX_CAPITAL_SCALE = 3.0  # quote sizes follow capital / equal share up to this


def effective_capital(base: float, net_pnl: float, compound: bool) -> float:
    """The capital an asset trades with: its base, plus its own PnL in compound mode."""
    if not compound or base <= 0:
        return base
    return max(0.0, base + net_pnl)


_MASK64 = (1 << 64) - 1


def fill_identity(tid: int, sz: float, px: float) -> int:
    """One fill's share of an order-free digest of a set of fills (trade id, size, price):
    a lost fill and a doubled one do not cancel out, as they would in a count."""
    return hash((tid, sz, px)) & _MASK64


def _day_of(ts: float) -> int:
    return math.floor(ts / DAY_S)


class RiskCore:
    def __init__(self, asset: str, params: RiskConfig, capital: float, *, ts: float = 0.0) -> None:
        self.asset = asset
        self.params = params
        self.base_capital = float(capital)
        self.compound = False
        self.reference_capital = 0.0  # the equal share; 0: quote sizes do not follow capital
        self.multipliers = Multipliers()
        self.zone = "hold"
        self.max_inventory_usd: float | None = None  # the portfolio's exposure allowance
        self.portfolio_halt = ""  # the portfolio drawdown stop's reason, while it holds
        self.max_limit_excess_usd = 0.0  # the most a live fill took |inventory| past the limit in force
        self._position = 0.0
        self._avg = 0.0
        self._realized = 0.0
        self._fees = 0.0
        self._funding = 0.0  # received (+) or paid (-), USD
        self._funding_upto = -math.inf  # venue totals cover funding due up to here
        self._funding_after: dict[float, float] = {}  # payments (by due time) past that point
        self._mid = 0.0  # 0 = not marked yet
        self._entry_unknown = False  # adopted a position while flat and unmarked
        self.fills_buy = 0
        self.fills_sell = 0
        self.volume_usd = 0.0
        self.max_abs_inventory_usd = 0.0
        # The day starts when the core does, with nothing made or lost yet.
        self._day = _day_of(ts)
        self._day_start_net = 0.0
        self._stopped_day: int | None = None
        self.bad_input = 0  # non-finite or impossible input refused (fills, marks, funding, positions)
        self.margin: MarginState | None = None  # the venue's latest margin figures (Hyperliquid)
        self.liquidated = ""  # a liquidation's detail: the asset stays halted
        self.fills_digest = 0  # sum of fill_identity over the fills applied (chaos checks fills by identity)
        self.last_bad = ""  # why the latest one was refused

    def _refuse(self, what: str, why: str) -> bool:
        """Count an unusable input; the position, PnL and limits never see it."""
        self.bad_input += 1
        self.last_bad = f"{what}: {why}"
        return False

    # -- limits ---------------------------------------------------------------------------
    def set_capital(self, capital: float) -> None:
        if finite(capital) and capital >= 0:
            self.base_capital = float(capital)
        else:
            self._refuse("capital", f"{capital!r} is not a finite non-negative number")

    def apply_allocation(self, u: AllocationUpdate) -> None:
        """The meta-supervisor's grant: capital and risk multipliers, from the next state on."""
        m = u.multipliers
        if not all(finite(x) and x >= 0 for x in (u.base, u.reference, m.size, m.spread, m.max_position)):
            self._refuse("allocation", "a capital or multiplier is not a finite non-negative number")
            return
        self.base_capital = float(u.base)
        self.compound = u.compound
        self.reference_capital = u.reference if u.size_follows_capital else 0.0
        self.multipliers = u.multipliers
        self.zone = u.zone

    def apply_gate(self, g: PortfolioGate) -> None:
        """The portfolio's limits on this asset: its exposure allowance and the drawdown stop.
        An allowance that is not a number holds every add back (the safe reading)."""
        if g.max_inventory_usd is not None and not finite(g.max_inventory_usd):
            self._refuse("portfolio gate", f"allowance {g.max_inventory_usd!r} is not a finite number")
            g = PortfolioGate(g.asset, g.ts, 0.0, g.halted, g.reason)
        self.max_inventory_usd = g.max_inventory_usd
        self.portfolio_halt = (g.reason or "portfolio drawdown stop") if g.halted else ""

    @property
    def capital(self) -> float:
        """Effective capital, scaled down when the account holds less than configured."""
        share = self.margin.capital_share if self.margin is not None else 1.0
        return effective_capital(self.base_capital, self.net_pnl, self.compound) * share

    # -- margin ------------------------------------------------------------------------------
    def on_margin(self, m: MarginState) -> bool:
        """The venue's margin figures; refused (False) unless the numbers are usable."""
        if not (finite(m.capital_share) and 0 <= m.capital_share <= 1 and finite(m.margin_ratio)
                and m.margin_ratio >= 0 and finite(m.account_value) and finite(m.ts)):
            return self._refuse("margin", "account value, capital share or margin ratio is not usable")
        self.margin = m
        return True

    def on_liquidated(self, ev: Liquidated) -> None:
        self.liquidated = ev.detail or "liquidated by the exchange"

    def _margin_limits(self) -> tuple[str, bool]:
        """(why the asset halts, whether adds are held back) from the margin breakers."""
        m, p = self.margin, self.params
        if self.liquidated:
            return f"liquidated: {self.liquidated}", True
        if m is None:
            return "", False
        if m.margin_ratio > p.max_margin_ratio:
            return f"margin ratio {m.margin_ratio:.2f} above {p.max_margin_ratio:g}", True
        liq, mark = m.liquidation_px, m.mark_px
        if finite(liq) and liq > 0 and finite(mark) and mark > 0:
            if abs(mark - liq) / mark * 100.0 < p.min_liquidation_distance_pct:
                return "", True
        return "", False

    @property
    def own_limit_usd(self) -> float:
        """The asset's own position limit: the hard cap, or its share of capital times the
        zone's max-position multiplier, whichever is smaller."""
        p = self.params
        return min(p.max_position_usd, p.max_position_pct * self.capital * self.multipliers.max_position)

    @property
    def limit_usd(self) -> float:
        """The limit in force: the asset's own, within the portfolio's exposure allowance."""
        own = self.own_limit_usd
        return own if self.max_inventory_usd is None else max(0.0, min(own, self.max_inventory_usd))

    @property
    def size_mult(self) -> float:
        """Quote size: the zone's multiplier, times capital / equal share when sizes follow capital."""
        scale = 1.0
        if self.reference_capital > 0:
            scale = min(max(self.capital / self.reference_capital, 0.0), MAX_CAPITAL_SCALE)
        return self.multipliers.size * scale

    # -- fills ----------------------------------------------------------------------------
    def on_fill(self, fill: Fill, position: float, *, live: bool = True) -> bool:
        """Book a fill the order role took as new, then take ``position`` (the order
        role's, after the fill) as the asset's. False (and no PnL change) for a fill with
        unusable numbers. A ``live`` fill that takes |inventory| past the limit in force
        is measured (``max_limit_excess_usd``); history replayed after a restart is not."""
        ok = self._book(fill, live)
        self.reconcile_position(position)
        return ok

    def on_fills(self, fills: Iterable[Fill], position: float, *, live: bool = False) -> int:
        """Book many fills (history from the venue) in order, then take ``position``;
        returns how many were usable."""
        n = sum(1 for f in fills if self._book(f, live))
        self.reconcile_position(position)
        return n

    def reset_fills(self) -> None:
        """Forget what the fills made, before a rebuild from a restarted order role's
        full history (it reaches us again: without this it would count twice)."""
        self._position = self._avg = self._realized = self._fees = 0.0
        self._entry_unknown = False
        self.fills_buy = self.fills_sell = 0
        self.volume_usd = self.max_abs_inventory_usd = 0.0
        self.fills_digest = 0
        self._day_start_net = 0.0

    def _book(self, fill: Fill, live: bool) -> bool:
        why = bad_fill(fill)
        if why:
            return self._refuse("fill", why)
        self.fills_digest = (self.fills_digest + fill_identity(fill.tid, fill.sz, fill.px)) & _MASK64
        self._roll_day(fill.ts)
        before = self.net_pnl
        buy = fill.side == "B"
        was = abs(self._position)
        self._apply(fill.sz if buy else -fill.sz, fill.px)
        if live and abs(self._position) > was:
            self.max_limit_excess_usd = max(self.max_limit_excess_usd,
                                            abs(self._position) * fill.px - self.limit_usd)
        self._fees += fill.fee
        if buy:
            self.fills_buy += 1
        else:
            self.fills_sell += 1
        self.volume_usd += fill.px * fill.sz
        self.max_abs_inventory_usd = max(self.max_abs_inventory_usd, abs(self._position) * fill.px)
        if _day_of(fill.ts) < self._day:
            # A fill from an earlier day (history replayed after a restart) belongs to the
            # day's starting PnL, not to what the day has made or lost.
            self._day_start_net += self.net_pnl - before
        return True

    def _apply(self, signed: float, px: float) -> None:
        """Average-cost update: increases average in, decreases realize against the average
        (the position moved here is the walk between two positions the owner tells)."""
        pos = self._position
        if signed == 0:
            return
        if self._entry_unknown and pos != 0:
            self._avg = px  # an adopted position with no known entry: enter it here
            self._entry_unknown = False
        if pos == 0 or (pos > 0) == (signed > 0):
            new = pos + signed
            self._avg = (abs(pos) * self._avg + abs(signed) * px) / abs(new)
            self._position = new
            return
        closed = min(abs(signed), abs(pos))
        self._realized += closed * (px - self._avg) * (1.0 if pos > 0 else -1.0)
        new = step(pos, signed)
        if new == 0:
            self._avg = 0.0
        elif (new > 0) != (pos > 0):  # flipped through zero: the remainder opens at px
            self._avg = px
        self._position = new

    # -- marks and reconciliation ------------------------------------------------------------
    def mark(self, mid: float, ts: float) -> None:
        """Revalue the position at ``mid``; rolls the day and checks the daily loss stop."""
        if not finite(ts):
            self._refuse("mark", f"time {ts!r} is not a finite number")
            return
        if not (finite(mid) and mid > 0):
            self._refuse("mark", f"mid {mid!r} is not a finite positive number")
        else:
            self._mid = mid
            if self._entry_unknown and self._position != 0:
                self._avg = mid  # an adopted position with no known entry is entered at the first mark
                self._entry_unknown = False
        self._roll_day(ts)
        self._check_loss()

    def reconcile_position(self, venue_position: float) -> float:
        """Ours minus the order role's position (after a fill, or the venue's it adopted);
        when they differ (beyond float residue) the order role's wins.

        An adopted position keeps our average entry, or is entered at the mid if we
        were flat (at the first mark if there is no mid yet).
        """
        why = bad_number("venue position", venue_position)
        if why:
            self._refuse("reconciliation", why)
            return 0.0
        diff = self._position - venue_position
        if abs(diff) <= _EPS * max(1.0, abs(venue_position)):
            self._position = venue_position  # float residue: the owner's figure, to the bit
            if venue_position == 0:
                self._avg = 0.0
            return 0.0
        was_flat = self._position == 0
        self._position = venue_position
        if venue_position == 0:
            self._avg = 0.0
            self._entry_unknown = False
        elif was_flat:
            self._avg = self._mid
            self._entry_unknown = self._mid <= 0
        return diff

    # -- figures ----------------------------------------------------------------------------
    @property
    def position(self) -> float:
        return self._position

    @property
    def avg_entry(self) -> float:
        return self._avg

    @property
    def mid(self) -> float:
        return self._mid

    @property
    def realized_pnl(self) -> float:
        return self._realized

    @property
    def unrealized_pnl(self) -> float:
        """position·(mid − avg_entry); 0 until there is a mark to value it at."""
        if self._mid <= 0:
            return 0.0
        return self._position * (self._mid - self._avg)

    @property
    def fees(self) -> float:
        return self._fees

    @property
    def funding(self) -> float:
        return self._funding

    def on_funding(self, ev: Funding) -> bool:
        """Apply one funding payment once (keyed by its due time); False if already counted."""
        if ev.ts <= self._funding_upto or ev.ts in self._funding_after:
            return False
        why = bad_funding(ev)
        if why:
            return self._refuse("funding", why)
        self._funding_after[ev.ts] = ev.usd
        self._funding += ev.usd
        return True

    def set_funding_total(self, total: float, as_of: float) -> None:
        """The venue's cumulative funding for the asset as of ``as_of`` (reconciliation):
        it replaces ours; payments due later are applied as they arrive."""
        if not (finite(total) and finite(as_of)):
            self._refuse("funding total", f"{total!r} as of {as_of!r} is not finite")
            return
        self._funding_after = {t: usd for t, usd in self._funding_after.items() if t > as_of}
        self._funding = total + sum(self._funding_after.values())
        self._funding_upto = as_of

    @property
    def net_pnl(self) -> float:
        return self._realized + self.unrealized_pnl - self._fees + self._funding

    # -- daily loss stop -------------------------------------------------------------------
    def _roll_day(self, ts: float) -> None:
        day = _day_of(ts)
        if day > self._day:
            self._day = day
            self._day_start_net = self.net_pnl

    def _check_loss(self) -> None:
        if self.net_pnl - self._day_start_net < -self.params.daily_loss_pct * self.capital:
            self._stopped_day = self._day  # latched until the day rolls

    # -- what the quoter may do -------------------------------------------------------------
    def state(self, ts: float) -> RiskState:
        if not finite(ts):
            self._refuse("state", f"time {ts!r} is not a finite number")
            ts = self._day * DAY_S
        self._roll_day(ts)
        self._check_loss()
        p = self.params
        limit = self.limit_usd
        px = self._mid if self._mid > 0 else self._avg
        exposure = abs(self._position * px)
        u = exposure / limit if limit > 0 else (math.inf if exposure > 0 else 0.0)
        allow = {"B": True, "A": True}
        spread_mult = {"B": 1.0, "A": 1.0}
        reason = ""
        reduce_only = False
        if self._position != 0:
            loaded = "B" if self._position > 0 else "A"
            if u > p.widen_at:
                spread_mult[loaded] = p.widen_mult
            if u > p.stop_at:
                allow[loaded] = False
            if u > p.reduce_only_at:
                reason = "reduce-only"
                # the flag (quote no more than closes the position) by the asset's own limit:
                # the portfolio's allowance only holds adds back (see the unwind below)
                own = self.own_limit_usd
                reduce_only = own <= 0 or exposure > p.reduce_only_at * own
        held = self.max_inventory_usd is not None and self.max_inventory_usd - exposure < MIN_ADD_USD
        if held:  # the portfolio's exposure cap: no quote may add to |inventory|
            if self._position >= 0:
                allow["B"] = False
            if self._position <= 0:
                allow["A"] = False
            reason = "portfolio exposure cap"
        margin_halt, near_liquidation = self._margin_limits()
        if near_liquidation and self._position != 0:  # distance to liquidation: only reduce
            allow["B" if self._position > 0 else "A"] = False
            reason = reason or "near liquidation: reduce-only"
            reduce_only = True
        # past the asset's own hard limit: the excess to work out (strategy/unwind.py); not
        # while halted. The portfolio's exposure allowance is not such a limit: it shrinks
        # as other assets load, and only holds adds back (dumping this asset's inventory
        # would hand the room to the others, who would fill it)
        unwind_usd = emergency_usd = 0.0
        if self._position != 0 and not (self._stopped_day == self._day or self.portfolio_halt or margin_halt):
            own = self.own_limit_usd
            unwind_usd = unwind.excess_usd(self._position, px, own, p.unwind_at)
            if unwind_usd > 0 and p.emergency_ioc:
                emergency_usd = unwind.excess_usd(self._position, px, own, p.emergency_at)
        m = self.multipliers
        spread_mult = {s: v * m.spread for s, v in spread_mult.items()}
        size = self.size_mult
        halted = self._stopped_day == self._day
        if halted:
            reason = "daily loss stop"
        if self.portfolio_halt:
            halted, reason = True, self.portfolio_halt
        if margin_halt:
            halted, reason = True, margin_halt
        return RiskState(
            asset=self.asset,
            ts=ts,
            position=self._position,
            avg_entry=self._avg,
            mid=self._mid,
            realized_pnl=self._realized,
            unrealized_pnl=self.unrealized_pnl,
            fees=self._fees,
            funding=self._funding,
            capital=self.capital,
            limit_usd=limit,
            allow_bid=allow["B"],
            allow_ask=allow["A"],
            spread_mult_bid=spread_mult["B"],
            spread_mult_ask=spread_mult["A"],
            size_mult_bid=size,
            size_mult_ask=size,
            halted=halted,
            halt_reason=reason,
            fills_buy=self.fills_buy,
            fills_sell=self.fills_sell,
            volume_usd=self.volume_usd,
            max_abs_inventory_usd=self.max_abs_inventory_usd,
            zone=self.zone,
            max_position_mult=m.max_position,
            exposure_held=held,
            max_limit_excess_usd=self.max_limit_excess_usd,
            fills_digest=self.fills_digest,
            unwind_usd=unwind_usd,
            emergency_usd=emergency_usd,
            reduce_only=reduce_only,
        )


PUBLISH_EVERY_S = 1.0  # without news, restate risk this often (marks move PnL)


def should_publish(state: RiskState, last: RiskState | None, last_ts: float, *, force: bool) -> bool:
    """Whether the quoter and order actor must hear of ``state``: on demand, whenever
    what it allows changed (halt, sides, multipliers), and at least every
    ``PUBLISH_EVERY_S`` so marks reach them. The live actor and the backtester share it."""
    if force or last is None or state.ts - last_ts >= PUBLISH_EVERY_S:
        return True
    return (state.halted != last.halted or state.allow_bid != last.allow_bid or state.allow_ask != last.allow_ask
            or state.spread_mult_bid != last.spread_mult_bid or state.spread_mult_ask != last.spread_mult_ask
            or state.size_mult_bid != last.size_mult_bid or state.size_mult_ask != last.size_mult_ask)
