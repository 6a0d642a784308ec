"""Reading ``config.toml``: per-asset overrides merged over the portfolio defaults, secrets
refused, type errors explained field by field, then validated."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from config.schema import AssetConfig, Config, ConfigError
from config.validation import reject, validate


def _merge(defaults: dict, override: Any, path: str) -> dict:
    if override is None:
        return dict(defaults)
    if not isinstance(override, dict):
        reject(path, override, "must be a table")
    return {**defaults, **override}


def from_dict(raw: dict) -> Config:
    """Build and validate a Config from parsed TOML."""
    if not isinstance(raw, dict):
        raise ConfigError("config must be a TOML table")
    allowed_top = {
        "run",
        "portfolio",
        "supervision",
        "quoting",
        "risk",
        "sim",
        "assets",
        "dead_mans_switch",
        "remote",
        "venue",
        "allocation",
        "alerts",
        "compute",
        "reoptimize",
    }
    _refuse_secrets(raw, "")
    for key in raw:
        if key not in allowed_top:
            reject(key, raw[key], f"unknown section; allowed: {sorted(allowed_top)}")
    defaults_q = raw.get("quoting", {}) or {}
    defaults_r = raw.get("risk", {}) or {}
    assets_raw = raw.get("assets", {}) or {}
    if not isinstance(assets_raw, dict):
        reject("assets", assets_raw, "must be a table of [assets.NAME] sections")
    assets: dict[str, Any] = {}
    for name, a in assets_raw.items():
        if not isinstance(a, dict):
            reject(f"assets.{name}", a, "must be a table")
        extra = set(a) - {"market", "quoting", "risk", "compound"}
        if extra:
            reject(
                f"assets.{name}.{sorted(extra)[0]}",
                a[sorted(extra)[0]],
                "unknown key; allowed: ['compound', 'market', 'quoting', 'risk']",
            )
        assets[name] = {
            "name": name,
            "market": a.get("market", {}),
            "quoting": _merge(defaults_q, a.get("quoting"), f"assets.{name}.quoting"),
            "risk": _merge(defaults_r, a.get("risk"), f"assets.{name}.risk"),
        }
        if "compound" in a:
            assets[name]["compound"] = a["compound"]
    doc = {
        "run": raw.get("run", {}),
        "dead_mans_switch": raw.get("dead_mans_switch", {}),
        "remote": raw.get("remote", {}),
        "venue": raw.get("venue", {}),
        "portfolio": raw.get("portfolio", {}),
        "supervision": raw.get("supervision", {}),
        "quoting": defaults_q,
        "risk": defaults_r,
        "sim": raw.get("sim", {}),
        "assets": assets,
        "allocation": raw.get("allocation", {}),
        "alerts": raw.get("alerts", {}),
        "compute": raw.get("compute", {}),
        "reoptimize": raw.get("reoptimize", {}),
    }
    try:
        cfg = msgspec.convert(doc, Config, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigError(_explain(e, doc)) from None
    validate(cfg)
    return cfg


SECRET_WORDS = ("private_key", "privatekey", "secret", "mnemonic", "seed_phrase")
# 64 hex digits (optionally 0x-prefixed) that are not part of a longer hex run: a
# secp256k1 private key, wherever it was pasted (a value, a path, inside a URL)
KEY_LIKE = re.compile(r"(?<![0-9a-fA-F])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9a-fA-F])")
REDACTED = "<redacted: looks like a private key>"
_HOW = (
    "private keys never go in the config file; set HL_PRIVATE_KEY in the environment or point "
    "venue.hyperliquid.key_file (or --key-file) at a file that holds it"
)


def looks_like_key(text: str) -> bool:
    return KEY_LIKE.search(text) is not None


def redact(text: str) -> str:
    """``text`` with anything that looks like a private key replaced (for printing)."""
    return KEY_LIKE.sub(REDACTED, text)


def _refuse_secrets(raw: Any, path: str) -> None:
    """A key in config.toml is a leak waiting to happen (it gets committed, copied,
    pasted): refuse any entry named like one or any value that looks like one, in any
    field, without ever echoing it."""
    if isinstance(raw, (list, tuple)):
        for i, item in enumerate(raw):
            _refuse_secrets(item, f"{path}[{i}]")
        return
    if isinstance(raw, str):
        if looks_like_key(raw):
            raise ConfigError(f"{path}: the value looks like a private key (64 hex digits) and was refused; {_HOW}")
        return
    if not isinstance(raw, dict):
        return
    for key, value in raw.items():
        if looks_like_key(str(key)):
            where = f"{path}.{redact(str(key))}" if path else redact(str(key))
            raise ConfigError(f"{where}: a table name looks like a private key and was refused; {_HOW}")
        where = f"{path}.{key}" if path else str(key)
        if any(w in str(key).lower().replace("-", "_") for w in SECRET_WORDS):
            raise ConfigError(f"{where}: {_HOW}")
        _refuse_secrets(value, where)


def _explain(e: msgspec.ValidationError, doc: dict) -> str:
    """Turn msgspec's '... - at `$.a.b`' into 'a.b = value: ...'."""
    msg = str(e)
    if " - at `$." in msg:
        text, _, where = msg.partition(" - at `$.")
        path = where.rstrip("`")
        value: Any = doc
        for part in path.replace("[", ".").replace("]", "").split("."):
            try:
                value = value[int(part)] if isinstance(value, (list, tuple)) else value[part]
            except (KeyError, IndexError, ValueError, TypeError):
                value = "<missing>"
                break
        allowed = _allowed_values(path)
        if allowed:
            text = f"{text}; allowed: {allowed}"
        if text.startswith("Object contains unknown field"):
            field = text.split("`")[1] if "`" in text else "?"
            return f"{path}.{field}: unknown key (check the spelling; see config.toml for the allowed keys)"
        return f"{path} = {value!r}: {text}"
    return msg


def _allowed_values(path: str) -> list[Any] | None:
    """The Literal choices of the field at ``path`` (e.g. run.venue -> ['sim'])."""
    import typing

    t: Any = Config
    for part in path.split("."):
        if part.isdigit():
            if typing.get_origin(t) is tuple:  # an item of a list of tables (episodes)
                t = typing.get_args(t)[0]
            continue
        if t is AssetConfig or (isinstance(t, type) and issubclass(t, msgspec.Struct)):
            hints = typing.get_type_hints(t, include_extras=False)
            if part not in hints:
                if t is Config and part == "assets":
                    t = dict
                    continue
                return None
            t = hints[part]
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        else:
            return None
    if typing.get_origin(t) is Literal:
        return list(typing.get_args(t))
    return None


def load(path: str | Path) -> Config:
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return from_dict(raw)


def to_builtins(cfg: Config) -> dict:
    return msgspec.to_builtins(cfg)
