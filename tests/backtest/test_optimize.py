"""makerhive optimize: the objective, walk-forward folds, the search space and overlay
files, the command end to end (tiny studies), resuming, and the same study whatever runs it."""
from __future__ import annotations

import json
import math
import pathlib

import pytest

import config as c
from backtest.compute import LocalExecutor
from backtest.evaluate import BASE
from backtest.optimize import Objective, Optimizer, replay_windows, sim_windows, steps
from backtest.optimize_space import Param, bounded_step, flatten, load_space, nest, read_overlay, write_overlay
from backtest.overrides import override
from backtest.walkforward import folds, replay_span_s, run_window, ReplayWindow
from makerhive.cli import main
from makerhive.params import load_config
from tests.backtest.test_replay_backtest import write_recording

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "config.toml")
SMALL_SPACE = (Param("quoting.glft.gamma", 0.01, 0.3, log=True), Param("quoting.min_spread_bp", 0.5, 5.0))


def test_risk_adjusted_objective_charges_drawdown_and_refuses_nan():
    rows = [{"net_pnl": 10.0, "max_drawdown": 4.0, "volume_usd": 1000.0},
            {"net_pnl": -2.0, "max_drawdown": 6.0, "volume_usd": 3000.0}]
    assert Objective("risk_adjusted", 0.5).score(rows) == pytest.approx(((10 - 2) + (-2 - 3)) / 2)
    assert Objective("net_pnl").score(rows) == pytest.approx(4.0)
    assert Objective("bp_per_notional").score(rows) == pytest.approx(8 / 4000 * 1e4)
    assert Objective("bp_per_notional").score([{"net_pnl": 0.0, "volume_usd": 0.0}]) == 0.0
    assert math.isnan(Objective().score([{"net_pnl": math.nan, "max_drawdown": 1.0}]))
    assert math.isnan(Objective().score([]))
    with pytest.raises(ValueError):
        Objective("sharpe_of_the_moon")
    with pytest.raises(ValueError):
        Objective("risk_adjusted", math.nan)


def test_walk_forward_fits_on_a_window_and_scores_on_the_next():
    assert [(f.fit, f.test) for f in folds(4, 2)] == [((0, 1), 2), ((1, 2), 3)]
    assert [(f.fit, f.test) for f in folds(3, 1)] == [((0,), 1), ((1,), 2)]
    with pytest.raises(ValueError):
        folds(2, 2)


def test_pruning_steps_go_scenario_by_scenario_or_window_by_window():
    ws = sim_windows(["calm", "toxic"], [1, 2, 3], 60)
    assert [[(w.scenario, w.seed) for w in s] for s in steps(ws, [0, 1])] == [
        [("calm", 1), ("calm", 2)], [("toxic", 1), ("toxic", 2)]]
    rw = replay_windows("rec", 100.0, 30.0, 7)
    assert [w[0].start_s for w in rw] == [0.0, 30.0, 60.0]  # whole windows only
    assert [[w.start_s for w in s] for s in steps(rw, [1, 2])] == [[30.0], [60.0]]


def test_space_files_in_toml_and_json_and_their_mistakes(tmp_path):
    t = tmp_path / "space.toml"
    t.write_text('["quoting.glft.gamma"]\nlow = 0.01\nhigh = 0.2\nlog = true\n["quoting.levels"]\nchoices = [1, 2]\n')
    assert load_space(t) == (Param("quoting.glft.gamma", 0.01, 0.2, log=True), Param("quoting.levels", choices=(1, 2)))
    j = tmp_path / "space.json"
    j.write_text(json.dumps({"quoting.levels": {"low": 1, "high": 3, "int": True}}))
    assert load_space(j) == (Param("quoting.levels", 1.0, 3.0, integer=True),)
    for bad in ('["quoting.gamma"]\nlow = 1\nhigh = 0.5\n', '["quoting.gamma"]\nlow = 0\nhigh = 1\nlog = true\n',
                '["quoting.gamma"]\nlow = 1\nhgh = 2\n', '["quoting.gamma"]\nlow = "nan"\nhigh = 2\n'):
        t.write_text(bad)
        with pytest.raises(c.ConfigError):
            load_space(t)
    with pytest.raises(c.ConfigError, match="no such"):
        load_space(tmp_path / "missing.toml")


def test_overlay_round_trip_and_bounded_steps(tmp_path):
    flat = {"quoting.glft.gamma": 0.1, "quoting.min_spread_bp": 2.0, "quoting.levels": 2}
    assert nest(flat) == {"quoting": {"glft": {"gamma": 0.1}, "min_spread_bp": 2.0, "levels": 2}}
    assert flatten(nest(flat)) == flat
    p = write_overlay(tmp_path / "best.toml", flat, ["a comment"])
    assert p.read_text().startswith("# a comment\n")
    assert read_overlay(p) == flat
    stepped = bounded_step({"a": 1.0, "b": 10.0, "c": 0.0, "d": 4.0, "m": "as"},
                           {"a": 3.0, "b": 9.5, "c": 5.0, "d": math.nan, "m": "glft"}, 0.2)
    assert stepped == {"a": 1.2, "b": 9.5, "c": 0.2, "d": 4.0, "m": "glft"}


