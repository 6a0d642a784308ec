"""Replaying a recording (venues.replay) and backtesting on it (backtest.replay): the
reader merges coins in receive order and shrugs off bad lines and a cut tail; recorded
trades reach the engine at their recorded prices and fill our orders behind the
displayed queue; ``makerhive backtest --replay`` reports fills, identically twice."""
import json
import math
import pathlib
import random

import pytest

from backtest.engine import select_assets, zero_latency
from backtest.replay import ReplayBacktest, ReplayError, ReplayMarket, run_replay
import config as c
from makerhive.cli import main
from messages.market import BookSnapshot, Level, Trade
from messages.orders import Fill, NewOrder, OrderAck
from venues.hyperliquid.recorder import HourlyWriter, frame_line
from venues.replay import ReplayStats, asset_events, events, messages, recorded_assets
from venues.sim.engine import SimExchange

ROOT = pathlib.Path(__file__).resolve().parents[2]
T0 = 1_751_425_140_000  # 2025-07-02T02:59:00Z: the recording crosses an hour
MARKETS = {"BTC": (95000.0, 1.0, 5, 0.0, (0.05, 1.5)), "ETH": (3500.0, 0.1, 4, 130.0, (0.5, 20.0))}


def _px(x, tick):
    return f"{round(x / tick) * tick:.1f}"


def write_recording(root, seconds=150, seed=3, assets=("BTC", "ETH")):
    """A made-up market in the recorder's format: a book every 0.5 s (20 levels spaced
    like the sim's, max(tick, 0.5 bp)), a print every 0.25 s at a level up to ~10 bp
    from the touch; receive time = block time + 25 ms (books) or + 30 ms (prints)."""
    rng = random.Random(seed)
    recorded = {}
    for coin in assets:
        p0, tick, szd, offset_ms, (lo, hi) = MARKETS[coin]
        step = max(1, math.ceil(p0 * 0.5e-4 / tick)) * tick
        w = HourlyWriter(root, coin)
        mid = p0
        tid = 1000
        prints = []
        for k in range(int(seconds * 4)):
            venue_ms = T0 + int(offset_ms) + 250 * k
            mid = mid * (1 + 0.00004 * rng.gauss(0, 1)) + p0 * 0.00002 * math.sin(k / 40)
            bid = math.floor(mid / tick) * tick
            ask = bid + tick
            if k % 2 == 0:
                levels = [[{"px": _px(bid - i * step, tick), "sz": f"{rng.uniform(lo, hi):.{szd}f}", "n": 1 + i % 3}
                           for i in range(20)],
                          [{"px": _px(ask + i * step, tick), "sz": f"{rng.uniform(lo, hi):.{szd}f}", "n": 1 + i % 2}
                           for i in range(20)]]
                data = json.dumps({"coin": coin, "time": venue_ms, "levels": levels}, separators=(",", ":"))
                w.write(venue_ms + 25, frame_line(venue_ms + 25, "l2Book", data.encode()))
            side = rng.choice("AB")
            reach = min(int(rng.expovariate(0.25)), 19)  # levels deep
            px = _px(ask + reach * step if side == "B" else bid - reach * step, tick)
            sz = f"{rng.uniform(lo, hi) / 4:.{szd}f}"
            tid += 1
            t = {"coin": coin, "side": side, "px": px, "sz": sz, "time": venue_ms + 5, "hash": "0x0", "tid": tid,
                 "users": ["0xa", "0xb"]}
            prints.append(float(px))
            w.write(venue_ms + 30, frame_line(venue_ms + 30, "trades", json.dumps([t]).encode()))
        w.close()
        recorded[coin] = prints
    return recorded


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec")
    prints = write_recording(root)
    return root, prints


@pytest.fixture(scope="module")
def cfg():
    return zero_latency(c.load(ROOT / "config.toml"))


