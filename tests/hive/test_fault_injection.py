"""Fault injection with real threads and the simulated venue: every actor of an asset's
tree (and its supervisor) x {exception in a handler, exception at start-up, hang, slow
handler}, and the wire's faults. Each case asserts the invariants a user relies on:

- no order rests on the venue that no live order actor knows (orphans);
- the risk actor's position equals the venue's once both have seen the same fills;
- no fill lost or counted twice, inventory within its limit plus one order, at exit;
- the root never dies and the assets not involved keep quoting, untouched;
- the asset recovers (quotes again) within a bound.
"""
import pytest

from makerhive import invariants as inv
from makerhive.app import Hive
from messages.control import Crash
from tests.hive_helpers import sim_config, wait_for

ASSET = "SOL"
ROLES = ("book", "risk", "order", "quoter")
RECOVERY_S = 15.0  # real seconds an asset may take to quote again in these tests


def chaos_config(busy: bool = False, **supervision):
    sup = {"intensity": 10, "handler_budget_s": 0.5, "shutdown_timeout_s": 2.0, "tree_backoff_s": 1.0,
           "tree_handler_budget_s": 1.5}
    sup.update(supervision)
    if busy:
        return sim_config(legacy_quoting=True, run={"speed": 20.0}, supervision=sup, sim={"market_model": "formula"})
    return sim_config(run={"speed": 20.0}, supervision=sup)


@pytest.fixture
def hive():
    yield from _running(chaos_config())


@pytest.fixture
def busy_hive():
    """Markets that fill steadily (the formula market, the quoter without the stack): the
    fill-message faults need fills to act on, and the default stack fills in bursts."""
    yield from _running(chaos_config(busy=True))


def _running(cfg):
    h = Hive(cfg)
    h.start()
    wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
    wait_for(lambda: len(h.gateway.open_orders(ASSET)) > 0, what="orders resting")
    yield h
    summary = h.stop()
    engine = h.venue.engine
    assert summary["portfolio"]["open_orders_at_exit"] == 0
    for a, s in summary["assets"].items():
        assert s["fills_buy"] + s["fills_sell"] == len(engine.fills(a)), f"{a}: a fill lost or counted twice"
        assert s["inventory"] == pytest.approx(engine.position(a), abs=1e-12), a
        assert not inv.limit_breached(s, inv.max_order_usd(h, a)), (a, s)


def refs(h, asset):
    return {r: h.teams[asset].get(r) for r in ROLES}


def assert_invariants(h, asset=ASSET, others=None):
    wait_for(lambda: h.board.phase[asset] == "quoting", timeout=RECOVERY_S, what=f"{asset} quoting again")
    wait_for(lambda: len(h.gateway.open_orders(asset)) > 0, timeout=RECOVERY_S, what=f"{asset} orders resting")
    for a in h.assets:
        wait_for(lambda a=a: inv.orphan_orders(h, a) is not None, timeout=RECOVERY_S, what=f"{a} order actor")
        assert inv.orphan_orders(h, a) == 0, f"{a}: orphaned orders on the venue"
        assert inv.stale_epoch_orders(h, a) == 0, f"{a}: orders of a retired epoch rest on the venue"
        assert inv.position_settles(h, a) is True, f"{a}: risk position differs from the venue's"
    assert h.meta.is_alive() and h.board.counters["root_errors"] == 0
    for a, before in (others or {}).items():
        assert refs(h, a) == before, f"{a} was disturbed"
        assert h.board.phase[a] == "quoting"


def tell(h, role, msg):
    ref = h.contexts[ASSET].supervisor if role == "supervisor" else h.teams[ASSET].get(role)
    ref.tell(msg)


def others_of(h):
    return {a: refs(h, a) for a in h.assets if a != ASSET}


