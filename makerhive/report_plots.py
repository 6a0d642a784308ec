"""The report's PNG plots (matplotlib, Agg: no display needed): equity with drawdown
shading, inventory with its limit lines, price with our fills marked, markout curves."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from makerhive.journal import MARKOUT_HORIZONS_S, read_rows
from makerhive.report_series import position_series


def plot_all(journal: Path, report: dict[str, Any], out: Path) -> list[str]:
    run, assets = report["run_id"], report["assets"]
    series = {a: position_series(journal, run, a) for a in assets}
    paths = [_equity(report, series, out / "equity.png"), _inventory(assets, series, out / "inventory.png"),
             _price_fills(journal, run, assets, series, out / "price_fills.png"),
             _markouts(report, out / "markouts.png")]
    return [str(p) for p in paths]


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _equity(report: dict[str, Any], series: dict[str, dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(10, 5))
    curve = report["total"]["equity_curve"]
    ts, eq = np.array(curve["ts"], dtype=float), np.array(curve["net_pnl"], dtype=float)
    if ts.size:
        peak = np.maximum.accumulate(eq)
        ax.fill_between(ts, eq, peak, where=eq < peak, color="tab:red", alpha=0.25, label="drawdown")
        ax.plot(ts, eq, color="black", lw=1.5, label="total")
    for a, s in series.items():
        ok = ~np.isnan(s["net_pnl"])
        ax.plot(s["ts"][ok], s["net_pnl"][ok], lw=0.8, label=a)
    ax.set_title("net PnL (USD)")
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def _inventory(assets: list[str], series: dict[str, dict], path: Path) -> Path:
    fig, axes = plt.subplots(len(assets) or 1, 1, figsize=(10, 1.8 * max(len(assets), 1) + 1), squeeze=False)
    for ax, a in zip(axes[:, 0], assets):
        s = series[a]
        ok = ~np.isnan(s["inventory_usd"])
        ax.plot(s["ts"][ok], s["inventory_usd"][ok], lw=0.8)
        limits = s["limit_usd"][~np.isnan(s["limit_usd"])]
        if limits.size:
            ax.axhline(float(limits[-1]), color="tab:red", ls="--", lw=0.8)
            ax.axhline(-float(limits[-1]), color="tab:red", ls="--", lw=0.8)
        ax.set_ylabel(f"{a} $", fontsize=8)
    axes[0, 0].set_title("inventory (USD) and its limit")
    return _save(fig, path)


def _price_fills(journal: Path, run: int, assets: list[str], series: dict[str, dict], path: Path) -> Path:
    fig, axes = plt.subplots(len(assets) or 1, 1, figsize=(10, 1.8 * max(len(assets), 1) + 1), squeeze=False)
    for ax, a in zip(axes[:, 0], assets):
        s = series[a]
        ok = ~np.isnan(s["mid"])
        ax.plot(s["ts"][ok], s["mid"][ok], color="grey", lw=0.7)
        fills = read_rows(journal, "SELECT ts, side, px FROM fills WHERE run_id = ? AND asset = ?", (run, a))
        for side, marker, color in (("B", "^", "tab:green"), ("A", "v", "tab:red")):
            pts = [(f[0], f[2]) for f in fills if f[1] == side]
            if pts:
                ax.scatter(*zip(*pts), marker=marker, color=color, s=12)
        ax.set_ylabel(a, fontsize=8)
    axes[0, 0].set_title("price with our fills (^ bought, v sold)")
    return _save(fig, path)


def _markouts(report: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    hs = [f"{h:g}s" for h in MARKOUT_HORIZONS_S]
    for name, m in [("total", report["total"])] + list(report["per_asset"].items()):
        pts = [(h, m["markout_bp"][k]) for h, k in zip(MARKOUT_HORIZONS_S, hs) if m["markout_bp"][k] is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", lw=2 if name == "total" else 0.8, label=name)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("horizon (s)")
    ax.set_ylabel("markout (bp, + = in our favour)")
    ax.legend(fontsize=7)
    return _save(fig, path)
