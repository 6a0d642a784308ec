"""Markouts in a rolling window: what the mid did to a maker's position ``horizon_s`` after
a mark (a print, one of our fills), kept for ``window_s`` as running sums per side and key.

Why one module: the tape edge (per depth bin, over the market's prints) and the fill edge
(per side, over our own fills) both settle marks this way; each reads the sums its own way.
"""
from __future__ import annotations

import math
from collections import deque

SIDES = ("B", "A")


class MarkoutWindow:
    def __init__(self, horizon_s: float, window_s: float, keys: int = 1) -> None:
        self.horizon_s, self.window_s = horizon_s, window_s
        self._pending: deque[tuple[float, str, int, float, float]] = deque()  # (ts, side, key, mid, expected)
        self._done: deque[tuple[float, str, int, float]] = deque()  # (ts, side, key, markout bp)
        self.sum = {s: [0.0] * keys for s in SIDES}  # settled markouts in the window, per side and key
        self.n = {s: [0] * keys for s in SIDES}
        self.sq = {s: [0.0] * keys for s in SIDES}  # their squares (a mean's standard error)

    def add(self, ts: float, side: str, key: int, mid: float, expected: float = 0.0) -> None:
        """A mark for a maker on ``side`` at ``ts`` with the book's ``mid`` then; its markout
        will be the move for that side less ``expected`` (bp)."""
        self._pending.append((ts, side, key, mid, expected))

    def settle(self, ts: float, mid: float) -> bool:
        """A new book mid: settle the marks whose horizon has passed, forget those older
        than the window. True when the sums changed."""
        if not (math.isfinite(ts) and math.isfinite(mid) and mid > 0):
            return False
        pend, done, sums, ns, sqs = self._pending, self._done, self.sum, self.n, self.sq
        changed = False
        due = ts - self.horizon_s
        while pend and pend[0][0] <= due:
            t0, side, key, mid0, expected = pend.popleft()
            move = (mid - mid0) / mid0 * 1e4
            markout = (move if side == "B" else -move) - expected  # what the move did to the maker
            done.append((t0, side, key, markout))
            sums[side][key] += markout
            sqs[side][key] += markout * markout
            ns[side][key] += 1
            changed = True
        cut = ts - self.window_s
        while done and done[0][0] < cut:
            _, side, key, markout = done.popleft()
            sums[side][key] -= markout
            sqs[side][key] -= markout * markout
            ns[side][key] -= 1
            changed = True
        return changed
