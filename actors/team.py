"""Where the current incarnation of each of an asset's actors can be reached.

Actors are replaced on restart, so nobody keeps a raw ActorRef to a sibling. They
address roles ("book", "risk", "order", "quoter") through the asset's Team, which the
asset supervisor updates as children start. A message to a role that is down
(restarting) is dropped and counted: reconciliation recovers anything that matters.
"""
from __future__ import annotations

import threading
from typing import Any

import pykka


class Team:
    ROLES = ("book", "risk", "order", "quoter")

    def __init__(self, asset: str) -> None:
        self.asset = asset
        self._refs: dict[str, pykka.ActorRef | None] = {r: None for r in self.ROLES}
        self._lock = threading.Lock()
        self.dropped = 0

    def set(self, role: str, ref: pykka.ActorRef | None) -> None:
        with self._lock:
            self._refs[role] = ref

    def clear(self, role: str, ref: pykka.ActorRef | None = None) -> None:
        """Forget ``role`` (only if it is still ``ref``, when given)."""
        with self._lock:
            if ref is None or self._refs.get(role) is ref:
                self._refs[role] = None

    def get(self, role: str) -> pykka.ActorRef | None:
        return self._refs.get(role)

    def tell(self, role: str, msg: Any) -> bool:
        ref = self._refs.get(role)
        if ref is None:
            self.dropped += 1
            return False
        try:
            ref.tell(msg)
            return True
        except pykka.ActorDeadError:
            self.dropped += 1
            return False

