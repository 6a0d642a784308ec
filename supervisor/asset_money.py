"""The asset supervisor's money decisions: the meta's grant and gate down, reports up.

It keeps the meta-supervisor's latest word (``AllocationUpdate``, ``PortfolioGate``) so
that every new risk actor hears it before any quote, and passes the risk actor's
performance and exposure reports up to the meta. Pure: the live asset supervisor and
the backtester's desk route its outbox.
"""
from __future__ import annotations

from typing import Any

from messages.allocation import AllocationUpdate, ExposureReport, PerformanceReport, PortfolioGate
from strategy.outbox import Outbox

META = "meta"  # the meta-supervisor


class AssetMoney:
    def __init__(self, grant: AllocationUpdate | None = None, gate: PortfolioGate | None = None) -> None:
        self.grant = grant
        self.gate = gate

    @property
    def capital(self) -> float:
        """The capital a new risk actor starts with: the latest grant's (none: 0)."""
        return self.grant.base if self.grant is not None else 0.0

    def risk_started(self) -> Outbox:
        """What a new risk actor must hear before the order actor and the quoter exist."""
        return [("risk", m) for m in (self.grant, self.gate) if m is not None]

    def handle(self, msg: Any) -> Outbox:
        if isinstance(msg, AllocationUpdate):
            self.grant = msg
            return [("risk", msg)]
        if isinstance(msg, PortfolioGate):
            self.gate = msg
            return [("risk", msg)]
        if isinstance(msg, (PerformanceReport, ExposureReport)):
            return [(META, msg)]
        return []
