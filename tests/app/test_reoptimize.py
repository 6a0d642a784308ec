"""The re-optimiser in a running hive on the sim: the run records its own market, a
forced re-fit (in its own process) is judged out of sample, applied through the
quoters' message path or refused, every change is an event, and rollback undoes it."""
from __future__ import annotations

import json
import math

import pytest

from backtest.optimize_space import bounded_step
from backtest.replay import ReplayBacktest
from config import QuotingConfig
from makerhive.app import Hive
from makerhive.reoptimize_fit import decide
from messages.params import SetQuotingParams
from strategy.quoter import QuoterCore
from strategy.quoter_role import QuoterRole
from tests.hive_helpers import sim_config, wait_for

SPACE = '["quoting.min_spread_bp"]\nlow = 0.5\nhigh = 6.0\n["quoting.glft.skew_adj"]\nlow = 0.1\nhigh = 1.0\n'


def _result(**kw):
    base = {"ok": True, "current_params": {"quoting.min_spread_bp": 1.0},
            "stepped_params": {"quoting.min_spread_bp": 1.2}, "current_out_of_sample": -5.0,
            "stepped_out_of_sample": -2.0, "in_sample": 3.0}
    return {**base, **kw}


def test_decide_needs_a_finite_out_of_sample_win_by_the_margin():
    assert decide(_result(), 0.0)[0]
    assert decide(_result(), 2.9)[0]
    assert not decide(_result(), 3.0)[0]
    assert not decide(_result(stepped_out_of_sample=math.nan), 0.0)[0]
    assert not decide(_result(stepped_params={"quoting.min_spread_bp": 1.0}), 0.0)[0]
    ok, why = decide({"ok": False, "error": "no recording"}, 0.0)
    assert not ok and "no recording" in why


def test_hot_reload_changes_the_numbers_and_keeps_the_breakers_memory():
    p = QuotingConfig(level_size_mult=(1.0, 2.0, 4.0))
    role = QuoterRole(QuoterCore("BTC", p, 5), 0.0)
    core = role.core
    core.breakers._pause_until = 500.0  # a pause in force
    markouts = core.markouts
    new = QuotingConfig(level_size_mult=(1.0, 2.0, 4.0), min_spread_bp=3.0,
                        breakers=p.breakers.__class__(widen_move_pct=0.5))
    out = role.handle(SetQuotingParams("BTC", 10.0, new, "test"))
    assert core.params.min_spread_bp == 3.0
    assert core.breakers.widen_move == 0.005 and core.breakers._pause_until == 500.0
    assert core.markouts is markouts  # its horizon did not change
    assert [m.kind for _, m in out] == ["params"]  # no market yet: noted, nothing to quote
    assert "min_spread_bp" in out[0][1].text
    assert role.handle(SetQuotingParams("BTC", 11.0, new, "again")) == []  # nothing changed: silent


@pytest.fixture
def hive(tmp_path):
    (tmp_path / "space.toml").write_text(SPACE)
    cfg = sim_config(
        run={"speed": 60.0, "journal_dir": str(tmp_path / "runs")},
        reoptimize={"enabled": True, "every_h": 1000.0, "window_h": 1.0, "trials": 2, "margin": 0.0,
                    "max_step": 0.5, "space": str(tmp_path / "space.toml")},
        portfolio={"assets": ["BTC", "ETH"]})
    h = Hive(cfg)
    h.start()
    yield h
    h.stop()


def _quoter_params(h, asset):
    return h.teams[asset].get("quoter").proxy().core.get(timeout=10).params


@pytest.mark.timeout(120)
def test_a_forced_refit_in_a_running_hive_is_judged_applied_and_rolled_back(hive, tmp_path):
    h = hive
    wait_for(lambda: h.sim_time() > 240, timeout=30, what="four simulated minutes")
    # the run records its own books and trades, readable as a recording
    h.recorder.flush()
    assert ReplayBacktest(h.cfg, h.record_dir).span_s > 200
    before = _quoter_params(h, "BTC")
    assert h.command(["reoptimize"])["ok"]
    assert not h.command(["reoptimize"])["ok"]  # one at a time
    assert h.reoptimizer.wait_idle(90)
    d = h.reoptimizer.decisions[-1]
    r = d["result"]
    assert r["ok"], r
    for k in ("in_sample", "current_out_of_sample", "stepped_out_of_sample"):
        assert math.isfinite(r[k])
    # within bounded steps of the current values
    assert r["stepped_params"] == bounded_step(r["current_params"], r["best_params"], 0.5)
    events = [e.text for e in h.board.events_of("params")]
    if d["applied"]:
        assert r["stepped_out_of_sample"] > r["current_out_of_sample"]
        for a in ("BTC", "ETH"):
            p = _quoter_params(h, a)
            assert p.min_spread_bp == pytest.approx(r["stepped_params"]["quoting.min_spread_bp"])
    else:
        assert r["stepped_out_of_sample"] <= r["current_out_of_sample"]
        assert _quoter_params(h, "BTC") == before
        assert any("refused" in t for t in events)
    # a result that wins is applied at once, to every quoter, as an event with before/after and scores
    win = {**r, "stepped_params": {"quoting.min_spread_bp": 4.5}, "current_params": {"quoting.min_spread_bp": 1.0},
           "stepped_out_of_sample": 10.0, "current_out_of_sample": 1.0}
    prev = _quoter_params(h, "ETH").min_spread_bp
    assert h.reoptimizer.consider(win)["applied"]
    wait_for(lambda: _quoter_params(h, "BTC").min_spread_bp == 4.5, timeout=10, what="BTC on the new params")
    assert _quoter_params(h, "ETH").min_spread_bp == 4.5
    assert h.contexts["BTC"].acfg.quoting.min_spread_bp == 4.5  # a restarted quoter starts on them too
    texts = [e.text for e in h.board.events_of("params", "BTC")]
    assert any("min_spread_bp" in t and "->4.5" in t and "out of sample 10" in t for t in texts)  # the hive's
    assert any(t.startswith("re-optimiser") and t.endswith(": min_spread_bp") for t in texts)  # the quoter's note
    history = [json.loads(x) for x in h.reoptimizer.history_path.read_text().splitlines()]
    assert history[-1]["after"] == {"quoting.min_spread_bp": 4.5}
    assert history[-1]["before"] == {"quoting.min_spread_bp": prev}
    # a losing one is refused and changes nothing
    lose = {**win, "stepped_params": {"quoting.min_spread_bp": 2.0}, "stepped_out_of_sample": 0.5}
    assert not h.reoptimizer.consider(lose)["applied"]
    assert _quoter_params(h, "BTC").min_spread_bp == 4.5
    # rollback: the parameters before the last change, the same way
    assert h.command(["rollback-params"])["ok"]
    wait_for(lambda: _quoter_params(h, "BTC").min_spread_bp == prev, timeout=10, what="rolled back")
    assert any("rollback" in e.text and "->" in e.text for e in h.board.events_of("params", "ETH"))