def test_the_recording_crosses_an_hour_and_replays_merged_in_receive_order(recording):
    root, prints = recording
    assert recorded_assets(root) == ["BTC", "ETH"]
    assert sorted(p.name for p in (root / "BTC").iterdir()) == ["2025-07-02T02.jsonl.gz", "2025-07-02T03.jsonl.gz"]
    stats = ReplayStats()
    got = list(events(root, stats=stats))
    times = [t for t, _ in got]
    assert times == sorted(times)
    assert {m.asset for _, m in got} == {"BTC", "ETH"}
    assert stats.books == 2 * 300 and stats.trades == sum(len(p) for p in prints.values())
    assert stats.malformed == 0 and stats.truncated_files == 0 and stats.files == 4
    books = [m for m in messages(root, ["BTC"]) if type(m) is BookSnapshot]
    assert [b.seq for b in books] == list(range(1, 301)) and all(b.bids[0].px < b.asks[0].px for b in books)
    assert books[0].ts == T0 / 1000 and len(books[0].bids) == 20
    trades = [m for m in messages(root, ["ETH"]) if type(m) is Trade]
    assert [t.px for t in trades] == prints["ETH"]


def test_bad_lines_and_a_cut_tail_are_counted_not_fatal(tmp_path):
    w = HourlyWriter(tmp_path, "BTC")
    good = ('{"coin":"BTC","time":%d,"levels":[[{"px":"95000.0","sz":"1.0","n":1}],'
            '[{"px":"95001.0","sz":"1.0","n":1}]]}')
    w.write(T0, frame_line(T0, "l2Book", (good % T0).encode()))
    w.write(T0 + 1, b'{"t":1,"ch":"l2Book","data":{"coin":"BTC"}}\n')  # no levels
    w.write(T0 + 2, b'{"t":2,"ch":"bbo","data":{}}\n')  # a channel the replay does not know
    w.write(T0 + 3, b"garbage\n")
    w.write(T0 + 4, frame_line(T0 + 4, "l2Book", (good % (T0 + 4)).encode()))
    w.flush()
    w.write(T0 + 5, frame_line(T0 + 5, "l2Book", (good % (T0 + 5)).encode()))  # never flushed
    path = next((tmp_path / "BTC").iterdir())
    cut = path.read_bytes()
    w.close()
    path.write_bytes(cut)
    stats = ReplayStats()
    got = list(asset_events(tmp_path, "BTC", stats))
    assert [t for t, _ in got] == [T0, T0 + 4]
    assert stats.malformed == 3 and stats.truncated_files == 1 and stats.books == 2


def test_recorded_prints_reach_the_engine_at_their_recorded_prices(recording, cfg):
    root, prints = recording
    bt = ReplayBacktest(cfg, root, assets=["ETH"])
    seen = []
    advance = bt.sim.advance

    def spy(ts):
        out = advance(ts)
        seen.extend(e.px for e in out if type(e) is Trade)
        return out

    bt.sim.advance = spy
    bt.run()
    summary = bt.summary()
    dropped, replayed = summary["trades_dropped"], summary["trades_replayed"]
    assert dropped + replayed >= len(prints["ETH"]) - 1  # the last one may fall after the last step
    # every replayed print, in order; the engine adds its own where the book moved through us
    it = iter(seen)
    assert all(any(px == got for got in it) for px in prints["ETH"][dropped:dropped + replayed])
    assert replayed <= len(seen) < replayed + replayed // 10


def _one_book_market(book_sz, prints):
    """A BTC market: one book (best bid 95000 with ``book_sz`` displayed), then prints at 1 s, 2 s, ..."""
    book = BookSnapshot("BTC", T0 / 1000, 1, (Level(95000.0, book_sz), Level(94999.0, 1.0)),
                        (Level(95001.0, 1.0), Level(95002.0, 1.0)))
    evs = [(T0, book)] + [(T0 + 1000 * (i + 1), Trade("BTC", 0.0, px, sz, side, i)) for i, (side, px, sz) in
                          enumerate(prints)]
    m = ReplayMarket("BTC", evs)
    m.start(m.first_book_ms())
    return m


