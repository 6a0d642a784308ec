"""OrderActor: owns the live order map and talks to the venue gateway.

On start it registers its route, then reconciles with the venue (open orders,
position, fill history: read once, here) before it accepts any ladder: restart =>
reconcile => quote. Its tracker owns the asset's position and fill dedupe; risk hears
the fills and the position from it.
Every command carries its epoch; after a restart the gateway refuses the old one's.
On a clean stop it cancels its orders, waits for the venue to confirm, and hands risk
any fill that arrived meanwhile, so nothing is lost at exit.
"""
from __future__ import annotations

import math
import time
from typing import Any

from actors.asset_actor import AssetActor
from actors.context import AssetContext
from messages.control import Tick
from messages.orders import (CancelOrders, Fill, OrderAck, OrderCancelled, OrderReject, PlaceOrders,
                             QueryLiveOrders, QuoteLadder, Resync, VenueBatch)
from messages.risk import FillHistory, OwnFills, RiskState, VenuePosition
from strategy.order_actions import order_actions
from strategy.order_role import Command, OrderRole
from strategy.order_tracker import OrderTracker
from strategy.outbox import VENUE, Outbox
from venues.runtime import VenueUnavailable

REJECT_EVENT_WINDOW_S = 10.0  # simulated seconds between reject lines in the event log
FILL_SYNC_S = 5.0  # runtime-clock seconds between fill reconciliations with the venue
SYNC_OVERLAP_S = 5.0  # each sync looks this far back past the previous one
PRUNE_MARGIN_S = 60.0  # trade ids of fills this far before the sync watermark are forgotten


