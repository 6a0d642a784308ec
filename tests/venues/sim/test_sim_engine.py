"""The simulated exchange's matching engine: queues, price-time priority, Hyperliquid's
rejections, cancels, fees, determinism and the accounting identity."""
import math
import pathlib
import random

import pytest

import config as c
from messages.market import BookSnapshot, Level, Trade
from messages.orders import Fill, NewOrder, OpenOrder, OrderAck, OrderCancelled, OrderReject
from exchange_rules.ticks import round_price, round_size
from venues.sim.engine import SimExchange
from venues.sim.market import TakerOrder
from tests.sim_helpers import scripted_sol
from tests.sim_helpers import formula_market

ROOT = pathlib.Path(__file__).resolve().parents[3]
SOL = 2  # index of SOL in the default portfolio
TICK = 0.01  # SOL's tick around 150 (5 significant figures)


@pytest.fixture(scope="module")
def cfg():
    return formula_market(c.load(ROOT / "config.toml"))




def reach_to(mid, px, side):
    """The reach (bp) of a taker whose print lands exactly on ``px``."""
    if side == "A":  # sell prints round down: aim half a tick above
        return (1 - (px + TICK / 2) / mid) * 1e4
    return ((px - TICK / 2) / mid - 1) * 1e4


@pytest.fixture
def sol(cfg):
    return scripted_sol(cfg)


def take(eng, m, side, px, sz, ts=1.0):
    m.takers.append(TakerOrder(side, reach_to(m.mid, px, side), sz))
    return [e for e in eng.advance(ts) if e.asset == "SOL"]  # the other markets run on


def fills(events):
    return [e for e in events if isinstance(e, Fill)]


def bid(cloid, px, sz):
    return NewOrder(cloid=cloid, side="B", px=px, sz=sz)


def ask(cloid, px, sz):
    return NewOrder(cloid=cloid, side="A", px=px, sz=sz)


# -- queue position and priority ---------------------------------------------------------
def test_order_behind_displayed_size_fills_only_after_that_size_traded(sol, cfg):
    eng, m = sol
    [ack] = eng.place("SOL", [bid("b1", 149.99, 1.0)], 0.0)
    assert isinstance(ack, OrderAck) and eng.queue_ahead("SOL", "b1") == 3.0
    ev = take(eng, m, "A", 149.99, 2.0)
    [trade] = ev
    assert isinstance(trade, Trade) and trade.px == 149.99 and trade.sz == 2.0 and trade.side == "A"
    assert eng.queue_ahead("SOL", "b1") == 1.0
    assert fills(take(eng, m, "A", 149.99, 1.0)) == []  # 3 units have now traded ahead
    [f] = fills(take(eng, m, "A", 149.99, 0.4, ts=2.0))
    assert (f.cloid, f.oid, f.side, f.px, f.sz, f.remaining, f.ts) == ("b1", ack.oid, "B", 149.99, 0.4, 0.6, 2.0)
    assert f.fee == pytest.approx(149.99 * 0.4 * cfg.sim.maker_fee)
    [f2] = fills(take(eng, m, "A", 149.99, 5.0, ts=3.0))  # larger than what is left
    assert f2.sz == 0.6 and f2.remaining == 0.0
    assert eng.open_orders("SOL") == ()
    assert eng.position("SOL") == 1.0


def test_one_print_consumes_the_queue_then_fills(sol):
    eng, m = sol
    eng.place("SOL", [bid("b1", 149.99, 1.0)], 0.0)
    [f] = fills(take(eng, m, "A", 149.99, 3.25))
    assert f.sz == 0.25 and f.remaining == 0.75 and eng.queue_ahead("SOL", "b1") == 0.0


def test_a_print_strictly_through_fills_at_once_at_our_price(sol):
    eng, m = sol
    eng.place("SOL", [bid("b1", 149.99, 1.0), ask("a1", 150.01, 1.0)], 0.0)
    assert eng.queue_ahead("SOL", "b1") == 3.0
    ev = take(eng, m, "A", 149.97, 0.4)
    assert isinstance(ev[0], Trade) and ev[0].px == 149.97
    [f] = fills(ev)
    assert (f.cloid, f.px, f.sz, f.remaining) == ("b1", 149.99, 0.4, 0.6)
    # the level traded through: no queue left in front of the rest
    assert eng.queue_ahead("SOL", "b1") == 0.0
    [f] = fills(take(eng, m, "A", 149.99, 0.1))
    assert f.sz == 0.1
    # and a buyer lifting through our ask
    [f] = fills(take(eng, m, "B", 150.03, 2.0))
    assert (f.cloid, f.side, f.px, f.sz, f.remaining) == ("a1", "A", 150.01, 1.0, 0.0)
    assert eng.position("SOL") == pytest.approx(0.5 - 1.0)


