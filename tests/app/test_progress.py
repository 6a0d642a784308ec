"""Long jobs say how far they are: a line with the share done and an ETA every few
seconds when not on a terminal; a backtest reports its simulated time as it runs."""
from __future__ import annotations

import io

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


def test_a_backtest_tells_its_progress_its_simulated_time():
    cfg = zero_latency(config.load(ROOT / "config.toml"))
    bt = Backtest(cfg, seed=1, assets=["ETH"])
    seen: list[float] = []
    bt.progress = seen.append
    bt.run(30.0)
    assert seen[0] == 0.0 and seen[-1] == 30.0 and seen == sorted(seen) and len(seen) >= 30
