"""``makerhive backtest``: the deterministic backtester from the command line.

    makerhive backtest [--config PATH] [--assets BTC,ETH] [--duration S] [--seed N]
                       [--zero-latency] [--workers N] [--json PATH] [--plot PNG]
    makerhive backtest --scenario as-paper --strategy inventory|symmetric --gamma G
                       --paths N --seed S [--json PATH]
    makerhive backtest --sweep --grid quoting.gamma=0.02,0.05 [--grid KEY=V,...]
                       [--workers N] [--out PATH.csv|PATH.jsonl] [--assets ...] [--duration S]
    makerhive backtest --compare-allocation [--duration S] [--seed N | --seeds N [--first-seed K]] [--workers N] [--json PATH]
    makerhive backtest --evaluate [--seeds N] [--first-seed K] [--duration S] [--workers N] [--json PATH]
                       [--scenarios calm,toxic] [--variants as,full]
    makerhive backtest --replay DIR [--assets BTC,ETH] [--duration S] [--zero-latency]
                       [--json PATH] [--plot PNG]      (a recording of ``makerhive record``)
    makerhive backtest --against-live [--assets BTC,ETH] [--duration S] [--seed N] [--zero-latency]
                       [--json PATH]  (the same scenario through the live hive in lockstep: the same fills?)

The as-paper JSON has exactly the keys profit_mean, profit_std, final_q_mean,
final_q_std, spread_mean. Exit status 0 on success, 2 for a bad config or arguments; ``--against-live`` exits 1
when the two disagree.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from makerhive.argtypes import positive_float, positive_int

DEFAULT_DURATION_S = 600.0
STRATEGIES = ("inventory", "symmetric")  # backtest.as_paper.STRATEGIES (not imported: keeps numpy out of
#                                          the parser of every makerhive command)



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config.toml", help="config file (default: ./config.toml)")
    parser.add_argument("--scenario", choices=("sim", "as-paper"), default="sim",
                        help="sim: the live strategy on the simulated exchange (default); "
                             "as-paper: the Avellaneda-Stoikov paper's own market")
    parser.add_argument("--assets", default=None, metavar="BTC,ETH", help="assets to trade (default: the config's)")
    parser.add_argument("--duration", type=positive_float, default=None, metavar="S",
                        help=f"simulated seconds (default {DEFAULT_DURATION_S:g}; with --replay the whole recording)")
    parser.add_argument("--replay", default=None, metavar="DIR",
                        help="backtest on a recording (makerhive record) instead of the simulated markets")
    parser.add_argument("--seed", type=int, default=None, metavar="N",
                        help="seed (default: the config's run.seed; 0 for as-paper)")
    parser.add_argument("--zero-latency", action="store_true", help="no order, ack or feed latency")
    parser.add_argument("--latency", choices=("hyperliquid", "fixed", "zero"), default=None,
                        help="the wire of a plain backtest: hyperliquid (random, like Hyperliquid's; the default), "
                             "fixed (the config's sim.*_latency_ms) or zero")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the report as JSON")
    parser.add_argument("--plot", default=None, metavar="PNG", help="plot equity and inventory to a PNG")
    paper = parser.add_argument_group("as-paper scenario")
    paper.add_argument("--strategy", choices=STRATEGIES, default="inventory")
    paper.add_argument("--gamma", type=positive_float, default=0.1, metavar="G", help="risk aversion (default 0.1)")
    paper.add_argument("--paths", type=positive_int, default=1000, metavar="N", help="simulated paths (default 1000)")
    sweep = parser.add_argument_group("parameter sweep")
    sweep.add_argument("--sweep", action="store_true", help="run every combination of the --grid values")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="a config key and its values, e.g. quoting.gamma=0.02,0.05 (repeatable)")
    sweep.add_argument("--workers", type=positive_int, default=None, metavar="N",
                       help="worker processes (default: all cores); a plain backtest runs its assets in up to N "
                            "processes with the same result (default: all cores once the run is long enough to "
                            "pay for starting them, 1 = one process)")
    sweep.add_argument("--out", default=None, metavar="PATH", help="rows as CSV (.csv) or JSON lines (other)")
    sweep.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="--sweep / --evaluate: run on a Ray cluster (\"local\": start one here); "
                            "default: [compute] of the config, else local processes")
    parser.add_argument("--against-live", action="store_true",
                        help="run the scenario also through the live hive in lockstep (the config's zero or fixed "
                             "latencies, or --zero-latency) and compare every fill; exit 1 if they differ")
    parser.add_argument("--compare-allocation", action="store_true",
                        help="the five-asset scenario set (config.scenarios) with equal static allocation and "
                             "with the meta-supervisor, side by side (default 2400 s each; --workers, --json)")
    ev = parser.add_argument_group("evaluation")
    ev.add_argument("--evaluate", action="store_true",
                    help="the fixed scenario set (calm ... toxic) x seeds for plain A-S, the full stack and the full "
                         "stack with each feature off, in parallel workers, as one table (--json for the rows)")
    ev.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                    help="seeds 1..N (--evaluate: default 3; --compare-allocation: instead of --seed)")
    ev.add_argument("--first-seed", type=positive_int, default=None, metavar="K",
                    help="with --seeds N: seeds K..K+N-1 instead of 1..N (judge on seeds you did not tune on)")
    ev.add_argument("--scenarios", default=None, metavar="calm,toxic", help="--evaluate: only these scenarios")
    ev.add_argument("--variants", default=None, metavar="as,full", help="--evaluate: only these variants")


def _fail(msg: str) -> int:
    print(f"makerhive backtest: {msg}", file=sys.stderr)
    return 2


def _write_json(path: str, doc: dict) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=2))


def _seed_range(args: argparse.Namespace, n: int) -> list[int]:
    """``n`` seeds from ``--first-seed`` (default 1)."""
    first = args.first_seed or 1
    return list(range(first, first + n))


def _assets(args: argparse.Namespace) -> list[str] | None:
    return [a for a in args.assets.split(",") if a.strip()] if args.assets else None


def run(args: argparse.Namespace) -> int:
    if getattr(args, "replay", None):
        if args.scenario != "sim" or args.sweep:
            return _fail("--replay works on its own (no --scenario as-paper, no --sweep)")
        return _replay(args)
    if getattr(args, "compare_allocation", False):
        return _compare_allocation(args)
    if getattr(args, "evaluate", False):
        return _evaluate(args)
    if getattr(args, "seeds", None) is not None or getattr(args, "first_seed", None) is not None:
        return _fail("--seeds and --first-seed work with --evaluate or --compare-allocation")
    if getattr(args, "against_live", False):
        if args.scenario != "sim" or args.sweep:
            return _fail("--against-live works on the sim scenario on its own (no --scenario as-paper, no --sweep)")
        return _against_live(args)
    if args.duration is None:
        args.duration = DEFAULT_DURATION_S
    if args.scenario == "as-paper":
        if args.sweep:
            return _fail("--sweep works on the sim scenario only")
        return _as_paper(args)
    if args.sweep:
        return _sweep(args)
    if args.grid:
        return _fail("--grid needs --sweep")
    return _sim(args)


def _as_paper(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from backtest.as_paper import KEYS as AS_PAPER_KEYS
    from backtest.as_paper import run_as_paper

    seed = 0 if args.seed is None else args.seed
    out = run_as_paper(args.strategy, args.gamma, args.paths, seed)
    doc = {k: out[k] for k in AS_PAPER_KEYS}
    if args.json:
        _write_json(args.json, doc)
    t = Table(title=f"Avellaneda-Stoikov paper market: {args.strategy}, gamma {args.gamma:g}, "
                    f"{args.paths} paths, seed {seed}")
    for k in AS_PAPER_KEYS:
        t.add_column(k, justify="right")
    t.add_row(*(f"{doc[k]:.4f}" for k in AS_PAPER_KEYS))
    Console(width=None if sys.stdout.isatty() else 120).print(t)
    return 0


def _load(path: str):  # -> Config | None
    import config as config_mod

    try:
        return config_mod.load(path)
    except config_mod.ConfigError as e:
        print(f"makerhive backtest: config error in {path}: {e}", file=sys.stderr)
        return None


def _sim(args: argparse.Namespace) -> int:
    from rich.console import Console

    from backtest.engine import Backtest, select_assets
    from backtest.parallel import auto_workers, run_parallel
    from backtest.report import build_report, render_table
    from config import ConfigError

    cfg = _backtest_config(args)
    if cfg is None:
        return 2
    if not args.zero_latency:  # a plain backtest trades on Hyperliquid's wire unless told otherwise
        import msgspec

        from backtest.engine import zero_latency

        profile = args.latency or "hyperliquid"
        cfg = zero_latency(cfg) if profile == "zero" else msgspec.structs.replace(
            cfg, sim=msgspec.structs.replace(cfg.sim, latency_profile=profile))
    try:
        select_assets(cfg, _assets(args))  # an unknown asset fails here, before any process starts
    except ConfigError as e:
        return _fail(str(e))
    n_assets = len(_assets(args) or cfg.portfolio.assets)
    workers = args.workers or auto_workers(n_assets, args.duration)
    keep = bool(getattr(args, "journal", None))  # the journal lists every order, as a live run's
    console = Console(width=None if sys.stdout.isatty() else 140)
    t0 = time.perf_counter()
    try:
        if workers > 1:  # the assets in parallel processes: the same result (backtest/parallel.py)
            from makerhive.progress import JobProgress

            with JobProgress("backtest", args.duration, unit="simulated s") as bar:
                result = run_parallel(cfg, duration_s=args.duration, seed=args.seed, assets=_assets(args),
                                      workers=workers, keep_orders=keep, progress=bar.update)
        else:
            bt = Backtest(cfg, seed=args.seed, assets=_assets(args))
            if keep:
                bt.keep_orders()
            result = _run_with_progress(bt, args.duration, "backtest")
    except ConfigError as e:
        return _fail(str(e))
    wall = time.perf_counter() - t0
    report = build_report(result)
    how = _processes(result, report)
    console.print(render_table(report))
    console.print(f"{result.market_events:,} market-data events (price level updates + trades; "
                  f"{result.events:,} book snapshots + trades) and {result.steps:,} engine steps in {wall:.2f} s "
                  f"wall{how} ({result.market_events / wall:,.0f} events/s, x{args.duration / wall:,.0f} real time); "
                  f"{report['sharpe_method']}.")
    return _write_outputs(console, report, result, args)


def _processes(result: Any, report: dict) -> str:
    """How a backtest ran (" in N processes", or why in one), for its closing line; a
    parallel run's ``parallel`` goes into the report."""
    par = result.meta.get("parallel")
    if par is None:
        return ""
    report["parallel"] = par
    if par["workers"] > 1 and not par["serial_rerun"]:
        return f" in {par['workers']} processes"
    return f" in one process ({par.get('why_one') or par['serial_rerun']})"


