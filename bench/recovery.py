"""Failure -> cancel-all sent, and failure -> quoting again, on the zero-latency sim.

One fault at a time (each after the previous recovery): a crash of the book, risk,
order or quoter actor, round robin over the five assets. The chaos run reports the same
figures under overlapping faults of every kind; this isolates the recovery path itself.
"""
from __future__ import annotations

import tomllib
import time

import numpy as np

import config as config_mod
from makerhive.app import Hive
from messages.control import Crash

ROLES = ("book", "risk", "order", "quoter")


def recovery_config(speed: float) -> config_mod.Config:
    from bench.latency import ROOT

    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["run"]["speed"] = speed
    raw["sim"]["latency_profile"] = "zero"
    raw["supervision"]["intensity"] = 1000  # one restart after another is the point here
    return config_mod.from_dict(raw)


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.002)
    return False


def run(quick: bool = False) -> dict:
    import sys

    sys.setswitchinterval(0.0005)
    n = 40 if quick else 200
    hive = Hive(recovery_config(speed=10.0))
    hive.start()
    by_role: dict[str, list[float]] = {r: [] for r in ROLES}
    try:
        _wait(lambda: all(hive.board.phase[a] == "quoting" for a in hive.assets), 30)
        for i in range(n):
            asset, role = hive.assets[i % len(hive.assets)], ROLES[(i // len(hive.assets)) % len(ROLES)]
            _wait(lambda: hive.board.phase[asset] == "quoting", 10)
            before = len(hive.board.recoveries)
            hive.teams[asset].get(role).tell(Crash(detail="bench"))
            _wait(lambda: len(hive.board.recoveries) > before, 10)
            if len(hive.board.recoveries) > before:
                by_role[role].append(hive.board.recoveries[-1].requote_ms)
    finally:
        hive.stop()
    recs = hive.board.recoveries
    cancel = np.array([r.cancel_ms for r in recs if r.cancel_sent_ns])
    requote = np.array([r.requote_ms for r in recs])
    return {
        "recoveries": int(requote.size),
        "cancel_ms_p50": round(float(np.percentile(cancel, 50)), 2),
        "cancel_ms_p99": round(float(np.percentile(cancel, 99)), 2),
        "requote_ms_p50": round(float(np.percentile(requote, 50)), 1),
        "requote_ms_p99": round(float(np.percentile(requote, 99)), 1),
        "requote_ms_max": round(float(requote.max()), 1),
        "requote_ms_p50_by_role": {r: round(float(np.percentile(v, 50)), 1) for r, v in by_role.items() if v},
    }
