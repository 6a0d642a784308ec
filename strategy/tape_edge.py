"""What a maker resting at each depth earned on the market's own trades (the tape's markouts).

Why: a level's distance from the mid is not its edge. Fills come when the price is about
to move through the level (informed flow, a book that lags the news, sweeps in a jump),
so what a fill at depth δ is worth is δ plus the move that follows such fills. That move
can be read off every public trade, without risking a cent: a print at depth d (how far
past the book's mid the taker reached) filled some maker, and ``horizon_s`` later the mid
says what that maker's position was worth. Averaged over the prints that reached at
least δ (exactly the ones that would have filled a quote resting there), it is the
adverse selection a quote at δ should expect. The quoter adds it to the level's distance
and keeps only levels that still pay the maker fee; where no depth pays, the side is not
quoted. Nothing here assumes a fill law, so it holds on any market (models.md §3.3).

Per maker side (``"B"``: a resting bid, filled by sell aggressors) and per depth bin of
``bin_bp``: the prints of the last ``window_s`` whose horizon has passed, as running sums.

Book-throughs (``book_through``): prints are not the only way a resting quote fills. When
the book gaps between two snapshots so that the new best ask is below the old best bid,
every bid resting between them was filled (a seller crossed it) though no print at that
depth may show it: on an L2 feed the level was simply gone. These fills come exactly
when the market moves through the quote, the worst kind, so leaving them out makes deep
levels look safer than they are. Each such gap counts as one print, on the side it
crossed, at the depth it reached (from the old book's mid).
"""
from __future__ import annotations

import math
from itertools import accumulate

from strategy.markout_window import SIDES, MarkoutWindow

MIN_TRADES = 30  # prints needed before a tail mean is believed


class TapeEdge:
    """Rolling per-depth markouts of the market's prints; ``tail`` reads them."""

    def __init__(self, horizon_s: float = 10.0, window_s: float = 900.0, bin_bp: float = 0.5, bins: int = 40,
                 min_trades: int = MIN_TRADES, book_through: bool = False, confidence_z: float = 0.0) -> None:
        self.horizon_s, self.window_s, self.bin_bp, self.bins = horizon_s, window_s, bin_bp, bins
        self.min_trades = min_trades
        self.book_through = book_through
        self.confidence_z = confidence_z
        self._top: tuple[float, float, float] | None = None  # the last book's (best bid, best ask, mid)
        self._marks = MarkoutWindow(horizon_s, window_s, keys=bins)  # per maker side and depth bin
        self._sum, self._n, self._sq = self._marks.sum, self._marks.n, self._marks.sq
        self._tails: dict[str, tuple[float, ...]] = {s: () for s in SIDES}
        self._dirty = False

    def on_trade(self, ts: float, px: float, side: str, mid: float) -> None:
        """One print; ``side`` is the aggressor's, ``mid`` the book's mid the taker saw."""
        if not (math.isfinite(ts) and math.isfinite(px) and math.isfinite(mid) and px > 0 and mid > 0):
            return
        if side not in SIDES:
            return
        maker = "A" if side == "B" else "B"
        depth = (px - mid) / mid * 1e4 if side == "B" else (mid - px) / mid * 1e4
        b = min(self.bins - 1, max(0, int(depth / self.bin_bp)))
        self._marks.add(ts, maker, b, mid)

    def on_book(self, ts: float, best_bid: float, best_ask: float, mid: float) -> None:
        """A new book (its touch and mid): with ``book_through``, a gap through the last
        book's touch counts as a print there; then settle as ``on_mid``."""
        if not (math.isfinite(ts) and math.isfinite(best_bid) and math.isfinite(best_ask)
                and 0 < best_bid < best_ask):
            return
        top = self._top
        if self.book_through and top is not None:
            bid0, ask0, mid0 = top
            if best_ask < bid0:  # sellers went through the old bids: a maker bid down to best_ask filled
                self.on_trade(ts, best_ask, "A", mid0)
            elif best_bid > ask0:  # buyers went through the old asks
                self.on_trade(ts, best_bid, "B", mid0)
        self._top = (best_bid, best_ask, mid)
        self.on_mid(ts, mid)

    def on_mid(self, ts: float, mid: float) -> None:
        """A new book mid: settle the prints whose horizon has passed, forget old ones."""
        if self._marks.settle(ts, mid):
            self._dirty = True

    def tails(self, side: str) -> tuple[float, ...]:
        """Per bin i: the mean drift (bp) after prints that reached at least i·bin_bp, for a
        maker on ``side``, out to the deepest bin any print reached; empty until the
        shallowest bin has ``min_trades`` prints. Where a depth has fewer, its mean is
        shrunk toward the next shallower one with ``min_trades`` prints' weight: a few
        deep prints (sweeps in a jump) count for what they say, but not alone."""
        if self._dirty:
            self._refresh()
        return self._tails[side]

    def _refresh(self) -> None:
        n0, z = self.min_trades, self.confidence_z
        for s in SIDES:
            # deepest first: tail sums accumulate inward (from 0.0, as a running total would)
            counts = list(accumulate(reversed(self._n[s])))
            out: list[float] = []
            if counts and counts[-1] >= n0:
                totals = list(accumulate(reversed(self._sum[s]), initial=0.0))
                squares = list(accumulate(reversed(self._sq[s]), initial=0.0)) if z > 0 else []
                var0 = _variance(squares[-1], totals[-1], counts[-1]) if z > 0 else 0.0
                prev = math.nan
                for j in range(len(counts) - 1, -1, -1):  # shallowest bin first, out to the last print
                    count = counts[j]
                    if count == 0:
                        break
                    total = totals[j + 1]
                    prev = total / count if count >= n0 else (total + n0 * prev) / (count + n0)
                    if z > 0:  # a lower bound: a depth few prints reached is not believed on a lucky mean
                        var = max(var0, _variance(squares[j + 1], total, count))
                        out.append(prev - z * math.sqrt(var / count))
                    else:
                        out.append(prev)
            self._tails[s] = tuple(out)
        self._dirty = False


def _variance(squares: float, total: float, count: int) -> float:
    """A sample's variance from its running sums (never below 0: the sums drift as prints leave)."""
    mean = total / count
    return max(0.0, squares / count - mean * mean)


def expected_drift(tails: tuple[float, ...], depth_bp: float, bin_bp: float) -> float:
    """The tape's mean drift after fills of a quote resting ``depth_bp`` past the mid;
    NaN when the tape has not yet seen enough prints."""
    if not tails:
        return math.nan
    i = int(max(0.0, depth_bp) / bin_bp)
    return tails[min(i, len(tails) - 1)]
