"""Fault injection inside the simulated matching engine: injected rejects, split fills,
failed requests and throttling (``SimExchange.faults``)."""
import pathlib

import pytest

import config as c
from messages.market import Level, Trade
from messages.orders import Fill, NewOrder, OrderAck, OrderCancelled, OrderReject
from venues.sim.engine import SimRequestFailed
from venues.sim.faults import Faults
from venues.sim.faults import SimRequestFailed as FaultsSimRequestFailed
from venues.sim.market import TakerOrder
from tests.sim_helpers import scripted_sol
from tests.sim_helpers import formula_market

ROOT = pathlib.Path(__file__).resolve().parents[3]
TICK = 0.01
MARGIN = "Insufficient margin to place order. asset=2"




@pytest.fixture(scope="module")
def cfg():
    return formula_market(c.load(ROOT / "config.toml"))


@pytest.fixture
def sol(cfg):
    return scripted_sol(cfg)


def bid(cloid, px=149.9, sz=1.0):
    return NewOrder(cloid=cloid, side="B", px=px, sz=sz)


def ask(cloid, px=150.1, sz=1.0):
    return NewOrder(cloid=cloid, side="A", px=px, sz=sz)


def sell(eng, m, px, sz, ts):
    m.takers.append(TakerOrder("A", (1 - (px + TICK / 2) / m.mid) * 1e4, sz))
    return [e for e in eng.advance(ts) if e.asset == "SOL"]


def state(eng):
    """Everything a request could change."""
    return (tuple(eng.open_orders(a) for a in eng.cfg.portfolio.assets), eng.rate_limit_status(),
            eng.ip_weight_used(1e9), eng.open_order_count(), tuple(eng.position(a) for a in eng.cfg.portfolio.assets),
            eng._next_oid)


def test_the_engine_exposes_faults_and_the_error_type():
    assert SimRequestFailed is FaultsSimRequestFailed and issubclass(SimRequestFailed, Exception)


def test_reject_next_refuses_the_next_n_orders_with_the_text(sol):
    eng, m = sol
    eng.faults.reject_next("SOL", 3, MARGIN)
    answers = eng.place("SOL", [bid("a"), bid("b")], 1.0)
    assert [(type(a), a.reason) for a in answers] == [(OrderReject, MARGIN)] * 2
    assert eng.place("ETH", [bid("e", 3000.0, 0.01)], 1.0)[0].__class__ is OrderAck  # other assets untouched
    answers = eng.place("SOL", [bid("c"), bid("d", 149.005)], 2.0)  # the third, then back to the rules
    assert answers[0].reason == MARGIN and answers[1].reason.startswith("Price must be divisible by tick size")
    assert isinstance(eng.place("SOL", [bid("e")], 3.0)[0], OrderAck)
    assert eng.faults.armed("SOL")["reject_next"] == 0
    assert [o.cloid for o in eng.open_orders("SOL")] == ["e"]
    assert eng.rate_limit_status()["nRequestsUsed"] == 6  # rejected orders were still requests
    eng.faults.reject_next("SOL", 5, "x")
    eng.faults.reject_next("SOL", 1, "replaced")  # arming again replaces
    assert eng.place("SOL", [bid("f"), bid("g")], 4.0)[0].reason == "replaced"
    assert [o.cloid for o in eng.open_orders("SOL")] == ["e", "g"]


def test_partial_fills_split_each_fill_into_pieces_with_their_own_tids(sol, cfg):
    eng, m = sol
    eng.faults.partial_fills("SOL", 0.25)
    eng.place("SOL", [bid("b", 149.99, 1.0)], 0.0)
    fills = [e for e in sell(eng, m, 149.99, 3.9, 1.0) if isinstance(e, Fill)]  # 3 of queue, 0.9 for us
    assert [(f.sz, f.remaining) for f in fills] == [(0.25, 0.75), (0.25, 0.5), (0.25, 0.25), (0.15, 0.1)]
    assert len({f.tid for f in fills}) == 4 and [f.tid for f in fills] == sorted(f.tid for f in fills)
    assert sum(f.fee for f in fills) == pytest.approx(149.99 * 0.9 * cfg.sim.maker_fee)
    assert eng.position("SOL") == 0.9
    assert eng.cash("SOL") == pytest.approx(-149.99 * 0.9 * (1 + cfg.sim.maker_fee))
    # a trade-through is split too, under one public trade
    eng.place("SOL", [ask("a", 150.02, 0.3)], 1.5)
    m.mid, m.bids, m.asks = 150.1, (Level(150.05, 1.0),), (Level(150.11, 1.0),)
    ev = [e for e in eng.advance(2.0) if e.asset == "SOL"]
    assert [type(e) for e in ev] == [Trade] + [Fill] * 5  # b's 0.1 rests below: only 'a' crosses
    assert [f.sz for f in ev[1:]] == [0.07, 0.07, 0.07, 0.07, 0.02]  # 0.25 x 0.3 = 0.075 -> 0.07 (lot grid)
    assert ev[-1].remaining == 0.0 and eng.position("SOL") == pytest.approx(0.6)
    # cleared: whole fills again
    eng.faults.partial_fills("SOL", None)
    m.mid, m.bids, m.asks = 150.0, (Level(149.99, 3.0),), (Level(150.01, 3.0),)
    [f] = [e for e in sell(eng, m, 149.99, 1.0, 3.0) if isinstance(e, Fill)]
    assert (f.cloid, f.sz, f.remaining) == ("b", 0.1, 0.0)


