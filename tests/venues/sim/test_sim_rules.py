"""Hyperliquid's venue rules in the simulated exchange: tick, lot, notional, post-only,
the open-order cap, the address action budget (and its cancel cap), the IP weight,
scheduleCancel, funding; and bit-identical determinism over a long, busy run."""
import math
import pathlib
import random

import msgspec
import pytest

import config as c
from messages.market import Trade
from messages.orders import Fill, Funding, NewOrder, OrderAck, OrderCancelled, OrderReject
from exchange_rules.ticks import round_price, round_size
from venues.sim.engine import SimExchange, exchange_weight, info_weight
from venues.sim.market import TakerOrder
from tests.sim_helpers import ScriptedMarket

ROOT = pathlib.Path(__file__).resolve().parents[3]
TICK = 0.01
BUDGET_TEXT = ("Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded ${vlm}. "
               "Place taker orders to free up 1 request per USDC traded.")


@pytest.fixture(scope="module")
def cfg():
    return c.load(ROOT / "config.toml")


def with_sim(cfg, **sim):
    return msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, **sim))




def scripted(cfg, seed=1, **sim):
    """An engine whose every market is scripted (so simulated days pass in no time):
    a two-level book half a tick either side of the configured price."""
    eng = SimExchange(with_sim(cfg, **sim) if sim else cfg, seed=seed)
    for name in cfg.portfolio.assets:
        price = cfg.assets[name].market.price
        d = eng.sz_decimals(name)
        b1 = float(round_price(price * (1 - 0.5e-4), d, "down"))
        a1 = float(round_price(price * (1 + 0.5e-4), d, "up"))
        b2 = float(round_price(b1 * (1 - 1e-4), d, "down"))
        a2 = float(round_price(a1 * (1 + 1e-4), d, "up"))
        eng.markets[name] = ScriptedMarket(price, [(b1, 1.0), (b2, 2.0)], [(a1, 1.0), (a2, 2.0)])
    return eng


def bid(cloid, px, sz):
    return NewOrder(cloid=cloid, side="B", px=px, sz=sz)


def ask(cloid, px, sz):
    return NewOrder(cloid=cloid, side="A", px=px, sz=sz)


def sol_bids(n, start=0, px=149.0):
    return [bid(f"s{start + i}", px, 0.1) for i in range(n)]


# -- tick, lot, notional, post-only -------------------------------------------------------
@pytest.mark.parametrize("asset, px, sz, reason", [
    ("BTC", 94000.5, 0.001, "Price must be divisible by tick size. asset=0"),  # > 10k: integers only
    ("BTC", 94001.0, 0.000001, "Order has invalid size."),  # 5 size decimals
    ("BTC", 94001.0, 0.0001, "Order must have minimum value of $10."),
    ("ETH", 3400.05, 0.01, "Price must be divisible by tick size. asset=1"),  # 5 significant figures
    ("ETH", 3400.1, 0.00001, "Order has invalid size."),
    ("SOL", 179.123, 1.0, "Price must be divisible by tick size. asset=2"),
    ("SOL", 179.12, 0.05, "Order must have minimum value of $10."),
    ("XRP", 2.20001, 10.0, "Price must be divisible by tick size. asset=3"),
    ("XRP", 2.2, 4.0, "Order must have minimum value of $10."),  # $8.80
    ("XRP", 2.2, 5.5, "Order has invalid size."),  # whole units
])
def test_tick_lot_and_notional(cfg, asset, px, sz, reason):
    eng = scripted(cfg)
    [r] = eng.place(asset, [bid("x", px, sz)], 1.0)
    assert isinstance(r, OrderReject) and r.reason == reason and (r.asset, r.cloid, r.ts) == (asset, "x", 1.0)
    assert eng.open_orders(asset) == ()


def test_valid_orders_on_each_asset_rest(cfg):
    eng = scripted(cfg)
    for asset in cfg.portfolio.assets:
        price = cfg.assets[asset].market.price
        d = eng.sz_decimals(asset)
        px = float(round_price(price * 0.999, d, "down"))
        sz = float(round_size(20.0 / px, d, "up"))
        [a] = eng.place(asset, [bid("ok", px, sz)], 1.0)
        assert isinstance(a, OrderAck), (asset, px, sz, a)


