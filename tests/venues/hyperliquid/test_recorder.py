"""The market-data recorder against a canned WebSocket server on 127.0.0.1: frames land
in the right hourly file per coin, byte for byte; malformed frames are counted; a
dropped or silent connection is reconnected and resubscribed; --duration and SIGTERM
stop it with the files readable; a file cut mid-write still replays."""
import gzip
import json
import pathlib
import random
import signal
import socket
import subprocess
import sys
import datetime as dt
import functools

import trio
from trio_websocket import ConnectionClosed, serve_websocket

from venues.hyperliquid.recorder import HourlyWriter, Recorder, frame_line
from venues.replay import ReplayStats, asset_events, read_lines

ROOT = pathlib.Path(__file__).resolve().parents[3]
T0 = int(dt.datetime(2025, 7, 2, 3, 59, 58, tzinfo=dt.timezone.utc).timestamp() * 1000)


def book(coin, time, px):
    return ('{"channel":"l2Book","data":{"coin":"%s","time":%d,"levels":[[{"px":"%s","sz":"0.5","n":1}],'
            '[{"px":"%s","sz":"0.25","n":2}]]}}' % (coin, time, px, px + 1))


def trades(coin, time, px, tid):
    return ('{"channel":"trades","data":[{"coin":"%s","side":"B","px":"%s","sz":"0.01","time":%d,"hash":"0x1",'
            '"tid":%d,"users":["0xa","0xb"]}]}' % (coin, px, time, tid))


def data_of(frame):
    """The exact text of the frame's data value (the canned frames end with '}')."""
    return frame[frame.index('"data":') + len('"data":'):-1]


class Clock:
    """Epoch ms: one second later at every call (the recorder calls it once per message)."""

    def __init__(self, start):
        self.now = start - 1000

    def __call__(self):
        self.now += 1000
        return self.now


class Canned:
    """A server: each connection reads the subscriptions, then plays its script."""

    def __init__(self, scripts, n_subs=4):
        self.scripts = scripts
        self.n_subs = n_subs
        self.connections = 0
        self.subscriptions = []  # per connection
        self.pings = 0

    async def handler(self, request):
        ws = await request.accept()
        i = self.connections
        self.connections += 1
        subs = []
        try:
            for _ in range(self.n_subs):
                subs.append(json.loads(await ws.get_message()))
            self.subscriptions.append(subs)
            script = self.scripts[min(i, len(self.scripts) - 1)]
            await script(self, ws)
        except* ConnectionClosed:  # the recorder went away (also from inside a script's nursery)
            pass

    async def read_pings(self, ws, answer):
        while True:
            msg = json.loads(await ws.get_message())
            if msg == {"method": "ping"}:
                self.pings += 1
                if answer:
                    await ws.send_message('{"channel":"pong"}')


async def drop(ws):
    """Cut the connection without a closing handshake."""
    await trio.aclose_forcefully(ws._stream)


async def start_server(nursery, canned):
    server = await nursery.start(serve_websocket, canned.handler, "127.0.0.1", 0, None)
    return f"ws://127.0.0.1:{server.port}/ws"


async def wait_for(cond, what):
    for _ in range(1000):  # at most ~10 s
        if cond():
            return
        await trio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


FIRST = [book("BTC", T0, 95000), book("ETH", T0, 3500),
         '{"channel":"l2Book","data":{"coin":"BTC"}}',  # malformed: no levels, no time
         trades("BTC", T0 + 2000, 95001, 11),
         'not json at all']  # malformed too
SECOND = ['{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}}',
          book("BTC", T0 + 5000, 95002), trades("ETH", T0 + 6000, 3501, 12), book("ETH", T0 + 7000, 3502),
          book("SOL", T0 + 7000, 150)]  # a coin we did not ask for: ignored


async def first_then_drop(canned, ws):
    for f in FIRST:
        await ws.send_message(f)
    await drop(ws)


async def second_then_idle(canned, ws):
    for f in SECOND:
        await ws.send_message(f)
    await canned.read_pings(ws, answer=True)


def _recorder(url, out, **kw):
    kw.setdefault("clock", Clock(T0))
    kw.setdefault("ping_s", 60.0)
    return Recorder(["BTC", "ETH"], out, url=url, backoff_min_s=0.01, backoff_max_s=0.05,
                    rng=random.Random(1), **kw)


def _lines(path):
    return [json.loads(x) for x in read_lines(path)]