class OrderActor(AssetActor):
    def __init__(self, ctx: AssetContext, *, order_epoch: int, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        self.order_epoch = order_epoch
        ts = ctx.start_ts()
        a = ctx.acfg
        self.role = OrderRole.for_quoting(OrderTracker(ctx.asset, ctx.gateway.asset_index(ctx.asset), order_epoch,
                                                       a.market.sz_decimals, a.quoting.refresh_tolerance_bp), ts,
                                          a.quoting, a.risk)
        self.tracker = self.role.tracker
        self._last_sync = ts
        self._synced_until = ts  # init fetches the whole history
        self._sync_urgent = False  # a resync failed: the next fill syncs are recovery, not routine
        self._reject_window_start = -1e18
        self._rejects_in_window = 0

    # -- start: reconcile before anything else ------------------------------------------
    def init(self) -> None:
        ctx = self.ctx
        self.board.set_phase(ctx.asset, "reconciling")
        ctx.team.set("order", self.actor_ref)  # from now on fills reach us (dedupe covers overlap)
        snap = ctx.gateway.snapshot(ctx.asset, 0.0)  # one instant: orders, position, fills
        open_orders, position, fills = snap.open_orders, snap.position, snap.fills
        stale = self.tracker.reconcile(open_orders, position, fills)
        if stale:
            self._send_cancel(stale)
            self.event(self.role.ts, "cancel_all", f"reconcile: cancelling {len(stale)} stale order(s)")
        position = self.tracker.position  # the venue's, unless it was not a number
        self.send("risk", OwnFills(ctx.asset, self.role.ts, fills, position, live=False, start=True))
        self.send("risk", VenuePosition(ctx.asset, snap.ts, position, snap.funding))
        self.event(self.role.ts, "reconciled",
                  f"epoch {self.order_epoch}: position {position:g}, {len(fills)} fills, "
                  f"{len(open_orders)} open order(s) found")

    # -- messages ----------------------------------------------------------------------------
    def handle(self, msg: Any) -> Any:
        if isinstance(msg, VenueBatch):
            for ev in msg.events:
                self._on_venue(ev)
            by_switch = sum(1 for ev in msg.events
                            if isinstance(ev, OrderCancelled) and ev.reason == "scheduledCancel")
            if by_switch:
                self.board.count("dms_cancels", by_switch)
                self.event(msg.ts, "cancel_all", f"the venue's dead-man's switch cancelled {by_switch} order(s)")
        elif isinstance(msg, QuoteLadder):
            self.deliver(self.role.handle(msg, self.ctx.gateway.budget_share_left()))
        elif isinstance(msg, (Fill, OrderAck, OrderCancelled, OrderReject, RiskState)):
            self._on_venue(msg)
        elif isinstance(msg, FillHistory):  # the answer to a fill sync
            self._apply_fills(msg.fills)
            self._synced_until = max(self._synced_until, msg.ts)
            self._sync_urgent = False
            self._prune_at_watermark()
        elif isinstance(msg, Tick):
            if msg.now - self._last_sync >= FILL_SYNC_S:
                # a fill message the wire lost is found here, at the latest one period later
                self._last_sync = msg.now
                self.ctx.gateway.fetch_fills(self.ctx.asset, self._sync_from(), urgent=self._sync_urgent)
        elif isinstance(msg, Resync):
            self._resync(msg)
        elif isinstance(msg, QueryLiveOrders):
            return tuple(self.tracker.live)
        else:
            super().handle(msg)
            return
        self.board.quotes[self.ctx.asset] = self.tracker.best_quotes()
        self.board.quote_sizes[self.ctx.asset] = self._best_sizes()

    def _best_sizes(self) -> tuple[float, float]:
        """The sizes of our best bid and ask (for the view)."""
        bid = ask = None
        for o in self.tracker.live.values():
            if o.state == "cancelling":
                continue
            if o.side == "B" and (bid is None or o.px > bid.px):
                bid = o
            elif o.side == "A" and (ask is None or o.px < ask.px):
                ask = o
        return (bid.sz if bid else 0.0, ask.sz if ask else 0.0)

    def _sync_from(self) -> float:
        """Every fill before the last completed sync is known; a later one may not be,
        even if an even later one arrived (a lost message leaves a gap)."""
        return max(0.0, self._synced_until - SYNC_OVERLAP_S)

    def _prune_at_watermark(self) -> None:
        """Every fill before the sync watermark (less a margin) has been applied here and
        handed to risk: the tracker forgets those trade ids, so dedupe memory stays bounded."""
        before = self._sync_from() - PRUNE_MARGIN_S
        if before > 0:
            self.tracker.prune_seen(before)

    def _apply_fills(self, fills: Any) -> None:
        self.deliver(self.role.history(fills))

    def _resync(self, msg: Resync) -> None:
        """Reconcile after a reconnect: apply missed fills once, drop what the venue no
        longer has, cancel what we do not know, restate the position to risk."""
        ctx, gw = self.ctx, self.ctx.gateway
        self.role.ts = max(self.role.ts, msg.ts)
        try:
            snap = gw.snapshot(ctx.asset, self._sync_from())
        except VenueUnavailable as e:
            self.event(self.role.ts, "failure", f"resync ({msg.reason}) failed: {e}; retrying at the next sync")
            self._last_sync = -1e18
            self._sync_urgent = True
            return
        self._apply_fills(snap.fills)
        self._synced_until = max(self._synced_until, self.role.ts)
        open_orders, position = snap.open_orders, snap.position
        if math.isnan(position):
            # a venue without an atomic read: our count, completed by the fills just
            # applied, is the position (a read from before a fill we already applied
            # would undo it)
            position = self.tracker.position
        unknown = self.tracker.resync(open_orders, position)
        self._send_cancel(unknown)
        position = self.tracker.position
        self.send("risk", VenuePosition(ctx.asset, snap.ts, position, snap.funding))
        self.event(self.role.ts, "reconciled", f"resync after {msg.reason}: position {position:g}, "
                                         f"{len(open_orders)} open, {len(unknown)} unknown cancelled")

    def _on_venue(self, msg: Any) -> None:
        self.deliver(self.role.handle(msg))
        journal = self.ctx.journal
        if journal is not None and not self.fenced:
            if isinstance(msg, OrderAck):
                journal.order(msg.ts, msg.asset, "ack", msg.cloid)
            elif isinstance(msg, OrderReject):
                journal.order(msg.ts, msg.asset, "reject", msg.cloid, text=msg.reason)
            elif isinstance(msg, OrderCancelled):
                journal.order(msg.ts, msg.asset, "cancelled", msg.cloid, text=msg.reason)
        if isinstance(msg, OrderReject) and "already canceled" not in msg.reason:
            self._note_reject(msg)

    def _note_reject(self, msg: OrderReject) -> None:
        """Count every reject; show the first of a burst, then one line per window."""
        self.board.count("rejects")
        self._rejects_in_window += 1
        if msg.ts - self._reject_window_start >= REJECT_EVENT_WINDOW_S:
            more = self._rejects_in_window - 1
            suffix = f" (+{more} more in the last {REJECT_EVENT_WINDOW_S:g}s)" if more > 0 else ""
            self.event(msg.ts, "reject", msg.reason[:110] + suffix)
            self._reject_window_start, self._rejects_in_window = msg.ts, 0

    def deliver(self, out: Outbox) -> None:
        super().deliver([(to, m) for to, m in out if to != VENUE])
        for to, cmd in out:
            if to == VENUE:
                self._to_venue(cmd)

    def _to_venue(self, cmd: Command) -> None:
        """The role's command as the gateway takes it, stamped with our epoch."""
        ts, cmds = self.role.ts, []
        if cmd.cancels:  # cancels first: the venue applies them before the new orders
            cmds.append(CancelOrders(self.ctx.asset, self.order_epoch, ts, cmd.cancels))
        if cmd.places:
            cmds.append(PlaceOrders(self.ctx.asset, self.order_epoch, ts, cmd.places, cmd.recv_ns))
        if cmd.recv_ns and self.ctx.latency is not None:
            # the batch leaves us here; sending wakes the venue thread, whose work is the
            # venue's, not ours
            self.ctx.latency.add(time.perf_counter_ns() - cmd.recv_ns)
        self.ctx.gateway.send(*cmds)
        journal = self.ctx.journal
        if journal is not None:  # a quote replaced is one modify, as the venue may send it
            journal.actions(ts, self.ctx.asset, order_actions(cmd.cancels, cmd.places, self.tracker.live))

    def _send_cancel(self, cloids: list[str]) -> None:
        if cloids:
            self.ctx.gateway.cancel(CancelOrders(self.ctx.asset, self.order_epoch, self.role.ts, tuple(cloids)))

    # -- stop --------------------------------------------------------------------------------
    def cleanup(self, reason: str) -> None:
        gw, asset = self.ctx.gateway, self.ctx.asset
        if reason != "normal":
            return  # the cancel-all is already on the wire (first act); the supervisor confirms
        try:
            gw.cancel_all(asset, timeout=self.ctx.cfg.supervision.shutdown_timeout_s)
        except VenueUnavailable as e:  # the hive's exit sweep tries again
            self.event(self.role.ts, "failure", f"exit: cancel-all failed ({e}); the exit sweep tries again")
            return
        since = self._sync_from()
        try:
            missed = gw.fills(asset, since)
        except VenueUnavailable as e:
            # never silently: a fill since the last sync may be missing from this run's
            # summary and journal (the venue has it; the next start reads it)
            self.board.count("exit_fills_unread")
            self.event(self.role.ts, "failure", f"exit: the fills since {since:.0f} could not be read ({e}); "
                                                "this run's summary may miss some, the next start reads them")
            return
        self.board.quotes[asset] = (0.0, 0.0, 0)
        self.board.quote_sizes[asset] = (0.0, 0.0)
        self.deliver(self.role.history(missed))

