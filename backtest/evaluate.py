"""``makerhive backtest --evaluate``: the evidence that each part of the strategy earns its place.

A fixed set of markets (``SCENARIOS``: each asset's regime forced for the whole run
through ``market.episodes``; ``toxic`` is the allocation scenarios' toxic market),
several seeds, the hyperliquid latency profile and base-tier fees, run for plain
Avellaneda–Stoikov (``as``), the full stack (``full``) and the full stack with each
feature of ``strategy.features.FEATURES`` off in turn (``full-no-<feature>``).

Every run is one job, a pure function of (scenario, seed, variant, duration); jobs go
to spawned worker processes and come back in job order, so the rows do not depend on
``--workers``.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Mapping

import msgspec

from backtest.overrides import override
from config import Config, MarketEpisode
from config.scenarios import TOXIC
from strategy.features import FEATURES, PLAIN_AS

SCENARIOS: dict[str, dict[str, Any]] = {
    "calm": {"regime": "calm"},
    "normal": {"regime": "normal"},
    "trending_up": {"regime": "trending_up"},
    "trending_down": {"regime": "trending_down"},
    "volatile": {"regime": "volatile"},
    "crash": {"regime": "crash"},
    "toxic": TOXIC,
}
DEFAULT_SEEDS = 3
BASELINE = "full"  # what each variant is paired with in the summary's ``vs_full``
# Measured: 7 scenarios x 3 seeds x 4 variants of 5 assets at 900 s finish in about N min on
# two busy cores (see the README); more features mean more variants, so re-measure then.
DEFAULT_DURATION_S = 600.0
# base-tier fees (maker 1.5 bp, taker 4.5 bp) and Hyperliquid-like latencies
BASE: dict[str, Any] = {"sim.latency_profile": "hyperliquid", "sim.maker_fee": 0.00015, "sim.taker_fee": 0.00045}
ROW_KEYS = ("net_pnl", "bp_per_notional", "fills", "max_drawdown", "alo_reject_rate", "budget_rejects",
            "actions_per_usd", "volume_usd", "orders_sent", "cancels_sent", "alo_rejects", "sharpe")


def variants(features: dict[str, dict[str, Any]] = FEATURES,
             plain: dict[str, Any] = PLAIN_AS) -> dict[str, dict[str, Any]]:
    """Variant name -> its overrides of the config: ``as``, ``full``, ``full-no-<feature>``."""
    return {"as": dict(plain), "full": {}, **{f"full-no-{name}": dict(off) for name, off in features.items()}}


def scenario_config(cfg: Config, name: str, duration_s: float) -> Config:
    """``cfg`` with every asset's market held in the scenario's regime from start to end."""
    episode = MarketEpisode(start_s=0.0, end_s=float(duration_s), **SCENARIOS[name])
    assets = {a: msgspec.structs.replace(ac, market=msgspec.structs.replace(ac.market, regimes=True,
                                                                            episodes=(episode,)))
              for a, ac in cfg.assets.items()}
    return msgspec.structs.replace(cfg, assets=assets)


Job = tuple[str, int, str, Config, float]


def run_one(job: Job) -> dict[str, Any]:
    """One scenario, seed and variant (top level: a spawned worker imports and calls it)."""
    from backtest.engine import run_backtest
    from backtest.report import build_report

    name, seed, variant, cfg, duration_s = job
    total = build_report(run_backtest(cfg, duration_s=duration_s, seed=seed))["total"]
    row: dict[str, Any] = {"scenario": name, "seed": seed, "variant": variant}
    row.update({k: total[k] for k in ROW_KEYS})
    for h, v in total["markout_bp"].items():
        row[f"markout_{h}_bp"] = v
    return row


def jobs(cfg: Config, *, seeds: Iterable[int], duration_s: float, scenarios: Iterable[str] = SCENARIOS,
         variant_overrides: dict[str, dict[str, Any]] | None = None) -> list[Job]:
    """Every run, validated before any starts (an unknown override path fails here)."""
    vs = variants() if variant_overrides is None else variant_overrides
    base = override(cfg, BASE)
    configs = {v: override(base, o) for v, o in vs.items()}
    out: list[Job] = []
    for name in scenarios:
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; have {list(SCENARIOS)}")
        for v, vcfg in configs.items():
            scfg = scenario_config(vcfg, name, duration_s)
            out += [(name, seed, v, scfg, float(duration_s)) for seed in seeds]
    return out


def _same_runs(todo: list[Job]) -> tuple[list[Job], list[int]]:
    """The jobs that differ, and for each job the index of the one it is among them. A
    variant whose switch is already off in the config (regime, toxicity, trend, ...) is the
    full stack itself, run for run: it is run once and its row copied, not run again."""
    unique: list[Job] = []
    where: dict[tuple[str, int, bytes, float], int] = {}
    index: list[int] = []
    for name, seed, _variant, cfg, duration_s in todo:
        key = (name, seed, msgspec.json.encode(cfg), duration_s)
        if key not in where:
            where[key] = len(unique)
            unique.append(todo[len(index)])
        index.append(where[key])
    return unique, index


def run_jobs(todo: list[Job], *, workers: int | None = None,
             on_row: Callable[[dict[str, Any]], None] | None = None, executor: Any = None) -> list[dict[str, Any]]:
    """A row per job, in job order; jobs whose runs are the same run once (``_same_runs``).
    ``on_row`` sees each row as its run lands (a copied row with its original)."""
    unique, index = _same_runs(todo)
    copies: dict[int, list[int]] = {}
    for j, u in enumerate(index):
        copies.setdefault(u, []).append(j)
    rows: list[dict[str, Any] | None] = [None] * len(todo)
    landed = 0

    def land(row: dict[str, Any]) -> None:
        nonlocal landed
        for j in copies[landed]:
            rows[j] = out = row if todo[j][2] == row["variant"] else {**row, "variant": todo[j][2]}
            if on_row:
                on_row(out)
        landed += 1

    _run_unique(unique, workers=workers, on_row=land, executor=executor)
    return [r for r in rows if r is not None]


def _run_unique(todo: list[Job], *, workers: int | None, on_row: Callable[[dict[str, Any]], None],
                executor: Any) -> None:
    if executor is not None:  # backtest.compute: local processes or a Ray cluster, rows in job order
        from backtest.compute import run_all

        run_all(executor, run_one, todo, on_row)
        return
    n = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    if n == 1:
        for row in map(run_one, todo):
            on_row(row)
        return
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        for row in pool.map(run_one, todo):
            on_row(row)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _mean(xs: Iterable[float | None]) -> float | None:
    v = [x for x in xs if x is not None]
    return sum(v) / len(v) if v else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows pooled: PnL and fills summed, ratios of the sums, worst drawdown, mean markouts."""
    net = sum(r["net_pnl"] for r in rows)
    volume = sum(r["volume_usd"] for r in rows)
    orders = sum(r["orders_sent"] for r in rows)
    out: dict[str, Any] = {
        "runs": len(rows),
        "net_pnl": net,
        "net_pnl_mean": net / len(rows) if rows else None,
        "bp_per_notional": net / volume * 1e4 if volume > 0 else None,
        "fills": sum(r["fills"] for r in rows),
        "max_drawdown": max((r["max_drawdown"] for r in rows), default=0.0),
        "actions_per_usd": _ratio(orders + sum(r["cancels_sent"] for r in rows), volume),
        "alo_reject_rate": _ratio(sum(r["alo_rejects"] for r in rows), orders),
        "budget_rejects": sum(r["budget_rejects"] for r in rows),
        "losing_runs": sum(r["net_pnl"] < 0 for r in rows),
    }
    for h in ("1s", "5s", "30s"):
        out[f"markout_{h}_bp"] = _mean(r[f"markout_{h}_bp"] for r in rows)
    return out


