"""The chaos run: the five-asset hive on the sim while faults of every kind land at
random times on random assets, with the invariants checked at every recovery point.

``makerhive chaos --seed N --faults K --duration S [--speed X] [--summary-json PATH]``
prints a report and exits non-zero if any invariant broke: an orphaned order, a
position that does not match the venue, a lost or double-counted fill, an inventory
beyond its limit (plus one order in flight), or a dead root.
"""
from __future__ import annotations

import bisect
import math
import random
import threading
import time
from collections import Counter
from typing import Any, Callable

import msgspec
import numpy as np
import pykka
import trio

from makerhive import invariants as inv
from makerhive.app import Hive
from config import Config
from messages.control import Crash
from messages.market import BookSnapshot, Level

ROLES = ("book", "risk", "order", "quoter")
ACTOR_FAULTS = tuple(f"crash_{r}" for r in ROLES) + ("crash_supervisor",) + tuple(
    f"start_fail_{r}" for r in ROLES) + tuple(f"hang_{r}" for r in ("book", "quoter", "risk")) + tuple(
    f"slow_{r}" for r in ROLES)
VENUE_FAULTS = ("feed_disconnect", "feed_stall", "reject_burst", "throttle", "request_failures",
                "delayed_acks", "drop_fills", "duplicate_fills", "reorder_fills", "partial_fills",
                "lost_answers", "clock_jump", "nan_book", "crossed_book", "stale_book", "price_gap",
                "dms_failure", "budget_exhaustion", "exchange_cancels")
FAULT_KINDS = ACTOR_FAULTS + VENUE_FAULTS


