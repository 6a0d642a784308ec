"""Queue keeping, max order age, the cancel-to-fill governor and post-only safety ticks."""
from config import AloSafetyConfig, QuotingConfig
from messages.orders import QuoteFeedback, QuoteLadder, QuoteLevel
from strategy.alo_safety import AloSafety
from strategy.budget_policy import CancelFillGovernor
from strategy.order_diff import LiveOrder, diff_orders
from strategy.order_tracker import OrderTracker
from strategy.quoter import QuoterCore
from strategy.quoter_role import QuoterRole
from tests.strategy.test_quoter_core import market, risk


def _bid(px, ts=0.0):
    return LiveOrder("c1", "B", 0, px, 1.0, "resting", ts)


def test_resting_order_further_from_the_touch_keeps_its_queue_place():
    want = [QuoteLevel("B", 0, 100.00, 1.0)]
    live = [_bid(99.99)]  # 1 bp further out than wanted
    assert diff_orders(want, live, mid=100.0, tolerance_bp=0.5) == (["c1"], want)
    assert diff_orders(want, live, mid=100.0, tolerance_bp=0.5, keep_bp=1.5, now=10.0, max_age_s=30.0) == ([], [])


def test_queue_keeping_never_keeps_a_more_aggressive_order_nor_an_old_one():
    want = [QuoteLevel("B", 0, 100.00, 1.0)]
    closer = [_bid(100.01)]  # 1 bp closer to the touch: less edge than wanted
    assert diff_orders(want, closer, mid=100.0, tolerance_bp=0.5, keep_bp=1.5)[0] == ["c1"]
    old = [_bid(99.99, ts=0.0)]
    assert diff_orders(want, old, mid=100.0, tolerance_bp=0.5, keep_bp=1.5, now=31.0, max_age_s=30.0)[0] == ["c1"]


def test_governor_widens_tolerance_when_cancels_outrun_fills():
    gov = CancelFillGovernor(max_cancels_per_fill=10, window_s=300)
    assert gov.tolerance_bp(0.5, 0.0) == 0.5
    gov.on_cancels(1.0, 40)
    gov.on_fill(2.0)
    assert gov.tolerance_bp(0.5, 3.0) == 0.5 * 4  # 40 cancels per fill: 4x the limit
    assert gov.tolerance_bp(0.5, 400.0) == 0.5  # the window has passed


def test_alo_ticks_grow_on_rejects_and_decay_on_successes():
    s = AloSafety(max_ticks=2, decay_after=3)
    for _ in range(5):
        s.on_reject("B", 0)
    assert s.ticks("B", 0) == 2 and s.ticks("A", 0) == 0
    for _ in range(3):
        s.on_success("B", 0)
    assert s.ticks("B", 0) == 1


def test_quoter_keeps_rejected_levels_further_from_the_touch():
    p = QuotingConfig(alo_safety=AloSafetyConfig(enabled=True))
    core = QuoterCore("ETH", p, 2)
    m = market(best_bid=99.99, best_ask=99.996)  # the book moved down under our fair price
    before = core.quote(m, risk(position=-30.0), 50.0)  # short 20 lots: bids pushed to the post-only edge
    assert before.bids[0].px == 99.995  # one tick under the ask
    core.on_feedback(QuoteFeedback("ETH", 50.0, "alo_reject", "B", 0))
    core.on_feedback(QuoteFeedback("ETH", 50.0, "alo_reject", "B", 0))
    after = core.quote(m, risk(position=-30.0), 51.0)
    assert after.bids[0].px == 99.993  # two safety ticks more
    assert [lv.px for lv in after.bids] == sorted({lv.px for lv in after.bids}, reverse=True)


def _ladder(bids, asks, retreat_only):
    return QuoteLadder("ETH", 60.0, 1, tuple(bids), tuple(asks), retreat_only=retreat_only)


def _tracker_with(*orders):
    t = OrderTracker("ETH", 1, 1, 2, tolerance_bp=0.5)
    for o in orders:
        t.live[o.cloid] = o
    return t


def test_a_ladder_priced_on_an_old_book_pulls_and_retreats_but_places_nothing():
    bid0 = LiveOrder("b0", "B", 0, 99.95, 1.0, "resting")  # the new ladder wants it further out: retreats
    bid1 = LiveOrder("b1", "B", 1, 99.80, 1.0, "resting")  # wanted closer to the touch: stays as it is
    ask0 = LiveOrder("a0", "A", 0, 100.05, 2.0, "resting")  # wanted smaller: shrinks (cancelled)
    ask1 = LiveOrder("a1", "A", 1, 100.20, 1.0, "resting")  # its slot is no longer wanted: pulled
    want_b = [QuoteLevel("B", 0, 99.90, 1.0), QuoteLevel("B", 1, 99.85, 1.0), QuoteLevel("B", 2, 99.75, 1.0)]
    want_a = [QuoteLevel("A", 0, 100.05, 1.0)]
    fresh = _tracker_with(bid0, bid1, ask0, ask1).plan(_ladder(want_b, want_a, False), 100.0, 5_000.0)
    assert sorted(fresh[0]) == ["a0", "a1", "b0", "b1"] and len(fresh[1]) == 4  # a fresh book moves them all
    cancels, places = _tracker_with(bid0, bid1, ask0, ask1).plan(_ladder(want_b, want_a, True), 100.0, 5_000.0)
    assert sorted(cancels) == ["a0", "a1", "b0"]
    assert places == []


def test_risk_news_on_a_book_older_than_the_limit_gives_a_retreat_only_ladder():
    p = QuotingConfig(alo_safety=AloSafetyConfig(enabled=True, max_book_age_s=0.15))
    role = QuoterRole(QuoterCore("ETH", p, 2), 0.0)
    role.handle(risk(ts=50.0))
    [(_, on_book)] = [o for o in role.handle(market(ts=50.0)) if o[0] == "order"]
    [(_, soon)] = [o for o in role.handle(risk(ts=50.1, position=1.0)) if o[0] == "order"]
    [(_, late)] = [o for o in role.handle(risk(ts=50.4, position=2.0)) if o[0] == "order"]
    assert not on_book.retreat_only and not soon.retreat_only
    assert late.retreat_only and late.bids and late.asks  # the ladder is still the one wanted
    [(_, next_book)] = [o for o in role.handle(market(ts=50.5)) if o[0] == "order"]
    assert not next_book.retreat_only  # the next book places
    off = QuoterRole(QuoterCore("ETH", QuotingConfig(alo_safety=AloSafetyConfig(enabled=False)), 2), 0.0)
    off.handle(risk(ts=50.0))
    off.handle(market(ts=50.0))
    assert not [o for o in off.handle(risk(ts=50.4, position=2.0)) if o[0] == "order"][0][1].retreat_only
