"""Dotted overrides of a loaded Config (``quoting.use_microprice = False``), validated.

The evaluation switches features off and forces markets by path, on a Config already
loaded, so it needs what the sweep does on raw TOML: a key under the portfolio-wide
``quoting`` or ``risk`` tables applies to every asset too (each asset holds its
effective copy). A path that names nothing is an error naming it, never a silent no-op;
the result is validated like a loaded config.
"""
from __future__ import annotations

from typing import Any

import msgspec

import config as config_mod
from config import Config, ConfigError

PER_ASSET = ("quoting", "risk")


def _set(doc: dict, path: str, value: Any) -> None:
    node: Any = doc
    parts = path.split(".")
    for i, p in enumerate(parts):
        if not isinstance(node, dict) or p not in node:
            raise ConfigError(f"{path}: no such config key ({'.'.join(parts[:i + 1])} does not exist)")
        if i == len(parts) - 1:
            node[p] = value
        else:
            node = node[p]


def override(cfg: Config, overrides: dict[str, Any]) -> Config:
    """``cfg`` with each dotted path set to its value; ConfigError for an unknown path or a bad value."""
    if not overrides:
        return cfg
    doc = msgspec.to_builtins(cfg)
    for path, value in overrides.items():
        _set(doc, path, value)
        head, _, rest = path.partition(".")
        if head in PER_ASSET and rest:
            for name in doc["assets"]:
                _set(doc, f"assets.{name}.{path}", value)
    try:
        out = msgspec.convert(doc, Config, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigError(str(e)) from None
    config_mod.validate(out)  # the loader's cross-field rules, on the overridden config
    return out
