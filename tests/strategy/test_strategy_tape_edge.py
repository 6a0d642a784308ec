"""The tape's markouts by depth (strategy/tape_edge.py) and the quoter keeping only levels
whose distance plus the tape's adverse move still pays the maker fee."""
from __future__ import annotations

import math

import msgspec
import pytest

import config
from messages.market import MarketState
from messages.risk import RiskState
from strategy.quoter import QuoterCore
from strategy.tape_edge import TapeEdge, expected_drift


def _fed(moves: dict[str, float], n: int = 40, depth_bp: float = 0.2, horizon: float = 10.0) -> TapeEdge:
    """A tape of ``n`` prints per side at ``depth_bp`` past a mid of 100, each followed by the
    mid moving ``moves[maker side]`` bp against (negative) or for that maker."""
    te = TapeEdge(horizon_s=horizon, window_s=900.0, bin_bp=0.5, min_trades=30)
    t = 0.0
    for _ in range(n):
        for maker, move in moves.items():
            t += 1.0
            aggressor = "A" if maker == "B" else "B"
            px = 100.0 * (1 - depth_bp / 1e4) if aggressor == "A" else 100.0 * (1 + depth_bp / 1e4)
            te.on_trade(t, px, aggressor, 100.0)
            # the mid the maker sees horizon seconds later: a bid profits when it rises
            later = 100.0 * (1 + (move if maker == "B" else -move) / 1e4)
            te.on_mid(t + horizon, later)
            te.on_mid(t + horizon + 0.5, 100.0)
    return te


def test_a_tape_where_fills_precede_adverse_moves_reads_negative_for_that_side_only():
    te = _fed({"B": -3.0, "A": +1.0})
    bid, ask = te.tails("B"), te.tails("A")
    assert bid and ask
    assert math.isclose(bid[0], -3.0, abs_tol=1e-9)
    assert math.isclose(ask[0], +1.0, abs_tol=1e-9)


def test_nothing_is_believed_before_enough_prints_have_settled():
    te = _fed({"B": -3.0}, n=10)
    assert te.tails("B") == ()
    assert math.isnan(expected_drift(te.tails("B"), 1.0, 0.5))


def test_old_prints_leave_the_window():
    te = _fed({"B": -3.0})
    assert te.tails("B")
    te.on_mid(10_000.0, 100.0)
    assert te.tails("B") == ()


def test_deeper_reads_use_the_deepest_believed_depth():
    te = _fed({"B": -2.0})
    tails = te.tails("B")
    assert len(tails) == 1  # every print sat in the first bin
    assert expected_drift(tails, 7.0, 0.5) == tails[0]


def test_non_finite_input_is_ignored():
    te = _fed({"B": -2.0})
    before = te.tails("B")
    te.on_trade(math.nan, 100.0, "A", 100.0)
    te.on_trade(1e6, math.inf, "A", 100.0)
    te.on_trade(1e6, 100.0, "X", 100.0)
    te.on_mid(1e3, math.nan)
    assert te.tails("B") == before


def _state(bid_tails: tuple[float, ...], ask_tails: tuple[float, ...]) -> MarketState:
    return MarketState(asset="ETH", ts=100.0, seq=1, mid=3000.0, microprice=3000.0, best_bid=2999.9,
                       best_ask=3000.1, spread_bp=0.67, imbalance=0.0, sigma_bp=1.0, regime="NORMAL",
                       tape_drift_bid=bid_tails, tape_drift_ask=ask_tails, tape_bin_bp=0.5)


def _flat() -> RiskState:
    return RiskState(asset="ETH", ts=100.0, position=0.0, avg_entry=0.0, mid=3000.0, realized_pnl=0.0,
                     unrealized_pnl=0.0, fees=0.0, capital=1000.0, limit_usd=500.0)


def _quoter(**tape: object) -> QuoterCore:
    cfg = config.load("config.toml")
    q = cfg.assets["ETH"].quoting
    q = msgspec.structs.replace(q, model="as", fee_aware=True, min_spread_bp=8.0, levels=1,
                                tape_edge=msgspec.structs.replace(q.tape_edge, enabled=True, **tape))
    return QuoterCore("ETH", q, 4)