def test_price_time_priority_between_our_orders(sol):
    eng, m = sol
    # inside the background spread: nothing displayed there, no queue
    acks = eng.place("SOL", [bid("first", 150.0, 1.0), bid("second", 150.0, 1.0)], 0.0)
    assert [a.oid for a in acks] == sorted(a.oid for a in acks)
    assert eng.queue_ahead("SOL", "first") == eng.queue_ahead("SOL", "second") == 0.0
    got = fills(take(eng, m, "A", 150.0, 1.5))
    assert [(f.cloid, f.sz, f.remaining) for f in got] == [("first", 1.0, 0.0), ("second", 0.5, 0.5)]
    # a better price comes first whatever its time
    eng.place("SOL", [bid("late_better", 150.0, 0.3)], 0.5)  # behind 'second' in time ...
    eng.place("SOL", [bid("low", 149.99, 1.0)], 0.6)
    got = fills(take(eng, m, "A", 149.99, 1.0))
    # ... 'second' (older) then 'late_better' fill at 150.00, then 0.2 eats low's queue
    assert [(f.cloid, f.sz) for f in got] == [("second", 0.5), ("late_better", 0.3)]
    assert eng.queue_ahead("SOL", "low") == pytest.approx(2.8)


def test_orders_at_one_price_share_the_background_queue(sol):
    eng, m = sol
    eng.place("SOL", [bid("o1", 149.99, 1.0)], 0.0)
    eng.place("SOL", [bid("o2", 149.99, 1.0)], 0.1)
    assert eng.queue_ahead("SOL", "o2") == 3.0
    # 3 units of background, then o1, then o2 (nothing new was displayed between them)
    got = fills(take(eng, m, "A", 149.99, 5.0))
    assert [(f.cloid, f.sz) for f in got] == [("o1", 1.0), ("o2", 1.0)]


def test_a_buyer_never_touches_our_bids_and_a_print_short_of_our_ask_leaves_it(sol):
    eng, m = sol
    eng.place("SOL", [bid("b", 150.0, 1.0), ask("a", 150.02, 1.0)], 0.0)
    assert fills(take(eng, m, "B", 150.01, 10.0)) == []
    assert fills(take(eng, m, "A", 150.01, 10.0)) == []  # a sell print above our bid
    assert len(eng.open_orders("SOL")) == 2


def test_the_mid_moving_through_a_resting_order_fills_all_of_it(sol):
    eng, m = sol
    eng.place("SOL", [bid("b", 149.99, 1.0), bid("deep", 149.95, 1.0), ask("a", 150.05, 1.0)], 0.0)
    m.mid = 149.9
    m.bids = (Level(149.89, 3.0),)
    m.asks = (Level(149.91, 3.0), Level(149.99, 5.0))
    ev = [e for e in eng.advance(1.0) if e.asset == "SOL"]
    assert [type(e) for e in ev] == [Trade, Fill, Trade, Fill]
    assert [(e.px, e.side) for e in ev if isinstance(e, Trade)] == [(149.99, "A"), (149.95, "A")]
    assert [(f.cloid, f.px, f.sz, f.remaining) for f in fills(ev)] == [
        ("b", 149.99, 1.0, 0.0), ("deep", 149.95, 1.0, 0.0)]
    assert [o.cloid for o in eng.open_orders("SOL")] == ["a"]
    assert eng.position("SOL") == 2.0
    m.mid, m.bids, m.asks = 150.1, (Level(150.05, 1.0),), (Level(150.11, 1.0),)
    [tr, f] = [e for e in eng.advance(2.0) if e.asset == "SOL"]
    assert (tr.side, tr.px, f.cloid, f.px, f.sz) == ("B", 150.05, "a", 150.05, 1.0)
    assert eng.position("SOL") == 1.0


