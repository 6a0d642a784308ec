"""Queue-position models (models.md §4) and how the matching engine uses them."""
import math
import pathlib

import msgspec
import pytest

import config as c
from messages.market import Level
from messages.orders import Fill, NewOrder, OrderAck
from venues.sim.engine import SimExchange
from venues.sim.market import TakerOrder
from venues.sim.queue import MODELS, QueueModel, queue_model
from tests.sim_helpers import ScriptedMarket

ROOT = pathlib.Path(__file__).resolve().parents[3]
TICK = 0.01  # SOL's tick around 150

# models.md §4.3, "Test vectors": (name, power) -> Case 1 p, Case 1 front, Case 2 front
VECTORS = [
    (("power", 2.0), 0.8448, 28.448, 51.765),
    (("power", 3.0), 0.9270, 29.270, 50.462),
    (("log", 3.0), 0.5538, 25.538, 62.278),
    (("power2", 2.0), 0.49, 24.900, 51.200),
    (("log2", 3.0), 0.9236, 29.236, 69.791),
    (("power3", 3.0), 0.973, 29.730, 64.640),
]


# -- the models ----------------------------------------------------------------------------
@pytest.mark.parametrize("spec, p1, front1, front2", VECTORS, ids=[f"{n}{p:g}" for (n, p), *_ in VECTORS])
def test_models_md_test_vectors(spec, p1, front1, front2):
    m = queue_model(*spec)
    # Case 1: front 30, prev 100 (back 70), new 90 (chg 10), no trades
    assert m.prob(30.0, 70.0) == pytest.approx(p1, abs=6e-4)
    assert m.on_depth_change(30.0, 100.0, 90.0, 0.0) == pytest.approx(front1, abs=6e-4)
    # Case 2: front 80, prev 100 (back 20), new 70 (chg 30)
    assert m.on_depth_change(80.0, 100.0, 70.0, 0.0) == pytest.approx(front2, abs=6e-4)


def test_risk_averse_moves_only_with_trades_or_a_level_shrinking_below_us():
    m = queue_model("risk_averse")
    assert m.risk_averse and m.on_trade(30.0, 12.0) == 18.0
    assert m.on_depth_change(30.0, 100.0, 90.0, 0.0) == 30.0  # the cancel came from behind
    assert m.on_depth_change(30.0, 100.0, 25.0, 0.0) == 25.0  # ... unless the level is now smaller
    assert m.on_depth_change(30.0, 100.0, 140.0, 0.0) == 30.0


@pytest.mark.parametrize("name", [n for n in MODELS if n != "risk_averse"])
def test_probabilistic_models_boundaries_growth_and_trades(name):
    m = queue_model(name, 2.0)
    for back in (0.5, 3.0, 70.0):
        assert m.prob(0.0, back) == pytest.approx(1.0)  # at the head every cancel is behind us
    for front in (0.5, 3.0, 70.0):
        assert m.prob(front, 0.0) == pytest.approx(0.0)  # at the tail every cancel is in front
    assert m.prob(0.0, 0.0) == 1.0  # an empty level: 0/0 is taken as 1
    assert 0.0 < m.prob(30.0, 70.0) < 1.0
    # the level grew: joiners queue behind us; only a cap at the new size
    assert m.on_depth_change(30.0, 100.0, 120.0, 0.0) == 30.0
    assert m.on_depth_change(30.0, 20.0, 25.0, 0.0) == 25.0
    # a decrease fully explained by trades moves nothing more (the trade already did)
    front = m.on_trade(30.0, 10.0)
    assert front == 20.0
    assert m.on_depth_change(front, 100.0, 90.0, 10.0) == pytest.approx(20.0)
    # a cancel larger than the whole back queue spills into the front
    assert m.on_depth_change(30.0, 40.0, 5.0, 0.0) <= 5.0
    # the estimate never rises on a decrease
    for f, prev, new in ((30.0, 100.0, 90.0), (80.0, 100.0, 70.0), (1.0, 2.0, 1.5), (50.0, 50.0, 10.0)):
        assert m.on_depth_change(f, prev, new, 0.0) <= f


def test_power_changes_the_power_models_and_not_the_log_ones():
    assert queue_model("power3", 2.0).prob(30, 70) != queue_model("power3", 3.0).prob(30, 70)
    assert queue_model("log2", 2.0).prob(30, 70) == queue_model("log2", 3.0).prob(30, 70)
    # the log models depend on the absolute size, the power models do not
    assert queue_model("power", 2.0).prob(3, 7) == pytest.approx(queue_model("power", 2.0).prob(300, 700))
    assert queue_model("log", 2.0).prob(3, 7) != pytest.approx(queue_model("log", 2.0).prob(300, 700))


