"""The cores refuse what is not a number (defence in depth behind the venue edges).

A NaN fill, mark, funding, position or book level is dropped and counted; positions,
PnL and limits keep working. Hypothesis fuzzes the cores' public methods with every
float there is, NaN and infinities included.
"""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from config import QuotingConfig, RiskConfig
from messages.allocation import AllocationUpdate, Multipliers, PortfolioGate
from messages.market import BookSnapshot, Level, MarketState, Trade
from messages.orders import Fill, Funding, OpenOrder, QuoteLadder, QuoteLevel, VenueBatch
from messages.risk import OwnFills, RiskState, VenuePosition
from strategy.book import BookCore
from strategy.order_role import OrderRole
from strategy.order_tracker import OrderTracker
from strategy.outbox import LOG
from strategy.performance import PerformanceTracker
from strategy.quoter import QuoterCore
from strategy.risk import RiskCore
from strategy.risk_role import RiskRole
from venues.edge import EdgeCheck

T0 = 1_700_006_400.0
NAN, INF = math.nan, math.inf
_tid = iter(range(1, 10**9))
any_float = st.floats(allow_nan=True, allow_infinity=True)
wild = st.one_of(any_float, st.sampled_from([NAN, INF, -INF, 0.0, -1.0, 1e300, 3000.0, 0.5]))


def fill(side="B", px=3000.0, sz=1.0, fee=0.0, ts=T0 + 10, remaining=0.0, cloid="c"):
    return Fill(asset="ETH", cloid=cloid, oid=1, tid=next(_tid), side=side, px=px, sz=sz, fee=fee, ts=ts,
                remaining=remaining)


def risk_core(capital=10_000.0):
    return RiskCore("ETH", RiskConfig(max_position_usd=5_000.0, max_position_pct=0.5), capital, ts=T0)


# -- risk --------------------------------------------------------------------------------
def test_a_nan_fill_leaves_limits_working():
    c = risk_core()
    for bad in (fill(sz=NAN), fill(px=INF), fill(fee=NAN), fill(side="X"), fill(ts=NAN), fill(sz=-1.0)):
        assert c.on_fill(bad, 0.0) is False
    assert c.position == 0.0 and c.bad_input == 6 and math.isfinite(c.net_pnl)
    c.mark(3000.0, T0 + 20)
    # a real fill afterwards still trips the ladder: 1.6 ETH = $4,800 of a $5,000 limit
    assert c.on_fill(fill(px=3000.0, sz=1.6), 1.6)
    s = c.state(T0 + 30)
    assert s.position == 1.6 and s.limit_usd == 5_000.0
    assert not s.allow_bid and s.allow_ask and s.halt_reason == "reduce-only"


def test_a_nan_fill_is_not_marked_seen_so_the_intact_copy_still_counts():
    order = OrderRole(tracker(), T0)
    role = RiskRole(risk_core(), PerformanceTracker("ETH", 1.0, 1.0, T0), T0)
    bad = fill(sz=NAN)
    assert not order.handle(bad)
    good = Fill(**{**{f: getattr(bad, f) for f in bad.__struct_fields__}, "sz": 0.5})
    [(to, own)] = order.handle(good)
    assert role.handle(own) and role.core.position == 0.5 == order.tracker.position


def test_nan_marks_positions_funding_and_grants_are_refused():
    c = risk_core()
    c.on_fill(fill(sz=1.0), 1.0)
    c.mark(3000.0, T0 + 20)
    c.mark(NAN, T0 + 21)
    c.mark(3000.0, NAN)
    assert c.mid == 3000.0
    assert c.reconcile_position(NAN) == 0.0 and c.position == 1.0
    assert not c.on_funding(Funding("ETH", T0 + 3600, 0.0001, 1.0, NAN))
    c.set_funding_total(INF, T0 + 3600)
    assert c.funding == 0.0
    c.apply_allocation(AllocationUpdate("ETH", T0, NAN, 1.0))
    c.apply_allocation(AllocationUpdate("ETH", T0, 10_000.0, 1.0, Multipliers(size=INF)))
    assert c.capital == 10_000.0 and c.multipliers == Multipliers()
    c.apply_gate(PortfolioGate("ETH", T0, NAN))  # unreadable allowance: no add allowed
    s = c.state(T0 + 30)
    assert s.exposure_held and not s.allow_bid
    assert c.bad_input == 8 and math.isfinite(s.net_pnl) and s.limit_usd == 0.0


