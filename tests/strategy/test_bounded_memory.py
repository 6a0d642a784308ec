"""Per-fill memory is bounded: trade ids are forgotten at the fill-sync watermark, and
a fill older than it that arrives again (a restarted order actor's full history) is
still recognised as a duplicate."""
from __future__ import annotations

from config import RiskConfig
from messages.orders import Fill
from strategy.order_role import OrderRole
from strategy.order_tracker import OrderTracker
from strategy.performance import PerformanceTracker
from strategy.risk import RiskCore
from strategy.risk_role import RiskRole


def fill(tid: int, ts: float, side: str = "B") -> Fill:
    return Fill("ETH", "c", 1, tid, side, 3000.0, 0.01, 0.0, ts, 0.0)


def roles() -> tuple[OrderRole, RiskRole]:
    return (OrderRole(OrderTracker("ETH", 1, 1, 4, tolerance_bp=0.5), 0.0),
            RiskRole(RiskCore("ETH", RiskConfig(), 20_000.0, ts=0.0), PerformanceTracker("ETH", 1.0, 1.0, 0.0), 0.0))


def test_the_order_role_forgets_old_trade_ids_and_risk_never_hears_their_replay():
    order, risk = roles()
    history = [fill(i, float(i), "B" if i % 2 else "A") for i in range(1, 10_001)]
    [(_, own)] = order.history(history)
    risk.handle(own)
    position, digest = risk.core.position, risk.core.fills_digest
    assert len(own.fills) == 10_000 and position == order.tracker.position
    assert order.tracker.prune_seen(9_000.0) == 8_999
    assert len(order.tracker.seen_tids) == 1_001
    assert order.history(history) == []  # the whole history again: nothing counted twice
    assert (risk.core.position, risk.core.fills_digest) == (position, digest)
    [(_, own)] = order.history([fill(20_000, 9_500.0)])  # a new fill past the watermark still counts
    risk.handle(own)
    assert risk.core.fills_buy + risk.core.fills_sell == 10_001 and risk.core.position == order.tracker.position


def test_the_order_tracker_prunes_and_a_replay_reaches_risk_once():
    t = OrderTracker("ETH", 1, 1, 4, tolerance_bp=0.5)
    for i in range(1, 5_001):
        t.on_fill(fill(i, float(i)))
    assert t.prune_seen(4_000.0) == 3_999 and len(t.seen_tids) == 1_001
    assert not t.on_fill(fill(10, 10.0)) and round(t.position, 4) == 50.0
    order, risk = roles()
    for out in (order.history(fill(i, float(i)) for i in range(1, 101)), order.history([fill(1, 1.0)])):
        for _, msg in out:
            risk.handle(msg)
    order.tracker.prune_seen(50.0)
    for _, msg in order.history(fill(i, float(i)) for i in range(1, 101)):
        risk.handle(msg)
    assert round(risk.core.position, 6) == 1.0 and risk.core.fills_buy == 100


def test_the_live_hive_keeps_its_dedupe_sets_bounded():
    from tests.hive_helpers import sim_config, wait_for
    from makerhive.app import Hive

    h = Hive(sim_config(run={"speed": 20.0}, portfolio={"assets": ["ETH", "SOL"]}))
    h.start()
    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="quoting")
        wait_for(lambda: h.sim_time() > 200.0, timeout=60, what="200 s of trading")
        pruned = {a: h.teams[a].get("order").proxy().tracker.get().pruned_before for a in h.assets}
        assert all(p > 0 for p in pruned.values()), pruned
    finally:
        summary = h.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def test_the_soak_benchmark_reports_rss_and_simulated_hours():
    from bench.soak import soak

    r = soak(120.0, samples=4)
    assert {"rss_mb_after_warmup", "rss_mb_end", "sim_hours"} <= set(r)
    assert r["sim_hours"] >= 120.0 / 3600 * 0.99 and r["rss_mb_end"] > 0 and r["open_orders_at_exit"] == 0
    assert {"rss_mb_slope_per_sim_hour", "rss_mb_noise"} <= set(r)


def test_the_soak_trend_is_a_least_squares_slope_with_its_scatter():
    from bench.soak import trend

    slope, noise = trend([(0.0, 100.0), (1.0, 101.0), (2.0, 102.0), (3.0, 103.0)])
    assert abs(slope - 1.0) < 1e-9 and noise < 1e-9
    slope, noise = trend([(0.0, 100.0), (1.0, 100.4), (2.0, 99.6), (3.0, 100.0)])
    assert abs(slope) < 0.2 and 0.2 < noise < 0.6
