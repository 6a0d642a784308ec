"""makerhive against hftbacktest on every generated market, coin and seed at once: the
evidence that the strategy earns (or does not) on markets it was not built around.

    python -m bench markets [--json PATH] [--quick] [--markets orderbook,santafe,queue_reactive]
                            [--assets BTC,HYPE] [--seeds N] [--first-seed K] [--hours H]
                            [--streams DIR] [--workers N] [--params FILE] [--set KEY=VALUE ...]
                            [--baseline PATH]

Each (market, coin, seed) is one ``python -m bench compare`` run (``bench.compare``: the
same recorded-format stream replayed by makerhive with ``config.toml`` and traded by
hftbacktest's GLFT example maker, both paying the 1.5 bp maker fee). The markets
(``bench.stream``): ``orderbook``, the simulator's own; ``santafe``, the zero-intelligence
book with informed takers (``bench.santafe``); ``queue_reactive``, the queue-reactive
book with self-exciting flow and news (``bench.queue_reactive``). The last two share none
of the simulator's assumptions.

Streams are kept under ``--streams`` (default ``.bench-streams/``; one directory per
market, coin, seed and length) and reused, and so is hftbacktest's result on each (it
does not depend on makerhive's config), so a rerun after a strategy change, or with
``--set``, replays only makerhive. Runs go to ``--workers`` processes (default: the
usable cores).

Per market and coin, and over every stream (``total``): both makers' net $ summed, bp per
traded notional after fees pooled (net / notional), fills, and on how many streams
makerhive made more bp than hftbacktest (``wins``; a stream where makerhive did not trade
is counted in ``no_trades``, not as a win or a loss). makerhive's bp also comes split in
two (``bench.compare``): ``capture_bp``, the spread its fills caught against the book's mid
at the fill, and ``inventory_bp``, what the position then made or lost while held; the fee
is the rest.

``--baseline PATH`` pairs this run with an earlier one's JSON on the same streams (say, the
default config before a ``--set``): per market and coin, and over all, makerhive's net $
difference summed, its standard error from the spread of the per-stream differences
between seeds (strata: market and coin, as the evaluation's ``vs full``), ``t`` (|t| < 2:
within the seed-to-seed noise) and on how many streams it did better. One market's
hour is too noisy to judge a change by; this says how noisy.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from backtest.compute import LocalExecutor
from backtest.evaluate import stratified_se
from backtest.parallel import usable_cores
from bench.compare import STREAM_INFO, _makerhive_config, add_config_options, load_stream, parse_sets, \
    run_hftbacktest, run_makerhive
from bench.stream import GENERATED, MARKETS

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STREAMS = ROOT / ".bench-streams"
DEFAULT_MARKETS = MARKETS
DEFAULT_ASSETS = ("BTC", "HYPE")  # the liquid coin and the alt every market has a profile for
KEYS = ("net_pnl", "volume_usd", "fills", "bp_per_notional")
SPLIT = ("capture_bp", "inventory_bp", "fills_book_through")  # makerhive's only (bench.compare's split)
Key = tuple[str, str, int]  # market, coin, seed


def parse_args(argv: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench markets")
    p.add_argument("--markets", default=",".join(DEFAULT_MARKETS), metavar="A,B",
                   help=f"generated markets, from {', '.join(MARKETS)} (default: all)")
    p.add_argument("--assets", default=",".join(DEFAULT_ASSETS), metavar="A,B",
                   help="coins (default BTC,HYPE); each market must have them (config.toml's for orderbook)")
    p.add_argument("--seeds", type=int, default=6, metavar="N", help="seeds per market and coin (default 6)")
    p.add_argument("--first-seed", type=int, default=1, metavar="K", help="the first seed (default 1)")
    p.add_argument("--hours", type=float, default=1.0, help="hours per stream (default 1)")
    p.add_argument("--streams", default=str(DEFAULT_STREAMS), metavar="DIR",
                   help="where streams (and hftbacktest's results on them) are kept and reused")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="processes (default: the usable cores)")
    add_config_options(p)
    p.add_argument("--baseline", default=None, metavar="PATH",
                   help="an earlier run's --json on the same streams: print makerhive's paired difference from "
                        "it, with its standard error and t, per market and coin and over all")
    a = p.parse_args(argv)
    markets = [m.strip() for m in a.markets.split(",") if m.strip()]
    for m in markets:
        if m not in MARKETS:
            p.error(f"--markets {m}: one of {', '.join(MARKETS)}")
    assets = [x.strip().upper() for x in a.assets.split(",") if x.strip()]
    if not markets or not assets:
        p.error("--markets and --assets need at least one name each")
    sets = parse_sets(p, a.set, a.params)
    cfg_assets = _makerhive_config(sets).assets
    for m in markets:
        for asset in assets:
            have = GENERATED[m][0] if m in GENERATED else cfg_assets
            if asset not in have:
                p.error(f"--assets {asset}: market {m} has no profile for it (one of {', '.join(have)})")
    if not 1 <= a.seeds <= 100:
        p.error(f"--seeds {a.seeds}: must be from 1 to 100")
    if not 0 < a.hours <= 48:
        p.error(f"--hours {a.hours}: must be in (0, 48]")
    if a.workers is not None and a.workers < 1:
        p.error(f"--workers {a.workers}: must be at least 1")
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    baseline = None
    if a.baseline is not None:
        try:
            baseline = load_baseline(a.baseline, [(m, x, s) for m in markets for x in assets for s in seeds], a.hours)
        except ValueError as e:
            p.error(f"--baseline {a.baseline}: {e}")
    return {"markets": markets, "assets": assets, "seeds": seeds,
            "hours": a.hours, "streams": a.streams, "workers": a.workers, "sets": sets, "baseline": baseline}


def load_baseline(path: str | Path, wanted: list[Key], hours: float) -> dict[str, Any]:
    """An earlier run's JSON, checked to hold every stream of this run (same market, coin,
    seed and length): ``{"path", "hours", "rows"}``, the rows in this run's order. ValueError
    says what does not fit."""
    try:
        doc = json.loads(Path(path).read_text())
        setup, rows = doc["setup"], doc["rows"]
        have = {(r["market"], r["asset"], int(r["seed"])): r for r in rows
                if isinstance(r["makerhive"]["net_pnl"], (int, float))}
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"not the JSON of a `python -m bench markets --json` run ({type(e).__name__}: {e})") from None
    if setup.get("hours") != hours:
        raise ValueError(f"its streams are {setup.get('hours')} h long, this run's {hours:g} h (--hours)")
    missing = [k for k in wanted if k not in have]
    if missing:
        m, x, sd = missing[0]
        raise ValueError(f"no row for {m} {x} seed {sd} ({len(missing)} of this run's {len(wanted)} streams "
                         f"missing; it ran seeds {sorted({k[2] for k in have})})")
    return {"path": str(path), "hours": hours, "rows": [have[k] for k in wanted]}


def stream_dir(streams: str | Path, market: str, asset: str, seed: int, hours: float) -> Path:
    return Path(streams) / f"{market}-{asset}-s{seed}-{hours:g}h"


def one(job: tuple[str, str, int, float, str, dict[str, Any]]) -> dict[str, Any]:
    """One stream: generated (or reused), replayed by makerhive, traded by hftbacktest (or its kept result)."""
    market, asset, seed, hours, streams, sets = job
    root = stream_dir(streams, market, asset, seed, hours)
    reuse = (root / STREAM_INFO).is_file()
    root.mkdir(parents=True, exist_ok=True)
    info, _ = load_stream(root, hours=hours, seed=seed, keep=True, reuse=reuse, asset=asset, market=market)
    mh = run_makerhive(root, info["tick"], sets, asset)
    order_usd = _makerhive_config(sets).assets[asset].quoting.order_size_usd
    kept = root / f"hftbacktest-{order_usd:g}usd.json"
    if kept.is_file():
        hb = json.loads(kept.read_text())
    else:
        hb = run_hftbacktest(root, info, order_usd)
        kept.write_text(json.dumps(hb, indent=2))
    return {"market": market, "asset": asset, "seed": seed, "stream": str(root),
            "makerhive": {k: mh[k] for k in KEYS + SPLIT}, "hftbacktest": {k: hb[k] for k in KEYS}}


def progress(row: dict[str, Any]) -> str:
    """One finished stream, for the terminal while the rest run."""
    def said(x: dict[str, Any]) -> str:
        bp = "no trade" if x["bp_per_notional"] is None else f"{x['bp_per_notional']:+.2f} bp"
        return f"{bp} ({x['fills']} fills, {x['net_pnl']:+.2f} $)"

    return (f"{row['market']} {row['asset']} seed {row['seed']}: makerhive {said(row['makerhive'])}, "
            f"hftbacktest {said(row['hftbacktest'])}")


def pooled(rows: list[dict[str, Any]], **label: Any) -> dict[str, Any]:
    """``rows`` in one: both makers' net $, notional and fills summed, bp pooled (net /
    notional), and the streams where makerhive made more bp (``wins``) or did not trade."""
    s: dict[str, Any] = {**label, "streams": len(rows)}
    for who in ("makerhive", "hftbacktest"):
        net = sum(r[who]["net_pnl"] for r in rows)
        vol = sum(r[who]["volume_usd"] for r in rows)
        s[who] = {"net_pnl": round(net, 2), "volume_usd": round(vol, 2), "fills": sum(r[who]["fills"] for r in rows),
                  "bp_per_notional": round(net / vol * 1e4, 2) if vol > 0 else None}
    split = [r["makerhive"] for r in rows if r["makerhive"].get("capture_bp") is not None]
    split_vol = sum(x["volume_usd"] for x in split)
    for k in ("capture_bp", "inventory_bp"):  # pooled as the bp are: by notional
        s["makerhive"][k] = round(sum(x[k] * x["volume_usd"] for x in split) / split_vol, 2) if split_vol > 0 else None
    if split:
        s["makerhive"]["fills_book_through"] = sum(x["fills_book_through"] for x in split)
    traded = [r for r in rows if r["makerhive"]["bp_per_notional"] is not None]
    s["wins"] = sum(1 for r in traded if r["hftbacktest"]["bp_per_notional"] is None
                    or r["makerhive"]["bp_per_notional"] > r["hftbacktest"]["bp_per_notional"])
    s["no_trades"] = len(rows) - len(traded)
    return s


def versus(rows: list[dict[str, Any]], base: dict[Key, dict[str, Any]]) -> dict[str, Any] | None:
    """makerhive on ``rows`` against ``base`` (an earlier run's rows by market, coin and
    seed) on the same streams: the summed difference of net $, its standard error from the
    spread of the differences between seeds of one market and coin, ``t``, and on how
    many streams it did better or worse. None: no stream in common."""
    by: dict[tuple[str, str], list[float]] = {}
    theirs = []
    for r in rows:
        b = base.get((r["market"], r["asset"], r["seed"]))
        if b is not None:
            by.setdefault((r["market"], r["asset"]), []).append(r["makerhive"]["net_pnl"] - b["makerhive"]["net_pnl"])
            theirs.append(b["makerhive"])
    if not theirs:
        return None
    diffs = [d for ds in by.values() for d in ds]
    total, se = sum(diffs), stratified_se(by)
    net, vol = sum(x["net_pnl"] for x in theirs), sum(x["volume_usd"] for x in theirs)
    return {"pairs": len(diffs), "baseline_net_pnl": round(net, 2),
            "baseline_bp_per_notional": round(net / vol * 1e4, 2) if vol > 0 else None,
            "net_pnl_diff": round(total, 2), "diff_se": None if se is None else round(se, 2),
            "t": round(total / se, 2) if se else None,
            "better": sum(d > 0 for d in diffs), "worse": sum(d < 0 for d in diffs)}


def summarise(rows: list[dict[str, Any]], base: dict[Key, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One pooled line per market and coin, in the order they ran (with ``base``, an
    earlier run's rows by stream: each line's ``vs_baseline``)."""
    out = []
    for market, asset in dict.fromkeys((r["market"], r["asset"]) for r in rows):
        mine = [r for r in rows if r["market"] == market and r["asset"] == asset]
        s = pooled(mine, market=market, asset=asset)
        if base is not None:
            s["vs_baseline"] = versus(mine, base)
        out.append(s)
    return out


