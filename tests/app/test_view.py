"""The live view: what a frame shows, and the child process that draws it off the trading GIL."""
import io
import os
import pathlib
import re
import signal
import time

import pytest
from rich.console import Console

from makerhive import view
from messages.snapshot import AssetRow, ViewSnapshot
from makerhive.view import render
from makerhive.view_process import ViewProcess, read_frames
from messages.control import Event

ASSETS = ("BTC", "ETH", "SOL", "XRP", "HYPE")


def rows() -> tuple[AssetRow, ...]:
    return (
        AssetRow(asset="BTC", phase="quoting", regime="calm", mid=67234.56, spread_bp=1.2,
                 our_bid=67220.0, our_ask=67249.0, open_orders=6, inventory=0.0123,
                 inventory_usd=826.98, inventory_pct=41.3, limit_usd=2000, realized_pnl=12.34,
                 unrealized_pnl=-3.21, fees=1.05, fills_buy=17, fills_sell=15, capital=20000),
        AssetRow(asset="ETH", phase="reconciling", regime="trending", mid=3456.78, spread_bp=2.5,
                 inventory=-0.5, inventory_usd=-1728.39, inventory_pct=86.4, limit_usd=2000,
                 realized_pnl=-4.5, unrealized_pnl=2.0, fees=0.8, fills_buy=5, fills_sell=9,
                 restarts=1, capital=20000),
        AssetRow(asset="SOL", phase="restarting", regime="volatile", mid=150.234, spread_bp=4.0,
                 our_bid=150.1, our_ask=150.37, inventory=3.25, inventory_usd=488.26,
                 inventory_pct=24.4, limit_usd=2000, fees=0.1, fills_buy=2, restarts=2,
                 capital=25000),
        AssetRow(asset="XRP", phase="halted", regime="volatile", mid=0.51234, spread_bp=8.1,
                 inventory=-1234.5, inventory_usd=-632.48, inventory_pct=31.6, limit_usd=2000,
                 realized_pnl=-25.0, unrealized_pnl=-1.5, fees=0.3, fills_buy=40, fills_sell=44,
                 capital=15000, halt_reason="drawdown stop"),
        AssetRow(asset="HYPE", phase="failed", regime="calm", mid=25.678, spread_bp=3.3,
                 limit_usd=2000, realized_pnl=7.77, fees=0.2, fills_buy=3, fills_sell=3,
                 restarts=3, capital=0),
    )


EVENTS = (
    Event(ts=1.0, kind="start", asset="BTC", text="asset tree started"),
    Event(ts=65.2, kind="failure", asset="SOL", text="Quoter crashed: ZeroDivisionError"),
    Event(ts=65.7, kind="restart", asset="SOL", text="restarted Quoter, Order (rest_for_one)"),
    Event(ts=130.0, kind="halt", asset="XRP", text="drawdown stop hit at -$25.00"),
    Event(ts=200.0, kind="gave_up", asset="HYPE", text="gave up after 3 escalations"),
    Event(ts=201.0, kind="allocation", asset="", text="reallocated HYPE capital to SOL"),
)


def snapshot(**kw) -> ViewSnapshot:
    base = dict(venue="sim", speed=10.0, sim_time_s=3725.4, wall_time_s=372.5, capital=100000.0,
                portfolio_pnl=-13.7, assets=rows(), events=EVENTS)
    base.update(kw)
    return ViewSnapshot(**base)


def text_of(renderable, width: int = 160) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def row_line(text: str, asset: str) -> str:
    """The assets-table line of ``asset`` (the first line whose first cell is the asset)."""
    for line in text.splitlines():
        cells = line.strip("│ ").split()
        if cells and cells[0] == asset:
            return line
    raise AssertionError(f"no row for {asset} in:\n{text}")


# -- render ----------------------------------------------------------------------------------
def test_header_shows_venue_speed_uptimes_pnl_and_capital():
    header = text_of(render(snapshot())).splitlines()[0]
    for expected in ("sim", "x10", "1:02:05", "0:06:12", "-$13.70", "$100,000"):
        assert expected in header, (expected, header)