# -- rejections ------------------------------------------------------------------------
def test_post_only_that_would_cross_is_rejected_with_the_bbo_and_changes_nothing(sol):
    eng, m = sol
    [r] = eng.place("SOL", [bid("x", 150.01, 1.0)], 0.0)
    assert isinstance(r, OrderReject) and r.cloid == "x"
    assert r.reason == "Post only order would have immediately matched, bbo was 149.99@150.01. asset=2"
    assert eng.open_orders("SOL") == ()
    # the combined book: our own bid at 150 makes an ask at 150 cross
    [ack] = eng.place("SOL", [bid("b", 150.0, 1.0)], 0.0)
    before = (eng.open_orders("SOL"), eng.position("SOL"), eng.cash("SOL"),
              eng.book_snapshot("SOL", 0.0, 1))
    [r] = eng.place("SOL", [ask("a", 150.0, 1.0)], 0.0)
    assert r.reason == "Post only order would have immediately matched, bbo was 150@150.01. asset=2"
    assert (eng.open_orders("SOL"), eng.position("SOL"), eng.cash("SOL"),
            eng.book_snapshot("SOL", 0.0, 1)) == before
    [r] = eng.place("SOL", [ask("a2", 149.99, 1.0)], 0.0)
    assert r.reason.startswith("Post only order would have immediately matched")
    [ok] = eng.place("SOL", [ask("a3", 150.01, 1.0)], 0.0)  # joining the best ask is fine
    assert isinstance(ok, OrderAck) and ok.oid > ack.oid


def test_post_only_against_the_live_background_book(cfg):
    eng = SimExchange(cfg)
    eng.advance(1.0)
    snap = eng.book_snapshot("BTC", 1.0, 1)
    best_bid, best_ask = snap.bids[0].px, snap.asks[0].px
    [r] = eng.place("BTC", [bid("x", best_ask, 0.001)], 1.0)
    assert r.reason == f"Post only order would have immediately matched, bbo was {best_bid:g}@{best_ask:g}. asset=0"
    [ok] = eng.place("BTC", [bid("y", best_bid, 0.001)], 1.0)
    assert isinstance(ok, OrderAck) and eng.queue_ahead("BTC", "y") == snap.bids[0].sz


@pytest.mark.parametrize("px, sz, reason", [
    (150.005, 1.0, "Price must be divisible by tick size. asset=2"),
    (0.0, 1.0, "Price must be divisible by tick size. asset=2"),
    (-150.0, 1.0, "Price must be divisible by tick size. asset=2"),
    (math.nan, 1.0, "Price must be divisible by tick size. asset=2"),
    (150.0, 1.005, "Order has invalid size."),
    (150.0, 0.0, "Order has invalid size."),
    (150.0, -1.0, "Order has invalid size."),
    (150.0, math.inf, "Order has invalid size."),
    (150.0, 0.06, "Order must have minimum value of $10."),
])
def test_tick_size_and_notional_rejections(sol, px, sz, reason):
    eng, m = sol
    [r] = eng.place("SOL", [bid("x", px, sz)], 0.0)
    assert isinstance(r, OrderReject) and r.reason == reason and r.cloid == "x" and r.ts == 0.0
    assert eng.open_orders("SOL") == ()


def test_duplicate_open_cloid_is_rejected_but_may_be_reused_once_closed(sol):
    eng, m = sol
    answers = eng.place("SOL", [bid("x", 149.9, 1.0), bid("x", 149.8, 1.0), bid("y", 149.7, 1.0)], 0.0)
    assert [type(a) for a in answers] == [OrderAck, OrderReject, OrderAck]
    assert answers[1].reason == "Duplicate cloid."
    assert [(o.cloid, o.px) for o in eng.open_orders("SOL")] == [("x", 149.9), ("y", 149.7)]
    eng.cancel("SOL", ["x"], 0.1)
    [again] = eng.place("SOL", [bid("x", 149.8, 1.0)], 0.2)
    assert isinstance(again, OrderAck) and again.oid > answers[2].oid


def test_tick_rules_follow_the_asset(cfg):
    eng = SimExchange(cfg)
    [r] = eng.place("BTC", [bid("x", 94000.5, 0.001)], 0.0)  # BTC above 10k: integer prices
    assert r.reason == "Price must be divisible by tick size. asset=0"
    [r] = eng.place("XRP", [bid("x", 2.2, 5.5)], 0.0)  # XRP: whole units
    assert r.reason == "Order has invalid size."
    # a price off by float noise is what the wire (8 decimals) sends: accepted
    [ok] = eng.place("ETH", [bid("y", 3400.1 + 1e-13, 0.01)], 0.0)
    assert isinstance(ok, OrderAck) and eng.open_orders("ETH")[0].px == 3400.1