# -- actors x faults -----------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES + ("supervisor",))
def test_exception_in_a_handler(hive, role):
    others = others_of(hive)
    n = len(hive.board.recoveries)
    tell(hive, role, Crash(detail=f"test: {role} raises"))
    if role == "supervisor":  # the tree fails as a whole; the meta restarts it after backoff
        wait_for(lambda: any(e.text == "asset tree restarted" for e in hive.board.events_of("restart", ASSET)),
                 timeout=RECOVERY_S, what="tree restarted")
    else:
        wait_for(lambda: len(hive.board.recoveries) > n, timeout=RECOVERY_S, what="recovery")
        rec = hive.board.recoveries[-1]
        assert rec.cancel_sent_ns >= rec.fail_ns  # money first
    assert_invariants(hive, others=others)


@pytest.mark.parametrize("role", ROLES + ("supervisor",))
def test_exception_at_start_up(hive, role):
    """The restart itself fails once: the supervisor retries (counted against its intensity)."""
    others = others_of(hive)
    hive.faults.arm(ASSET, role, "start")
    tell(hive, role, Crash(detail=f"test: {role} raises, then fails to start"))
    wait_for(lambda: (ASSET, role, "start") in hive.faults.fired, timeout=RECOVERY_S, what="start failure")
    assert_invariants(hive, others=others)


@pytest.mark.parametrize("role", ("book", "risk", "quoter", "order"))
def test_hang_is_fenced_abandoned_and_replaced(hive, role):
    others = others_of(hive)
    old = hive.teams[ASSET].get(role)
    epoch = hive.gateway.current_epoch(ASSET)
    budget = hive.cfg.supervision.handler_budget_s if role != "order" else hive.cfg.supervision.shutdown_timeout_s
    hive.faults.arm(ASSET, role, "hang", seconds=budget * 4)
    wait_for(lambda: hive.teams[ASSET].get(role) not in (old, None), timeout=RECOVERY_S, what="replacement")
    if role != "quoter":  # rest_for_one: book, risk and order hangs replace the order actor too
        assert hive.gateway.current_epoch(ASSET) > epoch  # the order epoch moved on: its zombie is fenced
    assert_invariants(hive, others=others)
    hive.faults.release.set()  # the zombie wakes up; it dies at its next message


def test_hung_asset_supervisor_is_abandoned_and_its_tree_replaced(hive):
    others = others_of(hive)
    old_sup = hive.contexts[ASSET].supervisor
    hive.faults.arm(ASSET, "supervisor", "hang", seconds=10.0)
    hive.contexts[ASSET].supervisor.tell(_Nudge())
    wait_for(lambda: hive.contexts[ASSET].supervisor is not old_sup, timeout=RECOVERY_S, what="new tree")
    assert_invariants(hive, others=others)
    hive.faults.release.set()


@pytest.mark.parametrize("role", ROLES + ("supervisor",))
def test_slow_handler_keeps_everything_consistent(hive, role):
    others = others_of(hive)
    before = refs(hive, ASSET)
    hive.faults.arm(ASSET, role, "slow", seconds=0.2, count=3)  # under the 0.5 s budget
    wait_for(lambda: hive.faults.fired.count((ASSET, role, "slow")) == 3, timeout=RECOVERY_S, what="slow handlers")
    assert refs(hive, ASSET) == before  # slow is not hung: nothing restarted
    assert_invariants(hive, others=others)


class _Nudge:
    """Any message makes the armed supervisor handler run (and hang)."""


# -- the wire ------------------------------------------------------------------------------

def test_feed_disconnect_is_reconciled_with_no_fill_lost(hive):
    others = others_of(hive)
    hive.runtime.call(lambda: hive.venue.disconnect(ASSET, 4.0))
    wait_for(lambda: hive.board.phase[ASSET] == "stalled", timeout=RECOVERY_S, what="quotes pulled")
    wait_for(lambda: any("resync after reconnected" in e.text for e in hive.board.events_of("reconciled", ASSET)),
             timeout=RECOVERY_S, what="resync")
    assert_invariants(hive, others=others)


