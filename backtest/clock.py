"""The event clock: a priority queue of timed events in integer nanoseconds.

Times are integers so that grids that should coincide do coincide (3 × 0.1 s and
1.5 s / 5 are both exactly 300_000_000 ns). Events at the same time run by priority
(lower first), then in the order they were scheduled, so a run is a pure function of
its inputs. ``Wire`` adds latency and keeps a connection FIFO: nothing sent later
arrives earlier, as on one TCP connection.
"""
from __future__ import annotations

import heapq
from collections import deque
from typing import Any, Callable

NS = 1_000_000_000


def to_ns(seconds: float) -> int:
    return round(seconds * NS)


class EventQueue:
    """Events by (time, priority, order scheduled).

    Most events are messages between the cores, sent for "now" at the last (largest)
    priority: those wait in a plain FIFO instead of the heap. The order is the heap's
    order: everything in the heap for this instant was scheduled before any of them
    (anything scheduled for this instant at the last priority while it is current goes
    to the FIFO), so it goes first; then the FIFO; then later times."""

    __slots__ = ("_heap", "_seq", "_now", "_now_fifo", "last_prio")

    def __init__(self, last_prio: int | None = None) -> None:
        self._heap: list[tuple[int, int, int, int, Any]] = []
        self._seq = 0
        self._now = 0  # the time of the last event popped (start: 0)
        self._now_fifo: deque[tuple[int, int, int, int, Any]] = deque()
        self.last_prio = last_prio  # None: no FIFO, every event in the heap

    def push(self, t_ns: int, prio: int, kind: int, payload: Any) -> None:
        self._seq += 1
        if t_ns == self._now and prio == self.last_prio:
            self._now_fifo.append((t_ns, prio, self._seq, kind, payload))
        else:
            heapq.heappush(self._heap, (t_ns, prio, self._seq, kind, payload))

    def pop(self) -> tuple[int, int, int, int, Any]:
        fifo, h = self._now_fifo, self._heap
        if fifo and not (h and h[0][0] <= self._now):
            return fifo.popleft()
        ev = heapq.heappop(h)
        self._now = ev[0]
        return ev

    def pop_due(self, end_ns: int) -> tuple[int, int, int, int, Any] | None:
        """The next event if it is due by ``end_ns`` (one call per event in the loop)."""
        fifo, h = self._now_fifo, self._heap
        if fifo and not (h and h[0][0] <= self._now):
            return fifo.popleft() if self._now <= end_ns else None
        if h and h[0][0] <= end_ns:
            ev = heapq.heappop(h)
            self._now = ev[0]
            return ev
        return None

    def __len__(self) -> int:
        return len(self._heap) + len(self._now_fifo)


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
