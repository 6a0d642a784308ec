"""``makerhive train-model``: the learned fill and adverse-selection model.

    makerhive train-model [--config PATH] [--params FILE] [--seeds N] [--scenarios calm,toxic]
                          [--duration S] [--horizon-s T] [--markout-s H] [--out DIR]
                          [--workers N | --ray ADDRESS] [--evaluate] [--json PATH]

Backtests the scenario set on seeds 1..N (the last one held out), trains both
classifiers, prints their out-of-sample AUCs and the inference time per quote, and
writes ``<out>/fill-v<K>.json`` (K: the next version). ``--evaluate`` then runs the
evaluation on fresh seeds, the full stack against the full stack with
``quoting.learned`` on this model, and prints the PnL effect.
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
    p.add_argument("--seeds", type=positive_int, default=3, metavar="N",
                   help="seeds 1..N; the last is held out for the AUCs (default 3, at least 2)")
    p.add_argument("--scenarios", default=None, metavar="calm,toxic", help="scenarios (default: the whole set)")
    p.add_argument("--duration", type=positive_float, default=300.0, metavar="S", help="seconds per run (default 300)")
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
    from rich.console import Console

    import config as config_mod
    from backtest.compute import make_executor, run_all
    from backtest.evaluate import BASE, SCENARIOS
    from backtest.learned_data import rows_for
    from backtest.learned_train import inference_us, next_path, parity, train, write_model
    from backtest.overrides import override
    from makerhive.params import load_config

    if args.seeds < 2:
        return _fail("--seeds must be at least 2 (the last one is held out)")
    try:
        cfg = override(load_config(args.config, args.params), BASE)
    except config_mod.ConfigError as e:
        return _fail(f"config error: {e}")
    names = [x.strip() for x in (args.scenarios or "").split(",") if x.strip()] or list(SCENARIOS)
    if [x for x in names if x not in SCENARIOS]:
        return _fail(f"unknown scenario in {names}; have {list(SCENARIOS)}")
    seeds = list(range(1, args.seeds + 1))
    console = Console(width=None if sys.stdout.isatty() else 140)
    try:
        executor = make_executor(workers=args.workers, ray_address=args.ray, compute=cfg.compute)
    except RuntimeError as e:
        return _fail(str(e))
    t0 = time.perf_counter()
    try:
        jobs = [(cfg, s, seed, args.duration, args.horizon_s, args.markout_s) for seed in seeds for s in names]
        parts = run_all(executor, rows_for, jobs, lambda r: console.print(
            f"[dim]{r['scenario']}, seed {r['seed']}: {len(r['X'])} quotes, {sum(r['filled'])} filled[/dim]"))
        try:
            doc = train(parts, [seeds[-1]], {"scenarios": names, "seeds": seeds, "test_seeds": [seeds[-1]],
                                             "duration_s": args.duration, "horizon_s": args.horizon_s,
                                             "markout_s": args.markout_s})
        except ValueError as e:
            return _fail(f"cannot train: {e} (run longer or on more seeds)")
        sample = [x for p in parts for x in p["X"]][:2000]
        doc["parity_max_abs"] = parity(doc, sample)
        doc["inference_us_per_quote"] = round(inference_us(doc, sample), 2)
        path = write_model(doc, next_path(args.out or Path(cfg.run.journal_dir) / "models"))
        auc = doc["auc"]
        console.print(f"model written to {path}: out-of-sample AUC fill {_f(auc['fill'])}, adverse "
                      f"{_f(auc['adverse'])} (seed {seeds[-1]} held out; {doc['rows']['train']:,} train and "
                      f"{doc['rows']['test']:,} test quotes); {doc['inference_us_per_quote']:.1f} us per quote; "
                      f"export matches scikit-learn to {doc['parity_max_abs']:.1e}")
        report = {k: v for k, v in doc.items() if k not in ("fill", "adverse", "_sklearn")}
        report["model"] = str(path)
        if args.evaluate:
            report["evaluation"] = _evaluate(cfg, path, names, seeds, args.duration, executor, console)
    finally:
        executor.close()
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _evaluate(cfg, path, names, seeds, duration, executor, console) -> dict:
    """full vs full + learned, on seeds after the training ones (never seen by the model)."""
    from backtest.evaluate import evaluate, render

    fresh = [seeds[-1] + 1 + i for i in range(len(seeds))]
    doc = evaluate(cfg, seeds=fresh, duration_s=duration, scenarios=names, executor=executor,
                   variant_overrides={"full": {}, "full+learned": {"quoting.learned.enabled": True,
                                                                   "quoting.learned.model_path": str(path)}})
    console.print(render(doc))
    return {"seeds": fresh, "summary": doc["summary"]}