class Chaos:
    """Injects faults into a running hive; every kind is a method of one line or two."""

    def __init__(self, hive: Hive, rng: random.Random) -> None:
        self.hive = hive
        self.rng = rng
        sup = hive.cfg.supervision
        self.budget = sup.handler_budget_s

    def inject(self, kind: str, asset: str) -> None:
        if kind.startswith(("crash_", "hang_", "slow_")):
            getattr(self, "_" + kind.split("_", 1)[0])(kind, asset)
        elif kind.startswith("start_fail_"):
            self._start_fail(asset, kind.removeprefix("start_fail_"))
        else:
            getattr(self, "_" + kind)(kind, asset)

    # -- actors ----------------------------------------------------------------------------
    def _tell(self, asset: str, role: str, msg: Any) -> None:
        ref = self.hive.contexts[asset].supervisor if role == "supervisor" else self.hive.teams[asset].get(role)
        if ref is not None:
            try:
                ref.tell(msg)
            except Exception:  # it died on its own meanwhile: fine
                pass

    def _crash(self, kind: str, asset: str) -> None:
        self._tell(asset, kind.split("_", 1)[1], Crash(detail=f"chaos: {kind}"))

    def _start_fail(self, asset: str, role: str) -> None:
        self.hive.faults.arm(asset, role, "start")
        self._tell(asset, role, Crash(detail="chaos: crash, then fail the restart"))

    def _hang(self, kind: str, asset: str) -> None:
        self.hive.faults.arm(asset, kind.split("_", 1)[1], "hang", seconds=3 * self.budget)

    def _slow(self, kind: str, asset: str) -> None:
        self.hive.faults.arm(asset, kind.split("_", 1)[1], "slow", seconds=0.2 * self.budget)

    # -- the venue -------------------------------------------------------------------------
    def _venue(self, fn: Callable[[], Any]) -> None:
        self.hive.runtime.call(fn)

    def _feed_disconnect(self, kind: str, asset: str) -> None:
        self._venue(lambda: self.hive.venue.disconnect(asset, self.rng.uniform(1.0, 5.0)))

    def _feed_stall(self, kind: str, asset: str) -> None:
        venue = self.hive.venue
        self._venue(lambda: venue.wire.stall(asset, self.hive.sim_time(), self.rng.uniform(2.0, 6.0)))

    def _delayed_acks(self, kind: str, asset: str) -> None:
        venue = self.hive.venue
        self._venue(lambda: venue.wire.delay_acks(asset, self.hive.sim_time(), 3.0, self.rng.uniform(0.2, 1.0)))

    def _drop_fills(self, kind: str, asset: str) -> None:
        self._venue(lambda: self.hive.venue.wire.drop_fills(asset, self.rng.randint(1, 3)))

    def _duplicate_fills(self, kind: str, asset: str) -> None:
        self._venue(lambda: self.hive.venue.wire.duplicate_fills(asset, self.rng.randint(1, 3)))

    def _reorder_fills(self, kind: str, asset: str) -> None:
        self._venue(lambda: self.hive.venue.wire.reorder_fills(asset, self.rng.randint(1, 3)))

    def _reject_burst(self, kind: str, asset: str) -> None:
        faults = self.hive.venue.engine.faults
        self._venue(lambda: faults.reject_next(asset, self.rng.randint(3, 12), "Insufficient margin to place order."))

    def _throttle(self, kind: str, asset: str) -> None:
        faults = self.hive.venue.engine.faults
        self._venue(lambda: faults.throttle(asset, self.rng.randint(2, 6)))

    def _request_failures(self, kind: str, asset: str) -> None:
        faults = self.hive.venue.engine.faults
        self._venue(lambda: faults.fail_requests(asset, self.rng.randint(1, 4)))

    def _partial_fills(self, kind: str, asset: str) -> None:
        faults = self.hive.venue.engine.faults
        self._venue(lambda: faults.partial_fills(asset, self.rng.choice((0.25, 0.5))))

    def _lost_answers(self, kind: str, asset: str) -> None:
        """Requests the venue executes whose answers never come back."""
        self._venue(lambda: self.hive.venue.wire.lose_answers(asset, self.rng.randint(1, 3)))

    def _clock_jump(self, kind: str, asset: str) -> None:
        """The clock leaps forward (a suspended VM, an NTP step): timers all fire at once."""
        dt = self.rng.uniform(1.0, 4.0)
        self._venue(lambda: trio.lowlevel.current_clock().jump(dt))

    def _bad_book(self, asset: str, make: Callable[[BookSnapshot], BookSnapshot]) -> None:
        venue = self.hive.venue

        def go() -> None:
            now = trio.lowlevel.current_clock().current_time()
            venue._seq += 1
            venue.inject_book(make(venue.engine.book_snapshot(asset, now, venue._seq)))
        self._venue(go)

    def _nan_book(self, kind: str, asset: str) -> None:
        def nan(b: BookSnapshot) -> BookSnapshot:
            bids = (Level(math.nan, b.bids[0].sz),) + b.bids[1:] if b.bids else (Level(math.nan, 1.0),)
            return msgspec.structs.replace(b, bids=bids)
        self._bad_book(asset, nan)

    def _crossed_book(self, kind: str, asset: str) -> None:
        self._bad_book(asset, lambda b: msgspec.structs.replace(b, bids=b.asks, asks=b.bids))

    def _stale_book(self, kind: str, asset: str) -> None:
        """An old book arriving late: older time, older sequence number."""
        self._bad_book(asset, lambda b: msgspec.structs.replace(b, ts=b.ts - 30.0, seq=max(0, b.seq - 50)))

    def _price_gap(self, kind: str, asset: str) -> None:
        """One book several percent away from the market, then the market again."""
        g = self.rng.choice((-1, 1)) * self.rng.uniform(0.03, 0.08)

        def gap(b: BookSnapshot) -> BookSnapshot:
            move = lambda lv: Level(lv.px * (1 + g), lv.sz)  # noqa: E731
            return msgspec.structs.replace(b, bids=tuple(map(move, b.bids)), asks=tuple(map(move, b.asks)))
        self._bad_book(asset, gap)

    def _dms_failure(self, kind: str, asset: str) -> None:
        """The venue refuses the dead-man's switch's next renewals: the hive must stop quoting."""
        faults = self.hive.venue.engine.faults
        n = self.rng.randint(1, 2)
        self._venue(lambda: faults.refuse_schedule_cancel(n, "Too many cancels scheduled today (chaos)"))

    def _budget_exhaustion(self, kind: str, asset: str) -> None:
        """The account's address budget runs dry for a while: every asset's batches are refused."""
        faults = self.hive.venue.engine.faults
        n = self.rng.randint(2, 6)
        self._venue(lambda: [faults.throttle(a, n) for a in self.hive.assets])

    def _exchange_cancels(self, kind: str, asset: str) -> None:
        """The exchange cancels our resting orders on its own (margin, delisting, self-trade)."""
        self._venue(lambda: self.hive.venue.exchange_cancel(asset, self.rng.choice(
            ("marginCanceled", "reduceOnlyCanceled", "selfTradeCanceled"))))


