"""The chaos run on the Hyperliquid venue: the real venue code (signing, REST, WebSocket,
reconciliation) against the project's local fake exchange (``testkit``), in real time.

``makerhive chaos --venue hl-fake --seed N --faults K --duration S`` starts the fake on
127.0.0.1 with a throwaway key (made for the run, never written or printed), runs the
hive on it, and lands K faults of the kinds the exchange itself can cause: a dropped
WebSocket (fill pushes lost with it, or lost alone), a stalled feed, answers that race the feed, answers
lost after the action executed, rejected orders, HTTP 429s and 500s, exchange-side
cancels, a refused dead-man's-switch renewal, an exhausted address budget, takers
trading through our quotes, and crashes of each actor. The exchange's own books are the
truth: the same invariants and summary keys as the sim's chaos run (``makerhive.chaos``).
"""
from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from typing import Any, Callable

import msgspec
from eth_account import Account

from config import Config
from makerhive import invariants as inv
from makerhive.app import Hive
from makerhive.chaos import CHAOS_KEEP_RECORD, INVARIANTS, Chaos, FaultLoop, _NotQuoting, _pct, _wait, fault_schedule
from strategy.risk import fill_identity
from testkit.hyperliquid_fake import FakeHyperliquid
from venues.hyperliquid.signing import Signer

HL_VENUE_FAULTS = ("feed_disconnect", "feed_stall", "raced_answers", "lost_answers", "reject_burst", "throttle",
                   "request_failures", "drop_fills", "exchange_cancels", "dms_failure", "budget_exhaustion",
                   "taker_sweep")
HL_ACTOR_FAULTS = tuple(f"crash_{r}" for r in ("book", "risk", "order", "quoter"))
HL_FAULT_KINDS = HL_VENUE_FAULTS + HL_ACTOR_FAULTS
EXCHANGE_CANCEL_STATUSES = ("marginCanceled", "reduceOnlyCanceled", "selfTradeCanceled", "openInterestCapCanceled")
# the venue's timings in this mode: a stall must be noticed (and answered) within a run of minutes
HL_CHAOS_TIMINGS = {"stall_s": 3.0, "ping_every_s": 1.0, "request_timeout_s": 5.0}


def hl_fake_config(cfg: Config, fake: FakeHyperliquid) -> Config:
    """``cfg`` trading on ``fake`` in real time as the throwaway key's own account."""
    hl = msgspec.structs.replace(cfg.venue.hyperliquid, base_url=fake.base_url, ws_url=fake.ws_url,
                                 account_address="", vault_address="", key_file="", **HL_CHAOS_TIMINGS)
    run = msgspec.structs.replace(cfg.run, venue="hyperliquid", speed=1.0)
    return msgspec.structs.replace(cfg, run=run, venue=msgspec.structs.replace(cfg.venue, hyperliquid=hl))


