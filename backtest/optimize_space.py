"""What ``makerhive optimize`` may change, and the overlay file it writes.

A search space is a list of dotted config paths with their ranges (``Param``): the
built-in ``DEFAULT_SPACE`` over the quoting keys, or a TOML/JSON file of the same
shape::

    ["quoting.glft.gamma"]
    low = 0.005
    high = 0.5
    log = true

    ["quoting.levels"]
    choices = [1, 2, 3]

The best parameters leave as an *overlay*: a TOML file of just those keys, nested as
in config.toml, which ``run --params FILE`` and ``check-config --params FILE`` merge
over the config (``makerhive/params.py``). ``bounded_step`` keeps a live change small.
"""
from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import tomli_w

from config import ConfigError


@dataclass(frozen=True)
class Param:
    path: str
    low: float = math.nan
    high: float = math.nan
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial proposes for this key."""
        if self.choices:
            return trial.suggest_categorical(self.path, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.path, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.path, self.low, self.high, log=self.log)


# The quoting keys that decide where and how much we quote; ranges keep every
# combination valid for the default config (ladder within the position limits).
DEFAULT_SPACE: tuple[Param, ...] = (
    Param("quoting.glft.gamma", 0.005, 0.5, log=True),
    Param("quoting.glft.skew_adj", 0.05, 1.5),
    Param("quoting.gamma", 0.01, 0.3, log=True),
    Param("quoting.min_spread_bp", 0.5, 6.0),
    Param("quoting.level_spacing_bp", 0.0, 5.0),
    Param("quoting.order_size_usd", 50.0, 300.0),
    Param("quoting.refresh_tolerance_bp", 0.1, 3.0),
    Param("quoting.queue.keep_tolerance_bp", 0.5, 4.0),
    Param("quoting.breakers.widen_move_pct", 0.3, 3.0),
    Param("quoting.breakers.widen_mult", 1.5, 5.0),
    Param("quoting.sweep_guard.depth_bp", 0.5, 8.0, log=True),
    Param("quoting.sweep_guard.hold_s", 0.25, 5.0, log=True),
)


def _param(path: str, spec: Any) -> Param:
    if not isinstance(spec, dict):
        raise ConfigError(f"search space: {path} must be a table with low/high or choices")
    unknown = set(spec) - {"low", "high", "log", "int", "choices"}
    if unknown:
        raise ConfigError(f"search space: {path}.{sorted(unknown)[0]}: unknown key (low, high, log, int, choices)")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"search space: {path}.choices must be a non-empty list")
        return Param(path, choices=tuple(choices))
    try:
        low, high = float(spec["low"]), float(spec["high"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"search space: {path} needs numeric low and high") from None
    log = bool(spec.get("log", False))
    if not (math.isfinite(low) and math.isfinite(high) and low < high) or (log and low <= 0):
        raise ConfigError(f"search space: {path}: need finite low < high (and low > 0 with log)")
    return Param(path, low, high, log=log, integer=bool(spec.get("int", False)))


def load_space(path: str | Path | None) -> tuple[Param, ...]:
    """The space in a TOML or JSON file (by suffix), or the built-in one for None."""
    if not path:
        return DEFAULT_SPACE
    p = Path(path)
    try:
        text = p.read_text()
        doc = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such search space file") from None
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {e}") from None
    if not isinstance(doc, dict) or not doc:
        raise ConfigError(f"{p}: a search space is a table of config paths")
    return tuple(_param(k, v) for k, v in doc.items())


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"quoting.glft.gamma": 0.1}`` -> ``{"quoting": {"glft": {"gamma": 0.1}}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *head, last = key.split(".")
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The inverse of ``nest``: every scalar (or list) under its dotted path."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def write_overlay(path: str | Path, params: dict[str, Any], comments: Iterable[str] = ()) -> Path:
    """The parameters as a config overlay (TOML), with ``comments`` on top."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    head = "".join(f"# {c}\n" for c in comments)
    p.write_text(head + tomli_w.dumps(nest(params)))
    return p


def read_overlay(path: str | Path) -> dict[str, Any]:
    """An overlay file (TOML, or JSON by suffix) as dotted paths."""
    p = Path(path)
    try:
        text = p.read_text()
        doc = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such params file") from None
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{p}: not a valid params file: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{p}: a params file is a table of config keys")
    return flatten(doc)


def bounded_step(current: dict[str, Any], proposed: dict[str, Any], max_step: float) -> dict[str, Any]:
    """``proposed`` with each number moved at most ``max_step`` x |current| from ``current``
    (a key at zero may move by ``max_step`` in absolute terms); other values as proposed."""
    out: dict[str, Any] = {}
    for key, new in proposed.items():
        old = current.get(key)
        if isinstance(new, bool) or not isinstance(new, (int, float)) or not isinstance(old, (int, float)):
            out[key] = new
            continue
        if not math.isfinite(new):
            out[key] = old
            continue
        room = max_step * abs(old) if old else max_step
        moved = min(max(new, old - room), old + room)
        out[key] = round(moved) if isinstance(old, int) and isinstance(new, int) else float(moved)
    return out


def current_values(cfg: Any, paths: Iterable[str]) -> dict[str, Any]:
    """The config's value at each dotted path (portfolio-wide keys as the config holds them)."""
    import msgspec

    doc = msgspec.to_builtins(cfg)
    out = {}
    for path in paths:
        node: Any = doc
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"{path}: no such config key")
            node = node[part]
        out[path] = node
    return out