def test_the_risk_role_logs_dropped_input_without_publishing_it():
    role = RiskRole(risk_core(), PerformanceTracker("ETH", 1.0, 1.0, T0), T0)
    out = role.handle(OwnFills("ETH", T0, (fill(sz=NAN),), 0.0))
    notes = [m for to, m in out if to == LOG]
    assert [n.kind for n in notes] == ["bad_input"] and "size nan" in notes[0].text
    assert not [m for to, m in out if to in ("quoter", "order")]
    out = role.handle(VenuePosition("ETH", T0 + 5, NAN))
    assert role.core.position == 0.0  # the venue "wins" only with a number
    for _ in range(7):
        role.handle(OwnFills("ETH", T0, (fill(px=NAN),), 0.0))
    assert role.core.bad_input == 9


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fill", "mark", "funding", "venue", "gate", "alloc"]),
                          wild, wild, st.sampled_from(["B", "A", "X"])), max_size=25))
def test_fuzzed_risk_core_keeps_every_figure_finite(ops):
    c, owner = risk_core(), tracker()
    ts = T0
    for kind, a, b, side in ops:
        ts += 1.0
        if kind == "fill":  # also what the order role would refuse: risk refuses it too
            f = fill(side=side, px=a, sz=b, ts=ts)
            owner.on_fill(f)
            c.on_fill(f, owner.position)
        elif kind == "mark":
            c.mark(a, ts if math.isfinite(b) else b)
        elif kind == "funding":
            c.on_funding(Funding("ETH", ts, b, 1.0, a))
        elif kind == "venue":
            c.reconcile_position(a)
        elif kind == "gate":
            c.apply_gate(PortfolioGate("ETH", ts, a))
        else:
            c.apply_allocation(AllocationUpdate("ETH", ts, a, b))
    s = c.state(ts)
    for x in (s.position, s.avg_entry, s.realized_pnl, s.unrealized_pnl, s.fees, s.funding, s.capital, s.limit_usd,
              s.spread_mult_bid, s.size_mult_bid, s.net_pnl):
        assert math.isfinite(x), s


# -- orders ------------------------------------------------------------------------------
def tracker():
    return OrderTracker("ETH", 1, 1, 4, tolerance_bp=0.5)


def lad(mid=3000.0, sz=0.5):
    return QuoteLadder("ETH", T0, 1, (QuoteLevel("B", 0, mid - 1, sz),), (QuoteLevel("A", 0, mid + 1, sz),))


def test_a_nan_fill_leaves_the_order_cap_working():
    t = tracker()
    assert not t.on_fill(fill(sz=NAN)) and not t.on_fill(fill(side="X"))
    assert t.position == 0.0 and t.bad_input == 2
    t.on_fill(fill(sz=1.0))  # $3,000 long of a $3,300 limit: only 0.1 ETH more may rest on the bid
    _, places = t.plan(lad(sz=0.5), 3000.0, 3300.0)
    bid = [p for p in places if p.side == "B"]
    assert bid and (1.0 + bid[0].sz) * bid[0].px <= 3300.0 + 1e-6


def test_nan_mid_or_limit_places_nothing_and_pulls_what_rests():
    t = tracker()
    _, places = t.plan(lad(), 3000.0, 5000.0)
    assert len(places) == 2
    cancels, places = t.plan(lad(), NAN, 5000.0)
    assert places == [] and sorted(cancels) == sorted(p for p in t.live)
    cancels, places = tracker().plan(lad(), 3000.0, INF)
    assert places == []


