"""The exact action dicts Hyperliquid signs, and the /exchange envelope around them.

The signature commits to ``msgpack(action)`` and msgpack keeps dict insertion order, so
the key order below is part of the protocol: it must be the order the SDK builds
(``hyperliquid/utils/signing.py`` and ``hyperliquid/exchange.py``). A different order is
not rejected as malformed; it recovers a different signer address.

Prices and sizes arrive as wire strings (``exchange_rules.ticks.to_wire``: plain decimal, no
trailing zeros, like the SDK's ``float_to_wire``); nothing here does number formatting.
"""
from __future__ import annotations

from typing import Any


def order_wire(asset: int, is_buy: bool, px: str, sz: str, *, reduce_only: bool = False, tif: str = "Alo",
               cloid: str | None = None) -> dict[str, Any]:
    """One limit order: keys ``a, b, p, s, r, t`` then ``c`` only when there is a cloid."""
    wire: dict[str, Any] = {"a": asset, "b": is_buy, "p": px, "s": sz, "r": reduce_only,
                            "t": {"limit": {"tif": tif}}}
    if cloid is not None:
        wire["c"] = cloid
    return wire


def order_action(wires: list[dict[str, Any]], grouping: str = "na") -> dict[str, Any]:
    """Place a batch of orders (no builder fee)."""
    return {"type": "order", "orders": wires, "grouping": grouping}


def cancel_action(cancels: list[tuple[int, int]]) -> dict[str, Any]:
    """Cancel by exchange order id: ``(asset, oid)`` pairs."""
    return {"type": "cancel", "cancels": [{"a": asset, "o": oid} for asset, oid in cancels]}


def cancel_by_cloid_action(cancels: list[tuple[int, str]]) -> dict[str, Any]:
    """Cancel by client order id: ``(asset, cloid)`` pairs. Note the longer key names."""
    return {"type": "cancelByCloid", "cancels": [{"asset": asset, "cloid": cloid} for asset, cloid in cancels]}


def batch_modify_action(modifies: list[tuple[int | str, dict[str, Any]]]) -> dict[str, Any]:
    """Replace orders in place: ``(oid or cloid, new order wire)`` pairs."""
    return {"type": "batchModify", "modifies": [{"oid": oid, "order": wire} for oid, wire in modifies]}


def schedule_cancel_action(time_ms: int | None) -> dict[str, Any]:
    """The dead-man's switch: cancel everything at ``time_ms``; ``None`` clears it."""
    if time_ms is None:
        return {"type": "scheduleCancel"}
    return {"type": "scheduleCancel", "time": time_ms}


def update_leverage_action(asset: int, is_cross: bool, leverage: int) -> dict[str, Any]:
    """The leverage (and cross or isolated margin) of one asset, set before trading it."""
    return {"type": "updateLeverage", "asset": asset, "isCross": is_cross, "leverage": leverage}


def noop_action() -> dict[str, Any]:
    """Burns a nonce: lands before an in-flight action with a lower nonce to kill it."""
    return {"type": "noop"}


def exchange_body(action: dict[str, Any], nonce: int, signature: dict[str, Any], vault_address: str | None = None,
                  expires_after: int | None = None) -> dict[str, Any]:
    """The JSON body of ``POST /exchange``; like the SDK, both optional keys are always sent."""
    return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": vault_address,
            "expiresAfter": expires_after}
