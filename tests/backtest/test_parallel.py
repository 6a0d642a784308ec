"""The assets of one backtest in parallel processes: each share runs its assets as they
run in the whole, the merged result is the serial one bit for bit (order log included),
and when the shares together might have met the account's shared limits (the address
budget, the open-order cap) the backtest runs again in one process rather than give a
result the serial run would not."""
import json
import os
import pathlib
import subprocess
import sys

import msgspec
import pytest

import config as c
from backtest.engine import Backtest
from backtest.parallel import account_conflict, auto_workers, merge, run_parallel, shares, usable_cores
from tests.backtest.test_backtest_golden import _result_digest
from venues.sim.engine import OVER, SPEND, SPEND_ANYWAY, SPEND_CANCEL, VOLUME
from venues.sim.latency import LatencyModel

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _hl(cfg, **sim):
    return msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, latency_profile="hyperliquid", **sim))


@pytest.fixture(scope="module")
def cfg():
    return _hl(c.load(ROOT / "config.toml"))


def _asset_view(rec):
    """Everything recorded of one asset, as numbers (floats' repr is exact)."""
    return repr((tuple((f.ts, f.side, f.px, f.sz, f.fee, f.mid, f.taker) for f in rec.fills), rec.cash,
                 rec.position, rec.funding, rec.orders_sent, rec.cancels_sent, rec.acks, rec.rejects,
                 rec.alo_rejects, rec.budget_rejects, rec.cancel_misses, rec.book_events, rec.level_events,
                 rec.trade_events, tuple(rec.equity), tuple(rec.inventory_usd), sorted(rec.markout_sum.items()),
                 rec.engine_cash, rec.engine_position, rec.risk_net_pnl, rec.risk_fills, rec.stalls))


def _digest_without_parallel(result):
    result.meta.pop("parallel", None)
    return _result_digest(result)


def test_each_asset_draws_its_own_wire_and_wire_0_is_the_old_single_wire():
    sim = c.SimConfig(latency_profile="hyperliquid")
    old = LatencyModel(sim, 5)
    zero, one = LatencyModel(sim, 5, stream=0), LatencyModel(sim, 5, stream=1)
    a = [old.order_s() for _ in range(50)]
    assert a == [zero.order_s() for _ in range(50)]
    assert a != [one.order_s() for _ in range(50)]
    with pytest.raises(ValueError, match="stream"):
        LatencyModel(sim, 5, stream=-1)


def test_a_share_runs_its_assets_exactly_as_the_whole_backtest_runs_them(cfg):
    whole = Backtest(cfg, seed=11).run(240.0)
    share = Backtest(cfg, seed=11, only=["SOL", "ETH"]).run(240.0)
    assert share.assets == ("ETH", "SOL")  # the config's order
    assert sum(len(share.records[a].fills) for a in share.assets) > 0
    for a in share.assets:
        assert _asset_view(share.records[a]) == _asset_view(whole.records[a])
    assert share.sample_ts == whole.sample_ts and share.steps == whole.steps


def test_an_unknown_asset_in_a_share_is_refused_by_name(cfg):
    with pytest.raises(c.ConfigError, match="DOGE"):
        Backtest(cfg, seed=1, only=["DOGE"])


def test_the_parallel_backtest_is_the_serial_one_bit_for_bit_order_log_included(cfg):
    serial = Backtest(cfg, seed=4).keep_orders().run(300.0)
    seen: list[float] = []
    par = run_parallel(cfg, duration_s=300.0, seed=4, workers=2, keep_orders=True, progress=seen.append)
    info = par.meta["parallel"]
    assert info["workers"] == 2 and info["serial_rerun"] is None
    assert sorted(a for s in info["shares"] for a in s) == sorted(cfg.portfolio.assets)
    assert _digest_without_parallel(par) == _result_digest(serial)
    assert par.assets == serial.assets
    for a in serial.assets:  # each asset's orders and answers, in the order they happened
        assert [o for o in par.orders if o[1] == a] == [o for o in serial.orders if o[1] == a]
    assert [o[0] for o in par.orders] == sorted(o[0] for o in serial.orders)
    assert seen and seen[-1] == pytest.approx(300.0)


def test_when_the_address_budget_binds_it_runs_again_serially_and_gives_the_serial_result(cfg):
    # no budget to start with: the first actions, before any volume, meet it (a share alone
    # cannot tell what the whole account would have had; account_conflict below covers the
    # shares that are each within it but not together)
    tight = msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, address_budget_initial=0))
    tight = msgspec.structs.replace(tight, portfolio=msgspec.structs.replace(tight.portfolio,
                                                                             assets=("BTC", "ETH")))
    serial = Backtest(tight, seed=2).run(300.0)
    assert sum(r.budget_rejects for r in serial.records.values()) > 0  # the serial run met the budget
    par = run_parallel(tight, duration_s=300.0, seed=2, workers=2)
    assert "address budget" in par.meta["parallel"]["serial_rerun"]
    assert _digest_without_parallel(par) == _result_digest(serial)