def test_a_side_the_tape_shows_picked_off_is_not_quoted_the_other_is():
    risk = _flat()
    ladder = _quoter().quote(_state((-6.0,), (0.0,)), risk, 100.0)
    assert ladder.bids == ()  # 4 bp out, 1.5 bp fee, 6 bp of adverse move: no edge
    assert len(ladder.asks) == 1
    assert "tape" in ladder.note


def test_before_the_tape_knows_the_assumed_move_decides():
    risk = _flat()
    assert _quoter(unknown_drift_bp=-1.0).quote(_state((), ()), risk, 100.0).bids  # 4 - 1.5 - 1 > 0
    assert _quoter(unknown_drift_bp=-5.0).quote(_state((), ()), risk, 100.0).bids == ()


def _gapping(book_through: bool, gaps: int = 40) -> TapeEdge:
    """Books around 100 whose bids are gapped through ``gaps`` times (the next book's best
    ask 2 bp under the last best bid, no print at all), each followed by a further fall."""
    te = TapeEdge(horizon_s=10.0, window_s=900.0, bin_bp=0.5, min_trades=30, book_through=book_through)
    t = 0.0
    for _ in range(gaps):
        te.on_book(t, 99.999, 100.001, 100.0)
        te.on_book(t + 0.5, 99.977, 99.979, 99.978)  # best ask 99.979 < last best bid 99.999
        te.on_book(t + 10.5, 99.962, 99.978, 99.97)  # 3 bp under the first mid (no new gap)
        te.on_book(t + 11.0, 99.96, 100.002, 99.981)  # back up without a gap
        t += 20.0
    te.on_book(t, 99.999, 100.001, 100.0)
    return te


def test_a_book_gapping_through_resting_bids_counts_as_their_fill():
    te = _gapping(book_through=True)
    bid = te.tails("B")
    assert bid and te.tails("A") == ()  # only the side the gap went through
    assert len(bid) == 5  # reached 2.1 bp past the old mid: bins 0..4
    assert math.isclose(bid[0], -3.0, abs_tol=0.01)  # the fall after the gap, from the old mid


def test_without_book_through_only_prints_count():
    assert _gapping(book_through=False).tails("B") == ()


def _after_fill(wait: bool, book_ts: float) -> tuple[int, int]:
    q = _quoter(wait_book_after_fill=wait, unknown_drift_bp=0.0)
    q.on_fill(100.0, "B", 2998.0)  # our bid filled at t = 100
    m = msgspec.structs.replace(_state((), ()), ts=book_ts, seq=2)
    ladder = q.quote(m, _flat(), book_ts)
    return len(ladder.bids), len(ladder.asks)


def test_a_side_that_filled_waits_for_a_book_newer_than_the_fill():
    assert _after_fill(wait=True, book_ts=100.0) == (0, 1)  # the book predates the fill: no bid
    assert _after_fill(wait=True, book_ts=100.5) == (1, 1)  # a newer book: quoted again
    assert _after_fill(wait=False, book_ts=100.0) == (1, 1)


def test_our_fills_worse_than_the_tape_expected_count_against_that_side_only():
    from strategy.fill_edge import FillEdge

    fe = FillEdge(horizon_s=10.0, window_s=900.0, min_fills=10)
    for i in range(10):  # our bids: the tape expected -1 bp, the mid fell 4 bp
        t = 20.0 * i
        fe.on_fill(t, "B", 100.0, -1.0)
        fe.on_fill(t, "A", 100.0, -1.0)  # our asks: the same fall, in their favour
        fe.on_mid(t + 10.0, 99.96)
        fe.on_mid(t + 11.0, 100.0)
    assert fe.fills("B") == 10 and fe.fills("A") == 10
    assert math.isclose(fe.excess("B"), -3.0 * 10 / 20, abs_tol=1e-6)  # shrunk with 10 fills' weight
    assert fe.excess("A") == 0.0  # luck is not an edge the tape missed
    fe.on_mid(10_000.0, 100.0)  # out of the window
    assert fe.excess("B") == 0.0