# -- cancels ---------------------------------------------------------------------------
def test_cancel_and_cancel_all(sol):
    eng, m = sol
    eng.place("SOL", [bid("a", 149.9, 1.0), bid("b", 149.8, 1.0), ask("c", 150.2, 1.0), ask("d", 150.3, 1.0)], 0.0)
    out = eng.cancel("SOL", ["a", "nope", "a"], 1.0)
    assert out[0] == OrderCancelled(asset="SOL", cloid="a", ts=1.0, reason="cancel")
    missing = "Order was never placed, already canceled, or filled."
    assert [(type(o), getattr(o, "reason", None)) for o in out[1:]] == [(OrderReject, missing)] * 2
    # a filled order cannot be cancelled either
    fills(take(eng, m, "B", 150.25, 1.0))
    [r] = eng.cancel("SOL", ["c"], 2.0)
    assert isinstance(r, OrderReject) and r.reason == missing
    out = eng.cancel_all("SOL", 3.0)
    assert out == [OrderCancelled(asset="SOL", cloid="b", ts=3.0, reason="cancel_all"),
                   OrderCancelled(asset="SOL", cloid="d", ts=3.0, reason="cancel_all")]
    assert eng.open_orders("SOL") == () and eng.cancel_all("SOL", 4.0) == []
    assert fills(take(eng, m, "A", 149.5, 50.0)) == []


def test_cancel_does_not_touch_other_assets(sol):
    eng, m = sol
    eng.place("SOL", [bid("s", 149.9, 1.0)], 0.0)
    eng.place("ETH", [bid("e", 3000.0, 0.01)], 0.0)
    eng.cancel_all("SOL", 1.0)
    assert [o.cloid for o in eng.open_orders("ETH")] == ["e"]
    [r] = eng.cancel("ETH", ["s"], 1.0)
    assert isinstance(r, OrderReject)


# -- queries, fees and accounting ------------------------------------------------------
def test_fees_cash_position_and_queries(sol, cfg):
    eng, m = sol
    eng.place("SOL", [bid("b", 150.0, 2.0), ask("a", 150.01, 1.0)], 0.0)
    [o1, o2] = eng.open_orders("SOL")
    assert o1 == OpenOrder(asset="SOL", cloid="b", oid=o1.oid, side="B", px=150.0, sz=2.0, ts=0.0)
    [fb] = fills(take(eng, m, "A", 150.0, 2.0, ts=1.0))
    [fa] = fills(take(eng, m, "B", 150.01, 4.0, ts=2.0))  # 3 units of queue, then 1
    fee = cfg.sim.maker_fee
    assert fb.fee == pytest.approx(150.0 * 2 * fee) and fa.fee == pytest.approx(150.01 * fee)
    assert fb.fee > 0 and fa.tid > fb.tid
    assert eng.position("SOL") == 1.0
    assert eng.cash("SOL") == pytest.approx(-300.0 - fb.fee + 150.01 - fa.fee)
    assert eng.pnl("SOL") == pytest.approx(eng.cash("SOL") + 150.0)
    assert eng.mid("SOL") == 150.0
    assert eng.fills("SOL") == (fb, fa) and eng.fills("SOL", since_ts=1.5) == (fa,)
    assert eng.fills("BTC") == () and eng.position("BTC") == 0.0 and eng.cash("BTC") == 0.0
    assert eng.asset_index("SOL") == SOL and eng.sz_decimals("SOL") == 2 and eng.sz_decimals("BTC") == 5
    with pytest.raises(KeyError):
        eng.position("DOGE")


def test_old_fills_are_forgotten_but_the_run_totals_keep_every_one(sol, monkeypatch):
    """A run of weeks keeps flat memory: the venue serves recent fills only (like
    Hyperliquid), while the count and the identity digest the chaos run checks stay whole."""
    from strategy.risk import fill_identity
    import venues.sim.engine as engine_mod

    monkeypatch.setattr(engine_mod, "FILL_HISTORY_S", 10.0)
    eng, m = sol
    got = []
    for i in range(4):  # one fill at t = 1, 11, 21, 31
        eng.place("SOL", [bid(f"b{i}", 150.0, 1.0)], 10.0 * i)
        got += fills(take(eng, m, "A", 150.0, 5.0, ts=10.0 * i + 1.0))
    assert len(got) == 4
    assert eng.fills("SOL") == tuple(got[-2:])  # t = 21 and 31: within 10 s of the latest
    assert eng.fill_count("SOL") == 4 and eng.fill_count("BTC") == 0
    digest = sum(fill_identity(f.tid, f.sz, f.px) for f in got) & ((1 << 64) - 1)
    assert eng.fills_digest("SOL") == digest and eng.fills_digest("BTC") == 0


