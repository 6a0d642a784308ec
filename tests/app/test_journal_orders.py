"""Orders in the journal: modifies as modifies, latencies on what was sent, an older
journal migrated in place, and a backtest's orders listed as a live run's."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from backtest.engine import select_assets, zero_latency
from makerhive import journal as journal_mod
from makerhive.app import Hive
from makerhive.journal import Journal, connect
from strategy.order_actions import OrderAction
from tests.hive_helpers import ROOT, sim_config


def _rows(path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "makerhive.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_a_modify_is_one_row_with_old_and_new_and_its_latency(tmp_path):
    j = Journal.in_dir(tmp_path).start(venue="sim", assets=("BTC",))
    j.actions(10.0, "BTC", [OrderAction("place", "0x1", "B", 99.0, 1.0)])
    j.actions(10.05, "BTC", [OrderAction("ack", "0x1")])
    j.actions(12.0, "BTC", [OrderAction("modify", "0x2", "B", 99.5, 0.8, "0x1", 99.0, 1.0),
                            OrderAction("cancel", "0x3", "A", 101.0, 1.0)])
    j.actions(12.03, "BTC", [OrderAction("cancelled", "0x1", text="modified"), OrderAction("ack", "0x2"),
                             OrderAction("reject", "0x3", text="Order was never placed, already canceled, or filled")])
    j.close()
    rows = _rows(j.path, "SELECT action, cloid, side, px, sz, old_cloid, old_px, old_sz, latency_s, text "
                         "FROM orders ORDER BY id")
    assert [r[0] for r in rows] == ["place", "ack", "modify", "cancel", "cancelled", "ack", "reject"]
    modify = rows[2]
    assert modify[1:8] == ("0x2", "B", 99.5, 0.8, "0x1", 99.0, 1.0)
    assert modify[8] == pytest.approx(0.03) and rows[5][8] == pytest.approx(0.03)  # sent -> acked
    assert rows[0][8] == pytest.approx(0.05)
    assert rows[3][8] == pytest.approx(0.03) and rows[6][9].startswith("Order was never placed")  # the cancel's answer
    assert rows[4][8] is None  # the old order left because of the modify: no cancel of ours to time


def test_a_journal_from_before_modifies_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "journal.sqlite"
    con = sqlite3.connect(path)
    for stmt in journal_mod.MIGRATIONS[0]:
        con.execute(stmt)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO orders (run_id, ts, asset, action, cloid) VALUES (1, 5.0, 'BTC', 'place', '0xa')")
    con.commit()
    con.close()
    connect(path).close()
    assert _rows(path, "PRAGMA user_version")[0][0] == journal_mod.SCHEMA_VERSION == 2
    assert _rows(path, "SELECT action, cloid, old_cloid FROM orders") == [("place", "0xa", None)]


def test_a_backtest_journal_lists_its_orders_as_a_live_run_does(tmp_path):
    out = _cli("backtest", "--config", str(ROOT / "config.toml"), "--duration", "120", "--assets", "ETH",
               "--latency", "hyperliquid", "--journal", str(tmp_path / "j"), "--json", str(tmp_path / "bt.json"),
               cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    journal = tmp_path / "j" / "journal.sqlite"
    js = _cli("history", "--journal", str(journal), "--orders", "--json")
    assert js.returncode == 0, js.stderr
    orders = json.loads(js.stdout)["orders"]
    by = {}
    for o in orders:
        by.setdefault(o["action"], []).append(o)
    info = json.loads(_rows(journal, "SELECT info FROM runs")[0][0])["orders"]["ETH"]
    # every order the backtester sent is a placement or a modify, every cancel a cancel or a modify
    assert len(by["place"]) + len(by["modify"]) == info["orders"] > 0
    assert len(by["cancel"]) + len(by["modify"]) == info["cancels"]
    assert len(by.get("reject", ())) >= info["rejects"]  # its placements' rejects, and refused cancels
    m = by["modify"][0]
    assert m["old_cloid"] and m["old_px"] > 0 and m["px"] > 0 and m["side"] in ("B", "A")
    # Hyperliquid's wire: a round trip takes time, on the row that was sent and on its answer
    acked = [o for o in by["ack"] if o["latency_s"] is not None]
    assert acked and all(0 < o["latency_s"] < 5 for o in acked)
    assert sum(o["latency_s"] is not None for o in by["modify"]) > 0.9 * len(by["modify"])
    for r in by.get("reject", ()):
        assert r["text"]  # the exchange's own words
    table = _cli("history", "--journal", str(journal), "--orders", "--limit", "30")
    assert table.returncode == 0 and "modify" in table.stdout and "→" in table.stdout
    rep = _cli("report", "--journal", str(journal), "--out", str(tmp_path / "rep"))
    assert rep.returncode == 0, rep.stderr[-2000:]
    eth = json.loads((tmp_path / "rep" / "report.json").read_text())["per_asset"]["ETH"]
    assert (eth["orders_placed"], eth["cancels"], eth["modifies"]) == (info["orders"], info["cancels"],
                                                                       len(by["modify"]))


def test_a_live_sim_run_journals_replaced_quotes_as_modifies(tmp_path):
    cfg = zero_latency(select_assets(sim_config(run={"journal_dir": str(tmp_path)}), ("ETH",)))
    hive = Hive(cfg, seed=5, lockstep=True)
    hive.start()
    try:
        hive.wait_until(60.0)
        status = hive.command(["status"])
    finally:
        summary = hive.stop()
    path = summary["portfolio"]["journal"]
    eth = status["assets"]["ETH"]  # what `makerhive status` shows
    assert status["ok"] and status["journal"] == path and status["venue"] == "sim"
    assert eth["phase"] == "quoting" and eth["limit_usd"] > 0 and eth["fills"] >= 0 and "open_orders" in eth
    mods = _rows(path, "SELECT cloid, old_cloid, side, px, old_px FROM orders WHERE action = 'modify'")
    assert mods and all(m[1] and m[2] in ("B", "A") and m[3] > 0 and m[4] > 0 for m in mods)
    placed = {r[0] for r in _rows(path, "SELECT cloid FROM orders WHERE action IN ('place', 'modify')")}
    assert {m[1] for m in mods} <= placed  # a modify replaces an order the journal saw placed
