"""AssetSupervisor: one asset's team (book, risk, order, quoter) under rest_for_one.

Money first: on any abnormal exit in the tree, the first act is to retire the order
epoch at the gateway (a zombie can no longer trade) and cancel the asset's orders
through the venue directly, waiting for the venue to confirm; only then are children
restarted. A quoter crash restarts the quoter; an order crash restarts order and
quoter; a risk crash restarts risk, order and quoter; a book crash restarts all.
"""
from __future__ import annotations

import time
from typing import Any

import pykka

from actors.base import Killed, Liveness
from actors.book import BookActor
from actors.context import AssetContext
from actors.order import OrderActor
from actors.quoter import QuoterActor
from actors.risk import RiskActor
from messages.allocation import AllocationUpdate, ExposureReport, PerformanceReport, PortfolioGate
from messages.control import ExitReason, Tick
from supervisor.asset_money import META, AssetMoney
from supervisor.supervisor import ChildSpec, Supervisor
from venues.runtime import VenueUnavailable

CHILD_ORDER = ("book", "risk", "order", "quoter")
MONEY = (AllocationUpdate, PortfolioGate, PerformanceReport, ExposureReport)


class AssetSupervisor(Supervisor):
    def __init__(self, ctx: AssetContext, *, parent: pykka.ActorRef | None, child_id: str, epoch: int,
                 liveness: Liveness | None = None, now: float = 0.0, grant: AllocationUpdate | None = None,
                 gate: PortfolioGate | None = None) -> None:
        self.ctx = ctx
        sup = ctx.cfg.supervision
        specs = [
            ChildSpec("book", self._start_book, max_handler_s=sup.handler_budget_s),
            ChildSpec("risk", self._start_risk, max_handler_s=sup.handler_budget_s),
            ChildSpec("order", self._start_order, shutdown_timeout=sup.shutdown_timeout_s + 1,
                      max_handler_s=max(sup.handler_budget_s, sup.shutdown_timeout_s)),
            ChildSpec("quoter", self._start_quoter, max_handler_s=sup.handler_budget_s),
        ]
        super().__init__(parent=parent, child_id=child_id, epoch=epoch, specs=specs,
                         strategy="rest_for_one", intensity=sup.intensity, period=sup.period_s,
                         start_timeout=sup.start_timeout_s, now=now,
                         on_event=lambda ts, kind, text: ctx.board.event(ts, kind, ctx.asset, text),
                         liveness=liveness, faults=ctx.faults, fault_key=ctx.asset, fault_role="supervisor")
        ctx.start_ts = lambda: self.now
        self.cancel_ms: list[float] = []
        self.money = AssetMoney(grant, gate)

    # -- child factories -----------------------------------------------------------------
    def _kw(self, parent: pykka.ActorRef, cid: str, epoch: int, lv: Liveness) -> dict[str, Any]:
        return {"parent": parent, "child_id": cid, "epoch": epoch, "liveness": lv,
                "faults": self.ctx.faults, "fault_key": self.ctx.asset}

    def _start_book(self, parent, cid, epoch, lv):  # StartFn
        return BookActor.start(self.ctx, **self._kw(parent, cid, epoch, lv))

    def _start_risk(self, parent, cid, epoch, lv):
        # the meta's grant is its capital from its first state on (told again below, with
        # the multipliers)
        return RiskActor.start(self.ctx, capital=self.money.capital, **self._kw(parent, cid, epoch, lv))

    def _start_order(self, parent, cid, epoch, lv):
        order_epoch = self.ctx.gateway.new_epoch(self.ctx.asset)
        return OrderActor.start(self.ctx, order_epoch=order_epoch, **self._kw(parent, cid, epoch, lv))

    def _start_quoter(self, parent, cid, epoch, lv):
        return QuoterActor.start(self.ctx, **self._kw(parent, cid, epoch, lv))

    # -- hooks -----------------------------------------------------------------------------
    def init(self) -> None:
        self.ctx.supervisor = self.actor_ref  # reachable for operators and fault injection
        super().init()

    def child_started(self, cid: str, ref: pykka.ActorRef) -> None:
        self.ctx.team.set(cid, ref)
        board, asset = self.ctx.board, self.ctx.asset
        if board.phase.get(asset) == "restarting":
            # the old members are stopped (or fenced) by now: the new ones report from here
            # on (a quoter on its way out must not, see QuoterActor._being_replaced)
            board.set_phase(asset, "starting")
        if cid == "risk":  # before the order actor and the quoter exist, so before any quote
            for _, msg in self.money.risk_started():
                ref.tell(msg)

    def child_stopped(self, cid: str, ref: pykka.ActorRef) -> None:
        self.ctx.team.clear(cid, ref)  # only if the slot still holds this very actor

    def before_restart(self, failed: str, affected: list[str], reason: ExitReason) -> None:
        if self.abandoned:
            raise Killed(f"{self.ctx.asset} supervisor was abandoned: its replacement recovers")
        self.ctx.board.recovery_started(self.ctx.asset, self.failure_ns)
        self.ctx.board.set_phase(self.ctx.asset, "restarting")
        self.ctx.board.restarts[self.ctx.asset] = self.ctx.board.restarts.get(self.ctx.asset, 0) + 1
        self._cancel_first(f"{failed} {reason}", fence="order" in affected)

    def hang_declared(self, at_ns: int) -> None:
        # a hang in the replacement is a failure of its own: like one the watchdog finds,
        # its recovery is timed from the moment it is declared (detection is not recovery)
        self.failure_ns = at_ns
        self.ctx.board.recovery_started(self.ctx.asset, at_ns)

    def _cancel_first(self, why: str, fence: bool) -> None:
        """Cancel every order of the asset at the venue, fencing the order epoch first
        when the order actor is being replaced (its commands must no longer count)."""
        t0 = time.perf_counter()
        gw, asset = self.ctx.gateway, self.ctx.asset
        try:
            if fence:
                gw.new_epoch(asset)
            n = self._cancel_all_confirmed()
            self.ctx.board.recovery_cancel_sent(asset, gw.first_cancel_after(asset, self.failure_ns))
            ms = (time.perf_counter() - t0) * 1000
            self.cancel_ms.append(ms)
            self.emit("cancel_all", f"after {why}: {'fenced, ' if fence else ''}{n} order(s) cancelled, "
                                    f"confirmed by the venue in {ms:.0f} ms")
        except VenueUnavailable as e:
            self.emit("failure", f"cancel-all after {why} failed: {e}")

    def on_tick(self, tick: Tick) -> None:
        super().on_tick(tick)
        for role in ("order", "quoter"):  # staleness checks and fill syncs run on it
            self.ctx.team.tell(role, tick)

    def _cancel_all_confirmed(self, attempts: int = 3) -> int:
        """Cancel-all and wait for the venue; a failed request is tried again."""
        for attempt in range(attempts):
            try:
                return self.ctx.gateway.cancel_all(self.ctx.asset, timeout=self.ctx.cfg.supervision.shutdown_timeout_s)
            except VenueUnavailable:
                if attempt == attempts - 1:
                    raise
        return 0

    def handle_other(self, msg: Any) -> Any:
        if not isinstance(msg, MONEY):
            return super().handle_other(msg)
        for to, m in self.money.handle(msg):
            if to != META:
                self.ctx.team.tell(to, m)
            elif self.parent is not None and not self.abandoned:
                try:
                    self.parent.tell(m)
                except pykka.ActorDeadError:
                    pass
        return None

    def cleanup(self, reason: ExitReason) -> None:
        if self.abandoned:
            # The meta gave up on us and fenced the asset; a new tree may already trade.
            # Stop our own children, touch nothing shared (no fence, no cancel, no phase).
            super().cleanup(reason)
            return
        if reason != "normal":
            self.ctx.board.set_phase(self.ctx.asset, "failed")
            self._cancel_first(f"tree {reason}", fence=True)
        super().cleanup(reason)
        if reason == "normal":
            try:  # a last sweep: nothing of ours may stay on the venue
                self.ctx.gateway.cancel_all(self.ctx.asset, timeout=self.ctx.cfg.supervision.shutdown_timeout_s)
            except VenueUnavailable:
                pass
            self.ctx.board.set_phase(self.ctx.asset, "stopped")