def stratified_se(by_scenario: Mapping[Any, list[float]]) -> float | None:
    """Standard error of the sum of the values, from their spread between seeds within each
    scenario (scenarios differ by design, not by chance). None: a scenario with one seed."""
    var = 0.0
    for xs in by_scenario.values():
        if len(xs) < 2:
            return None
        var += len(xs) * statistics.variance(xs)
    return math.sqrt(var) if by_scenario else None


def pnl_se(rows: list[dict[str, Any]]) -> float | None:
    """Standard error of the rows' summed net PnL (``stratified_se``)."""
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r["scenario"], []).append(r["net_pnl"])
    return stratified_se(by)


def versus(rows: list[dict[str, Any]], variant: str, base: str = BASELINE) -> dict[str, Any] | None:
    """``variant`` against ``base`` on the same scenarios and seeds (the same markets): the
    summed difference of net PnL, its standard error from the spread of the paired
    differences between seeds, and their ratio ``t`` (|t| < 2: within the seed-to-seed
    noise). None: no pairs, or ``variant`` is ``base``."""
    if variant == base:
        return None
    theirs = {(r["scenario"], r["seed"]): r["net_pnl"] for r in rows if r["variant"] == base}
    by: dict[str, list[float]] = {}
    for r in rows:
        key = (r["scenario"], r["seed"])
        if r["variant"] == variant and key in theirs:
            by.setdefault(r["scenario"], []).append(r["net_pnl"] - theirs[key])
    if not by:
        return None
    diffs = [d for ds in by.values() for d in ds]
    se, total = stratified_se(by), sum(diffs)
    return {"base": base, "pairs": len(diffs), "net_pnl_diff": total, "diff_se": se,
            "t": total / se if se else None, "wins": sum(d > 0 for d in diffs)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant over every scenario and seed, with the noise of its PnL and how it
    compares with the full stack on the same markets."""
    names = list(dict.fromkeys(r["variant"] for r in rows))
    out = {}
    for v in names:
        mine = [r for r in rows if r["variant"] == v]
        out[v] = {**aggregate(mine), "net_pnl_se": pnl_se(mine), "vs_full": versus(rows, v)}
    return out


def evaluate(cfg: Config, *, seeds: Iterable[int], duration_s: float, workers: int | None = None,
             scenarios: Iterable[str] = SCENARIOS, variant_overrides: dict[str, dict[str, Any]] | None = None,
             on_row: Callable[[dict[str, Any]], None] | None = None, executor: Any = None) -> dict[str, Any]:
    seeds = list(seeds)
    todo = jobs(cfg, seeds=seeds, duration_s=duration_s, scenarios=scenarios, variant_overrides=variant_overrides)
    rows = run_jobs(todo, workers=workers, on_row=on_row, executor=executor)
    return {"duration_s": float(duration_s), "seeds": seeds, "assets": list(cfg.portfolio.assets),
            "latency_profile": BASE["sim.latency_profile"], "maker_fee": BASE["sim.maker_fee"],
            "taker_fee": BASE["sim.taker_fee"], "rows": rows, "summary": summarize(rows)}


_COLUMNS = (("net PnL $", "net_pnl", 2), ("bp/notional", "bp_per_notional", 2), ("fills", "fills", 0),
            ("max DD $", "max_drawdown", 2), ("mk 1s bp", "markout_1s_bp", 2), ("mk 5s bp", "markout_5s_bp", 2),
            ("mk 30s bp", "markout_30s_bp", 2), ("actions/USDC", "actions_per_usd", 3),
            ("ALO rej", "alo_reject_rate", 3), ("budget rej", "budget_rejects", 0))


def render(doc: dict[str, Any]):  # -> rich.table.Table
    """One table: each scenario and variant pooled over the seeds, then each variant over everything."""
    from rich.table import Table

    rows = doc["rows"]
    t = Table(title=f"evaluation: {doc['duration_s']:g} s x seeds {doc['seeds']}, {doc['latency_profile']} "
                    f"latency, fees {doc['maker_fee'] * 1e4:g}/{doc['taker_fee'] * 1e4:g} bp maker/taker "
                    f"(PnL and fills summed over seeds; ± its standard error between seeds; "
                    f"vs full: the paired difference on the same markets, t = it / its standard error)")
    t.add_column("scenario", no_wrap=True, min_width=13)
    t.add_column("variant", no_wrap=True, min_width=max(len(r["variant"]) for r in rows) if rows else 7)
    for label, _, _ in _COLUMNS:
        t.add_column(label, justify="right")
        if label == "net PnL $":
            t.add_column("± $", justify="right")
    t.add_column("vs full $", justify="right")
    t.add_column("t", justify="right")

    def cells(m: dict[str, Any], se: float | None, vs: dict[str, Any] | None) -> list[str]:
        out = []
        for label, key, digits in _COLUMNS:
            v = m[key]
            out.append("-" if v is None else f"{v:,.{digits}f}" if digits else f"{v:,}")
            if label == "net PnL $":
                out.append("-" if se is None else f"{se:,.0f}")
        out.append("" if vs is None else f"{vs['net_pnl_diff']:+,.0f}")
        out.append("" if vs is None or vs["t"] is None else f"{vs['t']:+.1f}")
        return out

    variants_run = list(dict.fromkeys(r["variant"] for r in rows))
    for name in dict.fromkeys(r["scenario"] for r in rows):
        here = [r for r in rows if r["scenario"] == name]
        for v in variants_run:
            mine = [r for r in here if r["variant"] == v]
            t.add_row(name, v, *cells(aggregate(mine), pnl_se(mine), versus(here, v)))
        t.add_section()
    for v, m in doc["summary"].items():
        t.add_row("all", v, *cells(m, m["net_pnl_se"], m["vs_full"]), style="bold")
    return t
