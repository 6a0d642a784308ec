"""Scale-out: local processes by default, a Ray cluster on request, the same results
either way. The Ray cluster is a local one this module starts on 127.0.0.1 (2 CPUs)."""
from __future__ import annotations

import json
import math
import pathlib
import tomllib

import pytest

import config as c
from backtest import evaluate as ev
from backtest.compute import LocalExecutor, RayExecutor, make_executor, run_all
from backtest.optimize import Objective, Optimizer, sim_windows
from backtest.optimize_space import Param
from backtest.overrides import override
from backtest.sweep import parse_grid, run_sweep
from config.schema import ComputeConfig
from makerhive.cli import main
import ray

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "config.toml")


def test_local_executor_keeps_job_order_and_defaults():
    assert run_all(LocalExecutor(2), math.sqrt, [16.0, 9.0, 4.0, 1.0]) == [4.0, 3.0, 2.0, 1.0]
    assert list(LocalExecutor(1).map(abs, [-1, 2])) == [1, 2]
    assert isinstance(make_executor(), LocalExecutor)
    assert make_executor(compute=ComputeConfig(workers=3)).workers == 3


@pytest.fixture(scope="module")
def cluster():
    ex = RayExecutor("local", num_cpus=2)
    yield ex
    ex.close()
    assert not ray.is_initialized()


@pytest.mark.timeout(90)
def test_sweep_and_evaluation_give_the_same_rows_on_ray(cluster):
    raw = tomllib.loads(pathlib.Path(CONFIG).read_text())
    grid = parse_grid(["quoting.min_spread_bp=1.0,3.0"])
    kw = dict(duration_s=30.0, seed=2, assets=["BTC", "ETH"])
    assert run_sweep(raw, grid, executor=cluster, **kw) == run_sweep(raw, grid, workers=1, **kw)
    cfg = c.load(CONFIG)
    vs = ev.variants()
    kw2 = dict(seeds=[1], duration_s=30.0, scenarios=["toxic"], variant_overrides={"as": vs["as"], "full": {}})
    on_ray = ev.evaluate(cfg, executor=cluster, **kw2)
    local = ev.evaluate(cfg, workers=1, **kw2)
    assert on_ray["rows"] == local["rows"] and len(local["rows"]) == 2


@pytest.mark.timeout(90)
def test_an_optimisation_is_the_same_study_on_ray(cluster, tmp_path):
    cfg = override(c.load(CONFIG), ev.BASE)
    space = (Param("quoting.glft.gamma", 0.01, 0.3, log=True), Param("quoting.min_spread_bp", 0.5, 5.0))

    def study(executor, name):
        return Optimizer(cfg, space, sim_windows(["calm"], [1, 2], 20), Objective(), executor,
                         f"sqlite:///{tmp_path}/{name}.db", study_name=name, trials=2, batch=2,
                         sampler_seed=3).search(name, [0, 1])

    a, b = study(cluster, "ray"), study(LocalExecutor(1), "local")
    assert [(t.params, t.value) for t in a.trials] == [(t.params, t.value) for t in b.trials]


@pytest.mark.timeout(90)
def test_backtest_cli_sweeps_on_ray(cluster, tmp_path):
    out = tmp_path / "rows.jsonl"
    assert main(["backtest", "--config", CONFIG, "--sweep", "--grid", "quoting.levels=1,2",
                 "--grid", "quoting.level_size_mult=[1.0]", "--duration", "20", "--assets", "BTC",
                 "--ray", "local", "--out", str(out)]) == 2  # levels=2 with one multiplier: refused first
    assert main(["backtest", "--config", CONFIG, "--sweep", "--grid", "quoting.refresh_tolerance_bp=0.2,1.0",
                 "--duration", "20", "--assets", "BTC", "--ray", "local", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["quoting.refresh_tolerance_bp"] for r in rows] == [0.2, 1.0]
    assert ray.is_initialized()  # the module's cluster: the CLI used it and left it running
    # [compute] backend = "ray" picks Ray without --ray (here: joins the running instance)
    ex = make_executor(compute=ComputeConfig(backend="ray"))
    assert isinstance(ex, RayExecutor) and list(ex.map(abs, [-2, 3])) == [2, 3]  # builtins too
