"""Portfolio limits and how allocation reaches the quotes: pure cores, driven directly.

The exposure cap and the drawdown stop (strategy.portfolio), the capital core that turns
reports into grants and gates (supervisor.capital), the risk core applying them to the
next state, the order tracker cutting resting size when a limit shrinks, the PnL
reports (strategy.performance) and the sim's scheduled market episodes.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import RiskConfig
from messages.allocation import AllocationUpdate, ExposureReport, Multipliers, PortfolioGate
from messages.orders import Fill, QuoteLadder, QuoteLevel
from strategy.order_tracker import OrderTracker
from strategy.performance import PerformanceTracker
from strategy.portfolio import DAY_S, PortfolioGuard
from strategy.risk import RiskCore
from supervisor.capital import CapitalCore
from tests.hive_helpers import sim_config

ASSETS = ("BTC", "ETH", "SOL", "XRP", "HYPE")


# -- the exposure cap -------------------------------------------------------------------------------
def test_allowances_split_the_headroom_so_they_never_add_up_past_the_cap():
    g = PortfolioGuard(100_000.0, max_exposure_pct=0.4, drawdown_stop_pct=0.05, assets=ASSETS, now=0.0)
    limits = {a: 5_000.0 for a in ASSETS}
    assert all(v is None for v in g.allowances(ASSETS, limits).values())  # $8k each: the own limits bind first
    g = PortfolioGuard(100_000.0, max_exposure_pct=0.05, drawdown_stop_pct=0.05, assets=ASSETS, now=0.0)
    for a, inv in zip(ASSETS, (1000.0, -1000.0, 500.0, 0.0, 0.0)):
        g.on_exposure(a, inv, 0.0)
    allow = g.allowances(ASSETS, limits)
    assert allow["BTC"] == pytest.approx(1000.0 + 500.0) and allow["XRP"] == pytest.approx(500.0)
    assert sum(allow.values()) == pytest.approx(g.cap_usd)  # all of them together: the cap
    g.on_exposure("XRP", 2500.0, 0.0)  # over the cap: nobody may add
    assert all(v == pytest.approx(abs(g.inventory[a])) for a, v in g.allowances(ASSETS, limits).items())


def test_one_assets_fills_raise_its_allowance_only_once_the_others_cuts_are_out():
    # flat, $1,000 cap: $200 each. BTC fills $150: it may now hold $320, the others $170.
    # Their cut goes out now but their orders may fill up to $200 until it arrives, so
    # BTC's raise waits for the next round: at no moment may the assets hold past the cap
    g = PortfolioGuard(100_000.0, max_exposure_pct=0.01, drawdown_stop_pct=0.05, assets=ASSETS, now=0.0)
    limits = {a: 5_000.0 for a in ASSETS}
    first = g.allowances(ASSETS, limits, {})
    assert all(v == pytest.approx(200.0) for v in first.values())
    g.on_exposure("BTC", -150.0, 0.0)
    assert g.allowances(ASSETS, limits) == pytest.approx({"BTC": 320.0, **{a: 170.0 for a in ASSETS[1:]}})
    second = g.allowances(ASSETS, limits, first)
    assert second == pytest.approx({"BTC": 200.0, **{a: 170.0 for a in ASSETS[1:]}})
    third = g.allowances(ASSETS, limits, second)
    assert third == pytest.approx({"BTC": 320.0, **{a: 170.0 for a in ASSETS[1:]}})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ASSETS), st.floats(0.0, 1.0)), min_size=1, max_size=40))
def test_property_old_and_new_allowances_together_stay_under_the_cap(fills):
    # each round an asset fills part of what its allowance leaves (it may still go by the
    # old allowance or already by the new one): the larger of the two, summed over the
    # assets, never passes the cap, nor does what they hold
    g = PortfolioGuard(100_000.0, max_exposure_pct=0.01, drawdown_stop_pct=0.05, assets=ASSETS, now=0.0)
    limits = {a: 5_000.0 for a in ASSETS}
    granted = g.allowances(ASSETS, limits, {})  # the first gates, sent before any quote
    for asset, frac in fills:
        new = g.allowances(ASSETS, limits, granted)
        wider = {a: max(granted[a] if granted[a] is not None else limits[a],
                        new[a] if new[a] is not None else limits[a]) for a in ASSETS}
        assert sum(wider.values()) <= g.cap_usd + 1e-6
        room = wider[asset] - abs(g.inventory[asset])  # the worst case: it still goes by the larger
        g.on_exposure(asset, g.inventory[asset] - max(0.0, room) * frac, 0.0)
        granted = new
        assert g.gross <= g.cap_usd + 1e-6


def test_risk_core_holds_back_only_the_quotes_that_add_exposure():
    r = RiskCore("ETH", RiskConfig(), 20_000.0)
    r.mark(1000.0, 0.0)
    r.apply_gate(PortfolioGate("ETH", 0.0, max_inventory_usd=0.0))
    s = r.state(0.0)
    assert not s.allow_bid and not s.allow_ask and s.exposure_held  # flat: both sides would add
    r.on_fill(Fill("ETH", "c", 1, 1, "B", 1000.0, 1.0, 0.0, 0.0, 0.0), 1.0)  # long $1000
    r.apply_gate(PortfolioGate("ETH", 0.0, max_inventory_usd=1000.0))
    s = r.state(0.0)
    assert s.allow_ask and not s.allow_bid  # selling reduces: allowed
    assert s.limit_usd == 1000.0
    r.apply_gate(PortfolioGate("ETH", 0.0, max_inventory_usd=None))
    s = r.state(0.0)
    assert s.allow_bid and s.allow_ask and s.limit_usd == 5000.0


def test_order_tracker_cuts_resting_size_outermost_first_when_the_limit_shrinks():
    t = OrderTracker("ETH", 1, 1, 4, 0.5)
    ladder = QuoteLadder("ETH", 0.0, 1, bids=(QuoteLevel("B", 0, 999.0, 1.0), QuoteLevel("B", 1, 998.0, 2.0)),
                         asks=(QuoteLevel("A", 0, 1001.0, 1.0),))
    _, places = t.plan(ladder, 1000.0, 5000.0)
    assert len(places) == 3
    cancels, places = t.plan(ladder, 1000.0, 1500.0)  # now only $1,500 of worst-case inventory per side
    outer = next(o.cloid for o in t.live.values() if o.px == 998.0)
    assert cancels == [outer] and places == []


# -- the drawdown stop ----------------------------------------------------------------------------------
def test_drawdown_stop_trips_latches_and_lifts_on_resume_or_a_new_day():
    g = PortfolioGuard(100_000.0, max_exposure_pct=0.4, drawdown_stop_pct=0.05, assets=ASSETS, now=0.0)
    g.on_exposure("BTC", 0.0, 1000.0)
    assert g.check(10.0) is None  # a new peak: $101,000
    g.on_exposure("BTC", 0.0, -3900.0)  # $4,900 below the peak: 4.9%
    assert g.check(20.0) is None and not g.halted
    g.on_exposure("BTC", 0.0, -4100.0)
    assert "drawdown stop" in (g.check(30.0) or "") and g.halted
    g.on_exposure("BTC", 0.0, 0.0)
    assert g.check(40.0) is None and g.halted  # latched: recovering does not lift it
    assert g.resume(50.0) and not g.halted
    g.on_exposure("BTC", 0.0, -6000.0)
    assert g.check(60.0) is not None
    assert g.check(DAY_S + 1.0) is None and not g.halted  # the day rolled


def test_capital_core_gives_no_asset_the_room_another_was_cut_from_until_the_cut_has_gone_through():
    from supervisor.capital import CUT_GRACE_S

    cfg = sim_config(portfolio={"max_exposure_pct": 0.01})  # $1,000: $200 each
    core = CapitalCore(cfg, 0.0)
    assert {a: core.gate(a, 0.0).max_inventory_usd for a in ASSETS} == pytest.approx({a: 200.0 for a in ASSETS})
    core.on_exposure(ExposureReport("BTC", 1.0, -150.0, 0.0))  # BTC sold $150
    cut = {g.asset: g.max_inventory_usd for g in core.on_tick(1.0).gates}
    assert cut == pytest.approx({a: 170.0 for a in ASSETS[1:]})  # the others cut at once; BTC waits
    assert not core.on_tick(1.0 + CUT_GRACE_S / 2).gates  # their old $200 may still be filling
    raised = {g.asset: g.max_inventory_usd for g in core.on_tick(1.0 + CUT_GRACE_S).gates}
    assert raised == pytest.approx({"BTC": 320.0})


def test_capital_core_halts_every_asset_cancels_every_order_and_resumes_on_command():
    cfg = sim_config()
    core = CapitalCore(cfg, 0.0)
    assert not core.on_tick(1.0).gates  # nothing to say: the default gate
    core.on_exposure(ExposureReport("SOL", 2.0, 0.0, -6_000.0))
    d = core.on_tick(2.0)
    assert sorted(d.cancel_all) == sorted(ASSETS)
    assert {g.asset for g in d.gates} == set(ASSETS) and all(g.halted for g in d.gates)
    assert any(kind == "halt" and "drawdown" in text for kind, _, text in d.events)
    assert not core.on_tick(3.0).gates  # said once
    d = core.resume(4.0)
    assert all(not g.halted for g in d.gates) and len(d.gates) == 5
    assert any(kind == "resume" for kind, _, _ in d.events)


def test_capital_core_grants_reach_the_risk_core_and_change_the_next_quote():
    r = RiskCore("SOL", RiskConfig(), 20_000.0)
    r.mark(100.0, 0.0)
    r.apply_allocation(AllocationUpdate("SOL", 0.0, base=10_000.0, reference=20_000.0,
                                        multipliers=Multipliers(size=0.7, spread=1.3, max_position=0.7),
                                        zone="punish"))
    s = r.state(0.0)
    assert s.capital == 10_000.0 and s.zone == "punish"
    assert s.size_mult_bid == pytest.approx(0.7 * 0.5)  # the zone's size x capital / equal share
    assert s.spread_mult_bid == pytest.approx(1.3)
    assert s.limit_usd == pytest.approx(min(5_000.0, 0.25 * 10_000.0 * 0.7))
    r.apply_allocation(AllocationUpdate("SOL", 0.0, base=30_000.0, reference=20_000.0,
                                        multipliers=Multipliers(max_position=1.1), zone="reward"))
    assert r.state(0.0).limit_usd == 5_000.0  # the configured cap stays hard


def test_compound_mode_trades_with_base_plus_own_pnl():
    r = RiskCore("SOL", RiskConfig(), 20_000.0)
    r.apply_allocation(AllocationUpdate("SOL", 0.0, base=20_000.0, reference=20_000.0, compound=True))
    r.on_fill(Fill("SOL", "c", 1, 1, "B", 100.0, 10.0, 0.0, 0.0, 0.0), 10.0)
    r.mark(110.0, 0.0)  # +$100 unrealized
    assert r.state(0.0).capital == pytest.approx(20_100.0)


def test_a_fill_past_a_limit_that_shrank_is_measured_history_is_not():
    r = RiskCore("SOL", RiskConfig(), 20_000.0)
    r.mark(100.0, 0.0)
    r.on_fills([Fill("SOL", "c", 1, 1, "B", 100.0, 60.0, 0.0, 0.0, 0.0)], 60.0)  # $6,000 from history
    assert r.max_limit_excess_usd == 0.0
    r.on_fill(Fill("SOL", "c", 2, 2, "B", 100.0, 1.0, 0.0, 0.0, 0.0), 61.0)  # live, past the $5,000 limit
    assert r.max_limit_excess_usd == pytest.approx(6_100.0 - 5_000.0)


# -- reports ---------------------------------------------------------------------------------------------
def test_pnl_is_sampled_on_a_fixed_grid_and_reported_every_report_s():
    p = PerformanceTracker("BTC", 5.0, 15.0, 0.0)
    reports = []
    for i in range(1, 41):  # a mark every second, PnL +1 per second
        r = p.observe(float(i), float(i), capital=20_000.0, fills=i, volume_usd=100.0 * i,
                      inventory_usd=100.0, limit_usd=1000.0)
        if r is not None:
            reports.append(r)
    assert [r.ts for r in reports] == [15.0, 30.0]
    first = reports[0]
    assert first.first_ts == 5.0 and first.sample_s == 5.0 and first.pnl == (5.0, 10.0, 15.0)
    assert reports[1].first_ts == 20.0 and reports[1].pnl == (20.0, 25.0, 30.0)
    assert reports[1].fills == 15 and reports[1].inventory_utilisation == pytest.approx(0.1)
    assert reports[1].return_on_capital == pytest.approx(15.0 / 20_000.0)


# -- the sim's episodes ------------------------------------------------------------------------------------
def test_an_episode_overrides_the_market_only_while_it_lasts():
    from config.scenarios import toxic
    from venues.sim.market import MarketProcess

    cfg = sim_config()
    plain = cfg.assets["SOL"].market
    ep = toxic(cfg, "SOL", 60.0, 120.0).assets["SOL"].market
    a = MarketProcess("SOL", plain, cfg.sim, 11)
    b = MarketProcess("SOL", ep, cfg.sim, 11)
    informed = {"a": 0, "b": 0}
    for t in range(1, 1801):  # 180 s in 0.1 s steps
        ts = t / 10
        ta, tb = a.advance(ts), b.advance(ts)
        if ts <= 60.0:
            assert ta == tb and a.mid == b.mid  # before: the very same market
        elif ts <= 120.0:
            informed["a"] += sum(x.informed for x in ta)
            informed["b"] += sum(x.informed for x in tb)
            assert b.book_spread_bp == pytest.approx(plain.book_spread_bp * 3.0)  # a crash book
    assert informed["b"] > 10 * max(1, informed["a"])
    assert b.book_spread_bp == a.book_spread_bp  # after: its own regime process again