def _pct(values: list[float], q: float) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return round(float(np.percentile(vals, q)), 3) if vals else 0.0


def run_chaos(cfg: Config, *, seed: int, faults: int, duration: float, speed: float,
              kinds: tuple[str, ...] = FAULT_KINDS, progress: Callable[[float, int], None] | None = None) -> dict:
    """A chaos run; ``progress(sim_s, faults_done)`` hears how far it got after each fault."""
    rng = random.Random(seed)
    hive = Hive(cfg, speed=speed, seed=seed)
    hive.board.keep_record = CHAOS_KEEP_RECORD  # the slowest recoveries' events, from any time in the run
    chaos = Chaos(hive, rng)
    assets = hive.assets
    report: dict[str, Any] = {"seed": seed, "duration_s": duration, "speed": speed}
    violations: Counter[str] = Counter()
    mismatch_details: list[dict[str, Any]] = []  # what each position mismatch looked like
    harness_errors: Counter[str] = Counter()
    loop = FaultLoop(hive, chaos.inject,
                     lambda pending: _check_recovered(hive, pending, violations, details=mismatch_details),
                     harness_errors)
    pending = loop.pending
    hive.start()
    sampler = _NotQuoting(hive)
    try:
        _wait(lambda: all(hive.board.phase[a] == "quoting" for a in assets), 30.0)
        sampler.start()
        schedule = fault_schedule(rng, faults, duration, kinds, assets)
        loop.run(schedule, after=None if progress is None else lambda i: progress(hive.sim_time(), i + 1))
        hive.wait_until(duration)
        if progress is not None:
            progress(duration, len(schedule))
        hive.faults.release.set()  # let any still-hung handler go before the final look
        _wait(lambda: all(hive.board.phase[a] in ("quoting", "quarantined") for a in assets), 60.0)
        for a in assets:
            pending[a] = "final"
        try:
            _check_recovered(hive, pending, violations, wait=True, details=mismatch_details)
        except Exception as e:
            harness_errors[type(e).__name__] += 1
        root_alive = hive.meta is not None and hive.meta.is_alive()
    finally:
        sampler.stop()
        summary = hive.stop()
    # after the stop, like the summary's counts: fills that raced the final cancels are in both
    digests = {a: hive.board.risk[a].fills_digest for a in assets if a in hive.board.risk}
    engine = hive.venue.engine
    lost = dup = mismatches = breaches = identity = 0
    for a, s in summary["assets"].items():
        venue_fills = engine.fill_count(a)
        venue_digest = engine.fills_digest(a)  # by identity: trade id, size and price, not by count
        if digests.get(a, venue_digest) != venue_digest:
            identity += 1
        counted = s["fills_buy"] + s["fills_sell"]
        lost += max(0, venue_fills - counted)
        dup += max(0, counted - venue_fills)
        if abs(s["inventory"] - engine.position(a)) > 1e-9:
            mismatches += 1
            mismatch_details.append({"asset": a, "where": "exit", "risk_position": s["inventory"],
                                     "risk_fills": counted, "venue_position": engine.position(a),
                                     "venue_fills": venue_fills})
        if inv.limit_breached(s, inv.max_order_usd(hive, a)):
            breaches += 1
    injected, injections = loop.injected, loop.injections
    recs = hive.board.recoveries
    cancel_ms = [r.cancel_ms for r in recs]
    requote_ms = [r.requote_ms for r in recs]
    by_kind: dict[str, list[float]] = {}
    for r in recs:  # the fault behind a recovery: the last one injected on that asset before it
        cause = next((k for ns, a, k in reversed(injections) if a == r.asset and ns <= r.fail_ns), "unknown")
        by_kind.setdefault(cause, []).append(r.requote_ms)
    report.update({
        "faults_injected": sum(injected.values()),
        "faults_skipped_quarantined": loop.skipped,
        "faults_by_kind": dict(sorted(injected.items())),
        "recoveries": len(recs),
        "orphan_orders": violations["orphan_orders"] + summary["portfolio"]["open_orders_at_exit"],
        "position_mismatches": violations["position_mismatches"] + mismatches,
        "position_mismatch_details": mismatch_details,
        "lost_fills": lost,
        "duplicate_fills": dup,
        "limit_breaches": breaches,
        "root_failures": int(not root_alive) + hive.board.counters["root_errors"],
        "quarantines": hive.board.counters["quarantine"],
        "quarantines_lifted": loop.lifts,
        "cancel_ms_p50": _pct(cancel_ms, 50), "cancel_ms_p99": _pct(cancel_ms, 99),
        "cancel_ms_max": _pct(cancel_ms, 100),
        "requote_ms_p50": _pct(requote_ms, 50), "requote_ms_p99": _pct(requote_ms, 99),
        "requote_ms_max": _pct(requote_ms, 100),
        "requote_ms_max_by_kind": {k: round(max(v), 1) for k, v in sorted(by_kind.items())},
        "fill_identity_mismatches": identity,
        **sampler.recovery_report(recs, injections, hive.board.events, cfg.supervision.handler_budget_s + 0.1),
        "bad_input_dropped": hive.venue.edge.bad_input,
        "dms_quoting_stops": hive.board.counters["dms_quoting_stops"],
        "harness_errors": dict(harness_errors),
        "fenced_commands": sum(hive.gateway.refused.values()),
        "fills": summary["portfolio"]["fills"],
        "net_pnl": summary["portfolio"]["net_pnl"],
    })
    report["invariants_ok"] = all(report[k] == 0 for k in INVARIANTS)
    return report


