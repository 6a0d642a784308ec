"""Fault injection inside the simulated matching engine (``SimExchange.faults``).

What a venue can do wrong *at the venue*, for tests and chaos runs: refuse orders,
split fills, fail requests, throttle. Each fault is armed per asset and consumed by
the engine; arming again replaces what was armed. Faults on the wire (a dropped
feed, stalls, delayed acks, lost/duplicated/reordered fill messages) belong to the
venue service (``venues.sim.wire_faults``), not here.

- ``reject_next(asset, n, reason)``: the next ``n`` orders placed for the asset are
  rejected with ``reason`` (an ``OrderReject`` each), whatever they are. The batch
  still counts as a request (address budget, IP weight).
- ``partial_fills(asset, fraction)``: until cleared (``None``), every fill of the
  asset is split into pieces of at most ``fraction`` of the order's original size
  (rounded down to the lot, at least one lot), each its own ``Fill`` with its own tid.
- ``fail_requests(asset, n)``: the next ``n`` place/cancel/cancel-all/query calls
  (``open_orders``, ``position``, ``fills``) for the asset raise ``SimRequestFailed``
  and change nothing (no state, no budget, no IP weight).
- ``throttle(asset, n)``: the next ``n`` place/cancel batches for the asset are
  answered with the address-budget error text (an ``OrderReject`` per order or cloid)
  and have no effect; like a real throttled answer they cost IP weight only.
- ``refuse_schedule_cancel(n, reason)``: the next ``n`` scheduleCancel requests (the
  account's dead-man's switch) are refused with ``reason`` and change nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class SimRequestFailed(Exception):
    """A request to the simulated venue failed (injected fault): nothing changed."""


@dataclass(slots=True)
class _AssetFaults:
    reject_n: int = 0
    reject_reason: str = ""
    fill_fraction: float | None = None
    fail_n: int = 0
    throttle_n: int = 0


def _count(name: str, n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{name}: n must be an integer >= 0, got {n!r}")
    return n


class Faults:
    """The faults armed per asset; the engine consults and consumes them."""

    def __init__(self, assets: Iterable[str]) -> None:
        self._by_asset = {a: _AssetFaults() for a in assets}
        self._dms_refusals = 0  # account-wide: the dead-man's switch is one per account
        self._dms_reason = ""

    def _get(self, asset: str) -> _AssetFaults:
        try:
            return self._by_asset[asset]
        except KeyError:
            raise KeyError(f"unknown asset {asset!r}; the sim trades {list(self._by_asset)}") from None

    # -- arming (tests, chaos runs) ----------------------------------------------------
    def reject_next(self, asset: str, n: int, reason: str) -> None:
        f = self._get(asset)
        f.reject_n = _count("reject_next", n)
        f.reject_reason = str(reason)

    def partial_fills(self, asset: str, fraction: float | None) -> None:
        f = self._get(asset)
        if fraction is not None and not (0 < fraction <= 1):
            raise ValueError(f"partial_fills: fraction must be in (0, 1] or None, got {fraction!r}")
        f.fill_fraction = None if fraction is None else float(fraction)

    def fail_requests(self, asset: str, n: int) -> None:
        self._get(asset).fail_n = _count("fail_requests", n)

    def throttle(self, asset: str, n: int) -> None:
        self._get(asset).throttle_n = _count("throttle", n)

    def refuse_schedule_cancel(self, n: int, reason: str) -> None:
        self._dms_refusals = _count("refuse_schedule_cancel", n)
        self._dms_reason = str(reason)

    def take_schedule_cancel_refusal(self) -> str | None:
        """The refusal for this scheduleCancel, or None."""
        if self._dms_refusals > 0:
            self._dms_refusals -= 1
            return self._dms_reason
        return None

    def clear(self, asset: str | None = None) -> None:
        """Disarm everything (for one asset, or all)."""
        for a in ([asset] if asset is not None else list(self._by_asset)):
            self._get(a)
            self._by_asset[a] = _AssetFaults()

    def armed(self, asset: str) -> dict[str, object]:
        """What is still armed for the asset (for tests and tools)."""
        f = self._get(asset)
        return {"reject_next": f.reject_n, "reject_reason": f.reject_reason, "partial_fills": f.fill_fraction,
                "fail_requests": f.fail_n, "throttle": f.throttle_n}

    # -- consumption (the engine) ----------------------------------------------------
    def take_failure(self, asset: str) -> bool:
        """True if this request must fail (one armed failure used up)."""
        f = self._get(asset)
        if f.fail_n > 0:
            f.fail_n -= 1
            return True
        return False

    def take_throttle(self, asset: str) -> bool:
        f = self._get(asset)
        if f.throttle_n > 0:
            f.throttle_n -= 1
            return True
        return False

    def take_reject(self, asset: str) -> str | None:
        """The reason to reject this order with, or None."""
        f = self._get(asset)
        if f.reject_n > 0:
            f.reject_n -= 1
            return f.reject_reason
        return None

    def fill_fraction(self, asset: str) -> float | None:
        return self._get(asset).fill_fraction
