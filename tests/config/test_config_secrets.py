"""A private key pasted into any config field is refused, and never echoed or printed."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

import config as config_mod
from tests.hive_helpers import ROOT

KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def _raw() -> dict:
    return tomllib.loads((ROOT / "config.toml").read_text())


@pytest.mark.parametrize("where,value", [
    (("venue", "hyperliquid", "account_address"), KEY),  # pasted into the wrong field
    (("venue", "hyperliquid", "account_address"), "0x" + KEY),
    (("venue", "hyperliquid", "key_file"), "/home/me/" + KEY),  # inside a path
    (("venue", "hyperliquid", "base_url"), f"https://api.example.com/?k=0x{KEY.upper()}"),  # inside a URL
    (("run", "journal_dir"), f"runs-{KEY}"),
    (("portfolio", "assets"), ["BTC", "0x" + KEY]),  # an item of a list
])
def test_a_key_like_value_in_any_field_is_refused_without_echoing_it(where, value):
    raw = _raw()
    node = raw
    for part in where[:-1]:
        node = node.setdefault(part, {})
    node[where[-1]] = value
    with pytest.raises(config_mod.ConfigError) as e:
        config_mod.from_dict(raw)
    text = str(e.value)
    assert KEY not in text.lower() and KEY[:16] not in text.lower()
    assert ".".join(where) in text and "looks like a private key" in text


def test_addresses_and_other_hex_are_not_mistaken_for_keys():
    raw = _raw()
    raw.setdefault("venue", {}).setdefault("hyperliquid", {})["account_address"] = "0x" + "ab" * 20
    assert config_mod.from_dict(raw).venue.hyperliquid.account_address == "0x" + "ab" * 20
    assert not config_mod.looks_like_key("0x" + "ab" * 33)  # 66 hex digits: not 32 bytes
    assert config_mod.redact(f"a {KEY} b") == "a <redacted: looks like a private key> b"


def test_check_config_refuses_and_redacts(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "config.toml").read_text() + f'\n[remote]\nurl = "ws://127.0.0.1:8765/{KEY}"\n')
    r = subprocess.run([sys.executable, "-m", "makerhive.cli", "check-config", str(bad)], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2
    assert KEY not in r.stdout + r.stderr and "remote.url" in r.stderr + r.stdout