def test_post_only_rejects_carry_the_bbo_of_the_combined_book(cfg):
    eng = scripted(cfg)
    bids, asks = eng.markets["SOL"].book(1)
    b1, a1 = bids[0].px, asks[0].px  # 179.99 / 180.01
    [r] = eng.place("SOL", [bid("x", a1, 1.0)], 1.0)
    assert r.reason == f"Post only order would have immediately matched, bbo was {b1:g}@{a1:g}. asset=2"
    [r] = eng.place("SOL", [ask("y", b1, 1.0)], 1.0)
    assert r.reason.startswith("Post only order would have immediately matched")
    [ok] = eng.place("SOL", [bid("in", 180.0, 1.0)], 1.0)  # inside the spread: fine
    assert isinstance(ok, OrderAck)
    [r] = eng.place("SOL", [ask("z", 180.0, 1.0)], 1.0)  # ... and now it is our own best bid
    assert r.reason == f"Post only order would have immediately matched, bbo was 180@{a1:g}. asset=2"


# -- the open-order cap --------------------------------------------------------------------
def test_open_order_cap_is_per_account(cfg):
    eng = scripted(cfg, open_order_cap=3)
    answers = eng.place("SOL", sol_bids(2) + [bid("third", 148.0, 0.1)], 1.0)
    assert all(isinstance(a, OrderAck) for a in answers)
    [r] = eng.place("ETH", [bid("e", 3000.0, 0.01)], 1.0)  # another asset, same account
    assert isinstance(r, OrderReject) and r.reason == "Too many open orders: the account is at its limit of 3. asset=1"
    assert eng.open_orders("ETH") == () and eng.open_order_count() == 3
    # within one batch: the first order that would exceed it is refused, later ones too
    eng.cancel("SOL", ["s0", "s1"], 2.0)
    answers = eng.place("ETH", [bid("e1", 3000.0, 0.01), bid("e2", 3000.0, 0.01), bid("e3", 3000.0, 0.01)], 3.0)
    assert [type(a) for a in answers] == [OrderAck, OrderAck, OrderReject]
    assert answers[2].reason.startswith("Too many open orders")
    # a fill frees a slot
    eng.markets["ETH"].takers.append(TakerOrder("A", 2000.0, 1.0))  # sells through 3000
    fills = [e for e in eng.advance(4.0) if isinstance(e, Fill)]
    assert {f.cloid for f in fills} == {"e1", "e2"}
    assert isinstance(eng.place("ETH", [bid("e4", 3000.0, 0.01)], 5.0)[0], OrderAck)


# -- the address action budget -------------------------------------------------------------
def test_address_budget_counts_orders_and_refuses_whole_batches_with_hyperliquids_text(cfg):
    eng = scripted(cfg, address_budget_initial=10)
    assert eng.rate_limit_status() == {"cumVlm": 0.0, "nRequestsUsed": 0, "nRequestsCap": 10}
    answers = eng.place("SOL", sol_bids(4), 1.0)  # a batch of 4 spends 4
    assert all(isinstance(a, OrderAck) for a in answers)
    [r] = eng.place("SOL", [bid("bad", 149.005, 1.0)], 1.0)  # rejected orders still spend
    assert r.reason.startswith("Price must be divisible")
    assert eng.rate_limit_status()["nRequestsUsed"] == 5
    answers = eng.place("SOL", sol_bids(6, start=10), 1.5)
    text = BUDGET_TEXT.format(used=11, cap=10, vlm="0.00")
    assert [(type(a), a.reason) for a in answers] == [(OrderReject, text)] * 6  # nothing of it applied
    assert len(eng.open_orders("SOL")) == 4 and eng.rate_limit_status()["nRequestsUsed"] == 5
    assert all(isinstance(a, OrderAck) for a in eng.place("SOL", sol_bids(5, start=20), 2.0))  # exactly to the cap
    [r] = eng.place("SOL", [bid("one", 149.0, 0.1)], 2.5)
    assert r.reason == BUDGET_TEXT.format(used=11, cap=10, vlm="0.00")