def test_own_fills_worse_than_the_tape_stop_the_side_the_tape_alone_quotes():
    q = _quoter(own_fills=True, own_min_fills=1)
    risk = _flat()
    m = _state((0.0,), (0.0,))
    assert q.quote(m, risk, 100.0).bids  # 4 bp out, fee 1.5, tape 0: quoted
    for i in range(5):  # each bid fill followed by a 6 bp fall the tape did not see
        t = 100.0 + 20 * i
        q.quote(msgspec.structs.replace(m, ts=t, seq=10 + 2 * i), risk, t)
        q.on_fill(t, "B", 2998.8)
        later = msgspec.structs.replace(m, ts=t + 11, seq=11 + 2 * i, mid=2998.2, microprice=2998.2,
                                        best_bid=2998.1, best_ask=2998.3)
        q.quote(later, risk, t + 11)
    ladder = q.quote(msgspec.structs.replace(m, ts=300.0, seq=99), risk, 300.0)
    assert ladder.bids == () and len(ladder.asks) == 1


def _long(position: float) -> RiskState:
    return msgspec.structs.replace(_flat(), position=position)


def test_levels_that_only_unwind_a_position_held_long_enough_ignore_the_tape():
    m = _state((-6.0,), (-6.0,))  # the tape says no depth pays on either side
    q = _quoter(unwind_free=True, unwind_after_s=60.0, unwind_losing_only=False)  # every held position
    assert q.quote(m, _long(0.05), 100.0).asks == ()  # just became long: the tape still decides
    held = q.quote(msgspec.structs.replace(m, ts=170.0), _long(0.05), 170.0)
    assert len(held.asks) == 1 and held.bids == ()  # 70 s long: the selling level is quoted, not the buying one
    assert q.quote(msgspec.structs.replace(m, ts=180.0), _long(0.0001), 180.0).asks == ()  # too small to unwind a level
    off = _quoter(unwind_free=False)
    off.quote(m, _long(0.05), 100.0)
    assert off.quote(msgspec.structs.replace(m, ts=170.0), _long(0.05), 170.0).asks == ()


def test_with_losing_only_a_held_position_the_market_pays_keeps_the_tape_deciding():
    """``unwind_losing_only``: a position held long enough is offered back past the tape only
    while it loses; one the move is paying (a trend it caught) stays with the tape's verdict."""
    m = _state((-6.0,), (-6.0,))
    q = _quoter(unwind_free=True, unwind_after_s=60.0, unwind_losing_only=True)
    winning = msgspec.structs.replace(_long(0.05), unrealized_pnl=+2.0)
    losing = msgspec.structs.replace(_long(0.05), unrealized_pnl=-2.0)
    q.quote(m, winning, 100.0)
    assert q.quote(msgspec.structs.replace(m, ts=170.0), winning, 170.0).asks == ()  # paid: held
    unwound = q.quote(msgspec.structs.replace(m, ts=175.0), losing, 175.0)  # the same long, now losing
    assert len(unwound.asks) == 1 and unwound.bids == ()
    assert "ask: the position, held 60s at a loss, is priced to close" in unwound.note  # the view says why
    assert q.quote(msgspec.structs.replace(m, ts=180.0), winning, 180.0).asks == ()  # paying again: held


def test_with_at_fee_a_closing_level_inside_the_fee_moves_out_to_where_it_pays():
    """``unwind_at_fee``: the held exit's closing level that would not pay the maker fee
    against the reservation price is quoted at reservation + fee (rounded away from the
    bids), not dropped; without it the level goes."""
    m = _state((-6.0,), (-6.0,))
    losing = msgspec.structs.replace(_long(0.05), unrealized_pnl=-2.0)
    ladders = {}
    for at_fee in (False, True):
        q = _quoter(unwind_free=True, unwind_after_s=60.0, unwind_losing_only=True, unwind_at_fee=at_fee)
        q = QuoterCore("ETH", msgspec.structs.replace(q.params, maker_fee_bp=12.0), 4)  # more than the 4 bp half spread
        q.quote(m, losing, 100.0)
        ladders[at_fee] = q.quote(msgspec.structs.replace(m, ts=170.0), losing, 170.0)
    assert ladders[False].asks == ()
    (ask,) = ladders[True].asks
    r = ladders[True].reservation
    assert ask.px >= r * (1 + 12.0 / 1e4) and ask.px - r * (1 + 12.0 / 1e4) < 0.1  # at the fee, one tick at most out
    assert ask.px > m.best_bid and ladders[True].bids == ()
    assert "priced to close" in ladders[True].note


