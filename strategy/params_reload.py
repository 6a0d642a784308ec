"""Hot reload of a running quoter's parameters: new numbers, the same memory.

``QuoterCore.set_params`` starts the stateful measurements afresh, which is right at
start-up but wrong mid-run: a breaker that paused quoting a minute ago must still
hold, and the markouts and volatility history stay true whatever the new thresholds.
So each measurement whose own config section did not change is kept as it was, and
the breakers always keep their price windows and the guard in force (only their
thresholds change).
"""
from __future__ import annotations

from config import QuotingConfig
from strategy.quoter import QuoterCore

_BREAKER_MEMORY = ("_win1", "_win5", "_errors", "_widen_until", "_pause_until", "_widen_reason", "_pause_reason")


def apply_params(core: QuoterCore, params: QuotingConfig) -> list[str]:
    """Switch ``core`` to ``params``; the dotted keys that changed (empty: nothing to do)."""
    import msgspec

    old = core.params
    changed = _diff(msgspec.to_builtins(old), msgspec.to_builtins(params))
    if not changed:
        return []
    mvol, trend, markouts, alo, tuner = core.mvol, core.trend, core.markouts, core.alo, core.tuner
    old_breakers = core.breakers
    core.set_params(params)
    if params.regime == old.regime:
        core.mvol = mvol
    if params.trend == old.trend:
        core.trend = trend
    if params.toxicity.markout_horizon_s == old.toxicity.markout_horizon_s:
        core.markouts = markouts
    if params.alo_safety == old.alo_safety:
        core.alo = alo
    if params.auto_tuner == old.auto_tuner:
        core.tuner = tuner  # its samples too, not only its multipliers
    elif tuner is not None and core.tuner is not None:
        core.tuner.keep_multipliers(tuner)  # new settings: what it learned, within the new bounds
    for name in _BREAKER_MEMORY:
        if hasattr(old_breakers, name):
            setattr(core.breakers, name, getattr(old_breakers, name))
    return changed


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in b:
        path = f"{prefix}{k}"
        if isinstance(b[k], dict) and isinstance(a.get(k), dict):
            out += _diff(a[k], b[k], path + ".")
        elif a.get(k) != b[k]:
            out.append(path)
    return out
