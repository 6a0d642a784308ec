"""Helpers for tests that run the whole hive on the simulated venue."""
from __future__ import annotations

import hashlib
import os
import time
import tomllib
from pathlib import Path
from typing import Callable

import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
# per checkout and per xdist worker: two clones or two workers never share a journal or control socket
RUNS = Path("/tmp/makerhive-test-runs") / hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]


def sim_config(legacy_quoting: bool = False, **overrides) -> config_mod.Config:
    """The default config, accelerated, with optional section overrides; ``legacy_quoting``:
    the quoter without the strategy stack (strategy.features.LEGACY), for tests of other parts."""
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    if legacy_quoting:
        from strategy import features
        raw = features.apply(raw, features.LEGACY)
    raw["run"]["speed"] = 20.0
    raw["run"]["journal_dir"] = str(RUNS / os.environ.get("PYTEST_XDIST_WORKER", "main"))
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    return config_mod.from_dict(raw)


def wait_for(pred: Callable[[], bool], timeout: float = 20.0, poll: float = 0.02, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what or pred}")
