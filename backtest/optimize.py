"""``makerhive optimize``: search the strategy's parameters with Optuna, walk forward.

For each fold (backtest/walkforward.py) an Optuna study (TPE sampler, median pruner)
searches the space (backtest/optimize_space.py) on the fold's fit windows; its best
parameters are then scored on the next window, which the search never saw, next to
the current config's score there. The last fold's best (fitted on the most recent
windows) is the recommendation.

Trials go in batches: ``batch`` trials are asked at once and their backtests run
together on the executor (backtest/compute.py), one step at a time (a scenario of the
scenario set, or a window of a recording); after each step every trial reports its
running score and the pruner stops the hopeless ones. Asking, reporting and telling
happen in a fixed order, so the same seed, batch and data give the same study on one
machine or on a Ray cluster. Studies live in SQLite (``storage``) and resume.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from backtest.compute import Executor, run_all
from backtest.optimize_space import Param
from backtest.overrides import override
from backtest.walkforward import Fold, ReplayWindow, SimWindow, folds, run_window
from config import Config, ConfigError

OBJECTIVES = ("risk_adjusted", "net_pnl", "bp_per_notional")
DEFAULT_TRIALS = 20
DEFAULT_BATCH = 4


@dataclass(frozen=True)
class Objective:
    """What a set of backtests scores. ``risk_adjusted``: mean over the runs of net PnL
    after fees minus ``dd_lambda`` x max drawdown; ``net_pnl``: mean net PnL;
    ``bp_per_notional``: net PnL per traded notional (bp), 0 when nothing traded.
    NaN when any number it needs is not finite (the trial then fails)."""
    kind: str = "risk_adjusted"
    dd_lambda: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.kind!r}; have {list(OBJECTIVES)}")
        if not (math.isfinite(self.dd_lambda) and self.dd_lambda >= 0):
            raise ValueError(f"dd_lambda must be a finite number >= 0, got {self.dd_lambda}")

    def score(self, rows: Sequence[dict[str, Any]]) -> float:
        if not rows:
            return math.nan
        net = [r.get("net_pnl") for r in rows]
        dd = [r.get("max_drawdown") for r in rows]
        vol = [r.get("volume_usd") for r in rows]
        need = net + (dd if self.kind == "risk_adjusted" else []) + (vol if self.kind == "bp_per_notional" else [])
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in need):
            return math.nan
        if self.kind == "net_pnl":
            return sum(net) / len(net)  # type: ignore[arg-type]
        if self.kind == "risk_adjusted":
            return sum(n - self.dd_lambda * d for n, d in zip(net, dd)) / len(net)  # type: ignore[operator]
        v = sum(vol)  # type: ignore[arg-type]
        return sum(net) / v * 1e4 if v > 0 else 0.0  # type: ignore[arg-type]


Window = list[SimWindow | ReplayWindow]  # the backtests that make one window


def sim_windows(scenarios: Sequence[str], seeds: Sequence[int], duration_s: float) -> list[Window]:
    """Window k: every scenario with seed ``seeds[k]``."""
    return [[SimWindow(s, seed, float(duration_s)) for s in scenarios] for seed in seeds]


def replay_windows(root: str, span_s: float, window_s: float, seed: int) -> list[Window]:
    """The recording cut into whole windows of ``window_s`` seconds, in time order."""
    n = int(span_s // window_s)
    return [[ReplayWindow(str(root), k * window_s, float(window_s), seed)] for k in range(n)]


def steps(windows: list[Window], ids: Sequence[int]) -> list[list[SimWindow | ReplayWindow]]:
    """The pruning steps over windows ``ids``: one per scenario (each across the windows),
    or one per window when a window is one backtest (a recording)."""
    chosen = [windows[i] for i in ids]
    if all(len(w) == 1 for w in chosen):
        return [w for w in chosen]
    return [list(col) for col in zip(*chosen)]


@dataclass
class FoldResult:
    fold: int
    fit: tuple[int, ...]
    test: int
    study: str
    best_params: dict[str, Any]
    in_sample: float  # the best trial's score on the fit windows
    out_of_sample: float  # the same parameters on the next window
    current_in_sample: float  # the config as it is, on the fit windows
    current_out_of_sample: float  # ... and on the next window
    trials: int
    pruned: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, fit=list(self.fit))


@dataclass
class Optimizer:
    base: Config
    space: Sequence[Param]
    windows: list[Window]
    objective: Objective
    executor: Executor
    storage: str | None  # an Optuna storage URL (None: in memory)
    study_name: str = "makerhive"
    trials: int = DEFAULT_TRIALS
    batch: int = DEFAULT_BATCH
    sampler_seed: int = 0
    on_trial: Callable[[int, int, dict[str, Any], float | None, str], None] | None = None
    _studies: dict[str, Any] = field(default_factory=dict)

    # -- scoring ------------------------------------------------------------------------
    def config_for(self, params: dict[str, Any]) -> Config:
        return override(self.base, params)

    def score(self, params: dict[str, Any], ids: Sequence[int]) -> float:
        """The objective of ``params`` on windows ``ids`` (no pruning)."""
        cfg = self.config_for(params)
        jobs = [(cfg, w) for i in ids for w in self.windows[i]]
        return self.objective.score(run_all(self.executor, run_window, jobs))

    # -- one study ----------------------------------------------------------------------
    def study(self, name: str) -> Any:
        import optuna

        if name not in self._studies:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self._studies[name] = optuna.create_study(
                study_name=name, storage=self.storage, direction="maximize", load_if_exists=True,
                sampler=optuna.samplers.TPESampler(seed=self.sampler_seed, n_startup_trials=min(5, self.trials)),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0))
        return self._studies[name]

    def search(self, name: str, ids: Sequence[int]) -> Any:
        """Run the study on windows ``ids`` until it holds ``trials`` finished trials."""
        from optuna.trial import TrialState

        study = self.study(name)
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            study.tell(t.number, state=TrialState.FAIL)  # left over by an interrupted run
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                            TrialState.FAIL)))
        plan = steps(self.windows, ids)
        while done < self.trials:
            k = min(self.batch, self.trials - done)
            asked = [study.ask() for _ in range(k)]
            alive: dict[int, tuple[Any, Config, list[dict[str, Any]]]] = {}
            for t in asked:
                params = {p.path: p.suggest(t) for p in self.space}
                try:
                    alive[t.number] = (t, self.config_for(params), [])
                except ConfigError as e:  # a combination the config rules refuse
                    t.set_user_attr("error", str(e))
                    study.tell(t, state=TrialState.FAIL)
                    self._told(t, None, "invalid")
            for step, ws in enumerate(plan):
                order = list(alive)
                jobs = [(alive[n][1], w) for n in order for w in ws]
                rows = run_all(self.executor, run_window, jobs)
                for i, n in enumerate(order):
                    t, _, got = alive[n]
                    got.extend(rows[i * len(ws):(i + 1) * len(ws)])
                    value = self.objective.score(got)
                    if not math.isfinite(value):
                        study.tell(t, state=TrialState.FAIL)
                        self._told(t, None, "failed (not finite)")
                        del alive[n]
                        continue
                    t.report(value, step)
                    if step < len(plan) - 1 and t.should_prune():
                        study.tell(t, state=TrialState.PRUNED)
                        self._told(t, value, f"pruned at step {step + 1}/{len(plan)}")
                        del alive[n]
            for n, (t, _, got) in alive.items():
                value = self.objective.score(got)
                study.tell(t, value)
                self._told(t, value, "complete")
            done += k
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            raise RuntimeError(f"study {name}: no trial completed (every one was invalid, failed or pruned)")
        return study

    def _told(self, t: Any, value: float | None, state: str) -> None:
        if self.on_trial:
            self.on_trial(t.number, self.trials, dict(t.params), value, state)

    # -- walk-forward -------------------------------------------------------------------
    def walk_forward(self, fit_windows: int) -> list[FoldResult]:
        out = []
        for f in folds(len(self.windows), fit_windows):
            out.append(self.run_fold(f))
        return out

    def run_fold(self, f: Fold) -> FoldResult:
        from optuna.trial import TrialState

        name = f"{self.study_name}.fold{f.index}"
        study = self.search(name, f.fit)
        best = study.best_trial
        cached = study.user_attrs.get("scores")
        key = repr(sorted(best.params.items()))
        if not cached or cached.get("key") != key:  # score once; a resumed study reuses it
            cached = {"key": key, "oos": self.score(best.params, [f.test]),
                      "cur_is": self.score({}, f.fit), "cur_oos": self.score({}, [f.test])}
            study.set_user_attr("scores", cached)
        trials = study.get_trials(deepcopy=False)
        return FoldResult(f.index, f.fit, f.test, name, dict(best.params), float(best.value), cached["oos"],
                          cached["cur_is"], cached["cur_oos"], len(trials),
                          sum(t.state == TrialState.PRUNED for t in trials))


def ranked(study: Any, top: int = 10) -> list[dict[str, Any]]:
    """The study's completed trials, best first: number, value, parameters."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    done.sort(key=lambda t: t.value, reverse=True)
    return [{"trial": t.number, "value": t.value, **t.params} for t in done[:top]]


def plots(study: Any, out_dir: Any) -> dict[str, str]:
    """Objective history and parameter importance of ``study`` as PNGs (those it can draw)."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    out: dict[str, str] = {}
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
        for name, draw in (("history", ovm.plot_optimization_history), ("importance", ovm.plot_param_importances)):
            try:
                ax = draw(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as e:  # too few trials to rank importance
                out[name] = f"not drawn: {e}"
                continue
            fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            fig.set_size_inches(9, 5)
            fig.tight_layout()
            path = d / f"{name}.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            out[name] = str(path)
    return out
