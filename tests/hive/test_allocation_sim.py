"""Allocation and portfolio limits with real threads on the accelerated sim (seeded).

- a toxic market takes capital away from its asset (to the profitable ones) within a
  stated number of periods, and the asset wins it back once its market recovers;
- the portfolio drawdown stop halts every asset and leaves zero open orders until the
  operator resumes;
- the portfolio exposure cap holds while a trend loads every asset the same way.

Assertions carry margins: thread timing varies from run to run, the markets do not.
"""
from __future__ import annotations


import msgspec
import pytest

from makerhive.app import Hive
from config.scenarios import allocation_timing, toxic
from config.schema import MarketEpisode
from tests.hive_helpers import sim_config, wait_for

SPEED = 40.0
PERIOD_S = 20.0
# min_t_stat 0: reaction speed on 20 s periods, as recorded before allocation needed evidence
# (tests/test_allocation_evidence.py holds the evidence rule)
TIMING = dict(period_s=PERIOD_S, window_s=180.0, sample_s=4.0, report_s=8.0, min_history_s=60.0, min_t_stat=0.0)
TOXIC_FROM, TOXIC_TO = 100.0, 340.0
LOSE_WITHIN_PERIODS = 8  # of the toxic market's start
REGAIN_BY_S = 700.0


def calm(cfg, asset: str):
    """``asset``'s market calm with no informed takers for the whole run (an episode added
    later, a toxic one, overrides it while it lasts): a market the plain quoter earns on,
    whatever the threads' timing."""
    a = cfg.assets[asset]
    ep = MarketEpisode(start_s=0.0, end_s=10 * REGAIN_BY_S, regime="calm", informed_share=0.0)
    assets = dict(cfg.assets)
    assets[asset] = msgspec.structs.replace(a, market=msgspec.structs.replace(a.market, episodes=(ep,)))
    return msgspec.structs.replace(cfg, assets=assets)


@pytest.mark.slow
def test_a_toxic_asset_loses_capital_to_the_others_and_regains_it_after_its_market_recovers():
    # the allocator is under test: the formula market and the quoter without the stack, which loses while
    # toxic; every market is calm outside SOL's toxic episode, so that each earns there (on their own
    # markets, with base-tier fees, the plain quoter's PnL is near zero and its sign follows the threads'
    # timing: SOL would have nothing to win its capital back with)
    cfg = allocation_timing(sim_config(legacy_quoting=True, sim={"market_model": "formula"}), **TIMING)
    for asset in ("BTC", "ETH", "SOL", "XRP", "HYPE"):
        cfg = calm(cfg, asset)
    cfg = toxic(cfg, "SOL", TOXIC_FROM, TOXIC_TO)
    # in lockstep: the allocator's reaction is timed in simulated periods, which a loaded
    # machine's lagging threads would otherwise stretch (the same run whatever the load)
    hive = Hive(cfg, seed=7, lockstep=True)
    trail: list[tuple[float, float, float]] = []  # (sim time, SOL's capital, the others' capital)
    hive.start()
    try:
        for t in range(5, int(REGAIN_BY_S) + 1, 5):
            hive.wait_until(float(t))
            trail.append((hive.sim_time(), hive.allocation["SOL"],
                          sum(hive.allocation[a] for a in hive.assets if a != "SOL")))
    finally:
        summary = hive.stop()
    start = cfg.portfolio.capital_usd / 5
    lose_by = TOXIC_FROM + LOSE_WITHIN_PERIODS * PERIOD_S
    early = [c for t, c, _ in trail if t < TIMING["min_history_s"]]
    assert early and all(c == pytest.approx(start) for c in early)  # nothing moves before enough data
    low_t, low, others = min(((t, c, o) for t, c, o in trail if t <= lose_by), key=lambda x: x[1])
    assert low <= 0.6 * start, f"SOL kept ${low:,.0f} within {LOSE_WITHIN_PERIODS} periods of turning toxic"
    # at SOL's low the others may hold less (they are scored too, and thread timing varies);
    # what SOL gave up must have reached them while its market was toxic
    during = [o for t, _, o in trail if TOXIC_FROM <= t <= TOXIC_TO]
    assert max(during) > cfg.portfolio.capital_usd - start, (
        f"SOL's capital did not go to the other assets (they held ${others:,.0f} at SOL's low, "
        f"at most ${max(during):,.0f} while it was toxic)")
    late = [c for t, c, _ in trail if t >= REGAIN_BY_S - 5 * PERIOD_S]
    s = summary["assets"]["SOL"]
    assert max(late) >= max(0.75 * start, 1.5 * s["capital_min"]), f"SOL regained only ${max(late):,.0f}"
    assert s["capital_min"] <= 0.6 * start and s["reallocations"] >= 5
    assert s["capital_start"] == start and s["zone_end"] in ("hold", "reward", "punish", "pause")
    assert summary["portfolio"]["open_orders_at_exit"] == 0
    moves = hive.board.events_of("allocation", "SOL")
    assert any("capital $" in e.text and "score" in e.text and "sharpe" in e.text for e in moves)