class _RunsProgress:
    """A job of many runs (sweep, evaluation, allocation comparison): a bar counting runs
    with an ETA, each finished run's line above it (stderr; the table goes to stdout)."""

    def __init__(self, label: str, total: int) -> None:
        from makerhive.progress import JobProgress

        self.bar = JobProgress(label, total, unit="runs")
        self.done = 0

    def __enter__(self) -> "_RunsProgress":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def ran(self, text: str) -> None:
        self.done += 1
        self.bar.note(text)
        self.bar.update(self.done)


def _run_with_progress(bt: Any, duration_s: float, label: str) -> Any:
    """``bt.run`` with a progress bar (a line every 10 s when not on a terminal)."""
    from makerhive.progress import JobProgress

    with JobProgress(label, duration_s, unit="simulated s") as bar:
        bt.progress = bar.update
        return bt.run(duration_s)


def _replay(args: argparse.Namespace) -> int:
    """``--replay DIR``: the synthetic backtest's table and JSON, plus what was replayed
    (``report["replay"]``)."""
    from rich.console import Console

    from backtest.parallel import auto_workers, run_parallel
    from backtest.replay import ReplayBacktest, ReplayError
    from backtest.report import build_report, render_table
    from config import ConfigError

    cfg = _backtest_config(args)
    if cfg is None:
        return 2
    keep = bool(getattr(args, "journal", None))
    try:
        bt = ReplayBacktest(cfg, args.replay, seed=args.seed, assets=_assets(args))  # checks the recording
        span = bt.span_s if args.duration is None else min(args.duration, bt.span_s)
        workers = args.workers or auto_workers(len(bt.assets), span)
        t0 = time.perf_counter()
        if workers > 1:  # each process replays some of the coins: the same result (backtest/parallel.py)
            from makerhive.progress import JobProgress

            with JobProgress("replay", span, unit="simulated s") as bar:
                result = run_parallel(cfg, duration_s=args.duration, seed=args.seed, assets=bt.assets,
                                      workers=workers, keep_orders=keep, progress=bar.update, replay=args.replay)
        else:
            if keep:
                bt.keep_orders()
            result = _run_with_progress(bt, args.duration, "replay")
    except (ConfigError, ReplayError) as e:
        return _fail(str(e))
    wall = time.perf_counter() - t0
    report = build_report(result)
    report["replay"] = result.meta["replay"]
    how = _processes(result, report)
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(render_table(report))
    r = report["replay"]
    console.print(f"replayed {args.replay}: {r['span_s']:,.1f} s recorded, {r['books_replayed']:,} books and "
                  f"{r['trades_replayed']:,} trades from {r['files']} files ({r['malformed_lines']} malformed lines, "
                  f"{r['truncated_files']} truncated files) in {wall:.2f} s wall{how}; {report['sharpe_method']}.")
    return _write_outputs(console, report, result, args)


