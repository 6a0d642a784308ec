"""Book conflation on the venue side: the runtime produces, a book actor consumes."""
from __future__ import annotations

import threading
from typing import Any


class LatestSlot:
    """A one-item mailbox where the newest value wins (book snapshot conflation).

    The producer (the venue runtime) ``put``s; it learns whether the consumer needs a
    wake-up message (only when the slot was empty), so a slow consumer sees the newest
    book and never a backlog.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Any = None
        self.replaced = 0

    def put(self, value: Any) -> bool:
        """Store ``value``; True if the consumer must be woken (the slot was empty)."""
        with self._lock:
            was_empty = self._value is None
            if not was_empty:
                self.replaced += 1
            self._value = value
            return was_empty

    def take(self) -> Any:
        with self._lock:
            value, self._value = self._value, None
            return value
