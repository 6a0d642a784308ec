"""The order-flow forecast of the mid (strategy/flow_fair.py) and ``fair_value = "flow"``."""
import copy
import math
import tomllib

import msgspec
import numpy as np
import pytest

import config as c
from messages.market import BookSnapshot, Level
from strategy.book import BookCore
from strategy.book_role import BookRole
from strategy.fair_value import fair_price
from strategy.flow_fair import FlowFair

TICK = 1.0
STEP_S = 0.5


def lagging_book(seed: int, n: int, *, informative: bool = True):
    """Books every 0.5 s. ``informative``: the touch follows a hidden price with a lag and
    its sizes lean the way the hidden price has gone (makers who see it add on that side,
    as a real book's flow leans before its touch moves). Otherwise the touch is a random
    walk (nothing forecasts it) and the sizes are noise."""
    rng = np.random.default_rng(seed)
    fair = mid = 10_000.5
    for i in range(n):
        fair += rng.normal(0.0, 0.8)
        if not informative:
            if rng.random() < 0.4:
                mid += TICK if rng.random() < 0.5 else -TICK
        elif abs(fair - mid) > TICK and rng.random() < 0.4:
            mid += TICK if fair > mid else -TICK
        lean = max(-4.0, min(4.0, fair - mid)) if informative else rng.normal(0.0, 1.5)
        bid_sz = max(0.5, 5.0 + 2.0 * lean + rng.normal(0.0, 1.0))
        ask_sz = max(0.5, 5.0 - 2.0 * lean + rng.normal(0.0, 1.0))
        bids = tuple(Level(mid - 0.5 - k, bid_sz if k == 0 else 5.0) for k in range(5))
        asks = tuple(Level(mid + 0.5 + k, ask_sz if k == 0 else 5.0) for k in range(5))
        yield i * STEP_S, bids, asks, mid


def forecasts(seed: int, n: int, books=lagging_book, **kw):
    """(forecast, the mid's move over the next 2 s from the microprice) per book, bp."""
    ff = FlowFair(horizon_s=2.0, window_s=600.0, refit_s=5.0, min_samples=200)
    out, mids, micros = [], [], []
    for ts, bids, asks, mid in books(seed, n, **kw):
        micro = (bids[0].px * asks[0].sz + asks[0].px * bids[0].sz) / (bids[0].sz + asks[0].sz)
        out.append(ff.on_book(ts, bids, asks, mid, micro))
        mids.append(mid)
        micros.append(micro)
    ahead = int(2.0 / STEP_S)
    moves = [(mids[i + ahead] - micros[i]) / micros[i] * 1e4 for i in range(n - ahead)]
    return np.array(out[:n - ahead]), np.array(moves), ff


def test_a_book_whose_flow_leans_before_its_touch_moves_is_forecast_out_of_sample():
    f, moves, ff = forecasts(1, 2400)
    later = slice(1400, None)  # books after the first fits, forecast before their move was known
    assert ff.beta is not None
    assert np.corrcoef(f[later], moves[later])[0, 1] > 0.4
    # a fair price moved by the forecast is nearer where the mid goes than the microprice
    assert np.mean((moves[later] - f[later]) ** 2) < 0.85 * np.mean(moves[later] ** 2)


def deep_lean_book(seed: int, n: int):
    """Books every 0.5 s, 20 levels a side, whose touch follows a hidden price with a lag
    and whose touch sizes are noise: only the depth behind the touch shows where the
    makers are. Those who have seen the price add behind the touch on its side and pull
    on the other, so the book's weight sits toward the hidden price (as the
    order-book market's background makers quote around its latent fair price)."""
    rng = np.random.default_rng(seed)
    fair = mid = 10_000.5
    for i in range(n):
        fair += rng.normal(0.0, 0.8)
        if abs(fair - mid) > TICK and rng.random() < 0.4:
            mid += TICK if fair > mid else -TICK
        lean = max(-4.0, min(4.0, fair - mid))
        bids = tuple(Level(mid - 0.5 - k, max(0.5, rng.normal(5.0, 1.5)) if k < 3 else
                           max(0.5, 5.0 + 1.0 * lean + rng.normal(0.0, 1.0))) for k in range(20))
        asks = tuple(Level(mid + 0.5 + k, max(0.5, rng.normal(5.0, 1.5)) if k < 3 else
                           max(0.5, 5.0 - 1.0 * lean + rng.normal(0.0, 1.0))) for k in range(20))
        yield i * STEP_S, bids, asks, mid


def test_depth_behind_the_touch_that_leans_toward_the_hidden_price_is_forecast():
    f, moves, _ = forecasts(5, 2400, books=deep_lean_book)
    later = slice(1400, None)
    # the touch says nothing here; the forecast comes from the book's weight behind it
    assert np.corrcoef(f[later], moves[later])[0, 1] > 0.4
    assert np.mean((moves[later] - f[later]) ** 2) < 0.85 * np.mean(moves[later] ** 2)