def test_address_budget_cancels_have_the_higher_cap_and_the_throttled_address_one_per_10s(cfg):
    eng = scripted(cfg, address_budget_initial=10)
    eng.place("SOL", sol_bids(10), 1.0)  # used = cap = 10
    [r] = eng.place("SOL", [bid("x", 149.0, 0.1)], 1.0)
    assert isinstance(r, OrderReject) and r.reason.startswith("Too many cumulative requests sent (11 > 10)")
    # cancels may go to min(10 + 100000, 2 * 10) = 20
    out = eng.cancel("SOL", [f"s{i}" for i in range(6)], 2.0)
    assert all(isinstance(o, OrderCancelled) for o in out)
    out = eng.cancel("SOL", ["s6", "s7", "s8", "s9", "nope"], 3.0)
    text = BUDGET_TEXT.format(used=21, cap=20, vlm="0.00")
    assert [(type(o), o.reason) for o in out] == [(OrderReject, text)] * 5
    assert len(eng.open_orders("SOL")) == 4
    out = eng.cancel("SOL", ["s6", "s7", "s8", "s9"], 3.0)  # 16 + 4 = 20: fits
    assert all(isinstance(o, OrderCancelled) for o in out) and eng.rate_limit_status()["nRequestsUsed"] == 20
    # beyond both caps: one request every 10 s (counted), nothing in between
    assert eng.place("SOL", [bid("t0", 149.0, 0.1)], 12.9)[0].reason.startswith("Too many cumulative")
    assert isinstance(eng.place("SOL", [bid("t1", 149.0, 0.1)], 13.0)[0], OrderAck)  # 10 s after the last
    [r] = eng.place("SOL", [bid("t2", 149.0, 0.1)], 20.0)
    assert r.reason == BUDGET_TEXT.format(used=22, cap=10, vlm="0.00")
    assert isinstance(eng.place("SOL", [bid("t3", 149.0, 0.1)], 23.0)[0], OrderAck)
    assert eng.rate_limit_status()["nRequestsUsed"] == 22


def test_cancel_cap_is_limit_plus_100000_for_a_large_limit(cfg):
    eng = scripted(cfg, address_budget_initial=150_000)  # min(250000, 300000) = 250000
    eng.place("SOL", [bid("a", 149.0, 0.1)], 1.0)
    out = eng.cancel("SOL", ["missing"] * 249_999, 1.0)
    assert len(out) == 249_999 and out[0].reason == "Order was never placed, already canceled, or filled."
    [r] = eng.cancel("SOL", ["a"], 1.0)
    assert r.reason == BUDGET_TEXT.format(used=250_001, cap=250_000, vlm="0.00")
    [r] = eng.place("SOL", [bid("b", 149.0, 0.1)], 1.0)
    assert r.reason == BUDGET_TEXT.format(used=250_001, cap=150_000, vlm="0.00")


def test_traded_volume_earns_requests(cfg):
    eng = scripted(cfg, address_budget_initial=10)
    eng.place("SOL", [bid("b", 179.0, 1.0)] + sol_bids(9, px=170.0), 1.0)  # the cap reached
    eng.markets["SOL"].takers.append(TakerOrder("A", 100.0, 1.0))  # sells through 179 and 170
    fills = [e for e in eng.advance(2.0) if isinstance(e, Fill)]
    vlm = sum(f.px * f.sz for f in fills)
    assert fills and 179.0 <= vlm
    st = eng.rate_limit_status()
    assert st == {"cumVlm": pytest.approx(vlm), "nRequestsUsed": 10, "nRequestsCap": 10 + math.floor(vlm)}
    assert all(isinstance(a, OrderAck) for a in eng.place("SOL", sol_bids(20, start=50), 3.0))


