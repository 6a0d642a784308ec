"""End to end on the Hyperliquid venue, against the faithful local fake of its API.

The fake (testkit/hyperliquid_fake) serves REST and WebSocket on one 127.0.0.1 port,
recovers the signer of every action the way the exchange does, and matches orders.
What a user would notice is asserted: quotes rest on every asset, fills become
positions, a dropped connection (with fills the feed never delivered) is reconciled
with nothing missed or counted twice, the dead-man's switch is renewed, a stop leaves
no order behind, and the key shows up nowhere.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from tests.hive_helpers import ROOT, sim_config, wait_for
import config as config_mod
from testkit.hyperliquid_fake import FakeHyperliquid

KEY = "0x" + "4d" * 32  # test-only key of the trading account
AGENT_KEY = "0x" + "a7" * 32  # an API wallet approved for it
ACCOUNT = Account.from_key(KEY).address.lower()
AGENT = Account.from_key(AGENT_KEY).address.lower()


def _fake_config(assets: tuple[str, ...]) -> config_mod.Config:
    return sim_config(portfolio={"assets": list(assets)})


def _hl_toml(fake: FakeHyperliquid, tmp: Path, assets: tuple[str, ...], **hl: object) -> Path:
    text = (ROOT / "config.toml").read_text()
    text = text.replace('journal_dir = "runs"', "")
    lines = [text, "", "[venue.hyperliquid]", f'base_url = "{fake.base_url}"', f'ws_url = "{fake.ws_url}"',
             f'account_address = "{ACCOUNT}"', "stall_s = 3.0", "ping_every_s = 1.0"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in hl.items()]
    path = tmp / "hl.toml"
    path.write_text("\n".join(lines) + "\n")
    # run in its own journal dir and with the chosen assets
    cfg_text = path.read_text().replace('[run]\n', f'[run]\njournal_dir = "{tmp / "runs"}"\n', 1)
    cfg_text = cfg_text.replace('assets = ["BTC", "ETH", "SOL", "XRP", "HYPE"]',
                                "assets = " + json.dumps(list(assets)), 1)
    path.write_text(cfg_text)
    config_mod.load(path)  # the file must be valid
    return path


def _lot(cfg: config_mod.Config, asset: str, usd: float) -> float:
    m = cfg.assets[asset].market
    lot = 10 ** -m.sz_decimals
    return max(lot, round(usd / m.price / lot) * lot)


@pytest.fixture
def fake():
    cfg = _fake_config(("BTC", "ETH", "SOL"))
    with FakeHyperliquid(cfg, seed=11, account=ACCOUNT, agents=(AGENT,)) as f:
        yield f


def _by_asset(fills: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in fills:
        out[f["coin"]] = out.get(f["coin"], 0) + 1
    return out


@pytest.mark.slow
def test_makerhive_run_on_hyperliquid_end_to_end(fake, tmp_path):
    """`makerhive run --venue hyperliquid --headless` against the fake, with an agent key:
    quotes on every asset, fills (some never pushed on the feed), a dropped connection,
    a clean stop: positions and fill counts equal the exchange's, nothing left open."""
    assets = ("BTC", "ETH", "SOL")
    cfg_path = _hl_toml(fake, tmp_path, assets)
    cfg = config_mod.load(cfg_path)
    out = tmp_path / "summary.json"
    env = {**os.environ, "HL_PRIVATE_KEY": AGENT_KEY}
    proc = subprocess.Popen([sys.executable, "-m", "makerhive.cli", "run", "--venue", "hyperliquid", "--headless",
                             "--duration", "60", "--config", str(cfg_path), "--summary-json", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: {o["coin"] for o in fake.open_orders()} >= set(assets), timeout=20,
                 what="quotes resting on every asset")
        for a in assets:  # fills on demand, both ways
            fake.cross(a, "B", _lot(cfg, a, 40))
            fake.cross(a, "A", _lot(cfg, a, 40))
        wait_for(lambda: fake.stats["schedule_cancel_sets"] >= 1, timeout=10, what="dead-man's switch set")
        fake.drop_fill_pushes(2)  # the next two fills reach the account but not the feed
        wait_for(lambda: {o["coin"] for o in fake.open_orders()} >= set(assets), timeout=10, what="requoted")
        fake.cross("ETH", "B", _lot(cfg, "ETH", 40))
        fake.cross("SOL", "A", _lot(cfg, "SOL", 40))
        fake.drop_connections()
        wait_for(lambda: fake.stats["ws_connections"] >= 2, timeout=15, what="reconnected")
        fake.cross("BTC", "A", _lot(cfg, "BTC", 40))
        time.sleep(1.0)  # trading on a moment, then the operator stops it (SIGTERM: a clean stop)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stdout[-3000:]
    summary = json.loads(out.read_text())
    counts = _by_asset(fake.fills())
    for a in assets:
        s = summary["assets"][a]
        assert s["fills_buy"] + s["fills_sell"] == counts.get(a, 0), (a, s, counts)
        assert s["inventory"] == pytest.approx(fake.position(a), abs=1e-9), a
        assert s["open_orders_at_exit"] == 0
    assert sum(counts.values()) >= 6
    assert fake.open_orders() == []
    assert fake.stats["bad_signatures"] == 0 and fake.stats["nonce_refusals"] == 0
    assert fake.stats["schedule_cancel_clears"] >= 1 and fake.dms_at_ms is None
    # the key appears nowhere a user or a log collector could see it
    for text in [stdout, *(p.read_text(errors="replace") for p in (tmp_path / "runs").rglob("*") if p.is_file())]:
        assert AGENT_KEY[2:] not in text.lower()


def test_mainnet_needs_the_flag_and_a_confirmation(tmp_path):
    cfg_path = tmp_path / "main.toml"
    cfg_path.write_text((ROOT / "config.toml").read_text() + '\n[venue.hyperliquid]\nnetwork = "mainnet"\n')
    env = {**os.environ, "HL_PRIVATE_KEY": KEY}
    base = [sys.executable, "-m", "makerhive.cli", "run", "--venue", "hyperliquid", "--headless", "--duration", "1",
            "--config", str(cfg_path)]
    no_flag = subprocess.run(base, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert no_flag.returncode == 2 and "--mainnet" in no_flag.stderr
    not_confirmed = subprocess.run(base + ["--mainnet"], cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=60, stdin=subprocess.DEVNULL)
    assert not_confirmed.returncode == 2 and "--yes" in not_confirmed.stderr
    for r in (no_flag, not_confirmed):
        assert KEY[2:] not in r.stdout + r.stderr


def test_a_missing_or_bad_key_is_a_clear_error_that_never_echoes_it(tmp_path):
    cfg_path = tmp_path / "hl.toml"
    cfg_path.write_text((ROOT / "config.toml").read_text())
    base = [sys.executable, "-m", "makerhive.cli", "run", "--venue", "hyperliquid", "--headless", "--duration", "1",
            "--config", str(cfg_path)]
    env = {k: v for k, v in os.environ.items() if k != "HL_PRIVATE_KEY"}
    missing = subprocess.run(base, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "HL_PRIVATE_KEY" in missing.stderr
    bad = "0x" + "zz" * 32
    wrong = subprocess.run(base, cwd=ROOT, env={**env, "HL_PRIVATE_KEY": bad}, capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode == 2 and bad not in wrong.stderr and "zz" * 8 not in wrong.stderr


def test_a_key_in_the_config_file_is_refused(tmp_path):
    cfg_path = tmp_path / "leaky.toml"
    cfg_path.write_text((ROOT / "config.toml").read_text() + f'\n[venue.hyperliquid]\nprivate_key = "{KEY}"\n')
    r = subprocess.run([sys.executable, "-m", "makerhive.cli", "check-config", str(cfg_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "HL_PRIVATE_KEY" in r.stderr and KEY[2:] not in r.stdout + r.stderr
