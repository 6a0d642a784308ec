"""``makerhive train-model``: the learned fill and adverse-selection model.

    makerhive train-model [--config PATH] [--params FILE] [--seeds N] [--scenarios calm,toxic]
                          [--replay DIR ...] [--duration S] [--horizon-s T] [--markout-s H] [--out DIR]
                          [--workers N | --ray ADDRESS] [--evaluate] [--json PATH]

Backtests the scenario set on seeds 1..N (the last one held out), or replays the
recordings given with ``--replay`` (recorder format, as ``backtest --replay`` takes: a
run's own recording, or any stream; the last one held out), trains both classifiers,
prints their out-of-sample AUCs and the inference time per quote, and writes
``<out>/fill-v<K>.json`` (K: the next version). ``--evaluate`` then compares the full
stack with the full stack with ``quoting.learned`` on this model where the model was
not trained: the evaluation on fresh seeds, or a replay of the held-out recording.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from makerhive.argtypes import positive_float
from makerhive.argtypes import positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.toml", help="config file (default: ./config.toml)")
    p.add_argument("--params", default=None, metavar="FILE", help="a parameter overlay merged over the config")
    p.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                   help="seeds 1..N; the last is held out for the AUCs (default 3, at least 2)")
    p.add_argument("--scenarios", default=None, metavar="calm,toxic", help="scenarios (default: the whole set)")
    p.add_argument("--replay", action="append", default=None, metavar="DIR",
                   help="a recording (recorder format) to label instead of the scenario set; repeatable, "
                        "at least two: the last is held out for the AUCs")
    p.add_argument("--duration", type=positive_float, default=None, metavar="S",
                   help="seconds per run (default 300; with --replay: each recording's first S seconds, "
                        "default the whole)")
    p.add_argument("--horizon-s", type=positive_float, default=5.0, metavar="T", help="fill within T s (default 5)")
    p.add_argument("--markout-s", type=positive_float, default=5.0, metavar="H",
                   help="adverse: the mid H s after the fill against us (default 5)")
    p.add_argument("--out", default=None, metavar="DIR", help="model directory (default <run.journal_dir>/models)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N", help="local worker processes")
    p.add_argument("--ray", default=None, metavar="ADDRESS", help="run the backtests on a Ray cluster")
    p.add_argument("--evaluate", action="store_true",
                   help="also compare full vs full + learned model on fresh seeds (the PnL effect)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the report as JSON")


def _fail(msg: str) -> int:
    print(f"makerhive train-model: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import config as config_mod
    from backtest.compute import run_all
    from backtest.evaluate import BASE, SCENARIOS
    from backtest.learned_data import rows_for
    from backtest.overrides import override
    from makerhive.params import load_config

    if args.replay is not None:
        if args.seeds is not None or args.scenarios is not None:
            return _fail("--seeds and --scenarios choose simulated markets; with --replay the recordings are the data")
        if len(args.replay) < 2:
            return _fail("--replay needs at least two recordings (the last one is held out)")
    elif args.seeds is not None and args.seeds < 2:
        return _fail("--seeds must be at least 2 (the last one is held out)")
    try:
        cfg = override(load_config(args.config, args.params), BASE)
    except config_mod.ConfigError as e:
        return _fail(f"config error: {e}")
    if args.replay is not None:
        return _run_replay(args, cfg)
    args.seeds = 3 if args.seeds is None else args.seeds
    args.duration = 300.0 if args.duration is None else args.duration
    names = [x.strip() for x in (args.scenarios or "").split(",") if x.strip()] or list(SCENARIOS)
    if [x for x in names if x not in SCENARIOS]:
        return _fail(f"unknown scenario in {names}; have {list(SCENARIOS)}")
    seeds = list(range(1, args.seeds + 1))
    console, executor = _console_and_executor(args, cfg)
    if isinstance(executor, str):
        return _fail(executor)
    t0 = time.perf_counter()
    try:
        jobs = [(cfg, s, seed, args.duration, args.horizon_s, args.markout_s) for seed in seeds for s in names]
        parts = run_all(executor, rows_for, jobs, lambda r: console.print(
            f"[dim]{r['scenario']}, seed {r['seed']}: {len(r['X'])} quotes, {sum(r['filled'])} filled[/dim]"))
        meta = {"scenarios": names, "seeds": seeds, "test_seeds": [seeds[-1]], "duration_s": args.duration,
                "horizon_s": args.horizon_s, "markout_s": args.markout_s}
        report = _train(args, cfg, parts, [seeds[-1]], meta, f"seed {seeds[-1]} held out", console)
        if report is None:
            return 2
        if args.evaluate:
            report["evaluation"] = _evaluate(cfg, report["model"], names, seeds, args.duration, executor, console)
    finally:
        executor.close()
    return _report(args, report, t0)


def _run_replay(args: argparse.Namespace, cfg) -> int:
    """``--replay``: rows from replaying each recording; the last one held out."""
    import config as config_mod
    from backtest.compute import run_all
    from backtest.learned_data import rows_for_replay
    from backtest.replay import ReplayError
    from venues.replay import recorded_assets

    dirs = [str(d) for d in args.replay]
    for d in dirs:
        if not Path(d).is_dir():
            return _fail(f"--replay {d}: no such directory")
        if not recorded_assets(Path(d)):
            return _fail(f"--replay {d}: holds no recorded coin (a recording has one directory per coin)")
    console, executor = _console_and_executor(args, cfg)
    if isinstance(executor, str):
        return _fail(executor)
    t0 = time.perf_counter()
    held_out = len(dirs) - 1
    try:
        jobs = [(cfg, d, i, args.duration, args.horizon_s, args.markout_s) for i, d in enumerate(dirs)]
        try:
            parts = run_all(executor, rows_for_replay, jobs, lambda r: console.print(
                f"[dim]{r['replay']}: {len(r['X'])} quotes, {sum(r['filled'])} filled[/dim]"))
        except (ReplayError, config_mod.ConfigError) as e:
            return _fail(f"cannot replay: {e}")
        meta = {"replay": dirs, "test_replay": [dirs[-1]], "duration_s": args.duration,
                "horizon_s": args.horizon_s, "markout_s": args.markout_s}
        report = _train(args, cfg, parts, [held_out], meta, f"{dirs[-1]} held out", console)
        if report is None:
            return 2
        if args.evaluate:
            report["evaluation"] = _evaluate_replay(cfg, report["model"], dirs[-1], args.duration, console)
    finally:
        executor.close()
    return _report(args, report, t0)


def _console_and_executor(args: argparse.Namespace, cfg):
    """The console to report on and the executor the rows are made on (local processes or
    Ray); in the executor's place, the text of what is wrong when it cannot start."""
    from rich.console import Console

    from backtest.compute import make_executor

    console = Console(width=None if sys.stdout.isatty() else 140)
    try:
        return console, make_executor(workers=args.workers, ray_address=args.ray, compute=cfg.compute)
    except RuntimeError as e:
        return console, str(e)