# -- IP weight -----------------------------------------------------------------------------
def test_ip_weight_per_request_and_per_minute(cfg):
    eng = scripted(cfg)
    assert (exchange_weight(1), exchange_weight(39), exchange_weight(40), exchange_weight(79)) == (1, 1, 2, 2)
    assert (info_weight("l2Book"), info_weight("clearinghouseState"), info_weight("openOrders"),
            info_weight("userRole"), info_weight("userFills", 45), info_weight("candleSnapshot", 130)) == (
        2, 2, 20, 60, 22, 22)
    assert eng.ip_weight_limit == cfg.sim.ip_weight_per_minute == 1200
    eng.place("SOL", sol_bids(79), 0.0)  # 2
    eng.cancel("SOL", ["s0"], 1.0)  # 1
    eng.open_orders("SOL")  # peeks are free
    eng.position("SOL")
    eng.fills("SOL")
    eng.rate_limit_status()
    assert eng.ip_weight_used(1.0) == 3
    eng.open_orders("SOL", ts=2.0)  # 20
    eng.position("SOL", ts=2.0)  # 2
    eng.fills("SOL", 0.0, ts=2.0)  # 20 (no fills)
    eng.rate_limit_status(ts=2.0)  # 20
    eng.charge_ip_weight(2.0, info_weight("l2Book"))  # what the venue service serves itself
    assert eng.ip_weight_used(2.0) == 3 + 64
    eng.cancel_all("SOL", 30.0)  # 78 orders: 2
    assert eng.ip_weight_used(30.0) == 69
    assert eng.ip_weight_used(2.0) == 67 and eng.ip_weight_used(0.5) == 2  # looking back
    assert eng.ip_weight_used(60.0) == 67  # the place at 0.0 left the window (60 s back, exclusive)
    assert eng.ip_weight_used(61.5) == 66
    assert eng.ip_weight_used(89.9) == 2
    assert eng.ip_weight_used(90.0) == 0


# -- scheduleCancel ------------------------------------------------------------------------
def test_schedule_cancel_needs_5s_and_fires_across_every_asset(cfg):
    eng = scripted(cfg)
    eng.place("SOL", sol_bids(2), 10.0)
    eng.place("ETH", [bid("e", 3000.0, 0.01)], 10.0)
    assert eng.schedule_cancel(10.0, 14.99) == "Scheduled cancel time must be at least 5 seconds in the future."
    assert eng.schedule_cancel_state() == (None, 0)
    assert eng.schedule_cancel(10.0, 15.0) is None
    assert eng.schedule_cancel_state() == (15.0, 0)
    assert not [e for e in eng.advance(14.9) if isinstance(e, OrderCancelled)]
    ev = eng.advance(15.1)
    cancels = [e for e in ev if isinstance(e, OrderCancelled)]
    assert sorted((e.asset, e.cloid) for e in cancels) == [("ETH", "e"), ("SOL", "s0"), ("SOL", "s1")]
    assert {(e.reason, e.ts) for e in cancels} == {("scheduledCancel", 15.0)}
    assert eng.open_order_count() == 0 and eng.schedule_cancel_state() == (None, 1)
    assert eng.advance(30.0) == []  # fired once


def test_schedule_cancel_can_be_moved_and_cleared(cfg):
    eng = scripted(cfg)
    eng.place("SOL", sol_bids(1), 0.0)
    assert eng.schedule_cancel(0.0, 10.0) is None
    assert eng.schedule_cancel(5.0, 20.0) is None  # refreshed, like a dead-man's switch
    assert eng.advance(15.0) == []
    assert eng.schedule_cancel(16.0, None) is None
    assert eng.schedule_cancel_state() == (None, 0)
    assert eng.advance(40.0) == [] and len(eng.open_orders("SOL")) == 1
    assert eng.rate_limit_status()["nRequestsUsed"] == 1 + 3  # each is an action


