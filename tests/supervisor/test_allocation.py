"""The meta-supervisor's allocation core: scores, zones with hysteresis, multipliers, capital steps.

Pure code, driven directly: reports in, decisions out, time as an argument.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import AllocationConfig
from messages.allocation import Multipliers, PerformanceReport
from supervisor.allocation import (Allocator, capital_targets, raw_parts, score_parts, step_capital,
                                   step_multipliers, zone_for)

ASSETS = ("BTC", "ETH", "SOL", "XRP", "HYPE")
CAPITAL = 100_000.0
CFG = AllocationConfig(period_s=60.0, window_s=600.0, sample_s=5.0, report_s=15.0, min_history_s=180.0)


def report(asset: str, first_ts: float, pnl: list[float], capital: float = 20_000.0, sample_s: float = 5.0):
    return PerformanceReport(asset=asset, ts=first_ts + sample_s * (len(pnl) - 1), first_ts=first_ts,
                             sample_s=sample_s, pnl=tuple(pnl), capital=capital, return_on_capital=0.0,
                             drawdown_usd=0.0, fills=0, volume_usd=0.0, inventory_utilisation=0.0,
                             net_pnl=pnl[-1] if pnl else 0.0)


def feed(alloc: Allocator, asset: str, t0: float, t1: float, slope_per_s: float, noise: float = 0.0,
         start: float = 0.0) -> float:
    """Samples every 5 s from t0 to t1 of a PnL line (with a deterministic wiggle)."""
    n = int((t1 - t0) / 5.0)
    pnl = [start + slope_per_s * 5.0 * i + noise * math.sin(i * 1.7) for i in range(n + 1)]
    alloc.on_report(report(asset, t0, pnl))
    return pnl[-1]


def allocator(**kw) -> Allocator:
    cfg = AllocationConfig(**{**{f: getattr(CFG, f) for f in CFG.__struct_fields__}, **kw})
    return Allocator(cfg, capital=CAPITAL, assets=ASSETS)


# -- scoring ---------------------------------------------------------------------------------------
def test_a_steady_earner_scores_high_a_steady_loser_low_and_a_flat_asset_in_between():
    up = score_parts(raw_parts([(5.0 * i, 0.05 * i + 0.01 * math.sin(i), 20_000.0) for i in range(120)]), CFG)
    down = score_parts(raw_parts([(5.0 * i, -1.0 * i + 0.01 * math.sin(i), 20_000.0) for i in range(120)]), CFG)
    flat = score_parts(raw_parts([(5.0 * i, 0.0, 20_000.0) for i in range(120)]), CFG)
    assert up.score > 0.7 and down.score < 0.2 and 0.4 <= flat.score <= 0.7
    assert down.drawdown == 1.0 and up.drawdown == 0.0
    assert up.sharpe == 1.0 and down.sharpe == 0.0


def test_normalisation_is_absolute_so_when_everyone_earns_nobody_is_punished():
    a = allocator()
    for x in ASSETS:
        feed(a, x, 0.0, 300.0, 0.01, noise=0.02)
    changes = a.rebalance(300.0)
    assert all(a.books[x].zone == "reward" for x in ASSETS)
    assert all(a.books[x].base == pytest.approx(20_000.0) for x in ASSETS)  # equal scores: nobody moves
    assert {c.asset for c in changes} == set(ASSETS)  # the multipliers move toward reward's


def test_too_little_data_holds_the_allocation():
    a = allocator()
    feed(a, "SOL", 0.0, 100.0, -1.0)  # terrible, but only 100 s of it (min_history_s = 180)
    feed(a, "BTC", 0.0, 100.0, 1.0)
    assert a.rebalance(100.0) == []
    assert a.books["SOL"].score is None and a.books["SOL"].base == 20_000.0


# -- zones, multipliers ------------------------------------------------------------------------------
def test_zones_follow_strategy_md():
    z = CFG.zones
    assert [zone_for(s, "hold", z, 0.0) for s in (0.9, 0.55, 0.3, 0.1)] == ["reward", "hold", "punish", "pause"]


@given(st.lists(st.floats(min_value=-0.049, max_value=0.049), min_size=1, max_size=60),
       st.sampled_from([0.2, 0.4, 0.7]))
def test_a_score_wobbling_around_a_boundary_does_not_flap(wobble, boundary):
    """Within the hysteresis band around a boundary, the zone changes at most once."""
    zone = zone_for(boundary + wobble[0], "hold" if boundary != 0.2 else "punish", CFG.zones, 0.0)
    changes = 0
    for w in wobble[1:]:
        new = zone_for(boundary + w, zone, CFG.zones, CFG.hysteresis)
        changes += new != zone
        zone = new
    assert changes == 0


def test_multipliers_move_at_most_ten_percent_per_period_toward_the_zone():
    m = Multipliers()
    target = Multipliers(size=0.4, spread=1.5, max_position=0.4)
    seen = [m]
    for _ in range(20):
        m = step_multipliers(m, target, 0.10)
        seen.append(m)
    for a, b in zip(seen, seen[1:]):
        for f in ("size", "spread", "max_position"):
            assert abs(getattr(b, f) / getattr(a, f) - 1.0) <= 0.10 + 1e-12
    assert m == target  # reached, then held


# -- capital ------------------------------------------------------------------------------------------
def test_the_loser_loses_capital_to_the_earners_and_gets_it_back_when_it_earns_again():
    a = allocator()
    t, pnl = 0.0, {x: 0.0 for x in ASSETS}
    history = []
    for period in range(30):
        t1 = t + 60.0
        for x in ASSETS:
            slope = -0.2 if (x == "SOL" and 3 <= period < 12) else 0.01
            pnl[x] = feed(a, x, t, t1, slope, noise=0.02, start=pnl[x])
        a.rebalance(t1)
        history.append(a.books["SOL"].base)
        assert a.allocated <= CAPITAL + 1e-6
        t = t1 + 5.0
    low = min(history)
    assert low < 0.5 * 20_000.0  # lost over half while toxic
    assert history.index(low) < 14
    assert history[-1] > 0.9 * 20_000.0  # and regained it after
    assert a.books["SOL"].zone in ("hold", "reward")


def test_targets_are_scaled_down_pro_rata_when_they_exceed_the_capital_and_respect_floor_and_cap():
    t = capital_targets({a: 1.0 for a in ASSETS}, 0.0, CAPITAL, 20_000.0, CFG)
    assert sum(t.values()) == pytest.approx(CAPITAL)
    assert all(v == pytest.approx(20_000.0) for v in t.values())
    t = capital_targets({"BTC": 1.0, "ETH": 0.0}, 60_000.0, CAPITAL, 20_000.0, CFG)
    assert t["BTC"] == pytest.approx(35_000.0) and t["ETH"] == pytest.approx(5_000.0)


bases_st = st.lists(st.floats(min_value=500.0, max_value=35_000.0), min_size=5, max_size=5)
scores_st = st.lists(st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)), min_size=5, max_size=5)


@settings(max_examples=300)
@given(bases_st, scores_st)
def test_one_capital_step_keeps_every_rule(bases, scores):
    total = sum(bases)
    if total > CAPITAL:
        bases = [b * CAPITAL / total for b in bases]
        bases = [max(b, 500.0) for b in bases]
        if sum(bases) > CAPITAL:
            return
    before = dict(zip(ASSETS, bases))
    scored = {a: s for a, s in zip(ASSETS, scores) if s is not None}
    holding = sum(v for a, v in before.items() if a not in scored)
    after = step_capital(before, capital_targets(scored, holding, CAPITAL, 20_000.0, CFG), CAPITAL, CFG)
    assert sum(after.values()) <= CAPITAL * (1 + 1e-9)
    for a in ASSETS:
        assert CFG.floor_usd - 1e-6 <= after[a] <= CFG.cap_pct * CAPITAL + 1e-6
        assert abs(after[a] - before[a]) <= CFG.max_capital_step * before[a] + 1e-6
        if a not in scored:
            assert after[a] == before[a]


report_st = st.lists(
    st.tuples(st.sampled_from(ASSETS), st.lists(st.floats(min_value=-50, max_value=50), min_size=1, max_size=15)),
    min_size=0, max_size=12)


def _run(periods, quarantine_at):
    a = allocator(min_history_s=30.0)
    t = 0.0
    pnl = {x: 0.0 for x in ASSETS}
    trail = []
    for k, reports in enumerate(periods):
        for asset, steps in reports:
            series = []
            for s in steps:
                pnl[asset] += s
                series.append(pnl[asset])
            a.on_report(report(asset, t, series))
            t += 5.0 * len(steps)
        t += 60.0
        if k == quarantine_at:
            a.quarantine("XRP")
        before = {x: (a.books[x].base, a.books[x].state) for x in ASSETS}
        a.rebalance(t)
        after = {x: a.books[x].base for x in ASSETS}
        trail.append((before, after, tuple((x, b.zone, b.multipliers) for x, b in a.books.items())))
    return trail


@settings(max_examples=150, deadline=None)
@given(st.lists(report_st, min_size=1, max_size=12), st.integers(min_value=-1, max_value=11))
def test_for_any_sequence_of_reports_allocations_keep_the_rules_and_are_deterministic(periods, quarantine_at):
    trail = _run(periods, quarantine_at)
    for before, after, _ in trail:
        assert sum(after.values()) <= CAPITAL * (1 + 1e-9)
        for x in ASSETS:
            base, state = before[x]
            if state != "active":
                assert after[x] == 0.0
                continue
            assert CFG.floor_usd - 1e-6 <= after[x] <= CFG.cap_pct * CAPITAL + 1e-6
            assert abs(after[x] - base) <= CFG.max_capital_step * base + 1e-6
    assert _run(periods, quarantine_at) == trail  # same input, same allocations


# -- quarantine, standby, compound ------------------------------------------------------------------------
def test_quarantine_releases_capital_pro_rata_and_a_lift_gives_an_equal_share_back():
    a = allocator()
    a.quarantine("SOL")
    assert a.books["SOL"].base == 0.0
    assert all(a.books[x].base == pytest.approx(25_000.0) for x in ASSETS if x != "SOL")
    a.restore("SOL")
    assert all(a.books[x].base == pytest.approx(20_000.0) for x in ASSETS)


def test_a_quarantined_assets_slot_and_capital_go_to_the_first_on_standby():
    a = Allocator(CFG, capital=CAPITAL, assets=ASSETS, max_concurrent=3)
    assert a.active() == ["BTC", "ETH", "SOL"] and a.books["XRP"].base == 0.0
    assert a.share == pytest.approx(CAPITAL / 3)
    changes = a.quarantine("ETH")
    assert a.active() == ["BTC", "SOL", "XRP"]
    assert a.books["XRP"].base == pytest.approx(CAPITAL / 3) and a.books["ETH"].base == 0.0
    assert {c.asset for c in changes} == {"ETH", "XRP"}
    a.restore("ETH")  # no slot free
    assert a.books["ETH"].state == "standby" and a.books["ETH"].base == 0.0


def test_compound_reinvests_the_assets_own_pnl_on_top_of_its_base():
    a = Allocator(CFG, capital=CAPITAL, assets=ASSETS, compound={"BTC": True})
    feed(a, "BTC", 0.0, 50.0, 2.0)  # +$100
    feed(a, "ETH", 0.0, 50.0, 10.0)
    assert a.books["BTC"].capital == pytest.approx(20_100.0) and a.books["BTC"].base == 20_000.0
    assert a.books["ETH"].capital == pytest.approx(20_000.0)
    u = a.update("BTC", 50.0)
    assert u.compound and u.base == 20_000.0


# -- config ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("section, key, value, words", [
    ("allocation", "max_capital_step", 1.5, ["allocation.max_capital_step", "(0, 1)"]),
    ("allocation", "zones", [0.5, 0.4, 0.7], ["allocation.zones", "0 < pause < punish < hold < 1"]),
    ("allocation", "weights", [0.5, 0.5, 0.5, 0.0], ["allocation.weights", "adding up to 1"]),
    ("allocation", "sharpe_range", [2.0, 1.0], ["allocation.sharpe_range", "lo < hi"]),
    ("allocation", "floor_usd", 30_000.0, ["allocation.floor_usd", "portfolio.capital_usd"]),
    ("allocation", "report_s", 1.0, ["allocation.report_s", "sample_s"]),
    ("allocation", "hysteresis", 0.2, ["allocation.hysteresis", "half the narrowest zone"]),
    ("allocation", "pause", {"size": 0.0}, ["allocation.pause.size", "> 0"]),
    ("portfolio", "max_exposure_pct", 0.0, ["portfolio.max_exposure_pct", "> 0"]),
    ("portfolio", "drawdown_stop_pct", 2.0, ["portfolio.drawdown_stop_pct", "(0, 1]"]),
    ("portfolio", "max_concurrent_assets", 0, ["portfolio.max_concurrent_assets", ">= 1"]),
])
def test_every_bad_allocation_value_names_the_field_and_what_is_allowed(section, key, value, words):
    import tomllib

    import config as config_mod
    from tests.hive_helpers import ROOT

    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw.setdefault(section, {})[key] = value
    with pytest.raises(config_mod.ConfigError) as e:
        config_mod.from_dict(raw)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_compound_is_a_per_asset_flag_and_episodes_are_checked():
    import tomllib

    import config as config_mod
    from tests.hive_helpers import ROOT

    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["assets"]["SOL"]["compound"] = True
    cfg = config_mod.from_dict(raw)
    assert cfg.assets["SOL"].compound and not cfg.assets["BTC"].compound
    raw["assets"]["SOL"]["market"]["episodes"] = [{"start_s": 10.0, "end_s": 20.0, "regime": "toxic"}]
    with pytest.raises(config_mod.ConfigError, match=r"assets.SOL.market.episodes\[0\].regime.*trending_up"):
        config_mod.from_dict(raw)
