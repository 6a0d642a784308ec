"""``makerhive report``: one run of the journal as figures (report.json) and plots.

The same for a live run and a backtest: everything comes from the journal's fills,
orders, positions and funding. Net PnL is the run's last position snapshot (the exit
summary's, marked at the venue's last mid); its attribution: spread capture (each
fill's edge against the fair price at the fill), fees, funding, and inventory (the rest:
what the position won or lost as the price moved). Sharpe and Sortino are mean over
(downside) deviation of 1-minute PnL changes x sqrt(number of minutes), not annualised.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from makerhive.journal import MARKOUT_COLUMNS, MARKOUT_HORIZONS_S, read_rows
from makerhive.report_series import position_series

RATIO_METHOD = "mean / (downside) std of 1-minute PnL changes x sqrt(number of minutes), not annualised"


def latest_run(path: str | Path) -> int:
    rows = read_rows(path, "SELECT max(run_id) FROM runs")
    if not rows or rows[0][0] is None:
        raise ValueError(f"{path}: the journal holds no run")
    return int(rows[0][0])


def _grid(ts: np.ndarray, value: np.ndarray, step: float = 60.0) -> np.ndarray:
    """The series' last value at every whole ``step`` from its start (and its end)."""
    if ts.size == 0:
        return np.zeros(0)
    points = np.append(np.arange(ts[0], ts[-1], step), ts[-1])
    idx = np.searchsorted(ts, points, side="right") - 1
    return value[np.maximum(idx, 0)]


def _ratios(changes: np.ndarray) -> tuple[float | None, float | None]:
    if changes.size < 2:
        return None, None
    mean, sd = float(np.mean(changes)), float(np.std(changes, ddof=1))
    down = changes[changes < 0]
    dsd = float(np.sqrt(np.mean(np.square(down)))) if down.size else 0.0
    n = math.sqrt(changes.size)
    return (mean / sd * n if sd > 0 else None), (mean / dsd * n if dsd > 0 else None)


def _drawdown(ts: np.ndarray, equity: np.ndarray) -> tuple[float, float]:
    """The deepest fall from a previous peak (USD) and the longest time spent below one (s)."""
    if equity.size == 0:
        return 0.0, 0.0
    peak = np.maximum.accumulate(equity)
    longest, since = 0.0, None
    for t, e, p in zip(ts, equity, peak):
        if e < p - 1e-12:
            since = t if since is None else since
            longest = max(longest, t - since)
        else:
            since = None
    return float(np.max(peak - equity)), float(longest)


def _order_counts(path: Path, run: int, asset: str, info: dict) -> tuple[int, int, int]:
    """Placements, cancels and modifies: the journal's order rows, or a backtest's
    counters. A modify puts an order on the book and takes one off, as one action."""
    rows = read_rows(path, "SELECT action, count(*) FROM orders WHERE run_id = ? AND asset = ? GROUP BY action",
                     (run, asset))
    if rows:
        n = dict((r[0], r[1]) for r in rows)
        mods = n.get("modify", 0)
        return n.get("place", 0) + mods, n.get("cancel", 0) + mods, mods
    c = info.get("orders", {}).get(asset, {})
    return int(c.get("orders", 0)), int(c.get("cancels", 0)), 0


def _metrics(fills: list, series: dict[str, np.ndarray], funding: float, placed: int, cancels: int,
             modifies: int = 0) -> dict[str, Any]:
    spread = fees = volume = 0.0
    cash = position = 0.0
    for f in fills:
        sign = 1.0 if f["side"] == "B" else -1.0
        if f["fair_px"] is not None:
            spread += sign * (f["fair_px"] - f["px"]) * f["sz"]
        fees += f["fee"]
        volume += f["px"] * f["sz"]
        cash -= sign * f["px"] * f["sz"]
        position += sign * f["sz"]
    ok = ~np.isnan(series["net_pnl"])
    ts, eq = series["ts"][ok], series["net_pnl"][ok]
    if eq.size:
        net = float(eq[-1])
    else:  # no snapshot: the fills, marked at the last fill price
        net = cash - fees + funding + (position * fills[-1]["px"] if fills else 0.0)
    sharpe, sortino = _ratios(np.diff(_grid(ts, eq)))
    max_dd, dd_s = _drawdown(ts, eq)
    markouts = {}
    for h, col in zip(MARKOUT_HORIZONS_S, MARKOUT_COLUMNS):
        vals = [f[col] for f in fills if f[col] is not None]
        markouts[f"{h:g}s"] = sum(vals) / len(vals) if vals else None
    return {
        "net_pnl": net, "bp_per_notional": net / volume * 1e4 if volume else None,
        "sharpe": sharpe, "sortino": sortino, "max_drawdown": max_dd, "drawdown_duration_s": dd_s,
        "fills": len(fills), "fills_buy": sum(1 for f in fills if f["side"] == "B"), "volume_usd": volume,
        "attribution": {"spread_capture": spread, "fees": -fees, "funding": funding,
                        "inventory": net - spread + fees - funding},
        "markout_bp": markouts,
        "orders_placed": placed, "cancels": cancels, "modifies": modifies,
        "actions_per_usdc": (placed + cancels - modifies) / volume if volume else None,
        "fill_rate": len(fills) / placed if placed else None,
    }


