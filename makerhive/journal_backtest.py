"""A backtest's result written as a run of the journal, so history and report read
backtests and live runs alike.

The backtester keeps fills (with the engine's mid), equity and inventory once a second
and per-asset counters; asked to (``Backtest.keep_orders``), every order action and
answer too. The journal gets those orders (placements, modifies, cancels, acks and
rejects with the venue's text, latencies on the backtest's clock), fills and snapshots,
the funding total as one row at the end, and the order counters in the run's ``info``.
Its markouts come from the mids it can see (fills, and samples while not flat), so they
are coarser than the backtester's own.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from makerhive.journal import FILE_NAME, Journal

_TID_BASE = 1_000_000_000  # synthetic trade ids: asset number x base + fill number


def write_backtest(result: Any, path: str | Path) -> Path:  # result: backtest.record.BacktestResult
    """Append ``result`` to the journal at ``path`` (a directory gets journal.sqlite)."""
    p = Path(path)
    if p.is_dir() or not p.suffix:
        p.mkdir(parents=True, exist_ok=True)
        p = p / FILE_NAME
    p.parent.mkdir(parents=True, exist_ok=True)
    counts = {a: {"orders": r.orders_sent, "cancels": r.cancels_sent, "rejects": r.rejects}
              for a, r in result.records.items()}
    j = Journal(p, queue_size=10_000_000)
    j.start(kind="backtest", venue="backtest", seed=result.seed, assets=result.assets,
            capital_usd=result.capital_usd, info=json.dumps({"duration_s": result.duration_s, "orders": counts}))
    for ts, asset, action in result.orders:
        j.actions(ts, asset, (action,))
    for n, asset in enumerate(result.assets):
        rec = result.records[asset]
        _fills_and_samples(j, asset, n, rec, result.sample_ts)
        if rec.funding:
            j.funding(asset, result.duration_s, float("nan"), float("nan"), rec.funding)  # the run's total
        j.position(result.duration_s, asset, position=rec.position, mid=rec.final_mid,
                   inventory_usd=rec.position * rec.final_mid, net_pnl=rec.cash + rec.position * rec.final_mid,
                   funding=rec.funding, capital=rec.capital)
    j.close(timeout=600)
    return p


def _fills_and_samples(j: Journal, asset: str, n: int, rec: Any, sample_ts: list[float]) -> None:
    """Fills and 1 s samples in time order; a sample's mid (inventory over the position
    the fills add up to) and each fill's mid resolve the markouts."""
    fills, i, position = rec.fills, 0, 0.0
    for ts, eq, inv in zip(sample_ts, rec.equity, rec.inventory_usd):
        while i < len(fills) and fills[i].ts <= ts:
            f = fills[i]
            j.mark(f.ts, asset, f.mid)
            j.fill(_Fill(asset, n * _TID_BASE + i, f), fair_px=f.mid, liquidity=_liquidity(f))
            position += f.sz if f.side == "B" else -f.sz
            i += 1
        mid = inv / position if abs(position) > 1e-12 else None
        j.position(ts, asset, position=position, mid=mid, inventory_usd=inv, net_pnl=eq, capital=rec.capital)
    for k in range(i, len(fills)):
        j.fill(_Fill(asset, n * _TID_BASE + k, fills[k]), fair_px=fills[k].mid, liquidity=_liquidity(fills[k]))


def _liquidity(f: Any) -> str:
    """Our IOC's fills (the emergency unwind) took liquidity; every other fill of ours made it."""
    return "taker" if f.taker == "ours" else "maker"


class _Fill:
    """A backtest fill record in the shape the journal takes (a venue Fill's fields)."""

    __slots__ = ("asset", "tid", "oid", "cloid", "side", "px", "sz", "fee", "ts")

    def __init__(self, asset: str, tid: int, f: Any) -> None:
        self.asset, self.tid, self.oid, self.cloid = asset, tid, 0, ""
        self.side, self.px, self.sz, self.fee, self.ts = f.side, f.px, f.sz, f.fee, f.ts
