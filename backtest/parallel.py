"""The assets of one backtest in parallel processes, with the serial run's results.

Why: a backtest costs time linear in its assets on one thread, yet the assets of a
static allocation trade on their own: each has its own market (seeded by its index in
the config), its own wire (``venues.sim.latency``: one latency stream per asset), its
own desk of cores and its own capital. So each share of the assets can run in a process
of its own (``Backtest(..., only=share)``) and give exactly what it gives in the whole.

What they do share is the account: Hyperliquid's address action budget (grown by the
volume every asset trades) and the open-order cap. A share cannot see the others' use
of them, so each keeps a log of the actions it spent and the volume it traded, and the
logs are checked after the run (``account_conflict``): at every action, merged in time
(at one instant actions before volume, so the budget is never taken larger than the
serial run saw it) and with one action of margin for the order of a float sum, the
whole account was within its budget, no share ever asked beyond its own, and the
shares' peak open orders summed stay below the cap. Then no share's run could have gone
otherwise than in the serial run, and the merged result is the serial one, bit for bit.
If that cannot be shown, or a worker process died (killed for memory, say), the backtest
runs again in one process, and says so (``meta["parallel"]["serial_rerun"]``): a parallel
result is never one the serial run would not give.

A replay (``replay=DIR``) splits the same way: each share reads its own assets'
recordings and starts and ends where the whole does.

Not split: ``AllocationBacktest`` (the meta-supervisor reads every asset to move
capital) and every other subclass (``split_reason`` says why).
"""
from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from backtest.engine import Backtest, select_assets
from backtest.record import BacktestResult
from backtest.replay import SUMMED_KEYS, ReplayBacktest
from venues.replay import recorded_assets
from config import Config
from venues.sim.engine import CANCEL_CAP_EXTRA, OVER, SPEND_ANYWAY, SPEND_CANCEL, VOLUME

_progress: Any = None  # in a worker: the shared array of each share's simulated time


def shares(assets: Sequence[str], workers: int) -> list[tuple[str, ...]]:
    """``assets`` dealt round in at most ``workers`` groups, each in the config's order.
    The assets cost about alike (600 s of the default config, each alone: 0.31 to 0.37 s),
    so dealing them evens the work out."""
    n = max(1, min(int(workers), len(assets)))
    return [tuple(assets[i::n]) for i in range(n)]


# a split pays once the work outweighs starting the processes (about 1.5 s: imports, the
# compiled market kernel from its cache, the results pickled back); a simulated second of
# one asset of the default config costs about 0.6 ms on one core
AUTO_MIN_ASSET_SECONDS = 10_000.0