def test_the_portfolio_drawdown_stop_halts_everything_with_zero_open_orders_until_resumed():
    # the stop is under test: the quoter without the stack loses the $20 quickly on the formula market
    # the dead-man's switch's window is 3 s of wall time at this speed: a loaded machine's pause must not
    # stop quoting for that reason first
    cfg = sim_config(legacy_quoting=True, sim={"market_model": "formula"},
                     portfolio={"drawdown_stop_pct": 0.0002},  # $20 of $100,000
                     dead_mans_switch={"window_s": 120.0})
    for a in cfg.portfolio.assets:
        cfg = toxic(cfg, a, 20.0, 400.0)
    hive = Hive(cfg, speed=SPEED, seed=3)
    hive.start()
    try:
        wait_for(lambda: hive.board.events_of("halt", "*"), timeout=30, what="the portfolio stop")
        halted_at = hive.sim_time()
        assert "drawdown stop" in hive.board.events_of("halt", "*")[0].text

        def all_out() -> bool:
            return all(len(hive.gateway.open_orders(a)) == 0 for a in hive.assets)

        wait_for(all_out, timeout=10, what="every order cancelled")
        fills = {a: len(hive.venue.engine.fills(a)) for a in hive.assets}
        hive.wait_until(halted_at + 30.0)  # it holds: nothing quotes, nothing fills
        assert all_out()
        assert {a: len(hive.venue.engine.fills(a)) for a in hive.assets} == fills
        assert all(hive.board.risk[a].halted and "portfolio" in hive.board.risk[a].halt_reason for a in hive.assets)
        assert hive.board.portfolio_row is not None and hive.board.portfolio_row.halted
        assert hive.command(["resume"])["ok"]
        wait_for(lambda: any(len(hive.gateway.open_orders(a)) > 0 for a in hive.assets), timeout=10,
                 what="quoting again after resume")
        assert hive.board.events_of("resume", "*")
    finally:
        summary = hive.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def test_the_exposure_cap_holds_under_a_trend_that_loads_every_asset_the_same_way():
    cap_pct = 0.01  # $1,000 across five assets, each allowed $5,000 on its own (uncapped, they load ~$3,400)
    cfg = sim_config(sim={"market_model": "formula"}, portfolio={"max_exposure_pct": cap_pct})
    for a in cfg.portfolio.assets:  # everyone trends up, informed buyers lift every ask: all go short
        cfg = toxic(cfg, a, 10.0, 400.0)
        cfg = _episode(cfg, a, regime="trending_up", informed_share=0.95, trend_bp_per_min=20.0)
    hive = Hive(cfg, speed=SPEED, seed=5)
    hive.start()
    try:
        hive.wait_until(150.0)
    finally:
        summary = hive.stop()
    cap = cap_pct * cfg.portfolio.capital_usd
    peak = _peak_gross_exposure(hive)
    assert peak >= 0.4 * cap, f"the trend never loaded the portfolio (peak ${peak:,.0f})"
    assert peak <= cap, f"gross exposure reached ${peak:,.0f} against a cap of ${cap:,.0f}"
    assert "near its cap" in hive.board.events_of("exposure", "*")[0].text
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def _episode(cfg, asset, **kw):  # replace the asset's only episode's fields
    import msgspec

    a = cfg.assets[asset]
    (ep,) = a.market.episodes
    market = msgspec.structs.replace(a.market, episodes=(msgspec.structs.replace(ep, **kw),))
    return msgspec.structs.replace(cfg, assets={**cfg.assets, asset: msgspec.structs.replace(a, market=market)})


def _peak_gross_exposure(hive: Hive) -> float:
    """Σ |position x price| over the assets after every fill, from the venue's own fills."""
    fills = sorted((f for a in hive.assets for f in hive.venue.engine.fills(a)), key=lambda f: (f.ts, f.tid))
    pos = {a: 0.0 for a in hive.assets}
    px = {a: 0.0 for a in hive.assets}
    peak = 0.0
    for f in fills:
        pos[f.asset] += f.sz if f.side == "B" else -f.sz
        px[f.asset] = f.px
        peak = max(peak, sum(abs(pos[a] * px[a]) for a in hive.assets))
    return peak


