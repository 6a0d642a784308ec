"""Walk-forward validation: fit on a window, score on the next one, roll.

The data is a sequence of windows. On a recording (``--replay DIR``) a window is a
slice of its time, in order: ``[k·W, (k+1)·W)`` seconds after the first book. On the
simulated markets a window is one more market "day": the scenario set run with the
next seed, so the window scored was never seen by the fit. ``folds`` lays out which
windows each fold fits on and which one it scores on; ``run_window`` runs one
backtest of one window (a top-level function: workers import and call it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backtest.replay import ReplayBacktest, ReplayError
from config import Config


@dataclass(frozen=True)
class Fold:
    index: int
    fit: tuple[int, ...]  # window numbers the parameters are fitted on
    test: int  # the window right after them, scored out of sample


def folds(windows: int, fit_windows: int) -> list[Fold]:
    """Every fold over ``windows`` windows fitting on ``fit_windows`` consecutive ones."""
    if fit_windows < 1 or windows <= fit_windows:
        raise ValueError(f"walk-forward needs more windows ({windows}) than each fit uses ({fit_windows})")
    return [Fold(i, tuple(range(i, i + fit_windows)), i + fit_windows) for i in range(windows - fit_windows)]


@dataclass(frozen=True)
class SimWindow:
    """Window ``k`` of the simulated markets: scenario ``scenario`` with seed ``seed``."""
    scenario: str
    seed: int
    duration_s: float


@dataclass(frozen=True)
class ReplayWindow:
    """Seconds ``start_s`` .. ``start_s + duration_s`` of the recording in ``root``."""
    root: str
    start_s: float
    duration_s: float
    seed: int


ROW_KEYS = ("net_pnl", "max_drawdown", "volume_usd", "fills", "sharpe", "fees")


def run_window(job: tuple[Config, SimWindow | ReplayWindow]) -> dict[str, Any]:
    """One backtest of one window under one config: the numbers an objective needs."""
    from backtest.report import build_report

    cfg, w = job
    if isinstance(w, SimWindow):
        from backtest.engine import run_backtest
        from backtest.evaluate import scenario_config

        result = run_backtest(scenario_config(cfg, w.scenario, w.duration_s), duration_s=w.duration_s, seed=w.seed)
    else:
        result = SliceReplay(cfg, w.root, w.start_s, seed=w.seed).run(w.duration_s)
    total = build_report(result)["total"]
    return {k: total.get(k) for k in ROW_KEYS}


def replay_span_s(root: str | Path, cfg: Config) -> float:
    """Seconds a recording spans once every asset has a book."""
    return ReplayBacktest(cfg, root).span_s


class SliceReplay(ReplayBacktest):
    """A recording replayed from ``start_s``: the markets are wound forward to then
    (books applied, prints before it dropped, as at t = 0), and time 0 is that instant."""

    def __init__(self, cfg: Config, root: str | Path, start_s: float, *, seed: int | None = None) -> None:
        super().__init__(cfg, root, seed=seed)
        if not 0 <= start_s < self.span_s:
            raise ReplayError(f"window start {start_s:g} s is outside the recording's {self.span_s:g} s")
        self.t0_ms += round(start_s * 1000)
        for a in self.assets:
            self.sim.markets[a].start(self.t0_ms)  # type: ignore[attr-defined]
        self.span_s = (self.end_ms - self.t0_ms) / 1000
