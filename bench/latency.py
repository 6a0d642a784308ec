"""Tick-to-action latency: a book update entering the BookActor -> the order batch
leaving the OrderActor, with five assets running on the zero-latency sim.

Run twice: without the live view, and with the view process rendering at the
configured rate while the main thread builds and ships snapshots (what ``makerhive
run`` does). The refresh tolerance is 0 so that every book update moves the quotes
and leads to an action.
"""
from __future__ import annotations

import tomllib
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

import numpy as np

from actors.context import LatencyRecorder
import config as config_mod
from makerhive.affinity import move_process, other_cpus, pin_to_cpu
from makerhive.app import Hive

ROOT = Path(__file__).resolve().parents[1]
# Hyperliquid's own cadence (one l2Book per coin every 0.5 s), run 10x faster than real
# time: 100 book updates a second across the five assets, each one requoting.
SPEED = 10.0


def bench_config(speed: float) -> config_mod.Config:
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["run"]["speed"] = speed
    raw["sim"].update(order_latency_ms=0.0, ack_latency_ms=0.0, feed_latency_ms=0.0)
    raw["quoting"]["refresh_tolerance_bp"] = 0.0
    return config_mod.from_dict(raw)


def measure(samples: int, with_view: bool, speed: float = SPEED, fps: float = 4.0,
            pin: bool = True, remote_url: str | None = None) -> dict:
    cfg = bench_config(speed)
    if remote_url is not None:  # the venue in its own process, as in live trading
        cfg = msgspec.structs.replace(cfg, run=msgspec.structs.replace(cfg.run, venue="remote-sim"),
                                      remote=msgspec.structs.replace(cfg.remote, url=remote_url))
    pinned = pin_to_cpu(cfg.run.pin_cpu) if pin else False
    rec = LatencyRecorder(keep=samples)
    hive = Hive(cfg, latency=rec)
    view = None
    if with_view:
        from makerhive.view_process import ViewProcess

        view = ViewProcess(fps=fps, stdout=open(os.devnull, "w"))
        view.start()
        if pinned and view.pid is not None:
            move_process(view.pid, other_cpus(cfg.run.pin_cpu))
    hive.start()
    deadline = time.monotonic() + 600
    rec.samples.clear()  # drop start-up (reconciliation) samples
    try:
        while len(rec.samples) < samples and time.monotonic() < deadline:
            if view is not None:
                view.publish(hive.snapshot())
            time.sleep(1.0 / fps)
    finally:
        hive.stop()
        if view is not None:
            view.close()
    us = np.array(rec.samples[:samples], dtype=np.float64) / 1000.0
    return {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99)),
            "samples": int(us.size)}


@contextlib.contextmanager
def sim_server(speed: float):  # yields the server's URL
    """The zero-latency sim served by another process, kept off the trading CPU."""
    cfg_path = Path(tempfile.mkdtemp()) / "bench.toml"
    text = (ROOT / "config.toml").read_text().replace("[sim]\n", '[sim]\nlatency_profile = "zero"\n', 1)
    cfg_path.write_text(text)
    proc = subprocess.Popen([sys.executable, "-m", "makerhive.cli", "sim-server", "--config", str(cfg_path),
                             "--port", "0", "--speed", str(speed)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.strip().split()[-1]
        move_process(proc.pid, other_cpus(0))
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def run(quick: bool = False) -> dict:
    import sys

    sys.setswitchinterval(0.0005)  # as makerhive run does
    n = 2_000 if quick else 10_000
    unpinned = measure(n, with_view=False, pin=False)  # for comparison: before the pin
    without = measure(n, with_view=False)
    with_view = measure(n, with_view=True)
    with sim_server(SPEED) as url:  # the production shape: the venue is another process
        remote = measure(n, with_view=True, remote_url=url)
    return {
        "p50_us": round(without["p50_us"], 1),
        "p99_us": round(without["p99_us"], 1),
        "p50_us_with_view": round(with_view["p50_us"], 1),
        "p99_us_with_view": round(with_view["p99_us"], 1),
        "samples": min(without["samples"], with_view["samples"]),
        "view_moves_p99_pct": round((with_view["p99_us"] / without["p99_us"] - 1) * 100, 1),
        "p50_us_unpinned": round(unpinned["p50_us"], 1),
        "p99_us_unpinned": round(unpinned["p99_us"], 1),
        "p50_us_venue_out_of_process": round(remote["p50_us"], 1),
        "p99_us_venue_out_of_process": round(remote["p99_us"], 1),
    }
