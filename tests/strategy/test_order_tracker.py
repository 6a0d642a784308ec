"""The order actor's core: fewest actions, in-flight states, the position cap, reconcile."""
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.orders import Fill, OpenOrder, OrderAck, OrderCancelled, OrderReject, QuoteLadder, QuoteLevel
from strategy.order_tracker import OrderTracker
from exchange_rules.cloid import parse_cloid


def ladder(mid, half_bp=3.0, sz=0.05, levels=3, spacing_bp=1.0, ts=0.0):
    bids = tuple(QuoteLevel("B", i, round(mid * (1 - (half_bp + i * spacing_bp) / 1e4), 1), sz * 2 ** i)
                 for i in range(levels))
    asks = tuple(QuoteLevel("A", i, round(mid * (1 + (half_bp + i * spacing_bp) / 1e4), 1), sz * 2 ** i)
                 for i in range(levels))
    return QuoteLadder("ETH", ts, 1, bids, asks)


def tracker(epoch=4):
    return OrderTracker("ETH", 1, epoch, 4, tolerance_bp=0.5)


def test_first_ladder_places_every_level_with_cloids_of_this_epoch():
    t = tracker()
    cancels, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    assert cancels == [] and len(places) == 6
    assert {parse_cloid(p.cloid).epoch for p in places} == {4}
    assert {parse_cloid(p.cloid).asset_index for p in places} == {1}
    assert len({p.cloid for p in places}) == 6


def test_unchanged_or_slightly_moved_ladder_keeps_queue_place():
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    for p in places:
        t.on_ack(OrderAck("ETH", p.cloid, 1, 0.0))
    assert t.plan(ladder(3500.0), 3500.0, 5000.0) == ([], [])
    assert t.plan(ladder(3500.05), 3500.05, 5000.0) == ([], [])  # 0.14 bp < 0.5 bp tolerance


def test_moved_ladder_cancels_and_replaces_only_what_moved():
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    for p in places:
        t.on_ack(OrderAck("ETH", p.cloid, 1, 0.0))
    cancels, new = t.plan(ladder(3501.0), 3501.0, 5000.0)  # ~2.9 bp move
    assert len(cancels) == 6 and len(new) == 6
    for c in cancels:
        t.on_cancelled(OrderCancelled("ETH", c, 0.0))
    assert len(t.live) == 6 and all(o.state == "pending" for o in t.live.values())


def test_worst_case_inventory_never_exceeds_the_limit():
    t = tracker()
    _, places = t.plan(ladder(3500.0, sz=0.2), 3500.0, 1000.0)  # the ladder wants far more than $1000
    buys = sum(p.sz * p.px for p in places if p.side == "B")
    sells = sum(p.sz * p.px for p in places if p.side == "A")
    assert 0 < buys <= 1000.0 and 0 < sells <= 1000.0


def test_fills_are_applied_once_and_reduce_remaining():
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    bid = next(p for p in places if p.side == "B" and p.level == 0)
    f = Fill("ETH", bid.cloid, 1, 77, "B", bid.px, 0.02, 0.01, 1.0, remaining=0.03)
    assert t.on_fill(f) and not t.on_fill(f)
    assert t.position == 0.02
    assert t.live[bid.cloid].sz == 0.03
    t.on_fill(Fill("ETH", bid.cloid, 1, 78, "B", bid.px, 0.03, 0.01, 1.1, remaining=0.0))
    assert bid.cloid not in t.live and t.position == 0.05


def test_rejected_orders_are_forgotten():
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    t.on_reject(OrderReject("ETH", places[0].cloid, "Post only order would have immediately matched", 0.0))
    assert places[0].cloid not in t.live and t.rejects == 1


def test_a_post_only_refusal_of_an_order_already_being_cancelled_leaves_nothing_resting():
    # a requote cancels an order before its answer came; the answer is a post-only refusal:
    # the order never rested, so it must not be counted open (nor kept as a level) until
    # the cancel's own "never placed" answer arrives
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    c = places[0].cloid
    assert c in t.cancel_everything()
    t.on_reject(OrderReject("ETH", c, "Post only order would have immediately matched, bbo was 1@2", 0.1))
    assert c not in t.live
    t.on_reject(OrderReject("ETH", c, "Order was never placed, already canceled, or filled. asset=1", 0.2))
    assert c not in t.live


