"""MetaSupervisor: the root. One AssetSupervisor per asset, capital, tree restarts.

An asset tree that gives up (restart intensity exceeded) has already cancelled its
orders on the way down; the meta cancels once more (cheap, and the venue is the truth),
then restarts the tree after an exponential backoff with jitter, so a failing asset
never takes the others down and never restarts in a tight loop.

Money: capital starts as an equal share per trading asset. The assets' risk actors
report (``PerformanceReport``, ``ExposureReport``, through their asset supervisors);
``supervisor.capital.CapitalCore`` decides, on the timer, the allocation (score, zone,
multipliers, capital steps) and the portfolio limits (exposure cap, drawdown stop), and
this actor only routes its decisions: ``AllocationUpdate`` and ``PortfolioGate`` down
to the trees, cancel-alls to the venue, events to the board. Assets past
``portfolio.max_concurrent_assets`` wait on standby; a quarantine hands the asset's
slot and capital on.
"""
from __future__ import annotations

import logging
import random
from typing import Any, Callable

import pykka

from actors.base import Liveness
from actors.context import AssetContext
from messages.allocation import ExposureReport, PerformanceReport, ResumeTrading
from messages.control import ExitReason, QueryQuarantined, Tick, Unquarantine
from supervisor.asset import AssetSupervisor
from supervisor.capital import CapitalCore, Decisions
from supervisor.policy import backoff_delay
from supervisor.supervisor import ChildSpec, StartFailed, Supervisor
from venues.dead_mans_switch import actions_per_day

log = logging.getLogger(__name__)