def test_schedule_cancel_10_triggers_per_utc_day_then_the_day_resets(cfg):
    eng = scripted(cfg)
    day = 86_400.0
    t = 3 * day + 100.0  # the 4th simulated day
    for i in range(10):
        assert eng.schedule_cancel(t, t + 5.0) is None
        fired = eng.advance(t + 5.0)
        assert fired == [] and eng.schedule_cancel_state() == (None, i + 1)  # counted with no orders open
        t += 10.0
    assert eng.schedule_cancel(t, t + 60.0) == "Too many scheduled cancel triggers today: 10 of 10 used."
    assert eng.schedule_cancel(t, None) is None  # clearing is always allowed
    assert eng.schedule_cancel_state() == (None, 10)
    eng.place("SOL", sol_bids(1), 4 * day - 10.0)
    assert eng.schedule_cancel(4 * day - 10.0, 4 * day + 1.0) is not None  # still the 4th day
    eng.advance(4 * day)  # 00:00 UTC
    assert eng.schedule_cancel_state() == (None, 0)
    assert eng.schedule_cancel(4 * day, 4 * day + 5.0) is None
    [e] = eng.advance(4 * day + 6.0)
    assert isinstance(e, OrderCancelled) and e.reason == "scheduledCancel" and e.ts == 4 * day + 5.0
    assert eng.schedule_cancel_state() == (None, 1)


def test_schedule_cancel_fires_before_the_takers_of_that_advance(cfg):
    eng = scripted(cfg)
    eng.place("SOL", [bid("b", 179.99, 1.0)], 0.0)
    eng.schedule_cancel(0.0, 5.0)
    eng.markets["SOL"].takers.append(TakerOrder("A", 50.0, 5.0))
    ev = eng.advance(5.5)
    assert [type(e) for e in ev] == [OrderCancelled, Trade]
    assert eng.position("SOL") == 0.0


# -- funding -------------------------------------------------------------------------------
def fill_sol(eng, side, sz, ts):
    """Give SOL a position of ``sz`` (side 'B' long) via a resting order and a taker."""
    px = 179.0 if side == "B" else 181.0
    [a] = eng.place("SOL", [NewOrder(cloid=f"f{ts}", side=side, px=px, sz=sz)], ts)
    assert isinstance(a, OrderAck)
    eng.markets["SOL"].takers.append(TakerOrder("A" if side == "B" else "B", 100.0, sz))
    return [e for e in eng.advance(ts + 0.1) if isinstance(e, Fill)]


def test_funding_every_interval_on_positions_only(cfg):
    eng = scripted(cfg, funding_interval_s=3600.0)
    rate = cfg.assets["SOL"].market.funding_rate
    assert rate > 0
    fill_sol(eng, "B", 2.0, 10.0)
    cash0 = eng.cash("SOL")
    assert eng.advance(3599.9) == []
    ev = eng.advance(3600.0)
    [f] = ev
    mid = eng.mid("SOL")
    assert isinstance(f, Funding) and (f.asset, f.ts, f.rate, f.position) == ("SOL", 3600.0, rate, 2.0)
    assert f.usd == pytest.approx(-2.0 * mid * rate) and f.usd < 0  # longs pay a positive rate
    assert eng.cash("SOL") == pytest.approx(cash0 + f.usd) and eng.funding("SOL") == f.usd
    assert eng.pnl("SOL") == pytest.approx(eng.cash("SOL") + 2.0 * mid)
    assert eng.funding("BTC") == 0.0
    # several intervals in one advance: one payment each, in time order
    ev = eng.advance(3 * 3600.0 + 1.0)
    assert [(e.ts, e.asset) for e in ev] == [(7200.0, "SOL"), (10800.0, "SOL")]
    assert eng.funding("SOL") == pytest.approx(3 * f.usd)


def test_funding_uses_the_markets_rate_and_shorts_receive(cfg):
    eng = scripted(cfg, funding_interval_s=60.0)
    fill_sol(eng, "A", 1.5, 1.0)
    eng.markets["SOL"].funding_rate = 0.0004  # a market that knows its current rate
    [f] = eng.advance(60.0)
    assert f.rate == 0.0004 and f.position == -1.5
    assert f.usd == pytest.approx(1.5 * eng.mid("SOL") * 0.0004 * 60 / 3600) and f.usd > 0


def test_funding_comes_before_the_fills_of_its_advance(cfg):
    eng = scripted(cfg, funding_interval_s=60.0)
    fill_sol(eng, "B", 1.0, 1.0)
    eng.place("SOL", [bid("more", 179.0, 1.0)], 50.0)
    eng.markets["SOL"].takers.append(TakerOrder("A", 100.0, 1.0))
    ev = [e for e in eng.advance(60.0) if e.asset == "SOL"]
    assert [type(e) for e in ev] == [Funding, Trade, Fill]
    assert ev[0].position == 1.0  # the position as it was when funding was due


