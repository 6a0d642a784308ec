"""The whole system on the simulated exchange: five assets quote, fill and stop clean."""
import json
import subprocess
import sys

import pytest

from makerhive.app import Hive
from tests.hive_helpers import ROOT, sim_config

SUMMARY_ASSET_KEYS = {"fills_buy", "fills_sell", "volume_usd", "realized_pnl", "unrealized_pnl", "fees",
                      "inventory", "max_abs_inventory_usd", "limit_usd", "restarts", "open_orders_at_exit",
                      "capital"}


@pytest.fixture(scope="module")
def run_summary():
    """One 90-simulated-second run of the default five assets (speed x20), on the formula
    market (takers reach the quotes in 90 s; the order-flow book is tested in lockstep)."""
    hive = Hive(sim_config(sim={"market_model": "formula"}))
    hive.start()
    try:
        hive.wait_until(90.0)
        quoting_seen = dict(hive.board.phase)
    finally:
        summary = hive.stop()
    return summary, quoting_seen, hive


def test_every_asset_fills_on_both_sides(run_summary):
    summary, phases, _ = run_summary
    assert set(summary["assets"]) == {"BTC", "ETH", "SOL", "XRP", "HYPE"}
    for asset, s in summary["assets"].items():
        assert phases[asset] == "quoting", asset
        assert s["fills_buy"] > 0 and s["fills_sell"] > 0, (asset, s)
        assert s["volume_usd"] > 0


def test_inventory_never_beyond_its_limit(run_summary):
    summary, _, _ = run_summary
    for asset, s in summary["assets"].items():
        assert 0 < s["limit_usd"] <= 5000
        assert s["max_abs_inventory_usd"] <= s["limit_usd"] + 1e-6, (asset, s)


def test_risk_pnl_equals_the_venues_own_accounting_to_the_cent(run_summary):
    summary, _, hive = run_summary
    for asset, s in summary["assets"].items():
        assert s["inventory"] == pytest.approx(s["venue_position"], abs=1e-12), asset
        assert abs(s["net_pnl"] - s["venue_pnl"]) < 0.01, (asset, s["net_pnl"], s["venue_pnl"])
        engine = hive.venue.engine  # no order rests any more: cash and position are final
        assert s["venue_pnl"] == pytest.approx(engine.cash(asset) + engine.position(asset) * s["venue_mid"], abs=1e-5)


def test_zero_open_orders_after_shutdown(run_summary):
    summary, _, hive = run_summary
    assert summary["portfolio"]["open_orders_at_exit"] == 0
    for asset in summary["assets"]:
        assert hive.venue.engine.open_orders(asset) == ()
        assert summary["assets"][asset]["open_orders_at_exit"] == 0


def test_capital_is_shared_equally(run_summary):
    summary, _, _ = run_summary
    caps = [s["capital"] for s in summary["assets"].values()]
    assert caps == [summary["portfolio"]["capital"] / 5] * 5


def test_headless_cli_writes_the_summary_contract(tmp_path):
    out = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "makerhive.cli", "run", "--headless", "--duration", "20", "--speed", "20",
         "--seed", "3", "--summary-json", str(out), "--config", str(ROOT / "config.toml")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data["assets"]) == {"BTC", "ETH", "SOL", "XRP", "HYPE"}
    for s in data["assets"].values():
        assert SUMMARY_ASSET_KEYS <= set(s)
        assert s["open_orders_at_exit"] == 0
    assert {"capital", "net_pnl", "open_orders_at_exit"} <= set(data["portfolio"])
    assert "all orders cancelled" in proc.stdout
    events = [json.loads(line) for line in open(data["portfolio"]["events_file"])]
    assert {e["kind"] for e in events} >= {"reconciled"} and all(e["asset"] for e in events)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_stops_cleanly_with_zero_open_orders(tmp_path, sig):
    import signal
    import time

    out = tmp_path / "summary.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "makerhive.cli", "run", "--headless", "--speed", "10",
         "--summary-json", str(out), "--config", str(ROOT / "config.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        time.sleep(6.0)  # ~60 simulated seconds of quoting
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(getattr(signal, sig))
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["portfolio"]["open_orders_at_exit"] == 0
    assert sum(s["fills_buy"] + s["fills_sell"] for s in data["assets"].values()) > 0
    assert "makerhive summary" in stdout and "all orders cancelled" in stdout


def test_funding_is_paid_and_accounted_to_the_cent():
    """Funding every 20 simulated seconds (hourly on Hyperliquid): the risk actors' PnL,
    funding included, still equals the venue's cash + position x mid."""
    hive = Hive(sim_config(sim={"funding_interval_s": 20.0}))
    hive.start()
    try:
        hive.wait_until(90.0)
    finally:
        summary = hive.stop()
    paid = {a: hive.venue.engine.funding(a) for a in hive.assets}
    assert any(abs(v) > 0 for v in paid.values())
    for asset, s in summary["assets"].items():
        assert s["funding"] == pytest.approx(paid[asset], abs=1e-6), asset  # rounded to 6 decimals
        assert abs(s["net_pnl"] - s["venue_pnl"]) < 0.01, (asset, s["net_pnl"], s["venue_pnl"])


def test_fills_that_cannot_be_read_at_exit_are_said_not_silently_dropped():
    """The order actor's last act reads the fills since its last sync; if the venue cannot
    answer, the summary says so (a fill there may be missing from it) instead of
    finishing as if nothing were missing."""
    from tests.hive_helpers import wait_for
    from venues.runtime import VenueUnavailable

    hive = Hive(sim_config(portfolio={"assets": ["BTC", "SOL"]}, run={"speed": 20.0}))
    hive.start()
    wait_for(lambda: all(hive.board.phase[a] == "quoting" for a in hive.assets), what="all quoting")

    def unreachable(*args, **kwargs):
        raise VenueUnavailable("venue request timed out after 5.0s")

    hive.gateway.fills = unreachable
    summary = hive.stop()
    assert summary["portfolio"]["events"].get("exit_fills_unread") == 2
    said = [e.text for e in hive.board.events_of("failure")]
    assert sum("could not be read" in t for t in said) == 2
    assert summary["portfolio"]["open_orders_at_exit"] == 0  # the cancels still went


def test_the_view_and_status_count_the_sweeps_that_pulled_a_side():
    """The sweep guard acts within a second, too fast to watch: the board counts it."""
    hive = Hive(sim_config(portfolio={"assets": ["HYPE"]}, run={"speed": 20.0}))
    hive.start()
    try:
        hive.wait_until(60.0)
        (row,) = hive.snapshot().assets
        status = hive.command(["status"])
    finally:
        hive.stop()
    assert row.sweeps > 0  # HYPE's book is thin: takers walk it every few seconds
    assert status["assets"]["HYPE"]["sweeps"] >= row.sweeps
    assert hive.board.events_of("sweep", "HYPE")  # and the log heard of it
