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
            import difflib

            close = difflib.get_close_matches(str(key), sorted(allowed_top), n=1, cutoff=0.6)
            hint = f"did you mean [{close[0]}]?" if close else f"allowed: {sorted(allowed_top)}"
            raise ConfigError(f"[{key}]: unknown section; {hint}")
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
            if "[...]" in path:
                path = _name_keys(doc, path, field)
            return f"{path}.{field}: unknown key{_nearest(path, field)}"
        return f"{path} = {value!r}: {text}"
    return msg


def _name_keys(doc: dict, path: str, field: str) -> str:
    """msgspec writes a table key as ``[...]`` (``assets[...].quoting``): name the one
    whose table holds the unknown ``field`` (``assets.BTC.quoting``), the section a
    user wrote it in when it came from the shared defaults (``quoting``)."""
    head, _, tail = path.partition("[...]")
    if head == "assets" and tail.startswith(".") and tail[1:] in ("quoting", "risk") and field in doc.get(tail[1:], {}):
        return tail[1:]  # the shared [quoting]/[risk] merged into every asset
    table: Any = doc
    for part in head.split("."):
        table = table.get(part, {}) if isinstance(table, dict) else {}
    for key, value in table.items() if isinstance(table, dict) else ():
        for part in tail.lstrip(".").split(".") if tail else ():
            value = value.get(part, {}) if isinstance(value, dict) else {}
        if isinstance(value, dict) and field in value:
            return f"{head}.{key}{tail}"
    return path


def _nearest(path: str, field: str) -> str:
    """' (did you mean `gamma`?)' for the closest allowed key, else where to look."""
    import difflib
    import typing

    t = _type_at(path)
    keys = list(typing.get_type_hints(t)) if isinstance(t, type) and issubclass(t, msgspec.Struct) else []
    close = difflib.get_close_matches(field, keys, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; allowed: {sorted(keys)}" if keys else " (check the spelling; see config.toml for the allowed keys)"


def _type_at(path: str) -> Any:
    """The schema type of the table at a dotted ``path`` (an asset's name or ``[...]`` is any key)."""
    import typing

    t: Any = Config
    for part in path.replace("[...]", ".*").split("."):
        if not part or part.isdigit():
            if typing.get_origin(t) is tuple:
                t = typing.get_args(t)[0]
            continue
        if isinstance(t, type) and issubclass(t, msgspec.Struct):
            t = typing.get_type_hints(t).get(part)
            if t is None:
                return None
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        else:
            return None
    return t


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