def test_factory_refuses_unknown_names_and_bad_powers():
    with pytest.raises(ValueError, match="unknown queue model"):
        queue_model("square")
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="power"):
            queue_model("power", bad)
    assert isinstance(queue_model("log"), QueueModel) and "power3" in repr(queue_model("power3", 3.0))


# -- in the engine -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cfg():
    return c.load(ROOT / "config.toml")


def engine(cfg, model, power=3.0, **sim):
    cfg = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, queue_model=model, queue_power=power,
                                                                   **sim))
    eng = SimExchange(cfg, seed=1)
    m = ScriptedMarket(150.0, [(149.99, 100.0), (149.98, 100.0)], [(150.01, 100.0), (150.02, 100.0)])
    eng.markets["SOL"] = m
    return eng, m


def sell_at(m, px, sz):
    """A seller whose print lands exactly on ``px``."""
    m.takers.append(TakerOrder("A", (1 - (px + TICK / 2) / m.mid) * 1e4, sz))


def bid(cloid, px, sz):
    return NewOrder(cloid=cloid, side="B", px=px, sz=sz)


def test_engine_front_starts_at_the_displayed_size_and_cancels_move_it_per_the_model(cfg):
    results = {}
    for name, power in (("risk_averse", 3.0), ("power", 2.0), ("power3", 3.0), ("log", 3.0)):
        eng, m = engine(cfg, name, power)
        [ack] = eng.place("SOL", [bid("b", 149.99, 1.0)], 0.0)
        assert isinstance(ack, OrderAck) and eng.queue_ahead("SOL", "b") == 100.0
        eng.advance(1.0)  # nothing changed: nothing moves
        assert eng.queue_ahead("SOL", "b") == 100.0
        m.set_bid(149.99, 90.0)  # 10 cancelled; we are at the back (front 100 of 100)
        eng.advance(2.0)
        results[name] = eng.queue_ahead("SOL", "b")
    # risk-averse: front = min(front, new); P(back = 0) = 0: a cancel behind us is impossible
    assert results == {"risk_averse": 90.0, "power": 90.0, "power3": 90.0, "log": 90.0}

    eng, m = engine(cfg, "power", 2.0)
    eng.place("SOL", [bid("b", 149.99, 1.0)], 0.0)
    sell_at(m, 149.99, 70.0)  # 70 trade ahead of us: front 30, back 70 (prev 100)
    assert [e for e in eng.advance(1.0) if isinstance(e, Fill)] == []
    assert eng.queue_ahead("SOL", "b") == pytest.approx(30.0)
    m.set_bid(149.99, 100.0)  # the sim's book does not shrink with trades: cum_trade explains
    eng.advance(2.0)  # 100 -> 100 is no change: nothing to do
    m.set_bid(149.99, 90.0)  # chg = 100 - 90 - 70 < 0: explained by the trades, front capped
    eng.advance(3.0)
    assert eng.queue_ahead("SOL", "b") == pytest.approx(30.0)
    m.set_bid(149.99, 80.0)  # now a true cancel of 10 (prev 90, front 30, back 60)
    eng.advance(4.0)
    p = queue_model("power", 2.0).prob(30.0, 60.0)
    assert eng.queue_ahead("SOL", "b") == pytest.approx(30.0 - (1 - p) * 10.0)


def test_engine_looks_at_depth_once_per_l2book_interval(cfg):
    eng, m = engine(cfg, "risk_averse")
    assert cfg.sim.book_interval_s == 0.5
    eng.place("SOL", [bid("b", 149.99, 1.0)], 0.0)
    eng.advance(1.0)
    m.set_bid(149.99, 60.0)
    eng.advance(1.2)  # the same l2Book interval as 1.0: not seen yet
    assert eng.queue_ahead("SOL", "b") == 100.0
    m.set_bid(149.99, 100.0)
    eng.advance(1.4)
    eng.advance(1.5)  # a new interval: the level is back to 100, no change seen at all
    assert eng.queue_ahead("SOL", "b") == 100.0
    m.set_bid(149.99, 70.0)
    eng.advance(1.6)
    assert eng.queue_ahead("SOL", "b") == 100.0
    eng.advance(2.0)
    assert eng.queue_ahead("SOL", "b") == 70.0


def test_engine_case_1_through_the_book(cfg):
    """models.md Case 1 (front 30 of 100, the level drops to 90) via the engine."""
    for (name, power), _, front1, _ in VECTORS:
        eng, m = engine(cfg, name, power)
        m.set_bid(149.99, 30.0)
        eng.place("SOL", [bid("b", 149.99, 1.0)], 0.0)  # 30 ahead ...
        m.set_bid(149.99, 100.0)  # ... 70 join behind us
        eng.advance(1.0)
        assert eng.queue_ahead("SOL", "b") == 30.0
        m.set_bid(149.99, 90.0)
        eng.advance(2.0)
        assert eng.queue_ahead("SOL", "b") == pytest.approx(front1, abs=6e-4), name


