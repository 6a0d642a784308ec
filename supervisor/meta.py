"""MetaSupervisor: the root. One AssetSupervisor per asset, capital, tree restarts.

An asset tree that gives up (restart intensity exceeded) has already cancelled its
orders on the way down; the meta cancels once more (cheap, and the venue is the truth),
then restarts the tree after an exponential backoff with jitter, so a failing asset
never takes the others down and never restarts in a tight loop. Capital starts as an
equal share per asset.
"""
from __future__ import annotations

import logging
import random
from typing import Any, Callable

import pykka

from actors.base import Liveness
from actors.context import AssetContext
from messages.control import ExitReason, QueryQuarantined, Tick, Unquarantine
from messages.risk import Allocation
from supervisor.asset import AssetSupervisor
from supervisor.policy import backoff_delay
from supervisor.supervisor import ChildSpec, StartFailed, Supervisor

log = logging.getLogger(__name__)


class MetaSupervisor(Supervisor):
    def __init__(self, contexts: dict[str, AssetContext], *, parent: pykka.ActorRef | None = None,
                 child_id: str = "meta", epoch: int = 1, seed: int = 0,
                 allocation: dict[str, float] | None = None, now: float = 0.0,
                 on_event: Callable[..., None] | None = None) -> None:
        self.contexts = contexts
        any_ctx = next(iter(contexts.values()))
        self.cfg = any_ctx.cfg
        self.board = any_ctx.board
        self.allocation = allocation if allocation is not None else {}
        share = self.cfg.portfolio.capital_usd / len(contexts)
        for a in contexts:
            self.allocation.setdefault(a, share)
            self.board.allocation[a] = self.allocation[a]
        sup = self.cfg.supervision
        specs = [ChildSpec(a, self._starter(a), restart="permanent",
                           shutdown_timeout=4 * (sup.shutdown_timeout_s + 1),
                           max_handler_s=sup.tree_handler_budget_s)
                 for a in contexts]
        super().__init__(parent=parent, child_id=child_id, epoch=epoch, specs=specs,
                         strategy="one_for_one", intensity=10**9, period=1.0,
                         start_timeout=4 * sup.start_timeout_s, now=now,
                         on_event=on_event or (lambda ts, kind, text: self.board.event(ts, kind, "*", text)),
                         faults=any_ctx.faults, fault_key="*", fault_role="meta")
        self.rng = random.Random(seed)
        self.failures: dict[str, int] = {a: 0 for a in contexts}
        self.failure_times: dict[str, list[float]] = {a: [] for a in contexts}
        self.due: dict[str, float] = {}
        self.quarantined: set[str] = set()
        self._dms_renewed = -1e18
        self._dms_paused = False

    def _starter(self, asset: str) -> Callable[[pykka.ActorRef, str, int, Liveness], pykka.ActorRef]:
        def start(parent: pykka.ActorRef, cid: str, epoch: int, lv: Liveness) -> pykka.ActorRef:
            return AssetSupervisor.start(self.contexts[asset], parent=parent, child_id=cid,
                                         epoch=epoch, liveness=lv, now=self.now)
        return start

    def init(self) -> None:
        # Each tree starts on its own: one asset that cannot start must not stop the others.
        for cid in self.order:
            try:
                self._start(cid)
            except StartFailed as e:
                self._schedule(cid, f"start failed: {e}")

    def handle(self, msg: Any) -> Any:
        """The root never dies of its own handler: an unexpected error is shown and kept
        in the run's record, and the root carries on supervising the other assets."""
        try:
            if isinstance(msg, Unquarantine):
                self._unquarantine(msg.asset)
                return None
            if isinstance(msg, QueryQuarantined):
                return sorted(self.quarantined)
            return super().handle(msg)
        except Exception as e:  # noqa: BLE001 - see docstring
            log.exception("meta-supervisor: error handling %s", type(msg).__name__)
            self.board.count("root_errors")
            self.board.event(self.now, "failure", "*", f"meta-supervisor error (kept running): {e!r}"[:200])
            return None

    def on_child_failure(self, cid: str, reason: ExitReason) -> None:
        self._abandon(cid)
        gateway = self.contexts[cid].gateway
        if reason == "hung":  # its children may still be alive: fence them off the venue
            try:
                gateway.new_epoch(cid)
            except Exception:  # noqa: BLE001 - the venue thread is down: nothing can trade anyway
                log.exception("could not fence %s", cid)
        gateway.cancel_all_soon(cid)
        sup = self.cfg.supervision
        times = [t for t in self.failure_times[cid] if t > self.now - sup.quarantine_window_s] + [self.now]
        self.failure_times[cid] = times
        if len(times) >= sup.quarantine_after:
            self._quarantine(cid, f"{len(times)} tree failures within {sup.quarantine_window_s:g}s")
        else:
            self._schedule(cid, reason)

    # -- quarantine --------------------------------------------------------------------------
    def _quarantine(self, cid: str, why: str) -> None:
        """Stop retrying an asset: its orders are cancelled, its capital goes to the others."""
        self.quarantined.add(cid)
        self.due.pop(cid, None)
        self.board.set_phase(cid, "quarantined")
        self.board.event(self.now, "quarantine", cid,
                         f"quarantined after {why}; capital released to the other assets. "
                         f"Lift with: makerhive unquarantine {cid}")
        self._reallocate()

    def _unquarantine(self, cid: str) -> None:
        if cid not in self.quarantined:
            self.board.event(self.now, "info", cid, "not quarantined: nothing to lift")
            return
        self.quarantined.discard(cid)
        self.failure_times[cid] = []
        self.failures[cid] = 0
        self.board.event(self.now, "unquarantine", cid, "quarantine lifted by the operator: restarting")
        self._reallocate()
        self.board.set_phase(cid, "restarting")
        self.due[cid] = self.now  # at the next tick

    def _reallocate(self) -> None:
        """Equal shares among the assets not quarantined (issue 6 refines the rule)."""
        healthy = [a for a in self.order if a not in self.quarantined]
        share = self.cfg.portfolio.capital_usd / len(healthy) if healthy else 0.0
        for a in self.order:
            new = share if a in healthy else 0.0
            if abs(self.allocation.get(a, 0.0) - new) > 1e-9:
                self.allocation[a] = new
                self.board.allocation[a] = new
                self.board.event(self.now, "allocation", a, f"capital now ${new:,.0f}")
                self.tell_child(a, Allocation(a, self.now, new))

    def _schedule(self, cid: str, why: str) -> None:
        sup = self.cfg.supervision
        delay = backoff_delay(self.failures[cid], sup.tree_backoff_s, sup.tree_backoff_max_s, 0.2, self.rng)
        self.failures[cid] += 1
        self.due[cid] = self.now + delay
        self.board.set_phase(cid, "failed")
        self.board.event(self.now, "escalation", cid, f"asset tree gave up ({why}); restarting in {delay:.1f}s")

    def healthy(self) -> bool:
        """Every asset tree that should run is up and not recovering (quarantined assets
        hold no orders and do not count)."""
        for a in self.order:
            if a in self.quarantined:
                continue
            if a not in self.children or a in self.due:
                return False
            if self.board.phase.get(a) in ("starting", "reconciling", "restarting", "failed"):
                return False
        return True

    def _renew_dead_mans_switch(self) -> None:
        dms = self.cfg.dead_mans_switch
        if not dms.enabled:
            return
        gateway = next(iter(self.contexts.values())).gateway
        if not self.healthy():
            if not self._dms_paused and gateway.dms_at is not None:
                self._dms_paused = True
                self.board.event(self.now, "info", "*", "dead-man's switch not renewed while a tree recovers")
            return
        if self._dms_paused:
            self._dms_paused = False
            self.board.event(self.now, "info", "*", "all trees healthy: dead-man's switch renewed again")
        if self.now - self._dms_renewed >= dms.renew_every_s:
            if self._dms_renewed < 0:
                self.board.event(self.now, "info", "*", f"dead-man's switch armed: the venue cancels every "
                                                        f"order if not renewed within {dms.window_s:g}s")
            self._dms_renewed = self.now
            gateway.schedule_cancel_soon(self.now + dms.window_s)

    def on_tick(self, tick: Tick) -> None:
        super().on_tick(tick)
        self._renew_dead_mans_switch()
        for cid in self.order:
            self.tell_child(cid, tick)
        for cid, due in sorted(self.due.items()):
            if tick.now >= due:
                del self.due[cid]
                try:
                    self._start(cid)
                    self.board.restarts[cid] = self.board.restarts.get(cid, 0) + 1
                    self.board.event(self.now, "restart", cid, "asset tree restarted")
                except StartFailed as e:
                    self._schedule(cid, f"restart failed: {e}")
