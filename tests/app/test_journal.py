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
    j.fill(_fill(1, 10.0, px=99.95, side="B"), fair_px=100.0)
    j.fill(_fill(1, 10.0, px=99.95, side="B"), fair_px=100.0)  # the same trade again (a resync)
    j.fill(_fill(2, 10.0, px=100.0, side="A"), fair_px=float("nan"))
    j.order(9.9, "BTC", "place", "0x1", "B", 100.0, 0.5)
    j.order(9.98, "BTC", "ack", "0x1")
    j.order(9.99, "BTC", "reject", "0x2", text="Post only order would have immediately matched")
    j.mark(11.0, "BTC", 101.0)  # 1 s after: +100 bp for the buy, -100 bp for the sell (from the fair price;
    # without one, from the fill's price)
    j.mark(15.2, "BTC", 99.0)  # 5 s after
    j.mark(120.0, "BTC", 105.0)  # far past 30 s: a mid that late says nothing about 30 s
    j.close()
    fills = _rows(j.path, "SELECT tid, side, fair_px, markout_1s_bp, markout_5s_bp, markout_30s_bp FROM fills "
                          "ORDER BY tid")
    assert [f[:2] for f in fills] == [(1, "B"), (2, "A")]
    assert fills[0][2] == pytest.approx(100.0) and fills[1][2] is None  # NaN is stored as unknown
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
    from tests.venues.remote.test_remote_sim import PY, sim_server, write_config

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


# -- history and report over the journal ------------------------------------------------------------
def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "makerhive.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_report_of_a_live_run_equals_the_venues_figures_and_draws_its_plots(tmp_path):
    import json

    from makerhive.report import write_report

    cfg = zero_latency(select_assets(sim_config(run={"journal_dir": str(tmp_path)}), ("BTC", "ETH")))
    hive = Hive(cfg, seed=5, lockstep=True)
    hive.start()
    try:
        hive.wait_until(400.0)
    finally:
        summary = hive.stop()
    path = summary["portfolio"]["journal"]
    r = write_report(path, tmp_path / "rep")
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["total"]["fills"] == r["total"]["fills"]
    for a in ("BTC", "ETH"):
        p, s = r["per_asset"][a], summary["assets"][a]
        venue_fills = hive.venue.engine.fills(a)
        assert p["fills"] == len(venue_fills) == s["fills_buy"] + s["fills_sell"] > 0
        assert p["net_pnl"] == pytest.approx(s["venue_pnl"], abs=0.01)
        assert -p["attribution"]["fees"] == pytest.approx(sum(f.fee for f in venue_fills), abs=1e-9)
        assert p["volume_usd"] == pytest.approx(sum(f.px * f.sz for f in venue_fills), rel=1e-9)
        parts = p["attribution"]
        assert sum(parts.values()) == pytest.approx(p["net_pnl"], abs=1e-9)
        assert p["bp_per_notional"] == pytest.approx(p["net_pnl"] / p["volume_usd"] * 1e4)
        assert 0 < p["fill_rate"] <= 1 and p["actions_per_usdc"] > 0
        for key in ("sharpe", "sortino", "max_drawdown", "drawdown_duration_s", "markout_bp", "per_day"):
            assert key in p
    assert r["total"]["net_pnl"] == pytest.approx(summary["portfolio"]["net_pnl"], abs=0.01)
    assert r["total"]["max_drawdown"] >= 0
    for name in ("equity", "inventory", "price_fills", "markouts"):
        png = tmp_path / "rep" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, name


def test_a_backtest_journal_reports_the_backtesters_own_figures_and_history_lists_its_fills(tmp_path):
    import csv
    import io
    import json

    from tests.hive_helpers import ROOT

    out = _cli("backtest", "--config", str(ROOT / "config.toml"), "--duration", "300", "--assets", "ETH", "--zero-latency",
               "--journal", str(tmp_path / "j"),
               "--json", str(tmp_path / "bt.json"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    journal = tmp_path / "j" / "journal.sqlite"
    rep = _cli("report", "--journal", str(journal), "--out", str(tmp_path / "rep"))
    assert rep.returncode == 0, rep.stderr[-2000:]
    bt = json.loads((tmp_path / "bt.json").read_text())["per_asset"]["ETH"]
    r = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert r["kind"] == "backtest"
    assert r["per_asset"]["ETH"]["fills"] == bt["fills"] > 0
    assert r["per_asset"]["ETH"]["net_pnl"] == pytest.approx(bt["net_pnl"], abs=1e-6)
    assert r["per_asset"]["ETH"]["attribution"]["spread_capture"] == pytest.approx(bt["spread_capture"], abs=1e-6)
    assert r["total"]["net_pnl"] == pytest.approx(r["per_asset"]["ETH"]["net_pnl"])

    js = _cli("history", "--journal", str(journal), "--json")
    assert js.returncode == 0, js.stderr
    fills = json.loads(js.stdout)["fills"]
    assert len(fills) == bt["fills"] and all(f["asset"] == "ETH" for f in fills)
    since = sorted(float(f["ts"]) for f in fills)[len(fills) // 2]  # the later half of the run's fills
    late = _cli("history", "--journal", str(journal), "--csv", "--since", repr(since), "--asset", "eth")
    rows = list(csv.DictReader(io.StringIO(late.stdout)))
    assert rows and all(float(x["ts"]) >= since for x in rows) and len(rows) < len(fills)
    table = _cli("history", "--journal", str(journal), "--limit", "5")
    assert table.returncode == 0 and "ETH" in table.stdout
    none = _cli("history", "--journal", str(journal), "--asset", "BTC")
    assert "no fills" in none.stdout
    missing = _cli("history", "--journal", str(tmp_path / "nope.sqlite"))
    assert missing.returncode == 2 and "no journal" in missing.stderr
    sweep = _cli("backtest", "--config", str(ROOT / "config.toml"), "--sweep", "--grid", "quoting.gamma=0.1",
                 "--duration", "60", "--assets", "ETH",
                 "--workers", "1", "--journal", str(tmp_path / "j2"), cwd=tmp_path)
    assert sweep.returncode == 2 and "--journal works with a plain backtest" in sweep.stderr
