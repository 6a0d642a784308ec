"""The strategy stack's features by name, and the config overrides that switch each off.

``makerhive backtest --evaluate`` runs plain A–S (``PLAIN_AS``), the full stack
(``FULL``) and the full stack with each feature off in turn (``FEATURES[name]``).
Overrides are dotted config paths under ``quoting`` (portfolio-wide and per asset).
"""
from __future__ import annotations

from typing import Any

FEATURES: dict[str, dict[str, Any]] = {
    "flow_fair": {"quoting.fair_value": "microprice"},
    "microprice": {"quoting.fair_value": "mid"},
    "glft_calibration": {"quoting.glft.calibrate": False},
    "fee_aware": {"quoting.fee_aware": False},
    "queue_keep": {"quoting.queue.enabled": False},
    "alo_safety": {"quoting.alo_safety.enabled": False},
    "sweep_guard": {"quoting.sweep_guard.enabled": False},
    "pause_exit": {"quoting.pause_exit.enabled": False},
    "held_exit": {"quoting.tape_edge.unwind_free": False},
    "inventory": {"quoting.glft.skew_adj": 1e-9, "quoting.gamma": 1e-9},
    "regime": {"quoting.regime.enabled": False},
    "toxicity": {"quoting.toxicity.enabled": False},
    "trend": {"quoting.trend.enabled": False},
    "funding_skew": {"quoting.funding_skew.enabled": False},
    "breakers": {"quoting.breakers.enabled": False},
    "budget_governor": {"quoting.budget_governor.enabled": False},
    "tape_edge": {"quoting.tape_edge.enabled": False},
    "inventory_risk": {"quoting.inventory_risk_pct": 0.0},
    "position_cap": {"quoting.position_cap_lots": 0.0},
    "auto_tuner": {"quoting.auto_tuner.enabled": False},
}

# Every feature of the stack on (a few are off by default until they earn their place).
FULL: dict[str, Any] = {
    "quoting.model": "glft",
    "quoting.fair_value": "flow",
    "quoting.glft.calibrate": True,
    "quoting.fee_aware": True,
    "quoting.queue.enabled": True,
    "quoting.alo_safety.enabled": True,
    "quoting.sweep_guard.enabled": True,
    "quoting.pause_exit.enabled": True,
    "quoting.tape_edge.unwind_free": True,
    "quoting.regime.enabled": True,
    "quoting.toxicity.enabled": True,
    "quoting.trend.enabled": True,
    "quoting.funding_skew.enabled": True,
    "quoting.breakers.enabled": True,
    "quoting.budget_governor.enabled": True,
    "quoting.tape_edge.enabled": True,
    "quoting.inventory_risk_pct": 0.0005,
    "quoting.position_cap_lots": 6.0,
    "quoting.auto_tuner.enabled": True,
}

# Plain Avellaneda–Stoikov: the model of the original quoter with every feature off.
PLAIN_AS: dict[str, Any] = {
    "quoting.model": "as",
    "quoting.fair_value": "mid",
    "quoting.glft.calibrate": False,
    **{k: v for over in FEATURES.values() for k, v in over.items()
       if k not in ("quoting.fair_value", "quoting.glft.skew_adj", "quoting.gamma")},
}


def apply(raw: dict, overrides: dict[str, Any]) -> dict:
    """A copy of the raw (parsed TOML) config with dotted ``overrides`` set, portfolio-wide and
    in each asset's own quoting table that exists (so a per-asset override cannot undo it)."""
    import copy

    out = copy.deepcopy(raw)
    targets = [out] + [a for a in (out.get("assets") or {}).values() if isinstance(a, dict) and "quoting" in a]
    for path, value in overrides.items():
        parts = path.split(".")
        for i, root in enumerate(targets):
            if i and parts[0] != "quoting":
                continue
            node = root
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
    return out

# The quoter as it was before the stack (A–S on the microprice): what recorded golden
# results and tests of other parts (allocation, sim) pin, so they keep testing those parts.
# Its ladder too: three levels of 1, 2 and 4 lots, the default until 2026-12-07.
LEGACY: dict[str, Any] = {**PLAIN_AS, "quoting.fair_value": "auto", "quoting.levels": 3,
                          "quoting.level_size_mult": [1.0, 2.0, 4.0]}


def load_legacy(path: Any) -> Any:
    """The config at ``path`` with the stack switched off (``LEGACY``)."""
    import tomllib
    from pathlib import Path

    import config

    return config.from_dict(apply(tomllib.loads(Path(path).read_text()), LEGACY))
