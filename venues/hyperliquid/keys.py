"""Where the private key comes from: a key file or ``HL_PRIVATE_KEY``, never config.toml.

Config files get committed, pasted and printed; the key must not live there. Every
error here is one the user can fix, and no message carries the key or any part of it.
"""
from __future__ import annotations

import logging
import os
import re
import stat
from typing import Mapping

log = logging.getLogger(__name__)

ENV_VAR = "HL_PRIVATE_KEY"
_EXPECTED = "32 bytes of hex (64 hex digits, optional 0x prefix)"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # the curve order
_KEY_RE = re.compile(r"(?:0x)?[0-9a-f]{64}", re.IGNORECASE)


class SigningKeyError(Exception):
    """A key problem the user can fix; the message never contains the key."""


def load_private_key(key_file: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The signing key as ``"0x"`` + 64 lowercase hex digits.

    From ``key_file`` when given (the file holds the hex key; surrounding whitespace is
    fine), else from ``HL_PRIVATE_KEY`` in ``environ`` (default: the process environment).
    """
    if key_file:
        return _normalise(_read_key_file(key_file), f"key file {_shown(key_file)}")
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "")
    if not value.strip():
        raise SigningKeyError(f"no private key: set {ENV_VAR} in the environment or give a key file")
    return _normalise(value, ENV_VAR)


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of the key (with or without 0x, any case) replaced
    by ``<redacted>``; for callers that format errors which might echo a request."""
    body = secret.strip()
    body = body[2:] if body[:2].lower() == "0x" else body
    if not body:
        return text
    return re.sub(r"(?:0x)?" + re.escape(body), "<redacted>", text, flags=re.IGNORECASE)


def _read_key_file(path: str) -> str:
    shown = _shown(path)
    try:
        with open(path) as f:
            mode = os.fstat(f.fileno()).st_mode
            text = f.read()
    except OSError as e:
        raise SigningKeyError(f"cannot read key file {shown}: {e.strerror or type(e).__name__}") from None
    except UnicodeDecodeError:
        raise SigningKeyError(f"key file {shown} is not text; it must hold {_EXPECTED}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file %s is accessible by group/others (mode %03o); chmod 600 it", shown,
                    stat.S_IMODE(mode))
    return text


def _shown(path: str) -> str:
    # someone passing the key itself where a path belongs must not see it echoed back
    return "<a path that looks like a private key>" if _KEY_RE.fullmatch(path.strip()) else path


def _normalise(text: str, source: str) -> str:
    body = text.strip()
    body = body[2:] if body[:2].lower() == "0x" else body
    if len(body) != 64 or not all(c in "0123456789abcdefABCDEF" for c in body):
        raise SigningKeyError(f"the private key in {source} is malformed: expected {_EXPECTED}")
    if not 0 < int(body, 16) < _SECP256K1_N:
        raise SigningKeyError(f"the private key in {source} is out of range for secp256k1")
    return "0x" + body.lower()