def test_nan_venue_position_and_open_orders_are_not_adopted():
    t = tracker()
    t.on_fill(fill(sz=1.0))
    _, places = t.plan(lad(), 3000.0, 5000.0)
    cl = places[0].cloid
    to_cancel = t.resync((OpenOrder("ETH", cl, 9, "B", NAN, 0.5, T0),), NAN)
    assert t.position == 1.0 and to_cancel == [cl] and cl not in t.live
    t.reconcile((), INF, ())
    assert t.position == 1.0 and t.bad_input == 3


def test_the_order_role_passes_no_nan_fill_to_risk_or_the_quoter():
    role = OrderRole(tracker(), T0, feedback=True)
    assert role.handle(fill(px=NAN)) == []
    out = role.handle(fill(px=3000.0))
    assert {to for to, _ in out} == {"risk", "quoter"}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fill", "plan", "resync"]), wild, wild, st.sampled_from(["B", "A", "X"])),
                max_size=25))
def test_fuzzed_order_tracker_keeps_position_finite_and_worst_case_within_the_limit(ops):
    t = tracker()
    limit = 4000.0
    for kind, a, b, side in ops:
        if kind == "fill":
            t.on_fill(fill(side=side, px=3000.0, sz=a, remaining=b if math.isfinite(b) else 0.0))
        elif kind == "plan":
            mid = a if a == a and a > 0 and a < 1e7 else a
            t.plan(lad(3000.0, sz=0.3), mid, limit if math.isfinite(b) else b)
        else:
            t.resync(tuple(OpenOrder("ETH", c, 1, o.side, o.px, o.sz, T0) for c, o in t.live.items()), a)
        assert math.isfinite(t.position)
        for o in t.live.values():
            assert math.isfinite(o.px) and o.px > 0 and math.isfinite(o.sz) and o.sz >= 0


# -- the book ----------------------------------------------------------------------------
def snap(seq, bids, asks, ts=None):
    return BookSnapshot("ETH", T0 + seq if ts is None else ts, seq, tuple(Level(p, s) for p, s in bids),
                        tuple(Level(p, s) for p, s in asks))


def test_a_nan_level_anywhere_in_the_book_is_refused():
    b = BookCore("ETH")
    good = ([(3000.0, 1.0), (2999.0, 2.0)], [(3001.0, 1.0), (3002.0, 2.0)])
    assert b.on_book(snap(1, *good)) is not None
    assert b.on_book(snap(2, [(3000.0, 1.0), (2999.0, NAN)], good[1])) is None
    assert b.on_book(snap(3, good[0], [(3001.0, 1.0), (INF, 2.0)])) is None
    assert b.on_book(snap(4, [(3000.0, 1.0), (3000.5, 2.0)], good[1])) is None  # bids out of order
    assert b.on_book(snap(5, *good, ts=NAN)) is None
    s = b.on_book(snap(6, *good))
    assert s is not None and math.isfinite(s.imbalance) and b.bad_input == 4 and b.rejected == 4


def test_a_nan_trade_does_not_reach_the_tape():
    b = BookCore("ETH")
    b.on_trade(Trade("ETH", T0, NAN, 1.0, "B", 1))
    b.on_trade(Trade("ETH", T0, 3000.0, 1.0, "X", 2))  # type: ignore[arg-type]
    b.on_trade(Trade("ETH", T0, 3000.0, 1.0, "A", 3))
    assert b.aggressor_buy_ratio == 0.0 and b.bad_input == 2


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(wild, wild), max_size=4), st.lists(st.tuples(wild, wild), max_size=4),
                          wild), max_size=12))
def test_fuzzed_book_core_only_publishes_sane_states(books):
    b = BookCore("ETH")
    for seq, (bids, asks, ts) in enumerate(books, start=1):
        s = b.on_book(snap(seq, bids, asks, ts=ts))
        if s is not None:
            assert math.isfinite(s.mid) and s.mid > 0 and s.best_bid < s.best_ask
            assert math.isfinite(s.imbalance) and math.isfinite(s.sigma_bp) and math.isfinite(s.microprice)


