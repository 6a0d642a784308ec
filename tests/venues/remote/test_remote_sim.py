"""The simulated exchange in its own process (``makerhive sim-server``) behind the
``remote-sim`` venue: the wire protocol, the client's reconnect and clock alignment,
a hive quoting through it, and the process-level dead-man's-switch test (SIGKILL the
hive while it quotes; the venue must pull its quotes; a restarted hive reconciles
before it quotes). Servers listen on 127.0.0.1 only; every wait is bounded."""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, open_websocket_url, serve_websocket

from makerhive.app import Hive
from messages.market import BookSnapshot, Level, Trade
from messages.orders import (AccountSnapshot, CancelOrders, Fill, NewOrder, OpenOrder, OrderAck, OrderCancelled,
                             OrderReject, PlaceOrders, VenueBatch)
from tests.hive_helpers import ROOT, sim_config, wait_for
from venues.remote import protocol as p
from venues.remote.client import RemoteSimVenue, _close_tcp
from exchange_rules.ticks import round_price
from venues.runtime import VenueRequestFailed, VenueUnavailable

ASSETS = ("BTC", "ETH", "SOL", "XRP", "HYPE")
PY = sys.executable


# -- helpers -----------------------------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        assert math.isfinite(v)
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def _toml(raw: dict, prefix: str = "") -> str:
    scalars = [f"{k} = {_toml_value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    out = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    for k, v in raw.items():
        if isinstance(v, dict):
            out.append(_toml(v, f"{prefix}.{k}" if prefix else k))
    return "\n".join(out) + "\n"


def write_config(path: Path, **overrides: dict) -> Path:
    """The repo's config.toml with section overrides, written as TOML."""
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    path.write_text(_toml(raw))
    return path


def admin(port: int, op: str = "state", timeout: float = 5.0) -> dict:
    """Ask the sim server's admin door (from any thread)."""

    async def ask() -> dict:
        with trio.fail_after(timeout):
            async with open_websocket_url(f"ws://127.0.0.1:{port}{p.ADMIN_PATH}", connect_timeout=timeout,
                                          max_message_size=p.MAX_MESSAGE_BYTES) as ws:
                await ws.send_message(json.dumps({"admin": op}))
                return json.loads(await ws.get_message())

    return trio.run(ask)


class ServerProc:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"ws://127.0.0.1:{port}"

    def state(self) -> dict:
        return admin(self.port)


@contextlib.contextmanager
def sim_server(config: Path, *, speed: float, seed: int = 3) -> Iterator[ServerProc]:
    """``makerhive sim-server`` as a subprocess on a free loopback port (its log next to
    the config); terminated on exit."""
    errors = open(config.with_suffix(".log"), "w")
    proc = subprocess.Popen([PY, "-m", "makerhive.cli", "sim-server", "--config", str(config), "--host", "127.0.0.1",
                             "--port", "0", "--speed", str(speed), "--seed", str(seed)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(20)
        assert line and line[0].startswith("listening on ws://127.0.0.1:"), (line, proc.poll())
        yield ServerProc(proc, int(line[0].strip().rsplit(":", 1)[1]))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        errors.close()


def open_counts(state: dict) -> dict[str, int]:
    return {a: len(o) for a, o in state["open_orders"].items()}


# -- the protocol ----------------------------------------------------------------------------------
def test_every_frame_survives_the_round_trip():
    fill = Fill("BTC", "0xabc", 7, 9, "B", 95000.5, 0.00123, 0.0175, 12.25, 0.0)
    client_frames = [
        p.Commands(cmds=(CancelOrders("BTC", 2, 1.5, ("0x1", "0x2")),
                         PlaceOrders("BTC", 2, 1.5, (NewOrder("0x3", "B", 94999.0, 0.002, 1),)))),
        p.CancelAllRequest(id=1, asset="ETH"), p.OpenOrdersRequest(id=2, asset="ETH"),
        p.PositionRequest(id=3, asset="SOL"), p.FillsRequest(id=4, asset="SOL", since=10.5),
        p.SnapshotRequest(id=5, asset="XRP", since=0.0), p.ScheduleCancelRequest(id=6, at=123.25),
        p.ScheduleCancelRequest(id=7, at=None), p.Ping(nonce=3, ts=4.5),
    ]
    dec = p.server_decoder()
    for f in client_frames:
        assert dec.decode(p.encode(f)) == f
    batch = VenueBatch("BTC", 3.0, (OrderAck("BTC", "0x3", 1, 3.0), OrderReject("BTC", "0x4", "no", 3.0),
                                    OrderCancelled("BTC", "0x1", 3.0, "scheduledCancel"), fill))
    server_frames = [
        p.Hello(now=5.0, speed=2.0, assets=(p.AssetInfo("BTC", 0, 5),), session=1),
        BookSnapshot("BTC", 1.0, 4, (Level(94999.0, 1.5),), (Level(95001.0, 0.25),)),
        Trade("BTC", 1.0, 95001.0, 0.01, "B", 11), batch, p.Pong(nonce=3, ts=4.5, now=6.0),
    ]
    dec = p.client_decoder()
    for f in server_frames:
        assert dec.decode(p.encode(f)) == f
    # reply values are typed by the request they answer
    snap = AccountSnapshot("BTC", (OpenOrder("BTC", "0x3", 1, "B", 94999.0, 0.002, 1.0),), -0.5, (fill,),
                           cash=float("nan"), mid=95000.0, funding=-0.25, ts=12.5)
    for req, value in ((p.CancelAllRequest, 3), (p.PositionRequest, -0.5), (p.FillsRequest, (fill,)),
                       (p.OpenOrdersRequest, snap.open_orders), (p.ScheduleCancelRequest, None),
                       (p.ScheduleCancelRequest, "too soon")):
        reply = dec.decode(p.encode(p.Reply(id=1, value=p.encode_value(value))))
        assert p.decode_value(req, reply.value) == value
    reply = dec.decode(p.encode(p.Reply(id=2, value=p.encode_value(p.WireAccount.of(snap)))))
    back = p.decode_value(p.SnapshotRequest, reply.value).to_snapshot()
    assert (back.open_orders, back.position, back.fills, back.mid, back.funding, back.ts) == \
        (snap.open_orders, -0.5, (fill,), 95000.0, -0.25, 12.5)
    assert math.isnan(back.cash)  # NaN travels as null and comes back as NaN
    back = p.decode_value(p.SnapshotRequest, p.encode_value(p.WireAccount.of(
        AccountSnapshot("BTC", (), 0.0, ())))).to_snapshot()
    assert back.funding is None and math.isnan(back.mid)
    for bad in (b"", b"not json", b"[1,2]", b'{"type":"nope"}', b'{"type":"reply"}',
                b'{"type":"BookSnapshot","asset":"BTC"}'):
        with pytest.raises(p.Malformed):
            dec.decode(bad)


# -- the client against a scripted server (in-process, loopback) --------------------------------------
class FakeGateway:
    board = None

    def __init__(self) -> None:
        self.venue: Any = None
        self.books: list[BookSnapshot] = []
        self.trades: list[Trade] = []
        self.batches: list[tuple[str, Any]] = []
        self.reconnects: list[tuple[str, float]] = []

    def attach(self, venue: Any) -> None:
        self.venue = venue

    def deliver(self, asset: str, msg: Any) -> None:
        self.batches.append((asset, msg))

    def deliver_book(self, snap: BookSnapshot) -> None:
        self.books.append(snap)

    def deliver_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def reconnected(self, asset: str, ts: float) -> None:
        self.reconnects.append((asset, ts))


def _cfg():
    return sim_config(portfolio={"assets": ["BTC", "ETH"]}, run={"venue": "remote-sim"})


def _hello(now: float, session: int = 1) -> str:
    return p.encode(p.Hello(now=now, speed=1.0, assets=(p.AssetInfo("BTC", 0, 5), p.AssetInfo("ETH", 1, 4)),
                            session=session))



async def _answer_pings(ws):
    """Play a server that answers every ping, until the connection closes."""
    while True:
        frame = p.server_decoder().decode(await ws.get_message())
        if isinstance(frame, p.Ping):
            await ws.send_message(p.encode(p.Pong(nonce=frame.nonce, ts=frame.ts, now=trio.current_time())))

async def _scripted(script, nursery: trio.Nursery) -> int:
    """A loopback server whose every connection runs ``script(ws, n)`` (until it ends or
    the connection closes); returns its port."""
    count = [0]

    async def handler(request):
        ws = await request.accept()
        count[0] += 1
        with contextlib.suppress(Exception):
            await script(ws, count[0])

    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    return server.port


def _fast(venue: RemoteSimVenue) -> RemoteSimVenue:
    venue.backoff_min_s = 0.02
    venue.backoff_max_s = 0.1
    venue.ping_every_s = 0.05
    venue.stall_s = 0.5
    venue.first_connect_s = 3.0
    return venue


def test_client_aligns_its_clock_and_counts_malformed_frames_without_dying():
    book = BookSnapshot("BTC", 100.0, 1, (Level(94999.0, 1.0),), (Level(95001.0, 1.0),))

    async def script(ws, n):
        await ws.send_message(b"\xff\xfe garbage")  # before the hello: counted, skipped
        await ws.send_message(_hello(100.0))
        await ws.send_message("{not json")
        await ws.send_message('{"type":"Mystery","x":1}')
        await ws.send_message('{"type":"reply","id":999,"value":1}')  # nobody waits: stale, harmless
        await ws.send_message(p.encode(book))
        await ws.send_message(p.encode(Trade("ETH", 100.0, 3500.0, 0.1, "A", 5)))
        await ws.send_message(p.encode(VenueBatch("ETH", 100.0, (OrderAck("ETH", "0x1", 1, 100.0),))))
        await _answer_pings(ws)  # the link stays alive until the connection closes

    async def main():
        async with trio.open_nursery() as nursery:
            port = await _scripted(script, nursery)
            gw = FakeGateway()
            venue = _fast(RemoteSimVenue(_cfg(), gw, url=f"ws://127.0.0.1:{port}"))
            assert trio.current_time() < 1.0
            await nursery.start(venue.serve)
            # started only after the hello, and the runtime clock now agrees with the venue's
            assert trio.current_time() >= 100.0 and venue.stats.clock_jumps == 1
            assert venue.asset_index("ETH") == 1
            with trio.fail_after(5):
                while not (gw.books and gw.trades and gw.batches):
                    await trio.sleep(0.01)
            await trio.sleep(0.3)  # pings and pongs keep flowing
            assert gw.books == [book] and gw.trades[0].asset == "ETH" and gw.batches[0][0] == "ETH"
            assert venue.stats.malformed == 3 and venue.stats.stale_replies == 1
            assert venue.connected and venue.stats.connects == 1 and gw.reconnects == []
            assert venue.stats.rtt_s >= 0
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(rate=1.0))


def test_client_reconnects_resyncs_every_asset_and_fails_requests_it_cannot_answer():
    async def script(ws, n):
        await ws.send_message(_hello(1.0, session=n))
        while True:  # until the connection closes
            raw = await ws.get_message()
            frame = p.server_decoder().decode(raw)
            if isinstance(frame, p.PositionRequest):
                if n == 1:
                    await ws.aclose()  # connection lost while a request waits
                    return
                await ws.send_message(p.encode(p.Reply(id=frame.id, value=p.encode_value(1.5))))
            elif isinstance(frame, p.FillsRequest):
                await ws.send_message(p.encode(p.Reply(id=frame.id, error="Too many requests")))
            elif isinstance(frame, p.Commands):
                pass  # swallowed
            elif isinstance(frame, p.Ping) and n >= 3:
                pass  # session 3 goes silent: a half-open link the heartbeat must notice

    async def main():
        async with trio.open_nursery() as nursery:
            port = await _scripted(script, nursery)
            gw = FakeGateway()
            venue = _fast(RemoteSimVenue(_cfg(), gw, url=f"ws://127.0.0.1:{port}"))
            venue.request_timeout_s = 0.3
            await nursery.start(venue.serve)
            with pytest.raises(VenueRequestFailed, match="lost"):
                await venue.position("BTC")
            with trio.fail_after(5):
                while venue.stats.reconnects < 1 or not venue.connected:
                    await trio.sleep(0.01)
            # after the reconnect every asset's order actor is told to reconcile
            assert sorted(a for a, _ in gw.reconnects) == ["BTC", "ETH"]
            assert await venue.position("ETH") == 1.5
            with pytest.raises(VenueRequestFailed, match="Too many requests"):
                await venue.fills("BTC", 0.0)
            # a refusal the wire cannot carry is refused before it is sent
            assert "finite" in await venue.schedule_cancel(math.inf)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(rate=1.0))


def test_client_detects_a_silent_link_and_rejects_commands_sent_while_down():
    async def script(ws, n):
        await ws.send_message(_hello(1.0, session=n))
        if n == 1:
            await trio.sleep_forever()  # accepted, then silent: no pong ever
        await _answer_pings(ws)

    async def main():
        async with trio.open_nursery() as nursery:
            port = await _scripted(script, nursery)
            gw = FakeGateway()
            venue = _fast(RemoteSimVenue(_cfg(), gw, url=f"ws://127.0.0.1:{port}"))
            await nursery.start(venue.serve)
            with trio.fail_after(5):
                while venue.connected:
                    await trio.sleep(0.005)
            assert "nothing heard" in venue.stats.last_error
            # commands while disconnected never leave: each is answered with a reject
            venue.send((CancelOrders("BTC", 1, 1.0, ("0xa",)), PlaceOrders("BTC", 1, 1.0, (NewOrder("0xb", "B", 1.0, 1.0),))))
            asset, batch = gw.batches[-1]
            assert asset == "BTC" and {e.cloid for e in batch.events} == {"0xa", "0xb"}
            assert all(isinstance(e, OrderReject) and e.reason.startswith("not sent") for e in batch.events)
            with pytest.raises(VenueRequestFailed):
                await venue.open_orders("BTC")
            with trio.fail_after(5):
                while venue.stats.reconnects < 1 or not venue.connected:
                    await trio.sleep(0.01)
            assert sorted(a for a, _ in gw.reconnects) == ["BTC", "ETH"]
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(rate=1.0))


