"""Margin on Hyperliquid: leverage set per asset at start, risk sized from the smaller of
the configured capital and the account's value, margin rejects survived, and the margin
breakers (margin ratio, distance to liquidation); a liquidation halts the asset and is
an event. Against the fake exchange, which models all of it."""
from __future__ import annotations

import math
import tomllib

import msgspec
import pytest
from eth_account import Account

import config as config_mod
from config import RiskConfig
import os

from tests.hive_helpers import ROOT, RUNS, wait_for
from makerhive.app import Hive
from messages.risk import Liquidated, MarginState
from strategy.risk import RiskCore
from testkit.hyperliquid_fake import FakeHyperliquid
from venues.hyperliquid.signing import Signer

KEY = "0x" + "7a" * 32
ACCOUNT = Account.from_key(KEY).address.lower()
ASSETS = ("ETH", "SOL")


def _config(fake: FakeHyperliquid | None = None) -> config_mod.Config:
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["run"].update(speed=1.0, venue="hyperliquid", journal_dir=str(RUNS / os.environ.get("PYTEST_XDIST_WORKER", "main")))
    raw["portfolio"]["assets"] = list(ASSETS)
    raw["assets"]["SOL"]["risk"] = {"leverage": 2, "margin_mode": "isolated"}
    raw["dead_mans_switch"].update(window_s=8.0, renew_every_s=2.0)
    if fake is not None:
        raw.setdefault("venue", {}).setdefault("hyperliquid", {}).update(
            base_url=fake.base_url, ws_url=fake.ws_url, stall_s=3.0, ping_every_s=0.5, request_timeout_s=3.0)
    return config_mod.from_dict(raw)


@pytest.fixture
def fake():
    with FakeHyperliquid(_config(), seed=4, account=ACCOUNT) as f:
        yield f


@pytest.fixture
def hive(fake):
    h = Hive(_config(fake), signer=Signer(KEY))
    h.start()
    yield h
    h.stop()


def _quoting(fake: FakeHyperliquid) -> bool:
    return {o["coin"] for o in fake.open_orders()} >= set(ASSETS)


def test_leverage_is_set_per_asset_from_the_config_at_start(hive, fake):
    assert hive.venue.stats.leverage_set == 2
    assert fake.leverage("ETH") == (3, True)  # [risk] leverage = 3, cross (the defaults)
    assert fake.leverage("SOL") == (2, False)  # [assets.SOL.risk]: 2x isolated
    wait_for(lambda: _quoting(fake), timeout=15, what="quoting")


def test_risk_is_sized_from_the_account_value_when_it_is_below_the_capital(hive, fake):
    wait_for(lambda: _quoting(fake), timeout=15, what="quoting")
    full = {a: hive.board.risk[a].limit_usd for a in ASSETS}
    fake.set_capital(10_000.0)  # a tenth of the configured 100,000
    hive.runtime.call_async(hive.venue.refresh_margin, timeout=5)
    wait_for(lambda: all(hive.board.risk[a].capital < 0.2 * hive.cfg.portfolio.capital_usd for a in ASSETS),
             timeout=10, what="capital scaled to the account")
    for a in ASSETS:
        s = hive.board.risk[a]
        assert s.limit_usd < full[a] and not s.halted
    assert hive.venue.last_margin["account_value"] == pytest.approx(fake.account_value(), rel=0.01)


