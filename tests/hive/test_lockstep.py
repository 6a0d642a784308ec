"""Lockstep: the live hive, run deterministically, makes the very fills the backtester makes.

The same scenario (zero-latency wire) goes once through the actor system (real pykka
threads, the trio venue runtime, the simulated venue, the supervisors and the
meta-supervisor's allocation) and once through the backtester (the same cores, no
actors, one event clock). Every fill must be the same: same order id by cloid, side,
price, size and time. Then the pieces that make it possible, on their own.
"""
from __future__ import annotations

import json
import queue
import random
import subprocess
import sys
import threading
import time

import pytest
import trio

from makerhive.agreement import against_live, fill_keys
from backtest.engine import select_assets, zero_latency
from makerhive.app import Hive
from config.scenarios import allocation_timing, toxic
from messages.control import Crash
from tests.hive_helpers import ROOT, sim_config
from venues.lockstep import LockstepClock, SequencedInbox, Turnstile

FORMULA = {"market_model": "formula"}  # what the tests written for the formula market pin
TIMING = dict(period_s=20.0, window_s=180.0, sample_s=4.0, report_s=8.0, min_history_s=60.0)
ASSETS = ("BTC", "SOL", "HYPE")
DURATION_S = 420.0


@pytest.fixture(scope="module")
def both_ways():
    """A toxic episode on SOL (capital moves away from it and back), three assets; the formula
    market and the quoter without the strategy stack, which loses while toxic."""
    cfg = toxic(select_assets(allocation_timing(sim_config(legacy_quoting=True, sim=FORMULA), **TIMING), ASSETS),
                "SOL", 100.0, 340.0)
    return against_live(cfg, seed=11, duration_s=DURATION_S)


def test_the_actor_system_and_the_backtester_make_the_same_fills(both_ways):
    for a in ASSETS:
        ag = both_ways.assets[a]
        assert len(ag.live) > 50, f"{a}: too few fills to compare"
        i = ag.first_difference
        assert i is None, f"{a}: fill {i} differs: {both_ways.to_dict()['assets'][a]['first_difference']}"
        assert ag.live_book == ag.backtest_book
    assert both_ways.agree


def test_the_comparison_covers_capital_moving_between_assets(both_ways):
    sol = both_ways.backtest.capital_series["SOL"]
    assert min(sol) < 0.8 * sol[0]  # the toxic asset was punished: grants and gates took effect
    assert both_ways.summary["portfolio"]["open_orders_at_exit"] == 0  # and the lockstep hive stops cleanly


def test_with_the_configs_fixed_latencies_they_agree_too():
    cfg = select_assets(sim_config(sim=FORMULA), ("BTC", "SOL"))  # config.toml: fixed 20/20/10 ms
    assert cfg.sim.latency_profile == "fixed" and cfg.sim.order_latency_ms > 0
    ag = against_live(cfg, seed=3, duration_s=240.0, zero=False)
    for a in ("BTC", "SOL"):
        assert len(ag.assets[a].live) > 50
        assert ag.assets[a].first_difference is None, ag.to_dict()["assets"][a]["first_difference"]
    assert ag.agree


@pytest.mark.slow
@pytest.mark.parametrize("assets,zero", [(("SOL", "XRP", "HYPE"), True), (("ETH", "XRP"), False)])
def test_on_the_order_book_market_they_agree_fill_for_fill(assets, zero):
    """The default market (a persistent price-time book): our orders sit in its queues
    in both runs, with the zero and with the config's fixed latencies."""
    # the tape edge off: it quotes only where prints show an edge, too seldom here to compare
    cfg = select_assets(sim_config(quoting={"tape_edge": {"enabled": False}}), assets)
    assert cfg.sim.market_model == "orderbook"
    ag = against_live(cfg, seed=5, duration_s=500.0, zero=zero)
    for a in assets:
        assert len(ag.assets[a].live) > 20, f"{a}: too few fills to compare"
        assert ag.assets[a].first_difference is None, ag.to_dict()["assets"][a]["first_difference"]
        assert ag.assets[a].live_book == ag.assets[a].backtest_book
    assert ag.agree


def test_the_default_stack_with_its_tape_edge_agrees_fill_for_fill():
    """The default config (the tape edge reads the prints each book core sees): the same
    prints reach it in both runs, so the same levels are kept and the same fills made."""
    cfg = select_assets(sim_config(), ("SOL", "HYPE"))
    assert cfg.assets["SOL"].quoting.tape_edge.enabled
    ag = against_live(cfg, seed=5, duration_s=700.0, zero=True)
    assert sum(len(ag.assets[a].live) for a in ("SOL", "HYPE")) > 10
    for a in ("SOL", "HYPE"):
        assert ag.assets[a].first_difference is None, ag.to_dict()["assets"][a]["first_difference"]
        assert ag.assets[a].live_book == ag.assets[a].backtest_book
    assert ag.agree


