"""Capital that does not chase noise: the allocator moves an asset only when the mean of
its returns is min_t_stat standard errors from zero (supervisor/evidence.py)."""
from __future__ import annotations

import math
import random

import msgspec
import pytest

from supervisor.allocation import Allocator
from supervisor.evidence import (block_returns, capital_evidence, critical_t, evidence_scores, neutral_score, plunged,
                                relative_blocks, t_stat)
from tests.supervisor.test_allocation import ASSETS, CAPITAL, CFG, report


def run_noise(seed: int, min_t_stat: float, periods: int = 40) -> tuple[float, int]:
    """Five assets whose PnL is a driftless random walk: capital moved in total, and the
    most periods any asset spent away from the hold zone."""
    rng = random.Random(seed)
    a = Allocator(msgspec.structs.replace(CFG, min_t_stat=min_t_stat), capital=CAPITAL, assets=ASSETS)
    pnl = {x: 0.0 for x in ASSETS}
    t, moved, off_hold = 0.0, 0.0, {x: 0 for x in ASSETS}
    for _ in range(periods):
        for x in ASSETS:
            series = [pnl[x]]
            for _ in range(12):
                series.append(series[-1] + rng.gauss(0.0, 4.0))
            a.on_report(report(x, t, series))
            pnl[x] = series[-1]
        before = {x: b.base for x, b in a.books.items()}
        a.rebalance(t + 60.0)
        moved += sum(abs(a.books[x].base - before[x]) for x in ASSETS)
        for x in ASSETS:
            off_hold[x] += a.books[x].zone != "hold"
        t += 65.0
    return moved, max(off_hold.values())


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_noise_moves_far_less_capital_than_without_the_evidence_test(seed):
    moved, off_hold = run_noise(seed, CFG.min_t_stat)
    moved_before, off_hold_before = run_noise(seed, 0.0)
    assert moved_before > 20_000.0  # scoring noise alone shuffles a fifth of the portfolio and more
    assert moved < 0.6 * moved_before
    assert off_hold < 0.4 * off_hold_before  # periods out of the hold zone (resized, respread)


def test_a_steady_loser_is_evidence_and_loses_capital_to_the_others():
    a = Allocator(CFG, capital=CAPITAL, assets=ASSETS)
    rng = random.Random(3)
    for p in range(12):
        t = 65.0 * p
        for x in ASSETS:
            drift = -6.0 if x == "SOL" else 0.0
            a.on_report(report(x, t, [drift * i + rng.gauss(0.0, 2.0) + drift * 12 * p for i in range(13)]))
        a.rebalance(t + 60.0)
    assert a.books["SOL"].evidence_t < -CFG.min_t_stat
    assert a.books["SOL"].base < 0.6 * CAPITAL / 5
    others = [a.books[x].base for x in ASSETS if x != "SOL"]
    assert min(others) > CAPITAL / 5 and max(others) - min(others) < 1e-6  # shared out equally
    assert a.allocated <= CAPITAL + 1e-6


def test_block_returns_sum_whole_blocks_and_skip_what_cannot_be_a_return():
    samples = [(0.0, 0.0, 100.0), (5.0, 1.0, 100.0), (10.0, 3.0, 100.0), (15.0, math.nan, 100.0),
               (20.0, 4.0, 100.0), (25.0, 6.0, 0.0), (30.0, 7.0, 100.0)]
    # a block is a stretch of time: the unusable changes (NaN, no capital) leave a gap in it
    assert block_returns(samples, 10.0) == pytest.approx([0.03, 0.01])
    assert block_returns(samples[:6], 10.0) == pytest.approx([0.03])  # an unfinished block is left out
    assert block_returns(samples[:3], 5.0) == pytest.approx([0.01, 0.02])


def test_t_stat_is_zero_without_enough_blocks_and_infinite_for_a_riskless_gain():
    assert t_stat([]) == 0.0 and t_stat([0.5]) == 0.0
    assert t_stat([0.01, 0.01, 0.01]) == math.inf and t_stat([0.0, 0.0]) == 0.0
    assert t_stat([1.0, -1.0, 1.0, -1.0]) == 0.0
    assert t_stat([0.02, 0.01, 0.03]) == pytest.approx(0.02 / (0.01 / math.sqrt(3)))


def test_the_config_refuses_a_negative_or_missing_evidence_threshold():
    from backtest.overrides import override
    import config as c
    from tests.hive_helpers import ROOT

    cfg = c.load(ROOT / "config.toml")
    assert cfg.allocation.min_t_stat == 2.0
    for bad in ({"allocation.min_t_stat": -1.0}, {"allocation.min_t_stat": math.nan},
                {"allocation.evidence_block_s": 0.0}):
        with pytest.raises(c.ConfigError, match=next(iter(bad)).split(".")[1]):
            override(cfg, bad)


def test_compare_allocation_over_seeds_reports_each_seeds_difference_and_its_standard_error(tmp_path):
    import json
    import subprocess
    import sys

    from tests.hive_helpers import ROOT

    out = tmp_path / "cmp.json"
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", "--compare-allocation", "--seeds", "2",
                           "--first-seed", "4", "--duration", "30", "--workers", "2", "--json", str(out), "--config",
                           str(ROOT / "config.toml")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["seeds"] == [4, 5] and set(data["by_seed"]) == {"4", "5"}
    total = data["summary"]["total"]
    for i, seed in enumerate(("4", "5")):
        one = data["by_seed"][seed]["total"]
        assert total["difference"][i] == pytest.approx(one["supervisor"]["net_pnl"] - one["static"]["net_pnl"])
    assert total["difference_mean"] == pytest.approx(sum(total["difference"]) / 2)
    assert total["difference_se"] == pytest.approx(abs(total["difference"][0] - total["difference"][1]) / 2)
    assert "mean ± se" in proc.stdout
    assert "compare-allocation: " in proc.stderr and " runs (100%)" in proc.stderr


