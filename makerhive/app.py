"""The hive: wires the venue runtime, the gateway, the venue and the supervision tree.

Start order: venue runtime (trio thread) with the venue service and the supervision
ticker -> meta-supervisor (which starts one asset tree per asset, each reconciling with
the venue before it quotes). Stop order (clean stop): the root supervisor first, so
order actors cancel through the still-running gateway and the venue confirms; then a
final sweep that no order is left; then the trio thread; then pykka's stop_all as a
safety net.

``lockstep=True`` (embedded sim only) runs the same hive deterministically and as fast
as it can work (``venues.lockstep``): the clock stands still until start-up is over
and while anything is in flight; ``wait_until`` stops it exactly at the time asked.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import pykka
import trio

from actors.context import AssetContext, LatencyRecorder
from actors.faults import ActorFaults
from actors.team import Team
from exchange_rules.cloid import session_epoch_base
from config import Config
from actors.status import StatusBoard
from makerhive import alerts
from makerhive.alerts import Alerter
from makerhive.journal import Journal
from makerhive.summary import build_summary
from messages.control import Ping, QueryQuarantined, Tick, Unquarantine
from supervisor.meta import MetaSupervisor
from venues import lockstep as lockstep_mod
from venues.dead_mans_switch import DeadMansSwitch
from venues.gateway import Gateway
from venues.runtime import VenueRuntime, VenueUnavailable
from venues.sim.venue import SimVenue

log = logging.getLogger(__name__)


def make_venue(cfg: Config, gateway: Gateway, seed: int, signer: Any = None):  # a VenueCore
    """The venue the config names: the embedded sim, the sim served by another process,
    or Hyperliquid (signing with ``signer``, else the key from the environment)."""
    if cfg.run.venue == "hyperliquid":
        from venues.hyperliquid.keys import load_private_key
        from venues.hyperliquid.signing import Signer
        from venues.hyperliquid.venue import HyperliquidVenue

        if signer is None:
            signer = Signer(load_private_key(cfg.venue.hyperliquid.key_file or None))
        return HyperliquidVenue(cfg, gateway, signer=signer)
    if cfg.run.venue == "remote-sim":
        from venues.remote.client import RemoteSimVenue

        return RemoteSimVenue(cfg, gateway)
    return SimVenue(cfg, gateway, seed=seed)


class Hive:
    def __init__(self, cfg: Config, *, speed: float | None = None, seed: int | None = None,
                 latency: LatencyRecorder | None = None, faults: ActorFaults | None = None,
                 signer: Any = None, lockstep: bool = False, journal: bool = True) -> None:
        if lockstep and cfg.run.venue != "sim":
            raise ValueError(f"lockstep runs the embedded sim only, not run.venue = {cfg.run.venue!r}")
        self.cfg = cfg
        self.speed = speed if speed is not None else cfg.run.speed
        self.seed = seed if seed is not None else cfg.run.seed
        self.assets = cfg.portfolio.assets
        self.board = StatusBoard(self.assets, venue=cfg.run.venue, speed=self.speed,
                                 capital=cfg.portfolio.capital_usd)
        self.teams = {a: Team(a) for a in self.assets}
        self.turnstile = lockstep_mod.Turnstile() if lockstep else None
        self.runtime = VenueRuntime(speed=self.speed, turnstile=self.turnstile)
        self.recorder = self.reoptimizer = None
        # a venue that outlives this process may still hold orders of the one before it
        epoch_base = 0 if cfg.run.venue == "sim" else session_epoch_base(time.time())
        if cfg.reoptimize.enabled:  # the run records its own market for the re-optimiser
            from makerhive.reoptimize_record import RecordingGateway, SelfRecorder, run_dir

            self.record_dir = run_dir(cfg, self.seed)
            self.recorder = SelfRecorder(self.record_dir, epoch_ms=0 if cfg.run.venue == "hyperliquid" else None)
            self.gateway = RecordingGateway(self.runtime, self.teams, self.board, recorder=self.recorder,
                                            epoch_base=epoch_base)
        else:
            self.gateway = Gateway(self.runtime, self.teams, self.board, epoch_base=epoch_base)
        if cfg.dead_mans_switch.enabled:  # no placement unless the venue would cancel it (venues/dead_mans_switch.py)
            self.gateway.dms = DeadMansSwitch(cfg.dead_mans_switch.window_s, cfg.dead_mans_switch.renew_every_s)
        self.venue = make_venue(cfg, self.gateway, self.seed, signer)
        self.latency = latency
        self.faults = faults if faults is not None else ActorFaults()
        self.meta: pykka.ActorRef | None = None
        self.contexts: dict[str, AssetContext] = {}
        self._wall_start = 0.0
        self.started_at = 0.0
        self.summary: dict[str, Any] | None = None
        self._events_out: BinaryIO | None = None  # the run's events file, open while it runs
        self._stopped = threading.Event()
        # the run's journal (makerhive.journal), fed by the actors, the board and our ticker
        self.journal = Journal.in_dir(cfg.run.journal_dir) if journal else None
        self._journal_snap_at = self._budgets_at = -1e18
        self.alerter: Alerter | None = None
        if cfg.alerts.enabled:
            alerts.check(cfg.alerts)
            self.alerter = Alerter(cfg.alerts, digest=lambda: alerts.digest_text(self.snapshot()))

    @property
    def allocation(self) -> dict[str, float]:
        """Each asset's capital as the meta-supervisor last granted it (its board figures)."""
        return dict(self.board.allocation)

    # -- start ---------------------------------------------------------------------------
    def start(self) -> None:
        self._wall_start = time.monotonic()
        self.runtime.add_service(self.venue.serve)
        if self.turnstile is not None:  # on the venue's grid, after its step and pushes
            self.venue.add_lockstep_timer(self.cfg.supervision.tick_s, self._tick)
        else:
            self.runtime.add_service(self._ticker)
        if self.turnstile is not None:
            lockstep_mod.activate(self.turnstile)  # every actor from now on takes turns
        try:
            self._start()
        except BaseException:
            self._end_lockstep()  # actors made later (another hive, a test) must not take turns
            raise

    def _start(self) -> None:
        self._open_events()
        if self.journal is not None:
            self.journal.start(kind="live", venue=self.cfg.run.venue, scope=self._journal_scope(), seed=self.seed,
                               assets=self.assets, capital_usd=self.cfg.portfolio.capital_usd)
            self.board.journal = self.journal
            self.board.journal_path = str(self.journal.path.resolve())
            self.journal.markout_observers.append(self.board.note_markout)
        if self.alerter is not None:
            self.board.alerts = self.alerter.start()
        self.runtime.start()
        self.started_at = self.runtime.now()  # a remote venue's clock may not start at 0
        self.contexts = contexts = {
            a: AssetContext(asset=a, cfg=self.cfg, gateway=self.gateway, team=self.teams[a],
                            board=self.board,
                            latency=self.latency, faults=self.faults, journal=self.journal)
            for a in self.assets
        }
        self.meta = MetaSupervisor.start(contexts, seed=self.seed, now=self.runtime.now())
        self.meta.ask(Ping(), timeout=60)
        if self.recorder is not None:
            from makerhive.reoptimize import Reoptimizer

            self.recorder.start()
            self.reoptimizer = Reoptimizer(self, self.record_dir)
            self.reoptimizer.start()
        if self.turnstile is not None:
            self._start_lockstep()

    def _start_lockstep(self, timeout: float = 60.0) -> None:
        """Start-up is over once every message it caused is handled: then time starts."""
        assert self.turnstile is not None
        deadline = time.monotonic() + timeout
        while not self.turnstile.start_sequencing():
            if time.monotonic() > deadline:
                raise RuntimeError("lockstep: the hive did not settle after start-up")
            time.sleep(0.001)
        clock = self.runtime.clock
        self.runtime.call(self.venue.start_lockstep)
        clock.held = False
        self.runtime.wake()  # its clock may move now

    async def _ticker(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        period = self.cfg.supervision.tick_s
        while True:
            await trio.sleep(period)
            self._tick()

    def _journal_scope(self) -> str | None:
        """Hyperliquid's trade ids are unique per exchange, so a restarted run that reads
        old fills again does not journal them twice; a sim starts afresh every run."""
        if self.cfg.run.venue != "hyperliquid":
            return None
        hl = self.cfg.venue.hyperliquid
        return f"hyperliquid:{hl.network}:{hl.account_address or ''}"

    def _journal_tick(self, now: float, every_s: float = 1.0) -> None:
        """Mids for the markouts every tick; positions and PnL once a second."""
        journal = self.journal
        if journal is None:
            return
        snap = now - self._journal_snap_at >= every_s
        if snap:
            self._journal_snap_at = now
        for a in self.assets:
            m = self.board.market.get(a)
            if m is not None:
                journal.mark(now, a, m.mid)
            if snap and a in self.board.risk:
                self._journal_position(now, a)

    def _journal_position(self, now: float, asset: str) -> None:
        assert self.journal is not None
        r = self.board.row(asset)
        self.journal.position(now, asset, position=r.inventory, mid=r.mid, inventory_usd=r.inventory_usd,
                              limit_usd=r.limit_usd, realized_pnl=r.realized_pnl, unrealized_pnl=r.unrealized_pnl,
                              fees=r.fees, funding=r.funding, net_pnl=r.net_pnl, capital=r.capital)

    def _publish_sim_budgets(self, now: float) -> None:
        """The embedded sim's address actions and IP weight, as a live venue publishes its own."""
        engine = getattr(self.venue, "engine", None)
        if engine is None or not hasattr(engine, "_request_cap"):
            return
        # update, not replace: the gateway's dead-man's-switch keys share this dict
        self.board.venue_status.update({
            "ip_weight_used": engine.ip_weight_used(now), "ip_weight_cap": engine.ip_weight_limit,
            "address_left": max(0, engine._request_cap() - engine._n_used), "address_cap": engine._request_cap()})

    def _tick(self) -> None:
        now = trio.current_time()
        if now - self._budgets_at >= 1.0:
            self._budgets_at = now
            self._publish_sim_budgets(now)
        self._journal_tick(now)
        meta = self.meta
        if meta is not None:
            try:
                meta.tell(Tick(trio.current_time()))
            except pykka.ActorDeadError:
                pass

    # -- while running ---------------------------------------------------------------------
    def sim_time(self) -> float:
        return self.runtime.now()

    def wall_time(self) -> float:
        return time.monotonic() - self._wall_start

    def _end_lockstep(self) -> None:
        if self.turnstile is not None:
            self.turnstile.release()
            self.runtime.clock.free()
            if lockstep_mod.active() is self.turnstile:
                lockstep_mod.activate(None)

    def wait_until(self, sim_seconds: float, stop: threading.Event | None = None,
                   poll: float = 0.05) -> bool:
        """Block until the runtime clock reaches ``sim_seconds`` (or ``stop`` is set). In
        lockstep the clock halts there, with everything due by then handled."""
        if self.turnstile is not None:
            self.run_to(sim_seconds)
            while not self.reached():
                if stop is not None and stop.is_set():
                    return False
                time.sleep(0.002)
            return True
        while self.sim_time() < sim_seconds:
            if stop is not None and stop.is_set():
                return False
            time.sleep(poll)
        return True

    def run_to(self, sim_seconds: float) -> None:
        """Lockstep: let the clock go on up to ``sim_seconds`` (it halts there)."""
        assert self.turnstile is not None, "run_to is for lockstep runs"
        self.runtime.clock.run_to(sim_seconds)
        self.runtime.wake()  # its clock may move on

    def reached(self) -> bool:
        """Lockstep: the clock halted at its limit with everything due by then handled."""
        return self.turnstile is not None and self.runtime.clock.parked and not self.turnstile.outstanding

    def command(self, words: list[str]) -> dict:
        """An operator command (from the control socket): ``status`` or ``unquarantine ASSET``."""
        if not words:
            return {"ok": False, "error": "empty command; try: status | unquarantine ASSET"}
        verb, args = words[0], words[1:]
        if verb == "status":
            snap = self.snapshot()
            return {"ok": True, "sim_time_s": snap.sim_time_s, "venue": snap.venue, "journal": snap.journal,
                    "assets": {r.asset: {"phase": r.phase, "net_pnl": r.net_pnl, "inventory": r.inventory,
                                         "capital": r.capital, "restarts": r.restarts,
                                         "inventory_usd": r.inventory_usd, "limit_usd": r.limit_usd,
                                         "our_bid": r.our_bid, "our_ask": r.our_ask,
                                         "own_spread_bp": r.own_spread_bp, "open_orders": r.open_orders,
                                         "fills": r.fills_buy + r.fills_sell, "guard": r.guard,
                                         "sweeps": r.sweeps}
                               for r in snap.assets}}
        if verb == "unquarantine" and len(args) == 1:
            asset = args[0].upper()
            if asset not in self.assets:
                return {"ok": False, "error": f"unknown asset {asset!r}; assets: {list(self.assets)}"}
            assert self.meta is not None
            quarantined = self.meta.ask(QueryQuarantined(), timeout=10)
            if asset not in quarantined:
                return {"ok": False, "error": f"{asset} is not quarantined (quarantined: {quarantined})"}
            self.meta.tell(Unquarantine(asset))
            return {"ok": True, "asset": asset, "text": f"{asset}: quarantine lifted, restarting"}
        if verb == "resume" and not args:
            from messages.allocation import ResumeTrading

            assert self.meta is not None
            self.meta.tell(ResumeTrading())
            return {"ok": True, "text": "portfolio drawdown stop lifted (if it held): quoting again"}
        if verb in ("reoptimize", "rollback-params") and not args:
            if self.reoptimizer is None:
                return {"ok": False, "error": "the re-optimiser is off ([reoptimize] enabled = false)"}
            return self.reoptimizer.force() if verb == "reoptimize" else self.reoptimizer.rollback()
        return {"ok": False, "error": f"unknown command {' '.join(words)!r}; try: status | unquarantine ASSET | resume "
                                      "| reoptimize | rollback-params"}

    def snapshot(self):  # ViewSnapshot
        return self.board.snapshot(self.sim_time(), self.wall_time())

    # -- stop ------------------------------------------------------------------------------
    def stop(self) -> dict[str, Any]:
        """Clean stop: cancel every order, wait for the venue, and build the summary."""
        if self.summary is not None:
            return self.summary
        self.board.stopping = True
        self.faults.release.set()  # no injected hang may hold up the stop
        self._end_lockstep()  # the stop needs blocking asks: no more turns, real time
        if self.reoptimizer is not None:
            self.reoptimizer.close()
        end_sim = self.sim_time() - self.started_at
        if self.meta is not None:
            try:
                self.meta.stop(block=True, timeout=60)
            except (pykka.Timeout, pykka.ActorDeadError):
                log.error("meta-supervisor did not stop in time")
        open_at_exit = self._sweep_open_orders()
        if self.cfg.dead_mans_switch.enabled:
            try:  # orders are gone: the switch has nothing left to protect
                self.gateway.schedule_cancel(None)
            except VenueUnavailable:
                pass
        venue_truth = self._venue_truth(open_at_exit)
        self.runtime.stop()
        if self.recorder is not None:
            self.recorder.close()
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
        self.summary = build_summary(self.cfg, self.board, venue_truth, self.allocation,
                                     sim_seconds=end_sim, wall_seconds=self.wall_time(),
                                     fenced=dict(self.gateway.refused))
        self.summary["portfolio"]["events_file"] = self._write_events()
        self.summary["portfolio"]["journal"] = self._close_journal()
        if self.alerter is not None:
            p = self.summary["portfolio"]
            self.alerter.close(final=f"{alerts.digest_text(self.snapshot())}\nstopped: {p['open_orders_at_exit']} "
                                     f"order(s) open at exit")
        self._stopped.set()
        return self.summary

    def abandon(self) -> None:
        """A hive that never started (the venue was unreachable): close what it opened."""
        if self.journal is not None:
            self.journal.close()
        if self.alerter is not None:
            self.alerter.close()

    def _close_journal(self) -> str | None:
        """The final positions as the summary marks them (at the venue's last mid), then
        everything on disk."""
        journal, summary = self.journal, self.summary
        if journal is None or journal.run_id == 0 or summary is None:
            return None
        end = max(self.started_at + summary["portfolio"]["sim_seconds"], self._journal_snap_at)
        for a, x in summary["assets"].items():
            mid = x["venue_mid"] or None
            journal.position(end, a, position=x["inventory"], mid=mid,
                             inventory_usd=x["inventory"] * mid if mid else None, limit_usd=x["limit_usd"],
                             realized_pnl=x["realized_pnl"], unrealized_pnl=x["unrealized_pnl"], fees=x["fees"],
                             funding=x["funding"], net_pnl=x["net_pnl"], capital=x["capital"])
        journal.close()
        if journal.dropped:
            log.warning("journal: %d row(s) dropped (queue full)", journal.dropped)
        return str(journal.path.resolve())

    def _open_events(self) -> None:
        """The run's record: every event (failures, restarts, escalations, quarantines,
        fencing refusals, halts, rejects) as one JSON object a line, written as it
        happens, so a run of weeks keeps only the latest in memory."""
        try:
            out = Path(self.cfg.run.journal_dir)
            out.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            self._events_out = open(out / f"events-{stamp}-seed{self.seed}.jsonl", "wb")
        except OSError as e:
            log.error("could not open the run's events file: %s", e)
            return
        self.board.event_sink = self._record_event

    def _record_event(self, ev: Any) -> None:
        out = self._events_out
        if out is None:
            return
        try:
            out.write(msgspec.json.encode(ev) + b"\n")
        except (OSError, ValueError) as e:  # a full disk must not take the caller down
            log.error("could not record an event: %s", e)
            self.board.event_sink = None

    def _write_events(self) -> str | None:
        """Close the events file; its path, or None if it could not be written."""
        out = self._events_out
        if out is None:
            return None
        with self.board._lock:
            self.board.event_sink = None
        try:
            out.close()
            return str(Path(out.name).resolve())
        except OSError as e:
            log.error("could not write the run's events: %s", e)
            return None

    def _venue_truth(self, open_at_exit: dict[str, int]) -> dict[str, dict[str, float]]:
        """What the venue says at exit, per asset: the figures the summary is checked by."""
        truth: dict[str, dict[str, float]] = {}
        for a in self.assets:
            try:
                snap = self.gateway.snapshot(a, since_ts=1e18)  # no fills needed
            except VenueUnavailable:
                truth[a] = {"open_orders": open_at_exit.get(a, -1)}
                continue
            truth[a] = {"open_orders": len(snap.open_orders), "position": snap.position, "mid": snap.mid,
                        "cash": snap.cash, "pnl": snap.cash + snap.position * snap.mid}
        return truth

    def _sweep_open_orders(self, attempts: int = 3) -> dict[str, int]:
        """Make sure nothing of ours rests on the venue; returns what is left per asset."""
        left: dict[str, int] = {}
        for a in self.assets:
            for _ in range(attempts):
                try:
                    n = len(self.gateway.open_orders(a))
                    if n == 0:
                        break
                    self.board.event(self.sim_time(), "cancel_all", a, f"exit sweep: {n} order(s) still open")
                    self.gateway.cancel_all(a)
                except VenueUnavailable:
                    n = -1
                    break
            else:
                try:
                    n = len(self.gateway.open_orders(a))
                except VenueUnavailable:
                    n = -1
            left[a] = max(n, 0) if n >= 0 else -1
        return {a: n for a, n in left.items() if n >= 0}