def test_a_difference_is_reported_with_the_first_fill_that_differs():
    from makerhive.agreement import AssetAgreement

    f = [(1.0, "0xa", "B", 100.0, 1.0), (2.0, "0xb", "A", 101.0, 1.0)]
    same = AssetAgreement("X", f, list(f), (0.0, 1.0), (0.0, 1.0))
    assert same.agree and same.first_difference is None
    other = AssetAgreement("X", f, [f[0], (2.0, "0xb", "A", 101.0, 0.5)], (0.0, 1.0), (0.0, 1.0))
    assert not other.agree and other.first_difference == 1
    shorter = AssetAgreement("X", f, f[:1], (0.0, 1.0), (0.0, 1.0))
    assert shorter.first_difference == 1
    books = AssetAgreement("X", f, list(f), (0.0, 1.0), (0.0, 2.0))
    assert not books.agree


def test_backtest_against_live_from_the_command_line(tmp_path):
    out = tmp_path / "agree.json"
    proc = subprocess.run(
        [sys.executable, "-m", "makerhive.cli", "backtest", "--against-live", "--assets", "ETH,XRP",
         "--duration", "400", "--seed", "2", "--json", str(out), "--config", str(ROOT / "config.toml")],
        capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["agree"] is True and set(doc["assets"]) == {"ETH", "XRP"} and doc["latency_profile"] == "fixed"
    assert all(a["fills_live"] == a["fills_backtest"] > 0 for a in doc["assets"].values())
    assert "agree" in proc.stdout


def test_the_same_seed_in_lockstep_gives_the_same_run_twice():
    cfg = zero_latency(select_assets(sim_config(), ("ETH",)))
    runs = []
    for _ in range(2):
        hive = Hive(cfg, seed=3, lockstep=True)
        hive.start()
        try:
            hive.wait_until(400.0)
            runs.append((fill_keys(hive.venue.engine.fills("ETH")), hive.sim_time()))
        finally:
            hive.stop()
    assert runs[0] == runs[1]
    assert runs[0][1] == 400.0  # the clock stops exactly where it was asked to
    assert len(runs[0][0]) > 5


def test_a_crash_in_lockstep_is_restarted_and_the_hive_trades_on():
    cfg = zero_latency(select_assets(sim_config(), ("BTC", "ETH")))
    hive = Hive(cfg, seed=4, lockstep=True)
    hive.start()
    try:
        hive.wait_until(20.0)
        hive.teams["BTC"].tell("quoter", Crash("injected by the test"))
        hive.teams["ETH"].tell("order", Crash("injected by the test"))
        hive.wait_until(60.0)
        restarts = dict(hive.board.restarts)
        late = [f for a in ("BTC", "ETH") for f in hive.venue.engine.fills(a) if f.ts > 30.0]
    finally:
        summary = hive.stop()
    assert restarts.get("BTC", 0) >= 1 and restarts.get("ETH", 0) >= 1
    assert late, "no fill after the restarts"
    assert summary["portfolio"]["open_orders_at_exit"] == 0


def test_lockstep_refuses_a_venue_other_than_the_embedded_sim():
    cfg = sim_config(run={"venue": "remote-sim"})
    with pytest.raises(ValueError, match="lockstep runs the embedded sim only"):
        Hive(cfg, lockstep=True)


def _cli_run(tmp_path, name: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "makerhive.cli", "run", "--headless", "--config", str(ROOT / "config.toml"),
         "--summary-json", str(tmp_path / name), *extra],
        capture_output=True, text=True, timeout=180, cwd=tmp_path)


@pytest.mark.slow
def test_run_lockstep_from_the_command_line_repeats_itself_with_the_configs_latencies(tmp_path):
    runs = []
    for name in ("a.json", "b.json"):
        proc = _cli_run(tmp_path, name, "--lockstep", "--duration", "150", "--seed", "5")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "lockstep" in proc.stdout and "0 open orders" in proc.stdout
        runs.append(json.loads((tmp_path / name).read_text()))
    keys = ("fills_buy", "fills_sell", "volume_usd", "realized_pnl", "fees", "inventory")
    per_asset = [{a: {k: s[k] for k in keys} for a, s in r["assets"].items()} for r in runs]
    assert per_asset[0] == per_asset[1]
    assert sum(s["fills_buy"] + s["fills_sell"] for s in per_asset[0].values()) > 20


