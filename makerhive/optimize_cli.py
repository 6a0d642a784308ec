"""``makerhive optimize``: the command line of backtest/optimize.py.

    makerhive optimize [--config PATH] [--params FILE] [--space FILE] [--trials N] [--batch K]
                       [--seeds N] [--fit-windows K] [--scenarios calm,toxic] [--duration S]
                       [--replay DIR --window S] [--objective risk_adjusted|net_pnl|bp_per_notional]
                       [--dd-lambda L] [--storage URL] [--study NAME] [--out DIR] [--json PATH]
                       [--workers N | --ray ADDRESS] [--sampler-seed N]

Writes into ``--out`` (default runs/optimize/<study>): ``best.toml`` (the overlay for
``run --params``), ``history.png``, ``importance.png`` and ``optimize.json``.
Exit status 0 on success, 2 for a bad config or arguments.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from makerhive.argtypes import positive_float, positive_int

DEFAULT_DURATION_S = 300.0
DEFAULT_WINDOWS = 3  # seeds: two folds of one fit window each


def _non_negative_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not (v >= 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"{s!r} must be a finite number >= 0")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.toml", help="config file (default: ./config.toml)")
    p.add_argument("--params", default=None, metavar="FILE", help="an overlay merged over the config first")
    p.add_argument("--space", default=None, metavar="FILE",
                   help="search space (TOML or JSON: path = {low, high, log, int} or {choices}); "
                        "default: the built-in quoting space")
    p.add_argument("--trials", type=positive_int, default=None, metavar="N", help="trials per fold (default 20)")
    p.add_argument("--batch", type=positive_int, default=None, metavar="K",
                   help="trials run together per round (default 4; part of what makes a study reproducible)")
    p.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                   help=f"simulated windows: seeds 1..N (default {DEFAULT_WINDOWS})")
    p.add_argument("--fit-windows", type=positive_int, default=1, metavar="K",
                   help="windows each fold fits on before it scores the next (default 1)")
    p.add_argument("--scenarios", default=None, metavar="calm,toxic", help="scenarios of the set (default: all)")
    p.add_argument("--duration", type=positive_float, default=None, metavar="S",
                   help=f"simulated seconds per scenario run (default {DEFAULT_DURATION_S:g})")
    p.add_argument("--replay", default=None, metavar="DIR", help="fit and score on a recording instead")
    p.add_argument("--window", type=positive_float, default=None, metavar="S",
                   help="--replay: seconds per window (default: the recording in 3 windows)")
    p.add_argument("--objective", choices=("risk_adjusted", "net_pnl", "bp_per_notional"), default="risk_adjusted",
                   help="risk_adjusted (default): mean net PnL after fees - dd-lambda x max drawdown")
    p.add_argument("--dd-lambda", type=_non_negative_float, default=0.5, metavar="L",
                   help="weight of the drawdown in risk_adjusted (default 0.5)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna storage (default sqlite:///<run.journal_dir>/optimize.db)")
    p.add_argument("--study", default="makerhive", metavar="NAME", help="study name: the same name resumes it")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/optimize/<study>)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the result JSON here")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N", help="local worker processes")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the backtests on a Ray cluster (\"local\": start one here)")
    p.add_argument("--sampler-seed", type=int, default=0, metavar="N", help="seed of the TPE sampler")


def _fail(msg: str) -> int:
    print(f"makerhive optimize: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    import config as config_mod
    from backtest.compute import make_executor
    from backtest.evaluate import BASE, SCENARIOS
    from backtest.optimize import DEFAULT_BATCH, DEFAULT_TRIALS, Objective, Optimizer, plots, ranked, \
        replay_windows, sim_windows
    from backtest.optimize_space import load_space, write_overlay
    from backtest.overrides import override
    from backtest.replay import ReplayError
    from backtest.walkforward import folds, replay_span_s
    from makerhive.params import load_config
    from makerhive.progress import JobProgress

    try:
        cfg = load_config(args.config, args.params)
        space = load_space(args.space)
        cfg = override(cfg, BASE)  # Hyperliquid's latencies and base-tier fees, as the evaluation
    except config_mod.ConfigError as e:
        return _fail(f"config error: {e}")
    if args.replay:
        if args.seeds or args.scenarios or args.duration:
            return _fail("--replay cuts the recording into --window seconds: no --seeds, --scenarios or --duration")
        try:
            span = replay_span_s(args.replay, cfg)
        except (ReplayError, config_mod.ConfigError) as e:
            return _fail(str(e))
        window = args.window or span / DEFAULT_WINDOWS
        windows = replay_windows(args.replay, span, window, cfg.run.seed)
    else:
        if args.window:
            return _fail("--window works with --replay")
        names = [x.strip() for x in (args.scenarios or "").split(",") if x.strip()] or list(SCENARIOS)
        unknown = [x for x in names if x not in SCENARIOS]
        if unknown:
            return _fail(f"unknown scenario {unknown[0]!r}; have {list(SCENARIOS)}")
        windows = sim_windows(names, list(range(1, (args.seeds or DEFAULT_WINDOWS) + 1)),
                              args.duration or DEFAULT_DURATION_S)
    if len(windows) <= args.fit_windows:
        return _fail(f"walk-forward needs more windows ({len(windows)}) than --fit-windows ({args.fit_windows}): "
                     f"{'shorten --window' if args.replay else 'raise --seeds'}")
    out_dir = Path(args.out or Path(cfg.run.journal_dir) / "optimize" / args.study)
    out_dir.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{Path(cfg.run.journal_dir) / 'optimize.db'}"
    Path(cfg.run.journal_dir).mkdir(parents=True, exist_ok=True)
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        executor = make_executor(workers=args.workers, ray_address=args.ray, compute=cfg.compute)
    except RuntimeError as e:
        return _fail(str(e))
    objective = Objective(args.objective, args.dd_lambda)
    trials = args.trials or DEFAULT_TRIALS
    # a resumed study runs only its missing trials: the bar then ends short of 100%
    bar = JobProgress("optimize", trials * len(folds(len(windows), args.fit_windows)), unit="trials")
    ran = 0

    def on_trial(n: int, total: int, params: dict, value: float | None, state: str) -> None:
        nonlocal ran
        ran += 1
        bar.note(f"trial {n}: {state}{'' if value is None else f', score {value:,.3f}'}")
        bar.update(ran)

    opt = Optimizer(cfg, space, windows, objective, executor, storage, study_name=args.study,
                    trials=trials, batch=args.batch or DEFAULT_BATCH,
                    sampler_seed=args.sampler_seed, on_trial=on_trial)
    t0 = time.perf_counter()
    try:
        with bar:
            results = opt.walk_forward(args.fit_windows)
    except (RuntimeError, config_mod.ConfigError) as e:
        return _fail(str(e))
    finally:
        executor.close()
    last = opt.study(results[-1].study)
    best = results[-1]
    overlay = write_overlay(out_dir / "best.toml", best.best_params, [
        f"makerhive optimize: study {args.study}, objective {args.objective} (dd-lambda {args.dd_lambda:g}), "
        f"fold {best.fold} fitted on windows {list(best.fit)}",
        f"in-sample {best.in_sample:.4f}; out-of-sample {best.out_of_sample:.4f} "
        f"(current config: {best.current_in_sample:.4f} / {best.current_out_of_sample:.4f})",
        "use: makerhive run --params THIS_FILE   (or check-config --params THIS_FILE)"])
    pictures = plots(last, out_dir)
    doc = {"study": args.study, "storage": storage, "objective": args.objective, "dd_lambda": args.dd_lambda,
           "mode": "replay" if args.replay else "sim", "windows": len(windows), "fit_windows": args.fit_windows,
           "space": [p.path for p in space], "folds": [r.to_dict() for r in results],
           "ranked": ranked(last), "best_params": best.best_params, "overlay": str(overlay), "plots": pictures,
           "wall_s": round(time.perf_counter() - t0, 1)}
    (out_dir / "optimize.json").write_text(json.dumps(doc, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2))
    console.print(render_folds(doc))
    console.print(render_ranked(doc))
    console.print(f"best parameters: {overlay}; plots: "
                  f"{', '.join(v for v in pictures.values())}; {doc['wall_s']:g} s wall")
    return 0


def render_folds(doc: dict):  # -> rich.table.Table
    from rich.table import Table

    t = Table(title=f"walk-forward: {doc['objective']} (higher is better), fit on {doc['fit_windows']} window(s), "
                    f"score on the next")
    for c in ("fold", "fit windows", "test window", "trials", "pruned", "in-sample best", "out-of-sample best",
              "current in-sample", "current out-of-sample"):
        t.add_column(c, justify="right")
    for f in doc["folds"]:
        t.add_row(str(f["fold"]), ",".join(map(str, f["fit"])), str(f["test"]), str(f["trials"]), str(f["pruned"]),
                  *(f"{f[k]:,.3f}" for k in ("in_sample", "out_of_sample", "current_in_sample",
                                              "current_out_of_sample")))
    return t


def render_ranked(doc: dict):  # -> rich.table.Table
    from rich.table import Table

    t = Table(title=f"last fold's trials, best first (study {doc['folds'][-1]['study']})")
    t.add_column("trial", justify="right")
    t.add_column("score", justify="right")
    keys = doc["space"]
    for k in keys:
        t.add_column(k.removeprefix("quoting."), justify="right")
    for r in doc["ranked"]:
        t.add_row(str(r["trial"]), f"{r['value']:,.3f}",
                  *(f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k)) for k in keys))
    return t
