"""Signing cost of Hyperliquid L1 actions: our ``Signer.sign`` against the official SDK.

Every quote update is a signed action, so signing is on the hot path. The action is
the venue's usual one: a batch of six ALO orders with cloids (three levels a side,
BTC-like prices and sizes), with an ``expiresAfter``; also a single cancel. Each
sample signs with a fresh nonce, one action at a time (the timer adds ~0.05 µs).
``us_per_action`` is the median for the six-order batch, target ≤ 100 µs; also its
p99, the single cancel (``us_per_cancel``), and the SDK's ``sign_l1_action`` on the
same batch (eth_account's EIP-712 path) with the ``speedup``. The garbage collector
stays on, as in the live process.
"""
from __future__ import annotations

import statistics
import time

from eth_account import Account
from hyperliquid.utils.signing import sign_l1_action as sdk_sign_l1_action

from venues.hyperliquid import actions
from venues.hyperliquid.signing import Signer

TARGET_US = 100.0
KEY = "0x" + "4d" * 32  # a throwaway key, never funded
NONCE0 = 1_751_427_259_657


def six_order_batch() -> dict:
    """Three bids and three asks around 106,225, post-only, each with a cloid."""
    wires = []
    for i in range(3):
        wires.append(actions.order_wire(0, True, f"{106217 - 6 * i}", f"0.{(1 + i) * 137:05d}",
                                        cloid=f"0x{0xB1D0 + i:032x}"))
        wires.append(actions.order_wire(0, False, f"{106233 + 6 * i}", f"0.{(2 + i) * 113:05d}",
                                        cloid=f"0x{0xA5C0 + i:032x}"))
    return actions.order_action(wires)


def _times_us(sign, action: dict, n: int) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    for i in range(n):
        nonce = NONCE0 + i
        t0 = clock()
        sign(action, nonce, nonce + 5_000)
        out.append((clock() - t0) / 1e3)
    return out


def _p99(xs: list[float]) -> float:
    return sorted(xs)[int(0.99 * (len(xs) - 1))]


def run(quick: bool = False) -> dict:
    n = 500 if quick else 5_000
    n_sdk = 50 if quick else 500
    signer, wallet = Signer(KEY), Account.from_key(KEY)
    batch, cancel = six_order_batch(), actions.cancel_action([(0, 77738308)])

    def ours(action: dict, nonce: int, expires: int) -> dict:
        return signer.sign(action, nonce, None, expires, True)

    def sdk(action: dict, nonce: int, expires: int) -> dict:
        return sdk_sign_l1_action(wallet, action, None, nonce, expires, True)

    _times_us(ours, batch, 500), _times_us(sdk, batch, 20)  # warm up
    batch_us = _times_us(ours, batch, n)
    cancel_us = _times_us(ours, cancel, n)
    sdk_us = statistics.median(_times_us(sdk, batch, n_sdk))
    med = statistics.median(batch_us)
    return {
        "us_per_action": round(med, 2),
        "us_per_action_p99": round(_p99(batch_us), 2),
        "us_per_cancel": round(statistics.median(cancel_us), 2),
        "sdk_us_per_action": round(sdk_us, 1),
        "speedup": round(sdk_us / med, 1),
        "target_us": TARGET_US,
        "meets_target": med <= TARGET_US,
        "samples": n,
        "sdk_samples": n_sdk,
    }
