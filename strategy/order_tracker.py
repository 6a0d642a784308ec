"""The order actor's brain: live orders, in-flight state, the position cap, reconciliation.

Pure and synchronous. It turns a wanted ``QuoteLadder`` into the fewest venue actions
(via ``order_diff``), keeps every order's state from placement to its end, and never
lets resting size plus position exceed the position limit on either side: worst-case
inventory (position plus every open order on a side filling) stays within the limit.
When the limit shrinks (less capital, a worse score zone, the portfolio's exposure cap),
resting orders past it are cancelled, outermost first.

It is the asset's one owner of the position and of trade-id dedupe: a fill counts here
once, and risk (``strategy.risk``) hears of it only then, with the position after it.
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any

from msgspec.structs import replace as _replace

from messages.orders import Fill, NewOrder, OpenOrder, OrderAck, OrderCancelled, OrderReject, QuoteLadder
from messages.validity import bad_fill, bad_open_order, finite
from strategy.budget_policy import CancelFillGovernor
from strategy.order_diff import LiveOrder, diff_orders
from strategy import unwind
from strategy.position import step
from exchange_rules import ticks as rules
from exchange_rules.cloid import make_cloid
from strategy.feedback import ALO_PREFIX


@dataclass
class InflightIoc:
    """The emergency unwind's IOC from sending until its fills (or a refusal, or the cancel
    of its rest) are in: it never rests, so it is not in ``live``."""

    sent_ts: float
    side: str
    left: float  # size not yet filled


# Hyperliquid's answer to cancelling an order that no longer rests (filled or cancelled)
GONE_PREFIX = "Order was never placed, already canceled, or filled"
TRIM_TOLERANCE = 0.02  # resting size may pass a shrunk limit by this share before it is cut
IOC_ANSWER_TIMEOUT_S = 30.0  # an IOC unanswered this long is forgotten (its outcome comes by the fills)


class OrderTracker:
    def __init__(self, asset: str, asset_index: int, epoch: int, sz_decimals: int,
                 tolerance_bp: float) -> None:
        self.asset = asset
        self.asset_index = asset_index
        self.epoch = epoch
        self.sz_decimals = sz_decimals
        self.tolerance_bp = tolerance_bp
        self.live: dict[str, LiveOrder] = {}
        self.position = 0.0
        self.seen_tids: set[int] = set()
        self._seen_order: collections.deque[tuple[float, int]] = collections.deque()  # (fill ts, tid)
        self.pruned_before = -math.inf  # fills older than this were all applied: their tids are forgotten
        self._seq = 0
        self.rejects = 0
        self.keep_bp = 0.0  # queue keeping (order_diff.diff_orders); 0: off
        self.max_age_s = 0.0
        self.governor: CancelFillGovernor | None = None  # cancel-to-fill governor; None: off
        self.bad_input = 0  # unusable input refused (fills, positions, open orders, a NaN mid or limit)
        self.last_bad = ""
        # the emergency unwind's IOCs in flight (strategy/unwind.py), and when the last was sent
        self.ioc_inflight: dict[str, InflightIoc] = {}
        self.last_ioc_ts = -math.inf
        self.iocs_sent = 0

    def _refuse(self, what: str, why: str) -> None:
        self.bad_input += 1
        self.last_bad = f"{what}: {why}"

    # -- placing ---------------------------------------------------------------------------
    def _next_cloid(self) -> str:
        self._seq += 1
        return make_cloid(self.asset_index, self.epoch, self._seq)

    def configure(self, quoting: Any) -> None:
        """Queue keeping and the cancel-to-fill governor from the quoting config (QuotingConfig)."""
        qu, bg = quoting.queue, quoting.budget_governor
        self.keep_bp, self.max_age_s = (qu.keep_tolerance_bp, qu.max_age_s) if qu.enabled else (0.0, 0.0)
        self.governor = CancelFillGovernor(bg.max_cancels_per_fill, bg.window_s) if bg.enabled else None

    @property
    def held(self) -> float:
        """The position in whole lots, for the caps: the float sum of fills may carry residue."""
        return round(self.position, self.sz_decimals)

    def exposure(self, side: str) -> float:
        """Worst-case inventory on one side: position plus all open size on that side (an
        IOC whose fills are not in yet counts as open)."""
        ioc = self._ioc_open(side) if self.ioc_inflight else 0.0
        if side == "B":
            return self.held + sum(o.sz for o in self.live.values() if o.side == "B") + ioc
        return -self.held + sum(o.sz for o in self.live.values() if o.side == "A") + ioc

    def _ioc_open(self, side: str) -> float:
        """Size of IOCs in flight on ``side`` whose fills are not in yet."""
        return sum(i.left for i in self.ioc_inflight.values() if i.side == side)

    def plan(self, ladder: QuoteLadder, mid: float, limit_usd: float,
             reduce_only: bool = False) -> tuple[list[str], list[NewOrder]]:
        """Cancels and placements that move the live orders to ``ladder``. Without a
        finite positive mid and limit nothing new is placed; what rests is cancelled.
        ``reduce_only`` (risk's): on the reducing side, resting size, new size and an IOC in
        flight together at most close the position, never carry it through zero."""
        if not (finite(mid) and mid > 0 and finite(limit_usd)):
            self._refuse("plan", f"mid {mid!r} or limit {limit_usd!r} is not a finite number")
            return self.cancel_everything(), []
        live = self.live
        wanted = list(ladder.bids) + list(ladder.asks)
        tolerance, gov = self.tolerance_bp, self.governor
        if gov is not None:
            tolerance = gov.tolerance_bp(tolerance, ladder.ts)
        cancels, places = diff_orders(wanted, list(live.values()), mid=mid, tolerance_bp=tolerance,
                                      keep_bp=self.keep_bp, now=ladder.ts, max_age_s=self.max_age_s)
        if ladder.retreat_only:
            cancels, places = retreats(cancels, wanted, live), []
        closing = unwind.reducing_side(self.held) if reduce_only and self.held != 0 else ""
        cancels = list(cancels) + self._trim(set(cancels), mid, limit_usd, closing)
        if gov is not None and cancels:
            gov.on_cancels(ladder.ts, len(cancels))
        for cloid in cancels:
            o = live.get(cloid)
            if o is not None:
                live[cloid] = _replace(o, state="cancelling")
        out: list[NewOrder] = []
        room: dict[str, float | None] = {"B": None, "A": None}
        szd = self.sz_decimals
        for q in places:
            r = room[q.side]
            used = r if r is not None else self.exposure(q.side)
            allowed = (0.0 if q.side == closing else limit_usd / q.px) - used
            sz = rules.round_size_float(min(q.sz, max(0.0, allowed)), szd)  # = float(rules.round_size(...))
            if sz <= 0 or not rules.meets_min_notional_float(q.px, sz):
                room[q.side] = used
                continue
            room[q.side] = used + sz
            cloid = self._next_cloid()
            live[cloid] = LiveOrder(cloid, q.side, q.level, q.px, sz, "pending", ladder.ts)
            out.append(NewOrder(cloid, q.side, q.px, sz, q.level))
        return cancels, out

    def take_back(self, mid: float, limit_usd: float, excess_usd: float, slippage_bp: float, ts: float,
                  cooldown_s: float) -> NewOrder | None:
        """The reduce-only IOC that takes the position back to ``limit_usd`` (at most
        ``excess_usd``, risk's figure; the excess by this tracker's own position, which
        risk hears of after it), or None: one in flight, the last sent less than
        ``cooldown_s`` ago (its fills may still be on their way), or nothing past the limit."""
        if not (finite(mid) and mid > 0 and finite(limit_usd) and finite(ts)):
            return None
        for cloid, ioc in list(self.ioc_inflight.items()):
            if ts - ioc.sent_ts > IOC_ANSWER_TIMEOUT_S:  # its answer was lost: reconciling keeps the position true
                del self.ioc_inflight[cloid]
        if self.ioc_inflight or ts - self.last_ioc_ts < cooldown_s:
            return None
        excess = min(excess_usd, abs(self.held) * mid - max(limit_usd, 0.0))
        o = unwind.ioc_order("", self.held, mid, excess, slippage_bp, self.sz_decimals)
        if o is None:
            return None
        o = _replace(o, cloid=self._next_cloid())
        self.ioc_inflight[o.cloid] = InflightIoc(ts, o.side, o.sz)
        self.last_ioc_ts = ts
        self.iocs_sent += 1
        return o

    def hold_back_reducing(self, places: tuple[NewOrder, ...]) -> tuple[NewOrder, ...]:
        """While an IOC is in flight it owns the reducing side: new quotes there wait for
        its answer (the next ladder places them, sized by the position its fills leave),
        so the IOC and a quote sized for the same excess cannot both fill and carry the
        position through zero. The quotes held back are forgotten here."""
        if self.held == 0:
            return places
        reducing = unwind.reducing_side(self.held)
        kept = []
        for o in places:
            if o.side == reducing and o.tif == "Alo":
                self.live.pop(o.cloid, None)
            else:
                kept.append(o)
        return tuple(kept)

    def _trim(self, leaving: set[str], mid: float, limit_usd: float, closing: str = "") -> list[str]:
        """Resting orders to cancel, outermost first, so that worst-case inventory on each
        side fits the limit again (it only stops fitting when the limit shrinks), and on the
        ``closing`` side (reduce-only) at most closes the position."""
        if mid <= 0:
            return []
        limit_cap = limit_usd / mid * (1.0 + TRIM_TOLERANCE)
        out: list[str] = []
        keeps: dict[str, list[LiveOrder]] = {"B": [], "A": []}
        for o in self.live.values():
            if o.state != "cancelling" and o.cloid not in leaving:
                keep = keeps.get(o.side)
                if keep is not None:
                    keep.append(o)
        for side in ("B", "A"):
            keep = keeps[side]
            held = self.held if side == "B" else -self.held
            worst = held + sum(o.sz for o in keep)
            cap = limit_cap
            if side == closing:
                cap = 1e-12
                worst += self._ioc_open(side)
            if worst <= cap:
                continue
            keep.sort(key=lambda o: o.px if side == "B" else -o.px)  # outermost first
            for o in keep:
                if worst <= cap:
                    break
                out.append(o.cloid)
                worst -= o.sz
        return out

    def cancel_everything(self) -> list[str]:
        """Cloids to cancel so that nothing of ours rests (e.g. on a halt)."""
        out = []
        for cloid, o in self.live.items():
            if o.state != "cancelling":
                self.live[cloid] = LiveOrder(cloid=o.cloid, side=o.side, level=o.level, px=o.px,
                                             sz=o.sz, state="cancelling", placed_ts=o.placed_ts)
                out.append(cloid)
        return out

    # -- venue answers --------------------------------------------------------------------
    def on_ack(self, ack: OrderAck) -> None:
        if ack.cloid in self.ioc_inflight:  # an IOC taking liquidity: it never rests; its fills follow
            return
        o = self.live.get(ack.cloid)
        if o is not None and o.state == "pending":
            self.live[ack.cloid] = LiveOrder(cloid=o.cloid, side=o.side, level=o.level, px=o.px,
                                             sz=o.sz, state="resting", placed_ts=o.placed_ts)

    def on_reject(self, rej: OrderReject) -> None:
        """A rejected placement is gone. A rejected *cancel* is not, unless the venue says
        the order is already gone: throttled or failed cancels leave it resting, so it
        stays known (and is cancelled again by the next diff). A post-only refusal is a
        placement's answer even when a cancel was sent after it: that order never rested."""
        if self.ioc_inflight.pop(rej.cloid, None) is not None:
            self.rejects += 1
            return
        o = self.live.get(rej.cloid)
        if o is None:
            return
        self.rejects += 1
        if o.state == "cancelling" and not rej.reason.startswith((GONE_PREFIX, ALO_PREFIX)):
            self.live[rej.cloid] = LiveOrder(cloid=o.cloid, side=o.side, level=o.level, px=o.px,
                                             sz=o.sz, state="resting", placed_ts=o.placed_ts)
        else:
            del self.live[rej.cloid]

    def on_cancelled(self, msg: OrderCancelled) -> None:
        self.live.pop(msg.cloid, None)
        self.ioc_inflight.pop(msg.cloid, None)

    def seen(self, fill: Fill) -> bool:
        """Whether the fill was applied before: its trade id is known, or it is older than
        the ids forgotten at the fill-sync watermark."""
        return fill.tid in self.seen_tids or fill.ts < self.pruned_before

    def on_fill(self, fill: Fill) -> bool:
        """Apply a fill once (dedupe by trade id); False if it was seen before."""
        if self.seen(fill):
            return False
        why = bad_fill(fill)
        if why:  # not marked seen: the fill sync may bring it again, intact
            self._refuse("fill", why)
            return False
        self._see(fill)
        if self.governor is not None:
            self.governor.on_fill(fill.ts)
        self.position = step(self.position, fill.sz if fill.side == "B" else -fill.sz)
        ioc = self.ioc_inflight.get(fill.cloid)
        if ioc is not None:
            ioc.left = max(0.0, min(ioc.left - fill.sz, fill.remaining))
            if ioc.left <= 0:
                del self.ioc_inflight[fill.cloid]
        o = self.live.get(fill.cloid)
        if o is not None:
            if fill.remaining <= 0:
                del self.live[fill.cloid]
            else:
                # min(): a fill that arrives late (reordered) must not grow the order back
                self.live[fill.cloid] = LiveOrder(cloid=o.cloid, side=o.side, level=o.level, px=o.px,
                                                  sz=min(o.sz, fill.remaining), state=o.state,
                                                  placed_ts=o.placed_ts)
        return True

    def _see(self, fill: Fill) -> None:
        self.seen_tids.add(fill.tid)
        self._seen_order.append((fill.ts, fill.tid))

    def prune_seen(self, before_ts: float) -> int:
        """Forget the trade ids of fills older than the fill-sync watermark ``before_ts``
        (all applied); one older than it that comes again is a duplicate by its time."""
        if not finite(before_ts) or before_ts <= self.pruned_before:
            return 0
        self.pruned_before = before_ts
        n = 0
        dq = self._seen_order
        while dq and dq[0][0] < before_ts:
            self.seen_tids.discard(dq.popleft()[1])
            n += 1
        return n

    # -- reconciliation ------------------------------------------------------------------------
    def reconcile(self, open_orders: tuple[OpenOrder, ...], position: float,
                  fills: tuple[Fill, ...]) -> list[str]:
        """Adopt the venue's truth; returns the open orders to cancel (none of ours is current)."""
        self._adopt_position(position)
        for f in fills:
            if not self.seen(f):
                self._see(f)
        self.live.clear()
        self.ioc_inflight.clear()
        return [o.cloid for o in open_orders]

    def resync(self, open_orders: tuple[OpenOrder, ...], position: float) -> list[str]:
        """After a reconnect: keep what the venue confirms, forget what it no longer has
        (filled or cancelled while we were blind; fills are applied separately), and
        return the venue's orders we do not know (to cancel)."""
        venue = {o.cloid: o for o in open_orders}
        for o in open_orders:  # an order with unusable numbers is not trusted: cancel it
            why = bad_open_order(o)
            if why and o.cloid in self.live:
                self._refuse("open order", why)
                del self.live[o.cloid]
        for cloid in [c for c in self.live if c not in venue]:
            del self.live[cloid]
        for cloid, o in venue.items():
            mine = self.live.get(cloid)
            if mine is not None:
                self.live[cloid] = LiveOrder(cloid=cloid, side=mine.side, level=mine.level, px=mine.px,
                                             sz=o.sz, state="resting" if mine.state == "pending" else mine.state,
                                             placed_ts=mine.placed_ts)
        self._adopt_position(position)
        return [c for c in venue if c not in self.live]

    def _adopt_position(self, position: float) -> None:
        """The venue's position, unless it is not a number (then ours stands)."""
        if finite(position):
            self.position = round(position, self.sz_decimals)
        else:
            self._refuse("venue position", f"{position!r} is not a finite number")

    # -- for the view ------------------------------------------------------------------------
    def best_quotes(self) -> tuple[float, float, int]:
        bids = [o.px for o in self.live.values() if o.side == "B" and o.state != "cancelling"]
        asks = [o.px for o in self.live.values() if o.side == "A" and o.state != "cancelling"]
        return (max(bids) if bids else 0.0, min(asks) if asks else 0.0, len(self.live))


def retreats(cancels: list[str], wanted: list[Any], live: dict[str, LiveOrder]) -> list[str]:
    """Of ``cancels``, those that pull or retreat: the order's slot is no longer wanted,
    or it rests closer to the other side, or larger, than its slot now wants. An order
    that would only move toward the touch stays where it is: a ladder priced on an old
    book may take risk off, never put it on (``QuoteLadder.retreat_only``)."""
    want: dict[tuple[str, int], Any] = {}
    for w in wanted:
        want.setdefault((w.side, w.level), w)
    out = []
    for cloid in cancels:
        o = live.get(cloid)
        if o is None:
            out.append(cloid)
            continue
        w = want.get((o.side, o.level))
        if w is None or o.sz > w.sz or (o.px > w.px if o.side == "B" else o.px < w.px):
            out.append(cloid)
    return out
