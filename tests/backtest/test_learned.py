"""The learned fill and adverse-selection model: labelled rows from backtests, the
exported trees predicting exactly what scikit-learn does, AUCs out of sample, a
versioned model file from ``makerhive train-model``, and the quoting switch."""
from __future__ import annotations

import json
import math
import pathlib
import random

import pytest

import config as c
from backtest.evaluate import BASE
from backtest.learned_data import rows_for
from backtest.learned_train import next_path, parity, train, write_model
from backtest.overrides import override
from config import QuotingConfig
from config.schema import LearnedConfig
from makerhive.cli import main
from messages.market import MarketState
from messages.orders import QuoteLadder, QuoteLevel
from strategy.learned import FEATURES, LearnedGuard, TreeModel, features, load_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "config.toml")


def _market(seq=1, **kw):
    base = dict(asset="BTC", ts=1.0, seq=seq, mid=100.0, microprice=100.0, best_bid=99.99, best_ask=100.01,
                spread_bp=2.0, imbalance=0.3, sigma_bp=1.0, regime="NORMAL", aggressor_buy_ratio=0.8,
                micro_drift_bp=0.5)
    return MarketState(**{**base, **kw})


def test_features_are_signed_toward_the_side():
    m = _market()
    b, a = features(m, "B", 99.98, 0), features(m, "A", 100.02, 0)
    assert len(b) == len(FEATURES)
    assert b[0] == pytest.approx(1.0) and a[0] == pytest.approx(1.0)  # one bp behind the touch, each side
    assert b[3] == 0.3 and a[3] == -0.3  # the book leans to the bids
    assert b[6] == pytest.approx(0.2) and a[6] == pytest.approx(0.8)  # buyers lift asks
    assert math.isnan(features(m, "B", 99.98, 0)[7])  # VPIN not known yet: NaN, as the trees expect


def test_tree_walk_follows_thresholds_and_missing_values():
    tree = {"feature": [0, 0, 0], "threshold": [1.0, 0.0, 0.0], "missing_left": [False, False, False],
            "left": [1, 0, 0], "right": [2, 0, 0], "is_leaf": [False, True, True], "value": [0.0, -1.0, 2.0]}
    m = TreeModel(0.5, [tree])
    assert m.raw([1.0]) == -0.5 and m.raw([1.5]) == 2.5 and m.raw([math.nan]) == 2.5
    assert m.proba([1.5]) == pytest.approx(1 / (1 + math.exp(-2.5)))


@pytest.fixture(scope="module")
def parts():
    cfg = override(c.load(CONFIG), BASE)
    # three seeds to learn from: with one (about 700 rows) the held-out fill AUC wandered from
    # 0.51 to 0.65 by scenario once the sweep guard pulled quotes; with three, 0.61 to 0.79
    return [rows_for((cfg, "toxic", seed, 120.0, 5.0, 5.0)) for seed in (1, 2, 3, 4)]


def test_rows_are_labelled_from_what_the_engine_did(parts):
    p = parts[0]
    assert len(p["X"]) == len(p["filled"]) > 100
    assert 0 < sum(p["filled"]) < len(p["filled"])  # some quotes fill within 5 s, some do not
    assert len(p["adverse_X"]) == len(p["adverse"]) <= sum(p["filled"])
    assert 0 < sum(p["adverse"]) < len(p["adverse"])


def test_trained_model_matches_sklearn_and_reports_out_of_sample_auc(parts, tmp_path):
    doc = train(parts, [4], {"seeds": [1, 2, 3, 4]})
    assert doc["rows"]["test"] == len(parts[3]["X"])
    for k in ("fill", "adverse"):
        assert doc["auc"][k] is None or 0.0 <= doc["auc"][k] <= 1.0
    assert doc["auc"]["fill"] > 0.6  # distance to the touch tells a lot about fills
    assert parity(doc, parts[3]["X"][:500]) < 1e-9
    assert next_path(tmp_path) == tmp_path / "fill-v1.json"
    path = write_model(doc, next_path(tmp_path))
    assert next_path(tmp_path) == tmp_path / "fill-v2.json"  # versioned: never overwritten
    model = load_model(str(path))
    assert json.loads(path.read_text())["format"] == "makerhive-learned/1"
    x = parts[3]["X"][0]
    assert model.fill.proba(x) == pytest.approx(doc["_sklearn"][0].predict_proba([x])[0, 1], abs=1e-12)


def _constant_model(tmp_path, p_adverse: float) -> str:
    leaf = {"feature": [0], "threshold": [0.0], "missing_left": [False], "left": [0], "right": [0],
            "is_leaf": [True], "value": [0.0]}
    doc = {"format": "makerhive-learned/1", "features": list(FEATURES),
           "fill": {"baseline": 0.0, "trees": [leaf]},
           "adverse": {"baseline": math.log(p_adverse / (1 - p_adverse)), "trees": [leaf]}}
    path = tmp_path / f"const-{p_adverse}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _ladder():
    bids = (QuoteLevel("B", 0, 99.98, 1.0), QuoteLevel("B", 1, 99.95, 2.0))
    asks = (QuoteLevel("A", 0, 100.02, 1.0), QuoteLevel("A", 1, 100.05, 2.0))
    return QuoteLadder("BTC", 1.0, 1, bids, asks, reservation=100.0, half_spread_bp=2.0)