def test_backtest_against_live_refuses_the_random_latency_profile(tmp_path):
    cfg = (ROOT / "config.toml").read_text().replace("[sim]\n", '[sim]\nlatency_profile = "hyperliquid"\n', 1)
    (tmp_path / "hl.toml").write_text(cfg)
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", "--against-live", "--config",
                           str(tmp_path / "hl.toml")], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "zero or fixed latency" in proc.stderr


@pytest.mark.parametrize("extra", [("--lockstep",), ("--lockstep", "--duration", "10", "--speed", "5"),
                                   ("--lockstep", "--duration", "10", "--venue", "hyperliquid")])
def test_run_lockstep_needs_the_embedded_sim_and_a_duration(tmp_path, extra):
    proc = _cli_run(tmp_path, "x.json", *extra)
    assert proc.returncode == 2
    assert "--lockstep runs the embedded sim" in proc.stderr


# -- the pieces ----------------------------------------------------------------------------------
def test_tickets_are_served_in_issue_order_across_threads():
    ts = Turnstile()
    ts.bind_trio(lambda fn: fn(), lambda: None)
    assert ts.start_sequencing()
    inboxes = [SequencedInbox(ts) for _ in range(3)]
    sent = [(random.Random(i).randrange(3), i) for i in range(60)]
    for box, i in sent:
        inboxes[box].put(i)  # tickets 0..59 in this order, spread over three inboxes
    served: list[int] = []
    lock = threading.Lock()

    def worker(box: SequencedInbox, n: int) -> None:
        for _ in range(n):
            item = box.get()
            time.sleep(random.random() * 1e-4)  # a handler that takes a while
            with lock:
                served.append(item)
        box._done_with_current()  # what the actor loop's next get would do

    counts = [sum(1 for b, _ in sent if b == k) for k in range(3)]
    threads = [threading.Thread(target=worker, args=(inboxes[k], counts[k])) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert served == list(range(60))
    assert ts.outstanding == 0


def test_a_job_for_the_venue_thread_waits_for_its_turn_and_a_dead_inbox_does_not_block():
    ts = Turnstile()
    ran: list[str] = []
    jobs: queue.Queue = queue.Queue()
    ts.bind_trio(jobs.put, lambda: ran.append("idle"))
    assert ts.start_sequencing()
    first, dead = SequencedInbox(ts), SequencedInbox(ts)
    first.put("a")  # ticket 0
    ts.submit_trio(lambda: ran.append("job"))  # ticket 1: must wait for "a"
    dead.put("never handled")  # ticket 2
    first.put("b")  # ticket 3
    assert jobs.empty()
    assert first.get() == "a"
    first._done_with_current()
    jobs.get(timeout=1)()  # dispatched now that ticket 0 is done
    assert ran == ["job"]
    dead.close()  # its actor died: ticket 2 is skipped, ticket 3 may go
    assert first.get(timeout=1) == "b"
    first._done_with_current()
    assert ts.outstanding == 0 and ran[-1] == "idle"


def test_start_up_is_not_sequenced_and_sequencing_starts_only_when_nothing_is_in_flight():
    ts = Turnstile()
    ts.bind_trio(lambda fn: fn(), lambda: None)
    box = SequencedInbox(ts)
    box.put(1)
    box.put(2)
    assert box.get() == 1  # before sequencing nobody waits for a turn
    assert not ts.start_sequencing()  # two in flight
    assert box.get() == 2
    box._done_with_current()
    assert ts.start_sequencing()


def test_the_clock_jumps_only_when_nothing_is_in_flight_and_never_past_its_limit():
    ts = Turnstile()
    clock = LockstepClock(ts)
    assert clock.current_time() == 0.0
    assert clock.deadline_to_sleep_time(5.0) > 0 and clock.current_time() == 0.0  # held at start
    clock.held = False
    clock.run_to(10.0)
    ticket = ts.issue()
    assert clock.deadline_to_sleep_time(5.0) > 0 and clock.current_time() == 0.0  # something in flight
    ts.finish(ticket)
    assert clock.deadline_to_sleep_time(5.0) == 0 and clock.current_time() == 5.0
    assert clock.deadline_to_sleep_time(12.0) > 0 and clock.current_time() == 10.0 and clock.parked
    clock.free()
    time.sleep(0.01)
    assert clock.current_time() > 10.0  # freed for the stop: real time from where it stood


def test_trio_runs_on_the_lockstep_clock():
    ts = Turnstile()
    clock = LockstepClock(ts)
    clock.held = False
    clock.run_to(100.0)
    seen: list[float] = []

    async def main() -> None:
        for _ in range(3):
            await trio.sleep(30.0)
            seen.append(trio.current_time())

    trio.run(main, clock=clock)
    assert seen == [30.0, 60.0, 90.0]
