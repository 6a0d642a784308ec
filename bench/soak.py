"""Runs for weeks? Five assets on the sim for hours of simulated time at high speed,
the process's resident memory sampled as it goes: after warm-up it must stay flat.

``python -m bench soak --json PATH`` (3 simulated hours; ``--quick``: 6 minutes). The
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
    warm = series[max(0, int(samples * WARMUP_SHARE) - 1)]
    end = series[-1]
    hours = (end[0] - warm[0]) / 3600.0
    return {
        "sim_hours": round(end[0] / 3600.0, 3),
        "rss_mb_after_warmup": warm[1],
        "rss_mb_end": end[1],
        "rss_mb_per_sim_hour_after_warmup": round((end[1] - warm[1]) / hours, 3) if hours > 0 else 0.0,
        "wall_s": round(wall, 1),
        "fills": summary["portfolio"]["fills"],
        "open_orders_at_exit": summary["portfolio"]["open_orders_at_exit"],
        "samples": series,
    }


def run(quick: bool = False) -> dict:
    return soak(360.0 if quick else 3 * 3600.0, samples=8 if quick else 24)
