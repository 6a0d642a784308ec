"""The chaos run: hundreds of random faults of every kind; every invariant must hold."""
import json
import re
import subprocess
import sys

import pytest

from makerhive.chaos import FAULT_KINDS, INVARIANTS, run_chaos
from tests.hive_helpers import ROOT, sim_config

CHAOS_SUPERVISION = {"intensity": 10, "handler_budget_s": 0.5, "shutdown_timeout_s": 2.0,
                     "tree_backoff_s": 1.0, "tree_handler_budget_s": 10.0}
REPORT_KEYS = {"faults_injected", "faults_by_kind", "recoveries", "orphan_orders", "position_mismatches",
               "lost_fills", "duplicate_fills", "limit_breaches", "root_failures", "cancel_ms_p99",
               "requote_ms_p99"}


@pytest.mark.slow
def test_a_few_hundred_faults_break_no_invariant():
    report = run_chaos(sim_config(supervision=CHAOS_SUPERVISION), seed=11, faults=300, duration=400.0, speed=20.0)
    assert REPORT_KEYS <= set(report)
    assert report["faults_injected"] >= 200  # some land on an asset that is quarantined by then
    assert set(report["faults_by_kind"]) >= set(FAULT_KINDS) - {"crash_supervisor"}
    assert report["recoveries"] >= 15  # fewer on a loaded machine: the invariants are the point
    for key in INVARIANTS:
        assert report[key] == 0, (key, report)
    assert report["invariants_ok"]


def test_chaos_command_writes_its_report_and_exits_0(tmp_path):
    cfg = tmp_path / "chaos.toml"
    text = (ROOT / "config.toml").read_text()
    for key, value in CHAOS_SUPERVISION.items():  # override the [supervision] table's values
        if re.search(rf"^{key} = ", text, flags=re.M):
            text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        else:
            text = text.replace("[supervision]\n", f"[supervision]\n{key} = {value}\n", 1)
    cfg.write_text(text)
    out = tmp_path / "chaos.json"
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "chaos", "--seed", "3", "--faults", "40",
                           "--duration", "80", "--speed", "20", "--config", str(cfg), "--summary-json", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert REPORT_KEYS <= set(report) and report["faults_injected"] > 0
    assert "every invariant held" in proc.stdout
