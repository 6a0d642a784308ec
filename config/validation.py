"""Rules a parsed config must satisfy beyond its types; every error names the field path,
the bad value and what is allowed."""

from __future__ import annotations

import math
import os
from typing import Any

from config.schema import Config, ConfigError, MarketConfig, QuotingConfig, RiskConfig, SIM_REGIMES


def reject(path: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{path} = {value!r}: {allowed}")


def _positive(path: str, v: float) -> None:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        reject(path, v, "must be a finite number > 0")


def _fraction(path: str, v: float, *, open_low: bool = True) -> None:
    ok = (0 < v <= 1) if open_low else (0 <= v <= 1)
    if not ok:
        reject(path, v, "must be a fraction in (0, 1]")


def _validate_quoting(p: str, q: QuotingConfig) -> None:
    for name in ("gamma", "k_per_bp", "horizon_s", "min_spread_bp", "max_spread_bp", "order_size_usd", "stale_book_s"):
        _positive(f"{p}.{name}", getattr(q, name))
    if q.levels < 1 or q.levels > 10:
        reject(f"{p}.levels", q.levels, "must be an integer from 1 to 10")
    if q.level_spacing_bp < 0:
        reject(f"{p}.level_spacing_bp", q.level_spacing_bp, "must be >= 0")
    if q.refresh_tolerance_bp < 0:
        reject(f"{p}.refresh_tolerance_bp", q.refresh_tolerance_bp, "must be >= 0")
    if q.max_spread_bp < q.min_spread_bp:
        reject(f"{p}.max_spread_bp", q.max_spread_bp, f"must be >= min_spread_bp ({q.min_spread_bp})")
    if len(q.level_size_mult) != q.levels:
        reject(f"{p}.level_size_mult", list(q.level_size_mult), f"must list one multiplier per level (levels = {q.levels})")
    for i, m in enumerate(q.level_size_mult):
        _positive(f"{p}.level_size_mult[{i}]", m)
    _validate_stack(p, q)
    if q.order_size_usd < 10:
        reject(f"{p}.order_size_usd", q.order_size_usd, "must be at least 10 (Hyperliquid's $10 minimum order value)")


def _validate_stack(p: str, q: QuotingConfig) -> None:
    """The strategy stack's keys: positive numbers, fractions, non-negative fees."""
    if not (math.isfinite(q.maker_fee_bp) and -5 <= q.maker_fee_bp <= 10):
        reject(f"{p}.maker_fee_bp", q.maker_fee_bp, "must be a number of bp from -5 to 10")
    if not (math.isfinite(q.imbalance_weight) and 0 <= q.imbalance_weight <= 1):
        reject(f"{p}.imbalance_weight", q.imbalance_weight, "must be from 0 to 1")
    positive = {
        "glft": ("gamma", "a_per_s", "k_per_bp", "window_s", "refit_s", "skew_adj"),
        "queue": ("keep_tolerance_bp", "max_age_s"),
        "regime": ("calm_bp", "elevated_bp", "extreme_bp"),
        "toxicity": ("drift_bp", "markout_horizon_s", "widen_mult"),
        "trend": ("fast_s", "slow_s", "full_bp"),
        "funding_skew": ("horizon_h",),
        "breakers": ("widen_move_pct", "widen_mult", "widen_cooldown_s", "pause_move_pct", "pause_cooldown_s", "api_cooldown_s"),
        "budget_governor": ("max_cancels_per_fill", "window_s"),
        "tape_edge": ("horizon_s", "window_s", "bin_bp"),
        "flow_fair": ("horizon_s", "window_s", "refit_s"),
        "auto_tuner": ("period_s", "window_s", "sample_s", "step", "min_spread_mult", "max_spread_mult", "max_skew_mult"),
    }
    for table, names in positive.items():
        for name in names:
            _positive(f"{p}.{table}.{name}", getattr(getattr(q, table), name))
    for name in ("imbalance", "aggressor", "vpin_threshold"):
        v = getattr(q.toxicity, name)
        if not (0.5 <= v <= 1):
            reject(f"{p}.toxicity.{name}", v, "must be from 0.5 to 1")
    if not 0 <= q.trend.strength <= 1:
        reject(f"{p}.trend.strength", q.trend.strength, "must be from 0 to 1")
    if q.trend.fast_s >= q.trend.slow_s:
        reject(f"{p}.trend.fast_s", q.trend.fast_s, f"must be < trend.slow_s ({q.trend.slow_s})")
    if not (math.isfinite(q.inventory_risk_pct) and 0 <= q.inventory_risk_pct <= 1):
        reject(f"{p}.inventory_risk_pct", q.inventory_risk_pct, "must be from 0 (off) to 1")
    if not (math.isfinite(q.position_cap_lots) and 0 <= q.position_cap_lots <= 10_000):
        reject(f"{p}.position_cap_lots", q.position_cap_lots, "must be a number of L1 lots from 0 (off) to 10000")
    ff = q.flow_fair
    if not (isinstance(ff.min_samples, int) and 10 <= ff.min_samples <= 1_000_000):
        reject(f"{p}.flow_fair.min_samples", ff.min_samples, "must be a whole number from 10 to 1000000")
    if ff.horizon_s >= ff.window_s:
        reject(f"{p}.flow_fair.horizon_s", ff.horizon_s, f"must be < flow_fair.window_s ({ff.window_s})")
    te = q.tape_edge
    for name in ("hold_horizon_s", "add_horizon_s"):
        v = getattr(te, name)
        if not (math.isfinite(v) and 0 <= v <= 86_400):
            reject(f"{p}.tape_edge.{name}", v, "must be a number of seconds from 0 (off) to 86400")
    if not (isinstance(te.min_trades, int) and 1 <= te.min_trades <= 100_000):
        reject(f"{p}.tape_edge.min_trades", te.min_trades, "must be a whole number from 1 to 100000")
    if not (isinstance(te.own_min_fills, int) and 1 <= te.own_min_fills <= 100_000):
        reject(f"{p}.tape_edge.own_min_fills", te.own_min_fills, "must be a whole number from 1 to 100000")
    if not (math.isfinite(te.unwind_after_s) and 0 <= te.unwind_after_s <= 86_400):
        reject(f"{p}.tape_edge.unwind_after_s", te.unwind_after_s, "must be a number of seconds from 0 to 86400")
    if not (math.isfinite(te.confidence_z) and 0 <= te.confidence_z <= 10):
        reject(f"{p}.tape_edge.confidence_z", te.confidence_z, "must be a number of standard errors from 0 (off) to 10")
    for name in ("margin_bp", "unknown_drift_bp"):
        v = getattr(te, name)
        if not (math.isfinite(v) and -100 <= v <= 100):
            reject(f"{p}.tape_edge.{name}", v, "must be a number of bp from -100 to 100")
    at = q.auto_tuner
    if not at.step < 1:
        reject(f"{p}.auto_tuner.step", at.step, "must be below 1 (a share of the multiplier per look)")
    if not at.min_spread_mult <= 1:
        reject(f"{p}.auto_tuner.min_spread_mult", at.min_spread_mult, "must be from 0 (exclusive) to 1")
    if not at.max_spread_mult >= 1:
        reject(f"{p}.auto_tuner.max_spread_mult", at.max_spread_mult, "must be at least 1")
    if not at.max_skew_mult >= 1:
        reject(f"{p}.auto_tuner.max_skew_mult", at.max_skew_mult, "must be at least 1")
    if not (isinstance(at.min_samples, int) and 2 <= at.min_samples <= 100_000):
        reject(f"{p}.auto_tuner.min_samples", at.min_samples, "must be a whole number from 2 to 100000")
    for name in ("losing_sharpe", "min_fills_per_h", "inventory_pressure"):
        if not math.isfinite(getattr(at, name)):
            reject(f"{p}.auto_tuner.{name}", getattr(at, name), "must be a finite number")
    r = q.regime
    if not r.calm_bp < r.elevated_bp < r.extreme_bp:
        reject(f"{p}.regime.elevated_bp", r.elevated_bp, "must lie between regime.calm_bp and regime.extreme_bp")
    sg = q.sweep_guard
    if not (math.isfinite(sg.depth_bp) and 0 < sg.depth_bp <= 1000):
        reject(f"{p}.sweep_guard.depth_bp", sg.depth_bp, "must be a number of bp above 0, at most 1000")
    if not (math.isfinite(sg.hold_s) and 0 < sg.hold_s <= 3600):
        reject(f"{p}.sweep_guard.hold_s", sg.hold_s, "must be a number of seconds above 0, at most 3600")
    age = q.alo_safety.max_book_age_s
    if not (math.isfinite(age) and 0 <= age <= 60):
        reject(f"{p}.alo_safety.max_book_age_s", age, "must be a number of seconds from 0 (off) to 60")
    for table, name in (("alo_safety", "max_ticks"), ("alo_safety", "decay_after"), ("breakers", "api_errors")):
        v = getattr(getattr(q, table), name)
        if not (isinstance(v, int) and 1 <= v <= 1000):
            reject(f"{p}.{table}.{name}", v, "must be an integer from 1 to 1000")


def _validate_risk(p: str, r: RiskConfig) -> None:
    _positive(f"{p}.max_position_usd", r.max_position_usd)
    _fraction(f"{p}.max_position_pct", r.max_position_pct)
    _fraction(f"{p}.daily_loss_pct", r.daily_loss_pct)
    if not (0 < r.widen_at <= r.stop_at <= r.reduce_only_at <= 1):
        reject(
            f"{p}.widen_at/stop_at/reduce_only_at",
            (r.widen_at, r.stop_at, r.reduce_only_at),
            "must satisfy 0 < widen_at <= stop_at <= reduce_only_at <= 1",
        )
    if r.widen_mult < 1:
        reject(f"{p}.widen_mult", r.widen_mult, "must be >= 1")
    if not (
        math.isfinite(r.unwind_at) and math.isfinite(r.emergency_at) and r.reduce_only_at <= r.unwind_at <= r.emergency_at <= 10
    ):
        reject(
            f"{p}.unwind_at/emergency_at",
            (r.unwind_at, r.emergency_at),
            "must satisfy reduce_only_at <= unwind_at <= emergency_at <= 10",
        )
    if not (math.isfinite(r.emergency_slippage_bp) and 1 <= r.emergency_slippage_bp <= 500):
        reject(f"{p}.emergency_slippage_bp", r.emergency_slippage_bp, "must be a number of bp from 1 to 500")
    if not (math.isfinite(r.emergency_cooldown_s) and 0.1 <= r.emergency_cooldown_s <= 3600):
        reject(f"{p}.emergency_cooldown_s", r.emergency_cooldown_s, "must be a number of seconds from 0.1 to 3600")
    _validate_margin(p, r)


def _validate_margin(p: str, r: RiskConfig) -> None:
    if not (isinstance(r.leverage, int) and 1 <= r.leverage <= 50):
        reject(f"{p}.leverage", r.leverage, "must be an integer from 1 to 50")
    _fraction(f"{p}.max_margin_ratio", r.max_margin_ratio)
    if not (math.isfinite(r.min_liquidation_distance_pct) and 0 <= r.min_liquidation_distance_pct < 100):
        reject(f"{p}.min_liquidation_distance_pct", r.min_liquidation_distance_pct, "must be a percentage in [0, 100)")


def _validate_portfolio_limits(cfg: Config) -> None:
    pf = cfg.portfolio
    if not (isinstance(pf.max_exposure_pct, (int, float)) and 0 < pf.max_exposure_pct <= 10):
        reject(
            "portfolio.max_exposure_pct",
            pf.max_exposure_pct,
            "must be > 0 and <= 10 (total |inventory| as a share of capital; 0.4 = 40%)",
        )
    _fraction("portfolio.drawdown_stop_pct", pf.drawdown_stop_pct)
    if pf.max_concurrent_assets < 1:
        reject("portfolio.max_concurrent_assets", pf.max_concurrent_assets, "must be an integer >= 1")


def _range(path: str, r: tuple[float, float]) -> None:
    if not (len(r) == 2 and all(math.isfinite(x) for x in r) and r[0] < r[1]):
        reject(path, list(r), "must be [lo, hi] with finite lo < hi")


def _validate_allocation(cfg: Config) -> None:
    a = cfg.allocation
    p = "allocation"
    for name in ("period_s", "window_s", "sample_s", "report_s"):
        _positive(f"{p}.{name}", getattr(a, name))
    if a.window_s < a.period_s:
        reject(f"{p}.window_s", a.window_s, f"must be >= period_s ({a.period_s:g})")
    if not (a.sample_s <= a.report_s <= a.period_s):
        reject(f"{p}.report_s", a.report_s, f"must be >= sample_s ({a.sample_s:g}) and <= period_s ({a.period_s:g})")
    if not (0 <= a.min_history_s <= a.window_s):
        reject(f"{p}.min_history_s", a.min_history_s, f"must be >= 0 and <= window_s ({a.window_s:g})")
    if any(not (math.isfinite(w) and w >= 0) for w in a.weights) or abs(sum(a.weights) - 1.0) > 1e-9:
        reject(
            f"{p}.weights", list(a.weights), "must be four weights >= 0 (sharpe, return, drawdown, consistency) adding up to 1"
        )
    for name in ("sharpe_range", "return_range", "drawdown_range", "consistency_range"):
        _range(f"{p}.{name}", getattr(a, name))
    if a.drawdown_range[0] < 0:
        reject(f"{p}.drawdown_range", list(a.drawdown_range), "must start at >= 0 (a share of capital)")
    z = a.zones
    if not (0 < z[0] < z[1] < z[2] < 1):
        reject(f"{p}.zones", list(z), "must be [pause, punish, hold] boundaries with 0 < pause < punish < hold < 1")
    gap = min(z[0], z[1] - z[0], z[2] - z[1], 1 - z[2])
    if not (0 <= a.hysteresis < gap / 2):
        reject(f"{p}.hysteresis", a.hysteresis, f"must be >= 0 and < half the narrowest zone ({gap / 2:g})")
    for zone in ("reward", "hold", "punish", "pause"):
        m = getattr(a, zone)
        for f in ("size", "spread", "max_position"):
            v = getattr(m, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 10):
                reject(f"{p}.{zone}.{f}", v, "must be a multiplier > 0 and <= 10")
    for name in ("max_capital_step", "max_multiplier_step"):
        v = getattr(a, name)
        if not (0 < v < 1):
            reject(f"{p}.{name}", v, "must be a fraction in (0, 1) (0.15 = at most ±15% per period)")
    if not (math.isfinite(a.floor_usd) and a.floor_usd >= 0):
        reject(f"{p}.floor_usd", a.floor_usd, "must be >= 0")
    _fraction(f"{p}.cap_pct", a.cap_pct)
    n = max(1, min(len(cfg.portfolio.assets), cfg.portfolio.max_concurrent_assets))
    if a.floor_usd * n > cfg.portfolio.capital_usd:
        reject(
            f"{p}.floor_usd",
            a.floor_usd,
            f"x {n} trading assets is more than portfolio.capital_usd ({cfg.portfolio.capital_usd:g})",
        )
    if a.cap_pct * cfg.portfolio.capital_usd < a.floor_usd:
        reject(f"{p}.cap_pct", a.cap_pct, f"leaves less than floor_usd ({a.floor_usd:g}) per asset")
    if not (0 <= a.target_at_zero < a.target_at_one):
        reject(f"{p}.target_at_one", a.target_at_one, f"must be > target_at_zero ({a.target_at_zero:g}) >= 0")
    if not (0 <= a.deadband < a.max_capital_step):
        reject(f"{p}.deadband", a.deadband, f"must be >= 0 and < max_capital_step ({a.max_capital_step:g})")
    if not (math.isfinite(a.min_t_stat) and a.min_t_stat >= 0):
        reject(f"{p}.min_t_stat", a.min_t_stat, "must be >= 0 (standard errors; 0: no evidence needed)")
    _positive(f"{p}.evidence_block_s", a.evidence_block_s)


def _validate_episodes(p: str, m: MarketConfig) -> None:
    for i, e in enumerate(m.episodes):
        q = f"{p}.episodes[{i}]"
        if not (math.isfinite(e.start_s) and e.start_s >= 0):
            reject(f"{q}.start_s", e.start_s, "must be >= 0 (simulated seconds from the start)")
        if not (math.isfinite(e.end_s) and e.end_s > e.start_s):
            reject(f"{q}.end_s", e.end_s, f"must be > start_s ({e.start_s:g})")
        if e.regime and e.regime not in SIM_REGIMES:
            reject(f"{q}.regime", e.regime, f"must be one of {list(SIM_REGIMES)} (or empty: keep the market's)")
        if e.informed_share is not None and not (0 <= e.informed_share <= 1):
            reject(f"{q}.informed_share", e.informed_share, "must be a fraction in [0, 1]")
        if e.trend_bp_per_min is not None and not (math.isfinite(e.trend_bp_per_min) and e.trend_bp_per_min >= 0):
            reject(f"{q}.trend_bp_per_min", e.trend_bp_per_min, "must be >= 0")
        if not m.regimes:
            reject(f"{q}", "episode", f"needs {p}.regimes = true (episodes override the regime model)")
        if i and e.start_s < m.episodes[i - 1].end_s:
            reject(f"{q}.start_s", e.start_s, f"must be >= the previous episode's end_s ({m.episodes[i - 1].end_s:g})")


def _validate_tuning(cfg: Config) -> None:
    """[compute], [reoptimize] and each asset's quoting.learned."""
    c = cfg.compute
    if c.workers < 0 or c.num_cpus < 0:
        reject("compute.workers", (c.workers, c.num_cpus), "workers and num_cpus must be >= 0")
    if c.backend == "ray" and not c.ray_address:
        reject("compute.ray_address", c.ray_address, 'must name a cluster (or "local") when backend = "ray"')
    r = cfg.reoptimize
    for name in ("every_h", "window_h"):
        _positive(f"reoptimize.{name}", getattr(r, name))
    if not (0 < r.holdout_share < 1):
        reject("reoptimize.holdout_share", r.holdout_share, "must be between 0 and 1 (exclusive)")
    if not (math.isfinite(r.margin) and r.margin >= 0):
        reject("reoptimize.margin", r.margin, "must be a finite number >= 0")
    if not (math.isfinite(r.max_step) and 0 < r.max_step <= 1):
        reject("reoptimize.max_step", r.max_step, "must be a fraction in (0, 1]")
    if r.trials < 1:
        reject("reoptimize.trials", r.trials, "must be >= 1")
    for name, a in [("quoting", cfg.quoting)] + [(f"assets.{n}.quoting", x.quoting) for n, x in cfg.assets.items()]:
        lc = a.learned
        for key in ("adverse_threshold", "pull_threshold"):
            v = getattr(lc, key)
            if not (math.isfinite(v) and 0 < v <= 1):
                reject(f"{name}.learned.{key}", v, "must be a probability in (0, 1]")
        if lc.pull_threshold < lc.adverse_threshold:
            reject(f"{name}.learned.pull_threshold", lc.pull_threshold, "must be >= adverse_threshold")
        if not (math.isfinite(lc.widen_mult) and lc.widen_mult >= 1):
            reject(f"{name}.learned.widen_mult", lc.widen_mult, "must be a finite number >= 1")
        if lc.enabled and not (lc.model_path and os.path.isfile(lc.model_path)):
            reject(
                f"{name}.learned.model_path",
                lc.model_path,
                "must name an existing model file (makerhive train-model) when learned.enabled",
            )


def validate(cfg: Config) -> None:
    if cfg.run.speed <= 0 or cfg.run.speed > 1000:
        reject("run.speed", cfg.run.speed, "must be > 0 and <= 1000")
    if cfg.run.pin_cpu < -1:
        reject("run.pin_cpu", cfg.run.pin_cpu, "must be a CPU number >= 0, or -1 for no pinning")
    if not (0 < cfg.run.view_fps <= 30):
        reject("run.view_fps", cfg.run.view_fps, "must be > 0 and <= 30")
    _positive("portfolio.capital_usd", cfg.portfolio.capital_usd)
    _validate_portfolio_limits(cfg)
    _validate_allocation(cfg)
    _validate_alerts(cfg)
    _validate_tuning(cfg)
    dms = cfg.dead_mans_switch
    if dms.window_s < cfg.sim.schedule_cancel_min_ahead_s:
        reject(
            "dead_mans_switch.window_s",
            dms.window_s,
            f"must be at least {cfg.sim.schedule_cancel_min_ahead_s:g} s (the venue refuses a closer cancel)",
        )
    if not (0 < dms.renew_every_s < dms.window_s):
        reject("dead_mans_switch.renew_every_s", dms.renew_every_s, f"must be > 0 and < window_s ({dms.window_s:g})")
    if not cfg.remote.url.startswith(("ws://", "wss://")):
        reject("remote.url", cfg.remote.url, "must be a ws:// or wss:// URL")
    hl = cfg.venue.hyperliquid
    for name in ("base_url",):
        url = getattr(hl, name)
        if url and not url.startswith(("http://", "https://")):
            reject(f"venue.hyperliquid.{name}", url, "must be an http:// or https:// URL (or empty for the network's)")
    if hl.ws_url and not hl.ws_url.startswith(("ws://", "wss://")):
        reject("venue.hyperliquid.ws_url", hl.ws_url, "must be a ws:// or wss:// URL (or empty: derived from base_url)")
    for name in ("account_address", "vault_address"):
        addr = getattr(hl, name)
        if addr and not _is_address(addr):
            reject(f"venue.hyperliquid.{name}", addr, "must be a 0x-prefixed 40-hex-digit address (or empty)")
    for name in ("request_timeout_s", "ping_every_s", "stall_s"):
        _positive(f"venue.hyperliquid.{name}", getattr(hl, name))
    if hl.ping_every_s >= 60:
        reject("venue.hyperliquid.ping_every_s", hl.ping_every_s, "must be < 60 (the server drops a connection idle for 60 s)")
    if hl.expires_after_s < 0:
        reject("venue.hyperliquid.expires_after_s", hl.expires_after_s, "must be >= 0 (0: no expiresAfter)")
    if not cfg.portfolio.assets:
        reject("portfolio.assets", [], "must name at least one asset")
    if len(set(cfg.portfolio.assets)) != len(cfg.portfolio.assets):
        reject("portfolio.assets", list(cfg.portfolio.assets), "must not repeat an asset")
    s = cfg.supervision
    if s.intensity < 0:
        reject("supervision.intensity", s.intensity, "must be >= 0")
    if s.quarantine_after < 1:
        reject("supervision.quarantine_after", s.quarantine_after, "must be an integer >= 1")
    for name in (
        "period_s",
        "tree_backoff_s",
        "tree_backoff_max_s",
        "shutdown_timeout_s",
        "start_timeout_s",
        "tick_s",
        "quarantine_window_s",
        "handler_budget_s",
        "tree_handler_budget_s",
    ):
        _positive(f"supervision.{name}", getattr(s, name))
    sim = cfg.sim
    for name in ("step_s", "book_interval_s"):
        _positive(f"sim.{name}", getattr(sim, name))
    for name in ("order_latency_ms", "ack_latency_ms", "feed_latency_ms"):
        if getattr(sim, name) < 0:
            reject(f"sim.{name}", getattr(sim, name), "must be >= 0")
    if sim.book_levels < 1:
        reject("sim.book_levels", sim.book_levels, "must be >= 1")
    if sim.queue_power <= 0:
        reject("sim.queue_power", sim.queue_power, "must be > 0")
    for name in ("open_order_cap", "address_budget_initial", "ip_weight_per_minute", "schedule_cancel_triggers_per_day"):
        if getattr(sim, name) < 1:
            reject(f"sim.{name}", getattr(sim, name), "must be an integer >= 1")
    _positive("sim.funding_interval_s", sim.funding_interval_s)
    if not -1 <= sim.fee_tier <= 6:
        reject("sim.fee_tier", sim.fee_tier, "must be one of Hyperliquid's perps tiers 0..6, or -1 (maker_fee/taker_fee)")
    _validate_quoting("quoting", cfg.quoting)
    _validate_risk("risk", cfg.risk)
    share = cfg.capital_share()
    for name in cfg.portfolio.assets:
        if name not in cfg.assets:
            reject(
                "portfolio.assets",
                list(cfg.portfolio.assets),
                f"names {name!r} but there is no [assets.{name}] section (have: {sorted(cfg.assets)})",
            )
    for name, a in cfg.assets.items():
        p = f"assets.{name}"
        m = a.market
        for f in ("price", "sigma_bp", "taker_rate", "taker_k_per_bp", "taker_size_usd", "depth_usd", "book_spread_bp"):
            _positive(f"{p}.market.{f}", getattr(m, f))
        for f in ("book_spread_ticks", "cancel_rate", "maker_lag_s", "arb_edge_bp", "arb_delay_s"):
            _positive(f"{p}.market.{f}", getattr(m, f))
        for f, zero in (("maker_order_usd", "depth_usd / 4"), ("trade_rate", "taker_rate"), ("trade_size_usd", "taker_size_usd")):
            if not (math.isfinite(getattr(m, f)) and getattr(m, f) >= 0):
                reject(f"{p}.market.{f}", getattr(m, f), f"must be a finite number >= 0 (0: {zero})")
        if not (0 <= m.informed_share <= 1):
            reject(f"{p}.market.informed_share", m.informed_share, "must be a fraction in [0, 1]")
        if m.size_tail_alpha <= 1:
            reject(f"{p}.market.size_tail_alpha", m.size_tail_alpha, "must be > 1 (a finite mean size)")
        for f in ("jump_rate_per_hour", "jump_bp", "trend_bp_per_min", "funding_vol"):
            if getattr(m, f) < 0:
                reject(f"{p}.market.{f}", getattr(m, f), "must be >= 0")
        if not (0 <= m.sz_decimals <= 6):
            reject(f"{p}.market.sz_decimals", m.sz_decimals, "must be an integer from 0 to 6")
        _validate_episodes(f"{p}.market", m)
        _validate_quoting(f"{p}.quoting", a.quoting)
        _validate_risk(f"{p}.risk", a.risk)
        q, r = a.quoting, a.risk
        limit = min(r.max_position_usd, r.max_position_pct * share)
        per_side = q.order_size_usd * sum(q.level_size_mult)
        if per_side > limit:
            reject(
                f"{p}.quoting.order_size_usd",
                q.order_size_usd,
                f"the ladder rests ${per_side:,.0f} per side, more than the position limit "
                f"${limit:,.0f} (min of risk.max_position_usd and risk.max_position_pct x capital ${share:,.0f})",
            )
        lot_usd = m.price * 10 ** (-m.sz_decimals)
        if lot_usd > q.order_size_usd:
            reject(
                f"{p}.quoting.order_size_usd",
                q.order_size_usd,
                f"must be at least one lot of {name} (${lot_usd:,.2f} at price {m.price})",
            )


def _validate_alerts(cfg: Config) -> None:
    """The [alerts] section; a bad URL is named, never echoed (webhook URLs are secrets)."""
    a = cfg.alerts
    for name in ("discord_url", "slack_url", "telegram_api"):
        url = getattr(a, name)
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"alerts.{name}: must be an http:// or https:// URL (the value is not shown: webhook URLs are secrets)"
            )
    for name in ("min_interval_s", "timeout_s"):
        _positive(f"alerts.{name}", getattr(a, name))
    if a.max_per_minute < 1:
        reject("alerts.max_per_minute", a.max_per_minute, "must be at least 1")
    if not 0 <= a.retries <= 10:
        reject("alerts.retries", a.retries, "must be 0..10")
    if not (a.digest_every_s == 0 or a.digest_every_s >= 1):
        reject("alerts.digest_every_s", a.digest_every_s, "must be 0 (no digest) or at least 1 s")


def _is_address(text: str) -> bool:
    if len(text) != 42 or not text.startswith("0x"):
        return False
    try:
        int(text[2:], 16)
    except ValueError:
        return False
    return True
