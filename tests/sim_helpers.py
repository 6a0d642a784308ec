"""Test doubles for the simulated exchange's engine tests."""
from __future__ import annotations

from messages.market import Level
from venues.sim.engine import SimExchange
from venues.sim.market import TakerOrder


def scripted_sol(cfg):
    """An engine whose SOL market is scripted: mid 150, 3 units at 149.99 and 150.01."""
    eng = SimExchange(cfg, seed=1)
    m = ScriptedMarket(150.0, [(149.99, 3.0), (149.98, 5.0)], [(150.01, 3.0), (150.02, 5.0)])
    eng.markets["SOL"] = m
    return eng, m


class ScriptedMarket:
    """A market whose mid, book and takers the test decides (stands in for MarketProcess)."""

    def __init__(self, mid, bids, asks):
        self.mid = mid
        self.bids = tuple(Level(p, s) for p, s in bids)
        self.asks = tuple(Level(p, s) for p, s in asks)
        self.takers: list[TakerOrder] = []

    def advance(self, ts):
        out, self.takers = self.takers, []
        return out

    def book(self, levels):
        return self.bids[:levels], self.asks[:levels]

    def set_bid(self, px, sz):
        """Change (or with sz 0 remove) one displayed bid level, as cancels would."""
        lv = dict((lv.px, lv.sz) for lv in self.bids)
        if sz:
            lv[px] = sz
        else:
            lv.pop(px, None)
        self.bids = tuple(Level(p, s) for p, s in sorted(lv.items(), reverse=True))


def formula_market(cfg):
    """The config with the formula market (takers at A·e^(−kδ)): what the tests written
    for it, and their golden digests, pin."""
    import msgspec

    return msgspec.structs.replace(cfg, sim=msgspec.structs.replace(cfg.sim, market_model="formula"))