def test_max_concurrent_assets_keeps_one_on_standby_until_a_quarantine_frees_its_slot():
    from messages.control import Crash

    cfg = sim_config(sim={"market_model": "formula"}, portfolio={"max_concurrent_assets": 4},
                     supervision={"intensity": 0, "quarantine_after": 1, "tree_backoff_s": 0.5})
    hive = Hive(cfg, speed=20.0, seed=2)
    hive.start()
    try:
        active = ("BTC", "ETH", "SOL", "XRP")
        wait_for(lambda: all(hive.board.phase[a] == "quoting" for a in active), what="four assets quoting")
        assert hive.board.phase["HYPE"] == "standby" and hive.gateway.open_orders("HYPE") == ()
        assert all(hive.allocation[a] == pytest.approx(25_000.0) for a in active) and hive.allocation["HYPE"] == 0
        hive.teams["SOL"].get("quoter").tell(Crash())  # intensity 0: the tree gives up; one failure quarantines
        wait_for(lambda: hive.board.phase["SOL"] == "quarantined", timeout=15, what="SOL quarantined")
        wait_for(lambda: hive.board.phase["HYPE"] == "quoting", timeout=15, what="HYPE takes the free slot")
        assert hive.allocation["HYPE"] == pytest.approx(25_000.0) and hive.allocation["SOL"] == 0.0
        assert hive.gateway.open_orders("SOL") == ()
    finally:
        summary = hive.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def test_the_demo_scenario_from_the_command_line_writes_the_allocation_summary(tmp_path):
    import json
    import subprocess
    import sys

    from tests.hive_helpers import ROOT

    out = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "makerhive.cli", "run", "--scenario", "allocation-demo", "--headless",
         "--duration", "150", "--summary-json", str(out), "--config", str(ROOT / "config.toml")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    for s in data["assets"].values():
        assert {"capital_start", "capital_min", "capital_end", "score_end", "zone_end", "reallocations"} <= set(s)
        assert s["capital_start"] == 20_000.0 and s["capital_min"] <= s["capital_end"]
        assert s["zone_end"] in ("reward", "hold", "punish", "pause")
    assert any(s["reallocations"] > 0 for s in data["assets"].values())  # 150 s: a few 30 s periods moved


def test_a_new_grant_takes_effect_on_the_next_quote_without_a_restart():
    from messages.allocation import AllocationUpdate, Multipliers

    hive = Hive(sim_config(sim={"market_model": "formula"}), speed=20.0, seed=4)
    hive.start()
    try:
        wait_for(lambda: len(hive.gateway.open_orders("ETH")) >= 4, what="ETH quoting")
        refs = {r: hive.teams["ETH"].get(r) for r in ("book", "risk", "order", "quoter")}
        before = max(o.sz * o.px for o in hive.gateway.open_orders("ETH"))
        hive.contexts["ETH"].supervisor.tell(AllocationUpdate(
            "ETH", hive.sim_time(), base=10_000.0, reference=20_000.0,
            multipliers=Multipliers(size=0.7, spread=1.3, max_position=0.7), zone="punish"))
        wait_for(lambda: hive.board.risk["ETH"].zone == "punish", what="the new risk state")
        state = hive.board.risk["ETH"]
        assert state.size_mult_bid == pytest.approx(0.35) and state.spread_mult_ask >= 1.3 - 1e-9
        assert state.capital == 10_000.0 and state.limit_usd == pytest.approx(0.25 * 10_000.0 * 0.7)

        def resized() -> bool:
            orders = hive.gateway.open_orders("ETH")
            return bool(orders) and max(o.sz * o.px for o in orders) <= 0.5 * before

        wait_for(resized, timeout=10, what="smaller quotes on the venue")
        assert {r: hive.teams["ETH"].get(r) for r in refs} == refs  # the same actors: no restart
    finally:
        hive.stop()


def test_a_cut_under_the_position_is_unwound_by_the_live_hive():
    """The meta-supervisor's grant shrinks ETH's limit to a third of the position it holds:
    the order actor's reduce-only IOC (and the passive unwind behind it) bring the venue's
    position back within 1.5x the new limit within seconds (with the unwind off it stays
    at 3x), and the operator sees an unwind event."""
    from messages.allocation import AllocationUpdate, Multipliers

    cfg = sim_config(sim={"market_model": "formula"}, quoting={"tape_edge": {"enabled": False}})
    hive = Hive(cfg, speed=20.0, seed=4)
    hive.start()
    try:
        def loaded() -> bool:
            r = hive.board.risk.get("ETH")
            return r is not None and abs(hive.venue.engine.position("ETH")) * r.mid >= 150.0

        wait_for(loaded, timeout=60, what="an ETH position of $150")
        r = hive.board.risk["ETH"]
        exposure = abs(hive.venue.engine.position("ETH")) * r.mid
        limit = exposure / 3.0
        capital = r.capital  # kept: a capital this small would trip the daily loss stop
        mult = limit / (cfg.assets["ETH"].risk.max_position_pct * capital)
        hive.contexts["ETH"].supervisor.tell(AllocationUpdate(
            "ETH", hive.sim_time(), base=capital, reference=capital, multipliers=Multipliers(max_position=mult),
            zone="punish"))

        def back_within() -> bool:
            s = hive.board.risk["ETH"]
            return s.limit_usd == pytest.approx(limit) and abs(hive.venue.engine.position("ETH")) * s.mid <= 1.5 * limit

        wait_for(back_within, timeout=20, what="the position back within 1.5x the new limit (then quoting goes on)")
        assert "reduce-only IOC" in hive.board.events_of("unwind", "ETH")[0].text  # the operator sees it
    finally:
        hive.stop()