def test_partial_fill_pieces_are_at_least_one_lot(sol):
    eng, m = sol
    eng.faults.partial_fills("SOL", 0.001)
    eng.place("SOL", [bid("b", 150.0, 0.07)], 0.0)
    fills = [e for e in sell(eng, m, 150.0, 1.0, 1.0) if isinstance(e, Fill)]
    assert [f.sz for f in fills] == [0.01] * 7 and fills[-1].remaining == 0.0


def test_fail_requests_raise_and_change_nothing(sol):
    eng, m = sol
    eng.place("SOL", [bid("a"), bid("b")], 0.0)
    eng.faults.fail_requests("SOL", 6)
    before = state(eng)
    calls = [lambda: eng.place("SOL", [bid("c")], 1.0), lambda: eng.cancel("SOL", ["a"], 1.0),
             lambda: eng.cancel_all("SOL", 1.0), lambda: eng.open_orders("SOL", ts=1.0),
             lambda: eng.position("SOL", ts=1.0), lambda: eng.fills("SOL", 0.0, ts=1.0)]
    for call in calls:
        with pytest.raises(SimRequestFailed, match="SOL"):
            call()
        assert state(eng) == before  # peeks (no ts) neither fail nor use up the fault
    assert eng.faults.armed("SOL")["fail_requests"] == 0
    assert isinstance(eng.place("ETH", [bid("e", 3000.0, 0.01)], 1.0)[0], OrderAck)
    assert [type(a) for a in eng.cancel("SOL", ["a"], 2.0)] == [OrderCancelled]
    eng.faults.fail_requests("SOL", 1)
    eng.advance(3.0)  # the market and matching are not requests
    assert eng.faults.armed("SOL")["fail_requests"] == 1


def test_throttle_answers_batches_with_the_budget_text_and_has_no_effect(sol):
    eng, m = sol
    eng.place("SOL", [bid("a")], 0.0)
    eng.faults.throttle("SOL", 2)
    used = eng.rate_limit_status()["nRequestsUsed"]
    answers = eng.place("SOL", [bid("b"), bid("c")], 1.0)
    text = ("Too many cumulative requests sent (10002 > 10000) for cumulative volume traded $0.00. "
            "Place taker orders to free up 1 request per USDC traded.")
    assert [(type(a), a.reason) for a in answers] == [(OrderReject, text)] * 2
    out = eng.cancel("SOL", ["a"], 1.0)
    assert isinstance(out[0], OrderReject) and out[0].reason.startswith("Too many cumulative requests sent (")
    assert "(20001 > 20000)" in out[0].reason  # the cancel cap: min(10000 + 100000, 2 x 10000)
    assert [o.cloid for o in eng.open_orders("SOL")] == ["a"]
    assert eng.rate_limit_status()["nRequestsUsed"] == used  # no budget spent ...
    assert eng.ip_weight_used(1.0) == 1 + 2  # ... but the requests did reach the venue
    assert isinstance(eng.place("SOL", [bid("d")], 2.0)[0], OrderAck)  # the third goes through
    assert eng.faults.armed("SOL")["throttle"] == 0


def test_faults_validate_their_arguments_and_clear():
    f = Faults(["SOL", "ETH"])
    with pytest.raises(KeyError, match="DOGE"):
        f.reject_next("DOGE", 1, "x")
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            f.fail_requests("SOL", bad)
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError):
            f.partial_fills("SOL", bad)
    f.reject_next("SOL", 2, "r")
    f.partial_fills("SOL", 1.0)
    f.fail_requests("ETH", 3)
    f.throttle("ETH", 4)
    assert f.armed("SOL") == {"reject_next": 2, "reject_reason": "r", "partial_fills": 1.0, "fail_requests": 0,
                              "throttle": 0}
    f.clear("SOL")
    assert f.armed("SOL")["reject_next"] == 0 and f.armed("ETH")["throttle"] == 4
    f.clear()
    assert f.armed("ETH") == {"reject_next": 0, "reject_reason": "", "partial_fills": None, "fail_requests": 0,
                              "throttle": 0}
    assert f.take_reject("SOL") is None and not f.take_failure("SOL") and not f.take_throttle("SOL")
