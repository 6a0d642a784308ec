"""Signing Hyperliquid L1 actions fast, with the exact bytes the official SDK signs.

Every order, cancel and modify is signed, so signing sits on the quoting hot path. The
SDK builds an EIP-712 typed-data dict and runs it through eth_account each time (about
a millisecond). Here the fixed parts of the EIP-712 digest (domain separator, type
hash, the hash of the network's ``source`` string) are computed once at import, the
per-action part is three keccaks, and the digest is signed by libsecp256k1 (coincurve).

The recipe (SDK ``hyperliquid/utils/signing.py``):

1. ``connectionId = keccak(msgpack(action) + nonce + vault + expiresAfter)``
2. phantom agent ``Agent{source: "a" (mainnet) | "b" (testnet), connectionId}``
3. EIP-712 digest ``keccak(0x1901 + domainSeparator + hashStruct(agent))`` with domain
   ``Exchange / 1 / chainId 1337 / verifyingContract 0x0``
4. a recoverable secp256k1 signature: ``{"r", "s", "v": 27 + recid}``.
"""
from __future__ import annotations

from typing import Any

import msgpack
from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak


def _keccak(data: bytes) -> bytes:
    return keccak.new(data=data, digest_bits=256).digest()


# --- the EIP-712 constants (see module docstring) ---------------------------------------
_DOMAIN_TYPEHASH = _keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
DOMAIN_SEPARATOR = _keccak(
    _DOMAIN_TYPEHASH
    + _keccak(b"Exchange")                 # string fields are hashed
    + _keccak(b"1")
    + (1337).to_bytes(32, "big")           # uint256 chainId
    + bytes(32)                            # address 0x0, left-padded to 32 bytes
)
AGENT_TYPEHASH = _keccak(b"Agent(string source,bytes32 connectionId)")
# hashStruct(agent) = keccak(typehash + keccak(source) + connectionId): all but the last
# 32 bytes are fixed per network
_AGENT_PREFIX = {
    True: AGENT_TYPEHASH + _keccak(b"a"),   # mainnet
    False: AGENT_TYPEHASH + _keccak(b"b"),  # testnet (any non-mainnet URL, like the SDK)
}
_DIGEST_PREFIX = b"\x19\x01" + DOMAIN_SEPARATOR


def action_hash(action: Any, vault_address: str | None, nonce: int, expires_after: int | None) -> bytes:
    """The phantom agent's ``connectionId``; byte for byte the SDK's ``action_hash``.

    msgpack keeps dict insertion order, so the action's key order is part of what is signed.
    """
    data = msgpack.packb(action) + nonce.to_bytes(8, "big")
    if vault_address is None:
        data += b"\x00"
    else:
        data += b"\x01" + _address_bytes(vault_address)
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return _keccak(data)


def l1_digest(connection_id: bytes, is_mainnet: bool) -> bytes:
    """The 32-byte EIP-712 digest of ``Agent{source, connectionId}`` that is actually signed."""
    return _keccak(_DIGEST_PREFIX + _keccak(_AGENT_PREFIX[is_mainnet] + connection_id))


def sign_l1_action(private_key_hex: str, action: dict, nonce: int, vault_address: str | None,
                   expires_after: int | None, is_mainnet: bool) -> dict:
    """``{"r", "s", "v"}`` equal to the SDK's ``sign_l1_action`` for the same inputs.

    Parses the key on every call; the hot path keeps a ``Signer`` instead.
    """
    return Signer(private_key_hex).sign(action, nonce, vault_address, expires_after, is_mainnet)


def recover_l1_signer(action: dict, nonce: int, vault_address: str | None, expires_after: int | None,
                      is_mainnet: bool, signature: dict) -> str:
    """The lowercase address whose key produced ``signature`` over these inputs.

    This is what the exchange does: a wrong nonce, vault, network or key order does not
    fail, it recovers some other address.
    """
    v = int(signature["v"])
    if v not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {v}")
    r, s = int(signature["r"], 16), int(signature["s"], 16)
    sig65 = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27])
    digest = l1_digest(action_hash(action, vault_address, nonce, expires_after), is_mainnet)
    return _address_of(PublicKey.from_signature_and_message(sig65, digest, hasher=None))


def address_from_key(private_key_hex: str) -> str:
    """The lowercase 0x address of a private key."""
    return _address_of(_parse_key(private_key_hex).public_key)


class Signer:
    """One key, parsed once, ready to sign L1 actions.

    The key lives only in a private coincurve object; ``repr``/``str`` show the address,
    so a Signer can appear in logs and tracebacks safely.
    """

    __slots__ = ("_key", "address")

    def __init__(self, private_key_hex: str) -> None:
        self._key = _parse_key(private_key_hex)
        self.address: str = _address_of(self._key.public_key)

    def sign(self, action: dict, nonce: int, vault_address: str | None = None,
             expires_after: int | None = None, is_mainnet: bool = False) -> dict:
        """``{"r": "0x..", "s": "0x..", "v": 27|28}`` as the SDK's ``sign_l1_action`` returns it."""
        digest = l1_digest(action_hash(action, vault_address, nonce, expires_after), is_mainnet)
        # libsecp256k1 signs deterministically (RFC 6979) and always returns low-s, as
        # eth_account does, so the same inputs give the SDK's exact signature
        sig = self._key.sign_recoverable(digest, hasher=None)
        # hex(int) drops leading zeros like the SDK's eth_utils.to_hex
        return {"r": hex(int.from_bytes(sig[:32], "big")), "s": hex(int.from_bytes(sig[32:64], "big")),
                "v": 27 + sig[64]}

    def __repr__(self) -> str:
        return f"Signer(address={self.address})"

    __str__ = __repr__

    def __reduce__(self):  # refuse to pickle: it would write the key out
        raise TypeError("a Signer holds a private key and is not picklable")


class NonceSource:
    """Strictly increasing nonces for one signer, fast-forwarded to the current ms time.

    Used on one thread (the venue's trio thread), so no lock. The exchange keeps the 100
    highest nonces per signer and refuses anything not above the smallest of them, so
    a restart that starts again from wall time never reuses a nonce.
    """

    def __init__(self) -> None:
        self.last = 0

    def next(self, now_ms: int) -> int:
        # a clock that stands still or steps back still yields a fresh nonce
        self.last = max(now_ms, self.last + 1)
        return self.last


# --- helpers ----------------------------------------------------------------------------
def _strip_0x(text: str) -> str:
    return text[2:] if text[:2] in ("0x", "0X") else text


def _address_bytes(address: str) -> bytes:
    return bytes.fromhex(_strip_0x(address))


def _parse_key(private_key_hex: str) -> PrivateKey:
    try:
        raw = bytes.fromhex(_strip_0x(private_key_hex.strip()))
    except ValueError:
        raise ValueError("private key is not hex") from None  # never echo the key
    if len(raw) != 32:
        raise ValueError("private key must be 32 bytes")
    return PrivateKey(raw)


def _address_of(public: PublicKey) -> str:
    # Ethereum address: last 20 bytes of keccak(uncompressed pubkey without the 0x04 tag)
    return "0x" + _keccak(public.format(compressed=False)[1:])[-20:].hex()