def test_hive_does_not_start_without_a_reachable_server(monkeypatch, tmp_path):
    monkeypatch.setattr(RemoteSimVenue, "first_connect_s", 1.0)
    with socket_reserved() as port:  # nothing listens there
        cfg = sim_config(run={"venue": "remote-sim", "journal_dir": str(tmp_path)},
                         remote={"url": f"ws://127.0.0.1:{port}"})
        hive = Hive(cfg)
        t0 = time.monotonic()
        with pytest.raises(VenueUnavailable, match="unreachable"):
            hive.start()
        assert time.monotonic() - t0 < 5
        summary = hive.stop()  # and the failed start leaves nothing hanging
        assert not hive.runtime.running
        assert summary is not None


@contextlib.contextmanager
def socket_reserved() -> Iterator[int]:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, not listening: a connect is refused
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


# -- the server, from outside ------------------------------------------------------------------
def test_server_answers_survives_malformed_frames_and_keeps_the_account_across_clients(tmp_path):
    cfg_path = write_config(tmp_path / "server.toml")
    with sim_server(cfg_path, speed=5.0) as srv:
        async def session(frames: list[str], until: int) -> list[Any]:
            """Send ``frames``; collect replies until ``until`` of them arrived."""
            dec = p.client_decoder()
            got: list[Any] = []
            with trio.fail_after(10):
                async with open_websocket_url(srv.url, max_message_size=p.MAX_MESSAGE_BYTES) as ws:
                    hello = dec.decode(await ws.get_message())
                    assert isinstance(hello, p.Hello) and [a.name for a in hello.assets] == list(ASSETS)
                    for f in frames:
                        await ws.send_message(f)
                    while len(got) < until:
                        frame = dec.decode(await ws.get_message())
                        if isinstance(frame, (p.Reply, p.Pong)) or (isinstance(frame, VenueBatch)
                                                                    and frame.asset == "XRP"):
                            got.append(frame)
            return got

        snap_req = p.encode(p.SnapshotRequest(id=1, asset="XRP", since=0.0))
        got = trio.run(session, ["garbage", '{"type":"commands","cmds":[]}', snap_req,
                                 p.encode(p.OpenOrdersRequest(id=2, asset="NOPE")), p.encode(p.Ping(nonce=1, ts=0.0))], 3)
        replies = {f.id: f for f in got if isinstance(f, p.Reply)}
        assert "unknown asset" in replies[2].error
        snap = p.decode_value(p.SnapshotRequest, replies[1].value).to_snapshot()
        mid = snap.mid
        assert snap.open_orders == () and snap.position == 0.0 and mid > 0
        # a resting XRP bid well below the market, then the client goes away
        px = float(round_price(mid * 0.9, 0, "down"))
        sz = float(math.ceil(20 / px))
        place = p.encode(p.Commands(cmds=(PlaceOrders("XRP", 1, 0.0, (NewOrder("0x" + "1" * 32, "B", px, sz),)),)))
        got = trio.run(session, [place], 1)
        assert isinstance(got[0].events[0], OrderAck), got
        st = srv.state()
        assert open_counts(st)["XRP"] == 1 and st["malformed"] == 2 and st["connected"] is False
        # the order outlived its client; the next client sees it and its request log is its own
        got = trio.run(session, [p.encode(p.OpenOrdersRequest(id=5, asset="XRP")),
                                 p.encode(p.CancelAllRequest(id=6, asset="XRP"))], 3)
        replies = {f.id: f for f in got if isinstance(f, p.Reply)}
        assert [o.cloid for o in p.decode_value(p.OpenOrdersRequest, replies[5].value)] == ["0x" + "1" * 32]
        assert p.decode_value(p.CancelAllRequest, replies[6].value) == 1
        st = srv.state()
        assert open_counts(st)["XRP"] == 0 and st["sessions"] == 3
        assert [(r["kind"], r["asset"]) for r in st["requests"]] == [("open_orders", "XRP"), ("cancel_all", "XRP")]

        async def replaced() -> str:
            """A second connection replaces the first: the first is closed by the venue."""
            with trio.fail_after(10):
                async with open_websocket_url(srv.url) as first:
                    await first.get_message()  # hello
                    async with open_websocket_url(srv.url) as second:
                        assert isinstance(p.client_decoder().decode(await second.get_message()), p.Hello)
                        with pytest.raises(ConnectionClosed):
                            while True:
                                await first.get_message()
                        await _close_tcp(first)  # trio-websocket leaves it to the GC otherwise
                        await second.send_message(p.encode(p.PositionRequest(id=1, asset="BTC")))
                        while True:
                            frame = p.client_decoder().decode(await second.get_message())
                            if isinstance(frame, p.Reply):
                                return p.decode_value(p.PositionRequest, frame.value)

        assert trio.run(replaced) == 0.0
        st = srv.state()
        assert st["sessions"] == 5 and st["client"]["session"] == 5


