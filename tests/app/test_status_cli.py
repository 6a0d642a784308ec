"""`makerhive status` reads as a table (JSON with --json); `makerhive --version` answers."""
from __future__ import annotations

import json
import subprocess
import sys

from makerhive.cli import main
from makerhive.control import ControlServer, socket_path
from tests.hive_helpers import ROOT

ANSWER = {"ok": True, "sim_time_s": 125.0, "venue": "sim", "journal": "/runs/journal.sqlite",
          "assets": {"BTC": {"phase": "quoting", "net_pnl": 12.5, "inventory": 0.01, "capital": 20000.0, "restarts": 1,
                             "inventory_usd": 650.0, "limit_usd": 5000.0, "our_bid": 64990.0, "our_ask": 65010.0,
                             "own_spread_bp": 3.08, "open_orders": 4, "fills": 17, "guard": ""},
                     "ETH": {"phase": "halted", "net_pnl": -2.0, "inventory": 0.0, "capital": 20000.0, "restarts": 0}}}


def _config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((ROOT / "config.toml").read_text().replace("[run]\n", f'[run]\njournal_dir = "{tmp_path / "runs"}"\n', 1))
    return path


def test_status_prints_a_table_and_json_on_request(tmp_path, capsys):
    cfg = _config(tmp_path)
    server = ControlServer(socket_path(str(tmp_path / "runs")), lambda words: ANSWER)
    server.start()
    try:
        assert main(["status", "--config", str(cfg)]) == 0
        table = capsys.readouterr().out
        assert main(["status", "--config", str(cfg), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
    finally:
        server.stop()
    assert doc == ANSWER
    assert "net PnL +10.50" in table  # the total, in the title
    btc = next(line for line in table.splitlines() if "BTC" in line)
    for cell in ("quoting", "+12.50", "+650", "5,000", "64990", "65010", "3.1", "17"):
        assert cell in btc
    eth = next(line for line in table.splitlines() if "ETH" in line)
    assert "halted" in eth and "-2.00" in eth and "-" in eth  # what an older hive does not say: '-'
    assert "journal: /runs/journal.sqlite" in table


def test_status_without_a_running_hive_says_so_and_fails(tmp_path, capsys):
    assert main(["status", "--config", str(_config(tmp_path))]) == 1
    assert "no running hive answers at" in capsys.readouterr().err


def test_version():
    out = subprocess.run([sys.executable, "-m", "makerhive.cli", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("makerhive 0.")