class HlChaos(Chaos):
    """The faults, each one call on the fake (thread-safe) or one actor crash."""

    def __init__(self, hive: Hive, fake: FakeHyperliquid, rng: random.Random) -> None:
        super().__init__(hive, rng)
        self.fake = fake
        self.later: list[tuple[float, Callable[[], Any]]] = []  # (real time due, undo): ends of timed faults

    def inject(self, kind: str, asset: str) -> None:
        if kind.startswith("crash_"):
            self._crash(kind, asset)
        else:
            getattr(self, "_hl_" + kind)(asset)

    def due(self, now: float, everything: bool = False) -> None:
        keep = []
        for at, fn in self.later:
            if everything or at <= now:
                fn()
            else:
                keep.append((at, fn))
        self.later = keep

    def _lot(self, asset: str, usd: float) -> float:
        mid = self.hive.board.market[asset].mid if asset in self.hive.board.market else 0.0
        return usd / (mid or self.hive.cfg.assets[asset].market.price)

    def _hl_feed_disconnect(self, asset: str) -> None:
        self.fake.drop_connections()

    def _hl_feed_stall(self, asset: str) -> None:
        self.fake.stall(self.rng.uniform(2.0, 6.0))

    def _hl_raced_answers(self, asset: str) -> None:
        """The next placements fill on the feed before their answer comes back."""
        self.fake.race_answers(self.rng.randint(1, 3), self.rng.uniform(0.05, 0.5))

    def _hl_lost_answers(self, asset: str) -> None:
        self.fake.lose_answers(self.rng.randint(1, 3))

    def _hl_reject_burst(self, asset: str) -> None:
        i = self.hive.assets.index(asset)
        text = self.rng.choice(("Insufficient margin to place order. asset={i}",
                                "Post only order would have immediately matched, bbo was 1@2. asset={i}",
                                "Order has invalid size. asset={i}"))
        self.fake.reject_next(self.rng.randint(3, 12), text.format(i=i))

    def _hl_throttle(self, asset: str) -> None:
        self.fake.throttle(self.rng.uniform(1.0, 4.0))

    def _hl_request_failures(self, asset: str) -> None:
        self.fake.fail_requests(self.rng.randint(1, 4))

    def _hl_drop_fills(self, asset: str) -> None:
        """Fill pushes lost: a taker hits us and its fills are only in REST userFills. Half
        the time the WebSocket dies with them; otherwise it lives on and only the fills'
        own pushes are lost, their order updates still come (the feed's fault, not the
        connection's: only the fill chain or the updates can tell)."""
        with_connection = self.rng.random() < 0.5
        self.fake.drop_fill_pushes(self.rng.randint(1, 3), keep_updates=not with_connection)
        self._hl_taker_sweep(asset)
        if with_connection:
            self.fake.drop_connections()
        self.fake.drop_fill_pushes(0)  # no later fill is lost

    def _hl_taker_sweep(self, asset: str) -> None:
        """Another user's taker order trading through our quotes on one side."""
        size_usd = self.hive.cfg.assets[asset].quoting.order_size_usd * self.rng.uniform(0.5, 2.5)
        try:
            self.fake.cross(asset, self.rng.choice(("B", "A")), self._lot(asset, size_usd))
        except ValueError:  # below the lot: no trade
            pass

    def _hl_exchange_cancels(self, asset: str) -> None:
        self.fake.exchange_cancel(asset, self.rng.choice(EXCHANGE_CANCEL_STATUSES))

    def _hl_dms_failure(self, asset: str) -> None:
        """The next renewals of the dead-man's switch are refused: the hive must stop quoting."""
        self.fake.refuse_schedule_cancel(self.rng.randint(1, 2))

    def _hl_budget_exhaustion(self, asset: str) -> None:
        """The address budget runs dry; a few seconds later volume elsewhere refills it."""
        taken = self.fake.exhaust_budget()
        self.later.append((time.monotonic() + self.rng.uniform(3.0, 10.0), lambda: self.fake.grant_budget(taken)))


def _fake_orphans(hive: Hive, fake: FakeHyperliquid, asset: str, second_look_s: float = 0.5) -> int | None:
    """Orders resting on the exchange that no live order actor knows, in two looks
    ``second_look_s`` apart (an answer in flight can hide an order for a moment)."""
    first = {o.get("cloid") for o in fake.open_orders(asset)}
    known = inv.known_orders(hive, asset)
    if known is None:
        return None
    suspects = first - known
    if not suspects:
        return 0
    time.sleep(second_look_s)
    second = {o.get("cloid") for o in fake.open_orders(asset)}
    known = inv.known_orders(hive, asset)
    if known is None:
        return None
    return len((suspects & second) - known)


def _fake_fills(fake: FakeHyperliquid) -> dict[str, tuple[int, int]]:
    """Per coin: (our fills on the exchange, their identity digest)."""
    out: dict[str, tuple[int, int]] = {}
    for f in fake.fills():
        n, d = out.get(f["coin"], (0, 0))
        out[f["coin"]] = (n + 1, (d + fill_identity(int(f["tid"]), float(f["sz"]), float(f["px"]))) & ((1 << 64) - 1))
    return out


def _position_settles(hive: Hive, fake: FakeHyperliquid, asset: str, timeout: float = 8.0) -> str | None:
    """Why risk's position does not equal the exchange's once both have seen the same
    fills ("" if it does; None if risk has not published yet), as
    ``invariants.position_settles`` with the fake as the truth."""
    deadline = time.monotonic() + timeout
    counted = n = 0
    while time.monotonic() < deadline:
        risk = hive.board.risk.get(asset)
        if risk is None:
            return None
        n = _fake_fills(fake).get(asset, (0, 0))[0]
        counted = risk.fills_buy + risk.fills_sell
        if counted == n:
            pos = fake.position(asset)
            return "" if abs(risk.position - pos) < 1e-9 else f"{asset}: position {risk.position} != {pos}"
        time.sleep(0.1)
    return f"{asset}: {counted} fills counted, {n} on the exchange after {timeout:g}s"


