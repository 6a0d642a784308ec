"""The dead-man's switch as a guarantee: quotes rest only while the venue would cancel them.

A killed process leaves its quotes for at most the window (15 s by default); a switch
that cannot be set stops the hive's quoting and cancels every order; one asset's
recovery does not stop the renewals (so it does not fire the switch for everyone).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

import msgspec

import config as config_mod
from tests.hive_helpers import sim_config, wait_for
from makerhive.app import Hive
from messages.control import Crash
from venues.dead_mans_switch import DeadMansSwitch, actions_per_day


# -- the core ------------------------------------------------------------------------------
def test_the_default_window_leaves_a_killed_process_15_seconds_and_costs_17280_actions_a_day():
    d = config_mod.DeadMansSwitchConfig()
    assert d.enabled and d.window_s <= 15.0 and d.renew_every_s < d.window_s / 2
    cfg = sim_config()
    assert cfg.dead_mans_switch.window_s <= 15.0  # config.toml agrees
    assert actions_per_day(d.renew_every_s) == 17_280
    sw = DeadMansSwitch(d.window_s, d.renew_every_s)
    assert sw.status(0.0)["dms_actions_per_day"] == 17_280


def test_refused_lapsed_or_unanswered_switch_holds_placements_back():
    sw = DeadMansSwitch(15.0, 5.0)
    assert sw.why_not(0.0) == ""  # the first renewal is on its way
    sw.on_renewed(15.0)
    assert sw.update(1.0) == (False, False) and sw.why_not(1.0) == ""
    # a frozen root renews nothing: orders may rest until the venue fires, none after
    assert sw.why_not(14.9) == "" and "lapsed" in sw.why_not(15.0)
    # renewals that go unanswered: stop before the venue's firing
    sw.on_failed("timeout")
    assert sw.why_not(5.0) == "" and "not renewed" in sw.why_not(10.5)
    assert sw.update(10.5) == (True, False) and sw.blocks == 1
    assert sw.update(10.6) == (False, False)  # one stop, not one per look
    sw.on_renewed(26.0)
    assert sw.update(11.0) == (False, True)
    # an explicit refusal stops at once, however far ahead the switch is still armed
    sw.on_refused("Too many cancels scheduled today")
    assert "refused: Too many cancels" in sw.why_not(12.0)
    assert sw.update(12.0) == (True, False)


def test_a_refusal_before_the_first_arming_also_stops_quoting():
    sw = DeadMansSwitch(15.0, 5.0)
    sw.on_refused("Insufficient address budget")
    assert sw.update(0.0) == (True, False) and sw.why_not(0.0)


# -- the hive on the sim -------------------------------------------------------------------
def _exhaust_firings(h: Hive, exhausted: bool) -> None:
    eng = h.venue.engine

    def go() -> None:
        eng._trigger_day = int(eng._now // 86_400)
        eng._triggers = h.cfg.sim.schedule_cancel_triggers_per_day if exhausted else 0

    h.runtime.call(go)


def test_a_switch_that_cannot_be_set_stops_quoting_and_cancels_then_quoting_resumes():
    h = Hive(sim_config(legacy_quoting=True, run={"speed": 20.0}, dead_mans_switch={"window_s": 15.0, "renew_every_s": 2.0}))
    h.start()
    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
        wait_for(lambda: all(len(h.gateway.open_orders(a)) > 0 for a in h.assets), what="orders resting")
        _exhaust_firings(h, True)  # the day's 10 firings are spent: the venue refuses the next renewal
        wait_for(lambda: any("refused" in e.text for e in h.board.events_of("halt")), what="quoting stopped")
        wait_for(lambda: all(h.gateway.open_orders(a) == () for a in h.assets), timeout=10,
                 what="every order cancelled")
        assert h.board.venue_status["dms_blocked"].startswith("dead-man's switch refused")
        t_stop = time.monotonic()
        while time.monotonic() - t_stop < 1.0:  # 20 s of venue time: nothing is placed again
            assert all(h.gateway.open_orders(a) == () for a in h.assets)
            time.sleep(0.1)
        assert h.board.counters["dms_quoting_stops"] == 1
        _exhaust_firings(h, False)
        wait_for(lambda: h.board.events_of("resume", "*"), what="switch set again")
        wait_for(lambda: all(len(h.gateway.open_orders(a)) > 0 for a in h.assets), what="quoting again")
        assert h.board.venue_status["dms_blocked"] == ""
    finally:
        summary = h.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def test_one_assets_recovery_does_not_stop_the_renewals():
    h = Hive(sim_config(legacy_quoting=True, run={"speed": 10.0},
                        supervision={"intensity": 1, "period_s": 60.0, "tree_backoff_s": 6.0},
                        dead_mans_switch={"window_s": 6.0, "renew_every_s": 1.0}))
    h.start()
    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
        asset = "XRP"
        for _ in range(2):  # the tree gives up and waits out a 6 s backoff: longer than the window
            old = h.teams[asset].get("quoter")
            old.tell(Crash())
            wait_for(lambda: h.teams[asset].get("quoter") is not old, what="quoter replaced or gone")
        wait_for(lambda: h.board.events_of("escalation", asset), what="escalation")
        armed = h.gateway.dms_at
        wait_for(lambda: h.gateway.dms_at >= armed + 3.0, what="renewals go on while XRP is down")
        assert h.board.phase[asset] != "quoting"
        wait_for(lambda: any(e.text == "asset tree restarted" for e in h.board.events_of("restart", asset)),
                 what="tree restarted")
        assert h.venue.engine.schedule_cancel_state()[1] == 0  # the switch never fired
        assert all(len(h.gateway.open_orders(a)) > 0 for a in h.assets if a != asset)
    finally:
        summary = h.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


# -- a kill leaves no quote past the window ----------------------------------------------------
def test_a_sigkilled_hive_on_the_default_window_leaves_no_quote_past_15_seconds(tmp_path):
    from tests.venues.remote.test_remote_sim import ASSETS, PY, open_counts, sim_server, write_config

    speed = 4.0
    window = sim_config().dead_mans_switch.window_s  # config.toml's default
    with sim_server(write_config(tmp_path / "server.toml"), speed=speed, seed=3) as srv:
        hive_cfg = write_config(tmp_path / "hive.toml", run={"journal_dir": str(tmp_path / "runs")},
                                remote={"url": srv.url})
        with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
            hive = subprocess.Popen([PY, "-m", "makerhive.cli", "run", "--headless", "--venue", "remote-sim",
                                     "--speed", str(speed), "--config", str(hive_cfg)],
                                    cwd=tmp_path, stdout=out, stderr=err)
        try:
            wait_for(lambda: all(n > 0 for n in open_counts(srv.state()).values())
                     and srv.state()["schedule_cancel"]["at"] is not None, timeout=30, poll=0.1,
                     what="quoting with the switch armed")
            os.kill(hive.pid, signal.SIGKILL)
            hive.wait(5)
        finally:
            if hive.poll() is None:
                hive.kill()
        killed = srv.state()
        assert sum(open_counts(killed).values()) > 0
        wait_for(lambda: sum(open_counts(srv.state()).values()) == 0, timeout=window / speed + 3.0, poll=0.05,
                 what="the switch to cancel every order")
        st = srv.state()
        fired = st["dms_fired"][0]
        assert fired["at"] - killed["now"] <= window  # venue time from the kill to the firing
        assert fired["cancelled"] > 0 and set(open_counts(st)) == set(ASSETS)


def test_the_hyperliquid_venue_stopped_without_cancel_loses_its_quotes_within_the_window():
    from eth_account import Account

    from tests.hl_helpers import hl_hive_config
    from testkit.hyperliquid_fake import FakeHyperliquid
    from venues.hyperliquid.signing import Signer

    key = "0x" + "6d" * 32
    assets = ("ETH", "SOL")
    with FakeHyperliquid(sim_config(portfolio={"assets": list(assets)}), seed=9,
                         account=Account.from_key(key).address.lower()) as fake:
        cfg = hl_hive_config(fake, assets)
        cfg = msgspec.structs.replace(cfg, dead_mans_switch=config_mod.DeadMansSwitchConfig(window_s=6.0,
                                                                                              renew_every_s=1.0))
        h = Hive(cfg, signer=Signer(key))
        h.start()
        try:
            wait_for(lambda: {o["coin"] for o in fake.open_orders()} >= set(assets) and fake.dms_at_ms is not None,
                     timeout=20, what="quoting with the switch armed")
            h.runtime.stop()  # the venue goes away mid-run: no cancel, no clearing of the switch
            stopped_ms = fake.now_ms()
            assert fake.open_orders()
            wait_for(lambda: fake.open_orders() == [], timeout=10, poll=0.05, what="the switch to fire")
            assert fake.now_ms() - stopped_ms <= 6_000 + 1_000
            assert fake.stats["schedule_cancel_fired"] == 1
        finally:
            h.faults.release.set()
            try:
                h.stop()
            except Exception:
                pass


async def test_a_hyperliquid_renewal_without_an_answer_is_a_failed_renewal_not_a_refusal():
    """HTTP 429 or 500, or a lost connection, on scheduleCancel: the exchange said nothing,
    the time armed before still protects (the gateway counts a failed renewal); only the
    exchange's own "no" is a refusal that stops quoting at once. Taking every transport
    error for a refusal stopped and cancelled all five assets on each one, and the
    cancel storm spent the IP weight the next renewal needed (the hl-fake chaos run)."""
    import pytest

    from tests.hl_helpers import bare_venue
    from venues.hyperliquid.rest import ActionOutcomeUnknown
    from venues.runtime import VenueRequestFailed

    venue, _, rest = bare_venue("0x" + "6e" * 32)
    rest.answers += [VenueRequestFailed("exchange: HTTP 429"), ActionOutcomeUnknown("exchange: ReadError"),
                     {"status": "err", "response": "Too many scheduled cancel triggers today: 10 of 10 used."},
                     {"status": "ok", "response": {"type": "default"}}]
    for _ in range(2):
        with pytest.raises(VenueRequestFailed):
            await venue.schedule_cancel(100.0)
    assert (await venue.schedule_cancel(100.0) or "").startswith("Too many scheduled cancel triggers")
    assert await venue.schedule_cancel(100.0) is None
    assert [a["type"] for a in rest.sent] == ["scheduleCancel"] * 4