SLOWEST_SHOWN = 5
CHAOS_KEEP_RECORD = 200_000  # events kept in memory during a chaos run (a bounded run: the summary reads them)


def _slowest(recs: list[Any], injections: list[tuple[int, str, str]], sampler: "_NotQuoting",
             events: Any, lookback_s: float) -> list[dict[str, Any]]:
    """The recoveries behind ``recovery_ms_p99``'s tail, slowest first: each with the faults
    injected on its asset from ``lookback_s`` before the failure to its end (a hang's
    recovery is timed from its declaration, a handler budget after it began), and the
    asset's board events in that span, so a slow one can be told apart (stacked faults, a
    start-up failure, a hang waited out)."""
    counted = sorted((r for r in recs if not sampler.deliberate(r)), key=lambda r: -sampler.recovery_ms(r))
    out = []
    for r in counted[:SLOWEST_SHOWN]:
        lo, hi = r.fail_ns - int(lookback_s * 1e9), r.quoting_ns
        t_lo, t_hi = sampler.sim_at(lo), sampler.sim_at(hi)
        out.append({
            "asset": r.asset, "ms": round(sampler.recovery_ms(r), 1), "not_quoting_ms": round(r.requote_ms, 1),
            "sim_s": [round(sampler.sim_at(r.fail_ns), 2), round(t_hi, 2)], "phases_ms": sampler.phases_ms(r),
            "faults": [k for ns, a, k in injections if a == r.asset and lo <= ns <= hi],
            "events": [f"{e.ts:.1f} {e.kind}: {e.text}" for e in events
                       if e.asset == r.asset and t_lo <= e.ts <= t_hi][:12],
        })
    return out


