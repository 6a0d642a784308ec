"""One re-fit, run in a process of its own: the last hours of the run's own recording,
fitted on their first part and scored on the rest.

The window is the recording's last ``window_h`` hours; its first ``1 - holdout_share``
is searched (backtest/optimize.py, in-memory study), the best parameters are moved at
most ``max_step`` of their current values toward the optimum (``bounded_step``: the
live change is the stepped one), and the current and the stepped parameters are both
scored on the held-out rest. ``decide`` then says whether the hive takes them.
"""
from __future__ import annotations

import math
from typing import Any

from config import Config
from config.schema import ReoptimizeConfig


def fit(cfg: Config, root: str, rc: ReoptimizeConfig, *, objective: str = "risk_adjusted",
        dd_lambda: float = 0.5) -> dict[str, Any]:
    """The re-fit's result as plain data (a spawned worker calls it; never raises)."""
    try:
        return _fit(cfg, root, rc, objective, dd_lambda)
    except Exception as e:  # a recording too short, a bad space file ...: a refusal, not a crash
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}


def _fit(cfg: Config, root: str, rc: ReoptimizeConfig, objective: str, dd_lambda: float) -> dict[str, Any]:
    from backtest.compute import LocalExecutor
    from backtest.optimize import Objective, Optimizer
    from backtest.optimize_space import bounded_step, current_values, load_space
    from backtest.walkforward import Fold, ReplayWindow, replay_span_s

    span = replay_span_s(root, cfg)
    window = min(rc.window_h * 3600.0, span)
    start = span - window
    fit_s = window * (1.0 - rc.holdout_share)
    windows: list[list[Any]] = [[ReplayWindow(root, start, fit_s, cfg.run.seed)],
                                [ReplayWindow(root, start + fit_s, window - fit_s, cfg.run.seed)]]
    space = load_space(rc.space or None)
    opt = Optimizer(cfg, space, windows, Objective(objective, dd_lambda), LocalExecutor(1), storage=None,
                    study_name="reoptimize", trials=rc.trials, batch=min(4, rc.trials), sampler_seed=cfg.run.seed)
    r = opt.run_fold(Fold(0, (0,), 1))
    current = current_values(cfg, [p.path for p in space])
    stepped = bounded_step(current, r.best_params, rc.max_step)
    return {"ok": True, "recording": root, "window_s": window, "fit_s": fit_s, "holdout_s": window - fit_s,
            "current_params": current, "best_params": r.best_params, "stepped_params": stepped,
            "in_sample": r.in_sample, "best_out_of_sample": r.out_of_sample,
            "current_in_sample": r.current_in_sample, "current_out_of_sample": r.current_out_of_sample,
            "stepped_out_of_sample": opt.score(stepped, [1]), "trials": r.trials}


def decide(result: dict[str, Any], margin: float) -> tuple[bool, str]:
    """Apply the stepped parameters only if they beat the current ones out of sample by
    more than ``margin`` (both scores finite) and change something."""
    if not result.get("ok"):
        return False, f"re-fit failed: {result.get('error', '?')}"
    new, cur = result["stepped_out_of_sample"], result["current_out_of_sample"]
    if not (isinstance(new, (int, float)) and isinstance(cur, (int, float)) and math.isfinite(new)
            and math.isfinite(cur)):
        return False, f"scores not finite (new {new}, current {cur})"
    if result["stepped_params"] == result["current_params"]:
        return False, "the fit changes nothing"
    if not new > cur + margin:
        return False, f"out of sample {new:.4f} does not beat the current {cur:.4f} by more than {margin:g}"
    return True, f"out of sample {new:.4f} beats the current {cur:.4f} (margin {margin:g})"
