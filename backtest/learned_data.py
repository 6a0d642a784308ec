"""Training rows for the learned fill and adverse-selection model, from backtests and
from recordings.

``LabelledBacktest`` is the backtester with a notebook (``LabelledReplay``, the replay of a
recording with the same notebook: a run's own recording, or any recorder-format stream,
labels as the simulator's markets do): every ladder the quoter sends
gives one row per side (its L1 quote, ``strategy.learned.features`` on the MarketState
the quoter saw; a retreat-only ladder places nothing, so it gives none), and after the
run each row is labelled from what the engine did:

- ``filled``: one of our orders on that side filled within ``horizon_s`` at a price
  at least as aggressive as the L1 quote (a bid at or above it, an ask at or below it);
- ``adverse`` (rows that filled): the mid ``markout_s`` after that fill was on the
  wrong side of the fill price (we bought and it fell, we sold and it rose).

``rows_for`` (a top-level function: workers import and call it) runs one scenario and
seed, ``rows_for_replay`` one recording, and each returns plain lists, so datasets build
on the executor like any sweep.
"""
from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

from backtest.engine import Backtest
from backtest.evaluate import scenario_config
from backtest.replay import ReplayBacktest
from config import Config
from messages.market import MarketState
from messages.orders import QuoteLadder
from strategy.learned import features

NS = 1_000_000_000


class Notebook:
    """What a labelled run notes on top of its backtester (a mixin before ``Backtest`` or
    ``ReplayBacktest``): the quotes with their features, our fills, the mid each step."""

    assets: list[str]
    sim: Any

    def _open_notebook(self) -> None:
        self._market: dict[str, MarketState] = {}
        self.quotes: list[tuple[str, float, str, float, list[float]]] = []  # asset, ts, side, px, x
        self.fills: dict[tuple[str, str], list[tuple[float, float]]] = {}  # (asset, side) -> [(ts, px)]
        self.mids: dict[str, tuple[list[float], list[float]]] = {a: ([], []) for a in self.assets}

    def _deliver(self, asset: str, role: str, msg: Any) -> None:
        if role == "quoter" and type(msg) is MarketState:
            self._market[asset] = msg
        elif role == "order" and type(msg) is QuoteLadder and not msg.retreat_only:
            m = self._market.get(asset)  # (a retreat-only ladder places nothing: it is no quote)
            if m is not None and m.mid > 0:
                for side, levels in (("B", msg.bids), ("A", msg.asks)):
                    if levels:
                        self.quotes.append((asset, msg.ts, side, levels[0].px, features(m, side, levels[0].px, 0)))
        super()._deliver(asset, role, msg)

    def _record_fill(self, t: int, f: Any) -> None:
        super()._record_fill(t, f)
        self.fills.setdefault((f.asset, f.side), []).append((t / NS, f.px))

    def _step(self, t: int, j: int) -> None:
        super()._step(t, j)
        for a in self.assets:
            ts, mids = self.mids[a]
            ts.append(t / NS)
            mids.append(self.sim.mid(a))

    def mid_at(self, asset: str, ts: float) -> float | None:
        times, mids = self.mids[asset]
        i = bisect.bisect_right(times, ts) - 1
        return mids[i] if 0 <= i < len(mids) and times[-1] >= ts else None

    def labelled(self, horizon_s: float, markout_s: float) -> dict[str, list]:
        X, filled, adverse_x, adverse = [], [], [], []
        for asset, ts, side, px, x in self.quotes:
            fills = self.fills.get((asset, side), [])
            i = bisect.bisect_right(fills, (ts, float("inf")))
            hit = None
            for fts, fpx in fills[i:]:
                if fts > ts + horizon_s:
                    break
                if (fpx >= px) if side == "B" else (fpx <= px):
                    hit = (fts, fpx)
                    break
            X.append(x)
            filled.append(int(hit is not None))
            if hit is not None:
                later = self.mid_at(asset, hit[0] + markout_s)
                if later is not None:
                    adverse_x.append(x)
                    adverse.append(int(later < hit[1] if side == "B" else later > hit[1]))
        return {"X": X, "filled": filled, "adverse_X": adverse_x, "adverse": adverse}


class LabelledBacktest(Notebook, Backtest):
    def __init__(self, cfg: Config, *, seed: int | None = None) -> None:
        super().__init__(cfg, seed=seed)
        self._open_notebook()


class LabelledReplay(Notebook, ReplayBacktest):
    def __init__(self, cfg: Config, root: str | Path) -> None:
        super().__init__(cfg, root)
        self._open_notebook()


def rows_for(job: tuple[Config, str, int, float, float, float]) -> dict[str, Any]:
    """One scenario and seed: the labelled rows (the job tuple: config, scenario, seed,
    duration, fill horizon, markout horizon)."""
    cfg, scenario, seed, duration_s, horizon_s, markout_s = job
    bt = LabelledBacktest(scenario_config(cfg, scenario, duration_s), seed=seed)
    bt.run(duration_s)
    return {"scenario": scenario, "seed": seed, **bt.labelled(horizon_s, markout_s)}


def rows_for_replay(job: tuple[Config, str, int, float | None, float, float]) -> dict[str, Any]:
    """One recording: the labelled rows of replaying it, the whole or its first
    ``duration`` seconds (the job tuple: config, recording directory, its index, which
    stands for the seed when rows are split for training and testing, duration or None,
    fill horizon, markout horizon)."""
    cfg, root, index, duration_s, horizon_s, markout_s = job
    bt = LabelledReplay(cfg, root)
    bt.run(duration_s)
    return {"scenario": f"replay {root}", "seed": index, "replay": str(root), **bt.labelled(horizon_s, markout_s)}