class MetaSupervisor(Supervisor):
    def __init__(self, contexts: dict[str, AssetContext], *, parent: pykka.ActorRef | None = None,
                 child_id: str = "meta", epoch: int = 1, seed: int = 0,
                 now: float = 0.0,
                 on_event: Callable[..., None] | None = None) -> None:
        self.contexts = contexts
        any_ctx = next(iter(contexts.values()))
        self.cfg = any_ctx.cfg
        self.board = any_ctx.board
        self.money = CapitalCore(self.cfg, now, tuple(contexts))
        for a in contexts:  # the board shows it; the trees hear it as messages
            self.board.allocation[a] = self.money.capital(a)
        self._board_at = -1e18
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

    def _starter(self, asset: str) -> Callable[[pykka.ActorRef, str, int, Liveness], pykka.ActorRef]:
        def start(parent: pykka.ActorRef, cid: str, epoch: int, lv: Liveness) -> pykka.ActorRef:
            # the tree starts with the current grant and gate: a new risk actor hears them
            # before its order actor and quoter exist (a portfolio halt holds from the start)
            return AssetSupervisor.start(self.contexts[asset], parent=parent, child_id=cid,
                                         epoch=epoch, liveness=lv, now=self.now,
                                         grant=self.money.update(asset, self.now),
                                         gate=self.money.gate(asset, self.now))
        return start

    def init(self) -> None:
        # Each tree starts on its own: one asset that cannot start must not stop the others.
        for cid in self.order:
            if self.money.state(cid) == "standby":
                self.board.set_phase(cid, "standby")
                self.board.event(self.now, "standby", cid, f"on standby: at most "
                                 f"{self.cfg.portfolio.max_concurrent_assets} assets trade at once")
                continue
            try:
                self._start(cid)
            except StartFailed as e:
                self._schedule(cid, f"start failed: {e}")

    def handle(self, msg: Any) -> Any:
        """The root never dies of its own handler: an unexpected error is shown and kept
        in the run's record, and the root carries on supervising the other assets."""
        try:
            if isinstance(msg, ExposureReport):
                self.money.on_exposure(msg)
                return None
            if isinstance(msg, PerformanceReport):
                self.money.on_report(msg)
                return None
            if isinstance(msg, ResumeTrading):
                self._route(self.money.resume(self.now))
                return None
            if isinstance(msg, Unquarantine):
                self._unquarantine(msg.asset)
                return None
            if isinstance(msg, QueryQuarantined):
                return sorted(self.quarantined)
            return super().handle(msg)
        except Exception as e:  # see docstring
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
            except Exception:  # the venue thread is down: nothing can trade anyway
                log.exception("could not fence %s", cid)
        gateway.cancel_all_soon(cid)
        self._tree_failed(cid, reason)

    def _tree_failed(self, cid: str, reason: str) -> None:
        """A tree failure (one that gave up, or a restart that could not start) counts toward
        quarantine: an asset that cannot start is not retried for ever on capital it holds."""
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
        self._route(self.money.quarantine(cid, self.now))

    def _unquarantine(self, cid: str) -> None:
        if cid not in self.quarantined:
            self.board.event(self.now, "info", cid, "not quarantined: nothing to lift")
            return
        self.quarantined.discard(cid)
        self.failure_times[cid] = []
        self.failures[cid] = 0
        decisions = self.money.restore(cid, self.now)
        if cid in decisions.park:
            self.board.event(self.now, "unquarantine", cid, "quarantine lifted by the operator: on standby")
        else:
            self.board.event(self.now, "unquarantine", cid, "quarantine lifted by the operator: restarting")
            self.board.set_phase(cid, "restarting")
            self.due[cid] = self.now  # at the next tick
        self._route(decisions)

    # -- money -------------------------------------------------------------------------------
    def _route(self, d: Decisions) -> None:
        """Carry out what the capital core decided: events, cancels, grants, gates, starts."""
        for kind, asset, text in d.events:
            self.board.event(self.now, kind, asset, text)
        for a in d.cancel_all:  # the drawdown stop: every order goes, through the venue directly
            self.contexts[a].gateway.cancel_all_soon(a)
        for u in d.updates:
            self.board.allocation[u.asset] = u.base
            self.tell_child(u.asset, u)
        for g in d.gates:
            self.tell_child(g.asset, g)
        for a in d.start:  # promoted from standby into a freed slot
            self.board.event(self.now, "restart", a, "a slot is free: starting from standby")
            self.board.set_phase(a, "restarting")
            self.due[a] = self.now
        for a in d.park:
            self.board.set_phase(a, "standby")
        if d:
            self._publish_money(force=True)

    def _publish_money(self, force: bool = False) -> None:
        """The allocation panel's figures, about once a second (observability only)."""
        if not force and self.now - self._board_at < 1.0:
            return
        self._board_at = self.now
        self.board.set_money(self.money.views(), self.money.portfolio_view())

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
            if a in self.quarantined or self.money.state(a) == "standby":
                continue
            if a not in self.children or a in self.due:
                return False
            if self.board.phase.get(a) in ("starting", "reconciling", "restarting", "failed"):
                return False
        return True

    def _renew_dead_mans_switch(self) -> None:
        """Renewed while this (the root) ticks, whatever one asset's recovery is doing:
        a recovering asset has cancelled its own orders first, and pausing the switch
        would fire it for every asset and spend one of the day's firings."""
        dms = self.cfg.dead_mans_switch
        if not dms.enabled:
            return
        gateway = next(iter(self.contexts.values())).gateway
        if self.now - self._dms_renewed >= dms.renew_every_s:
            if self._dms_renewed < 0:
                self.board.event(self.now, "info", "*", f"dead-man's switch armed: the venue cancels every "
                                                        f"order if not renewed within {dms.window_s:g}s "
                                                        f"({actions_per_day(dms.renew_every_s):.0f} address actions a day)")
            self._dms_renewed = self.now
            gateway.schedule_cancel_soon(self.now + dms.window_s)
        gateway.check_dead_mans_switch_soon()

    def on_tick(self, tick: Tick) -> None:
        super().on_tick(tick)
        self._route(self.money.on_tick(self.now))
        self._publish_money()
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
                    self._tree_failed(cid, f"restart failed: {e}")
