"""The ``makerhive`` command line.

    makerhive run [--config PATH] [--headless] [--duration S] [--speed X] [--seed N]
                  [--summary-json PATH] [--scenario allocation-demo] [--lockstep]
    makerhive resume [--config PATH]          (lift a portfolio drawdown stop)
    makerhive check-config [PATH] [--params FILE]
    makerhive reoptimize | rollback-params [--config PATH]   (the running hive's re-optimiser)
    makerhive optimize [...]                  (makerhive/optimize_cli.py)
    makerhive train-model [...]               (makerhive/train_model_cli.py)
    makerhive sim-server [--config PATH] [--host 127.0.0.1] [--port P] [--seed N] [--speed X]
    makerhive record --assets BTC,ETH --out DIR [--duration S] [--ws-url URL] [--network testnet|mainnet]

Exit status: 0 after a clean stop with no order left open; 1 if orders were left open
or the run failed; 2 for a bad config or bad arguments (nothing was started); 3 when
the venue cannot be reached at start (nothing was traded).
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import config as config_mod
from makerhive.argtypes import positive_float

DEFAULT_CONFIG = "config.toml"
EXIT_VENUE_UNREACHABLE = 3  # `run` could not reach the venue at start: nothing traded (README)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="makerhive", description="A supervised market maker for Hyperliquid perpetuals.")
    p.add_argument("--version", action="version", version=f"makerhive {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the hive (default: on the embedded simulated exchange)")
    run.add_argument("--config", default=DEFAULT_CONFIG, help="config file (default: ./config.toml)")
    run.add_argument("--params", default=None, metavar="FILE",
                     help="a parameter overlay (makerhive optimize's best.toml) merged over the config")
    run.add_argument("--venue", choices=config_mod.KNOWN_VENUES, default=None, help="venue (default: from config)")
    run.add_argument("--headless", action="store_true", help="no live view (for scripts)")
    run.add_argument("--duration", type=positive_float, default=None, metavar="S",
                     help="stop after S simulated seconds (default: run until Ctrl-C)")
    run.add_argument("--speed", type=positive_float, default=None, metavar="X",
                     help="simulated seconds per real second (sim only)")
    run.add_argument("--seed", type=int, default=None, metavar="N", help="seed of the simulated markets")
    run.add_argument("--summary-json", default=None, metavar="PATH", help="write the run summary as JSON")
    run.add_argument("--key-file", default=None, metavar="PATH",
                     help="Hyperliquid: file holding the private key (default: $HL_PRIVATE_KEY)")
    run.add_argument("--mainnet", action="store_true",
                     help="Hyperliquid: trade on MAINNET with real money (asks for confirmation)")
    run.add_argument("--yes", action="store_true", help="Hyperliquid: do not ask to confirm --mainnet")
    run.add_argument("--lockstep", action="store_true",
                     help="embedded sim: deterministic and as fast as the hive can go (needs --duration)")
    run.add_argument("--metrics-port", type=int, default=None, metavar="N",
                     help="serve Prometheus metrics on http://127.0.0.1:N/metrics (0: a free port, printed)")
    run.add_argument("--metrics-host", default=None, metavar="ADDR",
                     help="listen address of --metrics-port (default: 127.0.0.1, loopback only)")
    run.add_argument("--scenario", choices=("allocation-demo",), default=None,
                     help="sim only: allocation-demo = five assets, SOL's market turns toxic from minute 3 to 9; "
                          "watch the supervisor move capital away and back (default speed x30)")
    ch = sub.add_parser("chaos", help="run the hive under random faults (sim, Hyperliquid fake, process kills) "
                                      "and check the invariants")
    ch.add_argument("--config", default=DEFAULT_CONFIG)
    ch.add_argument("--venue", choices=("sim", "hl-fake", "remote-sim"), default="sim",
                    help="sim: the embedded sim (default); hl-fake: the Hyperliquid venue against the local fake "
                         "exchange, real time; remote-sim: SIGKILL and restart the trading process K times")
    ch.add_argument("--seed", type=int, default=1, metavar="N")
    ch.add_argument("--faults", type=int, default=100, metavar="K",
                    help="how many faults to inject (remote-sim: kill/restart cycles)")
    ch.add_argument("--duration", type=positive_float, default=300.0, metavar="S",
                    help="simulated seconds (hl-fake: real seconds; remote-sim: unused)")
    ch.add_argument("--speed", type=positive_float, default=20.0, metavar="X", help="sim and remote-sim only")
    ch.add_argument("--summary-json", default=None, metavar="PATH")
    ch.add_argument("--latency-profile", choices=("fixed", "hyperliquid", "zero"), default=None,
                    help="override sim.latency_profile (zero: measure recovery itself)")
    ch.add_argument("--kinds", default=None, metavar="K1,K2",
                    help="only these fault kinds (sim and hl-fake; default: every kind of the venue), "
                         "e.g. crash_order,feed_stall")
    unq = sub.add_parser("unquarantine", help="lift the quarantine of an asset in the running hive")
    unq.add_argument("asset")
    unq.add_argument("--config", default=DEFAULT_CONFIG, help="the running hive's config (to find its socket)")
    st = sub.add_parser("status", help="the running hive's assets as a table (--json: JSON)")
    st.add_argument("--config", default=DEFAULT_CONFIG, help="the running hive's config (to find its socket)")
    st.add_argument("--json", action="store_true", help="the hive's answer as one line of JSON")
    res = sub.add_parser("resume", help="lift the portfolio drawdown stop of the running hive")
    res.add_argument("--config", default=DEFAULT_CONFIG, help="the running hive's config (to find its socket)")
    reo = sub.add_parser("reoptimize", help="re-fit the running hive's quoting parameters now ([reoptimize])")
    reo.add_argument("--config", default=DEFAULT_CONFIG, help="the running hive's config (to find its socket)")
    rb = sub.add_parser("rollback-params", help="undo the running hive's last parameter change")
    rb.add_argument("--config", default=DEFAULT_CONFIG, help="the running hive's config (to find its socket)")
    chk = sub.add_parser("check-config", help="validate a config file and print the effective config")
    chk.add_argument("path", nargs="?", default=DEFAULT_CONFIG)
    chk.add_argument("--params", default=None, metavar="FILE", help="a parameter overlay merged over the config")
    from makerhive import optimize_cli

    optimize_cli.add_arguments(sub.add_parser(
        "optimize", help="search the strategy's parameters (Optuna, walk-forward) on the scenario set or a recording"))
    from makerhive import train_model_cli

    train_model_cli.add_arguments(sub.add_parser(
        "train-model", help="train the learned fill and adverse-selection model on backtests"))
    from makerhive import backtest_cli

    bt = sub.add_parser("backtest", help="deterministic backtest of the strategy cores")
    backtest_cli.add_arguments(bt)
    bt.add_argument("--journal", default=None, metavar="PATH",
                    help="also write the run into a journal (a .sqlite file, or a directory for journal.sqlite)")
    from makerhive import history

    history.add_arguments(sub.add_parser("history", help="fills or orders of a run, from its journal"))
    rep = sub.add_parser("report", help="a run's figures (report.json) and plots, from its journal")
    rep.add_argument("--journal", required=True, metavar="PATH", help="the journal (runs/journal.sqlite)")
    rep.add_argument("--out", required=True, metavar="DIR", help="where report.json and the PNG plots go")
    rep.add_argument("--run", type=int, default=None, metavar="ID", help="which run of the journal (default: the latest)")
    srv = sub.add_parser("sim-server", help="serve the simulated exchange over a WebSocket (for --venue remote-sim)")
    srv.add_argument("--config", default=DEFAULT_CONFIG, help="config file (the sim's markets and rules)")
    srv.add_argument("--host", default="127.0.0.1", help="listen address (loopback only)")
    srv.add_argument("--port", type=int, default=8765, help="listen port (0: a free port, printed)")
    srv.add_argument("--seed", type=int, default=None, metavar="N", help="seed of the simulated markets")
    srv.add_argument("--speed", type=positive_float, default=None, metavar="X",
                     help="simulated seconds per real second (default: run.speed of the config)")
    rec = sub.add_parser("record", help="record Hyperliquid l2Book and trades to hourly gzip files (no key)")
    rec.add_argument("--assets", required=True, metavar="BTC,ETH", help="coins to record")
    rec.add_argument("--out", required=True, metavar="DIR", help="directory of the recording")
    rec.add_argument("--duration", type=positive_float, default=None, metavar="S",
                     help="stop after S seconds (default: until Ctrl-C / SIGTERM)")
    rec.add_argument("--network", choices=("mainnet", "testnet"), default="mainnet",
                     help="which Hyperliquid (default mainnet): sets the WebSocket URL")
    rec.add_argument("--ws-url", default=None, metavar="URL", help="WebSocket URL (overrides --network)")
    return p



def _version() -> str:
    """The installed package's version (pyproject.toml), or 'unknown' when run from a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("makerhive")
    except PackageNotFoundError:
        return "unknown (not installed; run ./hive)"


