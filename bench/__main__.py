"""Benchmarks: ``.venv/bin/python -m bench NAME [--json PATH]``.

Speed and memory targets live here, never in unit tests. Each benchmark prints its
figures and, with --json, writes them. A benchmark whose figures run long (``markets``:
a row per stream) prints only its ``brief`` of them, so its table is not scrolled away;
--json writes them all.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

BENCHES = {
    "latency": "bench.latency",
    "recovery": "bench.recovery",
    "backtest": "bench.backtest",
    "hyperliquid": "bench.hyperliquid",
    "decode": "bench.decode",
    "signing": "bench.signing",
    "compare": "bench.compare",
    "markets": "bench.markets",
    "soak": "bench.soak",
    "learned": "bench.learned",
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("name", choices=sorted(BENCHES))
    p.add_argument("--json", default=None, metavar="PATH", help="write the figures as JSON")
    p.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    args, rest = p.parse_known_args(argv)
    mod = importlib.import_module(BENCHES[args.name])
    if rest and not hasattr(mod, "parse_args"):
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    extra = mod.parse_args(rest) if hasattr(mod, "parse_args") else {}  # a benchmark's own options
    result = mod.run(quick=args.quick, **extra)
    print(json.dumps(mod.brief(result) if hasattr(mod, "brief") else result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