def _compare_allocation(args: argparse.Namespace) -> int:
    """``--compare-allocation``: the scenario set with equal static capital and with the
    meta-supervisor's allocator, side by side."""
    from rich.console import Console

    from backtest.allocation import COMPARE_DURATION_S, compare, render_compare
    from config.scenarios import allocation_set

    cfg = _backtest_config(args)
    if cfg is None:
        return 2
    if args.assets:
        return _fail("--compare-allocation runs the config's five assets (no --assets)")
    duration = args.duration or COMPARE_DURATION_S
    if args.seeds is not None:
        if args.seed is not None:
            return _fail("--seed or --seeds, not both")
        return _compare_allocation_seeds(cfg, args, duration)
    if args.first_seed is not None:
        return _fail("--first-seed goes with --seeds N (one seed: --seed K)")
    seed = cfg.run.seed if args.seed is None else args.seed
    console = Console(width=None if sys.stdout.isatty() else 160)
    t0 = time.perf_counter()
    scenarios = allocation_set(cfg)
    with _RunsProgress("compare-allocation", 2 * len(scenarios)) as bar:
        out = compare(scenarios, duration_s=duration, seed=seed, workers=args.workers,
                      on_row=lambda name, mode, row: bar.ran(
                          f"{name}, {mode}: net {row['net_pnl']:.2f}, sharpe "
                          f"{row['sharpe'] if row['sharpe'] is None else round(row['sharpe'], 2)}, "
                          f"max drawdown {row['max_drawdown']:.2f}"))
    console.print(render_compare(out, duration, seed))
    console.print(f"{len(out) - 1} scenarios x 2 in {time.perf_counter() - t0:.0f} s wall; Sharpe: mean/std of "
                  f"1-minute PnL changes x sqrt(minutes); total: PnL summed, Sharpe averaged, worst drawdown.")
    if args.json:
        _write_json(args.json, {"duration_s": duration, "seed": seed, "scenarios": out})
    return 0


