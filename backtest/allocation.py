"""The backtest with the meta-supervisor's money: allocation and portfolio limits on the event clock.

``AllocationBacktest`` is the ordinary ``Backtest`` plus what the live meta-supervisor
does: every desk reports as the risk actor does (``PerformanceReport``,
``ExposureReport``, relayed by the asset supervisor to the meta-supervisor, each hop
a message in the one queue), the very ``CapitalCore`` the meta-supervisor drives
decides on the supervision timer (``supervision.tick_s``), and its grants and gates
go down the same way (meta → asset supervisor → risk: a fresh risk state, so the next
quote uses them); a portfolio drawdown stop cancels every order at the engine. With
``allocation.enabled = false`` capital stays in equal static shares (the portfolio
limits still apply): the baseline the supervisor is compared with.

``compare`` runs a set of scenarios (``config.scenarios``) both ways, same seeds,
and reports net PnL, Sharpe and max drawdown side by side.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Iterable

import msgspec

from backtest.clock import NS
from backtest.engine import Backtest
from backtest.record import BacktestResult
from config import Config
from messages.allocation import ExposureReport, PerformanceReport
from messages.control import Tick
from supervisor.capital import CapitalCore, Decisions


class AllocationBacktest(Backtest):
    def __init__(self, cfg: Config, *, seed: int | None = None, assets: Iterable[str] | None = None) -> None:
        super().__init__(cfg, seed=seed, assets=assets)
        self.money = CapitalCore(self.cfg, 0.0, self.assets)
        self.events: list[tuple[float, str, str, str]] = []
        self.capital_series: dict[str, list[float]] = {a: [] for a in self.assets}
        for a, desk in self.desks.items():
            desk.report = self._to_meta
            # the asset supervisor hands its risk actor the grant and the gate as it starts
            desk.risk.apply_allocation(self.money.update(a, 0.0))
            desk.risk.apply_gate(self.money.gate(a, 0.0))

    def _to_meta(self, msg: Any) -> None:
        self._post("", "meta", msg)

    def _deliver(self, asset: str, role: str, msg: Any) -> None:
        if role == "meta":
            self._meta(msg)
        else:
            super()._deliver(asset, role, msg)

    def _meta(self, msg: Any) -> None:
        """The meta-supervisor's handler (supervisor/meta.py)."""
        if isinstance(msg, ExposureReport):
            self.money.on_exposure(msg)
        elif isinstance(msg, PerformanceReport):
            self.money.on_report(msg)
        elif isinstance(msg, Tick):
            self._route(self._t, self.money.on_tick(msg.now))
            for a in self.assets:
                self._post(a, "sup", msg)

    def _tick(self, t: int) -> None:
        self._post("", "meta", Tick(t / NS))

    def _route(self, t: int, d: Decisions) -> None:
        """What the meta-supervisor actor does with the core's decisions."""
        ts = t / NS
        for kind, asset, text in d.events:
            self.events.append((ts, kind, asset, text))
        for a in d.cancel_all:  # through the venue directly, the answers back to the order side
            if a in self.desks:
                answers = self.sim.cancel_all(a, ts)
                if answers:
                    self._to_us[a].send(t, (a, tuple(answers)))
        for msg in [*d.updates, *d.gates]:
            if msg.asset in self.desks:
                self._post(msg.asset, "sup", msg)

    def _sample(self, t: int) -> None:
        super()._sample(t)
        for a in self.assets:
            self.capital_series[a].append(self.money.alloc.books[a].capital)

    def _result(self, duration_s: float) -> BacktestResult:
        result = super()._result(duration_s)
        result.meta["allocation"] = {
            v.asset: {"capital_start": round(v.capital_start, 2), "capital_min": round(v.capital_min, 2),
                      "capital_end": round(v.capital, 2), "score_end": None if v.score is None else
                      round(v.score.score, 4), "zone_end": v.zone, "reallocations": v.reallocations}
            for v in self.money.views()}
        result.meta["allocation_events"] = len(self.events)
        return result


def with_allocation(cfg: Config, enabled: bool) -> Config:
    return msgspec.structs.replace(cfg, allocation=msgspec.structs.replace(cfg.allocation, enabled=enabled))


def run_allocation_backtest(cfg: Config, *, duration_s: float, seed: int | None = None) -> BacktestResult:
    return AllocationBacktest(cfg, seed=seed).run(duration_s)


HEADLINE = ("net_pnl", "sharpe", "max_drawdown")


def _one(job: tuple[str, Config, bool, float, int | None]) -> tuple[str, bool, dict[str, Any]]:
    from backtest.report import build_report

    name, cfg, enabled, duration_s, seed = job
    result = run_allocation_backtest(with_allocation(cfg, enabled), duration_s=duration_s, seed=seed)
    report = build_report(result)
    total = report["total"]
    row: dict[str, Any] = {k: total[k] for k in HEADLINE}
    row["per_asset_net_pnl"] = {a: report["per_asset"][a]["net_pnl"] for a in result.assets}
    row["allocation"] = result.meta["allocation"]
    return name, enabled, row


