"""Long jobs say how far they are: a line with the share done and an ETA every few
seconds when not on a terminal; a backtest reports its simulated time as it runs."""
from __future__ import annotations

import io
import re

import config
from backtest.engine import Backtest, zero_latency
from makerhive.progress import JobProgress
from tests.hive_helpers import ROOT


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_line_every_interval_with_share_done_and_eta():
    out, clock = io.StringIO(), _Clock()
    with JobProgress("backtest", 600, unit="simulated s", stream=out, every_s=10, clock=clock) as bar:
        for done, t in ((60, 105.0), (150, 110.0), (300, 115.0), (450, 120.0)):
            clock.t = t
            bar.update(done)
    lines = out.getvalue().splitlines()
    assert lines == ["backtest: 150/600 simulated s (25%), 0:00:10 elapsed, ETA 0:00:30",
                     "backtest: 450/600 simulated s (75%), 0:00:20 elapsed, ETA 0:00:06"]


def test_without_a_total_the_line_says_how_far_and_how_long():
    out, clock = io.StringIO(), _Clock()
    with JobProgress("run", None, unit="simulated s", stream=out, every_s=5, clock=clock) as bar:
        clock.t = 106.0
        bar.update(1234.0)
    assert out.getvalue() == "run: 1,234 simulated s, 0:00:06 elapsed\n"


def test_each_finished_run_has_its_line_and_the_plain_log_ends_where_the_job_ended():
    out, clock = io.StringIO(), _Clock()
    with JobProgress("sweep", 3, unit="runs", stream=out, every_s=10, clock=clock) as bar:
        for i, t in enumerate((103.0, 112.0, 114.0)):
            clock.t = t
            bar.note(f"run {i + 1} done")
            bar.update(i + 1)
    assert out.getvalue().splitlines() == [
        "run 1 done", "run 2 done", "sweep: 2/3 runs (67%), 0:00:12 elapsed, ETA 0:00:06",
        "run 3 done", "sweep: 3/3 runs (100%), 0:00:14 elapsed, ETA 0:00:00"]


def test_on_a_terminal_a_bar_with_an_eta_sits_under_the_finished_runs():
    out = io.StringIO()
    with JobProgress("chaos", 3, unit="simulated s", stream=out, tty=True) as bar:
        for i in range(3):
            bar.note(f"run {i + 1} done")
            bar.update(i + 1, label="chaos (7/9 faults)")
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue())
    assert [text.index(f"run {i} done") for i in (1, 2, 3)] == sorted(text.index(f"run {i} done") for i in (1, 2, 3))
    assert "-:--:--" in text  # the ETA column, unknown before the first step
    assert "chaos (7/9 faults)" in text and "100%" in text


def test_a_backtest_tells_its_progress_its_simulated_time():
    cfg = zero_latency(config.load(ROOT / "config.toml"))
    bt = Backtest(cfg, seed=1, assets=["ETH"])
    seen: list[float] = []
    bt.progress = seen.append
    bt.run(30.0)
    assert seen[0] == 0.0 and seen[-1] == 30.0 and seen == sorted(seen) and len(seen) >= 30