def _compare_allocation_seeds(cfg, args: argparse.Namespace, duration: float) -> int:
    """``--compare-allocation --seeds N``: seeds 1..N, the supervisor's gain over static shares per seed."""
    from rich.console import Console

    from backtest.allocation import compare_seeds, render_compare, render_seeds, seeds_summary
    from config.scenarios import allocation_set

    seeds = _seed_range(args, args.seeds)
    console = Console(width=None if sys.stdout.isatty() else 160)
    t0 = time.perf_counter()
    scenarios = allocation_set(cfg)
    with _RunsProgress("compare-allocation", 2 * len(scenarios) * len(seeds)) as bar:
        outs = compare_seeds(scenarios, duration_s=duration, seeds=seeds, workers=args.workers,
                             on_row=lambda name, mode, row: bar.ran(
                                 f"{name}, {mode}: net {row['net_pnl']:.2f}"))
    for seed, out in outs.items():
        console.print(render_compare(out, duration, seed))
    summary = seeds_summary(outs)
    console.print(render_seeds(summary, duration, seeds))
    console.print(f"{len(seeds)} seeds x {len(outs[seeds[0]]) - 1} scenarios x 2 in {time.perf_counter() - t0:.0f} s "
                  f"wall; se: standard error of the mean difference over the seeds.")
    if args.json:
        _write_json(args.json, {"duration_s": duration, "seeds": seeds,
                                "by_seed": {str(s): o for s, o in outs.items()}, "summary": summary})
    return 0