def test_the_switch_widens_or_pulls_the_threatened_side(tmp_path):
    lad = _ladder()
    calm = LearnedGuard(LearnedConfig(enabled=True, model_path=_constant_model(tmp_path, 0.3)))
    assert calm.adjust(_market(), lad, 2) is lad  # below the threshold: untouched
    widen = LearnedGuard(LearnedConfig(enabled=True, model_path=_constant_model(tmp_path, 0.7), widen_mult=2.0))
    out = widen.adjust(_market(), lad, 2)
    assert [lv.px for lv in out.bids] == [99.96, 99.93] and [lv.px for lv in out.asks] == [100.04, 100.07]
    assert "widened" in out.note
    pull = LearnedGuard(LearnedConfig(enabled=True, model_path=_constant_model(tmp_path, 0.9)))
    out = pull.adjust(_market(), lad, 2)
    assert out.bids == () and out.asks == () and "pulled" in out.note


def test_train_model_cli_writes_a_versioned_model_and_the_switch_loads_it(tmp_path, capsys):
    out = tmp_path / "models"
    args = ["train-model", "--config", CONFIG, "--seeds", "2", "--scenarios", "toxic", "--duration", "90",
            "--workers", "1", "--out", str(out), "--json", str(tmp_path / "r.json")]
    assert main(args) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["model"] == str(out / "fill-v1.json") and report["test_seeds"] == [2]
    assert report["inference_us_per_quote"] > 0 and report["parity_max_abs"] < 1e-9
    assert "AUC fill" in capsys.readouterr().out
    # quoting.learned on with this model: a valid config whose quoters load it
    p = tmp_path / "p.toml"
    p.write_text(f'[quoting.learned]\nenabled = true\nmodel_path = "{out / "fill-v1.json"}"\n')
    assert main(["check-config", CONFIG, "--params", str(p)]) == 0
    p.write_text('[quoting.learned]\nenabled = true\nmodel_path = "/nowhere.json"\n')
    assert main(["check-config", CONFIG, "--params", str(p)]) == 2
    assert main(["train-model", "--config", CONFIG, "--seeds", "1"]) == 2
    # --evaluate: the PnL effect next to the full stack, on seeds the model never saw
    assert main(args + ["--duration", "45", "--evaluate"]) == 0
    ev = json.loads((tmp_path / "r.json").read_text())
    assert ev["model"] == str(out / "fill-v2.json")
    assert ev["evaluation"]["seeds"] == [3, 4] and set(ev["evaluation"]["summary"]) == {"full", "full+learned"}
    assert "evaluation:" in capsys.readouterr().out  # the table


def test_train_model_learns_from_recordings_and_judges_the_model_on_the_held_out_one(tmp_path, capsys):
    from bench.stream import generate

    recs = [tmp_path / f"rec{seed}" for seed in (1, 2)]  # recorder-format streams, as a live run records
    for seed, rec in zip((1, 2), recs):
        generate(rec, hours=600 / 3600, seed=seed, asset="HYPE", market_model="queue_reactive")
    out = tmp_path / "models"
    args = ["train-model", "--config", CONFIG, "--replay", str(recs[0]), "--replay", str(recs[1]),
            "--workers", "1", "--out", str(out), "--json", str(tmp_path / "r.json")]
    assert main(args + ["--evaluate"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["model"] == str(out / "fill-v1.json")
    assert report["replay"] == [str(r) for r in recs] and report["test_replay"] == [str(recs[1])]
    assert report["rows"]["train"] > 0 and report["rows"]["test"] > 0 and report["rows"]["train_fills"] > 0
    assert report["auc"]["fill"] is not None and 0.0 <= report["auc"]["fill"] <= 1.0
    ev = report["evaluation"]
    assert ev["replay"] == str(recs[1]) and set(ev) == {"replay", "full", "full+learned"}
    assert ev["full"]["fills"] > 0
    said = capsys.readouterr().out
    assert "held out" in said and "the learned model on the held-out recording" in said
    for bad, why in ((["--replay", str(recs[0])], "at least two recordings"),
                     (["--replay", str(recs[0]), "--replay", str(recs[1]), "--seeds", "2"], "--seeds and --scenarios"),
                     (["--replay", str(recs[0]), "--replay", str(tmp_path / "nowhere")], "no such directory"),
                     (["--replay", str(recs[0]), "--replay", str(out)], "holds no recorded coin")):
        assert main(["train-model", "--config", CONFIG, "--out", str(out), *bad]) == 2
        assert why in capsys.readouterr().err


def test_a_backtest_with_the_switch_on_runs_and_differs(tmp_path):
    from backtest.engine import run_backtest
    from backtest.report import build_report

    cfg = override(c.load(CONFIG), {**BASE, "portfolio.assets": ["BTC"]})
    on = override(cfg, {"quoting.learned.enabled": True, "quoting.learned.model_path": _constant_model(tmp_path, 0.7)})
    a = build_report(run_backtest(cfg, duration_s=60, seed=1))["total"]
    b = build_report(run_backtest(on, duration_s=60, seed=1))["total"]
    assert a["fills"] > 0 and (a["net_pnl"], a["fills"]) != (b["net_pnl"], b["fills"])
    assert QuotingConfig().learned.enabled is False  # off by default


def test_a_feature_never_known_in_a_short_run_does_not_stop_training():
    rng = random.Random(3)
    n = len(FEATURES)

    def part(seed):
        X = [[rng.random() for _ in range(n)] for _ in range(200)]
        for x in X:
            x[7] = math.nan  # VPIN: not known yet in any row
        y = [int(x[0] < 0.5) for x in X]
        return {"seed": seed, "X": X, "filled": y, "adverse_X": X[:100], "adverse": y[:100]}

    doc = train([part(1), part(2)], [2], {})
    assert doc["auc"]["fill"] > 0.9  # the known feature still carries the signal
