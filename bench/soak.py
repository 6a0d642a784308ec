"""Runs for weeks? Five assets on the sim for hours of simulated time at high speed,
the process's resident memory sampled as it goes: after warm-up it must stay flat.

``python -m bench soak --json PATH [--hours H]`` (3 simulated hours; ``--quick``: 6 minutes). The
figures: ``rss_mb_after_warmup``, ``rss_mb_end``, ``sim_hours``, the growth per
simulated hour after warm-up, and the samples.
"""
from __future__ import annotations

import gc
import tomllib
import time

import config as config_mod
from makerhive.app import Hive

SPEED = 100.0  # simulated seconds per real second asked for (the machine may lag behind)
WARMUP_SHARE = 0.2  # the first fifth of the run fills caches, books and queues


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def soak_config(speed: float) -> config_mod.Config:
    from bench.latency import ROOT

    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["run"]["speed"] = speed
    raw["run"]["journal_dir"] = "/tmp/makerhive-soak"
    return config_mod.from_dict(raw)


def soak(sim_seconds: float, speed: float = SPEED, samples: int = 24) -> dict:
    hive = Hive(soak_config(speed))
    hive.start()
    series: list[tuple[float, float]] = []
    t0 = time.monotonic()
    try:
        for i in range(1, samples + 1):
            hive.wait_until(sim_seconds * i / samples)
            gc.collect()
            series.append((round(hive.sim_time(), 1), round(rss_mb(), 2)))
    finally:
        summary = hive.stop()
    wall = time.monotonic() - t0
    first = max(0, int(samples * WARMUP_SHARE) - 1)
    warm, end = series[first], series[-1]
    hours = (end[0] - warm[0]) / 3600.0
    slope, noise = trend([(t / 3600.0, mb) for t, mb in series[first:]])
    return {
        "sim_hours": round(end[0] / 3600.0, 3),
        "rss_mb_after_warmup": warm[1],
        "rss_mb_end": end[1],
        "rss_mb_per_sim_hour_after_warmup": round((end[1] - warm[1]) / hours, 3) if hours > 0 else 0.0,
        # least squares over every sample after warm-up (two end points alone are noisy),
        # and the samples' scatter about that line
        "rss_mb_slope_per_sim_hour": round(slope, 3),
        "rss_mb_noise": round(noise, 3),
        "wall_s": round(wall, 1),
        "fills": summary["portfolio"]["fills"],
        "open_orders_at_exit": summary["portfolio"]["open_orders_at_exit"],
        "samples": series,
    }


def trend(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope of (x, y) and the standard deviation of the residuals."""
    import numpy as np

    if len(points) < 3:
        return 0.0, 0.0
    x, y = np.array(points).T
    slope, icpt = np.polyfit(x, y, 1)
    return float(slope), float(np.std(y - (slope * x + icpt), ddof=2))


def parse_args(argv: list[str]) -> dict:
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench soak")
    p.add_argument("--hours", type=float, default=3.0, help="simulated hours (default 3)")
    return {"hours": p.parse_args(argv).hours}


def run(quick: bool = False, hours: float = 3.0) -> dict:
    return soak(360.0 if quick else hours * 3600.0, samples=8 if quick else 24)
