"""How much worse our own fills did than the tape said they would, per side.

Why: the tape edge (``tape_edge.py``) prices a level by the move after the market's
prints at its depth. Our fills are not an average print there: a new order waits at the
back of its queue, so it fills on the prints that empty the level, just before the price
goes through it; and a book that gaps through a quote fills it with no print at all.
Our own fills say how far off the tape is for us. Each fill is settled ``horizon_s``
later, as the tape's prints are: the mid's move for our side, less the move the tape
expected at the fill's depth. Their mean over the last ``window_s``, shrunk toward zero
with ``min_fills`` fills' weight (a handful of fills are noise), is added to every level
of that side, only where it is worse: luck in our fills is not an edge the tape missed.
"""
from __future__ import annotations

import math
from collections import deque

_SIDES = ("B", "A")


class FillEdge:
    """Rolling per-side excess of our fills' markouts over the tape's expectation."""

    def __init__(self, horizon_s: float = 10.0, window_s: float = 900.0, min_fills: int = 10) -> None:
        self.horizon_s, self.window_s, self.min_fills = horizon_s, window_s, min_fills
        self._pending: deque[tuple[float, str, float, float]] = deque()  # (ts, our side, mid before, expected bp)
        self._done: deque[tuple[float, str, float]] = deque()  # (ts, our side, excess bp)
        self._sum = {s: 0.0 for s in _SIDES}
        self._n = {s: 0 for s in _SIDES}

    def on_fill(self, ts: float, side: str, mid: float, expected_bp: float) -> None:
        """Our ``side`` filled at ``ts``; ``mid`` is the book's mid we last saw before it and
        ``expected_bp`` the move (for us) the tape expected at the fill's depth."""
        if side in _SIDES and all(math.isfinite(x) for x in (ts, mid, expected_bp)) and mid > 0:
            self._pending.append((ts, side, mid, expected_bp))

    def on_mid(self, ts: float, mid: float) -> None:
        """A new book mid: settle the fills whose horizon has passed, forget old ones."""
        if not (math.isfinite(ts) and math.isfinite(mid) and mid > 0):
            return
        pend, done = self._pending, self._done
        due = ts - self.horizon_s
        while pend and pend[0][0] <= due:
            t0, side, mid0, expected = pend.popleft()
            move = (mid - mid0) / mid0 * 1e4
            excess = (move if side == "B" else -move) - expected
            done.append((t0, side, excess))
            self._sum[side] += excess
            self._n[side] += 1
        cut = ts - self.window_s
        while done and done[0][0] < cut:
            _, side, excess = done.popleft()
            self._sum[side] -= excess
            self._n[side] -= 1

    def excess(self, side: str) -> float:
        """What to add to the tape's move for a level on ``side`` (bp, never above 0)."""
        n = self._n.get(side, 0)
        if n <= 0:
            return 0.0
        return min(0.0, self._sum[side] / (n + self.min_fills))

    def fills(self, side: str) -> int:
        """Settled fills of ``side`` in the window."""
        return self._n.get(side, 0)
