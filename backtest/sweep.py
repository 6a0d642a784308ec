"""A parameter-grid sweep: one backtest per combination, spread over all cores.

``--grid quoting.gamma=0.02,0.05,0.1 --grid quoting.k_per_bp=0.3,0.5`` runs the 6
combinations (the product, first grid outermost). A key is a dotted path into the
config file's tables: ``sim.order_latency_ms``, ``assets.BTC.quoting.gamma``. A key
under the portfolio-wide ``quoting`` or ``risk`` tables applies to every asset, also
to those that override it in their own table (a sweep means the value, everywhere).
Values are read as TOML scalars (``0.5``, ``3``, ``true``, ``"fixed"``; a bare word is
a string). Every combination is validated before anything runs.

Workers are spawned processes (``multiprocessing`` spawn context: nothing is forked
from a parent that may hold threads); each receives the raw config and its
overrides, so a row depends only on its combination, the seed and the duration.
Rows come back in grid order and are written as CSV (``.csv``) or JSON lines.
"""
from __future__ import annotations

import copy
import csv
import itertools
import json
import multiprocessing
import os
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import config as config_mod

Grid = list[tuple[str, list[Any]]]
HEADLINE = ("net_pnl", "spread_capture", "fees", "funding", "inventory_pnl", "sharpe", "max_drawdown",
            "fills", "fills_buy", "fills_sell", "fill_rate", "cancel_to_fill", "actions_per_fill",
            "markout_1s_bp", "markout_5s_bp", "markout_30s_bp", "inventory_p50_usd", "inventory_p99_usd",
            "volume_usd", "rejects")


def parse_value(text: str) -> Any:
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_grid(specs: Iterable[str]) -> Grid:
    """``["a.b=1,2", ...]`` → ``[("a.b", [1, 2]), ...]``."""
    grid: Grid = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ValueError(f"--grid {spec!r}: expected KEY=V1,V2,... (e.g. quoting.gamma=0.02,0.05)")
        if any(k == key for k, _ in grid):
            raise ValueError(f"--grid {key} given twice")
        grid.append((key, [parse_value(v) for v in values.split(",") if v.strip()]))
    return grid


def combinations(grid: Grid) -> list[dict[str, Any]]:
    keys = [k for k, _ in grid]
    return [dict(zip(keys, vals)) for vals in itertools.product(*(v for _, v in grid))]


def apply_overrides(raw: dict, overrides: dict[str, Any]) -> dict:
    """A copy of the raw config with each dotted key set (see the module doc)."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise config_mod.ConfigError(f"{key}: {p} is not a table")
        node[parts[-1]] = value
        if len(parts) == 2 and parts[0] in ("quoting", "risk"):
            for a in (out.get("assets") or {}).values():
                table = a.get(parts[0]) if isinstance(a, dict) else None
                if isinstance(table, dict) and parts[1] in table:
                    table[parts[1]] = value
    return out


def build_config(raw: dict, overrides: dict[str, Any]) -> config_mod.Config:
    return config_mod.from_dict(apply_overrides(raw, overrides))


def headline(report: dict[str, Any]) -> dict[str, Any]:
    t = report["total"]
    row = {k: t[k] for k in HEADLINE if k in t}
    for h, v in t["markout_bp"].items():
        row[f"markout_{h}_bp"] = v
    row["inventory_p50_usd"] = t["inventory_usd"]["p50"]
    row["inventory_p99_usd"] = t["inventory_usd"]["p99"]
    return {k: row.get(k) for k in HEADLINE}


def run_one(job: tuple[dict, dict[str, Any], float, int | None, tuple[str, ...] | None, bool]) -> dict[str, Any]:
    """One combination (top level: a spawned worker imports and calls it)."""
    from backtest.engine import run_backtest, zero_latency
    from backtest.report import build_report

    raw, overrides, duration_s, seed, assets, zero = job
    cfg = build_config(raw, overrides)
    if zero:
        cfg = zero_latency(cfg)
    report = build_report(run_backtest(cfg, duration_s=duration_s, seed=seed, assets=assets))
    return {**overrides, "seed": report["seed"], "duration_s": duration_s,
            "assets": ",".join(report["assets"]), **headline(report)}


def run_sweep(raw: dict, grid: Grid, *, duration_s: float, seed: int | None = None,
              assets: Sequence[str] | None = None, workers: int | None = None, zero: bool = False,
              on_row: Callable[[int, dict[str, Any]], None] | None = None,
              executor: Any = None) -> list[dict[str, Any]]:
    """Every combination of ``grid``, in grid order; ``on_row`` sees each row as it lands."""
    combos = combinations(grid)
    for o in combos:  # fail before starting anything
        build_config(raw, o)
    jobs = [(raw, o, float(duration_s), seed, tuple(assets) if assets else None, zero) for o in combos]
    rows: list[dict[str, Any]] = []
    if executor is not None:  # backtest.compute: local processes or a Ray cluster, rows in grid order
        from backtest.compute import run_all

        run_all(executor, run_one, jobs, lambda row: (rows.append(row), on_row and on_row(len(rows) - 1, row)))
        return rows
    n = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if n == 1:
        results: Iterable[dict[str, Any]] = map(run_one, jobs)
        for i, row in enumerate(results):
            rows.append(row)
            if on_row:
                on_row(i, row)
        return rows
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=n) as pool:
        for i, row in enumerate(pool.imap(run_one, jobs)):
            rows.append(row)
            if on_row:
                on_row(i, row)
    return rows


def write_rows(rows: list[dict[str, Any]], path: str | Path) -> None:
    """CSV for ``*.csv``, JSON lines otherwise."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".csv":
        fields: list[str] = []
        for r in rows:
            fields += [k for k in r if k not in fields]
        with p.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    else:
        with p.open("w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