async def test_frames_land_in_hourly_files_per_coin_and_survive_a_dropped_connection(tmp_path):
    canned = Canned([first_then_drop, second_then_idle])
    async with trio.open_nursery() as nursery:
        url = await start_server(nursery, canned)
        rec = _recorder(url, tmp_path)
        nursery.start_soon(rec.run)
        await wait_for(lambda: sum(rec.stats.frames.values()) == 6 and rec.stats.ignored == 2, "six recorded frames")
        nursery.cancel_scope.cancel()

    # resubscribed after the drop: the same four subscriptions on both connections
    assert canned.connections == 2 and rec.stats.reconnects == 1
    want = [{"method": "subscribe", "subscription": {"type": ch, "coin": c}} for c in ("BTC", "ETH")
            for ch in ("l2Book", "trades")]
    assert canned.subscriptions == [want, want]
    assert rec.stats.malformed == 2
    assert rec.stats.ignored == 2  # the ack and the SOL book
    # receive clock: messages 0..4 on the first connection, 5..9 on the second
    hour3, hour4 = tmp_path / "BTC" / "2025-07-02T03.jsonl.gz", tmp_path / "BTC" / "2025-07-02T04.jsonl.gz"
    eth3, eth4 = tmp_path / "ETH" / "2025-07-02T03.jsonl.gz", tmp_path / "ETH" / "2025-07-02T04.jsonl.gz"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.gz")) == [
        "BTC/2025-07-02T03.jsonl.gz", "BTC/2025-07-02T04.jsonl.gz",
        "ETH/2025-07-02T03.jsonl.gz", "ETH/2025-07-02T04.jsonl.gz"]
    assert _lines(hour3) == [{"t": T0, "ch": "l2Book", "data": json.loads(data_of(FIRST[0]))}]
    assert _lines(eth3) == [{"t": T0 + 1000, "ch": "l2Book", "data": json.loads(data_of(FIRST[1]))}]
    assert [(x["t"], x["ch"]) for x in _lines(hour4)] == [(T0 + 3000, "trades"), (T0 + 6000, "l2Book")]
    assert [(x["t"], x["ch"]) for x in _lines(eth4)] == [(T0 + 7000, "trades"), (T0 + 8000, "l2Book")]
    # the data is copied byte for byte, and files were closed (complete gzip streams)
    raw = list(read_lines(hour4))
    assert raw[0] == b'{"t":%d,"ch":"trades","data":%s}' % (T0 + 3000, data_of(FIRST[3]).encode())
    assert gzip.decompress(hour4.read_bytes()).count(b"\n") == 2
    summary = rec.summary()
    assert summary["frames"] == {"BTC": {"l2Book": 2, "trades": 1}, "ETH": {"l2Book": 2, "trades": 1}}
    assert summary["frames_total"] == 6 and summary["reconnects"] == 1 and summary["malformed"] == 2
    assert len(summary["files"]) == 4


async def test_duration_stops_it_and_closes_the_files(tmp_path):
    async def stream(canned, ws):
        for i in range(100_000):  # bounded; the recorder stops long before
            await ws.send_message(book("BTC", T0 + i, 95000 + i % 7))
            await trio.sleep(0.005)

    canned = Canned([stream])
    async with trio.open_nursery() as nursery:
        url = await start_server(nursery, canned)
        rec = _recorder(url, tmp_path, clock=lambda: T0)
        with trio.fail_after(20):
            summary = await rec.run(duration_s=0.5)
        nursery.cancel_scope.cancel()
    assert summary["frames"]["BTC"]["l2Book"] > 0
    stats = ReplayStats()
    got = list(asset_events(tmp_path, "BTC", stats))
    assert len(got) == summary["frames"]["BTC"]["l2Book"] and stats.truncated_files == 0


async def test_unanswered_pings_are_a_stall_and_it_reconnects(tmp_path):
    async def data_but_no_pongs(canned, ws):
        async with trio.open_nursery() as n:
            n.start_soon(canned.read_pings, ws, False)
            for i in range(100_000):
                await ws.send_message(book("BTC", T0 + i, 95000))
                await trio.sleep(0.01)

    canned = Canned([data_but_no_pongs])
    async with trio.open_nursery() as nursery:
        url = await start_server(nursery, canned)
        rec = _recorder(url, tmp_path, ping_s=0.05, max_missed_pongs=2, stall_s=60.0, clock=lambda: T0)
        nursery.start_soon(rec.run)
        await wait_for(lambda: canned.connections >= 2 and len(canned.subscriptions) >= 2, "a reconnect")
        nursery.cancel_scope.cancel()
    assert rec.stats.stalls >= 1 and canned.pings >= 2
    assert "pings unanswered" in rec.stats.last_error


