"""The book actor's logic: a book in, the MarketState out to the quoter, marks to risk;
a print beyond the touch on to the quoter (its sweep guard)."""
from __future__ import annotations

from typing import Any

from messages.control import MarketStateRequest
from messages.market import BookSnapshot, Trade
from strategy.book import BookCore, tape_models_needed
from strategy.flow_fair import FlowFair
from strategy.outbox import Outbox
from strategy.sweep_guard import sweep_of
from strategy.tape_edge import TapeEdge

RISK_MARK_INTERVAL_S = 1.0  # clock seconds between marks sent to the risk actor


def flow_fair_for(quoting: Any) -> FlowFair | None:
    """The order-flow forecaster ``fair_value = "flow"`` reads (None for any other fair value)."""
    if quoting.fair_value != "flow":
        return None
    f = quoting.flow_fair
    return FlowFair(f.horizon_s, f.window_s, f.refit_s, f.min_samples)


class BookRole:
    def __init__(self, asset: str, initial_sigma_bp: float, quoting: Any = None) -> None:
        """``quoting``: the asset's quoting config, which says which trade-tape models
        (A/k calibration, VPIN) the quoter reads; None: none."""
        if quoting is None:
            self.core = BookCore(asset, initial_sigma_bp=initial_sigma_bp)
        else:
            te = quoting.tape_edge
            self.core = BookCore(asset, initial_sigma_bp=initial_sigma_bp, calib_window_s=quoting.glft.window_s,
                                 calib_refit_s=quoting.glft.refit_s, tape_models=tape_models_needed(quoting),
                                 tape_edge=TapeEdge(te.horizon_s, te.window_s, te.bin_bp, min_trades=te.min_trades,
                                                             book_through=te.book_through, confidence_z=te.confidence_z)
                                 if te.enabled else None,
                                 flow_fair=flow_fair_for(quoting))
        self._risk_marked = -1e18
        self._regime = ""

    def handle(self, msg: Any) -> Outbox:
        if isinstance(msg, BookSnapshot):
            state = self.core.on_book(msg)
            if state is None:
                return []
            out: Outbox = [("quoter", state)]
            # Risk needs marks for PnL and utilisation, not every book: sparing it a
            # wake-up per update keeps the quoting path short.
            if state.ts - self._risk_marked >= RISK_MARK_INTERVAL_S or state.regime != self._regime:
                self._risk_marked, self._regime = state.ts, state.regime
                out.append(("risk", state))
            return out
        if isinstance(msg, Trade):
            book = self.core.last  # the book the print is judged against: before it took effect
            self.core.on_trade(msg)
            sweep = sweep_of(msg, book)  # the quoter's sweep guard judges it (quoting.sweep_guard)
            return [] if sweep is None else [("quoter", sweep)]
        if isinstance(msg, MarketStateRequest) and self.core.last is not None:
            return [("quoter", self.core.last)]
        return []
