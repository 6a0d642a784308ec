"""What every actor of one asset's team shares: config, venue gateway, team, board."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from actors.team import Team
from config import AssetConfig, Config
from actors.status import StatusBoard
from venues.gateway import Gateway


class LatencyRecorder:
    """Tick-to-action samples (ns), filled by order actors; read by the benchmark."""

    def __init__(self, keep: int = 200_000) -> None:
        self.samples: list[int] = []
        self.keep = keep

    def add(self, ns: int) -> None:
        if len(self.samples) < self.keep:
            self.samples.append(ns)


@dataclass
class AssetContext:
    asset: str
    cfg: Config
    gateway: Gateway
    team: Team
    board: StatusBoard
    latency: LatencyRecorder | None = None
    faults: Any = None  # actors.faults.ActorFaults: injected faults (tests, chaos run)
    supervisor: Any = None  # the current AssetSupervisor's ActorRef
    start_ts: Callable[[], float] = field(default=lambda: 0.0)  # runtime clock at child start
    journal: Any = None  # makerhive.journal.Journal (or None): orders, fills, funding, off the hot path

    @property
    def acfg(self) -> AssetConfig:
        return self.cfg.assets[self.asset]

    def event(self, ts: float, kind, text: str) -> None:  # EventKind literal
        self.board.event(ts, kind, self.asset, text)
