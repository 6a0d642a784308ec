"""Latency profiles of the simulated venue (venues/sim/latency.py) and their use on
the sim venue's wires."""
import msgspec
import numpy as np
import pytest
import trio
import trio.testing

from config import SimConfig
from tests.hive_helpers import sim_config
from venues.sim.latency import LatencyModel
from venues.sim.venue import SimVenue

N = 50_000


def draws(model, n=N):
    order = np.array([model.order_s() for _ in range(n)])
    ack = np.array([model.ack_s() for _ in range(n)])
    feed = np.array([model.feed_s() for _ in range(n)])
    book = np.array([model.book_interval_s() for _ in range(n)])
    return order, ack, feed, book


def test_fixed_profile_is_exactly_the_configured_values():
    sim = SimConfig(latency_profile="fixed", order_latency_ms=35.0, ack_latency_ms=12.5, feed_latency_ms=7.0,
                    book_interval_s=0.75)
    m = LatencyModel(sim, 1)
    for _ in range(100):
        assert m.order_s() == 0.035 and m.ack_s() == 0.0125 and m.feed_s() == 0.007
        assert m.book_interval_s() == 0.75
    assert LatencyModel(SimConfig(), 1).order_s() == 0.02  # "fixed" is the default


def test_zero_profile_has_no_latency_but_keeps_the_push_cadence():
    sim = SimConfig(latency_profile="zero", order_latency_ms=35.0, book_interval_s=0.5)
    order, ack, feed, book = draws(LatencyModel(sim, 3), 1000)
    assert not order.any() and not ack.any() and not feed.any()
    assert (book == 0.5).all()


def test_hyperliquid_profile_matches_hyperliquids_latencies():
    sim = SimConfig(latency_profile="hyperliquid")
    order, ack, feed, book = draws(LatencyModel(sim, 7))
    rtt = order + ack
    assert np.median(rtt) == pytest.approx(0.2, abs=0.015)
    assert np.quantile(rtt, 0.99) == pytest.approx(0.9, abs=0.08)
    assert (order > 0).all() and (ack > 0).all() and (feed > 0).all()
    assert np.median(ack) < np.median(order)  # most of the trip is block inclusion
    assert np.median(feed) == pytest.approx(0.05, abs=0.005)
    assert np.quantile(feed, 0.99) < 0.25
    assert book.min() >= 0.5 and book.max() <= 0.6  # small jitter, never below the cadence
    assert book.mean() == pytest.approx(0.52, abs=0.01) and book.std() > 0


def test_hyperliquid_draws_are_seeded_and_independent_per_kind():
    sim = SimConfig(latency_profile="hyperliquid")
    a, b, other = LatencyModel(sim, 11), LatencyModel(sim, 11), LatencyModel(sim, 12)
    seq_a = [a.ack_s() for _ in range(600)]  # crosses the block refill
    # b interleaves other kinds of draws: its acks are the same sequence
    seq_b = []
    for _ in range(600):
        b.order_s()
        b.feed_s()
        b.book_interval_s()
        seq_b.append(b.ack_s())
    assert seq_a == seq_b
    assert seq_a != [other.ack_s() for _ in range(600)]


class _Gateway:
    """What SimVenue needs from a gateway: remembers the book pushes."""

    def __init__(self):
        self.books: list[float] = []

    def attach(self, venue):
        self.venue = venue

    def deliver_book(self, snap):
        self.books.append(trio.current_time())

    def deliver(self, asset, msg):
        pass

    def deliver_trade(self, trade):
        pass

    def reconnected(self, asset, ts):
        pass


def _run_venue(profile: str):
    """A request's round trip and the push times of one coin, on a mock clock."""
    cfg = sim_config(sim={"latency_profile": profile})
    cfg = msgspec.structs.replace(cfg, portfolio=msgspec.structs.replace(cfg.portfolio, assets=("BTC",)))
    gw = _Gateway()
    venue = SimVenue(cfg, gw, seed=5)
    out = {}

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(venue.serve)
            t0 = trio.current_time()
            await venue.open_orders("BTC")
            out["rtt"] = trio.current_time() - t0
            await trio.sleep(30.0)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return out["rtt"], np.array(gw.books), cfg


def test_the_sim_venue_puts_the_profiles_latency_on_its_wires():
    rtt, books, cfg = _run_venue("fixed")
    assert rtt == pytest.approx((cfg.sim.order_latency_ms + cfg.sim.ack_latency_ms) / 1000)
    assert np.diff(books) == pytest.approx(0.5)
    assert len(books) >= 59

    rtt, books, cfg = _run_venue("hyperliquid")
    model = LatencyModel(cfg.sim, 5)  # the venue's model: seeded like the engine
    assert rtt == pytest.approx(model.order_s() + model.ack_s())
    gaps = np.diff(books)
    assert (gaps > 0.25).all() and gaps.mean() == pytest.approx(0.52, abs=0.02)  # push gap ± feed delays
    assert gaps.std() > 0  # jittered pushes and feed delays

    rtt, _, _ = _run_venue("zero")
    assert rtt == 0.0
