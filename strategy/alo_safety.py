"""Post-only safety: extra ticks between a level and the opposite touch after ALO rejects.

A post-only order priced at the touch seen when the ladder was built is rejected if the
book moved toward it before it arrived. Each reject adds a tick of room for that
(side, level); ``decay_after`` successful placements take one back, so the room shrinks
again once the book is calm (goal: rejects < 5% of placements).
"""
from __future__ import annotations


class AloSafety:
    def __init__(self, max_ticks: int = 5, decay_after: int = 20) -> None:
        self.max_ticks, self.decay_after = max_ticks, decay_after
        self._ticks: dict[tuple[str, int], int] = {}
        self._ok: dict[tuple[str, int], int] = {}

    def any(self) -> bool:
        """Whether any level has safety ticks (the quoter skips the clamp otherwise)."""
        return any(self._ticks.values())

    def ticks(self, side: str, level: int) -> int:
        return self._ticks.get((side, level), 0)

    def on_reject(self, side: str, level: int) -> None:
        key = (side, level)
        self._ticks[key] = min(self.max_ticks, self._ticks.get(key, 0) + 1)
        self._ok[key] = 0

    def on_success(self, side: str, level: int) -> None:
        key = (side, level)
        if not self._ticks.get(key):
            return
        self._ok[key] = self._ok.get(key, 0) + 1
        if self._ok[key] >= self.decay_after:
            self._ticks[key] -= 1
            self._ok[key] = 0
