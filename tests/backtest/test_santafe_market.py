"""The second generated market (bench/santafe.py): the Santa Fe zero-intelligence book with
informed takers, a market built on other assumptions than the simulator's, whose streams
``python -m bench compare --market santafe`` replays."""
from __future__ import annotations

import msgspec
import numpy as np
import pytest

from bench.santafe import PROFILES, SantaFeMarket
from strategy.flow_fair import FlowFair
from tests.stream_helpers import sample, two_minutes_of_hype


def books(asset: str, seed: int, seconds: float, **changes):
    """(ts, bids, asks, latent value) every 0.5 s, and every print, of one run."""
    return sample(SantaFeMarket(msgspec.structs.replace(PROFILES[asset], **changes), seed), seconds)


def test_the_book_is_a_sound_one_tick_market_whose_price_follows_the_insiders_value():
    seen, prints = books("BTC", 1, 600)
    assert all(b[0].px < a[0].px for _, b, a, _ in seen)  # never crossed
    assert np.mean([len(b) == 20 and len(a) == 20 for _, b, a, _ in seen]) > 0.95  # a sweep can thin it
    assert all(x.px > y.px for _, b, _, _ in seen for x, y in zip(b, b[1:]))  # best first
    tick = 1.0  # BTC's at $95,000
    spreads = np.array([round((a[0].px - b[0].px) / tick) for _, b, a, _ in seen])
    assert np.mean(spreads == 1) > 0.4 and np.median(spreads) <= 2  # a one-tick touch, as Hyperliquid's BTC
    assert 5 < len(prints) / 600 < 40
    mids = np.array([(b[0].px + a[0].px) / 2 for _, b, a, _ in seen])
    gaps = np.array([(v - m) / m * 1e4 for (_, _, _, v), m in zip(seen, mids)])
    assert np.std(gaps) < 5.0  # informed takers drag the book after the value
    assert abs(mids[-1] - mids[0]) > 0 and np.std(np.diff(mids)) > 0


def test_the_same_seed_is_the_same_market_and_another_seed_is_not():
    a, pa = books("HYPE", 4, 60)
    b, pb = books("HYPE", 4, 60)
    c, _ = books("HYPE", 5, 60)
    assert a == b and pa == pb
    assert a != c


def test_its_takers_are_informed_and_without_them_a_print_tells_nothing():
    def signed_move_after(seconds: float, **changes) -> float:
        seen, prints = books("BTC", 2, seconds, **changes)
        ts = np.array([t for t, *_ in seen])
        mids = np.array([(b[0].px + a[0].px) / 2 for _, b, a, _ in seen])
        moves = []
        for t, p in prints:
            i, j = np.searchsorted(ts, t), np.searchsorted(ts, t + 5.0)
            if j < len(ts):
                moves.append((mids[j] - mids[i]) / mids[i] * 1e4 * (1 if p.side == "B" else -1))
        return float(np.mean(moves))

    informed = signed_move_after(900)
    assert informed > 0.3  # the mid goes the taker's way: a maker's fill is bad news
    assert signed_move_after(900, informed_rate=0.0) < 0.5 * informed


def test_its_depth_leans_away_from_the_value_and_the_forecast_learns_that_sign():
    # the simulator's makers quote around the fair price, so its depth leans toward it; here
    # informed takers eat the side the value is on, so the depth leans the other way
    seen, _ = books("BTC", 1, 1200)
    ff = FlowFair(horizon_s=4.0)
    weight, gap, f, mids, micros = [], [], [], [], []
    for ts, b, a, v in seen:
        mid = (b[0].px + a[0].px) / 2
        micro = (b[0].px * a[0].sz + a[0].px * b[0].sz) / (b[0].sz + a[0].sz)
        size = sum(lv.sz for lv in b + a)
        weight.append(sum(lv.px * lv.sz for lv in b + a) / size - mid)
        gap.append(v - mid)
        f.append(ff.on_book(ts, b, a, mid, micro))
        mids.append(mid)
        micros.append(micro)
    assert np.corrcoef(weight, gap)[0, 1] < -0.3
    ahead = 8  # 4 s of books
    fc = np.array(f[:-ahead])
    moves = (np.array(mids[ahead:]) - np.array(micros[:-ahead])) / np.array(micros[:-ahead]) * 1e4
    later = slice(len(fc) // 2, None)  # forecast before the move was known, after the first fits
    assert np.corrcoef(fc[later], moves[later])[0, 1] > 0.4  # measured 0.61-0.62 on seeds 1-3
    assert ff.beta is not None and ff.beta[5] < 0  # the book's weight, with the sign this market gives it


def test_a_santafe_stream_is_a_replayable_recording_and_compare_asks_for_it(tmp_path):
    from bench.compare import parse_args

    two_minutes_of_hype(tmp_path, "santafe")
    assert parse_args(["--market", "santafe", "--asset", "hype"])["market"] == "santafe"
    assert parse_args([])["market"] == "orderbook"
    for bad in (["--market", "santafe", "--asset", "ETH"], ["--market", "nasdaq"],
                ["--stream", str(tmp_path), "--market", "santafe"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