def test_a_modify_refused_for_post_only_leaves_the_old_order_resting():
    # Hyperliquid's venue answers a refused batchModify twice: the new cloid is refused
    # with the exchange's text, the old one with "modify refused: <text>" (it still rests)
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    old = places[0].cloid
    t.on_ack(OrderAck("ETH", old, 9, 0.05))
    _, moved = t.plan(ladder(3510.0), 3510.0, 5000.0)
    assert t.live[old].state == "cancelling"
    new = next(p.cloid for p in moved if p.side == places[0].side and p.level == places[0].level)
    alo = "Post only order would have immediately matched, bbo was 3509.9@3510.1. asset=1"
    t.on_reject(OrderReject("ETH", new, alo, 0.1))
    t.on_reject(OrderReject("ETH", old, f"modify refused: {alo}", 0.1))
    assert new not in t.live and t.live[old].state == "resting"


def test_a_failed_cancel_leaves_the_order_known_as_resting():
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    c = places[0].cloid
    t.on_ack(OrderAck("ETH", c, 9, 0.05))
    t.cancel_everything()
    t.on_reject(OrderReject("ETH", c, "Too many cumulative requests sent", 0.1))
    assert t.live[c].state == "resting"


def test_reconcile_adopts_venue_position_and_returns_stale_orders():
    t = tracker(epoch=9)
    t.plan(ladder(3500.0), 3500.0, 5000.0)
    stale = (OpenOrder("ETH", "0x6d680001000000080000000000000001", 5, "B", 3499.0, 0.1, 0.0),)
    fills = (Fill("ETH", "x", 1, 5, "A", 3501.0, 0.3, 0.1, 0.5, 0.0),)
    assert t.reconcile(stale, -0.3, fills) == [stale[0].cloid]
    assert t.position == -0.3 and t.live == {}
    assert not t.on_fill(fills[0])  # history already counted


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(3400, 3600), st.integers(0, 5), st.floats(0.1, 1.0)), min_size=1, max_size=25))
def test_property_exposure_within_limit_through_fills_and_requotes(steps):
    t = tracker()
    limit = 2000.0
    tid = 0
    min_px = {"B": float("inf"), "A": float("inf")}
    for mid, n_fills, frac in steps:
        cancels, places = t.plan(ladder(mid, sz=0.1), mid, limit)
        for p in places:
            min_px[p.side] = min(min_px[p.side], p.px)
        for c in cancels:
            t.on_cancelled(OrderCancelled("ETH", c, 0.0))
        for o in list(t.live.values())[:n_fills]:
            tid += 1
            sz = round(o.sz * frac, 4)
            if sz <= 0:
                continue
            t.on_fill(Fill("ETH", o.cloid, 1, tid, o.side, o.px, sz, 0.0, 0.0, remaining=round(o.sz - sz, 4)))
        for side in ("B", "A"):
            # every placement kept exposure <= limit / its price; fills move size from open
            # orders into the position, so worst-case inventory never grows past that
            if min_px[side] < float("inf"):
                assert t.exposure(side) <= limit / min_px[side] + 1e-9


def test_a_failed_cancel_keeps_the_order_known_until_it_really_goes():
    t = tracker()
    _, places = t.plan(ladder(3500.0), 3500.0, 5000.0)
    for p in places:
        t.on_ack(OrderAck("ETH", p.cloid, 1, 0.0))
    cancels, _ = t.plan(ladder(3510.0), 3510.0, 5000.0)
    victim = cancels[0]
    t.on_reject(OrderReject("ETH", victim, "Too many cumulative requests sent (10001 > 10000) ...", 0.0))
    assert t.live[victim].state == "resting"  # still on the venue: still ours to cancel
    assert victim in t.plan(ladder(3510.0), 3510.0, 5000.0)[0]  # and the next diff cancels it again
    t.on_reject(OrderReject("ETH", victim, "Order was never placed, already canceled, or filled.", 0.0))
    assert victim not in t.live
