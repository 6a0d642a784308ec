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

from strategy.markout_window import SIDES, MarkoutWindow


class FillEdge:
    """Rolling per-side excess of our fills' markouts over the tape's expectation."""

    def __init__(self, horizon_s: float = 10.0, window_s: float = 900.0, min_fills: int = 10) -> None:
        self.horizon_s, self.window_s, self.min_fills = horizon_s, window_s, min_fills
        self._marks = MarkoutWindow(horizon_s, window_s)  # the excess over the tape, per side

    def on_fill(self, ts: float, side: str, mid: float, expected_bp: float) -> None:
        """Our ``side`` filled at ``ts``; ``mid`` is the book's mid we last saw before it and
        ``expected_bp`` the move (for us) the tape expected at the fill's depth."""
        if side in SIDES and all(math.isfinite(x) for x in (ts, mid, expected_bp)) and mid > 0:
            self._marks.add(ts, side, 0, mid, expected_bp)

    def on_mid(self, ts: float, mid: float) -> None:
        """A new book mid: settle the fills whose horizon has passed, forget old ones."""
        self._marks.settle(ts, mid)

    def excess(self, side: str) -> float:
        """What to add to the tape's move for a level on ``side`` (bp, never above 0)."""
        n = self._marks.n[side][0] if side in SIDES else 0
        if n <= 0:
            return 0.0
        return min(0.0, self._marks.sum[side][0] / (n + self.min_fills))

    def fills(self, side: str) -> int:
        """Settled fills of ``side`` in the window."""
        return self._marks.n[side][0] if side in SIDES else 0