def test_every_asset_row_shows_state_market_inventory_pnl_and_fills():
    text = text_of(render(snapshot()))
    expected = {
        "BTC": ["quoting", "calm", "67,235", "1.2", "67,220", "67,249", "+0.0123", "+$827", "41%",
                "+$12.34", "-$3.21", "$1.05", "17/15"],
        "ETH": ["reconciling", "trending", "3,456.8", "-0.5", "-$1,728", "86%", "-$4.50",
                "+$2.00", "$0.80", "5/9"],
        "SOL": ["restarting", "150.23", "150.10", "150.37", "+3.25", "+$488", "24%", "2/0"],
        "XRP": ["halted (drawdown stop)", "0.51234", "-1,234.5", "-$632", "32%", "-$25.00",
                "-$1.50", "40/44"],
        "HYPE": ["failed", "25.678", "0%", "+$7.77", "3/3"],
    }
    for asset, parts in expected.items():
        line = row_line(text, asset)
        for part in parts:
            assert part in line, (asset, part, line)
    assert row_line(text, "HYPE").rstrip(" │").endswith("3")  # restarts, the last column
    assert "stopping" not in text


def test_our_quotes_are_blank_when_we_have_none():
    line = row_line(text_of(render(snapshot())), "ETH")
    # mid and spread, then nothing until the inventory: no "0" for the missing bid / ask
    after_spread = line.split("2.5", 1)[1]
    assert after_spread.split()[0] == "-0.5"


def test_capital_panel_shows_allocation_per_asset_and_share():
    text = text_of(render(snapshot()))
    assert "supervisor: capital" in text
    panel = [line.split("│")[1] for line in text.splitlines()
             if line.startswith("│") and line.count("│") >= 3]
    joined = "\n".join(panel)
    for asset, cap, share in (("BTC", "$20,000", "20%"), ("SOL", "$25,000", "25%"),
                              ("XRP", "$15,000", "15%"), ("HYPE", "$0", "0%")):
        line = next(p for p in panel if p.split() and p.split()[0] == asset)
        assert cap in line and share in line, (asset, line)
    assert "total" in joined and "$80,000" in joined and "80%" in joined


def test_event_log_shows_time_kind_asset_and_text():
    text = text_of(render(snapshot()))
    assert "events" in text
    for e in EVENTS:
        line = next(line for line in text.splitlines() if e.text in line)
        assert e.kind in line and e.asset in line and view.fmt_hms(e.ts) in line


def test_event_log_keeps_the_newest_twelve_newest_last():
    events = tuple(Event(ts=float(i), kind="info", asset="BTC", text=f"msg-{i:02d}")
                   for i in range(30))
    text = text_of(render(snapshot(events=events)))
    shown = [f"msg-{i:02d}" for i in range(30) if f"msg-{i:02d}" in text]
    assert shown == [f"msg-{i:02d}" for i in range(18, 30)]
    assert text.index("msg-18") < text.index("msg-29")


def test_stopping_banner():
    text = text_of(render(snapshot(stopping=True)))
    assert "stopping: cancelling every order…" in text
    assert text.index("stopping") < text.index("BTC")  # above the table, where it is seen


def test_texts_from_the_hive_are_not_console_markup():
    events = (Event(ts=1.0, kind="info", asset="BTC", text="[bold]literal[/bold] [red"),)
    row = AssetRow(asset="BTC", phase="halted", halt_reason="[/] odd")
    text = text_of(render(snapshot(events=events, assets=(row,))))
    assert "[bold]literal[/bold] [red" in text
    assert "halted ([/] odd)" in text