def _train(args: argparse.Namespace, cfg, parts: list, test: list, meta: dict, held: str, console) -> dict | None:
    """Both classifiers on ``parts`` (the ``test`` seeds or recordings held out), written as
    the next model version; the report, or None (said) when the rows cannot train them."""
    from backtest.learned_train import inference_us, next_path, parity, train, write_model

    try:
        doc = train(parts, test, meta)
    except ValueError as e:
        _fail(f"cannot train: {e} (run longer or on more data)")
        return None
    sample = [x for p in parts for x in p["X"]][:2000]
    doc["parity_max_abs"] = parity(doc, sample)
    doc["inference_us_per_quote"] = round(inference_us(doc, sample), 2)
    path = write_model(doc, next_path(args.out or Path(cfg.run.journal_dir) / "models"))
    auc = doc["auc"]
    console.print(f"model written to {path}: out-of-sample AUC fill {_f(auc['fill'])}, adverse "
                  f"{_f(auc['adverse'])} ({held}; {doc['rows']['train']:,} train and "
                  f"{doc['rows']['test']:,} test quotes); {doc['inference_us_per_quote']:.1f} us per quote; "
                  f"export matches scikit-learn to {doc['parity_max_abs']:.1e}")
    report = {k: v for k, v in doc.items() if k not in ("fill", "adverse", "_sklearn")}
    report["model"] = str(path)
    return report


def _report(args: argparse.Namespace, report: dict, t0: float) -> int:
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _evaluate_replay(cfg, path, root, duration, console) -> dict:
    """full vs full + learned, replaying the held-out recording (never seen by the model)."""
    from rich.table import Table

    from backtest.overrides import override
    from backtest.replay import run_replay
    from backtest.report import build_report

    out = {"replay": str(root)}
    t = Table(title=f"the learned model on the held-out recording {root}")
    for col in ("variant", "net PnL $", "bp/notional", "fills"):
        t.add_column(col, justify="left" if col == "variant" else "right")
    for name, sets in (("full", {}), ("full+learned", {"quoting.learned.enabled": True,
                                                       "quoting.learned.model_path": str(path)})):
        total = build_report(run_replay(override(cfg, sets), root, duration_s=duration))["total"]
        row = {k: total[k] for k in ("net_pnl", "bp_per_notional", "fills", "volume_usd")}
        out[name] = row
        bp = row["bp_per_notional"]
        t.add_row(name, f"{row['net_pnl']:.2f}", "-" if bp is None else f"{bp:.2f}", f"{row['fills']:,}")
    console.print(t)
    return out


def _evaluate(cfg, path, names, seeds, duration, executor, console) -> dict:
    """full vs full + learned, on seeds after the training ones (never seen by the model)."""
    from backtest.evaluate import evaluate, render

    fresh = [seeds[-1] + 1 + i for i in range(len(seeds))]
    doc = evaluate(cfg, seeds=fresh, duration_s=duration, scenarios=names, executor=executor,
                   variant_overrides={"full": {}, "full+learned": {"quoting.learned.enabled": True,
                                                                   "quoting.learned.model_path": str(path)}})
    console.print(render(doc))
    return {"seeds": fresh, "summary": doc["summary"]}