INVARIANTS = ("orphan_orders", "position_mismatches", "lost_fills", "duplicate_fills", "limit_breaches",
              "root_failures", "fill_identity_mismatches")


SAMPLE_S = 0.02  # real seconds between looks at every asset's phase
# not quoting by design, each reported by cause; ``injected_delay``: a recovery waiting on
# a live actor the run itself made hang or run slow (a fault stacked on the recovery)
HELD_BACK = ("stale_feed", "dead_mans_switch", "halt", "injected_delay")


class _NotQuoting(threading.Thread):
    """Samples why each asset is not quoting (recovery, backoff, quarantine, breaker or
    halt, the dead-man's switch, a stale feed) and when the tree sat in backoff or
    quarantine, so recoveries can be told from deliberate pauses."""

    def __init__(self, hive: Hive) -> None:
        super().__init__(name="chaos-sampler", daemon=True)
        self.hive = hive
        self.seconds: Counter[str] = Counter()
        self.paused_ns: dict[str, list[int]] = {a: [] for a in hive.assets}  # samples in backoff/quarantine
        # looks that found the asset held back by a cause of its own (a stale feed, the
        # dead-man's switch, a halt): (ns, ns since the previous look)
        self.held_ns: dict[str, list[tuple[int, int]]] = {a: [] for a in hive.assets}
        self._last_ns = time.perf_counter_ns()
        self._done = threading.Event()
        self._last = hive.sim_time()
        self._clock: list[tuple[int, float]] = []  # (perf ns, simulated s) at each look
        # every look that found an asset not quoting: (ns, its phase or cause, ns since the previous look)
        self.looks: dict[str, list[tuple[int, str, int]]] = {a: [] for a in hive.assets}

    def cause(self, asset: str) -> str:
        board, gw = self.hive.board, self.hive.gateway
        phase = board.phase.get(asset, "")
        if phase == "quarantined":
            return "quarantine"
        if phase == "failed":
            return "backoff"
        if phase in ("starting", "reconciling", "restarting"):
            return "injected_delay" if self.hive.faults.delaying(asset) else "recovery"
        if phase == "stalled":
            return "stale_feed"
        if gw.dms is not None and gw.dms.blocked_reason:
            return "dead_mans_switch"
        risk = board.risk.get(asset)
        if risk is not None and risk.halted:
            return "halt"
        if phase != "quoting":
            return phase or "unknown"
        return ""

    def run(self) -> None:
        self._last = self.hive.sim_time()
        while not self._done.wait(SAMPLE_S):
            now = self.hive.sim_time()
            dt, self._last = max(0.0, now - self._last), now
            ns = time.perf_counter_ns()
            self._clock.append((ns, now))
            for a in self.hive.assets:
                why = self.cause(a)
                if why:
                    self.seconds[why] += dt
                    phase = self.hive.board.phase.get(a, "")
                    self.looks[a].append((ns, phase if why == "recovery" else why, ns - self._last_ns))
                if why in ("backoff", "quarantine"):
                    self.paused_ns[a].append(ns)
                elif why in HELD_BACK:
                    self.held_ns[a].append((ns, ns - self._last_ns))
            self._last_ns = ns

    def stop(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join(timeout=2.0)

    def deliberate(self, r: Any) -> bool:
        """A recovery that sat in backoff or quarantine: a pause by design, not recovery time."""
        return any(r.fail_ns <= ns <= r.quoting_ns for ns in self.paused_ns.get(r.asset, ()))

    def recovery_ms(self, r: Any) -> float:
        """Failure to quoting again, less the time the asset was held back by a cause of its
        own meanwhile (a stale book after a restart waits for a fresh one by design: that
        time is the feed's, reported under ``stale_feed``, not the recovery's; a restarted
        risk actor the run made slow is the fault's, under ``injected_delay``)."""
        held = sum(dt for ns, dt in self.held_ns.get(r.asset, ()) if r.fail_ns < ns <= r.quoting_ns)
        return max(0.0, r.requote_ms - held / 1e6)

    def injected_ms(self, r: Any) -> float:
        """The part of a recovery spent waiting on handlers the run made hang or run slow."""
        return sum(dt for ns, what, dt in self.looks.get(r.asset, ())
                   if what == "injected_delay" and r.fail_ns < ns <= r.quoting_ns) / 1e6

    def recovery_report(self, recs: list[Any], injections: list[tuple[int, str, str]], events: Any,
                        lookback_s: float) -> dict[str, Any]:
        """The summary's recovery figures, the same on every venue: recoveries that sat in
        backoff or quarantine are left out of the p99s and counted apart."""
        counted = [r for r in recs if not self.deliberate(r)]
        return {
            "recovery_ms_p99": _pct([self.recovery_ms(r) for r in counted], 99),
            "recovery_ms_p99_with_injected_delays": _pct([self.recovery_ms(r) + self.injected_ms(r)
                                                          for r in counted], 99),
            "slowest_recoveries": _slowest(recs, injections, self, events, lookback_s=lookback_s),
            "recoveries_deliberate": len(recs) - len(counted),
            "not_quoting_s_by_cause": self.by_cause(),
        }

    def phases_ms(self, r: Any) -> dict[str, float]:
        """Where a recovery's time went, by what the looks saw: the supervisor restarting the
        tree, the order actor reconciling, the quoter starting (waiting for a book and a
        risk state), or a cause of its own (stale_feed, dead_mans_switch, halt)."""
        out: Counter[str] = Counter()
        for ns, what, dt in self.looks.get(r.asset, ()):
            if r.fail_ns < ns <= r.quoting_ns:
                out[what] += dt / 1e6
        return {k: round(v, 1) for k, v in out.most_common()}

    def sim_at(self, ns: int) -> float:
        """The simulated time at perf-counter ``ns`` (the nearest look at or before it)."""
        i = bisect.bisect_right(self._clock, (ns, float("inf"))) - 1
        return self._clock[max(0, i)][1] if self._clock else 0.0

    def by_cause(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in sorted(self.seconds.items())}


QUARANTINE_LIFT_S = 30.0  # like an operator, lift a quarantine after this long (simulated)


def _lift_quarantines(hive: Hive, since: dict[str, float], now: float) -> int:
    """Act as the operator: a quarantined asset gets another go after a while, so that
    faults keep landing on every asset (and the lift itself is exercised)."""
    lifted = 0
    for a in hive.assets:
        if hive.board.phase[a] != "quarantined":
            since.pop(a, None)
            continue
        since.setdefault(a, now)
        if now - since[a] >= QUARANTINE_LIFT_S and hive.command(["unquarantine", a]).get("ok"):
            since.pop(a)
            lifted += 1
    return lifted


def fault_schedule(rng: random.Random, faults: int, duration: float, kinds: tuple[str, ...],
                   assets: tuple[str, ...]) -> list[tuple[float, str, str]]:
    """``faults`` (time, kind, asset), sorted, between a warm-up and a cool-down."""
    warmup, cooldown = min(5.0, duration * 0.1), min(15.0, duration * 0.2)
    return sorted((rng.uniform(warmup, duration - cooldown), rng.choice(kinds), rng.choice(assets))
                  for _ in range(faults))


class FaultLoop:
    """Injects a schedule into a running hive, the same way on every venue: at each fault's
    time, lift quarantines held long enough (as an operator would), skip a quarantined
    asset, inject, then look at the assets that recovered since (``check(pending)``). A
    harness error is counted, never fatal."""

    def __init__(self, hive: Hive, inject: Callable[[str, str], None], check: Callable[[dict[str, str]], None],
                 harness_errors: Counter[str]) -> None:
        self.hive, self._inject, self._check = hive, inject, check
        self.harness_errors = harness_errors
        self.injected: Counter[str] = Counter()
        self.injections: list[tuple[int, str, str]] = []  # (perf ns, asset, kind)
        self.pending: dict[str, str] = {}  # asset -> the fault whose recovery is still to be checked
        self.skipped = self.lifts = 0
        self._quarantined_since: dict[str, float] = {}

    def run(self, schedule: list[tuple[float, str, str]], t0: float = 0.0,
            before: Callable[[], None] | None = None, after: Callable[[int], None] | None = None) -> None:
        """``before()`` runs at each fault's time, ``after(i)`` once fault ``i`` is handled."""
        hive = self.hive
        for i, (t, kind, asset) in enumerate(schedule):
            hive.wait_until(t0 + t)
            if before is not None:
                before()
            try:
                self.lifts += _lift_quarantines(hive, self._quarantined_since, t)
            except (pykka.Timeout, pykka.ActorDeadError) as e:  # the root is busy: lift it next time
                self.harness_errors[type(e).__name__] += 1
            if hive.board.phase[asset] == "quarantined":
                self.skipped += 1
            else:
                self.injections.append((time.perf_counter_ns(), asset, kind))
                try:
                    self._inject(kind, asset)
                    self._check(self.pending)
                except Exception as e:
                    self.harness_errors[type(e).__name__] += 1
                self.injected[kind] += 1
                self.pending[asset] = kind
            if after is not None:
                after(i)


def _wait(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def _check_recovered(hive: Hive, pending: dict[str, str], violations: Counter, wait: bool = False,
                     details: list[dict[str, Any]] | None = None) -> None:
    """At each recovery point (an asset quoting again after a fault), look for orphans and
    compare the risk actor's position with the venue's."""
    for asset in list(pending):
        if wait:
            _wait(lambda a=asset: hive.board.phase[a] in ("quoting", "quarantined"), 30.0)
        if hive.board.phase[asset] != "quoting":
            continue
        orphans = inv.orphan_orders(hive, asset)
        if orphans is None:
            continue  # between incarnations: look again at the next recovery point
        del pending[asset]
        violations["orphan_orders"] += orphans
        if inv.position_settles(hive, asset) is False:
            if hive.board.phase[asset] != "quoting":
                # the tree went down while we waited for the counts to agree: the risk figures
                # are a dead incarnation's, which stopped counting; the next one reconciles
                # from the venue and is checked at the next recovery point
                pending[asset] = "re-check"
                continue
            violations["position_mismatches"] += 1
            if details is not None:
                details.append(_mismatch(hive, asset, "recovery point"))


def _mismatch(hive: Hive, asset: str, where: str) -> dict[str, Any]:
    """The figures behind a position mismatch, for the report (the invariant says that one
    happened; these say which way and by how many fills)."""
    risk = hive.board.risk.get(asset)
    position, n_fills = inv.venue_account(hive, asset)
    return {"asset": asset, "where": where, "sim_s": round(hive.sim_time(), 1),
            "risk_position": risk.position if risk else None,
            "risk_fills": risk.fills_buy + risk.fills_sell if risk else None,
            "venue_position": position, "venue_fills": n_fills, "phase": hive.board.phase.get(asset)}


def report_table(report: dict):  # rich Table
    from rich.table import Table

    t = Table(title=f"makerhive chaos run on {report.get('venue', 'sim')} (seed {report['seed']})", title_justify="left")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k in ("faults_injected", "faults_skipped_quarantined", "recoveries", "quarantines", "quarantines_lifted",
              "fenced_commands",
              "fills", "cancel_ms_p50", "cancel_ms_p99", "cancel_ms_max", "recovery_ms_p99",
              "recovery_ms_p99_with_injected_delays", "requote_ms_p50", "requote_ms_p99", "requote_ms_max"):
        if k in report:
            t.add_row(k, str(report[k]))
    for k in INVARIANTS:
        v = report[k]
        t.add_row(f"[bold]{k}[/bold] (must be 0)", f"[green]{v}[/green]" if v == 0 else f"[red]{v}[/red]")
    t.caption = "faults by kind: " + ", ".join(f"{k} {v}" for k, v in report["faults_by_kind"].items())
    return t