def _names(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def _evaluate(args: argparse.Namespace) -> int:
    """``--evaluate``: every scenario, seed and variant, one table (backtest/evaluate.py)."""
    from rich.console import Console

    from backtest.evaluate import DEFAULT_DURATION_S as EVAL_DURATION_S
    from backtest.evaluate import DEFAULT_SEEDS, SCENARIOS, evaluate, render, variants
    from config import ConfigError

    if args.assets or args.scenario != "sim" or args.sweep or args.seed is not None or args.zero_latency:
        return _fail("--evaluate runs its own fixed set: no --assets, --scenario, --sweep, --seed or --zero-latency")
    cfg = _load(args.config)
    if cfg is None:
        return 2
    scenarios = _names(args.scenarios) or list(SCENARIOS)
    all_variants = variants()
    wanted = _names(args.variants) or list(all_variants)
    unknown = [x for x in scenarios if x not in SCENARIOS] + [x for x in wanted if x not in all_variants]
    if unknown:
        return _fail(f"unknown scenario or variant {unknown[0]!r}; scenarios {list(SCENARIOS)}, "
                     f"variants {list(all_variants)}")
    duration = args.duration or EVAL_DURATION_S
    seeds = _seed_range(args, args.seeds or DEFAULT_SEEDS)
    console = Console(width=None if sys.stdout.isatty() else 200)  # piped: wide enough for every column and variant name
    t0 = time.perf_counter()
    try:
        executor = _executor(args, cfg)
    except ConfigError as e:
        return _fail(str(e))
    try:
        with _RunsProgress("evaluate", len(scenarios) * len(seeds) * len(wanted)) as bar:
            doc = evaluate(cfg, seeds=seeds, duration_s=duration, workers=args.workers, scenarios=scenarios,
                           variant_overrides={v: all_variants[v] for v in wanted}, executor=executor,
                           on_row=lambda r: bar.ran(
                               f"{r['scenario']}, seed {r['seed']}, {r['variant']}: net {r['net_pnl']:.2f}, "
                               f"fills {r['fills']}"))
    except ConfigError as e:
        return _fail(f"config error: {e}")
    finally:
        if executor is not None:
            executor.close()
    wall = time.perf_counter() - t0
    doc["wall_s"] = round(wall, 1)
    console.print(render(doc))
    console.print(f"{len(doc['rows'])} runs in {wall:.0f} s wall; markouts: mean mid move after a fill in our "
                  f"favour (bp); ALO rej: post-only rejects / placements; |t| < 2: the difference is within "
                  f"the seed-to-seed noise.")
    if args.json:
        _write_json(args.json, doc)
    return 0


def _against_live(args: argparse.Namespace) -> int:
    """``--against-live``: the scenario through the lockstep hive and the backtester."""
    from rich.console import Console
    from rich.table import Table

    from makerhive.agreement import against_live
    from backtest.engine import select_assets
    from config import ConfigError

    cfg = _load(args.config)
    if cfg is None:
        return 2
    if cfg.run.venue != "sim":
        import msgspec

        cfg = msgspec.structs.replace(cfg, run=msgspec.structs.replace(cfg.run, venue="sim"))
    try:
        cfg = select_assets(cfg, _assets(args))
    except ConfigError as e:
        return _fail(str(e))
    profile = "zero" if args.zero_latency else cfg.sim.latency_profile
    if profile == "hyperliquid":
        return _fail("--against-live compares exactly with the zero or fixed latency profiles; with "
                     "sim.latency_profile = \"hyperliquid\" the live hive's own queries draw latencies the "
                     "backtester does not model (use --zero-latency)")
    duration = args.duration or 300.0
    seed = cfg.run.seed if args.seed is None else args.seed
    t0 = time.perf_counter()
    ag = against_live(cfg, seed=seed, duration_s=duration, zero=args.zero_latency)
    doc = ag.to_dict()
    doc["latency_profile"] = profile
    t = Table(title=f"backtester vs the live hive in lockstep: {duration:g} simulated s, seed {seed}, "
                    f"{profile} latency")
    for col in ("asset", "fills live", "fills backtest", "first difference", "position / cash"):
        t.add_column(col, justify="right")
    for name, a in doc["assets"].items():
        diff = a["first_difference"]
        t.add_row(name, str(a["fills_live"]), str(a["fills_backtest"]),
                  "-" if diff is None else f"fill {diff['index']}",
                  "same" if a["position_cash_live"] == a["position_cash_backtest"] else "differ")
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(t)
    console.print(f"{'they agree, fill for fill' if ag.agree else 'they DISAGREE'} "
                  f"({time.perf_counter() - t0:.1f} s wall)")
    if args.json:
        _write_json(args.json, doc)
    return 0 if ag.agree else 1


def _backtest_config(args: argparse.Namespace):  # -> Config | None
    """The config file's Config, with the zero-latency profile when asked for."""
    cfg = _load(args.config)
    if cfg is not None and args.zero_latency:
        from backtest.engine import zero_latency

        cfg = zero_latency(cfg)
    return cfg


def _write_outputs(console, report: dict, result, args: argparse.Namespace) -> int:
    """The report as JSON and the equity/inventory plot, when asked for."""
    from backtest.report import plot, to_json

    sink = getattr(args, "result_sink", None)  # the app's journal, when it asked for one
    if sink is not None:
        sink(result)
    if args.json:
        to_json(report, args.json)
    if args.plot:
        plot(result, args.plot)
        console.print(f"plot written to {args.plot}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    import config as config_mod
    from backtest.sweep import HEADLINE, parse_grid, run_sweep, write_rows
    from config import ConfigError

    if not args.grid:
        return _fail("--sweep needs at least one --grid KEY=V1,V2,...")
    try:
        grid = parse_grid(args.grid)
        raw = tomllib.loads(Path(args.config).read_text())
    except (ValueError, OSError) as e:  # TOMLDecodeError is a ValueError
        return _fail(str(e))
    console = Console(width=None if sys.stdout.isatty() else 160)
    keys = [k for k, _ in grid]
    total = 1
    for _, vals in grid:
        total *= len(vals)
    try:
        executor = _executor(args, config_mod.from_dict(raw))
    except ConfigError as e:
        return _fail(f"config error: {e}")
    try:
        with _RunsProgress("sweep", total) as bar:
            rows = run_sweep(raw, grid, duration_s=args.duration, seed=args.seed, assets=_assets(args),
                             workers=args.workers, zero=args.zero_latency, executor=executor,
                             on_row=lambda i, r: bar.ran(
                                 f"{i + 1}/{total}: {', '.join(f'{k}={r[k]}' for k in keys)} -> "
                                 f"net {r['net_pnl']:.2f}, fills {r['fills']}"))
    except ConfigError as e:
        return _fail(f"config error: {e}")
    finally:
        if executor is not None:
            executor.close()
    if args.out:
        write_rows(rows, args.out)
    shown = ("net_pnl", "sharpe", "max_drawdown", "fills", "fill_rate", "markout_5s_bp", "inventory_p99_usd")
    t = Table(title=f"sweep: {len(rows)} combinations, {args.duration:g} s each")
    for k in keys + list(shown):
        t.add_column(k, justify="right")
    for r in rows:
        t.add_row(*(str(r[k]) for k in keys),
                  *("-" if r[k] is None else (f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]))
                    for k in shown))
    console.print(t)
    if args.out:
        console.print(f"{len(rows)} rows ({len(HEADLINE)} metrics each) written to {args.out}")
    return 0


def _executor(args: argparse.Namespace, cfg):
    """A Ray cluster when ``--ray`` or ``[compute] backend = "ray"`` asks for one; else None
    (the local process pool, as before)."""
    if not args.ray and cfg.compute.backend != "ray":
        return None
    from backtest.compute import make_executor
    from config import ConfigError

    try:
        return make_executor(workers=args.workers, ray_address=args.ray, compute=cfg.compute)
    except RuntimeError as e:  # Ray missing or unreachable: nothing has started
        raise ConfigError(str(e)) from None
