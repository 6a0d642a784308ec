"""The run's journal: what it keeps, that it never blocks, and that a killed run keeps it."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from backtest.engine import select_assets, zero_latency
from makerhive import journal as journal_mod
from makerhive.app import Hive
from makerhive.journal import Journal, connect
from messages.orders import Fill
from tests.hive_helpers import sim_config, wait_for


def _fill(tid: int, ts: float, px: float = 100.0, side: str = "B", asset: str = "BTC", fee: float = 0.01) -> Fill:
    return Fill(asset, f"0x{tid:032x}", tid, tid, side, px, 0.5, fee, ts, 0.0)


def _rows(path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_new_journal_is_migrated_once_and_a_newer_one_refused(tmp_path):
    path = tmp_path / "journal.sqlite"
    con = connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == journal_mod.SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"fills", "orders", "positions", "funding", "allocations", "events", "runs"} <= tables
    con.close()
    connect(path).close()  # opening again runs nothing twice
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {journal_mod.SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(RuntimeError, match="newer"):
        connect(path)


def test_fills_orders_and_markouts_are_journaled_each_trade_once(tmp_path):
    j = Journal.in_dir(tmp_path).start(venue="sim", assets=("BTC",))
    j.fill(_fill(1, 10.0, px=100.0, side="B"), fair_px=100.05)
    j.fill(_fill(1, 10.0, px=100.0, side="B"), fair_px=100.05)  # the same trade again (a resync)
    j.fill(_fill(2, 10.0, px=100.0, side="A"), fair_px=float("nan"))
    j.order(9.9, "BTC", "place", "0x1", "B", 100.0, 0.5)
    j.order(9.98, "BTC", "ack", "0x1")
    j.order(9.99, "BTC", "reject", "0x2", text="Post only order would have immediately matched")
    j.mark(11.0, "BTC", 101.0)  # 1 s after: +100 bp for the buy, -100 bp for the sell
    j.mark(15.2, "BTC", 99.0)  # 5 s after
    j.mark(120.0, "BTC", 105.0)  # far past 30 s: a mid that late says nothing about 30 s
    j.close()
    fills = _rows(j.path, "SELECT tid, side, fair_px, markout_1s_bp, markout_5s_bp, markout_30s_bp FROM fills "
                          "ORDER BY tid")
    assert [f[:2] for f in fills] == [(1, "B"), (2, "A")]
    assert fills[0][2] == pytest.approx(100.05) and fills[1][2] is None  # NaN is stored as unknown
    assert fills[0][3] == pytest.approx(100.0) and fills[1][3] == pytest.approx(-100.0)
    assert fills[0][4] == pytest.approx(-100.0) and fills[1][4] == pytest.approx(100.0)
    assert fills[0][5] is None and fills[1][5] is None
    orders = _rows(j.path, "SELECT action, text, latency_s FROM orders ORDER BY id")
    assert orders[1][0] == "ack" and orders[1][2] == pytest.approx(0.08)
    assert orders[2] == ("reject", "Post only order would have immediately matched", None)


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    j = Journal(tmp_path / "journal.sqlite", queue_size=10)  # writer not started: nothing drains
    t0 = time.perf_counter()
    for i in range(1000):
        j.fill(_fill(i, float(i)))
    assert time.perf_counter() - t0 < 0.5
    assert j.dropped == 990


def test_a_sim_hive_journals_every_fill_the_venue_made_and_the_final_pnl(tmp_path):
    cfg = zero_latency(select_assets(sim_config(run={"journal_dir": str(tmp_path)}), ("BTC", "ETH")))
    hive = Hive(cfg, seed=3, lockstep=True)
    hive.start()
    try:
        hive.wait_until(300.0)
    finally:
        summary = hive.stop()
    path = summary["portfolio"]["journal"]
    assert path == str((tmp_path / "journal.sqlite").resolve())
    for a in ("BTC", "ETH"):
        venue = {(f.tid, f.side, f.px, f.sz) for f in hive.venue.engine.fills(a)}
        journaled = set(_rows(path, f"SELECT tid, side, px, sz FROM fills WHERE asset = '{a}'"))
        assert venue and journaled == venue, a
        # the last snapshot is the summary's, which the venue's cash + position x mid confirms
        (net,) = _rows(path, f"SELECT net_pnl FROM positions WHERE asset = '{a}' ORDER BY id DESC LIMIT 1")[0]
        assert net == pytest.approx(summary["assets"][a]["venue_pnl"], abs=0.01)
        acks = _rows(path, f"SELECT count(*), avg(latency_s) FROM orders WHERE asset = '{a}' AND action = 'ack'")
        assert acks[0][0] > 0
    events = _rows(path, "SELECT ts, kind, asset, text FROM events ORDER BY id")
    assert events == [(e.ts, e.kind, e.asset, e.text) for e in hive.board.events]  # streamed, every one
    assert any(e[1] == "reconciled" for e in events)
    assert _rows(path, "SELECT count(*) FROM positions")[0][0] > 100  # a snapshot a second per asset


def test_a_journal_survives_kill_9_with_every_fill_up_to_a_second_before(tmp_path):
    from tests.test_remote_sim import PY, sim_server, write_config

    speed = 5.0
    server_cfg = write_config(tmp_path / "server.toml")
    with sim_server(server_cfg, speed=speed, seed=11) as srv:
        hive_cfg = write_config(tmp_path / "hive.toml", run={"journal_dir": str(tmp_path / "runs")},
                                remote={"url": srv.url})
        hive = subprocess.Popen([PY, "-m", "makerhive.cli", "run", "--headless", "--venue", "remote-sim",
                                 "--speed", str(speed), "--config", str(hive_cfg)],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen: list[tuple[float, dict[str, int]]] = []
        done = threading.Event()

        def watch() -> None:  # the venue's fill counts as time goes by
            while not done.is_set():
                st = srv.state()
                seen.append((time.monotonic(), st["fills"]))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        try:
            watcher.start()
            wait_for(lambda: seen and sum(seen[-1][1].values()) >= 20, timeout=60, poll=0.1,
                     what="the venue making fills for the hive")
            time.sleep(2.0)
            os.kill(hive.pid, signal.SIGKILL)
            t_kill = time.monotonic()
            hive.wait(5)
        finally:
            done.set()
            watcher.join(5)
            if hive.poll() is None:
                hive.kill()
                hive.wait(5)
        before = [counts for t, counts in seen if t <= t_kill - 1.0][-1]
        final = srv.state()["fills"]
    path = tmp_path / "runs" / "journal.sqlite"
    journaled = dict(_rows(path, "SELECT asset, count(*) FROM fills GROUP BY asset"))
    for a, n in before.items():
        assert journaled.get(a, 0) >= n, (a, journaled, before)  # nothing older than a second lost
        assert journaled.get(a, 0) <= final[a]  # and nothing the venue did not make
    assert sum(before.values()) >= 20
