"""The nightly re-optimiser of a live run, with hot reload (``[reoptimize]``).

On its schedule (every ``every_h`` hours of the run's clock), or when the operator
asks (``makerhive reoptimize``), a separate process re-fits the quoting parameters on
the run's own recording of the last ``window_h`` hours (makerhive/reoptimize_fit.py).
The hive takes the result only if it beats the current parameters out of sample by
``margin``, moved at most ``max_step`` per parameter; then every asset's quoter gets
them in a ``SetQuotingParams`` message (no restart), and each asset's context holds
them too, so a quoter that restarts later quotes on them as well. Every change is a
``params`` event with before, after and both scores, one line in
``<journal_dir>/params-history.jsonl``, and can be undone (``makerhive
rollback-params``): the parameters before the last change come back the same way.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from backtest.optimize_space import current_values, write_overlay
from backtest.overrides import override
from messages.params import SetQuotingParams
from makerhive.reoptimize_fit import decide, fit

log = logging.getLogger(__name__)

FitFn = Callable[..., dict[str, Any]]


class Reoptimizer:
    """Owned by the Hive: schedules re-fits, judges them, applies or refuses, rolls back."""

    def __init__(self, hive: Any, record_dir: str | Path, *, fit_fn: FitFn | None = None,
                 poll_s: float = 0.5) -> None:
        self.hive = hive
        self.rc = hive.cfg.reoptimize
        self.record_dir = str(record_dir)
        self.fit_fn = fit_fn  # None: ``reoptimize_fit.fit`` in a spawned process
        self.poll_s = poll_s
        self.history: list[dict[str, Any]] = []  # applied changes, oldest first
        self.decisions: list[dict[str, Any]] = []  # every re-fit's outcome
        self._lock = threading.Lock()
        self._busy = False
        self._last_start = 0.0  # run clock of the last scheduled re-fit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._schedule, name="reoptimizer", daemon=True)
        self._pool: ProcessPoolExecutor | None = None
        self.done = threading.Condition()
        self.history_path = Path(hive.cfg.run.journal_dir) / "params-history.jsonl"

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._last_start = self.hive.sim_time()
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _schedule(self) -> None:
        every = self.rc.every_h * 3600.0
        while not self._stop.wait(self.poll_s):
            now = self.hive.sim_time()
            if now - self._last_start >= every:
                self._last_start = now
                self.force("schedule")

    # -- one re-fit -----------------------------------------------------------------------
    def force(self, why: str = "operator") -> dict[str, Any]:
        """Start a re-fit now (unless one is running); its outcome arrives later."""
        with self._lock:
            if self._busy:
                return {"ok": False, "error": "a re-fit is already running"}
            self._busy = True
        self.hive.recorder.flush()  # the fit reads everything recorded up to now
        cfg = self.hive.cfg
        args = (cfg, self.record_dir, self.rc)
        self._event("", f"re-fit started ({why}) on the last {self.rc.window_h:g} h recorded")
        if self.fit_fn is not None:
            fut: Future = Future()
            threading.Thread(target=lambda: fut.set_result(self.fit_fn(*args)), daemon=True).start()
        else:
            if self._pool is None:  # one worker process, reused: the fit never runs in the hive's process
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            fut = self._pool.submit(fit, *args)
        fut.add_done_callback(lambda f: self._finished(f, cfg))
        return {"ok": True, "text": f"re-fit started on {self.record_dir}"}

    def _finished(self, fut: Future, fitted_cfg: Any) -> None:
        try:
            result = fut.result()
        except Exception as e:  # the worker died
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        try:
            self.consider(result, fitted_cfg)
        except Exception:  # never let the callback thread swallow a failure silently
            log.exception("re-optimiser: judging the re-fit failed")
        finally:
            with self._lock:
                self._busy = False
            with self.done:
                self.done.notify_all()

    def consider(self, result: dict[str, Any], fitted_cfg: Any = None) -> dict[str, Any]:
        """Apply ``result``'s stepped parameters if ``decide`` says so; either way an event."""
        ok, why = decide(result, self.rc.margin)
        if ok and fitted_cfg is not None and fitted_cfg is not self.hive.cfg:
            ok, why = False, "the parameters changed while the re-fit ran (rolled back or applied): refit"
        decision = {"applied": ok, "reason": why, "result": result}
        self.decisions.append(decision)
        if not ok:
            self._event("", f"re-fit refused: {why}")
            return decision
        self.apply(result["stepped_params"], f"re-optimiser: {why}",
                   scores={k: result[k] for k in ("current_out_of_sample", "stepped_out_of_sample", "in_sample")})
        return decision

    # -- changing the running hive ----------------------------------------------------------
    def apply(self, params: dict[str, Any], reason: str, scores: dict[str, Any] | None = None,
              rollback: bool = False) -> dict[str, Any]:
        """Every quoter to ``params`` (dotted quoting keys) through its message path."""
        hive = self.hive
        before = current_values(hive.cfg, params)
        new_cfg = override(hive.cfg, params)  # validated: a bad value raises before anything changes
        now = hive.sim_time()
        hive.cfg = new_cfg
        for asset, ctx in hive.contexts.items():
            ctx.cfg = new_cfg  # a quoter that restarts from now on starts on these
            hive.teams[asset].tell("quoter", SetQuotingParams(asset, now, new_cfg.assets[asset].quoting, reason))
        change = {"ts": now, "wall": time.time(), "reason": reason, "before": before, "after": dict(params),
                  "scores": scores or {}, "rollback": rollback}
        if not rollback:
            self.history.append(change)
        moved = ", ".join(f"{k.removeprefix('quoting.')} {_fmt(before[k])}->{_fmt(v)}" for k, v in params.items()
                          if before.get(k) != v)
        sc = "" if not scores else (f"; out of sample {_fmt(scores.get('stepped_out_of_sample'))} vs current "
                                    f"{_fmt(scores.get('current_out_of_sample'))}")
        for asset in hive.contexts:
            hive.board.event(now, "params", asset, f"{reason}: {moved}{sc}"[:300])
        self._journal(change)
        return {"ok": True, "text": f"{'rolled back' if rollback else 'applied'}: {moved or 'no change'}"}

    def rollback(self) -> dict[str, Any]:
        """The parameters before the last applied change, back in every quoter."""
        if not self.history:
            return {"ok": False, "error": "no parameter change to roll back"}
        last = self.history.pop()
        return self.apply(last["before"], "rollback of the change at "
                                          f"{last['ts']:.0f} s", rollback=True)

    def _journal(self, change: dict[str, Any]) -> None:
        try:
            self.history_path.parent.mkdir(parents=True, exist_ok=True)
            with self.history_path.open("a") as fh:
                fh.write(json.dumps(change) + "\n")
            write_overlay(self.history_path.with_name("params-current.toml"), change["after"],
                          [f"{change['reason']} (at {change['ts']:.0f} s of the run)"])
        except OSError as e:
            log.error("re-optimiser: could not write %s: %s", self.history_path, e)

    def _event(self, asset: str, text: str) -> None:
        self.hive.board.event(self.hive.sim_time(), "params", asset, text[:300])

    def wait_idle(self, timeout: float) -> bool:
        """Block until no re-fit runs (tests, the operator's ``--wait``)."""
        end = time.monotonic() + timeout
        with self.done:
            while self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.done.wait(left)
        return True


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)