async def test_a_silent_connection_is_a_stall_and_it_reconnects(tmp_path):
    async def silent(canned, ws):
        await trio.sleep_forever()

    canned = Canned([silent])
    async with trio.open_nursery() as nursery:
        url = await start_server(nursery, canned)
        rec = _recorder(url, tmp_path, stall_s=0.1)
        nursery.start_soon(rec.run)
        await wait_for(lambda: len(canned.subscriptions) >= 3, "two reconnects")
        nursery.cancel_scope.cancel()
    assert rec.stats.stalls >= 2 and rec.stats.reconnects >= 2


async def test_a_server_that_never_upgrades_hits_the_connect_deadline(tmp_path):
    """A TCP listener that accepts and never answers the HTTP upgrade."""
    accepted = []

    async def mute(stream):
        accepted.append(stream)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, mute, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        rec = _recorder(f"ws://127.0.0.1:{port}/ws", tmp_path, connect_timeout_s=0.1)
        nursery.start_soon(rec.run)
        await wait_for(lambda: len(accepted) >= 2, "a second attempt")
        nursery.cancel_scope.cancel()
    for stream in accepted:
        await trio.aclose_forcefully(stream)
    assert rec.stats.connects == 0
    assert "Timeout" in rec.stats.last_error or "TooSlow" in rec.stats.last_error


def test_a_file_cut_mid_write_still_replays(tmp_path):
    w = HourlyWriter(tmp_path, "BTC")
    for i in range(50):
        w.write(T0 + i, frame_line(T0 + i, "l2Book", data_of(book("BTC", T0 + i, 95000 + i)).encode()))
    w.flush()  # what a periodic sync flush leaves on disk
    for i in range(50, 60):
        w.write(T0 + i, frame_line(T0 + i, "l2Book", data_of(book("BTC", T0 + i, 95000 + i)).encode()))
    path = tmp_path / "BTC" / "2025-07-02T03.jsonl.gz"
    on_disk = path.read_bytes()  # as a killed process leaves it: no gzip end
    w.close()
    for cut in (len(on_disk), len(on_disk) - 7, len(on_disk) // 2):
        d = tmp_path / f"cut{cut}"
        (d / "BTC").mkdir(parents=True)
        (d / "BTC" / path.name).write_bytes(on_disk[:cut])
        stats = ReplayStats()
        got = list(asset_events(d, "BTC", stats))
        assert stats.truncated_files == 1 and stats.malformed == 0
        assert [t for t, _ in got] == list(range(T0, T0 + len(got)))  # a clean prefix
        if cut == len(on_disk):
            assert len(got) == 50  # everything flushed
        assert all(m.bids[0].px == 95000 + i for i, (_, m) in enumerate(got))


def test_a_restart_within_the_hour_appends_a_readable_member(tmp_path):
    for start in (0, 10):
        w = HourlyWriter(tmp_path, "ETH")
        for i in range(start, start + 10):
            w.write(T0 + i, frame_line(T0 + i, "l2Book", data_of(book("ETH", T0 + i, 3500)).encode()))
        w.close()
    stats = ReplayStats()
    assert [t for t, _ in asset_events(tmp_path, "ETH", stats)] == list(range(T0, T0 + 20))
    assert stats.truncated_files == 0 and stats.files == 1


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args):
    return [sys.executable, "-m", "makerhive.cli", "record", *args]


def test_cli_duration_with_no_server_prints_the_summary_and_fails_with_the_reason(tmp_path):
    url = f"ws://127.0.0.1:{_free_port()}/ws"
    p = subprocess.run(_cli("--assets", "BTC,ETH", "--out", str(tmp_path), "--duration", "0.5", "--ws-url", url),
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stderr  # an empty recording is no recording (issue 14 item 6)
    assert "nothing was captured" in p.stderr and "connect" in p.stderr
    summary = json.loads(p.stdout)
    assert summary["frames_total"] == 0 and summary["connects"] == 0 and "malformed" in summary


def test_cli_sigterm_closes_files_and_prints_the_summary(tmp_path):
    url = f"ws://127.0.0.1:{_free_port()}/ws"
    p = subprocess.Popen(_cli("--assets", "BTC", "--out", str(tmp_path), "--ws-url", url), cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr.readline().startswith("record: BTC")  # started (blocks until then; bounded below)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1  # stopped before anything came: nothing captured
    assert json.loads(out)["frames_total"] == 0


def test_cli_rejects_an_unknown_network():
    p = subprocess.run(_cli("--assets", "BTC", "--out", "x", "--network", "devnet"), cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--network" in p.stderr