def test_feed_stall_pulls_quotes_then_resumes(hive):
    hive.runtime.call(lambda: hive.venue.wire.stall(ASSET, hive.sim_time(), 30.0))  # 1.5 s real at x20
    wait_for(lambda: hive.board.phase[ASSET] == "stalled", timeout=RECOVERY_S, what="stalled")
    wait_for(lambda: len(hive.gateway.open_orders(ASSET)) == 0, timeout=RECOVERY_S, what="quotes pulled")
    assert_invariants(hive)


@pytest.mark.parametrize("fault", ["drop_fills", "duplicate_fills", "reorder_fills"])
def test_lost_repeated_or_reordered_fill_messages(busy_hive, fault):
    hive = busy_hive
    wire = hive.venue.wire
    start = {a: len(hive.venue.engine.fills(a)) for a in hive.assets}
    for a in hive.assets:
        hive.runtime.call(lambda a=a: getattr(wire, fault)(a, 3))
    # wait until every asset has traded through its armed faults (fills come at the market's
    # pace, and a loaded machine slows the simulated clock: a generous bound)
    wait_for(lambda: all(len(hive.venue.engine.fills(a)) >= start[a] + 6 for a in ("BTC", "ETH", "SOL")),
             timeout=RECOVERY_S * 5, what="fills")
    assert wire.counts[{"drop_fills": "fills_dropped", "duplicate_fills": "fills_duplicated",
                        "reorder_fills": "fills_reordered"}[fault]] > 0
    assert_invariants(hive)


def test_delayed_acks(hive):
    hive.runtime.call(lambda: hive.venue.wire.delay_acks(ASSET, hive.sim_time(), 10.0, 1.0))
    hive.wait_until(hive.sim_time() + 12.0)
    assert_invariants(hive)


# -- intensity exceeded -> quarantine ---------------------------------------------------------

def test_repeated_tree_failures_quarantine_the_asset_and_release_its_capital():
    h = Hive(chaos_config(intensity=0, quarantine_after=2, tree_backoff_s=0.5))
    h.start()
    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
        others = others_of(h)
        share = h.cfg.portfolio.capital_usd / 5
        for _ in range(2):  # intensity 0: every crash takes the tree down
            wait_for(lambda: h.board.phase[ASSET] == "quoting", timeout=RECOVERY_S, what="quoting")
            h.teams[ASSET].get("quoter").tell(Crash())
            wait_for(lambda: h.board.phase[ASSET] in ("failed", "quarantined"), timeout=RECOVERY_S, what="down")
        wait_for(lambda: h.board.phase[ASSET] == "quarantined", timeout=RECOVERY_S, what="quarantined")
        assert h.gateway.open_orders(ASSET) == ()
        assert h.allocation[ASSET] == 0.0
        assert all(h.allocation[a] == pytest.approx(h.cfg.portfolio.capital_usd / 4) for a in others)
        assert h.board.events_of("quarantine", ASSET)
        h.wait_until(h.sim_time() + 10.0)
        assert h.board.phase[ASSET] == "quarantined" and h.gateway.open_orders(ASSET) == ()  # stays down
        assert h.command(["unquarantine", ASSET])["ok"]
        wait_for(lambda: h.board.phase[ASSET] == "quoting", timeout=RECOVERY_S, what="quoting after the lift")
        assert all(h.allocation[a] == pytest.approx(share) for a in h.assets)
        assert_invariants(h, others=others)
    finally:
        summary = h.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0


