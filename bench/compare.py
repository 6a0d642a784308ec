"""makerhive against hftbacktest on one generated stream: throughput of the two backtesters,
and what each maker earns (issues 12 and 15).

    python -m bench compare [--json PATH] [--hours H] [--seed N] [--asset NAME] [--market {orderbook,santafe,queue_reactive}]
                            [--keep DIR | --stream DIR] [--params FILE] [--set KEY=VALUE ...]

One recorded-format stream (``bench.stream``: BTC from the order-book simulator, or the
config's ``--asset``, 20+20 levels every 0.5 s plus trades; 1 hour by default, ``--hours``
for more; ``--market santafe``: from the zero-intelligence book with informed takers,
``bench.santafe``, and ``--market queue_reactive``: from the queue-reactive book with
self-exciting order flow, ``bench.queue_reactive``, markets the strategy was not built on) is
- replayed by makerhive exactly as ``makerhive backtest --replay DIR`` does (the
  config's full strategy stack for BTC), with fixed 20 ms order and ack latencies and no
  extra feed latency (the stream carries its own receive times);
- converted by hftbacktest's own Hyperliquid converter and traded by its GLFT grid
  example maker (``bench.glft_grid``), 20 ms order latency each way, the power-3
  probabilistic queue model, no partial fills.
Both pay Hyperliquid's base maker fee, 1.5 bp (and 4.5 bp taker; both post only). Both
order sizes are makerhive's ``order_size_usd``.

Events are counted alike: one per price level, per side, that appeared, disappeared or
changed size between consecutive books, plus one per trade (hftbacktest's converted rows;
makerhive's ``level_events`` + ``trade_events``). ``*_events_per_s`` = events / wall
seconds of the backtest loop alone (hftbacktest's compilation and both loaders excluded).
``bp_per_notional`` = net PnL after fees (marked at the last mid) / traded notional × 1e4.
Rerun it after strategy changes: the makerhive side is whatever ``config.toml`` says,
with ``--set quoting.tape_edge.enabled=false`` (a dotted key, a TOML value; repeatable)
on top. makerhive's net is also split, in bp of its traded notional, into
``capture_bp`` (each fill's price against the book's mid when it filled), ``fees_bp``
and ``inventory_bp`` (what the position did after its fills, to the last mid), and its
fills into those a recorded print made and those the recorded book moving through the
order made (``fills_book_through``).
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import tomllib

import config as config_mod
from backtest.optimize_space import read_overlay
from backtest.overrides import override
from backtest.replay import ReplayBacktest
from backtest.report import build_report
from bench.stream import GENERATED, MARKETS, generate
from venues.replay import asset_files, read_lines

ROOT = Path(__file__).resolve().parents[1]
ASSET = "BTC"  # the default stream's coin
LATENCY_MS = 20.0
MAKER_FEE, TAKER_FEE = 0.00015, 0.00045  # Hyperliquid's base tier
STREAM_INFO = "stream.json"  # what --keep wrote (asset, hours, seed, tick, ...), for --stream


def parse_args(argv: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench compare")
    p.add_argument("--hours", type=float, default=None, help="hours of BTC to generate (default 1)")
    p.add_argument("--seed", type=int, default=None, help="the generated market's seed (default 7)")
    p.add_argument("--asset", default=None, metavar="NAME",
                   help="the coin to generate, one of config.toml's assets (default BTC); its own market: "
                        "HYPE's book is wider and thinner than BTC's")
    p.add_argument("--market", default=None, choices=MARKETS,
                   help="the generated market: the simulator's order-book market (default); santafe, the "
                        "zero-intelligence book with informed takers (bench/santafe.py); or queue_reactive, the "
                        "queue-reactive book with self-exciting order flow and news (bench/queue_reactive.py); "
                        "the last two for BTC and HYPE, built on other assumptions than the simulator's")
    p.add_argument("--keep", default=None, metavar="DIR", help="write the stream to DIR and keep it")
    p.add_argument("--stream", default=None, metavar="DIR",
                   help="replay the stream an earlier --keep DIR wrote instead of generating one (its hours and "
                        "seed are its own): the very same market, even after the simulator's code has changed")
    add_config_options(p)
    a = p.parse_args(argv)
    if a.stream is not None:
        if a.keep is not None or a.hours is not None or a.seed is not None or a.asset is not None \
                or a.market is not None:
            p.error("--stream replays a kept stream as it is: no --keep, --hours, --seed, --asset or --market with it")
        if not (Path(a.stream) / STREAM_INFO).is_file():
            p.error(f"--stream {a.stream}: no {STREAM_INFO} there (write the stream with --keep DIR first)")
    hours = 1.0 if a.hours is None else a.hours
    if not (hours > 0 and hours <= 48):
        p.error(f"--hours {a.hours}: must be in (0, 48]")
    sets = parse_sets(p, a.set, a.params)
    cfg = override(config_mod.load(ROOT / "config.toml"), sets)
    asset = ASSET if a.asset is None else a.asset.upper()
    if asset not in cfg.assets:
        p.error(f"--asset {a.asset}: not an asset of config.toml ({', '.join(cfg.assets)})")
    market = a.market or "orderbook"
    if market in GENERATED and asset not in GENERATED[market][0]:
        p.error(f"--market {market}: no profile for {asset} (one of {', '.join(GENERATED[market][0])})")
    return {"hours": hours, "seed": 7 if a.seed is None else a.seed, "keep": a.keep, "stream_dir": a.stream,
            "sets": sets, "asset": asset, "market": market}


def add_config_options(p: argparse.ArgumentParser) -> None:
    """``--set`` and ``--params``, makerhive's config for the run (``parse_sets`` reads them)."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key for makerhive (dotted key, TOML value), e.g. "
                        "quoting.tape_edge.enabled=false; repeatable")
    p.add_argument("--params", default=None, metavar="FILE",
                   help="a parameter overlay for makerhive (TOML or JSON, as `makerhive run --params` takes: "
                        "makerhive optimize's best.toml, say); --set keys win over it")