def usable_cores() -> int:
    """The cores this process may run on (``taskset`` and cgroup pinning count), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def auto_workers(n_assets: int, duration_s: float, cores: int | None = None) -> int:
    """How many processes a backtest of ``n_assets`` over ``duration_s`` should use when
    the user did not say: the cores (at most one per asset) once the split pays, else 1."""
    cores = cores or usable_cores()
    if n_assets < 2 or cores < 2 or n_assets * duration_s < AUTO_MIN_ASSET_SECONDS:
        return 1
    return min(cores, n_assets)


def split_reason(bt_class: type, cfg: Config, assets: Sequence[str], workers: int) -> str | None:
    """Why this backtest runs in one process (None: it can be split)."""
    if bt_class is not Backtest and bt_class is not ReplayBacktest:
        return f"{bt_class.__name__} runs in one process"
    if workers < 2:
        return "one worker"
    if len(assets) < 2:
        return "one asset"
    return None


def account_conflict(cfg: Config, logs: Iterable[list[tuple[float, int, float]]],
                     peaks: Iterable[int]) -> str | None:
    """What the shares together might have met of the account's shared limits, or None
    if provably nothing: then each share ran as it would have in the whole."""
    peak = sum(peaks)
    if peak >= cfg.sim.open_order_cap:
        return f"open orders of all shares together could have reached the cap ({peak} >= {cfg.sim.open_order_cap})"
    used, volume = 0, 0.0
    initial = cfg.sim.address_budget_initial
    for ts, kind, amount in sorted(e for log in logs for e in log):
        if kind == VOLUME:
            volume += amount
            continue
        n = int(amount)
        if kind == OVER:
            return f"a share asked beyond the address budget at {ts:.3f} s"
        if kind != SPEND_ANYWAY:
            cap = initial + math.floor(volume) - 1  # one action of margin: a float sum's order
            if kind == SPEND_CANCEL:
                cap = min(cap + CANCEL_CAP_EXTRA, 2 * cap)
            if used + n > cap:
                return f"the address budget of all shares together could have been spent at {ts:.3f} s"
        used += n  # SPEND, SPEND_CANCEL and SPEND_ANYWAY (cancel_all: never refused) alike
    return None


def _init_worker(progress: Any) -> None:
    global _progress
    _progress = progress


Job = tuple[Config, int, "tuple[str, ...] | None", "float | None", bool, int, "str | None"]


def _backtest(cfg: Config, seed: int, only: Iterable[str] | None, replay: str | None) -> Backtest:
    if replay is None:
        return Backtest(cfg, seed=seed, only=only)
    return ReplayBacktest(cfg, replay, seed=seed, assets=cfg.portfolio.assets, only=only)


def _run_share(job: Job, tell: Callable[[float], None] | None = None) -> tuple[BacktestResult, list, int]:
    """One share of the assets, as they run in the whole (top level: a spawned worker calls
    it); ``tell``: told the simulated time (else the worker's slot of the shared array is)."""
    cfg, seed, only, duration_s, keep_orders, slot, replay = job
    bt = _backtest(cfg, seed, only, replay)
    bt.sim.account_log = []
    if keep_orders:
        bt.keep_orders()
    if tell is not None:
        bt.progress = tell
    elif _progress is not None:
        shared = _progress
        bt.progress = lambda t: shared.__setitem__(slot, t)
    result = bt.run(duration_s)  # type: ignore[arg-type]  # a replay's None: the whole recording
    return result, bt.sim.account_log, bt.sim.peak_open_orders


def merge(portfolio: Sequence[str], parts: Sequence[BacktestResult]) -> BacktestResult:
    """One result from the shares' results: the records in the portfolio's order, the
    order log in time order (one instant's entries by asset, each asset's in its order),
    a replay's counts summed."""
    first = parts[0]
    for p in parts[1:]:
        if p.sample_ts != first.sample_ts or p.steps != first.steps:
            raise RuntimeError("the shares of a parallel backtest ran on different clocks")
    records = {a: r for p in parts for a, r in p.records.items()}
    index = {a: i for i, a in enumerate(portfolio)}
    orders = sorted((o for p in parts for o in p.orders), key=lambda o: (o[0], index[o[1]]))
    meta = dict(first.meta)
    if "replay" in meta:
        meta["replay"] = {**meta["replay"], **{k: sum(p.meta["replay"][k] for p in parts) for k in SUMMED_KEYS}}
    return BacktestResult(seed=first.seed, duration_s=first.duration_s, assets=tuple(portfolio),
                          capital_usd=first.capital_usd, latency=dict(first.latency), sample_ts=first.sample_ts,
                          records={a: records[a] for a in portfolio}, steps=first.steps, meta=meta,
                          orders=orders)


def run_parallel(cfg: Config, *, duration_s: float | None, seed: int | None = None,
                 assets: Iterable[str] | None = None, workers: int | None = None, keep_orders: bool = False,
                 progress: Callable[[float], None] | None = None, replay: str | None = None) -> BacktestResult:
    """``Backtest(cfg, seed=seed, assets=assets).run(duration_s)`` (with ``replay``: the
    ``ReplayBacktest`` of that recording, ``duration_s`` None for all of it), its assets
    spread over up to ``workers`` processes (default: the usable cores); the same result,
    bit for bit. ``meta["parallel"]`` says how it ran."""
    if replay is not None and assets is None:
        assets = recorded_assets(Path(replay))
    cfg = select_assets(cfg, assets)
    seed = cfg.run.seed if seed is None else int(seed)
    portfolio = tuple(cfg.portfolio.assets)
    n = int(workers or usable_cores())
    reason = split_reason(Backtest if replay is None else ReplayBacktest, cfg, portfolio, n)
    groups = shares(portfolio, n) if reason is None else [portfolio]
    info: dict[str, Any] = {"workers": len(groups), "shares": [list(g) for g in groups], "serial_rerun": None}
    d = None if duration_s is None else float(duration_s)
    if reason is not None:
        result = _serial(cfg, seed, d, keep_orders, progress, replay)
        result.meta["parallel"] = {**info, "workers": 1, "why_one": reason}
        return result
    # this process runs the first (largest) share itself while spawned workers start and
    # run the others: it has everything imported and compiled already, they do not
    ctx = multiprocessing.get_context("spawn")
    shared = ctx.Array("d", len(groups), lock=False)
    jobs: list[Job] = [(cfg, seed, g, d, keep_orders, i, replay) for i, g in enumerate(groups)]
    with ProcessPoolExecutor(max_workers=len(groups) - 1, mp_context=ctx, initializer=_init_worker,
                             initargs=(shared,)) as pool:
        futures = [pool.submit(_run_share, j) for j in jobs[1:]]

        def tell(t: float) -> None:
            shared[0] = t
            if progress is not None:
                progress(min(shared))

        own = _run_share(jobs[0], tell)
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            if progress is not None:
                progress(min(shared))
        outs: list[tuple[BacktestResult, list, int]] | None
        try:
            outs = [own] + [f.result() for f in futures]
        except BrokenProcessPool:  # a worker was killed (out of memory, a signal): its share is lost
            outs = None
    if outs is None:
        result = _serial(cfg, seed, d, keep_orders, progress, replay)
        result.meta["parallel"] = {**info, "serial_rerun": "a worker process died"}
        return result
    conflict = account_conflict(cfg, (o[1] for o in outs), (o[2] for o in outs))
    if conflict is not None:
        result = _serial(cfg, seed, d, keep_orders, progress, replay)
        result.meta["parallel"] = {**info, "serial_rerun": conflict}
        return result
    result = merge(portfolio, [o[0] for o in outs])
    result.meta["parallel"] = info
    return result


def _serial(cfg: Config, seed: int, duration_s: float | None, keep_orders: bool,
            progress: Callable[[float], None] | None, replay: str | None) -> BacktestResult:
    bt = _backtest(cfg, seed, None, replay)
    if keep_orders:
        bt.keep_orders()
    bt.progress = progress
    return bt.run(duration_s)  # type: ignore[arg-type]