# -- a hive on remote-sim ------------------------------------------------------------------------------
def test_hive_on_remote_sim_quotes_fills_reconnects_and_stops_clean(tmp_path):
    speed = 20.0
    cfg_path = write_config(tmp_path / "server.toml")
    with sim_server(cfg_path, speed=speed, seed=5) as srv:
        # the quoter without the stack: every asset quotes, so "quoting again" means every asset
        cfg = sim_config(legacy_quoting=True,
                         run={"venue": "remote-sim", "speed": speed, "seed": 5, "journal_dir": str(tmp_path)},
                         remote={"url": srv.url})
        time.sleep(0.5)  # the venue's clock runs ahead of the one the hive is about to make
        hive = Hive(cfg)
        hive.start()
        stopped = False
        try:
            venue = hive.venue
            assert isinstance(venue, RemoteSimVenue)
            # the runtime clock was moved to the venue's (the server had been running)
            assert venue.stats.clock_jumps >= 1
            assert abs(hive.sim_time() - srv.state()["now"]) < 0.1 * speed
            wait_for(lambda: all(n > 0 for n in open_counts(srv.state()).values()), timeout=20,
                     what="orders resting on every asset")
            wait_for(lambda: all(n > 0 for n in srv.state()["fills"].values()), timeout=40, poll=0.2,
                     what="fills on every asset")
            # the venue drops us: we reconnect, every asset reconciles, quoting resumes
            assert admin(srv.port, "drop")["dropped"] is True
            wait_for(lambda: venue.stats.reconnects >= 1 and venue.connected, timeout=10, what="reconnect")
            assert any("venue connection lost" in e.text for e in hive.board.events_of("info"))
            wait_for(lambda: all(any("resync after reconnected" in e.text for e in hive.board.events_of("reconciled", a))
                                 for a in ASSETS), timeout=10, what="every asset reconciled")
            st = srv.state()
            kinds = [(r["kind"], r["asset"]) for r in st["requests"]]
            for a in ASSETS:
                assert ("snapshot", a) in kinds, a
            wait_for(lambda: all(n > 0 for n in open_counts(srv.state()).values()), timeout=20,
                     what="quoting again after the reconnect")
            summary = hive.stop()
            stopped = True
        finally:
            if not stopped:
                hive.stop()
        st = srv.state()
        assert open_counts(st) == {a: 0 for a in ASSETS}
        assert st["schedule_cancel"]["at"] is None  # the clean stop cleared the switch
        assert summary["portfolio"]["open_orders_at_exit"] == 0
        for a, s in summary["assets"].items():
            # fills flowed into risk's positions: the hive's books match the venue's to the cent
            assert s["inventory"] == pytest.approx(st["positions"][a], abs=1e-12), a
            assert s["venue_position"] == pytest.approx(st["positions"][a], abs=1e-12), a
            assert abs(s["net_pnl"] - s["venue_pnl"]) < 0.01, (a, s["net_pnl"], s["venue_pnl"])
            assert s["fills_buy"] + s["fills_sell"] > 0, a
        assert venue.stats.malformed == 0