def test_params_overlay_applies_to_every_asset_and_is_validated(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text("[quoting]\ngamma = 0.02\n[quoting.glft]\nskew_adj = 0.5\n")
    cfg = load_config(CONFIG, p)
    assert {a.quoting.gamma for a in cfg.assets.values()} == {0.02}  # HYPE's own 0.08 too
    assert {a.quoting.glft.skew_adj for a in cfg.assets.values()} == {0.5}
    p.write_text("[quoting]\ngama = 0.02\n")
    with pytest.raises(c.ConfigError, match="gama"):
        load_config(CONFIG, p)
    p.write_text("[quoting]\nmin_spread_bp = nan\n")
    with pytest.raises(c.ConfigError):
        load_config(CONFIG, p)


def test_run_refuses_a_bad_params_file_before_starting(tmp_path, capsys):
    p = tmp_path / "p.toml"
    p.write_text("[quoting]\ngamma = -1\n")
    assert main(["run", "--config", CONFIG, "--params", str(p), "--headless", "--duration", "1"]) == 2
    assert "quoting.gamma" in capsys.readouterr().err


def _optimize(tmp_path, *extra):
    return main(["optimize", "--config", CONFIG, "--scenarios", "calm", "--seeds", "3", "--duration", "40",
                 "--batch", "2", "--workers", "1", "--storage", f"sqlite:///{tmp_path}/o.db",
                 "--out", str(tmp_path / "out"), *extra])


def test_optimize_end_to_end_writes_overlay_plots_and_scores_and_resumes(tmp_path, capsys):
    assert _optimize(tmp_path, "--trials", "3") == 0
    out = tmp_path / "out"
    doc = json.loads((out / "optimize.json").read_text())
    assert [(f["fit"], f["test"]) for f in doc["folds"]] == [([0], 1), ([1], 2)]
    for f in doc["folds"]:
        assert f["trials"] == 3
        for k in ("in_sample", "out_of_sample", "current_in_sample", "current_out_of_sample"):
            assert math.isfinite(f[k])
    assert doc["ranked"] == sorted(doc["ranked"], key=lambda r: -r["value"])
    assert doc["ranked"][0]["value"] == doc["folds"][-1]["in_sample"]
    assert (out / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "importance.png").read_bytes()[:4] == b"\x89PNG"
    # the overlay is the last fold's best, and run / check-config accept it
    best = read_overlay(out / "best.toml")
    assert best == doc["best_params"] and set(best) == {p.path for p in load_space(None)}
    assert main(["check-config", CONFIG, "--params", str(out / "best.toml")]) == 0
    cfg = load_config(CONFIG, out / "best.toml")
    assert cfg.assets["BTC"].quoting.glft.gamma == best["quoting.glft.gamma"]
    text = capsys.readouterr().out
    assert "out-of-sample" in text and "in-sample" in text
    # the same study name resumes: two more trials per fold, not five new ones
    assert _optimize(tmp_path, "--trials", "5") == 0
    doc2 = json.loads((out / "optimize.json").read_text())
    assert [f["trials"] for f in doc2["folds"]] == [5, 5]
    assert doc2["ranked"][0]["value"] >= doc["ranked"][0]["value"]


def test_optimize_refuses_bad_arguments(tmp_path, capsys):
    assert _optimize(tmp_path, "--fit-windows", "3") == 2
    assert "walk-forward needs more windows" in capsys.readouterr().err
    assert main(["optimize", "--config", CONFIG, "--scenarios", "nowhere"]) == 2
    assert main(["optimize", "--config", CONFIG, "--window", "10"]) == 2
    assert main(["optimize", "--config", CONFIG, "--space", str(tmp_path / "none.toml")]) == 2


def _tiny_optimizer(tmp_path, executor, name):
    cfg = override(c.load(CONFIG), BASE)
    return Optimizer(cfg, SMALL_SPACE, sim_windows(["calm", "toxic"], [1], 20), Objective(), executor,
                     f"sqlite:///{tmp_path}/{name}.db", study_name=name, trials=3, batch=3, sampler_seed=5)


def test_the_same_study_with_one_worker_or_two(tmp_path):
    """Rows come back in job order and trials are asked and told in a fixed order: the
    parallelism does not change a single value."""
    a = _tiny_optimizer(tmp_path, LocalExecutor(1), "one").search("one", [0])
    b = _tiny_optimizer(tmp_path, LocalExecutor(2), "two").search("two", [0])
    assert [(t.params, t.value, t.state) for t in a.trials] == [(t.params, t.value, t.state) for t in b.trials]


def test_optimize_on_a_recording_walks_forward_through_its_time(tmp_path):
    rec = tmp_path / "rec"
    write_recording(rec, seconds=150)
    cfg = override(c.load(CONFIG), BASE)
    span = replay_span_s(rec, cfg)
    assert span > 140
    # a window later in the recording is a different market from the first one
    first = run_window((cfg, ReplayWindow(str(rec), 0.0, 45.0, 1)))
    later = run_window((cfg, ReplayWindow(str(rec), 90.0, 45.0, 1)))
    assert first != later
    out = tmp_path / "out"
    assert main(["optimize", "--config", CONFIG, "--replay", str(rec), "--window", "45", "--trials", "2",
                 "--batch", "2", "--workers", "1", "--storage", f"sqlite:///{tmp_path}/r.db",
                 "--out", str(out)]) == 0
    doc = json.loads((out / "optimize.json").read_text())
    assert doc["mode"] == "replay" and doc["windows"] == 3 and len(doc["folds"]) == 2