def _check_recovered(hive: Hive, fake: FakeHyperliquid, pending: dict[str, str], violations: Counter,
                     wait: bool = False, details: list[str] | None = None) -> None:
    for asset in list(pending):
        if wait:
            _wait(lambda a=asset: hive.board.phase[a] in ("quoting", "quarantined"), 30.0)
        if hive.board.phase[asset] != "quoting":
            continue
        orphans = _fake_orphans(hive, fake, asset)
        if orphans is None:
            continue
        kind = pending.pop(asset)
        violations["orphan_orders"] += orphans
        why = _position_settles(hive, fake, asset)
        if why and hive.board.phase[asset] != "quoting":
            pending[asset] = kind  # went down while we looked: see chaos._check_recovered
            continue
        if why:
            violations["position_mismatches"] += 1
            if details is not None:
                details.append(f"t={hive.sim_time():.1f}s after {kind}: {why}")


def run_chaos_hl(cfg: Config, *, seed: int, faults: int, duration: float,
                 kinds: tuple[str, ...] = HL_FAULT_KINDS, progress: Callable[[str], None] | None = None) -> dict:
    """The chaos run on the Hyperliquid venue against the fake; ``duration`` in real seconds."""
    rng = random.Random(seed)
    key = "0x" + secrets.token_hex(32)  # throwaway: the fake knows only its address
    fake = FakeHyperliquid(cfg, seed=seed, account=Account.from_key(key).address.lower()).start()
    report: dict[str, Any] = {"venue": "hl-fake", "seed": seed, "duration_s": duration, "speed": 1.0}
    violations: Counter[str] = Counter()
    harness_errors: Counter[str] = Counter()
    mismatch_details: list[str] = []
    hive: Hive | None = None
    try:
        hive = Hive(hl_fake_config(cfg, fake), seed=seed, signer=Signer(key), journal=False)
        hive.board.keep_record = CHAOS_KEEP_RECORD  # the slowest recoveries' events, from any time in the run
        assets = hive.assets
        chaos = HlChaos(hive, fake, rng)
        loop = FaultLoop(hive, chaos.inject,
                         lambda pending: _check_recovered(hive, fake, pending, violations, details=mismatch_details),
                         harness_errors)
        pending = loop.pending
        hive.start()
        sampler = _NotQuoting(hive)
        try:
            if not _wait(lambda: all(hive.board.phase[a] == "quoting" for a in assets), 60.0):
                harness_errors["not_quoting_at_start"] += 1
            t0 = hive.sim_time()
            sampler.start()
            schedule = fault_schedule(rng, faults, duration, kinds, assets)

            def say(i: int) -> None:
                if progress is not None and i % 20 == 0:
                    progress(f"{i}/{len(schedule)} faults, t={hive.sim_time() - t0:.0f}s")

            loop.run(schedule, t0, before=lambda: chaos.due(time.monotonic()), after=say)
            hive.wait_until(t0 + duration)
            # the faults still waiting to end end now (a spent address budget is granted back:
            # while it is spent the exchange refuses a renewal before the armed refusal can)
            chaos.due(time.monotonic(), everything=True)
            # a refusal armed late waits for the next renewals: let them come before the last look
            _wait(lambda: fake.refusals_armed() == 0, 2 * cfg.dead_mans_switch.renew_every_s + 1.0)
            _wait(lambda: all(hive.board.phase[a] in ("quoting", "quarantined") for a in assets), 60.0)
            for a in assets:
                pending[a] = "final"
            try:
                _check_recovered(hive, fake, pending, violations, wait=True, details=mismatch_details)
            except Exception as e:
                harness_errors[type(e).__name__] += 1
            root_alive = hive.meta is not None and hive.meta.is_alive()
        finally:
            sampler.stop()
            summary = hive.stop()
        left_open = len(fake.open_orders())
        truth = _fake_fills(fake)
        positions = {a: fake.position(a) for a in assets}
        fake_stats = fake.stats
    finally:
        fake.stop()
    assert hive is not None
    lost = dup = mismatches = breaches = identity = 0
    for a, s in summary["assets"].items():
        n, digest = truth.get(a, (0, 0))
        risk = hive.board.risk.get(a)
        if risk is not None and risk.fills_digest != digest:  # by identity: trade id, size and price
            identity += 1
        counted = s["fills_buy"] + s["fills_sell"]
        lost += max(0, n - counted)
        dup += max(0, counted - n)
        if abs(s["inventory"] - positions[a]) > 1e-9:
            mismatches += 1
            mismatch_details.append(f"at exit: {a}: inventory {s['inventory']} != {positions[a]}")
        if inv.limit_breached(s, inv.max_order_usd(hive, a)):
            breaches += 1
    injected, injections = loop.injected, loop.injections
    recs = hive.board.recoveries
    by_kind: dict[str, list[float]] = {}
    for r in recs:
        cause = next((k for ns, a, k in reversed(injections) if a == r.asset and ns <= r.fail_ns), "unknown")
        by_kind.setdefault(cause, []).append(r.requote_ms)
    venue_stats = hive.venue.stats
    rest = hive.venue.rest
    report.update({
        "faults_injected": sum(injected.values()),
        "faults_skipped_quarantined": loop.skipped,
        "faults_by_kind": dict(sorted(injected.items())),
        "recoveries": len(recs),
        "orphan_orders": violations["orphan_orders"] + summary["portfolio"]["open_orders_at_exit"] + left_open,
        "position_mismatches": violations["position_mismatches"] + mismatches,
        "lost_fills": lost,
        "duplicate_fills": dup,
        "limit_breaches": breaches,
        "root_failures": int(not root_alive) + hive.board.counters["root_errors"],
        "quarantines": hive.board.counters["quarantine"],
        "quarantines_lifted": loop.lifts,
        "cancel_ms_p50": _pct([r.cancel_ms for r in recs], 50), "cancel_ms_p99": _pct([r.cancel_ms for r in recs], 99),
        "cancel_ms_max": _pct([r.cancel_ms for r in recs], 100),
        "requote_ms_p50": _pct([r.requote_ms for r in recs], 50),
        "requote_ms_p99": _pct([r.requote_ms for r in recs], 99),
        "requote_ms_max": _pct([r.requote_ms for r in recs], 100),
        "requote_ms_max_by_kind": {k: round(max(v), 1) for k, v in sorted(by_kind.items())},
        "fill_identity_mismatches": identity,
        "position_mismatch_details": mismatch_details,
        **sampler.recovery_report(recs, injections, hive.board.events, cfg.supervision.handler_budget_s + 0.1),
        "bad_input_dropped": venue_stats.bad_input,
        "dms_quoting_stops": hive.board.counters["dms_quoting_stops"],
        "harness_errors": dict(harness_errors),
        "fenced_commands": sum(hive.gateway.refused.values()),
        "fills": summary["portfolio"]["fills"],
        "net_pnl": summary["portfolio"]["net_pnl"],
        "venue_unknown_outcomes": venue_stats.unknown_outcomes,
        # fills the feed lost, found by the fill chain (a later fill's startPosition) or by
        # an order update ahead of its fills, and read back at once
        "fills_read_back": {"fill_gaps": venue_stats.fill_gaps, "fills_owed": venue_stats.fills_owed},
        # the account's IP weight as our client spent it: requests sent, 429s met, seconds
        # requests waited for weight (summed over concurrent waiters), routine reads held back
        "ip_weight": {"requests": rest.requests, "throttled": rest.throttled,
                      "waited_s": round(rest.waited_for_weight_s, 1), "routine_reads_held": rest.reserved_skips},
        "exchange": {k: fake_stats[k] for k in (
            "ws_connections", "ws_drops", "raced_answers", "answers_lost", "failed_requests", "throttled",
            "orders_rejected", "exchange_cancels", "schedule_cancel_refused", "budget_refusals", "schedule_cancel_fired",
            "fills", "fill_pushes_dropped", "orders_placed", "cancels")},
    })
    report["invariants_ok"] = all(report[k] == 0 for k in INVARIANTS)
    return report
