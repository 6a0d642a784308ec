"""From a backtest's record to the figures a market maker is judged by.

Per asset and for the portfolio (``"total"``):

- **net PnL** = cash flow of the fills − fees + funding + position·final mid: the
  venue's own accounting, recomputed from the fills (``engine_pnl`` is the engine's
  figure, ``accounting_diff`` the difference: zero to the cent).
- **attribution**: net = spread capture − fees + funding + inventory PnL.
  *Spread capture* = Σ over fills of the edge against the engine's mid at the fill,
  size-weighted: (mid − px)·sz for a buy, (px − mid)·sz for a sell. That is
  Σ |px − mid|·sz for every fill on our side of the mid; a fill on the wrong side (the
  mid jumped through a resting order, or moved between the quote and the fill) counts
  negative instead of pretending it earned (``fills_through_mid`` says how many;
  ``spread_capture_abs`` is the unsigned Σ |px − mid|·sz, for reference only).
  *Fees* are what was paid (negative: rebates). *Funding* is what the engine's
  Funding events paid us (0 without them). *Inventory PnL* is the rest,
  net − spread capture + fees − funding: what holding the position while the mid
  moved made or lost.
- **sharpe**: mean / std (ddof 1) of the 1-minute changes of equity, times √(number of
  whole minutes): a per-run t-statistic, not annualised (``sharpe_1m`` is mean / std).
- **max drawdown**: largest fall of equity from a running peak, from the 1 s samples.
- **costs**: ``bp_per_notional`` = net PnL / traded notional × 1e4 (after fees),
  ``actions_per_usd`` = (orders + cancels) / traded notional, ``alo_reject_rate`` =
  post-only rejects / placements sent, ``budget_rejects`` = placements refused for the
  address action budget; ``sweeps``: prints beyond the touch that pulled a side of ours
  for a moment (``quoting.sweep_guard``).
- **execution**: fills per side, fill rate (fills / orders sent), cancel-to-fill
  ratio, actions per fill ((orders + cancels sent) / fills, Hyperliquid's address
  budget), markouts at 1 / 5 / 30 s (mean mid move after a fill in our favour's sign,
  bp: positive = the market went our way), inventory distribution (percentiles of
  |position·mid| sampled every second, USD).
- **fills_by_taker** (order-book markets): our fills by the taker that made them
  (uninformed, informed, arbitrage; "ours" for the emergency unwind's IOC fills, where
  we were the taker), with their notional and capture against the engine's mid at the
  fill, bp before fees; ``ioc_fills`` counts those IOC fills.

``render_table`` draws it with rich, ``to_json`` writes it, ``plot`` draws equity and
inventory over time to a PNG (matplotlib, Agg).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from backtest.record import MARKOUT_HORIZONS_S, AssetRecord, BacktestResult, FillRecord

INVENTORY_PCTS = (50, 90, 99)
SHARPE_METHOD = "mean/std of 1-minute PnL changes x sqrt(number of minutes), not annualised"


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _minute_changes(ts: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """Equity changes over each whole simulated minute (samples are 1 s apart from 0)."""
    if equity.size == 0:
        return np.zeros(0)
    minutes = int(math.floor(ts[-1] / 60.0 + 1e-9))
    idx = np.searchsorted(ts, np.arange(minutes + 1) * 60.0 - 1e-9)
    return np.diff(equity[np.minimum(idx, equity.size - 1)])


def _sharpe(changes: np.ndarray) -> tuple[float | None, float | None]:
    if changes.size < 2:
        return None, None
    sd = float(np.std(changes, ddof=1))
    if not sd > 0:
        return None, None
    one = float(np.mean(changes)) / sd
    return one * math.sqrt(changes.size), one


def _max_drawdown(equity: np.ndarray) -> float:
    if equity.size == 0:
        return 0.0
    return float(np.max(np.maximum.accumulate(equity) - equity))


def _inventory(abs_usd: np.ndarray) -> dict[str, float]:
    if abs_usd.size == 0:
        return {**{f"p{p}": 0.0 for p in INVENTORY_PCTS}, "max": 0.0, "mean": 0.0}
    out = {f"p{p}": float(np.percentile(abs_usd, p)) for p in INVENTORY_PCTS}
    out["max"] = float(abs_usd.max())
    out["mean"] = float(abs_usd.mean())
    return out


def _execution(fills: int, buys: int, orders: int, cancels: int) -> dict[str, Any]:
    return {
        "fills": fills, "fills_buy": buys, "fills_sell": fills - buys,
        "orders_sent": orders, "cancels_sent": cancels,
        "fill_rate": _ratio(fills, orders),
        "cancel_to_fill": _ratio(cancels, fills),
        "actions_per_fill": _ratio(orders + cancels, fills),
    }


def _costs(net: float, volume: float, orders: int, cancels: int, alo: int, budget: int) -> dict[str, Any]:
    """What the volume earned and what it cost in requests: the figures the evaluation compares."""
    return {
        "bp_per_notional": net / volume * 1e4 if volume > 0 else None,
        "actions_per_usd": _ratio(orders + cancels, volume),
        "alo_rejects": alo,
        "alo_reject_rate": _ratio(alo, orders),
        "budget_rejects": budget,
    }


def _curve(ts: np.ndarray, equity: np.ndarray) -> dict[str, Any]:
    sharpe, one = _sharpe(_minute_changes(ts, equity))
    return {"sharpe": sharpe, "sharpe_1m": one, "max_drawdown": _max_drawdown(equity)}


def fills_by_taker(fills: Iterable[FillRecord]) -> dict[str, dict[str, float]]:
    """Our fills by the taker that made them (order-book markets): how many, their notional,
    and their capture against the engine's (fair) mid at the fill, bp of that notional
    (before fees). Which flow a quote earns from, and which picks it off."""
    acc: dict[str, list[float]] = {}
    for f in fills:
        if not f.taker:
            continue
        a = acc.setdefault(f.taker, [0, 0.0, 0.0])
        a[0] += 1
        a[1] += f.px * f.sz
        a[2] += ((f.mid - f.px) if f.side == "B" else (f.px - f.mid)) * f.sz
    return {k: {"fills": int(n), "volume_usd": v, "capture_bp": c / v * 1e4 if v > 0 else 0.0}
            for k, (n, v, c) in sorted(acc.items())}


def asset_metrics(rec: AssetRecord, ts: np.ndarray) -> dict[str, Any]:
    spread = spread_abs = fees = volume = 0.0
    through = buys = 0
    for f in rec.fills:
        edge = (f.mid - f.px) if f.side == "B" else (f.px - f.mid)
        spread += edge * f.sz
        spread_abs += abs(edge) * f.sz
        fees += f.fee
        volume += f.px * f.sz
        through += edge < 0
        buys += f.side == "B"
    net = rec.cash + rec.position * rec.final_mid
    equity = np.asarray(rec.equity, dtype=float)
    out: dict[str, Any] = {
        "net_pnl": net,
        "spread_capture": spread,
        "spread_capture_abs": spread_abs,
        "fees": fees,
        "funding": rec.funding,
        "inventory_pnl": net - spread + fees - rec.funding,
        "engine_pnl": rec.engine_pnl,
        "accounting_diff": net - rec.engine_pnl,
        "risk_core_pnl": rec.risk_net_pnl,
        **_curve(ts, equity),
        **_execution(len(rec.fills), buys, rec.orders_sent, rec.cancels_sent),
        "markout_bp": {f"{h:g}s": _ratio(rec.markout_sum[h], rec.markout_n[h]) for h in MARKOUT_HORIZONS_S},
        "inventory_usd": _inventory(np.abs(np.asarray(rec.inventory_usd, dtype=float))),
        "final_position": rec.position,
        "final_mid": rec.final_mid,
        "volume_usd": volume,
        "fills_through_mid": through,
        "fills_by_taker": fills_by_taker(rec.fills),
        "acks": rec.acks, "rejects": rec.rejects, "cancel_misses": rec.cancel_misses, "ioc_fills": rec.ioc_fills,
        "cancel_rejects": rec.cancel_rejects, "failed_requests": rec.failed_requests,
        "funding_events": rec.funding_events,
        "book_events": rec.book_events, "level_events": rec.level_events, "trade_events": rec.trade_events,
        "stalls": rec.stalls, "sweeps": rec.sweeps,
    }
    out.update(_costs(net, volume, rec.orders_sent, rec.cancels_sent, rec.alo_rejects, rec.budget_rejects))
    if rec.other_events:
        out["other_venue_events"] = dict(rec.other_events)
    return out


def _total(per: dict[str, dict[str, Any]], result: BacktestResult, ts: np.ndarray) -> dict[str, Any]:
    recs = list(result.records.values())
    s = {k: sum(p[k] for p in per.values()) for k in
         ("net_pnl", "spread_capture", "spread_capture_abs", "fees", "funding", "inventory_pnl", "engine_pnl",
          "risk_core_pnl", "volume_usd", "fills_through_mid", "acks", "rejects", "cancel_misses", "ioc_fills",
          "cancel_rejects", "failed_requests", "funding_events",
          "book_events", "level_events", "trade_events", "stalls", "sweeps")}
    s["accounting_diff"] = s["net_pnl"] - s["engine_pnl"]
    equity = np.sum([np.asarray(r.equity, dtype=float) for r in recs], axis=0)
    gross = np.sum([np.abs(np.asarray(r.inventory_usd, dtype=float)) for r in recs], axis=0)
    fills = sum(p["fills"] for p in per.values())
    buys = sum(p["fills_buy"] for p in per.values())
    return {
        **s, **_curve(ts, equity),
        **_execution(fills, buys, sum(r.orders_sent for r in recs), sum(r.cancels_sent for r in recs)),
        "markout_bp": {f"{h:g}s": _ratio(sum(r.markout_sum[h] for r in recs), sum(r.markout_n[h] for r in recs))
                       for h in MARKOUT_HORIZONS_S},
        "inventory_usd": _inventory(gross),  # gross: Σ over assets of |position·mid|
        "fills_by_taker": fills_by_taker(f for r in recs for f in r.fills),
        **_costs(s["net_pnl"], s["volume_usd"], sum(r.orders_sent for r in recs), sum(r.cancels_sent for r in recs),
                 sum(r.alo_rejects for r in recs), sum(r.budget_rejects for r in recs)),
    }


def build_report(result: BacktestResult) -> dict[str, Any]:
    ts = np.asarray(result.sample_ts, dtype=float)
    per = {a: asset_metrics(result.records[a], ts) for a in result.assets}
    return {
        "seed": result.seed,
        "duration_s": result.duration_s,
        "assets": list(result.assets),
        "capital_usd": result.capital_usd,
        "capital_per_asset": {a: result.records[a].capital for a in result.assets},  # the first allocation
        "latency": result.latency,
        "steps": result.steps,
        "events": result.events,
        "sharpe_method": SHARPE_METHOD,
        "per_asset": per,
        "total": _total(per, result, ts),
    }


def to_json(report: dict[str, Any], path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(report, indent=2, allow_nan=False, default=_plain))


def _plain(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    raise TypeError(f"not JSON: {type(x).__name__}")


# -- the terminal table ---------------------------------------------------------------------
def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


_ROWS: tuple[tuple[str, Any, int], ...] = (
    ("net PnL $", "net_pnl", 2),
    ("  spread capture $", "spread_capture", 2),
    ("  fees $ (− rebates)", "fees", 2),
    ("  funding $", "funding", 2),
    ("  inventory PnL $", "inventory_pnl", 2),
    ("engine PnL $", "engine_pnl", 2),
    ("sharpe (1m, ×√n)", "sharpe", 2),
    ("max drawdown $", "max_drawdown", 2),
    ("fills buy", "fills_buy", 0),
    ("fills sell", "fills_sell", 0),
    ("fill rate", "fill_rate", 3),
    ("cancel / fill", "cancel_to_fill", 1),
    ("actions / fill", "actions_per_fill", 1),
    ("markout 1s bp", ("markout_bp", "1s"), 2),
    ("markout 5s bp", ("markout_bp", "5s"), 2),
    ("markout 30s bp", ("markout_bp", "30s"), 2),
    ("|inv| p50 $", ("inventory_usd", "p50"), 0),
    ("|inv| p90 $", ("inventory_usd", "p90"), 0),
    ("|inv| p99 $", ("inventory_usd", "p99"), 0),
    ("|inv| max $", ("inventory_usd", "max"), 0),
    ("volume $", "volume_usd", 0),
    ("bp / traded notional", "bp_per_notional", 2),
    ("actions / USDC", "actions_per_usd", 3),
    ("rejects", "rejects", 0),
    ("ALO reject rate", "alo_reject_rate", 3),
    ("budget rejects", "budget_rejects", 0),
    ("sweeps pulled", "sweeps", 0),
)


def render_table(report: dict[str, Any]):  # -> rich.table.Table
    from rich.table import Table

    cols = list(report["assets"]) + ["total"]
    lat = report["latency"]
    wire = (f"{lat['order_ms']:g}/{lat['ack_ms']:g}/{lat['feed_ms']:g} ms order/ack/feed"
            if lat["order_ms"] is not None else f"{lat['profile']} latency profile")
    t = Table(title=f"backtest: {report['duration_s']:g} s, seed {report['seed']}, {wire}")
    t.add_column("metric")
    for c in cols:
        t.add_column(c, justify="right")
    for label, key, digits in _ROWS:
        row = []
        for c in cols:
            m = report["total"] if c == "total" else report["per_asset"][c]
            v = m[key[0]][key[1]] if isinstance(key, tuple) else m[key]
            if digits == 0 and isinstance(v, float):
                v = round(v)
            row.append(_fmt(v, digits))
        t.add_row(label, *row)
    return t


# -- the plot ---------------------------------------------------------------------------------
def plot(result: BacktestResult, path: str | Path) -> None:
    """Equity (per asset and total) and inventory in USD over time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = np.asarray(result.sample_ts, dtype=float) / 60.0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    total = np.zeros_like(ts)
    for a in result.assets:
        eq = np.asarray(result.records[a].equity, dtype=float)
        total += eq
        ax1.plot(ts, eq, lw=0.8, label=a)
        ax2.plot(ts, result.records[a].inventory_usd, lw=0.8, label=a)
    if len(result.assets) > 1:
        ax1.plot(ts, total, lw=1.5, color="black", label="total")
    ax1.set_ylabel("equity (USD)")
    ax1.legend(loc="upper left", fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.set_ylabel("inventory (USD)")
    ax2.set_xlabel("simulated minutes")
    ax2.axhline(0, color="grey", lw=0.5)
    ax2.grid(alpha=0.3)
    fig.suptitle(f"makerhive backtest, seed {result.seed}, {result.duration_s:g} s")
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110)
    plt.close(fig)
