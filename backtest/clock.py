"""The event clock: a priority queue of timed events in integer nanoseconds.

Times are integers so that grids that should coincide do coincide (3 × 0.1 s and
1.5 s / 5 are both exactly 300_000_000 ns). Events at the same time run by priority
(lower first), then in the order they were scheduled, so a run is a pure function of
its inputs. ``Wire`` adds latency and keeps a connection FIFO: nothing sent later
arrives earlier, as on one TCP connection.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable

NS = 1_000_000_000


def to_ns(seconds: float) -> int:
    return round(seconds * NS)


class EventQueue:
    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int, int, Any]] = []
        self._seq = 0

    def push(self, t_ns: int, prio: int, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t_ns, prio, self._seq, kind, payload))

    def pop(self) -> tuple[int, int, int, int, Any]:
        return heapq.heappop(self._heap)

    def pop_due(self, end_ns: int) -> tuple[int, int, int, int, Any] | None:
        """The next event if it is due by ``end_ns`` (one call per event in the loop)."""
        h = self._heap
        return heapq.heappop(h) if h and h[0][0] <= end_ns else None

    def __len__(self) -> int:
        return len(self._heap)


class Wire:
    """One direction of one asset's connection: each message delayed by a draw of
    ``latency_s()`` (a constant for fixed latencies), first in first out."""

    __slots__ = ("queue", "latency_s", "prio", "kind", "_last")

    def __init__(self, queue: EventQueue, latency_s: Callable[[], float], prio: int, kind: int) -> None:
        self.queue = queue
        self.latency_s = latency_s
        self.prio = prio
        self.kind = kind
        self._last = -1

    def send(self, now_ns: int, payload: Any) -> None:
        due = max(now_ns + to_ns(self.latency_s()), self._last)
        self._last = due
        self.queue.push(due, self.prio, self.kind, payload)
