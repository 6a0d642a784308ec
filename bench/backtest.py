"""Backtest throughput: market-data events per second on one core, and the wall time of
one simulated day of one asset.

The run is the real thing: BTC from ``config.toml`` (its fixed order/ack/feed
latencies), the full strategy (book core, A–S quoter with the ladder, order tracker,
risk core) on the simulated exchange with its queue model.

``events_per_s`` counts events as hftbacktest counts market data (``EVENTS_DEFINITION``):
one per price level update, one per trade. ``snapshots_per_s`` is the older, coarser
figure: whole book snapshots plus trades. Engine steps (``sim.step_s``) are extra
work, not events. The full run backtests a whole simulated day; ``--quick`` runs ten
minutes and extrapolates (the cost per simulated second is flat: nothing grows with
time but the fill list).

A second, short run under cProfile says where the time goes (``profile_share``:
fractions of the profiled time, inflated for code made of many small calls).

``parallel``: the whole portfolio (five assets, the same latencies) for an hour, in
one process and with its assets spread over the cores (``backtest/parallel.py``): both
wall times, both events per second, and whether the two results are identical.
"""
from __future__ import annotations

import cProfile
import pstats
import time
from pathlib import Path

from backtest.engine import Backtest
from backtest.parallel import run_parallel, usable_cores
import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
ASSET = "BTC"
DAY_S = 86_400.0
TARGET_EVENTS_PER_S = 200_000
QUICK_RUNS = 5  # --quick: the median of this many ten-minute runs
EVENTS_DEFINITION = (
    "events = book level events + trade events. Book level events: for each book snapshot the book core "
    "receives, the number of price levels, per side, that appeared, disappeared or changed size compared "
    "with that asset's previous snapshot received (the first snapshot counts all its levels); trade events: "
    "public trades reaching the book core. events_per_s = events / wall seconds; snapshots_per_s = "
    "(snapshots + trades) / wall seconds.")

# (file suffix, function) -> label; cumulative times, none of these nests inside another
_PARTS = {
    ("venues/sim/engine.py", "advance"): "engine_step",
    ("venues/sim/engine.py", "book_snapshot"): "engine_book_push",
    ("venues/sim/engine.py", "place"): "engine_place",
    ("venues/sim/engine.py", "cancel"): "engine_cancel",
    ("backtest/desk.py", "handle"): "strategy_messages",  # every message to the four cores
    ("backtest/desk.py", "on_trade"): "strategy_on_trade",
}
# nested inside the above, reported for what limits the speed
_INSIDE = {
    ("venues/sim/orderbook.py", "_maker_update"): "market_background_book",
    ("strategy/quoter.py", "quote"): "quoter_core",
    ("strategy/order_tracker.py", "plan"): "order_tracker_plan",
    ("strategy/book.py", "on_book"): "book_core",
    ("exchange_rules/ticks.py", "round_price"): "decimal_price_rounding",
    ("exchange_rules/ticks.py", "round_price_float"): "float_price_rounding",
    ("backtest/engine.py", "_count_book"): "level_event_counting",
}


def _config() -> config_mod.Config:
    return config_mod.load(ROOT / "config.toml")


def _timed(duration_s: float) -> tuple[float, float, dict[str, int]]:
    bt = Backtest(_config(), assets=[ASSET])  # compiles the market's maker update (not timed)
    t0, c0 = time.perf_counter(), time.process_time()
    result = bt.run(duration_s)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    recs = result.records.values()
    counts = {"level_events": sum(r.level_events for r in recs), "snapshots": sum(r.book_events for r in recs),
              "trades": sum(r.trade_events for r in recs), "steps": result.steps,
              "fills": sum(len(r.fills) for r in recs), "orders_sent": sum(r.orders_sent for r in recs),
              "cancels_sent": sum(r.cancels_sent for r in recs)}
    return wall, cpu, counts


def _profile(duration_s: float) -> dict[str, float]:
    bt = Backtest(_config(), assets=[ASSET])
    prof = cProfile.Profile()
    prof.enable()
    bt.run(duration_s)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in stats.values())
    out: dict[str, float] = {}
    for table in (_PARTS, _INSIDE):
        for (suffix, fn), label in table.items():
            cum = sum(v[3] for (file, _, name), v in stats.items() if name == fn and file.endswith(suffix))
            out[label] = round(cum / total, 3) if total else 0.0
    out["loop_and_recording"] = round(1.0 - sum(out[v] for v in _PARTS.values()), 3)
    return out


