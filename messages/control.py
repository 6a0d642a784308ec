"""Supervision, timers, operator events and status snapshots for the live view."""

from __future__ import annotations

from typing import Literal

import msgspec


class Tick(msgspec.Struct, frozen=True, tag=True):
    """A timer beat from the venue runtime; ``now`` is the runtime clock (seconds)."""

    now: float


class Ping(msgspec.Struct, frozen=True, tag=True):
    """Liveness probe and start barrier: every supervised actor answers True."""


class Crash(msgspec.Struct, frozen=True, tag=True):
    """Fault injection: the receiving actor raises (tests, chaos run)."""

    detail: str = "injected crash"


ExitReason = Literal["normal", "error", "start_failed", "hung", "killed"]


class ChildExited(msgspec.Struct, frozen=True, tag=True):
    """A supervised child reports its own end to its parent."""

    child_id: str
    epoch: int
    reason: ExitReason
    detail: str = ""
    at_ns: int = 0  # perf-counter stamp of the failure (recovery-time measurement only)


AssetPhase = Literal[
    "starting", "reconciling", "quoting", "stalled", "restarting", "halted", "stopped", "failed", "quarantined", "standby"
]

EventKind = Literal[
    "start",
    "failure",
    "restart",
    "escalation",
    "gave_up",
    "cancel_all",
    "halt",
    "resume",
    "reject",
    "fenced",
    "reconciled",
    "allocation",
    "stop",
    "info",
    "stall",
    "quarantine",
    "unquarantine",
    "exposure",
    "standby",
    "guard",
    "sweep",  # the sweep guard pulled a side (strategy/sweep_guard.py); at most one a minute an asset
    "bad_input",
    "liquidation",
    "margin",
    "params",  # quoting parameters changed in a running hive (re-optimiser, rollback)
    "tune",  # the runtime auto-tuner moved the spread or the skew (strategy/auto_tuner.py)
    "unwind",  # a position past its emergency level: a reduce-only IOC sent (strategy/unwind.py)
]


class Event(msgspec.Struct, frozen=True, tag=True):
    """Something an operator should see: shown in the view's log, kept in the run record."""

    ts: float
    kind: EventKind
    asset: str
    text: str


class Unquarantine(msgspec.Struct, frozen=True, tag=True):
    """Operator command to the meta-supervisor: give a quarantined asset another go."""

    asset: str


class QueryQuarantined(msgspec.Struct, frozen=True, tag=True):
    """Ask (not tell) the meta-supervisor which assets are quarantined."""


class MarketStateRequest(msgspec.Struct, frozen=True, tag=True):
    """A fresh quoter asks the book actor for the latest MarketState, to quote at once."""

    asset: str