def test_states_and_pnl_are_coloured():
    console = Console(record=True, width=160, file=io.StringIO(), color_system="standard",
                      force_terminal=True)
    console.print(render(snapshot()))
    out = console.export_text(styles=True)
    assert "\x1b[32mquoting" in out
    assert "\x1b[33mreconciling" in out and "\x1b[33mrestarting" in out
    assert "\x1b[1;31mhalted" in out and "\x1b[1;31mfailed" in out
    assert "\x1b[31m-$13.70" in out  # portfolio PnL, red
    assert re.search(r"\x1b\[32m *\+\$12\.34", out) and re.search(r"\x1b\[31m *-\$25\.00", out)
    assert "\x1b[31mQuoter crashed" in out and "\x1b[33mrestarted Quoter" in out
    assert "\x1b[1;31mgave up after" in out


def test_narrow_terminal_keeps_every_asset_and_state():
    text = text_of(render(snapshot()), width=120)
    assert all(len(line) <= 120 for line in text.splitlines())
    for asset, state in zip(ASSETS, ("quoting", "reconciling", "restarting", "halted", "failed")):
        line = row_line(text, asset)
        assert state in line, line
    assert "+$12.34" in row_line(text, "BTC") and "-$1,728" in row_line(text, "ETH")


def test_zero_and_empty_snapshots_render():
    empty = ViewSnapshot(venue="", speed=1.0, sim_time_s=0.0, wall_time_s=0.0, capital=0.0,
                         portfolio_pnl=0.0, assets=(), events=())
    text = text_of(render(empty))
    assert "0:00:00" in text and "no assets" in text and "no events yet" in text
    zero = ViewSnapshot(venue="sim", speed=1.0, sim_time_s=0.0, wall_time_s=0.0, capital=0.0,
                        portfolio_pnl=-0.0, assets=(AssetRow(asset="BTC"),), events=())
    text = text_of(render(zero))
    line = row_line(text, "BTC")
    assert "starting" in line and "0%" in line and "0/0" in line
    assert "-$0.00" not in text
    odd = AssetRow(asset="ETH", mid=float("nan"), inventory=float("inf"), capital=5.0)
    text_of(render(zero.__class__(**{**{f: getattr(zero, f) for f in zero.__struct_fields__},
                                     "assets": (odd,), "sim_time_s": -1.0})))


@pytest.mark.parametrize("x, expected", [
    (150000.0, "150,000"), (67234.56, "67,235"), (3456.78, "3,456.8"), (150.234, "150.23"),
    (25.678, "25.678"), (1.23456, "1.2346"), (0.51234, "0.51234"), (0.5, "0.50000"), (0.0, "0"),
    (-2.5, "-2.5000"),
])
def test_prices_have_five_significant_figures(x, expected):
    assert view.fmt_sig(x) == expected


def test_quantity_money_and_clock_formats():
    assert view.fmt_qty(0.0123) == "+0.0123"
    assert view.fmt_qty(-1234.5) == "-1,234.5"
    assert view.fmt_qty(10.0) == "+10"
    assert view.fmt_qty(0.0) == "0"
    assert view.fmt_usd(-0.001) == "$0.00"
    assert view.fmt_usd(1234.5, 0, sign=True) == "+$1,234"
    assert view.fmt_hms(3725.4) == "1:02:05"
    assert view.fmt_hms(90000) == "25:00:00"


# -- wire format -----------------------------------------------------------------------------
def test_read_frames_stops_at_eof_and_on_a_truncated_frame():
    stream = io.BytesIO(b"\x00\x00\x00\x03abc" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x05xy")
    assert list(read_frames(stream)) == [b"abc", b""]
    assert list(read_frames(io.BytesIO(b"\x00\x00"))) == []


# -- the child process -----------------------------------------------------------------------
@pytest.fixture
def child_env(monkeypatch):
    """The child draws into a file: give it a known width and no forced colours."""
    monkeypatch.setenv("COLUMNS", "160")
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)


