"""``makerhive history``: a run's fills or orders from the journal, as a table, CSV or JSON.

Filters: asset, time window (the run's clock, seconds), run (default: the latest).
Read-only, so it can look at the journal of a run that is still trading.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from makerhive.journal import read_rows
from makerhive.report import latest_run

FILL_COLUMNS = ("ts", "asset", "side", "px", "sz", "fee", "liquidity", "fair_px", "tid", "cloid",
                "markout_1s_bp", "markout_5s_bp", "markout_30s_bp", "markout_300s_bp")
ORDER_COLUMNS = ("ts", "asset", "action", "side", "px", "sz", "cloid", "latency_s", "text", "old_cloid", "old_px",
                 "old_sz")  # old_*: the order a modify replaced


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", required=True, metavar="PATH", help="the journal (runs/journal.sqlite)")
    p.add_argument("--orders", action="store_true",
                   help="orders (placements, modifies, cancels, acks, rejects) instead of fills")
    p.add_argument("--asset", default=None, metavar="BTC", help="only this asset")
    p.add_argument("--since", type=float, default=None, metavar="T", help="from this time on (the run's clock, s)")
    p.add_argument("--until", type=float, default=None, metavar="T", help="up to this time (the run's clock, s)")
    p.add_argument("--run", type=int, default=None, metavar="ID", help="which run of the journal (default: the latest)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the last N rows (default: 40 in the table, all in CSV/JSON)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON on stdout")
    fmt.add_argument("--csv", action="store_true", help="CSV on stdout")


def query(journal: str, *, orders: bool = False, asset: str | None = None, since: float | None = None,
          until: float | None = None, run: int | None = None, limit: int | None = None) -> tuple[int, list[dict]]:
    run = latest_run(journal) if run is None else run
    cols = ORDER_COLUMNS if orders else FILL_COLUMNS
    where, params = ["run_id = ?"], [run]
    if asset:
        where.append("asset = ?")
        params.append(asset.upper())
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts <= ?")
        params.append(until)
    sql = (f"SELECT {', '.join(cols)} FROM {'orders' if orders else 'fills'} WHERE {' AND '.join(where)} "
           f"ORDER BY ts DESC, id DESC" + (" LIMIT ?" if limit is not None else ""))
    if limit is not None:
        params.append(limit)
    rows = [dict(r) for r in read_rows(journal, sql, params)]
    rows.reverse()  # oldest first
    return run, rows


def run_cli(args: argparse.Namespace) -> int:
    limit = args.limit if args.limit is not None else (None if args.json or args.csv else 40)
    try:
        run, rows = query(args.journal, orders=args.orders, asset=args.asset, since=args.since, until=args.until,
                          run=args.run, limit=limit)
    except (FileNotFoundError, ValueError) as e:
        print(f"makerhive history: {e}", file=sys.stderr)
        return 2
    what = "orders" if args.orders else "fills"
    if args.json:
        json.dump({"journal": args.journal, "run_id": run, what: rows}, sys.stdout, indent=1)
        print()
    elif args.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=ORDER_COLUMNS if args.orders else FILL_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    else:
        _table(what, run, rows, args.orders)
    return 0


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _cell(row: dict, col: str) -> str:
    """A modify shows what it changed: old → new price and size."""
    if row.get("action") == "modify" and col in ("px", "sz") and row.get(f"old_{col}") != row[col]:
        return f"{_fmt(row.get(f'old_{col}'))}→{_fmt(row[col])}"
    return _fmt(row[col])


def _table(what: str, run: int, rows: list[dict], orders: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    cols = (("ts", "asset", "action", "side", "px", "sz", "latency_s", "text") if orders else
            ("ts", "asset", "side", "px", "sz", "fee", "fair_px", "markout_5s_bp", "tid"))
    t = Table(title=f"{what}, run {run}", title_justify="left")
    for c in cols:
        left = c in ("asset", "side", "action", "text")
        t.add_column(c.replace("markout_5s_bp", "5s markout bp"), justify="left" if left else "right", overflow="fold")
    for r in rows:
        t.add_row(*(_cell(r, c) for c in cols))
    console.print(t)
    if not rows:
        console.print(f"no {what} in this window")
