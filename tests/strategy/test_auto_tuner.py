"""The runtime auto-tuner: losing widens, idle tightens, loaded raises the skew; every
step bounded, every change an event, and off by default."""
import math

import msgspec
import pytest

from config import AutoTunerConfig, QuotingConfig
from messages.market import MarketState
from messages.risk import RiskState
from strategy.auto_tuner import AutoTuner
from strategy.quoter import QuoterCore
from strategy.quoter_role import QuoterRole

CFG = AutoTunerConfig(enabled=True, period_s=60.0, window_s=600.0, sample_s=10.0, min_samples=10)


def risk(ts: float, pnl: float, fills: int = 0, position: float = 0.0, mid: float = 100.0) -> RiskState:
    return RiskState("SOL", ts, position, mid, mid, pnl, 0.0, 0.0, 20_000.0, 1_000.0, fills_buy=fills)


def run(tuner: AutoTuner, seconds: float, pnl, fills=lambda t: 0, position=lambda t: 0.0, t0: float = 0.0):
    changes = []
    t = t0
    while t < t0 + seconds:
        c = tuner.observe(t, risk(t, pnl(t), fills(t), position(t)))
        if c is not None:
            changes.append(c)
        t += 5.0
    return changes


def test_a_steadily_losing_asset_is_widened_step_by_step_up_to_the_bound():
    tuner = AutoTuner(CFG)
    changes = run(tuner, 3600, pnl=lambda t: -t / 100 + math.sin(t) * 0.01, fills=lambda t: int(t / 10))
    assert changes and all("losing" in c.why for c in changes)
    mults = [c.spread_mult for c in changes]
    assert mults == sorted(mults) and mults[0] == pytest.approx(1.1)  # one bounded step a look
    assert all(b / a <= 1.1 + 1e-9 for a, b in zip(mults, mults[1:]))
    assert tuner.spread_mult == pytest.approx(CFG.max_spread_mult)  # and no further


def test_an_idle_asset_that_is_not_losing_is_tightened_but_not_below_its_floor():
    tuner = AutoTuner(CFG)
    changes = run(tuner, 3600, pnl=lambda t: 0.0, fills=lambda t: 0)
    assert changes and "idle" in changes[0].why
    assert tuner.spread_mult == pytest.approx(CFG.min_spread_mult)


def test_a_loaded_inventory_raises_the_skew_then_it_relaxes_once_the_load_is_gone():
    tuner = AutoTuner(CFG)
    run(tuner, 1800, pnl=lambda t: t / 100 + math.sin(t), fills=lambda t: int(t), position=lambda t: 8.0)  # $800 of $1,000
    assert tuner.skew_mult > 1.5
    run(tuner, 3600, pnl=lambda t: t / 100 + math.sin(t), fills=lambda t: int(t), position=lambda t: 0.0, t0=1800)
    assert tuner.skew_mult == pytest.approx(1.0)


def test_no_change_without_enough_history_and_none_from_nan():
    tuner = AutoTuner(CFG)
    assert run(tuner, 60, pnl=lambda t: -t) == []  # 12 samples arrive, but no look has enough yet
    assert tuner.observe(math.nan, risk(0.0, -1.0)) is None
    assert tuner.observe(1e6, risk(1e6, math.nan)) is None or tuner.spread_mult <= CFG.max_spread_mult


def _market(ts: float) -> MarketState:
    return MarketState("SOL", ts, 1, 100.0, 100.0, 99.99, 100.01, 2.0, 0.0, 5.0, "NORMAL")


def test_the_quoter_widens_with_the_tuner_and_says_so_in_the_event_log():
    params = msgspec.structs.replace(QuotingConfig(levels=1, level_size_mult=(1.0,)), auto_tuner=CFG,
                                     max_spread_bp=1000.0)
    role = QuoterRole(QuoterCore("SOL", params, 2), 0.0)
    role.handle(_market(0.0))
    out = role.handle(risk(0.0, 0.0))
    first = [m for to, m in out if to == "order"][0]
    notes = []
    for i in range(1, 400):
        out = role.handle(risk(i * 5.0, -i * 5.0 / 100 + 0.1 * math.sin(i), fills=i))
        notes += [m for to, m in out if to == "log" and m.kind == "tune"]
    last = [m for to, m in out if to == "order"][0]
    assert notes and "auto-tuner: spread x1.10" in notes[0].text and "losing" in notes[0].text
    assert role.core.tuner.spread_mult == pytest.approx(CFG.max_spread_mult)
    assert last.half_spread_bp == pytest.approx(first.half_spread_bp * CFG.max_spread_mult)  # as the events say


def test_it_is_off_by_default():
    assert QuotingConfig().auto_tuner.enabled is False
    assert QuoterCore("SOL", QuotingConfig(), 2).tuner is None


def test_a_parameter_reload_keeps_what_the_tuner_learned():
    from strategy.params_reload import apply_params

    params = msgspec.structs.replace(QuotingConfig(), auto_tuner=CFG)
    core = QuoterCore("SOL", params, 2)
    tuner = core.tuner
    run(tuner, 3600, pnl=lambda t: -t / 100, fills=lambda t: int(t / 10))
    assert tuner.spread_mult == pytest.approx(CFG.max_spread_mult)
    apply_params(core, msgspec.structs.replace(params, gamma=0.07))  # the tuner's settings unchanged: kept whole
    assert core.tuner is tuner
    tighter = msgspec.structs.replace(CFG, max_spread_mult=1.5)
    apply_params(core, msgspec.structs.replace(params, auto_tuner=tighter))  # new bounds: multipliers within them
    assert core.tuner is not tuner and core.tuner.spread_mult == pytest.approx(1.5)