def test_our_bid_fills_only_after_the_displayed_queue_ahead_has_traded(cfg):
    sim = SimExchange(select_assets(cfg, ["BTC"]), 1)
    sim.markets["BTC"] = _one_book_market(0.5, [("A", 95000.0, 0.3), ("A", 95000.0, 0.3), ("A", 94999.0, 0.001)])
    sim.funding_interval = math.inf
    sim.advance(0.0)
    (ack,) = sim.place("BTC", [NewOrder("c1", "B", 95000.0, 0.0002)], 0.0)
    assert type(ack) is OrderAck and sim.queue_ahead("BTC", "c1") == 0.5  # behind the displayed 0.5
    first = sim.advance(1.0)
    assert [type(e) for e in first] == [Trade] and sim.queue_ahead("BTC", "c1") == pytest.approx(0.2)
    second = sim.advance(2.0)  # 0.3 more at our price: the 0.2 ahead, then us
    fills = [e for e in second if type(e) is Fill]
    assert len(fills) == 1 and fills[0].px == 95000.0 and fills[0].sz == 0.0002


def test_a_print_through_our_price_fills_it_at_once(cfg):
    sim = SimExchange(select_assets(cfg, ["BTC"]), 1)
    sim.markets["BTC"] = _one_book_market(5.0, [("A", 94999.0, 0.01)])
    sim.funding_interval = math.inf
    sim.advance(0.0)
    sim.place("BTC", [NewOrder("c1", "B", 95000.0, 0.0002)], 0.0)
    fills = [e for e in sim.advance(1.0) if type(e) is Fill]
    assert len(fills) == 1 and fills[0].px == 95000.0


def test_backtest_cli_on_a_recording_reports_fills_identically_twice(recording, tmp_path, capsys):
    root, _ = recording
    outs = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        rc = main(["backtest", "--config", str(ROOT / "config.toml"), "--replay", str(root), "--json", str(out)])
        assert rc == 0
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    report = json.loads(outs[0])
    assert report["assets"] == ["BTC", "ETH"] and set(report["per_asset"]) == {"BTC", "ETH"}
    total = report["total"]
    assert total["fills_buy"] > 0 and total["fills_sell"] > 0
    assert abs(total["accounting_diff"]) < 0.01 and total["funding"] == 0.0
    assert 140 < report["duration_s"] < 150
    r = report["replay"]
    assert r["books_replayed"] > 500 and r["trades_replayed"] > 1000 and r["malformed_lines"] == 0
    assert "net PnL" in capsys.readouterr().out


def test_backtest_cli_replays_the_chosen_assets_for_the_chosen_duration(recording, tmp_path):
    root, _ = recording
    out = tmp_path / "btc.json"
    assert main(["backtest", "--config", str(ROOT / "config.toml"), "--replay", str(root), "--assets", "BTC",
                 "--duration", "60", "--zero-latency", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["assets"] == ["BTC"] and report["duration_s"] == 60.0
    assert report["latency"]["profile"] == "zero"


def test_deterministic_in_process(recording, cfg):
    root, _ = recording

    def fills(res):
        return {a: [(f.ts, f.side, f.px, f.sz) for f in r.fills] for a, r in res.records.items()}

    one, two = (run_replay(cfg, root, duration_s=40) for _ in range(2))
    assert fills(one) == fills(two) and any(fills(one).values())


def test_bad_recordings_are_refused(tmp_path, recording, cfg, capsys):
    root, _ = recording
    assert main(["backtest", "--config", str(ROOT / "config.toml"), "--replay", str(tmp_path / "none")]) == 2
    assert "no recording" in capsys.readouterr().err
    with pytest.raises(ReplayError):
        ReplayBacktest(cfg, root, assets=["SOL"])  # in the config, not in the recording
    with pytest.raises(c.ConfigError):
        ReplayBacktest(cfg, root, assets=["DOGE"])  # not in the config