# -- the process-level dead-man's-switch test ---------------------------------------------------------
def test_sigkilled_hive_loses_its_quotes_to_the_dead_mans_switch_and_a_restart_reconciles_first(tmp_path):
    speed, window = 2.0, 6.0
    server_cfg = write_config(tmp_path / "server.toml")
    with sim_server(server_cfg, speed=speed, seed=11) as srv:
        hive_cfg = write_config(tmp_path / "hive.toml", run={"journal_dir": str(tmp_path / "runs")},
                                remote={"url": srv.url},
                                dead_mans_switch={"enabled": True, "window_s": window, "renew_every_s": 2.0})

        def start_hive(tag: str) -> subprocess.Popen:
            with open(tmp_path / f"{tag}.out", "w") as out, open(tmp_path / f"{tag}.err", "w") as err:
                return subprocess.Popen([PY, "-m", "makerhive.cli", "run", "--headless", "--venue", "remote-sim",
                                         "--speed", str(speed), "--config", str(hive_cfg),
                                         "--summary-json", str(tmp_path / f"{tag}.json")],
                                        cwd=tmp_path, stdout=out, stderr=err)

        def quoting_everywhere() -> bool:
            st = srv.state()
            return all(n > 0 for n in open_counts(st).values()) and st["schedule_cancel"]["at"] is not None

        hive = start_hive("first")
        try:
            wait_for(quoting_everywhere, timeout=30, poll=0.1, what="first hive quoting with the switch armed")
            before = srv.state()
            os.kill(hive.pid, signal.SIGKILL)
            t_kill = time.monotonic()
            hive.wait(5)
        finally:
            if hive.poll() is None:
                hive.kill()
        # right after the kill the orders still rest: nobody cancelled them
        after = srv.state()
        assert all(n > 0 for n in open_counts(after).values()), open_counts(after)
        armed_at = after["schedule_cancel"]["at"]
        assert armed_at is not None and armed_at > after["now"]
        assert not before["dms_fired"]

        # the venue's dead-man's switch removes every one of them within the window
        deadline = window / speed + 3.0
        wait_for(lambda: sum(open_counts(srv.state()).values()) == 0, timeout=deadline, poll=0.05,
                 what="the dead-man's switch to cancel every order")
        t_gone = time.monotonic() - t_kill
        st = srv.state()
        assert len(st["dms_fired"]) == 1 and st["dms_fired"][0]["cancelled"] > 0
        assert st["dms_fired"][0]["at"] == armed_at
        print(f"\nSIGKILL -> all quotes gone: {t_gone:.2f}s real ({t_gone * speed:.1f}s venue time, window {window:g}s); "
              f"{st['dms_fired'][0]['cancelled']} orders cancelled by the switch at venue time {armed_at:.2f}")
        assert t_gone <= window / speed + 1.0

        # a restarted hive reconciles every asset before its first order there, then quotes
        inherited = st["positions"]
        hive = start_hive("second")
        try:
            wait_for(quoting_everywhere, timeout=30, poll=0.1, what="the restarted hive quoting")
            st = srv.state()
            assert st["sessions"] == 2
            log = [(r["kind"], r["asset"]) for r in st["requests"]]
            for a in ASSETS:
                first_place = log.index(("place", a))
                assert ("snapshot", a) in log[:first_place], (a, log[:first_place + 1])
            hive.send_signal(signal.SIGTERM)
            rc = hive.wait(30)
        finally:
            if hive.poll() is None:
                hive.kill()
                hive.wait(5)
        out = (tmp_path / "second.out").read_text()
        assert rc == 0, (out[-2000:], (tmp_path / "second.err").read_text()[-2000:])
        assert "venue confirmed 0 open orders" in out
        st = srv.state()
        assert open_counts(st) == {a: 0 for a in ASSETS}
        assert st["schedule_cancel"]["at"] is None
        summary = json.loads((tmp_path / "second.json").read_text())
        for a in ASSETS:  # the position the killed hive left behind was taken over, not ignored
            assert summary["assets"][a]["inventory"] == pytest.approx(st["positions"][a], abs=1e-12), a
        assert any(inherited[a] != 0 for a in ASSETS)


def test_unreachable_venue_is_one_clear_line_and_exit_3(tmp_path):
    import socket as _socket

    with _socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "c.toml"
    cfg.write_text((ROOT / "config.toml").read_text().replace('journal_dir = "runs"', "")
                   + f'\n[remote]\nurl = "ws://127.0.0.1:{port}"\n')
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "run", "--headless", "--venue", "remote-sim",
                           "--duration", "5", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 3  # its own exit status (README), not a failed run's 1
    assert "cannot reach the venue" in proc.stderr and "Traceback" not in proc.stderr
    line = next(x for x in proc.stderr.splitlines() if "cannot reach the venue" in x)
    assert f"ws://127.0.0.1:{port}" in line and "ExceptionGroup" not in line