@pytest.mark.parametrize("fault, arm", [
    ("reject_burst", lambda f: f.reject_next(ASSET, 8, "Insufficient margin to place order. asset=2")),
    ("throttle", lambda f: f.throttle(ASSET, 4)),
    ("request_failures", lambda f: f.fail_requests(ASSET, 3)),
    ("partial_fills", lambda f: f.partial_fills(ASSET, 0.25)),
])
def test_venue_refusals_failures_and_partial_fills(hive, fault, arm):
    """The venue refuses, fails or splits what we send: nothing may be lost or orphaned
    (a throttled or failed cancel leaves the order resting and still ours)."""
    others = others_of(hive)
    engine = hive.venue.engine
    hive.runtime.call(lambda: arm(engine.faults))
    fills_before = len(engine.fills(ASSET))
    def consumed() -> bool:
        if fault == "partial_fills":
            return len(engine.fills(ASSET)) >= fills_before + 4
        armed = engine.faults.armed(ASSET)
        return armed["reject_next"] == armed["fail_requests"] == armed["throttle"] == 0

    wait_for(consumed, timeout=RECOVERY_S * 2, what=f"{fault} consumed")
    hive.wait_until(hive.sim_time() + 10.0)
    assert_invariants(hive, others=others)


def test_a_risk_actor_that_never_starts_leaves_the_last_known_books_on_show():
    """The tree is restarted, but its new risk actor fails to start, again and again. What
    the board shows of the asset (the summary's and the view's fills and position) must
    stay the books of the last risk actor that knew the venue's history, not the empty
    books of one that never read it. Found by a 500-fault chaos run (seed 23): an asset
    quarantined so showed 0 fills and no position while the venue had 254 fills and a
    position. (A fill that lands while no risk actor runs is booked when one starts.)"""
    h = Hive(chaos_config(busy=True, intensity=0, quarantine_after=10, tree_backoff_s=0.5))
    h.start()
    engine = h.venue.engine

    def counted() -> int:
        r = h.board.risk.get(ASSET)
        return r.fills_buy + r.fills_sell if r is not None else -1

    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
        wait_for(lambda: len(engine.fills(ASSET)) >= 3 and counted() == len(engine.fills(ASSET)), timeout=30,
                 what=f"fills on {ASSET}, all booked")
        before = h.board.risk[ASSET]
        h.faults.arm(ASSET, "risk", "start", count=100)
        h.teams[ASSET].get("risk").tell(Crash(detail="test: risk raises, and never starts again"))
        wait_for(lambda: h.faults.fired.count((ASSET, "risk", "start")) >= 2, timeout=RECOVERY_S,
                 what="two restarts whose risk actor failed to start")
        assert h.board.phase[ASSET] == "failed" and h.gateway.open_orders(ASSET) == ()
        shown = h.board.risk[ASSET]
        assert shown.fills_digest != 0 and counted() >= before.fills_buy + before.fills_sell
        assert shown.ts >= before.ts
    finally:
        summary = h.stop()
    s = summary["assets"][ASSET]
    assert s["fills_buy"] + s["fills_sell"] >= before.fills_buy + before.fills_sell, "the summary lost the fills"
    assert s["inventory"] == shown.position


def test_a_tree_that_cannot_start_again_is_quarantined_and_its_capital_released():
    """Restarts that fail to start are tree failures too: after ``quarantine_after`` of
    them the asset is quarantined (its capital goes to the others) instead of being
    retried for ever on capital it cannot use."""
    h = Hive(chaos_config(intensity=0, quarantine_after=3, tree_backoff_s=0.5))
    h.start()
    try:
        wait_for(lambda: all(h.board.phase[a] == "quoting" for a in h.assets), what="all quoting")
        others = others_of(h)
        h.faults.arm(ASSET, "risk", "start", count=100)
        h.teams[ASSET].get("risk").tell(Crash(detail="test: risk raises, and never starts again"))
        wait_for(lambda: h.board.phase[ASSET] == "quarantined", timeout=RECOVERY_S, what="quarantined")
        # the crash, then two restarts whose risk actor could not start
        assert h.faults.fired.count((ASSET, "risk", "start")) == 2
        assert h.gateway.open_orders(ASSET) == ()
        assert h.allocation[ASSET] == 0.0
        assert all(h.allocation[a] == pytest.approx(h.cfg.portfolio.capital_usd / 4) for a in others)
        assert "3 tree failures" in h.board.events_of("quarantine", ASSET)[-1].text
    finally:
        summary = h.stop()
    assert summary["portfolio"]["open_orders_at_exit"] == 0
