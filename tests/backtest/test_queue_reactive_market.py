"""The third generated market (bench/queue_reactive.py): the queue-reactive book with
self-exciting order flow and news that redraws the book, whose streams
``python -m bench compare --market queue_reactive`` replays."""
from __future__ import annotations

import msgspec
import numpy as np
import pytest

from bench.queue_reactive import PROFILES, QueueReactiveMarket
from bench.stream import generate
from tests.stream_helpers import sample, two_minutes_of_hype


def run(asset: str, seed: int, seconds: float, **changes):
    """(ts, bids, asks, latent value) every 0.5 s, every print with its time, and the market."""
    m = QueueReactiveMarket(msgspec.structs.replace(PROFILES[asset], **changes), seed)
    return (*sample(m, seconds), m)


def test_the_book_is_a_sound_one_tick_market_that_follows_the_news():
    seen, prints, m = run("BTC", 1, 600)
    assert all(b[0].px < a[0].px for _, b, a, _ in seen)  # never crossed, not even by a redraw
    assert all(len(b) == 20 and len(a) == 20 for _, b, a, _ in seen)
    assert all(x.px > y.px for _, b, _, _ in seen for x, y in zip(b, b[1:]))  # best first
    spreads = np.array([round(a[0].px - b[0].px) for _, b, a, _ in seen])  # BTC's tick is $1 at $95,000
    assert np.mean(spreads == 1) > 0.6 and np.median(spreads) == 1  # measured 82% on seed 1
    assert 4 < len(prints) / 600 < 30
    mids = np.array([(b[0].px + a[0].px) / 2 for _, b, a, _ in seen])
    values = np.array([v for *_, v in seen])
    assert np.median(np.abs(values / mids - 1)) * 1e4 < 3.0  # news reaches the price
    minute = slice(None, None, 120)
    assert np.corrcoef(np.diff(mids[minute]), np.diff(values[minute]))[0, 1] > 0.7
    assert m.redraws > 1  # the start's, and news since


def test_the_same_seed_is_the_same_market_and_another_seed_is_not():
    a, pa, _ = run("HYPE", 4, 60)
    b, pb, _ = run("HYPE", 4, 60)
    c, _, _ = run("HYPE", 5, 60)
    assert a == b and pa == pb
    assert a != c


def test_trades_come_in_bursts_only_with_the_hawkes_clock():
    def dispersion(**changes) -> float:
        _, prints, _ = run("BTC", 2, 600, **changes)
        steps = np.bincount([round(t * 10) for t, _ in prints], minlength=6001)[1:]
        per_s = steps.reshape(-1, 10).sum(axis=1)
        return float(per_s.var() / per_s.mean())

    bursty = dispersion()
    calm = dispersion(hawkes_self=0.0, hawkes_cross=0.0, mkt_rate=2.0)  # about as many prints, Poisson orders
    assert bursty > 4.0  # measured 6.1 on seed 1
    assert calm < 0.6 * bursty  # a walk's several prints still spread Poisson counts somewhat


def test_the_thin_side_of_the_touch_is_taken_more():
    seen, prints, _ = run("BTC", 3, 900)
    ts = np.array([t for t, *_ in seen])
    buys_when_asks_thin = []
    for t, p in prints:
        i = np.searchsorted(ts, t) - 1  # the last book before the print
        if i >= 0:
            _, b, a, _ = seen[i]
            if a[0].sz * 2 <= b[0].sz or b[0].sz * 2 <= a[0].sz:
                buys_when_asks_thin.append((a[0].sz < b[0].sz) == (p.side == "B"))
    assert len(buys_when_asks_thin) > 500
    assert np.mean(buys_when_asks_thin) > 0.55  # the queue-reactive intensities and depletion


def test_a_queue_reactive_stream_is_a_replayable_recording_and_compare_asks_for_it(tmp_path):
    from bench.compare import parse_args

    two_minutes_of_hype(tmp_path, "queue_reactive")
    assert parse_args(["--market", "queue_reactive", "--asset", "hype"])["market"] == "queue_reactive"
    for bad in (["--market", "queue_reactive", "--asset", "ETH"],
                ["--stream", str(tmp_path), "--market", "queue_reactive"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    with pytest.raises(ValueError, match="no profile for SOL"):
        generate(tmp_path / "sol", hours=0.01, seed=1, asset="SOL", market_model="queue_reactive")
