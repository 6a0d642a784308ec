"""The learned model's cost on the hot path: features plus P(adverse) for one quote.

Trains a small model on short backtests (the toxic scenario, two seeds), then times
``strategy.learned.features`` + the exported trees over the recorded quotes' market
states. Target (issue 15): <= 20 us per quote.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

TARGET_US = 20.0


def run(quick: bool = False) -> dict[str, Any]:
    import tempfile

    import config as c
    from backtest.evaluate import BASE
    from backtest.learned_data import LabelledBacktest
    from backtest.evaluate import scenario_config
    from backtest.learned_train import train, write_model
    from backtest.overrides import override
    from strategy.learned import features, load_model

    cfg = override(c.load(Path(__file__).resolve().parents[1] / "config.toml"), {**BASE, "portfolio.assets": ["BTC"]})
    duration = 60.0 if quick else 300.0
    parts, states = [], []
    for seed in (1, 2):
        bt = LabelledBacktest(scenario_config(cfg, "toxic", duration), seed=seed)
        seen: list = []
        orig = bt._deliver

        def spy(asset, role, msg, seen=seen, orig=orig):
            if role == "quoter" and type(msg).__name__ == "MarketState":
                seen.append(msg)
            orig(asset, role, msg)

        bt._deliver = spy  # type: ignore[method-assign]
        bt.run(duration)
        parts.append({"seed": seed, **bt.labelled(5.0, 5.0)})
        states += seen
    doc = train(parts, [2], {})
    with tempfile.TemporaryDirectory() as d:
        model = load_model(str(write_model(doc, Path(d) / "m.json")))
    proba = model.adverse.proba
    n = 2000 if quick else 20000
    quotes = [(m, "B" if i % 2 else "A", (m.best_bid if i % 2 else m.best_ask)) for i, m in
              zip(range(n), (states * (n // max(1, len(states)) + 1)))]
    t0 = time.perf_counter()
    for m, side, px in quotes:
        proba(features(m, side, px, 0))
    us = (time.perf_counter() - t0) / len(quotes) * 1e6
    return {"us_per_quote": round(us, 2), "target_us": TARGET_US, "meets_target": us <= TARGET_US,
            "trees": len(model.adverse.trees), "quotes_timed": len(quotes), "auc": doc["auc"]}
