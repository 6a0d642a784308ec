"""What a role core hands its router: messages addressed by role, in sending order.

A core never sends anything itself; the live actor delivers its outbox through the team,
the backtester through its queue. So both drivers run the very same decisions.
"""
from __future__ import annotations

from typing import Any, NamedTuple

Outbox = list[tuple[str, Any]]  # (recipient role, message)

LOG = "log"  # the recipient of Notes: the event log (the backtester keeps none)
SUPERVISOR = "sup"  # the asset supervisor
VENUE = "venue"  # the exchange, through the gateway


class Note(NamedTuple):
    """A line for the event log."""

    ts: float
    kind: str
    text: str
