"""The chaos run beyond the embedded sim: the Hyperliquid venue against the local fake
exchange, and the trading process SIGKILLed and restarted on remote-sim. Both short and
bounded; every invariant must hold."""
import pytest

from makerhive.chaos import INVARIANTS
from makerhive.chaos_hl import HL_VENUE_FAULTS, run_chaos_hl
from makerhive.chaos_restart import RESTART_INVARIANTS, run_kill_restart
from tests.hive_helpers import ROOT, sim_config
from tests.hive.test_chaos import CHAOS_SUPERVISION, REPORT_KEYS


@pytest.mark.slow
def test_the_hyperliquid_venue_under_exchange_faults_breaks_no_invariant():
    """Dropped and stalled WebSockets, answers racing the feed or lost after the action
    ran, rejects, 429s and 500s, exchange-side cancels, a refused dead-man's switch and an
    exhausted address budget, on the real venue code; the fake's books are the truth."""
    cfg = sim_config(portfolio={"assets": ["BTC", "ETH", "SOL"]}, supervision=CHAOS_SUPERVISION,
                     run={"speed": 1.0})
    report = run_chaos_hl(cfg, seed=3, faults=24, duration=16.0, kinds=HL_VENUE_FAULTS)
    assert REPORT_KEYS | {"recovery_ms_p99", "recovery_ms_p99_with_injected_delays", "fill_identity_mismatches",
                          "not_quoting_s_by_cause", "slowest_recoveries"} <= set(report)
    assert set(report["faults_by_kind"]) == set(HL_VENUE_FAULTS)  # seed 3: every kind at least once
    assert report["ip_weight"]["requests"] > 0 and report["ip_weight"]["throttled"] > 0  # the 429 faults met
    ex = report["exchange"]  # the faults landed on the exchange, not only in the schedule
    assert ex["ws_drops"] > 0 and ex["answers_lost"] > 0 and ex["fills"] > 0
    assert ex["schedule_cancel_refused"] > 0 and report["dms_quoting_stops"] > 0
    for key in INVARIANTS:
        assert report[key] == 0, (key, report)
    assert report["invariants_ok"]


@pytest.mark.slow
def test_a_killed_and_restarted_process_leaves_no_quote_past_the_window_and_reconciles(tmp_path):
    """A SIGKILL on remote-sim at real speed and a restart at once, inside the 15 s window:
    it finds the dead process's quotes and must cancel them before it quotes. (A restart
    after the switch fired is tests/venues/remote's SIGKILL test.)"""
    report = run_kill_restart(ROOT / "config.toml", tmp_path / "w", seed=3, cycles=1, speed=1.0)
    assert report["faults_by_kind"] == {"process_kill": 1}
    assert report["restarts_inheriting_quotes"] >= 1  # seed 3: the first restart is at once
    assert 0 < report["recovery_ms_p99"] < 30_000
    for key in RESTART_INVARIANTS:
        assert report[key] == 0, (key, report)
    assert report["invariants_ok"]


@pytest.mark.slow
def test_chaos_command_on_the_hyperliquid_fake_writes_its_report_and_exits_0(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "hl.json"
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "chaos", "--venue", "hl-fake", "--seed", "2",
                           "--faults", "4", "--duration", "6", "--config", str(ROOT / "config.toml"),
                           "--kinds", "crash_order,feed_disconnect,throttle", "--summary-json", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["venue"] == "hl-fake" and report["faults_injected"] == 4 and REPORT_KEYS <= set(report)
    assert set(report["faults_by_kind"]) <= {"crash_order", "feed_disconnect", "throttle"}  # only those asked for
    assert report["ip_weight"]["requests"] > 0
    assert "every invariant held" in proc.stdout and "on hl-fake" in proc.stdout
