"""Hyperliquid's REST API (``POST /info`` and ``POST /exchange``) over httpx under trio.

- **Weight first.** Every request is charged to the client-side IP-weight window before
  it leaves; when the window is full the request waits (info) rather than earn a 429.
  A *routine* read (the periodic fill sync, the open-order audit) does not go at all
  when it would leave less than ``ROUTINE_RESERVE`` of the minute's weight: that rest is
  kept for cancels and the reads a recovery needs, which otherwise waited up to a minute
  behind routine reads while restarts came often.
- **Timeouts everywhere**, and bounded retries for ``/info`` (reads are safe to repeat).
- **An action is never blindly retried** once it may have reached the exchange: its
  outcome is then *unknown* (``ActionOutcomeUnknown``) and the caller reconciles. Only a
  connection that was never made is retried (the same signed body: if it did land, the
  exchange refuses the reused nonce, so a retry can never trade twice).
"""
from __future__ import annotations

import logging
from typing import Any

import httpx
import trio

from venues.hyperliquid import wire
from venues.hyperliquid.budget import IpWeight, exchange_weight, info_weight
from venues.runtime import VenueRequestFailed

log = logging.getLogger(__name__)

INFO_ATTEMPTS = 3
ROUTINE_RESERVE = 240  # of the minute's 1,200 IP weight, kept from routine reads: twelve 20-weight reads


class Throttled(VenueRequestFailed):
    """HTTP 429: the exchange says we spent our IP weight."""


class WeightReserved(VenueRequestFailed):
    """A routine read not sent: it would have eaten into the weight kept for recovery."""

    quiet = True  # expected under load: not worth a warning each time


class ActionOutcomeUnknown(VenueRequestFailed):
    """The action may or may not have reached the exchange (timeout, broken connection)."""


class HyperliquidRest:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0, ip: IpWeight | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.ip = ip or IpWeight()
        self.client: httpx.AsyncClient | None = None
        self.requests = 0
        self.failures = 0
        self.throttled = 0
        self.waited_for_weight_s = 0.0
        self.reserved_skips = 0  # routine reads not sent to keep the reserve
        # the minute's IP weight still free after the last request, a plain float any
        # thread may read (the order actors' budget policy does)
        self.ip_share = 1.0

    async def __aenter__(self) -> "HyperliquidRest":
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s,
                                        headers={"Content-Type": "application/json"},
                                        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.client is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(2.0):
                await self.client.aclose()
            self.client = None

    async def _charge(self, weight: int, wait: bool) -> None:
        now = trio.current_time()
        delay = self.ip.wait_for(now, weight)
        if delay > 0 and wait:
            self.waited_for_weight_s += delay
            await trio.sleep(delay)
        now = trio.current_time()
        self.ip.spend(now, weight)
        self.ip_share = self.ip.share_left(now)

    async def info(self, payload: dict[str, Any], kind: Any = Any, routine: bool = False) -> Any:
        """POST /info, decoded as ``kind``; retried on transport errors, 429 and 5xx.
        A ``routine`` read raises ``WeightReserved`` at once (before any await) if it would
        leave less than ``ROUTINE_RESERVE`` of the minute's weight."""
        assert self.client is not None, "use 'async with HyperliquidRest(...)'"
        if routine:
            weight = info_weight(str(payload.get("type", "")))
            if self.ip.remaining(trio.current_time()) - weight < ROUTINE_RESERVE:
                self.reserved_skips += 1
                raise WeightReserved(f"info {payload.get('type')}: skipped, the IP weight left is kept for recovery")
        body = wire.encode(payload)
        last = ""
        for attempt in range(INFO_ATTEMPTS):
            await self._charge(info_weight(str(payload.get("type", ""))), wait=True)
            self.requests += 1
            try:
                r = await self.client.post("/info", content=body)
            except httpx.HTTPError as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if r.status_code == 200:
                    try:
                        answer = wire.decode_as(kind, r.content)
                    except wire.Malformed as e:
                        raise VenueRequestFailed(f"info {payload.get('type')}: malformed answer: {e}") from None
                    # history answers cost 1 more per 20 items returned: counted now, so the
                    # next request waits instead of the exchange answering 429
                    kind_name = str(payload.get("type", ""))
                    extra = info_weight(kind_name, len(answer) if isinstance(answer, (tuple, list)) else 0)
                    extra -= info_weight(kind_name)
                    if extra > 0:
                        await self._charge(extra, wait=False)
                    return answer
                if r.status_code == 429:
                    self.throttled += 1
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code < 500 and r.status_code != 429:
                    break  # our request is wrong: asking again will not help
            self.failures += 1
            await trio.sleep(0.2 * 2 ** attempt)
        raise VenueRequestFailed(f"info {payload.get('type')}: {last}")

    async def exchange(self, body: dict[str, Any], batch_len: int) -> dict[str, Any]:
        """POST /exchange with a signed envelope; the decoded JSON answer.

        Raises ``Throttled`` (429: not executed), ``VenueRequestFailed`` (refused before
        execution) or ``ActionOutcomeUnknown`` (it may have been executed)."""
        assert self.client is not None, "use 'async with HyperliquidRest(...)'"
        content = wire.encode(body)
        await self._charge(exchange_weight(batch_len), wait=False)
        for attempt in range(2):
            self.requests += 1
            try:
                r = await self.client.post("/exchange", content=content)
            except httpx.ConnectError as e:  # never reached the exchange: safe to try once more
                self.failures += 1
                if attempt == 0:
                    continue
                raise VenueRequestFailed(f"exchange: cannot connect: {e}") from None
            except httpx.HTTPError as e:
                self.failures += 1
                raise ActionOutcomeUnknown(f"exchange: {type(e).__name__}: {e}") from None
            if r.status_code == 429:
                self.throttled += 1
                raise Throttled("exchange: HTTP 429 (IP weight spent)")
            if r.status_code >= 500:
                self.failures += 1
                raise ActionOutcomeUnknown(f"exchange: HTTP {r.status_code}: {r.text[:200]}")
            if r.status_code != 200:
                self.failures += 1
                raise VenueRequestFailed(f"exchange: HTTP {r.status_code}: {r.text[:200]}")
            try:
                answer = r.json()
            except ValueError:
                raise ActionOutcomeUnknown(f"exchange: answer is not JSON: {r.text[:200]}") from None
            if not isinstance(answer, dict):
                raise ActionOutcomeUnknown(f"exchange: unexpected answer {answer!r:.200}")
            return answer
        raise VenueRequestFailed("exchange: unreachable")  # pragma: no cover - the loop returns or raises
