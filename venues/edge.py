"""The sim's and the remote sim's door: what a venue hands the gateway is checked first.

The Hyperliquid venue checks its wire items (``venues/hyperliquid/checks.py``); the
simulated venues check the messages they deliver the same way (``messages.validity``),
so a NaN book, fill or funding from a fault injector or another process is counted,
logged once per kind, and dropped item by item, never passed on.
"""
from __future__ import annotations

import logging
from typing import Any

import msgspec

from messages.market import BookSnapshot, Trade
from messages.orders import VenueBatch
from messages.validity import bad_book, bad_event, bad_trade

log = logging.getLogger(__name__)


class EdgeCheck:
    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.bad_input = 0
        self.by_kind: dict[str, int] = {}
        self.last_bad = ""

    def _drop(self, kind: str, asset: str, why: str) -> None:
        self.bad_input += 1
        n = self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.last_bad = f"{asset} {kind}: {why}"
        if n == 1:
            log.warning("%s: unusable %s for %s dropped (further ones counted only): %s", self.venue, kind, asset, why)

    def book(self, snap: BookSnapshot) -> bool:
        why = bad_book(snap)
        if why:
            self._drop("book", snap.asset, why)
        return not why

    def trade(self, t: Trade) -> bool:
        why = bad_trade(t)
        if why:
            self._drop("trade", t.asset, why)
        return not why

    def batch(self, b: VenueBatch) -> VenueBatch | None:
        """The batch without its unusable events; None if nothing is left."""
        kept = []
        for ev in b.events:
            why = bad_event(ev)
            if why:
                self._drop(type(ev).__name__.lower(), b.asset, why)
            else:
                kept.append(ev)
        if len(kept) == len(b.events):
            return b
        return msgspec.structs.replace(b, events=tuple(kept)) if kept else None

    def item(self, x: Any) -> Any:
        """Any delivered message, checked by its type; None if it is unusable."""
        if isinstance(x, BookSnapshot):
            return x if self.book(x) else None
        if isinstance(x, Trade):
            return x if self.trade(x) else None
        if isinstance(x, VenueBatch):
            return self.batch(x)
        return x