def run_earners(seed: int, min_t_stat: float, periods: int = 40) -> tuple[float, float]:
    """Five assets that all earn the same, each with its own noise: capital moved in total
    and the largest distance any asset's capital got from an equal share."""
    rng = random.Random(seed)
    a = Allocator(msgspec.structs.replace(CFG, min_t_stat=min_t_stat), capital=CAPITAL, assets=ASSETS)
    pnl = {x: 0.0 for x in ASSETS}
    t, moved, far = 0.0, 0.0, 0.0
    for _ in range(periods):
        for x in ASSETS:
            series = [pnl[x]]
            for _ in range(12):
                series.append(series[-1] + 1.0 + rng.gauss(0.0, 4.0))
            a.on_report(report(x, t, series))
            pnl[x] = series[-1]
        before = {x: b.base for x, b in a.books.items()}
        a.rebalance(t + 60.0)
        moved += sum(abs(a.books[x].base - before[x]) for x in ASSETS)
        far = max(far, max(abs(a.books[x].base - CAPITAL / 5) for x in ASSETS))
        t += 65.0
    return moved, far


def test_when_every_asset_earns_alike_capital_stays_near_equal_shares():
    runs = [(run_earners(seed, CFG.min_t_stat), run_earners(seed, 0.0)) for seed in (1, 2, 3, 4, 5)]
    for _, (moved_before, far_before) in runs:
        assert far_before > 0.1 * CAPITAL / 5  # following the scores, capital chases each asset's noise
    for (moved, _), (moved_before, _) in runs:
        assert moved < 0.5 * moved_before
    assert sum(r[0][0] for r in runs) < 0.3 * sum(r[1][0] for r in runs)  # in all, a quarter of it or less


def test_relative_blocks_compare_each_asset_with_the_others_mean_over_their_common_blocks():
    rel = relative_blocks({"A": [0.0, 3.0, 1.0], "B": [1.0, 1.0], "C": [3.0, 0.0]})
    assert rel == {"A": pytest.approx([1.0, 0.5]), "B": pytest.approx([-2.0, 0.5]), "C": pytest.approx([1.0, -1.0])}
    assert relative_blocks({"A": [1.0, 2.0]}) == {"A": []}  # alone: nothing to compare with
    assert relative_blocks({"A": [1.0], "B": []}) == {"A": [], "B": []}


def test_capital_rises_only_on_proof_of_earning_more_and_falls_on_proof_of_a_loss():
    neutral = neutral_score(CFG)
    steady = [0.010, 0.011, 0.009, 0.010, 0.011, 0.009, 0.010, 0.011, 0.009, 0.010]
    blocks = {"BTC": [x * 2 for x in steady], "ETH": steady, "XRP": steady[1:] + steady[:1],
              "HYPE": steady[2:] + steady[:2]}
    ev = capital_evidence({"BTC": 0.9, "ETH": 0.8, "XRP": 0.8, "HYPE": 0.8}, blocks, CFG)
    assert ev["BTC"][1] and ev["BTC"][0] > 3.0  # earns, and more than the rest beyond doubt
    assert not any(ev[a][1] for a in ("ETH", "XRP", "HYPE"))  # earn, but no more than the rest
    ev = capital_evidence({"BTC": 0.9, "SOL": 0.1}, {"BTC": steady, "SOL": [-x for x in steady]}, CFG)
    assert ev["SOL"][1] and ev["SOL"][0] < -CFG.min_t_stat
    everyone_loses = {a: [-x for x in steady] for a in ("BTC", "ETH")}
    assert all(ok for _, ok in capital_evidence({"BTC": 0.1, "ETH": 0.1}, everyone_loses, CFG).values())
    # earning a little more than the rest over three blocks: no proof either way
    assert not any(ok for _, ok in capital_evidence({"BTC": neutral + 0.2, "ETH": neutral - 0.2},
                                                     {"BTC": [0.02, 0.01, 0.03], "ETH": [0.03, -0.01, 0.02]},
                                                     CFG).values())


def test_one_plunge_is_evidence_though_its_t_is_small():
    cfg = CFG
    jumpy = [0.0, 0.0, -0.004, 0.0, 0.0, 0.0001, 0.0, -0.003, 0.0, 0.0]  # two jumps down, quiet between
    quiet = [0.0001, -0.0001] * 5
    blocks = {"HYPE": jumpy, "BTC": quiet, "ETH": quiet[1:] + quiet[:1]}
    scores = {"HYPE": 0.1, "BTC": 0.5, "ETH": 0.5}
    assert abs(t_stat(jumpy)) < cfg.min_t_stat
    assert not capital_evidence(scores, blocks, cfg)["HYPE"][1]
    assert plunged(0.007, -0.01, cfg) and not plunged(0.007, 0.001, cfg) and not plunged(0.004, -0.01, cfg)
    assert capital_evidence(scores, blocks, cfg, plunged={"HYPE"})["HYPE"][1]
    acted, _, ok = evidence_scores(scores, blocks, cfg, plunged={"HYPE"})["HYPE"]
    assert ok and acted == 0.1  # its zone follows its score too (pause: smaller, wider quotes)


def test_critical_t_asks_more_of_few_blocks():
    assert critical_t(2.0, 3) > 4.0 and 2.2 < critical_t(2.0, 10) < 2.4 and critical_t(2.0, 1000) == pytest.approx(2.0, abs=0.01)
    assert critical_t(0.0, 3) == 0.0 and critical_t(2.0, 1) == math.inf