def test_margin_rejects_are_survived_and_quoting_resumes_when_margin_is_back(hive, fake):
    wait_for(lambda: _quoting(fake), timeout=15, what="quoting")
    fake.set_capital(50.0)  # far too little for any new order at 2-3x
    wait_for(lambda: fake.stats["margin_rejects"] >= 3, timeout=20, what="margin rejects")
    assert any("Insufficient margin" in e.text for e in hive.board.events_of("reject"))
    fake.set_capital(None)
    wait_for(lambda: _quoting(fake) and hive.venue.stats.internal_errors == 0, timeout=20, what="quoting again")
    summary = hive.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def test_a_liquidation_halts_the_asset_and_is_an_event(hive, fake):
    wait_for(lambda: _quoting(fake), timeout=15, what="quoting")
    lot = 10 ** -hive.cfg.assets["ETH"].market.sz_decimals
    fills = fake.cross("ETH", "A", max(lot, round(60.0 / hive.cfg.assets["ETH"].market.price / lot) * lot))
    assert fills, "no position to liquidate"
    wait_for(lambda: hive.board.risk["ETH"].position != 0, timeout=10, what="position taken on")
    fake.liquidate("ETH")
    wait_for(lambda: hive.board.events_of("liquidation", "ETH"), timeout=10, what="liquidation event")
    wait_for(lambda: hive.board.risk["ETH"].halted and "liquidated" in hive.board.risk["ETH"].halt_reason,
             timeout=10, what="ETH halted")
    wait_for(lambda: not [o for o in fake.open_orders() if o["coin"] == "ETH"], timeout=10, what="no ETH order")
    wait_for(lambda: hive.board.risk["ETH"].position == 0, timeout=10, what="the liquidation's fill counted")
    assert hive.venue.stats.liquidations >= 1
    assert [o for o in fake.open_orders() if o["coin"] == "SOL"]  # the other asset trades on


# -- the breakers in the risk core --------------------------------------------------------------
def _core() -> RiskCore:
    c = RiskCore("ETH", RiskConfig(max_position_usd=5_000.0, max_position_pct=0.5), 10_000.0, ts=0.0)
    c.mark(3000.0, 1.0)
    return c


def _margin(**kw) -> MarginState:
    d = dict(asset="ETH", ts=2.0, account_value=100_000.0, capital_share=1.0, margin_ratio=0.1,
             liquidation_px=math.nan, mark_px=3000.0)
    d.update(kw)
    return MarginState(**d)


def test_a_high_margin_ratio_halts_the_asset():
    c = _core()
    assert c.on_margin(_margin(margin_ratio=0.4)) and not c.state(3.0).halted
    c.on_margin(_margin(margin_ratio=0.6))
    s = c.state(4.0)
    assert s.halted and s.halt_reason.startswith("margin ratio 0.60")
    c.on_margin(_margin(margin_ratio=0.2))
    assert not c.state(5.0).halted


def test_near_liquidation_only_reducing_quotes_are_allowed():
    from messages.orders import Fill

    c = _core()
    c.on_fill(Fill("ETH", "c", 1, 1, "B", 3000.0, 0.5, 0.0, 2.0, 0.0), 0.5)
    c.on_margin(_margin(liquidation_px=2800.0))  # 6.7% away: inside the 10% distance
    s = c.state(3.0)
    assert not s.allow_bid and s.allow_ask and "near liquidation" in s.halt_reason and not s.halted
    c.on_margin(_margin(liquidation_px=2000.0))
    s = c.state(4.0)
    assert s.allow_bid and s.allow_ask


def test_capital_follows_the_account_value_and_nan_margin_is_refused():
    c = _core()
    c.on_margin(_margin(capital_share=0.25))
    assert c.capital == pytest.approx(2_500.0) and c.state(3.0).limit_usd == pytest.approx(1_250.0)
    assert not c.on_margin(_margin(capital_share=math.nan)) and not c.on_margin(_margin(margin_ratio=math.inf))
    assert c.capital == pytest.approx(2_500.0) and c.bad_input == 2


def test_a_liquidation_latches_the_halt():
    c = _core()
    c.on_liquidated(Liquidated("ETH", 2.0, "method=market"))
    c.on_margin(_margin())
    s = c.state(3.0)
    assert s.halted and s.halt_reason == "liquidated: method=market"


def test_margin_keys_are_validated():
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["risk"]["leverage"] = 80
    with pytest.raises(config_mod.ConfigError, match="risk.leverage = 80"):
        config_mod.from_dict(raw)
    raw["risk"]["leverage"] = 3
    raw["risk"]["margin_mode"] = "portfolio"
    with pytest.raises(config_mod.ConfigError, match="margin_mode"):
        config_mod.from_dict(raw)
    assert msgspec.structs.asdict(config_mod.from_dict(tomllib.loads((ROOT / "config.toml").read_text()))
                                  .assets["ETH"].risk)["leverage"] == 3
