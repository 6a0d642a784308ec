"""Fault injection into actors: a first-class API for tests and the chaos run.

Crashing an actor needs nothing special (tell it ``Crash``). What needs a hook is what a
message cannot do: make the next start of a role fail, make its next handler hang (it
blocks until released or until its deadline) or run slow. The supervision tree must
survive all of them with no order orphaned and no fill lost.
"""
from __future__ import annotations

import threading
import time
from typing import Literal

from actors.base import Liveness

FaultKind = Literal["start", "hang", "slow"]


class ActorFaults:
    """Armed faults per (asset, role), consumed by the actors as they hit them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[tuple[str, str, FaultKind], list[float]] = {}
        self.release = threading.Event()  # lets every hung handler go (tests, shutdown)
        self.fired: list[tuple[str, str, FaultKind]] = []
        # injected hangs and slow handlers in progress: token -> (asset, the actor's liveness)
        self._delaying: dict[int, tuple[str, Liveness | None]] = {}
        self._token = 0

    def arm(self, asset: str, role: str, kind: FaultKind, *, seconds: float = 0.0, count: int = 1) -> None:
        """``start``: the next ``count`` starts fail. ``hang``: the next handler blocks for
        up to ``seconds`` (real) or until ``release`` is set. ``slow``: the next handler
        takes ``seconds`` longer."""
        with self._lock:
            self._armed.setdefault((asset, role, kind), []).extend([seconds] * count)

    def _take(self, asset: str, role: str, kind: FaultKind) -> float | None:
        with self._lock:
            pending = self._armed.get((asset, role, kind))
            if not pending:
                return None
            self.fired.append((asset, role, kind))
            return pending.pop(0)

    def on_start(self, asset: str, role: str) -> None:
        if self._take(asset, role, "start") is not None:
            raise InjectedStartFailure(f"{asset}/{role}: injected start-up failure")

    def on_handle(self, asset: str, role: str, liveness: Liveness | None = None) -> None:
        hang = self._take(asset, role, "hang")
        slow = self._take(asset, role, "slow")
        if hang is None and slow is None:
            return
        with self._lock:
            self._token += 1
            token = self._token
            self._delaying[token] = (asset, liveness)
        try:
            if hang is not None:
                self.release.wait(hang)
            if slow is not None:
                time.sleep(slow)
        finally:
            with self._lock:
                del self._delaying[token]

    def delaying(self, asset: str) -> bool:
        """Whether a live actor of ``asset`` is inside an injected hang or slow handler now.
        One its supervisor has abandoned (kill switch set) no longer holds anything up."""
        with self._lock:
            return any(a == asset and (lv is None or not lv.kill_switch.is_set())
                       for a, lv in self._delaying.values())


class InjectedStartFailure(Exception):
    pass