def compare(scenarios: dict[str, Config], *, duration_s: float, seed: int | None = None,
            workers: int | None = None, on_row: Any = None) -> dict[str, Any]:
    """Each scenario with equal static allocation and with the supervisor, same seed.
    Returns {scenario: {"static": row, "supervisor": row}} plus a "total" over scenarios."""
    return compare_seeds(scenarios, duration_s=duration_s, seeds=[seed], workers=workers,
                         on_row=on_row)[seed]


def compare_seeds(scenarios: dict[str, Config], *, duration_s: float, seeds: list[int | None],
                  workers: int | None = None, on_row: Any = None) -> dict[int | None, dict[str, Any]]:
    """``compare`` for every seed, all runs in one pool: {seed: compare's answer}."""
    jobs = [(name, cfg, enabled, duration_s, seed)
            for seed in seeds for name, cfg in scenarios.items() for enabled in (False, True)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    outs: dict[int | None, dict[str, Any]] = {seed: {name: {} for name in scenarios} for seed in seeds}
    if workers == 1:
        done = map(_one, jobs)
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        done = pool.map(_one, jobs)
    try:
        for (_, _, _, _, seed), (name, enabled, row) in zip(jobs, done):
            outs[seed][name]["supervisor" if enabled else "static"] = row
            if on_row is not None:
                on_row(name, "supervisor" if enabled else "static", row)
    finally:
        if workers > 1:
            pool.shutdown()
    for out in outs.values():
        _add_total(out, scenarios)
    return outs


def seeds_summary(outs: dict[int | None, dict[str, Any]]) -> dict[str, Any]:
    """Per scenario over the seeds: the supervisor's net PnL minus the static one's, each seed,
    their mean and its standard error (what "better or worse than noise" is judged by)."""
    names = [n for n in next(iter(outs.values())) if n != "total"] + ["total"]
    out: dict[str, Any] = {}
    for name in names:
        diffs = [o[name]["supervisor"]["net_pnl"] - o[name]["static"]["net_pnl"] for o in outs.values()]
        n = len(diffs)
        mean = sum(diffs) / n
        se = (sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) ** 0.5 if n > 1 else None
        out[name] = {"static_net_pnl": [o[name]["static"]["net_pnl"] for o in outs.values()],
                     "supervisor_net_pnl": [o[name]["supervisor"]["net_pnl"] for o in outs.values()],
                     "difference": diffs, "difference_mean": mean, "difference_se": se,
                     "supervisor_wins": sum(d > 0 for d in diffs)}
    return out


def _add_total(out: dict[str, Any], scenarios: dict[str, Config]) -> None:
    total: dict[str, Any] = {}
    for mode in ("static", "supervisor"):
        rows = [out[n][mode] for n in scenarios]
        total[mode] = {"net_pnl": sum(r["net_pnl"] for r in rows),
                       "sharpe": _mean([r["sharpe"] for r in rows]),
                       "max_drawdown": max(r["max_drawdown"] for r in rows)}
    out["total"] = total


def _mean(xs: list[float | None]) -> float | None:
    v = [x for x in xs if x is not None]
    return sum(v) / len(v) if v else None


COMPARE_DURATION_S = 2400.0


def render_seeds(summary: dict[str, Any], duration_s: float, seeds: list[int]):  # -> rich Table
    from rich.table import Table

    t = Table(title=f"capital allocation over seeds {seeds} ({duration_s / 60:g} simulated minutes per "
                    f"scenario): supervisor − static net PnL")
    t.add_column("scenario")
    for seed in seeds:
        t.add_column(f"seed {seed} $", justify="right")
    t.add_column("mean ± se $", justify="right")
    t.add_column("supervisor wins", justify="right")
    for name, r in summary.items():
        se = "" if r["difference_se"] is None else f" ± {r['difference_se']:,.2f}"
        t.add_row(name if name != "total" else "all scenarios", *(f"{d:,.2f}" for d in r["difference"]),
                  f"{r['difference_mean']:,.2f}{se}", f"{r['supervisor_wins']}/{len(seeds)}",
                  style="bold" if name == "total" else "")
    return t


def render_compare(out: dict[str, Any], duration_s: float, seed: int):  # -> rich Table
    from rich.table import Table

    t = Table(title=f"capital allocation: equal static shares vs the meta-supervisor "
                    f"({duration_s / 60:g} simulated minutes per scenario, seed {seed})")
    t.add_column("scenario")
    for mode in ("static", "supervisor"):
        for k in ("net PnL $", "Sharpe", "max DD $"):
            t.add_column(f"{mode}: {k}", justify="right")
    for name, r in out.items():
        cells = []
        for mode in ("static", "supervisor"):
            x = r[mode]
            cells += [f"{x['net_pnl']:,.2f}", "-" if x["sharpe"] is None else f"{x['sharpe']:.2f}",
                      f"{x['max_drawdown']:,.2f}"]
        t.add_row(name if name != "total" else "all scenarios (sum / mean / worst)", *cells,
                  style="bold" if name == "total" else "")
    return t