def test_funding_on_live_markets_is_accounted(cfg):
    eng = SimExchange(with_sim(cfg, funding_interval_s=5.0), seed=4)
    events = []
    for i in range(1, 601):
        ts = i / 10
        events += eng.advance(ts)
        if i % 10 == 0:
            for asset in cfg.portfolio.assets:
                eng.cancel_all(asset, ts)
                bids, asks = eng.markets[asset].book(1)
                d = eng.sz_decimals(asset)
                sz = float(round_size(100.0 / eng.mid(asset), d, "up"))
                eng.place(asset, [bid(f"b{i}", bids[0].px, sz), ask(f"a{i}", asks[0].px, sz)], ts)
    funding = [e for e in events if isinstance(e, Funding)]
    assert len({e.asset for e in funding}) >= 3
    for asset in cfg.portfolio.assets:
        mine = [e for e in funding if e.asset == asset]
        assert all(e.ts % 5.0 == 0 and e.position != 0 for e in mine)
        assert sum(e.usd for e in mine) == pytest.approx(eng.funding(asset), abs=1e-12)
        fills = eng.fills(asset)
        flows = sum((-1 if f.side == "B" else 1) * f.px * f.sz - f.fee for f in fills)
        assert eng.cash(asset) == pytest.approx(flows + eng.funding(asset), rel=1e-12, abs=1e-9)
        assert eng.pnl(asset) == pytest.approx(eng.cash(asset) + eng.position(asset) * eng.mid(asset))


# -- determinism ---------------------------------------------------------------------------
def busy_run(cfg, seed, seconds):
    """Quote, cancel, schedule cancels and split fills on every asset; every event and answer."""
    eng = SimExchange(with_sim(cfg, funding_interval_s=20.0, queue_model="power3"), seed=seed)
    eng.faults.partial_fills("ETH", 0.25)
    rnd = random.Random(seed)
    out = []
    step = cfg.sim.step_s
    n = 0
    for i in range(1, int(round(seconds / step)) + 1):
        ts = i * step
        out += eng.advance(ts)
        if i % 5:
            continue
        if i % 150 == 0:
            out.append(eng.schedule_cancel(ts, ts + 6.0))
        for asset in cfg.portfolio.assets:
            d = eng.sz_decimals(asset)
            mid = eng.mid(asset)
            live = [o.cloid for o in eng.open_orders(asset)]
            if live and rnd.random() < 0.5:
                out += eng.cancel(asset, rnd.sample(live, k=min(len(live), 2)), ts)
            orders = []
            for side, sign in (("B", -1), ("A", 1)):
                dist = rnd.uniform(0.0, 5.0)
                px = float(round_price(mid * (1 + sign * dist / 1e4), d, "down" if side == "B" else "up"))
                sz = float(max(round_size(rnd.uniform(20, 300) / mid, d), round_size(12 / mid, d, "up")))
                n += 1
                orders.append(NewOrder(cloid=f"{asset}-{n}", side=side, px=px, sz=sz))
            out += eng.place(asset, orders, ts)
    out.append(eng.rate_limit_status())
    out.append([(a, eng.position(a), eng.cash(a), eng.funding(a)) for a in cfg.portfolio.assets])
    return out


def test_same_seed_and_config_identical_events_bit_for_bit(cfg):
    a, b, other = busy_run(cfg, 11, 240.0), busy_run(cfg, 11, 240.0), busy_run(cfg, 12, 240.0)
    assert msgspec.msgpack.encode(a) == msgspec.msgpack.encode(b)  # bit for bit, floats included
    assert a == b and a != other
    kinds = {type(e) for e in a}
    assert {Trade, Fill, Funding, OrderAck, OrderCancelled} <= kinds
    assert any(isinstance(e, OrderCancelled) and e.reason == "scheduledCancel" for e in a)
    eth = [e for e in a if isinstance(e, Fill) and e.asset == "ETH"]
    assert eth and any(f.remaining > 0 for f in eth)
