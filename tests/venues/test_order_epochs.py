"""Order epochs across processes: a restarted process never reuses the client order ids
of the one it replaced (whose orders may still rest on Hyperliquid or the remote sim)."""
from __future__ import annotations

import time

import msgspec

import config
from exchange_rules.cloid import EPOCHS_PER_SESSION, make_cloid, parse_cloid, session_epoch_base
from makerhive.app import Hive
from tests.hive_helpers import ROOT
from venues.gateway import Gateway


class _Inline:
    """A runtime that runs the call here and now."""

    def call(self, fn, *args):
        return fn(*args)


def test_sessions_two_seconds_apart_order_under_different_epochs():
    t = 1_796_000_000.0
    a, b = session_epoch_base(t), session_epoch_base(t + 2.0)
    assert a != b and a % EPOCHS_PER_SESSION == 0 and b % EPOCHS_PER_SESSION == 0
    # every epoch one session may use stays clear of the next session's, and fits the cloid
    assert make_cloid(3, a + 1, 1) != make_cloid(3, b + 1, 1)
    assert parse_cloid(make_cloid(3, a + EPOCHS_PER_SESSION - 1, 7)).epoch == a + EPOCHS_PER_SESSION - 1
    assert all(0 <= session_epoch_base(t + k * 3_601.0) < 1 << 32 for k in range(100))


def test_the_gateway_counts_from_its_base_and_admits_only_the_current_epoch():
    base = session_epoch_base(time.time())
    gw = Gateway(_Inline(), {"BTC": object()}, epoch_base=base)
    assert gw.current_epoch("BTC") == base
    assert not gw._admit("BTC", base)  # no order actor yet: nothing is admitted
    first = gw.new_epoch("BTC")
    assert first == base + 1 and gw._admit("BTC", first)
    assert not gw._admit("BTC", 1)  # the epoch a process starting from 0 would use
    second = gw.new_epoch("BTC")
    assert not gw._admit("BTC", first) and gw._admit("BTC", second)


def test_a_hive_on_a_venue_that_outlives_it_starts_from_its_session_base():
    cfg = config.load(ROOT / "config.toml")
    remote = msgspec.structs.replace(cfg, run=msgspec.structs.replace(cfg.run, venue="remote-sim"))
    before = session_epoch_base(time.time())
    hive = Hive(remote, journal=False)
    assert {hive.gateway.current_epoch(a) for a in hive.assets} <= {before, session_epoch_base(time.time())}
    embedded = Hive(cfg, journal=False)  # a fresh embedded sim holds nobody's orders: from 0, as before
    assert {embedded.gateway.current_epoch(a) for a in embedded.assets} == {0}