def test_the_held_exit_is_not_announced_when_its_level_does_not_pay_the_fee_either():
    m = _state((-6.0,), (-6.0,))
    q = _quoter(unwind_free=True, unwind_after_s=60.0, unwind_losing_only=True, unwind_at_fee=False)
    q = QuoterCore("ETH", msgspec.structs.replace(q.params, maker_fee_bp=50.0), 4)  # no level pays this fee
    losing = msgspec.structs.replace(_long(0.05), unrealized_pnl=-2.0)
    q.quote(m, losing, 100.0)
    ladder = q.quote(msgspec.structs.replace(m, ts=170.0), losing, 170.0)
    assert ladder.asks == () and "priced to close" not in ladder.note


@pytest.mark.parametrize("extra", [{}, {"position_cap_lots": 1.0},
                                   {"tape_edge": {"add_horizon_s": 10.0, "hold_horizon_s": 10.0}}])
def test_a_requote_on_the_same_book_answers_as_a_fresh_quoter_would(extra):
    """Risk news requotes on the book already quoted: the quoter reuses a side it worked out
    only while nothing it depends on changed. Position, size and spread multipliers and
    halting each change the ladder exactly as a quoter that never saw the first quote."""
    cfg = config.load("config.toml")
    q = msgspec.structs.replace(cfg.assets["ETH"].quoting, model="as", levels=3)
    if "tape_edge" in extra:
        q = msgspec.structs.replace(q, tape_edge=msgspec.structs.replace(q.tape_edge, **extra["tape_edge"]))
    elif extra:
        q = msgspec.structs.replace(q, **extra)
    m = _state((1.0, 0.5, 0.2), (-0.5, 0.3, 0.8))
    risks = [_flat(), _long(0.2), _long(-0.3), msgspec.structs.replace(_flat(), size_mult_bid=0.5),
             msgspec.structs.replace(_flat(), spread_mult_ask=3.0), msgspec.structs.replace(_flat(), allow_bid=False),
             msgspec.structs.replace(_flat(), halted=True), _flat()]
    seen = QuoterCore("ETH", q, 4)
    ladders = []
    for i, risk in enumerate(risks):
        ts = 100.0 + i
        got = seen.quote(m, risk, ts)
        want = QuoterCore("ETH", q, 4).quote(m, risk, ts)
        assert got == want
        ladders.append((got.bids, got.asks))
    assert len(set(ladders)) >= 5  # the risk news did change the ladder


def _mixed(z: float) -> TapeEdge:
    """200 shallow prints (0.2 bp) whose bid makers saw +1 +/- 4 bp, and 5 deep ones (3.2 bp)
    that saw +2 +/- 4: the deep mean is as noisy per print, but rests on 5 prints."""
    te = TapeEdge(horizon_s=10.0, window_s=10_000.0, bin_bp=0.5, min_trades=30, confidence_z=z)
    t = 0.0
    for i in range(205):
        t += 1.0
        depth, mean = (3.2, 2.0) if i % 41 == 40 else (0.2, 1.0)
        te.on_trade(t, 100.0 * (1 - depth / 1e4), "A", 100.0)
        te.on_mid(t + 10.0, 100.0 * (1 + (mean + (4.0 if i % 2 else -4.0)) / 1e4))
        te.on_mid(t + 10.5, 100.0)
    return te


def test_with_a_confidence_bound_a_depth_few_prints_reached_is_believed_less():
    plain, bound = _mixed(0.0).tails("B"), _mixed(1.0).tails("B")
    assert len(plain) == len(bound) == 7  # out to the 3.2 bp bin
    shallow_cut, deep_cut = plain[0] - bound[0], plain[-1] - bound[-1]
    assert 0 < shallow_cut < 0.4  # 205 prints: a fraction of a bp
    assert deep_cut > 1.5  # 5 prints of the same spread: about 4 / sqrt(5) bp
    assert math.isclose(deep_cut, math.sqrt(16.0 / 5), rel_tol=0.05)
    assert bound[-1] < plain[-1] - 1.5 and plain[-1] > plain[0]  # the lucky deep mean no longer looks better