# -- the quoter --------------------------------------------------------------------------
def market():
    return MarketState(asset="ETH", ts=50.0, seq=7, mid=100.0, microprice=100.0, best_bid=99.99, best_ask=100.01,
                       spread_bp=2.0, imbalance=0.0, sigma_bp=1.0, regime="NORMAL")


def rstate(**kw):
    d = dict(asset="ETH", ts=50.0, position=0.0, avg_entry=0.0, mid=100.0, realized_pnl=0.0,
             unrealized_pnl=0.0, fees=0.0, capital=20_000.0, limit_usd=5_000.0)
    d.update(kw)
    return RiskState(**d)


def test_the_quoter_quotes_nothing_on_an_unusable_risk_state():
    q = QuoterCore("ETH", QuotingConfig(), 2)
    assert q.quote(market(), rstate(), 50.0).bids
    for bad in (dict(spread_mult_bid=NAN), dict(size_mult_ask=INF), dict(limit_usd=NAN), dict(position=NAN)):
        ladder = q.quote(market(), rstate(**bad), 50.0)
        assert ladder.bids == () and ladder.asks == ()


@settings(max_examples=100, deadline=None)
@given(wild, wild, wild, wild)
def test_fuzzed_quoter_ladders_are_finite(pos, spread_mult, sigma, fill_px):
    q = QuoterCore("ETH", QuotingConfig(), 2)
    q.on_fill(50.0, "B", fill_px)
    q.on_funding(sigma)
    m = msgspec_replace(market(), sigma_bp=sigma)
    ladder = q.quote(m, rstate(position=pos, spread_mult_bid=spread_mult), 50.0)
    for lv in ladder.bids + ladder.asks:
        assert math.isfinite(lv.px) and lv.px > 0 and math.isfinite(lv.sz) and lv.sz > 0


def msgspec_replace(x, **kw):
    import msgspec
    return msgspec.structs.replace(x, **kw)


# -- the sim and remote-sim edge ------------------------------------------------------------
def test_the_edge_drops_bad_items_one_by_one_and_keeps_the_good():
    e = EdgeCheck("sim")
    assert not e.book(snap(1, [(NAN, 1.0)], [(3001.0, 1.0)]))
    assert not e.book(snap(2, [(3002.0, 1.0)], [(3001.0, 1.0)]))  # crossed
    assert e.book(snap(3, [(3000.0, 1.0)], [(3001.0, 1.0)]))
    assert not e.trade(Trade("ETH", T0, 3000.0, INF, "B", 1))
    good = fill()
    b = e.batch(VenueBatch("ETH", T0, (fill(sz=NAN), good, Funding("ETH", T0, NAN, 1.0, 2.0))))
    assert b is not None and b.events == (good,)
    assert e.batch(VenueBatch("ETH", T0, (fill(px=NAN),))) is None
    assert e.bad_input == 6 and e.by_kind == {"book": 2, "trade": 1, "fill": 2, "funding": 1}


def test_the_remote_sim_client_drops_unusable_frames_from_the_other_process():
    import trio
    import trio.testing

    from tests.venues.remote.test_remote_sim import FakeGateway, _answer_pings, _cfg, _fast, _hello, _scripted
    from venues.remote import protocol as p
    from venues.remote.client import RemoteSimVenue

    good = BookSnapshot("BTC", 100.0, 2, (Level(94999.0, 1.0),), (Level(95001.0, 1.0),))
    crossed = BookSnapshot("BTC", 100.0, 1, (Level(95002.0, 1.0),), (Level(95001.0, 1.0),))
    negative = BookSnapshot("BTC", 100.0, 3, (Level(-1.0, 1.0),), (Level(95001.0, 1.0),))
    ok_fill = Fill("ETH", "0x1", 1, 7, "B", 3500.0, 0.1, 0.01, 100.0, 0.0)
    huge_fill = Fill("ETH", "0x1", 1, 8, "B", 3500.0, 1e300, 0.01, 100.0, 0.0)

    async def script(ws, n):
        await ws.send_message(_hello(100.0))
        for frame in (crossed, negative, good, Trade("ETH", 100.0, 1e300, 0.1, "A", 5),
                      VenueBatch("ETH", 100.0, (huge_fill, ok_fill))):
            await ws.send_message(p.encode(frame))
        await _answer_pings(ws)

    async def main():
        async with trio.open_nursery() as nursery:
            port = await _scripted(script, nursery)
            gw = FakeGateway()
            venue = _fast(RemoteSimVenue(_cfg(), gw, url=f"ws://127.0.0.1:{port}"))
            await nursery.start(venue.serve)
            with trio.fail_after(5):
                while not gw.batches:
                    await trio.sleep(0.01)
            assert gw.books == [good] and gw.trades == []
            assert gw.batches[0][1].events == (ok_fill,)
            assert venue.edge.by_kind == {"book": 2, "trade": 1, "fill": 1}
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(rate=1.0))