def sigint_ignored(pid: int, timeout: float = 5.0) -> bool:
    """Wait until the child has installed SIG_IGN for SIGINT (Linux /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
        mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
        if mask & (1 << (signal.SIGINT - 1)):
            return True
        time.sleep(0.02)
    return False


def test_child_draws_the_last_snapshot_and_exits_0(tmp_path, child_env):
    out = tmp_path / "view.txt"
    with out.open("wb") as f:
        vp = ViewProcess(fps=20, stdout=f)
        vp.start()
        assert vp.alive
        vp.publish(snapshot(venue="first-venue", sim_time_s=10.0))
        time.sleep(0.3)
        vp.publish(snapshot(venue="last-venue", stopping=True))
        vp.close(timeout=8)
    assert vp.returncode == 0 and not vp.alive
    text = out.read_text(encoding="utf-8", errors="replace")
    assert "last-venue" in text and "first-venue" not in text
    assert "stopping: cancelling every order" in text
    for asset in ASSETS:
        assert row_line(text, asset)
    assert "halted (drawdown stop)" in text and "Quoter crashed" in text


def test_child_ignores_sigint_and_still_draws_the_final_frame(tmp_path, child_env):
    out = tmp_path / "view.txt"
    with out.open("wb") as f:
        vp = ViewProcess(fps=10, stdout=f)
        vp.start()
        assert sigint_ignored(vp.pid)
        os.kill(vp.pid, signal.SIGINT)  # what Ctrl-C sends the whole foreground group
        time.sleep(0.1)
        assert vp.alive
        vp.publish(snapshot(stopping=True))
        vp.close(timeout=8)
    assert vp.returncode == 0
    assert "stopping: cancelling every order" in out.read_text(encoding="utf-8", errors="replace")


def test_publish_after_the_child_died_is_dropped_silently(tmp_path, child_env):
    with (tmp_path / "view.txt").open("wb") as f:
        vp = ViewProcess(fps=10, stdout=f)
        vp.publish(snapshot())  # before start: dropped too
        vp.start()
        os.kill(vp.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while vp.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not vp.alive
        for _ in range(5):
            vp.publish(snapshot())
        vp.close(timeout=2)
    assert vp.returncode == -signal.SIGKILL


def test_a_stuck_child_never_blocks_publish_and_the_latest_snapshot_wins(tmp_path, child_env):
    big = tuple(Event(ts=float(i), kind="info", asset="BTC", text="x" * 2000) for i in range(40))
    out = tmp_path / "view.txt"
    with out.open("wb") as f:
        vp = ViewProcess(fps=10, stdout=f)
        vp.start()
        assert sigint_ignored(vp.pid)
        os.kill(vp.pid, signal.SIGSTOP)  # stops reading: the pipe (64 KiB) fills on frame one
        try:
            slowest = 0.0
            for i in range(100):
                t0 = time.perf_counter()
                vp.publish(snapshot(venue=f"v{i:03d}", events=big))
                slowest = max(slowest, time.perf_counter() - t0)
            assert slowest < 1.0  # a blocking publish would wait for the stopped child: forever
            # the writer is stuck on an early frame; of the rest only the newest waits to go
            assert vp._pending is not None and vp._pending.venue == "v099"
        finally:
            os.kill(vp.pid, signal.SIGCONT)
        vp.close(timeout=8)
    assert vp.returncode == 0
    text = out.read_text(encoding="utf-8", errors="replace")
    assert "v099" in text and "v050" not in text


def test_close_kills_a_child_that_does_not_exit(tmp_path, child_env):
    with (tmp_path / "view.txt").open("wb") as f:
        vp = ViewProcess(fps=10, stdout=f)
        vp.start()
        assert sigint_ignored(vp.pid)
        os.kill(vp.pid, signal.SIGSTOP)
        vp.publish(snapshot())
        t0 = time.monotonic()
        vp.close(timeout=0.5)
        assert time.monotonic() - t0 < 3
    assert vp.returncode == -signal.SIGKILL and not vp.alive


# -- the allocation panel ----------------------------------------------------------------------------
def allocation_snapshot(**portfolio):
    from messages.snapshot import AllocationRow, PortfolioRow

    alloc = (
        AllocationRow(asset="BTC", capital=23000, base=23000, change=3000, score=0.81, sharpe=1.0, ret=0.7,
                      drawdown=0.1, consistency=0.6, zone="reward", size_mult=1.1, spread_mult=0.9,
                      max_position_mult=1.1),
        AllocationRow(asset="ETH", capital=20000, base=20000),
        AllocationRow(asset="SOL", capital=8500, base=8500, change=-1500, score=0.05, sharpe=0.0, ret=0.0,
                      drawdown=1.0, consistency=0.2, zone="pause", size_mult=0.53, spread_mult=1.46,
                      max_position_mult=0.53, compound=True),
        AllocationRow(asset="XRP", capital=25000, base=25000, score=0.6, zone="hold"),
        AllocationRow(asset="HYPE", state="quarantined"),
    )
    p = dict(capital=1e5, allocated=76500, equity=99950, exposure_usd=12000, exposure_cap_usd=40000,
             drawdown=0.012, drawdown_stop=0.05)
    p.update(portfolio)
    return snapshot(allocation=alloc, portfolio=PortfolioRow(**p))


def test_allocation_panel_shows_capital_move_score_parts_zone_multipliers_and_compound():
    text = text_of(render(allocation_snapshot()))
    assert "supervisor: capital & allocation" in text
    expected = {
        "BTC": ["$23,000", "23%", "+$3,000", "0.81", "1.00/0.70/0.10/0.60", "reward", "x1.10 x0.90 x1.10"],
        "SOL": ["$8,500", "-$1,500", "0.05", "0.00/0.00/1.00/0.20", "pause", "x0.53 x1.46 x0.53", "compound"],
        "ETH": ["$20,000", "hold", "x1.00 x1.00 x1.00"],
        "HYPE": ["$0", "quarantined"],
    }
    panel = [line.split("│")[1] for line in text.splitlines() if line.startswith("│") and line.count("│") >= 3]
    for asset, parts in expected.items():
        line = next(x for x in panel if x.split() and x.split()[0] == asset)
        for part in parts:
            assert part in line, (asset, part, line)
    assert "exposure $12,000 / cap $40,000" in text and "drawdown 1.20% / stop 5.00%" in text
    assert "HALTED" not in text


def test_allocation_panel_shows_a_portfolio_halt_and_narrow_terminals_keep_everything():
    snap = allocation_snapshot(halted=True, halt_reason="portfolio drawdown stop: -5.1%")
    text = text_of(render(snap))
    assert "HALTED: portfolio drawdown stop: -5.1%" in text
    narrow = text_of(render(snap), width=100)  # the events go under the allocation
    assert "supervisor: capital & allocation" in narrow and "events" in narrow and "HALTED" in narrow


def test_allocation_travels_in_the_encoded_snapshot():
    import msgspec

    snap = allocation_snapshot()
    back = msgspec.msgpack.decode(msgspec.msgpack.encode(snap), type=ViewSnapshot)
    assert back.allocation == snap.allocation and back.portfolio == snap.portfolio


# -- the three terminal sizes ------------------------------------------------------------------------
def desk_snapshot(**kw):
    """A busy desk: quotes with sizes, a guard, fills, a burst of ALO rejects, budgets."""
    import msgspec

    from messages.snapshot import FillRow

    rs = list(rows())
    rs[0] = msgspec.structs.replace(rs[0], bid_size=0.0015, ask_size=0.0015, fills_per_min=2.5, markout_bp=-0.8,
                                    guard="toxicity: aggressor ratio 0.81, ask widened x2")
    rs[2] = msgspec.structs.replace(rs[2], bid_size=3.2, ask_size=3.2, open_orders=4, fills_per_min=0.5,
                                    markout_bp=1.2)
    rejects = tuple(Event(ts=300.0 + i, kind="reject", asset="ETH",
                          text=f"Post only order would have immediately matched, bbo was 3456.{i}. asset=1")
                    for i in range(10))
    fills = tuple(FillRow(ts=100.0 + i * 7, asset=("BTC", "SOL", "ETH")[i % 3], side="BA"[i % 2],
                          px=(67220.0, 150.1, 3456.0)[i % 3], sz=(0.0015, 3.2, 0.05)[i % 3]) for i in range(12))
    base = allocation_snapshot(halted=True, halt_reason="portfolio drawdown stop")
    return msgspec.structs.replace(base, assets=tuple(rs), events=EVENTS + rejects, fills=fills,
                                   venue_status={"ip_weight_used": 310, "ip_weight_cap": 1200,
                                                 "address_left": 9120, "address_cap": 10000},
                                   journal="/home/trader/runs/journal.sqlite", **kw)


@pytest.mark.parametrize("width, height", [(160, 45), (100, 30), (80, 24)])
def test_the_desk_reads_at_a_glance_at_every_size(width, height):
    console = Console(record=True, width=width, height=height, file=io.StringIO(), color_system=None)
    console.print(render(desk_snapshot(stopping=True)))
    text = console.export_text()
    lines = text.splitlines()
    assert len(lines) <= height and all(len(line) <= width for line in lines), (len(lines), text)
    for r in desk_snapshot().assets:  # every asset with its net PnL
        assert view.fmt_usd(r.net_pnl, 2, sign=True) in row_line(text, r.asset), (r.asset, text)
    btc = row_line(text, "BTC")
    for part in ("67,220", "67,249", "4.3", "6", "+$827", "41%", "2.5", "-0.8"):  # quotes, own bp, open, ...
        assert part in btc, (part, btc)
    assert "9,120/10,000" in text and "310/1200/min" in text  # budgets, on the sim too
    assert "toxicity: aggressor ratio" in text  # the guard in force
    assert "HALTED" in text and "stopping" in text
    reject_lines = [line for line in lines if "Post only order" in line]
    assert len(reject_lines) == 1 and "x10" in reject_lines[0]  # ten rejects, one line
    # events in time order, the newest last
    assert text.index("gave up after 3") < text.index("reallocated HYPE") < text.index("Post only order")
    assert "recent fills" in text and "0:02:57" in text  # the newest fill
    if width >= 100:
        assert "journal /home/trader/runs/journal.sqlite" in text
    if width >= 150:
        assert "0.00150/0.00150" in btc  # our sizes
        assert "+$12.34" in btc and "-$3.21" in btc and "calm" in btc


def test_rejects_differing_only_in_numbers_fold_into_one_line_with_their_count():
    events = (Event(ts=1.0, kind="reject", asset="BTC", text="Post only order would have matched, bbo 67220.0"),
              Event(ts=2.0, kind="info", asset="BTC", text="between"),
              Event(ts=9.0, kind="reject", asset="BTC",
                    text="Post only order would have matched, bbo 67221.0 (+8 more in the last 10s)"),
              Event(ts=5.0, kind="reject", asset="ETH", text="Post only order would have matched, bbo 3456.0"))
    lines = view.aggregate(events)
    assert [(e.kind, e.asset, e.count) for e in lines] == [("info", "BTC", 1), ("reject", "ETH", 1),
                                                            ("reject", "BTC", 10)]
    assert lines[-1].ts == 9.0 and "(+8 more" not in lines[-1].text


def test_a_wide_desk_shows_how_often_the_sweep_guard_pulled_a_side():
    import msgspec

    snap = desk_snapshot()
    rows = list(snap.assets)
    rows[0] = msgspec.structs.replace(rows[0], sweeps=37)
    snap = msgspec.structs.replace(snap, assets=tuple(rows))
    console = Console(record=True, width=260, height=60, file=io.StringIO(), color_system=None)
    console.print(render(snap))
    text = console.export_text()
    assert "swept" in text
    line = row_line(text, rows[0].asset)
    assert line.rstrip("│ ").split()[-2:] == ["37", "0"]  # the count, then the restarts