def test_one_outsized_order_deep_in_the_book_barely_moves_the_forecast():
    # a spoof: an order fifty times the book's largest level, twenty levels from the touch,
    # where it costs nothing to show; it must not drag the fair price with it
    ff = FlowFair(horizon_s=2.0, window_s=600.0, refit_s=5.0, min_samples=200)
    seen = []
    for ts, bids, asks, mid in deep_lean_book(6, 2400):
        micro = (bids[0].px * asks[0].sz + asks[0].px * bids[0].sz) / (bids[0].sz + asks[0].sz)
        seen.append(abs(ff.on_book(ts, bids, asks, mid, micro)))
    large = float(np.quantile(seen[1400:], 0.99))  # a large forecast of the book's own flow
    big = 50 * max(lv.sz for lv in bids + asks)
    for spoofed in ((bids[:-1] + (Level(bids[-1].px, big),), asks), (bids, asks[:-1] + (Level(asks[-1].px, big),))):
        plain, spoof = copy.deepcopy(ff), copy.deepcopy(ff)
        moved = spoof.on_book(ts + STEP_S, *spoofed, mid, micro) - plain.on_book(ts + STEP_S, bids, asks, mid, micro)
        assert abs(moved) < 0.5 * large  # measured: 0.08-0.27 of it (0.9-2.3 before the level cap)


def test_noise_in_the_book_brings_the_fair_price_back_to_the_mid():
    # sizes that say nothing: the microprice's lean is noise, and the fit learns to undo it
    f, moves, _ = forecasts(2, 2400, informative=False)
    later = slice(1400, None)
    lean = np.array([(b[0].px * a[0].sz + a[0].px * b[0].sz) / (b[0].sz + a[0].sz) - m
                     for _, b, a, m in lagging_book(2, 2400, informative=False)])[:len(f)]
    flow_lean = lean + f  # near a price of 10,000 one unit of price is one bp
    assert np.std(flow_lean[later]) < 0.5 * np.std(lean[later])
    assert abs(np.corrcoef(flow_lean[later], moves[later])[0, 1]) < 0.1


def test_nothing_is_forecast_before_enough_books_have_learned_their_move():
    f, _, ff = forecasts(3, 200)  # 200 books: fewer than 200 labelled (each waits 2 s)
    assert ff.samples < 200 and ff.beta is None
    assert not f.any()


def test_the_forecast_never_goes_past_the_largest_move_in_the_window():
    ff = FlowFair(horizon_s=1.0, window_s=60.0, refit_s=1.0, min_samples=20)
    bids = tuple(Level(99.5 - k, 5.0) for k in range(5))
    asks = tuple(Level(100.5 + k, 5.0) for k in range(5))
    for i in range(200):  # a still book: every move 0, the fit has nothing to go on
        assert ff.on_book(i * 0.5, bids, asks, 100.0, 100.0) == 0.0
    heavy = (Level(99.5, 500.0),) + bids[1:]  # a huge lean the fit never saw move anything
    assert ff.on_book(100.5, heavy, asks, 100.0, 100.49) == 0.0


def book_snapshot(ts, seq, bids, asks):
    return BookSnapshot(asset="BTC", ts=ts, seq=seq, bids=bids, asks=asks)


def test_fair_value_flow_is_the_microprice_moved_by_the_forecast(config_path):
    cfg = c.load(config_path)
    q = cfg.assets["BTC"].quoting
    q = msgspec.structs.replace(q, fair_value="flow")
    role = BookRole("BTC", 1.0, q)
    assert role.core.flow_fair is not None
    states = []
    for i, (ts, bids, asks, _) in enumerate(lagging_book(4, 1600)):
        out = role.handle(book_snapshot(ts, i + 1, bids, asks))
        states += [m for to, m in out if to == "quoter"]
    last = states[-1]
    assert last.flow_shift_bp != 0.0 and math.isfinite(last.flow_shift_bp)
    assert fair_price(last, "flow", True, 0.5) == pytest.approx(last.microprice * (1 + last.flow_shift_bp / 1e4))
    assert fair_price(last, "microprice", True, 0.5) == last.microprice
    # any other fair value builds no forecaster and carries no shift
    plain = BookCore("BTC")
    assert plain.flow_fair is None
    assert plain.on_book(book_snapshot(1.0, 1, *next(lagging_book(4, 1))[1:3])).flow_shift_bp == 0.0


@pytest.mark.parametrize("table, hint, path", [
    ({"min_samples": 5}, "whole number from 10", "quoting.flow_fair.min_samples"),
    ({"horizon_s": 900.0}, "< flow_fair.window_s", "quoting.flow_fair.horizon_s"),
    ({"refit_s": 0.0}, "> 0", "quoting.flow_fair.refit_s"),
])
def test_a_bad_flow_fair_key_names_the_field_and_what_is_allowed(config_path, table, hint, path):
    r = tomllib.loads(config_path.read_text())
    r["quoting"]["fair_value"] = "flow"
    r["quoting"]["flow_fair"] = table
    with pytest.raises(c.ConfigError) as e:
        c.from_dict(r)
    assert path in str(e.value) and hint in str(e.value)


def test_an_unknown_fair_value_lists_flow_among_the_allowed(config_path):
    r = tomllib.loads(config_path.read_text())
    r["quoting"]["fair_value"] = "oracle"
    with pytest.raises(c.ConfigError) as e:
        c.from_dict(r)
    assert "flow" in str(e.value)
