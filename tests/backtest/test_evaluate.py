"""``makerhive backtest --evaluate``: the scenario set through the real code path, its
JSON contract, results independent of the worker count, and the dotted overrides the
variants are made of."""
import json
import pathlib
import subprocess
import sys

import pytest

from backtest import evaluate as ev
from backtest.overrides import override
import config as c
from strategy.features import FEATURES, PLAIN_AS

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROW_KEYS = {"scenario", "seed", "variant", "net_pnl", "bp_per_notional", "fills", "alo_reject_rate",
            "budget_rejects", "max_drawdown", "markout_1s_bp", "markout_5s_bp", "markout_30s_bp", "actions_per_usd"}


@pytest.fixture(scope="module")
def cfg():
    return c.load(ROOT / "config.toml")


@pytest.fixture(scope="module")
def cli_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate") / "eval.json"
    proc = subprocess.run(
        [sys.executable, "-m", "makerhive.cli", "backtest", "--config", str(ROOT / "config.toml"), "--evaluate",
         "--scenarios", "calm,toxic", "--variants", "as,full", "--seeds", "1", "--duration", "180",
         "--workers", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stdout, proc.stderr


def test_cli_writes_one_row_per_scenario_seed_and_variant(cli_doc):
    doc, stdout, stderr = cli_doc
    assert [(r["scenario"], r["seed"], r["variant"]) for r in doc["rows"]] == [
        ("calm", 1, "as"), ("calm", 1, "full"), ("toxic", 1, "as"), ("toxic", 1, "full")]
    for r in doc["rows"]:
        assert ROW_KEYS <= set(r)
        assert r["fills"] > 0
    assert set(doc["summary"]) == {"as", "full"}
    assert doc["summary"]["full"]["fills"] == sum(r["fills"] for r in doc["rows"] if r["variant"] == "full")
    assert doc["latency_profile"] == "hyperliquid" and doc["maker_fee"] == 0.00015
    assert "bp/notional" in stdout and "toxic" in stdout
    # progress on stderr, the table alone on stdout: each run's line, then where the job ended
    assert "calm, seed 1, as: net" in stderr and "calm, seed 1, as: net" not in stdout
    assert "evaluate: 4/4 runs (100%)" in stderr


def test_the_toxic_market_costs_what_the_calm_one_does_not(cli_doc):
    rows = {(r["scenario"], r["variant"]): r for r in cli_doc[0]["rows"]}
    assert rows[("toxic", "as")]["net_pnl"] < rows[("calm", "as")]["net_pnl"]
    assert rows[("toxic", "as")]["markout_30s_bp"] < rows[("calm", "as")]["markout_30s_bp"]
    # the stack's guards are what keeps it: with the sweep guard it even earns there (README)
    assert rows[("toxic", "full")]["net_pnl"] > rows[("toxic", "as")]["net_pnl"]


def test_rows_do_not_depend_on_the_number_of_workers(cfg, cli_doc):
    doc = ev.evaluate(cfg, seeds=[1], duration_s=180, workers=1, scenarios=["calm", "toxic"],
                      variant_overrides={v: ev.variants()[v] for v in ("as", "full")})
    assert json.loads(json.dumps(doc["rows"])) == cli_doc[0]["rows"]


def test_variants_are_plain_as_full_and_each_feature_off(cfg):
    vs = ev.variants()
    assert list(vs)[:2] == ["as", "full"] and vs["full"] == {} and vs["as"] == PLAIN_AS
    assert {f"full-no-{f}" for f in FEATURES} == set(vs) - {"as", "full"}
    for overrides in vs.values():
        override(cfg, overrides)  # every switch names a real, valid config key


def test_a_scenario_holds_every_asset_in_its_regime(cfg):
    toxic = ev.scenario_config(cfg, "toxic", 600.0)
    for a in toxic.assets.values():
        (ep,) = a.market.episodes
        assert (ep.start_s, ep.end_s, ep.regime, ep.informed_share) == (0.0, 600.0, "crash", 0.9)
    with pytest.raises(ValueError, match="sideways"):
        ev.jobs(cfg, seeds=[1], duration_s=60, scenarios=["sideways"])


def test_overrides_reach_every_asset_and_refuse_unknown_paths(cfg):
    o = override(cfg, {"quoting.use_microprice": False, "assets.BTC.quoting.gamma": 0.2})
    assert not o.quoting.use_microprice and not any(a.quoting.use_microprice for a in o.assets.values())
    assert o.assets["BTC"].quoting.gamma == 0.2 and o.assets["ETH"].quoting.gamma == cfg.assets["ETH"].quoting.gamma
    with pytest.raises(c.ConfigError, match="quoting.use_micropryce"):
        override(cfg, {"quoting.use_micropryce": False})
    with pytest.raises(c.ConfigError, match="max_position_pct"):
        override(cfg, {"risk.max_position_pct": 7.0})


def test_first_seed_runs_the_seeds_after_it(cfg, tmp_path):
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [sys.executable, "-m", "makerhive.cli", "backtest", "--config", str(ROOT / "config.toml"), "--evaluate",
         "--scenarios", "calm", "--variants", "full", "--seeds", "2", "--first-seed", "7", "--duration", "60",
         "--workers", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [r["seed"] for r in rows] == [7, 8]
    alone = ev.evaluate(cfg, seeds=[8], duration_s=60, workers=1, scenarios=["calm"],
                        variant_overrides={"full": {}})["rows"]
    assert json.loads(json.dumps(alone)) == rows[1:]


def test_cli_refuses_unknown_variants_and_stray_seeds():
    for extra in (["--evaluate", "--variants", "full-no-magic"], ["--seeds", "3"], ["--first-seed", "3"],
                  ["--compare-allocation", "--first-seed", "3"]):
        proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", "--config",
                               str(ROOT / "config.toml"), *extra], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2, proc.stderr


def _row(scenario, seed, variant, pnl):
    return {"scenario": scenario, "seed": seed, "variant": variant, "net_pnl": pnl}


def test_a_variant_is_compared_with_the_full_stack_on_the_same_markets_with_its_noise():
    rows = [_row("calm", 1, "full", 10.0), _row("calm", 2, "full", 20.0),
            _row("crash", 1, "full", -100.0), _row("crash", 2, "full", 300.0),
            _row("calm", 1, "x", 12.0), _row("calm", 2, "x", 24.0),  # +2, +4
            _row("crash", 1, "x", -90.0), _row("crash", 2, "x", 306.0)]  # +10, +6
    vs = ev.versus(rows, "x")
    assert vs["pairs"] == 4 and vs["wins"] == 4 and vs["net_pnl_diff"] == pytest.approx(22.0)
    # the seeds' spread within each scenario: var(+2, +4) = 2, var(+10, +6) = 8; 2 x (2 + 8) = 20
    assert vs["diff_se"] == pytest.approx(20 ** 0.5) and vs["t"] == pytest.approx(22.0 / 20 ** 0.5)
    # crash's +-200 between seeds would swamp the 22 if the runs were not paired
    assert ev.pnl_se([r for r in rows if r["variant"] == "full"]) == pytest.approx((2 * (50 + 80_000)) ** 0.5)
    assert ev.versus(rows, "full") is None
    assert ev.versus([_row("calm", 1, "full", 1.0), _row("calm", 1, "x", 2.0)], "x")["t"] is None  # one seed


def test_the_summary_and_table_carry_the_comparison(cli_doc):
    doc, stdout, _ = cli_doc
    vs = doc["summary"]["as"]["vs_full"]
    assert vs["pairs"] == 2 and vs["net_pnl_diff"] == pytest.approx(
        sum(r["net_pnl"] * (1 if r["variant"] == "as" else -1) for r in doc["rows"]))
    assert vs["diff_se"] is None and doc["summary"]["full"]["vs_full"] is None  # one seed: no spread to measure
    assert "vs full" in stdout


def test_a_variant_that_is_the_full_stack_run_for_run_is_run_once_and_its_rows_copied(cfg, monkeypatch):
    # the trend and regime switches are off in config.toml: their "off" variants are the full stack
    assert not cfg.quoting.trend.enabled and not cfg.quoting.regime.enabled
    vs = {v: ev.variants()[v] for v in ("full", "full-no-trend", "full-no-regime", "full-no-tape_edge")}
    todo = ev.jobs(cfg, seeds=[1, 2], duration_s=60, scenarios=["calm", "toxic"], variant_overrides=vs)
    ran = []

    def fake_run_one(job):
        name, seed, variant, _cfg, _d = job
        ran.append((name, seed, variant))
        return {"scenario": name, "seed": seed, "variant": variant, "net_pnl": float(len(ran))}

    monkeypatch.setattr(ev, "run_one", fake_run_one)
    seen = []
    rows = ev.run_jobs(todo, workers=1, on_row=seen.append)
    assert sorted(ran) == sorted((n, s, v) for n in ("calm", "toxic") for s in (1, 2)
                                 for v in ("full", "full-no-tape_edge"))  # 8 runs, not 16
    assert [(r["scenario"], r["seed"], r["variant"]) for r in rows] == [(j[0], j[1], j[2]) for j in todo]
    by = {(r["scenario"], r["seed"], r["variant"]): r["net_pnl"] for r in rows}
    for n in ("calm", "toxic"):
        for s in (1, 2):
            assert by[(n, s, "full-no-trend")] == by[(n, s, "full-no-regime")] == by[(n, s, "full")]
            assert by[(n, s, "full-no-tape_edge")] != by[(n, s, "full")]
    assert len(seen) == len(todo)  # the progress sees every row, copied ones too