def parse_sets(p: argparse.ArgumentParser, items: list[str], params: str | None = None) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as config overrides (TOML values), over the overlay file
    ``params`` (``--params``: ``makerhive optimize``'s best.toml, say), checked against
    config.toml: a bad one is the parser's error, naming it."""
    sets: dict[str, Any] = {}
    if params is not None:
        try:
            sets.update(read_overlay(params))
        except config_mod.ConfigError as e:
            p.error(f"--params: {e}")
    for item in items:
        key, eq, value = item.partition("=")
        try:
            if not (eq and key):
                raise ValueError("expected KEY=VALUE")
            sets[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except (ValueError, tomllib.TOMLDecodeError) as e:
            p.error(f"--set {item}: {e}")
    try:
        override(config_mod.load(ROOT / "config.toml"), sets)
    except config_mod.ConfigError as e:
        p.error(f"{'--params/--set' if params is not None else '--set'}: {e}")
    return sets


def _makerhive_config(sets: dict[str, Any] | None = None) -> config_mod.Config:
    cfg = override(config_mod.load(ROOT / "config.toml"), sets or {})
    sim = msgspec.structs.replace(cfg.sim, latency_profile="fixed", order_latency_ms=LATENCY_MS,
                                  ack_latency_ms=LATENCY_MS, feed_latency_ms=0.0, fee_tier=0)
    return msgspec.structs.replace(cfg, sim=sim)


class _WatchedReplay(ReplayBacktest):
    """The replay, also noting where each placement sat: ticks behind the touch on its
    side when the order side sent it (negative: inside the spread). Watching only."""

    def __init__(self, *args: Any, tick: float, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.tick = tick
        self.behind: list[float] = []
        self.through: set[tuple[float, float, str]] = set()  # (ts, px, side) of fills the book made
        trade_through = self.sim._trade_through

        def watched(b: Any, market: Any, ts: float, events: list[Any]) -> None:
            n = len(events)
            trade_through(b, market, ts, events)
            self.through.update((e.ts, e.px, e.side) for e in events[n:] if type(e).__name__ == "Fill")

        self.sim._trade_through = watched  # type: ignore[method-assign]

    def _send_one(self, asset: str, cmd: Any) -> None:
        bids, asks = self.sim.markets[asset].book(1)
        if bids and asks:
            for o in cmd.places:
                gap = bids[0].px - o.px if o.side == "B" else o.px - asks[0].px
                self.behind.append(gap / self.tick)
        super()._send_one(asset, cmd)


def _split(rec: Any, through: set[tuple[float, float, str]]) -> dict[str, Any]:
    """The net PnL in bp of traded notional: spread captured at the fills (against the
    book's mid then), fees, and the position's move after (the rest, to the last mid)."""
    vol = sum(f.px * f.sz for f in rec.fills)
    if not vol > 0:
        return {"capture_bp": None, "fees_bp": None, "inventory_bp": None, "fills_book_through": 0}
    capture = sum((f.mid - f.px if f.side == "B" else f.px - f.mid) * f.sz for f in rec.fills)
    fees = sum(f.fee for f in rec.fills)
    net = rec.cash + rec.position * rec.final_mid
    return {"capture_bp": round(capture / vol * 1e4, 4), "fees_bp": round(-fees / vol * 1e4, 4),
            "inventory_bp": round((net - capture + fees) / vol * 1e4, 4),
            "fills_book_through": sum((f.ts, f.px, f.side) in through for f in rec.fills)}


def run_makerhive(root: Path, tick: float, sets: dict[str, Any] | None = None, asset: str = ASSET) -> dict[str, Any]:
    cfg = _makerhive_config(sets)
    bt = _WatchedReplay(cfg, root, assets=[asset], tick=tick)
    t0, c0 = time.perf_counter(), time.process_time()
    result = bt.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rec = result.records[asset]
    events = rec.level_events + rec.trade_events
    rep = build_report(result)["per_asset"][asset]
    minutes = result.duration_s / 60
    return {
        "events": events, "level_events": rec.level_events, "trade_events": rec.trade_events,
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "events_per_s": round(events / wall), "events_per_cpu_s": round(events / cpu),
        "fills": rep["fills"], "volume_usd": round(rep["volume_usd"], 2), "net_pnl": round(rep["net_pnl"], 4),
        "fees": round(rep["fees"], 4), "bp_per_notional": _round(rep["bp_per_notional"]),
        "bp_per_notional_before_fees": _round((rep["net_pnl"] + rep["fees"]) / rep["volume_usd"] * 1e4
                                              if rep["volume_usd"] > 0 else None),
        "orders_per_min": round(rep["orders_sent"] / minutes, 2),
        "cancels_per_min": round(rep["cancels_sent"] / minutes, 2),
        "actions_per_usd": _round(rep["actions_per_usd"]), "budget_rejects": rep["budget_rejects"],
        "alo_reject_rate": _round(rep["alo_reject_rate"]), "markout_bp": rep["markout_bp"],
        "final_position": rep["final_position"],
        "placements_ticks_behind_touch": _quantiles(bt.behind),
        **_split(rec, bt.through),
    }


def _quantiles(xs: list[float]) -> dict[str, float] | None:
    if not xs:
        return None
    q = np.quantile(np.asarray(xs), [0.1, 0.5, 0.9])
    return {"p10": round(float(q[0]), 1), "p50": round(float(q[1]), 1), "p90": round(float(q[2]), 1)}


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def _hft_feed(root: Path, out: Path, asset: str) -> None:
    """The recording as hftbacktest's Hyperliquid collector writes it: one line per frame,
    the local receive time in ns, a space, ``{"channel": ..., "data": ...}``."""
    with gzip.open(out, "wb") as f:
        for path in asset_files(root, asset):
            for line in read_lines(path):
                fr = json.loads(line)
                f.write(b"%d " % (fr["t"] * 1_000_000))
                f.write(json.dumps({"channel": fr["ch"], "data": fr["data"]}, separators=(",", ":")).encode())
                f.write(b"\n")


def run_hftbacktest(root: Path, info: dict[str, Any], order_usd: float) -> dict[str, Any]:
    try:
        from hftbacktest import BacktestAsset, ROIVectorMarketDepthBacktest
        from hftbacktest.data.utils import hyperliquid
    except ImportError as e:  # the bench extra is missing
        raise SystemExit(f"bench compare needs hftbacktest: .venv/bin/pip install -e '.[bench]' ({e})")
    from bench.glft_grid import gridtrading_glft_mm

    tick, lot = info["tick"], info["lot"]
    feed = root / "hftbacktest_feed.gz"
    _hft_feed(root, feed, info["asset"])
    rows = (info["books"] * 2 * 20 * 2 + info["trades"]) + 1000
    with contextlib.redirect_stdout(io.StringIO()):  # the converter reports its steps on stdout
        data = hyperliquid.convert(str(feed), tick_size=tick, lot_size=lot, num_levels=20, buffer_size=rows)
    feed.unlink()
    px0 = info["start_price"]
    qty = max(lot, round(order_usd / px0 / lot) * lot)

    def backtest(d: np.ndarray) -> Any:
        asset = (BacktestAsset().data([d]).linear_asset(1.0)
                 .constant_latency(int(LATENCY_MS * 1e6), int(LATENCY_MS * 1e6))
                 .power_prob_queue_model3(3.0).no_partial_fill_exchange()
                 .trading_value_fee_model(MAKER_FEE, TAKER_FEE)
                 .tick_size(tick).lot_size(lot).roi_lb(px0 * 0.5).roi_ub(px0 * 1.5)
                 .last_trades_capacity(10_000))
        return ROIVectorMarketDepthBacktest([asset])

    steps = int((data["exch_ts"][-1] - data["exch_ts"][0]) / 1e8) + 10
    out = np.zeros(3, np.int64)
    warm = backtest(data[: min(len(data), 20_000)].copy())  # compiles the maker (not timed)
    gridtrading_glft_mm(warm, qty, steps, out)
    warm.close()
    hbt = backtest(data)
    t0, c0 = time.perf_counter(), time.process_time()
    gridtrading_glft_mm(hbt, qty, steps, out)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sv = hbt.state_values(0)
    depth = hbt.depth(0)
    mid = (depth.best_bid + depth.best_ask) / 2
    position, balance, fee = sv.position, sv.balance, sv.fee
    value = sv.trading_value
    hbt.close()
    net = balance + position * mid - fee
    minutes = out[0] / 600
    return {
        "events": len(data), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "events_per_s": round(len(data) / wall), "events_per_cpu_s": round(len(data) / cpu),
        "fills": int(sv.num_trades), "volume_usd": round(value, 2), "net_pnl": round(net, 4), "fees": round(fee, 4),
        "bp_per_notional": _round(net / value * 1e4 if value > 0 else None),
        "bp_per_notional_before_fees": _round((net + fee) / value * 1e4 if value > 0 else None),
        "orders_per_min": round(int(out[1]) / minutes, 2) if minutes else None,
        "cancels_per_min": round(int(out[2]) / minutes, 2) if minutes else None,
        "order_qty": qty, "final_position": position,
    }


def load_stream(root: Path, *, hours: float, seed: int, keep: bool, reuse: bool,
                asset: str = ASSET, market: str = "orderbook") -> tuple[dict[str, Any], float | None]:
    """The stream under ``root`` and the seconds it took to generate: read back (``reuse``:
    one that ``keep`` wrote earlier), or generated now (with ``keep``, its description is
    written beside it for a later ``--stream``)."""
    if reuse:
        return json.loads((root / STREAM_INFO).read_text()), None
    t0 = time.perf_counter()
    info = generate(root, hours=hours, seed=seed, asset=asset, market_model=market)
    gen_s = time.perf_counter() - t0
    if keep:
        (root / STREAM_INFO).write_text(json.dumps(info, indent=2))
    return info, gen_s


def run(quick: bool = False, hours: float = 1.0, seed: int = 7, keep: str | None = None,
        sets: dict[str, Any] | None = None, stream_dir: str | None = None, asset: str = ASSET,
        market: str = "orderbook") -> dict[str, Any]:
    hours = min(hours, 0.25) if quick else hours
    with tempfile.TemporaryDirectory(prefix="makerhive-compare-") as tmp:
        root = Path(stream_dir or keep or tmp)
        info, gen_s = load_stream(root, hours=hours, seed=seed, keep=bool(keep), reuse=stream_dir is not None,
                                  asset=asset, market=market)
        asset = info["asset"]  # a kept stream's own coin
        mh = run_makerhive(root, info["tick"], sets, asset)
        order_usd = _makerhive_config(sets).assets[asset].quoting.order_size_usd
        hb = run_hftbacktest(root, info, order_usd)
    return {
        "makerhive_events_per_s": mh["events_per_s"],
        "hftbacktest_events_per_s": hb["events_per_s"],
        "speed_ratio": round(hb["events_per_s"] / mh["events_per_s"], 2),
        "makerhive_fills": mh["fills"], "hftbacktest_fills": hb["fills"],
        "makerhive_bp_per_notional": mh["bp_per_notional"], "hftbacktest_bp_per_notional": hb["bp_per_notional"],
        "stream": {**info, "generated_in_s": None if gen_s is None else round(gen_s, 1), "dir": stream_dir or keep},
        "setup": {"latency_ms": LATENCY_MS, "maker_fee": MAKER_FEE, "taker_fee": TAKER_FEE,
                  "hftbacktest_queue_model": "power_prob_queue_model3(3.0)", "order_usd": order_usd,
                  "makerhive": "backtest --replay with config.toml (fixed 20 ms latencies)",
                  "makerhive_overrides": dict(sets or {}),
                  "hftbacktest": "GLFT grid example maker (bench/glft_grid.py)"},
        "makerhive": mh,
        "hftbacktest": hb,
    }