def table(summary: list[dict[str, Any]], total: dict[str, Any] | None = None) -> str:
    def cell(x: dict[str, Any]) -> str:
        bp = "-" if x["bp_per_notional"] is None else f"{x['bp_per_notional']:+.2f} bp"
        return f"{x['net_pnl']:+9.2f} $ {bp:>10} {x['fills']:6d} fills"

    def against(v: dict[str, Any] | None) -> str:
        if v is None:
            return "   vs baseline: no stream in common"
        noise = "" if v["diff_se"] is None else f" ± {v['diff_se']:.2f}" + ("" if v["t"] is None else f", t {v['t']:+.1f}")
        return f"   vs baseline {v['net_pnl_diff']:+.2f} ${noise} ({v['better']}/{v['pairs']} better)"

    lines = [f"{'market':<15} {'coin':<5} {'makerhive':>36}   {'hftbacktest':>36}   more bp"]
    for s in summary + ([{**total, "market": "all", "asset": ""}] if total else []):
        lines.append(f"{s['market']:<15} {s['asset']:<5} {cell(s['makerhive']):>36}   {cell(s['hftbacktest']):>36}"
                     f"   {s['wins']}/{s['streams'] - s['no_trades']}"
                     + (f" ({s['no_trades']} without a trade)" if s["no_trades"] else "")
                     + (against(s["vs_baseline"]) if "vs_baseline" in s else ""))
    return "\n".join(lines)


