"""diff_orders: the fewest cancels and placements, keeping orders that are close enough."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.orders import QuoteLevel
from strategy.order_diff import LiveOrder, diff_orders

MID = 2000.0  # 1 bp = 0.2


def want(side, level, px, sz=1.0):
    return QuoteLevel(side=side, level=level, px=px, sz=sz)


def live(cloid, side, level, px, sz=1.0, state="resting"):
    return LiveOrder(cloid=cloid, side=side, level=level, px=px, sz=sz, state=state)


LADDER = [want("B", 0, 1999.0), want("B", 1, 1998.0), want("A", 0, 2001.0), want("A", 1, 2002.0)]


def diff(wanted, orders, tol=0.5, **kw):
    return diff_orders(wanted, orders, mid=MID, tolerance_bp=tol, **kw)


def test_nothing_live_places_everything_bids_then_asks_by_level():
    shuffled = [LADDER[3], LADDER[0], LADDER[2], LADDER[1]]
    cancels, places = diff(shuffled, [])
    assert cancels == []
    assert places == LADDER


def test_unchanged_quotes_keep_their_orders():
    orders = [live(f"c{i}", w.side, w.level, w.px, w.sz) for i, w in enumerate(LADDER)]
    assert diff(LADDER, orders) == ([], [])


def test_price_tolerance_in_bp_of_mid():
    w = [want("B", 0, 1999.0)]
    assert diff(w, [live("k", "B", 0, 1999.0 - 0.08)]) == ([], [])  # 0.4 bp: kept
    assert diff(w, [live("k", "B", 0, 1999.0 + 0.1)]) == ([], [])  # exactly 0.5 bp: kept
    assert diff(w, [live("k", "B", 0, 1999.0 + 0.12)]) == (["k"], w)  # 0.6 bp: replaced
    assert diff(w, [live("k", "B", 0, 1999.2)], tol=0.0) == (["k"], w)


def test_size_tolerance_relative_to_wanted():
    w = [want("A", 0, 2001.0, sz=2.0)]
    assert diff(w, [live("k", "A", 0, 2001.0, sz=1.5)]) == ([], [])  # 25% partially filled
    assert diff(w, [live("k", "A", 0, 2001.0, sz=2.5)]) == ([], [])
    assert diff(w, [live("k", "A", 0, 2001.0, sz=1.4)]) == (["k"], w)
    assert diff(w, [live("k", "A", 0, 2001.0, sz=1.4)], size_tolerance=0.5) == ([], [])


def test_pending_orders_count_as_live():
    w = [want("B", 0, 1999.0)]
    assert diff(w, [live("p", "B", 0, 1999.0, state="pending")]) == ([], [])
    assert diff(w, [live("p", "B", 0, 1990.0, state="pending")]) == (["p"], w)


def test_extra_orders_in_a_slot_are_cancelled_keeping_the_resting_one():
    w = [want("B", 0, 1999.0)]
    orders = [live("z-pending", "B", 0, 1999.0, state="pending"),
              live("y-resting", "B", 0, 1999.05),
              live("x-far", "B", 0, 1990.0)]
    cancels, places = diff(w, orders)
    assert cancels == ["x-far", "z-pending"]
    assert places == []


def test_unwanted_slots_are_cancelled():
    orders = [live("b2", "B", 2, 1997.0), live("a0", "A", 0, 2001.0), live("a5", "A", 5, 2010.0)]
    cancels, places = diff([want("A", 0, 2001.0)], orders)
    assert cancels == ["b2", "a5"]
    assert places == []
    # an empty ladder cancels everything live
    assert diff([], orders)[0] == ["b2", "a0", "a5"]


def test_cancelling_orders_are_ignored_and_do_not_block_their_slot():
    w = [want("B", 0, 1999.0), want("A", 0, 2001.0)]
    orders = [live("gone-b", "B", 0, 1999.0, state="cancelling"),
              live("gone-x", "B", 3, 1990.0, state="cancelling")]
    cancels, places = diff(w, orders)
    assert cancels == []
    assert places == w


def test_cancels_are_in_a_deterministic_order():
    orders = [live("c3", "A", 1, 2100.0), live("c1", "B", 1, 1900.0), live("c2", "A", 0, 2100.0),
              live("c0", "B", 0, 1900.0), live("c5", "B", 0, 1901.0)]
    cancels, places = diff(LADDER, orders)
    assert cancels == ["c0", "c5", "c1", "c2", "c3"]
    assert places == LADDER
    assert diff(LADDER, list(reversed(orders))) == (cancels, places)


def test_no_mid_measures_against_the_wanted_price():
    w = [want("B", 0, 100.0)]
    assert diff_orders(w, [live("k", "B", 0, 100.004)], mid=0.0, tolerance_bp=0.5) == ([], [])
    assert diff_orders(w, [live("k", "B", 0, 100.006)], mid=0.0, tolerance_bp=0.5) == (["k"], w)


def test_live_order_is_frozen():
    o = live("k", "B", 0, 1.0)
    with pytest.raises(AttributeError):
        o.px = 2.0  # type: ignore[misc]


# -- properties ---------------------------------------------------------------------------
sides = st.sampled_from(["B", "A"])
slots = st.tuples(sides, st.integers(0, 3))
prices = st.floats(1990.0, 2010.0).map(lambda x: round(x, 2))
sizes = st.sampled_from([0.5, 1.0, 1.2, 2.0])


@st.composite
def books(draw):
    wanted_slots = draw(st.lists(slots, unique=True, max_size=8))
    wanted = [want(s, lv, draw(prices), draw(sizes)) for s, lv in wanted_slots]
    orders = []
    for i in range(draw(st.integers(0, 10))):
        s, lv = draw(slots)
        if wanted and draw(st.booleans()):  # often near a wanted level
            w = draw(st.sampled_from(wanted))
            s, lv = w.side, w.level
            px = w.px + draw(st.sampled_from([0.0, 0.05, 0.1, 0.3]))
            sz = w.sz * draw(st.sampled_from([1.0, 0.8, 0.5]))
        else:
            px, sz = draw(prices), draw(sizes)
        orders.append(live(f"c{i:02d}", s, lv, px, sz, draw(st.sampled_from(["pending", "resting", "cancelling"]))))
    return wanted, orders


def within(o, w):
    return abs(o.px - w.px) / MID * 1e4 <= 0.5 + 1e-9 and abs(o.sz - w.sz) <= 0.25 * w.sz


@given(books())
def test_diff_reaches_the_ladder_with_fewest_actions(book):
    wanted, orders = book
    cancels, places = diff(wanted, orders)
    active = {o.cloid: o for o in orders if o.state != "cancelling"}
    # only live, non-cancelling orders are cancelled, each once
    assert len(cancels) == len(set(cancels)) and set(cancels) <= set(active)
    kept = [o for c, o in active.items() if c not in cancels]
    by_slot = {(w.side, w.level): w for w in wanted}
    # after the actions every wanted slot has exactly one order, within tolerance
    kept_slots = [(o.side, o.level) for o in kept]
    assert len(kept_slots) == len(set(kept_slots))
    for o in kept:
        assert within(o, by_slot[(o.side, o.level)])
    placed_slots = [(w.side, w.level) for w in places]
    assert sorted(kept_slots + placed_slots) == sorted(by_slot)
    assert placed_slots == sorted(placed_slots, key=lambda s: ({"B": 0, "A": 1}[s[0]], s[1]))
    # fewest: a slot is placed only if none of its live orders was within tolerance
    for s in placed_slots:
        assert not any(within(o, by_slot[s]) for o in active.values() if (o.side, o.level) == s)
    # and once done, the same ladder asks for nothing more
    after = kept + [live(f"new{i}", w.side, w.level, w.px, w.sz, "pending") for i, w in enumerate(places)]
    assert diff(wanted, after) == ([], [])