def test_book_snapshot_adds_our_orders(sol):
    eng, m = sol
    eng.place("SOL", [bid("b1", 149.99, 1.0), bid("b2", 150.0, 0.5), ask("a1", 150.02, 0.25)], 0.0)
    snap = eng.book_snapshot("SOL", 3.5, 42)
    assert isinstance(snap, BookSnapshot) and (snap.asset, snap.ts, snap.seq) == ("SOL", 3.5, 42)
    assert snap.bids == (Level(150.0, 0.5), Level(149.99, 4.0), Level(149.98, 5.0))
    assert snap.asks == (Level(150.01, 3.0), Level(150.02, 5.25))


def test_live_book_snapshot_is_sorted_and_deep(cfg):
    eng = SimExchange(cfg)
    eng.advance(5.0)
    for asset in cfg.portfolio.assets:
        s = eng.book_snapshot(asset, 5.0, 1)
        assert len(s.bids) == len(s.asks) == cfg.sim.book_levels
        assert all(a.px > b.px for a, b in zip(s.bids, s.bids[1:]))
        assert all(a.px < b.px for a, b in zip(s.asks, s.asks[1:]))
        assert s.bids[0].px < eng.mid(asset) < s.asks[0].px


# -- whole runs --------------------------------------------------------------------------
def drive(eng, cfg, seconds, seed=0, assets=None):
    """Quote around the mid every second (with cancels); every event in order."""
    rnd = random.Random(seed)
    assets = assets or cfg.portfolio.assets
    events = []
    step = cfg.sim.step_s
    n = 0
    for i in range(1, int(round(seconds / step)) + 1):
        ts = i * step
        events += eng.advance(ts)
        if i % int(round(1 / step)):
            continue
        for asset in assets:
            d = eng.sz_decimals(asset)
            mid = eng.mid(asset)
            if rnd.random() < 0.3:
                events += eng.cancel_all(asset, ts)
            orders = []
            for side, sign in (("B", -1), ("A", 1)):
                dist = rnd.uniform(0.0, 6.0)
                px = float(round_price(mid * (1 + sign * dist / 1e4), d, "down" if side == "B" else "up"))
                sz = float(max(round_size(rnd.uniform(20, 300) / mid, d), round_size(12 / mid, d, "up")))
                n += 1
                orders.append(NewOrder(cloid=f"{asset}-{n}", side=side, px=px, sz=sz))
            events += eng.place(asset, orders, ts)
    return events


def test_same_seed_same_events_other_seed_other_events(cfg):
    runs = [drive(SimExchange(cfg, seed=s), cfg, 60.0) for s in (7, 7, 8)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    kinds = {type(e) for e in runs[0]}
    assert {Trade, Fill, OrderAck, OrderCancelled} <= kinds
    assert SimExchange(cfg).seed == cfg.run.seed


def test_accounting_identity_over_a_long_run(cfg):
    eng = SimExchange(cfg, seed=123)
    events = drive(eng, cfg, 1_000.0, seed=5, assets=("BTC", "SOL", "XRP"))
    all_fills = [e for e in events if isinstance(e, Fill)]
    tids = [f.tid for f in all_fills]
    assert tids == sorted(set(tids))
    trade_tids = [e.tid for e in events if isinstance(e, Trade)]
    assert len(set(trade_tids + tids)) == len(trade_tids) + len(tids)
    for asset in ("BTC", "SOL", "XRP"):
        fs = [f for f in all_fills if f.asset == asset]
        assert eng.fills(asset) == tuple(fs)
        assert {f.side for f in fs} == {"B", "A"}, asset
        d = eng.sz_decimals(asset)
        pos = round(sum(f.sz if f.side == "B" else -f.sz for f in fs), d)
        assert eng.position(asset) == pos
        assert round(eng.position(asset), d) == eng.position(asset)  # stays on the lot grid
        flows = sum((-1 if f.side == "B" else 1) * f.px * f.sz - f.fee for f in fs)
        assert eng.cash(asset) == pytest.approx(flows, rel=1e-9, abs=1e-6)
        assert eng.pnl(asset) == pytest.approx(flows + pos * eng.mid(asset), rel=1e-9, abs=1e-6)
        for f in fs:
            assert f.fee == pytest.approx(f.px * f.sz * cfg.sim.maker_fee)
            assert f.sz > 0 and f.remaining >= 0
        for o in eng.open_orders(asset):
            assert o.sz > 0
    for asset in ("ETH", "HYPE"):  # never quoted
        assert eng.fills(asset) == () and eng.pnl(asset) == 0.0