def _per_day(fills: list, series: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Net PnL change, fills and volume per day (of the run's clock)."""
    ok = ~np.isnan(series["net_pnl"])
    ts, eq = series["ts"][ok], series["net_pnl"][ok]
    days = sorted({int(t // 86400) for t in ts} | {int(f["ts"] // 86400) for f in fills})
    out, prev = [], 0.0
    for d in days:
        in_day = eq[(ts >= d * 86400) & (ts < (d + 1) * 86400)]
        end = float(in_day[-1]) if in_day.size else prev
        fs = [f for f in fills if int(f["ts"] // 86400) == d]
        out.append({"day": d, "net_pnl": end - prev, "fills": len(fs), "volume_usd": sum(f["px"] * f["sz"] for f in fs)})
        prev = end
    return out


def build_report(path: str | Path, run: int | None = None) -> dict[str, Any]:
    path = Path(path)
    run = latest_run(path) if run is None else run
    meta = read_rows(path, "SELECT kind, venue, seed, assets, capital_usd, info, started_utc FROM runs "
                           "WHERE run_id = ?", (run,))
    if not meta:
        raise ValueError(f"{path}: no run {run}")
    kind, venue, seed, assets_text, capital, info_text, started = meta[0]
    info = json.loads(info_text) if info_text else {}
    assets = [a for a in (assets_text or "").split(",") if a]
    per: dict[str, Any] = {}
    all_fills: list = []
    series_of: dict[str, dict[str, np.ndarray]] = {}
    for a in assets:
        fills = [dict(r) for r in read_rows(path, "SELECT * FROM fills WHERE run_id = ? AND asset = ? ORDER BY ts, tid",
                                            (run, a))]
        funding = read_rows(path, "SELECT coalesce(sum(usd), 0) FROM funding WHERE run_id = ? AND asset = ?",
                            (run, a))[0][0]
        placed, cancels, modifies = _order_counts(path, run, a, info)
        series_of[a] = s = position_series(path, run, a)
        per[a] = _metrics(fills, s, float(funding), placed, cancels, modifies)
        per[a]["per_day"] = _per_day(fills, s)
        all_fills += fills
    total = _total(per, series_of, all_fills)
    return {"journal": str(path), "run_id": run, "kind": kind, "venue": venue, "seed": seed, "started_utc": started,
            "capital_usd": capital, "assets": assets, "ratio_method": RATIO_METHOD, "total": total,
            "per_asset": per}


def _total(per: dict[str, Any], series_of: dict[str, dict[str, np.ndarray]], fills: list) -> dict[str, Any]:
    """Sums where they add up; ratios and drawdowns of the summed equity on a 1 s grid."""
    add = ("net_pnl", "fills", "fills_buy", "volume_usd", "orders_placed", "cancels", "modifies")
    t = {k: sum(p[k] for p in per.values()) for k in add}
    t["attribution"] = {k: sum(p["attribution"][k] for p in per.values())
                        for k in ("spread_capture", "fees", "funding", "inventory")}
    good = [s for s in series_of.values() if np.any(~np.isnan(s["net_pnl"]))]
    if good:
        start = min(float(s["ts"][0]) for s in good)
        end = max(float(s["ts"][-1]) for s in good)
        grid = np.append(np.arange(start, end, 1.0), end)
        eq = np.zeros(grid.size)
        for s in good:
            ok = ~np.isnan(s["net_pnl"])
            ts, v = s["ts"][ok], s["net_pnl"][ok]
            idx = np.searchsorted(ts, grid, side="right") - 1
            eq += np.where(idx >= 0, v[np.maximum(idx, 0)], 0.0)
    else:
        grid = eq = np.zeros(0)
    t["sharpe"], t["sortino"] = _ratios(np.diff(_grid(grid, eq)))
    t["max_drawdown"], t["drawdown_duration_s"] = _drawdown(grid, eq)
    v = t["volume_usd"]
    t["bp_per_notional"] = t["net_pnl"] / v * 1e4 if v else None
    t["actions_per_usdc"] = (t["orders_placed"] + t["cancels"] - t["modifies"]) / v if v else None
    t["fill_rate"] = t["fills"] / t["orders_placed"] if t["orders_placed"] else None
    t["markout_bp"] = {}
    for h, col in zip(MARKOUT_HORIZONS_S, MARKOUT_COLUMNS):
        vals = [f[col] for f in fills if f[col] is not None]
        t["markout_bp"][f"{h:g}s"] = sum(vals) / len(vals) if vals else None
    t["equity_curve"] = {"ts": grid.tolist()[:: max(1, grid.size // 2000)],
                         "net_pnl": eq.tolist()[:: max(1, grid.size // 2000)]}
    return t


def write_report(journal: str | Path, out_dir: str | Path, run: int | None = None) -> dict[str, Any]:
    """DIR/report.json and the plots (equity, inventory, price_fills, markouts .png)."""
    from makerhive import report_plots

    report = build_report(journal, run)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = report_plots.plot_all(Path(journal), report, out)
    report = _clean(report)
    (out / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    return report


def _clean(x: Any) -> Any:
    """Plain JSON: numpy numbers as Python's, NaN and infinities as null."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