_px = st.one_of(st.floats(allow_nan=True, allow_infinity=True, min_value=None),
                st.sampled_from([0.0, -1.0, 1e11, 100.0, 100.5, 99.5, True]), st.integers(-5, 200))
_levels = st.lists(st.builds(Level, _px, _px), max_size=6)
_bid_side = st.lists(st.tuples(st.floats(1.0, 1e6), st.floats(1e-6, 1e6)), max_size=6, unique_by=lambda t: t[0])
_ask_side = st.lists(st.tuples(st.floats(2e6, 3e6), st.floats(1e-6, 1e6)), max_size=6, unique_by=lambda t: t[0])


@given(st.builds(BookSnapshot, asset=st.just("BTC"), ts=_px, seq=st.just(1), bids=_levels.map(tuple), asks=_levels.map(tuple)))
@settings(max_examples=400, deadline=None)
def test_the_books_fast_check_refuses_exactly_what_the_level_by_level_check_refuses(snap):
    """Every snapshot of every asset is checked, so the common case runs in one pass of
    comparisons; it must never let through what the detailed check names (NaN, infinities,
    bools, out of range, out of order, crossed), nor refuse a sound book."""
    from messages.validity import bad_book, why_book

    assert bad_book(snap) == why_book(snap)


@given(_bid_side, _ask_side, st.floats(0.0, 1e9))
@settings(max_examples=200, deadline=None)
def test_a_sound_book_passes_the_fast_check(bids, asks, ts):
    from messages.validity import _side_fine, bad_book

    bid_levels = [Level(px, sz) for px, sz in sorted(bids, reverse=True)]
    ask_levels = [Level(px, sz) for px, sz in sorted(asks)]  # above every bid: uncrossed
    assert _side_fine(bid_levels, True) and _side_fine(ask_levels, False)
    assert bad_book(BookSnapshot("BTC", ts, 1, tuple(bid_levels), tuple(ask_levels))) == ""


_num = st.one_of(_px, st.sampled_from([1e15, 2e15, -1e15, -2e15, 1e13, 2e13, 0, -0.0]))
_side_any = st.sampled_from(["B", "A", "X", "", None, 1])


@given(st.builds(Trade, asset=st.just("BTC"), ts=_num, px=_num, sz=_num, side=_side_any, tid=st.just(1)))
@settings(max_examples=400, deadline=None)
def test_the_trades_fast_check_refuses_exactly_what_the_field_by_field_check_refuses(trade):
    """Every public trade is checked: the one-pass check must agree with the detailed one."""
    from messages.validity import bad_trade, why_trade

    assert bad_trade(trade) == why_trade(trade)


@given(st.builds(Fill, asset=st.just("BTC"), cloid=st.just("c"), oid=st.just(1), tid=st.just(1), side=_side_any,
                 px=_num, sz=_num, fee=_num, ts=_num, remaining=_num))
@settings(max_examples=400, deadline=None)
def test_the_fills_fast_check_refuses_exactly_what_the_field_by_field_check_refuses(fill):
    from messages.validity import bad_fill, why_fill

    assert bad_fill(fill) == why_fill(fill)
