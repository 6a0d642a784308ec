"""Supervision on the live system: crash an actor mid-run and watch the tree recover.

Invariants: the asset's orders are cancelled first (before any restart), the right
children restart (rest_for_one), the asset quotes again, no order of the old
incarnation remains on the venue, and the other assets are untouched.
"""
import pytest

from messages.control import Crash
from exchange_rules.cloid import parse_cloid
from makerhive.app import Hive
from tests.hive_helpers import sim_config, wait_for

ROLES = ("book", "risk", "order", "quoter")


@pytest.fixture
def hive():
    h = Hive(sim_config(run={"speed": 10.0}))
    h.start()
    wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all assets quoting")
    yield h
    summary = h.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def refs(hive, asset):
    return {r: hive.teams[asset].get(r) for r in ROLES}


def venue_orders(hive, asset):
    return hive.gateway.open_orders(asset)


@pytest.mark.parametrize("victim, restarted", [
    ("quoter", ["quoter"]),
    ("order", ["order", "quoter"]),
    ("book", ["book", "risk", "order", "quoter"]),
])
def test_crash_cancels_first_restarts_right_children_and_quotes_again(hive, victim, restarted):
    asset = "ETH"
    wait_for(lambda: len(venue_orders(hive, asset)) > 0, what="ETH orders resting")
    before = refs(hive, asset)
    others_before = {a: refs(hive, a) for a in hive.assets if a != asset}
    epoch_before = hive.gateway.current_epoch(asset)
    n_events = len(hive.board.events)

    before[victim].tell(Crash(detail=f"test kills {victim}"))

    wait_for(lambda: any(e.kind == "restart" and e.asset == asset for e in hive.board.events[n_events:]),
             what="restart event")
    new_events = [e for e in hive.board.events[n_events:] if e.asset == asset]
    kinds = [e.kind for e in new_events]
    assert "cancel_all" in kinds
    assert kinds.index("cancel_all") < kinds.index("restart"), kinds  # money first

    after = refs(hive, asset)
    assert [r for r in ROLES if after[r] is not before[r]] == restarted
    for a, old in others_before.items():
        assert refs(hive, a) == old, f"{a} was disturbed"

    wait_for(lambda: hive.board.phase[asset] == "quoting" and len(venue_orders(hive, asset)) > 0,
             what="quoting again")
    current = hive.gateway.current_epoch(asset)
    if "order" in restarted:
        assert current > epoch_before
    for o in venue_orders(hive, asset):
        parts = parse_cloid(o.cloid)
        assert parts is not None and parts.epoch == current, f"order of a retired epoch still resting: {o}"
    assert hive.board.restarts[asset] == 1
    assert hive.meta.is_alive()


def test_zombie_order_actor_is_fenced(hive):
    """A command carrying a retired epoch is refused by the gateway and never reaches the venue."""
    from messages.orders import NewOrder, PlaceOrders

    asset = "SOL"
    old_epoch = hive.gateway.current_epoch(asset)
    hive.teams[asset].get("order").tell(Crash())
    wait_for(lambda: hive.gateway.current_epoch(asset) > old_epoch and hive.board.phase[asset] == "quoting",
             what="order actor replaced")
    mid = hive.venue.engine.mid(asset)
    zombie = PlaceOrders(asset, old_epoch, 0.0, (NewOrder("0x6d68000200000001ffffffffffffffff", "B",
                                                          round(mid * 0.99, 2), 1.0),))
    refused_before = hive.gateway.refused[asset]
    hive.gateway.place(zombie)
    wait_for(lambda: hive.gateway.refused[asset] == refused_before + 1, what="refusal")
    assert all(o.cloid != zombie.orders[0].cloid for o in venue_orders(hive, asset))


