"""The sweep guard: a print beyond the touch, far from the mid, pulls the side it hit."""
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import QuotingConfig, SweepGuardConfig
from messages.market import BookSnapshot, Level, Sweep, Trade
from strategy.book_role import BookRole
from strategy.outbox import LOG
from strategy.quoter import QuoterCore
from strategy.quoter_role import QuoterRole
from strategy.sweep_guard import sweep_of
from tests.strategy.test_quoter_core import market, risk

GUARD = QuotingConfig(sweep_guard=SweepGuardConfig(enabled=True, depth_bp=1.5, hold_s=1.0))


def _trade(px, side, ts=50.2):
    return Trade("ETH", ts, px, 1.0, side, 1)


def test_a_print_beyond_the_touch_is_a_sweep_of_the_side_it_hit_and_one_at_the_touch_is_not():
    book = market()  # 99.99 / 100.01 around 100.00
    up = sweep_of(_trade(100.03, "B"), book)
    assert up is not None and up.side == "A" and up.depth_bp == pytest.approx(3.0)
    down = sweep_of(_trade(99.97, "A"), book)
    assert down is not None and down.side == "B" and down.depth_bp == pytest.approx(3.0)
    assert sweep_of(_trade(100.01, "B"), book) is None  # at the touch: walked nothing
    assert sweep_of(_trade(99.99, "A"), book) is None
    wide = market(best_bid=99.90, best_ask=100.10, spread_bp=20.0)
    assert sweep_of(_trade(100.10, "B"), wide) is None  # 10 bp from the mid, but at a wide touch


def test_bad_input_makes_no_sweep():
    assert sweep_of(_trade(math.nan, "B"), market()) is None
    assert sweep_of(_trade(100.05, "B"), None) is None  # no book yet
    assert sweep_of(_trade(100.05, "B"), market(mid=math.nan)) is None
    core = QuoterCore("ETH", GUARD, 2)
    assert not core.on_sweep(Sweep("ETH", 50.0, "A", math.nan))
    assert not core.on_sweep(Sweep("ETH", math.nan, "A", 5.0))
    assert core.sweeps == 0


def test_a_sweep_pulls_the_side_it_hit_for_the_hold_and_the_other_side_keeps_quoting():
    core = QuoterCore("ETH", GUARD, 2)
    m, r = market(), risk()
    assert core.quote(m, r, 50.0).asks
    assert not core.on_sweep(Sweep("ETH", 50.0, "A", 1.0))  # shallower than depth_bp: not a sweep
    assert core.on_sweep(Sweep("ETH", 50.0, "A", 2.0))
    during = core.quote(m, r, 50.5)
    assert during.asks == () and during.bids  # the bids unwind what the sweep gave us
    after = core.quote(market(ts=51.0), r, 51.0)
    assert after.asks  # the hold is over: the next book quotes the side again
    assert core.sweeps == 1


def test_with_the_guard_off_a_sweep_changes_nothing():
    core = QuoterCore("ETH", QuotingConfig(), 2)
    assert not QuotingConfig().sweep_guard.enabled
    assert not core.on_sweep(Sweep("ETH", 50.0, "A", 20.0))
    assert core.quote(market(), risk(), 50.5).asks


def test_the_quoter_role_pulls_the_side_at_once_and_a_hot_reload_of_the_guard_takes_effect():
    role = QuoterRole(QuoterCore("ETH", QuotingConfig(), 2), 0.0)
    role.handle(risk())
    assert role.handle(market())[-1][1].asks
    assert role.handle(Sweep("ETH", 50.1, "A", 3.0)) == []  # the guard is off
    from messages.params import SetQuotingParams
    role.handle(SetQuotingParams("ETH", 50.2, GUARD, "reload"))
    out = role.handle(Sweep("ETH", 50.3, "A", 3.0))
    ladders = [m for to, m in out if to == "order"]
    assert len(ladders) == 1 and ladders[0].asks == () and ladders[0].bids


def test_the_book_role_sends_prints_beyond_the_touch_to_the_quoter_and_nothing_else():
    role = BookRole("ETH", 1.0)
    snap = BookSnapshot("ETH", 50.0, 1, (Level(99.99, 5.0), Level(99.98, 5.0)), (Level(100.01, 5.0), Level(100.02, 5.0)))
    assert role.handle(snap)
    assert role.handle(_trade(100.01, "B")) == []
    out = role.handle(_trade(100.04, "B"))
    assert len(out) == 1 and out[0][0] == "quoter"
    sweep = out[0][1]
    assert isinstance(sweep, Sweep) and sweep.side == "A" and sweep.depth_bp == pytest.approx(4.0)
    assert msgspec.json.decode(msgspec.json.encode(sweep), type=Sweep) == sweep  # it crosses threads as a message


@settings(max_examples=300, deadline=None)
@given(mid=st.floats(1.0, 1e5), half_bp=st.floats(0.01, 50.0), off_bp=st.floats(-100.0, 100.0),
       side=st.sampled_from(["B", "A"]))
def test_only_a_print_beyond_the_touch_is_a_sweep_and_its_depth_is_past_the_half_spread(mid, half_bp, off_bp, side):
    bid, ask = mid * (1 - half_bp / 1e4), mid * (1 + half_bp / 1e4)
    px = mid * (1 + off_bp / 1e4)
    sweep = sweep_of(_trade(px, side), market(mid=mid, best_bid=bid, best_ask=ask))
    beyond = px > ask if side == "B" else px < bid
    assert (sweep is not None) == beyond
    if sweep is not None:
        assert sweep.side == ("A" if side == "B" else "B")  # a buy sweeps the asks
        assert sweep.depth_bp > half_bp * (1 - 1e-9) and sweep.depth_bp == pytest.approx(abs(off_bp), rel=1e-9)


def test_the_event_log_hears_of_sweeps_at_most_once_a_minute_with_the_count_since():
    role = QuoterRole(QuoterCore("ETH", GUARD, 2), 0.0)
    role.handle(risk())
    role.handle(market())

    def notes(out):
        return [m for to, m in out if to == LOG]

    (first,) = notes(role.handle(Sweep("ETH", 50.1, "A", 3.0)))
    assert first.kind == "sweep" and "a buy 3.0 bp from the mid pulled the asks for 1 s" in first.text
    quiet = [notes(role.handle(Sweep("ETH", 50.1 + i, "B", 2.0))) for i in range(1, 11)]
    assert quiet == [[]] * 10  # still within the minute: counted, not logged
    (later,) = notes(role.handle(Sweep("ETH", 111.0, "B", 2.5)))
    assert "pulled the bids" in later.text and "(10 more since the last note)" in later.text
    assert role.core.sweeps == 12