def test_engine_a_moved_up_order_fills_sooner(cfg):
    """Same cancels and prints: the probabilistic model reaches the front first."""
    got = {}
    for name in ("risk_averse", "power3"):
        eng, m = engine(cfg, name, 3.0)
        m.set_bid(149.99, 50.0)
        eng.place("SOL", [bid("b", 149.99, 1.0)], 0.0)
        m.set_bid(149.99, 100.0)
        eng.advance(1.0)
        m.set_bid(149.99, 60.0)  # 40 cancelled
        eng.advance(2.0)
        sell_at(m, 149.99, 46.0)
        filled = [f.sz for f in eng.advance(3.0) if isinstance(f, Fill)]
        got[name] = (filled, eng.queue_ahead("SOL", "b") if eng.open_orders("SOL") else None)
    # risk-averse: still 50 ahead, a print of 46 leaves 4; power3 (p = 1 - 0.5^3) moved us
    # to 50 - 0.125 * 40 = 45, so the print's last unit is ours
    assert got["risk_averse"] == ([], pytest.approx(4.0))
    assert got["power3"] == ([1.0], None)


def test_engine_level_gone_puts_us_at_the_front_and_the_front_stays(cfg):
    eng, m = engine(cfg, "risk_averse")
    eng.place("SOL", [bid("b", 149.99, 2.0)], 0.0)
    m.set_bid(149.99, 0)  # the level emptied (the book shows nothing there)
    eng.advance(1.0)
    assert eng.queue_ahead("SOL", "b") == 0.0
    m.set_bid(149.99, 500.0)  # newcomers queue behind us
    eng.advance(2.0)
    assert eng.queue_ahead("SOL", "b") == 0.0
    sell_at(m, 149.99, 0.5)
    [f] = [e for e in eng.advance(3.0) if isinstance(e, Fill)]
    assert f.sz == 0.5


def test_engine_order_beyond_the_book_it_can_see_is_left_alone(cfg):
    eng, m = engine(cfg, "risk_averse", book_levels=5)  # it looks at most 4 x 5 = 20 levels deep
    deep = [(round(149.99 - i * TICK, 2), 10.0) for i in range(60)]
    m.bids = tuple(Level(p, s) for p, s in deep)
    px = deep[30][0]
    eng.place("SOL", [bid("near", 149.97, 1.0), bid("deep", px, 1.0)], 0.0)
    assert eng.queue_ahead("SOL", "near") == 10.0
    assert eng.queue_ahead("SOL", "deep") == 0.0  # not seen at placement either
    m.bids = tuple(Level(p, 4.0) for p, _ in deep)
    eng.advance(1.0)
    assert eng.queue_ahead("SOL", "near") == 4.0
    eng2, m2 = engine(cfg, "risk_averse", book_levels=5)
    m2.bids = tuple(Level(p, s) for p, s in deep)
    eng2.place("SOL", [bid("mid", deep[12][0], 1.0)], 0.0)  # within 20 levels: read deeper than 5
    assert eng2.queue_ahead("SOL", "mid") == 10.0
    m2.bids = tuple(Level(p, 4.0) for p, _ in deep)
    eng2.advance(1.0)
    assert eng2.queue_ahead("SOL", "mid") == 4.0


def test_engine_on_the_live_market_the_probabilistic_model_is_never_behind_risk_averse(cfg):
    """Same seed, same market: the estimates differ only by the model, and power3's
    is at most risk-averse's (its update never raises the front)."""
    fronts = {}
    for name in ("risk_averse", "power3"):
        cfg2 = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, queue_model=name))
        eng = SimExchange(cfg2, seed=3)
        eng.advance(1.0)
        snap = eng.book_snapshot("ETH", 1.0, 1)
        lv = snap.bids[6]  # deep enough that takers rarely reach it in a few seconds
        eng.place("ETH", [bid("b", lv.px, 0.01)], 1.0)
        seq = [eng.queue_ahead("ETH", "b")]
        for i in range(11, 41):
            eng.advance(i / 10)
            if "b" not in {o.cloid for o in eng.open_orders("ETH")}:
                break
            seq.append(eng.queue_ahead("ETH", "b"))
        fronts[name] = seq
    n = min(len(fronts["risk_averse"]), len(fronts["power3"]))
    assert n > 5 and fronts["power3"][0] == fronts["risk_averse"][0] > 0
    assert all(p <= r + 1e-9 for p, r in zip(fronts["power3"][:n], fronts["risk_averse"][:n]))
    assert fronts["power3"][n - 1] < fronts["power3"][0]  # the redrawn book moved us up