def brief(result: dict[str, Any]) -> dict[str, Any]:
    """What ``python -m bench markets`` prints: all but the per-stream rows (--json has them)."""
    return {k: v for k, v in result.items() if k != "rows"}


def run(quick: bool = False, markets: list[str] | None = None, assets: list[str] | None = None,
        seeds: list[int] | None = None, hours: float = 1.0, streams: str = str(DEFAULT_STREAMS),
        workers: int | None = None, sets: dict[str, Any] | None = None,
        baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    markets = list(markets or DEFAULT_MARKETS)
    assets = list(assets or DEFAULT_ASSETS)
    seeds = list(seeds or range(1, 7))
    if quick:  # one seed of a quarter hour: a smoke run
        seeds, hours = seeds[:1], min(hours, 0.25)
    if baseline is not None and baseline["hours"] != hours:
        raise SystemExit(f"--baseline {baseline['path']}: its streams are {baseline['hours']:g} h long, "
                         f"this run's {hours:g} h (--quick replays a quarter hour)")
    jobs = [(m, a, s, hours, streams, dict(sets or {})) for m in markets for a in assets for s in seeds]
    rows = []
    for row in LocalExecutor(workers or usable_cores()).map(one, jobs):  # in job order, as they finish
        rows.append(row)
        print(f"[{len(rows)}/{len(jobs)}] {progress(row)}", file=sys.stderr, flush=True)
    base = None if baseline is None else {(r["market"], r["asset"], r["seed"]): r for r in baseline["rows"]}
    summary = summarise(rows, base)
    total = pooled(rows)
    if base is not None:
        total["vs_baseline"] = versus(rows, base)
    print(table(summary, total), file=sys.stderr)
    return {"setup": {"markets": markets, "assets": assets, "seeds": seeds, "hours": hours, "streams": streams,
                      "makerhive_overrides": dict(sets or {}),
                      "baseline": None if baseline is None else baseline["path"]},
            "total": total, "summary": summary, "rows": rows}