def test_tree_that_gives_up_is_restarted_by_the_meta_after_backoff():
    """More restarts than the intensity allows: the asset's tree stops with its orders
    cancelled, the meta-supervisor restarts it after a backoff, the others never stop."""
    h = Hive(sim_config(run={"speed": 10.0}, supervision={"intensity": 1, "period_s": 60.0,
                                                          "tree_backoff_s": 3.0}))
    h.start()
    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
        asset = "XRP"
        others = {a: refs(h, a) for a in h.assets if a != asset}
        for _ in range(2):  # the second crash exceeds an intensity of 1
            # the first restart leaves the team without a quoter for a moment
            wait_for(lambda: h.teams[asset].get("quoter") is not None, what="a quoter")
            old = h.teams[asset].get("quoter")
            old.tell(Crash())
            wait_for(lambda: h.teams[asset].get("quoter") is not old, what="quoter replaced or gone")
        wait_for(lambda: h.board.events_of("escalation", asset), what="escalation")
        gave_up_at = h.board.events_of("escalation", asset)[0].ts  # the event's own time: the test may look late

        def tree_restarted() -> bool:  # the meta's restart of the whole tree, not a restart inside it
            return any(e.text == "asset tree restarted" for e in h.board.events_of("restart", asset))

        # while it is down, its orders are cancelled before the meta restarts the tree (the tree
        # shows "failed" as it starts cancelling, so look until the venue has none, or the tree
        # is back: then they were never seen gone). The first crash's restart inside the tree is
        # a "restart" event too, and does not count.
        seen_clean = []

        def clean_or_back() -> bool:
            if h.gateway.open_orders(asset) == ():
                seen_clean.append(True)
            return bool(seen_clean) or tree_restarted()

        wait_for(clean_or_back, what="the asset's orders cancelled while it is down")
        assert seen_clean, "the asset's orders still rested when its tree was restarted"
        wait_for(tree_restarted, what="tree restarted")
        restarted_at = next(e.ts for e in h.board.events_of("restart", asset) if e.text == "asset tree restarted")
        assert restarted_at - gave_up_at >= 2.5  # after the backoff, not at once
        wait_for(lambda: h.board.phase[asset] == "quoting" and len(h.gateway.open_orders(asset)) > 0,
                 what="quoting again")
        for a, before in others.items():
            assert refs(h, a) == before, f"{a} was disturbed"
        assert h.meta.is_alive()  # the root never dies
        assert h.board.counters["root_errors"] == 0
    finally:
        summary = h.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def test_dead_mans_switch_is_renewed_while_healthy_and_fires_when_renewals_stop():
    """Renewals stop when the root freezes; the venue then cancels every order within the
    window (the exchange-side guarantee that a frozen process cannot leave quotes)."""
    h = Hive(sim_config(run={"speed": 20.0}, dead_mans_switch={"window_s": 10.0, "renew_every_s": 2.0}))
    h.start()
    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
        wait_for(lambda: h.gateway.dms_at is not None, what="switch armed")
        first = h.gateway.dms_at
        wait_for(lambda: h.gateway.dms_at > first, what="renewed")
        assert h.venue.engine.schedule_cancel_state() == (h.gateway.dms_at, 0)
        assert all(len(h.gateway.open_orders(a)) > 0 for a in h.assets)
        renewals: list[tuple[float, float | None]] = []  # (simulated time sent, switch time asked)
        send = h.gateway.schedule_cancel_soon
        h.gateway.schedule_cancel_soon = lambda at: (renewals.append((h.sim_time(), at)), send(at))[1]
        engine = h.venue.engine
        resting_at_fire: set[str] = set()  # the assets with orders when the switch fires
        fire = engine._fire_scheduled_cancel

        def fire_and_note(at, events):  # type: ignore[no-untyped-def]
            resting_at_fire.update(b.name for b in engine._books.values() if b.orders)
            fire(at, events)

        engine._fire_scheduled_cancel = fire_and_note
        h.faults.arm("*", "meta", "hang", seconds=30.0)  # the root freezes at its next tick
        frozen_at, asked_at_freeze = h.sim_time(), h.gateway.dms_at
        wait_for(lambda: h.venue.engine.schedule_cancel_state()[1] == 1, timeout=20, what="switch fired")
        # renewals stop with the root (one already under way may still go out), and the venue
        # fires at the last switch time asked: the window after the last renewal sent
        assert len(renewals) <= 1, renewals
        last_sent, last_at = renewals[-1] if renewals else (frozen_at, asked_at_freeze)
        assert last_at is not None and last_at <= last_sent + 10.0 + 1e-6
        assert h.sim_time() >= last_at  # it fired at that time, not before
        wait_for(lambda: h.board.counters["dms_cancels"] > 0, what="cancels reported")
        assert resting_at_fire  # the switch cancelled quotes (an asset may have had none resting just then)

        def told() -> set[str]:
            return {e.asset for e in h.board.events_of("cancel_all") if "dead-man's switch" in e.text}

        # every asset whose orders the switch cancelled hears of it (in turn)
        wait_for(lambda: told() == resting_at_fire, timeout=15, what="every order actor with orders told")
    finally:
        h.faults.release.set()
        h.stop()
    assert h.venue.engine.schedule_cancel_state()[0] is None  # a clean stop clears it


def test_a_quoter_on_its_way_out_does_not_show_the_asset_quoting_while_the_team_restarts(hive, monkeypatch):
    """Cancel first can take seconds on a slow venue, and the old quoter runs on meanwhile
    (its ladders are fenced). Found by the Hyperliquid chaos run: it marked the asset
    "quoting" while the team was still restarting, so the view (and the harness) took an
    asset that had not reconciled for one that had recovered."""
    import time

    from supervisor.asset import AssetSupervisor

    asset = "ETH"
    slow = AssetSupervisor._cancel_all_confirmed

    def slow_cancel(self, attempts=3):  # type: ignore[no-untyped-def]
        if self.ctx.asset == asset:
            time.sleep(1.5)  # the venue answering slowly: the old quoter quotes on meanwhile
        return slow(self, attempts)

    monkeypatch.setattr(AssetSupervisor, "_cancel_all_confirmed", slow_cancel)
    n_events = len(hive.board.events)
    old_quoter = refs(hive, asset)["quoter"]
    refs(hive, asset)["risk"].tell(Crash(detail="test kills risk"))
    wait_for(lambda: hive.board.phase[asset] == "restarting", timeout=5, what="restarting")
    old_quoter.proxy().quoting = False  # as after a feed stall and its resume in the window (the chaos run's case)
    seen: list[str] = []  # the phases in the order they were shown
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            e.kind == "restart" and e.asset == asset for e in hive.board.events[n_events:]):
        phase = hive.board.phase[asset]
        if not seen or seen[-1] != phase:
            seen.append(phase)
        time.sleep(0.005)
    # while the team restarts (until its new members start and the new order actor
    # reconciles), nothing may show the asset quoting; the new team may quote before the
    # supervisor's own "restart" event is logged, and that is not the old quoter
    new_team = next((i for i, p in enumerate(seen) if p in ("starting", "reconciling")), len(seen))
    assert "restarting" in seen and "quoting" not in seen[:new_team], seen
    wait_for(lambda: hive.board.phase[asset] == "quoting", what="quoting again")
