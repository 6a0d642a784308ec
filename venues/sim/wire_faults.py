"""Faults on the wire between the simulated exchange and makerhive.

What a real connection does to a market maker: it drops (no books, no trades, no order
events until it is back, and then we must reconcile), stalls (the socket stays up but
books stop), delays acks, and loses, repeats or reorders fill messages. Time windows
are in runtime-clock seconds. The engine-side faults (rejects, throttling, request
failures, partial fills) live in ``venues.sim.faults``.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from messages.orders import Fill, VenueBatch


class WireFaults:
    def __init__(self) -> None:
        self.disconnected_until: dict[str, float] = defaultdict(float)
        self.stalled_until: dict[str, float] = defaultdict(float)
        self.ack_delay: dict[str, tuple[float, float]] = {}  # asset -> (until, extra seconds)
        self._drop: dict[str, int] = defaultdict(int)
        self._duplicate: dict[str, int] = defaultdict(int)
        self._reorder: dict[str, int] = defaultdict(int)
        self._held: dict[str, VenueBatch] = {}
        self._lose: dict[str, int] = defaultdict(int)
        self.counts: dict[str, int] = defaultdict(int)

    # -- arming (runtime clock ``now``) ----------------------------------------------------
    def disconnect(self, asset: str, now: float, seconds: float) -> None:
        self.disconnected_until[asset] = max(self.disconnected_until[asset], now + seconds)

    def stall(self, asset: str, now: float, seconds: float) -> None:
        self.stalled_until[asset] = max(self.stalled_until[asset], now + seconds)

    def delay_acks(self, asset: str, now: float, seconds: float, extra: float) -> None:
        self.ack_delay[asset] = (now + seconds, extra)

    def drop_fills(self, asset: str, n: int = 1) -> None:
        self._drop[asset] += n

    def duplicate_fills(self, asset: str, n: int = 1) -> None:
        self._duplicate[asset] += n

    def reorder_fills(self, asset: str, n: int = 1) -> None:
        self._reorder[asset] += n

    def lose_answers(self, asset: str, n: int = 1) -> None:
        """The next ``n`` answers without fills (acks, rejects, cancel confirmations) are
        lost after the venue acted on their request: the order rests (or is gone) unheard."""
        self._lose[asset] += n

    # -- consulted by the venue service ------------------------------------------------------
    def connected(self, asset: str, now: float) -> bool:
        return now >= self.disconnected_until[asset]

    def books_flow(self, asset: str, now: float) -> bool:
        return self.connected(asset, now) and now >= self.stalled_until[asset]

    def extra_ack_delay(self, asset: str, now: float) -> float:
        until, extra = self.ack_delay.get(asset, (0.0, 0.0))
        return extra if now < until else 0.0

    def outbound(self, batch: VenueBatch, now: float) -> list[VenueBatch]:
        """The batches actually delivered for one batch the venue sent (maybe none)."""
        a = batch.asset
        if not self.connected(a, now):
            self.counts["lost_while_disconnected"] += 1
            return []
        if self._lose[a] > 0 and not any(isinstance(ev, Fill) for ev in batch.events):
            self._lose[a] -= 1
            self.counts["answers_lost"] += 1
            return []
        events: list[Any] = []
        for ev in batch.events:
            if isinstance(ev, Fill) and self._drop[a] > 0:
                self._drop[a] -= 1
                self.counts["fills_dropped"] += 1
                continue
            events.append(ev)
            if isinstance(ev, Fill) and self._duplicate[a] > 0:
                self._duplicate[a] -= 1
                self.counts["fills_duplicated"] += 1
                events.append(ev)
        out = [VenueBatch(a, batch.ts, tuple(events))] if events else []
        has_fill = any(isinstance(e, Fill) for e in events)
        if a in self._held:  # a held-back fill batch goes out after this one: reordered
            out.append(self._held.pop(a))
        elif has_fill and self._reorder[a] > 0:
            self._reorder[a] -= 1
            self.counts["fills_reordered"] += 1
            self._held[a] = out.pop()
        return out