def test_account_conflict_reads_the_merged_logs_conservatively(cfg):
    cap = cfg.sim.address_budget_initial
    # alone each share is within the budget; together the second half-budget action is not
    a = [(1.0, SPEND, cap // 2)]
    b = [(1.0, SPEND, cap // 2 + 2)]
    assert account_conflict(cfg, [a], [3]) is None
    assert "address budget" in account_conflict(cfg, [a, b], [3, 3])
    # volume traded before the action raises the cap; at the same instant it does not count yet
    assert account_conflict(cfg, [a, b, [(0.5, VOLUME, 10.0)]], [3, 3]) is None
    assert account_conflict(cfg, [a, b, [(1.0, VOLUME, 10.0)]], [3, 3]) is not None
    # cancels have a higher cap; a cancel_all is spent without a check but still spent
    assert account_conflict(cfg, [a, [(1.0, SPEND_CANCEL, cap // 2 + 2)]], [3, 3]) is None
    assert account_conflict(cfg, [[(0.0, SPEND_ANYWAY, cap)], [(1.0, SPEND, 5)]], [3, 3]) is not None
    # a share that itself went beyond its budget, and open orders that could reach the cap
    assert account_conflict(cfg, [[(2.0, OVER, 1)]], [1]) is not None
    assert "open orders" in account_conflict(cfg, [[], []], [cfg.sim.open_order_cap - 1, 1])


def test_shares_deal_the_assets_round_and_auto_splits_only_when_it_pays():
    assert shares(("BTC", "ETH", "SOL", "XRP", "HYPE"), 2) == [("BTC", "SOL", "HYPE"), ("ETH", "XRP")]
    assert shares(("BTC", "ETH"), 8) == [("BTC",), ("ETH",)]
    assert auto_workers(5, 3600.0, cores=2) == 2
    assert auto_workers(5, 600.0, cores=2) == 1  # starting processes would cost more than it saves
    assert auto_workers(1, 86400.0, cores=8) == 1
    assert auto_workers(3, 86400.0, cores=8) == 3
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)  # pinning counts: never more than the machine


def test_merge_refuses_shares_that_ran_on_different_clocks(cfg):
    a = Backtest(cfg, seed=1, only=["BTC"]).run(20.0)
    b = Backtest(cfg, seed=1, only=["ETH"]).run(30.0)
    with pytest.raises(RuntimeError, match="clocks"):
        merge(("BTC", "ETH"), [a, b])


def test_the_cli_runs_a_backtest_in_processes_and_writes_what_one_process_writes(tmp_path):
    outs = {}
    for workers in ("2", "1"):
        path = tmp_path / f"w{workers}.json"
        p = subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", "--assets", "BTC,XRP",
                            "--duration", "120", "--workers", workers, "--json", str(path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        outs[workers] = (json.loads(path.read_text()), p.stdout)
    (two, text2), (one, _) = outs["2"], outs["1"]
    assert "in 2 processes" in text2
    assert two.pop("parallel")["shares"] == [["BTC"], ["XRP"]]
    assert two == one


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    from tests.backtest.test_replay_backtest import write_recording

    root = tmp_path_factory.mktemp("rec3")
    write_recording(root, seconds=120)  # BTC and ETH
    return root


def test_a_parallel_replay_is_the_serial_replay_counts_included(cfg, recording):
    from backtest.replay import ReplayBacktest

    serial = ReplayBacktest(cfg, recording, seed=3).keep_orders().run()
    par = run_parallel(cfg, duration_s=None, seed=3, workers=2, keep_orders=True, replay=str(recording))
    info = par.meta["parallel"]
    assert info["workers"] == 2 and info["serial_rerun"] is None and info["shares"] == [["BTC"], ["ETH"]]
    assert par.meta["replay"] == serial.meta["replay"]  # books, trades, files and lines read: summed over shares
    assert par.meta["replay"]["books_replayed"] > 0 and sum(len(r.fills) for r in par.records.values()) > 0
    assert _digest_without_parallel(par) == _result_digest(serial)
    for a in serial.assets:
        assert [o for o in par.orders if o[1] == a] == [o for o in serial.orders if o[1] == a]


def test_a_share_of_a_replay_starts_and_ends_where_the_whole_does(cfg, recording):
    from backtest.replay import ReplayBacktest

    whole = ReplayBacktest(cfg, recording, seed=3)
    share = ReplayBacktest(cfg, recording, seed=3, only=["BTC"])  # ETH's first book comes 130 ms later
    alone = ReplayBacktest(cfg, recording, seed=3, assets=["BTC"])
    assert (share.t0_ms, share.end_ms, share.span_s) == (whole.t0_ms, whole.end_ms, whole.span_s)
    assert alone.t0_ms < whole.t0_ms  # a BTC-only replay starts at BTC's first book; the share does not
    assert share.assets == ("BTC",) and whole.assets == ("BTC", "ETH")


def test_the_cli_replays_in_processes_as_in_one(tmp_path, recording):
    outs = {}
    for workers in ("2", "1"):
        path = tmp_path / f"r{workers}.json"
        p = subprocess.run([sys.executable, "-m", "makerhive.cli", "backtest", "--replay", str(recording),
                            "--workers", workers, "--json", str(path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        outs[workers] = (json.loads(path.read_text()), p.stdout)
    (two, text2), (one, _) = outs["2"], outs["1"]
    assert "in 2 processes" in text2
    two.pop("parallel")
    assert two == one


def test_a_worker_killed_mid_run_costs_time_not_the_result(cfg):
    import multiprocessing
    import signal
    import threading
    import time

    two = msgspec.structs.replace(cfg, portfolio=msgspec.structs.replace(cfg.portfolio, assets=("BTC", "XRP")))
    out: dict = {}
    runner = threading.Thread(target=lambda: out.update(r=run_parallel(two, duration_s=1200.0, seed=5, workers=2)))
    runner.start()
    killed = False
    deadline = time.monotonic() + 60
    while not killed and time.monotonic() < deadline and runner.is_alive():
        for child in multiprocessing.active_children():  # the spawned worker running XRP
            time.sleep(0.5)  # let it start its share
            os.kill(child.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    runner.join(timeout=120)
    assert killed and not runner.is_alive()
    par = out["r"]
    assert par.meta["parallel"]["serial_rerun"] == "a worker process died"
    assert _digest_without_parallel(par) == _result_digest(Backtest(two, seed=5).run(1200.0))