PARALLEL_SIM_S = 3600.0


def _parallel() -> dict:
    """The portfolio's assets in one process, then spread over the cores: the same result?"""
    cfg = _config()
    t0 = time.perf_counter()
    serial = Backtest(cfg).run(PARALLEL_SIM_S)
    t1 = time.perf_counter()
    par = run_parallel(cfg, duration_s=PARALLEL_SIM_S)
    t2 = time.perf_counter()
    info = par.meta.pop("parallel")
    same = all(repr(vars(par.records[a])) == repr(vars(serial.records[a])) for a in serial.assets)
    events = serial.market_events
    return {"assets": len(serial.assets), "sim_seconds": PARALLEL_SIM_S, "cores": usable_cores(),
            "workers": info["workers"], "serial_rerun": info["serial_rerun"],
            "serial_wall_seconds": round(t1 - t0, 2), "parallel_wall_seconds": round(t2 - t1, 2),
            "serial_events_per_s": round(events / (t1 - t0)), "parallel_events_per_s": round(events / (t2 - t1)),
            "speedup": round((t1 - t0) / (t2 - t1), 2), "identical": same and par.sample_ts == serial.sample_ts}


def run(quick: bool = False) -> dict:
    duration = 600.0 if quick else DAY_S
    runs = [_timed(duration) for _ in range(QUICK_RUNS if quick else 1)]
    wall, cpu, n = sorted(runs, key=lambda r: r[0])[len(runs) // 2]  # the median run (a shared machine is noisy)
    share = _profile(120.0)
    events = n["level_events"] + n["trades"]
    snapshots = n["snapshots"] + n["trades"]
    eps = events / wall
    engine = sum(share[k] for k in ("engine_step", "engine_book_push", "engine_place", "engine_cancel"))
    strategy = sum(share[k] for k in ("strategy_messages", "strategy_on_trade"))
    return {
        "events_per_s": round(eps),
        "events_per_cpu_s": round((n["level_events"] + n["trades"]) / cpu),
        "snapshots_per_s": round(snapshots / wall),
        "events_definition": EVENTS_DEFINITION,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "meets_target": eps >= TARGET_EVENTS_PER_S,
        "day_seconds": round(wall * DAY_S / duration, 1),
        "day_seconds_method": ("measured: one full simulated day of BTC" if duration == DAY_S else
                               f"extrapolated x{DAY_S / duration:g} from a {duration:g} s run of BTC"),
        "sim_seconds": duration,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "runs": len(runs),
        "events": events,
        "level_events": n["level_events"],
        "snapshots": n["snapshots"],
        "trades": n["trades"],
        "events_per_sim_second": round(events / duration, 2),
        "engine_steps": n["steps"],
        "fills": n["fills"],
        "orders_sent": n["orders_sent"],
        "cancels_sent": n["cancels_sent"],
        "wall_us_per_sim_second": round(wall / duration * 1e6, 1),
        "profile_share": share,
        "parallel": _parallel(),
        "limited_by": (
            f"pure-Python work per simulated second, spread over many small calls (no part above "
            f"{max(share[k] for k in _PARTS.values()):.0%} of the profile): a simulated second of BTC carries "
            f"{n['snapshots'] / duration:.1f} book pushes ({n['level_events'] / duration:.0f} level events) and "
            f"{n['trades'] / duration:.1f} trades, but also {n['steps'] / duration:.0f} engine steps and "
            f"{n['orders_sent'] / duration:.1f} orders placed and {n['cancels_sent'] / duration:.1f} cancelled "
            f"(the strategy requotes on every push and fill); under cProfile the sim engine takes {engine:.0%} "
            f"(its background book {share['market_background_book']:.0%}), the strategy cores {strategy:.0%} "
            f"(quoter {share['quoter_core']:.0%}, order tracker {share['order_tracker_plan']:.0%}), the event loop "
            f"and recording {share['loop_and_recording']:.0%} (level-event counting "
            f"{share['level_event_counting']:.0%}); Decimal rounding is off the hot path "
            f"({share['decimal_price_rounding']:.0%}). Much more speed needs compiled code"),
    }
