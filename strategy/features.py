"""The strategy's switchable features, for the evaluation's ablations (makerhive backtest --evaluate).

``FEATURES`` maps a feature's name to the dotted config overrides that switch it off;
``PLAIN_AS`` holds the overrides that reduce the full stack to plain Avellaneda–Stoikov.
Listed here only what exists as a switch today; each new feature adds its entry.
"""
from __future__ import annotations

from typing import Any

FEATURES: dict[str, dict[str, Any]] = {
    "microprice": {"quoting.use_microprice": False},  # fair value from the microprice, not the mid
    "inventory_widen": {"risk.widen_mult": 1.0},  # widen the loaded side past risk.widen_at
}

PLAIN_AS: dict[str, Any] = {k: v for off in FEATURES.values() for k, v in off.items()}