def status(args: argparse.Namespace) -> int:
    """The running hive's status: a table for a person, one line of JSON with --json."""
    if args.json:
        return operator_command(args, ["status"])
    from makerhive.control import send, socket_path

    cfg = _load(args.config)
    if cfg is None:
        return 2
    path = socket_path(cfg.run.journal_dir)
    try:
        answer = send(path, ["status"])
    except OSError as e:
        print(f"makerhive: no running hive answers at {path}: {e}", file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(f"makerhive status: {answer.get('error', answer)}", file=sys.stderr)
        return 1
    from rich.console import Console

    from makerhive.status_table import render

    Console(width=None if sys.stdout.isatty() else 160).print(render(answer))
    return 0


def _load(path: str, params: str | None = None) -> config_mod.Config | None:
    from makerhive.params import load_config

    try:
        return load_config(path, params)
    except config_mod.ConfigError as e:
        print(f"makerhive: config error in {path}: {e}", file=sys.stderr)
        return None


def check_config(path: str, params: str | None = None) -> int:
    cfg = _load(path, params)
    if cfg is None:
        return 2
    import msgspec

    from makerhive import alerts

    try:
        alerts.check(cfg.alerts)
    except config_mod.ConfigError as e:
        print(f"makerhive: config error in {path}: {e}", file=sys.stderr)
        return 2
    hidden = {k: "<set, not shown>" for k in ("discord_url", "slack_url") if getattr(cfg.alerts, k)}
    cfg = msgspec.structs.replace(cfg, alerts=msgspec.structs.replace(cfg.alerts, **hidden))  # secrets
    print(f"# {path}{f' + {params}' if params else ''}: valid. Effective config (per-asset values include the defaults):")
    print(config_mod.redact(msgspec.json.format(msgspec.json.encode(cfg), indent=2).decode()))  # never a key
    return 0


def _setup_logging(cfg: config_mod.Config) -> Path:
    log_dir = Path(cfg.run.journal_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "makerhive.log"
    logging.basicConfig(filename=path, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s")
    return path


def run(args: argparse.Namespace) -> int:
    cfg = _load(args.config, args.params)
    if cfg is None:
        return 2
    if args.venue is not None and args.venue != cfg.run.venue:
        import msgspec

        cfg = msgspec.structs.replace(cfg, run=msgspec.structs.replace(cfg.run, venue=args.venue))
    if args.speed is not None and args.speed > 1000:
        print("makerhive: --speed must be <= 1000", file=sys.stderr)
        return 2
    if args.scenario is not None:
        if cfg.run.venue != "sim":  # the scenario's markets live in the embedded sim
            print("makerhive: --scenario runs on the embedded sim only (--venue sim)", file=sys.stderr)
            return 2
        from config import scenarios

        cfg = scenarios.apply(cfg, args.scenario)
        if args.speed is None and not args.lockstep:
            args.speed = scenarios.SCENARIO_SPEED.get(args.scenario)
    if args.lockstep and (cfg.run.venue != "sim" or args.duration is None or args.speed is not None):
        print("makerhive: --lockstep runs the embedded sim (--venue sim) for a --duration, without --speed",
              file=sys.stderr)
        return 2
    misplaced = _options_without_effect(args)
    if misplaced:
        print(f"makerhive: {misplaced}", file=sys.stderr)
        return 2
    signer = None
    if cfg.run.venue == "hyperliquid":
        prepared = _prepare_hyperliquid(cfg, args)
        if prepared is None:
            return 2
        cfg, signer = prepared
    elif args.mainnet or args.key_file:
        print("makerhive: --mainnet and --key-file apply to --venue hyperliquid only", file=sys.stderr)
        return 2
    log_path = _setup_logging(cfg)
    sys.setswitchinterval(0.0005)  # short GIL slices keep actor hops fast next to busy threads

    from rich.console import Console

    from makerhive.app import Hive
    from makerhive.summary import summary_table
    from venues.runtime import VenueUnavailable

    console = Console(width=None if sys.stdout.isatty() else 140)  # no squeezed table in logs
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    from makerhive.affinity import move_process, other_cpus, pin_to_cpu

    try:
        hive = Hive(cfg, speed=args.speed, seed=args.seed, signer=signer, lockstep=args.lockstep)
    except config_mod.ConfigError as e:  # what only the app can check ([alerts])
        print(f"makerhive: config error in {args.config}: {e}", file=sys.stderr)
        return 2
    view = None
    pinned = pin_to_cpu(cfg.run.pin_cpu)
    if not args.headless:
        from makerhive.view_process import ViewProcess

        view = ViewProcess(fps=cfg.run.view_fps)
        view.start()
        if pinned and view.pid is not None:
            move_process(view.pid, other_cpus(cfg.run.pin_cpu))
    else:
        console.print(f"makerhive: {cfg.run.venue} venue, {len(cfg.portfolio.assets)} assets, "
                      f"{'lockstep' if args.lockstep else f'speed x{hive.speed:g}'}, log {log_path}")
    from makerhive.control import ControlServer, socket_path

    control = ControlServer(socket_path(cfg.run.journal_dir), hive.command)
    try:
        control.start()
    except RuntimeError as e:
        print(f"makerhive: {e}", file=sys.stderr)
        if view is not None:
            view.close()
        return 2
    metrics = _start_metrics(hive, args, console)
    if metrics is False:
        control.stop()
        if view is not None:
            view.close()
        return 2
    try:
        try:
            hive.start()
        except VenueUnavailable as e:
            print(f"makerhive: cannot reach the venue: {e}", file=sys.stderr)
            control.stop()
            if view is not None:
                view.close()
            hive.runtime.stop()
            hive.abandon()
            return EXIT_VENUE_UNREACHABLE
        period = 1.0 / cfg.run.view_fps
        # the runtime clock may start at the venue's (remote-sim): count from our start
        deadline = hive.sim_time() + args.duration if args.duration is not None else None
        if args.lockstep:
            hive.run_to(deadline)
        from makerhive.progress import JobProgress

        start = hive.sim_time()
        # headless: a bar (a line every 10 s in a log) of the simulated time, to --duration if given
        with JobProgress("run", args.duration, unit="simulated s", tty=None if view is None else False,
                         every_s=10.0 if view is None else float("inf")) as bar:
            while not stop.is_set():
                if args.lockstep and hive.reached():
                    break
                if not args.lockstep and deadline is not None and hive.sim_time() >= deadline:
                    break
                if view is not None:
                    view.publish(hive.snapshot())
                else:
                    bar.update(hive.sim_time() - start)
                stop.wait(period if view is not None else 0.05)
    finally:
        control.stop()
        if metrics is not None:
            metrics.stop()
        hive.board.stopping = True
        if view is not None:
            view.publish(hive.snapshot())
        summary = hive.stop()
        if view is not None:
            view.publish(hive.snapshot())
            view.close()
    if args.summary_json:
        Path(args.summary_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.summary_json).write_text(json.dumps(summary, indent=2))
    console.print(summary_table(summary))
    unread = summary["portfolio"]["events"].get("exit_fills_unread", 0)
    if unread:
        console.print(f"[yellow]{unread} asset(s) could not read their last fills at exit: the summary may miss "
                      "some fills; the venue has them, and the next start reads them[/yellow]")
    left, unconfirmed = summary["portfolio"]["open_orders_at_exit"], summary["portfolio"]["open_orders_unconfirmed"]
    if left:
        console.print(f"[red]{left} order(s) still open at exit[/red]")
    if unconfirmed:
        console.print(f"[red]the venue did not answer at exit for {', '.join(unconfirmed)}: no one has confirmed "
                      "that nothing is left open there; look at the venue[/red]")
    if left or unconfirmed:
        return 1
    console.print("all orders cancelled; venue confirmed 0 open orders.")
    return 0


def _options_without_effect(args: argparse.Namespace) -> str:
    """An option given where it changes nothing (no silent no-op): what to say, or ''."""
    if args.yes and not args.mainnet:
        return "--yes confirms --mainnet; without --mainnet it does nothing"
    if args.metrics_host is not None and args.metrics_port is None:
        return "--metrics-host is where --metrics-port listens; give --metrics-port N too"
    return ""


def _start_metrics(hive: Any, args: argparse.Namespace, console: Any) -> Any:
    """The Prometheus endpoint when asked for (None), or False if it cannot listen."""
    if args.metrics_port is None:
        return None
    from makerhive.metrics import Metrics

    host = args.metrics_host or "127.0.0.1"
    metrics = Metrics(hive, args.metrics_port, host=host)
    try:
        port = metrics.start()
    except OSError as e:
        print(f"makerhive: --metrics-port {args.metrics_port}: cannot listen: {e}", file=sys.stderr)
        return False
    msg = f"metrics: http://{host}:{port}/metrics"
    logging.getLogger(__name__).info(msg)
    if args.headless:
        print(msg, flush=True)  # a script reads the port (with 0: a free one) from here
    return metrics


def _prepare_hyperliquid(cfg: config_mod.Config, args: argparse.Namespace) -> tuple[config_mod.Config, Any] | None:
    """The Hyperliquid safety gate: the key from the environment or a key file (never the
    config), real time only, and mainnet only with --mainnet plus a confirmation."""
    import msgspec

    from venues.hyperliquid.keys import SigningKeyError, load_private_key
    from venues.hyperliquid.signing import Signer

    hl = cfg.venue.hyperliquid
    if args.mainnet:
        hl = msgspec.structs.replace(hl, network="mainnet")
    if args.key_file:
        hl = msgspec.structs.replace(hl, key_file=args.key_file)
    cfg = msgspec.structs.replace(cfg, venue=msgspec.structs.replace(cfg.venue, hyperliquid=hl))
    if (args.speed is not None and args.speed != 1) or cfg.run.speed != 1:
        print("makerhive: the Hyperliquid venue runs in real time; --speed / run.speed apply to the sim only",
              file=sys.stderr)
        return None
    try:
        signer = Signer(load_private_key(hl.key_file or None))
    except SigningKeyError as e:
        print(f"makerhive: {e}", file=sys.stderr)
        return None
    mainnet = hl.network == "mainnet" or hl.signs_mainnet()
    if mainnet and not args.mainnet:
        print("makerhive: the config points at Hyperliquid MAINNET; trading real money needs --mainnet",
              file=sys.stderr)
        return None
    if mainnet and not args.yes:
        who = hl.vault_address or hl.account_address or signer.address
        prompt = (f"Trade with REAL MONEY on Hyperliquid mainnet ({hl.rest_url()}) as {who}, "
                  f"assets {', '.join(cfg.portfolio.assets)}? Type 'yes' to go on: ")
        if not sys.stdin.isatty():
            print("makerhive: --mainnet needs a confirmation: run it in a terminal or add --yes", file=sys.stderr)
            return None
        if input(prompt).strip().lower() != "yes":
            print("makerhive: not confirmed; nothing was sent", file=sys.stderr)
            return None
    return cfg, signer


def operator_command(args: argparse.Namespace, words: list[str]) -> int:
    from makerhive.control import send, socket_path

    cfg = _load(args.config)
    if cfg is None:
        return 2
    path = socket_path(cfg.run.journal_dir)
    try:
        answer = send(path, words)
    except OSError as e:
        print(f"makerhive: no running hive answers at {path}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0 if answer.get("ok") else 1


def chaos(args: argparse.Namespace) -> int:
    cfg = _load(args.config)
    if cfg is None:
        return 2
    if args.faults < 0:
        print("makerhive: --faults must be >= 0", file=sys.stderr)
        return 2
    if args.latency_profile is not None:
        import msgspec

        cfg = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, latency_profile=args.latency_profile))
    _setup_logging(cfg)
    sys.setswitchinterval(0.0005)
    from rich.console import Console

    from makerhive.affinity import pin_to_cpu
    from makerhive.chaos import report_table, run_chaos
    from makerhive.progress import JobProgress

    kinds = _fault_kinds(args.kinds, args.venue)
    if isinstance(kinds, str):
        print(f"makerhive: --kinds: {kinds}", file=sys.stderr)
        return 2
    only = {"kinds": kinds} if kinds else {}  # none named: every kind of the venue
    pin_to_cpu(cfg.run.pin_cpu)
    console = Console(width=None if sys.stdout.isatty() else 120)
    say = lambda text: console.print(f"[dim]{text}[/dim]")  # noqa: E731
    if args.venue == "remote-sim":
        import tempfile

        from makerhive.chaos_restart import restart_table, run_kill_restart

        workdir = Path(tempfile.mkdtemp(prefix="mh-chaos-"))  # short: the control socket's path lives in it
        report = run_kill_restart(Path(args.config), workdir, seed=args.seed, cycles=args.faults, speed=args.speed,
                                  progress=say)
        report["workdir"] = str(workdir)
        table = restart_table(report)
    elif args.venue == "hl-fake":
        from makerhive.chaos_hl import run_chaos_hl

        report = run_chaos_hl(cfg, seed=args.seed, faults=args.faults, duration=args.duration, progress=say, **only)
        table = report_table(report)
    else:
        # the bar counts simulated seconds (the faults are spread over them); its line names the faults done
        with JobProgress("chaos", args.duration, unit="simulated s") as bar:
            def progress(sim_s: float, faults_done: int) -> None:
                bar.update(sim_s, label=f"chaos ({faults_done}/{args.faults} faults)")

            report = run_chaos(cfg, seed=args.seed, faults=args.faults, duration=args.duration, speed=args.speed,
                               progress=progress, **only)
        table = report_table(report)
    if args.summary_json:
        Path(args.summary_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.summary_json).write_text(json.dumps(report, indent=2))
    console.print(table)
    if not report["invariants_ok"]:
        console.print("[red]an invariant broke[/red]")
        return 1
    console.print("every invariant held.")
    return 0


def _fault_kinds(arg: str | None, venue: str) -> tuple[str, ...] | str:
    """The ``--kinds`` asked for (empty: every kind), or why they cannot be had."""
    if arg is None:
        return ()
    if venue == "remote-sim":
        return "remote-sim has one kind of fault (process_kill)"
    if venue == "hl-fake":
        from makerhive.chaos_hl import HL_FAULT_KINDS as known
    else:
        from makerhive.chaos import FAULT_KINDS as known
    asked = tuple(k.strip() for k in arg.split(",") if k.strip())
    unknown = [k for k in asked if k not in known]
    if unknown or not asked:
        return f"unknown fault kind(s) {', '.join(unknown) or '(none given)'} for {venue}; allowed: {', '.join(known)}"
    return asked


def backtest(args: argparse.Namespace) -> int:
    """The backtester; with --journal its result also goes into a journal (a plain run only)."""
    from makerhive import backtest_cli

    written: list[Path] = []
    if args.journal:
        from makerhive.journal_backtest import write_backtest

        args.result_sink = lambda result: written.append(write_backtest(result, args.journal))
    rc = backtest_cli.run(args)
    if args.journal and rc == 0:
        if not written:
            print("makerhive backtest: --journal works with a plain backtest (no --sweep, --evaluate, "
                  "--compare-allocation, --against-live or --scenario as-paper)", file=sys.stderr)
            return 2
        print(f"journal: {written[0]}")
    return rc


def report(args: argparse.Namespace) -> int:
    from makerhive.report import write_report

    try:
        rep = write_report(args.journal, args.out, args.run)
    except (FileNotFoundError, ValueError) as e:
        print(f"makerhive report: {e}", file=sys.stderr)
        return 2
    t = rep["total"]
    print(f"run {rep['run_id']} ({rep['kind']}, {rep['venue']}): net PnL ${t['net_pnl']:,.2f}, {t['fills']} fills, "
          f"{_maybe(t['bp_per_notional'], '.2f')} bp/notional, Sharpe {_maybe(t['sharpe'], '.2f')}, "
          f"max drawdown ${t['max_drawdown']:,.2f}")
    print(f"written: {Path(args.out) / 'report.json'} and {len(rep['plots'])} plots")
    return 0


def _maybe(x: Any, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "chaos":
        return chaos(args)
    if args.command == "check-config":
        return check_config(args.path, args.params)
    if args.command == "optimize":
        from makerhive import optimize_cli

        return optimize_cli.run(args)
    if args.command == "train-model":
        from makerhive import train_model_cli

        return train_model_cli.run(args)
    if args.command == "unquarantine":
        return operator_command(args, ["unquarantine", args.asset])
    if args.command == "status":
        return status(args)
    if args.command == "resume":
        return operator_command(args, ["resume"])
    if args.command in ("reoptimize", "rollback-params"):
        return operator_command(args, [args.command])
    if args.command == "backtest":
        return backtest(args)
    if args.command == "history":
        from makerhive import history

        return history.run_cli(args)
    if args.command == "report":
        return report(args)
    if args.command == "sim-server":
        from venues.remote import server as sim_server

        return sim_server.run_cli(args)
    if args.command == "record":
        from venues.hyperliquid import recorder

        return recorder.run_cli(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
