"""New quoting parameters for a running asset (the re-optimiser's hot reload)."""

from __future__ import annotations

import msgspec

from config import QuotingConfig


class SetQuotingParams(msgspec.Struct, frozen=True, tag=True):
    """Quote with ``params`` from now on; ``reason`` says who changed them and why."""

    asset: str
    ts: float
    params: QuotingConfig
    reason: str = ""
