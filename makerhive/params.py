"""``--params FILE``: a config overlay (the best parameters of ``makerhive optimize``)
merged over config.toml, then validated like the config itself.

The overlay's keys are config paths, nested as in config.toml; a key under the
portfolio-wide ``quoting`` or ``risk`` tables applies to every asset, also to those
that set it in their own table (as in a sweep or the evaluation).
"""
from __future__ import annotations

from pathlib import Path

import config as config_mod
from backtest.optimize_space import read_overlay
from backtest.overrides import override


def load_config(path: str | Path, params: str | Path | None = None) -> config_mod.Config:
    """The config at ``path``, with the overlay at ``params`` merged over it; ConfigError naming
    the file when either is bad."""
    cfg = config_mod.load(path)
    if not params:
        return cfg
    try:
        return override(cfg, read_overlay(params))
    except config_mod.ConfigError as e:
        raise config_mod.ConfigError(f"{params}: {e}") from None
